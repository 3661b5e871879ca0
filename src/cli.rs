//! Command-line interface: the one source of truth for flags, also used to generate the man page
//! and shell completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::proto::Protocol;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "mailtalk",
    version,
    about = "Talk to SMTP, LMTP, IMAP and POP3 servers by hand, over TCP, TLS or STARTTLS",
    long_about = "mailtalk is an interactive client for SMTP, LMTP, IMAP and POP3. It connects over plain \
TCP, implicit TLS or STARTTLS (verifying certificates by default), shows every line on the wire \
with highlighting, and knows the protocols: CRLF, IMAP tags and literals, dot-stuffing, \
multi-line replies, re-asking capabilities after STARTTLS.\n\n\
When standard input is a terminal mailtalk is a REPL with history and completion; otherwise it \
reads the same input language line by line, sends each line and waits for its reply, and at \
the end of input says QUIT (or LOGOUT) for you.",
    after_help = "Examples:\n  mailtalk smtp://127.0.0.1:25\n  mailtalk --starttls smtp://mx.example.com\n  \
mailtalk imaps://imap.example.com\n  printf 'EHLO me.test\\nQUIT\\n' | mailtalk smtp://127.0.0.1:25\n\n\
Lines are prefixed C: (sent) / S: (received) in plaintext, C# / S# inside verified TLS and \
C! / S! inside TLS that was not verified. Type :help in a session for the meta-commands.\n\n\
Exit status: 0 session ran, 2 usage error, 3 connection failed or lost, 4 TLS failure \
(handshake, certificate, STARTTLS not offered or refused), 5 timeout, 6 protocol violation, \
7 server closed the connection before the input ended, 8 message rejected (one-shot send), \
9 authentication failed, 1 script expectation failed."
)]
#[command(subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Where to connect: SCHEME://HOST[:PORT] with scheme smtp (25), submission (587, STARTTLS
    /// required), smtps (465), lmtp (24), imap (143), imaps (993), pop3 (110) or pop3s (995);
    /// or HOST[:PORT] with --protocol. IPv6 literals go in brackets: smtp://[::1]:25
    #[arg(value_name = "TARGET", required_unless_present = "generate")]
    pub target: Option<String>,

    /// Protocol for a TARGET without scheme
    #[arg(short = 'p', long, value_enum, value_name = "PROTOCOL")]
    pub protocol: Option<ProtocolArg>,

    /// Implicit TLS for a TARGET without scheme (like smtps, imaps, pop3s)
    #[arg(long, conflicts_with = "starttls")]
    pub tls: bool,

    /// Upgrade with STARTTLS (STLS for POP3) right after the greeting; any failure stops the
    /// session before anything else is sent
    #[arg(long)]
    pub starttls: bool,

    /// Do not verify the certificate chain or host name (said loudly on every line: C! / S!)
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Extra trust anchors (PEM file) for certificate verification
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Server name to send in SNI and to verify the certificate against (default: the host)
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,

    /// Seconds allowed for connecting, the TLS handshake and each reply
    #[arg(short = 't', long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Name to send with EHLO/LHLO when mailtalk sends it itself (--starttls)
    #[arg(long, value_name = "NAME")]
    pub ehlo: Option<String>,

    /// When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    /// Use IPv4 addresses only
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Use IPv6 addresses only
    #[arg(short = '6')]
    pub ipv6: bool,

    /// Do not read or write the history file
    #[arg(long)]
    pub no_history: bool,

    /// Run a script (the input language plus :expect, :capture, :sleep, :include); - reads
    /// standard input. Exit status 1 when an expectation fails
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,

    /// With --script: report every failed expectation instead of stopping at the first
    #[arg(long)]
    pub keep_going: bool,

    /// Write what is typed as a replayable script, with an :expect after each reply and
    /// secrets as ${MAILTALK_PASSWORD}
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Write a transcript with timestamps (secrets redacted)
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,

    /// Print JSON Lines events (connected, sent, received, reply, tls, expect, error) instead
    /// of the transcript
    #[arg(long)]
    pub json: bool,

    /// Show how long each reply took (to its first byte and to its end), the connection and
    /// TLS handshakes; :stats sums up
    #[arg(long)]
    pub timing: bool,

    /// Show the certificate chain and TLS details when TLS starts (like :tls)
    #[arg(long)]
    pub show_cert: bool,

    /// Do not print a short explanation after replies that are not a plain success
    #[arg(long)]
    pub no_explain: bool,

    #[command(flatten)]
    pub auth: AuthArgs,

    #[command(flatten)]
    pub send: SendArgs,

    /// With --from/--to: stop after this step (connect, banner, ehlo, tls, auth, mail, rcpt,
    /// data), say QUIT and exit 0 if every step so far succeeded
    #[arg(long, value_enum, value_name = "STEP")]
    pub quit_after: Option<QuitAfter>,

    /// Write shell completions and the man page into DIR, then exit
    #[arg(long, value_name = "DIR", hide = true)]
    pub generate: Option<PathBuf>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Explain reply codes: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP
    /// ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line
    /// ("550 5.7.1 Relaying denied")
    Explain {
        /// Codes, or the words of one reply line
        #[arg(value_name = "TOKEN", required = true)]
        tokens: Vec<String>,

        /// Protocol of a pasted reply line (guessed when not given)
        #[arg(short = 'p', long, value_enum, value_name = "PROTOCOL")]
        protocol: Option<ProtocolArg>,
    },
}

/// Authentication options (also used by `:auth`).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Authentication")]
pub struct AuthArgs {
    /// Authenticate after connecting: a SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1,
    /// SCRAM-SHA-256, XOAUTH2, OAUTHBEARER), IMAP-LOGIN, USER or APOP (POP3); without a value,
    /// the strongest the server offers. The secret comes from MAILTALK_PASSWORD,
    /// --password-cmd or a prompt without echo, never from the command line
    #[arg(long, value_name = "MECH", num_args = 0..=1, default_missing_value = "auto")]
    pub auth: Option<String>,

    /// User name to authenticate as (implies --auth)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Authorisation identity (SASL authzid) to act as
    #[arg(long, value_name = "ID")]
    pub authzid: Option<String>,

    /// Command whose standard output is the password or token (e.g. a password manager)
    #[arg(long, value_name = "CMD")]
    pub password_cmd: Option<String>,

    /// Allow passwords over a connection without TLS to a host that is not on loopback
    #[arg(long)]
    pub allow_plaintext_auth: bool,
}

/// The send macro's options: `--from`/`--to` on the command line send one message and exit
/// (like `:send` in a session).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Sending a message")]
pub struct SendArgs {
    /// Envelope sender (MAIL FROM) and From header; with --to, send one message and exit
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,

    /// Recipient (RCPT TO and To header); repeat for several
    #[arg(long, value_name = "ADDRESS")]
    pub to: Vec<String>,

    /// Subject header (default: mailtalk test)
    #[arg(long, value_name = "TEXT")]
    pub subject: Option<String>,

    /// Body text (default: a short test message)
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,

    /// The whole message: @FILE, - for standard input, or the text itself; missing Date,
    /// Message-ID, From, To and Subject headers are added; streamed, never loaded whole
    #[arg(long, value_name = "@FILE|-|TEXT")]
    pub data: Option<String>,

    /// Extra header, e.g. "X-Test: 1"; repeat for several
    #[arg(long, value_name = "HEADER")]
    pub header: Vec<String>,

    /// Attach a file (MIME multipart, base64); repeat for several
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,

    /// Declare BODY=8BITMIME
    #[arg(long = "8bit")]
    pub eight_bit: bool,

    /// Declare SMTPUTF8 (an error when the server does not offer it)
    #[arg(long)]
    pub smtputf8: bool,

    /// DSN: NEVER, or a comma list of SUCCESS, FAILURE, DELAY
    #[arg(long, value_name = "WHEN")]
    pub notify: Option<String>,

    /// DSN: return FULL message or HDRS only
    #[arg(long, value_name = "FULL|HDRS")]
    pub ret: Option<String>,

    /// DSN envelope identifier
    #[arg(long, value_name = "ID")]
    pub envid: Option<String>,

    /// Add SIZE= with the message size when the server offers SIZE
    #[arg(long)]
    pub size: bool,

    /// Send with BDAT when the server offers CHUNKING
    #[arg(long)]
    pub bdat: bool,

    /// Pipeline MAIL, RCPT and DATA when the server offers PIPELINING
    #[arg(long)]
    pub pipeline: bool,
}

impl SendArgs {
    pub fn wants_send(&self) -> bool {
        self.from.is_some() || !self.to.is_empty()
    }
}

/// Where `--quit-after` stops.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum QuitAfter {
    Connect,
    Banner,
    Ehlo,
    Tls,
    Auth,
    Mail,
    Rcpt,
    Data,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolArg {
    Smtp,
    Lmtp,
    Imap,
    Pop3,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Protocol {
        match p {
            ProtocolArg::Smtp => Protocol::Smtp,
            ProtocolArg::Lmtp => Protocol::Lmtp,
            ProtocolArg::Imap => Protocol::Imap,
            ProtocolArg::Pop3 => Protocol::Pop3,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Exit statuses (documented in the README and the man page).
pub mod exit {
    pub const OK: i32 = 0;
    pub const EXPECTATION: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const CONNECT: i32 = 3;
    pub const TLS: i32 = 4;
    pub const TIMEOUT: i32 = 5;
    pub const PROTOCOL: i32 = 6;
    pub const CLOSED: i32 = 7;
    pub const REJECTED: i32 = 8;
    pub const AUTH_FAILED: i32 = 9;
}

/// Writes completions for every supported shell and the man page.
pub fn generate(dir: &std::path::Path) -> std::io::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let comp = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&comp)?;
    std::fs::create_dir_all(&man)?;
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut cmd = Cli::command();
        clap_complete::generate_to(shell, &mut cmd, "mailtalk", &comp)?;
    }
    let man_page = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    man_page.render_title(&mut out)?;
    man_page.render_name_section(&mut out)?;
    man_page.render_synopsis_section(&mut out)?;
    man_page.render_description_section(&mut out)?;
    man_page.render_options_section(&mut out)?;
    out.extend_from_slice(MAN_SECTIONS.as_bytes());
    man_page.render_version_section(&mut out)?;
    std::fs::write(man.join("mailtalk.1"), out)?;
    Ok(())
}

/// Man page sections beyond what clap knows (roff).
const MAN_SECTIONS: &str = r#".SH TRANSCRIPT
Every line on the wire is shown once, prefixed by its direction and how it travelled:
.TP
\fBC:\fR, \fBS:\fR
sent by mailtalk, received from the server, in plaintext
.TP
\fBC#\fR, \fBS#\fR
inside TLS whose certificate chain and host name were verified
.TP
\fBC!\fR, \fBS!\fR
inside TLS that was not verified (\fB\-\-insecure\fR)
.TP
\fB**\fR, \fB!!\fR
mailtalk's own information; warnings and errors
.PP
Control bytes from the server are made visible: \fB\ex1b\fR for ESC, \fB\er\fR for a CR not
followed by LF, \fB\e0\fR for NUL, \fB\exNN\fR for other control bytes and invalid UTF\-8,
\fB\eu{85}\fR for C1 controls and characters that hide or reorder text. A trailing \fB\en\fR
marks a line that ended in a bare LF.
.SH META-COMMANDS
.TP
\fB:help\fR
list the meta\-commands and the prefixes
.TP
\fB:starttls\fR
upgrade with STARTTLS (STLS for POP3) now, then ask for capabilities again
.TP
\fB:caps\fR
show what the server advertised
.TP
\fB:quit\fR
send QUIT (LOGOUT for IMAP), wait for the reply and leave
.SH EXIT STATUS
.TP
\fB0\fR
the session ran (4xx, 5xx, NO, BAD and \-ERR replies are data, not errors); every script
expectation held; a one\-shot message was accepted
.TP
\fB1\fR
a script expectation or capture failed; \fBexplain\fR met an unknown code
.TP
\fB2\fR
usage error
.TP
\fB3\fR
connection failed or lost
.TP
\fB4\fR
TLS failure: handshake, certificate or host name, STARTTLS not offered, refused or attacked,
IMAP PREAUTH when STARTTLS is required
.TP
\fB5\fR
timeout (connect, handshake or a reply)
.TP
\fB6\fR
protocol violation: over\-long line or reply, reply cut off by the end of the connection,
invalid IMAP literal
.TP
\fB7\fR
the server closed the connection before the input ended
.TP
\fB8\fR
one\-shot send: the server rejected the message
.TP
\fB9\fR
authentication failed
.SH FILES
.TP
\fI$XDG_DATA_HOME/mailtalk/history\fR
the REPL history (mode 0600); passwords and SASL responses are never written to it
.SH ENVIRONMENT
.TP
\fBNO_COLOR\fR, \fBCLICOLOR_FORCE\fR
turn colours off or force them on when \fB\-\-color auto\fR
"#;
