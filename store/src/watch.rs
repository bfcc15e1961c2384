//! Change subscriptions: [`crate::Store::watch`] delivers every committed change of a record
//! type (inserted, updated with the old and the new record, removed), in commit order, after
//! the commit is durable. Rolled-back and failed transactions deliver nothing.
//!
//! Why it is built this way:
//! - **Commit order.** Write transactions are serialized by the engine, so each takes a
//!   *ticket* when it begins, in commit order. A committed transaction delivers its changes
//!   only after every earlier ticket is done (delivered, rolled back or dropped), so two
//!   transactions that commit back to back cannot deliver out of order.
//! - **A slow subscriber never blocks commits.** Each subscription has a bounded queue. A
//!   change that does not fit is not queued: the subscription counts it as lost and queues
//!   nothing more until the subscriber has read everything queued; then it reads one
//!   [`Change::Lost`] with the count, exactly where the gap is, and changes flow again. There
//!   is never a silent gap.
//! - **Only what is watched costs.** A transaction notes changes only of the types watched
//!   when it began (old records are decoded for them); other types pay nothing.

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use crate::key::EncodedBounds;

/// One committed change of a record of type `T`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    /// A new record.
    Inserted(T),
    /// A record replaced: the old and the new record.
    Updated {
        /// Before.
        old: T,
        /// After.
        new: T,
    },
    /// A record removed.
    Removed(T),
    /// The subscriber fell behind: this many changes were not delivered here, so what it
    /// knows may be stale; read the records again to resynchronise.
    Lost {
        /// How many changes were dropped.
        changes: u64,
    },
}

/// What a subscription holds between the writers and its reader.
#[derive(Debug)]
struct Queue<T> {
    changes: VecDeque<Change<T>>,
    /// Changes dropped since the queue filled up; while non-zero, nothing is queued.
    lost: u64,
}

#[derive(Debug)]
struct Shared<T> {
    queue: Mutex<Queue<T>>,
    ready: Condvar,
    capacity: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        // A panic while holding the lock cannot leave the queue half changed (each change is
        // one push or pop), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The receiving end of [`crate::Store::watch`]: an iterator of changes that waits for the
/// next one. Dropping it ends the subscription.
#[derive(Debug)]
pub struct Watch<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Watch<T> {
    /// The next change, waiting for one.
    pub fn recv(&self) -> Change<T> {
        let mut q = self.shared.lock();
        loop {
            if let Some(c) = Self::take(&mut q) {
                return c;
            }
            q = self.shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The next change if one is queued, without waiting.
    pub fn try_recv(&self) -> Option<Change<T>> {
        Self::take(&mut self.shared.lock())
    }

    /// The next change, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Change<T>> {
        let q = self.shared.lock();
        let (mut q, _) = self
            .shared
            .ready
            .wait_timeout_while(q, timeout, |q| q.changes.is_empty() && q.lost == 0)
            .unwrap_or_else(|p| p.into_inner());
        Self::take(&mut q)
    }

    fn take(q: &mut Queue<T>) -> Option<Change<T>> {
        if let Some(c) = q.changes.pop_front() {
            return Some(c);
        }
        if q.lost > 0 {
            let changes = std::mem::take(&mut q.lost);
            return Some(Change::Lost { changes });
        }
        None
    }
}

impl<T> Iterator for Watch<T> {
    type Item = Change<T>;

    /// Waits for the next change (the iteration never ends while the store lives).
    fn next(&mut self) -> Option<Change<T>> {
        Some(self.recv())
    }
}

/// A subscription as the hub sees it, whatever its type.
trait Sink: Send + Sync {
    /// Queues a change (a `&Change<T>` of the subscription's type).
    fn push(&self, change: &dyn Any);
}

impl<T: Clone + Send + 'static> Sink for Shared<T> {
    fn push(&self, change: &dyn Any) {
        let Some(change) = change.downcast_ref::<Change<T>>() else { return };
        let mut q = self.lock();
        if q.lost > 0 || q.changes.len() >= self.capacity {
            q.lost += 1;
        } else {
            q.changes.push_back(change.clone());
        }
        drop(q);
        self.ready.notify_all();
    }
}

/// One subscription: its type, its key range, and its queue (gone when the `Watch` is dropped).
struct Subscription {
    type_id: TypeId,
    bounds: EncodedBounds,
    sink: Weak<dyn Sink>,
}

/// Where writers find the subscriptions, and the order of delivery.
#[derive(Default)]
pub(crate) struct Hub {
    subscriptions: Mutex<Vec<Subscription>>,
    /// Tickets: the next to hand out, and the next whose turn it is to deliver.
    order: Mutex<(u64, u64)>,
    turn: Condvar,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// Subscribes to changes of `T` whose key is within `bounds`, with a queue of `capacity`.
    pub(crate) fn subscribe<T: Clone + Send + 'static>(&self, bounds: EncodedBounds, capacity: usize) -> Watch<T> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { changes: VecDeque::new(), lost: 0 }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        });
        let sink: Arc<dyn Sink> = shared.clone();
        let mut subs = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| s.sink.strong_count() > 0);
        subs.push(Subscription { type_id: TypeId::of::<T>(), bounds, sink: Arc::downgrade(&sink) });
        Watch { shared }
    }

    /// A ticket for a write transaction beginning now (write transactions begin one at a time,
    /// in commit order), and the types watched at this moment.
    pub(crate) fn ticket(self: &Arc<Hub>) -> Ticket {
        let watched = {
            let subs = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
            let mut t: Vec<TypeId> = subs.iter().filter(|s| s.sink.strong_count() > 0).map(|s| s.type_id).collect();
            t.sort_unstable();
            t.dedup();
            t
        };
        let mut order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        let number = order.0;
        order.0 += 1;
        Ticket { hub: Arc::clone(self), number, watched, changes: Vec::new(), done: false }
    }

    /// Waits for ticket `number`'s turn, runs `deliver`, and passes the turn on.
    fn in_turn(&self, number: u64, deliver: impl FnOnce()) {
        let mut order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        while order.1 < number {
            order = self.turn.wait(order).unwrap_or_else(|p| p.into_inner());
        }
        deliver();
        order.1 = number + 1;
        drop(order);
        self.turn.notify_all();
    }

    fn deliver(&self, changes: &[Noted]) {
        let subs = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        for n in changes {
            for s in subs.iter().filter(|s| s.type_id == n.type_id && within(&s.bounds, &n.key)) {
                if let Some(sink) = s.sink.upgrade() {
                    sink.push(&*n.change);
                }
            }
        }
    }
}

/// Whether `key` is within `bounds`.
fn within(bounds: &EncodedBounds, key: &[u8]) -> bool {
    let above = match &bounds.0 {
        Bound::Included(lo) => key >= lo.as_slice(),
        Bound::Excluded(lo) => key > lo.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match &bounds.1 {
        Bound::Included(hi) => key <= hi.as_slice(),
        Bound::Excluded(hi) => key < hi.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

/// A change noted by a write transaction, for delivery after its commit.
struct Noted {
    type_id: TypeId,
    key: Vec<u8>,
    change: Box<dyn Any>,
}

/// A write transaction's place in the delivery order and the changes it noted. Dropped without
/// [`Ticket::deliver`] (a rollback, a failed commit), it passes its turn on delivering nothing.
pub(crate) struct Ticket {
    hub: Arc<Hub>,
    number: u64,
    watched: Vec<TypeId>,
    changes: Vec<Noted>,
    done: bool,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket").field("number", &self.number).field("changes", &self.changes.len()).finish()
    }
}

impl Ticket {
    /// Whether changes of `T` are watched (and must be noted).
    pub(crate) fn watches<T: 'static>(&self) -> bool {
        self.watched.binary_search(&TypeId::of::<T>()).is_ok()
    }

    /// Notes a change of the record with (encoded) key `key`.
    pub(crate) fn note<T: 'static>(&mut self, key: &[u8], change: Change<T>) {
        self.changes.push(Noted { type_id: TypeId::of::<T>(), key: key.to_vec(), change: Box::new(change) });
    }

    /// Delivers the noted changes, in turn (the transaction committed durably).
    pub(crate) fn deliver(mut self) {
        self.done = true;
        let changes = std::mem::take(&mut self.changes);
        let hub = Arc::clone(&self.hub);
        hub.in_turn(self.number, || hub.deliver(&changes));
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            self.hub.in_turn(self.number, || {});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> EncodedBounds {
        (Bound::Unbounded, Bound::Unbounded)
    }

    #[test]
    fn an_overflow_is_one_marker_where_the_gap_is() {
        let hub = Arc::new(Hub::default());
        let w: Watch<u32> = hub.subscribe(all(), 2);
        for i in 0..5u32 {
            let mut t = hub.ticket();
            t.note(&[1], Change::Inserted(i));
            t.deliver();
        }
        assert_eq!(w.try_recv(), Some(Change::Inserted(0)));
        // Room again, but the gap comes first: nothing is queued until the reader caught up.
        let mut t = hub.ticket();
        t.note(&[1], Change::Inserted(5u32));
        t.deliver();
        assert_eq!(w.try_recv(), Some(Change::Inserted(1)));
        assert_eq!(w.try_recv(), Some(Change::Lost { changes: 4 }));
        assert_eq!(w.try_recv(), None);
        let mut t = hub.ticket();
        t.note(&[1], Change::Removed(6u32));
        t.deliver();
        assert_eq!(w.recv_timeout(Duration::from_secs(1)), Some(Change::Removed(6)));
    }

    #[test]
    fn dropped_tickets_pass_their_turn() {
        let hub = Arc::new(Hub::default());
        let w: Watch<u32> = hub.subscribe(all(), 10);
        let mut first = hub.ticket();
        let second = hub.ticket();
        let mut third = hub.ticket();
        first.note(&[1], Change::Inserted(1u32));
        third.note(&[1], Change::Inserted(3u32));
        first.deliver();
        drop(second);
        // Would wait forever if the dropped ticket had not passed its turn on.
        third.deliver();
        assert_eq!(w.try_recv(), Some(Change::Inserted(1)));
        assert_eq!(w.try_recv(), Some(Change::Inserted(3)));
    }

    #[test]
    fn key_ranges_and_types_filter_and_dropped_watches_are_forgotten() {
        let hub = Arc::new(Hub::default());
        let some: Watch<u32> = hub.subscribe((Bound::Included(vec![5]), Bound::Excluded(vec![9])), 10);
        let other: Watch<String> = hub.subscribe(all(), 10);
        let mut t = hub.ticket();
        assert!(t.watches::<u32>() && t.watches::<String>() && !t.watches::<u8>());
        t.note(&[4], Change::Inserted(4u32));
        t.note(&[5], Change::Inserted(5u32));
        t.note(&[9], Change::Inserted(9u32));
        t.deliver();
        assert_eq!(some.try_recv(), Some(Change::Inserted(5)));
        assert_eq!(some.try_recv(), None);
        assert_eq!(other.try_recv(), None);
        drop(some);
        drop(other);
        assert!(!hub.ticket().watches::<u32>());
    }
}
