//! Raw mode's input language: a typed line is sent exactly as typed, with a few escapes
//! interpreted and nothing added (no CRLF). Pure; the session writes the bytes.

/// The escapes, for error messages.
const KNOWN: &str = "known: \\r \\n \\t \\0 \\xHH \\\\";

/// The bytes a raw line stands for: `\r`, `\n`, `\t`, `\0`, `\xHH` (two hex digits, any byte)
/// and `\\` are interpreted; any other backslash is an error (so a typo is not sent).
pub fn decode_escapes(line: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(line.len());
    let mut it = line.iter().copied().enumerate();
    while let Some((at, b)) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next().map(|(_, c)| c) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hi = it.next().and_then(|(_, c)| hex_digit(c));
                let lo = it.next().and_then(|(_, c)| hex_digit(c));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h.wrapping_shl(4) | l),
                    _ => {
                        return Err(format!(
                            "raw line: \\x at byte {at} needs two hex digits (\\x00 … \\xff)"
                        ))
                    }
                }
            }
            Some(c) => {
                let c = char::from(c).escape_default();
                return Err(format!(
                    "raw line: unknown escape \\{c} at byte {at} ({KNOWN})"
                ));
            }
            None => {
                return Err(
                    "raw line: a lone \\ at the end (write \\\\ for a backslash)".to_string(),
                )
            }
        }
    }
    Ok(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_bytes_and_nothing_is_added() {
        assert_eq!(decode_escapes(b"EHLO x").unwrap(), b"EHLO x");
        assert_eq!(
            decode_escapes(br"a\r\n.\n\t\0\x00\xFF\x7f\\").unwrap(),
            b"a\r\n.\n\t\0\0\xff\x7f\\"
        );
        assert_eq!(decode_escapes(b"").unwrap(), b"");
        assert_eq!(decode_escapes("é".as_bytes()).unwrap(), "é".as_bytes());
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert!(decode_escapes(br"\q").is_err());
        assert!(decode_escapes(br"\x4").is_err());
        assert!(decode_escapes(br"\xg0").is_err());
        assert!(decode_escapes(br"abc\").is_err());
    }
}
