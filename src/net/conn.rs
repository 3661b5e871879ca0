//! A TCP stream whose reads and writes fail with `WouldBlock` once the deadline has passed.
//!
//! Each read or write sets the socket timeout to the time left, so a peer that sends one byte at
//! a time cannot stretch an operation past its deadline, also inside OpenSSL (which sees
//! `WouldBlock` as "retry later" and keeps its record state).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Shortest timeout handed to the socket (a zero timeout means "none" to the OS).
pub(super) const MIN_WAIT: Duration = Duration::from_millis(1);

pub(super) struct Conn {
    tcp: TcpStream,
    deadline: Option<Instant>,
}

impl Conn {
    pub(super) fn new(tcp: TcpStream) -> Conn {
        Conn {
            tcp,
            deadline: None,
        }
    }

    pub(super) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// True once the deadline has passed.
    pub(super) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    pub(super) fn tcp(&self) -> &TcpStream {
        &self.tcp
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
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.time_left()?;
        self.tcp.set_read_timeout(left)?;
        self.tcp.read(buf)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.time_left()?;
        self.tcp.set_write_timeout(left)?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
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
