//! One client session: the connection, a protocol machine of `proto`, and the loop between
//! them: greeting, read with a deadline, feed, step, write (pipelined answers together), TLS
//! when the machine asks, the log, `--delay` and `--drop-after`, and the goodbye when the
//! server stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::net::{deadline_after, NetError, ServerTls, Stream, Transport};
use crate::proto::dot::{Encoder, Stuffing};
use crate::proto::server::{self, Mailbox, Output, Phase, Piece, ServerEvent, Step, Wait};
use crate::proto::{smtp, Protocol};

use super::args::DropAfter;
use super::backend::{MailboxView, Shared, SmtpBackend};

/// How long a session may stay in IMAP IDLE (RFC 2177 asks clients to re-issue it within 29
/// minutes).
const IDLE_LIMIT: Duration = Duration::from_secs(30 * 60);
/// How often an idling session looks for changes in its mailbox.
const IDLE_TICK: Duration = Duration::from_millis(250);
/// How long the goodbye of a stopping server may take to write (only a client that does not
/// read makes it wait at all).
const GOODBYE_WAIT: Duration = Duration::from_secs(5);
/// Bytes read at a time.
const READ_SIZE: usize = 64 * 1024;
/// Bytes written at a time (each write has its own deadline, so a slow but steady reader is
/// served and a stalled one is cut off).
const WRITE_CHUNK: usize = 256 * 1024;

/// What the session loop drives: a protocol machine of `proto` bound to its backend.
pub trait Machine {
    fn protocol(&self) -> Protocol;
    fn greeting(&mut self, out: &mut Output);
    fn feed(&mut self, bytes: &[u8]);
    fn step(&mut self, out: &mut Output) -> Step;
    fn tick(&mut self, out: &mut Output);
    fn tls_started(&mut self);
    fn shutdown(&mut self, out: &mut Output);
    fn timed_out(&mut self, out: &mut Output);
    fn wait(&self) -> Wait;
    fn take_events(&mut self) -> Vec<ServerEvent>;
    /// After the machine's events were logged: what the backend has to say (deliveries).
    fn after_events(&mut self);
}

/// A backend as the machine of protocol `T` wants it.
pub trait Backing<T: ?Sized> {
    fn backend(&mut self) -> &mut T;
    /// After the machine's events were logged.
    fn after_events(&mut self) {}
}

impl Backing<dyn smtp::server::Backend> for SmtpBackend {
    fn backend(&mut self) -> &mut (dyn smtp::server::Backend + 'static) {
        self
    }
    fn after_events(&mut self) {
        self.log_deliveries();
    }
}

impl Backing<dyn Mailbox> for MailboxView {
    fn backend(&mut self) -> &mut (dyn Mailbox + 'static) {
        self
    }
}

/// A machine and its backend.
pub struct Bound<M, B> {
    pub m: M,
    pub b: B,
}

impl<M, B> Machine for Bound<M, B>
where
    M: server::Machine,
    B: Backing<M::Backend>,
{
    fn protocol(&self) -> Protocol {
        self.m.protocol()
    }
    fn greeting(&mut self, out: &mut Output) {
        self.m.greeting(out)
    }
    fn feed(&mut self, bytes: &[u8]) {
        self.m.feed(bytes)
    }
    fn step(&mut self, out: &mut Output) -> Step {
        self.m.step(self.b.backend(), out)
    }
    fn tick(&mut self, out: &mut Output) {
        self.m.tick(self.b.backend(), out)
    }
    fn tls_started(&mut self) {
        self.m.tls_started()
    }
    fn shutdown(&mut self, out: &mut Output) {
        self.m.shutdown(out)
    }
    fn timed_out(&mut self, out: &mut Output) {
        self.m.timed_out(out)
    }
    fn wait(&self) -> Wait {
        self.m.wait()
    }
    fn take_events(&mut self) -> Vec<ServerEvent> {
        self.m.take_events()
    }
    fn after_events(&mut self) {
        self.b.after_events()
    }
}

/// What every session of a server shares besides the store.
pub struct Context {
    pub shared: Arc<Shared>,
    pub tls: Option<Arc<ServerTls>>,
    pub stop: Arc<AtomicBool>,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub delay: Option<Duration>,
    pub drop_after: Option<DropAfter>,
}

fn phase_of(d: DropAfter) -> Option<Phase> {
    match d {
        DropAfter::Connect => None,
        DropAfter::Greeting => Some(Phase::Greeting),
        DropAfter::Ehlo => Some(Phase::Ehlo),
        DropAfter::Mail => Some(Phase::Mail),
        DropAfter::Rcpt => Some(Phase::Rcpt),
        DropAfter::Data => Some(Phase::Data),
        DropAfter::Eod => Some(Phase::Eod),
    }
}

struct Io<'a> {
    ctx: &'a Context,
    t: Transport,
    id: u64,
    protocol: Protocol,
    /// Set while writing to the client (a stopping server cuts such a session off).
    writing: Arc<AtomicBool>,
}

impl Io<'_> {
    fn write(&mut self, out: &mut Output) -> Result<(), NetError> {
        self.writing.store(true, Ordering::SeqCst);
        let r = self.write_within(out, self.ctx.command_timeout);
        self.writing.store(false, Ordering::SeqCst);
        r
    }

    /// The goodbye of a stopping server: short, and with a short deadline of its own.
    fn write_goodbye(&mut self, out: &mut Output) {
        let _ = self.write_within(out, GOODBYE_WAIT);
    }

    fn write_within(&mut self, out: &mut Output, timeout: Duration) -> Result<(), NetError> {
        let mut pending: Vec<u8> = Vec::new();
        for piece in out.take() {
            match piece {
                Piece::Bytes(b) => pending.extend_from_slice(&b),
                Piece::Message {
                    data,
                    range,
                    stuffed,
                } => {
                    let bytes = data.get(range).unwrap_or_default();
                    if stuffed {
                        let mut enc = Encoder::new(Stuffing::Dots);
                        for chunk in bytes.chunks(WRITE_CHUNK) {
                            enc.push(chunk, &mut pending);
                            if pending.len() >= WRITE_CHUNK {
                                self.t.write_all(&pending, deadline_after(timeout))?;
                                pending.clear();
                            }
                        }
                        enc.end_lines(&mut pending);
                    } else {
                        if !pending.is_empty() {
                            self.t.write_all(&pending, deadline_after(timeout))?;
                            pending.clear();
                        }
                        for chunk in bytes.chunks(WRITE_CHUNK) {
                            self.t.write_all(chunk, deadline_after(timeout))?;
                        }
                    }
                }
            }
        }
        if !pending.is_empty() {
            self.t.write_all(&pending, deadline_after(timeout))?;
        }
        Ok(())
    }

    /// Logs what the machine reported; true when `--drop-after` says to close now.
    fn events(&self, m: &mut dyn Machine) -> bool {
        let log = &self.ctx.shared.log;
        let drop_at = self.ctx.drop_after.and_then(phase_of);
        let mut drop = false;
        for ev in m.take_events() {
            match ev {
                ServerEvent::Line {
                    dir,
                    bytes,
                    ending,
                    secret,
                } => {
                    if log.sessions() {
                        log.line(
                            self.id,
                            self.protocol,
                            self.t.is_tls(),
                            dir,
                            &bytes,
                            ending,
                            secret,
                        );
                    }
                }
                ServerEvent::DataSkipped { lines, bytes } => {
                    if log.sessions() {
                        log.skipped(self.id, lines, bytes);
                    }
                }
                ServerEvent::Flagged {
                    flag,
                    first_line,
                    count,
                } => log.flagged(self.id, flag, first_line, count),
                ServerEvent::Auth {
                    user,
                    mechanism,
                    ok,
                } => log.auth(self.id, &user, &mechanism, ok),
                ServerEvent::Phase(p) => {
                    if Some(p) == drop_at {
                        drop = true;
                    }
                }
                ServerEvent::Problem(text) => log.warn(Some(self.id), &text),
            }
        }
        m.after_events();
        drop
    }

    fn pause(&self, out: &Output) {
        if let Some(d) = self.ctx.delay {
            if !out.is_empty() {
                std::thread::sleep(d);
            }
        }
    }

    fn start_tls(&mut self, m: &mut dyn Machine) -> Result<(), String> {
        let Some(tls) = &self.ctx.tls else {
            return Err("no certificate for TLS".to_string());
        };
        let info = self
            .t
            .accept_tls(tls, deadline_after(self.ctx.command_timeout))
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        self.ctx
            .shared
            .log
            .tls_up(self.id, &info.version, &info.cipher);
        m.tls_started();
        Ok(())
    }
}

/// Runs a session to its end; returns how it ended, for the log.
pub fn run(
    ctx: &Context,
    transport: Transport,
    id: u64,
    m: &mut dyn Machine,
    implicit_tls: bool,
    writing: Arc<AtomicBool>,
) -> String {
    let mut io = Io {
        ctx,
        t: transport,
        id,
        protocol: m.protocol(),
        writing,
    };
    let how = drive(&mut io, m, implicit_tls);
    io.t.shutdown();
    how
}

fn drive(io: &mut Io<'_>, m: &mut dyn Machine, implicit_tls: bool) -> String {
    if io.ctx.drop_after == Some(DropAfter::Connect) {
        return "dropped after connect (--drop-after)".to_string();
    }
    if implicit_tls {
        if let Err(e) = io.start_tls(m) {
            return e;
        }
    }
    let mut out = Output::new();
    m.greeting(&mut out);
    io.pause(&out);
    if let Err(e) = io.write(&mut out) {
        return format!("lost: {e}");
    }
    if io.events(m) {
        return "dropped after the greeting (--drop-after)".to_string();
    }
    let mut buf = vec![0u8; READ_SIZE];
    // Each command has one deadline, from when the last one was answered: the command timeout,
    // or the data timeout once it carries message data (DATA, BDAT, IMAP literals), or the IDLE
    // limit. Going back and forth between data and command lines does not start it again.
    let mut since = Instant::now();
    let mut limit = io.ctx.command_timeout;
    loop {
        if io.ctx.stop.load(Ordering::SeqCst) {
            m.shutdown(&mut out);
            io.write_goodbye(&mut out);
            io.events(m);
            return "closed: the server is stopping".to_string();
        }
        let step = m.step(&mut out);
        let drop = io.events(m);
        match step {
            Step::Handled => {
                io.pause(&out);
                if drop {
                    let _ = io.write(&mut out);
                    return "dropped (--drop-after)".to_string();
                }
                // Pipelined commands are answered together, but never more than a chunk
                // at a time: a client that sends many commands and reads nothing must not
                // make the output grow without bound.
                if out.len() >= WRITE_CHUNK {
                    if let Err(e) = io.write(&mut out) {
                        return format!("lost: {e}");
                    }
                }
                since = Instant::now();
                limit = io.ctx.command_timeout;
                continue;
            }
            Step::Close => {
                io.pause(&out);
                let _ = io.write(&mut out);
                return "closed".to_string();
            }
            Step::StartTls => {
                io.pause(&out);
                if let Err(e) = io.write(&mut out) {
                    return format!("lost: {e}");
                }
                if let Err(e) = io.start_tls(m) {
                    return e;
                }
                since = Instant::now();
                limit = io.ctx.command_timeout;
                continue;
            }
            Step::NeedInput => {}
        }
        if let Err(e) = io.write(&mut out) {
            return format!("lost: {e}");
        }
        if drop {
            return "dropped (--drop-after)".to_string();
        }
        let wait = m.wait();
        limit = limit.max(match wait {
            Wait::Command => io.ctx.command_timeout,
            Wait::Data => io.ctx.data_timeout,
            Wait::Idle => IDLE_LIMIT,
        });
        let end = since
            .checked_add(limit)
            .unwrap_or_else(|| deadline_after(limit));
        let deadline = if wait == Wait::Idle {
            end.min(deadline_after(IDLE_TICK))
        } else {
            end
        };
        match io.t.read(&mut buf, deadline) {
            Ok(0) => {
                if io.ctx.stop.load(Ordering::SeqCst) {
                    continue;
                }
                return "disconnected".to_string();
            }
            Ok(n) => m.feed(buf.get(..n).unwrap_or_default()),
            Err(NetError::Timeout(_)) => {
                if wait == Wait::Idle && Instant::now() < end {
                    m.tick(&mut out);
                    io.events(m);
                    continue;
                }
                m.timed_out(&mut out);
                let _ = io.write(&mut out);
                return "timed out".to_string();
            }
            Err(e) => return format!("lost: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::backend::{Faults, Users};
    use crate::serve::log::Log;
    use crate::serve::store::Store;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::AtomicUsize;

    /// Answers a pipelined command with a big reply on every step, as many times as asked.
    struct Chatty {
        steps: Arc<AtomicUsize>,
        left: usize,
    }

    impl Machine for Chatty {
        fn protocol(&self) -> Protocol {
            Protocol::Smtp
        }
        fn greeting(&mut self, _out: &mut Output) {}
        fn feed(&mut self, _bytes: &[u8]) {}
        fn step(&mut self, out: &mut Output) -> Step {
            if self.left == 0 {
                return Step::Close;
            }
            self.left -= 1;
            self.steps.fetch_add(1, Ordering::SeqCst);
            out.push(&[b'x'; 64 * 1024]);
            Step::Handled
        }
        fn tick(&mut self, _out: &mut Output) {}
        fn tls_started(&mut self) {}
        fn shutdown(&mut self, _out: &mut Output) {}
        fn timed_out(&mut self, _out: &mut Output) {}
        fn wait(&self) -> Wait {
            Wait::Command
        }
        fn take_events(&mut self) -> Vec<ServerEvent> {
            Vec::new()
        }
        fn after_events(&mut self) {}
    }

    fn context() -> Context {
        let store = Store::new(false, 10, u64::MAX, None).unwrap();
        let log = Log::new(Box::new(std::io::sink()), false, false, false);
        Context {
            shared: Arc::new(Shared::new(store, log, Users::default(), Faults::default())),
            tls: None,
            stop: Arc::new(AtomicBool::new(false)),
            command_timeout: Duration::from_secs(1),
            data_timeout: Duration::from_secs(1),
            delay: None,
            drop_after: None,
        }
    }

    #[test]
    fn pipelined_answers_are_written_before_they_pile_up() {
        // 64 MB of answers for a client that reads nothing: the session must stop producing
        // once the socket is full, not keep everything in memory until the last command.
        const STEPS: usize = 1024;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let steps = Arc::new(AtomicUsize::new(0));
        let mut m = Chatty {
            steps: Arc::clone(&steps),
            left: STEPS,
        };
        let how = run(
            &context(),
            Transport::from_tcp(server),
            1,
            &mut m,
            false,
            Arc::new(AtomicBool::new(false)),
        );
        drop(client);
        assert!(how.starts_with("lost"), "{how}");
        let made = steps.load(Ordering::SeqCst);
        assert!(
            made < STEPS,
            "all {made} answers were queued before writing"
        );
    }
}
