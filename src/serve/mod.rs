//! `mailtalk serve`: the embedded mail server, to practise on and to test applications
//! against. SMTP, LMTP, IMAP and POP3 listeners (plain with STARTTLS, or implicit TLS), the
//! protocol machines of `proto` (the same grammars the client uses), a store in memory or
//! Maildir, fault injection, and a log that shows exactly what each client said.
//!
//! Modules: [`args`] (the flags), [`store`] and [`maildir`] (where mail goes), [`backend`] (what
//! the machines ask: logins, policy, mailboxes), [`session`] (one connection's loop), [`log`].
//!
//! Threads: one per listener (blocking accept) and one per session, kept for later sessions
//! ([`workers`]); a session never blocks another. [`Server::stop`] wakes them all: listeners by a connection to themselves, sessions by
//! shutting down the reading half of their sockets, after which each says goodbye (421, BYE,
//! -ERR) and closes.

pub mod args;
pub mod backend;
pub mod demo;
pub mod log;
pub mod maildir;
pub mod session;
pub mod store;
pub mod workers;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use regex::RegexBuilder;

use crate::net::{is_loopback_host, ServerTls, Stream, Transport};
use crate::proto::sasl_server::ServerMech;
use crate::proto::{imap, pop3, smtp, Protocol};
use crate::secret::Secret;

pub use args::ServeArgs;
use backend::{Faults, MailboxView, Shared, SmtpBackend, Users};
use session::{Bound, Context, Machine};

/// Per session: commands before 421, bad commands before 421.
const MAX_COMMANDS: u32 = 10_000;
const MAX_ERRORS: u32 = 20;
/// Recipients per message.
const MAX_RCPTS: usize = 1000;
/// With `--discard`, the start of each message that is held (for the Subject in the log).
const DISCARD_KEEP: u64 = 64 * 1024;
/// IMAP: largest literal and command.
const MAX_LITERAL: u64 = 64 * 1024;
const MAX_COMMAND: usize = 256 * 1024;

/// What a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Smtp,
    Lmtp,
    Imap,
    Pop3,
}

impl Kind {
    fn protocol(self) -> Protocol {
        match self {
            Kind::Smtp => Protocol::Smtp,
            Kind::Lmtp => Protocol::Lmtp,
            Kind::Imap => Protocol::Imap,
            Kind::Pop3 => Protocol::Pop3,
        }
    }
}

/// One listening socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listening {
    pub kind: Kind,
    pub tls: bool,
    pub addr: SocketAddr,
}

impl Listening {
    /// The URL a client uses: `smtp://127.0.0.1:2525`, `imaps://…`.
    pub fn url(&self) -> String {
        let scheme = match (self.kind, self.tls) {
            (Kind::Smtp, false) => "smtp",
            (Kind::Smtp, true) => "smtps",
            (Kind::Lmtp, _) => "lmtp",
            (Kind::Imap, false) => "imap",
            (Kind::Imap, true) => "imaps",
            (Kind::Pop3, false) => "pop3",
            (Kind::Pop3, true) => "pop3s",
        };
        format!("{scheme}://{}", self.addr)
    }
}

/// An open session, as the stop sees it: its socket, and whether it is writing to the client
/// now (a write that a client which does not read would hold up).
struct Open {
    socket: TcpStream,
    writing: Arc<AtomicBool>,
}

struct Sessions {
    open: Mutex<HashMap<u64, Open>>,
    count: AtomicUsize,
    next: AtomicU64,
}

impl Sessions {
    /// A place for session `id` when fewer than `max` are open (checked and counted in one
    /// step, so listeners accepting at the same time cannot pass the cap together).
    fn claim(self: &Arc<Self>, id: u64, max: usize, socket: Option<TcpStream>) -> Option<Slot> {
        self.count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n.saturating_add(1))
            })
            .ok()?;
        let writing = Arc::new(AtomicBool::new(false));
        if let Some(socket) = socket {
            self.open.lock().unwrap_or_else(|p| p.into_inner()).insert(
                id,
                Open {
                    socket,
                    writing: Arc::clone(&writing),
                },
            );
        }
        Some(Slot {
            sessions: Arc::clone(self),
            id,
            writing,
        })
    }
}

/// A session's place among the open ones, given back when dropped: however the session ends,
/// a panic included, or when its thread could not start.
struct Slot {
    sessions: Arc<Sessions>,
    id: u64,
    /// Set by the session while it writes (see [`Open`]).
    writing: Arc<AtomicBool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.sessions
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        self.sessions.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running server.
pub struct Server {
    pub listening: Vec<Listening>,
    /// Where the self-signed certificate was written (None with --tls-cert).
    pub cert_file: Option<PathBuf>,
    pub tls: Arc<ServerTls>,
    pub shared: Arc<Shared>,
    /// The certificate file is the default one, made for this run only: removed at the stop.
    cert_is_temporary: bool,
    stop: Arc<AtomicBool>,
    sessions: Arc<Sessions>,
    threads: Vec<JoinHandle<()>>,
}

/// The users of `--user USER:PASSWORD` (or USER with MAILTALK_SERVE_PASSWORD).
fn users(specs: &[String]) -> Result<Users, String> {
    let mut out = Vec::new();
    for spec in specs {
        let (user, pass) = match spec.split_once(':') {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => match std::env::var("MAILTALK_SERVE_PASSWORD") {
                Ok(p) => (spec.clone(), p),
                Err(_) => {
                    return Err(format!(
                        "--user {spec}: give USER:PASSWORD, or set MAILTALK_SERVE_PASSWORD"
                    ))
                }
            },
        };
        if user.is_empty() || pass.is_empty() {
            return Err("--user: the user name and the password must not be empty".to_string());
        }
        out.push((user, Secret::new(pass)));
    }
    Ok(Users::new(out))
}

fn regex(flag: &str, re: &Option<String>) -> Result<Option<regex::Regex>, String> {
    re.as_deref()
        .map(|r| {
            RegexBuilder::new(r)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("{flag}: {e}"))
        })
        .transpose()
}

fn seed(given: Option<u64>) -> u64 {
    given.unwrap_or_else(|| {
        let mut b = [0u8; 8];
        let _ = openssl::rand::rand_bytes(&mut b);
        u64::from_le_bytes(b)
    })
}

/// Where the self-signed certificate goes by default: one file per process, so two servers
/// never overwrite each other's.
fn default_cert_file() -> PathBuf {
    std::env::temp_dir().join(format!("mailtalk-serve-{}.pem", std::process::id()))
}

impl Server {
    /// Binds every listener and starts serving. The log goes to `log_out`.
    pub fn start(
        args: &ServeArgs,
        log_out: Box<dyn Write + Send>,
        color: bool,
    ) -> Result<Server, String> {
        let users = users(&args.user)?;
        let faults = Faults {
            reject_rcpt: regex("--reject-rcpt", &args.reject_rcpt)?,
            reject_from: regex("--reject-from", &args.reject_from)?,
            greylist: args.greylist,
            tempfail_rate: args.tempfail_rate.unwrap_or(0.0),
            seed: seed(args.seed),
        };
        let cert_is_temporary = args.tls_cert.is_none() && args.cert_out.is_none();
        let (tls, cert_file) = match (&args.tls_cert, &args.tls_key) {
            (Some(c), Some(k)) => (
                ServerTls::from_files(c, k).map_err(|e| e.to_string())?,
                None,
            ),
            _ => {
                let mut names = vec![args.hostname.clone()];
                for n in ["localhost", "127.0.0.1", "::1"] {
                    if !names.iter().any(|x| x == n) {
                        names.push(n.to_string());
                    }
                }
                let tls = ServerTls::self_signed(&names).map_err(|e| e.to_string())?;
                let path = args.cert_out.clone().unwrap_or_else(default_cert_file);
                std::fs::write(&path, &tls.pem)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                (tls, Some(path))
            }
        };
        let store = if args.discard {
            store::Store::discarding(args.catch_all)
        } else {
            store::Store::new(
                args.catch_all,
                args.max_messages,
                args.max_store,
                args.maildir.clone(),
            )?
        };
        let log = log::Log::new(log_out, args.json, args.log_sessions, color);
        let shared = Arc::new(Shared::new(store, log, users, faults));
        let tls = Arc::new(tls);
        let stop = Arc::new(AtomicBool::new(false));
        let sessions = Arc::new(Sessions {
            open: Mutex::new(HashMap::new()),
            count: AtomicUsize::new(0),
            next: AtomicU64::new(1),
        });
        let wanted = [
            (Kind::Smtp, false, args.smtp.0),
            (Kind::Imap, false, args.imap.0),
            (Kind::Pop3, false, args.pop3.0),
            (Kind::Smtp, true, args.smtps.and_then(|l| l.0)),
            (Kind::Imap, true, args.imaps.and_then(|l| l.0)),
            (Kind::Pop3, true, args.pop3s.and_then(|l| l.0)),
            (Kind::Lmtp, false, args.lmtp.and_then(|l| l.0)),
        ];
        let mut bound = Vec::new();
        for (kind, implicit, addr) in wanted {
            let Some(addr) = addr else { continue };
            let listener = TcpListener::bind(addr)
                .map_err(|e| format!("cannot listen on {addr} for {}: {e}", kind.protocol()))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            bound.push((
                Listening {
                    kind,
                    tls: implicit,
                    addr,
                },
                listener,
            ));
        }
        if bound.is_empty() {
            return Err("no listener: every address is off".to_string());
        }
        for (l, _) in &bound {
            if !is_loopback_host(&l.addr.ip().to_string()) {
                shared.log.warn(
                    None,
                    &format!(
                        "{} listens on {}, reachable from other hosts: anyone there can use \
                         this server",
                        l.kind.protocol(),
                        l.addr
                    ),
                );
            }
        }
        let ctx = Arc::new(Context {
            shared: Arc::clone(&shared),
            tls: Some(Arc::clone(&tls)),
            stop: Arc::clone(&stop),
            command_timeout: Duration::from_secs(args.command_timeout.max(1)),
            data_timeout: Duration::from_secs(args.data_timeout.max(1)),
            delay: args.delay.map(Duration::from_millis),
            drop_after: args.drop_after,
        });
        let settings = Arc::new(Settings {
            hostname: args.hostname.clone(),
            max_size: args.max_size,
            keep: if args.discard { DISCARD_KEEP } else { u64::MAX },
            require_tls: args.require_tls,
            require_auth: args.require_auth,
            allow_plaintext_auth: args.allow_plaintext_auth,
            max_sessions: args.max_sessions.max(1),
            mechanisms: ServerMech::ALL
                .into_iter()
                .filter(|m| !(shared.users.any() && *m == ServerMech::ScramSha256))
                .collect(),
        });
        let mut threads = Vec::new();
        let mut listening = Vec::new();
        let workers = Arc::new(workers::Workers::new());
        for (l, listener) in bound {
            listening.push(l);
            let ctx = Arc::clone(&ctx);
            let settings = Arc::clone(&settings);
            let sessions = Arc::clone(&sessions);
            let stop = Arc::clone(&stop);
            let workers = Arc::clone(&workers);
            let handle = std::thread::Builder::new()
                .name(format!("listen-{}", l.addr))
                .spawn(move || {
                    accept_loop(listener, l, &ctx, &settings, &sessions, &stop, &workers)
                })
                .map_err(|e| format!("cannot start a thread: {e}"))?;
            threads.push(handle);
        }
        Ok(Server {
            listening,
            cert_file,
            tls,
            shared,
            cert_is_temporary,
            stop,
            sessions,
            threads,
        })
    }

    /// The first listener of a kind (plain, not implicit TLS, first).
    pub fn addr(&self, kind: Kind, tls: bool) -> Option<SocketAddr> {
        self.listening
            .iter()
            .find(|l| l.kind == kind && l.tls == tls)
            .map(|l| l.addr)
    }

    /// Stops accepting, tells every session (421 / BYE / -ERR), and waits for them a little.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for l in &self.listening {
            // Wake the blocking accept: it sees the stop flag and ends.
            let mut addr = l.addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Every session is woken (its read ends) and says goodbye; one that is in the middle of
        // a write to a client that does not read could not, and is cut off. Sessions end by
        // themselves after that, each within its own write deadline: no clock decides here.
        while self.sessions.count.load(Ordering::SeqCst) > 0 {
            {
                let open = self.sessions.open.lock().unwrap_or_else(|p| p.into_inner());
                for o in open.values() {
                    let how = if o.writing.load(Ordering::SeqCst) {
                        Shutdown::Both
                    } else {
                        Shutdown::Read
                    };
                    let _ = o.socket.shutdown(how);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.cert_is_temporary {
            if let Some(path) = &self.cert_file {
                // Already gone is fine: the file was only for this run.
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Per-server settings the machines are configured from.
struct Settings {
    hostname: String,
    max_size: u64,
    /// Of each message, the bytes held (all but with `--discard`).
    keep: u64,
    require_tls: bool,
    require_auth: bool,
    allow_plaintext_auth: bool,
    max_sessions: usize,
    /// The SASL mechanisms offered (SCRAM-SHA-256 only with configured users: it needs the
    /// password).
    mechanisms: Vec<ServerMech>,
}

/// Failed accepts, said once while they repeat (out of file descriptors, a client opening and
/// holding thousands of connections, fails every 50 ms until one closes) and counted.
#[derive(Debug, Default)]
struct AcceptErrors {
    last: Option<String>,
    repeated: u64,
}

impl AcceptErrors {
    /// What to log for a failure: the first of a kind, not its repetitions.
    fn failed(&mut self, text: &str) -> Option<String> {
        if self.last.as_deref() == Some(text) {
            self.repeated = self.repeated.saturating_add(1);
            return None;
        }
        self.last = Some(text.to_string());
        self.repeated = 0;
        Some(format!("{text} (retrying)"))
    }

    /// What to log when accepting works again after failures.
    fn recovered(&mut self) -> Option<String> {
        let last = self.last.take()?;
        let times = std::mem::take(&mut self.repeated).saturating_add(1);
        Some(format!("accepting again after {times} failures ({last})"))
    }
}

fn accept_loop(
    listener: TcpListener,
    l: Listening,
    ctx: &Arc<Context>,
    settings: &Arc<Settings>,
    sessions: &Arc<Sessions>,
    stop: &AtomicBool,
    workers: &workers::Workers,
) {
    let mut errors = AcceptErrors::default();
    loop {
        let (tcp, peer) = match listener.accept() {
            Ok(x) => {
                if let Some(text) = errors.recovered() {
                    ctx.shared
                        .log
                        .warn(None, &format!("accept on {}: {text}", l.addr));
                }
                x
            }
            Err(e) => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Some(text) = errors.failed(&e.to_string()) {
                    ctx.shared
                        .log
                        .warn(None, &format!("accept on {}: {text}", l.addr));
                }
                // EMFILE and the like: give the system a moment instead of spinning.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let id = sessions.next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = sessions.claim(id, settings.max_sessions, tcp.try_clone().ok()) else {
            let mut t = Transport::from_tcp(tcp);
            let text = crate::proto::server::busy_reply(l.kind.protocol(), &settings.hostname);
            let _ = t.write_all(&text, crate::net::deadline_after(Duration::from_secs(5)));
            t.shutdown();
            ctx.shared
                .log
                .warn(Some(id), &format!("refused {peer}: --max-sessions reached"));
            continue;
        };
        let ctx = Arc::clone(ctx);
        let settings = Arc::clone(settings);
        // The slot moves into the job; when no thread can start, it is dropped with it.
        let _ = workers.run(
            format!("session-{id}"),
            Box::new(move || {
                let writing = Arc::clone(&slot.writing);
                let _slot = slot;
                serve_one(tcp, peer, id, l, &ctx, &settings, writing);
            }),
        );
    }
}

/// Whether passwords may cross a connection without TLS: from loopback, or when allowed.
fn plaintext_auth_allowed(allowed: bool, peer: SocketAddr) -> bool {
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(std::net::IpAddr::V4)
            .unwrap_or(std::net::IpAddr::V6(v6)),
        ip => ip,
    };
    allowed || ip.is_loopback()
}

fn serve_one(
    tcp: TcpStream,
    peer: SocketAddr,
    id: u64,
    l: Listening,
    ctx: &Context,
    s: &Settings,
    writing: Arc<AtomicBool>,
) {
    let transport = Transport::from_tcp(tcp);
    let log = &ctx.shared.log;
    let protocol = l.kind.protocol();
    log.session_start(id, protocol.name(), Some(peer), l.tls);
    let plaintext_auth = plaintext_auth_allowed(s.allow_plaintext_auth, peer);
    let logging = log.sessions();
    let mechanisms = &s.mechanisms;
    let mut machine: Box<dyn Machine> = match l.kind {
        Kind::Smtp | Kind::Lmtp => Box::new(Bound {
            m: smtp::server::Server::new(smtp::server::Config {
                hostname: s.hostname.clone(),
                lmtp: l.kind == Kind::Lmtp,
                starttls: !l.tls,
                max_size: s.max_size,
                keep: s.keep,
                max_rcpts: MAX_RCPTS,
                max_commands: MAX_COMMANDS,
                max_errors: MAX_ERRORS,
                require_tls: s.require_tls,
                require_auth: s.require_auth,
                plaintext_auth,
                mechanisms: mechanisms.clone(),
                log: logging,
            }),
            b: SmtpBackend {
                shared: Arc::clone(&ctx.shared),
                session: id,
                peer: Some(peer),
                delivered: Vec::new(),
            },
        }),
        Kind::Imap => Box::new(Bound {
            m: imap::server::Server::new(imap::server::Config {
                hostname: s.hostname.clone(),
                starttls: !l.tls,
                plaintext_auth: plaintext_auth && !s.require_tls,
                max_literal: MAX_LITERAL,
                max_command: MAX_COMMAND,
                max_commands: MAX_COMMANDS,
                max_errors: MAX_ERRORS,
                require_tls: s.require_tls,
                log: logging,
                mechanisms: mechanisms.clone(),
            }),
            b: MailboxView {
                shared: Arc::clone(&ctx.shared),
                name: None,
            },
        }),
        Kind::Pop3 => Box::new(Bound {
            m: pop3::server::Server::new(pop3::server::Config {
                hostname: s.hostname.clone(),
                stls: !l.tls,
                plaintext_auth: plaintext_auth && !s.require_tls,
                mechanisms: mechanisms.clone(),
                require_tls: s.require_tls,
                max_commands: MAX_COMMANDS,
                max_errors: MAX_ERRORS,
                log: logging,
            }),
            b: MailboxView {
                shared: Arc::clone(&ctx.shared),
                name: None,
            },
        }),
    };
    let how = session::run(ctx, transport, id, machine.as_mut(), l.tls, writing);
    log.session_end(id, protocol.name(), Some(peer), &how);
}

/// `mailtalk serve`: starts, says where it listens and how to trust its certificate, and
/// serves until Ctrl-C (or SIGTERM), then stops cleanly. Returns the exit status.
pub fn run(args: &ServeArgs, color: bool) -> i32 {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("mailtalk: error: cannot handle signals: {e}");
            return 3;
        }
    }
    let server = match Server::start(args, Box::new(std::io::stdout()), color) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "mailtalk: error: {}",
                crate::render::escape::visible_string(e.as_bytes())
            );
            return if e.starts_with("cannot listen") { 3 } else { 2 };
        }
    };
    let log = &server.shared.log;
    for l in &server.listening {
        let extra = match (l.kind, l.tls) {
            (_, true) => " (implicit TLS)",
            (Kind::Pop3, false) => " (STLS offered)",
            (_, false) => " (STARTTLS offered)",
        };
        log.info(&format!("listening: {}{extra}", l.url()));
    }
    match &server.cert_file {
        Some(path) => log.info(&format!(
            "TLS: self-signed certificate, SHA-256 {}; written to {} (clients: --ca-file {})",
            server.tls.summary.sha256,
            path.display(),
            path.display()
        )),
        None => log.info(&format!(
            "TLS: certificate {} (SHA-256 {})",
            server.tls.summary.subject, server.tls.summary.sha256
        )),
    }
    log.info(&match &args.maildir {
        _ if args.discard => "mail is not kept (--discard): messages are accepted, logged and \
                              counted, then dropped; mailboxes stay empty"
            .to_string(),
        Some(d) => format!("mail is kept in Maildir under {}", d.display()),
        None => format!(
            "mail is kept in memory (at most {} messages and {} bytes, the oldest dropped \
             first)",
            args.max_messages, args.max_store
        ),
    });
    log.info(if server.shared.users.any() {
        "logins: any user name and password (give --user USER:PASSWORD to check them)"
    } else {
        "logins: only the --user accounts"
    });
    log.info(if args.catch_all {
        "mailboxes: one for everybody (--catch-all)"
    } else {
        "mailboxes: one per recipient address; log in as that address to read it"
    });
    log.info("Ctrl-C stops the server");
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_stop = "stopping: sessions in progress are told (421, BYE, -ERR)";
    server.shared.log.info(log_stop);
    let shared = Arc::clone(&server.shared);
    server.stop();
    if args.discard {
        let (n, bytes) = shared.accepted();
        let s = if n == 1 { "" } else { "s" };
        shared.log.info(&format!(
            "{n} message{s} ({bytes} bytes) accepted and discarded"
        ));
    }
    shared.log.info("stopped");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_without_tls_only_from_loopback_unless_allowed() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(plaintext_auth_allowed(false, at("127.0.0.1:5000")));
        assert!(plaintext_auth_allowed(false, at("127.9.9.9:5000")));
        assert!(plaintext_auth_allowed(false, at("[::1]:5000")));
        assert!(plaintext_auth_allowed(false, at("[::ffff:127.0.0.1]:5000")));
        assert!(!plaintext_auth_allowed(false, at("192.0.2.7:5000")));
        assert!(!plaintext_auth_allowed(false, at("[2001:db8::1]:5000")));
        assert!(plaintext_auth_allowed(true, at("192.0.2.7:5000")));
    }

    fn sessions() -> Arc<Sessions> {
        Arc::new(Sessions {
            open: Mutex::new(HashMap::new()),
            count: AtomicUsize::new(0),
            next: AtomicU64::new(1),
        })
    }

    #[test]
    fn session_places_are_capped_and_given_back_even_after_a_panic() {
        let s = sessions();
        let a = s.claim(1, 2, None).unwrap();
        let b = s.claim(2, 2, None).unwrap();
        assert!(s.claim(3, 2, None).is_none());
        drop(a);
        let c = s.claim(4, 2, None).unwrap();
        // A session thread that panics gives its place back too.
        let t = std::thread::spawn(move || {
            let _slot = b;
            panic!("a session went wrong");
        });
        assert!(t.join().is_err());
        assert_eq!(s.count.load(Ordering::SeqCst), 1);
        drop(c);
        assert_eq!(s.count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_refused_place_leaves_no_socket_behind() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let s = sessions();
        let slot = s.claim(1, 1, client.try_clone().ok()).unwrap();
        assert!(s.claim(2, 1, client.try_clone().ok()).is_none());
        assert_eq!(s.open.lock().unwrap().len(), 1);
        drop(slot);
        assert!(s.open.lock().unwrap().is_empty());
    }

    #[test]
    fn repeated_accept_failures_are_said_once() {
        let mut e = AcceptErrors::default();
        assert_eq!(e.recovered(), None);
        assert_eq!(
            e.failed("Too many open files").as_deref(),
            Some("Too many open files (retrying)")
        );
        for _ in 0..1000 {
            assert_eq!(e.failed("Too many open files"), None);
        }
        assert_eq!(
            e.recovered().as_deref(),
            Some("accepting again after 1001 failures (Too many open files)")
        );
        assert_eq!(e.recovered(), None);
    }

    #[test]
    fn listeners_have_urls() {
        let l = Listening {
            kind: Kind::Imap,
            tls: true,
            addr: "127.0.0.1:993".parse().unwrap(),
        };
        assert_eq!(l.url(), "imaps://127.0.0.1:993");
    }
}
