//! The controller: what every front end (the REPL, piped input, scripts, one-shot send, a
//! full-screen view) drives. It owns the session and the output sinks and decides what each
//! input line means: a comment, a meta-command (in every input mode), a line for the server,
//! or a line that belongs to a literal the server refused; it runs `:include`, records, checks
//! scripts before they run, knows the prompt, what completion offers and which typed lines
//! carry a secret, and ends a session the way its input mode calls for.
//!
//! Front ends only read lines and show [`Line`]s through a [`Screen`].

pub mod args;
pub mod complete;
pub mod credentials;
pub mod exit;
pub mod macros;
pub mod meta;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::session::{Options, Stage};
use crate::engine::{Event, EventKind, Security, Session, SessionError, Sink};
use crate::explain;
use crate::output::Output;
pub use crate::output::Screen;
use crate::proto::{classify, CommandError, InputMode, LineContext, Protocol};
use crate::script::source::{self, ScriptLine};
use crate::script::vars::Vars;
use crate::script::{line_of, LineOf};
use args::{AuthOptions, QuitAfter};

/// What the controller is told once, from the command line.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The target as the user gave it (for the recorder's header).
    pub target: String,
    /// `--keep-going`: report every failed expectation instead of stopping at the first.
    pub keep_going: bool,
    /// `--auth`, `--user`, `--password-cmd` …: the defaults for `:auth`.
    pub auth: AuthOptions,
    /// This machine's name, for generated Message-IDs and the default sender.
    pub hostname: String,
    /// `--raw`: start in raw mode (see [`Controller::set_raw`]).
    pub raw: bool,
    /// `--raw-wait`: how long a raw send reads what the server answers (else [`RAW_LINGER`]).
    pub raw_wait: Option<Duration>,
}

/// How long a raw send reads what the server answers unless `--raw-wait` says otherwise
/// (capped by the timeout); what comes later is shown before the next line.
pub const RAW_LINGER: Duration = Duration::from_secs(1);

/// What a script run keeps between lines.
#[derive(Debug, Default)]
pub struct ScriptState {
    pub vars: Vars,
    /// Failed expectations and captures, as shown.
    pub failures: Vec<String>,
    /// `FILE:LINE` of the line being run, for messages.
    pub location: Option<String>,
}

/// What the front end does after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// `:quit`: say QUIT/LOGOUT and leave.
    Quit,
    /// A script failure without `--keep-going`: stop (exit status 1, after QUIT).
    Abort,
    /// The line could not be done; it was reported. `fatal`: the session has ended. A script
    /// stops with `code` either way; the REPL goes on unless it is fatal.
    Error {
        code: i32,
        fatal: bool,
    },
}

/// What became of one input line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handled {
    pub flow: Flow,
    /// The line carried a secret: keep it out of history.
    pub secret: bool,
}

impl Handled {
    fn flow(flow: Flow) -> Handled {
        Handled {
            flow,
            secret: false,
        }
    }
}

/// A snapshot for a status bar ([`Controller::status`]).
#[derive(Clone, Debug)]
pub struct Status {
    pub protocol: Protocol,
    /// `host:port`.
    pub target: String,
    pub open: bool,
    pub security: Security,
    pub tls_version: Option<String>,
    pub cipher: Option<String>,
    /// Since the session began.
    pub elapsed: Duration,
    /// The last reply's code (`250`, `A003 OK`, `+OK`) and how it went.
    pub last_reply: Option<(String, crate::proto::Outcome)>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub mode: InputMode,
}

/// One input line and where it came from (`FILE:LINE` for scripts).
pub type InputLine = (Vec<u8>, Option<String>);

pub struct Controller {
    session: Session,
    out: Output,
    script: ScriptState,
    settings: Settings,
    cancel: Arc<AtomicBool>,
    /// Bytes of typed input that belong to a literal the server refused: never sent.
    skip: u64,
    /// The refused literal ended with a line's CRLF: the next line would have continued the
    /// refused command.
    skip_rest: bool,
    /// Raw mode: lines go out exactly as typed (escapes decoded), nothing added.
    raw: bool,
}

/// Shows an event through the sinks.
fn show(out: &mut Output, screen: &mut dyn Screen, ev: &Event) {
    out.show(ev, screen);
}

/// An event before (or without) a session.
fn bare_event(protocol: Protocol, kind: EventKind) -> Event {
    Event {
        at: Duration::ZERO,
        protocol,
        security: Security::Plain,
        kind,
    }
}

/// Reports a fatal error through the sinks: its line, its hint, and the screen's own note.
fn report(
    out: &mut Output,
    screen: &mut dyn Screen,
    err: &SessionError,
    opts: &Options,
    at: Event,
) {
    let message = err.to_string();
    let ev = Event {
        kind: EventKind::Error {
            message: message.clone(),
            hint: exit::hint(err, opts),
        },
        ..at
    };
    show(out, screen, &ev);
    screen.fatal(&message);
}

/// Where the secret is in a line typed in `ctx` (none in a meta-command line): what is masked
/// while typed, erased once entered and kept out of history.
pub fn secret_in(ctx: &LineContext, line: &str) -> Option<std::ops::Range<usize>> {
    match line_of(line.as_bytes()) {
        LineOf::Meta(_) => None,
        LineOf::Server(sent) => {
            // `::x` sends `:x`: the range is found in what is sent, shown where it was typed.
            let skip = line.len().saturating_sub(sent.len());
            classify(ctx, sent)
                .secret
                .map(|r| r.start.saturating_add(skip)..r.end.saturating_add(skip))
        }
    }
}

/// Whether input with these lines may ask for `:save` (under any prefix it goes by), directly
/// or through `:include`: the last content received is kept for it only then.
pub fn may_save<'a>(mut lines: impl Iterator<Item = &'a [u8]>) -> bool {
    lines.any(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let LineOf::Meta(meta) = line_of(line) else {
            return false;
        };
        let name = meta
            .split(|b| b.is_ascii_whitespace())
            .next()
            .unwrap_or(&[]);
        match meta::find(&String::from_utf8_lossy(name)) {
            Ok(m) => m.name == ":save" || m.name == ":include",
            // An ambiguous prefix (`:s`) is refused when it runs; nothing to keep for it.
            Err(_) => false,
        }
    })
}

/// A line or meta-command that cannot be done as given; the session goes on.
fn invalid(msg: impl Into<String>) -> SessionError {
    SessionError::Command(CommandError::Invalid(msg.into()))
}

impl Controller {
    /// Connects and reads the greeting (with STARTTLS when required); a failure is reported
    /// and its exit status returned.
    pub fn connect(
        opts: Options,
        out: Output,
        settings: Settings,
        screen: &mut dyn Screen,
    ) -> Result<Controller, i32> {
        Controller::start(opts, out, settings, screen, |opts, sink| {
            Session::connect(opts, sink)
        })
    }

    /// Like [`Controller::connect`], with the session opened by `open` (MX routing tries one
    /// host after the other).
    pub fn connect_with(
        opts: Options,
        out: Output,
        settings: Settings,
        screen: &mut dyn Screen,
        open: impl FnOnce(Options, Sink) -> Result<Session, SessionError>,
    ) -> Result<Controller, i32> {
        Controller::start(opts, out, settings, screen, open)
    }

    fn start(
        opts: Options,
        mut out: Output,
        settings: Settings,
        screen: &mut dyn Screen,
        open: impl FnOnce(Options, Sink) -> Result<Session, SessionError>,
    ) -> Result<Controller, i32> {
        let protocol = opts.target.protocol;
        if let Some(w) = exit::plaintext_on_tls_port(&opts) {
            show(
                &mut out,
                screen,
                &bare_event(protocol, EventKind::Warning(w)),
            );
        }
        let result = {
            let mut sink = |ev: Event| show(&mut out, screen, &ev);
            open(opts.clone(), &mut sink)
        };
        match result {
            Ok(mut session) => {
                let cancel = Arc::new(AtomicBool::new(false));
                session.set_cancel(cancel.clone());
                let raw = settings.raw;
                let mut c = Controller {
                    session,
                    out,
                    script: ScriptState::default(),
                    settings,
                    cancel,
                    skip: 0,
                    skip_rest: false,
                    raw: false,
                };
                if raw {
                    c.set_raw(true, screen);
                }
                Ok(c)
            }
            Err(e) => {
                report(
                    &mut out,
                    screen,
                    &e,
                    &opts,
                    bare_event(protocol, EventKind::Closed),
                );
                out.flush();
                Err(exit::code(&e))
            }
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.session.protocol()
    }

    /// The flag that interrupts what the session waits for (set it from a signal handler or a
    /// key): a reply, `:sleep`, a message being sent.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    pub fn is_open(&self) -> bool {
        self.session.is_open()
    }

    /// Whether the server closed the connection on its own (and with what last word).
    pub fn closed_by_server(&self) -> Option<&str> {
        self.session.closed_by_server()
    }

    /// Runs `f` with the session and a sink that shows events.
    pub fn with_session<R>(
        &mut self,
        screen: &mut dyn Screen,
        f: impl FnOnce(&mut Session, Sink) -> R,
    ) -> R {
        let out = &mut self.out;
        let mut sink = |ev: Event| show(out, screen, &ev);
        f(&mut self.session, &mut sink)
    }

    /// Shows an event of the session.
    pub fn emit(&mut self, screen: &mut dyn Screen, kind: EventKind) {
        let ev = self.session.event(kind);
        show(&mut self.out, screen, &ev);
    }

    /// One of mailtalk's own lines (`** text`).
    pub fn info(&mut self, screen: &mut dyn Screen, text: &str) {
        self.emit(screen, EventKind::Info(text.to_string()));
    }

    /// After a script failure: stop, unless `--keep-going`.
    fn after_failure(&self) -> Flow {
        if self.settings.keep_going {
            Flow::Continue
        } else {
            Flow::Abort
        }
    }

    /// Reports an error; a fatal one closes the session.
    fn error(&mut self, err: SessionError, screen: &mut dyn Screen) -> Flow {
        let (code, fatal) = self.report_error(err, screen);
        Flow::Error { code, fatal }
    }

    /// Reports an error (see [`Controller::error`]) and returns the exit status it stands for.
    fn error_code(&mut self, err: SessionError, screen: &mut dyn Screen) -> i32 {
        self.report_error(err, screen).0
    }

    /// Says what went wrong (with the script location and a hint), closes the connection
    /// when the error is fatal; the exit status and whether it was fatal.
    fn report_error(&mut self, err: SessionError, screen: &mut dyn Screen) -> (i32, bool) {
        let err = match (&err, &self.script.location) {
            (SessionError::Command(c), Some(loc)) => {
                SessionError::Command(CommandError::Invalid(format!("{loc}: {c}")))
            }
            _ => err,
        };
        if let SessionError::Cancelled(why) = &err {
            self.emit(screen, EventKind::Warning(why.clone()));
            return (exit::code(&err), false);
        }
        let fatal = err.is_fatal();
        let at = self.session.event(EventKind::Closed);
        let opts = self.session.options().clone();
        report(&mut self.out, screen, &err, &opts, at);
        if fatal {
            self.with_session(screen, |s, sink| s.close(sink));
        }
        (exit::code(&err), fatal)
    }

    /// Turns raw mode on or off, saying so (loudly when on).
    pub fn set_raw(&mut self, on: bool, screen: &mut dyn Screen) {
        self.raw = on;
        if on {
            self.emit(
                screen,
                EventKind::Warning(
                    "RAW MODE ON: each line is sent exactly as typed with \\r \\n \\t \\0 \\xHH \\\\ \
                     decoded and NO CRLF added (type \\r\\n yourself); nothing is checked, \
                     nothing redacted (do not type passwords), ${NAME} is not replaced; the \
                     input mode does not follow what raw bytes do; :raw off ends it"
                        .into(),
                ),
            );
        } else {
            self.info(
                screen,
                "raw mode off: lines are sent as commands again, CRLF added",
            );
        }
    }

    /// Whether raw mode is on.
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// What a line typed now would mean.
    pub fn line_context(&self) -> LineContext {
        self.session.line_context()
    }

    /// Whether a typed line carries a secret: it is masked while typed, erased from the screen
    /// once entered and kept out of history.
    pub fn typed_secret(&self, line: &str) -> bool {
        secret_in(&self.line_context(), line).is_some()
    }

    /// The prompt for the next line: what it will mean.
    pub fn prompt(&self) -> String {
        if !self.session.is_open() {
            return "closed (:reconnect opens it again; Enter or Ctrl-D leaves) › ".to_string();
        }
        let t = &self.session.options().target;
        let transport = match (self.session.security(), self.session.tls_info()) {
            (Security::Plain, _) => "plain".to_string(),
            (Security::TlsVerified, Some(i)) => i.short_version(),
            (Security::TlsUnverified, Some(i)) => format!("{}(unverified)", i.short_version()),
            (_, None) => "TLS".into(),
        };
        let base = format!(
            "{} {} {}",
            t.protocol,
            crate::target::host_text(&t.host),
            transport
        );
        if self.raw {
            return format!("{base} RAW (no CRLF added; \\r\\n ends a line) › ");
        }
        match self.session.input_mode() {
            InputMode::Command => format!("{base} › "),
            InputMode::Message => "message (a lone . ends it; :: starts a line with :) › ".into(),
            InputMode::Chunk { left } => format!("chunk ({left} bytes left) › "),
            InputMode::Literal { left } => format!("literal ({left} bytes left) › "),
            InputMode::LiteralRest => {
                "rest of the command line after the literal (Enter ends the command) › ".into()
            }
            InputMode::Idle => format!("{base} IDLE (DONE ends it) › "),
            InputMode::Continuation => format!("{base} + › "),
            InputMode::Auth => format!("{base} sasl › "),
        }
    }

    /// What a status bar shows: where, how, and how it went.
    pub fn status(&self) -> Status {
        let t = &self.session.options().target;
        let tls = self.session.tls_info();
        let stats = self.session.stats();
        let last = self.session.last_reply();
        Status {
            protocol: t.protocol,
            target: format!("{}:{}", crate::target::host_text(&t.host), t.port),
            open: self.session.is_open(),
            security: self.session.security(),
            tls_version: tls.map(|i| i.version.clone()),
            cipher: tls.map(|i| i.cipher.clone()),
            elapsed: self.session.elapsed(),
            last_reply: last.map(|r| {
                let text = r.last_text();
                let code = r.code_value().map(|c| c.to_string()).unwrap_or_else(|| {
                    text.split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                });
                (code, r.outcome)
            }),
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            mode: self.session.input_mode(),
        }
    }

    /// What completion knows now.
    pub fn completion(&self) -> complete::Known {
        let caps = self.session.capabilities();
        complete::Known {
            protocol: self.protocol(),
            capabilities: caps.clone(),
            tls: self.session.is_tls(),
            mode: self.session.input_mode(),
        }
    }

    /// Handles one input line: a comment, a meta-command or a line for the server.
    pub fn handle(&mut self, line: &[u8], screen: &mut dyn Screen) -> Handled {
        // A Ctrl-C that came while nothing was going on interrupts nothing later.
        self.session.cancel_requested();
        match self.handle_line(line, screen) {
            Ok(h) => h,
            Err(e) => Handled::flow(self.error(e, screen)),
        }
    }

    fn handle_line(
        &mut self,
        line: &[u8],
        screen: &mut dyn Screen,
    ) -> Result<Handled, SessionError> {
        if self.skipping(line, screen) {
            return Ok(Handled::flow(Flow::Continue));
        }
        let mode = self.session.input_mode();
        // Replies so far (the greeting, data that came on its own) precede this line.
        self.out.flush_expects(false);
        let blank = line.iter().all(|b| b.is_ascii_whitespace());
        let comment = line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'#');
        if mode == InputMode::Command && (blank || comment) {
            return Ok(Handled::flow(Flow::Continue));
        }
        match line_of(line) {
            LineOf::Meta(m) => self.meta_line(m, screen),
            LineOf::Server(bytes) => self.server_line(bytes, mode, screen),
        }
    }

    /// `${NAME}` from captures and the environment. In content (message text, literals) an
    /// unknown name stays as it is.
    fn interpolate(&self, line: &[u8], strict: bool) -> Result<Vec<u8>, SessionError> {
        let text = String::from_utf8_lossy(line);
        if !text.contains("${") {
            return Ok(line.to_vec());
        }
        match self.script.vars.interpolate(&text) {
            Ok(s) => Ok(s.into_bytes()),
            Err(e) if strict => Err(invalid(e)),
            Err(_) => Ok(line.to_vec()),
        }
    }

    fn meta_line(&mut self, raw: &[u8], screen: &mut dyn Screen) -> Result<Handled, SessionError> {
        let typed = String::from_utf8_lossy(raw).into_owned();
        let text = String::from_utf8_lossy(&self.interpolate(raw, true)?).into_owned();
        let (name, args) = meta::split(&text);
        let m = meta::find(name).map_err(invalid)?;
        if m.name != ":record" && m.name != ":expect" {
            if let Some(r) = &mut self.out.recorder {
                let _ = r.meta(&typed);
            }
        }
        if !m.offline && !self.session.is_open() {
            return Err(self.closed_error());
        }
        let flow = (m.run)(self, args, screen)?;
        // A macro's many replies are checked by its last one.
        self.out.flush_expects(true);
        Ok(Handled::flow(flow))
    }

    /// For a line given while the connection is closed: who closed it, and what to do.
    fn closed_error(&self) -> SessionError {
        if self.session.closed_by_server().is_some() {
            SessionError::Closed("; :reconnect opens it again".into())
        } else if self.session.finished() {
            invalid("the session ended with QUIT/LOGOUT; :reconnect opens it again")
        } else {
            invalid("the connection is closed; :reconnect opens it again")
        }
    }

    fn server_line(
        &mut self,
        typed: &[u8],
        mode: InputMode,
        screen: &mut dyn Screen,
    ) -> Result<Handled, SessionError> {
        if !self.session.is_open() {
            return Err(self.closed_error());
        }
        if self.raw {
            return self.raw_line(typed, screen);
        }
        let strict = !mode.is_content();
        let line = self.interpolate(typed, strict)?;
        if mode == InputMode::Command {
            let text = String::from_utf8_lossy(&line).into_owned();
            for w in explain::caps::warnings(self.protocol(), self.session.capabilities(), &text) {
                self.emit(screen, EventKind::Warning(w));
            }
        }
        let secret = self.with_session(screen, |s, sink| s.send_line(&line, sink))?;
        if self.out.recorder.is_some() {
            let shown = if secret {
                self.out.last_sent().unwrap_or_default().to_string()
            } else {
                String::from_utf8_lossy(&line).into_owned()
            };
            if let Some(r) = &mut self.out.recorder {
                let _ = r.input(&shown, secret);
            }
        }
        self.skip = self.session.take_refused_literal().unwrap_or(0);
        self.out.flush_expects(false);
        Ok(Handled {
            flow: Flow::Continue,
            secret,
        })
    }

    /// A line in raw mode: decoded, written exactly, the replies shown. It is kept out of
    /// history (it may hold anything, and nothing in it is recognised as a secret).
    fn raw_line(&mut self, typed: &[u8], screen: &mut dyn Screen) -> Result<Handled, SessionError> {
        let bytes = crate::proto::raw::decode_escapes(typed).map_err(invalid)?;
        if bytes.is_empty() {
            return Ok(Handled::flow(Flow::Continue));
        }
        if let Some(r) = &mut self.out.recorder {
            let _ = r.input(&String::from_utf8_lossy(typed), false);
        }
        let linger = self.settings.raw_wait.unwrap_or(RAW_LINGER);
        self.with_session(screen, |s, sink| s.send_raw(&bytes, linger, sink))?;
        self.out.flush_expects(false);
        Ok(Handled {
            flow: Flow::Continue,
            secret: true,
        })
    }

    /// Whether `line` belongs to a literal whose command the server refused (its bytes are
    /// never sent).
    fn skipping(&mut self, line: &[u8], screen: &mut dyn Screen) -> bool {
        if self.skip == 0 && !self.skip_rest {
            return false;
        }
        let len = u64::try_from(line.len())
            .unwrap_or(u64::MAX)
            .saturating_add(2);
        if self.skip_rest {
            // The literal ended with a line's CRLF: this line would have continued the
            // refused command.
            self.skip_rest = false;
        } else if len <= self.skip {
            self.skip = self.skip.saturating_sub(len);
            self.skip_rest = self.skip == 0;
        } else {
            // The rest of this line after the literal would have continued the command.
            self.skip = 0;
        }
        if self.skip == 0 && !self.skip_rest {
            self.emit(
                screen,
                EventKind::Warning(
                    "the literal's lines were not sent: the server refused the command".into(),
                ),
            );
        }
        true
    }

    /// Runs lines until the input ends (`Ok`) or the session must end (`Err` with the exit
    /// status).
    pub fn run_lines(
        &mut self,
        lines: &mut dyn Iterator<Item = Result<InputLine, String>>,
        screen: &mut dyn Screen,
    ) -> Result<(), i32> {
        loop {
            // Reading the next line may wait: what was shown is seen first.
            screen.flush();
            let Some(item) = lines.next() else {
                break;
            };
            let (line, location) = match item {
                Ok(x) => x,
                Err(e) => {
                    self.emit(screen, EventKind::Failure(e));
                    return Err(exit::USAGE);
                }
            };
            self.script.location = location;
            match self.handle(&line, screen).flow {
                Flow::Continue => {}
                Flow::Quit => return Ok(()),
                Flow::Abort => return Err(exit::EXPECTATION),
                Flow::Error { code, .. } => return Err(code),
            }
        }
        Ok(())
    }

    /// `:include FILE` typed (in the REPL or piped input): loads it (its own includes are
    /// expanded then, with their depth and cycles checked), checks it and runs its lines. In a
    /// script file, includes are expanded when the script is loaded.
    fn include(&mut self, path: &Path, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
        let lines = source::load(path).map_err(invalid)?;
        check_script(&lines, self.protocol()).map_err(invalid)?;
        let saved = self.script.location.clone();
        let mut it = script_lines(lines);
        let result = self.run_lines(&mut it, screen);
        self.script.location = saved;
        Ok(match result {
            Ok(()) if self.session.finished() => Flow::Quit,
            Ok(()) => Flow::Continue,
            Err(exit::EXPECTATION) => Flow::Abort,
            // The error was reported already.
            Err(code) => Flow::Error {
                code,
                fatal: !self.session.is_open(),
            },
        })
    }

    /// `--auth` / `--user` without a message to send: authenticate right after connecting.
    pub fn initial_auth(&mut self, screen: &mut dyn Screen) -> Result<(), i32> {
        if !self.settings.auth.wanted() {
            return Ok(());
        }
        match self.authenticate(None, None, screen) {
            Ok(true) => Ok(()),
            Ok(false) => Err(exit::AUTH_FAILED),
            Err(e) => Err(self.error_code(e, screen)),
        }
    }

    /// Checks for data the server sent on its own, waiting at most `wait`. Returns false when
    /// the connection is closed (now or before).
    pub fn poll(&mut self, wait: Duration, screen: &mut dyn Screen) -> bool {
        match self.with_session(screen, |s, sink| s.poll(wait, sink)) {
            Ok(open) => open,
            Err(e) => {
                self.error(e, screen);
                false
            }
        }
    }

    /// `:reconnect`: the same target again.
    pub fn reconnect(&mut self, screen: &mut dyn Screen) -> Result<(), SessionError> {
        let opts = self.session.options().clone();
        self.with_session(screen, |s, sink| s.close(sink));
        let mut session = self.with_session(screen, |_, sink| Session::connect(opts, sink))?;
        session.set_cancel(self.cancel.clone());
        self.session = session;
        self.skip = 0;
        self.skip_rest = false;
        Ok(())
    }

    /// `:connect TARGET`: says goodbye to this server (when connected) and opens TARGET, which
    /// may speak another protocol (`imap://127.0.0.1:1143` after sending over SMTP). The TLS
    /// settings and the timeout stay.
    pub fn connect_to(
        &mut self,
        target: &str,
        screen: &mut dyn Screen,
    ) -> Result<(), SessionError> {
        let parsed =
            crate::target::parse(target, None, false).map_err(|e| invalid(e.to_string()))?;
        let mut opts = self.session.options().clone();
        opts.target = parsed;
        if self.session.is_open() {
            // A server that does not answer the goodbye is left anyway.
            let _ = self.with_session(screen, |s, sink| s.quit(sink));
        }
        self.with_session(screen, |s, sink| s.close(sink));
        let mut session = self.with_session(screen, |_, sink| Session::connect(opts, sink))?;
        session.set_cancel(self.cancel.clone());
        self.session = session;
        self.settings.target = target.to_string();
        self.skip = 0;
        self.skip_rest = false;
        Ok(())
    }

    /// The input ended (end of file, Ctrl-D, the end of a script): ends what is in progress
    /// the way its input mode calls for, then the session politely. Returns the exit status.
    pub fn end_of_input(&mut self, screen: &mut dyn Screen) -> i32 {
        if !self.session.is_open() {
            return if self.session.closed_by_server().is_some() {
                exit::CLOSED
            } else {
                exit::OK
            };
        }
        let mode = self.session.input_mode();
        let result = match mode {
            InputMode::Command => self.with_session(screen, |s, sink| s.quit(sink)),
            InputMode::Idle => self.with_session(screen, |s, sink| {
                s.send_line(b"DONE", sink)?;
                s.quit(sink)
            }),
            InputMode::Auth => self.with_session(screen, |s, sink| {
                s.send_line(b"*", sink)?;
                s.quit(sink)
            }),
            InputMode::Message
            | InputMode::Chunk { .. }
            | InputMode::Literal { .. }
            | InputMode::LiteralRest
            | InputMode::Continuation => {
                let what = match mode {
                    InputMode::Message => "the message text (before its final \".\")",
                    InputMode::Chunk { .. } => "a BDAT chunk",
                    InputMode::Continuation => "an exchange the server waited on",
                    _ => "an IMAP literal's command",
                };
                self.emit(
                    screen,
                    EventKind::Warning(format!(
                        "the input ended in the middle of {what}: abandoned, and the \
                         connection was closed so that nothing is delivered"
                    )),
                );
                self.with_session(screen, |s, sink| s.close(sink));
                return exit::ABANDONED;
            }
        };
        match result {
            Ok(()) => exit::OK,
            Err(e) => self.error_code(e, screen),
        }
    }

    /// Ends a run: after the input ended (`Ok`), or after a line stopped it (`Err` with its
    /// status). A failed expectation still ends the session politely. Reports how many
    /// expectations failed, flushes the files and returns the exit status.
    pub fn finish(&mut self, result: Result<(), i32>, screen: &mut dyn Screen) -> i32 {
        let status = match result {
            Ok(()) => self.end_of_input(screen),
            // After a TLS failure nothing more is said in plaintext; otherwise a session in
            // good order is ended politely.
            Err(code) if code != exit::TLS && self.session.can_quit() => {
                self.end_of_input(screen);
                code
            }
            Err(code) => {
                self.with_session(screen, |s, sink| s.close(sink));
                code
            }
        };
        let status = if status == exit::OK && !self.script.failures.is_empty() {
            let n = self.script.failures.len();
            self.emit(
                screen,
                EventKind::Failure(format!(
                    "{n} expectation{} failed",
                    if n == 1 { "" } else { "s" }
                )),
            );
            exit::EXPECTATION
        } else {
            status
        };
        self.out.flush();
        status
    }

    /// One-shot send: the steps up to `quit_after` (EHLO, AUTH, the transaction). Returns the
    /// exit status.
    pub fn oneshot(
        &mut self,
        send: macros::PreparedSend,
        quit_after: Option<QuitAfter>,
        screen: &mut dyn Screen,
    ) -> i32 {
        let stop = |q: QuitAfter| quit_after.is_some_and(|s| s <= q);
        if stop(QuitAfter::Banner) {
            return self.finish(Ok(()), screen);
        }
        let ehlo = self.with_session(screen, |s, sink| s.ensure_capabilities(sink));
        match ehlo {
            Ok(Some(r)) if !r.outcome.is_ok() => return self.finish(Err(exit::REJECTED), screen),
            Ok(_) => {}
            Err(e) => {
                let code = self.error_code(e, screen);
                return self.finish(Err(code), screen);
            }
        }
        if stop(QuitAfter::Tls) {
            return self.finish(Ok(()), screen);
        }
        if self.settings.auth.wanted() {
            match self.authenticate(None, None, screen) {
                Ok(true) => {}
                Ok(false) => return self.quit_with(exit::AUTH_FAILED, screen),
                // The exchange was cancelled (e.g. an invalid challenge): not authenticated.
                Err(e @ SessionError::Command(_)) => {
                    self.error(e, screen);
                    return self.quit_with(exit::AUTH_FAILED, screen);
                }
                Err(e) => {
                    let code = self.error_code(e, screen);
                    return self.finish(Err(code), screen);
                }
            }
        }
        if stop(QuitAfter::Auth) {
            return self.finish(Ok(()), screen);
        }
        let stage = quit_after.and_then(|q| match q {
            QuitAfter::Mail => Some(Stage::Mail),
            QuitAfter::Rcpt => Some(Stage::Rcpt),
            QuitAfter::Data => Some(Stage::Data),
            _ => None,
        });
        match self.send_prepared(send, stage, screen) {
            Ok(code) => self.quit_with(code, screen),
            Err(e) => {
                let code = self.error_code(e, screen);
                self.finish(Err(code), screen)
            }
        }
    }

    /// QUIT politely, then `code` (unless QUIT itself failed worse).
    fn quit_with(&mut self, code: i32, screen: &mut dyn Screen) -> i32 {
        let quit = if self.session.is_open() && self.session.input_mode() == InputMode::Command {
            self.with_session(screen, |s, sink| s.quit(sink))
        } else {
            self.with_session(screen, |s, sink| s.close(sink));
            Ok(())
        };
        let status = match quit {
            Ok(()) => code,
            Err(e) => {
                let c = self.error_code(e, screen);
                if code == exit::OK {
                    c
                } else {
                    code
                }
            }
        };
        self.out.flush();
        status
    }
}

/// Script lines as input lines with their `FILE:LINE`.
pub fn script_lines(lines: Vec<ScriptLine>) -> impl Iterator<Item = Result<InputLine, String>> {
    lines.into_iter().map(|l| {
        let loc = format!("{}:{}", l.file, l.line_no);
        Ok((l.text.into_bytes(), Some(loc)))
    })
}

/// Checks a whole script before anything is sent: every meta-command and its arguments, the
/// `${NAME}` syntax, and no CR, LF or NUL in a line for the server. The first problem is
/// reported as `FILE:LINE: …`.
pub fn check_script(lines: &[ScriptLine], protocol: Protocol) -> Result<(), String> {
    for l in lines {
        let at = |e: String| format!("{}:{}: {e}", l.file, l.line_no);
        match line_of(l.text.as_bytes()) {
            LineOf::Meta(m) => meta::check(&String::from_utf8_lossy(m), protocol).map_err(at)?,
            LineOf::Server(bytes) => {
                crate::proto::check_line(bytes).map_err(|e| at(e.to_string()))?;
                if l.text.contains("${") && !source::is_comment(&l.text) {
                    Vars::check_syntax(&l.text).map_err(at)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_may_save_with_save_or_include_under_any_prefix() {
        let lines = |t: &'static str| t.split('\n').map(str::as_bytes);
        assert!(may_save(lines("LOGIN a b\nFETCH 1 BODY[]\n:save x.eml")));
        assert!(may_save(lines("FETCH 1 BODY[]\r\n:sa x\r")));
        assert!(may_save(lines(":include more.mts")));
        assert!(!may_save(lines(
            "FETCH 1 BODY[]\n::save is for the server\n:stats\n:s"
        )));
        assert!(!may_save(lines("")));
    }
}
