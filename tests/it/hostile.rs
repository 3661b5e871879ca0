//! A hostile or broken server against the built binary: each case is exact bytes, delays and
//! closes, checked against security.md items 1–18. What the client sent, its exit status and
//! what it printed are asserted; memory is measured where the item is a bound. Time is printed
//! (`[measure]` lines) but decides nothing: a misbehaviour lasts until the client goes, so a
//! client without its deadline is killed at the run limit and fails on its exit status.
//!
//! Also runs the fuzz targets' checks (fuzz/src/lib.rs) on their seed corpora.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use base64::Engine as _;

#[allow(dead_code)]
use crate::fuzz_checks;

const PW: &str = "s3cr3t-pw";
const USER: &str = "alice";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every form in which the password could leak: as typed, and inside AUTH PLAIN / LOGIN
/// payloads.
fn secret_forms() -> Vec<String> {
    vec![
        PW.to_string(),
        b64(PW.as_bytes()),
        b64(format!("\0{USER}\0{PW}").as_bytes()),
        b64(format!("{USER}\0{USER}\0{PW}").as_bytes()),
    ]
}

#[track_caller]
fn assert_no_secret(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for s in secret_forms() {
        assert!(
            !text.contains(&s),
            "{what} holds the password (as {s:?}):\n{text}"
        );
    }
}

/// Runs the binary with `--color never` first, MAILTALK_PASSWORD set.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut all = vec!["--color", "never"];
    all.extend_from_slice(args);
    mailtalk_env(home.path(), &all, stdin, &[("MAILTALK_PASSWORD", PW)])
}

/// The tag of an IMAP command line.
fn tag_of(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string()
}

/// Bytes that may follow the command that asked for STARTTLS: nothing, or the start of a TLS
/// handshake (a ClientHello record), never a command.
#[track_caller]
fn assert_only_hello_after(plain: &[u8], prefix: &str, out: &Output) {
    let text = String::from_utf8_lossy(plain);
    assert!(
        plain.starts_with(prefix.as_bytes()),
        "the client did not send exactly {prefix:?} first: {}\n{out:?}",
        show_bytes(plain)
    );
    let rest = &plain[prefix.len()..];
    assert!(
        rest.is_empty() || rest[0] == 0x16,
        "after STARTTLS the client sent something other than a TLS handshake: {}\n{out:?}",
        show_bytes(rest)
    );
    for word in [
        "AUTH",
        "MAIL",
        "LOGIN",
        "USER",
        "PASS",
        "CAPA\r\n",
        "EHLO client.test\r\n",
    ] {
        assert_eq!(
            text.matches(word).count(),
            prefix.matches(word).count(),
            "{word} was sent again after the STARTTLS failure\n{out:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Items 1 and 2: STARTTLS stripped, refused, unanswered, attacked; with credentials at hand.

/// Runs `--starttls` (with `--user alice` and the password in the environment, so there are
/// credentials that must not leave) against `handler`.
fn starttls_case(
    scheme: &str,
    timeout: &str,
    handler: impl FnOnce(&mut Conn) + Send + 'static,
) -> (Output, Log) {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, handler);
    let url = s.url(scheme);
    let out = run(
        &[
            "--starttls",
            "--timeout",
            timeout,
            "--ehlo",
            "client.test",
            "--ca-file",
            certs.ca(),
            "--user",
            USER,
            &url,
        ],
        &input(&[
            "MAIL FROM:<a@example.org>",
            &format!("LOGIN {USER} {PW}"),
            &format!("USER {USER}"),
            &format!("PASS {PW}"),
        ]),
    );
    let log = s.join_for(&out);
    assert_no_secret("the wire", &log.all_received());
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    assert!(
        !log.tls_established && log.tls.is_empty(),
        "TLS after a STARTTLS failure?\n{log:?}\n{out:?}"
    );
    (out, log)
}

/// Exit 4 (5 where `timeout_ok`), a fatal error, nothing after `prefix` but a handshake.
#[track_caller]
fn assert_starttls_stopped(out: &Output, log: &Log, prefix: &str, timeout_ok: bool) {
    let ok_codes: &[i32] = if timeout_ok {
        &[EXIT_TLS, EXIT_TIMEOUT]
    } else {
        &[EXIT_TLS]
    };
    assert!(
        out.code.is_some_and(|c| ok_codes.contains(&c)),
        "exit {:?}, expected one of {ok_codes:?}\n{out:?}",
        out.code
    );
    out.assert_fatal();
    assert_only_hello_after(&log.plain, prefix, out);
    for marker in ["C# ", "S# ", "C! ", "S! "] {
        assert!(out.index_starting(marker).is_none(), "{marker}\n{out:?}");
    }
}

/// What a protocol's STARTTLS dialogue looks like up to the STARTTLS command.
#[derive(Clone, Copy)]
enum P {
    Smtp,
    Lmtp,
    Imap,
    Pop3,
}

impl P {
    fn scheme(self) -> &'static str {
        match self {
            P::Smtp => "smtp",
            P::Lmtp => "lmtp",
            P::Imap => "imap",
            P::Pop3 => "pop3",
        }
    }

    const ALL: [P; 4] = [P::Smtp, P::Lmtp, P::Imap, P::Pop3];

    /// Greets, answers the capability request with STARTTLS offered and reads the STARTTLS
    /// command. Returns the IMAP tag of STARTTLS ("" for the others).
    fn up_to_starttls(self, c: &mut Conn) -> String {
        match self {
            P::Smtp | P::Lmtp => {
                c.send(if matches!(self, P::Lmtp) {
                    LMTP_GREETING
                } else {
                    SMTP_GREETING
                });
                let hello = if matches!(self, P::Lmtp) {
                    "LHLO"
                } else {
                    "EHLO"
                };
                c.expect_line(format!("{hello} client.test\r\n").as_bytes());
                c.send(&smtp_ehlo_reply(true));
                c.expect_line(b"STARTTLS\r\n");
                String::new()
            }
            P::Imap => {
                c.send(&imap_greeting(true));
                let line = c.read_line().unwrap();
                assert!(line.ends_with(b" STARTTLS\r\n"), "{}", show_bytes(&line));
                tag_of(&line)
            }
            P::Pop3 => {
                c.send(POP3_GREETING);
                c.expect_line(b"CAPA\r\n");
                c.send(&pop3_capa(true));
                c.expect_line(b"STLS\r\n");
                String::new()
            }
        }
    }

    /// What the client sent up to and including STARTTLS (IMAP tag `A001`).
    fn prefix(self) -> &'static str {
        match self {
            P::Smtp => "EHLO client.test\r\nSTARTTLS\r\n",
            P::Lmtp => "LHLO client.test\r\nSTARTTLS\r\n",
            P::Imap => "A001 STARTTLS\r\n",
            P::Pop3 => "CAPA\r\nSTLS\r\n",
        }
    }

    /// A positive answer to STARTTLS.
    fn go(self, tag: &str) -> String {
        match self {
            P::Smtp | P::Lmtp => "220 2.0.0 Ready to start TLS\r\n".into(),
            P::Imap => format!("{tag} OK Begin TLS negotiation now\r\n"),
            P::Pop3 => "+OK Begin TLS negotiation\r\n".into(),
        }
    }

    /// A refusal of STARTTLS.
    fn refusal(self, tag: &str) -> String {
        match self {
            P::Smtp | P::Lmtp => "454 4.7.0 TLS not available due to local problem\r\n".into(),
            P::Imap => format!("{tag} NO [UNAVAILABLE] TLS not available\r\n"),
            P::Pop3 => "-ERR [SYS/TEMP] TLS not available\r\n".into(),
        }
    }
}

#[test]
fn starttls_refused_stops_for_every_protocol() {
    for p in P::ALL {
        let (out, log) = starttls_case(p.scheme(), NO_TIMEOUT, move |c| {
            let tag = p.up_to_starttls(c);
            c.send(p.refusal(&tag).as_bytes());
            c.drain();
        });
        assert_starttls_stopped(&out, &log, p.prefix(), false);
        assert_eq!(log.plain_str(), p.prefix(), "{out:?}");
    }
}

#[test]
fn starttls_without_an_answer_stops_for_every_protocol() {
    for p in P::ALL {
        let (out, log) = starttls_case(p.scheme(), "1", move |c| {
            p.up_to_starttls(c);
            c.drain();
        });
        // The server waits until the client closes: one without a deadline would be killed
        // at the run limit (no exit status).
        assert_starttls_stopped(&out, &log, p.prefix(), true);
        assert_eq!(log.plain_str(), p.prefix(), "{out:?}");
    }
}

#[test]
fn starttls_not_offered_never_sends_credentials() {
    for p in P::ALL {
        let (out, log) = starttls_case(p.scheme(), NO_TIMEOUT, move |c| match p {
            P::Smtp | P::Lmtp => {
                c.send(SMTP_GREETING);
                c.read_line();
                c.send(&smtp_ehlo_reply(false));
                c.drain();
            }
            P::Imap => {
                c.send(&imap_greeting(false));
                c.drain();
            }
            P::Pop3 => {
                c.send(POP3_GREETING);
                c.read_line();
                c.send(&pop3_capa(false));
                c.drain();
            }
        });
        let prefix = match p {
            P::Smtp => "EHLO client.test\r\n",
            P::Lmtp => "LHLO client.test\r\n",
            P::Imap => "",
            P::Pop3 => "CAPA\r\n",
        };
        assert_starttls_stopped(&out, &log, prefix, false);
        assert_eq!(log.plain_str(), prefix, "{out:?}");
    }
}

#[test]
fn starttls_injection_in_one_segment_stops_for_every_protocol() {
    for p in P::ALL {
        let (out, log) = starttls_case(p.scheme(), NO_TIMEOUT, move |c| {
            let tag = p.up_to_starttls(c);
            let mut bytes = p.go(&tag).into_bytes();
            bytes.extend_from_slice(match p {
                P::Smtp | P::Lmtp => b"250-AUTH PLAIN\r\n250 OK\r\n",
                P::Imap => b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n",
                P::Pop3 => b"+OK injected\r\n",
            });
            c.send(&bytes);
            c.drain();
        });
        assert_starttls_stopped(&out, &log, p.prefix(), false);
        assert_eq!(log.plain_str(), p.prefix(), "{out:?}");
        assert!(
            out.stdout_str().contains("injection"),
            "the error does not say what happened\n{out:?}"
        );
    }
}

#[test]
fn starttls_injection_of_a_partial_line_stops_for_every_protocol() {
    for p in P::ALL {
        let (out, log) = starttls_case(p.scheme(), NO_TIMEOUT, move |c| {
            let tag = p.up_to_starttls(c);
            let mut bytes = p.go(&tag).into_bytes();
            bytes.extend_from_slice(b"2");
            c.send(&bytes);
            c.drain();
        });
        assert_starttls_stopped(&out, &log, p.prefix(), false);
        assert_eq!(log.plain_str(), p.prefix(), "{out:?}");
    }
}

#[test]
fn starttls_injection_in_a_later_segment_breaks_the_handshake() {
    // The injected bytes come after the ClientHello has begun to arrive: the client is in its
    // handshake by then and must take them as a broken handshake, never as a reply.
    for p in P::ALL {
        let (out, log) = starttls_case(p.scheme(), NO_TIMEOUT, move |c| {
            let tag = p.up_to_starttls(c);
            c.send(p.go(&tag).as_bytes());
            c.read_exact(5);
            c.send(b"250 AUTH PLAIN\r\n* OK [CAPABILITY AUTH=PLAIN] x\r\n+OK x\r\n");
            c.drain();
        });
        assert_starttls_stopped(&out, &log, p.prefix(), false);
    }
}

#[test]
fn starttls_accepted_then_closed_or_plaintext_stops() {
    for p in P::ALL {
        for close in [true, false] {
            let (out, log) = starttls_case(p.scheme(), NO_TIMEOUT, move |c| {
                let tag = p.up_to_starttls(c);
                c.send(p.go(&tag).as_bytes());
                if close {
                    c.close();
                } else {
                    // Not a handshake: a plaintext line after the client's ClientHello.
                    c.read_exact(5);
                    c.send(b"250 2.0.0 plaintext, not TLS\r\n");
                    c.drain();
                }
            });
            assert!(
                out.code == Some(EXIT_TLS) || out.code == Some(EXIT_CONNECT),
                "exit 3 or 4 expected\n{out:?}"
            );
            out.assert_fatal();
            assert_only_hello_after(&log.plain, p.prefix(), &out);
        }
    }
}

#[test]
fn starttls_with_a_negative_greeting_sends_nothing() {
    for (p, greeting) in [
        (P::Smtp, &b"554 5.3.2 go away\r\n"[..]),
        (P::Lmtp, b"421 4.3.2 shutting down\r\n"),
        (P::Imap, b"* BYE [UNAVAILABLE] go away\r\n"),
        (P::Pop3, b"-ERR [SYS/PERM] go away\r\n"),
    ] {
        let smtp_554 = matches!(p, P::Smtp);
        let (out, log) = starttls_case(p.scheme(), NO_TIMEOUT, move |c| {
            c.send(greeting);
            if smtp_554 {
                // After a 554 greeting the client says QUIT (RFC 5321 3.1) and waits for 221.
                assert_eq!(c.read_line().as_deref(), Some(&b"QUIT\r\n"[..]));
                c.send(b"221 2.0.0 Bye\r\n");
            }
            c.drain();
        });
        // The server refused the session: exit 3, said as such.
        out.assert_code(EXIT_CONNECT);
        out.assert_contains("!! error: the server refused the session: ");
        out.assert_fatal();
        let polite: &[u8] = if smtp_554 { b"QUIT\r\n" } else { b"" };
        assert_eq!(log.plain, polite, "{log:?}\n{out:?}");
    }
}

#[test]
fn submission_refusal_and_injection_stop() {
    for inject in [false, true] {
        let (out, log) = starttls_case("submission", NO_TIMEOUT, move |c| {
            P::Smtp.up_to_starttls(c);
            if inject {
                c.send(b"220 go\r\n235 2.7.0 Authentication successful\r\n");
            } else {
                c.send(b"502 5.5.1 no\r\n");
            }
            c.drain();
        });
        assert_starttls_stopped(&out, &log, P::Smtp.prefix(), false);
    }
}

// ---------------------------------------------------------------------------
// Item 3: after the handshake everything learned in plaintext is forgotten.

#[test]
fn capabilities_from_plaintext_are_forgotten_after_starttls() {
    let certs = TestCerts::new();
    for p in [P::Smtp, P::Imap, P::Pop3] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            match p {
                P::Smtp | P::Lmtp => {
                    c.send(SMTP_GREETING);
                    c.expect_line(b"EHLO client.test\r\n");
                    c.send(b"250-localhost\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 X-PLAIN-ONLY\r\n");
                    c.expect_line(b"STARTTLS\r\n");
                    c.send(b"220 2.0.0 go\r\n");
                    assert!(c.start_tls());
                    c.expect_line(b"EHLO client.test\r\n");
                    c.send(b"250-localhost\r\n250-AUTH SCRAM-SHA-256\r\n250 X-TLS-ONLY\r\n");
                    smtp_loop(c, false, false);
                }
                P::Imap => {
                    c.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN X-PLAIN-ONLY] hi\r\n");
                    let line = c.read_line().unwrap();
                    let tag = tag_of(&line);
                    // A capability code in the STARTTLS reply is plaintext too.
                    c.send(
                        format!("{tag} OK [CAPABILITY IMAP4rev1 AUTH=PLAIN X-STALE] go\r\n")
                            .as_bytes(),
                    );
                    assert!(c.start_tls());
                    let line = c.read_line().unwrap();
                    let tag = tag_of(&line);
                    assert!(line.ends_with(b" CAPABILITY\r\n"));
                    c.send(
                        format!(
                            "* CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256 X-TLS-ONLY\r\n{tag} OK done\r\n"
                        )
                        .as_bytes(),
                    );
                    imap_loop(c, false);
                }
                P::Pop3 => {
                    c.send(POP3_GREETING);
                    c.expect_line(b"CAPA\r\n");
                    c.send(b"+OK\r\nUSER\r\nSTLS\r\nX-PLAIN-ONLY\r\n.\r\n");
                    c.expect_line(b"STLS\r\n");
                    c.send(b"+OK go\r\n");
                    assert!(c.start_tls());
                    c.expect_line(b"CAPA\r\n");
                    c.send(b"+OK\r\nSASL SCRAM-SHA-256\r\nX-TLS-ONLY\r\n.\r\n");
                    pop3_loop(c, false);
                }
            }
        });
        let out = run(
            &[
                "--starttls",
                "--timeout",
                NO_TIMEOUT,
                "--ehlo",
                "client.test",
                "--ca-file",
                certs.ca(),
                &s.url(p.scheme()),
            ],
            &input(&[":caps"]),
        );
        let log = s.join_for(&out);
        out.assert_code(EXIT_OK);
        assert!(log.tls_established);
        let after = out
            .lines()
            .into_iter()
            .find(|l| l.starts_with("** after TLS: "))
            .unwrap_or_else(|| panic!("no capability difference shown\n{out:?}"));
        assert!(after.contains("X-TLS-ONLY"), "{after}");
        // What was known last in plaintext is what TLS replaced: for IMAP the capability
        // code of the STARTTLS reply.
        let stale = if matches!(p, P::Imap) {
            "X-STALE"
        } else {
            "X-PLAIN-ONLY"
        };
        assert!(
            after.contains("removed") && after.contains(stale),
            "{after}"
        );
        let shown_after_tls = out.stdout_str();
        let caps_part = &shown_after_tls[shown_after_tls.find("** after TLS: ").unwrap()..];
        let caps_part = &caps_part[caps_part.find('\n').unwrap()..];
        for stale in [
            "X-PLAIN-ONLY",
            "X-STALE",
            "AUTH PLAIN",
            "AUTH=PLAIN",
            "STLS",
            "STARTTLS",
        ] {
            assert!(
                !caps_part.contains(stale),
                "{stale} still known after TLS\n{out:?}"
            );
        }
        assert!(caps_part.contains("X-TLS-ONLY"), "{out:?}");
    }
}

// ---------------------------------------------------------------------------
// Item 4: PREAUTH when TLS is required.

#[test]
fn imap_preauth_variants_with_starttls_close() {
    for greeting in [
        &b"* PREAUTH IMAP4rev1 server logged in as alice\r\n"[..],
        b"* preauth [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n",
        b"* PREAUTH\r\n",
    ] {
        let (out, log) = starttls_case("imap", NO_TIMEOUT, move |c| {
            c.send(greeting);
            c.drain();
        });
        out.assert_code(EXIT_TLS);
        out.assert_fatal();
        assert!(log.plain.is_empty(), "{log:?}\n{out:?}");
        assert!(out.stdout_str().contains("PREAUTH"), "{out:?}");
    }
}

// ---------------------------------------------------------------------------
// Item 5: certificates, for implicit TLS and STARTTLS, every protocol.

#[track_caller]
fn assert_refused_cert(out: &Output, log: &Log) {
    out.assert_code(EXIT_TLS);
    out.assert_fatal();
    assert!(
        log.tls.is_empty(),
        "data inside a refused TLS session\n{log:?}"
    );
    assert_no_secret("the wire", &log.all_received());
    for marker in ["C# ", "S# ", "C! ", "S! "] {
        assert!(out.index_starting(marker).is_none(), "{marker}\n{out:?}");
    }
}

#[test]
fn bad_certificates_are_refused_with_implicit_tls() {
    let certs = TestCerts::new();
    for scheme in ["smtps", "pop3s", "imaps"] {
        for cert in [&certs.expired, &certs.self_signed, &certs.wrong_host] {
            let s = Server::start(Mode::ImplicitTls, cert, move |c| match scheme {
                "smtps" => smtp_like(c, false, false),
                "pop3s" => pop3_like(c, false),
                _ => imap_like(c, false),
            });
            let out = run(
                &[
                    "--timeout",
                    NO_TIMEOUT,
                    "--ca-file",
                    certs.ca(),
                    &s.url(scheme),
                ],
                &input(&["NOOP"]),
            );
            let log = s.join_for(&out);
            assert_refused_cert(&out, &log);
            assert!(
                log.plain.is_empty() || log.plain[0] == 0x16,
                "{scheme} {}: {log:?}",
                cert.label
            );
        }
    }
}

#[test]
fn bad_certificates_are_refused_after_starttls() {
    let certs = TestCerts::new();
    for p in P::ALL {
        for cert in [&certs.expired, &certs.self_signed, &certs.wrong_host] {
            let s = Server::start(Mode::Plain, cert, move |c| match p {
                P::Smtp => smtp_like(c, false, true),
                P::Lmtp => smtp_like(c, true, true),
                P::Imap => imap_like(c, true),
                P::Pop3 => pop3_like(c, true),
            });
            let out = run(
                &[
                    "--starttls",
                    "--timeout",
                    NO_TIMEOUT,
                    "--ehlo",
                    "client.test",
                    "--user",
                    USER,
                    "--ca-file",
                    certs.ca(),
                    &s.url(p.scheme()),
                ],
                &input(&["NOOP"]),
            );
            let log = s.join_for(&out);
            assert_refused_cert(&out, &log);
            let plain = log.plain_str();
            let prefix = p.prefix();
            assert!(
                plain.starts_with(prefix),
                "{} {}: {plain:?}\n{out:?}",
                p.scheme(),
                cert.label
            );
            assert!(
                log.records("before-handshake").is_empty(),
                "bytes before the handshake: {log:?}"
            );
            assert!(
                out.stdout_str().contains("certificate") || out.stdout_str().contains("verif"),
                "the error does not name the certificate\n{out:?}"
            );
        }
    }
}

#[test]
fn starttls_sends_sni_and_checks_the_name() {
    let certs = TestCerts::new();
    for p in P::ALL {
        let s = Server::start(Mode::Plain, &certs.good, move |c| match p {
            P::Smtp => smtp_like(c, false, true),
            P::Lmtp => smtp_like(c, true, true),
            P::Imap => imap_like(c, true),
            P::Pop3 => pop3_like(c, true),
        });
        let url = format!("{}://localhost:{}", p.scheme(), s.port());
        let out = run(
            &[
                "-4",
                "--starttls",
                "--timeout",
                NO_TIMEOUT,
                "--ehlo",
                "client.test",
                "--ca-file",
                certs.ca(),
                &url,
            ],
            &input(&["NOOP"]),
        );
        let log = s.join_for(&out);
        out.assert_code(EXIT_OK);
        assert_eq!(log.sni.as_deref(), Some("localhost"), "{log:?}");
        assert!(out.index_starting("C# ").is_some(), "{out:?}");
    }
}

/// A certificate whose subject holds terminal escapes, signed by a fresh CA.
fn escape_cert() -> ServerCert {
    use rcgen::{CertificateParams, DnType, KeyPair};
    let dir = tempfile::tempdir().unwrap().keep();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(
        DnType::CommonName,
        "evil\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m",
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Org\r\nS: 250 fake");
    let cert = params.self_signed(&key).unwrap();
    let cert_file = dir.join("escape.crt");
    let key_file = dir.join("escape.key");
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    ServerCert {
        label: "escape",
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_file,
        key_file,
    }
}

#[test]
fn certificate_subject_with_escapes_is_shown_visibly_under_insecure() {
    let cert = escape_cert();
    for color in ["never", "always"] {
        for scheme in ["imaps", "imaps-json"] {
            let json = scheme.ends_with("json");
            let s = Server::start(Mode::ImplicitTls, &cert, |c| imap_like(c, false));
            let url = s.url("imaps");
            let mut args = vec![
                "--color",
                color,
                "--insecure",
                "--timeout",
                NO_TIMEOUT,
                &url,
            ];
            if json {
                args.push("--json");
            }
            let home = tempfile::tempdir().unwrap();
            let out = mailtalk_in(home.path(), &args, &input(&["NOOP"]));
            s.join_for(&out);
            out.assert_code(EXIT_OK);
            let plain = strip_sgr_checked(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out:?}"));
            assert_no_raw_controls("stdout", &plain, &out);
            assert_no_raw_controls("stderr", &out.stderr, &out);
            let text = String::from_utf8_lossy(&plain);
            assert!(text.contains("evil"), "the subject is not shown\n{out:?}");
            assert!(!text.contains("\nS: 250 fake"), "{out:?}");
        }
    }
}

/// `--tls-info --json` with that certificate: the subject, chosen by the server, comes back
/// exactly from the JSON, and the line holds no character a terminal acts on.
#[test]
fn tls_info_json_hardens_the_certificate_subject() {
    let cert = escape_cert();
    let s = Server::start_multi(Mode::ImplicitTls, &cert, 4, |c, _| imap_like(c, false));
    let url = s.url("imaps");
    let out = mailtalk(
        &["--timeout", NO_TIMEOUT, "--tls-info", "--json", &url],
        b"",
    );
    s.join_all();
    out.assert_code(EXIT_OK);
    assert_no_raw_controls("stdout", &out.stdout, &out);
    assert_no_raw_controls("stderr", &out.stderr, &out);
    let text = out.stdout_str();
    assert!(!text.contains('\u{9b}'), "{out:?}");
    assert_eq!(text.lines().count(), 1, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    let accepted: Vec<&serde_json::Value> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["result"] == "accepted")
        .collect();
    assert!(!accepted.is_empty(), "{v}");
    for p in accepted {
        let subject = p["tls"]["chain"][0]["subject"].as_str().unwrap();
        assert!(subject.contains("evil"), "{subject:?}");
        assert!(subject.contains("Org"), "{subject:?}");
    }
}

// ---------------------------------------------------------------------------
// Item 6: IMAP referrals are never followed.

#[test]
fn imap_referral_is_not_followed() {
    let certs = TestCerts::new();
    let other = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let referral = format!("imap://alice@127.0.0.1:{}/INBOX", other.port());
    let r2 = referral.clone();
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        c.send(format!("* BYE [REFERRAL {r2}] try elsewhere\r\n").as_bytes());
        c.close();
    });
    let out = run(
        &["--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&["NOOP"]),
    );
    s.join_for(&out);
    let log2 = other.join();
    assert!(!log2.connected, "the client followed the referral\n{out:?}");
    assert!(out.code.is_some(), "{out:?}");
    out.assert_line(&format!("S: * BYE [REFERRAL {referral}] try elsewhere"));

    // A referral in a tagged NO to LOGIN.
    let other = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let referral = format!("imap://alice@127.0.0.1:{}/", other.port());
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        c.send(b"* OK ready\r\n");
        let line = c.read_line().unwrap();
        let tag = tag_of(&line);
        c.send(format!("{tag} NO [REFERRAL {referral}] go there\r\n").as_bytes());
        imap_loop(c, false);
    });
    let out = run(
        &["--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&["LOGIN alice secret", "NOOP"]),
    );
    s.join_for(&out);
    let log2 = other.join();
    out.assert_code(EXIT_OK);
    assert!(!log2.connected, "the client followed the referral\n{out:?}");
}

// ---------------------------------------------------------------------------
// Items 11 and 12: control bytes, invalid UTF-8, bare CR and LF, wherever server text shows.

/// Bytes a terminal would act on, with what must be shown instead.
const NASTY: &[(&[u8], &str)] = &[
    (b"\x1b[31m", "\\x1b[31m"),
    (b"\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    (b"\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    (b"\x1b]8;;http://x\x1b\\", "\\x1b]8;;http://x\\x1b\\"),
    (b"\xc2\x9b31m", "\\u{9b}31m"),
    (b"\xc2\x85", "\\u{85}"),
    (b"\x07", "\\x07"),
    (b"a\rb", "a\\rb"),
    (b"\x00", "\\0"),
    (b"\xff\xfe", "\\xff\\xfe"),
    (b"\xe2\x80\xae", "\\u{202e}"),
    (b"\x08\x7f", "\\x08\\x7f"),
];

fn nasty_text() -> Vec<u8> {
    let mut v = Vec::new();
    for (i, (bytes, _)) in NASTY.iter().enumerate() {
        v.extend_from_slice(format!(" <{i}>").as_bytes());
        v.extend_from_slice(bytes);
    }
    v.extend_from_slice(b" <end>");
    v
}

/// Checks stdout and stderr of a run: no raw control byte (with colours: no ESC but SGR
/// sequences), and every nasty piece shown in its visible form, in order, on one line.
#[track_caller]
fn assert_shown_visibly(out: &Output, colour: bool, marker: &str) {
    let plain = if colour {
        strip_sgr_checked(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out:?}"))
    } else {
        out.stdout.clone()
    };
    assert_no_raw_controls("stdout", &plain, out);
    assert_no_raw_controls("stderr", &out.stderr, out);
    let text = String::from_utf8_lossy(&plain).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains(marker) && l.contains("<0>"))
        .unwrap_or_else(|| panic!("no line with {marker:?} and the nasty text\n{out:?}"));
    let mut rest = line;
    for (i, (_, visible)) in NASTY.iter().enumerate() {
        let want = format!("<{i}>{visible}");
        let at = rest
            .find(&want)
            .unwrap_or_else(|| panic!("{want:?} not shown (in order) in {line:?}\n{out:?}"));
        rest = &rest[at + want.len()..];
    }
    assert!(rest.contains("<end>"), "{line:?}");
}

/// Where the nasty text goes in each protocol, and the input that makes the client show it.
fn nasty_cases() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        ("smtp", "greeting", vec!["NOOP"]),
        ("smtp", "reply", vec!["NOOP"]),
        ("smtp", "ehlo-caps", vec!["EHLO client.test", ":caps"]),
        ("smtp", "starttls-refusal", vec![]),
        ("smtp", "auth-challenge", vec![]),
        ("imap", "greeting", vec!["NOOP"]),
        ("imap", "capability", vec!["CAPABILITY", ":caps"]),
        ("imap", "literal", vec!["FETCH 1 BODY[]"]),
        ("imap", "tagged-status", vec!["NOOP"]),
        ("imap", "untagged", vec!["NOOP"]),
        ("pop3", "greeting", vec!["NOOP"]),
        ("pop3", "capa", vec!["CAPA", ":caps"]),
        ("pop3", "retr", vec!["RETR 1"]),
        ("pop3", "err", vec!["NOOP"]),
    ]
}

fn nasty_handler(proto: &'static str, place: &'static str) -> impl FnOnce(&mut Conn) + Send {
    move |c: &mut Conn| {
        let n = nasty_text();
        let cat = |a: &[u8], b: &[u8], c: &[u8]| [a, b, c].concat();
        match (proto, place) {
            ("smtp", "greeting") => {
                c.send(&cat(b"220 NASTY", &n, b"\r\n"));
                smtp_loop(c, false, false);
            }
            ("smtp", "reply") => {
                c.send(SMTP_GREETING);
                c.read_line();
                c.send(&cat(b"250-first\r\n250-NASTY", &n, b"\r\n250 last\r\n"));
                smtp_loop(c, false, false);
            }
            ("smtp", "ehlo-caps") => {
                c.send(SMTP_GREETING);
                c.read_line();
                c.send(&cat(
                    b"250-localhost\r\n250-X-NASTY",
                    &n,
                    b"\r\n250 SIZE 1000\r\n",
                ));
                smtp_loop(c, false, false);
            }
            ("smtp", "starttls-refusal") => {
                c.send(SMTP_GREETING);
                c.read_line();
                c.send(&smtp_ehlo_reply(true));
                c.read_line();
                c.send(&cat(b"454 4.7.0 NASTY", &n, b"\r\n"));
                c.drain();
            }
            ("smtp", "auth-challenge") => {
                c.send(SMTP_GREETING);
                c.read_line();
                c.send(b"250-localhost\r\n250 AUTH LOGIN\r\n");
                c.read_line();
                let challenge = cat(b"NASTY", &n, b"");
                c.send(format!("334 {}\r\n", b64(&challenge)).as_bytes());
                c.read_line();
                c.send(b"501 5.7.0 no\r\n");
                smtp_loop(c, false, false);
            }
            ("imap", "greeting") => {
                c.send(&cat(b"* OK NASTY", &n, b"\r\n"));
                imap_loop(c, false);
            }
            ("imap", "capability") => {
                c.send(b"* OK hi\r\n");
                let line = c.read_line().unwrap();
                let tag = tag_of(&line);
                c.send(&cat(b"* CAPABILITY IMAP4rev1 X-NASTY", &n, b"\r\n"));
                c.send(format!("{tag} OK done\r\n").as_bytes());
                imap_loop(c, false);
            }
            ("imap", "literal") => {
                c.send(b"* OK hi\r\n");
                let line = c.read_line().unwrap();
                let tag = tag_of(&line);
                let body = cat(b"Subject: NASTY", &n, b"\r\n");
                let mut r = format!("* 1 FETCH (BODY[] {{{}}}\r\n", body.len()).into_bytes();
                r.extend_from_slice(&body);
                r.extend_from_slice(format!(")\r\n{tag} OK done\r\n").as_bytes());
                c.send(&r);
                imap_loop(c, false);
            }
            ("imap", "tagged-status") => {
                c.send(b"* OK hi\r\n");
                let line = c.read_line().unwrap();
                let tag = tag_of(&line);
                // The status word itself is hostile: it ends up in a warning.
                let mut r = format!("{tag} ").into_bytes();
                r.extend_from_slice(b"\x1b[31mOK\x07 NASTY");
                r.extend_from_slice(&n);
                r.extend_from_slice(b"\r\n");
                r.extend_from_slice(format!("{tag} OK NASTY").as_bytes());
                r.extend_from_slice(&n);
                r.extend_from_slice(b"\r\n");
                c.send(&r);
                imap_loop(c, false);
            }
            ("imap", "untagged") => {
                c.send(b"* OK hi\r\n");
                let line = c.read_line().unwrap();
                let tag = tag_of(&line);
                let mut r = cat(b"* 1 EXISTS NASTY", &n, b"\r\n");
                r.extend_from_slice(&cat(b"\x1b[1mZ9\x1b[0m OK", &n, b"\r\n"));
                r.extend_from_slice(format!("{tag} OK done\r\n").as_bytes());
                c.send(&r);
                imap_loop(c, false);
            }
            ("pop3", "greeting") => {
                c.send(&cat(b"+OK NASTY", &n, b"\r\n"));
                pop3_loop(c, false);
            }
            ("pop3", "capa") => {
                c.send(POP3_GREETING);
                c.read_line();
                c.send(&cat(b"+OK\r\nUSER\r\nX-NASTY", &n, b"\r\n.\r\n"));
                pop3_loop(c, false);
            }
            ("pop3", "retr") => {
                c.send(POP3_GREETING);
                c.read_line();
                c.send(&cat(b"+OK\r\nSubject: NASTY", &n, b"\r\n..dot\r\n.\r\n"));
                pop3_loop(c, false);
            }
            ("pop3", "err") => {
                c.send(POP3_GREETING);
                c.read_line();
                c.send(&cat(b"-ERR [IN-USE] NASTY", &n, b"\r\n"));
                pop3_loop(c, false);
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn control_bytes_are_shown_visibly_everywhere() {
    let certs = TestCerts::new();
    for (proto, place, lines) in nasty_cases() {
        for colour in ["never", "always"] {
            let s = Server::start(Mode::Plain, &certs.good, nasty_handler(proto, place));
            let url = s.url(proto);
            let mut args = vec![
                "--color",
                colour,
                "--timeout",
                NO_TIMEOUT,
                "--ehlo",
                "client.test",
            ];
            match place {
                "starttls-refusal" => args.push("--starttls"),
                "auth-challenge" => args.extend_from_slice(&["--auth", "LOGIN", "--user", USER]),
                _ => {}
            }
            args.push(&url);
            let home = tempfile::tempdir().unwrap();
            let out = mailtalk_env(
                home.path(),
                &args,
                &input(&lines),
                &[("MAILTALK_PASSWORD", PW)],
            );
            s.join_for(&out);
            assert!(
                out.code.is_some() && !out.timed_out,
                "{proto} {place}: the client hung\n{out:?}"
            );
            if place == "auth-challenge" {
                // Invalid UTF-8 in a decoded challenge is checked on its own below.
                let plain =
                    strip_sgr_checked(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out:?}"));
                assert_no_raw_controls("stdout", &plain, &out);
                let text = String::from_utf8_lossy(&plain);
                assert!(text.contains("<0>\\x1b[31m <1>"), "{out:?}");
            } else {
                assert_shown_visibly(&out, colour == "always", "NASTY");
            }
            if colour == "always" {
                assert!(out.stdout.contains(&0x1b), "no colour at all\n{out:?}");
            }
            if place == "starttls-refusal" {
                out.assert_code(EXIT_TLS);
                // The error quotes the refusal, escaped like every other line.
                let plain =
                    strip_sgr_checked(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out:?}"));
                let text = String::from_utf8_lossy(&plain);
                let err = text
                    .lines()
                    .find(|l| l.starts_with("!! error: "))
                    .unwrap_or_else(|| panic!("no error line\n{out:?}"));
                assert!(err.contains("NASTY <0>\\x1b[31m <1>"), "{out:?}");
            }
        }
    }
}

#[test]
fn control_bytes_in_json_output_are_escaped_and_kept_exactly() {
    let certs = TestCerts::new();
    for (proto, place) in [("smtp", "greeting"), ("imap", "literal"), ("pop3", "retr")] {
        let s = Server::start(Mode::Plain, &certs.good, nasty_handler(proto, place));
        let lines = nasty_cases()
            .into_iter()
            .find(|(p, pl, _)| *p == proto && *pl == place)
            .unwrap()
            .2;
        let out = run(
            &["--json", "--timeout", NO_TIMEOUT, &s.url(proto)],
            &input(&lines),
        );
        s.join_for(&out);
        out.assert_code(EXIT_OK);
        assert_no_raw_controls("stdout", &out.stdout, &out);
        let mut found = false;
        for line in out.stdout_str().lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if let Some(raw) = v.get("raw_base64").and_then(|r| r.as_str()) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .unwrap();
                if bytes.windows(5).any(|w| w == b"NASTY") {
                    let n = nasty_text();
                    assert!(
                        bytes.windows(n.len()).any(|w| w == n.as_slice()),
                        "raw bytes not kept exactly: {}",
                        show_bytes(&bytes)
                    );
                    found = true;
                }
            }
        }
        assert!(
            found,
            "{proto} {place}: no received event with the raw bytes\n{out:?}"
        );
    }
}

#[test]
fn bare_lf_bare_cr_nul_and_invalid_utf8_are_kept_shown_and_flagged() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"220 bare LF greeting\n");
        c.read_line();
        c.send(b"250-a\rb\r\n250-nul\x00here\r\n250 bad\xc3\x28utf8\r\n");
        smtp_loop(c, false, false);
    });
    let out = run(
        &["--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["NOOP"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_no_raw_controls("stdout", &out.stdout, &out);
    out.assert_line("S: 220 bare LF greeting\\n");
    out.assert_line("S: 250-a\\rb");
    out.assert_line("S: 250-nul\\0here");
    out.assert_line("S: 250 bad\\xc3(utf8");
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("!! warning: ") && l.contains("LF")),
        "the bare LF is not flagged\n{out:?}"
    );
}

// ---------------------------------------------------------------------------
// Item 7: bounded lines, replies and literals, with memory measured.

/// What a measured run produced.
struct Measured {
    out: Output,
    /// Peak resident memory of the client (`/usr/bin/time`'s %M, i.e. wait4's ru_maxrss of a
    /// process forked from a small parent), KiB; 0 when /usr/bin/time is missing.
    peak_kib: u64,
    /// The highest VmHWM of the client seen while polling /proc during the run, KiB.
    polled_kib: u64,
    /// All bytes the client wrote to stdout (`out` keeps the first MiB and the last 64 KiB).
    stdout_total: u64,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A child of `parent` running mailtalk, found through /proc.
fn mailtalk_child_of(parent: u32) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()? {
        let Ok(e) = e else { continue };
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let ppid = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) && stat.contains("(mailtalk)") {
            return Some(pid);
        }
    }
    None
}

/// Reads a stream to its end, keeping the first MiB and the last 64 KiB, counting all and
/// checking every byte for raw control bytes (LF and TAB apart) as it goes.
fn capped_reader(
    mut r: impl Read + Send + 'static,
) -> std::thread::JoinHandle<(Vec<u8>, u64, Option<String>)> {
    const HEAD: usize = 1 << 20;
    const TAIL: usize = 64 * 1024;
    std::thread::spawn(move || {
        let mut head = Vec::new();
        let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
        let mut total: u64 = 0;
        let mut bad = None;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let got = &buf[..n];
            if bad.is_none() {
                if let Some(i) = got
                    .iter()
                    .position(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
                {
                    bad = Some(format!(
                        "raw byte 0x{:02x} at offset {}",
                        got[i],
                        total + i as u64
                    ));
                }
            }
            let room = HEAD.saturating_sub(head.len());
            head.extend_from_slice(&got[..n.min(room)]);
            tail.extend(&got[n.min(room)..]);
            while tail.len() > TAIL {
                tail.pop_front();
            }
            total += n as u64;
        }
        if !tail.is_empty() {
            if total > (HEAD + TAIL) as u64 {
                head.extend_from_slice(b"\n[...]\n");
            }
            head.extend(tail);
        }
        (head, total, bad)
    })
}

/// Runs the binary like [`run`] (under `/usr/bin/time` when it exists), measuring its peak
/// memory without keeping more than a MiB of its output.
fn measured(args: &[&str], stdin: &[u8]) -> Measured {
    let home = tempfile::tempdir().unwrap();
    let mut all = vec!["--color", "never"];
    all.extend_from_slice(args);
    let time = std::path::Path::new("/usr/bin/time");
    let time_file = home.path().join("time.out");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&time_file)
            .arg(env!("CARGO_BIN_EXE_mailtalk"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_mailtalk"))
    };
    cmd.args(&all)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("MAILTALK_PASSWORD")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join(".local/share"))
        .env("XDG_STATE_HOME", home.path().join(".local/state"))
        .env("XDG_CONFIG_HOME", home.path().join(".config"));
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut sin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        sin.write_all(&input).ok();
    });
    let out_reader = capped_reader(child.stdout.take().unwrap());
    let err_reader = capped_reader(child.stderr.take().unwrap());
    let mut target = if time.exists() {
        None
    } else {
        Some(child.id())
    };
    let mut polled: u64 = 0;
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if target.is_none() {
            target = mailtalk_child_of(child.id());
        }
        if let Some(k) = target.and_then(vm_hwm_kib) {
            polled = polled.max(k);
        }
        if start.elapsed() > RUN_LIMIT && !timed_out {
            timed_out = true;
            if let Some(pid) = target {
                Command::new("kill").arg(pid.to_string()).status().ok();
            }
            child.kill().ok();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    writer.join().ok();
    let (stdout, stdout_total, bad_out) = out_reader.join().unwrap();
    let (stderr, _, bad_err) = err_reader.join().unwrap();
    let peak_kib = std::fs::read_to_string(&time_file)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    let out = Output {
        stdout,
        stderr,
        code: status.code(),
        timed_out,
        elapsed,
        args: all.iter().map(|s| s.to_string()).collect(),
    };
    assert!(bad_out.is_none(), "stdout: {bad_out:?}\n{out:?}");
    assert!(bad_err.is_none(), "stderr: {bad_err:?}\n{out:?}");
    Measured {
        out,
        peak_kib,
        polled_kib: polled,
        stdout_total,
    }
}

/// No run may hold more than this (the client needs about 12 MiB).
const MEMORY_LIMIT_KIB: u64 = 32 * 1024;
const HUNDRED_MB: u64 = 100 * 1000 * 1000;
/// More than [`MEMORY_LIMIT_KIB`]: a client that held a literal whole would go over it.
const LITERAL_BYTES: u64 = 48 * 1000 * 1000;

#[track_caller]
fn assert_memory_flat(what: &str, m: &Measured, log: &Log) {
    eprintln!(
        "[measure] {what}: exit {:?} after {:?}, peak RSS {} KiB (polled VmHWM {} KiB), stdout {} bytes, server: {:?}",
        m.out.code, m.out.elapsed, m.peak_kib, m.polled_kib, m.stdout_total, log.notes
    );
    assert!(
        m.peak_kib > 0 || m.polled_kib > 0,
        "no measurement\n{:?}",
        m.out
    );
    assert!(
        m.peak_kib < MEMORY_LIMIT_KIB && m.polled_kib < MEMORY_LIMIT_KIB,
        "{what}: peak RSS {} KiB (polled {} KiB) is over 32 MiB\n{:?}",
        m.peak_kib,
        m.polled_kib,
        m.out
    );
}

/// A chunk of `n` bytes of `b`.
fn filler(b: u8, n: usize) -> Vec<u8> {
    vec![b; n]
}

#[test]
fn a_100_mb_line_is_refused_with_memory_flat_for_every_protocol() {
    let certs = TestCerts::new();
    for proto in ["smtp", "imap", "pop3"] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            // The greeting, then 100 MB without a line ending as the reply to a command.
            c.send(match proto {
                "smtp" => SMTP_GREETING,
                "imap" => b"* OK hi\r\n",
                _ => POP3_GREETING,
            });
            c.read_line();
            c.send(match proto {
                "smtp" => b"250 ",
                "imap" => b"A001 OK ",
                _ => b"+OK ",
            });
            c.stream(&filler(b'a', 64 * 1024), HUNDRED_MB);
            c.drain();
        });
        let m = measured(
            &["--timeout", NO_TIMEOUT, &s.url(proto)],
            &input(&["NOOP", "NOOP"]),
        );
        let log = s.join_for(&m.out);
        assert_memory_flat(&format!("{proto} 100 MB line"), &m, &log);
        m.out.assert_code(EXIT_PROTOCOL);
        m.out.assert_fatal();
        assert!(
            m.out.stdout_str().contains("longer than 65536"),
            "the error does not say what the limit is\n{:?}",
            m.out
        );
        assert!(log.has_note("stream stopped by the client"), "{log:?}");
        assert_eq!(log.plain_str().matches("NOOP").count(), 1, "{log:?}");
    }
    // The same as a greeting.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"220 ");
        c.stream(&filler(b'x', 64 * 1024), HUNDRED_MB);
        c.drain();
    });
    let m = measured(
        &["--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&m.out);
    assert_memory_flat("smtp 100 MB greeting", &m, &log);
    m.out.assert_code(EXIT_PROTOCOL);
    assert!(log.plain.is_empty(), "{log:?}");
}

#[test]
fn an_endless_multiline_reply_is_cut_with_memory_flat() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.read_line();
        let chunk: Vec<u8> = b"250-x\r\n".repeat(4096);
        c.stream(&chunk, HUNDRED_MB);
        c.drain();
    });
    let m = measured(
        &["--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["EHLO client.test", "NOOP"]),
    );
    let log = s.join_for(&m.out);
    assert_memory_flat("smtp endless 250-x", &m, &log);
    m.out.assert_code(EXIT_PROTOCOL);
    m.out.assert_fatal();
    assert!(m.out.stdout_str().contains("10000 lines"), "{:?}", m.out);
    assert!(log.has_note("stream stopped by the client"), "{log:?}");

    // Long lines: the byte bound of a whole reply.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.read_line();
        let mut line = b"250-".to_vec();
        line.extend(filler(b'y', 60 * 1024));
        line.extend_from_slice(b"\r\n");
        c.stream(&line, HUNDRED_MB);
        c.drain();
    });
    let m = measured(
        &["--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["EHLO client.test"]),
    );
    let log = s.join_for(&m.out);
    assert_memory_flat("smtp endless 60 KiB 250- lines", &m, &log);
    m.out.assert_code(EXIT_PROTOCOL);
    assert!(m.out.stdout_str().contains("1048576 bytes"), "{:?}", m.out);
}

#[test]
fn an_endless_imap_untagged_flood_hits_the_timeout_with_memory_flat() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"* OK hi\r\n");
        c.read_line();
        // Until the client goes: one without a deadline for the whole reply would read on
        // until it is killed at the run limit.
        let chunk: Vec<u8> = b"* OK x\r\n".repeat(8192);
        c.stream(&chunk, ENDLESS);
    });
    let m = measured(
        &["--timeout", "2", &s.url("imap")],
        &input(&["NOOP", "NOOP"]),
    );
    let log = s.join_for(&m.out);
    assert_memory_flat("imap untagged flood", &m, &log);
    m.out.assert_timed_out("reply");
    assert!(log.has_note("stream stopped by the client"), "{log:?}");
    assert_eq!(log.plain_str().matches("NOOP").count(), 1, "{log:?}");
}

#[test]
fn an_endless_pop3_body_hits_the_timeout_with_memory_flat() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(POP3_GREETING);
        c.read_line();
        c.send(b"+OK message follows\r\n");
        // Until the client goes, as above.
        let chunk: Vec<u8> = b"a body line that never ends\r\n".repeat(2048);
        c.stream(&chunk, ENDLESS);
    });
    let m = measured(&["--timeout", "2", &s.url("pop3")], &input(&["RETR 1"]));
    let log = s.join_for(&m.out);
    assert_memory_flat("pop3 endless body", &m, &log);
    m.out.assert_timed_out("reply");
    assert!(log.has_note("stream stopped by the client"), "{log:?}");
}

#[test]
fn a_huge_imap_literal_is_streamed_with_memory_flat() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"* OK hi\r\n");
        c.read_line();
        c.send(b"* 1 FETCH (BODY[] {4294967296}\r\n");
        c.stream(&filler(b'z', 64 * 1024), LITERAL_BYTES);
        c.close();
    });
    // The client's deadline covers the whole response, and 48 MB take a while on a busy
    // machine: a --timeout past the run limit leaves only the hang guard.
    let m = measured(
        &["--timeout", "600", &s.url("imap")],
        &input(&["FETCH 1 BODY[]"]),
    );
    let log = s.join_for(&m.out);
    assert_memory_flat("imap 4 GiB literal, 48 MB sent", &m, &log);
    m.out.assert_code(EXIT_PROTOCOL);
    m.out.assert_fatal();
    assert!(
        log.has_note(&format!("streamed {LITERAL_BYTES} bytes")),
        "{log:?}"
    );
    assert!(
        m.stdout_total > LITERAL_BYTES,
        "the literal was not shown as it came ({} bytes)",
        m.stdout_total
    );
}

#[test]
fn an_imap_response_that_never_ends_through_literals_is_bounded() {
    // Every line announces an empty literal, so the response goes on forever in small lines.
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"* OK hi\r\n");
        c.read_line();
        c.send(b"* 1 FETCH (BODY[] {0}\r\n");
        // Until the client goes: one without a bound would read on until its --timeout.
        let chunk: Vec<u8> = b" X {0}\r\n".repeat(8192);
        c.stream(&chunk, ENDLESS);
    });
    let m = measured(
        &["--timeout", NO_TIMEOUT, &s.url("imap")],
        &input(&["FETCH 1 BODY[]"]),
    );
    let log = s.join_for(&m.out);
    assert_memory_flat("imap endless {0} continuation", &m, &log);
    m.out.assert_code(EXIT_PROTOCOL);
    assert!(log.has_note("stream stopped by the client"), "{log:?}");
}

// ---------------------------------------------------------------------------
// Item 8: mixed codes and replies cut off by EOF.

#[test]
fn mixed_multiline_codes_warn_and_the_last_code_counts() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"NOOP\r\n");
        c.send(b"250-a\r\n550 b\r\n");
        smtp_loop(c, false, false);
    });
    let out = run(
        &["--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["NOOP", ":expect 550", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    out.assert_in_order(&["S: 250-a", "S: 550 b"]);
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("!! warning: ") && l.contains("250") && l.contains("550")),
        "no warning about the mixed codes\n{out:?}"
    );
    assert_eq!(log.plain_str(), "NOOP\r\nNOOP\r\nQUIT\r\n");
}

#[test]
fn replies_cut_off_by_eof_are_incomplete_for_every_protocol() {
    let certs = TestCerts::new();
    let cases: Vec<(&str, &[u8], &[u8], &str)> = vec![
        ("smtp", SMTP_GREETING, b"250-first\r\n250-sec", "250-sec"),
        ("smtp", SMTP_GREETING, b"250-first\r\n", "250-first"),
        ("lmtp", LMTP_GREETING, b"25", "25"),
        ("imap", b"* OK hi\r\n", b"* 1 EXISTS\r\nA001 O", "A001 O"),
        (
            "imap",
            b"* OK hi\r\n",
            b"* 1 FETCH (BODY[] {10}\r\nabc",
            "abc",
        ),
        (
            "imap",
            b"* OK hi\r\n",
            b"* 1 FETCH (BODY[] {3}\r\nabc",
            "abc",
        ),
        (
            "pop3",
            POP3_GREETING,
            b"+OK\r\nline one\r\nline t",
            "line t",
        ),
        ("pop3", POP3_GREETING, b"+O", "+O"),
    ];
    for (proto, greeting, cut, shown) in cases {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(greeting);
            c.read_line();
            c.send(cut);
            c.close();
        });
        let command = if proto == "pop3" && cut.starts_with(b"+OK\r\n") {
            "RETR 1"
        } else {
            "NOOP"
        };
        let out = run(
            &["--timeout", NO_TIMEOUT, &s.url(proto)],
            &input(&[command, "NOOP"]),
        );
        let log = s.join_for(&out);
        out.assert_code(EXIT_PROTOCOL);
        out.assert_fatal();
        out.assert_contains(shown);
        assert!(out.stdout_str().contains("incomplete"), "{out:?}");
        assert_eq!(
            log.plain_str().matches("NOOP").count(),
            usize::from(command == "NOOP")
        );
    }
}

// ---------------------------------------------------------------------------
// Item 9: IMAP literals.

/// An IMAP server that answers the first command with `response` (tag substituted for TAG),
/// then closes or carries on.
fn imap_answering(response: &'static [u8], then_close: bool) -> impl FnOnce(&mut Conn) + Send {
    move |c: &mut Conn| {
        c.send(b"* OK hi\r\n");
        let line = c.read_line().unwrap();
        let tag = tag_of(&line);
        let text = String::from_utf8_lossy(response).replace("TAG", &tag);
        c.send(text.as_bytes());
        if then_close {
            c.close();
        } else {
            imap_loop(c, false);
        }
    }
}

#[test]
fn imap_literal_sizes_from_zero_to_overflow() {
    let certs = TestCerts::new();
    let cases: Vec<(&'static [u8], bool, i32, &str)> = vec![
        (
            b"* 1 FETCH (BODY[] {0}\r\n)\r\nTAG OK done\r\n",
            false,
            EXIT_OK,
            "TAG OK done",
        ),
        (
            b"* 1 FETCH (BODY[] {18446744073709551616}\r\nabc)\r\nTAG OK done\r\n",
            false,
            EXIT_PROTOCOL,
            "64 bits",
        ),
        (
            b"* 1 FETCH (BODY[] {99999999999999999999999999999999}\r\n",
            false,
            EXIT_PROTOCOL,
            "64 bits",
        ),
        (
            b"* 1 FETCH (BODY[] {4294967297}\r\nabc",
            false,
            EXIT_PROTOCOL,
            "limit",
        ),
        (
            b"* 1 FETCH (BODY[] {-1}\r\n)\r\nTAG OK done\r\n",
            false,
            EXIT_OK,
            "{-1}",
        ),
        (
            b"* 1 FETCH (BODY[] {4294967296}\r\nabc",
            true,
            EXIT_PROTOCOL,
            "abc",
        ),
        (
            b"* 1 FETCH (BODY[] {18446744073709551615}\r\nabc",
            true,
            EXIT_PROTOCOL,
            "limit",
        ),
        (b"* 1 FETCH (BODY[] {5}\r\nab", true, EXIT_PROTOCOL, "ab"),
        (
            b"* 1 FETCH (BODY[] {5}\r\n",
            true,
            EXIT_PROTOCOL,
            "incomplete",
        ),
        (
            b"* 1 FETCH (BODY[] ~{5}\r\na\0\nb\xff)\r\nTAG OK done\r\n",
            false,
            EXIT_OK,
            "a\\0",
        ),
        (
            b"* 1 FETCH (BODY[] {15}\r\nTAG OK faked\r\n)\r\nTAG NO real\r\n",
            false,
            EXIT_OK,
            "TAG NO real",
        ),
    ];
    for (response, close, code, shown) in cases {
        let s = Server::start(Mode::Plain, &certs.good, imap_answering(response, close));
        let out = run(
            &["--timeout", NO_TIMEOUT, &s.url("imap")],
            &input(&["FETCH 1 BODY[]", "NOOP"]),
        );
        let log = s.join_for(&out);
        let text = String::from_utf8_lossy(response);
        out.assert_code(code);
        let shown = shown.replace("TAG", "A001");
        assert!(
            out.stdout_str().contains(&shown),
            "{text:?}: {shown:?} not shown\n{out:?}"
        );
        assert_no_raw_controls("stdout", &out.stdout, &out);
        if code == EXIT_OK {
            assert!(log.plain_str().contains("NOOP"), "{text:?}\n{out:?}");
            if text.contains("faked") {
                // The literal looked like the tagged response: it was data.
                out.assert_line("S: A001 OK faked");
                let faked = out.line_index("S: A001 OK faked").unwrap();
                let real = out.line_index("S: A001 NO real").unwrap();
                assert!(faked < real);
            }
        } else {
            out.assert_fatal();
            assert!(!log.plain_str().contains("NOOP"), "{text:?}\n{log:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Item 10: deadlines. Each misbehaviour lasts until the client goes, so a client without the
// deadline is killed at the run limit and has no exit status: the exit status and the error
// naming the step decide, not how long the run took.

#[test]
fn a_silent_server_costs_the_timeout_and_no_more() {
    let certs = TestCerts::new();
    for proto in ["smtp", "lmtp", "imap", "pop3"] {
        let s = Server::start(Mode::Plain, &certs.good, silent);
        let m = measured(&["--timeout", "1", &s.url(proto)], &input(&["NOOP"]));
        let log = s.join_for(&m.out);
        m.out.assert_timed_out("greeting");
        assert!(log.plain.is_empty(), "{log:?}");
    }
    // Silent after a command, and silent in an implicit TLS handshake.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"* OK hi\r\n");
        c.drain();
    });
    let out = run(
        &["--timeout", "1", &s.url("imap")],
        &input(&["NOOP", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(log.plain_str(), "A001 NOOP\r\n");
    for scheme in ["imaps", "smtps", "pop3s"] {
        let s = Server::start(Mode::Plain, &certs.good, silent);
        let out = run(&["--timeout", "1", &s.url(scheme)], &input(&["NOOP"]));
        s.join_for(&out);
        out.assert_timed_out("TLS handshake");
    }
}

/// One byte every 300 ms, for as long as the client listens.
const DRIP_GAP: Duration = Duration::from_millis(300);

#[test]
fn a_server_dripping_one_byte_every_300_ms_cannot_hold_the_client() {
    let certs = TestCerts::new();
    for proto in ["smtp", "imap", "pop3"] {
        // The greeting, dripped until the client goes.
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            let head = match proto {
                "smtp" => "220 a greeting that never ends",
                "imap" => "* OK a greeting that never ends",
                _ => "+OK a greeting that never ends",
            };
            c.drip_forever(head.as_bytes(), b'.', DRIP_GAP);
        });
        let m = measured(&["--timeout", "2", &s.url(proto)], &input(&["NOOP"]));
        let log = s.join_for(&m.out);
        m.out.assert_timed_out("greeting");
        // Bytes came, so this is not the silence of a TLS port.
        assert!(!m.out.stdout_str().contains("expects TLS"), "{:?}", m.out);
        assert!(log.plain.is_empty(), "{log:?}");
    }
    // A reply dripped after a command: the deadline runs from the command.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.read_line();
        c.drip_forever(b"250-dripping\r\n250-more", b'.', DRIP_GAP);
    });
    let out = run(
        &["--timeout", "2", &s.url("smtp")],
        &input(&["NOOP", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(log.plain_str(), "NOOP\r\n");
}

#[test]
fn a_slow_but_valid_server_works() {
    // Every line 200 ms after the previous one, so that each arrives in a read of its own:
    // replies put together across reads. The --timeout is far above any pause: nothing here
    // races a clock. That the deadline is per reply and not per session is checked without
    // a clock in the engine (`session::tests::each_reply_gets_the_whole_timeout_from_its_command`).
    const PAUSE_MS: u64 = 200;
    let certs = TestCerts::new();
    for proto in ["smtp", "imap", "pop3"] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            let slow = |c: &mut Conn, lines: &[&str]| {
                for l in lines {
                    c.sleep(PAUSE_MS);
                    c.note("pause");
                    c.send(l.as_bytes());
                }
            };
            match proto {
                "smtp" => {
                    slow(c, &["220 slow\r\n"]);
                    c.read_line();
                    slow(
                        c,
                        &[
                            "250-slow\r\n",
                            "250-SIZE 1\r\n",
                            "250-PIPELINING\r\n",
                            "250 8BITMIME\r\n",
                        ],
                    );
                    c.read_line();
                    slow(c, &["250-a\r\n", "250-b\r\n", "250 ok\r\n"]);
                    c.read_line();
                    slow(c, &["250-c\r\n", "250-d\r\n", "250 ok\r\n"]);
                    c.read_line();
                    slow(c, &["221 bye\r\n"]);
                }
                "imap" => {
                    slow(c, &["* OK slow\r\n"]);
                    let tag = tag_of(&c.read_line().unwrap());
                    slow(
                        c,
                        &[
                            "* CAPABILITY IMAP4rev1\r\n",
                            "* OK more\r\n",
                            "* OK more\r\n",
                        ],
                    );
                    slow(c, &[&format!("{tag} OK done\r\n")]);
                    let tag = tag_of(&c.read_line().unwrap());
                    slow(c, &["* 1 FETCH (BODY[] {5}\r\n", "ab\r\n", "c)\r\n"]);
                    slow(c, &[&format!("{tag} OK done\r\n")]);
                    let tag = tag_of(&c.read_line().unwrap());
                    slow(c, &["* 2 EXISTS\r\n", &format!("{tag} OK done\r\n")]);
                    let tag = tag_of(&c.read_line().unwrap());
                    slow(c, &["* BYE\r\n", &format!("{tag} OK bye\r\n")]);
                }
                _ => {
                    slow(c, &["+OK slow\r\n"]);
                    c.read_line();
                    slow(c, &["+OK\r\n", "USER\r\n", "TOP\r\n", "UIDL\r\n", ".\r\n"]);
                    c.read_line();
                    slow(c, &["+OK\r\n", "line\r\n", "..dot\r\n", ".\r\n"]);
                    c.read_line();
                    slow(c, &["+OK\r\n", "1 whqtswO00WBw418f9t5JxYwZ\r\n", ".\r\n"]);
                    c.read_line();
                    slow(c, &["+OK bye\r\n"]);
                }
            }
            c.drain();
        });
        let lines = match proto {
            "smtp" => vec!["EHLO client.test", "NOOP", "NOOP"],
            "imap" => vec!["CAPABILITY", "FETCH 1 BODY[]", "NOOP"],
            _ => vec!["CAPA", "RETR 1", "UIDL"],
        };
        let out = run(&["--timeout", "60", &s.url(proto)], &input(&lines));
        let log = s.join_for(&out);
        out.assert_code(EXIT_OK);
        let pauses = log.notes.iter().filter(|n| *n == "pause").count();
        assert!(
            pauses >= 12,
            "{pauses} pauses: the replies did not come in pieces"
        );
    }
}

// ---------------------------------------------------------------------------
// Item 13: message content on the wire.

#[test]
fn message_from_a_file_with_bare_cr_lf_and_dots_has_one_terminator() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msg.eml");
    std::fs::write(
        &file,
        b"Subject: smuggle\r\n\r\nline one\nbare\rcr\r\n.\r\nMAIL FROM:<evil@example.org>\n.\n\r\n.\r.\r\n..two\r\n.",
    )
    .unwrap();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let data_arg = format!("@{}", file.display());
    let out = run(
        &[
            "--timeout",
            NO_TIMEOUT,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--data",
            &data_arg,
            &s.url("smtp"),
        ],
        b"",
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let data = log.records("data");
    assert_eq!(data.len(), 1, "{log:?}");
    let data = &data[0];
    assert!(data.ends_with(b"\r\n.\r\n"), "{}", show_bytes(data));
    let text = data.as_slice();
    assert_eq!(
        text.windows(5).filter(|w| w == b"\r\n.\r\n").count(),
        1,
        "more than one end of data: {}",
        show_bytes(data)
    );
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' {
            assert!(
                i > 0 && text[i - 1] == b'\r',
                "bare LF at {i}: {}",
                show_bytes(data)
            );
        }
        if b == b'\r' {
            assert_eq!(
                text.get(i + 1),
                Some(&b'\n'),
                "bare CR at {i}: {}",
                show_bytes(data)
            );
        }
    }
    // Every line that started with a dot is stuffed.
    for line in text.split(|&b| b == b'\n') {
        if line.starts_with(b".") && line != b".\r" {
            assert!(line.starts_with(b".."), "unstuffed {:?}", show_bytes(line));
        }
    }
    let mails = log
        .record_strs("command")
        .iter()
        .filter(|c| c.starts_with("MAIL"))
        .count();
    assert_eq!(mails, 1, "message content was taken as a command: {log:?}");
}

// ---------------------------------------------------------------------------
// Item 14: CR, LF and NUL inside interpolated arguments.

#[test]
fn cr_lf_nul_in_interpolated_values_are_refused() {
    let certs = TestCerts::new();
    for value in ["a@b>\r\nRCPT TO:<evil@example.org", "a@b>\nQUIT", "a@b>\rX"] {
        let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
        let home = tempfile::tempdir().unwrap();
        let out = mailtalk_env(
            home.path(),
            &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("smtp")],
            &input(&["NOOP", "MAIL FROM:<${EVIL_ADDR}>", "NOOP"]),
            &[("EVIL_ADDR", value)],
        );
        let log = s.join_for(&out);
        out.assert_code(EXIT_USAGE);
        // The line is not sent; the session still ends politely.
        assert_eq!(log.plain_str(), "NOOP\r\nQUIT\r\n", "{out:?}");
    }
    // On the command line: --from, --to, --user, --ehlo.
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let url = s.url("smtp");
    for args in [
        vec!["--from", "a@b>\r\nRCPT TO:<x@y>", "--to", "b@example.org"],
        vec!["--from", "a@example.org", "--to", "b@e>\nDATA"],
        vec!["--ehlo", "x\r\nMAIL FROM:<a@b>"],
        vec!["--user", "alice\r\nQUIT", "--auth", "PLAIN"],
    ] {
        let mut all = vec!["--timeout", NO_TIMEOUT];
        all.extend(args);
        all.push(&url);
        let out = run(&all, &input(&["NOOP"]));
        out.assert_code(EXIT_USAGE);
    }
    let log = s.join();
    // `--user` is checked once connected (the session may go on without AUTH): nothing may
    // have been sent.
    assert!(log.plain.is_empty(), "{log:?}");
    let sent = log.all_received();
    for bad in [
        &b"RCPT TO:<x@y>"[..],
        b"b@e>\nDATA",
        b"x\r\nMAIL",
        b"alice\r\nQUIT",
    ] {
        assert!(
            !sent.windows(bad.len()).any(|w| w == bad),
            "{} reached the server: {log:?}",
            show_bytes(bad)
        );
    }
    // A typed NUL.
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let out = run(
        &["--timeout", NO_TIMEOUT, &s.url("smtp")],
        b"NOOP\nVRFY a\0b\nNOOP\n",
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_USAGE);
    assert_eq!(log.plain_str(), "NOOP\r\nQUIT\r\n");
}

// ---------------------------------------------------------------------------
// Item 15: synchronising literals wait for `+`.

#[test]
fn a_literal_is_not_sent_when_the_continuation_never_comes() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"* OK hi\r\n");
        let line = c.read_line().unwrap();
        c.record("line", &line);
        c.drain();
    });
    let out = run(
        &["--timeout", "1", &s.url("imap")],
        &input(&["LOGIN alice {5}", "hello", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(log.plain_str(), "A001 LOGIN alice {5}\r\n", "{out:?}");
}

#[test]
fn a_generated_login_literal_waits_for_the_continuation() {
    // A password that cannot be quoted goes as a synchronising literal (no LITERAL+ offered);
    // a server that never sends `+`, or refuses instead, must never see it.
    let certs = TestCerts::new();
    let pw = "pässwort-9";
    for refuse in [false, true] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n");
            let line = c.read_line().unwrap();
            c.record("line", &line);
            if refuse {
                let tag = tag_of(&line);
                c.send(format!("{tag} NO [AUTHENTICATIONFAILED] not today\r\n").as_bytes());
                imap_loop(c, false);
            } else {
                c.drain();
            }
        });
        let home = tempfile::tempdir().unwrap();
        let out = mailtalk_env(
            home.path(),
            &[
                "--color",
                "never",
                "--timeout",
                if refuse { "5" } else { "1" },
                "--auth",
                "IMAP-LOGIN",
                "--user",
                USER,
                &s.url("imap"),
            ],
            &input(&["NOOP"]),
            &[("MAILTALK_PASSWORD", pw)],
        );
        let log = s.join_for(&out);
        let line = log.record_strs("line");
        assert_eq!(line.len(), 1, "{log:?}\n{out:?}");
        assert!(line[0].ends_with("{11}\r\n"), "{line:?}\n{out:?}");
        if !refuse {
            // No `+`: nothing after the line until the client gives up.
            out.assert_timed_out("reply");
            assert_eq!(log.plain_str(), line[0], "sent before +\n{out:?}");
        }
        assert!(!log.plain_str().contains("pässwort"), "{log:?}");
        out.assert_nowhere("pässwort");
    }
}

// ---------------------------------------------------------------------------
// Item 16: SASL challenges that are not base64.

#[test]
fn invalid_base64_challenges_cancel_the_exchange_for_every_protocol() {
    let certs = TestCerts::new();
    for proto in ["smtp", "imap", "pop3"] {
        for challenge in ["!!!", "VXNlcm5hbWU", "VXNl cm5hbWU6", "VXNlcm5hbWU6=="] {
            let s = Server::start(Mode::Plain, &certs.good, move |c| match proto {
                "smtp" => {
                    c.send(SMTP_GREETING);
                    c.read_line();
                    c.send(b"250-localhost\r\n250 AUTH LOGIN\r\n");
                    c.read_line();
                    c.send(format!("334 {challenge}\r\n").as_bytes());
                    let cancel = c.read_line().unwrap_or_default();
                    c.record("cancel", &cancel);
                    c.send(b"501 5.7.0 cancelled\r\n");
                    smtp_loop(c, false, false);
                }
                "imap" => {
                    c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=LOGIN] hi\r\n");
                    let line = c.read_line().unwrap();
                    let tag = tag_of(&line);
                    c.send(format!("+ {challenge}\r\n").as_bytes());
                    let cancel = c.read_line().unwrap_or_default();
                    c.record("cancel", &cancel);
                    c.send(format!("{tag} BAD cancelled\r\n").as_bytes());
                    imap_loop(c, false);
                }
                _ => {
                    c.send(POP3_GREETING);
                    c.read_line();
                    c.send(b"+OK\r\nSASL LOGIN\r\nUSER\r\n.\r\n");
                    c.read_line();
                    c.send(format!("+ {challenge}\r\n").as_bytes());
                    let cancel = c.read_line().unwrap_or_default();
                    c.record("cancel", &cancel);
                    c.send(b"-ERR cancelled\r\n");
                    pop3_loop(c, false);
                }
            });
            let out = run(
                &[
                    "--timeout",
                    NO_TIMEOUT,
                    "--auth",
                    "LOGIN",
                    "--user",
                    USER,
                    &s.url(proto),
                ],
                &input(&["NOOP"]),
            );
            let log = s.join_for(&out);
            assert_eq!(
                log.record_strs("cancel"),
                vec!["*\r\n"],
                "{proto} {challenge:?}: not cancelled with *\n{log:?}\n{out:?}"
            );
            assert_ne!(out.code, Some(EXIT_OK), "{out:?}");
            assert!(out.stdout_str().contains("base64"), "{out:?}");
            assert_no_secret("the wire", &log.all_received());
            assert!(!log.plain_str().contains(&b64(USER.as_bytes())), "{log:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Item 17: secrets stay out of everything the client writes.

#[test]
fn passwords_never_reach_output_json_or_transcripts() {
    let certs = TestCerts::new();
    for (proto, args, lines) in [
        (
            "smtp",
            vec!["--auth", "PLAIN", "--user", USER],
            vec!["NOOP"],
        ),
        (
            "smtp",
            vec!["--auth", "LOGIN", "--user", USER],
            vec!["NOOP"],
        ),
        ("imap", vec![], vec!["LOGIN alice s3cr3t-pw", "NOOP"]),
        (
            "imap",
            vec!["--auth", "PLAIN", "--user", USER],
            vec!["NOOP"],
        ),
        ("pop3", vec![], vec!["USER alice", "PASS s3cr3t-pw", "NOOP"]),
        ("pop3", vec!["--auth", "USER", "--user", USER], vec!["NOOP"]),
    ] {
        for json in [false, true] {
            let s = Server::start(Mode::Plain, &certs.good, move |c| match proto {
                "smtp" => {
                    c.send(SMTP_GREETING);
                    c.read_line();
                    c.send(b"250-localhost\r\n250 AUTH PLAIN LOGIN\r\n");
                    let first = c.read_line().unwrap();
                    if first.starts_with(b"AUTH LOGIN") {
                        c.send(b"334 VXNlcm5hbWU6\r\n");
                        c.read_line();
                        c.send(b"334 UGFzc3dvcmQ6\r\n");
                        c.read_line();
                    }
                    c.send(b"235 2.7.0 ok\r\n");
                    smtp_loop(c, false, false);
                }
                "imap" => {
                    c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n");
                    imap_loop(c, false);
                }
                _ => pop3_like(c, false),
            });
            let dir = tempfile::tempdir().unwrap();
            let transcript = dir.path().join("t.log");
            let record = dir.path().join("r.mt");
            let url = s.url(proto);
            let t = transcript.to_str().unwrap().to_string();
            let r = record.to_str().unwrap().to_string();
            let mut all = vec!["--timeout", NO_TIMEOUT, "--transcript", &t, "--record", &r];
            if json {
                all.push("--json");
            }
            all.extend(args.iter().copied());
            all.push(&url);
            let out = run(&all, &input(&lines));
            let log = s.join_for(&out);
            out.assert_code(EXIT_OK);
            let wire = log.all_received();
            assert!(
                secret_forms()
                    .iter()
                    .any(|f| String::from_utf8_lossy(&wire).contains(f)),
                "the password was not sent at all: {log:?}"
            );
            assert_no_secret("stdout", &out.stdout);
            assert_no_secret("stderr", &out.stderr);
            assert_no_secret(
                "the transcript",
                &std::fs::read(&transcript).unwrap_or_default(),
            );
            assert_no_secret("the recording", &std::fs::read(&record).unwrap_or_default());
            assert!(out.stdout_str().contains("<redacted>"), "{out:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Item 18: cleartext credentials to a host that is not loopback by name.

/// A name other than localhost that /etc/hosts maps to 127.0.0.1 only, if there is one.
fn loopback_alias() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|l| {
        let mut words = l.split('#').next()?.split_whitespace();
        if words.next()? != "127.0.0.1" {
            return None;
        }
        words
            .find(|w| !w.starts_with("localhost") && !w.contains(':'))
            .map(str::to_string)
    })
}

#[test]
fn cleartext_credentials_to_a_non_loopback_name_are_refused() {
    let Some(alias) = loopback_alias() else {
        eprintln!("no /etc/hosts alias of 127.0.0.1: the refusal cannot be tried here");
        return;
    };
    let certs = TestCerts::new();
    for (proto, auth) in [("smtp", "PLAIN"), ("imap", "IMAP-LOGIN"), ("pop3", "USER")] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| match proto {
            "smtp" => {
                c.send(SMTP_GREETING);
                c.read_line();
                c.send(b"250-localhost\r\n250 AUTH PLAIN LOGIN\r\n");
                smtp_loop(c, false, false);
            }
            "imap" => imap_like(c, false),
            _ => pop3_like(c, false),
        });
        let url = format!("{proto}://{alias}:{}", s.port());
        let out = run(
            &[
                "-4",
                "--timeout",
                NO_TIMEOUT,
                "--auth",
                auth,
                "--user",
                USER,
                &url,
            ],
            &input(&["NOOP"]),
        );
        let log = s.join_for(&out);
        assert!(log.connected, "{out:?}");
        assert_ne!(out.code, Some(EXIT_OK), "{out:?}");
        assert!(out.stdout_str().contains("without TLS"), "{out:?}");
        assert_no_secret("the wire", &log.all_received());
        let wire = log.plain_str();
        assert!(
            !wire.contains("AUTH PLAIN ") && !wire.contains("LOGIN") && !wire.contains("PASS"),
            "{wire:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The fuzz targets' checks on their seed corpora.

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no seeds in {}", dir.display());
    v
}

#[test]
fn fuzz_seed_corpora_pass_their_checks() {
    type Check = fn(&[u8]);
    let targets: [(&str, Check); 5] = [
        ("smtp_reply", fuzz_checks::check_smtp_reply),
        ("imap_response", fuzz_checks::check_imap_response),
        ("pop3_multiline", fuzz_checks::check_pop3_multiline),
        ("render_escape", fuzz_checks::check_render_escape),
        ("script_parse", fuzz_checks::check_script_parse),
    ];
    for (target, check) in targets {
        for (name, data) in corpus(target) {
            // Every chunking seed and option on each seed input.
            for opts in [data[0], data[0] ^ 0x80, data[0] ^ 0x40] {
                for seed in 0..8u8 {
                    let mut d = data.clone();
                    d[0] = opts;
                    if d.len() > 1 && target != "render_escape" && target != "script_parse" {
                        d[1] = seed;
                    }
                    let r = std::panic::catch_unwind(|| check(&d));
                    assert!(
                        r.is_ok(),
                        "{target}/{name} with opts {opts:#x} seed {seed} fails"
                    );
                }
            }
        }
    }
}

#[test]
fn sasl_challenge_with_invalid_utf8_is_shown_byte_exact() {
    // Item 11: invalid UTF-8 is shown as \xNN everywhere, also in a decoded SASL challenge.
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.read_line();
        c.send(b"250-localhost\r\n250 AUTH LOGIN\r\n");
        c.read_line();
        c.send(format!("334 {}\r\n", b64(b"User\xff\xfename:")).as_bytes());
        c.read_line();
        c.send(b"501 5.7.0 no\r\n");
        smtp_loop(c, false, false);
    });
    let out = run(
        &[
            "--timeout",
            NO_TIMEOUT,
            "--auth",
            "LOGIN",
            "--user",
            USER,
            &s.url("smtp"),
        ],
        &input(&["NOOP"]),
    );
    s.join_for(&out);
    assert!(
        out.stdout_str().contains("User\\xff\\xfename:"),
        "the challenge's bytes are not shown exactly\n{out:?}"
    );
}

// ---------------------------------------------------------------------------
// Replies nobody asked for, and servers that are not what they claim.

#[test]
fn an_extra_reply_is_not_taken_as_the_next_commands_reply() {
    // The server answers NOOP twice, in one segment, before the next command is sent. The
    // second reply must not become the answer to MAIL (or RETR): replies would be shifted by
    // one for the rest of the session, and `:expect` would judge the wrong reply.
    let certs = TestCerts::new();
    for proto in ["smtp", "pop3"] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            if proto == "smtp" {
                c.send(SMTP_GREETING);
                c.expect_line(b"NOOP\r\n");
                c.send(b"250 ok\r\n550 5.7.1 extra reply nobody asked for\r\n");
                smtp_loop(c, false, false);
            } else {
                c.send(POP3_GREETING);
                c.expect_line(b"NOOP\r\n");
                c.send(b"+OK\r\n-ERR extra reply nobody asked for\r\n");
                pop3_loop(c, false);
            }
        });
        let (command, expect) = if proto == "smtp" {
            ("MAIL FROM:<a@example.org>", ":expect 250")
        } else {
            ("STAT", ":expect +OK")
        };
        let out = run(
            &["--timeout", NO_TIMEOUT, &s.url(proto)],
            &input(&["NOOP", command, expect, "NOOP"]),
        );
        s.join_for(&out);
        assert!(
            out.lines()
                .iter()
                .any(|l| l.starts_with("!! warning: ") && l.contains("nobody")
                    || l.starts_with("!! warning: ") && l.contains("unsolicited")),
            "{proto}: the extra reply is not flagged\n{out:?}"
        );
        out.assert_code(EXIT_OK);
    }
}

#[test]
fn a_server_that_closes_at_once_or_speaks_plaintext_on_a_tls_port() {
    let certs = TestCerts::new();
    for scheme in ["smtp", "imap", "pop3", "smtps"] {
        let s = Server::start(Mode::Plain, &certs.good, |c| c.close());
        let out = run(
            &["--timeout", NO_TIMEOUT, &s.url(scheme)],
            &input(&["NOOP"]),
        );
        s.join_for(&out);
        assert!(
            matches!(
                out.code,
                Some(EXIT_CLOSED) | Some(EXIT_CONNECT) | Some(EXIT_TLS)
            ),
            "{scheme}\n{out:?}"
        );
        out.assert_fatal();
    }
    for (scheme, greeting) in [
        ("smtps", SMTP_GREETING),
        ("imaps", &b"* OK hi\r\n"[..]),
        ("pop3s", POP3_GREETING),
    ] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(greeting);
            c.drain();
        });
        // The server says no more and waits until the client goes: only a client that judged
        // the plaintext at once exits 4 (one that waited for more would time out).
        let out = run(
            &["--timeout", NO_TIMEOUT, &s.url(scheme)],
            &input(&["NOOP"]),
        );
        let log = s.join_for(&out);
        out.assert_code(EXIT_TLS);
        out.assert_fatal();
        assert!(log.plain.is_empty() || log.plain[0] == 0x16, "{log:?}");
        assert!(!log.plain_str().contains("NOOP"), "{log:?}");
    }
}

#[test]
fn an_unrequested_continuation_does_not_swallow_the_next_command() {
    // A `+` to NOOP (which takes no continuation) must not turn the next typed command into
    // raw continuation data: `LOGIN alice PASSWORD` would go out untagged and be shown and
    // recorded in clear (item 17).
    let certs = TestCerts::new();
    for answer in [false, true] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(b"* OK hi\r\n");
            let first = c.read_line().unwrap();
            let tag = tag_of(&first);
            c.send(b"+ go ahead\r\n");
            if answer {
                c.send(format!("{tag} OK done\r\n").as_bytes());
                imap_loop(c, false);
            } else {
                // NOOP stays unanswered: nothing may follow it until the client gives up.
                c.drain();
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let transcript = dir.path().join("t.log");
        let out = run(
            &[
                "--timeout",
                if answer { "5" } else { "1" },
                "--transcript",
                transcript.to_str().unwrap(),
                &s.url("imap"),
            ],
            &input(&["NOOP", &format!("LOGIN {USER} {PW}"), "NOOP"]),
        );
        let log = s.join_for(&out);
        assert_no_secret("stdout", &out.stdout);
        assert_no_secret(
            "the transcript",
            &std::fs::read(&transcript).unwrap_or_default(),
        );
        if answer {
            assert!(
                log.record_strs("command")
                    .iter()
                    .any(|c| c.contains(" LOGIN alice ")),
                "LOGIN was not sent as a tagged command\n{log:?}\n{out:?}"
            );
        } else {
            out.assert_timed_out("reply");
            assert_eq!(
                log.plain_str(),
                "A001 NOOP\r\n",
                "the command went out as continuation data\n{out:?}"
            );
        }
    }
}

#[test]
fn a_scram_iteration_count_is_bounded() {
    // The server chooses how much work the client does (PBKDF2 rounds): the most that is
    // accepted costs a few seconds; one more is refused with `*`.
    let certs = TestCerts::new();
    for (iterations, accepted) in [(10_000_000u32, true), (10_000_001, false)] {
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(SMTP_GREETING);
            c.read_line();
            c.send(b"250-localhost\r\n250 AUTH SCRAM-SHA-256\r\n");
            let auth = c.read_line().unwrap();
            let first = String::from_utf8_lossy(trim_eol(&auth)).into_owned();
            let ir = first.rsplit(' ').next().unwrap().to_string();
            let client_first = base64::engine::general_purpose::STANDARD
                .decode(ir)
                .unwrap();
            let client_first = String::from_utf8(client_first).unwrap();
            let nonce = client_first.rsplit("r=").next().unwrap().to_string();
            let server_first = format!("r={nonce}srv,s=QSXCR+Q6sek8bf92,i={iterations}");
            c.send(format!("334 {}\r\n", b64(server_first.as_bytes())).as_bytes());
            let answer = c.read_line().unwrap_or_default();
            c.record("answer", &answer);
            c.send(b"535 5.7.8 no\r\n");
            smtp_loop(c, false, false);
        });
        let out = run(
            &[
                "--timeout",
                NO_TIMEOUT,
                "--auth",
                "SCRAM-SHA-256",
                "--user",
                USER,
                &s.url("smtp"),
            ],
            &input(&["NOOP"]),
        );
        let log = s.join_for(&out);
        eprintln!(
            "[measure] SCRAM i={iterations}: exit {:?} after {:?}",
            out.code, out.elapsed
        );
        assert!(out.code.is_some() && !out.timed_out, "{out:?}");
        let answer = log.record_strs("answer");
        if accepted {
            assert!(answer[0] != "*\r\n", "{out:?}");
        } else {
            assert_eq!(answer, vec!["*\r\n"], "{out:?}");
        }
    }
}

#[test]
fn a_tls_handshake_dripped_one_byte_every_300_ms_hits_the_timeout() {
    // A TLS record header announcing a long ServerHello, then its bytes one at a time until
    // the client goes (4 KiB at this pace take 20 minutes).
    let record = vec![
        0x16, 0x03, 0x03, 0x10, 0x00, 0x02, 0x00, 0x0f, 0xfc, 0x03, 0x03,
    ];
    let certs = TestCerts::new();
    for scheme in ["imaps", "smtp-starttls"] {
        let r = record.clone();
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            if scheme == "smtp-starttls" {
                P::Smtp.up_to_starttls(c);
                c.send(b"220 2.0.0 go\r\n");
            }
            // Wait for the ClientHello, so the first byte is not taken as an injection.
            c.read_exact(5);
            c.drip_forever(&r, 0x41, DRIP_GAP);
        });
        let url = s.url(if scheme == "imaps" { "imaps" } else { "smtp" });
        let mut args = vec!["--timeout", "2", "--ehlo", "client.test"];
        if scheme != "imaps" {
            args.push("--starttls");
        }
        args.push(&url);
        let out = run(&args, &input(&["NOOP"]));
        s.join_for(&out);
        out.assert_timed_out("TLS handshake");
    }
}

#[test]
fn a_server_that_stops_reading_during_data_cannot_hold_the_client() {
    // 354, then the server never reads again: the client's writes block once the socket
    // buffers are full, and the send deadline must end it.
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.eml");
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    let line = [b'x'; 998];
    while body.len() < 32 * 1024 * 1024 {
        body.extend_from_slice(&line);
        body.extend_from_slice(b"\r\n");
    }
    std::fs::write(&file, &body).unwrap();
    drop(body);
    // Told when the client has gone (the sender is dropped once the run is over).
    let (gone, client_gone) = std::sync::mpsc::channel::<()>();
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        c.send(SMTP_GREETING);
        for reply in [
            &b"250-localhost\r\n250 SIZE 100000000\r\n"[..],
            b"250 2.1.0 Ok\r\n",
            b"250 2.1.5 Ok\r\n",
            b"354 go\r\n",
        ] {
            c.read_line();
            c.send(reply);
        }
        // Never read again; wait until the client is gone (killed at the run limit when it
        // cannot stop its writes).
        client_gone.recv().ok();
    });
    let data = format!("@{}", file.display());
    let out = run(
        &[
            "--timeout",
            "2",
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--data",
            &data,
            &s.url("smtp"),
        ],
        b"",
    );
    drop(gone);
    s.join_for(&out);
    eprintln!(
        "[measure] server stops reading during DATA, --timeout 2: exit {:?} after {:?}",
        out.code, out.elapsed
    );
    out.assert_timed_out("send");
}

// ---------------------------------------------------------------------------
// Item 12 in the interactive REPL (on a pseudo-terminal).

/// Removes the CSI sequences a line editor uses (SGR, cursor moves, erase, private modes);
/// anything else that starts with ESC is an error.
fn strip_editor_csi(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != 0x1b {
            v.push(bytes[i]);
            i += 1;
            continue;
        }
        let context = show_bytes(&bytes[i..bytes.len().min(i + 24)]);
        if bytes.get(i + 1) != Some(&b'[') {
            return Err(format!("ESC that is not CSI at {i}: {context}"));
        }
        let mut j = i + 2;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || b";?".contains(&bytes[j])) {
            j += 1;
        }
        match bytes.get(j) {
            Some(b'm' | b'K' | b'J' | b'A' | b'B' | b'C' | b'D' | b'G' | b'h' | b'l' | b'n') => {}
            _ => return Err(format!("unexpected CSI at {i}: {context}")),
        }
        i = j + 1;
    }
    Ok(v)
}

#[test]
fn the_interactive_repl_shows_server_controls_visibly() {
    let certs = TestCerts::new();
    let (at_prompt, prompt_seen) = std::sync::mpsc::channel::<()>();
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        c.send(b"* OK hi \x1b]0;title\x07 \x1b[2J\r\n");
        let idle = c.read_line().unwrap();
        let tag = tag_of(&idle);
        c.send(b"+ idling\r\n");
        // Unsolicited data once the user is at the prompt.
        prompt_seen.recv().unwrap();
        c.send(b"* 1 EXISTS \x1b]0;evil\x07 \xc2\x9b31m \x1b[6n\r\n");
        c.read_line();
        c.send(format!("{tag} OK done\r\n").as_bytes());
        imap_loop(c, false);
    });
    let home = tempfile::tempdir().unwrap();
    let url = s.url("imap");
    let mut t = crate::terminal::Term::start(
        home.path(),
        &[
            "--color",
            "always",
            "--no-history",
            "--timeout",
            NO_TIMEOUT,
            &url,
        ],
        &[],
    );
    t.at_prompt("IDLE");
    t.expect("IDLE (DONE ends it)");
    at_prompt.send(()).unwrap();
    // Shown above the line being edited; the same prompt goes on.
    t.expect("EXISTS");
    t.line("DONE");
    t.expect(" done\r\n");
    t.at_prompt(":quit");
    let (status, text) = t.finish();
    s.join();
    assert!(status.is_some(), "the REPL did not end\n{text}");
    let stdout = text.as_bytes().to_vec();
    let plain = strip_editor_csi(&stdout).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for (i, &b) in plain.iter().enumerate() {
        assert!(
            !((b < 0x20 && !b"\r\n\t".contains(&b)) || b == 0x7f),
            "raw 0x{b:02x} at {i}\n{}",
            show_bytes(&plain)
        );
    }
    assert!(
        !plain
            .windows(2)
            .any(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1])),
        "raw C1 control\n{text}"
    );
    let plain = String::from_utf8_lossy(&plain).into_owned();
    for shown in [
        "\\x1b]0;title\\x07 \\x1b[2J",
        "\\x1b]0;evil\\x07 \\u{9b}31m \\x1b[6n",
    ] {
        assert!(plain.contains(shown), "{shown:?} not shown\n{plain}");
    }
}

// ---------------------------------------------------------------------------
// Work per byte: a server that sends a long line one byte per read must not make the client
// rescan everything it holds on every read (quadratic work). The machines count the bytes
// they look at; that count, not a clock, decides.

/// The bytes looked at while `n` bytes of one line (SMTP) or of one literal (IMAP) arrive one
/// byte at a time.
fn work_byte_by_byte(imap: bool, n: u64) -> u64 {
    use mailtalk::proto::Machine;
    let mut m: Box<dyn Machine> = if imap {
        let mut m = mailtalk::proto::machine(mailtalk::proto::Protocol::Imap);
        m.feed(b"* OK hi\r\n");
        while let Ok(Some(_)) = m.next_event() {}
        m.command(b"FETCH 1 BODY[]").unwrap();
        m.feed(format!("* 1 FETCH (BODY[] {{{}}}\r\n", n + 10).as_bytes());
        while let Ok(Some(_)) = m.next_event() {}
        m
    } else {
        let mut m = mailtalk::proto::machine(mailtalk::proto::Protocol::Smtp);
        m.feed(b"220 ");
        m
    };
    let before = m.scan_work();
    for _ in 0..n {
        m.feed(if imap { b"b" } else { b"a" });
        while let Ok(Some(_)) = m.next_event() {}
    }
    m.scan_work() - before
}

#[test]
fn a_line_fed_one_byte_at_a_time_costs_linear_work() {
    for imap in [false, true] {
        for n in [4 * 1024, 32 * 1024] {
            let work = work_byte_by_byte(imap, n);
            // Each byte is looked at once (rescanning what is held would be n * n / 2).
            assert!(
                work <= n + 16,
                "{}: {n} bytes one at a time cost {work} bytes of scanning",
                if imap { "IMAP literal" } else { "SMTP line" }
            );
            assert!(work >= n, "the count does not count: {work} for {n}");
        }
    }
}
