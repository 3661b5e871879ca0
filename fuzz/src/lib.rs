//! The checks behind the fuzz targets. Each `check_*` function takes the fuzzer's bytes,
//! drives a piece of mailtalk with them and panics when a property does not hold. The same
//! functions replay saved inputs in the main crate's tests (`tests/it/main.rs` includes this
//! file as a module), so they only use mailtalk's public API and std.
//!
//! Input layout of the protocol checks: byte 0 chooses options (which commands are sent, LMTP
//! or SMTP), byte 1 seeds the chunk sizes in which the rest, the server's bytes, is fed.

use mailtalk::engine::{Event as EngineEvent, EventKind, Security};
use mailtalk::proto::imap::Imap;
use mailtalk::proto::line::MAX_LINE;
use mailtalk::proto::pop3::Pop3;
use mailtalk::proto::smtp::Code;
use mailtalk::proto::smtp::Smtp;
use mailtalk::proto::{
    Capabilities, Ending, Event, InputMode, LineKind, Machine, Outcome, ProtoError, Protocol,
    Reply, ServerLine,
};
use mailtalk::render::escape;
use mailtalk::render::lexer;
use mailtalk::render::Theme;
use mailtalk::script::expect::parse_expect;
use mailtalk::script::vars::Vars;

// ---------------------------------------------------------------------------
// Feeding bytes in pieces.

/// Splits `data` into pieces whose sizes follow `seed`: all at once, one byte at a time, or
/// pseudo-random sizes from 1 to 64 bytes with an occasional piece of up to 4 KiB.
pub fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = match seed % 4 {
            0 => rest.len(),
            1 => 1,
            _ if state % 16 == 0 => 1 + (state as usize >> 4) % 4096,
            _ => 1 + (state as usize >> 4) % 64,
        };
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    out
}

/// Lines typed one after another as replies complete.
pub struct Script {
    lines: Vec<&'static [u8]>,
    next: usize,
}

impl Script {
    pub fn new(lines: Vec<&'static [u8]>) -> Script {
        Script { lines, next: 0 }
    }

    fn take(&mut self) -> Option<&'static [u8]> {
        let line = self.lines.get(self.next).copied();
        self.next += 1;
        line
    }
}

/// Everything one run reported.
#[derive(Debug, Default)]
pub struct Run {
    pub events: Vec<Event>,
    pub error: Option<ProtoError>,
    pub rest: Option<ServerLine>,
    /// The most bytes held unparsed after draining, and the largest piece fed.
    pub max_buffered: usize,
    pub max_piece: usize,
    /// What the machine knew of the server's capabilities at the end.
    pub caps: Capabilities,
}

/// Feeds `pieces` one by one, draining every event after each, typing the script's lines as
/// replies complete; stops at the first error (checking that the error stays).
pub fn run<M: Machine + ?Sized>(
    m: &mut M,
    pieces: &[&[u8]],
    script: &mut Script,
    sticky: bool,
) -> Run {
    let mut r = Run::default();
    'feed: for piece in pieces {
        m.feed(piece);
        r.max_piece = r.max_piece.max(piece.len());
        loop {
            match m.next_event() {
                Ok(Some(ev)) => {
                    react(m, &ev, script);
                    r.events.push(ev);
                    assert!(r.events.len() <= 4 * 1024 * 1024, "event flood");
                }
                Ok(None) => break,
                Err(e) => {
                    if sticky {
                        match m.next_event() {
                            Err(again) => assert_eq!(again, e, "a different error the second time"),
                            other => panic!("error {e:?} not repeated: {other:?}"),
                        }
                    }
                    r.error = Some(e);
                    break 'feed;
                }
            }
        }
        r.max_buffered = r.max_buffered.max(m.buffered());
    }
    if r.error.is_none() {
        r.rest = m.end_of_stream();
    }
    r.caps = m.capabilities().clone();
    r
}

/// Types the next scripted line when a reply completes or the server asks for more; an IMAP
/// literal the server asked for gets its content. Errors are ignored (they are the user's).
fn react<M: Machine + ?Sized>(m: &mut M, event: &Event, script: &mut Script) {
    match event {
        Event::Continue(_) => {
            if let InputMode::Literal { left } = m.input_mode() {
                // Type the literal's content: `left` bytes, the last two the CRLF.
                if (2..=64).contains(&left) {
                    let n = usize::try_from(left).unwrap_or(0) - 2;
                    let _ = m.command(&vec![b'x'; n]);
                    let _ = m.command(b")");
                }
            } else if let Some(line) = script.take() {
                let _ = m.command(line);
            }
        }
        Event::Complete(_) => {
            if let Some(line) = script.take() {
                let _ = m.command(line);
            }
        }
        _ => {}
    }
}

/// The explanations of every reply, line and capability a run produced: they must not fail.
fn explain_everything(protocol: Protocol, run: &Run, script: &[&[u8]]) {
    use mailtalk::explain;
    for ev in &run.events {
        match ev {
            Event::Complete(r) | Event::Continue(r) => {
                let _ = explain::short_line(protocol, r);
            }
            Event::Line(l) => {
                for e in explain::explain_reply(protocol, &l.bytes) {
                    let _ = explain::render_text(&e);
                }
                let text = String::from_utf8_lossy(&l.bytes);
                for word in text.split_whitespace().take(4) {
                    for e in explain::explain(word) {
                        let _ = explain::render_text(&e);
                    }
                }
            }
            Event::Warning(_) | Event::Data(_) => {}
        }
    }
    let _ = explain::caps::grouped(protocol, &run.caps);
    for line in script {
        let _ = explain::caps::warnings(protocol, &run.caps, &String::from_utf8_lossy(line));
    }
}

/// Properties every run must have, whatever the protocol.
fn common_properties(run: &Run, fed: usize, bounded: bool) {
    let mut shown = 0usize;
    for ev in &run.events {
        if let Event::Line(l) = ev {
            assert!(
                !l.bytes.contains(&b'\n'),
                "a line event holds a LF: {:?}",
                l.bytes.escape_ascii().to_string()
            );
            shown += l.bytes.len()
                + match l.ending {
                    Ending::CrLf => 2,
                    Ending::Lf => 1,
                    Ending::None => 0,
                };
        }
    }
    if let Some(rest) = &run.rest {
        assert_eq!(rest.ending, Ending::None);
        shown += rest.bytes.len();
    }
    assert!(shown <= fed, "{shown} bytes shown of {fed} fed");
    // Unparsed input stays within one line (plus the piece just fed).
    let bound = MAX_LINE + 2 + run.max_piece;
    assert!(
        !bounded || run.max_buffered <= bound,
        "{} bytes buffered (bound {bound})",
        run.max_buffered
    );
}

/// An event in a form that does not depend on how the input was cut into pieces: literal
/// content pieces are joined, with their line endings put back.
#[derive(Debug, PartialEq, Eq)]
pub enum Norm {
    Status(Vec<u8>, Ending),
    Data(Vec<u8>),
    Warning(String),
    Complete(Reply),
    Continue(Reply),
}

pub fn normalise(events: &[Event]) -> Vec<Norm> {
    let mut out = Vec::new();
    let mut data: Option<Vec<u8>> = None;
    for ev in events {
        match ev {
            Event::Line(l) if l.kind == LineKind::Data => {
                let d = data.get_or_insert_with(Vec::new);
                d.extend_from_slice(&l.bytes);
                d.extend_from_slice(match l.ending {
                    Ending::CrLf => b"\r\n",
                    Ending::Lf => b"\n",
                    Ending::None => b"",
                });
                continue;
            }
            Event::Data(b) => {
                data.get_or_insert_with(Vec::new)
                    .extend_from_slice(&b.bytes);
                continue;
            }
            // Where a warning about content (a bare LF, a single dot) lands among its blocks
            // depends on the pieces.
            Event::Warning(w) if data.is_some() => {
                out.push(Norm::Warning(w.clone()));
                continue;
            }
            _ => {}
        }
        if let Some(d) = data.take() {
            out.push(Norm::Data(d));
        }
        out.push(match ev {
            Event::Line(l) => Norm::Status(l.bytes.clone(), l.ending),
            Event::Data(b) => Norm::Data(b.bytes.clone()),
            Event::Warning(w) => Norm::Warning(w.clone()),
            Event::Complete(r) => Norm::Complete(r.clone()),
            Event::Continue(r) => Norm::Continue(r.clone()),
        });
    }
    if let Some(d) = data.take() {
        out.push(Norm::Data(d));
    }
    // Bare-LF warnings inside literals: only their number is compared, at the end.
    let (warnings, mut rest): (Vec<Norm>, Vec<Norm>) = out.into_iter().partition(
        |n| matches!(n, Norm::Warning(w) if w.starts_with("literal content uses a bare LF")),
    );
    rest.extend(warnings);
    rest
}

/// The same server bytes fed whole and in pieces give the same events and the same error.
fn same_whatever_the_pieces<M: Machine>(
    make: impl Fn() -> (M, Script),
    body: &[u8],
    seed: u8,
    sticky: bool,
    bounded: bool,
) -> Run {
    let (mut whole_m, mut whole_s) = make();
    let whole = run(&mut whole_m, &[body], &mut whole_s, sticky);
    let pieces = chunks(body, seed);
    let (mut m, mut s) = make();
    let cut = run(&mut m, &pieces, &mut s, sticky);
    common_properties(&whole, body.len(), bounded);
    common_properties(&cut, body.len(), bounded);
    assert_eq!(
        whole.error, cut.error,
        "the error depends on how the input was cut"
    );
    if whole.error.is_none() {
        assert_eq!(
            normalise(&whole.events),
            normalise(&cut.events),
            "the events depend on how the input was cut"
        );
        assert_eq!(whole.rest, cut.rest);
    }
    cut
}

fn split_input(data: &[u8]) -> Option<(u8, u8, &[u8])> {
    let (&opts, rest) = data.split_first()?;
    let (&seed, body) = rest.split_first()?;
    Some((opts, seed, body))
}

// ---------------------------------------------------------------------------
// SMTP / LMTP.

const SMTP_SCRIPTS: [&[&[u8]]; 8] = [
    &[],
    &[b"EHLO client.test"],
    &[b"EHLO client.test", b"STARTTLS"],
    &[
        b"MAIL FROM:<a@example.org>",
        b"RCPT TO:<b@example.org>",
        b"RCPT TO:<c@example.org>",
        b"DATA",
        b"Subject: x",
        b".",
        b"QUIT",
    ],
    &[b"AUTH LOGIN", b"dXNlcg==", b"cGFzcw==", b"NOOP"],
    &[b"AUTH PLAIN AGFAYg==", b"*", b"NOOP"],
    &[b"BDAT 5 LAST", b"abc", b"BDAT 0 LAST", b"RSET"],
    &[b"EHLO a", b"HELO b", b"VRFY c", b"EXPN d", b"HELP", b"QUIT"],
];

/// Feeds server bytes to the SMTP (or LMTP) machine, in arbitrary pieces, while a script of
/// commands runs.
pub fn check_smtp_reply(data: &[u8]) {
    let Some((opts, seed, body)) = split_input(data) else {
        return;
    };
    let lmtp = opts & 0x80 != 0;
    let script = SMTP_SCRIPTS[usize::from(opts & 7)];
    let cut = same_whatever_the_pieces(
        || {
            let mut m = Smtp::new(lmtp);
            let mut s = Script::new(script.to_vec());
            if opts & 0x40 != 0 {
                // Commands sent before anything arrived (pipelining).
                while let Some(l) = s.take() {
                    let _ = m.command(l);
                }
            }
            (m, s)
        },
        body,
        seed,
        true,
        true,
    );
    let protocol = if lmtp { Protocol::Lmtp } else { Protocol::Smtp };
    explain_everything(protocol, &cut, script);
    for ev in &cut.events {
        if let Event::Complete(r) | Event::Continue(r) = ev {
            let code = r
                .code
                .map(Code::value)
                .expect("an SMTP reply without a code");
            assert!((200..=599).contains(&code), "code {code}");
            assert!(!r.lines.is_empty(), "a reply without lines");
            for l in &r.lines {
                assert!(l.len() >= 3 && l[..3].iter().all(u8::is_ascii_digit));
            }
            let class = match code / 100 {
                2 => Some(Outcome::Ok),
                3 => Some(Outcome::Continue),
                4 => Some(Outcome::TempFail),
                5 => Some(Outcome::PermFail),
                _ => None,
            };
            // LMTP reports the worst of several replies; SMTP the reply's own class.
            if !lmtp {
                if let Some(class) = class {
                    assert_eq!(r.outcome, class, "outcome of {code}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// IMAP.

const IMAP_SCRIPTS: [&[&[u8]]; 8] = [
    &[],
    &[b"CAPABILITY", b"NOOP"],
    &[b"FETCH 1 (BODY[] FLAGS)", b"UID FETCH 1:* BODY.PEEK[]"],
    &[b"APPEND INBOX {7}", b"LOGOUT"],
    &[b"LOGIN alice {5}", b"SELECT INBOX"],
    &[b"AUTHENTICATE PLAIN", b"AGFAYg==", b"*"],
    &[b"IDLE", b"DONE", b"STARTTLS"],
    &[
        b"a1 NOOP",
        b"a2 NOOP",
        b"APPEND INBOX {3+}",
        b"abc",
        b"LIST \"\" *",
    ],
];

/// Feeds server bytes to the IMAP machine (greeting included) in arbitrary pieces; with the
/// option's high bit the first command is sent before any byte arrives.
pub fn check_imap_response(data: &[u8]) {
    let Some((opts, seed, body)) = split_input(data) else {
        return;
    };
    let script = IMAP_SCRIPTS[usize::from(opts & 7)];
    let cut = same_whatever_the_pieces(
        || {
            let mut m = Imap::new();
            let mut s = Script::new(script.to_vec());
            if opts & 0x80 != 0 {
                if let Some(l) = s.take() {
                    let _ = m.command(l);
                }
            }
            (m, s)
        },
        body,
        seed,
        true,
        true,
    );
    explain_everything(Protocol::Imap, &cut, script);
    for ev in &cut.events {
        if let Event::Complete(r) | Event::Continue(r) = ev {
            assert_eq!(r.code, None);
            assert!(r.tag.is_some(), "an IMAP response without a tag");
            assert_eq!(r.lines.len(), 1);
        }
    }
}

// ---------------------------------------------------------------------------
// POP3.

const POP3_SCRIPTS: [&[&[u8]]; 8] = [
    &[],
    &[b"CAPA"],
    &[b"RETR 1", b"RETR 2"],
    &[b"LIST", b"UIDL", b"TOP 1 0"],
    &[b"USER alice", b"PASS secret", b"STAT"],
    &[b"AUTH PLAIN", b"AGFAYg==", b"AUTH"],
    &[b"CAPA", b"STLS"],
    &[
        b"APOP alice 0123456789abcdef",
        b"LIST 1",
        b"UIDL 1",
        b"QUIT",
    ],
];

/// Feeds server bytes to the POP3 machine (greeting included) in arbitrary pieces while
/// multi-line commands (CAPA, RETR, LIST, UIDL, TOP) run.
pub fn check_pop3_multiline(data: &[u8]) {
    let Some((opts, seed, body)) = split_input(data) else {
        return;
    };
    let script = POP3_SCRIPTS[usize::from(opts & 7)];
    let cut = same_whatever_the_pieces(
        || {
            let mut m = Pop3::new();
            let mut s = Script::new(script.to_vec());
            if opts & 0x80 != 0 {
                while let Some(l) = s.take() {
                    let _ = m.command(l);
                }
            }
            (m, s)
        },
        body,
        seed,
        false,
        // After a positive STLS reply nothing is parsed until the handshake: the session
        // refuses what was buffered, the machine only keeps it.
        !script.contains(&&b"STLS"[..]),
    );
    explain_everything(Protocol::Pop3, &cut, script);
    for ev in &cut.events {
        if let Event::Complete(r) | Event::Continue(r) = ev {
            assert_eq!(r.lines.len(), 1);
        }
    }
}

// ---------------------------------------------------------------------------
// Making bytes visible.

/// Characters that must never reach the terminal as they are.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

fn assert_displayable(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| forbidden(c)) {
        panic!("{what} holds {c:?}: {text:?}");
    }
}

/// Turns the escapes of an escaped piece back into bytes.
fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (bytes, used) = if let Some(r) = rest.strip_prefix("\\x") {
            let hex = r.get(..2).expect("\\x without two digits");
            (vec![u8::from_str_radix(hex, 16).expect("bad hex")], 4usize)
        } else if let Some(r) = rest.strip_prefix("\\u{") {
            let end = r.find('}').expect("unterminated \\u{");
            let c = char::from_u32(u32::from_str_radix(&r[..end], 16).expect("bad hex"))
                .expect("not a char");
            let mut buf = [0u8; 4];
            (c.encode_utf8(&mut buf).as_bytes().to_vec(), 4 + end)
        } else if rest.starts_with("\\r") {
            (b"\r".to_vec(), 2)
        } else if rest.starts_with("\\n") {
            (b"\n".to_vec(), 2)
        } else if rest.starts_with("\\0") {
            (b"\0".to_vec(), 2)
        } else {
            panic!("not an escape: {rest:?}");
        };
        out.extend_from_slice(&bytes);
        rest = &rest[used..];
    }
    out
}

/// Removes SGR sequences (`ESC [ digits/semicolons m`); panics on any other ESC.
pub fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        let seq = rest[i + 1..]
            .strip_prefix('[')
            .unwrap_or_else(|| panic!("ESC that is not CSI in {text:?}"));
        let end = seq
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(seq.len());
        assert_eq!(
            seq.get(end..end + 1),
            Some("m"),
            "CSI that is not SGR in {text:?}"
        );
        rest = &seq[end + 1..];
    }
    out.push_str(rest);
    out
}

const PROTOCOLS: [Protocol; 4] = [
    Protocol::Smtp,
    Protocol::Lmtp,
    Protocol::Imap,
    Protocol::Pop3,
];

/// `escape::visible` and the lexers on arbitrary bytes: nothing a terminal acts on gets
/// through, escaping is idempotent and can be undone exactly, lexing loses nothing, painting
/// adds only SGR sequences, and the JSON form holds no raw control character and gives the
/// exact bytes back.
pub fn check_render_escape(data: &[u8]) {
    let Some((&opts, bytes)) = data.split_first() else {
        return;
    };
    let out = escape::visible_string(bytes);
    assert_displayable("visible_string", &out);
    assert_eq!(
        escape::visible_string(out.as_bytes()),
        out,
        "not idempotent"
    );
    assert!(!escape::needs_escape(out.as_bytes()));
    assert_eq!(
        escape::needs_escape(bytes),
        out.as_bytes() != bytes,
        "needs_escape disagrees with visible_string"
    );

    let pieces = escape::visible(bytes);
    let joined: String = pieces.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(joined, out, "pieces do not add up to visible_string");
    let mut back = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        assert!(!p.text.is_empty(), "empty piece");
        if let Some(next) = pieces.get(i + 1) {
            assert_ne!(p.escaped, next.escaped, "neighbouring pieces of one kind");
        }
        if p.escaped {
            back.extend_from_slice(&unescape(&p.text));
        } else {
            back.extend_from_slice(p.text.as_bytes());
        }
    }
    assert_eq!(back, bytes, "escapes do not give the bytes back");

    let protocol = PROTOCOLS[usize::from(opts & 3)];
    let kind = if opts & 4 == 0 {
        LineKind::Status
    } else {
        LineKind::Data
    };
    let spans = lexer::server_line(protocol, kind, bytes);
    let text: String = spans.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(text, out, "server_line lost or changed text");
    for w in spans.windows(2) {
        assert_ne!(w[0].role, w[1].role, "neighbouring spans share a role");
    }
    for s in &spans {
        assert!(!s.text.is_empty(), "empty span");
    }
    let painted = Theme::new(true).paint(&spans);
    assert_eq!(strip_sgr(&painted), out, "painting changed the text");
    assert_eq!(Theme::new(false).paint(&spans), out);

    let client = lexer::client_line_bytes(protocol, bytes);
    let ctext: String = client.iter().map(|s| s.text.as_str()).collect();
    assert_displayable("client_line_bytes", &ctext);
    if !escape::needs_escape(bytes) {
        assert_eq!(ctext.as_bytes(), bytes, "client_line lost or changed text");
    }
    strip_sgr(&Theme::new(true).paint(&client));

    let ending = match opts >> 6 {
        0 => Ending::CrLf,
        1 => Ending::Lf,
        _ => Ending::None,
    };
    let ev = EngineEvent {
        at: std::time::Duration::from_millis(u64::from(opts)),
        protocol,
        security: Security::Plain,
        kind: EventKind::Received(ServerLine {
            bytes: bytes.to_vec(),
            kind,
            ending,
        }),
    };
    let json = mailtalk::output::json::event_json(&ev, None);
    assert_displayable("event_json", &json);
    assert!(!json.contains('\n'));
    let shown = mailtalk::output::present::event_lines(&ev);
    for line in &shown {
        let plain = strip_sgr(&Theme::new(true).paint_line(line));
        assert_displayable("event_lines", &plain);
    }
}

// ---------------------------------------------------------------------------
// Script syntax.

/// `${…}` written so that interpolation gives `text` back.
fn literal_dollars(text: &str) -> String {
    text.replace("${", "$${")
}

/// `:expect` arguments, `${NAME}` interpolation, `:capture`, `:send` arguments, `check_line` and
/// SASL challenge decoding on arbitrary text.
pub fn check_script_parse(data: &[u8]) {
    let Some((&opts, bytes)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(bytes);
    let text = text.as_ref();
    let protocol = PROTOCOLS[usize::from(opts & 3)];

    let _ = parse_expect(text, protocol);
    if let Ok(exp) = parse_expect(text, protocol) {
        let reply = Reply {
            outcome: Outcome::Ok,
            code: Code::new(250),
            enhanced: mailtalk::proto::smtp::EnhancedCode::parse("2.0.0"),
            tag: Some("A001".into()),
            lines: vec![bytes.to_vec()],
            parts: Vec::new(),
        };
        let _ = exp.check(protocol, Some(&reply));
        let _ = exp.check(protocol, None);
        let _ = exp.describe();
    }

    let mut vars = Vars::new();
    vars.set("MAILTALK_FUZZ_A", "alpha".into());
    vars.set("MAILTALK_FUZZ_B", text.to_string());
    let _ = vars.interpolate(text);
    if !text.contains('$') {
        assert_eq!(vars.interpolate(text).as_deref(), Ok(text));
    }
    assert_eq!(
        vars.interpolate(&literal_dollars(text)).as_deref(),
        Ok(text),
        "$${{ does not give a literal ${{"
    );
    assert_eq!(
        vars.interpolate("x ${MAILTALK_FUZZ_B} ${MAILTALK_FUZZ_A}"),
        Ok(format!("x {text} alpha")),
        "a value is not inserted as it is"
    );
    let reply = Reply {
        outcome: Outcome::Ok,
        code: None,
        enhanced: None,
        tag: None,
        lines: vec![bytes.to_vec(), b"250 second".to_vec()],
        parts: Vec::new(),
    };
    let _ = vars.capture(text, Some(&reply));
    let _ = vars.capture(&format!("NAME {text}"), Some(&reply));

    // `:send` arguments: parsed or refused with one line, never a panic.
    match mailtalk::controller::args::parse_send(text) {
        Ok(_) => {}
        Err(e) => assert!(!e.contains('\n'), "a :send error of several lines: {e}"),
    }

    let forbidden = bytes.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0);
    assert_eq!(mailtalk::proto::check_line(bytes).is_err(), forbidden);

    if let Ok(decoded) = mailtalk::proto::sasl::decode_challenge(bytes) {
        if !(bytes.is_empty() || bytes == b"=") {
            assert_eq!(
                mailtalk::proto::sasl::encode(&decoded).as_bytes(),
                bytes,
                "base64 that does not encode back to itself was accepted"
            );
        }
    }
}
