//! Creating a batch's tasks after the batch itself.
//!
//! A batch over a million devices takes seconds to create, longer than a client waits and
//! longer than the store's writer may be held. So the batch is stored first and its tasks
//! are created in chunks that each commit on their own, together with the progress. Until
//! the last chunk commits the batch is *held*: nothing is pushed or pulled, it does not
//! start, complete or end by schedule, and it cannot be cancelled. So nobody ever sees a
//! partial batch that looks running, and a node that restarts (or another node) resumes
//! from the last committed chunk.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// How far the creation of a batch's tasks got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Creation {
    pub started_at: Millis,
    /// When the last task was created; `None` while creation runs.
    pub finished_at: Option<Millis>,
    /// Tasks created so far.
    pub created: u64,
    /// Eligible devices left out because an unfinished task of theirs may not be replaced.
    pub skipped_busy: u64,
    /// Pending tasks of other batches cancelled (OVERWRITTEN) to make room.
    pub overwritten: u64,
    /// Where the next chunk starts: the last device id done when walking the product's
    /// devices, or how many listed devices are done. `None` before the first chunk.
    pub cursor: Option<i64>,
    /// GRAY: how many devices the batch picks in all, fixed by the first chunk.
    pub pick: Option<u64>,
    /// GRAY: the highest device rank the batch takes (`ota_store` draws by rank).
    pub threshold: Option<i64>,
}

impl Creation {
    /// A creation about to start.
    pub fn start(now: Millis) -> Self {
        Creation {
            started_at: now,
            ..Creation::default()
        }
    }

    pub fn is_running(&self) -> bool {
        self.finished_at.is_none()
    }

    /// What was created so far.
    pub fn counts(&self) -> CreatedTasks {
        CreatedTasks {
            created: self.created,
            skipped_busy: self.skipped_busy,
            overwritten: self.overwritten,
        }
    }

    /// Adds one committed chunk's counts and moves the cursor past it.
    pub fn advance(&mut self, chunk: CreatedTasks, cursor: i64) {
        self.created += chunk.created;
        self.skipped_busy += chunk.skipped_busy;
        self.overwritten += chunk.overwritten;
        self.cursor = Some(cursor);
    }

    /// The last chunk is committed.
    pub fn finish(&mut self, now: Millis) {
        self.finished_at = Some(now);
    }
}

/// What creating tasks gave (one chunk, or all of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreatedTasks {
    pub created: u64,
    /// Eligible devices left out because they already have an unfinished task for the
    /// module that may not be replaced.
    pub skipped_busy: u64,
    /// Pending tasks of other batches cancelled (OVERWRITTEN) to make room.
    pub overwritten: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_add_up_and_move_the_cursor() {
        let mut c = Creation::start(5);
        assert!(c.is_running());
        assert_eq!(c.cursor, None);
        let chunk = |created, skipped_busy, overwritten| CreatedTasks {
            created,
            skipped_busy,
            overwritten,
        };
        c.advance(chunk(10, 2, 1), 100);
        c.advance(chunk(7, 0, 3), 250);
        assert_eq!((c.created, c.skipped_busy, c.overwritten), (17, 2, 4));
        assert_eq!(c.cursor, Some(250));
        c.finish(9);
        assert!(!c.is_running());
        assert_eq!((c.started_at, c.finished_at), (5, Some(9)));
    }
}
