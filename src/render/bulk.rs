//! Content lines in bulk (an IMAP literal, a POP3 body): a block of lines painted straight into
//! bytes. The result is byte for byte what painting each line's spans gives (the output tests
//! check it), but a line of printable ASCII, the common case, costs a copy and no spans.

use super::lexer::Spans;
use super::{Role, Theme};
use crate::proto::{data_lines, Ending};

/// Whether a line needs nothing made visible.
fn plain(line: &[u8]) -> bool {
    super::escape::shown_as_is(line)
}

/// Appends the lines of `content`, each after `lead` (already painted) and with a `\n`: the
/// text made visible in [`Role::Data`], a bare LF marked as on every other line.
pub fn paint_data(theme: &Theme, lead: &str, content: &[u8], out: &mut Vec<u8>) {
    out.reserve(content.len().saturating_add(content.len() / 8));
    if clean(content) {
        // Every line is shown as it is and ends with CRLF (the last maybe with nothing).
        for (line, _) in data_lines(content) {
            out.extend_from_slice(lead.as_bytes());
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        return;
    }
    for (line, ending) in data_lines(content) {
        paint_data_line(theme, lead, line, ending, out);
    }
}

/// Whether every line of `content` is shown as it is and ends with CRLF (or, the last one,
/// with nothing): checked over the whole block at once, in wide runs.
fn clean(content: &[u8]) -> bool {
    if !super::escape::shown_as_is_but_line_ends(content) {
        return false;
    }
    // Each LF after a CR, and no other CR: every CR is the first half of a CRLF.
    let lf = memchr::memchr_iter(b'\n', content).count();
    let cr = memchr::memchr_iter(b'\r', content).count();
    lf == cr && !crate::proto::has_bare_lf(content)
}

/// One content line, as in [`paint_data`].
pub fn paint_data_line(theme: &Theme, lead: &str, line: &[u8], ending: Ending, out: &mut Vec<u8>) {
    out.extend_from_slice(lead.as_bytes());
    if ending != Ending::Lf && plain(line) {
        out.extend_from_slice(line);
    } else {
        // As the spans of the line would be: an escape at its end and the bare-LF mark merge.
        let mut spans = Spans::new();
        spans.push(Role::Data, line);
        if ending == Ending::Lf {
            spans.push_visible(Role::Escape, "\\n".to_string());
        }
        out.extend_from_slice(theme.paint(&spans.finish()).as_bytes());
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_copied_and_others_made_visible() {
        let t = Theme::new(false);
        let mut out = Vec::new();
        paint_data(&t, "S: ", b"ab\r\n\r\nc\x1bd\nlast", &mut out);
        assert_eq!(out, b"S: ab\nS: \nS: c\\x1bd\\n\nS: last\n");
        assert!(plain(b"") && plain(b" ~") && plain(b"\t") && plain(b"\xc3\xa9"));
        assert!(!plain(b"\x7f") && !plain(b"\xc3") && !plain(b"\x1b"));
    }
}
