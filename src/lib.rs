//! mailtalk: an interactive client for SMTP, LMTP, IMAP and POP3.
//!
//! Layers, from the top; a module imports only modules of the layers below its own (checked
//! by `tests/it/layers.rs`):
//! 1. [`cli`]: the command-line flags (clap), also the source of the man page and completions.
//!    [`tui`], the full-screen front end, sits just below it and above the other front ends:
//!    `demo --tui` shows the embedded server's inbox, and it shares the REPL's history.
//! 2. front ends: [`repl`] (the rustyline glue) and [`batch`] (piped input, scripts); they only
//!    read lines and show what the controller gives them (one-shot send is the controller's
//!    `oneshot`, called from main). [`serve`]: the embedded server's listeners and sessions,
//!    driving the server machines of `proto`.
//! 3. [`controller`]: meta-commands, scripts, recording, input modes, secrets, cancelling, the
//!    macros; every front end drives it.
//! 4. [`output`]: where events go (screen lines, transcript, recorder, `--json`).
//! 5. [`engine`]: one session over a byte stream and a protocol machine; reports events.
//!    [`script`]: the input language (expectations, variables, script files).
//! 6. [`explain`]: what codes and reply texts mean (data tables). [`message`]: the streamed
//!    message the send macro builds. [`render`]: spans with roles, escaping, the colour theme.
//!    [`target`]: the TARGET argument. [`check`]: DANE, MTA-STS and TLS-RPT judged on what
//!    was looked up.
//! 7. [`proto`]: sans-I/O protocols, each grammar once, client and server side.
//! 8. [`net`]: TCP, TLS and STARTTLS transport with deadlines.
//! 9. [`secret`], [`excerpt`]: the secret type; quoting the peer's text in messages.

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
pub mod check;
pub mod cli;
pub mod controller;
pub mod engine;
pub mod excerpt;
pub mod explain;
pub mod inspect;
pub mod message;
pub mod net;
pub mod output;
pub mod proto;
pub mod render;
pub mod repl;
pub mod script;
pub mod secret;
pub mod serve;
pub mod target;
pub mod tui;
