//! A 100 MiB message in, and back out over IMAP and POP3, with the server holding it once.

use std::io::Read;

use openssl::sha::Sha256;

use super::mailboxes::imap_selected;
use super::{smtp_session, Raw, Serve};

/// Lines of 98 `x` and CRLF: no dot to stuff, no line too long.
const LINES: usize = 1 << 20;
const HEADER: &[u8] = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: big\r\n\r\n";

fn size() -> usize {
    HEADER.len() + LINES * 100
}

/// The message, a chunk at a time.
fn chunks() -> impl Iterator<Item = Vec<u8>> {
    let mut line = vec![b'x'; 98];
    line.extend_from_slice(b"\r\n");
    let per = 10_000;
    let block = line.repeat(per);
    std::iter::once(HEADER.to_vec()).chain((0..LINES.div_ceil(per)).map(move |i| {
        let n = per.min(LINES - i * per);
        block[..n * 100].to_vec()
    }))
}

fn digest_sent() -> [u8; 32] {
    let mut h = Sha256::new();
    for c in chunks() {
        h.update(&c);
    }
    h.finish()
}

/// Reads exactly `n` bytes (what is buffered first), hashing them.
fn read_hashed(c: &mut Raw, n: usize) -> [u8; 32] {
    let mut h = Sha256::new();
    let first = c.buf.len().min(n);
    h.update(&c.buf[..first]);
    c.buf.drain(..first);
    let mut left = n - first;
    let mut chunk = vec![0u8; 1 << 20];
    while left > 0 {
        let want = left.min(chunk.len());
        let got = c.s.read(&mut chunk[..want]).unwrap();
        assert!(got > 0, "closed with {left} bytes to go");
        h.update(&chunk[..got]);
        left -= got;
    }
    h.finish()
}

#[test]
fn a_100_mib_message_is_stored_once_and_read_back_over_imap_and_pop3() {
    let s = Serve::start(&["--catch-all"]);
    let want = digest_sent();
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n");
    c.until("250 ");
    c.until("250 ");
    c.until("354 ");
    for chunk in chunks() {
        c.send(&chunk);
    }
    c.send(b".\r\n");
    let l = c.line().unwrap();
    assert!(l.starts_with("250 2.0.0 "), "{l}");
    let logged = s.wait_for("] message ");
    assert!(logged.contains(&size().to_string()), "{logged}");

    let (mut i, sel) = imap_selected(s.port("imap"), "b@x.test");
    assert!(sel.contains("* 1 EXISTS\r\n"), "{sel}");
    i.send(b"c FETCH 1 (RFC822.SIZE BODY[])\r\n");
    let head = i.line().unwrap();
    let literal = format!("BODY[] {{{}}}\r\n", size());
    assert!(
        head.contains(&format!("RFC822.SIZE {}", size())) && head.ends_with(&literal),
        "{head:?}"
    );
    assert_eq!(read_hashed(&mut i, size()), want, "IMAP");
    let tail = i.until("c ").concat();
    // After the literal only the rest of the FETCH (the \Seen it set) and the tagged OK.
    assert!(!tail.contains('x') && tail.contains("c OK"), "{tail:?}");

    let mut p = Raw::connect(s.port("pop3"));
    p.line().unwrap();
    p.send(b"USER b@x.test\r\nPASS pw\r\nRETR 1\r\n");
    p.line().unwrap();
    p.line().unwrap();
    let l = p.line().unwrap();
    assert!(l.starts_with("+OK"), "{l}");
    assert_eq!(read_hashed(&mut p, size()), want, "POP3");
    assert_eq!(p.line().unwrap(), ".\r\n");

    let peak = s.peak_memory();
    let limit = size() as u64 + (64 << 20);
    assert!(peak < limit, "peak {peak} bytes, over {limit}");
}
