//! Handing out the items of a phase to concurrent workers, bounded in count
//! and in time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Items `start..end`, each handed to exactly one worker.
pub struct Work {
    next: AtomicUsize,
    end: usize,
    deadline: Instant,
}

impl Work {
    pub fn new(start: usize, end: usize, deadline: Instant) -> Work {
        Work {
            next: AtomicUsize::new(start),
            end,
            deadline,
        }
    }

    /// The next item, `Ok(None)` when all are taken, or an error once the
    /// phase's time limit has passed.
    pub fn take(&self) -> Result<Option<usize>, String> {
        if Instant::now() > self.deadline {
            return Err("the phase ran past its time limit (--max-seconds)".into());
        }
        let item = self.next.fetch_add(1, Ordering::Relaxed);
        Ok((item < self.end).then_some(item))
    }
}
