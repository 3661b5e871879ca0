//! Where a password or token comes from: the environment, the output of a command, or a
//! prompt on the terminal without echo (with crossterm). Never from argv alone.

use std::io::{self, Read, Write};
use std::process::{Command, Stdio};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal;
use zeroize::Zeroizing;

use crate::secret::{self, wipe, Secret};

/// The longest secret accepted from a command or a prompt (OAuth tokens can be a few KiB).
pub const MAX_SECRET: usize = 64 * 1024;

/// The environment variable a password or token is read from.
pub const PASSWORD_ENV: &str = "MAILTALK_PASSWORD";

/// The secret held in the environment variable `var`. `None` when it is unset, empty or not
/// valid Unicode.
pub fn from_env(var: &str) -> Option<Secret> {
    let value = std::env::var(var).ok()?;
    if value.is_empty() {
        return None;
    }
    Some(Secret::new(value))
}

/// Runs `sh -c CMD` and takes its standard output as the secret, without one trailing line
/// ending (`\n` or `\r\n`); everything else is kept as printed.
///
/// The command's standard input and standard error stay those of mailtalk, so a password
/// manager can ask for its own passphrase. It is an error when the command cannot run, exits
/// with a failure status, prints nothing, prints more than [`MAX_SECRET`] bytes, or prints
/// something that is not UTF-8.
pub fn from_command(cmd: &str) -> io::Result<Secret> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run the password command: {e}")))?;
    // A buffer sized up front, so reading never reallocates and leaves stale copies behind.
    let mut buf = vec![0u8; MAX_SECRET.saturating_add(1)];
    let mut len = 0usize;
    let read = match child.stdout.take() {
        Some(mut out) => read_into(&mut out, &mut buf, &mut len),
        None => Err(io::Error::other("no pipe from the password command")),
    };
    if len > MAX_SECRET || read.is_err() {
        // The command may still be writing; it is ours to stop.
        let _ = child.kill();
    }
    let status = child.wait();
    buf.truncate(len);
    let fail = |buf: &mut Vec<u8>, e: io::Error| {
        wipe(buf);
        Err(e)
    };
    if let Err(e) = read {
        return fail(&mut buf, e);
    }
    if len > MAX_SECRET {
        return fail(
            &mut buf,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the password command printed more than {MAX_SECRET} bytes"),
            ),
        );
    }
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return fail(
                &mut buf,
                io::Error::other(format!("the password command failed ({status})")),
            )
        }
        Err(e) => return fail(&mut buf, e),
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if buf.is_empty() {
        return fail(
            &mut buf,
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the password command printed nothing",
            ),
        );
    }
    secret::from_bytes(buf).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the password command printed something that is not UTF-8",
        )
    })
}

/// Reads from `input` into `buf[*len..]` until end of input or until `buf` is full.
fn read_into(input: &mut impl Read, buf: &mut [u8], len: &mut usize) -> io::Result<()> {
    loop {
        let space = match buf.get_mut(*len..) {
            Some(space) if !space.is_empty() => space,
            _ => return Ok(()),
        };
        match input.read(space) {
            Ok(0) => return Ok(()),
            Ok(n) => *len = len.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// One key of the hidden prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Backspace,
    /// Ctrl-U: clear the line.
    Clear,
    /// Ctrl-C or Esc: give up.
    Cancel,
    /// Ctrl-D: end of input on an empty line, ignored otherwise.
    Eof,
    Other,
}

fn key_of(k: KeyEvent) -> Key {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Enter => Key::Enter,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Esc => Key::Cancel,
        KeyCode::Char('c') if ctrl => Key::Cancel,
        KeyCode::Char('d') if ctrl => Key::Eof,
        KeyCode::Char('u') if ctrl => Key::Clear,
        KeyCode::Char(_) if ctrl => Key::Other,
        KeyCode::Char(c) => Key::Char(c),
        _ => Key::Other,
    }
}

/// Asks for a secret on the controlling terminal without echo: writes `label` to the
/// terminal, reads one line in raw mode, and restores the terminal afterwards, also on error.
/// Ctrl-C or Esc cancels (an [`io::ErrorKind::Interrupted`] error), Backspace deletes a
/// character, Ctrl-U the whole line, Enter finishes, Ctrl-D on an empty line is end of input
/// ([`io::ErrorKind::UnexpectedEof`]).
pub fn prompt(label: &str) -> io::Result<Secret> {
    let mut tty = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .map_err(|e| io::Error::new(e.kind(), format!("no terminal to ask for a secret: {e}")))?;
    tty.write_all(label.as_bytes())?;
    tty.flush()?;
    terminal::enable_raw_mode()?;
    let result = edit_line(|| loop {
        match event::read()? {
            Event::Key(k) if k.kind != KeyEventKind::Release => return Ok(key_of(k)),
            _ => {}
        }
    });
    let restored = terminal::disable_raw_mode();
    let _ = tty.write_all(b"\r\n");
    let _ = tty.flush();
    let line = result?;
    restored?;
    Ok(Secret::new(line.to_string()))
}

/// Reads one hidden line from `keys`. The buffer is zeroed when dropped.
pub fn edit_line(mut keys: impl FnMut() -> io::Result<Key>) -> io::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::with_capacity(256));
    loop {
        match keys()? {
            Key::Enter => return Ok(line),
            Key::Cancel => return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled")),
            Key::Eof if line.is_empty() => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no input"))
            }
            Key::Eof | Key::Other => {}
            Key::Backspace => {
                line.pop();
            }
            Key::Clear => line.clear(),
            Key::Char(c) => {
                if line.len().saturating_add(c.len_utf8()) > MAX_SECRET {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the secret is longer than {MAX_SECRET} bytes"),
                    ));
                }
                if line.len() == line.capacity() {
                    // Grow into a fresh zeroed buffer rather than leaving a copy behind.
                    let mut bigger = Zeroizing::new(String::with_capacity(
                        line.capacity().saturating_mul(2).max(16),
                    ));
                    bigger.push_str(&line);
                    line = bigger;
                }
                line.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(keys: &[Key]) -> io::Result<String> {
        let mut it = keys.iter().copied();
        edit_line(|| Ok(it.next().unwrap_or(Key::Eof))).map(|s| s.to_string())
    }

    fn typed(s: &str) -> Vec<Key> {
        s.chars().map(Key::Char).collect()
    }

    #[test]
    fn env_secret() {
        let var = "MAILTALK_TEST_SECRET_ENV_7F3A";
        assert!(from_env(var).is_none());
        std::env::set_var(var, "s3cret");
        assert_eq!(from_env(var).unwrap().expose(), "s3cret");
        std::env::set_var(var, "");
        assert!(from_env(var).is_none());
        std::env::remove_var(var);
    }

    #[test]
    fn command_secret_strips_one_newline() {
        assert_eq!(from_command("printf 'pw\\n'").unwrap().expose(), "pw");
        assert_eq!(from_command("printf 'pw\\r\\n'").unwrap().expose(), "pw");
        assert_eq!(from_command("printf 'pw\\n\\n'").unwrap().expose(), "pw\n");
        assert_eq!(from_command("printf ' a b '").unwrap().expose(), " a b ");
    }

    #[test]
    fn command_secret_errors() {
        assert!(from_command("exit 3").is_err());
        assert!(from_command("printf 'pw\\n'; exit 1").is_err());
        assert!(from_command("true").is_err());
        assert!(from_command("printf '\\n'").is_err());
        assert!(from_command("printf '\\377\\n'").is_err());
        let big = format!("head -c {} /dev/zero | tr '\\0' a", MAX_SECRET + 10);
        assert!(from_command(&big).is_err());
        assert!(from_command("yes").is_err());
        let exact = format!("head -c {MAX_SECRET} /dev/zero | tr '\\0' a");
        assert_eq!(from_command(&exact).unwrap().len(), MAX_SECRET);
    }

    #[test]
    fn hidden_line_editing() {
        let mut k = typed("secret");
        k.push(Key::Enter);
        assert_eq!(edit(&k).unwrap(), "secret");
        let mut k = typed("secreX");
        k.push(Key::Backspace);
        k.extend(typed("t"));
        k.push(Key::Enter);
        assert_eq!(edit(&k).unwrap(), "secret");
        let mut k = typed("pä");
        k.push(Key::Backspace);
        k.extend(typed("a"));
        k.push(Key::Enter);
        assert_eq!(edit(&k).unwrap(), "pa");
        let mut k = typed("wrong");
        k.push(Key::Clear);
        k.extend(typed("right"));
        k.push(Key::Enter);
        assert_eq!(edit(&k).unwrap(), "right");
        let mut k = typed("ab");
        k.push(Key::Eof);
        k.extend(typed("c"));
        k.push(Key::Other);
        k.push(Key::Enter);
        assert_eq!(edit(&k).unwrap(), "abc");
        assert_eq!(edit(&[Key::Enter]).unwrap(), "");
        let long: String = "ab".repeat(40_000);
        let mut k = typed(&long);
        k.push(Key::Enter);
        assert_eq!(
            edit(&k).unwrap_err().kind(),
            io::ErrorKind::InvalidData,
            "longer than {MAX_SECRET} bytes"
        );
    }

    #[test]
    fn hidden_line_cancel_and_eof() {
        let mut k = typed("abc");
        k.push(Key::Cancel);
        assert_eq!(edit(&k).unwrap_err().kind(), io::ErrorKind::Interrupted);
        assert_eq!(edit(&[]).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            edit(&[Key::Eof]).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
