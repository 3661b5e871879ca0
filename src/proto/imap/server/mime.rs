//! The MIME structure of a stored message as IMAP shows it: the part tree with the byte ranges
//! of every header and body (so sections are served as ranges of the stored bytes), ENVELOPE,
//! BODY and BODYSTRUCTURE, all read from `mail-parser`'s parse of the message.

use std::ops::Range;

use base64::Engine as _;
use mail_parser::{Address, Header, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use crate::proto::imap::syntax::{astring, AString};

/// How deep parts may nest before the rest is shown as one opaque part.
const MAX_DEPTH: usize = 32;

/// One header field of a message: its name as written, the whole field (name to the line end
/// after its last continuation line) and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub all: Range<usize>,
    pub value: Range<usize>,
}

/// A message (the stored one, or one embedded as message/rfc822).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub fields: Vec<Field>,
    /// Its top-level part: the message header (with the blank line) and body.
    pub root: Node,
    /// Ranges that point into decoded bytes (an encoded message/rfc822), not the stored ones.
    pub detached: bool,
}

/// One MIME part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The part's MIME header, the blank line after it included.
    pub header: Range<usize>,
    pub body: Range<usize>,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Leaf,
    Multi(Vec<Node>),
    Message(Box<Msg>),
}

/// What FETCH needs of a message, computed once per message and session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Structure {
    pub msg: Msg,
    pub envelope: Vec<u8>,
    /// BODY (without extension data).
    pub body: Vec<u8>,
    pub bodystructure: Vec<u8>,
    /// The day of the Date header, for SENTBEFORE / SENTON / SENTSINCE.
    pub sent: Option<jiff::civil::Date>,
}

impl Structure {
    pub fn parse(data: &[u8]) -> Structure {
        let len = data.len();
        match MessageParser::default().parse(data) {
            Some(m) if !m.parts.is_empty() => {
                let built = build_msg(&m, data, 0);
                let sent = m
                    .parts
                    .first()
                    .and_then(|p| p.headers.iter().find_map(|h| h.value.as_datetime()))
                    .and_then(|d| {
                        jiff::civil::Date::new(
                            i16::try_from(d.year).ok()?,
                            i8::try_from(d.month).ok()?,
                            i8::try_from(d.day).ok()?,
                        )
                        .ok()
                    });
                Structure {
                    msg: built.msg,
                    envelope: built.envelope,
                    body: built.body,
                    bodystructure: built.bodystructure,
                    sent,
                }
            }
            _ => {
                let mut body = Vec::new();
                basic(
                    &mut body,
                    &Info::text(),
                    len,
                    Some(lines(data)),
                    None,
                    false,
                );
                let mut bodystructure = Vec::new();
                basic(
                    &mut bodystructure,
                    &Info::text(),
                    len,
                    Some(lines(data)),
                    None,
                    true,
                );
                Structure {
                    msg: Msg {
                        fields: Vec::new(),
                        root: Node {
                            header: 0..0,
                            body: 0..len,
                            kind: Kind::Leaf,
                        },
                        detached: false,
                    },
                    envelope: b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)".to_vec(),
                    body,
                    bodystructure,
                    sent: None,
                }
            }
        }
    }
}

/// Part `n` (1-based) of a message: a child of its multipart body, or its body itself when it
/// is not multipart (then only part 1 exists).
pub fn part_of(msg: &Msg, n: u32) -> Option<&Node> {
    match &msg.root.kind {
        Kind::Multi(children) => children.get(usize::try_from(n).ok()?.checked_sub(1)?),
        _ => (n == 1).then_some(&msg.root),
    }
}

/// The part a section's part number names (`1.2.3`), when it exists and its ranges are ones
/// of the stored bytes.
pub fn find<'a>(msg: &'a Msg, path: &[u32]) -> Option<&'a Node> {
    let (first, rest) = path.split_first()?;
    let mut node = part_of(msg, *first)?;
    for &n in rest {
        node = match &node.kind {
            Kind::Multi(children) => children.get(usize::try_from(n).ok()?.checked_sub(1)?)?,
            Kind::Message(inner) if !inner.detached => part_of(inner, n)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The lines of `bytes` (line feeds, plus a last line without one).
pub fn lines(bytes: &[u8]) -> u64 {
    let lf = memchr::memchr_iter(b'\n', bytes).count();
    let last = usize::from(bytes.last().is_some_and(|&b| b != b'\n'));
    u64::try_from(lf.saturating_add(last)).unwrap_or(u64::MAX)
}

struct Built {
    msg: Msg,
    envelope: Vec<u8>,
    body: Vec<u8>,
    bodystructure: Vec<u8>,
}

fn build_msg(m: &Message<'_>, top: &[u8], depth: usize) -> Built {
    let raw: &[u8] = m.raw_message.as_ref();
    let detached = raw.as_ptr() != top.as_ptr() || raw.len() != top.len();
    let headers: &[Header<'_>] = m.parts.first().map_or(&[], |p| p.headers.as_slice());
    let fields = headers
        .iter()
        .map(|h| Field {
            name: h.name().to_string(),
            all: clamp(h.offset_field, h.offset_end, raw.len()),
            value: clamp(h.offset_start, h.offset_end, raw.len()),
        })
        .collect();
    let envelope = envelope(headers, raw);
    let (root, body, bodystructure) = build_part(m, 0, raw, top, depth);
    Built {
        msg: Msg {
            fields,
            root,
            detached,
        },
        envelope,
        body,
        bodystructure,
    }
}

fn clamp(start: u32, end: u32, len: usize) -> Range<usize> {
    let end = usize::try_from(end).unwrap_or(len).min(len);
    let start = usize::try_from(start).unwrap_or(end).min(end);
    start..end
}

/// A part's content type and the other MIME fields BODYSTRUCTURE shows.
struct Info {
    ctype: String,
    subtype: String,
    params: Vec<(String, String)>,
    id: Option<String>,
    description: Option<String>,
    encoding: String,
    disposition: Option<(String, Vec<(String, String)>)>,
    language: Vec<String>,
    location: Option<String>,
}

impl Info {
    fn text() -> Info {
        Info {
            ctype: "TEXT".into(),
            subtype: "PLAIN".into(),
            params: vec![("CHARSET".into(), "US-ASCII".into())],
            id: None,
            description: None,
            encoding: "7BIT".into(),
            disposition: None,
            language: Vec::new(),
            location: None,
        }
    }

    fn of(part: &mail_parser::MessagePart<'_>) -> Info {
        let mut info = Info::text();
        if let Some(ct) = part.content_type() {
            info.ctype = ct.ctype().to_ascii_uppercase();
            info.subtype = ct
                .subtype()
                .map_or_else(String::new, |s| s.to_ascii_uppercase());
            info.params = attributes(ct.attributes());
        }
        info.id = part.content_id().map(|s| format!("<{s}>"));
        info.description = part.content_description().map(str::to_string);
        if let Some(e) = part.content_transfer_encoding() {
            info.encoding = e.to_ascii_uppercase();
        }
        info.disposition = part
            .content_disposition()
            .map(|d| (d.ctype().to_ascii_uppercase(), attributes(d.attributes())));
        info.language = match part.content_language() {
            HeaderValue::Text(t) => vec![t.to_string()],
            HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        };
        info.location = part.content_location().map(str::to_string);
        info
    }
}

fn attributes(attrs: Option<&[mail_parser::Attribute<'_>]>) -> Vec<(String, String)> {
    attrs
        .unwrap_or(&[])
        .iter()
        .map(|a| (a.name.to_ascii_uppercase(), a.value.to_string()))
        .collect()
}

/// One part: its node, its BODY and its BODYSTRUCTURE.
fn build_part(
    m: &Message<'_>,
    idx: usize,
    raw: &[u8],
    top: &[u8],
    depth: usize,
) -> (Node, Vec<u8>, Vec<u8>) {
    let Some(part) = m.parts.get(idx) else {
        let mut b = Vec::new();
        basic(&mut b, &Info::text(), 0, Some(0), None, false);
        let mut bs = Vec::new();
        basic(&mut bs, &Info::text(), 0, Some(0), None, true);
        return (
            Node {
                header: 0..0,
                body: 0..0,
                kind: Kind::Leaf,
            },
            b,
            bs,
        );
    };
    let header = clamp(part.offset_header, part.offset_body, raw.len());
    let body = clamp(part.offset_body, part.offset_end, raw.len());
    let content = raw.get(body.clone()).unwrap_or(&[]);
    let info = Info::of(part);
    let deeper = depth < MAX_DEPTH;
    match &part.body {
        PartType::Multipart(ids) if deeper && ids.iter().any(|&i| to_index(i) > idx) => {
            let mut children = Vec::new();
            let mut b = b"(".to_vec();
            let mut bs = b"(".to_vec();
            for &id in ids {
                let i = to_index(id);
                if i <= idx {
                    continue;
                }
                let (node, cb, cbs) = build_part(m, i, raw, top, depth.saturating_add(1));
                children.push(node);
                b.extend_from_slice(&cb);
                bs.extend_from_slice(&cbs);
            }
            b.push(b' ');
            string(&mut b, info.subtype.as_bytes());
            b.push(b')');
            bs.push(b' ');
            string(&mut bs, info.subtype.as_bytes());
            bs.push(b' ');
            params(&mut bs, &info.params);
            extension(&mut bs, &info);
            bs.push(b')');
            (
                Node {
                    header,
                    body,
                    kind: Kind::Multi(children),
                },
                b,
                bs,
            )
        }
        PartType::Message(inner) if deeper && !inner.parts.is_empty() => {
            let built = build_msg(inner, top, depth.saturating_add(1));
            let mut info = info;
            if info.ctype != "MESSAGE" {
                info.ctype = "MESSAGE".into();
                info.subtype = "RFC822".into();
            }
            let lines = lines(content);
            let mut b = Vec::new();
            let inner_b = (&built.envelope, &built.body);
            basic(
                &mut b,
                &info,
                content.len(),
                Some(lines),
                Some(inner_b),
                false,
            );
            let mut bs = Vec::new();
            let inner_bs = (&built.envelope, &built.bodystructure);
            basic(
                &mut bs,
                &info,
                content.len(),
                Some(lines),
                Some(inner_bs),
                true,
            );
            (
                Node {
                    header,
                    body,
                    kind: Kind::Message(Box::new(built.msg)),
                },
                b,
                bs,
            )
        }
        _ => {
            let mut info = info;
            if info.ctype == "MULTIPART" || info.ctype == "MESSAGE" {
                // Shown as what it is: bytes that did not parse as the type says.
                info.ctype = "APPLICATION".into();
                info.subtype = "OCTET-STREAM".into();
            }
            let text_lines = (info.ctype == "TEXT").then(|| lines(content));
            let mut b = Vec::new();
            basic(&mut b, &info, content.len(), text_lines, None, false);
            let mut bs = Vec::new();
            basic(&mut bs, &info, content.len(), text_lines, None, true);
            (
                Node {
                    header,
                    body,
                    kind: Kind::Leaf,
                },
                b,
                bs,
            )
        }
    }
}

fn to_index(id: u32) -> usize {
    usize::try_from(id).unwrap_or(0)
}

/// A non-multipart body: type, subtype, parameters, id, description, encoding, size, then
/// the lines of text parts; for message/rfc822 the envelope, body and lines; with `ext` the
/// extension data.
fn basic(
    out: &mut Vec<u8>,
    info: &Info,
    size: usize,
    lines: Option<u64>,
    inner: Option<(&Vec<u8>, &Vec<u8>)>,
    ext: bool,
) {
    out.push(b'(');
    string(out, info.ctype.as_bytes());
    out.push(b' ');
    string(out, info.subtype.as_bytes());
    out.push(b' ');
    params(out, &info.params);
    out.push(b' ');
    nstring(out, info.id.as_deref().map(str::as_bytes));
    out.push(b' ');
    nstring(out, info.description.as_deref().map(str::as_bytes));
    out.push(b' ');
    string(out, info.encoding.as_bytes());
    out.extend_from_slice(format!(" {size}").as_bytes());
    if let Some((envelope, body)) = inner {
        out.push(b' ');
        out.extend_from_slice(envelope);
        out.push(b' ');
        out.extend_from_slice(body);
    }
    if let Some(n) = lines {
        out.extend_from_slice(format!(" {n}").as_bytes());
    }
    if ext {
        out.extend_from_slice(b" NIL");
        extension(out, info);
    }
    out.push(b')');
}

/// Disposition, language and location (the extension data both kinds of body share).
fn extension(out: &mut Vec<u8>, info: &Info) {
    out.push(b' ');
    match &info.disposition {
        Some((kind, ps)) => {
            out.push(b'(');
            string(out, kind.as_bytes());
            out.push(b' ');
            params(out, ps);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match info.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => string(out, one.as_bytes()),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, l.as_bytes());
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    nstring(out, info.location.as_deref().map(str::as_bytes));
}

fn params(out: &mut Vec<u8>, ps: &[(String, String)]) {
    if ps.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in ps.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, k.as_bytes());
        out.push(b' ');
        string(out, v.as_bytes());
    }
    out.push(b')');
}

/// An IMAP string: quoted when it can be, a literal otherwise.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    match astring(s) {
        AString::Quoted(q) => out.extend_from_slice(&q),
        AString::Literal(bytes) => {
            out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
            out.extend_from_slice(&bytes);
        }
    }
}

pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A header value as ENVELOPE shows it: unfolded, trimmed.
fn unfolded(raw: &[u8], h: &Header<'_>) -> Vec<u8> {
    let value = raw
        .get(clamp(h.offset_start, h.offset_end, raw.len()))
        .unwrap_or(&[]);
    let mut v: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p.saturating_add(1));
    v.truncate(end);
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    v.drain(..start);
    v
}

fn envelope(headers: &[Header<'_>], raw: &[u8]) -> Vec<u8> {
    let find = |name: &str| headers.iter().find(|h| h.name().eq_ignore_ascii_case(name));
    let text = |out: &mut Vec<u8>, name: &str| {
        let v = find(name).map(|h| unfolded(raw, h));
        nstring(out, v.as_deref());
    };
    let addresses = |name: &str| -> Vec<u8> {
        let mut out = Vec::new();
        match find(name).map(|h| &h.value) {
            Some(HeaderValue::Address(a)) => address_list(&mut out, a),
            _ => out.extend_from_slice(b"NIL"),
        }
        out
    };
    let mut out = b"(".to_vec();
    text(&mut out, "Date");
    out.push(b' ');
    text(&mut out, "Subject");
    let from = addresses("From");
    let sender = match addresses("Sender") {
        s if s == b"NIL" => from.clone(),
        s => s,
    };
    let reply_to = match addresses("Reply-To") {
        s if s == b"NIL" => from.clone(),
        s => s,
    };
    for list in [from, sender, reply_to, addresses("To"), addresses("Cc")] {
        out.push(b' ');
        out.extend_from_slice(&list);
    }
    out.push(b' ');
    out.extend_from_slice(&addresses("Bcc"));
    out.push(b' ');
    text(&mut out, "In-Reply-To");
    out.push(b' ');
    text(&mut out, "Message-ID");
    out.push(b')');
    out
}

fn address_list(out: &mut Vec<u8>, a: &Address<'_>) {
    let start = out.len();
    out.push(b'(');
    match a {
        Address::List(list) => {
            for addr in list {
                address(out, addr.name.as_deref(), addr.address.as_deref());
            }
        }
        Address::Group(groups) => {
            for g in groups {
                let named = g.name.is_some();
                if named {
                    out.extend_from_slice(b"(NIL NIL ");
                    nstring(out, g.name.as_deref().map(encoded).as_deref());
                    out.extend_from_slice(b" NIL)");
                }
                for addr in &g.addresses {
                    address(out, addr.name.as_deref(), addr.address.as_deref());
                }
                if named {
                    out.extend_from_slice(b"(NIL NIL NIL NIL)");
                }
            }
        }
    }
    if out.len() == start.saturating_add(1) {
        out.truncate(start);
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b')');
    }
}

fn address(out: &mut Vec<u8>, name: Option<&str>, addr: Option<&str>) {
    out.push(b'(');
    nstring(out, name.map(encoded).as_deref());
    out.extend_from_slice(b" NIL ");
    let (mailbox, host) = match addr.and_then(|a| a.rsplit_once('@')) {
        Some((m, h)) => (Some(m), Some(h)),
        None => (addr, None),
    };
    nstring(out, mailbox.map(str::as_bytes));
    out.push(b' ');
    nstring(out, host.map(str::as_bytes));
    out.push(b')');
}

/// A decoded display name back in 7-bit form: as it is when ASCII, else one RFC 2047 word.
fn encoded(name: &str) -> Vec<u8> {
    if name.is_ascii() {
        return name.as_bytes().to_vec();
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
    format!("=?utf-8?b?{b64}?=").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.org, \"C D\" <cd@example.org>\r\nSubject: report\r\n\tfolded\r\nMessage-ID: <m2@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the file.\r\n--b1\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b1--\r\n";

    #[test]
    fn multipart_structure_and_ranges() {
        let s = Structure::parse(MULTI);
        assert_eq!(
            String::from_utf8(s.bodystructure.clone()).unwrap(),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 13 1 NIL NIL NIL NIL)\
             (\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") NIL NIL \"BASE64\" 8 NIL \
             (\"ATTACHMENT\" (\"FILENAME\" \"r.pdf\")) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL)"
        );
        assert_eq!(
            String::from_utf8(s.body.clone()).unwrap(),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 13 1)\
             (\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") NIL NIL \"BASE64\" 8) \"MIXED\")"
        );
        assert_eq!(
            String::from_utf8(s.envelope.clone()).unwrap(),
            "(NIL \"report\tfolded\" ((\"Alice\" NIL \"alice\" \"example.org\")) \
             ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) \
             ((NIL NIL \"bob\" \"example.org\")(\"C D\" NIL \"cd\" \"example.org\")) NIL NIL NIL \
             \"<m2@example.org>\")"
        );
        let one = find(&s.msg, &[1]).unwrap();
        assert_eq!(&MULTI[one.body.clone()], b"See the file.");
        assert_eq!(
            &MULTI[one.header.clone()],
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        );
        assert_eq!(
            &MULTI[find(&s.msg, &[2]).unwrap().body.clone()],
            b"JVBERg=="
        );
        assert!(find(&s.msg, &[3]).is_none());
        assert!(find(&s.msg, &[1, 1]).is_none());
        assert!(find(&s.msg, &[0]).is_none());
        assert_eq!(s.msg.fields.len(), 6);
    }

    #[test]
    fn nested_message_parts_are_addressable() {
        let raw = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: =?utf-8?q?J=C3=B6rg?= <j@h>\r\n\r\ninner body\r\n--x--\r\n";
        let s = Structure::parse(raw);
        let m = find(&s.msg, &[1]).unwrap();
        assert!(matches!(m.kind, Kind::Message(_)));
        assert_eq!(
            &raw[find(&s.msg, &[1, 1]).unwrap().body.clone()],
            b"inner body"
        );
        let text = String::from_utf8(s.bodystructure).unwrap();
        assert!(text.contains("\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 63 (NIL \"inner\" ((\"=?utf-8?b?SsO2cmc=?=\" NIL \"j\" \"h\"))"), "{text}");
    }

    #[test]
    fn plain_and_garbage_messages() {
        let s = Structure::parse(b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(
            String::from_utf8(s.body).unwrap(),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1)"
        );
        assert_eq!(find(&s.msg, &[1]).unwrap().body, 14..20);
        for raw in [&b""[..], b"\0\0\0", b"\r\n\r\n", b"--x--\r\n"] {
            let s = Structure::parse(raw);
            assert!(!s.bodystructure.is_empty());
        }
        assert_eq!(lines(b"a\nb"), 2);
        assert_eq!(lines(b"a\r\n"), 1);
    }

    #[test]
    fn deep_nesting_is_cut_off() {
        let mut raw = Vec::new();
        for i in 0..2000 {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        raw.extend_from_slice(b"\r\nend\r\n");
        let s = Structure::parse(&raw);
        assert!(s.bodystructure.len() < 200_000);
        let mut path = vec![1u32; 40];
        assert!(find(&s.msg, &path).is_none());
        path.truncate(3);
        assert!(find(&s.msg, &path).is_some());
    }
}
