//! What the protocol machines ask of the server: who may log in, whether to take a sender or
//! a recipient (with the fault injection of `--reject-*`, `--greylist`, `--tempfail-rate`), where
//! a message goes, and a user's mailbox.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use regex::Regex;

use crate::proto::server::{Credentials, Lookup, Mailbox, MessageInfo};
use crate::proto::smtp::server::{Backend, Envelope, Verdict};
use crate::proto::smtp::Param;
use crate::secret::Secret;

use super::log::{Log, MessageRecord};
use super::store::Store;

/// At most this many greylist triples are remembered (then the list starts again).
const MAX_GREYLIST: usize = 100_000;

/// Configured users, or none (any credentials accepted).
#[derive(Debug, Default)]
pub struct Users(Vec<(String, Secret)>);

impl Users {
    pub fn new(users: Vec<(String, Secret)>) -> Users {
        Users(users)
    }

    pub fn any(&self) -> bool {
        self.0.is_empty()
    }

    fn find(&self, user: &str) -> Option<&Secret> {
        self.0
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(user))
            .map(|(_, s)| s)
    }
}

impl Credentials for Users {
    fn check(&self, user: &str, password: &[u8]) -> bool {
        if self.any() {
            return !user.is_empty();
        }
        match self.find(user) {
            Some(s) => {
                let want = s.expose().as_bytes();
                want.len() == password.len() && openssl::memcmp::eq(want, password)
            }
            None => false,
        }
    }

    fn password(&self, user: &str) -> Lookup {
        if self.any() {
            return Lookup::AnyAccepted;
        }
        match self.find(user) {
            Some(s) => Lookup::Known(s.clone()),
            None => Lookup::Unknown,
        }
    }
}

/// A small deterministic generator (SplitMix64) for `--tempfail-rate`.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The faults to inject.
#[derive(Debug, Default)]
pub struct Faults {
    pub reject_rcpt: Option<Regex>,
    pub reject_from: Option<Regex>,
    pub greylist: bool,
    pub tempfail_rate: f64,
    pub seed: u64,
}

/// Everything sessions share.
#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    pub log: Log,
    pub users: Users,
    faults: Faults,
    greylisted: Mutex<HashSet<(IpAddr, String, String)>>,
    rng: Mutex<Rng>,
    ids: AtomicU64,
    /// Messages accepted, and their bytes, since the start.
    accepted: AtomicU64,
    accepted_bytes: AtomicU64,
}

impl Shared {
    pub fn new(store: Store, log: Log, users: Users, faults: Faults) -> Shared {
        let seed = faults.seed;
        Shared {
            store,
            log,
            users,
            faults,
            greylisted: Mutex::new(HashSet::new()),
            rng: Mutex::new(Rng(seed)),
            ids: AtomicU64::new(1),
            accepted: AtomicU64::new(0),
            accepted_bytes: AtomicU64::new(0),
        }
    }

    /// How many messages were accepted since the start, and their bytes in all.
    pub fn accepted(&self) -> (u64, u64) {
        (
            self.accepted.load(Ordering::Relaxed),
            self.accepted_bytes.load(Ordering::Relaxed),
        )
    }

    /// Whether an injected temporary failure hits now, and which: 421 (closing) or 451.
    fn tempfail(&self) -> Option<Verdict> {
        if self.faults.tempfail_rate <= 0.0 {
            return None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        if rng.unit() >= self.faults.tempfail_rate {
            return None;
        }
        let code = if rng.next() & 1 == 0 { 451 } else { 421 };
        Some(Verdict::Reject {
            code,
            enhanced: "4.3.0".to_string(),
            text: "Temporary failure (injected by --tempfail-rate), try again later".to_string(),
        })
    }

    fn next_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{:X}.{n}", jiff::Timestamp::now().as_second())
    }
}

fn reject(code: u16, enhanced: &str, text: impl Into<String>) -> Verdict {
    Verdict::Reject {
        code,
        enhanced: enhanced.to_string(),
        text: text.into(),
    }
}

/// A delivered message, logged once the lines that led to it are.
#[derive(Debug)]
pub struct Delivery {
    id: String,
    tls: bool,
    from: String,
    to: Vec<String>,
    size: usize,
    subject: Option<String>,
    mailboxes: Vec<String>,
    dropped: Vec<super::store::Dropped>,
    discarded: bool,
}

/// The SMTP side of one session.
#[derive(Debug)]
pub struct SmtpBackend {
    pub shared: Arc<Shared>,
    pub session: u64,
    pub peer: Option<SocketAddr>,
    /// Deliveries not logged yet.
    pub delivered: Vec<Delivery>,
}

impl SmtpBackend {
    /// Logs the deliveries since the last call.
    pub fn log_deliveries(&mut self) {
        for d in self.delivered.drain(..) {
            let log = &self.shared.log;
            log.message(&MessageRecord {
                session: self.session,
                id: &d.id,
                client: self.peer,
                tls: d.tls,
                from: &d.from,
                to: &d.to,
                size: d.size,
                subject: d.subject.as_deref(),
                mailboxes: &d.mailboxes,
                discarded: d.discarded,
            });
            for x in &d.dropped {
                log.info(&format!(
                    "dropped message UID {} of {} (more than --max-messages)",
                    x.uid, x.mailbox
                ));
            }
        }
    }
}

impl Credentials for SmtpBackend {
    fn check(&self, user: &str, password: &[u8]) -> bool {
        self.shared.users.check(user, password)
    }
    fn password(&self, user: &str) -> Lookup {
        self.shared.users.password(user)
    }
}

/// The decoded Subject of a message, for the log (headers only are parsed; with `--discard`
/// only the start of the message is there, which holds them).
fn subject(data: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::new().parse_headers(data)?;
    parsed.subject().map(str::to_string)
}

impl Backend for SmtpBackend {
    fn mail(&mut self, from: &str, _params: &[Param]) -> Verdict {
        if let Some(re) = &self.shared.faults.reject_from {
            if re.is_match(from) {
                return reject(550, "5.1.0", "Sender address rejected (--reject-from)");
            }
        }
        if let Some(v) = self.shared.tempfail() {
            return v;
        }
        Verdict::Accept("Ok".to_string())
    }

    fn rcpt(&mut self, from: &str, to: &str, _params: &[Param]) -> Verdict {
        if let Some(re) = &self.shared.faults.reject_rcpt {
            if re.is_match(to) {
                return reject(
                    550,
                    "5.1.1",
                    "Recipient address rejected: user unknown (--reject-rcpt)",
                );
            }
        }
        if self.shared.faults.greylist {
            if let Some(ip) = self.peer.map(|p| p.ip()) {
                let triple = (ip, from.to_ascii_lowercase(), to.to_ascii_lowercase());
                let mut seen = self
                    .shared
                    .greylisted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if !seen.contains(&triple) {
                    if seen.len() >= MAX_GREYLIST {
                        seen.clear();
                    }
                    seen.insert(triple);
                    return reject(
                        451,
                        "4.7.1",
                        "Greylisted: first try from this client, sender and recipient; try again",
                    );
                }
            }
        }
        if let Some(v) = self.shared.tempfail() {
            return v;
        }
        Verdict::Accept("Ok".to_string())
    }

    fn deliver(&mut self, env: &Envelope, data: Vec<u8>) -> Vec<Verdict> {
        let n = env.rcpts.len().max(1);
        if let Some(v) = self.shared.tempfail() {
            return vec![v; n];
        }
        let id = self.shared.next_id();
        // With --discard `data` is only the start of the message.
        let size = usize::try_from(env.size).unwrap_or(usize::MAX);
        let subj = subject(&data);
        match self.shared.store.deliver(&env.rcpts, data) {
            Ok(done) => {
                self.shared.accepted.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .accepted_bytes
                    .fetch_add(env.size, Ordering::Relaxed);
                self.delivered.push(Delivery {
                    id: id.clone(),
                    tls: env.tls,
                    from: env.from.clone(),
                    to: env.rcpts.clone(),
                    size,
                    subject: subj,
                    mailboxes: done.mailboxes,
                    dropped: done.dropped,
                    discarded: self.shared.store.discards(),
                });
                vec![Verdict::Accept(format!("Ok: queued as {id}")); n]
            }
            Err(e) => {
                self.shared
                    .log
                    .warn(Some(self.session), &format!("storing failed: {e}"));
                vec![
                    reject(
                        451,
                        "4.3.0",
                        "Local error in processing: cannot store the message"
                    );
                    n
                ]
            }
        }
    }
}

/// A user's mailbox, for IMAP and POP3 sessions.
#[derive(Debug)]
pub struct MailboxView {
    pub shared: Arc<Shared>,
    /// The open mailbox's name (none before login).
    pub name: Option<String>,
}

impl MailboxView {
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

impl Credentials for MailboxView {
    fn check(&self, user: &str, password: &[u8]) -> bool {
        self.shared.users.check(user, password)
    }
    fn password(&self, user: &str) -> Lookup {
        self.shared.users.password(user)
    }
}

impl Mailbox for MailboxView {
    fn open(&mut self, user: &str) {
        self.name = Some(self.shared.store.mailbox_name(user));
    }
    fn messages(&mut self) -> Vec<MessageInfo> {
        self.shared.store.messages(self.name())
    }
    fn body(&mut self, uid: u32) -> Option<Arc<Vec<u8>>> {
        self.shared.store.body(self.name(), uid)
    }
    fn set_flags(&mut self, uid: u32, flags: Vec<String>) {
        self.shared.store.set_flags(self.name(), uid, flags)
    }
    fn expunge(&mut self, uids: &[u32]) {
        self.shared.store.expunge(self.name(), uids)
    }
    fn uid_validity(&self) -> u32 {
        self.shared.store.state(self.name()).0
    }
    fn uid_next(&self) -> u32 {
        self.shared.store.state(self.name()).1
    }
    fn version(&self) -> u64 {
        self.shared.store.state(self.name()).2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_repeatable_and_in_range() {
        let mut a = Rng(7);
        let mut b = Rng(7);
        for _ in 0..100 {
            let x = a.unit();
            assert!((0.0..1.0).contains(&x));
            assert_eq!(x, b.unit());
        }
    }

    #[test]
    fn users_check_and_any_mode() {
        let u = Users::new(vec![(
            "alice@example.test".into(),
            Secret::new("pw".into()),
        )]);
        assert!(u.check("ALICE@example.test", b"pw"));
        assert!(!u.check("alice@example.test", b"pw2"));
        assert!(!u.check("bob", b"pw"));
        assert!(matches!(u.password("bob"), Lookup::Unknown));
        let any = Users::default();
        assert!(any.check("whoever", b"anything"));
        assert!(matches!(any.password("x"), Lookup::AnyAccepted));
    }
}
