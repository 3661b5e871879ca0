//! Front ends that read the input language line by line: the interactive REPL (stdin is a
//! terminal) and the batch reader (stdin is a pipe or file). Both drive the same session.

pub mod interactive;
pub mod meta;

use std::io::{BufRead, Write};

use crate::cli::exit;
use crate::engine::{Event, EventKind, InputMode, Options, Session, SessionError};
use crate::render::{self, Theme};

pub use meta::Flow;

/// What became of one input line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Handles one input line: a meta-command or a line for the server.
pub fn handle_line(
    session: &mut Session,
    line: &[u8],
    sink: &mut dyn FnMut(Event),
    theme: &Theme,
    out: &mut dyn FnMut(String),
) -> Result<Handled, SessionError> {
    let mode = session.input_mode();
    if meta_allowed(mode) && line.first() == Some(&b':') {
        let text = String::from_utf8_lossy(line).into_owned();
        let mut ctx = meta::Ctx {
            session,
            sink,
            theme,
            out,
        };
        let flow = meta::run(&mut ctx, &text)?;
        return Ok(Handled {
            flow,
            secret: false,
        });
    }
    if mode == InputMode::Command && line.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Handled {
            flow: Flow::Continue,
            secret: false,
        });
    }
    let secret = session.send_line(line, sink)?;
    Ok(Handled {
        flow: Flow::Continue,
        secret,
    })
}

/// Prints events to stdout as they happen.
pub fn stdout_sink(theme: &Theme) -> impl FnMut(Event) + '_ {
    move |ev: Event| {
        let mut stdout = std::io::stdout().lock();
        for line in render::event_lines(&ev, theme) {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }
}

/// Reports a fatal error on the transcript and on stderr; returns its exit status.
pub fn report_error(
    err: &SessionError,
    protocol: crate::proto::Protocol,
    sink: &mut dyn FnMut(Event),
    also_stderr: bool,
) -> i32 {
    sink(Event {
        at: std::time::Duration::ZERO,
        protocol,
        security: crate::engine::Security::Plain,
        kind: EventKind::Error(err.to_string()),
    });
    if also_stderr {
        eprintln!(
            "mailtalk: error: {}",
            render::escape::visible_string(err.to_string().as_bytes())
        );
    }
    err.exit_code()
}

/// Reads lines from `input` (not a terminal): sends each and waits for its reply; at the end
/// says QUIT/LOGOUT if the session is still open. Returns the exit status.
pub fn run_batch(opts: Options, theme: &Theme, input: &mut dyn BufRead) -> i32 {
    let protocol = opts.target.protocol;
    let mut sink = stdout_sink(theme);
    let mut session = match Session::connect(opts, &mut sink) {
        Ok(s) => s,
        Err(e) => return report_error(&e, protocol, &mut sink, true),
    };
    let mut out = |s: String| println!("{s}");
    let mut line = Vec::new();
    // Bytes of typed input that belong to a literal the server refused: never sent.
    let mut skip: u64 = 0;
    let mut skip_continuation = false;
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("mailtalk: error: reading input: {e}");
                session.close(&mut sink);
                return exit::USAGE;
            }
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
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
                sink(Event {
                    at: session.elapsed(),
                    protocol,
                    security: session.security(),
                    kind: EventKind::Warning(
                        "the literal's lines were not sent: the server refused the command".into(),
                    ),
                });
            }
            continue;
        }
        if !session.is_open() {
            let err = if session.finished() {
                SessionError::Closed(" (after QUIT/LOGOUT) before the input ended".into())
            } else {
                SessionError::Closed(" before the input ended".into())
            };
            return report_error(&err, protocol, &mut sink, true);
        }
        match handle_line(&mut session, &line, &mut sink, theme, &mut out) {
            Ok(Handled {
                flow: Flow::Quit, ..
            }) => {
                return match session.quit(&mut sink) {
                    Ok(()) => exit::OK,
                    Err(e) => report_error(&e, protocol, &mut sink, true),
                };
            }
            Ok(_) => {
                skip = session.take_refused_literal().unwrap_or(0);
            }
            Err(e) => {
                let code = report_error(&e, protocol, &mut sink, true);
                session.close(&mut sink);
                return code;
            }
        }
    }
    if session.is_open() {
        if let Err(e) = session.quit(&mut sink) {
            return report_error(&e, protocol, &mut sink, true);
        }
    }
    exit::OK
}
