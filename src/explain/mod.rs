//! Explanations of reply codes: SMTP/LMTP basic reply codes, SMTP enhanced status codes
//! (RFC 3463 and the IANA registry), IMAP response codes and POP3 response codes.
//!
//! The facts (codes, short summaries, references, associated codes, contexts) live in
//! `tables`, generated from the registry TSV files by `src/explain/gen/gen_tables.py`. The
//! prose (meaning, usual causes, what to check) lives in `notes`.
//!
//! Everything here is pure: tokens and reply lines in, [`Explanation`]s out. No colours; text is
//! ASCII. Every input, including bytes a server sent, is handled without panicking; tokens that
//! are shown back are made printable first.

pub mod caps;
pub mod causes;
mod causes_raw;
mod notes;
#[rustfmt::skip]
mod tables;

use crate::proto::imap::syntax::ResponseLine as ImapLine;
use crate::proto::pop3::syntax::{Indicator, StatusLine as Pop3Line};
use crate::proto::smtp::{EnhancedCode, ReplyLine};
use crate::proto::{line_protocol, Outcome, Protocol, Reply};

/// The kind of code an [`Explanation`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// A three-digit SMTP/LMTP reply code (`550`).
    SmtpBasic,
    /// An enhanced status code (`5.1.1`, `X.1.1`, a class `5.XXX.YYY` or subject `X.1.YYY`).
    SmtpEnhanced,
    /// An IMAP response code (`[OVERQUOTA]`).
    ImapCode,
    /// A POP3 response code (`[IN-USE]`).
    Pop3Code,
}

impl Family {
    /// A short human label: "SMTP reply code", "SMTP enhanced status code", ...
    pub fn label(self) -> &'static str {
        match self {
            Family::SmtpBasic => "SMTP reply code",
            Family::SmtpEnhanced => "SMTP enhanced status code",
            Family::ImapCode => "IMAP response code",
            Family::Pop3Code => "POP3 response code",
        }
    }
}

/// What one code means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub family: Family,
    /// The code as normalised: "550", "5.1.1", "X.1.1", "5.XXX.YYY", "X.1.YYY",
    /// "AUTHENTICATIONFAILED", "IN-USE". Always printable ASCII.
    pub token: String,
    /// Short summary (registry sample text, or the RFC's reply text).
    pub title: String,
    /// What it means, in a sentence or a few.
    pub meaning: String,
    /// SMTP only: "permanent failure", "temporary failure", "success" or "intermediate".
    pub permanence: Option<&'static str>,
    /// Defining documents: "RFC 5321", "draft-levine-mailbomb-header-00", ...
    pub references: Vec<String>,
    /// Usual causes (for the codes people meet most; empty otherwise).
    pub causes: Vec<&'static str>,
    /// What to check (for the codes people meet most; empty otherwise).
    pub checks: Vec<&'static str>,
    /// False for a code that is not in the tables: then `meaning` says so and whether its
    /// class (and subject) is valid.
    pub known: bool,
    /// Where the code is used: one line per context of a basic code ("STARTTLS (RFC 3207):
    /// ..."), the replies an IMAP code comes with, the commands a POP3 code answers.
    pub contexts: Vec<String>,
    /// Codes it is paired with: the enhanced code a basic-code context uses, the basic reply
    /// codes an enhanced code is registered with, the codes of a subject.
    pub related: Vec<String>,
    /// Remarks about this occurrence: an enhanced code whose class or basic code does not
    /// match the reply, a non-standard meaning in use, a matching context.
    pub notes: Vec<String>,
}

/// Separator between the code part and the text part of a short line.
const DASH: &str = " - ";

// ---------------------------------------------------------------------------------------------
// Table row types (the data is in `tables`, generated).

/// One basic reply code row: one per defining RFC or context.
struct BasicRow {
    code: u16,
    summary: &'static str,
    reference: &'static str,
    /// The command or situation the row is specific to; empty for the general meaning.
    context: &'static str,
    /// The enhanced code the same RFC pairs with it ("5.7.8"), or empty.
    enhanced: &'static str,
}

/// A basic code that no RFC defines but that is seen in the wild.
struct NonStandardRow {
    code: u16,
    meaning: &'static str,
    /// Set when the non-standard meaning conflicts with a standard one.
    conflict: &'static str,
}

/// One enumerated enhanced status code (`X.s.d`).
struct EnhancedRow {
    code: &'static str,
    subject: u16,
    detail: u16,
    summary: &'static str,
    /// Associated basic codes: "550", "5XX", "Any"; empty when the registry gives none.
    basic_codes: &'static [&'static str],
    references: &'static [&'static str],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SubCodeKind {
    Class,
    Subject,
}

/// A class sub-code (`5.XXX.YYY`) or subject sub-code (`X.1.YYY`).
struct SubCodeRow {
    code: &'static str,
    kind: SubCodeKind,
    digit: u16,
    summary: &'static str,
    reference: &'static str,
}

struct ImapRow {
    code: &'static str,
    references: &'static [&'static str],
    summary: &'static str,
}

struct Pop3Row {
    code: &'static str,
    reference: &'static str,
    summary: &'static str,
    /// The reply it comes with ("-ERR").
    kind: &'static str,
    /// The commands it may answer.
    commands: &'static str,
}

/// Number of rows in each family table: (SMTP basic, SMTP enhanced, IMAP, POP3).
pub fn counts() -> (usize, usize, usize, usize) {
    (
        tables::BASIC.len(),
        tables::ENHANCED.len(),
        tables::IMAP.len(),
        tables::POP3.len(),
    )
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

/// "RFC5321" -> "RFC 5321"; drafts unchanged.
fn fmt_ref(r: &str) -> String {
    match r.strip_prefix("RFC") {
        Some(num) if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => {
            format!("RFC {num}")
        }
        _ => r.to_string(),
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Makes a token printable ASCII and bounded: control and non-ASCII characters become escapes,
/// more than 48 characters are cut with "...".
fn display_token(raw: &str) -> String {
    const MAX: usize = 48;
    let mut out = String::new();
    for (n, c) in raw.chars().enumerate() {
        if n >= MAX {
            out.push_str("...");
            break;
        }
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else if c.is_ascii() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    out
}

/// Lower-cases a title for use inside a sentence: each capitalised word ("Addressing",
/// "Status") loses its capital; acronyms and codes ("SPF", "DKIM", "X.6.8") stay.
fn lc_title(s: &str) -> String {
    s.split(' ')
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next();
            let rest = chars.as_str();
            let capitalised = first.is_some_and(|c| c.is_ascii_uppercase())
                && rest.chars().any(|c| c.is_ascii_lowercase())
                && !rest.chars().any(|c| c.is_ascii_uppercase());
            match first {
                Some(c) if capitalised => format!("{}{rest}", c.to_ascii_lowercase()),
                _ => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lower-cases the first letter of a sentence used inside another one ("A problem" ->
/// "a problem"), unless it starts an acronym.
fn lc_first(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_ascii_uppercase() && !b.is_ascii_uppercase() => {
            format!("{}{}", a.to_ascii_lowercase(), s.get(1..).unwrap_or(""))
        }
        _ => s.to_string(),
    }
}

fn smtp_permanence(first_digit: u16) -> Option<&'static str> {
    match first_digit {
        2 => Some("success"),
        3 => Some("intermediate"),
        4 => Some("temporary failure"),
        5 => Some("permanent failure"),
        _ => None,
    }
}

fn empty(family: Family, token: String) -> Explanation {
    Explanation {
        family,
        token,
        title: String::new(),
        meaning: String::new(),
        permanence: None,
        references: Vec::new(),
        causes: Vec::new(),
        checks: Vec::new(),
        known: true,
        contexts: Vec::new(),
        related: Vec::new(),
        notes: Vec::new(),
    }
}

fn apply_note(e: &mut Explanation, note: &notes::Note) {
    if !note.causes.is_empty() {
        e.causes = note.causes.to_vec();
    }
    if !note.checks.is_empty() {
        e.checks = note.checks.to_vec();
    }
}

// ---------------------------------------------------------------------------------------------
// SMTP basic reply codes.

fn basic_rows(code: u16) -> impl Iterator<Item = &'static BasicRow> {
    tables::BASIC.iter().filter(move |r| r.code == code)
}

/// The title of a basic code: its first RFC 5321 row, else the distinct summaries joined.
fn basic_title(code: u16) -> Option<String> {
    if let Some(r) = basic_rows(code).find(|r| r.reference == "RFC5321") {
        return Some(r.summary.to_string());
    }
    let mut parts: Vec<&str> = Vec::new();
    for r in basic_rows(code) {
        if !parts.contains(&r.summary) {
            parts.push(r.summary);
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" / "))
    }
}

fn explain_basic(code: u16) -> Explanation {
    let token = format!("{code:03}");
    let rows: Vec<&BasicRow> = basic_rows(code).collect();
    let first = code / 100;
    let mut e = empty(Family::SmtpBasic, token);
    e.permanence = smtp_permanence(first);
    let Some(title) = basic_title(code) else {
        return unknown_basic(code);
    };
    e.title = title;
    match notes::basic(code) {
        Some(n) => {
            e.meaning = n.meaning.to_string();
            apply_note(&mut e, n);
        }
        None => e.meaning = e.title.clone(),
    }
    let show_contexts = rows.len() > 1 || rows.iter().any(|r| !r.context.is_empty());
    for r in &rows {
        push_unique(&mut e.references, fmt_ref(r.reference));
        if !r.enhanced.is_empty() {
            push_unique(&mut e.related, r.enhanced.to_string());
        }
        if show_contexts {
            e.contexts.push(context_line(r));
        }
    }
    for ns in tables::NON_STANDARD.iter().filter(|n| n.code == code) {
        let clash = if ns.conflict.is_empty() {
            ""
        } else {
            ", which conflicts with the standard one"
        };
        e.notes.push(format!(
            "Also seen with a non-standard meaning (no RFC): {}{clash}.",
            ns.meaning
        ));
    }
    e
}

fn context_line(r: &BasicRow) -> String {
    let ctx = if r.context.is_empty() {
        "general"
    } else {
        r.context
    };
    let mut s = format!("{ctx} ({}): {}", fmt_ref(r.reference), r.summary);
    if !r.enhanced.is_empty() {
        s.push_str(&format!(" [{}]", r.enhanced));
    }
    if let Some(note) = notes::basic_context(r.code, r.reference, r.summary) {
        s.push_str(DASH);
        s.push_str(note);
    }
    s
}

fn basic_class_text(first: u16) -> Option<&'static str> {
    notes::BASIC_CLASSES
        .iter()
        .find(|(d, _)| *d == first)
        .map(|(_, t)| *t)
}

fn basic_category_text(second: u16) -> Option<&'static str> {
    notes::BASIC_CATEGORIES
        .iter()
        .find(|(d, _)| *d == second)
        .map(|(_, t)| *t)
}

/// A three-digit code that no table row has.
fn unknown_basic(code: u16) -> Explanation {
    let first = code / 100;
    let second = (code / 10) % 10;
    let mut e = empty(Family::SmtpBasic, format!("{code:03}"));
    e.known = false;
    e.permanence = smtp_permanence(first);
    e.references.push("RFC 5321".to_string());
    let mut meaning = format!("{code:03} is not a reply code defined by any RFC. ");
    match basic_class_text(first) {
        Some(class) => {
            meaning.push_str(&format!("Its class {first} is valid: {class}. "));
            match basic_category_text(second) {
                Some(cat) => meaning.push_str(&format!(
                    "Its second digit {second} is the \"{cat}\" category. "
                )),
                None => meaning.push_str(&format!(
                    "Its second digit {second} is not a defined category (0 to 5). "
                )),
            }
        }
        None => meaning.push_str(&format!(
            "Its class {first} is not valid: SMTP reply codes start with 2, 3, 4 or 5. "
        )),
    }
    let ns: Vec<&NonStandardRow> = tables::NON_STANDARD
        .iter()
        .filter(|n| n.code == code)
        .collect();
    if let Some(n) = ns.first() {
        e.title = format!("Non-standard: {}", n.meaning);
        meaning.push_str(&format!(
            "Some servers use it with a non-standard meaning: {}.",
            n.meaning
        ));
    } else {
        e.title = "Unknown reply code".to_string();
        meaning.push_str("Read the server's text for the reason.");
    }
    e.meaning = meaning.trim_end().to_string();
    e
}

/// `5XX`-style: the meaning of a first digit.
fn explain_basic_class(first: u16, token: String) -> Explanation {
    let mut e = empty(Family::SmtpBasic, token);
    e.references.push("RFC 5321".to_string());
    match basic_class_text(first) {
        Some(text) => {
            e.permanence = smtp_permanence(first);
            e.title = format!("Reply class {first}");
            e.meaning = format!("Reply codes starting with {first}: {text}.");
            e.related = tables::BASIC
                .iter()
                .filter(|r| r.code / 100 == first)
                .map(|r| format!("{:03}", r.code))
                .fold(Vec::new(), |mut v, c| {
                    push_unique(&mut v, c);
                    v
                });
            e.related.sort();
        }
        None => {
            e.known = false;
            e.title = "Invalid reply class".to_string();
            e.meaning =
                format!("Class {first} is not valid: SMTP reply codes start with 2, 3, 4 or 5.");
        }
    }
    e
}

// ---------------------------------------------------------------------------------------------
// SMTP enhanced status codes.

/// A parsed enhanced token: class (None for `X`), subject and detail (None for a wildcard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EnhancedToken {
    class: Option<u16>,
    subject: Option<u16>,
    detail: Option<u16>,
}

/// Parses `C.S.D`, `C.S`, with `X` for the class and `XXX`/`YYY` for wildcards. Numeric parts
/// are 1 to 3 digits.
fn parse_enhanced(up: &str) -> Option<EnhancedToken> {
    fn num(p: &str) -> Option<Option<u16>> {
        if (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) {
            return p.parse::<u16>().ok().map(Some);
        }
        if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b == b'X' || b == b'Y') {
            return Some(None);
        }
        None
    }
    let mut parts = up.split('.');
    let c = parts.next()?;
    let s = parts.next()?;
    let d = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let class = if c == "X" {
        None
    } else if c.len() == 1 && c.bytes().all(|b| b.is_ascii_digit()) {
        c.parse::<u16>().ok()
    } else {
        return None;
    };
    let subject = num(s)?;
    let detail = match d {
        Some(d) => num(d)?,
        None => None,
    };
    if subject.is_none() && detail.is_some() {
        return None;
    }
    Some(EnhancedToken {
        class,
        subject,
        detail,
    })
}

fn enhanced_display(t: &EnhancedToken) -> String {
    let c = t.class.map_or("X".to_string(), |c| c.to_string());
    match (t.subject, t.detail) {
        (Some(s), Some(d)) => format!("{c}.{s}.{d}"),
        (Some(s), None) => format!("{c}.{s}.YYY"),
        _ => format!("{c}.XXX.YYY"),
    }
}

fn class_row(class: u16) -> Option<&'static SubCodeRow> {
    tables::SUBCODES
        .iter()
        .find(|r| r.kind == SubCodeKind::Class && r.digit == class)
}

fn subject_row(subject: u16) -> Option<&'static SubCodeRow> {
    tables::SUBCODES
        .iter()
        .find(|r| r.kind == SubCodeKind::Subject && r.digit == subject)
}

fn enhanced_row(subject: u16, detail: u16) -> Option<&'static EnhancedRow> {
    tables::ENHANCED
        .iter()
        .find(|r| r.subject == subject && r.detail == detail)
}

fn invalid_enhanced(raw: &str) -> Explanation {
    let mut e = empty(Family::SmtpEnhanced, display_token(raw));
    e.known = false;
    e.title = "Not an enhanced status code".to_string();
    e.meaning = "This is not a valid enhanced status code. The form is class.subject.detail: \
                 class 2, 4 or 5, subject and detail each 1 to 3 digits (for example 5.1.1)."
        .to_string();
    e.references.push("RFC 3463".to_string());
    e
}

fn explain_enhanced(t: EnhancedToken) -> Explanation {
    let token = enhanced_display(&t);
    let mut e = empty(Family::SmtpEnhanced, token.clone());
    // Class validity first.
    let class_info = match t.class {
        Some(c) => match class_row(c) {
            Some(row) => Some(row),
            None => {
                e.known = false;
                e.title = "Invalid enhanced status class".to_string();
                e.meaning = format!(
                    "{token} is not a valid enhanced status code: its class {c} is not one of \
                     2 (success), 4 (persistent transient failure) or 5 (permanent failure)."
                );
                e.references.push("RFC 3463".to_string());
                return e;
            }
        },
        None => None,
    };
    e.permanence = t.class.and_then(smtp_permanence);
    let Some(subject) = t.subject else {
        // A class sub-code (or X.XXX.YYY, which names nothing).
        return match class_info {
            Some(row) => {
                e.title = row.summary.to_string();
                e.meaning = notes::subcode(row.code)
                    .map(|n| n.meaning.to_string())
                    .unwrap_or_else(|| row.summary.to_string());
                e.references.push(fmt_ref(row.reference));
                e
            }
            None => {
                e.known = false;
                e.title = "No class or subject".to_string();
                e.meaning = "X.XXX.YYY names neither a class nor a subject. Use a class \
                             (5.XXX.YYY), a subject (X.7.YYY) or a code (5.7.1)."
                    .to_string();
                e.references.push("RFC 3463".to_string());
                e
            }
        };
    };
    let Some(srow) = subject_row(subject) else {
        e.known = false;
        e.title = "Unknown enhanced status subject".to_string();
        let class_part = match (t.class, class_info) {
            (Some(c), Some(row)) => format!("Its class {c} ({}) is valid, but", row.summary),
            _ => "Its".to_string(),
        };
        e.meaning = format!(
            "{token} is not a registered enhanced status code. {class_part} subject {subject} \
             is not defined: subjects run from 0 to 7."
        );
        e.references.push("RFC 3463".to_string());
        return e;
    };
    let Some(detail) = t.detail else {
        // A subject sub-code.
        e.title = srow.summary.to_string();
        e.meaning = notes::subcode(srow.code)
            .map(|n| n.meaning.to_string())
            .unwrap_or_else(|| srow.summary.to_string());
        e.references.push(fmt_ref(srow.reference));
        let c = t.class.map_or("X".to_string(), |c| c.to_string());
        e.related = tables::ENHANCED
            .iter()
            .filter(|r| r.subject == subject)
            .map(|r| format!("{c}.{}.{}", r.subject, r.detail))
            .collect();
        return e;
    };
    let Some(row) = enhanced_row(subject, detail) else {
        // Valid subject, unknown detail: explain the subject.
        e.known = false;
        e.title = srow.summary.to_string();
        let class_part = match (t.class, class_info) {
            (Some(c), Some(row)) => format!("Its class {c} ({}) and", row.summary),
            _ => "Its".to_string(),
        };
        let subject_text = notes::subcode(srow.code)
            .map(|n| lc_first(n.meaning))
            .unwrap_or_else(|| lc_title(srow.summary));
        e.meaning = format!(
            "{token} is not a registered enhanced status code. {class_part} subject {subject} \
             ({}) are valid, so read it by its subject: {subject_text}",
            srow.summary
        );
        e.references.push(fmt_ref(srow.reference));
        return e;
    };
    e.title = row.summary.to_string();
    e.references = row.references.iter().map(|r| fmt_ref(r)).collect();
    let generic = notes::enhanced(row.code);
    let specific = t
        .class
        .and_then(|c| notes::enhanced(&format!("{c}.{subject}.{detail}")));
    let mut meaning = generic
        .map(|n| n.meaning.to_string())
        .unwrap_or_else(|| row.summary.to_string());
    if let Some(n) = generic {
        apply_note(&mut e, n);
    }
    if let Some(n) = specific {
        if !n.meaning.is_empty() {
            meaning.push(' ');
            meaning.push_str(n.meaning);
        }
        apply_note(&mut e, n);
    }
    e.meaning = meaning;
    // Basic codes it is registered with (only those of its class when the class is known).
    for b in row.basic_codes {
        let matches_class = match t.class {
            Some(c) => {
                b.eq_ignore_ascii_case("Any")
                    || b.as_bytes()
                        .first()
                        .map(|d| u16::from(d.wrapping_sub(b'0')))
                        == Some(c)
            }
            None => true,
        };
        if matches_class {
            e.related.push((*b).to_string());
        }
    }
    if !row.basic_codes.is_empty() {
        e.contexts.push(format!(
            "registered with reply codes: {}",
            row.basic_codes.join(", ")
        ));
    }
    e
}

/// The notes about how an enhanced code fits the basic code of the same reply.
fn pairing_notes(basic: u16, t: &EnhancedToken) -> Vec<String> {
    let mut out = Vec::new();
    let first = basic / 100;
    let token = enhanced_display(t);
    if let Some(c) = t.class {
        if c != first {
            out.push(format!(
                "The class of {token} ({c}) does not match reply code {basic:03}: the first \
                 digit of the enhanced code should be the first digit of the reply code."
            ));
        }
    }
    if let (Some(s), Some(d)) = (t.subject, t.detail) {
        if let Some(row) = enhanced_row(s, d) {
            let listed = row.basic_codes.iter().any(|b| {
                let b = b.as_bytes();
                if b.eq_ignore_ascii_case(b"Any") {
                    return true;
                }
                let code = format!("{basic:03}");
                let c = code.as_bytes();
                b.len() == 3
                    && b.iter().zip(c.iter()).all(|(x, y)| {
                        x == y || (x.eq_ignore_ascii_case(&b'X') && y.is_ascii_digit())
                    })
            });
            if !row.basic_codes.is_empty() && !listed {
                out.push(format!(
                    "{token} is registered with reply codes {}; this reply uses {basic:03}.",
                    row.basic_codes.join(", ")
                ));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// IMAP and POP3 response codes.

fn explain_imap(up: &str) -> Option<Explanation> {
    let row = tables::IMAP.iter().find(|r| r.code == up)?;
    let mut e = empty(Family::ImapCode, row.code.to_string());
    e.title = row.summary.to_string();
    e.references = row.references.iter().map(|r| fmt_ref(r)).collect();
    match notes::imap(row.code) {
        Some(n) => {
            e.meaning = n.meaning.to_string();
            if !n.usage.is_empty() {
                e.contexts.push(format!("sent with: {}", n.usage));
            }
            apply_note(&mut e, n);
        }
        None => e.meaning = row.summary.to_string(),
    }
    Some(e)
}

fn explain_pop3(up: &str) -> Option<Explanation> {
    if let Some(row) = tables::POP3.iter().find(|r| r.code == up) {
        let mut e = empty(Family::Pop3Code, row.code.to_string());
        e.title = row.summary.to_string();
        e.references.push(fmt_ref(row.reference));
        e.contexts.push(format!(
            "sent with {} in reply to: {}",
            row.kind, row.commands
        ));
        match notes::pop3(row.code) {
            Some(n) => {
                e.meaning = n.meaning.to_string();
                apply_note(&mut e, n);
            }
            None => e.meaning = row.summary.to_string(),
        }
        return Some(e);
    }
    // Hierarchical codes (RFC 2449 section 8): an unknown child is read as its parent.
    let (parent, _) = up.split_once('/')?;
    let mut e = empty(Family::Pop3Code, display_token(up));
    e.known = false;
    e.references.push("RFC 2449".to_string());
    if let Some(row) = tables::POP3.iter().find(|r| r.code == parent) {
        e.title = row.summary.to_string();
        let parent_text = notes::pop3(row.code).map_or(row.summary, |n| n.meaning);
        e.meaning = format!(
            "{} is not a registered POP3 response code. Response codes are hierarchical, so a \
             client reads it as its parent {}: {parent_text}",
            display_token(up),
            row.code
        );
        push_unique(&mut e.references, fmt_ref(row.reference));
        e.related.push(row.code.to_string());
        return Some(e);
    }
    let children: Vec<&Pop3Row> = tables::POP3
        .iter()
        .filter(|r| {
            r.code
                .split_once('/')
                .is_some_and(|(p, _)| p.eq_ignore_ascii_case(parent))
        })
        .collect();
    if let Some(first) = children.first() {
        e.title = format!("{parent} response code");
        let parent_text = notes::pop3_parent(parent).unwrap_or("");
        e.meaning = format!(
            "{} is not a registered POP3 response code. Response codes are hierarchical: it \
             belongs to {parent}, {parent_text} The registered ones are {}.",
            display_token(up),
            children
                .iter()
                .map(|r| r.code)
                .collect::<Vec<_>>()
                .join(" and ")
        );
        push_unique(&mut e.references, fmt_ref(first.reference));
        e.related = children.iter().map(|r| r.code.to_string()).collect();
        return Some(e);
    }
    None
}

fn unknown_atom(raw: &str) -> Explanation {
    let shown = display_token(raw);
    let family = if raw.contains('/') {
        Family::Pop3Code
    } else {
        Family::ImapCode
    };
    let mut e = empty(family, shown.clone());
    e.known = false;
    e.title = "Unknown code".to_string();
    e.meaning = if shown.is_empty() {
        "No code was given.".to_string()
    } else {
        format!(
            "{shown} is not a known SMTP reply code, enhanced status code, IMAP response code or \
             POP3 response code. Servers may use private codes (often starting with X); then \
             the text that follows the code is the only explanation."
        )
    };
    e
}

// ---------------------------------------------------------------------------------------------
// Tokens.

/// Explains one token: `550`, `5.1.1`, `X.1.1`, `4.7.0`, `5.XXX.YYY`, `X.7.YYY`, `5XX`,
/// `AUTHENTICATIONFAILED`, `[OVERQUOTA]`, `SYS/TEMP`, `[IN-USE]` (case-insensitive). A whole
/// reply line (`550 5.7.1 Relaying denied`, `A1 NO [OVERQUOTA] ...`, `-ERR [IN-USE] ...`) is
/// explained like [`explain_reply`]. An unknown token gives one explanation with
/// `known == false`. Never empty.
pub fn explain(token: &str) -> Vec<Explanation> {
    let t = token.trim();
    if !t.starts_with('[') && t.chars().any(char::is_whitespace) {
        let v = explain_line(t);
        if !v.is_empty() {
            return v;
        }
        return vec![unknown_atom(t)];
    }
    vec![explain_one(t)]
}

/// A token with whitespace: a reply line of whichever protocol it belongs to.
fn explain_line(t: &str) -> Vec<Explanation> {
    match line_protocol(t.as_bytes()) {
        Some(p) => explain_reply(p, t.as_bytes()),
        None => Vec::new(),
    }
}

/// A line as a user pastes it: the line prefix of mailtalk's own transcript (`S: `, `S# `,
/// `S! `, `C: `…) and a transcript file's `[  0.012] ` time stamp are taken off.
pub fn strip_transcript_prefix(line: &str) -> &str {
    let mut rest = line.trim();
    if let Some(after) = rest.strip_prefix('[') {
        if let Some((stamp, tail)) = after.split_once(']') {
            if !stamp.is_empty()
                && stamp
                    .trim()
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.')
            {
                rest = tail.trim_start();
            }
        }
    }
    for prefix in ["S: ", "S# ", "S! ", "C: ", "C# ", "C! "] {
        if let Some(tail) = rest.strip_prefix(prefix) {
            return tail.trim_start();
        }
    }
    rest
}

/// Explains what a user pasted: one or more codes (`550`, `5.1.1`, `[OVERQUOTA]`), or a whole
/// reply line of any protocol (`550 5.1.1 ...`, `-ERR [IN-USE] locked`, `A001 NO
/// [OVERQUOTA] ...`, `S: 550 ...` copied from a transcript). `protocol` overrides the guess.
pub fn explain_pasted(text: &str, protocol: Option<Protocol>) -> Vec<Explanation> {
    let line = strip_transcript_prefix(text);
    let codes_only = !line.is_empty()
        && line.split_ascii_whitespace().all(|w| {
            w.bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'x' | b'X' | b'y' | b'Y'))
                || (w.starts_with('[') && w.ends_with(']'))
        });
    let as_line = line.contains(char::is_whitespace) && !codes_only;
    if as_line {
        let p = protocol.or_else(|| line_protocol(line.as_bytes()));
        return match p {
            Some(p) => explain_reply(p, line.as_bytes()),
            None => Vec::new(),
        };
    }
    line.split_ascii_whitespace().flat_map(explain).collect()
}

fn explain_one(t: &str) -> Explanation {
    let inner = match t.strip_prefix('[') {
        Some(rest) => {
            let end = rest.find(']').unwrap_or(rest.len());
            let inside = rest.get(..end).unwrap_or("");
            inside.split_whitespace().next().unwrap_or("")
        }
        None => t,
    };
    let up = inner.to_ascii_uppercase();
    let b = up.as_bytes();
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return match (b.len(), up.parse::<u16>()) {
            (3, Ok(code)) => explain_basic(code),
            _ => {
                let mut e = empty(Family::SmtpBasic, display_token(&up));
                e.known = false;
                e.title = "Not a reply code".to_string();
                e.meaning = "SMTP reply codes have exactly three digits (for example 550); \
                             enhanced status codes have three parts (for example 5.1.1)."
                    .to_string();
                e.references.push("RFC 5321".to_string());
                e
            }
        };
    }
    if let [d, b'X', b'X'] = b {
        if d.is_ascii_digit() {
            return explain_basic_class(u16::from(d.saturating_sub(b'0')), up.clone());
        }
    }
    if up.contains('.')
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'X' | b'Y'))
    {
        return match parse_enhanced(&up) {
            Some(tok) => explain_enhanced(tok),
            None => invalid_enhanced(&up),
        };
    }
    if let Some(e) = explain_pop3(&up) {
        return e;
    }
    if let Some(e) = explain_imap(&up) {
        return e;
    }
    unknown_atom(inner)
}

// ---------------------------------------------------------------------------------------------
// Reply lines.

/// SMTP: the reply code at the start of a line.
fn parse_smtp_code(line: &[u8]) -> Option<u16> {
    ReplyLine::parse(line).map(|l| l.code.value())
}

/// SMTP: the enhanced code after the reply code, if the line has one.
fn parse_smtp_enhanced(line: &[u8]) -> Option<EnhancedToken> {
    ReplyLine::parse(line)?.enhanced.map(token_of)
}

/// An enhanced code from the wire as a token.
fn token_of(e: EnhancedCode) -> EnhancedToken {
    EnhancedToken {
        class: Some(u16::from(e.class)),
        subject: Some(e.subject),
        detail: Some(e.detail),
    }
}

/// The atom of a response code (`OVERQUOTA` of `[OVERQUOTA]`, `LOGIN-DELAY` of
/// `[LOGIN-DELAY 900]`), upper-cased: printable ASCII without specials, at most 64 bytes.
fn code_atom(name: &[u8]) -> Option<String> {
    let atom: Vec<u8> = name
        .iter()
        .take_while(|b| b.is_ascii_graphic() && !matches!(b, b']' | b'[' | b'(' | b')' | b'{'))
        .take(65)
        .copied()
        .collect();
    if atom.is_empty() || atom.len() > 64 {
        return None;
    }
    String::from_utf8(atom).ok().map(|s| s.to_ascii_uppercase())
}

/// IMAP: (status word, response code) of a status line `TAG STATUS [CODE ...] text` or
/// `* STATUS [CODE ...] text`.
fn parse_imap(line: &[u8]) -> Option<(String, Option<String>)> {
    let r = ImapLine::parse(line);
    let (status, _) = r.status.clone()?;
    let code = r.code_parts(line).and_then(|(name, _)| code_atom(name));
    Some((status.name().to_string(), code))
}

/// POP3: (status, response code) of `+OK [CODE] text` / `-ERR [CODE] text`.
fn parse_pop3(line: &[u8]) -> Option<(String, Option<String>)> {
    let s = Pop3Line::parse(line)?;
    let status = match s.indicator {
        Indicator::Ok => "+OK",
        Indicator::Err => "-ERR",
        Indicator::Continue => return None,
    };
    let code = s.code_text(line).and_then(code_atom);
    Some((status.to_string(), code))
}

fn explain_code_atom(protocol: Protocol, code: &str) -> Explanation {
    // Only the protocol's own table: an IMAP `[AUTH]` is not the POP3 code.
    let found = match protocol {
        Protocol::Pop3 => explain_pop3(code),
        _ => explain_imap(code),
    };
    found.unwrap_or_else(|| {
        let mut e = unknown_atom(code);
        e.family = if protocol == Protocol::Pop3 {
            Family::Pop3Code
        } else {
            Family::ImapCode
        };
        e
    })
}

/// Explains a whole reply line. SMTP/LMTP `550 5.7.1 Relaying denied`: the basic code, then
/// the enhanced code if present (with notes when the two do not fit together, e.g. `250
/// 5.1.1`). IMAP `A1 NO [OVERQUOTA] ...` and POP3 `-ERR [IN-USE] ...`: the response code.
/// Empty when the line carries no code.
pub fn explain_reply(protocol: Protocol, line: &[u8]) -> Vec<Explanation> {
    match protocol {
        Protocol::Smtp | Protocol::Lmtp => {
            let Some(code) = parse_smtp_code(line) else {
                return Vec::new();
            };
            let basic = explain_basic(code);
            let mut out = Vec::new();
            if let Some(t) = parse_smtp_enhanced(line) {
                let mut enh = explain_enhanced(t);
                let key = format!("{code:03} {}", enhanced_display(&t));
                if let Some(pair) = notes::pair(&key) {
                    if !pair.meaning.is_empty() {
                        enh.meaning.push(' ');
                        enh.meaning.push_str(pair.meaning);
                    }
                    apply_note(&mut enh, pair);
                }
                enh.notes.extend(pairing_notes(code, &t));
                out.push(basic);
                out.push(enh);
            } else {
                out.push(basic);
            }
            out
        }
        Protocol::Imap => match parse_imap(line) {
            Some((_, Some(code))) => vec![explain_code_atom(protocol, &code)],
            _ => Vec::new(),
        },
        Protocol::Pop3 => match parse_pop3(line) {
            Some((_, Some(code))) => vec![explain_code_atom(protocol, &code)],
            _ => Vec::new(),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Causes stated by the text.

/// The text of a reply as [`causes`] searches it: its lines joined with line breaks, cut at
/// [`causes::MAX_TEXT`] bytes.
fn reply_text(lines: &[Vec<u8>]) -> String {
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        if text.len() >= causes::MAX_TEXT {
            break;
        }
        if i > 0 {
            text.push('\n');
        }
        let room = causes::MAX_TEXT.saturating_sub(text.len());
        let piece = line.get(..line.len().min(room)).unwrap_or(&[]);
        text.push_str(&String::from_utf8_lossy(piece));
    }
    text
}

/// The causes the text of a reply states, best first; empty when its text says nothing the
/// knowledge base knows (and always for SMTP successes and prompts).
pub fn reply_causes(protocol: Protocol, reply: &Reply) -> Vec<&'static causes::Cause> {
    let text = reply_text(&reply.lines);
    causes::find(&causes::Query {
        protocol,
        code: reply.code_value(),
        enhanced: reply.enhanced,
        text: &text,
    })
}

/// The causes a pasted line states: `line` already stripped of a transcript prefix.
fn line_causes(line: &str, protocol: Option<Protocol>) -> Vec<&'static causes::Cause> {
    let Some(protocol) = protocol.or_else(|| line_protocol(line.as_bytes())) else {
        return Vec::new();
    };
    let parsed = match protocol {
        Protocol::Smtp | Protocol::Lmtp => ReplyLine::parse(line.as_bytes()),
        _ => None,
    };
    causes::find(&causes::Query {
        protocol,
        code: parsed.map(|l| l.code.value()),
        enhanced: parsed.and_then(|l| l.enhanced),
        text: line,
    })
}

/// What `explain` and `:explain` say, as blocks of plain text: the cause the text states
/// first (with the others it may be), then each code.
#[derive(Debug, Default)]
pub struct Report {
    pub blocks: Vec<String>,
    /// False when a code is not in the tables.
    pub all_known: bool,
}

impl Report {
    fn new(causes: &[&causes::Cause], codes: &[Explanation]) -> Report {
        let mut blocks = Vec::new();
        if let Some((best, others)) = causes.split_first() {
            let mut block = render_cause(best);
            if !others.is_empty() {
                let titles: Vec<&str> = others.iter().map(|c| c.title.as_str()).collect();
                block.push_str(&format!("  Also possible: {}\n", titles.join("; ")));
            }
            blocks.push(block);
        }
        blocks.extend(codes.iter().map(render_text));
        Report {
            blocks,
            all_known: codes.iter().all(|e| e.known),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

/// [`Report`] of what a user pasted (see [`explain_pasted`] for what is accepted).
pub fn report_pasted(text: &str, protocol: Option<Protocol>) -> Report {
    let line = strip_transcript_prefix(text);
    Report::new(
        &line_causes(line, protocol),
        &explain_pasted(line, protocol),
    )
}

/// [`Report`] of a reply the session received.
pub fn report_reply(protocol: Protocol, reply: &Reply) -> Report {
    Report::new(
        &reply_causes(protocol, reply),
        &explain_reply(protocol, reply.last_line()),
    )
}

// ---------------------------------------------------------------------------------------------
// Short lines.

/// One short line to show (dimmed) after a reply that is not a plain success: the cause its
/// text states, if the knowledge base knows it, then what the codes mean, e.g. `AUTH is not
/// offered here; 503 5.5.1: permanent failure - ...` or `550 5.1.1: permanent failure - the
/// mailbox does not exist (bad destination mailbox address, RFC 3463)`. None for SMTP
/// 2xx/3xx, IMAP OK/PREAUTH and continuations, POP3 +OK and `+ `.
pub fn short_line(protocol: Protocol, reply: &Reply) -> Option<String> {
    let codes = code_short_line(protocol, reply)?;
    Some(match reply_causes(protocol, reply).first() {
        // The cause the text states comes first: it is what the user needs to read.
        Some(cause) => format!("{}; {codes}", cause.title),
        None => codes,
    })
}

/// The codes part of [`short_line`].
fn code_short_line(protocol: Protocol, reply: &Reply) -> Option<String> {
    if matches!(reply.outcome, Outcome::Ok | Outcome::Continue) {
        return None;
    }
    let last = reply.lines.last().map(Vec::as_slice).unwrap_or(&[]);
    match protocol {
        Protocol::Smtp | Protocol::Lmtp => {
            let code = reply.code_value().or_else(|| parse_smtp_code(last))?;
            if matches!(code / 100, 2 | 3) {
                return None;
            }
            let enh = match reply.enhanced {
                Some(e) => Some(token_of(e)),
                None => parse_smtp_enhanced(last),
            };
            Some(smtp_short(code, enh))
        }
        Protocol::Imap => {
            if reply.tag.as_deref() == Some("+") {
                return None;
            }
            let (status, code) = match parse_imap(last) {
                Some(found) => found,
                None => {
                    let s = match reply.outcome {
                        Outcome::No => "NO",
                        Outcome::Bad => "BAD",
                        Outcome::Bye => "BYE",
                        _ => return None,
                    };
                    (s.to_string(), None)
                }
            };
            if status == "OK" || status == "PREAUTH" {
                return None;
            }
            Some(atom_short(Protocol::Imap, &status, code.as_deref()))
        }
        Protocol::Pop3 => {
            let (status, code) = match parse_pop3(last) {
                Some(found) => found,
                None if reply.outcome == Outcome::PermFail => ("-ERR".to_string(), None),
                None => return None,
            };
            if status == "+OK" {
                return None;
            }
            Some(atom_short(Protocol::Pop3, &status, code.as_deref()))
        }
    }
}

fn smtp_short(code: u16, enh: Option<EnhancedToken>) -> String {
    let basic = explain_basic(code);
    let perm = basic.permanence.unwrap_or("invalid reply code");
    let basic_short = notes::basic(code)
        .map(|n| n.short)
        .filter(|s| !s.is_empty());
    let mut out = match enh {
        Some(t) => {
            let e = explain_enhanced(t);
            let shown = enhanced_display(&t);
            let key = format!("{code:03} {shown}");
            let gist = notes::pair(&key)
                .map(|n| n.short)
                .filter(|s| !s.is_empty())
                .or_else(|| {
                    t.class
                        .and_then(|_| notes::enhanced(&shown))
                        .map(|n| n.short)
                        .filter(|s| !s.is_empty())
                })
                .or_else(|| {
                    let x = format!("X.{}.{}", t.subject.unwrap_or(0), t.detail.unwrap_or(0));
                    notes::enhanced(&x)
                        .map(|n| n.short)
                        .filter(|s| !s.is_empty())
                });
            if e.known {
                let refs = e.references.join(", ");
                match gist {
                    Some(g) => format!(
                        "{code:03} {shown}: {perm}{DASH}{g} ({}, {refs})",
                        lc_title(&e.title)
                    ),
                    None => format!(
                        "{code:03} {shown}: {perm}{DASH}{} ({refs})",
                        lc_title(&e.title)
                    ),
                }
            } else {
                let b = basic_short.unwrap_or("unknown reply code");
                format!(
                    "{code:03} {shown}: {perm}{DASH}{b}; {shown} is not a registered code ({})",
                    lc_title(&e.title)
                )
            }
        }
        None => {
            if basic.known {
                let g = basic_short
                    .map(str::to_string)
                    .unwrap_or_else(|| lc_title(&basic.title));
                format!(
                    "{code:03}: {perm}{DASH}{g} ({})",
                    basic.references.join(", ")
                )
            } else {
                format!("{code:03}: {perm}{DASH}{}", lc_title(&basic.title))
            }
        }
    };
    if let Some(t) = enh {
        if let Some(c) = t.class {
            if c != code / 100 {
                out.push_str(&format!(
                    " [class {c} of {} does not match {code:03}]",
                    enhanced_display(&t)
                ));
            }
        }
    }
    out
}

fn atom_short(protocol: Protocol, status: &str, code: Option<&str>) -> String {
    let Some(code) = code else {
        let what = match (protocol, status) {
            (Protocol::Imap, "NO") => "the command failed; the server gave no response code",
            (Protocol::Imap, "BAD") => {
                "the server rejected the command as invalid (unknown command, bad syntax or \
                 wrong state)"
            }
            (Protocol::Imap, "BYE") => "the server is closing the connection",
            (Protocol::Pop3, _) => "the command failed; the server gave no response code",
            _ => "not a success",
        };
        return format!("{status}: {what}");
    };
    let e = explain_code_atom(protocol, code);
    let shown = display_token(code);
    if e.known {
        let gist = match e.family {
            Family::ImapCode => notes::imap(&e.token).map(|n| n.short),
            _ => notes::pop3(&e.token).map(|n| n.short),
        }
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| lc_title(&e.title));
        format!("{status} [{shown}]: {gist} ({})", e.references.join(", "))
    } else if e.family == Family::Pop3Code && !e.related.is_empty() {
        format!(
            "{status} [{shown}]: unregistered code, read as {} ({})",
            e.related.join(" or "),
            lc_title(&e.title)
        )
    } else {
        format!("{status} [{shown}]: unregistered response code; the text is the explanation")
    }
}

// ---------------------------------------------------------------------------------------------
// Text rendering.

const WIDTH: usize = 78;

/// Word-wraps `text` to [`WIDTH`], the first line after `first`, the others after `indent`.
fn wrap_into(out: &mut String, first: &str, indent: &str, text: &str) {
    let mut line = first.to_string();
    let mut empty_line = true;
    for word in text.split_whitespace() {
        if !empty_line && line.len().saturating_add(1).saturating_add(word.len()) > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
            empty_line = true;
        }
        if !empty_line {
            line.push(' ');
        }
        line.push_str(word);
        empty_line = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn render_list(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str("  ");
    out.push_str(heading);
    out.push_str(":\n");
    for item in items {
        wrap_into(out, "    - ", "      ", item);
    }
}

/// Multi-line plain text for a cause the text of a reply states (no colours): shown before
/// the explanations of its codes.
///
/// ```text
/// Cause: AUTH is not offered here (auth; wording of Postfix)
///   The server has SMTP authentication switched off ...
///   What to check:
///     - ...
/// ```
fn render_cause(c: &causes::Cause) -> String {
    let mut out = String::new();
    let mut head = format!("Cause: {} ({}", c.title, c.category);
    if !c.servers.is_empty() {
        head.push_str("; wording of ");
        head.push_str(&c.servers.join(", "));
    }
    head.push(')');
    out.push_str(&head);
    out.push('\n');
    wrap_into(&mut out, "  ", "  ", &c.explain);
    render_list(&mut out, "What to check", &c.checks);
    out
}

/// Multi-line plain text for `mailtalk explain` (no colours).
///
/// ```text
/// 550 - SMTP reply code, permanent failure
///   Requested action not taken: mailbox unavailable
///   Meaning: ...
///   Usual causes:
///     - ...
///   What to check:
///     - ...
///   References: RFC 5321
/// ```
pub fn render_text(e: &Explanation) -> String {
    let mut out = String::new();
    let token = if e.token.is_empty() {
        "(empty)"
    } else {
        e.token.as_str()
    };
    let mut head = format!("{token} - {}", e.family.label());
    if let Some(p) = e.permanence {
        head.push_str(", ");
        head.push_str(p);
    }
    if !e.known {
        head.push_str(" (unknown)");
    }
    out.push_str(&head);
    out.push('\n');
    if !e.title.is_empty() {
        wrap_into(&mut out, "  ", "  ", &e.title);
    }
    if !e.meaning.is_empty() {
        wrap_into(&mut out, "  Meaning: ", "    ", &e.meaning);
    }
    render_list(&mut out, "Where it is used", &e.contexts);
    let causes: Vec<String> = e.causes.iter().map(|s| s.to_string()).collect();
    render_list(&mut out, "Usual causes", &causes);
    let checks: Vec<String> = e.checks.iter().map(|s| s.to_string()).collect();
    render_list(&mut out, "What to check", &checks);
    render_list(&mut out, "Notes", &e.notes);
    if !e.related.is_empty() {
        wrap_into(&mut out, "  See also: ", "    ", &e.related.join(", "));
    }
    if !e.references.is_empty() {
        wrap_into(&mut out, "  References: ", "    ", &e.references.join(", "));
    }
    out
}

#[cfg(test)]
mod tests;
