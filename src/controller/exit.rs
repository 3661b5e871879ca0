//! Exit statuses (documented in the README and the man page), the status each error stands
//! for, and the hint shown with an error, chosen by the kind of error.

use crate::engine::session::Options;
use crate::engine::SessionError;
use crate::net::{CertProblem, NetError, Step, TlsProblem};
use crate::proto::{ProtoError, Protocol};
use crate::target::{self, TlsMode};

pub const OK: i32 = 0;
pub const EXPECTATION: i32 = 1;
pub const USAGE: i32 = 2;
pub const CONNECT: i32 = 3;
pub const TLS: i32 = 4;
pub const TIMEOUT: i32 = 5;
pub const PROTOCOL: i32 = 6;
pub const CLOSED: i32 = 7;
pub const REJECTED: i32 = 8;
pub const AUTH_FAILED: i32 = 9;
pub const ABANDONED: i32 = 10;

/// Every status with what it means, for the README, the man page and `--help`.
pub const STATUSES: &[(i32, &str)] = &[
    (
        OK,
        "the session ran (replies, even 5xx or NO, are data, not errors); a script's \
         expectations all held; a one-shot message was accepted for every recipient",
    ),
    (
        EXPECTATION,
        "a script expectation or capture failed; `mailtalk explain` met an unknown code",
    ),
    (
        USAGE,
        "usage error (bad option or target, a script with a syntax error, a typed line with \
         CR, LF or NUL)",
    ),
    (
        CONNECT,
        "connection failed or lost, or the server refused the session in its greeting",
    ),
    (
        TLS,
        "TLS failure: handshake, certificate, host name, STARTTLS not offered, refused, \
         answered with anything but the go-ahead, or attacked; IMAP PREAUTH when STARTTLS is \
         required",
    ),
    (
        TIMEOUT,
        "timeout (resolving, connecting, handshake or a reply)",
    ),
    (
        PROTOCOL,
        "protocol violation: a line over 64 KiB, a reply too long, a reply cut off by the end \
         of the connection, an invalid IMAP literal, a greeting of another protocol",
    ),
    (
        CLOSED,
        "the server closed the connection before the input ended",
    ),
    (
        REJECTED,
        "send: the server rejected the message, or refused at least one recipient (the \
         summary names each); with --count, for any copy",
    ),
    (AUTH_FAILED, "authentication failed"),
    (
        ABANDONED,
        "the input ended (Ctrl-D) in the middle of a message, literal or chunk, which was \
         abandoned: nothing was delivered",
    ),
];

/// The exit status an error stands for.
pub fn code(err: &SessionError) -> i32 {
    match err {
        SessionError::Net(NetError::Timeout(_)) => TIMEOUT,
        SessionError::Net(NetError::Certificate(_)) | SessionError::Net(NetError::Tls(_)) => TLS,
        SessionError::Net(_) => CONNECT,
        SessionError::Proto(_) => PROTOCOL,
        SessionError::StartTls(_) => TLS,
        SessionError::Refused(_) => CONNECT,
        SessionError::Command(_) | SessionError::Message(_) => USAGE,
        SessionError::Closed(_) | SessionError::NotConnected => CLOSED,
        SessionError::Cancelled(_) => CLOSED,
    }
}

/// The implicit-TLS scheme of a protocol.
/// Whether `port` is the implicit-TLS port of a protocol (465, 993, 995).
pub fn implicit_tls_port(port: u16) -> Option<Protocol> {
    target::SCHEMES
        .iter()
        .find(|(_, _, p, t)| *p == port && *t == TlsMode::Implicit)
        .map(|(_, proto, _, _)| *proto)
}

/// A warning before connecting in plaintext to a port that usually speaks TLS from the first
/// byte: the server would wait for a handshake, in silence.
pub fn plaintext_on_tls_port(opts: &Options) -> Option<String> {
    let t = &opts.target;
    if t.tls == TlsMode::Implicit {
        return None;
    }
    let tls_proto = implicit_tls_port(t.port)?;
    Some(format!(
        "port {} is the implicit-TLS port of {}: if no greeting comes, the server is waiting \
         for a TLS handshake; try {}",
        t.port,
        tls_proto.name().to_ascii_uppercase(),
        target::target_text(t.protocol, true, &t.host, t.port)
    ))
}

/// What to do about an error, when there is an obvious next step.
pub fn hint(err: &SessionError, opts: &Options) -> Option<String> {
    let t = &opts.target;
    match err {
        SessionError::Net(NetError::Certificate(c)) => Some(match c.problem {
            CertProblem::NameMismatch | CertProblem::IpMismatch => {
                let ip_target = t.host.parse::<std::net::IpAddr>().is_ok();
                match (ip_target, c.names.first()) {
                    (true, Some(name)) => format!(
                        "you connected by IP address; to check the certificate against its \
                         name use --sni {name} (or connect to {})",
                        target::target_text(t.protocol, t.tls == TlsMode::Implicit, name, t.port)
                    ),
                    (_, Some(name)) => format!(
                        "the certificate is for {name}: connect to that name, or use --sni \
                         {name}; to look at the certificate anyway use --insecure"
                    ),
                    (_, None) => "to look at the certificate anyway use --insecure".to_string(),
                }
            }
            CertProblem::Untrusted => "to trust a private CA use --ca-file PEM; to look at the \
                                       certificate anyway use --insecure"
                .to_string(),
            CertProblem::Expired | CertProblem::NotYetValid => {
                "check the server's certificate dates (and this machine's clock); to look at \
                 the certificate anyway use --insecure"
                    .to_string()
            }
            CertProblem::Other => "to look at the certificate anyway use --insecure".to_string(),
        }),
        SessionError::Net(NetError::Timeout(Step::Greeting { silent: false })) => {
            Some("the greeting did not arrive whole in time; --timeout SECS allows longer".into())
        }
        SessionError::Net(NetError::Timeout(Step::Greeting { silent: true })) => {
            let tls = target::target_text(t.protocol, true, &t.host, t.port);
            if t.tls != TlsMode::Implicit && implicit_tls_port(t.port).is_some() {
                Some(format!(
                    "no greeting: port {} speaks TLS from the first byte; use {tls}",
                    t.port
                ))
            } else if t.tls != TlsMode::Implicit {
                Some(format!(
                    "no greeting: a port that expects TLS from the first byte is silent like \
                     this, so try {tls}; a slow server needs a longer --timeout SECS"
                ))
            } else {
                Some("the server sent no greeting in time; --timeout SECS allows longer".into())
            }
        }
        SessionError::Net(NetError::Timeout(Step::Resolve(_))) => Some(
            "the name server did not answer in time; check the name, or --timeout SECS \
             allows longer"
                .to_string(),
        ),
        SessionError::Net(NetError::Timeout(_)) => {
            Some("the server did not answer in time; --timeout SECS allows longer".to_string())
        }
        SessionError::Net(NetError::Tls(e)) if e.problem == TlsProblem::NotTls => Some(format!(
            "this port speaks plaintext: use {} (with --starttls to upgrade)",
            target::target_text(t.protocol, false, &t.host, t.port)
        )),
        SessionError::Proto(ProtoError::NotAGreeting {
            other: Some(other), ..
        }) => Some(format!(
            "to talk to it: mailtalk {}",
            target::target_text(*other, t.tls == TlsMode::Implicit, &t.host, t.port)
        )),
        SessionError::Refused(_) => Some(
            "the server does not take a session from here now; the reply says why (and \
             mailtalk explain explains it)"
                .to_string(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{CertError, Family, TlsOptions};
    use crate::target::Target;
    use std::time::Duration;

    fn opts(protocol: Protocol, host: &str, port: u16, tls: TlsMode) -> Options {
        Options {
            target: Target {
                protocol,
                host: host.into(),
                port,
                tls,
            },
            tls: TlsOptions::default(),
            timeout: Duration::from_secs(5),
            family: Family::Any,
            ehlo: "c.test".into(),
            timing: false,
            allow_plaintext_auth: false,
            route: crate::net::Route::default(),
        }
    }

    #[test]
    fn ip_target_name_mismatch_suggests_sni() {
        let err = SessionError::Net(NetError::Certificate(CertError {
            problem: CertProblem::IpMismatch,
            checked: "192.0.2.1".into(),
            names: vec!["mail.example.com".into()],
            text: "IP address mismatch".into(),
        }));
        let h = hint(
            &err,
            &opts(Protocol::Smtp, "192.0.2.1", 465, TlsMode::Implicit),
        )
        .unwrap();
        assert!(h.contains("--sni mail.example.com"), "{h}");
        assert!(!h.contains("--ca-file"), "{h}");
        assert_eq!(code(&err), TLS);
    }

    #[test]
    fn silence_on_a_tls_port_suggests_the_tls_scheme() {
        let o = opts(Protocol::Smtp, "mx.example.com", 465, TlsMode::Plain);
        let w = plaintext_on_tls_port(&o).unwrap();
        assert!(w.contains("smtps://mx.example.com:465"), "{w}");
        let err = SessionError::Net(NetError::Timeout(Step::Greeting { silent: true }));
        let h = hint(&err, &o).unwrap();
        assert!(h.contains("smtps://mx.example.com:465"), "{h}");
        assert_eq!(code(&err), TIMEOUT);
        // Any port: silence before the greeting is what a TLS port does.
        let o = opts(Protocol::Pop3, "mx.example.com", 2110, TlsMode::Plain);
        let h = hint(&err, &o).unwrap();
        assert!(h.contains("try pop3s://mx.example.com:2110"), "{h}");
        // A reply late in the session is not about TLS.
        let late = SessionError::Net(NetError::Timeout(Step::Reply));
        let h = hint(&late, &o).unwrap();
        assert!(!h.contains("pop3s://"), "{h}");
        assert!(plaintext_on_tls_port(&opts(Protocol::Smtp, "h", 25, TlsMode::Plain)).is_none());
        assert!(
            plaintext_on_tls_port(&opts(Protocol::Imap, "h", 993, TlsMode::Implicit)).is_none()
        );
        let o = opts(Protocol::Imap, "::1", 993, TlsMode::StartTls);
        assert!(plaintext_on_tls_port(&o)
            .unwrap()
            .contains("imaps://[::1]:993"));
    }

    #[test]
    fn another_protocols_greeting_names_its_scheme() {
        let err = SessionError::Proto(ProtoError::NotAGreeting {
            expected: Protocol::Smtp,
            other: Some(Protocol::Imap),
            shown: "* OK ready".into(),
        });
        let h = hint(&err, &opts(Protocol::Smtp, "h", 143, TlsMode::Plain)).unwrap();
        assert_eq!(h, "to talk to it: mailtalk imap://h:143");
    }

    #[test]
    fn every_status_is_documented_once() {
        let mut codes: Vec<i32> = STATUSES.iter().map(|(c, _)| *c).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes, (0..=10).collect::<Vec<_>>());
    }
}
