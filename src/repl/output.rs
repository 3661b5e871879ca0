//! Where events go: the terminal (rendered, or JSON Lines with `--json`), the transcript file,
//! the recorder, and the inline explanation after replies that are not a plain success.

use std::time::Instant;

use crate::engine::{Event, EventKind, Security};
use crate::explain;
use crate::proto::{Outcome, Protocol, Reply};
use crate::render::{self, Role, Theme};
use crate::script::json;
use crate::script::record::Recorder;
use crate::script::transcript::Transcript;

pub struct Output {
    pub theme: Theme,
    /// JSON Lines on stdout instead of the rendered transcript.
    pub json: bool,
    /// A dimmed explanation line after every reply that is not a plain success.
    pub explain: bool,
    pub transcript: Option<Transcript>,
    pub recorder: Option<Recorder>,
    /// Show the TLS details and certificate chain when TLS starts (`--show-cert`).
    pub show_cert: bool,
    /// The display form of the last line sent (secrets already `<redacted>`), for the recorder.
    pub last_sent: Option<String>,
    /// Replies not yet written to the recording: they follow the line that caused them.
    pending_expects: Vec<(Protocol, Reply)>,
    /// For mailtalk's own JSON lines: when the session started, its protocol and security.
    pub start: Instant,
    pub protocol: Option<Protocol>,
    security: Security,
}

impl Output {
    pub fn new(theme: Theme) -> Output {
        Output {
            theme,
            json: false,
            explain: true,
            transcript: None,
            recorder: None,
            show_cert: false,
            last_sent: None,
            pending_expects: Vec::new(),
            start: Instant::now(),
            protocol: None,
            security: Security::Plain,
        }
    }

    /// Handles one event and prints its lines.
    pub fn show(&mut self, ev: &Event, mut print: impl FnMut(String)) {
        for l in self.lines(ev) {
            print(l);
        }
    }

    /// Files first, then the lines to print for this event.
    pub fn lines(&mut self, ev: &Event) -> Vec<String> {
        if let Some(t) = &mut self.transcript {
            let _ = t.event(ev);
        }
        self.security = ev.security;
        self.protocol = Some(ev.protocol);
        match &ev.kind {
            // A continuation (354, 334, `+`) leads into message text or a literal, where an
            // `:expect` line would be data: it is not recorded.
            EventKind::Reply(reply)
                if reply.outcome != Outcome::Continue && self.recorder.is_some() =>
            {
                self.pending_expects.push((ev.protocol, reply.clone()));
            }
            EventKind::Sent { display, .. } => {
                self.last_sent = Some(String::from_utf8_lossy(display).into_owned());
            }
            _ => {}
        }
        let explanation = match &ev.kind {
            EventKind::Reply(reply) if self.explain => explain::short_line(ev.protocol, reply),
            _ => None,
        };
        if self.json {
            let line = json::event_json(ev);
            return vec![match explanation {
                Some(text) => with_field(&line, "explanation", &text),
                None => line,
            }];
        }
        let mut lines = render::event_lines(ev, &self.theme);
        if let (true, EventKind::TlsUp(info)) = (self.show_cert, &ev.kind) {
            for l in render::tls_details(info) {
                lines.push(self.theme.paint_one(Role::Info, &format!("**   {l}")));
            }
        }
        if let Some(text) = explanation {
            if let Some(t) = &mut self.transcript {
                let _ = t.note(&format!("   = {text}"));
            }
            lines.push(self.theme.paint_one(Role::Dim, &format!("   = {text}")));
        }
        lines
    }

    /// One of mailtalk's own lines (`** text`), or a JSON info event.
    pub fn info(&mut self, text: &str) -> String {
        if let Some(t) = &mut self.transcript {
            let _ = t.note(&format!("** {text}"));
        }
        if self.json {
            return self.own_json("info", serde_json::json!({ "message": text }));
        }
        self.theme.paint_one(Role::Info, &format!("** {text}"))
    }

    /// A failure line (`!! text`) that is not a session error (a failed expectation).
    pub fn failure(&mut self, text: &str) -> String {
        if let Some(t) = &mut self.transcript {
            let _ = t.note(&format!("!! {text}"));
        }
        if self.json {
            return self.own_json("error", serde_json::json!({ "message": text }));
        }
        self.theme.paint_one(Role::Error, &format!("!! {text}"))
    }

    /// The result of an `:expect`: a line, or a JSON `expect` event.
    pub fn expect(&mut self, r: &crate::repl::ExpectResult) -> String {
        let location = r.location.clone().unwrap_or_default();
        let text = if r.ok {
            format!("expect {}: ok", r.expected)
        } else {
            format!(
                "expectation failed{}: expected {}, got {}",
                if location.is_empty() {
                    String::new()
                } else {
                    format!(" at {location}")
                },
                r.expected,
                r.actual
            )
        };
        if let Some(t) = &mut self.transcript {
            let _ = t.note(&format!("{} {text}", if r.ok { "**" } else { "!!" }));
        }
        if self.json {
            let (file, line) = match location.rsplit_once(':') {
                Some((f, l)) => (f.to_string(), l.parse().unwrap_or(0)),
                None => (location.clone(), 0),
            };
            let base = json::expect_json(&file, line, r.ok, &r.expected, &r.actual);
            return self.with_common(&base);
        }
        if r.ok {
            self.theme.paint_one(Role::Info, &format!("** {text}"))
        } else {
            self.theme.paint_one(Role::Error, &format!("!! {text}"))
        }
    }

    /// A JSON line of mailtalk's own, with the fields every event has.
    fn own_json(&self, event: &str, fields: serde_json::Value) -> String {
        let mut v = fields;
        if let serde_json::Value::Object(map) = &mut v {
            map.insert("event".into(), event.into());
        }
        self.with_common(&v.to_string())
    }

    /// Adds `t`, `protocol` and `security` to a JSON object line.
    fn with_common(&self, line: &str) -> String {
        let t = (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        let security = match self.security {
            Security::Plain => "plain",
            Security::TlsVerified => "tls-verified",
            Security::TlsUnverified => "tls-unverified",
        };
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.entry("t").or_insert(t.into());
                if let Some(p) = self.protocol {
                    map.entry("protocol").or_insert(p.name().into());
                }
                map.entry("security").or_insert(security.into());
                json::harden(serde_json::Value::Object(map).to_string())
            }
            _ => line.to_string(),
        }
    }

    /// Writes the `:expect` lines of the replies seen so far to the recording. With
    /// `last_only`, only the last one (a macro's many replies are checked by its final one).
    pub fn flush_expects(&mut self, last_only: bool) {
        let pending = std::mem::take(&mut self.pending_expects);
        let Some(r) = &mut self.recorder else {
            return;
        };
        let skip = if last_only {
            pending.len().saturating_sub(1)
        } else {
            0
        };
        for (protocol, reply) in pending.iter().skip(skip) {
            let _ = r.reply(*protocol, reply);
        }
    }

    /// Flushes the files. Replies no typed line asked for (the QUIT mailtalk sends at the end)
    /// are not recorded.
    pub fn flush(&mut self) {
        self.pending_expects.clear();
        if let Some(t) = &mut self.transcript {
            let _ = t.flush();
        }
        if let Some(r) = &mut self.recorder {
            let _ = r.flush();
        }
    }
}

/// Adds a string field to a JSON object serialised on one line.
fn with_field(line: &str, key: &str, value: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert(
                key.to_string(),
                serde_json::Value::String(value.to_string()),
            );
            json::harden(serde_json::Value::Object(map).to_string())
        }
        _ => line.to_string(),
    }
}
