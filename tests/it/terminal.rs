//! The interactive REPL on a pseudo-terminal: the test types keys and waits for what the
//! terminal shows, as a user would. Every wait is for text to appear (the time limit only
//! stops a hung run), so nothing here depends on how fast the machine is.

use std::path::Path;
use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::reader::Options;
use rexpect::session::PtySession;

/// How long one wait may take before the run is declared hung: the hang guard of every run
/// ([`crate::support::RUN_LIMIT`]), never reached by a correct one.
const HANG_MS: u64 = crate::support::RUN_LIMIT.as_millis() as u64;

/// The terminal's bytes are read one by one as characters U+0000..U+00FF (so "›" arrives as
/// three characters); a needle is turned into that form before it is looked for.
fn as_read(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// The bytes of text read from the terminal, back as UTF-8 (lossy).
fn as_text(read: &str) -> String {
    let bytes: Vec<u8> = read.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// mailtalk running on a pseudo-terminal, and everything the terminal showed so far.
pub struct Term {
    session: PtySession,
    /// All the terminal received, escape sequences included (as read: see [`as_read`]).
    seen: String,
}

impl Term {
    /// Starts the binary with `args` on a terminal of 120 columns, HOME under `home`, no
    /// password in the environment, TERM=xterm-256color.
    pub fn start(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Term {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailtalk"));
        cmd.args(args)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("MAILTALK_PASSWORD")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("TERM", "xterm-256color")
            .env("COLUMNS", "120")
            .env("LINES", "40");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let options = Options::default()
            .timeout_ms(Some(HANG_MS))
            .strip_ansi_escape_codes(false);
        let session = rexpect::session::spawn_with_options(cmd, options)
            .unwrap_or_else(|e| panic!("cannot start mailtalk on a terminal: {e}"));
        Term {
            session,
            seen: String::new(),
        }
    }

    /// Waits until the terminal shows `needle` (escape sequences are not skipped: choose a
    /// needle that is shown in one piece, or run with `--color never`).
    #[track_caller]
    pub fn expect(&mut self, needle: &str) {
        let wanted = as_read(needle);
        match self.session.exp_string(&wanted) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(&wanted);
            }
            Err(e) => self.fail(&format!("waiting for {needle:?}: {e}")),
        }
    }

    /// Waits until the program ends; its exit status (None when killed by a signal) and
    /// everything the terminal showed, as text.
    #[track_caller]
    pub fn finish(mut self) -> (Option<i32>, String) {
        match self.session.exp_eof() {
            Ok(rest) => self.seen.push_str(&rest),
            Err(e) => self.fail(&format!("waiting for the end: {e}")),
        }
        let status = self.session.process().wait();
        let code = match status {
            Ok(WaitStatus::Exited(_, code)) => Some(code),
            _ => None,
        };
        (code, as_text(&self.seen))
    }

    /// Waits until the line editor asks for the next line (each prompt starts by turning on
    /// bracketed paste), then types `text` and Enter.
    #[track_caller]
    pub fn at_prompt(&mut self, text: &str) {
        self.expect("\x1b[?2004h");
        self.line(text);
    }

    /// Types `text` and Enter.
    pub fn line(&mut self, text: &str) {
        self.send(text);
        self.send("\r");
    }

    /// Types `text` (no Enter).
    pub fn send(&mut self, text: &str) {
        if let Err(e) = self.session.send(text) {
            self.fail(&format!("typing {text:?}: {e}"));
        }
        let _ = self.session.flush();
    }

    /// Presses Ctrl and `key` (`'c'`, `'d'`, `'l'`).
    pub fn ctrl(&mut self, key: char) {
        if let Err(e) = self.session.send_control(key) {
            self.fail(&format!("Ctrl-{key}: {e}"));
        }
    }

    /// Sends a signal to the program (SIGKILL to test that nothing is lost).
    pub fn kill(&mut self, signal: rexpect::process::Signal) {
        let _ = self.session.process_mut().signal(signal);
    }

    /// Reads what is already there without waiting for more.
    pub fn drain_now(&mut self) {
        while let Some(c) = self.session.try_read() {
            self.seen.push(c);
        }
    }

    #[track_caller]
    fn fail(&mut self, what: &str) -> ! {
        self.drain_now();
        panic!(
            "{what}\n--- the terminal showed ---\n{}",
            as_text(&self.seen).escape_debug()
        );
    }
}
