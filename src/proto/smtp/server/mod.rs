//! The SMTP and LMTP server machine (RFC 5321, RFC 2033), sans I/O, in the shape every server
//! machine shares ([`crate::proto::server`]): `greeting`, `feed`, `step`, `tls_started`,
//! `shutdown`, `wait`, `take_events`.
//!
//! Extensions: PIPELINING (RFC 2920), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), SIZE
//! (RFC 1870), CHUNKING (RFC 3030, BDAT), DSN parameters (RFC 3461, accepted and checked),
//! ENHANCEDSTATUSCODES (RFC 2034, RFC 3463: on every reply but the greeting, EHLO's and the
//! intermediate 334/354), STARTTLS (RFC 3207), AUTH (RFC 4954, through
//! [`crate::proto::sasl_server`]).
//!
//! Commands are read through the bounded [`LineBuffer`] (lines up to [`MAX_LINE`]) and parsed
//! by [`Command::parse`]; message data is read in place from the same buffer, scanned with
//! memchr over whole buffers, never holding more than the size limit or one line piece.
//! The backend decides on senders, recipients and messages ([`Backend`]); the machine does the
//! rest: sequencing, limits, parameters, the replies, the log events.

mod data;

impl Machine for Server {
    type Backend = dyn Backend;

    fn protocol(&self) -> Protocol {
        if self.config.lmtp {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        }
    }

    fn timed_out(&mut self, out: &mut Output) {
        let text = format!("{} Timeout: closing the connection", self.config.hostname);
        let mut bytes = Vec::new();
        if let Some(code) = Code::new(421) {
            write_reply(
                code,
                EnhancedCode::parse("4.4.2"),
                &[text.as_bytes()],
                &mut bytes,
            );
        }
        out.push(&bytes);
    }

    /// Writes the greeting: `220 HOST ESMTP mailtalk` (`LMTP` for LMTP).
    fn greeting(&mut self, out: &mut Output) {
        let kind = if self.config.lmtp { "LMTP" } else { "ESMTP" };
        let text = clean(&format!("{} {kind} mailtalk", self.config.hostname));
        self.reply_lines(out, 220, None, &[text.as_bytes()]);
        self.events.push(ServerEvent::Phase(Phase::Greeting));
    }

    /// Hands the machine what the client sent. Ignored once the session is over, and between
    /// STARTTLS and `tls_started` (such bytes came before TLS).
    fn feed(&mut self, bytes: &[u8]) {
        match self.mode {
            Mode::Closed => {}
            Mode::StartingTls => {
                if !bytes.is_empty() {
                    self.events.push(ServerEvent::Problem(format!(
                        "{} bytes sent after STARTTLS, before TLS: dropped",
                        bytes.len()
                    )));
                }
            }
            _ => self.input.push(bytes),
        }
    }

    /// Which deadline applies to the next read.
    fn wait(&self) -> Wait {
        match self.mode {
            Mode::Data(_) | Mode::Bdat(_) => Wait::Data,
            _ => Wait::Command,
        }
    }

    /// What happened since the last call, for the log.
    fn take_events(&mut self) -> Vec<ServerEvent> {
        std::mem::take(&mut self.events)
    }

    /// TLS is up (after [`Step::StartTls`], or before the greeting for implicit TLS): the
    /// session starts over (EHLO again; nothing from before TLS is kept).
    fn tls_started(&mut self) {
        self.tls = true;
        self.input.clear();
        self.helo = None;
        self.extended = false;
        self.auth_user = None;
        self.txn = None;
        if !matches!(self.mode, Mode::Closed) {
            self.mode = Mode::Command;
        }
    }

    /// The server is stopping: `421 4.3.2 HOST Service shutting down`; the session is over.
    fn shutdown(&mut self, out: &mut Output) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        let text = format!("{} Service shutting down", self.config.hostname);
        self.reply(out, 421, "4.3.2", &text);
        self.mode = Mode::Closed;
    }

    /// Handles at most one command (or what is buffered of message data) from what was fed.
    fn step(&mut self, backend: &mut Self::Backend, out: &mut Output) -> Step {
        match self.mode {
            Mode::Closed => Step::Close,
            Mode::StartingTls => Step::StartTls,
            Mode::Data(_) => self.step_data(backend, out),
            Mode::Bdat(_) => self.step_bdat(backend, out),
            Mode::Command | Mode::Auth(_) => self.step_line(backend, out),
        }
    }
}

#[cfg(test)]
mod tests;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroize;

pub use data::{DATA_PIECE, LOGGED_DATA_LINES};

use data::{DataReader, Receiver};

use super::command::{
    check_envid, check_mailbox, check_notify, check_orcpt, check_ret, check_xtext, strip_route,
};
use super::{write_reply, Code, Command, EnhancedCode, Param, ParseError};
use crate::proto::line::{LineBuffer, MAX_LINE};
use crate::proto::sasl_server::{decode_response, Exchange, Progress, ServerMech};
use crate::proto::server::Machine;
use crate::proto::server::{
    Credentials, DataFlag, Dir, Lookup, Output, Phase, ServerEvent, Step, Wait,
};
use crate::proto::{Ending, Protocol};

/// How a server behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The name in the greeting and in EHLO's first line.
    pub hostname: String,
    /// LMTP (RFC 2033): LHLO instead of EHLO/HELO, one reply per recipient after the data.
    pub lmtp: bool,
    /// Offer STARTTLS (until TLS is up).
    pub starttls: bool,
    /// The largest message, advertised in SIZE; a larger MAIL SIZE= or message: 552 5.3.4.
    pub max_size: u64,
    /// Of each message, at most this many bytes (its beginning) are held and handed to the
    /// backend; the rest is only counted (and checked against `max_size`). `u64::MAX`: all.
    /// [`Envelope::size`] is the whole size either way.
    pub keep: u64,
    /// Recipients per message; more: 452 4.5.3.
    pub max_rcpts: usize,
    /// Commands per session; the next one gets 421 4.7.0 and the session ends.
    pub max_commands: u32,
    /// Bad commands per session; at this many, 421 4.7.0 and the session ends.
    pub max_errors: u32,
    /// Before TLS, only EHLO, HELO, LHLO, STARTTLS, NOOP, RSET and QUIT (else 530 5.7.0).
    pub require_tls: bool,
    /// MAIL only after AUTH (else 530 5.7.0).
    pub require_auth: bool,
    /// AUTH without TLS; if false, AUTH is not advertised before TLS and refused (538 5.7.11).
    pub plaintext_auth: bool,
    /// The SASL mechanisms offered, in this order.
    pub mechanisms: Vec<ServerMech>,
    /// Emit [`ServerEvent::Line`] for the lines in and out (secrets marked); of message data
    /// the first [`LOGGED_DATA_LINES`] lines, then [`ServerEvent::DataSkipped`].
    pub log: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            hostname: "localhost".to_string(),
            lmtp: false,
            starttls: false,
            max_size: 10 * 1024 * 1024,
            keep: u64::MAX,
            max_rcpts: 100,
            max_commands: 1000,
            max_errors: 10,
            require_tls: false,
            require_auth: false,
            plaintext_auth: false,
            mechanisms: ServerMech::ALL.to_vec(),
            log: false,
        }
    }
}

/// What the server asks about senders, recipients and messages (and, as [`Credentials`],
/// logins).
pub trait Backend: Credentials {
    /// `MAIL FROM`: the sender (empty for the null sender `<>`, a source route taken off) and
    /// its parameters, already checked.
    fn mail(&mut self, from: &str, params: &[Param]) -> Verdict;
    /// `RCPT TO`: one recipient of the transaction of `from`.
    fn rcpt(&mut self, from: &str, to: &str, params: &[Param]) -> Verdict;
    /// The message was received in full (unstuffed, exactly as sent otherwise): store it.
    /// `data` is the whole message, or its first [`Config::keep`] bytes (then
    /// [`Envelope::size`] is larger). One verdict per recipient in order (LMTP replies each;
    /// SMTP replies with the first).
    fn deliver(&mut self, envelope: &Envelope, data: Vec<u8>) -> Vec<Verdict>;
}

/// A transaction as delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The name given in EHLO/HELO/LHLO.
    pub helo: Option<String>,
    /// The sender; empty for `<>`.
    pub from: String,
    pub from_params: Vec<Param>,
    /// The accepted recipients, in order.
    pub rcpts: Vec<String>,
    /// Received over TLS.
    pub tls: bool,
    /// Who authenticated, if anyone.
    pub auth_user: Option<String>,
    /// What the data held that mail software treats differently: the flag, the first line
    /// (1-based, lines ended by CRLF) and how many times.
    pub flags: Vec<(DataFlag, u64, u64)>,
    /// Sent with BDAT (else DATA).
    pub bdat: bool,
    /// The message's size in bytes (unstuffed), also of what [`Config::keep`] left out.
    pub size: u64,
}

/// The backend's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted; the reply text (`Ok: queued as ID`); empty for `Ok`.
    Accept(String),
    /// Refused with this reply (a 4xx or 5xx code; a 421 also ends the session).
    Reject {
        code: u16,
        enhanced: String,
        text: String,
    },
}

/// The transaction being built.
#[derive(Debug)]
struct Txn {
    from: String,
    from_params: Vec<Param>,
    /// SMTPUTF8 was given.
    utf8: bool,
    /// BODY=8BITMIME (or SMTPUTF8): 8-bit data is not flagged.
    eight_bit: bool,
    rcpts: Vec<String>,
    /// A RCPT got as far as the backend or the recipient limit.
    tried_rcpt: bool,
    /// The message data so far (DATA in progress, or the BDAT chunks).
    rx: Option<Receiver>,
    /// BDAT chunks accepted.
    chunks: u64,
}

/// What happens with a BDAT chunk's bytes.
#[derive(Debug)]
enum Fate {
    /// They belong to the message.
    Keep,
    /// Discarded; then this error reply.
    Refuse {
        code: u16,
        enhanced: &'static str,
        text: String,
    },
    /// Discarded; the message is over the size limit: 552 and the transaction is gone.
    TooBig,
}

#[derive(Debug)]
struct Chunk {
    size: u64,
    left: u64,
    last: bool,
    fate: Fate,
}

/// A SASL exchange waiting for the client's next line.
#[derive(Debug)]
struct Auth {
    exchange: Exchange,
    /// The exchange succeeded with data that went as a 334 challenge: the client's (empty)
    /// answer completes it.
    succeeded: Option<String>,
}

#[derive(Debug)]
enum Mode {
    Command,
    Data(DataReader),
    Bdat(Chunk),
    Auth(Box<Auth>),
    /// STARTTLS was answered: nothing is read until `tls_started`.
    StartingTls,
    Closed,
}

/// The reply to a message over the size limit.
const TOO_BIG: &str = "Message size exceeds fixed maximum message size";

/// Why MAIL's parameters are refused.
enum MailParamError {
    /// A client error.
    Bad(Bad),
    /// SIZE= above the limit: 552, not counted as an error.
    TooBig,
}

/// A reply that [`Server::refuse`] counts as a client error.
struct Bad {
    code: u16,
    enhanced: &'static str,
    text: String,
}

fn bad(code: u16, enhanced: &'static str, text: impl Into<String>) -> Bad {
    Bad {
        code,
        enhanced,
        text: text.into(),
    }
}

/// The backend as the SASL exchange sees it.
struct Creds<'a>(&'a dyn Backend);

impl Credentials for Creds<'_> {
    fn check(&self, user: &str, password: &[u8]) -> bool {
        self.0.check(user, password)
    }

    fn password(&self, user: &str) -> Lookup {
        self.0.password(user)
    }
}

/// Reply text without line breaks or NULs (what a backend or the configuration gives).
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '\r' | '\n' | '\0') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The machine for one SMTP or LMTP session.
#[derive(Debug)]
pub struct Server {
    config: Config,
    input: LineBuffer,
    mode: Mode,
    tls: bool,
    /// The name from EHLO/HELO/LHLO.
    helo: Option<String>,
    /// EHLO or LHLO (extensions in use), not HELO.
    extended: bool,
    auth_user: Option<String>,
    txn: Option<Txn>,
    commands: u32,
    errors: u32,
    events: Vec<ServerEvent>,
}

impl Server {
    pub fn new(config: Config) -> Server {
        Server {
            config,
            input: LineBuffer::new(MAX_LINE),
            mode: Mode::Command,
            tls: false,
            helo: None,
            extended: false,
            auth_user: None,
            txn: None,
            commands: 0,
            errors: 0,
            events: Vec::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether this is an LMTP session.
    pub fn is_lmtp(&self) -> bool {
        self.config.lmtp
    }

    /// Whether TLS is up.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Bytes held: input not consumed yet and message data received so far.
    pub fn held(&self) -> usize {
        let message = self
            .txn
            .as_ref()
            .and_then(|t| t.rx.as_ref())
            .map_or(0, Receiver::held);
        self.input.buffered().saturating_add(message)
    }

    // ---- replies and the log

    fn log_lines(&mut self, dir: Dir, bytes: &[u8]) {
        if !self.config.log {
            return;
        }
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            let text = line.strip_suffix(b"\r\n").unwrap_or(line);
            self.events.push(ServerEvent::Line {
                dir,
                bytes: text.to_vec(),
                ending: Ending::CrLf,
                secret: None,
            });
        }
    }

    fn log_in(&mut self, bytes: &[u8], ending: Ending, secret: Option<std::ops::Range<usize>>) {
        if self.config.log {
            self.events.push(ServerEvent::Line {
                dir: Dir::In,
                bytes: bytes.to_vec(),
                ending,
                secret,
            });
        }
    }

    fn reply_lines(
        &mut self,
        out: &mut Output,
        code: u16,
        enhanced: Option<&str>,
        lines: &[&[u8]],
    ) {
        let code = Code::new(code).unwrap_or(Code {
            class: 4,
            subject: 5,
            detail: 1,
        });
        let mut bytes = Vec::new();
        write_reply(
            code,
            enhanced.and_then(EnhancedCode::parse),
            lines,
            &mut bytes,
        );
        self.log_lines(Dir::Out, &bytes);
        out.push(&bytes);
    }

    fn reply(&mut self, out: &mut Output, code: u16, enhanced: &str, text: &str) {
        let text = clean(text);
        self.reply_lines(out, code, Some(enhanced), &[text.as_bytes()]);
    }

    fn close(&mut self) -> Step {
        self.mode = Mode::Closed;
        self.input.clear();
        self.txn = None;
        Step::Close
    }

    /// A client error: its reply, and the end of the session when there were too many.
    fn refuse(&mut self, out: &mut Output, b: Bad) -> Step {
        self.reply(out, b.code, b.enhanced, &b.text);
        self.errors = self.errors.saturating_add(1);
        if self.errors >= self.config.max_errors {
            self.events.push(ServerEvent::Problem(format!(
                "{} bad commands",
                self.errors
            )));
            let text = format!("{} Error: too many errors", self.config.hostname);
            self.reply(out, 421, "4.7.0", &text);
            return self.close();
        }
        Step::Handled
    }

    /// The reply of a backend verdict (`ok`: the enhanced code of acceptance); a 421 ends the
    /// session (true).
    fn verdict(&mut self, out: &mut Output, v: &Verdict, ok: &str) -> bool {
        match v {
            Verdict::Accept(text) => {
                let text = if text.is_empty() { "Ok" } else { text };
                self.reply(out, 250, ok, text);
                false
            }
            Verdict::Reject {
                code,
                enhanced,
                text,
            } => {
                let code = if (400..600).contains(code) {
                    *code
                } else {
                    451
                };
                let class = code / 100;
                let enhanced = match EnhancedCode::parse(enhanced) {
                    Some(e) if u16::from(e.class) == class => e.to_string(),
                    _ => format!("{class}.0.0"),
                };
                let text = if text.is_empty() { "Refused" } else { text };
                self.reply(out, code, &enhanced, text);
                code == 421
            }
        }
    }

    fn greet_first(&self) -> &'static str {
        if self.config.lmtp {
            "Error: send LHLO first"
        } else {
            "Error: send HELO/EHLO first"
        }
    }

    // ---- commands

    fn step_line(&mut self, backend: &mut dyn Backend, out: &mut Output) -> Step {
        let mut line = match self.input.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return Step::NeedInput,
            Err(_) => {
                self.events.push(ServerEvent::Problem(format!(
                    "a line longer than {MAX_LINE} bytes"
                )));
                self.reply(out, 500, "5.5.6", "Line too long");
                return self.close();
            }
        };
        if let Mode::Auth(_) = self.mode {
            let len = line.bytes.len();
            self.log_in(&line.bytes, line.ending, Some(0..len));
            let step = self.auth_response(&line.bytes, backend, out);
            line.bytes.zeroize();
            return step;
        }
        let is_auth = super::command::split_verb(&line.bytes)
            .0
            .eq_ignore_ascii_case(b"AUTH");
        if self.config.log {
            let secret = if is_auth {
                super::classify(&line.bytes).secret
            } else {
                None
            };
            self.log_in(&line.bytes, line.ending, secret);
        }
        self.commands = self.commands.saturating_add(1);
        if self.commands > self.config.max_commands {
            self.events.push(ServerEvent::Problem(format!(
                "more than {} commands",
                self.config.max_commands
            )));
            let text = format!("{} Error: too many commands", self.config.hostname);
            self.reply(out, 421, "4.7.0", &text);
            return self.close();
        }
        let step = self.command_line(&line.bytes, backend, out);
        if is_auth {
            line.bytes.zeroize();
        }
        step
    }

    fn command_line(&mut self, line: &[u8], backend: &mut dyn Backend, out: &mut Output) -> Step {
        if memchr::memchr(0, line).is_some() {
            return self.refuse(out, bad(500, "5.5.2", "Error: NUL byte in command"));
        }
        if std::str::from_utf8(line).is_err() {
            return self.refuse(out, bad(500, "5.5.2", "Error: the command is not UTF-8"));
        }
        let command = match Command::parse(line) {
            Ok(c) => c,
            Err(ParseError::Empty) => {
                return self.refuse(out, bad(500, "5.5.2", "Error: bad syntax"))
            }
            Err(e) => return self.refuse(out, bad(501, "5.5.4", format!("Syntax error in {e}"))),
        };
        self.command(command, backend, out)
    }

    fn command(&mut self, command: Command, backend: &mut dyn Backend, out: &mut Output) -> Step {
        let lmtp = self.config.lmtp;
        match command {
            Command::Ehlo(_) | Command::Helo(_) if lmtp => {
                return self.refuse(out, bad(500, "5.5.1", "Error: this is LMTP: use LHLO"));
            }
            Command::Lhlo(_) if !lmtp => {
                return self.refuse(out, bad(500, "5.5.1", "Error: LHLO is LMTP's: use EHLO"));
            }
            _ => {}
        }
        let exempt = matches!(
            command,
            Command::Ehlo(_)
                | Command::Helo(_)
                | Command::Lhlo(_)
                | Command::StartTls
                | Command::Noop
                | Command::Rset
                | Command::Quit
        );
        if self.config.require_tls && !self.tls && !exempt {
            let b = bad(530, "5.7.0", "Must issue a STARTTLS command first");
            if let Command::Bdat { size, last } = command {
                return self.start_chunk(
                    size,
                    last,
                    Fate::Refuse {
                        code: b.code,
                        enhanced: b.enhanced,
                        text: b.text,
                    },
                    backend,
                    out,
                );
            }
            return self.refuse(out, b);
        }
        match command {
            Command::Ehlo(name) | Command::Lhlo(name) => self.hello(name, true, out),
            Command::Helo(name) => self.hello(name, false, out),
            Command::Mail { from, params } => self.mail(&from, params, backend, out),
            Command::Rcpt { to, params } => self.rcpt(&to, params, backend, out),
            Command::Data => self.data(out),
            Command::Bdat { size, last } => self.bdat(size, last, backend, out),
            Command::Rset => {
                self.txn = None;
                self.reply(out, 250, "2.0.0", "Ok");
                Step::Handled
            }
            Command::Noop => {
                self.reply(out, 250, "2.0.0", "Ok");
                Step::Handled
            }
            Command::Quit => {
                self.reply(out, 221, "2.0.0", "Bye");
                self.close()
            }
            Command::StartTls => self.starttls(out),
            Command::Auth {
                mechanism,
                mut initial,
            } => {
                let step = self.auth(&mechanism, initial.as_deref(), backend, out);
                if let Some(i) = initial.as_mut() {
                    i.zeroize();
                }
                step
            }
            Command::Vrfy(arg) if arg.is_empty() => {
                self.refuse(out, bad(501, "5.5.4", "Syntax: VRFY address"))
            }
            Command::Vrfy(_) => {
                self.reply(
                    out,
                    252,
                    "2.0.0",
                    "Cannot VRFY user, but will accept message and attempt delivery",
                );
                Step::Handled
            }
            Command::Expn(arg) if arg.is_empty() => {
                self.refuse(out, bad(501, "5.5.4", "Syntax: EXPN list"))
            }
            Command::Expn(_) => {
                self.reply(out, 502, "5.5.1", "Error: EXPN is not available");
                Step::Handled
            }
            Command::Help(_) => {
                let text = self.help();
                self.reply(out, 214, "2.0.0", &text);
                Step::Handled
            }
            Command::Other { .. } => {
                self.refuse(out, bad(500, "5.5.2", "Error: command not recognized"))
            }
        }
    }

    fn help(&self) -> String {
        let mut verbs: Vec<&str> = if self.config.lmtp {
            vec!["LHLO"]
        } else {
            vec!["EHLO", "HELO"]
        };
        verbs.extend([
            "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "HELP",
        ]);
        if self.config.starttls && !self.tls {
            verbs.push("STARTTLS");
        }
        if self.auth_allowed() {
            verbs.push("AUTH");
        }
        format!("Commands: {}", verbs.join(" "))
    }

    /// Whether AUTH may be used now (and is advertised): not before TLS when TLS is required.
    fn auth_allowed(&self) -> bool {
        !self.config.mechanisms.is_empty()
            && (self.tls || (self.config.plaintext_auth && !self.config.require_tls))
    }

    fn hello(&mut self, name: String, extended: bool, out: &mut Output) -> Step {
        self.txn = None;
        self.helo = Some(name);
        self.extended = extended;
        let host = self.config.hostname.clone();
        if extended {
            let mut lines = vec![
                host,
                "PIPELINING".to_string(),
                "8BITMIME".to_string(),
                "SMTPUTF8".to_string(),
                format!("SIZE {}", self.config.max_size),
                "CHUNKING".to_string(),
                "DSN".to_string(),
                "ENHANCEDSTATUSCODES".to_string(),
            ];
            if self.config.starttls && !self.tls {
                lines.push("STARTTLS".to_string());
            }
            if self.auth_allowed() {
                let names: Vec<&str> = self.config.mechanisms.iter().map(|m| m.name()).collect();
                lines.push(format!("AUTH {}", names.join(" ")));
            }
            lines.push("HELP".to_string());
            let lines: Vec<String> = lines.iter().map(|l| clean(l)).collect();
            let refs: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
            self.reply_lines(out, 250, None, &refs);
        } else {
            let host = clean(&host);
            self.reply_lines(out, 250, None, &[host.as_bytes()]);
        }
        self.events.push(ServerEvent::Phase(Phase::Ehlo));
        Step::Handled
    }

    fn mail(
        &mut self,
        from: &str,
        params: Vec<Param>,
        backend: &mut dyn Backend,
        out: &mut Output,
    ) -> Step {
        if self.helo.is_none() {
            let text = self.greet_first();
            return self.refuse(out, bad(503, "5.5.1", text));
        }
        if self.txn.is_some() {
            return self.refuse(out, bad(503, "5.5.1", "Error: nested MAIL command"));
        }
        if self.config.require_auth && self.auth_user.is_none() {
            return self.refuse(out, bad(530, "5.7.0", "Authentication required"));
        }
        let mailbox = match strip_route(from).and_then(|m| {
            if m.is_empty() {
                Ok(m)
            } else {
                check_mailbox(m, true).map(|()| m)
            }
        }) {
            Ok(m) => m.to_string(),
            Err(why) => {
                return self.refuse(
                    out,
                    bad(501, "5.1.7", format!("Bad sender address syntax: {why}")),
                )
            }
        };
        let (utf8, eight_bit) = match self.mail_params(&params) {
            Ok(p) => p,
            Err(MailParamError::Bad(b)) => return self.refuse(out, b),
            Err(MailParamError::TooBig) => {
                self.reply(out, 552, "5.3.4", TOO_BIG);
                return Step::Handled;
            }
        };
        if !utf8 && !mailbox.is_ascii() {
            return self.refuse(
                out,
                bad(
                    553,
                    "5.6.7",
                    "Non-ASCII addresses not permitted for that sender (use SMTPUTF8)",
                ),
            );
        }
        let verdict = backend.mail(&mailbox, &params);
        let accepted = matches!(verdict, Verdict::Accept(_));
        if self.verdict(out, &verdict, "2.1.0") {
            return self.close();
        }
        if accepted {
            self.txn = Some(Txn {
                from: mailbox,
                from_params: params,
                utf8,
                eight_bit,
                rcpts: Vec::new(),
                tried_rcpt: false,
                rx: None,
                chunks: 0,
            });
            self.events.push(ServerEvent::Phase(Phase::Mail));
        }
        Step::Handled
    }

    /// Checks MAIL's parameters: whether SMTPUTF8 was given and whether 8-bit data was
    /// announced (BODY=8BITMIME or SMTPUTF8).
    fn mail_params(&self, params: &[Param]) -> Result<(bool, bool), MailParamError> {
        let refuse =
            |code, enhanced, text: String| Err(MailParamError::Bad(bad(code, enhanced, text)));
        if !params.is_empty() && !self.extended {
            return refuse(555, "5.5.4", "Error: parameters need EHLO".into());
        }
        let (mut utf8, mut eight_bit) = (false, false);
        let mut seen: Vec<String> = Vec::new();
        for p in params {
            let keyword = p.keyword.to_ascii_uppercase();
            if seen.contains(&keyword) {
                return refuse(501, "5.5.4", format!("Error: {keyword} given twice"));
            }
            let value = p.value.as_deref();
            let syntax = |why: String| refuse(501, "5.5.4", why);
            match (keyword.as_str(), value) {
                ("SIZE", Some(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    let size = v.parse::<u64>().unwrap_or(u64::MAX);
                    if size > self.config.max_size {
                        return Err(MailParamError::TooBig);
                    }
                }
                ("SIZE", _) => return syntax("Bad SIZE parameter: SIZE=number of bytes".into()),
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => {}
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => eight_bit = true,
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("BINARYMIME") => {
                    return refuse(
                        555,
                        "5.5.4",
                        "BODY=BINARYMIME is not supported (not advertised)".into(),
                    );
                }
                ("BODY", _) => {
                    return syntax("Bad BODY parameter: BODY=7BIT or BODY=8BITMIME".into())
                }
                ("SMTPUTF8", None) => utf8 = true,
                ("SMTPUTF8", Some(_)) => return syntax("SMTPUTF8 takes no value".into()),
                ("RET", Some(v)) => {
                    if let Err(why) = check_ret(v) {
                        return syntax(why);
                    }
                }
                ("ENVID", Some(v)) => {
                    if let Err(why) = check_envid(v) {
                        return syntax(why);
                    }
                }
                ("AUTH", Some(v)) if !self.config.mechanisms.is_empty() => {
                    if v != "<>" {
                        if let Err(why) = check_xtext(v) {
                            return syntax(format!("AUTH= {why}"));
                        }
                    }
                }
                ("RET" | "ENVID", None) => {
                    return syntax(format!("{keyword} needs a value"));
                }
                ("AUTH", None) if !self.config.mechanisms.is_empty() => {
                    return syntax("AUTH= needs a value".into());
                }
                _ => return refuse(555, "5.5.4", format!("Unsupported option: {}", p.keyword)),
            }
            seen.push(keyword);
        }
        Ok((utf8, eight_bit || utf8))
    }

    fn rcpt(
        &mut self,
        to: &str,
        params: Vec<Param>,
        backend: &mut dyn Backend,
        out: &mut Output,
    ) -> Step {
        let Some(txn) = self.txn.as_ref() else {
            return self.refuse(out, bad(503, "5.5.1", "Error: need MAIL command"));
        };
        if txn.rx.is_some() {
            return self.refuse(out, bad(503, "5.5.1", "Error: RCPT after BDAT"));
        }
        let utf8 = txn.utf8;
        let checked = strip_route(to).and_then(|m| {
            if m.eq_ignore_ascii_case("postmaster") {
                Ok(m)
            } else if m.is_empty() {
                Err("the null path is for senders only".to_string())
            } else {
                check_mailbox(m, true).map(|()| m)
            }
        });
        let mailbox = match checked {
            Ok(m) => m.to_string(),
            Err(why) => {
                return self.refuse(
                    out,
                    bad(501, "5.1.3", format!("Bad recipient address syntax: {why}")),
                )
            }
        };
        if let Err(b) = self.rcpt_params(&params) {
            return self.refuse(out, b);
        }
        if !utf8 && !mailbox.is_ascii() {
            return self.refuse(
                out,
                bad(
                    553,
                    "5.6.7",
                    "Non-ASCII addresses not permitted for that recipient (use SMTPUTF8)",
                ),
            );
        }
        let Some(txn) = self.txn.as_mut() else {
            return Step::Handled;
        };
        txn.tried_rcpt = true;
        if txn.rcpts.len() >= self.config.max_rcpts {
            self.reply(out, 452, "4.5.3", "Error: too many recipients");
            return Step::Handled;
        }
        let from = txn.from.clone();
        let verdict = backend.rcpt(&from, &mailbox, &params);
        if let (Verdict::Accept(_), Some(txn)) = (&verdict, self.txn.as_mut()) {
            txn.rcpts.push(mailbox);
        }
        let accepted = matches!(verdict, Verdict::Accept(_));
        if self.verdict(out, &verdict, "2.1.5") {
            return self.close();
        }
        if accepted {
            self.events.push(ServerEvent::Phase(Phase::Rcpt));
        }
        Step::Handled
    }

    fn rcpt_params(&self, params: &[Param]) -> Result<(), Bad> {
        if !params.is_empty() && !self.extended {
            return Err(bad(555, "5.5.4", "Error: parameters need EHLO"));
        }
        let mut seen: Vec<String> = Vec::new();
        for p in params {
            let keyword = p.keyword.to_ascii_uppercase();
            if seen.contains(&keyword) {
                return Err(bad(501, "5.5.4", format!("Error: {keyword} given twice")));
            }
            let checked = match (keyword.as_str(), p.value.as_deref()) {
                ("NOTIFY", Some(v)) => check_notify(v),
                ("ORCPT", Some(v)) => check_orcpt(v),
                ("NOTIFY" | "ORCPT", None) => Err(format!("{keyword} needs a value")),
                _ => {
                    return Err(bad(
                        555,
                        "5.5.4",
                        format!("Unsupported option: {}", p.keyword),
                    ))
                }
            };
            checked.map_err(|why| bad(501, "5.5.4", why))?;
            seen.push(keyword);
        }
        Ok(())
    }

    /// Why there can be no message data now, if there cannot.
    fn no_data(&self) -> Option<Bad> {
        let Some(txn) = self.txn.as_ref() else {
            return Some(bad(503, "5.5.1", "Error: need MAIL command"));
        };
        if !txn.rcpts.is_empty() {
            return None;
        }
        if txn.tried_rcpt && !self.config.lmtp {
            Some(bad(554, "5.5.1", "Error: no valid recipients"))
        } else if txn.tried_rcpt {
            Some(bad(503, "5.5.1", "Error: no valid recipients"))
        } else {
            Some(bad(503, "5.5.1", "Error: need RCPT command"))
        }
    }

    fn data(&mut self, out: &mut Output) -> Step {
        if let Some(b) = self.no_data() {
            return self.refuse(out, b);
        }
        let (max, log) = (self.config.max_size, self.config.log);
        let Some(txn) = self.txn.as_mut() else {
            return Step::Handled;
        };
        if txn.rx.is_some() {
            return self.refuse(out, bad(503, "5.5.1", "Error: DATA after BDAT"));
        }
        txn.rx = Some(Receiver::new(max, txn.eight_bit, log).keeping(self.config.keep));
        self.mode = Mode::Data(DataReader::default());
        self.reply_lines(out, 354, None, &[b"End data with <CR><LF>.<CR><LF>"]);
        self.events.push(ServerEvent::Phase(Phase::Data));
        Step::Handled
    }

    fn step_data(&mut self, backend: &mut dyn Backend, out: &mut Output) -> Step {
        let (Mode::Data(reader), Some(rx)) = (
            &mut self.mode,
            self.txn.as_mut().and_then(|t| t.rx.as_mut()),
        ) else {
            self.mode = Mode::Command;
            return Step::Handled;
        };
        if !reader.read(&mut self.input, rx, &mut self.events) {
            return Step::NeedInput;
        }
        self.mode = Mode::Command;
        self.end_of_data(backend, out)
    }

    fn bdat(&mut self, size: u64, last: bool, backend: &mut dyn Backend, out: &mut Output) -> Step {
        let fate = match (self.no_data(), self.txn.as_mut()) {
            (Some(b), _) => Fate::Refuse {
                code: b.code,
                enhanced: b.enhanced,
                text: b.text,
            },
            (None, Some(txn)) => {
                let so_far = txn.rx.as_ref().map_or(0, Receiver::size);
                match so_far.checked_add(size) {
                    Some(total) if total <= self.config.max_size => {
                        if txn.rx.is_none() {
                            txn.rx = Some(
                                Receiver::new(self.config.max_size, txn.eight_bit, self.config.log)
                                    .keeping(self.config.keep),
                            );
                        }
                        Fate::Keep
                    }
                    _ => Fate::TooBig,
                }
            }
            (None, None) => Fate::Refuse {
                code: 503,
                enhanced: "5.5.1",
                text: "Error: need MAIL command".to_string(),
            },
        };
        self.start_chunk(size, last, fate, backend, out)
    }

    fn start_chunk(
        &mut self,
        size: u64,
        last: bool,
        fate: Fate,
        backend: &mut dyn Backend,
        out: &mut Output,
    ) -> Step {
        self.mode = Mode::Bdat(Chunk {
            size,
            left: size,
            last,
            fate,
        });
        self.step_bdat(backend, out)
    }

    fn step_bdat(&mut self, backend: &mut dyn Backend, out: &mut Output) -> Step {
        let Mode::Bdat(chunk) = &mut self.mode else {
            return Step::Handled;
        };
        let pending = self.input.peek();
        let n = usize::try_from(chunk.left)
            .unwrap_or(usize::MAX)
            .min(pending.len());
        if let (Fate::Keep, Some(rx)) = (&chunk.fate, self.txn.as_mut().and_then(|t| t.rx.as_mut()))
        {
            rx.chunk(pending.get(..n).unwrap_or(&[]), &mut self.events);
        }
        self.input.consume(n);
        chunk.left = chunk
            .left
            .saturating_sub(u64::try_from(n).unwrap_or(u64::MAX));
        if chunk.left > 0 {
            return Step::NeedInput;
        }
        let Mode::Bdat(chunk) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return Step::Handled;
        };
        match chunk.fate {
            Fate::Refuse {
                code,
                enhanced,
                text,
            } => self.refuse(
                out,
                Bad {
                    code,
                    enhanced,
                    text,
                },
            ),
            Fate::TooBig => {
                let rcpts = self.txn.take().map_or(0, |t| t.rcpts.len());
                self.events.push(ServerEvent::Problem(format!(
                    "a message over the {}-byte limit refused",
                    self.config.max_size
                )));
                let n = if chunk.last && self.config.lmtp {
                    rcpts.max(1)
                } else {
                    1
                };
                for _ in 0..n {
                    self.reply(out, 552, "5.3.4", TOO_BIG);
                }
                Step::Handled
            }
            Fate::Keep => {
                let first = match self.txn.as_mut() {
                    Some(txn) => {
                        txn.chunks = txn.chunks.saturating_add(1);
                        txn.chunks == 1
                    }
                    None => false,
                };
                if chunk.last {
                    if first {
                        self.events.push(ServerEvent::Phase(Phase::Data));
                    }
                    return self.end_of_data(backend, out);
                }
                let text = format!("Ok: {} octets received", chunk.size);
                self.reply(out, 250, "2.0.0", &text);
                if first {
                    self.events.push(ServerEvent::Phase(Phase::Data));
                }
                Step::Handled
            }
        }
    }

    /// The message is complete: deliver it and answer (LMTP: once per recipient).
    fn end_of_data(&mut self, backend: &mut dyn Backend, out: &mut Output) -> Step {
        let Some(mut txn) = self.txn.take() else {
            return Step::Handled;
        };
        let Some(rx) = txn.rx.take() else {
            return Step::Handled;
        };
        let received = rx.finish(&mut self.events);
        let replies = if self.config.lmtp { txn.rcpts.len() } else { 1 };
        let verdicts = match received.data {
            None => {
                self.events.push(ServerEvent::Problem(format!(
                    "a message of {} bytes over the {}-byte limit refused",
                    received.size, self.config.max_size
                )));
                vec![
                    Verdict::Reject {
                        code: 552,
                        enhanced: "5.3.4".to_string(),
                        text: TOO_BIG.to_string(),
                    };
                    replies
                ]
            }
            Some(data) => {
                let envelope = Envelope {
                    helo: self.helo.clone(),
                    from: txn.from,
                    from_params: txn.from_params,
                    rcpts: txn.rcpts,
                    tls: self.tls,
                    auth_user: self.auth_user.clone(),
                    flags: received.flags,
                    bdat: txn.chunks > 0,
                    size: received.size,
                };
                backend.deliver(&envelope, data)
            }
        };
        let mut close = false;
        for i in 0..replies {
            let v = verdicts.get(i).cloned().unwrap_or(Verdict::Reject {
                code: 451,
                enhanced: "4.3.0".to_string(),
                text: "Error: no verdict for this recipient".to_string(),
            });
            close |= self.verdict(out, &v, "2.0.0");
        }
        self.events.push(ServerEvent::Phase(Phase::Eod));
        if close {
            return self.close();
        }
        Step::Handled
    }

    fn starttls(&mut self, out: &mut Output) -> Step {
        if !self.config.starttls {
            return self.refuse(out, bad(502, "5.5.1", "Error: command not implemented"));
        }
        if self.tls {
            return self.refuse(out, bad(503, "5.5.1", "Error: TLS already active"));
        }
        if self.txn.is_some() {
            return self.refuse(
                out,
                bad(503, "5.5.1", "Error: MAIL transaction in progress"),
            );
        }
        self.reply(out, 220, "2.0.0", "Ready to start TLS");
        let dropped = self.input.buffered();
        if dropped > 0 {
            self.events.push(ServerEvent::Problem(format!(
                "{dropped} bytes sent after STARTTLS, before TLS: dropped"
            )));
        }
        self.input.clear();
        self.mode = Mode::StartingTls;
        Step::StartTls
    }

    // ---- AUTH

    fn auth(
        &mut self,
        mechanism: &str,
        initial: Option<&str>,
        backend: &mut dyn Backend,
        out: &mut Output,
    ) -> Step {
        if self.config.mechanisms.is_empty() {
            return self.refuse(out, bad(503, "5.5.1", "Error: authentication not enabled"));
        }
        if !self.auth_allowed() {
            return self.refuse(
                out,
                bad(
                    538,
                    "5.7.11",
                    "Encryption required for requested authentication mechanism",
                ),
            );
        }
        if !self.extended {
            let text = if self.config.lmtp {
                "Error: send LHLO first"
            } else {
                "Error: send EHLO first"
            };
            return self.refuse(out, bad(503, "5.5.1", text));
        }
        if self.auth_user.is_some() {
            return self.refuse(out, bad(503, "5.5.1", "Error: already authenticated"));
        }
        if self.txn.is_some() {
            return self.refuse(
                out,
                bad(503, "5.5.1", "Error: MAIL transaction in progress"),
            );
        }
        let Some(mech) =
            ServerMech::parse(mechanism).filter(|m| self.config.mechanisms.contains(m))
        else {
            return self.refuse(out, bad(504, "5.5.4", "Unrecognized authentication type"));
        };
        let initial = match initial {
            None => None,
            Some("*") => return self.auth_cancelled(mech, out),
            Some(text) => match decode_response(text.as_bytes()) {
                Ok(raw) => Some(raw),
                Err(_) => {
                    self.auth_event(String::new(), mech, false);
                    return self.refuse(
                        out,
                        bad(501, "5.5.2", "Error: the initial response is not base64"),
                    );
                }
            },
        };
        let creds = Creds(&*backend);
        let (exchange, progress) = Exchange::start(mech, initial, &creds, &self.config.hostname);
        self.auth_progress(exchange, progress, out)
    }

    fn auth_event(&mut self, user: String, mech: ServerMech, ok: bool) {
        self.events.push(ServerEvent::Auth {
            user,
            mechanism: mech.name().to_string(),
            ok,
        });
    }

    fn auth_cancelled(&mut self, mech: ServerMech, out: &mut Output) -> Step {
        self.auth_event(String::new(), mech, false);
        self.refuse(out, bad(501, "5.7.0", "Authentication cancelled"))
    }

    fn challenge(&mut self, out: &mut Output, raw: &[u8]) {
        let mut bytes = b"334 ".to_vec();
        bytes.extend_from_slice(STANDARD.encode(raw).as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.log_lines(Dir::Out, &bytes);
        out.push(&bytes);
    }

    fn auth_progress(&mut self, exchange: Exchange, progress: Progress, out: &mut Output) -> Step {
        let mech = exchange.mechanism();
        match progress {
            Progress::Challenge(raw) => {
                self.challenge(out, &raw);
                self.mode = Mode::Auth(Box::new(Auth {
                    exchange,
                    succeeded: None,
                }));
                Step::Handled
            }
            Progress::Success {
                user,
                additional: Some(raw),
            } => {
                // RFC 4954 4: data with success goes as a challenge, answered by an empty line.
                self.challenge(out, &raw);
                self.mode = Mode::Auth(Box::new(Auth {
                    exchange,
                    succeeded: Some(user),
                }));
                Step::Handled
            }
            Progress::Success {
                user,
                additional: None,
            } => self.auth_success(user, mech, out),
            Progress::Failure { user, why } => {
                self.mode = Mode::Command;
                self.events.push(ServerEvent::Problem(format!(
                    "authentication failed: {why}"
                )));
                self.auth_event(user.unwrap_or_default(), mech, false);
                self.refuse(out, bad(535, "5.7.8", "Authentication credentials invalid"))
            }
        }
    }

    fn auth_success(&mut self, user: String, mech: ServerMech, out: &mut Output) -> Step {
        self.mode = Mode::Command;
        self.auth_event(user.clone(), mech, true);
        self.auth_user = Some(user);
        self.reply(out, 235, "2.7.0", "Authentication successful");
        Step::Handled
    }

    fn auth_response(&mut self, line: &[u8], backend: &mut dyn Backend, out: &mut Output) -> Step {
        let Mode::Auth(auth) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return Step::Handled;
        };
        let Auth {
            mut exchange,
            succeeded,
        } = *auth;
        let mech = exchange.mechanism();
        if line == b"*" {
            return self.auth_cancelled(mech, out);
        }
        if let Some(user) = succeeded {
            return self.auth_success(user, mech, out);
        }
        let mut response = match decode_response(line) {
            Ok(raw) => raw,
            Err(_) => {
                self.auth_event(String::new(), mech, false);
                return self.refuse(out, bad(501, "5.5.2", "Error: the response is not base64"));
            }
        };
        let creds = Creds(&*backend);
        let progress = exchange.step(&response, &creds);
        response.zeroize();
        self.auth_progress(exchange, progress, out)
    }
}
