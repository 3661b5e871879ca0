//! The input language of mailtalk: lines for the server, `:` meta-commands, `#` comments, and
//! the assertions that make a recorded session a replayable script. This module knows the
//! language only; where output goes is `output`.
//!
//! - [`source`]: reading script files, with `:include`.
//! - [`vars`]: `${NAME}` interpolation and `:capture`.
//! - [`expect`]: `:expect SPEC [/REGEX/flags]` against a reply.
//!
//! A line that starts with `:` is a meta-command wherever it stands (inside message text and
//! literals too). A line for the server that starts with `:` is written with the colon doubled:
//! `::text` sends `:text`.

pub mod expect;
pub mod source;
pub mod vars;

/// What a line of the input language is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineOf<'a> {
    /// A meta-command (`:expect 250`): the text without the leading colon is `&line[1..]`.
    Meta(&'a [u8]),
    /// A line for the server: the bytes to send (`::x` is `:x`).
    Server(&'a [u8]),
}

/// Splits a line of the input language into a meta-command or a line for the server.
pub fn line_of(line: &[u8]) -> LineOf<'_> {
    match line.strip_prefix(b":") {
        Some(rest) if rest.starts_with(b":") => LineOf::Server(rest),
        Some(_) => LineOf::Meta(line),
        None => LineOf::Server(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_lines_and_escaped_colons() {
        assert_eq!(line_of(b":expect 354"), LineOf::Meta(b":expect 354"));
        assert_eq!(line_of(b"::expect 354"), LineOf::Server(b":expect 354"));
        assert_eq!(line_of(b":::x"), LineOf::Server(b"::x"));
        assert_eq!(line_of(b"Subject: x"), LineOf::Server(b"Subject: x"));
        assert_eq!(line_of(b""), LineOf::Server(b""));
        assert_eq!(line_of(b":"), LineOf::Meta(b":"));
    }
}
