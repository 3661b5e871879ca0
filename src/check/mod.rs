//! What a sending MTA checks before it trusts a receiving one, as pure functions over what was
//! looked up or presented: DANE TLSA records against a certificate chain (RFC 7672), MTA-STS
//! records, policies and MX patterns (RFC 8461), TLS-RPT records (RFC 8460). The lookups
//! themselves (DNS, the policy over HTTPS, the STARTTLS handshake) are done elsewhere; these
//! only judge, so that every rule is tested on exact bytes.

pub mod dane;
pub mod mtasts;
pub mod tlsrpt;
