//! A stream (TCP, a unix socket, or a child process's pipes) whose reads and writes fail with
//! `WouldBlock` once the deadline has passed.
//!
//! Each read or write sets the socket timeout to the time left, so a peer that sends one byte at
//! a time cannot stretch an operation past its deadline, also inside OpenSSL (which sees
//! `WouldBlock` as "retry later" and keeps its record state). A pipe is read by a thread of its
//! own, so that its reads have deadlines too.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::pipe::Pipe;

/// Shortest timeout handed to the socket (a zero timeout means "none" to the OS).
pub(super) const MIN_WAIT: Duration = Duration::from_millis(1);

/// What a [`Conn`] runs over.
pub(super) enum Io {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    Pipe(Box<Pipe>),
}

pub(super) struct Conn {
    io: Io,
    deadline: Option<Instant>,
    /// Bytes read ahead by [`Conn::peek_now`] on a stream that cannot peek; read first.
    early: Vec<u8>,
}

impl Conn {
    pub(super) fn new(tcp: TcpStream) -> Conn {
        Conn::over(Io::Tcp(tcp))
    }

    pub(super) fn over(io: Io) -> Conn {
        Conn {
            io,
            deadline: None,
            early: Vec::new(),
        }
    }

    pub(super) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// True once the deadline has passed.
    pub(super) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The TCP socket, when it is one.
    pub(super) fn tcp(&self) -> Option<&TcpStream> {
        match &self.io {
            Io::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// Switches reads (and writes) to return `WouldBlock` at once instead of waiting.
    pub(super) fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        match &mut self.io {
            Io::Tcp(t) => t.set_nonblocking(on),
            #[cfg(unix)]
            Io::Unix(u) => u.set_nonblocking(on),
            Io::Pipe(p) => {
                p.set_nonblocking(on);
                Ok(())
            }
        }
    }

    /// Whether bytes are waiting, without waiting and without consuming them: `Ok(0)` at the
    /// end of the stream, `WouldBlock` when nothing is there.
    pub(super) fn peek_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.early.is_empty() {
            let n = buf.len().min(self.early.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), self.early.get(..n)) {
                dst.copy_from_slice(src);
            }
            return Ok(n);
        }
        if let Io::Tcp(t) = &self.io {
            t.set_nonblocking(true)?;
            let peeked = t.peek(buf);
            t.set_nonblocking(false)?;
            return peeked;
        }
        // Streams without peek: read ahead and keep the bytes for the next read.
        self.set_nonblocking(true)?;
        let got = self.raw_read(buf);
        self.set_nonblocking(false)?;
        let n = got?;
        self.early
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(n)
    }

    /// Closes both directions (a child process is told by the end of its input, then ended).
    pub(super) fn shutdown(&mut self) {
        match &mut self.io {
            Io::Tcp(t) => {
                let _ = t.shutdown(Shutdown::Both);
            }
            #[cfg(unix)]
            Io::Unix(u) => {
                let _ = u.shutdown(Shutdown::Both);
            }
            Io::Pipe(p) => p.close(),
        }
    }

    fn time_left(&self) -> io::Result<Option<Duration>> {
        match self.deadline {
            None => Ok(None),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "deadline reached",
                    ))
                } else {
                    Ok(Some(left.max(MIN_WAIT)))
                }
            }
        }
    }

    fn raw_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.time_left()?;
        match &mut self.io {
            Io::Tcp(t) => {
                t.set_read_timeout(left)?;
                t.read(buf)
            }
            #[cfg(unix)]
            Io::Unix(u) => {
                u.set_read_timeout(left)?;
                u.read(buf)
            }
            Io::Pipe(p) => p.read(buf, left),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.early.is_empty() {
            let n = buf.len().min(self.early.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), self.early.get(..n)) {
                dst.copy_from_slice(src);
            }
            self.early.drain(..n);
            return Ok(n);
        }
        self.raw_read(buf)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.time_left()?;
        match &mut self.io {
            Io::Tcp(t) => {
                t.set_write_timeout(left)?;
                t.write(buf)
            }
            #[cfg(unix)]
            Io::Unix(u) => {
                u.set_write_timeout(left)?;
                u.write(buf)
            }
            Io::Pipe(p) => p.write(buf, left),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.io {
            Io::Tcp(t) => t.flush(),
            #[cfg(unix)]
            Io::Unix(u) => u.flush(),
            Io::Pipe(p) => p.flush(),
        }
    }
}

/// Outcome of one read attempt: bytes (0 = EOF) or nothing before the deadline.
pub(super) enum Got {
    Data(usize),
    Nothing,
}

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
