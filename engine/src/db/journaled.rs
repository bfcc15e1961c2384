//! The database handle's side of the journal (design doc, "The journal"): recovery at open, a
//! checkpoint before a write transaction when the journal is full, the journaled commit,
//! explicit checkpoints, and the checkpoint at close.
//!
//! The journal-mode state ([`JournalState`]) sits in [`Core::journal`]; it is only touched by
//! the holder of the writer's slot, which takes the slot first and the state's mutex second.

use std::sync::Arc;

use crate::commit::protocol::{Committed, Failure};
use crate::commit::write::WriteTx;
use crate::corruption::Corruption;
use crate::db::core::{lock, Core};
use crate::error::{Error, Result};
use crate::format::meta::Meta;
use crate::format::oplog::OpLog;
use crate::journal::file::{journal_path, FileJournal, JournalIo};
use crate::journal::format::{Header, JournalDamage, RecordKind};
use crate::journal::replay::replay;
use crate::journal::scan::{scan, Record};
use crate::journal::state::{mismatch, JournalState, Recovery};
use crate::journal::writer::{Journal, Syncer};

/// What the journal's file goes through: the real file as it is, or wrapped by a test (to
/// inject faults or record writes, as [`crate::DB::open_with_storage`] does for the database).
pub(crate) type WrapJournal<'a> = &'a mut dyn FnMut(Arc<dyn JournalIo>) -> Arc<dyn JournalIo>;

/// What the open found: the journal's file, the commit records to replay, and, if the journal
/// goes on as it is, its header and where its intact records end.
type Found = (Arc<dyn JournalIo>, Vec<Record>, Option<(Header, u64)>);

/// The header of a journal that follows `meta`.
fn header_for(meta: &Meta) -> Header {
    Header { page_size: meta.page_size, base_txid: meta.txid, base_checksum: meta.checksum }
}

/// Whether `meta` is the meta `header` names.
fn follows(header: &Header, meta: &Meta) -> bool {
    header.base_txid == meta.txid && header.base_checksum == meta.checksum && header.page_size == meta.page_size
}

/// At open: finds the journal beside the file, replays what it holds that the file does not,
/// and, in journal mode, keeps it for the commits to come. Without journal mode a journal found
/// is replayed, checkpointed and removed, so the file holds everything.
///
/// # Errors
/// [`Error::JournalMismatch`] if the journal follows another state of the file (nothing is
/// changed); [`Error::Corrupted`] if an intact record does not replay; [`Error::Io`];
/// [`Error::Invalid`] for a read-only open of a file whose journal holds commits (they can
/// only be replayed by a read-write open).
pub(crate) fn recover(core: &Core, wrap: WrapJournal<'_>) -> Result<Option<Recovery>> {
    let path = journal_path(&core.path);
    let existing = if core.opts.read_only { FileJournal::open_read_only(&path)? } else { FileJournal::open(&path)? };
    if existing.is_none() && (!core.opts.journal || core.opts.read_only) {
        return Ok(None);
    }
    let durable = core.meta();
    let mut report = Recovery::default();
    let (io, todo, keep): Found = match existing {
        None => (wrap(Arc::new(FileJournal::create(&path)?)), Vec::new(), None),
        Some(f) => {
            let io: Arc<dyn JournalIo> = wrap(Arc::new(f));
            let s = scan(&*io)?;
            if let Some(d) = &s.dropped {
                report.dropped = Some((d.at, d.bytes, d.reason.to_string()));
            }
            match s.header {
                Err(JournalDamage::Empty) => (io, Vec::new(), None),
                // A header that does not hold: no record can be trusted to follow the file.
                Err(_) => (io, Vec::new(), None),
                Ok(h) if follows(&h, &durable) => {
                    // Every commit record; a checkpoint record here is one whose meta never
                    // reached the file (the commits before it are replayed instead).
                    let end = s.valid_end;
                    let todo = s.records.into_iter().filter(|r| r.kind == RecordKind::Commit).collect();
                    (io, todo, Some((h, end)))
                }
                Ok(h) => {
                    let done = s.records.iter().rposition(|r| {
                        r.kind == RecordKind::Checkpoint
                            && r.txid == durable.txid
                            && r.payload == durable.checksum.to_le_bytes()
                    });
                    let commits = s.records.iter().any(|r| r.kind == RecordKind::Commit);
                    match done {
                        // The checkpoint reached the file, the reset did not: what follows it
                        // (nothing, normally) is still to replay, on a fresh journal.
                        Some(i) => (
                            io,
                            s.records.into_iter().skip(i + 1).filter(|r| r.kind == RecordKind::Commit).collect(),
                            None,
                        ),
                        // No commit to replay, so nothing to lose: a reset whose truncation
                        // reached the disk and whose new header did not (a power loss between
                        // the two, as the torture suite found), or a journal left empty.
                        None if !commits => (io, Vec::new(), None),
                        None => return Err(mismatch(h.base_txid, durable.txid)),
                    }
                }
            }
        }
    };
    if core.opts.read_only {
        if let (false, Some((h, end))) = (todo.is_empty(), keep) {
            replay_in_memory(core, Journal::read_only(io, h, end), &todo)?;
            report.replayed = todo.len() as u64;
        } else if !todo.is_empty() {
            // Only after a checkpoint whose reset did not happen, with commits after it: the
            // journal's header does not name the file's meta, so no journal state can follow
            // it without rewriting the header.
            return Err(Error::Invalid(format!(
                "the journal holds {} commits after a checkpoint; open the database read-write once to replay them",
                todo.len()
            )));
        }
        return Ok(Some(report));
    }
    let journal = match keep {
        Some((h, end)) => Journal::open_at_end(io, h, end)?,
        None => Journal::create(io, header_for(&durable))?,
    };
    *lock(&core.journal) = Some(JournalState::new(journal, durable, core.opts.journal_max_bytes));
    if let Some(w) = lock(&core.writer).as_mut() {
        w.release_cap = durable.txid;
    }
    for r in &todo {
        replay_one(core, r)?;
        report.replayed += 1;
    }
    if !core.opts.journal {
        shutdown(core)?;
    }
    Ok(Some(report))
}

/// A read-only handle's replay: the records become versions in memory, through a writer's
/// state of its own that nothing else uses, and nothing is written to either file. The
/// handle then reads the journaled state, as a read-write one would.
fn replay_in_memory(core: &Core, journal: Journal, todo: &[Record]) -> Result<()> {
    let durable = core.meta();
    let mut js = JournalState::new(journal, durable, core.opts.journal_max_bytes);
    let len = core.file.metadata().map_err(|source| Error::Io { op: "stat", path: core.path.clone(), source })?.len();
    let mut writer = crate::commit::write::Writer::load(&core.snapshot(), len, 0)?;
    for r in todo {
        let mut w = WriteTx::new(core.snapshot(), writer);
        replay_record(&mut w, r)?;
        let committed = js.commit(&mut w, &[], false, false).map_err(|f| match f {
            Failure::Refused(e) | Failure::Io(e) => e,
        })?;
        core.publish(&committed)?;
        writer = w.writer;
    }
    Ok(())
}

/// Replays one commit record: a write transaction that applies its operations and commits
/// into the generation without appending (the record is in the journal already).
fn replay_one(core: &Core, r: &Record) -> Result<()> {
    let mut w = core.begin_write()?;
    let committed = match replay_record(&mut w, r) {
        Err(e) => Err(Failure::Refused(e)),
        Ok(()) => match lock(&core.journal).as_mut() {
            Some(js) => js.commit(&mut w, &[], false, false),
            None => Err(Failure::Refused(Error::TxClosed)),
        },
    };
    finish(core, w, committed)
}

/// Applies record `r` to `w`, which must be the transaction that follows the record's
/// predecessor.
fn replay_record(w: &mut WriteTx, r: &Record) -> Result<()> {
    if w.txid != r.txid {
        let why = format!("the database is at transaction {}, the record follows {}", w.txid - 1, r.txid - 1);
        return Err(Error::corrupted(0, Corruption::JournalReplay { txid: r.txid, why: why.into() }));
    }
    replay(w, r.txid, &r.payload)
}

/// Publishes a commit that succeeded, or handles one that failed (poisoning the handle after
/// an I/O failure), and gives the writer's slot back.
fn finish(core: &Core, w: WriteTx, committed: std::result::Result<Committed, Failure>) -> Result<()> {
    let result = match committed {
        Ok(c) => core.publish(&c).map(drop),
        Err(Failure::Refused(e)) => Err(e),
        Err(Failure::Io(e)) => {
            core.poison();
            Err(e)
        }
    };
    core.end_write(w.writer);
    result
}

/// In journal mode, after the writer's slot is taken: checkpoints first if the journal is
/// full (on `w`, which is then used up and replaced by a fresh transaction), and starts the
/// operation log of the transaction returned.
///
/// # Errors
/// As [`checkpoint`].
pub(crate) fn prepare(core: &Core, mut w: WriteTx) -> Result<WriteTx> {
    let full = match lock(&core.journal).as_ref() {
        None => return Ok(w),
        Some(js) => js.full() && js.dirty(&w.snap.meta),
    };
    if full {
        run_checkpoint(core, w)?;
        w = core.begin_write()?;
    }
    w.log = Some(OpLog::new());
    Ok(w)
}

/// Commits `w` in journal mode with group commit (module `crate::journal::group`): appends
/// its record, gives the writer's slot up, and returns once a sync shared with other
/// committers has made the record durable and its version is published. Gives `w` back when
/// the commit must run inline instead, holding the slot through its sync: without journal mode,
/// in strict mode (the check needs the slot), or for a transaction too large for the journal
/// (see [`commit`]).
///
/// # Errors
/// As a commit: [`Error::Io`] (the handle is then poisoned; a commit that shared the failed
/// sync fails too), [`Error::Corrupted`].
pub(crate) fn commit_grouped(core: &Core, mut w: Box<WriteTx>) -> std::result::Result<Result<()>, Box<WriteTx>> {
    let (committed, syncer) = {
        let mut guard = lock(&core.journal);
        let Some(js) = guard.as_mut() else { return Err(w) };
        let log_len = w.log.as_ref().map_or(0, OpLog::len);
        if core.opts.strict_mode || js.too_large(log_len) {
            return Err(w);
        }
        let log = w.log.take().unwrap_or_default();
        (js.commit(&mut w, log.as_bytes(), true, false), js.journal.syncer())
    };
    let committed = match committed {
        Ok(c) => c,
        Err(failure) => return Ok(finish(core, *w, Err(failure))),
    };
    // Queued before the slot is given up, so that the queue is in txid order; the next writer
    // starts from this version.
    w.writer.newest = Some((committed.meta, committed.gen.clone()));
    let callbacks = std::mem::take(&mut w.on_commit);
    let seq = lock(&core.group).push(committed, callbacks);
    core.end_write(w.writer);
    Ok(wait_durable(core, seq, &syncer))
}

/// How long a committer about to sync waits for a commit in progress to append first.
const GROUP_WAIT: std::time::Duration = std::time::Duration::from_micros(200);

/// Waits until record `seq` is durable and its version published, syncing the journal itself
/// when no other committer is.
fn wait_durable(core: &Core, seq: u64, syncer: &Syncer) -> Result<()> {
    let mut g = lock(&core.group);
    loop {
        if g.synced >= seq {
            return Ok(());
        }
        if g.failed {
            return Err(Error::Poisoned);
        }
        if g.syncing {
            g = core.group_done.wait(g).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        g.syncing = true;
        drop(g);
        // A commit in progress (another thread holds the writer's slot) appends within tens of
        // microseconds; a sync takes longer. Waiting for it, a little, lets this sync cover it
        // too, instead of starting the next sync right after this one for that record alone.
        let deadline = std::time::Instant::now() + GROUP_WAIT;
        let mut slot = lock(&core.writer);
        while slot.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            slot = core.writer_free.wait_timeout(slot, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        drop(slot);
        g = lock(&core.group);
        let target = g.appended;
        drop(g);
        let synced = if core.opts.no_sync { Ok(()) } else { syncer.sync() };
        g = lock(&core.group);
        g.syncing = false;
        if let Err(e) = synced {
            g.failed = true;
            core.poison();
            core.group_done.notify_all();
            return Err(e);
        }
        let ready = g.synced_to(target);
        g = publish_in_order(core, g, ready);
        core.group_done.notify_all();
    }
}

/// Publishes commits whose records are durable, in order, then runs the callbacks queued so
/// far in the same order, unless another thread is running them already (it runs these too).
/// Callbacks run with the group unlocked: a callback may commit.
fn publish_in_order<'g>(
    core: &'g Core,
    mut g: std::sync::MutexGuard<'g, crate::journal::group::Group>,
    ready: Vec<crate::journal::group::Waiting>,
) -> std::sync::MutexGuard<'g, crate::journal::group::Group> {
    for r in ready {
        // A failed remap poisons the handle; the commit is durable all the same.
        let _ = core.publish(&r.committed);
        g.callbacks.extend(r.callbacks);
    }
    if g.running {
        return g;
    }
    g.running = true;
    while !g.callbacks.is_empty() {
        let batch: Vec<_> = g.callbacks.drain(..).collect();
        drop(g);
        for f in batch {
            f();
        }
        g = lock(&core.group);
    }
    g.running = false;
    g
}

/// Publishes every journaled commit still waiting for a sync: the caller synced the journal
/// past all of them (a checkpoint, or an inline commit).
pub(crate) fn flush_waiting(core: &Core) {
    let mut g = lock(&core.group);
    let all = g.appended;
    let ready = g.synced_to(all);
    let g = publish_in_order(core, g, ready);
    drop(g);
    core.group_done.notify_all();
}

/// Commits `w` in journal mode: a journaled commit, or, for a transaction too large for the
/// journal, a checkpoint that includes it. `None` without journal mode.
pub(crate) fn commit(core: &Core, w: &mut WriteTx) -> Option<std::result::Result<Committed, Failure>> {
    let mut guard = lock(&core.journal);
    let js = guard.as_mut()?;
    let log = w.log.take().unwrap_or_default();
    if js.too_large(log.len()) && js.checkpoint_txid(w.txid) == w.txid {
        return Some(js.checkpoint(w, &core.target()));
    }
    Some(js.commit(w, log.as_bytes(), true, !core.opts.no_sync))
}

/// Checkpoints on the empty write transaction `w` if anything was journaled since the last
/// checkpoint, and gives the slot back.
fn run_checkpoint(core: &Core, mut w: WriteTx) -> Result<()> {
    let committed = {
        let mut guard = lock(&core.journal);
        match guard.as_mut() {
            Some(js) if js.dirty(&w.snap.meta) => {
                w.txid = js.checkpoint_txid(w.txid);
                Some(js.checkpoint(&mut w, &core.target()))
            }
            _ => None,
        }
    };
    match committed {
        Some(c) => {
            if c.is_ok() {
                flush_waiting(core);
            }
            finish(core, w, c)
        }
        None => {
            core.end_write(w.writer);
            Ok(())
        }
    }
}

/// Writes every journaled commit to the file now ([`crate::DB::checkpoint`]).
///
/// # Errors
/// As a commit: [`Error::Io`] (the handle is then poisoned), [`Error::Poisoned`],
/// [`Error::DatabaseReadOnly`].
pub(crate) fn checkpoint(core: &Core) -> Result<()> {
    if lock(&core.journal).is_none() {
        return Ok(());
    }
    let w = core.begin_write()?;
    run_checkpoint(core, w)
}

/// At close: a last checkpoint, then the journal is removed (its directory entry synced), so
/// that the file holds everything and nothing is replayed at the next open.
///
/// # Errors
/// As [`checkpoint`]; the journal stays if the checkpoint failed.
pub(crate) fn shutdown(core: &Core) -> Result<()> {
    if lock(&core.journal).is_none() || core.poisoned.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    checkpoint(core)?;
    *lock(&core.journal) = None;
    remove_durably(&journal_path(&core.path))
}

/// Removes the file at `path` and syncs its directory, so that the removal survives a crash.
fn remove_durably(path: &std::path::Path) -> Result<()> {
    let io = |op| move |source| Error::Io { op, path: path.to_path_buf(), source };
    std::fs::remove_file(path).map_err(io("remove"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync directory of"))
}
