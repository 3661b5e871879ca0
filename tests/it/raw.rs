//! Raw mode (`:raw on`, `--raw`) and the hex dump (`--hex`, `:hex on`): exact wire bytes.

use crate::support::*;

#[test]
fn raw_lines_go_out_exactly_as_typed_and_replies_are_shown() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        let got = c.read_exact(21).unwrap();
        c.record("raw1", &got);
        c.send(b"250 2.1.0 Ok\r\n");
        let got = c.read_exact(6).unwrap();
        c.record("raw2", &got);
        c.send(b"250 2.1.0 took it\r\n");
        c.expect_line(b"NOOP\r\n");
        c.send(b"250 2.0.0 Ok\r\n");
        c.expect_line(b"QUIT\r\n");
        c.send(b"221 2.0.0 Bye\r\n");
    });
    // Each raw piece here gets an answer, so the wait for it may be as long as the hang guard:
    // a busy machine decides nothing.
    let out = mailtalk(
        &["--color", "never", "--raw-wait", "100", &s.url("smtp")],
        &input(&[
            ":raw on",
            r"MAIL FROM:<a@x>\r\nRSET",
            r"\n.\r\x00\xff\\",
            ":raw off",
            "NOOP",
        ]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.records("raw1"),
        vec![b"MAIL FROM:<a@x>\r\nRSET".to_vec()]
    );
    assert_eq!(log.records("raw2"), vec![b"\n.\r\x00\xff\\".to_vec()]);
    let text = out.stdout_str();
    assert!(text.contains("!! warning: RAW MODE ON"), "{out:?}");
    assert!(
        text.contains(r"C~ [raw] \n.\r\0"),
        "raw bytes are shown with every line end visible\n{out:?}"
    );
    out.assert_in_order(&[
        r"C~ [raw] MAIL FROM:<a@x>\r\nRSET",
        "S: 250 2.1.0 Ok",
        "S: 250 2.1.0 took it",
        "** raw mode off: lines are sent as commands again, CRLF added",
        "C: NOOP",
        "S: 250 2.0.0 Ok",
    ]);
    assert!(
        !out.stdout_str().contains("unsolicited"),
        "replies to raw bytes are not unsolicited\n{out:?}"
    );
}

#[test]
fn raw_flag_starts_in_raw_mode_and_a_bad_escape_sends_nothing() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        let got = c.read_exact(6).unwrap();
        c.record("raw", &got);
        c.send(b"250 2.0.0 Ok\r\n");
        c.expect_line(b"QUIT\r\n");
        c.send(b"221 2.0.0 Bye\r\n");
    });
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--raw",
            "--raw-wait",
            "100",
            &s.url("smtp"),
        ],
        &input(&[r"NOOP\r\n"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.records("raw"), vec![b"NOOP\r\n".to_vec()]);
    assert!(out.stdout_str().contains("RAW MODE ON"), "{out:?}");
    out.assert_in_order(&[r"C~ [raw] NOOP\r\n", "S: 250 2.0.0 Ok", "C: QUIT"]);

    // A typo in an escape is an error (a usage error in a script), and nothing is sent.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        // The first thing the client sends is the QUIT at the end of the script.
        c.expect_line(b"QUIT\r\n");
        c.send(b"221 2.0.0 Bye\r\n");
    });
    let out = mailtalk(
        &["--color", "never", "--raw", &s.url("smtp")],
        &input(&[r"NOOP\q"]),
    );
    let log = s.join_for(&out);
    out.assert_code(2);
    assert!(out.stdout_str().contains(r"unknown escape \q"), "{out:?}");
    assert_eq!(log.plain_str(), "QUIT\r\n");
}

#[test]
fn hex_dump_shows_the_bytes_sent_and_received() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let out = mailtalk(
        &["--color", "never", "--hex", &s.url("smtp")],
        &input(&["NOOP"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    out.assert_in_order(&[
        "C: NOOP",
        "   C> 0000  4e 4f 4f 50 0d 0a                                 |NOOP..|",
        "S: 250 2.0.0 Ok",
        "   S> 0000  32 35 30 20 32 2e 30 2e  30 20 4f 6b 0d 0a        |250 2.0.0 Ok..|",
    ]);
}
