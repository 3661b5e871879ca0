//! The macros: `:auth` / `--auth` and `:send` / one-shot `--from --to`. They take the plain
//! option types and report through events, like everything else.

use std::path::PathBuf;

use super::args::{AuthOptions, SendOptions};
use super::credentials::{self, PASSWORD_ENV};
use super::exit;
use super::{invalid, Controller, Screen};
use crate::engine::session::{
    parse_method, AuthMethod, AuthOutcome, AuthRequest, SendOutcome, SendRequest, Stage,
};
use crate::engine::{DeliveryReport, EventKind, SessionError};
use crate::message::{self, DataSource, MessageSpec};
use crate::proto::sasl::{Credentials, Mechanism};
use crate::proto::Reply;
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

/// The envelope and streamed message for the send macro, and the notes to show about it
/// (headers added, the default sender).
pub fn send_request(
    opts: &SendOptions,
    hostname: &str,
    allow_stdin: bool,
) -> Result<(SendRequest, Vec<String>), String> {
    if opts.to.is_empty() {
        return Err("--to ADDRESS is needed (repeat it for several recipients)".into());
    }
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
    Ok((
        SendRequest {
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
            all_or_nothing: opts.require_all_rcpts,
            stop_after: None,
        },
        notes,
    ))
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
    /// refused), reports the notes, runs the transaction and reports its summary. Returns the
    /// exit status it stands for: 0 when every recipient got the message, 8 otherwise.
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
        prepared: (SendRequest, Vec<String>),
        stop_after: Option<Stage>,
        screen: &mut dyn Screen,
    ) -> Result<i32, SessionError> {
        let (mut req, notes) = prepared;
        req.stop_after = stop_after;
        for n in notes {
            self.info(screen, &n);
        }
        let to = req.to.clone();
        let outcome = self.with_session(screen, |s, sink| s.send_mail(req, sink))?;
        let report = delivery(&outcome, &to);
        self.emit(screen, EventKind::Delivery(report));
        Ok(match outcome {
            SendOutcome::Stopped(_) => exit::OK,
            o if o.fully_accepted() => exit::OK,
            _ => exit::REJECTED,
        })
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
        let (req, notes) = send_request(&opts, "host.example", false).unwrap();
        assert!(req.from.ends_with("@host.example"), "{}", req.from);
        assert!(
            notes[0].starts_with("no --from given: the sender is "),
            "{notes:?}"
        );
        let opts = SendOptions {
            from: Some(String::new()),
            ..opts
        };
        let (req, notes) = send_request(&opts, "host.example", false).unwrap();
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
}
