//! Group commit: concurrent [`DB::batch`] calls share one write transaction and one fsync.
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

use crate::db::handle::DB;
use crate::db::tx::Tx;
use crate::error::{Error, Result};

/// A function submitted to [`DB::batch`]. If it panics, the panic is raised again in the thread
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

impl DB {
    /// Runs `f` in a write transaction shared with other concurrent `batch` calls, so that many
    /// small writes from many threads cost one commit (`Options::max_batch_size` calls, default
    /// 1000, or `max_batch_delay`, default 10 ms, whichever comes first).
    ///
    /// `f` may run more than once: if another call in the same batch fails, the batch is run
    /// again without it. Only the failing call gets its error.
    ///
    /// # Errors
    /// `f`'s own error, or the commit's error.
    pub fn batch<F>(&self, f: F) -> Result<()>
    where
        F: Fn(&mut Tx<'_>) -> Result<()> + Send + 'static,
    {
        let (tx, rx) = channel();
        let call = Call { f: Box::new(f), done: tx };
        let (batch, leader) = {
            let mut slot = self.batcher.current.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                Some(b) => {
                    let mut p = b.0.lock().unwrap_or_else(|e| e.into_inner());
                    p.calls.push(call);
                    if p.calls.len() >= self.options().max_batch_size.max(1) {
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
            self.lead(&batch);
        }
        match rx.recv() {
            Ok(Outcome::Done(r)) => r,
            Ok(Outcome::Panicked(payload)) => std::panic::resume_unwind(payload),
            // The leader vanished without answering (it cannot, short of an engine bug).
            Err(_) => Err(Error::TxClosed),
        }
    }

    fn lead(&self, batch: &Shared) {
        let deadline = Instant::now() + self.options().max_batch_delay;
        let max = self.options().max_batch_size.max(1);
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
            let mut slot = self.batcher.current.lock().unwrap_or_else(|e| e.into_inner());
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
            let r = self.update(|tx| {
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
