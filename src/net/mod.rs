//! Transport: TCP with connect and read deadlines, implicit TLS and STARTTLS upgrade in place.

/// The instant `d` from now (saturating far in the future instead of overflowing).
pub fn deadline_after(d: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
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
}

impl TlsInfo {
    /// `TLS1.3` style short form for the prompt.
    pub fn short_version(&self) -> String {
        self.version.replace("TLSv", "TLS")
    }
}

mod connect;
mod tls;

pub use connect::{is_loopback_host, Transport};

use std::path::PathBuf;

/// Which address family `Transport::connect` may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

/// How a TLS handshake checks the server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Go on even when the chain or the host name does not verify (the reason is still reported
    /// in `TlsInfo::verify_error`).
    pub insecure: bool,
    /// Extra trust anchors (PEM), added to the system's.
    pub ca_file: Option<PathBuf>,
    /// Server name sent in the handshake and checked against the certificate, instead of the host.
    pub sni: Option<String>,
}

/// Why a connection or an exchange on it failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The name did not resolve, or has no address of the requested family.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// Every address failed; the message lists each address and its error.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// What timed out: `connect to 127.0.0.1:25`, `TLS handshake`, `reply`, `send`.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The certificate chain or host name did not verify.
    #[error("certificate verification failed: {0}")]
    Certificate(String),
    /// Any other TLS failure.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// Socket errors after the connection was made.
    #[error("connection error: {0}")]
    Io(String),
}
