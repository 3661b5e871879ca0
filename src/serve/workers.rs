//! Threads that serve sessions, kept for the next connection instead of ending: starting a
//! thread costs more than a short SMTP session (a dozen system calls and a new stack), and a
//! test suite or a load generator opens a connection per message.
//!
//! Every job starts at once, on an idle thread or a new one: a session never waits for
//! another. There are never more threads than sessions were open at the busiest moment.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The pool.
pub struct Workers {
    tx: Mutex<Sender<Job>>,
    rx: Arc<Mutex<Receiver<Job>>>,
    /// Threads waiting for a job and not promised one yet.
    idle: Arc<AtomicUsize>,
}

impl Default for Workers {
    fn default() -> Self {
        Workers::new()
    }
}

impl Workers {
    pub fn new() -> Workers {
        let (tx, rx) = channel();
        Workers {
            tx: Mutex::new(tx),
            rx: Arc::new(Mutex::new(rx)),
            idle: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `job` now: on a waiting thread when there is one, else on a new one. Fails only
    /// when no thread can be started (the job is dropped then).
    pub fn run(&self, name: String, job: Job) -> std::io::Result<()> {
        let promised = self
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if promised {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            return match tx.send(job) {
                Ok(()) => Ok(()),
                // Only when every receiver is gone, which the pool itself prevents.
                Err(e) => self.spawn(name, e.0),
            };
        }
        self.spawn(name, job)
    }

    fn spawn(&self, name: String, first: Job) -> std::io::Result<()> {
        let rx = Arc::clone(&self.rx);
        let idle = Arc::clone(&self.idle);
        std::thread::Builder::new().name(name).spawn(move || {
            first();
            loop {
                idle.fetch_add(1, Ordering::SeqCst);
                let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            }
        })?;
        Ok(())
    }

    /// Threads started so far that are waiting now (for tests).
    pub fn idle(&self) -> usize {
        self.idle.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn jobs_run_at_once_and_threads_are_reused() {
        let w = Workers::new();
        // Three jobs that only finish together: each must have its own thread.
        let all = Arc::new(Barrier::new(4));
        for i in 0..3 {
            let all = Arc::clone(&all);
            w.run(
                format!("t{i}"),
                Box::new(move || {
                    all.wait();
                }),
            )
            .unwrap();
        }
        all.wait();
        // Once they are waiting again, new jobs reuse them.
        while w.idle() < 3 {
            std::thread::yield_now();
        }
        let (tx, rx) = channel();
        for _ in 0..3 {
            let tx = tx.clone();
            w.run(
                "again".into(),
                Box::new(move || {
                    tx.send(std::thread::current().name().map(str::to_string))
                        .unwrap();
                }),
            )
            .unwrap();
        }
        // No new thread was started for them (a new one would be named "again").
        for _ in 0..3 {
            let name = rx.recv().unwrap().unwrap();
            assert!(["t0", "t1", "t2"].contains(&name.as_str()), "{name}");
        }
    }
}
