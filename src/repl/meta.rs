//! Meta-commands (`:help`, `:starttls`, `:caps`, `:quit` …). Adding one is one entry in
//! [`META`].

use crate::engine::{EventKind, Session, SessionError, Sink};
use crate::render::{self, Role, Theme};

/// What the front end does after a meta-command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// What a meta-command can reach.
pub struct Ctx<'a, 'b> {
    pub session: &'a mut Session,
    pub sink: Sink<'b>,
    pub theme: &'a Theme,
    /// Prints one already formatted line.
    pub out: &'a mut dyn FnMut(String),
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
        Err(msg) => {
            let ev = ctx_event(ctx, EventKind::Warning(msg));
            (ctx.sink)(ev);
            Ok(Flow::Continue)
        }
    }
}

fn ctx_event(ctx: &Ctx, kind: EventKind) -> crate::engine::Event {
    crate::engine::Event {
        at: ctx.session.elapsed(),
        protocol: ctx.session.protocol(),
        security: ctx.session.security(),
        kind,
    }
}

/// Prints one of mailtalk's own lines (`** text`).
fn say(ctx: &mut Ctx, text: &str) {
    let line = ctx.theme.paint_one(Role::Info, &format!("** {text}"));
    (ctx.out)(line);
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
        say(ctx, &format!("  {usage:width$}  {}", m.help));
    }
    say(ctx, "line prefixes:");
    for line in render::LEGEND.lines() {
        say(ctx, &format!("  {line}"));
    }
    let text = format!(
        "Anything else is sent to the server as typed, with CRLF added.{}",
        match ctx.session.protocol() {
            crate::proto::Protocol::Imap =>
                " Commands without a tag get the next automatic tag (A001 …); a line ending \
                 in {n} waits for the server's + and then takes the next n bytes you type.",
            crate::proto::Protocol::Pop3 =>
                " Multi-line replies (CAPA, LIST, UIDL, RETR, TOP) are read to the final dot.",
            _ => " After DATA and the 354 reply, lines are message text until a lone \".\".",
        }
    );
    say(ctx, &text);
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
            crate::proto::Protocol::Smtp => "send EHLO first",
            crate::proto::Protocol::Lmtp => "send LHLO first",
            crate::proto::Protocol::Imap => "send CAPABILITY first",
            crate::proto::Protocol::Pop3 => "send CAPA first",
        };
        let ev = ctx_event(
            ctx,
            EventKind::Info(format!("no capabilities known yet ({hint})")),
        );
        (ctx.sink)(ev);
        return Ok(Flow::Continue);
    }
    let ev = ctx_event(
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
