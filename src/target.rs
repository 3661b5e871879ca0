//! The TARGET argument: `SCHEME://HOST[:PORT]`, or `HOST[:PORT]` with `--protocol`.
//!
//! Parsed here rather than with the `url` crate: a target has no path, query, user info or
//! percent-encoding, the schemes are ours (with their default ports and TLS modes), and a
//! general URL parser would accept and silently drop what a mail target must refuse.

use crate::proto::Protocol;

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP; STARTTLS only when the user asks (`:starttls`).
    Plain,
    /// TLS from the first byte (smtps, imaps, pop3s).
    Implicit,
    /// STARTTLS right after the greeting, required: any failure ends the session.
    StartTls,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub protocol: Protocol,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error(
        "unknown scheme {0:?} (expected smtp, submission, smtps, lmtp, imap, imaps, pop3 or pop3s)"
    )]
    UnknownScheme(String),
    #[error("no host in {0:?}")]
    NoHost(String),
    #[error("invalid port in {0:?}")]
    BadPort(String),
    #[error("{0:?} has no scheme: write e.g. smtp://{0} or give --protocol")]
    NoProtocol(String),
    #[error("a path, user or query is not supported in {0:?}")]
    Extra(String),
}

/// Scheme name, protocol, default port, transport.
pub const SCHEMES: &[(&str, Protocol, u16, TlsMode)] = &[
    ("smtp", Protocol::Smtp, 25, TlsMode::Plain),
    ("submission", Protocol::Smtp, 587, TlsMode::StartTls),
    ("smtps", Protocol::Smtp, 465, TlsMode::Implicit),
    ("lmtp", Protocol::Lmtp, 24, TlsMode::Plain),
    ("imap", Protocol::Imap, 143, TlsMode::Plain),
    ("imaps", Protocol::Imap, 993, TlsMode::Implicit),
    ("pop3", Protocol::Pop3, 110, TlsMode::Plain),
    ("pop3s", Protocol::Pop3, 995, TlsMode::Implicit),
];

/// `host` as written in a target: an IPv6 address in brackets.
pub fn host_text(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// How to write a target for `protocol` over plaintext or implicit TLS: `SCHEME://HOST:PORT`
/// from [`SCHEMES`], or with `--protocol … --tls` where no scheme exists (LMTP over TLS).
pub fn target_text(protocol: Protocol, implicit_tls: bool, host: &str, port: u16) -> String {
    let host = host_text(host);
    let wanted = |t: TlsMode| {
        if implicit_tls {
            t == TlsMode::Implicit
        } else {
            t == TlsMode::Plain
        }
    };
    match SCHEMES
        .iter()
        .find(|(_, p, _, t)| *p == protocol && wanted(*t))
    {
        Some((scheme, ..)) => format!("{scheme}://{host}:{port}"),
        None => format!("--protocol {protocol} --tls {host}:{port}"),
    }
}

/// The default port of a protocol over a transport (for `HOST` with `--protocol`).
pub fn default_port(protocol: Protocol, implicit_tls: bool) -> u16 {
    SCHEMES
        .iter()
        .find(|(_, p, _, t)| *p == protocol && (*t == TlsMode::Implicit) == implicit_tls)
        .map(|(_, _, port, _)| *port)
        .unwrap_or(25)
}

/// A unix-socket target: `SCHEME+unix:/path` (`smtp+unix:/run/mail.sock`,
/// `lmtp+unix:/var/spool/postfix/private/dovecot-lmtp`, `imaps+unix:…`), or `unix:/path` with
/// `--protocol`. The scheme (if any) and the path; `None` when `input` is not one.
pub fn split_unix(input: &str) -> Option<(Option<&str>, &str)> {
    let (head, path) = input.split_once(':')?;
    if path.is_empty() || path.starts_with("//") {
        return None;
    }
    if head.eq_ignore_ascii_case("unix") {
        return Some((None, path));
    }
    let (scheme, unix) = head.split_once('+')?;
    unix.eq_ignore_ascii_case("unix")
        .then_some((Some(scheme), path))
}

/// Parses a TARGET. `protocol` and `implicit_tls` come from `--protocol` / `--tls` and are used
/// when the target has no scheme.
pub fn parse(
    input: &str,
    protocol: Option<Protocol>,
    implicit_tls: bool,
) -> Result<Target, TargetError> {
    let (scheme, rest) = match input.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, input),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('@') || rest.contains('?') {
        return Err(TargetError::Extra(input.to_string()));
    }
    let (proto, default, tls) = match &scheme {
        Some(s) => {
            let (_, p, port, t) = SCHEMES
                .iter()
                .find(|(name, ..)| name == s)
                .ok_or_else(|| TargetError::UnknownScheme(s.clone()))?;
            (*p, *port, *t)
        }
        None => {
            let p = protocol.ok_or_else(|| TargetError::NoProtocol(input.to_string()))?;
            let t = if implicit_tls {
                TlsMode::Implicit
            } else {
                TlsMode::Plain
            };
            (p, default_port(p, implicit_tls), t)
        }
    };
    let (host, port) = split_host_port(rest, input)?;
    if host.is_empty() {
        return Err(TargetError::NoHost(input.to_string()));
    }
    Ok(Target {
        protocol: proto,
        host,
        port: port.unwrap_or(default),
        tls,
    })
}

/// A port from 1 to 65535.
fn port_number(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

fn split_host_port(s: &str, input: &str) -> Result<(String, Option<u16>), TargetError> {
    let bad = || TargetError::BadPort(input.to_string());
    if let Some(after) = s.strip_prefix('[') {
        let (host, tail) = after.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(port_number(p).ok_or_else(bad)?),
            None if tail.is_empty() => None,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    // A bare IPv6 literal (several colons) has no port.
    if s.matches(':').count() > 1 {
        return Ok((s.to_string(), None));
    }
    match s.split_once(':') {
        Some((h, p)) => Ok((h.to_string(), Some(port_number(p).ok_or_else(bad)?))),
        None => Ok((s.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_targets_split() {
        assert_eq!(
            split_unix("smtp+unix:/run/s.sock"),
            Some((Some("smtp"), "/run/s.sock"))
        );
        assert_eq!(
            split_unix("LMTP+UNIX:rel/sock"),
            Some((Some("LMTP"), "rel/sock"))
        );
        assert_eq!(split_unix("unix:/x"), Some((None, "/x")));
        assert_eq!(split_unix("smtp://h:25"), None);
        assert_eq!(split_unix("h:25"), None);
        assert_eq!(split_unix("unix:"), None);
    }

    #[test]
    fn targets_written_back() {
        assert_eq!(
            target_text(Protocol::Smtp, true, "mx.test", 465),
            "smtps://mx.test:465"
        );
        assert_eq!(
            target_text(Protocol::Imap, false, "::1", 143),
            "imap://[::1]:143"
        );
        assert_eq!(target_text(Protocol::Pop3, true, "h", 995), "pop3s://h:995");
        // LMTP has no implicit-TLS scheme.
        assert_eq!(
            target_text(Protocol::Lmtp, true, "h", 24),
            "--protocol lmtp --tls h:24"
        );
        assert_eq!(target_text(Protocol::Lmtp, false, "h", 24), "lmtp://h:24");
    }

    #[test]
    fn schemes_and_default_ports() {
        let t = parse("smtp://mx.example.com", None, false).unwrap();
        assert_eq!(
            (t.protocol, t.port, t.tls),
            (Protocol::Smtp, 25, TlsMode::Plain)
        );
        let t = parse("submission://mx.example.com", None, false).unwrap();
        assert_eq!((t.port, t.tls), (587, TlsMode::StartTls));
        let t = parse("SMTPS://h:2465", None, false).unwrap();
        assert_eq!((t.port, t.tls), (2465, TlsMode::Implicit));
        let t = parse("imaps://h", None, false).unwrap();
        assert_eq!((t.protocol, t.port), (Protocol::Imap, 993));
        let t = parse("pop3s://h/", None, false).unwrap();
        assert_eq!((t.protocol, t.port), (Protocol::Pop3, 995));
        let t = parse("lmtp://h", None, false).unwrap();
        assert_eq!((t.protocol, t.port), (Protocol::Lmtp, 24));
    }

    #[test]
    fn ipv6_and_bare_hosts() {
        let t = parse("smtp://[::1]:2525", None, false).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 2525));
        let t = parse("imap://[::1]", None, false).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 143));
        let t = parse("127.0.0.1:1100", Some(Protocol::Pop3), false).unwrap();
        assert_eq!(
            (t.protocol, t.port, t.tls),
            (Protocol::Pop3, 1100, TlsMode::Plain)
        );
        let t = parse("localhost", Some(Protocol::Imap), true).unwrap();
        assert_eq!((t.port, t.tls), (993, TlsMode::Implicit));
        let t = parse("::1", Some(Protocol::Smtp), false).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 25));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse("http://x", None, false),
            Err(TargetError::UnknownScheme(_))
        ));
        assert!(matches!(
            parse("x:25", None, false),
            Err(TargetError::NoProtocol(_))
        ));
        assert!(matches!(
            parse("smtp://x:99999", None, false),
            Err(TargetError::BadPort(_))
        ));
        for zero in ["smtp://x:0", "smtp://[::1]:0", "smtp://127.0.0.1:0"] {
            assert!(
                matches!(parse(zero, None, false), Err(TargetError::BadPort(_))),
                "{zero}"
            );
        }
        assert!(matches!(
            parse("smtp://:25", None, false),
            Err(TargetError::NoHost(_))
        ));
        assert!(matches!(
            parse("imap://u@h", None, false),
            Err(TargetError::Extra(_))
        ));
        assert!(matches!(
            parse("smtp://[::1", None, false),
            Err(TargetError::BadPort(_))
        ));
    }
}
