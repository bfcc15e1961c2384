//! What an open database holds and every transaction shares: the file, the current meta and
//! map, the registry of readers, the writer's slot, and the counters.
//!
//! One writer at a time (a mutex-guarded slot holding the writer's state: freelist and file
//! size), any number of readers. Readers register the txid of their snapshot so that pages
//! freed after it stay pending until they finish. A commit publishes the new meta and, if the
//! file outgrew the map, a new map; transactions already running keep the map they started with.
//! Transactions hold a `&Core`; the [`crate::DB`] handle owns it.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use crate::commit::protocol::{Committed, Target};
use crate::commit::write::{Verified, WriteTx, Writer};
use crate::error::{Error, Result, TxId};
use crate::format::meta::Meta;
use crate::io::mmap::{mmap_size, Map};
use crate::io::storage::Storage;
use crate::limits::MIN_FILE_SIZE;
use crate::options::Options;
use crate::tree::counters::{Counters, Stats, TxStats};
use crate::tree::generation::Generation;
use crate::tree::opened::Opened;
use crate::tree::snapshot::Snapshot;

/// The committed state readers start from.
pub(crate) struct Current {
    pub meta: Meta,
    pub map: Arc<Map>,
    /// Open read transactions by the txid of their snapshot.
    pub readers: BTreeMap<TxId, usize>,
    /// With the journal: the generation the current meta's tree may reference.
    pub gen: Option<Arc<Generation>>,
}

/// The shared state of an open database (module docs).
pub(crate) struct Core {
    pub path: PathBuf,
    pub opts: Options,
    pub file: File,
    pub storage: Box<dyn Storage>,
    pub page_size: u32,
    pub current: Mutex<Current>,
    pub writer: Mutex<Option<Writer>>,
    pub writer_free: Condvar,
    pub poisoned: AtomicBool,
    pub counters: Arc<Counters>,
    pub tx_stats: Mutex<TxStats>,
    pub tx_n: AtomicU64,
    /// Every map generation still alive (for [`Stats::maps`]).
    pub maps: Mutex<Vec<Weak<Map>>>,
    /// Free pages, pending pages and freelist bytes as of the last finished write transaction.
    pub free_figures: Mutex<(u64, u64, u64)>,
    /// The journal-mode state (`None` without the journal); taken after the writer's slot.
    pub journal: Mutex<Option<crate::journal::state::JournalState>>,
    /// Journaled commits waiting for a shared sync (group commit), and their waiters.
    pub group: Mutex<crate::journal::group::Group>,
    pub group_done: Condvar,
    /// What the open found in the journal.
    pub recovery: Mutex<Option<crate::journal::state::Recovery>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Core {
    /// The last committed meta.
    pub fn meta(&self) -> Meta {
        lock(&self.current).meta
    }

    /// A snapshot of the last commit, not registered as a reader (for the handle's own use
    /// while nothing else runs: a read-only handle's replay at open).
    pub fn snapshot(&self) -> Snapshot {
        let cur = lock(&self.current);
        Snapshot {
            meta: cur.meta,
            map: cur.map.clone(),
            counters: self.counters.clone(),
            opened: Opened::default(),
            gen: cur.gen.clone(),
        }
    }

    /// A snapshot of the last commit, registered as a reader until [`Core::end_read`].
    pub fn begin_read(&self) -> Snapshot {
        let mut cur = lock(&self.current);
        let snap = Snapshot {
            meta: cur.meta,
            map: cur.map.clone(),
            counters: self.counters.clone(),
            opened: Opened::tracking(),
            gen: cur.gen.clone(),
        };
        self.tx_n.fetch_add(1, Ordering::Relaxed);
        *cur.readers.entry(snap.meta.txid).or_insert(0) += 1;
        snap
    }

    /// Ends a read transaction begun on the snapshot of `txid`.
    pub fn end_read(&self, txid: TxId) {
        let mut cur = lock(&self.current);
        if let Some(n) = cur.readers.get_mut(&txid) {
            *n -= 1;
            if *n == 0 {
                cur.readers.remove(&txid);
            }
        }
    }

    /// Waits for the writer's slot and starts a write transaction on the last commit.
    ///
    /// # Errors
    /// [`Error::DatabaseReadOnly`], [`Error::Poisoned`], or [`Error::Corrupted`] when the txid
    /// is at its maximum.
    pub fn begin_write(&self) -> Result<WriteTx> {
        if self.opts.read_only {
            return Err(Error::DatabaseReadOnly);
        }
        let mut slot = lock(&self.writer);
        let mut writer = loop {
            if self.poisoned.load(Ordering::SeqCst) {
                self.writer_free.notify_all();
                return Err(Error::Poisoned);
            }
            match slot.take() {
                Some(w) => break w,
                None => slot = self.writer_free.wait(slot).unwrap_or_else(|e| e.into_inner()),
            }
        };
        drop(slot);
        let cur = lock(&self.current);
        // The newest version, published or still waiting for its sync.
        let (meta, gen) = match writer.newest.clone() {
            Some((meta, gen)) if meta.txid > cur.meta.txid => (meta, gen),
            _ => (cur.meta, cur.gen.clone()),
        };
        let snap =
            Snapshot { meta, map: cur.map.clone(), counters: self.counters.clone(), opened: Opened::default(), gen };
        match cur.readers.keys().next() {
            Some(&oldest) => writer.freelist.release(oldest.min(writer.release_cap)),
            None => writer.freelist.release(writer.release_cap),
        }
        drop(cur);
        if snap.meta.txid == TxId::MAX {
            // The next commit would wrap to txid 0 and overwrite the live meta page.
            drop(snap);
            self.end_write(writer);
            return Err(Error::corrupted(
                0,
                "the transaction id is at its maximum (u64::MAX); no further commit is possible",
            ));
        }
        if self.opts.verify_before_write {
            if let Err(e) = verify(&snap, &mut writer) {
                drop(snap);
                self.end_write(writer);
                return Err(e);
            }
        }
        Ok(WriteTx::new(snap, writer))
    }

    /// Gives the writer's state back and wakes the next writer.
    pub fn end_write(&self, writer: Writer) {
        *lock(&self.free_figures) = writer.freelist.figures();
        *lock(&self.writer) = Some(writer);
        // Every waiter must look: after a failed commit they all have to see the poison.
        self.writer_free.notify_all();
    }

    /// Where commits go.
    pub fn target(&self) -> Target<'_> {
        Target { storage: self.storage.as_ref(), path: &self.path, opts: &self.opts }
    }

    /// Whether the handle commits through a journal.
    pub fn journal_mode(&self) -> bool {
        lock(&self.journal).is_some()
    }

    /// Marks the handle unusable for writes after an I/O error in a commit.
    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
    }

    /// Makes a commit that is on disk the one new transactions see: maps the grown file if it
    /// outgrew the map (readers that started before keep the old map until they end), sets the
    /// meta, and adds the commit's counters. Returns the new snapshot.
    ///
    /// # Errors
    /// [`Error::Io`] if the new map cannot be made; the handle is then poisoned.
    pub fn publish(&self, c: &Committed) -> Result<Snapshot> {
        let ps = u64::from(self.page_size);
        let needed = (c.meta.pgid * ps).max(MIN_FILE_SIZE);
        let mut cur = lock(&self.current);
        if c.meta.txid <= cur.meta.txid {
            // Already superseded (a checkpoint published a later version first).
            return Ok(Snapshot {
                meta: c.meta,
                map: cur.map.clone(),
                counters: self.counters.clone(),
                opened: Opened::default(),
                gen: c.gen.clone(),
            });
        }
        if needed > cur.map.size() {
            let size = mmap_size(needed.max(self.opts.initial_mmap_size), ps);
            let map = match Map::new(&self.file, size, self.opts.mmap_populate) {
                Ok(m) => Arc::new(m),
                Err(source) => {
                    self.poison();
                    return Err(Error::Io { op: "mmap", path: self.path.clone(), source });
                }
            };
            cur.map = map;
            let mut maps = lock(&self.maps);
            maps.retain(|w| w.strong_count() > 0);
            maps.push(Arc::downgrade(&cur.map));
        }
        cur.meta = c.meta;
        cur.gen = c.gen.clone();
        lock(&self.tx_stats).add(&c.stats);
        Ok(Snapshot {
            meta: c.meta,
            map: cur.map.clone(),
            counters: self.counters.clone(),
            opened: Opened::default(),
            gen: c.gen.clone(),
        })
    }

    /// Database statistics (see [`crate::DB::stats`]).
    pub fn stats(&self) -> Stats {
        let (free, pending, fl_bytes) = *lock(&self.free_figures);
        let open = lock(&self.current).readers.values().map(|&n| n as u64).sum();
        let maps = {
            let mut m = lock(&self.maps);
            m.retain(|w| w.strong_count() > 0);
            m.len() as u64
        };
        let mut tx_stats = *lock(&self.tx_stats);
        tx_stats.cursor_count = self.counters.cursors.load(Ordering::Relaxed);
        Stats {
            free_page_n: free,
            pending_page_n: pending,
            free_alloc: free * u64::from(self.page_size),
            freelist_inuse: if self.opts.no_freelist_sync { 0 } else { fl_bytes },
            tx_n: self.tx_n.load(Ordering::Relaxed),
            open_tx_n: open,
            maps,
            tx_stats,
        }
    }

    /// An fdatasync of the file. A failed sync poisons the handle: after it, the kernel may have
    /// dropped the dirty pages it could not write, so a later sync that succeeds would not prove
    /// that earlier commits made without a sync are on disk.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn sync(&self) -> Result<()> {
        self.storage.sync().map_err(|source| {
            self.poison();
            Error::Io { op: "sync", path: self.path.clone(), source }
        })
    }

    /// Cuts the file to its high-water mark, or the older meta's if that is higher (see
    /// [`crate::DB::close`]). Nothing can read past it: no transaction outlives the handle,
    /// and an open that falls back to the older meta finds every page it names.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn trim(&self) -> Result<()> {
        if self.opts.read_only || self.poisoned.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut writer = lock(&self.writer);
        let Some(w) = writer.as_mut() else { return Ok(()) };
        let ps = u64::from(self.page_size);
        // The older meta may be damaged (a mark past the file's end): it keeps what the file
        // has, never more.
        let older = w.older_hwm.saturating_mul(ps).min(w.file_size);
        let needed = lock(&self.current).meta.pgid.saturating_mul(ps).max(older).max(MIN_FILE_SIZE);
        if w.file_size > needed {
            self.storage.set_len(needed).map_err(|source| Error::Io { op: "trim", path: self.path.clone(), source })?;
            w.file_size = needed;
        }
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        // Best effort: a failed trim leaves a longer file, which is still a valid database.
        // (The handle checkpointed a journal before, see `DB`'s drop.)
        let _ = self.trim();
        crate::io::lock::unlock(&self.file);
    }
}

/// Runs the reachability walk before a handle's first write ([`crate::tree::verify`]) unless
/// it ran already, and records the outcome in the writer's state.
///
/// # Errors
/// [`Error::Corrupted`] naming a page the committed trees reach twice, or reach while the
/// freelist lists it (now or at an earlier write of the handle); [`Error::Io`] from reading.
fn verify(snap: &Snapshot, writer: &mut Writer) -> Result<()> {
    match &writer.verified {
        Verified::Sound => Ok(()),
        Verified::Failed(page, kind) => Err(Error::corrupted(*page, kind.clone())),
        Verified::Pending => match crate::tree::verify::verify_for_write(snap) {
            Ok(()) => {
                writer.verified = Verified::Sound;
                Ok(())
            }
            Err(Error::Corrupted { page, reason }) => {
                writer.verified = Verified::Failed(page, reason.clone());
                Err(Error::Corrupted { page, reason })
            }
            Err(e) => Err(e),
        },
    }
}
