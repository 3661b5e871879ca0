//! Logins with mailtalk's own client against `--user`: every SASL mechanism the server offers,
//! a wrong password, and SCRAM-SHA-256 offered only when the server knows the password.

use crate::support::mailtalk_env;

use super::{smtp_session, Raw, Serve};

const USER: &str = "bob@example.test";

fn login(url: &str, mech: &str, password: &str) -> crate::support::Output {
    let home = tempfile::tempdir().unwrap();
    mailtalk_env(
        home.path(),
        &[
            "--timeout",
            crate::support::NO_TIMEOUT,
            url,
            "--auth",
            mech,
            "--user",
            USER,
        ],
        b"",
        &[("MAILTALK_PASSWORD", password)],
    )
}

#[test]
fn every_mechanism_logs_in_and_a_wrong_password_exits_9() {
    let s = Serve::start(&["--user", "bob@example.test:pw"]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"EHLO client.test\r\n");
    let ehlo = c.until("250 ").concat();
    assert!(
        ehlo.contains("250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n"),
        "{ehlo}"
    );
    let mut i = Raw::connect(s.port("imap"));
    let greeting = i.line().unwrap();
    assert!(
        greeting.contains(" AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5 AUTH=SCRAM-SHA-256 SASL-IR "),
        "{greeting}"
    );
    let mut logins = 0;
    for url in [s.url("smtp"), s.url("pop3"), s.url("imap")] {
        for mech in ["SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN"] {
            let out = login(&url, mech, "pw");
            let text = out.stdout_str();
            assert_eq!(out.code, Some(0), "{url} {mech}: {out:?}");
            assert!(
                text.contains("** authenticated as bob@example.test"),
                "{text}"
            );
            assert!(
                !text.contains("trying anyway"),
                "{mech} not offered: {text}"
            );
            logins += 1;
            s.wait_count("] login as bob@example.test", logins);
            let out = login(&url, mech, "n0pe-x7q");
            assert_eq!(
                out.code,
                Some(9),
                "{url} {mech} with a wrong password: {out:?}"
            );
            s.wait_count("] failed login as bob@example.test", logins);
        }
    }
    // IMAP LOGIN; a user who is not configured is refused whatever the password.
    let out = login(&s.url("imap"), "IMAP-LOGIN", "pw");
    assert_eq!(out.code, Some(0), "{out:?}");
    let out = login(&s.url("imap"), "IMAP-LOGIN", "n0pe-x7q");
    assert_eq!(out.code, Some(9), "{out:?}");
    let mut i = Raw::connect(s.port("imap"));
    i.line().unwrap();
    i.send(b"a LOGIN alice@example.test pw\r\n");
    let l = i.line().unwrap();
    assert!(l.starts_with("a NO "), "{l}");
    let log = s.log();
    assert!(
        !log.contains("n0pe-x7q"),
        "a password reached the log: {log}"
    );
}

#[test]
fn scram_is_not_offered_without_user() {
    let s = Serve::start(&[]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"EHLO client.test\r\n");
    let ehlo = c.until("250 ").concat();
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN CRAM-MD5\r\n"), "{ehlo}");
    let mut p = Raw::connect(s.port("pop3"));
    p.line().unwrap();
    p.send(b"CAPA\r\n");
    let capa = p.until(".\r\n").concat();
    assert!(capa.contains("SASL PLAIN LOGIN CRAM-MD5\r\n"), "{capa}");
    let mut i = Raw::connect(s.port("imap"));
    let greeting = i.line().unwrap();
    assert!(
        greeting.contains(" AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5 SASL-IR "),
        "{greeting}"
    );
    // Asked for anyway, it is refused, and the reason is not TLS: none would help.
    p.send(b"AUTH SCRAM-SHA-256\r\n");
    let l = p.line().unwrap();
    assert!(l.starts_with("-ERR ") && !l.contains("TLS"), "{l}");
    for url in [s.url("smtp"), s.url("pop3"), s.url("imap")] {
        let out = login(&url, "SCRAM-SHA-256", "anything");
        assert_eq!(out.code, Some(9), "{url}: {out:?}");
    }
    // The other mechanisms take any password.
    let out = login(&s.url("smtp"), "CRAM-MD5", "anything");
    assert_eq!(out.code, Some(0), "{out:?}");
}
