//! `--tls-info`: one connection per TLS version, each offering that version alone, to find
//! which the server accepts and with what cipher.

use crate::net::{can_offer, NetError, TlsInfo, TlsOptions, TlsProblem, TlsVersion, PROBE_CIPHERS};
use crate::target::TlsMode;

use super::session::{Options, Session, SessionError};

/// What one version's probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The handshake completed: the cipher negotiated, and what else it did (the chain the
    /// server presented, noted but not enforced).
    Accepted {
        cipher: String,
        tls: Option<Box<TlsInfo>>,
    },
    /// The handshake failed: OpenSSL's words.
    Refused(String),
    /// The local library cannot offer this version at all: why.
    NotOffered(String),
}

/// One version and what its probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub version: TlsVersion,
    pub outcome: Outcome,
}

/// The options of the probe for `version`: that version alone, security level 0 and every
/// cipher (unless `--ciphers` chose), certificates noted but not enforced, and STARTTLS when
/// the target is not implicit TLS.
pub fn probe_options(opts: &Options, version: TlsVersion) -> Options {
    let mut o = opts.clone();
    if o.target.tls == TlsMode::Plain {
        o.target.tls = TlsMode::StartTls;
    }
    o.tls = TlsOptions {
        insecure: true,
        min_version: Some(version),
        max_version: Some(version),
        ciphers: Some(
            opts.tls
                .ciphers
                .clone()
                .unwrap_or_else(|| PROBE_CIPHERS.to_string()),
        ),
        security_level: Some(0),
        ..opts.tls.clone()
    };
    o
}

/// Probes every version, oldest first. A connection that fails before TLS (the server is not
/// there, a timeout, a STARTTLS refused) ends the probes: what the probes before it found,
/// and that error.
pub fn tls_versions(opts: &Options) -> (Vec<Probe>, Option<SessionError>) {
    let mut found = Vec::new();
    for version in TlsVersion::ALL {
        let outcome = match can_offer(version) {
            Err(why) => Outcome::NotOffered(why),
            Ok(()) => match probe(&probe_options(opts, version)) {
                Ok(o) => o,
                Err(e) => return (found, Some(e)),
            },
        };
        found.push(Probe { version, outcome });
    }
    (found, None)
}

fn probe(opts: &Options) -> Result<Outcome, SessionError> {
    let mut quiet = |_| {};
    match Session::connect(opts.clone(), &mut quiet) {
        Ok(mut session) => {
            let tls = session.tls_info().cloned().map(Box::new);
            let cipher = tls.as_ref().map(|i| i.cipher.clone()).unwrap_or_default();
            // Only the handshake mattered; how the session ends does not.
            let _ = session.quit(&mut quiet);
            Ok(Outcome::Accepted { cipher, tls })
        }
        Err(SessionError::Net(NetError::Tls(e)))
            if matches!(
                e.problem,
                TlsProblem::Version | TlsProblem::Closed | TlsProblem::Other
            ) =>
        {
            // The reason alone, without the advice about --tls-min and --tls-max.
            let reason = match e.text.split_once(": no TLS version") {
                Some((reason, _)) => reason.to_string(),
                None => e.text,
            };
            Ok(Outcome::Refused(reason))
        }
        Err(SessionError::Net(NetError::Certificate(e))) => Ok(Outcome::Refused(e.text)),
        Err(e) => Err(e),
    }
}
