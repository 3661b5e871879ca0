//! The session: owns the byte stream and the protocol machine, turns typed lines into wire
//! bytes, waits for replies with a deadline (which the user may cancel), performs STARTTLS,
//! and reports everything as [`Event`]s. Authentication ([`Session::authenticate`]) and the
//! send macro ([`Session::send_mail`]) live in child modules.

mod auth;
mod send;
mod smuggle;

pub use auth::*;
pub use send::*;
pub use smuggle::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::{Event, EventKind, Progress, Security, Sink};
use crate::net::{
    deadline_after, Family, NetError, Route, Step, Stream, TlsInfo, TlsOptions, Transport,
};
use crate::proto::{
    self, classify, Capabilities, CommandError, DataBlock, InputMode, LineContext, Machine,
    Outcome, ProtoError, Protocol, Reply,
};
use crate::target::{Target, TlsMode};

/// Everything needed to open a session.
#[derive(Clone, Debug)]
pub struct Options {
    pub target: Target,
    pub tls: TlsOptions,
    pub timeout: Duration,
    pub family: Family,
    /// The name for EHLO/LHLO when mailtalk sends it itself.
    pub ehlo: String,
    /// Report how long each reply, the connection and TLS handshakes took.
    pub timing: bool,
    /// Send cleartext credentials over a connection without TLS to a host that is not on
    /// loopback (`--allow-plaintext-auth`).
    pub allow_plaintext_auth: bool,
    /// Through a proxy, with a PROXY protocol header (`--proxy`, `--proxy-protocol`).
    pub route: Route,
}

/// What a session measured (`:stats`).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub connect: Option<Duration>,
    pub handshakes: Vec<Duration>,
    pub lines_sent: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// For each reply: time to its first byte and to its end, from the command.
    pub replies: Vec<(Option<Duration>, Duration)>,
}

/// Why a session ended (or a command could not be sent).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Net(#[from] NetError),
    #[error("{0}")]
    Proto(#[from] ProtoError),
    /// STARTTLS did not happen safely: nothing else was sent.
    #[error("STARTTLS failed: {0}")]
    StartTls(String),
    /// The greeting was negative: the server refused the session.
    #[error("the server refused the session: {}", .0.last_text())]
    Refused(Reply),
    /// The command was not sent (CR/LF/NUL, nothing to send …); the session goes on.
    #[error("{0}")]
    Command(#[from] CommandError),
    /// The server closed the connection while a reply was expected.
    #[error("the server closed the connection{0}")]
    Closed(String),
    /// The connection is already closed.
    #[error("the connection is closed")]
    NotConnected,
    /// The message to send could not be read after part of it was sent; the connection was
    /// closed so that a truncated message is not delivered.
    #[error("cannot read the message: {0}")]
    Message(String),
    /// The user interrupted the wait; the session goes on.
    #[error("{0}")]
    Cancelled(String),
}

impl SessionError {
    /// Errors after which the session cannot go on.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, SessionError::Command(_) | SessionError::Cancelled(_))
    }
}

pub struct Session {
    opts: Options,
    stream: Option<Box<dyn Stream>>,
    machine: Box<dyn Machine>,
    start: Instant,
    security: Security,
    last_reply: Option<Reply>,
    /// The QUIT/LOGOUT exchange happened: the session ended normally.
    finished: bool,
    /// Why the server closed the connection on its own, when it did.
    closed_by_server: Option<String>,
    /// A line arrived since the current wait began (EOF then cuts a reply off).
    received_in_wait: bool,
    /// Bytes of the content being received (for its progress).
    receiving: u64,
    /// The size of the message being sent, when known (for its progress).
    sending_size: Option<u64>,
    /// When the command being answered was written, and when its first byte came.
    pending_since: Option<Instant>,
    first_byte: Option<Duration>,
    stats: Stats,
    /// Every line received while waiting for the last reply (bounded), for `:capture` and
    /// `:expect /regex/` (IMAP untagged data, POP3 bodies).
    exchange: Vec<Vec<u8>>,
    exchange_bytes: usize,
    buf: Vec<u8>,
    /// Set (by a signal handler or a key) to interrupt the wait in progress.
    cancel: Option<Arc<AtomicBool>>,
    /// Replies still due to commands whose wait was interrupted (SMTP, POP3: answered in
    /// order); they are shown as they come and answer nothing new.
    owed: usize,
    /// Raw bytes were sent: replies that come on their own may answer them.
    raw_sent: bool,
}

/// The most kept in [`Session::last_exchange`].
const EXCHANGE_MAX_LINES: usize = 10_000;
const EXCHANGE_MAX_BYTES: usize = 1024 * 1024;

const READ_CHUNK: usize = 64 * 1024;

/// How often a wait looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

impl Session {
    /// Connects, performs implicit TLS, reads the greeting and, with STARTTLS required, does the
    /// whole upgrade before returning.
    pub fn connect(opts: Options, sink: Sink) -> Result<Session, SessionError> {
        let start = Instant::now();
        let protocol = opts.target.protocol;
        let info = |sink: &mut dyn FnMut(Event), text: String| {
            sink(Event {
                at: start.elapsed(),
                protocol,
                security: Security::Plain,
                kind: EventKind::Info(text),
            })
        };
        let connect_started = Instant::now();
        let transport = {
            let mut log = |s: String| info(sink, s);
            Transport::connect_via(
                &opts.target.host,
                opts.target.port,
                opts.family,
                opts.timeout,
                &opts.route,
                &mut log,
            )?
        };
        let connect_time = connect_started.elapsed();
        if opts.timing {
            sink(Event {
                at: start.elapsed(),
                protocol,
                security: Security::Plain,
                kind: EventKind::Timing {
                    what: "connect".into(),
                    first_byte: None,
                    total: connect_time,
                },
            });
        }
        Session::start(Box::new(transport), opts, start, Some(connect_time), sink)
    }

    /// A session over a stream that is already connected (a scripted peer in tests).
    pub fn over(
        stream: Box<dyn Stream>,
        opts: Options,
        sink: Sink,
    ) -> Result<Session, SessionError> {
        Session::start(stream, opts, Instant::now(), None, sink)
    }

    fn start(
        stream: Box<dyn Stream>,
        opts: Options,
        start: Instant,
        connect: Option<Duration>,
        sink: Sink,
    ) -> Result<Session, SessionError> {
        let protocol = opts.target.protocol;
        let peer = stream.peer().map(|a| a.to_string()).unwrap_or_default();
        let how = match opts.target.tls {
            TlsMode::Plain => "plaintext",
            TlsMode::StartTls => "plaintext until STARTTLS",
            TlsMode::Implicit => "TLS handshake next",
        };
        sink(Event {
            at: start.elapsed(),
            protocol,
            security: Security::Plain,
            kind: EventKind::Info(if peer.is_empty() {
                format!("connected ({protocol}, {how})")
            } else {
                format!("connected to {peer} ({protocol}, {how})")
            }),
        });
        let mut session = Session {
            machine: proto::machine(protocol),
            opts,
            stream: Some(stream),
            start,
            security: Security::Plain,
            last_reply: None,
            finished: false,
            closed_by_server: None,
            received_in_wait: false,
            pending_since: Some(Instant::now()),
            first_byte: None,
            stats: Stats {
                connect,
                ..Stats::default()
            },
            exchange: Vec::new(),
            exchange_bytes: 0,
            receiving: 0,
            sending_size: None,
            buf: vec![0; READ_CHUNK],
            cancel: None,
            owed: 0,
            raw_sent: false,
        };
        if let Err(e) = session.open(sink) {
            // The caller reports the error; the connection just goes.
            if let Some(mut t) = session.stream.take() {
                t.shutdown();
            }
            return Err(e);
        }
        Ok(session)
    }

    fn open(&mut self, sink: Sink) -> Result<(), SessionError> {
        if self.opts.target.tls == TlsMode::Implicit {
            self.handshake(sink)?;
        }
        let greeting = self.wait(sink).map_err(|e| match e {
            SessionError::Net(NetError::Timeout(Step::Reply)) => {
                SessionError::Net(NetError::Timeout(Step::Greeting {
                    silent: self.stats.bytes_received == 0,
                }))
            }
            other => other,
        })?;
        if greeting.outcome != Outcome::Ok {
            self.refused(sink);
            return Err(SessionError::Refused(greeting));
        }
        if self.opts.target.tls == TlsMode::StartTls {
            if self.machine.preauth() {
                return Err(SessionError::StartTls(
                    "the server sent PREAUTH: the session is already authenticated in plaintext \
                     and can no longer be upgraded; closing"
                        .into(),
                ));
            }
            self.starttls(sink, true)?;
        }
        Ok(())
    }

    /// After a negative greeting: an SMTP server that said 554 waits for QUIT (RFC 5321 §3.1);
    /// the others are closing anyway.
    fn refused(&mut self, sink: Sink) {
        let waits_for_quit = self.protocol().is_smtp()
            && self.last_reply.as_ref().and_then(Reply::code_value) == Some(554);
        if waits_for_quit {
            let _ = self.command_and_wait(self.protocol().quit_verb().as_bytes(), sink);
        }
        self.close(sink);
    }

    pub fn protocol(&self) -> Protocol {
        self.opts.target.protocol
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Whether the session can be ended politely now: the connection is open, the protocol
    /// state is intact, and either nothing is awaited in command mode (QUIT/LOGOUT next) or
    /// IMAP IDLE runs (DONE, then LOGOUT). Not in the middle of a message, literal or exchange.
    pub fn can_quit(&self) -> bool {
        self.stream.is_some()
            && self.machine.core().failed.is_none()
            && match self.machine.input_mode() {
                InputMode::Command => !self.machine.awaiting(),
                InputMode::Idle => true,
                _ => false,
            }
    }

    /// QUIT/LOGOUT was answered: the session ended the way it should.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Why the server closed the connection on its own (the last reply, such as `421 …` or
    /// `* BYE …`), once it did.
    pub fn closed_by_server(&self) -> Option<&str> {
        self.closed_by_server.as_deref()
    }

    pub fn security(&self) -> Security {
        self.security
    }

    pub fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(|t| t.is_tls())
    }

    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.stream.as_ref().and_then(|t| t.tls_info())
    }

    pub fn capabilities(&self) -> &Capabilities {
        self.machine.capabilities()
    }

    pub fn last_reply(&self) -> Option<&Reply> {
        self.last_reply.as_ref()
    }

    /// The last reply, with every line received while waiting for it (untagged IMAP data,
    /// a POP3 body) instead of only its status lines.
    pub fn last_exchange(&self) -> Option<Reply> {
        let mut reply = self.last_reply.clone()?;
        if self.exchange.len() > reply.lines.len() {
            reply.lines = self.exchange.clone();
        }
        Some(reply)
    }

    pub fn input_mode(&self) -> InputMode {
        self.machine.input_mode()
    }

    /// What a line typed now would mean.
    pub fn line_context(&self) -> LineContext {
        self.machine.line_context()
    }

    /// Time since the session started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// What the session measured so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Waits from now on end early when `flag` is set (the flag is cleared then).
    pub fn set_cancel(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    /// Whether the user asked to interrupt what is going on (and clears the request).
    pub fn cancel_requested(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.swap(false, Ordering::AcqRel))
    }

    /// An event of this session, stamped now.
    pub fn event(&self, kind: EventKind) -> Event {
        Event {
            at: self.start.elapsed(),
            protocol: self.opts.target.protocol,
            security: self.security,
            kind,
        }
    }

    fn stream(&mut self) -> Result<&mut Box<dyn Stream>, SessionError> {
        self.stream.as_mut().ok_or(SessionError::NotConnected)
    }

    /// Sends one typed line and, when the protocol expects it, waits for the reply. Returns
    /// whether the line carried a secret (so front ends keep it out of history).
    pub fn send_line(&mut self, line: &[u8], sink: Sink) -> Result<bool, SessionError> {
        if self.stream.is_none() {
            return Err(SessionError::NotConnected);
        }
        let ctx = self.machine.line_context();
        if ctx.mode == InputMode::Command {
            self.settle(sink)?;
            // security.md item 18: typed passwords too stay off plaintext connections.
            if let Some(cred) = classify(&ctx, line).credentials {
                check_typed_credentials(
                    cred,
                    self.is_tls(),
                    &self.opts.target.host,
                    self.opts.allow_plaintext_auth,
                )
                .map_err(|e| SessionError::Command(CommandError::Invalid(e)))?;
            }
        }
        let out = self.machine.command(line)?;
        self.write(&out.wire, &out.display, out.secret, out.content, sink)?;
        if !out.expects_reply {
            return Ok(out.secret);
        }
        let reply = self.wait(sink)?;
        if out.starttls {
            self.after_starttls_reply(&reply, false, sink)?;
        } else if out.ends_session && self.machine.input_mode() == InputMode::Command {
            self.finished = true;
            self.close(sink);
        }
        Ok(out.secret)
    }

    /// Raw mode: writes `bytes` exactly (nothing added, nothing checked, the machine not told)
    /// and shows what the server answers. How many replies raw bytes cause is unknown (none
    /// inside a message, several for pipelined commands), so the session reads for at most
    /// `linger` (capped by the timeout): it stops once a complete reply came and nothing more is
    /// waiting, when the server is quiet that long, or when it closes. Replies that come later
    /// are shown before the next line, as replies, not as unsolicited. The input mode stays
    /// what it was: raw bytes do not move the machine into or out of a message.
    pub fn send_raw(
        &mut self,
        bytes: &[u8],
        linger: Duration,
        sink: Sink,
    ) -> Result<(), SessionError> {
        if self.stream.is_none() {
            return Err(SessionError::NotConnected);
        }
        self.raw_sent = true;
        self.settle(sink)?;
        self.write_raw(bytes, sink)?;
        self.stats.lines_sent = self.stats.lines_sent.saturating_add(1);
        sink(self.event(EventKind::SentRaw(bytes.to_vec())));
        sink(self.event(EventKind::Waiting));
        let deadline = deadline_after(linger.min(self.opts.timeout));
        let mut replied = false;
        loop {
            while let Some(reply) = self.drain(sink)? {
                self.last_reply = Some(reply);
                replied = true;
            }
            let stream = self.stream.as_mut().ok_or(SessionError::NotConnected)?;
            let read = if replied {
                match stream.read_now(&mut self.buf)? {
                    Some(n) => Ok(n),
                    None => return Ok(()),
                }
            } else {
                stream.read(&mut self.buf, deadline)
            };
            match read {
                Ok(0) => {
                    if let Some(line) = self.machine.end_of_stream() {
                        sink(self.event(EventKind::Received(line)));
                    }
                    self.server_closed(sink);
                    return Ok(());
                }
                Ok(n) => self.received(n),
                Err(NetError::Timeout(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// IMAP: the size of a synchronising literal whose command the server refused (so the
    /// literal's bytes were not sent); taken once.
    pub fn take_refused_literal(&mut self) -> Option<u64> {
        self.machine.take_refused_literal()
    }

    /// Asks for the capabilities (EHLO/LHLO, CAPABILITY, CAPA) when none are known yet.
    /// Returns the reply when the question was asked.
    pub fn ensure_capabilities(&mut self, sink: Sink) -> Result<Option<Reply>, SessionError> {
        if !self.machine.capabilities().is_empty() {
            return Ok(None);
        }
        let ask = self.machine.capability_command(&self.opts.ehlo);
        self.command_and_wait(&ask, sink).map(Some)
    }

    /// `:starttls` — upgrade now. With `required`, every failure is fatal (the caller ends the
    /// session); without, a refusal (4xx/5xx, NO, BAD, -ERR) is reported and the session goes
    /// on in plaintext. Any other answer is fatal either way.
    pub fn starttls(&mut self, sink: Sink, required: bool) -> Result<(), SessionError> {
        if self.is_tls() {
            return Err(SessionError::Command(CommandError::Invalid(
                "the connection is already encrypted".into(),
            )));
        }
        // Learn what the server offers, if nothing is known yet.
        if let Some(r) = self.ensure_capabilities(sink)? {
            if r.outcome != Outcome::Ok && required {
                return Err(SessionError::StartTls(
                    "the server refused the capability request; nothing else was sent".into(),
                ));
            }
        }
        let keyword = self.protocol().starttls_verb();
        if !self.machine.capabilities().has(keyword) {
            if required {
                return Err(SessionError::StartTls(format!(
                    "the server does not advertise {keyword}; refusing to continue in plaintext"
                )));
            }
            sink(self.event(EventKind::Warning(format!(
                "the server does not advertise {keyword}; trying anyway"
            ))));
        }
        let reply = self.command_and_wait(keyword.as_bytes(), sink)?;
        self.after_starttls_reply(&reply, required, sink)
    }

    /// Only the protocol's go-ahead starts the handshake: SMTP/LMTP 220, IMAP tagged OK, POP3
    /// +OK.
    fn is_go_ahead(&self, reply: &Reply) -> bool {
        match self.protocol() {
            Protocol::Smtp | Protocol::Lmtp => reply.code_value() == Some(220),
            Protocol::Imap => {
                reply.outcome == Outcome::Ok
                    && reply.tag.as_deref().is_some_and(|t| t != "*" && t != "+")
            }
            Protocol::Pop3 => reply.outcome == Outcome::Ok,
        }
    }

    fn after_starttls_reply(
        &mut self,
        reply: &Reply,
        required: bool,
        sink: Sink,
    ) -> Result<(), SessionError> {
        if self.is_go_ahead(reply) {
            return self.upgrade(sink);
        }
        let keyword = self.protocol().starttls_verb();
        let refused = matches!(
            reply.outcome,
            Outcome::TempFail | Outcome::PermFail | Outcome::No | Outcome::Bad
        ) && !(self.protocol() == Protocol::Imap
            && reply.tag.as_deref() == Some("*"));
        let answer = proto::shown(reply.last_line());
        if refused && !required {
            return Err(SessionError::Command(CommandError::Invalid(format!(
                "the server refused {keyword} (\"{answer}\"); the session goes on in plaintext"
            ))));
        }
        let expected = match self.protocol() {
            Protocol::Smtp | Protocol::Lmtp => "220",
            Protocol::Imap => "a tagged OK",
            Protocol::Pop3 => "+OK",
        };
        let what = if refused { "refused" } else { "answered" };
        Err(SessionError::StartTls(format!(
            "the server {what} {keyword} with \"{answer}\", not the go-ahead ({expected}); no TLS \
             handshake was started and nothing else was sent"
        )))
    }

    /// After a positive STARTTLS reply: refuse injected bytes, handshake, forget what was
    /// learned in plaintext and ask again.
    fn upgrade(&mut self, sink: Sink) -> Result<(), SessionError> {
        let injected = self.machine.buffered();
        if injected > 0 {
            return Err(SessionError::StartTls(format!(
                "{injected} bytes arrived after the STARTTLS reply and before the TLS handshake \
                 (response injection); aborting"
            )));
        }
        let before = self.machine.capabilities().clone();
        self.machine.reset_for_tls();
        self.handshake(sink)?;
        let ask = self.machine.capability_command(&self.opts.ehlo);
        let reply = self.command_and_wait(&ask, sink)?;
        if reply.outcome == Outcome::Ok {
            let caps = self.machine.capabilities().clone();
            let (added, removed) = caps.diff(&before);
            sink(self.event(EventKind::Capabilities {
                caps,
                added,
                removed,
                after_tls: true,
            }));
        }
        Ok(())
    }

    fn handshake(&mut self, sink: Sink) -> Result<(), SessionError> {
        let deadline = deadline_after(self.opts.timeout);
        let host = self.opts.target.host.clone();
        let tls = self.opts.tls.clone();
        if let Some(path) = &tls.keylog {
            sink(self.event(EventKind::Warning(format!(
                "SSLKEYLOGFILE is set: the secrets of this TLS session are written to {}; \
                 anyone who reads that file can decrypt the session",
                path.display()
            ))));
        }
        let started = Instant::now();
        let info = self.stream()?.start_tls(&host, &tls, deadline)?;
        let took = started.elapsed();
        self.stats.handshakes.push(took);
        if self.opts.timing {
            sink(self.event(EventKind::Timing {
                what: "TLS handshake".into(),
                first_byte: None,
                total: took,
            }));
        }
        // The greeting after implicit TLS is timed from here.
        self.pending_since = Some(Instant::now());
        self.first_byte = None;
        self.security = if info.verified {
            Security::TlsVerified
        } else {
            Security::TlsUnverified
        };
        sink(self.event(EventKind::TlsUp(info)));
        Ok(())
    }

    /// Sends a line mailtalk composed (not typed) and waits for its reply.
    pub(crate) fn command_and_wait(
        &mut self,
        line: &[u8],
        sink: Sink,
    ) -> Result<Reply, SessionError> {
        let out = self.machine.command(line)?;
        self.write(&out.wire, &out.display, out.secret, false, sink)?;
        self.wait(sink)
    }

    fn write(
        &mut self,
        wire: &[u8],
        display: &[u8],
        secret: bool,
        content: bool,
        sink: Sink,
    ) -> Result<(), SessionError> {
        self.write_raw(wire, sink)?;
        self.stats.lines_sent = self.stats.lines_sent.saturating_add(1);
        sink(self.event(EventKind::Sent {
            display: display.to_vec(),
            secret,
            content,
        }));
        Ok(())
    }

    /// Writes bytes without reporting them (the caller reports what they mean). A server that
    /// stops reading holds the write up to the timeout; a cancel request is heard meanwhile,
    /// and then the connection is closed, since what was half sent cannot be taken back.
    pub(crate) fn write_raw(&mut self, data: &[u8], sink: Sink) -> Result<(), SessionError> {
        let deadline = deadline_after(self.opts.timeout);
        let mut done = 0usize;
        while let Some(rest) = data.get(done..).filter(|r| !r.is_empty()) {
            let slice = match &self.cancel {
                Some(_) => deadline.min(deadline_after(CANCEL_POLL)),
                None => deadline,
            };
            let n = self.stream()?.write_some(rest, slice)?;
            done = done.saturating_add(n);
            if done >= data.len() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(NetError::Timeout(Step::Send).into());
            }
            if self.cancel_requested() {
                self.close(sink);
                return Err(SessionError::Cancelled(format!(
                    "interrupted while sending ({done} of {} bytes written, the server was not \
                     reading): the connection was closed, so nothing half sent is taken as \
                     complete",
                    data.len()
                )));
            }
        }
        self.stats.bytes_sent = self
            .stats
            .bytes_sent
            .saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
        // The reply (if any) is timed from the last bytes written.
        self.pending_since = Some(Instant::now());
        self.first_byte = None;
        Ok(())
    }

    /// Reads until the machine reports a complete response (or a continuation request). A
    /// cancel request ends the wait with [`SessionError::Cancelled`]; the reply is still due
    /// and is shown when it comes.
    pub(crate) fn wait(&mut self, sink: Sink) -> Result<Reply, SessionError> {
        let deadline = deadline_after(self.opts.timeout);
        self.received_in_wait = false;
        self.exchange.clear();
        self.exchange_bytes = 0;
        loop {
            if let Some(reply) = self.drain(sink)? {
                return Ok(reply);
            }
            let slice = match &self.cancel {
                Some(_) => deadline.min(deadline_after(CANCEL_POLL)),
                None => deadline,
            };
            // What was shown so far is seen before the wait.
            sink(self.event(EventKind::Waiting));
            let stream = self.stream.as_mut().ok_or(SessionError::NotConnected)?;
            match stream.read(&mut self.buf, slice) {
                Ok(0) => return Err(self.eof(sink)),
                Ok(n) => {
                    self.received(n);
                    // Also while data keeps coming (a long body), a cancel request is heard.
                    if self.cancel_requested() {
                        if let Some(reply) = self.drain(sink)? {
                            return Ok(reply);
                        }
                        return Err(self.stop_waiting());
                    }
                }
                Err(NetError::Timeout(Step::Reply)) if Instant::now() < deadline => {
                    if self.cancel_requested() {
                        return Err(self.stop_waiting());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Gives up a wait on the user's request: the reply is still due and is shown when it
    /// comes.
    fn stop_waiting(&mut self) -> SessionError {
        if self.protocol() != Protocol::Imap {
            self.owed = self.owed.saturating_add(1);
        }
        SessionError::Cancelled(
            "interrupted: no longer waiting for the reply, which will be shown when it comes; \
             the session is still open"
                .into(),
        )
    }

    /// Feeds `n` bytes just read into the machine.
    fn received(&mut self, n: usize) {
        self.stats.bytes_received = self
            .stats
            .bytes_received
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if self.first_byte.is_none() {
            self.first_byte = self.pending_since.map(|t| t.elapsed());
        }
        let data = self.buf.get(..n).unwrap_or(&[]);
        self.machine.feed(data);
    }

    /// Before a new command: what the server sent on its own (already buffered, or in the
    /// socket) is shown now, and a complete reply among it is flagged, so that it is not taken
    /// as the new command's reply. Nothing is waited for.
    fn settle(&mut self, sink: Sink) -> Result<(), SessionError> {
        if self.machine.awaiting() && self.owed == 0 {
            return Ok(());
        }
        for _ in 0..16 {
            let stream = self.stream.as_mut().ok_or(SessionError::NotConnected)?;
            match stream.read_now(&mut self.buf)? {
                None => break,
                Some(0) => {
                    if let Some(line) = self.machine.end_of_stream() {
                        sink(self.event(EventKind::Received(line)));
                    }
                    self.server_closed(sink);
                    return Err(SessionError::Closed(" before the command was sent".into()));
                }
                Some(n) => self.received(n),
            }
        }
        while let Some(ev) = self.machine.next_event()? {
            match ev {
                proto::Event::Line(line) => sink(self.event(EventKind::Received(line))),
                proto::Event::Data(block) => self.data(block, sink),
                proto::Event::Warning(w) => sink(self.event(EventKind::Warning(w))),
                proto::Event::Complete(reply) | proto::Event::Continue(reply) => {
                    sink(self.event(EventKind::Reply(reply.clone())));
                    if self.owed > 0 {
                        self.owed = self.owed.saturating_sub(1);
                        self.last_reply = Some(reply);
                    } else if self.raw_sent {
                        // Raw bytes may cause any number of replies.
                        self.last_reply = Some(reply);
                    } else {
                        sink(self.event(EventKind::Warning(
                            "unsolicited reply: the server sent it before the next command, so \
                             it answers nothing mailtalk asked"
                                .into(),
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Reports the machine's pending events; returns the reply that ends a wait, if any.
    fn drain(&mut self, sink: Sink) -> Result<Option<Reply>, SessionError> {
        while let Some(ev) = self.machine.next_event()? {
            match ev {
                proto::Event::Line(line) => {
                    self.received_in_wait = true;
                    if self.exchange.len() < EXCHANGE_MAX_LINES
                        && self.exchange_bytes.saturating_add(line.bytes.len())
                            <= EXCHANGE_MAX_BYTES
                    {
                        self.exchange_bytes = self.exchange_bytes.saturating_add(line.bytes.len());
                        self.exchange.push(line.bytes.clone());
                    }
                    sink(self.event(EventKind::Received(line)))
                }
                proto::Event::Data(block) => {
                    self.received_in_wait = true;
                    self.keep_in_exchange(&block);
                    self.data(block, sink);
                }
                proto::Event::Warning(w) => sink(self.event(EventKind::Warning(w))),
                proto::Event::Complete(reply) | proto::Event::Continue(reply) => {
                    sink(self.event(EventKind::Reply(reply.clone())));
                    self.reply_timed(&reply, sink);
                    self.last_reply = Some(reply.clone());
                    if self.owed > 0 {
                        // The late reply to an interrupted wait.
                        self.owed = self.owed.saturating_sub(1);
                        self.exchange.clear();
                        self.exchange_bytes = 0;
                        continue;
                    }
                    return Ok(Some(reply));
                }
            }
        }
        Ok(None)
    }

    /// Keeps the lines of a content block for [`Session::last_exchange`], within its bounds.
    fn keep_in_exchange(&mut self, block: &DataBlock) {
        for (line, _) in block.lines() {
            if self.exchange.len() >= EXCHANGE_MAX_LINES
                || self.exchange_bytes.saturating_add(line.len()) > EXCHANGE_MAX_BYTES
            {
                return;
            }
            self.exchange_bytes = self.exchange_bytes.saturating_add(line.len());
            self.exchange.push(line.to_vec());
        }
    }

    /// Reports a content block, and how far its content is.
    fn data(&mut self, block: DataBlock, sink: Sink) {
        if block.first {
            self.receiving = 0;
        }
        self.receiving = self
            .receiving
            .saturating_add(u64::try_from(block.bytes.len()).unwrap_or(u64::MAX));
        let progress = Progress {
            sending: false,
            done: self.receiving,
            total: block.size,
            finished: block.last,
        };
        sink(self.event(EventKind::Data(block)));
        sink(self.event(EventKind::Progress(progress)));
    }

    /// Records how long a reply took and reports it with `--timing`.
    fn reply_timed(&mut self, reply: &Reply, sink: Sink) {
        let Some(since) = self.pending_since.take() else {
            return;
        };
        let total = since.elapsed();
        let first = self.first_byte.take();
        self.stats.replies.push((first, total));
        if self.opts.timing {
            let what = match (reply.code, reply.tag.as_deref(), reply.lines.first()) {
                (Some(code), _, _) => format!("reply {code}"),
                (None, Some(tag), _) => format!("reply {tag}"),
                (None, None, Some(l)) => format!(
                    "reply {}",
                    String::from_utf8_lossy(l.get(..4.min(l.len())).unwrap_or(&[]))
                ),
                _ => "reply".into(),
            };
            sink(self.event(EventKind::Timing {
                what,
                first_byte: first,
                total,
            }));
        }
        // Pipelined or multi-reply exchanges (LMTP) time the next reply from this one.
        if self.machine.awaiting() {
            self.pending_since = Some(Instant::now());
        }
    }

    /// The server closed the stream while a reply was expected.
    fn eof(&mut self, sink: Sink) -> SessionError {
        let partial = self.machine.end_of_stream();
        let err = match partial {
            Some(line) => {
                let shown = line.bytes.len();
                sink(self.event(EventKind::Received(line)));
                SessionError::Proto(ProtoError::Violation(format!(
                    "incomplete reply: the connection closed after {shown} bytes without a line ending"
                )))
            }
            None if self.machine.saw_bye() => SessionError::Closed(" after BYE".into()),
            None if self.received_in_wait => SessionError::Proto(ProtoError::Violation(
                "incomplete reply: the connection closed in the middle of a reply".into(),
            )),
            None => SessionError::Closed(" while a reply was expected".into()),
        };
        self.server_closed(sink);
        err
    }

    /// Notes that the server closed the connection, with its last word, and closes our end.
    fn server_closed(&mut self, sink: Sink) {
        if self.closed_by_server.is_none() && !self.finished {
            let last = self
                .last_reply
                .as_ref()
                .map(|r| proto::shown(r.last_line()))
                .unwrap_or_default();
            self.closed_by_server = Some(last);
        }
        self.close(sink);
    }

    /// Checks for data the server sent on its own (IMAP IDLE updates, a 421 before closing),
    /// waiting at most `wait`. Returns false when the connection is closed.
    pub fn poll(&mut self, wait: Duration, sink: Sink) -> Result<bool, SessionError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(false);
        };
        match stream.read(&mut self.buf, deadline_after(wait)) {
            Err(NetError::Timeout(_)) => Ok(true),
            Err(e) => Err(e.into()),
            Ok(0) => {
                if let Some(line) = self.machine.end_of_stream() {
                    sink(self.event(EventKind::Received(line)));
                }
                self.server_closed(sink);
                Ok(false)
            }
            Ok(n) => {
                self.received(n);
                // A reply nobody waits for (a server about to close: 421, BYE) is only shown.
                self.drain(sink)?;
                Ok(true)
            }
        }
    }

    /// Ends the session politely: QUIT or LOGOUT, wait for the reply, close. Only in command
    /// mode; elsewhere the caller decides (end or abandon what is in progress).
    pub fn quit(&mut self, sink: Sink) -> Result<(), SessionError> {
        if self.stream.is_none() {
            return Ok(());
        }
        if self.machine.input_mode() != InputMode::Command {
            self.close(sink);
            return Ok(());
        }
        let line = self.protocol().quit_verb();
        let result = self.send_line(line.as_bytes(), sink).map(|_| ());
        self.finished = true;
        self.close(sink);
        match result {
            Err(SessionError::Closed(_)) if self.machine.saw_bye() => Ok(()),
            other => other,
        }
    }

    /// Closes the connection (once) and reports it.
    pub fn close(&mut self, sink: Sink) {
        if let Some(mut t) = self.stream.take() {
            t.shutdown();
            sink(self.event(EventKind::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::mock::{options, Fake};

    /// The deadline of a reply runs from its own command, not from the start of the session:
    /// a slow session of quick replies is not cut off. Decided by comparing instants, not by
    /// how long anything took: with a deadline per session the second read's deadline would
    /// come before `before + timeout`, since the session started before `before`.
    #[test]
    fn each_reply_gets_the_whole_timeout_from_its_command() {
        let timeout = Duration::from_secs(3600);
        let fake = Fake::start(|c| {
            c.send(b"220 hi\r\n");
            c.expect(b"NOOP");
            c.send(b"250 ok\r\n");
            c.expect(b"QUIT");
            c.send(b"221 bye\r\n");
        });
        let mut events = Vec::new();
        let mut s = Session::over(
            Box::new(fake.stream()),
            options(Protocol::Smtp, timeout),
            &mut |e| events.push(e),
        )
        .unwrap();
        let greeting_reads = fake.read_deadlines().len();
        // The clock moves on for certain between the greeting and the command.
        std::thread::sleep(Duration::from_millis(2));
        let before = Instant::now();
        s.send_line(b"NOOP", &mut |e| events.push(e)).unwrap();
        let deadlines = fake.read_deadlines();
        assert!(deadlines.len() > greeting_reads, "{deadlines:?}");
        for d in &deadlines[greeting_reads..] {
            assert!(
                *d >= before + timeout,
                "a reply's deadline came from an earlier start"
            );
        }
        assert!(deadlines[0] < before + timeout);
        s.quit(&mut |e| events.push(e)).unwrap();
        fake.join();
    }

    /// Raw bytes go out exactly, nothing added; every reply they cause is read and shown; a
    /// raw DATA does not move the machine into message mode; a raw piece that gets no reply
    /// ends the read when the (here zero) linger is over.
    #[test]
    fn raw_bytes_go_out_exactly_and_their_replies_are_read() {
        let fake = Fake::start(|c| {
            c.send(b"220 hi\r\n");
            let want = b"MAIL FROM:<a>\r\nRCPT TO:<b>\r\n";
            assert_eq!(c.bytes(want.len()), want);
            c.send(b"250 a\r\n250 b\r\n");
            c.expect(b"DATA");
            c.send(b"354 go\r\n");
            let want = b"x\n.\n\x00\r.\r";
            assert_eq!(c.bytes(want.len()), want);
            assert_eq!(c.bytes(5), b"\r\n.\r\n");
            c.send(b"250 queued\r\n");
            c.expect(b"QUIT");
            c.send(b"221 bye\r\n");
        });
        let mut events = Vec::new();
        let mut s = Session::over(
            Box::new(fake.stream()),
            options(Protocol::Smtp, Duration::from_secs(3600)),
            &mut |e| events.push(e),
        )
        .unwrap();
        let long = Duration::from_secs(3600);
        let mut sink = |e: Event| events.push(e);
        s.send_raw(b"MAIL FROM:<a>\r\nRCPT TO:<b>\r\n", long, &mut sink)
            .unwrap();
        s.send_raw(b"DATA\r\n", long, &mut sink).unwrap();
        assert_eq!(s.input_mode(), InputMode::Command);
        s.send_raw(b"x\n.\n\x00\r.\r", Duration::ZERO, &mut sink)
            .unwrap();
        s.send_raw(b"\r\n.\r\n", long, &mut sink).unwrap();
        assert_eq!(
            s.last_reply().map(|r| r.last_text()),
            Some("250 queued".into())
        );
        s.quit(&mut sink).unwrap();
        fake.join();
        let raw: Vec<Vec<u8>> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::SentRaw(b) => Some(b.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(raw.len(), 4);
        assert_eq!(raw[2], b"x\n.\n\x00\r.\r");
        let replies = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Reply(_)))
            .count();
        // The greeting, 250 a, 250 b, 354, 250 queued, 221.
        assert_eq!(replies, 6);
        assert!(!events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Warning(w) if w.contains("unsolicited"))));
    }

    /// Content comes as blocks, then its progress: bytes so far of the announced size, the
    /// last one finished; the exchange keeps its lines.
    #[test]
    fn content_blocks_report_their_progress() {
        let fake = Fake::start(|c| {
            c.send(b"* OK ready\r\n");
            c.expect(b"A001 FETCH 1 BODY[]");
            c.send(b"* 1 FETCH (BODY[] {12}\r\nab\r\n");
            c.send(b"cd\r\nefgh)\r\nA001 OK done\r\n");
            c.expect(b"A002 LOGOUT");
            c.send(b"* BYE\r\nA002 OK\r\n");
        });
        let mut events = Vec::new();
        let mut s = Session::over(
            Box::new(fake.stream()),
            options(Protocol::Imap, Duration::from_secs(3600)),
            &mut |e| events.push(e),
        )
        .unwrap();
        s.send_line(b"FETCH 1 BODY[]", &mut |e| events.push(e))
            .unwrap();
        let mut content = Vec::new();
        let mut progress = Vec::new();
        for e in &events {
            match &e.kind {
                EventKind::Data(b) => content.extend_from_slice(&b.bytes),
                EventKind::Progress(p) => progress.push(*p),
                _ => {}
            }
        }
        assert_eq!(content, b"ab\r\ncd\r\nefgh");
        let last = progress.last().copied().unwrap();
        assert_eq!(
            last,
            Progress {
                sending: false,
                done: 12,
                total: Some(12),
                finished: true
            }
        );
        assert!(progress.iter().all(|p| p.done <= 12 && !p.sending));
        let exchange = s.last_exchange().unwrap();
        assert!(exchange.lines.contains(&b"efgh".to_vec()), "{exchange:?}");
        s.quit(&mut |e| events.push(e)).unwrap();
        fake.join();
    }
}
