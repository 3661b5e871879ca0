//! `mailtalk serve --discard`: messages accepted, logged and counted, never kept.

use std::io::Write;
use std::process::{Command, Stdio};

use super::mailboxes::imap_selected;
use super::{mailtalk, Raw, Serve, BIN};
use crate::support::NO_TIMEOUT;

#[test]
fn discarded_mail_is_logged_and_counted_and_mailboxes_stay_empty() {
    let s = Serve::start(&["--discard", "--catch-all"]);
    s.wait_for("mail is not kept (--discard)");
    for n in 1..=2 {
        let data = format!("Subject: number {n}\n\nhello\n.a dot\n");
        let out = mailtalk(
            &[
                &s.url("smtp"),
                "--from",
                "a@x.test",
                "--to",
                "b@x.test",
                "--data",
                &data,
            ],
            b"",
        );
        assert_eq!(
            out.code,
            Some(0),
            "{}\n{}",
            out.stdout_str(),
            out.stderr_str()
        );
        assert!(
            out.stdout_str().contains("S: 250 2.0.0 Ok: queued as"),
            "{}",
            out.stdout_str()
        );
    }
    let logged = s.wait_count("] message ", 2);
    for (n, line) in logged.iter().enumerate() {
        assert!(line.contains("from <a@x.test> to <b@x.test>"), "{line}");
        let subject = format!("subject \"number {}\", discarded", n + 1);
        assert!(line.ends_with(&subject), "{line}");
    }

    let (_, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 0 EXISTS\r\n"), "{sel}");
    let mut p = Raw::connect(s.port("pop3"));
    p.line().unwrap();
    p.send(b"USER b@x.test\r\nPASS pw\r\nSTAT\r\n");
    p.line().unwrap();
    p.line().unwrap();
    assert_eq!(p.line().unwrap(), "+OK 0 0\r\n");

    let (code, log, _) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    let sizes: u64 = logged
        .iter()
        .map(|l| {
            let (before, _) = l.split_once(" bytes,").unwrap();
            before.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum();
    let total = format!("2 messages ({sizes} bytes) accepted and discarded");
    assert!(log.contains(&total), "{total} not in:\n{log}");
}

#[test]
fn discard_and_maildir_do_not_go_together() {
    let out = mailtalk(&["serve", "--discard", "--maildir", "/nonexistent/x"], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr_str());
    assert!(
        out.stderr_str().contains("--maildir"),
        "{}",
        out.stderr_str()
    );
}

/// Lines of 98 `x`: with the CRLF the client makes of each LF, 100 bytes a line.
const LINES: usize = 1 << 20;

#[test]
fn a_100_mib_message_is_counted_not_held() {
    let s = Serve::start(&["--discard", "--max-size", "200000000"]);
    let mut child = Command::new(BIN)
        .args([
            "--timeout",
            NO_TIMEOUT,
            &s.url("smtp"),
            "--from",
            "a@x.test",
            "--to",
            "b@x.test",
            "--data",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Generated as it goes: neither side holds the message.
    let writer = std::thread::spawn(move || {
        stdin.write_all(b"Subject: big\n\n").unwrap();
        let mut line = vec![b'x'; 98];
        line.push(b'\n');
        let block = line.repeat(1024);
        for _ in 0..LINES / 1024 {
            stdin.write_all(&block).unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("S: 250 2.0.0 Ok: queued as"), "{stdout}");
    let logged = s.wait_for("] message ");
    assert!(logged.contains("subject \"big\", discarded"), "{logged}");
    let size: u64 = logged
        .split_once(" bytes,")
        .and_then(|(before, _)| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(size > (LINES * 100) as u64, "{logged}");

    let peak = s.peak_memory();
    let limit = 40 << 20;
    assert!(peak < limit, "peak {peak} bytes, over {limit}");
}
