//! Scripts (`--script FILE`, `--script -`, `:expect` lines on standard input), variables and
//! captures, includes, `--keep-going`, `--record` (and replaying the recording), `--transcript`
//! and `--json`, plus `--auth` / `:auth` for IMAP and POP3, against in-process servers.

use std::path::Path;

use crate::support::*;

const EXIT_EXPECTATION: i32 = 1;

/// Runs the binary with `--color never --ehlo client.test` and `args`.
fn run(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut all = vec!["--color", "never", "--ehlo", "client.test"];
    all.extend_from_slice(args);
    mailtalk_env(home.path(), &all, stdin, env)
}

/// IMAP commands without their tags.
fn untagged(cmds: &[String]) -> Vec<String> {
    cmds.iter()
        .map(|c| {
            c.split_once(' ')
                .map(|(_, r)| r.to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn smtp_server(certs: &TestCerts, cfg: SmtpConfig) -> Server {
    Server::start(Mode::Plain, &certs.good, move |c| smtp_full(c, &cfg))
}

fn refusing_server(certs: &TestCerts) -> Server {
    let mut cfg = SmtpConfig::new(&[]);
    cfg.refuse_rcpt = vec!["nobody@example.test".to_string()];
    smtp_server(certs, cfg)
}

/// stdout and stderr together.
fn all_output(out: &Output) -> String {
    format!("{}\n{}", out.stdout_str(), out.stderr_str())
}

/// Asserts that one line of the output contains every needle.
#[track_caller]
fn assert_line_with(out: &Output, needles: &[&str]) {
    let text = all_output(out);
    assert!(
        text.lines().any(|l| needles.iter().all(|n| l.contains(n))),
        "no output line contains all of {needles:?}\n{out:?}"
    );
}

// ---------------------------------------------------------------------------
// Scripts with expectations.

const SMTP_SCRIPT: &str = "\
# a comment, then a blank line

:expect 220
EHLO client.test
:expect 250
:expect 2xx
:expect 25x /PIPELINING/
:expect /greets you/
:expect ok
MAIL FROM:<${SENDER}>
:expect 250 2.1.0
RCPT TO:<nobody@example.test>
:expect 550 5.1.1
:expect 5.1.1
:expect 5.x.x
:expect 5xx
:expect fail
RCPT TO:<b@example.test>
:expect 2.1.5
DATA
Subject: script
# not a comment inside the message

body
.
:expect 250 /queued as/
:capture QID /queued as (\\w+)/
# a comment in command mode again
NOOP ${QID}
:expect 250
:sleep 0.2
";

#[test]
fn script_file_where_every_expectation_holds() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "session.mt", SMTP_SCRIPT);
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(
        &[&url, "--script", &script],
        b"",
        &[("SENDER", "a@example.test")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands(),
        vec![
            "EHLO client.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<nobody@example.test>",
            "RCPT TO:<b@example.test>",
            "DATA",
            "NOOP TEST1",
            "QUIT",
        ],
        "{out:?}"
    );
    let message = log.record_strs("message");
    assert_eq!(
        message,
        vec!["Subject: script\r\n# not a comment inside the message\r\n\r\nbody\r\n"]
    );
    // Only a lower bound, which a client that sleeps cannot miss however busy the machine is.
    // Nothing else tells a sleep from none: the client reads nothing while it sleeps, so the
    // server cannot observe the pause except by the clock.
    assert!(
        out.elapsed >= std::time::Duration::from_millis(200),
        ":sleep 0.2 did not wait\n{out:?}"
    );
    assert!(!all_output(&out).contains("expectation failed"), "{out:?}");
}

#[test]
fn indented_comment_is_a_comment() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "indent.mt",
        "EHLO client.test\n   # indented comment\n\t# tab-indented comment\nNOOP\n:expect 250\n",
    );
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", &script], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands(),
        vec!["EHLO client.test", "NOOP", "QUIT"],
        "a line whose first non-blank character is # is a comment\n{out:?}"
    );
}

#[test]
fn failed_expectation_exits_1_with_location_expected_and_actual() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "fail.mt",
        "EHLO client.test\n:expect 250\nNOOP\n:expect 354\nRSET\n",
    );
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", &script], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    assert_line_with(&out, &["fail.mt:4", "354", "250"]);
    // The script stops at the first failure.
    let cmds = log.commands();
    assert!(!cmds.iter().any(|c| c == "RSET"), "{cmds:?}");
}

#[test]
fn failed_regex_expectation_names_the_regex() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "re.mt",
        "EHLO client.test\n:expect 250 /NO-SUCH-KEYWORD/\n",
    );
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", &script], b"", &[]);
    s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    assert_line_with(&out, &["re.mt:2", "NO-SUCH-KEYWORD"]);
}

#[test]
fn keep_going_reports_every_failure_and_exits_1() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "many.mt",
        "EHLO client.test\n:expect 5xx\nNOOP\n:expect 354\n:expect 250\nRSET\n:expect 4.x.x\nVRFY x\n",
    );
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--keep-going", "--script", &script], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    for loc in ["many.mt:2", "many.mt:4", "many.mt:7"] {
        assert_line_with(&out, &[loc]);
    }
    assert!(
        !all_output(&out).contains("many.mt:5"),
        "a passing expectation reported as failed\n{out:?}"
    );
    assert_line_with(&out, &["3 expectations failed"]);
    let cmds = log.commands();
    assert_eq!(
        cmds,
        vec!["EHLO client.test", "NOOP", "RSET", "VRFY x", "QUIT"],
        "--keep-going must run the whole script\n{out:?}"
    );
}

#[test]
fn expectations_on_standard_input_without_script() {
    let certs = TestCerts::new();
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(
        &[&url],
        &input(&[
            ":expect 220",
            "EHLO client.test",
            ":expect 250 /PIPELINING/",
            "NOOP",
            ":expect 2.0.0",
        ]),
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.commands(), vec!["EHLO client.test", "NOOP", "QUIT"]);

    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(
        &[&url],
        &input(&[
            "EHLO client.test",
            ":expect 250",
            "NOOP",
            ":expect 5xx",
            "RSET",
        ]),
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    assert_line_with(&out, &["5xx", "250"]);
    assert!(!log.commands().iter().any(|c| c == "RSET"), "{log:?}");
}

#[test]
fn script_from_standard_input_with_dash() {
    let certs = TestCerts::new();
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(
        &[&url, "--script", "-"],
        b"EHLO client.test\n:expect 250\nNOOP\n:expect 250\n",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.commands(), vec!["EHLO client.test", "NOOP", "QUIT"]);

    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(
        &[&url, "--script", "-"],
        b"EHLO client.test\n:expect 421\nNOOP\n",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    assert_line_with(&out, &["-:2", "421", "250"]);
    assert!(!log.commands().iter().any(|c| c == "NOOP"), "{log:?}");
}

#[test]
fn include_is_relative_to_the_including_script() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "sub/main.mt",
        "EHLO client.test\n:include parts/more.mt\nNOOP\n:expect 250\n",
    );
    write(
        dir.path(),
        "sub/parts/more.mt",
        "# included\n:expect 250\nRSET\n:expect 2.0.0\n",
    );
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", &main], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands(),
        vec!["EHLO client.test", "RSET", "NOOP", "QUIT"]
    );
}

#[test]
fn failure_in_an_included_file_names_that_file() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.mt",
        "EHLO client.test\n:include inc.mt\nNOOP\n",
    );
    write(dir.path(), "inc.mt", "RSET\n:expect 554\n");
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", &main], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    assert_line_with(&out, &["inc.mt:2", "554"]);
    assert!(!log.commands().iter().any(|c| c == "NOOP"), "{log:?}");
}

#[test]
fn missing_include_is_a_usage_error_before_connecting() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.mt",
        "EHLO client.test\n:include nope.mt\n",
    );
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", &main], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_USAGE);
    assert!(log.plain.is_empty(), "{log:?}");
    assert!(all_output(&out).contains("nope.mt"), "{out:?}");
}

#[test]
fn undefined_variable_is_not_sent() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "var.mt",
        "EHLO client.test\nMAIL FROM:<${MAILTALK_TEST_UNDEFINED_VAR}>\n",
    );
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", &script], b"", &[]);
    let log = s.join_for(&out);
    assert_ne!(out.code, Some(EXIT_OK), "{out:?}");
    assert!(
        !log.commands().iter().any(|c| c.starts_with("MAIL")),
        "{log:?}"
    );
    assert!(
        all_output(&out).contains("MAILTALK_TEST_UNDEFINED_VAR"),
        "{out:?}"
    );
}

#[test]
fn imap_script_with_statuses_capture_and_auth() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "imap.mt",
        "\
:expect OK
CAPABILITY
:expect OK /CAPABILITY/
SELECT nosuch
:expect NO
:expect fail
FROBNICATE
:expect BAD
:auth PLAIN u
:expect OK
SELECT INBOX
:expect OK /READ-WRITE/
:capture MODE /\\[(READ-\\w+)\\]/
NOOP ${MODE}
:expect ok
",
    );
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, "u", "pw"));
    let url = s.url("imap");
    let out = run(
        &[&url, "--script", &script],
        b"",
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = untagged(&log.commands());
    assert_eq!(
        cmds,
        vec![
            "CAPABILITY",
            "SELECT nosuch",
            "FROBNICATE",
            "AUTHENTICATE PLAIN",
            "SELECT INBOX",
            "NOOP READ-WRITE",
            "LOGOUT"
        ],
        "{out:?}"
    );
    assert_eq!(
        log.record_strs("auth"),
        vec![format!("{}\r\n", b64(b"\0u\0pw"))]
    );
    assert!(log.has_note("auth ok"), "{log:?}");
}

#[test]
fn imap_script_expecting_ok_on_no_fails() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "imap.mt", "SELECT nosuch\n:expect OK\nNOOP\n");
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, "u", "pw"));
    let url = s.url("imap");
    let out = run(&[&url, "--script", &script], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    assert_line_with(&out, &["imap.mt:2", "OK", "NO"]);
    assert!(
        !untagged(&log.commands()).iter().any(|c| c == "NOOP"),
        "{log:?}"
    );
}

#[test]
fn imap_login_from_the_command_line() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, "u", "pw"));
    let url = s.url("imap");
    let out = run(
        &[&url, "--auth", "IMAP-LOGIN", "--user", "u"],
        &input(&["NOOP", ":expect OK"]),
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = untagged(&log.commands());
    assert_eq!(
        cmds.first().map(String::as_str),
        Some("LOGIN \"u\" \"pw\""),
        "{cmds:?}"
    );
    assert!(log.has_note("auth ok"), "{log:?}");
    assert_eq!(cmds.last().map(String::as_str), Some("LOGOUT"));
}

#[test]
fn imap_login_refused_exits_9() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, "u", "pw"));
    let url = s.url("imap");
    let out = run(
        &[&url, "--auth", "IMAP-LOGIN", "--user", "u"],
        &input(&["SELECT INBOX"]),
        &[("MAILTALK_PASSWORD", "wrong")],
    );
    let log = s.join_for(&out);
    out.assert_code(9);
    assert!(log.has_note("auth failed"), "{log:?}");
    assert!(
        !untagged(&log.commands())
            .iter()
            .any(|c| c.starts_with("SELECT")),
        "{log:?}"
    );
}

#[test]
fn pop3_user_pass_from_the_command_line() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| pop3_auth(c, "u", "pw"));
    let url = s.url("pop3");
    let out = run(
        &[&url, "--auth", "USER", "--user", "u"],
        &input(&["STAT", ":expect +OK", "BOGUS", ":expect -ERR"]),
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = log.commands();
    let user = cmds.iter().position(|c| c == "USER u").expect("USER u");
    assert_eq!(cmds.get(user + 1).map(String::as_str), Some("PASS pw"));
    assert!(log.has_note("auth ok"), "{log:?}");
    assert_eq!(cmds.last().map(String::as_str), Some("QUIT"));
}

#[test]
fn pop3_apop_digest_checks_out() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| pop3_auth(c, "u", "tanstaaf"));
    let url = s.url("pop3");
    let out = run(
        &[&url, "--auth", "APOP", "--user", "u"],
        &input(&["STAT", ":expect +OK"]),
        &[("MAILTALK_PASSWORD", "tanstaaf")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let digest = md5_hex(format!("{POP3_TIMESTAMP}tanstaaf").as_bytes());
    assert!(
        log.commands().contains(&format!("APOP u {digest}")),
        "{log:?}"
    );
    assert!(log.has_note("auth ok"), "{log:?}");
    out.assert_nowhere(&digest);
}

#[test]
fn pop3_script_expectations() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "pop.mt",
        ":expect +OK\nUSER u\n:expect +OK\nPASS ${MAILTALK_PASSWORD}\n:expect +OK\nSTAT\n:expect +OK /2 320/\nXYZZY\n:expect -ERR\n:expect fail\n",
    );
    let s = Server::start(Mode::Plain, &certs.good, |c| pop3_auth(c, "u", "pw"));
    let url = s.url("pop3");
    let out = run(
        &[&url, "--script", &script],
        b"",
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.has_note("auth ok"), "{log:?}");
    out.assert_nowhere("PASS pw");
}

// ---------------------------------------------------------------------------
// --record, and replaying the recording.

/// The lines of a recording that are not comments.
fn recorded(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn smtp_record_then_replay_round_trip() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.mt");
    let rec_s = rec.to_str().unwrap();
    let session = [
        "EHLO client.test",
        "MAIL FROM:<a@example.test>",
        "RCPT TO:<nobody@example.test>",
        "RCPT TO:<b@example.test>",
        "DATA",
        "Subject: recorded",
        "",
        ".dotted",
        "body with ${braces}",
        ".",
        "NOOP",
    ];
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--record", rec_s], &input(&session), &[]);
    let first = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let lines = recorded(&rec);
    let text = std::fs::read_to_string(&rec).unwrap();
    // Every command line the user typed is followed by the :expect of its reply, DATA too:
    // meta lines stay meta lines in message text (a text line starting with ':' is written
    // '::').
    let want_after = [
        ("EHLO client.test", ":expect 250"),
        ("MAIL FROM:<a@example.test>", ":expect 250"),
        ("RCPT TO:<nobody@example.test>", ":expect 550"),
        ("RCPT TO:<b@example.test>", ":expect 250"),
        ("DATA", ":expect 354"),
        (":expect 354", "Subject: recorded"),
        (".", ":expect 250"),
        ("NOOP", ":expect 250"),
    ];
    for (line, expect) in want_after {
        let i = lines
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{line:?} not recorded\n{text}"));
        assert_eq!(
            lines.get(i + 1).map(String::as_str),
            Some(expect),
            "after {line:?}\n{text}"
        );
    }
    assert_eq!(
        lines.first().map(String::as_str),
        Some(":expect 220"),
        "{text}"
    );
    let expects = lines.iter().filter(|l| l.starts_with(":expect ")).count();
    assert!(expects >= 7, "{text}");

    // Replay against an identical server.
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", rec_s], b"", &[]);
    let second = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(second.commands(), first.commands(), "{out:?}\n{text}");
    assert_eq!(
        second.record_strs("message"),
        first.record_strs("message"),
        "{text}"
    );
    assert_eq!(
        first.record_strs("message"),
        vec!["Subject: recorded\r\n\r\n..dotted\r\nbody with ${braces}\r\n"]
    );
}

#[test]
fn replay_of_a_recording_fails_against_a_different_server() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.mt");
    let rec_s = rec.to_str().unwrap();
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(
        &[&url, "--record", rec_s],
        &input(&[
            "EHLO client.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
        ]),
        &[],
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    // This server refuses the recipient the recording saw accepted.
    let mut cfg = SmtpConfig::new(&[]);
    cfg.refuse_rcpt = vec!["b@example.test".to_string()];
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(&[&url, "--script", rec_s], b"", &[]);
    s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    assert_line_with(&out, &["rec.mt:", "250", "550"]);
}

#[test]
fn imap_record_then_replay_round_trip() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("imap.mt");
    let rec_s = rec.to_str().unwrap();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, "u", "pw"));
    let url = s.url("imap");
    let out = run(
        &[&url, "--record", rec_s],
        &input(&["CAPABILITY", "SELECT nosuch", "FROBNICATE", "SELECT INBOX"]),
        &[],
    );
    let first = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let lines = recorded(&rec);
    let text = std::fs::read_to_string(&rec).unwrap();
    for (line, expect) in [
        ("CAPABILITY", ":expect OK"),
        ("SELECT nosuch", ":expect NO"),
        ("FROBNICATE", ":expect BAD"),
        ("SELECT INBOX", ":expect OK"),
    ] {
        let i = lines
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{line:?} not recorded\n{text}"));
        assert_eq!(
            lines.get(i + 1).map(String::as_str),
            Some(expect),
            "after {line:?}\n{text}"
        );
    }
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, "u", "pw"));
    let url = s.url("imap");
    let out = run(&[&url, "--script", rec_s], b"", &[]);
    let second = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        untagged(&second.commands()),
        untagged(&first.commands()),
        "{out:?}\n{text}"
    );
}

// ---------------------------------------------------------------------------
// --transcript and --json.

#[test]
fn transcript_has_timestamps_and_the_lines() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.log");
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(
        &[&url, "--transcript", path.to_str().unwrap()],
        &input(&["EHLO client.test", "RCPT TO:<x@example.test>", "NOOP"]),
        &[],
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    let text = std::fs::read_to_string(&path).unwrap();
    let stamp = regex::Regex::new(r"^\[\s*\d+\.\d{3}\] ").unwrap();
    let mut body = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        assert!(stamp.is_match(line), "no timestamp: {line:?}\n{text}");
        body.push(stamp.replace(line, "").into_owned());
    }
    for want in [
        "S: 220 localhost ESMTP mailtalk-test",
        "C: EHLO client.test",
        "S: 250-PIPELINING",
        "S: 250 ENHANCEDSTATUSCODES",
        "C: RCPT TO:<x@example.test>",
        "S: 503 5.5.1 Error: need MAIL command",
        "C: NOOP",
        "S: 250 2.0.0 Ok",
        "C: QUIT",
        "S: 221 2.0.0 Bye",
    ] {
        assert!(body.iter().any(|l| l == want), "{want:?} missing\n{text}");
    }
    assert_no_raw_controls("transcript", text.as_bytes(), &out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "transcript mode {mode:o}");
    }
}

/// Parses every stdout line as a JSON object.
fn json_events(out: &Output) -> Vec<serde_json::Value> {
    out.lines()
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}\n{out:?}"));
            assert!(v.is_object(), "not an object: {l}");
            v
        })
        .collect()
}

fn events_named<'a>(events: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

#[test]
fn json_lines_events_with_raw_bytes() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"220 localhost \x1b[31mred\xff ESMTP\r\n");
        smtp_loop(c, false, false);
    });
    let url = s.url("smtp");
    let out = run(
        &[&url, "--json"],
        &input(&["EHLO client.test", "RCPT TO:<x@example.test>"]),
        &[],
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_no_raw_controls("--json stdout", &out.stdout, &out);
    let events = json_events(&out);
    for e in &events {
        assert!(e["event"].is_string(), "{e}");
    }
    let infos = events_named(&events, "info");
    assert!(
        infos
            .iter()
            .any(|e| e["message"].as_str().unwrap_or("").starts_with("connected")),
        "no connected info event\n{out:?}"
    );
    let sent: Vec<&str> = events_named(&events, "sent")
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        sent,
        vec!["EHLO client.test", "RCPT TO:<x@example.test>", "QUIT"]
    );
    let received = events_named(&events, "received");
    let greeting = received.first().expect("received events");
    let raw = unb64(greeting["raw_base64"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(
        show_bytes(&raw),
        show_bytes(b"220 localhost \x1b[31mred\xff ESMTP")
    );
    let replies = events_named(&events, "reply");
    let codes: Vec<i64> = replies
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![220, 250, 503, 221], "{out:?}");
    assert_eq!(replies[2]["enhanced"], "5.5.1", "{}", replies[2]);
}

#[test]
fn json_tls_event() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, |c| {
        smtp_like(c, false, false)
    });
    let url = s.url("smtps");
    let out = run(
        &["--ca-file", certs.ca(), &url, "--json"],
        &input(&["NOOP"]),
        &[],
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    let events = json_events(&out);
    let tls = events_named(&events, "tls");
    assert_eq!(tls.len(), 1, "{out:?}");
    assert_eq!(tls[0]["verified"], true, "{}", tls[0]);
    assert!(
        tls[0]["version"].as_str().unwrap().starts_with("TLS"),
        "{}",
        tls[0]
    );
    let sent = events_named(&events, "sent");
    assert!(
        sent.iter().all(|e| e["security"] == "tls-verified"),
        "{out:?}"
    );
}

#[test]
fn json_expect_events() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "j.mt",
        "EHLO client.test\n:expect 250\nNOOP\n:expect 5xx\n",
    );
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--json", "--script", &script], b"", &[]);
    s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    let events = json_events(&out);
    let expects = events_named(&events, "expect");
    assert_eq!(expects.len(), 2, "expected two expect events\n{out:?}");
    assert_eq!(expects[0]["ok"], true, "{}", expects[0]);
    assert_eq!(expects[0]["line"], 2, "{}", expects[0]);
    assert_eq!(expects[1]["ok"], false, "{}", expects[1]);
    assert_eq!(expects[1]["line"], 4, "{}", expects[1]);
    assert!(
        expects[1]["file"].as_str().unwrap_or("").ends_with("j.mt"),
        "{}",
        expects[1]
    );
    assert!(
        expects[1]["actual"].as_str().unwrap_or("").contains("250"),
        "{}",
        expects[1]
    );
}

#[test]
fn json_error_event_when_the_server_closes() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"NOOP\r\n");
        c.close();
    });
    let url = s.url("smtp");
    let out = run(&[&url, "--json"], &input(&["NOOP", "NOOP"]), &[]);
    s.join_for(&out);
    assert_eq!(out.code, Some(EXIT_CLOSED), "{out:?}");
    let events = json_events(&out);
    let errors = events_named(&events, "error");
    assert_eq!(errors.len(), 1, "{out:?}");
    assert!(errors[0]["message"].is_string());
}

#[test]
fn json_every_event_has_time_protocol_and_security() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "j.mt", "EHLO client.test\n:expect 250\n");
    let s = refusing_server(&certs);
    let url = s.url("smtp");
    let out = run(&[&url, "--json", "--script", &script], b"", &[]);
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    for e in json_events(&out) {
        assert!(e["t"].is_number(), "no \"t\" in {e}\n{out:?}");
        assert_eq!(e["protocol"], "smtp", "{e}\n{out:?}");
        assert_eq!(e["security"], "plain", "{e}\n{out:?}");
    }
}
