//! Front ends that read the input language line by line: the interactive REPL (stdin is a
//! terminal), the line reader (stdin is a pipe or file) and scripts (`--script`). All drive the
//! same session through [`handle_line`].

pub mod interactive;
pub mod macros;
pub mod meta;
pub mod oneshot;
pub mod output;

use std::io::{BufRead, Write};
use std::path::Path;

use crate::cli::exit;
use crate::engine::{Event, EventKind, InputMode, Options, Security, Session, SessionError};
use crate::render;
use crate::script::source::{self, ScriptLine};
use crate::script::vars::Vars;

pub use meta::Flow;
pub use output::Output;

/// What a script run keeps between lines.
pub struct ScriptState {
    pub vars: Vars,
    /// Failed expectations and captures, as shown.
    pub failures: Vec<String>,
    /// `--keep-going`: report every failure instead of stopping at the first.
    pub keep_going: bool,
    /// `FILE:LINE` of the line being run, for messages.
    pub location: Option<String>,
    /// The target as given, for the recorder's header.
    pub target: String,
    /// `:include` depth while running included files from the REPL or a pipe.
    pub depth: usize,
    /// `--auth`, `--user`, `--password-cmd` …: the defaults for `:auth`.
    pub auth: crate::cli::AuthArgs,
    /// The name for generated Message-IDs.
    pub hostname: String,
    /// The result of the last `:expect`, for the front end to show.
    pub last_expect: Option<ExpectResult>,
}

/// What an `:expect` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectResult {
    pub ok: bool,
    pub expected: String,
    pub actual: String,
    /// `FILE:LINE` in a script.
    pub location: Option<String>,
}

impl ScriptState {
    pub fn new(target: &str, keep_going: bool) -> ScriptState {
        ScriptState {
            vars: Vars::new(),
            failures: Vec::new(),
            keep_going,
            location: None,
            target: target.to_string(),
            depth: 0,
            auth: crate::cli::AuthArgs::default(),
            hostname: "localhost".into(),
            last_expect: None,
        }
    }
}

/// What became of one input line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    pub flow: Flow,
    /// The line carried a secret: keep it out of history.
    pub secret: bool,
}

/// Whether meta-commands are recognised in this input mode (inside message text or a literal a
/// line starting with `:` is data).
pub fn meta_allowed(mode: InputMode) -> bool {
    matches!(
        mode,
        InputMode::Command | InputMode::Continuation | InputMode::Auth
    )
}

/// Handles one input line: a comment, a meta-command or a line for the server.
pub fn handle_line(
    session: &mut Session,
    line: &[u8],
    out: &mut Output,
    print: &mut dyn FnMut(String),
    script: &mut ScriptState,
) -> Result<Handled, SessionError> {
    let mode = session.input_mode();
    let commandish = meta_allowed(mode);
    // Replies so far (the greeting, data that came on its own) precede this line.
    out.flush_expects(false);
    let blank = line.iter().all(|b| b.is_ascii_whitespace());
    let comment = line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'#');
    if mode == InputMode::Command && (blank || comment) {
        return Ok(Handled {
            flow: Flow::Continue,
            secret: false,
        });
    }
    // ${NAME} from captures and the environment; in message text an unknown name stays as is.
    let text = String::from_utf8_lossy(line);
    let interpolated = if text.contains("${") {
        match script.vars.interpolate(&text) {
            Ok(s) => Some(s.into_bytes()),
            Err(e) if commandish => {
                return Err(SessionError::Command(crate::proto::CommandError::Invalid(
                    e,
                )));
            }
            Err(_) => None,
        }
    } else {
        None
    };
    let line: &[u8] = interpolated.as_deref().unwrap_or(line);
    if commandish && line.first() == Some(&b':') {
        let text = String::from_utf8_lossy(line).into_owned();
        if let Some(r) = &mut out.recorder {
            if !text.starts_with(":rec") && !text.starts_with(":expe") {
                let _ = r.input(&text, false);
            }
        }
        // Events and mailtalk's own lines go out in the order they happen.
        let flow = {
            let both = std::cell::RefCell::new((&mut *out, &mut *print));
            let mut sink = |ev: Event| {
                let mut guard = both.borrow_mut();
                let (o, p) = &mut *guard;
                for l in o.lines(&ev) {
                    p(l);
                }
            };
            let mut say = |s: String| {
                let mut guard = both.borrow_mut();
                let (o, p) = &mut *guard;
                let shown = o.info(&s);
                p(shown);
            };
            let mut ctx = meta::Ctx {
                session,
                sink: &mut sink,
                say: &mut say,
                script,
            };
            meta::run(&mut ctx, &text)
        };
        out.flush_expects(true);
        if let Some(r) = script.last_expect.take() {
            let line = out.expect(&r);
            print(line);
        }
        let flow = flow?;
        let flow = match flow {
            Flow::Record(Some(path)) => {
                match crate::script::record::Recorder::create(&path, &script.target) {
                    Ok(r) => {
                        out.recorder = Some(r);
                        let shown = out.info(&format!("recording to {}", path.display()));
                        print(shown);
                    }
                    Err(e) => {
                        return Err(SessionError::Command(crate::proto::CommandError::Invalid(
                            format!("cannot record to {}: {e}", path.display()),
                        )))
                    }
                }
                Flow::Continue
            }
            Flow::Record(None) => {
                out.flush();
                out.recorder = None;
                let shown = out.info("recording stopped");
                print(shown);
                Flow::Continue
            }
            Flow::Include(path) => {
                if script.depth >= source::MAX_INCLUDE_DEPTH {
                    return Err(SessionError::Command(crate::proto::CommandError::Invalid(
                        "includes nested too deeply".into(),
                    )));
                }
                let lines = source::load(&path)
                    .map_err(|e| SessionError::Command(crate::proto::CommandError::Invalid(e)))?;
                script.depth = script.depth.saturating_add(1);
                let saved = script.location.clone();
                let result = run_lines(session, out, script, Source::Lines(lines), print);
                script.depth = script.depth.saturating_sub(1);
                script.location = saved;
                match result {
                    Ok(()) if session.finished() => Flow::Quit,
                    Ok(()) => Flow::Continue,
                    Err(exit::EXPECTATION) => Flow::Abort,
                    Err(code) => Flow::Fatal(code),
                }
            }
            other => other,
        };
        return Ok(Handled {
            flow,
            secret: false,
        });
    }
    let mut sink = |ev: Event| out.show(&ev, &mut *print);
    let secret = session.send_line(line, &mut sink)?;
    if let Some(r) = &mut out.recorder {
        let shown = if secret {
            out.last_sent.clone().unwrap_or_default()
        } else {
            String::from_utf8_lossy(line).into_owned()
        };
        let _ = r.input(&shown, secret);
    }
    out.flush_expects(false);
    Ok(Handled {
        flow: Flow::Continue,
        secret,
    })
}

/// Prints to stdout.
pub fn print_stdout(line: String) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Reports a fatal error on the transcript and on stderr; returns its exit status.
pub fn report_error(
    err: &SessionError,
    protocol: crate::proto::Protocol,
    out: &mut Output,
    print: &mut dyn FnMut(String),
    also_stderr: bool,
) -> i32 {
    let ev = Event {
        at: std::time::Duration::ZERO,
        protocol,
        security: Security::Plain,
        kind: EventKind::Error(err.to_string()),
    };
    for l in out.lines(&ev) {
        print(l);
    }
    if let Some(hint) = err.hint() {
        let line = out.info(hint);
        print(line);
    }
    if also_stderr {
        eprintln!(
            "mailtalk: error: {}",
            render::escape::visible_string(err.to_string().as_bytes())
        );
    }
    err.exit_code()
}

/// `--auth` / `--user` without a message to send: authenticate right after connecting.
/// Returns the exit status when the session cannot go on.
pub fn initial_auth(
    session: &mut Session,
    out: &mut Output,
    script: &ScriptState,
    print: &mut dyn FnMut(String),
) -> Result<(), i32> {
    if script.auth.auth.is_none() && script.auth.user.is_none() {
        return Ok(());
    }
    let protocol = session.protocol();
    let req = match macros::auth_request(&script.auth, None, None) {
        Ok(r) => r,
        Err(e) => {
            let err = SessionError::Command(crate::proto::CommandError::Invalid(e));
            return Err(report_error(&err, protocol, out, print, true));
        }
    };
    let mut said = Vec::new();
    let result = {
        let mut sink = |ev: Event| out.show(&ev, &mut *print);
        let mut say = |s: String| said.push(s);
        macros::authenticate(session, &req, &mut sink, &mut say)
    };
    for s in said {
        let line = out.info(&s);
        print(line);
    }
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(exit::AUTH_FAILED),
        Err(e) => Err(report_error(&e, protocol, out, print, true)),
    }
}

/// Where script lines come from: a pipe read as it arrives, or a loaded file.
pub enum Source<'a> {
    Reader(&'a mut dyn BufRead),
    Lines(Vec<ScriptLine>),
}

/// Runs input that is not a terminal: each line is sent and its reply awaited; at the end QUIT
/// or LOGOUT is said if the session is still open. Returns the exit status.
pub fn run_batch(opts: Options, mut out: Output, mut script: ScriptState, input: Source) -> i32 {
    let protocol = opts.target.protocol;
    let mut print = print_stdout;
    let mut session = {
        let mut sink = |ev: Event| out.show(&ev, &mut print);
        match Session::connect(opts, &mut sink) {
            Ok(s) => s,
            Err(e) => {
                let code = report_error(&e, protocol, &mut out, &mut print, true);
                out.flush();
                return code;
            }
        }
    };
    let status = initial_auth(&mut session, &mut out, &script, &mut print)
        .and_then(|()| run_lines(&mut session, &mut out, &mut script, input, &mut print));
    let status = match status {
        Ok(()) => {
            let mut sink = |ev: Event| out.show(&ev, &mut print);
            match session.quit(&mut sink) {
                Ok(()) => exit::OK,
                Err(e) => report_error(&e, protocol, &mut out, &mut print, true),
            }
        }
        Err(code) => {
            let mut sink = |ev: Event| out.show(&ev, &mut print);
            session.close(&mut sink);
            code
        }
    };
    let status = if status == exit::OK && !script.failures.is_empty() {
        let n = script.failures.len();
        let line = out.failure(&format!(
            "{n} expectation{} failed",
            if n == 1 { "" } else { "s" }
        ));
        print(line);
        exit::EXPECTATION
    } else {
        status
    };
    out.flush();
    status
}

/// One line of input and where it came from (`FILE:LINE` for scripts).
type InputLine = (Vec<u8>, Option<String>);

/// Runs lines until the input ends (Ok) or the session must end (Err with the exit status).
pub fn run_lines(
    session: &mut Session,
    out: &mut Output,
    script: &mut ScriptState,
    input: Source,
    print: &mut dyn FnMut(String),
) -> Result<(), i32> {
    let protocol = session.protocol();
    // Bytes of typed input that belong to a literal the server refused: never sent.
    let mut skip: u64 = 0;
    let mut skip_continuation = false;
    let mut next_line: Box<dyn FnMut() -> Option<Result<InputLine, String>>> = match input {
        Source::Reader(reader) => {
            let mut buf = Vec::new();
            Box::new(move || {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) => None,
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                            if buf.last() == Some(&b'\r') {
                                buf.pop();
                            }
                        }
                        Some(Ok((buf.clone(), None)))
                    }
                    Err(e) => Some(Err(format!("reading input: {e}"))),
                }
            })
        }
        Source::Lines(lines) => {
            let mut it = lines.into_iter();
            Box::new(move || {
                it.next().map(|l| {
                    let loc = format!("{}:{}", l.file, l.line_no);
                    Ok((l.text.into_bytes(), Some(loc)))
                })
            })
        }
    };
    while let Some(item) = next_line() {
        let (line, location) = match item {
            Ok(x) => x,
            Err(e) => {
                print(out.failure(&e));
                return Err(exit::USAGE);
            }
        };
        script.location = location;
        if skip > 0 || skip_continuation {
            let len = u64::try_from(line.len())
                .unwrap_or(u64::MAX)
                .saturating_add(2);
            if skip_continuation {
                // The literal ended with a line's CRLF: this line would have continued the
                // refused command.
                skip_continuation = false;
            } else if len <= skip {
                skip = skip.saturating_sub(len);
                skip_continuation = skip == 0;
            } else {
                // The rest of this line after the literal would have continued the command.
                skip = 0;
            }
            if skip == 0 && !skip_continuation {
                let ev = Event {
                    at: session.elapsed(),
                    protocol,
                    security: session.security(),
                    kind: EventKind::Warning(
                        "the literal's lines were not sent: the server refused the command".into(),
                    ),
                };
                for l in out.lines(&ev) {
                    print(l);
                }
            }
            continue;
        }
        if !session.is_open() {
            let err = if session.finished() {
                SessionError::Closed(" (after QUIT/LOGOUT) before the input ended".into())
            } else {
                SessionError::Closed(" before the input ended".into())
            };
            return Err(report_error(&err, protocol, out, print, true));
        }
        match handle_line(session, &line, out, print, script) {
            Ok(Handled {
                flow: Flow::Quit, ..
            }) => return Ok(()),
            Ok(Handled {
                flow: Flow::Abort, ..
            }) => return Err(exit::EXPECTATION),
            Ok(Handled {
                flow: Flow::Fatal(code),
                ..
            }) => return Err(code),
            Ok(_) => {
                skip = session.take_refused_literal().unwrap_or(0);
            }
            Err(e) => {
                let e = match (&e, &script.location) {
                    (SessionError::Command(c), Some(loc)) => SessionError::Command(
                        crate::proto::CommandError::Invalid(format!("{loc}: {c}")),
                    ),
                    _ => e,
                };
                return Err(report_error(&e, protocol, out, print, true));
            }
        }
    }
    Ok(())
}

/// Loads a script file (or `-` for stdin) with its includes.
pub fn load_script(path: &Path) -> Result<Vec<ScriptLine>, String> {
    source::load(path)
}
