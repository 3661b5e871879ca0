//! Hostile IMAP and POP3 clients lose their own session only, and the STARTTLS command
//! injection of a client (commands pipelined after STARTTLS, in the clear) is not executed.

use std::io::{Read, Write};

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};

use super::mailboxes::send;
use super::{smtp_session, Raw, Serve};

/// A new IMAP client is still served: greeting, login, SELECT.
fn imap_still_serves(s: &Serve) {
    let mut i = Raw::connect(s.port("imap"));
    assert!(i.line().unwrap().starts_with("* OK"));
    i.send(b"a LOGIN b@x.test pw\r\nb SELECT INBOX\r\n");
    let got = i.until("b ").concat();
    assert!(got.contains("a OK") && got.contains("b OK"), "{got}");
}

/// A new POP3 client is still served.
fn pop3_still_serves(s: &Serve) {
    let mut p = Raw::connect(s.port("pop3"));
    assert!(p.line().unwrap().starts_with("+OK"));
    p.send(b"USER b@x.test\r\nPASS pw\r\nSTAT\r\n");
    for _ in 0..3 {
        let l = p.line().unwrap();
        assert!(l.starts_with("+OK"), "{l}");
    }
}

/// Sends a line of `n` bytes with no end, until the server closes; what it said.
fn flood(c: &mut Raw, n: usize) -> String {
    let chunk = vec![b'a'; 64 << 10];
    let mut sent = 0;
    while sent < n && c.try_send(&chunk) {
        sent += chunk.len();
    }
    c.rest()
}

#[test]
fn imap_overlong_lines_nul_untagged_garbage_and_too_many_errors() {
    let s = Serve::start(&[]);
    send(s.port("smtp"), "a@x.test", &["b@x.test"], "kept");
    // A line longer than any command: * BAD, then the connection closes.
    let mut i = Raw::connect(s.port("imap"));
    i.line().unwrap();
    i.send(b"a ");
    let rest = flood(&mut i, 16 << 20);
    assert!(rest.starts_with("* BAD"), "{rest:?}");
    assert!(s.peak_memory() < 64 << 20, "{} bytes", s.peak_memory());
    imap_still_serves(&s);
    // NUL in a command, and garbage without a tag: BAD each, the session goes on.
    let mut i = Raw::connect(s.port("imap"));
    i.line().unwrap();
    i.send(b"a NO\x00OP\r\n");
    let l = i.line().unwrap();
    assert!(l.starts_with("a BAD") || l.starts_with("* BAD"), "{l:?}");
    i.send(b"\xff\xfe garbage \x01\r\n");
    let l = i.line().unwrap();
    assert!(l.starts_with("* BAD"), "{l:?}");
    i.send(b"\r\n");
    let l = i.line().unwrap();
    assert!(l.starts_with("* BAD"), "{l:?}");
    i.send(b"b NOOP\r\n");
    let l = i.line().unwrap();
    assert!(l.starts_with("b OK"), "{l:?}");
    // Errors on and on: BYE and close, before the client runs out of them.
    let mut closed = false;
    for n in 0..1000 {
        if !i.try_send(format!("x{n} FROB\r\n").as_bytes()) {
            closed = true;
            break;
        }
        match i.line() {
            Some(l) if l.starts_with("* BYE") => {
                // Then the connection closes, with nothing more answered.
                let rest = i.rest();
                assert!(!rest.contains(" BAD"), "{rest:?}");
                closed = true;
                break;
            }
            Some(l) => assert!(l.contains("BAD"), "{l:?}"),
            None => panic!("closed without BYE after {n} errors"),
        }
    }
    assert!(closed, "1000 bad commands and still open");
    imap_still_serves(&s);
}

#[test]
fn pop3_overlong_lines_garbage_overflowing_numbers_and_commands_before_login() {
    let s = Serve::start(&[]);
    send(s.port("smtp"), "a@x.test", &["b@x.test"], "kept");
    let mut p = Raw::connect(s.port("pop3"));
    p.line().unwrap();
    let rest = flood(&mut p, 16 << 20);
    assert!(rest.starts_with("-ERR"), "{rest:?}");
    assert!(s.peak_memory() < 64 << 20, "{} bytes", s.peak_memory());
    pop3_still_serves(&s);
    // Before login: everything but the login commands is refused.
    let mut p = Raw::connect(s.port("pop3"));
    p.line().unwrap();
    for cmd in ["STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "TOP 1 0"] {
        p.send(format!("{cmd}\r\n").as_bytes());
        let l = p.line().unwrap();
        assert!(l.starts_with("-ERR"), "{cmd}: {l:?}");
    }
    p.send(b"\x00\xff garbage\r\nPASS before USER\r\n");
    assert!(p.line().unwrap().starts_with("-ERR"));
    assert!(p.line().unwrap().starts_with("-ERR"));
    p.send(b"USER b@x.test\r\nPASS pw\r\n");
    assert!(p.line().unwrap().starts_with("+OK"));
    assert!(p.line().unwrap().starts_with("+OK"));
    // Numbers that do not fit, zero, negative: -ERR, never a message.
    for cmd in [
        "RETR 99999999999999999999",
        "RETR 4294967297",
        "RETR 0",
        "RETR -1",
        "TOP 1 99999999999999999999",
        "DELE 18446744073709551617",
        "LIST 99999999999999999999",
    ] {
        p.send(format!("{cmd}\r\n").as_bytes());
        let l = p.line().unwrap();
        if cmd.starts_with("TOP 1 ") {
            // A huge line count is the whole message, or refused.
            if l.starts_with("+OK") {
                p.until(".\r\n");
            }
            continue;
        }
        assert!(l.starts_with("-ERR"), "{cmd}: {l:?}");
    }
    // The message is untouched.
    p.send(b"RSET\r\nSTAT\r\nRETR 1\r\n");
    assert!(p.line().unwrap().starts_with("+OK"));
    let l = p.line().unwrap();
    assert!(l.starts_with("+OK 1 "), "{l:?}");
    let msg = p.until(".\r\n").concat();
    assert!(msg.contains("Subject: kept"), "{msg}");
    // Errors on and on: closed.
    let mut closed = false;
    for n in 0..1000 {
        if !p.try_send(format!("FROB{n}\r\n").as_bytes()) {
            closed = true;
            break;
        }
        match p.line() {
            Some(l) if l.contains("closing") => {
                let rest = p.rest();
                assert!(!rest.contains("-ERR"), "{rest:?}");
                closed = true;
                break;
            }
            Some(l) => assert!(l.starts_with("-ERR"), "{l:?}"),
            None => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "1000 bad commands and still open");
    pop3_still_serves(&s);
}

#[test]
fn commands_pipelined_after_starttls_are_not_executed() {
    let s = Serve::start(&["--log-sessions"]);
    let mut c = smtp_session(s.port("smtp"));
    // STARTTLS and a command after it in one write: the command came in the clear, before
    // the handshake, and must be forgotten.
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
    let l = c.line().unwrap();
    assert!(l.starts_with("220 "), "{l:?}");
    assert!(c.buf.is_empty(), "more after 220: {:?}", c.buf);
    let mut connector = SslConnector::builder(SslMethod::tls_client()).unwrap();
    connector.set_verify(SslVerifyMode::NONE);
    let connector = connector.build();
    let mut tls = connector
        .configure()
        .unwrap()
        .verify_hostname(false)
        .connect("localhost", c.s.try_clone().unwrap())
        .unwrap();
    let read_reply = |tls: &mut openssl::ssl::SslStream<std::net::TcpStream>| {
        let mut got = Vec::new();
        let mut b = [0u8; 1];
        loop {
            let n = tls.read(&mut b).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
            got.push(b[0]);
            if got.ends_with(b"\r\n") {
                let text = String::from_utf8_lossy(&got).into_owned();
                let last = text.lines().last().unwrap_or("").to_string();
                if last.as_bytes().get(3) == Some(&b' ') {
                    return text;
                }
            }
        }
    };
    tls.write_all(b"EHLO client.test\r\n").unwrap();
    let ehlo = read_reply(&mut tls);
    assert!(ehlo.starts_with("250"), "{ehlo}");
    tls.write_all(b"MAIL FROM:<a@x.test>\r\n").unwrap();
    let mail = read_reply(&mut tls);
    assert!(
        mail.starts_with("250 "),
        "the injected MAIL was executed: {mail}"
    );
    tls.write_all(b"RCPT TO:<b@x.test>\r\nDATA\r\n").unwrap();
    assert!(read_reply(&mut tls).starts_with("250 "));
    assert!(read_reply(&mut tls).starts_with("354 "));
    tls.write_all(b"Subject: over tls\r\n\r\nx\r\n.\r\n")
        .unwrap();
    assert!(read_reply(&mut tls).starts_with("250 "));
    let line = s.wait_for("] message ");
    assert!(line.contains("a@x.test"), "{line}");
    assert!(!s.log().contains("C: MAIL FROM:<injected"), "{}", s.log());
    // The same over IMAP and POP3.
    let mut i = Raw::connect(s.port("imap"));
    i.line().unwrap();
    i.send(b"a STARTTLS\r\nb LOGIN x y\r\n");
    let l = i.line().unwrap();
    assert!(l.starts_with("a OK"), "{l:?}");
    assert!(i.buf.is_empty(), "more after OK: {:?}", i.buf);
    let mut tls = connector
        .configure()
        .unwrap()
        .verify_hostname(false)
        .connect("localhost", i.s.try_clone().unwrap())
        .unwrap();
    tls.write_all(b"c NOOP\r\n").unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n") {
        assert!(tls.read(&mut b).unwrap() > 0);
        got.push(b[0]);
    }
    assert!(
        got.starts_with(b"c OK"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}
