//! What the session engine reports to the front ends, in order, with timestamps.

use std::time::Duration;

use crate::net::TlsInfo;
use crate::proto::{Capabilities, Protocol, Reply, ServerLine};

/// How the bytes of a line travelled (security.md item 5: every line can be told apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    Plain,
    TlsVerified,
    TlsUnverified,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Something mailtalk itself says: "connecting to 127.0.0.1:25", "connected".
    Info(String),
    /// A line mailtalk sent (secrets already replaced by `<redacted>`).
    Sent {
        display: Vec<u8>,
        secret: bool,
        /// Content rather than a command: message text, literal or chunk data.
        content: bool,
    },
    /// A line (or literal piece) the server sent, exactly.
    Received(ServerLine),
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
    /// Fatal: the session ends.
    Error(String),
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
