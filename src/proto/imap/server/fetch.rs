//! FETCH and STORE: message data items, sections, partial ranges, flag changes.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use imap_codec::imap_types::bounded_static::IntoBoundedStatic;
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::fetch::{
    MacroOrMessageDataItemNames, MessageDataItemName, Part, Section,
};
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::sequence::SequenceSet;

use super::mime::{find, string, Field, Kind, Msg, Structure};
use super::{date_time, has_flag, matching, Server};
use crate::proto::server::{Mailbox, Output, Step};

/// What a section names: a range of the stored bytes, or bytes made here (selected header
/// fields).
enum Content {
    Range(Range<usize>),
    Own(Vec<u8>),
}

fn needs_data(item: &MessageDataItemName<'_>) -> bool {
    !matches!(
        item,
        MessageDataItemName::Flags
            | MessageDataItemName::Uid
            | MessageDataItemName::Rfc822Size
            | MessageDataItemName::InternalDate
    )
}

fn sets_seen(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::BodyExt { peek: false, .. }
            | MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
    )
}

/// Bytes of FETCH responses made per step at most (a message bigger than that goes alone): a
/// FETCH of many messages goes out a piece at a time, so what waits to be written stays small
/// however big the mailbox, also when the client does not read.
const FETCH_CHUNK: usize = 256 * 1024;

/// A FETCH being answered: the messages still to go.
#[derive(Debug)]
pub(super) struct Fetching {
    tag: String,
    uid: bool,
    items: Vec<MessageDataItemName<'static>>,
    left: VecDeque<usize>,
    seen: bool,
    data: bool,
}

impl Server {
    /// Starts answering a FETCH (the first piece is made by [`Server::fetch_more`]).
    pub(super) fn fetch_start(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        items: MacroOrMessageDataItemNames<'_>,
        uid: bool,
    ) -> Fetching {
        let mut items: Vec<MessageDataItemName<'static>> = match items {
            MacroOrMessageDataItemNames::Macro(m) => m.expand().into_static(),
            MacroOrMessageDataItemNames::MessageDataItemNames(v) => v.into_static(),
        };
        if uid && !items.contains(&MessageDataItemName::Uid) {
            items.insert(0, MessageDataItemName::Uid);
        }
        let (left, read_only) = match self.selected.as_ref() {
            Some(sel) => (matching(sel, set, uid).into(), sel.read_only),
            None => (VecDeque::new(), true),
        };
        Fetching {
            tag: tag.to_string(),
            uid,
            seen: !read_only && items.iter().any(sets_seen),
            data: items.iter().any(needs_data),
            items,
            left,
        }
    }

    /// Answers the next messages of the FETCH in progress, a chunk at most; the tagged OK
    /// once all are answered.
    pub(super) fn fetch_more(&mut self, mailbox: &mut dyn Mailbox, out: &mut Output) -> Step {
        let Some(mut f) = self.fetching.take() else {
            return Step::Handled;
        };
        let start = out.len();
        while let Some(idx) = f.left.pop_front() {
            self.fetch_one(idx, &f.items, f.seen, f.data, mailbox, out);
            if out.len().saturating_sub(start) >= FETCH_CHUNK && !f.left.is_empty() {
                self.fetching = Some(f);
                return Step::Handled;
            }
        }
        let text = if f.uid {
            "OK UID FETCH completed"
        } else {
            "OK FETCH completed"
        };
        self.done(out, mailbox, &f.tag, text, f.uid)
    }

    fn fetch_one(
        &mut self,
        idx: usize,
        items: &[MessageDataItemName<'_>],
        seen: bool,
        need_data: bool,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let Some(info) = sel.messages.get_mut(idx) else {
            return;
        };
        let set_seen = seen && !has_flag(&info.flags, "\\Seen");
        if set_seen {
            info.flags.push("\\Seen".to_string());
            mailbox.set_flags(info.uid, info.flags.clone());
        }
        let info = info.clone();
        let flags = sel.flags(&info);
        let data: Arc<Vec<u8>> = if need_data {
            mailbox
                .body(info.uid)
                .unwrap_or_else(|| Arc::new(Vec::new()))
        } else {
            Arc::new(Vec::new())
        };
        let mut structure: Option<Arc<Structure>> = None;
        let mut line = format!("* {} FETCH (", idx.saturating_add(1)).into_bytes();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            let s = if needs_structure(item) {
                Some(Arc::clone(
                    structure.get_or_insert_with(|| self.cache.get(info.uid, &data)),
                ))
            } else {
                None
            };
            match item {
                MessageDataItemName::Flags => {
                    line.extend_from_slice(format!("FLAGS {flags}").as_bytes());
                }
                MessageDataItemName::Uid => {
                    line.extend_from_slice(format!("UID {}", info.uid).as_bytes());
                }
                MessageDataItemName::Rfc822Size => {
                    line.extend_from_slice(format!("RFC822.SIZE {}", info.size).as_bytes());
                }
                MessageDataItemName::InternalDate => {
                    let d = date_time(info.received);
                    line.extend_from_slice(format!("INTERNALDATE \"{d}\"").as_bytes());
                }
                MessageDataItemName::Envelope => {
                    line.extend_from_slice(b"ENVELOPE ");
                    if let Some(s) = &s {
                        line.extend_from_slice(&s.envelope);
                    }
                }
                MessageDataItemName::Body => {
                    line.extend_from_slice(b"BODY ");
                    if let Some(s) = &s {
                        line.extend_from_slice(&s.body);
                    }
                }
                MessageDataItemName::BodyStructure => {
                    line.extend_from_slice(b"BODYSTRUCTURE ");
                    if let Some(s) = &s {
                        line.extend_from_slice(&s.bodystructure);
                    }
                }
                MessageDataItemName::Rfc822 => {
                    line.extend_from_slice(b"RFC822 ");
                    self.log.send(out, &std::mem::take(&mut line));
                    self.log.message(out, &data, 0..data.len());
                }
                MessageDataItemName::Rfc822Header | MessageDataItemName::Rfc822Text => {
                    let header = matches!(item, MessageDataItemName::Rfc822Header);
                    line.extend_from_slice(if header {
                        b"RFC822.HEADER "
                    } else {
                        b"RFC822.TEXT "
                    });
                    self.log.send(out, &std::mem::take(&mut line));
                    let range = s.as_ref().map_or(0..0, |s| {
                        if header {
                            s.msg.root.header.clone()
                        } else {
                            s.msg.root.body.clone()
                        }
                    });
                    self.log.message(out, &data, range);
                }
                MessageDataItemName::BodyExt {
                    section, partial, ..
                } => {
                    line.extend_from_slice(b"BODY[");
                    section_name(&mut line, section.as_ref());
                    line.push(b']');
                    let content = match (section, &s) {
                        (None, _) => Content::Range(0..data.len()),
                        (Some(section), Some(s)) => resolve(s, section, &data),
                        (Some(_), None) => Content::Own(Vec::new()),
                    };
                    if let Some((origin, _)) = partial {
                        line.extend_from_slice(format!("<{origin}>").as_bytes());
                    }
                    line.push(b' ');
                    self.log.send(out, &std::mem::take(&mut line));
                    let window = partial.map(|(o, n)| (o, n.get()));
                    match content {
                        Content::Range(r) => {
                            self.log.message(out, &data, cut(r, window));
                        }
                        Content::Own(bytes) => {
                            let r = cut(0..bytes.len(), window);
                            self.log.literal(out, bytes.get(r).unwrap_or(&[]));
                        }
                    }
                }
            }
        }
        if set_seen && !items.contains(&MessageDataItemName::Flags) {
            line.extend_from_slice(format!(" FLAGS {flags}").as_bytes());
        }
        line.extend_from_slice(b")\r\n");
        self.log.send(out, &line);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn store(
        &mut self,
        set: &SequenceSet,
        kind: &StoreType,
        response: &StoreResponse,
        flags: &[Flag<'_>],
        uid: bool,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let given: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let mut text = String::new();
        for idx in matching(sel, set, uid) {
            let Some(m) = sel.messages.get_mut(idx) else {
                continue;
            };
            let mut new: Vec<String> = match kind {
                StoreType::Replace => m
                    .flags
                    .iter()
                    .filter(|f| f.eq_ignore_ascii_case("\\Recent"))
                    .cloned()
                    .collect(),
                StoreType::Add | StoreType::Remove => m.flags.clone(),
            };
            for f in &given {
                match kind {
                    StoreType::Replace | StoreType::Add => {
                        if !has_flag(&new, f) {
                            new.push(f.clone());
                        }
                    }
                    StoreType::Remove => new.retain(|x| !x.eq_ignore_ascii_case(f)),
                }
            }
            if new != m.flags {
                m.flags.clone_from(&new);
                mailbox.set_flags(m.uid, new);
            }
            if *response == StoreResponse::Answer {
                let m = m.clone();
                let uid_item = if uid {
                    format!("UID {} ", m.uid)
                } else {
                    String::new()
                };
                text.push_str(&format!(
                    "* {} FETCH ({uid_item}FLAGS {})\r\n",
                    idx.saturating_add(1),
                    sel.flags(&m)
                ));
            }
        }
        self.log.send(out, text.as_bytes());
    }
}

fn needs_structure(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::Envelope
            | MessageDataItemName::Body
            | MessageDataItemName::BodyStructure
            | MessageDataItemName::Rfc822Header
            | MessageDataItemName::Rfc822Text
            | MessageDataItemName::BodyExt {
                section: Some(_),
                ..
            }
    )
}

/// A range cut to a partial fetch's window `<origin.length>`.
fn cut(r: Range<usize>, window: Option<(u32, u32)>) -> Range<usize> {
    let Some((origin, length)) = window else {
        return r;
    };
    let origin = usize::try_from(origin).unwrap_or(usize::MAX);
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    let start = r.start.saturating_add(origin).min(r.end);
    let end = start.saturating_add(length).min(r.end);
    start..end
}

fn path(part: &Part) -> Vec<u32> {
    part.0.as_ref().iter().map(|n| n.get()).collect()
}

/// The message a section's part number names (a message/rfc822 part), or the message itself.
fn message_at<'a>(s: &'a Structure, part: Option<&Part>) -> Option<&'a Msg> {
    match part {
        None => Some(&s.msg),
        Some(p) => match &find(&s.msg, &path(p))?.kind {
            Kind::Message(inner) if !inner.detached => Some(inner),
            _ => None,
        },
    }
}

fn resolve(s: &Structure, section: &Section<'_>, data: &[u8]) -> Content {
    let empty = Content::Own(Vec::new());
    match section {
        Section::Part(p) => {
            find(&s.msg, &path(p)).map_or(empty, |n| Content::Range(n.body.clone()))
        }
        Section::Mime(p) => {
            find(&s.msg, &path(p)).map_or(empty, |n| Content::Range(n.header.clone()))
        }
        Section::Header(p) => {
            message_at(s, p.as_ref()).map_or(empty, |m| Content::Range(m.root.header.clone()))
        }
        Section::Text(p) => {
            message_at(s, p.as_ref()).map_or(empty, |m| Content::Range(m.root.body.clone()))
        }
        Section::HeaderFields(p, names) | Section::HeaderFieldsNot(p, names) => {
            let not = matches!(section, Section::HeaderFieldsNot(..));
            let Some(m) = message_at(s, p.as_ref()) else {
                return empty;
            };
            let names = names.as_ref();
            let wanted = |f: &Field| {
                names
                    .iter()
                    .any(|n| n.as_ref().eq_ignore_ascii_case(f.name.as_bytes()))
            };
            let mut bytes = Vec::new();
            for f in m.fields.iter().filter(|f| wanted(f) != not) {
                bytes.extend_from_slice(data.get(f.all.clone()).unwrap_or(&[]));
            }
            bytes.extend_from_slice(b"\r\n");
            Content::Own(bytes)
        }
    }
}

/// A section as the response names it (`1.2.HEADER.FIELDS (From To)`).
fn section_name(out: &mut Vec<u8>, section: Option<&Section<'_>>) {
    let Some(section) = section else {
        return;
    };
    let prefix = |out: &mut Vec<u8>, p: Option<&Part>, dot: bool| {
        if let Some(p) = p {
            let numbers: Vec<String> = path(p).iter().map(u32::to_string).collect();
            out.extend_from_slice(numbers.join(".").as_bytes());
            if dot {
                out.push(b'.');
            }
        }
    };
    match section {
        Section::Part(p) => prefix(out, Some(p), false),
        Section::Mime(p) => {
            prefix(out, Some(p), true);
            out.extend_from_slice(b"MIME");
        }
        Section::Header(p) => {
            prefix(out, p.as_ref(), true);
            out.extend_from_slice(b"HEADER");
        }
        Section::Text(p) => {
            prefix(out, p.as_ref(), true);
            out.extend_from_slice(b"TEXT");
        }
        Section::HeaderFields(p, names) | Section::HeaderFieldsNot(p, names) => {
            prefix(out, p.as_ref(), true);
            out.extend_from_slice(if matches!(section, Section::HeaderFieldsNot(..)) {
                b"HEADER.FIELDS.NOT ("
            } else {
                b"HEADER.FIELDS ("
            });
            for (i, n) in names.as_ref().iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                match n {
                    AString::Atom(a) => out.extend_from_slice(a.as_ref().as_bytes()),
                    AString::String(s) => string(out, s.as_ref()),
                }
            }
            out.push(b')');
        }
    }
}
