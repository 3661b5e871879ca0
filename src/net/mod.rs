//! Transport: TCP with connect and read deadlines, implicit TLS and STARTTLS upgrade in place.

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
