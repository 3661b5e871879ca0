//! What the store does with what it receives: IDLE sees it arrive, one mailbox per recipient,
//! `--max-messages`, and LMTP's reply per recipient.

use super::{smtp_session, Raw, Serve};

/// Sends one message over raw SMTP: `subject` in its header, one line of text.
pub fn send(port: u16, from: &str, to: &[&str], subject: &str) {
    let mut c = smtp_session(port);
    c.send(format!("MAIL FROM:<{from}>\r\n").as_bytes());
    assert!(c.line().unwrap().starts_with("250 "));
    for t in to {
        c.send(format!("RCPT TO:<{t}>\r\n").as_bytes());
        let l = c.line().unwrap();
        assert!(l.starts_with("250 "), "RCPT {t}: {l}");
    }
    c.send(b"DATA\r\n");
    c.until("354 ");
    c.send(format!("Subject: {subject}\r\n\r\ntext\r\n.\r\n").as_bytes());
    let l = c.line().unwrap();
    assert!(l.starts_with("250 "), "{l}");
    c.send(b"QUIT\r\n");
    c.until("221 ");
}

/// An IMAP session logged in as `user` with INBOX selected; the SELECT answer.
pub fn imap_selected(port: u16, user: &str) -> (Raw, String) {
    let mut i = Raw::connect(port);
    assert!(i.line().unwrap().starts_with("* OK"));
    i.send(format!("a LOGIN {user} pw\r\n").as_bytes());
    let l = i.until("a ").concat();
    assert!(l.contains("a OK"), "{l}");
    i.send(b"b SELECT INBOX\r\n");
    let sel = i.until("b ").concat();
    assert!(sel.contains("b OK"), "{sel}");
    (i, sel)
}

#[test]
fn idle_announces_new_mail_without_the_client_asking() {
    let s = Serve::start(&["--catch-all"]);
    send(s.port("smtp"), "a@x.test", &["b@x.test"], "first");
    let (mut i, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 1 EXISTS\r\n"), "{sel}");
    i.send(b"c IDLE\r\n");
    assert!(i.line().unwrap().starts_with("+ "));
    send(s.port("smtp"), "a@x.test", &["b@x.test"], "second");
    // Nothing is sent: the announcement comes by itself.
    let got = i.until("* 2 EXISTS").concat();
    assert!(!got.contains("c "), "{got}");
    i.send(b"DONE\r\n");
    let done = i.until("c ").concat();
    assert!(done.contains("c OK"), "{done}");
    // A third message while not idling is announced at the next command, once.
    send(s.port("smtp"), "a@x.test", &["b@x.test"], "third");
    i.send(b"d NOOP\r\n");
    let noop = i.until("d ").concat();
    assert!(noop.contains("* 3 EXISTS\r\n"), "{noop}");
    assert!(!noop.contains("* 2 EXISTS"), "{noop}");
}

#[test]
fn each_recipient_has_a_mailbox_of_its_own() {
    let s = Serve::start(&[]);
    send(s.port("smtp"), "s@x.test", &["a@x.test"], "for a");
    send(s.port("smtp"), "s@x.test", &["B@X.test"], "for b");
    send(
        s.port("smtp"),
        "s@x.test",
        &["a@x.test", "b@x.test"],
        "for both",
    );
    let (mut i, sel) = imap_selected(s.port("imap"), "a@x.test");
    assert!(sel.contains("* 2 EXISTS\r\n"), "{sel}");
    i.send(b"c FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n");
    let f = i.until("c ").concat();
    assert!(f.contains("Subject: for a\r\n"), "{f}");
    assert!(f.contains("Subject: for both\r\n"), "{f}");
    assert!(!f.contains("for b\r\n"), "{f}");
    let (mut i, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 2 EXISTS\r\n"), "{sel}");
    i.send(b"c FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n");
    let f = i.until("c ").concat();
    assert!(f.contains("Subject: for b\r\n"), "{f}");
    // Somebody who received nothing sees an empty INBOX, over POP3 too.
    let (_, sel) = imap_selected(s.port("imap"), "c@x.test");
    assert!(sel.contains("* 0 EXISTS\r\n"), "{sel}");
    let mut p = Raw::connect(s.port("pop3"));
    p.line().unwrap();
    p.send(b"USER a@x.test\r\nPASS pw\r\nSTAT\r\n");
    assert!(p.line().unwrap().starts_with("+OK"));
    assert!(p.line().unwrap().starts_with("+OK"));
    assert!(p.line().unwrap().starts_with("+OK 2 "));
}

#[test]
fn max_messages_drops_the_oldest_and_says_so() {
    let s = Serve::start(&["--max-messages", "2", "--catch-all"]);
    for n in 1..=2 {
        send(s.port("smtp"), "a@x.test", &["b@x.test"], &format!("m{n}"));
    }
    // Both logged, each session ended: nothing was dropped for them.
    s.wait_count("] message ", 2);
    s.wait_count(" closed", 2);
    assert_eq!(s.count("dropped message"), 0);
    send(s.port("smtp"), "a@x.test", &["b@x.test"], "m3");
    let l = s.wait_for("dropped message");
    assert!(l.contains("UID 1 "), "{l}");
    let (mut i, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 2 EXISTS\r\n"), "{sel}");
    i.send(b"c UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n");
    let f = i.until("c ").concat();
    assert!(f.contains("* 1 FETCH (UID 2 "), "{f}");
    assert!(f.contains("* 2 FETCH (UID 3 "), "{f}");
    assert!(!f.contains("Subject: m1"), "{f}");
    assert!(f.contains("Subject: m3"), "{f}");
}

#[test]
fn lmtp_replies_once_per_accepted_recipient_after_the_data() {
    let s = Serve::start(&["--reject-rcpt", "^nobody@"]);
    let mut c = Raw::connect(s.port("lmtp"));
    assert!(c.line().unwrap().starts_with("220 "));
    c.send(b"LHLO client.test\r\n");
    c.until("250 ");
    c.send(b"MAIL FROM:<a@x.test>\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
    c.send(b"RCPT TO:<nobody@x.test>\r\n");
    assert!(c.line().unwrap().starts_with("550 5.1.1 "));
    c.send(b"RCPT TO:<bob@x.test>\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
    c.send(b"RCPT TO:<carol@x.test>\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
    c.send(b"DATA\r\n");
    assert!(c.line().unwrap().starts_with("354 "));
    c.send(b"Subject: lmtp\r\n\r\nhi\r\n.\r\n");
    for _ in 0..2 {
        let l = c.line().unwrap();
        assert!(l.starts_with("250 "), "{l}");
    }
    // Exactly two: the next line is the answer to NOOP.
    c.send(b"NOOP\r\n");
    let l = c.line().unwrap();
    assert!(l.starts_with("250 2.0.0 ") && !l.contains("queued"), "{l}");
    c.send(b"QUIT\r\n");
    c.until("221 ");
    drop(c);
    // Each accepted recipient got it; the refused one did not.
    for (user, n) in [("bob@x.test", 1), ("carol@x.test", 1), ("nobody@x.test", 0)] {
        let (_, sel) = imap_selected(s.port("imap"), user);
        assert!(sel.contains(&format!("* {n} EXISTS\r\n")), "{user}: {sel}");
    }
    // SMTP on the LMTP port is refused: LMTP wants LHLO.
    let mut c = Raw::connect(s.port("lmtp"));
    c.line().unwrap();
    c.send(b"EHLO client.test\r\n");
    let l = c.line().unwrap();
    assert!(l.starts_with("500 ") || l.starts_with("502 "), "{l}");
}
