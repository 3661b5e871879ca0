//! The core flows a first real session goes through: the default sender, the bytes BDAT and
//! literals count, tags, scripts and recordings, STARTTLS answers, greetings, wrong ports,
//! certificate hints, `explain` as users paste it, and the documentation generated from the
//! tables. Each test checks what the server received, the exit status and what was said.

use std::net::TcpListener;

use crate::support::*;

fn smtp_server(certs: &TestCerts, cfg: SmtpConfig) -> Server {
    Server::start(Mode::Plain, &certs.good, move |c| smtp_full(c, &cfg))
}

/// Runs with `--color never` and the given environment (HOME in a fresh directory).
fn run_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut all = vec!["--color", "never"];
    all.extend_from_slice(args);
    mailtalk_env(home.path(), &all, stdin, env)
}

// ---------------------------------------------------------------------------------------------
// Sending: the sender is never silently empty.

#[test]
fn without_from_the_sender_is_user_at_host_and_said() {
    let certs = TestCerts::new();
    for via_meta in [false, true] {
        let s = smtp_server(&certs, SmtpConfig::new(&[]));
        let url = s.url("smtp");
        let out = if via_meta {
            run_env(
                &[&url],
                &input(&["EHLO me.test", ":send --to b@example.test --body hi"]),
                &[("USER", "tester")],
            )
        } else {
            run_env(
                &[&url, "--to", "b@example.test", "--body", "hi"],
                b"",
                &[("USER", "tester")],
            )
        };
        let log = s.join_for(&out);
        out.assert_code(EXIT_OK);
        let mail = log
            .commands()
            .into_iter()
            .find(|c| c.starts_with("MAIL FROM:"))
            .unwrap_or_else(|| panic!("no MAIL\n{out:?}"));
        let sender = mail
            .strip_prefix("MAIL FROM:<")
            .and_then(|r| r.split('>').next())
            .unwrap()
            .to_string();
        assert!(
            sender.starts_with("tester@") && sender.len() > "tester@".len(),
            "{mail}"
        );
        out.assert_contains(&format!(
            "** no --from given: the sender is {sender} (--from '' sends the null sender <>)"
        ));
        let msg = String::from_utf8_lossy(&log.records("message")[0]).into_owned();
        assert!(msg.contains(&format!("From: {sender}\r\n")), "{msg}");
    }
}

#[test]
fn the_null_sender_only_when_asked() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run_env(
        &[
            &url,
            "--from",
            "",
            "--to",
            "b@example.test",
            "--body",
            "bounce",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(
        log.commands().contains(&"MAIL FROM:<>".to_string()),
        "{log:?}"
    );
    assert!(!out.stdout_str().contains("no --from given"), "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// Message text, chunks and literals typed as lines (piped input).

#[test]
fn piped_message_text_is_shown_as_it_went_on_the_wire() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let out = run_env(
        &[&s.url("smtp")],
        &input(&[
            "EHLO me.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "DATA",
            "Subject: dots",
            "",
            ".one dot",
            "..two dots",
            ".",
        ]),
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    out.assert_line("C: ..one dot");
    out.assert_line("C: ...two dots");
    assert_eq!(
        log.records("message"),
        vec![b"Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n".to_vec()]
    );
}

#[test]
fn input_ending_inside_message_text_abandons_it_with_exit_10() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"DATA\r\n");
        c.send(b"354 go ahead\r\n");
        let rest = c.drain();
        c.record("rest", &rest);
    });
    let out = run_env(&[&s.url("smtp")], &input(&["DATA", "Subject: cut"]), &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_ABANDONED);
    out.assert_contains("abandoned");
    // No final dot: the server cannot deliver a message cut off like this.
    assert_eq!(log.record_strs("rest"), vec!["Subject: cut\r\n"]);
}

#[test]
fn bdat_typed_as_lines_counts_the_bytes_as_on_the_wire() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"EHLO me.test\r\n");
        c.send(b"250-localhost\r\n250 CHUNKING\r\n");
        c.expect_line(b"BDAT 14 LAST\r\n");
        let chunk = c.read_exact(14).unwrap();
        c.record("chunk", &chunk);
        c.send(b"250 2.0.0 queued\r\n");
        c.expect_line(b"NOOP\r\n");
        c.send(b"250 2.0.0 ok\r\n");
        smtp_loop(c, false, false);
    });
    let out = run_env(
        &[&s.url("smtp")],
        &input(&["EHLO me.test", "BDAT 14 LAST", "hello", "world", "NOOP"]),
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.record_strs("chunk"), vec!["hello\r\nworld\r\n"]);
}

#[test]
fn an_imap_literal_then_the_rest_of_its_command_line() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(&imap_greeting(false));
        c.expect_line(b"A001 APPEND INBOX (\\Seen) {7}\r\n");
        c.send(b"+ Ready\r\n");
        let lit = c.read_exact(7).unwrap();
        c.record("literal", &lit);
        // The rest of the command line: a second literal's announcement, then its content.
        c.expect_line(b" {2}\r\n");
        c.send(b"+ Ready\r\n");
        let lit = c.read_exact(2).unwrap();
        c.record("literal", &lit);
        c.expect_line(b"\r\n");
        c.send(b"A001 OK APPEND completed\r\n");
        c.expect_line(b"A002 NOOP\r\n");
        c.send(b"A002 OK NOOP completed\r\n");
        imap_loop(c, false);
    });
    let out = run_env(
        &[&s.url("imap")],
        &input(&["APPEND INBOX (\\Seen) {7}", "hello", " {2}", "", "", "NOOP"]),
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.record_strs("literal"), vec!["hello\r\n", "\r\n"]);
    out.assert_line("S: A002 OK NOOP completed");
}

#[test]
fn during_idle_only_done_is_sent() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(&imap_greeting(false));
        c.expect_line(b"A001 IDLE\r\n");
        c.send(b"+ idling\r\n");
        c.expect_line(b"DONE\r\n");
        c.send(b"A001 OK IDLE terminated\r\n");
        imap_loop(c, false);
    });
    let out = run_env(&[&s.url("imap")], &input(&["IDLE", "NOOP", "DONE"]), &[]);
    let log = s.join_for(&out);
    // The line is refused (a usage error in piped input), and the session still ends with
    // DONE and LOGOUT.
    out.assert_code(EXIT_USAGE);
    assert!(log.has_note("logout"), "{log:?}\n{out:?}");
    let w = out
        .index_starting("!! error: IDLE is active")
        .unwrap_or_else(|| panic!("no warning\n{out:?}"));
    assert!(out.lines()[w].contains("DONE"), "{out:?}");
    assert!(!out.has_line("C: NOOP"), "{out:?}");
    assert!(!log.plain_str().contains("NOOP"), "{}", log.plain_str());
}

// ---------------------------------------------------------------------------------------------
// IMAP tags.

#[test]
fn a_typed_tag_never_collides_with_an_automatic_one() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let out = run_env(
        &[&s.url("imap")],
        &input(&["NOOP", "A003 NOOP", "NOOP", "NOOP", "a2 CHECK", "NOOP"]),
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = log.commands();
    assert_unique_tags(&cmds);
    assert!(cmds[0].starts_with("A001 "), "{cmds:?}");
    assert!(cmds[1].starts_with("A003 "), "{cmds:?}");
}

#[test]
fn a_recording_with_typed_tags_replays_without_clashes() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("imap.mt");
    let rec_s = rec.to_str().unwrap();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let out = run_env(
        &[&s.url("imap"), "--record", rec_s],
        &input(&["NOOP", "A002 NOOP", "NOOP", "LOGOUT"]),
        &[],
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let out = run_env(&[&s.url("imap"), "--script", rec_s], b"", &[]);
    let log = s.join_for(&out);
    let text = std::fs::read_to_string(&rec).unwrap();
    out.assert_code(EXIT_OK);
    assert!(!text.is_empty());
    assert_unique_tags(&log.commands());
}

// ---------------------------------------------------------------------------------------------
// Scripts.

fn script_file(dir: &tempfile::TempDir, name: &str, lines: &[&str]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn expect_after_quit_and_logout_checks_their_reply() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let script = script_file(&dir, "smtp.mt", &[":expect 220", "QUIT", ":expect 221"]);
    let out = run_env(&[&s.url("smtp"), "--script", &script], b"", &[]);
    s.join_for(&out);
    out.assert_code(EXIT_OK);

    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let script = script_file(&dir, "smtp-bad.mt", &["QUIT", ":expect 250"]);
    let out = run_env(&[&s.url("smtp"), "--script", &script], b"", &[]);
    s.join_for(&out);
    out.assert_code(EXIT_EXPECTATION);
    out.assert_contains("221");

    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let script = script_file(&dir, "imap.mt", &["LOGOUT", ":expect OK"]);
    let out = run_env(&[&s.url("imap"), "--script", &script], b"", &[]);
    s.join_for(&out);
    out.assert_code(EXIT_OK);
}

#[test]
fn meta_lines_stay_meta_lines_in_message_text_and_double_colon_escapes() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let script = script_file(
        &dir,
        "data.mt",
        &[
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "DATA",
            ":expect 354",
            "Subject: colons",
            "",
            "::starts with a colon",
            "::: two colons",
            ".",
            ":expect 250",
        ],
    );
    let out = run_env(&[&s.url("smtp"), "--script", &script], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.record_strs("message"),
        vec!["Subject: colons\r\n\r\n:starts with a colon\r\n:: two colons\r\n"]
    );
}

#[test]
fn a_script_with_a_syntax_error_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("smtp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    for (name, lines, line_no) in [
        ("code.mt", vec!["EHLO a", "NOOP", ":expect 25"], 3),
        ("regex.mt", vec![":expect /unterminated(/"], 1),
        ("meta.mt", vec!["NOOP", ":bogus"], 2),
    ] {
        let script = script_file(&dir, name, &lines);
        let out = run_env(&[&url, "--script", &script], b"", &[]);
        out.assert_code(EXIT_USAGE);
        let err = out.stderr_str();
        assert!(
            err.contains(&format!("{script}:{line_no}: ")),
            "no FILE:LINE in {err:?}"
        );
        assert!(err.contains("nothing was sent"), "{err:?}");
        assert_eq!(err.trim().lines().count(), 1, "{err:?}");
        // Not even a connection was made.
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{name}: connected\n{out:?}"
        );
    }
}

#[test]
fn a_failed_expectation_still_ends_the_session_politely() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    for (scheme, script, polite) in [
        ("smtp", vec!["NOOP", ":expect 500", "RSET"], "QUIT"),
        ("imap", vec!["NOOP", ":expect NO", "NOOP"], "LOGOUT"),
        ("pop3", vec!["NOOP", ":expect -ERR", "STAT"], "QUIT"),
    ] {
        let s = match scheme {
            "smtp" => Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false)),
            "imap" => Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false)),
            _ => Server::start(Mode::Plain, &certs.good, |c| pop3_like(c, false)),
        };
        let file = script_file(&dir, &format!("{scheme}.mt"), &script);
        let out = run_env(&[&s.url(scheme), "--script", &file], b"", &[]);
        let log = s.join_for(&out);
        out.assert_code(EXIT_EXPECTATION);
        let cmds = log.commands();
        let last = cmds.last().cloned().unwrap_or_default();
        assert!(
            last.ends_with(polite),
            "{scheme}: the session did not end with {polite}: {cmds:?}\n{out:?}"
        );
        // Nothing after the failed expectation was sent.
        assert!(
            !cmds
                .iter()
                .any(|c| c.ends_with("RSET") || c.ends_with("STAT")),
            "{cmds:?}"
        );
        assert_eq!(
            cmds.iter().filter(|c| c.ends_with("NOOP")).count(),
            1,
            "{cmds:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Errors said once and well; :auth looks before asking.

#[test]
fn a_bad_send_option_is_one_readable_line() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let out = run_env(
        &[&s.url("smtp"), "--keep-going"],
        &input(&[":send --to b@example.test --bogus", "NOOP"]),
        &[],
    );
    s.join_for(&out);
    let errs: Vec<String> = out
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("!! "))
        .collect();
    assert_eq!(errs.len(), 1, "{out:?}");
    assert!(errs[0].contains("--bogus"), "{}", errs[0]);
    assert!(!errs[0].contains("\\n"), "{}", errs[0]);
    assert!(!out.stderr_str().contains("--bogus"), "said twice\n{out:?}");
}

#[test]
fn auth_with_nothing_offered_suggests_starttls_without_asking() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, true));
    let out = run_env(
        &[&s.url("smtp")],
        &input(&["EHLO me.test", ":auth", "NOOP"]),
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_USAGE);
    let line = out
        .lines()
        .into_iter()
        .find(|l| l.contains(":starttls"))
        .unwrap_or_else(|| panic!("no :starttls suggestion\n{out:?}"));
    assert!(line.contains("AUTH"), "{line}");
    assert!(!log.plain_str().contains("AUTH"), "{}", log.plain_str());
    // The script stops at the line that could not be done, and QUIT ends the session.
    assert_eq!(log.commands(), ["EHLO me.test", "QUIT"]);
}

// ---------------------------------------------------------------------------------------------
// STARTTLS: only the go-ahead starts a handshake.

#[test]
fn anything_but_the_go_ahead_to_starttls_fails_at_once() {
    let certs = TestCerts::new();
    let cases: Vec<(&str, &str, &[u8])> = vec![
        ("smtp", "221", b"221 2.0.0 bye\r\n"),
        ("smtp", "250", b"250 2.0.0 fine\r\n"),
        ("smtp", "454", b"454 4.7.0 not now\r\n"),
        ("smtp", "554", b"554 5.7.0 no\r\n"),
        ("smtp", "354", b"354 go on\r\n"),
        ("imap", "continuation", b"+ go ahead\r\n"),
        ("imap", "untagged", b"* OK [ALERT] hello\r\n"),
        ("imap", "NO", b"A001 NO [UNAVAILABLE] later\r\n"),
        ("imap", "BAD", b"A001 BAD what\r\n"),
        ("pop3", "-ERR", b"-ERR [SYS/TEMP] no\r\n"),
        ("pop3", "continuation", b"+ \r\n"),
    ];
    for (scheme, what, answer) in cases {
        let s = Server::start(Mode::Plain, &certs.good, move |c| match scheme {
            "smtp" => {
                c.send(SMTP_GREETING);
                c.expect_line(b"EHLO client.test\r\n");
                c.send(&smtp_ehlo_reply(true));
                c.expect_line(b"STARTTLS\r\n");
                c.send(answer);
                let rest = c.drain();
                c.record("after", &rest);
            }
            "imap" => {
                // The greeting's capabilities are used: no CAPABILITY before STARTTLS.
                c.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n");
                c.expect_line(b"A001 STARTTLS\r\n");
                c.send(answer);
                let rest = c.drain();
                c.record("after", &rest);
            }
            _ => {
                c.send(POP3_GREETING);
                c.expect_line(b"CAPA\r\n");
                c.send(b"+OK\r\nSTLS\r\nUSER\r\n.\r\n");
                c.expect_line(b"STLS\r\n");
                c.send(answer);
                let rest = c.drain();
                c.record("after", &rest);
            }
        });
        let out = run_env(
            &[
                "--timeout",
                NO_TIMEOUT,
                "--ehlo",
                "client.test",
                "--starttls",
                "--ca-file",
                certs.ca(),
                &s.url(scheme),
            ],
            &input(&["NOOP"]),
            &[],
        );
        let log = s.join_for(&out);
        // Exit 4 at once: a wait would have ended in the timeout (5).
        assert_eq!(out.code, Some(EXIT_TLS), "{scheme} {what}\n{out:?}");
        out.assert_fatal();
        assert!(
            !log.tls_established,
            "{scheme} {what}: a handshake\n{out:?}"
        );
        let after = log.records("after").concat();
        // Nothing at all after STARTTLS; SMTP and POP3 may still say QUIT, never a handshake.
        assert!(
            after.is_empty() || after == b"QUIT\r\n",
            "{scheme} {what}: sent after the answer: {}",
            show_bytes(&after)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Greetings and wrong ports.

#[test]
fn another_protocols_greeting_is_named_at_once_with_its_scheme() {
    let certs = TestCerts::new();
    for (scheme, greeting, names) in [
        (
            "smtp",
            &b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"[..],
            "imap://",
        ),
        ("smtp", b"+OK Dovecot ready.\r\n", "pop3://"),
        ("imap", b"220 mx.example.test ESMTP Postfix\r\n", "smtp://"),
        ("imap", b"+OK POP3 ready\r\n", "pop3://"),
        ("pop3", b"220 mx.example.test ESMTP\r\n", "smtp://"),
        ("pop3", b"* OK IMAP4rev1 ready\r\n", "imap://"),
    ] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(greeting);
            c.drain();
        });
        let out = run_env(
            &["--timeout", NO_TIMEOUT, &s.url(scheme)],
            &input(&["NOOP"]),
            &[],
        );
        s.join_for(&out);
        assert_eq!(out.code, Some(EXIT_PROTOCOL), "{scheme}\n{out:?}");
        out.assert_fatal();
        out.assert_contains(names);
    }
}

#[test]
fn a_greeting_valid_for_no_protocol_is_reported_at_once() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"HTTP/1.1 400 Bad Request\r\n");
        c.drain();
    });
    let out = run_env(
        &["--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["NOOP"]),
        &[],
    );
    s.join_for(&out);
    assert_eq!(out.code, Some(EXIT_PROTOCOL), "{out:?}");
    out.assert_fatal();
    out.assert_contains("HTTP/1.1 400 Bad Request");
}

#[test]
fn plaintext_to_a_tls_port_suggests_the_tls_scheme() {
    let certs = TestCerts::new();
    for (scheme, tls_scheme) in [
        ("smtp", "smtps://"),
        ("imap", "imaps://"),
        ("pop3", "pop3s://"),
    ] {
        // A TLS server waits for the ClientHello and says nothing.
        let s = Server::start(Mode::ImplicitTls, &certs.good, |c| {
            c.drain();
        });
        let out = run_env(&["--timeout", "1", &s.url(scheme)], &input(&["NOOP"]), &[]);
        s.join_for(&out);
        assert_eq!(out.code, Some(EXIT_TIMEOUT), "{out:?}");
        out.assert_contains(tls_scheme);
    }
}

#[test]
fn a_name_mismatch_on_an_ip_target_suggests_sni() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.wrong_host, |c| {
        c.drain();
    });
    let out = run_env(
        &[
            "--timeout",
            NO_TIMEOUT,
            "--ca-file",
            certs.ca(),
            &s.url("smtps"),
        ],
        &input(&["NOOP"]),
        &[],
    );
    s.join_for(&out);
    out.assert_code(EXIT_TLS);
    out.assert_contains("--sni other.test");
    assert!(!out.stdout_str().contains("--ca-file PEM"), "{out:?}");
}

#[test]
fn port_zero_is_refused_in_every_form() {
    for target in ["smtp://x:0", "smtp://[::1]:0", "smtp://127.0.0.1:0"] {
        let out = run_env(&[target], b"", &[]);
        out.assert_code(EXIT_USAGE);
        assert!(out.stderr_str().contains("port"), "{target}\n{out:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// explain as users paste it.

#[test]
fn explain_takes_lines_as_pasted_and_options_anywhere() {
    let cases: &[(&[&str], &str)] = &[
        (&["550", "--color", "never"], "550 - SMTP reply code"),
        (
            &["-ERR", "[IN-USE]", "locked"],
            "IN-USE - POP3 response code",
        ),
        (
            &["A001 NO [OVERQUOTA] Quota exceeded"],
            "OVERQUOTA - IMAP response code",
        ),
        (
            &["S: 550 5.1.1 <x@example.test>: Recipient address rejected"],
            "5.1.1 - SMTP enhanced status code",
        ),
        (&["[  0.012] S: 421 4.3.2 closing"], "421 - SMTP reply code"),
    ];
    for (args, want) in cases {
        let mut all = vec!["explain"];
        all.extend_from_slice(args);
        let out = mailtalk(&all, b"");
        out.assert_code(EXIT_OK);
        out.assert_contains(want);
        assert!(
            !out.stdout.contains(&0x1b),
            "colour with --color never\n{out:?}"
        );
    }
    let out = mailtalk(&["explain", "550", "--color", "always"], b"");
    assert!(
        out.stdout.contains(&0x1b),
        "no colour with --color always\n{out:?}"
    );
}

#[test]
fn explain_puts_the_cause_the_text_states_first() {
    for (line, cause, code) in [
        (
            "503 5.5.1 Error: authentication not enabled",
            "Cause: AUTH is not offered here",
            "503 - SMTP reply code",
        ),
        (
            "554 5.5.1 Error: no valid recipients",
            "Cause: Every recipient was refused",
            "554 - SMTP reply code",
        ),
        (
            "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using \
             zen.spamhaus.org",
            "Cause: Listed at Spamhaus",
            "550 - SMTP reply code",
        ),
        (
            "-ERR [IN-USE] Unable to lock maildrop",
            "Cause: Mailbox locked by another session",
            "IN-USE - POP3 response code",
        ),
    ] {
        let out = mailtalk(&["--color", "never", "explain", line], b"");
        out.assert_code(EXIT_OK);
        let text = out.stdout_str();
        let c = text
            .find(cause)
            .unwrap_or_else(|| panic!("{cause:?} missing\n{text}"));
        let k = text
            .find(code)
            .unwrap_or_else(|| panic!("{code:?} missing\n{text}"));
        assert!(c < k, "the cause is not first\n{text}");
    }
}

#[test]
fn explain_in_a_session_reads_the_cause_of_the_last_reply() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"AUTH PLAIN\r\n");
        c.send(b"503 5.5.1 Error: authentication not enabled\r\n");
        smtp_loop(c, false, false);
    });
    let out = run_env(&[&s.url("smtp")], &input(&["AUTH PLAIN", ":explain"]), &[]);
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    let text = out.stdout_str();
    let cause = text
        .find("** Cause: AUTH is not offered here")
        .unwrap_or_else(|| panic!("no cause\n{text}"));
    let code = text.find("** 503 - SMTP reply code").unwrap();
    assert!(cause < code, "{text}");
}

// ---------------------------------------------------------------------------------------------
// Documentation generated from the tables.

#[test]
fn the_man_page_lists_every_meta_command_and_explain() {
    let man =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/mailtalk.1")).unwrap();
    for m in mailtalk::controller::meta::META {
        // The name appears as roff writes it (a hyphen is `\-`).
        let roff = m.name.replace('-', "\\-");
        assert!(man.contains(&roff), "{} missing from the man page", m.name);
    }
    assert!(man.contains("explain"), "explain missing from the man page");
    for (code, _) in mailtalk::controller::exit::STATUSES {
        assert!(man.contains(&code.to_string()));
    }
}

#[test]
fn the_readme_lists_every_exit_status_as_the_man_page_does() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("## Exit status").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    for (code, meaning) in mailtalk::controller::exit::STATUSES {
        let row = format!("| {code} | {meaning} |");
        assert!(section.contains(&row), "README lacks {row:?}");
    }
}

#[test]
fn the_readme_lists_exactly_the_json_events() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    // The table rows of the JSON section: | `event` | ... |
    let section = readme
        .split("### JSON events")
        .nth(1)
        .expect("README has a '### JSON events' section");
    let section = section.split("\n#").next().unwrap();
    let listed: Vec<String> = section
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let mut want: Vec<String> = mailtalk::output::json::EVENTS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut got = listed.clone();
    want.sort();
    got.sort();
    assert_eq!(
        got, want,
        "README JSON events differ from what --json prints"
    );
}
