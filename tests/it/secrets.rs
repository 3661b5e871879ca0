//! Passwords never leave the wire: after sessions that authenticate (SMTP AUTH PLAIN and LOGIN
//! from the command line and typed by hand, IMAP LOGIN and AUTHENTICATE, POP3 PASS and APOP),
//! neither stdout, stderr, the `--transcript` file, the `--record` file nor `--json` holds the
//! password or its base64 forms; the recording has `${MAILTALK_PASSWORD}` instead. The history
//! file of the interactive REPL (driven through a pseudo-terminal) is mode
//! 0600 and holds no password either.

use std::path::{Path, PathBuf};

use crate::support::*;

const USER: &str = "alice";
const PASSWORD: &str = "Pw-s3cr3t-Xq7";

/// Every form of the password that must not appear anywhere.
fn secret_forms() -> Vec<String> {
    vec![
        PASSWORD.to_string(),
        b64(PASSWORD.as_bytes()),
        b64(format!("\0{USER}\0{PASSWORD}").as_bytes()),
        b64(format!("{USER}\0{USER}\0{PASSWORD}").as_bytes()),
        // The middle of the password, in case it is cut or quoted.
        "s3cr3t".to_string(),
    ]
}

/// Files a session wrote.
struct Files {
    _dir: tempfile::TempDir,
    transcript: PathBuf,
    record: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        Files {
            transcript: dir.path().join("transcript.log"),
            record: dir.path().join("record.mt"),
            _dir: dir,
        }
    }

    fn transcript_text(&self) -> String {
        std::fs::read_to_string(&self.transcript).unwrap_or_default()
    }

    fn record_text(&self) -> String {
        std::fs::read_to_string(&self.record).unwrap_or_default()
    }
}

/// Runs one session twice against servers from `start`: once with `--transcript` and
/// `--record`, once with `--json`. Returns (text run, its files, json run, server logs).
fn run_both(
    start: &dyn Fn() -> Server,
    args: &[&str],
    stdin: &[u8],
) -> (Output, Files, Output, Vec<Log>) {
    let files = Files::new();
    let home = tempfile::tempdir().unwrap();
    let env = [("MAILTALK_PASSWORD", PASSWORD)];
    let s = start();
    let url = s.url(scheme_of(args));
    let mut all = vec![
        "--color",
        "never",
        "--ehlo",
        "client.test",
        "--transcript",
        files.transcript.to_str().unwrap(),
        "--record",
        files.record.to_str().unwrap(),
        &url,
    ];
    all.extend(args.iter().skip(1).copied());
    let text = mailtalk_env(home.path(), &all, stdin, &env);
    let log1 = s.join_for(&text);

    let s = start();
    let url = s.url(scheme_of(args));
    let mut all = vec!["--ehlo", "client.test", "--json", &url];
    all.extend(args.iter().skip(1).copied());
    let json = mailtalk_env(home.path(), &all, stdin, &env);
    let log2 = s.join_for(&json);
    (text, files, json, vec![log1, log2])
}

/// `args[0]` names the scheme of the server URL that replaces it.
fn scheme_of<'a>(args: &[&'a str]) -> &'a str {
    args[0]
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str, context: &dyn std::fmt::Debug) {
    for s in secret_forms() {
        assert!(
            !text.contains(&s),
            "{what} contains the secret form {s:?}\n--- {what} ---\n{text}\n{context:?}"
        );
    }
}

/// Checks stdout, stderr, the transcript, the recording and the JSON output.
#[track_caller]
fn assert_nothing_leaked(text: &Output, files: &Files, json: &Output) {
    assert_no_secret("stdout", &text.stdout_str(), text);
    assert_no_secret("stderr", &text.stderr_str(), text);
    let transcript = files.transcript_text();
    assert!(!transcript.is_empty(), "no transcript written\n{text:?}");
    assert_no_secret("transcript", &transcript, text);
    assert_no_secret("record file", &files.record_text(), text);
    assert_no_secret("--json stdout", &json.stdout_str(), json);
    assert_no_secret("--json stderr", &json.stderr_str(), json);
    // The JSON output is valid, and the sent lines that carried a secret say so.
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{json:?}"));
        if v["event"] == "sent" && v["secret"] == true {
            assert!(
                v["text"].as_str().unwrap_or("").contains("<redacted>"),
                "{v}"
            );
        }
    }
}

#[track_caller]
fn assert_all_authenticated(logs: &[Log]) {
    for log in logs {
        assert!(
            log.has_note("auth ok"),
            "the server did not see the right credentials\n{log:?}"
        );
    }
}

fn smtp_start(mechs: &'static str) -> impl Fn() -> Server {
    move || {
        let certs = TestCerts::new();
        let cfg = SmtpConfig::new(&[mechs]).credentials(USER, PASSWORD);
        Server::start(Mode::Plain, &certs.good, move |c| smtp_full(c, &cfg))
    }
}

fn imap_start() -> Server {
    let certs = TestCerts::new();
    Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, USER, PASSWORD))
}

fn pop3_start() -> Server {
    let certs = TestCerts::new();
    Server::start(Mode::Plain, &certs.good, |c| pop3_auth(c, USER, PASSWORD))
}

// ---------------------------------------------------------------------------
// SMTP.

#[test]
fn smtp_auth_plain_from_the_command_line() {
    let (text, files, json, logs) = run_both(
        &smtp_start("AUTH PLAIN LOGIN"),
        &[
            "smtp", "--auth", "PLAIN", "--user", USER, "--from", "a@x.test", "--to", "b@x.test",
            "--data", "x",
        ],
        b"",
    );
    text.assert_code(EXIT_OK);
    json.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    text.assert_contains("AUTH PLAIN <redacted>");
    assert_nothing_leaked(&text, &files, &json);
}

#[test]
fn smtp_auth_login_from_the_command_line() {
    let (text, files, json, logs) = run_both(
        &smtp_start("AUTH LOGIN"),
        &["smtp", "--auth", "LOGIN", "--user", USER],
        &input(&["NOOP"]),
    );
    text.assert_code(EXIT_OK);
    json.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);
}

#[test]
fn smtp_auth_plain_initial_response_typed_by_hand() {
    let ir = b64(format!("\0{USER}\0{PASSWORD}").as_bytes());
    let typed = format!("AUTH PLAIN {ir}");
    let (text, files, json, logs) = run_both(
        &smtp_start("AUTH PLAIN"),
        &["smtp"],
        &input(&["EHLO client.test", &typed, "NOOP"]),
    );
    text.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);
    let rec = files.record_text();
    assert!(
        rec.contains("${MAILTALK_PASSWORD}"),
        "the recording lacks ${{MAILTALK_PASSWORD}}\n{rec}"
    );
}

#[test]
fn smtp_sasl_responses_typed_after_334() {
    let user64 = b64(USER.as_bytes());
    let pass64 = b64(PASSWORD.as_bytes());
    let (text, files, json, logs) = run_both(
        &smtp_start("AUTH LOGIN PLAIN"),
        &["smtp"],
        &input(&["EHLO client.test", "AUTH LOGIN", &user64, &pass64, "NOOP"]),
    );
    text.assert_code(EXIT_OK);
    json.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);
    let rec = files.record_text();
    assert!(
        rec.contains("${MAILTALK_PASSWORD}"),
        "the recording lacks ${{MAILTALK_PASSWORD}}\n{rec}"
    );

    // PLAIN without an initial response: the response follows the empty 334.
    let plain64 = b64(format!("\0{USER}\0{PASSWORD}").as_bytes());
    let (text, files, json, logs) = run_both(
        &smtp_start("AUTH PLAIN"),
        &["smtp"],
        &input(&["EHLO client.test", "AUTH PLAIN", &plain64, "NOOP"]),
    );
    text.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);
}

// ---------------------------------------------------------------------------
// IMAP.

#[test]
fn imap_login_typed_as_a_line() {
    let typed = format!("LOGIN {USER} {PASSWORD}");
    let (text, files, json, logs) = run_both(&imap_start, &["imap"], &input(&[&typed, "NOOP"]));
    text.assert_code(EXIT_OK);
    json.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);
    let rec = files.record_text();
    assert!(
        rec.contains("${MAILTALK_PASSWORD}"),
        "the recording lacks ${{MAILTALK_PASSWORD}}\n{rec}"
    );
}

#[test]
fn imap_login_with_a_tag_and_quoted_password_typed_as_a_line() {
    let typed = format!("t1 LOGIN \"{USER}\" \"{PASSWORD}\"");
    let (text, files, json, logs) = run_both(&imap_start, &["imap"], &input(&[&typed]));
    text.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);
}

#[test]
fn imap_login_and_authenticate_from_options_and_meta_command() {
    let (text, files, json, logs) = run_both(
        &imap_start,
        &["imap", "--auth", "IMAP-LOGIN", "--user", USER],
        &input(&["NOOP"]),
    );
    text.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);

    let line = format!(":auth PLAIN {USER}");
    let (text, files, json, logs) = run_both(&imap_start, &["imap"], &input(&[&line, "NOOP"]));
    text.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);
}

// ---------------------------------------------------------------------------
// POP3.

#[test]
fn pop3_pass_typed_as_a_line() {
    let user = format!("USER {USER}");
    let pass = format!("PASS {PASSWORD}");
    let (text, files, json, logs) =
        run_both(&pop3_start, &["pop3"], &input(&[&user, &pass, "STAT"]));
    text.assert_code(EXIT_OK);
    json.assert_code(EXIT_OK);
    assert_all_authenticated(&logs);
    assert_nothing_leaked(&text, &files, &json);
    let rec = files.record_text();
    assert!(
        rec.contains("${MAILTALK_PASSWORD}"),
        "the recording lacks ${{MAILTALK_PASSWORD}}\n{rec}"
    );
}

#[test]
fn pop3_user_and_apop_from_options() {
    for method in ["USER", "APOP"] {
        let (text, files, json, logs) = run_both(
            &pop3_start,
            &["pop3", "--auth", method, "--user", USER],
            &input(&["STAT"]),
        );
        text.assert_code(EXIT_OK);
        assert_all_authenticated(&logs);
        assert_nothing_leaked(&text, &files, &json);
    }
}

// ---------------------------------------------------------------------------
// Replaying a recording that holds ${MAILTALK_PASSWORD}.

#[test]
fn recorded_pop3_pass_replays_with_the_password_from_the_environment() {
    let files = Files::new();
    let home = tempfile::tempdir().unwrap();
    let s = pop3_start();
    let url = s.url("pop3");
    let user = format!("USER {USER}");
    let pass = format!("PASS {PASSWORD}");
    let out = mailtalk_env(
        home.path(),
        &[
            "--color",
            "never",
            "--record",
            files.record.to_str().unwrap(),
            &url,
        ],
        &input(&[&user, &pass, "STAT"]),
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.has_note("auth ok"), "{log:?}");
    let rec = files.record_text();
    assert_no_secret("record file", &rec, &out);

    let s = pop3_start();
    let url = s.url("pop3");
    let out = mailtalk_env(
        home.path(),
        &[
            "--color",
            "never",
            &url,
            "--script",
            files.record.to_str().unwrap(),
        ],
        b"",
        &[("MAILTALK_PASSWORD", PASSWORD)],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.has_note("auth ok"), "{log:?}\n{rec}");
    assert_no_secret("stdout", &out.stdout_str(), &out);
}

// ---------------------------------------------------------------------------
// The history file of the interactive REPL, through a pseudo-terminal.

/// Runs the binary on a pseudo-terminal, typing each of `lines` when the line editor asks for
/// the next one. Returns the exit status and what the terminal showed.
fn run_on_pty(home: &Path, args: &[&str], lines: &[&str]) -> (Option<i32>, String) {
    let mut t = crate::terminal::Term::start(home, args, &[]);
    for l in lines {
        t.at_prompt(l);
    }
    t.finish()
}

#[test]
fn history_file_is_private_and_holds_no_password() {
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join(".local/share/mailtalk/history");

    // SMTP: an initial response typed on the AUTH line, then LOGIN responses after 334.
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH PLAIN LOGIN"]).credentials(USER, PASSWORD);
    let s = Server::start_multi(Mode::Plain, &certs.good, 2, move |c, _| smtp_full(c, &cfg));
    let url = s.url("smtp");
    let ir = format!(
        "AUTH PLAIN {}",
        b64(format!("\0{USER}\0{PASSWORD}").as_bytes())
    );
    let user64 = b64(USER.as_bytes());
    let pass64 = b64(PASSWORD.as_bytes());
    let (code, shown) = run_on_pty(
        home.path(),
        &["--color", "never", &url],
        &[
            "EHLO client.test",
            &ir,
            "RSET",
            "AUTH LOGIN",
            &user64,
            &pass64,
            "NOOP",
            ":quit",
        ],
    );
    let (code2, shown2) = run_on_pty(
        home.path(),
        &["--color", "never", &url],
        &["HELO second.test", ":quit"],
    );
    let logs = s.join_all();
    assert_eq!(code, Some(EXIT_OK), "{shown}");
    assert_eq!(code2, Some(EXIT_OK), "{shown2}");
    assert_eq!(logs.len(), 2, "{logs:?}\n{shown}");
    let auths = logs[0].notes.iter().filter(|n| *n == "auth ok").count();
    assert_eq!(auths, 2, "{:?}\n{shown}", logs[0]);

    // IMAP LOGIN and POP3 PASS typed as lines.
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, USER, PASSWORD));
    let url = s.url("imap");
    let login = format!("LOGIN {USER} {PASSWORD}");
    let (code3, shown3) = run_on_pty(
        home.path(),
        &["--color", "never", &url],
        &["CAPABILITY", &login, "NOOP", ":quit"],
    );
    let log = s.join();
    assert_eq!(code3, Some(EXIT_OK), "{shown3}");
    assert!(log.has_note("auth ok"), "{log:?}\n{shown3}");

    let s = Server::start(Mode::Plain, &certs.good, |c| pop3_auth(c, USER, PASSWORD));
    let url = s.url("pop3");
    let user = format!("USER {USER}");
    let pass = format!("PASS {PASSWORD}");
    let (code4, shown4) = run_on_pty(
        home.path(),
        &["--color", "never", &url],
        &[&user, &pass, "STAT", ":quit"],
    );
    let log = s.join();
    assert_eq!(code4, Some(EXIT_OK), "{shown4}");
    assert!(log.has_note("auth ok"), "{log:?}\n{shown4}");

    let text = std::fs::read_to_string(&history)
        .unwrap_or_else(|e| panic!("no history file at {}: {e}\n{shown}", history.display()));
    if std::env::var_os("MAILTALK_TEST_SHOW").is_some() {
        eprintln!("--- terminal ---\n{shown}\n--- history ---\n{text}");
    }
    // The history was written: ordinary lines are in it.
    for line in ["EHLO client.test", "HELO second.test", "CAPABILITY", "STAT"] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} is not in the history\n{text}"
        );
    }
    assert_no_secret("history file", &text, &shown);
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("AUTH PLAIN ") || l.starts_with("PASS ")),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&history).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "history file mode {mode:o}");
    }
}
