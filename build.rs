//! Prepares the knowledge base of `src/explain/causes.rs` for a fast start.
//!
//! Parsing `causes.toml` and compiling its patterns took longer than everything else
//! `mailtalk explain` does. This script reads the file at build time and writes its tables as
//! Rust constants, and works out for each pattern literals one of which every match contains
//! (a prefilter: a pattern none of whose literals a reply contains is not even compiled).
//!
//! It never fails the build over the data: when the file does not parse, or a table does not
//! fit its fields, it writes `None`, and the library reads the TOML itself and reports the
//! problem as it always did. The library checks the data on its own (`causes::load_errors`),
//! and its tests check that the constants say what the TOML says and that the prefilter never
//! drops a match.

use std::fmt::Write as _;
use std::path::PathBuf;

use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use serde::Deserialize;

#[allow(dead_code)]
#[path = "src/explain/causes_raw.rs"]
mod causes_raw;

use causes_raw::{RawCategory, RawCause};

const DATA: &str = "src/explain/data/causes.toml";

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    category: Vec<RawCategory>,
    #[serde(default)]
    cause: Vec<RawCause>,
}

fn main() {
    println!("cargo:rerun-if-changed={DATA}");
    println!("cargo:rerun-if-changed=src/explain/causes_raw.rs");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let code = std::fs::read_to_string(DATA)
        .ok()
        .and_then(|text| toml::from_str::<RawFile>(&text).ok())
        .map_or_else(|| "None".to_string(), |raw| prepared(&raw));
    if let Err(e) = std::fs::write(out.join("causes.rs"), code) {
        println!("cargo:warning=cannot write causes.rs: {e}");
    }
}

/// The expression `Some(&Prepared { .. })` (types of src/explain/causes.rs).
fn prepared(raw: &RawFile) -> String {
    let mut out = String::from("Some(&Prepared {\n    categories: &[\n");
    for c in &raw.category {
        let _ = writeln!(
            out,
            "        PreparedCategory {{ id: {:?}, about: {:?} }},",
            c.id, c.about
        );
    }
    out.push_str("    ],\n    causes: &[\n");
    for c in &raw.cause {
        let literals = match literals(&c.text) {
            Some(l) => format!("Some(&{l:?})"),
            None => "None".to_string(),
        };
        let _ = writeln!(
            out,
            "        PreparedCause {{ id: {:?}, protocols: &{:?}, codes: &{:?}, text: {:?}, \
             servers: &{:?}, category: {:?}, priority: {:?}, title: {:?}, explain: {:?}, \
             checks: &{:?}, literals: {literals} }},",
            c.id,
            c.protocols,
            c.codes,
            c.text,
            c.servers,
            c.category,
            c.priority,
            c.title,
            c.explain,
            c.checks,
        );
    }
    out.push_str("    ],\n})\n");
    out
}

/// Literals one of which every match of `pattern` contains, folded; `None` when there are no
/// such literals (or the pattern does not parse: the library reports that).
///
/// The pattern is read case-sensitively: a case-insensitive match is a case variant of a
/// case-sensitive one, and folding the literals and the text alike makes up the difference.
fn literals(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(false)
        .build()
        .parse(pattern)
        .ok()?;
    let mut best: Option<Vec<String>> = None;
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let seq = Extractor::new().kind(kind).extract(&hir);
        let Some(found) = folded(&seq) else {
            continue;
        };
        let shortest = |l: &[String]| l.iter().map(String::len).min().unwrap_or(0);
        if best
            .as_deref()
            .is_none_or(|b| shortest(&found) > shortest(b))
        {
            best = Some(found);
        }
    }
    best
}

/// The literals of a finite sequence, each cut to its longest UTF-8 prefix and folded, without
/// duplicates; `None` for an infinite sequence or one with an empty literal.
fn folded(seq: &Seq) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for lit in seq.literals()? {
        let bytes = lit.as_bytes();
        let valid = match std::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to())?).ok()?,
        };
        let f = fold(valid);
        if f.is_empty() {
            return None;
        }
        if !out.contains(&f) {
            out.push(f);
        }
    }
    if out.is_empty() {
        return None;
    }
    Some(out)
}

/// The folding of `fold` in src/explain/causes.rs (whose tests check the literals are folded).
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{17F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}
