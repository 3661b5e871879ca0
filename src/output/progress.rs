//! When and how a transfer's progress is drawn: not for one that ends within
//! [`SHOW_AFTER`], then at most every [`REDRAW_EVERY`], as `12.0 MiB of 95.4 MiB (13%),
//! 48.1 MiB/s, 2 s left`. The clock is the session's (the events' `at`), so what is drawn follows
//! from the events alone.

use std::time::Duration;

use super::content::size;
use crate::engine::Progress;

/// A transfer shorter than this shows no progress.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);
/// The progress line is redrawn at most this often.
pub const REDRAW_EVERY: Duration = Duration::from_millis(200);

/// What to do with the progress line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Draw {
    /// Nothing new to draw.
    Nothing,
    /// Draw (or redraw) this text.
    Show(String),
    /// The transfer is over: take the line away.
    Clear,
}

/// The progress of one transfer at a time.
#[derive(Debug, Default)]
pub struct Meter {
    /// When the current transfer started, and how many bytes it had then.
    started: Option<(Duration, u64)>,
    drawn: Option<Duration>,
    /// The last report of the current transfer: one whose end was not seen here (it went
    /// elsewhere after an interruption) is over once a report starts lower or the other way.
    last: Option<Progress>,
}

impl Meter {
    pub fn new() -> Meter {
        Meter::default()
    }

    /// Takes a progress report made at `at`.
    pub fn update(&mut self, p: &Progress, at: Duration) -> Draw {
        if p.finished {
            let was_drawn = self.drawn.is_some();
            *self = Meter::default();
            return if was_drawn {
                Draw::Clear
            } else {
                Draw::Nothing
            };
        }
        if self
            .last
            .is_some_and(|l| l.sending != p.sending || p.done < l.done)
        {
            *self = Meter::default();
        }
        self.last = Some(*p);
        let (start, base) = *self.started.get_or_insert((at, p.done));
        let running = at.saturating_sub(start);
        if running < SHOW_AFTER {
            return Draw::Nothing;
        }
        if self
            .drawn
            .is_some_and(|d| at.saturating_sub(d) < REDRAW_EVERY)
        {
            return Draw::Nothing;
        }
        self.drawn = Some(at);
        Draw::Show(text(p, p.done.saturating_sub(base), running))
    }
}

/// `12.0 MiB of 95.4 MiB (13%), 48.1 MiB/s, 2 s left` (`sent`/`received` first).
fn text(p: &Progress, moved: u64, running: Duration) -> String {
    let verb = if p.sending { "sent" } else { "received" };
    let secs = running.as_secs_f64();
    let rate = if secs > 0.0 { moved as f64 / secs } else { 0.0 };
    let mut t = format!("{verb} {}", size(p.done));
    if let Some(total) = p.total.filter(|t| *t > 0) {
        let pct = (p.done as f64 / total as f64 * 100.0).min(100.0);
        t.push_str(&format!(" of {} ({pct:.0}%)", size(total)));
    }
    t.push_str(&format!(", {}/s", size(rate as u64)));
    if let Some(total) = p.total {
        if rate > 0.0 && total > p.done {
            let left = (total.saturating_sub(p.done)) as f64 / rate;
            t.push_str(&format!(", {} s left", left.ceil() as u64));
        }
    }
    t.push_str(" (Ctrl-C stops)");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(done: u64, total: Option<u64>, finished: bool) -> Progress {
        Progress {
            sending: false,
            done,
            total,
            finished,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn short_transfers_show_nothing_long_ones_are_throttled_and_cleared() {
        let mut m = Meter::new();
        assert_eq!(m.update(&p(10, Some(100), false), ms(0)), Draw::Nothing);
        assert_eq!(m.update(&p(50, Some(100), true), ms(900)), Draw::Nothing);
        // A new transfer: nothing in its first second, then at most every 200 ms.
        assert_eq!(m.update(&p(0, None, false), ms(1000)), Draw::Nothing);
        assert_eq!(m.update(&p(1 << 20, None, false), ms(1999)), Draw::Nothing);
        let Draw::Show(t) = m.update(&p(2 << 20, None, false), ms(2000)) else {
            panic!()
        };
        assert_eq!(t, "received 2.0 MiB, 2.0 MiB/s (Ctrl-C stops)");
        assert_eq!(m.update(&p(3 << 20, None, false), ms(2100)), Draw::Nothing);
        assert!(matches!(
            m.update(&p(4 << 20, None, false), ms(2200)),
            Draw::Show(_)
        ));
        assert_eq!(m.update(&p(5 << 20, None, true), ms(2300)), Draw::Clear);
        // A transfer whose end went elsewhere: the next one starts afresh.
        m.update(&p(0, None, false), ms(3000));
        assert!(matches!(
            m.update(&p(9, None, false), ms(4000)),
            Draw::Show(_)
        ));
        assert_eq!(m.update(&p(1, None, false), ms(4500)), Draw::Nothing);
    }

    #[test]
    fn a_known_size_gives_a_share_and_time_left() {
        let mut m = Meter::new();
        let total = Some(100 << 20);
        m.update(&p(0, total, false), ms(0));
        let Draw::Show(t) = m.update(&p(25 << 20, total, false), ms(1000)) else {
            panic!()
        };
        assert_eq!(
            t,
            "received 25.0 MiB of 100.0 MiB (25%), 25.0 MiB/s, 3 s left (Ctrl-C stops)"
        );
        let mut m = Meter::new();
        let sent = Progress {
            sending: true,
            ..p(0, None, false)
        };
        m.update(&sent, ms(0));
        let Draw::Show(t) = m.update(&Progress { done: 10, ..sent }, ms(1000)) else {
            panic!()
        };
        assert!(t.starts_with("sent 10 bytes, 10 bytes/s"), "{t}");
    }
}
