//! Fault injection that must not break what it does not inject: `--delay` still serves,
//! a greylisted retry passes on a new connection, `--drop-after eod` keeps the message.

use super::mailboxes::{imap_selected, send};
use super::{smtp_session, Raw, Serve};

#[test]
fn delay_still_serves_every_protocol() {
    let s = Serve::start(&["--delay", "50", "--catch-all"]);
    send(s.port("smtp"), "a@x.test", &["b@x.test"], "delayed");
    let (mut i, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 1 EXISTS\r\n"), "{sel}");
    // Pipelined commands keep their order and their answers.
    i.send(b"c NOOP\r\nd FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\ne NOOP\r\n");
    let got = i.until("e ").concat();
    let (c, d) = (got.find("c OK").unwrap(), got.find("d OK").unwrap());
    assert!(c < d, "{got}");
    assert!(got.contains("Subject: delayed"), "{got}");
    let mut p = Raw::connect(s.port("pop3"));
    assert!(p.line().unwrap().starts_with("+OK"));
    p.send(b"USER b@x.test\r\nPASS pw\r\nSTAT\r\n");
    p.line().unwrap();
    p.line().unwrap();
    let l = p.line().unwrap();
    assert!(l.starts_with("+OK 1 "), "{l}");
}

#[test]
fn a_greylisted_retry_passes_on_a_new_connection() {
    let s = Serve::start(&["--greylist"]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
    let l = c.line().unwrap();
    assert!(l.starts_with("451 4.7.1 "), "{l}");
    c.send(b"QUIT\r\n");
    c.until("221 ");
    drop(c);
    // Another sender from the same client is greylisted on its own.
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<other@x.test>\r\nRCPT TO:<b@x.test>\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
    assert!(c.line().unwrap().starts_with("451 4.7.1 "));
    drop(c);
    // The retry, like a real sender's: a new connection, the same triple.
    send(s.port("smtp"), "a@x.test", &["b@x.test"], "retried");
    let (_, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 1 EXISTS\r\n"), "{sel}");
}

#[test]
fn drop_after_eod_keeps_the_message() {
    let s = Serve::start(&["--drop-after", "eod"]);
    let mut c = Raw::connect(s.port("smtp"));
    c.send(b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n");
    c.until("354 ");
    c.send(b"Subject: kept after the drop\r\n\r\nx\r\n.\r\n");
    let rest = c.rest();
    assert!(rest.starts_with("250 2.0.0 "), "{rest:?}");
    assert!(
        rest.ends_with("\r\n") && rest.lines().count() == 1,
        "{rest:?}"
    );
    s.wait_for("] message ");
    let (mut i, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 1 EXISTS\r\n"), "{sel}");
    i.send(b"c FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n");
    let f = i.until("c ").concat();
    assert!(f.contains("Subject: kept after the drop"), "{f}");
    // With --drop-after data the message is cut off and nothing is stored.
    let s = Serve::start(&["--drop-after", "data"]);
    let mut c = Raw::connect(s.port("smtp"));
    c.send(b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n");
    c.until("354 ");
    let _ = c.try_send(b"Subject: lost\r\n\r\nx\r\n.\r\n");
    c.rest();
    s.wait_for("dropped");
    let (_, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 0 EXISTS\r\n"), "{sel}");
}
