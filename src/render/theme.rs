//! The only place that chooses colours: as ANSI sequences for the line-oriented front ends, and
//! as ratatui styles for the full-screen one ([`Theme::tui_style`]) — two backends of the same
//! roles.
//!
//! Text is made visible again before it is painted (that changes nothing for lexer output,
//! which is already visible), so the only control bytes a painted string can hold are the SGR
//! sequences added here.

use colored::{Color, ColoredString, Colorize};

use super::escape;
use super::lexer::{Role, Span};
use super::Line;

/// Paints spans for the terminal, with or without colours.
#[derive(Clone, Debug)]
pub struct Theme {
    color: bool,
}

/// How one role looks.
#[derive(Clone, Copy, Default)]
struct Style {
    fg: Option<Color>,
    bold: bool,
    dimmed: bool,
    italic: bool,
    underline: bool,
    reversed: bool,
}

impl Style {
    const PLAIN: Style = Style {
        fg: None,
        bold: false,
        dimmed: false,
        italic: false,
        underline: false,
        reversed: false,
    };

    const fn fg(color: Color) -> Style {
        Style {
            fg: Some(color),
            ..Style::PLAIN
        }
    }

    const fn bold(self) -> Style {
        Style { bold: true, ..self }
    }

    const fn dimmed(self) -> Style {
        Style {
            dimmed: true,
            ..self
        }
    }

    const fn italic(self) -> Style {
        Style {
            italic: true,
            ..self
        }
    }

    const fn underline(self) -> Style {
        Style {
            underline: true,
            ..self
        }
    }

    const fn reversed(self) -> Style {
        Style {
            reversed: true,
            ..self
        }
    }

    fn is_plain(self) -> bool {
        self.fg.is_none()
            && !(self.bold || self.dimmed || self.italic || self.underline || self.reversed)
    }

    fn apply(self, text: &str) -> ColoredString {
        let mut s = ColoredString::from(text);
        if let Some(c) = self.fg {
            s = s.color(c);
        }
        if self.bold {
            s = s.bold();
        }
        if self.dimmed {
            s = s.dimmed();
        }
        if self.italic {
            s = s.italic();
        }
        if self.underline {
            s = s.underline();
        }
        if self.reversed {
            s = s.reversed();
        }
        s
    }
}

fn style(role: Role) -> Style {
    use Color::*;
    match role {
        Role::Plain | Role::Argument | Role::Data => Style::PLAIN,
        Role::Code2xx => Style::fg(Green),
        Role::Code3xx => Style::fg(Cyan),
        Role::Code4xx => Style::fg(Yellow),
        Role::Code5xx => Style::fg(Red).bold(),
        Role::CodeOther => Style::fg(Magenta),
        Role::Enhanced => Style::fg(Blue),
        Role::Tag => Style::fg(Magenta),
        Role::Untagged => Style::PLAIN.dimmed(),
        Role::Continuation => Style::fg(Cyan),
        Role::StatusOk => Style::fg(Green),
        Role::StatusNo => Style::fg(Yellow),
        Role::StatusBad => Style::fg(Red).bold(),
        Role::StatusBye => Style::fg(Red),
        Role::StatusPreauth => Style::PLAIN.bold(),
        Role::RespCode => Style::fg(Blue),
        Role::PopOk => Style::fg(Green),
        Role::PopErr => Style::fg(Red).bold(),
        Role::Verb => Style::PLAIN.bold(),
        Role::UnknownVerb => Style::fg(Red).underline(),
        Role::Address => Style::fg(Cyan),
        Role::Keyword => Style::fg(Blue),
        Role::Literal => Style::fg(Yellow).italic(),
        Role::Secret => Style::PLAIN.dimmed().italic(),
        Role::Escape => Style::fg(Magenta).reversed(),
        Role::Meta => Style::fg(Blue).bold(),
        Role::PrefixPlain => Style::PLAIN.dimmed(),
        Role::PrefixTls => Style::fg(Green),
        Role::PrefixInsecure => Style::fg(Red).bold(),
        Role::Info => Style::PLAIN.dimmed(),
        Role::Warning => Style::fg(Yellow),
        Role::Error => Style::fg(Red).bold(),
        Role::Dim => Style::PLAIN.dimmed(),
    }
}

impl Theme {
    /// A theme that paints with colours (forced, whatever the environment says) or without any
    /// escape codes at all.
    pub fn new(color: bool) -> Theme {
        if color {
            colored::control::set_override(true);
        }
        Theme { color }
    }

    pub fn color(&self) -> bool {
        self.color
    }

    /// How `role` looks in the full-screen view (ratatui). Without colours, only the reversed
    /// video of a role that needs it to be seen stays.
    pub fn tui_style(&self, role: Role) -> ratatui::style::Style {
        use ratatui::style::{Color as C, Modifier, Style as S};
        let st = style(role);
        let mut out = S::default();
        if !self.color {
            if st.reversed {
                out = out.add_modifier(Modifier::REVERSED);
            }
            return out;
        }
        if let Some(c) = st.fg {
            out = out.fg(match c {
                Color::Black => C::Black,
                Color::Red => C::Red,
                Color::Green => C::Green,
                Color::Yellow => C::Yellow,
                Color::Blue => C::Blue,
                Color::Magenta => C::Magenta,
                Color::Cyan => C::Cyan,
                Color::White => C::White,
                Color::BrightBlack => C::DarkGray,
                Color::BrightRed => C::LightRed,
                Color::BrightGreen => C::LightGreen,
                Color::BrightYellow => C::LightYellow,
                Color::BrightBlue => C::LightBlue,
                Color::BrightMagenta => C::LightMagenta,
                Color::BrightCyan => C::LightCyan,
                Color::BrightWhite => C::Gray,
                Color::TrueColor { r, g, b } => C::Rgb(r, g, b),
                _ => C::Reset,
            });
        }
        for (on, m) in [
            (st.bold, Modifier::BOLD),
            (st.dimmed, Modifier::DIM),
            (st.italic, Modifier::ITALIC),
            (st.underline, Modifier::UNDERLINED),
            (st.reversed, Modifier::REVERSED),
        ] {
            if on {
                out = out.add_modifier(m);
            }
        }
        out
    }

    /// A line as ratatui spans, each in its role's style (the text is already visible).
    pub fn tui_line(&self, line: &Line) -> ratatui::text::Line<'static> {
        ratatui::text::Line::from(
            line.spans
                .iter()
                .map(|s| ratatui::text::Span::styled(s.text.clone(), self.tui_style(s.role)))
                .collect::<Vec<_>>(),
        )
    }

    /// A line painted.
    pub fn paint_line(&self, line: &Line) -> String {
        self.paint(&line.spans)
    }

    /// The spans painted and concatenated.
    pub fn paint(&self, spans: &[Span]) -> String {
        let mut out = String::new();
        for span in spans {
            self.paint_into(&mut out, span.role, &span.text);
        }
        out
    }

    /// One piece of text painted in `role` (made visible first).
    pub fn paint_one(&self, role: Role, text: &str) -> String {
        let mut out = String::new();
        self.paint_into(&mut out, role, text);
        out
    }

    fn paint_into(&self, out: &mut String, role: Role, text: &str) {
        let safe;
        let text = if !escape::shown_as_is(text.as_bytes()) {
            safe = escape::visible_string(text.as_bytes());
            safe.as_str()
        } else {
            text
        };
        if !self.color || text.is_empty() {
            out.push_str(text);
            return;
        }
        let style = style(role);
        if style.is_plain() {
            out.push_str(text);
            return;
        }
        out.push_str(&style.apply(text).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(role: Role, text: &str) -> Span {
        Span {
            role,
            text: text.to_string(),
        }
    }

    #[test]
    fn colour_off_emits_text_only() {
        let t = Theme::new(false);
        assert!(!t.color());
        let spans = [
            span(Role::Code5xx, "550"),
            span(Role::Plain, " no"),
            span(Role::Escape, "\\x1b"),
        ];
        assert_eq!(t.paint(&spans), "550 no\\x1b");
        assert_eq!(t.paint_one(Role::Error, "boom"), "boom");
    }

    #[test]
    fn colour_off_stays_off_when_another_theme_forces_colour() {
        let _on = Theme::new(true);
        let off = Theme::new(false);
        assert_eq!(off.paint_one(Role::Code5xx, "550"), "550");
    }

    #[test]
    fn colour_on_uses_sgr() {
        let t = Theme::new(true);
        assert!(t.color());
        assert_eq!(t.paint_one(Role::Code2xx, "250"), "\x1b[32m250\x1b[0m");
        assert_eq!(t.paint_one(Role::Code5xx, "550"), "\x1b[1;31m550\x1b[0m");
        // Plain text and empty text get no codes.
        assert_eq!(t.paint_one(Role::Plain, "x"), "x");
        assert_eq!(t.paint_one(Role::Code5xx, ""), "");
    }

    #[test]
    fn every_role_has_a_distinct_look_where_it_matters() {
        let t = Theme::new(true);
        let look = |r| t.paint_one(r, "x");
        let distinct = [Role::Code2xx, Role::Code3xx, Role::Code4xx, Role::Code5xx];
        for (i, a) in distinct.iter().enumerate() {
            for b in distinct.iter().skip(i + 1) {
                assert_ne!(look(*a), look(*b), "{a:?} {b:?}");
            }
        }
        let distinct = [
            Role::StatusOk,
            Role::StatusNo,
            Role::StatusBad,
            Role::StatusPreauth,
        ];
        for (i, a) in distinct.iter().enumerate() {
            for b in distinct.iter().skip(i + 1) {
                assert_ne!(look(*a), look(*b), "{a:?} {b:?}");
            }
        }
        assert_ne!(look(Role::Escape), look(Role::Plain));
        assert_ne!(look(Role::Escape), look(Role::Data));
        assert_ne!(look(Role::PrefixPlain), look(Role::PrefixTls));
        assert_ne!(look(Role::PrefixTls), look(Role::PrefixInsecure));
        assert_ne!(look(Role::Verb), look(Role::UnknownVerb));
    }

    #[test]
    fn raw_controls_are_made_visible_even_here() {
        for color in [false, true] {
            let t = Theme::new(color);
            let out = t.paint(&[
                span(Role::Plain, "a\x1b[2J\u{9b}b"),
                span(Role::Info, "\r\n"),
            ]);
            assert!(out.contains("a\\x1b[2J\\u{9b}b"), "{out:?}");
            assert!(out.contains("\\r\\n"), "{out:?}");
            assert!(!out.contains('\r') && !out.contains('\n') && !out.contains('\u{9b}'));
        }
    }
}
