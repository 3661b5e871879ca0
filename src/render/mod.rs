//! The only place that makes bytes safe to show and chooses how text looks.
//!
//! - [`escape`]: control bytes, invalid UTF-8 and text-reordering characters made visible.
//! - [`lexer`]: protocol lines split into [`Span`]s with [`Role`]s (with the grammars of
//!   `proto`).
//! - [`terminal`]: cursor control for the line editor (erasing a typed secret).
//! - [`theme`]: roles painted as ANSI colours, or as plain text. It is one backend of the
//!   spans; a full-screen front end maps the same roles to its own styles.
//!
//! Everything that shows text builds [`Line`]s of spans: every span's text is already made
//! visible, so a backend only chooses colours.

pub mod bulk;
pub mod escape;
pub mod hexdump;
pub mod lexer;
pub mod terminal;
pub mod theme;

pub use lexer::{Role, Span};
pub use theme::Theme;

use lexer::Spans;

/// One line of display: spans, each with a role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    pub spans: Vec<Span>,
}

impl Line {
    pub fn new() -> Line {
        Line::default()
    }

    /// A line of already lexed spans.
    pub fn of(spans: Vec<Span>) -> Line {
        Line { spans }
    }

    /// `lead` and `text` in `role` (control characters in `text` become escapes).
    pub fn message(role: Role, lead: &str, text: &str) -> Line {
        let mut spans = Spans::new();
        spans.push(role, lead.as_bytes());
        spans.push(role, text.as_bytes());
        Line {
            spans: spans.finish(),
        }
    }

    /// Appends text in `role`, made visible; neighbours with the same role merge.
    pub fn push(&mut self, role: Role, text: &str) {
        self.push_bytes(role, text.as_bytes());
    }

    /// Appends bytes in `role`, made visible.
    pub fn push_bytes(&mut self, role: Role, bytes: &[u8]) {
        let mut spans = Spans::from(std::mem::take(&mut self.spans));
        spans.push(role, bytes);
        self.spans = spans.finish();
    }

    /// Appends spans (already visible).
    pub fn extend(&mut self, more: Vec<Span>) {
        let mut spans = Spans::from(std::mem::take(&mut self.spans));
        for s in more {
            spans.push_visible(s.role, s.text);
        }
        self.spans = spans.finish();
    }

    /// The text without styles.
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }
}

/// `12.3 ms`.
pub fn millis(d: std::time::Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_merge_roles_and_escape() {
        let mut l = Line::message(Role::Info, "** ", "a\x1bb");
        assert_eq!(
            l.spans,
            vec![
                Span {
                    role: Role::Info,
                    text: "** a".into()
                },
                Span {
                    role: Role::Escape,
                    text: "\\x1b".into()
                },
                Span {
                    role: Role::Info,
                    text: "b".into()
                },
            ]
        );
        l.push(Role::Info, "c");
        assert_eq!(l.text(), "** a\\x1bbc");
        assert_eq!(l.spans.len(), 3);
    }
}
