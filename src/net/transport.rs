//! Resolving and connecting (each address in turn, logged, with a deadline), and the
//! connection a session runs over: plain TCP, turned into TLS in place.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;

use super::conn::{is_timeout, Conn, Got, MIN_WAIT};
use super::{
    strip_brackets, tls, Attempt, Family, NetError, Step, Stream, TlsError, TlsInfo, TlsOptions,
    TlsProblem,
};

/// How long `shutdown` may spend sending the TLS close_notify.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(500);

enum Inner {
    Plain(Conn),
    Tls(Box<SslStream<Conn>>),
    Closed,
}

/// A connection to a server: plain TCP, or TLS after [`Stream::start_tls`].
pub struct Transport {
    inner: Inner,
    tls: Option<TlsInfo>,
    peer: Option<SocketAddr>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.inner {
            Inner::Plain(_) => "plain",
            Inner::Tls(_) => "tls",
            Inner::Closed => "closed",
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
    /// keeps the addresses of `family`, and tries them in order, each with `timeout`; resolving
    /// itself is bounded by `timeout` too.
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
        let addrs = resolve(host, port, family, timeout)?;
        connect_first(&addrs, timeout, log)
    }

    /// Like [`Transport::connect`], through `route`: to the proxy first, which is asked for
    /// `host`:`port` (a SOCKS5 proxy resolves the name itself), and then the PROXY protocol
    /// header when asked for. The whole proxy exchange is bounded by `timeout`.
    pub fn connect_via(
        host: &str,
        port: u16,
        family: Family,
        timeout: Duration,
        route: &super::Route,
        log: &mut dyn FnMut(String),
    ) -> Result<Transport, NetError> {
        match &route.endpoint {
            super::Endpoint::Tcp => {}
            _ if route.proxy.is_some() || route.header.is_some() => {
                return Err(NetError::Proxy(
                    "--proxy and --proxy-protocol work over TCP only".into(),
                ))
            }
            #[cfg(unix)]
            super::Endpoint::Unix(path) => {
                log(format!("connecting to the unix socket {}", path.display()));
                let unix = std::os::unix::net::UnixStream::connect(path).map_err(|source| {
                    NetError::Local {
                        what: format!("connect to the unix socket {}", path.display()),
                        source,
                    }
                })?;
                return Ok(Transport::over(super::conn::Io::Unix(unix)));
            }
            #[cfg(not(unix))]
            super::Endpoint::Unix(_) => {
                return Err(NetError::Proxy("unix sockets need a unix system".into()))
            }
            super::Endpoint::Pipe(command) => {
                log(format!("running sh -c {command:?}"));
                let pipe = super::pipe::Pipe::spawn(command).map_err(|source| NetError::Local {
                    what: format!("run sh -c {command:?}"),
                    source,
                })?;
                return Ok(Transport::over(super::conn::Io::Pipe(Box::new(pipe))));
            }
        }
        let mut transport = match &route.proxy {
            None => Transport::connect(host, port, family, timeout, log)?,
            Some(proxy) => {
                let addrs = resolve(&proxy.host, proxy.port, family, timeout)?;
                log(format!("through the proxy {proxy}"));
                let mut t = connect_first(&addrs, timeout, log)?;
                let deadline = super::deadline_after(timeout);
                if let Inner::Plain(conn) = &mut t.inner {
                    super::proxy::negotiate(conn, proxy, host, port, deadline)?;
                }
                log(format!("the proxy connected to {host}:{port}"));
                t
            }
        };
        if let Some(header) = &route.header {
            let tcp = transport.tcp().ok_or(NetError::Closed)?;
            let source = match header.source {
                Some(s) => s,
                None => tcp.local_addr().map_err(NetError::Io)?,
            };
            let destination = tcp.peer_addr().map_err(NetError::Io)?;
            let bytes = super::proxy::proxy_header(header.version, source, destination)?;
            transport.write_all(&bytes, super::deadline_after(timeout))?;
            log(format!(
                "PROXY protocol {} header sent: source {source}, destination {destination}",
                match header.version {
                    super::ProxyHeaderVersion::V1 => "v1",
                    super::ProxyHeaderVersion::V2 => "v2",
                }
            ));
        }
        Ok(transport)
    }

    fn over(io: super::conn::Io) -> Transport {
        Transport {
            inner: Inner::Plain(Conn::over(io)),
            tls: None,
            peer: None,
        }
    }

    /// Wraps an already connected socket (sets TCP_NODELAY).
    pub fn from_tcp(tcp: TcpStream) -> Transport {
        // Without NODELAY a command may wait for a delayed ACK; failing to set it is harmless.
        let _ = tcp.set_nodelay(true);
        let peer = tcp.peer_addr().ok();
        Transport {
            inner: Inner::Plain(Conn::new(tcp)),
            tls: None,
            peer,
        }
    }

    /// Runs the server side of a TLS handshake (implicit TLS right after accepting, or after a
    /// STARTTLS reply) and swaps the stream in place. After a failure the transport is closed.
    pub fn accept_tls(
        &mut self,
        tls: &super::accept::ServerTls,
        deadline: Instant,
    ) -> Result<TlsInfo, NetError> {
        let conn = match std::mem::replace(&mut self.inner, Inner::Closed) {
            Inner::Plain(conn) => conn,
            tls @ Inner::Tls(_) => {
                self.inner = tls;
                return Err(NetError::Tls(TlsError::new(
                    TlsProblem::AlreadyTls,
                    "the connection already uses TLS",
                )));
            }
            Inner::Closed => return Err(NetError::Closed),
        };
        let (stream, info) = super::accept::accept(conn, tls, deadline)?;
        self.inner = Inner::Tls(Box::new(stream));
        self.tls = Some(info.clone());
        Ok(info)
    }

    /// A handle on the socket, to shut it down from another thread (a stopping server wakes its
    /// sessions' blocked reads this way).
    pub fn socket(&self) -> Option<TcpStream> {
        self.tcp().and_then(|t| t.try_clone().ok())
    }

    fn read_until(&mut self, buf: &mut [u8], deadline: Instant) -> Result<Got, NetError> {
        match &mut self.inner {
            Inner::Plain(conn) => {
                conn.set_deadline(Some(deadline));
                loop {
                    match conn.read(buf) {
                        Ok(n) => return Ok(Got::Data(n)),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if is_timeout(&e) => return Ok(Got::Nothing),
                        Err(e) => return Err(NetError::Io(e)),
                    }
                }
            }
            Inner::Tls(s) => {
                s.get_mut().set_deadline(Some(deadline));
                tls::read(s, buf)
            }
            Inner::Closed => Ok(Got::Data(0)),
        }
    }

    fn set_nonblocking(&mut self, on: bool) -> Result<(), NetError> {
        match self.conn_mut() {
            Some(c) => c.set_nonblocking(on).map_err(NetError::Io),
            None => Ok(()),
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match &self.inner {
            Inner::Plain(conn) => conn.tcp(),
            Inner::Tls(s) => s.get_ref().tcp(),
            Inner::Closed => None,
        }
    }

    fn conn_mut(&mut self) -> Option<&mut Conn> {
        match &mut self.inner {
            Inner::Plain(conn) => Some(conn),
            Inner::Tls(s) => Some(s.get_mut()),
            Inner::Closed => None,
        }
    }
}

impl Stream for Transport {
    /// `Ok(0)` is EOF (also a TLS close_notify or a TLS peer that just closed the socket);
    /// `Timeout(Reply)` once the deadline has passed.
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, NetError> {
        if Instant::now() >= deadline {
            return Err(NetError::Timeout(Step::Reply));
        }
        match self.read_until(buf, deadline)? {
            Got::Data(n) => Ok(n),
            Got::Nothing => Err(NetError::Timeout(Step::Reply)),
        }
    }

    fn read_now(&mut self, buf: &mut [u8]) -> Result<Option<usize>, NetError> {
        let decrypted = matches!(&self.inner, Inner::Tls(s) if s.ssl().pending() > 0);
        let Some(conn) = self.conn_mut() else {
            return Ok(Some(0));
        };
        if !decrypted {
            // Nothing in the socket either: no need to touch the stream.
            let mut probe = [0u8; 1];
            match conn.peek_now(&mut probe) {
                Ok(0) => {}
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
                Err(e) => return Err(NetError::Io(e)),
            }
        }
        // Bytes are there: read them without waiting (a TLS record may still be incomplete).
        self.set_nonblocking(true)?;
        let got = self.read_until(buf, super::deadline_after(Duration::from_secs(1)));
        self.set_nonblocking(false)?;
        match got? {
            Got::Data(n) => Ok(Some(n)),
            Got::Nothing => Ok(None),
        }
    }

    fn write_some(&mut self, data: &[u8], deadline: Instant) -> Result<usize, NetError> {
        match &mut self.inner {
            Inner::Plain(conn) => {
                conn.set_deadline(Some(deadline));
                let mut done = 0usize;
                while let Some(rest) = data.get(done..).filter(|r| !r.is_empty()) {
                    match conn.write(rest) {
                        Ok(0) => return Err(NetError::Closed),
                        Ok(n) => done = done.saturating_add(n),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if is_timeout(&e) => return Ok(done),
                        Err(e) => return Err(NetError::Io(e)),
                    }
                }
                Ok(done)
            }
            Inner::Tls(s) => {
                s.get_mut().set_deadline(Some(deadline));
                tls::write_some(s, data)
            }
            Inner::Closed => Err(NetError::Closed),
        }
    }

    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), NetError> {
        match &mut self.inner {
            Inner::Plain(conn) => {
                conn.set_deadline(Some(deadline));
                conn.write_all(data).map_err(|e| {
                    if is_timeout(&e) {
                        NetError::Timeout(Step::Send)
                    } else {
                        NetError::Io(e)
                    }
                })
            }
            Inner::Tls(s) => {
                s.get_mut().set_deadline(Some(deadline));
                tls::write_all(s, data)
            }
            Inner::Closed => Err(NetError::Closed),
        }
    }

    /// Runs a TLS client handshake on the connection (implicit TLS right after `connect`, or
    /// after a STARTTLS reply) and swaps the stream in place.
    ///
    /// The certificate is checked against `opts.sni`, or else `host`. Fails when the server has
    /// already sent bytes that nobody read (STARTTLS response injection, or a plain-text port).
    /// After a failure the transport is closed.
    fn start_tls(
        &mut self,
        host: &str,
        opts: &TlsOptions,
        deadline: Instant,
    ) -> Result<TlsInfo, NetError> {
        let conn = match std::mem::replace(&mut self.inner, Inner::Closed) {
            Inner::Plain(conn) => conn,
            tls @ Inner::Tls(_) => {
                self.inner = tls;
                return Err(NetError::Tls(TlsError::new(
                    TlsProblem::AlreadyTls,
                    "the connection already uses TLS",
                )));
            }
            Inner::Closed => return Err(NetError::Closed),
        };
        let (stream, info) = tls::handshake(conn, host, opts, deadline)?;
        self.inner = Inner::Tls(Box::new(stream));
        self.tls = Some(info.clone());
        Ok(info)
    }

    fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Sends a TLS close_notify (waiting half a second at most) and closes the socket.
    fn shutdown(&mut self) {
        match std::mem::replace(&mut self.inner, Inner::Closed) {
            Inner::Plain(mut conn) => conn.shutdown(),
            Inner::Tls(mut s) => {
                s.get_mut()
                    .set_deadline(Some(super::deadline_after(SHUTDOWN_WAIT)));
                let _ = s.shutdown();
                s.get_mut().shutdown();
            }
            Inner::Closed => {}
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
    let mut attempts: Vec<Attempt> = Vec::new();
    for addr in addrs {
        log(format!("connecting to {addr}"));
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(tcp) => return Ok(Transport::from_tcp(tcp)),
            Err(error) => {
                log(format!("{addr}: {}", super::attempt_text(&error)));
                attempts.push(Attempt { addr: *addr, error });
            }
        }
    }
    if !attempts.is_empty() && attempts.iter().all(|a| is_timeout(&a.error)) {
        return Err(NetError::Timeout(Step::Connect(
            attempts.iter().map(|a| a.addr).collect(),
        )));
    }
    Err(NetError::Connect(attempts))
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

/// Runs `lookup` for `name` on a thread of its own and waits at most `timeout` for it: a slow
/// name server cannot hold the caller past the deadline (the thread is left to finish alone).
fn lookup_within<F>(
    name: &str,
    port: u16,
    timeout: Duration,
    lookup: F,
) -> Result<Vec<SocketAddr>, NetError>
where
    F: FnOnce(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let owned = name.to_string();
    let spawned = std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let _ = tx.send(lookup(&owned, port));
        });
    if let Err(e) = spawned {
        return Err(NetError::Resolve {
            host: name.to_string(),
            why: "cannot start the resolver".into(),
            source: Some(e),
        });
    }
    match rx.recv_timeout(timeout.max(MIN_WAIT)) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(NetError::Resolve {
            why: super::io_text(&e),
            host: name.to_string(),
            source: Some(e),
        }),
        Err(_) => Err(NetError::Timeout(Step::Resolve(name.to_string()))),
    }
}

/// The addresses of `host` of `family`, in the resolver's order. The system resolver runs on
/// a thread of its own so that a slow name server cannot hold the caller past `timeout`.
pub fn resolve(
    host: &str,
    port: u16,
    family: Family,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, NetError> {
    let bare = strip_brackets(host).to_string();
    let found: Vec<SocketAddr> = if let Ok(ip) = bare.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        match lookup_within(&bare, port, timeout, |name, port| {
            (name, port).to_socket_addrs().map(|a| a.collect())
        }) {
            Ok(addrs) => addrs,
            Err(NetError::Resolve { .. }) if is_localhost_name(&bare) => Vec::new(),
            Err(e) => return Err(e),
        }
    };
    let found = if found.is_empty() && is_localhost_name(&bare) {
        vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        ]
    } else {
        found
    };
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
        return Err(NetError::Resolve {
            host: bare,
            why: what.into(),
            source: None,
        });
    }
    Ok(addrs)
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
    fn name_resolution_is_bounded_by_the_timeout() {
        // A resolver that never answers (it waits for the end of the test): the only way out
        // is the deadline.
        let (hold, never) = mpsc::channel::<()>();
        let never = std::sync::Mutex::new(never);
        let err = lookup_within("slow.example", 25, Duration::from_millis(1), move |_, _| {
            let _ = never.lock().map(|r| r.recv());
            Ok(Vec::new())
        })
        .unwrap_err();
        assert!(
            matches!(&err, NetError::Timeout(Step::Resolve(h)) if h == "slow.example"),
            "{err:?}"
        );
        drop(hold);
        // An answer and an error come back as they are.
        let addr = SocketAddr::from(([192, 0, 2, 1], 25));
        assert_eq!(
            lookup_within("fast.example", 25, Duration::from_secs(30), move |_, _| Ok(
                vec![addr]
            ))
            .unwrap(),
            vec![addr]
        );
        let err = lookup_within("bad.example", 25, Duration::from_secs(30), |_, _| {
            Err(io::Error::other("no such name"))
        })
        .unwrap_err();
        assert!(matches!(err, NetError::Resolve { .. }), "{err:?}");
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
        assert_eq!(t.peer(), Some(SocketAddr::from(([127, 0, 0, 1], port))));
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
        assert!(matches!(t.write_all(b"x", secs(5)), Err(NetError::Closed)));
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
            err.to_string(),
            format!("cannot connect: {addr}: connection refused")
        );
        let NetError::Connect(attempts) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(attempts[0].error.kind(), io::ErrorKind::ConnectionRefused);
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
        assert_eq!(t.peer(), Some(SocketAddr::from(([127, 0, 0, 1], port))));
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
        assert_eq!(t.peer(), Some(live));
        let mut buf = [0u8; 32];
        let n = t.read(&mut buf, secs(5)).unwrap();
        assert_eq!(&buf[..n], b"220 second\r\n");
        server.join().unwrap();

        let err = connect_first(&[dead, dead], Duration::from_secs(5), &mut quiet()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot connect: {dead}: connection refused; {dead}: connection refused")
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
        assert_eq!(err.to_string(), "cannot resolve 127.0.0.1: no IPv6 address");
        let err = Transport::connect(
            "[::1]",
            25,
            Family::V4,
            Duration::from_secs(1),
            &mut quiet(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "cannot resolve ::1: no IPv4 address");
        let t = Duration::from_secs(5);
        assert_eq!(
            resolve("localhost", 25, Family::V4, t).unwrap(),
            vec![SocketAddr::from(([127, 0, 0, 1], 25))]
        );
        assert_eq!(
            resolve("::1", 110, Family::Any, t).unwrap(),
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
        let err = t
            .read(&mut buf, Instant::now() + Duration::from_millis(300))
            .unwrap_err();
        assert!(matches!(err, NetError::Timeout(Step::Reply)), "{err:?}");
        // A deadline already gone times out at once.
        let err = t.read(&mut buf, Instant::now()).unwrap_err();
        assert!(matches!(err, NetError::Timeout(Step::Reply)), "{err:?}");
        tx.send(()).unwrap();
        h.join().unwrap();
    }

    #[test]
    fn read_now_gives_none_then_data() {
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
        assert_eq!(t.read_now(&mut buf).unwrap(), None);
        tx.send(()).unwrap();
        let n = t.read(&mut buf, secs(5)).unwrap();
        assert_eq!(&buf[..n], b"* BYE\r\n");
        assert_eq!(t.read_now(&mut buf).unwrap(), None);
        drop(tx);
        assert_eq!(t.read(&mut buf, secs(5)).unwrap(), 0);
        assert_eq!(t.read_now(&mut buf).unwrap(), Some(0));
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
        assert!(matches!(
            t.start_tls("localhost", &TlsOptions::default(), secs(5)),
            Err(NetError::Closed)
        ));
        tx.send(()).unwrap();
        h.join().unwrap();
    }
}
