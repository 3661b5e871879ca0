//! The full-screen view in a real terminal: the binary runs in a tmux session of its own (a
//! private server socket, HOME and XDG dirs in a temporary directory), the test types keys with
//! `send-keys` and reads the screen with `capture-pane`, as a user would see it. Every wait is
//! for the screen to show something (the time limit only stops a hung run), so nothing here
//! depends on how fast the machine is.
//!
//! Without tmux the tests say so and pass, unless MAILTALK_REQUIRE=1: then they fail.

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::serve::{have, Serve};
use crate::support::RUN_LIMIT;

const BIN: &str = env!("CARGO_BIN_EXE_mailtalk");
/// How long to sleep between two looks at the screen (pacing only: no decision is taken by it).
const PACE: Duration = Duration::from_millis(50);

static SESSIONS: AtomicU32 = AtomicU32::new(0);

/// `text` quoted for `sh`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The binary running in a tmux session of its own; the tmux server is killed on drop.
struct Tmux {
    socket: String,
    home: tempfile::TempDir,
}

impl Tmux {
    /// Starts `mailtalk ARGS` in a 100x30 terminal, or returns `None` (after saying so) when
    /// tmux is not installed.
    fn start(args: &[&str]) -> Option<Tmux> {
        if !have("tmux") {
            return None;
        }
        let home = tempfile::tempdir().unwrap();
        let socket = format!(
            "mailtalk-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::SeqCst)
        );
        let h = home.path();
        for d in [".local/share", ".local/state", ".config", ".cache", "tmp"] {
            std::fs::create_dir_all(h.join(d)).unwrap();
        }
        let env = [
            ("HOME", h.to_path_buf()),
            ("XDG_DATA_HOME", h.join(".local/share")),
            ("XDG_STATE_HOME", h.join(".local/state")),
            ("XDG_CONFIG_HOME", h.join(".config")),
            ("XDG_CACHE_HOME", h.join(".cache")),
            // The demo's log and certificate go here, and go with the directory.
            ("TMPDIR", h.join("tmp")),
        ];
        let mut cmd = String::from("env -u NO_COLOR -u CLICOLOR -u CLICOLOR_FORCE -u FORCE_COLOR");
        cmd.push_str(" -u MAILTALK_PASSWORD -u SSL_CERT_FILE -u SSL_CERT_DIR TERM=xterm-256color");
        for (k, v) in &env {
            cmd.push_str(&format!(" {k}={}", quote(&v.display().to_string())));
        }
        cmd.push(' ');
        cmd.push_str(&quote(BIN));
        // No test here is about a timeout: the client waits as long as the hang guard does.
        cmd.push_str(&format!(" --timeout {}", crate::support::NO_TIMEOUT));
        for a in args {
            cmd.push(' ');
            cmd.push_str(&quote(a));
        }
        let script = format!("{cmd}; echo EXIT=$?; sleep 100000");
        let t = Tmux { socket, home };
        let out = t.tmux(&[
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "-s",
            "t",
            "sh",
            "-c",
            &script,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(t)
    }

    /// `tmux -L SOCKET ARGS`, with no configuration file and the socket in the temporary
    /// directory.
    fn tmux(&self, args: &[&str]) -> Output {
        let h = self.home.path();
        Command::new("tmux")
            .arg("-f")
            .arg("/dev/null")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .env("TMUX_TMPDIR", h)
            .env("HOME", h)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// Keys by tmux's names (`Enter`, `Escape`, `F2`, `PageUp`, `C-d`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(out.status.success(), "tmux send-keys {keys:?} failed");
    }

    /// `text` typed as it is.
    fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", "t", "-l", text]);
        assert!(out.status.success(), "tmux send-keys -l {text:?} failed");
    }

    /// `text` typed, then Enter.
    fn line(&self, text: &str) {
        self.type_text(text);
        self.keys(&["Enter"]);
    }

    /// What the terminal shows, one line per row.
    fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "t"]);
        assert!(out.status.success(), "tmux capture-pane failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Row `n` of the screen (0 at the top).
    fn row(&self, n: usize) -> String {
        self.screen().lines().nth(n).unwrap_or("").to_string()
    }

    /// Waits until the screen satisfies `ok`; returns that screen.
    #[track_caller]
    fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                start.elapsed() < RUN_LIMIT,
                "the screen never showed {what} (hung?):\n{s}"
            );
            std::thread::sleep(PACE);
        }
    }

    /// Waits until the screen contains `text`; returns that screen.
    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Waits until the screen contains `text` and the view waits for no reply (a line typed
    /// while it does is kept in the input, not sent); returns that screen.
    #[track_caller]
    fn wait_reply(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?}, the reply in"), |s| {
            s.contains(text) && !s.contains("waiting… Esc interrupts")
        })
    }

    /// Waits for the status bar (the row that begins with the protocol and the target, as
    /// nothing else does) and returns it.
    #[track_caller]
    fn status_bar(&self, protocol: &str, target: &str) -> String {
        let start = format!(" {protocol} {target} ");
        self.wait_until(&format!("the status bar ({start:?})"), |s| {
            s.lines().any(|l| l.starts_with(&start))
        })
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or("")
        .to_string()
    }

    /// Ctrl-D, then waits for the shell's `EXIT=` line; returns the screen.
    #[track_caller]
    fn leave(&self, status: i32) -> String {
        self.keys(&["C-d"]);
        let s = self.wait_for("EXIT=");
        assert!(s.contains(&format!("EXIT={status}")), "{s}");
        s
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// Starts `mailtalk ARGS`, or returns from the test when tmux is missing.
macro_rules! tmux_or_skip {
    ($args:expr) => {
        match Tmux::start($args) {
            Some(t) => t,
            None => return,
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// The status bar of `protocol` `target` on screen `s`, if it is there.
fn bar_in<'a>(s: &'a str, protocol: &str, target: &str) -> Option<&'a str> {
    let start = format!(" {protocol} {target} ");
    s.lines().find(|l| l.starts_with(&start))
}

#[test]
fn demo_session_in_the_full_screen_view() {
    let t = tmux_or_skip!(&["demo", "--tui"]);
    let s = t.wait_for("S: 220");
    let banner = s.lines().next().unwrap_or("");
    let target = banner
        .strip_prefix("demo server: SMTP 127.0.0.1:")
        .and_then(|l| l.split_whitespace().next())
        .map(|port| format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("no banner at the top:\n{s}"));
    t.status_bar("smtp", &target);
    t.line("EHLO me.test");
    t.wait_reply("250 HELP");
    t.line("STARTTLS");
    t.wait_until("TLSv1.3 verified in the status bar", |s| {
        bar_in(s, "smtp", &target).is_some_and(|b| b.contains("TLSv1.3 verified"))
    });
    t.wait_reply("TLSv1.3 verified");
    t.line(":send --from me@demo.test --to you@demo.test --subject Hello");
    t.wait_reply("queued as");
    t.wait_until("inbox 1 in the status bar", |s| {
        bar_in(s, "smtp", &target).is_some_and(|b| b.contains("inbox 1"))
    });

    // The inbox: the message sent, opened on its body, its parts, and back.
    t.keys(&["F9"]);
    t.wait_for("inbox: 1 message");
    t.wait_for("Hello");
    t.keys(&["Enter"]);
    t.wait_for("This is a test message sent with mailtalk.");
    t.keys(&["p"]);
    t.wait_for("text/plain");
    t.keys(&["Escape"]);
    t.wait_for("inbox: 1 message");
    t.keys(&["Escape"]);
    t.wait_until("back to the session", |s| !s.contains("inbox: 1 message"));

    t.keys(&["F2"]);
    t.wait_for("capabilities (F2)");
    // In the panel (right of its border), not the EHLO replies in the transcript.
    t.wait_until("PIPELINING in the panel", |s| {
        s.lines().any(|l| {
            l.split_once('│')
                .is_some_and(|(_, p)| p.contains("PIPELINING"))
        })
    });
    t.keys(&["F2"]);
    t.wait_until("the panel closed", |s| !s.contains("capabilities (F2)"));

    // Row 0 is the banner; row 1 the top of the transcript.
    let top = t.row(1);
    t.keys(&["PageUp"]);
    t.wait_until("the transcript scrolled up", |s| {
        s.lines().nth(1).is_some_and(|l| l != top)
    });
    t.keys(&["PageDown"]);
    t.wait_until("the transcript back at its end", |s| {
        s.lines().nth(1).is_some_and(|l| l == top)
    });

    t.keys(&["Escape"]);
    t.wait_for("↑↓ select");
    t.keys(&["/"]);
    t.wait_for("search: Enter finds");
    t.type_text("queued");
    t.keys(&["Enter"]);
    t.wait_for("\"queued\": 1 match");

    t.tmux(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    // Not redrawn, the banner would have scrolled off the top and the status bar kept the
    // first 80 columns of its 100 (without the inbox).
    let s = t.wait_until("the view redrawn at 80x24", |s| {
        let rows: Vec<&str> = s.lines().collect();
        rows.len() == 24
            && rows.first().is_some_and(|l| l.starts_with("demo server:"))
            && rows
                .get(22)
                .is_some_and(|l| bar_in(l, "smtp", &target).is_some() && l.contains("inbox 1"))
    });
    assert!(s.lines().all(|l| l.chars().count() <= 80), "{s}");

    let s = t.leave(0);
    assert!(
        !s.contains("demo server:"),
        "the alternate screen was not left:\n{s}"
    );
    assert!(
        !s.contains("S: 220"),
        "the alternate screen was not left:\n{s}"
    );
}

#[test]
fn a_refused_command_is_explained_from_the_transcript() {
    let s = Serve::start(&[]);
    let target = format!("127.0.0.1:{}", s.port("smtp"));
    let t = tmux_or_skip!(&["--tui", &s.url("smtp")]);
    t.status_bar("smtp", &target);
    t.wait_reply("S: 220");
    t.line("RCPT TO:<x@y>");
    t.wait_reply("S: 503");
    // Esc selects the last reply; Enter explains it.
    t.keys(&["Escape"]);
    t.wait_for("↑↓ select");
    t.keys(&["Enter"]);
    let s = t.wait_for("explanation (F4)");
    let panel: Vec<&str> = s
        .lines()
        .filter_map(|l| l.split_once('│').map(|(_, p)| p))
        .collect();
    let panel = panel.join("\n");
    assert!(panel.contains("503"), "{s}");
    assert!(panel.contains("Bad sequence of commands"), "{s}");
    t.leave(0);
}

#[test]
fn the_full_screen_view_from_the_repl() {
    let s = Serve::start(&[]);
    let target = format!("127.0.0.1:{}", s.port("smtp"));
    let t = tmux_or_skip!(&[&s.url("smtp")]);
    t.wait_for("S: 220");
    t.line("EHLO repl.test");
    t.wait_for("S: 250 HELP");
    t.line(":tui");
    let bar = t.status_bar("smtp", &target);
    assert!(bar.contains("plaintext"), "{bar}");
    // The session so far comes along: the greeting and what was typed at the REPL.
    let screen = t.wait_for("C: EHLO repl.test");
    assert!(screen.contains("S: 220"), "{screen}");
    t.line("NOOP");
    t.wait_reply("S: 250");
    t.leave(0);
}

#[test]
fn imap_idle_shows_new_mail_without_a_key() {
    let s = Serve::start(&[]);
    let target = format!("127.0.0.1:{}", s.port("imap"));
    let t = tmux_or_skip!(&["--tui", &s.url("imap")]);
    t.status_bar("imap", &target);
    t.wait_reply("S: * OK");
    t.line("LOGIN a@b.test pw");
    t.wait_reply("S: A001 OK");
    t.line("SELECT INBOX");
    t.wait_reply("S: A002 OK");
    t.line("IDLE");
    t.wait_until("the IDLE mode in the status bar", |s| {
        bar_in(s, "imap", &target).is_some_and(|b| b.contains("IDLE (DONE ends it)"))
    });
    let out = crate::serve::mailtalk(
        &[
            &s.url("smtp"),
            "--from",
            "x@y.test",
            "--to",
            "a@b.test",
            "--body",
            "new mail",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{}", out.stdout_str());
    // No key is pressed: the view shows what the server says on its own.
    t.wait_for("* 1 EXISTS");
    t.line("DONE");
    t.wait_until("the IDLE ended", |s| {
        bar_in(s, "imap", &target).is_some_and(|b| !b.contains("IDLE (DONE ends it)"))
            && s.contains("S: A003 OK")
    });
    t.leave(0);
}

/// The real Postfix and Dovecot (`tests/servers/start.sh`'s env file): the host and the
/// plaintext SMTP and IMAP ports, or `None` (after saying so) when the environment does not
/// describe them. With MAILTALK_REQUIRE=1 that fails the test instead.
fn real_servers() -> Option<(String, u16, u16)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let required = var("MAILTALK_REQUIRE").is_some_and(|v| v == "1");
    let port = |name: &str| -> Result<u16, String> {
        let v = var(name).ok_or_else(|| format!("{name} is not set"))?;
        v.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{name}={v:?} is not a port number"))
    };
    let host = var("MAILTALK_HOST").unwrap_or_else(|| "127.0.0.1".into());
    let found = if host == "127.0.0.1" {
        port("MAILTALK_SMTP_PORT").and_then(|smtp| Ok((smtp, port("MAILTALK_IMAP_PORT")?)))
    } else {
        Err(format!(
            "MAILTALK_HOST={host:?}: only 127.0.0.1 is used here"
        ))
    };
    match found {
        Ok((smtp, imap)) => Some((host, smtp, imap)),
        Err(e) if required => panic!("MAILTALK_REQUIRE=1 but the servers are not usable: {e}"),
        Err(e) => {
            println!("skipped: no Postfix/Dovecot ({e}; run tests/servers/start.sh)");
            None
        }
    }
}

#[test]
fn postfix_and_dovecot_in_the_full_screen_view() {
    let Some((host, smtp, imap)) = real_servers() else {
        return;
    };
    let target = format!("{host}:{smtp}");
    let t = tmux_or_skip!(&["--tui", &format!("smtp://{target}")]);
    t.status_bar("smtp", &target);
    t.wait_reply("ESMTP");
    t.line("EHLO me.test");
    t.wait_reply("S: 250 ");
    t.leave(0);
    drop(t);

    let target = format!("{host}:{imap}");
    let t = tmux_or_skip!(&["--tui", &format!("imap://{target}")]);
    t.status_bar("imap", &target);
    t.wait_reply("S: * OK");
    t.leave(0);
}
