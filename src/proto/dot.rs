//! Message data in both directions (RFC 5321 §4.5.2, RFC 1939 §3).
//!
//! Sending: [`Encoder`] turns a message into wire bytes as it streams past: bare CR and bare
//! LF become CRLF, and (for DATA) a line that starts with `.` gets a second `.`;
//! [`Encoder::finish`] ends the data (with the `.` line for DATA). The encoded DATA therefore
//! holds exactly one `\r\n.\r\n`: the terminator (security.md item 13). For BDAT the same
//! encoder only normalises line endings. Nothing is buffered beyond one pending CR, so a file
//! of any size can be pushed through in chunks.
//!
//! Receiving: [`unstuff_line`] undoes the stuffing of one received line (POP3 bodies, and a
//! server reading DATA), and reports a line that starts with a single `.`, which a sender must
//! not produce.

/// How the encoder treats a line that starts with `.`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stuffing {
    /// DATA: the dot is doubled and `finish` adds the `.` line.
    Dots,
    /// BDAT: line endings only.
    None,
}

/// A streaming encoder for message data.
#[derive(Clone, Debug)]
pub struct Encoder {
    stuffing: Stuffing,
    /// The last byte seen was a CR whose line ending has not been written yet (it may be the
    /// first half of a CRLF split across two calls).
    pending_cr: bool,
    /// Something of the current line has been written (false at the start of a line).
    mid_line: bool,
}

impl Encoder {
    pub fn new(stuffing: Stuffing) -> Encoder {
        Encoder {
            stuffing,
            pending_cr: false,
            mid_line: false,
        }
    }

    /// A DATA encoder.
    pub fn data() -> Encoder {
        Encoder::new(Stuffing::Dots)
    }

    /// Encodes `input`, appending the result to `out`. State carries across calls: a CR at the
    /// end of one chunk and an LF at the start of the next are one CRLF.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        out.reserve(
            input
                .len()
                .saturating_add(input.len() / 32)
                .saturating_add(4),
        );
        while !input.is_empty() {
            if self.pending_cr {
                self.pending_cr = false;
                self.end_line(out);
                if input.first() == Some(&b'\n') {
                    input = input.get(1..).unwrap_or(&[]);
                    continue;
                }
            }
            if !self.mid_line && self.stuffing == Stuffing::Dots && input.first() == Some(&b'.') {
                out.push(b'.');
            }
            // Copy up to the next line ending in one go.
            match memchr::memchr2(b'\r', b'\n', input) {
                None => {
                    out.extend_from_slice(input);
                    self.mid_line = true;
                    return;
                }
                Some(pos) => {
                    let (text, rest) = input.split_at(pos);
                    out.extend_from_slice(text);
                    if !text.is_empty() {
                        self.mid_line = true;
                    }
                    match rest.first() {
                        Some(b'\r') => self.pending_cr = true,
                        _ => self.end_line(out),
                    }
                    input = rest.get(1..).unwrap_or(&[]);
                }
            }
        }
    }

    /// Ends the data: a CRLF if the data did not end with a line ending, then (for DATA) `.`
    /// CRLF. The encoder is ready for a new message afterwards.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.end_lines(out);
        if self.stuffing == Stuffing::Dots {
            out.extend_from_slice(b".\r\n");
        }
    }

    /// Ends the last line (a CRLF if the data did not end with a line ending), without the `.`
    /// line: for a session whose protocol machine sends the `.` itself and awaits its reply.
    /// The encoder is ready for a new message afterwards.
    pub fn end_lines(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || self.mid_line {
            self.end_line(out);
        }
        self.pending_cr = false;
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.mid_line = false;
    }
}

/// Encodes a whole message for DATA at once: the same bytes as one [`Encoder::push`] followed
/// by [`Encoder::finish`].
pub fn stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut d = Encoder::data();
    d.push(data, &mut out);
    d.finish(&mut out);
    out
}

/// One typed line of message text as it goes on the wire (without CRLF): dot-stuffed.
pub fn stuff_line(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len().saturating_add(1));
    if line.first() == Some(&b'.') {
        out.push(b'.');
    }
    out.extend_from_slice(line);
    out
}

/// A received line of message data (without its line ending), unstuffed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataLine<'a> {
    /// The lone `.` that ends the data.
    End,
    /// A line of content. `single_dot`: it started with one `.` followed by more, which a
    /// sender must not produce; it is kept as sent.
    Content { bytes: &'a [u8], single_dot: bool },
}

/// Undoes the stuffing of one received line: `..x` is `.x`, a lone `.` ends the data.
pub fn unstuff_line(line: &[u8]) -> DataLine<'_> {
    match line.strip_prefix(b".") {
        None => DataLine::Content {
            bytes: line,
            single_dot: false,
        },
        Some([]) => DataLine::End,
        Some(rest) if rest.first() == Some(&b'.') => DataLine::Content {
            bytes: rest,
            single_dot: false,
        },
        Some(_) => DataLine::Content {
            bytes: line,
            single_dot: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).filter(|w| *w == needle).count()
    }

    fn bdat(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = Encoder::new(Stuffing::None);
        e.push(data, &mut out);
        e.finish(&mut out);
        out
    }

    #[test]
    fn plain_crlf_body_is_unchanged_and_terminated() {
        assert_eq!(
            stuff(b"Subject: x\r\n\r\nhi\r\n"),
            b"Subject: x\r\n\r\nhi\r\n.\r\n"
        );
    }

    #[test]
    fn leading_dots_are_doubled() {
        assert_eq!(stuff(b".a\r\nb.c\r\n"), b"..a\r\nb.c\r\n.\r\n");
        assert_eq!(stuff(b"..\r\n"), b"...\r\n.\r\n");
        assert_eq!(stuff(b"x\r\n..y\r\n"), b"x\r\n...y\r\n.\r\n");
        assert_eq!(stuff_line(b".x"), b"..x");
        assert_eq!(stuff_line(b"x."), b"x.");
    }

    #[test]
    fn bare_lf_and_bare_cr_become_crlf() {
        assert_eq!(stuff(b"a\nb\n"), b"a\r\nb\r\n.\r\n");
        assert_eq!(stuff(b"a\rb\r"), b"a\r\nb\r\n.\r\n");
        assert_eq!(stuff(b"a\r\rb"), b"a\r\n\r\nb\r\n.\r\n");
        assert_eq!(stuff(b"a\n\rb"), b"a\r\n\r\nb\r\n.\r\n");
        assert_eq!(stuff(b"\n.\n"), b"\r\n..\r\n.\r\n");
        assert_eq!(stuff(b"\r.\r"), b"\r\n..\r\n.\r\n");
    }

    #[test]
    fn bdat_normalises_without_stuffing() {
        assert_eq!(bdat(b".a\nb\r.c"), b".a\r\nb\r\n.c\r\n");
        assert_eq!(bdat(b""), b"");
        assert_eq!(bdat(b"x\r\n"), b"x\r\n");
    }

    #[test]
    fn crlf_split_across_pushes_is_one_line_ending() {
        let mut d = Encoder::data();
        let mut out = Vec::new();
        d.push(b"a\r", &mut out);
        assert_eq!(out, b"a");
        d.push(b"\n.b\r", &mut out);
        d.push(b"\n", &mut out);
        d.finish(&mut out);
        assert_eq!(out, b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn cr_then_other_byte_across_pushes() {
        let mut d = Encoder::data();
        let mut out = Vec::new();
        d.push(b"a\r", &mut out);
        d.push(b".b", &mut out);
        d.finish(&mut out);
        assert_eq!(out, b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn no_final_newline_gets_one() {
        assert_eq!(stuff(b"last line"), b"last line\r\n.\r\n");
        assert_eq!(stuff(b"x\r"), b"x\r\n.\r\n");
    }

    #[test]
    fn empty_body_is_only_the_terminator() {
        assert_eq!(stuff(b""), b".\r\n");
        let mut d = Encoder::data();
        let mut out = Vec::new();
        d.push(b"", &mut out);
        d.push(b"", &mut out);
        d.finish(&mut out);
        assert_eq!(out, b".\r\n");
    }

    #[test]
    fn body_that_is_only_a_dot() {
        assert_eq!(stuff(b"."), b"..\r\n.\r\n");
        assert_eq!(stuff(b".\r\n"), b"..\r\n.\r\n");
    }

    #[test]
    fn dot_line_in_the_middle_does_not_end_the_data() {
        let out = stuff(b"a\r\n.\r\nb\r\n");
        assert_eq!(out, b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(count(&out, b"\r\n.\r\n"), 1);
        assert!(out.ends_with(b"\r\n.\r\n"));
        let out = stuff(b"a\n.\nb\r.\r\nc");
        assert_eq!(out, b"a\r\n..\r\nb\r\n..\r\nc\r\n.\r\n");
        assert_eq!(count(&out, b"\r\n.\r\n"), 1);
    }

    #[test]
    fn finish_resets_for_the_next_message() {
        let mut d = Encoder::data();
        let mut out = Vec::new();
        d.push(b"a\r", &mut out);
        d.finish(&mut out);
        d.push(b".x", &mut out);
        d.finish(&mut out);
        assert_eq!(out, b"a\r\n.\r\n..x\r\n.\r\n");
    }

    /// The byte-at-a-time definition of the encoding, to check the fast path against.
    fn reference(input: &[u8], dots: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pending_cr = false;
        let mut mid = false;
        for &b in input {
            if pending_cr {
                pending_cr = false;
                out.extend_from_slice(b"\r\n");
                mid = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => pending_cr = true,
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    mid = false;
                }
                _ => {
                    if !mid && dots && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    mid = true;
                }
            }
        }
        if pending_cr || mid {
            out.extend_from_slice(b"\r\n");
        }
        if dots {
            out.extend_from_slice(b".\r\n");
        }
        out
    }

    #[test]
    fn any_chunking_gives_the_same_output() {
        let input: &[u8] =
            b".start\r\n\r\n..two\n.\n\rmid\r\r\n.\r\n\r.x\r\nend.\r\n.\r\r\n\n.last";
        let expected = stuff(input);
        assert_eq!(expected, reference(input, true));
        assert_eq!(bdat(input), reference(input, false));
        assert_eq!(count(&expected, b"\r\n.\r\n"), 1);
        assert!(expected.ends_with(b"\r\n.\r\n"));
        // A small deterministic generator (xorshift) picks the chunk sizes.
        let mut seed: u32 = 0x9e37_79b9;
        for round in 0..500 {
            let mut d = Encoder::data();
            let mut out = Vec::new();
            let mut rest = input;
            while !rest.is_empty() {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let max = if round % 2 == 0 { 4 } else { 12 };
                let n = (seed as usize % max).min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                d.push(chunk, &mut out);
                rest = tail;
            }
            d.finish(&mut out);
            assert_eq!(out, expected, "round {round}");
        }
        // Every single split point, one byte at a time too.
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            let mut d = Encoder::data();
            let mut out = Vec::new();
            d.push(a, &mut out);
            d.push(b, &mut out);
            d.finish(&mut out);
            assert_eq!(out, expected, "split at {i}");
        }
        let mut d = Encoder::data();
        let mut out = Vec::new();
        for byte in input {
            d.push(std::slice::from_ref(byte), &mut out);
        }
        d.finish(&mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn unstuff_received_lines() {
        assert_eq!(
            unstuff_line(b"..a"),
            DataLine::Content {
                bytes: b".a",
                single_dot: false
            }
        );
        assert_eq!(
            unstuff_line(b".."),
            DataLine::Content {
                bytes: b".",
                single_dot: false
            }
        );
        assert_eq!(unstuff_line(b"."), DataLine::End);
        assert_eq!(
            unstuff_line(b".a"),
            DataLine::Content {
                bytes: b".a",
                single_dot: true
            }
        );
        assert_eq!(
            unstuff_line(b"a..b"),
            DataLine::Content {
                bytes: b"a..b",
                single_dot: false
            }
        );
        assert_eq!(
            unstuff_line(b""),
            DataLine::Content {
                bytes: b"",
                single_dot: false
            }
        );
    }
}
