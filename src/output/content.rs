//! What becomes of content the server sent (IMAP literals, POP3 bodies): how many of its lines
//! are shown (`--max-show`), the file it is written to instead (`--output`), and the last one,
//! kept for `:save`. Memory stays flat whatever the size: the last content is kept in memory up
//! to [`SPOOL_IN_MEMORY`] bytes and in an unnamed temporary file beyond.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::SpooledTempFile;

use crate::proto::{DataBlock, Protocol};

/// How much of the last content is kept in memory before it goes to a temporary file.
pub const SPOOL_IN_MEMORY: usize = 1024 * 1024;
/// Lines of each content shown on a terminal unless `--max-show` says otherwise.
pub const DEFAULT_MAX_SHOW: u64 = 200;

/// What is said at the end of a content (or when writing it failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Lines past the limit were counted, not shown.
    Hidden {
        what: &'static str,
        lines: u64,
        bytes: u64,
        limit: u64,
    },
    /// The content went to the `--output` file.
    Written {
        what: &'static str,
        bytes: u64,
        path: PathBuf,
    },
    /// Writing the `--output` file failed; the rest is not written.
    Error(String),
}

impl Saved {
    pub fn text(&self) -> String {
        match self {
            Saved::Hidden {
                what,
                lines,
                bytes,
                limit,
            } => format!(
                "{lines} more line{} ({}) of the {what} not shown (limit {limit}): :save FILE \
                 writes it whole, :max-show N|all shows more",
                if *lines == 1 { "" } else { "s" },
                size(*bytes)
            ),
            Saved::Written { what, bytes, path } => {
                format!("{what}: {} written to {}", size(*bytes), path.display())
            }
            Saved::Error(e) => e.clone(),
        }
    }
}

/// `1234 bytes`, `95.4 MiB`.
pub fn size(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} byte{}", if bytes == 1 { "" } else { "s" });
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = "KiB";
    for u in ["MiB", "GiB", "TiB"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

/// What a content is called in messages.
fn what(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Imap => "literal",
        _ => "body",
    }
}

/// Lines in `bytes` as shown: one per LF, and the bytes after the last LF as one more.
fn lines_in(bytes: &[u8]) -> u64 {
    let lf = memchr::memchr_iter(b'\n', bytes).count();
    let tail = !bytes.is_empty() && bytes.last() != Some(&b'\n');
    u64::try_from(lf)
        .unwrap_or(u64::MAX)
        .saturating_add(u64::from(tail))
}

/// The `--output` file.
#[derive(Debug)]
struct OutputFile {
    path: PathBuf,
    file: File,
    failed: bool,
}

/// The last content, for `:save`.
#[derive(Debug)]
struct Spool {
    file: SpooledTempFile,
    bytes: u64,
    complete: bool,
    failed: Option<String>,
    what: &'static str,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Content {
    /// Lines of each content shown; `None`: all of them.
    pub max_show: Option<u64>,
    /// The last content is kept for `:save` (see [`Content::new`]).
    pub keep_last: bool,
    output: Option<OutputFile>,
    last: Option<Spool>,
    /// The content in progress: lines shown, lines and bytes not shown, bytes in all.
    shown: u64,
    hidden_lines: u64,
    hidden_bytes: u64,
    bytes: u64,
}

impl Content {
    /// Every content shown, the last one kept.
    pub fn new() -> Content {
        Content {
            keep_last: true,
            ..Content::default()
        }
    }

    /// Content goes to `path` (created or truncated) instead of the screen.
    pub fn output_to(&mut self, path: &Path) -> io::Result<()> {
        let file = File::create(path)?;
        self.output = Some(OutputFile {
            path: path.to_path_buf(),
            file,
            failed: false,
        });
        Ok(())
    }

    /// Takes one block: returns the part of it to show, and what to say about it.
    pub fn block<'a>(
        &mut self,
        protocol: Protocol,
        block: &'a DataBlock,
    ) -> (&'a [u8], Option<Saved>) {
        let what = what(protocol);
        let len = u64::try_from(block.bytes.len()).unwrap_or(u64::MAX);
        if block.first {
            self.shown = 0;
            self.hidden_lines = 0;
            self.hidden_bytes = 0;
            self.bytes = 0;
        }
        self.bytes = self.bytes.saturating_add(len);
        if let Some(out) = &mut self.output {
            if out.failed {
                return (&[], None);
            }
            if let Err(e) = out.file.write_all(&block.bytes) {
                out.failed = true;
                return (
                    &[],
                    Some(Saved::Error(format!(
                        "writing {}: {e}; the rest of the content is not written",
                        out.path.display()
                    ))),
                );
            }
            let note = block.last.then(|| Saved::Written {
                what,
                bytes: self.bytes,
                path: out.path.clone(),
            });
            return (&[], note);
        }
        if self.keep_last {
            self.keep(what, block);
        }
        let shown = match self.max_show {
            None => block.bytes.as_slice(),
            Some(max) => {
                let left = usize::try_from(max.saturating_sub(self.shown)).unwrap_or(usize::MAX);
                let cut = match left.checked_sub(1) {
                    None => 0,
                    Some(n) => memchr::memchr_iter(b'\n', &block.bytes)
                        .nth(n)
                        .map_or(block.bytes.len(), |p| p.saturating_add(1)),
                };
                let (shown, rest) = block.bytes.split_at(cut.min(block.bytes.len()));
                self.hidden_lines = self.hidden_lines.saturating_add(lines_in(rest));
                self.hidden_bytes = self
                    .hidden_bytes
                    .saturating_add(u64::try_from(rest.len()).unwrap_or(u64::MAX));
                shown
            }
        };
        self.shown = self.shown.saturating_add(lines_in(shown));
        let note = (block.last && self.hidden_lines > 0).then(|| Saved::Hidden {
            what,
            lines: self.hidden_lines,
            bytes: self.hidden_bytes,
            limit: self.max_show.unwrap_or(0),
        });
        (shown, note)
    }

    /// Keeps the block as part of the last content.
    fn keep(&mut self, what: &'static str, block: &DataBlock) {
        if block.first || self.last.is_none() {
            self.last = Some(Spool {
                file: SpooledTempFile::new(SPOOL_IN_MEMORY),
                bytes: 0,
                complete: false,
                failed: None,
                what,
            });
        }
        let Some(spool) = &mut self.last else {
            return;
        };
        if spool.failed.is_some() {
            return;
        }
        match spool.file.write_all(&block.bytes) {
            Ok(()) => {
                spool.bytes = spool
                    .bytes
                    .saturating_add(u64::try_from(block.bytes.len()).unwrap_or(u64::MAX));
                spool.complete = block.last;
            }
            Err(e) => spool.failed = Some(format!("keeping it in a temporary file failed: {e}")),
        }
    }

    /// `:save FILE`: writes the last content, exactly as received (POP3: unstuffed), to `path`;
    /// says what was written.
    pub fn save_last(&mut self, path: &Path) -> Result<String, String> {
        let Some(spool) = &mut self.last else {
            return Err(if self.output.is_some() {
                "nothing to save: with --output, content goes to that file".into()
            } else if !self.keep_last {
                "nothing to save: content is kept only for input that has :save".into()
            } else {
                "nothing to save: no literal or body was received yet".into()
            });
        };
        if let Some(e) = &spool.failed {
            return Err(format!("the last {} cannot be saved: {e}", spool.what));
        }
        let copy = |spool: &mut Spool| -> io::Result<u64> {
            spool.file.seek(SeekFrom::Start(0))?;
            let mut file = File::create(path)?;
            let n = io::copy(&mut spool.file, &mut file)?;
            file.flush()?;
            spool.file.seek(SeekFrom::End(0))?;
            Ok(n)
        };
        match copy(spool) {
            Ok(n) => Ok(format!(
                "the last {}: {} written to {}{}",
                spool.what,
                size(n),
                path.display(),
                if spool.complete {
                    ""
                } else {
                    " (incomplete: it was cut off, or is still arriving)"
                }
            )),
            Err(e) => Err(format!("writing {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(bytes: &[u8], first: bool, last: bool) -> DataBlock {
        DataBlock {
            bytes: bytes.to_vec(),
            first,
            last,
            size: None,
        }
    }

    #[test]
    fn lines_past_the_limit_are_counted_and_said_at_the_end() {
        let mut c = Content::new();
        c.max_show = Some(3);
        let b1 = block(b"a\r\nb\r\n", true, false);
        assert_eq!(c.block(Protocol::Imap, &b1), (&b"a\r\nb\r\n"[..], None));
        let b2 = block(b"c\r\nd\r\ne", false, false);
        assert_eq!(c.block(Protocol::Imap, &b2), (&b"c\r\n"[..], None));
        let b3 = block(b"fg\r\n", false, true);
        let (shown, note) = c.block(Protocol::Imap, &b3);
        assert!(shown.is_empty());
        assert_eq!(
            note,
            Some(Saved::Hidden {
                what: "literal",
                lines: 3,
                bytes: 8,
                limit: 3
            })
        );
        // The next content starts over.
        let b4 = block(b"x\r\n", true, true);
        assert_eq!(c.block(Protocol::Pop3, &b4), (&b"x\r\n"[..], None));
        // Without a limit everything is shown.
        c.max_show = None;
        let b5 = block(b"1\n2\n3\n4\n", true, true);
        assert_eq!(c.block(Protocol::Pop3, &b5).0, b5.bytes.as_slice());
        assert_eq!(lines_in(b""), 0);
        assert_eq!(lines_in(b"a"), 1);
        assert_eq!(lines_in(b"a\nb"), 2);
    }

    #[test]
    fn the_last_content_is_saved_whole_also_beyond_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Content::new();
        c.max_show = Some(1);
        assert!(c.save_last(&dir.path().join("none")).is_err());
        let big = vec![b'y'; SPOOL_IN_MEMORY + 10];
        let mut expected = Vec::new();
        for (i, part) in [b"first\r\n".to_vec(), big.clone(), b"\r\nend".to_vec()]
            .into_iter()
            .enumerate()
        {
            expected.extend_from_slice(&part);
            c.block(Protocol::Imap, &block(&part, i == 0, i == 2));
        }
        let path = dir.path().join("saved");
        let said = c.save_last(&path).unwrap();
        assert!(said.contains("written to"), "{said}");
        assert!(!said.contains("incomplete"), "{said}");
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        // Saving twice gives the same bytes.
        c.save_last(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        // A new content replaces it; one cut off is said to be incomplete.
        c.block(Protocol::Pop3, &block(b"new", true, false));
        let said = c.save_last(&path).unwrap();
        assert!(said.contains("incomplete"), "{said}");
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn output_takes_everything_and_shows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut c = Content::new();
        c.output_to(&path).unwrap();
        let b = block(b"a\r\n", true, false);
        let (shown, note) = c.block(Protocol::Imap, &b);
        assert!(shown.is_empty() && note.is_none());
        let (_, note) = c.block(Protocol::Imap, &block(b"b", false, true));
        assert!(
            matches!(note, Some(Saved::Written { bytes: 4, .. })),
            "{note:?}"
        );
        c.block(Protocol::Imap, &block(b"second", true, true));
        assert_eq!(std::fs::read(&path).unwrap(), b"a\r\nbsecond");
        assert!(c.save_last(&path).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(100_000_000), "95.4 MiB");
    }
}
