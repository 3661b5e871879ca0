//! Content lines in bulk (an IMAP literal, a POP3 body): a block of lines painted straight into
//! bytes. The result is byte for byte what painting each line's spans gives (the output tests
//! check it), but a line of printable ASCII, the common case, costs a copy and no spans.

use super::lexer::Spans;
use super::{Role, Theme};
use crate::proto::{data_lines, Ending};

/// Whether a line needs nothing made visible: printable ASCII only.
fn plain(line: &[u8]) -> bool {
    // A fold without early exit, so that it runs over wide words.
    line.iter()
        .fold(true, |ok, &b| ok & (b' '..=b'~').contains(&b))
}

/// Appends the lines of `content`, each after `lead` (already painted) and with a `\n`: the
/// text made visible in [`Role::Data`], a bare LF marked as on every other line.
pub fn paint_data(theme: &Theme, lead: &str, content: &[u8], out: &mut Vec<u8>) {
    out.reserve(content.len().saturating_add(content.len() / 8));
    for (line, ending) in data_lines(content) {
        paint_data_line(theme, lead, line, ending, out);
    }
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
        assert!(
            plain(b"") && plain(b" ~") && !plain(b"\t") && !plain(b"\x7f") && !plain(b"\xc3\xa9")
        );
    }
}
