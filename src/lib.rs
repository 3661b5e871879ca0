//! mailtalk: an interactive client for SMTP, LMTP, IMAP and POP3.
//!
//! Layers (data flows down, events flow up):
//! - [`proto`]: sans-I/O protocol machines (bytes in, events out).
//! - [`net`]: TCP, TLS and STARTTLS transport with deadlines.
//! - [`engine`]: one session engine that every front end drives.
//! - [`render`]: the only place that turns server bytes into terminal text and colours.

// Server bytes reach most of this crate: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod cli;
pub mod engine;
pub mod explain;
pub mod message;
pub mod net;
pub mod proto;
pub mod render;
pub mod repl;
pub mod script;
pub mod secret;
pub mod target;
