//! POP3 sessions: multi-line replies shown dot-unstuffed, PASS redaction,
//! over plain TCP, implicit TLS and STLS.

use crate::support::*;

/// The `S: `-style lines (after `marker`) that follow the first line equal to `after`.
fn lines_after(out: &Output, marker: &str, after: &str) -> Vec<String> {
    let lines = out.with_prefix(marker);
    let start = lines
        .iter()
        .position(|l| l == after)
        .unwrap_or_else(|| panic!("no {marker}{after:?} line\n{out:?}"));
    lines[start + 1..].to_vec()
}

#[test]
fn plain_session_with_multiline_replies_dot_unstuffed_and_redacted_pass() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| pop3_like(c, false));
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("pop3")],
        &input(&[
            "CAPA",
            "USER alice",
            "PASS s3cr3t-pw",
            "STAT",
            "LIST",
            "UIDL",
            "RETR 1",
        ]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.plain_str(),
        "CAPA\r\nUSER alice\r\nPASS s3cr3t-pw\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n"
    );
    out.assert_in_order(&[
        "S: +OK POP3 mailtalk-test ready <1896.697170952@localhost>",
        "C: CAPA",
        "S: +OK Capability list follows",
        "S: USER",
        "S: IMPLEMENTATION mailtalk-test",
        "C: USER alice",
        "S: +OK send PASS",
        "C: PASS <redacted>",
        "S: +OK maildrop locked and ready",
        "C: STAT",
        "S: +OK 2 320",
        "C: LIST",
        "S: +OK 2 messages (320 octets)",
        "S: 1 120",
        "S: 2 200",
        "C: UIDL",
        "S: 1 whqtswO00WBw418f9t5JxYwZ",
        "S: 2 QhdPYR:00WBw1Ph7x7",
        "C: RETR 1",
        "S: +OK message follows",
        "C: QUIT",
        "S: +OK mailtalk-test signing off",
    ]);
    let body = lines_after(&out, "S: ", "+OK message follows");
    let want: Vec<String> = POP3_MESSAGE_LINES.iter().map(|s| s.to_string()).collect();
    assert!(
        body.len() >= want.len() && body[..want.len()] == want[..],
        "RETR body not shown dot-unstuffed: {body:?}\n{out:?}"
    );
    assert!(!out.has_line("S: ..leading dot"), "{out:?}");
    assert!(!out.has_line("S: ...two dots"), "{out:?}");
    out.assert_nowhere("s3cr3t-pw");
}

#[test]
fn the_whole_multiline_reply_is_awaited() {
    let certs = TestCerts::new();
    // The first half of the LIST reply, and the rest only when `whole`.
    let server = |whole: bool| {
        Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(POP3_GREETING);
            c.expect_line(b"LIST\r\n");
            c.send(b"+OK 2 messages\r\n1 120\r\n");
            if whole {
                c.send(b"2 200\r\n.\r\n");
                pop3_loop(c, false);
            } else {
                c.drain();
            }
        })
    };

    // The end never comes: STAT must not be sent until the client gives up.
    let s = server(false);
    let out = mailtalk(
        &["--color", "never", "--timeout", "1", &s.url("pop3")],
        &input(&["LIST", "STAT"]),
    );
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(
        log.plain_str(),
        "LIST\r\n",
        "client sent before the multi-line reply ended\n{out:?}"
    );

    let s = server(true);
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("pop3")],
        &input(&["LIST", "STAT"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "LIST\r\nSTAT\r\nQUIT\r\n");
    out.assert_in_order(&["C: LIST", "S: 1 120", "S: 2 200", "C: STAT", "S: +OK 2 320"]);
}

#[test]
fn implicit_tls_with_ca_file() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, |c| pop3_like(c, false));
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--ca-file",
            certs.ca(),
            &s.url("pop3s"),
        ],
        &input(&["CAPA", "RETR 1"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.plain.is_empty());
    assert_eq!(log.tls_str(), "CAPA\r\nRETR 1\r\nQUIT\r\n");
    out.assert_in_order(&[
        "S# +OK POP3 mailtalk-test ready <1896.697170952@localhost>",
        "C# CAPA",
        "S# TOP",
        "C# RETR 1",
        "S# .leading dot",
        "S# ..two dots",
        "C# QUIT",
        "S# +OK mailtalk-test signing off",
    ]);
    for marker in ["C: ", "S: ", "C! ", "S! "] {
        assert!(
            out.index_starting(marker).is_none(),
            "{marker} inside verified TLS\n{out:?}"
        );
    }
}

#[test]
fn stls_upgrades_and_asks_capabilities_again() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| pop3_like(c, true));
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--starttls",
            "--ca-file",
            certs.ca(),
            &s.url("pop3"),
        ],
        &input(&["USER alice", "PASS s3cr3t-pw", "STAT"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "CAPA\r\nSTLS\r\n");
    assert!(log.tls_established);
    assert_eq!(
        log.tls_str(),
        "CAPA\r\nUSER alice\r\nPASS s3cr3t-pw\r\nSTAT\r\nQUIT\r\n"
    );
    out.assert_in_order(&[
        "C: CAPA",
        "S: STLS",
        "C: STLS",
        "S: +OK Begin TLS negotiation",
        "C# CAPA",
        "S# +OK Capability list follows",
        "C# USER alice",
        "C# PASS <redacted>",
        "C# STAT",
        "S# +OK 2 320",
    ]);
    assert!(!out.has_line("S# STLS"), "{out:?}");
    out.assert_nowhere("s3cr3t-pw");
}

#[test]
fn multiline_reply_cut_off_by_eof_is_a_protocol_violation() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(POP3_GREETING);
        c.expect_line(b"LIST\r\n");
        c.send(b"+OK 2 messages\r\n1 120\r\n");
        c.close();
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("pop3")],
        &input(&["LIST", "STAT"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_PROTOCOL);
    out.assert_fatal();
    out.assert_line("S: 1 120");
}
