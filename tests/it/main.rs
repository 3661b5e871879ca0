//! mailtalk's integration tests, one binary: they run the built `mailtalk` against in-process
//! servers (plain, TLS, STARTTLS), hostile servers, and a real Postfix and Dovecot when
//! `.ci/run` (or `tests/servers/run-tests.sh`) has started them.
//!
//! `support` holds everything the tests share: certificates made at test time, the scripted
//! servers, running the binary and reading its output.

mod support;

#[path = "../../fuzz/src/lib.rs"]
mod fuzz_checks;

mod addresses;
mod diagnostics;
mod flows;
mod generated;
mod harness;
mod hostile;
mod imap;
mod layers;
mod lmtp;
mod oneshot;
mod pop3;
mod properties;
mod raw;
mod reach;
mod real_servers;
mod repl;
mod safety;
mod scripts;
mod secrets;
mod serve;
mod smtp;
mod terminal;
mod tls;
mod tls_client;
mod tui;
