//! Bytes as a hex dump (`--hex`, `:hex on`) and raw-mode bytes with every line end visible.
//! Only printable ASCII reaches the screen: the ASCII column shows `.` for anything else.

use super::lexer::{Role, Spans};
use super::Line;

/// Bytes a dump line shows.
const WIDTH: usize = 16;

/// A hex dump, 16 bytes a line: `lead`, offset, the bytes in hex, the printable ASCII between
/// bars: `   0000  48 45 4c 4f 0d 0a  |HELO..|`.
pub fn hex_lines(lead: &str, bytes: &[u8]) -> Vec<Line> {
    bytes
        .chunks(WIDTH)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = i.saturating_mul(WIDTH);
            let mut hex = String::with_capacity(WIDTH.saturating_mul(3));
            for (j, b) in chunk.iter().enumerate() {
                if j == WIDTH / 2 {
                    hex.push(' ');
                }
                hex.push_str(&format!("{b:02x} "));
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        char::from(b)
                    } else {
                        '.'
                    }
                })
                .collect();
            let text = format!("{offset:04x}  {hex:<49} |{ascii}|");
            Line::message(Role::Dim, lead, &text)
        })
        .collect()
}

/// Spans for bytes sent in raw mode: CR, LF and every other control byte are shown as
/// escapes (`\r`, `\n`, `\0`), so the line ends the user typed are seen.
pub fn raw_spans(role: Role, bytes: &[u8]) -> Vec<super::Span> {
    let mut spans = Spans::new();
    let mut start = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        let shown = match b {
            b'\r' => Some("\\r"),
            b'\n' => Some("\\n"),
            _ => None,
        };
        if let Some(esc) = shown {
            spans.push(role, bytes.get(start..i).unwrap_or(&[]));
            spans.push_visible(Role::Escape, esc.to_string());
            start = i.saturating_add(1);
        }
    }
    spans.push(role, bytes.get(start..).unwrap_or(&[]));
    spans.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_shows_offset_hex_and_printable_ascii() {
        let lines = hex_lines("", b"EHLO x\r\n\x1b[31mABCDEFGHIJ");
        let text: Vec<String> = lines.iter().map(Line::text).collect();
        assert_eq!(
            text,
            vec![
                "0000  45 48 4c 4f 20 78 0d 0a  1b 5b 33 31 6d 41 42 43  |EHLO x...[31mABC|",
                "0010  44 45 46 47 48 49 4a                              |DEFGHIJ|",
            ]
        );
        // The ASCII columns line up.
        assert_eq!(text[0].find('|'), text[1].find('|'));
        assert!(hex_lines("", b"").is_empty());
    }

    #[test]
    fn raw_spans_show_every_line_end() {
        let l = Line::of(raw_spans(Role::Plain, b"a\r\n.\n\x00b"));
        assert_eq!(l.text(), "a\\r\\n.\\n\\0b");
    }
}
