//! Command-line interface: the one source of truth for flags, also used to generate the man page
//! and shell completions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use crate::controller::args::{AuthArgs, QuitAfter, SendArgs};
use crate::controller::{exit, meta};
use crate::net::TlsVersion;
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
Exit status: 0 session ran, 1 script expectation failed, 2 usage error, 3 connection failed, \
lost or refused, 4 TLS failure, 5 timeout, 6 protocol violation, 7 server closed the \
connection before the input ended, 8 message rejected or a recipient refused, 9 \
authentication failed, 10 input ended inside a message or literal (abandoned). The man page \
says more."
)]
#[command(subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Where to connect: SCHEME://HOST[:PORT] with scheme smtp (25), submission (587, STARTTLS
    /// required), smtps (465), lmtp (24), imap (143), imaps (993), pop3 (110) or pop3s (995);
    /// or HOST[:PORT] with --protocol. IPv6 literals go in brackets: smtp://[::1]:25. A unix
    /// socket: SCHEME+unix:PATH (lmtp+unix:/run/dovecot/lmtp), or unix:PATH with --protocol.
    /// With --pipe, the TARGET may be left out (the protocol is --protocol, default smtp)
    #[arg(value_name = "TARGET", required_unless_present_any = ["generate", "pipe", "mx"])]
    pub target: Option<String>,

    /// Reach DOMAIN the way mail travels (also written as TARGET smtp://@DOMAIN): its MX records
    /// are looked up and shown, and the best is tried first, then the others in order (each
    /// address of each); no MX record means the domain itself (implicit MX), a null MX (RFC
    /// 7505) is said and nothing is tried. The certificate is checked against the MX name
    #[arg(long, value_name = "DOMAIN", conflicts_with_all = ["pipe", "proxy"])]
    pub mx: Option<String>,

    /// The DNS server for MX lookups (IP or IP:PORT; default: the first nameserver of
    /// /etc/resolv.conf)
    #[arg(long, value_name = "ADDR")]
    pub resolver: Option<String>,

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

    /// Client certificate for TLS (PEM; the chain may follow it, and the key may be in the same
    /// file)
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// Private key of --cert (PEM), when it is not in the certificate file
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Oldest TLS version to offer: 1.0, 1.1, 1.2 or 1.3 (OpenSSL offers 1.0 and 1.1 only at
    /// security level 0: add --ciphers 'DEFAULT:@SECLEVEL=0')
    #[arg(long, value_enum, value_name = "VERSION")]
    pub tls_min: Option<TlsVersionArg>,

    /// Newest TLS version to offer: 1.0, 1.1, 1.2 or 1.3
    #[arg(long, value_enum, value_name = "VERSION")]
    pub tls_max: Option<TlsVersionArg>,

    /// Ciphers to offer for TLS 1.2 and older, as an OpenSSL cipher list
    /// (`ECDHE+AESGCM:!aNULL`, `DEFAULT:@SECLEVEL=0`)
    #[arg(long, value_name = "LIST")]
    pub ciphers: Option<String>,

    /// Ciphersuites to offer for TLS 1.3, colon-separated
    /// (`TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256`)
    #[arg(long, value_name = "LIST")]
    pub ciphersuites: Option<String>,

    /// Application protocols to offer with ALPN, most wanted first (`smtp`, `imap`, `pop3`);
    /// the one the server chose is shown with the TLS details
    #[arg(long, value_name = "PROTO[,PROTO]", value_delimiter = ',')]
    pub alpn: Vec<String>,

    /// Report which TLS versions the server accepts, with the cipher of each: one connection
    /// per version 1.0 to 1.3 offering it alone (STARTTLS unless the target is implicit TLS),
    /// at OpenSSL security level 0 so that old versions can be offered, certificates not
    /// checked; then exit (0 when one was accepted, 4 when none was). With --json, one JSON
    /// object: each version's result, cipher, certificate chain and error
    #[arg(long, conflicts_with_all = ["tui", "script", "tls_min", "tls_max"])]
    pub tls_info: bool,

    /// Talk to a command instead of a server: run it with `sh -c` and speak over its standard
    /// input and output (`sendmail -bs`, `dovecot --exec-mail imap`); it is ended when the
    /// session ends
    #[arg(long, value_name = "COMMAND", conflicts_with_all = ["proxy", "proxy_protocol"])]
    pub pipe: Option<String>,

    /// Connect through a proxy: socks5://[USER:PASS@]HOST[:PORT] (SOCKS5, the proxy resolves
    /// the target's name; port 1080) or http://[USER:PASS@]HOST[:PORT] (HTTP CONNECT; port
    /// 8080). The password is never shown; without one in the URL it comes from
    /// MAILTALK_PROXY_PASSWORD
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Send a HAProxy PROXY protocol header (v1 text or v2 binary) before anything else, as a
    /// load balancer in front of the server would
    #[arg(long, value_enum, value_name = "VERSION")]
    pub proxy_protocol: Option<ProxyProtocolArg>,

    /// The client address the PROXY header claims (default: the real local address)
    #[arg(long, value_name = "ADDR:PORT", requires = "proxy_protocol")]
    pub proxy_source: Option<std::net::SocketAddr>,

    /// Seconds allowed for connecting, the TLS handshake and each reply
    #[arg(short = 't', long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Name to send with EHLO/LHLO when mailtalk sends it itself (--starttls)
    #[arg(long, value_name = "NAME")]
    pub ehlo: Option<String>,

    /// When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto, global = true)]
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

    /// Full-screen view (transcript, input line, status bar, panels) instead of the line REPL;
    /// `:tui` switches to it from the REPL
    #[arg(long, conflicts_with_all = ["json", "script"])]
    pub tui: bool,

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

    /// Write the content of every IMAP literal and POP3 body received to FILE, exactly as
    /// received (POP3: dot-unstuffed), instead of showing it; a line per content says how much
    /// went there
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Lines of each literal or body shown (the rest is counted, and :save FILE keeps it); a
    /// number or `all`. Default: 200 when standard output is a terminal, else all
    #[arg(long, value_name = "N|all", value_parser = crate::controller::args::parse_max_show)]
    pub max_show: Option<crate::controller::args::MaxShow>,

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

    /// Raw mode from the start (like :raw on): each input line is sent exactly as typed, with
    /// \r \n \t \0 \xHH \\ decoded and NO CRLF added; for testing how a server treats
    /// malformed input (bare LF, bare CR, NUL). Shown as C~ [raw]
    #[arg(long)]
    pub raw: bool,

    /// In raw mode, how long to wait for the server's answer after each piece sent (seconds;
    /// default 1, at most --timeout); what comes later is shown before the next line
    #[arg(long, value_name = "SECS")]
    pub raw_wait: Option<f64>,

    /// Show a hex dump (offset, hex bytes, ASCII) after every line sent and received (like
    /// :hex on)
    #[arg(long)]
    pub hex: bool,

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
    /// Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP
    /// ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as
    /// pasted ("550 5.7.1 Relaying denied"), with first the cause its text states
    Explain {
        /// Codes, or a reply line as pasted (also from mailtalk's own transcript: `S: 550 …`);
        /// a line that starts with - (`-ERR …`) works too
        #[arg(value_name = "TOKEN", required = true, allow_hyphen_values = true)]
        tokens: Vec<String>,

        /// Protocol of a pasted reply line (guessed when not given)
        #[arg(short = 'p', long, value_enum, value_name = "PROTOCOL")]
        protocol: Option<ProtocolArg>,
    },
    /// Run the embedded mail server: SMTP, LMTP, IMAP and POP3 on loopback, to practise on and
    /// to test applications against (mail is kept, faults can be injected, every client line
    /// can be logged)
    #[command(after_help = "Examples:\n  mailtalk serve\n  \
mailtalk serve --smtps 127.0.0.1:4650 --imaps 127.0.0.1:9930 --lmtp 127.0.0.1:2424\n  \
mailtalk serve --user alice@example.test:secret --maildir ./mail --log-sessions\n  \
mailtalk serve --reject-rcpt '^bounce' --greylist --max-size 1000000 --json\n\n\
Clients trust the self-signed certificate with the PEM file it prints: \
mailtalk --starttls --ca-file FILE smtp://127.0.0.1:2525. Ctrl-C stops the server; sessions in \
progress are told (421, BYE, -ERR).")]
    Serve(Box<crate::serve::ServeArgs>),

    /// Try mailtalk with nothing installed: the embedded server on free loopback ports, and a
    /// session connected to its SMTP side, with a short guide
    Demo(crate::serve::args::DemoArgs),

    /// Check what a sending MTA would find on the way to DOMAIN: its MX hosts, STARTTLS and
    /// the certificate of each, DANE TLSA records (with DNSSEC as the resolver reports it), the
    /// MTA-STS policy and TLS-RPT record; exit status 0 when every MX passes, 4 when one fails,
    /// 5 when the lookups fail
    Check(crate::inspect::CheckArgs),

    /// Test one SMTP server you name for SMTP smuggling: one message per end-of-data variant
    /// (\n.\n, \r.\r, \r\n\0.\r\n …) with a second message hidden behind it, and a verdict
    /// per variant (refused, kept as data, SMUGGLED) from the mailbox read back over IMAP
    /// (--check) or from the replies; exit status 0 when none was smuggled, 4 when one was, 5
    /// when a verdict could not be reached
    #[command(after_help = "Examples:\n  mailtalk smuggle-test --list\n  \
mailtalk smuggle-test smtp://mx.example.org --from me@example.com --to me@example.org \\\n    \
--check imaps://imap.example.org --starttls\n\n\
Only the server named is tested. Each variant is its own connection and delivers (at most) two \
small marked messages to the recipient.")]
    SmuggleTest(crate::inspect::smuggle::SmuggleArgs),
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

/// `--proxy-protocol` versions.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyProtocolArg {
    V1,
    V2,
}

/// A TLS version as given on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersionArg {
    #[value(name = "1.0")]
    V1_0,
    #[value(name = "1.1")]
    V1_1,
    #[value(name = "1.2")]
    V1_2,
    #[value(name = "1.3")]
    V1_3,
}

impl From<TlsVersionArg> for TlsVersion {
    fn from(v: TlsVersionArg) -> TlsVersion {
        match v {
            TlsVersionArg::V1_0 => TlsVersion::V1_0,
            TlsVersionArg::V1_1 => TlsVersion::V1_1,
            TlsVersionArg::V1_2 => TlsVersion::V1_2,
            TlsVersionArg::V1_3 => TlsVersion::V1_3,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// The tokens left, and the `--color` and `--protocol` found among them.
pub type ExplainOptions = (Vec<String>, Option<ColorWhen>, Option<ProtocolArg>);

/// The options of `explain` that a pasted line swallows: its tokens take values starting
/// with `-` (`-ERR …`), so `--color WHEN` and `-p`/`--protocol PROTOCOL` given after them
/// arrive as tokens. They are taken out here, wherever they are.
pub fn explain_options(tokens: &[String]) -> Result<ExplainOptions, String> {
    let mut rest = Vec::new();
    let mut color = None;
    let mut protocol = None;
    let mut it = tokens.iter();
    while let Some(t) = it.next() {
        let (name, inline) = match t.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (t.as_str(), None),
        };
        if !matches!(name, "--color" | "-p" | "--protocol") {
            rest.push(t.clone());
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))?,
        };
        if name == "--color" {
            color = Some(
                ColorWhen::from_str(&value, true)
                    .map_err(|_| format!("--color takes auto, always or never, not {value:?}"))?,
            );
        } else {
            protocol =
                Some(ProtocolArg::from_str(&value, true).map_err(|_| {
                    format!("{name} takes smtp, lmtp, imap or pop3, not {value:?}")
                })?);
        }
    }
    Ok((rest, color, protocol))
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
    man_page.render_subcommands_section(&mut out)?;
    out.extend_from_slice(man_sections().as_bytes());
    man_page.render_version_section(&mut out)?;
    std::fs::write(man.join("mailtalk.1"), out)?;
    // A page per subcommand (mailtalk-serve(1) …), as the main page's SUBCOMMANDS refer to them.
    let top = Cli::command();
    for sub in top.get_subcommands() {
        let name = format!("mailtalk-{}", sub.get_name());
        let cmd = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("mailtalk {}", sub.get_name()));
        let page = clap_mangen::Man::new(cmd);
        let mut out = Vec::new();
        page.render(&mut out)?;
        std::fs::write(man.join(format!("{name}.1")), out)?;
    }
    Ok(())
}

/// Text made safe for roff: backslashes and leading dots or quotes escaped, hyphens marked.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.') | Some('\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

/// Man page sections beyond what clap knows (roff): the transcript, every meta-command (from
/// the same table as `:help`), the input language, `explain`, every exit status.
fn man_sections() -> String {
    let mut out = String::from(MAN_TRANSCRIPT);
    out.push_str(".SH META-COMMANDS\nLines that start with \\fB:\\fR are for mailtalk, in every input mode (a\nunique prefix is enough: \\fB:q\\fR). A line for the server that starts with \\fB:\\fR is\nwritten \\fB::\\fR.\n");
    for m in meta::META {
        out.push_str(".TP\n");
        if m.args.is_empty() {
            out.push_str(&format!("\\fB{}\\fR\n", roff(m.name)));
        } else {
            out.push_str(&format!("\\fB{}\\fR {}\n", roff(m.name), roff(m.args)));
        }
        out.push_str(&roff(m.help));
        out.push('\n');
    }
    out.push_str(MAN_EXPLAIN);
    out.push_str(".SH EXIT STATUS\n");
    for (code, text) in exit::STATUSES {
        out.push_str(&format!(
            ".TP\n\\fB{code}\\fR\n{}\n",
            roff(&text.replace('`', ""))
        ));
    }
    out.push_str(MAN_FILES);
    out
}

const MAN_TRANSCRIPT: &str = r#".SH TRANSCRIPT
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
marks a line that ended in a bare LF. Message text is shown as it went on the wire: a line
that starts with a dot is shown with the dot doubled.
"#;

const MAN_EXPLAIN: &str = r#".SH EXPLAIN
\fBmailtalk explain\fR \fITOKEN\fR... explains SMTP and LMTP reply codes (\fB550\fR), enhanced
status codes (\fB5.1.1\fR, \fB5.7.x\fR, \fBX.1.YYY\fR), IMAP response codes (\fB[OVERQUOTA]\fR)
and POP3 response codes (\fB[IN\-USE]\fR, \fBSYS/TEMP\fR), or a whole reply line as pasted:
\fB550 5.7.1 Relaying denied\fR, \fB\-ERR [IN\-USE] locked\fR, \fBA001 NO [OVERQUOTA] quota\fR,
or a line copied from mailtalk's transcript (\fBS: 550 ...\fR). The text of a line is read
too: the cause it states (AUTH not offered, relay denied, a DNS blocklist, greylisting, rate
limits, SPF, DKIM or DMARC failures, TLS required, message too large, unknown user, mailbox
full, and the wording of common servers) comes first. The same explanation follows every
reply that is not a plain success in a session (\fB\-\-no\-explain\fR turns it off), and
\fB:explain\fR explains the last reply. Exit status 1 when a code is unknown.
"#;

const MAN_FILES: &str = r#".SH FILES
.TP
\fI$XDG_DATA_HOME/mailtalk/history\fR
the REPL history (mode 0600), written as each line is entered; passwords and SASL responses
are never written to it
.SH ENVIRONMENT
.TP
\fBMAILTALK_PASSWORD\fR
the password or token for \fB\-\-auth\fR and \fB:auth\fR
.TP
\fBMAILTALK_CHECK_PASSWORD\fR
the password of the mailbox \fBsmuggle\-test \-\-check\fR reads (before \fBMAILTALK_PASSWORD\fR)
.TP
\fBMAILTALK_PROXY_PASSWORD\fR
the password for a \fB\-\-proxy\fR URL that names a user and no password
.TP
\fBSSLKEYLOGFILE\fR
append the TLS secrets of every session to this file (created mode 0600) in the NSS key log
format, for Wireshark to decrypt a capture; the transcript says so. Anyone who can read the
file can decrypt the sessions: remove it when done
.TP
\fBNO_COLOR\fR, \fBCLICOLOR_FORCE\fR
turn colours off or force them on when \fB\-\-color auto\fR
"#;
