//! The macros: `:auth` / `--auth` and `:send` / one-shot `--from --to`, shared by the REPL,
//! scripts and the command line.

use std::path::PathBuf;

use clap::Parser;

use crate::cli::{AuthArgs, SendArgs};
use crate::engine::session::{
    parse_method, AuthMethod, AuthOutcome, AuthRequest, SendOutcome, SendRequest,
};
use crate::engine::{Session, SessionError, Sink};
use crate::message::{self, DataSource, MessageSpec};
use crate::proto::sasl::Credentials;
use crate::secret::{self, Secret};

/// The environment variable a password or token is read from.
pub const PASSWORD_ENV: &str = "MAILTALK_PASSWORD";

/// The password: MAILTALK_PASSWORD, then `--password-cmd`, then a prompt without echo.
pub fn read_secret(args: &AuthArgs, user: &str) -> Result<Secret, String> {
    if let Some(s) = secret::from_env(PASSWORD_ENV) {
        return Ok(s);
    }
    if let Some(cmd) = &args.password_cmd {
        return secret::from_command(cmd).map_err(|e| format!("--password-cmd: {e}"));
    }
    secret::prompt(&format!("password for {user}: ")).map_err(|e| {
        format!("no password: set {PASSWORD_ENV}, give --password-cmd, or run on a terminal ({e})")
    })
}

/// Builds the request for `:auth [METHOD] [USER]` or `--auth/--user`.
pub fn auth_request(
    defaults: &AuthArgs,
    method: Option<&str>,
    user: Option<&str>,
) -> Result<AuthRequest, String> {
    let method = match method.or(defaults.auth.as_deref()) {
        None | Some("auto") | Some("AUTO") => None,
        Some(name) => Some(parse_method(name).ok_or_else(|| {
            format!(
                "unknown authentication method {name:?} (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, \
                 SCRAM-SHA-256, XOAUTH2, OAUTHBEARER, IMAP-LOGIN, USER, APOP)"
            )
        })?),
    };
    let user = user
        .map(str::to_string)
        .or_else(|| defaults.user.clone())
        .ok_or("a user name is needed: :auth METHOD USER, or --user USER")?;
    crate::proto::check_line(user.as_bytes()).map_err(|e| format!("user name: {e}"))?;
    let secret = read_secret(defaults, &user)?;
    Ok(AuthRequest {
        method,
        creds: Credentials {
            user,
            authzid: defaults.authzid.clone(),
            secret,
        },
        allow_plaintext: defaults.allow_plaintext_auth,
    })
}

/// Authenticates; a refusal is reported as a warning and returned as `Ok(false)`.
pub fn authenticate(
    session: &mut Session,
    req: &AuthRequest,
    sink: Sink,
    say: &mut dyn FnMut(String),
) -> Result<bool, SessionError> {
    let outcome = session.authenticate(req, sink)?;
    match outcome {
        AuthOutcome::Success(_) => {
            say(format!("authenticated as {}", req.creds.user));
            Ok(true)
        }
        AuthOutcome::Failure(reply) => {
            say(format!(
                "authentication as {} failed: {}",
                req.creds.user,
                crate::render::escape::visible_string(reply.last_text().as_bytes())
            ));
            Ok(false)
        }
    }
}

/// The method named by `:auth`'s first argument, if it is one.
pub fn is_method(word: &str) -> bool {
    word.eq_ignore_ascii_case("auto") || parse_method(word).is_some()
}

/// `:send`'s arguments, parsed with the same definitions as the command line.
#[derive(Parser, Debug)]
#[command(name = ":send", no_binary_name = true, disable_help_flag = true)]
struct SendCommand {
    #[command(flatten)]
    send: SendArgs,
}

/// Parses `:send` arguments (shell-like quoting).
pub fn parse_send(args: &str) -> Result<SendArgs, String> {
    let words = split_words(args)?;
    SendCommand::try_parse_from(words)
        .map(|c| c.send)
        .map_err(|e| e.to_string().trim_end().to_string())
}

/// Builds the envelope and streamed message for the send macro.
pub fn send_request(
    args: &SendArgs,
    hostname: &str,
    allow_stdin: bool,
) -> Result<(SendRequest, Vec<String>), String> {
    let from = args.from.clone().unwrap_or_default();
    if args.to.is_empty() {
        return Err("--to ADDRESS is needed (repeat it for several recipients)".into());
    }
    let data = match args.data.as_deref() {
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
        to: args.to.clone(),
        subject: args.subject.clone(),
        body: args.body.clone(),
        data,
        headers: args.header.clone(),
        attachments: args.attach.clone(),
        hostname: hostname.to_string(),
    };
    let msg = message::build(&spec).map_err(|e| e.to_string())?;
    let eight_bit = args.eight_bit || msg.eight_bit;
    Ok((
        SendRequest {
            from,
            to: args.to.clone(),
            message: msg.reader,
            size: msg.size,
            eight_bit,
            smtputf8: args.smtputf8,
            notify: args.notify.clone(),
            ret: args.ret.clone(),
            envid: args.envid.clone(),
            size_param: args.size,
            bdat: args.bdat,
            pipeline: args.pipeline,
            stop_after: None,
        },
        msg.added_headers,
    ))
}

/// Runs the send macro and says how it ended. Returns whether the message was accepted.
pub fn send(
    session: &mut Session,
    req: SendRequest,
    added: &[String],
    sink: Sink,
    say: &mut dyn FnMut(String),
) -> Result<bool, SessionError> {
    if !added.is_empty() {
        say(format!("headers added: {}", added.join(", ")));
    }
    match session.send_mail(req, sink)? {
        SendOutcome::Accepted(_) => {
            say("message accepted".into());
            Ok(true)
        }
        SendOutcome::Rejected { stage, reply } => {
            say(format!(
                "message rejected at {stage}: {}",
                crate::render::escape::visible_string(reply.last_text().as_bytes())
            ));
            Ok(false)
        }
        SendOutcome::Stopped(stage) => {
            say(format!("stopped after {stage}"));
            Ok(true)
        }
    }
}

/// Splits arguments like a shell: whitespace separates, '…' and "…" quote, \ escapes.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch) => cur.push(ch),
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `AuthMethod` by name, for completion.
pub fn method_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = crate::proto::sasl::Mechanism::ALL
        .iter()
        .map(|m| m.name())
        .collect();
    v.extend([
        AuthMethod::ImapLogin.name(),
        AuthMethod::Pop3User.name(),
        AuthMethod::Apop.name(),
    ]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_words(r#"--to a@b --subject "Hello there" --body 'it''s' x\ y"#).unwrap(),
            vec![
                "--to",
                "a@b",
                "--subject",
                "Hello there",
                "--body",
                "its",
                "x y"
            ]
        );
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_words(r#""""#).unwrap(), vec![""]);
        assert!(split_words("\"open").is_err());
        assert!(split_words("'open").is_err());
    }

    #[test]
    fn parses_send_arguments() {
        let a = parse_send("--from a@x.test --to b@x.test --to c@x.test --subject 'Hi you' --8bit")
            .unwrap();
        assert_eq!(a.from.as_deref(), Some("a@x.test"));
        assert_eq!(a.to, vec!["b@x.test", "c@x.test"]);
        assert_eq!(a.subject.as_deref(), Some("Hi you"));
        assert!(a.eight_bit);
        assert!(parse_send("--bogus").is_err());
    }

    #[test]
    fn auth_request_needs_a_user_and_a_known_method() {
        let d = AuthArgs::default();
        assert!(auth_request(&d, Some("NOPE"), Some("u")).is_err());
        assert!(auth_request(&d, Some("PLAIN"), None).is_err());
        assert!(is_method("scram-sha-256"));
        assert!(is_method("IMAP-LOGIN"));
        assert!(!is_method("alice"));
    }
}
