//! LMTP sessions: LHLO, one reply per recipient after the data, over plain
//! TCP, implicit TLS and STARTTLS.

use crate::support::*;

const SESSION: &[&str] = &[
    "LHLO client.test",
    "MAIL FROM:<a@example.org>",
    "RCPT TO:<b@example.org>",
    "RCPT TO:<c@example.org>",
    "DATA",
    "Subject: lmtp",
    "",
    ".hidden",
    ".",
];

const WIRE: &str = "LHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n\
                    RCPT TO:<c@example.org>\r\nDATA\r\nSubject: lmtp\r\n\r\n..hidden\r\n.\r\n";

#[test]
fn plain_session_shows_one_reply_per_recipient() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, true, false));
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("lmtp")],
        &input(SESSION),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), format!("{WIRE}QUIT\r\n"));
    out.assert_in_order(&[
        "S: 220 localhost LMTP mailtalk-test",
        "C: LHLO client.test",
        "S: 250 ENHANCEDSTATUSCODES",
        "C: DATA",
        "S: 354 End data with <CR><LF>.<CR><LF>",
        "C: .",
        "S: 250 2.0.0 <b@example.org> Saved",
        "S: 250 2.0.0 <c@example.org> Saved",
        "C: QUIT",
        "S: 221 2.0.0 Bye",
    ]);
}

#[test]
fn every_recipient_reply_is_awaited_before_the_next_command() {
    let certs = TestCerts::new();
    // Everything up to the final dot, and the first recipient's reply (not the second's when
    // `both` is false).
    let server = |both: bool| {
        Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(LMTP_GREETING);
            c.expect_line(b"LHLO client.test\r\n");
            c.send(&smtp_ehlo_reply(false));
            c.expect_line(b"MAIL FROM:<a@example.org>\r\n");
            c.send(b"250 2.1.0 Ok\r\n");
            c.expect_line(b"RCPT TO:<b@example.org>\r\n");
            c.send(b"250 2.1.5 Ok\r\n");
            c.expect_line(b"RCPT TO:<c@example.org>\r\n");
            c.send(b"250 2.1.5 Ok\r\n");
            c.expect_line(b"DATA\r\n");
            c.send(b"354 go ahead\r\n");
            c.expect_line(b"Subject: lmtp\r\n");
            c.expect_line(b"\r\n");
            c.expect_line(b"..hidden\r\n");
            c.expect_line(b".\r\n");
            c.send(b"250 2.0.0 <b@example.org> Saved\r\n");
            if both {
                c.send(b"452 4.2.2 <c@example.org> Mailbox full\r\n");
                smtp_loop(c, true, false);
            } else {
                c.drain();
            }
        })
    };

    // The second reply never comes: nothing may follow the dot until the client gives up.
    let s = server(false);
    let out = mailtalk(
        &["--color", "never", "--timeout", "1", &s.url("lmtp")],
        &input(SESSION),
    );
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(
        log.plain_str(),
        WIRE,
        "client sent before the second recipient's reply\n{out:?}"
    );

    let s = server(true);
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("lmtp")],
        &input(SESSION),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), format!("{WIRE}QUIT\r\n"), "{out:?}");
    out.assert_in_order(&[
        "C: .",
        "S: 250 2.0.0 <b@example.org> Saved",
        "S: 452 4.2.2 <c@example.org> Mailbox full",
        "C: QUIT",
        "S: 221 2.0.0 Bye",
    ]);
}

#[test]
fn implicit_tls_by_host_port() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, |c| {
        smtp_like(c, true, false)
    });
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--protocol",
            "lmtp",
            "--tls",
            "--ca-file",
            certs.ca(),
            &s.addr(),
        ],
        &input(SESSION),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.plain.is_empty());
    assert_eq!(log.tls_str(), format!("{WIRE}QUIT\r\n"));
    out.assert_in_order(&[
        "S# 220 localhost LMTP mailtalk-test",
        "C# LHLO client.test",
        "S# 250 2.0.0 <b@example.org> Saved",
        "S# 250 2.0.0 <c@example.org> Saved",
        "C# QUIT",
    ]);
}

#[test]
fn starttls_uses_lhlo_before_and_after_the_handshake() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, true, true));
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--starttls",
            "--ehlo",
            "client.test",
            "--ca-file",
            certs.ca(),
            &s.url("lmtp"),
        ],
        &input(&SESSION[1..]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.plain_str(), "LHLO client.test\r\nSTARTTLS\r\n");
    assert_eq!(log.tls_str(), format!("{WIRE}QUIT\r\n"));
    out.assert_in_order(&[
        "C: LHLO client.test",
        "C: STARTTLS",
        "S: 220 2.0.0 Ready to start TLS",
        "C# LHLO client.test",
        "S# 250 2.0.0 <c@example.org> Saved",
    ]);
}
