//! The embedded server's log: a line per session and per delivered message, with
//! `--log-sessions` every line each client sent and received, and with `--json` JSON Lines.
//! Everything a client sent goes through the renderer (control bytes made visible, colours by
//! role) or the JSON hardening, so nothing reaches the operator's terminal raw; secrets are
//! `<redacted>`.

use std::io::Write;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Mutex;

use serde_json::json;

use crate::output::json::harden;
use crate::proto::server::{DataFlag, Dir};
use crate::proto::{Ending, LineKind, Protocol};
use crate::render::{lexer, Line, Role, Theme};
use crate::secret::REDACTED;

/// A delivered message, as logged.
#[derive(Debug)]
pub struct MessageRecord<'a> {
    pub session: u64,
    pub id: &'a str,
    pub client: Option<SocketAddr>,
    pub tls: bool,
    pub from: &'a str,
    pub to: &'a [String],
    pub size: usize,
    pub subject: Option<&'a str>,
    pub mailboxes: &'a [String],
    /// Dropped once accepted (`--discard`).
    pub discarded: bool,
}

/// Where the log goes and how it looks.
pub struct Log {
    out: Mutex<Box<dyn Write + Send>>,
    json: bool,
    sessions: bool,
    theme: Theme,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("json", &self.json)
            .field("sessions", &self.sessions)
            .finish()
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The time of day (UTC) a text log line starts with.
fn clock() -> String {
    jiff::Timestamp::now().strftime("%H:%M:%S").to_string()
}

fn peer_text(p: Option<SocketAddr>) -> String {
    p.map(|a| a.to_string()).unwrap_or_else(|| "-".to_string())
}

impl Log {
    pub fn new(out: Box<dyn Write + Send>, json: bool, sessions: bool, color: bool) -> Log {
        Log {
            out: Mutex::new(out),
            json,
            sessions,
            theme: Theme::new(color && !json),
        }
    }

    /// Whether every line of every session is logged.
    pub fn sessions(&self) -> bool {
        self.sessions
    }

    fn write(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A log that cannot be written (a closed pipe) must not stop the server.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn write_json(&self, value: serde_json::Value) {
        self.write(&harden(value.to_string()));
    }

    fn write_line(&self, session: Option<u64>, mut line: Line) {
        let mut lead = Line::new();
        lead.push(Role::Dim, &clock());
        if let Some(s) = session {
            lead.push(Role::Dim, &format!(" [{s}]"));
        }
        lead.push(Role::Plain, " ");
        lead.extend(std::mem::take(&mut line.spans));
        self.write(&self.theme.paint_line(&lead));
    }

    /// The server is up (or a note about it): said as it is, no client text in it.
    pub fn info(&self, text: &str) {
        if self.json {
            self.write_json(json!({"time": now(), "event": "info", "text": text}));
        } else {
            self.write_line(None, Line::message(Role::Info, "", text));
        }
    }

    pub fn warn(&self, session: Option<u64>, text: &str) {
        if self.json {
            self.write_json(
                json!({"time": now(), "event": "warning", "session": session, "text": text}),
            );
        } else {
            self.write_line(session, Line::message(Role::Warning, "warning: ", text));
        }
    }

    pub fn session_start(&self, session: u64, protocol: &str, peer: Option<SocketAddr>, tls: bool) {
        if self.json {
            self.write_json(
                json!({"time": now(), "event": "connect", "session": session,
                "protocol": protocol, "client": peer_text(peer), "tls": tls}),
            );
        } else {
            let tls = if tls { " (TLS)" } else { "" };
            self.write_line(
                Some(session),
                Line::message(
                    Role::Info,
                    "",
                    &format!("{protocol} connection from {}{tls}", peer_text(peer)),
                ),
            );
        }
    }

    pub fn session_end(&self, session: u64, protocol: &str, peer: Option<SocketAddr>, how: &str) {
        if self.json {
            self.write_json(
                json!({"time": now(), "event": "disconnect", "session": session,
                "protocol": protocol, "client": peer_text(peer), "how": how}),
            );
        } else {
            self.write_line(
                Some(session),
                Line::message(
                    Role::Info,
                    "",
                    &format!("{protocol} {} {how}", peer_text(peer)),
                ),
            );
        }
    }

    pub fn tls_up(&self, session: u64, version: &str, cipher: &str) {
        if self.json {
            self.write_json(json!({"time": now(), "event": "tls", "session": session,
                "version": version, "cipher": cipher}));
        } else {
            self.write_line(
                Some(session),
                Line::message(Role::Info, "", &format!("TLS up: {version} {cipher}")),
            );
        }
    }

    pub fn message(&self, m: &MessageRecord<'_>) {
        if self.json {
            self.write_json(
                json!({"time": now(), "event": "message", "session": m.session,
                "id": m.id, "client": peer_text(m.client), "tls": m.tls, "from": m.from,
                "to": m.to, "size": m.size, "subject": m.subject, "mailboxes": m.mailboxes,
                "discarded": m.discarded}),
            );
            return;
        }
        let mut line = Line::new();
        line.push(Role::Code2xx, "message ");
        line.push(Role::Plain, m.id);
        line.push(Role::Plain, " from <");
        line.push(Role::Address, m.from);
        line.push(Role::Plain, "> to ");
        for (i, t) in m.to.iter().enumerate() {
            if i > 0 {
                line.push(Role::Plain, ", ");
            }
            line.push(Role::Plain, "<");
            line.push(Role::Address, t);
            line.push(Role::Plain, ">");
        }
        line.push(
            Role::Plain,
            &format!(
                ", {} bytes, {}, client {}",
                m.size,
                if m.tls { "TLS" } else { "plaintext" },
                peer_text(m.client)
            ),
        );
        if let Some(s) = m.subject {
            line.push(Role::Plain, ", subject \"");
            line.push(Role::Argument, s);
            line.push(Role::Plain, "\"");
        }
        if m.discarded {
            line.push(Role::Plain, ", discarded");
        }
        self.write_line(Some(m.session), line);
    }

    /// One line a client sent (`Dir::In`) or was sent, with `secret` redacted.
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &self,
        session: u64,
        protocol: Protocol,
        tls: bool,
        dir: Dir,
        bytes: &[u8],
        ending: Ending,
        secret: Option<Range<usize>>,
    ) {
        let redacted;
        let shown: &[u8] = match secret {
            Some(r) if r.start <= r.end && r.end <= bytes.len() => {
                let mut v = bytes.get(..r.start).unwrap_or_default().to_vec();
                v.extend_from_slice(REDACTED.as_bytes());
                v.extend_from_slice(bytes.get(r.end..).unwrap_or_default());
                redacted = v;
                &redacted
            }
            Some(_) => REDACTED.as_bytes(),
            None => bytes,
        };
        let bare_lf = dir == Dir::In && ending == Ending::Lf;
        if self.json {
            self.write_json(json!({"time": now(), "event": "line", "session": session,
                "dir": if dir == Dir::In { "client" } else { "server" }, "tls": tls,
                "text": String::from_utf8_lossy(shown),
                "ending": match ending { Ending::CrLf => "crlf", Ending::Lf => "lf", Ending::None => "none" }}));
            return;
        }
        let mut line = Line::new();
        match dir {
            Dir::In => {
                if tls {
                    line.push(Role::PrefixTls, "C# ");
                } else {
                    line.push(Role::PrefixPlain, "C: ");
                }
                line.extend(lexer::client_line_bytes(protocol, shown));
            }
            Dir::Out => {
                if tls {
                    line.push(Role::PrefixTls, "S# ");
                } else {
                    line.push(Role::PrefixPlain, "S: ");
                }
                line.extend(lexer::server_line(protocol, LineKind::Status, shown));
            }
        }
        if bare_lf {
            line.push(Role::Warning, "  [bare LF]");
        }
        self.write_line(Some(session), line);
    }

    /// Message data lines not shown one by one.
    pub fn skipped(&self, session: u64, lines: u64, bytes: u64) {
        if self.json {
            self.write_json(
                json!({"time": now(), "event": "data-skipped", "session": session,
                "lines": lines, "bytes": bytes}),
            );
        } else {
            self.write_line(
                Some(session),
                Line::message(
                    Role::Dim,
                    "",
                    &format!("   … {lines} more lines of message data ({bytes} bytes)"),
                ),
            );
        }
    }

    pub fn flagged(&self, session: u64, flag: DataFlag, first_line: u64, count: u64) {
        if self.json {
            self.write_json(json!({"time": now(), "event": "flag", "session": session,
                "flag": flag.name(), "first_line": first_line, "count": count}));
        } else {
            self.write_line(
                Some(session),
                Line::message(
                    Role::Warning,
                    "flagged: ",
                    &format!(
                        "{} in the message data, {count} time{} (first on line {first_line})",
                        flag.describe(),
                        if count == 1 { "" } else { "s" }
                    ),
                ),
            );
        }
    }

    pub fn auth(&self, session: u64, user: &str, mechanism: &str, ok: bool) {
        if self.json {
            self.write_json(json!({"time": now(), "event": "auth", "session": session,
                "user": user, "mechanism": mechanism, "ok": ok}));
        } else {
            let mut line = Line::new();
            line.push(
                if ok { Role::Code2xx } else { Role::Code5xx },
                if ok { "login " } else { "failed login " },
            );
            line.push(Role::Plain, "as ");
            line.push(Role::Address, user);
            line.push(Role::Plain, &format!(" ({mechanism})"));
            self.write_line(Some(session), line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn client_text_is_made_visible_and_secrets_redacted() {
        let buf = Buf::default();
        let log = Log::new(Box::new(buf.clone()), false, true, false);
        log.line(
            1,
            Protocol::Smtp,
            false,
            Dir::In,
            b"AUTH PLAIN c2VjcmV0",
            Ending::CrLf,
            Some(11..19),
        );
        log.line(
            1,
            Protocol::Smtp,
            false,
            Dir::In,
            b"MAIL FROM:<a\x1b[2J@b>",
            Ending::Lf,
            None,
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("C: AUTH PLAIN <redacted>"), "{text}");
        assert!(!text.contains("c2VjcmV0"));
        assert!(text.contains("\\x1b[2J"), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(text.contains("[bare LF]"));
    }

    #[test]
    fn json_lines_are_hardened() {
        let buf = Buf::default();
        let log = Log::new(Box::new(buf.clone()), true, true, false);
        log.line(
            2,
            Protocol::Imap,
            false,
            Dir::In,
            b"a LOGIN u \xc2\x9bpw",
            Ending::CrLf,
            Some(10..14),
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["text"], "a LOGIN u <redacted>");
        assert_eq!(v["dir"], "client");
    }
}
