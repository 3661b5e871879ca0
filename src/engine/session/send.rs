//! The send macro: one SMTP/LMTP transaction (EHLO when needed, MAIL, RCPT, DATA or BDAT) with a
//! message streamed from a reader.
//!
//! - Addresses and DSN values are checked before anything is sent (security.md item 14).
//! - DATA: the message is read in 64 KiB pieces, CRLF-normalised and dot-stuffed on the way
//!   ([`Encoder`]), so the wire holds exactly one `\r\n.\r\n` (security.md item 13) and memory
//!   stays bounded whatever the size.
//! - BDAT (CHUNKING): CRLF-normalised, not dot-stuffed, in chunks of at most 1 MiB.
//! - PIPELINING: MAIL, every RCPT and DATA go out in one write; the replies are read in order,
//!   to the last one due, before Ctrl-C takes effect (cut short, they would answer whatever
//!   comes next).
//! - Copies (`--count`): [`Session::prepare_send`] checks the request and decides the commands
//!   once; [`Session::send_copy`] runs one full transaction per copy. Pipelined, the next
//!   copy's MAIL, RCPT and DATA go out in the same write as this copy's end of data (after a
//!   BDAT LAST chunk when no other chunk is unanswered), so each copy costs one round trip;
//!   its replies are matched to it like any pipelined ones, and a refusal after the end of
//!   data is not followed by RSET (which would undo the next copy's MAIL). Ctrl-C makes the
//!   copy in progress the last one, sent whole.
//! - Recipients: pipelined or not, every RCPT is sent and its reply kept. By default the
//!   message goes to the recipients the server accepted, and the outcome names every refused
//!   one; with no recipient accepted nothing is delivered (after a pipelined 354 the data is
//!   ended with a lone `.`, RFC 2920 §3.1, which the server refuses for lack of recipients).
//!   With `all_or_nothing` a single refused recipient aborts the whole transaction: RSET
//!   before DATA, or, when a pipelined DATA already got 354, the connection is closed before
//!   the data ends so that nothing is delivered.
//! - Any other failure ends the transaction: the outcome names the stage and the reply, and
//!   `RSET` is sent (unless the reply was 421) so the session can go on.
//!
//! The message content is shown as `Sent` events with `content: true`, line by line as it goes
//! on the wire (CRLF-normalised, dot-stuffed for DATA): at most [`MAX_SHOWN_LINES`] lines of at
//! most [`MAX_SHOWN_LINE`] bytes, then a summary `Info` event.

use std::fmt;
use std::io::{ErrorKind, Read};

use super::{Session, SessionError, Sink};
use crate::engine::event::{EventKind, Progress};
use crate::proto::dot::{Encoder, Stuffing};
use crate::proto::smtp::{command, Command, Param};
use crate::proto::{CommandError, InputMode, Outcome, Protocol, Reply};

/// What the message is read in.
const READ_PIECE: usize = 64 * 1024;
/// The largest BDAT chunk.
pub const BDAT_CHUNK: usize = 1024 * 1024;
/// How many lines of the message are shown.
pub const MAX_SHOWN_LINES: u64 = 200;
/// How many bytes of a message line are shown.
pub const MAX_SHOWN_LINE: usize = 1000;

/// One transaction for [`Session::send_mail`].
pub struct SendRequest {
    /// The reverse path, without `<>`; empty for the null sender `MAIL FROM:<>`.
    pub from: String,
    /// The recipients, without `<>`; at least one.
    pub to: Vec<String>,
    /// The message (headers and body); any line endings.
    pub message: Box<dyn Read + Send>,
    /// The message size, when known (for `SIZE=`).
    pub size: Option<u64>,
    /// `BODY=8BITMIME`.
    pub eight_bit: bool,
    /// `SMTPUTF8`: an error when the server does not advertise it.
    pub smtputf8: bool,
    /// DSN `NOTIFY=` for every recipient: `NEVER`, or a comma list of SUCCESS, FAILURE, DELAY.
    pub notify: Option<String>,
    /// DSN `RET=`: `FULL` or `HDRS`.
    pub ret: Option<String>,
    /// DSN `ENVID=`, as xtext.
    pub envid: Option<String>,
    /// Add `SIZE=n` when SIZE is advertised and the size is known.
    pub size_param: bool,
    /// Use BDAT when CHUNKING is advertised (else a Warning and DATA).
    pub bdat: bool,
    /// Pipeline MAIL/RCPT(/DATA) when PIPELINING is advertised (else a Warning and no
    /// pipelining).
    pub pipeline: bool,
    /// Pipeline when PIPELINING is advertised, without a warning when it is not (copies).
    pub pipeline_if_offered: bool,
    /// A refused recipient aborts the whole transaction (instead of sending to the others).
    pub all_or_nothing: bool,
    /// Stop (without RSET) once this stage succeeded: `Stage::Data` stops after the 354 (DATA
    /// is then used even when `bdat` is set), with the session in message mode;
    /// `Stage::Message` is a full transaction.
    pub stop_after: Option<Stage>,
}

impl fmt::Debug for SendRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendRequest")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("size", &self.size)
            .field("eight_bit", &self.eight_bit)
            .field("smtputf8", &self.smtputf8)
            .field("notify", &self.notify)
            .field("ret", &self.ret)
            .field("envid", &self.envid)
            .field("size_param", &self.size_param)
            .field("bdat", &self.bdat)
            .field("pipeline", &self.pipeline)
            .field("pipeline_if_offered", &self.pipeline_if_offered)
            .field("all_or_nothing", &self.all_or_nothing)
            .field("stop_after", &self.stop_after)
            .finish_non_exhaustive()
    }
}

/// A step of the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// EHLO / LHLO.
    Ehlo,
    Mail,
    Rcpt,
    /// The DATA command (354 expected).
    Data,
    /// The message itself: the reply after the final `.`, or to any BDAT chunk.
    Message,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ehlo => "EHLO",
            Stage::Mail => "MAIL",
            Stage::Rcpt => "RCPT",
            Stage::Data => "DATA",
            Stage::Message => "message",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What became of each recipient.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recipients {
    /// Accepted at RCPT (and, in LMTP, after the data).
    pub accepted: Vec<String>,
    /// Refused, with the reply: at RCPT, or in LMTP after the data.
    pub refused: Vec<(String, Reply)>,
}

/// How a transaction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// The final reply was positive: the message went to `recipients.accepted`. Some
    /// recipients may have been refused (`recipients.refused`).
    Accepted {
        reply: Reply,
        recipients: Recipients,
    },
    /// The first failure, and where it happened; nothing was delivered. In LMTP a data-end
    /// failure of every recipient.
    Rejected {
        stage: Stage,
        reply: Reply,
        recipients: Recipients,
    },
    /// `all_or_nothing`: a recipient was refused, so the transaction was abandoned and
    /// nothing delivered: with RSET (`closed` false) or, after a pipelined 354, by closing the
    /// connection before the end of the data (`closed` true).
    Aborted {
        recipients: Recipients,
        closed: bool,
    },
    /// `stop_after` was reached; no RSET was sent.
    Stopped(Stage),
}

impl SendOutcome {
    /// The recipients refused along the way.
    pub fn refused(&self) -> &[(String, Reply)] {
        match self {
            SendOutcome::Accepted { recipients, .. }
            | SendOutcome::Rejected { recipients, .. }
            | SendOutcome::Aborted { recipients, .. } => &recipients.refused,
            SendOutcome::Stopped(_) => &[],
        }
    }

    /// Accepted by the server for every recipient given.
    pub fn fully_accepted(&self) -> bool {
        matches!(self, SendOutcome::Accepted { recipients, .. } if recipients.refused.is_empty())
    }
}

fn invalid(msg: String) -> SessionError {
    SessionError::Command(CommandError::Invalid(msg))
}

/// An address for `MAIL FROM:<…>` / `RCPT TO:<…>`: no CR, LF, NUL, other control characters,
/// spaces, `<` or `>`.
pub fn check_address(what: &str, addr: &str) -> Result<(), String> {
    if let Some(c) = addr
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || *c == '<' || *c == '>')
    {
        let shown = match c {
            '\r' => "CR".to_string(),
            '\n' => "LF".to_string(),
            '\0' => "NUL".to_string(),
            ' ' => "a space".to_string(),
            c if c.is_control() || c.is_whitespace() => format!("U+{:04X}", u32::from(c)),
            c => format!("'{c}'"),
        };
        return Err(format!("the {what} address may not contain {shown}"));
    }
    Ok(())
}

/// RFC 3461 NOTIFY (the check is proto's), upper-cased as it goes on the wire.
pub fn check_notify(value: &str) -> Result<String, String> {
    command::check_notify(value).map(|()| value.to_ascii_uppercase())
}

/// RFC 3461 RET: `FULL` or `HDRS` (the check is proto's), upper-cased.
pub fn check_ret(value: &str) -> Result<String, String> {
    command::check_ret(value).map(|()| value.to_ascii_uppercase())
}

pub use command::check_envid;

/// A message line to show.
#[derive(Debug, PartialEq, Eq)]
struct ShownLine {
    /// At most [`MAX_SHOWN_LINE`] bytes.
    bytes: Vec<u8>,
    /// The whole line's length.
    len: u64,
}

/// Splits the encoded message (what goes on the wire, CRLF line endings) into lines for
/// display; keeps the first [`MAX_SHOWN_LINES`] and counts the rest.
#[derive(Debug, Default)]
struct Preview {
    line: Vec<u8>,
    line_len: u64,
    /// The last byte was a CR.
    cr: bool,
    shown: u64,
    ready: Vec<ShownLine>,
    hidden_lines: u64,
    hidden_bytes: u64,
}

impl Preview {
    /// Takes encoded bytes (every line ends in CRLF).
    fn push(&mut self, encoded: &[u8]) {
        for (i, &b) in encoded.iter().enumerate() {
            if self.shown >= MAX_SHOWN_LINES {
                // Past the lines shown (each ended, so no line is half counted): the rest is
                // only counted, not walked byte by byte.
                let rest = encoded.get(i..).unwrap_or(&[]);
                self.hidden_bytes = self
                    .hidden_bytes
                    .saturating_add(u64::try_from(rest.len()).unwrap_or(u64::MAX));
                self.hidden_lines = self.hidden_lines.saturating_add(
                    u64::try_from(memchr::memchr_iter(b'\n', rest).count()).unwrap_or(u64::MAX),
                );
                return;
            }
            if self.cr && b == b'\n' {
                self.cr = false;
                self.end_line();
                continue;
            }
            if self.cr {
                // A CR not followed by LF cannot come out of the encoder; keep it as data.
                self.keep(b'\r');
            }
            self.cr = b == b'\r';
            if !self.cr {
                self.keep(b);
            }
        }
    }

    fn keep(&mut self, b: u8) {
        if self.shown < MAX_SHOWN_LINES && self.line.len() < MAX_SHOWN_LINE {
            self.line.push(b);
        }
        self.line_len = self.line_len.saturating_add(1);
    }

    fn end_line(&mut self) {
        let len = std::mem::take(&mut self.line_len);
        if self.shown < MAX_SHOWN_LINES {
            self.shown = self.shown.saturating_add(1);
            self.ready.push(ShownLine {
                bytes: std::mem::take(&mut self.line),
                len,
            });
        } else {
            self.hidden_lines = self.hidden_lines.saturating_add(1);
            self.hidden_bytes = self.hidden_bytes.saturating_add(len).saturating_add(2);
        }
    }

    fn take_ready(&mut self) -> Vec<ShownLine> {
        std::mem::take(&mut self.ready)
    }
}

/// Reads until `buf` is full or the message ends, retrying on interruption, so that a small
/// message is one piece (and goes out in one write with its end). An error after some bytes
/// were read ends the piece (the next read meets it again: a failed read takes nothing).
fn read_piece(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0usize;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) if filled > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A 421: the server is closing the connection (RFC 5321 allows it as the answer to any
/// command).
fn closing(reply: &Reply) -> bool {
    reply.code_value() == Some(421)
}

/// Reads the first piece of a message (before anything of its transaction is sent).
fn first_piece(reader: &mut dyn Read) -> Result<Vec<u8>, String> {
    let mut piece = vec![0u8; READ_PIECE];
    let n = read_piece(reader, &mut piece).map_err(|e| format!("cannot read the message: {e}"))?;
    piece.truncate(n);
    Ok(piece)
}

/// The commands, decided once the capabilities are known.
struct Params {
    /// MAIL's parameters but SIZE=.
    mail_params: Vec<Param>,
    /// Add `SIZE=` (requested and advertised) when the size is known.
    size: bool,
    rcpts: Vec<Command>,
    bdat: bool,
    pipeline: bool,
}

/// Another copy's message for [`Session::send_copy`] (`--count`).
pub struct MessageSource {
    pub reader: Box<dyn Read + Send>,
    /// The size, when known (for `SIZE=`).
    pub size: Option<u64>,
}

impl fmt::Debug for MessageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageSource")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A checked transaction with its commands decided (the capabilities are known), ready to be
/// run once per copy by [`Session::send_copy`].
pub struct Transaction {
    from: String,
    to: Vec<String>,
    all_or_nothing: bool,
    stop_after: Option<Stage>,
    params: Params,
    /// The message of the copy to send next, its size and its first piece (already read).
    message: Box<dyn Read + Send>,
    size: Option<u64>,
    first: Vec<u8>,
    /// The next copy's message could not be read: nothing of it was sent.
    unreadable: Option<String>,
    /// The next copy's MAIL, RCPT (and DATA) already went out, right after the previous
    /// copy's end of data: their replies come first.
    ahead: bool,
    /// Ctrl-C was seen: no copy after the one that ended is to be sent.
    interrupted: bool,
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("ahead", &self.ahead)
            .field("interrupted", &self.interrupted)
            .finish_non_exhaustive()
    }
}

impl Transaction {
    /// Ctrl-C was seen: the copy that just ended is the last one (it was sent whole).
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// The next copy's commands are already on the wire: it must be run (or the connection
    /// closed).
    pub fn ahead(&self) -> bool {
        self.ahead
    }

    /// Whether the commands are pipelined (PIPELINING requested and advertised).
    pub fn pipelined(&self) -> bool {
        self.params.pipeline
    }

    /// MAIL for a message of `size` bytes.
    fn mail(&self, size: Option<u64>) -> Command {
        let mut params = Vec::with_capacity(self.params.mail_params.len().saturating_add(1));
        if let Some(size) = size.filter(|_| self.params.size) {
            params.push(Param::new("SIZE", Some(&size.to_string())));
        }
        params.extend(self.params.mail_params.iter().cloned());
        Command::Mail {
            from: self.from.clone(),
            params,
        }
    }

    /// MAIL, every RCPT and DATA (as far as `stop_after` goes), for a message of `size`.
    fn commands(&self, size: Option<u64>) -> Vec<Command> {
        let mut commands = vec![self.mail(size)];
        if self.stop_after != Some(Stage::Mail) {
            commands.extend(self.params.rcpts.iter().cloned());
            if !self.params.bdat && self.stop_after != Some(Stage::Rcpt) {
                commands.push(Command::Data);
            }
        }
        commands
    }

    /// With `all_or_nothing`, whether a refused recipient aborts the transaction.
    fn abandon(&self, recipients: &Recipients) -> bool {
        self.all_or_nothing && !recipients.refused.is_empty()
    }
}

/// What [`Session::prepare_send`] leads to.
#[derive(Debug)]
pub enum Prepared {
    /// Ready for [`Session::send_copy`].
    Ready(Box<Transaction>),
    /// Over before MAIL: EHLO refused, or `stop_after` EHLO.
    Done(SendOutcome),
}

impl Session {
    /// Runs one mail transaction (see the module documentation). Errors are for what could not
    /// be done: a non-SMTP session, an invalid address or parameter, SMTPUTF8 requested but not
    /// advertised, a message that cannot be read (before anything was sent:
    /// [`SessionError::Command`]; in the middle of the data: the connection is closed and the
    /// error is [`SessionError::Message`]), or the connection. Refusals by the server are
    /// outcomes.
    pub fn send_mail(&mut self, req: SendRequest, sink: Sink) -> Result<SendOutcome, SessionError> {
        match self.prepare_send(req, sink)? {
            Prepared::Done(outcome) => Ok(outcome),
            Prepared::Ready(mut tx) => self.send_copy(&mut tx, None, sink),
        }
    }

    /// Checks the request (nothing is sent when it is wrong), reads the start of the message,
    /// sends EHLO when the capabilities are not known yet and decides the commands.
    pub fn prepare_send(
        &mut self,
        mut req: SendRequest,
        sink: Sink,
    ) -> Result<Prepared, SessionError> {
        if !self.protocol().is_smtp() {
            return Err(invalid(format!(
                "sending a message needs SMTP or LMTP, not {}",
                self.protocol()
            )));
        }
        if !self.is_open() {
            return Err(SessionError::NotConnected);
        }
        if self.input_mode() != InputMode::Command {
            return Err(invalid(
                "finish the message or command in progress before sending another".to_string(),
            ));
        }
        check_address("sender", &req.from).map_err(invalid)?;
        if req.to.is_empty() {
            return Err(invalid("no recipient".to_string()));
        }
        for to in &req.to {
            if to.is_empty() {
                return Err(invalid("a recipient address is empty".to_string()));
            }
            check_address("recipient", to).map_err(invalid)?;
        }
        let notify = req
            .notify
            .as_deref()
            .map(check_notify)
            .transpose()
            .map_err(invalid)?;
        let ret = req
            .ret
            .as_deref()
            .map(check_ret)
            .transpose()
            .map_err(invalid)?;
        if let Some(envid) = &req.envid {
            check_envid(envid).map_err(invalid)?;
        }
        // Read the start of the message now: a file that cannot be read sends nothing.
        let first = first_piece(req.message.as_mut()).map_err(invalid)?;

        if let Some(reply) = self.ensure_capabilities(sink)? {
            if reply.outcome != Outcome::Ok {
                return Ok(Prepared::Done(SendOutcome::Rejected {
                    stage: Stage::Ehlo,
                    reply,
                    recipients: Recipients::default(),
                }));
            }
        }
        if req.stop_after == Some(Stage::Ehlo) {
            return Ok(Prepared::Done(SendOutcome::Stopped(Stage::Ehlo)));
        }
        let params = self.params(&req, notify.as_deref(), ret.as_deref(), sink)?;
        Ok(Prepared::Ready(Box::new(Transaction {
            from: req.from,
            to: req.to,
            all_or_nothing: req.all_or_nothing,
            stop_after: req.stop_after,
            params,
            message: req.message,
            size: req.size,
            first,
            unreadable: None,
            ahead: false,
            interrupted: false,
        })))
    }

    /// Sends one copy: the message `tx` holds. With `next` (another copy follows), that
    /// message is read up to its first piece now and, when pipelining, its MAIL, RCPT and
    /// DATA go out in the same write as this copy's end of data, so that each further copy
    /// costs one round trip. Ctrl-C (seen before this copy's data, or once it ended) makes
    /// this copy the last one: [`Transaction::interrupted`].
    pub fn send_copy(
        &mut self,
        tx: &mut Transaction,
        next: Option<MessageSource>,
        sink: Sink,
    ) -> Result<SendOutcome, SessionError> {
        if let Some(why) = tx.unreadable.take() {
            return Err(invalid(why));
        }
        let more = next.is_some();
        let next = match next {
            Some(mut m) => match first_piece(m.reader.as_mut()) {
                Ok(piece) => Some((m, piece)),
                Err(why) => {
                    tx.unreadable = Some(why);
                    None
                }
            },
            None => None,
        };
        let outcome = self.run_copy(tx, next.as_ref().map(|(m, _)| m.size), sink);
        if let Some((m, piece)) = next {
            tx.message = m.reader;
            tx.size = m.size;
            tx.first = piece;
        }
        let outcome = outcome?;
        if more && !tx.ahead && !tx.interrupted && self.cancel_requested() {
            tx.interrupted = true;
        }
        Ok(outcome)
    }

    /// A wait that Ctrl-C does not cut short, for replies to pipelined commands: cut short,
    /// the replies still due would answer whatever comes next (a 354 would turn the next typed
    /// line into message text). The request stays set and is seen once nothing is due; the
    /// timeout still applies.
    fn wait_firm(&mut self, sink: Sink) -> Result<Reply, SessionError> {
        let flag = self.cancel.take();
        let reply = self.wait(sink);
        self.cancel = flag;
        reply
    }

    /// One transaction. `next_size`: `Some` when another copy follows (its size): its
    /// commands may go out after this copy's end of data.
    fn run_copy(
        &mut self,
        tx: &mut Transaction,
        next_size: Option<Option<u64>>,
        sink: Sink,
    ) -> Result<SendOutcome, SessionError> {
        let use_data = !tx.params.bdat;
        let pipeline = tx.params.pipeline;
        let stop = tx.stop_after;
        let mut recipients = Recipients::default();

        // MAIL, every RCPT, and DATA: the replies in order, whether pipelined or not.
        let commands = tx.commands(tx.size);
        let ahead = std::mem::take(&mut tx.ahead);
        if pipeline && !ahead {
            self.write_commands(&commands, sink)?;
        }
        let mut next = commands.iter();
        let mut reply_to = |s: &mut Session, sink: Sink| -> Result<Reply, SessionError> {
            if pipeline {
                return s.wait_firm(sink);
            }
            match next.next() {
                Some(cmd) => s.command_and_wait(&cmd.line(), sink),
                None => Err(invalid("no command to send".to_string())),
            }
        };
        let mail = reply_to(self, sink)?;
        if closing(&mail) {
            return Ok(self.server_closing(Stage::Mail, mail, recipients, sink));
        }
        let mail_failed = mail.outcome != Outcome::Ok;
        if stop == Some(Stage::Mail) || (mail_failed && !pipeline) {
            return if mail_failed {
                self.rejected(Stage::Mail, mail, recipients, sink)
            } else {
                Ok(SendOutcome::Stopped(Stage::Mail))
            };
        }
        for to in tx.to.iter().take(tx.params.rcpts.len()) {
            let r = reply_to(self, sink)?;
            if r.outcome == Outcome::Ok {
                recipients.accepted.push(to.clone());
            } else if closing(&r) {
                recipients.refused.push((to.clone(), r.clone()));
                return Ok(self.server_closing(Stage::Rcpt, r, recipients, sink));
            } else {
                recipients.refused.push((to.clone(), r));
            }
        }
        let data = if use_data && stop != Some(Stage::Rcpt) {
            // Unpipelined, DATA is sent only when there is someone to deliver to.
            let deliverable = !recipients.accepted.is_empty() && !tx.abandon(&recipients);
            if pipeline || deliverable {
                let r = reply_to(self, sink)?;
                if closing(&r) {
                    return Ok(self.server_closing(Stage::Data, r, recipients, sink));
                }
                Some(r)
            } else {
                None
            }
        } else {
            None
        };
        let go_ahead = data.is_some() && self.input_mode() == InputMode::Message;
        // Nothing may be delivered: end a data phase the server opened anyway.
        if mail_failed || recipients.accepted.is_empty() {
            if go_ahead {
                // RFC 2920 §3.1: no recipient was accepted, so the lone `.` delivers nothing.
                self.end_empty_data(sink)?;
            }
            return match (mail_failed, recipients.refused.first()) {
                (true, _) => self.rejected(Stage::Mail, mail, recipients, sink),
                (false, Some((_, r))) => {
                    let r = r.clone();
                    self.rejected(Stage::Rcpt, r, recipients, sink)
                }
                (false, None) => Err(invalid("no recipient".to_string())),
            };
        }
        if tx.abandon(&recipients) {
            if go_ahead {
                // Ending the data would deliver to the accepted recipients: close instead.
                sink(self.event(EventKind::Warning(
                    "a recipient was refused after the pipelined DATA was accepted: closing the \
                     connection before the end of the data, so that nothing is delivered"
                        .into(),
                )));
                self.close(sink);
                return Ok(SendOutcome::Aborted {
                    recipients,
                    closed: true,
                });
            }
            self.reset(sink);
            return Ok(SendOutcome::Aborted {
                recipients,
                closed: false,
            });
        }
        if stop == Some(Stage::Rcpt) {
            return Ok(SendOutcome::Stopped(Stage::Rcpt));
        }
        if let Some(data) = data {
            if !go_ahead {
                return self.rejected(Stage::Data, data, recipients, sink);
            }
            if stop == Some(Stage::Data) {
                return Ok(SendOutcome::Stopped(Stage::Data));
            }
        }
        // The next copy's commands follow this copy's end of data, unless Ctrl-C came: then
        // this copy, whose data phase is open, is sent whole and is the last one.
        let next_commands = match next_size {
            Some(size) if pipeline && stop.is_none() => {
                if self.cancel_requested() {
                    tx.interrupted = true;
                    None
                } else {
                    Some(tx.commands(size))
                }
            }
            _ => None,
        };
        let then = next_commands.as_deref().unwrap_or(&[]);
        let first = std::mem::take(&mut tx.first);
        self.sending_size = tx.size;
        let (result, sent_ahead) = if use_data {
            self.stream_data(first, tx.message.as_mut(), then, sink)?
        } else {
            self.stream_bdat(first, tx.message.as_mut(), pipeline, then, sink)?
        };
        tx.ahead = sent_ahead;
        let reply = match result {
            Ok(reply) | Err(reply) => reply,
        };
        if sent_ahead && closing(&reply) {
            // The server is closing: the next copy's commands will not be answered.
            self.server_closed(sink);
            tx.ahead = false;
        }
        // After the end of the data the transaction is over whatever the reply; with the next
        // copy's MAIL on the way, RSET would undo that one.
        self.final_outcome(reply, recipients, !sent_ahead, sink)
    }

    /// A 421 before the data: the server is closing the connection, so the replies still
    /// due will not come; the connection is closed.
    fn server_closing(
        &mut self,
        stage: Stage,
        reply: Reply,
        recipients: Recipients,
        sink: Sink,
    ) -> SendOutcome {
        self.server_closed(sink);
        SendOutcome::Rejected {
            stage,
            reply,
            recipients,
        }
    }

    /// The end of the data was answered: in LMTP one reply for each accepted recipient.
    /// `reset`: RSET after a refusal.
    fn final_outcome(
        &mut self,
        reply: Reply,
        mut recipients: Recipients,
        reset: bool,
        sink: Sink,
    ) -> Result<SendOutcome, SessionError> {
        if self.protocol() == Protocol::Lmtp && !reply.parts.is_empty() {
            let accepted = std::mem::take(&mut recipients.accepted);
            for (to, part) in accepted.into_iter().zip(reply.parts.iter()) {
                if part.outcome == Outcome::Ok {
                    recipients.accepted.push(to);
                } else {
                    recipients.refused.push((to, part.clone()));
                }
            }
            if recipients.accepted.is_empty() {
                return Ok(SendOutcome::Rejected {
                    stage: Stage::Message,
                    reply,
                    recipients,
                });
            }
            let last_ok = reply
                .parts
                .iter()
                .rev()
                .find(|p| p.outcome == Outcome::Ok)
                .cloned()
                .unwrap_or(reply);
            return Ok(SendOutcome::Accepted {
                reply: last_ok,
                recipients,
            });
        }
        if reply.outcome == Outcome::Ok {
            Ok(SendOutcome::Accepted { reply, recipients })
        } else if reset {
            self.rejected(Stage::Message, reply, recipients, sink)
        } else {
            Ok(SendOutcome::Rejected {
                stage: Stage::Message,
                reply,
                recipients,
            })
        }
    }

    /// After a 354 with no recipient accepted: the lone `.`, and its reply.
    fn end_empty_data(&mut self, sink: Sink) -> Result<(), SessionError> {
        let end = self.machine.command(b".")?;
        self.write(&end.wire, &end.display, false, true, sink)?;
        self.wait(sink)?;
        Ok(())
    }

    /// MAIL and RCPT from the request and the capabilities, with warnings for what is left
    /// out.
    fn params(
        &mut self,
        req: &SendRequest,
        notify: Option<&str>,
        ret: Option<&str>,
        sink: Sink,
    ) -> Result<Params, SessionError> {
        let caps = self.machine.capabilities().clone();
        let mut warn = |s: &mut Session, text: String| sink(s.event(EventKind::Warning(text)));
        if req.smtputf8 && !caps.has("SMTPUTF8") {
            return Err(invalid(
                "SMTPUTF8 was requested but the server does not advertise it; MAIL was not sent"
                    .to_string(),
            ));
        }
        if !req.smtputf8 && (!req.from.is_ascii() || req.to.iter().any(|t| !t.is_ascii())) {
            warn(
                self,
                "an address has non-ASCII characters but SMTPUTF8 was not requested".to_string(),
            );
        }
        let mut mail_params = Vec::new();
        if req.size_param {
            match (req.size, caps.has("SIZE")) {
                (Some(size), true) => {
                    let limit = caps
                        .value("SIZE")
                        .and_then(|n| n.parse::<u64>().ok())
                        .filter(|n| *n > 0);
                    if let Some(limit) = limit.filter(|l| size > *l) {
                        warn(
                            self,
                            format!(
                                "the message ({size} bytes) is larger than the server's limit \
                                 ({limit} bytes)"
                            ),
                        );
                    }
                }
                (Some(_), false) => warn(
                    self,
                    "the server does not advertise SIZE; SIZE= left out".to_string(),
                ),
                (None, _) => {}
            }
        }
        if req.eight_bit {
            if caps.has("8BITMIME") {
                mail_params.push(Param::new("BODY", Some("8BITMIME")));
            } else {
                warn(
                    self,
                    "the server does not advertise 8BITMIME; BODY=8BITMIME left out".to_string(),
                );
            }
        }
        if req.smtputf8 {
            mail_params.push(Param::new("SMTPUTF8", None));
        }
        let dsn = caps.has("DSN");
        let mut dsn_dropped = Vec::new();
        if let Some(ret) = ret {
            if dsn {
                mail_params.push(Param::new("RET", Some(ret)));
            } else {
                dsn_dropped.push("RET=");
            }
        }
        if let Some(envid) = &req.envid {
            if dsn {
                mail_params.push(Param::new("ENVID", Some(envid)));
            } else {
                dsn_dropped.push("ENVID=");
            }
        }
        let rcpt_params = match notify {
            Some(n) if dsn => vec![Param::new("NOTIFY", Some(n))],
            Some(_) => {
                dsn_dropped.push("NOTIFY=");
                Vec::new()
            }
            None => Vec::new(),
        };
        if !dsn_dropped.is_empty() {
            warn(
                self,
                format!(
                    "the server does not advertise DSN; {} left out",
                    dsn_dropped.join(", ")
                ),
            );
        }
        let rcpts = req
            .to
            .iter()
            .map(|to| Command::Rcpt {
                to: to.clone(),
                params: rcpt_params.clone(),
            })
            .collect();
        let bdat = req.bdat && caps.has("CHUNKING");
        if req.bdat && !bdat {
            warn(
                self,
                "the server does not advertise CHUNKING; using DATA instead of BDAT".to_string(),
            );
        }
        // Stopping after DATA needs the DATA command.
        let bdat = bdat && req.stop_after != Some(Stage::Data);
        let pipeline = (req.pipeline || req.pipeline_if_offered) && caps.has("PIPELINING");
        if req.pipeline && !pipeline {
            warn(
                self,
                "the server does not advertise PIPELINING; sending one command at a time"
                    .to_string(),
            );
        }
        Ok(Params {
            mail_params,
            size: req.size_param && caps.has("SIZE"),
            rcpts,
            bdat,
            pipeline,
        })
    }

    /// Several commands in one write (pipelining), each reported as sent.
    fn write_commands(&mut self, commands: &[Command], sink: Sink) -> Result<(), SessionError> {
        let mut wire = Vec::new();
        let shown = self.queue_commands(commands, &mut wire)?;
        self.write_raw(&wire, sink)?;
        self.show_sent(shown, sink);
        Ok(())
    }

    /// RSET after a failure (a failing RSET is reported as a warning; if the connection cannot
    /// go on it is closed).
    fn reset(&mut self, sink: Sink) {
        if !self.is_open() || self.input_mode() != InputMode::Command {
            return;
        }
        if let Err(e) = self.command_and_wait(&Command::Rset.line(), sink) {
            sink(self.event(EventKind::Warning(format!(
                "RSET after the rejection failed: {e}"
            ))));
            if e.is_fatal() {
                self.close(sink);
            }
        }
    }

    /// Reports a rejection after resetting the transaction with RSET (not after a 421: the
    /// server is closing).
    fn rejected(
        &mut self,
        stage: Stage,
        reply: Reply,
        recipients: Recipients,
        sink: Sink,
    ) -> Result<SendOutcome, SessionError> {
        let closing = reply.code_value() == Some(421);
        if stage != Stage::Ehlo && !closing {
            self.reset(sink);
        }
        Ok(SendOutcome::Rejected {
            stage,
            reply,
            recipients,
        })
    }

    /// Reports the lines the preview has ready.
    fn show_lines(&mut self, preview: &mut Preview, sink: Sink) {
        for line in preview.take_ready() {
            let cut = usize::try_from(line.len).map_or(true, |l| l > line.bytes.len());
            sink(self.event(EventKind::Sent {
                display: line.bytes,
                secret: false,
                content: true,
            }));
            if cut {
                sink(self.event(EventKind::Info(format!(
                    "line cut: {} bytes sent, the first {MAX_SHOWN_LINE} shown",
                    line.len
                ))));
            }
        }
    }

    fn show_summary(&mut self, preview: &Preview, sink: Sink) {
        if preview.hidden_lines > 0 {
            sink(self.event(EventKind::Info(format!(
                "… {} more lines ({} bytes) sent",
                preview.hidden_lines, preview.hidden_bytes
            ))));
        }
    }

    /// A read error in the middle of the data: close so that a truncated message is not
    /// delivered.
    /// Reports how much of the message went out (bytes of the message as read, before
    /// stuffing).
    fn sent_so_far(&self, done: u64, finished: bool, sink: Sink) {
        sink(self.event(EventKind::Progress(Progress {
            sending: true,
            done,
            total: self.sending_size,
            finished,
        })));
    }

    fn abort_message(&mut self, sent: u64, e: &std::io::Error, sink: Sink) -> SessionError {
        self.sent_so_far(sent, true, sink);
        self.close(sink);
        SessionError::Message(format!(
            "{e} after {sent} bytes; the connection was closed so that a truncated message is \
             not delivered"
        ))
    }

    /// An interrupt in the middle of the data: close, so that nothing is delivered.
    fn interrupted_message(&mut self, sent: u64, sink: Sink) -> SessionError {
        self.sent_so_far(sent, true, sink);
        self.close(sink);
        SessionError::Cancelled(format!(
            "interrupted after {sent} bytes of the message: the connection was closed before \
             the end of the data, so nothing is delivered"
        ))
    }

    /// Registers `commands` with the machine and appends their wire bytes to `out`; what to
    /// report as sent once written.
    fn queue_commands(
        &mut self,
        commands: &[Command],
        out: &mut Vec<u8>,
    ) -> Result<Vec<(Vec<u8>, bool)>, SessionError> {
        let mut shown = Vec::with_capacity(commands.len());
        for cmd in commands {
            let o = self.machine.command(&cmd.line())?;
            out.extend_from_slice(&o.wire);
            shown.push((o.display, o.secret));
        }
        Ok(shown)
    }

    fn show_sent(&mut self, shown: Vec<(Vec<u8>, bool)>, sink: Sink) {
        for (display, secret) in shown {
            sink(self.event(EventKind::Sent {
                display,
                secret,
                content: false,
            }));
        }
    }

    /// After 354: streams the message dot-stuffed and ends it, with `then` (the next copy's
    /// commands) in the same write as the end; returns the final reply (`Ok`) — the caller
    /// checks its outcome — and whether `then` was sent. Each piece goes out once the next
    /// one is read, so the last one travels with the end of the data.
    fn stream_data(
        &mut self,
        first: Vec<u8>,
        reader: &mut dyn Read,
        then: &[Command],
        sink: Sink,
    ) -> Result<(Result<Reply, Reply>, bool), SessionError> {
        let mut encoder = Encoder::new(Stuffing::Dots);
        let mut preview = Preview::default();
        let mut out = Vec::with_capacity(READ_PIECE.saturating_mul(2));
        let mut buf = vec![0u8; READ_PIECE];
        let mut piece = first;
        let mut read_total = u64::try_from(piece.len()).unwrap_or(u64::MAX);
        while !piece.is_empty() {
            encoder.push(&piece, &mut out);
            let n = match read_piece(reader, &mut buf) {
                Ok(n) => n,
                Err(e) => return Err(self.abort_message(read_total, &e, sink)),
            };
            if n == 0 {
                break;
            }
            preview.push(&out);
            self.write_raw(&out, sink)?;
            out.clear();
            self.show_lines(&mut preview, sink);
            self.sent_so_far(read_total, false, sink);
            if self.cancel_requested() {
                return Err(self.interrupted_message(read_total, sink));
            }
            read_total = read_total.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
            piece.clear();
            piece.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        }
        // The `.` line is the machine's, so that it awaits the reply.
        encoder.end_lines(&mut out);
        preview.push(&out);
        let end = self.machine.command(b".")?;
        out.extend_from_slice(&end.wire);
        let ahead = self.queue_commands(then, &mut out)?;
        let sent_ahead = !ahead.is_empty();
        self.write_raw(&out, sink)?;
        self.sent_so_far(read_total, true, sink);
        self.show_lines(&mut preview, sink);
        self.show_summary(&preview, sink);
        sink(self.event(EventKind::Sent {
            display: end.display,
            secret: false,
            content: true,
        }));
        self.show_sent(ahead, sink);
        let reply = if sent_ahead {
            self.wait_firm(sink)?
        } else {
            self.wait(sink)?
        };
        Ok((Ok(reply), sent_ahead))
    }

    /// Sends one BDAT chunk: the command, the data and `then` (commands that follow it) in
    /// one write.
    fn send_chunk(
        &mut self,
        chunk: &[u8],
        last: bool,
        then: &[Command],
        preview: &mut Preview,
        sink: Sink,
    ) -> Result<(), SessionError> {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        let line = Command::Bdat { size: len, last }.line();
        let out = self.machine.command(&line)?;
        if !chunk.is_empty() && !self.machine.chunk_sent(len)? {
            return Err(invalid("the BDAT chunk was not accounted for".to_string()));
        }
        let mut wire = out.wire;
        wire.extend_from_slice(chunk);
        let ahead = self.queue_commands(then, &mut wire)?;
        self.write_raw(&wire, sink)?;
        sink(self.event(EventKind::Sent {
            display: out.display,
            secret: false,
            content: false,
        }));
        preview.push(chunk);
        self.show_lines(preview, sink);
        if last {
            self.show_summary(preview, sink);
        }
        self.show_sent(ahead, sink);
        Ok(())
    }

    /// Streams the message in BDAT chunks. Without pipelining each chunk's reply is awaited
    /// before the next chunk; with it, one more chunk may be in flight, and `then` (the next
    /// copy's commands) follows the LAST chunk when no other chunk is unanswered. Returns the
    /// reply to the LAST chunk (`Ok`), or the first refused chunk's reply (`Err`) after
    /// reading every reply still due, and whether `then` was sent.
    fn stream_bdat(
        &mut self,
        first: Vec<u8>,
        reader: &mut dyn Read,
        pipeline: bool,
        then: &[Command],
        sink: Sink,
    ) -> Result<(Result<Reply, Reply>, bool), SessionError> {
        let window = if pipeline { 2usize } else { 1 };
        let mut encoder = Encoder::new(Stuffing::None);
        let mut preview = Preview::default();
        let mut pending: Vec<u8> = Vec::with_capacity(BDAT_CHUNK.saturating_add(READ_PIECE));
        let mut buf = vec![0u8; READ_PIECE];
        let mut piece = first;
        let mut read_total = u64::try_from(piece.len()).unwrap_or(u64::MAX);
        let mut in_flight = 0usize;
        let mut failure: Option<Reply> = None;
        // Pipelined, a reply may be followed by another one already due.
        let wait = |s: &mut Session, sink: Sink| {
            if pipeline {
                s.wait_firm(sink)
            } else {
                s.wait(sink)
            }
        };
        while !piece.is_empty() {
            encoder.push(&piece, &mut pending);
            // Strictly more than a chunk: the LAST chunk is never empty unless the message is.
            while pending.len() > BDAT_CHUNK && failure.is_none() {
                let chunk = pending.get(..BDAT_CHUNK).unwrap_or(&[]);
                self.send_chunk(chunk, false, &[], &mut preview, sink)?;
                pending.drain(..BDAT_CHUNK);
                self.sent_so_far(
                    read_total.saturating_sub(u64::try_from(pending.len()).unwrap_or(0)),
                    false,
                    sink,
                );
                in_flight = in_flight.saturating_add(1);
                while in_flight >= window {
                    let r = wait(self, sink)?;
                    in_flight = in_flight.saturating_sub(1);
                    if r.outcome != Outcome::Ok && failure.is_none() {
                        failure = Some(r);
                    }
                }
            }
            if failure.is_some() {
                break;
            }
            if self.cancel_requested() {
                return Err(self.interrupted_message(read_total, sink));
            }
            let n = match read_piece(reader, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    // A chunk boundary is not the end of the message: close rather than
                    // sending a LAST chunk of a truncated message.
                    return Err(self.abort_message(read_total, &e, sink));
                }
            };
            read_total = read_total.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
            piece.clear();
            piece.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        }
        let mut sent_ahead = false;
        if failure.is_none() {
            encoder.finish(&mut pending);
            let then = if in_flight == 0 { then } else { &[] };
            self.send_chunk(&pending, true, then, &mut preview, sink)?;
            sent_ahead = !then.is_empty();
            in_flight = in_flight.saturating_add(1);
        }
        self.sent_so_far(read_total, true, sink);
        let mut last = None;
        while in_flight > 0 {
            let r = if sent_ahead {
                self.wait_firm(sink)?
            } else {
                wait(self, sink)?
            };
            in_flight = in_flight.saturating_sub(1);
            if r.outcome != Outcome::Ok && failure.is_none() {
                failure = Some(r.clone());
            }
            last = Some(r);
        }
        match (failure, last) {
            (Some(f), _) => Ok((Err(f), sent_ahead)),
            (None, Some(r)) => Ok((Ok(r), sent_ahead)),
            (None, None) => Err(invalid("no reply to the last BDAT chunk".to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::Event;
    use crate::engine::mock::{connect, infos, options, sent, warnings, Conn, Fake};
    use std::time::Duration;

    fn request(to: &[&str], message: &[u8]) -> SendRequest {
        SendRequest {
            from: "a@example.org".into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            message: Box::new(std::io::Cursor::new(message.to_vec())),
            size: Some(message.len() as u64),
            eight_bit: false,
            smtputf8: false,
            notify: None,
            ret: None,
            envid: None,
            size_param: false,
            bdat: false,
            pipeline: false,
            pipeline_if_offered: false,
            all_or_nothing: false,
            stop_after: None,
        }
    }

    fn count(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).filter(|w| *w == needle).count()
    }

    /// The content lines shown (Sent with content: true).
    fn content(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Sent {
                    display,
                    content: true,
                    ..
                } => Some(String::from_utf8_lossy(display).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn greet_ehlo(c: &mut Conn, caps: &[u8]) {
        c.send(b"220 mx.example ESMTP\r\n");
        c.expect(b"EHLO client.test");
        c.send(caps);
    }

    #[test]
    fn parameter_checks() {
        assert_eq!(check_address("sender", ""), Ok(()));
        assert_eq!(check_address("sender", "a@b.example"), Ok(()));
        assert_eq!(check_address("recipient", "jörg@b.example"), Ok(()));
        for (addr, want) in [
            ("a b@c", "the recipient address may not contain a space"),
            (
                "a\r\nRCPT TO:<x>",
                "the recipient address may not contain CR",
            ),
            ("a\n", "the recipient address may not contain LF"),
            ("a\0", "the recipient address may not contain NUL"),
            ("<a@b>", "the recipient address may not contain '<'"),
            ("a@b>", "the recipient address may not contain '>'"),
            ("a\t@b", "the recipient address may not contain U+0009"),
            ("a\u{85}@b", "the recipient address may not contain U+0085"),
        ] {
            assert_eq!(check_address("recipient", addr), Err(want.to_string()));
        }
        assert_eq!(check_notify("never"), Ok("NEVER".into()));
        assert_eq!(
            check_notify("success,Failure"),
            Ok("SUCCESS,FAILURE".into())
        );
        assert_eq!(check_notify("DELAY"), Ok("DELAY".into()));
        for bad in [
            "",
            "NEVER,SUCCESS",
            "SUCCESS,,DELAY",
            "SUCCESS FAILURE",
            "DELAY,DELAY",
            "x",
        ] {
            assert!(check_notify(bad).is_err(), "{bad}");
        }
        assert_eq!(check_ret("hdrs"), Ok("HDRS".into()));
        assert_eq!(check_ret("FULL"), Ok("FULL".into()));
        assert!(check_ret("FULL ").is_err());
        assert_eq!(check_envid("QQ314159"), Ok(()));
        assert_eq!(check_envid("a+2Bb+3D"), Ok(()));
        for bad in [
            "",
            "a b",
            "a=b",
            "a+2",
            "a+2b",
            "a+ZZ",
            "é",
            "a\r\n",
            &"x".repeat(101),
        ] {
            assert!(check_envid(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_envid(&"x".repeat(100)), Ok(()));
    }

    #[test]
    fn bdat_encoding_and_preview_agree_with_the_stuffer() {
        let input: &[u8] = b".a\nb\rc\r\n\r\rd";
        let mut out = Vec::new();
        let mut n = Encoder::new(Stuffing::None);
        for b in input {
            n.push(std::slice::from_ref(b), &mut out);
        }
        n.finish(&mut out);
        assert_eq!(out, b".a\r\nb\r\nc\r\n\r\n\r\nd\r\n");
        let mut empty = Vec::new();
        Encoder::new(Stuffing::None).finish(&mut empty);
        assert!(empty.is_empty());

        // The preview shows the lines as they go on the wire, split anywhere.
        let mut p = Preview::default();
        p.push(&out[..3]);
        p.push(&out[3..]);
        let lines: Vec<&[u8]> = p.ready.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(lines, vec![&b".a"[..], b"b", b"c", b"", b"", b"d"]);
        let stuffed = crate::proto::dot::stuff(input);
        assert_eq!(stuffed, b"..a\r\nb\r\nc\r\n\r\n\r\nd\r\n.\r\n");
        let mut p = Preview::default();
        for b in &stuffed {
            p.push(std::slice::from_ref(b));
        }
        let lines: Vec<&[u8]> = p.ready.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(lines, vec![&b"..a"[..], b"b", b"c", b"", b"", b"d", b"."]);
    }

    #[test]
    fn preview_caps_lines_and_counts_the_rest() {
        let mut p = Preview::default();
        let mut data = Vec::new();
        data.extend_from_slice(&vec![b'x'; 1500]);
        data.extend_from_slice(b"\n");
        for i in 0..250 {
            data.extend_from_slice(format!("line {i}\r\n").as_bytes());
        }
        data.extend_from_slice(b"tail");
        let mut encoded = Vec::new();
        let mut e = Encoder::new(Stuffing::Dots);
        e.push(&data, &mut encoded);
        e.finish(&mut encoded);
        p.push(encoded.strip_suffix(b".\r\n").unwrap());
        assert_eq!(p.ready.len(), 200);
        assert_eq!(p.ready[0].bytes.len(), MAX_SHOWN_LINE);
        assert_eq!(p.ready[0].len, 1500);
        assert_eq!(p.ready[199].bytes, b"line 198");
        // Lines 199..=249 and "tail".
        assert_eq!(p.hidden_lines, 52);
        let hidden: u64 = (199..250)
            .map(|i| format!("line {i}\r\n").len() as u64)
            .sum();
        assert_eq!(p.hidden_bytes, hidden + 6);
    }

    const EHLO: &[u8] =
        b"250-mx.example\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";

    #[test]
    fn exact_wire_of_a_transaction() {
        let message: &[u8] = b"Subject: t\n\n.leading dot\n..two\nbare\rcr\r\n.\nno final newline";
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, EHLO);
            c.expect(b"MAIL FROM:<a@example.org> SIZE=58 BODY=8BITMIME");
            c.send(b"250 2.1.0 Ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 2.1.5 Ok\r\n");
            c.expect(b"RCPT TO:<c@example.org>");
            c.send(b"250 2.1.5 Ok\r\n");
            c.expect(b"DATA");
            c.send(b"354 go ahead\r\n");
            let data = c.data();
            assert_eq!(count(&data, b"\r\n.\r\n"), 1);
            c.send(b"250 2.0.0 queued as 1234\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org", "c@example.org"], message);
        r.size_param = true;
        r.eight_bit = true;
        let out = s.send_mail(r, &mut |e| ev.push(e)).unwrap();
        match &out {
            SendOutcome::Accepted { reply, recipients } => {
                assert_eq!(reply.code_value(), Some(250));
                assert_eq!(recipients.accepted, vec!["b@example.org", "c@example.org"]);
                assert!(recipients.refused.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert!(out.fully_accepted());
        assert_eq!(s.input_mode(), InputMode::Command);
        // The progress of the message: the bytes read, up to all of them, then finished.
        let progress: Vec<Progress> = ev
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Progress(p) => Some(*p),
                _ => None,
            })
            .collect();
        assert_eq!(
            progress.last(),
            Some(&Progress {
                sending: true,
                done: 58,
                total: Some(58),
                finished: true,
            })
        );
        assert!(progress
            .iter()
            .rev()
            .skip(1)
            .all(|p| p.sending && !p.finished));
        let wire = fake.join();
        let want: &[u8] = b"EHLO client.test\r\n\
            MAIL FROM:<a@example.org> SIZE=58 BODY=8BITMIME\r\n\
            RCPT TO:<b@example.org>\r\n\
            RCPT TO:<c@example.org>\r\n\
            DATA\r\n\
            Subject: t\r\n\r\n..leading dot\r\n...two\r\nbare\r\ncr\r\n..\r\nno final newline\r\n.\r\n";
        assert_eq!(
            String::from_utf8_lossy(&wire),
            String::from_utf8_lossy(want)
        );
        assert_eq!(count(&wire, b"\r\n.\r\n"), 1);
        assert_eq!(
            content(&ev),
            // As they went on the wire: dot-stuffed.
            vec![
                "Subject: t",
                "",
                "..leading dot",
                "...two",
                "bare",
                "cr",
                "..",
                "no final newline",
                "."
            ]
        );
        assert_eq!(
            sent(&ev)[..5],
            [
                "EHLO client.test",
                "MAIL FROM:<a@example.org> SIZE=58 BODY=8BITMIME",
                "RCPT TO:<b@example.org>",
                "RCPT TO:<c@example.org>",
                "DATA"
            ]
        );
        assert!(warnings(&ev).is_empty());
    }

    #[test]
    fn message_that_ends_with_crlf_gets_no_extra_line() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250 mx.example\r\n");
            c.expect(b"MAIL FROM:<>");
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.send(b"250 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"x\r\n");
        r.from = String::new();
        r.size_param = true;
        r.eight_bit = true;
        assert!(matches!(
            s.send_mail(r, &mut |e| ev.push(e)).unwrap(),
            SendOutcome::Accepted { .. }
        ));
        fake.join();
        assert_eq!(
            warnings(&ev),
            vec![
                "the server does not advertise SIZE; SIZE= left out",
                "the server does not advertise 8BITMIME; BODY=8BITMIME left out"
            ]
        );
    }

    #[test]
    fn empty_message_is_only_the_terminator() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250 mx.example\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            assert_eq!(c.data(), b".\r\n");
            c.send(b"250 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let out = s
            .send_mail(request(&["b@example.org"], b""), &mut |e| ev.push(e))
            .unwrap();
        assert!(matches!(out, SendOutcome::Accepted { .. }));
        fake.join();
        assert_eq!(content(&ev), vec!["."]);
    }

    /// Runs a transaction against a server that refuses at `refuse` and checks RSET follows.
    fn rejection(refuse: Stage) {
        let fake = Fake::start(move |c: &mut Conn| {
            greet_ehlo(c, EHLO);
            c.expect(b"MAIL FROM:<a@example.org>");
            if refuse == Stage::Mail {
                c.send(b"553 5.1.8 bad sender\r\n");
            } else {
                c.send(b"250 ok\r\n");
                c.expect(b"RCPT TO:<b@example.org>");
                c.send(b"250 ok\r\n");
                c.expect(b"RCPT TO:<c@example.org>");
                c.send(b"250 ok\r\n");
                c.expect(b"RCPT TO:<d@example.org>");
                c.send(b"250 ok\r\n");
                c.expect(b"DATA");
                if refuse == Stage::Data {
                    c.send(b"554 5.5.1 no valid recipients\r\n");
                } else {
                    c.send(b"354 go\r\n");
                    assert_eq!(c.data(), b"hi\r\n.\r\n");
                    c.send(b"552 5.3.4 too big\r\n");
                }
            }
            c.expect(b"RSET");
            c.send(b"250 2.0.0 reset\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let r = request(&["b@example.org", "c@example.org", "d@example.org"], b"hi");
        let out = s.send_mail(r, &mut |e| ev.push(e)).unwrap();
        let want_code = match refuse {
            Stage::Mail => 553,
            Stage::Data => 554,
            _ => 552,
        };
        match out {
            SendOutcome::Rejected { stage, reply, .. } => {
                assert_eq!(stage, refuse);
                assert_eq!(reply.code_value(), Some(want_code));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.input_mode(), InputMode::Command);
        assert_eq!(s.last_reply().and_then(|r| r.code_value()), Some(250));
        fake.join();
        assert_eq!(sent(&ev).last().map(String::as_str), Some("RSET"));
    }

    /// A server that refuses `c@example.org` at RCPT and accepts b and d.
    fn one_refused(c: &mut Conn) {
        greet_ehlo(c, EHLO);
        c.expect(b"MAIL FROM:<a@example.org>");
        c.send(b"250 ok\r\n");
        c.expect(b"RCPT TO:<b@example.org>");
        c.send(b"250 ok\r\n");
        c.expect(b"RCPT TO:<c@example.org>");
        c.send(b"550 5.1.1 no such user\r\n");
        c.expect(b"RCPT TO:<d@example.org>");
        c.send(b"250 ok\r\n");
    }

    #[test]
    fn rejected_at_one_rcpt() {
        // The message goes to the recipients the server accepted; the refused one is named.
        let fake = Fake::start(|c: &mut Conn| {
            one_refused(c);
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            assert_eq!(c.data(), b"hi\r\n.\r\n");
            c.send(b"250 2.0.0 queued\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let r = request(&["b@example.org", "c@example.org", "d@example.org"], b"hi");
        let out = s.send_mail(r, &mut |e| ev.push(e)).unwrap();
        match &out {
            SendOutcome::Accepted { reply, recipients } => {
                assert_eq!(reply.code_value(), Some(250));
                assert_eq!(recipients.accepted, vec!["b@example.org", "d@example.org"]);
                assert_eq!(recipients.refused.len(), 1);
                assert_eq!(recipients.refused[0].0, "c@example.org");
                assert_eq!(
                    recipients.refused[0].1.last_text(),
                    "550 5.1.1 no such user"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(!out.fully_accepted());
        fake.join();
    }

    #[test]
    fn one_refused_rcpt_with_all_or_nothing_resets_before_data() {
        let fake = Fake::start(|c: &mut Conn| {
            one_refused(c);
            c.expect(b"RSET");
            c.send(b"250 2.0.0 reset\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(
            &["b@example.org", "c@example.org", "d@example.org"],
            b"secret body",
        );
        r.all_or_nothing = true;
        let out = s.send_mail(r, &mut |e| ev.push(e)).unwrap();
        assert!(
            matches!(&out, SendOutcome::Aborted { closed: false, recipients } if recipients.refused.len() == 1),
            "{out:?}"
        );
        assert!(s.is_open());
        let wire = fake.join();
        assert_eq!(count(&wire, b"secret body"), 0);
        assert_eq!(count(&wire, b"DATA"), 0);
    }

    #[test]
    fn no_recipient_accepted_is_rejected_at_rcpt_without_data() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, EHLO);
            c.expect(b"MAIL FROM:<a@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"550 5.1.1 no b\r\n");
            c.expect(b"RCPT TO:<c@example.org>");
            c.send(b"501 5.1.3 bad c\r\n");
            c.expect(b"RSET");
            c.send(b"250 2.0.0 reset\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let r = request(&["b@example.org", "c@example.org"], b"x");
        match s.send_mail(r, &mut |e| ev.push(e)).unwrap() {
            SendOutcome::Rejected {
                stage,
                reply,
                recipients,
            } => {
                assert_eq!(stage, Stage::Rcpt);
                assert_eq!(reply.last_text(), "550 5.1.1 no b");
                assert_eq!(recipients.refused.len(), 2);
                assert!(recipients.accepted.is_empty());
            }
            other => panic!("{other:?}"),
        }
        fake.join();
    }

    #[test]
    fn rejected_at_mail() {
        rejection(Stage::Mail);
    }

    #[test]
    fn rejected_at_data() {
        rejection(Stage::Data);
    }

    #[test]
    fn rejected_at_end_of_data() {
        rejection(Stage::Message);
    }

    #[test]
    fn no_rset_after_421() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, EHLO);
            c.expect(b"MAIL FROM:<a@example.org>");
            c.send(b"421 4.3.2 shutting down\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let out = s
            .send_mail(request(&["b@example.org"], b"x"), &mut |e| ev.push(e))
            .unwrap();
        assert!(matches!(
            out,
            SendOutcome::Rejected {
                stage: Stage::Mail,
                ..
            }
        ));
        // The server is closing: so is the client, with nothing more said.
        assert!(!s.is_open());
        fake.join();
    }

    #[test]
    fn lmtp_two_recipients() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 lmtp.example LMTP\r\n");
            c.expect(b"LHLO client.test");
            c.send(b"250-lmtp.example\r\n250 8BITMIME\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<c@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            assert_eq!(c.data(), b"hi\r\n.\r\n");
            c.send(b"250 2.0.0 <b@example.org> delivered\r\n");
            c.send(b"452 4.2.2 <c@example.org> over quota\r\n");
            // b has the message: nothing to reset.
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Lmtp, &fake, &mut ev);
        let out = s
            .send_mail(
                request(&["b@example.org", "c@example.org"], b"hi\n"),
                &mut |e| ev.push(e),
            )
            .unwrap();
        match &out {
            SendOutcome::Accepted { reply, recipients } => {
                assert_eq!(reply.last_text(), "250 2.0.0 <b@example.org> delivered");
                assert_eq!(recipients.accepted, vec!["b@example.org"]);
                assert_eq!(recipients.refused.len(), 1);
                let (to, r) = &recipients.refused[0];
                assert_eq!(to, "c@example.org");
                assert_eq!(r.outcome, Outcome::TempFail);
                assert_eq!(r.code_value(), Some(452));
            }
            other => panic!("{other:?}"),
        }
        assert!(!out.fully_accepted());
        fake.join();
        // Both per-recipient replies were read before the outcome.
        let replies = ev
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::Received(l) if l.bytes.starts_with(b"250 2.0.0 <b")))
            .count();
        assert_eq!(replies, 1);
    }

    #[test]
    fn lmtp_all_delivered() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 lmtp.example LMTP\r\n");
            c.expect(b"LHLO client.test");
            c.send(b"250-lmtp.example\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"RCPT TO:<c@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"hi\r\n.\r\n");
            c.send(b"250 2.0.0 b ok\r\n250 2.0.0 c ok\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Lmtp, &fake, &mut ev);
        let mut r = request(&["b@example.org", "c@example.org"], b"hi");
        r.pipeline = true;
        match s.send_mail(r, &mut |e| ev.push(e)).unwrap() {
            SendOutcome::Accepted { reply, recipients } => {
                assert_eq!(reply.last_text(), "250 2.0.0 c ok");
                assert_eq!(recipients.accepted.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert!(!s.machine.awaiting());
        fake.join();
    }

    #[test]
    fn pipelining_sends_mail_to_data_in_one_go() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250 PIPELINING\r\n");
            // Every command arrives before any reply is sent: a client that waited for the
            // MAIL reply would time out here.
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"RCPT TO:<c@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"body\r\n.\r\n");
            c.send(b"250 queued\r\n");
        });
        let mut ev = Vec::new();
        let opts = options(Protocol::Smtp, Duration::from_secs(3));
        let mut s = Session::over(Box::new(fake.stream()), opts, &mut |e| ev.push(e)).unwrap();
        let mut r = request(&["b@example.org", "c@example.org"], b"body\n");
        r.pipeline = true;
        assert!(matches!(
            s.send_mail(r, &mut |e| ev.push(e)).unwrap(),
            SendOutcome::Accepted { .. }
        ));
        fake.join();
        // The four commands were reported sent before the first reply to them.
        let kinds: Vec<&str> = ev
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Sent { content: false, .. } => Some("sent"),
                EventKind::Reply(_) => Some("reply"),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "reply", "sent", "reply", "sent", "sent", "sent", "sent", "reply", "reply",
                "reply", "reply", "reply"
            ]
        );
    }

    #[test]
    fn pipelining_with_a_refused_recipient_sends_to_the_others() {
        // RFC 2920's lone dot is only for no recipient accepted: here c gets the message.
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<bad@>");
            c.expect(b"RCPT TO:<c@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n501 5.1.3 Bad recipient address syntax\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"the body\r\n.\r\n");
            c.send(b"250 2.0.0 queued\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["bad@", "c@example.org"], b"the body");
        r.pipeline = true;
        let out = s.send_mail(r, &mut |e| ev.push(e)).unwrap();
        match &out {
            SendOutcome::Accepted { recipients, .. } => {
                assert_eq!(recipients.accepted, vec!["c@example.org"]);
                assert_eq!(recipients.refused[0].0, "bad@");
                assert_eq!(
                    recipients.refused[0].1.last_text(),
                    "501 5.1.3 Bad recipient address syntax"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(!out.fully_accepted());
        assert_eq!(s.input_mode(), InputMode::Command);
        let wire = fake.join();
        // The whole message, once; never an empty one.
        assert_eq!(count(&wire, b"the body"), 1);
        assert_eq!(count(&wire, b"DATA\r\n.\r\n"), 0);
    }

    #[test]
    fn pipelining_with_all_or_nothing_closes_after_354_so_nothing_is_delivered() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<bad@>");
            c.expect(b"RCPT TO:<c@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n501 5.1.3 Bad recipient address syntax\r\n250 ok\r\n354 go\r\n");
            // The client closes without ending the data.
            assert_eq!(c.rest(), b"");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["bad@", "c@example.org"], b"secret body");
        r.pipeline = true;
        r.all_or_nothing = true;
        let out = s.send_mail(r, &mut |e| ev.push(e)).unwrap();
        assert!(
            matches!(&out, SendOutcome::Aborted { closed: true, recipients } if recipients.accepted == ["c@example.org"]),
            "{out:?}"
        );
        assert!(!s.is_open());
        let wire = fake.join();
        assert_eq!(count(&wire, b"secret body"), 0);
        assert!(
            wire.ends_with(b"DATA\r\n"),
            "{:?}",
            String::from_utf8_lossy(&wire)
        );
    }

    #[test]
    fn pipelining_with_every_recipient_refused_ends_a_354_with_a_lone_dot() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n550 5.1.1 no b\r\n354 go\r\n");
            c.expect(b".");
            c.send(b"554 5.5.1 no valid recipients\r\n");
            c.expect(b"RSET");
            c.send(b"250 reset\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"secret body");
        r.pipeline = true;
        match s.send_mail(r, &mut |e| ev.push(e)).unwrap() {
            SendOutcome::Rejected { stage, reply, .. } => {
                assert_eq!(stage, Stage::Rcpt);
                assert_eq!(reply.last_text(), "550 5.1.1 no b");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.input_mode(), InputMode::Command);
        let wire = fake.join();
        assert_eq!(count(&wire, b"secret body"), 0);
    }

    #[test]
    fn pipelining_with_data_refused_after_all_rcpts_failed() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n550 no\r\n554 no valid recipients\r\n");
            c.expect(b"RSET");
            c.send(b"250 reset\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"x");
        r.pipeline = true;
        assert!(matches!(
            s.send_mail(r, &mut |e| ev.push(e)).unwrap(),
            SendOutcome::Rejected {
                stage: Stage::Rcpt,
                ..
            }
        ));
        fake.join();
    }

    /// Runs the copies the way the controller does: the first with the request, each of the
    /// others opened before the previous one ends. Returns each copy's outcome (or error).
    fn send_copies(
        s: &mut Session,
        mut r: SendRequest,
        more: &[&[u8]],
        ev: &mut Vec<Event>,
    ) -> (Vec<Result<SendOutcome, String>>, Box<Transaction>) {
        r.pipeline = true;
        let mut tx = match s.prepare_send(r, &mut |e| ev.push(e)).unwrap() {
            Prepared::Ready(tx) => tx,
            Prepared::Done(o) => panic!("{o:?}"),
        };
        let mut outcomes = Vec::new();
        let mut rest = more.iter();
        loop {
            let next = rest.next().map(|m| MessageSource {
                reader: Box::new(std::io::Cursor::new(m.to_vec())),
                size: Some(m.len() as u64),
            });
            let last = next.is_none();
            match s.send_copy(&mut tx, next, &mut |e| ev.push(e)) {
                Ok(o) => outcomes.push(Ok(o)),
                Err(e) => {
                    outcomes.push(Err(e.to_string()));
                    break;
                }
            }
            if last || tx.interrupted() || !s.is_open() {
                break;
            }
        }
        (outcomes, tx)
    }

    fn accepted(o: &Result<SendOutcome, String>) -> bool {
        matches!(o, Ok(o) if o.fully_accepted())
    }

    const PIPELINING: &[u8] = b"250-mx.example\r\n250-SIZE\r\n250 PIPELINING\r\n";

    #[test]
    fn copies_follow_the_end_of_data_in_the_same_write() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, PIPELINING);
            c.expect(b"MAIL FROM:<a@example.org> SIZE=3");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"one\r\n.\r\n");
            // The next copy's commands come before the end of data is answered: a client
            // that waited for that reply would hang here.
            c.expect(b"MAIL FROM:<a@example.org> SIZE=5");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 2.0.0 queued 1\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"two..\r\n.\r\n");
            c.expect(b"MAIL FROM:<a@example.org> SIZE=1");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 2.0.0 queued 2\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            // The last copy: nothing follows its end.
            assert_eq!(c.data(), b"..\r\n.\r\n");
            c.send(b"250 2.0.0 queued 3\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"one");
        r.size_param = true;
        let (outcomes, tx) = send_copies(&mut s, r, &[b"two..", b"."], &mut ev);
        assert_eq!(outcomes.len(), 3);
        assert!(outcomes.iter().all(accepted), "{outcomes:?}");
        let finals: Vec<String> = outcomes
            .iter()
            .map(|o| match o {
                Ok(SendOutcome::Accepted { reply, .. }) => reply.last_text(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            finals,
            [
                "250 2.0.0 queued 1",
                "250 2.0.0 queued 2",
                "250 2.0.0 queued 3"
            ]
        );
        assert!(!tx.ahead() && !tx.interrupted());
        assert!(!s.machine.awaiting());
        assert_eq!(s.input_mode(), InputMode::Command);
        let wire = fake.join();
        let want: &[u8] = b"EHLO client.test\r\n\
            MAIL FROM:<a@example.org> SIZE=3\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
            one\r\n.\r\n\
            MAIL FROM:<a@example.org> SIZE=5\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
            two..\r\n.\r\n\
            MAIL FROM:<a@example.org> SIZE=1\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
            ..\r\n.\r\n";
        assert_eq!(
            String::from_utf8_lossy(&wire),
            String::from_utf8_lossy(want)
        );
        // Every command and every reply was reported, in wire order.
        let sent_lines = sent(&ev);
        assert_eq!(
            sent_lines.iter().filter(|l| l.starts_with("MAIL")).count(),
            3
        );
        let replies = ev
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Reply(_)))
            .count();
        assert_eq!(replies, 2 + 3 * 4);
    }

    #[test]
    fn a_refused_recipient_in_the_middle_fails_that_copy_only() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, PIPELINING);
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"m\r\n.\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            // Copy 2: its recipient is refused, so its pipelined DATA is too.
            c.send(b"250 2.0.0 queued 1\r\n250 ok\r\n550 5.1.1 no b today\r\n554 5.5.1 no valid recipients\r\n");
            // No content after the 554: the transaction is reset, and copy 3 starts afresh.
            c.expect(b"RSET");
            c.send(b"250 reset\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"m\r\n.\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            // Copy 4: refused, but the server opens the data phase anyway.
            c.send(b"250 2.0.0 queued 3\r\n250 ok\r\n550 5.1.1 no b\r\n354 go\r\n");
            // RFC 2920: a lone dot, which delivers nothing; then RSET.
            c.expect(b".");
            c.send(b"554 5.5.1 no valid recipients\r\n");
            c.expect(b"RSET");
            c.send(b"250 reset\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"m\r\n.\r\n");
            c.send(b"250 2.0.0 queued 5\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let r = request(&["b@example.org"], b"m");
        let (outcomes, _) = send_copies(&mut s, r, &[b"m", b"m", b"m", b"m"], &mut ev);
        assert_eq!(outcomes.len(), 5);
        let shape: Vec<String> = outcomes
            .iter()
            .map(|o| match o {
                Ok(SendOutcome::Accepted { reply, .. }) => reply.last_text(),
                Ok(SendOutcome::Rejected {
                    stage,
                    reply,
                    recipients,
                }) => {
                    assert_eq!(recipients.refused.len(), 1);
                    format!("{stage}: {}", reply.last_text())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            shape,
            [
                "250 2.0.0 queued 1",
                "RCPT: 550 5.1.1 no b today",
                "250 2.0.0 queued 3",
                "RCPT: 550 5.1.1 no b",
                "250 2.0.0 queued 5"
            ]
        );
        let wire = fake.join();
        // Five copies, three delivered, each once; the refused ones got no content.
        assert_eq!(count(&wire, b"\r\nm\r\n.\r\n"), 3);
        assert_eq!(count(&wire, b"DATA\r\n.\r\n"), 1);
        assert_eq!(count(&wire, b"MAIL FROM"), 5);
    }

    #[test]
    fn one_of_two_recipients_refused_in_a_copy_still_sends_it_to_the_other() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, PIPELINING);
            let commands = |c: &mut Conn| {
                c.expect(b"MAIL FROM:<a@example.org>");
                c.expect(b"RCPT TO:<b@example.org>");
                c.expect(b"RCPT TO:<c@example.org>");
                c.expect(b"DATA");
            };
            commands(c);
            c.send(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            commands(c);
            c.send(b"250 q1\r\n250 ok\r\n250 ok\r\n452 4.2.2 c is full\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            commands(c);
            c.send(b"250 q2\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.send(b"250 q3\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let r = request(&["b@example.org", "c@example.org"], b"x");
        let (outcomes, _) = send_copies(&mut s, r, &[b"x", b"x"], &mut ev);
        assert!(
            accepted(&outcomes[0]) && accepted(&outcomes[2]),
            "{outcomes:?}"
        );
        match &outcomes[1] {
            Ok(SendOutcome::Accepted { reply, recipients }) => {
                assert_eq!(reply.last_text(), "250 q2");
                assert_eq!(recipients.accepted, ["b@example.org"]);
                assert_eq!(recipients.refused[0].0, "c@example.org");
                assert_eq!(recipients.refused[0].1.last_text(), "452 4.2.2 c is full");
            }
            other => panic!("{other:?}"),
        }
        fake.join();
    }

    #[test]
    fn a_refused_end_of_data_in_the_middle_is_not_reset() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, PIPELINING);
            let commands = |c: &mut Conn| {
                c.expect(b"MAIL FROM:<a@example.org>");
                c.expect(b"RCPT TO:<b@example.org>");
                c.expect(b"DATA");
            };
            commands(c);
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            commands(c);
            c.send(b"552 5.3.4 too big\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            // No RSET: it would undo copy 2's MAIL, already on its way.
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.send(b"250 q2\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let (outcomes, _) =
            send_copies(&mut s, request(&["b@example.org"], b"x"), &[b"x"], &mut ev);
        assert!(
            matches!(&outcomes[0], Ok(SendOutcome::Rejected { stage: Stage::Message, reply, .. }) if reply.code_value() == Some(552)),
            "{outcomes:?}"
        );
        assert!(accepted(&outcomes[1]), "{outcomes:?}");
        let wire = fake.join();
        assert_eq!(count(&wire, b"RSET"), 0);
    }

    #[test]
    fn a_421_after_the_end_of_data_closes_with_the_next_copy_unanswered() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, PIPELINING);
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"421 4.3.0 going down\r\n");
            assert_eq!(c.rest(), b"");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let (outcomes, tx) = send_copies(
            &mut s,
            request(&["b@example.org"], b"x"),
            &[b"x", b"x"],
            &mut ev,
        );
        assert_eq!(outcomes.len(), 1);
        assert!(
            matches!(&outcomes[0], Ok(SendOutcome::Rejected { stage: Stage::Message, reply, .. }) if reply.code_value() == Some(421)),
            "{outcomes:?}"
        );
        assert!(!tx.ahead());
        assert!(!s.is_open());
        assert_eq!(s.closed_by_server(), Some("421 4.3.0 going down"));
        fake.join();
    }

    #[test]
    fn a_pipelined_421_at_rcpt_ends_the_copies_with_nothing_more_sent() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, PIPELINING);
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            // Copy 2's RCPT: the server goes away; DATA's reply never comes.
            c.send(b"250 q1\r\n250 ok\r\n421 4.3.0 going down\r\n");
            assert_eq!(c.rest(), b"");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let (outcomes, tx) = send_copies(
            &mut s,
            request(&["b@example.org"], b"x"),
            &[b"x", b"x"],
            &mut ev,
        );
        assert_eq!(outcomes.len(), 2, "{outcomes:?}");
        assert!(accepted(&outcomes[0]));
        match &outcomes[1] {
            Ok(SendOutcome::Rejected {
                stage: Stage::Rcpt,
                reply,
                recipients,
            }) => {
                assert_eq!(reply.last_text(), "421 4.3.0 going down");
                assert_eq!(recipients.refused.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(!s.is_open() && !tx.ahead());
        fake.join();
    }

    #[test]
    fn bdat_copies_follow_the_last_chunk() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250-CHUNKING\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n250 ok\r\n");
            c.expect(b"BDAT 7 LAST");
            assert_eq!(c.bytes(7), b".x\r\ny\r\n");
            // The next copy's MAIL and RCPT follow the LAST chunk before its reply.
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 2.0.0 7 octets\r\n250 ok\r\n550 5.1.1 no\r\n");
            // Copy 2 refused at RCPT: no chunk; RSET, then copy 3 afresh.
            c.expect(b"RSET");
            c.send(b"250 reset\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n250 ok\r\n");
            c.expect(b"BDAT 3 LAST");
            assert_eq!(c.bytes(3), b"z\r\n");
            c.send(b"250 2.0.0 3 octets\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b".x\r\ny");
        r.bdat = true;
        let (outcomes, _) = send_copies(&mut s, r, &[b"never sent", b"z"], &mut ev);
        assert!(accepted(&outcomes[0]), "{outcomes:?}");
        assert!(
            matches!(
                &outcomes[1],
                Ok(SendOutcome::Rejected {
                    stage: Stage::Rcpt,
                    ..
                })
            ),
            "{outcomes:?}"
        );
        assert!(accepted(&outcomes[2]), "{outcomes:?}");
        let wire = fake.join();
        assert_eq!(count(&wire, b"never sent"), 0);
        assert_eq!(
            String::from_utf8_lossy(&wire),
            "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n\
             BDAT 7 LAST\r\n.x\r\ny\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n\
             RSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 3 LAST\r\nz\r\n"
        );
    }

    #[test]
    fn ctrl_c_makes_the_copy_in_progress_the_last_one() {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pressed = flag.clone();
        let fake = Fake::start(move |c: &mut Conn| {
            greet_ehlo(c, PIPELINING);
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            // Ctrl-C while the replies to copy 1's end and copy 2's commands are due: they
            // are all read, copy 2 (whose data phase opens) is sent whole, and nothing follows.
            pressed.store(true, std::sync::atomic::Ordering::Release);
            c.send(b"250 q1\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.send(b"250 q2\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        s.set_cancel(flag);
        let (outcomes, tx) = send_copies(
            &mut s,
            request(&["b@example.org"], b"x"),
            &[b"x", b"x", b"x"],
            &mut ev,
        );
        assert_eq!(outcomes.len(), 2);
        assert!(outcomes.iter().all(accepted), "{outcomes:?}");
        assert!(tx.interrupted() && !tx.ahead());
        assert!(s.is_open());
        assert_eq!(s.input_mode(), InputMode::Command);
        assert!(!s.machine.awaiting());
        let wire = fake.join();
        assert_eq!(count(&wire, b"MAIL FROM"), 2);
    }

    #[test]
    fn an_unreadable_copy_sends_nothing_of_itself() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, PIPELINING);
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.send(b"250 q1\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"x");
        r.pipeline = true;
        let Prepared::Ready(mut tx) = s.prepare_send(r, &mut |e| ev.push(e)).unwrap() else {
            panic!("not ready")
        };
        let next = MessageSource {
            reader: Box::new(FailingReader { good: 0 }),
            size: None,
        };
        let first = s
            .send_copy(&mut tx, Some(next), &mut |e| ev.push(e))
            .unwrap();
        assert!(first.fully_accepted());
        assert!(!tx.ahead());
        let err = s.send_copy(&mut tx, None, &mut |e| ev.push(e)).unwrap_err();
        assert!(matches!(err, SessionError::Command(_)), "{err}");
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert!(s.is_open());
        let wire = fake.join();
        assert_eq!(count(&wire, b"MAIL FROM"), 1);
    }

    #[test]
    fn lmtp_copies_read_one_reply_per_recipient_before_the_next_copy() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 lmtp.example LMTP\r\n");
            c.expect(b"LHLO client.test");
            c.send(b"250-lmtp.example\r\n250 PIPELINING\r\n");
            let commands = |c: &mut Conn| {
                c.expect(b"MAIL FROM:<a@example.org>");
                c.expect(b"RCPT TO:<b@example.org>");
                c.expect(b"RCPT TO:<c@example.org>");
                c.expect(b"DATA");
            };
            commands(c);
            c.send(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            commands(c);
            c.send(b"250 b1\r\n452 c1 full\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
            assert_eq!(c.data(), b"x\r\n.\r\n");
            c.send(b"250 b2\r\n250 c2\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Lmtp, &fake, &mut ev);
        let r = request(&["b@example.org", "c@example.org"], b"x");
        let (outcomes, _) = send_copies(&mut s, r, &[b"x"], &mut ev);
        match &outcomes[0] {
            Ok(SendOutcome::Accepted { reply, recipients }) => {
                assert_eq!(reply.last_text(), "250 b1");
                assert_eq!(recipients.refused[0].0, "c@example.org");
            }
            other => panic!("{other:?}"),
        }
        assert!(accepted(&outcomes[1]), "{outcomes:?}");
        fake.join();
    }

    #[test]
    fn copies_without_pipelining_go_one_command_at_a_time() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250 mx.example\r\n");
            for n in 1..=2 {
                c.expect(b"MAIL FROM:<a@example.org>");
                c.send(b"250 ok\r\n");
                c.expect(b"RCPT TO:<b@example.org>");
                c.send(b"250 ok\r\n");
                c.expect(b"DATA");
                c.send(b"354 go\r\n");
                assert_eq!(c.data(), b"x\r\n.\r\n");
                c.send(format!("250 q{n}\r\n").as_bytes());
            }
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let (outcomes, tx) =
            send_copies(&mut s, request(&["b@example.org"], b"x"), &[b"x"], &mut ev);
        assert!(outcomes.iter().all(accepted), "{outcomes:?}");
        assert!(!tx.pipelined());
        fake.join();
        // Said once, not once per copy.
        assert_eq!(
            warnings(&ev),
            ["the server does not advertise PIPELINING; sending one command at a time"]
        );
    }

    #[test]
    fn pipelining_not_advertised_warns() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250 mx.example\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"x");
        r.pipeline = true;
        r.bdat = true;
        r.stop_after = Some(Stage::Rcpt);
        assert_eq!(
            s.send_mail(r, &mut |e| ev.push(e)).unwrap(),
            SendOutcome::Stopped(Stage::Rcpt)
        );
        fake.join();
        assert_eq!(
            warnings(&ev),
            vec![
                "the server does not advertise CHUNKING; using DATA instead of BDAT",
                "the server does not advertise PIPELINING; sending one command at a time"
            ]
        );
    }

    #[test]
    fn bdat_chunks() {
        // 2.5 MiB of 100-byte lines with bare LF: normalised to CRLF, not dot-stuffed.
        let mut message = Vec::new();
        while message.len() < 2 * 1024 * 1024 + 512 * 1024 {
            message.extend_from_slice(b".");
            message.extend_from_slice(&[b'y'; 98]);
            message.push(b'\n');
        }
        let mut normalised = Vec::new();
        let mut n = Encoder::new(Stuffing::None);
        n.push(&message, &mut normalised);
        n.finish(&mut normalised);
        let expected = normalised.clone();
        let mail = format!("MAIL FROM:<a@example.org> SIZE={}", message.len());
        let fake = Fake::start(move |c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250-CHUNKING\r\n250 SIZE\r\n");
            c.expect(mail.as_bytes());
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n");
            let mut got = Vec::new();
            loop {
                let line = String::from_utf8(c.line()).unwrap();
                let mut words = line.split(' ');
                assert_eq!(words.next(), Some("BDAT"));
                let size: usize = words.next().unwrap().parse().unwrap();
                let last = words.next() == Some("LAST");
                assert!(size <= BDAT_CHUNK);
                got.extend_from_slice(&c.bytes(size));
                c.send(format!("250 2.0.0 {size} octets\r\n").as_bytes());
                if last {
                    assert_eq!(size, expected.len() - 2 * BDAT_CHUNK);
                    break;
                }
                assert_eq!(size, BDAT_CHUNK);
            }
            assert!(got == expected, "chunk content differs");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], &message);
        r.bdat = true;
        r.size_param = true;
        match s.send_mail(r, &mut |e| ev.push(e)).unwrap() {
            SendOutcome::Accepted { reply, .. } => {
                assert_eq!(
                    reply.last_text(),
                    format!("250 2.0.0 {} octets", normalised.len() - 2 * BDAT_CHUNK)
                )
            }
            other => panic!("{other:?}"),
        }
        fake.join();
        let commands: Vec<String> = sent(&ev)
            .into_iter()
            .filter(|l| l.starts_with("BDAT") || l.starts_with("MAIL"))
            .collect();
        assert_eq!(
            commands,
            vec![
                format!("MAIL FROM:<a@example.org> SIZE={}", message.len()),
                "BDAT 1048576".to_string(),
                "BDAT 1048576".to_string(),
                format!("BDAT {} LAST", normalised.len() - 2 * BDAT_CHUNK),
            ]
        );
        assert_eq!(content(&ev).len(), 200);
        assert_eq!(content(&ev)[0], format!(".{}", "y".repeat(98)));
        let total_lines = message.iter().filter(|b| **b == b'\n').count();
        assert!(infos(&ev).contains(&format!(
            "… {} more lines ({} bytes) sent",
            total_lines - 200,
            (total_lines - 200) * 101
        )));
    }

    #[test]
    fn bdat_empty_message_and_pipelined_chunks() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250-CHUNKING\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n250 ok\r\n");
            c.expect(b"BDAT 0 LAST");
            c.send(b"250 ok\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"");
        r.bdat = true;
        r.pipeline = true;
        assert!(matches!(
            s.send_mail(r, &mut |e| ev.push(e)).unwrap(),
            SendOutcome::Accepted { .. }
        ));
        fake.join();
        assert!(content(&ev).is_empty());
    }

    #[test]
    fn bdat_pipelined_with_a_refused_chunk() {
        let message = vec![b'z'; BDAT_CHUNK * 3];
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250-CHUNKING\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n250 ok\r\n");
            c.expect(b"BDAT 1048576");
            c.bytes(BDAT_CHUNK);
            // The second chunk is sent before the first one's reply.
            c.expect(b"BDAT 1048576");
            c.bytes(BDAT_CHUNK);
            c.send(b"552 5.3.4 too big\r\n");
            c.send(b"503 5.5.1 no\r\n");
            c.expect(b"RSET");
            c.send(b"250 ok\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], &message);
        r.bdat = true;
        r.pipeline = true;
        match s.send_mail(r, &mut |e| ev.push(e)).unwrap() {
            SendOutcome::Rejected { stage, reply, .. } => {
                assert_eq!(stage, Stage::Message);
                assert_eq!(reply.code_value(), Some(552));
            }
            other => panic!("{other:?}"),
        }
        fake.join();
    }

    #[test]
    fn bad_input_sends_nothing() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250 8BITMIME\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        // Learn the capabilities once.
        s.command_and_wait(b"EHLO client.test", &mut |e| ev.push(e))
            .unwrap();
        let before = sent(&ev).len();
        let cases: [fn(&mut SendRequest); 10] = [
            |r| r.to = vec!["b@example.org\r\nRCPT TO:<evil@x>".into()],
            |r| r.to = vec!["b c@example.org".into()],
            |r| r.from = "<a@example.org>".into(),
            |r| r.from = "a\0@example.org".into(),
            |r| r.to = vec![],
            |r| r.to = vec![String::new()],
            |r| r.notify = Some("SUCCESS FAILURE".into()),
            |r| r.ret = Some("ALL".into()),
            |r| r.envid = Some("a b".into()),
            |r| r.smtputf8 = true,
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut r = request(&["b@example.org"], b"x");
            case(&mut r);
            let err = s.send_mail(r, &mut |e| ev.push(e)).unwrap_err();
            assert!(matches!(err, SessionError::Command(_)), "case {i}: {err}");
            assert!(!err.is_fatal());
        }
        assert_eq!(sent(&ev).len(), before);
        fake.join();
    }

    struct FailingReader {
        good: usize,
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.good == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = self.good.min(buf.len()).min(10);
            buf[..n].fill(b'a');
            self.good -= n;
            Ok(n)
        }
    }

    #[test]
    fn unreadable_message() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250 mx.example\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            // The first piece, then the client closes without the rest or a terminator.
            assert_eq!(c.bytes(READ_PIECE), vec![b'a'; READ_PIECE]);
            assert_eq!(c.rest(), b"");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"");
        r.message = Box::new(FailingReader {
            good: READ_PIECE + 10,
        });
        let err = s.send_mail(r, &mut |e| ev.push(e)).unwrap_err();
        assert!(matches!(err, SessionError::Message(_)), "{err}");
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert!(!s.is_open());
        fake.join();

        // Unreadable from the start: nothing is sent at all.
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 mx.example ESMTP\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"");
        r.message = Box::new(FailingReader { good: 0 });
        let err = s.send_mail(r, &mut |e| ev.push(e)).unwrap_err();
        assert!(matches!(err, SessionError::Command(_)), "{err}");
        assert!(sent(&ev).is_empty());
        fake.join();
    }

    #[test]
    fn dsn_and_smtputf8_parameters() {
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250-DSN\r\n250 SMTPUTF8\r\n");
            c.expect("MAIL FROM:<jörg@example.org> SMTPUTF8 RET=HDRS ENVID=QQ314159".as_bytes());
            c.send(b"250 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"x");
        r.from = "jörg@example.org".into();
        r.smtputf8 = true;
        r.ret = Some("hdrs".into());
        r.envid = Some("QQ314159".into());
        r.notify = Some("failure,delay".into());
        r.stop_after = Some(Stage::Mail);
        assert_eq!(
            s.send_mail(r, &mut |e| ev.push(e)).unwrap(),
            SendOutcome::Stopped(Stage::Mail)
        );
        fake.join();
        assert!(warnings(&ev).is_empty());

        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250-mx.example\r\n250-DSN\r\n250 PIPELINING\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.expect(b"RCPT TO:<b@example.org> NOTIFY=FAILURE,DELAY");
            c.expect(b"DATA");
            c.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"x");
        r.notify = Some("failure,delay".into());
        r.pipeline = true;
        r.stop_after = Some(Stage::Data);
        assert_eq!(
            s.send_mail(r, &mut |e| ev.push(e)).unwrap(),
            SendOutcome::Stopped(Stage::Data)
        );
        assert_eq!(s.input_mode(), InputMode::Message);
        fake.join();

        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250 mx.example\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.send(b"250 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let mut r = request(&["b@example.org"], b"x");
        r.notify = Some("NEVER".into());
        r.envid = Some("x".into());
        r.stop_after = Some(Stage::Mail);
        s.send_mail(r, &mut |e| ev.push(e)).unwrap();
        fake.join();
        assert_eq!(
            warnings(&ev),
            vec!["the server does not advertise DSN; ENVID=, NOTIFY= left out"]
        );
    }

    #[test]
    fn long_lines_are_cut_in_the_display() {
        let mut message = vec![b'q'; 1200];
        message.extend_from_slice(b"\r\nshort\r\n");
        let fake = Fake::start(|c: &mut Conn| {
            greet_ehlo(c, b"250 mx.example\r\n");
            c.expect(b"MAIL FROM:<a@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"RCPT TO:<b@example.org>");
            c.send(b"250 ok\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            let data = c.data();
            assert_eq!(data.len(), 1200 + 2 + 7 + 3);
            c.send(b"250 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        s.send_mail(request(&["b@example.org"], &message), &mut |e| ev.push(e))
            .unwrap();
        fake.join();
        let shown = content(&ev);
        assert_eq!(shown.len(), 3);
        assert_eq!(shown[0].len(), MAX_SHOWN_LINE);
        assert_eq!(shown[1], "short");
        assert!(infos(&ev).contains(&"line cut: 1200 bytes sent, the first 1000 shown".to_string()));
        assert!(!infos(&ev).iter().any(|i| i.contains("more lines")));
    }

    #[test]
    fn only_smtp_and_lmtp() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"+OK ready\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Pop3, &fake, &mut ev);
        let err = s
            .send_mail(request(&["b@example.org"], b"x"), &mut |e| ev.push(e))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "sending a message needs SMTP or LMTP, not pop3"
        );
        fake.join();
    }
}
