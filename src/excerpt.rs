//! Text of the peer's quoted in a message: lossy UTF-8, cut at a number of characters.
//!
//! Nothing is escaped here: whatever shows the message makes control bytes visible (the
//! renderer for the screen, the JSON writer for `--json`), so the same message reads the same
//! everywhere and is escaped once.

/// At most `max` characters of `bytes` (invalid UTF-8 as U+FFFD), with `…` when cut.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    // A character is at most 4 bytes (an invalid byte becomes one U+FFFD): more than
    // `max * 4 + 1` bytes are never looked at, however long the peer's line.
    let head = bytes
        .get(..max.saturating_mul(4).saturating_add(1))
        .unwrap_or(bytes);
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_by_characters_and_keeps_bytes_for_the_renderer() {
        assert_eq!(excerpt(b"abc", 3), "abc");
        assert_eq!(excerpt(b"abcd", 3), "abc…");
        assert_eq!(excerpt("é✓x".as_bytes(), 2), "é✓…");
        assert_eq!(excerpt(b"a\x1b[2Jb\xff", 10), "a\x1b[2Jb\u{fffd}");
        assert_eq!(excerpt(b"", 5), "");
        assert_eq!(excerpt(&[b'a'; 1 << 20], 3), "aaa…");
        assert_eq!(excerpt("éééé".as_bytes(), 4), "éééé");
    }
}
