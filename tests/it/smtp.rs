//! SMTP sessions over plain TCP, implicit TLS and STARTTLS, message mode and
//! meta-commands, against the in-process `smtp_like` server.

use crate::support::*;

fn plain_server(certs: &TestCerts, starttls: bool) -> Server {
    Server::start(Mode::Plain, &certs.good, move |c| {
        smtp_like(c, false, starttls)
    })
}

#[test]
fn plain_session_shows_transcript_and_quits_at_end_of_input() {
    let certs = TestCerts::new();
    let s = plain_server(&certs, false);
    let out = mailtalk(
        &["--color", "never", &s.url("smtp")],
        &input(&["EHLO client.test", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "EHLO client.test\r\nNOOP\r\nQUIT\r\n");
    assert!(!log.tls_established);
    out.assert_in_order(&[
        "S: 220 localhost ESMTP mailtalk-test",
        "C: EHLO client.test",
        "S: 250-localhost greets you",
        "S: 250-PIPELINING",
        "S: 250-SIZE 10240000",
        "S: 250-8BITMIME",
        "S: 250 ENHANCEDSTATUSCODES",
        "C: NOOP",
        "S: 250 2.0.0 Ok",
        "C: QUIT",
        "S: 221 2.0.0 Bye",
    ]);
    for marker in ["C# ", "S# ", "C! ", "S! "] {
        assert!(
            out.index_starting(marker).is_none(),
            "{marker} in a plain session\n{out:?}"
        );
    }
    assert!(out.index_starting("!! error: ").is_none(), "{out:?}");
}

#[test]
fn nothing_is_sent_before_the_first_input_line_and_each_reply_is_awaited() {
    let certs = TestCerts::new();
    let run = |s: &Server, timeout: &str| {
        mailtalk(
            &["--color", "never", "--timeout", timeout, &s.url("smtp")],
            &input(&["NOOP", "RSET"]),
        )
    };

    // No greeting: nothing may be sent until the client gives up.
    let s = Server::start(Mode::Plain, &certs.good, silent);
    let out = run(&s, "1");
    let log = s.join_for(&out);
    out.assert_timed_out("greeting");
    assert!(log.plain.is_empty(), "sent before the greeting\n{log:?}");

    // No reply to NOOP: RSET must not follow.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.drain();
    });
    let out = run(&s, "1");
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(
        log.plain_str(),
        "NOOP\r\n",
        "sent before the reply\n{out:?}"
    );

    // Both replies: the session goes on in order.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"NOOP\r\n");
        c.send(b"250 2.0.0 first\r\n");
        c.expect_line(b"RSET\r\n");
        c.send(b"250 2.0.0 second\r\n");
        smtp_loop(c, false, false);
    });
    let out = run(&s, "5");
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "NOOP\r\nRSET\r\nQUIT\r\n", "{out:?}");
    out.assert_in_order(&[
        "C: NOOP",
        "S: 250 2.0.0 first",
        "C: RSET",
        "S: 250 2.0.0 second",
    ]);
}

#[test]
fn implicit_tls_with_ca_file_marks_lines_as_verified() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, |c| {
        smtp_like(c, false, false)
    });
    let out = mailtalk(
        &["--color", "never", "--ca-file", certs.ca(), &s.url("smtps")],
        &input(&["EHLO client.test"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.tls_established, "{log:?}");
    assert!(log.plain.is_empty(), "{log:?}");
    assert_eq!(log.tls_str(), "EHLO client.test\r\nQUIT\r\n");
    out.assert_in_order(&[
        "S# 220 localhost ESMTP mailtalk-test",
        "C# EHLO client.test",
        "S# 250 ENHANCEDSTATUSCODES",
        "C# QUIT",
        "S# 221 2.0.0 Bye",
    ]);
    for marker in ["C: ", "S: ", "C! ", "S! "] {
        assert!(
            out.index_starting(marker).is_none(),
            "{marker} inside verified TLS\n{out:?}"
        );
    }
}

#[test]
fn implicit_tls_by_host_port_with_protocol_and_tls_flags() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, |c| {
        smtp_like(c, false, false)
    });
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--protocol",
            "smtp",
            "--tls",
            "--ca-file",
            certs.ca(),
            &s.addr(),
        ],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.tls_str(), "NOOP\r\nQUIT\r\n");
    out.assert_in_order(&[
        "S# 220 localhost ESMTP mailtalk-test",
        "C# NOOP",
        "S# 250 2.0.0 Ok",
    ]);
}

fn starttls_session(scheme: &str, with_flag: bool) {
    let certs = TestCerts::new();
    let s = plain_server(&certs, true);
    let url = s.url(scheme);
    let mut args = vec![
        "--color",
        "never",
        "--ca-file",
        certs.ca(),
        "--ehlo",
        "client.test",
    ];
    if with_flag {
        args.push("--starttls");
    }
    args.push(&url);
    let out = mailtalk(&args, &input(&["NOOP"]));
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "EHLO client.test\r\nSTARTTLS\r\n");
    assert!(log.tls_established, "{log:?}");
    assert_eq!(log.tls_str(), "EHLO client.test\r\nNOOP\r\nQUIT\r\n");
    out.assert_in_order(&[
        "S: 220 localhost ESMTP mailtalk-test",
        "C: EHLO client.test",
        "S: 250-STARTTLS",
        "S: 250 ENHANCEDSTATUSCODES",
        "C: STARTTLS",
        "S: 220 2.0.0 Ready to start TLS",
        "C# EHLO client.test",
        "S# 250-localhost greets you",
        "S# 250 ENHANCEDSTATUSCODES",
        "C# NOOP",
        "S# 250 2.0.0 Ok",
        "C# QUIT",
        "S# 221 2.0.0 Bye",
    ]);
    assert!(!out.has_line("S# 250-STARTTLS"), "{out:?}");
}

#[test]
fn starttls_flag_upgrades_before_the_first_input_line() {
    starttls_session("smtp", true);
}

#[test]
fn submission_scheme_requires_starttls_without_the_flag() {
    starttls_session("submission", false);
}

#[test]
fn message_mode_sends_dot_stuffed_lines_until_a_lone_dot() {
    let certs = TestCerts::new();
    let s = plain_server(&certs, false);
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&[
            "EHLO client.test",
            "MAIL FROM:<a@example.org>",
            "RCPT TO:<b@example.org>",
            "DATA",
            "Subject: dots",
            "",
            ".leading dot",
            "..two dots",
            "end",
            ".",
            "NOOP",
        ]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let data: &[u8] = b"Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\nend\r\n.\r\n";
    assert_eq!(
        log.records("data")
            .iter()
            .map(|d| show_bytes(d))
            .collect::<Vec<_>>(),
        vec![show_bytes(data)],
        "{out:?}"
    );
    let mut wire =
        b"EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
            .to_vec();
    wire.extend_from_slice(data);
    wire.extend_from_slice(b"NOOP\r\nQUIT\r\n");
    assert_eq!(show_bytes(&log.plain), show_bytes(&wire));
    // Exactly one end-of-data sequence on the wire.
    assert_eq!(
        log.plain.windows(5).filter(|w| w == b"\r\n.\r\n").count(),
        1
    );
    out.assert_in_order(&[
        "C: DATA",
        "S: 354 End data with <CR><LF>.<CR><LF>",
        "C: .",
        "S: 250 2.0.0 Ok: queued as TEST1",
        "C: NOOP",
        "S: 250 2.0.0 Ok",
    ]);
}

#[test]
fn explicit_quit_as_last_line_ends_the_session_cleanly() {
    let certs = TestCerts::new();
    let s = plain_server(&certs, false);
    let out = mailtalk(
        &["--color", "never", &s.url("smtp")],
        &input(&["EHLO client.test", "QUIT"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "EHLO client.test\r\nQUIT\r\n");
    out.assert_in_order(&["C: QUIT", "S: 221 2.0.0 Bye"]);
}

#[test]
fn meta_quit_stops_before_the_remaining_input() {
    let certs = TestCerts::new();
    let s = plain_server(&certs, false);
    let out = mailtalk(
        &["--color", "never", &s.url("smtp")],
        &input(&["NOOP", ":quit", "VRFY postmaster"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let sent = log.plain_str();
    assert!(sent.starts_with("NOOP\r\n"), "{log:?}");
    assert!(
        !sent.contains("VRFY"),
        "input after :quit was sent\n{log:?}"
    );
    assert!(
        !sent.contains(":quit"),
        "meta-command sent to the server\n{log:?}"
    );
}

#[test]
fn meta_caps_and_help_print_info_and_send_nothing() {
    let certs = TestCerts::new();
    let s = plain_server(&certs, false);
    let out = mailtalk(
        &["--color", "never", &s.url("smtp")],
        &input(&["EHLO client.test", ":caps", ":help"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "EHLO client.test\r\nQUIT\r\n");
    let info = out.with_prefix("** ");
    assert!(
        info.iter().any(|l| l.contains("PIPELINING"))
            && info.iter().any(|l| l.contains("8BITMIME")),
        ":caps did not print the advertised capabilities on `** ` lines\n{out:?}"
    );
    assert!(
        info.iter().any(|l| l.contains(":starttls")),
        ":help did not list the meta-commands on `** ` lines\n{out:?}"
    );
}

#[test]
fn meta_starttls_upgrades_in_the_middle_of_a_session() {
    let certs = TestCerts::new();
    let s = plain_server(&certs, true);
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--ca-file",
            certs.ca(),
            "--ehlo",
            "client.test",
            &s.url("smtp"),
        ],
        &input(&["EHLO client.test", ":starttls", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "EHLO client.test\r\nSTARTTLS\r\n");
    assert!(log.tls_established);
    assert!(log.tls_str().ends_with("NOOP\r\nQUIT\r\n"), "{log:?}");
    out.assert_in_order(&[
        "C: STARTTLS",
        "S: 220 2.0.0 Ready to start TLS",
        "C# NOOP",
        "S# 250 2.0.0 Ok",
    ]);
}

#[test]
fn auth_payload_is_sent_but_shown_redacted() {
    let certs = TestCerts::new();
    let s = plain_server(&certs, false);
    let payload = "AGFsaWNlAHMzY3IzdC1wdw==";
    let line = format!("AUTH PLAIN {payload}");
    let out = mailtalk(
        &["--color", "never", &s.url("smtp")],
        &input(&["EHLO client.test", &line]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.plain_str().contains(&format!("{line}\r\n")), "{log:?}");
    out.assert_nowhere(payload);
    out.assert_line("C: AUTH PLAIN <redacted>");
    out.assert_line("S: 235 2.7.0 Authentication successful");
}
