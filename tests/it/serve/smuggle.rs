//! `mailtalk smuggle-test`: against the embedded server (which ends data only at
//! `<CR><LF>.<CR><LF>`), read back over its IMAP side; and against servers written here that
//! end the data at a bare LF line, to see the other verdicts come from the wire.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use serde_json::Value;

use super::{mailtalk, Serve};
use crate::support::NO_TIMEOUT;

fn json(out: &crate::support::Output) -> Value {
    serde_json::from_str(out.stdout_str().trim())
        .unwrap_or_else(|e| panic!("{e}\n{out:?}\n{}", out.stderr_str()))
}

/// The client with extra environment variables (the IMAP password).
fn with_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> crate::support::Output {
    let home = tempfile::tempdir().unwrap();
    crate::support::mailtalk_env(home.path(), args, stdin, env)
}

fn verdicts(v: &Value) -> Vec<(String, String)> {
    v["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_embedded_server_keeps_every_variant_as_data_and_the_mailbox_shows_it() {
    let s = Serve::start(&["--catch-all", "--log-sessions"]);
    let smtp = s.url("smtp");
    let imap = s.url("imap");
    // Read back over the embedded server's IMAP side, which takes any password.
    let run = |more: &[&str]| {
        let mut a = vec![
            "smuggle-test",
            &smtp,
            "--from",
            "mallory@x.test",
            "--to",
            "bob@y.test",
            "--check",
            &imap,
            "--wait",
            NO_TIMEOUT,
            "--timeout",
            NO_TIMEOUT,
        ];
        a.extend_from_slice(more);
        with_env(&a, b"", &[("MAILTALK_CHECK_PASSWORD", "any")])
    };
    let out = run(&["--json"]);
    assert_eq!(out.code, Some(0), "{out:?}\n{}", out.stderr_str());
    let v = json(&out);
    let all = verdicts(&v);
    assert_eq!(all.len(), 13, "{all:?}");
    assert_eq!(all[0], ("control".into(), "ok".into()), "{all:?}");
    for (name, verdict) in &all[1..] {
        assert_eq!(verdict, "data", "{name}: {all:?}");
    }
    // What the mailbox held for each: the first message, with the second inside it.
    for x in v["variants"].as_array().unwrap().iter().skip(1) {
        assert_eq!(
            x["found"],
            serde_json::json!({"outer": 1, "smuggled": 0, "inside": 1}),
            "{x}"
        );
        let replies: Vec<u64> = x["replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_u64().unwrap())
            .collect();
        assert_eq!(replies, [250, 221], "{x}");
    }
    assert_eq!(v["status"], 0);
    // The server saw the bytes smuggling relies on, and said so.
    s.wait_for("flagged: bare LF (a line ended without CR) in the message data");

    // The table, for one variant: read back, one message, the verdict in words.
    let out = run(&["--variant", "lf-lf"]);
    assert_eq!(out.code, Some(0), "{out:?}\n{}", out.stderr_str());
    let text = out.stdout_str();
    assert!(
        text.contains(", read back from imap://127.0.0.1:"),
        "{text}"
    );
    let row = text.lines().find(|l| l.contains("lf-lf")).unwrap();
    assert!(row.contains("\\n.\\n"), "{row}");
    assert!(row.contains("250 221"), "{row}");
    assert!(
        row.contains("data         kept as data: the second message is inside the first"),
        "{row}"
    );
    assert!(
        text.contains("0 of 1 variants smuggled a second message"),
        "{text}"
    );
}

/// How a server written here treats what follows the end of its data.
#[derive(Clone, Copy)]
enum Lax {
    /// Takes the commands that follow: the second message is accepted.
    Accepts,
    /// Refuses every command after the first message (503).
    RefusesMore,
}

/// An SMTP server that ends lines at a bare LF (dropping a CR before it), so that `\n.\n` and
/// `\n.\r\n` end its data; it serves `conns` connections, one after the other, and returns
/// the bytes each one sent.
fn lax_server(conns: usize, lax: Lax) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..conns {
            let (c, _) = l.accept().unwrap();
            seen.push(serve_lax(c, lax));
        }
        seen
    });
    (port, h)
}

fn serve_lax(c: TcpStream, lax: Lax) -> Vec<u8> {
    let mut w = c.try_clone().unwrap();
    let mut r = BufReader::new(c);
    let mut all = Vec::new();
    let mut say = |s: &str| {
        let _ = w.write_all(s.as_bytes());
    };
    say("220 lax.test ESMTP\r\n");
    let mut in_data = false;
    let mut messages = 0;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            break;
        }
        all.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if in_data {
            if text == "." {
                in_data = false;
                messages += 1;
                say("250 2.0.0 queued\r\n");
            }
            continue;
        }
        let verb = text.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => say("250-lax.test\r\n250 PIPELINING\r\n"),
            "QUIT" => {
                say("221 2.0.0 bye\r\n");
                break;
            }
            _ if messages > 0 && matches!(lax, Lax::RefusesMore) => {
                say("503 5.5.1 one message per connection\r\n")
            }
            "MAIL" | "RCPT" => say("250 2.1.0 ok\r\n"),
            "DATA" => {
                in_data = true;
                say("354 go ahead\r\n");
            }
            _ => say("500 5.5.2 what?\r\n"),
        }
    }
    all
}

/// `mailtalk smuggle-test` against the server on `port`, from mallory@x.test to bob@y.test,
/// with `more` arguments.
fn smuggle_at(port: u16, more: &[&str]) -> crate::support::Output {
    let target = format!("smtp://127.0.0.1:{port}");
    let mut a = vec![
        "smuggle-test",
        &target,
        "--from",
        "mallory@x.test",
        "--to",
        "bob@y.test",
        "--timeout",
        NO_TIMEOUT,
    ];
    a.extend_from_slice(more);
    mailtalk(&a, b"")
}

#[test]
fn a_server_that_ends_data_at_a_bare_lf_is_found_out_from_its_replies() {
    let (port, h) = lax_server(3, Lax::Accepts);
    let out = smuggle_at(
        port,
        &[
            "--variant",
            "lf-lf",
            "--variant",
            "cr-cr",
            "--variant",
            "lf-crlf",
            "--json",
        ],
    );
    assert_eq!(out.code, Some(4), "{out:?}\n{}", out.stderr_str());
    let v = json(&out);
    assert_eq!(
        verdicts(&v),
        [
            // In the order of the list, whatever the order asked in.
            ("lf-lf".to_string(), "SMUGGLED".to_string()),
            ("lf-crlf".to_string(), "SMUGGLED".to_string()),
            ("cr-cr".to_string(), "data".to_string()),
        ]
    );
    assert_eq!(v["read_back"], Value::Null);
    assert_eq!(v["variants"][0]["second_accepted"], true);
    let seen = h.join().unwrap();
    // What went on the wire for lf-lf: the first message's last line, the variant, the
    // second transaction, the real end and QUIT, nothing stuffed or added.
    let wire = String::from_utf8(seen[0].clone()).unwrap();
    let tail = wire
        .split("The last line of the first message.")
        .nth(1)
        .unwrap();
    assert!(
        tail.starts_with("\n.\nMAIL FROM:<mallory@x.test>\r\nRCPT TO:<bob@y.test>\r\nDATA\r\n"),
        "{tail:?}"
    );
    assert!(tail.ends_with("\r\n.\r\nQUIT\r\n"), "{tail:?}");
    assert_eq!(tail.matches("\r\n.\r\n").count(), 1, "{tail:?}");

    // Without --json, the table says it in words.
    let (port, h) = lax_server(1, Lax::Accepts);
    let out = smuggle_at(port, &["--variant", "lf-lf"]);
    // Asserted before joining: a run that never connected would leave the server waiting.
    assert_eq!(out.code, Some(4), "{out:?}");
    h.join().unwrap();
    let text = out.stdout_str();
    assert!(
        text.contains("verdicts from the replies only (no --check)"),
        "{text}"
    );
    let row = text.lines().find(|l| l.contains("lf-lf")).unwrap();
    assert!(row.contains("250 250 250 354 250 221"), "{row}");
    assert!(row.contains("SMUGGLED"), "{row}");
    assert!(
        text.contains("1 of 1 variants smuggled a second message"),
        "{text}"
    );
}

#[test]
fn a_server_that_ends_data_early_but_refuses_the_second_message_ended_early() {
    let (port, h) = lax_server(1, Lax::RefusesMore);
    let out = smuggle_at(port, &["--variant", "lf-lf", "--json"]);
    assert_eq!(out.code, Some(4), "{out:?}");
    h.join().unwrap();
    let v = json(&out);
    assert_eq!(
        verdicts(&v),
        [("lf-lf".to_string(), "ended early".to_string())]
    );
    assert_eq!(v["variants"][0]["server_split"], true);
    assert_eq!(v["variants"][0]["second_accepted"], false);
}

#[test]
fn arguments_are_checked_before_anything_is_sent() {
    for (args, needle) in [
        (
            vec![
                "smuggle-test",
                "imap://127.0.0.1:1",
                "--from",
                "a@x.test",
                "--to",
                "b@x.test",
            ],
            "needs an SMTP or LMTP server",
        ),
        (
            vec![
                "smuggle-test",
                "smtp://127.0.0.1:1",
                "--from",
                "a@x.test",
                "--to",
                "b@x.test",
                "--variant",
                "nope",
            ],
            "unknown variant \"nope\" (see --list)",
        ),
        (
            vec![
                "smuggle-test",
                "smtp://127.0.0.1:1",
                "--from",
                "a b@x",
                "--to",
                "b@x.test",
            ],
            "--from",
        ),
        (
            vec![
                "smuggle-test",
                "smtp://127.0.0.1:1",
                "--from",
                "a@x.test",
                "--to",
                "b@x.test",
                "--check",
                "pop3://127.0.0.1:1",
            ],
            "read over IMAP",
        ),
    ] {
        let out = mailtalk(&args, b"");
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(
            out.stderr_str().contains(needle),
            "{args:?}: {}",
            out.stderr_str()
        );
    }
    let out = mailtalk(&["smuggle-test", "--list"], b"");
    assert_eq!(out.code, Some(0));
    let list = out.stdout_str();
    assert_eq!(list.lines().count(), 13, "{list}");
    assert!(list.contains(" 1  lf-lf         \\n.\\n "), "{list}");
    assert!(list.contains("nul-before    \\r\\n\\0.\\r\\n"), "{list}");
}
