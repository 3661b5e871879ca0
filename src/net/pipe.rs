//! `--pipe COMMAND`: a child process (`sh -c COMMAND`) spoken to over its standard input and
//! output, like `sendmail -bs`. Its output is read by a thread into a bounded channel, and its
//! input written by another from one, so that reads and writes keep their deadlines; the child
//! is ended and reaped when the session closes.

use std::io::{self, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

/// Bytes read from the child at a time.
const CHUNK: usize = 16 * 1024;
/// Chunks that may wait in the channel (the reader thread stops reading beyond it).
const CHUNKS: usize = 4;
/// How long a closed pipe waits for the child to exit by itself before it is killed.
const EXIT_WAIT: Duration = Duration::from_millis(500);

pub(crate) struct Pipe {
    child: Child,
    /// Chunks for the writer thread, which writes them to the child's standard input (so that
    /// a child that stops reading cannot hold a write past its deadline); `None` once closed.
    input: Option<SyncSender<Vec<u8>>>,
    /// The writer thread's last error (the child closed its input).
    write_error: Receiver<io::Error>,
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
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("the child has no standard input"))?;
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
        let (input, queued) = mpsc::sync_channel::<Vec<u8>>(CHUNKS);
        let (error_tx, write_error) = mpsc::channel();
        let writer = spawned.and_then(|_| {
            std::thread::Builder::new()
                .name("pipe-writer".into())
                .spawn(move || {
                    // Ends when the pipe is closed (the sender dropped) and everything queued
                    // went out; dropping stdin then ends the child's input.
                    for chunk in queued {
                        if let Err(e) = stdin.write_all(&chunk).and_then(|()| stdin.flush()) {
                            let _ = error_tx.send(e);
                            return;
                        }
                    }
                })
        });
        if let Err(e) = writer {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(Pipe {
            child,
            input: Some(input),
            write_error,
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

    /// Hands up to a chunk of `buf` to the writer thread, waiting `wait` at most for room
    /// (`WouldBlock` after that: nothing of `buf` was taken). Bytes taken are written.
    pub(crate) fn write(&mut self, buf: &[u8], wait: Option<Duration>) -> io::Result<usize> {
        if let Ok(e) = self.write_error.try_recv() {
            return Err(e);
        }
        let Some(input) = &self.input else {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        };
        let n = buf.len().min(CHUNK);
        let mut chunk = buf.get(..n).unwrap_or_default().to_vec();
        let until = wait.and_then(|w| Instant::now().checked_add(w));
        loop {
            match input.try_send(chunk) {
                Ok(()) => return Ok(n),
                Err(TrySendError::Disconnected(_)) => {
                    return Err(self
                        .write_error
                        .try_recv()
                        .unwrap_or_else(|_| io::Error::from(io::ErrorKind::BrokenPipe)))
                }
                Err(TrySendError::Full(back)) => {
                    if self.nonblocking || until.is_some_and(|u| Instant::now() >= u) {
                        return Err(would_block());
                    }
                    chunk = back;
                    // The writer thread makes room as the child reads.
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Ends the child's input, gives it a moment to exit, then kills it; reaps it either way.
    pub(crate) fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        // The writer thread writes what is queued, then ends the child's input.
        self.input = None;
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
