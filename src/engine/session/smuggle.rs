//! The end of a message sent as raw bytes, for `mailtalk smuggle-test`: after DATA was
//! answered 354, the content goes out exactly as given (with whatever line ends and smuggled
//! commands it holds, nothing stuffed or normalised), then the real end of data and QUIT, in
//! one write. How many replies that causes depends on where the server thinks the data ended,
//! which is the point of the test, so every reply is read until the server closes the
//! connection.

use super::{deadline_after, Session, SessionError, Sink};
use crate::engine::event::EventKind;
use crate::net::NetError;
use crate::proto::{CommandError, InputMode, Reply};

/// The most replies kept from one such exchange (the server's answers to the outer message,
/// to a smuggled transaction, to lines it took as commands, and to QUIT).
pub const MAX_REPLIES: usize = 64;

/// What the server answered after the raw content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEnd {
    /// Every complete reply, in order (at most [`MAX_REPLIES`]).
    pub replies: Vec<Reply>,
    /// The exchange ended: QUIT was answered (221), or the server closed (or reset) the
    /// connection; false when the wait timed out or too many replies came.
    pub closed: bool,
}

impl Session {
    /// In a message (after 354): writes `content` exactly, then `.` and `QUIT` (the machine's
    /// own lines), and reads replies until QUIT is answered or the server closes the connection. They all answer
    /// that one write, so they all fall within the session's timeout from it: a server that
    /// stays silent, drips bytes, or sends more than [`MAX_REPLIES`] replies ends the wait
    /// with `closed: false` (and the connection closed by us). `content` must end with CRLF
    /// so that the `.` is a line of its own.
    pub fn end_raw_and_quit(&mut self, content: &[u8], sink: Sink) -> Result<RawEnd, SessionError> {
        if self.machine.input_mode() != InputMode::Message {
            return Err(SessionError::Command(CommandError::Invalid(
                "raw content needs a message in progress (DATA answered 354)".into(),
            )));
        }
        if !content.ends_with(b"\r\n") {
            return Err(SessionError::Command(CommandError::Invalid(
                "raw content must end with CRLF".into(),
            )));
        }
        self.raw_sent = true;
        let end = self.machine.command(b".")?;
        let quit = self.machine.command(b"QUIT")?;
        let mut wire = Vec::with_capacity(
            content
                .len()
                .saturating_add(end.wire.len())
                .saturating_add(quit.wire.len()),
        );
        wire.extend_from_slice(content);
        wire.extend_from_slice(&end.wire);
        wire.extend_from_slice(&quit.wire);
        self.write_raw(&wire, sink)?;
        self.stats.lines_sent = self.stats.lines_sent.saturating_add(2);
        sink(self.event(EventKind::SentRaw(content.to_vec())));
        for display in [end.display, quit.display] {
            sink(self.event(EventKind::Sent {
                display,
                secret: false,
                content: false,
            }));
        }
        self.finished = true;
        let mut replies = Vec::new();
        let deadline = deadline_after(self.opts.timeout);
        let closed = loop {
            while let Some(reply) = self.drain(sink)? {
                replies.push(reply);
                if settled(&replies).is_some() {
                    break;
                }
            }
            if let Some(closed) = settled(&replies) {
                break closed;
            }
            sink(self.event(EventKind::Waiting));
            let stream = self.stream.as_mut().ok_or(SessionError::NotConnected)?;
            match stream.read(&mut self.buf, deadline) {
                Ok(0) => {
                    if let Some(line) = self.machine.end_of_stream() {
                        sink(self.event(EventKind::Received(line)));
                    }
                    break true;
                }
                Ok(n) => self.received(n),
                Err(NetError::Timeout(_)) => break false,
                // A server that refuses and closes while our bytes are still unread may reset
                // the connection: what it answered before still counts.
                Err(_) if !replies.is_empty() => break true,
                Err(e) => return Err(e.into()),
            }
        };
        self.close(sink);
        Ok(RawEnd { replies, closed })
    }
}

/// Whether the replies so far end the wait: `Some(true)` once QUIT is answered (it is the
/// last line sent, so a 221 answers it and nothing more is due), `Some(false)` at
/// [`MAX_REPLIES`].
fn settled(replies: &[Reply]) -> Option<bool> {
    if replies.last().and_then(|r| r.code).map(|c| c.value()) == Some(221) {
        Some(true)
    } else if replies.len() >= MAX_REPLIES {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::event::Event;
    use crate::engine::mock::{options, Fake};
    use crate::proto::Protocol;

    fn session(fake: &Fake, events: &mut Vec<Event>) -> Session {
        Session::over(
            Box::new(fake.stream()),
            options(Protocol::Smtp, Duration::from_secs(3600)),
            &mut |e| events.push(e),
        )
        .unwrap()
    }

    /// The content goes out exactly, then `.` and QUIT in the same write; every reply is read
    /// until the server closes, however many the content caused.
    #[test]
    fn raw_content_then_the_end_and_quit_and_every_reply_until_close() {
        let content = b"Subject: x\r\n\r\nlast\n.\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nhi\r\n";
        let fake = Fake::start(move |c| {
            c.send(b"220 hi\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            assert_eq!(c.bytes(content.len()), content);
            assert_eq!(c.bytes(9), b".\r\nQUIT\r\n");
            c.send(b"250 one\r\n250 mail\r\n250 rcpt\r\n354 go\r\n");
            c.send(b"250 two\r\n221 bye\r\n");
        });
        let mut events = Vec::new();
        let mut s = session(&fake, &mut events);
        let mut sink = |e: Event| events.push(e);
        s.send_line(b"DATA", &mut sink).unwrap();
        assert_eq!(s.input_mode(), InputMode::Message);
        let end = s.end_raw_and_quit(content, &mut sink).unwrap();
        fake.join();
        let texts: Vec<String> = end.replies.iter().map(|r| r.last_text()).collect();
        assert_eq!(
            texts,
            ["250 one", "250 mail", "250 rcpt", "354 go", "250 two", "221 bye"]
        );
        assert!(end.closed);
        assert!(!s.is_open());
        assert!(events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::SentRaw(b) if b == content)));
    }

    /// A server that closes without a word after the content: no reply, and closed.
    #[test]
    fn a_server_that_closes_at_once_gives_no_reply() {
        let fake = Fake::start(|c| {
            c.send(b"220 hi\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            // The content, `.` and QUIT; then the script ends and the connection closes.
            let _ = c.bytes(6 + 9);
        });
        let mut events = Vec::new();
        let mut s = session(&fake, &mut events);
        let mut sink = |e: Event| events.push(e);
        s.send_line(b"DATA", &mut sink).unwrap();
        let end = s.end_raw_and_quit(b"x\n.\n\r\n", &mut sink).unwrap();
        assert!(end.replies.is_empty());
        assert!(end.closed);
        fake.join();
    }

    /// A server that answers without end is stopped after [`MAX_REPLIES`] replies.
    #[test]
    fn endless_replies_are_cut_off() {
        let fake = Fake::start(|c| {
            c.send(b"220 hi\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            let _ = c.bytes(6 + 9);
            c.send(&b"250 more\r\n".repeat(MAX_REPLIES + 10));
            let _ = c.rest();
        });
        let mut events = Vec::new();
        let mut s = session(&fake, &mut events);
        let mut sink = |e: Event| events.push(e);
        s.send_line(b"DATA", &mut sink).unwrap();
        let end = s.end_raw_and_quit(b"x\n.\n\r\n", &mut sink).unwrap();
        assert_eq!(end.replies.len(), MAX_REPLIES);
        assert!(!end.closed);
        assert!(!s.is_open());
        fake.join();
    }

    #[test]
    fn only_in_a_message_and_only_ending_with_crlf() {
        let fake = Fake::start(|c| {
            c.send(b"220 hi\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
        });
        let mut events = Vec::new();
        let mut s = session(&fake, &mut events);
        let mut sink = |e: Event| events.push(e);
        assert!(s.end_raw_and_quit(b"x\r\n", &mut sink).is_err());
        s.send_line(b"DATA", &mut sink).unwrap();
        assert!(s.end_raw_and_quit(b"x\n.\n", &mut sink).is_err());
        drop(s);
        fake.join();
    }
}
