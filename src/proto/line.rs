//! A bounded input buffer that splits server bytes into lines (and, for IMAP, raw literal
//! bytes). It never grows past its limit plus what the caller fed in one call: a line that does
//! not end within the limit is an error, not an allocation.

use super::{Ending, ProtoError};

/// The longest line accepted from a server (RFC 5321 allows 512 octets; servers exceed it).
pub const MAX_LINE: usize = 64 * 1024;

#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// How many unconsumed bytes are known to hold no LF (so a line fed one byte at a time is
    /// scanned once, not once per byte).
    scanned: usize,
    max_line: usize,
    /// Bytes looked at while searching for line feeds, in all (the work done, for tests).
    work: u64,
}

/// One line taken from the buffer, without its ending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawLine {
    pub bytes: Vec<u8>,
    pub ending: Ending,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new(MAX_LINE)
    }
}

impl LineBuffer {
    pub fn new(max_line: usize) -> Self {
        LineBuffer {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            max_line,
            work: 0,
        }
    }

    /// How many bytes were looked at so far while searching for line feeds.
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Appends bytes read from the server.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 8192 && self.start.saturating_mul(2) > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes fed but not consumed yet.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// The unconsumed bytes.
    pub fn peek(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    /// Drops everything buffered (after a STARTTLS upgrade nothing from before may survive).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
    }

    /// The next complete line, `Ok(None)` if no line ending has arrived yet, or an error when
    /// more than the limit arrived without a line ending. A line ends at LF; CRLF is the normal
    /// ending, a bare LF is reported as [`Ending::Lf`]. A CR not followed by LF stays in the
    /// line's bytes.
    pub fn next_line(&mut self) -> Result<Option<RawLine>, ProtoError> {
        let pending = self.buf.get(self.start..).unwrap_or(&[]);
        let from = self.scanned.min(pending.len());
        let unscanned = pending.get(from..).unwrap_or(&[]);
        let found = memchr::memchr(b'\n', unscanned);
        let looked = found.map_or(unscanned.len(), |p| p.saturating_add(1));
        let found = found.map(|p| p.saturating_add(from));
        self.work = self
            .work
            .saturating_add(u64::try_from(looked).unwrap_or(u64::MAX));
        match found {
            Some(pos) => {
                if pos > self.max_line {
                    return Err(ProtoError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                let line = pending.get(..pos).unwrap_or(&[]);
                let (bytes, ending) = match line.split_last() {
                    Some((b'\r', rest)) => (rest.to_vec(), Ending::CrLf),
                    _ => (line.to_vec(), Ending::Lf),
                };
                self.start = self.start.saturating_add(pos).saturating_add(1);
                self.scanned = 0;
                Ok(Some(RawLine { bytes, ending }))
            }
            None if pending.len() > self.max_line => Err(ProtoError::LineTooLong {
                limit: self.max_line,
            }),
            None => {
                self.scanned = pending.len();
                Ok(None)
            }
        }
    }

    /// Takes up to `n` raw bytes (for IMAP literals).
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        let pending = self.peek();
        let k = n.min(pending.len());
        let out = pending.get(..k).unwrap_or(&[]).to_vec();
        self.start = self.start.saturating_add(k);
        self.scanned = self.scanned.saturating_sub(k);
        out
    }

    /// Drops the first `n` unconsumed bytes (or all there are) without copying them: message
    /// data a server reads in place through [`LineBuffer::peek`].
    pub fn consume(&mut self, n: usize) {
        let k = n.min(self.buffered());
        self.start = self.start.saturating_add(k);
        self.scanned = self.scanned.saturating_sub(k);
    }

    /// Literal content, many lines at a time: the longest run of whole lines within the first
    /// `left` bytes and at most `cap` bytes (endings included), ending early at a piece of
    /// `piece` bytes cut from a longer run without LF; or the last bytes of `left` once all of
    /// them arrived (without an ending). `None` while more is needed. The search resumes where
    /// the last one stopped, as in [`LineBuffer::next_line`], so a literal fed a byte at a time
    /// is scanned once. `cap` must be more than `piece + 2`.
    pub fn take_block(&mut self, left: u64, piece: usize, cap: usize) -> Option<Vec<u8>> {
        let pending = self.buf.get(self.start..).unwrap_or(&[]);
        if pending.is_empty() {
            return None;
        }
        let window = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(pending.len());
        let whole = u64::try_from(window).ok() == Some(left);
        let region = pending.get(..window.min(cap)).unwrap_or(&[]);
        // `end`: bytes of whole lines (or a cut piece) found so far; `line`: where the line
        // being searched starts; `from`: where its search starts (bytes before are known to
        // hold no LF).
        let mut end = 0usize;
        let mut line = 0usize;
        let mut from = self.scanned.min(region.len());
        let mut looked = 0usize;
        let mut cut = false;
        loop {
            let unscanned = region.get(from..).unwrap_or(&[]);
            let found = memchr::memchr(b'\n', unscanned).map(|p| p.saturating_add(from));
            looked = looked.saturating_add(found.map_or(unscanned.len(), |p| {
                p.saturating_add(1).saturating_sub(from)
            }));
            match found {
                Some(pos) if pos.saturating_sub(line) < piece.saturating_add(2) => {
                    line = pos.saturating_add(1);
                    end = line;
                    from = line;
                }
                _ if region.len().saturating_sub(line) >= piece.saturating_add(2) => {
                    end = line.saturating_add(piece);
                    cut = true;
                    break;
                }
                _ => break,
            }
        }
        self.work = self
            .work
            .saturating_add(u64::try_from(looked).unwrap_or(u64::MAX));
        if whole && region.len() == window {
            // The rest of the literal is here: all of it, a last line without LF included.
            if !cut {
                end = window;
            }
        }
        if end == 0 {
            self.scanned = region.len();
            return None;
        }
        // What follows a run of whole lines was searched to the region's end.
        let tail_scanned = if cut {
            0
        } else {
            region.len().saturating_sub(end)
        };
        let out = region.get(..end).unwrap_or(&[]).to_vec();
        self.start = self.start.saturating_add(end);
        self.scanned = tail_scanned;
        Some(out)
    }

    /// The next complete line in place: its length without the ending, and the ending; the
    /// bytes are at the front of [`LineBuffer::peek`] until [`LineBuffer::consume`]d. Errors and
    /// limits as in [`LineBuffer::next_line`].
    pub fn peek_line(&mut self) -> Result<Option<(usize, Ending)>, ProtoError> {
        let pending = self.buf.get(self.start..).unwrap_or(&[]);
        let from = self.scanned.min(pending.len());
        let unscanned = pending.get(from..).unwrap_or(&[]);
        let found = memchr::memchr(b'\n', unscanned);
        let looked = found.map_or(unscanned.len(), |p| p.saturating_add(1));
        let found = found.map(|p| p.saturating_add(from));
        self.work = self
            .work
            .saturating_add(u64::try_from(looked).unwrap_or(u64::MAX));
        match found {
            Some(pos) if pos > self.max_line => Err(ProtoError::LineTooLong {
                limit: self.max_line,
            }),
            Some(pos) => {
                self.scanned = pos;
                if pos > 0 && pending.get(pos.saturating_sub(1)) == Some(&b'\r') {
                    Ok(Some((pos.saturating_sub(1), Ending::CrLf)))
                } else {
                    Ok(Some((pos, Ending::Lf)))
                }
            }
            None if pending.len() > self.max_line => Err(ProtoError::LineTooLong {
                limit: self.max_line,
            }),
            None => {
                self.scanned = pending.len();
                Ok(None)
            }
        }
    }

    /// What is left when the stream ended: bytes without a line ending.
    pub fn take_rest(&mut self) -> Option<Vec<u8>> {
        if self.buffered() == 0 {
            return None;
        }
        let rest = self.peek().to_vec();
        self.clear();
        Some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_content_comes_in_blocks_of_lines_pieces_and_a_last_part() {
        let mut b = LineBuffer::new(16);
        b.push(b"ab\r\ncd\nefghijklmnop");
        // Whole lines together, then a piece of the run without LF, which ends the block.
        assert_eq!(b.take_block(30, 4, 64).unwrap(), b"ab\r\ncd\nefgh");
        // The rest of a run without LF comes in pieces.
        assert_eq!(b.take_block(19, 4, 64).unwrap(), b"ijkl");
        // The end of the literal within what arrived: the rest, as it is.
        assert_eq!(b.take_block(3, 4, 64).unwrap(), b"mno");
        assert_eq!(b.peek(), b"p");
        // Not enough yet for a piece, a line or the end.
        assert_eq!(b.take_block(100, 8, 64), None);
        // A block holds at most `cap` bytes, cut at a line end.
        let mut b = LineBuffer::new(16);
        b.push(b"a\nb\nc\nd\n");
        assert_eq!(b.take_block(100, 4, 7).unwrap(), b"a\nb\nc\n");
        assert_eq!(b.take_block(100, 4, 7).unwrap(), b"d\n");
        // A line within a block that is longer than a piece ends the block with a piece.
        let mut b = LineBuffer::new(16);
        b.push(b"a\nbcdefgh\n");
        assert_eq!(b.take_block(100, 4, 64).unwrap(), b"a\nbcde");
        assert_eq!(b.take_block(100, 4, 64).unwrap(), b"fgh\n");
        // The literal's end in the middle of a line, after whole lines.
        let mut b = LineBuffer::new(16);
        b.push(b"a\r\nbc) more");
        assert_eq!(b.take_block(4, 4, 64).unwrap(), b"a\r\nb");
        assert_eq!(b.peek(), b"c) more");
    }

    #[test]
    fn a_literal_fed_a_byte_at_a_time_is_scanned_once() {
        let mut b = LineBuffer::new(16);
        let n = 5000u64;
        for _ in 0..n {
            b.push(b"x");
            assert_eq!(b.take_block(n + 2, 64 * 1024, 256 * 1024), None);
        }
        b.push(b"\r\n");
        let l = b.take_block(n + 2, 64 * 1024, 256 * 1024).unwrap();
        assert_eq!(l.len() as u64, n + 2);
        assert!(b.work() <= n + 2, "{}", b.work());
    }

    #[test]
    fn lines_in_place() {
        let mut b = LineBuffer::new(8);
        b.push(b"ab\r\ncd\nef");
        assert_eq!(b.peek_line().unwrap(), Some((2, Ending::CrLf)));
        assert_eq!(b.peek().get(..2).unwrap(), b"ab");
        b.consume(4);
        assert_eq!(b.peek_line().unwrap(), Some((2, Ending::Lf)));
        b.consume(3);
        assert_eq!(b.peek_line().unwrap(), None);
        b.push(b"ghijklm");
        assert!(b.peek_line().is_err());
        let mut b = LineBuffer::new(4);
        b.push(b"abcdef\n");
        assert!(b.peek_line().is_err());
    }

    #[test]
    fn splits_crlf_and_bare_lf() {
        let mut b = LineBuffer::new(100);
        b.push(b"220 hi\r\n250 x\n25");
        assert_eq!(
            b.next_line().unwrap(),
            Some(RawLine {
                bytes: b"220 hi".to_vec(),
                ending: Ending::CrLf
            })
        );
        assert_eq!(
            b.next_line().unwrap(),
            Some(RawLine {
                bytes: b"250 x".to_vec(),
                ending: Ending::Lf
            })
        );
        assert_eq!(b.next_line().unwrap(), None);
        b.push(b"0 ok\r\n");
        assert_eq!(b.next_line().unwrap().unwrap().bytes, b"250 ok".to_vec());
        assert_eq!(b.buffered(), 0);
    }

    #[test]
    fn lone_cr_stays_in_line() {
        let mut b = LineBuffer::new(100);
        b.push(b"a\rb\r\n");
        let l = b.next_line().unwrap().unwrap();
        assert_eq!(l.bytes, b"a\rb".to_vec());
        assert_eq!(l.ending, Ending::CrLf);
    }

    #[test]
    fn too_long_without_newline_is_error() {
        let mut b = LineBuffer::new(8);
        b.push(b"123456789");
        assert_eq!(b.next_line(), Err(ProtoError::LineTooLong { limit: 8 }));
        let mut b = LineBuffer::new(8);
        b.push(b"1234567890\r\n");
        assert!(b.next_line().is_err());
    }

    #[test]
    fn consume_drops_bytes_in_place() {
        let mut b = LineBuffer::new(100);
        b.push(b"abc\r\ndef");
        b.consume(2);
        assert_eq!(b.peek(), b"c\r\ndef");
        assert_eq!(b.next_line().unwrap().unwrap().bytes, b"c".to_vec());
        b.consume(100);
        assert_eq!(b.buffered(), 0);
        b.push(b"x\n");
        assert_eq!(b.next_line().unwrap().unwrap().bytes, b"x".to_vec());
    }

    #[test]
    fn take_and_rest() {
        let mut b = LineBuffer::new(100);
        b.push(b"hello\r\nrest");
        assert_eq!(b.take(3), b"hel".to_vec());
        assert_eq!(b.take(100), b"lo\r\nrest".to_vec());
        assert_eq!(b.take_rest(), None);
        b.push(b"cut");
        assert_eq!(b.take_rest(), Some(b"cut".to_vec()));
    }

    #[test]
    fn a_line_fed_one_byte_at_a_time_is_scanned_once() {
        for n in [1024usize, 8 * 1024, 60 * 1024] {
            let mut b = LineBuffer::default();
            for _ in 0..n {
                b.push(b"a");
                assert_eq!(b.next_line().unwrap(), None);
            }
            b.push(b"\r\n");
            assert_eq!(b.next_line().unwrap().unwrap().bytes.len(), n);
            // Every byte is looked at once, plus the CR and the LF.
            assert_eq!(b.work(), u64::try_from(n).unwrap() + 2);
        }
    }

    #[test]
    fn memory_stays_bounded_when_draining() {
        let mut b = LineBuffer::new(100);
        for _ in 0..10_000 {
            b.push(b"250-aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
            while b.next_line().unwrap().is_some() {}
        }
        assert!(b.buf.capacity() < 64 * 1024);
    }
}
