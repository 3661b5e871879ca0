//! One HTTPS GET, for what mail checks fetch (the MTA-STS policy, RFC 8461 §3.3): TLS through
//! the same handshake as every session, the certificate verified for the host (never
//! `--insecure`), HTTP/1.0 so that the body comes whole or close-delimited, redirects not
//! followed, at most [`MAX_HEAD`] bytes of head and the caller's limit of body, a deadline on
//! every read. The response head is parsed with httparse.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{Stream, TlsInfo, TlsOptions, Transport};

/// The most of a response head read.
pub const MAX_HEAD: usize = 16 * 1024;

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `Content-Type` header, when there is one.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The TLS session it came over.
    pub tls: TlsInfo,
}

/// GETs `https://HOST/PATH` from `addr`, the body limited to `max_body` bytes.
pub fn get(
    host: &str,
    addr: SocketAddr,
    path: &str,
    max_body: usize,
    timeout: Duration,
    ca_file: Option<std::path::PathBuf>,
) -> Result<Response, String> {
    let deadline = Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(Instant::now);
    let tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let mut t = Transport::from_tcp(tcp);
    let opts = TlsOptions {
        insecure: false,
        ca_file,
        sni: None,
        ..TlsOptions::default()
    };
    let tls = t
        .start_tls(host, &opts, deadline)
        .map_err(|e| format!("TLS with {host}: {e}"))?;
    if !tls.verified {
        return Err(format!(
            "the certificate of {host} does not verify: {}",
            tls.verify_error.as_deref().unwrap_or("unknown reason")
        ));
    }
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: mailtalk/{}\r\nAccept: text/plain\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    t.write_all(request.as_bytes(), deadline)
        .map_err(|e| format!("sending the request: {e}"))?;
    let limit = MAX_HEAD.saturating_add(max_body);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = t
            .read(&mut buf, deadline)
            .map_err(|e| format!("reading the response: {e}"))?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        if got.len() > limit {
            return Err(format!("the response is longer than {limit} bytes"));
        }
    }
    t.shutdown();
    parse(&got, max_body, tls)
}

/// The status, the content type and the body of a whole response.
fn parse(bytes: &[u8], max_body: usize, tls: TlsInfo) -> Result<Response, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let head = match r.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the response ended inside its head".into()),
        Err(e) => return Err(format!("the response is not HTTP: {e}")),
    };
    if head > MAX_HEAD {
        return Err(format!("the response head is longer than {MAX_HEAD} bytes"));
    }
    let status = r.code.unwrap_or(0);
    let header = |name: &str| {
        r.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    if (300..400).contains(&status) {
        return Err(format!(
            "HTTP {status} to {}: redirects are not followed (RFC 8461 §3.3)",
            header("location").unwrap_or_default()
        ));
    }
    let mut body = bytes.get(head..).unwrap_or(&[]).to_vec();
    if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if body.len() < n {
            return Err(format!("the body ended after {} of {n} bytes", body.len()));
        }
        body.truncate(n);
    }
    if body.len() > max_body {
        return Err(format!("the body is longer than {max_body} bytes"));
    }
    Ok(Response {
        status,
        content_type: header("content-type"),
        body,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::PKey;
    use openssl::ssl::{SslAcceptor, SslMethod};
    use openssl::x509::X509;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A CA file and a server of one response, with a certificate for `name` from that CA.
    fn server(name: &str, response: &'static [u8]) -> (tempfile::TempDir, SocketAddr) {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "https test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let leaf = params.signed_by(&key, &issuer).unwrap();
        let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        acc.set_certificate(&X509::from_der(leaf.der()).unwrap())
            .unwrap();
        acc.set_private_key(&PKey::private_key_from_der(&key.serialize_der()).unwrap())
            .unwrap();
        let acc = acc.build();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let Ok(mut s) = acc.accept(tcp) else { return };
            let mut req = Vec::new();
            let mut byte = [0u8; 1];
            while !req.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                req.push(byte[0]);
            }
            assert!(req.starts_with(b"GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: "));
            let _ = s.write_all(response);
            let _ = s.shutdown();
        });
        (dir, addr)
    }

    #[test]
    fn a_verified_get() {
        let (dir, addr) = server(
            "localhost",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nversion: STSv1\r\n",
        );
        let r = get(
            "localhost",
            addr,
            "/.well-known/mta-sts.txt",
            1000,
            Duration::from_secs(100),
            Some(dir.path().join("ca.pem")),
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
        assert_eq!(r.body, b"version: STSv1\r\n");
        assert!(r.tls.verified);
    }

    #[test]
    fn a_certificate_for_another_name_is_refused() {
        let (dir, addr) = server("other.test", b"HTTP/1.1 200 OK\r\n\r\nx");
        let e = get(
            "localhost",
            addr,
            "/.well-known/mta-sts.txt",
            1000,
            Duration::from_secs(100),
            Some(dir.path().join("ca.pem")),
        )
        .unwrap_err();
        assert!(e.contains("localhost"), "{e}");
    }

    fn p(bytes: &[u8]) -> Result<Response, String> {
        parse(bytes, 100, TlsInfo::default())
    }

    #[test]
    fn responses() {
        let r = p(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello and more").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("text/plain; charset=utf-8"));
        assert_eq!(r.body, b"hello");
        // Close-delimited.
        assert_eq!(
            p(b"HTTP/1.0 404 Not Found\r\n\r\nnope").unwrap().body,
            b"nope"
        );
        let e = p(b"HTTP/1.1 301 Moved\r\nLocation: https://evil.test/\r\n\r\n").unwrap_err();
        assert!(
            e.contains("redirects are not followed") && e.contains("evil.test"),
            "{e}"
        );
        assert!(p(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").is_err());
        assert!(p(b"HTTP/1.1 200 OK\r\nContent-Le").is_err());
        assert!(p(b"SMTP 220 hello\r\n\r\n").is_err());
        let big = [b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), vec![b'x'; 101]].concat();
        assert!(p(&big).unwrap_err().contains("longer than 100"));
    }
}
