//! Group commit: journaled commits that share one sync (design doc, "The journal").
//!
//! A journaled commit appends its record while it holds the writer's slot, then gives the slot
//! up and waits for a sync that covers its record; the first waiter to find no sync running
//! syncs everything appended so far, and the others ride on it. So several threads committing
//! at once pay for about one fdatasync per round instead of one each. Versions are published
//! to readers only once their record is durable, in txid order, and their `on_commit`
//! callbacks run in the same order.
//!
//! Records are counted here (a sequence that never goes back), not located by offset: a
//! checkpoint resets the journal's offsets.

use std::collections::VecDeque;

use crate::commit::protocol::Committed;

/// An `on_commit` callback.
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

/// A journaled commit whose record is appended but not known durable.
pub(crate) struct Waiting {
    /// The commit, to publish.
    pub committed: Committed,
    /// Its record's number in [`Group::appended`]'s count.
    pub seq: u64,
    /// Its callbacks, to run once published.
    pub callbacks: Vec<Callback>,
}

/// The state the committers share (behind a mutex, with a condition variable for waiters).
#[derive(Default)]
pub(crate) struct Group {
    /// Records appended so far.
    pub appended: u64,
    /// Records known durable (and their versions published).
    pub synced: u64,
    /// Whether a committer is syncing now.
    pub syncing: bool,
    /// Commits appended and not yet published, in txid order.
    pub waiting: VecDeque<Waiting>,
    /// A sync failed: every commit still waiting fails, and the handle is poisoned.
    pub failed: bool,
    /// Callbacks of published commits not run yet, in commit order.
    pub callbacks: VecDeque<Callback>,
    /// Whether a thread is running `callbacks` now (it runs them all, in order, so that a
    /// callback that commits never waits for itself).
    pub running: bool,
}

impl Group {
    /// Records an appended commit; returns its number.
    pub fn push(&mut self, committed: Committed, callbacks: Vec<Callback>) -> u64 {
        self.appended += 1;
        let seq = self.appended;
        self.waiting.push_back(Waiting { committed, seq, callbacks });
        seq
    }

    /// Marks every record up to `seq` durable and takes the commits that are now ready, in
    /// order.
    pub fn synced_to(&mut self, seq: u64) -> Vec<Waiting> {
        self.synced = self.synced.max(seq);
        let n = self.waiting.iter().take_while(|w| w.seq <= seq).count();
        self.waiting.drain(..n).collect()
    }
}
