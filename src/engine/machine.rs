//! One enum over the three protocol machines, so the session treats them alike.

use crate::proto::imap::{self, Imap};
use crate::proto::pop3::{self, Pop3};
use crate::proto::smtp::{self, Smtp};
use crate::proto::{Capabilities, CommandError, Event, Outgoing, ProtoError, Protocol, ServerLine};

pub enum Machine {
    Smtp(Smtp),
    Imap(Imap),
    Pop3(Pop3),
}

/// What the next typed line means, for the prompt and for history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    /// A command.
    Command,
    /// SMTP message text after 354, until a lone ".".
    Message,
    /// SMTP BDAT chunk data, this many bytes left.
    Chunk(u64),
    /// IMAP literal content, this many bytes left.
    Literal(u64),
    /// The server asked for more (`+`): IDLE's DONE, a SASL response …
    Continuation,
    /// A SASL response (SMTP 334, POP3 `+`): secret.
    Auth,
}

macro_rules! each {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            Machine::Smtp($m) => $e,
            Machine::Imap($m) => $e,
            Machine::Pop3($m) => $e,
        }
    };
}

impl Machine {
    pub fn new(protocol: Protocol) -> Machine {
        match protocol {
            Protocol::Smtp => Machine::Smtp(Smtp::new(false)),
            Protocol::Lmtp => Machine::Smtp(Smtp::new(true)),
            Protocol::Imap => Machine::Imap(Imap::new()),
            Protocol::Pop3 => Machine::Pop3(Pop3::new()),
        }
    }

    pub fn command(&mut self, line: &[u8]) -> Result<Outgoing, CommandError> {
        each!(self, m => m.command(line))
    }

    pub fn feed(&mut self, data: &[u8]) {
        each!(self, m => m.feed(data))
    }

    pub fn next_event(&mut self) -> Result<Option<Event>, ProtoError> {
        each!(self, m => m.next_event())
    }

    pub fn end_of_stream(&mut self) -> Option<ServerLine> {
        each!(self, m => m.end_of_stream())
    }

    pub fn awaiting(&self) -> bool {
        each!(self, m => m.awaiting())
    }

    pub fn capabilities(&self) -> &Capabilities {
        each!(self, m => m.capabilities())
    }

    pub fn buffered(&self) -> usize {
        each!(self, m => m.buffered())
    }

    pub fn reset_for_tls(&mut self) {
        each!(self, m => m.reset_for_tls())
    }

    /// IMAP: the greeting was PREAUTH.
    pub fn preauth(&self) -> bool {
        match self {
            Machine::Imap(m) => m.preauth(),
            _ => false,
        }
    }

    /// IMAP: an untagged BYE arrived, so the server closing is expected.
    pub fn saw_bye(&self) -> bool {
        match self {
            Machine::Imap(m) => m.saw_bye(),
            _ => false,
        }
    }

    pub fn input_mode(&self) -> InputMode {
        match self {
            Machine::Smtp(m) => match m.mode() {
                smtp::Mode::Command => InputMode::Command,
                smtp::Mode::Data => InputMode::Message,
                smtp::Mode::Auth => InputMode::Auth,
                smtp::Mode::Bdat { remaining } => InputMode::Chunk(remaining),
            },
            Machine::Imap(m) => match m.mode() {
                imap::Mode::Command => InputMode::Command,
                imap::Mode::Literal { remaining } => InputMode::Literal(remaining),
                imap::Mode::Continuation => InputMode::Continuation,
            },
            Machine::Pop3(m) => match m.mode() {
                pop3::Mode::Command => InputMode::Command,
                pop3::Mode::Auth => InputMode::Auth,
            },
        }
    }
}
