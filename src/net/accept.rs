//! The server side of TLS, for the embedded server: a certificate (from files, or self-signed
//! at start) and the handshake that accepts a client, with a deadline.

use std::path::Path;
use std::time::Instant;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{HandshakeError, SslAcceptor, SslMethod, SslStream};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509};

use super::conn::Conn;
use super::{CertSummary, NetError, Step, TlsError, TlsInfo, TlsProblem};

/// Days a self-signed certificate is valid.
const SELF_SIGNED_DAYS: u32 = 365;

/// A server certificate and the TLS settings clients are accepted with.
pub struct ServerTls {
    acceptor: SslAcceptor,
    /// The certificate, summarised (its SHA-256 fingerprint is printed at start).
    pub summary: CertSummary,
    /// The certificate in PEM, for clients to trust (`--ca-file`).
    pub pem: Vec<u8>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("summary", &self.summary)
            .finish()
    }
}

fn problem(text: impl Into<String>) -> NetError {
    NetError::Tls(TlsError::new(TlsProblem::Other, text))
}

fn stack(what: &str, e: openssl::error::ErrorStack) -> NetError {
    problem(format!("{what}: {e}"))
}

fn acceptor(cert: &X509, chain: &[X509], key: &PKey<Private>) -> Result<SslAcceptor, NetError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(|e| stack("TLS setup", e))?;
    b.set_certificate(cert)
        .map_err(|e| stack("the certificate", e))?;
    for c in chain {
        b.add_extra_chain_cert(c.clone())
            .map_err(|e| stack("the certificate chain", e))?;
    }
    b.set_private_key(key)
        .map_err(|e| stack("the private key", e))?;
    b.check_private_key()
        .map_err(|e| stack("the key does not match the certificate", e))?;
    Ok(b.build())
}

impl ServerTls {
    /// A certificate chain (leaf first, PEM) and its private key (PEM) from files.
    pub fn from_files(cert: &Path, key: &Path) -> Result<ServerTls, NetError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| problem(format!("cannot read {}: {e}", p.display())))
        };
        let pem = read(cert)?;
        let mut certs = X509::stack_from_pem(&pem)
            .map_err(|e| stack(&format!("{} holds no PEM certificate", cert.display()), e))?
            .into_iter();
        let leaf = certs
            .next()
            .ok_or_else(|| problem(format!("{} holds no certificate", cert.display())))?;
        let chain: Vec<X509> = certs.collect();
        let key_pem = read(key)?;
        let key = PKey::private_key_from_pem(&key_pem)
            .map_err(|e| stack(&format!("{} holds no PEM private key", key.display()), e))?;
        Ok(ServerTls {
            acceptor: acceptor(&leaf, &chain, &key)?,
            summary: CertSummary::from_x509(&leaf),
            pem,
        })
    }

    /// A self-signed certificate (EC P-256) for `names` (host names and IP addresses), made
    /// now; its PEM is what clients trust.
    pub fn self_signed(names: &[String]) -> Result<ServerTls, NetError> {
        let make = || -> Result<(X509, PKey<Private>), openssl::error::ErrorStack> {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
            let cn = names.first().map(String::as_str).unwrap_or("localhost");
            let mut name = X509Name::builder()?;
            name.append_entry_by_nid(Nid::COMMONNAME, cn)?;
            name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "mailtalk serve (self-signed)")?;
            let name = name.build();
            let mut serial = BigNum::new()?;
            serial.rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
            let serial = Asn1Integer::from_bn(&serial)?;
            let mut b = X509::builder()?;
            b.set_version(2)?;
            b.set_serial_number(&serial)?;
            b.set_subject_name(&name)?;
            b.set_issuer_name(&name)?;
            b.set_pubkey(&key)?;
            b.set_not_before(Asn1Time::days_from_now(0)?.as_ref())?;
            b.set_not_after(Asn1Time::days_from_now(SELF_SIGNED_DAYS)?.as_ref())?;
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_cert_sign()
                    .build()?,
            )?;
            b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
            let mut san = SubjectAlternativeName::new();
            for n in names {
                if n.parse::<std::net::IpAddr>().is_ok() {
                    san.ip(n);
                } else {
                    san.dns(n);
                }
            }
            let san = san.build(&b.x509v3_context(None, None))?;
            b.append_extension(san)?;
            b.sign(&key, MessageDigest::sha256())?;
            Ok((b.build(), key))
        };
        let (cert, key) = make().map_err(|e| stack("making a self-signed certificate", e))?;
        let pem = cert
            .to_pem()
            .map_err(|e| stack("writing the certificate", e))?;
        Ok(ServerTls {
            acceptor: acceptor(&cert, &[], &key)?,
            summary: CertSummary::from_x509(&cert),
            pem,
        })
    }
}

/// Runs the server handshake on `conn`.
pub(super) fn accept(
    mut conn: Conn,
    tls: &ServerTls,
    deadline: Instant,
) -> Result<(SslStream<Conn>, TlsInfo), NetError> {
    if Instant::now() >= deadline {
        return Err(NetError::Timeout(Step::Handshake));
    }
    conn.set_deadline(Some(deadline));
    let stream = match tls.acceptor.accept(conn) {
        Ok(s) => s,
        Err(HandshakeError::WouldBlock(_)) => return Err(NetError::Timeout(Step::Handshake)),
        Err(HandshakeError::SetupFailure(e)) => return Err(stack("TLS setup", e)),
        Err(HandshakeError::Failure(mid)) => {
            return Err(problem(format!("TLS handshake failed: {}", mid.error())))
        }
    };
    let ssl = stream.ssl();
    let info = TlsInfo {
        version: ssl.version_str().to_string(),
        cipher: ssl
            .current_cipher()
            .map(|c| c.name().to_string())
            .unwrap_or_default(),
        sni: ssl
            .servername(openssl::ssl::NameType::HOST_NAME)
            .map(str::to_string),
        verify_name: String::new(),
        verified: false,
        verify_error: None,
        chain: Vec::new(),
        alpn: None,
    };
    Ok((stream, info))
}
