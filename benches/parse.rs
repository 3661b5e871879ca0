//! The client's protocol machines fed with what servers send: SMTP multi-line and pipelined
//! replies, IMAP untagged responses and a FETCH with a 1 MiB literal, a POP3 RETR with a 1 MiB
//! multi-line body. The bytes go in 64 KiB at a time, as a socket read gives them, and every
//! event is drained with `next_event`. Throughput in server bytes; making the machine and
//! typing its commands is outside the measurement.
//!
//! `cargo bench --bench parse` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mailtalk::proto::imap::Imap;
use mailtalk::proto::pop3::Pop3;
use mailtalk::proto::smtp::Smtp;
use mailtalk::proto::{Event, Machine};

const CHUNK: usize = 64 * 1024;
const MIB: usize = 1 << 20;

/// Events drained until the machine needs more input; how many.
fn drain(m: &mut dyn Machine) -> usize {
    let mut n = 0;
    while let Some(ev) = m.next_event().expect("no protocol error") {
        if let Event::Line(l) = &ev {
            black_box(l.bytes.len());
        }
        n += 1;
    }
    n
}

/// A machine past its greeting, with `commands` typed (their replies awaited).
fn ready<M: Machine>(mut m: M, greeting: &[u8], commands: &[&[u8]]) -> M {
    m.feed(greeting);
    drain(&mut m);
    for c in commands {
        m.command(c).expect("command accepted");
    }
    m
}

fn feed_all(m: &mut dyn Machine, server: &[u8]) -> usize {
    let mut events = 0;
    for chunk in server.chunks(CHUNK) {
        m.feed(chunk);
        events += drain(m);
    }
    events
}

/// A group of one case: `make` builds the machine, `server` is what it is fed.
fn case<M: Machine>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    server: &[u8],
    make: impl Fn() -> M,
) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(server.len() as u64));
    g.bench_function(name, |b| {
        b.iter_batched(
            &make,
            |mut m| black_box(feed_all(&mut m, black_box(server))),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn smtp(c: &mut Criterion) {
    const GREETING: &[u8] = b"220 mx.example.test ESMTP ready\r\n";
    // One multi-line reply of 8,000 lines (under the client's 10,000-line, 1 MiB bounds).
    let mut multi = Vec::new();
    for i in 0..7_999 {
        multi.extend_from_slice(
            format!("250-X-EXTENSION-{i:05} with a parameter or two here\r\n").as_bytes(),
        );
    }
    multi.extend_from_slice(b"250 HELP\r\n");
    case(c, "smtp", "multi-line-reply", &multi, || {
        ready(Smtp::new(false), GREETING, &[b"EHLO client.test"])
    });
    // 10,000 pipelined one-line replies with enhanced codes.
    let replies = b"250 2.1.5 Recipient <someone@example.test> OK\r\n".repeat(10_000);
    let noops: Vec<&[u8]> = vec![b"RCPT TO:<someone@example.test>"; 10_000];
    case(c, "smtp", "10000-replies", &replies, || {
        let mut m = ready(Smtp::new(false), GREETING, &[b"EHLO client.test"]);
        m.feed(b"250-mx.example.test\r\n250 PIPELINING\r\n");
        drain(&mut m);
        m.command(b"MAIL FROM:<a@example.test>").expect("MAIL");
        m.feed(b"250 2.1.0 Ok\r\n");
        drain(&mut m);
        for n in &noops {
            m.command(n).expect("RCPT");
        }
        m
    });
}

/// `lines` of 78 bytes and CRLF, up to `size` bytes (the last line cut short).
fn body(size: usize) -> Vec<u8> {
    let line =
        b"The quick brown fox jumps over the lazy dog; then it does so once more, twice.\r\n";
    line.iter().copied().cycle().take(size).collect()
}

fn imap(c: &mut Criterion) {
    const GREETING: &[u8] = b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n";
    let mut fetch = format!("* 1 FETCH (UID 7 RFC822.SIZE {MIB} BODY[] {{{MIB}}}\r\n").into_bytes();
    fetch.extend_from_slice(&body(MIB));
    fetch.extend_from_slice(b")\r\nA001 OK FETCH completed\r\n");
    case(c, "imap", "fetch-1mib-literal", &fetch, || {
        ready(Imap::new(), GREETING, &[b"FETCH 1 BODY[]"])
    });
    let mut untagged = Vec::new();
    for i in 1..=10_000 {
        untagged.extend_from_slice(
            format!(
                "* {i} FETCH (UID {} FLAGS (\\Seen \\Answered) RFC822.SIZE 4321)\r\n",
                i + 1000
            )
            .as_bytes(),
        );
    }
    untagged.extend_from_slice(b"A001 OK FETCH completed\r\n");
    case(c, "imap", "10000-untagged", &untagged, || {
        ready(
            Imap::new(),
            GREETING,
            &[b"FETCH 1:* (UID FLAGS RFC822.SIZE)"],
        )
    });
}

fn pop3(c: &mut Criterion) {
    const GREETING: &[u8] = b"+OK POP3 ready\r\n";
    let mut retr = format!("+OK {MIB} octets\r\n").into_bytes();
    // Every tenth line starts with a dot, stuffed as a server sends it.
    for (i, line) in body(MIB).split_inclusive(|b| *b == b'\n').enumerate() {
        if i % 10 == 0 {
            retr.push(b'.');
            retr.push(b'.');
        }
        retr.extend_from_slice(line);
    }
    if !retr.ends_with(b"\r\n") {
        retr.extend_from_slice(b"\r\n");
    }
    retr.extend_from_slice(b".\r\n");
    case(c, "pop3", "retr-1mib", &retr, || {
        ready(Pop3::new(), GREETING, &[b"RETR 1"])
    });
}

criterion_group!(benches, smtp, imap, pop3);
criterion_main!(benches);
