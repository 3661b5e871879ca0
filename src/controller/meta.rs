//! Meta-commands (`:help`, `:starttls`, `:caps`, `:expect` …): one table, for running them,
//! for checking a script before it runs, for completion, `:help` and the man page. Adding one
//! is one entry in [`META`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::args::parse_send;
use super::{invalid, macros, Controller, Flow, Screen};
use crate::engine::{EventKind, ExpectReport, SessionError};
use crate::explain;
use crate::output::present::{tls_details, LEGEND};
use crate::proto::Protocol;
use crate::render;
use crate::script::expect;
use crate::script::vars::Vars;

type Run = fn(&mut Controller, &str, &mut dyn Screen) -> Result<Flow, SessionError>;
type Check = fn(&str, Protocol) -> Result<(), String>;

#[derive(Debug)]
pub struct Meta {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
    pub run: Run,
    /// Checks the arguments before a script runs (a syntax error is reported with nothing
    /// sent).
    pub check: Check,
    /// Works without an open connection (after QUIT, or once the server closed).
    pub offline: bool,
}

const fn meta(
    name: &'static str,
    args: &'static str,
    help: &'static str,
    run: Run,
    check: Check,
    offline: bool,
) -> Meta {
    Meta {
        name,
        args,
        help,
        run,
        check,
        offline,
    }
}

pub const META: &[Meta] = &[
    meta(
        ":help",
        "",
        "show the meta-commands and what the line prefixes mean",
        help,
        no_args,
        true,
    ),
    meta(
        ":starttls",
        "",
        "upgrade the connection with STARTTLS (STLS for POP3) now, then ask for capabilities again",
        starttls,
        no_args,
        false,
    ),
    meta(
        ":caps",
        "",
        "show what the server advertised (EHLO keywords, CAPABILITY, CAPA) with their meanings",
        caps,
        no_args,
        true,
    ),
    meta(
        ":tls",
        "",
        "show the TLS version, cipher, SNI, verification and the certificate chain",
        tls,
        no_args,
        true,
    ),
    meta(
        ":explain",
        "[CODE|LINE]",
        "explain a reply code (550, 5.1.1, [OVERQUOTA], SYS/TEMP), a pasted reply line, or without argument the last reply",
        explain_cmd,
        any_args,
        true,
    ),
    meta(
        ":auth",
        "[METHOD] [USER]",
        "authenticate (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 …, IMAP-LOGIN, USER, APOP) with a method the server offers; the password comes from MAILTALK_PASSWORD, --password-cmd or a prompt",
        auth,
        check_auth,
        false,
    ),
    meta(
        ":send",
        "--to B [--from A] [...]",
        "send a message: EHLO if needed, MAIL, RCPT for each recipient, DATA (options as on the command line: --subject, --body, --data @FILE, --header, --attach, --bdat, --pipeline, --require-all-rcpts …); --count N sends it N times, pipelined, showing the first copy in full, then only copies that end differently, and a summary",
        send,
        check_send,
        false,
    ),
    meta(
        ":expect",
        "SPEC [/REGEX/]",
        "check the last reply: 250, 2xx, 5.1.1, OK/NO/BAD, +OK/-ERR, ok/fail, and/or a regex",
        expect_cmd,
        check_expect,
        true,
    ),
    meta(
        ":capture",
        "NAME /REGEX/",
        "store group 1 of REGEX matched against the last reply as ${NAME}",
        capture,
        check_capture,
        true,
    ),
    meta(
        ":sleep",
        "SECS",
        "wait (at most an hour; Ctrl-C interrupts)",
        sleep,
        check_sleep,
        true,
    ),
    meta(
        ":include",
        "FILE",
        "run the lines of a script file",
        include,
        needs_arg,
        true,
    ),
    meta(
        ":record",
        "FILE|off",
        "write what you type from now on as a replayable script (secrets as ${MAILTALK_PASSWORD})",
        record,
        needs_arg,
        true,
    ),
    meta(
        ":save",
        "FILE",
        "write the last IMAP literal or POP3 body received to FILE, exactly as received (POP3: dot-unstuffed), also the lines not shown",
        save,
        needs_arg,
        true,
    ),
    meta(
        ":max-show",
        "N|all",
        "show at most N lines of each literal or body from now on (the rest is counted); `all` shows everything",
        max_show,
        check_max_show,
        true,
    ),
    meta(
        ":raw",
        "on|off",
        "raw mode: each line is sent exactly as typed, escapes \\r \\n \\t \\0 \\xHH \\\\ interpreted, NO CRLF added, no ${NAME}, nothing checked or redacted; shown as C~ [raw]; replies are read and shown, the input mode does not change",
        raw,
        check_on_off,
        true,
    ),
    meta(
        ":hex",
        "on|off",
        "show a hex dump (offset, hex, ASCII) after every line sent and received, as on the wire",
        hex,
        check_on_off,
        true,
    ),
    meta(
        ":stats",
        "",
        "sum up the session: connect and handshake times, reply times, lines and bytes",
        stats,
        no_args,
        true,
    ),
    meta(
        ":reconnect",
        "",
        "open the same target again (after the server closed the connection, or to start over)",
        reconnect,
        no_args,
        true,
    ),
    meta(
        ":connect",
        "TARGET",
        "leave this server and open TARGET, in any protocol (imap://127.0.0.1:1143)",
        connect,
        check_connect,
        true,
    ),
    meta(
        ":tui",
        "",
        "switch to the full-screen view (transcript, status bar, panels; at the REPL's prompt)",
        front_end_only,
        no_args,
        true,
    ),
    meta(
        ":quit",
        "",
        "say QUIT (LOGOUT for IMAP), wait for the reply and leave",
        quit,
        no_args,
        true,
    ),
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
        [] => Err(format!(
            "unknown meta-command {}; :help lists them (a line for the server that starts \
             with ':' is written '::')",
            name
        )),
        many => Err(format!(
            "{name} is ambiguous: {}",
            many.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Splits `:name args`.
pub fn split(line: &str) -> (&str, &str) {
    let line = line.trim();
    let (name, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    (name, args.trim())
}

/// Checks a meta-command line (name and arguments) without running it.
pub fn check(line: &str, protocol: Protocol) -> Result<(), String> {
    let (name, args) = split(line);
    let m = find(name)?;
    (m.check)(args, protocol).map_err(|e| format!("{}: {e}", m.name))
}

fn no_args(args: &str, _: Protocol) -> Result<(), String> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(format!("takes no arguments, not {:?}", args))
    }
}

fn any_args(_: &str, _: Protocol) -> Result<(), String> {
    Ok(())
}

fn needs_arg(args: &str, _: Protocol) -> Result<(), String> {
    if args.is_empty() {
        Err("needs a file name".into())
    } else {
        Ok(())
    }
}

fn check_expect(args: &str, protocol: Protocol) -> Result<(), String> {
    if args.contains("${") {
        return Vars::check_syntax(args);
    }
    expect::parse_expect(args, protocol).map(|_| ())
}

fn check_capture(args: &str, _: Protocol) -> Result<(), String> {
    Vars::check_capture(args)
}

fn check_sleep(args: &str, _: Protocol) -> Result<(), String> {
    sleep_secs(args).map(|_| ())
}

fn check_send(args: &str, _: Protocol) -> Result<(), String> {
    if args.contains("${") {
        return Vars::check_syntax(args);
    }
    parse_send(args).map(|_| ())
}

fn check_auth(args: &str, _: Protocol) -> Result<(), String> {
    auth_args(args).map(|_| ())
}

fn help(c: &mut Controller, _args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let width = META
        .iter()
        .map(|m| m.name.len().saturating_add(m.args.len()).saturating_add(1))
        .max()
        .unwrap_or(10);
    c.info(
        screen,
        "meta-commands (a unique prefix is enough, e.g. :q):",
    );
    for m in META {
        let usage = if m.args.is_empty() {
            m.name.to_string()
        } else {
            format!("{} {}", m.name, m.args)
        };
        c.info(screen, &format!("  {usage:width$}  {}", m.help));
    }
    c.info(screen, "line prefixes:");
    for line in LEGEND.lines() {
        c.info(screen, &format!("  {line}"));
    }
    let text = format!(
        "anything else is sent to the server as typed, with CRLF added; a line that starts \
         with ':' is written '::'.{}",
        match c.protocol() {
            Protocol::Imap =>
                " Commands without a tag get the next automatic tag (A001 …); a line ending \
                 in {n} waits for the server's + and then takes the next n bytes you type, then \
                 the rest of the command line.",
            Protocol::Pop3 =>
                " Multi-line replies (CAPA, LIST, UIDL, RETR, TOP) are read to the final dot.",
            _ => " After DATA and the 354 reply, lines are message text until a lone \".\".",
        }
    );
    c.info(screen, &text);
    Ok(Flow::Continue)
}

fn starttls(
    c: &mut Controller,
    _args: &str,
    screen: &mut dyn Screen,
) -> Result<Flow, SessionError> {
    c.with_session(screen, |s, sink| s.starttls(sink, false))?;
    Ok(Flow::Continue)
}

fn caps(c: &mut Controller, _args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let caps = c.session.capabilities().clone();
    let protocol = c.protocol();
    if caps.is_empty() {
        let ask = match protocol {
            Protocol::Smtp => "EHLO",
            Protocol::Lmtp => "LHLO",
            Protocol::Imap => "CAPABILITY",
            Protocol::Pop3 => "CAPA",
        };
        c.info(
            screen,
            &format!("no capabilities known yet (send {ask} first)"),
        );
        return Ok(Flow::Continue);
    }
    for (group, items) in explain::caps::grouped(protocol, &caps) {
        c.info(screen, &format!("{group}:"));
        let width = items
            .iter()
            .map(|(i, _)| i.chars().count().min(28))
            .max()
            .unwrap_or(0);
        for (item, meaning) in items {
            c.info(screen, &format!("  {item:width$}  {meaning}"));
        }
    }
    Ok(Flow::Continue)
}

fn tls(c: &mut Controller, _args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let Some(info) = c.session.tls_info().cloned() else {
        c.info(
            screen,
            "the connection is not encrypted (use :starttls, or an implicit TLS scheme such as smtps://)",
        );
        return Ok(Flow::Continue);
    };
    for line in tls_details(&info) {
        c.info(screen, &line);
    }
    Ok(Flow::Continue)
}

fn explain_cmd(
    c: &mut Controller,
    args: &str,
    screen: &mut dyn Screen,
) -> Result<Flow, SessionError> {
    let protocol = c.protocol();
    let report = if args.is_empty() {
        let Some(reply) = c.session.last_reply().cloned() else {
            c.info(screen, "no reply yet; give a code, e.g. :explain 550 5.1.1");
            return Ok(Flow::Continue);
        };
        explain::report_reply(protocol, &reply)
    } else {
        explain::report_pasted(args, Some(protocol).filter(|_| args.contains(' ')))
    };
    if report.is_empty() {
        c.info(
            screen,
            "nothing to explain: no code, and no cause the text names",
        );
    }
    for line in report.blocks.iter().flat_map(|b| b.lines()) {
        c.info(screen, line);
    }
    Ok(Flow::Continue)
}

fn expect_cmd(
    c: &mut Controller,
    args: &str,
    screen: &mut dyn Screen,
) -> Result<Flow, SessionError> {
    let protocol = c.protocol();
    let expectation = expect::parse_expect(args, protocol).map_err(invalid)?;
    let location = c.script.location.clone();
    let reply = c.session.last_exchange();
    let (ok, actual) = match expectation.check(protocol, reply.as_ref()) {
        Ok(()) => (true, String::new()),
        Err(actual) => (false, actual),
    };
    let report = ExpectReport {
        ok,
        expected: expectation.describe(),
        actual,
        location,
    };
    c.emit(screen, EventKind::Expect(report.clone()));
    if ok {
        return Ok(Flow::Continue);
    }
    c.script
        .failures
        .push(crate::output::present::expect_text(&report));
    Ok(c.after_failure())
}

fn capture(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let reply = c.session.last_exchange();
    match c.script.vars.capture(args, reply.as_ref()) {
        Ok(value) => {
            let name = args.split_whitespace().next().unwrap_or("");
            c.info(screen, &format!("{name} = {value}"));
            Ok(Flow::Continue)
        }
        Err(e) => {
            let location = c.script.location.clone();
            let msg = format!(
                "capture failed{}: {e}",
                location.map(|l| format!(" at {l}")).unwrap_or_default()
            );
            c.emit(screen, EventKind::Failure(msg.clone()));
            c.script.failures.push(msg);
            Ok(c.after_failure())
        }
    }
}

fn sleep_secs(args: &str) -> Result<f64, String> {
    let secs: f64 = args
        .parse()
        .map_err(|_| format!("takes seconds, not {args:?}"))?;
    if !(secs.is_finite() && (0.0..=3600.0).contains(&secs)) {
        return Err("takes 0 to 3600 seconds".into());
    }
    Ok(secs)
}

fn sleep(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let secs = sleep_secs(args).map_err(|e| invalid(format!(":sleep {e}")))?;
    let until = crate::net::deadline_after(Duration::from_secs_f64(secs));
    if secs >= 1.0 {
        c.info(screen, &format!("sleeping {secs} s"));
    }
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Flow::Continue);
        }
        if c.session.cancel_requested() {
            c.info(screen, "sleep interrupted");
            return Ok(Flow::Continue);
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

fn include(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    if args.is_empty() {
        return Err(invalid(":include needs a file name"));
    }
    c.include(&PathBuf::from(args), screen)
}

fn record(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    match args {
        "" => Err(invalid(":record needs a file name (or off)")),
        "off" => {
            c.out.flush();
            c.out.recorder = None;
            c.info(screen, "recording stopped");
            Ok(Flow::Continue)
        }
        path => {
            let path = PathBuf::from(path);
            let r = crate::output::record::Recorder::create(&path, &c.settings.target)
                .map_err(|e| invalid(format!("cannot record to {}: {e}", path.display())))?;
            c.out.recorder = Some(r);
            c.info(screen, &format!("recording to {}", path.display()));
            Ok(Flow::Continue)
        }
    }
}

/// `[METHOD] [USER]`.
fn auth_args(args: &str) -> Result<(Option<&str>, Option<&str>), String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok((None, None)),
        [one] if macros::is_method(one) => Ok((Some(*one), None)),
        [one] => Ok((None, Some(*one))),
        [m, u] if macros::is_method(m) => Ok((Some(*m), Some(*u))),
        [m, _] => Err(format!(
            "unknown method {m:?}; usage: :auth [METHOD] [USER]"
        )),
        _ => Err("usage: :auth [METHOD] [USER]".into()),
    }
}

fn auth(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let (method, user) = auth_args(args).map_err(invalid)?;
    c.authenticate(method, user, screen)?;
    Ok(Flow::Continue)
}

fn send(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let opts = parse_send(args).map_err(invalid)?;
    c.send(&opts, screen)?;
    Ok(Flow::Continue)
}

fn stats(c: &mut Controller, _args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let st = c.session.stats().clone();
    let total = c.session.elapsed();
    c.info(screen, &format!("session: {}", render::millis(total)));
    if let Some(t) = st.connect {
        c.info(screen, &format!("connect: {}", render::millis(t)));
    }
    for (i, h) in st.handshakes.iter().enumerate() {
        c.info(
            screen,
            &format!(
                "TLS handshake {}: {}",
                i.saturating_add(1),
                render::millis(*h)
            ),
        );
    }
    c.info(
        screen,
        &format!(
            "sent {} lines ({} bytes), received {} bytes",
            st.lines_sent, st.bytes_sent, st.bytes_received
        ),
    );
    let totals: Vec<Duration> = st.replies.iter().map(|(_, t)| *t).collect();
    if let (Some(min), Some(max)) = (totals.iter().min(), totals.iter().max()) {
        let sum: Duration = totals.iter().sum();
        let n = u32::try_from(totals.len()).unwrap_or(u32::MAX).max(1);
        c.info(
            screen,
            &format!(
                "{} replies: fastest {}, slowest {}, mean {}",
                totals.len(),
                render::millis(*min),
                render::millis(*max),
                render::millis(sum.checked_div(n).unwrap_or_default())
            ),
        );
        let firsts: Vec<Duration> = st.replies.iter().filter_map(|(f, _)| *f).collect();
        if let Some(max_first) = firsts.iter().max() {
            c.info(
                screen,
                &format!("slowest first byte: {}", render::millis(*max_first)),
            );
        }
    } else {
        c.info(screen, "no replies yet");
    }
    Ok(Flow::Continue)
}

fn save(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let path = std::path::Path::new(args.trim());
    let said = c.out.content.save_last(path).map_err(invalid)?;
    c.info(screen, &said);
    Ok(Flow::Continue)
}

fn max_show(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let limit = super::args::parse_max_show(args.trim()).map_err(invalid)?.0;
    c.out.content.max_show = limit;
    c.info(
        screen,
        &match limit {
            Some(n) => format!("at most {n} lines of each literal or body are shown"),
            None => "literals and bodies are shown whole".to_string(),
        },
    );
    Ok(Flow::Continue)
}

fn check_max_show(args: &str, _: Protocol) -> Result<(), String> {
    super::args::parse_max_show(args.trim())
        .map(|_| ())
        .map_err(|e| format!(":max-show: {e}"))
}

/// `on` or `off`.
fn on_off(args: &str) -> Result<bool, String> {
    match args.trim() {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("takes on or off, not {other:?}")),
    }
}

fn check_on_off(args: &str, _: Protocol) -> Result<(), String> {
    on_off(args).map(|_| ())
}

fn raw(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let on = on_off(args).map_err(|e| invalid(format!(":raw {e}")))?;
    c.set_raw(on, screen);
    Ok(Flow::Continue)
}

fn hex(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    let on = on_off(args).map_err(|e| invalid(format!(":hex {e}")))?;
    c.out.hex = on;
    c.info(
        screen,
        if on {
            "hex dump on: every line sent and received is followed by its bytes (C> sent, S> received)"
        } else {
            "hex dump off"
        },
    );
    Ok(Flow::Continue)
}

fn reconnect(
    c: &mut Controller,
    _args: &str,
    screen: &mut dyn Screen,
) -> Result<Flow, SessionError> {
    c.reconnect(screen)?;
    Ok(Flow::Continue)
}

fn connect(c: &mut Controller, args: &str, screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    c.connect_to(args.trim(), screen)?;
    Ok(Flow::Continue)
}

fn check_connect(args: &str, _: Protocol) -> Result<(), String> {
    let t = args.trim();
    if t.is_empty() || t.contains(char::is_whitespace) {
        return Err(":connect needs one TARGET, like imap://127.0.0.1:1143".to_string());
    }
    crate::target::parse(t, None, false)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `:tui` belongs to the REPL, which takes it before the controller sees the line (so does the
/// full-screen view, and `:inbox` there, which is not in this table: `:i` stays `:include`).
fn front_end_only(
    _c: &mut Controller,
    _args: &str,
    _screen: &mut dyn Screen,
) -> Result<Flow, SessionError> {
    Err(invalid(
        ":tui works at the REPL's prompt only (in a script or piped input there is no screen)",
    ))
}

fn quit(_c: &mut Controller, _args: &str, _screen: &mut dyn Screen) -> Result<Flow, SessionError> {
    Ok(Flow::Quit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_include_prefix_that_scripts_expand_names_include() {
        // Script files expand :include when they are loaded, by a shortened name too; every
        // name they take must mean :include here, and nothing shorter may.
        let full = ":include";
        for n in crate::script::source::INCLUDE_PREFIX.len()..=full.len() {
            assert_eq!(find(&full[..n]).unwrap().name, ":include", "{}", &full[..n]);
        }
        let shorter = &full[..crate::script::source::INCLUDE_PREFIX.len() - 1];
        assert!(find(shorter).map_or(true, |m| m.name != ":include"));
    }

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
        assert_eq!(
            find(":rec").unwrap_err(),
            ":rec is ambiguous: :record, :reconnect"
        );
    }

    #[test]
    fn names_are_unique_and_start_with_colon() {
        for (i, m) in META.iter().enumerate() {
            assert!(m.name.starts_with(':'));
            assert!(META.iter().skip(i + 1).all(|o| o.name != m.name));
        }
    }

    #[test]
    fn scripts_are_checked_before_they_run() {
        let p = Protocol::Smtp;
        assert!(check(":expect 250", p).is_ok());
        assert!(check(":expect 25", p).unwrap_err().starts_with(":expect: "));
        assert!(check(":expect 250 /unterminated", p).is_err());
        assert!(check(":expect OK", p).is_err());
        assert!(check(":expect OK", Protocol::Imap).is_ok());
        assert!(check(":expect ${CODE}", p).is_ok());
        assert!(check(":expect ${CODE", p).is_err());
        assert!(check(":capture ID /(x/", p).is_err());
        assert!(check(":capture ID /(x)/", p).is_ok());
        assert!(check(":sleep soon", p).is_err());
        assert!(check(":sleep 0.5", p).is_ok());
        assert!(check(":send --to b --bogus", p).is_err());
        assert!(check(":send --to b", p).is_ok());
        assert!(check(":auth PLAIN alice", p).is_ok());
        assert!(check(":auth BOGUS alice", p).is_err());
        assert!(check(":caps now", p).is_err());
        assert!(check(":nope", p).is_err());
        assert!(check(":include", p).is_err());
    }
}
