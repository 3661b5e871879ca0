//! Properties of the sans-I/O layers on generated input: line splitting, SMTP replies, IMAP
//! literals, POP3 bodies, message data, escaping and the script syntax. Structured inputs are
//! built from parts so that the expected result is known; the fuzz checks (fuzz/src/lib.rs)
//! also run on arbitrary bytes here.

use mailtalk::proto::dot::{self, DataLine, Encoder};
use mailtalk::proto::imap::Imap;
use mailtalk::proto::line::LineBuffer;
use mailtalk::proto::pop3::Pop3;
use mailtalk::proto::smtp::Smtp;
use mailtalk::proto::{Ending, Event, LineKind, Machine, Outcome};
use mailtalk::render::escape;
use proptest::prelude::*;

#[allow(dead_code)]
use crate::fuzz_checks;

/// Cuts `data` at the given points (taken modulo its length, sorted).
fn cut<'a>(data: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    if data.is_empty() {
        return vec![data];
    }
    let mut at: Vec<usize> = points.iter().map(|p| p % data.len()).collect();
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::new();
    let mut from = 0;
    for a in at {
        out.push(&data[from..a]);
        from = a;
    }
    out.push(&data[from..]);
    out
}

/// Text without CR or LF.
fn line_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..40,
    )
}

/// Printable text without CR or LF (and without `{` so no literal is announced).
fn printable() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0x20u8..0x7f, 0..30)
        .prop_map(|v| v.into_iter().filter(|&b| b != b'{').collect())
}

fn drain_smtp(m: &mut Smtp) -> Vec<Event> {
    let mut v = Vec::new();
    while let Some(e) = m.next_event().expect("no error expected") {
        v.push(e);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Lines come out exactly as they went in, whatever the pieces they arrive in.
    #[test]
    fn line_buffer_gives_the_lines_back(
        lines in prop::collection::vec((line_text(), any::<bool>()), 0..20),
        points in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut wire = Vec::new();
        for (l, crlf) in &lines {
            wire.extend_from_slice(l);
            wire.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
        }
        let mut b = LineBuffer::default();
        let mut got = Vec::new();
        for piece in cut(&wire, &points) {
            b.push(piece);
            while let Some(l) = b.next_line().unwrap() {
                got.push(l);
            }
        }
        prop_assert_eq!(got.len(), lines.len());
        for (g, (l, crlf)) in got.iter().zip(&lines) {
            // A line whose text ends in CR followed by a bare LF reads as a CRLF line.
            let (want, ending) = match (crlf, l.last()) {
                (false, Some(b'\r')) => (&l[..l.len() - 1], Ending::CrLf),
                (false, _) => (&l[..], Ending::Lf),
                (true, _) => (&l[..], Ending::CrLf),
            };
            prop_assert_eq!(&g.bytes[..], want);
            prop_assert_eq!(g.ending, ending);
        }
        prop_assert_eq!(b.buffered(), 0);
    }

    /// A multi-line SMTP reply built from parts: every line is reported, one Complete with
    /// the last line's code, a warning exactly when the codes differ.
    #[test]
    fn smtp_replies_built_from_parts(
        codes in prop::collection::vec(200u16..600, 1..8),
        texts in prop::collection::vec(printable(), 8),
        points in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut m = Smtp::new(false);
        m.feed(b"220 hi\r\n");
        let mut events = drain_smtp(&mut m);
        m.command(b"NOOP").unwrap();
        let mut wire = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            let sep = if i + 1 == codes.len() { ' ' } else { '-' };
            wire.extend_from_slice(format!("{code}{sep}").as_bytes());
            wire.extend_from_slice(&texts[i]);
            wire.extend_from_slice(b"\r\n");
        }
        for piece in cut(&wire, &points) {
            m.feed(piece);
            events.extend(drain_smtp(&mut m));
        }
        prop_assert!(!m.awaiting());
        // The greeting, then the command's reply.
        let replies: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Complete(r) | Event::Continue(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(replies.len(), 2);
        let last = &replies[1];
        prop_assert_eq!(last.code_value(), Some(*codes.last().unwrap()));
        prop_assert_eq!(last.lines.len(), codes.len());
        let lines = events.iter().filter(|e| matches!(e, Event::Line(_))).count();
        prop_assert_eq!(lines, codes.len() + 1);
        let mixed = codes.iter().any(|c| *c != codes[0]);
        let warned = events.iter().any(|e| matches!(e, Event::Warning(w) if w.contains("mixes codes")));
        prop_assert_eq!(mixed, warned);
        let class = match codes.last().unwrap() / 100 {
            2 => Outcome::Ok,
            3 => Outcome::Continue,
            4 => Outcome::TempFail,
            _ => Outcome::PermFail,
        };
        prop_assert_eq!(last.outcome, class);
    }

    /// IMAP literal content of any bytes comes out exactly, in pieces of any size, and never
    /// ends the response early even when it looks like the tagged response.
    #[test]
    fn imap_literal_content_is_data(
        content in prop::collection::vec(any::<u8>(), 0..300),
        fake_tag in any::<bool>(),
        points in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut content = content;
        if fake_tag {
            content.splice(0..0, b"A001 OK faked\r\n".iter().copied());
        }
        let mut wire = format!("* OK hi\r\n* 1 FETCH (BODY[] {{{}}}\r\n", content.len()).into_bytes();
        wire.extend_from_slice(&content);
        wire.extend_from_slice(b")\r\nA001 OK done\r\n");
        let mut m = Imap::new();
        let mut events = Vec::new();
        let mut sent = false;
        for piece in cut(&wire, &points) {
            m.feed(piece);
            while let Some(e) = m.next_event().unwrap() {
                if !sent && matches!(e, Event::Complete(_)) {
                    m.command(b"FETCH 1 BODY[]").unwrap();
                    sent = true;
                }
                events.push(e);
            }
        }
        // The content comes in blocks, the first and the last of them marked, never as
        // status lines.
        let mut data = Vec::new();
        let blocks: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Data(b) => Some(b),
                _ => None,
            })
            .collect();
        for b in &blocks {
            data.extend_from_slice(&b.bytes);
        }
        prop_assert!(!events
            .iter()
            .any(|e| matches!(e, Event::Line(l) if l.kind == LineKind::Data)));
        prop_assert!(blocks.first().is_some_and(|b| b.first));
        prop_assert!(blocks.last().is_some_and(|b| b.last));
        prop_assert_eq!(blocks.iter().filter(|b| b.first).count(), 1);
        prop_assert_eq!(blocks.iter().filter(|b| b.last).count(), 1);
        prop_assert_eq!(data, content);
        let done: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Complete(r) => Some(r.lines[0].clone()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(done, vec![b"* OK hi".to_vec(), b"A001 OK done".to_vec()]);
        prop_assert!(!m.awaiting());
    }

    /// Any IMAP literal size is handled without panicking or allocating it: sizes up to
    /// 4 GiB are streamed, larger ones are an error.
    #[test]
    fn imap_literal_sizes(size in any::<u128>(), extra in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut m = Imap::new();
        m.feed(b"* OK hi\r\n");
        while m.next_event().unwrap().is_some() {}
        m.command(b"FETCH 1 BODY[]").unwrap();
        m.feed(format!("* 1 FETCH (BODY[] {{{size}}}\r\n").as_bytes());
        m.feed(&extra);
        let mut result = Ok(());
        loop {
            match m.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let limit = u128::from(mailtalk::proto::imap::MAX_LITERAL);
        prop_assert_eq!(result.is_err(), size > limit, "{:?}", result);
        prop_assert!(m.buffered() <= extra.len());
    }

    /// A POP3 body made of any lines comes out dot-unstuffed and exact.
    #[test]
    fn pop3_bodies_round_trip(
        lines in prop::collection::vec(line_text(), 0..20),
        points in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut wire = b"+OK hi\r\n+OK follows\r\n".to_vec();
        for l in &lines {
            if l.first() == Some(&b'.') {
                wire.push(b'.');
            }
            wire.extend_from_slice(l);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b".\r\n");
        let mut m = Pop3::new();
        let mut events = Vec::new();
        let mut sent = false;
        for piece in cut(&wire, &points) {
            m.feed(piece);
            while let Some(e) = m.next_event().unwrap() {
                if !sent && matches!(e, Event::Complete(_)) {
                    m.command(b"RETR 1").unwrap();
                    sent = true;
                }
                events.push(e);
            }
        }
        let mut body: Vec<Vec<u8>> = Vec::new();
        let mut ends = 0;
        for e in &events {
            match e {
                Event::Data(b) => {
                    ends += usize::from(b.last);
                    for (line, ending) in b.lines() {
                        prop_assert_eq!(ending, Ending::CrLf);
                        body.push(line.to_vec());
                    }
                }
                Event::Line(l) => prop_assert_eq!(l.kind, LineKind::Status),
                _ => {}
            }
        }
        prop_assert_eq!(ends, 1);
        prop_assert_eq!(body, lines);
        prop_assert!(!m.awaiting());
        prop_assert_eq!(events.iter().filter(|e| matches!(e, Event::Complete(_))).count(), 2);
    }

    /// Message data: one terminator, no bare CR or LF, every line starting with a dot
    /// stuffed, the same output whatever the pieces, and un-stuffing gives the message back
    /// with its line endings made CRLF.
    #[test]
    fn dot_stuffing_round_trip(
        data in prop::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a'), any::<u8>()], 0..200),
        points in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let whole = dot::stuff(&data);
        let mut s = Encoder::data();
        let mut pieces = Vec::new();
        for piece in cut(&data, &points) {
            s.push(piece, &mut pieces);
        }
        s.finish(&mut pieces);
        prop_assert_eq!(&pieces, &whole);

        let mut normal = Vec::new();
        let mut i = 0;
        while i < data.len() {
            match data[i] {
                b'\r' if data.get(i + 1) == Some(&b'\n') => {
                    normal.extend_from_slice(b"\r\n");
                    i += 1;
                }
                b'\r' | b'\n' => normal.extend_from_slice(b"\r\n"),
                b => normal.push(b),
            }
            i += 1;
        }
        if !normal.is_empty() && !normal.ends_with(b"\r\n") {
            normal.extend_from_slice(b"\r\n");
        }
        if data.is_empty() {
            prop_assert_eq!(&whole[..], b".\r\n");
            return Ok(());
        }
        prop_assert!(whole.ends_with(b"\r\n.\r\n"));
        prop_assert_eq!(whole.windows(5).filter(|w| w == b"\r\n.\r\n").count(), 1);
        for (i, &b) in whole.iter().enumerate() {
            if b == b'\n' {
                prop_assert!(i > 0 && whole[i - 1] == b'\r');
            }
            if b == b'\r' {
                prop_assert_eq!(whole.get(i + 1), Some(&b'\n'));
            }
        }
        let body = &whole[..whole.len() - 3];
        let mut back = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            let text = &line[..line.len() - 2];
            prop_assert!(!text.starts_with(b".") || text.starts_with(b".."));
            match dot::unstuff_line(text) {
                DataLine::Content { bytes, single_dot } => {
                    prop_assert!(!single_dot);
                    back.extend_from_slice(bytes);
                }
                DataLine::End => prop_assert!(false, "a lone dot inside the data"),
            }
            back.extend_from_slice(b"\r\n");
        }
        prop_assert_eq!(back, normal);
    }

    /// Escaping on arbitrary bytes (the fuzz check): nothing a terminal acts on, idempotent,
    /// reversible, the lexers lose nothing, painting adds only SGR.
    #[test]
    fn render_escape_properties(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_checks::check_render_escape(&data);
    }

    /// Escaping UTF-8 text mixed with controls and bidirectional characters.
    #[test]
    fn escape_of_text(text in "[a-z \\t\\x00-\\x1f\\x7f\\x{80}-\\x{9f}\\x{200b}-\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}é✓]{0,40}") {
        let out = escape::visible_string(text.as_bytes());
        prop_assert!(!out.chars().any(|c| c.is_control() && c != '\t'));
        prop_assert_eq!(escape::needs_escape(text.as_bytes()), out != text);
        prop_assert_eq!(escape::visible_string(out.as_bytes()), out);
    }

    /// The script syntax on arbitrary text (the fuzz check).
    #[test]
    fn script_syntax_properties(opts in any::<u8>(), text in ".{0,60}") {
        let mut data = vec![opts];
        data.extend_from_slice(text.as_bytes());
        fuzz_checks::check_script_parse(&data);
    }

    /// The protocol machines on arbitrary bytes (the fuzz checks).
    #[test]
    fn protocol_machines_on_arbitrary_bytes(
        opts in any::<u8>(),
        seed in any::<u8>(),
        body in prop::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b' '), Just(b'{'), Just(b'}'), Just(b'.'),
            Just(b'2'), Just(b'5'), Just(b'-'), Just(b'+'), Just(b'*'), any::<u8>()
        ], 0..300),
    ) {
        let mut data = vec![opts, seed];
        data.extend_from_slice(&body);
        fuzz_checks::check_smtp_reply(&data);
        fuzz_checks::check_imap_response(&data);
        fuzz_checks::check_pop3_multiline(&data);
    }
}
