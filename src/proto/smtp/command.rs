//! SMTP/LMTP commands as values (RFC 5321 §4.1, with the parameters of the common
//! extensions). [`Command::write`] gives the exact bytes a client sends; [`Command::parse`]
//! reads a command line as a server receives it. A line the user types is sent as typed; it is
//! parsed only to learn what it means.

use std::fmt;

/// An ESMTP parameter of MAIL or RCPT: `SIZE=1000`, `BODY=8BITMIME`, `SMTPUTF8`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// As written; compare with [`Param::is`].
    pub keyword: String,
    pub value: Option<String>,
}

impl Param {
    pub fn new(keyword: &str, value: Option<&str>) -> Param {
        Param {
            keyword: keyword.to_string(),
            value: value.map(str::to_string),
        }
    }

    /// Whether this is the parameter `keyword` (case-insensitive).
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={v}", self.keyword),
            None => f.write_str(&self.keyword),
        }
    }
}

/// One command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    /// LMTP's EHLO (RFC 2033).
    Lhlo(String),
    /// `MAIL FROM:<path> params`; the path without `<>` (empty for the null sender).
    Mail {
        from: String,
        params: Vec<Param>,
    },
    /// `RCPT TO:<path> params`.
    Rcpt {
        to: String,
        params: Vec<Param>,
    },
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954); the response is base64 text or `=`.
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    Vrfy(String),
    Expn(String),
    Help(String),
    /// Anything else: the verb and the rest of the line, as sent.
    Other {
        verb: String,
        rest: Vec<u8>,
    },
}

/// Why a command line does not parse (server side).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty command line")]
    Empty,
    #[error("{verb}: {why}")]
    Syntax { verb: &'static str, why: String },
}

fn syntax(verb: &'static str, why: impl Into<String>) -> ParseError {
    ParseError::Syntax {
        verb,
        why: why.into(),
    }
}

impl Command {
    /// The verb as it goes on the wire (`MAIL`, `BDAT`, or the unknown verb as sent).
    pub fn verb(&self) -> &str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Lhlo(_) => "LHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::Other { verb, .. } => verb,
        }
    }

    /// The command line, without CRLF.
    pub fn line(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_line(&mut out);
        out
    }

    /// Appends the command line and CRLF.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_line(out);
        out.extend_from_slice(b"\r\n");
    }

    fn write_line(&self, out: &mut Vec<u8>) {
        let mut push = |s: &str| out.extend_from_slice(s.as_bytes());
        match self {
            Command::Ehlo(name) | Command::Helo(name) | Command::Lhlo(name) => {
                push(self.verb());
                push(" ");
                push(name);
            }
            Command::Mail { from, params } => {
                push("MAIL FROM:<");
                push(from);
                push(">");
                for p in params {
                    push(" ");
                    push(&p.to_string());
                }
            }
            Command::Rcpt { to, params } => {
                push("RCPT TO:<");
                push(to);
                push(">");
                for p in params {
                    push(" ");
                    push(&p.to_string());
                }
            }
            Command::Bdat { size, last } => {
                push(&format!("BDAT {size}"));
                if *last {
                    push(" LAST");
                }
            }
            Command::Auth { mechanism, initial } => {
                push("AUTH ");
                push(mechanism);
                if let Some(ir) = initial {
                    push(" ");
                    push(ir);
                }
            }
            Command::Vrfy(arg) | Command::Expn(arg) | Command::Help(arg) => {
                push(self.verb());
                if !arg.is_empty() {
                    push(" ");
                    push(arg);
                }
            }
            Command::Other { verb, rest } => {
                push(verb);
                if !rest.is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(rest);
                }
            }
            Command::Data | Command::Rset | Command::Noop | Command::Quit | Command::StartTls => {
                push(self.verb())
            }
        }
    }

    /// Parses a command line (without CRLF) as a server reads it. Unknown verbs are
    /// [`Command::Other`]; known verbs with malformed arguments are errors.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let (verb, rest) = split_verb(line);
        if verb.is_empty() {
            return Err(ParseError::Empty);
        }
        let upper = verb.to_ascii_uppercase();
        let text = || String::from_utf8_lossy(rest).into_owned();
        Ok(match upper.as_slice() {
            b"EHLO" | b"HELO" | b"LHLO" => {
                let name = text();
                let name = name.trim();
                if name.is_empty() || name.contains([' ', '\t']) {
                    return Err(syntax(
                        static_verb(&upper),
                        "needs exactly one argument, the client's name",
                    ));
                }
                match upper.as_slice() {
                    b"EHLO" => Command::Ehlo(name.to_string()),
                    b"HELO" => Command::Helo(name.to_string()),
                    _ => Command::Lhlo(name.to_string()),
                }
            }
            b"MAIL" => {
                let (from, params) = parse_path(rest, b"FROM:").map_err(|w| syntax("MAIL", w))?;
                Command::Mail { from, params }
            }
            b"RCPT" => {
                let (to, params) = parse_path(rest, b"TO:").map_err(|w| syntax("RCPT", w))?;
                Command::Rcpt { to, params }
            }
            b"DATA" => no_args(rest, "DATA", Command::Data)?,
            b"RSET" => no_args(rest, "RSET", Command::Rset)?,
            b"QUIT" => no_args(rest, "QUIT", Command::Quit)?,
            b"STARTTLS" => no_args(rest, "STARTTLS", Command::StartTls)?,
            b"NOOP" => Command::Noop,
            b"BDAT" => {
                let (size, last) = parse_bdat(rest).ok_or_else(|| {
                    syntax(
                        "BDAT",
                        "expected BDAT SIZE [LAST] with SIZE a number of bytes",
                    )
                })?;
                Command::Bdat { size, last }
            }
            b"AUTH" => {
                let mut w = words(rest);
                let mechanism = w
                    .next()
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .ok_or_else(|| syntax("AUTH", "needs a mechanism"))?;
                let initial = w.next().map(|i| String::from_utf8_lossy(i).into_owned());
                if w.next().is_some() {
                    return Err(syntax("AUTH", "too many arguments"));
                }
                Command::Auth { mechanism, initial }
            }
            b"VRFY" => Command::Vrfy(text().trim().to_string()),
            b"EXPN" => Command::Expn(text().trim().to_string()),
            b"HELP" => Command::Help(text().trim().to_string()),
            _ => Command::Other {
                verb: String::from_utf8_lossy(verb).into_owned(),
                rest: rest.to_vec(),
            },
        })
    }

    /// The parameters of MAIL or RCPT (empty for other commands).
    pub fn params(&self) -> &[Param] {
        match self {
            Command::Mail { params, .. } | Command::Rcpt { params, .. } => params,
            _ => &[],
        }
    }
}

fn static_verb(upper: &[u8]) -> &'static str {
    match upper {
        b"EHLO" => "EHLO",
        b"HELO" => "HELO",
        _ => "LHLO",
    }
}

fn no_args(rest: &[u8], verb: &'static str, cmd: Command) -> Result<Command, ParseError> {
    if rest.iter().all(|b| *b == b' ' || *b == b'\t') {
        Ok(cmd)
    } else {
        Err(syntax(verb, "takes no arguments"))
    }
}

/// Words separated by spaces or tabs.
pub(crate) fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty())
}

/// The first word (leading blanks skipped) and the rest after the blanks that follow it.
pub(crate) fn split_verb(line: &[u8]) -> (&[u8], &[u8]) {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let body = line.get(start..).unwrap_or(&[]);
    let end = body.iter().position(blank).unwrap_or(body.len());
    let verb = body.get(..end).unwrap_or(&[]);
    let rest = body.get(end..).unwrap_or(&[]);
    let skip = rest.iter().take_while(|b| blank(b)).count();
    (verb, rest.get(skip..).unwrap_or(&[]))
}

/// `FROM:<path> params` / `TO:<path> params` (RFC 5321 allows no space after the colon, but
/// one is accepted, as most servers do).
fn parse_path(rest: &[u8], prefix: &[u8]) -> Result<(String, Vec<Param>), String> {
    let head = rest.get(..prefix.len()).unwrap_or(&[]);
    if !head.eq_ignore_ascii_case(prefix) {
        return Err(format!(
            "expected {}<address>",
            String::from_utf8_lossy(prefix)
        ));
    }
    let after = rest.get(prefix.len()..).unwrap_or(&[]);
    let after = after.strip_prefix(b" ").unwrap_or(after);
    let inner = after
        .strip_prefix(b"<")
        .ok_or_else(|| "the address must be in angle brackets".to_string())?;
    let close = inner
        .iter()
        .position(|b| *b == b'>')
        .ok_or_else(|| "no closing > after the address".to_string())?;
    let path = String::from_utf8_lossy(inner.get(..close).unwrap_or(&[])).into_owned();
    let tail = inner.get(close.saturating_add(1)..).unwrap_or(&[]);
    if !tail.is_empty() && !tail.starts_with(b" ") {
        return Err("expected a space before the parameters".to_string());
    }
    let params = words(tail).map(parse_param).collect::<Result<_, _>>()?;
    Ok((path, params))
}

/// `keyword[=value]` (RFC 5321 §4.1.2): the keyword a letter or digit, then letters, digits
/// and `-`; a value, when there is a `=`, of at least one character and no control characters.
fn parse_param(word: &[u8]) -> Result<Param, String> {
    let word = String::from_utf8_lossy(word);
    let (keyword, value) = match word.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (&*word, None),
    };
    let mut chars = keyword.chars();
    let keyword_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !keyword_ok {
        return Err(format!(
            "{word:?} is not a parameter (KEYWORD or KEYWORD=value)"
        ));
    }
    if let Some(v) = value {
        if v.is_empty() {
            return Err(format!("the parameter {keyword} has an empty value"));
        }
        if v.chars().any(char::is_control) {
            return Err(format!("the value of {keyword} holds a control character"));
        }
    }
    Ok(Param::new(keyword, value))
}

/// `SIZE [LAST]` after BDAT: the size and whether this is the last chunk.
pub(crate) fn parse_bdat(rest: &[u8]) -> Option<(u64, bool)> {
    let mut w = words(rest);
    let size = w.next()?;
    if !size.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size: u64 = std::str::from_utf8(size).ok()?.parse().ok()?;
    let last = match w.next() {
        None => false,
        Some(x) if x.eq_ignore_ascii_case(b"LAST") => true,
        Some(_) => return None,
    };
    if w.next().is_some() {
        return None;
    }
    Some((size, last))
}

/// The longest mailbox in a path (RFC 5321 §4.5.3.1.3: a path of 256 octets with its brackets).
pub const MAX_MAILBOX: usize = 254;
/// The longest local part (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// The longest domain (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// The longest ENVID (RFC 3461 §4.4).
pub const MAX_ENVID: usize = 100;
/// The longest ORCPT value (RFC 3461 §4.2: 500 characters, its address type included).
pub const MAX_ORCPT: usize = 500;

/// The mailbox of a reverse or forward path as [`Command::parse`] gives it (without the angle
/// brackets), with a source route (`@a,@b:user@c`, RFC 5321 §4.1.1.3: accepted and ignored)
/// taken off. Checks the route's domains; the mailbox itself is for [`check_mailbox`].
pub fn strip_route(path: &str) -> Result<&str, String> {
    if !path.starts_with('@') {
        return Ok(path);
    }
    let (route, mailbox) = path
        .split_once(':')
        .ok_or_else(|| "a source route must end with ':' before the mailbox".to_string())?;
    for hop in route.split(',') {
        let domain = hop
            .strip_prefix('@')
            .ok_or_else(|| format!("the source route hop {hop:?} does not start with '@'"))?;
        check_domain(domain, true)?;
    }
    Ok(mailbox)
}

/// Checks a mailbox, `local-part@domain` (RFC 5321 §4.1.2; with `utf8`, RFC 6531's non-ASCII
/// characters in both parts): a dot-string or quoted local part, a domain of letter-digit-hyphen
/// labels or an address literal (`[192.0.2.1]`, `[IPv6:…]`), and the length limits.
pub fn check_mailbox(mailbox: &str, utf8: bool) -> Result<(), String> {
    if mailbox.len() > MAX_MAILBOX {
        return Err(format!("longer than {MAX_MAILBOX} octets"));
    }
    let (local, domain) = split_mailbox(mailbox, utf8)?;
    if local.len() > MAX_LOCAL_PART {
        return Err(format!(
            "the local part is longer than {MAX_LOCAL_PART} octets"
        ));
    }
    if domain.starts_with('[') {
        check_address_literal(domain)
    } else {
        check_domain(domain, utf8)
    }
}

/// The local part (quoted or a dot-string) and the domain after its `@`.
fn split_mailbox(mailbox: &str, utf8: bool) -> Result<(&str, &str), String> {
    let non_ascii_ok = |c: char| utf8 && !c.is_ascii();
    let at = if let Some(quoted) = mailbox.strip_prefix('"') {
        // Quoted-string: qtextSMTP or a backslash and a printable character.
        let mut escaped = false;
        let mut end = None;
        for (i, c) in quoted.char_indices() {
            if escaped {
                if !(' '..='~').contains(&c) && !non_ascii_ok(c) {
                    return Err(
                        "a backslash in the quoted local part escapes nothing printable".into(),
                    );
                }
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(i);
                break;
            } else if !(' '..='~').contains(&c) && !non_ascii_ok(c) {
                return Err("the quoted local part holds a control character".into());
            }
        }
        let end = end.ok_or_else(|| "the quoted local part has no closing '\"'".to_string())?;
        // The opening quote, the content, the closing quote.
        end.saturating_add(2)
    } else {
        let at = mailbox
            .find('@')
            .ok_or_else(|| "no '@' between the local part and the domain".to_string())?;
        let local = mailbox.get(..at).unwrap_or_default();
        for atom in local.split('.') {
            if atom.is_empty() {
                return Err("the local part has an empty dot-separated part (quote it)".into());
            }
            if let Some(c) = atom.chars().find(|&c| !is_atext(c) && !non_ascii_ok(c)) {
                return Err(format!("{c:?} may not appear in an unquoted local part"));
            }
        }
        at
    };
    let local = mailbox.get(..at).unwrap_or_default();
    let domain = mailbox
        .get(at..)
        .and_then(|rest| rest.strip_prefix('@'))
        .ok_or_else(|| "no '@' after the local part".to_string())?;
    Ok((local, domain))
}

/// RFC 5322 atext.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// A domain: labels of letters, digits and hyphens (not first or last), at most 63 octets each;
/// with `utf8`, non-ASCII letters too (U-labels).
fn check_domain(domain: &str, utf8: bool) -> Result<(), String> {
    if domain.is_empty() {
        return Err("the domain is empty".into());
    }
    if domain.len() > MAX_DOMAIN {
        return Err(format!("the domain is longer than {MAX_DOMAIN} octets"));
    }
    for label in domain.split('.') {
        let letter_digit = |c: char| c.is_ascii_alphanumeric() || (utf8 && !c.is_ascii());
        let ok = label.len() <= 63
            && label.chars().next().is_some_and(letter_digit)
            && label.chars().last().is_some_and(letter_digit)
            && label.chars().all(|c| letter_digit(c) || c == '-');
        if !ok {
            return Err(format!("{domain:?} is not a valid domain"));
        }
    }
    Ok(())
}

/// `[192.0.2.1]`, `[IPv6:2001:db8::1]` or `[tag:content]` (RFC 5321 §4.1.3).
fn check_address_literal(literal: &str) -> Result<(), String> {
    let bad = || Err(format!("{literal:?} is not a valid address literal"));
    let Some(inner) = literal.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
        return bad();
    };
    if inner.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let Some((tag, content)) = inner.split_once(':') else {
        return bad();
    };
    if tag.eq_ignore_ascii_case("IPv6") {
        return match content.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => bad(),
        };
    }
    let tag_ok = tag
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && tag
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    // dcontent: printable ASCII but '[', '\' and ']'.
    let content_ok = !content.is_empty()
        && content
            .bytes()
            .all(|b| (33..=126).contains(&b) && !matches!(b, b'[' | b'\\' | b']'));
    if tag_ok && content_ok {
        Ok(())
    } else {
        bad()
    }
}

/// RFC 3461 NOTIFY: `NEVER`, or SUCCESS, FAILURE and DELAY (each at most once) separated by
/// commas, in any case.
pub fn check_notify(value: &str) -> Result<(), String> {
    if value.eq_ignore_ascii_case("NEVER") {
        return Ok(());
    }
    let mut seen: Vec<String> = Vec::new();
    for item in value.split(',') {
        let upper = item.to_ascii_uppercase();
        if !matches!(upper.as_str(), "SUCCESS" | "FAILURE" | "DELAY") || seen.contains(&upper) {
            return Err(format!(
                "NOTIFY must be NEVER or a comma list of SUCCESS, FAILURE and DELAY, not {value:?}"
            ));
        }
        seen.push(upper);
    }
    Ok(())
}

/// RFC 3461 RET: `FULL` or `HDRS`, in any case.
pub fn check_ret(value: &str) -> Result<(), String> {
    if value.eq_ignore_ascii_case("FULL") || value.eq_ignore_ascii_case("HDRS") {
        Ok(())
    } else {
        Err(format!("RET must be FULL or HDRS, not {value:?}"))
    }
}

/// RFC 3461 xtext: printable ASCII but `=` and spaces, `+` only as `+XX` with two upper-case
/// hex digits.
pub fn check_xtext(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if !(0x21..=0x7e).contains(&b) || b == b'=' {
            return Err(format!(
                "{value:?} must be printable ASCII without spaces or '=' (xtext)"
            ));
        }
        if b == b'+' {
            let hex = |k: usize| {
                bytes
                    .get(k)
                    .is_some_and(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h))
            };
            if !hex(i.saturating_add(1)) || !hex(i.saturating_add(2)) {
                return Err(format!(
                    "{value:?} has a '+' not followed by two upper-case hex digits (xtext)"
                ));
            }
            i = i.saturating_add(3);
        } else {
            i = i.saturating_add(1);
        }
    }
    Ok(())
}

/// RFC 3461 ENVID: xtext of 1 to 100 characters.
pub fn check_envid(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("ENVID is empty".to_string());
    }
    if value.len() > MAX_ENVID {
        return Err(format!("ENVID is longer than {MAX_ENVID} characters"));
    }
    check_xtext(value).map_err(|e| format!("ENVID {e}"))
}

/// RFC 3461 ORCPT: `addr-type;xtext` (RFC 6533's `utf-8` type may carry UTF-8 as it is),
/// at most 500 characters.
pub fn check_orcpt(value: &str) -> Result<(), String> {
    if value.len() > MAX_ORCPT {
        return Err(format!("ORCPT is longer than {MAX_ORCPT} characters"));
    }
    let (kind, addr) = value.split_once(';').ok_or_else(|| {
        format!("ORCPT must be TYPE;address (rfc822;user@example.org), not {value:?}")
    })?;
    let kind_ok = kind
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !kind_ok || addr.is_empty() {
        return Err(format!(
            "ORCPT must be TYPE;address (rfc822;user@example.org), not {value:?}"
        ));
    }
    if kind.eq_ignore_ascii_case("utf-8") {
        if addr.chars().any(|c| c.is_control() || c == ' ') {
            return Err(format!(
                "ORCPT {value:?} holds a space or a control character"
            ));
        }
        return Ok(());
    }
    check_xtext(addr).map_err(|e| format!("ORCPT {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_write_their_bytes() {
        let mut out = Vec::new();
        Command::Mail {
            from: "a@example.org".into(),
            params: vec![
                Param::new("SIZE", Some("1000")),
                Param::new("BODY", Some("8BITMIME")),
                Param::new("SMTPUTF8", None),
            ],
        }
        .write(&mut out);
        assert_eq!(
            out,
            b"MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME SMTPUTF8\r\n"
        );
        assert_eq!(
            Command::Rcpt {
                to: "b@example.org".into(),
                params: vec![Param::new("NOTIFY", Some("SUCCESS,FAILURE"))]
            }
            .line(),
            b"RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE"
        );
        assert_eq!(
            Command::Mail {
                from: String::new(),
                params: vec![]
            }
            .line(),
            b"MAIL FROM:<>"
        );
        assert_eq!(
            Command::Bdat {
                size: 12,
                last: true
            }
            .line(),
            b"BDAT 12 LAST"
        );
        assert_eq!(Command::Lhlo("c.test".into()).line(), b"LHLO c.test");
        assert_eq!(
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGEAYg==".into())
            }
            .line(),
            b"AUTH PLAIN AGEAYg=="
        );
        assert_eq!(Command::Help(String::new()).line(), b"HELP");
    }

    #[test]
    fn parse_reads_back_what_write_wrote() {
        let cmds = [
            Command::Ehlo("client.test".into()),
            Command::Helo("client.test".into()),
            Command::Lhlo("client.test".into()),
            Command::Mail {
                from: "a@x.test".into(),
                params: vec![Param::new("SIZE", Some("10"))],
            },
            Command::Mail {
                from: String::new(),
                params: vec![],
            },
            Command::Rcpt {
                to: "b@x.test".into(),
                params: vec![Param::new("ORCPT", Some("rfc822;b@x.test"))],
            },
            Command::Data,
            Command::Bdat {
                size: 0,
                last: true,
            },
            Command::Bdat {
                size: 99,
                last: false,
            },
            Command::Rset,
            Command::Noop,
            Command::Quit,
            Command::StartTls,
            Command::Auth {
                mechanism: "LOGIN".into(),
                initial: None,
            },
            Command::Vrfy("postmaster".into()),
            Command::Other {
                verb: "XCLIENT".into(),
                rest: b"ADDR=192.0.2.1".to_vec(),
            },
        ];
        for c in cmds {
            assert_eq!(Command::parse(&c.line()).unwrap(), c, "{c:?}");
        }
    }

    #[test]
    fn parse_is_lenient_where_servers_are() {
        assert_eq!(
            Command::parse(b"mail from: <a@b>").unwrap(),
            Command::Mail {
                from: "a@b".into(),
                params: vec![]
            }
        );
        assert_eq!(Command::parse(b"  quit").unwrap(), Command::Quit);
        assert_eq!(Command::parse(b"noop anything").unwrap(), Command::Noop);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(Command::parse(b""), Err(ParseError::Empty));
        assert_eq!(Command::parse(b"   "), Err(ParseError::Empty));
        for bad in [
            &b"MAIL a@b"[..],
            b"MAIL FROM:a@b",
            b"MAIL FROM:<a@b",
            b"MAIL FROM:<a@b>SIZE=1",
            b"RCPT FROM:<a@b>",
            b"EHLO",
            b"EHLO a b",
            b"DATA x",
            b"BDAT",
            b"BDAT x",
            b"BDAT 5 NOW",
            b"BDAT 99999999999999999999",
            b"AUTH",
            b"AUTH PLAIN a b",
        ] {
            assert!(
                Command::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn parse_checks_parameter_syntax() {
        assert_eq!(
            Command::parse(b"MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME SMTPUTF8").unwrap(),
            Command::Mail {
                from: "a@b".into(),
                params: vec![
                    Param::new("SIZE", Some("10")),
                    Param::new("BODY", Some("8BITMIME")),
                    Param::new("SMTPUTF8", None),
                ]
            }
        );
        assert_eq!(
            Command::parse(b"RCPT TO:<a@b> ORCPT=rfc822;a+2Bb@c").unwrap(),
            Command::Rcpt {
                to: "a@b".into(),
                params: vec![Param::new("ORCPT", Some("rfc822;a+2Bb@c"))]
            }
        );
        for bad in [
            &b"MAIL FROM:<a@b> SIZE="[..],
            b"MAIL FROM:<a@b> =10",
            b"MAIL FROM:<a@b> -X",
            b"MAIL FROM:<a@b> X_Y=1",
            b"RCPT TO:<a@b> NOTIFY=\x01",
            b"EHLO a\tb",
        ] {
            assert!(
                Command::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn mailboxes_and_routes() {
        for good in [
            "user@example.org",
            "first.last+tag@sub.example.org",
            "\"john doe\"@example.org",
            "\"a\\\"b\"@x.test",
            "u@[192.0.2.1]",
            "u@[IPv6:2001:db8::1]",
            "u@[x-tag:abc]",
            "!#$%&'*+-/=?^_`{|}~@x",
            "u@a-b.c1",
        ] {
            assert_eq!(check_mailbox(good, false), Ok(()), "{good}");
        }
        for bad in [
            "",
            "user",
            "@example.org",
            "a..b@x",
            ".a@x",
            "a.@x",
            "a b@x",
            "a@",
            "a@-x.org",
            "a@x-.org",
            "a@x..org",
            "a@x_y.org",
            "a@[300.1.1.1]",
            "a@[IPv6:zz]",
            "a@[1.2.3.4",
            "\"open@x",
            "\"a\u{7}\"@x",
            "a,b@x",
            "a@b@c",
        ] {
            assert!(check_mailbox(bad, false).is_err(), "{bad:?}");
        }
        let long_local = format!("{}@x", "a".repeat(65));
        assert!(check_mailbox(&long_local, false).is_err());
        let long = format!("a@{}.org", "b.".repeat(130));
        assert!(check_mailbox(&long, false).is_err());
        // Non-ASCII only with SMTPUTF8.
        assert!(check_mailbox("jörg@bücher.example", false).is_err());
        assert_eq!(check_mailbox("jörg@bücher.example", true), Ok(()));
        assert_eq!(strip_route("@a.test,@b.test:u@c.test"), Ok("u@c.test"));
        assert_eq!(strip_route("u@c.test"), Ok("u@c.test"));
        assert!(strip_route("@a.test,b.test:u@c").is_err());
        assert!(strip_route("@a.test").is_err());
        assert!(strip_route("@-a:u@c").is_err());
    }

    #[test]
    fn dsn_parameters() {
        for good in ["NEVER", "never", "SUCCESS", "success,FAILURE,delay"] {
            assert_eq!(check_notify(good), Ok(()), "{good}");
        }
        for bad in ["", "NEVER,SUCCESS", "SUCCESS,SUCCESS", "ALWAYS", "SUCCESS,"] {
            assert!(check_notify(bad).is_err(), "{bad}");
        }
        assert_eq!(check_ret("full"), Ok(()));
        assert_eq!(check_ret("HDRS"), Ok(()));
        assert!(check_ret("BODY").is_err());
        assert_eq!(check_envid("QQ314159+2Bx"), Ok(()));
        for bad in ["a=b", "a+2b", "a+", "a b", "\u{e9}"] {
            assert!(check_envid(bad).is_err(), "{bad}");
        }
        assert!(check_envid(&"x".repeat(101)).is_err());
        assert_eq!(check_orcpt("rfc822;a+2Bb@x.test"), Ok(()));
        assert_eq!(check_orcpt("utf-8;jörg@x.test"), Ok(()));
        for bad in ["a@x", ";a@x", "rfc822;", "rfc822;a b", "rfc 822;a"] {
            assert!(check_orcpt(bad).is_err(), "{bad}");
        }
    }
}
