//! Message data for SMTP DATA (and the reverse for POP3 multi-line bodies).
//!
//! [`DotStuffer`] encodes a message as it streams past: bare CR and bare LF become CRLF, a line
//! that starts with `.` gets a second `.`, and [`DotStuffer::finish`] ends the data with the
//! `.` line. The encoded data therefore holds exactly one `\r\n.\r\n`: the terminator
//! (security.md item 13). Nothing is buffered beyond one pending CR, so a file of any size can
//! be pushed through in chunks.

/// A streaming encoder for SMTP message data.
#[derive(Clone, Debug, Default)]
pub struct DotStuffer {
    /// The last byte seen was a CR whose line ending has not been written yet (it may be the
    /// first half of a CRLF split across two calls).
    pending_cr: bool,
    /// Something of the current line has been written (false at the start of a line).
    mid_line: bool,
}

impl DotStuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `input`, appending the result to `out`. State carries across calls: a CR at the
    /// end of one chunk and an LF at the start of the next are one CRLF.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len().saturating_add(2));
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                self.end_line(out);
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => self.end_line(out),
                _ => {
                    if !self.mid_line && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.mid_line = true;
                }
            }
        }
    }

    /// Ends the data: a CRLF if the data did not end with a line ending, then `.` CRLF. The
    /// encoder is ready for a new message afterwards.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || self.mid_line {
            self.end_line(out);
        }
        self.pending_cr = false;
        out.extend_from_slice(b".\r\n");
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.mid_line = false;
    }
}

/// Encodes a whole message at once: the same bytes as one [`DotStuffer::push`] followed by
/// [`DotStuffer::finish`].
pub fn stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut d = DotStuffer::new();
    d.push(data, &mut out);
    d.finish(&mut out);
    out
}

/// Removes the stuffing of one received line: drops one leading `.` when the line starts with
/// `..`; any other line is returned unchanged.
pub fn unstuff(line: &[u8]) -> &[u8] {
    if line.starts_with(b"..") {
        line.get(1..).unwrap_or(line)
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).filter(|w| *w == needle).count()
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
    fn crlf_split_across_pushes_is_one_line_ending() {
        let mut d = DotStuffer::new();
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
        let mut d = DotStuffer::new();
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
        let mut d = DotStuffer::new();
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
        let mut d = DotStuffer::new();
        let mut out = Vec::new();
        d.push(b"a\r", &mut out);
        d.finish(&mut out);
        d.push(b".x", &mut out);
        d.finish(&mut out);
        assert_eq!(out, b"a\r\n.\r\n..x\r\n.\r\n");
    }

    #[test]
    fn any_chunking_gives_the_same_output() {
        let input: &[u8] =
            b".start\r\n\r\n..two\n.\n\rmid\r\r\n.\r\n\r.x\r\nend.\r\n.\r\r\n\n.last";
        let expected = stuff(input);
        assert_eq!(count(&expected, b"\r\n.\r\n"), 1);
        assert!(expected.ends_with(b"\r\n.\r\n"));
        // A small deterministic generator (xorshift) picks the chunk sizes.
        let mut seed: u32 = 0x9e37_79b9;
        for round in 0..500 {
            let mut d = DotStuffer::new();
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
            let mut d = DotStuffer::new();
            let mut out = Vec::new();
            d.push(a, &mut out);
            d.push(b, &mut out);
            d.finish(&mut out);
            assert_eq!(out, expected, "split at {i}");
        }
        let mut d = DotStuffer::new();
        let mut out = Vec::new();
        for byte in input {
            d.push(std::slice::from_ref(byte), &mut out);
        }
        d.finish(&mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn unstuff_drops_one_dot() {
        assert_eq!(unstuff(b"..a"), b".a");
        assert_eq!(unstuff(b".."), b".");
        assert_eq!(unstuff(b"...x"), b"..x");
        assert_eq!(unstuff(b".a"), b".a");
        assert_eq!(unstuff(b"."), b".");
        assert_eq!(unstuff(b""), b"");
        assert_eq!(unstuff(b"a..b"), b"a..b");
    }
}
