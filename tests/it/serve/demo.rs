//! `mailtalk demo` as a newcomer uses it: the guide, then its own steps typed in.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use crate::support::RUN_LIMIT;

use super::BIN;

#[test]
fn demo_follows_its_own_guide_from_sending_to_reading_back() {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("server.log");
    let mut child = Command::new(BIN)
        .args(["--timeout", crate::support::NO_TIMEOUT, "demo"])
        .arg("--server-log")
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("XDG_STATE_HOME", home.path().join(".local/state"))
        .env("XDG_DATA_HOME", home.path().join(".local/share"))
        .env_remove("MAILTALK_PASSWORD")
        .spawn()
        .expect("start mailtalk demo");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let re = regex::Regex::new(r":connect (imap://127\.0\.0\.1:\d+)").unwrap();
    let mut seen = Vec::new();
    let imap = loop {
        let Ok(line) = rx.recv_timeout(RUN_LIMIT) else {
            let _ = child.kill();
            panic!("no IMAP URL in the guide:\n{}", seen.join("\n"));
        };
        seen.push(line.clone());
        if let Some(c) = re.captures(&line) {
            break c[1].to_string();
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = format!(
        "EHLO me.test\n\
         :send --from me@demo.test --to you@demo.test --subject Hello\n\
         :connect {imap}\n\
         a LOGIN you@demo.test pw\n\
         b SELECT INBOX\n\
         c FETCH 1 BODY[HEADER.FIELDS (SUBJECT)]\n"
    );
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    loop {
        match rx.recv_timeout(RUN_LIMIT) {
            Ok(line) => seen.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("mailtalk demo hangs:\n{}", seen.join("\n"));
            }
        }
    }
    let status = child.wait().unwrap();
    let text = seen.join("\n");
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("250 2.0.0 Ok: queued as"), "{text}");
    assert!(text.contains("* 1 EXISTS"), "{text}");
    assert!(text.contains("Subject: Hello"), "{text}");
    assert!(text.contains("c OK"), "{text}");
    // The server's log has both sessions.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("] message "), "{log}");
    assert!(log.contains("login as you@demo.test"), "{log}");
}
