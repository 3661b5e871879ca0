//! Where events go: the terminal (rendered, or JSON Lines with `--json`), the transcript file,
//! the recorder, and the inline explanation after replies that are not a plain success.

use crate::engine::{Event, EventKind};
use crate::explain;
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
        }
    }

    /// Files first, then the lines to print for this event.
    pub fn lines(&mut self, ev: &Event) -> Vec<String> {
        if let Some(t) = &mut self.transcript {
            let _ = t.event(ev);
        }
        match &ev.kind {
            EventKind::Reply(reply) => {
                if let Some(r) = &mut self.recorder {
                    let _ = r.reply(ev.protocol, reply);
                }
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
            return json::harden(serde_json::json!({"event": "info", "message": text}).to_string());
        }
        self.theme.paint_one(Role::Info, &format!("** {text}"))
    }

    /// A failure line (`!! text`) that is not a session error (a failed expectation).
    pub fn failure(&mut self, text: &str) -> String {
        if let Some(t) = &mut self.transcript {
            let _ = t.note(&format!("!! {text}"));
        }
        if self.json {
            return json::harden(
                serde_json::json!({"event": "error", "message": text}).to_string(),
            );
        }
        self.theme.paint_one(Role::Error, &format!("!! {text}"))
    }

    pub fn flush(&mut self) {
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
