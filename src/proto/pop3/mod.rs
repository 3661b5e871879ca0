//! POP3: commands and status lines ([`syntax`]), the client machine ([`client`]) and the
//! server machine ([`server`]).

pub mod client;
pub mod server;
pub mod syntax;

pub use client::{Mode, Pop3};
pub use server::{Config as ServerConfig, Server};
pub use syntax::{response_code, Command, Indicator, StatusLine};

use super::sasl::Mechanism;
use super::{Credential, LineInfo};
use syntax::split_word;

/// What a typed POP3 command line means (see [`super::classify`]).
pub fn classify(line: &[u8]) -> LineInfo {
    let (verb, rest) = split_word(line);
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    let rest = rest.unwrap_or(&[]);
    let mut info = LineInfo {
        ends_session: verb == "QUIT",
        starttls: verb == "STLS",
        args: rest.to_vec(),
        ..LineInfo::default()
    };
    let rest_start = line.len().saturating_sub(rest.len());
    let second = |rest: &[u8]| {
        let (first, after) = split_word(rest);
        (
            first.to_vec(),
            after.map(|a| line.len().saturating_sub(a.len())),
        )
    };
    match verb.as_str() {
        "PASS" => {
            info.credentials = Some(Credential::Pop3Pass);
            if line.len() > verb.len() {
                info.secret = Some(rest_start..line.len());
            }
        }
        "APOP" => {
            info.credentials = Some(Credential::Apop);
            if let (_, Some(at)) = second(rest) {
                info.secret = Some(at..line.len());
            }
        }
        "AUTH" => {
            let (mech, at) = second(rest);
            if !mech.is_empty() {
                info.credentials = Some(Credential::Sasl(Mechanism::parse(
                    &String::from_utf8_lossy(&mech),
                )));
            }
            if let Some(at) = at {
                info.secret = Some(at..line.len());
            }
        }
        _ => {}
    }
    info.verb = verb;
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_typed_lines() {
        let i = classify(b"PASS secret word");
        assert_eq!(i.credentials, Some(Credential::Pop3Pass));
        assert_eq!(i.secret, Some(5..16));
        assert_eq!(classify(b"PASS").secret, None);
        assert_eq!(classify(b"PASS ").secret, Some(5..5));
        let i = classify(b"APOP alice c4c9334bac560ecc979e58001b3e22fb");
        assert_eq!(i.credentials, Some(Credential::Apop));
        assert_eq!(i.secret, Some(11..43));
        let i = classify(b"AUTH PLAIN AGEAYg==");
        assert_eq!(
            i.credentials,
            Some(Credential::Sasl(Some(Mechanism::Plain)))
        );
        assert_eq!(i.secret, Some(11..19));
        assert_eq!(classify(b"AUTH").credentials, None);
        assert!(classify(b"quit").ends_session);
        assert!(classify(b"STLS").starttls);
        assert_eq!(classify(b"USER alice").secret, None);
    }
}
