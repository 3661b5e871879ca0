//! Reaching a server through a proxy (SOCKS5, RFC 1928 with RFC 1929 username/password; HTTP
//! CONNECT), and the HAProxy PROXY protocol header (v1 text, v2 binary) sent before anything
//! else. Every read has the connection's deadline and every reply is bounded.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use base64::Engine as _;
use zeroize::Zeroize;

use super::conn::{is_timeout, Conn};
use super::{strip_brackets, NetError, Step};
use crate::secret::Secret;

/// The longest HTTP CONNECT reply head read (status line and headers).
const MAX_HTTP_REPLY: usize = 16 * 1024;

/// Which kind of proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    /// SOCKS5; the proxy resolves the target's name.
    Socks5,
    /// HTTP CONNECT.
    Http,
}

/// A proxy to reach the server through (`--proxy socks5://[user:pass@]host:port`).
#[derive(Clone, Debug)]
pub struct Proxy {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

impl fmt::Display for Proxy {
    /// The URL without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Http => "http",
        };
        write!(f, "{scheme}://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Proxy {
    /// Parses `socks5://[USER[:PASS]@]HOST[:PORT]` (port 1080) or `http://[USER[:PASS]@]HOST[:PORT]`
    /// (port 8080). `socks5h://` is taken as `socks5://` (the proxy always resolves the name).
    pub fn parse(url: &str) -> Result<Proxy, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?}: give socks5://HOST:PORT or http://HOST:PORT"))?;
        let (kind, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "socks5" | "socks5h" => (ProxyKind::Socks5, 1080),
            "http" => (ProxyKind::Http, 8080),
            other => return Err(format!("unknown proxy scheme {other:?}: socks5 or http")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = match u.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    None => (u, None),
                };
                (
                    Some(percent_decode(user)?),
                    pass.map(|p| percent_decode(p).map(Secret::new))
                        .transpose()?,
                )
            }
        };
        let (host, port) = split_host_port(hostport, default_port)?;
        if host.is_empty() {
            return Err(format!("{url:?}: no proxy host"));
        }
        for text in [user.as_deref(), Some(host.as_str())].into_iter().flatten() {
            if text.bytes().any(|b| b.is_ascii_control()) {
                return Err("control characters in the proxy URL".into());
            }
        }
        Ok(Proxy {
            kind,
            host,
            port,
            user,
            password,
        })
    }
}

/// `host:port`, `[v6]:port`, `host` (with `default`).
fn split_host_port(text: &str, default: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: unclosed ["))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let port = match port {
        None => default,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{text:?}: bad port"))?,
    };
    Ok((host.to_string(), port))
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i.saturating_add(1)..i.saturating_add(3))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a bad %-escape in the proxy URL")?;
            out.push(hex);
            i = i.saturating_add(3);
        } else {
            out.push(b);
            i = i.saturating_add(1);
        }
    }
    String::from_utf8(out).map_err(|_| "the proxy URL's user or password is not UTF-8".into())
}

/// The PROXY protocol version of `--proxy-protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyHeaderVersion {
    V1,
    V2,
}

/// The HAProxy PROXY protocol header to send first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    pub version: ProxyHeaderVersion,
    /// The source address claimed (default: the connection's real local address).
    pub source: Option<SocketAddr>,
}

/// The PROXY header for a connection from `source` to `destination`.
pub fn proxy_header(
    version: ProxyHeaderVersion,
    source: SocketAddr,
    destination: SocketAddr,
) -> Result<Vec<u8>, NetError> {
    let (source, destination) = match (source, destination) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) | (SocketAddr::V6(_), SocketAddr::V6(_)) => {
            (source, destination)
        }
        _ => {
            return Err(NetError::Proxy(format!(
                "the PROXY header needs the source {source} and the server {destination} in \
                 the same address family"
            )))
        }
    };
    match version {
        ProxyHeaderVersion::V1 => {
            let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
            Ok(format!(
                "PROXY {family} {} {} {} {}\r\n",
                source.ip(),
                destination.ip(),
                source.port(),
                destination.port()
            )
            .into_bytes())
        }
        ProxyHeaderVersion::V2 => {
            let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
            // Version 2, command PROXY.
            out.push(0x21);
            let mut addrs = Vec::with_capacity(36);
            match (source.ip(), destination.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    out.push(0x11); // AF_INET, STREAM
                    addrs.extend_from_slice(&s.octets());
                    addrs.extend_from_slice(&d.octets());
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    out.push(0x21); // AF_INET6, STREAM
                    addrs.extend_from_slice(&s.octets());
                    addrs.extend_from_slice(&d.octets());
                }
                _ => return Err(NetError::Proxy("mixed address families".into())),
            }
            addrs.extend_from_slice(&source.port().to_be_bytes());
            addrs.extend_from_slice(&destination.port().to_be_bytes());
            let len = u16::try_from(addrs.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&addrs);
            Ok(out)
        }
    }
}

fn io_error(e: io::Error) -> NetError {
    if is_timeout(&e) {
        NetError::Timeout(Step::Proxy)
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        NetError::Proxy("the proxy closed the connection".into())
    } else {
        NetError::Io(e)
    }
}

fn send(conn: &mut Conn, bytes: &[u8]) -> Result<(), NetError> {
    conn.write_all(bytes).map_err(io_error)
}

fn read_exact(conn: &mut Conn, buf: &mut [u8]) -> Result<(), NetError> {
    conn.read_exact(buf).map_err(io_error)
}

/// Asks the proxy on `conn` for a connection to `host`:`port`, before `deadline`.
pub(super) fn negotiate(
    conn: &mut Conn,
    proxy: &Proxy,
    host: &str,
    port: u16,
    deadline: Instant,
) -> Result<(), NetError> {
    conn.set_deadline(Some(deadline));
    let result = match proxy.kind {
        ProxyKind::Socks5 => socks5(conn, proxy, strip_brackets(host), port),
        ProxyKind::Http => http_connect(conn, proxy, host, port),
    };
    conn.set_deadline(None);
    result
}

fn socks5(conn: &mut Conn, proxy: &Proxy, host: &str, port: u16) -> Result<(), NetError> {
    let with_password = proxy.user.is_some();
    if with_password {
        send(conn, &[5, 2, 0, 2])?;
    } else {
        send(conn, &[5, 1, 0])?;
    }
    let mut choice = [0u8; 2];
    read_exact(conn, &mut choice)?;
    match choice {
        [5, 0] => {}
        [5, 2] if with_password => {
            let user = proxy.user.as_deref().unwrap_or_default();
            let pass = proxy.password.as_ref().map(|p| p.expose()).unwrap_or("");
            let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
                return Err(NetError::Proxy(
                    "SOCKS5 user names and passwords have at most 255 bytes".into(),
                ));
            };
            let mut auth =
                Vec::with_capacity(user.len().saturating_add(pass.len()).saturating_add(3));
            auth.push(1);
            auth.push(ulen);
            auth.extend_from_slice(user.as_bytes());
            auth.push(plen);
            auth.extend_from_slice(pass.as_bytes());
            let sent = send(conn, &auth);
            crate::secret::wipe(&mut auth);
            sent?;
            let mut status = [0u8; 2];
            read_exact(conn, &mut status)?;
            if status[1] != 0 {
                return Err(NetError::Proxy(
                    "the SOCKS5 proxy refused the user name and password".into(),
                ));
            }
        }
        [5, 0xff] => {
            return Err(NetError::Proxy(if with_password {
                "the SOCKS5 proxy accepts neither no authentication nor a user name and password"
                    .into()
            } else {
                "the SOCKS5 proxy wants authentication: give socks5://USER:PASS@HOST:PORT".into()
            }))
        }
        [5, other] => {
            return Err(NetError::Proxy(format!(
                "the SOCKS5 proxy chose a method not offered ({other})"
            )))
        }
        [v, _] => {
            return Err(NetError::Proxy(format!(
                "not a SOCKS5 proxy (it answered version {v})"
            )))
        }
    }
    let mut request = vec![5, 1, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len())
                .map_err(|_| NetError::Proxy("a host name over 255 bytes".into()))?;
            request.push(3);
            request.push(len);
            request.extend_from_slice(host.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    send(conn, &request)?;
    let mut head = [0u8; 4];
    read_exact(conn, &mut head)?;
    let [version, reply, _, atyp] = head;
    if version != 5 {
        return Err(NetError::Proxy(format!(
            "not a SOCKS5 reply (version {version})"
        )));
    }
    if reply != 0 {
        return Err(NetError::Proxy(format!(
            "the SOCKS5 proxy could not connect to {host}:{port}: {}",
            socks_reply_text(reply)
        )));
    }
    // The address the proxy bound: read and dropped.
    let rest = match atyp {
        1 => 4usize,
        4 => 16,
        3 => {
            let mut len = [0u8; 1];
            read_exact(conn, &mut len)?;
            usize::from(len[0])
        }
        other => {
            return Err(NetError::Proxy(format!(
                "a SOCKS5 reply with address type {other}"
            )))
        }
    };
    let mut bound = vec![0u8; rest.saturating_add(2)];
    read_exact(conn, &mut bound)
}

fn socks_reply_text(code: u8) -> String {
    match code {
        1 => "general failure".into(),
        2 => "not allowed by its rules".into(),
        3 => "network unreachable".into(),
        4 => "host unreachable".into(),
        5 => "connection refused".into(),
        6 => "TTL expired".into(),
        7 => "command not supported".into(),
        8 => "address type not supported".into(),
        other => format!("error {other}"),
    }
}

fn http_connect(conn: &mut Conn, proxy: &Proxy, host: &str, port: u16) -> Result<(), NetError> {
    let authority = format!("{host}:{port}");
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(user) = &proxy.user {
        let pass = proxy.password.as_ref().map(|p| p.expose()).unwrap_or("");
        let mut pair = format!("{user}:{pass}");
        let token = base64::engine::general_purpose::STANDARD.encode(pair.as_bytes());
        pair.zeroize();
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let sent = send(conn, request.as_bytes());
    request.zeroize();
    sent?;
    // Byte by byte, so that nothing of the server's greeting after the reply is taken.
    let mut head: Vec<u8> = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HTTP_REPLY {
            return Err(NetError::Proxy(format!(
                "the HTTP proxy's reply is longer than {MAX_HTTP_REPLY} bytes"
            )));
        }
        read_exact(conn, &mut byte)?;
        head.push(byte[0]);
    }
    let status_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let status_line = status_line.strip_suffix(b"\r").unwrap_or(status_line);
    let mut parts = status_line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with(b"HTTP/1.") {
        return Err(NetError::Proxy(format!(
            "not an HTTP reply: \"{}\"",
            crate::excerpt::excerpt(status_line, 80)
        )));
    }
    if code != b"200" {
        return Err(NetError::Proxy(format!(
            "the HTTP proxy refused CONNECT {authority}: \"{}\"",
            crate::excerpt::excerpt(status_line, 200)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse() {
        let p = Proxy::parse("socks5://127.0.0.1:1081").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (ProxyKind::Socks5, "127.0.0.1", 1081)
        );
        assert!(p.user.is_none());
        let p = Proxy::parse("socks5://al%40ice:s%3Acret@[::1]").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 1080));
        assert_eq!(p.user.as_deref(), Some("al@ice"));
        assert_eq!(p.password.as_ref().map(|s| s.expose()), Some("s:cret"));
        // The password is not shown.
        assert_eq!(p.to_string(), "socks5://al@ice@::1:1080");
        assert!(!format!("{p:?}").contains("s:cret"));
        let p = Proxy::parse("http://proxy.test").unwrap();
        assert_eq!((p.kind, p.port), (ProxyKind::Http, 8080));
        assert!(Proxy::parse("ftp://x").is_err());
        assert!(Proxy::parse("socks5://x:0").is_err());
        assert!(Proxy::parse("socks5://x:99999").is_err());
        assert!(Proxy::parse("x:1").is_err());
        assert!(Proxy::parse("socks5://%zz@x").is_err());
    }

    #[test]
    fn proxy_headers_are_exact() {
        let s: SocketAddr = "192.0.2.1:4242".parse().unwrap();
        let d: SocketAddr = "127.0.0.1:25".parse().unwrap();
        assert_eq!(
            proxy_header(ProxyHeaderVersion::V1, s, d).unwrap(),
            b"PROXY TCP4 192.0.2.1 127.0.0.1 4242 25\r\n"
        );
        let v2 = proxy_header(ProxyHeaderVersion::V2, s, d).unwrap();
        let mut want = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        want.extend_from_slice(&[192, 0, 2, 1, 127, 0, 0, 1, 0x10, 0x92, 0, 25]);
        assert_eq!(v2, want);
        let s6: SocketAddr = "[2001:db8::1]:1".parse().unwrap();
        let d6: SocketAddr = "[::1]:2".parse().unwrap();
        assert_eq!(
            proxy_header(ProxyHeaderVersion::V1, s6, d6).unwrap(),
            b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n"
        );
        let v2 = proxy_header(ProxyHeaderVersion::V2, s6, d6).unwrap();
        assert_eq!(v2.len(), 16 + 36);
        assert!(proxy_header(ProxyHeaderVersion::V1, s, d6).is_err());
    }
}
