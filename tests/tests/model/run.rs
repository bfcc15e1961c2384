//! Running a plan: opening and reopening the database, write transactions with their ends
//! (commit, update, rollback, drop, failing update), read steps, and readers held across writes.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rivet_engine::{Error, Options, Tx, DB};
use rivet_tests::{rust_dump, scratch};

use crate::apply::{read_op, write_op};
use crate::compare::{everything, fail, verify};
use crate::model::MBucket;
use crate::ops::{End, Plan, Step, WritePlan};
use crate::stats;

fn open(path: &Path, opts: Options, ctx: &str) -> Result<DB, TestCaseError> {
    DB::open(path, opts.with_timeout(Duration::from_secs(10))).map_err(|e| fail(format!("{ctx}: open: {e:?}")))
}

enum Upd {
    Engine(Error),
    Test(TestCaseError),
    Abort,
}

impl From<Error> for Upd {
    fn from(e: Error) -> Self {
        Upd::Engine(e)
    }
}

fn run_write(db: &DB, committed: &mut MBucket, w: &WritePlan, ctx: &str) -> Result<(), TestCaseError> {
    let before = db.info().meta.txid;
    let old = w.reader.then(|| committed.clone());
    let reader = match w.reader {
        true => Some(db.begin(false).map_err(|e| fail(format!("{ctx}: begin read: {e:?}")))?),
        false => None,
    };
    let mut work = committed.clone();
    let apply = |tx: &mut Tx<'_>, work: &mut MBucket| -> Result<(), TestCaseError> {
        prop_assert_eq!(tx.id(), before + 1, "{}: id of the write transaction", ctx);
        for (i, op) in w.ops.iter().enumerate() {
            stats::add(&stats::OPS);
            write_op(tx, work, op).map_err(|e| fail(format!("{ctx} op {i}: {e}")))?;
        }
        everything(tx, work, &format!("{ctx}: before {:?}", w.end))
    };
    let done = match w.end {
        End::Commit | End::Rollback | End::Drop => {
            let mut tx = db.begin(true).map_err(|e| fail(format!("{ctx}: begin write: {e:?}")))?;
            apply(&mut tx, &mut work)?;
            match w.end {
                End::Commit => {
                    tx.commit().map_err(|e| fail(format!("{ctx}: commit: {e:?}")))?;
                    true
                }
                End::Rollback => {
                    tx.rollback();
                    false
                }
                _ => {
                    drop(tx);
                    false
                }
            }
        }
        End::UpdateOk | End::UpdateErr => {
            let r = db.update(|tx| {
                apply(tx, &mut work).map_err(Upd::Test)?;
                match w.end {
                    End::UpdateOk => Ok(()),
                    _ => Err(Upd::Abort),
                }
            });
            match r {
                Ok(()) => true,
                Err(Upd::Abort) => false,
                Err(Upd::Test(e)) => return Err(e),
                Err(Upd::Engine(e)) => return Err(fail(format!("{ctx}: update: {e:?}"))),
            }
        }
    };
    stats::add(if done { &stats::COMMITS } else { &stats::ROLLBACKS });
    if done {
        *committed = work;
    }
    let after = db.info().meta.txid;
    prop_assert_eq!(after, before + u64::from(done), "{}: txid after {:?}", ctx, w.end);
    if let (Some(r), Some(old)) = (reader, old) {
        check_reader(&r, &old, &format!("{ctx}: reader held across the write"))?;
    }
    verify(db, committed, &format!("{ctx}: after {:?}", w.end))
}

pub(crate) fn run(plan: &Plan) -> Result<(), TestCaseError> {
    let dir = scratch();
    let path = dir.path().join("model.db");
    let mut opts = Options::default().no_freelist_sync(plan.no_freelist_sync);
    if let Some(ps) = plan.page_size {
        opts = opts.page_size(ps);
    }
    let mut committed = MBucket::default();
    let mut steps = plan.steps.iter().enumerate().peekable();
    // One round per open of the database; a `Reopen` step ends the round.
    while steps.peek().is_some() {
        let db = open(&path, opts.clone(), "open")?;
        // Read transactions held across steps, with the state they must keep seeing.
        let mut readers: Vec<(Tx<'_>, MBucket, String)> = Vec::new();
        let mut reopen = None;
        for (i, step) in steps.by_ref() {
            let ctx = format!("step {i}");
            match step {
                Step::Write(w) => run_write(&db, &mut committed, w, &ctx)?,
                Step::Read(ops) => {
                    let tx = db.begin(false).map_err(|e| fail(format!("{ctx}: begin read: {e:?}")))?;
                    for (j, op) in ops.iter().enumerate() {
                        stats::add(&stats::OPS);
                        read_op(&tx, &committed, op).map_err(|e| fail(format!("{ctx} read {j}: {e}")))?;
                    }
                }
                Step::HoldReader => {
                    let tx = db.begin(false).map_err(|e| fail(format!("{ctx}: begin read: {e:?}")))?;
                    readers.push((tx, committed.clone(), ctx));
                }
                Step::ReleaseReader(pick) => {
                    if !readers.is_empty() {
                        let (tx, old, from) = readers.remove(pick.index(readers.len()));
                        check_reader(&tx, &old, &format!("{ctx}: reader held since {from}"))?;
                    }
                }
                Step::Reopen { no_freelist_sync, peek_read_only } => {
                    reopen = Some((i, *no_freelist_sync, *peek_read_only));
                    break;
                }
            }
        }
        for (tx, old, from) in readers {
            check_reader(&tx, &old, &format!("end of round: reader held since {from}"))?;
        }
        drop(db);
        if let Some((i, no_freelist_sync, peek_read_only)) = reopen {
            let ctx = format!("step {i}");
            stats::add(&stats::REOPENS);
            if peek_read_only {
                let ro = open(&path, Options::default().read_only(true), &ctx)?;
                verify(&ro, &committed, &format!("{ctx}: read-only"))?;
                prop_assert!(rust_dump(&path) == committed.json(), "{}: rust_dump differs from the model's", ctx);
                let w = ro.begin(true).map(|_| ());
                if !matches!(w, Err(Error::DatabaseReadOnly)) {
                    return Err(fail(format!("{ctx}: write tx on a read-only DB: {w:?}")));
                }
            }
            opts = Options::default().no_freelist_sync(no_freelist_sync);
            let d = open(&path, opts.clone(), &ctx)?;
            verify(&d, &committed, &format!("{ctx}: reopened"))?;
        }
    }
    Ok(())
}

/// A read transaction held while others committed still sees its snapshot, consistently.
fn check_reader(tx: &Tx<'_>, old: &MBucket, ctx: &str) -> Result<(), TestCaseError> {
    let problems = tx.check().map_err(|e| fail(format!("{ctx}: check: {e:?}")))?;
    prop_assert!(problems.is_empty(), "{}: check found {:?}", ctx, problems);
    everything(tx, old, ctx)
}
