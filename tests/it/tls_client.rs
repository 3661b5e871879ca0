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
fn the_client_certificate_is_sent_after_starttls() {
    let certs = TestCerts::new();
    let config = requiring_client_cert(&certs);
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        c.set_tls_config(config);
        smtp_like(c, false, true);
    });
    let url = s.url("smtp");
    let both = certs.client_combined.to_str().unwrap();
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--ca-file",
            certs.ca(),
            "--starttls",
            "--cert",
            both,
            &url,
        ],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.client_subject.as_deref(), Some("CN=client.test"));
    out.assert_line("C# NOOP");
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

/// An implicit-TLS IMAP server for the four `--tls-info` probes, set up by `config`.
fn imaps_probed(certs: &TestCerts, config: TlsConfig) -> Server {
    Server::start_multi(Mode::Plain, &certs.good, 4, move |c, _| {
        if c.start_tls_with(&config) {
            imap_like(c, false);
        }
    })
}

fn versions_established(logs: &[Log]) -> Vec<String> {
    logs.iter().filter_map(|l| l.tls_version.clone()).collect()
}

/// The line of `version`, which must say accepted, refused, or that the local library cannot
/// offer it (old versions may be compiled out).
#[track_caller]
fn version_line(out: &Output, version: &str) -> String {
    let prefix = format!("**   TLS {version}: ");
    let lines = out.with_prefix(&prefix);
    assert_eq!(lines.len(), 1, "no single line for {version}\n{out:?}");
    lines[0].clone()
}

/// `mailtalk --tls-info URL` with `more` options, colours off and the long timeout.
fn tls_info(url: &str, more: &[&str]) -> Output {
    let mut a = vec!["--color", "never", "--timeout", NO_TIMEOUT, "--tls-info"];
    a.extend_from_slice(more);
    a.push(url);
    mailtalk(&a, b"")
}

#[test]
fn tls_info_reports_each_version_a_server_limited_to_tls_1_2_accepts() {
    let certs = TestCerts::new();
    let s = imaps_probed(
        &certs,
        TlsConfig {
            max: Some(SslVersion::TLS1_2),
            ..TlsConfig::default()
        },
    );
    let url = s.url("imaps");
    let out = tls_info(&url, &[]);
    let logs = s.join_all();
    out.assert_code(EXIT_OK);
    assert_eq!(versions_established(&logs), ["TLSv1.2"], "{out:?}");
    assert!(
        version_line(&out, "1.2").starts_with("accepted, cipher ECDHE-"),
        "{out:?}"
    );
    assert!(
        version_line(&out, "1.3").starts_with("refused ("),
        "{out:?}"
    );
    for old in ["1.0", "1.1"] {
        let line = version_line(&out, old);
        assert!(
            line.starts_with("refused (") || line.starts_with("not tried: the local OpenSSL"),
            "{out:?}"
        );
    }
}

#[test]
fn tls_info_offers_old_versions_at_security_level_0() {
    let certs = TestCerts::new();
    let s = imaps_probed(
        &certs,
        TlsConfig {
            legacy: true,
            min: Some(SslVersion::TLS1_1),
            max: Some(SslVersion::TLS1_1),
            ..TlsConfig::default()
        },
    );
    let url = s.url("imaps");
    let out = tls_info(&url, &[]);
    let logs = s.join_all();
    let line = version_line(&out, "1.1");
    if line.starts_with("not tried: the local OpenSSL cannot offer it") {
        // A library built without TLS 1.1: nothing was accepted.
        out.assert_code(EXIT_TLS);
        assert!(versions_established(&logs).is_empty());
        return;
    }
    out.assert_code(EXIT_OK);
    assert!(line.starts_with("accepted, cipher "), "{out:?}");
    assert_eq!(versions_established(&logs), ["TLSv1.1"], "{out:?}");
    assert!(
        version_line(&out, "1.2").starts_with("refused ("),
        "{out:?}"
    );
    assert!(
        version_line(&out, "1.3").starts_with("refused ("),
        "{out:?}"
    );
}

#[test]
fn tls_info_uses_starttls_for_a_plaintext_target() {
    let certs = TestCerts::new();
    let s = Server::start_multi(Mode::Plain, &certs.good, 4, |c, _| {
        smtp_like(c, false, true)
    });
    let url = s.url("smtp");
    let out = tls_info(&url, &[]);
    let logs = s.join_all();
    out.assert_code(EXIT_OK);
    out.assert_contains("(smtp, STARTTLS;");
    assert_eq!(
        versions_established(&logs),
        ["TLSv1.2", "TLSv1.3"],
        "{out:?}"
    );
    assert!(
        version_line(&out, "1.3").starts_with("accepted, cipher TLS_"),
        "{out:?}"
    );
    for log in &logs {
        assert!(
            log.plain_str().contains("STARTTLS\r\n") || !log.connected,
            "{log:?}"
        );
    }

    // --ciphersuites applies to the TLS 1.3 probe.
    let s = imaps_probed(
        &certs,
        TlsConfig {
            min: Some(SslVersion::TLS1_3),
            ..TlsConfig::default()
        },
    );
    let url = s.url("imaps");
    let out = tls_info(&url, &["--ciphersuites", "TLS_AES_128_GCM_SHA256"]);
    s.join_all();
    out.assert_code(EXIT_OK);
    assert!(
        version_line(&out, "1.3").starts_with("accepted, cipher TLS_AES_128_GCM_SHA256"),
        "{out:?}"
    );
    assert!(
        version_line(&out, "1.2").starts_with("refused ("),
        "{out:?}"
    );
}

#[test]
fn tls_info_fails_when_no_version_is_accepted() {
    let certs = TestCerts::new();
    // TLS 1.3 only, and not with the one suite the client offers.
    let s = imaps_probed(
        &certs,
        TlsConfig {
            min: Some(SslVersion::TLS1_3),
            ciphersuites: Some("TLS_AES_256_GCM_SHA384".into()),
            ..TlsConfig::default()
        },
    );
    let url = s.url("imaps");
    let out = tls_info(&url, &["--ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"]);
    let logs = s.join_all();
    out.assert_code(EXIT_TLS);
    assert!(versions_established(&logs).is_empty(), "{logs:?}");
    for v in ["1.2", "1.3"] {
        assert!(version_line(&out, v).starts_with("refused ("), "{out:?}");
    }
}

/// `--tls-info --json`: one JSON object, a line, with each version's result as data.
#[test]
fn tls_info_json_reports_each_version_as_data() {
    let certs = TestCerts::new();
    let s = imaps_probed(
        &certs,
        TlsConfig {
            max: Some(SslVersion::TLS1_2),
            ..TlsConfig::default()
        },
    );
    let (url, port) = (s.url("imaps"), s.port());
    let out = mailtalk(
        &["--timeout", NO_TIMEOUT, "--tls-info", "--json", &url],
        b"",
    );
    let logs = s.join_all();
    out.assert_code(EXIT_OK);
    assert_eq!(versions_established(&logs), ["TLSv1.2"], "{out:?}");
    let text = out.stdout_str();
    assert_eq!(text.lines().count(), 1, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    println!("{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["error"], serde_json::Value::Null);
    assert_eq!(v["accepted"], serde_json::json!(["1.2"]));
    assert_eq!(v["target"]["host"], "127.0.0.1");
    assert_eq!(v["target"]["port"], port);
    assert_eq!(v["target"]["protocol"], "imap");
    assert_eq!(v["target"]["tls"], "implicit");
    let versions = v["versions"].as_array().unwrap();
    let numbers: Vec<&str> = versions
        .iter()
        .map(|p| p["version"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["1.0", "1.1", "1.2", "1.3"]);
    let (old, new) = versions.split_at(2);
    let (v12, v13) = (&new[0], &new[1]);

    assert_eq!(v12["offered"], true);
    assert_eq!(v12["result"], "accepted");
    assert!(
        v12["cipher"].as_str().unwrap().starts_with("ECDHE-"),
        "{v12}"
    );
    assert_eq!(v12["error"], serde_json::Value::Null);
    assert_eq!(v12["tls"]["version"], "TLSv1.2");
    assert_eq!(v12["tls"]["cipher"], v12["cipher"]);
    let leaf = &v12["tls"]["chain"][0];
    assert!(
        leaf["issuer"]
            .as_str()
            .unwrap()
            .contains("mailtalk test CA"),
        "{leaf}"
    );
    assert!(
        leaf["sans"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("DNS:localhost")),
        "{leaf}"
    );
    assert!(leaf["sha256"].as_str().unwrap().contains(':'), "{leaf}");

    assert_eq!(v13["offered"], true);
    assert_eq!(v13["result"], "refused");
    assert_eq!(v13["cipher"], serde_json::Value::Null);
    assert_eq!(v13["tls"], serde_json::Value::Null);
    assert!(!v13["error"].as_str().unwrap().is_empty(), "{v13}");

    // Old versions: refused, or not tried when the local library cannot offer them.
    for p in old {
        match p["result"].as_str().unwrap() {
            "refused" => assert_eq!(p["offered"], true, "{p}"),
            "not-tried" => assert_eq!(p["offered"], false, "{p}"),
            other => panic!("{other} for {p}"),
        }
        assert!(p["error"].is_string(), "{p}");
        assert_eq!(p["tls"], serde_json::Value::Null);
    }
}

/// A failure before TLS (here STARTTLS not offered) ends the probes: said in the object, with
/// the exit status the text report has.
#[test]
fn tls_info_json_says_an_error_before_tls() {
    let certs = TestCerts::new();
    let run = |json: bool| {
        let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
        let url = s.url("smtp");
        let mut args = vec!["--timeout", NO_TIMEOUT, "--tls-info", &url];
        if json {
            args.push("--json");
        }
        let out = mailtalk(&args, b"");
        s.join_all();
        out
    };
    let text = run(false);
    let out = run(true);
    assert_ne!(out.code, Some(EXIT_OK), "{out:?}");
    assert_eq!(out.code, text.code, "{out:?}\n{text:?}");
    let v: serde_json::Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    println!("{v:#}");
    assert_eq!(v["ok"], false);
    assert_eq!(v["accepted"], serde_json::json!([]));
    assert_eq!(v["target"]["tls"], "starttls");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("STARTTLS"), "{error}");
    // What was probed before the failure is kept: only versions that were never offered.
    for p in v["versions"].as_array().unwrap() {
        assert_eq!(p["result"], "not-tried", "{p}");
    }
}
