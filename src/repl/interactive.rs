//! The interactive REPL: rustyline with history, completion from what the server advertised,
//! highlighting of what is typed, and a watcher that prints what the server sends on its own
//! (IMAP IDLE updates, a 421 before closing) without breaking the line being edited.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::history::DefaultHistory;
use rustyline::{Config, Context, Editor, ExternalPrinter, Helper, Hinter, Validator};

use super::{handle_line, meta, meta_allowed, report_error, Flow, Output, ScriptState};
use crate::cli::exit;
use crate::engine::{Event, InputMode, Options, Security, Session, SessionError};
use crate::proto::{self, Protocol};
use crate::render::{lexer, Theme};

/// What completion and highlighting know; updated after every command.
#[derive(Default)]
struct Known {
    capabilities: Vec<String>,
    mechanisms: Vec<String>,
    mode: Option<InputMode>,
}

#[derive(Helper, Hinter, Validator)]
struct MtHelper {
    protocol: Protocol,
    color: bool,
    theme: Theme,
    known: Arc<Mutex<Known>>,
}

impl MtHelper {
    fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Completer for MtHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let head = line.get(..pos).unwrap_or(line);
        let start = head
            .rfind(|c: char| c.is_ascii_whitespace())
            .map(|i| i.saturating_add(1))
            .unwrap_or(0);
        let word = head.get(start..).unwrap_or("");
        let before: Vec<&str> = head.get(..start).unwrap_or("").split_whitespace().collect();
        let known = self.known();
        if !matches!(known.mode, None | Some(InputMode::Command)) {
            return Ok((pos, Vec::new()));
        }
        let candidates = candidates(self.protocol, &before, word, &known);
        let pairs = candidates
            .into_iter()
            .filter(|c| {
                c.to_ascii_uppercase()
                    .starts_with(&word.to_ascii_uppercase())
            })
            .map(|c| {
                // Keep the case the user started typing in.
                let replacement =
                    if word.chars().any(|ch| ch.is_ascii_lowercase()) && !c.starts_with(':') {
                        c.to_ascii_lowercase()
                    } else {
                        c.clone()
                    };
                Pair {
                    display: c,
                    replacement,
                }
            })
            .collect();
        Ok((start, pairs))
    }
}

/// Completion candidates for the word after `before`.
fn candidates(protocol: Protocol, before: &[&str], word: &str, known: &Known) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // IMAP lines may start with a tag: look at the verb after it.
    let words: Vec<&str> = match (protocol, before.first()) {
        (Protocol::Imap, Some(first))
            if !proto::commands(protocol)
                .iter()
                .any(|c| c.eq_ignore_ascii_case(first)) =>
        {
            before.get(1..).unwrap_or(&[]).to_vec()
        }
        _ => before.to_vec(),
    };
    match words.as_slice() {
        [] => {
            if before.is_empty() && word.starts_with(':') {
                out.extend(meta::META.iter().map(|m| m.name.to_string()));
            } else {
                out.extend(proto::commands(protocol).iter().map(|c| c.to_string()));
                // Extension verbs the server advertised (e.g. XCLIENT, ETRN, IDLE).
                for cap in &known.capabilities {
                    let kw = cap.split_whitespace().next().unwrap_or("").to_string();
                    if !kw.is_empty()
                        && !kw.contains('=')
                        && kw.chars().all(|c| c.is_ascii_alphanumeric())
                        && !out.iter().any(|o| o.eq_ignore_ascii_case(&kw))
                        && proto::commands(protocol)
                            .iter()
                            .any(|c| c.eq_ignore_ascii_case(&kw))
                    {
                        out.push(kw);
                    }
                }
            }
        }
        [verb, ..] => {
            let verb = verb.to_ascii_uppercase();
            match verb.as_str() {
                "AUTH" | "AUTHENTICATE" if words.len() == 1 => {
                    out.extend(known.mechanisms.iter().cloned());
                }
                "MAIL" if words.len() == 1 => out.push("FROM:<".into()),
                "RCPT" if words.len() == 1 => out.push("TO:<".into()),
                "MAIL" | "RCPT" => {
                    // ESMTP parameters from advertised extensions.
                    for (cap, param) in [
                        ("SIZE", "SIZE="),
                        ("8BITMIME", "BODY=8BITMIME"),
                        ("SMTPUTF8", "SMTPUTF8"),
                        ("DSN", "NOTIFY="),
                        ("DSN", "RET="),
                        ("DSN", "ENVID="),
                        ("REQUIRETLS", "REQUIRETLS"),
                    ] {
                        if known.capabilities.iter().any(|c| {
                            c.split_whitespace()
                                .next()
                                .is_some_and(|k| k.eq_ignore_ascii_case(cap))
                        }) {
                            out.push(param.into());
                        }
                    }
                }
                "ENABLE" | "CAPABILITY" => {
                    out.extend(known.capabilities.iter().cloned());
                }
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

impl Highlighter for MtHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || line.is_empty() {
            return Cow::Borrowed(line);
        }
        let mode = self.known().mode;
        let spans = match mode {
            None | Some(InputMode::Command) => lexer::client_line(self.protocol, line),
            _ => return Cow::Borrowed(line),
        };
        // Only recolour when the spans give back the line exactly (the cursor must not move).
        let joined: String = spans.iter().map(|s| s.text.as_str()).collect();
        if joined != line {
            return Cow::Borrowed(line);
        }
        Cow::Owned(self.theme.paint(&spans))
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        if !self.color {
            return Cow::Borrowed(prompt);
        }
        Cow::Owned(self.theme.paint_one(lexer::Role::Dim, prompt))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

/// `smtp mx.example.com TLS1.3 › `
fn prompt(session: &Session) -> String {
    let t = &session.options().target;
    let transport = match (session.security(), session.tls_info()) {
        (Security::Plain, _) => "plain".to_string(),
        (Security::TlsVerified, Some(i)) => i.short_version(),
        (Security::TlsUnverified, Some(i)) => format!("{}(unverified)", i.short_version()),
        (_, None) => "TLS".into(),
    };
    let host = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    let base = format!("{} {} {}", t.protocol, host, transport);
    match session.input_mode() {
        InputMode::Command => format!("{base} › "),
        InputMode::Message => "message (a lone . ends it) › ".into(),
        InputMode::Chunk(n) => format!("chunk ({n} bytes left) › "),
        InputMode::Literal(n) => format!("literal ({n} bytes left) › "),
        InputMode::Continuation => format!("{base} + › "),
        InputMode::Auth => format!("{base} sasl › "),
    }
}

fn history_path() -> Option<PathBuf> {
    let dir = dirs::data_dir()?.join("mailtalk");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("history");
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path);
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Some(path)
}

/// Runs the REPL. Returns the exit status.
pub fn run(opts: Options, out: Output, mut script: ScriptState, history: bool) -> i32 {
    let protocol = opts.target.protocol;
    let color = out.theme.color();
    let out = Arc::new(Mutex::new(out));
    let mut print = |l: String| super::print_stdout(l);
    let session = {
        let mut o = lock(&out);
        let mut sink = |ev: Event| o.show(&ev, super::print_stdout);
        match Session::connect(opts, &mut sink) {
            Ok(s) => s,
            Err(e) => {
                let code = report_error(&e, protocol, &mut o, &mut print, false);
                o.flush();
                return code;
            }
        }
    };
    let mut session = session;
    {
        let mut o = lock(&out);
        if let Err(code) = super::initial_auth(&mut session, &mut o, &script, &mut print) {
            if !session.is_open() {
                o.flush();
                return code;
            }
        }
    }
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .history_ignore_dups(true)
        .and_then(|b| b.max_history_size(10_000))
        .map(|b| b.build())
        .unwrap_or_default();
    let mut rl: Editor<MtHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("mailtalk: error: cannot start the line editor: {e}");
            return exit::CONNECT;
        }
    };
    let known = Arc::new(Mutex::new(Known::default()));
    rl.set_helper(Some(MtHelper {
        protocol,
        color,
        theme: Theme::new(color),
        known: known.clone(),
    }));
    let history_file = if history { history_path() } else { None };
    if let Some(path) = &history_file {
        let _ = rl.load_history(path);
    }
    {
        let line = lock(&out).info("type :help for meta-commands, Ctrl-D or :quit to leave");
        super::print_stdout(line);
    }

    let session = Arc::new(Mutex::new(session));
    let watching = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = rl.create_external_printer().ok().map(|mut printer| {
        let session = session.clone();
        let out = out.clone();
        let watching = watching.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                if !watching.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let mut lines = Vec::new();
                {
                    let mut s = lock(&session);
                    if !watching.load(Ordering::Acquire) || !s.is_open() {
                        drop(s);
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    let mut o = lock(&out);
                    let mut collect = |ev: Event| lines.extend(o.lines(&ev));
                    if let Err(e) = s.poll(Duration::from_millis(100), &mut collect) {
                        s.close(&mut collect);
                        let mut push = |l: String| lines.push(l);
                        report_error(&e, s.protocol(), &mut o, &mut push, false);
                    }
                }
                if !lines.is_empty() {
                    let _ = printer.print(lines.join("\n"));
                }
            }
        })
    });

    let mut status = exit::OK;
    loop {
        let (p, open) = {
            let s = lock(&session);
            let mut k = lock(&known);
            k.capabilities = s.capabilities().items.clone();
            k.mechanisms = s.capabilities().auth_mechanisms();
            k.mode = Some(s.input_mode());
            (prompt(&s), s.is_open())
        };
        if !open {
            break;
        }
        watching.store(true, Ordering::Release);
        let read = rl.readline(&p);
        watching.store(false, Ordering::Release);
        let mut s = lock(&session);
        let mut o = lock(&out);
        match read {
            Ok(line) => {
                let mode = s.input_mode();
                if may_carry_secret(protocol, mode, &line) {
                    erase_typed_line(&mut rl, &p, &line);
                }
                if !s.is_open() {
                    let l = o.failure("the connection is closed; not sent");
                    super::print_stdout(l);
                    break;
                }
                match handle_line(&mut s, line.as_bytes(), &mut o, &mut print, &mut script) {
                    Ok(h) => {
                        if !h.secret && meta_allowed(mode) && mode != InputMode::Auth {
                            let _ = rl.add_history_entry(line.as_str());
                        }
                        match h.flow {
                            Flow::Quit => {
                                let mut sink = |ev: Event| o.show(&ev, super::print_stdout);
                                let r = s.quit(&mut sink);
                                if let Err(e) = r {
                                    status = report_error(&e, protocol, &mut o, &mut print, false);
                                }
                                break;
                            }
                            Flow::Fatal(code) => {
                                status = code;
                                break;
                            }
                            _ => {}
                        }
                    }
                    Err(e @ SessionError::Command(_)) => {
                        report_error(&e, protocol, &mut o, &mut print, false);
                    }
                    Err(e) => {
                        status = report_error(&e, protocol, &mut o, &mut print, false);
                        let mut sink = |ev: Event| o.show(&ev, super::print_stdout);
                        s.close(&mut sink);
                        break;
                    }
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => {
                let mut sink = |ev: Event| o.show(&ev, super::print_stdout);
                let r = s.quit(&mut sink);
                if let Err(e) = r {
                    status = report_error(&e, protocol, &mut o, &mut print, false);
                }
                break;
            }
            Err(e) => {
                eprintln!("mailtalk: error: line editor: {e}");
                let mut sink = |ev: Event| o.show(&ev, super::print_stdout);
                s.close(&mut sink);
                status = exit::CONNECT;
                break;
            }
        }
    }
    stop.store(true, Ordering::Release);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    if let Some(path) = &history_file {
        let _ = rl.save_history(path);
    }
    lock(&out).flush();
    if status == exit::OK && !script.failures.is_empty() {
        status = exit::EXPECTATION;
    }
    status
}

/// Lines that may carry a password: they are erased from the screen once typed (the transcript
/// line that follows shows them redacted).
fn may_carry_secret(protocol: Protocol, mode: InputMode, line: &str) -> bool {
    if matches!(
        mode,
        InputMode::Auth | InputMode::Continuation | InputMode::Literal(_)
    ) {
        return true;
    }
    let mut words = line.split_ascii_whitespace();
    let first = words.next().unwrap_or("");
    let verb = if protocol == Protocol::Imap
        && !proto::commands(protocol)
            .iter()
            .any(|c| c.eq_ignore_ascii_case(first))
    {
        words.next().unwrap_or("")
    } else {
        first
    };
    ["LOGIN", "PASS", "AUTH", "AUTHENTICATE", "APOP"]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(verb))
}

/// Moves the cursor up over the prompt and the typed line and clears to the end of the screen.
fn erase_typed_line(rl: &mut Editor<MtHelper, DefaultHistory>, prompt: &str, line: &str) {
    use std::io::{IsTerminal, Write};
    if !std::io::stdout().is_terminal() || std::env::var_os("TERM").is_some_and(|t| t == "dumb") {
        return;
    }
    let cols = usize::from(rl.dimensions().map(|(c, _)| c).unwrap_or(80)).max(1);
    let width = prompt
        .chars()
        .count()
        .saturating_add(line.chars().count())
        .max(1);
    let rows = width.div_ceil(cols).max(1);
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "\x1b[{rows}A\r\x1b[J");
    let _ = stdout.flush();
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_auth_mechanisms_and_meta() {
        let known = Known {
            capabilities: vec!["AUTH PLAIN LOGIN".into(), "SIZE 100".into()],
            mechanisms: vec!["PLAIN".into(), "LOGIN".into()],
            mode: Some(InputMode::Command),
        };
        assert_eq!(
            candidates(Protocol::Smtp, &["AUTH"], "", &known),
            vec!["LOGIN", "PLAIN"]
        );
        assert!(candidates(Protocol::Smtp, &[], ":", &known).contains(&":starttls".to_string()));
        assert!(candidates(Protocol::Smtp, &[], "EH", &known).contains(&"EHLO".to_string()));
        assert!(
            candidates(Protocol::Smtp, &["MAIL", "FROM:<a@b>"], "", &known)
                .contains(&"SIZE=".to_string())
        );
        assert_eq!(
            candidates(Protocol::Imap, &["a1", "AUTHENTICATE"], "", &known),
            vec!["LOGIN", "PLAIN"]
        );
    }
}
