//! The POP3 server machine: RFC 1939 (USER/PASS, the maildrop commands), RFC 2449 (CAPA,
//! RESP-CODES, AUTH-RESP-CODE, PIPELINING), RFC 2595 (STLS) and RFC 5034 (AUTH with SASL and
//! an initial response). No I/O: the driver feeds the client's bytes, calls `step` until it
//! needs input, writes the [`Output`] and reports [`ServerEvent`]s to the log.
//!
//! A session is in one of three states: AUTHORIZATION (before login, where USER, PASS, AUTH and
//! STLS are allowed), TRANSACTION (after login, on a snapshot of the mailbox taken then, the
//! maildrop, numbered 1..n) and closed. QUIT in TRANSACTION removes the messages marked by
//! DELE (the UPDATE state of RFC 1939).

use std::sync::Arc;

use super::syntax::{split_word, Command};
use crate::proto::line::LineBuffer;
use crate::proto::sasl::encode;
use crate::proto::sasl_server::{decode_response, Exchange, Progress, ServerMech};
use crate::proto::server::Machine;
use crate::proto::server::{
    Credentials, Dir, Lookup, Mailbox, MessageInfo, Output, ServerEvent, Step, Wait,
};
use crate::proto::{Ending, Protocol};

/// The longest command line (or SASL response) accepted, in bytes before its LF (a CR
/// included). RFC 2449 limits commands to 255 octets; SASL responses may be longer.
pub const MAX_COMMAND_LINE: usize = 8 * 1024;

/// What the server offers and tolerates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The name in the greeting and the sign-off.
    pub hostname: String,
    /// Whether STLS is offered (the driver has a certificate).
    pub stls: bool,
    /// Whether USER/PASS and plaintext SASL mechanisms are allowed without TLS.
    pub plaintext_auth: bool,
    /// The SASL mechanisms offered (PLAIN and LOGIN only where plaintext logins are allowed).
    pub mechanisms: Vec<ServerMech>,
    /// No login of any kind before TLS (not even a mechanism that hides the password).
    pub require_tls: bool,
    /// Command lines (SASL responses included) a session may send; the one past the limit is
    /// refused and the connection closed. 0: no limit.
    pub max_commands: u32,
    /// Refused commands a session may send; the one past the limit closes the connection.
    /// 0: no limit.
    pub max_errors: u32,
    /// Whether every line in and out is reported as [`ServerEvent::Line`].
    pub log: bool,
}

/// The messages of the session, as the mailbox listed them at login.
#[derive(Debug)]
struct Maildrop {
    uid_validity: u32,
    messages: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    uid: u32,
    size: u64,
    /// Marked by DELE, removed at QUIT.
    deleted: bool,
}

/// A SASL exchange under way.
#[derive(Debug)]
struct Sasl {
    exchange: Exchange,
    mech: ServerMech,
    /// The exchange succeeded with additional data, sent as a challenge: the client's empty
    /// response completes the login as this user.
    done: Option<String>,
}

#[derive(Debug)]
enum State {
    /// Before login; the name USER gave, waiting for PASS.
    Authorization { user: Option<String> },
    /// An AUTH exchange: every line is a SASL response.
    Sasl(Box<Sasl>),
    /// Logged in.
    Transaction(Maildrop),
    /// After QUIT, a fatal error or shutdown: nothing more is read.
    Closed,
}

/// What the machine reports, kept apart from the state so both can be borrowed at once.
#[derive(Debug)]
struct Log {
    lines: bool,
    events: Vec<ServerEvent>,
}

impl Log {
    fn line(
        &mut self,
        dir: Dir,
        bytes: &[u8],
        ending: Ending,
        secret: Option<std::ops::Range<usize>>,
    ) {
        if self.lines {
            self.events.push(ServerEvent::Line {
                dir,
                bytes: bytes.to_vec(),
                ending,
                secret,
            });
        }
    }

    /// Writes one line of the machine's own, with CRLF, and logs it.
    fn send(&mut self, out: &mut Output, line: &str) {
        out.push(line.as_bytes());
        out.push(b"\r\n");
        self.line(Dir::Out, line.as_bytes(), Ending::CrLf, None);
    }

    fn problem(&mut self, what: impl Into<String>) {
        self.events.push(ServerEvent::Problem(what.into()));
    }

    fn auth(&mut self, user: &str, mech: &str, ok: bool) {
        self.events.push(ServerEvent::Auth {
            user: user.to_string(),
            mechanism: mech.to_string(),
            ok,
        });
    }
}

/// A mailbox seen as the credentials it checks (the SASL exchange asks only that).
struct Creds<'a>(&'a dyn Mailbox);

impl Credentials for Creds<'_> {
    fn check(&self, user: &str, password: &[u8]) -> bool {
        self.0.check(user, password)
    }

    fn password(&self, user: &str) -> Lookup {
        self.0.password(user)
    }
}

/// Why a command was refused: the text after `-ERR `.
type Refusal = String;

/// One POP3 session, server side.
#[derive(Debug)]
pub struct Server {
    config: Config,
    lines: LineBuffer,
    state: State,
    tls: bool,
    /// STLS was answered: nothing is read until `tls_started`.
    upgrading: bool,
    commands: u32,
    errors: u32,
    log: Log,
}

impl Server {
    pub fn new(config: Config) -> Server {
        Server {
            log: Log {
                lines: config.log,
                events: Vec::new(),
            },
            config,
            lines: LineBuffer::new(MAX_COMMAND_LINE),
            state: State::Authorization { user: None },
            tls: false,
            upgrading: false,
            commands: 0,
            errors: 0,
        }
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    fn close(&mut self) -> Step {
        self.state = State::Closed;
        self.lines.clear();
        Step::Close
    }

    /// `-ERR why`, counted; past the error limit the connection closes.
    fn refuse(&mut self, out: &mut Output, why: &str) -> Step {
        self.errors = self.errors.saturating_add(1);
        if over(self.errors, self.config.max_errors) {
            self.log.problem("too many errors");
            self.log
                .send(out, &format!("-ERR {why} (too many errors, closing)"));
            return self.close();
        }
        self.log.send(out, &format!("-ERR {why}"));
        Step::Handled
    }

    /// Whether a password may cross this connection as it is.
    fn plaintext_allowed(&self) -> bool {
        self.tls || self.config.plaintext_auth
    }

    /// Why a plaintext login is refused here.
    fn plaintext_refusal(&self, what: &str) -> Refusal {
        if self.config.stls {
            format!("[AUTH] {what} is not allowed without TLS, use STLS first")
        } else {
            format!("[AUTH] {what} is not allowed without TLS")
        }
    }

    /// The SASL mechanisms allowed now.
    fn mechanisms(&self) -> Vec<ServerMech> {
        let plain = self.plaintext_allowed();
        if self.config.require_tls && !self.tls {
            return Vec::new();
        }
        self.config
            .mechanisms
            .iter()
            .copied()
            .filter(|m| plain || !m.plaintext())
            .collect()
    }

    fn logged_in(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    fn command(
        &mut self,
        cmd: Command,
        line: &[u8],
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Result<Step, Refusal> {
        match cmd {
            Command::Capa => {
                self.capa(out);
                Ok(Step::Handled)
            }
            Command::Quit => Ok(self.quit(mailbox, out)),
            Command::Stls => self.stls(out),
            Command::User(name) => {
                self.authorization("USER")?;
                if !self.plaintext_allowed() {
                    return Err(self.plaintext_refusal("USER"));
                }
                self.state = State::Authorization { user: Some(name) };
                self.log.send(out, "+OK send PASS");
                Ok(Step::Handled)
            }
            Command::Pass(_) => self.pass(line, mailbox, out),
            Command::Auth { mechanism, initial } => self.auth(mechanism, initial, mailbox, out),
            Command::Apop { .. } => Err("APOP is not supported".to_string()),
            Command::Utf8 => Err("UTF8 is not supported".to_string()),
            Command::Other { verb, .. } => Err(unknown(&verb)),
            other => {
                let State::Transaction(drop) = &mut self.state else {
                    return Err(format!("{} is only allowed after login", other.verb()));
                };
                transaction(drop, other, &mut self.log, mailbox, out)
            }
        }
    }

    /// Refuses a command of the AUTHORIZATION state after login.
    fn authorization(&self, verb: &str) -> Result<(), Refusal> {
        if self.logged_in() {
            Err(format!("{verb}: already logged in"))
        } else {
            Ok(())
        }
    }

    fn capa(&mut self, out: &mut Output) {
        let before_login = !self.logged_in();
        let mut lines = vec!["+OK capability list follows".to_string()];
        lines.push("TOP".into());
        lines.push("UIDL".into());
        if before_login && self.plaintext_allowed() {
            lines.push("USER".into());
        }
        let mechs = self.mechanisms();
        if before_login && !mechs.is_empty() {
            let names: Vec<&str> = mechs.iter().map(|m| m.name()).collect();
            lines.push(format!("SASL {}", names.join(" ")));
        }
        if before_login && self.config.stls && !self.tls {
            lines.push("STLS".into());
        }
        for fixed in [
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "IMPLEMENTATION mailtalk",
            ".",
        ] {
            lines.push(fixed.into());
        }
        for line in &lines {
            self.log.send(out, line);
        }
    }

    fn quit(&mut self, mailbox: &mut dyn Mailbox, out: &mut Output) -> Step {
        let host = &self.config.hostname;
        let line = match &self.state {
            State::Transaction(drop) => {
                let marked: Vec<u32> = drop
                    .messages
                    .iter()
                    .filter(|m| m.deleted)
                    .map(|m| m.uid)
                    .collect();
                if !marked.is_empty() {
                    mailbox.expunge(&marked);
                }
                format!(
                    "+OK {host} POP3 server signing off ({} deleted)",
                    plural(marked.len(), "message")
                )
            }
            _ => format!("+OK {host} POP3 server signing off"),
        };
        self.log.send(out, &line);
        self.close()
    }

    fn stls(&mut self, out: &mut Output) -> Result<Step, Refusal> {
        if self.tls {
            return Err("TLS is already active".to_string());
        }
        if !self.config.stls {
            return Err("STLS is not offered".to_string());
        }
        self.authorization("STLS")?;
        self.log.send(out, "+OK begin TLS negotiation");
        self.lines.clear();
        self.state = State::Authorization { user: None };
        self.upgrading = true;
        Ok(Step::StartTls)
    }

    fn pass(
        &mut self,
        line: &[u8],
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Result<Step, Refusal> {
        self.authorization("PASS")?;
        if !self.plaintext_allowed() {
            return Err(self.plaintext_refusal("PASS"));
        }
        let State::Authorization { user } = &mut self.state else {
            return Err("PASS is not allowed now".to_string());
        };
        let Some(user) = user.take() else {
            return Err("send USER first".to_string());
        };
        // The password as sent, bytes and all (the parsed command holds it as text).
        let password = split_word(line).1.unwrap_or(&[]);
        if !mailbox.check(&user, password) {
            self.log.auth(&user, "USER", false);
            return Err("[AUTH] invalid user name or password".to_string());
        }
        self.login(&user, "USER", mailbox, out);
        Ok(Step::Handled)
    }

    /// Opens the user's mailbox and takes the maildrop.
    fn login(&mut self, user: &str, mech: &str, mailbox: &mut dyn Mailbox, out: &mut Output) {
        mailbox.open(user);
        let messages: Vec<Entry> = mailbox
            .messages()
            .into_iter()
            .map(|m: MessageInfo| Entry {
                uid: m.uid,
                size: m.size,
                deleted: false,
            })
            .collect();
        let drop = Maildrop {
            uid_validity: mailbox.uid_validity(),
            messages,
        };
        let (n, octets) = drop.stat();
        self.log.auth(user, mech, true);
        self.log.send(
            out,
            &format!(
                "+OK logged in, maildrop has {} ({octets} octets)",
                plural(n, "message")
            ),
        );
        self.state = State::Transaction(drop);
    }

    fn auth(
        &mut self,
        mechanism: Option<String>,
        initial: Option<String>,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Result<Step, Refusal> {
        self.authorization("AUTH")?;
        let Some(name) = mechanism else {
            self.log.send(out, "+OK supported mechanisms follow");
            for m in self.mechanisms() {
                self.log.send(out, m.name());
            }
            self.log.send(out, ".");
            return Ok(Step::Handled);
        };
        let Some(mech) = ServerMech::parse(&name) else {
            return Err(match printable(&name) {
                Some(n) => format!("{n} is not a supported mechanism"),
                None => "not a supported mechanism".to_string(),
            });
        };
        if !self.config.mechanisms.contains(&mech) {
            // Not offered at all (SCRAM without known passwords): TLS would not help.
            return Err(format!("[AUTH] {} is not offered here", mech.name()));
        }
        if !self.mechanisms().contains(&mech) {
            return Err(self.plaintext_refusal(mech.name()));
        }
        let initial = match initial {
            Some(text) => match decode_response(text.as_bytes()) {
                Ok(raw) => Some(raw),
                Err(_) => {
                    self.state = State::Authorization { user: None };
                    self.log.auth("", mech.name(), false);
                    return Err("[AUTH] the initial response is not valid base64".to_string());
                }
            },
            None => None,
        };
        let (exchange, progress) =
            Exchange::start(mech, initial, &Creds(&*mailbox), &self.config.hostname);
        let sasl = Sasl {
            exchange,
            mech,
            done: None,
        };
        self.progress(sasl, progress, mailbox, out)
    }

    /// A line during an AUTH exchange.
    fn sasl_response(
        &mut self,
        line: &[u8],
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Result<Step, Refusal> {
        let State::Sasl(sasl) =
            std::mem::replace(&mut self.state, State::Authorization { user: None })
        else {
            return Err("no authentication under way".to_string());
        };
        let mut sasl = *sasl;
        let name = sasl.mech.name();
        if line == b"*" {
            self.log.auth("", name, false);
            // A cancel is the client's right, not an error.
            self.log.send(out, "-ERR [AUTH] authentication cancelled");
            return Ok(Step::Handled);
        }
        let Ok(response) = decode_response(line) else {
            self.log.auth("", name, false);
            return Err("[AUTH] the response is not valid base64".to_string());
        };
        if let Some(user) = sasl.done.take() {
            if response.is_empty() {
                self.login(&user, name, mailbox, out);
                return Ok(Step::Handled);
            }
            self.log.auth(&user, name, false);
            self.log
                .problem(format!("{name}: a response after success"));
            return Err("[AUTH] authentication failed".to_string());
        }
        let progress = sasl.exchange.step(&response, &Creds(&*mailbox));
        self.progress(sasl, progress, mailbox, out)
    }

    fn progress(
        &mut self,
        mut sasl: Sasl,
        progress: Progress,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Result<Step, Refusal> {
        let name = sasl.mech.name();
        match progress {
            Progress::Challenge(raw) => {
                self.log.send(out, &format!("+ {}", encode(&raw)));
                self.state = State::Sasl(Box::new(sasl));
            }
            Progress::Success {
                user,
                additional: Some(data),
            } => {
                self.log.send(out, &format!("+ {}", encode(&data)));
                sasl.done = Some(user);
                self.state = State::Sasl(Box::new(sasl));
            }
            Progress::Success {
                user,
                additional: None,
            } => self.login(&user, name, mailbox, out),
            Progress::Failure { user, why } => {
                self.state = State::Authorization { user: None };
                self.log.auth(user.as_deref().unwrap_or(""), name, false);
                self.log.problem(format!("{name}: {why}"));
                return Err("[AUTH] authentication failed".to_string());
            }
        }
        Ok(Step::Handled)
    }
}

/// The commands of the TRANSACTION state.
fn transaction(
    drop: &mut Maildrop,
    cmd: Command,
    log: &mut Log,
    mailbox: &mut dyn Mailbox,
    out: &mut Output,
) -> Result<Step, Refusal> {
    match cmd {
        Command::Stat => {
            let (n, octets) = drop.stat();
            log.send(out, &format!("+OK {n} {octets}"));
        }
        Command::List(Some(n)) => {
            let size = drop.get(n)?.size;
            log.send(out, &format!("+OK {n} {size}"));
        }
        Command::List(None) => {
            let (count, octets) = drop.stat();
            log.send(
                out,
                &format!("+OK {} ({octets} octets)", plural(count, "message")),
            );
            for (n, m) in drop.live() {
                log.send(out, &format!("{n} {}", m.size));
            }
            log.send(out, ".");
        }
        Command::Uidl(Some(n)) => {
            let uid = drop.get(n)?.uid;
            log.send(
                out,
                &format!("+OK {n} {}", unique_id(drop.uid_validity, uid)),
            );
        }
        Command::Uidl(None) => {
            log.send(out, "+OK unique-id listing follows");
            for (n, m) in drop.live() {
                log.send(out, &format!("{n} {}", unique_id(drop.uid_validity, m.uid)));
            }
            log.send(out, ".");
        }
        Command::Retr(n) => {
            let uid = drop.get(n)?.uid;
            let Some(data) = mailbox.body(uid) else {
                return Ok(vanished(log, out, n));
            };
            log.send(out, &format!("+OK {} octets", data.len()));
            content(log, out, &data, data.len());
        }
        Command::Top { msg, lines } => {
            let uid = drop.get(msg)?.uid;
            let Some(data) = mailbox.body(uid) else {
                return Ok(vanished(log, out, msg));
            };
            log.send(out, "+OK top of message follows");
            content(log, out, &data, top_end(&data, lines));
        }
        Command::Dele(n) => {
            let entry = drop.get_mut(n)?;
            entry.deleted = true;
            log.send(out, &format!("+OK message {n} deleted"));
        }
        Command::Rset => {
            for m in &mut drop.messages {
                m.deleted = false;
            }
            let (count, octets) = drop.stat();
            log.send(
                out,
                &format!(
                    "+OK maildrop has {} ({octets} octets)",
                    plural(count, "message")
                ),
            );
        }
        Command::Noop => log.send(out, "+OK"),
        other => return Err(format!("{} is not allowed after login", other.verb())),
    }
    Ok(Step::Handled)
}

/// The first `end` bytes of a message, dot-stuffed by the driver as it writes them, then the
/// final `.` line; logged as a size, not line by line.
fn content(log: &mut Log, out: &mut Output, data: &Arc<Vec<u8>>, end: usize) {
    out.push_message(data, 0..end, true);
    let part = data.get(..end).unwrap_or(&[]);
    let mut lines = memchr::memchr_iter(b'\n', part).count();
    if part.last().is_some_and(|&b| b != b'\n') {
        lines = lines.saturating_add(1);
    }
    if log.lines {
        log.events.push(ServerEvent::DataSkipped {
            lines: u64::try_from(lines).unwrap_or(u64::MAX),
            bytes: u64::try_from(part.len()).unwrap_or(u64::MAX),
        });
    }
    log.send(out, ".");
}

/// A message of the maildrop that the mailbox no longer has (removed by another session).
fn vanished(log: &mut Log, out: &mut Output, n: u32) -> Step {
    log.send(
        out,
        &format!("-ERR message {n} is no longer in the mailbox"),
    );
    Step::Handled
}

impl Maildrop {
    /// Messages and octets, not counting those marked deleted.
    fn stat(&self) -> (usize, u64) {
        self.messages
            .iter()
            .filter(|m| !m.deleted)
            .fold((0usize, 0u64), |(n, size), m| {
                (n.saturating_add(1), size.saturating_add(m.size))
            })
    }

    /// The messages not marked deleted, with their numbers.
    fn live(&self) -> impl Iterator<Item = (usize, &Entry)> {
        (1usize..)
            .zip(self.messages.iter())
            .filter(|(_, m)| !m.deleted)
    }

    fn get_mut(&mut self, n: u32) -> Result<&mut Entry, Refusal> {
        let count = self.messages.len();
        let entry = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.messages.get_mut(i));
        match entry {
            None => Err(format!(
                "no such message, the maildrop has {}",
                plural(count, "message")
            )),
            Some(e) if e.deleted => Err(format!("message {n} is deleted")),
            Some(e) => Ok(e),
        }
    }

    fn get(&mut self, n: u32) -> Result<&Entry, Refusal> {
        self.get_mut(n).map(|e| &*e)
    }
}

/// The end of the headers, the blank line after them and the first `lines` body lines (all of
/// a message without a blank line).
fn top_end(data: &[u8], lines: u32) -> usize {
    let mut at = 0usize;
    loop {
        let Some(end) = line_end(data, at) else {
            return data.len();
        };
        let line = data.get(at..end).unwrap_or(&[]);
        at = end;
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    for _ in 0..lines {
        match line_end(data, at) {
            Some(end) => at = end,
            None => break,
        }
    }
    at
}

/// Where the line starting at `from` ends (after its LF, or the end of the data); `None` when
/// nothing is left.
fn line_end(data: &[u8], from: usize) -> Option<usize> {
    let rest = data.get(from..).filter(|r| !r.is_empty())?;
    Some(match memchr::memchr(b'\n', rest) {
        Some(p) => from.saturating_add(p).saturating_add(1),
        None => data.len(),
    })
}

/// The UIDL unique id: stable while the mailbox keeps its UID validity.
fn unique_id(uid_validity: u32, uid: u32) -> String {
    format!("{uid_validity}.{uid}")
}

fn over(count: u32, limit: u32) -> bool {
    limit > 0 && count > limit
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A client's word, quoted back only when it is short printable ASCII.
fn printable(word: &str) -> Option<&str> {
    (!word.is_empty() && word.len() <= 32 && word.bytes().all(|b| b.is_ascii_graphic()))
        .then_some(word)
}

fn unknown(verb: &str) -> Refusal {
    match printable(verb) {
        Some(v) => format!("unknown command {v}"),
        None => "unknown command".to_string(),
    }
}

impl Machine for Server {
    type Backend = dyn Mailbox;

    fn protocol(&self) -> Protocol {
        Protocol::Pop3
    }

    fn timed_out(&mut self, out: &mut Output) {
        out.push(b"-ERR [SYS/TEMP] Timeout: the client was silent too long\r\n");
    }

    /// `+OK HOST POP3 mailtalk ready`
    fn greeting(&mut self, out: &mut Output) {
        let line = format!("+OK {} POP3 mailtalk ready", self.config.hostname);
        self.log.send(out, &line);
    }

    /// Buffers what the client sent. Ignored once the session is closed, and between STLS and
    /// `tls_started` (such bytes came before TLS).
    fn feed(&mut self, bytes: &[u8]) {
        if !self.upgrading && !matches!(self.state, State::Closed) {
            self.lines.push(bytes);
        }
    }

    /// Handles at most one complete line of what was fed.
    fn step(&mut self, mailbox: &mut Self::Backend, out: &mut Output) -> Step {
        if matches!(self.state, State::Closed) {
            return Step::Close;
        }
        if self.upgrading {
            return Step::NeedInput;
        }
        let line = match self.lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return Step::NeedInput,
            Err(_) => {
                self.log.problem("line too long");
                self.log.send(out, "-ERR line too long");
                return self.close();
            }
        };
        let sasl = matches!(self.state, State::Sasl(_));
        let secret = if !sasl {
            super::classify(&line.bytes).secret
        } else if line.bytes == b"*" {
            None
        } else {
            Some(0..line.bytes.len())
        };
        self.log.line(Dir::In, &line.bytes, line.ending, secret);
        self.commands = self.commands.saturating_add(1);
        if over(self.commands, self.config.max_commands) {
            self.log.problem("too many commands");
            self.log.send(out, "-ERR too many commands, closing");
            return self.close();
        }
        let result = if sasl {
            self.sasl_response(&line.bytes, mailbox, out)
        } else if line.bytes.contains(&0) {
            Err("NUL byte in command line".to_string())
        } else {
            match Command::parse(&line.bytes) {
                Ok(cmd) => self.command(cmd, &line.bytes, mailbox, out),
                Err(e) => Err(e.to_string()),
            }
        };
        match result {
            Ok(step) => step,
            Err(why) => self.refuse(out, &why),
        }
    }

    /// After the TLS handshake that followed [`Step::StartTls`]: a fresh AUTHORIZATION state,
    /// nothing kept from before.
    fn tls_started(&mut self) {
        self.tls = true;
        self.upgrading = false;
        self.lines.clear();
        if !matches!(self.state, State::Closed) {
            self.state = State::Authorization { user: None };
        }
    }

    /// The server stops: `-ERR [SYS/TEMP] HOST server shutting down`, then the session is over
    /// (nothing marked is removed).
    fn shutdown(&mut self, out: &mut Output) {
        if matches!(self.state, State::Closed) {
            return;
        }
        let line = format!(
            "-ERR [SYS/TEMP] {} server shutting down",
            self.config.hostname
        );
        self.log.send(out, &line);
        self.state = State::Closed;
    }

    /// POP3 always waits for a command.
    fn wait(&self) -> Wait {
        Wait::Command
    }

    fn take_events(&mut self) -> Vec<ServerEvent> {
        std::mem::take(&mut self.log.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sasl::{encode, Mechanism};
    use crate::secret::Secret;

    /// A mailbox in memory: one user, two messages, and a record of what the machine did.
    struct Store {
        users: Vec<(&'static str, &'static str)>,
        messages: Vec<(MessageInfo, Arc<Vec<u8>>)>,
        opened: Option<String>,
        expunged: Vec<u32>,
    }

    const ONE: &[u8] = b"Subject: one\r\n\r\nline 1\r\n.dot\r\nline 3\r\n";
    const TWO: &[u8] = b"Subject: two\r\nFrom: b\r\n\r\nbody\r\n";

    fn store() -> Store {
        let msg = |uid: u32, data: &[u8]| {
            (
                MessageInfo {
                    uid,
                    size: data.len() as u64,
                    flags: Vec::new(),
                    received: 0,
                },
                Arc::new(data.to_vec()),
            )
        };
        Store {
            users: vec![("alice", "secret"), ("bob", "two words")],
            messages: vec![msg(3, ONE), msg(7, TWO)],
            opened: None,
            expunged: Vec::new(),
        }
    }

    impl Credentials for Store {
        fn check(&self, user: &str, password: &[u8]) -> bool {
            self.users
                .iter()
                .any(|(u, p)| u.eq_ignore_ascii_case(user) && p.as_bytes() == password)
        }

        fn password(&self, user: &str) -> Lookup {
            match self
                .users
                .iter()
                .find(|(u, _)| u.eq_ignore_ascii_case(user))
            {
                Some((_, p)) => Lookup::Known(Secret::new(p.to_string())),
                None => Lookup::Unknown,
            }
        }
    }

    impl Mailbox for Store {
        fn open(&mut self, user: &str) {
            self.opened = Some(user.to_string());
        }
        fn messages(&mut self) -> Vec<MessageInfo> {
            self.messages.iter().map(|(m, _)| m.clone()).collect()
        }
        fn body(&mut self, uid: u32) -> Option<Arc<Vec<u8>>> {
            self.messages
                .iter()
                .find(|(m, _)| m.uid == uid)
                .map(|(_, d)| Arc::clone(d))
        }
        fn set_flags(&mut self, _uid: u32, _flags: Vec<String>) {}
        fn expunge(&mut self, uids: &[u32]) {
            self.messages.retain(|(m, _)| !uids.contains(&m.uid));
            self.expunged.extend_from_slice(uids);
        }
        fn uid_validity(&self) -> u32 {
            42
        }
        fn uid_next(&self) -> u32 {
            8
        }
        fn version(&self) -> u64 {
            0
        }
    }

    fn config() -> Config {
        Config {
            hostname: "mx.test".into(),
            stls: true,
            plaintext_auth: true,
            mechanisms: ServerMech::ALL.to_vec(),
            require_tls: false,
            max_commands: 100,
            max_errors: 50,
            log: true,
        }
    }

    /// Feeds `input` and steps until the machine needs input, closes or starts TLS; returns
    /// what it wrote and the last step.
    fn run(s: &mut Server, mb: &mut Store, input: &[u8]) -> (Vec<u8>, Step) {
        s.feed(input);
        let mut out = Output::new();
        loop {
            match s.step(mb, &mut out) {
                Step::Handled => continue,
                step => return (out.to_bytes(), step),
            }
        }
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// A server after the greeting (which is checked).
    fn started(config: Config) -> Server {
        let mut s = Server::new(config);
        let mut out = Output::new();
        s.greeting(&mut out);
        assert_eq!(text(&out.to_bytes()), "+OK mx.test POP3 mailtalk ready\r\n");
        s
    }

    /// The reply to `input` in a fresh session (greeting not included).
    fn reply(config: Config, input: &str) -> String {
        let mut s = started(config);
        text(&run(&mut s, &mut store(), input.as_bytes()).0)
    }

    /// A server logged in as alice.
    fn logged_in(mb: &mut Store) -> Server {
        let mut s = started(config());
        let (out, _) = run(&mut s, mb, b"USER alice\r\nPASS secret\r\n");
        assert_eq!(
            text(&out),
            "+OK send PASS\r\n+OK logged in, maildrop has 2 messages (69 octets)\r\n"
        );
        s
    }

    /// What alice's session answers to `input` after login.
    fn after_login(input: &str) -> String {
        let mut mb = store();
        let mut s = logged_in(&mut mb);
        text(&run(&mut s, &mut mb, input.as_bytes()).0)
    }

    const SESSION: &str = "CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\n\
        RETR 1\r\nTOP 2 0\r\nDELE 1\r\nLIST 1\r\nQUIT\r\n";

    const SESSION_REPLY: &str = "+OK capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n\
        SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\nSTLS\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n\
        PIPELINING\r\nIMPLEMENTATION mailtalk\r\n.\r\n\
        +OK send PASS\r\n\
        +OK logged in, maildrop has 2 messages (69 octets)\r\n\
        +OK 2 69\r\n\
        +OK 2 messages (69 octets)\r\n1 38\r\n2 31\r\n.\r\n\
        +OK unique-id listing follows\r\n1 42.3\r\n2 42.7\r\n.\r\n\
        +OK 38 octets\r\nSubject: one\r\n\r\nline 1\r\n..dot\r\nline 3\r\n.\r\n\
        +OK top of message follows\r\nSubject: two\r\nFrom: b\r\n\r\n.\r\n\
        +OK message 1 deleted\r\n\
        -ERR message 1 is deleted\r\n\
        +OK mx.test POP3 server signing off (1 message deleted)\r\n";

    #[test]
    fn a_whole_session_pipelined_in_one_feed() {
        let mut mb = store();
        let mut s = started(config());
        let (out, step) = run(&mut s, &mut mb, SESSION.as_bytes());
        assert_eq!(text(&out), SESSION_REPLY);
        assert_eq!(step, Step::Close);
        assert_eq!(mb.opened.as_deref(), Some("alice"));
        assert_eq!(mb.expunged, vec![3]);
        // Closed: nothing more is read or written.
        let (out, step) = run(&mut s, &mut mb, b"NOOP\r\n");
        assert_eq!((out, step), (Vec::new(), Step::Close));

        let events = s.take_events();
        assert!(events.contains(&ServerEvent::Line {
            dir: Dir::In,
            bytes: b"PASS secret".to_vec(),
            ending: Ending::CrLf,
            secret: Some(5..11),
        }));
        assert!(events.contains(&ServerEvent::Auth {
            user: "alice".into(),
            mechanism: "USER".into(),
            ok: true,
        }));
        // RETR's content is logged as its size, TOP's too; the lines around it as lines.
        let retr = events
            .iter()
            .position(|e| matches!(e, ServerEvent::Line { bytes, .. } if bytes == b"+OK 38 octets"))
            .unwrap();
        assert_eq!(
            events.get(retr + 1),
            Some(&ServerEvent::DataSkipped {
                lines: 5,
                bytes: 38
            })
        );
        assert!(matches!(events.get(retr + 2),
            Some(ServerEvent::Line { dir: Dir::Out, bytes, .. }) if bytes == b"."));
        assert!(events.contains(&ServerEvent::DataSkipped {
            lines: 3,
            bytes: 25
        }));
        assert!(!events
            .iter()
            .any(|e| matches!(e, ServerEvent::Line { bytes, .. } if bytes.starts_with(b"line 1"))));
        // Every line in and out is there, once.
        let lines = |dir: Dir| {
            events
                .iter()
                .filter(|e| matches!(e, ServerEvent::Line { dir: d, .. } if *d == dir))
                .count()
        };
        assert_eq!(lines(Dir::In), 11);
        // Greeting, 11 CAPA, USER, PASS, STAT, 4 LIST, 4 UIDL, RETR and its dot, TOP and its
        // dot, DELE, LIST 1, QUIT.
        assert_eq!(
            lines(Dir::Out),
            1 + 11 + 1 + 1 + 1 + 4 + 4 + 2 + 2 + 1 + 1 + 1
        );
        assert!(s.take_events().is_empty());
    }

    #[test]
    fn the_same_at_every_split_of_the_input() {
        let input = SESSION.as_bytes();
        for cut in 0..=input.len() {
            let mut mb = store();
            let mut s = started(config());
            let (mut out, step) = run(&mut s, &mut mb, &input[..cut]);
            if cut < input.len() {
                assert_eq!(step, Step::NeedInput, "cut at {cut}");
                let (rest, step) = run(&mut s, &mut mb, &input[cut..]);
                out.extend_from_slice(&rest);
                assert_eq!(step, Step::Close);
            }
            assert_eq!(text(&out), SESSION_REPLY, "cut at {cut}");
        }
    }

    #[test]
    fn a_byte_at_a_time() {
        let mut mb = store();
        let mut s = started(config());
        let mut out = Vec::new();
        for b in SESSION.as_bytes() {
            out.extend(run(&mut s, &mut mb, &[*b]).0);
        }
        assert_eq!(text(&out), SESSION_REPLY);
    }

    #[test]
    fn steps_one_command_at_a_time() {
        let mut mb = store();
        let mut s = started(config());
        s.feed(b"NOOP\r\nCAPA\r\nQU");
        let mut out = Output::new();
        assert_eq!(s.step(&mut mb, &mut out), Step::Handled);
        assert_eq!(
            text(&out.to_bytes()),
            "-ERR NOOP is only allowed after login\r\n"
        );
        assert_eq!(s.step(&mut mb, &mut out), Step::Handled);
        assert_eq!(s.step(&mut mb, &mut out), Step::NeedInput);
        s.feed(b"IT\r\n");
        assert_eq!(s.step(&mut mb, &mut out), Step::Close);
        assert!(text(&out.to_bytes()).ends_with("\r\n+OK mx.test POP3 server signing off\r\n"));
        assert_eq!(s.wait(), Wait::Command);
    }

    #[test]
    fn capabilities_follow_state_and_tls() {
        let tail = "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION mailtalk\r\n.\r\n";
        // No plaintext login without TLS: no USER, no PLAIN/LOGIN; STLS offered.
        let mut no_plain = config();
        no_plain.plaintext_auth = false;
        assert_eq!(
            reply(no_plain.clone(), "capa\r\n"),
            format!(
                "+OK capability list follows\r\nTOP\r\nUIDL\r\nSASL CRAM-MD5 SCRAM-SHA-256\r\n\
                 STLS\r\n{tail}"
            )
        );
        // Without STLS to offer.
        let mut no_stls = config();
        no_stls.stls = false;
        assert_eq!(
            reply(no_stls, "CAPA\r\n"),
            format!(
                "+OK capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n\
                 SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n{tail}"
            )
        );
        // Under TLS: plaintext login allowed, no STLS.
        let mut mb = store();
        let mut s = started(no_plain);
        assert_eq!(run(&mut s, &mut mb, b"STLS\r\n").1, Step::StartTls);
        s.tls_started();
        assert_eq!(
            text(&run(&mut s, &mut mb, b"CAPA\r\n").0),
            format!(
                "+OK capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n\
                 SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n{tail}"
            )
        );
        // After login: only what TRANSACTION has.
        assert_eq!(
            after_login("CAPA\r\n"),
            format!("+OK capability list follows\r\nTOP\r\nUIDL\r\n{tail}")
        );
    }

    #[test]
    fn stls_drops_what_came_after_and_starts_afresh() {
        let mut no_plain = config();
        no_plain.plaintext_auth = false;
        let mut mb = store();
        let mut s = started(no_plain);
        assert!(!s.is_tls());
        // USER before STLS is remembered nowhere; the pipelined PASS is dropped.
        let (out, step) = run(&mut s, &mut mb, b"USER alice\r\n");
        assert_eq!(
            text(&out),
            "-ERR [AUTH] USER is not allowed without TLS, use STLS first\r\n"
        );
        assert_eq!(step, Step::NeedInput);
        let (out, step) = run(&mut s, &mut mb, b"STLS\r\nPASS secret\r\n");
        assert_eq!(text(&out), "+OK begin TLS negotiation\r\n");
        assert_eq!(step, Step::StartTls);
        // Nothing is read until the handshake is over.
        let (out, step) = run(&mut s, &mut mb, b"NOOP\r\n");
        assert_eq!((out, step), (Vec::new(), Step::NeedInput));
        s.tls_started();
        assert!(s.is_tls());
        let (out, _) = run(
            &mut s,
            &mut mb,
            b"PASS secret\r\nSTLS\r\nUSER alice\r\nPASS secret\r\n",
        );
        assert_eq!(
            text(&out),
            "-ERR send USER first\r\n-ERR TLS is already active\r\n+OK send PASS\r\n\
             +OK logged in, maildrop has 2 messages (69 octets)\r\n"
        );
    }

    #[test]
    fn stls_refused_when_not_offered_or_after_login() {
        let mut no_stls = config();
        no_stls.stls = false;
        assert_eq!(
            reply(no_stls.clone(), "STLS\r\n"),
            "-ERR STLS is not offered\r\n"
        );
        no_stls.plaintext_auth = false;
        assert_eq!(
            reply(no_stls, "USER a\r\nAUTH PLAIN\r\n"),
            "-ERR [AUTH] USER is not allowed without TLS\r\n\
             -ERR [AUTH] PLAIN is not allowed without TLS\r\n"
        );
        assert_eq!(after_login("STLS\r\n"), "-ERR STLS: already logged in\r\n");
    }

    #[test]
    fn a_mechanism_not_offered_is_not_blamed_on_plaintext() {
        let mut no_scram = config();
        no_scram
            .mechanisms
            .retain(|m| *m != ServerMech::ScramSha256);
        assert_eq!(
            reply(no_scram, "AUTH SCRAM-SHA-256\r\n"),
            "-ERR [AUTH] SCRAM-SHA-256 is not offered here\r\n"
        );
    }

    #[test]
    fn plaintext_login_refused_without_tls() {
        let mut no_plain = config();
        no_plain.plaintext_auth = false;
        assert_eq!(
            reply(no_plain, "USER alice\r\nPASS secret\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nauth login\r\nAUTH\r\n"),
            "-ERR [AUTH] USER is not allowed without TLS, use STLS first\r\n\
             -ERR [AUTH] PASS is not allowed without TLS, use STLS first\r\n\
             -ERR [AUTH] PLAIN is not allowed without TLS, use STLS first\r\n\
             -ERR [AUTH] LOGIN is not allowed without TLS, use STLS first\r\n\
             +OK supported mechanisms follow\r\nCRAM-MD5\r\nSCRAM-SHA-256\r\n.\r\n"
        );
    }

    #[test]
    fn a_failed_login_does_not_tell_whether_the_user_exists() {
        let mut mb = store();
        let mut s = started(config());
        let (out, _) = run(
            &mut s,
            &mut mb,
            b"USER alice\r\nPASS wrong\r\nPASS secret\r\nUSER nobody\r\nPASS secret\r\n\
              USER bob\r\nPASS two words\r\n",
        );
        assert_eq!(
            text(&out),
            "+OK send PASS\r\n-ERR [AUTH] invalid user name or password\r\n\
             -ERR send USER first\r\n\
             +OK send PASS\r\n-ERR [AUTH] invalid user name or password\r\n\
             +OK send PASS\r\n+OK logged in, maildrop has 2 messages (69 octets)\r\n"
        );
        let auths: Vec<_> = s
            .take_events()
            .into_iter()
            .filter(|e| matches!(e, ServerEvent::Auth { .. }))
            .collect();
        let auth = |user: &str, ok| ServerEvent::Auth {
            user: user.into(),
            mechanism: "USER".into(),
            ok,
        };
        assert_eq!(
            auths,
            vec![
                auth("alice", false),
                auth("nobody", false),
                auth("bob", true)
            ]
        );
        assert_eq!(mb.opened.as_deref(), Some("bob"));
    }

    #[test]
    fn login_commands_after_login_are_refused() {
        assert_eq!(
            after_login("USER bob\r\nPASS x\r\nAUTH PLAIN\r\nAPOP a b\r\n"),
            "-ERR USER: already logged in\r\n-ERR PASS: already logged in\r\n\
             -ERR AUTH: already logged in\r\n-ERR APOP is not supported\r\n"
        );
    }

    #[test]
    fn auth_plain_with_and_without_initial_response() {
        let ok = "+OK logged in, maildrop has 2 messages (69 octets)\r\n";
        let plain = encode(b"\0alice\0secret");
        assert_eq!(reply(config(), &format!("AUTH PLAIN {plain}\r\n")), ok);
        assert_eq!(
            reply(config(), &format!("auth plain\r\n{plain}\r\n")),
            format!("+ \r\n{ok}")
        );
        // The authorization identity may be the user.
        let plain = encode(b"alice\0alice\0secret");
        assert_eq!(reply(config(), &format!("AUTH PLAIN {plain}\r\n")), ok);

        let mut mb = store();
        let mut s = started(config());
        let line = format!("AUTH PLAIN {}\r\n", encode(b"\0alice\0wrong"));
        let (out, _) = run(&mut s, &mut mb, line.as_bytes());
        assert_eq!(text(&out), "-ERR [AUTH] authentication failed\r\n");
        let events = s.take_events();
        assert!(events.contains(&ServerEvent::Line {
            dir: Dir::In,
            bytes: line.trim_end().as_bytes().to_vec(),
            ending: Ending::CrLf,
            secret: Some(11..line.len() - 2),
        }));
        assert!(events.contains(&ServerEvent::Auth {
            user: "alice".into(),
            mechanism: "PLAIN".into(),
            ok: false,
        }));
        assert!(events
            .iter()
            .any(|e| matches!(e, ServerEvent::Problem(p) if p.starts_with("PLAIN: "))));
        // The session goes on in AUTHORIZATION.
        let (out, _) = run(&mut s, &mut mb, b"STAT\r\n");
        assert_eq!(text(&out), "-ERR STAT is only allowed after login\r\n");
    }

    #[test]
    fn sasl_responses_are_secret_and_star_cancels() {
        let mut mb = store();
        let mut s = started(config());
        let (out, _) = run(&mut s, &mut mb, b"AUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n!!\r\n");
        assert_eq!(
            text(&out),
            "+ \r\n-ERR [AUTH] authentication cancelled\r\n\
             + \r\n-ERR [AUTH] the response is not valid base64\r\n"
        );
        let events = s.take_events();
        let line_in = |bytes: &[u8], secret| ServerEvent::Line {
            dir: Dir::In,
            bytes: bytes.to_vec(),
            ending: Ending::CrLf,
            secret,
        };
        assert!(events.contains(&line_in(b"*", None)));
        assert!(events.contains(&line_in(b"!!", Some(0..2))));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, ServerEvent::Auth { ok: false, .. }))
                .count(),
            2
        );
    }

    #[test]
    fn auth_login_takes_two_challenges() {
        let input = format!(
            "AUTH LOGIN\r\n{}\r\n{}\r\n",
            encode(b"alice"),
            encode(b"secret")
        );
        assert_eq!(
            reply(config(), &input),
            format!(
                "+ {}\r\n+ {}\r\n+OK logged in, maildrop has 2 messages (69 octets)\r\n",
                encode(b"Username:"),
                encode(b"Password:")
            )
        );
    }

    /// Runs mailtalk's own SASL client against the machine over the wire; returns the last line.
    fn with_client(s: &mut Server, mb: &mut Store, mech: Mechanism, password: &str) -> String {
        use crate::proto::sasl::{decode_challenge, Client, Credentials as ClientCreds};
        let creds = ClientCreds {
            user: "alice".into(),
            authzid: None,
            secret: Secret::new(password.into()),
        };
        let mut client = Client::new(mech, creds, "mx.test", 110);
        let mut line = format!("AUTH {}", mech.name());
        if let Some(initial) = client.initial_response() {
            line = format!("{line} {}", crate::proto::sasl::encode_initial(&initial));
        }
        for _ in 0..5 {
            let (out, _) = run(s, mb, format!("{line}\r\n").as_bytes());
            let reply = text(&out);
            let Some(challenge) = reply.strip_prefix("+ ") else {
                return reply;
            };
            let raw = decode_challenge(challenge.trim_end().as_bytes()).unwrap();
            line = encode(&client.respond(&raw).unwrap());
        }
        panic!("the exchange did not end");
    }

    #[test]
    fn challenge_response_mechanisms_work_without_tls() {
        let mut no_plain = config();
        no_plain.plaintext_auth = false;
        for mech in [Mechanism::CramMd5, Mechanism::ScramSha256] {
            let mut mb = store();
            let mut s = started(no_plain.clone());
            assert_eq!(
                with_client(&mut s, &mut mb, mech, "wrong"),
                "-ERR [AUTH] authentication failed\r\n",
                "{mech:?}"
            );
            assert_eq!(
                with_client(&mut s, &mut mb, mech, "secret"),
                "+OK logged in, maildrop has 2 messages (69 octets)\r\n",
                "{mech:?}"
            );
            assert!(s.take_events().contains(&ServerEvent::Auth {
                user: "alice".into(),
                mechanism: mech.name().into(),
                ok: true
            }));
        }
    }

    #[test]
    fn auth_errors() {
        assert_eq!(
            reply(
                config(),
                "AUTH\r\nAUTH GSSAPI\r\nAUTH PLAIN ***\r\nAUTH PLAIN =\r\nAUTH X\x01\r\nAUTH PLAIN a b\r\n"
            ),
            "+OK supported mechanisms follow\r\nPLAIN\r\nLOGIN\r\nCRAM-MD5\r\nSCRAM-SHA-256\r\n.\r\n\
             -ERR GSSAPI is not a supported mechanism\r\n\
             -ERR [AUTH] the initial response is not valid base64\r\n\
             -ERR [AUTH] authentication failed\r\n\
             -ERR not a supported mechanism\r\n\
             -ERR AUTH: too many arguments\r\n"
        );
    }

    #[test]
    fn list_uidl_retr_top_of_one_message() {
        assert_eq!(
            after_login(
                "LIST 2\r\nUIDL 1\r\nRETR 2\r\nTOP 1 1\r\nTOP 1 99\r\nTOP 2 4294967295\r\nNOOP\r\n"
            ),
            "+OK 2 31\r\n+OK 1 42.3\r\n\
             +OK 31 octets\r\nSubject: two\r\nFrom: b\r\n\r\nbody\r\n.\r\n\
             +OK top of message follows\r\nSubject: one\r\n\r\nline 1\r\n.\r\n\
             +OK top of message follows\r\nSubject: one\r\n\r\nline 1\r\n..dot\r\nline 3\r\n.\r\n\
             +OK top of message follows\r\nSubject: two\r\nFrom: b\r\n\r\nbody\r\n.\r\n\
             +OK\r\n"
        );
    }

    #[test]
    fn message_bytes_are_not_copied() {
        let mut mb = store();
        let mut s = logged_in(&mut mb);
        s.feed(b"RETR 1\r\nTOP 2 0\r\n");
        let mut out = Output::new();
        while s.step(&mut mb, &mut out) == Step::Handled {}
        let pieces = out.take();
        let messages: Vec<_> = pieces
            .iter()
            .filter_map(|p| match p {
                crate::proto::server::Piece::Message {
                    data,
                    range,
                    stuffed,
                } => Some((data.len(), range.clone(), *stuffed)),
                _ => None,
            })
            .collect();
        assert_eq!(messages, vec![(38, 0..38, true), (31, 0..25, true)]);
    }

    #[test]
    fn top_ranges() {
        assert_eq!(top_end(b"", 3), 0);
        assert_eq!(top_end(b"A: b\r\nC: d", 3), 10);
        assert_eq!(top_end(b"A: b\r\n\r\n1\r\n2\r\n3", 0), 8);
        assert_eq!(top_end(b"A: b\r\n\r\n1\r\n2\r\n3", 2), 14);
        assert_eq!(top_end(b"A: b\r\n\r\n1\r\n2\r\n3", 3), 15);
        assert_eq!(top_end(b"A: b\n\n1\n2\n", 1), 8);
        assert_eq!(top_end(b"\r\nbody\r\n", 0), 2);
        // A huge count ends with the message.
        assert_eq!(top_end(b"A: b\r\n\r\n1\r\n", u32::MAX), 11);
    }

    #[test]
    fn an_empty_message_and_one_without_final_line_end() {
        let mut mb = store();
        mb.messages[0].1 = Arc::new(Vec::new());
        mb.messages[1].1 = Arc::new(b"A: b\r\n\r\nno end".to_vec());
        let mut s = logged_in(&mut mb);
        let (out, _) = run(&mut s, &mut mb, b"RETR 1\r\nRETR 2\r\nTOP 2 0\r\n");
        assert_eq!(
            text(&out),
            "+OK 0 octets\r\n.\r\n+OK 14 octets\r\nA: b\r\n\r\nno end\r\n.\r\n\
             +OK top of message follows\r\nA: b\r\n\r\n.\r\n"
        );
    }

    #[test]
    fn dele_marks_and_rset_unmarks() {
        let mut mb = store();
        let mut s = logged_in(&mut mb);
        let (out, _) = run(
            &mut s,
            &mut mb,
            b"DELE 2\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nTOP 2 0\r\nDELE 2\r\nLIST 2\r\nUIDL 2\r\n\
              RSET\r\nSTAT\r\nDELE 1\r\nDELE 2\r\nSTAT\r\nLIST\r\nQUIT\r\n",
        );
        assert_eq!(
            text(&out),
            "+OK message 2 deleted\r\n+OK 1 38\r\n\
             +OK 1 message (38 octets)\r\n1 38\r\n.\r\n\
             +OK unique-id listing follows\r\n1 42.3\r\n.\r\n\
             -ERR message 2 is deleted\r\n-ERR message 2 is deleted\r\n\
             -ERR message 2 is deleted\r\n-ERR message 2 is deleted\r\n\
             -ERR message 2 is deleted\r\n\
             +OK maildrop has 2 messages (69 octets)\r\n+OK 2 69\r\n\
             +OK message 1 deleted\r\n+OK message 2 deleted\r\n+OK 0 0\r\n\
             +OK 0 messages (0 octets)\r\n.\r\n\
             +OK mx.test POP3 server signing off (2 messages deleted)\r\n"
        );
        assert_eq!(mb.expunged, vec![3, 7]);
    }

    #[test]
    fn quit_without_deletions_expunges_nothing() {
        let mut mb = store();
        let mut s = logged_in(&mut mb);
        let (out, step) = run(&mut s, &mut mb, b"RSET\r\nQUIT\r\nNOOP\r\n");
        assert_eq!(
            text(&out),
            "+OK maildrop has 2 messages (69 octets)\r\n\
             +OK mx.test POP3 server signing off (0 messages deleted)\r\n"
        );
        assert_eq!(step, Step::Close);
        assert!(mb.expunged.is_empty());
    }

    #[test]
    fn bad_message_numbers() {
        assert_eq!(
            after_login(
                "RETR 0\r\nRETR 3\r\nLIST 4294967295\r\nDELE -1\r\nTOP 1 -1\r\nRETR +1\r\n\
                 RETR 4294967296\r\nRETR 1 2\r\nRETR\r\nTOP 1\r\nLIST x\r\nSTAT 1\r\n"
            ),
            "-ERR no such message, the maildrop has 2 messages\r\n\
             -ERR no such message, the maildrop has 2 messages\r\n\
             -ERR no such message, the maildrop has 2 messages\r\n\
             -ERR DELE: a number must be decimal digits\r\n\
             -ERR TOP: a number must be decimal digits\r\n\
             -ERR RETR: a number must be decimal digits\r\n\
             -ERR RETR: number is too large\r\n\
             -ERR RETR: too many arguments\r\n\
             -ERR RETR: needs a message number\r\n\
             -ERR TOP: needs a message number and a number of lines\r\n\
             -ERR LIST: a number must be decimal digits\r\n\
             -ERR STAT: too many arguments\r\n"
        );
    }

    #[test]
    fn wrong_state_unknown_and_empty_commands() {
        assert_eq!(
            reply(
                config(),
                "STAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nRSET\r\nTOP 1 1\r\nUIDL\r\nNOOP\r\n\
                 XTND XMIT\r\n\r\nUTF8\r\nPASS x\r\n\x1b[31m\r\n"
            ),
            "-ERR STAT is only allowed after login\r\n-ERR LIST is only allowed after login\r\n\
             -ERR RETR is only allowed after login\r\n-ERR DELE is only allowed after login\r\n\
             -ERR RSET is only allowed after login\r\n-ERR TOP is only allowed after login\r\n\
             -ERR UIDL is only allowed after login\r\n-ERR NOOP is only allowed after login\r\n\
             -ERR unknown command XTND\r\n-ERR empty command line\r\n\
             -ERR UTF8 is not supported\r\n-ERR send USER first\r\n-ERR unknown command\r\n"
        );
    }

    #[test]
    fn nul_bytes_and_bare_lf() {
        assert_eq!(
            reply(
                config(),
                "NOOP\0\r\nUSER al\0ice\r\nUSER alice\nPASS secret\n"
            ),
            "-ERR NUL byte in command line\r\n-ERR NUL byte in command line\r\n\
             +OK send PASS\r\n+OK logged in, maildrop has 2 messages (69 octets)\r\n"
        );
    }

    #[test]
    fn too_many_errors_close() {
        let mut c = config();
        c.max_errors = 2;
        let mut mb = store();
        let mut s = started(c);
        let (out, step) = run(
            &mut s,
            &mut mb,
            b"X\r\nCAPA\r\nY\r\nUSER a\r\nPASS b\r\nNOOP\r\n",
        );
        assert!(text(&out).starts_with("-ERR unknown command X\r\n+OK capability list"));
        assert!(text(&out).ends_with(
            "-ERR unknown command Y\r\n+OK send PASS\r\n\
             -ERR [AUTH] invalid user name or password (too many errors, closing)\r\n"
        ));
        assert_eq!(step, Step::Close);
        assert!(s
            .take_events()
            .contains(&ServerEvent::Problem("too many errors".into())));
    }

    #[test]
    fn a_vanished_message_is_refused_but_not_counted() {
        let mut mb = store();
        let mut s = logged_in(&mut mb);
        s.config.max_errors = 1;
        mb.messages.remove(0);
        let (out, step) = run(
            &mut s,
            &mut mb,
            b"RETR 1\r\nTOP 1 0\r\nLIST 1\r\nRETR 2\r\n",
        );
        assert_eq!(
            text(&out),
            "-ERR message 1 is no longer in the mailbox\r\n\
             -ERR message 1 is no longer in the mailbox\r\n+OK 1 38\r\n\
             +OK 31 octets\r\nSubject: two\r\nFrom: b\r\n\r\nbody\r\n.\r\n"
        );
        assert_eq!(step, Step::NeedInput);
    }

    #[test]
    fn too_many_commands_close() {
        let mut c = config();
        c.max_commands = 3;
        assert_eq!(
            reply(c, "CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nSTAT\r\n")
                .rsplit_once("+OK send PASS\r\n")
                .map(|(_, rest)| rest.to_string()),
            Some(
                "+OK logged in, maildrop has 2 messages (69 octets)\r\n\
                 -ERR too many commands, closing\r\n"
                    .to_string()
            )
        );
    }

    #[test]
    fn an_overlong_line_closes() {
        let mut mb = store();
        let mut s = started(config());
        let (out, step) = run(&mut s, &mut mb, &vec![b'A'; MAX_COMMAND_LINE + 1]);
        assert_eq!(
            (text(&out).as_str(), step),
            ("-ERR line too long\r\n", Step::Close)
        );
        assert!(s
            .take_events()
            .contains(&ServerEvent::Problem("line too long".into())));
        // Just within the limit (the CR included, not the LF) is a line.
        let mut s = started(config());
        let mut line = vec![b'A'; MAX_COMMAND_LINE - 1];
        line.extend_from_slice(b"\r\n");
        assert_eq!(
            text(&run(&mut s, &mut mb, &line).0),
            "-ERR unknown command\r\n"
        );
        // One more byte is too long.
        line.insert(0, b'A');
        let mut s = started(config());
        assert_eq!(run(&mut s, &mut mb, &line).1, Step::Close);
    }

    #[test]
    fn shutdown_and_quit_before_login() {
        let mut mb = store();
        let mut s = started(config());
        let mut out = Output::new();
        s.shutdown(&mut out);
        assert_eq!(
            text(&out.to_bytes()),
            "-ERR [SYS/TEMP] mx.test server shutting down\r\n"
        );
        assert_eq!(run(&mut s, &mut mb, b"QUIT\r\n"), (Vec::new(), Step::Close));
        let mut out = Output::new();
        s.shutdown(&mut out);
        assert!(out.is_empty());
        // A shutdown in TRANSACTION removes nothing.
        let mut s = logged_in(&mut mb);
        run(&mut s, &mut mb, b"DELE 1\r\n");
        s.shutdown(&mut Output::new());
        assert!(mb.expunged.is_empty());

        assert_eq!(
            reply(config(), "USER alice\r\nquit\r\n"),
            "+OK send PASS\r\n+OK mx.test POP3 server signing off\r\n"
        );
    }

    #[test]
    fn no_lines_logged_unless_asked() {
        let mut c = config();
        c.log = false;
        let mut mb = store();
        let mut s = Server::new(c);
        s.greeting(&mut Output::new());
        run(&mut s, &mut mb, SESSION.as_bytes());
        assert_eq!(
            s.take_events(),
            vec![ServerEvent::Auth {
                user: "alice".into(),
                mechanism: "USER".into(),
                ok: true
            }]
        );
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(
            chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..200), 0..8),
            tls in proptest::bool::ANY,
            login in proptest::bool::ANY,
        ) {
            let mut mb = store();
            let mut s = if login { logged_in(&mut mb) } else { started(config()) };
            if tls {
                s.tls_started();
            }
            let mut out = Output::new();
            for chunk in &chunks {
                s.feed(chunk);
                let mut steps = 0;
                loop {
                    steps += 1;
                    proptest::prop_assert!(steps < 1000);
                    match s.step(&mut mb, &mut out) {
                        Step::Handled => {}
                        Step::StartTls => s.tls_started(),
                        Step::NeedInput | Step::Close => break,
                    }
                }
            }
            s.shutdown(&mut out);
            let _ = s.take_events();
        }

        #[test]
        fn random_commands_never_panic(
            lines in proptest::collection::vec(
                "(USER|PASS|AUTH|STAT|LIST|RETR|DELE|TOP|UIDL|RSET|NOOP|CAPA|STLS|QUIT)( [0-9a-zA-Z=+/*-]{0,12}){0,3}",
                0..30),
        ) {
            let mut mb = store();
            let mut s = logged_in(&mut mb);
            let mut input = String::new();
            for l in &lines {
                input.push_str(l);
                input.push_str("\r\n");
            }
            let (_, step) = run(&mut s, &mut mb, input.as_bytes());
            proptest::prop_assert!(step != Step::Handled);
        }
    }

    #[test]
    fn require_tls_offers_no_login_before_tls() {
        let mut cfg = config();
        cfg.plaintext_auth = false;
        cfg.require_tls = true;
        let capa = reply(cfg.clone(), "CAPA\r\n");
        assert!(!capa.contains("SASL"), "{capa}");
        assert!(!capa.contains("USER"), "{capa}");
        let r = reply(cfg, "AUTH CRAM-MD5\r\n");
        assert!(r.starts_with("-ERR"), "{r}");
    }
}
