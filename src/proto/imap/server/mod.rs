//! The IMAP4rev1 server machine (RFC 3501, with IDLE, LITERAL+, SASL-IR, UNSELECT): one INBOX
//! per user, served from a [`Mailbox`]. Commands are parsed by `imap-codec`; this module frames
//! them (lines and literals, bounded before anything is read), keeps the session's state and
//! writes the responses. Message content goes out as ranges of the stored bytes.

mod fetch;
mod mime;
mod search;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use imap_codec::decode::{CommandDecodeError, Decoder};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::LiteralMode;
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox as MailboxName};
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use imap_codec::imap_types::status::StatusDataItemName;
use imap_codec::CommandCodec;

use super::syntax::{literal_at_end, split_word, valid_tag};
use crate::proto::line::{LineBuffer, RawLine};
use crate::proto::sasl_server::{decode_response, Exchange, Progress, ServerMech};
use crate::proto::server::Machine;
use crate::proto::server::{
    Credentials, Dir, Lookup, Mailbox, MessageInfo, Output, ServerEvent, Step, Wait,
};
use crate::proto::{Ending, Protocol};
use mime::Structure;

/// The flags every message may carry.
const FLAGS: &str = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)";
/// How many literals one command may hold (each makes the command be parsed again).
const MAX_LITERALS: u32 = 64;
/// How many parsed message structures a session keeps.
const CACHE_MAX: usize = 256;

/// What the embedded server configures.
#[derive(Clone, Debug)]
pub struct Config {
    /// Shown in the greeting and BYE.
    pub hostname: String,
    /// Whether STARTTLS is offered (the driver has a certificate).
    pub starttls: bool,
    /// Whether LOGIN and AUTHENTICATE PLAIN are allowed without TLS.
    pub plaintext_auth: bool,
    /// The largest literal accepted.
    pub max_literal: u64,
    /// The longest command, its line(s) and literals together.
    pub max_command: usize,
    /// How many commands a session may send.
    pub max_commands: u32,
    /// How many errors (BAD, failed logins) before the session is closed.
    pub max_errors: u32,
    /// No login of any kind before TLS (not even a mechanism that hides the password).
    pub require_tls: bool,
    /// Whether lines are reported as [`ServerEvent::Line`].
    pub log: bool,
    /// The SASL mechanisms of AUTHENTICATE, in the order advertised (the plaintext ones only
    /// where passwords may cross).
    pub mechanisms: Vec<ServerMech>,
}

/// What is being read from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Input {
    /// Command lines.
    Line,
    /// The content of an accepted literal, into the command.
    Literal { left: u64 },
    /// The content of a refused non-synchronising literal, dropped.
    Skip { left: u64 },
    /// The rest of a refused command after a skipped literal, dropped.
    SkipRest,
}

/// A command that spans several client lines.
#[derive(Debug)]
enum Pending {
    None,
    Idle { tag: String },
    Sasl { tag: String, exchange: Exchange },
}

/// The open INBOX as this session sees it: the messages it numbered, in UID order.
#[derive(Clone, Debug)]
struct Selected {
    messages: Vec<MessageInfo>,
    read_only: bool,
    version: u64,
    /// Messages with UIDs from here on arrived during the session (\Recent).
    recent_from: u32,
}

impl Selected {
    fn recent(&self, m: &MessageInfo) -> bool {
        m.uid >= self.recent_from || has_flag(&m.flags, "\\Recent")
    }

    fn recent_count(&self) -> usize {
        self.messages.iter().filter(|m| self.recent(m)).count()
    }

    /// The flags as FETCH shows them.
    fn flags(&self, m: &MessageInfo) -> String {
        let mut flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
        if self.recent(m) && !has_flag(&m.flags, "\\Recent") {
            flags.push("\\Recent");
        }
        format!("({})", flags.join(" "))
    }
}

/// What the session log gets; lines only when logging is on.
#[derive(Debug, Default)]
struct Log {
    on: bool,
    events: Vec<ServerEvent>,
    /// Output of an unfinished line.
    pending: Vec<u8>,
}

impl Log {
    /// Writes bytes of the machine's own, logging every line they complete.
    fn send(&mut self, out: &mut Output, bytes: &[u8]) {
        out.push(bytes);
        if !self.on {
            return;
        }
        self.pending.extend_from_slice(bytes);
        while let Some(pos) = memchr::memchr(b'\n', &self.pending) {
            let mut line: Vec<u8> = self.pending.drain(..=pos).collect();
            line.pop();
            let ending = if line.last() == Some(&b'\r') {
                line.pop();
                Ending::CrLf
            } else {
                Ending::Lf
            };
            self.events.push(ServerEvent::Line {
                dir: Dir::Out,
                bytes: line,
                ending,
                secret: None,
            });
        }
    }

    /// A literal of stored message bytes: its `{n}` line is logged, the content is not.
    fn message(&mut self, out: &mut Output, data: &Arc<Vec<u8>>, range: Range<usize>) {
        let end = range.end.min(data.len());
        let start = range.start.min(end);
        self.send(
            out,
            format!("{{{}}}\r\n", end.saturating_sub(start)).as_bytes(),
        );
        out.push_message(data, start..end, false);
    }

    /// A literal of the machine's own bytes, not logged either.
    fn literal(&mut self, out: &mut Output, bytes: &[u8]) {
        self.send(out, format!("{{{}}}\r\n", bytes.len()).as_bytes());
        out.push(bytes);
    }

    fn input(&mut self, line: &RawLine, secret: Option<Range<usize>>) {
        if self.on {
            self.events.push(ServerEvent::Line {
                dir: Dir::In,
                bytes: line.bytes.clone(),
                ending: line.ending,
                secret,
            });
        }
    }

    fn problem(&mut self, what: impl Into<String>) {
        self.events.push(ServerEvent::Problem(what.into()));
    }
}

/// Parsed structures by UID, bounded.
#[derive(Debug, Default)]
struct Cache {
    map: HashMap<u32, Arc<Structure>>,
}

impl Cache {
    fn get(&mut self, uid: u32, data: &[u8]) -> Arc<Structure> {
        if let Some(s) = self.map.get(&uid) {
            return Arc::clone(s);
        }
        if self.map.len() >= CACHE_MAX {
            self.map.clear();
        }
        let s = Arc::new(Structure::parse(data));
        self.map.insert(uid, Arc::clone(&s));
        s
    }
}

/// The mailbox's credentials as the SASL exchange asks them.
struct Creds<'a>(&'a dyn Mailbox);

impl Credentials for Creds<'_> {
    fn check(&self, user: &str, password: &[u8]) -> bool {
        self.0.check(user, password)
    }

    fn password(&self, user: &str) -> Lookup {
        self.0.password(user)
    }
}

/// One IMAP session.
#[derive(Debug)]
pub struct Server {
    config: Config,
    buf: LineBuffer,
    /// The command being assembled: its lines (ending in CRLF) and literals.
    cmd: Vec<u8>,
    /// Whether the command being assembled is LOGIN (its later lines may hold the password).
    cmd_login: bool,
    /// How many literals the command being assembled announced.
    cmd_literals: u32,
    input: Input,
    pending: Pending,
    /// A FETCH answered a piece at a time.
    fetching: Option<fetch::Fetching>,
    tls: bool,
    user: Option<String>,
    selected: Option<Selected>,
    closed: bool,
    errors: u32,
    commands: u32,
    log: Log,
    cache: Cache,
}

impl Server {
    pub fn new(config: Config) -> Server {
        let log = Log {
            on: config.log,
            ..Log::default()
        };
        Server {
            buf: LineBuffer::new(config.max_command.max(64)),
            config,
            cmd: Vec::new(),
            cmd_login: false,
            cmd_literals: 0,
            input: Input::Line,
            pending: Pending::None,
            fetching: None,
            tls: false,
            user: None,
            selected: None,
            closed: false,
            errors: 0,
            commands: 0,
            log,
            cache: Cache::default(),
        }
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// After a refused literal was skipped: the rest of its command goes too, and the
    /// literals it announces.
    fn skip_rest(&mut self, line: &RawLine) {
        self.input = match literal_at_end(&line.bytes) {
            Ok(Some(lit)) if !lit.sync => Input::Skip { left: lit.size },
            _ => Input::Line,
        };
    }

    /// One line from the client; `None` to go on reading.
    fn line(&mut self, line: RawLine, mailbox: &mut dyn Mailbox, out: &mut Output) -> Option<Step> {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Idle { tag } => {
                self.log.input(&line, None);
                if line.bytes.eq_ignore_ascii_case(b"DONE") {
                    self.sync(mailbox, out, true);
                    self.tagged(out, &tag, "OK IDLE terminated");
                    Some(Step::Handled)
                } else {
                    Some(self.bad(out, Some(&tag), "Expected DONE"))
                }
            }
            Pending::Sasl { tag, exchange } => {
                let secret = (!line.bytes.is_empty()).then_some(0..line.bytes.len());
                self.log.input(&line, secret);
                Some(self.sasl_response(tag, exchange, &line.bytes, mailbox, out))
            }
            Pending::None => self.command_line(line, mailbox, out),
        }
    }

    /// A line of a command: the whole command, or a line ending in a literal announcement.
    fn command_line(
        &mut self,
        line: RawLine,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Option<Step> {
        let first = self.cmd.is_empty();
        let secret = if first {
            // The verb after the tag, whatever the tag is.
            let rest = split_word(&line.bytes).1;
            let offset = line.bytes.len().saturating_sub(rest.len());
            let info = super::classify(rest);
            self.cmd_login = info.verb == "LOGIN";
            self.cmd_literals = 0;
            info.secret
                .map(|r| r.start.saturating_add(offset)..r.end.saturating_add(offset))
        } else if self.cmd_login {
            super::secret_in_rest(&line.bytes)
        } else {
            None
        };
        self.log.input(&line, secret);
        if first && line.bytes.is_empty() {
            return Some(self.bad(out, None, "Empty command line"));
        }
        let total = self
            .cmd
            .len()
            .saturating_add(line.bytes.len())
            .saturating_add(2);
        if total > self.config.max_command {
            self.log.problem("command too long");
            self.log.send(out, b"* BAD Command too long\r\n");
            return Some(self.close(out, None));
        }
        self.cmd.extend_from_slice(&line.bytes);
        self.cmd.extend_from_slice(b"\r\n");
        let lit = match literal_at_end(&line.bytes) {
            Ok(Some(lit)) if lit.binary => None,
            Ok(lit) => lit,
            Err(_) => {
                // More than 64 bits of size: nothing can be skipped honestly.
                let tag = self.take_tag();
                self.log.problem("literal size out of range");
                self.tagged_or_untagged(out, tag.as_deref(), "BAD Literal too large");
                return Some(self.close(out, None));
            }
        };
        let Some(lit) = lit else {
            let cmd = std::mem::take(&mut self.cmd);
            return Some(self.execute(&cmd, mailbox, out));
        };
        let room = u64::try_from(self.config.max_command.saturating_sub(self.cmd.len()))
            .unwrap_or(u64::MAX);
        self.cmd_literals = self.cmd_literals.saturating_add(1);
        if lit.size > self.config.max_literal || lit.size > room || self.cmd_literals > MAX_LITERALS
        {
            let tag = self.take_tag();
            self.log
                .problem(format!("literal of {} bytes refused", lit.size));
            if lit.sync {
                self.tagged_or_untagged(out, tag.as_deref(), "NO [TOOBIG] Literal too large");
                return Some(self.count_error(out));
            }
            self.input = Input::Skip { left: lit.size };
            return Some(self.bad(out, tag.as_deref(), "[TOOBIG] Literal too large"));
        }
        match CommandCodec::default().decode(&self.cmd) {
            Err(CommandDecodeError::LiteralFound { mode, .. }) => {
                if mode == LiteralMode::Sync {
                    self.log.send(out, b"+ Ready for literal data\r\n");
                }
                self.input = Input::Literal { left: lit.size };
                None
            }
            _ => {
                let tag = self.take_tag();
                if !lit.sync {
                    self.input = Input::Skip { left: lit.size };
                }
                Some(self.bad(out, tag.as_deref(), "Syntax error"))
            }
        }
    }

    /// Drops the command being assembled, keeping its tag when it has a valid one.
    fn take_tag(&mut self) -> Option<String> {
        let cmd = std::mem::take(&mut self.cmd);
        tag_of(&cmd)
    }

    fn execute(&mut self, cmd: &[u8], mailbox: &mut dyn Mailbox, out: &mut Output) -> Step {
        self.commands = self.commands.saturating_add(1);
        if self.commands > self.config.max_commands {
            self.log.problem("too many commands");
            self.log.send(out, b"* BYE Too many commands\r\n");
            return self.close(out, None);
        }
        let (tag, rest) = split_word(cmd.strip_suffix(b"\r\n").unwrap_or(cmd));
        if valid_tag(tag) && rest.eq_ignore_ascii_case(b"STARTTLS") {
            let tag = String::from_utf8_lossy(tag).into_owned();
            return self.starttls(&tag, out);
        }
        match CommandCodec::default().decode(cmd) {
            Ok((_, command)) => self.run(command, mailbox, out),
            Err(_) => {
                let tag = tag_of(cmd);
                self.bad(out, tag.as_deref(), "Syntax error or unknown command")
            }
        }
    }

    fn starttls(&mut self, tag: &str, out: &mut Output) -> Step {
        if !self.config.starttls {
            return self.bad(out, Some(tag), "STARTTLS is not offered");
        }
        if self.tls || self.user.is_some() {
            return self.bad(out, Some(tag), "STARTTLS is not allowed now");
        }
        self.tagged(out, tag, "OK Begin TLS negotiation now");
        self.buf.clear();
        self.cmd.clear();
        Step::StartTls
    }

    fn run(&mut self, command: Command<'_>, mailbox: &mut dyn Mailbox, out: &mut Output) -> Step {
        let tag = command.tag.as_ref().to_string();
        let authed = self.user.is_some();
        let selected = self.selected.is_some();
        match command.body {
            CommandBody::Capability => {
                let line = format!("* CAPABILITY {}\r\n", self.capabilities());
                self.log.send(out, line.as_bytes());
                self.done(out, mailbox, &tag, "OK CAPABILITY completed", true)
            }
            CommandBody::Noop => self.done(out, mailbox, &tag, "OK NOOP completed", true),
            CommandBody::Logout => {
                let line = format!("* BYE {} logging out\r\n", self.config.hostname);
                self.log.send(out, line.as_bytes());
                self.close(out, Some((&tag, "OK LOGOUT completed")))
            }
            CommandBody::Login { username, password } => {
                if authed {
                    return self.bad(out, Some(&tag), "Already authenticated");
                }
                if !self.plaintext_allowed() {
                    self.tagged(
                        out,
                        &tag,
                        "NO [PRIVACYREQUIRED] LOGIN is not allowed before STARTTLS",
                    );
                    return self.count_error(out);
                }
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let ok = mailbox.check(&user, password.declassify().as_ref());
                self.authenticated(&tag, user, "LOGIN", ok, mailbox, out)
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                if authed {
                    return self.bad(out, Some(&tag), "Already authenticated");
                }
                let Some(mech) = ServerMech::parse(&mechanism.to_string())
                    .filter(|m| self.config.mechanisms.contains(m))
                else {
                    self.tagged(out, &tag, "NO Unsupported authentication mechanism");
                    return self.count_error(out);
                };
                let refusal = if self.config.require_tls && !self.tls {
                    Some("NO [PRIVACYREQUIRED] Authentication needs TLS: STARTTLS first")
                } else if mech.plaintext() && !self.plaintext_allowed() {
                    Some("NO [PRIVACYREQUIRED] Plaintext authentication needs TLS")
                } else {
                    None
                };
                if let Some(text) = refusal {
                    self.tagged(out, &tag, text);
                    return self.count_error(out);
                }
                let initial = initial_response.map(|r| r.declassify().to_vec());
                let (exchange, progress) =
                    Exchange::start(mech, initial, &Creds(&*mailbox), &self.config.hostname);
                self.sasl_progress(tag, exchange, progress, mailbox, out)
            }
            _ if !authed => self.bad(out, Some(&tag), "Log in first"),
            CommandBody::Select { mailbox: name } => self.select(&tag, &name, false, mailbox, out),
            CommandBody::Examine { mailbox: name } => self.select(&tag, &name, true, mailbox, out),
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } => self.list(&tag, "LIST", &reference, &mailbox_wildcard, mailbox, out),
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } => self.list(&tag, "LSUB", &reference, &mailbox_wildcard, mailbox, out),
            CommandBody::Status {
                mailbox: name,
                item_names,
            } => {
                if !is_inbox(&name) {
                    return self.no_mailbox(out, &tag);
                }
                let line = status_line(&item_names, &mailbox.messages(), &*mailbox);
                self.log.send(out, line.as_bytes());
                self.done(out, mailbox, &tag, "OK STATUS completed", true)
            }
            CommandBody::Idle => {
                self.log.send(out, b"+ idling\r\n");
                self.pending = Pending::Idle { tag };
                self.sync(mailbox, out, true);
                Step::Handled
            }
            CommandBody::Enable { .. } => {
                self.log.send(out, b"* ENABLED\r\n");
                self.done(out, mailbox, &tag, "OK ENABLE completed", true)
            }
            CommandBody::Create { .. }
            | CommandBody::Delete { .. }
            | CommandBody::Rename { .. }
            | CommandBody::Append { .. } => {
                self.refuse(out, mailbox, &tag, "NO [CANNOT] Only INBOX exists here")
            }
            CommandBody::Subscribe { mailbox: name }
            | CommandBody::Unsubscribe { mailbox: name } => {
                if is_inbox(&name) {
                    self.done(out, mailbox, &tag, "OK Done", true)
                } else {
                    self.no_mailbox(out, &tag)
                }
            }
            _ if !selected => self.bad(out, Some(&tag), "Select a mailbox first"),
            CommandBody::Check => self.done(out, mailbox, &tag, "OK CHECK completed", true),
            CommandBody::Close => {
                self.expunge(mailbox, out, true);
                self.selected = None;
                self.tagged(out, &tag, "OK CLOSE completed");
                Step::Handled
            }
            CommandBody::Unselect => {
                self.selected = None;
                self.tagged(out, &tag, "OK UNSELECT completed");
                Step::Handled
            }
            CommandBody::Expunge => {
                if self.read_only() {
                    return self.refuse(out, mailbox, &tag, "NO [READ-ONLY] Mailbox is read-only");
                }
                self.sync(mailbox, out, true);
                self.expunge(mailbox, out, false);
                self.done(out, mailbox, &tag, "OK EXPUNGE completed", true)
            }
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
            } => {
                self.fetching =
                    Some(self.fetch_start(&tag, &sequence_set, macro_or_item_names, uid));
                self.fetch_more(mailbox, out)
            }
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
            } => {
                if self.read_only() {
                    return self.refuse(out, mailbox, &tag, "NO [READ-ONLY] Mailbox is read-only");
                }
                self.store(&sequence_set, &kind, &response, &flags, uid, mailbox, out);
                let text = if uid {
                    "OK UID STORE completed"
                } else {
                    "OK STORE completed"
                };
                self.done(out, mailbox, &tag, text, uid)
            }
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } => {
                if let Some(cs) = &charset {
                    let cs = cs.as_ref();
                    if !cs.eq_ignore_ascii_case("US-ASCII") && !cs.eq_ignore_ascii_case("UTF-8") {
                        return self.refuse(
                            out,
                            mailbox,
                            &tag,
                            "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset",
                        );
                    }
                }
                match self.search(&criteria, uid, mailbox, out) {
                    Ok(()) => {
                        let text = if uid {
                            "OK UID SEARCH completed"
                        } else {
                            "OK SEARCH completed"
                        };
                        self.done(out, mailbox, &tag, text, uid)
                    }
                    Err(why) => self.bad(out, Some(&tag), &why),
                }
            }
            CommandBody::Copy { .. } | CommandBody::Move { .. } => {
                self.refuse(out, mailbox, &tag, "NO [TRYCREATE] Only INBOX exists here")
            }
            _ => self.bad(out, Some(&tag), "Command not supported"),
        }
    }

    fn plaintext_allowed(&self) -> bool {
        self.tls || self.config.plaintext_auth
    }

    fn read_only(&self) -> bool {
        self.selected.as_ref().is_none_or(|s| s.read_only)
    }

    fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1".to_string()];
        if self.user.is_none() {
            if self.config.starttls && !self.tls {
                caps.push("STARTTLS".to_string());
            }
            let plain = self.plaintext_allowed();
            let tls_first = self.config.require_tls && !self.tls;
            let mut auth = false;
            for m in &self.config.mechanisms {
                if !tls_first && (plain || !m.plaintext()) {
                    caps.push(format!("AUTH={}", m.name()));
                    auth = true;
                }
            }
            if auth {
                caps.push("SASL-IR".to_string());
            }
            if !plain {
                caps.push("LOGINDISABLED".to_string());
            }
        }
        caps.extend(["LITERAL+", "IDLE", "UNSELECT"].map(String::from));
        caps.join(" ")
    }

    fn tagged(&mut self, out: &mut Output, tag: &str, text: &str) {
        let line = format!("{tag} {text}\r\n");
        self.log.send(out, line.as_bytes());
    }

    fn tagged_or_untagged(&mut self, out: &mut Output, tag: Option<&str>, text: &str) {
        self.tagged(out, tag.unwrap_or("*"), text);
    }

    /// The tagged completion of a command, after announcing what changed in the mailbox.
    fn done(
        &mut self,
        out: &mut Output,
        mailbox: &mut dyn Mailbox,
        tag: &str,
        text: &str,
        expunge_ok: bool,
    ) -> Step {
        self.sync(mailbox, out, expunge_ok);
        self.tagged(out, tag, text);
        Step::Handled
    }

    /// A refusal (NO) that counts as an error.
    fn refuse(
        &mut self,
        out: &mut Output,
        mailbox: &mut dyn Mailbox,
        tag: &str,
        text: &str,
    ) -> Step {
        self.sync(mailbox, out, true);
        self.tagged(out, tag, text);
        self.count_error(out)
    }

    fn no_mailbox(&mut self, out: &mut Output, tag: &str) -> Step {
        self.tagged(out, tag, "NO [NONEXISTENT] Only INBOX exists here");
        self.count_error(out)
    }

    /// `tag BAD text` (or `* BAD` without a tag), counted.
    fn bad(&mut self, out: &mut Output, tag: Option<&str>, text: &str) -> Step {
        let line = format!("{} BAD {text}\r\n", tag.unwrap_or("*"));
        self.log.send(out, line.as_bytes());
        self.count_error(out)
    }

    fn count_error(&mut self, out: &mut Output) -> Step {
        self.errors = self.errors.saturating_add(1);
        if self.errors >= self.config.max_errors {
            self.log.problem("too many errors");
            self.log.send(out, b"* BYE Too many errors\r\n");
            return self.close(out, None);
        }
        Step::Handled
    }

    fn close(&mut self, out: &mut Output, last: Option<(&str, &str)>) -> Step {
        if let Some((tag, text)) = last {
            self.tagged(out, tag, text);
        }
        self.closed = true;
        self.pending = Pending::None;
        self.buf.clear();
        Step::Close
    }

    fn authenticated(
        &mut self,
        tag: &str,
        user: String,
        mechanism: &str,
        ok: bool,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Step {
        self.log.events.push(ServerEvent::Auth {
            user: user.clone(),
            mechanism: mechanism.to_string(),
            ok,
        });
        if !ok {
            self.tagged(out, tag, "NO [AUTHENTICATIONFAILED] Authentication failed");
            return self.count_error(out);
        }
        mailbox.open(&user);
        self.user = Some(user);
        let text = format!("OK [CAPABILITY {}] Logged in", self.capabilities());
        self.tagged(out, tag, &text);
        Step::Handled
    }

    fn sasl_progress(
        &mut self,
        tag: String,
        exchange: Exchange,
        progress: Progress,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Step {
        let mech = exchange.mechanism().name();
        match progress {
            Progress::Challenge(bytes) => {
                let line = format!("+ {}\r\n", STANDARD.encode(bytes));
                self.log.send(out, line.as_bytes());
                self.pending = Pending::Sasl { tag, exchange };
                Step::Handled
            }
            Progress::Success { user, .. } => {
                self.authenticated(&tag, user, mech, true, mailbox, out)
            }
            Progress::Failure { user, why } => {
                self.log.problem(format!("authentication failed: {why}"));
                self.authenticated(&tag, user.unwrap_or_default(), mech, false, mailbox, out)
            }
        }
    }

    fn sasl_response(
        &mut self,
        tag: String,
        mut exchange: Exchange,
        line: &[u8],
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Step {
        if line == b"*" {
            return self.bad(out, Some(&tag), "AUTHENTICATE cancelled");
        }
        let Ok(mut response) = decode_response(line) else {
            return self.bad(out, Some(&tag), "Invalid base64 response");
        };
        let progress = exchange.step(&response, &Creds(&*mailbox));
        crate::secret::wipe(&mut response);
        self.sasl_progress(tag, exchange, progress, mailbox, out)
    }

    fn select(
        &mut self,
        tag: &str,
        name: &MailboxName<'_>,
        read_only: bool,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Step {
        self.selected = None;
        if !is_inbox(name) {
            return self.no_mailbox(out, tag);
        }
        let messages = mailbox.messages();
        let sel = Selected {
            messages,
            read_only,
            version: mailbox.version(),
            recent_from: mailbox.uid_next(),
        };
        let mut text = format!(
            "* FLAGS {FLAGS}\r\n* {} EXISTS\r\n* {} RECENT\r\n",
            sel.messages.len(),
            sel.recent_count()
        );
        if let Some(pos) = sel
            .messages
            .iter()
            .position(|m| !has_flag(&m.flags, "\\Seen"))
        {
            let n = pos.saturating_add(1);
            text.push_str(&format!(
                "* OK [UNSEEN {n}] Message {n} is the first unseen\r\n"
            ));
        }
        text.push_str(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n",
            mailbox.uid_validity(),
            mailbox.uid_next()
        ));
        if read_only {
            text.push_str("* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
        } else {
            text.push_str(
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n",
            );
        }
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        text.push_str(&format!("{tag} OK [{mode}] {verb} completed\r\n"));
        self.log.send(out, text.as_bytes());
        self.selected = Some(sel);
        Step::Handled
    }

    fn list(
        &mut self,
        tag: &str,
        verb: &str,
        reference: &MailboxName<'_>,
        pattern: &ListMailbox<'_>,
        mailbox: &mut dyn Mailbox,
        out: &mut Output,
    ) -> Step {
        let pattern: &[u8] = match pattern {
            ListMailbox::Token(t) => t.as_ref(),
            ListMailbox::String(s) => s.as_ref(),
        };
        let reference: &[u8] = match reference {
            MailboxName::Inbox => b"INBOX",
            MailboxName::Other(o) => o.as_ref(),
        };
        if pattern.is_empty() {
            if verb == "LIST" {
                self.log.send(out, b"* LIST (\\Noselect) \"/\" \"\"\r\n");
            }
        } else {
            let mut full = reference.to_vec();
            full.extend_from_slice(pattern);
            if wildcard_match(&full, b"INBOX") {
                let attrs = if verb == "LIST" {
                    "\\HasNoChildren"
                } else {
                    ""
                };
                let line = format!("* {verb} ({attrs}) \"/\" INBOX\r\n");
                self.log.send(out, line.as_bytes());
            }
        }
        let text = format!("OK {verb} completed");
        self.done(out, mailbox, tag, &text, true)
    }

    /// Announces what changed in the mailbox since the session last looked: expunged
    /// messages (when `expunge_ok`: not during FETCH, STORE, SEARCH), new ones, new flags.
    fn sync(&mut self, mailbox: &mut dyn Mailbox, out: &mut Output, expunge_ok: bool) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let version = mailbox.version();
        if version == sel.version {
            return;
        }
        let now = mailbox.messages();
        let mut text = String::new();
        let find = |uid: u32| now.binary_search_by_key(&uid, |m| m.uid).ok();
        // Expunges not announced yet keep the version old, so the next look finds them.
        if expunge_ok || sel.messages.iter().all(|m| find(m.uid).is_some()) {
            sel.version = version;
        }
        if expunge_ok {
            let mut removed = 0usize;
            let mut kept = Vec::with_capacity(sel.messages.len());
            for (i, m) in std::mem::take(&mut sel.messages).into_iter().enumerate() {
                if find(m.uid).is_some() {
                    kept.push(m);
                } else {
                    let seq = i.saturating_add(1).saturating_sub(removed);
                    text.push_str(&format!("* {seq} EXPUNGE\r\n"));
                    removed = removed.saturating_add(1);
                }
            }
            sel.messages = kept;
        }
        let mut changed = Vec::new();
        for (i, m) in sel.messages.iter_mut().enumerate() {
            if let Some(n) = find(m.uid).and_then(|p| now.get(p)) {
                if n.flags != m.flags {
                    m.flags.clone_from(&n.flags);
                    changed.push(i);
                }
            }
        }
        let last = sel.messages.last().map_or(0, |m| m.uid);
        let before = sel.messages.len();
        sel.messages
            .extend(now.iter().filter(|m| m.uid > last).cloned());
        if sel.messages.len() != before || !text.is_empty() {
            text.push_str(&format!("* {} EXISTS\r\n", sel.messages.len()));
            text.push_str(&format!("* {} RECENT\r\n", sel.recent_count()));
        }
        for i in changed {
            if let Some(m) = sel.messages.get(i) {
                text.push_str(&format!(
                    "* {} FETCH (FLAGS {})\r\n",
                    i.saturating_add(1),
                    sel.flags(m)
                ));
            }
        }
        self.log.send(out, text.as_bytes());
    }

    /// Removes the messages marked \Deleted, announcing each unless `silent`.
    fn expunge(&mut self, mailbox: &mut dyn Mailbox, out: &mut Output, silent: bool) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        if sel.read_only {
            return;
        }
        let uids: Vec<u32> = sel
            .messages
            .iter()
            .filter(|m| has_flag(&m.flags, "\\Deleted"))
            .map(|m| m.uid)
            .collect();
        if uids.is_empty() {
            return;
        }
        mailbox.expunge(&uids);
        let mut text = String::new();
        let mut removed = 0usize;
        let mut kept = Vec::with_capacity(sel.messages.len());
        for (i, m) in std::mem::take(&mut sel.messages).into_iter().enumerate() {
            if has_flag(&m.flags, "\\Deleted") {
                let seq = i.saturating_add(1).saturating_sub(removed);
                text.push_str(&format!("* {seq} EXPUNGE\r\n"));
                removed = removed.saturating_add(1);
                self.cache.map.remove(&m.uid);
            } else {
                kept.push(m);
            }
        }
        sel.messages = kept;
        if !silent {
            self.log.send(out, text.as_bytes());
        }
    }
}

/// The tag of a command's first line, when it is a valid one.
fn tag_of(cmd: &[u8]) -> Option<String> {
    let end = memchr::memchr2(b' ', b'\r', cmd)?;
    let tag = cmd.get(..end)?;
    valid_tag(tag).then(|| String::from_utf8_lossy(tag).into_owned())
}

fn is_inbox(name: &MailboxName<'_>) -> bool {
    matches!(name, MailboxName::Inbox)
}

pub(super) fn has_flag(flags: &[String], flag: &str) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

fn status_line(
    items: &[StatusDataItemName],
    messages: &[MessageInfo],
    mailbox: &dyn Mailbox,
) -> String {
    let deleted = || messages.iter().filter(|m| has_flag(&m.flags, "\\Deleted"));
    let parts: Vec<String> = items
        .iter()
        .map(|item| match item {
            StatusDataItemName::Messages => format!("MESSAGES {}", messages.len()),
            StatusDataItemName::Recent => format!(
                "RECENT {}",
                messages
                    .iter()
                    .filter(|m| has_flag(&m.flags, "\\Recent"))
                    .count()
            ),
            StatusDataItemName::UidNext => format!("UIDNEXT {}", mailbox.uid_next()),
            StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", mailbox.uid_validity()),
            StatusDataItemName::Unseen => format!(
                "UNSEEN {}",
                messages
                    .iter()
                    .filter(|m| !has_flag(&m.flags, "\\Seen"))
                    .count()
            ),
            StatusDataItemName::Deleted => format!("DELETED {}", deleted().count()),
            StatusDataItemName::DeletedStorage => format!(
                "DELETED-STORAGE {}",
                deleted().fold(0u64, |acc, m| acc.saturating_add(m.size))
            ),
        })
        .collect();
    format!("* STATUS INBOX ({})\r\n", parts.join(" "))
}

/// Whether a LIST pattern (`*` and `%` match anything: there is no hierarchy) matches `name`,
/// without case.
fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match (pattern.get(p), name.get(n)) {
            (Some(b'*' | b'%'), _) => {
                star = Some((p, n));
                p = p.saturating_add(1);
            }
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {
                p = p.saturating_add(1);
                n = n.saturating_add(1);
            }
            (None, None) => return true,
            _ => match star {
                Some((sp, sn)) if sn < name.len() => {
                    star = Some((sp, sn.saturating_add(1)));
                    p = sp.saturating_add(1);
                    n = sn.saturating_add(1);
                }
                _ => return false,
            },
        }
    }
}

/// A sequence set as sorted, merged inclusive ranges, `*` being `largest`.
fn ranges(set: &SequenceSet, largest: u32) -> Vec<(u32, u32)> {
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest,
    };
    let mut r: Vec<(u32, u32)> = set
        .0
        .as_ref()
        .iter()
        .map(|s| match s {
            Sequence::Single(v) => (value(v), value(v)),
            Sequence::Range(a, b) => {
                let (a, b) = (value(a), value(b));
                (a.min(b), a.max(b))
            }
        })
        .collect();
    r.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

fn contains(ranges: &[(u32, u32)], n: u32) -> bool {
    let i = ranges.partition_point(|&(_, b)| b < n);
    ranges.get(i).is_some_and(|&(a, _)| a <= n)
}

/// The numbers a set names: sequence numbers (`uid` false) or UIDs, as indexes into the
/// selected messages. Only messages that exist are looked at.
fn matching(sel: &Selected, set: &SequenceSet, uid: bool) -> Vec<usize> {
    let largest = if uid {
        sel.messages.last().map_or(0, |m| m.uid)
    } else {
        u32::try_from(sel.messages.len()).unwrap_or(u32::MAX)
    };
    let r = ranges(set, largest);
    sel.messages
        .iter()
        .enumerate()
        .filter(|(i, m)| {
            let key = if uid {
                m.uid
            } else {
                u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX)
            };
            contains(&r, key)
        })
        .map(|(i, _)| i)
        .collect()
}

/// IMAP's date-time, in UTC.
fn date_time(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%d-%b-%Y %H:%M:%S +0000")
        .to_string()
}

/// The UTC day of a time.
fn day(seconds: i64) -> jiff::civil::Date {
    jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
}

impl Machine for Server {
    type Backend = dyn Mailbox;

    fn protocol(&self) -> Protocol {
        Protocol::Imap
    }

    fn timed_out(&mut self, out: &mut Output) {
        out.push(b"* BYE Autologout: the client was silent too long\r\n");
    }

    fn greeting(&mut self, out: &mut Output) {
        let line = format!(
            "* OK [CAPABILITY {}] {} IMAP4rev1 mailtalk ready\r\n",
            self.capabilities(),
            self.config.hostname
        );
        self.log.send(out, line.as_bytes());
    }

    fn feed(&mut self, bytes: &[u8]) {
        if !self.closed {
            self.buf.push(bytes);
        }
    }

    fn tls_started(&mut self) {
        self.tls = true;
        self.buf.clear();
        self.cmd.clear();
        self.input = Input::Line;
        self.pending = Pending::None;
        self.fetching = None;
    }

    fn shutdown(&mut self, out: &mut Output) {
        if self.closed {
            return;
        }
        let line = format!("* BYE {} server shutting down\r\n", self.config.hostname);
        self.log.send(out, line.as_bytes());
        self.closed = true;
    }

    fn wait(&self) -> Wait {
        match (self.input, &self.pending) {
            (Input::Literal { .. } | Input::Skip { .. }, _) => Wait::Data,
            (_, Pending::Idle { .. }) => Wait::Idle,
            _ => Wait::Command,
        }
    }

    fn take_events(&mut self) -> Vec<ServerEvent> {
        std::mem::take(&mut self.log.events)
    }

    /// During IDLE: announces what changed in the mailbox since the last look.
    fn tick(&mut self, mailbox: &mut Self::Backend, out: &mut Output) {
        if matches!(self.pending, Pending::Idle { .. }) && !self.closed {
            self.sync(mailbox, out, true);
        }
    }

    fn step(&mut self, mailbox: &mut Self::Backend, out: &mut Output) -> Step {
        loop {
            if self.closed {
                return Step::Close;
            }
            if self.fetching.is_some() {
                return self.fetch_more(mailbox, out);
            }
            match self.input {
                Input::Literal { left } | Input::Skip { left } => {
                    let keep = matches!(self.input, Input::Literal { .. });
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.buffered());
                    if n == 0 && left > 0 {
                        return Step::NeedInput;
                    }
                    let bytes = self.buf.take(n);
                    if keep {
                        self.cmd.extend_from_slice(&bytes);
                    }
                    let left = left.saturating_sub(u64::try_from(n).unwrap_or(u64::MAX));
                    self.input = match (left, keep) {
                        (0, true) => Input::Line,
                        (0, false) => Input::SkipRest,
                        (left, true) => Input::Literal { left },
                        (left, false) => Input::Skip { left },
                    };
                }
                Input::Line | Input::SkipRest => {
                    let line = match self.buf.next_line() {
                        Ok(Some(line)) => line,
                        Ok(None) => return Step::NeedInput,
                        Err(_) => {
                            self.log.problem("line too long");
                            self.log.send(out, b"* BAD Line too long\r\n");
                            return self.close(out, None);
                        }
                    };
                    if self.input == Input::SkipRest {
                        self.log.input(&line, None);
                        self.skip_rest(&line);
                        continue;
                    }
                    if let Some(step) = self.line(line, mailbox, out) {
                        return step;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::server::Piece;
    use crate::secret::Secret;

    const M1: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Hello\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m1@example.org>\r\n\r\nHello Bob,\r\nhow are you?\r\n";
    const M2: &[u8] = b"From: Carol <carol@example.org>\r\nTo: bob@example.org\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the file.\r\n--b1\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b1--\r\n";
    const M3: &[u8] =
        b"From: dave@example.org\r\nCc: alice@example.org\r\nSubject: Re: Hello\r\n\r\nbye\r\n";

    /// A mailbox in memory, with one user.
    struct Store {
        messages: Vec<(MessageInfo, Arc<Vec<u8>>)>,
        version: u64,
        next: u32,
        opened: Option<String>,
    }

    impl Store {
        fn new() -> Store {
            let mut s = Store {
                messages: Vec::new(),
                version: 1,
                next: 1,
                opened: None,
            };
            s.add(M1, &[], 1_704_103_200);
            s.add(M2, &["\\Seen"], 1_704_189_600);
            s.add(M3, &["\\Flagged"], 1_704_276_000);
            s
        }

        fn add(&mut self, data: &[u8], flags: &[&str], received: i64) {
            let info = MessageInfo {
                uid: self.next,
                size: data.len() as u64,
                flags: flags.iter().map(|f| f.to_string()).collect(),
                received,
            };
            self.messages.push((info, Arc::new(data.to_vec())));
            self.next += 1;
            self.version += 1;
        }
    }

    impl Credentials for Store {
        fn check(&self, user: &str, password: &[u8]) -> bool {
            user == "alice" && password == b"secret"
        }
        fn password(&self, user: &str) -> Lookup {
            if user == "alice" {
                Lookup::Known(Secret::new("secret".into()))
            } else {
                Lookup::Unknown
            }
        }
    }

    impl Mailbox for Store {
        fn open(&mut self, user: &str) {
            self.opened = Some(user.to_string());
        }
        fn messages(&mut self) -> Vec<MessageInfo> {
            self.messages.iter().map(|(i, _)| i.clone()).collect()
        }
        fn body(&mut self, uid: u32) -> Option<Arc<Vec<u8>>> {
            self.messages
                .iter()
                .find(|(i, _)| i.uid == uid)
                .map(|(_, d)| Arc::clone(d))
        }
        fn set_flags(&mut self, uid: u32, flags: Vec<String>) {
            for (i, _) in &mut self.messages {
                if i.uid == uid {
                    i.flags = flags.clone();
                }
            }
            self.version += 1;
        }
        fn expunge(&mut self, uids: &[u32]) {
            self.messages.retain(|(i, _)| !uids.contains(&i.uid));
            self.version += 1;
        }
        fn uid_validity(&self) -> u32 {
            7
        }
        fn uid_next(&self) -> u32 {
            self.next
        }
        fn version(&self) -> u64 {
            self.version
        }
    }

    fn config() -> Config {
        Config {
            hostname: "mx.test".into(),
            starttls: true,
            plaintext_auth: true,
            max_literal: 1024,
            max_command: 4096,
            max_commands: 1000,
            max_errors: 10,
            require_tls: false,
            log: true,
            mechanisms: vec![ServerMech::Plain],
        }
    }

    /// Feeds `input`, steps until more input is needed; the output and the last step.
    fn exchange(s: &mut Server, store: &mut Store, input: &[u8]) -> (String, Step) {
        s.feed(input);
        let mut out = Output::new();
        let mut last;
        loop {
            last = s.step(store, &mut out);
            if last != Step::Handled {
                break;
            }
        }
        (String::from_utf8(out.to_bytes()).unwrap(), last)
    }

    fn talk(s: &mut Server, store: &mut Store, input: &str) -> String {
        exchange(s, store, input.as_bytes()).0
    }

    fn logged_in(store: &mut Store) -> Server {
        let mut s = Server::new(config());
        let mut out = Output::new();
        s.greeting(&mut out);
        let r = talk(&mut s, store, "a LOGIN alice secret\r\n");
        assert!(r.starts_with("a OK"), "{r}");
        s
    }

    #[test]
    fn greeting_capability_noop_logout() {
        let mut store = Store::new();
        let mut s = Server::new(config());
        let mut out = Output::new();
        s.greeting(&mut out);
        assert_eq!(
            out.to_bytes(),
            b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR LITERAL+ IDLE UNSELECT] mx.test IMAP4rev1 mailtalk ready\r\n"
        );
        assert_eq!(s.wait(), Wait::Command);
        let (r, step) = exchange(
            &mut s,
            &mut store,
            b"1 CAPABILITY\r\n2 NOOP\r\n3 LOGOUT\r\n4 NOOP\r\n",
        );
        assert_eq!(
            r,
            "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR LITERAL+ IDLE UNSELECT\r\n\
             1 OK CAPABILITY completed\r\n2 OK NOOP completed\r\n\
             * BYE mx.test logging out\r\n3 OK LOGOUT completed\r\n"
        );
        assert_eq!(step, Step::Close);
        assert_eq!(exchange(&mut s, &mut store, b"5 NOOP\r\n").1, Step::Close);
    }

    /// Runs commands one by one, comparing each answer with the exact bytes expected.
    fn script(s: &mut Server, store: &mut Store, steps: &[(&str, &str)]) {
        for (cmd, expected) in steps {
            assert_eq!(talk(s, store, cmd), *expected, "after {cmd:?}");
        }
    }

    const SELECTED: &str = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
        * 3 EXISTS\r\n* 0 RECENT\r\n* OK [UNSEEN 1] Message 1 is the first unseen\r\n\
        * OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT 4] Predicted next UID\r\n\
        * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n\
        b OK [READ-WRITE] SELECT completed\r\n";

    const ENV1: &str = "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello\" ((\"Alice\" NIL \"alice\" \"example.org\")) \
        ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) \
        ((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL \"<m1@example.org>\")";

    #[test]
    fn session_fetches_every_item() {
        let mut store = Store::new();
        let mut s = Server::new(config());
        let mut out = Output::new();
        s.greeting(&mut out);
        script(
            &mut s,
            &mut store,
            &[
                (
                    "a LOGIN alice secret\r\n",
                    "a OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE UNSELECT] Logged in\r\n",
                ),
                ("b SELECT INBOX\r\n", SELECTED),
                (
                    "c FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)\r\n",
                    "* 1 FETCH (FLAGS () UID 1 RFC822.SIZE 166 INTERNALDATE \"01-Jan-2024 10:00:00 +0000\")\r\n\
                     * 2 FETCH (FLAGS (\\Seen) UID 2 RFC822.SIZE 355 INTERNALDATE \"02-Jan-2024 10:00:00 +0000\")\r\n\
                     * 3 FETCH (FLAGS (\\Flagged) UID 3 RFC822.SIZE 74 INTERNALDATE \"03-Jan-2024 10:00:00 +0000\")\r\n\
                     c OK FETCH completed\r\n",
                ),
                (
                    "d FETCH 1 ENVELOPE\r\n",
                    &format!("* 1 FETCH (ENVELOPE {ENV1})\r\nd OK FETCH completed\r\n"),
                ),
                (
                    "e FETCH 2 BODYSTRUCTURE\r\n",
                    "* 2 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 13 1 NIL NIL NIL NIL)\
                     (\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") NIL NIL \"BASE64\" 8 NIL (\"ATTACHMENT\" (\"FILENAME\" \"r.pdf\")) NIL NIL) \
                     \"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL))\r\ne OK FETCH completed\r\n",
                ),
                (
                    "f FETCH 2 BODY\r\n",
                    "* 2 FETCH (BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 13 1)\
                     (\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") NIL NIL \"BASE64\" 8) \"MIXED\"))\r\n\
                     f OK FETCH completed\r\n",
                ),
                (
                    "g FETCH 1 BODY.PEEK[]\r\n",
                    &format!(
                        "* 1 FETCH (BODY[] {{166}}\r\n{})\r\ng OK FETCH completed\r\n",
                        std::str::from_utf8(M1).unwrap()
                    ),
                ),
                (
                    "h FETCH 3 BODY[HEADER]\r\n",
                    "* 3 FETCH (BODY[HEADER] {69}\r\nFrom: dave@example.org\r\nCc: alice@example.org\r\n\
                     Subject: Re: Hello\r\n\r\n FLAGS (\\Flagged \\Seen))\r\nh OK FETCH completed\r\n",
                ),
                (
                    "i FETCH 3 BODY.PEEK[TEXT]\r\n",
                    "* 3 FETCH (BODY[TEXT] {5}\r\nbye\r\n)\r\ni OK FETCH completed\r\n",
                ),
                (
                    "j FETCH 2 (BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[1.MIME] BODY.PEEK[3])\r\n",
                    "* 2 FETCH (BODY[1] {13}\r\nSee the file. BODY[2] {8}\r\nJVBERg== BODY[1.MIME] {43}\r\n\
                     Content-Type: text/plain; charset=utf-8\r\n\r\n BODY[3] {0}\r\n)\r\nj OK FETCH completed\r\n",
                ),
                (
                    "k FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject From)]\r\n",
                    "* 1 FETCH (BODY[HEADER.FIELDS (Subject From)] {51}\r\nFrom: Alice <alice@example.org>\r\n\
                     Subject: Hello\r\n\r\n)\r\nk OK FETCH completed\r\n",
                ),
                (
                    "l FETCH 3 BODY.PEEK[HEADER.FIELDS.NOT (Subject From)]\r\n",
                    "* 3 FETCH (BODY[HEADER.FIELDS.NOT (Subject From)] {25}\r\nCc: alice@example.org\r\n\r\n)\r\n\
                     l OK FETCH completed\r\n",
                ),
                (
                    "m FETCH 1 BODY.PEEK[]<6.5>\r\n",
                    "* 1 FETCH (BODY[]<6> {5}\r\nAlice)\r\nm OK FETCH completed\r\n",
                ),
                (
                    "m FETCH 1 BODY.PEEK[]<500.5>\r\n",
                    "* 1 FETCH (BODY[]<500> {0}\r\n)\r\nm OK FETCH completed\r\n",
                ),
                (
                    "n FETCH 3 (RFC822.HEADER RFC822.TEXT)\r\n",
                    "* 3 FETCH (RFC822.HEADER {69}\r\nFrom: dave@example.org\r\nCc: alice@example.org\r\n\
                     Subject: Re: Hello\r\n\r\n RFC822.TEXT {5}\r\nbye\r\n)\r\nn OK FETCH completed\r\n",
                ),
                (
                    "o UID FETCH 3 RFC822\r\n",
                    &format!(
                        "* 3 FETCH (UID 3 RFC822 {{74}}\r\n{})\r\no OK UID FETCH completed\r\n",
                        std::str::from_utf8(M3).unwrap()
                    ),
                ),
                (
                    "p FETCH 1 FAST\r\n",
                    "* 1 FETCH (FLAGS () INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" RFC822.SIZE 166)\r\n\
                     p OK FETCH completed\r\n",
                ),
                (
                    "q FETCH 1 ALL\r\n",
                    &format!(
                        "* 1 FETCH (FLAGS () INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" RFC822.SIZE 166 \
                         ENVELOPE {ENV1})\r\nq OK FETCH completed\r\n"
                    ),
                ),
                (
                    "r FETCH 3 FULL\r\n",
                    "* 3 FETCH (FLAGS (\\Flagged \\Seen) INTERNALDATE \"03-Jan-2024 10:00:00 +0000\" RFC822.SIZE 74 \
                     ENVELOPE (NIL \"Re: Hello\" ((NIL NIL \"dave\" \"example.org\")) ((NIL NIL \"dave\" \"example.org\")) \
                     ((NIL NIL \"dave\" \"example.org\")) NIL ((NIL NIL \"alice\" \"example.org\")) NIL NIL NIL) \
                     BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 1))\r\nr OK FETCH completed\r\n",
                ),
                (
                    "s FETCH 1 BODY[1]\r\n",
                    "* 1 FETCH (BODY[1] {26}\r\nHello Bob,\r\nhow are you?\r\n FLAGS (\\Seen))\r\ns OK FETCH completed\r\n",
                ),
                (
                    "t UID FETCH 1:4294967295 FLAGS\r\n",
                    "* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n\
                     * 3 FETCH (UID 3 FLAGS (\\Flagged \\Seen))\r\nt OK UID FETCH completed\r\n",
                ),
                (
                    "u FETCH 2:4294967295 UID\r\n",
                    "* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\nu OK FETCH completed\r\n",
                ),
                ("v UID FETCH 9:* UID\r\n", "* 3 FETCH (UID 3)\r\nv OK UID FETCH completed\r\n"),
                ("w FETCH 7 UID\r\n", "w OK FETCH completed\r\n"),
            ],
        );
        // The bodies went out as ranges of the stored bytes, not as copies.
        let mut out = Output::new();
        s.feed(b"x FETCH 1 BODY.PEEK[TEXT]\r\n");
        assert_eq!(s.step(&mut store, &mut out), Step::Handled);
        let pieces = out.take();
        assert!(
            matches!(&pieces[1], Piece::Message { range, stuffed: false, .. } if *range == (140..166))
        );
    }

    #[test]
    fn session_searches_stores_expunges_and_idles() {
        let mut store = Store::new();
        let mut s = logged_in(&mut store);
        let searches: &[(&str, &str)] = &[
            ("ALL", "1 2 3"),
            ("SEEN", "2"),
            ("UNSEEN", "1 3"),
            ("FLAGGED UNDELETED", "3"),
            ("UNFLAGGED", "1 2"),
            ("DELETED", ""),
            ("ANSWERED", ""),
            ("UNANSWERED UNDRAFT", "1 2 3"),
            ("DRAFT", ""),
            ("NEW", ""),
            ("OLD", "1 2 3"),
            ("RECENT", ""),
            ("FROM alice", "1"),
            ("TO BOB", "1 2"),
            ("CC alice", "3"),
            ("BCC alice", ""),
            ("SUBJECT hello", "1 3"),
            ("HEADER Message-ID m1", "1"),
            ("BODY \"the FILE\"", "2"),
            ("TEXT carol", "2"),
            ("SINCE 2-Jan-2024", "2 3"),
            ("BEFORE 2-Jan-2024", "1"),
            ("ON 2-Jan-2024", "2"),
            ("SENTON 1-Jan-2024", "1"),
            ("LARGER 100 SMALLER 200", "1"),
            ("2:3", "2 3"),
            ("1:4294967295", "1 2 3"),
            ("NOT 2", "1 3"),
            ("OR 1 3", "1 3"),
            ("(SEEN FROM carol) 1:*", "2"),
        ];
        talk(&mut s, &mut store, "b SELECT INBOX\r\n");
        for (key, found) in searches {
            let sp = if found.is_empty() { "" } else { " " };
            script(
                &mut s,
                &mut store,
                &[(
                    &format!("c SEARCH {key}\r\n"),
                    &format!("* SEARCH{sp}{found}\r\nc OK SEARCH completed\r\n"),
                )],
            );
        }
        script(
            &mut s,
            &mut store,
            &[
                (
                    "c UID SEARCH UID 2:*\r\n",
                    "* SEARCH 2 3\r\nc OK UID SEARCH completed\r\n",
                ),
                (
                    "c SEARCH CHARSET KOI8-R ALL\r\n",
                    "c NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n",
                ),
                ("c SEARCH FOO\r\n", "c BAD Syntax error or unknown command\r\n"),
                (
                    "d STORE 1 +FLAGS (\\Deleted \\Answered)\r\n",
                    "* 1 FETCH (FLAGS (\\Deleted \\Answered))\r\nd OK STORE completed\r\n",
                ),
                ("d STORE 1 -FLAGS.SILENT (\\Answered)\r\n", "d OK STORE completed\r\n"),
                (
                    "d UID STORE 2 FLAGS (\\Flagged $Label)\r\n",
                    "* 2 FETCH (UID 2 FLAGS (\\Flagged $Label))\r\nd OK UID STORE completed\r\n",
                ),
                ("d SEARCH KEYWORD $label\r\n", "* SEARCH 2\r\nd OK SEARCH completed\r\n"),
                ("e EXPUNGE\r\n", "* 1 EXPUNGE\r\ne OK EXPUNGE completed\r\n"),
                (
                    "f FETCH 1:* FLAGS\r\n",
                    "* 1 FETCH (FLAGS (\\Flagged $Label))\r\n* 2 FETCH (FLAGS (\\Flagged))\r\nf OK FETCH completed\r\n",
                ),
                ("g IDLE\r\n", "+ idling\r\n"),
            ],
        );
        assert_eq!(store.messages.len(), 2);
        assert_eq!(s.wait(), Wait::Idle);
        // Nothing changed: nothing to say.
        let mut out = Output::new();
        s.tick(&mut store, &mut out);
        assert!(out.is_empty());
        store.add(M3, &[], 1_704_362_400);
        store.messages[0].0.flags.push("\\Answered".into());
        store.version += 1;
        s.tick(&mut store, &mut out);
        assert_eq!(
            String::from_utf8(out.to_bytes()).unwrap(),
            "* 3 EXISTS\r\n* 1 RECENT\r\n* 1 FETCH (FLAGS (\\Flagged $Label \\Answered \\Recent))\r\n"
                .replace(" \\Recent", "")
        );
        talk(&mut s, &mut store, "DONE\r\n");
        // Another session expunges: not said during FETCH, said at the next NOOP.
        store.messages.remove(0);
        store.version += 1;
        script(
            &mut s,
            &mut store,
            &[
                (
                    "h FETCH 1 UID\r\n",
                    "* 1 FETCH (UID 2)\r\nh OK FETCH completed\r\n",
                ),
                (
                    "h NOOP\r\n",
                    "* 1 EXPUNGE\r\n* 2 EXISTS\r\n* 1 RECENT\r\nh OK NOOP completed\r\n",
                ),
                (
                    "h SEARCH RECENT NEW\r\n",
                    "* SEARCH 2\r\nh OK SEARCH completed\r\n",
                ),
                ("i IDLE\r\n", "+ idling\r\n"),
                ("NOPE\r\n", "i BAD Expected DONE\r\n"),
                ("j CLOSE\r\n", "j OK CLOSE completed\r\n"),
                ("k FETCH 1 UID\r\n", "k BAD Select a mailbox first\r\n"),
                (
                    "l LOGOUT\r\n",
                    "* BYE mx.test logging out\r\nl OK LOGOUT completed\r\n",
                ),
            ],
        );
        assert_eq!(store.opened.as_deref(), Some("alice"));
    }

    const LOGGED_IN: &str = "OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE UNSELECT] Logged in\r\n";

    #[test]
    fn literals_sync_nonsync_and_refused() {
        let mut store = Store::new();
        let mut s = Server::new(config());
        script(
            &mut s,
            &mut store,
            &[
                ("a LOGIN {5}\r\n", "+ Ready for literal data\r\n"),
                ("alice {6}\r\n", "+ Ready for literal data\r\n"),
                ("bad\r\n", ""),
            ],
        );
        assert_eq!(s.wait(), Wait::Data);
        script(
            &mut s,
            &mut store,
            &[(
                "\r\n",
                "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
            )],
        );
        assert_eq!(s.wait(), Wait::Command);
        script(
            &mut s,
            &mut store,
            // Refused before anything is read: the client sends no content.
            &[
                (
                    "c LOGIN {99999999999}\r\n",
                    "c NO [TOOBIG] Literal too large\r\n",
                ),
                ("d LOGIN {1025}\r\n", "d NO [TOOBIG] Literal too large\r\n"),
                (
                    "b LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n",
                    &format!("b {LOGGED_IN}"),
                ),
            ],
        );
        // A refused non-synchronising literal is skipped, with the rest of its command.
        let mut input = b"e APPEND INBOX {5000+}\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend_from_slice(b" more {3+}\r\nabc\r\nf NOOP\r\n");
        for chunk in input.chunks(700) {
            s.feed(chunk);
            let mut out = Output::new();
            while s.step(&mut store, &mut out) == Step::Handled {}
            let text = String::from_utf8(out.to_bytes()).unwrap();
            assert!(
                text.is_empty()
                    || text == "e BAD [TOOBIG] Literal too large\r\n"
                    || text == "f OK NOOP completed\r\n",
                "{text}"
            );
        }
        script(
            &mut s,
            &mut store,
            &[
                ("g APPEND INBOX {3}\r\n", "+ Ready for literal data\r\n"),
                ("abc\r\n", "g NO [CANNOT] Only INBOX exists here\r\n"),
                // A syntax error is told before any literal is asked for.
                ("h NOOP {0}\r\n", "h BAD Syntax error\r\n"),
                ("h LOGIN alice {0}\r\n", "+ Ready for literal data\r\n"),
                ("\r\n", "h BAD Already authenticated\r\n"),
                (
                    "i FOO {3+}\r\nabc\r\nj NOOP\r\n",
                    "i BAD Syntax error\r\nj OK NOOP completed\r\n",
                ),
            ],
        );
        // Literals in one command are bounded in number too.
        let many = format!("l SEARCH{}\r\n", " TEXT {1+}\r\nx".repeat(70));
        let r = talk(&mut s, &mut store, &many);
        assert!(r.starts_with("l BAD [TOOBIG] Literal too large\r\n"), "{r}");
        // A size past 64 bits cannot be skipped: the session ends.
        let (r, step) = exchange(
            &mut s,
            &mut store,
            b"k LOGIN {99999999999999999999999+}\r\n",
        );
        assert_eq!(r, "k BAD Literal too large\r\n");
        assert_eq!(step, Step::Close);
    }

    #[test]
    fn a_command_past_the_limit_closes() {
        let mut store = Store::new();
        let mut cfg = config();
        cfg.max_command = 100;
        let mut s = Server::new(cfg);
        // Literals count toward the command: 60 + 50 is more than 100.
        let r = talk(
            &mut s,
            &mut store,
            &format!("a LOGIN {{60}}\r\n{} {{50}}\r\n", "u".repeat(60)),
        );
        assert_eq!(
            r,
            "+ Ready for literal data\r\na NO [TOOBIG] Literal too large\r\n"
        );
        let (r, step) = exchange(&mut s, &mut store, &[b'a'; 200]);
        assert_eq!(r, "* BAD Line too long\r\n");
        assert_eq!(step, Step::Close);
        let mut s = Server::new(config());
        let (r, step) = exchange(
            &mut s,
            &mut store,
            format!("a NOOP {}\r\n", "x".repeat(4100)).as_bytes(),
        );
        assert_eq!(r, "* BAD Line too long\r\n");
        assert_eq!(step, Step::Close);
    }

    #[test]
    fn garbage_and_nul_bytes() {
        let mut store = Store::new();
        let mut s = Server::new(config());
        script(
            &mut s,
            &mut store,
            &[
                (
                    "\0\x01\x02\r\n",
                    "* BAD Syntax error or unknown command\r\n",
                ),
                ("\r\n", "* BAD Empty command line\r\n"),
                (
                    "\u{ff}\u{fe}\r\n",
                    "* BAD Syntax error or unknown command\r\n",
                ),
                (
                    "hello world\r\n",
                    "hello BAD Syntax error or unknown command\r\n",
                ),
                (
                    "a1 LOGIN \"al\0ce\" x\r\n",
                    "a1 BAD Syntax error or unknown command\r\n",
                ),
                ("a2 LOGIN {3}\r\n", "+ Ready for literal data\r\n"),
                ("a\0b x\r\n", "a2 BAD Syntax error or unknown command\r\n"),
                ("a3 SELECT INBOX\r\n", "a3 BAD Log in first\r\n"),
                (
                    "a4 FETCH 1 (BODY[\r\n",
                    "a4 BAD Syntax error or unknown command\r\n",
                ),
                ("a5 NOOP\n", "a5 OK NOOP completed\r\n"),
            ],
        );
    }

    #[test]
    fn too_many_errors_or_commands_end_the_session() {
        let mut store = Store::new();
        let mut s = Server::new(config());
        let (r, step) = exchange(&mut s, &mut store, "x\r\n".repeat(12).as_bytes());
        assert_eq!(
            r,
            format!(
                "{}* BYE Too many errors\r\n",
                "x BAD Syntax error or unknown command\r\n".repeat(10)
            )
        );
        assert_eq!(step, Step::Close);
        let mut cfg = config();
        cfg.max_commands = 2;
        let mut s = Server::new(cfg);
        let (r, step) = exchange(&mut s, &mut store, b"a NOOP\r\nb NOOP\r\nc NOOP\r\n");
        assert_eq!(
            r,
            "a OK NOOP completed\r\nb OK NOOP completed\r\n* BYE Too many commands\r\n"
        );
        assert_eq!(step, Step::Close);
        assert!(s
            .take_events()
            .contains(&ServerEvent::Problem("too many commands".into())));
    }

    /// A session with every kind of input: the same answer however the bytes are split.
    #[test]
    fn input_split_anywhere_gives_the_same_answer() {
        let input: &[u8] = b"a LOGIN {5}\r\nalice \"secret\"\r\nb SELECT INBOX\r\nc FETCH 2 (UID BODY.PEEK[1] ENVELOPE)\r\nd SEARCH OR FROM alice TEXT bye\r\ne STORE 1:* +FLAGS.SILENT (\\Deleted)\r\nf IDLE\r\nDONE\r\ng EXPUNGE\r\nh LOGOUT\r\n";
        let whole = {
            let mut store = Store::new();
            let mut s = Server::new(config());
            let (r, step) = exchange(&mut s, &mut store, input);
            assert_eq!(step, Step::Close);
            r
        };
        assert!(whole.ends_with("* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\ng OK EXPUNGE completed\r\n* BYE mx.test logging out\r\nh OK LOGOUT completed\r\n"), "{whole}");
        let run = |chunks: &mut dyn Iterator<Item = &[u8]>| {
            let mut store = Store::new();
            let mut s = Server::new(config());
            let mut all = String::new();
            for chunk in chunks {
                all.push_str(&exchange(&mut s, &mut store, chunk).0);
            }
            all
        };
        assert_eq!(run(&mut input.chunks(1)), whole);
        for i in 0..input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(run(&mut [a, b].into_iter()), whole, "split at {i}");
        }
    }

    #[test]
    fn the_configured_mechanisms_are_advertised_and_only_they_accepted() {
        let mut store = Store::new();
        let mut cfg = config();
        cfg.plaintext_auth = false;
        cfg.mechanisms = vec![ServerMech::Plain, ServerMech::CramMd5];
        let mut s = Server::new(cfg);
        let mut out = Output::new();
        s.greeting(&mut out);
        // Without TLS the password may not cross, but a challenge-response mechanism may.
        assert_eq!(
            out.to_bytes(),
            b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=CRAM-MD5 SASL-IR LOGINDISABLED LITERAL+ IDLE UNSELECT] mx.test IMAP4rev1 mailtalk ready\r\n"
        );
        script(
            &mut s,
            &mut store,
            &[(
                "a AUTHENTICATE SCRAM-SHA-256\r\n",
                "a NO Unsupported authentication mechanism\r\n",
            )],
        );
    }

    #[test]
    fn starttls_drops_what_came_after_and_forgets() {
        let mut store = Store::new();
        let mut cfg = config();
        cfg.plaintext_auth = false;
        let mut s = Server::new(cfg);
        let mut out = Output::new();
        s.greeting(&mut out);
        assert_eq!(
            out.to_bytes(),
            b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED LITERAL+ IDLE UNSELECT] mx.test IMAP4rev1 mailtalk ready\r\n"
        );
        script(
            &mut s,
            &mut store,
            &[
                (
                    "a LOGIN alice secret\r\n",
                    "a NO [PRIVACYREQUIRED] LOGIN is not allowed before STARTTLS\r\n",
                ),
                (
                    "a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
                    "a NO [PRIVACYREQUIRED] Plaintext authentication needs TLS\r\n",
                ),
            ],
        );
        let (r, step) = exchange(
            &mut s,
            &mut store,
            b"b STARTTLS\r\nc LOGIN alice secret\r\n",
        );
        assert_eq!(r, "b OK Begin TLS negotiation now\r\n");
        assert_eq!(step, Step::StartTls);
        assert!(!s.is_tls());
        s.tls_started();
        assert!(s.is_tls());
        script(
            &mut s,
            &mut store,
            &[
                (
                    "d CAPABILITY\r\n",
                    "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ IDLE UNSELECT\r\nd OK CAPABILITY completed\r\n",
                ),
                ("e STARTTLS\r\n", "e BAD STARTTLS is not allowed now\r\n"),
                ("f LOGIN alice secret\r\n", &format!("f {LOGGED_IN}")),
            ],
        );
        let mut cfg = config();
        cfg.starttls = false;
        let mut s = Server::new(cfg);
        script(
            &mut s,
            &mut store,
            &[("a STARTTLS\r\n", "a BAD STARTTLS is not offered\r\n")],
        );
    }

    #[test]
    fn authenticate_plain() {
        let mut store = Store::new();
        let mut s = Server::new(config());
        script(
            &mut s,
            &mut store,
            &[
                ("a AUTHENTICATE PLAIN\r\n", "+ \r\n"),
                ("*\r\n", "a BAD AUTHENTICATE cancelled\r\n"),
                ("b AUTHENTICATE PLAIN\r\n", "+ \r\n"),
                ("!!!\r\n", "b BAD Invalid base64 response\r\n"),
                (
                    "c AUTHENTICATE PLAIN AGFsaWNlAHdyb25n\r\n",
                    "c NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
                ),
                (
                    "c AUTHENTICATE X-UNKNOWN\r\n",
                    "c NO Unsupported authentication mechanism\r\n",
                ),
                ("d AUTHENTICATE PLAIN\r\n", "+ \r\n"),
                ("AGFsaWNlAHNlY3JldA==\r\n", &format!("d {LOGGED_IN}")),
                (
                    "e AUTHENTICATE PLAIN =\r\n",
                    "e BAD Already authenticated\r\n",
                ),
                (
                    "f LOGIN alice secret\r\n",
                    "f BAD Already authenticated\r\n",
                ),
            ],
        );
        let mut s = Server::new(config());
        script(
            &mut s,
            &mut store,
            &[(
                "a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
                &format!("a {LOGGED_IN}"),
            )],
        );
        let events = s.take_events();
        assert!(events.contains(&ServerEvent::Auth {
            user: "alice".into(),
            mechanism: "PLAIN".into(),
            ok: true
        }));
        assert!(
            matches!(&events[0], ServerEvent::Line { dir: Dir::In, secret: Some(r), .. } if *r == (21..41))
        );
    }

    #[test]
    fn log_hides_secrets_and_literal_content() {
        let mut store = Store::new();
        let mut s = Server::new(config());
        talk(
            &mut s,
            &mut store,
            "a LOGIN alice {6}\r\nsecret\r\nb SELECT INBOX\r\n",
        );
        s.take_events();
        talk(
            &mut s,
            &mut store,
            "c FETCH 3 BODY.PEEK[TEXT]\r\nd LOGIN alice pass\r\n",
        );
        let lines: Vec<(Dir, String, Option<Range<usize>>)> = s
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Line {
                    dir, bytes, secret, ..
                } => Some((dir, String::from_utf8(bytes).unwrap(), secret)),
                _ => None,
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (Dir::In, "c FETCH 3 BODY.PEEK[TEXT]".into(), None),
                (Dir::Out, "* 3 FETCH (BODY[TEXT] {5}".into(), None),
                (Dir::Out, ")".into(), None),
                (Dir::Out, "c OK FETCH completed".into(), None),
                (Dir::In, "d LOGIN alice pass".into(), Some(14..18)),
                (Dir::Out, "d BAD Already authenticated".into(), None),
            ]
        );
        talk(&mut s, &mut store, "NOOP LOGIN alice pass\r\n");
        assert!(
            matches!(&s.take_events()[0], ServerEvent::Line { secret: Some(r), .. } if *r == (17..21))
        );
        let mut cfg = config();
        cfg.log = false;
        let mut s = Server::new(cfg);
        talk(&mut s, &mut store, "a LOGIN alice secret\r\nb NOOP\r\n");
        let events = s.take_events();
        assert!(events
            .iter()
            .all(|e| !matches!(e, ServerEvent::Line { .. })));
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn examine_list_status_and_other_mailboxes() {
        let mut store = Store::new();
        let mut s = logged_in(&mut store);
        script(
            &mut s,
            &mut store,
            &[
                ("b LIST \"\" *\r\n", "* LIST (\\HasNoChildren) \"/\" INBOX\r\nb OK LIST completed\r\n"),
                ("b LIST \"\" %\r\n", "* LIST (\\HasNoChildren) \"/\" INBOX\r\nb OK LIST completed\r\n"),
                ("b LIST \"\" inB*\r\n", "* LIST (\\HasNoChildren) \"/\" INBOX\r\nb OK LIST completed\r\n"),
                ("b LIST \"\" foo*\r\n", "b OK LIST completed\r\n"),
                ("b LIST \"\" \"\"\r\n", "* LIST (\\Noselect) \"/\" \"\"\r\nb OK LIST completed\r\n"),
                ("b LSUB \"\" *\r\n", "* LSUB () \"/\" INBOX\r\nb OK LSUB completed\r\n"),
                ("c SELECT Archive\r\n", "c NO [NONEXISTENT] Only INBOX exists here\r\n"),
                ("c STATUS Archive (MESSAGES)\r\n", "c NO [NONEXISTENT] Only INBOX exists here\r\n"),
                (
                    "c STATUS inbox (MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)\r\n",
                    "* STATUS INBOX (MESSAGES 3 UNSEEN 2 UIDNEXT 4 UIDVALIDITY 7 RECENT 0)\r\nc OK STATUS completed\r\n",
                ),
                ("d EXAMINE INBOX\r\n", &SELECTED.replace("\\Draft \\*)] Flags permitted", ")] Read-only mailbox").replace("PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen )", "PERMANENTFLAGS ()").replace("b OK [READ-WRITE] SELECT", "d OK [READ-ONLY] EXAMINE")),
                (
                    "e FETCH 1 (BODY[TEXT])\r\n",
                    "* 1 FETCH (BODY[TEXT] {26}\r\nHello Bob,\r\nhow are you?\r\n)\r\ne OK FETCH completed\r\n",
                ),
                ("f STORE 1 +FLAGS (\\Seen)\r\n", "f NO [READ-ONLY] Mailbox is read-only\r\n"),
                ("f EXPUNGE\r\n", "f NO [READ-ONLY] Mailbox is read-only\r\n"),
                ("g CHECK\r\n", "g OK CHECK completed\r\n"),
                ("g COPY 1 Archive\r\n", "g NO [TRYCREATE] Only INBOX exists here\r\n"),
                ("g UNSELECT\r\n", "g OK UNSELECT completed\r\n"),
                ("h CHECK\r\n", "h BAD Select a mailbox first\r\n"),
            ],
        );
        assert!(store.messages[0].0.flags.is_empty());
    }

    #[test]
    fn require_tls_refuses_every_login_before_tls() {
        let mut store = Store::new();
        let mut cfg = config();
        cfg.plaintext_auth = false;
        cfg.require_tls = true;
        cfg.mechanisms = ServerMech::ALL.to_vec();
        let mut s = Server::new(cfg);
        let mut out = Output::new();
        s.greeting(&mut out);
        let r = talk(&mut s, &mut store, "a AUTHENTICATE CRAM-MD5\r\n");
        assert_eq!(
            r,
            "a NO [PRIVACYREQUIRED] Authentication needs TLS: STARTTLS first\r\n"
        );
        let r = talk(&mut s, &mut store, "b LOGIN alice secret\r\n");
        assert!(r.starts_with("b NO [PRIVACYREQUIRED]"), "{r}");
        // A mechanism the server does not offer is refused as unsupported.
        let mut cfg = config();
        cfg.mechanisms = vec![ServerMech::Plain];
        let mut s = Server::new(cfg);
        s.greeting(&mut out);
        let r = talk(&mut s, &mut store, "c AUTHENTICATE SCRAM-SHA-256\r\n");
        assert_eq!(r, "c NO Unsupported authentication mechanism\r\n");
    }

    #[test]
    fn a_big_fetch_goes_out_a_piece_per_step() {
        let mut store = Store::new();
        let body = vec![b'x'; 20 * 1024];
        for _ in 0..40 {
            store.add(&body, &[], 1_704_103_200);
        }
        let mut s = logged_in(&mut store);
        let r = talk(&mut s, &mut store, "b SELECT INBOX\r\n");
        assert!(r.contains("* 43 EXISTS"), "{r}");
        s.feed(b"c FETCH 1:* BODY.PEEK[]\r\n");
        let mut pieces = Vec::new();
        loop {
            let mut out = Output::new();
            let step = s.step(&mut store, &mut out);
            pieces.push(out.to_bytes());
            if step != Step::Handled {
                break;
            }
        }
        let all: Vec<u8> = pieces.concat();
        let text = String::from_utf8_lossy(&all);
        assert_eq!(text.matches(" FETCH (BODY[] {").count(), 43);
        assert!(
            text.ends_with("c OK FETCH completed\r\n"),
            "{}",
            &text[text.len() - 80..]
        );
        // More than one step, none of them much more than a chunk.
        let fetch_steps: Vec<usize> = pieces.iter().map(Vec::len).filter(|n| *n > 0).collect();
        assert!(fetch_steps.len() >= 3, "{fetch_steps:?}");
        assert!(
            fetch_steps.iter().all(|n| *n < 256 * 1024 + 32 * 1024),
            "{fetch_steps:?}"
        );
        // The session goes on after it.
        assert_eq!(
            talk(&mut s, &mut store, "d NOOP\r\n"),
            "d OK NOOP completed\r\n"
        );
    }
}
