//! `:expect SPEC [/REGEX/flags]`: an assertion about the reply to the last command.
//!
//! SPEC forms:
//! - SMTP/LMTP reply codes: `250`, or a pattern with `x`/`X` for any digit: `2xx`, `25x`.
//! - SMTP/LMTP enhanced status codes (RFC 3463), matched against the reply's enhanced code:
//!   `5.1.1`, `5.1.x`, `5.x.x`.
//! - IMAP: `OK`, `NO`, `BAD`, `BYE`, `PREAUTH`, `+` (the tagged or continuation response).
//! - POP3: `+OK`, `-ERR`, `+`.
//! - Any protocol: `ok` (the server accepted: success or a request for more, like 354 or `+`)
//!   and `fail` (anything else).
//!
//! An optional `/REGEX/` (flags after the closing slash: `i` case-insensitive, `m` multi-line,
//! `s` dot matches newline) is searched in the text of every status line of the reply, joined
//! with `\n`. The SPEC may be left out when a regex is given.

use regex::{Regex, RegexBuilder};

use crate::proto::{Outcome, Protocol, Reply};

/// Longest regex pattern accepted, in bytes.
const MAX_PATTERN: usize = 4096;
/// Bound on the compiled program and on the lazy DFA's cache of a regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Longest server text quoted in a failure message, in characters.
const MAX_QUOTE: usize = 300;

/// A parsed `:expect`.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// One status, or a reply code followed by an enhanced status code.
    specs: Vec<Spec>,
    regex: Option<Pattern>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Spec {
    /// Three digits, `None` for a wildcard; `text` as written.
    Code {
        digits: [Option<u8>; 3],
        text: String,
    },
    /// Class, subject, detail; `None` for a wildcard.
    Enhanced {
        parts: [Option<u16>; 3],
        text: String,
    },
    Imap(ImapStatus),
    Pop3(Pop3Status),
    /// `ok` (true) or `fail` (false).
    Generic(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImapStatus {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
    Continue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pop3Status {
    Ok,
    Err,
    Continue,
}

/// A compiled `/REGEX/flags`, with its source as written.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub(crate) regex: Regex,
    pub(crate) source: String,
}

/// Parses the arguments of `:expect` for a session of `protocol`.
pub fn parse_expect(args: &str, protocol: Protocol) -> Result<Expectation, String> {
    let args = args.trim();
    if args.is_empty() {
        return Err("expected a status (e.g. 250, 2xx, OK, +OK, ok) or a /regex/".to_string());
    }
    let (spec_part, rest) = match args.find('/') {
        Some(i) => (args.get(..i).unwrap_or(""), args.get(i..).unwrap_or("")),
        None => (args, ""),
    };
    let mut words = spec_part.split_whitespace();
    let mut specs = Vec::new();
    if let Some(first) = words.next() {
        specs.push(parse_spec(first, protocol)?);
        let rest_words: Vec<&str> = words.collect();
        match rest_words.as_slice() {
            [] => {}
            [enhanced]
                if enhanced.contains('.') && matches!(specs.first(), Some(Spec::Code { .. })) =>
            {
                specs.push(parse_spec(enhanced, protocol)?);
            }
            more => {
                return Err(format!(
                    "unexpected {:?} after {first}: a regex is written /REGEX/ or /REGEX/i",
                    more.join(" ")
                ))
            }
        }
    }
    let regex = if rest.is_empty() {
        None
    } else {
        Some(parse_regex(rest)?)
    };
    Ok(Expectation { specs, regex })
}

fn parse_spec(text: &str, protocol: Protocol) -> Result<Spec, String> {
    let smtp = matches!(protocol, Protocol::Smtp | Protocol::Lmtp);
    let wrong = |kind: &str, hint: &str| {
        Err(format!(
            "{text} is {kind}, but this is {} session; {hint}",
            protocol.a_name()
        ))
    };
    let hint = match protocol {
        Protocol::Smtp | Protocol::Lmtp => "expect a reply code such as 250 or 2xx, or ok/fail",
        Protocol::Imap => "expect OK, NO, BAD, BYE, PREAUTH or +, or ok/fail",
        Protocol::Pop3 => "expect +OK, -ERR or +, or ok/fail",
    };
    match text {
        "ok" => return Ok(Spec::Generic(true)),
        "fail" | "FAIL" => return Ok(Spec::Generic(false)),
        _ => {}
    }
    let upper = text.to_ascii_uppercase();
    let imap = match upper.as_str() {
        "OK" => Some(ImapStatus::Ok),
        "NO" => Some(ImapStatus::No),
        "BAD" => Some(ImapStatus::Bad),
        "BYE" => Some(ImapStatus::Bye),
        "PREAUTH" => Some(ImapStatus::Preauth),
        _ => None,
    };
    if let Some(status) = imap {
        return match protocol {
            Protocol::Imap => Ok(Spec::Imap(status)),
            _ => wrong("an IMAP status", hint),
        };
    }
    let pop3 = match upper.as_str() {
        "+OK" => Some(Pop3Status::Ok),
        "-ERR" => Some(Pop3Status::Err),
        _ => None,
    };
    if let Some(status) = pop3 {
        return match protocol {
            Protocol::Pop3 => Ok(Spec::Pop3(status)),
            _ => wrong("a POP3 status", hint),
        };
    }
    if text == "+" {
        return match protocol {
            Protocol::Imap => Ok(Spec::Imap(ImapStatus::Continue)),
            Protocol::Pop3 => Ok(Spec::Pop3(Pop3Status::Continue)),
            _ => wrong("a continuation", "expect 354 or 334 for SMTP continuations"),
        };
    }
    if text.contains('.') {
        let parts = parse_enhanced(text)?;
        return if smtp {
            Ok(Spec::Enhanced {
                parts,
                text: text.to_string(),
            })
        } else {
            wrong("an enhanced status code", hint)
        };
    }
    if text.len() == 3
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c == 'x' || c == 'X')
    {
        let digits = parse_code(text)?;
        return if smtp {
            Ok(Spec::Code {
                digits,
                text: text.to_string(),
            })
        } else {
            wrong("a reply code", hint)
        };
    }
    Err(format!("unknown status {text:?}: {hint}"))
}

/// `250`, `2xx`, `x5x`: three digits or wildcards, the first (when given) 2 to 5.
fn parse_code(text: &str) -> Result<[Option<u8>; 3], String> {
    let mut digits = [None; 3];
    for (slot, c) in digits.iter_mut().zip(text.chars()) {
        *slot = c.to_digit(10).and_then(|d| u8::try_from(d).ok());
    }
    if let Some(Some(first)) = digits.first() {
        if !(2..=5).contains(first) {
            return Err(format!(
                "invalid reply code {text}: reply codes start with 2, 3, 4 or 5"
            ));
        }
    }
    Ok(digits)
}

/// `5.1.1`, `5.1.x`, `x.x.x`: class 2, 4 or 5; subject and detail of 1 to 3 digits.
fn parse_enhanced(text: &str) -> Result<[Option<u16>; 3], String> {
    let invalid = || {
        format!(
            "invalid enhanced status code {text}: write CLASS.SUBJECT.DETAIL such as 5.1.1, \
             with x for any part (5.1.x, 5.x.x)"
        )
    };
    let mut parts = [None; 3];
    let mut pieces = text.split('.');
    for (i, slot) in parts.iter_mut().enumerate() {
        let piece = pieces.next().ok_or_else(invalid)?;
        if piece.eq_ignore_ascii_case("x") {
            continue;
        }
        let max_len = if i == 0 { 1 } else { 3 };
        if piece.is_empty() || piece.len() > max_len || !piece.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let n: u16 = piece.parse().map_err(|_| invalid())?;
        if i == 0 && !matches!(n, 2 | 4 | 5) {
            return Err(format!(
                "invalid enhanced status code {text}: the class is 2, 4 or 5"
            ));
        }
        *slot = Some(n);
    }
    if pieces.next().is_some() {
        return Err(invalid());
    }
    Ok(parts)
}

/// Parses `/REGEX/flags` (the last `/` closes the pattern; flags `i`, `m`, `s`).
pub(crate) fn parse_regex(text: &str) -> Result<Pattern, String> {
    let text = text.trim();
    let body = text
        .strip_prefix('/')
        .ok_or_else(|| format!("a regex is written /REGEX/, not {text:?}"))?;
    let (pattern, flags) = body
        .rsplit_once('/')
        .ok_or_else(|| format!("unterminated regex {text:?}: close it with /"))?;
    if pattern.is_empty() {
        return Err("empty regex //".to_string());
    }
    if pattern.len() > MAX_PATTERN {
        return Err(format!("regex longer than {MAX_PATTERN} bytes"));
    }
    let mut builder = RegexBuilder::new(pattern);
    builder
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT);
    for flag in flags.chars() {
        match flag {
            'i' => builder.case_insensitive(true),
            'm' => builder.multi_line(true),
            's' => builder.dot_matches_new_line(true),
            other => {
                return Err(format!(
                    "unknown regex flag {other:?} in {text:?} (flags: i, m, s)"
                ))
            }
        };
    }
    let regex = builder
        .build()
        .map_err(|e| format!("invalid regex /{pattern}/: {}", one_line(&e.to_string())))?;
    Ok(Pattern {
        regex,
        source: text.to_string(),
    })
}

/// An error message folded onto one line (regex errors span several, with a caret diagram).
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.last() {
        Some(last) if lines.len() > 1 => last.trim_start_matches("error: ").to_string(),
        _ => text.trim().to_string(),
    }
}

impl Expectation {
    /// Checks a reply (`None`: no reply came). `Err` describes what came instead.
    pub fn check(&self, protocol: Protocol, reply: Option<&Reply>) -> Result<(), String> {
        let Some(reply) = reply else {
            return Err("no reply".to_string());
        };
        for spec in &self.specs {
            if !spec_matches(spec, protocol, reply) {
                let mut actual = quote(&reply.last_text());
                if matches!(spec, Spec::Enhanced { .. }) && reply.enhanced.is_none() {
                    actual.push_str(" (no enhanced status code)");
                }
                return Err(actual);
            }
        }
        if let Some(pattern) = &self.regex {
            let text = reply_text(reply);
            if !pattern.regex.is_match(&text) {
                return Err(format!(
                    "{} (no match for {})",
                    quote(&text.replace('\n', " | ")),
                    pattern.source
                ));
            }
        }
        Ok(())
    }

    /// What was expected, as written: `250`, `2xx /queued/i`, `/^\+OK/`.
    pub fn describe(&self) -> String {
        let spec: Vec<String> = self
            .specs
            .iter()
            .map(|s| match s {
                Spec::Code { text, .. } | Spec::Enhanced { text, .. } => text.clone(),
                Spec::Imap(s) => match s {
                    ImapStatus::Ok => "OK",
                    ImapStatus::No => "NO",
                    ImapStatus::Bad => "BAD",
                    ImapStatus::Bye => "BYE",
                    ImapStatus::Preauth => "PREAUTH",
                    ImapStatus::Continue => "+",
                }
                .to_string(),
                Spec::Pop3(s) => match s {
                    Pop3Status::Ok => "+OK",
                    Pop3Status::Err => "-ERR",
                    Pop3Status::Continue => "+",
                }
                .to_string(),
                Spec::Generic(true) => "ok".to_string(),
                Spec::Generic(false) => "fail".to_string(),
            })
            .collect();
        let mut out = spec.join(" ");
        if let Some(p) = &self.regex {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&p.source);
        }
        out
    }
}

/// Every status line of a reply, lossily decoded, joined with `\n`.
pub(crate) fn reply_text(reply: &Reply) -> String {
    reply
        .lines
        .iter()
        .map(|l| String::from_utf8_lossy(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Server text made safe to print and cut to a reasonable length; `(empty reply)` for none.
pub(crate) fn quote(text: &str) -> String {
    let shown = clip(text);
    if shown.is_empty() {
        return "(empty reply)".to_string();
    }
    shown
}

/// Text cut to a reasonable length (made visible where it is shown).
pub(crate) fn clip(text: &str) -> String {
    crate::excerpt::excerpt(text.as_bytes(), MAX_QUOTE)
}

fn spec_matches(spec: &Spec, protocol: Protocol, reply: &Reply) -> bool {
    match spec {
        Spec::Generic(want_ok) => {
            let ok = matches!(reply.outcome, Outcome::Ok | Outcome::Continue);
            ok == *want_ok
        }
        Spec::Code { digits, .. } => {
            if !matches!(protocol, Protocol::Smtp | Protocol::Lmtp) {
                return false;
            }
            let Some(code) = reply.code else {
                return false;
            };
            let actual = [code.class, code.subject, code.detail];
            digits
                .iter()
                .zip(actual)
                .all(|(want, got)| want.is_none_or(|w| w == got))
        }
        Spec::Enhanced { parts, .. } => {
            let Some(e) = reply.enhanced else {
                return false;
            };
            let actual = [u16::from(e.class), e.subject, e.detail];
            parts
                .iter()
                .zip(actual)
                .all(|(want, got)| want.is_none_or(|w| w == got))
        }
        Spec::Imap(status) => {
            if protocol != Protocol::Imap {
                return false;
            }
            match status {
                ImapStatus::Ok => reply.outcome == Outcome::Ok && !is_preauth(reply),
                ImapStatus::Preauth => reply.outcome == Outcome::Ok && is_preauth(reply),
                ImapStatus::No => reply.outcome == Outcome::No,
                ImapStatus::Bad => reply.outcome == Outcome::Bad,
                ImapStatus::Bye => reply.outcome == Outcome::Bye,
                ImapStatus::Continue => reply.outcome == Outcome::Continue,
            }
        }
        Spec::Pop3(status) => {
            if protocol != Protocol::Pop3 {
                return false;
            }
            match status {
                Pop3Status::Ok => reply.outcome == Outcome::Ok,
                Pop3Status::Err => reply.outcome == Outcome::PermFail,
                Pop3Status::Continue => reply.outcome == Outcome::Continue,
            }
        }
    }
}

/// The status word of an IMAP response line (`A1 OK …` → `OK`), upper-cased.
pub(crate) fn imap_status_word(reply: &Reply) -> Option<String> {
    let line = reply.lines.last()?;
    let mut words = line.split(|b| *b == b' ').filter(|w| !w.is_empty());
    words.next()?;
    let word = words.next()?;
    Some(String::from_utf8_lossy(word).to_ascii_uppercase())
}

fn is_preauth(reply: &Reply) -> bool {
    imap_status_word(reply).as_deref() == Some("PREAUTH")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(code: u16, enhanced: Option<&str>, lines: &[&str]) -> Reply {
        let outcome = match code / 100 {
            2 => Outcome::Ok,
            3 => Outcome::Continue,
            4 => Outcome::TempFail,
            5 => Outcome::PermFail,
            _ => Outcome::Unknown,
        };
        Reply {
            outcome,
            code: crate::proto::smtp::Code::new(code),
            enhanced: enhanced.and_then(crate::proto::smtp::EnhancedCode::parse),
            tag: None,
            lines: lines.iter().map(|l| l.as_bytes().to_vec()).collect(),
            parts: Vec::new(),
        }
    }

    fn imap(outcome: Outcome, tag: &str, line: &str) -> Reply {
        Reply {
            tag: Some(tag.to_string()),
            ..Reply::line(outcome, line.as_bytes().to_vec())
        }
    }

    fn pop3(outcome: Outcome, line: &str) -> Reply {
        Reply::line(outcome, line.as_bytes().to_vec())
    }

    fn check(args: &str, p: Protocol, r: &Reply) -> Result<(), String> {
        parse_expect(args, p).unwrap().check(p, Some(r))
    }

    #[test]
    fn smtp_codes_and_wildcards() {
        let r = smtp(250, Some("2.1.0"), &["250 2.1.0 Ok"]);
        for spec in ["250", "2xx", "25x", "2X0", "xx0", "xxx", "ok"] {
            assert_eq!(check(spec, Protocol::Smtp, &r), Ok(()), "{spec}");
            assert_eq!(check(spec, Protocol::Lmtp, &r), Ok(()), "{spec}");
        }
        for spec in ["251", "5xx", "24x", "fail"] {
            assert_eq!(
                check(spec, Protocol::Smtp, &r),
                Err("250 2.1.0 Ok".to_string()),
                "{spec}"
            );
        }
        let data = smtp(354, None, &["354 End data with <CR><LF>.<CR><LF>"]);
        assert_eq!(check("354", Protocol::Smtp, &data), Ok(()));
        assert_eq!(check("3xx", Protocol::Smtp, &data), Ok(()));
        assert_eq!(check("ok", Protocol::Smtp, &data), Ok(()));
        let bad = smtp(550, Some("5.1.1"), &["550 5.1.1 <x@y>: User unknown"]);
        assert_eq!(check("fail", Protocol::Smtp, &bad), Ok(()));
        assert_eq!(check("5xx", Protocol::Smtp, &bad), Ok(()));
        assert_eq!(
            check("ok", Protocol::Smtp, &bad),
            Err("550 5.1.1 <x@y>: User unknown".to_string())
        );
        let temp = smtp(451, Some("4.7.1"), &["451 4.7.1 Try again later"]);
        assert_eq!(check("fail", Protocol::Smtp, &temp), Ok(()));
        assert_eq!(check("4xx", Protocol::Smtp, &temp), Ok(()));
    }

    #[test]
    fn enhanced_codes_and_wildcards() {
        let r = smtp(550, Some("5.1.1"), &["550 5.1.1 User unknown"]);
        for spec in ["5.1.1", "5.1.x", "5.x.x", "x.x.x", "5.X.1", "550 5.1.1"] {
            assert_eq!(check(spec, Protocol::Smtp, &r), Ok(()), "{spec}");
        }
        for spec in ["5.1.2", "4.x.x", "5.2.x", "2.1.1"] {
            assert_eq!(
                check(spec, Protocol::Smtp, &r),
                Err("550 5.1.1 User unknown".to_string()),
                "{spec}"
            );
        }
        let three_digits = smtp(550, Some("5.7.510"), &["550 5.7.510 Access denied"]);
        assert_eq!(check("5.7.510", Protocol::Smtp, &three_digits), Ok(()));
        assert_eq!(check("5.7.x", Protocol::Smtp, &three_digits), Ok(()));
        assert_eq!(check("550 5.1.x /unknown/", Protocol::Smtp, &r), Ok(()));
        assert_eq!(
            check("550 5.1.2", Protocol::Smtp, &r),
            Err("550 5.1.1 User unknown".to_string())
        );
        assert_eq!(
            check("551 5.1.1", Protocol::Smtp, &r),
            Err("550 5.1.1 User unknown".to_string())
        );
        let none = smtp(550, None, &["550 User unknown"]);
        assert_eq!(
            check("5.x.x", Protocol::Smtp, &none),
            Err("550 User unknown (no enhanced status code)".to_string())
        );
    }

    #[test]
    fn imap_statuses() {
        let ok = imap(Outcome::Ok, "A1", "A1 OK LOGIN completed");
        assert_eq!(check("OK", Protocol::Imap, &ok), Ok(()));
        assert_eq!(check("ok", Protocol::Imap, &ok), Ok(()));
        assert_eq!(
            check("PREAUTH", Protocol::Imap, &ok),
            Err("A1 OK LOGIN completed".to_string())
        );
        assert_eq!(
            check("NO", Protocol::Imap, &ok),
            Err("A1 OK LOGIN completed".to_string())
        );
        let pre = imap(Outcome::Ok, "*", "* PREAUTH [CAPABILITY IMAP4rev1] hi");
        assert_eq!(check("PREAUTH", Protocol::Imap, &pre), Ok(()));
        assert_eq!(check("preauth", Protocol::Imap, &pre), Ok(()));
        assert_eq!(check("ok", Protocol::Imap, &pre), Ok(()));
        assert_eq!(
            check("OK", Protocol::Imap, &pre),
            Err("* PREAUTH [CAPABILITY IMAP4rev1] hi".to_string())
        );
        let no = imap(Outcome::No, "A2", "A2 NO [AUTHENTICATIONFAILED] Invalid");
        assert_eq!(check("NO", Protocol::Imap, &no), Ok(()));
        assert_eq!(check("no", Protocol::Imap, &no), Ok(()));
        assert_eq!(check("fail", Protocol::Imap, &no), Ok(()));
        assert_eq!(
            check("ok", Protocol::Imap, &no),
            Err("A2 NO [AUTHENTICATIONFAILED] Invalid".to_string())
        );
        let bad = imap(Outcome::Bad, "A3", "A3 BAD Error in IMAP command");
        assert_eq!(check("BAD", Protocol::Imap, &bad), Ok(()));
        assert_eq!(check("fail", Protocol::Imap, &bad), Ok(()));
        let bye = imap(Outcome::Bye, "*", "* BYE shutting down");
        assert_eq!(check("BYE", Protocol::Imap, &bye), Ok(()));
        assert_eq!(check("fail", Protocol::Imap, &bye), Ok(()));
        let cont = imap(Outcome::Continue, "+", "+ Ready for literal data");
        assert_eq!(check("+", Protocol::Imap, &cont), Ok(()));
        assert_eq!(check("ok", Protocol::Imap, &cont), Ok(()));
        assert_eq!(
            check("OK", Protocol::Imap, &cont),
            Err("+ Ready for literal data".to_string())
        );
    }

    #[test]
    fn pop3_statuses() {
        let ok = pop3(Outcome::Ok, "+OK 2 messages");
        assert_eq!(check("+OK", Protocol::Pop3, &ok), Ok(()));
        assert_eq!(check("+ok", Protocol::Pop3, &ok), Ok(()));
        assert_eq!(check("ok", Protocol::Pop3, &ok), Ok(()));
        assert_eq!(
            check("-ERR", Protocol::Pop3, &ok),
            Err("+OK 2 messages".to_string())
        );
        let err = pop3(Outcome::PermFail, "-ERR [AUTH] invalid password");
        assert_eq!(check("-ERR", Protocol::Pop3, &err), Ok(()));
        assert_eq!(check("fail", Protocol::Pop3, &err), Ok(()));
        assert_eq!(
            check("+OK", Protocol::Pop3, &err),
            Err("-ERR [AUTH] invalid password".to_string())
        );
        let cont = pop3(Outcome::Continue, "+ ");
        assert_eq!(check("+", Protocol::Pop3, &cont), Ok(()));
        assert_eq!(
            check("+", Protocol::Pop3, &ok),
            Err("+OK 2 messages".into())
        );
    }

    #[test]
    fn regex_with_and_without_spec() {
        let r = smtp(
            250,
            None,
            &["250-mx.example.com", "250-PIPELINING", "250 STARTTLS"],
        );
        assert_eq!(check("250 /STARTTLS/", Protocol::Smtp, &r), Ok(()));
        assert_eq!(check("/PIPELINING/", Protocol::Smtp, &r), Ok(()));
        assert_eq!(check("2xx /^250-PIPE.*$/m", Protocol::Smtp, &r), Ok(()));
        assert_eq!(check("/example.com\n250-PIPE/", Protocol::Smtp, &r), Ok(()));
        assert_eq!(check("/mx.*STARTTLS/s", Protocol::Smtp, &r), Ok(()));
        assert_eq!(
            check("/mx.*STARTTLS/", Protocol::Smtp, &r),
            Err(
                "250-mx.example.com | 250-PIPELINING | 250 STARTTLS (no match for /mx.*STARTTLS/)"
                    .to_string()
            )
        );
        assert_eq!(
            check("250 /starttls/", Protocol::Smtp, &r),
            Err(
                "250-mx.example.com | 250-PIPELINING | 250 STARTTLS (no match for /starttls/)"
                    .to_string()
            )
        );
        assert_eq!(check("250 /starttls/i", Protocol::Smtp, &r), Ok(()));
        // The spec is checked first; its failure is what is reported.
        assert_eq!(
            check("550 /STARTTLS/", Protocol::Smtp, &r),
            Err("250 STARTTLS".to_string())
        );
        // A slash inside the pattern: the last slash closes it.
        let p = imap(Outcome::Ok, "A1", "A1 OK [READ-WRITE] INBOX/Sub selected");
        assert_eq!(check("OK /INBOX/Sub/", Protocol::Imap, &p), Ok(()));
        assert_eq!(check("/ok \\[read-write\\]/i", Protocol::Imap, &p), Ok(()));
    }

    #[test]
    fn failure_messages_are_safe_and_bounded() {
        let evil = Reply {
            code: crate::proto::smtp::Code::new(554),
            ..Reply::line(Outcome::PermFail, b"554 \x1b[2Jgone \xff".to_vec())
        };
        assert_eq!(
            check("250", Protocol::Smtp, &evil),
            Err("554 \x1b[2Jgone \u{fffd}".to_string())
        );
        let long = smtp(550, None, &[&format!("550 {}", "a".repeat(1000))]);
        let err = check("250", Protocol::Smtp, &long).unwrap_err();
        assert_eq!(err, format!("550 {}…", "a".repeat(296)));
        let empty = pop3(Outcome::Unknown, "");
        assert_eq!(
            check("+OK", Protocol::Pop3, &empty),
            Err("(empty reply)".to_string())
        );
        let e = parse_expect("250", Protocol::Smtp).unwrap();
        assert_eq!(e.check(Protocol::Smtp, None), Err("no reply".to_string()));
    }

    #[test]
    fn describe_as_written() {
        let d = |a: &str, p| parse_expect(a, p).unwrap().describe();
        assert_eq!(d("250", Protocol::Smtp), "250");
        assert_eq!(
            d("  2Xx   /Ok queued/i ", Protocol::Smtp),
            "2Xx /Ok queued/i"
        );
        assert_eq!(d("5.1.x", Protocol::Lmtp), "5.1.x");
        assert_eq!(
            d("550   5.1.1 /unknown/", Protocol::Smtp),
            "550 5.1.1 /unknown/"
        );
        assert_eq!(d("/^\\+OK/", Protocol::Pop3), "/^\\+OK/");
        assert_eq!(d("no", Protocol::Imap), "NO");
        assert_eq!(d("+", Protocol::Imap), "+");
        assert_eq!(d("-err", Protocol::Pop3), "-ERR");
        assert_eq!(d("ok", Protocol::Pop3), "ok");
        assert_eq!(d("FAIL", Protocol::Imap), "fail");
    }

    #[test]
    fn parse_errors() {
        let e = |a: &str, p| parse_expect(a, p).unwrap_err();
        assert_eq!(
            e("", Protocol::Smtp),
            "expected a status (e.g. 250, 2xx, OK, +OK, ok) or a /regex/"
        );
        assert_eq!(
            e("OK", Protocol::Smtp),
            "OK is an IMAP status, but this is an SMTP session; expect a reply code such as 250 \
             or 2xx, or ok/fail"
        );
        assert_eq!(
            e("+OK", Protocol::Imap),
            "+OK is a POP3 status, but this is an IMAP session; expect OK, NO, BAD, BYE, \
             PREAUTH or +, or ok/fail"
        );
        assert_eq!(
            e("250", Protocol::Pop3),
            "250 is a reply code, but this is a POP3 session; expect +OK, -ERR or +, or ok/fail"
        );
        assert_eq!(
            e("5.1.1", Protocol::Imap),
            "5.1.1 is an enhanced status code, but this is an IMAP session; expect OK, NO, BAD, \
             BYE, PREAUTH or +, or ok/fail"
        );
        assert_eq!(
            e("+", Protocol::Smtp),
            "+ is a continuation, but this is an SMTP session; expect 354 or 334 for SMTP \
             continuations"
        );
        assert_eq!(
            e("OK", Protocol::Pop3),
            "OK is an IMAP status, but this is a POP3 session; expect +OK, -ERR or +, or ok/fail"
        );
        assert_eq!(
            e("2x", Protocol::Smtp),
            "unknown status \"2x\": expect a reply code such as 250 or 2xx, or ok/fail"
        );
        assert_eq!(
            e("2500", Protocol::Smtp),
            "unknown status \"2500\": expect a reply code such as 250 or 2xx, or ok/fail"
        );
        assert_eq!(
            e("650", Protocol::Smtp),
            "invalid reply code 650: reply codes start with 2, 3, 4 or 5"
        );
        let bad_enhanced = "invalid enhanced status code {}: write CLASS.SUBJECT.DETAIL such \
                            as 5.1.1, with x for any part (5.1.x, 5.x.x)";
        for spec in ["5.1", "5.1.1.1", "5..1", "55.1.1", "5.1.1234", "5.a.1"] {
            assert_eq!(
                e(spec, Protocol::Smtp),
                bad_enhanced.replace("{}", spec),
                "{spec}"
            );
        }
        assert_eq!(
            e("3.1.1", Protocol::Smtp),
            "invalid enhanced status code 3.1.1: the class is 2, 4 or 5"
        );
        assert_eq!(
            e("250 Ok", Protocol::Smtp),
            "unexpected \"Ok\" after 250: a regex is written /REGEX/ or /REGEX/i"
        );
        assert_eq!(
            e("/abc", Protocol::Smtp),
            "unterminated regex \"/abc\": close it with /"
        );
        assert_eq!(e("250 //", Protocol::Smtp), "empty regex //");
        assert_eq!(
            e("5.1.1 550", Protocol::Smtp),
            "unexpected \"550\" after 5.1.1: a regex is written /REGEX/ or /REGEX/i"
        );
        assert_eq!(
            e("250 2xx /x/", Protocol::Smtp),
            "unexpected \"2xx\" after 250: a regex is written /REGEX/ or /REGEX/i"
        );
        assert_eq!(
            e("250 5.1.1 5.1.1", Protocol::Smtp),
            "unexpected \"5.1.1 5.1.1\" after 250: a regex is written /REGEX/ or /REGEX/i"
        );
        assert_eq!(
            e("250 5.1", Protocol::Smtp),
            bad_enhanced.replace("{}", "5.1")
        );
        assert_eq!(
            e("/abc/x", Protocol::Smtp),
            "unknown regex flag 'x' in \"/abc/x\" (flags: i, m, s)"
        );
        assert_eq!(
            e("/abc/ i", Protocol::Smtp),
            "unknown regex flag ' ' in \"/abc/ i\" (flags: i, m, s)"
        );
        assert_eq!(
            e("/a(b/", Protocol::Smtp),
            "invalid regex /a(b/: unclosed group"
        );
        assert_eq!(
            e(&format!("/{}/", "a".repeat(5000)), Protocol::Smtp),
            "regex longer than 4096 bytes"
        );
    }

    #[test]
    fn huge_regex_programs_are_refused() {
        let err = parse_expect("/(\\w{1000}){1000}/", Protocol::Smtp).unwrap_err();
        assert!(
            err.starts_with("invalid regex /(\\w{1000}){1000}/: ") && err.contains("size limit"),
            "{err}"
        );
    }
}
