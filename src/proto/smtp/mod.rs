//! SMTP and LMTP: reply lines and enhanced codes ([`reply`]), commands ([`command`]), the
//! client machine ([`client`]) and the server machine ([`server`]).

pub mod client;
pub mod command;
pub mod reply;
pub mod server;

pub use client::{Mode, Smtp, MAX_REPLY_BYTES, MAX_REPLY_LINES};
pub use command::{Command, Param, ParseError};
pub use reply::{write_reply, Code, EnhancedCode, ReplyLine};

use super::sasl::Mechanism;
use super::{Credential, LineInfo};

/// What a typed SMTP/LMTP command line means (see [`super::classify`]).
pub fn classify(line: &[u8]) -> LineInfo {
    let (verb, args) = command::split_verb(line);
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    let mut info = LineInfo {
        ends_session: verb == "QUIT",
        starttls: verb == "STARTTLS",
        args: args.to_vec(),
        ..LineInfo::default()
    };
    if verb == "AUTH" {
        let (mech, rest) = command::split_verb(args);
        if !mech.is_empty() {
            info.credentials = Some(Credential::Sasl(Mechanism::parse(
                &String::from_utf8_lossy(mech),
            )));
        }
        if !mech.is_empty() && !rest.is_empty() {
            // The initial response, to the end of the line.
            info.secret = Some(line.len().saturating_sub(rest.len())..line.len());
        }
    }
    info.verb = verb;
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_typed_lines() {
        let i = classify(b"AUTH PLAIN AGFAYg==");
        assert_eq!(i.verb, "AUTH");
        assert_eq!(
            i.credentials,
            Some(Credential::Sasl(Some(Mechanism::Plain)))
        );
        assert_eq!(i.secret, Some(11..19));
        let i = classify(b"auth login");
        assert_eq!(
            i.credentials,
            Some(Credential::Sasl(Some(Mechanism::Login)))
        );
        assert_eq!(i.secret, None);
        let i = classify(b"AUTH X-FOO secret");
        assert_eq!(i.credentials, Some(Credential::Sasl(None)));
        assert_eq!(i.secret, Some(11..17));
        assert!(classify(b"quit").ends_session);
        assert!(classify(b"STARTTLS").starttls);
        let i = classify(b"  MAIL FROM:<a@b> SIZE=10");
        assert_eq!(i.verb, "MAIL");
        assert_eq!(i.args, b"FROM:<a@b> SIZE=10");
        assert_eq!(classify(b"").verb, "");
    }
}
