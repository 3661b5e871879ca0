//! JSON Lines output (`--json`): one object per event, for CI tools. Each event is built as
//! one JSON value, serialised once.
//!
//! Every event object has `"t"` (seconds since the session started, millisecond precision),
//! `"event"`, `"protocol"` (`smtp`, `lmtp`, `imap`, `pop3`) and `"security"` (`plain`,
//! `tls-verified`, `tls-unverified`). By event (the list is [`EVENTS`]; the README has the same
//! table, checked by a test):
//!
//! | `event`        | fields                                                                 |
//! |----------------|------------------------------------------------------------------------|
//! | `info`         | `message`                                                              |
//! | `sent`         | `text` (as on the wire, secrets `<redacted>`), `secret`, `content`     |
//! | `received`     | `text` (lossy UTF-8), `raw_base64` (the exact bytes), `kind` (`status`/`data`), `ending` (`crlf`/`lf`/`none`) |
//! | `challenge`    | `text`, `raw_base64` (the decoded SASL challenge)                      |
//! | `reply`        | `outcome` (`ok`, `continue`, `tempfail`, `permfail`, `no`, `bad`, `bye`, `unknown`), `code`, `enhanced`, `tag` (null when absent), `lines`, `explanation` (when there is one) |
//! | `tls`          | `version`, `cipher`, `sni`, `verify_name`, `verified`, `verify_error`, `alpn`, `chain` (leaf first: `subject`, `issuer`, `sans`, `not_before`, `not_after`, `days_left`, `key`, `sha256`) |
//! | `capabilities` | `caps`, `added`, `removed`, `after_tls`                                |
//! | `timing`       | `what`, `first_byte_ms`, `total_ms`                                    |
//! | `warning`      | `message`                                                              |
//! | `error`        | `message`, `hint` (null when none)                                     |
//! | `failure`      | `message`                                                              |
//! | `expect`       | `file`, `line`, `ok`, `expected`, `actual`                             |
//! | `delivery`     | `outcome`, `delivered`, `refused` (`address`, `reply`), `nothing_delivered` |
//! | `closed`       |                                                                        |
//!
//! Each object is one line: control characters, DEL, C1 controls and characters that reorder
//! or hide text are written as `\u` escapes, so a line holds no byte a terminal or a log viewer
//! would act on; parsing gives back the exact text.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::engine::{Event, EventKind};
use crate::net::{CertSummary, TlsInfo};
use crate::proto::{Ending, LineKind, ServerLine};
use crate::render::escape::char_needs_escape;

/// Every `event` name `--json` prints.
pub const EVENTS: &[&str] = &[
    "info",
    "sent",
    "sent-raw",
    "received",
    "challenge",
    "reply",
    "tls",
    "capabilities",
    "timing",
    "warning",
    "error",
    "failure",
    "expect",
    "delivery",
    "closed",
];

/// One event as a single line of JSON (no trailing newline); `explanation` goes with a reply.
pub fn event_json(ev: &Event, explanation: Option<&str>) -> String {
    let mut obj = Map::new();
    obj.insert("t".into(), json!(seconds(ev.at)));
    obj.insert("event".into(), json!(event_name(&ev.kind)));
    obj.insert("protocol".into(), json!(ev.protocol.name()));
    obj.insert("security".into(), json!(ev.security.name()));
    let fields = match &ev.kind {
        EventKind::Info(m) | EventKind::Warning(m) | EventKind::Failure(m) => {
            json!({ "message": m })
        }
        EventKind::Error { message, hint } => json!({ "message": message, "hint": hint }),
        EventKind::Sent {
            display,
            secret,
            content,
        } => json!({
            "text": String::from_utf8_lossy(display),
            "secret": secret,
            "content": content,
        }),
        EventKind::SentRaw(bytes) => json!({
            "text": String::from_utf8_lossy(bytes),
            "raw_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
            "raw": true,
        }),
        EventKind::Received(line) => json!({
            "text": String::from_utf8_lossy(&line.bytes),
            "raw_base64": base64::engine::general_purpose::STANDARD.encode(&line.bytes),
            "kind": match line.kind {
                LineKind::Status => "status",
                LineKind::Data => "data",
            },
            "ending": match line.ending {
                Ending::CrLf => "crlf",
                Ending::Lf => "lf",
                Ending::None => "none",
            },
        }),
        EventKind::Reply(reply) => {
            let mut v = json!({
                "outcome": reply.outcome.name(),
                "code": reply.code_value(),
                "enhanced": reply.enhanced.map(|e| e.to_string()),
                "tag": reply.tag,
                "lines": reply
                    .lines
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect::<Vec<_>>(),
            });
            if let (Some(text), Value::Object(map)) = (explanation, &mut v) {
                map.insert("explanation".into(), json!(text));
            }
            v
        }
        EventKind::TlsUp(info) => tls_json(info),
        EventKind::Capabilities {
            caps,
            added,
            removed,
            after_tls,
        } => json!({
            "caps": caps.items,
            "added": added,
            "removed": removed,
            "after_tls": after_tls,
        }),
        EventKind::Closed | EventKind::Waiting => json!({}),
        EventKind::Data(block) => json!({
            "text": String::from_utf8_lossy(&block.bytes),
            "raw_base64": base64::engine::general_purpose::STANDARD.encode(&block.bytes),
            "kind": "data",
        }),
        EventKind::Progress(p) => json!({
            "sending": p.sending,
            "done": p.done,
            "total": p.total,
            "finished": p.finished,
        }),
        EventKind::Challenge(bytes) => json!({
            "text": String::from_utf8_lossy(bytes),
            "raw_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
        }),
        EventKind::Timing {
            what,
            first_byte,
            total,
        } => json!({
            "what": what,
            "first_byte_ms": first_byte.map(|d| d.as_secs_f64() * 1000.0),
            "total_ms": total.as_secs_f64() * 1000.0,
        }),
        EventKind::Expect(r) => {
            let location = r.location.as_deref().unwrap_or("");
            let (file, line) = match location.rsplit_once(':') {
                Some((f, l)) => (f, l.parse::<u64>().unwrap_or(0)),
                None => (location, 0),
            };
            json!({
                "file": file,
                "line": line,
                "ok": r.ok,
                "expected": r.expected,
                "actual": r.actual,
            })
        }
        EventKind::Delivery(d) => json!({
            "outcome": d.outcome,
            "delivered": d.delivered,
            "refused": d
                .refused
                .iter()
                .map(|(address, reply)| json!({ "address": address, "reply": reply }))
                .collect::<Vec<_>>(),
            "nothing_delivered": d.nothing_delivered,
        }),
    };
    if let Value::Object(fields) = fields {
        obj.extend(fields);
    }
    harden(Value::Object(obj).to_string())
}

/// One line of content received, as the JSON of a [`LineKind::Data`] line.
pub fn data_json(ev: &Event, line: &[u8], ending: Ending) -> String {
    event_json(
        &Event {
            at: ev.at,
            protocol: ev.protocol,
            security: ev.security,
            kind: EventKind::Received(ServerLine {
                bytes: line.to_vec(),
                kind: LineKind::Data,
                ending,
            }),
        },
        None,
    )
}

fn event_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Info(_) => "info",
        EventKind::Sent { .. } => "sent",
        EventKind::SentRaw(_) => "sent-raw",
        EventKind::Received(_) | EventKind::Data(_) => "received",
        EventKind::Progress(_) => "progress",
        EventKind::Waiting => "waiting",
        EventKind::Reply(_) => "reply",
        EventKind::TlsUp(_) => "tls",
        EventKind::Capabilities { .. } => "capabilities",
        EventKind::Warning(_) => "warning",
        EventKind::Error { .. } => "error",
        EventKind::Failure(_) => "failure",
        EventKind::Expect(_) => "expect",
        EventKind::Delivery(_) => "delivery",
        EventKind::Closed => "closed",
        EventKind::Challenge(_) => "challenge",
        EventKind::Timing { .. } => "timing",
    }
}

/// What a TLS handshake negotiated, and the chain (leaf first), as the `tls` event has it.
pub fn tls_json(info: &TlsInfo) -> Value {
    json!({
        "version": info.version,
        "cipher": info.cipher,
        "sni": info.sni,
        "verify_name": info.verify_name,
        "verified": info.verified,
        "verify_error": info.verify_error,
        "alpn": info.alpn,
        "chain": info.chain.iter().map(cert_json).collect::<Vec<_>>(),
    })
}

fn cert_json(c: &CertSummary) -> Value {
    json!({
        "subject": c.subject,
        "issuer": c.issuer,
        "sans": c.sans,
        "not_before": c.not_before,
        "not_after": c.not_after,
        "days_left": c.days_left,
        "key": c.key,
        "sha256": c.sha256,
    })
}

/// `--tls-info --json`: one object for the whole probe. `target` (`host`, `port`, `protocol`,
/// `tls`: `implicit` or `starttls`); `versions`, oldest first, each with `version` (`1.2`),
/// `offered` (false when the local library cannot offer it), `result` (`accepted`, `refused`,
/// `not-tried`), `cipher`, `error` (why it was refused or not tried) and `tls` (what the
/// handshake negotiated and the chain, as the `tls` event has it; the certificate is checked
/// but not enforced, `verified` says whether it passed); `accepted` (the versions accepted);
/// `error` and `hint` when a connection failed before TLS, which ends the probes (the
/// versions probed before it are listed); `ok`. Hardened as every other JSON line: one line,
/// no character a terminal acts on.
pub fn tls_info_json(
    target: &crate::target::Target,
    found: &[crate::engine::probe::Probe],
    error: Option<(&str, Option<&str>)>,
) -> String {
    use crate::engine::probe::Outcome;
    let versions: Vec<Value> = found
        .iter()
        .map(|p| {
            let (offered, result, cipher, why, tls) = match &p.outcome {
                Outcome::Accepted { cipher, tls } => (
                    true,
                    "accepted",
                    Some(cipher.as_str()),
                    None,
                    // The probe notes the verification without enforcing it: "verified"
                    // says whether it passed.
                    tls.as_deref().map(|t| {
                        tls_json(&TlsInfo {
                            verified: t.verify_error.is_none(),
                            ..t.clone()
                        })
                    }),
                ),
                Outcome::Refused(why) => (true, "refused", None, Some(why.as_str()), None),
                Outcome::NotOffered(why) => (false, "not-tried", None, Some(why.as_str()), None),
            };
            json!({
                "version": p.version.number(),
                "offered": offered,
                "result": result,
                "cipher": cipher,
                "error": why,
                "tls": tls,
            })
        })
        .collect();
    let accepted: Vec<&str> = found
        .iter()
        .filter(|p| matches!(p.outcome, Outcome::Accepted { .. }))
        .map(|p| p.version.number())
        .collect();
    let v = json!({
        "target": {
            "host": target.host,
            "port": target.port,
            "protocol": target.protocol.name(),
            "tls": if target.tls == crate::target::TlsMode::Implicit { "implicit" } else { "starttls" },
        },
        "versions": versions,
        "ok": error.is_none() && !accepted.is_empty(),
        "accepted": accepted,
        "error": error.map(|(e, _)| e),
        "hint": error.and_then(|(_, h)| h),
    });
    harden(v.to_string())
}

/// Whole milliseconds as seconds (`1.5` for 1500 ms): the nearest double to the decimal value,
/// so it prints with at most three decimals.
fn seconds(at: std::time::Duration) -> f64 {
    let ms = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
    ms as f64 / 1000.0
}

/// Escapes what serde_json leaves raw but a terminal or log viewer would act on: DEL, C1
/// controls, bidirectional and invisible format characters, line and paragraph separators
/// (the same list as the renderer's). They can only occur inside strings, where `\uXXXX`
/// stands for the same character.
pub fn harden(json: String) -> String {
    if !json.chars().any(needs_escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len().saturating_add(16));
    for c in json.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c == '\u{7f}' || char_needs_escape(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ExpectReport, Security};
    use crate::proto::smtp::{Code, EnhancedCode};
    use crate::proto::{Capabilities, Outcome, Protocol, Reply, ServerLine};
    use std::time::Duration;

    fn event_json(ev: &Event) -> String {
        super::event_json(ev, None)
    }

    fn ev(ms: u64, protocol: Protocol, security: Security, kind: EventKind) -> Event {
        Event {
            at: Duration::from_millis(ms),
            protocol,
            security,
            kind,
        }
    }

    /// Parses one line, checking it is one line with no raw control or format character.
    fn parse(line: &str) -> Value {
        for c in line.chars() {
            assert!(!(c.is_control() || needs_escape(c)), "raw {c:?} in {line}");
        }
        serde_json::from_str(line).unwrap()
    }

    fn smtp(kind: EventKind) -> Value {
        parse(&event_json(&ev(
            1_234,
            Protocol::Smtp,
            Security::Plain,
            kind,
        )))
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    #[test]
    fn common_fields() {
        let v = parse(&event_json(&ev(
            0,
            Protocol::Imap,
            Security::TlsVerified,
            EventKind::Closed,
        )));
        assert_eq!(
            v,
            json!({"t": 0.0, "event": "closed", "protocol": "imap", "security": "tls-verified"})
        );
        let v = parse(&event_json(&ev(
            61_005,
            Protocol::Pop3,
            Security::TlsUnverified,
            EventKind::Closed,
        )));
        assert_eq!(v["t"], json!(61.005));
        assert_eq!(v["protocol"], "pop3");
        assert_eq!(v["security"], "tls-unverified");
        let line = event_json(&ev(
            1_623,
            Protocol::Lmtp,
            Security::Plain,
            EventKind::Closed,
        ));
        assert!(line.contains("\"t\":1.623"), "{line}");
        assert!(!line.contains('\n'));
        assert_eq!(parse(&line)["protocol"], "lmtp");
        assert_eq!(parse(&line)["security"], "plain");
        assert_eq!(seconds(Duration::from_micros(999_999)), 0.999);
    }

    #[test]
    fn info_warning_error() {
        for (kind, name) in [
            (EventKind::Info("connecting to 127.0.0.1:25".into()), "info"),
            (
                EventKind::Warning("connecting to 127.0.0.1:25".into()),
                "warning",
            ),
            (
                EventKind::Failure("connecting to 127.0.0.1:25".into()),
                "failure",
            ),
        ] {
            let v = smtp(kind);
            assert_eq!(keys(&v), ["event", "message", "protocol", "security", "t"]);
            assert_eq!(v["event"], name);
            assert_eq!(v["message"], "connecting to 127.0.0.1:25");
            assert_eq!(v["t"], json!(1.234));
        }
    }

    #[test]
    fn error_with_hint() {
        let v = smtp(EventKind::Error {
            message: "timed out: reply".into(),
            hint: Some("--timeout SECS allows longer".into()),
        });
        assert_eq!(
            keys(&v),
            ["event", "hint", "message", "protocol", "security", "t"]
        );
        assert_eq!(v["event"], "error");
        assert_eq!(v["hint"], "--timeout SECS allows longer");
        let v = smtp(EventKind::Error {
            message: "x".into(),
            hint: None,
        });
        assert_eq!(v["hint"], Value::Null);
    }

    #[test]
    fn sent_raw_carries_the_exact_bytes() {
        let v = smtp(EventKind::SentRaw(b"x\n.\n\xff".to_vec()));
        assert_eq!(
            keys(&v),
            [
                "event",
                "protocol",
                "raw",
                "raw_base64",
                "security",
                "t",
                "text"
            ]
        );
        assert_eq!(v["event"], "sent-raw");
        assert_eq!(v["raw_base64"], "eAouCv8=");
        assert_eq!(v["raw"], true);
    }

    #[test]
    fn sent() {
        let v = smtp(EventKind::Sent {
            display: b"AUTH PLAIN <redacted>".to_vec(),
            secret: true,
            content: false,
        });
        assert_eq!(
            keys(&v),
            ["content", "event", "protocol", "secret", "security", "t", "text"]
        );
        assert_eq!(v["event"], "sent");
        assert_eq!(v["text"], "AUTH PLAIN <redacted>");
        assert_eq!(v["secret"], true);
        assert_eq!(v["content"], false);
        let v = smtp(EventKind::Sent {
            display: b"Subject: \"hi\" \\ \xe2\x82\xac".to_vec(),
            secret: false,
            content: true,
        });
        assert_eq!(v["text"], "Subject: \"hi\" \\ €");
        assert_eq!(v["secret"], false);
        assert_eq!(v["content"], true);
    }

    #[test]
    fn received_hostile_bytes() {
        let raw: &[u8] = b"250 \x1b[2J\x1b]0;pwned\x07 \xff\xfe \xc2\x85 \xe2\x80\xae \x7f\0end";
        let line = event_json(&ev(
            5,
            Protocol::Smtp,
            Security::Plain,
            EventKind::Received(ServerLine {
                bytes: raw.to_vec(),
                kind: LineKind::Status,
                ending: Ending::Lf,
            }),
        ));
        assert!(!line.bytes().any(|b| b < 0x20 || b == 0x7f), "{line}");
        assert!(line.contains("\\u001b[2J"), "{line}");
        assert!(line.contains("\\u0085"), "{line}");
        assert!(line.contains("\\u202e"), "{line}");
        assert!(line.contains("\\u007f"), "{line}");
        let v = parse(&line);
        assert_eq!(
            keys(&v),
            [
                "ending",
                "event",
                "kind",
                "protocol",
                "raw_base64",
                "security",
                "t",
                "text"
            ]
        );
        assert_eq!(v["event"], "received");
        assert_eq!(v["kind"], "status");
        assert_eq!(v["ending"], "lf");
        assert_eq!(v["text"], String::from_utf8_lossy(raw).as_ref());
        assert_eq!(
            v["text"],
            "250 \u{1b}[2J\u{1b}]0;pwned\u{7} \u{fffd}\u{fffd} \u{85} \u{202e} \u{7f}\0end"
        );
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(v["raw_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, raw);

        let v = smtp(EventKind::Received(ServerLine {
            bytes: Vec::new(),
            kind: LineKind::Data,
            ending: Ending::None,
        }));
        assert_eq!(v["kind"], "data");
        assert_eq!(v["ending"], "none");
        assert_eq!(v["text"], "");
        assert_eq!(v["raw_base64"], "");
        let v = smtp(EventKind::Received(ServerLine {
            bytes: b"+OK".to_vec(),
            kind: LineKind::Status,
            ending: Ending::CrLf,
        }));
        assert_eq!(v["ending"], "crlf");
        assert_eq!(v["raw_base64"], "K09L");
    }

    #[test]
    fn reply() {
        let v = smtp(EventKind::Reply(Reply {
            outcome: Outcome::PermFail,
            code: Code::new(550),
            enhanced: EnhancedCode::parse("5.1.1"),
            tag: None,
            lines: vec![
                b"550-5.1.1 first".to_vec(),
                b"550 5.1.1 \xffsecond".to_vec(),
            ],
            parts: Vec::new(),
        }));
        assert_eq!(
            keys(&v),
            ["code", "enhanced", "event", "lines", "outcome", "protocol", "security", "t", "tag"]
        );
        assert_eq!(v["event"], "reply");
        assert_eq!(v["outcome"], "permfail");
        assert_eq!(v["code"], 550);
        assert_eq!(v["enhanced"], "5.1.1");
        assert_eq!(v["tag"], Value::Null);
        assert_eq!(
            v["lines"],
            json!(["550-5.1.1 first", "550 5.1.1 \u{fffd}second"])
        );
        let names = [
            (Outcome::Ok, "ok"),
            (Outcome::Continue, "continue"),
            (Outcome::TempFail, "tempfail"),
            (Outcome::PermFail, "permfail"),
            (Outcome::No, "no"),
            (Outcome::Bad, "bad"),
            (Outcome::Bye, "bye"),
            (Outcome::Unknown, "unknown"),
        ];
        for (outcome, name) in names {
            let v = parse(&event_json(&ev(
                0,
                Protocol::Imap,
                Security::Plain,
                EventKind::Reply(Reply {
                    tag: Some("A1".into()),
                    ..Reply::line(outcome, b"A1 X".to_vec())
                }),
            )));
            assert_eq!(v["outcome"], name);
            assert_eq!(v["code"], Value::Null);
            assert_eq!(v["enhanced"], Value::Null);
            assert_eq!(v["tag"], "A1");
            assert_eq!(v["lines"], json!(["A1 X"]));
        }
    }

    #[test]
    fn tls_info_is_one_hardened_object_with_every_version() {
        use crate::engine::probe::{Outcome, Probe};
        use crate::net::TlsVersion;
        let target = crate::target::Target {
            protocol: Protocol::Smtp,
            host: "mx.example.com".into(),
            port: 25,
            tls: crate::target::TlsMode::Plain,
        };
        let found = [
            Probe {
                version: TlsVersion::V1_0,
                outcome: Outcome::NotOffered("no protocols available".into()),
            },
            Probe {
                version: TlsVersion::V1_1,
                outcome: Outcome::Refused("alert \u{202e}\u{9b}31m".into()),
            },
            Probe {
                version: TlsVersion::V1_2,
                outcome: Outcome::Accepted {
                    cipher: "ECDHE-RSA-AES128-GCM-SHA256".into(),
                    tls: Some(Box::new(TlsInfo {
                        version: "TLSv1.2".into(),
                        cipher: "ECDHE-RSA-AES128-GCM-SHA256".into(),
                        chain: vec![CertSummary {
                            subject: "CN=evil\u{2028}\u{7f}".into(),
                            ..CertSummary::default()
                        }],
                        ..TlsInfo::default()
                    })),
                },
            },
        ];
        let v = parse(&tls_info_json(&target, &found, None));
        assert_eq!(
            keys(&v),
            ["accepted", "error", "hint", "ok", "target", "versions"]
        );
        assert_eq!(v["target"]["tls"], "starttls");
        assert_eq!(v["accepted"], json!(["1.2"]));
        assert_eq!(v["ok"], true);
        let versions = v["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 3);
        assert_eq!(
            keys(&versions[0]),
            ["cipher", "error", "offered", "result", "tls", "version"]
        );
        assert_eq!(versions[0]["result"], "not-tried");
        assert_eq!(versions[0]["offered"], false);
        assert_eq!(versions[1]["result"], "refused");
        assert_eq!(versions[1]["error"], "alert \u{202e}\u{9b}31m");
        assert_eq!(versions[2]["result"], "accepted");
        assert_eq!(versions[2]["tls"]["verified"], true);
        assert_eq!(
            versions[2]["tls"]["chain"][0]["subject"],
            "CN=evil\u{2028}\u{7f}"
        );

        let v = parse(&tls_info_json(
            &target,
            &[],
            Some(("cannot connect: \u{9b}", Some("is it \u{202e}up?"))),
        ));
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"], "cannot connect: \u{9b}");
        assert_eq!(v["hint"], "is it \u{202e}up?");
    }

    #[test]
    fn tls() {
        let info = TlsInfo {
            alpn: None,
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
            sni: None,
            verify_name: "127.0.0.1".into(),
            verified: false,
            verify_error: Some("self-signed certificate".into()),
            chain: vec![CertSummary {
                subject: "CN=mx.example.com".into(),
                issuer: "CN=Evil \u{1b}CA".into(),
                sans: vec!["DNS:mx.example.com".into(), "IP:127.0.0.1".into()],
                not_before: "Jan  1 00:00:00 2025 GMT".into(),
                not_after: "Jan  1 00:00:00 2026 GMT".into(),
                days_left: Some(-3),
                key: "EC P-256".into(),
                sha256: "AA:BB".into(),
                der: Vec::new(),
            }],
        };
        let v = parse(&event_json(&ev(
            7,
            Protocol::Smtp,
            Security::TlsUnverified,
            EventKind::TlsUp(info),
        )));
        assert_eq!(
            keys(&v),
            [
                "alpn",
                "chain",
                "cipher",
                "event",
                "protocol",
                "security",
                "sni",
                "t",
                "verified",
                "verify_error",
                "verify_name",
                "version"
            ]
        );
        assert_eq!(v["event"], "tls");
        assert_eq!(v["security"], "tls-unverified");
        assert_eq!(v["version"], "TLSv1.3");
        assert_eq!(v["cipher"], "TLS_AES_256_GCM_SHA384");
        assert_eq!(v["sni"], Value::Null);
        assert_eq!(v["verify_name"], "127.0.0.1");
        assert_eq!(v["verified"], false);
        assert_eq!(v["verify_error"], "self-signed certificate");
        assert_eq!(
            v["chain"],
            json!([{
                "subject": "CN=mx.example.com",
                "issuer": "CN=Evil \u{1b}CA",
                "sans": ["DNS:mx.example.com", "IP:127.0.0.1"],
                "not_before": "Jan  1 00:00:00 2025 GMT",
                "not_after": "Jan  1 00:00:00 2026 GMT",
                "days_left": -3,
                "key": "EC P-256",
                "sha256": "AA:BB",
            }])
        );
        let v = parse(&event_json(&ev(
            7,
            Protocol::Smtp,
            Security::TlsVerified,
            EventKind::TlsUp(TlsInfo {
                sni: Some("mx.example.com".into()),
                verified: true,
                ..TlsInfo::default()
            }),
        )));
        assert_eq!(v["sni"], "mx.example.com");
        assert_eq!(v["verified"], true);
        assert_eq!(v["verify_error"], Value::Null);
        assert_eq!(v["chain"], json!([]));
    }

    #[test]
    fn capabilities() {
        let v = smtp(EventKind::Capabilities {
            caps: Capabilities {
                items: vec!["PIPELINING".into(), "AUTH PLAIN LOGIN".into()],
            },
            added: vec!["AUTH PLAIN LOGIN".into()],
            removed: vec!["STARTTLS".into()],
            after_tls: true,
        });
        assert_eq!(
            keys(&v),
            [
                "added",
                "after_tls",
                "caps",
                "event",
                "protocol",
                "removed",
                "security",
                "t"
            ]
        );
        assert_eq!(v["event"], "capabilities");
        assert_eq!(v["caps"], json!(["PIPELINING", "AUTH PLAIN LOGIN"]));
        assert_eq!(v["added"], json!(["AUTH PLAIN LOGIN"]));
        assert_eq!(v["removed"], json!(["STARTTLS"]));
        assert_eq!(v["after_tls"], true);
    }

    #[test]
    fn expect() {
        let line = event_json(&ev(
            3,
            Protocol::Smtp,
            Security::Plain,
            EventKind::Expect(ExpectReport {
                ok: false,
                expected: "250".into(),
                actual: "550 5.1.1 \u{1b}[31m\u{2028}x".into(),
                location: Some("dir/s.mts:12".into()),
            }),
        ));
        assert!(!line.contains('\u{2028}'));
        let v = parse(&line);
        assert_eq!(
            v,
            json!({
                "t": 0.003,
                "event": "expect",
                "protocol": "smtp",
                "security": "plain",
                "file": "dir/s.mts",
                "line": 12,
                "ok": false,
                "expected": "250",
                "actual": "550 5.1.1 \u{1b}[31m\u{2028}x",
            })
        );
        let ok = parse(&event_json(&ev(
            0,
            Protocol::Smtp,
            Security::Plain,
            EventKind::Expect(ExpectReport {
                ok: true,
                expected: "2xx /ok/i".into(),
                actual: String::new(),
                location: Some("a:1".into()),
            }),
        )));
        assert_eq!(ok["ok"], true);
        assert_eq!(ok["file"], "a");
        assert_eq!(ok["line"], 1);
    }

    #[test]
    fn reply_with_explanation_is_one_object() {
        let line = super::event_json(
            &ev(
                0,
                Protocol::Smtp,
                Security::Plain,
                EventKind::Reply(Reply {
                    code: Code::new(550),
                    ..Reply::line(Outcome::PermFail, b"550 no".to_vec())
                }),
            ),
            Some("550: permanent failure"),
        );
        assert_eq!(parse(&line)["explanation"], "550: permanent failure");
    }

    #[test]
    fn every_event_name_is_listed() {
        let kinds = [
            EventKind::Info(String::new()),
            EventKind::Closed,
            EventKind::Failure(String::new()),
            EventKind::Warning(String::new()),
        ];
        for k in kinds {
            assert!(EVENTS.contains(&event_name(&k)));
        }
        let mut sorted = EVENTS.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), EVENTS.len());
    }
}
