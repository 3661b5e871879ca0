//! `mailtalk check` against a world on loopback: a DNSSEC-signed zone served by the test's own
//! authoritative server (MX, A, TLSA, TXT) behind a validating unbound (see `dnssec.rs`), the
//! embedded server as the MX with a certificate for its name, and an HTTPS server with the
//! MTA-STS policy.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::rdata::{tlsa, A, MX, TLSA, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::PKey;
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::X509;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::dnssec::{self, Authority, Records, Unbound};
use super::Serve;

/// A zone delegated from the signed `test.` without a DS record: insecure.
const UNSIGNED: &str = "unsigned.test.";
/// A name in the signed zone whose signatures do not verify: bogus.
const BOGUS: &str = "bogus.test.";

/// `records` served signed (but for `bogus`, whose signatures do not verify), and an unbound
/// validating them.
fn resolver(tools: &dnssec::Tools, records: &Records, bogus: &[&str]) -> (Authority, Unbound) {
    let auth = Authority::start(records.clone(), &[UNSIGNED], bogus);
    let unbound = Unbound::start(tools, &auth);
    (auth, unbound)
}

struct Pki {
    dir: tempfile::TempDir,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "check test CA");
        let ca = params.self_signed(&key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Pki {
            dir,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `name`: the PEM files' paths and the SHA-256 of its public key.
    fn leaf(&self, name: &str) -> (String, String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let crt = self.dir.path().join(format!("{name}.crt"));
        let pem = self.dir.path().join(format!("{name}.key"));
        std::fs::write(&crt, cert.pem()).unwrap();
        std::fs::write(&pem, key.serialize_pem()).unwrap();
        let x = X509::from_der(cert.der()).unwrap();
        let spki = x.public_key().unwrap().public_key_to_der().unwrap();
        let digest = hex::encode(hash(MessageDigest::sha256(), &spki).unwrap());
        (
            crt.to_string_lossy().into_owned(),
            pem.to_string_lossy().into_owned(),
            digest,
        )
    }

    fn ca(&self) -> String {
        self.dir
            .path()
            .join("ca.pem")
            .to_string_lossy()
            .into_owned()
    }
}

/// An HTTPS server answering every request with `policy` as text/plain.
fn policy_server(pki: &Pki, policy: &'static str) -> u16 {
    let (crt, key, _) = pki.leaf("mta-sts.example.test");
    let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    acc.set_certificate(&X509::from_pem(&std::fs::read(crt).unwrap()).unwrap())
        .unwrap();
    acc.set_private_key(&PKey::private_key_from_pem(&std::fs::read(key).unwrap()).unwrap())
        .unwrap();
    let acc = acc.build();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { break };
            let Ok(mut s) = acc.accept(tcp) else { continue };
            let mut req = Vec::new();
            let mut b = [0u8; 1];
            while !req.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                req.push(b[0]);
            }
            let _ = s.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n{policy}").as_bytes(),
            );
            let _ = s.shutdown();
        }
    });
    port
}

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn txt(s: &str) -> RData {
    RData::TXT(TXT::new(vec![s.to_string()]))
}

fn spki_tlsa(hexdigest: &str) -> RData {
    RData::TLSA(TLSA::new(
        tlsa::CertUsage::DaneEe,
        tlsa::Selector::Spki,
        tlsa::Matching::Sha256,
        hex::decode(hexdigest).unwrap(),
    ))
}

fn check(args: &[&str]) -> crate::support::Output {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    crate::support::mailtalk(&all, b"")
}

#[test]
fn check_reports_mx_tls_dane_mta_sts_and_tls_rpt() {
    let Some(tools) = dnssec::unbound_tools() else {
        return;
    };
    let pki = Pki::new();
    let (crt, key, spki) = pki.leaf("mx.example.test");
    let s = Serve::start(&[
        "--tls-cert",
        &crt,
        "--tls-key",
        &key,
        "--hostname",
        "mx.example.test",
    ]);
    let smtp = s.port("smtp");
    let https = policy_server(
        &pki,
        "version: STSv1\r\nmode: enforce\r\nmx: *.example.test\r\nmax_age: 86400\r\n",
    );
    let zone: Records = Arc::new(Mutex::new(vec![
        (
            "example.test.".into(),
            RData::MX(MX::new(10, name("mx.example.test."))),
        ),
        ("mx.example.test.".into(), RData::A(A::new(127, 0, 0, 1))),
        (format!("_{smtp}._tcp.mx.example.test."), spki_tlsa(&spki)),
        ("_mta-sts.example.test.".into(), txt("v=STSv1; id=20261202")),
        (
            "mta-sts.example.test.".into(),
            RData::A(A::new(127, 0, 0, 1)),
        ),
        (
            "_smtp._tls.example.test.".into(),
            txt("v=TLSRPTv1; rua=mailto:tls@example.test"),
        ),
        ("null.test.".into(), RData::MX(MX::new(0, Name::root()))),
        // Signed like the rest, but with signatures that do not verify.
        (
            BOGUS.into(),
            RData::MX(MX::new(10, name("mx.example.test."))),
        ),
        // A TLSA record that matches, with a signature that does not verify.
        (
            "badtlsa.test.".into(),
            RData::MX(MX::new(10, name("mx.badtlsa.test."))),
        ),
        ("mx.badtlsa.test.".into(), RData::A(A::new(127, 0, 0, 1))),
        (format!("_{smtp}._tcp.mx.badtlsa.test."), spki_tlsa(&spki)),
        // The insecure zone: the same MX, and a TLSA record that matches nothing.
        (
            UNSIGNED.into(),
            RData::MX(MX::new(10, name("mx.unsigned.test."))),
        ),
        ("mx.unsigned.test.".into(), RData::A(A::new(127, 0, 0, 1))),
        (
            format!("_{smtp}._tcp.mx.unsigned.test."),
            spki_tlsa(&"00".repeat(32)),
        ),
    ]));
    let bad_tlsa = format!("_{smtp}._tcp.mx.badtlsa.test.");
    let (_auth, unbound) = resolver(&tools, &zone, &[BOGUS, &bad_tlsa]);
    let resolver = unbound.addr();
    let (smtp_s, https_s) = (smtp.to_string(), https.to_string());
    let ca = pki.ca();
    let base = [
        "--resolver",
        &resolver,
        "--port",
        &smtp_s,
        "--policy-port",
        &https_s,
        "--ca-file",
        &ca,
        "--timeout",
        "100",
    ];
    let run = |domain: &str, json: bool| {
        let mut a = vec![domain];
        a.extend_from_slice(&base);
        if json {
            a.push("--json");
        }
        check(&a)
    };

    let o = run("example.test", false);
    let out = o.stdout_str();
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        out.contains("example.test: 1 MX (DNSSEC validated by the resolver)"),
        "{out}"
    );
    assert!(
        out.contains("MTA-STS: id 20261202, mode enforce, max_age 86400, mx *.example.test"),
        "{out}"
    );
    assert!(out.contains("TLS-RPT: mailto:tls@example.test"), "{out}");
    let row = out.lines().find(|l| l.contains("mx.example.test")).unwrap();
    for want in [
        "127.0.0.1",
        "yes",
        "valid (TLSv1.3)",
        "match: 3 1 1",
        "depth 0",
        "listed",
        "ok",
    ] {
        assert!(row.contains(want), "{want:?} in {row}");
    }

    // JSON says the same, for a monitoring job.
    let o = run("example.test", true);
    let v: serde_json::Value = serde_json::from_str(o.stdout_str().trim()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["mx"][0]["dane"]["depth"], 0);
    assert_eq!(v["mta_sts"]["mode"], "enforce");

    // A TLSA record that matches nothing: the MX fails, exit 4.
    {
        let mut z = zone.lock().unwrap();
        let tlsa = format!("_{smtp}._tcp.mx.example.test.");
        z.retain(|(n, _)| *n != tlsa);
        z.push((tlsa, spki_tlsa(&"00".repeat(32))));
    }
    unbound.flush();
    let o = run("example.test", false);
    assert_eq!(o.code, Some(4), "{o:?}");
    assert!(o.stdout_str().contains("NO MATCH"), "{}", o.stdout_str());
    assert!(o
        .stdout_str()
        .contains("FAIL: DANE: no usable TLSA record matches the chain"));

    // An MX the policy does not name, whose certificate is for another name, with MTA-STS
    // enforcing and no DANE to stand in: both said, exit 4.
    {
        let mut z = zone.lock().unwrap();
        z.retain(|(n, d)| !(n == "example.test." && d.record_type() == RecordType::MX));
        z.push((
            "example.test.".into(),
            RData::MX(MX::new(5, name("mx.elsewhere.test."))),
        ));
        z.push(("mx.elsewhere.test.".into(), RData::A(A::new(127, 0, 0, 1))));
    }
    unbound.flush();
    let o = run("example.test", false);
    assert_eq!(o.code, Some(4), "{o:?}");
    let row = o
        .stdout_str()
        .lines()
        .find(|l| l.contains("mx.elsewhere.test"))
        .unwrap()
        .to_string();
    for want in [
        "INVALID: name mismatch",
        "no TLSA",
        "NOT LISTED",
        "not an MX the MTA-STS policy names (enforce)",
        "does not verify for mx.elsewhere.test",
    ] {
        assert!(row.contains(want), "{want:?} in {row}");
    }

    // A null MX takes no mail; a name that does not exist is said so. Both answers are
    // validated: the null MX by its signature, the NXDOMAIN by the NSEC records that prove it.
    let o = run("null.test", false);
    assert_eq!(o.code, Some(4));
    assert!(
        o.stdout_str().contains("null MX (RFC 7505)"),
        "{}",
        o.stdout_str()
    );
    let o = run("null.test", true);
    let v: serde_json::Value = serde_json::from_str(o.stdout_str().trim()).unwrap();
    assert_eq!(v["dnssec"], true, "{v}");
    let o = run("gone.test", false);
    assert_eq!(o.code, Some(4), "{o:?}");
    assert!(
        o.stdout_str().contains("does not exist"),
        "{}",
        o.stdout_str()
    );
    let o = run("gone.test", true);
    let v: serde_json::Value = serde_json::from_str(o.stdout_str().trim()).unwrap();
    assert_eq!(v["dnssec"], true, "{v}");

    // A zone delegated without a DS record is insecure: the resolver does not set AD, so the
    // check says the MX records are not validated, and the TLSA record that matches nothing
    // is ignored rather than failing the MX (the same record failed example.test above).
    let o = run("unsigned.test", false);
    let out = o.stdout_str();
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        out.contains("unsigned.test: 1 MX (DNSSEC not validated)"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.contains("mx.unsigned.test"))
        .unwrap();
    for want in ["127.0.0.1", "yes", "NO MATCH (not DNSSEC: ignored)", "ok"] {
        assert!(row.contains(want), "{want:?} in {row}");
    }
    let o = run("unsigned.test", true);
    let v: serde_json::Value = serde_json::from_str(o.stdout_str().trim()).unwrap();
    assert_eq!(v["dnssec"], false, "{v}");
    assert_eq!(v["mx"][0]["tlsa_dnssec"], false, "{v}");
    assert_eq!(v["mx"][0]["dane"], "no-match", "{v}");
    assert_eq!(v["ok"], true, "{v}");

    // A signature that does not verify is bogus: the resolver answers SERVFAIL, and the check
    // says the lookup failed (exit 5) instead of believing the records.
    let o = run("bogus.test", false);
    assert_eq!(o.code, Some(5), "{o:?}");
    assert!(o.stdout_str().is_empty(), "{o:?}");
    assert!(
        o.stderr_str().contains(&format!(
            "the DNS server {resolver} answered Server Failure for bogus.test MX"
        )),
        "{o:?}"
    );
    assert!(
        unbound
            .log()
            .contains("validation failure <bogus.test. MX IN>"),
        "{}",
        unbound.log()
    );

    // A bogus TLSA record is not believed, though its digest matches: that lookup failed,
    // and so does the MX (exit 4), while the MX records themselves are validated.
    let o = run("badtlsa.test", false);
    let out = o.stdout_str();
    assert_eq!(o.code, Some(4), "{o:?}");
    assert!(
        out.contains("badtlsa.test: 1 MX (DNSSEC validated by the resolver)"),
        "{out}"
    );
    let row = out.lines().find(|l| l.contains("mx.badtlsa.test")).unwrap();
    let failed = format!(
        "FAIL: TLSA lookup: the DNS server {resolver} answered Server Failure for \
         _{smtp}._tcp.mx.badtlsa.test TLSA"
    );
    for want in ["no TLSA", &failed] {
        assert!(row.contains(want), "{want:?} in {row}");
    }
}

/// MX routing for a session: `smtp://@DOMAIN` looks up the MX hosts, shows them, tries the
/// best first and falls back in order; the certificate is checked against the MX name.
#[test]
fn a_session_follows_the_mx_records_and_falls_back_in_order() {
    let Some(tools) = dnssec::unbound_tools() else {
        return;
    };
    let pki = Pki::new();
    let (crt, key, _) = pki.leaf("mx.example.test");
    let s = Serve::start(&["--tls-cert", &crt, "--tls-key", &key, "--catch-all"]);
    let smtp = s.port("smtp");
    let zone: Records = Arc::new(Mutex::new(vec![
        (
            "example.test.".into(),
            RData::MX(MX::new(10, name("down.example.test."))),
        ),
        (
            "example.test.".into(),
            RData::MX(MX::new(20, name("mx.example.test."))),
        ),
        // Nothing listens on 127.0.0.2: that MX is refused, the next one is tried.
        ("down.example.test.".into(), RData::A(A::new(127, 0, 0, 2))),
        ("mx.example.test.".into(), RData::A(A::new(127, 0, 0, 1))),
        ("null.test.".into(), RData::MX(MX::new(0, Name::root()))),
    ]));
    let (_auth, unbound) = resolver(&tools, &zone, &[]);
    let resolver = unbound.addr();
    let ca = pki.ca();
    let o = crate::support::mailtalk(
        &[
            "--timeout",
            "100",
            "--starttls",
            "--ca-file",
            &ca,
            "--resolver",
            &resolver,
            &format!("smtp://@example.test:{smtp}"),
            "--from",
            "a@example.test",
            "--to",
            "b@example.test",
        ],
        b"",
    );
    let out = o.stdout_str();
    println!("{out}");
    assert_eq!(o.code, Some(0), "{o:?}");
    o.assert_in_order(&[
        "** MX for example.test (DNSSEC: validated by the resolver): 10 down.example.test (127.0.0.2); 20 mx.example.test (127.0.0.1)",
        "** trying MX 10 down.example.test at 127.0.0.2",
        "** trying MX 20 mx.example.test at 127.0.0.1",
    ]);
    assert!(
        out.contains("!! warning: MX down.example.test at 127.0.0.2: "),
        "{out}"
    );
    assert!(
        out.contains("certificate verified for mx.example.test"),
        "{out}"
    );
    s.wait_count("message ", 1);

    // --mx DOMAIN is the same; a null MX is said and nothing is tried.
    let o = crate::support::mailtalk(
        &[
            "--timeout",
            "100",
            "--resolver",
            &resolver,
            "--mx",
            "null.test",
        ],
        b"",
    );
    assert_eq!(o.code, Some(3), "{o:?}");
    assert!(
        o.stderr_str()
            .contains("null.test has a null MX (RFC 7505)"),
        "{o:?}"
    );
}

/// An MX with several addresses: each is connected to in order, as a sending MTA would, and
/// reported on its own row; the first refusing the connection does not fail the MX when the
/// next one passes, but an address that answers with a certificate the TLSA records do not
/// match does, whichever other address passes.
#[test]
fn check_tries_every_address_of_an_mx() {
    let Some(tools) = dnssec::unbound_tools() else {
        return;
    };
    let pki = Pki::new();
    let (crt, key, spki) = pki.leaf("mx.example.test");
    let s = Serve::start(&[
        "--tls-cert",
        &crt,
        "--tls-key",
        &key,
        "--hostname",
        "mx.example.test",
    ]);
    let smtp = s.port("smtp");
    let zone: Records = Arc::new(Mutex::new(vec![
        (
            "example.test.".into(),
            RData::MX(MX::new(10, name("mx.example.test."))),
        ),
        // Nothing listens on 127.0.0.2: refused, and 127.0.0.1 is tried next.
        ("mx.example.test.".into(), RData::A(A::new(127, 0, 0, 2))),
        ("mx.example.test.".into(), RData::A(A::new(127, 0, 0, 1))),
        (format!("_{smtp}._tcp.mx.example.test."), spki_tlsa(&spki)),
    ]));
    let (_auth, unbound) = resolver(&tools, &zone, &[]);
    let resolver = unbound.addr();
    let smtp_s = smtp.to_string();
    let ca = pki.ca();
    let run = |json: bool| {
        let mut a = vec![
            "example.test",
            "--resolver",
            &resolver,
            "--port",
            &smtp_s,
            "--ca-file",
            &ca,
            "--timeout",
            "100",
        ];
        if json {
            a.push("--json");
        }
        check(&a)
    };
    let row = |out: &str, address: &str| -> String {
        out.lines()
            .find(|l| l.contains("mx.example.test") && l.contains(address))
            .unwrap_or_else(|| panic!("no row for {address} in\n{out}"))
            .to_string()
    };
    let verdict = |out: &str| -> String {
        out.lines()
            .find(|l| l.contains("mx.example.test") && l.contains("MX verdict: "))
            .unwrap_or_else(|| panic!("no MX verdict in\n{out}"))
            .to_string()
    };

    let o = run(false);
    let out = o.stdout_str();
    println!("{out}");
    assert_eq!(o.code, Some(0), "{o:?}");
    let down = row(&out, "127.0.0.2");
    assert!(down.contains("unreachable: connection refused"), "{down}");
    assert!(!down.contains("FAIL"), "{down}");
    let up = row(&out, "127.0.0.1");
    for want in ["yes", "valid (TLSv1.3)", "match: 3 1 1", "depth 0", " ok"] {
        assert!(up.contains(want), "{want:?} in {up}");
    }
    // A row per address (in the order the resolver gave them: unbound rotates RRsets), then
    // the MX's verdict.
    let at = |needle: &str| out.find(needle).unwrap();
    assert!(
        at(&down) < at("MX verdict") && at(&up) < at("MX verdict"),
        "{out}"
    );
    assert!(
        verdict(&out).contains(
            "MX verdict: ok via 127.0.0.1; cannot connect to 127.0.0.2: connection refused"
        ),
        "{out}"
    );

    let o = run(true);
    assert_eq!(o.code, Some(0), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(o.stdout_str().trim()).unwrap();
    println!("{v:#}");
    let mx = &v["mx"][0];
    assert_eq!(v["ok"], true);
    assert_eq!(mx["ok"], true);
    let mut addresses: Vec<String> = mx["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    // Tried in the order the lookup gave them.
    let tried_order: Vec<String> = mx["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tried_order, addresses, "{mx}");
    addresses.sort();
    assert_eq!(addresses, ["127.0.0.1", "127.0.0.2"]);
    assert_eq!(mx["address"], "127.0.0.1");
    assert_eq!(mx["problems"], serde_json::json!([]));
    assert_eq!(
        mx["warnings"],
        serde_json::json!(["cannot connect to 127.0.0.2: connection refused"])
    );
    let tried = mx["tried"].as_array().unwrap();
    assert_eq!(tried.len(), 2, "{mx}");
    let at = |addr: &str| -> &serde_json::Value {
        tried
            .iter()
            .find(|t| t["address"] == addr)
            .unwrap_or_else(|| panic!("{addr} not tried: {mx}"))
    };
    assert_eq!(at("127.0.0.2")["address"], "127.0.0.2");
    assert_eq!(at("127.0.0.2")["connected"], false);
    assert_eq!(at("127.0.0.2")["connect_error"], "connection refused");
    assert_eq!(at("127.0.0.2")["tls"], serde_json::Value::Null);
    assert_eq!(at("127.0.0.2")["ok"], false);
    assert_eq!(at("127.0.0.1")["connected"], true);
    assert_eq!(at("127.0.0.1")["starttls"], true);
    assert_eq!(at("127.0.0.1")["certificate_valid"], true);
    assert_eq!(at("127.0.0.1")["dane"]["depth"], 0);
    assert_eq!(at("127.0.0.1")["tls"]["version"], "TLSv1.3");
    let subject = at("127.0.0.1")["tls"]["chain"][0]["subject"]
        .as_str()
        .unwrap();
    assert!(subject.contains("mx.example.test"), "{subject}");
    assert_eq!(at("127.0.0.1")["ok"], true);

    // A third address answering with a certificate of its own, which the TLSA record does not
    // match (and no CA given vouches for): a sender given that address fails, so the MX does.
    let other = Pki::new();
    let (crt3, key3, _) = other.leaf("mx.example.test");
    let listen = format!("127.0.0.3:{smtp}");
    let _third = Serve::start_only(
        tempfile::tempdir().unwrap(),
        &[
            "--smtp",
            &listen,
            "--imap",
            "off",
            "--pop3",
            "off",
            "--tls-cert",
            &crt3,
            "--tls-key",
            &key3,
            "--hostname",
            "mx.example.test",
        ],
    );
    zone.lock()
        .unwrap()
        .push(("mx.example.test.".into(), RData::A(A::new(127, 0, 0, 3))));
    unbound.flush();
    let o = run(false);
    let out = o.stdout_str();
    println!("{out}");
    assert_eq!(o.code, Some(4), "{o:?}");
    assert!(row(&out, "127.0.0.1").ends_with(" ok"), "{out}");
    let third = row(&out, "127.0.0.3");
    for want in [
        "yes",
        "INVALID",
        "NO MATCH",
        "FAIL: DANE: no usable TLSA record",
    ] {
        assert!(third.contains(want), "{want:?} in {third}");
    }
    assert!(
        verdict(&out).contains(
            "MX verdict: FAIL: 127.0.0.3: DANE: no usable TLSA record matches the chain; \
             cannot connect to 127.0.0.2: connection refused"
        ),
        "{out}"
    );
    let o = run(true);
    assert_eq!(o.code, Some(4), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(o.stdout_str().trim()).unwrap();
    let mx = &v["mx"][0];
    assert_eq!(v["ok"], false);
    assert_eq!(mx["address"], "127.0.0.1");
    let tried = mx["tried"].as_array().unwrap();
    assert_eq!(tried.len(), 3, "{mx}");
    let at = |addr: &str| -> &serde_json::Value {
        tried
            .iter()
            .find(|t| t["address"] == addr)
            .unwrap_or_else(|| panic!("{addr} not tried: {mx}"))
    };
    assert_eq!(at("127.0.0.3")["dane"], "no-match");
    assert_eq!(at("127.0.0.3")["certificate_valid"], false);
    assert_eq!(at("127.0.0.3")["ok"], false);
    // The two certificates differ, and each is there.
    assert_ne!(
        at("127.0.0.1")["tls"]["chain"][0]["sha256"],
        at("127.0.0.3")["tls"]["chain"][0]["sha256"]
    );

    // No address answering at all: the MX fails with each address's reason.
    {
        let mut z = zone.lock().unwrap();
        z.retain(|(n, d)| !(n == "mx.example.test." && d.record_type() == RecordType::A));
        z.push(("mx.example.test.".into(), RData::A(A::new(127, 0, 0, 2))));
    }
    unbound.flush();
    let o = run(false);
    let out = o.stdout_str();
    assert_eq!(o.code, Some(4), "{o:?}");
    let down = row(&out, "127.0.0.2");
    assert!(
        down.contains("FAIL: cannot connect to 127.0.0.2: connection refused"),
        "{out}"
    );
    assert!(!out.contains("MX verdict"), "{out}");
}

/// The require switch: without unbound the tests above skip (and say so), but under
/// MAILTALK_REQUIRE=1 or in CI the same test fails. Runs this test binary on one of them with
/// unbound looked for where it is not.
#[test]
fn without_unbound_a_check_test_skips_but_fails_when_required() {
    let run = |env: Option<(&str, &str)>| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "serve::check::a_session_follows_the_mx_records_and_falls_back_in_order",
            "--nocapture",
        ])
        .env_remove("CI")
        .env_remove("MAILTALK_REQUIRE")
        .env(dnssec::UNBOUND_DIR, "/nonexistent/mailtalk-test");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, text) = run(None);
    assert!(ok, "{text}");
    assert!(text.contains(dnssec::SKIPPED), "{text}");
    assert!(text.contains("1 passed"), "{text}");
    for required in [("MAILTALK_REQUIRE", "1"), ("CI", "true")] {
        let (ok, text) = run(Some(required));
        assert!(!ok, "{required:?}: {text}");
        assert!(
            text.contains("unbound is required (CI or MAILTALK_REQUIRE=1) but not installed"),
            "{required:?}: {text}"
        );
    }
}
