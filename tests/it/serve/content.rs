//! Content received (IMAP literals, POP3 bodies): `--output` writes it exactly, `--max-show`
//! and `:max-show` limit what is shown, `:save` writes the last one whole.

use super::mailboxes::imap_selected;
use super::{mailtalk, smtp_session, Serve};

/// The message as the server stores it (the SMTP data, unstuffed): dot lines, a long line, an
/// 8-bit line, and 50 numbered lines.
fn message() -> Vec<u8> {
    let mut m =
        b"Subject: content\r\nFrom: a@x.test\r\n\r\n.starts with a dot\r\n..two dots\r\n".to_vec();
    m.extend_from_slice(&[b'L'; 3000]);
    m.extend_from_slice(b"\r\n8-bit: \xc3\xa9\r\n");
    for i in 1..=50 {
        m.extend_from_slice(format!("line {i}\r\n").as_bytes());
    }
    m
}

/// Sends [`message`] over raw SMTP, dot-stuffed.
fn send(port: u16) {
    let mut c = smtp_session(port);
    c.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n");
    c.until("354 ");
    let mut data = Vec::new();
    for line in message().split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    data.extend_from_slice(b".\r\n");
    c.send(&data);
    assert!(c.line().unwrap().starts_with("250 "));
}

/// What the server itself returns for FETCH 1 BODY[]: the stored bytes.
fn stored(port: u16) -> Vec<u8> {
    let (mut i, _) = imap_selected(port, "b@x.test");
    i.send(b"c FETCH 1 BODY.PEEK[]\r\n");
    let first = i.line().unwrap();
    let n: usize = first
        .rsplit_once('{')
        .and_then(|(_, r)| r.trim_end().strip_suffix('}'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no literal in {first:?}"));
    i.read_bytes(n)
}

fn stdout(o: &crate::support::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn output_writes_literals_and_bodies_exactly_and_shows_none_of_them() {
    let s = Serve::start(&["--catch-all"]);
    send(s.port("smtp"));
    let want = stored(s.port("imap"));
    assert!(
        want.ends_with(&message()),
        "{:?}",
        String::from_utf8_lossy(&want)
    );
    let dir = tempfile::tempdir().unwrap();

    let file = dir.path().join("imap.eml");
    let imap = format!("imap://127.0.0.1:{}", s.port("imap"));
    let o = mailtalk(
        &[&imap, "--output", file.to_str().unwrap()],
        b"LOGIN b@x.test pw\nSELECT INBOX\nFETCH 1 BODY[]\n",
    );
    let out = stdout(&o);
    assert_eq!(o.code, Some(0), "{out}");
    assert_eq!(std::fs::read(&file).unwrap(), want);
    assert!(!out.contains("line 7"), "{out}");
    assert!(
        out.contains(&format!(
            "** literal: {} written to {}",
            size(want.len()),
            file.display()
        )),
        "{out}"
    );
    assert!(out.contains(" OK FETCH completed"), "{out}");

    let file = dir.path().join("pop3.eml");
    let pop3 = format!("pop3://127.0.0.1:{}", s.port("pop3"));
    let o = mailtalk(
        &[&pop3, "-o", file.to_str().unwrap()],
        b"USER b@x.test\nPASS pw\nRETR 1\nTOP 1 0\n",
    );
    let out = stdout(&o);
    assert_eq!(o.code, Some(0), "{out}");
    // Every body goes there, one after the other: RETR's, then TOP's header section.
    let got = std::fs::read(&file).unwrap();
    assert!(got.starts_with(&want), "{}", String::from_utf8_lossy(&got));
    let header_end = want.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(&got[want.len()..], &want[..header_end]);
    assert_eq!(out.matches("** body: ").count(), 2, "{out}");
    assert!(!out.contains("starts with a dot"), "{out}");

    // A file that cannot be created is a usage error before connecting.
    let o = mailtalk(&[&imap, "--output", "/nonexistent/dir/x"], b"");
    assert_eq!(o.code, Some(2), "{}", stdout(&o));
}

/// As the client says sizes.
fn size(n: usize) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

#[test]
fn max_show_limits_each_content_and_save_writes_the_last_one_whole() {
    let s = Serve::start(&["--catch-all"]);
    send(s.port("smtp"));
    let want = stored(s.port("imap"));
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.eml");
    let imap = format!("imap://127.0.0.1:{}", s.port("imap"));
    let input = format!(
        "LOGIN b@x.test pw\nSELECT INBOX\nFETCH 1 BODY[]\n:save {}\n:max-show all\nFETCH 1 BODY[]\n",
        saved.display()
    );
    let o = mailtalk(&[&imap, "--max-show", "3"], input.as_bytes());
    let out = stdout(&o);
    assert_eq!(o.code, Some(0), "{out}");
    assert_eq!(std::fs::read(&saved).unwrap(), want);
    let (first, second) = out
        .split_once("** literals and bodies are shown whole")
        .unwrap_or_else(|| panic!("{out}"));
    // The first FETCH: three lines of the literal, then what was not shown, counted.
    let literal_lines = want.split(|b| *b == b'\n').count() - 1;
    let shown: Vec<&str> = first
        .lines()
        .skip_while(|l| !l.contains("FETCH (BODY[] {"))
        .skip(1)
        .take_while(|l| l.starts_with("S: ") && !l.starts_with("S: )"))
        .collect();
    assert_eq!(shown.len(), 3, "{first}");
    assert!(
        first.contains(&format!(
            "** {} more lines ({}) of the literal not shown (limit 3): :save FILE",
            literal_lines - 3,
            size(want.len() - shown.iter().map(|l| l.len() - 3 + 2).sum::<usize>())
        )),
        "{first}"
    );
    assert!(!first.contains("S: line 50"), "{first}");
    assert!(
        first.contains(&format!(
            "** the last literal: {} written to {}",
            size(want.len()),
            saved.display()
        )),
        "{first}"
    );
    // After :max-show all, all of it.
    assert!(second.contains("S: line 50\n"), "{second}");
    assert!(second.contains("S: .starts with a dot\n"), "{second}");
    assert!(second.contains("S: 8-bit: é\n"), "{second}");
    assert!(!second.contains("not shown"), "{second}");

    // Nothing received yet: :save says so and the session goes on (exit status of a
    // failed line in piped input).
    let o = mailtalk(
        &[&imap],
        format!("LOGIN b@x.test pw\n:save {}\n", saved.display()).as_bytes(),
    );
    assert!(
        stdout(&o).contains("nothing to save: no literal or body was received yet"),
        "{}",
        stdout(&o)
    );
    // A bad limit is refused before connecting.
    let o = mailtalk(&[&imap, "--max-show", "lots"], b"");
    assert_eq!(o.code, Some(2));
}

#[test]
fn a_script_with_save_keeps_the_last_content() {
    let s = Serve::start(&["--catch-all"]);
    send(s.port("smtp"));
    let want = stored(s.port("imap"));
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.eml");
    let script = dir.path().join("fetch.mts");
    std::fs::write(
        &script,
        format!(
            "LOGIN b@x.test pw\nSELECT INBOX\nFETCH 1 BODY[]\n:expect OK\n:sav {}\n",
            saved.display()
        ),
    )
    .unwrap();
    let imap = format!("imap://127.0.0.1:{}", s.port("imap"));
    let o = mailtalk(&[&imap, "--script", script.to_str().unwrap()], b"");
    assert_eq!(o.code, Some(0), "{}", stdout(&o));
    assert_eq!(std::fs::read(&saved).unwrap(), want);
}
