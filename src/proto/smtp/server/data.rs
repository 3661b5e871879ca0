//! Message data as the server receives it: DATA (lines to `CRLF . CRLF`, unstuffed) and BDAT
//! chunks (counted bytes). Both keep every byte as sent (after unstuffing), flag what mail
//! software treats differently ([`DataFlag`]), hold at most the size limit (or only the
//! beginning of the message, see [`Receiver::keeping`]), and log the first lines of each
//! message.
//!
//! Lines end at CRLF only: a bare LF or a bare CR is content (flagged), and only `CRLF . CRLF`
//! ends DATA. Line numbers in flags count those CRLF lines from 1.

use memchr::memmem;

use crate::proto::dot::{unstuff_line, DataLine};
use crate::proto::line::{LineBuffer, MAX_LINE};
use crate::proto::server::{DataFlag, Dir, ServerEvent};
use crate::proto::Ending;

/// Data lines logged one by one at the start of each message; the rest are counted.
pub const LOGGED_DATA_LINES: u64 = 20;

/// A data line longer than this (up to its CRLF) is taken in pieces of this size.
pub const DATA_PIECE: usize = MAX_LINE;

const FLAGS: [DataFlag; 5] = [
    DataFlag::BareLf,
    DataFlag::BareCr,
    DataFlag::Nul,
    DataFlag::Unstuffed,
    DataFlag::EightBit,
];

fn slot(flag: DataFlag) -> usize {
    match flag {
        DataFlag::BareLf => 0,
        DataFlag::BareCr => 1,
        DataFlag::Nul => 2,
        DataFlag::Unstuffed => 3,
        DataFlag::EightBit => 4,
    }
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The flags of one message: where each was first seen and how often.
#[derive(Clone, Debug, Default)]
struct Tally {
    first: [u64; 5],
    count: [u64; 5],
}

impl Tally {
    fn add(&mut self, flag: DataFlag, line: u64, n: u64) {
        let i = slot(flag);
        if n == 0 {
            return;
        }
        if let (Some(first), Some(count)) = (self.first.get_mut(i), self.count.get_mut(i)) {
            if *count == 0 {
                *first = line;
            }
            *count = count.saturating_add(n);
        }
    }

    fn list(&self) -> Vec<(DataFlag, u64, u64)> {
        FLAGS
            .iter()
            .zip(self.first.iter().zip(self.count.iter()))
            .filter(|(_, (_, count))| **count > 0)
            .map(|(flag, (first, count))| (*flag, *first, *count))
            .collect()
    }
}

/// The content of one message as it arrives (DATA or BDAT).
#[derive(Debug)]
pub struct Receiver {
    data: Vec<u8>,
    /// Message bytes received (unstuffed), kept or not.
    size: u64,
    max_size: u64,
    /// At most this many bytes are held; the rest is only counted.
    keep: u64,
    /// More than `max_size` arrived: `data` was dropped, the rest is only counted.
    too_big: bool,
    /// 8-bit bytes were announced (BODY=8BITMIME or SMTPUTF8): not flagged.
    eight_bit_ok: bool,
    tally: Tally,
    /// The 1-based number of the line being received.
    line: u64,
    /// BDAT: the last byte taken was a CR whose LF may start the next chunk.
    pending_cr: bool,
    log: DataLog,
}

/// What the receiver logs of the data lines.
#[derive(Debug, Default)]
struct DataLog {
    on: bool,
    logged: u64,
    skipped_lines: u64,
    skipped_bytes: u64,
}

impl DataLog {
    fn line(&mut self, events: &mut Vec<ServerEvent>, bytes: &[u8], ending: Ending) {
        if !self.on {
            return;
        }
        if self.logged < LOGGED_DATA_LINES {
            self.logged = self.logged.saturating_add(1);
            events.push(ServerEvent::Line {
                dir: Dir::In,
                bytes: bytes.to_vec(),
                ending,
                secret: None,
            });
        } else {
            if ending != Ending::None {
                self.skipped_lines = self.skipped_lines.saturating_add(1);
            }
            self.skipped_bytes = self
                .skipped_bytes
                .saturating_add(len64(bytes.len()))
                .saturating_add(len64(ending.len()));
        }
    }

    fn finish(&mut self, events: &mut Vec<ServerEvent>) {
        if self.skipped_bytes > 0 {
            events.push(ServerEvent::DataSkipped {
                lines: self.skipped_lines,
                bytes: self.skipped_bytes,
            });
        }
        self.skipped_lines = 0;
        self.skipped_bytes = 0;
    }
}

/// A message received in full.
#[derive(Debug)]
pub struct Received {
    /// `None` when it was larger than the limit (and dropped); else the message, or its first
    /// bytes (see [`Receiver::keeping`]).
    pub data: Option<Vec<u8>>,
    pub size: u64,
    pub flags: Vec<(DataFlag, u64, u64)>,
}

impl Receiver {
    pub fn new(max_size: u64, eight_bit_ok: bool, log: bool) -> Receiver {
        Receiver {
            data: Vec::new(),
            size: 0,
            max_size,
            keep: u64::MAX,
            too_big: false,
            eight_bit_ok,
            tally: Tally::default(),
            line: 1,
            pending_cr: false,
            log: DataLog {
                on: log,
                ..DataLog::default()
            },
        }
    }

    /// Holds only the first `keep` bytes of the message (the rest is counted and checked
    /// against the size limit as before): for a server that does not store messages.
    pub fn keeping(mut self, keep: u64) -> Receiver {
        self.keep = keep;
        self
    }

    /// Bytes received so far (also those dropped past the limit).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes held.
    pub fn held(&self) -> usize {
        self.data.len()
    }

    /// Keeps message bytes, unless the message is over the limit: then everything held is
    /// dropped and the rest only counted. Never holds more than the limit, nor more than
    /// `keep` bytes (past those the bytes are only counted).
    fn keep(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(len64(bytes.len()));
        if self.too_big {
            return;
        }
        if self.size > self.max_size {
            self.too_big = true;
            self.data = Vec::new();
            return;
        }
        let held = usize::try_from(self.keep).unwrap_or(usize::MAX);
        let room = held.saturating_sub(self.data.len());
        let bytes = bytes.get(..room.min(bytes.len())).unwrap_or(bytes);
        if bytes.is_empty() {
            return;
        }
        let want = self.data.len().saturating_add(bytes.len());
        if want > self.data.capacity() {
            // Grow by doubling, but never past the limit.
            let cap = usize::try_from(self.max_size.min(self.keep)).unwrap_or(usize::MAX);
            let target = self.data.capacity().saturating_mul(2).max(want).min(cap);
            self.data
                .reserve_exact(target.saturating_sub(self.data.len()));
        }
        self.data.extend_from_slice(bytes);
    }

    /// Flags in content that holds no line ending of its own: every CR and LF in it is bare.
    fn scan(&mut self, bytes: &[u8]) {
        let line = self.line;
        let (mut cr, mut lf, mut nul) = (0u64, 0u64, 0u64);
        for pos in memchr::memchr3_iter(b'\r', b'\n', 0, bytes) {
            match bytes.get(pos) {
                Some(b'\r') => cr = cr.saturating_add(1),
                Some(b'\n') => lf = lf.saturating_add(1),
                _ => nul = nul.saturating_add(1),
            }
        }
        self.tally.add(DataFlag::BareCr, line, cr);
        self.tally.add(DataFlag::BareLf, line, lf);
        self.tally.add(DataFlag::Nul, line, nul);
        if !self.eight_bit_ok && !bytes.is_ascii() {
            let n = bytes.iter().filter(|b| !b.is_ascii()).count();
            self.tally.add(DataFlag::EightBit, line, len64(n));
        }
    }

    fn end_line(&mut self) {
        self.keep(b"\r\n");
        self.line = self.line.saturating_add(1);
    }

    /// Takes BDAT chunk bytes (any amount; CRLF may be split between calls and chunks).
    pub fn chunk(&mut self, mut bytes: &[u8], events: &mut Vec<ServerEvent>) {
        while !bytes.is_empty() {
            if self.pending_cr {
                self.pending_cr = false;
                if let Some(rest) = bytes.strip_prefix(b"\n") {
                    self.log.line(events, b"", Ending::CrLf);
                    self.end_line();
                    bytes = rest;
                    continue;
                }
                self.tally.add(DataFlag::BareCr, self.line, 1);
                self.keep(b"\r");
            }
            match memchr::memchr(b'\n', bytes) {
                Some(pos) => {
                    let segment = bytes.get(..pos).unwrap_or(&[]);
                    let (content, crlf) = match segment.strip_suffix(b"\r") {
                        Some(c) => (c, true),
                        None => (segment, false),
                    };
                    self.scan(content);
                    self.keep(content);
                    if crlf {
                        self.log.line(events, content, Ending::CrLf);
                        self.end_line();
                    } else {
                        self.log.line(events, content, Ending::Lf);
                        self.tally.add(DataFlag::BareLf, self.line, 1);
                        self.keep(b"\n");
                    }
                    bytes = bytes.get(pos.saturating_add(1)..).unwrap_or(&[]);
                }
                None => {
                    let (content, cr) = match bytes.strip_suffix(b"\r") {
                        Some(c) => (c, true),
                        None => (bytes, false),
                    };
                    self.scan(content);
                    self.keep(content);
                    if !content.is_empty() {
                        self.log.line(events, content, Ending::None);
                    }
                    self.pending_cr = cr;
                    return;
                }
            }
        }
    }

    /// The message is complete: its bytes (unless over the limit), size and flags; the
    /// Flagged events and the count of the data lines not logged go to `events`.
    pub fn finish(mut self, events: &mut Vec<ServerEvent>) -> Received {
        if std::mem::take(&mut self.pending_cr) {
            self.tally.add(DataFlag::BareCr, self.line, 1);
            self.keep(b"\r");
        }
        self.log.finish(events);
        let flags = self.tally.list();
        for (flag, first_line, count) in &flags {
            events.push(ServerEvent::Flagged {
                flag: *flag,
                first_line: *first_line,
                count: *count,
            });
        }
        Received {
            data: (!self.too_big).then_some(self.data),
            size: self.size,
            flags,
        }
    }
}

/// Reading DATA: where the reader is in the current line.
#[derive(Debug)]
pub struct DataReader {
    /// The next byte starts a line (where a `.` is stuffing or the end).
    at_line_start: bool,
    /// Bytes at the start of the buffer known to hold no CRLF (but a CR at its end).
    scanned: usize,
}

impl Default for DataReader {
    fn default() -> Self {
        DataReader {
            at_line_start: true,
            scanned: 0,
        }
    }
}

impl DataReader {
    /// Takes the DATA lines in `input` into `rx`, scanning the whole buffer at once. Returns
    /// true when the final `.` line was read (and consumed); the bytes after it stay in `input`.
    pub fn read(
        &mut self,
        input: &mut LineBuffer,
        rx: &mut Receiver,
        events: &mut Vec<ServerEvent>,
    ) -> bool {
        let finder = memmem::Finder::new(b"\r\n");
        loop {
            let pending = input.peek();
            if pending.is_empty() {
                return false;
            }
            let from = self.scanned.min(pending.len());
            let found = finder
                .find(pending.get(from..).unwrap_or(&[]))
                .map(|p| p.saturating_add(from));
            let used = match found {
                Some(pos) => {
                    let raw = pending.get(..pos).unwrap_or(&[]);
                    let content = if self.at_line_start {
                        match unstuff_line(raw) {
                            DataLine::End => {
                                rx.log.line(events, raw, Ending::CrLf);
                                input.consume(pos.saturating_add(2));
                                self.scanned = 0;
                                return true;
                            }
                            DataLine::Content { bytes, single_dot } => {
                                if single_dot {
                                    rx.tally.add(DataFlag::Unstuffed, rx.line, 1);
                                }
                                bytes
                            }
                        }
                    } else {
                        raw
                    };
                    rx.log.line(events, raw, Ending::CrLf);
                    rx.scan(content);
                    rx.keep(content);
                    rx.end_line();
                    self.at_line_start = true;
                    pos.saturating_add(2)
                }
                None if pending.len() > DATA_PIECE => {
                    // A long line: take a piece, but keep a CR at its end back (its LF may
                    // follow) so that CRLF is never split between pieces.
                    let mut n = DATA_PIECE;
                    if pending.get(n.saturating_sub(1)) == Some(&b'\r') {
                        n = n.saturating_sub(1);
                    }
                    let raw = pending.get(..n).unwrap_or(&[]);
                    let content = match (self.at_line_start, unstuff_line(raw)) {
                        (
                            true,
                            DataLine::Content {
                                bytes,
                                single_dot: true,
                            },
                        ) => {
                            rx.tally.add(DataFlag::Unstuffed, rx.line, 1);
                            bytes
                        }
                        (true, DataLine::Content { bytes, .. }) => bytes,
                        _ => raw,
                    };
                    rx.log.line(events, raw, Ending::None);
                    rx.scan(content);
                    rx.keep(content);
                    self.at_line_start = false;
                    n
                }
                None => {
                    // Resume the search at the last byte: it may be the CR of a CRLF.
                    self.scanned = pending.len().saturating_sub(1);
                    return false;
                }
            };
            input.consume(used);
            self.scanned = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(chunks: &[&[u8]], max: u64) -> (bool, Received, Vec<ServerEvent>) {
        let mut input = LineBuffer::default();
        let mut reader = DataReader::default();
        let mut rx = Receiver::new(max, false, false);
        let mut events = Vec::new();
        let mut ended = false;
        for c in chunks {
            input.push(c);
            if reader.read(&mut input, &mut rx, &mut events) {
                ended = true;
                break;
            }
        }
        (ended, rx.finish(&mut events), events)
    }

    #[test]
    fn unstuffs_and_ends_at_the_dot_line() {
        let (ended, r, _) = receive(&[b"a\r\n..b\r\n.\r\nNOOP\r\n"], 1000);
        assert!(ended);
        assert_eq!(r.data.unwrap(), b"a\r\n.b\r\n");
        assert!(r.flags.is_empty());
        let (ended, r, _) = receive(&[b".\r\n"], 1000);
        assert!(ended);
        assert_eq!(r.data.unwrap(), b"");
    }

    #[test]
    fn only_crlf_dot_crlf_ends_the_data() {
        let (ended, r, _) = receive(&[b"a\n.\nb\r.\rc\n.\r\nd\r\n.\n"], 1000);
        assert!(!ended);
        // The last line has no CRLF yet: it is still waiting in the input.
        assert_eq!(r.data.unwrap(), b"a\n.\nb\r.\rc\n.\r\nd\r\n");
        assert_eq!(
            r.flags,
            vec![(DataFlag::BareLf, 1, 3), (DataFlag::BareCr, 1, 2)]
        );
    }

    #[test]
    fn flags_count_with_their_first_line() {
        let (ended, r, events) = receive(
            &[b"ok\r\n.x\r\nnul\0\0\r\n\xc3\xa9t\xc3\xa9\r\n.y\r\n.\r\n"],
            1000,
        );
        assert!(ended);
        assert_eq!(
            r.data.unwrap(),
            b"ok\r\n.x\r\nnul\0\0\r\n\xc3\xa9t\xc3\xa9\r\n.y\r\n"
        );
        assert_eq!(
            r.flags,
            vec![
                (DataFlag::Nul, 3, 2),
                (DataFlag::Unstuffed, 2, 2),
                (DataFlag::EightBit, 4, 4)
            ]
        );
        assert_eq!(
            events,
            vec![
                ServerEvent::Flagged {
                    flag: DataFlag::Nul,
                    first_line: 3,
                    count: 2
                },
                ServerEvent::Flagged {
                    flag: DataFlag::Unstuffed,
                    first_line: 2,
                    count: 2
                },
                ServerEvent::Flagged {
                    flag: DataFlag::EightBit,
                    first_line: 4,
                    count: 4
                },
            ]
        );
    }

    #[test]
    fn over_the_limit_is_counted_not_held() {
        let mut input = LineBuffer::default();
        let mut reader = DataReader::default();
        let mut rx = Receiver::new(10, false, false);
        let mut events = Vec::new();
        for _ in 0..1000 {
            input.push(b"0123456789\r\n");
            assert!(!reader.read(&mut input, &mut rx, &mut events));
            assert_eq!(rx.held(), 0);
        }
        input.push(b".\r\n");
        assert!(reader.read(&mut input, &mut rx, &mut events));
        let r = rx.finish(&mut events);
        assert_eq!(r.data, None);
        assert_eq!(r.size, 12_000);
        // Exactly the limit fits.
        let (_, r, _) = receive(&[b"12345678\r\n.\r\n"], 10);
        assert_eq!(r.data.unwrap(), b"12345678\r\n");
        let (_, r, _) = receive(&[b"123456789\r\n.\r\n"], 10);
        assert_eq!(r.data, None);
    }

    #[test]
    fn keeping_holds_only_the_beginning_and_counts_the_rest() {
        let mut input = LineBuffer::default();
        let mut reader = DataReader::default();
        let mut rx = Receiver::new(1 << 30, false, false).keeping(25);
        let mut events = Vec::new();
        input.push(b"Subject: kept\r\n\r\n");
        for _ in 0..10_000 {
            input.push(b"0123456789\r\n..x\r\n");
            assert!(!reader.read(&mut input, &mut rx, &mut events));
            assert!(rx.held() <= 25);
        }
        input.push(b".\r\n");
        assert!(reader.read(&mut input, &mut rx, &mut events));
        let r = rx.finish(&mut events);
        assert_eq!(r.data.unwrap(), b"Subject: kept\r\n\r\n01234567");
        assert_eq!(r.size, 17 + 10_000 * 16);
        // The size limit still applies to the whole message, also with BDAT.
        let mut rx = Receiver::new(100, false, false).keeping(10);
        rx.chunk(&[b'y'; 100], &mut events);
        assert_eq!(rx.held(), 10);
        rx.chunk(b"z", &mut events);
        let r = rx.finish(&mut events);
        assert_eq!((r.data, r.size), (None, 101));
    }

    #[test]
    fn long_lines_come_in_pieces_and_crlf_is_never_split() {
        let mut line = vec![b'x'; DATA_PIECE - 1];
        line.push(b'\r');
        line.extend_from_slice(b"\nnext\r\n");
        let mut input = LineBuffer::default();
        let mut reader = DataReader::default();
        let mut rx = Receiver::new(1 << 20, false, false);
        let mut events = Vec::new();
        // Byte DATA_PIECE is the CR: the first piece stops before it.
        input.push(&line[..DATA_PIECE + 1]);
        assert!(!reader.read(&mut input, &mut rx, &mut events));
        assert!(input.buffered() <= 2);
        input.push(&line[DATA_PIECE + 1..]);
        input.push(b"..\r\n.\r\n");
        assert!(reader.read(&mut input, &mut rx, &mut events));
        let r = rx.finish(&mut events);
        let mut expected = vec![b'x'; DATA_PIECE - 1];
        expected.extend_from_slice(b"\r\nnext\r\n.\r\n");
        assert_eq!(r.data.unwrap(), expected);
        assert!(r.flags.is_empty(), "{:?}", r.flags);
        // A 1 MiB line without CRLF never holds more than a piece in the input.
        let mut input = LineBuffer::default();
        let mut reader = DataReader::default();
        let mut rx = Receiver::new(1 << 30, false, false);
        for _ in 0..256 {
            input.push(&[b'y'; 4096]);
            assert!(!reader.read(&mut input, &mut rx, &mut events));
            assert!(input.buffered() <= DATA_PIECE);
        }
    }

    #[test]
    fn a_dot_at_the_start_of_a_long_line_is_unstuffed_once() {
        let mut data = b"..".to_vec();
        data.extend(std::iter::repeat_n(b'z', DATA_PIECE * 2));
        data.extend_from_slice(b"\r\n.\r\n");
        let (ended, r, _) = receive(&[&data], 1 << 20);
        assert!(ended);
        let body = r.data.unwrap();
        assert_eq!(body.len(), DATA_PIECE * 2 + 3);
        assert!(body.starts_with(b".z"));
    }

    #[test]
    fn any_split_gives_the_same_message() {
        let data: &[u8] = b"a\r\n..b\r\n.c\r\n\r\nx\ry\nz\0\xff\r\n..\r\n.\r\n";
        let (_, whole, _) = receive(&[data], 1000);
        let whole_data = whole.data.clone().unwrap();
        for i in 0..=data.len() {
            let (ended, r, _) = receive(&[&data[..i], &data[i..]], 1000);
            assert!(ended, "split at {i}");
            assert_eq!(r.data.as_deref(), Some(&whole_data[..]), "split at {i}");
            assert_eq!(r.flags, whole.flags, "split at {i}");
        }
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        let (ended, r, _) = receive(&bytes, 1000);
        assert!(ended);
        assert_eq!(r.data.unwrap(), whole_data);
    }

    #[test]
    fn a_message_fed_a_byte_at_a_time_is_scanned_in_linear_time() {
        // Each byte costs one search of at most two bytes: quadratic work would take minutes.
        let mut input = LineBuffer::default();
        let mut reader = DataReader::default();
        let mut rx = Receiver::new(1 << 20, false, false);
        let mut events = Vec::new();
        for _ in 0..(DATA_PIECE * 3) {
            input.push(b"q");
            assert!(!reader.read(&mut input, &mut rx, &mut events));
        }
        input.push(b"\r\n.\r\n");
        assert!(reader.read(&mut input, &mut rx, &mut events));
        assert_eq!(rx.size(), (DATA_PIECE * 3 + 2) as u64);
    }

    #[test]
    fn bdat_chunks_are_kept_as_sent_and_flagged() {
        let mut rx = Receiver::new(1000, false, false);
        let mut events = Vec::new();
        rx.chunk(b"a\r", &mut events);
        rx.chunk(b"\nb\rc\n.d\r", &mut events);
        rx.chunk(b"\r\n\xe9\0", &mut events);
        let r = rx.finish(&mut events);
        assert_eq!(r.data.unwrap(), b"a\r\nb\rc\n.d\r\r\n\xe9\0");
        assert_eq!(
            r.flags,
            vec![
                (DataFlag::BareLf, 2, 1),
                (DataFlag::BareCr, 2, 2),
                (DataFlag::Nul, 3, 1),
                (DataFlag::EightBit, 3, 1)
            ]
        );
        // A CR that ends the last chunk is bare.
        let mut rx = Receiver::new(1000, true, false);
        rx.chunk(b"x\r", &mut events);
        let r = rx.finish(&mut events);
        assert_eq!(r.data.unwrap(), b"x\r");
        assert_eq!(r.flags, vec![(DataFlag::BareCr, 1, 1)]);
    }

    #[test]
    fn the_first_lines_are_logged_then_counted() {
        let mut data = Vec::new();
        for i in 0..25 {
            data.extend_from_slice(format!("line {i:02}\r\n").as_bytes());
        }
        data.extend_from_slice(b".\r\n");
        let mut input = LineBuffer::default();
        let mut reader = DataReader::default();
        let mut rx = Receiver::new(1000, false, true);
        let mut events = Vec::new();
        input.push(&data);
        assert!(reader.read(&mut input, &mut rx, &mut events));
        rx.finish(&mut events);
        let lines: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Line { bytes, .. } => Some(bytes.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 20);
        assert_eq!(lines[0], b"line 00");
        assert_eq!(lines[19], b"line 19");
        assert_eq!(
            events.last(),
            Some(&ServerEvent::DataSkipped {
                lines: 6,
                bytes: 5 * 9 + 3
            })
        );
    }
}
