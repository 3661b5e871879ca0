//! Makes bytes safe to show on a terminal (security.md item 12).
//!
//! Printable UTF-8 text and TAB are kept as they are. Everything a terminal could act on, and
//! every character that can reorder or hide text, is replaced by a visible escape:
//!
//! | input                                          | shown as            |
//! |------------------------------------------------|---------------------|
//! | CR, LF, NUL                                    | `\r`, `\n`, `\0`    |
//! | any other C0 control, DEL                      | `\x1b`, `\x7f`      |
//! | each byte of invalid UTF-8                     | `\xff`              |
//! | C1 controls U+0080..U+009F                     | `\u{85}`            |
//! | bidirectional and invisible format characters  | `\u{202e}`          |
//!
//! A backslash the server sent is kept as it is; front ends tell the two apart by colour (the
//! escapes come out as separate [`Piece`]s marked `escaped`).

use std::fmt::Write as _;

/// A run of text: either bytes that were shown as they are, or escapes that replaced bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    /// The text is made of escapes (`\x1b`, `\u{202e}` …), not of the input's own characters.
    pub escaped: bool,
}

/// Splits `bytes` into runs of kept text and runs of escapes, in order.
///
/// Adjacent escapes are merged into one piece; so is adjacent kept text. Concatenating the
/// pieces gives [`visible_string`].
pub fn visible(bytes: &[u8]) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = Vec::new();
    walk(bytes, |seg| {
        let escaped = !matches!(seg, Segment::Text(_));
        let need_new = match pieces.last() {
            Some(p) => p.escaped != escaped,
            None => true,
        };
        if need_new {
            pieces.push(Piece {
                text: String::new(),
                escaped,
            });
        }
        if let Some(last) = pieces.last_mut() {
            seg.write_to(&mut last.text);
        }
    });
    pieces
}

/// `bytes` made visible, as one string.
pub fn visible_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    walk(bytes, |seg| seg.write_to(&mut out));
    out
}

/// Whether `bytes` are shown as they are (the opposite of [`needs_escape`], the same answer):
/// fast for the common cases, printable ASCII first, then valid UTF-8 without a character to
/// escape, each checked in wide runs.
pub fn shown_as_is(bytes: &[u8]) -> bool {
    as_is(bytes, false)
}

/// Like [`shown_as_is`], but CR and LF are let through: for many lines at once, whose line
/// endings the caller checks itself.
pub fn shown_as_is_but_line_ends(bytes: &[u8]) -> bool {
    as_is(bytes, true)
}

fn as_is(bytes: &[u8], line_ends: bool) -> bool {
    // Bitwise, without branches, so that the folds below run over wide words.
    let let_through = |b: u8| (b == b'\t') | (line_ends & ((b == b'\r') | (b == b'\n')));
    // Folds without early exit, so that they run over wide words.
    let ascii = bytes.iter().fold(true, |ok, &b| {
        ok & ((b' '..=b'~').contains(&b) | let_through(b))
    });
    if ascii {
        return true;
    }
    let controls = bytes.iter().fold(false, |any, &b| {
        any | (((b < b' ') & !let_through(b)) | (b == 0x7f))
    });
    if controls {
        return false;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    // Every character to escape beyond ASCII starts with one of these bytes (U+0080..U+009F:
    // C2; U+061C: D8; U+200B..U+2069: E2; U+FEFF: EF): only those are decoded.
    let starts =
        memchr::memchr3_iter(0xc2, 0xd8, 0xe2, bytes).chain(memchr::memchr_iter(0xef, bytes));
    for i in starts {
        if text
            .get(i..)
            .and_then(|t| t.chars().next())
            .is_some_and(char_needs_escape)
        {
            return false;
        }
    }
    true
}

/// Whether `bytes` would be changed by [`visible_string`].
pub fn needs_escape(bytes: &[u8]) -> bool {
    let mut found = false;
    walk(bytes, |seg| {
        if !matches!(seg, Segment::Text(_)) {
            found = true;
        }
    });
    found
}

/// One step of the walk over the input.
enum Segment<'a> {
    /// Text kept as it is.
    Text(&'a str),
    /// A byte shown as an escape (C0, DEL, or a byte of invalid UTF-8).
    Byte(u8),
    /// A character shown as `\u{…}`.
    Char(char),
}

impl Segment<'_> {
    fn write_to(&self, out: &mut String) {
        match *self {
            Segment::Text(s) => out.push_str(s),
            Segment::Byte(b'\r') => out.push_str("\\r"),
            Segment::Byte(b'\n') => out.push_str("\\n"),
            Segment::Byte(0) => out.push_str("\\0"),
            Segment::Byte(b) => {
                out.push_str("\\x");
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0x0f));
            }
            Segment::Char(c) => {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
}

fn hex_digit(n: u8) -> char {
    match n {
        0..=9 => char::from(b'0'.saturating_add(n)),
        10..=15 => char::from(b'a'.saturating_add(n.saturating_sub(10))),
        _ => '?',
    }
}

/// Characters that are valid UTF-8 but must not reach a terminal (or a log viewer) as they
/// are: C1 controls and the characters that can hide or reorder text. (C0 controls and DEL are
/// escaped too, by their byte.)
pub fn char_needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0080}'..='\u{009f}'
            | '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// One pass over `bytes`, reporting kept runs and escapes in order.
fn walk<'a>(bytes: &'a [u8], mut emit: impl FnMut(Segment<'a>)) {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        let mut run_start = 0usize;
        for (i, c) in valid.char_indices() {
            let escape = if c.is_ascii() {
                (c.is_ascii_control() && c != '\t').then_some(Segment::Byte(c as u8))
            } else if char_needs_escape(c) {
                Some(Segment::Char(c))
            } else {
                None
            };
            if let Some(seg) = escape {
                if let Some(text) = valid.get(run_start..i) {
                    if !text.is_empty() {
                        emit(Segment::Text(text));
                    }
                }
                emit(seg);
                run_start = i.saturating_add(c.len_utf8());
            }
        }
        if let Some(text) = valid.get(run_start..) {
            if !text.is_empty() {
                emit(Segment::Text(text));
            }
        }
        for &b in chunk.invalid() {
            emit(Segment::Byte(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn shown_as_is_is_the_opposite_of_needs_escape(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            text in "\\PC{0,24}",
        ) {
            proptest::prop_assert_eq!(shown_as_is(&bytes), !needs_escape(&bytes));
            proptest::prop_assert_eq!(shown_as_is(text.as_bytes()), !needs_escape(text.as_bytes()));
        }
    }

    #[test]
    fn shown_as_is_in_examples() {
        for t in ["", "plain", "tab\there", "caf\u{e9}", "\u{4e2d}\u{6587}"] {
            assert!(shown_as_is(t.as_bytes()), "{t:?}");
        }
        for t in ["\x1b[2J", "a\rb", "\u{202e}x", "\u{85}", "\x7f"] {
            assert!(!shown_as_is(t.as_bytes()), "{t:?}");
        }
        assert!(!shown_as_is(b"bad \xff"));
    }

    fn p(text: &str, escaped: bool) -> Piece {
        Piece {
            text: text.to_string(),
            escaped,
        }
    }

    #[test]
    fn printable_text_and_tab_are_kept() {
        let input = "250 Ok\tgrüße, 日本語 ✓ \\x1b";
        assert_eq!(visible_string(input.as_bytes()), input);
        assert_eq!(visible(input.as_bytes()), vec![p(input, false)]);
        assert!(!needs_escape(input.as_bytes()));
        assert!(visible(b"").is_empty());
        assert_eq!(visible_string(b""), "");
    }

    #[test]
    fn cr_lf_nul() {
        assert_eq!(visible_string(b"\r"), "\\r");
        assert_eq!(visible_string(b"\n"), "\\n");
        assert_eq!(visible_string(b"\0"), "\\0");
        assert_eq!(visible_string(b"a\r\nb"), "a\\r\\nb");
    }

    #[test]
    fn other_c0_and_del() {
        assert_eq!(visible_string(b"\x1b"), "\\x1b");
        assert_eq!(visible_string(b"\x07"), "\\x07");
        assert_eq!(
            visible_string(b"\x01\x08\x0b\x0c\x1f"),
            "\\x01\\x08\\x0b\\x0c\\x1f"
        );
        assert_eq!(visible_string(b"\x7f"), "\\x7f");
        // Every C0 byte but TAB changes; TAB and space do not.
        for b in 0u8..0x20 {
            assert_eq!(needs_escape(&[b]), b != b'\t', "byte {b:#x}");
        }
        assert!(!needs_escape(b" ~"));
    }

    #[test]
    fn c1_controls_as_utf8() {
        assert_eq!(visible_string(b"\xc2\x80"), "\\u{80}");
        assert_eq!(visible_string(b"\xc2\x85"), "\\u{85}");
        assert_eq!(visible_string(b"\xc2\x9b"), "\\u{9b}");
        assert_eq!(visible_string(b"\xc2\x9f"), "\\u{9f}");
        // U+00A0 and U+00E9 are printable.
        assert_eq!(visible_string("\u{a0}é".as_bytes()), "\u{a0}é");
    }

    #[test]
    fn reordering_and_invisible_characters() {
        let cases: &[(char, &str)] = &[
            ('\u{061c}', "\\u{61c}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{2064}', "\\u{2064}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{feff}', "\\u{feff}"),
        ];
        for (c, want) in cases {
            let mut buf = [0u8; 4];
            assert_eq!(visible_string(c.encode_utf8(&mut buf).as_bytes()), *want);
        }
        // Neighbours of the ranges are kept.
        for c in ['\u{200a}', '\u{2027}', '\u{202f}', '\u{2065}', '\u{206a}'] {
            let mut buf = [0u8; 4];
            let s = c.encode_utf8(&mut buf);
            assert_eq!(visible_string(s.as_bytes()), *s);
        }
    }

    #[test]
    fn mixed_runs_are_split_and_merged() {
        let input = "ok \u{202e}\x1b[31mevil\r\n end".as_bytes();
        assert_eq!(
            visible(input),
            vec![
                p("ok ", false),
                p("\\u{202e}\\x1b", true),
                p("[31mevil", false),
                p("\\r\\n", true),
                p(" end", false),
            ]
        );
        assert_eq!(visible_string(input), "ok \\u{202e}\\x1b[31mevil\\r\\n end");
    }

    #[test]
    fn osc_title_sequence() {
        let input = b"220 \x1b]0;title\x07 hi";
        assert_eq!(
            visible(input),
            vec![
                p("220 ", false),
                p("\\x1b", true),
                p("]0;title", false),
                p("\\x07", true),
                p(" hi", false),
            ]
        );
    }

    #[test]
    fn lone_cr_in_the_middle() {
        assert_eq!(
            visible(b"250 ok\rFAKE"),
            vec![p("250 ok", false), p("\\r", true), p("FAKE", false)]
        );
    }

    #[test]
    fn invalid_utf8_start_middle_end() {
        assert_eq!(visible(b"\xffabc"), vec![p("\\xff", true), p("abc", false)]);
        assert_eq!(
            visible(b"ab\xfe\xc0cd"),
            vec![p("ab", false), p("\\xfe\\xc0", true), p("cd", false)]
        );
        assert_eq!(visible(b"abc\x80"), vec![p("abc", false), p("\\x80", true)]);
        // An invalid byte next to a C0 escape merges into one escaped piece.
        assert_eq!(visible(b"\xff\x1b"), vec![p("\\xff\\x1b", true)]);
    }

    #[test]
    fn truncated_multibyte_at_end() {
        // "é" is C3 A9, "€" is E2 82 AC.
        assert_eq!(visible_string(b"caf\xc3"), "caf\\xc3");
        assert_eq!(visible_string(b"x\xe2\x82"), "x\\xe2\\x82");
        // A C1 control cut in half is one invalid byte, not a control.
        assert_eq!(visible_string(b"x\xc2"), "x\\xc2");
        // A lead byte followed by ASCII: the lead byte alone is invalid.
        assert_eq!(visible_string(b"\xe2a"), "\\xe2a");
    }

    #[test]
    fn one_mib_input() {
        let mut input = Vec::with_capacity(1 << 20);
        while input.len() < (1 << 20) {
            input.extend_from_slice(b"lorem ipsum \x1b[0m dolor \xff sit ");
        }
        input.truncate(1 << 20);
        let start = std::time::Instant::now();
        let out = visible_string(&input);
        let pieces = visible(&input);
        let elapsed = start.elapsed();
        assert!(!out.bytes().any(|b| b < 0x20 || b == 0x7f));
        let joined: String = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, out);
        // Kept text and escapes alternate.
        assert!(pieces.windows(2).all(|w| w[0].escaped != w[1].escaped));
        assert!(elapsed.as_secs() < 5, "took {elapsed:?}");

        let plain = vec![b'a'; 1 << 20];
        let out = visible(&plain);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text.len(), 1 << 20);
    }
}
