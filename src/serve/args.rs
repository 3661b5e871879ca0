//! The flags of `mailtalk serve` (also the server half of `mailtalk demo`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where a listener goes: an address, or none (`off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen(pub Option<std::net::SocketAddr>);

/// Where a listener goes: `HOST:PORT`, or `off`.
pub fn parse_listen(s: &str) -> Result<Listen, String> {
    if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
        return Ok(Listen(None));
    }
    let text = if s.starts_with(':') {
        format!("127.0.0.1{s}")
    } else {
        s.to_string()
    };
    text.parse::<std::net::SocketAddr>()
        .map(|a| Listen(Some(a)))
        .map_err(|_| {
            format!("expected ADDRESS:PORT (like 127.0.0.1:2525 or [::1]:2525) or off, not {s:?}")
        })
}

/// `--drop-after PHASE`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropAfter {
    /// Right after accepting, before the greeting
    Connect,
    Greeting,
    Ehlo,
    Mail,
    Rcpt,
    /// After the 354 that starts the message data (or the first BDAT chunk)
    Data,
    /// After the reply to the end of the message data
    Eod,
}

/// Where the embedded server listens, what it accepts, where it stores, how it misbehaves.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// SMTP listener (STARTTLS offered); `off` for none
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2525", value_parser = parse_listen)]
    pub smtp: Listen,

    /// IMAP listener (STARTTLS offered); `off` for none
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1143", value_parser = parse_listen)]
    pub imap: Listen,

    /// POP3 listener (STLS offered); `off` for none
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1110", value_parser = parse_listen)]
    pub pop3: Listen,

    /// SMTP over implicit TLS (like port 465)
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub smtps: Option<Listen>,

    /// IMAP over implicit TLS (like port 993)
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub imaps: Option<Listen>,

    /// POP3 over implicit TLS (like port 995)
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub pop3s: Option<Listen>,

    /// LMTP listener (RFC 2033: LHLO, one reply per recipient)
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub lmtp: Option<Listen>,

    /// The name in greetings and replies
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    pub hostname: String,

    /// TLS certificate chain (PEM, leaf first); without it a self-signed certificate is made
    /// at start
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Private key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Where to write the self-signed certificate (PEM) for clients to trust with --ca-file
    /// [default: mailtalk-serve-PID.pem in the temporary directory, removed when the server
    /// stops]
    #[arg(long, value_name = "FILE")]
    pub cert_out: Option<PathBuf>,

    /// Accept only this user (repeatable): USER:PASSWORD, or USER alone with the password in
    /// the environment variable MAILTALK_SERVE_PASSWORD. Without --user any credentials are
    /// accepted (SCRAM-SHA-256 then is not offered: it needs the password)
    #[arg(long, value_name = "USER:PASSWORD")]
    pub user: Vec<String>,

    /// Every login sees every message (instead of one mailbox per recipient address, logged
    /// in as that address)
    #[arg(long)]
    pub catch_all: bool,

    /// Keep at most N messages (in all), dropping the oldest first
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_messages: usize,

    /// In memory, keep at most this many bytes of messages (in all), dropping the oldest first
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub max_store: u64,

    /// Keep mail in Maildir under DIR (kept across restarts, readable by other mail tools)
    /// instead of in memory
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,

    /// Keep no mail: messages are accepted (after every check and fault injection, as
    /// always), logged and counted, then dropped; IMAP and POP3 show empty mailboxes. Memory
    /// stays flat whatever the size: only the start of each message is held (for the log's
    /// subject)
    #[arg(long, conflicts_with = "maildir")]
    pub discard: bool,

    /// Refuse recipients matching REGEX (case-insensitive) with 550 5.1.1
    #[arg(long, value_name = "REGEX")]
    pub reject_rcpt: Option<String>,

    /// Refuse senders matching REGEX (case-insensitive) with 550 5.1.0
    #[arg(long, value_name = "REGEX")]
    pub reject_from: Option<String>,

    /// Greylist: answer 451 4.7.1 to the first try of each client address, sender and
    /// recipient; a retry passes
    #[arg(long)]
    pub greylist: bool,

    /// Fail this share of MAIL, RCPT and end-of-data replies at random (0.0-1.0), half with
    /// 451 4.3.0 and half with 421 4.3.0 (closing)
    #[arg(long, value_name = "P", value_parser = parse_rate)]
    pub tempfail_rate: Option<f64>,

    /// Wait MS milliseconds before each reply
    #[arg(long, value_name = "MS")]
    pub delay: Option<u64>,

    /// Largest message in bytes (advertised in SIZE; larger ones get 552 5.3.4)
    #[arg(long, value_name = "BYTES", default_value_t = 128 * 1024 * 1024)]
    pub max_size: u64,

    /// Close SMTP sessions right after this phase
    #[arg(long, value_enum, value_name = "PHASE")]
    pub drop_after: Option<DropAfter>,

    /// Refuse mail, logins and mailbox access before STARTTLS
    #[arg(long)]
    pub require_tls: bool,

    /// Refuse mail before AUTH
    #[arg(long)]
    pub require_auth: bool,

    /// Allow passwords over plaintext connections from other hosts (always allowed on
    /// loopback)
    #[arg(long)]
    pub allow_plaintext_auth: bool,

    /// At most N sessions at once; more get 421 (IMAP: BYE, POP3: -ERR)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_sessions: usize,

    /// Seconds a client may take to send each command
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub command_timeout: u64,

    /// Seconds a client may take to send a whole message (DATA, BDAT)
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub data_timeout: u64,

    /// The log as JSON Lines (one object per session, message and line)
    #[arg(long)]
    pub json: bool,

    /// Log every line each client sent and received (passwords redacted), with the bytes
    /// that smuggling relies on (bare LF, bare CR, NUL, unstuffed dots) flagged
    #[arg(long)]
    pub log_sessions: bool,

    /// Seed for --tempfail-rate, to repeat a run
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("expected a number from 0 to 1, not {s:?}")),
    }
}

/// The flags of `mailtalk demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// The full-screen view, with the server's inbox (F9 or :inbox)
    #[arg(long)]
    pub tui: bool,

    /// Where the embedded server writes its log (every line of every session)
    /// [default: mailtalk-demo-PID.log in the temporary directory]
    #[arg(long, value_name = "FILE")]
    pub server_log: Option<PathBuf>,
}
