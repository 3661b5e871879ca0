//! The front ends that are not interactive: input read line by line from a pipe or a file,
//! scripts (`--script`, checked whole before connecting). Each line waits
//! for its reply; at the end the session is ended as its input mode calls for.

use std::io::{BufRead, IsTerminal};

use std::time::Duration;

use crate::controller::{check_script, exit, script_lines, Controller, InputLine, Screen};
use crate::engine::{Progress, Security};
use crate::output::stdout::StdoutScreen;
use crate::render::escape::visible_string;
use crate::render::{Line, Theme};
use crate::script::source::ScriptLine;

/// The transcript on stdout. A fatal error is said once where the user looks: on stdout, and
/// also on stderr when stdout goes elsewhere (a file, a pipe) and stderr is a terminal.
pub struct Terminal {
    screen: StdoutScreen,
    also_stderr: bool,
}

impl Terminal {
    pub fn new(theme: Theme) -> Terminal {
        Terminal {
            screen: StdoutScreen::new(theme),
            also_stderr: !std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
        }
    }
}

impl Screen for Terminal {
    fn show(&mut self, line: &Line) {
        self.screen.show(line);
    }

    fn show_data(&mut self, security: Security, content: &[u8]) {
        self.screen.show_data(security, content);
    }

    fn flush(&mut self) {
        self.screen.flush();
    }

    fn progress(&mut self, progress: &Progress, at: Duration) {
        self.screen.progress(progress, at);
    }

    fn fatal(&mut self, message: &str) {
        self.screen.flush();
        if self.also_stderr {
            eprintln!("mailtalk: error: {}", visible_string(message.as_bytes()));
        }
    }
}

/// Lines of a reader, as they arrive.
fn reader_lines(reader: &mut dyn BufRead) -> impl Iterator<Item = Result<InputLine, String>> + '_ {
    let mut buf = Vec::new();
    std::iter::from_fn(move || {
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

/// Runs input that is not a terminal (or a script), then ends the session. Returns the exit
/// status.
pub fn run(mut c: Controller, input: Input, screen: &mut dyn Screen) -> i32 {
    let result = c.initial_auth(screen).and_then(|()| match input {
        Input::Reader(reader) => c.run_lines(&mut reader_lines(reader), screen),
        Input::Script(lines) => c.run_lines(&mut script_lines(lines), screen),
    });
    c.finish(result, screen)
}

/// Where the lines come from.
pub enum Input<'a> {
    /// A pipe or file read as it arrives.
    Reader(&'a mut dyn BufRead),
    /// A script loaded and checked whole.
    Script(Vec<ScriptLine>),
}

/// Checks a script before connecting; a problem is said as `FILE:LINE: …` on stderr.
pub fn check(lines: &[ScriptLine], protocol: crate::proto::Protocol) -> Result<(), i32> {
    check_script(lines, protocol).map_err(|e| {
        eprintln!(
            "mailtalk: error: {} (nothing was sent)",
            visible_string(e.as_bytes())
        );
        exit::USAGE
    })
}
