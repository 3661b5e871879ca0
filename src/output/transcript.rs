//! The transcript file: what the screen showed, without colours, each line stamped with the
//! seconds since the session started.
//!
//! ```text
//! [  0.000] ** connecting to 127.0.0.1:25
//! [  0.012] S: 220 mx.example.com ESMTP
//! [  0.013] C: EHLO client.example
//! ```
//!
//! Lines come from [`super::present::event_lines`], so server text is made visible the same
//! way as on screen and secrets are already `<redacted>`. The file is created mode 0600.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use crate::engine::{Event, Security};
use crate::render::escape::visible_string;
use crate::render::{Line, Theme};

/// A transcript being written.
#[derive(Debug)]
pub struct Transcript {
    file: File,
    /// The time of the last event, used for notes.
    last: Duration,
}

impl Transcript {
    /// Creates (or truncates) the file, mode 0600, and writes a header line with the date.
    pub fn create(path: &Path) -> io::Result<Transcript> {
        Transcript::create_at(path, jiff::Timestamp::now())
    }

    fn create_at(path: &Path, now: jiff::Timestamp) -> io::Result<Transcript> {
        let file = super::create_private(path)?;
        let mut t = Transcript {
            file,
            last: Duration::ZERO,
        };
        t.write(&format!(
            "# mailtalk {} transcript, started {}\n",
            env!("CARGO_PKG_VERSION"),
            super::utc_timestamp(now)
        ))?;
        Ok(t)
    }

    /// Writes the display lines of an event (none for [`crate::engine::EventKind::Reply`]).
    pub fn event(&mut self, ev: &Event) -> io::Result<()> {
        self.lines(ev.at, &super::present::event_lines(ev))
    }

    /// Writes lines shown at `at`.
    pub fn lines(&mut self, at: Duration, lines: &[Line]) -> io::Result<()> {
        self.last = at;
        let stamp = stamp(at);
        let mut out = String::new();
        for line in lines {
            out.push_str(&stamp);
            out.push(' ');
            out.push_str(&line.text());
            out.push('\n');
        }
        self.write(&out)
    }

    /// Writes content lines received at `at` over `security` (see [`crate::proto::data_lines`]),
    /// as [`super::present::data_line`] shows them.
    pub fn data(&mut self, at: Duration, security: Security, content: &[u8]) -> io::Result<()> {
        self.last = at;
        let lead = format!("{} {}", stamp(at), super::present::prefix(security, false));
        let mut out = Vec::new();
        crate::render::bulk::paint_data(&Theme::new(false), &lead, content, &mut out);
        self.file.write_all(&out)
    }

    /// Writes a note, stamped with the time of the last event. Each line of `text` becomes a
    /// line of the transcript; control characters are made visible.
    pub fn note(&mut self, text: &str) -> io::Result<()> {
        let stamp = stamp(self.last);
        let mut out = String::new();
        for line in text.split('\n') {
            out.push_str(&stamp);
            out.push(' ');
            out.push_str(&visible_string(line.as_bytes()));
            out.push('\n');
        }
        self.write(&out)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn write(&mut self, text: &str) -> io::Result<()> {
        self.file.write_all(text.as_bytes())
    }
}

/// `[  1.234]`: seconds with milliseconds, right-aligned in 7 columns.
fn stamp(at: Duration) -> String {
    format!(
        "[{:>7}]",
        format!("{}.{:03}", at.as_secs(), at.subsec_millis())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EventKind, Security};
    use crate::proto::{Ending, LineKind, Outcome, Protocol, Reply, ServerLine};

    fn ev(ms: u64, security: Security, kind: EventKind) -> Event {
        Event {
            at: Duration::from_millis(ms),
            protocol: Protocol::Smtp,
            security,
            kind,
        }
    }

    #[test]
    fn stamps() {
        assert_eq!(stamp(Duration::ZERO), "[  0.000]");
        assert_eq!(stamp(Duration::from_micros(123_999)), "[  0.123]");
        assert_eq!(stamp(Duration::from_millis(61_005)), "[ 61.005]");
        assert_eq!(stamp(Duration::from_millis(1_234_567)), "[1234.567]");
    }

    #[test]
    fn transcript_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.log");
        let now = jiff::Timestamp::from_second(1_735_732_800).unwrap();
        let mut t = Transcript::create_at(&path, now).unwrap();
        let plain = Security::Plain;
        t.note("starting").unwrap();
        t.event(&ev(
            0,
            plain,
            EventKind::Info("connecting to 127.0.0.1:25".into()),
        ))
        .unwrap();
        t.event(&ev(
            12,
            plain,
            EventKind::Received(ServerLine {
                bytes: b"220 mx \x1b[2J\xff".to_vec(),
                kind: LineKind::Status,
                ending: Ending::CrLf,
            }),
        ))
        .unwrap();
        t.event(&ev(
            12,
            plain,
            EventKind::Reply(Reply {
                code: crate::proto::smtp::Code::new(220),
                ..Reply::line(Outcome::Ok, b"220 mx".to_vec())
            }),
        ))
        .unwrap();
        t.event(&ev(
            13,
            Security::TlsVerified,
            EventKind::Sent {
                display: b"AUTH PLAIN <redacted>".to_vec(),
                secret: true,
                content: false,
            },
        ))
        .unwrap();
        t.event(&ev(
            2_500,
            Security::TlsUnverified,
            EventKind::Received(ServerLine {
                bytes: b"250 bare".to_vec(),
                kind: LineKind::Status,
                ending: Ending::Lf,
            }),
        ))
        .unwrap();
        t.note("expect 250: ok (s.mts:3)\nsecond \x07line").unwrap();
        t.event(&ev(2_501, plain, EventKind::Warning("odd".into())))
            .unwrap();
        t.event(&ev(2_502, plain, EventKind::Closed)).unwrap();
        t.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "# mailtalk {} transcript, started 2025-01-01 12:00:00 UTC\n\
                 [  0.000] starting\n\
                 [  0.000] ** connecting to 127.0.0.1:25\n\
                 [  0.012] S: 220 mx \\x1b[2J\\xff\n\
                 [  0.013] C# AUTH PLAIN <redacted>\n\
                 [  2.500] S! 250 bare\\n\n\
                 [  2.500] expect 250: ok (s.mts:3)\n\
                 [  2.500] second \\x07line\n\
                 [  2.501] !! warning: odd\n\
                 [  2.502] ** connection closed\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(!text.bytes().any(|b| b < 0x20 && b != b'\n'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
