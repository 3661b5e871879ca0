//! IMAP sessions: automatic tags, literals in both directions, LOGIN
//! redaction, over plain TCP, implicit TLS and STARTTLS.

use crate::support::*;

/// The tag of a wire command line.
fn tag(line: &str) -> &str {
    line.split(' ').next().unwrap_or("")
}

/// The command lines the server received (whole commands, with literals).
fn commands(log: &Log) -> Vec<String> {
    log.record_strs("command")
}

#[test]
fn plain_session_with_automatic_tags_literal_fetch_and_redacted_login() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&[
            "CAPABILITY",
            "LOGIN alice s3cr3t-pw",
            "SELECT INBOX",
            "FETCH 1 BODY[]",
        ]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = commands(&log);
    assert_eq!(cmds.len(), 5, "{log:?}\n{out:?}");
    assert_eq!(
        &cmds[..4],
        &[
            "A001 CAPABILITY\r\n",
            "A002 LOGIN alice s3cr3t-pw\r\n",
            "A003 SELECT INBOX\r\n",
            "A004 FETCH 1 BODY[]\r\n",
        ]
    );
    assert!(cmds[4].ends_with(" LOGOUT\r\n"), "{cmds:?}");
    assert_unique_tags(&cmds);
    assert!(log.has_note("logout"));
    let fetch = format!("S: * 1 FETCH (BODY[] {{{}}}", IMAP_MESSAGE.len());
    out.assert_in_order(&[
        "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mailtalk-test ready",
        "C: A001 CAPABILITY",
        "S: * CAPABILITY IMAP4rev1 AUTH=PLAIN",
        "S: A001 OK CAPABILITY completed",
        "C: A002 LOGIN alice <redacted>",
        "S: A002 OK LOGIN completed",
        "C: A003 SELECT INBOX",
        "S: * 1 EXISTS",
        "S: A003 OK [READ-WRITE] SELECT completed",
        "C: A004 FETCH 1 BODY[]",
        &fetch,
        "S: Subject: hello",
        "S: Hello from IMAP",
        "S: )",
        "S: A004 OK FETCH completed",
        "S: * BYE mailtalk-test logging out",
    ]);
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("C: ") && l.ends_with(" LOGOUT")),
        "{out:?}"
    );
    out.assert_nowhere("s3cr3t-pw");
}

#[test]
fn tagged_lines_are_sent_as_typed_and_lowercase_commands_get_tags() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&["noop", "x1 NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = commands(&log);
    assert_eq!(cmds.len(), 3, "{log:?}");
    assert_eq!(&cmds[..2], &["A001 noop\r\n", "x1 NOOP\r\n"]);
    assert!(cmds[2].ends_with(" LOGOUT\r\n"), "{cmds:?}");
    assert_unique_tags(&cmds);
    out.assert_in_order(&[
        "C: A001 noop",
        "S: A001 OK NOOP completed",
        "C: x1 NOOP",
        "S: x1 OK NOOP completed",
    ]);
}

#[test]
fn synchronising_literal_waits_for_the_continuation() {
    let certs = TestCerts::new();
    // The literal is "Subject: hi\r\n\r\nbody" (19 bytes); the empty line after it
    // finishes the APPEND command.
    let lines = ["APPEND INBOX {19}", "Subject: hi", "", "body", "", "NOOP"];

    // No `+`: not one byte of the literal may be sent until the client gives up.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(&imap_greeting(false));
        c.expect_line(b"A001 APPEND INBOX {19}\r\n");
        c.drain();
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", "1", &s.url("imap")],
        &input(&lines),
    );
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(
        log.plain_str(),
        "A001 APPEND INBOX {19}\r\n",
        "literal bytes were sent before the server sent +\n{out:?}"
    );

    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&lines),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(
        log.records("early-literal").is_empty(),
        "literal bytes arrived before the server sent +\n{log:?}"
    );
    assert_eq!(log.record_strs("literal"), vec!["Subject: hi\r\n\r\nbody"]);
    let cmds = commands(&log);
    assert_eq!(cmds.len(), 3, "{log:?}\n{out:?}");
    assert_eq!(
        cmds[0],
        "A001 APPEND INBOX {19}\r\nSubject: hi\r\n\r\nbody\r\n"
    );
    assert_eq!(cmds[1], "A002 NOOP\r\n");
    assert!(cmds[2].ends_with(" LOGOUT\r\n"));
    out.assert_in_order(&[
        "C: A001 APPEND INBOX {19}",
        "S: + Ready for literal data",
        "C: Subject: hi",
        "C: body",
        "S: A001 OK [APPENDUID 1 2] APPEND completed",
        "C: A002 NOOP",
    ]);
}

#[test]
fn literal_content_that_looks_like_a_tagged_reply_is_data() {
    let certs = TestCerts::new();
    // A literal whose content is a tagged reply; the rest of the response only when `whole`.
    let server = |whole: bool| {
        Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(&imap_greeting(false));
            c.expect_line(b"A001 FETCH 1 BODY[]\r\n");
            c.send(b"* 1 FETCH (BODY[] {14}\r\nA001 OK fake\r\n");
            if whole {
                c.send(b")\r\nA001 OK FETCH completed\r\n");
                imap_loop(c, false);
            } else {
                c.drain();
            }
        })
    };

    // The response is never finished: a client that took the literal for the tagged reply
    // would send NOOP.
    let s = server(false);
    let out = mailtalk(
        &["--color", "never", "--timeout", "1", &s.url("imap")],
        &input(&["FETCH 1 BODY[]", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(
        log.plain_str(),
        "A001 FETCH 1 BODY[]\r\n",
        "client took literal content for the tagged reply\n{out:?}"
    );

    let s = server(true);
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&["FETCH 1 BODY[]", "NOOP"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    out.assert_in_order(&[
        "S: * 1 FETCH (BODY[] {14}",
        "S: A001 OK fake",
        "S: )",
        "S: A001 OK FETCH completed",
        "C: A002 NOOP",
    ]);
}

#[test]
fn implicit_tls_with_ca_file() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, |c| imap_like(c, false));
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--ca-file",
            certs.ca(),
            &s.url("imaps"),
        ],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.plain.is_empty());
    let cmds = commands(&log);
    assert_eq!(cmds.len(), 2, "{log:?}");
    assert_eq!(cmds[0], "A001 NOOP\r\n");
    assert!(cmds[1].ends_with(" LOGOUT\r\n"));
    out.assert_in_order(&[
        "S# * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mailtalk-test ready",
        "C# A001 NOOP",
        "S# A001 OK NOOP completed",
        "S# * BYE mailtalk-test logging out",
    ]);
    for marker in ["C: ", "S: ", "C! ", "S! "] {
        assert!(
            out.index_starting(marker).is_none(),
            "{marker} inside verified TLS\n{out:?}"
        );
    }
}

fn check_starttls(greeting_has_caps: bool) {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        if greeting_has_caps {
            c.send(&imap_greeting(true));
        } else {
            c.send(b"* OK mailtalk-test ready\r\n");
        }
        imap_loop(c, true);
    });
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--starttls",
            "--ca-file",
            certs.ca(),
            &s.url("imap"),
        ],
        &input(&["LOGIN alice s3cr3t-pw", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.tls_established, "{log:?}");
    let plain = wire_lines(&log.plain);
    let verbs: Vec<&str> = plain
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap_or(""))
        .collect();
    if greeting_has_caps {
        assert_eq!(verbs, vec!["STARTTLS\r\n"], "{log:?}");
    } else {
        assert_eq!(verbs, vec!["CAPABILITY\r\n", "STARTTLS\r\n"], "{log:?}");
    }
    let tls = wire_lines(&log.tls);
    assert_eq!(tls.len(), 4, "{log:?}");
    assert!(tls[0].ends_with(" CAPABILITY\r\n"), "{log:?}");
    assert!(tls[1].ends_with(" LOGIN alice s3cr3t-pw\r\n"), "{log:?}");
    assert!(tls[2].ends_with(" NOOP\r\n"), "{log:?}");
    assert!(tls[3].ends_with(" LOGOUT\r\n"), "{log:?}");
    let mut all = plain.clone();
    all.extend(tls.clone());
    assert_unique_tags(&all);
    out.assert_in_order(&[
        &format!("C: {}", plain.last().unwrap().trim_end()),
        &format!(
            "S: {} OK Begin TLS negotiation now",
            tag(plain.last().unwrap())
        ),
        &format!("C# {}", tls[0].trim_end()),
        "S# * CAPABILITY IMAP4rev1 AUTH=PLAIN",
        &format!("C# {} LOGIN alice <redacted>", tag(&tls[1])),
        &format!("C# {}", tls[2].trim_end()),
    ]);
    out.assert_nowhere("s3cr3t-pw");
}

#[test]
fn starttls_when_the_greeting_lists_capabilities() {
    check_starttls(true);
}

#[test]
fn starttls_asks_for_capabilities_when_the_greeting_has_none() {
    check_starttls(false);
}

#[test]
fn literal_is_never_sent_when_the_server_refuses_the_continuation() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(&imap_greeting(false));
        c.expect_line(b"A001 APPEND INBOX {19}\r\n");
        c.send(b"A001 NO [TOOBIG] message too big\r\n");
        imap_loop(c, false);
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&["APPEND INBOX {19}", "Subject: hi", "", "body", "", "NOOP"]),
    );
    let log = s.join_for(&out);
    assert!(out.code.is_some(), "{out:?}");
    let sent = log.plain_str();
    assert!(
        !sent.contains("Subject: hi") && !sent.contains("body"),
        "literal content was sent after the server refused it\n{log:?}\n{out:?}"
    );
    out.assert_line("S: A001 NO [TOOBIG] message too big");
}

#[test]
fn literal_with_an_overflowing_size_is_a_protocol_violation() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(&imap_greeting(false));
        c.expect_line(b"A001 FETCH 1 BODY[]\r\n");
        c.send(b"* 1 FETCH (BODY[] {99999999999999999999999999}\r\nx\r\n");
        c.drain();
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&["FETCH 1 BODY[]", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_PROTOCOL);
    out.assert_fatal();
    assert_eq!(log.plain_str(), "A001 FETCH 1 BODY[]\r\n", "{out:?}");
}

#[test]
fn literal_cut_short_by_eof_is_a_protocol_violation() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(&imap_greeting(false));
        c.expect_line(b"A001 FETCH 1 BODY[]\r\n");
        c.send(b"* 1 FETCH (BODY[] {100}\r\nSubject: short\r\n");
        c.close();
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&["FETCH 1 BODY[]", "NOOP"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_PROTOCOL);
    out.assert_fatal();
    out.assert_contains("Subject: short");
}
