//! `mailtalk smuggle-test TARGET --from A --to B`: does the server end a message at something
//! other than `<CR><LF>.<CR><LF>`? (SMTP smuggling: a sending server that passes such a
//! sequence on, and a receiving server that ends the data there, let a second message hidden
//! in the first one be delivered on its own, with a sender the first server never checked.)
//!
//! For each known end-of-data variant, one connection: EHLO (STARTTLS, AUTH when asked), MAIL,
//! RCPT, DATA; then a message whose last line ends with the variant, followed by a complete
//! second transaction (MAIL, RCPT, DATA, a message marked as smuggled), the real end of data
//! and QUIT, all in one write. Every reply is read until the server closes. The first variant
//! is a control: the real end, with the second transaction pipelined openly, which shows that
//! a second message can be seen at all.
//!
//! The verdict per variant comes from the receiving side when `--check imap://…` names the
//! mailbox of the recipient (the user's own, or the embedded server's): the messages of this
//! run are found by a header carrying the run's random id, and the smuggled marker is looked
//! for both as a message of its own and inside the first message. Without `--check` the
//! verdict rests on the server's replies alone, which cannot see what a later hop does.
//!
//! Only the one server the user names is tested, never a list or a range.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::controller::credentials;
use crate::engine::event::{Event, EventKind};
use crate::engine::session::{check_address, AuthOutcome, AuthRequest, RawEnd};
use crate::engine::{Options, Session, SessionError};
use crate::net::{Family, TlsOptions};
use crate::output::json::harden;
use crate::proto::sasl::Credentials;
use crate::proto::{InputMode, Outcome, Protocol, Reply};
use crate::render::escape::visible_string;
use crate::render::Theme;
use crate::secret::Secret;
use crate::target::{self, TlsMode};

/// No variant let a message through on its own, and none ended the data early.
pub const OK: i32 = 0;
/// At least one variant was smuggled, or ended the data early.
pub const VULNERABLE: i32 = 4;
/// The test could not be run or decided for at least one variant (and none was smuggled).
pub const UNDECIDED: i32 = 5;

/// The header that marks the messages of a run: `RUN NN outer|smuggled`.
pub const MARK_HEADER: &str = "X-Mailtalk-Smuggle-Test";

#[derive(Args, Debug, Clone)]
pub struct SmuggleArgs {
    /// The server to test: smtp://HOST[:PORT], submission://, smtps:// or lmtp://
    #[arg(value_name = "TARGET", required_unless_present = "list")]
    pub target: Option<String>,
    /// Envelope sender (and From) of the test messages
    #[arg(long, value_name = "ADDR", required_unless_present = "list")]
    pub from: Option<String>,
    /// Envelope recipient (and To): a mailbox you can read, for --check
    #[arg(long, value_name = "ADDR", required_unless_present = "list")]
    pub to: Option<String>,
    /// Read the recipient's mailbox back to decide each verdict: imap://HOST[:PORT] or
    /// imaps://HOST[:PORT] (the password comes from MAILTALK_CHECK_PASSWORD, then
    /// MAILTALK_PASSWORD unless --user takes it, then a prompt)
    #[arg(long, value_name = "URL")]
    pub check: Option<String>,
    /// The IMAP user for --check (default: the --to address)
    #[arg(long, value_name = "USER")]
    pub check_user: Option<String>,
    /// The mailbox the test messages arrive in
    #[arg(long, value_name = "NAME", default_value = "INBOX")]
    pub check_mailbox: String,
    /// Seconds to wait for the test messages to arrive in the mailbox
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub wait: f64,
    /// Authenticate to TARGET as USER before each test (the password comes from
    /// MAILTALK_PASSWORD or a prompt)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// STARTTLS on a plain smtp:// or lmtp:// target; then no test runs without TLS
    #[arg(long)]
    pub starttls: bool,
    /// Extra trust anchors (PEM) for TARGET and the --check server
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Do not verify certificates (for a test server with a self-signed one)
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Run only these variants (by name; repeat the option; see --list)
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// List the variants and exit
    #[arg(long)]
    pub list: bool,
    /// Seconds allowed for the connection and each reply
    #[arg(short = 't', long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Show every line sent and received (on standard error)
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// JSON instead of the table
    #[arg(long)]
    pub json: bool,
}

/// One way of ending the data that is not `<CR><LF>.<CR><LF>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub name: &'static str,
    /// What goes between the last line of the first message and the smuggled commands.
    pub bytes: &'static [u8],
    pub about: &'static str,
}

/// The control first, then the published end-of-data variants.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "control",
        bytes: b"\r\n.\r\n",
        about: "the real end of data; the second message is pipelined openly",
    },
    Variant {
        name: "lf-lf",
        bytes: b"\n.\n",
        about: "bare LF line ends around the dot",
    },
    Variant {
        name: "lf-crlf",
        bytes: b"\n.\r\n",
        about: "a bare LF before the dot",
    },
    Variant {
        name: "crlf-lf",
        bytes: b"\r\n.\n",
        about: "a bare LF after the dot",
    },
    Variant {
        name: "cr-cr",
        bytes: b"\r.\r",
        about: "bare CR line ends around the dot",
    },
    Variant {
        name: "cr-crlf",
        bytes: b"\r.\r\n",
        about: "a bare CR before the dot",
    },
    Variant {
        name: "crlf-cr",
        bytes: b"\r\n.\r",
        about: "a bare CR after the dot",
    },
    Variant {
        name: "cr-lf",
        bytes: b"\r.\n",
        about: "a bare CR before and a bare LF after the dot",
    },
    Variant {
        name: "lf-cr",
        bytes: b"\n.\r",
        about: "a bare LF before and a bare CR after the dot",
    },
    Variant {
        name: "lf-lf-crlf",
        bytes: b"\n\n.\r\n",
        about: "two bare LFs before the dot",
    },
    Variant {
        name: "crlf-cr-crlf",
        bytes: b"\r\n.\r\r\n",
        about: "a CR between the dot and the CRLF",
    },
    Variant {
        name: "nul-before",
        bytes: b"\r\n\x00.\r\n",
        about: "a NUL before the dot",
    },
    Variant {
        name: "nul-after",
        bytes: b"\r\n.\x00\r\n",
        about: "a NUL after the dot",
    },
];

/// The bytes as they would be written in C: `\r\n.\r\n`.
pub fn escaped(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'\r' => "\\r".to_string(),
            b'\n' => "\\n".to_string(),
            0 => "\\0".to_string(),
            b if b.is_ascii_graphic() => char::from(b).to_string(),
            b => format!("\\x{b:02x}"),
        })
        .collect()
}

/// What the server's replies say about one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replies {
    /// How many replies came.
    pub count: usize,
    /// The first reply (to the end of the data, or a refusal on the way) was positive.
    pub first_ok: bool,
    /// The first reply was a temporary failure (4xx): the test did not run.
    pub temp_fail: bool,
    /// More replies came than the message's and QUIT's: the server took some of what
    /// followed the variant as commands.
    pub split: bool,
    /// A 354 came after the first reply, and a positive reply (not 221) after it: the
    /// server accepted a second message.
    pub second_accepted: bool,
    /// The exchange ended: QUIT was answered, or the server closed the connection.
    pub complete: bool,
}

impl Replies {
    pub fn of(replies: &[Reply], closed: bool) -> Replies {
        let code = |r: &Reply| r.code.map(|c| c.value());
        let first = replies.first();
        let rest = replies.get(1..).unwrap_or(&[]);
        let second_accepted = rest
            .iter()
            .position(|r| code(r) == Some(354))
            .and_then(|at| rest.get(at.saturating_add(1)..))
            .is_some_and(|after| {
                after
                    .iter()
                    .any(|r| r.outcome == Outcome::Ok && code(r) != Some(221))
            });
        Replies {
            count: replies.len(),
            first_ok: first.is_some_and(|r| r.outcome == Outcome::Ok),
            temp_fail: first.is_some_and(|r| r.outcome == Outcome::TempFail),
            // The message's reply and QUIT's (whatever QUIT got) are two.
            split: replies.len() > 2,
            second_accepted,
            complete: closed || replies.last().and_then(code) == Some(221),
        }
    }
}

/// What the mailbox held for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Found {
    /// Messages marked as the first one.
    pub outer: usize,
    /// Messages marked as the smuggled one in their own header.
    pub smuggled: usize,
    /// First messages whose body holds the smuggled message.
    pub inside: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The server refused the message.
    Refused,
    /// The variant was kept as data: the second message is inside the first.
    Data,
    /// The second message was accepted (and, with --check, delivered) on its own.
    Smuggled,
    /// The data ended at the variant: the server took what followed as commands (and did not
    /// deliver the second message).
    Ended,
    /// Accepted, but not found in the mailbox in time.
    NotFound,
    /// The test ran, but what came back decides nothing (a temporary failure, a server that
    /// stopped answering, a first message without its second part).
    Unclear(String),
    /// The test could not run.
    Error(String),
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Refused => "refused",
            Verdict::Data => "data",
            Verdict::Smuggled => "SMUGGLED",
            Verdict::Ended => "ended early",
            Verdict::NotFound => "not found",
            Verdict::Unclear(_) => "unclear",
            Verdict::Error(_) => "error",
        }
    }
}

/// The verdict from the replies and, when read back, the mailbox; `None` while the mailbox
/// may still receive what decides it. `final_look`: the wait is over, decide with what is there.
pub fn decide(r: Replies, found: Option<Found>, final_look: bool) -> Option<Verdict> {
    // What the replies alone settle, whatever the mailbox shows.
    if r.count == 0 {
        return Some(Verdict::Unclear(if r.complete {
            "the server closed the connection without a reply".into()
        } else {
            "no reply within the timeout".into()
        }));
    }
    if r.temp_fail && !r.split {
        return Some(Verdict::Unclear(
            "a temporary failure: the test did not run (try again later)".into(),
        ));
    }
    // The server took what followed the variant as commands and refused the second message:
    // it ended the data early, delivered or not.
    let ended = r.split && !r.second_accepted;
    let Some(f) = found else {
        return Some(if r.second_accepted {
            Verdict::Smuggled
        } else if ended {
            Verdict::Ended
        } else if !r.complete {
            Verdict::Unclear(format!(
                "the server stopped answering after {} replies",
                r.count
            ))
        } else if r.first_ok {
            Verdict::Data
        } else {
            Verdict::Refused
        });
    };
    if f.smuggled > 0 {
        return Some(Verdict::Smuggled);
    }
    if f.inside > 0 {
        return Some(Verdict::Data);
    }
    if ended {
        return Some(Verdict::Ended);
    }
    if !r.first_ok && !r.second_accepted && r.complete {
        return Some(Verdict::Refused);
    }
    if !final_look {
        return None;
    }
    Some(if r.second_accepted {
        // Accepted on its own, as the replies show, but not (yet) in this mailbox.
        Verdict::Smuggled
    } else if !r.complete {
        Verdict::Unclear(format!(
            "the server stopped answering after {} replies",
            r.count
        ))
    } else if f.outer > 0 {
        Verdict::Unclear(
            "the first message arrived without its second part, which was not found on its \
             own either"
                .into(),
        )
    } else {
        Verdict::NotFound
    })
}

/// One variant's run.
#[derive(Debug, Clone)]
pub struct VariantResult {
    pub number: usize,
    pub variant: Variant,
    pub replies: Vec<Reply>,
    pub closed: bool,
    pub view: Replies,
    pub found: Option<Found>,
    pub verdict: Option<Verdict>,
}

/// The message for variant `number` of run `run`: a first message whose last line ends with
/// the variant, then a whole second transaction, ending with CRLF (the real end follows).
pub fn content(run: &str, number: usize, v: &Variant, from: &str, to: &str, date: &str) -> Vec<u8> {
    let host = crate::message::local_hostname();
    // The header of either message, with the blank line that ends it.
    let header = |kind: &str, subject: &str| {
        vec![
            format!("From: <{from}>"),
            format!("To: <{to}>"),
            format!("Subject: mailtalk smuggle-test {run} {number:02} {subject}"),
            format!("Date: {date}"),
            format!("Message-ID: <{run}.{number:02}.{kind}@{host}>"),
            format!("{MARK_HEADER}: {run} {number:02} {kind}"),
            String::new(),
        ]
    };
    let mut first = header("outer", v.name);
    first.push(format!(
        "This message of mailtalk smuggle-test ends with the variant {} ({}: {}).",
        v.name,
        escaped(v.bytes),
        v.about
    ));
    first.push(
        "A second message follows it, which the server should take as part of this one.".into(),
    );
    first.push("The last line of the first message.".into());
    let mut second = vec![
        format!("MAIL FROM:<{from}>"),
        format!("RCPT TO:<{to}>"),
        "DATA".to_string(),
    ];
    second.extend(header("smuggled", &format!("{}: SMUGGLED", v.name)));
    second.push(token(run, number));
    second.push(
        "If this arrived as a message of its own, the server ended the first one early.".into(),
    );
    let mut out = first.join("\r\n").into_bytes();
    out.extend_from_slice(v.bytes);
    out.extend_from_slice(second.join("\r\n").as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// The word in the smuggled message's body that shows where it ended up.
fn token(run: &str, number: usize) -> String {
    format!("mailtalk-smuggled-{run}-{number:02}")
}

fn usage(e: impl Into<String>) -> (i32, String) {
    (2, e.into())
}

/// Runs the test; returns the exit status.
pub fn run(args: &SmuggleArgs, color: bool) -> i32 {
    if args.list {
        for (i, v) in VARIANTS.iter().enumerate() {
            println!(
                "{i:>2}  {:<13} {:<14} {}",
                v.name,
                escaped(v.bytes),
                v.about
            );
        }
        return OK;
    }
    match test(args, color) {
        Ok(code) => code,
        Err((code, e)) => {
            eprintln!("mailtalk smuggle-test: {}", visible_string(e.as_bytes()));
            code
        }
    }
}

fn seconds(what: &str, v: f64) -> Result<Duration, (i32, String)> {
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(usage(format!("{what} must be a number of seconds above 0")))
    }
}

fn test(args: &SmuggleArgs, color: bool) -> Result<i32, (i32, String)> {
    let timeout = seconds("--timeout", args.timeout)?;
    let wait = seconds("--wait", args.wait)?;
    let (Some(raw_target), Some(from), Some(to)) = (&args.target, &args.from, &args.to) else {
        return Err(usage("TARGET, --from and --to are required"));
    };
    for (what, addr) in [("--from", from), ("--to", to)] {
        check_address(what, addr).map_err(usage)?;
    }
    let mut t = target::parse(raw_target, None, false).map_err(|e| usage(e.to_string()))?;
    if !t.protocol.is_smtp() {
        return Err(usage(format!(
            "{raw_target}: the smuggle test needs an SMTP or LMTP server"
        )));
    }
    if args.starttls {
        if t.tls == TlsMode::Implicit {
            return Err(usage("--starttls does not go with an implicit TLS target"));
        }
        t.tls = TlsMode::StartTls;
    }
    let chosen: Vec<(usize, Variant)> = if args.variants.is_empty() {
        VARIANTS.iter().copied().enumerate().collect()
    } else {
        let mut v = Vec::new();
        for name in &args.variants {
            let found = VARIANTS
                .iter()
                .copied()
                .enumerate()
                .find(|(_, x)| x.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| usage(format!("unknown variant {name:?} (see --list)")))?;
            if !v.contains(&found) {
                v.push(found);
            }
        }
        v.sort_by_key(|(number, _)| *number);
        v
    };
    let tls = TlsOptions {
        insecure: args.insecure,
        ca_file: args.ca_file.clone(),
        ..TlsOptions::default()
    };
    let opts = Options {
        target: t,
        tls: tls.clone(),
        timeout,
        family: Family::Any,
        ehlo: crate::message::local_hostname(),
        timing: false,
        allow_plaintext_auth: false,
        route: crate::net::Route::default(),
    };
    // The passwords are asked for before anything is sent.
    let smtp_creds = match &args.user {
        Some(user) => Some(Credentials {
            user: user.clone(),
            authzid: None,
            secret: password(&[credentials::PASSWORD_ENV], user)?,
        }),
        None => None,
    };
    let check = match &args.check {
        Some(url) => {
            let t = target::parse(url, None, false).map_err(|e| usage(e.to_string()))?;
            if t.protocol != Protocol::Imap {
                return Err(usage(format!(
                    "--check {url}: the mailbox is read over IMAP (imap:// or imaps://)"
                )));
            }
            let user = args.check_user.clone().unwrap_or_else(|| to.clone());
            // MAILTALK_PASSWORD is the mailbox's only when it is not TARGET's (--user): one
            // server's password does not go to another unasked.
            let vars: &[&str] = if args.user.is_some() {
                &["MAILTALK_CHECK_PASSWORD"]
            } else {
                &["MAILTALK_CHECK_PASSWORD", credentials::PASSWORD_ENV]
            };
            let secret = password(vars, &user)?;
            Some((
                Options {
                    target: t,
                    tls,
                    ..opts.clone()
                },
                Credentials {
                    user,
                    authzid: None,
                    secret,
                },
            ))
        }
        None => None,
    };

    let theme = Theme::new(color);
    let verbose = args.verbose;
    let show = RefCell::new(move |ev: &Event| {
        if verbose {
            for line in crate::output::present::event_lines(ev) {
                eprintln!("{}", theme.paint_line(&line));
            }
        }
    });
    let run = crate::message::random_hex(4);
    let date = crate::message::date_now();
    let mut outcomes = Vec::with_capacity(chosen.len());
    let status_line = Status::new(!verbose);
    let total = chosen.len();
    for (i, (number, v)) in chosen.into_iter().enumerate() {
        status_line.say(&format!(
            "sending variant {} of {total}: {} ({})",
            i.saturating_add(1),
            v.name,
            escaped(v.bytes)
        ));
        if verbose {
            eprintln!("-- variant {number:02} {} ({})", v.name, escaped(v.bytes));
        }
        let mut sink = |ev: Event| (show.borrow_mut())(&ev);
        let body = content(&run, number, &v, from, to, &date);
        let mut o = VariantResult {
            number,
            variant: v,
            replies: Vec::new(),
            closed: false,
            view: Replies::default(),
            found: None,
            verdict: None,
        };
        match send_one(&opts, smtp_creds.as_ref(), from, to, &body, &mut sink) {
            Ok(Sent::Raw(end)) => {
                o.view = Replies::of(&end.replies, end.closed);
                o.replies = end.replies;
                o.closed = end.closed;
            }
            Ok(Sent::Refused(reply)) => {
                o.verdict = Some(Verdict::Error(format!(
                    "refused before the data: {}",
                    crate::proto::shown(reply.last_line())
                )));
            }
            Err(e) => o.verdict = Some(Verdict::Error(e)),
        }
        outcomes.push(o);
    }

    match &check {
        None => {
            for o in outcomes.iter_mut().filter(|o| o.verdict.is_none()) {
                o.verdict = decide(o.view, None, true);
            }
        }
        Some((opts, creds)) => {
            let mut sink = |ev: Event| (show.borrow_mut())(&ev);
            let mailbox = Mailbox {
                opts,
                creds,
                name: &args.check_mailbox,
                wait,
            };
            if let Err(e) = read_back(&status_line, &mailbox, &run, &mut outcomes, &mut sink) {
                for o in outcomes.iter_mut().filter(|o| o.verdict.is_none()) {
                    o.verdict = Some(Verdict::Error(format!("reading the mailbox back: {e}")));
                }
            }
        }
    }

    status_line.clear();
    let read_from = args
        .check
        .as_ref()
        .map(|url| format!("{url} ({})", args.check_mailbox));
    if args.json {
        print_json(raw_target, &run, read_from.as_deref(), &outcomes);
    } else {
        print_table(raw_target, &run, read_from.as_deref(), &outcomes);
    }
    Ok(status(&outcomes))
}

/// The exit status: smuggled (or ended early) beats undecided beats ok. The control is
/// meant to deliver both messages (or, on a server that allows no second transaction in one
/// write, to have the second refused); anything else from it means the run proved nothing.
pub fn status(outcomes: &[VariantResult]) -> i32 {
    let mut code = OK;
    for o in outcomes {
        let control = o.variant.name == "control";
        match &o.verdict {
            Some(Verdict::Smuggled | Verdict::Ended) if control => {}
            _ if control => code = UNDECIDED,
            Some(Verdict::Smuggled | Verdict::Ended) => return VULNERABLE,
            Some(Verdict::Refused | Verdict::Data) => {}
            Some(Verdict::NotFound | Verdict::Unclear(_) | Verdict::Error(_)) | None => {
                code = UNDECIDED
            }
        }
    }
    code
}

/// The word for a verdict as the table and the JSON give it: the control's success is `ok`.
fn verdict_word(o: &VariantResult) -> String {
    match (&o.verdict, o.variant.name) {
        (Some(Verdict::Smuggled), "control") => "ok".to_string(),
        (Some(v), "control") => format!("({})", v.word()),
        (Some(v), _) => v.word().to_string(),
        (None, _) => "?".to_string(),
    }
}

fn password(vars: &[&str], user: &str) -> Result<Secret, (i32, String)> {
    for var in vars {
        if let Some(s) = credentials::from_env(var) {
            return Ok(s);
        }
    }
    credentials::prompt(&format!("password for {user}: ")).map_err(|e| {
        usage(format!(
            "no password for {user}: set {}, or run on a terminal ({e})",
            vars.join(" or ")
        ))
    })
}

enum Sent {
    Raw(RawEnd),
    /// MAIL, RCPT or DATA was refused: the variant was not sent.
    Refused(Reply),
}

/// One connection: EHLO (and STARTTLS, AUTH), MAIL, RCPT, DATA, then the raw content.
fn send_one(
    opts: &Options,
    creds: Option<&Credentials>,
    from: &str,
    to: &str,
    body: &[u8],
    sink: &mut dyn FnMut(Event),
) -> Result<Sent, String> {
    let text = |e: SessionError| e.to_string();
    let mut s = Session::connect(opts.clone(), sink).map_err(text)?;
    if let Some(reply) = s.ensure_capabilities(sink).map_err(text)? {
        if reply.outcome != Outcome::Ok {
            s.close(sink);
            return Ok(Sent::Refused(reply));
        }
    }
    if let Some(creds) = creds {
        let req = AuthRequest {
            method: None,
            creds: creds.clone(),
            allow_plaintext: false,
        };
        match s.authenticate(&req, sink).map_err(text)? {
            AuthOutcome::Success(_) => {}
            AuthOutcome::Failure(r) => {
                s.close(sink);
                return Err(format!(
                    "authentication failed: {}",
                    crate::proto::shown(r.last_line())
                ));
            }
        }
    }
    for line in [
        format!("MAIL FROM:<{from}>"),
        format!("RCPT TO:<{to}>"),
        "DATA".to_string(),
    ] {
        s.send_line(line.as_bytes(), sink).map_err(text)?;
        let reply = s
            .last_reply()
            .cloned()
            .ok_or_else(|| "no reply".to_string())?;
        let wanted = if line == "DATA" {
            s.input_mode() == InputMode::Message
        } else {
            reply.outcome == Outcome::Ok
        };
        if !wanted {
            let _ = s.quit(sink);
            return Ok(Sent::Refused(reply));
        }
    }
    s.end_raw_and_quit(body, sink).map(Sent::Raw).map_err(text)
}

/// The renderer's status line on standard error (only on a terminal), saying what the test
/// is doing; not while the conversation is shown there.
struct Status {
    on: bool,
}

impl Status {
    fn new(wanted: bool) -> Status {
        Status { on: wanted }
    }

    fn say(&self, text: &str) {
        if self.on {
            crate::render::terminal::draw_status(text);
        }
    }

    fn clear(&self) {
        if self.on {
            crate::render::terminal::clear_status();
        }
    }
}

/// The most UIDs one SEARCH may answer (this run's messages are two per variant at most).
const MAX_UIDS: usize = 10_000;

/// The UIDs of the `* SEARCH` responses to one command, bounded; nothing else is kept.
#[derive(Default)]
struct Uids {
    uids: BTreeSet<u32>,
    /// Why the answer cannot be used: too many UIDs, or a word that is not one.
    bad: Option<String>,
}

impl Uids {
    fn take_line(&mut self, line: &[u8]) {
        let Some(rest) = line
            .get(..8)
            .filter(|head| head.eq_ignore_ascii_case(b"* SEARCH"))
            .and_then(|_| line.get(8..))
        else {
            return;
        };
        for word in rest.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            if self.bad.is_some() {
                return;
            }
            match std::str::from_utf8(word)
                .ok()
                .and_then(|w| w.parse::<u32>().ok())
            {
                Some(uid) if self.uids.len() < MAX_UIDS => {
                    self.uids.insert(uid);
                }
                Some(_) => {
                    self.bad = Some(format!("SEARCH answered more than {MAX_UIDS} messages"))
                }
                None => {
                    self.bad = Some(format!(
                        "SEARCH answered {:?}, which is not a UID",
                        visible_string(word)
                    ))
                }
            }
        }
    }

    fn result(self) -> Result<BTreeSet<u32>, String> {
        match self.bad {
            Some(why) => Err(why),
            None => Ok(self.uids),
        }
    }
}

/// How often the mailbox is looked at while messages are awaited.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// Where the test messages are read back from.
struct Mailbox<'a> {
    opts: &'a Options,
    creds: &'a Credentials,
    name: &'a str,
    /// How long to wait for what decides the verdicts.
    wait: Duration,
}

/// Logs in to the mailbox and looks, until every variant is decided or the wait is over.
fn read_back(
    status_line: &Status,
    mailbox: &Mailbox<'_>,
    run: &str,
    outcomes: &mut [VariantResult],
    sink: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let Mailbox {
        opts,
        creds,
        name: mailbox,
        wait,
    } = *mailbox;
    let text = |e: SessionError| e.to_string();
    let found_uids: RefCell<Uids> = RefCell::new(Uids::default());
    let mut tap = |ev: Event| {
        if let EventKind::Received(l) = &ev.kind {
            found_uids.borrow_mut().take_line(&l.bytes);
        }
        sink(ev);
    };
    let mut s = Session::connect(opts.clone(), &mut tap).map_err(text)?;
    let req = AuthRequest {
        method: None,
        creds: creds.clone(),
        allow_plaintext: false,
    };
    if let AuthOutcome::Failure(r) = s.authenticate(&req, &mut tap).map_err(text)? {
        return Err(format!(
            "login refused: {}",
            crate::proto::shown(r.last_line())
        ));
    }
    let quoted = quote(mailbox).ok_or("the mailbox name cannot be quoted")?;
    s.send_line(format!("EXAMINE {quoted}").as_bytes(), &mut tap)
        .map_err(text)?;
    if s.last_reply().map(|r| r.outcome) != Some(Outcome::Ok) {
        return Err(format!("EXAMINE {mailbox} was refused"));
    }
    // A search for what no message holds must find nothing (a server that ignores what it
    // does not understand would answer every message).
    s.send_line(
        format!("UID SEARCH HEADER {MARK_HEADER} \"{run} none\"").as_bytes(),
        &mut tap,
    )
    .map_err(text)?;
    if s.last_reply().map(|r| r.outcome) != Some(Outcome::Ok) {
        return Err("SEARCH HEADER was refused".into());
    }
    if !std::mem::take(&mut *found_uids.borrow_mut())
        .result()?
        .is_empty()
    {
        return Err(
            "the mailbox's SEARCH finds messages for a header no message has: no verdict can \
             rest on it"
                .into(),
        );
    }
    let until = Instant::now().checked_add(wait);
    loop {
        let final_look = until.is_none_or(|u| Instant::now() >= u);
        s.send_line(b"NOOP", &mut tap).map_err(text)?;
        let mut open = false;
        for o in outcomes.iter_mut().filter(|o| o.verdict.is_none()) {
            let n = o.number;
            let mut search = |criteria: String| -> Result<BTreeSet<u32>, String> {
                *found_uids.borrow_mut() = Uids::default();
                s.send_line(format!("UID SEARCH {criteria}").as_bytes(), &mut tap)
                    .map_err(text)?;
                if s.last_reply().map(|r| r.outcome) != Some(Outcome::Ok) {
                    return Err("SEARCH was refused".into());
                }
                std::mem::take(&mut *found_uids.borrow_mut()).result()
            };
            let smuggled = search(format!("HEADER {MARK_HEADER} \"{run} {n:02} smuggled\""))?;
            let outer = search(format!("HEADER {MARK_HEADER} \"{run} {n:02} outer\""))?;
            let inside = search(format!(
                "HEADER {MARK_HEADER} \"{run} {n:02} outer\" BODY \"{}\"",
                token(run, n)
            ))?;
            // A message cannot be both, and what holds the second part is a first message: a
            // server whose answers say otherwise does not search the way the test needs.
            if !smuggled.is_disjoint(&outer) || !inside.is_subset(&outer) {
                return Err(
                    "the mailbox's SEARCH answers contradict each other (HEADER searched as \
                     text?): no verdict can rest on them"
                        .into(),
                );
            }
            let found = Found {
                smuggled: smuggled.len(),
                outer: outer.len(),
                inside: inside.len(),
            };
            o.found = Some(found);
            o.verdict = decide(o.view, Some(found), final_look);
            open |= o.verdict.is_none();
        }
        if !open {
            break;
        }
        let left = outcomes.iter().filter(|o| o.verdict.is_none()).count();
        status_line.say(&format!(
            "waiting for the test messages in {mailbox}: {left} of {} variants undecided \
             (at most {} s)",
            outcomes.len(),
            wait.as_secs()
        ));
        std::thread::sleep(LOOK_EVERY);
    }
    let _ = s.quit(&mut tap);
    Ok(())
}

/// An IMAP quoted string, for names without CR, LF or NUL.
fn quote(s: &str) -> Option<String> {
    if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return None;
    }
    Some(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// The reply codes in order; when they do not fit in `width` characters, runs of one code
/// as `503×13`, and then `…` where they still do not.
fn codes(replies: &[Reply], width: usize) -> String {
    let plain = replies
        .iter()
        .map(|r| {
            r.code
                .map(|c| c.value().to_string())
                .unwrap_or_else(|| "?".into())
        })
        .collect::<Vec<_>>()
        .join(" ");
    if plain.chars().count() <= width {
        return plain;
    }
    let mut runs: Vec<(String, usize)> = Vec::new();
    for r in replies {
        let c = r
            .code
            .map(|c| c.value().to_string())
            .unwrap_or_else(|| "?".into());
        match runs.last_mut() {
            Some((last, n)) if *last == c => *n = n.saturating_add(1),
            _ => runs.push((c, 1)),
        }
    }
    let mut out = String::new();
    for (c, n) in runs {
        let piece = if n > 2 {
            format!("{c}×{n}")
        } else {
            vec![c; n].join(" ")
        };
        let sep = usize::from(!out.is_empty());
        if out
            .chars()
            .count()
            .saturating_add(sep)
            .saturating_add(piece.chars().count())
            > width
        {
            out.push_str(" …");
            return out;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    out
}

fn meaning(o: &VariantResult) -> String {
    let control = o.variant.name == "control";
    let by_replies = o.found.is_none();
    match (&o.verdict, control) {
        (Some(Verdict::Smuggled), true) => "both messages delivered, as they should be".into(),
        (Some(Verdict::Ended), true) => {
            "the second transaction was refused: this server allows none in the same write as \
             a message, so no variant can be smuggled into it that way either"
                .into()
        }
        (Some(Verdict::Data), true) => "the second message stayed inside the first".into(),
        (Some(Verdict::Smuggled), false) if by_replies => {
            "the server accepted the second message on its own (from its replies)".into()
        }
        (Some(Verdict::Smuggled), false) if o.found.is_some_and(|f| f.smuggled == 0) => {
            "the server accepted the second message on its own; it did not reach this mailbox"
                .into()
        }
        (Some(Verdict::Smuggled), false) => "the second message was delivered on its own".into(),
        (Some(Verdict::Data), false) if by_replies => {
            "one message, as far as the replies show (not read back)".into()
        }
        (Some(Verdict::Data), false) => {
            "kept as data: the second message is inside the first".into()
        }
        (Some(Verdict::Ended), false) => {
            "the data ended at the variant: the server took what followed as commands".into()
        }
        (Some(Verdict::Refused), _) => format!(
            "refused: {}",
            o.replies
                .first()
                .map(|r| crate::proto::shown(r.last_line()))
                .unwrap_or_default()
        ),
        (Some(Verdict::NotFound), _) => "accepted, but not found in the mailbox in time".into(),
        (Some(Verdict::Unclear(e) | Verdict::Error(e)), _) => e.clone(),
        (None, _) => "undecided".into(),
    }
}

fn print_table(target: &str, run: &str, read_from: Option<&str>, outcomes: &[VariantResult]) {
    let target = visible_string(target.as_bytes());
    match read_from {
        Some(from) => println!(
            "smuggle-test {target}: run {run}, read back from {}",
            visible_string(from.as_bytes())
        ),
        None => println!(
            "smuggle-test {target}: run {run}; verdicts from the replies only (no --check)"
        ),
    }
    println!(
        "{:>2}  {:<13} {:<14} {:<26} {:<12} what happened",
        "#", "variant", "sequence", "server replies", "verdict"
    );
    for o in outcomes {
        let verdict = verdict_word(o);
        let mut replies = codes(&o.replies, 24);
        if !o.view.complete && !replies.ends_with('…') {
            replies.push_str(" …");
        }
        println!(
            "{:>2}  {:<13} {:<14} {:<26} {:<12} {}",
            o.number,
            o.variant.name,
            escaped(o.variant.bytes),
            replies,
            verdict,
            visible_string(meaning(o).as_bytes())
        );
    }
    let tested: Vec<&VariantResult> = outcomes
        .iter()
        .filter(|o| o.variant.name != "control")
        .collect();
    let smuggled = tested
        .iter()
        .filter(|o| matches!(o.verdict, Some(Verdict::Smuggled)))
        .count();
    let ended = tested
        .iter()
        .filter(|o| matches!(o.verdict, Some(Verdict::Ended)))
        .count();
    let undecided = tested
        .iter()
        .filter(|o| {
            !matches!(
                o.verdict,
                Some(Verdict::Smuggled | Verdict::Ended | Verdict::Data | Verdict::Refused)
            )
        })
        .count();
    let mut summary = format!(
        "{smuggled} of {} variants smuggled a second message, {ended} ended the data early",
        tested.len()
    );
    if undecided > 0 {
        summary.push_str(&format!(", {undecided} undecided"));
    }
    if outcomes.iter().any(|o| {
        o.variant.name == "control"
            && !matches!(o.verdict, Some(Verdict::Smuggled | Verdict::Ended))
    }) {
        summary.push_str("; the control failed, so the run proves nothing");
    }
    println!("{summary}");
}

fn print_json(target: &str, run: &str, read_from: Option<&str>, outcomes: &[VariantResult]) {
    let variants: Vec<_> = outcomes
        .iter()
        .map(|o| {
            json!({
                "number": o.number,
                "name": o.variant.name,
                "sequence": escaped(o.variant.bytes),
                "about": o.variant.about,
                "replies": o.replies.iter().map(|r| json!({
                    "code": r.code.map(|c| c.value()),
                    "text": crate::proto::shown(r.last_line()),
                })).collect::<Vec<_>>(),
                "closed": o.closed,
                "server_split": o.view.split,
                "second_accepted": o.view.second_accepted,
                "found": o.found.map(|f| json!({
                    "outer": f.outer, "smuggled": f.smuggled, "inside": f.inside,
                })),
                "control": o.variant.name == "control",
                "complete": o.view.complete,
                "verdict": verdict_word(o),
                "error": match &o.verdict {
                    Some(Verdict::Error(e) | Verdict::Unclear(e)) => Some(e.clone()),
                    _ => None,
                },
                "meaning": meaning(o),
            })
        })
        .collect();
    let v = json!({
        "target": target,
        "run": run,
        "read_back": read_from,
        "variants": variants,
        "status": status(outcomes),
    });
    println!("{}", harden(v.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::smtp::Code;

    fn reply(code: u16) -> Reply {
        let outcome = match code / 100 {
            2 => Outcome::Ok,
            3 => Outcome::Continue,
            4 => Outcome::TempFail,
            _ => Outcome::PermFail,
        };
        Reply {
            outcome,
            code: Code::new(code),
            enhanced: None,
            tag: None,
            lines: vec![format!("{code} x").into_bytes()],
            parts: Vec::new(),
        }
    }

    fn view(codes: &[u16]) -> Replies {
        Replies::of(&codes.iter().map(|&c| reply(c)).collect::<Vec<_>>(), true)
    }

    /// Replies, then silence: the connection still open.
    fn view_open(codes: &[u16]) -> Replies {
        Replies::of(&codes.iter().map(|&c| reply(c)).collect::<Vec<_>>(), false)
    }

    #[test]
    fn the_replies_say_whether_the_server_split_the_data() {
        let one = view(&[250, 221]);
        assert_eq!(
            one,
            Replies {
                count: 2,
                first_ok: true,
                temp_fail: false,
                split: false,
                second_accepted: false,
                complete: true,
            }
        );
        let two = view(&[250, 250, 250, 354, 250, 221]);
        assert!(two.first_ok && two.split && two.second_accepted);
        // Ended at the variant, the second MAIL refused: split but nothing accepted.
        let cut = view(&[250, 503, 503, 503, 502, 502, 221]);
        assert!(cut.split && !cut.second_accepted);
        // A 354 whose data was refused is no second message.
        let refused_second = view(&[250, 250, 250, 354, 554, 221]);
        assert!(refused_second.split && !refused_second.second_accepted);
        let refused = view(&[550]);
        assert!(!refused.first_ok && !refused.split && !refused.temp_fail);
        // Whatever QUIT got, two replies are the message's and QUIT's.
        assert!(!view(&[250, 421]).split);
        assert!(view(&[451, 221]).temp_fail);
        // 221 ends the exchange even when the connection stays open.
        assert!(view_open(&[250, 221]).complete);
        assert!(!view_open(&[250]).complete);
        assert_eq!(view(&[]).count, 0);
    }

    #[test]
    fn verdicts_from_the_replies_alone() {
        let d = |r| decide(r, None, false);
        assert_eq!(d(view(&[250, 221])), Some(Verdict::Data));
        assert_eq!(
            d(view(&[250, 250, 250, 354, 250, 221])),
            Some(Verdict::Smuggled)
        );
        assert_eq!(d(view(&[250, 503, 503, 221])), Some(Verdict::Ended));
        assert_eq!(d(view(&[521])), Some(Verdict::Refused));
        // The first message refused, and what followed taken as commands: ended early.
        assert_eq!(
            d(view(&[554, 250, 250, 354, 550, 221])),
            Some(Verdict::Ended)
        );
        // Silence, a close without a word, a temporary failure: no verdict.
        assert!(matches!(d(view_open(&[])), Some(Verdict::Unclear(_))));
        assert!(matches!(d(view(&[])), Some(Verdict::Unclear(_))));
        assert!(matches!(d(view(&[451, 221])), Some(Verdict::Unclear(_))));
        assert!(matches!(d(view_open(&[250])), Some(Verdict::Unclear(_))));
        // Taken as commands, then silent: ended early all the same.
        assert_eq!(d(view_open(&[250, 250, 250, 354])), Some(Verdict::Ended));
    }

    #[test]
    fn verdicts_from_the_mailbox_wait_for_what_decides_them() {
        let one = view(&[250, 221]);
        let none = Found::default();
        assert_eq!(decide(one, Some(none), false), None);
        assert_eq!(decide(one, Some(none), true), Some(Verdict::NotFound));
        let outer_only = Found {
            outer: 1,
            ..Found::default()
        };
        // One message accepted, and it arrived without the second part: a later hop may
        // still deliver the second one, so this waits, and then says it cannot tell.
        assert_eq!(decide(one, Some(outer_only), false), None);
        assert!(matches!(
            decide(one, Some(outer_only), true),
            Some(Verdict::Unclear(_))
        ));
        let inside = Found {
            outer: 1,
            inside: 1,
            ..Found::default()
        };
        assert_eq!(decide(one, Some(inside), false), Some(Verdict::Data));
        // What the mailbox shows wins over the replies: the server said one message, a
        // later hop split it.
        let own = Found {
            outer: 1,
            smuggled: 1,
            ..Found::default()
        };
        assert_eq!(decide(one, Some(own), false), Some(Verdict::Smuggled));
        let cut = view(&[250, 503, 503, 221]);
        assert_eq!(decide(cut, Some(outer_only), false), Some(Verdict::Ended));
        assert_eq!(decide(cut, Some(none), false), Some(Verdict::Ended));
        assert_eq!(
            decide(view(&[550, 221]), Some(none), false),
            Some(Verdict::Refused)
        );
        // The same replies decide the same with or without the mailbox.
        let refused_then_taken = view(&[554, 250, 250, 354, 550, 221]);
        assert_eq!(
            decide(refused_then_taken, Some(none), false),
            Some(Verdict::Ended)
        );
        // The server accepted a second message that this mailbox never got: the replies say
        // smuggled, once the wait is over.
        let two = view(&[250, 250, 250, 354, 250, 221]);
        assert_eq!(decide(two, Some(outer_only), false), None);
        assert_eq!(decide(two, Some(outer_only), true), Some(Verdict::Smuggled));
    }

    #[test]
    fn the_content_holds_the_variant_and_a_whole_second_transaction() {
        let v = VARIANTS[1];
        let c = content(
            "abcd",
            1,
            &v,
            "a@x.test",
            "b@y.test",
            "Wed, 2 Dec 2026 05:00:00 +0000",
        );
        let text = String::from_utf8(c.clone()).unwrap();
        assert!(text.contains("The last line of the first message.\n.\nMAIL FROM:<a@x.test>\r\n"));
        assert!(text.contains("\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"));
        assert!(text.contains(&format!("{MARK_HEADER}: abcd 01 outer\r\n")));
        assert!(text.contains(&format!("{MARK_HEADER}: abcd 01 smuggled\r\n")));
        assert!(text.contains("\r\nmailtalk-smuggled-abcd-01\r\n"));
        assert!(c.ends_with(b"\r\n"));
        // Apart from the variant, every line ends with CRLF, and nothing else could end the
        // data: the one `\r\n.\r\n` is the one the session adds.
        let without = text.replacen("\n.\n", "", 1);
        assert!(!without.replace("\r\n", "").contains(['\r', '\n']));
        assert!(!text.contains("\r\n.\r\n"));
        // The first message does not name the token that marks the second one.
        let first = text.split("MAIL FROM").next().unwrap();
        assert!(!first.contains("mailtalk-smuggled"));
    }

    #[test]
    fn variants_are_distinct_and_written_as_in_c() {
        assert_eq!(escaped(b"\r\n\x00.\r\n"), "\\r\\n\\0.\\r\\n");
        for (i, a) in VARIANTS.iter().enumerate() {
            for b in VARIANTS.iter().skip(i + 1) {
                assert_ne!(a.bytes, b.bytes);
                assert_ne!(a.name, b.name);
            }
        }
        assert_eq!(VARIANTS[0].bytes, b"\r\n.\r\n");
    }

    #[test]
    fn the_status_counts_smuggled_and_early_ends_and_not_the_control() {
        let o = |name: &'static str, verdict: Verdict| VariantResult {
            number: 0,
            variant: Variant {
                name,
                bytes: b"",
                about: "",
            },
            replies: Vec::new(),
            closed: true,
            view: Replies::default(),
            found: None,
            verdict: Some(verdict),
        };
        assert_eq!(
            status(&[o("control", Verdict::Smuggled), o("lf-lf", Verdict::Data)]),
            OK
        );
        // A control that did not deliver both messages proves nothing.
        assert_eq!(
            status(&[o("control", Verdict::NotFound), o("lf-lf", Verdict::Data)]),
            UNDECIDED
        );
        assert_eq!(
            status(&[o("control", Verdict::Refused), o("lf-lf", Verdict::Data)]),
            UNDECIDED
        );
        assert_eq!(
            status(&[o("control", Verdict::Ended), o("lf-lf", Verdict::Data)]),
            OK
        );
        assert_eq!(
            status(&[o("lf-lf", Verdict::Unclear("x".into()))]),
            UNDECIDED
        );
        assert_eq!(status(&[o("lf-lf", Verdict::Refused)]), OK);
        assert_eq!(status(&[o("lf-lf", Verdict::Smuggled)]), VULNERABLE);
        assert_eq!(status(&[o("lf-lf", Verdict::Ended)]), VULNERABLE);
        assert_eq!(
            status(&[o("lf-lf", Verdict::NotFound), o("cr-cr", Verdict::Data)]),
            UNDECIDED
        );
        assert_eq!(
            status(&[o("lf-lf", Verdict::NotFound), o("cr-cr", Verdict::Smuggled)]),
            VULNERABLE
        );
    }

    #[test]
    fn search_answers_are_uids_and_bounded() {
        let mut u = Uids::default();
        u.take_line(b"* SEARCH 3 1 2");
        u.take_line(b"* search 7");
        u.take_line(b"* 4 EXISTS");
        assert_eq!(
            u.result().unwrap().into_iter().collect::<Vec<_>>(),
            [1, 2, 3, 7]
        );
        let mut u = Uids::default();
        u.take_line(b"* SEARCH 1 x");
        assert!(u.result().is_err());
        let mut u = Uids::default();
        let many = format!(
            "* SEARCH {}",
            (1..=MAX_UIDS + 5)
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        u.take_line(many.as_bytes());
        assert!(u.result().unwrap_err().contains("more than"));
        let mut u = Uids::default();
        u.take_line(b"* SEARCH");
        assert!(u.result().unwrap().is_empty());
    }

    #[test]
    fn reply_codes_are_shortened_to_their_column() {
        let rs: Vec<Reply> = [250, 250, 250, 354, 250, 221]
            .iter()
            .map(|&c| reply(c))
            .collect();
        assert_eq!(codes(&rs, 24), "250 250 250 354 250 221");
        let mut rs: Vec<Reply> = vec![reply(250)];
        rs.extend((0..13).map(|_| reply(503)));
        rs.push(reply(221));
        assert_eq!(codes(&rs, 24), "250 503×13 221");
        let rs: Vec<Reply> = [250, 250, 221].iter().map(|&c| reply(c)).collect();
        assert_eq!(codes(&rs, 24), "250 250 221");
        let rs: Vec<Reply> = (0..40)
            .map(|i| reply(if i % 2 == 0 { 250 } else { 502 }))
            .collect();
        let c = codes(&rs, 24);
        assert!(c.ends_with(" …") && c.chars().count() <= 26, "{c}");
    }

    #[test]
    fn mailbox_names_are_quoted() {
        assert_eq!(quote("INBOX").as_deref(), Some("\"INBOX\""));
        assert_eq!(quote("a\"b\\c").as_deref(), Some("\"a\\\"b\\\\c\""));
        assert_eq!(quote("a\r\nb"), None);
    }
}
