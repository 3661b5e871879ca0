//! Time to draw one frame of the full-screen view with 100,000 lines in the transcript: at the
//! end, scrolled back to the middle, and with a search highlighting matches. Run with
//! `cargo bench --bench tui_frame`; it prints the median time per frame of each case.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mailtalk::proto::{LineKind, Protocol};
use mailtalk::render::{lexer, Line, Role, Span, Theme};
use mailtalk::tui::app::App;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const LINES: usize = 100_000;
const FRAMES: usize = 300;

fn line(i: usize) -> Line {
    let mut spans = vec![Span {
        role: Role::PrefixTls,
        text: "S# ".into(),
    }];
    let text = format!("250-line {i} of a long session, with some text to wrap and colour");
    spans.extend(lexer::server_line(
        Protocol::Smtp,
        LineKind::Status,
        text.as_bytes(),
    ));
    Line::of(spans)
}

fn median_frame(app: &mut App, term: &mut Terminal<TestBackend>) -> f64 {
    let mut times = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        let t = Instant::now();
        term.draw(|f| app.draw(f)).expect("draw");
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    times[FRAMES / 2]
}

fn main() {
    let mut app = App::new(Theme::new(true), Protocol::Smtp);
    for i in 0..LINES {
        app.push(line(i));
    }
    app.prompt = "smtp 127.0.0.1 TLS1.3 › ".into();
    let mut term = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let at_end = median_frame(&mut app, &mut term);
    for _ in 0..(LINES / 2 / 58) {
        app.handle_key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE));
    }
    let middle = median_frame(&mut app, &mut term);
    app.handle_key(KeyEvent::new(KeyCode::Char('f'), KeyModifiers::CONTROL));
    for c in "line 4".chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let searched = median_frame(&mut app, &mut term);
    println!("tui frame, {LINES} lines in the transcript, 200x60, median of {FRAMES} frames:");
    println!("  at the end:                 {at_end:8.1} µs");
    println!("  scrolled to the middle:     {middle:8.1} µs");
    println!("  with a search highlighting: {searched:8.1} µs");
}
