//! The macros: `:auth` / `--auth` and `:send` / one-shot `--from --to`. They take the plain
//! option types and report through events, like everything else.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use super::args::{AuthOptions, SendOptions};
use super::credentials::{self, PASSWORD_ENV};
use super::exit;
use super::{invalid, Controller, Screen};
use crate::engine::session::{
    parse_method, AuthMethod, AuthOutcome, AuthRequest, MessageSource, Prepared, SendOutcome,
    SendRequest, Stage,
};
use crate::engine::{DeliveryReport, Event, EventKind, SessionError};
use crate::message::{self, DataSource, MessageSpec};
use crate::proto::sasl::{Credentials, Mechanism};
use crate::proto::smtp::EnhancedCode;
use crate::proto::Reply;
use crate::render::Line;
use crate::secret::Secret;

/// The method named by `:auth`'s first argument, if it is one.
pub fn is_method(word: &str) -> bool {
    word.eq_ignore_ascii_case("auto") || parse_method(word).is_some()
}

/// Every method name, for completion and help.
pub fn method_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Mechanism::ALL.iter().map(|m| m.name()).collect();
    v.extend([
        AuthMethod::ImapLogin.name(),
        AuthMethod::Pop3User.name(),
        AuthMethod::Apop.name(),
    ]);
    v
}

/// A method by name; `None` for the strongest offered.
pub fn method(name: Option<&str>) -> Result<Option<AuthMethod>, String> {
    match name {
        None => Ok(None),
        Some(n) if n.eq_ignore_ascii_case("auto") => Ok(None),
        Some(n) => parse_method(n).map(Some).ok_or_else(|| {
            format!(
                "unknown authentication method {n:?} ({})",
                method_names().join(", ")
            )
        }),
    }
}

/// The password: MAILTALK_PASSWORD, then `--password-cmd`, then a prompt without echo.
pub fn read_secret(opts: &AuthOptions, user: &str) -> Result<Secret, String> {
    if let Some(s) = credentials::from_env(PASSWORD_ENV) {
        return Ok(s);
    }
    if let Some(cmd) = &opts.password_cmd {
        return credentials::from_command(cmd).map_err(|e| format!("--password-cmd: {e}"));
    }
    credentials::prompt(&format!("password for {user}: ")).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Interrupted {
            "no password: the prompt was cancelled".to_string()
        } else {
            format!(
                "no password: set {PASSWORD_ENV}, give --password-cmd, or run on a terminal ({e})"
            )
        }
    })
}

/// The sender used when none was given: USER@HOST of this machine.
pub fn default_sender(hostname: &str) -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| {
            !u.is_empty()
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
        })
        .unwrap_or_else(|| "mailtalk".to_string());
    format!("{user}@{hostname}")
}

/// The most of standard input kept for `--data -` with `--count`.
pub const MAX_STDIN_COPIES: u64 = 10 * 1024 * 1024;

/// Builds the message of each copy after the first (`--count`) from the same description:
/// Date and Message-ID are new, a file is read again from its start.
#[derive(Clone, Debug)]
pub struct Copies {
    /// How many in all (at least 1).
    pub count: u64,
    spec: MessageSpec,
}

impl Copies {
    /// The next copy's message.
    pub fn next(&self) -> Result<MessageSource, String> {
        let msg = message::build(&self.spec).map_err(|e| e.to_string())?;
        Ok(MessageSource {
            reader: msg.reader,
            size: msg.size,
        })
    }
}

/// What the send macro sends: the transaction with the first copy's message, the notes to show
/// about it (headers added, the default sender) and how to make the other copies.
#[derive(Debug)]
pub struct PreparedSend {
    pub request: SendRequest,
    pub notes: Vec<String>,
    pub copies: Copies,
}

/// Standard input, whole, for `--data -` with `--count` (each copy is sent from it).
fn stdin_bytes() -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_STDIN_COPIES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("stdin: {e}"))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_STDIN_COPIES {
        return Err(format!(
            "with --count, --data - is read whole before sending, and standard input holds more \
             than {} MiB: give the message as --data @FILE",
            MAX_STDIN_COPIES / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

/// The envelope and streamed message for the send macro, and the notes to show about it
/// (headers added, the default sender).
pub fn send_request(
    opts: &SendOptions,
    hostname: &str,
    allow_stdin: bool,
) -> Result<PreparedSend, String> {
    if opts.to.is_empty() {
        return Err("--to ADDRESS is needed (repeat it for several recipients)".into());
    }
    let count = opts.count.max(1);
    let mut notes = Vec::new();
    let from = match &opts.from {
        Some(f) => f.clone(),
        None => {
            let sender = default_sender(hostname);
            notes.push(format!(
                "no --from given: the sender is {sender} (--from '' sends the null sender <>)"
            ));
            sender
        }
    };
    let data = match opts.data.as_deref() {
        None => None,
        Some("-") if !allow_stdin => {
            return Err(
                "--data - reads standard input, which is the terminal here; use @FILE".into(),
            )
        }
        // Several copies are sent from one reading of standard input.
        Some("-") if count > 1 => Some(DataSource::Bytes(stdin_bytes()?.into())),
        Some("-") => Some(DataSource::Stdin),
        Some(d) => match d.strip_prefix('@') {
            Some(path) => Some(DataSource::File(PathBuf::from(path))),
            None => Some(DataSource::Text(d.to_string())),
        },
    };
    let spec = MessageSpec {
        from: from.clone(),
        to: opts.to.clone(),
        subject: opts.subject.clone(),
        body: opts.body.clone(),
        data,
        headers: opts.headers.clone(),
        attachments: opts.attachments.clone(),
        hostname: hostname.to_string(),
    };
    let msg = message::build(&spec).map_err(|e| e.to_string())?;
    if !msg.added_headers.is_empty() {
        notes.push(format!("headers added: {}", msg.added_headers.join(", ")));
    }
    let eight_bit = opts.eight_bit || msg.eight_bit;
    Ok(PreparedSend {
        request: SendRequest {
            from,
            to: opts.to.clone(),
            message: msg.reader,
            size: msg.size,
            eight_bit,
            smtputf8: opts.smtputf8,
            notify: opts.notify.clone(),
            ret: opts.ret.clone(),
            envid: opts.envid.clone(),
            size_param: opts.size,
            bdat: opts.bdat,
            pipeline: opts.pipeline,
            pipeline_if_offered: count > 1 && !opts.no_pipeline,
            all_or_nothing: opts.require_all_rcpts,
            stop_after: None,
        },
        notes,
        copies: Copies { count, spec },
    })
}

/// The reply's last line, cut to a reasonable length (made visible where it is shown).
fn reply_text(r: &Reply) -> String {
    crate::excerpt::excerpt(r.last_text().as_bytes(), 200)
}

/// What the send macro's outcome looks like in the summary.
pub fn delivery(outcome: &SendOutcome, to: &[String]) -> DeliveryReport {
    let refused = outcome
        .refused()
        .iter()
        .map(|(addr, r)| (addr.clone(), reply_text(r)))
        .collect();
    match outcome {
        SendOutcome::Accepted { recipients, .. } => DeliveryReport {
            delivered: recipients.accepted.clone(),
            refused,
            nothing_delivered: false,
            outcome: "message accepted".into(),
        },
        SendOutcome::Rejected { stage, reply, .. } => DeliveryReport {
            delivered: Vec::new(),
            refused,
            nothing_delivered: true,
            outcome: match stage {
                _ if reply.code_value() == Some(421) && *stage != Stage::Message => format!(
                    "message not sent: the server closed the connection at {stage}: {}",
                    reply_text(reply)
                ),
                Stage::Rcpt => "message not sent: no recipient was accepted".to_string(),
                _ => format!("message rejected at {stage}: {}", reply_text(reply)),
            },
        },
        SendOutcome::Aborted { closed, .. } => DeliveryReport {
            delivered: Vec::new(),
            refused,
            nothing_delivered: true,
            outcome: if *closed {
                "message not sent: a recipient was refused (--require-all-rcpts), and the \
                 connection was closed before the end of the data"
                    .to_string()
            } else {
                "message not sent: a recipient was refused (--require-all-rcpts); the \
                 transaction was reset"
                    .to_string()
            },
        },
        SendOutcome::Stopped(stage) => DeliveryReport {
            delivered: Vec::new(),
            refused,
            nothing_delivered: true,
            outcome: format!("stopped after {stage} ({} recipients given)", to.len()),
        },
    }
}

impl Controller {
    /// `:auth [METHOD] [USER]` and `--auth/--user`: decides the method with what the server
    /// offers before a password is asked for, then authenticates. A refusal is reported and
    /// returned as `Ok(false)`.
    pub fn authenticate(
        &mut self,
        method_name: Option<&str>,
        user: Option<&str>,
        screen: &mut dyn Screen,
    ) -> Result<bool, SessionError> {
        let opts = self.settings.auth.clone();
        let requested = method(method_name.or(opts.method.as_deref())).map_err(invalid)?;
        // What the server offers decides first: with nothing offered there is no point in a
        // user name or a password.
        let planned = self.with_session(screen, |s, sink| {
            s.plan_auth(requested, opts.allow_plaintext, sink)
        })?;
        let user = user
            .map(str::to_string)
            .or_else(|| opts.user.clone())
            .ok_or_else(|| invalid("a user name is needed: :auth METHOD USER, or --user USER"))?;
        crate::proto::check_line(user.as_bytes())
            .map_err(|e| invalid(format!("user name: {e}")))?;
        let secret = read_secret(&opts, &user).map_err(invalid)?;
        let req = AuthRequest {
            method: Some(planned),
            creds: Credentials {
                user: user.clone(),
                authzid: opts.authzid.clone(),
                secret,
            },
            allow_plaintext: opts.allow_plaintext,
        };
        if requested.is_none() {
            self.info(screen, &format!("authenticating with {planned}"));
        }
        let outcome = self.with_session(screen, |s, sink| s.authenticate(&req, sink))?;
        match outcome {
            AuthOutcome::Success(_) => {
                self.info(screen, &format!("authenticated as {user}"));
                Ok(true)
            }
            AuthOutcome::Failure(reply) => {
                let text = format!("authentication as {user} failed: {}", reply_text(&reply));
                self.emit(screen, EventKind::Failure(text));
                Ok(false)
            }
        }
    }

    /// `:send`: builds the message (standard input is the session's, so `--data -` is
    /// refused), reports the notes, runs the transaction (once per copy with `--count`) and
    /// reports its summary. Returns the exit status it stands for: 0 when every recipient got
    /// every copy, 8 otherwise.
    pub fn send(
        &mut self,
        opts: &SendOptions,
        screen: &mut dyn Screen,
    ) -> Result<i32, SessionError> {
        let prepared = send_request(opts, &self.settings.hostname, false).map_err(invalid)?;
        self.send_prepared(prepared, None, screen)
    }

    /// Sends a message built by [`send_request`] (one-shot builds it before connecting, so
    /// that a bad option or file fails before anything is sent and standard input is read
    /// once).
    pub fn send_prepared(
        &mut self,
        prepared: PreparedSend,
        stop_after: Option<Stage>,
        screen: &mut dyn Screen,
    ) -> Result<i32, SessionError> {
        let PreparedSend {
            mut request,
            notes,
            copies,
        } = prepared;
        if copies.count > 1 && stop_after.is_some() {
            return Err(invalid(
                "--count sends whole transactions: it does not go with --quit-after",
            ));
        }
        request.stop_after = stop_after;
        for n in notes {
            self.info(screen, &n);
        }
        if copies.count > 1 {
            return self.send_copies(request, &copies, screen);
        }
        let to = request.to.clone();
        let outcome = self.with_session(screen, |s, sink| s.send_mail(request, sink))?;
        let report = delivery(&outcome, &to);
        self.emit(screen, EventKind::Delivery(report));
        Ok(match outcome {
            SendOutcome::Stopped(_) => exit::OK,
            o if o.fully_accepted() => exit::OK,
            _ => exit::REJECTED,
        })
    }

    /// `--count N`: the first copy in full; then, not to flood the screen, a copy is shown only
    /// when it ends differently from the one before (its whole dialogue when it was refused or
    /// something new was warned about, else its summary line), with a progress line now and
    /// then and a summary at the end. Every event still reaches the transcript, the recorder
    /// and `--json` (which shows them all). Stops early on an error, when the connection
    /// closes, or at Ctrl-C (the copy in progress is sent whole and is the last one).
    fn send_copies(
        &mut self,
        request: SendRequest,
        copies: &Copies,
        screen: &mut dyn Screen,
    ) -> Result<i32, SessionError> {
        let count = copies.count;
        let to = request.to.clone();
        let started = Instant::now();
        let prepared = self.with_session(screen, |s, sink| s.prepare_send(request, sink))?;
        let mut tx = match prepared {
            Prepared::Ready(tx) => tx,
            Prepared::Done(outcome) => {
                self.emit(screen, EventKind::Delivery(delivery(&outcome, &to)));
                return Ok(exit::REJECTED);
            }
        };
        let step = progress_step(count);
        let mut tally = Tally::default();
        let mut previous: Option<Shape> = None;
        let mut warned: Vec<String> = Vec::new();
        let mut ended = End::Done;
        // The lines of this copy's commands, pipelined with the previous copy's end of data.
        let mut carried: Vec<Line> = Vec::new();
        let mut n: u64 = 0;
        while n < count {
            n = n.saturating_add(1);
            let (next, unbuilt) = match (n < count).then(|| copies.next()) {
                Some(Ok(m)) => (Some(m), None),
                Some(Err(e)) => (None, Some(e)),
                None => (None, None),
            };
            let live = n == 1 || self.out.json;
            let mut held: Vec<Line> = std::mem::take(&mut carried);
            let mut warnings: Vec<String> = Vec::new();
            let result = if live {
                self.with_session(screen, |s, sink| s.send_copy(&mut tx, next, sink))
            } else {
                let mut split = NextCommands::new(tx.ahead());
                let out = &mut self.out;
                let mut sink = |ev: Event| {
                    if let EventKind::Warning(w) = &ev.kind {
                        warnings.push(w.clone());
                    }
                    split.see(&ev, held.len());
                    held.extend(out.event(&ev));
                };
                let result = self.session.send_copy(&mut tx, next, &mut sink);
                if let Some(range) = split.range(held.len()) {
                    carried = held.drain(range).collect();
                }
                result
            };
            let outcome = match result {
                Ok(o) => o,
                Err(e) => {
                    // What led to the error explains it.
                    for l in &held {
                        screen.show(l);
                    }
                    ended = End::Failed(e);
                    break;
                }
            };
            tally.add(&outcome);
            let shape = Shape::of(&outcome);
            let changed = previous.as_ref() != Some(&shape);
            let new_warning = warnings.iter().any(|w| !warned.contains(w));
            let mut report = delivery(&outcome, &to);
            report.outcome = format!("copy {n} of {count}: {}", report.outcome);
            let lines = self.out_event(EventKind::Delivery(report));
            if live || (changed && !outcome.fully_accepted()) || new_warning {
                for l in &held {
                    screen.show(l);
                }
            }
            if live || changed || new_warning {
                for l in &lines {
                    screen.show(l);
                }
            }
            for w in warnings {
                if !warned.contains(&w) {
                    warned.push(w);
                }
            }
            previous = Some(shape);
            if n == 1 && !self.out.json {
                let how = if tx.pipelined() {
                    " (pipelined: each copy's MAIL, RCPT and DATA go with the previous copy's \
                     end of data)"
                } else {
                    ""
                };
                let text = format!(
                    "the other {} copies follow{how}: a copy is shown only when it ends \
                     differently from the one before (in full when refused), with a line every \
                     {step} copies; --transcript FILE and --json keep every line",
                    count.saturating_sub(1)
                );
                self.info(screen, &text);
            }
            if let Some(e) = unbuilt {
                ended = End::Failed(invalid(format!("copy {}: {e}", n.saturating_add(1))));
                break;
            }
            if tx.interrupted() {
                ended = End::Interrupted;
                break;
            }
            if !self.session.is_open() {
                ended = End::Closed;
                break;
            }
            if n.is_multiple_of(step) && n < count {
                let text = format!("{n} of {count} sent: {}", tally.text());
                self.info(screen, &text);
            }
        }
        let sent = tally.total();
        let mut text = format!("{count} messages: {}", tally.text());
        if sent < count {
            let why = match &ended {
                End::Done => "stopped",
                End::Interrupted => "interrupted",
                End::Closed => "the connection is closed",
                End::Failed(_) => "stopped by the error below",
            };
            text.push_str(&format!(
                ", {} not sent ({why})",
                count.saturating_sub(sent)
            ));
        }
        let secs = started.elapsed().as_secs_f64();
        text.push_str(&format!(", in {secs:.2} s"));
        if secs > 0.0 {
            // Display only: how fast the copies went.
            let rate = sent as f64 / secs;
            text.push_str(&format!(" ({rate:.0}/s)"));
        }
        self.info(screen, &text);
        match ended {
            End::Failed(e) => Err(e),
            End::Interrupted => Err(SessionError::Cancelled(format!(
                "interrupted after copy {n} of {count}: the copy in progress was sent whole, \
                 the others were not sent; the session is still open"
            ))),
            _ if tally.all_accepted(count) => Ok(exit::OK),
            _ => Ok(exit::REJECTED),
        }
    }

    /// An event for the files (and `--json`); its lines, for the caller to show or not.
    fn out_event(&mut self, kind: EventKind) -> Vec<Line> {
        let ev = self.session.event(kind);
        self.out.event(&ev)
    }
}

/// Why the copies stopped.
#[derive(Debug)]
enum End {
    Done,
    Interrupted,
    Closed,
    Failed(SessionError),
}

/// Finds, among a copy's events, the commands of the next copy that went out with its end of
/// data (pipelined): from a MAIL that is not the copy's own, the run of commands sent.
#[derive(Debug)]
struct NextCommands {
    /// The copy's own MAIL is still to come among its events (not sent ahead).
    own_mail: bool,
    start: Option<usize>,
    end: Option<usize>,
}

impl NextCommands {
    fn new(sent_ahead: bool) -> NextCommands {
        NextCommands {
            own_mail: !sent_ahead,
            start: None,
            end: None,
        }
    }

    /// Looks at an event whose lines will start at `at`.
    fn see(&mut self, ev: &Event, at: usize) {
        let command = match &ev.kind {
            EventKind::Sent {
                display,
                content: false,
                ..
            } => Some(display.starts_with(b"MAIL ")),
            _ => None,
        };
        match (command, self.start, self.end) {
            (Some(true), None, _) if self.own_mail => self.own_mail = false,
            (Some(true), None, _) => self.start = Some(at),
            (None, Some(_), None) => self.end = Some(at),
            _ => {}
        }
    }

    /// The lines of the next copy's commands, when there were any.
    fn range(&self, len: usize) -> Option<std::ops::Range<usize>> {
        self.start.map(|s| s..self.end.unwrap_or(len))
    }
}

/// A progress line every this many copies: 100, or more for a large count (ten to a hundred
/// lines in all).
fn progress_step(count: u64) -> u64 {
    let mut step: u64 = 100;
    while count.checked_div(step).is_some_and(|lines| lines > 100) {
        step = step.saturating_mul(10);
    }
    step
}

/// How many copies ended how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    accepted: u64,
    /// Accepted for some recipients, refused for others.
    partly: u64,
    refused: u64,
}

impl Tally {
    fn add(&mut self, outcome: &SendOutcome) {
        let slot = match outcome {
            o if o.fully_accepted() => &mut self.accepted,
            SendOutcome::Accepted { .. } => &mut self.partly,
            _ => &mut self.refused,
        };
        *slot = slot.saturating_add(1);
    }

    fn total(&self) -> u64 {
        self.accepted
            .saturating_add(self.partly)
            .saturating_add(self.refused)
    }

    fn all_accepted(&self, count: u64) -> bool {
        self.accepted == count
    }

    fn text(&self) -> String {
        let partly = if self.partly > 0 {
            format!(
                ", {} accepted for some recipients only (the others refused)",
                self.partly
            )
        } else {
            String::new()
        };
        format!(
            "{} accepted{partly}, {} refused",
            self.accepted, self.refused
        )
    }
}

/// What tells one copy's ending from another's: the kind of outcome, the stage, the codes and
/// who was refused, not the texts (a queue ID differs from copy to copy).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shape {
    kind: u8,
    stage: Option<Stage>,
    code: Option<(Option<u16>, Option<EnhancedCode>)>,
    refused: Vec<(String, Option<u16>, Option<EnhancedCode>)>,
}

impl Shape {
    fn of(outcome: &SendOutcome) -> Shape {
        let codes = |r: &Reply| (r.code_value(), r.enhanced);
        let refused = outcome
            .refused()
            .iter()
            .map(|(to, r)| (to.clone(), r.code_value(), r.enhanced))
            .collect();
        let (kind, stage, code) = match outcome {
            SendOutcome::Accepted { reply, .. } => (0, None, Some(codes(reply))),
            SendOutcome::Rejected { stage, reply, .. } => (1, Some(*stage), Some(codes(reply))),
            SendOutcome::Aborted { closed, .. } => (if *closed { 2 } else { 3 }, None, None),
            SendOutcome::Stopped(stage) => (4, Some(*stage), None),
        };
        Shape {
            kind,
            stage,
            code,
            refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::session::Recipients;
    use crate::proto::Outcome;

    #[test]
    fn methods_by_name() {
        assert!(method(Some("NOPE")).is_err());
        assert_eq!(method(Some("auto")).unwrap(), None);
        assert_eq!(method(None).unwrap(), None);
        assert!(is_method("scram-sha-256"));
        assert!(is_method("IMAP-LOGIN"));
        assert!(!is_method("alice"));
    }

    #[test]
    fn the_default_sender_is_said_and_the_null_sender_only_when_asked() {
        let opts = SendOptions {
            to: vec!["b@x.test".into()],
            ..SendOptions::default()
        };
        let PreparedSend {
            request: req,
            notes,
            ..
        } = send_request(&opts, "host.example", false).unwrap();
        assert!(req.from.ends_with("@host.example"), "{}", req.from);
        assert!(
            notes[0].starts_with("no --from given: the sender is "),
            "{notes:?}"
        );
        let opts = SendOptions {
            from: Some(String::new()),
            ..opts
        };
        let PreparedSend {
            request: req,
            notes,
            ..
        } = send_request(&opts, "host.example", false).unwrap();
        assert_eq!(req.from, "");
        assert!(!notes.iter().any(|n| n.contains("no --from")), "{notes:?}");
        assert!(send_request(&SendOptions::default(), "h", false).is_err());
    }

    #[test]
    fn summaries_name_every_refused_recipient() {
        let refused = Reply::line(
            Outcome::PermFail,
            b"501 5.1.3 Bad recipient address syntax".to_vec(),
        );
        let outcome = SendOutcome::Accepted {
            reply: Reply::line(Outcome::Ok, b"250 queued".to_vec()),
            recipients: Recipients {
                accepted: vec!["a@x.test".into()],
                refused: vec![("bad@".into(), refused)],
            },
        };
        let d = delivery(&outcome, &["bad@".into(), "a@x.test".into()]);
        assert_eq!(d.delivered, vec!["a@x.test"]);
        assert_eq!(
            d.refused,
            vec![(
                "bad@".to_string(),
                "501 5.1.3 Bad recipient address syntax".to_string()
            )]
        );
        assert!(!d.nothing_delivered);
        assert!(!outcome.fully_accepted());
    }

    #[test]
    fn progress_lines_are_ten_to_a_hundred() {
        assert_eq!(progress_step(50), 100);
        assert_eq!(progress_step(1000), 100);
        assert_eq!(progress_step(10_000), 100);
        assert_eq!(progress_step(10_099), 100);
        assert_eq!(progress_step(10_100), 1000);
        assert_eq!(progress_step(1_000_000), 10_000);
        assert_eq!(progress_step(u64::MAX), 1_000_000_000_000_000_000);
    }

    fn accepted(text: &str, refused: &[(&str, &[u8])]) -> SendOutcome {
        SendOutcome::Accepted {
            reply: Reply::line(Outcome::Ok, text.as_bytes().to_vec()),
            recipients: Recipients {
                accepted: vec!["a@x.test".into()],
                refused: refused
                    .iter()
                    .map(|(to, r)| (to.to_string(), Reply::line(Outcome::PermFail, r.to_vec())))
                    .collect(),
            },
        }
    }

    #[test]
    fn copies_are_told_apart_by_codes_not_texts() {
        let one = accepted("250 queued as 1", &[]);
        assert_eq!(
            Shape::of(&one),
            Shape::of(&accepted("250 queued as 2", &[]))
        );
        let partly = accepted("a", &[("c@x.test", b"550 no")]);
        assert_ne!(Shape::of(&partly), Shape::of(&accepted("a", &[])));
        let mut t = Tally::default();
        t.add(&one);
        t.add(&partly);
        t.add(&SendOutcome::Aborted {
            recipients: Recipients::default(),
            closed: false,
        });
        assert_eq!(t.total(), 3);
        assert!(!t.all_accepted(3));
        assert_eq!(
            t.text(),
            "1 accepted, 1 accepted for some recipients only (the others refused), 1 refused"
        );
        assert_eq!(Tally::default().text(), "0 accepted, 0 refused");
    }

    #[test]
    fn the_next_copys_commands_are_found_among_a_copys_events() {
        let sent = |t: &str, content: bool| Event {
            at: std::time::Duration::ZERO,
            protocol: crate::proto::Protocol::Smtp,
            security: crate::engine::Security::Plain,
            kind: EventKind::Sent {
                display: t.as_bytes().to_vec(),
                secret: false,
                content,
            },
        };
        let info = Event {
            kind: EventKind::Info("x".into()),
            ..sent("", false)
        };
        // A copy whose own commands went with the previous one: the first MAIL is the next's.
        let events = [
            info.clone(),
            sent("hi", true),
            sent(".", true),
            sent("MAIL FROM:<a>", false),
            sent("RCPT TO:<b>", false),
            sent("DATA", false),
            info.clone(),
        ];
        let mut split = NextCommands::new(true);
        for (i, e) in events.iter().enumerate() {
            split.see(e, i);
        }
        assert_eq!(split.range(events.len()), Some(3..6));
        // A copy that sent its own MAIL (after an RSET), and nothing ahead.
        let mut split = NextCommands::new(false);
        for (i, e) in [
            sent("MAIL FROM:<a>", false),
            sent("RCPT TO:<b>", false),
            info,
        ]
        .iter()
        .enumerate()
        {
            split.see(e, i);
        }
        assert_eq!(split.range(3), None);
    }
}
