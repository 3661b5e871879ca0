//! Meta-commands (`:help`, `:starttls`, `:caps`, `:expect` …). Adding one is one entry in
//! [`META`].

use std::path::PathBuf;
use std::time::Duration;

use super::{macros, ScriptState};
use crate::engine::{Event, EventKind, Session, SessionError, Sink};
use crate::explain;
use crate::proto::{CommandError, Protocol};
use crate::render;
use crate::script::expect;

/// What the front end does after a meta-command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Say QUIT/LOGOUT and leave.
    Quit,
    /// A script failure: stop the script (exit status 1).
    Abort,
    /// Run the lines of this script file now.
    Include(PathBuf),
    /// Start recording into this file (None: stop).
    Record(Option<PathBuf>),
    /// The session ended with this exit status (already reported).
    Fatal(i32),
}

/// What a meta-command can reach.
pub struct Ctx<'a, 'b> {
    pub session: &'a mut Session,
    pub sink: Sink<'b>,
    /// Prints one of mailtalk's own lines (shown as `** text`).
    pub say: &'a mut dyn FnMut(String),
    pub script: &'a mut ScriptState,
}

type Run = fn(&mut Ctx, &str) -> Result<Flow, SessionError>;

pub struct Meta {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
    pub run: Run,
}

pub const META: &[Meta] = &[
    Meta {
        name: ":help",
        args: "",
        help: "show the meta-commands and what the line prefixes mean",
        run: help,
    },
    Meta {
        name: ":starttls",
        args: "",
        help: "upgrade the connection with STARTTLS (STLS for POP3) now, then ask for capabilities again",
        run: starttls,
    },
    Meta {
        name: ":caps",
        args: "",
        help: "show what the server advertised (EHLO keywords, CAPABILITY, CAPA)",
        run: caps,
    },
    Meta {
        name: ":tls",
        args: "",
        help: "show the TLS version, cipher, SNI, verification and the certificate chain",
        run: tls,
    },
    Meta {
        name: ":explain",
        args: "[CODE|LINE]",
        help: "explain a reply code (550, 5.1.1, [OVERQUOTA], SYS/TEMP) or, without argument, the last reply",
        run: explain_cmd,
    },
    Meta {
        name: ":auth",
        args: "[METHOD] [USER]",
        help: "authenticate (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 …, IMAP-LOGIN, USER, APOP); the password comes from MAILTALK_PASSWORD, --password-cmd or a prompt",
        run: auth,
    },
    Meta {
        name: ":send",
        args: "--from A --to B [...]",
        help: "send a message: EHLO if needed, MAIL, RCPT, DATA (options as on the command line: --subject, --body, --data @FILE, --header, --attach, --bdat, --pipeline …)",
        run: send,
    },
    Meta {
        name: ":expect",
        args: "SPEC [/REGEX/]",
        help: "check the last reply: 250, 2xx, 5.1.1, OK/NO/BAD, +OK/-ERR, ok/fail, and/or a regex",
        run: expect_cmd,
    },
    Meta {
        name: ":capture",
        args: "NAME /REGEX/",
        help: "store group 1 of REGEX matched against the last reply as ${NAME}",
        run: capture,
    },
    Meta {
        name: ":sleep",
        args: "SECS",
        help: "wait (at most an hour)",
        run: sleep,
    },
    Meta {
        name: ":include",
        args: "FILE",
        help: "run the lines of a script file",
        run: include,
    },
    Meta {
        name: ":record",
        args: "FILE|off",
        help: "write what you type from now on as a replayable script (secrets as ${MAILTALK_PASSWORD})",
        run: record,
    },
    Meta {
        name: ":quit",
        args: "",
        help: "say QUIT (LOGOUT for IMAP), wait for the reply and leave",
        run: quit,
    },
];

/// Finds a meta-command by name (a unique prefix is enough: `:q`, `:st`).
pub fn find(name: &str) -> Result<&'static Meta, String> {
    let name = name.to_ascii_lowercase();
    if let Some(m) = META.iter().find(|m| m.name == name) {
        return Ok(m);
    }
    let matches: Vec<&Meta> = META.iter().filter(|m| m.name.starts_with(&name)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unknown meta-command {name}; :help lists them")),
        many => Err(format!(
            "{name} is ambiguous: {}",
            many.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Runs a line that starts with `:`.
pub fn run(ctx: &mut Ctx, line: &str) -> Result<Flow, SessionError> {
    let line = line.trim();
    let (name, args) = line.split_once(' ').unwrap_or((line, ""));
    match find(name) {
        Ok(m) => (m.run)(ctx, args.trim()),
        Err(msg) => Err(invalid(msg)),
    }
}

fn invalid(msg: impl Into<String>) -> SessionError {
    SessionError::Command(CommandError::Invalid(msg.into()))
}

fn event(ctx: &Ctx, kind: EventKind) -> Event {
    Event {
        at: ctx.session.elapsed(),
        protocol: ctx.session.protocol(),
        security: ctx.session.security(),
        kind,
    }
}

fn say(ctx: &mut Ctx, text: impl Into<String>) {
    (ctx.say)(text.into());
}

fn help(ctx: &mut Ctx, _args: &str) -> Result<Flow, SessionError> {
    let width = META
        .iter()
        .map(|m| m.name.len().saturating_add(m.args.len()).saturating_add(1))
        .max()
        .unwrap_or(10);
    say(ctx, "meta-commands (a unique prefix is enough, e.g. :q):");
    for m in META {
        let usage = if m.args.is_empty() {
            m.name.to_string()
        } else {
            format!("{} {}", m.name, m.args)
        };
        say(ctx, format!("  {usage:width$}  {}", m.help));
    }
    say(ctx, "line prefixes:");
    for line in render::LEGEND.lines() {
        say(ctx, format!("  {line}"));
    }
    let text = format!(
        "anything else is sent to the server as typed, with CRLF added.{}",
        match ctx.session.protocol() {
            Protocol::Imap =>
                " Commands without a tag get the next automatic tag (A001 …); a line ending \
                 in {n} waits for the server's + and then takes the next n bytes you type.",
            Protocol::Pop3 =>
                " Multi-line replies (CAPA, LIST, UIDL, RETR, TOP) are read to the final dot.",
            _ => " After DATA and the 354 reply, lines are message text until a lone \".\".",
        }
    );
    say(ctx, text);
    Ok(Flow::Continue)
}

fn starttls(ctx: &mut Ctx, _args: &str) -> Result<Flow, SessionError> {
    ctx.session.starttls(ctx.sink, false)?;
    Ok(Flow::Continue)
}

fn caps(ctx: &mut Ctx, _args: &str) -> Result<Flow, SessionError> {
    let caps = ctx.session.capabilities().clone();
    if caps.is_empty() {
        let hint = match ctx.session.protocol() {
            Protocol::Smtp => "send EHLO first",
            Protocol::Lmtp => "send LHLO first",
            Protocol::Imap => "send CAPABILITY first",
            Protocol::Pop3 => "send CAPA first",
        };
        say(ctx, format!("no capabilities known yet ({hint})"));
        return Ok(Flow::Continue);
    }
    let ev = event(
        ctx,
        EventKind::Capabilities {
            caps,
            added: Vec::new(),
            removed: Vec::new(),
            after_tls: false,
        },
    );
    (ctx.sink)(ev);
    Ok(Flow::Continue)
}

/// Whether `name` matches a certificate name (`*.example.com` covers one label).
fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => name
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == name,
    }
}

fn tls(ctx: &mut Ctx, _args: &str) -> Result<Flow, SessionError> {
    let Some(info) = ctx.session.tls_info().cloned() else {
        say(
            ctx,
            "the connection is not encrypted (use :starttls, or an implicit TLS scheme such as smtps://)",
        );
        return Ok(Flow::Continue);
    };
    say(
        ctx,
        format!("protocol {}, cipher {}", info.version, info.cipher),
    );
    say(
        ctx,
        format!(
            "SNI sent: {}",
            info.sni.as_deref().unwrap_or("none (IP address)")
        ),
    );
    if info.verified {
        say(
            ctx,
            format!(
                "certificate verified (chain and host name {})",
                info.verify_name
            ),
        );
    } else {
        say(
            ctx,
            format!(
                "certificate NOT verified (--insecure){}",
                match &info.verify_error {
                    Some(e) => format!(": {e}"),
                    None => format!("; it would have passed for {}", info.verify_name),
                }
            ),
        );
    }
    for (i, c) in info.chain.iter().enumerate() {
        say(
            ctx,
            format!("certificate {i}{}:", if i == 0 { " (server)" } else { "" }),
        );
        say(ctx, format!("  subject  {}", c.subject));
        say(ctx, format!("  issuer   {}", c.issuer));
        if !c.sans.is_empty() {
            say(ctx, format!("  SANs     {}", c.sans.join(", ")));
        }
        let days = match c.days_left {
            Some(d) if d < 0 => format!(" (EXPIRED {} days ago)", d.unsigned_abs()),
            Some(d) => format!(" ({d} days left)"),
            None => String::new(),
        };
        say(
            ctx,
            format!("  valid    {} to {}{days}", c.not_before, c.not_after),
        );
        say(ctx, format!("  key      {}", c.key));
        say(ctx, format!("  SHA-256  {}", c.sha256));
        if i == 0 {
            let name = &info.verify_name;
            let matched = c.sans.iter().any(|san| {
                san.strip_prefix("DNS:")
                    .is_some_and(|p| name_matches(p, name))
                    || san.strip_prefix("IP:").is_some_and(|ip| ip == name)
            });
            say(
                ctx,
                format!(
                    "  host     {name} {} a SAN",
                    if matched { "matches" } else { "does NOT match" }
                ),
            );
        }
    }
    Ok(Flow::Continue)
}

fn explain_cmd(ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    let explanations = if args.is_empty() {
        let Some(reply) = ctx.session.last_reply().cloned() else {
            say(ctx, "no reply yet; give a code, e.g. :explain 550 5.1.1");
            return Ok(Flow::Continue);
        };
        let protocol = ctx.session.protocol();
        let mut all = Vec::new();
        for line in reply.lines.iter().rev().take(1) {
            all.extend(explain::explain_reply(protocol, line));
        }
        all
    } else if args.split_whitespace().count() > 1 {
        explain::explain_reply(ctx.session.protocol(), args.as_bytes())
    } else {
        explain::explain(args)
    };
    if explanations.is_empty() {
        say(ctx, "nothing to explain: no code in that reply");
    }
    for e in explanations {
        for line in explain::render_text(&e).lines() {
            say(ctx, line.to_string());
        }
    }
    Ok(Flow::Continue)
}

fn expect_cmd(ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    let protocol = ctx.session.protocol();
    let expectation = expect::parse_expect(args, protocol).map_err(invalid)?;
    let location = ctx.script.location.clone();
    match expectation.check(protocol, ctx.session.last_reply()) {
        Ok(()) => {
            say(ctx, format!("expect {}: ok", expectation.describe()));
            Ok(Flow::Continue)
        }
        Err(actual) => {
            let msg = format!(
                "expectation failed{}: expected {}, got {actual}",
                location.map(|l| format!(" at {l}")).unwrap_or_default(),
                expectation.describe()
            );
            fail(ctx, msg)
        }
    }
}

/// Records a script failure; stops the script unless `--keep-going`.
fn fail(ctx: &mut Ctx, msg: String) -> Result<Flow, SessionError> {
    let ev = event(ctx, EventKind::Warning(msg.clone()));
    (ctx.sink)(ev);
    ctx.script.failures.push(msg);
    Ok(if ctx.script.keep_going {
        Flow::Continue
    } else {
        Flow::Abort
    })
}

fn capture(ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    let reply = ctx.session.last_reply().cloned();
    match ctx.script.vars.capture(args, reply.as_ref()) {
        Ok(value) => {
            let name = args.split_whitespace().next().unwrap_or("");
            say(
                ctx,
                format!(
                    "{name} = {}",
                    render::escape::visible_string(value.as_bytes())
                ),
            );
            Ok(Flow::Continue)
        }
        Err(e) => {
            let location = ctx.script.location.clone();
            fail(
                ctx,
                format!(
                    "capture failed{}: {e}",
                    location.map(|l| format!(" at {l}")).unwrap_or_default()
                ),
            )
        }
    }
}

fn sleep(_ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    let secs: f64 = args
        .parse()
        .map_err(|_| invalid(format!(":sleep takes seconds, not {args:?}")))?;
    if !(secs.is_finite() && (0.0..=3600.0).contains(&secs)) {
        return Err(invalid(":sleep takes 0 to 3600 seconds"));
    }
    std::thread::sleep(Duration::from_secs_f64(secs));
    Ok(Flow::Continue)
}

fn include(_ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    if args.is_empty() {
        return Err(invalid(":include needs a file name"));
    }
    Ok(Flow::Include(PathBuf::from(args)))
}

fn record(_ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    match args {
        "" => Err(invalid(":record needs a file name (or off)")),
        "off" => Ok(Flow::Record(None)),
        path => Ok(Flow::Record(Some(PathBuf::from(path)))),
    }
}

fn auth(ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let (method, user) = match words.as_slice() {
        [] => (None, None),
        [one] if macros::is_method(one) => (Some(*one), None),
        [one] => (None, Some(*one)),
        [m, u] => (Some(*m), Some(*u)),
        _ => return Err(invalid("usage: :auth [METHOD] [USER]")),
    };
    let req = macros::auth_request(&ctx.script.auth, method, user).map_err(invalid)?;
    let mut said = Vec::new();
    let result = {
        let mut say = |s: String| said.push(s);
        macros::authenticate(ctx.session, &req, ctx.sink, &mut say)
    };
    for s in said {
        say(ctx, s);
    }
    result?;
    Ok(Flow::Continue)
}

fn send(ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    let parsed = macros::parse_send(args).map_err(invalid)?;
    let (req, added) =
        macros::send_request(&parsed, &ctx.script.hostname, false).map_err(invalid)?;
    let mut said = Vec::new();
    let result = {
        let mut say = |s: String| said.push(s);
        macros::send(ctx.session, req, &added, ctx.sink, &mut say)
    };
    for s in said {
        say(ctx, s);
    }
    result?;
    Ok(Flow::Continue)
}

fn quit(_ctx: &mut Ctx, _args: &str) -> Result<Flow, SessionError> {
    Ok(Flow::Quit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_by_name_and_prefix() {
        assert_eq!(find(":quit").unwrap().name, ":quit");
        assert_eq!(find(":q").unwrap().name, ":quit");
        assert_eq!(find(":STARTTLS").unwrap().name, ":starttls");
        assert_eq!(find(":expe").unwrap().name, ":expect");
        assert!(find(":exp").is_err());
        assert!(find(":ex").is_err());
        assert!(find(":nope").is_err());
        assert!(find(":").is_err());
    }

    #[test]
    fn names_are_unique_and_start_with_colon() {
        for (i, m) in META.iter().enumerate() {
            assert!(m.name.starts_with(':'));
            assert!(META.iter().skip(i + 1).all(|o| o.name != m.name));
        }
    }

    #[test]
    fn certificate_name_matching() {
        assert!(name_matches("mx.example.com", "MX.example.com"));
        assert!(name_matches("*.example.com", "mx.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("other.test", "localhost"));
    }
}
