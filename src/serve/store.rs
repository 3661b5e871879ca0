//! Where the embedded server keeps mail: one mailbox per recipient address (or one for
//! everybody with `--catch-all`), in memory (bounded by `--max-messages`, oldest dropped first)
//! or in Maildir (`--maildir DIR`, kept across restarts and readable by other tools), or
//! nowhere (`--discard`: every mailbox stays empty).
//!
//! A message is held once: every mailbox that received it shares the same bytes.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::proto::server::MessageInfo;

use super::maildir::{Maildir, RootLock};

/// The mailbox everybody sees with `--catch-all`.
const CATCH_ALL: &str = "*";

/// Where a stored message's bytes are.
#[derive(Clone, Debug)]
enum Body {
    Memory(Arc<Vec<u8>>),
    /// A Maildir file (its current name, which changes with its flags).
    File(PathBuf),
}

#[derive(Clone, Debug)]
struct Stored {
    info: MessageInfo,
    body: Body,
    /// The delivery it came in (its bytes are shared by every mailbox it went to).
    delivery: u64,
}

#[derive(Debug)]
struct Folder {
    uid_validity: u32,
    uid_next: u32,
    messages: BTreeMap<u32, Stored>,
    version: u64,
    maildir: Option<Maildir>,
}

impl Folder {
    fn new(uid_validity: u32) -> Folder {
        Folder {
            uid_validity,
            uid_next: 1,
            messages: BTreeMap::new(),
            version: 0,
            maildir: None,
        }
    }

    fn bump(&mut self) {
        self.version = self.version.wrapping_add(1);
    }
}

#[derive(Debug, Default)]
struct Inner {
    folders: BTreeMap<String, Folder>,
    /// (seq, folder, uid) in arrival order, for `--max-messages`.
    arrivals: VecDeque<(u64, String, u32)>,
    next_seq: u64,
    count: usize,
    /// In memory: bytes and mailboxes holding them, per delivery; their sum.
    deliveries: std::collections::HashMap<u64, (u64, usize)>,
    bytes: u64,
}

/// A message dropped to keep within `--max-messages`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub mailbox: String,
    pub uid: u32,
}

/// What [`Store::deliver`] did.
#[derive(Debug, Default)]
pub struct Delivered {
    /// The mailboxes the message went to.
    pub mailboxes: Vec<String>,
    /// Older messages dropped to make room.
    pub dropped: Vec<Dropped>,
}

/// The store every session shares.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    catch_all: bool,
    max_messages: usize,
    /// In memory: at most this many bytes of messages (the oldest dropped first).
    max_bytes: u64,
    maildir: Option<PathBuf>,
    /// UIDVALIDITY of mailboxes made in this run (in memory).
    uid_validity: u32,
    /// Keeps other servers off the Maildir while this one runs.
    _lock: Option<RootLock>,
    /// `--discard`: messages are not kept.
    discard: bool,
    /// Changes (under the lock, after the change) whenever any mailbox changes.
    generation: AtomicU64,
}

/// The beginning of a message (see [`Store::head`]).
#[derive(Clone, Debug)]
pub struct Head {
    data: Arc<Vec<u8>>,
    shown: usize,
    /// The whole message's size in bytes.
    pub size: u64,
}

impl Head {
    /// At most the bytes asked for.
    pub fn bytes(&self) -> &[u8] {
        self.data.get(..self.shown).unwrap_or(&self.data)
    }

    /// Whether the message goes on beyond [`Head::bytes`].
    pub fn truncated(&self) -> bool {
        u64::try_from(self.shown).map_or(true, |n| n < self.size)
    }
}

/// A lower-cased mailbox name for an address or login (`*` with `--catch-all`).
fn key(catch_all: bool, address: &str) -> String {
    if catch_all {
        CATCH_ALL.to_string()
    } else {
        address.trim().to_ascii_lowercase()
    }
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A UIDVALIDITY for a new folder: the time, so a folder made again later gets a new one.
fn new_uid_validity() -> u32 {
    u32::try_from(now_secs().rem_euclid(i64::from(u32::MAX)))
        .unwrap_or(1)
        .max(1)
}

impl Store {
    /// A store in memory, or in Maildir under `maildir` (loaded now: what an earlier run left).
    pub fn new(
        catch_all: bool,
        max_messages: usize,
        max_bytes: u64,
        maildir: Option<PathBuf>,
    ) -> Result<Store, String> {
        let lock = match &maildir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                Some(RootLock::take(dir)?)
            }
            None => None,
        };
        let store = Store {
            inner: Mutex::new(Inner::default()),
            catch_all,
            max_messages: max_messages.max(1),
            max_bytes,
            maildir,
            uid_validity: new_uid_validity(),
            _lock: lock,
            discard: false,
            generation: AtomicU64::new(0),
        };
        if let Some(dir) = &store.maildir {
            let mut inner = store.lock();
            for (name, md) in Maildir::open_all(dir, catch_all, store.uid_validity)? {
                let (uid_validity, files) = md.load()?;
                let mut folder = Folder::new(uid_validity);
                for f in files {
                    let seq = inner.next_seq;
                    inner.next_seq = inner.next_seq.saturating_add(1);
                    folder.uid_next = folder.uid_next.max(f.uid.saturating_add(1));
                    inner.arrivals.push_back((seq, name.clone(), f.uid));
                    inner.count = inner.count.saturating_add(1);
                    folder.messages.insert(
                        f.uid,
                        Stored {
                            info: MessageInfo {
                                uid: f.uid,
                                size: f.size,
                                flags: f.flags,
                                received: f.received,
                            },
                            body: Body::File(f.path),
                            delivery: seq,
                        },
                    );
                }
                folder.maildir = Some(md);
                inner.folders.insert(name, folder);
            }
            // Arrival order across folders is by time received, then by folder order.
            let mut arrivals: Vec<_> = inner.arrivals.drain(..).collect();
            arrivals.sort();
            inner.arrivals = arrivals.into();
        }
        Ok(store)
    }

    /// A store that keeps nothing (`--discard`): [`Store::deliver`] says which mailboxes a
    /// message was for, and they stay empty.
    pub fn discarding(catch_all: bool) -> Store {
        Store {
            inner: Mutex::new(Inner::default()),
            catch_all,
            max_messages: 1,
            max_bytes: 0,
            maildir: None,
            uid_validity: new_uid_validity(),
            _lock: None,
            discard: true,
            generation: AtomicU64::new(0),
        }
    }

    /// Whether messages are dropped instead of kept (`--discard`).
    pub fn discards(&self) -> bool {
        self.discard
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A session thread that panicked while holding the lock leaves consistent data (every
        // change is made in one step), so the poison is ignored.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn catch_all(&self) -> bool {
        self.catch_all
    }

    pub fn mailbox_name(&self, address: &str) -> String {
        key(self.catch_all, address)
    }

    /// How many messages the store holds.
    pub fn len(&self) -> usize {
        self.lock().count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn folder<'a>(&self, inner: &'a mut Inner, name: &str) -> Result<&'a mut Folder, String> {
        if !inner.folders.contains_key(name) {
            let mut folder = Folder::new(self.uid_validity);
            if let Some(dir) = &self.maildir {
                let md = Maildir::create(dir, name, self.catch_all, self.uid_validity)?;
                folder.uid_validity = md.uid_validity();
                folder.maildir = Some(md);
            }
            inner.folders.insert(name.to_string(), folder);
        }
        inner
            .folders
            .get_mut(name)
            .ok_or_else(|| "mailbox vanished".to_string())
    }

    /// Stores `data` for each recipient (one mailbox per distinct address, or the catch-all
    /// one). Fails only when Maildir cannot be written.
    /// A discarding store keeps nothing, and says which mailboxes it would have gone to.
    pub fn deliver(&self, rcpts: &[String], data: Vec<u8>) -> Result<Delivered, String> {
        let mut names: Vec<String> = rcpts.iter().map(|r| key(self.catch_all, r)).collect();
        names.sort();
        names.dedup();
        if self.discard {
            return Ok(Delivered {
                mailboxes: names,
                dropped: Vec::new(),
            });
        }
        let mut data = data;
        data.shrink_to_fit();
        let data: Arc<Vec<u8>> = Arc::new(data);
        // Maildir: every copy is written and flushed before the store is locked, so a big
        // message to many recipients does not hold up every other session; under the lock
        // each only gets its UID and is renamed into new/.
        let mut staged = std::collections::HashMap::new();
        if let Some(dir) = &self.maildir {
            for name in &names {
                let md = Maildir::create(dir, name, self.catch_all, self.uid_validity)?;
                staged.insert(name.clone(), md.stage(&data)?);
            }
        }
        let mut inner = self.lock();
        let mut done = Delivered::default();
        let received = now_secs();
        let delivery = inner.next_seq;
        let mut held = 0usize;
        for name in names {
            let seq = inner.next_seq;
            inner.next_seq = inner.next_seq.saturating_add(1);
            let folder = self.folder(&mut inner, &name)?;
            let uid = folder.uid_next;
            folder.uid_next = folder.uid_next.saturating_add(1);
            let body = match (&folder.maildir, staged.remove(&name)) {
                (Some(md), Some(copy)) => Body::File(md.commit(copy, uid)?),
                (Some(md), None) => Body::File(md.write(uid, &data)?),
                (None, _) => {
                    held = held.saturating_add(1);
                    Body::Memory(Arc::clone(&data))
                }
            };
            let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
            folder.messages.insert(
                uid,
                Stored {
                    info: MessageInfo {
                        uid,
                        size,
                        flags: Vec::new(),
                        received,
                    },
                    body,
                    delivery,
                },
            );
            folder.bump();
            self.changed();
            inner.arrivals.push_back((seq, name.clone(), uid));
            inner.count = inner.count.saturating_add(1);
            done.mailboxes.push(name);
        }
        if held > 0 {
            let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
            inner.deliveries.insert(delivery, (len, held));
            inner.bytes = inner.bytes.saturating_add(len);
        }
        while inner.count > self.max_messages || (inner.bytes > self.max_bytes && inner.count > 1) {
            let Some((_, name, uid)) = inner.arrivals.pop_front() else {
                break;
            };
            if self.remove(&mut inner, &name, uid) {
                done.dropped.push(Dropped { mailbox: name, uid });
            }
        }
        Ok(done)
    }

    /// Removes one message; false when it was not there.
    fn remove(&self, inner: &mut Inner, name: &str, uid: u32) -> bool {
        let Some(folder) = inner.folders.get_mut(name) else {
            return false;
        };
        let Some(gone) = folder.messages.remove(&uid) else {
            return false;
        };
        folder.bump();
        self.changed();
        match gone.body {
            Body::File(path) => {
                // A file that is already gone is what was wanted.
                let _ = std::fs::remove_file(path);
            }
            Body::Memory(_) => {
                if let Some((len, holders)) = inner.deliveries.get_mut(&gone.delivery) {
                    *holders = holders.saturating_sub(1);
                    if *holders == 0 {
                        let len = *len;
                        inner.deliveries.remove(&gone.delivery);
                        inner.bytes = inner.bytes.saturating_sub(len);
                    }
                }
            }
        }
        inner.count = inner.count.saturating_sub(1);
        true
    }

    /// The messages of a mailbox, in UID order.
    pub fn messages(&self, name: &str) -> Vec<MessageInfo> {
        let inner = self.lock();
        inner
            .folders
            .get(name)
            .map(|f| f.messages.values().map(|m| m.info.clone()).collect())
            .unwrap_or_default()
    }

    /// Every message of every mailbox, with its mailbox, in arrival order.
    pub fn all(&self) -> Vec<(String, MessageInfo)> {
        let inner = self.lock();
        inner
            .arrivals
            .iter()
            .filter_map(|(_, name, uid)| {
                let m = inner.folders.get(name)?.messages.get(uid)?;
                Some((name.clone(), m.info.clone()))
            })
            .collect()
    }

    /// A number that changes whenever any mailbox changes (new mail, flags, expunges,
    /// messages dropped); reading it lists nothing. Read it before listing: a listing made
    /// after it holds at least the changes it counts.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Called under the lock after each change.
    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// At most the first `max` bytes of a message, and its size: a message in memory is not
    /// copied, and of a Maildir file only that much is read.
    pub fn head(&self, name: &str, uid: u32, max: usize) -> Option<Head> {
        let (body, size) = {
            let inner = self.lock();
            let m = inner.folders.get(name)?.messages.get(&uid)?;
            (m.body.clone(), m.info.size)
        };
        match body {
            Body::Memory(data) => Some(Head {
                shown: data.len().min(max),
                size: u64::try_from(data.len()).unwrap_or(size),
                data,
            }),
            Body::File(path) => {
                let file = std::fs::File::open(path).ok()?;
                let size = file.metadata().map(|m| m.len()).unwrap_or(size);
                let mut data = Vec::new();
                file.take(u64::try_from(max).unwrap_or(u64::MAX))
                    .read_to_end(&mut data)
                    .ok()?;
                Some(Head {
                    shown: data.len(),
                    size,
                    data: Arc::new(data),
                })
            }
        }
    }

    /// A message's bytes.
    pub fn body(&self, name: &str, uid: u32) -> Option<Arc<Vec<u8>>> {
        let body = {
            let inner = self.lock();
            inner.folders.get(name)?.messages.get(&uid)?.body.clone()
        };
        match body {
            Body::Memory(data) => Some(data),
            Body::File(path) => std::fs::read(path).ok().map(Arc::new),
        }
    }

    pub fn set_flags(&self, name: &str, uid: u32, flags: Vec<String>) {
        let mut inner = self.lock();
        let Some(folder) = inner.folders.get_mut(name) else {
            return;
        };
        let Some(m) = folder.messages.get_mut(&uid) else {
            return;
        };
        if m.info.flags == flags {
            return;
        }
        if let (Some(md), Body::File(path)) = (&folder.maildir, &m.body) {
            if let Ok(moved) = md.set_flags(path, &flags) {
                m.body = Body::File(moved);
            }
        }
        m.info.flags = flags;
        folder.bump();
        self.changed();
    }

    pub fn expunge(&self, name: &str, uids: &[u32]) {
        let mut inner = self.lock();
        for uid in uids {
            self.remove(&mut inner, name, *uid);
        }
    }

    /// UIDVALIDITY, UIDNEXT and the change counter of a mailbox (a mailbox that received
    /// nothing yet is empty; looking does not make it).
    pub fn state(&self, name: &str) -> (u32, u32, u64) {
        let inner = self.lock();
        match inner.folders.get(name) {
            Some(f) => (f.uid_validity, f.uid_next, f.version),
            None => (self.uid_validity, 1, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mailbox_per_address_and_held_once() {
        let s = Store::new(false, 100, u64::MAX, None).unwrap();
        assert!(!s.discards());
        let d = s
            .deliver(
                &["Alice@Example.test".into(), "bob@example.test".into()],
                b"hi\r\n".to_vec(),
            )
            .unwrap();
        assert_eq!(d.mailboxes, vec!["alice@example.test", "bob@example.test"]);
        let a = s.body("alice@example.test", 1).unwrap();
        let b = s.body("bob@example.test", 1).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(s.messages("alice@example.test").len(), 1);
        assert!(s.messages("carol@example.test").is_empty());
    }

    #[test]
    fn a_discarding_store_keeps_nothing() {
        let s = Store::discarding(false);
        assert!(s.discards());
        let d = s
            .deliver(&["B@x.test".into(), "a@x.test".into()], b"hi\r\n".to_vec())
            .unwrap();
        assert_eq!(d.mailboxes, vec!["a@x.test", "b@x.test"]);
        assert!(d.dropped.is_empty());
        assert!(s.is_empty() && s.all().is_empty() && s.messages("a@x.test").is_empty());
        assert_eq!(s.state("a@x.test").1, 1);
        assert_eq!(s.generation(), 0);
    }

    #[test]
    fn maildir_copies_are_written_before_the_store_is_locked() {
        let root = tempfile::tempdir().unwrap();
        let s = Store::new(false, 100, u64::MAX, Some(root.path().to_path_buf())).unwrap();
        let d = s
            .deliver(&["a@x".into(), "b/c@x".into()], b"hi\r\n".to_vec())
            .unwrap();
        assert_eq!(d.mailboxes.len(), 2);
        for name in &d.mailboxes {
            assert_eq!(s.body(name, 1).unwrap().as_slice(), b"hi\r\n");
            let tmp = root
                .path()
                .join(super::super::maildir::dir_name(name))
                .join("tmp");
            assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
        }
        // The same Maildir cannot be served twice at once.
        assert!(Store::new(false, 100, u64::MAX, Some(root.path().to_path_buf())).is_err());
    }

    #[test]
    fn oldest_dropped_beyond_the_cap() {
        let s = Store::new(true, 2, u64::MAX, None).unwrap();
        for i in 0..3u8 {
            let d = s.deliver(&["a@b".into()], vec![b'0' + i]).unwrap();
            if i == 2 {
                assert_eq!(
                    d.dropped,
                    vec![Dropped {
                        mailbox: "*".into(),
                        uid: 1
                    }]
                );
            }
        }
        let uids: Vec<u32> = s.messages("*").iter().map(|m| m.uid).collect();
        assert_eq!(uids, vec![2, 3]);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn flags_expunge_and_versions() {
        let s = Store::new(true, 10, u64::MAX, None).unwrap();
        s.deliver(&["a@b".into()], b"x".to_vec()).unwrap();
        let (_, next, v1) = s.state("*");
        assert_eq!(next, 2);
        s.set_flags("*", 1, vec!["\\Seen".into()]);
        let (_, _, v2) = s.state("*");
        assert_ne!(v1, v2);
        assert_eq!(s.messages("*")[0].flags, vec!["\\Seen"]);
        s.expunge("*", &[1]);
        assert!(s.is_empty());
        // UIDs are never reused.
        s.deliver(&["a@b".into()], b"y".to_vec()).unwrap();
        assert_eq!(s.messages("*")[0].uid, 2);
    }

    #[test]
    fn all_lists_every_mailbox_in_arrival_order() {
        let s = Store::new(false, 10, u64::MAX, None).unwrap();
        assert!(s.all().is_empty());
        let g0 = s.generation();
        s.deliver(&["b@x".into()], b"1".to_vec()).unwrap();
        let g1 = s.generation();
        assert_ne!(g0, g1);
        s.deliver(&["a@x".into(), "b@x".into()], b"22".to_vec())
            .unwrap();
        s.deliver(&["a@x".into()], b"333".to_vec()).unwrap();
        let all: Vec<(String, u32, u64)> = s
            .all()
            .into_iter()
            .map(|(n, m)| (n, m.uid, m.size))
            .collect();
        assert_eq!(
            all,
            vec![
                ("b@x".into(), 1, 1),
                ("a@x".into(), 1, 2),
                ("b@x".into(), 2, 2),
                ("a@x".into(), 2, 3),
            ]
        );
        // Reading changes nothing.
        let g = s.generation();
        s.all();
        s.messages("a@x");
        assert_eq!(s.generation(), g);
        // Flags and expunges count; an expunged message is no longer listed.
        s.set_flags("a@x", 1, vec!["\\Seen".into()]);
        let g2 = s.generation();
        assert_ne!(g2, g);
        s.set_flags("a@x", 1, vec!["\\Seen".into()]);
        assert_eq!(s.generation(), g2, "flags unchanged");
        s.expunge("b@x", &[1]);
        assert_ne!(s.generation(), g2);
        assert_eq!(s.all().len(), 3);
        assert_eq!(
            s.all()[0],
            ("a@x".to_string(), s.messages("a@x")[0].clone())
        );
    }

    #[test]
    fn dropped_messages_leave_the_listing_and_count_as_changes() {
        let s = Store::new(true, 2, u64::MAX, None).unwrap();
        for i in 0..3u8 {
            s.deliver(&["a@b".into()], vec![b'0' + i]).unwrap();
        }
        let uids: Vec<u32> = s.all().iter().map(|(_, m)| m.uid).collect();
        assert_eq!(uids, vec![2, 3]);
        assert!(s.all().iter().all(|(n, _)| n == "*"));
        // 3 deliveries and 1 drop.
        assert_eq!(s.generation(), 4);
    }

    #[test]
    fn head_reads_only_the_beginning() {
        let s = Store::new(true, 10, u64::MAX, None).unwrap();
        s.deliver(&["a@b".into()], b"0123456789".to_vec()).unwrap();
        let h = s.head("*", 1, 4).unwrap();
        assert_eq!(h.bytes(), b"0123");
        assert_eq!(h.size, 10);
        assert!(h.truncated());
        // Not copied.
        assert!(Arc::ptr_eq(&h.data, &s.body("*", 1).unwrap()));
        let h = s.head("*", 1, 100).unwrap();
        assert_eq!(h.bytes(), b"0123456789");
        assert!(!h.truncated());
        assert!(s.head("*", 2, 4).is_none());
        assert!(s.head("nobody", 1, 4).is_none());

        let root = tempfile::tempdir().unwrap();
        let s = Store::new(true, 10, u64::MAX, Some(root.path().to_path_buf())).unwrap();
        s.deliver(&["a@b".into()], b"0123456789".to_vec()).unwrap();
        let h = s.head("*", 1, 4).unwrap();
        assert_eq!(h.bytes(), b"0123");
        assert_eq!(h.data.len(), 4);
        assert_eq!(h.size, 10);
        assert!(h.truncated());
        assert_eq!(s.head("*", 1, 10).unwrap().bytes(), b"0123456789");
    }

    #[test]
    fn bytes_in_memory_are_bounded_and_counted_once_per_delivery() {
        let s = Store::new(false, 100, 25, None).unwrap();
        // One delivery to three mailboxes holds its 10 bytes once.
        s.deliver(&["a@x".into(), "b@x".into(), "c@x".into()], vec![b'1'; 10])
            .unwrap();
        s.deliver(&["a@x".into()], vec![b'2'; 10]).unwrap();
        assert_eq!(s.len(), 4);
        // 30 bytes > 25: the oldest delivery goes, from every mailbox.
        let d = s.deliver(&["a@x".into()], vec![b'3'; 10]).unwrap();
        assert_eq!(d.dropped.len(), 3, "{:?}", d.dropped);
        assert_eq!(s.len(), 2);
        assert_eq!(s.lock().bytes, 20);
        // A message larger than the bound is still kept when it is the only one.
        let s = Store::new(true, 100, 5, None).unwrap();
        s.deliver(&["a@x".into()], vec![0; 50]).unwrap();
        assert_eq!(s.len(), 1);
    }
}
