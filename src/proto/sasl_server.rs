//! SASL from the server side (RFC 4422): PLAIN, LOGIN, CRAM-MD5 and SCRAM-SHA-256 exchanges,
//! checked against [`Credentials`](super::server::Credentials).
