//! mailtalk: an interactive client for SMTP, LMTP, IMAP and POP3.
//!
//! Layers, from the top (imports point down this list):
//! - [`cli`]: the command-line flags (clap), also the source of the man page and completions.
//! - front ends: [`repl`] (the rustyline glue) and [`batch`] (piped input, scripts, one-shot
//!   send); they only read lines and show what the controller gives them.
//! - [`controller`]: meta-commands, scripts, recording, input modes, secrets, cancelling, the
//!   macros; every front end drives it.
//! - [`output`]: where events go (screen lines, transcript, recorder, `--json`).
//! - [`script`]: the input language (expectations, variables, script files).
//! - [`engine`]: one session over a byte stream and a protocol machine; reports events.
//! - [`explain`]: what codes and reply texts mean (data tables).
//! - [`message`]: the streamed message the send macro builds.
//! - [`render`]: spans with roles, escaping, the colour theme.
//! - [`proto`]: sans-I/O protocols, each grammar once, client and server side.
//! - [`net`]: TCP, TLS and STARTTLS transport with deadlines.
//! - [`target`], [`secret`], [`excerpt`]: the TARGET argument; the secret type; quoting
//!   the peer's text in messages.

#![forbid(unsafe_code)]
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

pub mod batch;
pub mod cli;
pub mod controller;
pub mod engine;
pub mod excerpt;
pub mod explain;
pub mod message;
pub mod net;
pub mod output;
pub mod proto;
pub mod render;
pub mod repl;
pub mod script;
pub mod secret;
pub mod target;
