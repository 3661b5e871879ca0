//! Counted content typed line by line: an IMAP literal `{n}` and an SMTP `BDAT n` chunk count
//! their bytes the same way, as they go on the wire. Each typed line is sent with its CRLF, and
//! both bytes count; a line that fills what is left exactly, without its CRLF, ends the content
//! right after its last byte.

/// How one typed line fits into what is left of counted content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// The line and its CRLF fit; this many bytes are left afterwards (0: the CRLF ended the
    /// content).
    Within { left: u64 },
    /// The line without its CRLF fills the content exactly.
    Exact,
    /// The content would end between the line's CR and LF: one byte more or one fewer is
    /// needed.
    SplitsCrLf,
    /// The line is longer than what is left: the content ends after the first `left` bytes
    /// of the line.
    Beyond { left: u64 },
}

/// Where a line of `len` bytes ends up with `left` bytes of content still to come.
pub fn fit(len: usize, left: u64) -> Fit {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    let with_crlf = len.saturating_add(2);
    if with_crlf <= left {
        Fit::Within {
            left: left.saturating_sub(with_crlf),
        }
    } else if len == left {
        Fit::Exact
    } else if len.saturating_add(1) == left {
        Fit::SplitsCrLf
    } else {
        Fit::Beyond { left }
    }
}

/// The message for [`Fit::SplitsCrLf`].
pub fn splits_crlf_message(what: &str, left: u64, len: usize) -> String {
    format!(
        "the {what} has {left} bytes left but this line and its CRLF are {} bytes: it would end \
         between CR and LF (type one byte more or one fewer)",
        len.saturating_add(2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_with_their_crlf() {
        assert_eq!(fit(3, 10), Fit::Within { left: 5 });
        assert_eq!(fit(8, 10), Fit::Within { left: 0 });
        assert_eq!(fit(10, 10), Fit::Exact);
        assert_eq!(fit(9, 10), Fit::SplitsCrLf);
        assert_eq!(fit(11, 10), Fit::Beyond { left: 10 });
        assert_eq!(fit(0, 2), Fit::Within { left: 0 });
        assert_eq!(fit(0, 1), Fit::SplitsCrLf);
        assert_eq!(fit(0, 0), Fit::Exact);
        assert_eq!(fit(usize::MAX, 5), Fit::Beyond { left: 5 });
    }
}
