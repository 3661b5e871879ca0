//! The full-screen view's state and drawing, apart from the terminal and the session: lines in,
//! keys in, actions out, a frame drawn. Tests drive it with a `TestBackend`.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Constraint, Direction, Layout, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line as TLine, Span as TSpan};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;
use unicode_width::UnicodeWidthStr;

use super::inbox::Inbox;
use crate::controller::complete::{self, Known};
use crate::controller::{secret_in, Status};
use crate::engine::Security;
use crate::proto::{InputMode, LineContext, Outcome, Protocol};
use crate::render::{lexer, Line, Role, Theme};

/// The transcript keeps at most this many lines (the oldest go first, and are counted).
pub const MAX_LINES: usize = 200_000;

/// What a side panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    /// What the server advertised (`:caps`).
    Caps,
    /// TLS details and the certificate chain (`:tls`).
    Tls,
    /// The explanation of the selected reply (or the last one).
    Explain,
    /// Timing (`:stats`).
    Stats,
}

impl Panel {
    fn title(self) -> &'static str {
        match self {
            Panel::Caps => "capabilities (F2)",
            Panel::Tls => "TLS (F3)",
            Panel::Explain => "explanation (F4)",
            Panel::Stats => "stats (F5)",
        }
    }

    /// The meta-command whose output the panel shows, when it is one.
    pub fn command(self) -> Option<&'static str> {
        match self {
            Panel::Caps => Some(":caps"),
            Panel::Tls => Some(":tls"),
            Panel::Stats => Some(":stats"),
            Panel::Explain => None,
        }
    }
}

/// Where keys go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The input line.
    Input,
    /// The transcript: a line is selected, the keys move and act on it.
    Transcript,
    /// Typing a search.
    Search,
    /// The inbox of `demo --tui`.
    Inbox,
}

/// What the view asks of the session after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    /// Send this line (to the controller).
    Send(String),
    /// Interrupt the wait in progress.
    Cancel,
    /// Leave politely (Ctrl-D).
    Quit,
    /// Fill this panel (run its meta-command).
    Fill(Panel),
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
}

/// The search in the transcript.
#[derive(Clone, Debug, Default)]
struct Search {
    query: String,
    /// Lines (absolute indexes) that match, in order.
    hits: Vec<u64>,
}

/// The whole view.
pub struct App {
    pub theme: Theme,
    lines: VecDeque<Line>,
    /// Lines dropped from the top: the absolute index of `lines[0]`.
    first: u64,
    /// Transcript lines hidden below the pane's bottom (0: it follows the end).
    scroll: usize,
    /// The selected line (absolute index), in transcript focus.
    selected: Option<u64>,
    search: Option<Search>,
    search_input: Input,
    pub focus: Focus,
    pub input: Input,
    pub prompt: String,
    pub ctx: LineContext,
    pub known: Known,
    pub status: Option<Status>,
    /// When `status` was taken: the session clock goes on from there (none in tests).
    pub status_at: Option<std::time::Instant>,
    /// A line is being handled; its reply may still be coming.
    pub busy: bool,
    /// The progress of a transfer in progress, for the status bar.
    pub transfer: Option<String>,
    panel: Option<Panel>,
    panel_lines: Vec<Line>,
    /// The panel's share of the width, in percent.
    panel_width: u16,
    pub help: bool,
    history: Vec<String>,
    history_pos: Option<usize>,
    /// What was typed before browsing the history.
    draft: String,
    /// Candidates of the last Tab, shown under the input.
    candidates: Vec<String>,
    pub inbox: Option<Inbox>,
    /// A line shown above everything (the demo's server addresses).
    pub banner: Option<String>,
    /// A note shown in the status bar until the next key.
    note: Option<String>,
    /// The pane's last height, for paging.
    page: usize,
    /// What changed in the capabilities after STARTTLS (the transcript's `** after TLS:` line),
    /// shown atop the capabilities panel.
    tls_change: Option<Line>,
}

fn visible_len(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

impl App {
    pub fn new(theme: Theme, protocol: Protocol) -> App {
        App {
            theme,
            lines: VecDeque::new(),
            first: 0,
            scroll: 0,
            selected: None,
            search: None,
            search_input: Input::default(),
            focus: Focus::Input,
            input: Input::default(),
            prompt: String::new(),
            ctx: LineContext::new(protocol),
            known: Known::new(protocol),
            status: None,
            status_at: None,
            busy: false,
            transfer: None,
            panel: None,
            panel_lines: Vec::new(),
            panel_width: 40,
            help: false,
            history: Vec::new(),
            history_pos: None,
            draft: String::new(),
            candidates: Vec::new(),
            inbox: None,
            banner: None,
            note: None,
            page: 20,
            tls_change: None,
        }
    }

    /// Lines of history, oldest first (the REPL's file).
    pub fn set_history(&mut self, lines: Vec<String>) {
        self.history = lines;
    }

    pub fn add_history(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.last().is_some_and(|l| l == line) {
            return;
        }
        self.history.push(line.to_string());
    }

    /// A line of the transcript.
    pub fn push(&mut self, line: Line) {
        if line.text().starts_with("** after TLS: ") {
            self.tls_change = Some(line.clone());
        }
        if self.lines.len() >= MAX_LINES {
            self.lines.pop_front();
            self.first = self.first.saturating_add(1);
        }
        self.lines.push_back(line);
        if self.scroll > 0 {
            // Reading back: stay on the same lines.
            self.scroll = self.scroll.saturating_add(1).min(self.lines.len());
        }
        if let Some(s) = &mut self.search {
            let idx = self
                .first
                .saturating_add(self.lines.len() as u64)
                .saturating_sub(1);
            if self
                .lines
                .back()
                .is_some_and(|l| contains_ci(&l.text(), &s.query))
            {
                s.hits.push(idx);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// A panel's content arrived.
    pub fn set_panel(&mut self, panel: Panel, mut lines: Vec<Line>) {
        if panel == Panel::Caps {
            if let Some(change) = &self.tls_change {
                lines.insert(0, change.clone());
            }
        }
        self.panel = Some(panel);
        self.panel_lines = lines;
    }

    pub fn panel(&self) -> Option<Panel> {
        self.panel
    }

    fn line_at(&self, idx: u64) -> Option<&Line> {
        let i = usize::try_from(idx.checked_sub(self.first)?).ok()?;
        self.lines.get(i)
    }

    /// The last line the server sent (`S: …`, `S# …`, `S! …`).
    fn last_reply(&self) -> Option<u64> {
        let i = self.lines.iter().rposition(|l| {
            let t = l.text();
            t.starts_with("S: ") || t.starts_with("S# ") || t.starts_with("S! ")
        })?;
        Some(self.first.saturating_add(i as u64))
    }

    fn last_index(&self) -> Option<u64> {
        (!self.lines.is_empty()).then(|| {
            self.first
                .saturating_add(self.lines.len() as u64)
                .saturating_sub(1)
        })
    }

    /// The explanation of the selected line, or of the last reply line.
    fn explain_lines(&self) -> Vec<Line> {
        let protocol = self.ctx.protocol;
        let text = match self.selected.and_then(|i| self.line_at(i)) {
            Some(l) => l.text(),
            None => self
                .lines
                .iter()
                .rev()
                .map(Line::text)
                .find(|t| t.starts_with('S'))
                .unwrap_or_default(),
        };
        if text.is_empty() {
            return vec![Line::message(Role::Info, "", "no reply to explain yet")];
        }
        let report = crate::explain::report_pasted(&text, Some(protocol));
        let mut out = vec![Line::message(Role::Dim, "", &text)];
        if report.is_empty() {
            out.push(Line::message(
                Role::Info,
                "",
                "nothing to explain in this line (no reply code, no known cause)",
            ));
        }
        for block in &report.blocks {
            for (i, l) in block.lines().enumerate() {
                let role = if i == 0 { Role::Info } else { Role::Plain };
                out.push(Line::message(role, "", l));
            }
        }
        out
    }

    fn open_panel(&mut self, panel: Panel) -> Action {
        if self.panel == Some(panel) {
            self.panel = None;
            return Action::None;
        }
        match panel.command() {
            Some(_) if self.busy => {
                self.note = Some("busy: the panel opens once the reply is in".into());
                Action::None
            }
            Some(_) => {
                self.panel = Some(panel);
                self.panel_lines = vec![Line::message(Role::Info, "", "…")];
                Action::Fill(panel)
            }
            None => {
                let lines = self.explain_lines();
                self.set_panel(panel, lines);
                Action::None
            }
        }
    }

    /// Mouse: the wheel scrolls the transcript.
    pub fn handle_mouse(&mut self, m: MouseEvent) {
        match m.kind {
            MouseEventKind::ScrollUp => self.scroll_by(3, true),
            MouseEventKind::ScrollDown => self.scroll_by(3, false),
            _ => {}
        }
    }

    fn scroll_by(&mut self, n: usize, up: bool) {
        self.scroll = if up {
            self.scroll
                .saturating_add(n)
                .min(self.lines.len().saturating_sub(1))
        } else {
            self.scroll.saturating_sub(n)
        };
    }

    /// Text pasted (bracketed paste): into the input (or the search), newlines ending lines.
    pub fn paste(&mut self, text: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut pieces = text.split('\n').peekable();
        while let Some(p) = pieces.next() {
            let p = p.strip_suffix('\r').unwrap_or(p);
            for c in p.chars() {
                self.input.handle(tui_input::InputRequest::InsertChar(c));
            }
            if pieces.peek().is_some() {
                actions.push(self.enter());
            }
        }
        actions
    }

    fn enter(&mut self) -> Action {
        let line = self.input.value_and_reset();
        self.candidates.clear();
        self.history_pos = None;
        let trimmed = line.trim();
        if trimmed == ":tui" {
            self.note = Some("this is the full-screen view already".into());
            return Action::None;
        }
        if trimmed == ":inbox" {
            if self.inbox.is_some() {
                self.focus = Focus::Inbox;
            } else {
                self.note = Some(":inbox is there with mailtalk demo --tui".into());
            }
            return Action::None;
        }
        if self.busy {
            self.note = Some("waiting for the reply: Esc or Ctrl-C interrupts".into());
            self.input = Input::new(line);
            return Action::None;
        }
        self.scroll = 0;
        Action::Send(line)
    }

    fn complete(&mut self) {
        let value = self.input.value().to_string();
        let cursor = self.input.cursor();
        let before: String = value.chars().take(cursor).collect();
        let (start, words) = complete::complete(&self.known, &before);
        match words.as_slice() {
            [] => self.candidates.clear(),
            [one] => {
                let head: String = before.chars().take(start).collect();
                let rest: String = value.chars().skip(cursor).collect();
                let new = format!("{head}{one} {rest}");
                let at = head
                    .chars()
                    .count()
                    .saturating_add(one.chars().count())
                    .saturating_add(1);
                self.input = Input::new(new).with_cursor(at);
                self.candidates.clear();
            }
            many => {
                // The common prefix, then the list.
                let word_len = before.chars().count().saturating_sub(start);
                let prefix = common_prefix(many);
                if prefix.chars().count() > word_len {
                    let head: String = before.chars().take(start).collect();
                    let rest: String = value.chars().skip(cursor).collect();
                    let at = head.chars().count().saturating_add(prefix.chars().count());
                    self.input = Input::new(format!("{head}{prefix}{rest}")).with_cursor(at);
                }
                self.candidates = many.to_vec();
            }
        }
    }

    fn history_step(&mut self, back: bool) {
        if self.history.is_empty() {
            return;
        }
        let pos = match (self.history_pos, back) {
            (None, true) => {
                self.draft = self.input.value().to_string();
                Some(self.history.len().saturating_sub(1))
            }
            (None, false) => None,
            (Some(p), true) => Some(p.saturating_sub(1)),
            (Some(p), false) if p.saturating_add(1) < self.history.len() => {
                Some(p.saturating_add(1))
            }
            (Some(_), false) => None,
        };
        self.history_pos = pos;
        let text = match pos {
            Some(p) => self.history.get(p).cloned().unwrap_or_default(),
            None => std::mem::take(&mut self.draft),
        };
        let at = text.chars().count();
        self.input = Input::new(text).with_cursor(at);
    }

    /// A key: what it changes in the view, and what it asks of the session.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        self.note = None;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if self.help {
            self.help = false;
            return Action::None;
        }
        // Everywhere: help, panels, cancelling a wait.
        match key.code {
            KeyCode::F(1) => {
                self.help = true;
                return Action::None;
            }
            KeyCode::F(2) => return self.open_panel(Panel::Caps),
            KeyCode::F(3) => return self.open_panel(Panel::Tls),
            KeyCode::F(4) => return self.open_panel(Panel::Explain),
            KeyCode::F(5) => return self.open_panel(Panel::Stats),
            KeyCode::F(9) if self.inbox.is_some() => {
                self.focus = if self.focus == Focus::Inbox {
                    Focus::Input
                } else {
                    Focus::Inbox
                };
                return Action::None;
            }
            KeyCode::Left if ctrl && self.panel.is_some() => {
                self.panel_width = self.panel_width.saturating_add(5).min(80);
                return Action::None;
            }
            KeyCode::Right if ctrl && self.panel.is_some() => {
                self.panel_width = self.panel_width.saturating_sub(5).max(15);
                return Action::None;
            }
            KeyCode::Char('c') if ctrl && self.busy => return Action::Cancel,
            KeyCode::Char('d')
                if ctrl && (self.focus != Focus::Input || self.input.value().is_empty()) =>
            {
                return Action::Quit
            }
            KeyCode::Esc if self.busy => return Action::Cancel,
            KeyCode::PageUp => {
                self.scroll_by(self.page.max(1), true);
                return Action::None;
            }
            KeyCode::PageDown => {
                self.scroll_by(self.page.max(1), false);
                return Action::None;
            }
            _ => {}
        }
        match self.focus {
            Focus::Inbox => self.inbox_key(key),
            Focus::Search => self.search_key(key),
            Focus::Transcript => self.transcript_key(key),
            Focus::Input => self.input_key(key),
        }
    }

    fn inbox_key(&mut self, key: KeyEvent) -> Action {
        let used = self.inbox.as_mut().is_some_and(|i| i.handle_key(key));
        if !used && matches!(key.code, KeyCode::Esc | KeyCode::Char('q')) {
            self.focus = Focus::Input;
        }
        Action::None
    }

    fn search_key(&mut self, key: KeyEvent) -> Action {
        match key.code {
            KeyCode::Enter => {
                let query = self.search_input.value_and_reset();
                self.focus = Focus::Transcript;
                if query.is_empty() {
                    self.search = None;
                    return Action::None;
                }
                let hits: Vec<u64> = self
                    .lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| contains_ci(&l.text(), &query))
                    .map(|(i, _)| self.first.saturating_add(i as u64))
                    .collect();
                self.search = Some(Search { query, hits });
                self.selected = None;
                self.next_hit(true);
            }
            KeyCode::Esc => {
                self.search_input.reset();
                self.focus = Focus::Transcript;
            }
            _ => {
                self.search_input
                    .handle_event(&crossterm::event::Event::Key(key));
            }
        }
        Action::None
    }

    /// Selects the next (or previous) search hit from the selection, and shows it.
    fn next_hit(&mut self, back: bool) {
        let Some(s) = &self.search else { return };
        // Without a selection, from beyond the end: backwards finds the newest match.
        let from = self
            .selected
            .unwrap_or_else(|| self.last_index().map_or(0, |l| l.saturating_add(1)));
        let hit = if back {
            s.hits.iter().rev().find(|h| **h < from).or(s.hits.last())
        } else {
            s.hits.iter().find(|h| **h > from).or(s.hits.first())
        }
        .copied();
        let count = s.hits.len();
        let query = s.query.clone();
        match hit {
            Some(h) => {
                self.selected = Some(h);
                self.show_selected();
                self.note = Some(format!(
                    "\"{query}\": {count} match{}",
                    if count == 1 { "" } else { "es" }
                ));
            }
            None => self.note = Some(format!("\"{query}\": no match")),
        }
    }

    /// Scrolls so that the selected line is in the pane.
    fn show_selected(&mut self) {
        let (Some(sel), Some(last)) = (self.selected, self.last_index()) else {
            return;
        };
        let below = usize::try_from(last.saturating_sub(sel)).unwrap_or(usize::MAX);
        if below < self.scroll || below >= self.scroll.saturating_add(self.page.max(1)) {
            self.scroll = below.saturating_sub(self.page.max(1) / 2);
        }
    }

    fn transcript_key(&mut self, key: KeyEvent) -> Action {
        let before = self.selected;
        let action = self.transcript_key_inner(key);
        // An open explanation follows the selection.
        if self.selected != before && self.panel == Some(Panel::Explain) {
            let lines = self.explain_lines();
            self.set_panel(Panel::Explain, lines);
        }
        action
    }

    fn transcript_key_inner(&mut self, key: KeyEvent) -> Action {
        let last = self.last_index();
        match key.code {
            KeyCode::Esc | KeyCode::Char('i') => {
                self.focus = Focus::Input;
                self.selected = None;
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = match (self.selected, last) {
                    (Some(s), _) => Some(s.saturating_sub(1).max(self.first)),
                    (None, l) => l,
                };
                self.show_selected();
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = match (self.selected, last) {
                    (Some(s), Some(l)) => Some(s.saturating_add(1).min(l)),
                    (s, _) => s,
                };
                self.show_selected();
            }
            KeyCode::Home | KeyCode::Char('g') => {
                self.selected = (!self.lines.is_empty()).then_some(self.first);
                self.show_selected();
            }
            KeyCode::End | KeyCode::Char('G') => {
                self.selected = last;
                self.scroll = 0;
            }
            KeyCode::Char('/') => {
                self.focus = Focus::Search;
                self.search_input.reset();
            }
            KeyCode::Char('n') => self.next_hit(false),
            KeyCode::Char('N') => self.next_hit(true),
            KeyCode::Char('?') => self.help = true,
            KeyCode::Enter => {
                let lines = self.explain_lines();
                self.set_panel(Panel::Explain, lines);
            }
            KeyCode::Char('y') => {
                if let Some(l) = self.selected.and_then(|i| self.line_at(i)) {
                    let text = l.text();
                    self.note = Some("copied the line (where the terminal allows it)".into());
                    return Action::Copy(text);
                }
            }
            _ => {}
        }
        Action::None
    }

    fn input_key(&mut self, key: KeyEvent) -> Action {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            // Ctrl-J (a line feed) ends the line too, as in the REPL: an Enter typed ahead while
            // the terminal was still in line mode (just after :tui) arrives as one.
            KeyCode::Enter => return self.enter(),
            KeyCode::Char('j') if ctrl => return self.enter(),
            KeyCode::Char('d') if ctrl && self.input.value().is_empty() => return Action::Quit,
            KeyCode::Char('c') if ctrl => {
                self.input.reset();
                self.candidates.clear();
                self.note =
                    Some("Ctrl-C drops the line being typed; Ctrl-D or :quit leaves".into());
            }
            KeyCode::Char('f') if ctrl => {
                self.focus = Focus::Search;
                self.search_input.reset();
            }
            KeyCode::Esc => {
                self.focus = Focus::Transcript;
                self.selected = self.last_reply().or(self.last_index());
                self.show_selected();
            }
            KeyCode::Tab if !self.ctx.mode.is_content() => self.complete(),
            KeyCode::Up if !ctrl => self.history_step(true),
            KeyCode::Down if !ctrl => self.history_step(false),
            KeyCode::Up => self.scroll_by(1, true),
            KeyCode::Down => self.scroll_by(1, false),
            _ => {
                self.input.handle_event(&crossterm::event::Event::Key(key));
            }
        }
        Action::None
    }

    // -----------------------------------------------------------------------------------------
    // Drawing

    pub fn draw(&mut self, f: &mut Frame) {
        let area = f.area();
        // The inbox's count is in the status bar: keep it current (cheap when nothing changed).
        if let Some(inbox) = self.inbox.as_mut() {
            inbox.refresh();
        }
        let banner_h = u16::from(self.banner.is_some());
        let extra = u16::from(!self.candidates.is_empty());
        let rows = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(banner_h),
                Constraint::Min(1),
                Constraint::Length(1),
                Constraint::Length(extra),
                Constraint::Length(1),
            ])
            .split(area);
        let (banner, main, status, cands, input) = match rows.as_ref() {
            [a, b, c, d, e] => (*a, *b, *c, *d, *e),
            _ => return,
        };
        if let Some(b) = &self.banner {
            f.render_widget(
                Paragraph::new(TLine::from(TSpan::styled(
                    b.clone(),
                    self.theme.tui_style(Role::Meta),
                ))),
                banner,
            );
        }
        if self.focus == Focus::Inbox {
            if let Some(inbox) = self.inbox.as_mut() {
                inbox.draw(f, main, &self.theme);
            }
        } else {
            let (pane, side) = match self.panel {
                Some(_) => {
                    let cols = Layout::default()
                        .direction(Direction::Horizontal)
                        .constraints([
                            Constraint::Percentage(100u16.saturating_sub(self.panel_width)),
                            Constraint::Percentage(self.panel_width),
                        ])
                        .split(main);
                    match cols.as_ref() {
                        [a, b] => (*a, Some(*b)),
                        _ => (main, None),
                    }
                }
                None => (main, None),
            };
            self.draw_transcript(f, pane);
            if let (Some(side), Some(panel)) = (side, self.panel) {
                self.draw_panel(f, side, panel);
            }
        }
        self.draw_status(f, status);
        if extra > 0 {
            // Advertised by the server: made visible like everything it sends.
            let text = crate::render::escape::visible_string(self.candidates.join("  ").as_bytes());
            f.render_widget(
                Paragraph::new(TLine::from(TSpan::styled(
                    text,
                    self.theme.tui_style(Role::Dim),
                ))),
                cands,
            );
        }
        self.draw_input(f, input);
        if self.help {
            self.draw_help(f, area);
        }
    }

    fn draw_transcript(&mut self, f: &mut Frame, area: Rect) {
        let height = usize::from(area.height);
        let width = usize::from(area.width).max(1);
        self.page = height.max(1);
        let query = self.search.as_ref().map(|s| s.query.clone());
        // From the bottom up, only what fits: the pane costs the same with 10 or 100,000 lines.
        let end = self.lines.len().saturating_sub(self.scroll);
        let mut rows: Vec<TLine<'static>> = Vec::new();
        let mut i = end;
        while i > 0 && rows.len() < height {
            i = i.saturating_sub(1);
            let Some(line) = self.lines.get(i) else { break };
            let abs = self.first.saturating_add(i as u64);
            let mut tl = self.theme.tui_line(line);
            if let Some(q) = &query {
                tl = highlight(tl, q, self.theme.tui_style(Role::Escape));
            }
            if self.selected == Some(abs) && self.focus != Focus::Input {
                tl = tl.patch_style(Style::default().add_modifier(Modifier::REVERSED));
            }
            let mut wrapped = wrap(tl, width);
            while let Some(r) = wrapped.pop() {
                rows.push(r);
            }
        }
        let skip = rows.len().saturating_sub(height);
        let rows: Vec<TLine<'static>> = rows.into_iter().skip(skip).rev().collect();
        let mut shown = rows;
        // Pad at the top so the newest line sits at the bottom.
        let pad = height.saturating_sub(shown.len());
        let mut all = vec![TLine::default(); pad];
        all.append(&mut shown);
        f.render_widget(Paragraph::new(all), area);
    }

    fn draw_panel(&self, f: &mut Frame, area: Rect, panel: Panel) {
        let block = Block::default().borders(Borders::LEFT).title(TSpan::styled(
            panel.title(),
            self.theme.tui_style(Role::Meta),
        ));
        let lines: Vec<TLine<'static>> = self
            .panel_lines
            .iter()
            .map(|l| self.theme.tui_line(l))
            .collect();
        f.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false }),
            area,
        );
    }

    fn draw_status(&self, f: &mut Frame, area: Rect) {
        let th = &self.theme;
        let bar = th.tui_style(Role::Plain).add_modifier(Modifier::REVERSED);
        // Each piece with the order in which it goes when the bar is wider than the terminal
        // (0: it stays; the note is cut at the right edge instead).
        let mut pieces: Vec<(String, Style, u8)> = Vec::new();
        let mut put = |text: String, style: Style, drop: u8| pieces.push((text, style, drop));
        match &self.status {
            Some(s) => {
                put(format!(" {} {} ", s.protocol, s.target), bar, 0);
                let (transport, role) = match (s.open, s.security, &s.tls_version) {
                    (false, _, _) => ("closed".to_string(), Role::Error),
                    (true, Security::Plain, _) => ("plaintext".to_string(), Role::PrefixPlain),
                    (true, Security::TlsVerified, v) => (
                        format!("{} verified", v.clone().unwrap_or_else(|| "TLS".into())),
                        Role::PrefixTls,
                    ),
                    (true, Security::TlsUnverified, v) => (
                        format!("{} NOT verified", v.clone().unwrap_or_else(|| "TLS".into())),
                        Role::PrefixInsecure,
                    ),
                };
                put(
                    format!(" {transport} "),
                    th.tui_style(role).add_modifier(Modifier::REVERSED),
                    0,
                );
                if let Some(c) = &s.cipher {
                    put(format!(" {c} "), bar, 1);
                }
                let since = self.status_at.map(|t| t.elapsed()).unwrap_or_default();
                let secs = s.elapsed.saturating_add(since).as_secs();
                put(
                    format!(
                        " {:02}:{:02}:{:02} ",
                        secs / 3600,
                        secs / 60 % 60,
                        secs % 60
                    ),
                    bar,
                    3,
                );
                if let Some((code, outcome)) = &s.last_reply {
                    let role = match outcome {
                        Outcome::Ok => Role::Code2xx,
                        Outcome::Continue => Role::Code3xx,
                        Outcome::TempFail | Outcome::No => Role::Code4xx,
                        Outcome::PermFail | Outcome::Bad => Role::Code5xx,
                        _ => Role::CodeOther,
                    };
                    let code = crate::render::escape::visible_string(code.as_bytes());
                    put(
                        format!(" last {code} "),
                        th.tui_style(role).add_modifier(Modifier::REVERSED),
                        0,
                    );
                }
                put(
                    format!(" ↑{} ↓{} ", bytes(s.bytes_sent), bytes(s.bytes_received)),
                    bar,
                    2,
                );
                let mode = match s.mode {
                    InputMode::Command => None,
                    InputMode::Message => Some("message text".to_string()),
                    InputMode::Chunk { left } => Some(format!("BDAT: {left} bytes left")),
                    InputMode::Literal { left } => Some(format!("literal: {left} bytes left")),
                    InputMode::LiteralRest => Some("rest of the line after the literal".into()),
                    InputMode::Idle => Some("IDLE (DONE ends it)".into()),
                    InputMode::Continuation => Some("server waits (+)".into()),
                    InputMode::Auth => Some("SASL exchange".into()),
                };
                if let Some(m) = mode {
                    put(
                        format!(" {m} "),
                        th.tui_style(Role::Warning).add_modifier(Modifier::REVERSED),
                        0,
                    );
                }
            }
            None => put(" connecting… ".into(), bar, 0),
        }
        if self.busy {
            put(
                match &self.transfer {
                    Some(t) => format!(" {t} · Esc interrupts "),
                    None => " waiting… Esc interrupts ".into(),
                },
                th.tui_style(Role::Warning).add_modifier(Modifier::REVERSED),
                0,
            );
        }
        if let Some(inbox) = &self.inbox {
            put(format!(" inbox {} (F9) ", inbox.len()), bar, 0);
        }
        let note = self.note.clone().unwrap_or_else(|| match self.focus {
            Focus::Input => "F1 help".into(),
            Focus::Transcript => "↑↓ select · Enter explain · / search · y copy · Esc back".into(),
            Focus::Search => "search: Enter finds, Esc cancels".into(),
            Focus::Inbox => "inbox: Esc back".into(),
        });
        put(format!(" {note}"), th.tui_style(Role::Info), 0);
        let spans: Vec<TSpan<'static>> = fit(pieces, usize::from(area.width))
            .into_iter()
            .map(|(text, style)| TSpan::styled(text, style))
            .collect();
        f.render_widget(Paragraph::new(TLine::from(spans)).style(bar), area);
    }

    fn draw_input(&self, f: &mut Frame, area: Rect) {
        let (prompt, value, cursor, commandish) = if self.focus == Focus::Search {
            (
                "/".to_string(),
                self.search_input.value().to_string(),
                self.search_input.visual_cursor(),
                false,
            )
        } else {
            (
                self.prompt.clone(),
                self.input.value().to_string(),
                self.input.visual_cursor(),
                !self.ctx.mode.is_content() || self.input.value().starts_with(':'),
            )
        };
        // A secret being typed is shown as stars, like the REPL does.
        let shown = match secret_in(&self.ctx, &value) {
            Some(r) if self.focus != Focus::Search => value
                .char_indices()
                .map(|(i, c)| if r.contains(&i) { '*' } else { c })
                .collect(),
            _ => value,
        };
        let mut spans = vec![TSpan::styled(
            prompt.clone(),
            self.theme.tui_style(Role::Meta),
        )];
        if commandish {
            for s in lexer::client_line(self.ctx.protocol, &shown) {
                spans.push(TSpan::styled(s.text.clone(), self.theme.tui_style(s.role)));
            }
        } else {
            spans.push(TSpan::raw(crate::render::escape::visible_string(
                shown.as_bytes(),
            )));
        }
        let width = usize::from(area.width);
        let start = visible_len(&prompt);
        let room = width.saturating_sub(start).max(1);
        let hscroll = cursor.saturating_sub(room.saturating_sub(1));
        f.render_widget(
            Paragraph::new(TLine::from(spans)).scroll((0, u16::try_from(hscroll).unwrap_or(0))),
            area,
        );
        if self.focus == Focus::Input || self.focus == Focus::Search {
            let x = start.saturating_add(cursor).saturating_sub(hscroll);
            f.set_cursor_position(Position::new(
                area.x.saturating_add(u16::try_from(x).unwrap_or(u16::MAX)),
                area.y,
            ));
        }
    }

    fn draw_help(&self, f: &mut Frame, area: Rect) {
        let text = HELP;
        let w = 64u16.min(area.width);
        let h = u16::try_from(text.len())
            .unwrap_or(u16::MAX)
            .saturating_add(2)
            .min(area.height);
        let popup = Rect {
            x: area.x.saturating_add(area.width.saturating_sub(w) / 2),
            y: area.y.saturating_add(area.height.saturating_sub(h) / 2),
            width: w,
            height: h,
        };
        let lines: Vec<TLine<'static>> = text
            .iter()
            .map(|l| TLine::from(TSpan::styled(*l, self.theme.tui_style(Role::Plain))))
            .collect();
        f.render_widget(Clear, popup);
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(
                TSpan::styled(" keys (any key closes) ", self.theme.tui_style(Role::Meta)),
            )),
            popup,
        );
    }
}

/// The keys, as the help shows them.
pub const HELP: &[&str] = &[
    "Enter        send the line (meta-commands too: :help, :send …)",
    "Tab          complete (commands, advertised extensions)",
    "Up/Down      history          Ctrl-D  leave (QUIT/LOGOUT)",
    "Esc          while waiting: interrupt; else select in the transcript",
    "Ctrl-C       interrupt a wait, or drop the line being typed",
    "PgUp/PgDn    scroll           mouse wheel  scroll",
    "Ctrl-F or /  search           n / N  next / previous match",
    "in the transcript: Up/Down select, Enter explain, y copy, i back",
    "F2 capabilities  F3 TLS  F4 explanation  F5 stats",
    "Ctrl-Left/Right  widen / narrow the panel",
    "F9 or :inbox     the inbox (mailtalk demo --tui)",
    "F1           this help",
];

/// The status bar's pieces that fit in `width` columns: while they are wider, the one with
/// the lowest drop rank above 0 goes (the cipher before the byte counts before the clock), so
/// the mode, the inbox and the note stay in sight on a narrow terminal.
fn fit(mut pieces: Vec<(String, Style, u8)>, width: usize) -> Vec<(String, Style)> {
    loop {
        let used: usize = pieces.iter().map(|(t, _, _)| visible_len(t)).sum();
        if used <= width {
            break;
        }
        let next = pieces
            .iter()
            .enumerate()
            .filter(|(_, (_, _, d))| *d > 0)
            .min_by_key(|(_, (_, _, d))| *d)
            .map(|(i, _)| i);
        match next {
            Some(i) => {
                pieces.remove(i);
            }
            None => break,
        }
    }
    pieces.into_iter().map(|(t, s, _)| (t, s)).collect()
}

fn bytes(n: u64) -> String {
    match n {
        0..=9_999 => format!("{n} B"),
        10_000..=9_999_999 => format!("{} kB", n / 1000),
        _ => format!("{} MB", n / 1_000_000),
    }
}

fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut len = first.len();
    for w in words {
        len = len.min(
            first
                .char_indices()
                .zip(w.chars())
                .take_while(|((_, a), b)| a.eq_ignore_ascii_case(b))
                .last()
                .map_or(0, |((i, a), _)| i.saturating_add(a.len_utf8())),
        );
    }
    first.get(..len).unwrap_or("").to_string()
}

/// Case-insensitive (ASCII) substring.
fn contains_ci(hay: &str, needle: &str) -> bool {
    !needle.is_empty()
        && hay
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase())
}

/// The line with every match of `query` in `style` (the spans split where needed).
fn highlight(line: TLine<'static>, query: &str, style: Style) -> TLine<'static> {
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let lower = text.to_ascii_lowercase();
    let q = query.to_ascii_lowercase();
    if q.is_empty() || !lower.contains(&q) {
        return line;
    }
    let mut marks = Vec::new();
    let mut from = 0;
    while let Some(pos) = lower.get(from..).and_then(|t| t.find(&q)) {
        let start = from.saturating_add(pos);
        let end = start.saturating_add(q.len());
        marks.push(start..end);
        from = end.max(start.saturating_add(1));
    }
    let mut out = Vec::new();
    let mut at = 0usize;
    for span in line.spans {
        let content = span.content.to_string();
        let span_end = at.saturating_add(content.len());
        let mut cut = at;
        let mut pieces: Vec<(usize, usize, bool)> = Vec::new();
        for m in &marks {
            let s = m.start.max(at);
            let e = m.end.min(span_end);
            if s < e {
                if cut < s {
                    pieces.push((cut, s, false));
                }
                pieces.push((s, e, true));
                cut = e;
            }
        }
        if cut < span_end {
            pieces.push((cut, span_end, false));
        }
        for (s, e, hit) in pieces {
            let piece = content
                .get(s.saturating_sub(at)..e.saturating_sub(at))
                .unwrap_or("")
                .to_string();
            let st = if hit {
                span.style.patch(style)
            } else {
                span.style
            };
            out.push(TSpan::styled(piece, st));
        }
        at = span_end;
    }
    TLine::from(out)
}

/// A line cut into rows of at most `width` columns.
fn wrap(line: TLine<'static>, width: usize) -> Vec<TLine<'static>> {
    let mut rows = Vec::new();
    let mut row: Vec<TSpan<'static>> = Vec::new();
    let mut used = 0usize;
    for span in line.spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if used.saturating_add(w) > width && used > 0 {
                if !piece.is_empty() {
                    row.push(TSpan::styled(std::mem::take(&mut piece), span.style));
                }
                rows.push(TLine::from(std::mem::take(&mut row)));
                used = 0;
            }
            piece.push(c);
            used = used.saturating_add(w);
        }
        if !piece.is_empty() {
            row.push(TSpan::styled(piece, span.style));
        }
    }
    rows.push(TLine::from(row));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::LineKind;
    use crate::render::Span;
    use crossterm::event::KeyEvent;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::time::Duration;

    fn server(prefix: &str, text: &str) -> Line {
        let mut spans = vec![Span {
            role: Role::PrefixTls,
            text: prefix.to_string(),
        }];
        spans.extend(lexer::server_line(
            Protocol::Smtp,
            LineKind::Status,
            text.as_bytes(),
        ));
        Line::of(spans)
    }

    fn client(prefix: &str, text: &str) -> Line {
        let mut spans = vec![Span {
            role: Role::PrefixTls,
            text: prefix.to_string(),
        }];
        spans.extend(lexer::client_line(Protocol::Smtp, text));
        Line::of(spans)
    }

    fn status(security: Security, last: &str, outcome: Outcome, mode: InputMode) -> Status {
        Status {
            protocol: Protocol::Smtp,
            target: "127.0.0.1:2525".into(),
            open: true,
            security,
            tls_version: (security != Security::Plain).then(|| "TLSv1.3".into()),
            cipher: (security != Security::Plain).then(|| "TLS_AES_256_GCM_SHA384".into()),
            elapsed: Duration::from_secs(75),
            last_reply: Some((last.into(), outcome)),
            bytes_sent: 120,
            bytes_received: 2048,
            mode,
        }
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            app.handle_key(key(KeyCode::Char(c)));
        }
    }

    /// The screen as text, one string per row, right-trimmed.
    fn screen(app: &mut App, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| app.draw(f)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                let row: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
                row.trim_end().to_string()
            })
            .collect()
    }

    /// A session after connecting and EHLO, in plaintext.
    fn connected() -> App {
        let mut app = App::new(Theme::new(false), Protocol::Smtp);
        for l in [
            Line::message(
                Role::Info,
                "** ",
                "connected to 127.0.0.1:2525 (smtp, plaintext)",
            ),
            server("S: ", "220 localhost ESMTP mailtalk"),
            client("C: ", "EHLO me.test"),
            server("S: ", "250-localhost"),
            server("S: ", "250-STARTTLS"),
            server("S: ", "250 HELP"),
        ] {
            app.push(l);
        }
        app.prompt = "smtp 127.0.0.1 plain › ".into();
        app.status = Some(status(
            Security::Plain,
            "250",
            Outcome::Ok,
            InputMode::Command,
        ));
        app
    }

    #[test]
    fn after_connect_the_transcript_sits_above_the_status_bar_and_input() {
        let mut app = connected();
        let s = screen(&mut app, 72, 10);
        assert_eq!(
            s,
            vec![
                "",
                "",
                "** connected to 127.0.0.1:2525 (smtp, plaintext)",
                "S: 220 localhost ESMTP mailtalk",
                "C: EHLO me.test",
                "S: 250-localhost",
                "S: 250-STARTTLS",
                "S: 250 HELP",
                // Too narrow for everything: the byte counts go, the note stays.
                " smtp 127.0.0.1:2525  plaintext  00:01:15  last 250  F1 help",
                "smtp 127.0.0.1 plain ›",
            ]
        );
    }

    #[test]
    fn after_starttls_the_status_bar_names_the_tls_version_and_cipher() {
        let mut app = connected();
        app.push(client("C: ", "STARTTLS"));
        app.push(server("S: ", "220 2.0.0 Ready to start TLS"));
        app.push(Line::message(Role::Info, "** ", "TLS established: TLSv1.3"));
        app.push(server("S# ", "250 HELP"));
        app.status = Some(status(
            Security::TlsVerified,
            "250",
            Outcome::Ok,
            InputMode::Command,
        ));
        app.prompt = "smtp 127.0.0.1 TLS1.3 › ".into();
        let s = screen(&mut app, 130, 6);
        assert_eq!(s[2], "** TLS established: TLSv1.3");
        assert_eq!(s[3], "S# 250 HELP");
        assert_eq!(s[4], " smtp 127.0.0.1:2525  TLSv1.3 verified  TLS_AES_256_GCM_SHA384  00:01:15  last 250  ↑120 B ↓2048 B  F1 help");
        assert_eq!(s[5], "smtp 127.0.0.1 TLS1.3 ›");
        app.status = Some(status(
            Security::TlsUnverified,
            "250",
            Outcome::Ok,
            InputMode::Command,
        ));
        assert!(screen(&mut app, 100, 6)[4].contains("TLSv1.3 NOT verified"));
    }

    #[test]
    fn a_rejected_rcpt_is_explained_in_the_panel() {
        let mut app = connected();
        app.push(client("C: ", "RCPT TO:<nobody@example.test>"));
        app.push(server(
            "S: ",
            "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown",
        ));
        app.status = Some(status(
            Security::Plain,
            "550",
            Outcome::PermFail,
            InputMode::Command,
        ));
        // Esc selects the last reply, Enter explains it.
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::None);
        assert_eq!(app.focus, Focus::Transcript);
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        assert_eq!(app.panel(), Some(Panel::Explain));
        let s = screen(&mut app, 120, 24).join("\n");
        assert!(s.contains("explanation (F4)"), "{s}");
        assert!(s.contains("5.1.1"), "{s}");
        assert!(
            s.to_lowercase().contains("mailbox") || s.to_lowercase().contains("address"),
            "{s}"
        );
        assert!(s.contains("last 550"), "{s}");
        // Moving the selection moves the explanation with it.
        app.handle_key(key(KeyCode::Up));
        let s = screen(&mut app, 120, 24).join("\n");
        assert!(s.contains("│C: RCPT TO:<nobody@example.test>"), "{s}");
        assert!(s.contains("nothing to explain in this line"), "{s}");
    }

    #[test]
    fn the_capabilities_and_tls_panels_show_what_the_session_sent() {
        let mut app = connected();
        assert_eq!(
            app.handle_key(key(KeyCode::F(2))),
            Action::Fill(Panel::Caps)
        );
        app.set_panel(
            Panel::Caps,
            vec![Line::message(
                Role::Info,
                "** ",
                "PIPELINING  several commands at once (RFC 2920)",
            )],
        );
        let s = screen(&mut app, 100, 8);
        assert!(s[0].ends_with("│capabilities (F2)"), "{s:?}");
        // What STARTTLS changed goes on top, once the transcript said it.
        app.push(Line::message(
            Role::Info,
            "** after TLS: ",
            "removed STARTTLS",
        ));
        app.handle_key(key(KeyCode::F(2)));
        app.handle_key(key(KeyCode::F(2)));
        app.set_panel(Panel::Caps, vec![]);
        let after = screen(&mut app, 100, 8);
        assert!(
            after[1].ends_with("│** after TLS: removed STARTTLS"),
            "{after:?}"
        );
        app.set_panel(
            Panel::Caps,
            vec![Line::message(
                Role::Info,
                "** ",
                "PIPELINING  several commands at once (RFC 2920)",
            )],
        );
        assert!(
            s[1].ends_with("│** PIPELINING  several commands at once"),
            "{s:?}"
        );
        assert!(s[2].ends_with("│(RFC 2920)"), "{s:?}");
        // F2 again closes it; F3 asks for the TLS panel.
        app.handle_key(key(KeyCode::F(2)));
        assert_eq!(app.panel(), None);
        assert_eq!(app.handle_key(key(KeyCode::F(3))), Action::Fill(Panel::Tls));
        app.set_panel(
            Panel::Tls,
            vec![Line::message(Role::Info, "** ", "TLSv1.3, verified")],
        );
        let s = screen(&mut app, 100, 8);
        assert!(s[0].ends_with("│TLS (F3)"), "{s:?}");
        // Wider, narrower.
        app.handle_key(KeyEvent::new(KeyCode::Left, KeyModifiers::CONTROL));
        let wider = screen(&mut app, 100, 8);
        assert!(wider[0].find('│') < s[0].find('│'), "{wider:?}");
    }

    #[test]
    fn search_highlights_and_moves_between_matches() {
        let mut app = connected();
        app.handle_key(ctrl('f'));
        assert_eq!(app.focus, Focus::Search);
        typed(&mut app, "250");
        let s = screen(&mut app, 60, 10);
        assert_eq!(s[9], "/250");
        app.handle_key(key(KeyCode::Enter));
        assert_eq!(app.focus, Focus::Transcript);
        let s = screen(&mut app, 120, 10);
        assert!(s[8].contains("\"250\": 3 matches"), "{s:?}");
        // From the newest match backwards, wrapping round.
        let first = app.selected;
        app.handle_key(key(KeyCode::Char('N')));
        assert!(app.selected < first);
        app.handle_key(key(KeyCode::Char('n')));
        assert_eq!(app.selected, first);
        // The matches are drawn in the highlight style.
        let mut t = Terminal::new(TestBackend::new(60, 10)).unwrap();
        let mut colored = connected();
        colored.theme = Theme::new(true);
        colored.handle_key(ctrl('f'));
        typed(&mut colored, "HELP");
        colored.handle_key(key(KeyCode::Enter));
        t.draw(|f| colored.draw(f)).unwrap();
        let buf = t.backend().buffer().clone();
        let hit = colored.theme.tui_style(Role::Escape);
        assert_eq!(buf[(7, 7)].symbol(), "H");
        assert_eq!(buf[(7, 7)].fg, hit.fg.unwrap());
        assert_ne!(buf[(3, 7)].fg, hit.fg.unwrap());
    }

    #[test]
    fn message_mode_literals_and_idle_are_named_in_the_status_bar() {
        let mut app = connected();
        app.status = Some(status(
            Security::Plain,
            "354",
            Outcome::Continue,
            InputMode::Message,
        ));
        app.prompt = "message (a lone . ends it; :: starts a line with :) › ".into();
        app.ctx.mode = InputMode::Message;
        typed(&mut app, "Subject: hi");
        let s = screen(&mut app, 110, 6);
        assert!(s[4].contains("last 354"), "{s:?}");
        assert!(s[4].contains(" message text "), "{s:?}");
        assert_eq!(
            s[5],
            "message (a lone . ends it; :: starts a line with :) › Subject: hi"
        );
        for (mode, says) in [
            (InputMode::Literal { left: 42 }, "literal: 42 bytes left"),
            (InputMode::Chunk { left: 7 }, "BDAT: 7 bytes left"),
            (InputMode::Idle, "IDLE (DONE ends it)"),
        ] {
            app.status = Some(status(Security::Plain, "+", Outcome::Continue, mode));
            assert!(screen(&mut app, 110, 6)[4].contains(says), "{mode:?}");
        }
    }

    #[test]
    fn a_secret_is_starred_while_typed() {
        let mut app = App::new(Theme::new(false), Protocol::Pop3);
        app.prompt = "pop3 › ".into();
        typed(&mut app, "PASS s3cret");
        let s = screen(&mut app, 40, 3);
        assert_eq!(s[2], "pop3 › PASS ******");
    }

    #[test]
    fn keys_send_cancel_quit_and_refuse_while_busy() {
        let mut app = connected();
        typed(&mut app, "NOOP");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Send("NOOP".into())
        );
        app.busy = true;
        typed(&mut app, "RSET");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        assert_eq!(app.input.value(), "RSET", "the line waits for the reply");
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::Cancel);
        assert_eq!(app.handle_key(ctrl('c')), Action::Cancel);
        app.busy = false;
        // Ctrl-C drops the line; Ctrl-D on an empty line leaves.
        app.handle_key(ctrl('c'));
        assert_eq!(app.input.value(), "");
        assert_eq!(app.handle_key(ctrl('d')), Action::Quit);
        // :tui and :inbox are the view's own.
        typed(&mut app, ":tui");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        typed(&mut app, ":inbox");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        assert_eq!(app.focus, Focus::Input, "no inbox without the demo");
    }

    #[test]
    fn history_completion_and_paste() {
        let mut app = connected();
        app.set_history(vec!["EHLO a.test".into(), "NOOP".into()]);
        typed(&mut app, "MA");
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.input.value(), "NOOP");
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.input.value(), "EHLO a.test");
        app.handle_key(key(KeyCode::Down));
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.input.value(), "MA", "the draft comes back");
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.input.value(), "MAIL ");
        // A paste of two lines sends the first and keeps the second being typed.
        app.input.reset();
        let acts = app.paste("NOOP\r\nRSET");
        assert_eq!(acts, vec![Action::Send("NOOP".into())]);
        assert_eq!(app.input.value(), "RSET");
    }

    #[test]
    fn scrolling_and_the_bound_on_lines() {
        let mut app = connected();
        for i in 0..100 {
            app.push(Line::message(Role::Plain, "", &format!("line {i}")));
        }
        let s = screen(&mut app, 40, 6);
        assert_eq!(s[3], "line 99");
        app.handle_key(key(KeyCode::PageUp));
        let s = screen(&mut app, 40, 6);
        assert_eq!(s[3], "line 95");
        // New lines while reading back do not move the view.
        app.push(Line::message(Role::Plain, "", "line 100"));
        assert_eq!(screen(&mut app, 40, 6)[3], "line 95");
        app.handle_key(key(KeyCode::PageDown));
        assert_eq!(screen(&mut app, 40, 6)[3], "line 99", "one page down");
        app.handle_key(key(KeyCode::PageDown));
        assert_eq!(screen(&mut app, 40, 6)[3], "line 100", "and the end");
        // A long line wraps.
        app.push(Line::message(Role::Plain, "", &"x".repeat(50)));
        let s = screen(&mut app, 40, 6);
        assert_eq!(s[2], "x".repeat(40));
        assert_eq!(s[3], "x".repeat(10));
        // At most MAX_LINES are kept.
        let mut big = App::new(Theme::new(false), Protocol::Smtp);
        for i in 0..(MAX_LINES + 10) {
            big.push(Line::message(Role::Plain, "", &i.to_string()));
        }
        assert_eq!(big.len(), MAX_LINES);
        assert_eq!(big.first, 10);
    }

    #[test]
    fn help_opens_and_any_key_closes_it() {
        let mut app = connected();
        app.handle_key(key(KeyCode::F(1)));
        let s = screen(&mut app, 80, 20).join("\n");
        assert!(s.contains("keys (any key closes)"), "{s}");
        assert!(s.contains("F2 capabilities"), "{s}");
        app.handle_key(key(KeyCode::Char('x')));
        assert!(!app.help);
        assert_eq!(app.input.value(), "", "the closing key is not typed");
    }

    #[test]
    fn control_bytes_from_the_server_never_reach_the_screen_raw() {
        let mut app = connected();
        app.push(server("S: ", "250 \x1b[2Jcleared?\x07"));
        // The status bar's reply code and the completion list come from the server too.
        app.status = Some(status(
            Security::Plain,
            "\x1b[2J+OK",
            Outcome::Ok,
            InputMode::Command,
        ));
        app.candidates = vec!["X-\x1b]0;owned\x07".into(), "XB".into()];
        let s = screen(&mut app, 60, 8).join("\n");
        assert!(s.contains("last \\x1b[2J+OK"), "{s}");
        assert!(s.contains("\\x1b[2Jcleared?"), "{s}");
        assert!(!s.contains('\x1b') && !s.contains('\x07'), "{s}");
    }

    #[test]
    fn ctrl_j_sends_the_line_like_enter() {
        let mut app = App::new(Theme::new(false), Protocol::Smtp);
        typed(&mut app, "NOOP");
        let a = app.handle_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL));
        assert_eq!(a, Action::Send("NOOP".into()));
        assert_eq!(app.input.value(), "");
    }

    #[test]
    fn a_narrow_status_bar_sheds_the_cipher_and_counts_before_the_note() {
        let mut app = App::new(Theme::new(false), Protocol::Smtp);
        app.status = Some(tls_status());
        typed(&mut app, ":tui");
        app.handle_key(key(KeyCode::Enter));
        let bar = rows(&mut app, 100, 10).remove(8);
        assert!(bar.contains("TLSv1.3 verified"), "{bar}");
        assert!(bar.contains("last 250"), "{bar}");
        assert!(
            bar.contains("this is the full-screen view already"),
            "{bar}"
        );
        assert!(!bar.contains("TLS_AES_256_GCM_SHA384"), "{bar}");
        // Wide enough, everything is there.
        typed(&mut app, ":tui");
        app.handle_key(key(KeyCode::Enter));
        let bar = rows(&mut app, 160, 10).remove(8);
        for piece in [
            "TLS_AES_256_GCM_SHA384",
            "00:00:09",
            "↑387 B ↓509 B",
            "view already",
        ] {
            assert!(bar.contains(piece), "{piece}: {bar}");
        }
    }

    fn tls_status() -> Status {
        Status {
            protocol: Protocol::Smtp,
            target: "127.0.0.1:41697".into(),
            open: true,
            security: Security::TlsVerified,
            tls_version: Some("TLSv1.3".into()),
            cipher: Some("TLS_AES_256_GCM_SHA384".into()),
            elapsed: Duration::from_secs(9),
            last_reply: Some(("250".into(), Outcome::Ok)),
            bytes_sent: 387,
            bytes_received: 509,
            mode: InputMode::Command,
        }
    }

    fn rows(app: &mut App, width: u16, height: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
        t.draw(|f| app.draw(f)).unwrap();
        let buf = t.backend().buffer();
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn the_wheel_scrolls_y_copies_and_no_colour_means_no_colour() {
        use crossterm::event::{MouseEvent, MouseEventKind};
        let mut app = connected();
        for i in 0..50 {
            app.push(Line::message(Role::Plain, "", &format!("line {i}")));
        }
        let wheel = |kind| MouseEvent {
            kind,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        };
        app.handle_mouse(wheel(MouseEventKind::ScrollUp));
        assert_eq!(screen(&mut app, 40, 6)[3], "line 46");
        app.handle_mouse(wheel(MouseEventKind::ScrollDown));
        assert_eq!(screen(&mut app, 40, 6)[3], "line 49");
        // y copies the selected line's text.
        app.handle_key(key(KeyCode::Esc));
        app.handle_key(key(KeyCode::End));
        assert_eq!(
            app.handle_key(key(KeyCode::Char('y'))),
            Action::Copy("line 49".into())
        );
        // Without colours (NO_COLOR), no role has a colour; with them, codes do.
        let plain = Theme::new(false);
        for role in [Role::Code5xx, Role::Code2xx, Role::PrefixTls, Role::Warning] {
            assert_eq!(plain.tui_style(role).fg, None, "{role:?}");
        }
        assert!(Theme::new(true).tui_style(Role::Code5xx).fg.is_some());
    }
}
