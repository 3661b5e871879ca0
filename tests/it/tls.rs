//! Certificate verification, --insecure, SNI, and STARTTLS failures
//! (stripping, refusal, response injection, PREAUTH) for every protocol.

use crate::support::*;

fn imaps_with(cert: &ServerCert) -> Server {
    Server::start(Mode::ImplicitTls, cert, |c| imap_like(c, false))
}

/// Asserts a refused TLS connection: exit 4, a fatal error, and no
/// application byte sent inside TLS.
#[track_caller]
fn assert_tls_refused(out: &Output, log: &Log) {
    out.assert_code(EXIT_TLS);
    out.assert_fatal();
    assert!(
        log.tls.is_empty(),
        "client sent data over a refused TLS session\n{log:?}"
    );
    for marker in ["C# ", "S# ", "C! ", "S! "] {
        assert!(
            out.index_starting(marker).is_none(),
            "{marker} after a refused handshake\n{out:?}"
        );
    }
}

#[test]
fn certificate_from_an_unknown_ca_is_refused_by_default() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.good);
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("imaps")],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    assert_tls_refused(&out, &log);
}

#[test]
fn certificate_is_accepted_with_ca_file() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.good);
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
    assert!(log.tls_established);
    out.assert_line("C# A001 NOOP");
    assert!(
        out.index_starting("S! ").is_none() && out.index_starting("C! ").is_none(),
        "{out:?}"
    );
    assert!(
        out.index_starting("!! warning: ").is_none(),
        "warning on a verified session\n{out:?}"
    );
}

#[test]
fn self_signed_certificate_is_refused_even_with_ca_file() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.self_signed);
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
    assert_tls_refused(&out, &log);
}

#[test]
fn host_name_mismatch_is_refused() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.wrong_host);
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
    assert_tls_refused(&out, &log);
}

#[test]
fn host_name_mismatch_is_refused_for_a_dns_name() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.wrong_host);
    let url = format!("imaps://localhost:{}", s.port());
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "-4",
            "--ca-file",
            certs.ca(),
            &url,
        ],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    assert_tls_refused(&out, &log);
}

#[test]
fn expired_certificate_is_refused() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.expired);
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
    assert_tls_refused(&out, &log);
}

#[test]
fn dns_name_is_verified_and_sent_as_sni() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.good);
    let url = format!("imaps://localhost:{}", s.port());
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "-4",
            "--ca-file",
            certs.ca(),
            &url,
        ],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.sni.as_deref(), Some("localhost"), "{log:?}");
    out.assert_line("C# A001 NOOP");
}

#[test]
fn sni_option_sets_the_name_sent() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.good);
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--sni",
            "localhost",
            "--ca-file",
            certs.ca(),
            &s.url("imaps"),
        ],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.sni.as_deref(), Some("localhost"), "{log:?}");
}

#[test]
fn insecure_bypasses_verification_loudly_and_marks_every_line() {
    let certs = TestCerts::new();
    let s = imaps_with(&certs.self_signed);
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--insecure",
            &s.url("imaps"),
        ],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.tls_established);
    out.assert_in_order(&[
        "S! * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mailtalk-test ready",
        "C! A001 NOOP",
        "S! A001 OK NOOP completed",
    ]);
    for marker in ["C: ", "S: ", "C# ", "S# "] {
        assert!(
            out.index_starting(marker).is_none(),
            "{marker} in an unverified session\n{out:?}"
        );
    }
    let warning = out.index_starting("!! warning: ");
    let first_sent = out.index_starting("C! ");
    assert!(
        warning.is_some() && warning < first_sent,
        "no `!! warning: ` line before the first line sent over unverified TLS\n{out:?}"
    );
}

#[test]
fn insecure_also_marks_starttls_lines() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.expired, |c| smtp_like(c, false, true));
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--insecure",
            "--starttls",
            "--ehlo",
            "client.test",
            &s.url("smtp"),
        ],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    out.assert_in_order(&[
        "C: STARTTLS",
        "S: 220 2.0.0 Ready to start TLS",
        "C! EHLO client.test",
        "C! NOOP",
        "S! 250 2.0.0 Ok",
    ]);
    assert_eq!(log.tls_str(), "EHLO client.test\r\nNOOP\r\nQUIT\r\n");
    assert!(out.index_starting("!! warning: ").is_some(), "{out:?}");
}

// ---------------------------------------------------------------------------
// STARTTLS failures: nothing may be sent after the failure.

/// Runs the client with --starttls (and --ca-file, --ehlo client.test,
/// --timeout 3) against `handler`.
fn starttls_run(
    scheme: &str,
    certs: &TestCerts,
    extra: &[&str],
    handler: impl FnOnce(&mut Conn) + Send + 'static,
) -> (Output, Log) {
    let s = Server::start(Mode::Plain, &certs.good, handler);
    let url = s.url(scheme);
    let mut args = vec![
        "--color",
        "never",
        "--ehlo",
        "client.test",
        "--ca-file",
        certs.ca(),
    ];
    if !extra.contains(&"--timeout") {
        args.extend_from_slice(&["--timeout", NO_TIMEOUT]);
    }
    args.extend_from_slice(extra);
    args.push(&url);
    let out = mailtalk(
        &args,
        &input(&[
            "MAIL FROM:<a@example.org>",
            "LOGIN alice s3cr3t-pw",
            "USER alice",
            "PASS s3cr3t-pw",
        ]),
    );
    let log = s.join_for(&out);
    (out, log)
}

/// Asserts a STARTTLS failure: exit 4, a fatal error, exactly `plain` on the
/// wire and no TLS at all.
#[track_caller]
fn assert_stopped(out: &Output, log: &Log, plain: &str) {
    out.assert_code(EXIT_TLS);
    out.assert_fatal();
    assert_eq!(
        log.plain_str(),
        plain,
        "client sent something after the STARTTLS failure\n{out:?}"
    );
    assert!(!log.tls_established && log.tls.is_empty(), "{log:?}");
    out.assert_nowhere("s3cr3t-pw");
}

#[test]
fn smtp_starttls_not_advertised_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("smtp", &certs, &["--starttls"], |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"EHLO client.test\r\n");
        c.send(&smtp_ehlo_reply(false));
        c.drain();
    });
    assert_stopped(&out, &log, "EHLO client.test\r\n");
}

#[test]
fn submission_without_starttls_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("submission", &certs, &[], |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"EHLO client.test\r\n");
        c.send(&smtp_ehlo_reply(false));
        c.drain();
    });
    assert_stopped(&out, &log, "EHLO client.test\r\n");
}

#[test]
fn smtp_starttls_refused_with_454_or_502() {
    for refusal in [
        &b"454 4.7.0 TLS not available due to local problem\r\n"[..],
        b"502 5.5.1 no\r\n",
    ] {
        let certs = TestCerts::new();
        let (out, log) = starttls_run("smtp", &certs, &["--starttls"], move |c| {
            c.send(SMTP_GREETING);
            c.expect_line(b"EHLO client.test\r\n");
            c.send(&smtp_ehlo_reply(true));
            c.expect_line(b"STARTTLS\r\n");
            c.send(refusal);
            c.drain();
        });
        assert_stopped(&out, &log, "EHLO client.test\r\nSTARTTLS\r\n");
    }
}

#[test]
fn smtp_starttls_response_injection_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("smtp", &certs, &["--starttls"], |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"EHLO client.test\r\n");
        c.send(&smtp_ehlo_reply(true));
        c.expect_line(b"STARTTLS\r\n");
        c.send(b"220 go\r\n250 AUTH PLAIN\r\n");
        c.drain();
    });
    assert_stopped(&out, &log, "EHLO client.test\r\nSTARTTLS\r\n");
}

#[test]
fn smtp_starttls_without_an_answer_stops() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("smtp", &certs, &["--starttls", "--timeout", "1"], |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"EHLO client.test\r\n");
        c.send(&smtp_ehlo_reply(true));
        c.expect_line(b"STARTTLS\r\n");
        c.drain();
    });
    assert!(
        out.code == Some(EXIT_TLS) || out.code == Some(EXIT_TIMEOUT),
        "expected exit 4 or 5\n{out:?}"
    );
    out.assert_fatal();
    assert_eq!(
        log.plain_str(),
        "EHLO client.test\r\nSTARTTLS\r\n",
        "{out:?}"
    );
    // The server waits until the client goes: without a deadline it would be killed at the
    // run limit and have no exit status.
    assert!(!out.timed_out, "{out:?}");
}

#[test]
fn smtp_starttls_with_a_bad_certificate_sends_nothing_inside() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.self_signed, |c| {
        smtp_like(c, false, true)
    });
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
            &s.url("smtp"),
        ],
        &input(&["MAIL FROM:<a@example.org>"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_TLS);
    out.assert_fatal();
    assert_eq!(log.plain_str(), "EHLO client.test\r\nSTARTTLS\r\n");
    assert!(log.tls.is_empty(), "{log:?}");
}

#[test]
fn lmtp_starttls_not_advertised_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("lmtp", &certs, &["--starttls"], |c| {
        c.send(LMTP_GREETING);
        c.expect_line(b"LHLO client.test\r\n");
        c.send(&smtp_ehlo_reply(false));
        c.drain();
    });
    assert_stopped(&out, &log, "LHLO client.test\r\n");
}

#[test]
fn imap_starttls_not_advertised_in_greeting_is_refused_without_sending() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("imap", &certs, &["--starttls"], |c| {
        c.send(&imap_greeting(false));
        c.drain();
    });
    assert_stopped(&out, &log, "");
}

#[test]
fn imap_starttls_not_advertised_by_capability_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("imap", &certs, &["--starttls"], |c| {
        c.send(b"* OK ready\r\n");
        let line = c.read_line().unwrap();
        let tag = String::from_utf8_lossy(&line)
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        c.record("line", &line);
        c.send(format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n").as_bytes());
        c.drain();
    });
    let first = log.record_strs("line");
    assert_eq!(first.len(), 1);
    assert!(first[0].ends_with(" CAPABILITY\r\n"), "{log:?}");
    assert_stopped(&out, &log, &first[0]);
}

#[test]
fn imap_starttls_refused_with_no_or_bad() {
    for refusal in ["NO", "BAD"] {
        let certs = TestCerts::new();
        let (out, log) = starttls_run("imap", &certs, &["--starttls"], move |c| {
            c.send(&imap_greeting(true));
            let line = c.read_line().unwrap();
            c.record("line", &line);
            let tag = String::from_utf8_lossy(&line)
                .split(' ')
                .next()
                .unwrap()
                .to_string();
            c.send(format!("{tag} {refusal} STARTTLS failed\r\n").as_bytes());
            c.drain();
        });
        let first = log.record_strs("line");
        assert!(first[0].ends_with(" STARTTLS\r\n"), "{log:?}");
        assert_stopped(&out, &log, &first[0]);
    }
}

#[test]
fn imap_starttls_response_injection_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("imap", &certs, &["--starttls"], |c| {
        c.send(&imap_greeting(true));
        let line = c.read_line().unwrap();
        c.record("line", &line);
        let tag = String::from_utf8_lossy(&line)
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        c.send(
            format!("{tag} OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n")
                .as_bytes(),
        );
        c.drain();
    });
    let first = log.record_strs("line");
    assert!(first[0].ends_with(" STARTTLS\r\n"), "{log:?}");
    assert_stopped(&out, &log, &first[0]);
}

#[test]
fn imap_preauth_greeting_with_starttls_required_closes() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("imap", &certs, &["--starttls"], |c| {
        c.send(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in as alice\r\n");
        c.drain();
    });
    assert_stopped(&out, &log, "");
}

#[test]
fn pop3_stls_not_advertised_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("pop3", &certs, &["--starttls"], |c| {
        c.send(POP3_GREETING);
        c.expect_line(b"CAPA\r\n");
        c.send(&pop3_capa(false));
        c.drain();
    });
    assert_stopped(&out, &log, "CAPA\r\n");
}

#[test]
fn pop3_stls_refused_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("pop3", &certs, &["--starttls"], |c| {
        c.send(POP3_GREETING);
        c.expect_line(b"CAPA\r\n");
        c.send(&pop3_capa(true));
        c.expect_line(b"STLS\r\n");
        c.send(b"-ERR TLS not available\r\n");
        c.drain();
    });
    assert_stopped(&out, &log, "CAPA\r\nSTLS\r\n");
}

#[test]
fn pop3_stls_response_injection_is_refused() {
    let certs = TestCerts::new();
    let (out, log) = starttls_run("pop3", &certs, &["--starttls"], |c| {
        c.send(POP3_GREETING);
        c.expect_line(b"CAPA\r\n");
        c.send(&pop3_capa(true));
        c.expect_line(b"STLS\r\n");
        c.send(b"+OK go\r\n+OK injected\r\n");
        c.drain();
    });
    assert_stopped(&out, &log, "CAPA\r\nSTLS\r\n");
}
