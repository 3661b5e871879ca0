//! The pieces of IMAP syntax (RFC 3501 §9, RFC 9051) that everything else asks about: tags,
//! the verb after a tag, literal announcements `{n}` / `{n+}` / `~{n}`, quoted strings, and
//! the parts of a server response line (tag, status, response code). Written once, used by the
//! client machine, the highlighter, the explanations and the tests.

use std::ops::Range;

use crate::proto::ext;
use crate::proto::Protocol;

/// The largest literal a peer may announce (4 GiB).
pub const MAX_LITERAL: u64 = 4 * 1024 * 1024 * 1024;

/// RFC 3501 `tag`: one or more ASTRING-CHAR except `+`.
pub fn valid_tag(tag: &[u8]) -> bool {
    !tag.is_empty()
        && tag.iter().all(|&b| {
            (0x21..0x7f).contains(&b)
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// The word up to the first space, and what follows the spaces after it.
pub fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(pos) => (
            s.get(..pos).unwrap_or(&[]),
            skip_spaces(s.get(pos..).unwrap_or(&[])),
        ),
        None => (s, &[]),
    }
}

pub fn skip_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ').count();
    s.get(n..).unwrap_or(&[])
}

/// Space-separated words, as sent.
pub fn words(text: &[u8]) -> Vec<String> {
    text.split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

/// A command line as typed: an optional tag, the verb, its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandLine<'a> {
    /// The tag the user typed, if any (a first word that is not a command and is a valid tag,
    /// followed by a space).
    pub tag: Option<&'a [u8]>,
    /// The verb as typed (`fetch`); compare case-insensitively.
    pub verb: &'a [u8],
    /// Everything after the verb and its spaces.
    pub args: &'a [u8],
    /// Where the verb starts in the line.
    pub verb_start: usize,
}

impl<'a> CommandLine<'a> {
    /// Splits a typed line. A first word that is an IMAP command is the verb; a first word
    /// that is not, is followed by more and is a valid tag, is the tag.
    pub fn parse(line: &'a [u8]) -> CommandLine<'a> {
        let start = line.len().saturating_sub(skip_spaces(line).len());
        let body = line.get(start..).unwrap_or(&[]);
        let (first, after) = split_word(body);
        // A first word that is followed by a space (the line goes on, or is being typed).
        let followed = body.len() > first.len();
        let typed_tag = !ext::is_command(Protocol::Imap, first) && followed && valid_tag(first);
        if typed_tag {
            let verb_start = line.len().saturating_sub(after.len());
            let (verb, args) = split_word(after);
            CommandLine {
                tag: Some(first),
                verb,
                args,
                verb_start,
            }
        } else {
            CommandLine {
                tag: None,
                verb: first,
                args: after,
                verb_start: start,
            }
        }
    }

    /// The verb upper-cased.
    pub fn verb_upper(&self) -> String {
        String::from_utf8_lossy(self.verb).to_ascii_uppercase()
    }

    /// Whether the verb is `name` (case-insensitive); `UID name` counts as `name` too.
    pub fn is(&self, name: &str) -> bool {
        if self.verb.eq_ignore_ascii_case(name.as_bytes()) {
            return true;
        }
        self.verb.eq_ignore_ascii_case(b"UID")
            && split_word(self.args)
                .0
                .eq_ignore_ascii_case(name.as_bytes())
    }
}

/// A literal announced at the end of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Literal {
    /// Index of the `{` (or of the `~` before it).
    pub start: usize,
    pub size: u64,
    /// `{n}`: the peer waits for a `+` before sending the content. `{n+}` / `{n-}` do not.
    pub sync: bool,
    /// `~{n}` (RFC 3516 literal8): binary content.
    pub binary: bool,
}

/// A literal announcement whose size is not a number mailtalk can use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("literal size {digits} does not fit in 64 bits")]
pub struct LiteralTooLarge {
    /// The digits, shortened for display.
    pub digits: String,
}

/// The literal announced at the end of `line`: `{n}`, `~{n}`, `{n+}`, `{n-}`. `{abc}`,
/// `{}` and `{-1}` are plain text (`Ok(None)`).
pub fn literal_at_end(line: &[u8]) -> Result<Option<Literal>, LiteralTooLarge> {
    let Some(body) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = body.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let inner = body.get(open.saturating_add(1)..).unwrap_or(&[]);
    let (digits, sync) = match inner.split_last() {
        Some((b'+' | b'-', digits)) => (digits, false),
        _ => (inner, true),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    let size = digits
        .iter()
        .try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?
                .checked_add(u64::from(d.wrapping_sub(b'0')))
        })
        .ok_or_else(|| LiteralTooLarge {
            digits: shorten(digits),
        })?;
    let binary = open > 0 && line.get(open.saturating_sub(1)) == Some(&b'~');
    let start = if binary { open.saturating_sub(1) } else { open };
    Ok(Some(Literal {
        start,
        size,
        sync,
        binary,
    }))
}

fn shorten(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.into_owned()
    }
}

/// Whether `s` is only a literal announcement (after optional spaces), or nothing.
pub fn only_literal(s: &[u8]) -> bool {
    let trimmed = skip_spaces(s);
    trimmed.is_empty() || matches!(literal_at_end(trimmed), Ok(Some(lit)) if lit.start == 0)
}

/// An IMAP string argument, ready to be written.
#[derive(Debug, PartialEq, Eq)]
pub enum AString {
    /// A quoted string, quotes and escapes included.
    Quoted(Vec<u8>),
    /// Bytes that cannot be quoted (8-bit, CR, LF, NUL): to be sent as a literal.
    Literal(Vec<u8>),
}

/// `s` as a quoted string (RFC 3501 `quoted`: `"` and `\` escaped) when every byte is 7-bit
/// and no CR, LF or NUL; otherwise as a literal.
pub fn astring(s: &[u8]) -> AString {
    if s.iter()
        .any(|&b| !b.is_ascii() || matches!(b, 0 | b'\r' | b'\n'))
    {
        return AString::Literal(s.to_vec());
    }
    let mut q = Vec::with_capacity(s.len().saturating_add(2));
    q.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            q.push(b'\\');
        }
        q.push(b);
    }
    q.push(b'"');
    AString::Quoted(q)
}

/// A command whose arguments are astrings (`LOGIN user password`), in the pieces to send:
/// every piece but the last ends with a synchronising literal's `{n}`, after which the
/// server's `+` is awaited before the next piece (the literal's bytes and the rest of the
/// line). Without the tag, which the machine adds to the first piece. The pieces may hold
/// secrets: the caller wipes them once sent; the copies made here are wiped.
pub fn command_pieces(verb: &str, args: &[&[u8]]) -> Vec<Vec<u8>> {
    use zeroize::Zeroize as _;
    let mut pieces = Vec::new();
    let mut line = verb.as_bytes().to_vec();
    for arg in args {
        line.push(b' ');
        match astring(arg) {
            AString::Quoted(mut q) => {
                line.extend_from_slice(&q);
                q.zeroize();
            }
            AString::Literal(mut bytes) => {
                line.extend_from_slice(format!("{{{}}}", bytes.len()).as_bytes());
                pieces.push(std::mem::take(&mut line));
                line.extend_from_slice(&bytes);
                bytes.zeroize();
            }
        }
    }
    pieces.push(line);
    pieces
}

/// Where an astring starting at `s` ends: the index after it, or `None` when malformed.
pub fn astring_end(s: &[u8]) -> Option<usize> {
    match s.first()? {
        b'"' => {
            let mut i = 1usize;
            loop {
                match s.get(i)? {
                    b'\\' => i = i.checked_add(2)?,
                    b'"' => return i.checked_add(1),
                    _ => i = i.checked_add(1)?,
                }
            }
        }
        b'{' | b'~' if s.starts_with(b"{") || s.starts_with(b"~{") => match literal_at_end(s) {
            Ok(Some(lit)) if lit.start == 0 => Some(s.len()),
            _ => None,
        },
        _ => Some(s.iter().position(|&b| b == b' ').unwrap_or(s.len())),
    }
}

/// A status word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

impl Status {
    pub fn parse(word: &[u8]) -> Option<Status> {
        const WORDS: [(&[u8], Status); 5] = [
            (b"OK", Status::Ok),
            (b"NO", Status::No),
            (b"BAD", Status::Bad),
            (b"BYE", Status::Bye),
            (b"PREAUTH", Status::Preauth),
        ];
        WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|&(_, s)| s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::Bye => "BYE",
            Status::Preauth => "PREAUTH",
        }
    }
}

/// What kind of line a server response line is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `TAG ...`; the range is the tag.
    Tagged(Range<usize>),
    /// `* ...`
    Untagged,
    /// `+ ...`
    Continuation,
    /// Not an IMAP response line (or the rest of a line after a literal).
    Other,
}

/// The parts of one server line, as positions in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseLine {
    pub kind: Kind,
    /// The status word after the tag or `*`, and where it is.
    pub status: Option<(Status, Range<usize>)>,
    /// A response code `[CODE args]` right after the status (or after `+`), brackets included.
    pub code: Option<Range<usize>>,
    /// A literal announced at the end of the line.
    pub literal: Option<Literal>,
}

impl ResponseLine {
    /// Parses a line (without its line ending). A literal size that does not fit is reported
    /// as no literal here; the machine checks sizes itself.
    pub fn parse(line: &[u8]) -> ResponseLine {
        let literal = literal_at_end(line).ok().flatten();
        let body_len = literal.map_or(line.len(), |l| l.start);
        let body = line.get(..body_len).unwrap_or(line);
        let marker = |m: u8| body.first() == Some(&m) && matches!(body.get(1), None | Some(b' '));
        let mut out = ResponseLine {
            kind: Kind::Other,
            status: None,
            code: None,
            literal,
        };
        if marker(b'*') {
            out.kind = Kind::Untagged;
            out.status_after(body, 1);
        } else if marker(b'+') {
            out.kind = Kind::Continuation;
            out.code = crate::proto::bracket_code_at(body, 1, false);
        } else {
            let (tag, rest) = split_word(body);
            let status_start = body.len().saturating_sub(rest.len());
            if valid_tag(tag) && Status::parse(split_word(rest).0).is_some() {
                out.kind = Kind::Tagged(0..tag.len());
                out.status_after(body, status_start.saturating_sub(1));
            }
        }
        out
    }

    /// Reads ` STATUS [CODE]` starting at `at` (the space before the status).
    fn status_after(&mut self, body: &[u8], at: usize) {
        let rest = body.get(at..).unwrap_or(&[]);
        let Some(after) = rest.strip_prefix(b" ") else {
            return;
        };
        let start = at.saturating_add(1);
        let (word, _) = split_word(after);
        if let Some(status) = Status::parse(word) {
            let end = start.saturating_add(word.len());
            self.status = Some((status, start..end));
            self.code = crate::proto::bracket_code_at(body, end, false);
        }
    }

    /// The response code's name and arguments: `("CAPABILITY", "IMAP4rev1 IDLE")`.
    pub fn code_parts<'a>(&self, line: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        let range = self.code.clone()?;
        let inner = line.get(range)?.strip_prefix(b"[")?.strip_suffix(b"]")?;
        Some(split_word(inner))
    }

    pub fn tag<'a>(&self, line: &'a [u8]) -> Option<&'a [u8]> {
        match &self.kind {
            Kind::Tagged(r) => line.get(r.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_strings() {
        assert_eq!(
            astring(b"user@example.org"),
            AString::Quoted(b"\"user@example.org\"".to_vec())
        );
        assert_eq!(
            astring(br#"a"b\c d"#),
            AString::Quoted(br#""a\"b\\c d""#.to_vec())
        );
        assert_eq!(astring(b""), AString::Quoted(b"\"\"".to_vec()));
        assert_eq!(
            astring("pässwort".as_bytes()),
            AString::Literal("pässwort".as_bytes().to_vec())
        );
    }

    #[test]
    fn command_pieces_split_at_synchronising_literals() {
        assert_eq!(
            command_pieces("LOGIN", &[b"alice", b"pa\"ss"]),
            vec![b"LOGIN \"alice\" \"pa\\\"ss\"".to_vec()]
        );
        assert_eq!(
            command_pieces("LOGIN", &[b"alice", "pässwort".as_bytes()]),
            vec![
                b"LOGIN \"alice\" {9}".to_vec(),
                "pässwort".as_bytes().to_vec()
            ]
        );
        assert_eq!(
            command_pieces("LOGIN", &["ü".as_bytes(), b"a\rb"]),
            vec![
                b"LOGIN {2}".to_vec(),
                ["ü".as_bytes(), b" {3}"].concat(),
                b"a\rb".to_vec()
            ]
        );
    }

    #[test]
    fn tags_and_verbs() {
        let c = CommandLine::parse(b"a1 LOGIN alice secret");
        assert_eq!(c.tag, Some(&b"a1"[..]));
        assert_eq!(c.verb, b"LOGIN");
        assert_eq!(c.args, b"alice secret");
        assert_eq!(c.verb_start, 3);
        let c = CommandLine::parse(b"login alice secret");
        assert_eq!(c.tag, None);
        assert!(c.is("LOGIN"));
        assert_eq!(c.verb_start, 0);
        // A lone word is a command even when unknown.
        let c = CommandLine::parse(b"XYZZY");
        assert_eq!((c.tag, c.verb), (None, &b"XYZZY"[..]));
        let c = CommandLine::parse(b"A003 uid fetch 1 (FLAGS)");
        assert!(c.is("FETCH") && c.is("UID") && !c.is("STORE"));
        // A command word first is the verb, not a tag.
        let c = CommandLine::parse(b"NOOP now");
        assert_eq!(c.tag, None);
        // `*` and `+` are no tags.
        assert_eq!(CommandLine::parse(b"* NOOP").tag, None);
        assert!(valid_tag(b"A001") && !valid_tag(b"A+1") && !valid_tag(b""));
    }

    #[test]
    fn literals() {
        let lit = |s: &[u8]| literal_at_end(s).unwrap();
        assert_eq!(
            lit(b"A1 APPEND INBOX {19}"),
            Some(Literal {
                start: 16,
                size: 19,
                sync: true,
                binary: false
            })
        );
        assert_eq!(lit(b"x ~{0}").map(|l| (l.start, l.binary)), Some((2, true)));
        assert_eq!(lit(b"x {5+}").map(|l| l.sync), Some(false));
        assert_eq!(lit(b"x {5-}").map(|l| l.sync), Some(false));
        assert_eq!(lit(b"x {}"), None);
        assert_eq!(lit(b"x {abc}"), None);
        assert_eq!(lit(b"x {-1}"), None);
        assert_eq!(lit(b"NOOP"), None);
        assert!(literal_at_end(b"{99999999999999999999999}").is_err());
        assert!(only_literal(b"  {5}") && only_literal(b"") && !only_literal(b"x {5}"));
    }

    #[test]
    fn quoting() {
        assert_eq!(
            astring(b"a\"b\\c"),
            AString::Quoted(b"\"a\\\"b\\\\c\"".to_vec())
        );
        assert_eq!(
            astring("é".as_bytes()),
            AString::Literal("é".as_bytes().to_vec())
        );
        assert_eq!(astring_end(b"\"a b\" rest"), Some(5));
        assert_eq!(astring_end(b"user pass"), Some(4));
        assert_eq!(astring_end(b"{5}"), Some(3));
        assert_eq!(astring_end(b"\"open"), None);
    }

    #[test]
    fn response_lines() {
        let line = b"A001 NO [OVERQUOTA] Quota exceeded";
        let r = ResponseLine::parse(line);
        assert_eq!(r.kind, Kind::Tagged(0..4));
        assert_eq!(r.status, Some((Status::No, 5..7)));
        assert_eq!(r.code, Some(8..19));
        assert_eq!(r.code_parts(line), Some((&b"OVERQUOTA"[..], &b""[..])));
        let line = b"* OK [CAPABILITY IMAP4rev1 IDLE] ready";
        let r = ResponseLine::parse(line);
        assert_eq!(r.kind, Kind::Untagged);
        assert_eq!(
            r.code_parts(line),
            Some((&b"CAPABILITY"[..], &b"IMAP4rev1 IDLE"[..]))
        );
        let r = ResponseLine::parse(b"* 1 FETCH (BODY[] {12}");
        assert_eq!(r.kind, Kind::Untagged);
        assert_eq!(r.status, None);
        assert_eq!(r.literal.map(|l| l.size), Some(12));
        let r = ResponseLine::parse(b"+ go ahead");
        assert_eq!(r.kind, Kind::Continuation);
        assert_eq!(ResponseLine::parse(b"+").kind, Kind::Continuation);
        assert_eq!(ResponseLine::parse(b"hello world").kind, Kind::Other);
        assert_eq!(ResponseLine::parse(b"A1 FOO bar").kind, Kind::Other);
        let r = ResponseLine::parse(b"+ [ALERT] x");
        assert_eq!(r.code, Some(2..9));
    }
}
