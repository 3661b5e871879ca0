//! `--pipe COMMAND`: a child process (`sh -c COMMAND`) spoken to over its standard input and
//! output, like `sendmail -bs`. Its output is read by a thread into a bounded channel, so that
//! reads keep their deadlines; the child is ended and reaped when the session closes.

use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

/// Bytes read from the child at a time.
const CHUNK: usize = 16 * 1024;
/// Chunks that may wait in the channel (the reader thread stops reading beyond it).
const CHUNKS: usize = 4;
/// How long a closed pipe waits for the child to exit by itself before it is killed.
const EXIT_WAIT: Duration = Duration::from_millis(500);

pub(crate) struct Pipe {
    child: Child,
    stdin: Option<ChildStdin>,
    chunks: Receiver<io::Result<Vec<u8>>>,
    /// The chunk being handed out, and how much of it went.
    current: Vec<u8>,
    at: usize,
    eof: bool,
    nonblocking: bool,
    closed: bool,
}

impl Pipe {
    /// Starts `sh -c command` with piped standard input and output (standard error is the
    /// user's).
    pub(crate) fn spawn(command: &str) -> io::Result<Pipe> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("the child has no standard output"))?;
        let (tx, rx) = mpsc::sync_channel(CHUNKS);
        let spawned = std::thread::Builder::new()
            .name("pipe-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    match stdout.read(&mut buf) {
                        Ok(0) => {
                            let _ = tx.send(Ok(Vec::new()));
                            return;
                        }
                        Ok(n) => {
                            if tx
                                .send(Ok(buf.get(..n).unwrap_or_default().to_vec()))
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(Pipe {
            child,
            stdin,
            chunks: rx,
            current: Vec::new(),
            at: 0,
            eof: false,
            nonblocking: false,
            closed: false,
        })
    }

    pub(crate) fn set_nonblocking(&mut self, on: bool) {
        self.nonblocking = on;
    }

    /// Reads what the child wrote, waiting `wait` at most (`None`: without limit).
    pub(crate) fn read(&mut self, buf: &mut [u8], wait: Option<Duration>) -> io::Result<usize> {
        if self.at >= self.current.len() {
            if self.eof {
                return Ok(0);
            }
            let next = if self.nonblocking {
                match self.chunks.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => return Err(would_block()),
                    Err(TryRecvError::Disconnected) => Ok(Vec::new()),
                }
            } else {
                match wait {
                    None => self.chunks.recv().unwrap_or_else(|_| Ok(Vec::new())),
                    Some(w) => match self.chunks.recv_timeout(w) {
                        Ok(c) => c,
                        Err(RecvTimeoutError::Timeout) => return Err(would_block()),
                        Err(RecvTimeoutError::Disconnected) => Ok(Vec::new()),
                    },
                }
            };
            let chunk = next?;
            if chunk.is_empty() {
                self.eof = true;
                return Ok(0);
            }
            self.current = chunk;
            self.at = 0;
        }
        let rest = self.current.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.at = self.at.saturating_add(n);
        Ok(n)
    }

    /// Writes to the child's standard input (a blocking write: a child that stops reading
    /// while the pipe is full holds it).
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stdin {
            Some(s) => s.write(buf),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match &mut self.stdin {
            Some(s) => s.flush(),
            None => Ok(()),
        }
    }

    /// Ends the child's input, gives it a moment to exit, then kills it; reaps it either way.
    pub(crate) fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.stdin = None;
        let until = Instant::now().checked_add(EXIT_WAIT);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if until.is_some_and(|u| Instant::now() < u) => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.close();
    }
}

fn would_block() -> io::Error {
    io::Error::new(io::ErrorKind::WouldBlock, "nothing yet")
}
