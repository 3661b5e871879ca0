//! The message sent by the SMTP send macro.
//!
//! [`build`] turns a [`MessageSpec`] (addresses, subject, body or a data source, extra headers,
//! attachments) into a [`Message`]: a reader that streams the whole message. Nothing large is
//! held in memory: a data source is read only as far as its header section (at most
//! [`MAX_HEADER_SCAN`] bytes) and attachments are base64-encoded block by block as the reader
//! is drained.
//!
//! Everything generated here ends its lines with CRLF. Bytes taken from a data source keep the
//! line endings they have; CRLF normalisation and dot-stuffing are the job of
//! [`crate::proto::dot::Encoder`].
//!
//! Why not a MIME crate: mail-builder and lettre build every part in memory before writing, so
//! a large attachment or `--data` file would be held whole; this builder streams, which is what
//! a test tool that sends big messages on purpose needs. What it writes is small: a header
//! block, a multipart boundary, base64 bodies (the `base64` crate), RFC 2047 encoded words.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Subject used when none is given.
pub const DEFAULT_SUBJECT: &str = "mailtalk test";
/// Body used when neither a body nor a data source is given.
pub const DEFAULT_BODY: &str = "This is a test message sent with mailtalk.";
/// How much of a data source is read to find its header section. A source whose header
/// section (with the empty line after it) does not end within this many bytes is treated as
/// having no headers at all.
pub const MAX_HEADER_SCAN: usize = 1024 * 1024;

/// Size of one read while scanning a data source's header section.
const SCAN_CHUNK: usize = 8192;
/// Input bytes encoded into one 76-character base64 line.
const B64_LINE_INPUT: usize = 57;
/// Base64 lines encoded per refill of an attachment encoder.
const B64_BLOCK_LINES: usize = 128;
/// Input bytes read per refill of an attachment encoder.
const B64_BLOCK_INPUT: usize = B64_LINE_INPUT * B64_BLOCK_LINES;
/// Output bytes of one full refill: 76 characters and CRLF per line.
const B64_BLOCK_OUTPUT: usize = 78 * B64_BLOCK_LINES;
/// Bytes of UTF-8 text carried by one RFC 2047 encoded-word (60 base64 characters, so the
/// word stays within the 75-character limit).
const ENCODED_WORD_INPUT: usize = 45;

/// Where the message data comes from (`--data`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// `--data @FILE`
    File(PathBuf),
    /// `--data -`
    Stdin,
    /// `--data "literal text"`
    Text(String),
    /// Bytes read beforehand (`--data -` with `--count`: standard input, read once), labelled
    /// as standard input.
    Bytes(std::sync::Arc<[u8]>),
}

/// What the user asked to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageSpec {
    /// Envelope and header From address (bare address). When empty, no From header is added.
    pub from: String,
    /// Header To: all recipients. When empty, no To header is added.
    pub to: Vec<String>,
    /// `--subject`; [`DEFAULT_SUBJECT`] when absent.
    pub subject: Option<String>,
    /// `--body`; only without a data source. [`DEFAULT_BODY`] when absent.
    pub body: Option<String>,
    /// `--data`
    pub data: Option<DataSource>,
    /// `--header "Name: value"`, added as given.
    pub headers: Vec<String>,
    /// `--attach FILE`; only without a data source.
    pub attachments: Vec<PathBuf>,
    /// Right-hand side of the generated Message-ID.
    pub hostname: String,
}

/// A message ready to be streamed into SMTP DATA.
pub struct Message {
    /// The whole message, headers first.
    pub reader: Box<dyn Read + Send>,
    /// The exact number of bytes `reader` produces, when known up front (regular files and
    /// text); `None` when stdin or another non-regular file is involved.
    pub size: Option<u64>,
    /// The generated headers or the generated body contain non-ASCII bytes. Bytes that come
    /// from a data source or an attachment are not inspected.
    pub eight_bit: bool,
    /// Names of the header fields written by mailtalk (generated ones and `--header` ones), in
    /// the order they appear.
    pub added_headers: Vec<String>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("size", &self.size)
            .field("eight_bit", &self.eight_bit)
            .field("added_headers", &self.added_headers)
            .finish_non_exhaustive()
    }
}

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// A file or stdin could not be opened or read; the text names the path.
    #[error("{0}")]
    Io(String),
    /// The request itself is wrong (forbidden bytes, malformed `--header`, bad combination).
    #[error("{0}")]
    Invalid(String),
}

/// Builds the message described by `spec`.
///
/// With a data source, its header section is scanned and only the missing From, To, Subject,
/// Date and Message-ID fields are prepended (with every `--header`); the source follows
/// unchanged. Without one, a complete text/plain message is generated, or multipart/mixed when
/// there are attachments. A From/To/Subject/Date/Message-ID given with `--header` replaces the
/// generated field of that name. Files are opened here and read lazily by the reader.
pub fn build(spec: &MessageSpec) -> Result<Message, MessageError> {
    validate(spec)?;
    match &spec.data {
        Some(source) => {
            if !spec.attachments.is_empty() {
                return Err(MessageError::Invalid(
                    "--attach cannot be combined with --data".to_string(),
                ));
            }
            if spec.body.is_some() {
                return Err(MessageError::Invalid(
                    "--body cannot be combined with --data".to_string(),
                ));
            }
            let (reader, len, label): (Box<dyn Read + Send>, Option<u64>, String) = match source {
                DataSource::File(path) => {
                    let (file, len) = open_file(path)?;
                    let label = path.display().to_string();
                    (Box::new(Labelled::new(file, label.clone())), len, label)
                }
                DataSource::Stdin => (
                    Box::new(Labelled::new(io::stdin(), "stdin".to_string())),
                    None,
                    "stdin".to_string(),
                ),
                DataSource::Text(text) => {
                    let bytes = text.clone().into_bytes();
                    let len = u64::try_from(bytes.len()).ok();
                    (Box::new(Cursor::new(bytes)), len, "--data".to_string())
                }
                DataSource::Bytes(bytes) => {
                    let len = u64::try_from(bytes.len()).ok();
                    (
                        Box::new(Cursor::new(bytes.clone())),
                        len,
                        "stdin".to_string(),
                    )
                }
            };
            from_source(spec, reader, len, &label)
        }
        None => generate(spec),
    }
}

/// This machine's name for EHLO/LHLO, generated Message-IDs and the default sender: the host
/// name when it is a domain name with a dot, otherwise `localhost`.
pub fn local_hostname() -> String {
    gethostname::gethostname()
        .into_string()
        .ok()
        .filter(|s| {
            s.contains('.')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// `t` as an RFC 5322 date in the time zone `tz`, e.g. `Sat, 28 Nov 2026 18:21:53 +0100`.
pub fn rfc5322_date(t: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let zoned = t.to_zoned_datetime(tz.clone());
    jiff::fmt::rfc2822::to_string(&zoned)
        .unwrap_or_else(|_| zoned.strftime("%a, %d %b %Y %H:%M:%S %z").to_string())
}

/// The Date header of a message made now: local time with its offset from UTC.
pub fn date_now() -> String {
    rfc5322_date(jiff::Timestamp::now(), &local_zone())
}

/// This machine's time zone. Without `TZ` it is read straight from `/etc/localtime`: finding
/// its name (what the generic lookup does) walks the whole time zone database, which costs a
/// one-shot send more than everything else before connecting.
fn local_zone() -> jiff::tz::TimeZone {
    if std::env::var_os("TZ").is_none() {
        if let Ok(data) = std::fs::read("/etc/localtime") {
            if let Ok(tz) = jiff::tz::TimeZone::tzif("localtime", &data) {
                return tz;
            }
        }
    }
    jiff::tz::TimeZone::system()
}

/// A new Message-ID: `<YYYYMMDDhhmmss.RANDOM@hostname>` with 16 random hex digits (UTC time).
/// An empty `hostname` becomes `localhost`.
pub fn message_id(hostname: &str) -> String {
    let host = if hostname.is_empty() {
        "localhost"
    } else {
        hostname
    };
    format!(
        "<{}.{}@{}>",
        jiff::Timestamp::now().strftime("%Y%m%d%H%M%S"),
        random_hex(8),
        host
    )
}

// ---------------------------------------------------------------------------------------------
// Validation

fn validate(spec: &MessageSpec) -> Result<(), MessageError> {
    check_value("from address", &spec.from)?;
    for to in &spec.to {
        check_value("to address", to)?;
    }
    if let Some(subject) = &spec.subject {
        check_value("subject", subject)?;
    }
    check_value("hostname", &spec.hostname)?;
    for header in &spec.headers {
        header_name(header)?;
    }
    Ok(())
}

/// Rejects CR, LF and NUL in a value that goes into a header (security.md item 14).
fn check_value(what: &str, value: &str) -> Result<(), MessageError> {
    let bad = if value.contains('\r') {
        Some("CR")
    } else if value.contains('\n') {
        Some("LF")
    } else if value.contains('\0') {
        Some("NUL")
    } else {
        None
    };
    match bad {
        Some(byte) => Err(MessageError::Invalid(format!(
            "{what} contains a {byte} byte: {value:?}"
        ))),
        None => Ok(()),
    }
}

/// Validates a `--header` argument (`Name: value`) and returns its name.
fn header_name(header: &str) -> Result<&str, MessageError> {
    check_value("--header", header)?;
    let name = header.split_once(':').map(|(name, _)| name).unwrap_or("");
    if name.is_empty() || !name.bytes().all(is_field_name_byte) {
        return Err(MessageError::Invalid(format!(
            "--header must look like \"Name: value\": {header:?}"
        )));
    }
    Ok(name)
}

/// A byte allowed in a header field name (RFC 5322 ftext: printable ASCII except `:`).
fn is_field_name_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b':'
}

// ---------------------------------------------------------------------------------------------
// Headers

/// The headers mailtalk writes, with the names for [`Message::added_headers`].
#[derive(Default)]
struct HeaderBlock {
    bytes: Vec<u8>,
    names: Vec<String>,
}

impl HeaderBlock {
    fn push(&mut self, name: &str, value: &str) {
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(b": ");
        self.bytes.extend_from_slice(value.as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
        self.names.push(name.to_string());
    }

    fn push_raw(&mut self, name: &str, line: &str) {
        self.bytes.extend_from_slice(line.as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
        self.names.push(name.to_string());
    }
}

/// Writes the missing ones of From, To, Subject, Date and Message-ID, then every `--header`.
/// `present` holds the lower-case names the message already has; a `--header` of one of those
/// five names counts as present too.
fn standard_headers(spec: &MessageSpec, present: &[String]) -> HeaderBlock {
    let user: Vec<String> = spec
        .headers
        .iter()
        .filter_map(|h| header_name(h).ok())
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let has = |name: &str| present.iter().chain(user.iter()).any(|p| p == name);
    let mut block = HeaderBlock::default();
    if !has("from") && !spec.from.is_empty() {
        block.push("From", &spec.from);
    }
    if !has("to") && !spec.to.is_empty() {
        block.push("To", &spec.to.join(", "));
    }
    if !has("subject") {
        let subject = spec.subject.as_deref().unwrap_or(DEFAULT_SUBJECT);
        block.push("Subject", &encode_header_text(subject));
    }
    if !has("date") {
        block.push("Date", &date_now());
    }
    if !has("message-id") {
        block.push("Message-ID", &message_id(&spec.hostname));
    }
    for header in &spec.headers {
        if let Ok(name) = header_name(header) {
            block.push_raw(name, header);
        }
    }
    block
}

/// ASCII text as it is; anything else as RFC 2047 `B` encoded-words of at most 75 characters,
/// split on character boundaries and folded onto continuation lines.
fn encode_header_text(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for ch in text.chars() {
        if chunk.len().saturating_add(ch.len_utf8()) > ENCODED_WORD_INPUT {
            words.push(encoded_word(&chunk));
            chunk.clear();
        }
        chunk.push(ch);
    }
    if !chunk.is_empty() {
        words.push(encoded_word(&chunk));
    }
    words.join("\r\n ")
}

fn encoded_word(text: &str) -> String {
    let mut b64 = Vec::new();
    encode_base64(text.as_bytes(), &mut b64);
    format!("=?UTF-8?B?{}?=", String::from_utf8_lossy(&b64))
}

// ---------------------------------------------------------------------------------------------
// Messages with a data source

/// Builds a message from a data source: scans its header section, prepends what is missing
/// and chains the scanned bytes back in front of the rest of the source.
fn from_source(
    spec: &MessageSpec,
    mut source: Box<dyn Read + Send>,
    source_len: Option<u64>,
    label: &str,
) -> Result<Message, MessageError> {
    let (scanned, header_end) =
        scan_header_section(&mut source).map_err(|e| MessageError::Io(format!("{label}: {e}")))?;
    let present = header_end
        .and_then(|end| scanned.get(..end))
        .and_then(header_names);
    let mut block = match &present {
        Some(names) => standard_headers(spec, names),
        None => standard_headers(spec, &[]),
    };
    if present.is_none() {
        block.bytes.extend_from_slice(b"\r\n");
    }
    let eight_bit = !block.bytes.is_ascii();
    let size = source_len.and_then(|n| u64::try_from(block.bytes.len()).ok()?.checked_add(n));
    let mut parts: VecDeque<Box<dyn Read + Send>> = VecDeque::new();
    parts.push_back(Box::new(Cursor::new(block.bytes)));
    parts.push_back(Box::new(Cursor::new(scanned)));
    parts.push_back(source);
    Ok(Message {
        reader: Box::new(Concat { parts }),
        size,
        eight_bit,
        added_headers: block.names,
    })
}

/// Reads `source` until the first empty line, end of input or [`MAX_HEADER_SCAN`] bytes.
/// Returns the bytes read and, when an empty line was found, the offset just past it.
fn scan_header_section(source: &mut dyn Read) -> io::Result<(Vec<u8>, Option<usize>)> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; SCAN_CHUNK];
    while buf.len() < MAX_HEADER_SCAN {
        let want = MAX_HEADER_SCAN.saturating_sub(buf.len()).min(SCAN_CHUNK);
        let Some(slot) = chunk.get_mut(..want) else {
            break;
        };
        let n = match source.read(slot) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from = buf.len().saturating_sub(2);
        buf.extend_from_slice(slot.get(..n).unwrap_or_default());
        if let Some(end) = find_empty_line(&buf, from) {
            return Ok((buf, Some(end)));
        }
    }
    Ok((buf, None))
}

/// The offset just past the first empty line (LF or CRLF) in `buf`, searching line ends from
/// `from` on.
fn find_empty_line(buf: &[u8], from: usize) -> Option<usize> {
    if from == 0 {
        if buf.starts_with(b"\n") {
            return Some(1);
        }
        if buf.starts_with(b"\r\n") {
            return Some(2);
        }
    }
    let tail = buf.get(from..)?;
    tail.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        let rest = tail.get(i.saturating_add(1)..)?;
        let skip = if rest.starts_with(b"\n") {
            2
        } else if rest.starts_with(b"\r\n") {
            3
        } else {
            return None;
        };
        from.checked_add(i)?.checked_add(skip)
    })
}

/// The lower-case field names of a header section (which includes its final empty line), or
/// `None` when a line is neither a field (`name:`) nor a continuation of one.
fn header_names(section: &[u8]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for raw in section.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if names.is_empty() {
                return None;
            }
            continue;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = line.get(..colon)?.trim_ascii_end();
        if name.is_empty() || !name.iter().all(|&b| is_field_name_byte(b)) {
            return None;
        }
        names.push(String::from_utf8_lossy(name).to_ascii_lowercase());
    }
    Some(names)
}

// ---------------------------------------------------------------------------------------------
// Generated messages

fn generate(spec: &MessageSpec) -> Result<Message, MessageError> {
    let body = crlf_lines(spec.body.as_deref().unwrap_or(DEFAULT_BODY));
    let encoding = if body.is_ascii() { "7bit" } else { "8bit" };
    let mut block = standard_headers(spec, &[]);
    block.push("MIME-Version", "1.0");
    let mut eight_bit = !body.is_ascii();

    if spec.attachments.is_empty() {
        block.push("Content-Type", "text/plain; charset=utf-8");
        block.push("Content-Transfer-Encoding", encoding);
        eight_bit |= !block.bytes.is_ascii();
        block.bytes.extend_from_slice(b"\r\n");
        block.bytes.extend_from_slice(&body);
        let size = u64::try_from(block.bytes.len()).ok();
        return Ok(Message {
            reader: Box::new(Cursor::new(block.bytes)),
            size,
            eight_bit,
            added_headers: block.names,
        });
    }

    let files = spec
        .attachments
        .iter()
        .map(|path| open_file(path).map(|(file, len)| (path, file, len)))
        .collect::<Result<Vec<_>, _>>()?;
    let boundary = new_boundary(&body);
    block.push(
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    eight_bit |= !block.bytes.is_ascii();
    let mut head = block.bytes;
    head.extend_from_slice(b"\r\nThis is a multi-part message in MIME format.\r\n");
    head.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    head.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    head.extend_from_slice(format!("Content-Transfer-Encoding: {encoding}\r\n\r\n").as_bytes());
    if body.is_empty() {
        head.extend_from_slice(b"\r\n");
    } else {
        head.extend_from_slice(&body);
    }

    let mut size = u64::try_from(head.len()).ok();
    let mut parts: VecDeque<Box<dyn Read + Send>> = VecDeque::new();
    parts.push_back(Box::new(Cursor::new(head)));
    for (path, file, len) in files {
        let part_head = attachment_head(path, &boundary).into_bytes();
        size = add(size, u64::try_from(part_head.len()).ok());
        size = add(size, len.and_then(base64_size));
        parts.push_back(Box::new(Cursor::new(part_head)));
        let label = path.display().to_string();
        parts.push_back(Box::new(Base64Reader::new(file, label)));
    }
    let tail = format!("--{boundary}--\r\n").into_bytes();
    size = add(size, u64::try_from(tail.len()).ok());
    parts.push_back(Box::new(Cursor::new(tail)));
    Ok(Message {
        reader: Box::new(Concat { parts }),
        size,
        eight_bit,
        added_headers: block.names,
    })
}

fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    a?.checked_add(b?)
}

/// `text` with every line ending (CRLF, LF or a lone CR) made CRLF, and a CRLF after the last
/// line when it has none. Empty text stays empty.
fn crlf_lines(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len().saturating_add(2));
    let mut lines = crate::proto::dot::Encoder::new(crate::proto::dot::Stuffing::None);
    lines.push(text.as_bytes(), &mut out);
    lines.end_lines(&mut out);
    out
}

/// A random multipart boundary that does not occur in `body`. `=_` cannot occur in base64.
fn new_boundary(body: &[u8]) -> String {
    let mut boundary = String::new();
    for _ in 0..16 {
        boundary = format!("=_mailtalk_{}", random_hex(12));
        if !body
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
        {
            break;
        }
    }
    boundary
}

/// The delimiter line and part headers of one attachment, up to and including the empty line.
fn attachment_head(path: &Path, boundary: &str) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".to_string());
    let content_type = content_type(path);
    let (type_param, disposition) = if name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        let quoted = quote(&name);
        (
            format!("; name={quoted}"),
            format!("attachment; filename={quoted}"),
        )
    } else {
        (
            String::new(),
            format!("attachment; filename*=UTF-8''{}", rfc2231_encode(&name)),
        )
    };
    format!(
        "--{boundary}\r\nContent-Type: {content_type}{type_param}\r\n\
         Content-Disposition: {disposition}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    )
}

/// A MIME type guessed from the file name's extension.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "json" => "application/json",
        "xml" => "application/xml",
        // message/rfc822 parts may not be base64-encoded (RFC 2046 §5.2.1): sent as opaque data.
        _ => "application/octet-stream",
    }
}

/// A MIME quoted-string: `"` and `\` are escaped.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// RFC 2231 extended value: every byte that is not an attribute-char becomes `%XX`.
fn rfc2231_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_mul(3));
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Files and readers

/// Opens a file for reading; the length is known for regular files only.
fn open_file(path: &Path) -> Result<(File, Option<u64>), MessageError> {
    let err = |e: io::Error| MessageError::Io(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if meta.is_dir() {
        return Err(MessageError::Io(format!(
            "{}: is a directory",
            path.display()
        )));
    }
    let len = meta.is_file().then_some(meta.len());
    Ok((file, len))
}

/// Reads its parts one after the other.
struct Concat {
    parts: VecDeque<Box<dyn Read + Send>>,
}

impl Read for Concat {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while let Some(part) = self.parts.front_mut() {
            let n = part.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.parts.pop_front();
        }
        Ok(0)
    }
}

/// A reader whose errors name where the data comes from.
struct Labelled<R> {
    inner: R,
    label: String,
}

impl<R> Labelled<R> {
    fn new(inner: R, label: String) -> Self {
        Labelled { inner, label }
    }
}

impl<R: Read> Read for Labelled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| label_error(&self.label, e))
    }
}

fn label_error(label: &str, e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::Interrupted {
        return e;
    }
    io::Error::new(e.kind(), format!("{label}: {e}"))
}

/// The number of bytes [`Base64Reader`] produces for `n` input bytes: 76-character lines each
/// ending CRLF, and a lone CRLF for empty input.
fn base64_size(n: u64) -> Option<u64> {
    let line = u64::try_from(B64_LINE_INPUT).ok()?;
    let full = n.checked_div(line)?;
    let rem = n.checked_rem(line)?;
    let last = if rem > 0 {
        rem.checked_add(2)?
            .checked_div(3)?
            .checked_mul(4)?
            .checked_add(2)?
    } else if n == 0 {
        2
    } else {
        0
    };
    full.checked_mul(78)?.checked_add(last)
}

/// Streams `inner` as base64 in 76-character CRLF-terminated lines, a block of lines at a
/// time. Memory use is fixed (one input block and its encoding).
struct Base64Reader<R> {
    inner: R,
    label: String,
    input: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
    produced: bool,
}

impl<R: Read> Base64Reader<R> {
    fn new(inner: R, label: String) -> Self {
        Base64Reader {
            inner,
            label,
            input: vec![0; B64_BLOCK_INPUT],
            out: Vec::with_capacity(B64_BLOCK_OUTPUT),
            pos: 0,
            done: false,
            produced: false,
        }
    }

    /// Reads a full input block (less only at end of input) and encodes it into `out`.
    fn refill(&mut self) -> io::Result<()> {
        let mut filled = 0usize;
        while let Some(slot) = self.input.get_mut(filled..) {
            if slot.is_empty() {
                break;
            }
            match self.inner.read(slot) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(label_error(&self.label, e)),
            }
        }
        self.out.clear();
        self.pos = 0;
        let data = self.input.get(..filled).unwrap_or_default();
        for line in data.chunks(B64_LINE_INPUT) {
            encode_base64(line, &mut self.out);
            self.out.extend_from_slice(b"\r\n");
        }
        if self.done && !self.produced && filled == 0 {
            self.out.extend_from_slice(b"\r\n");
        }
        self.produced |= !self.out.is_empty();
        Ok(())
    }
}

impl<R: Read> Read for Base64Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut pending = self.out.get(self.pos..).unwrap_or_default();
            if !pending.is_empty() {
                let n = pending.read(buf)?;
                self.pos = self.pos.saturating_add(n);
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
    }
}

/// Appends the standard base64 encoding (with padding) of `input` to `out`, without an
/// allocation of its own.
fn encode_base64(input: &[u8], out: &mut Vec<u8>) {
    use base64::Engine as _;
    let start = out.len();
    let len = base64::encoded_len(input.len(), true).unwrap_or(0);
    out.resize(start.saturating_add(len), 0);
    let written = out.get_mut(start..).map_or(0, |slot| {
        base64::engine::general_purpose::STANDARD
            .encode_slice(input, slot)
            .unwrap_or(0)
    });
    out.truncate(start.saturating_add(written));
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// `n` random bytes as lower-case hex. Falls back to the clock if the random source fails.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // The kernel's generator: nothing to initialise (the TLS library's would load its
    // configuration first, a cost every one-shot send would pay).
    let filled = rustix::rand::getrandom(&mut bytes[..], rustix::rand::GetRandomFlags::empty())
        .is_ok_and(|got| got == n);
    if !filled {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (slot, b) in bytes.iter_mut().zip(nanos.to_le_bytes().iter().cycle()) {
            *slot = *b;
        }
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use std::io::Write;

    fn spec() -> MessageSpec {
        MessageSpec {
            from: "alice@example.org".to_string(),
            to: vec![
                "bob@example.net".to_string(),
                "carol@example.com".to_string(),
            ],
            hostname: "client.example".to_string(),
            ..MessageSpec::default()
        }
    }

    /// Reads the whole message and checks that the size announced up front is exact.
    fn read_all(msg: Message) -> Vec<u8> {
        let Message {
            mut reader, size, ..
        } = msg;
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        if let Some(size) = size {
            assert_eq!(
                size,
                out.len() as u64,
                "announced size differs from bytes read"
            );
        }
        out
    }

    fn data_file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f.flush().unwrap();
        f
    }

    fn with_file(path: &Path) -> MessageSpec {
        MessageSpec {
            data: Some(DataSource::File(path.to_path_buf())),
            ..spec()
        }
    }

    /// Splits `prefix` (CRLF lines, each ending CRLF) into lines.
    fn lines(prefix: &[u8]) -> Vec<String> {
        let text = std::str::from_utf8(prefix).unwrap();
        assert!(text.ends_with("\r\n"), "{text:?}");
        text.strip_suffix("\r\n")
            .unwrap()
            .split("\r\n")
            .map(str::to_string)
            .collect()
    }

    /// Every LF is preceded by CR and every CR is followed by LF.
    fn assert_crlf_only(bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(bytes.get(i.wrapping_sub(1)), Some(&b'\r'), "bare LF at {i}");
            }
            if b == b'\r' {
                assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at {i}");
            }
        }
    }

    fn value<'a>(header_lines: &'a [String], name: &str) -> &'a str {
        let prefix = format!("{name}: ");
        let found: Vec<&String> = header_lines
            .iter()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert_eq!(found.len(), 1, "{name} in {header_lines:?}");
        &found[0][prefix.len()..]
    }

    fn assert_date_shape(date: &str) {
        let parts: Vec<&str> = date.split(' ').collect();
        assert_eq!(parts.len(), 6, "{date}");
        assert!(
            ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"].contains(&parts[0]),
            "{date}"
        );
        assert!((1..=2).contains(&parts[1].len()) && parts[1].bytes().all(|b| b.is_ascii_digit()));
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        assert!(months.contains(&parts[2]), "{date}");
        assert!(parts[3].len() == 4 && parts[3].bytes().all(|b| b.is_ascii_digit()));
        let time: Vec<&str> = parts[4].split(':').collect();
        assert_eq!(time.len(), 3, "{date}");
        for t in time {
            assert!(
                t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()),
                "{date}"
            );
        }
        let zone = parts[5].as_bytes();
        assert!(
            zone.len() == 5
                && matches!(zone[0], b'+' | b'-')
                && zone[1..].iter().all(u8::is_ascii_digit),
            "{date}"
        );
    }

    fn assert_message_id_shape(id: &str, host: &str) {
        let inner = id.strip_prefix('<').unwrap().strip_suffix('>').unwrap();
        let (left, right) = inner.split_once('@').unwrap();
        assert_eq!(right, host);
        let (stamp, random) = left.split_once('.').unwrap();
        assert_eq!(stamp.len(), 14, "{id}");
        assert!(stamp.bytes().all(|b| b.is_ascii_digit()), "{id}");
        assert_eq!(random.len(), 16, "{id}");
        assert!(random
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    fn split_at_blank(msg: &[u8]) -> (Vec<String>, Vec<u8>) {
        let pos = msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (lines(&msg[..pos + 2]), msg[pos + 4..].to_vec())
    }

    #[test]
    fn generated_message_without_data() {
        let msg = build(&spec()).unwrap();
        assert!(!msg.eight_bit);
        assert_eq!(
            msg.added_headers,
            [
                "From",
                "To",
                "Subject",
                "Date",
                "Message-ID",
                "MIME-Version",
                "Content-Type",
                "Content-Transfer-Encoding"
            ]
        );
        let bytes = read_all(msg);
        assert_crlf_only(&bytes);
        let (headers, body) = split_at_blank(&bytes);
        assert_eq!(headers.len(), 8, "{headers:?}");
        assert_eq!(value(&headers, "From"), "alice@example.org");
        assert_eq!(value(&headers, "To"), "bob@example.net, carol@example.com");
        assert_eq!(value(&headers, "Subject"), "mailtalk test");
        assert_date_shape(value(&headers, "Date"));
        assert_message_id_shape(value(&headers, "Message-ID"), "client.example");
        assert_eq!(value(&headers, "MIME-Version"), "1.0");
        assert_eq!(value(&headers, "Content-Type"), "text/plain; charset=utf-8");
        assert_eq!(value(&headers, "Content-Transfer-Encoding"), "7bit");
        assert_eq!(body, b"This is a test message sent with mailtalk.\r\n");
    }

    #[test]
    fn generated_body_is_crlf_and_8bit_when_not_ascii() {
        let msg = build(&MessageSpec {
            body: Some("Grüße\nline two\r\nthree\rfour".to_string()),
            ..spec()
        })
        .unwrap();
        assert!(msg.eight_bit);
        let bytes = read_all(msg);
        assert_crlf_only(&bytes);
        let (headers, body) = split_at_blank(&bytes);
        assert_eq!(value(&headers, "Content-Transfer-Encoding"), "8bit");
        assert_eq!(body, "Grüße\r\nline two\r\nthree\r\nfour\r\n".as_bytes());
    }

    #[test]
    fn crlf_lines_cases() {
        assert_eq!(crlf_lines(""), b"");
        assert_eq!(crlf_lines("a"), b"a\r\n");
        assert_eq!(crlf_lines("a\n"), b"a\r\n");
        assert_eq!(crlf_lines("a\r"), b"a\r\n");
        assert_eq!(crlf_lines("a\r\n\r\nb"), b"a\r\n\r\nb\r\n");
        assert_eq!(crlf_lines("\n\n"), b"\r\n\r\n");
    }

    #[test]
    fn empty_from_and_to_add_no_such_headers() {
        let msg = build(&MessageSpec {
            from: String::new(),
            to: Vec::new(),
            ..spec()
        })
        .unwrap();
        assert!(!msg.added_headers.iter().any(|h| h == "From" || h == "To"));
        let bytes = read_all(msg);
        assert!(bytes.starts_with(b"Subject: mailtalk test\r\nDate: "));
    }

    #[test]
    fn data_file_with_all_headers_passes_through_exactly() {
        let content = b"From: x@example.org\r\nTo: y@example.org\r\nsubject: hello\r\n\
            DATE: Thu, 01 Jan 1970 00:00:00 +0000\r\nMessage-Id: <1@x>\r\n\r\n\
            body line\r\n.dot line\r\n"
            .to_vec();
        let file = data_file(&content);
        let msg = build(&with_file(file.path())).unwrap();
        assert!(msg.added_headers.is_empty());
        assert_eq!(msg.size, Some(content.len() as u64));
        assert!(!msg.eight_bit);
        assert_eq!(read_all(msg), content);
    }

    #[test]
    fn data_file_with_some_headers_gets_only_the_missing_ones() {
        let content = b"Subject: hi\r\nFrom: x@example.org\r\n  (folded comment)\r\n\
            X-Other: to: not a To header\r\n\r\nTo: in the body\r\n"
            .to_vec();
        let file = data_file(&content);
        let msg = build(&with_file(file.path())).unwrap();
        assert_eq!(msg.added_headers, ["To", "Date", "Message-ID"]);
        let bytes = read_all(msg);
        assert!(bytes.ends_with(&content));
        let prefix = lines(&bytes[..bytes.len() - content.len()]);
        assert_eq!(prefix.len(), 3, "{prefix:?}");
        assert_eq!(prefix[0], "To: bob@example.net, carol@example.com");
        assert_date_shape(prefix[1].strip_prefix("Date: ").unwrap());
        assert_message_id_shape(
            prefix[2].strip_prefix("Message-ID: ").unwrap(),
            "client.example",
        );
    }

    #[test]
    fn data_without_header_section_gets_headers_and_empty_line() {
        for content in [
            &b"just a line\nand another\n"[..],
            // A first line that is not a header field: not a header section either.
            &b"Hello world\n\nbody\n"[..],
            // A continuation line first.
            &b" folded: x\n\nbody\n"[..],
            &b""[..],
        ] {
            let file = data_file(content);
            let msg = build(&with_file(file.path())).unwrap();
            assert_eq!(
                msg.added_headers,
                ["From", "To", "Subject", "Date", "Message-ID"]
            );
            let bytes = read_all(msg);
            assert!(bytes.ends_with(content));
            let head = &bytes[..bytes.len() - content.len()];
            assert!(head.ends_with(b"\r\n\r\n"), "{head:?}");
            let (headers, rest) = split_at_blank(head);
            assert!(rest.is_empty());
            assert_eq!(headers.len(), 5);
            assert_eq!(value(&headers, "Subject"), "mailtalk test");
        }
    }

    #[test]
    fn data_starting_with_empty_line_has_an_empty_header_section() {
        let content = b"\r\nbody only\r\n";
        let file = data_file(content);
        let bytes = read_all(build(&with_file(file.path())).unwrap());
        assert!(bytes.ends_with(b"@client.example>\r\n\r\nbody only\r\n"));
        let (headers, body) = split_at_blank(&bytes);
        assert_eq!(headers.len(), 5);
        assert_eq!(body, b"body only\r\n");
    }

    #[test]
    fn lf_only_file_is_scanned_and_kept_intact() {
        let content = b"From: x@example.org\nSubject: lf\n\tstill subject\n\nbody\nTo: no\n";
        let file = data_file(content);
        let msg = build(&with_file(file.path())).unwrap();
        assert_eq!(msg.added_headers, ["To", "Date", "Message-ID"]);
        let bytes = read_all(msg);
        assert!(bytes.ends_with(content));
        assert!(bytes.starts_with(b"To: bob@example.net, carol@example.com\r\nDate: "));
    }

    #[test]
    fn header_section_larger_than_the_scan_limit_is_treated_as_body() {
        let mut content = b"X-Big: ".to_vec();
        content.resize(MAX_HEADER_SCAN + 100, b'a');
        content.extend_from_slice(b"\r\nSubject: late\r\n\r\nbody\r\n");
        let file = data_file(&content);
        let msg = build(&with_file(file.path())).unwrap();
        assert_eq!(
            msg.added_headers,
            ["From", "To", "Subject", "Date", "Message-ID"]
        );
        let bytes = read_all(msg);
        assert!(bytes.ends_with(&content));
        let head = &bytes[..bytes.len() - content.len()];
        let (headers, rest) = split_at_blank(head);
        assert!(rest.is_empty());
        assert_eq!(value(&headers, "Subject"), "mailtalk test");
    }

    #[test]
    fn header_section_just_within_the_scan_limit_is_found() {
        let mut content = b"Subject: s\r\nX-Big: ".to_vec();
        content.resize(MAX_HEADER_SCAN - 4, b'a');
        content.extend_from_slice(b"\r\n\r\n");
        assert_eq!(content.len(), MAX_HEADER_SCAN);
        content.extend_from_slice(b"body\r\n");
        let file = data_file(&content);
        let msg = build(&with_file(file.path())).unwrap();
        assert_eq!(msg.added_headers, ["From", "To", "Date", "Message-ID"]);
        let bytes = read_all(msg);
        assert!(bytes.ends_with(&content));
    }

    #[test]
    fn find_empty_line_across_chunks() {
        assert_eq!(find_empty_line(b"\n", 0), Some(1));
        assert_eq!(find_empty_line(b"\r\nx", 0), Some(2));
        assert_eq!(find_empty_line(b"a: b\n\nc", 0), Some(6));
        assert_eq!(find_empty_line(b"a: b\r\n\r\nc", 0), Some(8));
        assert_eq!(find_empty_line(b"a: b\r\nc: d\r\n", 0), None);
        assert_eq!(find_empty_line(b"a: b\r\n\r\n", 4), Some(8));
        // A reader that returns one byte at a time still finds the separator.
        struct Dribble(Cursor<Vec<u8>>);
        impl Read for Dribble {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(1);
                self.0.read(&mut buf[..n])
            }
        }
        let mut src = Dribble(Cursor::new(b"A: 1\r\n\r\nrest".to_vec()));
        let (buf, end) = scan_header_section(&mut src).unwrap();
        assert_eq!(buf, b"A: 1\r\n\r\n");
        assert_eq!(end, Some(8));
    }

    #[test]
    fn text_data_source() {
        let msg = build(&MessageSpec {
            data: Some(DataSource::Text("Subject: t\n\nhello".to_string())),
            ..spec()
        })
        .unwrap();
        assert_eq!(msg.added_headers, ["From", "To", "Date", "Message-ID"]);
        let bytes = read_all(msg);
        assert!(bytes.starts_with(b"From: alice@example.org\r\nTo: "));
        assert!(bytes.ends_with(b"@client.example>\r\nSubject: t\n\nhello"));
    }

    #[test]
    fn bytes_read_beforehand_make_a_new_message_each_time() {
        let spec = MessageSpec {
            data: Some(DataSource::Bytes(
                b"Subject: t\n\n\xffhello".to_vec().into(),
            )),
            ..spec()
        };
        let id = |m: &[u8]| {
            let text = String::from_utf8_lossy(m).into_owned();
            let start = text.find("\r\nMessage-ID: ").unwrap();
            let end = text[start + 2..].find("\r\n").unwrap();
            text[start + 2..start + 2 + end].to_string()
        };
        let mut ids = Vec::new();
        for _ in 0..2 {
            let msg = build(&spec).unwrap();
            let size = msg.size;
            let bytes = read_all(msg);
            assert_eq!(size, Some(bytes.len() as u64));
            assert!(bytes.ends_with(b"Subject: t\n\n\xffhello"), "{bytes:?}");
            ids.push(id(&bytes));
        }
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn unknown_length_source_has_no_size() {
        let src: Box<dyn Read + Send> = Box::new(Cursor::new(b"Subject: x\n\nbody\n".to_vec()));
        let msg = from_source(&spec(), src, None, "stdin").unwrap();
        assert_eq!(msg.size, None);
        let bytes = read_all(msg);
        assert!(bytes.ends_with(b"Subject: x\n\nbody\n"));
    }

    #[test]
    fn non_ascii_subject_is_encoded() {
        let msg = build(&MessageSpec {
            subject: Some("Grüße aus Köln".to_string()),
            ..spec()
        })
        .unwrap();
        assert!(!msg.eight_bit);
        let bytes = read_all(msg);
        let (headers, _) = split_at_blank(&bytes);
        assert_eq!(
            value(&headers, "Subject"),
            "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?="
        );
        assert_eq!(encode_header_text("plain ascii"), "plain ascii");
    }

    #[test]
    fn long_non_ascii_subject_is_split_into_short_words() {
        let subject = "é".repeat(40) + "€ and more text";
        let encoded = encode_header_text(&subject);
        let mut decoded = Vec::new();
        for word in encoded.split("\r\n ") {
            assert!(word.len() <= 75, "{word}");
            let b64 = word
                .strip_prefix("=?UTF-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            let part = STANDARD.decode(b64).unwrap();
            assert!(
                std::str::from_utf8(&part).is_ok(),
                "split inside a character"
            );
            decoded.extend(part);
        }
        assert_eq!(decoded, subject.as_bytes());
        assert!(encoded.contains("\r\n "));
    }

    #[test]
    fn user_headers_are_added_and_replace_generated_ones() {
        let msg = build(&MessageSpec {
            headers: vec!["X-Test: 1".to_string(), "subject: mine".to_string()],
            ..spec()
        })
        .unwrap();
        assert_eq!(
            msg.added_headers,
            [
                "From",
                "To",
                "Date",
                "Message-ID",
                "X-Test",
                "subject",
                "MIME-Version",
                "Content-Type",
                "Content-Transfer-Encoding"
            ]
        );
        let bytes = read_all(msg);
        let (headers, _) = split_at_blank(&bytes);
        assert_eq!(value(&headers, "X-Test"), "1");
        assert_eq!(value(&headers, "subject"), "mine");
        assert!(!headers.iter().any(|h| h.starts_with("Subject:")));

        let file = data_file(b"From: a@b\r\nTo: c@d\r\n\r\nbody\r\n");
        let msg = build(&MessageSpec {
            headers: vec!["X-Test: 2".to_string(), "Message-ID: <given@x>".to_string()],
            ..with_file(file.path())
        })
        .unwrap();
        assert_eq!(
            msg.added_headers,
            ["Subject", "Date", "X-Test", "Message-ID"]
        );
        let bytes = read_all(msg);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("Subject: mailtalk test\r\nDate: "));
        assert!(text.ends_with(
            " +0000\r\nX-Test: 2\r\nMessage-ID: <given@x>\r\nFrom: a@b\r\nTo: c@d\r\n\r\nbody\r\n"
        ));
    }

    #[test]
    fn forbidden_bytes_and_bad_headers_are_rejected() {
        let cases = [
            MessageSpec {
                headers: vec!["X-Test: 1\rBcc: evil@example.org".to_string()],
                ..spec()
            },
            MessageSpec {
                from: "a@b\r\nBcc: evil@example.org".to_string(),
                ..spec()
            },
            MessageSpec {
                to: vec!["ok@example.org".to_string(), "x@y\0".to_string()],
                ..spec()
            },
            MessageSpec {
                subject: Some("hi\nBcc: evil@example.org".to_string()),
                ..spec()
            },
            MessageSpec {
                hostname: "h\r".to_string(),
                ..spec()
            },
            MessageSpec {
                headers: vec!["NoColon".to_string()],
                ..spec()
            },
            MessageSpec {
                headers: vec![" X-Folded: 1".to_string()],
                ..spec()
            },
            MessageSpec {
                headers: vec![": empty name".to_string()],
                ..spec()
            },
        ];
        for case in cases {
            match build(&case) {
                Err(MessageError::Invalid(_)) => {}
                other => panic!("{case:?}: {:?}", other.map(|m| m.added_headers)),
            }
        }
        let err = build(&MessageSpec {
            headers: vec!["X-Test: a\rb".to_string()],
            ..spec()
        })
        .unwrap_err();
        assert!(err.to_string().contains("CR"), "{err}");
    }

    #[test]
    fn attach_and_body_cannot_be_combined_with_data() {
        let err = build(&MessageSpec {
            data: Some(DataSource::Text("x".to_string())),
            attachments: vec![PathBuf::from("/nonexistent")],
            ..spec()
        })
        .unwrap_err();
        assert!(
            matches!(&err, MessageError::Invalid(m) if m == "--attach cannot be combined with --data")
        );
        let err = build(&MessageSpec {
            data: Some(DataSource::Text("x".to_string())),
            body: Some("b".to_string()),
            ..spec()
        })
        .unwrap_err();
        assert!(matches!(err, MessageError::Invalid(_)));
    }

    #[test]
    fn missing_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.eml");
        for case in [
            with_file(&missing),
            MessageSpec {
                attachments: vec![missing.clone()],
                ..spec()
            },
        ] {
            match build(&case) {
                Err(MessageError::Io(m)) => {
                    assert!(m.contains(&missing.display().to_string()), "{m}")
                }
                other => panic!("{:?}", other.map(|m| m.added_headers)),
            }
        }
        match build(&with_file(dir.path())) {
            Err(MessageError::Io(m)) => assert!(m.ends_with("is a directory"), "{m}"),
            other => panic!("{:?}", other.map(|m| m.added_headers)),
        }
    }

    /// Header lines and content of one MIME part.
    type Part = (Vec<String>, Vec<u8>);

    /// Parses a multipart/mixed message built here: returns the top headers and the parts as
    /// (header lines, content without the CRLF that belongs to the next delimiter).
    fn parse_multipart(bytes: &[u8]) -> (Vec<String>, Vec<Part>) {
        let (headers, body) = split_at_blank(bytes);
        let ct = value(&headers, "Content-Type");
        let boundary = ct
            .strip_prefix("multipart/mixed; boundary=\"")
            .unwrap()
            .strip_suffix('"')
            .unwrap();
        assert!(boundary.starts_with("=_mailtalk_"));
        let delimiter = format!("\r\n--{boundary}");
        let body = [b"\r\n".as_slice(), &body].concat();
        let text = body.as_slice();
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(pos) = rest
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_bytes())
        {
            pieces.push(rest[..pos].to_vec());
            rest = &rest[pos + delimiter.len()..];
        }
        assert_eq!(rest, b"--\r\n", "closing delimiter");
        assert_eq!(
            pieces[0],
            b"\r\nThis is a multi-part message in MIME format."
        );
        let parts = pieces[1..]
            .iter()
            .map(|p| {
                let p = p.strip_prefix(b"\r\n").unwrap();
                let pos = p.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                (lines(&p[..pos + 2]), p[pos + 4..].to_vec())
            })
            .collect();
        (headers, parts)
    }

    fn decode_lines(content: &[u8]) -> Vec<u8> {
        let text = std::str::from_utf8(content).unwrap();
        let mut out = Vec::new();
        for line in text.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
            out.extend(STANDARD.decode(line).unwrap());
        }
        out
    }

    #[test]
    fn attachments_make_a_multipart_message() {
        let dir = tempfile::tempdir().unwrap();
        let text_path = dir.path().join("notes.txt");
        std::fs::write(&text_path, b"some text\n").unwrap();
        let bin_path = dir.path().join("all \"bytes\"\\.bin");
        let binary: Vec<u8> = (0..=255u8).cycle().take(256 * 3 + 5).collect();
        std::fs::write(&bin_path, &binary).unwrap();
        let empty_path = dir.path().join("empty.pdf");
        std::fs::write(&empty_path, b"").unwrap();

        let msg = build(&MessageSpec {
            body: Some("See attached.".to_string()),
            attachments: vec![text_path, bin_path, empty_path],
            ..spec()
        })
        .unwrap();
        assert!(msg.size.is_some());
        assert!(!msg.eight_bit);
        let bytes = read_all(msg);
        assert_crlf_only(&bytes);
        let (headers, parts) = parse_multipart(&bytes);
        assert_eq!(value(&headers, "MIME-Version"), "1.0");
        assert_eq!(parts.len(), 4);

        let (h, content) = &parts[0];
        assert_eq!(
            h,
            &[
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 7bit"
            ]
        );
        assert_eq!(content, b"See attached.");

        let (h, content) = &parts[1];
        assert_eq!(
            h,
            &[
                "Content-Type: text/plain; name=\"notes.txt\"",
                "Content-Disposition: attachment; filename=\"notes.txt\"",
                "Content-Transfer-Encoding: base64"
            ]
        );
        assert_eq!(decode_lines(content), b"some text\n");

        let (h, content) = &parts[2];
        assert_eq!(
            h,
            &[
                "Content-Type: application/octet-stream; name=\"all \\\"bytes\\\"\\\\.bin\"",
                "Content-Disposition: attachment; filename=\"all \\\"bytes\\\"\\\\.bin\"",
                "Content-Transfer-Encoding: base64"
            ]
        );
        assert_eq!(decode_lines(content), binary);

        let (h, content) = &parts[3];
        assert_eq!(h[0], "Content-Type: application/pdf; name=\"empty.pdf\"");
        assert!(content.is_empty());
    }

    #[test]
    fn non_ascii_attachment_name_uses_rfc2231() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Prüfung 1.eml");
        std::fs::write(&path, b"From: x\r\n\r\nbody\r\n").unwrap();
        let msg = build(&MessageSpec {
            attachments: vec![path],
            ..spec()
        })
        .unwrap();
        let bytes = read_all(msg);
        let (_, parts) = parse_multipart(&bytes);
        assert_eq!(
            parts[1].0,
            [
                "Content-Type: application/octet-stream",
                "Content-Disposition: attachment; filename*=UTF-8''Pr%C3%BCfung%201.eml",
                "Content-Transfer-Encoding: base64"
            ]
        );
        assert_eq!(decode_lines(&parts[1].1), b"From: x\r\n\r\nbody\r\n");
    }

    #[test]
    fn content_types_by_extension() {
        for (name, ct) in [
            ("a.TXT", "text/plain"),
            ("a.htm", "text/html"),
            ("a.html", "text/html"),
            ("a.csv", "text/csv"),
            ("a.pdf", "application/pdf"),
            ("a.png", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.JPEG", "image/jpeg"),
            ("a.gif", "image/gif"),
            ("a.zip", "application/zip"),
            ("a.tar.gz", "application/gzip"),
            ("a.json", "application/json"),
            ("a.xml", "application/xml"),
            ("a.eml", "application/octet-stream"),
            ("a", "application/octet-stream"),
            ("a.exe", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), ct, "{name}");
        }
    }

    #[test]
    fn boundaries_are_random_and_well_formed() {
        let b = new_boundary(b"body");
        assert!(b.starts_with("=_mailtalk_"));
        assert_eq!(b.len(), "=_mailtalk_".len() + 24);
        assert_ne!(b, new_boundary(b"body"));
    }

    #[test]
    fn base64_encoder_matches_reference_and_size() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..data.len() {
            let input = &data[..n];
            let mut out = Vec::new();
            encode_base64(input, &mut out);
            assert_eq!(out, STANDARD.encode(input).as_bytes());

            let mut reader = Base64Reader::new(Cursor::new(input.to_vec()), "t".to_string());
            let mut streamed = Vec::new();
            reader.read_to_end(&mut streamed).unwrap();
            assert_eq!(base64_size(n as u64), Some(streamed.len() as u64), "n={n}");
            if n == 0 {
                assert_eq!(streamed, b"\r\n");
            } else {
                let text = std::str::from_utf8(&streamed).unwrap();
                let body = text.strip_suffix("\r\n").unwrap();
                assert_eq!(decode_lines(body.as_bytes()), input);
            }
        }
    }

    #[test]
    fn large_attachment_is_streamed_in_bounded_chunks() {
        const LEN: usize = 20 * 1024 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        {
            let mut f = std::io::BufWriter::new(File::create(&path).unwrap());
            let block: Vec<u8> = (0..=255u8).collect();
            for _ in 0..LEN / 256 {
                f.write_all(&block).unwrap();
            }
        }
        let msg = build(&MessageSpec {
            attachments: vec![path],
            ..spec()
        })
        .unwrap();
        let size = msg.size.unwrap();
        let mut reader = msg.reader;
        let mut total = 0u64;
        let mut chunk = [0u8; 4096];
        // The decoded attachment is checked incrementally: base64 lines are decoded one by one
        // and compared with the repeating 0..=255 pattern.
        let mut carry: Vec<u8> = Vec::new();
        let mut in_attachment = false;
        let mut decoded = 0usize;
        let mut max_carry = 0usize;
        loop {
            let n = reader.read(&mut chunk).unwrap();
            assert!(n <= chunk.len());
            if n == 0 {
                break;
            }
            total += n as u64;
            carry.extend_from_slice(&chunk[..n]);
            max_carry = max_carry.max(carry.len());
            while let Some(pos) = carry.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = carry.drain(..pos + 2).take(pos).collect();
                if line == b"Content-Transfer-Encoding: base64" {
                    in_attachment = true;
                    continue;
                }
                if !in_attachment || line.is_empty() {
                    continue;
                }
                if line.starts_with(b"--") {
                    in_attachment = false;
                    continue;
                }
                assert!(line.len() <= 76);
                for b in STANDARD.decode(&line).unwrap() {
                    assert_eq!(b, (decoded % 256) as u8, "at {decoded}");
                    decoded += 1;
                }
            }
        }
        assert_eq!(total, size);
        assert_eq!(decoded, LEN);
        assert!(max_carry < 8192, "lines stay short: {max_carry}");
    }

    #[test]
    fn rfc5322_dates() {
        use jiff::tz::{Offset, TimeZone};
        let utc = |s: i64| rfc5322_date(jiff::Timestamp::from_second(s).unwrap(), &TimeZone::UTC);
        assert_eq!(utc(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(utc(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(utc(1_795_886_513), "Sat, 28 Nov 2026 17:21:53 +0000");
        assert_eq!(utc(951_868_800), "Wed, 1 Mar 2000 00:00:00 +0000");
        let t = jiff::Timestamp::from_second(1_795_886_513).unwrap();
        let east = TimeZone::fixed(Offset::from_hours(1).unwrap());
        assert_eq!(rfc5322_date(t, &east), "Sat, 28 Nov 2026 18:21:53 +0100");
        let west = TimeZone::fixed(Offset::from_seconds(-(9 * 3600 + 30 * 60)).unwrap());
        assert_eq!(rfc5322_date(t, &west), "Sat, 28 Nov 2026 07:51:53 -0930");
        // The header of a generated message parses back as a date.
        let now = date_now();
        assert!(jiff::fmt::rfc2822::parse(&now).is_ok(), "{now}");
    }

    #[test]
    fn message_ids_have_the_expected_shape_and_differ() {
        let a = message_id("mx.example.org");
        assert_message_id_shape(&a, "mx.example.org");
        assert_ne!(a, message_id("mx.example.org"));
        assert_message_id_shape(&message_id(""), "localhost");
    }
}
