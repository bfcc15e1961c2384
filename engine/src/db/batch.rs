//! Group commit: concurrent [`crate::DB::batch`] calls share one write transaction and one fsync.
//!
//! The first caller to find no open batch becomes its leader: it waits until the batch holds
//! `max_batch_size` calls or `max_batch_delay` has passed, closes it to newcomers, and runs every
//! call in one transaction. If a call fails, the transaction is rolled back, that call alone is
//! given its error, and the others are run again without it (as bbolt does). So a function may
//! run more than once and must be idempotent in its effects on the transaction (it always sees
//! a fresh one), and it must not have side effects outside the database that it cannot repeat.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::db::core::Core;
use crate::db::tx::Tx;
use crate::error::{Error, Result};

/// A function submitted to [`crate::DB::batch`]. If it panics, the panic is raised again in the thread
/// that called `batch` with it, and the rest of the batch commits without it.
pub type BatchFn = Box<dyn Fn(&mut Tx<'_>) -> Result<()> + Send>;

/// What a call gets back: its result, or the panic its function raised (re-raised in the
/// caller's own thread, never in the leader's).
enum Outcome {
    Done(Result<()>),
    Panicked(Box<dyn std::any::Any + Send>),
}

struct Call {
    f: BatchFn,
    done: Sender<Outcome>,
}

/// The batch being filled.
#[derive(Default)]
pub(crate) struct Pending {
    calls: Vec<Call>,
}

/// A batch being filled, and the condition its leader waits on.
type Shared = Arc<(Mutex<Pending>, Condvar)>;

/// Shared batch slot of a database.
#[derive(Default)]
pub(crate) struct Batcher {
    current: Mutex<Option<Shared>>,
}

impl Batcher {
    /// Runs `f` in the batch being filled, leading it if there is none (see
    /// [`crate::DB::batch`]).
    pub(crate) fn run(&self, core: &Core, f: BatchFn) -> Result<()> {
        let (tx, rx) = channel();
        let call = Call { f, done: tx };
        let (batch, leader) = {
            let mut slot = self.current.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                Some(b) => {
                    let mut p = b.0.lock().unwrap_or_else(|e| e.into_inner());
                    p.calls.push(call);
                    if p.calls.len() >= core.opts.max_batch_size.max(1) {
                        b.1.notify_all();
                    }
                    (b.clone(), false)
                }
                None => {
                    let b = Arc::new((Mutex::new(Pending { calls: vec![call] }), Condvar::new()));
                    *slot = Some(b.clone());
                    (b, true)
                }
            }
        };
        if leader {
            self.lead(core, &batch);
        }
        match rx.recv() {
            Ok(Outcome::Done(r)) => r,
            Ok(Outcome::Panicked(payload)) => std::panic::resume_unwind(payload),
            // The leader vanished without answering (it cannot, short of an engine bug).
            Err(_) => Err(Error::TxClosed),
        }
    }

    fn lead(&self, core: &Core, batch: &Shared) {
        let deadline = Instant::now() + core.opts.max_batch_delay;
        let max = core.opts.max_batch_size.max(1);
        {
            let mut p = batch.0.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let now = Instant::now();
                if p.calls.len() >= max || now >= deadline {
                    break;
                }
                p = batch.1.wait_timeout(p, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
        // Close the batch to newcomers, then take its calls.
        {
            let mut slot = self.current.lock().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_some_and(|b| Arc::ptr_eq(b, batch)) {
                *slot = None;
            }
        }
        let mut calls = {
            let mut p = batch.0.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut p.calls)
        };
        while !calls.is_empty() {
            let mut failed: Option<(usize, Outcome)> = None;
            let r = update(core, |tx| {
                for (i, c) in calls.iter().enumerate() {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (c.f)(tx)));
                    let outcome = match r {
                        Ok(Ok(())) => continue,
                        Ok(Err(e)) => Outcome::Done(Err(e)),
                        Err(payload) => Outcome::Panicked(payload),
                    };
                    failed = Some((i, outcome));
                    return Err(Error::TxClosed);
                }
                Ok(())
            });
            match (r, failed) {
                (Ok(()), _) => {
                    for c in calls.drain(..) {
                        let _ = c.done.send(Outcome::Done(Ok(())));
                    }
                }
                (Err(_), Some((i, e))) => {
                    let c = calls.remove(i);
                    let _ = c.done.send(e);
                }
                (Err(e), None) => {
                    // The commit itself failed: everyone gets the error.
                    let msg = e.to_string();
                    let mut first = Some(e);
                    for c in calls.drain(..) {
                        let err = first.take().unwrap_or_else(|| Error::BatchFailed(msg.clone()));
                        let _ = c.done.send(Outcome::Done(Err(err)));
                    }
                }
            }
        }
    }
}

/// Runs `f` in a write transaction on `core` and commits it if `f` returns `Ok`.
fn update(core: &Core, f: impl FnOnce(&mut Tx<'_>) -> Result<()>) -> Result<()> {
    let mut tx = Tx::new_write(core, crate::db::journaled::prepare(core, core.begin_write()?)?);
    match f(&mut tx) {
        Ok(()) => tx.commit(),
        Err(e) => {
            tx.rollback();
            Err(e)
        }
    }
}
