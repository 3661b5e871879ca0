//! The full-screen front end (ratatui + crossterm): a transcript pane, an input line, a status
//! bar, side panels and, with the embedded server in the same process, an inbox view. It drives
//! the same controller as the REPL and draws the same spans (colours from `render::theme`).
//!
//! Two threads: this one draws and reads keys; a session thread owns the controller, handles
//! each line (a reply may take its time) and, in between, looks for lines the server sends on
//! its own (IMAP IDLE). They talk over channels, so typing, scrolling and Esc (which interrupts
//! a wait through the controller's cancel flag) never wait for the server.

pub mod app;
pub mod inbox;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    KeyEventKind,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use rustyline::history::{DefaultHistory, History};

use crate::controller::complete::Known;
use crate::controller::{exit, Controller, Flow, Screen, Status};
use crate::engine::Progress;
use crate::output::progress::{Draw, Meter};
use crate::proto::{InputMode, LineContext};
use crate::render::{Line, Theme};
use app::{Action, App, Panel};
pub use inbox::Inbox;

/// How long the session thread looks for unsolicited lines between requests.
const POLL: Duration = Duration::from_millis(50);

/// What the view asks of the session thread.
enum Request {
    Line(String),
    Fill(Panel),
    Quit,
}

/// What the session thread tells the view.
enum Report {
    Line(Line),
    /// A transfer's progress to show in the status bar, or none any more.
    Progress(Option<String>),
    /// A line was handled: whether it goes into the history.
    Done {
        history: Option<String>,
    },
    State(Box<Snapshot>),
    Panel(Panel, Vec<Line>),
    Finished(i32),
}

struct Snapshot {
    prompt: String,
    ctx: LineContext,
    known: Known,
    status: Status,
}

/// A screen that sends each line to the view as it comes.
struct Channel<'a> {
    tx: &'a Sender<Report>,
    /// Lines sent so far.
    sent: usize,
    meter: Meter,
}

impl<'a> Channel<'a> {
    fn new(tx: &'a Sender<Report>) -> Channel<'a> {
        Channel {
            tx,
            sent: 0,
            meter: Meter::new(),
        }
    }
}

impl Screen for Channel<'_> {
    fn show(&mut self, line: &Line) {
        self.sent = self.sent.saturating_add(1);
        let _ = self.tx.send(Report::Line(line.clone()));
    }

    fn progress(&mut self, progress: &Progress, at: Duration) {
        match self.meter.update(progress, at) {
            Draw::Nothing => {}
            Draw::Show(text) => {
                let _ = self.tx.send(Report::Progress(Some(text)));
            }
            Draw::Clear => {
                let _ = self.tx.send(Report::Progress(None));
            }
        }
    }
}

/// A screen that keeps the lines (a panel's content).
struct Keep(Vec<Line>);

impl Screen for Keep {
    fn show(&mut self, line: &Line) {
        self.0.push(line.clone());
    }
}

fn snapshot(c: &Controller) -> Box<Snapshot> {
    Box::new(Snapshot {
        prompt: c.prompt(),
        ctx: c.line_context(),
        known: c.completion(),
        status: c.status(),
    })
}

/// The session thread: handles requests, and looks for unsolicited lines in between.
fn session(mut c: Controller, rx: Receiver<Request>, tx: Sender<Report>) {
    let _ = tx.send(Report::State(snapshot(&c)));
    let mut closed_status: Option<i32> = None;
    loop {
        match rx.recv_timeout(POLL) {
            Ok(Request::Line(line)) => {
                let mut screen = Channel::new(&tx);
                if !c.is_open() && line.trim().is_empty() {
                    let code = c.finish(closed_status.map_or(Ok(()), Err), &mut screen);
                    let _ = tx.send(Report::Finished(code));
                    return;
                }
                let typed_secret = c.typed_secret(&line);
                let commandish =
                    !c.line_context().mode.is_content() && c.line_context().mode != InputMode::Auth;
                let h = c.handle(line.as_bytes(), &mut screen);
                let keep = !h.secret && !typed_secret && commandish && !line.trim().is_empty();
                let _ = tx.send(Report::Done {
                    history: keep.then_some(line),
                });
                match h.flow {
                    Flow::Quit => {
                        let code = c.finish(Ok(()), &mut screen);
                        let _ = tx.send(Report::Finished(code));
                        return;
                    }
                    Flow::Error { code, fatal: true } if c.closed_by_server().is_none() => {
                        closed_status = Some(code);
                    }
                    _ if c.is_open() => closed_status = None,
                    _ => {}
                }
                let _ = tx.send(Report::State(snapshot(&c)));
            }
            Ok(Request::Fill(panel)) => {
                let mut keep = Keep(Vec::new());
                if let Some(cmd) = panel.command() {
                    c.handle(cmd.as_bytes(), &mut keep);
                }
                let _ = tx.send(Report::Panel(panel, keep.0));
            }
            Ok(Request::Quit) => {
                let mut screen = Channel::new(&tx);
                let code = c.finish(closed_status.map_or(Ok(()), Err), &mut screen);
                let _ = tx.send(Report::Finished(code));
                return;
            }
            Err(RecvTimeoutError::Timeout) => {
                if c.is_open() {
                    let mut screen = Channel::new(&tx);
                    if !c.poll(POLL, &mut screen) {
                        c.info(
                            &mut screen,
                            "the server closed the connection: :reconnect opens it again; \
                             Enter or Ctrl-D leaves (exit status 7)",
                        );
                    }
                    // Only when something came: an idle session costs no redraws.
                    if screen.sent > 0 {
                        let _ = tx.send(Report::State(snapshot(&c)));
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Puts the terminal back however the view ends (a panic included, through the hook).
struct Restore;

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

impl Drop for Restore {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// What `run` needs besides the controller.
pub struct Options {
    pub history: bool,
    pub theme: Theme,
    /// The embedded server's inbox (`demo --tui`).
    pub inbox: Option<Inbox>,
    /// A line shown above everything (the demo's addresses).
    pub banner: Option<String>,
    /// The first lines of the transcript (what connecting said, the demo's guide).
    pub intro: Vec<Line>,
}

/// OSC 52: the terminal puts `text` on the clipboard (where it allows it).
fn copy(text: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{b64}\x07");
    let _ = out.flush();
}

/// Runs the full-screen view over a connected controller. Returns the exit status.
pub fn run(c: Controller, opts: Options) -> i32 {
    let protocol = c.protocol();
    let cancel = c.cancel_flag();
    let mut app = App::new(opts.theme.clone(), protocol);
    app.inbox = opts.inbox;
    app.banner = opts.banner;
    for l in opts.intro {
        app.push(l);
    }
    let history_file = if opts.history {
        crate::repl::history_path()
    } else {
        None
    };
    let mut history = DefaultHistory::new();
    if let Some(path) = &history_file {
        let _ = history.load(path);
        app.set_history(history.iter().cloned().collect());
    }
    if enable_raw_mode().is_err() {
        eprintln!("mailtalk: error: the terminal cannot go full-screen (raw mode refused)");
        return exit::CONNECT;
    }
    let _restore = Restore;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
    let mut stdout = std::io::stdout();
    let _ = crossterm::execute!(
        stdout,
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    );
    let mut terminal = match Terminal::new(CrosstermBackend::new(std::io::stdout())) {
        Ok(t) => t,
        Err(e) => {
            drop(_restore);
            eprintln!("mailtalk: error: cannot draw on the terminal: {e}");
            return exit::CONNECT;
        }
    };
    let (to_session, requests) = channel::<Request>();
    let (reports, from_session) = channel::<Report>();
    let worker = std::thread::Builder::new()
        .name("session".into())
        .spawn(move || session(c, requests, reports));
    if worker.is_err() {
        return exit::CONNECT;
    }
    // Drawn when something changed, and once a second for the session clock.
    let mut dirty = true;
    let mut drawn = Instant::now();
    let status = loop {
        let mut finished = None;
        while let Ok(r) = from_session.try_recv() {
            dirty = true;
            match r {
                Report::Line(l) => app.push(l),
                Report::Progress(p) => app.transfer = p,
                Report::Done { history: line } => {
                    app.busy = false;
                    app.transfer = None;
                    if let Some(line) = line {
                        app.add_history(&line);
                        let _ = history.add(&line);
                        if let Some(path) = &history_file {
                            let _ = history.append(path);
                        }
                    }
                }
                Report::State(s) => {
                    app.prompt = s.prompt;
                    app.ctx = s.ctx;
                    app.known = s.known;
                    app.status = Some(s.status);
                    app.status_at = Some(Instant::now());
                }
                Report::Panel(p, lines) => app.set_panel(p, lines),
                Report::Finished(code) => finished = Some(code),
            }
        }
        if let Some(code) = finished {
            break code;
        }
        if dirty || drawn.elapsed() >= Duration::from_secs(1) {
            let _ = terminal.draw(|f| app.draw(f));
            dirty = false;
            drawn = Instant::now();
        }
        let ready = crossterm::event::poll(Duration::from_millis(30)).unwrap_or(false);
        if !ready {
            continue;
        }
        dirty = true;
        let actions = match crossterm::event::read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => vec![app.handle_key(k)],
            Ok(Event::Mouse(m)) => {
                app.handle_mouse(m);
                Vec::new()
            }
            Ok(Event::Paste(text)) => app.paste(&text),
            Ok(_) => Vec::new(),
            Err(_) => vec![Action::Quit],
        };
        for a in actions {
            match a {
                Action::None => {}
                Action::Send(line) => {
                    app.busy = true;
                    let _ = to_session.send(Request::Line(line));
                }
                Action::Cancel => cancel.store(true, Ordering::SeqCst),
                Action::Quit => {
                    let _ = to_session.send(Request::Quit);
                }
                Action::Fill(p) => {
                    let _ = to_session.send(Request::Fill(p));
                }
                Action::Copy(text) => copy(&text),
            }
        }
    };
    drop(terminal);
    drop(_restore);
    status
}
