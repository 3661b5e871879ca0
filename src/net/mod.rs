//! Transport: TCP with connect and read deadlines, implicit TLS and STARTTLS upgrade in place.
//!
//! TLS goes through OpenSSL directly (the `openssl` crate), not native-tls: native-tls does not
//! report the negotiated protocol version, the cipher or the peer's certificate chain, which
//! `:tls`, `--show-cert` and the prompt show.
//!
//! Modules, from the bottom: [`conn`] (a TCP stream whose every read and write has a deadline),
//! [`tls`] (the handshake and certificate summaries), [`transport`] (resolving, connecting,
//! and the stream a session runs over), [`accept`] (the server side of TLS, for `serve`),
//! [`dns`] (MX, address, TLSA and TXT lookups for mail routing and its checks), [`https`] (one
//! verified HTTPS GET, for the MTA-STS policy).

mod accept;
mod conn;
pub mod dns;
pub mod https;
mod pipe;
mod proxy;
mod tls;
mod transport;

pub use accept::ServerTls;
pub use proxy::{proxy_header, Proxy, ProxyHeader, ProxyHeaderVersion, ProxyKind};
pub use tls::{can_offer, PROBE_CIPHERS};
pub use transport::{is_loopback_host, Transport};

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The instant `d` from now (saturating far in the future instead of overflowing).
pub fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

/// A byte stream a session runs over: a TCP connection (plain or TLS), or a scripted peer in
/// tests.
pub trait Stream: Send {
    /// Reads what is available, waiting until `deadline` at most. `Ok(0)` is the end of the
    /// stream; [`NetError::Timeout`] when nothing came in time.
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, NetError>;

    /// Bytes that are there now (in the socket, or already decrypted), without waiting; `None`
    /// when there are none. `Some(0)` is the end of the stream.
    fn read_now(&mut self, buf: &mut [u8]) -> Result<Option<usize>, NetError>;

    /// Sends all of `data`, failing with [`NetError::Timeout`] when the deadline passes first.
    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), NetError>;

    /// Sends what it can of `data` until `deadline`: how much went out (all of it, or less
    /// once the deadline passed). To go on after a short count, call again with the rest of
    /// the same bytes (TLS may hold a record of them half written).
    fn write_some(&mut self, data: &[u8], deadline: Instant) -> Result<usize, NetError> {
        self.write_all(data, deadline).map(|()| data.len())
    }

    /// Runs a TLS client handshake and continues over TLS.
    fn start_tls(
        &mut self,
        host: &str,
        opts: &TlsOptions,
        deadline: Instant,
    ) -> Result<TlsInfo, NetError>;

    fn is_tls(&self) -> bool;

    /// What the TLS handshake negotiated, once there was one.
    fn tls_info(&self) -> Option<&TlsInfo>;

    /// The address connected to.
    fn peer(&self) -> Option<SocketAddr>;

    /// Closes the stream (a TLS close_notify first). Later reads give the end of the stream.
    fn shutdown(&mut self);
}

/// One certificate of the chain the peer sent, summarised for display.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// Subject alternative names: `DNS:mx.example.com`, `IP:127.0.0.1`.
    pub sans: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    /// Whole days until `not_after` (negative when expired).
    pub days_left: Option<i64>,
    /// `RSA 2048`, `EC P-256`, `Ed25519`.
    pub key: String,
    /// SHA-256 of the DER, upper-case hex pairs separated by `:`.
    pub sha256: String,
    /// The certificate itself (DER), for checks that match it (DANE).
    pub der: Vec<u8>,
}

/// What a completed TLS handshake negotiated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3`, `TLSv1.2` …
    pub version: String,
    /// `TLS_AES_256_GCM_SHA384` …
    pub cipher: String,
    /// The SNI sent, if any (none for IP literals).
    pub sni: Option<String>,
    /// The name (or IP) the certificate was checked against.
    pub verify_name: String,
    /// Chain and host name verified.
    pub verified: bool,
    /// Why verification failed (shown even with `--insecure`, where the connection went on).
    pub verify_error: Option<String>,
    /// The chain the peer sent, leaf first.
    pub chain: Vec<CertSummary>,
    /// The application protocol the server chose from `--alpn` (exactly as sent, it may hold
    /// any byte: shown escaped), if any.
    pub alpn: Option<String>,
}

impl TlsInfo {
    /// `TLS1.3` style short form for the prompt.
    pub fn short_version(&self) -> String {
        self.version.replace("TLSv", "TLS")
    }
}

/// Which address family [`Transport::connect`] may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

/// A TLS protocol version, for `--tls-min`, `--tls-max` and `--tls-info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    V1_0,
    V1_1,
    V1_2,
    V1_3,
}

impl TlsVersion {
    /// Every version, oldest first.
    pub const ALL: [TlsVersion; 4] = [
        TlsVersion::V1_0,
        TlsVersion::V1_1,
        TlsVersion::V1_2,
        TlsVersion::V1_3,
    ];

    /// `1.2`.
    pub fn number(self) -> &'static str {
        match self {
            TlsVersion::V1_0 => "1.0",
            TlsVersion::V1_1 => "1.1",
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        }
    }

    /// `TLSv1.2`, as OpenSSL names the negotiated version.
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::V1_0 => "TLSv1",
            TlsVersion::V1_1 => "TLSv1.1",
            TlsVersion::V1_2 => "TLSv1.2",
            TlsVersion::V1_3 => "TLSv1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS {}", self.number())
    }
}

/// How a TLS handshake checks the server, and what the client offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Go on even when the chain or the host name does not verify (the reason is still reported
    /// in `TlsInfo::verify_error`).
    pub insecure: bool,
    /// Extra trust anchors (PEM), added to the system's.
    pub ca_file: Option<PathBuf>,
    /// Server name sent in the handshake and checked against the certificate, instead of the host.
    pub sni: Option<String>,
    /// Client certificate (PEM; may hold the chain after it, and the key).
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM); `None`: it is in the certificate file.
    pub key: Option<PathBuf>,
    /// Oldest TLS version offered (default: the library's).
    pub min_version: Option<TlsVersion>,
    /// Newest TLS version offered (default: the library's).
    pub max_version: Option<TlsVersion>,
    /// OpenSSL cipher list for TLS 1.2 and older (`ECDHE+AESGCM`, may set `@SECLEVEL=N`).
    pub ciphers: Option<String>,
    /// OpenSSL TLS 1.3 ciphersuites (`TLS_AES_128_GCM_SHA256:…`).
    pub ciphersuites: Option<String>,
    /// Application protocols offered with ALPN, in order of preference.
    pub alpn: Vec<String>,
    /// Append the session's secrets to this file in the NSS key log format (SSLKEYLOGFILE).
    pub keylog: Option<PathBuf>,
    /// OpenSSL security level to use instead of the configured one (`--tls-info` sets 0 to
    /// be able to offer old versions).
    pub security_level: Option<u32>,
}

impl TlsOptions {
    /// Checks what can be checked without a peer: the certificate and key load and match, the
    /// cipher lists and ALPN names are accepted, the key log file can be opened.
    pub fn check(&self) -> Result<(), NetError> {
        tls::connector(self).map(|_| ())
    }
}

/// What timed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Resolving this name.
    Resolve(String),
    /// Connecting to these addresses.
    Connect(Vec<SocketAddr>),
    Handshake,
    /// Waiting for the server's greeting; `silent`: nothing at all arrived.
    Greeting {
        silent: bool,
    },
    /// Waiting for a reply.
    Reply,
    Send,
    /// Asking the proxy for the connection.
    Proxy,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Resolve(host) => write!(f, "resolving {host}"),
            Step::Connect(addrs) => {
                let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                write!(f, "connecting to {}", list.join(", "))
            }
            Step::Handshake => f.write_str("during the TLS handshake"),
            Step::Greeting { .. } => f.write_str("waiting for the greeting"),
            Step::Reply => f.write_str("waiting for a reply"),
            Step::Send => f.write_str("sending"),
            Step::Proxy => f.write_str("waiting for the proxy"),
        }
    }
}

/// What was wrong with the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertProblem {
    /// The certificate is for other names than the one checked.
    NameMismatch,
    /// The certificate is not for the IP address checked.
    IpMismatch,
    Expired,
    NotYetValid,
    /// The chain does not lead to a trusted root (private CA, self-signed).
    Untrusted,
    Other,
}

/// A certificate that did not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertError {
    pub problem: CertProblem,
    /// The name (or IP address) it was checked against.
    pub checked: String,
    /// The DNS names the certificate is for (for a mismatch).
    pub names: Vec<String>,
    /// The problem in words.
    pub text: String,
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What kind of TLS failure (other than the certificate) it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsProblem {
    /// The peer does not speak TLS on this port.
    NotTls,
    /// The server sent bytes before the client's first handshake message.
    DataBeforeHandshake,
    /// The server closed the connection during (or before) the handshake.
    Closed,
    /// The CA file could not be loaded.
    CaFile,
    /// The connection already uses TLS.
    AlreadyTls,
    /// A local setting could not be used: the client certificate or key, a cipher list, ALPN
    /// names, the key log file.
    Config,
    /// The server wants a client certificate (`--cert`) and none, or one it refused, was sent.
    ClientCertificate,
    /// No TLS version both sides allow (`--tls-min`, `--tls-max`, or the library's limits).
    Version,
    Other,
}

/// A TLS failure, with OpenSSL's error when there was one.
#[derive(Debug)]
pub struct TlsError {
    pub problem: TlsProblem,
    pub text: String,
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl TlsError {
    pub fn new(problem: TlsProblem, text: impl Into<String>) -> TlsError {
        TlsError {
            problem,
            text: text.into(),
            source: None,
        }
    }
}

/// One failed attempt to connect.
#[derive(Debug)]
pub struct Attempt {
    pub addr: SocketAddr,
    pub error: io::Error,
}

/// Why a connection or an exchange on it failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The name did not resolve, or has no address of the requested family.
    #[error("cannot resolve {host}: {why}")]
    Resolve {
        host: String,
        why: String,
        #[source]
        source: Option<io::Error>,
    },
    /// Every address failed.
    #[error("cannot connect: {}", attempts_text(.0))]
    Connect(Vec<Attempt>),
    #[error("timed out {0}")]
    Timeout(Step),
    /// The certificate chain or host name did not verify.
    #[error("certificate verification failed: {0}")]
    Certificate(CertError),
    /// Any other TLS failure.
    #[error("TLS failed: {0}")]
    Tls(#[source] TlsError),
    /// Socket errors after the connection was made.
    #[error("connection error: {}", io_text(.0))]
    Io(#[source] io::Error),
    /// The connection is already closed.
    #[error("the connection is closed")]
    Closed,
    /// A unix socket could not be connected to, or a command not started.
    #[error("cannot {what}: {}", io_text(.source))]
    Local {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The proxy refused, or did not speak its protocol.
    #[error("proxy: {0}")]
    Proxy(String),
}

/// How the connection to the server is made: directly or through a proxy, and with a PROXY
/// protocol header first or not.
#[derive(Clone, Debug, Default)]
pub struct Route {
    /// TCP to the target's host and port, a unix socket, or a command's pipes.
    pub endpoint: Endpoint,
    pub proxy: Option<Proxy>,
    pub header: Option<ProxyHeader>,
}

/// What the session talks to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Endpoint {
    /// TCP to the target's host and port.
    #[default]
    Tcp,
    /// A unix domain socket (`smtp+unix:/path`).
    Unix(PathBuf),
    /// A command run with `sh -c`, spoken to over its standard input and output (`--pipe`).
    Pipe(String),
}

fn attempts_text(attempts: &[Attempt]) -> String {
    let parts: Vec<String> = attempts
        .iter()
        .map(|a| format!("{}: {}", a.addr, attempt_text(&a.error)))
        .collect();
    parts.join("; ")
}

/// An attempt's error in words.
pub(crate) fn attempt_text(e: &io::Error) -> String {
    if conn::is_timeout(e) {
        "connection timed out".to_string()
    } else {
        io_text(e)
    }
}

/// An I/O error as a short sentence: `connection refused` rather than
/// `Connection refused (os error 111)`.
pub fn io_text(e: &io::Error) -> String {
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

/// `[::1]` → `::1`; anything else unchanged.
pub fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn errors_keep_their_sources() {
        use std::error::Error as _;
        let e = NetError::Io(io::Error::from_raw_os_error(104));
        assert_eq!(e.to_string(), "connection error: connection reset by peer");
        assert!(e.source().is_some());
        let e = NetError::Connect(vec![Attempt {
            addr: SocketAddr::from(([127, 0, 0, 1], 25)),
            error: io::Error::from_raw_os_error(111),
        }]);
        assert_eq!(
            e.to_string(),
            "cannot connect: 127.0.0.1:25: connection refused"
        );
        assert_eq!(
            NetError::Timeout(Step::Connect(vec![SocketAddr::from(([127, 0, 0, 1], 25))]))
                .to_string(),
            "timed out connecting to 127.0.0.1:25"
        );
    }
}
