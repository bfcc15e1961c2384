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

use crate::db::DB;
use crate::error::{Error, Result};
use crate::tx::Tx;

/// A function submitted to [`DB::batch`].
pub type BatchFn = Box<dyn Fn(&mut Tx<'_>) -> Result<()> + Send>;

struct Call {
    f: BatchFn,
    done: Sender<Result<()>>,
}

/// The batch being filled.
#[derive(Default)]
pub(crate) struct Pending {
    calls: Vec<Call>,
}

/// Shared batch slot of a database.
#[derive(Default)]
pub(crate) struct Batcher {
    current: Mutex<Option<Arc<(Mutex<Pending>, Condvar)>>>,
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
        rx.recv().unwrap_or(Err(Error::TxClosed))
    }

    fn lead(&self, batch: &Arc<(Mutex<Pending>, Condvar)>) {
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
            let mut failed: Option<(usize, Error)> = None;
            let r = self.update(|tx| {
                for (i, c) in calls.iter().enumerate() {
                    if let Err(e) = (c.f)(tx) {
                        failed = Some((i, e));
                        return Err(Error::TxClosed);
                    }
                }
                Ok(())
            });
            match (r, failed) {
                (Ok(()), _) => {
                    for c in calls.drain(..) {
                        let _ = c.done.send(Ok(()));
                    }
                }
                (Err(_), Some((i, e))) => {
                    let c = calls.remove(i);
                    let _ = c.done.send(Err(e));
                }
                (Err(e), None) => {
                    // The commit itself failed: everyone gets the error.
                    let msg = e.to_string();
                    let mut first = Some(e);
                    for c in calls.drain(..) {
                        let err = first.take().unwrap_or_else(|| Error::BatchFailed(msg.clone()));
                        let _ = c.done.send(Err(err));
                    }
                }
            }
        }
    }
}
