//! Causes stated by the text of a reply.
//!
//! A reply code alone often misleads: `503 5.5.1 Error: authentication not enabled` is not a
//! command sent in the wrong order, and `554 5.5.1 Error: no valid recipients` is not an invalid
//! command. The words a server adds say what went wrong. This module holds a knowledge base of
//! those wordings, the data in `data/causes.toml` (one `[[cause]]` table per entry, the categories
//! and the matching rules documented at the top of that file), and looks a reply up in it.
//!
//! The data is embedded in the binary and parsed once. Loading never panics: an entry that does
//! not parse or validate is skipped and reported by [`load_errors`]. A lookup never panics
//! either, whatever the server sent; only the first [`MAX_TEXT`] bytes of the text are searched.
//!
//! Starting is cheap, for `mailtalk explain` and for the first reply a session explains. The
//! build script (build.rs) reads the TOML at build time and writes its tables as constants
//! (parsing the TOML at run time took 2 ms), with, for each pattern, literals one of which
//! every match contains. A lookup compiles a pattern only when the entry's protocol and code
//! filters pass and the reply contains one of those literals (compiling every pattern took
//! 40-70 ms). An ASCII text (nearly every reply) is searched with `regex-lite`, which compiles
//! these small patterns some twenty times faster than `regex` and matches an ASCII text exactly
//! as `regex` does (their classes, word boundaries and case folding differ only outside ASCII,
//! and the patterns are ASCII); any other text is searched with `regex`, the semantics the data
//! is written for. A pattern that does not compile never matches; [`load_errors`] compiles
//! every pattern with both engines and reports those that fail, and the tests check that
//! lookups find exactly what `regex` alone finds.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::causes_raw::{RawCategory, RawCause};

use crate::proto::smtp::EnhancedCode;
use crate::proto::Protocol;

/// The knowledge base, as shipped.
const DATA: &str = include_str!("data/causes.toml");

/// The same, as build.rs prepared it.
const PREPARED: Option<&Prepared> = include!(concat!(env!("OUT_DIR"), "/causes.rs"));

/// How many bytes of a reply's text a lookup searches (cut back to a character boundary).
pub const MAX_TEXT: usize = 4096;

/// Priority of an entry that gives none.
const DEFAULT_PRIORITY: i64 = 50;

/// Limit on the compiled size of one pattern, and on its lazy DFA cache (1 MiB each).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Protocol names the data may use.
const PROTOCOLS: [(&str, Protocol); 4] = [
    ("smtp", Protocol::Smtp),
    ("lmtp", Protocol::Lmtp),
    ("imap", Protocol::Imap),
    ("pop3", Protocol::Pop3),
];

/// One entry of the knowledge base.
#[derive(Clone, Debug)]
pub struct Cause {
    /// Unique, stable, lower-case and dotted: `smtp.auth-not-enabled`.
    pub id: String,
    /// One of the ids of [`categories`].
    pub category: String,
    /// The cause in a few words, shown first.
    pub title: String,
    /// What the server means, in a sentence or two.
    pub explain: String,
    /// What to do or check.
    pub checks: Vec<String>,
    /// Whose wording the entry matches; empty for a generic one.
    pub servers: Vec<String>,
    protocols: Vec<Protocol>,
    codes: Vec<String>,
    basic: Vec<BasicPattern>,
    enhanced: Vec<EnhancedPattern>,
    pattern: TextPattern,
    priority: i64,
    specificity: usize,
    order: usize,
}

impl Cause {
    /// The protocols whose replies the entry applies to.
    pub fn protocols(&self) -> &[Protocol] {
        &self.protocols
    }

    /// The code filters, as written in the data ("503", "5.7.x"); empty for any code.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    /// The pattern searched in the reply text.
    pub fn pattern(&self) -> &str {
        &self.pattern.source
    }

    /// Higher wins when several entries match.
    pub fn priority(&self) -> i64 {
        self.priority
    }

    /// Whether the entry's filters match the query; `text` is the capped text, [`Text`].
    fn matches(&self, q: &Query<'_>, text: &Text<'_>) -> bool {
        // The pattern last: it is compiled the first time it is tried.
        self.codes_match(q) && self.pattern.is_match(text)
    }

    /// Whether the protocol and code filters match the query.
    fn codes_match(&self, q: &Query<'_>) -> bool {
        if !self.protocols.contains(&q.protocol) {
            return false;
        }
        if self.basic.is_empty() {
            // A positive SMTP/LMTP reply states no failure: only an entry that asks for its code
            // explicitly may match it.
            let smtp = matches!(q.protocol, Protocol::Smtp | Protocol::Lmtp);
            if smtp && q.code.is_some_and(|c| (200..400).contains(&c)) {
                return false;
            }
        } else {
            let Some(code) = q.code else {
                return false;
            };
            if !self.basic.iter().all(|p| p.matches(code)) {
                return false;
            }
        }
        if !self.enhanced.is_empty() {
            let Some(enhanced) = q.enhanced else {
                return false;
            };
            if !self.enhanced.iter().all(|p| p.matches(enhanced)) {
                return false;
            }
        }
        true
    }
}

/// The text a lookup searches, with what every entry's check needs of it.
struct Text<'a> {
    text: &'a str,
    /// [`fold`] of the text, for the literals.
    folded: String,
    ascii: bool,
}

impl Text<'_> {
    fn new(text: &str) -> Text<'_> {
        Text {
            text,
            folded: fold(text),
            ascii: text.is_ascii(),
        }
    }
}

/// The text with every character that a case-insensitive pattern matches with an ASCII letter
/// made that lower-case letter: ASCII letters, and the two others that Unicode case folding
/// makes ASCII letters (the long s and the Kelvin sign). A case-insensitive match of an ASCII
/// literal folds to the folded literal.
fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{17F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The text pattern of an entry, compiled on first use: with `regex-lite` for ASCII texts, with
/// `regex` for the others (see the module documentation). `None` once a compilation failed.
#[derive(Clone, Debug)]
struct TextPattern {
    source: String,
    /// Folded literals one of which every match contains (from build.rs); `None`: no such list.
    literals: Option<&'static [&'static str]>,
    lite: OnceLock<Option<regex_lite::Regex>>,
    full: OnceLock<Option<regex::Regex>>,
}

impl TextPattern {
    fn new(source: String, literals: Option<&'static [&'static str]>) -> TextPattern {
        TextPattern {
            source,
            literals,
            lite: OnceLock::new(),
            full: OnceLock::new(),
        }
    }

    /// Whether the text may match: it contains one of the literals, or there are none.
    fn may_match(&self, text: &Text<'_>) -> bool {
        self.literals
            .as_ref()
            .is_none_or(|l| l.iter().any(|l| text.folded.contains(l)))
    }

    fn is_match(&self, text: &Text<'_>) -> bool {
        if !self.may_match(text) {
            return false;
        }
        if text.ascii {
            if let Some(lite) = self.lite() {
                return lite.is_match(text.text);
            }
        }
        self.full().is_some_and(|full| full.is_match(text.text))
    }

    fn lite(&self) -> Option<&regex_lite::Regex> {
        self.lite
            .get_or_init(|| compile_lite(&self.source).ok())
            .as_ref()
    }

    fn full(&self) -> Option<&regex::Regex> {
        self.full
            .get_or_init(|| compile_full(&self.source).ok())
            .as_ref()
    }
}

/// The pattern as `regex` compiles it: the semantics of the data.
fn compile_full(source: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// The pattern as `regex-lite` compiles it, for ASCII texts.
fn compile_lite(source: &str) -> Result<regex_lite::Regex, regex_lite::Error> {
    regex_lite::RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// A category of causes, as defined at the top of the data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Category {
    pub id: String,
    /// What the category covers.
    pub about: String,
}

/// What a lookup looks at: the protocol, the basic code (SMTP/LMTP), the enhanced code as
/// (class, subject, detail), and the reply text (the whole status line as the server sent it,
/// lossily decoded; for multi-line SMTP replies the lines joined with "\n").
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    pub protocol: Protocol,
    pub code: Option<u16>,
    pub enhanced: Option<EnhancedCode>,
    pub text: &'a str,
}

/// Every cause whose filters match, best first (priority, then more specific code filters, then
/// file order).
pub fn find(q: &Query<'_>) -> Vec<&'static Cause> {
    find_in(base(), q)
}

fn find_in<'b>(base: &'b Base, q: &Query<'_>) -> Vec<&'b Cause> {
    let text = Text::new(cap(q.text));
    let mut found: Vec<&Cause> = base.causes.iter().filter(|c| c.matches(q, &text)).collect();
    found.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(b.specificity.cmp(&a.specificity))
            .then(a.order.cmp(&b.order))
    });
    found
}

/// The best cause for a reply, if any: the first of [`find`].
pub fn best(q: &Query<'_>) -> Option<&'static Cause> {
    find(q).into_iter().next()
}

/// Every entry (for tests, and for `mailtalk explain --list-causes` later). An entry whose
/// pattern does not compile is among them (patterns are compiled when first needed) but never
/// matches; [`load_errors`] names it.
pub fn all() -> &'static [Cause] {
    &base().causes
}

/// The categories the entries are sorted in.
pub fn categories() -> &'static [Category] {
    &base().categories
}

/// Problems found when loading (invalid regex, unknown protocol, bad code pattern, duplicate id);
/// empty when the data is good. Loading never panics: bad entries are skipped and reported here.
/// The first call compiles every pattern, with `regex` and `regex-lite`, which lookups do only
/// for the entries they need: this is the check of the whole knowledge base (tests call it).
pub fn load_errors() -> &'static [String] {
    &checked().errors
}

/// The knowledge base loaded from the TOML with every pattern compiled.
fn checked() -> &'static Base {
    static CHECKED: OnceLock<Base> = OnceLock::new();
    CHECKED.get_or_init(|| load(DATA, Compile::Now))
}

// ---------------------------------------------------------------------------------------------
// Loading.

struct Base {
    causes: Vec<Cause>,
    categories: Vec<Category>,
    errors: Vec<String>,
}

/// The knowledge base for lookups: as build.rs prepared it, or from the TOML when it could not
/// (the TOML does not parse, or a table does not fit its fields).
fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| match PREPARED {
        Some(p) => load_prepared(p),
        None => load(DATA, Compile::Lazily),
    })
}

/// When loading compiles the text patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compile {
    /// When a lookup first needs them; a pattern that does not compile is not noticed.
    Lazily,
    /// At once, with both engines; an entry whose pattern does not compile is skipped and
    /// reported.
    Now,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    category: Vec<toml::Value>,
    #[serde(default)]
    cause: Vec<toml::Value>,
}

/// The data as build.rs prepared it: the tables of the TOML, and for each cause the literals
/// of its pattern. All or nothing: when the TOML does not parse, or a table does not fit its
/// fields, there is none, and the TOML is read instead, which says what is wrong where.
struct Prepared {
    categories: &'static [PreparedCategory],
    causes: &'static [PreparedCause],
}

struct PreparedCategory {
    id: &'static str,
    about: &'static str,
}

/// The fields of [`RawCause`], and the literals.
struct PreparedCause {
    id: &'static str,
    protocols: &'static [&'static str],
    codes: &'static [&'static str],
    text: &'static str,
    servers: &'static [&'static str],
    category: &'static str,
    priority: Option<i64>,
    title: &'static str,
    explain: &'static str,
    checks: &'static [&'static str],
    literals: Option<&'static [&'static str]>,
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| (*s).to_string()).collect()
}

/// A table of the TOML as one of the raw types, or what is wrong with it.
fn parse_table<T: DeserializeOwned>(value: toml::Value) -> Result<T, String> {
    value.try_into().map_err(|e| one_line(&e))
}

/// Parses and validates the data; never panics.
fn load(data: &str, compile: Compile) -> Base {
    match toml::from_str::<RawFile>(data) {
        Ok(raw) => assemble(
            raw.category.into_iter().map(parse_table).collect(),
            raw.cause
                .into_iter()
                .enumerate()
                .map(|(n, v)| {
                    let name = match v.get("id").and_then(toml::Value::as_str) {
                        Some(id) => format!("{id:?}"),
                        None => ordinal(n),
                    };
                    let table = parse_table(v).map_err(|e| format!("cause {name}: {e}"));
                    (table, None)
                })
                .collect(),
            compile,
        ),
        Err(e) => Base {
            causes: Vec::new(),
            categories: Vec::new(),
            errors: vec![format!("causes.toml does not parse: {e}")],
        },
    }
}

/// Validates the data as build.rs prepared it.
fn load_prepared(p: &Prepared) -> Base {
    let categories = p.categories.iter().map(|c| {
        Ok(RawCategory {
            id: c.id.to_string(),
            about: c.about.to_string(),
        })
    });
    let causes = p.causes.iter().map(|c| {
        let raw = RawCause {
            id: c.id.to_string(),
            protocols: strings(c.protocols),
            codes: strings(c.codes),
            text: c.text.to_string(),
            servers: strings(c.servers),
            category: c.category.to_string(),
            priority: c.priority,
            title: c.title.to_string(),
            explain: c.explain.to_string(),
            checks: strings(c.checks),
        };
        (Ok(raw), c.literals)
    });
    assemble(categories.collect(), causes.collect(), Compile::Lazily)
}

/// One `[[cause]]` table as read (or what is wrong with it, naming it), and the literals of its
/// pattern if known.
type CauseTable = (Result<RawCause, String>, Option<&'static [&'static str]>);

/// Validates the tables of the data; never panics.
fn assemble(
    raw_categories: Vec<Result<RawCategory, String>>,
    raw_causes: Vec<CauseTable>,
    compile: Compile,
) -> Base {
    let mut errors = Vec::new();
    let mut categories: Vec<Category> = Vec::new();
    for (n, table) in raw_categories.into_iter().enumerate() {
        match table {
            Ok(c) if !valid_word(&c.id) => {
                errors.push(format!("category {}: invalid id {:?}", ordinal(n), c.id));
            }
            Ok(c) if categories.iter().any(|k| k.id == c.id) => {
                errors.push(format!("category {:?}: defined twice", c.id));
            }
            Ok(c) => categories.push(Category {
                id: c.id,
                about: c.about,
            }),
            Err(e) => errors.push(format!("category {}: {e}", ordinal(n))),
        }
    }

    let mut causes: Vec<Cause> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    for (n, (table, literals)) in raw_causes.into_iter().enumerate() {
        let rc = match table {
            Ok(rc) => rc,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match build(rc, &categories, n, literals, compile) {
            Ok(cause) => {
                if ids.insert(cause.id.clone()) {
                    causes.push(cause);
                } else {
                    errors.push(format!("cause {:?}: duplicate id", cause.id));
                }
            }
            Err(problems) => errors.extend(problems),
        }
    }
    Base {
        causes,
        categories,
        errors,
    }
}

/// Turns one raw entry into a [`Cause`], or says everything that is wrong with it.
fn build(
    rc: RawCause,
    categories: &[Category],
    order: usize,
    literals: Option<&'static [&'static str]>,
    compile: Compile,
) -> Result<Cause, Vec<String>> {
    let mut problems = Vec::new();

    if !valid_id(&rc.id) {
        problems.push("id must be lower-case words (a-z, 0-9, '-') joined by dots".to_string());
    }

    let mut protocols = Vec::new();
    for name in &rc.protocols {
        match PROTOCOLS.iter().find(|(n, _)| n == name) {
            Some((_, p)) if protocols.contains(p) => {
                problems.push(format!("protocol {name:?} given twice"));
            }
            Some((_, p)) => protocols.push(*p),
            None => problems.push(format!("unknown protocol {name:?}")),
        }
    }
    if rc.protocols.is_empty() {
        problems.push("no protocols".to_string());
    }

    let mut basic = Vec::new();
    let mut enhanced = Vec::new();
    let mut specificity: usize = 0;
    for code in &rc.codes {
        if let Some(p) = BasicPattern::parse(code) {
            specificity = specificity.saturating_add(p.fixed());
            basic.push(p);
        } else if let Some(p) = EnhancedPattern::parse(code) {
            specificity = specificity.saturating_add(p.fixed());
            enhanced.push(p);
        } else {
            problems.push(format!("bad code pattern {code:?}"));
        }
    }

    let pattern = TextPattern::new(rc.text.clone(), literals);
    if compile == Compile::Now {
        // The same builders as lookups use, so that what passes here compiles there.
        match compile_full(&rc.text) {
            Ok(r) => {
                let _ = pattern.full.set(Some(r));
            }
            Err(e) => problems.push(format!("invalid regex: {}", one_line(&e))),
        }
        match compile_lite(&rc.text) {
            Ok(r) => {
                let _ = pattern.lite.set(Some(r));
            }
            Err(e) => problems.push(format!("invalid regex (regex-lite): {}", one_line(&e))),
        }
    }
    if rc.text.is_empty() {
        problems.push("empty text pattern".to_string());
    }

    if !categories.iter().any(|c| c.id == rc.category) {
        problems.push(format!("unknown category {:?}", rc.category));
    }
    if rc.title.trim().is_empty() {
        problems.push("empty title".to_string());
    }
    if rc.explain.trim().is_empty() {
        problems.push("empty explain".to_string());
    }
    if rc.checks.is_empty() || rc.checks.iter().any(|c| c.trim().is_empty()) {
        problems.push("checks must be a non-empty list of non-empty lines".to_string());
    }
    if rc.servers.iter().any(|s| s.trim().is_empty()) {
        problems.push("empty server name".to_string());
    }
    let texts = [&rc.title, &rc.explain, &rc.text, &rc.category];
    if texts.iter().any(|t| !printable_ascii(t))
        || rc.checks.iter().any(|t| !printable_ascii(t))
        || rc.servers.iter().any(|t| !printable_ascii(t))
    {
        problems.push("text must be printable ASCII".to_string());
    }

    if !problems.is_empty() {
        let id = &rc.id;
        return Err(problems
            .into_iter()
            .map(|p| format!("cause {id:?}: {p}"))
            .collect());
    }
    Ok(Cause {
        id: rc.id,
        category: rc.category,
        title: rc.title,
        explain: rc.explain,
        checks: rc.checks,
        servers: rc.servers,
        protocols,
        codes: rc.codes,
        basic,
        enhanced,
        pattern,
        priority: rc.priority.unwrap_or(DEFAULT_PRIORITY),
        specificity,
        order,
    })
}

/// "#1", "#2", ... for messages about entries that have no usable id.
fn ordinal(n: usize) -> String {
    format!("#{}", n.saturating_add(1))
}

/// An error message on one line.
fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// A lower-case word: a-z, 0-9 and inner '-'.
fn valid_word(w: &str) -> bool {
    !w.is_empty()
        && !w.starts_with('-')
        && !w.ends_with('-')
        && w.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Two or more words joined by dots.
fn valid_id(id: &str) -> bool {
    id.contains('.') && id.split('.').all(valid_word)
}

/// Cuts the text to [`MAX_TEXT`] bytes on a character boundary.
fn cap(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while end > 0 && !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text.get(..end).unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Code patterns.

/// A basic-code pattern: three positions, each a digit or 'x' ("5xx", "55x", "550").
#[derive(Clone, Copy, Debug)]
struct BasicPattern([Option<u8>; 3]);

impl BasicPattern {
    fn parse(s: &str) -> Option<BasicPattern> {
        let b = s.as_bytes();
        let [a, m, z] = b else {
            return None;
        };
        let pos = |c: u8| -> Option<Option<u8>> {
            match c {
                b'x' | b'X' => Some(None),
                b'0'..=b'9' => Some(Some(c)),
                _ => None,
            }
        };
        let first = pos(*a)?;
        // The first digit of a reply code is 1-5.
        if first.is_some_and(|d| !(b'1'..=b'5').contains(&d)) {
            return None;
        }
        Some(BasicPattern([first, pos(*m)?, pos(*z)?]))
    }

    fn fixed(&self) -> usize {
        self.0.iter().filter(|p| p.is_some()).count()
    }

    fn matches(&self, code: u16) -> bool {
        if code > 999 {
            return false;
        }
        // The three digits as ASCII, without formatting a string per entry and reply.
        let digit = |n: u16| b'0'.saturating_add(u8::try_from(n % 10).unwrap_or(0));
        let digits = [digit(code / 100), digit(code / 10), digit(code)];
        self.0
            .iter()
            .zip(digits)
            .all(|(p, d)| p.is_none_or(|p| p == d))
    }
}

/// An enhanced-code pattern: class.subject.detail, each a number or 'x' ("5.7.1", "4.x.x").
#[derive(Clone, Copy, Debug)]
struct EnhancedPattern([Option<u16>; 3]);

impl EnhancedPattern {
    fn parse(s: &str) -> Option<EnhancedPattern> {
        let mut parts = s.split('.');
        let (Some(c), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let part = |p: &str, max_len: usize| -> Option<Option<u16>> {
            if p.eq_ignore_ascii_case("x") {
                return Some(None);
            }
            if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse::<u16>().ok().map(Some)
        };
        let class = part(c, 1)?;
        if class.is_some_and(|c| !matches!(c, 2 | 4 | 5)) {
            return None;
        }
        Some(EnhancedPattern([class, part(m, 3)?, part(d, 3)?]))
    }

    fn fixed(&self) -> usize {
        self.0.iter().filter(|p| p.is_some()).count()
    }

    fn matches(&self, e: EnhancedCode) -> bool {
        let [c, s, d] = self.0;
        c.is_none_or(|c| c == u16::from(e.class))
            && s.is_none_or(|s| s == e.subject)
            && d.is_none_or(|d| d == e.detail)
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// The corpus of real reply lines.
    const SAMPLES: &str = include_str!("data/reply_samples.tsv");

    struct Sample {
        line_no: usize,
        protocol: Protocol,
        text: String,
        expected: Option<String>,
    }

    fn protocol(name: &str) -> Option<Protocol> {
        PROTOCOLS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    /// `\n` in the line field stands for the line break between the lines of a multi-line
    /// reply, `\t` for a tab and `\\` for a backslash.
    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        }
        out
    }

    fn samples() -> Vec<Sample> {
        let mut out = Vec::new();
        for (n, line) in SAMPLES.lines().enumerate() {
            let line_no = n + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(
                fields.len(),
                3,
                "reply_samples.tsv:{line_no}: want 3 fields: {line}"
            );
            let protocol = protocol(fields[0])
                .unwrap_or_else(|| panic!("reply_samples.tsv:{line_no}: bad protocol"));
            let expected = match fields[2] {
                "-" => None,
                id => Some(id.to_string()),
            };
            out.push(Sample {
                line_no,
                protocol,
                text: unescape(fields[1]),
                expected,
            });
        }
        out
    }

    /// The basic and enhanced codes of the first line of an SMTP/LMTP reply.
    fn parse_codes(text: &str) -> (Option<u16>, Option<EnhancedCode>) {
        let first = text.lines().next().unwrap_or("");
        match crate::proto::smtp::ReplyLine::parse(first.as_bytes()) {
            Some(l) => (Some(l.code.value()), l.enhanced),
            None => (None, None),
        }
    }

    fn query(s: &Sample) -> Query<'_> {
        let (code, enhanced) = match s.protocol {
            Protocol::Smtp | Protocol::Lmtp => parse_codes(&s.text),
            Protocol::Imap | Protocol::Pop3 => (None, None),
        };
        Query {
            protocol: s.protocol,
            code,
            enhanced,
            text: &s.text,
        }
    }

    #[test]
    fn data_loads_without_errors() {
        assert!(
            load_errors().is_empty(),
            "causes.toml:\n{}",
            load_errors().join("\n")
        );
        assert!(all().len() >= 120, "only {} entries", all().len());
        assert!(DATA.is_ascii(), "causes.toml must be ASCII");
        assert!(SAMPLES.is_ascii(), "reply_samples.tsv must be ASCII");
    }

    #[test]
    fn entries_are_well_formed() {
        let mut ids = HashSet::new();
        let cats: Vec<&str> = categories().iter().map(|c| c.id.as_str()).collect();
        assert!(!cats.is_empty());
        for c in categories() {
            assert!(
                !c.about.trim().is_empty(),
                "category {} has no description",
                c.id
            );
        }
        for c in all() {
            assert!(ids.insert(c.id.as_str()), "duplicate id {}", c.id);
            assert!(valid_id(&c.id), "bad id {}", c.id);
            assert!(
                cats.contains(&c.category.as_str()),
                "{}: category {}",
                c.id,
                c.category
            );
            assert!(!c.title.trim().is_empty(), "{}: empty title", c.id);
            assert!(!c.explain.trim().is_empty(), "{}: empty explain", c.id);
            assert!(!c.checks.is_empty(), "{}: no checks", c.id);
            assert!(!c.protocols().is_empty(), "{}: no protocols", c.id);
        }
        // Every category is used.
        for cat in &cats {
            assert!(
                all().iter().any(|c| c.category == *cat),
                "category {cat} is unused"
            );
        }
    }

    #[test]
    fn every_sample_gets_its_expected_cause_first() {
        let samples = samples();
        assert!(samples.len() >= 150, "only {} samples", samples.len());
        let mut failures = Vec::new();
        for s in &samples {
            let found = find(&query(s));
            let got = found.first().map(|c| c.id.as_str());
            if got != s.expected.as_deref() {
                let others: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
                failures.push(format!(
                    "reply_samples.tsv:{}: expected {}, got {} (all: {:?})\n    {}",
                    s.line_no,
                    s.expected.as_deref().unwrap_or("-"),
                    got.unwrap_or("-"),
                    others,
                    s.text.replace('\n', "\\n"),
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} samples fail:\n{}",
            failures.len(),
            samples.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn every_entry_comes_first_for_some_sample() {
        let samples = samples();
        let mut first: HashSet<&str> = HashSet::new();
        for s in &samples {
            if let Some(c) = best(&query(s)) {
                first.insert(c.id.as_str());
            }
        }
        let dead: Vec<&str> = all()
            .iter()
            .map(|c| c.id.as_str())
            .filter(|id| !first.contains(id))
            .collect();
        assert!(dead.is_empty(), "entries no sample reaches first: {dead:?}");
    }

    #[test]
    fn samples_have_negatives_and_cover_protocols() {
        let samples = samples();
        assert!(samples.iter().filter(|s| s.expected.is_none()).count() >= 15);
        for p in [
            Protocol::Smtp,
            Protocol::Lmtp,
            Protocol::Imap,
            Protocol::Pop3,
        ] {
            assert!(
                samples.iter().any(|s| s.protocol == p),
                "no sample for {p:?}"
            );
        }
    }

    #[test]
    fn the_examples_of_the_motivation() {
        let q = Query {
            protocol: Protocol::Smtp,
            code: Some(503),
            enhanced: EnhancedCode::parse("5.5.1"),
            text: "503 5.5.1 Error: authentication not enabled",
        };
        assert_eq!(
            best(&q).map(|c| c.id.as_str()),
            Some("smtp.auth-not-enabled")
        );
        let q = Query {
            text: "554 5.5.1 Error: no valid recipients",
            code: Some(554),
            ..q
        };
        assert_eq!(best(&q).map(|c| c.category.as_str()), Some("recipient"));
    }

    #[test]
    fn code_patterns() {
        let p = BasicPattern::parse("55x").unwrap();
        assert!(p.matches(550) && p.matches(554) && !p.matches(450) && !p.matches(5500));
        assert!(BasicPattern::parse("5xx").unwrap().matches(599));
        assert!(BasicPattern::parse("x50").unwrap().matches(450));
        for bad in ["", "5", "55", "5555", "6xx", "0xx", "5x.", "abc", "5 x"] {
            assert!(BasicPattern::parse(bad).is_none(), "{bad:?}");
        }
        let ec = |class, subject, detail| EnhancedCode {
            class,
            subject,
            detail,
        };
        let e = EnhancedPattern::parse("5.7.x").unwrap();
        assert!(e.matches(ec(5, 7, 1)) && e.matches(ec(5, 7, 606)) && !e.matches(ec(4, 7, 1)));
        assert!(EnhancedPattern::parse("4.x.x")
            .unwrap()
            .matches(ec(4, 2, 2)));
        assert!(EnhancedPattern::parse("X.1.1")
            .unwrap()
            .matches(ec(5, 1, 1)));
        for bad in [
            "5.7", "5.7.1.2", "3.7.1", "5..1", "5.7.1000", "5.7.-1", "50.7.1", "x.y.z",
        ] {
            assert!(EnhancedPattern::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn bad_entries_are_skipped_and_reported() {
        let data = r#"
[[category]]
id = "auth"
about = "x"

[[cause]]
id = "a.good"
protocols = ["smtp"]
text = 'fine'
category = "auth"
title = "t"
explain = "e"
checks = ["c"]

[[cause]]
id = "a.good"
protocols = ["smtp"]
text = 'again'
category = "auth"
title = "t"
explain = "e"
checks = ["c"]

[[cause]]
id = "a.bad-regex"
protocols = ["smtp"]
text = '(unclosed'
category = "auth"
title = "t"
explain = "e"
checks = ["c"]

[[cause]]
id = "a.bad-protocol"
protocols = ["nntp"]
codes = ["6xx", "5.7"]
text = 'x'
category = "nope"
title = ""
explain = "e"
checks = []

[[cause]]
id = "a.unknown-field"
protocols = ["smtp"]
text = 'x'
category = "auth"
title = "t"
explain = "e"
checks = ["c"]
colour = "red"

[[cause]]
id = "a.huge"
protocols = ["smtp"]
text = '\w{1000}\w{1000}\w{1000}'
category = "auth"
title = "t"
explain = "e"
checks = ["c"]
"#;
        let b = load(data, Compile::Now);
        let ids: Vec<&str> = b.causes.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a.good"]);
        let all = b.errors.join("\n");
        for want in [
            "duplicate id",
            "invalid regex",
            "unknown protocol \"nntp\"",
            "bad code pattern \"6xx\"",
            "bad code pattern \"5.7\"",
            "unknown category",
            "empty title",
            "checks must be",
            "a.unknown-field",
            "a.huge",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
        let broken = load("[[cause]\nid = ", Compile::Lazily);
        assert!(broken.causes.is_empty());
        assert_eq!(broken.errors.len(), 1);

        // Loaded for lookups, the patterns are not compiled yet: the entries whose pattern
        // does not compile are kept, and never match, whatever the text.
        let lazy = load(data, Compile::Lazily);
        let ids: Vec<&str> = lazy.causes.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a.good", "a.bad-regex", "a.huge"]);
        for c in &lazy.causes {
            assert!(c.pattern.lite.get().is_none() && c.pattern.full.get().is_none());
        }
        for text in ["(unclosed fine", "(unclosed fine \u{e9}"] {
            let hits: Vec<&str> = find_in(&lazy, &smtp(text))
                .iter()
                .map(|c| c.id.as_str())
                .collect();
            assert_eq!(hits, ["a.good"], "{text}");
        }
        // `regex-lite` may accept what `regex` refuses (here for its size): the checked load
        // catches that, so that no shipped pattern is like that.
        let huge = format!("{} and more", "x".repeat(3000));
        let _ = find_in(&lazy, &smtp(&huge));
    }

    fn prepared() -> Base {
        load_prepared(PREPARED.expect("build.rs prepared the data"))
    }

    fn compiled(b: &Base) -> (usize, usize) {
        let lite = b.causes.iter().filter(|c| c.pattern.lite.get().is_some());
        let full = b.causes.iter().filter(|c| c.pattern.full.get().is_some());
        (lite.count(), full.count())
    }

    #[test]
    fn a_lookup_compiles_only_the_patterns_it_needs() {
        let b = prepared();
        assert_eq!(compiled(&b), (0, 0));
        let q = smtp("550 5.7.1 Relaying denied");
        let found: Vec<&str> = find_in(&b, &q).iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            found.first(),
            Some(&"sendmail.relaying-denied"),
            "{found:?}"
        );
        let (lite, full) = compiled(&b);
        assert!(lite <= 5, "{lite} patterns compiled");
        assert_eq!(full, 0);
        // A text that is not ASCII is searched with `regex`, and finds the same.
        let q = smtp("550 5.7.1 Relaying denied \u{e9}");
        let again: Vec<&str> = find_in(&b, &q).iter().map(|c| c.id.as_str()).collect();
        assert_eq!(again, found);
        let (lite_after, full) = compiled(&b);
        assert_eq!(lite_after, lite);
        assert!((1..=5).contains(&full), "{full} patterns compiled");
    }

    #[test]
    fn the_prepared_data_is_the_toml() {
        let p = prepared();
        let t = checked();
        assert!(p.errors.is_empty() && t.errors.is_empty(), "{:?}", t.errors);
        assert_eq!(p.categories, t.categories);
        assert_eq!(p.causes.len(), t.causes.len());
        for (a, b) in p.causes.iter().zip(&t.causes) {
            assert_eq!(
                (
                    &a.id,
                    &a.category,
                    &a.title,
                    &a.explain,
                    &a.checks,
                    &a.servers
                ),
                (
                    &b.id,
                    &b.category,
                    &b.title,
                    &b.explain,
                    &b.checks,
                    &b.servers
                )
            );
            assert_eq!(
                (&a.protocols, &a.codes, a.pattern(), a.priority),
                (&b.protocols, &b.codes, b.pattern(), b.priority),
                "{}",
                a.id
            );
            assert_eq!(
                (a.specificity, a.order, a.basic.len(), a.enhanced.len()),
                (b.specificity, b.order, b.basic.len(), b.enhanced.len())
            );
        }
    }

    /// Every character that `(?i)[a-z]` matches folds to the ASCII letter it matches as, and no
    /// other character folds to an ASCII letter: what makes the literals a safe prefilter.
    #[test]
    fn fold_is_the_case_folding_of_ascii_letters() {
        let all_chars: String = (0..=0x10FFFF_u32).filter_map(char::from_u32).collect();
        let letters = regex::Regex::new("(?i)[a-z]").unwrap();
        let mut folding: Vec<char> = Vec::new();
        for m in letters.find_iter(&all_chars) {
            let c = m.as_str().chars().next().unwrap();
            let f = fold(m.as_str());
            assert_eq!(f.len(), 1, "{c:?}");
            let exact = regex::Regex::new(&format!("(?i)^{f}$")).unwrap();
            assert!(exact.is_match(m.as_str()), "{c:?} folds to {f:?}");
            if !c.is_ascii() {
                folding.push(c);
            }
        }
        assert_eq!(folding, ['\u{17F}', '\u{212A}']);
        for c in all_chars.chars() {
            let f = fold(&c.to_string());
            if f.bytes().any(|b| b.is_ascii_alphabetic()) {
                assert!(letters.is_match(&c.to_string()), "{c:?}");
            }
        }
    }

    #[test]
    fn the_literals_are_folded_and_nearly_every_pattern_has_some() {
        let p = prepared();
        let with = p
            .causes
            .iter()
            .filter(|c| c.pattern.literals.is_some())
            .count();
        assert!(
            with * 10 >= p.causes.len() * 9,
            "{with} of {}",
            p.causes.len()
        );
        for c in &p.causes {
            for l in c.pattern.literals.unwrap_or_default() {
                assert!(!l.is_empty() && fold(l) == *l, "{}: {l:?}", c.id);
            }
        }
    }

    /// What a lookup finds with the prefilter and both engines is what `regex` alone finds:
    /// for every entry and every sample that passes its filters, as sent and in upper case
    /// (ASCII: `regex-lite` is asked), and in lower case with characters that fold to ASCII
    /// letters put in (not ASCII: `regex` is asked, and the prefilter must fold them right).
    #[test]
    fn the_engines_and_the_prefilter_agree_with_regex() {
        let p = prepared();
        let samples = samples();
        let mut tried = 0;
        for (fast, slow) in p.causes.iter().zip(&checked().causes) {
            let full = slow.pattern.full().unwrap();
            for s in &samples {
                let q = query(s);
                if !fast.codes_match(&q) {
                    continue;
                }
                let odd = s
                    .text
                    .to_ascii_lowercase()
                    .replacen('s', "\u{17F}", 2)
                    .replacen('k', "\u{212A}", 2);
                for t in [s.text.clone(), s.text.to_ascii_uppercase(), odd] {
                    let text = Text::new(&t);
                    let want = full.is_match(&t);
                    // Where the prefilter says no, neither engine is asked.
                    if !fast.pattern.may_match(&text) {
                        assert!(!want, "{}: the prefilter drops {t:?}", fast.id);
                        continue;
                    }
                    assert_eq!(fast.pattern.is_match(&text), want, "{}: {t:?}", fast.id);
                    tried += 1;
                }
            }
        }
        assert!(tried > 1_000, "{tried}");
    }

    fn smtp(text: &str) -> Query<'_> {
        let (code, enhanced) = parse_codes(text);
        Query {
            protocol: Protocol::Smtp,
            code,
            enhanced,
            text,
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic_and_are_bounded() {
        // 1 MB of text: only the first MAX_TEXT bytes are searched.
        let mut big = "550 5.7.1 ".to_string();
        big.push_str(&"a".repeat(1 << 20));
        big.push_str(" Relay access denied");
        let start = std::time::Instant::now();
        assert!(find(&smtp(&big)).is_empty());
        let mut big_hit = "554 5.7.1 <x@x.test>: Relay access denied ".to_string();
        big_hit.push_str(&"\u{10348}".repeat(300_000));
        assert_eq!(
            best(&smtp(&big_hit)).map(|c| c.id.as_str()),
            Some("postfix.relay-access-denied")
        );
        // Many lines of patterns that almost match.
        let near = "550-5.7.1 blocked usin\n".repeat(50_000);
        let _ = find(&smtp(&near));
        assert!(start.elapsed() < std::time::Duration::from_secs(20));

        // The cut falls inside a multi-byte character.
        for pad in 0..4 {
            let mut t = "a".repeat(MAX_TEXT - pad);
            t.push_str("\u{1F600}\u{1F600}");
            assert!(cap(&t).len() <= MAX_TEXT);
            assert!(t.starts_with(cap(&t)));
            let _ = find(&smtp(&t));
        }

        // Empty, odd and invalid characters, in every protocol.
        let odd = [
            "",
            "\0",
            "\u{FFFD}\u{FFFD}\u{FFFD}",
            "\u{202E}deined ssecca yaleR\u{202C}",
            "5\u{0}5\u{0}0",
            "\r\n\r\n\r\n",
            "550",
            "550-",
            "550 5.",
            "550 5.7.",
            "999 9.9.9 x",
            "\u{1b}[31m550 5.7.1 red\u{1b}[0m",
            "[[[[[[[[[[[[",
            "(?i)***",
        ];
        for t in odd {
            for protocol in [
                Protocol::Smtp,
                Protocol::Lmtp,
                Protocol::Imap,
                Protocol::Pop3,
            ] {
                for code in [None, Some(0), Some(250), Some(550), Some(u16::MAX)] {
                    let odd = [
                        None,
                        EnhancedCode::parse("0.0.0"),
                        EnhancedCode::parse("5.999.999"),
                    ];
                    for enhanced in odd {
                        let _ = find(&Query {
                            protocol,
                            code,
                            enhanced,
                            text: t,
                        });
                    }
                }
            }
        }
    }

    #[test]
    fn positive_replies_match_nothing() {
        for text in [
            "250 2.0.0 Ok: queued as 4ABC1234: relay access denied (not really)",
            "235 2.7.0 Authentication successful",
            "250-AUTH PLAIN LOGIN",
            "354 End data with <CR><LF>.<CR><LF>",
        ] {
            assert!(find(&smtp(text)).is_empty(), "{text}");
        }
    }
}
