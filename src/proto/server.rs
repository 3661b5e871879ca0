//! The server side every server machine shares ([`smtp::server`](super::smtp::server),
//! [`imap::server`](super::imap::server), [`pop3::server`](super::pop3::server)): what a machine
//! writes ([`Output`]), what it reports for the session log ([`ServerEvent`]), and the backends
//! it asks (credentials, a mailbox). No I/O: the embedded server's listeners drive the machines
//! and implement the backends.
//!
//! Every machine has the same shape, the [`Machine`] trait: `greeting`, then `feed` what the
//! client sent and `step` until it needs input (one command each), `tls_started` after the
//! handshake it asked for, `shutdown` or `timed_out` for the goodbyes, `wait` for which
//! deadline applies, `take_events` for the log.

use std::ops::Range;
use std::sync::Arc;

use crate::secret::Secret;

/// One piece of what a machine sends: its own bytes, or (part of) a stored message written
/// without copying it, dot-stuffed on the way when `stuffed` (POP3 RETR/TOP, with the final
/// `.` line added by the machine as its own bytes after it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Bytes(Vec<u8>),
    Message {
        data: Arc<Vec<u8>>,
        range: Range<usize>,
        stuffed: bool,
    },
}

/// What a machine wants written, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pieces: Vec<Piece>,
}

impl Output {
    pub fn new() -> Output {
        Output::default()
    }

    /// Appends bytes of the machine's own.
    pub fn push(&mut self, bytes: &[u8]) {
        if let Some(Piece::Bytes(last)) = self.pieces.last_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.pieces.push(Piece::Bytes(bytes.to_vec()));
        }
    }

    /// Appends `range` of a stored message (clamped to its length), stuffed or as it is.
    pub fn push_message(&mut self, data: &Arc<Vec<u8>>, range: Range<usize>, stuffed: bool) {
        let end = range.end.min(data.len());
        let start = range.start.min(end);
        if start == end {
            return;
        }
        self.pieces.push(Piece::Message {
            data: Arc::clone(data),
            range: start..end,
            stuffed,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Bytes queued so far (message pieces before stuffing).
    pub fn len(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len(),
                Piece::Message { range, .. } => range.len(),
            })
            .fold(0, usize::saturating_add)
    }

    /// Takes everything written so far, leaving the output empty.
    pub fn take(&mut self) -> Vec<Piece> {
        std::mem::take(&mut self.pieces)
    }

    /// Everything as one byte string, stuffing applied (for tests and small replies).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Message {
                    data,
                    range,
                    stuffed,
                } => {
                    let bytes = data.get(range.clone()).unwrap_or(&[]);
                    if *stuffed {
                        let mut e = super::dot::Encoder::new(super::dot::Stuffing::Dots);
                        e.push(bytes, &mut out);
                        e.end_lines(&mut out);
                    } else {
                        out.extend_from_slice(bytes);
                    }
                }
            }
        }
        out
    }
}

/// A server machine: what the embedded server's session loop drives. SMTP/LMTP, IMAP and POP3
/// each have one; `Backend` is what the machine asks (policy and delivery, or a mailbox).
pub trait Machine {
    type Backend: ?Sized;

    fn protocol(&self) -> super::Protocol;
    /// Writes the greeting.
    fn greeting(&mut self, out: &mut Output);
    /// Hands the machine what the client sent (buffered, bounded).
    fn feed(&mut self, bytes: &[u8]);
    /// Handles at most one complete command (or piece of message data) of what was fed.
    fn step(&mut self, backend: &mut Self::Backend, out: &mut Output) -> Step;
    /// While the client waits for news (IMAP IDLE): announces what changed.
    fn tick(&mut self, _backend: &mut Self::Backend, _out: &mut Output) {}
    /// The TLS handshake after [`Step::StartTls`] (or before the greeting, for implicit TLS)
    /// is done.
    fn tls_started(&mut self);
    /// The server is stopping: the goodbye (421, `* BYE`, `-ERR`).
    fn shutdown(&mut self, out: &mut Output);
    /// The client took longer than its deadline: the goodbye before the connection closes.
    fn timed_out(&mut self, out: &mut Output);
    /// Which deadline applies to the next read.
    fn wait(&self) -> Wait;
    /// What happened since the last call, for the log.
    fn take_events(&mut self) -> Vec<ServerEvent>;
}

/// What a client beyond the server's session cap is told before the connection closes.
pub fn busy_reply(protocol: super::Protocol, hostname: &str) -> Vec<u8> {
    use super::smtp::{write_reply, Code, EnhancedCode};
    match protocol {
        super::Protocol::Smtp | super::Protocol::Lmtp => {
            let mut bytes = Vec::new();
            if let Some(code) = Code::new(421) {
                let text = format!("{hostname} Too many sessions, try again later");
                write_reply(
                    code,
                    EnhancedCode::parse("4.7.0"),
                    &[text.as_bytes()],
                    &mut bytes,
                );
            }
            bytes
        }
        super::Protocol::Imap => b"* BYE Too many sessions, try again later\r\n".to_vec(),
        super::Protocol::Pop3 => b"-ERR [SYS/TEMP] Too many sessions, try again later\r\n".to_vec(),
    }
}

/// What the driver does after a `step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing complete is buffered: write the output, then read more.
    NeedInput,
    /// One command was handled (its answer is in the output); more may be buffered. The driver
    /// writes the output when the next step needs input (so pipelined replies go together).
    Handled,
    /// Write the output, then run the TLS handshake and call `tls_started`. Bytes the client sent
    /// after the command were dropped by the machine (they came before TLS).
    StartTls,
    /// Write the output, then close the connection.
    Close,
}

/// Which deadline applies to the next read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// A command: the per-command deadline, from when the last answer was written.
    Command,
    /// Message data (DATA, BDAT chunk, an IMAP literal): the deadline of the whole data phase,
    /// from when it began.
    Data,
    /// IMAP IDLE: the client may stay silent long (RFC 2177: up to 29 minutes); the driver calls
    /// `tick` now and then so new mail is announced.
    Idle,
}

/// Where an SMTP session is, for `--drop-after` and the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The greeting was written.
    Greeting,
    /// EHLO/HELO/LHLO was answered.
    Ehlo,
    /// MAIL was answered.
    Mail,
    /// A RCPT was answered.
    Rcpt,
    /// DATA's 354 (or the first BDAT chunk) was answered.
    Data,
    /// The end of the message data was answered.
    Eod,
}

/// Bytes in a client's message data that mail software treats differently, the raw material
/// of SMTP smuggling: kept as sent, flagged in the log (never repaired).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataFlag {
    /// A line ended by LF without CR.
    BareLf,
    /// A CR not followed by LF.
    BareCr,
    /// A NUL byte.
    Nul,
    /// A line that starts with one `.` and more after it: the sender did not dot-stuff.
    Unstuffed,
    /// The 8th bit set in a message sent without BODY=8BITMIME or SMTPUTF8.
    EightBit,
}

impl DataFlag {
    /// What the flag means, for the log.
    pub fn describe(self) -> &'static str {
        match self {
            DataFlag::BareLf => "bare LF (a line ended without CR)",
            DataFlag::BareCr => "bare CR (a CR not followed by LF)",
            DataFlag::Nul => "NUL byte",
            DataFlag::Unstuffed => "line starting with a single dot (not dot-stuffed)",
            DataFlag::EightBit => "8-bit byte without BODY=8BITMIME or SMTPUTF8",
        }
    }

    /// A short name for JSON.
    pub fn name(self) -> &'static str {
        match self {
            DataFlag::BareLf => "bare-lf",
            DataFlag::BareCr => "bare-cr",
            DataFlag::Nul => "nul",
            DataFlag::Unstuffed => "unstuffed-dot",
            DataFlag::EightBit => "8bit",
        }
    }
}

/// Which way a logged line went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the client.
    In,
    /// To the client.
    Out,
}

/// What a machine reports for the session log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// A line received or sent, without its line ending (`ending` says how it ended: CRLF,
    /// bare LF, none). `secret`: bytes that are a password or SASL response, shown as
    /// `<redacted>`.
    Line {
        dir: Dir,
        bytes: Vec<u8>,
        ending: super::Ending,
        secret: Option<Range<usize>>,
    },
    /// Message data lines not logged one by one (after the first ones), counted.
    DataSkipped { lines: u64, bytes: u64 },
    /// Something in message data worth flagging, with the 1-based line number where it was
    /// first seen and how many times it occurred in the message.
    Flagged {
        flag: DataFlag,
        first_line: u64,
        count: u64,
    },
    /// A login or SASL exchange ended.
    Auth {
        user: String,
        mechanism: String,
        ok: bool,
    },
    /// An SMTP session reached a phase.
    Phase(Phase),
    /// A client error worth a word in the log (line too long, too many commands, …).
    Problem(String),
}

/// Whether a login is allowed, and the passwords the challenge-response mechanisms need.
pub trait Credentials {
    /// Whether `user` may log in with `password`.
    fn check(&self, user: &str, password: &[u8]) -> bool;
    /// The password of `user` (for CRAM-MD5 and SCRAM), when the server knows it.
    fn password(&self, user: &str) -> Lookup;
}

/// What [`Credentials::password`] knows of a user.
#[derive(Debug)]
pub enum Lookup {
    /// Configured users: this one's password.
    Known(Secret),
    /// No users configured: any credentials are accepted (the server cannot prove itself in
    /// SCRAM then).
    AnyAccepted,
    /// Configured users, and this is not one.
    Unknown,
}

/// A stored message as a mailbox lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// Unique in the mailbox, ascending in arrival order, never reused (with `uid_validity`).
    pub uid: u32,
    /// Size in bytes, as stored (CRLF line ends as received).
    pub size: u64,
    /// IMAP flags, like `\Seen`, `\Deleted`, `\Flagged`.
    pub flags: Vec<String>,
    /// When it arrived: seconds since the Unix epoch, UTC.
    pub received: i64,
}

/// One user's mailbox (INBOX), as IMAP and POP3 sessions see it.
pub trait Mailbox: Credentials {
    /// Opens `user`'s mailbox (after the credentials were checked). Names compare without case.
    fn open(&mut self, user: &str);
    /// The messages now in the open mailbox, in UID order.
    fn messages(&mut self) -> Vec<MessageInfo>;
    /// A message's bytes, held once (by the store or loaded from disk).
    fn body(&mut self, uid: u32) -> Option<Arc<Vec<u8>>>;
    /// Replaces a message's flags.
    fn set_flags(&mut self, uid: u32, flags: Vec<String>);
    /// Removes these messages for good.
    fn expunge(&mut self, uids: &[u32]);
    fn uid_validity(&self) -> u32;
    fn uid_next(&self) -> u32;
    /// A number that changes whenever the open mailbox changes (new mail, flags, expunges), so
    /// an IDLE session can tell when to look again.
    fn version(&self) -> u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_order_and_stuffs_messages() {
        let msg: Arc<Vec<u8>> = Arc::new(b".a\r\nb\r\n".to_vec());
        let mut out = Output::new();
        out.push(b"+OK\r\n");
        out.push_message(&msg, 0..msg.len(), true);
        out.push(b".\r\n");
        out.push_message(&msg, 4..100, false);
        assert_eq!(out.to_bytes(), b"+OK\r\n..a\r\nb\r\n.\r\nb\r\n");
        assert_eq!(out.len(), 5 + 7 + 3 + 3);
        assert_eq!(out.take().len(), 4);
        assert!(out.is_empty());
    }
}
