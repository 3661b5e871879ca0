//! In-process scripted servers and a runner for the `mailtalk` binary.
//!
//! A test starts a [`Server`] on 127.0.0.1 with a handler that scripts one
//! connection through [`Conn`], runs the binary with [`mailtalk`], then calls
//! [`Server::join`] to get the [`Log`] of everything the client sent (plaintext
//! and inside TLS kept apart) and whatever the handler recorded.
//!
//! Certificates are made at test time by [`TestCerts::new`].
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use openssl::pkey::PKey;
use openssl::ssl::{
    NameType, SslAcceptor, SslMethod, SslOptions, SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

// ---------------------------------------------------------------------------
// Exit codes of the contract.

pub const EXIT_OK: i32 = 0;
pub const EXIT_EXPECTATION: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_CONNECT: i32 = 3;
pub const EXIT_TLS: i32 = 4;
pub const EXIT_TIMEOUT: i32 = 5;
pub const EXIT_PROTOCOL: i32 = 6;
pub const EXIT_CLOSED: i32 = 7;
pub const EXIT_ABANDONED: i32 = 10;

/// The hang guard, the only clock of the tests: a run of the binary still going after this is
/// killed, and a test that needed the kill fails (the run has no exit status). No correct run
/// comes near it, however busy the machine: it ends hung runs, it does not judge slow ones.
/// Servers never give up on their own; they wait for the client, whose socket closes when it
/// exits or is killed.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);
/// The `--timeout` of a run that is not about a timeout: far beyond any delay a busy machine
/// makes, so that the client's own clock cannot decide such a test (and still short of
/// [`RUN_LIMIT`]). Runs that test a timeout give a short one and expect exit 5.
pub const NO_TIMEOUT: &str = "100";
/// A byte count for [`Conn::stream`] that is never reached.
pub const ENDLESS: u64 = u64::MAX;

// ---------------------------------------------------------------------------
// Certificates.

/// A certificate and its key, as PEM text and as files.
#[derive(Clone, Debug)]
pub struct ServerCert {
    pub label: &'static str,
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A test CA and the server certificates the tests need, in a temporary directory.
pub struct TestCerts {
    dir: tempfile::TempDir,
    /// PEM file of the CA, for `--ca-file`.
    pub ca_file: PathBuf,
    pub ca_pem: String,
    /// Signed by the CA, for DNS:localhost and IP:127.0.0.1.
    pub good: ServerCert,
    /// Signed by the CA, for DNS:other.test only.
    pub wrong_host: ServerCert,
    /// Self-signed, for DNS:localhost and IP:127.0.0.1, not from the CA.
    pub self_signed: ServerCert,
    /// Signed by the CA, for DNS:localhost and IP:127.0.0.1, valid 2020-01-01 to 2021-01-01.
    pub expired: ServerCert,
    /// A client certificate signed by the CA, subject `CN=client.test`.
    pub client: ServerCert,
    /// The client certificate and its key in one PEM file.
    pub client_combined: PathBuf,
}

impl TestCerts {
    pub fn new() -> TestCerts {
        let dir = tempfile::tempdir().unwrap();

        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mailtalk test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params.not_before = date_time_ymd(2024, 1, 1);
        ca_params.not_after = date_time_ymd(2090, 1, 1);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca_pem = ca_cert.pem();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).unwrap();
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let leaf = |label: &'static str,
                    names: &[&str],
                    years: (i32, i32),
                    signed: bool,
                    usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params =
                CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, names.first().copied().unwrap_or("x"));
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![usage];
            params.not_before = date_time_ymd(years.0, 1, 1);
            params.not_after = date_time_ymd(years.1, 1, 1);
            let cert = if signed {
                params.signed_by(&key, &issuer).unwrap()
            } else {
                params.self_signed(&key).unwrap()
            };
            let cert_file = dir.path().join(format!("{label}.crt"));
            let key_file = dir.path().join(format!("{label}.key"));
            std::fs::write(&cert_file, cert.pem()).unwrap();
            std::fs::write(&key_file, key.serialize_pem()).unwrap();
            ServerCert {
                label,
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                cert_file,
                key_file,
            }
        };

        use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let local = &["localhost", "127.0.0.1"];
        let good = leaf("good", local, (2024, 2090), true, ServerAuth);
        let wrong_host = leaf(
            "wrong-host",
            &["other.test"],
            (2024, 2090),
            true,
            ServerAuth,
        );
        let self_signed = leaf("self-signed", local, (2024, 2090), false, ServerAuth);
        let expired = leaf("expired", local, (2020, 2021), true, ServerAuth);
        let client = leaf("client", &["client.test"], (2024, 2090), true, ClientAuth);
        let client_combined = dir.path().join("client-combined.pem");
        std::fs::write(
            &client_combined,
            format!("{}{}", client.cert_pem, client.key_pem),
        )
        .unwrap();

        TestCerts {
            dir,
            ca_file,
            ca_pem,
            good,
            wrong_host,
            self_signed,
            expired,
            client,
            client_combined,
        }
    }

    /// The CA file path as a string, for `--ca-file`.
    pub fn ca(&self) -> &str {
        self.ca_file.to_str().unwrap()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for TestCerts {
    fn default() -> Self {
        TestCerts::new()
    }
}

/// How the server side of a TLS handshake is set up (the default: what [`Conn::start_tls`] does).
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// A CA (PEM) whose client certificates are required: no certificate, or another one,
    /// fails the handshake.
    pub require_client_cert: Option<String>,
    /// Versions accepted (default: TLS 1.2 and 1.3).
    pub min: Option<SslVersion>,
    pub max: Option<SslVersion>,
    /// OpenSSL security level 0 and every cipher, so that TLS 1.0 and 1.1 can be accepted.
    pub legacy: bool,
    /// ALPN protocols the server accepts, in its order of preference.
    pub alpn: Vec<String>,
    /// The TLS 1.3 ciphersuites accepted (default: OpenSSL's).
    pub ciphersuites: Option<String>,
}

fn acceptor(cert: &ServerCert, sni: Arc<Mutex<Option<String>>>) -> SslAcceptor {
    acceptor_with(cert, sni, &TlsConfig::default())
}

fn acceptor_with(
    cert: &ServerCert,
    sni: Arc<Mutex<Option<String>>>,
    config: &TlsConfig,
) -> SslAcceptor {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    if config.legacy {
        b.clear_options(SslOptions::NO_TLSV1 | SslOptions::NO_TLSV1_1);
        b.set_security_level(0);
        b.set_cipher_list("ALL:@SECLEVEL=0").unwrap();
    }
    if let Some(suites) = &config.ciphersuites {
        b.set_ciphersuites(suites).unwrap();
    }
    if config.min.is_some() || config.legacy {
        b.set_min_proto_version(config.min).unwrap();
    }
    if config.max.is_some() {
        b.set_max_proto_version(config.max).unwrap();
    }
    if let Some(ca) = &config.require_client_cert {
        let ca = X509::from_pem(ca.as_bytes()).unwrap();
        b.cert_store_mut().add_cert(ca).unwrap();
        b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    if !config.alpn.is_empty() {
        let wanted = config.alpn.clone();
        b.set_alpn_select_callback(move |_, offered| {
            for w in &wanted {
                let mut rest = offered;
                while let Some((&len, tail)) = rest.split_first() {
                    let (name, tail) = tail.split_at(usize::from(len).min(tail.len()));
                    if name == w.as_bytes() {
                        return Ok(name);
                    }
                    rest = tail;
                }
            }
            Err(openssl::ssl::AlpnError::NOACK)
        });
    }
    let x509 = X509::from_pem(cert.cert_pem.as_bytes()).unwrap();
    let key = PKey::private_key_from_pem(cert.key_pem.as_bytes()).unwrap();
    b.set_certificate(&x509).unwrap();
    b.set_private_key(&key).unwrap();
    b.check_private_key().unwrap();
    b.set_servername_callback(move |ssl, _alert| {
        if let Some(name) = ssl.servername(NameType::HOST_NAME) {
            *sni.lock().unwrap() = Some(name.to_string());
        }
        Ok(())
    });
    b.build()
}

// ---------------------------------------------------------------------------
// What a server saw.

/// Everything one connection saw.
#[derive(Clone, Default)]
pub struct Log {
    /// Whether a client connected at all.
    pub connected: bool,
    /// Bytes the client sent before any TLS handshake (or after a failed one).
    pub plain: Vec<u8>,
    /// Bytes the client sent inside TLS.
    pub tls: Vec<u8>,
    /// Bytes the server wrote (plaintext and TLS application data together).
    pub sent: Vec<u8>,
    /// Whether a TLS handshake completed.
    pub tls_established: bool,
    /// The error of a failed TLS handshake.
    pub tls_error: Option<String>,
    /// The SNI host name the client sent, if any.
    pub sni: Option<String>,
    /// The subject of the client's certificate (`CN=client.test`), if it sent one.
    pub client_subject: Option<String>,
    /// The ClientHello random of the completed handshake.
    pub client_random: Option<Vec<u8>>,
    /// The negotiated version (`TLSv1.3`) and cipher of the completed handshake.
    pub tls_version: Option<String>,
    pub tls_cipher: Option<String>,
    /// The ALPN protocol the server chose.
    pub alpn: Option<String>,
    /// What the handler recorded: (kind, bytes), in order.
    pub records: Vec<(String, Vec<u8>)>,
    /// Free-form notes from the handler and the framework.
    pub notes: Vec<String>,
}

impl Log {
    /// The bytes recorded under `kind`, in order.
    pub fn records(&self, kind: &str) -> Vec<Vec<u8>> {
        self.records
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The command lines the server saw (records "command"), without CRLF.
    pub fn commands(&self) -> Vec<String> {
        self.records("command")
            .iter()
            .map(|l| String::from_utf8_lossy(trim_eol(l)).into_owned())
            .collect()
    }

    /// The records under `kind` as lossy strings.
    pub fn record_strs(&self, kind: &str) -> Vec<String> {
        self.records(kind)
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// Every byte the client sent, plaintext then TLS.
    pub fn all_received(&self) -> Vec<u8> {
        let mut v = self.plain.clone();
        v.extend_from_slice(&self.tls);
        v
    }

    pub fn plain_str(&self) -> String {
        String::from_utf8_lossy(&self.plain).into_owned()
    }

    pub fn tls_str(&self) -> String {
        String::from_utf8_lossy(&self.tls).into_owned()
    }

    pub fn has_note(&self, note: &str) -> bool {
        self.notes.iter().any(|n| n == note)
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("connected", &self.connected)
            .field("plain", &show_bytes(&self.plain))
            .field("tls", &show_bytes(&self.tls))
            .field("sent", &show_bytes(&self.sent))
            .field("tls_established", &self.tls_established)
            .field("tls_error", &self.tls_error)
            .field("sni", &self.sni)
            .field("client_subject", &self.client_subject)
            .field("tls_version", &self.tls_version)
            .field("alpn", &self.alpn)
            .field(
                "records",
                &self
                    .records
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", show_bytes(v)))
                    .collect::<Vec<_>>(),
            )
            .field("notes", &self.notes)
            .finish()
    }
}

/// Bytes as a readable Rust-like escaped string.
pub fn show_bytes(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

// ---------------------------------------------------------------------------
// One scripted connection.

enum Stream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
    Closed,
}

/// The server side of one connection, driven by a test's handler.
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    eof: bool,
    cert: ServerCert,
    sni: Arc<Mutex<Option<String>>>,
    log: Arc<Mutex<Log>>,
    tls_config: TlsConfig,
}

impl Conn {
    fn new(
        tcp: TcpStream,
        cert: ServerCert,
        sni: Arc<Mutex<Option<String>>>,
        log: Arc<Mutex<Log>>,
    ) -> Conn {
        tcp.set_nodelay(true).ok();
        Conn {
            stream: Stream::Plain(tcp),
            buf: Vec::new(),
            eof: false,
            cert,
            sni,
            log,
            tls_config: TlsConfig::default(),
        }
    }

    /// How later handshakes ([`Conn::start_tls`], also the STARTTLS of the scripted servers)
    /// are set up.
    pub fn set_tls_config(&mut self, config: TlsConfig) {
        self.tls_config = config;
    }

    /// Whether the connection is inside TLS now.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Whether the peer has closed (or the connection was closed here).
    pub fn is_eof(&self) -> bool {
        self.eof && self.buf.is_empty()
    }

    /// Writes `bytes` in one write. Write errors are noted, not raised.
    pub fn send(&mut self, bytes: &[u8]) {
        let r = match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes).and_then(|_| s.flush()),
            Stream::Tls(s) => s.write_all(bytes).and_then(|_| s.flush()),
            Stream::Closed => Err(std::io::Error::new(ErrorKind::NotConnected, "closed")),
        };
        let mut log = self.log.lock().unwrap();
        match r {
            Ok(()) => log.sent.extend_from_slice(bytes),
            Err(e) => log.notes.push(format!("write error: {e}")),
        }
    }

    /// Sends `s` (a convenience for text).
    pub fn send_str(&mut self, s: &str) {
        self.send(s.as_bytes())
    }

    pub fn sleep(&mut self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    /// Records `bytes` under `kind` in the log.
    pub fn record(&mut self, kind: &str, bytes: &[u8]) {
        self.log
            .lock()
            .unwrap()
            .records
            .push((kind.to_string(), bytes.to_vec()));
    }

    /// Adds a note to the log.
    pub fn note(&mut self, note: impl Into<String>) {
        self.log.lock().unwrap().notes.push(note.into());
    }

    /// Reads more bytes into the buffer: with `wait`, until some arrive or the client closes;
    /// without, only bytes that have already arrived.
    /// Returns Ok(n) with n > 0, Ok(0) on EOF, Err(()) when nothing is there yet.
    fn fill(&mut self, wait: bool) -> Result<usize, ()> {
        if self.eof {
            return Ok(0);
        }
        // Plaintext is read one byte at a time so that no byte after a STARTTLS
        // command is taken away from a following TLS handshake.
        let mut chunk = [0u8; 4096];
        let r = loop {
            let r = match &mut self.stream {
                Stream::Plain(s) => match wait {
                    true => {
                        s.set_read_timeout(None).ok();
                        s.read(&mut chunk[..1])
                    }
                    false => {
                        s.set_nonblocking(true).ok();
                        let r = s.read(&mut chunk[..1]);
                        s.set_nonblocking(false).ok();
                        r
                    }
                },
                Stream::Tls(s) => match wait {
                    true => {
                        s.get_ref().set_read_timeout(None).ok();
                        s.read(&mut chunk)
                    }
                    false => {
                        s.get_ref().set_nonblocking(true).ok();
                        let r = s.read(&mut chunk);
                        s.get_ref().set_nonblocking(false).ok();
                        r
                    }
                },
                Stream::Closed => Ok(0),
            };
            match r {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        match r {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => {
                let bytes = &chunk[..n];
                self.buf.extend_from_slice(bytes);
                let mut log = self.log.lock().unwrap();
                if self.is_tls() {
                    log.tls.extend_from_slice(bytes);
                } else {
                    log.plain.extend_from_slice(bytes);
                }
                Ok(n)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                Err(())
            }
            Err(e) => {
                self.log
                    .lock()
                    .unwrap()
                    .notes
                    .push(format!("read error: {e}"));
                self.eof = true;
                Ok(0)
            }
        }
    }

    /// Reads one line, including its LF (and CR if any), waiting for the client as long as
    /// it is there. Returns None on EOF (a final fragment without LF is returned as is first).
    pub fn read_line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                return Some(self.buf.drain(..=pos).collect());
            }
            match self.fill(true) {
                Ok(0) | Err(()) => {
                    if self.buf.is_empty() {
                        return None;
                    }
                    return Some(std::mem::take(&mut self.buf));
                }
                Ok(_) => {}
            }
        }
    }

    /// Reads one line and asserts it equals `expected` (which includes its CRLF).
    pub fn expect_line(&mut self, expected: &[u8]) {
        let got = self.read_line();
        assert_eq!(
            got.as_deref().map(show_bytes),
            Some(show_bytes(expected)),
            "server expected a line from the client"
        );
    }

    /// Reads exactly `n` bytes, waiting for the client as long as it is there; None on EOF.
    pub fn read_exact(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            match self.fill(true) {
                Ok(0) | Err(()) => return None,
                Ok(_) => {}
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// Bytes read but not yet consumed by a read_* call.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Reads, without waiting, every byte the client sent that has already arrived, and
    /// returns all bytes read but not yet consumed (they stay buffered for later reads).
    ///
    /// Nothing here waits for bytes still on their way: use it only to catch a client that sent
    /// too early (a correct client has not sent them, so the check cannot misfire), never to
    /// decide that a client did send something.
    pub fn arrived(&mut self) -> &[u8] {
        while let Ok(n) = self.fill(false) {
            if n == 0 {
                break;
            }
        }
        &self.buf
    }

    /// Reads everything until the client closes the connection and returns it (a client that
    /// never closes is killed at [`RUN_LIMIT`]).
    pub fn drain(&mut self) -> Vec<u8> {
        while let Ok(n) = self.fill(true) {
            if n == 0 {
                break;
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// Performs the server side of a TLS handshake on this socket with the
    /// server's certificate. Returns whether it succeeded; on failure the
    /// connection is closed and the error is in the log.
    pub fn start_tls(&mut self) -> bool {
        let config = self.tls_config.clone();
        self.start_tls_with(&config)
    }

    /// Like [`Conn::start_tls`], set up by `config`; the log gets the client certificate's
    /// subject, the client random, the version, cipher and ALPN protocol.
    pub fn start_tls_with(&mut self, config: &TlsConfig) -> bool {
        let tcp = match std::mem::replace(&mut self.stream, Stream::Closed) {
            Stream::Plain(tcp) => tcp,
            other => {
                self.stream = other;
                self.note("start_tls called while not in plaintext");
                return false;
            }
        };
        if !self.buf.is_empty() {
            let early = std::mem::take(&mut self.buf);
            self.record("before-handshake", &early);
            self.note("client bytes were buffered before the handshake");
        }
        tcp.set_read_timeout(None).ok();
        let acc = acceptor_with(&self.cert, self.sni.clone(), config);
        match acc.accept(tcp) {
            Ok(s) => {
                let ssl = s.ssl();
                let mut random = vec![0u8; 32];
                let n = ssl.client_random(&mut random);
                random.truncate(n);
                let subject = ssl.peer_certificate().map(|c| {
                    c.subject_name()
                        .entries()
                        .map(|e| {
                            format!(
                                "{}={}",
                                e.object().nid().short_name().unwrap_or("?"),
                                e.data().to_string().unwrap()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                let version = ssl.version_str().to_string();
                let cipher = ssl.current_cipher().map(|c| c.name().to_string());
                let alpn = ssl
                    .selected_alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned());
                self.stream = Stream::Tls(Box::new(s));
                let sni = self.sni.lock().unwrap().clone();
                let mut log = self.log.lock().unwrap();
                log.tls_established = true;
                log.sni = sni;
                log.client_subject = subject;
                log.client_random = Some(random);
                log.tls_version = Some(version);
                log.tls_cipher = cipher;
                log.alpn = alpn;
                true
            }
            Err(e) => {
                let sni = self.sni.lock().unwrap().clone();
                let mut log = self.log.lock().unwrap();
                log.tls_error = Some(e.to_string());
                log.sni = sni;
                self.eof = true;
                false
            }
        }
    }

    /// Writes `bytes` without keeping them in the log (for large streams); returns false when
    /// the write failed (the client went away; one that stops reading but stays blocks the
    /// write until it exits or is killed at [`RUN_LIMIT`]).
    pub fn send_quiet(&mut self, bytes: &[u8]) -> bool {
        let limit = None;
        let r = match &mut self.stream {
            Stream::Plain(s) => {
                s.set_write_timeout(limit).ok();
                s.write_all(bytes).and_then(|_| s.flush())
            }
            Stream::Tls(s) => {
                s.get_ref().set_write_timeout(limit).ok();
                s.write_all(bytes).and_then(|_| s.flush())
            }
            Stream::Closed => Err(std::io::Error::new(ErrorKind::NotConnected, "closed")),
        };
        r.is_ok()
    }

    /// Writes `chunk` again and again, without keeping it in the log, until `max_bytes` were
    /// written or a write failed (the client went away). Returns the bytes written and notes
    /// `streamed N bytes` (and `stream stopped by the client` when a write failed). With
    /// [`ENDLESS`] only the client ends it: by closing, or by being killed at [`RUN_LIMIT`].
    pub fn stream(&mut self, chunk: &[u8], max_bytes: u64) -> u64 {
        let mut written: u64 = 0;
        let mut stopped = false;
        while written < max_bytes {
            let left = usize::try_from(max_bytes - written).unwrap_or(usize::MAX);
            let piece = &chunk[..chunk.len().min(left)];
            if !self.send_quiet(piece) {
                stopped = true;
                break;
            }
            written += piece.len() as u64;
        }
        self.note(format!("streamed {written} bytes"));
        if stopped {
            self.note("stream stopped by the client");
        }
        written
    }

    /// Sends `bytes` one byte at a time with `gap` between bytes, without keeping them in the
    /// log; stops early when a write fails. Returns how many bytes were written.
    /// Sends `head` a byte at a time, then `filler` a byte at a time for as long as the client
    /// is there, `gap` between bytes: a response that never completes, which only the
    /// client's deadline (or, for a client without one, the kill at [`RUN_LIMIT`]) ends.
    pub fn drip_forever(&mut self, head: &[u8], filler: u8, gap: Duration) {
        if self.drip(head, gap) < head.len() {
            return;
        }
        loop {
            std::thread::sleep(gap);
            if !self.send_quiet(&[filler]) {
                return;
            }
        }
    }

    pub fn drip(&mut self, bytes: &[u8], gap: Duration) -> usize {
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(gap);
            }
            if !self.send_quiet(std::slice::from_ref(b)) {
                return i;
            }
        }
        bytes.len()
    }

    /// Closes the connection (a TLS close_notify first when inside TLS).
    pub fn close(&mut self) {
        match std::mem::replace(&mut self.stream, Stream::Closed) {
            Stream::Plain(s) => {
                s.shutdown(Shutdown::Both).ok();
            }
            Stream::Tls(mut s) => {
                s.shutdown().ok();
                s.get_ref().shutdown(Shutdown::Both).ok();
            }
            Stream::Closed => {}
        }
        self.eof = true;
    }
}

// ---------------------------------------------------------------------------
// Servers.

/// How a server starts each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Plain TCP (the handler may call [`Conn::start_tls`] later).
    Plain,
    /// A TLS handshake right after accept; the handler runs only if it succeeds.
    ImplicitTls,
}

/// A listening server on 127.0.0.1 running a handler on its connection(s).
pub struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    logs: Arc<Mutex<Vec<Arc<Mutex<Log>>>>>,
    panic: Arc<Mutex<Option<String>>>,
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_string()
    }
}

impl Server {
    /// Starts a server for one connection.
    pub fn start(
        mode: Mode,
        cert: &ServerCert,
        handler: impl FnOnce(&mut Conn) + Send + 'static,
    ) -> Server {
        let mut handler = Some(handler);
        Server::start_multi(mode, cert, 1, move |conn, _| {
            if let Some(h) = handler.take() {
                h(conn)
            }
        })
    }

    /// Starts a server that accepts up to `count` connections one after the
    /// other, calling `handler` with the connection index.
    pub fn start_multi(
        mode: Mode,
        cert: &ServerCert,
        count: usize,
        mut handler: impl FnMut(&mut Conn, usize) + Send + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let logs: Arc<Mutex<Vec<Arc<Mutex<Log>>>>> = Arc::new(Mutex::new(Vec::new()));
        let panic = Arc::new(Mutex::new(None));
        let cert = cert.clone();
        let (stop2, logs2, panic2) = (stop.clone(), logs.clone(), panic.clone());
        let handle = std::thread::spawn(move || {
            let mut index = 0;
            while index < count {
                // Read before the accept: stopped (joined or dropped) and then nothing waiting
                // means done. Joining comes after the client ended, and every connection it
                // made is in the listen queue by then.
                let stopping = stop2.load(Ordering::SeqCst);
                match listener.accept() {
                    Ok((tcp, _)) => {
                        tcp.set_nonblocking(false).unwrap();
                        let log = Arc::new(Mutex::new(Log {
                            connected: true,
                            ..Log::default()
                        }));
                        logs2.lock().unwrap().push(log.clone());
                        let sni = Arc::new(Mutex::new(None));
                        let mut conn = Conn::new(tcp, cert.clone(), sni, log);
                        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            if mode == Mode::ImplicitTls && !conn.start_tls() {
                                return;
                            }
                            handler(&mut conn, index);
                        }));
                        if let Err(p) = run {
                            *panic2.lock().unwrap() = Some(panic_message(&*p));
                            return;
                        }
                        drop(conn);
                        index += 1;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if stopping {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => return,
                }
            }
        });
        Server {
            port,
            stop,
            handle: Some(handle),
            logs,
            panic,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `SCHEME://127.0.0.1:PORT`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn wait(&mut self) -> Result<Vec<Log>, String> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().ok();
        }
        let logs: Vec<Log> = self
            .logs
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.lock().unwrap().clone())
            .collect();
        match self.panic.lock().unwrap().take() {
            Some(msg) => Err(format!("server handler panicked: {msg}\n{logs:#?}")),
            None => Ok(logs),
        }
    }

    /// Waits for the server to finish and returns the log of its (first)
    /// connection (`connected == false` when no client came). Panics if the
    /// handler panicked.
    pub fn join(mut self) -> Log {
        match self.wait() {
            Ok(logs) => logs.into_iter().next().unwrap_or_default(),
            Err(msg) => panic!("{msg}"),
        }
    }

    /// Like [`Server::join`], with the client's output in the panic message.
    pub fn join_for(mut self, out: &Output) -> Log {
        match self.wait() {
            Ok(logs) => logs.into_iter().next().unwrap_or_default(),
            Err(msg) => panic!("{msg}\n{out:?}"),
        }
    }

    /// The logs of every connection.
    pub fn join_all(mut self) -> Vec<Log> {
        match self.wait() {
            Ok(logs) => logs,
            Err(msg) => panic!("{msg}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Running the binary.

/// What a run of the binary produced.
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The exit code; None when killed (by a signal or the 30 s limit).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub args: Vec<String>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "mailtalk {}", self.args.join(" "))?;
        writeln!(
            f,
            "exit code: {:?}{} after {:?}",
            self.code,
            if self.timed_out {
                " (killed after 30 s)"
            } else {
                ""
            },
            self.elapsed
        )?;
        writeln!(
            f,
            "--- stdout ---\n{}",
            String::from_utf8_lossy(&self.stdout)
        )?;
        write!(
            f,
            "--- stderr ---\n{}",
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

impl Output {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Lines of stdout (lossy), without line endings.
    pub fn lines(&self) -> Vec<String> {
        self.stdout_str().lines().map(|l| l.to_string()).collect()
    }

    /// The text after `prefix` of each stdout line that starts with it, in order.
    /// A line equal to `prefix` with trailing spaces removed counts as an empty one.
    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        let bare = prefix.trim_end();
        self.lines()
            .into_iter()
            .filter_map(|l| {
                if let Some(rest) = l.strip_prefix(prefix) {
                    Some(rest.to_string())
                } else if l == bare {
                    Some(String::new())
                } else {
                    None
                }
            })
            .collect()
    }

    /// Whether stdout has a line exactly equal to `line`.
    pub fn has_line(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }

    /// Index of the first stdout line exactly equal to `line`.
    pub fn line_index(&self, line: &str) -> Option<usize> {
        self.lines().iter().position(|l| l == line)
    }

    /// Index of the first stdout line starting with `prefix`.
    pub fn index_starting(&self, prefix: &str) -> Option<usize> {
        self.lines().iter().position(|l| l.starts_with(prefix))
    }

    /// Asserts the exit code, showing the whole run on failure.
    #[track_caller]
    pub fn assert_code(&self, code: i32) {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self:?}");
    }

    /// Asserts that the client gave up by its own `--timeout` while waiting for `step`
    /// (`greeting`, `reply`, `TLS handshake`, `send`): exit 5 and one fatal `timed out …`
    /// error, not a kill at [`RUN_LIMIT`].
    #[track_caller]
    pub fn assert_timed_out(&self, step: &str) {
        assert!(
            !self.timed_out,
            "the client did not time out by itself: killed after {RUN_LIMIT:?}\n{self:?}"
        );
        self.assert_code(EXIT_TIMEOUT);
        self.assert_fatal();
        let line = match step {
            "reply" => "timed out waiting for a reply",
            "greeting" => "timed out waiting for the greeting",
            "TLS handshake" => "timed out during the TLS handshake",
            "send" => "timed out sending",
            other => panic!("unknown step {other:?}"),
        };
        self.assert_line(&format!("!! error: {line}"));
    }

    /// Asserts stdout has the exact line.
    #[track_caller]
    pub fn assert_line(&self, line: &str) {
        assert!(
            self.has_line(line),
            "stdout lacks the line {line:?}\n{self:?}"
        );
    }

    /// Asserts stdout contains `needle` somewhere.
    #[track_caller]
    pub fn assert_contains(&self, needle: &str) {
        assert!(
            self.stdout_str().contains(needle),
            "stdout lacks {needle:?}\n{self:?}"
        );
    }

    /// Asserts neither stdout nor stderr contains `needle`.
    #[track_caller]
    pub fn assert_nowhere(&self, needle: &str) {
        assert!(
            !self.stdout_str().contains(needle) && !self.stderr_str().contains(needle),
            "output contains {needle:?}\n{self:?}"
        );
    }

    /// Asserts a fatal error was reported once: one `!! error: ` line on stdout, and not again
    /// on stderr (stderr is not a terminal here; see `batch::Terminal`).
    #[track_caller]
    pub fn assert_fatal(&self) {
        let errors: Vec<String> = self
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("!! error: "))
            .collect();
        assert_eq!(errors.len(), 1, "not one `!! error: ` line\n{self:?}");
        let message = errors[0].trim_start_matches("!! error: ");
        assert!(
            !self.stderr_str().contains(message),
            "the error is said twice (stdout and stderr)\n{self:?}"
        );
    }

    /// Asserts that lines appear in stdout in this order (each an exact line).
    #[track_caller]
    pub fn assert_in_order(&self, lines: &[&str]) {
        let all = self.lines();
        let mut from = 0;
        for want in lines {
            match all.iter().skip(from).position(|l| l == want) {
                Some(i) => from += i + 1,
                None => panic!("stdout lacks {want:?} (in order after line {from})\n{self:?}"),
            }
        }
    }
}

/// Asserts that the IMAP commands `cmds` (each starting with its tag) never share a tag.
#[track_caller]
pub fn assert_unique_tags(cmds: &[String]) {
    let mut tags: Vec<&str> = cmds
        .iter()
        .map(|c| c.split(' ').next().unwrap_or(""))
        .collect();
    tags.sort();
    let n = tags.len();
    tags.dedup();
    assert_eq!(tags.len(), n, "a tag was used twice: {cmds:?}");
}

/// Runs the binary with `args`, `stdin` piped in (so it is not a terminal),
/// NO_COLOR removed, HOME and XDG dirs in a fresh temporary directory, and a
/// hard 30 s limit. With MAILTALK_TEST_SHOW set in the environment, every run
/// is printed to stderr (see it with `--nocapture`).
pub fn mailtalk(args: &[&str], stdin: &[u8]) -> Output {
    let home = tempfile::tempdir().unwrap();
    mailtalk_in(home.path(), args, stdin)
}

/// Like [`mailtalk`], with HOME and XDG dirs under `home`.
pub fn mailtalk_in(home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    mailtalk_env(home, args, stdin, &[])
}

/// Like [`mailtalk_in`], with extra environment variables.
pub fn mailtalk_env(home: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailtalk"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("SSLKEYLOGFILE")
        // A password exported in the developer's shell must not change what tests see.
        .env_remove("MAILTALK_PASSWORD")
        .env_remove("MAILTALK_PROXY_PASSWORD")
        .env_remove("MAILTALK_CHECK_PASSWORD")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn mailtalk");
    let mut sin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The binary may exit before reading everything: ignore EPIPE.
        sin.write_all(&input).ok();
        drop(sin);
    });
    let mut sout = child.stdout.take().unwrap();
    let mut serr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        sout.read_to_end(&mut v).ok();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        serr.read_to_end(&mut v).ok();
        v
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > RUN_LIMIT {
            timed_out = true;
            child.kill().ok();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    writer.join().ok();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let out = Output {
        stdout,
        stderr,
        code: status.code(),
        timed_out,
        elapsed,
        args: args.iter().map(|s| s.to_string()).collect(),
    };
    if std::env::var_os("MAILTALK_TEST_SHOW").is_some() {
        eprintln!("{out:?}");
    }
    out
}

/// Standard input from lines: each line followed by LF.
pub fn input(lines: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l.as_bytes());
        v.push(b'\n');
    }
    v
}

/// Splits wire bytes into lines, each keeping its CRLF.
pub fn wire_lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// Asserts that `bytes` has no raw control byte other than LF and TAB (and no DEL,
/// and no C1 control encoded in UTF-8).
#[track_caller]
pub fn assert_no_raw_controls(what: &str, bytes: &[u8], out: &Output) {
    for (i, &b) in bytes.iter().enumerate() {
        let bad = (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f;
        assert!(
            !bad,
            "{what} has raw byte 0x{b:02x} at offset {i}\n{}\n{out:?}",
            show_bytes(bytes)
        );
    }
    for w in bytes.windows(2) {
        assert!(
            !(w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1])),
            "{what} has a raw C1 control (UTF-8 c2 {:02x})\n{out:?}",
            w[1]
        );
    }
}

// ---------------------------------------------------------------------------
// Ready-made protocol servers.

/// Removes a trailing CRLF or LF.
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn words(line: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(trim_eol(line))
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_string())
        .collect()
}

/// The EHLO/LHLO reply of [`smtp_like`].
pub fn smtp_ehlo_reply(starttls_offered: bool) -> Vec<u8> {
    let mut r = b"250-localhost greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n".to_vec();
    if starttls_offered {
        r.extend_from_slice(b"250-STARTTLS\r\n");
    }
    r.extend_from_slice(b"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
    r
}

pub const SMTP_GREETING: &[u8] = b"220 localhost ESMTP mailtalk-test\r\n";
pub const LMTP_GREETING: &[u8] = b"220 localhost LMTP mailtalk-test\r\n";

/// An SMTP (or LMTP) server good enough for real sessions.
///
/// Records: "command" (each command line with its CRLF), "data" (the raw wire
/// bytes after 354 up to and including the terminating ".\r\n"), "message"
/// (the same without the terminator, still dot-stuffed).
/// Notes: "tls up", "quit".
pub fn smtp_like(conn: &mut Conn, lmtp: bool, starttls: bool) {
    conn.send(if lmtp { LMTP_GREETING } else { SMTP_GREETING });
    smtp_loop(conn, lmtp, starttls);
}

/// The command loop of [`smtp_like`], for handlers that sent their own greeting.
pub fn smtp_loop(conn: &mut Conn, lmtp: bool, starttls: bool) {
    let mut rcpts: Vec<String> = Vec::new();
    let mut mail = false;
    while let Some(line) = conn.read_line() {
        conn.record("command", &line);
        let w = words(&line);
        let verb = w
            .first()
            .map(|s| s.to_ascii_uppercase())
            .unwrap_or_default();
        match verb.as_str() {
            "EHLO" if !lmtp => conn.send(&smtp_ehlo_reply(starttls && !conn.is_tls())),
            "LHLO" if lmtp => conn.send(&smtp_ehlo_reply(starttls && !conn.is_tls())),
            "EHLO" | "HELO" if lmtp => conn.send(b"500 5.5.1 Use LHLO\r\n"),
            "LHLO" => conn.send(b"500 5.5.1 Use EHLO\r\n"),
            "HELO" => conn.send(b"250 localhost\r\n"),
            "STARTTLS" if starttls && !conn.is_tls() => {
                conn.send(b"220 2.0.0 Ready to start TLS\r\n");
                if !conn.start_tls() {
                    return;
                }
                conn.note("tls up");
                rcpts.clear();
                mail = false;
            }
            "STARTTLS" => conn.send(b"502 5.5.1 STARTTLS not available\r\n"),
            "MAIL" => {
                mail = true;
                rcpts.clear();
                conn.send(b"250 2.1.0 Ok\r\n");
            }
            "RCPT" if mail => {
                let addr = String::from_utf8_lossy(trim_eol(&line))
                    .split_once(':')
                    .map(|(_, a)| a.trim().to_string())
                    .unwrap_or_default();
                rcpts.push(addr);
                conn.send(b"250 2.1.5 Ok\r\n");
            }
            "RCPT" => conn.send(b"503 5.5.1 Error: need MAIL command\r\n"),
            "DATA" if !rcpts.is_empty() => {
                conn.send(b"354 End data with <CR><LF>.<CR><LF>\r\n");
                let mut data = Vec::new();
                let mut done = false;
                while let Some(l) = conn.read_line() {
                    data.extend_from_slice(&l);
                    if l == b".\r\n" {
                        done = true;
                        break;
                    }
                }
                conn.record("data", &data);
                if !done {
                    return;
                }
                let message = data[..data.len() - 3].to_vec();
                conn.record("message", &message);
                if lmtp {
                    for r in &rcpts {
                        conn.send(format!("250 2.0.0 {r} Saved\r\n").as_bytes());
                    }
                } else {
                    conn.send(b"250 2.0.0 Ok: queued as TEST1\r\n");
                }
                rcpts.clear();
                mail = false;
            }
            "DATA" => conn.send(b"503 5.5.1 Error: need RCPT command\r\n"),
            "RSET" => {
                rcpts.clear();
                mail = false;
                conn.send(b"250 2.0.0 Ok\r\n");
            }
            "NOOP" => conn.send(b"250 2.0.0 Ok\r\n"),
            "AUTH" => conn.send(b"235 2.7.0 Authentication successful\r\n"),
            "VRFY" => conn.send(b"252 2.0.0 Cannot VRFY user\r\n"),
            "QUIT" => {
                conn.send(b"221 2.0.0 Bye\r\n");
                conn.note("quit");
                conn.close();
                return;
            }
            _ => conn.send(b"502 5.5.2 Error: command not recognized\r\n"),
        }
    }
}

/// The capability list of [`imap_like`].
pub fn imap_caps(starttls_offered: bool) -> String {
    if starttls_offered {
        "IMAP4rev1 STARTTLS AUTH=PLAIN".to_string()
    } else {
        "IMAP4rev1 AUTH=PLAIN".to_string()
    }
}

/// The message [`imap_like`] returns for FETCH.
pub const IMAP_MESSAGE: &[u8] = b"Subject: hello\r\n\r\nHello from IMAP\r\n";

/// The greeting [`imap_like`] sends.
pub fn imap_greeting(starttls: bool) -> Vec<u8> {
    format!(
        "* OK [CAPABILITY {}] mailtalk-test ready\r\n",
        imap_caps(starttls)
    )
    .into_bytes()
}

/// Reads one IMAP command, honouring synchronising literals: after a line
/// ending in `{n}` it records "early-literal" with any bytes that have already
/// arrived after it (see [`Conn::arrived`]), sends `+ Ready`, and reads the
/// literal ("literal") and the rest of the command. Returns the whole command.
///
/// A test that the client waits for `+` withholds it instead (and lets the
/// client time out): "early-literal" only catches a client that sent its
/// literal together with the line.
pub fn imap_read_command(conn: &mut Conn) -> Option<Vec<u8>> {
    let mut cmd = conn.read_line()?;
    loop {
        let line = trim_eol(&cmd).to_vec();
        let Some(n) = literal_size(&line) else {
            return Some(cmd);
        };
        let early = conn.arrived().to_vec();
        if !early.is_empty() {
            conn.record("early-literal", &early);
        }
        conn.send(b"+ Ready for literal data\r\n");
        let lit = conn.read_exact(n)?;
        conn.record("literal", &lit);
        cmd.extend_from_slice(&lit);
        let rest = conn.read_line()?;
        cmd.extend_from_slice(&rest);
    }
}

/// `n` when the line ends with a synchronising literal `{n}`.
pub fn literal_size(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// An IMAP server good enough for real sessions.
///
/// Records: "command" (each whole command with literals), "literal" (each
/// literal's bytes), "early-literal" (bytes that arrived before `+`).
/// Notes: "tls up", "logout".
pub fn imap_like(conn: &mut Conn, starttls: bool) {
    conn.send(&imap_greeting(starttls));
    imap_loop(conn, starttls);
}

/// The command loop of [`imap_like`], for handlers that sent their own greeting.
pub fn imap_loop(conn: &mut Conn, starttls: bool) {
    while let Some(cmd) = imap_read_command(conn) {
        conn.record("command", &cmd);
        let first = cmd.split(|&b| b == b'\n').next().unwrap_or(&[]).to_vec();
        let w = words(&first);
        let tag = w.first().cloned().unwrap_or_else(|| "*".to_string());
        let mut verb = w.get(1).map(|s| s.to_ascii_uppercase()).unwrap_or_default();
        if verb == "UID" {
            verb = w.get(2).map(|s| s.to_ascii_uppercase()).unwrap_or_default();
        }
        let reply = |s: &str| format!("{tag} {s}\r\n");
        match verb.as_str() {
            "CAPABILITY" => {
                let caps = imap_caps(starttls && !conn.is_tls());
                conn.send(format!("* CAPABILITY {caps}\r\n").as_bytes());
                conn.send(reply("OK CAPABILITY completed").as_bytes());
            }
            "LOGIN" | "AUTHENTICATE" => conn.send(reply("OK LOGIN completed").as_bytes()),
            "SELECT" | "EXAMINE" => {
                conn.send(
                    b"* 1 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Deleted)\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n",
                );
                conn.send(reply("OK [READ-WRITE] SELECT completed").as_bytes());
            }
            "FETCH" => {
                let mut r =
                    format!("* 1 FETCH (BODY[] {{{}}}\r\n", IMAP_MESSAGE.len()).into_bytes();
                r.extend_from_slice(IMAP_MESSAGE);
                r.extend_from_slice(b")\r\n");
                r.extend_from_slice(reply("OK FETCH completed").as_bytes());
                conn.send(&r);
            }
            "APPEND" => conn.send(reply("OK [APPENDUID 1 2] APPEND completed").as_bytes()),
            "NOOP" | "CHECK" | "CLOSE" | "EXPUNGE" => {
                conn.send(reply(&format!("OK {verb} completed")).as_bytes())
            }
            "LIST" => {
                conn.send(b"* LIST (\\HasNoChildren) \"/\" INBOX\r\n");
                conn.send(reply("OK LIST completed").as_bytes());
            }
            "STARTTLS" if starttls && !conn.is_tls() => {
                conn.send(reply("OK Begin TLS negotiation now").as_bytes());
                if !conn.start_tls() {
                    return;
                }
                conn.note("tls up");
            }
            "STARTTLS" => conn.send(reply("BAD STARTTLS not available").as_bytes()),
            "LOGOUT" => {
                conn.send(b"* BYE mailtalk-test logging out\r\n");
                conn.send(reply("OK LOGOUT completed").as_bytes());
                conn.note("logout");
                conn.close();
                return;
            }
            _ => conn.send(reply("BAD unknown command").as_bytes()),
        }
    }
}

/// The lines of the message [`pop3_like`] returns for RETR 1 (before dot-stuffing).
pub const POP3_MESSAGE_LINES: &[&str] = &[
    "Subject: dots",
    "",
    ".leading dot",
    "..two dots",
    ".",
    "end",
];

/// Dot-stuffs `lines` and adds the terminating ".\r\n".
pub fn dot_stuffed(lines: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        if l.starts_with('.') {
            v.push(b'.');
        }
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b".\r\n");
    v
}

pub const POP3_GREETING: &[u8] = b"+OK POP3 mailtalk-test ready <1896.697170952@localhost>\r\n";

/// The CAPA reply of [`pop3_like`].
pub fn pop3_capa(stls_offered: bool) -> Vec<u8> {
    let mut r = b"+OK Capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\n".to_vec();
    if stls_offered {
        r.extend_from_slice(b"STLS\r\n");
    }
    r.extend_from_slice(b"IMPLEMENTATION mailtalk-test\r\n.\r\n");
    r
}

/// A POP3 server good enough for real sessions.
///
/// Records: "command" (each command line with its CRLF). Notes: "tls up", "quit".
pub fn pop3_like(conn: &mut Conn, stls: bool) {
    conn.send(POP3_GREETING);
    pop3_loop(conn, stls);
}

/// The command loop of [`pop3_like`], for handlers that sent their own greeting.
pub fn pop3_loop(conn: &mut Conn, stls: bool) {
    let body = dot_stuffed(POP3_MESSAGE_LINES);
    while let Some(line) = conn.read_line() {
        conn.record("command", &line);
        let w = words(&line);
        let verb = w
            .first()
            .map(|s| s.to_ascii_uppercase())
            .unwrap_or_default();
        match verb.as_str() {
            "CAPA" => conn.send(&pop3_capa(stls && !conn.is_tls())),
            "USER" => conn.send(b"+OK send PASS\r\n"),
            "PASS" | "APOP" => conn.send(b"+OK maildrop locked and ready\r\n"),
            "STAT" => conn.send(b"+OK 2 320\r\n"),
            "LIST" if w.len() > 1 => conn.send(b"+OK 1 120\r\n"),
            "LIST" => conn.send(b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"),
            "UIDL" if w.len() > 1 => conn.send(b"+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n"),
            "UIDL" => {
                conn.send(b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n")
            }
            "RETR" | "TOP" => {
                let mut r = b"+OK message follows\r\n".to_vec();
                r.extend_from_slice(&body);
                conn.send(&r);
            }
            "DELE" | "NOOP" | "RSET" => conn.send(b"+OK\r\n"),
            "STLS" if stls && !conn.is_tls() => {
                conn.send(b"+OK Begin TLS negotiation\r\n");
                if !conn.start_tls() {
                    return;
                }
                conn.note("tls up");
            }
            "STLS" => conn.send(b"-ERR STLS not available\r\n"),
            "QUIT" => {
                conn.send(b"+OK mailtalk-test signing off\r\n");
                conn.note("quit");
                conn.close();
                return;
            }
            _ => conn.send(b"-ERR unknown command\r\n"),
        }
    }
}

/// A handler that sends nothing and waits until the client goes away.
pub fn silent(conn: &mut Conn) {
    conn.drain();
}

// ---------------------------------------------------------------------------
// Servers that check credentials and can refuse (one-shot send, scripts, secrets).

/// Standard base64 of `bytes`.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64 (surrounding whitespace ignored); None when invalid.
pub fn unb64(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let s = String::from_utf8_lossy(text);
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-MD5 of `data` with `key`, in lower-case hex (RFC 2195 CRAM-MD5).
pub fn hmac_md5_hex(key: &[u8], data: &[u8]) -> String {
    let pkey = openssl::pkey::PKey::hmac(key).unwrap();
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::md5(), &pkey).unwrap();
    signer.update(data).unwrap();
    hex(&signer.sign_to_vec().unwrap())
}

/// MD5 of `data` in lower-case hex (RFC 1939 APOP).
pub fn md5_hex(data: &[u8]) -> String {
    hex(&openssl::hash::hash(openssl::hash::MessageDigest::md5(), data).unwrap())
}

/// What [`smtp_full`] advertises, accepts and refuses.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// LMTP (LHLO, one reply per recipient after the data).
    pub lmtp: bool,
    /// EHLO/LHLO keywords after the first line, in order.
    pub keywords: Vec<String>,
    /// The credentials AUTH accepts.
    pub user: String,
    pub password: String,
    /// The CRAM-MD5 challenge (sent base64-encoded).
    pub cram_challenge: String,
    /// Sent as the first challenge of any AUTH instead of the real one (raw text after `334 `).
    pub bad_challenge: Option<String>,
    /// The reply to MAIL (default `250 2.1.0 Ok`).
    pub mail_reply: Option<String>,
    /// Recipients (without `<>`) refused with `550 5.1.1`.
    pub refuse_rcpt: Vec<String>,
    /// The reply to DATA (default `354 …`); when not 354 no data is read.
    pub data_reply: Option<String>,
    /// The reply after the final dot or the last BDAT chunk (SMTP; default `250 2.0.0 Ok: queued as TEST1`).
    pub end_reply: Option<String>,
    /// LMTP: recipients refused after the data (`552 5.2.2`).
    pub lmtp_refuse_at_end: Vec<String>,
    /// What MAIL checks about pipelining (nothing when None).
    ///
    /// `Some(true)`: the client must pipeline. MAIL is not answered until the rest of the
    /// transaction (every line up to DATA) has been read; those lines are recorded under
    /// "pipelined". A client that waits for the MAIL reply gets none and runs into its
    /// `--timeout`.
    ///
    /// `Some(false)`: the client must not pipeline. Bytes that have already arrived after MAIL
    /// when it is read (see [`Conn::arrived`]) are recorded under "pipelined"; a client that
    /// waits for the reply has not sent them.
    pub expect_pipelining: Option<bool>,
}

impl SmtpConfig {
    /// The keywords of [`smtp_like`] (PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES) plus
    /// `extra`, with the credentials `user` / `secret`.
    pub fn new(extra: &[&str]) -> SmtpConfig {
        let mut keywords: Vec<String> = ["PIPELINING", "SIZE 10240000", "8BITMIME"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        keywords.extend(extra.iter().map(|s| s.to_string()));
        keywords.push("ENHANCEDSTATUSCODES".to_string());
        SmtpConfig {
            lmtp: false,
            keywords,
            user: "user".to_string(),
            password: "secret".to_string(),
            cram_challenge: "<1896.697170952@localhost>".to_string(),
            bad_challenge: None,
            mail_reply: None,
            refuse_rcpt: Vec::new(),
            data_reply: None,
            end_reply: None,
            lmtp_refuse_at_end: Vec::new(),
            expect_pipelining: None,
        }
    }

    /// Exactly these keywords (nothing else advertised).
    pub fn only(keywords: &[&str]) -> SmtpConfig {
        let mut c = SmtpConfig::new(&[]);
        c.keywords = keywords.iter().map(|s| s.to_string()).collect();
        c
    }

    pub fn credentials(mut self, user: &str, password: &str) -> SmtpConfig {
        self.user = user.to_string();
        self.password = password.to_string();
        self
    }
}

/// The address inside `<…>` of a MAIL or RCPT line.
pub fn angle_address(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    match (s.find('<'), s.find('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].to_string(),
        _ => String::new(),
    }
}

/// Runs one SMTP AUTH exchange; returns whether the credentials were right.
/// Records every client response line under "auth" and notes "auth ok" / "auth failed" /
/// "auth cancelled".
fn smtp_auth(conn: &mut Conn, cfg: &SmtpConfig, words: &[String]) -> Option<bool> {
    let mech = words
        .get(1)
        .map(|s| s.to_ascii_uppercase())
        .unwrap_or_default();
    let ir = words.get(2).cloned();
    let respond = |conn: &mut Conn, challenge: &str| -> Option<Vec<u8>> {
        conn.send(format!("334 {challenge}\r\n").as_bytes());
        let line = conn.read_line()?;
        conn.record("auth", &line);
        Some(trim_eol(&line).to_vec())
    };
    if let Some(bad) = &cfg.bad_challenge {
        let line = respond(conn, bad)?;
        conn.record("after-bad-challenge", &line);
        if line == b"*" {
            conn.note("auth cancelled");
            conn.send(b"501 5.7.0 Authentication cancelled\r\n");
        } else {
            conn.note("auth failed");
            conn.send(b"535 5.7.8 Authentication credentials invalid\r\n");
        }
        return Some(false);
    }
    let ok = match mech.as_str() {
        "PLAIN" => {
            let resp = match &ir {
                Some(i) if i != "=" => i.as_bytes().to_vec(),
                _ => respond(conn, "")?,
            };
            if resp == b"*" {
                None
            } else {
                let want = format!("\0{}\0{}", cfg.user, cfg.password);
                Some(unb64(&resp).as_deref() == Some(want.as_bytes()))
            }
        }
        "LOGIN" => {
            let user = match &ir {
                Some(i) => i.as_bytes().to_vec(),
                None => respond(conn, "VXNlcm5hbWU6")?,
            };
            if user == b"*" {
                None
            } else {
                let pass = respond(conn, "UGFzc3dvcmQ6")?;
                if pass == b"*" {
                    None
                } else {
                    Some(
                        unb64(&user).as_deref() == Some(cfg.user.as_bytes())
                            && unb64(&pass).as_deref() == Some(cfg.password.as_bytes()),
                    )
                }
            }
        }
        "CRAM-MD5" => {
            let resp = respond(conn, &b64(cfg.cram_challenge.as_bytes()))?;
            if resp == b"*" {
                None
            } else {
                let want = format!(
                    "{} {}",
                    cfg.user,
                    hmac_md5_hex(cfg.password.as_bytes(), cfg.cram_challenge.as_bytes())
                );
                Some(unb64(&resp).as_deref() == Some(want.as_bytes()))
            }
        }
        _ => {
            conn.send(b"504 5.5.4 Unrecognized authentication type\r\n");
            return Some(false);
        }
    };
    match ok {
        None => {
            conn.note("auth cancelled");
            conn.send(b"501 5.7.0 Authentication cancelled\r\n");
            Some(false)
        }
        Some(true) => {
            conn.note("auth ok");
            conn.send(b"235 2.7.0 Authentication successful\r\n");
            Some(true)
        }
        Some(false) => {
            conn.note("auth failed");
            conn.send(b"535 5.7.8 Authentication credentials invalid\r\n");
            Some(false)
        }
    }
}

/// An SMTP/LMTP server driven by `cfg`: sends the greeting, then runs [`smtp_full_loop`].
pub fn smtp_full(conn: &mut Conn, cfg: &SmtpConfig) {
    conn.send(if cfg.lmtp {
        LMTP_GREETING
    } else {
        SMTP_GREETING
    });
    smtp_full_loop(conn, cfg);
}

/// The command loop of [`smtp_full`]. Handles EHLO/LHLO, AUTH (PLAIN, LOGIN, CRAM-MD5,
/// checked against the configured credentials), MAIL, RCPT, DATA, BDAT, RSET, NOOP, QUIT.
///
/// Records: "command" (each command line with its CRLF), "auth" (each AUTH response line),
/// "data" (raw bytes after 354 up to and including ".\r\n"), "message" (the same without the
/// final ".\r\n"), "bdat" (each BDAT chunk), "pipelined" (see [`SmtpConfig::expect_pipelining`]).
/// Notes: "auth ok", "auth failed", "auth cancelled", "quit".
pub fn smtp_full_loop(conn: &mut Conn, cfg: &SmtpConfig) {
    let mut queue: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
    let mut rcpts: Vec<String> = Vec::new();
    let mut mail = false;
    let mut bdat: Vec<u8> = Vec::new();
    loop {
        let line = match queue.pop_front() {
            Some(l) => l,
            None => match conn.read_line() {
                Some(l) => l,
                None => return,
            },
        };
        conn.record("command", &line);
        let w = words(&line);
        let verb = w
            .first()
            .map(|s| s.to_ascii_uppercase())
            .unwrap_or_default();
        let hello = if cfg.lmtp { "LHLO" } else { "EHLO" };
        match verb.as_str() {
            v if v == hello => {
                let mut r = b"250-localhost greets you\r\n".to_vec();
                for (i, k) in cfg.keywords.iter().enumerate() {
                    let sep = if i + 1 == cfg.keywords.len() {
                        ' '
                    } else {
                        '-'
                    };
                    r.extend_from_slice(format!("250{sep}{k}\r\n").as_bytes());
                }
                if cfg.keywords.is_empty() {
                    r = b"250 localhost greets you\r\n".to_vec();
                }
                conn.send(&r);
            }
            "EHLO" | "LHLO" | "HELO" => conn.send(b"500 5.5.1 Wrong greeting command\r\n"),
            "AUTH" => {
                if smtp_auth(conn, cfg, &w).is_none() {
                    return;
                }
            }
            "MAIL" => {
                match cfg.expect_pipelining {
                    Some(true) => {
                        let mut early = Vec::new();
                        while let Some(l) = conn.read_line() {
                            early.extend_from_slice(&l);
                            let done = trim_eol(&l).eq_ignore_ascii_case(b"DATA");
                            queue.push_back(l);
                            if done {
                                break;
                            }
                        }
                        if !early.is_empty() {
                            conn.record("pipelined", &early);
                        }
                    }
                    Some(false) => {
                        let early = conn.arrived().to_vec();
                        if !early.is_empty() {
                            conn.record("pipelined", &early);
                        }
                    }
                    None => {}
                }
                match &cfg.mail_reply {
                    Some(r) => conn.send(format!("{r}\r\n").as_bytes()),
                    None => {
                        mail = true;
                        rcpts.clear();
                        conn.send(b"250 2.1.0 Ok\r\n");
                    }
                }
            }
            "RCPT" if mail => {
                let addr = angle_address(&line);
                if cfg.refuse_rcpt.contains(&addr) {
                    conn.send(
                        format!("550 5.1.1 <{addr}>: Recipient address rejected\r\n").as_bytes(),
                    );
                } else {
                    rcpts.push(addr);
                    conn.send(b"250 2.1.5 Ok\r\n");
                }
            }
            "RCPT" => conn.send(b"503 5.5.1 Error: need MAIL command\r\n"),
            "DATA" if !rcpts.is_empty() => {
                if let Some(r) = &cfg.data_reply {
                    conn.send(format!("{r}\r\n").as_bytes());
                    if !r.starts_with("354") {
                        continue;
                    }
                } else {
                    conn.send(b"354 End data with <CR><LF>.<CR><LF>\r\n");
                }
                let mut data = Vec::new();
                let mut done = false;
                while let Some(l) = conn.read_line() {
                    data.extend_from_slice(&l);
                    if l == b".\r\n" {
                        done = true;
                        break;
                    }
                }
                conn.record("data", &data);
                if !done {
                    return;
                }
                let message = data[..data.len() - 3].to_vec();
                conn.record("message", &message);
                smtp_end_of_data(conn, cfg, &rcpts);
                rcpts.clear();
                mail = false;
            }
            "DATA" => conn.send(b"503 5.5.1 Error: need RCPT command\r\n"),
            "BDAT" if !rcpts.is_empty() => {
                let n: usize = w.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
                let last = w.get(2).is_some_and(|l| l.eq_ignore_ascii_case("LAST"));
                let Some(chunk) = conn.read_exact(n) else {
                    return;
                };
                conn.record("bdat", &chunk);
                bdat.extend_from_slice(&chunk);
                if last {
                    conn.record("message", &std::mem::take(&mut bdat));
                    smtp_end_of_data(conn, cfg, &rcpts);
                    rcpts.clear();
                    mail = false;
                } else {
                    conn.send(format!("250 2.0.0 {n} octets received\r\n").as_bytes());
                }
            }
            "BDAT" => conn.send(b"503 5.5.1 Error: need RCPT command\r\n"),
            "RSET" => {
                rcpts.clear();
                mail = false;
                bdat.clear();
                conn.send(b"250 2.0.0 Ok\r\n");
            }
            "NOOP" => conn.send(b"250 2.0.0 Ok\r\n"),
            "QUIT" => {
                conn.send(b"221 2.0.0 Bye\r\n");
                conn.note("quit");
                conn.close();
                return;
            }
            _ => conn.send(b"502 5.5.2 Error: command not recognized\r\n"),
        }
    }
}

fn smtp_end_of_data(conn: &mut Conn, cfg: &SmtpConfig, rcpts: &[String]) {
    if cfg.lmtp {
        let mut r = Vec::new();
        for rc in rcpts {
            if cfg.lmtp_refuse_at_end.contains(rc) {
                r.extend_from_slice(format!("552 5.2.2 <{rc}> Mailbox full\r\n").as_bytes());
            } else {
                r.extend_from_slice(format!("250 2.0.0 <{rc}> Saved\r\n").as_bytes());
            }
        }
        conn.send(&r);
    } else {
        let r = cfg
            .end_reply
            .clone()
            .unwrap_or_else(|| "250 2.0.0 Ok: queued as TEST1".to_string());
        conn.send(format!("{r}\r\n").as_bytes());
    }
}

/// The arguments of an IMAP command after the tag and verb: atoms, quoted strings (with `\`
/// escapes) and literals `{n}` (whose bytes follow the CRLF in `cmd`).
pub fn imap_args(cmd: &[u8]) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut i = 0;
    while i < cmd.len() {
        match cmd[i] {
            b' ' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let mut v = Vec::new();
                i += 1;
                while i < cmd.len() && cmd[i] != b'"' {
                    if cmd[i] == b'\\' && i + 1 < cmd.len() {
                        i += 1;
                    }
                    v.push(cmd[i]);
                    i += 1;
                }
                i += 1;
                args.push(v);
            }
            b'{' => {
                let close = cmd[i..].iter().position(|&b| b == b'}').map(|p| i + p);
                let n: usize = close
                    .and_then(|c| std::str::from_utf8(&cmd[i + 1..c]).ok())
                    .and_then(|s| s.trim_end_matches('+').parse().ok())
                    .unwrap_or(0);
                let start = close.map(|c| c + 3).unwrap_or(cmd.len()).min(cmd.len());
                let end = (start + n).min(cmd.len());
                args.push(cmd[start..end].to_vec());
                i = end;
            }
            _ => {
                let start = i;
                while i < cmd.len() && !matches!(cmd[i], b' ' | b'\r' | b'\n') {
                    i += 1;
                }
                args.push(cmd[start..i].to_vec());
            }
        }
    }
    args.into_iter().skip(2).collect()
}

/// An IMAP server that checks LOGIN and AUTHENTICATE PLAIN against `user` / `password`
/// (capabilities `IMAP4rev1 AUTH=PLAIN`, no SASL-IR, so PLAIN waits for `+`).
///
/// Records: "command" (each whole command), "auth" (the AUTHENTICATE response line).
/// Notes: "auth ok", "auth failed", "auth cancelled", "logout".
/// SELECT of a mailbox named `nosuch` answers NO; unknown commands BAD.
pub fn imap_auth(conn: &mut Conn, user: &str, password: &str) {
    conn.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mailtalk-test ready\r\n");
    while let Some(cmd) = imap_read_command(conn) {
        conn.record("command", &cmd);
        let first = cmd.split(|&b| b == b'\n').next().unwrap_or(&[]).to_vec();
        let w = words(&first);
        let tag = w.first().cloned().unwrap_or_else(|| "*".to_string());
        let verb = w.get(1).map(|s| s.to_ascii_uppercase()).unwrap_or_default();
        let reply = |s: &str| format!("{tag} {s}\r\n");
        let verdict = |conn: &mut Conn, ok: bool| {
            if ok {
                conn.note("auth ok");
                conn.send(reply("OK [CAPABILITY IMAP4rev1] Logged in").as_bytes());
            } else {
                conn.note("auth failed");
                conn.send(reply("NO [AUTHENTICATIONFAILED] Invalid credentials").as_bytes());
            }
        };
        match verb.as_str() {
            "CAPABILITY" => {
                conn.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");
                conn.send(reply("OK CAPABILITY completed").as_bytes());
            }
            "LOGIN" => {
                let args = imap_args(&cmd);
                let ok =
                    args.len() == 2 && args[0] == user.as_bytes() && args[1] == password.as_bytes();
                verdict(conn, ok);
            }
            "AUTHENTICATE" => {
                let mech = w.get(2).map(|s| s.to_ascii_uppercase()).unwrap_or_default();
                if mech != "PLAIN" {
                    conn.send(reply("NO Unsupported mechanism").as_bytes());
                    continue;
                }
                let resp = match w.get(3) {
                    Some(ir) => ir.as_bytes().to_vec(),
                    None => {
                        conn.send(b"+ \r\n");
                        let Some(l) = conn.read_line() else { return };
                        conn.record("auth", &l);
                        trim_eol(&l).to_vec()
                    }
                };
                if resp == b"*" {
                    conn.note("auth cancelled");
                    conn.send(reply("BAD Authentication cancelled").as_bytes());
                    continue;
                }
                let want = format!("\0{user}\0{password}");
                verdict(conn, unb64(&resp).as_deref() == Some(want.as_bytes()));
            }
            "SELECT" | "EXAMINE" => {
                let args = imap_args(&cmd);
                if args
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"nosuch"))
                {
                    conn.send(reply("NO [NONEXISTENT] Mailbox doesn't exist").as_bytes());
                } else {
                    conn.send(b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n");
                    conn.send(reply("OK [READ-WRITE] SELECT completed").as_bytes());
                }
            }
            "NOOP" => conn.send(reply("OK NOOP completed").as_bytes()),
            "LOGOUT" => {
                conn.send(b"* BYE mailtalk-test logging out\r\n");
                conn.send(reply("OK LOGOUT completed").as_bytes());
                conn.note("logout");
                conn.close();
                return;
            }
            _ => conn.send(reply("BAD unknown command").as_bytes()),
        }
    }
}

/// The timestamp in [`POP3_GREETING`], for APOP.
pub const POP3_TIMESTAMP: &str = "<1896.697170952@localhost>";

/// A POP3 server that checks USER/PASS and APOP against `user` / `password` (greeting
/// [`POP3_GREETING`] with its timestamp; CAPA: USER, UIDL, TOP).
///
/// Records: "command". Notes: "auth ok", "auth failed", "quit".
pub fn pop3_auth(conn: &mut Conn, user: &str, password: &str) {
    conn.send(POP3_GREETING);
    let mut given_user: Option<String> = None;
    let mut authed = false;
    while let Some(line) = conn.read_line() {
        conn.record("command", &line);
        let text = String::from_utf8_lossy(trim_eol(&line)).into_owned();
        let (verb, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
        match verb.to_ascii_uppercase().as_str() {
            "CAPA" => conn.send(&pop3_capa(false)),
            "USER" => {
                given_user = Some(rest.to_string());
                conn.send(b"+OK send PASS\r\n");
            }
            "PASS" => {
                if given_user.as_deref() == Some(user) && rest == password {
                    authed = true;
                    conn.note("auth ok");
                    conn.send(b"+OK maildrop locked and ready\r\n");
                } else {
                    conn.note("auth failed");
                    conn.send(b"-ERR [AUTH] invalid credentials\r\n");
                }
            }
            "APOP" => {
                let want = format!(
                    "{user} {}",
                    md5_hex(format!("{POP3_TIMESTAMP}{password}").as_bytes())
                );
                if rest == want {
                    authed = true;
                    conn.note("auth ok");
                    conn.send(b"+OK maildrop locked and ready\r\n");
                } else {
                    conn.note("auth failed");
                    conn.send(b"-ERR [AUTH] invalid credentials\r\n");
                }
            }
            "STAT" if authed => conn.send(b"+OK 2 320\r\n"),
            "NOOP" if authed => conn.send(b"+OK\r\n"),
            "QUIT" => {
                conn.send(b"+OK mailtalk-test signing off\r\n");
                conn.note("quit");
                conn.close();
                return;
            }
            _ => conn.send(b"-ERR unknown command\r\n"),
        }
    }
}

/// Removes the SGR sequences (`ESC [ digits/semicolons m`) from `bytes` and returns the rest;
/// an ESC that does not start one is an error naming its offset.
pub fn strip_sgr_checked(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut v = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != 0x1b {
            v.push(bytes[i]);
            i += 1;
            continue;
        }
        let context = show_bytes(&bytes[i..bytes.len().min(i + 20)]);
        if bytes.get(i + 1) != Some(&b'[') {
            return Err(format!("ESC not followed by [ at offset {i}: {context}"));
        }
        let mut j = i + 2;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b';') {
            j += 1;
        }
        if bytes.get(j) != Some(&b'm') {
            return Err(format!("ESC [ at offset {i} is not SGR: {context}"));
        }
        i = j + 1;
    }
    Ok(v)
}
