//! Explanations, TLS details, the capability difference after STARTTLS, warnings for
//! unadvertised extensions and timing.

use crate::support::*;
use openssl::hash::MessageDigest;
use openssl::x509::X509;

#[test]
fn explain_command_covers_each_family() {
    let out = mailtalk(&["--color", "never", "explain", "550"], b"");
    out.assert_code(EXIT_OK);
    out.assert_contains("550 - SMTP reply code, permanent failure");
    out.assert_contains("RFC 5321");

    let out = mailtalk(&["--color", "never", "explain", "5.1.1"], b"");
    out.assert_code(EXIT_OK);
    out.assert_contains("5.1.1 - SMTP enhanced status code");
    out.assert_contains("Bad destination mailbox address");

    let out = mailtalk(&["--color", "never", "explain", "X.7.1"], b"");
    out.assert_code(EXIT_OK);
    out.assert_contains("Delivery not authorized, message refused");

    let out = mailtalk(&["--color", "never", "explain", "[OVERQUOTA]"], b"");
    out.assert_code(EXIT_OK);
    out.assert_contains("OVERQUOTA - IMAP response code");

    let out = mailtalk(&["--color", "never", "explain", "SYS/TEMP"], b"");
    out.assert_code(EXIT_OK);
    out.assert_contains("SYS/TEMP - POP3 response code");

    // A pasted reply line gives the basic and the enhanced code.
    let out = mailtalk(
        &[
            "--color", "never", "explain", "550", "5.7.1", "Relaying", "denied",
        ],
        b"",
    );
    out.assert_code(EXIT_OK);
    out.assert_contains("550 - SMTP reply code");
    out.assert_contains("5.7.1 - SMTP enhanced status code");

    // Unknown codes say so, and whether the class is valid; exit 1.
    let out = mailtalk(&["--color", "never", "explain", "599"], b"");
    out.assert_code(1);
    out.assert_contains("(unknown)");
    out.assert_contains("class 5 is valid");
}

#[test]
fn rejected_rcpt_is_explained_inline_and_in_the_transcript() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"RCPT TO:<nobody@example.test>\r\n");
        c.send(
            b"550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in \
              local recipient table\r\n",
        );
        smtp_loop(c, false, false);
    });
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("t.txt");
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--transcript",
            transcript.to_str().unwrap(),
            &s.url("smtp"),
        ],
        &input(&["RCPT TO:<nobody@example.test>"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    // The cause the text states first (Postfix's wording for an unknown user), then the codes.
    let line = out
        .lines()
        .into_iter()
        .find(|l| l.starts_with("   = "))
        .unwrap_or_else(|| panic!("no inline explanation\n{out:?}"));
    assert!(
        line.starts_with("   = No such local user; 550 5.1.1: permanent failure - "),
        "{line}"
    );
    assert!(line.contains("mailbox does not exist"), "{line}");
    let t = std::fs::read_to_string(&transcript).unwrap();
    assert!(t.contains("= No such local user; 550 5.1.1"), "{t}");
    // Plain successes get no explanation.
    assert!(!out.stdout_str().contains("= 221"), "{out:?}");

    // --no-explain turns it off.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"RCPT TO:<x@y>\r\n");
        c.send(b"550 5.1.1 no\r\n");
        smtp_loop(c, false, false);
    });
    let out = mailtalk(
        &["--color", "never", "--no-explain", &s.url("smtp")],
        &input(&["RCPT TO:<x@y>"]),
    );
    s.join_for(&out);
    assert!(!out.stdout_str().contains("   = "), "{out:?}");
}

#[test]
fn json_reply_events_carry_the_explanation() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"RCPT TO:<x@y>\r\n");
        c.send(b"451 4.7.1 Greylisted, try again later\r\n");
        smtp_loop(c, false, false);
    });
    let out = mailtalk(&["--json", &s.url("smtp")], &input(&["RCPT TO:<x@y>"]));
    s.join_for(&out);
    let reply = out
        .lines()
        .into_iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
        .find(|v| v["event"] == "reply" && v["code"] == 451)
        .unwrap_or_else(|| panic!("{out:?}"));
    let e = reply["explanation"].as_str().unwrap();
    assert!(
        e.starts_with("Greylisted: retry later; 451 4.7.1: temporary failure"),
        "{e}"
    );
}

#[test]
fn tls_command_shows_the_certificate_we_made() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, smtp_like_plain);
    let out = mailtalk(
        &["--color", "never", "--ca-file", certs.ca(), &s.url("smtps")],
        &input(&[":tls"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    let x509 = X509::from_pem(certs.good.cert_pem.as_bytes()).unwrap();
    let fp = x509
        .digest(MessageDigest::sha256())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    out.assert_contains(&format!("**   SHA-256  {fp}"));
    out.assert_contains("** protocol TLSv1.");
    out.assert_contains("** SNI sent: none (IP address)");
    out.assert_contains("** certificate verified (chain and host name 127.0.0.1)");
    out.assert_contains("**   SANs     DNS:localhost, IP:127.0.0.1");
    out.assert_contains("**   host     127.0.0.1 matches a SAN");
    let not_after = x509.not_after().to_string();
    out.assert_contains(&format!(" to {not_after} ("));
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("**   subject ") && l.contains("CN=")),
        "{out:?}"
    );
}

fn smtp_like_plain(c: &mut Conn) {
    smtp_like(c, false, false);
}

#[test]
fn show_cert_prints_details_when_tls_starts() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, true));
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--starttls",
            "--show-cert",
            "--ca-file",
            certs.ca(),
            &s.url("smtp"),
        ],
        b"",
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    out.assert_contains("**   certificate 0 (server):");
    // The capability difference after STARTTLS.
    out.assert_line("** after TLS: removed STARTTLS");
}

#[test]
fn warns_before_using_an_unadvertised_extension() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let out = mailtalk(
        &["--color", "never", &s.url("smtp")],
        &input(&[
            "EHLO me.test",
            "AUTH PLAIN",
            "BDAT 0 LAST",
            "MAIL FROM:<a@b> SMTPUTF8",
        ]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    out.assert_contains("!! warning: AUTH is an extension, but the server did not advertise it");
    out.assert_contains("!! warning: BDAT needs CHUNKING, but the server did not advertise it");
    out.assert_contains(
        "!! warning: SMTPUTF8 is an extension, but the server did not advertise it",
    );
    // The warning comes before the command it is about.
    let w = out.index_starting("!! warning: AUTH").unwrap();
    let c = out.index_starting("C: AUTH PLAIN").unwrap();
    assert!(w < c, "{out:?}");

    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let out = mailtalk(
        &["--color", "never", &s.url("imap")],
        &input(&["CAPABILITY", "ID NIL"]),
    );
    s.join_for(&out);
    out.assert_contains("!! warning: ID is an extension, but the server did not advertise it");
}

#[test]
fn timing_reports_each_step() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, smtp_like_plain);
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timing",
            "--ca-file",
            certs.ca(),
            &s.url("smtps"),
        ],
        &input(&["NOOP", ":stats"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(out.index_starting("** time connect: ").is_some(), "{out:?}");
    assert!(
        out.index_starting("** time TLS handshake: ").is_some(),
        "{out:?}"
    );
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("** time reply 250: first byte ") && l.contains(", complete ")),
        "{out:?}"
    );
    assert!(
        out.index_starting("** 2 replies: fastest ").is_some(),
        "{out:?}"
    );
    assert!(
        out.index_starting("** TLS handshake 1: ").is_some(),
        "{out:?}"
    );
}
