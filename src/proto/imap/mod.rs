//! IMAP4: the syntax every module shares ([`syntax`]), the client machine ([`client`]) and
//! the server machine ([`server`]).

pub mod client;
pub mod server;
pub mod syntax;

pub use client::{Imap, MAX_PIECE, MAX_RESPONSE};
pub use syntax::{CommandLine, Literal, MAX_LITERAL};

use std::ops::Range;

use super::sasl::Mechanism;
use super::{Credential, LineInfo};
use syntax::{astring_end, only_literal, skip_spaces, split_word};

/// What a typed IMAP command line means (see [`super::classify`]).
pub fn classify(line: &[u8]) -> LineInfo {
    let c = CommandLine::parse(line);
    let verb = c.verb_upper();
    let mut info = LineInfo {
        tag: c.tag.map(|t| String::from_utf8_lossy(t).into_owned()),
        ends_session: verb == "LOGOUT",
        starttls: verb == "STARTTLS",
        args: c.args.to_vec(),
        ..LineInfo::default()
    };
    let args_start = line.len().saturating_sub(c.args.len());
    match verb.as_str() {
        "LOGIN" => {
            info.credentials = Some(Credential::ImapLogin);
            info.secret = login_secret(c.args).map(|r| shift(r, args_start));
        }
        "AUTHENTICATE" => {
            let (mech, response) = split_word(c.args);
            if !mech.is_empty() {
                info.credentials = Some(Credential::Sasl(Mechanism::parse(
                    &String::from_utf8_lossy(mech),
                )));
            }
            if !response.is_empty() {
                info.secret = Some(line.len().saturating_sub(response.len())..line.len());
            }
        }
        _ => {}
    }
    info.verb = verb;
    info
}

fn shift(r: Range<usize>, by: usize) -> Range<usize> {
    r.start.saturating_add(by)..r.end.saturating_add(by)
}

/// The password of `LOGIN user password` (relative to the arguments); none when it comes in a
/// literal of its own (then the literal's lines are the secret).
fn login_secret(args: &[u8]) -> Option<Range<usize>> {
    if args.is_empty() {
        return None;
    }
    match astring_end(args) {
        Some(end) => {
            let after = args.get(end..).unwrap_or(&[]);
            if only_literal(after) {
                return None;
            }
            let start = args.len().saturating_sub(skip_spaces(after).len());
            Some(start..args.len())
        }
        // A user name that does not parse: everything may be the password.
        None => Some(0..args.len()),
    }
}

/// The secret in the rest of a LOGIN / AUTHENTICATE line after a literal: everything, unless
/// it only announces the next literal.
pub fn secret_in_rest(line: &[u8]) -> Option<Range<usize>> {
    (!only_literal(line)).then_some(0..line.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_typed_lines() {
        let i = classify(b"a1 LOGIN alice secret");
        assert_eq!(i.tag.as_deref(), Some("a1"));
        assert_eq!(i.verb, "LOGIN");
        assert_eq!(i.credentials, Some(Credential::ImapLogin));
        assert_eq!(i.secret, Some(15..21));
        let i = classify(b"LOGIN \"a b\" \"pa ss\"");
        assert_eq!(i.secret, Some(12..19));
        assert_eq!(classify(b"LOGIN alice {6}").secret, None);
        assert_eq!(classify(b"LOGIN {5}").secret, None);
        let i = classify(b"AUTHENTICATE PLAIN AGEAYg==");
        assert_eq!(
            i.credentials,
            Some(Credential::Sasl(Some(Mechanism::Plain)))
        );
        assert_eq!(i.secret, Some(19..27));
        assert_eq!(classify(b"AUTHENTICATE PLAIN").secret, None);
        assert!(classify(b"A9 logout").ends_session);
        assert!(!classify(b"NOOP").ends_session);
        assert!(classify(b"STARTTLS").starttls);
        assert_eq!(secret_in_rest(b" {6}"), None);
        assert_eq!(secret_in_rest(b" pass"), Some(0..5));
    }
}
