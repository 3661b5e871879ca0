//! `--count N`: the same message sent N times in one session to the embedded server, each
//! copy a whole transaction (pipelined, the next copy's commands after the end of data), with
//! the first copy shown in full and a summary; every copy is stored, each with its own
//! Message-ID.

use super::mailboxes::imap_selected;
use super::{mailtalk, Serve};

/// The Message-IDs of every message in `user`'s inbox, over IMAP.
fn message_ids(s: &Serve, user: &str) -> Vec<String> {
    let (mut i, _) = imap_selected(s.port("imap"), user);
    i.send(b"c FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n");
    let got = i.until("c ").concat();
    assert!(got.contains("c OK"), "{got}");
    got.lines()
        .filter_map(|l| l.strip_prefix("Message-ID: "))
        .map(str::to_string)
        .collect()
}

fn count_50(extra: &[&str]) {
    let s = Serve::start(&[]);
    let transcript = s.dir.path().join("t.txt");
    let url = s.url("smtp");
    let mut args = vec![
        url.as_str(),
        "--from",
        "a@x.test",
        "--to",
        "b@x.test",
        "--count",
        "50",
        "--transcript",
        transcript.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = mailtalk(&args, b"");
    let text = out.stdout_str();
    assert_eq!(out.code, Some(0), "{text}\n{}", out.stderr_str());
    s.wait_count("] message ", 50);
    // Each copy is a message of its own.
    let mut ids = message_ids(&s, "b@x.test");
    assert_eq!(ids.len(), 50, "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "a Message-ID was sent twice");
    // The screen: the first copy in full, then the summary, not 50 dialogues.
    assert!(
        text.contains("** 50 messages: 50 accepted, 0 refused, in "),
        "{text}"
    );
    assert!(
        text.contains("** copy 1 of 50: message accepted for 1 recipient (b@x.test)"),
        "{text}"
    );
    assert_eq!(
        text.matches("S: 250 2.0.0 Ok: queued as").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("copy 2 of 50"), "{text}");
    if extra.contains(&"--bdat") {
        assert!(text.contains("C: BDAT "), "{text}");
        assert!(!text.contains("C: DATA"), "{text}");
    }
    // The transcript keeps every reply and every copy's summary.
    let kept = std::fs::read_to_string(&transcript).unwrap();
    assert_eq!(kept.matches("S: 250 2.0.0 Ok: queued as").count(), 50);
    assert!(kept.contains("copy 50 of 50: message accepted"), "{kept}");
}

#[test]
fn count_50_sends_50_messages_in_one_session() {
    count_50(&[]);
}

#[test]
fn count_50_with_bdat_sends_50_messages() {
    count_50(&["--bdat"]);
}

#[test]
fn count_with_a_refused_recipient_names_it_once_and_exits_8() {
    let s = Serve::start(&["--reject-rcpt", "^nobody@"]);
    let url = s.url("smtp");
    let out = mailtalk(
        &[
            &url,
            "--from",
            "a@x.test",
            "--to",
            "b@x.test",
            "--to",
            "nobody@x.test",
            "--count",
            "20",
        ],
        b"",
    );
    let text = out.stdout_str();
    assert_eq!(out.code, Some(8), "{text}");
    s.wait_count("] message ", 20);
    assert!(
        text.contains(
            "** 20 messages: 0 accepted, 20 accepted for some recipients only (the others \
             refused), 0 refused, in "
        ),
        "{text}"
    );
    // The same refusal every time: said for the first copy only.
    assert_eq!(
        text.matches("refused: <nobody@x.test>: 550 5.1.1").count(),
        1,
        "{text}"
    );
}

#[test]
fn count_in_a_session_reads_a_file_again_for_each_copy() {
    let s = Serve::start(&[]);
    let msg = s.dir.path().join("m.eml");
    std::fs::write(
        &msg,
        b"Subject: from a file\r\n\r\n.a leading dot\r\nend\r\n",
    )
    .unwrap();
    let line = format!(
        ":send --count 5 --from a@x.test --to b@x.test --data @{}\n:send --to b@x.test --from a@x.test --body last\n",
        msg.display()
    );
    let out = mailtalk(&[&s.url("smtp")], line.as_bytes());
    let text = out.stdout_str();
    assert_eq!(out.code, Some(0), "{text}");
    s.wait_count("] message ", 6);
    assert_eq!(s.count("subject \"from a file\""), 5, "{}", s.log());
    assert!(
        text.contains("** 5 messages: 5 accepted, 0 refused"),
        "{text}"
    );
    // The session goes on after the copies.
    assert!(
        text.contains("** message accepted for 1 recipient"),
        "{text}"
    );
}

#[test]
fn count_with_standard_input_sends_it_each_time() {
    let s = Serve::start(&[]);
    let out = mailtalk(
        &[
            &s.url("smtp"),
            "--from",
            "a@x.test",
            "--to",
            "b@x.test",
            "--count",
            "3",
            "--data",
            "-",
        ],
        b"Subject: piped\n\nbody\n",
    );
    assert_eq!(out.code, Some(0), "{}", out.stdout_str());
    s.wait_count("] message ", 3);
    assert_eq!(s.count("subject \"piped\""), 3, "{}", s.log());
    let mut ids = message_ids(&s, "b@x.test");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
}

#[test]
fn count_does_not_go_with_quit_after() {
    let out = mailtalk(
        &[
            "smtp://127.0.0.1:9",
            "--to",
            "b@x.test",
            "--count",
            "2",
            "--quit-after",
            "rcpt",
        ],
        b"",
    );
    assert_eq!(out.code, Some(2), "{}", out.stdout_str());
    assert!(
        out.stdout_str().contains("--count") || out.stderr_str().contains("--count"),
        "{out:?}"
    );
}
