//! SEARCH: the criteria compiled once per command (strings become case-insensitive byte
//! matchers), then tested against each selected message, loading its bytes and structure only
//! for the keys that need them.

use std::sync::Arc;

use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::datetime::NaiveDate;
use imap_codec::imap_types::search::SearchKey;
use regex::bytes::{Regex, RegexBuilder};

use super::mime::Structure;
use super::{contains, day, has_flag, ranges, Cache, Selected, Server};
use crate::proto::server::{Mailbox, MessageInfo, Output};

/// The longest search string accepted.
const MAX_NEEDLE: usize = 16 * 1024;

enum Key {
    And(Vec<Key>),
    Or(Box<Key>, Box<Key>),
    Not(Box<Key>),
    All,
    Flag(&'static str),
    Keyword(String),
    New,
    Old,
    Recent,
    /// A header field (by name) whose value holds the string.
    Header(Vec<&'static str>, Regex),
    HeaderNamed(String, Regex),
    Body(Regex),
    Text(Regex),
    Since(jiff::civil::Date),
    Before(jiff::civil::Date),
    On(jiff::civil::Date),
    SentSince(jiff::civil::Date),
    SentBefore(jiff::civil::Date),
    SentOn(jiff::civil::Date),
    Larger(u64),
    Smaller(u64),
    Seq(Vec<(u32, u32)>),
    Uid(Vec<(u32, u32)>),
}

fn needle(s: &AString<'_>) -> Result<Regex, String> {
    let bytes: &[u8] = s.as_ref();
    if bytes.len() > MAX_NEEDLE {
        return Err("Search string too long".into());
    }
    let mut pattern = String::with_capacity(bytes.len().saturating_mul(4));
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            pattern.push(char::from(b));
        } else {
            pattern.push_str(&format!("\\x{b:02X}"));
        }
    }
    RegexBuilder::new(&pattern)
        .case_insensitive(true)
        .unicode(false)
        .build()
        .map_err(|_| "Search string too complex".to_string())
}

fn date(d: &NaiveDate) -> Result<jiff::civil::Date, String> {
    format!("{d:?}")
        .parse()
        .map_err(|_| "Invalid date".to_string())
}

fn compile(key: &SearchKey<'_>, sel: &Selected) -> Result<Key, String> {
    let seq_max = u32::try_from(sel.messages.len()).unwrap_or(u32::MAX);
    let uid_max = sel.messages.last().map_or(0, |m| m.uid);
    let h = |names: Vec<&'static str>, s: &AString<'_>| -> Result<Key, String> {
        Ok(Key::Header(names, needle(s)?))
    };
    Ok(match key {
        SearchKey::And(keys) => Key::And(
            keys.as_ref()
                .iter()
                .map(|k| compile(k, sel))
                .collect::<Result<_, _>>()?,
        ),
        SearchKey::Or(a, b) => Key::Or(Box::new(compile(a, sel)?), Box::new(compile(b, sel)?)),
        SearchKey::Not(k) => Key::Not(Box::new(compile(k, sel)?)),
        SearchKey::All => Key::All,
        SearchKey::Answered => Key::Flag("\\Answered"),
        SearchKey::Deleted => Key::Flag("\\Deleted"),
        SearchKey::Draft => Key::Flag("\\Draft"),
        SearchKey::Flagged => Key::Flag("\\Flagged"),
        SearchKey::Seen => Key::Flag("\\Seen"),
        SearchKey::Unanswered => Key::Not(Box::new(Key::Flag("\\Answered"))),
        SearchKey::Undeleted => Key::Not(Box::new(Key::Flag("\\Deleted"))),
        SearchKey::Undraft => Key::Not(Box::new(Key::Flag("\\Draft"))),
        SearchKey::Unflagged => Key::Not(Box::new(Key::Flag("\\Flagged"))),
        SearchKey::Unseen => Key::Not(Box::new(Key::Flag("\\Seen"))),
        SearchKey::Keyword(k) => Key::Keyword(k.as_ref().to_string()),
        SearchKey::Unkeyword(k) => Key::Not(Box::new(Key::Keyword(k.as_ref().to_string()))),
        SearchKey::New => Key::New,
        SearchKey::Old => Key::Old,
        SearchKey::Recent => Key::Recent,
        SearchKey::From(s) => h(vec!["From"], s)?,
        SearchKey::To(s) => h(vec!["To"], s)?,
        SearchKey::Cc(s) => h(vec!["Cc"], s)?,
        SearchKey::Bcc(s) => h(vec!["Bcc"], s)?,
        SearchKey::Subject(s) => h(vec!["Subject"], s)?,
        SearchKey::Header(name, s) => Key::HeaderNamed(
            String::from_utf8_lossy(name.as_ref()).into_owned(),
            needle(s)?,
        ),
        SearchKey::Body(s) => Key::Body(needle(s)?),
        SearchKey::Text(s) => Key::Text(needle(s)?),
        SearchKey::Since(d) => Key::Since(date(d)?),
        SearchKey::Before(d) => Key::Before(date(d)?),
        SearchKey::On(d) => Key::On(date(d)?),
        SearchKey::SentSince(d) => Key::SentSince(date(d)?),
        SearchKey::SentBefore(d) => Key::SentBefore(date(d)?),
        SearchKey::SentOn(d) => Key::SentOn(date(d)?),
        SearchKey::Larger(n) => Key::Larger(u64::from(*n)),
        SearchKey::Smaller(n) => Key::Smaller(u64::from(*n)),
        SearchKey::SequenceSet(set) => Key::Seq(ranges(set, seq_max)),
        SearchKey::Uid(set) => Key::Uid(ranges(set, uid_max)),
    })
}

/// One message under test; its bytes and structure are loaded when a key asks.
struct Subject<'a> {
    seq: u32,
    info: &'a MessageInfo,
    recent: bool,
    data: Option<Arc<Vec<u8>>>,
    structure: Option<Arc<Structure>>,
    mailbox: &'a mut dyn Mailbox,
    cache: &'a mut Cache,
}

impl Subject<'_> {
    fn data(&mut self) -> Arc<Vec<u8>> {
        let uid = self.info.uid;
        let mailbox = &mut *self.mailbox;
        Arc::clone(
            self.data
                .get_or_insert_with(|| mailbox.body(uid).unwrap_or_else(|| Arc::new(Vec::new()))),
        )
    }

    fn structure(&mut self) -> Arc<Structure> {
        if let Some(s) = &self.structure {
            return Arc::clone(s);
        }
        let data = self.data();
        let s = self.cache.get(self.info.uid, &data);
        self.structure = Some(Arc::clone(&s));
        s
    }

    fn header(&mut self, names: &[&str], re: &Regex) -> bool {
        let data = self.data();
        let s = self.structure();
        s.msg.fields.iter().any(|f| {
            names.iter().any(|n| n.eq_ignore_ascii_case(&f.name))
                && re.is_match(data.get(f.value.clone()).unwrap_or(&[]))
        })
    }

    fn test(&mut self, key: &Key) -> bool {
        match key {
            Key::And(keys) => keys.iter().all(|k| self.test(k)),
            Key::Or(a, b) => self.test(a) || self.test(b),
            Key::Not(k) => !self.test(k),
            Key::All => true,
            Key::Flag(f) => has_flag(&self.info.flags, f),
            Key::Keyword(k) => has_flag(&self.info.flags, k),
            Key::New => self.recent && !has_flag(&self.info.flags, "\\Seen"),
            Key::Old => !self.recent,
            Key::Recent => self.recent,
            Key::Header(names, re) => self.header(names, re),
            Key::HeaderNamed(name, re) => self.header(&[name.as_str()], re),
            Key::Body(re) => {
                let data = self.data();
                let s = self.structure();
                re.is_match(data.get(s.msg.root.body.clone()).unwrap_or(&[]))
            }
            Key::Text(re) => re.is_match(&self.data()),
            Key::Since(d) => day(self.info.received) >= *d,
            Key::Before(d) => day(self.info.received) < *d,
            Key::On(d) => day(self.info.received) == *d,
            Key::SentSince(d) => self.structure().sent.is_some_and(|s| s >= *d),
            Key::SentBefore(d) => self.structure().sent.is_some_and(|s| s < *d),
            Key::SentOn(d) => self.structure().sent.is_some_and(|s| s == *d),
            Key::Larger(n) => self.info.size > *n,
            Key::Smaller(n) => self.info.size < *n,
            Key::Seq(r) => contains(r, self.seq),
            Key::Uid(r) => contains(r, self.info.uid),
        }
    }
}

impl Server {
    /// Answers `* SEARCH ...`; an error is the text of a BAD.
    pub(super) fn search(
        &mut self,
        criteria: &SearchKey<'_>,
        uid: bool,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Result<(), String> {
        let Some(sel) = self.selected.as_ref() else {
            return Ok(());
        };
        let key = compile(criteria, sel)?;
        let mut line = String::from("* SEARCH");
        for (i, info) in sel.messages.iter().enumerate() {
            let seq = u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX);
            let mut subject = Subject {
                seq,
                info,
                recent: sel.recent(info),
                data: None,
                structure: None,
                mailbox: &mut *mailbox,
                cache: &mut self.cache,
            };
            if subject.test(&key) {
                line.push_str(&format!(" {}", if uid { info.uid } else { seq }));
            }
        }
        line.push_str("\r\n");
        self.log.send(out, line.as_bytes());
        Ok(())
    }
}
