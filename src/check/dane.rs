//! DANE for SMTP (RFC 7672, with RFC 6698 and RFC 7671): TLSA records, and whether a server's
//! certificate chain matches them.
//!
//! For SMTP only two certificate usages count: DANE-TA(2), a trust anchor that must appear in
//! the chain the server presents (not as the leaf, unless the chain is that one certificate),
//! and DANE-EE(3), the server's own certificate or key, whatever its names and dates. PKIX-TA(0)
//! and PKIX-EE(1) records are "unusable" (RFC 7672 §3.1.3); so is any record with an unknown
//! usage, selector or matching type, or data of the wrong length. A server whose TLSA records
//! are all unusable is treated as if it had none.

use openssl::hash::{hash, MessageDigest};
use openssl::x509::X509;

/// Certificate usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    PkixTa,
    PkixEe,
    DaneTa,
    DaneEe,
    Other(u8),
}

/// What of a certificate is matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The whole certificate (DER).
    Cert,
    /// Its SubjectPublicKeyInfo (DER).
    Spki,
    Other(u8),
}

/// How it is matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matching {
    Exact,
    Sha256,
    Sha512,
    Other(u8),
}

/// One TLSA record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: Usage,
    pub selector: Selector,
    pub matching: Matching,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// From the record's wire RDATA: usage, selector, matching type, then the data.
    pub fn from_rdata(rdata: &[u8]) -> Option<Tlsa> {
        let (&[u, s, m], data) = rdata.split_first_chunk::<3>()?;
        Some(Tlsa::new(u, s, m, data.to_vec()))
    }

    /// From the presentation format: `3 1 1 fb0d70a7…` (the hex may be split by spaces).
    pub fn parse(text: &str) -> Result<Tlsa, String> {
        let mut words = text.split_ascii_whitespace();
        let mut number = |what: &str| -> Result<u8, String> {
            let w = words
                .next()
                .ok_or_else(|| format!("TLSA record {text:?}: no {what}"))?;
            w.parse()
                .map_err(|_| format!("TLSA record {text:?}: {what} {w:?} is not 0-255"))
        };
        let (u, s, m) = (
            number("usage")?,
            number("selector")?,
            number("matching type")?,
        );
        let hex: String = words.collect();
        let data = decode_hex(&hex)
            .ok_or_else(|| format!("TLSA record {text:?}: the data is not hexadecimal"))?;
        Ok(Tlsa::new(u, s, m, data))
    }

    fn new(u: u8, s: u8, m: u8, data: Vec<u8>) -> Tlsa {
        Tlsa {
            usage: match u {
                0 => Usage::PkixTa,
                1 => Usage::PkixEe,
                2 => Usage::DaneTa,
                3 => Usage::DaneEe,
                n => Usage::Other(n),
            },
            selector: match s {
                0 => Selector::Cert,
                1 => Selector::Spki,
                n => Selector::Other(n),
            },
            matching: match m {
                0 => Matching::Exact,
                1 => Matching::Sha256,
                2 => Matching::Sha512,
                n => Matching::Other(n),
            },
            data,
        }
    }

    /// Why the record is unusable for SMTP, or `None` when it is usable.
    pub fn unusable(&self) -> Option<&'static str> {
        match self.usage {
            Usage::PkixTa | Usage::PkixEe => {
                return Some("PKIX usages (0, 1) are not used for SMTP (RFC 7672 §3.1.3)")
            }
            Usage::Other(_) => return Some("unknown certificate usage"),
            Usage::DaneTa | Usage::DaneEe => {}
        }
        if matches!(self.selector, Selector::Other(_)) {
            return Some("unknown selector");
        }
        match (self.matching, self.data.len()) {
            (Matching::Other(_), _) => Some("unknown matching type"),
            (Matching::Sha256, n) if n != 32 => Some("SHA-256 data that is not 32 bytes"),
            (Matching::Sha512, n) if n != 64 => Some("SHA-512 data that is not 64 bytes"),
            (Matching::Exact, 0) => Some("empty data"),
            _ => None,
        }
    }

    /// Whether `cert` is what the record describes (its selector and matching type applied).
    pub fn matches(&self, cert: &X509) -> bool {
        let selected = match self.selector {
            Selector::Cert => cert.to_der().ok(),
            Selector::Spki => cert
                .public_key()
                .ok()
                .and_then(|k| k.public_key_to_der().ok()),
            Selector::Other(_) => None,
        };
        let Some(selected) = selected else {
            return false;
        };
        let digest = |md| hash(md, &selected).ok().map(|d| d.to_vec());
        let value = match self.matching {
            Matching::Exact => Some(selected.clone()),
            Matching::Sha256 => digest(MessageDigest::sha256()),
            Matching::Sha512 => digest(MessageDigest::sha512()),
            Matching::Other(_) => None,
        };
        value.is_some_and(|v| v == self.data)
    }
}

impl std::fmt::Display for Tlsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let u = match self.usage {
            Usage::PkixTa => 0,
            Usage::PkixEe => 1,
            Usage::DaneTa => 2,
            Usage::DaneEe => 3,
            Usage::Other(n) => n,
        };
        let s = match self.selector {
            Selector::Cert => 0,
            Selector::Spki => 1,
            Selector::Other(n) => n,
        };
        let m = match self.matching {
            Matching::Exact => 0,
            Matching::Sha256 => 1,
            Matching::Sha512 => 2,
            Matching::Other(n) => n,
        };
        write!(f, "{u} {s} {m} {}", hex::encode(&self.data))
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    hex::decode(hex).ok()
}

/// How a chain fared against a set of TLSA records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No usable record: DANE does not apply (the other checks decide).
    NoUsableRecords,
    /// A usable record matched: which one (its index in the set) and which certificate of the
    /// chain (0 is the server's own).
    Matched { record: usize, position: usize },
    /// Usable records exist and none matched: a DANE-aware sender does not deliver.
    NoMatch,
}

/// Judges the chain the server presented (its own certificate first) against the TLSA
/// records of its name. DANE-EE records match the server's certificate only; DANE-TA records
/// match a certificate above it (or the only one, for a chain of one). Whether the chain's
/// signatures lead to a DANE-TA anchor and whether the server's certificate names the host
/// are for the TLS verification to tell (RFC 7672 §3.2: names matter for DANE-TA only).
pub fn check(records: &[Tlsa], chain: &[X509]) -> Verdict {
    let usable: Vec<(usize, &Tlsa)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.unusable().is_none())
        .collect();
    if usable.is_empty() {
        return Verdict::NoUsableRecords;
    }
    for (i, r) in &usable {
        let positions: Vec<usize> = match r.usage {
            Usage::DaneEe => vec![0],
            _ if chain.len() == 1 => vec![0],
            _ => (1..chain.len()).collect(),
        };
        for p in positions {
            if chain.get(p).is_some_and(|c| r.matches(c)) {
                return Verdict::Matched {
                    record: *i,
                    position: p,
                };
            }
        }
    }
    Verdict::NoMatch
}

#[cfg(test)]
mod tests {
    use super::*;

    const EE: &[u8] = include_bytes!("testdata/ee.pem");
    /// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`
    const SPKI_SHA256: &str = "fb0d70a7d4fccf10dd7e131f89ebff4b02c18854ca86532368024896e32441f3";
    /// `openssl x509 -outform DER | sha256sum`
    const CERT_SHA256: &str = "ae6c8778068fe38fd0a873bd150b72c72ee4cccf477a97f531c5ab6250528947";

    fn ee() -> X509 {
        X509::from_pem(EE).unwrap()
    }

    #[test]
    fn records_parse_from_text_and_wire_and_print_back() {
        let r = Tlsa::parse(&format!("3 1 1 {}", SPKI_SHA256)).unwrap();
        assert_eq!(
            (r.usage, r.selector, r.matching),
            (Usage::DaneEe, Selector::Spki, Matching::Sha256)
        );
        assert_eq!(r.to_string(), format!("3 1 1 {SPKI_SHA256}"));
        // Hex split by spaces, upper case.
        let split = format!(
            "2 0 1 {} {}",
            &CERT_SHA256[..10].to_uppercase(),
            &CERT_SHA256[10..]
        );
        assert_eq!(Tlsa::parse(&split).unwrap().data.len(), 32);
        let mut wire = vec![3, 1, 1];
        wire.extend(decode_hex(SPKI_SHA256).unwrap());
        assert_eq!(Tlsa::from_rdata(&wire).unwrap(), r);
        assert_eq!(Tlsa::from_rdata(&[3, 1]), None);
        assert!(Tlsa::parse("3 1").is_err());
        assert!(Tlsa::parse("3 1 1 xyz").is_err());
        assert!(Tlsa::parse("3 1 1 abc").is_err());
        assert!(Tlsa::parse("300 1 1 ab").is_err());
    }

    #[test]
    fn only_dane_usages_with_known_parameters_are_usable() {
        let ok = |t: &str| Tlsa::parse(t).unwrap().unusable().is_none();
        assert!(ok(&format!("3 1 1 {SPKI_SHA256}")));
        assert!(ok(&format!("2 0 1 {CERT_SHA256}")));
        assert!(!ok(&format!("1 1 1 {SPKI_SHA256}")));
        assert!(!ok(&format!("0 0 1 {CERT_SHA256}")));
        assert!(!ok(&format!("4 1 1 {SPKI_SHA256}")));
        assert!(!ok(&format!("3 2 1 {SPKI_SHA256}")));
        assert!(!ok(&format!("3 1 3 {SPKI_SHA256}")));
        assert!(!ok("3 1 1 abcd"));
        assert!(!ok(&format!("3 1 2 {SPKI_SHA256}")));
    }

    #[test]
    fn dane_ee_matches_the_servers_own_certificate() {
        let chain = [ee()];
        let spki = Tlsa::parse(&format!("3 1 1 {SPKI_SHA256}")).unwrap();
        let cert = Tlsa::parse(&format!("3 0 1 {CERT_SHA256}")).unwrap();
        let full = Tlsa::parse(&format!("3 0 0 {}", hex::encode(ee().to_der().unwrap()))).unwrap();
        for r in [&spki, &cert, &full] {
            assert!(r.matches(&chain[0]), "{r}");
        }
        assert_eq!(
            check(std::slice::from_ref(&spki), &chain),
            Verdict::Matched {
                record: 0,
                position: 0
            }
        );
        // A digest of something else does not match.
        let other = Tlsa::parse(&format!("3 1 1 {CERT_SHA256}")).unwrap();
        assert_eq!(
            check(std::slice::from_ref(&other), &chain),
            Verdict::NoMatch
        );
        // Unusable records are as none; a usable one among them still counts.
        let pkix = Tlsa::parse(&format!("1 1 1 {SPKI_SHA256}")).unwrap();
        assert_eq!(
            check(std::slice::from_ref(&pkix), &chain),
            Verdict::NoUsableRecords
        );
        assert_eq!(
            check(&[pkix, other.clone(), spki], &chain),
            Verdict::Matched {
                record: 2,
                position: 0
            }
        );
        assert_eq!(check(&[], &chain), Verdict::NoUsableRecords);
    }

    #[test]
    fn dane_ta_matches_above_the_servers_certificate() {
        // A chain of two where the anchor is the second certificate: the same test certificate
        // stands in for both, so a DANE-TA record matches at position 1, never at 0.
        let chain = [ee(), ee()];
        let ta = Tlsa::parse(&format!("2 0 1 {CERT_SHA256}")).unwrap();
        assert_eq!(
            check(std::slice::from_ref(&ta), &chain),
            Verdict::Matched {
                record: 0,
                position: 1
            }
        );
        // The anchor's record does not match the server's own certificate in a longer chain.
        let other = rcgen::generate_simple_self_signed(vec!["ca.example.test".into()]).unwrap();
        let other = X509::from_der(other.cert.der()).unwrap();
        assert_eq!(
            check(std::slice::from_ref(&ta), &[ee(), other.clone()]),
            Verdict::NoMatch
        );
        // A DANE-EE record does not match a certificate above the server's.
        let ee_rec = Tlsa::parse(&format!("3 0 1 {CERT_SHA256}")).unwrap();
        assert_eq!(
            check(std::slice::from_ref(&ee_rec), &[other, ee()]),
            Verdict::NoMatch
        );
        // A chain of one: the anchor may be that certificate.
        assert_eq!(
            check(std::slice::from_ref(&ta), &chain[..1]),
            Verdict::Matched {
                record: 0,
                position: 0
            }
        );
    }
}
