//! The inbox view of `mailtalk demo --tui`: the messages the embedded server captured.
//!
//! Two views: the list of every message of every mailbox (newest first), and one message in
//! four tabs (its header fields as sent, its text decoded, its MIME tree, its source).
//!
//! Messages are hostile input: every piece of their text goes through [`Line::push`] (control
//! bytes made visible) before it is drawn, and what is read of them is bounded: the list reads
//! at most [`HEADER_LIMIT`] bytes of each message, an opened message is read and parsed up to
//! [`PARSE_LIMIT`] bytes, and at most [`SHOW_LIMIT`] bytes of its source or text are shown.
//! Only the rows that fit on the screen are turned into widgets.

use std::collections::HashMap;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::proto::server::MessageInfo;
use crate::render::{Line, Role, Theme};
use crate::serve::backend::Shared;
use crate::serve::store::Head;

/// Bytes of a message read to list it (its header fields).
pub const HEADER_LIMIT: usize = 64 * 1024;
/// Bytes of an opened message read and parsed.
pub const PARSE_LIMIT: usize = 1024 * 1024;
/// Bytes of source, header fields or decoded text shown.
pub const SHOW_LIMIT: usize = 64 * 1024;
/// Characters kept of a field in the list.
const FIELD_LIMIT: usize = 200;
/// MIME parts shown in the parts tab, and how deep.
const MAX_PARTS: usize = 1000;
const MAX_DEPTH: usize = 16;
/// Columns one Left/Right moves.
const SIDE_STEP: u16 = 8;
const TAB_STOP: usize = 8;

/// What the empty list says.
const EMPTY_HINT: &str = "no mail yet: send some with :send --to you@demo.test --subject Hello";

/// One message in the list.
#[derive(Clone, Debug)]
struct Entry {
    mailbox: String,
    info: MessageInfo,
    from: String,
    to: String,
    subject: Option<String>,
}

/// The tabs of the message view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Headers,
    Body,
    Parts,
    Raw,
}

impl Tab {
    const ALL: [Tab; 4] = [Tab::Headers, Tab::Body, Tab::Parts, Tab::Raw];

    fn index(self) -> usize {
        match self {
            Tab::Headers => 0,
            Tab::Body => 1,
            Tab::Parts => 2,
            Tab::Raw => 3,
        }
    }

    fn key(self) -> char {
        match self {
            Tab::Headers => 'h',
            Tab::Body => 'b',
            Tab::Parts => 'p',
            Tab::Raw => 'r',
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tab::Headers => "headers",
            Tab::Body => "body",
            Tab::Parts => "parts",
            Tab::Raw => "raw",
        }
    }

    fn next(self) -> Tab {
        match self {
            Tab::Headers => Tab::Body,
            Tab::Body => Tab::Parts,
            Tab::Parts => Tab::Raw,
            Tab::Raw => Tab::Headers,
        }
    }

    fn prev(self) -> Tab {
        match self {
            Tab::Headers => Tab::Raw,
            Tab::Body => Tab::Headers,
            Tab::Parts => Tab::Body,
            Tab::Raw => Tab::Parts,
        }
    }
}

/// An opened message: its tabs, already made into lines.
#[derive(Debug)]
struct Opened {
    mailbox: String,
    uid: u32,
    subject: Option<String>,
    tab: Tab,
    /// Per tab (in [`Tab::ALL`] order): the lines and the first one shown.
    views: [Vec<Line>; 4],
    scroll: [usize; 4],
    side: u16,
}

impl Opened {
    fn lines(&self) -> &[Line] {
        self.views
            .get(self.tab.index())
            .map_or(&[], |v| v.as_slice())
    }

    fn scroll(&self) -> usize {
        self.scroll.get(self.tab.index()).copied().unwrap_or(0)
    }

    fn set_scroll(&mut self, to: usize) {
        let max = self.lines().len().saturating_sub(1);
        if let Some(s) = self.scroll.get_mut(self.tab.index()) {
            *s = to.min(max);
        }
    }
}

/// The inbox view.
pub struct Inbox {
    shared: Arc<Shared>,
    /// The store's generation when it was last read.
    generation: Option<u64>,
    /// Newest first.
    entries: Vec<Entry>,
    selected: usize,
    /// The first entry shown.
    offset: usize,
    /// Rows of the last draw (for PageUp/PageDown).
    page: usize,
    open: Option<Opened>,
}

impl Inbox {
    pub fn new(shared: Arc<Shared>) -> Inbox {
        let mut inbox = Inbox {
            shared,
            generation: None,
            entries: Vec::new(),
            selected: 0,
            offset: 0,
            page: 1,
            open: None,
        };
        inbox.refresh();
        inbox
    }

    /// Re-reads the store when its generation changed (call it before each draw). The
    /// selection stays on the same message; when that message is gone, on the same row.
    pub fn refresh(&mut self) {
        let generation = self.shared.store.generation();
        if self.generation == Some(generation) {
            return;
        }
        self.generation = Some(generation);
        let keep = self
            .entries
            .get(self.selected)
            .map(|e| (e.mailbox.clone(), e.info.uid));
        let mut known: HashMap<(String, u32), Entry> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(|e| ((e.mailbox.clone(), e.info.uid), e))
            .collect();
        let store = &self.shared.store;
        let mut entries: Vec<Entry> = store
            .all()
            .into_iter()
            .rev()
            .map(
                |(mailbox, info)| match known.remove(&(mailbox.clone(), info.uid)) {
                    Some(e) => Entry { info, ..e },
                    None => {
                        let head = store.head(&mailbox, info.uid, HEADER_LIMIT);
                        summarize(mailbox, info, head.as_ref().map(Head::bytes))
                    }
                },
            )
            .collect();
        entries.shrink_to_fit();
        self.entries = entries;
        let found = keep.and_then(|(mailbox, uid)| {
            self.entries
                .iter()
                .position(|e| e.mailbox == mailbox && e.info.uid == uid)
        });
        self.selected = found
            .unwrap_or(self.selected)
            .min(self.entries.len().saturating_sub(1));
    }

    /// How many messages are listed (for the status bar).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a message is open (rather than the list shown).
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// A key; returns false when the key is not the view's (the caller handles it: Esc in the
    /// list means "leave the inbox"). Key releases and keys with Ctrl or Alt are never the
    /// view's.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release
            || key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return false;
        }
        if self.open.is_some() {
            self.message_key(key.code)
        } else {
            self.list_key(key.code)
        }
    }

    fn list_key(&mut self, code: KeyCode) -> bool {
        let last = self.entries.len().saturating_sub(1);
        let page = self.page.max(1);
        self.selected = match code {
            KeyCode::Up | KeyCode::Char('k') => self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected.saturating_add(1),
            KeyCode::PageUp => self.selected.saturating_sub(page),
            KeyCode::PageDown => self.selected.saturating_add(page),
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            KeyCode::Enter => {
                self.open_selected();
                return true;
            }
            _ => return false,
        }
        .min(last);
        true
    }

    fn message_key(&mut self, code: KeyCode) -> bool {
        let page = self.page.max(1);
        let Some(open) = self.open.as_mut() else {
            return false;
        };
        let scroll = open.scroll();
        match code {
            KeyCode::Esc | KeyCode::Char('q') => self.open = None,
            KeyCode::Tab => open.tab = open.tab.next(),
            KeyCode::BackTab => open.tab = open.tab.prev(),
            KeyCode::Char(c) if Tab::ALL.iter().any(|t| t.key() == c) => {
                if let Some(t) = Tab::ALL.iter().find(|t| t.key() == c) {
                    open.tab = *t;
                }
            }
            KeyCode::Up | KeyCode::Char('k') => open.set_scroll(scroll.saturating_sub(1)),
            KeyCode::Down | KeyCode::Char('j') => open.set_scroll(scroll.saturating_add(1)),
            KeyCode::PageUp => open.set_scroll(scroll.saturating_sub(page)),
            KeyCode::PageDown | KeyCode::Char(' ') => open.set_scroll(scroll.saturating_add(page)),
            KeyCode::Home | KeyCode::Char('g') => open.set_scroll(0),
            KeyCode::End | KeyCode::Char('G') => {
                open.set_scroll(open.lines().len().saturating_sub(page))
            }
            KeyCode::Left => open.side = open.side.saturating_sub(SIDE_STEP),
            KeyCode::Right => open.side = open.side.saturating_add(SIDE_STEP),
            _ => return false,
        }
        true
    }

    fn open_selected(&mut self) {
        let Some(e) = self.entries.get(self.selected) else {
            return;
        };
        let head = self.shared.store.head(&e.mailbox, e.info.uid, PARSE_LIMIT);
        let views = match &head {
            Some(head) => views(head),
            None => {
                let gone = vec![Line::message(
                    Role::Warning,
                    "",
                    "this message is no longer in the store",
                )];
                [gone.clone(), gone.clone(), gone.clone(), gone]
            }
        };
        self.open = Some(Opened {
            mailbox: e.mailbox.clone(),
            uid: e.info.uid,
            subject: e.subject.clone(),
            tab: Tab::Body,
            views,
            scroll: [0; 4],
            side: 0,
        });
    }

    pub fn draw(&mut self, frame: &mut Frame, area: Rect, theme: &Theme) {
        if self.open.is_some() {
            self.draw_message(frame, area, theme);
        } else {
            self.draw_list(frame, area, theme);
        }
    }

    fn draw_list(&mut self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let [top, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        let mut title = Line::new();
        title.push(Role::Meta, "inbox");
        match self.entries.len() {
            0 => {
                title.push(Role::Info, ": no messages");
                frame.render_widget(Paragraph::new(theme.tui_line(&title)), top);
                let hint = Line::message(Role::Info, "", EMPTY_HINT);
                frame.render_widget(Paragraph::new(theme.tui_line(&hint)), rest);
                return;
            }
            1 => title.push(Role::Info, ": 1 message, newest first"),
            n => title.push(Role::Info, &format!(": {n} messages, newest first")),
        }
        title.push(
            Role::Dim,
            " · ↑↓ PgUp PgDn Home End · Enter open · Esc leave",
        );
        frame.render_widget(Paragraph::new(theme.tui_line(&title)), top);

        // One row is the table's header.
        let page = usize::from(rest.height.saturating_sub(1)).max(1);
        self.page = page;
        let last = self.entries.len().saturating_sub(1);
        self.selected = self.selected.min(last);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset.saturating_add(page) {
            self.offset = self.selected.saturating_add(1).saturating_sub(page);
        }
        self.offset = self.offset.min(self.entries.len().saturating_sub(page));

        let with_mailbox = !self.shared.store.catch_all();
        let cell =
            |role: Role, text: &str| Cell::from(theme.tui_line(&Line::message(role, "", text)));
        let mut header = Vec::new();
        if with_mailbox {
            header.push(cell(Role::Dim, "mailbox"));
        }
        for name in ["from", "to", "subject"] {
            header.push(cell(Role::Dim, name));
        }
        header.push(Cell::from(
            theme
                .tui_line(&Line::message(Role::Dim, "", "size"))
                .right_aligned(),
        ));
        header.push(cell(Role::Dim, "received (UTC)"));

        let rows = self.entries.iter().skip(self.offset).take(page).map(|e| {
            let mut cells = Vec::new();
            if with_mailbox {
                cells.push(cell(Role::Address, &e.mailbox));
            }
            cells.push(cell(Role::Address, &e.from));
            cells.push(cell(Role::Address, &e.to));
            cells.push(match &e.subject {
                Some(s) => cell(Role::Plain, s),
                None => cell(Role::Dim, "(no subject)"),
            });
            cells.push(Cell::from(
                theme
                    .tui_line(&Line::message(Role::Info, "", &size(e.info.size)))
                    .right_aligned(),
            ));
            cells.push(cell(Role::Info, &time(e.info.received)));
            Row::new(cells)
        });

        let mut widths = Vec::new();
        if with_mailbox {
            widths.push(Constraint::Fill(2));
        }
        widths.extend([
            Constraint::Fill(2),
            Constraint::Fill(2),
            Constraint::Fill(4),
            Constraint::Length(9),
            Constraint::Length(19),
        ]);
        let table = Table::new(rows, widths)
            .header(Row::new(header))
            .row_highlight_style(theme.tui_style(Role::Meta))
            .highlight_symbol("> ")
            .highlight_spacing(HighlightSpacing::Always);
        let mut state =
            TableState::default().with_selected(Some(self.selected.saturating_sub(self.offset)));
        frame.render_stateful_widget(table, rest, &mut state);
    }

    fn draw_message(&mut self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        let page = usize::from(middle.height).max(1);
        self.page = page;
        let Some(open) = self.open.as_mut() else {
            return;
        };

        let mut tabs = Line::new();
        for t in Tab::ALL {
            let label = format!("{} {}", t.key(), t.name());
            if t == open.tab {
                tabs.push(Role::Meta, &format!("[{label}]"));
            } else {
                tabs.push(Role::Dim, &format!(" {label} "));
            }
        }
        tabs.push(Role::Dim, " · Tab ↑↓ PgUp PgDn Home End ←→ · Esc q: list");
        frame.render_widget(Paragraph::new(theme.tui_line(&tabs)), top);

        let total = open.lines().len();
        let scroll = open.scroll().min(total.saturating_sub(1));
        let shown: Vec<_> = open
            .lines()
            .iter()
            .skip(scroll)
            .take(page)
            .map(|l| theme.tui_line(l))
            .collect();
        let count = shown.len();
        frame.render_widget(Paragraph::new(shown).scroll((0, open.side)), middle);

        let mut status = Line::new();
        status.push(Role::Address, &open.mailbox);
        status.push(Role::Info, &format!(" uid {}", open.uid));
        if let Some(subject) = &open.subject {
            status.push(Role::Dim, " · ");
            status.push(Role::Plain, subject);
        }
        let range = if count == 0 {
            format!(" · {} · no lines", open.tab.name())
        } else {
            format!(
                " · {} · lines {}-{} of {total}",
                open.tab.name(),
                scroll.saturating_add(1),
                scroll.saturating_add(count)
            )
        };
        status.push(Role::Dim, &range);
        if open.side > 0 {
            status.push(
                Role::Dim,
                &format!(" · from column {}", open.side.saturating_add(1)),
            );
        }
        frame.render_widget(Paragraph::new(theme.tui_line(&status)), bottom);
    }
}

/// A list entry from the beginning of a message.
fn summarize(mailbox: String, info: MessageInfo, head: Option<&[u8]>) -> Entry {
    let parsed = head.and_then(|h| MessageParser::default().parse_headers(h));
    let addresses = |a: Option<&mail_parser::Address>| -> String {
        let Some(a) = a else {
            return String::new();
        };
        let all: Vec<String> = a
            .iter()
            .map(|addr| {
                addr.address()
                    .or(addr.name())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        match all.split_first() {
            None => String::new(),
            Some((first, [])) => first.clone(),
            Some((first, more)) => format!("{first} +{}", more.len()),
        }
    };
    let (from, to, subject) = match &parsed {
        Some(m) => (
            addresses(m.from()),
            addresses(m.to()),
            m.subject().map(|s| clip(s, FIELD_LIMIT)),
        ),
        None => (String::new(), String::new(), None),
    };
    Entry {
        mailbox,
        info,
        from: clip(&from, FIELD_LIMIT),
        to: clip(&to, FIELD_LIMIT),
        subject,
    }
}

/// At most `max` characters of `s`.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s.get(..i).unwrap_or(s).to_string(),
        None => s.to_string(),
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default()
}

/// `512 B`, `1.5 KiB`, `100.0 MiB`.
fn size(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = "KiB";
    for u in UNITS.iter().skip(1) {
        // What would print as 1024.0 goes up a unit.
        if v < 1023.95 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A time received, in UTC.
fn time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// TABs replaced by spaces up to the next tab stop (the only control character a made-visible
/// text can still hold).
fn detab(line: Line) -> Line {
    if !line.spans.iter().any(|s| s.text.contains('\t')) {
        return line;
    }
    let mut column = 0usize;
    let mut out = Line::new();
    for span in line.spans {
        let mut text = String::with_capacity(span.text.len());
        for c in span.text.chars() {
            if c == '\t' {
                let to = TAB_STOP.saturating_sub(column.checked_rem(TAB_STOP).unwrap_or(0));
                for _ in 0..to {
                    text.push(' ');
                }
                column = column.saturating_add(to);
            } else {
                text.push(c);
                column = column.saturating_add(1);
            }
        }
        out.extend(vec![crate::render::Span {
            role: span.role,
            text,
        }]);
    }
    out
}

/// A line of text from the message, made visible.
fn text_line(role: Role, bytes: &[u8]) -> Line {
    let mut l = Line::new();
    l.push_bytes(role, bytes);
    detab(l)
}

/// Lines of bytes (split after each LF).
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|b| *b == b'\n')
}

/// `bytes` without its line ending.
fn chomp(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// What was left out, as a line.
fn left_out(shown: usize, of: u64, what: &str) -> Line {
    let shown_u = u64::try_from(shown).unwrap_or(u64::MAX);
    Line::message(
        Role::Warning,
        "",
        &format!(
            "[{what}: the first {} of {} shown, {} left out]",
            size(shown_u),
            size(of),
            size(of.saturating_sub(shown_u))
        ),
    )
}

/// The four tabs of a message.
fn views(head: &Head) -> [Vec<Line>; 4] {
    let bytes = head.bytes();
    let parsed = MessageParser::default().parse(bytes);
    [
        header_view(bytes),
        body_view(head, parsed.as_ref()),
        parts_view(head, parsed.as_ref()),
        raw_view(head),
    ]
}

/// Every header field line as it is (names in one role, the rest in another).
fn header_view(bytes: &[u8]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut used = 0usize;
    let mut ended = false;
    for raw in split_lines(bytes) {
        let line = chomp(raw);
        if line.is_empty() {
            ended = true;
            break;
        }
        if used.saturating_add(raw.len()) > SHOW_LIMIT {
            out.push(Line::message(
                Role::Warning,
                "",
                &format!(
                    "[header fields: the first {} shown, the rest left out]",
                    size(u64::try_from(used).unwrap_or(u64::MAX))
                ),
            ));
            return out;
        }
        used = used.saturating_add(raw.len());
        let mut l = Line::new();
        let colon = line.iter().position(|b| *b == b':');
        match (line.first(), colon) {
            (Some(b' ' | b'\t'), _) | (_, None) => l.push_bytes(Role::Plain, line),
            (_, Some(i)) => {
                let (name, value) = line.split_at(i.saturating_add(1).min(line.len()));
                l.push_bytes(Role::Meta, name);
                l.push_bytes(Role::Plain, value);
            }
        }
        out.push(detab(l));
    }
    if !ended {
        out.push(Line::message(
            Role::Warning,
            "",
            "[no end of the header fields in what was read]",
        ));
    }
    out
}

/// The text parts, decoded.
fn body_view(head: &Head, parsed: Option<&Message>) -> Vec<Line> {
    let mut out = Vec::new();
    let Some(m) = parsed else {
        out.push(Line::message(
            Role::Warning,
            "",
            "[not a message: see the raw tab]",
        ));
        return out;
    };
    if head.truncated() {
        out.push(left_out(head.bytes().len(), head.size, "read"));
    }
    let count = m.text_body_count();
    if count == 0 {
        out.push(Line::message(
            Role::Info,
            "",
            "(no text part: see the parts tab)",
        ));
        return out;
    }
    let mut budget = SHOW_LIMIT;
    for i in 0..count {
        let Some(text) = m.body_text(i) else {
            continue;
        };
        if count > 1 {
            let ctype = m
                .text_body
                .get(i)
                .and_then(|id| m.parts.get(usize::try_from(*id).ok()?))
                .map(content_type)
                .unwrap_or_default();
            out.push(Line::message(
                Role::Dim,
                "",
                &format!("--- text {} of {count}: {ctype} ---", i.saturating_add(1)),
            ));
        }
        let shown = clip_bytes(&text, budget);
        for l in split_lines(shown.as_bytes()) {
            out.push(text_line(Role::Plain, chomp(l)));
        }
        budget = budget.saturating_sub(shown.len());
        if shown.len() < text.len() {
            let of = u64::try_from(text.len()).unwrap_or(u64::MAX);
            out.push(left_out(shown.len(), of, "text"));
            break;
        }
    }
    out
}

/// `type/subtype`, or what is assumed without a Content-Type.
fn content_type(part: &mail_parser::MessagePart) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_string(),
        },
        None => "text/plain (default)".to_string(),
    }
    .to_ascii_lowercase()
}

/// The MIME tree.
fn parts_view(head: &Head, parsed: Option<&Message>) -> Vec<Line> {
    let mut out = Vec::new();
    let Some(m) = parsed else {
        out.push(Line::message(
            Role::Warning,
            "",
            "[not a message: see the raw tab]",
        ));
        return out;
    };
    if head.truncated() {
        out.push(left_out(head.bytes().len(), head.size, "read"));
    }
    part_lines(m, 0, 0, "", &mut out);
    out
}

fn part_lines(m: &Message, id: usize, depth: usize, number: &str, out: &mut Vec<Line>) {
    if out.len() >= MAX_PARTS {
        if out.len() == MAX_PARTS {
            out.push(Line::message(Role::Warning, "", "[more parts left out]"));
        }
        return;
    }
    let Some(part) = m.parts.get(id) else {
        return;
    };
    let mut l = Line::new();
    l.push(Role::Plain, &"  ".repeat(depth));
    if depth >= MAX_DEPTH {
        l.push(Role::Warning, "[nested deeper: left out]");
        out.push(l);
        return;
    }
    if !number.is_empty() {
        l.push(Role::Dim, &format!("{number} "));
    }
    l.push(Role::Argument, &content_type(part));
    if let Some(charset) = part.content_type().and_then(|ct| ct.attribute("charset")) {
        l.push(Role::Dim, "; charset=");
        l.push(Role::Argument, charset);
    }
    l.push(
        Role::Info,
        &format!("  {}", size(u64::from(part.raw_len()))),
    );
    if !part.is_multipart() {
        let decoded = u64::try_from(part.len()).unwrap_or(u64::MAX);
        l.push(Role::Info, &format!(", decoded {}", size(decoded)));
    }
    if let Some(cte) = part.content_transfer_encoding() {
        l.push(Role::Dim, "  ");
        l.push(Role::Argument, cte);
    }
    if let Some(cd) = part.content_disposition() {
        l.push(Role::Dim, "  ");
        l.push(Role::Argument, cd.ctype());
    }
    if let Some(name) = part.attachment_name() {
        l.push(Role::Dim, "  name ");
        l.push(Role::Address, name);
    }
    out.push(l);
    let child = |i: usize| {
        if number.is_empty() {
            i.saturating_add(1).to_string()
        } else {
            format!("{number}.{}", i.saturating_add(1))
        }
    };
    match &part.body {
        PartType::Multipart(ids) => {
            for (i, sub) in ids.iter().enumerate() {
                let Ok(sub) = usize::try_from(*sub) else {
                    continue;
                };
                // Sub-parts come after their parent: anything else is not followed.
                if sub > id {
                    part_lines(m, sub, depth.saturating_add(1), &child(i), out);
                }
            }
        }
        PartType::Message(inner) => {
            part_lines(inner, 0, depth.saturating_add(1), &child(0), out);
        }
        _ => {}
    }
}

/// The source as sent, control bytes (line ends too) made visible.
fn raw_view(head: &Head) -> Vec<Line> {
    let bytes = head.bytes();
    let shown = bytes.get(..SHOW_LIMIT).unwrap_or(bytes);
    let mut out: Vec<Line> = split_lines(shown)
        .map(|l| text_line(Role::Plain, l))
        .collect();
    let shown_u = u64::try_from(shown.len()).unwrap_or(u64::MAX);
    if shown_u < head.size {
        out.push(left_out(shown.len(), head.size, "source"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::{backend, log, store};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    const ENCODED: &[u8] = b"From: Alice <alice@example.test>\r\n\
To: bob@example.test\r\n\
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Caf=C3=A9 at\tnoon.\r\n\
See you =\r\n\
there.\r\n";

    const MULTIPART: &[u8] = b"From: carol@example.test\r\n\
To: bob@example.test, dave@example.test\r\n\
Subject: Report\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\
\r\n\
preamble\r\n\
--XX\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
The report is attached.\r\n\
--XX\r\n\
Content-Type: text/plain; name=\"report.txt\"\r\n\
Content-Disposition: attachment; filename=\"report.txt\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
YXR0YWNoZWQgZmlsZQo=\r\n\
--XX--\r\n";

    const HOSTILE: &[u8] = b"From: mallory@example.test\r\n\
To: bob@example.test\r\n\
Subject: clear \x1b[2J screen\r\n\
\r\n\
boom \x1b]0;title\x07 done\r\n";

    fn shared(catch_all: bool) -> Arc<Shared> {
        let store = store::Store::new(catch_all, 100, u64::MAX, None).unwrap();
        let log = log::Log::new(Box::new(std::io::sink()), false, false, false);
        Arc::new(Shared::new(
            store,
            log,
            backend::Users::default(),
            backend::Faults::default(),
        ))
    }

    fn deliver(s: &Shared, to: &str, data: &[u8]) {
        s.store.deliver(&[to.to_string()], data.to_vec()).unwrap();
    }

    fn screen(inbox: &mut Inbox, width: u16, height: u16) -> Vec<String> {
        let theme = Theme::new(false);
        let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
        inbox.refresh();
        term.draw(|f| inbox.draw(f, f.area(), &theme)).unwrap();
        let buf = term.backend().buffer();
        let mut lines = Vec::new();
        for y in 0..buf.area.height {
            let mut l = String::new();
            for x in 0..buf.area.width {
                let sym = buf[(x, y)].symbol();
                assert!(!sym.contains('\x1b'), "raw ESC at {x},{y}");
                assert!(
                    !sym.chars().any(|c| c.is_control()),
                    "control character at {x},{y}: {sym:?}"
                );
                l.push_str(sym);
            }
            lines.push(l.trim_end().to_string());
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines
    }

    fn key(inbox: &mut Inbox, code: KeyCode) -> bool {
        inbox.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// The time column of the message with this uid.
    fn at(s: &Shared, mailbox: &str, uid: u32) -> String {
        let info = s
            .store
            .messages(mailbox)
            .into_iter()
            .find(|m| m.uid == uid)
            .unwrap();
        time(info.received)
    }

    fn three() -> (Arc<Shared>, Inbox) {
        let s = shared(false);
        deliver(&s, "bob@example.test", ENCODED);
        deliver(&s, "bob@example.test", MULTIPART);
        deliver(&s, "Bob@Example.test", HOSTILE);
        let inbox = Inbox::new(Arc::clone(&s));
        (s, inbox)
    }

    /// The list rows of `three()` as they are drawn at 140 columns.
    fn row(sel: bool, from: &str, to: &str, subject: &str, size: &str, time: &str) -> String {
        let mark = if sel { "> " } else { "  " };
        format!(
            "{mark}{:<22}{:<22}{:<22}{subject:<44}{size:>8} {time}",
            "bob@example.test", from, to
        )
    }

    #[test]
    fn the_list_shows_every_message_newest_first() {
        let (s, mut inbox) = three();
        assert_eq!(inbox.len(), 3);
        let t = |uid| at(&s, "bob@example.test", uid);
        assert_eq!(
            screen(&mut inbox, 140, 8),
            vec![
                "inbox: 3 messages, newest first · ↑↓ PgUp PgDn Home End · Enter open · Esc leave"
                    .to_string(),
                format!(
                    "  {:<22}{:<22}{:<22}{:<44}{:>8} received (UTC)",
                    "mailbox", "from", "to", "subject", "size"
                ),
                row(
                    true,
                    "mallory@example.test",
                    "bob@example.test",
                    r"clear \x1b[2J screen",
                    "102 B",
                    &t(3)
                ),
                row(
                    false,
                    "carol@example.test",
                    "bob@example.test +1",
                    "Report",
                    "412 B",
                    &t(2)
                ),
                row(
                    false,
                    "alice@example.test",
                    "bob@example.test",
                    "Grüße aus Köln",
                    "230 B",
                    &t(1)
                ),
            ]
        );
        // The selection moves and stops at the ends.
        assert!(key(&mut inbox, KeyCode::Down));
        assert!(key(&mut inbox, KeyCode::Down));
        assert!(key(&mut inbox, KeyCode::Down));
        let lines = screen(&mut inbox, 140, 8);
        assert!(
            lines[4].starts_with("> bob@example.test      alice"),
            "{lines:?}"
        );
        assert!(key(&mut inbox, KeyCode::Home));
        assert!(screen(&mut inbox, 140, 8)[2].starts_with("> "));
        assert!(key(&mut inbox, KeyCode::End));
        assert!(screen(&mut inbox, 140, 8)[4].starts_with("> "));
        assert!(key(&mut inbox, KeyCode::PageUp));
        assert!(screen(&mut inbox, 140, 8)[2].starts_with("> "));
        // Keys that are not the list's go back to the caller.
        assert!(!key(&mut inbox, KeyCode::Esc));
        assert!(!key(&mut inbox, KeyCode::Char('x')));
        assert!(!inbox.handle_key(KeyEvent::new(KeyCode::Down, KeyModifiers::CONTROL)));
    }

    #[test]
    fn only_the_rows_that_fit_are_drawn_and_the_selection_stays_visible() {
        let (s, mut inbox) = three();
        // Room for the title, the header and one row.
        let lines = screen(&mut inbox, 140, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].contains("clear"), "{lines:?}");
        assert!(key(&mut inbox, KeyCode::PageDown));
        assert!(key(&mut inbox, KeyCode::PageDown));
        let lines = screen(&mut inbox, 140, 3);
        assert_eq!(
            lines[2],
            row(
                true,
                "alice@example.test",
                "bob@example.test",
                "Grüße aus Köln",
                "230 B",
                &at(&s, "bob@example.test", 1)
            )
        );
    }

    #[test]
    fn with_catch_all_there_is_no_mailbox_column() {
        let s = shared(true);
        deliver(&s, "x@y", MULTIPART);
        let mut inbox = Inbox::new(Arc::clone(&s));
        assert_eq!(
            screen(&mut inbox, 100, 5),
            vec![
                "inbox: 1 message, newest first · ↑↓ PgUp PgDn Home End · Enter open · Esc leave"
                    .to_string(),
                "  from              to               subject                                size received (UTC)"
                    .to_string(),
                format!(
                    "> carol@example.tes bob@example.test Report                                412 B {}",
                    at(&s, "*", 1)
                ),
            ]
        );
    }

    #[test]
    fn an_empty_store_shows_a_hint() {
        let s = shared(true);
        let mut inbox = Inbox::new(Arc::clone(&s));
        assert_eq!(inbox.len(), 0);
        assert!(inbox.is_empty());
        assert_eq!(
            screen(&mut inbox, 100, 5),
            vec!["inbox: no messages", EMPTY_HINT]
        );
        // Nothing to open or move.
        assert!(key(&mut inbox, KeyCode::Enter));
        assert!(key(&mut inbox, KeyCode::Down));
        assert!(!inbox.is_open());
    }

    const TABS: &str = " · Tab ↑↓ PgUp PgDn Home End ←→ · Esc q: list";

    #[test]
    fn each_tab_of_a_multipart_message() {
        let (_s, mut inbox) = three();
        key(&mut inbox, KeyCode::Down);
        assert!(key(&mut inbox, KeyCode::Enter));
        assert!(inbox.is_open());
        // It opens on the body.
        assert_eq!(
            screen(&mut inbox, 100, 6),
            vec![
                format!(" h headers [b body] p parts  r raw {TABS}"),
                "The report is attached.".to_string(),
                String::new(),
                String::new(),
                String::new(),
                "bob@example.test uid 2 · Report · body · lines 1-1 of 1".to_string(),
            ]
        );
        assert!(key(&mut inbox, KeyCode::Char('h')));
        assert_eq!(
            screen(&mut inbox, 100, 8),
            vec![
                format!("[h headers] b body  p parts  r raw {TABS}"),
                "From: carol@example.test".to_string(),
                "To: bob@example.test, dave@example.test".to_string(),
                "Subject: Report".to_string(),
                "MIME-Version: 1.0".to_string(),
                "Content-Type: multipart/mixed; boundary=\"XX\"".to_string(),
                String::new(),
                "bob@example.test uid 2 · Report · headers · lines 1-5 of 5".to_string(),
            ]
        );
        assert!(key(&mut inbox, KeyCode::Char('p')));
        assert_eq!(
            screen(&mut inbox, 100, 5),
            vec![
                format!(" h headers  b body [p parts] r raw {TABS}"),
                "multipart/mixed  412 B".to_string(),
                "  1 text/plain; charset=us-ascii  69 B, decoded 23 B".to_string(),
                "  2 text/plain  158 B, decoded 14 B  base64  attachment  name report.txt"
                    .to_string(),
                "bob@example.test uid 2 · Report · parts · lines 1-3 of 3".to_string(),
            ]
        );
        assert!(key(&mut inbox, KeyCode::Char('r')));
        let raw = screen(&mut inbox, 100, 20);
        assert_eq!(raw[0], format!(" h headers  b body  p parts [r raw]{TABS}"));
        assert_eq!(
            raw[1..19],
            [
                r"From: carol@example.test\r\n",
                r"To: bob@example.test, dave@example.test\r\n",
                r"Subject: Report\r\n",
                r"MIME-Version: 1.0\r\n",
                r#"Content-Type: multipart/mixed; boundary="XX"\r\n"#,
                r"\r\n",
                r"preamble\r\n",
                r"--XX\r\n",
                r"Content-Type: text/plain; charset=us-ascii\r\n",
                r"\r\n",
                r"The report is attached.\r\n",
                r"--XX\r\n",
                r#"Content-Type: text/plain; name="report.txt"\r\n"#,
                r#"Content-Disposition: attachment; filename="report.txt"\r\n"#,
                r"Content-Transfer-Encoding: base64\r\n",
                r"\r\n",
                r"YXR0YWNoZWQgZmlsZQo=\r\n",
                r"--XX--\r\n",
            ]
        );
        assert_eq!(
            raw[19],
            "bob@example.test uid 2 · Report · raw · lines 1-18 of 18"
        );
        // Tab and BackTab go round.
        assert!(key(&mut inbox, KeyCode::Tab));
        assert!(screen(&mut inbox, 100, 5)[0].starts_with("[h headers]"));
        assert!(key(&mut inbox, KeyCode::BackTab));
        assert!(screen(&mut inbox, 100, 5)[0].contains("[r raw]"));
        // Esc goes back to the list, with the same message selected; then Esc is the caller's.
        assert!(key(&mut inbox, KeyCode::Esc));
        assert!(!inbox.is_open());
        assert!(screen(&mut inbox, 140, 8)[3].starts_with("> bob@example.test      carol"));
        assert!(!key(&mut inbox, KeyCode::Esc));
        // q too.
        key(&mut inbox, KeyCode::Enter);
        assert!(key(&mut inbox, KeyCode::Char('q')));
        assert!(!inbox.is_open());
    }

    #[test]
    fn an_encoded_message_is_decoded_in_the_body_and_kept_as_sent_elsewhere() {
        let (_s, mut inbox) = three();
        key(&mut inbox, KeyCode::End);
        key(&mut inbox, KeyCode::Enter);
        let status = "bob@example.test uid 1 · Grüße aus Köln";
        assert_eq!(
            screen(&mut inbox, 100, 4),
            vec![
                format!(" h headers [b body] p parts  r raw {TABS}"),
                "Café at noon.".to_string(),
                "See you there.".to_string(),
                format!("{status} · body · lines 1-2 of 2"),
            ]
        );
        key(&mut inbox, KeyCode::Char('h'));
        assert_eq!(
            screen(&mut inbox, 100, 7)[1..],
            [
                "From: Alice <alice@example.test>".to_string(),
                "To: bob@example.test".to_string(),
                "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=".to_string(),
                "Content-Type: text/plain; charset=utf-8".to_string(),
                "Content-Transfer-Encoding: quoted-printable".to_string(),
                format!("{status} · headers · lines 1-5 of 5"),
            ]
        );
        key(&mut inbox, KeyCode::Char('p'));
        assert_eq!(
            screen(&mut inbox, 100, 3)[1],
            "text/plain; charset=utf-8  230 B, decoded 32 B  quoted-printable"
        );
        key(&mut inbox, KeyCode::Char('r'));
        let raw = screen(&mut inbox, 100, 11);
        assert_eq!(
            raw[6..10],
            [
                r"\r\n",
                r"Caf=C3=A9 at    noon.\r\n",
                r"See you =\r\n",
                r"there.\r\n",
            ]
        );
    }

    #[test]
    fn no_escape_sequence_reaches_the_screen() {
        let (_s, mut inbox) = three();
        // `screen` fails on any control character in the buffer.
        assert!(screen(&mut inbox, 140, 8)[2].contains(r"clear \x1b[2J screen"));
        key(&mut inbox, KeyCode::Enter);
        let status = r"bob@example.test uid 3 · clear \x1b[2J screen";
        assert_eq!(
            screen(&mut inbox, 100, 3),
            vec![
                format!(" h headers [b body] p parts  r raw {TABS}"),
                r"boom \x1b]0;title\x07 done".to_string(),
                format!("{status} · body · lines 1-1 of 1"),
            ]
        );
        key(&mut inbox, KeyCode::Char('h'));
        assert_eq!(
            screen(&mut inbox, 100, 5)[3],
            r"Subject: clear \x1b[2J screen"
        );
        key(&mut inbox, KeyCode::Char('r'));
        assert_eq!(
            screen(&mut inbox, 100, 7)[1..6],
            [
                r"From: mallory@example.test\r\n",
                r"To: bob@example.test\r\n",
                r"Subject: clear \x1b[2J screen\r\n",
                r"\r\n",
                r"boom \x1b]0;title\x07 done\r\n",
            ]
        );
        key(&mut inbox, KeyCode::Char('p'));
        screen(&mut inbox, 100, 7);
        // With colours too.
        let theme = Theme::new(true);
        let mut term = Terminal::new(TestBackend::new(100, 7)).unwrap();
        term.draw(|f| inbox.draw(f, f.area(), &theme)).unwrap();
        let buf = term.backend().buffer();
        assert!(buf.content.iter().all(|c| !c.symbol().contains('\x1b')));
    }

    #[test]
    fn new_mail_keeps_the_selection_on_the_same_message() {
        let (s, mut inbox) = three();
        key(&mut inbox, KeyCode::Down);
        assert!(screen(&mut inbox, 140, 8)[3].starts_with("> bob@example.test      carol"));
        deliver(
            &s,
            "bob@example.test",
            b"From: eve@example.test\r\nSubject: new\r\n\r\nx\r\n",
        );
        // Not yet read: drawing without a refresh shows what was there.
        assert_eq!(inbox.len(), 3);
        let lines = screen(&mut inbox, 140, 9);
        assert_eq!(inbox.len(), 4);
        assert!(lines[0].starts_with("inbox: 4 messages, newest first"));
        assert!(
            lines[2].starts_with("  bob@example.test      eve@example.test"),
            "{lines:?}"
        );
        assert!(
            lines[4].starts_with("> bob@example.test      carol"),
            "{lines:?}"
        );
        assert_eq!(lines.len(), 6);
        // A message open stays open as new mail comes in.
        key(&mut inbox, KeyCode::Enter);
        deliver(&s, "bob@example.test", b"Subject: newer\r\n\r\nx\r\n");
        assert!(screen(&mut inbox, 100, 3)[2].starts_with("bob@example.test uid 2 · Report"));
        key(&mut inbox, KeyCode::Esc);
        let lines = screen(&mut inbox, 140, 9);
        assert!(
            lines[5].starts_with("> bob@example.test      carol"),
            "{lines:?}"
        );
        // The selected message gone: the selection stays on its row.
        s.store.expunge("bob@example.test", &[2]);
        let lines = screen(&mut inbox, 140, 9);
        assert_eq!(inbox.len(), 4);
        assert!(
            lines[5].starts_with("> bob@example.test      alice"),
            "{lines:?}"
        );
    }

    #[test]
    fn scrolling_moves_the_window_over_the_lines() {
        let (_s, mut inbox) = three();
        key(&mut inbox, KeyCode::Down);
        key(&mut inbox, KeyCode::Enter);
        key(&mut inbox, KeyCode::Char('r'));
        // Five lines of text.
        let lines = screen(&mut inbox, 100, 7);
        assert_eq!(
            lines[6],
            "bob@example.test uid 2 · Report · raw · lines 1-5 of 18"
        );
        assert!(key(&mut inbox, KeyCode::PageDown));
        let lines = screen(&mut inbox, 100, 7);
        assert_eq!(lines[1], r"\r\n");
        assert_eq!(lines[2], r"preamble\r\n");
        assert_eq!(
            lines[6],
            "bob@example.test uid 2 · Report · raw · lines 6-10 of 18"
        );
        assert!(key(&mut inbox, KeyCode::PageDown));
        assert!(key(&mut inbox, KeyCode::Up));
        let lines = screen(&mut inbox, 100, 7);
        assert_eq!(
            lines[6],
            "bob@example.test uid 2 · Report · raw · lines 10-14 of 18"
        );
        // Not beyond the last line.
        for _ in 0..10 {
            key(&mut inbox, KeyCode::Down);
        }
        let lines = screen(&mut inbox, 100, 7);
        assert_eq!(lines[1], r"--XX--\r\n");
        assert_eq!(
            lines[6],
            "bob@example.test uid 2 · Report · raw · lines 18-18 of 18"
        );
        assert!(key(&mut inbox, KeyCode::End));
        let lines = screen(&mut inbox, 100, 7);
        assert_eq!(lines[5], r"--XX--\r\n");
        assert_eq!(
            lines[6],
            "bob@example.test uid 2 · Report · raw · lines 14-18 of 18"
        );
        assert!(key(&mut inbox, KeyCode::Home));
        assert!(key(&mut inbox, KeyCode::Right));
        let lines = screen(&mut inbox, 100, 7);
        assert_eq!(lines[1], r"rol@example.test\r\n");
        assert_eq!(
            lines[6],
            "bob@example.test uid 2 · Report · raw · lines 1-5 of 18 · from column 9"
        );
        // Each tab keeps its own place.
        key(&mut inbox, KeyCode::Char('h'));
        assert!(screen(&mut inbox, 100, 7)[6].contains("headers · lines 1-5 of 5"));
    }

    #[test]
    fn a_huge_message_is_read_and_shown_only_in_part() {
        let s = shared(true);
        let mut data = b"From: big@example.test\r\nSubject: big\r\n\r\n".to_vec();
        let line = [b'a'; 78];
        while data.len() < 3 * 1024 * 1024 {
            data.extend_from_slice(&line);
            data.extend_from_slice(b"\r\n");
        }
        let total = data.len() as u64;
        s.store.deliver(&["x@y".into()], data).unwrap();
        let mut inbox = Inbox::new(Arc::clone(&s));
        assert!(screen(&mut inbox, 100, 4)[2].contains("3.0 MiB"));
        key(&mut inbox, KeyCode::Enter);
        let open = inbox.open.as_ref().unwrap();
        let [headers, body, parts, raw] = &open.views;
        assert_eq!(headers.len(), 2);
        let read = left_out(PARSE_LIMIT, total, "read").text();
        assert_eq!(
            read,
            "[read: the first 1.0 MiB of 3.0 MiB shown, 2.0 MiB left out]"
        );
        assert_eq!(body[0].text(), read);
        assert_eq!(
            body.last().unwrap().text(),
            "[text: the first 64.0 KiB of 1.0 MiB shown, 960.0 KiB left out]"
        );
        // The note about what was read, 64 KiB of 80-byte lines (the last one cut), the note
        // about the rest.
        assert_eq!(body.len(), 1 + (64 * 1024usize).div_ceil(80) + 1);
        assert_eq!(parts[0].text(), read);
        assert_eq!(
            raw.last().unwrap().text(),
            "[source: the first 64.0 KiB of 3.0 MiB shown, 2.9 MiB left out]"
        );
        // Three lines of header fields (41 bytes), then 80-byte lines, then the note.
        assert_eq!(raw.len(), 3 + (64 * 1024 - 41usize).div_ceil(80) + 1);
        // The last page.
        key(&mut inbox, KeyCode::Char('r'));
        screen(&mut inbox, 100, 5);
        key(&mut inbox, KeyCode::End);
        let lines = screen(&mut inbox, 100, 5);
        assert_eq!(
            lines[3],
            "[source: the first 64.0 KiB of 3.0 MiB shown, 2.9 MiB left out]"
        );
    }

    #[test]
    fn tiny_areas_do_not_break_anything() {
        let (_s, mut inbox) = three();
        for (w, h) in [(1, 1), (5, 2), (30, 3)] {
            screen(&mut inbox, w, h);
            key(&mut inbox, KeyCode::PageDown);
        }
        key(&mut inbox, KeyCode::Enter);
        for (w, h) in [(1, 1), (5, 2), (30, 3)] {
            for t in ['h', 'b', 'p', 'r'] {
                key(&mut inbox, KeyCode::Char(t));
                key(&mut inbox, KeyCode::End);
                screen(&mut inbox, w, h);
            }
        }
    }

    #[test]
    fn an_html_only_message_shows_its_text() {
        let s = shared(true);
        deliver(
            &s,
            "x@y",
            b"Subject: h\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>there</b></p>\r\n",
        );
        let mut inbox = Inbox::new(Arc::clone(&s));
        key(&mut inbox, KeyCode::Enter);
        let lines = screen(&mut inbox, 60, 3);
        assert_eq!(lines[1], "Hello there");
    }

    #[test]
    fn sizes_and_clipping() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(size(100 * 1024 * 1024), "100.0 MiB");
        assert_eq!(size(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(clip("Grüße", 3), "Grü");
        assert_eq!(clip_bytes("Grüße", 3), "Gr");
        assert_eq!(clip_bytes("Grüße", 4), "Grü");
        assert_eq!(time(0), "1970-01-01 00:00:00");
        let tabbed = detab(Line::message(Role::Plain, "a\tb", "\tc"));
        assert_eq!(tabbed.text(), "a       b       c");
    }
}
