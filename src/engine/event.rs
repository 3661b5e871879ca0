//! What the session and the controller report to the front ends, in order, with timestamps.
//! One stream of events feeds the screen, the transcript, the recorder and `--json`.

use std::time::Duration;

use crate::net::TlsInfo;
use crate::proto::{Capabilities, DataBlock, Protocol, Reply, ServerLine};

/// How the bytes of a line travelled (security.md item 5: every line can be told apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    Plain,
    TlsVerified,
    TlsUnverified,
}

impl Security {
    pub fn name(self) -> &'static str {
        match self {
            Security::Plain => "plain",
            Security::TlsVerified => "tls-verified",
            Security::TlsUnverified => "tls-unverified",
        }
    }
}

/// The result of one `:expect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectReport {
    pub ok: bool,
    /// What was expected, as written.
    pub expected: String,
    /// What came instead (empty when it held).
    pub actual: String,
    /// `FILE:LINE` in a script.
    pub location: Option<String>,
}

/// How the send macro's transaction ended, for every recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Recipients the server accepted the message for.
    pub delivered: Vec<String>,
    /// Recipients refused (at RCPT, or in LMTP after the data), with the reply's last line.
    pub refused: Vec<(String, String)>,
    /// The message went to nobody (rejected, aborted or stopped before the data).
    pub nothing_delivered: bool,
    /// What happened, in a few words: `accepted`, `rejected at RCPT`, `aborted`, …
    pub outcome: String,
}

/// How far a transfer is. Reported after each piece sent or block received; front ends decide
/// whether and how often to draw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// A message going out (else content coming in).
    pub sending: bool,
    /// Bytes so far.
    pub done: u64,
    /// The whole, when known.
    pub total: Option<u64>,
    /// The transfer is over (complete, refused or cut off).
    pub finished: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Something mailtalk itself says: "connecting to 127.0.0.1:25", "connected".
    Info(String),
    /// A line mailtalk sent (secrets already replaced by `<redacted>`), as it went on the wire.
    Sent {
        display: Vec<u8>,
        secret: bool,
        /// Content rather than a command: message text, literal or chunk data.
        content: bool,
    },
    /// Bytes sent in raw mode (`:raw on`, `--raw`): exactly what went on the wire, nothing
    /// added. Never classified as a secret: shown, logged and recorded as they are.
    SentRaw(Vec<u8>),
    /// A line (or literal piece) the server sent, exactly.
    Received(ServerLine),
    /// Content lines the server sent (an IMAP literal, a POP3 body), a block at a time.
    Data(DataBlock),
    /// How far a transfer is: a message being sent, content being received.
    Progress(Progress),
    /// The session is about to wait for the server: front ends show what they buffered.
    Waiting,
    /// A SASL challenge, base64-decoded: exactly the server's bytes (made visible on display).
    Challenge(Vec<u8>),
    /// A complete response (after its lines were reported as `Received`).
    Reply(Reply),
    /// A TLS handshake completed.
    TlsUp(TlsInfo),
    /// What the server advertises, and how that differs from before (after STARTTLS).
    Capabilities {
        caps: Capabilities,
        added: Vec<String>,
        removed: Vec<String>,
        after_tls: bool,
    },
    /// How long a step took (`--timing`): a reply (time to its first byte and to its end,
    /// measured from the command), the connection, a TLS handshake.
    Timing {
        what: String,
        first_byte: Option<Duration>,
        total: Duration,
    },
    /// Not fatal, but worth attention (protocol oddities, `--insecure`).
    Warning(String),
    /// Fatal: the session ends. `hint` says what to do instead, when there is an obvious step.
    Error {
        message: String,
        hint: Option<String>,
    },
    /// A script step that failed (an expectation is [`EventKind::Expect`]): not fatal by
    /// itself.
    Failure(String),
    /// An `:expect` was checked.
    Expect(ExpectReport),
    /// The send macro's summary.
    Delivery(DeliveryReport),
    /// The connection is closed.
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Time since the session started.
    pub at: Duration,
    pub protocol: Protocol,
    pub security: Security,
    pub kind: EventKind,
}

/// Receives events as they happen.
pub type Sink<'a> = &'a mut dyn FnMut(Event);
