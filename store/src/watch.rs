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

use crate::evolve::Resolved;
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
    /// The store is gone: no change will come.
    closed: bool,
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
    /// The next change, waiting for one; `None` once the store is dropped (after every change
    /// it delivered has been read).
    pub fn recv(&self) -> Option<Change<T>> {
        let mut q = self.shared.lock();
        loop {
            if let Some(c) = Self::take(&mut q) {
                return Some(c);
            }
            if q.closed {
                return None;
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
            .wait_timeout_while(q, timeout, |q| q.changes.is_empty() && q.lost == 0 && !q.closed)
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

    /// Waits for the next change; the iteration ends when the store is dropped.
    fn next(&mut self) -> Option<Change<T>> {
        self.recv()
    }
}

/// A subscription as the hub sees it, whatever its type.
trait Sink: Send + Sync {
    /// Queues a change (a `Change<T>` of the subscription's type, boxed).
    fn push(&self, change: &dyn Any);
    /// Counts `n` changes as lost (they cannot be delivered).
    fn lose(&self, n: u64);
    /// No change will come any more.
    fn close(&self);
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

    fn lose(&self, n: u64) {
        self.lock().lost += n;
        self.ready.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// One subscription: its type, its key range, and its queue (gone when the `Watch` is dropped).
struct Subscription {
    type_id: TypeId,
    bounds: EncodedBounds,
    sink: Weak<dyn Sink>,
    /// The first ticket handed out after it subscribed: earlier transactions did not note
    /// its type's changes, so it learns of theirs as lost.
    since: u64,
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
            queue: Mutex::new(Queue { changes: VecDeque::new(), lost: 0, closed: false }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        });
        let sink: Arc<dyn Sink> = shared.clone();
        let mut subs = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        // Under the subscriptions lock, which `ticket` takes before numbering: a ticket either
        // sees this subscription or is numbered below `since`.
        let since = self.order.lock().unwrap_or_else(|p| p.into_inner()).0;
        subs.retain(|s| s.sink.strong_count() > 0);
        subs.push(Subscription { type_id: TypeId::of::<T>(), bounds, sink: Arc::downgrade(&sink), since });
        Watch { shared }
    }

    /// A ticket for a write transaction beginning now (write transactions begin one at a time,
    /// in commit order), and the types watched at this moment.
    pub(crate) fn ticket(self: &Arc<Hub>) -> Ticket {
        let subs = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        let mut watched: Vec<TypeId> = subs.iter().filter(|s| s.sink.strong_count() > 0).map(|s| s.type_id).collect();
        watched.sort_unstable();
        watched.dedup();
        let mut order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        let number = order.0;
        order.0 += 1;
        drop(order);
        drop(subs);
        Ticket { hub: Arc::clone(self), number, watched, changes: Vec::new(), written: Vec::new(), done: false }
    }

    /// Waits for ticket `number`'s turn, runs `deliver`, and passes the turn on (also if
    /// `deliver` panics: later transactions must never wait forever).
    fn in_turn(&self, number: u64, deliver: impl FnOnce()) {
        struct PassOn<'h>(&'h Hub, u64);
        impl Drop for PassOn<'_> {
            fn drop(&mut self) {
                let mut order = self.0.order.lock().unwrap_or_else(|p| p.into_inner());
                order.1 = order.1.max(self.1 + 1);
                drop(order);
                self.0.turn.notify_all();
            }
        }
        let mut order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        while order.1 < number {
            order = self.turn.wait(order).unwrap_or_else(|p| p.into_inner());
        }
        drop(order);
        let _pass_on = PassOn(self, number);
        deliver();
    }

    /// Delivers ticket `number`'s changes: decoded, to the subscriptions that it watched; as
    /// lost, to those that subscribed after it began and whose type it wrote.
    fn deliver(&self, number: u64, changes: &[Noted], written: &[(TypeId, u64)]) {
        let subs = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        for s in subs.iter().filter(|s| s.since > number) {
            if let (Some(sink), Some((_, n))) = (s.sink.upgrade(), written.iter().find(|(t, _)| *t == s.type_id)) {
                sink.lose(*n);
            }
        }
        for n in changes {
            let targets: Vec<Arc<dyn Sink>> = subs
                .iter()
                .filter(|s| s.since <= number && s.type_id == n.type_id && within(&s.bounds, &n.key))
                .filter_map(|s| s.sink.upgrade())
                .collect();
            if targets.is_empty() {
                continue;
            }
            match (n.decode)(n.resolved, &n.key, n.old.as_deref(), n.new.as_deref()) {
                Some(change) => targets.iter().for_each(|t| t.push(&*change)),
                // Checked before the write was applied; should it fail now, say so.
                None => targets.iter().for_each(|t| t.lose(1)),
            }
        }
    }
}

impl Drop for Hub {
    /// The store is gone: every subscription ends once its queue is read.
    fn drop(&mut self) {
        let subs = self.subscriptions.get_mut().unwrap_or_else(|p| p.into_inner());
        for s in subs.iter() {
            if let Some(sink) = s.sink.upgrade() {
                sink.close();
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

/// Decodes a noted change (`resolved`: how the type reads its values; the key, the old and
/// the new stored value) into a boxed `Change<T>`, or `None` if a value does not decode.
pub(crate) type DecodeChange = fn(&Resolved, &[u8], Option<&[u8]>, Option<&[u8]>) -> Option<Box<dyn Any>>;

/// A change noted by a write transaction, for delivery after its commit: the stored values,
/// decoded for the subscribers at delivery (so the transaction stays `Send`).
struct Noted {
    type_id: TypeId,
    key: Vec<u8>,
    old: Option<Vec<u8>>,
    new: Option<Vec<u8>>,
    resolved: &'static Resolved,
    decode: DecodeChange,
}

/// A write transaction's place in the delivery order and the changes it noted. Dropped without
/// [`Ticket::deliver`] (a rollback, a failed commit), it passes its turn on delivering nothing.
pub(crate) struct Ticket {
    hub: Arc<Hub>,
    number: u64,
    watched: Vec<TypeId>,
    changes: Vec<Noted>,
    /// How many changes of each type the transaction made (watched or not).
    written: Vec<(TypeId, u64)>,
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

    /// Counts `n` changes of records of `T` (every write does, watched or not).
    pub(crate) fn wrote<T: 'static>(&mut self, n: u64) {
        let t = TypeId::of::<T>();
        match self.written.iter_mut().find(|(w, _)| *w == t) {
            Some((_, c)) => *c += n,
            None => self.written.push((t, n)),
        }
    }

    /// Notes a change of a watched type `T`: the record's key and its stored values before
    /// and after.
    pub(crate) fn note<T: 'static>(
        &mut self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
        resolved: &'static Resolved,
        decode: DecodeChange,
    ) {
        self.changes.push(Noted {
            type_id: TypeId::of::<T>(),
            key: key.to_vec(),
            old: old.map(<[u8]>::to_vec),
            new: new.map(<[u8]>::to_vec),
            resolved,
            decode,
        });
    }

    /// Delivers the noted changes, in turn (the transaction committed durably).
    pub(crate) fn deliver(mut self) {
        self.done = true;
        let changes = std::mem::take(&mut self.changes);
        let written = std::mem::take(&mut self.written);
        let hub = Arc::clone(&self.hub);
        let number = self.number;
        hub.in_turn(number, || hub.deliver(number, &changes, &written));
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

/// Decodes a noted change of `T` for the subscribers (see [`crate::watch`]).
pub(crate) fn decode_change<T: crate::Record>(
    resolved: &Resolved,
    key: &[u8],
    old: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Option<Box<dyn std::any::Any>> {
    let old: Option<T> = match old {
        Some(v) => Some(resolved.decode(key, v).ok()?),
        None => None,
    };
    let new: Option<T> = match new {
        Some(v) => Some(resolved.decode(key, v).ok()?),
        None => None,
    };
    let change = match (old, new) {
        (None, Some(new)) => Change::Inserted(new),
        (Some(old), Some(new)) => Change::Updated { old, new },
        (Some(old), None) => Change::Removed(old),
        (None, None) => return None,
    };
    Some(Box::new(change))
}
