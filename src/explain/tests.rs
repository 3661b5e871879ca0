use super::*;
use crate::proto::{Outcome, Protocol, Reply};
use std::path::PathBuf;

fn one(token: &str) -> Explanation {
    let mut v = explain(token);
    assert_eq!(v.len(), 1, "{token}: {v:?}");
    v.remove(0)
}

fn reply(outcome: Outcome, code: Option<u16>, enhanced: Option<&str>, line: &[u8]) -> Reply {
    Reply {
        code: code.and_then(crate::proto::smtp::Code::new),
        enhanced: enhanced.and_then(crate::proto::smtp::EnhancedCode::parse),
        ..Reply::line(outcome, line.to_vec())
    }
}

// --- tables -----------------------------------------------------------------------------------

#[test]
fn counts_match_the_generated_tables() {
    // Data rows per the registry README: 64 basic, 81 enhanced, 62 IMAP, 6 POP3.
    assert_eq!(counts(), (64, 81, 62, 6));
    assert_eq!(tables::SUBCODES.len(), 11);
    assert_eq!(tables::NON_STANDARD.len(), 15);
    // And the same numbers counted from the generated source text itself.
    let src = include_str!("tables.rs");
    let rows = |prefix: &str| {
        src.lines()
            .filter(|l| l.trim_start().starts_with(prefix))
            .count()
    };
    assert_eq!(
        counts(),
        (
            rows("BasicRow {"),
            rows("EnhancedRow {"),
            rows("ImapRow {"),
            rows("Pop3Row {")
        )
    );
}

/// The registry files the tables are generated from; their README says where they come from
/// and of which date.
fn registries_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/explain/data/registries")
}

/// Data rows of a registry TSV file (comments and the header skipped).
fn tsv_rows(dir: &std::path::Path, name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn list(field: &str) -> Vec<String> {
    field
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn tables_match_the_registry_files() {
    let dir = registries_dir();
    let basic = tsv_rows(&dir, "smtp-reply-codes.tsv");
    assert_eq!(basic.len(), tables::BASIC.len());
    for r in &basic {
        let code: u16 = r[0].parse().unwrap();
        let field = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
        assert!(
            tables::BASIC.iter().any(|b| b.code == code
                && b.summary == field(1)
                && b.reference == field(2)
                && b.context == field(3)
                && b.enhanced == field(4)),
            "basic row missing or different: {r:?}"
        );
    }
    let enhanced = tsv_rows(&dir, "smtp-enhanced-status-codes.tsv");
    assert_eq!(enhanced.len(), tables::ENHANCED.len());
    for r in &enhanced {
        let row = tables::ENHANCED
            .iter()
            .find(|e| e.code == r[0])
            .unwrap_or_else(|| panic!("enhanced code missing: {}", r[0]));
        assert_eq!(row.summary, r[1]);
        assert_eq!(row.basic_codes.to_vec(), list(&r[2]), "{}", r[0]);
        assert_eq!(row.references.to_vec(), list(&r[3]), "{}", r[0]);
    }
    let subcodes = tsv_rows(&dir, "smtp-enhanced-classes.tsv");
    assert_eq!(subcodes.len(), tables::SUBCODES.len());
    for r in &subcodes {
        let row = tables::SUBCODES.iter().find(|s| s.code == r[0]).unwrap();
        assert_eq!(row.summary, r[2]);
        assert_eq!(row.reference, r[3]);
    }
    let imap = tsv_rows(&dir, "imap-response-codes.tsv");
    assert_eq!(imap.len(), tables::IMAP.len());
    for r in &imap {
        let row = tables::IMAP
            .iter()
            .find(|e| e.code == r[0])
            .unwrap_or_else(|| panic!("IMAP code missing: {}", r[0]));
        assert_eq!(row.references.to_vec(), list(&r[1]), "{}", r[0]);
        assert_eq!(row.summary, r[2]);
    }
    let pop3 = tsv_rows(&dir, "pop3-response-codes.tsv");
    assert_eq!(pop3.len(), tables::POP3.len());
    for r in &pop3 {
        let row = tables::POP3.iter().find(|e| e.code == r[0]).unwrap();
        assert_eq!(row.reference, r[1]);
        assert_eq!(row.summary, r[2]);
        assert_eq!(row.commands, r[4]);
    }
}

#[test]
fn every_table_entry_has_our_prose() {
    for r in tables::BASIC {
        assert!(notes::basic(r.code).is_some(), "no note for {}", r.code);
        if !r.context.is_empty() || r.reference != "RFC5321" {
            assert!(
                notes::basic_context(r.code, r.reference, r.summary).is_some(),
                "no context note for {} {} {}",
                r.code,
                r.reference,
                r.summary
            );
        }
    }
    for r in tables::ENHANCED {
        assert!(notes::enhanced(r.code).is_some(), "no note for {}", r.code);
    }
    for r in tables::SUBCODES {
        assert!(notes::subcode(r.code).is_some(), "no note for {}", r.code);
    }
    for r in tables::IMAP {
        let n = notes::imap(r.code).unwrap_or_else(|| panic!("no note for {}", r.code));
        assert!(!n.usage.is_empty(), "{}", r.code);
    }
    for r in tables::POP3 {
        assert!(notes::pop3(r.code).is_some(), "no note for {}", r.code);
    }
    // Every note is about something in the tables (no stray keys), and all prose is ASCII.
    let all = notes::BASIC
        .iter()
        .chain(notes::ENHANCED)
        .chain(notes::SUBCODES)
        .chain(notes::PAIRS)
        .chain(notes::IMAP)
        .chain(notes::POP3);
    for n in all {
        let text = [n.key, n.short, n.meaning, n.usage]
            .into_iter()
            .chain(n.causes.iter().copied())
            .chain(n.checks.iter().copied());
        for t in text {
            assert!(t.is_ascii(), "non-ASCII in {}: {t}", n.key);
        }
    }
    for n in notes::ENHANCED {
        let x = format!("X{}", n.key.get(1..).unwrap());
        assert!(
            tables::ENHANCED.iter().any(|r| r.code == x),
            "stray enhanced note {}",
            n.key
        );
    }
    for n in notes::PAIRS {
        let (b, e) = n.key.split_once(' ').unwrap();
        assert!(tables::BASIC.iter().any(|r| format!("{:03}", r.code) == b));
        let x = format!("X{}", e.get(1..).unwrap());
        assert!(tables::ENHANCED.iter().any(|r| r.code == x), "{}", n.key);
        assert_eq!(&e[..1], &b[..1], "pair class mismatch {}", n.key);
    }
    for n in notes::IMAP {
        assert!(tables::IMAP.iter().any(|r| r.code == n.key), "{}", n.key);
    }
}

#[test]
fn common_codes_have_causes_and_checks() {
    for t in [
        "550", "554", "421", "451", "535", "530", "552", "452", "454", "503", "501", "555", "450",
        "5.1.1", "5.7.1", "4.7.0", "4.7.1", "5.7.8", "5.7.0", "5.2.2", "5.3.4", "4.5.3", "5.7.26",
        "5.7.23", "5.7.25", "5.7.27", "4.2.1",
    ] {
        let e = one(t);
        assert!(e.known, "{t}");
        assert!(!e.causes.is_empty(), "no causes for {t}");
        assert!(!e.checks.is_empty(), "no checks for {t}");
    }
    for t in [
        "AUTHENTICATIONFAILED",
        "UNAVAILABLE",
        "OVERQUOTA",
        "ALREADYEXISTS",
        "NONEXISTENT",
        "TRYCREATE",
        "PRIVACYREQUIRED",
        "CONTACTADMIN",
        "INUSE",
        "LIMIT",
        "CANNOT",
        "EXPUNGEISSUED",
        "SERVERBUG",
        "CLIENTBUG",
        "NOPERM",
        "ALERT",
        "IN-USE",
        "LOGIN-DELAY",
        "SYS/TEMP",
        "SYS/PERM",
        "AUTH",
    ] {
        let e = one(t);
        assert!(e.known, "{t}");
        assert!(!e.causes.is_empty(), "no causes for {t}");
        assert!(!e.checks.is_empty(), "no checks for {t}");
    }
}

// --- explain() --------------------------------------------------------------------------------

#[test]
fn explain_basic_codes() {
    let e = one("550");
    assert_eq!(e.family, Family::SmtpBasic);
    assert_eq!(e.token, "550");
    assert_eq!(e.title, "Requested action not taken: mailbox unavailable");
    assert_eq!(e.permanence, Some("permanent failure"));
    assert_eq!(e.references, vec!["RFC 5321"]);
    assert!(e.known);
    assert!(e.contexts.is_empty());

    let e = one("421");
    assert_eq!(e.permanence, Some("temporary failure"));
    assert_eq!(
        e.title,
        "<domain> Service not available, closing transmission channel"
    );

    let e = one("354");
    assert_eq!(e.permanence, Some("intermediate"));
    assert_eq!(e.contexts.len(), 1);
    assert!(e.contexts[0].starts_with("DATA (RFC 5321): Start mail input"));

    // Several rows: every context is shown, references collected in order.
    let e = one("501");
    assert_eq!(e.title, "Syntax error in parameters or arguments");
    assert_eq!(e.contexts.len(), 5);
    assert!(e.contexts[0].starts_with("general (RFC 5321): "));
    assert!(e
        .contexts
        .iter()
        .any(|c| c.starts_with("AUTH (RFC 4954): Client response is not valid BASE64 [5.5.2]")));
    assert_eq!(e.references, vec!["RFC 5321", "RFC 3207", "RFC 4954"]);
    assert_eq!(e.related, vec!["5.5.2", "5.7.0"]);

    // No general row: the distinct summaries joined.
    let e = one("454");
    assert_eq!(
        e.title,
        "TLS not available due to temporary reason / Temporary authentication failure"
    );
    let e = one("250");
    assert_eq!(e.contexts.len(), 4);
    assert_eq!(e.permanence, Some("success"));

    // A standard code that also has a non-standard meaning.
    let e = one("432");
    assert!(e.known);
    assert_eq!(e.notes.len(), 1);
    assert!(e.notes[0].contains("Exchange"));
}

#[test]
fn explain_enhanced_codes() {
    let e = one("5.1.1");
    assert_eq!(e.family, Family::SmtpEnhanced);
    assert_eq!(e.token, "5.1.1");
    assert_eq!(e.title, "Bad destination mailbox address");
    assert_eq!(e.permanence, Some("permanent failure"));
    assert_eq!(e.references, vec!["RFC 3463"]);
    assert_eq!(e.related, vec!["550"]);
    assert!(e.known);

    let e = one("x.7.1");
    assert_eq!(e.token, "X.7.1");
    assert_eq!(e.permanence, None);
    assert_eq!(e.title, "Delivery not authorized, message refused");
    assert_eq!(
        e.related,
        vec!["451", "454", "502", "503", "533", "550", "551"]
    );

    let e = one("4.7.0");
    assert_eq!(e.permanence, Some("temporary failure"));
    assert_eq!(e.related, vec!["450", "454"]);
    assert!(e.meaning.contains("As 4.7.0"));
    assert!(e.causes.iter().any(|c| c.contains("rate limiting")));

    let e = one("5.7.26");
    assert_eq!(e.title, "Multiple authentication checks failed");
    assert_eq!(e.references, vec!["RFC 7372"]);
    let e = one("5.7.23");
    assert_eq!(e.references, vec!["RFC 7372", "RFC 7208"]);
    let e = one("5.7.28");
    assert_eq!(e.references, vec!["draft-levine-mailbomb-header-00"]);
    assert!(e.related.is_empty());

    // Class and subject sub-codes.
    let e = one("5.XXX.YYY");
    assert_eq!(e.title, "Permanent Failure");
    assert!(e.known);
    let e = one("X.1.YYY");
    assert_eq!(e.title, "Addressing Status");
    assert_eq!(e.related.len(), 11);
    assert_eq!(e.related[0], "X.1.0");
    let e = one("4.2");
    assert_eq!(e.token, "4.2.YYY");
    assert_eq!(e.title, "Mailbox Status");
    assert_eq!(e.permanence, Some("temporary failure"));
}

#[test]
fn explain_imap_and_pop3_codes() {
    let e = one("AUTHENTICATIONFAILED");
    assert_eq!(e.family, Family::ImapCode);
    assert_eq!(e.title, "Authentication failed");
    assert_eq!(e.references, vec!["RFC 5530", "RFC 9051"]);
    assert_eq!(e.permanence, None);

    let e = one("[trycreate]");
    assert_eq!(e.token, "TRYCREATE");
    assert_eq!(e.contexts, vec!["sent with: NO (APPEND, COPY, MOVE)"]);

    let e = one("[APPENDUID 38505 3955]");
    assert_eq!(e.token, "APPENDUID");

    let e = one("SYS/TEMP");
    assert_eq!(e.family, Family::Pop3Code);
    assert_eq!(e.title, "Temporary system error");
    assert_eq!(e.references, vec!["RFC 3206"]);
    assert_eq!(e.contexts, vec!["sent with -ERR in reply to: All commands"]);

    let e = one("[IN-USE]");
    assert_eq!(e.token, "IN-USE");
    assert_eq!(e.references, vec!["RFC 2449"]);
    assert!(e.known);

    let e = one("in-use");
    assert_eq!(e.token, "IN-USE");
}

#[test]
fn explain_unknown_codes() {
    let e = one("599");
    assert!(!e.known);
    assert_eq!(e.family, Family::SmtpBasic);
    assert_eq!(e.permanence, Some("permanent failure"));
    assert!(e.meaning.contains("class 5 is valid"), "{}", e.meaning);
    assert!(e
        .meaning
        .contains("second digit 9 is not a defined category"));

    let e = one("650");
    assert!(!e.known);
    assert_eq!(e.permanence, None);
    assert!(e.meaning.contains("class 6 is not valid"), "{}", e.meaning);

    let e = one("510");
    assert!(!e.known);
    assert!(e.title.contains("Bad email address"));

    let e = one("5.9.9");
    assert!(!e.known);
    assert_eq!(e.family, Family::SmtpEnhanced);
    assert!(e.meaning.contains("subject 9"), "{}", e.meaning);
    assert!(e.meaning.contains("class 5 (Permanent Failure) is valid"));

    let e = one("5.1.99");
    assert!(!e.known);
    assert_eq!(e.token, "5.1.99");
    assert_eq!(e.title, "Addressing Status");
    assert_eq!(e.permanence, Some("permanent failure"));
    assert!(e.meaning.contains("are valid"), "{}", e.meaning);

    let e = one("3.1.1");
    assert!(!e.known);
    assert!(e.meaning.contains("class 3"));

    let e = one("FOOBAR");
    assert!(!e.known);
    assert_eq!(e.token, "FOOBAR");

    let e = one("SYS/FOO");
    assert!(!e.known);
    assert_eq!(e.family, Family::Pop3Code);
    assert_eq!(e.related, vec!["SYS/PERM", "SYS/TEMP"]);

    let e = one("AUTH/EXPIRED");
    assert!(!e.known);
    assert_eq!(e.related, vec!["AUTH"]);
    assert_eq!(e.title, "Authentication/credentials failure");
}

#[test]
fn explain_odd_tokens_without_panicking() {
    for t in [
        "",
        " ",
        ".",
        "..",
        "5..1",
        "5.1.",
        ".1.1",
        "5.1.1.1",
        "5.1.1000",
        "55.1.1",
        "X.XXX.YYY",
        "9999999999",
        "99999999999999999999999",
        "0",
        "000",
        "5XX",
        "9XX",
        "[",
        "]",
        "[]",
        "[ ]",
        "/",
        "SYS/",
        "/TEMP",
        "\u{fc}ber",
        "\u{1b}[31m",
        "550\u{0}",
        "\u{202e}550",
        "A1 NO",
        "+OK",
        "-ERR [",
    ] {
        let v = explain(t);
        assert!(!v.is_empty(), "{t:?}");
        for e in &v {
            assert!(
                e.token.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                "unprintable token for {t:?}: {:?}",
                e.token
            );
            let text = render_text(e);
            assert!(text.is_ascii(), "{t:?}");
        }
    }
    assert!(!one("").known);
    assert!(!one(".").known);
    assert_eq!(one(".").family, Family::SmtpEnhanced);
    assert!(!one("5..1").known);
    assert!(!one("9999999999").known);
    assert_eq!(one("9999999999").family, Family::SmtpBasic);
    assert_eq!(one("\u{1b}[31m").token, "\\x1b[31m");
    assert_eq!(one("\u{fc}ber").token, "\\u{fc}ber");
    let long = "A".repeat(10_000);
    assert_eq!(one(&long).token.len(), 48 + 3);
    let e = one("5XX");
    assert!(e.known);
    assert_eq!(e.permanence, Some("permanent failure"));
    assert!(e.related.contains(&"550".to_string()));
    assert!(!one("9XX").known);
}

#[test]
fn explain_accepts_whole_lines() {
    let v = explain("550 5.7.1 Relaying denied");
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].token, "550");
    assert_eq!(v[1].token, "5.7.1");
    let v = explain("A1 NO [OVERQUOTA] quota exceeded");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].token, "OVERQUOTA");
    let v = explain("-ERR [SYS/PERM] broken");
    assert_eq!(v[0].token, "SYS/PERM");
    let v = explain("hello world");
    assert_eq!(v.len(), 1);
    assert!(!v[0].known);
}

// --- explain_reply() --------------------------------------------------------------------------

#[test]
fn explain_reply_smtp() {
    let v = explain_reply(Protocol::Smtp, b"550 5.7.1 Relaying denied");
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].family, Family::SmtpBasic);
    assert_eq!(v[0].token, "550");
    assert_eq!(v[1].family, Family::SmtpEnhanced);
    assert_eq!(v[1].token, "5.7.1");
    assert!(v[1].notes.is_empty(), "{:?}", v[1].notes);
    assert!(v[1].meaning.contains("relaying"), "{}", v[1].meaning);
    assert!(v[1].causes[0].starts_with("relaying denied"));

    // Inconsistent pairing is noted.
    let v = explain_reply(Protocol::Smtp, b"250 5.1.1 ok?");
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].notes.len(), 2, "{:?}", v[1].notes);
    assert!(v[1].notes[0].contains("class of 5.1.1 (5) does not match reply code 250"));
    assert!(v[1].notes[1].contains("registered with reply codes 451, 550"));

    // Wildcards and "Any" count as consistent.
    let v = explain_reply(Protocol::Smtp, b"554 5.0.0 no");
    assert!(v[1].notes.is_empty(), "{:?}", v[1].notes);
    let v = explain_reply(Protocol::Smtp, b"551 5.7.17 owner changed");
    assert!(v[1].notes.is_empty(), "{:?}", v[1].notes);

    let v = explain_reply(
        Protocol::Smtp,
        b"535 5.7.8 Authentication credentials invalid",
    );
    assert!(v[0].notes.is_empty() && v[1].notes.is_empty());
    assert_eq!(v[1].related, vec!["535", "554"]);

    // Continuation lines, LMTP, no enhanced code, bad input.
    assert_eq!(explain_reply(Protocol::Smtp, b"250-5.1.1 x").len(), 2);
    assert_eq!(
        explain_reply(Protocol::Lmtp, b"452 4.5.3 too many").len(),
        2
    );
    assert_eq!(explain_reply(Protocol::Smtp, b"421 bye").len(), 1);
    assert_eq!(explain_reply(Protocol::Smtp, b"421").len(), 1);
    assert_eq!(explain_reply(Protocol::Smtp, b"5.1.1 x").len(), 0);
    assert_eq!(explain_reply(Protocol::Smtp, b"5501 x").len(), 0);
    assert_eq!(explain_reply(Protocol::Smtp, b"").len(), 0);
    assert_eq!(explain_reply(Protocol::Smtp, b"550 5.1.1000 x").len(), 1);
    assert_eq!(explain_reply(Protocol::Smtp, b"550 \xff\xfe").len(), 1);
}

#[test]
fn explain_reply_imap() {
    let v = explain_reply(Protocol::Imap, b"A1 NO [OVERQUOTA] Quota exceeded");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].family, Family::ImapCode);
    assert_eq!(v[0].token, "OVERQUOTA");
    let v = explain_reply(Protocol::Imap, b"* OK [UIDVALIDITY 3857529045] UIDs valid");
    assert_eq!(v[0].token, "UIDVALIDITY");
    let v = explain_reply(Protocol::Imap, b"a2 no [authenticationfailed] nope");
    assert_eq!(v[0].token, "AUTHENTICATIONFAILED");
    let v = explain_reply(Protocol::Imap, b"* NO [METADATA TOOMANY] too many");
    assert_eq!(v[0].token, "METADATA");
    let v = explain_reply(Protocol::Imap, b"A1 NO [XSECRET] hmm");
    assert!(!v[0].known);
    assert_eq!(v[0].token, "XSECRET");
    // Each protocol uses its own table.
    let v = explain_reply(Protocol::Imap, b"A1 NO [IN-USE/X] x");
    assert!(!v[0].known);
    assert_eq!(v[0].family, Family::ImapCode);
    assert!(explain_reply(Protocol::Imap, b"A1 NO just no").is_empty());
    assert!(explain_reply(Protocol::Imap, b"+ go ahead").is_empty());
    assert!(explain_reply(Protocol::Imap, b"A1 NO [\x1b[31m] x").is_empty());
    assert!(explain_reply(Protocol::Imap, b"").is_empty());
    assert!(explain_reply(Protocol::Imap, b"A1 NO [").is_empty());
}

#[test]
fn explain_reply_pop3() {
    let v = explain_reply(Protocol::Pop3, b"-ERR [IN-USE] Mailbox locked");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].family, Family::Pop3Code);
    assert_eq!(v[0].token, "IN-USE");
    let v = explain_reply(Protocol::Pop3, b"-ERR [SYS/TEMP] try later");
    assert_eq!(v[0].token, "SYS/TEMP");
    let v = explain_reply(Protocol::Pop3, b"-ERR [OVERQUOTA] x");
    assert!(!v[0].known);
    let v = explain_reply(Protocol::Pop3, b"-ERR [FOO] x");
    assert!(!v[0].known);
    assert_eq!(v[0].family, Family::Pop3Code);
    assert!(explain_reply(Protocol::Pop3, b"-ERR no such message").is_empty());
    assert!(explain_reply(Protocol::Pop3, b"+OK").is_empty());
    assert!(explain_reply(Protocol::Pop3, b"garbage [IN-USE]").is_empty());
}

// --- short_line() -----------------------------------------------------------------------------

#[test]
fn short_line_none_for_success_and_continuations() {
    let r = reply(Outcome::Ok, Some(250), Some("2.0.0"), b"250 2.0.0 Ok");
    assert_eq!(short_line(Protocol::Smtp, &r), None);
    let r = reply(Outcome::Continue, Some(354), None, b"354 go");
    assert_eq!(short_line(Protocol::Smtp, &r), None);
    let r = reply(Outcome::Continue, Some(334), None, b"334 ");
    assert_eq!(short_line(Protocol::Smtp, &r), None);
    let mut r = reply(Outcome::Ok, None, None, b"A1 OK done");
    r.tag = Some("A1".into());
    assert_eq!(short_line(Protocol::Imap, &r), None);
    let mut r = reply(Outcome::Continue, None, None, b"+ go");
    r.tag = Some("+".into());
    assert_eq!(short_line(Protocol::Imap, &r), None);
    let r = reply(Outcome::Ok, None, None, b"+OK 2 messages");
    assert_eq!(short_line(Protocol::Pop3, &r), None);
}

#[test]
fn short_line_smtp() {
    let r = reply(
        Outcome::PermFail,
        Some(550),
        Some("5.1.1"),
        b"550 5.1.1 <x@example.org>: Recipient address rejected",
    );
    assert_eq!(
        code_short_line(Protocol::Smtp, &r).unwrap(),
        "550 5.1.1: permanent failure - the mailbox does not exist (bad destination mailbox \
         address, RFC 3463)"
    );
    // The enhanced code is taken from the line when the reply does not carry it.
    let r = reply(Outcome::TempFail, Some(451), None, b"451 4.7.1 Greylisted");
    assert_eq!(
        code_short_line(Protocol::Smtp, &r).unwrap(),
        "451 4.7.1: temporary failure - greylisted, retry later (delivery not authorized, \
         message refused, RFC 3463)"
    );
    let r = reply(
        Outcome::PermFail,
        Some(550),
        Some("5.7.26"),
        b"550 5.7.26 DMARC",
    );
    assert_eq!(
        code_short_line(Protocol::Smtp, &r).unwrap(),
        "550 5.7.26: permanent failure - several authentication checks failed (multiple \
         authentication checks failed, RFC 7372)"
    );
    let r = reply(Outcome::TempFail, Some(421), None, b"421 closing");
    assert_eq!(
        code_short_line(Protocol::Smtp, &r).unwrap(),
        "421: temporary failure - service not available, connection closing (RFC 5321)"
    );
    let r = reply(Outcome::PermFail, Some(599), None, b"599 what");
    assert_eq!(
        code_short_line(Protocol::Smtp, &r).unwrap(),
        "599: permanent failure - unknown reply code"
    );
    let r = reply(
        Outcome::PermFail,
        Some(550),
        Some("5.1.99"),
        b"550 5.1.99 x",
    );
    assert_eq!(
        code_short_line(Protocol::Smtp, &r).unwrap(),
        "550 5.1.99: permanent failure - refused; 5.1.99 is not a registered code (addressing \
         status)"
    );
    let r = reply(Outcome::PermFail, Some(550), Some("4.7.1"), b"550 4.7.1 x");
    let s = code_short_line(Protocol::Smtp, &r).unwrap();
    assert!(s.ends_with("[class 4 of 4.7.1 does not match 550]"), "{s}");
    // Without the parsed code, the line is read.
    let r = reply(Outcome::PermFail, None, None, b"554 5.7.1 spam");
    let s = code_short_line(Protocol::Smtp, &r).unwrap();
    assert!(s.starts_with("554 5.7.1: permanent failure - message or sender rejected"));
    let r = reply(Outcome::Unknown, None, None, b"garbage");
    assert_eq!(code_short_line(Protocol::Smtp, &r), None);
    let r = reply(
        Outcome::PermFail,
        Some(552),
        Some("5.2.2"),
        b"552 5.2.2 full",
    );
    assert!(code_short_line(Protocol::Lmtp, &r)
        .unwrap()
        .starts_with("552 5.2.2: permanent failure - the mailbox is full"));
}

#[test]
fn short_line_imap_and_pop3() {
    let mut r = reply(Outcome::No, None, None, b"A1 NO [OVERQUOTA] Quota exceeded");
    r.tag = Some("A1".into());
    assert_eq!(
        code_short_line(Protocol::Imap, &r).unwrap(),
        "NO [OVERQUOTA]: the operation would exceed a quota (RFC 5530, RFC 9051)"
    );
    let r = reply(Outcome::No, None, None, b"A1 NO nope");
    assert_eq!(
        code_short_line(Protocol::Imap, &r).unwrap(),
        "NO: the command failed; the server gave no response code"
    );
    let r = reply(Outcome::Bad, None, None, b"A1 BAD [CLIENTBUG] x");
    assert!(code_short_line(Protocol::Imap, &r)
        .unwrap()
        .starts_with("BAD [CLIENTBUG]: "));
    let r = reply(Outcome::Bye, None, None, b"* BYE shutting down");
    assert_eq!(
        code_short_line(Protocol::Imap, &r).unwrap(),
        "BYE: the server is closing the connection"
    );
    let r = reply(Outcome::No, None, None, b"A1 NO [XFOO] x");
    assert!(code_short_line(Protocol::Imap, &r)
        .unwrap()
        .contains("unregistered"));

    let r = reply(Outcome::PermFail, None, None, b"-ERR [IN-USE] locked");
    assert_eq!(
        code_short_line(Protocol::Pop3, &r).unwrap(),
        "-ERR [IN-USE]: the maildrop is locked by another session (RFC 2449)"
    );
    let r = reply(Outcome::PermFail, None, None, b"-ERR [SYS/TEMP/DISK] x");
    assert_eq!(
        code_short_line(Protocol::Pop3, &r).unwrap(),
        "-ERR [SYS/TEMP/DISK]: unregistered code, read as SYS/PERM or SYS/TEMP (SYS response \
         code)"
    );
    let r = reply(Outcome::PermFail, None, None, b"-ERR no");
    assert_eq!(
        code_short_line(Protocol::Pop3, &r).unwrap(),
        "-ERR: the command failed; the server gave no response code"
    );
}

// --- render_text() ----------------------------------------------------------------------------

/// The cause the text states comes before the codes, for every protocol; a text the
/// knowledge base does not know gives the codes alone.
#[test]
fn short_line_puts_the_stated_cause_first() {
    let r = reply(
        Outcome::PermFail,
        Some(503),
        Some("5.5.1"),
        b"503 5.5.1 Error: authentication not enabled",
    );
    let s = short_line(Protocol::Smtp, &r).unwrap();
    assert!(
        s.starts_with("AUTH is not offered here; 503 5.5.1: permanent failure - "),
        "{s}"
    );
    let r = reply(
        Outcome::PermFail,
        Some(554),
        Some("5.5.1"),
        b"554 5.5.1 Error: no valid recipients",
    );
    let s = short_line(Protocol::Smtp, &r).unwrap();
    assert!(
        s.starts_with("Every recipient was refused; 554 5.5.1: "),
        "{s}"
    );
    let mut r = reply(Outcome::No, None, None, b"A1 NO [OVERQUOTA] Quota exceeded");
    r.tag = Some("A1".into());
    assert_eq!(
        short_line(Protocol::Imap, &r).unwrap(),
        "Mailbox over quota; NO [OVERQUOTA]: the operation would exceed a quota (RFC 5530, \
         RFC 9051)"
    );
    let r = reply(
        Outcome::PermFail,
        None,
        None,
        b"-ERR [IN-USE] Unable to lock maildrop",
    );
    let s = short_line(Protocol::Pop3, &r).unwrap();
    assert!(
        s.starts_with("Mailbox locked by another session; -ERR [IN-USE]: "),
        "{s}"
    );
    // Unknown wording: the codes alone.
    let r = reply(
        Outcome::PermFail,
        Some(550),
        Some("5.0.0"),
        b"550 5.0.0 zorglub",
    );
    let s = short_line(Protocol::Smtp, &r).unwrap();
    assert!(s.starts_with("550 5.0.0: permanent failure"), "{s}");
    // A success never gets a cause, whatever its text says.
    let r = reply(
        Outcome::Ok,
        Some(250),
        None,
        b"250 relay access denied, just kidding",
    );
    assert_eq!(short_line(Protocol::Smtp, &r), None);
}

#[test]
fn render_text_layout() {
    let text = render_text(&one("550"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "550 - SMTP reply code, permanent failure");
    assert_eq!(
        lines[1],
        "  Requested action not taken: mailbox unavailable"
    );
    assert!(lines[2].starts_with("  Meaning: The action was refused for good."));
    assert!(text.contains("\n  Usual causes:\n    - the recipient address does not exist"));
    assert!(text.contains("\n  What to check:\n    - "));
    assert!(text.ends_with("  References: RFC 5321\n"));
    for l in &lines {
        assert!(l.len() <= 78, "too long: {l}");
    }
    let text = render_text(&one("650"));
    assert!(text.starts_with("650 - SMTP reply code (unknown)\n"));
    let text = render_text(&one("501"));
    assert!(text.contains("  Where it is used:\n    - general (RFC 5321): "));
    assert!(text.contains("  See also: 5.5.2, 5.7.0\n"));
}

// --- robustness -------------------------------------------------------------------------------

#[test]
fn arbitrary_bytes_never_panic() {
    // A fixed pseudo-random sequence over bytes that matter to the parsers.
    const ALPHABET: &[u8] = b"0123456789.XY[]/ -+OKNBADERRkx*\r\n\x00\x1b\xc2\x9f\xff";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 24) as usize;
        let line: Vec<u8> = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        let text = String::from_utf8_lossy(&line).into_owned();
        for e in explain(&text) {
            assert!(e.token.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
            let _ = render_text(&e);
        }
        for p in [
            Protocol::Smtp,
            Protocol::Lmtp,
            Protocol::Imap,
            Protocol::Pop3,
        ] {
            let _ = explain_reply(p, &line);
            for outcome in [Outcome::PermFail, Outcome::No, Outcome::Unknown] {
                let r = reply(outcome, None, Some(&text), &line);
                if let Some(s) = short_line(p, &r) {
                    assert!(!s.is_empty());
                    assert!(
                        s.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                        "{s:?}"
                    );
                }
            }
        }
    }
}
