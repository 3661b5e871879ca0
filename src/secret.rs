//! Passwords and tokens: a wrapper that never prints its content and wipes its bytes when
//! dropped, and the three ways mailtalk obtains one (a terminal prompt without echo, an
//! environment variable, the output of a command). A secret is never taken from argv alone.

use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{compiler_fence, Ordering};

use crate::proto::REDACTED;

/// The longest secret accepted from a command or a prompt (OAuth tokens can be a few KiB).
pub const MAX_SECRET: usize = 64 * 1024;

/// A password or token.
///
/// `Debug` and `Display` print `<redacted>`; the only way to read the content is
/// [`Secret::expose`]. The bytes (including spare capacity) are overwritten with zeros when the
/// value is dropped. Copies the caller makes of `expose()` (for example a SASL response) are
/// not covered.
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Secret {
        Secret(secret)
    }

    /// The secret itself. Use it only to build what goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Secret {
        Secret(secret)
    }
}

impl Clone for Secret {
    fn clone(&self) -> Secret {
        // An exact-size copy: no spare capacity holding stale bytes.
        let mut s = String::with_capacity(self.0.len());
        s.push_str(&self.0);
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        wipe(&mut bytes);
    }
}

/// Overwrites every byte of `buf`, including its spare capacity, with zeros, in a way the
/// optimiser cannot remove, and empties it.
pub(crate) fn wipe(buf: &mut Vec<u8>) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference to an initialised byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    for b in buf.spare_capacity_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference into the allocation; writing a
        // `MaybeUninit<u8>` needs no initialised value.
        unsafe { std::ptr::write_volatile(b, std::mem::MaybeUninit::new(0)) };
    }
    compiler_fence(Ordering::SeqCst);
    buf.clear();
}

/// Turns bytes into a [`Secret`] without leaving a copy behind: invalid UTF-8 is wiped and
/// reported.
fn secret_from_bytes(bytes: Vec<u8>) -> io::Result<Secret> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Secret(s)),
        Err(e) => {
            let mut bytes = e.into_bytes();
            wipe(&mut bytes);
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the secret is not valid UTF-8",
            ))
        }
    }
}

/// The secret held in the environment variable `var`. `None` when it is unset, empty or not
/// valid Unicode.
pub fn from_env(var: &str) -> Option<Secret> {
    let value = std::env::var(var).ok()?;
    if value.is_empty() {
        return None;
    }
    Some(Secret(value))
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
    let mut buf = vec![0u8; MAX_SECRET + 1];
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
    strip_line_ending(&mut buf);
    if buf.is_empty() {
        return fail(
            &mut buf,
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the password command printed nothing",
            ),
        );
    }
    secret_from_bytes(buf)
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

/// Removes one trailing `\n` or `\r\n` (truncation keeps the bytes in the allocation; they are
/// wiped with it).
fn strip_line_ending(buf: &mut Vec<u8>) {
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
}

/// Asks for a secret on the controlling terminal (`/dev/tty`) without echo: writes `label`,
/// reads one line, and restores the terminal settings afterwards, also on error.
///
/// This needs a terminal and the `stty` program: the terminal is switched to
/// `-echo -icanon -isig` for the duration of the read, so Ctrl-C cancels the prompt (an
/// [`io::ErrorKind::Interrupted`] error) instead of killing mailtalk with echo still off.
/// Backspace deletes the last character, Ctrl-U the whole line, Enter finishes, Ctrl-D on an
/// empty line is end of input ([`io::ErrorKind::UnexpectedEof`]). An empty line gives an
/// empty secret.
pub fn prompt(label: &str) -> io::Result<Secret> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| io::Error::new(e.kind(), format!("no terminal to ask for a secret: {e}")))?;
    let saved = stty(&tty, &["-g"])?;
    let saved = String::from_utf8_lossy(&saved).trim().to_string();
    if saved.is_empty() {
        return Err(io::Error::other("stty -g printed nothing"));
    }
    tty.write_all(label.as_bytes())?;
    tty.flush()?;
    stty(
        &tty,
        &["-echo", "-icanon", "-isig", "min", "1", "time", "0"],
    )?;
    let result = read_hidden_line(&mut tty);
    // Restore whatever happened while reading; prefer the exact saved settings.
    let restored =
        stty(&tty, &[saved.as_str()]).or_else(|_| stty(&tty, &["echo", "icanon", "isig"]));
    let _ = tty.write_all(b"\n");
    let _ = tty.flush();
    let bytes = result?;
    restored?;
    secret_from_bytes(bytes)
}

/// Runs `stty ARGS` with the terminal as its standard input and returns its standard output.
fn stty(tty: &std::fs::File, args: &[&str]) -> io::Result<Vec<u8>> {
    let output = Command::new("stty")
        .args(args)
        .stdin(Stdio::from(tty.try_clone()?))
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run stty: {e}")))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(io::Error::other(format!(
            "stty {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Reads one line typed on a terminal in non-canonical mode, handling the editing keys
/// itself. The buffer never reallocates (it is sized for [`MAX_SECRET`] up front), so no
/// stale copy of a partial secret is left on the heap; on error it is wiped.
fn read_hidden_line(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut line: Vec<u8> = Vec::with_capacity(MAX_SECRET);
    let result = edit_line(input, &mut line);
    match result {
        Ok(()) => Ok(line),
        Err(e) => {
            wipe(&mut line);
            Err(e)
        }
    }
}

fn edit_line(input: &mut impl Read, line: &mut Vec<u8>) -> io::Result<()> {
    let mut byte = [0u8; 1];
    loop {
        let n = match input.read(&mut byte) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if line.is_empty() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no input"));
            }
            return Ok(());
        }
        match byte[0] {
            b'\r' | b'\n' => return Ok(()),
            // Ctrl-C
            0x03 => return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled")),
            // Ctrl-D: end of input on an empty line, ignored otherwise.
            0x04 => {
                if line.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no input"));
                }
            }
            // Backspace / DEL: remove one whole UTF-8 character.
            0x08 | 0x7f => {
                while let Some(b) = line.pop() {
                    if b & 0xc0 != 0x80 {
                        break;
                    }
                }
            }
            // Ctrl-U: clear the line.
            0x15 => {
                for b in line.iter_mut() {
                    *b = 0;
                }
                line.clear();
            }
            b => {
                if line.len() >= MAX_SECRET {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the secret is longer than {MAX_SECRET} bytes"),
                    ));
                }
                line.push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:#?}"), "<redacted>");
        let c = s.clone();
        assert_eq!(format!("{c:?}"), "<redacted>");
        assert_eq!(c.expose(), "hunter2");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(s.len(), 7);
        assert!(!s.is_empty());
    }

    #[test]
    fn debug_of_containing_struct_is_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Creds {
            user: String,
            secret: Secret,
        }
        let c = Creds {
            user: "tim".into(),
            secret: Secret::new("tanstaaf".into()),
        };
        let text = format!("{c:?}");
        assert!(!text.contains("tanstaaf"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn wipe_zeroes_content_and_spare_capacity() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"password\n");
        v.pop();
        wipe(&mut v);
        assert!(v.is_empty());
        // SAFETY (test only): every byte up to the capacity was written by `wipe`.
        let all = unsafe { std::slice::from_raw_parts(v.as_ptr(), v.capacity()) };
        assert!(all.iter().all(|&b| b == 0), "{all:?}");
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

    fn edit(input: &[u8]) -> io::Result<Vec<u8>> {
        read_hidden_line(&mut &input[..])
    }

    #[test]
    fn hidden_line_editing() {
        assert_eq!(edit(b"secret\r").unwrap(), b"secret");
        assert_eq!(edit(b"secret\nignored").unwrap(), b"secret");
        assert_eq!(edit(b"secreX\x7ft\n").unwrap(), b"secret");
        assert_eq!(edit(b"ab\x08\x08cd\n").unwrap(), b"cd");
        assert_eq!(edit("pä\x7fa\n".as_bytes()).unwrap(), b"pa");
        assert_eq!(edit(b"wrong\x15right\n").unwrap(), b"right");
        assert_eq!(edit(b"ab\x04c\n").unwrap(), b"abc");
        assert_eq!(edit(b"\n").unwrap(), b"");
        assert_eq!(edit(b"partial").unwrap(), b"partial");
    }

    #[test]
    fn hidden_line_cancel_and_eof() {
        assert_eq!(
            edit(b"abc\x03def\n").unwrap_err().kind(),
            io::ErrorKind::Interrupted
        );
        assert_eq!(edit(b"").unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            edit(b"\x04").unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let long = vec![b'a'; MAX_SECRET + 1];
        assert_eq!(edit(&long).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let mut max = vec![b'a'; MAX_SECRET];
        max.push(b'\n');
        assert_eq!(edit(&max).unwrap().len(), MAX_SECRET);
    }
}
