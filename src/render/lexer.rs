//! Splits protocol lines into styled spans: what the server sent, and what the user types or
//! mailtalk sent. The lexer only assigns roles; [`super::theme::Theme`] picks the colours.
//!
//! Every span's text is already made visible (see [`super::escape`]): escapes come out as
//! separate spans with [`Role::Escape`]. Adjacent spans never share a role.

use super::escape;
use crate::proto::imap::syntax::{literal_at_end, CommandLine, Kind, ResponseLine, Status};
use crate::proto::pop3::syntax::{Indicator, StatusLine};
use crate::proto::smtp::ReplyLine;
use crate::proto::{ext, LineKind, Protocol, REDACTED};

/// What a piece of text is, for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Text without special meaning.
    Plain,
    /// SMTP/LMTP reply codes by class.
    Code2xx,
    Code3xx,
    Code4xx,
    Code5xx,
    /// A three-digit code outside 2xx..5xx.
    CodeOther,
    /// An enhanced status code (`5.1.1`).
    Enhanced,
    /// An IMAP tag (`A001`).
    Tag,
    /// The IMAP untagged marker `*`.
    Untagged,
    /// The IMAP / POP3 continuation marker `+`.
    Continuation,
    /// IMAP status words.
    StatusOk,
    StatusNo,
    StatusBad,
    StatusBye,
    StatusPreauth,
    /// An IMAP or POP3 response code: `[ALERT]`, `[IN-USE]`.
    RespCode,
    /// POP3 `+OK`.
    PopOk,
    /// POP3 `-ERR`.
    PopErr,
    /// A command the protocol knows.
    Verb,
    /// A word in verb position that is not a command of the protocol.
    UnknownVerb,
    /// A command argument.
    Argument,
    /// A mail address in angle brackets.
    Address,
    /// A parameter keyword: `FROM:`, `SIZE=`.
    Keyword,
    /// An IMAP literal announcement: `{12}`, `{12+}`, `~{12}`.
    Literal,
    /// A secret that was replaced by `<redacted>`.
    Secret,
    /// Content: message bodies, IMAP literal data.
    Data,
    /// Bytes made visible by mailtalk (`\x1b`, `\r`, `\u{202e}`).
    Escape,
    /// A mailtalk meta-command (`:help`).
    Meta,
    /// Line prefixes: plaintext, TLS verified, TLS without verification.
    PrefixPlain,
    PrefixTls,
    PrefixInsecure,
    /// Messages from mailtalk itself.
    Info,
    Warning,
    Error,
    /// Secondary text (` [no line ending]`).
    Dim,
}

/// A piece of displayable text with its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub role: Role,
    pub text: String,
}

/// Collects spans, making text visible and merging neighbours with the same role.
#[derive(Default)]
pub(crate) struct Spans {
    spans: Vec<Span>,
}

impl Spans {
    pub(crate) fn new() -> Spans {
        Spans::default()
    }

    /// Adds `bytes` with `role`; escapes inside become [`Role::Escape`] spans.
    pub(crate) fn push(&mut self, role: Role, bytes: &[u8]) {
        for piece in escape::visible(bytes) {
            let role = if piece.escaped { Role::Escape } else { role };
            self.push_visible(role, piece.text);
        }
    }

    /// Adds text that is already visible.
    pub(crate) fn push_visible(&mut self, role: Role, text: String) {
        if text.is_empty() {
            return;
        }
        match self.spans.last_mut() {
            Some(last) if last.role == role => last.text.push_str(&text),
            _ => self.spans.push(Span { role, text }),
        }
    }

    pub(crate) fn finish(self) -> Vec<Span> {
        self.spans
    }
}

impl From<Vec<Span>> for Spans {
    fn from(spans: Vec<Span>) -> Spans {
        Spans { spans }
    }
}

/// Lexes one line the server sent (without its line ending).
///
/// - [`LineKind::Data`]: everything is [`Role::Data`].
/// - SMTP/LMTP: `250-text`, `250 2.1.0 Ok`: the code by class, the separator, the enhanced
///   status code if present, the rest plain. A line that is not a reply line is plain.
/// - IMAP: `*` untagged, `+` continuation, a tag followed by a status word, status words
///   `OK`/`NO`/`BAD`/`BYE`/`PREAUTH`, a `[CODE args]` response code, a literal announcement
///   at the end of the line. Anything else (e.g. the rest of a response after a literal) is
///   plain, apart from a literal announcement at its end.
/// - POP3: `+OK`, `-ERR`, a `[CODE]` after them, `+` continuation.
pub fn server_line(protocol: Protocol, kind: LineKind, bytes: &[u8]) -> Vec<Span> {
    let mut out = Spans::new();
    match kind {
        LineKind::Data => out.push(Role::Data, bytes),
        LineKind::Status => match protocol {
            Protocol::Smtp | Protocol::Lmtp => smtp_status(&mut out, bytes),
            Protocol::Imap => imap_status(&mut out, bytes),
            Protocol::Pop3 => pop3_status(&mut out, bytes),
        },
    }
    out.finish()
}

fn code_role(class: u8) -> Role {
    match class {
        2 => Role::Code2xx,
        3 => Role::Code3xx,
        4 => Role::Code4xx,
        5 => Role::Code5xx,
        _ => Role::CodeOther,
    }
}

fn smtp_status(out: &mut Spans, bytes: &[u8]) {
    let Some(reply) = ReplyLine::parse(bytes) else {
        return out.push(Role::Plain, bytes);
    };
    let (code, rest) = bytes.split_at(3.min(bytes.len()));
    out.push(code_role(reply.code.class), code);
    let (sep, _) = rest.split_at(1.min(rest.len()));
    out.push(Role::Plain, sep);
    let n = reply.enhanced_len;
    let (enhanced, text) = reply.text.split_at(n.min(reply.text.len()));
    out.push(Role::Enhanced, enhanced);
    out.push(Role::Plain, text);
}

fn status_role(status: Status) -> Role {
    match status {
        Status::Ok => Role::StatusOk,
        Status::No => Role::StatusNo,
        Status::Bad => Role::StatusBad,
        Status::Bye => Role::StatusBye,
        Status::Preauth => Role::StatusPreauth,
    }
}

/// Pushes `bytes[from..to]` with `role`, and returns `to`.
fn part(out: &mut Spans, bytes: &[u8], from: usize, to: usize, role: Role) -> usize {
    out.push(role, bytes.get(from..to).unwrap_or(&[]));
    to.max(from)
}

fn imap_status(out: &mut Spans, bytes: &[u8]) {
    let r = ResponseLine::parse(bytes);
    let body_end = r.literal.map_or(bytes.len(), |l| l.start);
    let mut at = 0usize;
    match &r.kind {
        Kind::Untagged => at = part(out, bytes, 0, 1, Role::Untagged),
        Kind::Continuation => at = part(out, bytes, 0, 1, Role::Continuation),
        Kind::Tagged(tag) => at = part(out, bytes, tag.start, tag.end, Role::Tag),
        Kind::Other => {}
    }
    if let Some((status, range)) = &r.status {
        part(out, bytes, at, range.start, Role::Plain);
        at = part(out, bytes, range.start, range.end, status_role(*status));
    }
    if let Some(code) = &r.code {
        part(out, bytes, at, code.start, Role::Plain);
        at = part(out, bytes, code.start, code.end, Role::RespCode);
    }
    at = part(out, bytes, at, body_end, Role::Plain);
    part(out, bytes, at, bytes.len(), Role::Literal);
}

fn pop3_status(out: &mut Spans, bytes: &[u8]) {
    let Some(s) = StatusLine::parse(bytes) else {
        return out.push(Role::Plain, bytes);
    };
    let role = match s.indicator {
        Indicator::Ok => Role::PopOk,
        Indicator::Err => Role::PopErr,
        Indicator::Continue => Role::Continuation,
    };
    let mut at = part(out, bytes, s.word.start, s.word.end, role);
    if let Some(code) = &s.code {
        part(out, bytes, at, code.start, Role::Plain);
        at = part(out, bytes, code.start, code.end, Role::RespCode);
    }
    part(out, bytes, at, bytes.len(), Role::Plain);
}

/// Lexes a line the user typed, or one mailtalk sent.
///
/// A line starting with `:` is a meta-command: its first word [`Role::Meta`], the rest
/// arguments. Otherwise the verb comes first (after an optional tag for IMAP; a first word
/// that is not an IMAP command and is followed by more is taken as the tag). Whitespace is kept
/// exactly: when `line` has no control characters, the span texts concatenated give `line`.
pub fn client_line(protocol: Protocol, line: &str) -> Vec<Span> {
    client_line_bytes(protocol, line.as_bytes())
}

/// [`client_line`] for bytes that may not be valid UTF-8 (invalid bytes become escapes).
pub fn client_line_bytes(protocol: Protocol, line: &[u8]) -> Vec<Span> {
    let mut out = Spans::new();
    let tokens = tokenize(line);
    if line.first() == Some(&b':') {
        let mut first = true;
        for tok in tokens {
            match tok {
                Token::Space(s) => out.push(Role::Plain, s),
                Token::Word(w) if first => {
                    first = false;
                    out.push(Role::Meta, w);
                }
                Token::Word(w) if is_secret(w) => out.push(Role::Secret, w),
                Token::Word(w) => out.push(Role::Argument, w),
            }
        }
        return out.finish();
    }

    let known = |w: &[u8]| ext::is_command(protocol, w);
    let typed_tag = protocol == Protocol::Imap && CommandLine::parse(line).tag.is_some();
    let mut words_seen = 0usize;
    let mut verb_next = true;
    for tok in &tokens {
        match *tok {
            Token::Space(s) => out.push(Role::Plain, s),
            Token::Word(w) => {
                words_seen = words_seen.saturating_add(1);
                if verb_next {
                    if typed_tag && words_seen == 1 {
                        out.push(Role::Tag, w);
                        continue;
                    }
                    verb_next = protocol == Protocol::Imap && w.eq_ignore_ascii_case(b"UID");
                    let role = if known(w) {
                        Role::Verb
                    } else {
                        Role::UnknownVerb
                    };
                    out.push(role, w);
                } else {
                    argument(&mut out, protocol, w);
                }
            }
        }
    }
    out.finish()
}

enum Token<'a> {
    Space(&'a [u8]),
    Word(&'a [u8]),
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn tokenize(line: &[u8]) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = line;
    while let Some(&first) = rest.first() {
        let space = is_space(first);
        let n = rest
            .iter()
            .position(|&b| is_space(b) != space)
            .unwrap_or(rest.len());
        let (tok, tail) = rest.split_at(n);
        tokens.push(if space {
            Token::Space(tok)
        } else {
            Token::Word(tok)
        });
        rest = tail;
    }
    tokens
}

fn is_secret(w: &[u8]) -> bool {
    w == REDACTED.as_bytes()
        || w.strip_prefix(b"\"")
            .and_then(|w| w.strip_suffix(b"\""))
            .is_some_and(|w| w == REDACTED.as_bytes())
}

fn is_address(w: &[u8]) -> bool {
    w.len() >= 2 && w.starts_with(b"<") && w.ends_with(b">")
}

fn is_literal(w: &[u8]) -> bool {
    matches!(literal_at_end(w), Ok(Some(lit)) if lit.start == 0)
}

/// Length of `KEY` in `KEY<sep>…` when KEY is a parameter name (a letter, then letters,
/// digits, `-` or `_`); 0 otherwise.
fn keyword_len(w: &[u8], sep: u8) -> usize {
    let Some(pos) = w.iter().position(|&b| b == sep) else {
        return 0;
    };
    let Some(key) = w.get(..pos) else {
        return 0;
    };
    let valid = key.first().is_some_and(u8::is_ascii_alphabetic)
        && key
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        pos
    } else {
        0
    }
}

/// A value after `KEY:` or `KEY=`.
fn value(out: &mut Spans, v: &[u8]) {
    if is_secret(v) {
        out.push(Role::Secret, v);
    } else if is_address(v) {
        out.push(Role::Address, v);
    } else {
        out.push(Role::Argument, v);
    }
}

fn argument(out: &mut Spans, protocol: Protocol, w: &[u8]) {
    if is_secret(w) {
        return out.push(Role::Secret, w);
    }
    if is_address(w) {
        return out.push(Role::Address, w);
    }
    if is_literal(w) {
        return out.push(Role::Literal, w);
    }
    if matches!(protocol, Protocol::Smtp | Protocol::Lmtp) {
        let k = keyword_len(w, b':');
        if k > 0 {
            let (key, v) = w.split_at(k.saturating_add(1).min(w.len()));
            out.push(Role::Keyword, key);
            return value(out, v);
        }
    }
    let k = keyword_len(w, b'=');
    if k > 0 && w.get(k.saturating_add(1)) != Some(&b'=') {
        let (key, v) = w.split_at(k.saturating_add(1).min(w.len()));
        out.push(Role::Keyword, key);
        return value(out, v);
    }
    out.push(Role::Argument, w);
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    fn spans(v: &[(Role, &str)]) -> Vec<Span> {
        v.iter()
            .map(|&(role, text)| Span {
                role,
                text: text.to_string(),
            })
            .collect()
    }

    fn st(p: Protocol, b: &[u8]) -> Vec<Span> {
        server_line(p, LineKind::Status, b)
    }

    #[test]
    fn smtp_codes_by_class() {
        assert_eq!(
            st(Protocol::Smtp, b"250-mx.example.com"),
            spans(&[(Code2xx, "250"), (Plain, "-mx.example.com")])
        );
        assert_eq!(
            st(Protocol::Smtp, b"250 2.1.0 Ok"),
            spans(&[
                (Code2xx, "250"),
                (Plain, " "),
                (Enhanced, "2.1.0"),
                (Plain, " Ok")
            ])
        );
        assert_eq!(
            st(Protocol::Smtp, b"354 End data with <CR><LF>.<CR><LF>"),
            spans(&[
                (Code3xx, "354"),
                (Plain, " End data with <CR><LF>.<CR><LF>")
            ])
        );
        assert_eq!(
            st(Protocol::Lmtp, b"451 4.3.0 Try later"),
            spans(&[
                (Code4xx, "451"),
                (Plain, " "),
                (Enhanced, "4.3.0"),
                (Plain, " Try later")
            ])
        );
        assert_eq!(
            st(
                Protocol::Smtp,
                b"550 5.1.1 <x@y>: Recipient address rejected"
            ),
            spans(&[
                (Code5xx, "550"),
                (Plain, " "),
                (Enhanced, "5.1.1"),
                (Plain, " <x@y>: Recipient address rejected")
            ])
        );
        assert_eq!(
            st(Protocol::Smtp, b"199 odd"),
            spans(&[(CodeOther, "199"), (Plain, " odd")])
        );
        assert_eq!(st(Protocol::Smtp, b"250"), spans(&[(Code2xx, "250")]));
        assert_eq!(
            st(Protocol::Smtp, b"250 2.0.0"),
            spans(&[(Code2xx, "250"), (Plain, " "), (Enhanced, "2.0.0")])
        );
        assert_eq!(
            st(Protocol::Smtp, b"220-2.0.0.1 x"),
            spans(&[(Code2xx, "220"), (Plain, "-2.0.0.1 x")])
        );
    }

    #[test]
    fn smtp_malformed_is_plain() {
        for line in [
            &b"25 ok"[..],
            b"2500 ok",
            b"25x ok",
            b"hello",
            b"",
            b"250_ok",
            b" 250 ok",
        ] {
            let got = st(Protocol::Smtp, line);
            let want = if line.is_empty() {
                vec![]
            } else {
                spans(&[(Plain, std::str::from_utf8(line).unwrap())])
            };
            assert_eq!(got, want, "{line:?}");
        }
        // Not an enhanced code: wrong class, too many digits, no space after.
        for text in ["3.1.0 x", "2.1234.0 x", "2.1.0x", "2..0 x", "2.1. x"] {
            let line = format!("250 {text}");
            assert_eq!(
                st(Protocol::Smtp, line.as_bytes()),
                spans(&[(Code2xx, "250"), (Plain, &format!(" {text}"))]),
                "{text}"
            );
        }
    }

    #[test]
    fn imap_untagged_and_status() {
        assert_eq!(
            st(
                Protocol::Imap,
                b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready."
            ),
            spans(&[
                (Untagged, "*"),
                (Plain, " "),
                (StatusOk, "OK"),
                (Plain, " "),
                (RespCode, "[CAPABILITY IMAP4rev1 STARTTLS]"),
                (Plain, " Dovecot ready.")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"* 3 EXISTS"),
            spans(&[(Untagged, "*"), (Plain, " 3 EXISTS")])
        );
        assert_eq!(
            st(Protocol::Imap, b"* bye Logging out"),
            spans(&[
                (Untagged, "*"),
                (Plain, " "),
                (StatusBye, "bye"),
                (Plain, " Logging out")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"* PREAUTH hi"),
            spans(&[
                (Untagged, "*"),
                (Plain, " "),
                (StatusPreauth, "PREAUTH"),
                (Plain, " hi")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"A001 OK [READ-WRITE] SELECT completed"),
            spans(&[
                (Tag, "A001"),
                (Plain, " "),
                (StatusOk, "OK"),
                (Plain, " "),
                (RespCode, "[READ-WRITE]"),
                (Plain, " SELECT completed")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"a2 No [AUTHENTICATIONFAILED] nope"),
            spans(&[
                (Tag, "a2"),
                (Plain, " "),
                (StatusNo, "No"),
                (Plain, " "),
                (RespCode, "[AUTHENTICATIONFAILED]"),
                (Plain, " nope")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"A3 BAD"),
            spans(&[(Tag, "A3"), (Plain, " "), (StatusBad, "BAD")])
        );
        // A response code without its closing bracket is plain text.
        assert_eq!(
            st(Protocol::Imap, b"A4 OK [ALERT oops"),
            spans(&[
                (Tag, "A4"),
                (Plain, " "),
                (StatusOk, "OK"),
                (Plain, " [ALERT oops")
            ])
        );
    }

    #[test]
    fn imap_continuation_literal_and_other_lines() {
        assert_eq!(
            st(Protocol::Imap, b"+ idling"),
            spans(&[(Continuation, "+"), (Plain, " idling")])
        );
        assert_eq!(st(Protocol::Imap, b"+"), spans(&[(Continuation, "+")]));
        assert_eq!(
            st(Protocol::Imap, b"+ [ALERT] hi"),
            spans(&[
                (Continuation, "+"),
                (Plain, " "),
                (RespCode, "[ALERT]"),
                (Plain, " hi")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"* 1 FETCH (BODY[] {123}"),
            spans(&[
                (Untagged, "*"),
                (Plain, " 1 FETCH (BODY[] "),
                (Literal, "{123}")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"* 1 FETCH (BINARY[] ~{5}"),
            spans(&[
                (Untagged, "*"),
                (Plain, " 1 FETCH (BINARY[] "),
                (Literal, "~{5}")
            ])
        );
        // The rest of a response after a literal, and lines that are nothing known.
        assert_eq!(st(Protocol::Imap, b" UID 5)"), spans(&[(Plain, " UID 5)")]));
        assert_eq!(st(Protocol::Imap, b")"), spans(&[(Plain, ")")]));
        assert_eq!(
            st(Protocol::Imap, b"A1 FETCH done"),
            spans(&[(Plain, "A1 FETCH done")])
        );
        assert_eq!(st(Protocol::Imap, b"*OK"), spans(&[(Plain, "*OK")]));
        assert_eq!(st(Protocol::Imap, b"+OK"), spans(&[(Plain, "+OK")]));
        assert_eq!(
            st(Protocol::Imap, b" BODY[TEXT] {0}"),
            spans(&[(Plain, " BODY[TEXT] "), (Literal, "{0}")])
        );
        // Not literals.
        assert_eq!(st(Protocol::Imap, b"x {}"), spans(&[(Plain, "x {}")]));
        assert_eq!(st(Protocol::Imap, b"x {1a}"), spans(&[(Plain, "x {1a}")]));
        assert_eq!(st(Protocol::Imap, b"x 12}"), spans(&[(Plain, "x 12}")]));
        assert_eq!(st(Protocol::Imap, b"}"), spans(&[(Plain, "}")]));
    }

    #[test]
    fn pop3_status() {
        assert_eq!(
            st(Protocol::Pop3, b"+OK POP3 ready"),
            spans(&[(PopOk, "+OK"), (Plain, " POP3 ready")])
        );
        assert_eq!(
            st(Protocol::Pop3, b"-ERR [IN-USE] mailbox locked"),
            spans(&[
                (PopErr, "-ERR"),
                (Plain, " "),
                (RespCode, "[IN-USE]"),
                (Plain, " mailbox locked")
            ])
        );
        assert_eq!(
            st(Protocol::Pop3, b"-ERR [SYS/TEMP] later"),
            spans(&[
                (PopErr, "-ERR"),
                (Plain, " "),
                (RespCode, "[SYS/TEMP]"),
                (Plain, " later")
            ])
        );
        assert_eq!(st(Protocol::Pop3, b"+OK"), spans(&[(PopOk, "+OK")]));
        assert_eq!(
            st(Protocol::Pop3, b"+ dXNlcg=="),
            spans(&[(Continuation, "+"), (Plain, " dXNlcg==")])
        );
        assert_eq!(st(Protocol::Pop3, b"+OKAY"), spans(&[(Plain, "+OKAY")]));
        assert_eq!(st(Protocol::Pop3, b"1 120"), spans(&[(Plain, "1 120")]));
    }

    #[test]
    fn data_lines_are_data() {
        for p in [
            Protocol::Smtp,
            Protocol::Imap,
            Protocol::Pop3,
            Protocol::Lmtp,
        ] {
            assert_eq!(
                server_line(p, LineKind::Data, b"250 OK looks like a reply"),
                spans(&[(Data, "250 OK looks like a reply")])
            );
        }
        assert_eq!(
            server_line(Protocol::Imap, LineKind::Data, b"A1 OK\x1b[2J"),
            spans(&[(Data, "A1 OK"), (Escape, "\\x1b"), (Data, "[2J")])
        );
        assert!(server_line(Protocol::Imap, LineKind::Data, b"").is_empty());
    }

    #[test]
    fn escapes_are_split_out_of_every_span() {
        assert_eq!(
            st(Protocol::Smtp, b"250 2.0.0 ok\x1b]0;pwned\x07\r"),
            spans(&[
                (Code2xx, "250"),
                (Plain, " "),
                (Enhanced, "2.0.0"),
                (Plain, " ok"),
                (Escape, "\\x1b"),
                (Plain, "]0;pwned"),
                (Escape, "\\x07\\r")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"A\xff1 OK [AL\xc2\x9bERT] x"),
            spans(&[
                (Plain, "A"),
                (Escape, "\\xff"),
                (Plain, "1 OK [AL"),
                (Escape, "\\u{9b}"),
                (Plain, "ERT] x")
            ])
        );
        assert_eq!(
            st(Protocol::Imap, b"* OK [AL\xc2\x9bERT] x"),
            spans(&[
                (Untagged, "*"),
                (Plain, " "),
                (StatusOk, "OK"),
                (Plain, " "),
                (RespCode, "[AL"),
                (Escape, "\\u{9b}"),
                (RespCode, "ERT]"),
                (Plain, " x")
            ])
        );
        assert_eq!(
            st(Protocol::Smtp, b"\x1b[31m550"),
            spans(&[(Escape, "\\x1b"), (Plain, "[31m550")])
        );
    }

    fn joined(v: &[Span]) -> String {
        v.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn client_smtp() {
        assert_eq!(
            client_line(Protocol::Smtp, "MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME"),
            spans(&[
                (Verb, "MAIL"),
                (Plain, " "),
                (Keyword, "FROM:"),
                (Address, "<a@b>"),
                (Plain, " "),
                (Keyword, "SIZE="),
                (Argument, "1000"),
                (Plain, " "),
                (Keyword, "BODY="),
                (Argument, "8BITMIME")
            ])
        );
        assert_eq!(
            client_line(Protocol::Smtp, "rcpt  to: <x@y>"),
            spans(&[
                (Verb, "rcpt"),
                (Plain, "  "),
                (Keyword, "to:"),
                (Plain, " "),
                (Address, "<x@y>")
            ])
        );
        assert_eq!(
            client_line(Protocol::Smtp, "MAIL FROM:<>"),
            spans(&[
                (Verb, "MAIL"),
                (Plain, " "),
                (Keyword, "FROM:"),
                (Address, "<>")
            ])
        );
        assert_eq!(
            client_line(Protocol::Smtp, "AUTH PLAIN <redacted>"),
            spans(&[
                (Verb, "AUTH"),
                (Plain, " "),
                (Argument, "PLAIN"),
                (Plain, " "),
                (Secret, "<redacted>")
            ])
        );
        assert_eq!(
            client_line(Protocol::Smtp, "HELLO there"),
            spans(&[(UnknownVerb, "HELLO"), (Plain, " "), (Argument, "there")])
        );
        assert_eq!(
            client_line(Protocol::Lmtp, "LHLO x"),
            spans(&[(Verb, "LHLO"), (Plain, " "), (Argument, "x")])
        );
        assert_eq!(
            client_line(Protocol::Smtp, "LHLO"),
            spans(&[(UnknownVerb, "LHLO")])
        );
        assert_eq!(
            client_line(Protocol::Smtp, "  ehlo\t"),
            spans(&[(Plain, "  "), (Verb, "ehlo"), (Plain, "\t")])
        );
        assert!(client_line(Protocol::Smtp, "").is_empty());
    }

    #[test]
    fn client_imap() {
        assert_eq!(
            client_line(Protocol::Imap, "a1 LOGIN alice <redacted>"),
            spans(&[
                (Tag, "a1"),
                (Plain, " "),
                (Verb, "LOGIN"),
                (Plain, " "),
                (Argument, "alice"),
                (Plain, " "),
                (Secret, "<redacted>")
            ])
        );
        assert_eq!(
            client_line(Protocol::Imap, "LOGIN alice \"<redacted>\""),
            spans(&[
                (Verb, "LOGIN"),
                (Plain, " "),
                (Argument, "alice"),
                (Plain, " "),
                (Secret, "\"<redacted>\"")
            ])
        );
        assert_eq!(
            client_line(Protocol::Imap, "A2 uid fetch 1:* (FLAGS)"),
            spans(&[
                (Tag, "A2"),
                (Plain, " "),
                (Verb, "uid"),
                (Plain, " "),
                (Verb, "fetch"),
                (Plain, " "),
                (Argument, "1:*"),
                (Plain, " "),
                (Argument, "(FLAGS)")
            ])
        );
        assert_eq!(
            client_line(Protocol::Imap, "A3 APPEND INBOX {310}"),
            spans(&[
                (Tag, "A3"),
                (Plain, " "),
                (Verb, "APPEND"),
                (Plain, " "),
                (Argument, "INBOX"),
                (Plain, " "),
                (Literal, "{310}")
            ])
        );
        assert_eq!(
            client_line(Protocol::Imap, "A4 append x {5+}"),
            spans(&[
                (Tag, "A4"),
                (Plain, " "),
                (Verb, "append"),
                (Plain, " "),
                (Argument, "x"),
                (Plain, " "),
                (Literal, "{5+}")
            ])
        );
        assert_eq!(
            client_line(Protocol::Imap, "A5 FROB x"),
            spans(&[
                (Tag, "A5"),
                (Plain, " "),
                (UnknownVerb, "FROB"),
                (Plain, " "),
                (Argument, "x")
            ])
        );
        assert_eq!(
            client_line(Protocol::Imap, "noop"),
            spans(&[(Verb, "noop")])
        );
        assert_eq!(
            client_line(Protocol::Imap, "a1"),
            spans(&[(UnknownVerb, "a1")])
        );
        assert_eq!(
            client_line(Protocol::Imap, "a1 "),
            spans(&[(Tag, "a1"), (Plain, " ")])
        );
    }

    #[test]
    fn client_pop3_and_meta() {
        assert_eq!(
            client_line(Protocol::Pop3, "PASS <redacted>"),
            spans(&[(Verb, "PASS"), (Plain, " "), (Secret, "<redacted>")])
        );
        assert_eq!(
            client_line(Protocol::Pop3, "RETR 1"),
            spans(&[(Verb, "RETR"), (Plain, " "), (Argument, "1")])
        );
        assert_eq!(
            client_line(Protocol::Pop3, "EHLO x").first().unwrap().role,
            UnknownVerb
        );
        assert_eq!(
            client_line(Protocol::Smtp, ":send --from <a@b>  x"),
            spans(&[
                (Meta, ":send"),
                (Plain, " "),
                (Argument, "--from"),
                (Plain, " "),
                (Argument, "<a@b>"),
                (Plain, "  "),
                (Argument, "x")
            ])
        );
        assert_eq!(
            client_line(Protocol::Imap, ":help"),
            spans(&[(Meta, ":help")])
        );
        assert_eq!(
            client_line(Protocol::Imap, ":auth <redacted>"),
            spans(&[(Meta, ":auth"), (Plain, " "), (Secret, "<redacted>")])
        );
    }

    #[test]
    fn client_line_round_trips() {
        let inputs = [
            "",
            " ",
            "\t\t",
            "EHLO client.example",
            "  MAIL   FROM:<a@b>  SIZE=10 ",
            "MAIL FROM: <a b@c>",
            "RCPT TO:<x@y> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y",
            "AUTH PLAIN <redacted>",
            "AUTH LOGIN dXNlcg==",
            "a1 login \"my user\" <redacted>",
            "A1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM)])",
            "A2 APPEND \"Sent Items\" (\\Seen) ~{12}",
            "A3 SEARCH CHARSET UTF-8 SUBJECT \"grüße 日本\"",
            ":set timeout=10",
            "::",
            ":",
            "=",
            "=x",
            "x=",
            "FROM:",
            ":<>",
            "<",
            ">",
            "{",
            "{}",
            "{1",
            "~{3}",
            "\u{a0}nbsp",
        ];
        for p in [
            Protocol::Smtp,
            Protocol::Lmtp,
            Protocol::Imap,
            Protocol::Pop3,
        ] {
            for input in inputs {
                let got = client_line(p, input);
                assert_eq!(joined(&got), input, "{p} {input:?}");
                // Neighbouring spans never share a role, and none is empty.
                assert!(got.windows(2).all(|w| w[0].role != w[1].role), "{input:?}");
                assert!(got.iter().all(|s| !s.text.is_empty()));
            }
        }
    }

    #[test]
    fn client_line_escapes_controls() {
        assert_eq!(
            client_line(Protocol::Smtp, "EHLO \x1b[2Jx\u{202e}"),
            spans(&[
                (Verb, "EHLO"),
                (Plain, " "),
                (Escape, "\\x1b"),
                (Argument, "[2Jx"),
                (Escape, "\\u{202e}")
            ])
        );
        // Escapes inside a word keep the rest of the word's role. (A word with a control
        // character is no valid tag: the machine would tag the line itself, so it is the verb.)
        assert_eq!(
            client_line(Protocol::Imap, "a\x071 NO\rOP"),
            spans(&[
                (UnknownVerb, "a"),
                (Escape, "\\x07"),
                (UnknownVerb, "1"),
                (Plain, " "),
                (Argument, "NO"),
                (Escape, "\\r"),
                (Argument, "OP")
            ])
        );
        assert_eq!(
            client_line(Protocol::Imap, "a1 NO\rOP"),
            spans(&[
                (Tag, "a1"),
                (Plain, " "),
                (UnknownVerb, "NO"),
                (Escape, "\\r"),
                (UnknownVerb, "OP")
            ])
        );
        assert_eq!(
            client_line_bytes(Protocol::Smtp, b"NOOP \xff"),
            spans(&[(Verb, "NOOP"), (Plain, " "), (Escape, "\\xff")])
        );
    }
}
