//! Terminal control for the line-editor front end: the one place, with the theme, that writes
//! escape sequences to the terminal.

use std::io::{IsTerminal, Write};

use crossterm::{cursor, terminal, QueueableCommand};

/// Writes one painted line (from [`crate::render::Theme::paint_line`]) to standard output and
/// flushes it. A closed pipe (`| head`) is not an error worth a message.
pub fn print_line(painted: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{painted}");
    let _ = stdout.flush();
}

/// Moves the cursor up over the last `rows` rows and clears from there to the end of the
/// screen. Nothing happens when standard output is not a terminal (or TERM=dumb).
pub fn erase_rows(rows: u16) {
    if !std::io::stdout().is_terminal() || std::env::var_os("TERM").is_some_and(|t| t == "dumb") {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.queue(cursor::MoveUp(rows.max(1)));
    let _ = stdout.queue(cursor::MoveToColumn(0));
    let _ = stdout.queue(terminal::Clear(terminal::ClearType::FromCursorDown));
    let _ = stdout.flush();
}

/// Draws a status line (a transfer's progress) on standard error, over the one drawn before.
/// Nothing happens when standard error is not a terminal.
pub fn draw_status(text: &str) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.queue(cursor::MoveToColumn(0));
    let _ = stderr.queue(terminal::Clear(terminal::ClearType::CurrentLine));
    let _ = write!(stderr, "{}", super::escape::visible_string(text.as_bytes()));
    let _ = stderr.flush();
}

/// Takes the status line away again.
pub fn clear_status() {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.queue(cursor::MoveToColumn(0));
    let _ = stderr.queue(terminal::Clear(terminal::ClearType::CurrentLine));
    let _ = stderr.flush();
}

/// Writes painted bytes to standard output as they are (one write for many lines). A closed
/// pipe is not an error worth a message.
pub fn write_out(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes);
    let _ = stdout.flush();
}
