//! TLS client handshake with OpenSSL, verification reasons in words, and certificate summaries.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use openssl::asn1::Asn1Time;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::ssl::{
    ErrorCode, HandshakeError, SslConnector, SslFiletype, SslMethod, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::{X509NameRef, X509Ref, X509StoreContextRef, X509VerifyResult};

use super::conn::{is_timeout, Conn, Got};
use super::{
    io_text, strip_brackets, CertError, CertProblem, CertSummary, NetError, Step, TlsError,
    TlsInfo, TlsOptions, TlsProblem, TlsVersion,
};

// X509_V_ERR_* codes (stable across OpenSSL 1.1 and 3.x).
const ERR_CERT_NOT_YET_VALID: i32 = 9;
const ERR_CERT_HAS_EXPIRED: i32 = 10;
const ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
const ERR_HOSTNAME_MISMATCH: i32 = 62;
const ERR_IP_ADDRESS_MISMATCH: i32 = 64;
const ERR_UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
const ERR_DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
const ERR_SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;

/// At most this many distinct verification problems are kept.
const MAX_FAILURES: usize = 16;
/// At most this many certificate names are listed in a mismatch message.
const MAX_NAMES: usize = 8;
/// At most this many early bytes are quoted in the "data before the handshake" error.
const MAX_QUOTED: usize = 32;

/// One verification problem, as OpenSSL reported it during the handshake.
#[derive(Clone, Debug)]
struct Failure {
    code: i32,
    reason: String,
    /// The names of the certificate it is about (for a mismatch).
    names: Vec<String>,
}

type Failures = Arc<Mutex<Vec<Failure>>>;

/// Runs the client handshake on `conn`, checking the peer against `opts.sni` or `host`.
pub(super) fn handshake(
    mut conn: Conn,
    host: &str,
    opts: &TlsOptions,
    deadline: Instant,
) -> Result<(SslStream<Conn>, TlsInfo), NetError> {
    nothing_unread(&mut conn)?;

    let verify_name = clean_name(opts.sni.as_deref().unwrap_or(host)).to_string();
    let is_ip = verify_name.parse::<IpAddr>().is_ok();
    let sni = (!is_ip && !verify_name.is_empty()).then(|| verify_name.clone());

    let connector = connector(opts)?;
    let mut config = connector.configure().map_err(tls_stack)?;
    config.set_use_server_name_indication(false);
    config.set_verify_hostname(true);
    let mut ssl = config.into_ssl(&verify_name).map_err(tls_stack)?;
    if let Some(name) = &sni {
        ssl.set_hostname(name).map_err(tls_stack)?;
    }

    let failures: Failures = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&failures);
    let insecure = opts.insecure;
    let checked = verify_name.clone();
    let mode = if insecure {
        SslVerifyMode::NONE
    } else {
        SslVerifyMode::PEER
    };
    ssl.set_verify_callback(mode, move |ok, ctx| {
        if !ok {
            record(&recorder, ctx, &checked);
        }
        // With `insecure` every problem is noted and the handshake goes on.
        ok || insecure
    });

    if Instant::now() >= deadline {
        return Err(NetError::Timeout(Step::Handshake));
    }
    conn.set_deadline(Some(deadline));
    let stream = match ssl.connect(conn) {
        Ok(stream) => stream,
        Err(HandshakeError::WouldBlock(_)) => return Err(NetError::Timeout(Step::Handshake)),
        Err(HandshakeError::SetupFailure(e)) => return Err(tls_stack(e)),
        Err(HandshakeError::Failure(mid)) => {
            let found = taken(&failures);
            if !insecure {
                if let Some(first) = found.first() {
                    return Err(NetError::Certificate(certificate_error(
                        first,
                        &verify_name,
                    )));
                }
                let result = mid.ssl().verify_result();
                if result != X509VerifyResult::OK {
                    let failure = Failure {
                        code: result.as_raw(),
                        reason: result.error_string().to_string(),
                        names: Vec::new(),
                    };
                    return Err(NetError::Certificate(certificate_error(
                        &failure,
                        &verify_name,
                    )));
                }
            }
            let sent_cert = mid.ssl().certificate().is_some();
            return Err(handshake_error(mid.error(), sent_cert));
        }
    };

    let found = taken(&failures);
    let ssl = stream.ssl();
    let chain = match ssl.peer_cert_chain() {
        Some(chain) if !chain.is_empty() => chain.iter().map(CertSummary::from_x509).collect(),
        _ => ssl
            .peer_certificate()
            .map(|c| vec![CertSummary::from_x509(&c)])
            .unwrap_or_default(),
    };
    let verify_error = if found.is_empty() {
        None
    } else {
        let reasons: Vec<&str> = found.iter().map(|f| f.reason.as_str()).collect();
        Some(reasons.join("; "))
    };
    let alpn = ssl
        .selected_alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let info = TlsInfo {
        alpn,
        version: ssl.version_str().to_string(),
        cipher: ssl
            .current_cipher()
            .map(|c| c.name().to_string())
            .unwrap_or_default(),
        sni,
        verify_name,
        verified: !insecure && found.is_empty(),
        verify_error,
        chain,
    };
    Ok((stream, info))
}

/// Most ALPN names offered, and the longest one (RFC 7301 allows 255 octets).
const MAX_ALPN: usize = 32;
const MAX_ALPN_NAME: usize = 255;

/// The client context for `opts`: trust anchors, client certificate, versions, ciphers, ALPN,
/// key log. Every failure here is a local setting that cannot be used.
pub(super) fn connector(opts: &TlsOptions) -> Result<SslConnector, NetError> {
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls_stack)?;
    if let Some(path) = &opts.ca_file {
        builder
            .load_verify_locations(Some(path), None)
            .map_err(|e| {
                NetError::Tls(TlsError {
                    problem: TlsProblem::CaFile,
                    text: format!("cannot load CA file {}: {}", path.display(), stack_text(&e)),
                    source: Some(Box::new(e)),
                })
            })?;
    }
    if let Some(level) = opts.security_level {
        builder.set_security_level(level);
    }
    if let Some(cert) = &opts.cert {
        builder
            .set_certificate_chain_file(cert)
            .map_err(|e| config_error(format!("--cert {}", cert.display()), e))?;
        let key = opts.key.as_ref().unwrap_or(cert);
        builder
            .set_private_key_file(key, SslFiletype::PEM)
            .map_err(|e| {
                let mismatch = e
                    .errors()
                    .iter()
                    .any(|r| r.reason().is_some_and(|r| r.contains("mismatch")));
                if mismatch {
                    return config_error(
                        format!(
                            "the key in {} does not belong to the --cert certificate",
                            key.display()
                        ),
                        e,
                    );
                }
                let what = if opts.key.is_some() {
                    format!("--key {}", key.display())
                } else {
                    format!("--cert {} (no --key: the key must be in it)", key.display())
                };
                config_error(what, e)
            })?;
        builder.check_private_key().map_err(|e| {
            config_error(
                "the key does not belong to the --cert certificate".into(),
                e,
            )
        })?;
    }
    builder
        .set_min_proto_version(opts.min_version.map(ssl_version))
        .map_err(|e| config_error("--tls-min".into(), e))?;
    builder
        .set_max_proto_version(opts.max_version.map(ssl_version))
        .map_err(|e| config_error("--tls-max".into(), e))?;
    if let Some(list) = &opts.ciphers {
        builder
            .set_cipher_list(list)
            .map_err(|e| config_error(format!("--ciphers {list:?}"), e))?;
    }
    if let Some(list) = &opts.ciphersuites {
        builder
            .set_ciphersuites(list)
            .map_err(|e| config_error(format!("--ciphersuites {list:?}"), e))?;
    }
    if !opts.alpn.is_empty() {
        let wire = alpn_wire(&opts.alpn).map_err(|text| {
            NetError::Tls(TlsError::new(TlsProblem::Config, format!("--alpn: {text}")))
        })?;
        builder
            .set_alpn_protos(&wire)
            .map_err(|e| config_error("--alpn".into(), e))?;
    }
    if let Some(path) = &opts.keylog {
        let file = open_keylog(path).map_err(|e| {
            NetError::Tls(TlsError {
                problem: TlsProblem::Config,
                text: format!(
                    "cannot open the key log {} (SSLKEYLOGFILE): {}",
                    path.display(),
                    io_text(&e)
                ),
                source: Some(Box::new(e)),
            })
        })?;
        let file = Mutex::new(file);
        builder.set_keylog_callback(move |_, line| {
            if let Ok(mut f) = file.lock() {
                // One write per line, so that lines of concurrent writers do not interleave.
                let mut record = Vec::with_capacity(line.len().saturating_add(1));
                record.extend_from_slice(line.as_bytes());
                record.push(b'\n');
                // A key log that cannot be written loses only the debugging aid.
                let _ = f.write_all(&record);
            }
        });
    }
    Ok(builder.build())
}

/// The cipher list of `--tls-info` probes: everything the library has, at security level 0.
pub const PROBE_CIPHERS: &str = "ALL:@SECLEVEL=0";

/// Whether the local library can offer `version` at all (at security level 0 with every
/// cipher): a ClientHello of that version alone is built, without any network. `Err` says
/// why not.
pub fn can_offer(version: TlsVersion) -> Result<(), String> {
    let opts = TlsOptions {
        insecure: true,
        min_version: Some(version),
        max_version: Some(version),
        ciphers: Some(PROBE_CIPHERS.into()),
        security_level: Some(0),
        ..TlsOptions::default()
    };
    let connector = connector(&opts).map_err(|e| e.to_string())?;
    let mut config = connector.configure().map_err(|e| stack_text(&e))?;
    config.set_verify_hostname(false);
    let ssl = config.into_ssl("localhost").map_err(|e| stack_text(&e))?;
    match ssl.connect(Nowhere) {
        // The ClientHello was written; the handshake waits for an answer that never comes.
        Ok(_) | Err(HandshakeError::WouldBlock(_)) => Ok(()),
        Err(HandshakeError::SetupFailure(e)) => Err(stack_text(&e)),
        Err(HandshakeError::Failure(mid)) => Err(ssl_error_text(mid.error())),
    }
}

/// A stream that takes every byte and never has one to read.
struct Nowhere;

impl io::Read for Nowhere {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::WouldBlock, "nothing"))
    }
}

impl io::Write for Nowhere {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Opens (creating it mode 0600) the key log for appending.
fn open_keylog(path: &std::path::Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn ssl_version(v: TlsVersion) -> SslVersion {
    match v {
        TlsVersion::V1_0 => SslVersion::TLS1,
        TlsVersion::V1_1 => SslVersion::TLS1_1,
        TlsVersion::V1_2 => SslVersion::TLS1_2,
        TlsVersion::V1_3 => SslVersion::TLS1_3,
    }
}

/// ALPN names in the wire format (each preceded by its length).
fn alpn_wire(names: &[String]) -> Result<Vec<u8>, String> {
    if names.len() > MAX_ALPN {
        return Err(format!("at most {MAX_ALPN} protocol names"));
    }
    let mut wire = Vec::new();
    for name in names {
        let len = u8::try_from(name.len())
            .ok()
            .filter(|&n| n > 0 && usize::from(n) <= MAX_ALPN_NAME)
            .ok_or_else(|| format!("a protocol name has 1 to {MAX_ALPN_NAME} bytes: {name:?}"))?;
        wire.push(len);
        wire.extend_from_slice(name.as_bytes());
    }
    Ok(wire)
}

fn config_error(what: String, e: ErrorStack) -> NetError {
    NetError::Tls(TlsError {
        problem: TlsProblem::Config,
        text: format!("{what}: {}", stack_text(&e)),
        source: Some(Box::new(e)),
    })
}

/// Reads decrypted bytes; `Nothing` when the deadline set on the inner stream passed first.
pub(super) fn read(stream: &mut SslStream<Conn>, buf: &mut [u8]) -> Result<Got, NetError> {
    loop {
        if stream.get_ref().expired() {
            return Ok(Got::Nothing);
        }
        match stream.ssl_read(buf) {
            Ok(n) => return Ok(Got::Data(n)),
            Err(e) => match e.code() {
                ErrorCode::ZERO_RETURN => return Ok(Got::Data(0)),
                ErrorCode::WANT_READ | ErrorCode::WANT_WRITE | ErrorCode::SYSCALL => {
                    match e.io_error() {
                        // A record that carried no application data (a session ticket).
                        None if e.code() != ErrorCode::SYSCALL => continue,
                        // SYSCALL without an I/O error: the peer closed the socket.
                        None => return Ok(Got::Data(0)),
                        Some(io) if io.kind() == io::ErrorKind::Interrupted => continue,
                        Some(io) if is_timeout(io) => return Ok(Got::Nothing),
                        Some(_) => return Err(NetError::Io(into_io(e))),
                    }
                }
                _ if is_unexpected_eof(&e) => return Ok(Got::Data(0)),
                // TLS 1.3: the server checks the client's certificate after the client's
                // handshake is done, so its refusal comes with the first read.
                _ if alert_for_client_certificate(&e) => {
                    return Err(client_certificate_error(
                        &e,
                        stream.ssl().certificate().is_some(),
                    ))
                }
                _ => return Err(tls_error(TlsProblem::Other, e)),
            },
        }
    }
}

/// Writes all of `data`; `Timeout("send")` when the deadline set on the inner stream passes.
pub(super) fn write_all(stream: &mut SslStream<Conn>, data: &[u8]) -> Result<(), NetError> {
    if write_some(stream, data)? < data.len() {
        return Err(NetError::Timeout(Step::Send));
    }
    Ok(())
}

/// Writes what it can of `data` before the deadline set on the inner stream; how much.
pub(super) fn write_some(stream: &mut SslStream<Conn>, data: &[u8]) -> Result<usize, NetError> {
    let mut done = 0usize;
    while let Some(rest) = data.get(done..).filter(|r| !r.is_empty()) {
        if stream.get_ref().expired() {
            return Ok(done);
        }
        match stream.ssl_write(rest) {
            Ok(0) => return Err(NetError::Closed),
            Ok(n) => done = done.saturating_add(n),
            Err(e) => match e.io_error() {
                Some(io) if io.kind() == io::ErrorKind::Interrupted => continue,
                Some(io) if is_timeout(io) => return Ok(done),
                Some(_) => return Err(NetError::Io(into_io(e))),
                None if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {
                    continue
                }
                None => return Err(tls_error(TlsProblem::Other, e)),
            },
        }
    }
    Ok(done)
}

/// Fails when the server has sent bytes before the client's first handshake message: nothing
/// legitimate does that, so they are injected plain text (after STARTTLS) or a plain-text port.
fn nothing_unread(conn: &mut Conn) -> Result<(), NetError> {
    let mut probe = [0u8; 64];
    match conn.peek_now(&mut probe) {
        Ok(0) => Err(NetError::Tls(TlsError::new(
            TlsProblem::Closed,
            "the server closed the connection before the TLS handshake",
        ))),
        Ok(n) => Err(NetError::Tls(TlsError::new(
            TlsProblem::DataBeforeHandshake,
            format!(
                "the server sent data before the TLS handshake: \"{}\" (injected after \
                 STARTTLS, or the port speaks plain text)",
                quote(probe.get(..n).unwrap_or_default())
            ),
        ))),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(e) => Err(NetError::Io(e)),
    }
}

fn quote(bytes: &[u8]) -> String {
    crate::excerpt::excerpt(bytes, MAX_QUOTED)
}

/// `[::1]` → `::1`, `mx.example.com.` → `mx.example.com`.
fn clean_name(name: &str) -> &str {
    let name = strip_brackets(name.trim());
    match name.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() && !stripped.ends_with('.') => stripped,
        _ => name,
    }
}

fn record(failures: &Failures, ctx: &X509StoreContextRef, verify_name: &str) {
    let code = ctx.error();
    let reason = failure_reason(code, ctx.error_depth(), ctx.current_cert(), verify_name);
    if let Ok(mut list) = failures.lock() {
        // "unable to verify the first certificate" only repeats a missing issuer.
        let repeats_missing_issuer = code.as_raw() == ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
            && list
                .iter()
                .any(|f| f.code == ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
        if list.len() < MAX_FAILURES
            && !repeats_missing_issuer
            && !list.iter().any(|f| f.reason == reason)
        {
            let names = match code.as_raw() {
                ERR_HOSTNAME_MISMATCH | ERR_IP_ADDRESS_MISMATCH => {
                    ctx.current_cert().map(dns_names).unwrap_or_default()
                }
                _ => Vec::new(),
            };
            list.push(Failure {
                code: code.as_raw(),
                reason,
                names,
            });
        }
    }
}

fn taken(failures: &Failures) -> Vec<Failure> {
    failures
        .lock()
        .map(|mut list| std::mem::take(&mut *list))
        .unwrap_or_default()
}

/// A verification problem in words, naming the certificate names for mismatches and the
/// certificate for problems above the leaf.
fn failure_reason(
    code: X509VerifyResult,
    depth: u32,
    cert: Option<&X509Ref>,
    verify_name: &str,
) -> String {
    let mut reason = match code.as_raw() {
        ERR_HOSTNAME_MISMATCH => format!(
            "host name mismatch: certificate is for {}, not {verify_name}",
            cert.map(cert_names).unwrap_or_else(|| "no name".into())
        ),
        ERR_IP_ADDRESS_MISMATCH => format!(
            "IP address mismatch: certificate is for {}, not {verify_name}",
            cert.map(cert_names).unwrap_or_else(|| "no name".into())
        ),
        ERR_CERT_HAS_EXPIRED => match cert {
            Some(c) => format!("certificate has expired (not after {})", c.not_after()),
            None => code.error_string().to_string(),
        },
        ERR_CERT_NOT_YET_VALID => match cert {
            Some(c) => format!(
                "certificate is not yet valid (not before {})",
                c.not_before()
            ),
            None => code.error_string().to_string(),
        },
        _ => code.error_string().to_string(),
    };
    if depth > 0 {
        if let Some(c) = cert {
            reason.push_str(&format!(
                " (at depth {depth}: {})",
                name_text(c.subject_name())
            ));
        }
    }
    reason
}

fn certificate_error(failure: &Failure, verify_name: &str) -> CertError {
    let problem = match failure.code {
        ERR_HOSTNAME_MISMATCH => CertProblem::NameMismatch,
        ERR_IP_ADDRESS_MISMATCH => CertProblem::IpMismatch,
        ERR_CERT_HAS_EXPIRED => CertProblem::Expired,
        ERR_CERT_NOT_YET_VALID => CertProblem::NotYetValid,
        ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        | ERR_SELF_SIGNED_CERT_IN_CHAIN
        | ERR_UNABLE_TO_GET_ISSUER_CERT => CertProblem::Untrusted,
        _ => CertProblem::Other,
    };
    let text = match problem {
        CertProblem::NameMismatch | CertProblem::IpMismatch => failure.reason.clone(),
        _ => format!("{verify_name}: {}", failure.reason),
    };
    CertError {
        problem,
        checked: verify_name.to_string(),
        names: failure.names.clone(),
        text,
    }
}

/// The DNS names of a certificate (its CN when it has no DNS SAN).
fn dns_names(cert: &X509Ref) -> Vec<String> {
    let mut names = names_of(cert, false);
    names.truncate(MAX_NAMES);
    names
}

/// The DNS names (and with `ips` the IP addresses) of a certificate's SANs, in order; its CN
/// when it has none.
fn names_of(cert: &X509Ref, ips: bool) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if let Some(sans) = cert.subject_alt_names() {
        for san in sans.iter() {
            if let Some(dns) = san.dnsname() {
                names.push(dns.to_string());
            } else if let Some(ip) = san.ipaddress().filter(|_| ips) {
                names.push(ip_text(ip));
            }
        }
    }
    if names.is_empty() {
        for entry in cert.subject_name().entries_by_nid(Nid::COMMONNAME) {
            names.push(asn1_text(entry.data()));
        }
    }
    names
}

/// The DNS and IP names of a certificate (or its CN when it has no SAN), for messages.
fn cert_names(cert: &X509Ref) -> String {
    let mut names = names_of(cert, true);
    if names.is_empty() {
        return "no name".into();
    }
    let more = names.len().saturating_sub(MAX_NAMES);
    names.truncate(MAX_NAMES);
    let mut text = names.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

fn asn1_text(data: &openssl::asn1::Asn1StringRef) -> String {
    data.to_string()
        .unwrap_or_else(|_| String::from_utf8_lossy(data.as_slice()).into_owned())
}

/// `CN=localhost, O=Example`: entries in certificate order, short attribute names.
fn name_text(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|entry| {
            let object = entry.object();
            let nid = object.nid();
            let key = match nid.short_name() {
                Ok(short) if nid != Nid::UNDEF => short.to_string(),
                _ => object.to_string(),
            };
            format!("{key}={}", asn1_text(entry.data()))
        })
        .collect();
    parts.join(", ")
}

fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Ipv6Addr::from(v6).to_string()
    } else {
        format!("<{} bytes>", bytes.len())
    }
}

fn key_text(cert: &X509Ref) -> String {
    let Ok(key) = cert.public_key() else {
        return "unknown".into();
    };
    let id = key.id();
    if id == Id::RSA {
        return format!("RSA {}", key.bits());
    }
    if id == Id::DSA {
        return format!("DSA {}", key.bits());
    }
    if id == Id::EC {
        let curve = key
            .ec_key()
            .ok()
            .and_then(|ec| ec.group().curve_name())
            .map(|nid| match nid {
                Nid::X9_62_PRIME256V1 => "P-256".to_string(),
                Nid::SECP384R1 => "P-384".to_string(),
                Nid::SECP521R1 => "P-521".to_string(),
                other => other.short_name().unwrap_or("unknown curve").to_string(),
            })
            .unwrap_or_else(|| "unknown curve".into());
        return format!("EC {curve}");
    }
    match Nid::from_raw(id.as_raw()).short_name() {
        Ok("ED25519") => "Ed25519".into(),
        Ok("ED448") => "Ed448".into(),
        Ok("RSASSA-PSS") => format!("RSA-PSS {}", key.bits()),
        Ok(other) => format!("{other} {}", key.bits()),
        Err(_) => format!("unknown {}", key.bits()),
    }
}

fn days_left(cert: &X509Ref) -> Option<i64> {
    let now = Asn1Time::days_from_now(0).ok()?;
    let diff = now.diff(cert.not_after()).ok()?;
    let secs = i64::from(diff.days)
        .checked_mul(86_400)?
        .checked_add(i64::from(diff.secs))?;
    Some(secs.div_euclid(86_400))
}

fn fingerprint(cert: &X509Ref) -> String {
    match cert.digest(MessageDigest::sha256()) {
        Ok(digest) => digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
        Err(_) => String::new(),
    }
}

impl CertSummary {
    /// Summarises a certificate for display. Every text field comes from the certificate as is
    /// (it may hold control characters); nothing here panics on odd content.
    pub fn from_x509(cert: &X509Ref) -> CertSummary {
        let mut sans = Vec::new();
        if let Some(names) = cert.subject_alt_names() {
            for san in names.iter() {
                if let Some(dns) = san.dnsname() {
                    sans.push(format!("DNS:{dns}"));
                } else if let Some(ip) = san.ipaddress() {
                    sans.push(format!("IP:{}", ip_text(ip)));
                } else if let Some(email) = san.email() {
                    sans.push(format!("email:{email}"));
                } else if let Some(uri) = san.uri() {
                    sans.push(format!("URI:{uri}"));
                } else if let Some(dir) = san.directory_name() {
                    sans.push(format!("DirName:{}", name_text(dir)));
                }
            }
        }
        CertSummary {
            subject: name_text(cert.subject_name()),
            issuer: name_text(cert.issuer_name()),
            sans,
            not_before: cert.not_before().to_string(),
            not_after: cert.not_after().to_string(),
            days_left: days_left(cert),
            key: key_text(cert),
            sha256: fingerprint(cert),
            der: cert.to_der().unwrap_or_default(),
        }
    }
}

fn tls_stack(e: ErrorStack) -> NetError {
    NetError::Tls(TlsError {
        problem: TlsProblem::Other,
        text: stack_text(&e),
        source: Some(Box::new(e)),
    })
}

fn tls_error(problem: TlsProblem, e: openssl::ssl::Error) -> NetError {
    NetError::Tls(TlsError {
        problem,
        text: ssl_error_text(&e),
        source: Some(Box::new(e)),
    })
}

/// The I/O error inside an OpenSSL error.
fn into_io(e: openssl::ssl::Error) -> io::Error {
    match e.into_io_error() {
        Ok(io) => io,
        Err(e) => io::Error::other(e),
    }
}

/// The reasons of an OpenSSL error stack, without the `error:0A000086:SSL routines:` codes.
fn stack_text(stack: &ErrorStack) -> String {
    let reasons: Vec<String> = stack
        .errors()
        .iter()
        .map(|e| match e.reason() {
            Some(reason) => reason.to_string(),
            None => e.to_string(),
        })
        .collect();
    if reasons.is_empty() {
        "unknown OpenSSL error".into()
    } else {
        reasons.join("; ")
    }
}

/// Whether one of the reasons in OpenSSL's error stack contains one of `words`.
fn has_reason(e: &openssl::ssl::Error, words: &[&str]) -> bool {
    e.ssl_error().is_some_and(|stack| {
        stack.errors().iter().any(|err| {
            err.reason()
                .is_some_and(|r| words.iter().any(|w| r.contains(w)))
        })
    })
}

/// The alerts a server sends about the client's certificate: "certificate required" (TLS
/// 1.3, none sent), "bad/unsupported/unknown CA/… certificate" (one it refused).
fn alert_for_client_certificate(e: &openssl::ssl::Error) -> bool {
    has_reason(
        e,
        &[
            "alert certificate required",
            "alert bad certificate",
            "alert unknown ca",
            "alert certificate unknown",
            "alert unsupported certificate",
            "alert certificate expired",
            "alert certificate revoked",
        ],
    )
}

fn client_certificate_error(e: &openssl::ssl::Error, sent_cert: bool) -> NetError {
    let text = ssl_error_text(e);
    let hint = if sent_cert {
        "the server refused the client certificate given with --cert"
    } else {
        "the server requires a client certificate: give one with --cert FILE (and --key FILE)"
    };
    NetError::Tls(TlsError {
        problem: TlsProblem::ClientCertificate,
        text: format!("{hint} ({text})"),
        source: None,
    })
}

fn is_unexpected_eof(e: &openssl::ssl::Error) -> bool {
    e.ssl_error().is_some_and(|stack| {
        stack
            .errors()
            .iter()
            .any(|err| err.reason().is_some_and(|r| r.contains("unexpected eof")))
    })
}

fn ssl_error_text(e: &openssl::ssl::Error) -> String {
    if let Some(stack) = e.ssl_error() {
        return stack_text(stack);
    }
    if let Some(io) = e.io_error() {
        return io_text(io);
    }
    e.to_string()
}

/// A failed handshake (not a certificate problem) in words, with a hint for the common case of
/// TLS spoken to a plain-text port.
fn handshake_error(e: &openssl::ssl::Error, sent_cert: bool) -> NetError {
    if let Some(io) = e.io_error() {
        if is_timeout(io) {
            return NetError::Timeout(Step::Handshake);
        }
        return NetError::Tls(TlsError::new(
            TlsProblem::Other,
            format!("during the handshake: {}", io_text(io)),
        ));
    }
    if e.code() == ErrorCode::SYSCALL || is_unexpected_eof(e) {
        return NetError::Tls(TlsError::new(
            TlsProblem::Closed,
            "the server closed the connection during the handshake",
        ));
    }
    if alert_for_client_certificate(e) {
        return client_certificate_error(e, sent_cert);
    }
    let text = ssl_error_text(e);
    if has_reason(
        e,
        &[
            "unsupported protocol",
            "protocol version",
            "no protocols available",
        ],
    ) {
        return NetError::Tls(TlsError::new(
            TlsProblem::Version,
            format!(
                "{text}: no TLS version that both sides allow (see --tls-min and --tls-max; \
                 OpenSSL offers TLS 1.0 and 1.1 only at security level 0, \
                 --ciphers 'DEFAULT:@SECLEVEL=0')"
            ),
        ));
    }
    // OpenSSL's words for a record that is not TLS at all.
    let not_tls = e.ssl_error().is_some_and(|stack| {
        stack.errors().iter().any(|err| {
            err.reason().is_some_and(|r| {
                r.contains("wrong version number") || r.contains("packet length too long")
            })
        })
    });
    if not_tls {
        return NetError::Tls(TlsError::new(
            TlsProblem::NotTls,
            format!("{text} (the server does not seem to speak TLS on this port)"),
        ));
    }
    NetError::Tls(TlsError::new(TlsProblem::Other, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Family, Stream, Transport};
    use openssl::asn1::Asn1Integer;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::ssl::{SslAcceptor, SslStream as ServerStream};
    use openssl::x509::extension::{
        BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    };
    use openssl::x509::{X509Name, X509};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::PathBuf;

    #[test]
    fn current_versions_can_be_offered() {
        assert_eq!(can_offer(TlsVersion::V1_2), Ok(()));
        assert_eq!(can_offer(TlsVersion::V1_3), Ok(()));
    }

    #[test]
    fn alpn_names_are_length_prefixed_and_bounded() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            alpn_wire(&names(&["smtp", "h2"])).as_deref(),
            Ok(&b"\x04smtp\x02h2"[..])
        );
        assert!(alpn_wire(&names(&[""])).is_err());
        assert!(alpn_wire(&names(&[&"x".repeat(256)])).is_err());
        assert!(alpn_wire(&vec!["a".to_string(); MAX_ALPN + 1]).is_err());
    }
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{mpsc, OnceLock};
    use std::thread;
    use std::time::Duration;

    struct Leaf {
        cert: X509,
        key: PKey<Private>,
    }

    struct Pki {
        ca: X509,
        ca_file: PathBuf,
        good: Leaf,
        other: Leaf,
        expired: Leaf,
        rsa: Leaf,
    }

    fn ec_key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    fn name(cn: &str) -> X509Name {
        let mut n = X509Name::builder().unwrap();
        n.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
        n.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Mailtalk Test")
            .unwrap();
        n.build()
    }

    fn serial(n: u32) -> Asn1Integer {
        BigNum::from_u32(n).unwrap().to_asn1_integer().unwrap()
    }

    fn time(days_from_now: i64) -> Asn1Time {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        Asn1Time::from_unix(now + days_from_now * 86_400).unwrap()
    }

    fn make_ca() -> (X509, PKey<Private>) {
        let key = ec_key();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&serial(1)).unwrap();
        b.set_subject_name(&name("Mailtalk Test CA")).unwrap();
        b.set_issuer_name(&name("Mailtalk Test CA")).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&time(-1)).unwrap();
        b.set_not_after(&time(30)).unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    fn make_leaf(
        ca: &X509,
        ca_key: &PKey<Private>,
        key: PKey<Private>,
        cn: &str,
        sans: &[&str],
        valid: (i64, i64),
        n: u32,
    ) -> Leaf {
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&serial(n)).unwrap();
        b.set_subject_name(&name(cn)).unwrap();
        b.set_issuer_name(ca.subject_name()).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&time(valid.0)).unwrap();
        b.set_not_after(&time(valid.1)).unwrap();
        b.append_extension(BasicConstraints::new().build().unwrap())
            .unwrap();
        b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
            .unwrap();
        let mut san = SubjectAlternativeName::new();
        for s in sans {
            match s.strip_prefix("IP:") {
                Some(ip) => san.ip(ip),
                None => san.dns(s),
            };
        }
        let ext = san.build(&b.x509v3_context(Some(ca), None)).unwrap();
        b.append_extension(ext).unwrap();
        b.sign(ca_key, MessageDigest::sha256()).unwrap();
        Leaf {
            cert: b.build(),
            key,
        }
    }

    fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            let (ca, ca_key) = make_ca();
            let good = make_leaf(
                &ca,
                &ca_key,
                ec_key(),
                "localhost",
                &["localhost", "IP:127.0.0.1"],
                (-1, 30),
                2,
            );
            let other = make_leaf(
                &ca,
                &ca_key,
                ec_key(),
                "other.test",
                &["other.test"],
                (-1, 30),
                3,
            );
            let expired = make_leaf(
                &ca,
                &ca_key,
                ec_key(),
                "localhost",
                &["localhost"],
                (-10, -1),
                4,
            );
            let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
            let rsa = make_leaf(
                &ca,
                &ca_key,
                rsa,
                "localhost",
                &["*.mail.test", "localhost"],
                (-1, 30),
                5,
            );
            let dir =
                std::env::temp_dir().join(format!("mailtalk-net-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let ca_file = dir.join("ca.pem");
            std::fs::write(&ca_file, ca.to_pem().unwrap()).unwrap();
            Pki {
                ca,
                ca_file,
                good,
                other,
                expired,
                rsa,
            }
        })
    }

    fn acceptor(leaf: &Leaf, with_ca: bool) -> SslAcceptor {
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        b.set_private_key(&leaf.key).unwrap();
        b.set_certificate(&leaf.cert).unwrap();
        if with_ca {
            b.add_extra_chain_cert(pki().ca.clone()).unwrap();
        }
        b.build()
    }

    /// A one-connection TLS server: after the handshake it sends `greeting`, echoes one line
    /// back as `echo: LINE`, then closes with close_notify. Returns the port and what the server
    /// saw of the handshake (Ok) or its error text.
    fn tls_server(
        leaf: &'static Leaf,
        with_ca: bool,
        greeting: &'static [u8],
    ) -> (u16, thread::JoinHandle<Result<(), String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let acc = acceptor(leaf, with_ca);
        let h = thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut s = acc.accept(tcp).map_err(|e| e.to_string())?;
            s.write_all(greeting).map_err(|e| e.to_string())?;
            echo_line(&mut s);
            let _ = s.shutdown();
            Ok(())
        });
        (port, h)
    }

    fn echo_line(s: &mut ServerStream<TcpStream>) {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while s.read(&mut byte).unwrap_or(0) == 1 {
            line.push(byte[0]);
            if byte[0] == b'\n' {
                let mut out = b"echo: ".to_vec();
                out.extend_from_slice(&line);
                let _ = s.write_all(&out);
                return;
            }
        }
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    fn connect(port: u16) -> Transport {
        Transport::connect(
            "127.0.0.1",
            port,
            Family::V4,
            Duration::from_secs(5),
            &mut |_| {},
        )
        .unwrap()
    }

    fn with_ca() -> TlsOptions {
        TlsOptions {
            ca_file: Some(pki().ca_file.clone()),
            ..TlsOptions::default()
        }
    }

    fn read_exact(t: &mut Transport, want: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        while out.len() < want {
            let n = t.read(&mut buf, deadline()).unwrap();
            assert!(n > 0, "EOF after {:?}", String::from_utf8_lossy(&out));
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn verified_with_ca_file() {
        let (port, server) = tls_server(&pki().good, false, b"220 tls ready\r\n");
        let mut t = connect(port);
        let info = t.start_tls("localhost", &with_ca(), deadline()).unwrap();
        assert!(info.version.starts_with("TLSv1."), "{}", info.version);
        assert!(!info.cipher.is_empty());
        assert_eq!(info.sni.as_deref(), Some("localhost"));
        assert_eq!(info.verify_name, "localhost");
        assert!(info.verified);
        assert_eq!(info.verify_error, None);
        let leaf = &info.chain[0];
        assert_eq!(leaf.subject, "CN=localhost, O=Mailtalk Test");
        assert_eq!(leaf.issuer, "CN=Mailtalk Test CA, O=Mailtalk Test");
        assert_eq!(leaf.sans, vec!["DNS:localhost", "IP:127.0.0.1"]);
        assert_eq!(leaf.key, "EC P-256");
        assert!(
            matches!(leaf.days_left, Some(29 | 30)),
            "{:?}",
            leaf.days_left
        );
        assert!(leaf.not_after.ends_with(" GMT"), "{}", leaf.not_after);
        let pairs: Vec<&str> = leaf.sha256.split(':').collect();
        assert_eq!(pairs.len(), 32);
        assert!(pairs.iter().all(|p| p.len() == 2
            && p.chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))));
        let expected = pki().good.cert.digest(MessageDigest::sha256()).unwrap();
        assert_eq!(pairs[0], format!("{:02X}", expected[0]));
        assert!(t.is_tls());
        assert_eq!(t.tls_info(), Some(&info));
        assert_eq!(read_exact(&mut t, 15), b"220 tls ready\r\n");
        t.write_all(b"EHLO me\r\n", deadline()).unwrap();
        assert_eq!(read_exact(&mut t, 15), b"echo: EHLO me\r\n");
        // close_notify from the server: EOF.
        let mut buf = [0u8; 8];
        assert_eq!(t.read(&mut buf, deadline()).unwrap(), 0);
        server.join().unwrap().unwrap();
        assert!(t
            .start_tls("localhost", &with_ca(), deadline())
            .is_err_and(|e| matches!(e, NetError::Tls(_))));
    }

    #[test]
    fn chain_sent_by_the_server_is_reported_leaf_first() {
        let (port, server) = tls_server(&pki().good, true, b"hi\r\n");
        let mut t = connect(port);
        let info = t.start_tls("localhost", &with_ca(), deadline()).unwrap();
        assert_eq!(info.chain.len(), 2);
        assert!(info.chain[0].subject.starts_with("CN=localhost"));
        assert!(info.chain[1].subject.starts_with("CN=Mailtalk Test CA"));
        t.shutdown();
        let _ = server.join().unwrap();
    }

    #[test]
    fn refused_without_the_ca() {
        for with_chain in [false, true] {
            let (port, server) = tls_server(&pki().good, with_chain, b"x");
            let mut t = connect(port);
            let err = t
                .start_tls("localhost", &TlsOptions::default(), deadline())
                .unwrap_err();
            let NetError::Certificate(cert) = &err else {
                panic!("{err:?}");
            };
            assert_eq!(cert.problem, CertProblem::Untrusted);
            let msg = &cert.text;
            assert!(msg.starts_with("localhost: "), "{msg}");
            if with_chain {
                assert!(
                    msg.contains("self-signed") || msg.contains("self signed"),
                    "{msg}"
                );
                assert!(msg.contains("(at depth 1: CN=Mailtalk Test CA"), "{msg}");
            } else {
                assert!(
                    msg.contains("unable to get local issuer certificate"),
                    "{msg}"
                );
            }
            assert!(!t.is_tls());
            assert!(server.join().unwrap().is_err());
        }
    }

    #[test]
    fn host_name_mismatch_refused_then_accepted_insecure() {
        let (port, server) = tls_server(&pki().other, false, b"x");
        let mut t = connect(port);
        let err = t
            .start_tls("localhost", &with_ca(), deadline())
            .unwrap_err();
        let NetError::Certificate(cert) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(cert.problem, CertProblem::NameMismatch);
        assert_eq!(cert.names, vec!["other.test"]);
        assert_eq!(cert.checked, "localhost");
        assert_eq!(
            cert.text,
            "host name mismatch: certificate is for other.test, not localhost"
        );
        assert!(server.join().unwrap().is_err());

        let (port, server) = tls_server(&pki().other, false, b"220 x\r\n");
        let mut t = connect(port);
        let opts = TlsOptions {
            insecure: true,
            ..with_ca()
        };
        let info = t.start_tls("localhost", &opts, deadline()).unwrap();
        assert!(!info.verified);
        assert_eq!(
            info.verify_error.as_deref(),
            Some("host name mismatch: certificate is for other.test, not localhost")
        );
        assert_eq!(info.chain[0].sans, vec!["DNS:other.test"]);
        assert_eq!(read_exact(&mut t, 7), b"220 x\r\n");
        t.shutdown();
        server.join().unwrap().unwrap();
    }

    #[test]
    fn insecure_without_ca_reports_chain_and_name() {
        let (port, server) = tls_server(&pki().other, false, b"x");
        let mut t = connect(port);
        let opts = TlsOptions {
            insecure: true,
            ..TlsOptions::default()
        };
        let info = t.start_tls("localhost", &opts, deadline()).unwrap();
        assert!(!info.verified);
        assert_eq!(
            info.verify_error.as_deref(),
            Some(
                "unable to get local issuer certificate; \
                 host name mismatch: certificate is for other.test, not localhost"
            )
        );
        t.shutdown();
        let _ = server.join().unwrap();
    }

    #[test]
    fn insecure_with_a_good_certificate_is_still_unverified() {
        let (port, server) = tls_server(&pki().good, false, b"x");
        let mut t = connect(port);
        let opts = TlsOptions {
            insecure: true,
            ..with_ca()
        };
        let info = t.start_tls("localhost", &opts, deadline()).unwrap();
        assert!(!info.verified);
        assert_eq!(info.verify_error, None);
        t.shutdown();
        let _ = server.join().unwrap();
    }

    #[test]
    fn expired_refused() {
        let (port, server) = tls_server(&pki().expired, false, b"x");
        let mut t = connect(port);
        let err = t
            .start_tls("localhost", &with_ca(), deadline())
            .unwrap_err();
        let NetError::Certificate(cert) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(cert.problem, CertProblem::Expired);
        let msg = &cert.text;
        assert!(
            msg.starts_with("localhost: certificate has expired (not after "),
            "{msg}"
        );
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn ip_literal_verified_by_ip_san() {
        let (port, server) = tls_server(&pki().good, false, b"x");
        let mut t = connect(port);
        let info = t.start_tls("127.0.0.1", &with_ca(), deadline()).unwrap();
        assert!(info.verified);
        assert_eq!(info.sni, None);
        assert_eq!(info.verify_name, "127.0.0.1");
        t.shutdown();
        let _ = server.join().unwrap();
    }

    #[test]
    fn ip_literal_mismatch() {
        let (port, server) = tls_server(&pki().other, false, b"x");
        let mut t = connect(port);
        let err = t
            .start_tls("127.0.0.1", &with_ca(), deadline())
            .unwrap_err();
        let NetError::Certificate(cert) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(cert.problem, CertProblem::IpMismatch);
        assert_eq!(cert.names, vec!["other.test"]);
        assert_eq!(
            cert.text,
            "IP address mismatch: certificate is for other.test, not 127.0.0.1"
        );
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn sni_option_is_sent_and_checked() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        b.set_private_key(&pki().other.key).unwrap();
        b.set_certificate(&pki().other.cert).unwrap();
        let (tx, rx) = mpsc::channel();
        b.set_servername_callback(move |ssl, _| {
            let _ = tx.send(
                ssl.servername(openssl::ssl::NameType::HOST_NAME)
                    .map(str::to_string),
            );
            Ok(())
        });
        let acc = b.build();
        let server = thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let mut s = acc.accept(tcp).unwrap();
            let _ = s.shutdown();
        });
        let mut t = connect(port);
        let opts = TlsOptions {
            sni: Some("other.test".into()),
            ..with_ca()
        };
        let info = t.start_tls("127.0.0.1", &opts, deadline()).unwrap();
        assert!(info.verified);
        assert_eq!(info.sni.as_deref(), Some("other.test"));
        assert_eq!(info.verify_name, "other.test");
        assert_eq!(rx.recv().unwrap().as_deref(), Some("other.test"));
        server.join().unwrap();
    }

    #[test]
    fn wildcard_san_and_rsa_key() {
        let (port, server) = tls_server(&pki().rsa, false, b"x");
        let mut t = connect(port);
        let opts = TlsOptions {
            sni: Some("mx.mail.test".into()),
            ..with_ca()
        };
        let info = t.start_tls("127.0.0.1", &opts, deadline()).unwrap();
        assert!(info.verified);
        assert_eq!(info.chain[0].key, "RSA 2048");
        assert_eq!(info.chain[0].sans, vec!["DNS:*.mail.test", "DNS:localhost"]);
        t.shutdown();
        let _ = server.join().unwrap();
    }

    #[test]
    fn starttls_after_a_plain_exchange() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let acc = acceptor(&pki().good, false);
        let server = thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            tcp.write_all(b"220 plain\r\n").unwrap();
            let mut cmd = [0u8; 10];
            tcp.read_exact(&mut cmd).unwrap();
            assert_eq!(&cmd, b"STARTTLS\r\n");
            tcp.write_all(b"220 go ahead\r\n").unwrap();
            let mut s = acc.accept(tcp).unwrap();
            echo_line(&mut s);
            let _ = s.shutdown();
        });
        let mut t = connect(port);
        assert_eq!(read_exact(&mut t, 11), b"220 plain\r\n");
        t.write_all(b"STARTTLS\r\n", deadline()).unwrap();
        assert_eq!(read_exact(&mut t, 14), b"220 go ahead\r\n");
        assert!(!t.is_tls());
        let info = t.start_tls("localhost", &with_ca(), deadline()).unwrap();
        assert!(info.verified);
        assert!(t.is_tls());
        t.write_all(b"EHLO me\r\n", deadline()).unwrap();
        assert_eq!(read_exact(&mut t, 15), b"echo: EHLO me\r\n");
        server.join().unwrap();
    }

    #[test]
    fn bytes_before_the_handshake_are_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel::<()>();
        let server = thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            tcp.write_all(b"220 go\r\n250 AUTH\x1b PLAIN\r\n").unwrap();
            let _ = rx.recv_timeout(Duration::from_secs(10));
        });
        let mut t = connect(port);
        let mut first = [0u8; 8];
        let mut got = 0;
        while got < 8 {
            got += t.read(&mut first[got..], deadline()).unwrap();
        }
        assert_eq!(&first, b"220 go\r\n");
        let err = t
            .start_tls("localhost", &with_ca(), deadline())
            .unwrap_err();
        let NetError::Tls(tls) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(tls.problem, TlsProblem::DataBeforeHandshake);
        assert_eq!(
            tls.text,
            // Kept as sent: whatever shows the message makes the bytes visible.
            "the server sent data before the TLS handshake: \"250 AUTH\x1b PLAIN\r\n\" \
             (injected after STARTTLS, or the port speaks plain text)"
        );
        assert!(!t.is_tls());
        let mut buf = [0u8; 4];
        assert_eq!(t.read(&mut buf, deadline()).unwrap(), 0);
        tx.send(()).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn handshake_deadline_on_a_silent_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel::<()>();
        let server = thread::spawn(move || {
            let (_tcp, _) = listener.accept().unwrap();
            let _ = rx.recv_timeout(Duration::from_secs(10));
        });
        let mut t = connect(port);
        let wait = Duration::from_millis(300);
        let err = t
            .start_tls("localhost", &with_ca(), Instant::now() + wait)
            .unwrap_err();
        assert!(matches!(err, NetError::Timeout(Step::Handshake)), "{err:?}");
        tx.send(()).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn plain_text_server_on_a_tls_port() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            let mut hello = [0u8; 5];
            tcp.read_exact(&mut hello).unwrap();
            tcp.write_all(b"500 5.5.2 what?\r\n").unwrap();
            thread::sleep(Duration::from_millis(200));
        });
        let mut t = connect(port);
        let err = t
            .start_tls("localhost", &with_ca(), deadline())
            .unwrap_err();
        let NetError::Tls(tls) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(tls.problem, TlsProblem::NotTls);
        assert!(tls.text.contains("does not seem to speak TLS"), "{tls}");
        server.join().unwrap();
    }

    #[test]
    fn tls_read_deadline_and_poll_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let acc = acceptor(&pki().good, false);
        let (tx, rx) = mpsc::channel::<()>();
        let server = thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let mut s = acc.accept(tcp).unwrap();
            rx.recv().unwrap();
            // One record holding two lines.
            s.write_all(b"* 1 EXISTS\r\n* 2 EXISTS\r\n").unwrap();
            let _ = rx.recv();
            // Gone without close_notify.
            drop(s);
        });
        let mut t = connect(port);
        t.start_tls("localhost", &with_ca(), deadline()).unwrap();
        let mut buf = [0u8; 12];
        let err = t
            .read(&mut buf, Instant::now() + Duration::from_millis(300))
            .unwrap_err();
        assert!(matches!(err, NetError::Timeout(Step::Reply)), "{err:?}");
        assert_eq!(t.read_now(&mut buf).unwrap(), None);
        tx.send(()).unwrap();
        let n = t.read(&mut buf, deadline()).unwrap();
        assert_eq!(&buf[..n], b"* 1 EXISTS\r\n");
        // The second line is already decrypted: it is there at once.
        let n = t.read_now(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..n], b"* 2 EXISTS\r\n");
        drop(tx);
        assert_eq!(t.read(&mut buf, deadline()).unwrap(), 0);
        server.join().unwrap();
    }

    #[test]
    fn missing_ca_file_is_reported() {
        let (port, server) = tls_server(&pki().good, false, b"x");
        let mut t = connect(port);
        let opts = TlsOptions {
            ca_file: Some(PathBuf::from("/nonexistent/mailtalk-ca.pem")),
            ..TlsOptions::default()
        };
        let err = t.start_tls("localhost", &opts, deadline()).unwrap_err();
        let NetError::Tls(tls) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(tls.problem, TlsProblem::CaFile);
        let msg = &tls.text;
        assert!(
            msg.starts_with("cannot load CA file /nonexistent/mailtalk-ca.pem: "),
            "{msg}"
        );
        drop(t);
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn odd_certificate_content_does_not_panic() {
        static N: AtomicU32 = AtomicU32::new(100);
        let key = ec_key();
        let mut n = X509Name::builder().unwrap();
        n.append_entry_by_nid(Nid::COMMONNAME, "evil\x1b[31m\u{7}\u{202e}name")
            .unwrap();
        n.append_entry_by_text("1.2.3.4.5", "custom").unwrap();
        let n = n.build();
        let mut b = X509::builder().unwrap();
        b.set_serial_number(&serial(N.fetch_add(1, Ordering::Relaxed)))
            .unwrap();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&time(-3)).unwrap();
        b.set_not_after(&time(-2)).unwrap();
        let mut san = SubjectAlternativeName::new();
        san.email("a@b.test").uri("https://x.test/").dns("ok.test");
        let ext = san.build(&b.x509v3_context(None, None)).unwrap();
        b.append_extension(ext).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let s = CertSummary::from_x509(&cert);
        assert_eq!(
            s.subject,
            "CN=evil\x1b[31m\u{7}\u{202e}name, 1.2.3.4.5=custom"
        );
        assert_eq!(s.issuer, s.subject);
        assert_eq!(
            s.sans,
            vec!["email:a@b.test", "URI:https://x.test/", "DNS:ok.test"]
        );
        assert!(matches!(s.days_left, Some(-3 | -2)), "{:?}", s.days_left);
        assert_eq!(cert_names(&cert), "ok.test");
        assert_eq!(key_text(&cert), "EC P-256");
    }

    #[test]
    fn helpers() {
        assert_eq!(clean_name("[::1]"), "::1");
        assert_eq!(clean_name("mx.test."), "mx.test");
        assert_eq!(clean_name("."), ".");
        assert_eq!(clean_name(" mx.test "), "mx.test");
        assert_eq!(quote(&[b'a'; 40]), format!("{}…", "a".repeat(32)));
        assert_eq!(ip_text(&[127, 0, 0, 1]), "127.0.0.1");
        assert_eq!(ip_text(&[0; 16]), "::");
        assert_eq!(ip_text(&[1, 2, 3]), "<3 bytes>");
        let (ca, _) = make_ca();
        assert_eq!(cert_names(&ca), "Mailtalk Test CA");
    }
}
