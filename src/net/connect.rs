//! TCP connection with per-address logging, deadlines on every read and write, and the stream
//! swap that turns a plain connection into a TLS one in place.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;

use super::tls;
use super::{Family, NetError, TlsInfo, TlsOptions};

/// Shortest timeout handed to the socket (a zero timeout means "none" to the OS).
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Bound on a read that only hands out bytes TLS has already decrypted.
const PENDING_WAIT: Duration = Duration::from_millis(500);

/// How long `shutdown` may spend sending the TLS close_notify.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(500);

/// A TCP stream whose reads and writes fail with `WouldBlock` once the deadline has passed.
///
/// Each read or write sets the socket timeout to the time left, so a peer that sends one byte at
/// a time cannot stretch an operation past its deadline, also inside OpenSSL (which sees
/// `WouldBlock` as "retry later" and keeps its record state).
pub(super) struct Conn {
    tcp: TcpStream,
    deadline: Option<Instant>,
}

impl Conn {
    pub(super) fn new(tcp: TcpStream) -> Conn {
        Conn {
            tcp,
            deadline: None,
        }
    }

    pub(super) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// True once the deadline has passed.
    pub(super) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    pub(super) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    fn time_left(&self) -> io::Result<Option<Duration>> {
        match self.deadline {
            None => Ok(None),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "deadline reached",
                    ))
                } else {
                    Ok(Some(left))
                }
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.time_left()?;
        self.tcp.set_read_timeout(left)?;
        self.tcp.read(buf)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.time_left()?;
        self.tcp.set_write_timeout(left)?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

enum Stream {
    Plain(Conn),
    Tls(SslStream<Conn>),
    Closed,
}

/// Outcome of one read attempt: bytes (0 = EOF) or nothing before the deadline.
pub(super) enum Got {
    Data(usize),
    Nothing,
}

/// A connection to a server: plain TCP, or TLS after [`Transport::upgrade_tls`].
pub struct Transport {
    stream: Stream,
    tls: Option<TlsInfo>,
    peer: Option<SocketAddr>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.stream {
            Stream::Plain(_) => "plain",
            Stream::Tls(_) => "tls",
            Stream::Closed => "closed",
        };
        f.debug_struct("Transport")
            .field("state", &state)
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Transport {
    /// Resolves `host` (a name, an IPv4 literal, or an IPv6 literal with or without brackets),
    /// keeps the addresses of `family`, and tries them in order, each with `timeout`.
    ///
    /// `log` receives `connecting to ADDR` before each attempt and `ADDR: error` after a failed
    /// one. `localhost` falls back to `::1` and `127.0.0.1` when the resolver knows no address.
    pub fn connect(
        host: &str,
        port: u16,
        family: Family,
        timeout: Duration,
        log: &mut dyn FnMut(String),
    ) -> Result<Transport, NetError> {
        let addrs = resolve(host, port, family)?;
        connect_first(&addrs, timeout, log)
    }

    /// Wraps an already connected socket (sets TCP_NODELAY).
    pub fn from_tcp(tcp: TcpStream) -> Transport {
        // Without NODELAY a command may wait for a delayed ACK; failing to set it is harmless.
        let _ = tcp.set_nodelay(true);
        let peer = tcp.peer_addr().ok();
        Transport {
            stream: Stream::Plain(Conn::new(tcp)),
            tls: None,
            peer,
        }
    }

    /// Runs a TLS client handshake on the connection (implicit TLS right after `connect`, or
    /// after a STARTTLS reply) and swaps the stream in place.
    ///
    /// The certificate is checked against `opts.sni`, or else `host`. Fails when the server has
    /// already sent bytes that nobody read (STARTTLS response injection, or a plain-text port).
    /// After a failure the transport is closed.
    pub fn upgrade_tls(
        &mut self,
        host: &str,
        opts: &TlsOptions,
        deadline: Instant,
    ) -> Result<TlsInfo, NetError> {
        let conn = match std::mem::replace(&mut self.stream, Stream::Closed) {
            Stream::Plain(conn) => conn,
            tls @ Stream::Tls(_) => {
                self.stream = tls;
                return Err(NetError::Tls("the connection already uses TLS".into()));
            }
            Stream::Closed => return Err(NetError::Io("the connection is closed".into())),
        };
        let (stream, info) = tls::handshake(conn, host, opts, deadline)?;
        self.stream = Stream::Tls(stream);
        self.tls = Some(info.clone());
        Ok(info)
    }

    /// Reads what is available, waiting until `deadline` at most. `Ok(0)` is EOF (also a TLS
    /// close_notify or a TLS peer that just closed the socket); `Timeout("reply")` once the
    /// deadline has passed.
    pub fn read(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, NetError> {
        if Instant::now() >= deadline {
            return Err(NetError::Timeout("reply".into()));
        }
        match self.read_until(buf, deadline)? {
            Got::Data(n) => Ok(n),
            Got::Nothing => Err(NetError::Timeout("reply".into())),
        }
    }

    /// Like [`Transport::read`], but waiting `wait` at most and giving `None` when nothing came.
    /// Bytes TLS has already decrypted are returned at once.
    pub fn poll_read(&mut self, buf: &mut [u8], wait: Duration) -> Result<Option<usize>, NetError> {
        let pending = match &self.stream {
            Stream::Tls(s) => s.ssl().pending() > 0,
            _ => false,
        };
        let wait = if pending {
            PENDING_WAIT
        } else {
            wait.max(MIN_WAIT)
        };
        match self.read_until(buf, super::deadline_after(wait))? {
            Got::Data(n) => Ok(Some(n)),
            Got::Nothing => Ok(None),
        }
    }

    fn read_until(&mut self, buf: &mut [u8], deadline: Instant) -> Result<Got, NetError> {
        match &mut self.stream {
            Stream::Plain(conn) => {
                conn.set_deadline(Some(deadline));
                loop {
                    match conn.read(buf) {
                        Ok(n) => return Ok(Got::Data(n)),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if is_timeout(&e) => return Ok(Got::Nothing),
                        Err(e) => return Err(NetError::Io(io_text(&e))),
                    }
                }
            }
            Stream::Tls(s) => {
                s.get_mut().set_deadline(Some(deadline));
                tls::read(s, buf)
            }
            Stream::Closed => Ok(Got::Data(0)),
        }
    }

    /// Sends all of `data`, failing with `Timeout("send")` when the deadline passes first.
    pub fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), NetError> {
        match &mut self.stream {
            Stream::Plain(conn) => {
                conn.set_deadline(Some(deadline));
                conn.write_all(data).map_err(|e| {
                    if is_timeout(&e) {
                        NetError::Timeout("send".into())
                    } else {
                        NetError::Io(io_text(&e))
                    }
                })
            }
            Stream::Tls(s) => {
                s.get_mut().set_deadline(Some(deadline));
                tls::write_all(s, data)
            }
            Stream::Closed => Err(NetError::Io("the connection is closed".into())),
        }
    }

    /// What the TLS handshake negotiated, once there was one.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The address connected to.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Sends a TLS close_notify (waiting half a second at most) and closes the socket. Later
    /// reads give EOF and writes an error.
    pub fn shutdown(&mut self) {
        match std::mem::replace(&mut self.stream, Stream::Closed) {
            Stream::Plain(conn) => {
                let _ = conn.tcp().shutdown(Shutdown::Both);
            }
            Stream::Tls(mut s) => {
                s.get_mut()
                    .set_deadline(Some(super::deadline_after(SHUTDOWN_WAIT)));
                let _ = s.shutdown();
                let _ = s.get_ref().tcp().shutdown(Shutdown::Both);
            }
            Stream::Closed => {}
        }
    }
}

/// Tries `addrs` in order, each with `timeout`; the first that connects wins.
fn connect_first(
    addrs: &[SocketAddr],
    timeout: Duration,
    log: &mut dyn FnMut(String),
) -> Result<Transport, NetError> {
    let timeout = timeout.max(MIN_WAIT);
    let mut failures: Vec<String> = Vec::new();
    let mut timed_out: Vec<String> = Vec::new();
    for addr in addrs {
        log(format!("connecting to {addr}"));
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(tcp) => return Ok(Transport::from_tcp(tcp)),
            Err(e) => {
                let text = if is_timeout(&e) {
                    timed_out.push(addr.to_string());
                    "connection timed out".to_string()
                } else {
                    io_text(&e)
                };
                log(format!("{addr}: {text}"));
                failures.push(format!("{addr}: {text}"));
            }
        }
    }
    if !timed_out.is_empty() && timed_out.len() == failures.len() {
        return Err(NetError::Timeout(format!(
            "connect to {}",
            timed_out.join(", ")
        )));
    }
    Err(NetError::Connect(failures.join("; ")))
}

/// True for `localhost`, 127.0.0.0/8, `::1` (with or without brackets) and `::ffff:127.x.y.z`.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = strip_brackets(host);
    if is_localhost_name(bare) {
        return true;
    }
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

fn is_localhost_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.")
}

/// `[::1]` → `::1`; anything else unchanged.
pub(super) fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn resolve(host: &str, port: u16, family: Family) -> Result<Vec<SocketAddr>, NetError> {
    let bare = strip_brackets(host);
    let mut found: Vec<SocketAddr> = if let Ok(ip) = bare.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        match (bare, port).to_socket_addrs() {
            Ok(addrs) => addrs.collect(),
            Err(_) if is_localhost_name(bare) => Vec::new(),
            Err(e) => return Err(NetError::Resolve(format!("{bare}: {}", io_text(&e)))),
        }
    };
    if found.is_empty() && is_localhost_name(bare) {
        found = vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        ];
    }
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(found.len());
    for addr in found {
        let wanted = match family {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        };
        if wanted && !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        let what = match family {
            Family::Any => "no address",
            Family::V4 => "no IPv4 address",
            Family::V6 => "no IPv6 address",
        };
        return Err(NetError::Resolve(format!("{bare}: {what}")));
    }
    Ok(addrs)
}

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// An I/O error as a short sentence: `connection refused` rather than
/// `Connection refused (os error 111)`.
pub(super) fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text.get(..at).unwrap_or(&text).to_string(),
        _ => text,
    };
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_ascii_uppercase() && second.is_lowercase() => {
            let mut out = String::with_capacity(text.len());
            out.push(first.to_ascii_lowercase());
            out.push_str(text.get(1..).unwrap_or(""));
            out
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;

    fn secs(n: u64) -> Instant {
        Instant::now() + Duration::from_secs(n)
    }

    fn quiet() -> impl FnMut(String) {
        |_| {}
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LocalHost",
            "localhost.",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "",
            "localhost.example",
            "mylocalhost",
            "128.0.0.1",
            "10.0.0.1",
            "::2",
            "[::1",
            "0.0.0.0",
            "::",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn brackets_are_stripped() {
        assert_eq!(strip_brackets("[::1]"), "::1");
        assert_eq!(strip_brackets("::1"), "::1");
        assert_eq!(strip_brackets("["), "[");
        assert_eq!(strip_brackets("]"), "]");
        assert_eq!(strip_brackets("[]"), "");
    }

    #[test]
    fn io_text_is_short() {
        let e = io::Error::from_raw_os_error(111);
        assert_eq!(io_text(&e), "connection refused");
        let e = io::Error::other("TLS thing");
        assert_eq!(io_text(&e), "TLS thing");
    }

    #[test]
    fn plain_exchange_with_exact_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"220 hi\r\n").unwrap();
            let mut got = [0u8; 6];
            s.read_exact(&mut got).unwrap();
            got
        });
        let mut log = Vec::new();
        let mut t = Transport::connect(
            "127.0.0.1",
            port,
            Family::Any,
            Duration::from_secs(5),
            &mut |l| log.push(l),
        )
        .unwrap();
        assert_eq!(log, vec![format!("connecting to 127.0.0.1:{port}")]);
        assert_eq!(
            t.peer_addr(),
            Some(SocketAddr::from(([127, 0, 0, 1], port)))
        );
        assert!(!t.is_tls());
        assert!(t.tls_info().is_none());
        let mut buf = [0u8; 64];
        let n = t.read(&mut buf, secs(5)).unwrap();
        assert_eq!(&buf[..n], b"220 hi\r\n");
        t.write_all(b"QUIT\r\n", secs(5)).unwrap();
        assert_eq!(&server.join().unwrap(), b"QUIT\r\n");
        // The server has closed: EOF.
        assert_eq!(t.read(&mut buf, secs(5)).unwrap(), 0);
        t.shutdown();
        assert_eq!(t.read(&mut buf, secs(5)).unwrap(), 0);
        assert!(matches!(t.write_all(b"x", secs(5)), Err(NetError::Io(_))));
    }

    #[test]
    fn closed_port_is_a_connect_error_naming_the_address() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut log = Vec::new();
        let err = Transport::connect(
            "127.0.0.1",
            port,
            Family::Any,
            Duration::from_secs(5),
            &mut |l| log.push(l),
        )
        .unwrap_err();
        let addr = format!("127.0.0.1:{port}");
        assert_eq!(
            err,
            NetError::Connect(format!("{addr}: connection refused"))
        );
        assert_eq!(
            log,
            vec![
                format!("connecting to {addr}"),
                format!("{addr}: connection refused")
            ]
        );
    }

    #[test]
    fn localhost_reaches_a_server_on_127_0_0_1_only() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"+OK\r\n").unwrap();
        });
        let mut log = Vec::new();
        let mut t = Transport::connect(
            "localhost",
            port,
            Family::Any,
            Duration::from_secs(5),
            &mut |l| log.push(l),
        )
        .unwrap();
        assert_eq!(
            t.peer_addr(),
            Some(SocketAddr::from(([127, 0, 0, 1], port)))
        );
        assert_eq!(
            log.last().unwrap(),
            &format!("connecting to 127.0.0.1:{port}")
        );
        let mut buf = [0u8; 16];
        let n = t.read(&mut buf, secs(5)).unwrap();
        assert_eq!(&buf[..n], b"+OK\r\n");
        server.join().unwrap();
    }

    #[test]
    fn next_address_after_a_refusal() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = closed.local_addr().unwrap();
        drop(closed);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let live = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"220 second\r\n").unwrap();
        });
        let mut log = Vec::new();
        let mut t =
            connect_first(&[dead, live], Duration::from_secs(5), &mut |l| log.push(l)).unwrap();
        assert_eq!(
            log,
            vec![
                format!("connecting to {dead}"),
                format!("{dead}: connection refused"),
                format!("connecting to {live}"),
            ]
        );
        assert_eq!(t.peer_addr(), Some(live));
        let mut buf = [0u8; 32];
        let n = t.read(&mut buf, secs(5)).unwrap();
        assert_eq!(&buf[..n], b"220 second\r\n");
        server.join().unwrap();

        let err = connect_first(&[dead, dead], Duration::from_secs(5), &mut quiet()).unwrap_err();
        assert_eq!(
            err,
            NetError::Connect(format!(
                "{dead}: connection refused; {dead}: connection refused"
            ))
        );
    }

    #[test]
    fn family_filter() {
        let err = Transport::connect(
            "127.0.0.1",
            25,
            Family::V6,
            Duration::from_secs(1),
            &mut quiet(),
        )
        .unwrap_err();
        assert_eq!(err, NetError::Resolve("127.0.0.1: no IPv6 address".into()));
        let err = Transport::connect(
            "[::1]",
            25,
            Family::V4,
            Duration::from_secs(1),
            &mut quiet(),
        )
        .unwrap_err();
        assert_eq!(err, NetError::Resolve("::1: no IPv4 address".into()));
        assert_eq!(
            resolve("localhost", 25, Family::V4).unwrap(),
            vec![SocketAddr::from(([127, 0, 0, 1], 25))]
        );
        assert_eq!(
            resolve("::1", 110, Family::Any).unwrap(),
            vec![SocketAddr::from((Ipv6Addr::LOCALHOST, 110))]
        );
    }

    /// A server that accepts and then says nothing until told to go.
    fn silent_server() -> (u16, mpsc::Sender<()>, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel::<()>();
        let h = thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let _ = rx.recv_timeout(Duration::from_secs(10));
            drop(s);
        });
        (port, tx, h)
    }

    #[test]
    fn read_deadline_on_a_silent_server() {
        let (port, tx, h) = silent_server();
        let mut t = Transport::connect(
            "127.0.0.1",
            port,
            Family::V4,
            Duration::from_secs(5),
            &mut quiet(),
        )
        .unwrap();
        let mut buf = [0u8; 16];
        let wait = Duration::from_millis(300);
        let start = Instant::now();
        let err = t.read(&mut buf, start + wait).unwrap_err();
        let took = start.elapsed();
        assert_eq!(err, NetError::Timeout("reply".into()));
        assert!(took >= wait, "{took:?}");
        assert!(took < wait + Duration::from_secs(1), "{took:?}");
        // A deadline already gone times out at once.
        let err = t.read(&mut buf, Instant::now()).unwrap_err();
        assert_eq!(err, NetError::Timeout("reply".into()));
        tx.send(()).unwrap();
        h.join().unwrap();
    }

    #[test]
    fn poll_read_gives_none_then_data() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel::<()>();
        let h = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            rx.recv().unwrap();
            s.write_all(b"* BYE\r\n").unwrap();
            let _ = rx.recv();
        });
        let mut t = Transport::connect(
            "127.0.0.1",
            port,
            Family::Any,
            Duration::from_secs(5),
            &mut quiet(),
        )
        .unwrap();
        let mut buf = [0u8; 16];
        let start = Instant::now();
        assert_eq!(
            t.poll_read(&mut buf, Duration::from_millis(100)).unwrap(),
            None
        );
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!(t.poll_read(&mut buf, Duration::ZERO).unwrap(), None);
        tx.send(()).unwrap();
        let n = t
            .poll_read(&mut buf, Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"* BYE\r\n");
        drop(tx);
        assert_eq!(
            t.poll_read(&mut buf, Duration::from_secs(5)).unwrap(),
            Some(0)
        );
        h.join().unwrap();
    }

    #[test]
    fn upgrade_on_a_closed_transport_fails() {
        let (port, tx, h) = silent_server();
        let mut t = Transport::connect(
            "127.0.0.1",
            port,
            Family::Any,
            Duration::from_secs(5),
            &mut quiet(),
        )
        .unwrap();
        t.shutdown();
        assert_eq!(
            t.upgrade_tls("localhost", &TlsOptions::default(), secs(5)),
            Err(NetError::Io("the connection is closed".into()))
        );
        tx.send(()).unwrap();
        h.join().unwrap();
    }
}
