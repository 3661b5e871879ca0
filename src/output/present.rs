//! How each event looks: the transcript's lines, as [`Line`]s of styled spans. Every string
//! that came from the server goes through the renderer's escaping on the way; the spans' roles
//! decide the colours later (ANSI on a terminal, plain in files).

use crate::engine::event::{DeliveryReport, Event, EventKind, ExpectReport, Security};
use crate::net::{CertSummary, TlsInfo};
use crate::proto::{Ending, LineKind, ServerLine};
use crate::render::{hexdump, lexer, millis, Line, Role, Theme};

/// The prefix of a protocol line: who sent it (`C` client, `S` server) and how it travelled
/// (`:` plaintext, `#` TLS with a verified certificate, `!` TLS without verification).
pub fn prefix(security: Security, sent: bool) -> &'static str {
    match (security, sent) {
        (Security::Plain, true) => "C: ",
        (Security::Plain, false) => "S: ",
        (Security::TlsVerified, true) => "C# ",
        (Security::TlsVerified, false) => "S# ",
        (Security::TlsUnverified, true) => "C! ",
        (Security::TlsUnverified, false) => "S! ",
    }
}

/// The prefix of bytes sent in raw mode: `~` instead of `:`, `#` or `!`, the security
/// told by the word after it.
pub fn raw_prefix(security: Security) -> &'static str {
    match security {
        Security::Plain => "C~ [raw] ",
        Security::TlsVerified => "C~ [raw tls] ",
        Security::TlsUnverified => "C~ [raw tls-unverified] ",
    }
}

/// The hex dump lines of what went over the wire in `ev`, for `--hex`: a line received with
/// its ending, a line sent with the CRLF the protocol added (a secret as `<redacted>`), raw
/// bytes exactly. Other events have none.
pub fn hex_lines(ev: &Event) -> Vec<Line> {
    match &ev.kind {
        EventKind::Sent { display, .. } => {
            let mut wire = display.clone();
            wire.extend_from_slice(b"\r\n");
            hexdump::hex_lines("   C> ", &wire)
        }
        EventKind::SentRaw(bytes) => hexdump::hex_lines("   C> ", bytes),
        EventKind::Received(sl) => {
            let mut wire = sl.bytes.clone();
            wire.extend_from_slice(sl.ending.bytes());
            hexdump::hex_lines("   S> ", &wire)
        }
        _ => Vec::new(),
    }
}

/// The role of a line prefix.
pub fn prefix_role(security: Security) -> Role {
    match security {
        Security::Plain => Role::PrefixPlain,
        Security::TlsVerified => Role::PrefixTls,
        Security::TlsUnverified => Role::PrefixInsecure,
    }
}

/// What the line prefixes and markers mean, for `:help`.
pub const LEGEND: &str = "\
C: S:   sent by mailtalk / received from the server, in plaintext
C# S#   over TLS, server certificate verified
C! S!   over TLS WITHOUT certificate verification (--insecure)
C~      sent in raw mode (:raw on): exactly these bytes, line ends shown as \\r \\n
**      information from mailtalk;  !! warnings and errors
\\x1b \\r \\u{202e}   bytes made visible (highlighted); a trailing \\n marks a bare LF";

/// The display lines for one event. A [`EventKind::Reply`] has none (its lines were shown as
/// they arrived).
pub fn event_lines(ev: &Event) -> Vec<Line> {
    match &ev.kind {
        EventKind::Sent {
            display, content, ..
        } => {
            let mut line = Line::message(prefix_role(ev.security), prefix(ev.security, true), "");
            line.extend(if *content {
                lexer::server_line(ev.protocol, LineKind::Data, display)
            } else {
                lexer::client_line_bytes(ev.protocol, display)
            });
            vec![line]
        }
        EventKind::SentRaw(bytes) => {
            let mut line = Line::message(Role::Warning, raw_prefix(ev.security), "");
            line.extend(hexdump::raw_spans(Role::Plain, bytes));
            vec![line]
        }
        EventKind::Received(sl) => vec![received_line(ev, sl)],
        EventKind::Data(block) => block
            .lines()
            .map(|(line, ending)| data_line(ev.security, line, ending))
            .collect(),
        EventKind::Reply(_) | EventKind::Progress(_) | EventKind::Waiting => Vec::new(),
        EventKind::Challenge(bytes) => {
            let mut line = Line::message(Role::Info, "** challenge: ", "");
            if bytes.is_empty() {
                line.push(Role::Info, "(empty)");
            } else {
                line.extend(lexer::server_line(ev.protocol, LineKind::Data, bytes));
            }
            vec![line]
        }
        EventKind::Info(text) => vec![Line::message(Role::Info, "** ", text)],
        EventKind::Warning(text) => vec![Line::message(Role::Warning, "!! warning: ", text)],
        EventKind::Error { message, hint } => {
            let mut lines = vec![Line::message(Role::Error, "!! error: ", message)];
            if let Some(hint) = hint {
                lines.push(Line::message(Role::Info, "** ", hint));
            }
            lines
        }
        EventKind::Failure(text) => vec![Line::message(Role::Error, "!! ", text)],
        EventKind::Expect(r) => vec![expect_line(r)],
        EventKind::Delivery(d) => vec![delivery_line(d)],
        EventKind::Closed => vec![Line::message(Role::Info, "** ", "connection closed")],
        EventKind::Timing {
            what,
            first_byte,
            total,
        } => {
            let text = match first_byte {
                Some(fb) => format!(
                    "{what}: first byte {}, complete {}",
                    millis(*fb),
                    millis(*total)
                ),
                None => format!("{what}: {}", millis(*total)),
            };
            vec![Line::message(Role::Dim, "** time ", &text)]
        }
        EventKind::TlsUp(info) => tls_lines(info),
        EventKind::Capabilities {
            caps,
            added,
            removed,
            after_tls,
        } => {
            if !*after_tls {
                let list = if caps.is_empty() {
                    "(none)".to_string()
                } else {
                    caps.items.join(", ")
                };
                return vec![Line::message(Role::Info, "** capabilities: ", &list)];
            }
            // After STARTTLS the new list was just shown on the wire: say only what changed.
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(", ")));
            }
            let diff = if parts.is_empty() {
                "no change".to_string()
            } else {
                parts.join("; ")
            };
            vec![Line::message(Role::Info, "** after TLS: ", &diff)]
        }
    }
}

/// The text of an `:expect` result.
pub fn expect_text(r: &ExpectReport) -> String {
    if r.ok {
        format!("expect {}: ok", r.expected)
    } else {
        format!(
            "expectation failed{}: expected {}, got {}",
            r.location
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default(),
            r.expected,
            r.actual
        )
    }
}

fn expect_line(r: &ExpectReport) -> Line {
    if r.ok {
        Line::message(Role::Info, "** ", &expect_text(r))
    } else {
        Line::message(Role::Error, "!! ", &expect_text(r))
    }
}

/// The send macro's summary: who got the message, who was refused and why.
pub fn delivery_text(d: &DeliveryReport) -> String {
    let mut text = d.outcome.clone();
    if !d.delivered.is_empty() && !d.nothing_delivered {
        let n = d.delivered.len();
        text.push_str(&format!(
            " for {n} recipient{} ({})",
            if n == 1 { "" } else { "s" },
            d.delivered.join(", ")
        ));
    }
    if !d.refused.is_empty() {
        let list: Vec<String> = d
            .refused
            .iter()
            .map(|(to, why)| format!("<{to}>: {why}"))
            .collect();
        text.push_str(&format!("; refused: {}", list.join("; ")));
    }
    text
}

fn delivery_line(d: &DeliveryReport) -> Line {
    let role = if d.refused.is_empty() && !d.nothing_delivered {
        Role::Info
    } else {
        Role::Warning
    };
    let lead = if role == Role::Info { "** " } else { "!! " };
    Line::message(role, lead, &delivery_text(d))
}

/// One line of content received (literal, body), as [`received_line`] shows a
/// [`LineKind::Data`] line.
pub fn data_line(security: Security, bytes: &[u8], ending: Ending) -> Line {
    let mut line = Line::message(prefix_role(security), prefix(security, false), "");
    line.extend(lexer::server_line(
        crate::proto::Protocol::Imap,
        LineKind::Data,
        bytes,
    ));
    if ending == Ending::Lf {
        line.push(Role::Escape, "\\n");
    }
    line
}

/// The prefix of content lines received over `security`, painted: what
/// [`crate::render::bulk::paint_data`] puts before each line.
pub fn data_lead(theme: &Theme, security: Security) -> String {
    theme.paint_one(prefix_role(security), prefix(security, false))
}

fn received_line(ev: &Event, sl: &ServerLine) -> Line {
    let mut line = Line::message(prefix_role(ev.security), prefix(ev.security, false), "");
    line.extend(lexer::server_line(ev.protocol, sl.kind, &sl.bytes));
    match (sl.ending, sl.kind) {
        (Ending::Lf, _) => line.push(Role::Escape, "\\n"),
        (Ending::None, LineKind::Status) => line.push(Role::Dim, " [no line ending]"),
        _ => {}
    }
    line
}

fn tls_lines(info: &TlsInfo) -> Vec<Line> {
    let mut lines = Vec::new();
    if info.verified {
        let text = format!(
            "{}, {}; certificate verified for {}",
            info.version, info.cipher, info.verify_name
        );
        lines.push(Line::message(Role::Info, "** TLS established: ", &text));
    } else {
        let text = format!(
            "TLS established WITHOUT certificate verification (--insecure): {}, {}; {}",
            info.version,
            info.cipher,
            match info.verify_error.as_deref() {
                Some(reason) => format!("verification would have failed: {reason}"),
                None => format!(
                    "the certificate would have passed verification for {}",
                    info.verify_name
                ),
            }
        );
        lines.push(Line::message(Role::Warning, "!! warning: ", &text));
    }
    if let Some(leaf) = info.chain.first() {
        lines.push(Line::message(Role::Info, "**   ", &leaf_text(leaf)));
    }
    lines
}

fn leaf_text(c: &CertSummary) -> String {
    let mut text = format!(
        "subject {}, issuer {}, expires {}",
        c.subject, c.issuer, c.not_after
    );
    match c.days_left {
        Some(1) => text.push_str(" (1 day)"),
        Some(n) if n >= 0 => text.push_str(&format!(" ({n} days)")),
        Some(-1) => text.push_str(" (EXPIRED 1 day ago)"),
        Some(n) => text.push_str(&format!(" (EXPIRED {} days ago)", n.unsigned_abs())),
        None => {}
    }
    text
}

/// Whether `name` matches a certificate name (`*.example.com` covers one label).
fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => name
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == name,
    }
}

/// The details `:tls` and `--show-cert` show: parameters, verification, each certificate.
pub fn tls_details(info: &TlsInfo) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("protocol {}, cipher {}", info.version, info.cipher));
    if let Some(alpn) = &info.alpn {
        out.push(format!("ALPN: {alpn}"));
    }
    out.push(format!(
        "SNI sent: {}",
        info.sni.as_deref().unwrap_or("none (IP address)")
    ));
    if info.verified {
        out.push(format!(
            "certificate verified (chain and host name {})",
            info.verify_name
        ));
    } else {
        out.push(format!(
            "certificate NOT verified (--insecure){}",
            match &info.verify_error {
                Some(e) => format!(": {e}"),
                None => format!("; it would have passed for {}", info.verify_name),
            }
        ));
    }
    for (i, c) in info.chain.iter().enumerate() {
        out.push(format!(
            "certificate {i}{}:",
            if i == 0 { " (server)" } else { "" }
        ));
        out.push(format!("  subject  {}", c.subject));
        out.push(format!("  issuer   {}", c.issuer));
        if !c.sans.is_empty() {
            out.push(format!("  SANs     {}", c.sans.join(", ")));
        }
        let days = match c.days_left {
            Some(d) if d < 0 => format!(" (EXPIRED {} days ago)", d.unsigned_abs()),
            Some(d) => format!(" ({d} days left)"),
            None => String::new(),
        };
        out.push(format!(
            "  valid    {} to {}{days}",
            c.not_before, c.not_after
        ));
        out.push(format!("  key      {}", c.key));
        out.push(format!("  SHA-256  {}", c.sha256));
        if i == 0 {
            let name = &info.verify_name;
            let matched = c.sans.iter().any(|san| {
                san.strip_prefix("DNS:")
                    .is_some_and(|p| name_matches(p, name))
                    || san.strip_prefix("IP:").is_some_and(|ip| ip == name)
            });
            out.push(format!(
                "  host     {name} {} a SAN",
                if matched { "matches" } else { "does NOT match" }
            ));
        }
    }
    out
}

#[cfg(test)]
mod name_tests {
    use super::name_matches;

    #[test]
    fn certificate_name_matching() {
        assert!(name_matches("mx.example.com", "MX.example.com"));
        assert!(name_matches("*.example.com", "mx.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("other.test", "localhost"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Capabilities, Protocol, Reply};
    use crate::render::{escape, Theme};
    use std::time::Duration;

    fn ev(protocol: Protocol, security: Security, kind: EventKind) -> Event {
        Event {
            at: Duration::from_millis(5),
            protocol,
            security,
            kind,
        }
    }

    fn recv(bytes: &[u8], kind: LineKind, ending: Ending) -> EventKind {
        EventKind::Received(ServerLine {
            bytes: bytes.to_vec(),
            kind,
            ending,
        })
    }

    /// The event's lines painted with `theme`.
    fn painted(e: &Event, theme: &Theme) -> Vec<String> {
        event_lines(e).iter().map(|l| theme.paint_line(l)).collect()
    }

    fn off(e: &Event) -> Vec<String> {
        painted(e, &Theme::new(false))
    }

    fn leaf() -> CertSummary {
        CertSummary {
            subject: "CN=mx.example.com".into(),
            issuer: "CN=Test CA".into(),
            sans: vec!["DNS:mx.example.com".into()],
            not_before: "Jan  1 00:00:00 2025 GMT".into(),
            not_after: "Jan  1 00:00:00 2026 GMT".into(),
            days_left: Some(42),
            key: "EC P-256".into(),
            sha256: "AA:BB".into(),
            der: Vec::new(),
        }
    }

    fn tls(verified: bool) -> TlsInfo {
        TlsInfo {
            alpn: None,
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
            sni: Some("mx.example.com".into()),
            verify_name: "mx.example.com".into(),
            verified,
            verify_error: (!verified).then(|| "self-signed certificate".to_string()),
            chain: vec![leaf()],
        }
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix(Security::Plain, true), "C: ");
        assert_eq!(prefix(Security::Plain, false), "S: ");
        assert_eq!(prefix(Security::TlsVerified, true), "C# ");
        assert_eq!(prefix(Security::TlsVerified, false), "S# ");
        assert_eq!(prefix(Security::TlsUnverified, true), "C! ");
        assert_eq!(prefix(Security::TlsUnverified, false), "S! ");
        for p in ["C: ", "C# ", "C! "] {
            assert!(LEGEND.contains(p.trim_end()), "{p}");
        }
    }

    #[test]
    fn sent_lines() {
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            EventKind::Sent {
                display: b"MAIL FROM:<a@b>".to_vec(),
                secret: false,
                content: false,
            },
        );
        assert_eq!(off(&e), vec!["C: MAIL FROM:<a@b>"]);
        let e = ev(
            Protocol::Imap,
            Security::TlsVerified,
            EventKind::Sent {
                display: b"a1 LOGIN bob <redacted>".to_vec(),
                secret: true,
                content: false,
            },
        );
        assert_eq!(off(&e), vec!["C# a1 LOGIN bob <redacted>"]);
        let e = ev(
            Protocol::Pop3,
            Security::TlsUnverified,
            EventKind::Sent {
                display: b"USER \x1b\xff".to_vec(),
                secret: false,
                content: false,
            },
        );
        assert_eq!(off(&e), vec!["C! USER \\x1b\\xff"]);
    }

    #[test]
    fn received_lines_and_endings() {
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            recv(b"250 2.0.0 Ok", LineKind::Status, Ending::CrLf),
        );
        assert_eq!(off(&e), vec!["S: 250 2.0.0 Ok"]);
        let e = ev(
            Protocol::Smtp,
            Security::TlsVerified,
            recv(b"250 ok", LineKind::Status, Ending::Lf),
        );
        assert_eq!(off(&e), vec!["S# 250 ok\\n"]);
        let e = ev(
            Protocol::Imap,
            Security::TlsUnverified,
            recv(b"* OK partial", LineKind::Status, Ending::None),
        );
        assert_eq!(off(&e), vec!["S! * OK partial [no line ending]"]);
        // A literal piece has no line ending and gets no marker.
        let e = ev(
            Protocol::Imap,
            Security::Plain,
            recv(b"Subject: hi", LineKind::Data, Ending::None),
        );
        assert_eq!(off(&e), vec!["S: Subject: hi"]);
        let e = ev(
            Protocol::Pop3,
            Security::Plain,
            recv(b"body\rline", LineKind::Data, Ending::Lf),
        );
        assert_eq!(off(&e), vec!["S: body\\rline\\n"]);
    }

    #[test]
    fn reply_has_no_lines() {
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            EventKind::Reply(Reply {
                code: crate::proto::smtp::Code::new(250),
                ..Reply::line(crate::proto::Outcome::Ok, b"250 ok".to_vec())
            }),
        );
        assert!(off(&e).is_empty());
        assert!(painted(&e, &Theme::new(true)).is_empty());
    }

    #[test]
    fn messages() {
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            EventKind::Info("connected to 127.0.0.1:25".into()),
        );
        assert_eq!(off(&e), vec!["** connected to 127.0.0.1:25"]);
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            EventKind::Warning("bare LF".into()),
        );
        assert_eq!(off(&e), vec!["!! warning: bare LF"]);
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            EventKind::Error {
                message: "timed out".into(),
                hint: Some("--timeout SECS allows longer".into()),
            },
        );
        assert_eq!(
            off(&e),
            vec!["!! error: timed out", "** --timeout SECS allows longer"]
        );
        let e = ev(Protocol::Smtp, Security::Plain, EventKind::Closed);
        assert_eq!(off(&e), vec!["** connection closed"]);
        // A message never spans lines.
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            EventKind::Warning("a\nS: 250 fake".into()),
        );
        assert_eq!(off(&e), vec!["!! warning: a\\nS: 250 fake"]);
    }

    #[test]
    fn tls_up() {
        let e = ev(
            Protocol::Smtp,
            Security::TlsVerified,
            EventKind::TlsUp(tls(true)),
        );
        assert_eq!(
            off(&e),
            vec![
                "** TLS established: TLSv1.3, TLS_AES_256_GCM_SHA384; certificate verified for mx.example.com",
                "**   subject CN=mx.example.com, issuer CN=Test CA, expires Jan  1 00:00:00 2026 GMT (42 days)",
            ]
        );
        let mut info = tls(false);
        info.chain[0].days_left = Some(-3);
        let e = ev(
            Protocol::Imap,
            Security::TlsUnverified,
            EventKind::TlsUp(info),
        );
        assert_eq!(
            off(&e),
            vec![
                "!! warning: TLS established WITHOUT certificate verification (--insecure): TLSv1.3, TLS_AES_256_GCM_SHA384; verification would have failed: self-signed certificate",
                "**   subject CN=mx.example.com, issuer CN=Test CA, expires Jan  1 00:00:00 2026 GMT (EXPIRED 3 days ago)",
            ]
        );
        let mut info = tls(false);
        info.verify_error = None;
        info.chain.clear();
        let e = ev(
            Protocol::Imap,
            Security::TlsUnverified,
            EventKind::TlsUp(info),
        );
        assert_eq!(
            off(&e),
            vec![
                "!! warning: TLS established WITHOUT certificate verification (--insecure): TLSv1.3, TLS_AES_256_GCM_SHA384; the certificate would have passed verification for mx.example.com"
            ]
        );
        let mut info = tls(true);
        info.chain[0].days_left = None;
        let e = ev(
            Protocol::Imap,
            Security::TlsVerified,
            EventKind::TlsUp(info),
        );
        assert_eq!(
            off(&e)[1],
            "**   subject CN=mx.example.com, issuer CN=Test CA, expires Jan  1 00:00:00 2026 GMT"
        );
    }

    fn caps_event(items: &[&str], added: &[&str], removed: &[&str], after_tls: bool) -> Event {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ev(
            Protocol::Smtp,
            Security::TlsVerified,
            EventKind::Capabilities {
                caps: Capabilities { items: s(items) },
                added: s(added),
                removed: s(removed),
                after_tls,
            },
        )
    }

    #[test]
    fn capabilities() {
        let e = caps_event(&["PIPELINING", "SIZE 1000", "STARTTLS"], &[], &[], false);
        assert_eq!(
            off(&e),
            vec!["** capabilities: PIPELINING, SIZE 1000, STARTTLS"]
        );
        let e = caps_event(
            &["PIPELINING", "AUTH PLAIN LOGIN", "SIZE 1000"],
            &["AUTH PLAIN LOGIN", "SIZE 1000"],
            &["STARTTLS"],
            true,
        );
        assert_eq!(
            off(&e),
            vec!["** after TLS: added AUTH PLAIN LOGIN, SIZE 1000; removed STARTTLS"]
        );
        let e = caps_event(&["PIPELINING"], &[], &[], true);
        assert_eq!(off(&e), vec!["** after TLS: no change"]);
        let e = caps_event(&["X"], &[], &["STARTTLS"], true);
        assert_eq!(off(&e)[0], "** after TLS: removed STARTTLS");
        let e = caps_event(&[], &[], &[], false);
        assert_eq!(off(&e), vec!["** capabilities: (none)"]);
    }

    const HOSTILE: &[u8] =
        b"550 5.7.1 \x1b]0;pwned\x07\x1b[2J\rfake\0\xc2\x9b31m\xff\xfe\x7f\xe2\x80\xae end\xe2";

    fn hostile_events() -> Vec<Event> {
        let text = String::from_utf8_lossy(HOSTILE).into_owned() + "\x1b[31m\r\n\u{9b}";
        let mut info = tls(false);
        info.verify_error = Some(text.clone());
        info.version = text.clone();
        info.chain[0].subject = text.clone();
        info.chain[0].issuer = text.clone();
        info.chain[0].not_after = text.clone();
        let mut verified = info.clone();
        verified.verified = true;
        verified.verify_name = text.clone();
        let mut events = Vec::new();
        for security in [
            Security::Plain,
            Security::TlsVerified,
            Security::TlsUnverified,
        ] {
            for protocol in [
                Protocol::Smtp,
                Protocol::Lmtp,
                Protocol::Imap,
                Protocol::Pop3,
            ] {
                for kind in [LineKind::Status, LineKind::Data] {
                    for ending in [Ending::CrLf, Ending::Lf, Ending::None] {
                        events.push(ev(protocol, security, recv(HOSTILE, kind, ending)));
                    }
                }
                for bytes in [
                    HOSTILE,
                    b"A1 OK [\x1b]\x07" as &[u8],
                    b"* \x9b{5}",
                    b"+OK\x1b",
                ] {
                    events.push(ev(
                        protocol,
                        security,
                        recv(bytes, LineKind::Status, Ending::CrLf),
                    ));
                }
                events.push(ev(
                    protocol,
                    security,
                    EventKind::Sent {
                        display: HOSTILE.to_vec(),
                        secret: false,
                        content: false,
                    },
                ));
            }
        }
        let p = Protocol::Imap;
        let s = Security::TlsUnverified;
        events.push(ev(p, s, EventKind::Info(text.clone())));
        events.push(ev(p, s, EventKind::Warning(text.clone())));
        events.push(ev(
            p,
            s,
            EventKind::Error {
                message: text.clone(),
                hint: Some(text.clone()),
            },
        ));
        events.push(ev(p, s, EventKind::Failure(text.clone())));
        events.push(ev(p, s, EventKind::TlsUp(info)));
        events.push(ev(p, s, EventKind::TlsUp(verified)));
        let items = [text.as_str(), "IMAP4rev1", text.as_str()];
        events.push(caps_event(&items, &items, &items, true));
        events
    }

    /// Bytes a terminal could act on: C0 (TAB included, none is expected here), DEL, C1, and
    /// the reordering characters.
    fn dangerous(c: char) -> bool {
        c.is_control() || escape::visible_string(c.to_string().as_bytes()) != c.to_string()
    }

    #[test]
    fn hostile_input_colour_off_has_no_control_bytes() {
        let theme = Theme::new(false);
        let mut n = 0;
        for e in hostile_events() {
            for line in painted(&e, &theme) {
                n += 1;
                assert!(line.bytes().all(|b| b >= 0x20 && b != 0x7f), "{line:?}");
                assert!(!line.chars().any(dangerous), "{line:?}");
            }
        }
        assert!(n > 100);
        // The escapes are there, visibly.
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            recv(HOSTILE, LineKind::Status, Ending::CrLf),
        );
        assert_eq!(
            off(&e),
            vec![
                "S: 550 5.7.1 \\x1b]0;pwned\\x07\\x1b[2J\\rfake\\0\\u{9b}31m\\xff\\xfe\\x7f\\u{202e} end\\xe2"
            ]
        );
    }

    /// Checks that every ESC starts an SGR sequence (`ESC [ digits/; m`) and returns the text
    /// with those sequences removed.
    fn strip_sgr(line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(i) = rest.find('\x1b') {
            out.push_str(&rest[..i]);
            let seq = &rest[i + 1..];
            assert!(seq.starts_with('['), "{line:?}");
            let end = seq.find('m').unwrap_or_else(|| panic!("{line:?}"));
            assert!(
                seq[1..end].bytes().all(|b| b.is_ascii_digit() || b == b';'),
                "{line:?}"
            );
            rest = &seq[end + 1..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn hostile_input_colour_on_has_only_sgr_escapes() {
        let on = Theme::new(true);
        let off_theme = Theme::new(false);
        let mut coloured = 0;
        for e in hostile_events() {
            let lines = painted(&e, &on);
            let plain = painted(&e, &off_theme);
            assert_eq!(lines.len(), plain.len());
            for (line, plain) in lines.iter().zip(&plain) {
                if line.contains('\x1b') {
                    coloured += 1;
                }
                let stripped = strip_sgr(line);
                assert!(stripped.bytes().all(|b| b >= 0x20 && b != 0x7f), "{line:?}");
                assert!(!stripped.chars().any(dangerous), "{line:?}");
                // Colour adds codes and nothing else.
                assert_eq!(&stripped, plain);
            }
        }
        assert!(coloured > 100);
    }

    #[test]
    fn colour_on_differs_for_550() {
        let e = ev(
            Protocol::Smtp,
            Security::Plain,
            recv(b"550 5.1.1 no such user", LineKind::Status, Ending::CrLf),
        );
        let on = painted(&e, &Theme::new(true));
        let plain = off(&e);
        assert_eq!(plain, vec!["S: 550 5.1.1 no such user"]);
        assert_ne!(on, plain);
        assert!(on[0].contains("\x1b[1;31m550\x1b[0m"), "{on:?}");
        assert_eq!(strip_sgr(&on[0]), plain[0]);
    }
}

#[cfg(test)]
mod bulk_tests {
    use super::*;
    use crate::proto::data_lines;
    use crate::render::bulk::paint_data;
    use proptest::prelude::*;

    /// The lines as painted one by one: what bulk painting must give.
    fn one_by_one(theme: &Theme, security: Security, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (line, ending) in data_lines(content) {
            out.extend_from_slice(
                theme
                    .paint_line(&data_line(security, line, ending))
                    .as_bytes(),
            );
            out.push(b'\n');
        }
        out
    }

    fn bulk(theme: &Theme, security: Security, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        paint_data(theme, &data_lead(theme, security), content, &mut out);
        out
    }

    #[test]
    fn bulk_painting_is_the_lines_painted_one_by_one() {
        let content: &[u8] =
            b"plain\r\n\r\n\x1b[2Jesc\r\nbare\ncr\rin\r\nutf8 \xc3\xa9\r\nbad \xff\r\n\
            \xe2\x80\xaebidi\r\ntab\there\r\nlast without ending";
        for color in [false, true] {
            let t = Theme::new(color);
            for security in [
                Security::Plain,
                Security::TlsVerified,
                Security::TlsUnverified,
            ] {
                assert_eq!(
                    String::from_utf8_lossy(&bulk(&t, security, content)),
                    String::from_utf8_lossy(&one_by_one(&t, security, content))
                );
            }
        }
        // Nothing raw reaches the screen.
        let out = bulk(&Theme::new(false), Security::Plain, content);
        assert!(!out.contains(&0x1b) && !out.contains(&b'\r'));
    }

    proptest! {
        #[test]
        fn bulk_painting_matches_for_any_bytes(
            content in proptest::collection::vec(
                prop_oneof![
                    Just(b'\r'), Just(b'\n'), Just(b'.'), Just(0x1b), Just(0xc3), Just(0xa9),
                    Just(0xff), Just(0x7f), Just(b'\t'), b' '..=b'~',
                ],
                0..200,
            ),
            color in any::<bool>(),
        ) {
            let t = Theme::new(color);
            prop_assert_eq!(
                bulk(&t, Security::TlsVerified, &content),
                one_by_one(&t, Security::TlsVerified, &content)
            );
        }
    }
}
