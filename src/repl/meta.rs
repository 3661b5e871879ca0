//! Meta-commands (`:help`, `:starttls`, `:caps`, `:expect` …). Adding one is one entry in
//! [`META`].

use std::path::PathBuf;
use std::time::Duration;

use super::{macros, ExpectResult, ScriptState};
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
        name: ":stats",
        args: "",
        help: "sum up the session: connect and handshake times, reply times, lines and bytes",
        run: stats,
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
    let protocol = ctx.session.protocol();
    for (group, items) in explain::caps::grouped(protocol, &caps) {
        say(ctx, format!("{group}:"));
        let width = items
            .iter()
            .map(|(i, _)| i.chars().count().min(28))
            .max()
            .unwrap_or(0);
        for (item, meaning) in items {
            let item = render::escape::visible_string(item.as_bytes());
            say(ctx, format!("  {item:width$}  {meaning}"));
        }
    }
    Ok(Flow::Continue)
}

fn tls(ctx: &mut Ctx, _args: &str) -> Result<Flow, SessionError> {
    let Some(info) = ctx.session.tls_info().cloned() else {
        say(
            ctx,
            "the connection is not encrypted (use :starttls, or an implicit TLS scheme such as smtps://)",
        );
        return Ok(Flow::Continue);
    };
    for line in render::tls_details(&info) {
        say(ctx, line);
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
    let reply = ctx.session.last_exchange();
    let (ok, actual) = match expectation.check(protocol, reply.as_ref()) {
        Ok(()) => (true, String::new()),
        Err(actual) => (false, actual),
    };
    let expected = expectation.describe();
    ctx.script.last_expect = Some(ExpectResult {
        ok,
        expected: expected.clone(),
        actual: actual.clone(),
        location: location.clone(),
    });
    if ok {
        return Ok(Flow::Continue);
    }
    ctx.script.failures.push(format!(
        "{}expected {expected}, got {actual}",
        location.map(|l| format!("{l}: ")).unwrap_or_default()
    ));
    Ok(if ctx.script.keep_going {
        Flow::Continue
    } else {
        Flow::Abort
    })
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
    let reply = ctx.session.last_exchange();
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
    macros::authenticate(ctx.session, &req, ctx.sink, ctx.say)?;
    Ok(Flow::Continue)
}

fn send(ctx: &mut Ctx, args: &str) -> Result<Flow, SessionError> {
    let parsed = macros::parse_send(args).map_err(invalid)?;
    let (req, added) =
        macros::send_request(&parsed, &ctx.script.hostname, false).map_err(invalid)?;
    macros::send(ctx.session, req, &added, ctx.sink, ctx.say)?;
    Ok(Flow::Continue)
}

fn stats(ctx: &mut Ctx, _args: &str) -> Result<Flow, SessionError> {
    let st = ctx.session.stats().clone();
    let total = ctx.session.elapsed();
    say(ctx, format!("session: {}", render::millis(total)));
    if let Some(c) = st.connect {
        say(ctx, format!("connect: {}", render::millis(c)));
    }
    for (i, h) in st.handshakes.iter().enumerate() {
        say(
            ctx,
            format!(
                "TLS handshake {}: {}",
                i.saturating_add(1),
                render::millis(*h)
            ),
        );
    }
    say(
        ctx,
        format!(
            "sent {} lines ({} bytes), received {} bytes",
            st.lines_sent, st.bytes_sent, st.bytes_received
        ),
    );
    let totals: Vec<Duration> = st.replies.iter().map(|(_, t)| *t).collect();
    if let (Some(min), Some(max)) = (totals.iter().min(), totals.iter().max()) {
        let sum: Duration = totals.iter().sum();
        let n = u32::try_from(totals.len()).unwrap_or(u32::MAX).max(1);
        say(
            ctx,
            format!(
                "{} replies: fastest {}, slowest {}, mean {}",
                totals.len(),
                render::millis(*min),
                render::millis(*max),
                render::millis(sum.checked_div(n).unwrap_or_default())
            ),
        );
        let firsts: Vec<Duration> = st.replies.iter().filter_map(|(f, _)| *f).collect();
        if let Some(max_first) = firsts.iter().max() {
            say(
                ctx,
                format!("slowest first byte: {}", render::millis(*max_first)),
            );
        }
    } else {
        say(ctx, "no replies yet");
    }
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
}
