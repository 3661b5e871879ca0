//! Test support: a scripted peer over an in-memory stream, so engine tests need no sockets and
//! no sleeps. The script runs on a thread of its own and talks through [`Conn`]; the session
//! runs over the [`MockStream`] end. Writes are synchronous: once the session's write returns,
//! the peer can see the bytes, so "the client sent nothing more" is checked exactly when the
//! test joins the peer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::event::{Event, EventKind};
use crate::engine::session::{Options, Session};
use crate::net::{Family, NetError, Step, Stream, TlsInfo, TlsOptions};
use crate::proto::Protocol;
use crate::target::{Target, TlsMode};

/// One direction of the pipe.
#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    to_server: Pipe,
    to_client: Pipe,
    /// The client asked for TLS (the peer's next `expect_tls` sees it).
    tls_requests: usize,
    /// The deadline of every read the session made, in order.
    read_deadlines: Vec<Instant>,
}

struct Link {
    state: Mutex<Shared>,
    changed: Condvar,
}

impl Link {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The session's end of the pipe.
pub struct MockStream {
    link: Arc<Link>,
    tls: Option<TlsInfo>,
}

/// How long the peer waits for the client before the test fails (a broken test, not a
/// timing decision: a correct client has written before the peer looks).
const PEER_PATIENCE: Duration = Duration::from_secs(20);

impl Stream for MockStream {
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, NetError> {
        let mut s = self.link.lock();
        s.read_deadlines.push(deadline);
        loop {
            if !s.to_client.bytes.is_empty() {
                return Ok(take(&mut s.to_client.bytes, buf));
            }
            if s.to_client.closed {
                return Ok(0);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(NetError::Timeout(Step::Reply));
            }
            s = self
                .link
                .changed
                .wait_timeout(s, deadline.saturating_duration_since(now))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    fn read_now(&mut self, buf: &mut [u8]) -> Result<Option<usize>, NetError> {
        let mut s = self.link.lock();
        if !s.to_client.bytes.is_empty() {
            return Ok(Some(take(&mut s.to_client.bytes, buf)));
        }
        Ok(s.to_client.closed.then_some(0))
    }

    fn write_all(&mut self, data: &[u8], _deadline: Instant) -> Result<(), NetError> {
        let mut s = self.link.lock();
        if s.to_server.closed {
            return Err(NetError::Closed);
        }
        s.to_server.bytes.extend(data);
        self.link.changed.notify_all();
        Ok(())
    }

    fn start_tls(
        &mut self,
        host: &str,
        _opts: &TlsOptions,
        _deadline: Instant,
    ) -> Result<TlsInfo, NetError> {
        let mut s = self.link.lock();
        s.tls_requests = s.tls_requests.saturating_add(1);
        self.link.changed.notify_all();
        drop(s);
        let info = TlsInfo {
            alpn: None,
            version: "TLSv1.3".into(),
            cipher: "MOCK".into(),
            sni: Some(host.to_string()),
            verify_name: host.to_string(),
            verified: true,
            verify_error: None,
            chain: Vec::new(),
        };
        self.tls = Some(info.clone());
        Ok(info)
    }

    fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    fn peer(&self) -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], 25)))
    }

    fn shutdown(&mut self) {
        let mut s = self.link.lock();
        s.to_server.closed = true;
        s.to_client.closed = true;
        self.link.changed.notify_all();
    }
}

impl Drop for MockStream {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn take(from: &mut VecDeque<u8>, buf: &mut [u8]) -> usize {
    let n = from.len().min(buf.len());
    for (slot, b) in buf.iter_mut().zip(from.drain(..n)) {
        *slot = b;
    }
    n
}

/// The peer's end, as the script sees it.
pub struct Conn {
    link: Arc<Link>,
    buf: Vec<u8>,
    /// Every byte the client sent and the script consumed.
    pub log: Vec<u8>,
    tls_seen: usize,
}

impl Conn {
    pub fn send(&mut self, bytes: &[u8]) {
        let mut s = self.link.lock();
        s.to_client.bytes.extend(bytes);
        self.link.changed.notify_all();
    }

    /// Waits for more bytes from the client; false when it closed.
    fn fill(&mut self) -> bool {
        let started = Instant::now();
        let mut s = self.link.lock();
        loop {
            if !s.to_server.bytes.is_empty() {
                self.buf.extend(s.to_server.bytes.drain(..));
                return true;
            }
            if s.to_server.closed {
                return false;
            }
            assert!(
                started.elapsed() < PEER_PATIENCE,
                "the client sent nothing while the peer waited (the test is stuck)"
            );
            s = self
                .link
                .changed
                .wait_timeout(s, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let out: Vec<u8> = self.buf.drain(..n).collect();
        self.log.extend_from_slice(&out);
        out
    }

    /// The next line, without its CRLF.
    pub fn line(&mut self) -> Vec<u8> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let mut l = self.take(pos + 2);
                l.truncate(pos);
                return l;
            }
            assert!(self.fill(), "client closed while a line was expected");
        }
    }

    pub fn expect(&mut self, want: &[u8]) {
        let got = self.line();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "line from the client"
        );
    }

    /// Exactly `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill(), "client closed in the middle of data");
        }
        self.take(n)
    }

    /// Everything up to and including `\r\n.\r\n` (or a lone `.\r\n` at the start).
    pub fn data(&mut self) -> Vec<u8> {
        loop {
            if self.buf.starts_with(b".\r\n") {
                return self.take(3);
            }
            if let Some(pos) = self.buf.windows(5).position(|w| w == b"\r\n.\r\n") {
                return self.take(pos + 5);
            }
            assert!(self.fill(), "client closed in the middle of DATA");
        }
    }

    /// The client ran the TLS handshake (in this mock: asked for it).
    pub fn expect_tls(&mut self) {
        let started = Instant::now();
        let mut s = self.link.lock();
        while s.tls_requests <= self.tls_seen {
            assert!(
                started.elapsed() < PEER_PATIENCE,
                "the client did not start TLS"
            );
            s = self
                .link
                .changed
                .wait_timeout(s, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        self.tls_seen = s.tls_requests;
    }

    /// Nothing more may come from the client: checked when the test joins the peer (the
    /// client has written all it will by then), and the connection closes now.
    pub fn silent(&mut self) {
        assert!(self.buf.is_empty(), "unexpected bytes: {:?}", self.buf);
    }

    /// Everything the client sends until it closes.
    pub fn rest(&mut self) -> Vec<u8> {
        while self.fill() {}
        let n = self.buf.len();
        self.take(n)
    }
}

/// A running peer.
pub struct Fake {
    link: Arc<Link>,
    handle: Option<JoinHandle<Vec<u8>>>,
}

impl Fake {
    /// Runs `script` as the peer; [`Fake::join`] returns what the client sent.
    pub fn start(script: impl FnOnce(&mut Conn) + Send + 'static) -> Fake {
        let link = Arc::new(Link {
            state: Mutex::new(Shared::default()),
            changed: Condvar::new(),
        });
        let peer = link.clone();
        let handle = std::thread::spawn(move || {
            let mut conn = Conn {
                link: peer.clone(),
                buf: Vec::new(),
                log: Vec::new(),
                tls_seen: 0,
            };
            script(&mut conn);
            // The peer closes its side; what the client sends afterwards stays for `join`.
            let mut s = peer.lock();
            s.to_client.closed = true;
            peer.changed.notify_all();
            conn.log
        });
        Fake {
            link,
            handle: Some(handle),
        }
    }

    /// The deadline of every read the session made so far, in order.
    pub fn read_deadlines(&self) -> Vec<Instant> {
        self.link.lock().read_deadlines.clone()
    }

    /// The session's end of the pipe.
    pub fn stream(&self) -> MockStream {
        MockStream {
            link: self.link.clone(),
            tls: None,
        }
    }

    /// Waits for the script (a failed assertion in it fails the test here) and checks that
    /// the client sent nothing the script did not read.
    pub fn join(mut self) -> Vec<u8> {
        let log = match self.handle.take().map(|h| h.join()) {
            Some(Ok(log)) => log,
            Some(Err(p)) => std::panic::resume_unwind(p),
            None => Vec::new(),
        };
        let unread: Vec<u8> = self.link.lock().to_server.bytes.drain(..).collect();
        assert!(
            unread.is_empty(),
            "the client sent bytes the peer did not expect: {:?}",
            String::from_utf8_lossy(&unread)
        );
        log
    }
}

pub fn options(protocol: Protocol, timeout: Duration) -> Options {
    Options {
        target: Target {
            protocol,
            host: "127.0.0.1".into(),
            port: 25,
            tls: TlsMode::Plain,
        },
        tls: TlsOptions::default(),
        timeout,
        family: Family::Any,
        ehlo: "client.test".into(),
        timing: false,
        allow_plaintext_auth: false,
        route: crate::net::Route::default(),
    }
}

/// A session over the peer's stream.
pub fn connect(protocol: Protocol, fake: &Fake, events: &mut Vec<Event>) -> Session {
    let opts = options(protocol, Duration::from_secs(10));
    Session::over(Box::new(fake.stream()), opts, &mut |e| events.push(e))
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// The displays of the `Sent` events, as text.
pub fn sent(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Sent { display, .. } => Some(String::from_utf8_lossy(display).into_owned()),
            _ => None,
        })
        .collect()
}

pub fn infos(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Info(t) => Some(t.clone()),
            EventKind::Challenge(c) if c.is_empty() => Some("challenge: (empty)".into()),
            EventKind::Challenge(c) => Some(format!("challenge: {}", String::from_utf8_lossy(c))),
            _ => None,
        })
        .collect()
}

pub fn warnings(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Warning(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}
