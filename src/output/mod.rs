//! Where events go: the screen (as styled lines, or JSON Lines with `--json`), the transcript
//! file, the recorder, and the inline explanation after replies that are not a plain success.
//! Every event is turned into lines once, here, for all of them.
//!
//! - [`present`]: how each event looks (styled [`Line`]s).
//! - [`json`]: `--json` objects.
//! - [`transcript`]: the transcript file.
//! - [`record`]: the replayable script written while a session runs.

pub mod json;
pub mod present;
pub mod record;
pub mod transcript;

pub mod content;
pub mod progress;
pub mod stdout;

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::time::Duration;

use crate::engine::{Event, EventKind, Progress, Security};
use crate::explain;
use crate::proto::{data_lines, DataBlock, Protocol, Reply};
use crate::render::{self, Line, Role};
use content::{Content, Saved};
use record::Recorder;
use transcript::Transcript;

/// Where the lines for the screen go: a terminal, a full-screen view, a test.
pub trait Screen {
    fn show(&mut self, line: &Line);

    /// A fatal error was reported (its line was shown); a front end whose screen is not the
    /// user's terminal may say it there too.
    fn fatal(&mut self, _message: &str) {}

    /// Content lines received over `security` (an IMAP literal, a POP3 body; see
    /// [`crate::proto::data_lines`]): shown as the lines [`present::data_line`] makes. A screen
    /// may paint them in bulk instead, to the same effect.
    fn show_data(&mut self, security: Security, content: &[u8]) {
        for (line, ending) in data_lines(content) {
            self.show(&present::data_line(security, line, ending));
        }
    }

    /// Nothing more comes for a while (mailtalk waits for the server, or for input): what a
    /// screen buffered is shown now.
    fn flush(&mut self) {}

    /// How far a transfer is, at `at` since the session started.
    fn progress(&mut self, _progress: &Progress, _at: Duration) {}
}

/// The sinks of a session.
#[derive(Default)]
pub struct Output {
    /// JSON Lines on the screen instead of the rendered transcript.
    pub json: bool,
    /// A dimmed explanation line after every reply that is not a plain success.
    pub explain: bool,
    /// Show the TLS details and certificate chain when TLS starts (`--show-cert`).
    pub show_cert: bool,
    /// A hex dump of the bytes after each line sent or received (`--hex`, `:hex on`).
    pub hex: bool,
    pub transcript: Option<Transcript>,
    pub recorder: Option<Recorder>,
    /// The display form of the last line sent (secrets already `<redacted>`), for the recorder.
    last_sent: Option<String>,
    /// Replies not yet written to the recording: they follow the line that caused them.
    pending_expects: Vec<(Protocol, Reply)>,
    /// What becomes of content received (shown within a limit, saved, kept for `:save`).
    pub content: Content,
}

impl Output {
    pub fn new() -> Output {
        Output {
            explain: true,
            content: Content::new(),
            ..Output::default()
        }
    }

    /// Handles one event and shows it on `screen`: lines are shown at once (and the screen
    /// flushed, except for protocol lines, which come in bursts until the session waits);
    /// content goes through [`Content`].
    pub fn show(&mut self, ev: &Event, screen: &mut dyn Screen) {
        match &ev.kind {
            EventKind::Data(block) => self.data(ev, block, screen),
            EventKind::Waiting => screen.flush(),
            EventKind::Progress(p) => screen.progress(p, ev.at),
            kind => {
                for line in self.event(ev) {
                    screen.show(&line);
                }
                if !matches!(
                    kind,
                    EventKind::Received(_) | EventKind::Sent { .. } | EventKind::SentRaw(_)
                ) {
                    screen.flush();
                }
            }
        }
    }

    /// A block of content: saved (`--output`), kept for `:save`, and shown (with the
    /// transcript and `--json`) within the line limit; at its end, what was not shown is said.
    fn data(&mut self, ev: &Event, block: &DataBlock, screen: &mut dyn Screen) {
        let (shown, note) = self.content.block(ev.protocol, block);
        if !shown.is_empty() {
            if let Some(t) = &mut self.transcript {
                let _ = t.data(ev.at, ev.security, shown);
            }
            if self.json {
                for (line, ending) in data_lines(shown) {
                    let line = json::data_json(ev, line, ending);
                    screen.show(&Line::message(Role::Plain, "", &line));
                }
            } else {
                screen.show_data(ev.security, shown);
                if self.hex {
                    let dump = render::hexdump::hex_lines("   S> ", shown);
                    if let Some(t) = &mut self.transcript {
                        let _ = t.lines(ev.at, &dump);
                    }
                    for line in &dump {
                        screen.show(line);
                    }
                }
            }
        }
        if let Some(note) = note {
            let line = match &note {
                Saved::Error(_) => Line::message(Role::Warning, "!! warning: ", &note.text()),
                _ => Line::message(Role::Info, "** ", &note.text()),
            };
            if let Some(t) = &mut self.transcript {
                let _ = t.lines(ev.at, std::slice::from_ref(&line));
            }
            if self.json {
                let info = Event {
                    at: ev.at,
                    protocol: ev.protocol,
                    security: ev.security,
                    kind: EventKind::Info(note.text()),
                };
                screen.show(&Line::message(
                    Role::Plain,
                    "",
                    &json::event_json(&info, None),
                ));
            } else {
                screen.show(&line);
            }
        }
    }

    /// The display lines of one event (the files are written first). Content blocks, progress
    /// and waits have none: see [`Output::show`].
    pub fn event(&mut self, ev: &Event) -> Vec<Line> {
        match &ev.kind {
            // Continuations (354, 334, `+`) too: meta lines stay meta lines inside message text
            // and literals, so the `:expect` is checked before the text.
            EventKind::Reply(reply) if self.recorder.is_some() => {
                self.pending_expects.push((ev.protocol, reply.clone()));
            }
            // Kept only for the recorder: it writes a secret line as it was shown.
            EventKind::Sent {
                display,
                secret: true,
                ..
            } if self.recorder.is_some() => {
                self.last_sent = Some(String::from_utf8_lossy(display).into_owned());
            }
            _ => {}
        }
        let explanation = match &ev.kind {
            EventKind::Reply(reply) if self.explain => explain::short_line(ev.protocol, reply),
            _ => None,
        };
        let mut lines = present::event_lines(ev);
        if self.hex {
            lines.extend(present::hex_lines(ev));
        }
        if let (true, EventKind::TlsUp(info)) = (self.show_cert, &ev.kind) {
            for l in present::tls_details(info) {
                lines.push(Line::message(Role::Info, "**   ", &l));
            }
        }
        if let Some(text) = &explanation {
            lines.push(Line::message(Role::Dim, "   = ", text));
        }
        if let Some(t) = &mut self.transcript {
            let _ = t.lines(ev.at, &lines);
        }
        if self.json {
            let line = json::event_json(ev, explanation.as_deref());
            return vec![Line::message(Role::Plain, "", &line)];
        }
        lines
    }

    /// The display form of the last secret line sent (while recording).
    pub fn last_sent(&self) -> Option<&str> {
        self.last_sent.as_deref()
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

/// Creates (or truncates) a file readable and writable by its owner only (mode 0600, also when
/// the file already existed with a wider mode).
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a point in time.
pub(crate) fn utc_timestamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let at = |s: i64| utc_timestamp(jiff::Timestamp::from_second(s).unwrap());
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_709_164_799), "2024-02-28 23:59:59 UTC");
        assert_eq!(at(1_735_689_600 + 3661), "2025-01-01 01:01:01 UTC");
        assert_eq!(at(4_107_542_400), "2100-03-01 00:00:00 UTC");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_even_when_they_existed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "old contents").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(create_private(&path).unwrap());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 0);
    }
}
