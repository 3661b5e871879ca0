//! What the client offers in TLS: a client certificate, versions, ciphers, ALPN, and the key
//! log (SSLKEYLOGFILE) matching the session.

use crate::support::*;
use openssl::ssl::SslVersion;

/// An implicit-TLS IMAP server set up by `config`.
fn imaps(certs: &TestCerts, config: TlsConfig) -> Server {
    Server::start(Mode::Plain, &certs.good, move |c| {
        if c.start_tls_with(&config) {
            imap_like(c, false);
        }
    })
}

fn requiring_client_cert(certs: &TestCerts) -> TlsConfig {
    TlsConfig {
        require_client_cert: Some(certs.ca_pem.clone()),
        ..TlsConfig::default()
    }
}

/// A run against `s` (imaps) with the test CA and `extra` options, saying NOOP.
fn run(certs: &TestCerts, s: &Server, extra: &[&str]) -> Output {
    let url = s.url("imaps");
    let mut args = vec![
        "--color",
        "never",
        "--timeout",
        NO_TIMEOUT,
        "--ca-file",
        certs.ca(),
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    mailtalk(&args, &input(&["NOOP"]))
}

#[track_caller]
fn assert_said(out: &Output, needle: &str) {
    assert!(
        out.stdout_str().contains(needle) || out.stderr_str().contains(needle),
        "output lacks {needle:?}\n{out:?}"
    );
}

#[test]
fn a_server_that_requires_a_client_certificate_says_so_without_one() {
    let certs = TestCerts::new();
    let s = imaps(&certs, requiring_client_cert(&certs));
    let out = run(&certs, &s, &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_TLS);
    assert!(!log.tls_established, "{log:?}");
    assert_said(
        &out,
        "the server requires a client certificate: give one with --cert",
    );
    assert!(log.tls.is_empty(), "{log:?}");
}

#[test]
fn the_client_certificate_is_sent_with_cert_and_key() {
    let certs = TestCerts::new();
    let s = imaps(&certs, requiring_client_cert(&certs));
    let cert = certs.client.cert_file.to_str().unwrap();
    let key = certs.client.key_file.to_str().unwrap();
    let out = run(&certs, &s, &["--cert", cert, "--key", key]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.client_subject.as_deref(), Some("CN=client.test"));
    out.assert_line("C# A001 NOOP");
}

#[test]
fn the_key_may_be_in_the_certificate_file() {
    let certs = TestCerts::new();
    let s = imaps(&certs, requiring_client_cert(&certs));
    let both = certs.client_combined.to_str().unwrap();
    let out = run(&certs, &s, &["--cert", both]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.client_subject.as_deref(), Some("CN=client.test"));
}

#[test]
fn a_key_that_is_not_the_certificates_is_a_usage_error() {
    let certs = TestCerts::new();
    let cert = certs.client.cert_file.to_str().unwrap();
    let other_key = certs.good.key_file.to_str().unwrap();
    let out = mailtalk(
        &["--cert", cert, "--key", other_key, "imaps://127.0.0.1:9"],
        b"",
    );
    out.assert_code(EXIT_USAGE);
    assert_said(&out, "does not belong to the --cert certificate");
    // A certificate file without a key and no --key.
    let out = mailtalk(&["--cert", cert, "imaps://127.0.0.1:9"], b"");
    out.assert_code(EXIT_USAGE);
    assert_said(&out, "no --key: the key must be in it");
}

#[test]
fn tls_max_1_2_negotiates_tls_1_2() {
    let certs = TestCerts::new();
    let s = imaps(&certs, TlsConfig::default());
    let out = run(&certs, &s, &["--tls-max", "1.2", "--show-cert"]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.tls_version.as_deref(), Some("TLSv1.2"));
    out.assert_contains("protocol TLSv1.2, cipher ");
}

#[test]
fn tls_min_1_3_against_a_server_of_tls_1_2_fails_clearly() {
    let certs = TestCerts::new();
    let s = imaps(
        &certs,
        TlsConfig {
            max: Some(SslVersion::TLS1_2),
            ..TlsConfig::default()
        },
    );
    let out = run(&certs, &s, &["--tls-min", "1.3"]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_TLS);
    assert!(!log.tls_established, "{log:?}");
    assert_said(&out, "no TLS version that both sides allow");
}

#[test]
fn tls_min_above_tls_max_is_a_usage_error() {
    let out = mailtalk(
        &[
            "--tls-min",
            "1.3",
            "--tls-max",
            "1.2",
            "imaps://127.0.0.1:9",
        ],
        b"",
    );
    out.assert_code(EXIT_USAGE);
    assert_said(&out, "--tls-min 1.3 is newer than --tls-max 1.2");
    let out = mailtalk(&["--tls-min", "1.4", "imaps://127.0.0.1:9"], b"");
    out.assert_code(EXIT_USAGE);
}

#[test]
fn ciphers_and_ciphersuites_choose_the_cipher() {
    let certs = TestCerts::new();
    // The test certificates have EC P-256 keys.
    let s = imaps(&certs, TlsConfig::default());
    let out = run(
        &certs,
        &s,
        &[
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-ECDSA-AES128-GCM-SHA256",
        ],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.tls_cipher.as_deref(),
        Some("ECDHE-ECDSA-AES128-GCM-SHA256")
    );

    let s = imaps(&certs, TlsConfig::default());
    let out = run(
        &certs,
        &s,
        &["--ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.tls_cipher.as_deref(),
        Some("TLS_CHACHA20_POLY1305_SHA256")
    );

    let out = mailtalk(&["--ciphers", "NO-SUCH-CIPHER", "imaps://127.0.0.1:9"], b"");
    out.assert_code(EXIT_USAGE);
    assert_said(&out, "--ciphers \"NO-SUCH-CIPHER\"");
}

#[test]
fn alpn_is_offered_and_the_chosen_protocol_shown() {
    let certs = TestCerts::new();
    let s = imaps(
        &certs,
        TlsConfig {
            alpn: vec!["imap".into()],
            ..TlsConfig::default()
        },
    );
    let out = run(&certs, &s, &["--alpn", "smtp,imap", "--show-cert"]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.alpn.as_deref(), Some("imap"));
    out.assert_line("**   ALPN: imap");
}

/// The lines of a key log as (label, client random in hex).
fn keylog_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut parts = l.split(' ');
            let label = parts.next().unwrap_or_default().to_string();
            let random = parts.next().unwrap_or_default().to_string();
            assert_eq!(parts.count(), 1, "not a key log line: {l:?}");
            (label, random)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_key_log_matches_the_session_and_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let certs = TestCerts::new();
    let home = tempfile::tempdir().unwrap();
    let keylog = home.path().join("keys.log");
    let keylog_str = keylog.to_str().unwrap().to_string();

    for (max, label) in [
        ("1.3", "CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
        ("1.2", "CLIENT_RANDOM"),
    ] {
        let s = imaps(&certs, TlsConfig::default());
        let url = s.url("imaps");
        let out = mailtalk_env(
            home.path(),
            &[
                "--color",
                "never",
                "--timeout",
                NO_TIMEOUT,
                "--ca-file",
                certs.ca(),
                "--tls-max",
                max,
                &url,
            ],
            &input(&["NOOP"]),
            &[("SSLKEYLOGFILE", &keylog_str)],
        );
        let log = s.join_for(&out);
        out.assert_code(EXIT_OK);
        assert_said(
            &out,
            "SSLKEYLOGFILE is set: the secrets of this TLS session are written to",
        );
        let text = std::fs::read_to_string(&keylog).unwrap();
        let random = hex(log.client_random.as_deref().unwrap());
        let lines = keylog_lines(&text);
        assert!(
            lines.iter().any(|(l, r)| l == label && *r == random),
            "no {label} line for client random {random} in\n{text}"
        );
        // The secrets are in the file, never on screen.
        for line in text.lines() {
            let secret = line.rsplit(' ').next().unwrap();
            out.assert_nowhere(secret);
        }
    }
    // Appended: the lines of both sessions are there.
    let text = std::fs::read_to_string(&keylog).unwrap();
    let labels: Vec<String> = keylog_lines(&text).into_iter().map(|(l, _)| l).collect();
    assert!(labels.contains(&"CLIENT_RANDOM".to_string()), "{text}");
    assert!(
        labels.contains(&"CLIENT_HANDSHAKE_TRAFFIC_SECRET".to_string()),
        "{text}"
    );
    let mode = std::fs::metadata(&keylog).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "key log mode {mode:o}");
}
