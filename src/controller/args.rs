//! The flags of the send and auth macros, defined once with clap: the command line flattens
//! them, and `:send` parses its arguments with the same definitions. The macros themselves take
//! the plain option types ([`SendOptions`], [`AuthOptions`]), so anything can send mail without
//! clap.

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

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

/// What `--auth`, `--user` and `:auth` ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthOptions {
    /// A method name, or `None`/`auto` for the strongest offered.
    pub method: Option<String>,
    pub user: Option<String>,
    pub authzid: Option<String>,
    pub password_cmd: Option<String>,
    pub allow_plaintext: bool,
}

impl AuthOptions {
    /// Whether authentication was asked for on the command line.
    pub fn wanted(&self) -> bool {
        self.method.is_some() || self.user.is_some()
    }
}

impl From<&AuthArgs> for AuthOptions {
    fn from(a: &AuthArgs) -> AuthOptions {
        AuthOptions {
            method: a.auth.clone(),
            user: a.user.clone(),
            authzid: a.authzid.clone(),
            password_cmd: a.password_cmd.clone(),
            allow_plaintext: a.allow_plaintext_auth,
        }
    }
}

/// The send macro's options: `--from`/`--to` on the command line send one message and exit
/// (like `:send` in a session).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Sending a message")]
pub struct SendArgs {
    /// Envelope sender (MAIL FROM) and From header; '' for the null sender <>. Without it the
    /// sender is USER@HOST of this machine (said when used). With --to, send one message and
    /// exit
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

    /// Send the message N times in one session, each copy a whole transaction with a new Date
    /// and Message-ID (an @FILE is read again; --data - is read once, at most 10 MiB).
    /// Pipelined when the server offers PIPELINING, each copy's commands going with the
    /// previous copy's end of data. The first copy is shown in full, then only the copies that
    /// end differently, and a summary
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Never pipeline, not even with --count
    #[arg(long, conflicts_with = "pipeline")]
    pub no_pipeline: bool,

    /// If any recipient is refused, deliver to nobody: RSET before DATA (after a pipelined 354
    /// the connection is closed before the end of the data). By default the message goes to
    /// the recipients the server accepted
    #[arg(long)]
    pub require_all_rcpts: bool,
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

/// What the send macro is asked to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// `None`: the default sender (USER@HOST); `Some("")`: the null sender.
    pub from: Option<String>,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// `@FILE`, `-` or text.
    pub data: Option<String>,
    pub headers: Vec<String>,
    pub attachments: Vec<PathBuf>,
    pub eight_bit: bool,
    pub smtputf8: bool,
    pub notify: Option<String>,
    pub ret: Option<String>,
    pub envid: Option<String>,
    pub size: bool,
    pub bdat: bool,
    pub pipeline: bool,
    /// How many copies (`--count`); 0 counts as 1.
    pub count: u64,
    pub no_pipeline: bool,
    pub require_all_rcpts: bool,
}

impl From<&SendArgs> for SendOptions {
    fn from(a: &SendArgs) -> SendOptions {
        SendOptions {
            from: a.from.clone(),
            to: a.to.clone(),
            subject: a.subject.clone(),
            body: a.body.clone(),
            data: a.data.clone(),
            headers: a.header.clone(),
            attachments: a.attach.clone(),
            eight_bit: a.eight_bit,
            smtputf8: a.smtputf8,
            notify: a.notify.clone(),
            ret: a.ret.clone(),
            envid: a.envid.clone(),
            size: a.size,
            bdat: a.bdat,
            pipeline: a.pipeline,
            count: a.count.unwrap_or(1),
            no_pipeline: a.no_pipeline,
            require_all_rcpts: a.require_all_rcpts,
        }
    }
}

/// `:send`'s arguments, parsed with the same definitions as the command line.
#[derive(Parser, Debug)]
#[command(name = ":send", no_binary_name = true, disable_help_flag = true)]
struct SendCommand {
    #[command(flatten)]
    send: SendArgs,
}

/// The long options `:send` takes (`--from`, `--to` …), from the same definitions as the
/// parser, for completion.
pub fn send_flags() -> Vec<String> {
    use clap::CommandFactory;
    SendCommand::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

/// Parses `:send` arguments (shell-like quoting). Errors read as one sentence (clap's usage
/// notes and tips are left out).
pub fn parse_send(args: &str) -> Result<SendOptions, String> {
    let words =
        shlex::split(args).ok_or_else(|| "unterminated quote in the arguments".to_string())?;
    SendCommand::try_parse_from(words)
        .map(|c| SendOptions::from(&c.send))
        .map_err(|e| clap_message(&e))
}

/// The first line of a clap error, without its `error: ` lead.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{first} (:help lists the options of :send)")
}

/// `--max-show`: a number of lines, or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxShow(pub Option<u64>);

/// Parses `--max-show` and `:max-show`: `all`, or a number of lines.
pub fn parse_max_show(s: &str) -> Result<MaxShow, String> {
    if s.eq_ignore_ascii_case("all") {
        return Ok(MaxShow(None));
    }
    s.parse::<u64>()
        .map(|n| MaxShow(Some(n)))
        .map_err(|_| format!("{s:?} is not a number of lines or `all`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_flags_come_from_the_parser() {
        let flags = send_flags();
        for f in [
            "--from",
            "--to",
            "--data",
            "--require-all-rcpts",
            "--8bit",
            "--pipeline",
        ] {
            assert!(flags.iter().any(|x| x == f), "{f} missing from {flags:?}");
        }
        assert!(!flags.iter().any(|x| x == "--help"), "{flags:?}");
    }

    #[test]
    fn parses_send_arguments() {
        let a = parse_send(
            "--from a@x.test --to b@x.test --to c@x.test --subject 'Hi you' --8bit --require-all-rcpts",
        )
        .unwrap();
        assert_eq!(a.from.as_deref(), Some("a@x.test"));
        assert_eq!(a.to, vec!["b@x.test", "c@x.test"]);
        assert_eq!(a.subject.as_deref(), Some("Hi you"));
        assert!(a.eight_bit && a.require_all_rcpts);
        assert_eq!(
            parse_send("--from '' --to b").unwrap().from.as_deref(),
            Some("")
        );
        assert_eq!(parse_send("--to b").unwrap().from, None);
        assert_eq!(parse_send("--to b").unwrap().count, 1);
        let a = parse_send("--to b --count 1000 --bdat").unwrap();
        assert!(a.count == 1000 && a.bdat && !a.no_pipeline);
        assert!(parse_send("--to b --count 0").is_err());
        assert!(parse_send("--to b --count -3").is_err());
        assert!(parse_send("--to b --pipeline --no-pipeline").is_err());
    }

    #[test]
    fn errors_read_as_one_line() {
        let e = parse_send("--to b --bogus").unwrap_err();
        assert!(!e.contains('\n'), "{e:?}");
        assert!(e.starts_with("unexpected argument '--bogus' found"), "{e}");
        assert!(parse_send("--subject \"open").is_err());
    }
}
