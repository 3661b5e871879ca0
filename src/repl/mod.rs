//! The interactive REPL: the rustyline glue over the controller. History (written as each line
//! is entered), completion and highlighting as the controller knows them, typed secrets masked
//! while typed and erased once entered, TAB typed as TAB inside message text, Ctrl-C
//! interrupting what the session waits for, and a watcher that prints what the server sends on
//! its own (IMAP IDLE updates, a 421 before closing) without breaking the line being edited.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::history::DefaultHistory;
use rustyline::{
    Cmd, ColorMode, ConditionalEventHandler, Config, Context, Editor, Event, EventContext,
    EventHandler, ExternalPrinter, Helper, Hinter, KeyCode, KeyEvent, Modifiers, RepeatCount,
    Validator,
};
use unicode_width::UnicodeWidthChar;

use crate::controller::{complete, exit, Controller, Flow, Screen};
use crate::engine::Progress;
use crate::output::stdout::StdoutScreen;
use crate::proto::{classify, InputMode, LineContext};
use crate::render::{lexer, Line, Role, Theme};

/// What the line editor knows of the session; refreshed after every line.
struct Shared {
    known: complete::Known,
    ctx: LineContext,
}

#[derive(Helper, Hinter, Validator)]
struct MtHelper {
    theme: Theme,
    shared: Arc<Mutex<Shared>>,
}

impl MtHelper {
    fn shared(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
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
        let (start, words) = complete::complete(&self.shared().known, head);
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

/// `line` with the secrets in it replaced by `*`, keeping each character's width (the cursor
/// must not move). A pasted block is looked at line by line, and everything after a line that
/// sends credentials or starts an exchange (AUTH, AUTHENTICATE, LOGIN …) is masked whole: its
/// next lines are the responses.
fn masked(ctx: &LineContext, line: &str) -> Option<String> {
    if !line.contains('\n') {
        return masked_line(ctx, line);
    }
    let mut out = String::with_capacity(line.len());
    let mut any = false;
    let mut hide_rest = false;
    for (i, piece) in line.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if hide_rest {
            out.extend(piece.chars().map(|c| if c == '\r' { c } else { '*' }));
            any |= !piece.is_empty();
            continue;
        }
        match masked_line(ctx, piece) {
            Some(m) => {
                out.push_str(&m);
                any = true;
            }
            None => out.push_str(piece),
        }
        hide_rest = classify(ctx, piece.as_bytes()).credentials.is_some();
    }
    any.then_some(out)
}

/// [`masked`] for one line.
fn masked_line(ctx: &LineContext, line: &str) -> Option<String> {
    let secret = crate::controller::secret_in(ctx, line)?;
    let mut out = String::with_capacity(line.len());
    for (i, c) in line.char_indices() {
        if secret.contains(&i) {
            for _ in 0..c.width().unwrap_or(1) {
                out.push('*');
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

impl Highlighter for MtHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if line.is_empty() {
            return Cow::Borrowed(line);
        }
        let ctx = self.shared().ctx;
        let shown = masked(&ctx, line);
        let text = shown.as_deref().unwrap_or(line);
        let commandish = !ctx.mode.is_content() || line.starts_with(':');
        if !self.theme.color() || !commandish {
            return match shown {
                Some(s) => Cow::Owned(s),
                None => Cow::Borrowed(line),
            };
        }
        let spans = lexer::client_line(ctx.protocol, text);
        // Only recolour when the spans give back the line exactly (the cursor must not move).
        let joined: String = spans.iter().map(|s| s.text.as_str()).collect();
        if joined != text {
            return Cow::Owned(text.to_string());
        }
        Cow::Owned(self.theme.paint(&spans))
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Owned(self.theme.paint_one(Role::Dim, prompt))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        // Every change is redrawn: a secret must never be echoed as typed.
        true
    }
}

/// TAB inserts a TAB inside message text, literals and chunks (header folding); elsewhere it
/// completes.
struct TabInContent(Arc<Mutex<Shared>>);

impl ConditionalEventHandler for TabInContent {
    fn handle(
        &self,
        _evt: &Event,
        n: RepeatCount,
        _positive: bool,
        ctx: &EventContext,
    ) -> Option<Cmd> {
        let content =
            lock(&self.0).ctx.mode.is_content() || lock(&self.0).ctx.mode == InputMode::LiteralRest;
        (content && !ctx.line().starts_with(':')).then_some(Cmd::SelfInsert(n, '\t'))
    }
}

/// Lines painted for the terminal, printed as they come (in large writes, up to each wait),
/// with a long transfer's progress.
pub struct Stdout {
    pub screen: StdoutScreen,
    /// The last lines shown, for the full-screen view when `:tui` switches to it.
    pub kept: Kept,
}

/// The last [`KEPT_LINES`] lines the REPL showed.
pub type Kept = Arc<Mutex<std::collections::VecDeque<Line>>>;

/// How many lines the REPL keeps for `:tui`.
pub const KEPT_LINES: usize = 10_000;

fn keep(kept: &Kept, line: &Line) {
    let mut k = lock(kept);
    if k.len() >= KEPT_LINES {
        k.pop_front();
    }
    k.push_back(line.clone());
}

impl Screen for Stdout {
    fn show(&mut self, line: &Line) {
        keep(&self.kept, line);
        self.screen.show(line);
    }

    fn flush(&mut self) {
        self.screen.flush();
    }

    fn progress(&mut self, progress: &Progress, at: Duration) {
        self.screen.progress(progress, at);
    }
}

/// Lines painted and kept, for the external printer.
struct Collect<'a> {
    theme: &'a Theme,
    lines: Vec<String>,
    kept: &'a Kept,
}

impl Screen for Collect<'_> {
    fn show(&mut self, line: &Line) {
        keep(self.kept, line);
        self.lines.push(self.theme.paint_line(line));
    }
}

/// The history file, shared by the REPL and the full-screen view (made mode 0600).
pub fn history_path() -> Option<PathBuf> {
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Moves the cursor up over the prompt and the typed line and clears to the end of the screen
/// (the transcript line that follows shows the line redacted).
fn erase_typed_line(rl: &mut Editor<MtHelper, DefaultHistory>, prompt: &str, line: &str) {
    let cols = usize::from(rl.dimensions().map(|(c, _)| c).unwrap_or(80)).max(1);
    // A pasted block shows each of its lines on rows of its own; the first after the prompt.
    let rows: usize = line
        .split('\n')
        .enumerate()
        .map(|(i, piece)| {
            let lead = if i == 0 { prompt } else { "" };
            let width = lead
                .chars()
                .chain(piece.chars())
                .map(|c| c.width().unwrap_or(0))
                .sum::<usize>()
                .max(1);
            width.div_ceil(cols).max(1)
        })
        .sum();
    crate::render::terminal::erase_rows(u16::try_from(rows.max(1)).unwrap_or(u16::MAX));
}

/// How the REPL ended.
pub enum End {
    /// The session is over: the exit status.
    Status(i32),
    /// `:tui`: the same session goes on in the full-screen view, with the lines shown so far.
    FullScreen(Box<Controller>, Vec<Line>),
}

/// Runs the REPL over a connected controller. Returns the exit status, or the controller when
/// the user switches to the full-screen view.
/// `shown`: what was shown before (connecting), kept for the full-screen view.
pub fn run(controller: Controller, history: bool, theme: Theme, shown: Vec<Line>) -> End {
    let protocol = controller.protocol();
    let cancel = controller.cancel_flag();
    // Ctrl-C while mailtalk waits (for a reply, in :sleep, while sending) interrupts the wait;
    // at the prompt the line editor takes it.
    let _sigint = signal_hook::flag::register(signal_hook::consts::SIGINT, cancel);
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .color_mode(ColorMode::Forced)
        .history_ignore_dups(true)
        .and_then(|b| b.max_history_size(10_000))
        .map(|b| b.build())
        .unwrap_or_default();
    let mut rl: Editor<MtHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("mailtalk: error: cannot start the line editor: {e}");
            return End::Status(exit::CONNECT);
        }
    };
    let shared = Arc::new(Mutex::new(Shared {
        known: complete::Known::new(protocol),
        ctx: LineContext::new(protocol),
    }));
    rl.set_helper(Some(MtHelper {
        theme: theme.clone(),
        shared: shared.clone(),
    }));
    rl.bind_sequence(
        KeyEvent(KeyCode::Tab, Modifiers::NONE),
        EventHandler::Conditional(Box::new(TabInContent(shared.clone()))),
    );
    let history_file = if history { history_path() } else { None };
    if let Some(path) = &history_file {
        let _ = rl.load_history(path);
    }
    let kept: Kept = Arc::new(Mutex::new(shown.into_iter().collect()));
    let mut screen = Stdout {
        screen: StdoutScreen::new(theme.clone()),
        kept: kept.clone(),
    };
    let controller = Arc::new(Mutex::new(controller));
    lock(&controller).info(
        &mut screen,
        "type :help for meta-commands, Ctrl-D or :quit to leave; Ctrl-C interrupts a wait",
    );

    let watching = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // What the watcher saw when the server closed the connection, shown by the main loop.
    let closing: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let watcher = rl.create_external_printer().ok().map(|mut printer| {
        let controller = controller.clone();
        let closing = closing.clone();
        let watching = watching.clone();
        let stop = stop.clone();
        let theme = theme.clone();
        let kept = kept.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                if !watching.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let mut out = Collect {
                    theme: &theme,
                    lines: Vec::new(),
                    kept: &kept,
                };
                let closed = {
                    let mut c = lock(&controller);
                    if !watching.load(Ordering::Acquire) || !c.is_open() {
                        drop(c);
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    let open = c.poll(Duration::from_millis(100), &mut out);
                    if !open {
                        c.info(
                            &mut out,
                            "the server closed the connection: :reconnect opens it again; \
                             Enter or Ctrl-D leaves (exit status 7)",
                        );
                    }
                    !open
                };
                if closed && watching.load(Ordering::Acquire) {
                    // Ends the line being edited; the main loop shows why, then the prompt
                    // that says the session is closed.
                    *lock(&closing) = out.lines;
                    let _ = signal_hook::low_level::raise(signal_hook::consts::SIGINT);
                } else if !out.lines.is_empty() {
                    let _ = printer.print(out.lines.join("\n"));
                }
            }
        })
    });

    let mut status = exit::OK;
    let mut full_screen = false;
    // The status of the error that closed the connection, kept for when the user leaves at
    // the closed prompt (none when the server closed it or the session ended).
    let mut closed_status: Option<i32> = None;
    loop {
        let prompt = {
            let c = lock(&controller);
            let mut s = lock(&shared);
            s.known = c.completion();
            s.ctx = c.line_context();
            c.prompt()
        };
        // What the last line showed is on the terminal before the prompt.
        screen.flush();
        watching.store(true, Ordering::Release);
        let read = rl.readline(&prompt);
        watching.store(false, Ordering::Release);
        let mut c = lock(&controller);
        match read {
            Ok(line) => {
                if !c.is_open() && line.trim().is_empty() {
                    status = c.finish(closed_status.map_or(Ok(()), Err), &mut screen);
                    break;
                }
                // A pasted block of lines (bracketed paste) is taken line by line, as if each
                // had been typed and entered in turn.
                let pieces: Vec<&str> = line
                    .split('\n')
                    .map(|p| p.strip_suffix('\r').unwrap_or(p))
                    .collect();
                // A pasted block is erased whole: a line may carry a secret only once the one
                // before it was sent (AUTH PLAIN, then its response), which cannot be told
                // before. Each line is shown again, redacted where it must be, as it is sent.
                if pieces.len() > 1 || pieces.iter().any(|p| c.typed_secret(p)) {
                    erase_typed_line(&mut rl, &prompt, &line);
                }
                let mut ended = None;
                for piece in pieces {
                    if piece.trim() == ":tui" {
                        full_screen = true;
                        break;
                    }
                    let secret = c.typed_secret(piece);
                    let commandish = !c.line_context().mode.is_content()
                        && c.line_context().mode != InputMode::Auth;
                    let h = c.handle(piece.as_bytes(), &mut screen);
                    if !h.secret && !secret && commandish && !piece.trim().is_empty() {
                        let _ = rl.add_history_entry(piece);
                        if let Some(path) = &history_file {
                            let _ = rl.append_history(path);
                        }
                    }
                    if let Flow::Quit = h.flow {
                        ended = Some(c.finish(Ok(()), &mut screen));
                        break;
                    }
                    // The connection is closed now (the error said why, or the server closed
                    // it): the closed prompt offers :reconnect, Enter leaves.
                    if !c.is_open() {
                        if let Flow::Error { code, fatal: true } = h.flow {
                            if c.closed_by_server().is_none() {
                                closed_status = Some(code);
                            }
                        }
                        break;
                    }
                    closed_status = None;
                    // The rest of a pasted block is not sent after an error.
                    if !matches!(h.flow, Flow::Continue) {
                        break;
                    }
                }
                if let Some(code) = ended {
                    status = code;
                    break;
                }
                if full_screen {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                let shown = std::mem::take(&mut *lock(&closing));
                if shown.is_empty() && c.is_open() {
                    c.info(
                        &mut screen,
                        "Ctrl-C drops the line being typed; Ctrl-D or :quit leaves",
                    );
                }
                for l in shown {
                    crate::render::terminal::print_line(&l);
                }
                continue;
            }
            Err(ReadlineError::Eof) => {
                status = c.finish(closed_status.map_or(Ok(()), Err), &mut screen);
                break;
            }
            Err(e) => {
                eprintln!("mailtalk: error: line editor: {e}");
                status = c.finish(Err(exit::CONNECT), &mut screen);
                break;
            }
        }
    }
    stop.store(true, Ordering::Release);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    if full_screen {
        if let Ok(m) = Arc::try_unwrap(controller) {
            let lines: Vec<Line> = lock(&kept).drain(..).collect();
            return End::FullScreen(
                Box::new(m.into_inner().unwrap_or_else(|p| p.into_inner())),
                lines,
            );
        }
    }
    End::Status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Protocol;

    #[test]
    fn a_pasted_block_is_masked_after_a_line_with_credentials() {
        let smtp = LineContext::new(Protocol::Smtp);
        assert_eq!(
            masked(&smtp, "EHLO a\nAUTH LOGIN\ndXNlcg==\ncGFzcw=="),
            Some("EHLO a\nAUTH LOGIN\n********\n********".to_string())
        );
        assert_eq!(masked(&smtp, "EHLO a\nNOOP"), None);
        let pop3 = LineContext::new(Protocol::Pop3);
        let m = masked(&pop3, "USER alice\nPASS secret\nSTAT").unwrap();
        assert!(!m.contains("secret"), "{m}");
    }

    #[test]
    fn secrets_are_masked_while_typed() {
        let imap = LineContext::new(Protocol::Imap);
        assert_eq!(
            masked(&imap, "a1 LOGIN alice s3cret").as_deref(),
            Some("a1 LOGIN alice ******")
        );
        assert_eq!(masked(&imap, "a1 LOGIN alice"), None);
        assert_eq!(masked(&imap, "SELECT INBOX"), None);
        let pop = LineContext::new(Protocol::Pop3);
        assert_eq!(
            masked(&pop, "PASS pässwort").as_deref(),
            Some("PASS ********")
        );
        let wide = masked(&pop, "PASS 秘密").unwrap();
        assert_eq!(wide, "PASS ****");
        let auth = LineContext {
            mode: InputMode::Auth,
            ..LineContext::new(Protocol::Smtp)
        };
        assert_eq!(masked(&auth, "AGFsaWNl").as_deref(), Some("********"));
        let smtp = LineContext::new(Protocol::Smtp);
        assert_eq!(
            masked(&smtp, "AUTH PLAIN AGFsaWNl").as_deref(),
            Some("AUTH PLAIN ********")
        );
        assert_eq!(masked(&smtp, ":auth PLAIN alice"), None);
    }
}
