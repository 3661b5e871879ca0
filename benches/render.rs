//! The renderer: protocol lines split into spans with roles (`render::lexer`, server and
//! client lines of each protocol), bytes made visible (`render::escape`), and lines painted
//! with and without colour (`Theme::paint_line`); over typical lines and hostile ones (escape
//! sequences, bidirectional overrides, invalid UTF-8, a long line). Throughput in input bytes.
//!
//! `cargo bench --bench render` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mailtalk::proto::{LineKind, Protocol};
use mailtalk::render::bulk::paint_data;
use mailtalk::render::{escape, lexer, Line, Theme};

fn total(lines: &[Vec<u8>]) -> u64 {
    lines.iter().map(|l| l.len() as u64).sum()
}

fn bytes(lines: &[&str]) -> Vec<Vec<u8>> {
    lines.iter().map(|l| l.as_bytes().to_vec()).collect()
}

/// What servers send, as (protocol, kind, line).
fn server_lines() -> Vec<(Protocol, LineKind, Vec<u8>)> {
    let smtp = [
        "220 mx.example.test ESMTP Postfix (Debian/GNU)",
        "250-mx.example.test",
        "250-PIPELINING",
        "250-SIZE 10240000",
        "250-AUTH PLAIN LOGIN",
        "250 2.1.5 Ok",
        "354 End data with <CR><LF>.<CR><LF>",
        "550 5.7.1 <bob@example.test>: Relay access denied",
        "451 4.7.1 Greylisted, see https://example.test/greylist.html",
    ];
    let imap = [
        "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+] Dovecot ready.",
        "* 12 FETCH (UID 4711 FLAGS (\\Seen \\Answered) RFC822.SIZE 12345)",
        "* 3 EXISTS",
        "a001 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).",
        "a002 NO [AUTHENTICATIONFAILED] Authentication failed.",
        "+ Ready for literal data",
    ];
    let pop3 = [
        "+OK Dovecot ready. <1896.697170952@dbc.mtview.ca.us>",
        "+OK 2 320",
        "-ERR [AUTH] Authentication failed.",
    ];
    let mut out = Vec::new();
    for (p, lines) in [
        (Protocol::Smtp, &smtp[..]),
        (Protocol::Imap, &imap[..]),
        (Protocol::Pop3, &pop3[..]),
    ] {
        for l in lines {
            out.push((p, LineKind::Status, l.as_bytes().to_vec()));
        }
    }
    out.push((
        Protocol::Pop3,
        LineKind::Data,
        b"Subject: the quarterly report, as promised last week".to_vec(),
    ));
    out
}

/// Lines a hostile server sends: terminal escapes, controls, bidirectional overrides, invalid
/// UTF-8, and a 4 KiB line of them.
fn hostile() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = vec![
        b"250-\x1b[2J\x1b[H\x1b]0;pwned\x07 cleared your screen".to_vec(),
        b"550 5.7.1 \x1b[31mred\x1b[0m \x9b31m C1 CSI \x00 NUL \x7f DEL".to_vec(),
        "250 \u{202e}deined ssecca yaleR\u{202c} \u{200b}zero\u{2066}width"
            .as_bytes()
            .to_vec(),
        b"* OK \xff\xfe\xc3\x28 invalid \xe2\x82 UTF-8 \xf0\x90\x28\xbc".to_vec(),
        b"+OK caf\xc3\xa9 \xe2\x9c\x93 fine UTF-8 mixed with \xc0\xaf overlong".to_vec(),
    ];
    let mut long = Vec::new();
    while long.len() < 4096 {
        long.extend_from_slice(b"\x1b[5m\xff\xfe text \r \x08\x08 ");
    }
    lines.push(long);
    lines
}

fn lexer_server(c: &mut Criterion) {
    let typical = server_lines();
    let mut g = c.benchmark_group("lexer/server_line");
    g.throughput(Throughput::Bytes(
        typical.iter().map(|(_, _, l)| l.len() as u64).sum(),
    ));
    g.bench_function("typical", |b| {
        b.iter(|| {
            for (p, kind, line) in &typical {
                black_box(lexer::server_line(*p, *kind, black_box(line)));
            }
        })
    });
    let hostile = hostile();
    g.throughput(Throughput::Bytes(total(&hostile)));
    for (name, p) in [
        ("hostile-smtp", Protocol::Smtp),
        ("hostile-imap", Protocol::Imap),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for line in &hostile {
                    black_box(lexer::server_line(p, LineKind::Status, black_box(line)));
                }
            })
        });
    }
    g.finish();
}

fn lexer_client(c: &mut Criterion) {
    let cases = [
        (
            "smtp",
            Protocol::Smtp,
            bytes(&[
                "EHLO client.example.test",
                "MAIL FROM:<alice@example.test> SIZE=12345 BODY=8BITMIME",
                "RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE",
                "DATA",
                "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
            ]),
        ),
        (
            "imap",
            Protocol::Imap,
            bytes(&[
                "a1 LOGIN alice secret",
                "a2 SELECT INBOX",
                "a3 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])",
                "a4 STORE 1 +FLAGS (\\Deleted)",
            ]),
        ),
        (
            "pop3",
            Protocol::Pop3,
            bytes(&["USER alice", "PASS secret", "LIST", "RETR 1", "TOP 1 10"]),
        ),
    ];
    let mut g = c.benchmark_group("lexer/client_line_bytes");
    for (name, p, lines) in &cases {
        g.throughput(Throughput::Bytes(total(lines)));
        g.bench_function(*name, |b| {
            b.iter(|| {
                for line in lines {
                    black_box(lexer::client_line_bytes(*p, black_box(line)));
                }
            })
        });
    }
    g.finish();
}

fn escaping(c: &mut Criterion) {
    let typical: Vec<Vec<u8>> = server_lines().into_iter().map(|(_, _, l)| l).collect();
    let hostile = hostile();
    let mut g = c.benchmark_group("escape");
    for (name, lines) in [("typical", &typical), ("hostile", &hostile)] {
        g.throughput(Throughput::Bytes(total(lines)));
        g.bench_function(format!("visible/{name}"), |b| {
            b.iter(|| {
                for line in lines {
                    black_box(escape::visible(black_box(line)));
                }
            })
        });
        g.bench_function(format!("needs_escape/{name}"), |b| {
            b.iter(|| {
                for line in lines {
                    black_box(escape::needs_escape(black_box(line)));
                }
            })
        });
    }
    g.finish();
}

fn painting(c: &mut Criterion) {
    let typical: Vec<Line> = server_lines()
        .into_iter()
        .map(|(p, kind, l)| Line::of(lexer::server_line(p, kind, &l)))
        .collect();
    let hostile: Vec<Line> = hostile()
        .iter()
        .map(|l| Line::of(lexer::server_line(Protocol::Smtp, LineKind::Status, l)))
        .collect();
    let mut g = c.benchmark_group("theme/paint_line");
    for (name, lines) in [("typical", &typical), ("hostile", &hostile)] {
        let shown: u64 = lines.iter().map(|l| l.text().len() as u64).sum();
        g.throughput(Throughput::Bytes(shown));
        for (colour, theme) in [("colour", Theme::new(true)), ("plain", Theme::new(false))] {
            g.bench_function(format!("{name}/{colour}"), |b| {
                b.iter(|| {
                    for line in lines {
                        black_box(theme.paint_line(black_box(line)));
                    }
                })
            });
        }
    }
    g.finish();
}

/// Content lines painted in bulk (a literal or a body on the way to the screen): 1 MiB of
/// ASCII text lines, of 8-bit text lines, and of lines that need escaping.
fn bulk(c: &mut Criterion) {
    let mut typical = Vec::new();
    let mut i = 0usize;
    while typical.len() < 1 << 20 {
        typical.extend_from_slice(
            &b"Lorem ipsum dolor sit amet, consectetur adipiscing elit"[..20 + i % 36],
        );
        typical.extend_from_slice(b"\r\n");
        i += 1;
    }
    let mut odd = Vec::new();
    while odd.len() < 1 << 20 {
        odd.extend_from_slice("caf\u{e9} \x1b[2J tab\there\r\n".as_bytes());
    }
    let mut utf8 = Vec::new();
    while utf8.len() < 1 << 20 {
        utf8.extend_from_slice(
            "Gr\u{fc}\u{df}e aus K\u{f6}ln, caf\u{e9}, \u{4e2d}\u{6587}\r\n".as_bytes(),
        );
    }
    let mut g = c.benchmark_group("bulk/paint_data");
    for (name, content) in [("typical", &typical), ("utf8", &utf8), ("escaped", &odd)] {
        g.throughput(Throughput::Bytes(content.len() as u64));
        for colour in [false, true] {
            let theme = Theme::new(colour);
            let mut out = Vec::with_capacity(content.len() * 2);
            g.bench_function(format!("{name}/{colour}"), |b| {
                b.iter(|| {
                    out.clear();
                    paint_data(&theme, "S# ", black_box(content), &mut out);
                    out.len()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    lexer_server,
    lexer_client,
    escaping,
    painting,
    bulk
);
criterion_main!(benches);
