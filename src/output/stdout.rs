//! The screen of the line-based front ends: lines painted onto standard output, written in
//! large pieces (many lines per write) whenever the screen is flushed, which the controller does
//! at every reply and before every wait; a long transfer's progress on standard error when that
//! is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use super::present::data_lead;
use super::progress::{Draw, Meter};
use super::Screen;
use crate::engine::{Progress, Security};
use crate::render::{bulk, terminal, Line, Theme};

/// Painted bytes are written out once this many are waiting, flushed or not.
const WRITE_AT: usize = 256 * 1024;

/// See the module documentation.
pub struct StdoutScreen {
    theme: Theme,
    buf: Vec<u8>,
    meter: Meter,
    /// A progress line is on the terminal.
    status: bool,
    /// Standard output is a terminal: the progress line is taken away before lines are written.
    stdout_tty: bool,
}

impl StdoutScreen {
    pub fn new(theme: Theme) -> StdoutScreen {
        StdoutScreen {
            theme,
            buf: Vec::with_capacity(WRITE_AT),
            meter: Meter::new(),
            status: false,
            stdout_tty: std::io::stdout().is_terminal(),
        }
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    fn write(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if self.status && self.stdout_tty {
            terminal::clear_status();
            self.status = false;
        }
        terminal::write_out(&self.buf);
        self.buf.clear();
    }
}

impl Screen for StdoutScreen {
    fn show(&mut self, line: &Line) {
        self.buf
            .extend_from_slice(self.theme.paint_line(line).as_bytes());
        self.buf.push(b'\n');
        if self.buf.len() >= WRITE_AT {
            self.write();
        }
    }

    fn show_data(&mut self, security: Security, content: &[u8]) {
        let lead = data_lead(&self.theme, security);
        bulk::paint_data(&self.theme, &lead, content, &mut self.buf);
        if self.buf.len() >= WRITE_AT {
            self.write();
        }
    }

    fn flush(&mut self) {
        self.write();
    }

    fn progress(&mut self, progress: &Progress, at: Duration) {
        match self.meter.update(progress, at) {
            Draw::Nothing => {}
            Draw::Show(text) => {
                self.write();
                terminal::draw_status(&text);
                self.status = true;
            }
            Draw::Clear => {
                if self.status {
                    terminal::clear_status();
                    self.status = false;
                }
            }
        }
    }
}

impl Drop for StdoutScreen {
    fn drop(&mut self) {
        self.write();
        if self.status {
            terminal::clear_status();
        }
    }
}
