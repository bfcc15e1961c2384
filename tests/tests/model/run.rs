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
    // In journal mode a checkpoint before the transaction (the journal was full) takes one or
    // two txids of its own (the second to write its meta to the page the last checkpoint's is
    // not on).
    let slack = 2 * u64::from(db.options().journal);
    let apply = |tx: &mut Tx<'_>, work: &mut MBucket| -> Result<(), TestCaseError> {
        prop_assert!(
            (before + 1..=before + 1 + slack).contains(&tx.id()),
            "{}: id {} of the write transaction after {}",
            ctx,
            tx.id(),
            before
        );
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
    let want = before + u64::from(done);
    prop_assert!((want..=want + slack).contains(&after), "{}: txid {} after {:?} from {}", ctx, after, w.end, before);
    if let (Some(r), Some(old)) = (reader, old) {
        check_reader(&r, &old, &format!("{ctx}: reader held across the write"))?;
    }
    verify(db, committed, &format!("{ctx}: after {:?}", w.end))
}

pub(crate) fn run(plan: &Plan) -> Result<(), TestCaseError> {
    let dir = scratch();
    let mut path = dir.path().join("model.db");
    // The smallest limit, so that checkpoints also happen on their own.
    let journaled = |opts: Options, on: bool| opts.journal(on).journal_max_bytes(1 << 20);
    let mut opts = journaled(Options::default().no_freelist_sync(plan.no_freelist_sync), plan.journal);
    if let Some(ps) = plan.page_size {
        opts = opts.page_size(ps);
    }
    let mut crashes = 0;
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
                Step::Checkpoint => db.checkpoint().map_err(|e| fail(format!("{ctx}: checkpoint: {e:?}")))?,
                Step::Reopen { no_freelist_sync, peek_read_only, journal, crash } => {
                    if *crash {
                        // The files as they are now, under a new name; the round goes on there.
                        crashes += 1;
                        let copy = dir.path().join(format!("crash{crashes}.db"));
                        crash_copy(&path, &copy);
                        path = copy;
                    }
                    reopen = Some((i, *no_freelist_sync, *peek_read_only, *journal));
                    break;
                }
            }
        }
        for (tx, old, from) in readers {
            check_reader(&tx, &old, &format!("end of round: reader held since {from}"))?;
        }
        drop(db);
        if let Some((i, no_freelist_sync, peek_read_only, journal)) = reopen {
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
            opts = journaled(Options::default().no_freelist_sync(no_freelist_sync), journal);
            let d = open(&path, opts.clone(), &ctx)?;
            verify(&d, &committed, &format!("{ctx}: reopened"))?;
        }
    }
    Ok(())
}

/// Copies the database at `from`, and its journal if it has one, to `to` (and `to`'s journal).
fn crash_copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy the database");
    let journal = |p: &Path| {
        let mut s = p.as_os_str().to_owned();
        s.push("-journal");
        std::path::PathBuf::from(s)
    };
    if journal(from).exists() {
        std::fs::copy(journal(from), journal(to)).expect("copy the journal");
    }
}

/// A read transaction held while others committed still sees its snapshot, consistently.
fn check_reader(tx: &Tx<'_>, old: &MBucket, ctx: &str) -> Result<(), TestCaseError> {
    let problems = tx.check().map_err(|e| fail(format!("{ctx}: check: {e:?}")))?;
    prop_assert!(problems.is_empty(), "{}: check found {:?}", ctx, problems);
    everything(tx, old, ctx)
}
