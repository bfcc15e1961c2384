//! The database handle: open or create a file, hand out transactions, publish commits.
//!
//! One writer at a time (a mutex-guarded slot holding the writer's state: freelist and file
//! size), any number of readers. Readers register the txid of their snapshot so that pages
//! freed after it stay pending until they finish. A commit publishes the new meta and, if the
//! file outgrew the map, a new map; transactions already running keep the map they started with.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use crate::commit::write::{WriteTx, Writer};
use crate::db::tx::{DirtyPages, Tx};
use crate::error::{Error, Result, TxId};
use crate::format::freelist::Freelist;
use crate::format::meta::{Meta, NO_FREELIST};
use crate::format::page::{PageHeader, FREELIST_FLAG, LEAF_FLAG, PAGE_HEADER_SIZE};
use crate::io::mmap::{mmap_size, Map};
use crate::io::storage::{FileStorage, Storage};
use crate::options::Options;
use crate::tree::snapshot::Snapshot;
use crate::tree::stats::{Counters, Stats, TxStats};

/// Go refuses files shorter than this, whatever their page size.
const MIN_FILE_SIZE: u64 = 4096;

struct Shared {
    meta: Meta,
    map: Arc<Map>,
    readers: BTreeMap<TxId, usize>,
}

/// An open database file. `Send + Sync`: share it by reference or `Arc`.
pub struct DB {
    path: PathBuf,
    opts: Options,
    file: File,
    storage: Box<dyn Storage>,
    page_size: u32,
    state: Mutex<Shared>,
    writer: Mutex<Option<Writer>>,
    writer_free: Condvar,
    poisoned: AtomicBool,
    pub(crate) batcher: crate::db::batch::Batcher,
    counters: Arc<Counters>,
    tx_stats: Mutex<TxStats>,
    tx_n: AtomicU64,
    maps: Mutex<Vec<Weak<Map>>>,
    /// Free pages, pending pages and freelist bytes as of the last finished write transaction.
    free_figures: Mutex<(u64, u64, u64)>,
}

impl std::fmt::Debug for DB {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DB").field("path", &self.path).field("page_size", &self.page_size).finish()
    }
}

/// Facts about an open database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// The page size of the file.
    pub page_size: u32,
    /// The meta of the last commit.
    pub meta: Meta,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[allow(unsafe_code)] // one sysconf(3) call
fn os_page_size() -> u32 {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let ps = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(ps).ok().filter(|p| valid_page_size(*p)).unwrap_or(4096)
}

fn valid_page_size(ps: u32) -> bool {
    ps.is_power_of_two() && (256..=65536).contains(&ps)
}

impl DB {
    /// Opens the database at `path`, creating it (four pages, as bbolt does) if it is missing
    /// or empty.
    ///
    /// # Errors
    /// [`Error::Timeout`] if another process holds the lock past `timeout`; [`Error::Invalid`],
    /// [`Error::VersionMismatch`] or [`Error::Checksum`] for a file that is not a usable
    /// database; [`Error::Io`] for operating-system errors.
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<DB> {
        Self::open_with_storage(path, opts, |f| Box::new(FileStorage::new(f)))
    }

    /// Like [`DB::open`], with every write, sync and resize of the file going through the
    /// [`Storage`] that `make` builds around the opened file (used to inject I/O faults and to
    /// record writes for crash simulation). Reads still come from the memory map of the file.
    pub fn open_with_storage<F>(path: impl AsRef<Path>, opts: Options, make: F) -> Result<DB>
    where
        F: FnOnce(File) -> Box<dyn Storage>,
    {
        let path = path.as_ref().to_path_buf();
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| Error::Io { op, path, source }
        };
        let ro = opts.read_only;
        let file = OpenOptions::new().read(true).write(!ro).create(!ro).open(&path).map_err(io("open"))?;
        if !crate::io::lock::lock(&file, !ro, opts.timeout).map_err(io("lock"))? {
            return Err(Error::Timeout);
        }
        let storage = make(file.try_clone().map_err(io("open"))?);
        let mut new_ps = opts.page_size.unwrap_or_else(os_page_size);
        let mut len = storage.len().map_err(io("stat"))?;
        let interrupted = if len == 0 { None } else { interrupted_creation(&file, len, new_ps).map_err(io("read"))? };
        if let Some(ps) = interrupted {
            new_ps = ps;
        }
        if len == 0 || interrupted.is_some() {
            if ro {
                return Err(Error::Invalid("the file is empty (or its creation was interrupted)".into()));
            }
            if !valid_page_size(new_ps) {
                return Err(Error::Invalid(format!("page size {new_ps} is not a power of two in 256..=65536")));
            }
            init(storage.as_ref(), new_ps, opts.no_sync).map_err(io("initialise"))?;
            len = storage.len().map_err(io("stat"))?;
        }
        let (meta, page_size) = read_meta(&file, len, &opts).map_err(|e| match e {
            ReadMetaError::Io(source) => Error::Io { op: "read", path: path.clone(), source },
            ReadMetaError::Db(e) => e,
        })?;
        let needed = meta.pgid.saturating_mul(u64::from(page_size));
        if len < needed {
            return Err(Error::Invalid(format!(
                "the file is truncated: {len} bytes, but the meta (txid {}) needs {needed}",
                meta.txid
            )));
        }
        let map_size = mmap_size(len.max(opts.initial_mmap_size).max(needed), u64::from(page_size));
        let map = Arc::new(Map::new(&file, map_size, opts.mmap_populate).map_err(io("mmap"))?);
        let counters = Arc::new(Counters::default());
        let snap = Snapshot { meta, map: map.clone(), counters: counters.clone() };
        let writer = if ro {
            None
        } else {
            let freelist = if meta.freelist == NO_FREELIST {
                Freelist::from_ids(crate::tree::check::unreachable_pages(&snap)?)
            } else {
                let bytes = snap_freelist_bytes(&snap)?;
                // Ids outside 2..hwm (which Go neither writes on purpose nor checks) are ignored:
                // those pages are not part of the database, so they must never be handed out.
                let ids = Freelist::decode_ids(bytes, meta.freelist)?;
                Freelist::from_ids(ids.into_iter().filter(|&id| id >= 2 && id < meta.pgid).collect())
            };
            Some(Writer { freelist, file_size: len })
        };
        let db = DB {
            path,
            opts,
            file,
            storage,
            page_size,
            maps: Mutex::new(vec![Arc::downgrade(&map)]),
            state: Mutex::new(Shared { meta, map, readers: BTreeMap::new() }),
            writer: Mutex::new(writer),
            writer_free: Condvar::new(),
            poisoned: AtomicBool::new(false),
            batcher: Default::default(),
            counters,
            tx_stats: Mutex::new(TxStats::default()),
            tx_n: AtomicU64::new(0),
            free_figures: Mutex::new((0, 0, 0)),
        };
        if let Some(w) = lock(&db.writer).as_ref() {
            *lock(&db.free_figures) = w.freelist.figures();
        }
        if !ro && !db.opts.no_freelist_sync && meta.freelist == NO_FREELIST {
            // As Go does: store a real freelist at once, so that older readers can open the file.
            db.update(|_| Ok::<_, Error>(()))?;
        }
        Ok(db)
    }

    /// The options this database was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }
    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Whether the database was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.opts.read_only
    }
    /// Page size and the last committed meta.
    pub fn info(&self) -> Info {
        Info { page_size: self.page_size, meta: lock(&self.state).meta }
    }

    /// Begins a transaction. A write transaction waits until the previous writer is done.
    ///
    /// # Errors
    /// [`Error::DatabaseReadOnly`] for a write on a read-only database; [`Error::Poisoned`]
    /// after a failed commit.
    pub fn begin(&self, writable: bool) -> Result<Tx<'_>> {
        if !writable {
            let mut st = lock(&self.state);
            let snap = Snapshot { meta: st.meta, map: st.map.clone(), counters: self.counters.clone() };
            self.tx_n.fetch_add(1, Ordering::Relaxed);
            *st.readers.entry(snap.meta.txid).or_insert(0) += 1;
            return Ok(Tx::new_read(self, snap));
        }
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
        let st = lock(&self.state);
        let snap = Snapshot { meta: st.meta, map: st.map.clone(), counters: self.counters.clone() };
        match st.readers.keys().next() {
            Some(&oldest) => writer.freelist.release(oldest),
            None => writer.freelist.release(TxId::MAX),
        }
        drop(st);
        if snap.meta.txid == TxId::MAX {
            // The next commit would wrap to txid 0 and overwrite the live meta page.
            drop(snap);
            self.end_write(writer);
            return Err(Error::corrupted(
                0,
                "the transaction id is at its maximum (u64::MAX); no further commit is possible",
            ));
        }
        Ok(Tx::new_write(self, WriteTx::new(snap, writer)))
    }

    /// Runs `f` in a write transaction and commits it if `f` returns `Ok`; rolls back otherwise.
    /// When this returns `Ok`, the changes are durable.
    pub fn update<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let mut tx = self.begin(true)?;
        match f(&mut tx) {
            Ok(v) => {
                tx.commit()?;
                Ok(v)
            }
            Err(e) => {
                tx.rollback();
                Err(e)
            }
        }
    }

    /// Runs `f` in a read transaction. Nothing read can escape it (the borrow checker says so).
    pub fn view<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Tx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let tx = self.begin(false)?;
        let r = f(&tx);
        tx.rollback();
        r
    }

    /// Database statistics: free and pending pages, reader counts, live maps, and the summed
    /// counters of committed transactions. Free-page figures are those of the last finished
    /// write transaction.
    pub fn stats(&self) -> Stats {
        let (free, pending, fl_bytes) = *lock(&self.free_figures);
        let open = lock(&self.state).readers.values().map(|&n| n as u64).sum();
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

    /// Forces an fdatasync of the file (useful after commits made with `no_sync`).
    pub fn sync(&self) -> Result<()> {
        self.storage.sync().map_err(|source| Error::Io { op: "sync", path: self.path.clone(), source })
    }

    pub(crate) fn add_tx_stats(&self, s: &TxStats) {
        lock(&self.tx_stats).add(s);
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    pub(crate) fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Closes the database, releasing the file lock. A read-write handle first cuts the file
    /// back to its high-water mark, giving back the room grown ahead of the data (bbolt grows
    /// the file in steps of up to `alloc_size` and never gives it back). Dropping the handle
    /// does the same, ignoring errors; `close` reports them.
    pub fn close(self) -> Result<()> {
        self.trim()
    }

    /// Cuts the file to its high-water mark (see [`DB::close`]). Nothing can read past the mark:
    /// no transaction outlives the handle, and the older meta's mark is never higher.
    fn trim(&self) -> Result<()> {
        if self.opts.read_only || self.poisoned.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut writer = lock(&self.writer);
        let Some(w) = writer.as_mut() else { return Ok(()) };
        let needed = (lock(&self.state).meta.pgid * u64::from(self.page_size)).max(MIN_FILE_SIZE);
        if w.file_size > needed {
            self.storage.set_len(needed).map_err(|source| Error::Io { op: "trim", path: self.path.clone(), source })?;
            w.file_size = needed;
        }
        Ok(())
    }

    pub(crate) fn end_read(&self, txid: TxId) {
        let mut st = lock(&self.state);
        if let Some(n) = st.readers.get_mut(&txid) {
            *n -= 1;
            if *n == 0 {
                st.readers.remove(&txid);
            }
        }
    }

    pub(crate) fn end_write(&self, writer: Writer) {
        *lock(&self.free_figures) = writer.freelist.figures();
        *lock(&self.writer) = Some(writer);
        // Every waiter must look: after a failed commit they all have to see the poison.
        self.writer_free.notify_all();
    }

    /// Writes a prepared commit: grows the file, writes pages, syncs, writes the meta, syncs,
    /// and publishes the new snapshot. Any I/O error poisons the handle.
    pub(crate) fn write_commit(
        &self,
        writer: &mut Writer,
        dirty: &DirtyPages,
        meta: &Meta,
        stats: &mut TxStats,
    ) -> Result<Arc<Map>> {
        let started = std::time::Instant::now();
        let r = self.write_commit_inner(writer, dirty, meta, stats);
        stats.write_time += started.elapsed();
        if r.is_err() {
            self.poisoned.store(true, Ordering::SeqCst);
        }
        r
    }

    fn write_commit_inner(
        &self,
        writer: &mut Writer,
        dirty: &DirtyPages,
        meta: &Meta,
        stats: &mut TxStats,
    ) -> Result<Arc<Map>> {
        let io = |op: &'static str| move |source| Error::Io { op, path: self.path.clone(), source };
        let ps = u64::from(self.page_size);
        let needed = (meta.pgid * ps).max(MIN_FILE_SIZE);
        if needed > writer.file_size {
            let mut target = if needed < self.opts.alloc_size {
                mmap_size(needed, ps)
            } else {
                needed.saturating_add(self.opts.alloc_size)
            };
            if self.opts.max_size > 0 {
                target = target.min(self.opts.max_size.max(needed));
            }
            self.storage.set_len(target).map_err(io("grow"))?;
            if !self.opts.no_grow_sync {
                self.storage.sync().map_err(io("sync"))?;
            }
            writer.file_size = target;
        }
        // Coalesce adjacent pages into larger writes (at most 4 MiB each); a lone page is
        // written from its own buffer.
        let mut run: Vec<&[u8]> = Vec::new();
        let (mut run_start, mut run_len) = (0u64, 0u64);
        let mut joined: Vec<u8> = Vec::new();
        let mut flush = |run: &mut Vec<&[u8]>, at: u64| -> Result<()> {
            let bytes: &[u8] = match run.as_slice() {
                [] => return Ok(()),
                [one] => one,
                many => {
                    joined.clear();
                    many.iter().for_each(|b| joined.extend_from_slice(b));
                    &joined
                }
            };
            self.storage.write_at(bytes, at).map_err(io("write"))?;
            stats.write += 1;
            run.clear();
            Ok(())
        };
        for (&id, buf) in dirty {
            let off = id * ps;
            if run_start + run_len != off || run_len >= 4 << 20 {
                flush(&mut run, run_start)?;
                (run_start, run_len) = (off, 0);
            }
            run.push(buf);
            run_len += buf.len() as u64;
        }
        flush(&mut run, run_start)?;
        if !self.opts.no_sync {
            self.storage.sync().map_err(io("sync"))?;
        }
        let meta_page = meta.txid % 2;
        let page = meta.encode_page(meta_page, ps as usize);
        self.storage.write_at(&page, meta_page * ps).map_err(io("write meta"))?;
        stats.write += 1;
        if !self.opts.no_sync {
            self.storage.sync().map_err(io("sync"))?;
        }
        let mut st = lock(&self.state);
        if needed > st.map.size() {
            // Readers that started before keep the old map until they end.
            let size = mmap_size(needed.max(self.opts.initial_mmap_size), ps);
            st.map = Arc::new(Map::new(&self.file, size, self.opts.mmap_populate).map_err(io("mmap"))?);
            let mut maps = lock(&self.maps);
            maps.retain(|w| w.strong_count() > 0);
            maps.push(Arc::downgrade(&st.map));
        }
        // What the page now holds: these fields and the checksum `encode_page` gave them.
        st.meta = Meta { checksum: meta.compute_checksum(), ..*meta };
        Ok(st.map.clone())
    }
}

impl Drop for DB {
    fn drop(&mut self) {
        // Best effort: a failed trim leaves a longer file, which is still a valid database.
        let _ = self.trim();
        crate::io::lock::unlock(&self.file);
    }
}

/// The four pages of a new database (bbolt's layout), padded to 4096 bytes.
fn init_image(ps: u32) -> Vec<u8> {
    let p = ps as usize;
    let mut buf = Vec::with_capacity((4 * p).max(MIN_FILE_SIZE as usize));
    for i in 0..2u64 {
        buf.extend_from_slice(&Meta::initial(ps, i).encode_page(i, p));
    }
    for (id, flags) in [(2, FREELIST_FLAG), (3, LEAF_FLAG)] {
        let header = PageHeader { id, flags, count: 0, overflow: 0 }.to_disk();
        let start = buf.len();
        buf.extend_from_slice(zerocopy::IntoBytes::as_bytes(&header));
        buf.resize(start + p.max(PAGE_HEADER_SIZE), 0);
    }
    buf.resize(buf.len().max(MIN_FILE_SIZE as usize), 0);
    buf
}

/// Writes a new database so that a crash at any point leaves either no valid meta (and only
/// bytes of this image, which [`interrupted_creation`] recognises) or a complete database:
/// first the freelist and root pages, synced, then both metas, synced. (bbolt writes all four
/// pages at once and can leave an "invalid database" behind: etcd-io/etcd#16596.)
fn init(storage: &dyn Storage, ps: u32, no_sync: bool) -> std::io::Result<()> {
    let image = init_image(ps);
    let metas = 2 * ps as usize;
    storage.write_at(&image[metas..], metas as u64)?;
    if !no_sync {
        storage.sync()?;
    }
    storage.write_at(&image[..metas], 0)?;
    if !no_sync {
        storage.sync()?;
    }
    Ok(())
}

/// Whether a non-empty file is what an interrupted [`init`] left: no longer than the initial
/// image for some page size and holding, at every byte, either zero or that image's byte. Such
/// a file holds no data, so it is safe to initialise it again (with the page size it was
/// created with, which is returned; `preferred` first). Any other file is left alone.
fn interrupted_creation(file: &File, len: u64, preferred: u32) -> std::io::Result<Option<u32>> {
    if len > 4 * 65536 {
        return Ok(None);
    }
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(&mut bytes, 0)?;
    if Meta::decode(&bytes, 0).is_ok_and(|m| m.validate().is_ok()) {
        return Ok(None);
    }
    let sizes = std::iter::once(preferred).chain((8..=16).map(|s| 1u32 << s));
    for ps in sizes.filter(|&p| valid_page_size(p)) {
        let image = init_image(ps);
        if len <= image.len() as u64 && bytes.iter().zip(&image).all(|(&b, &i)| b == 0 || b == i) {
            return Ok(Some(ps));
        }
    }
    Ok(None)
}

enum ReadMetaError {
    Io(std::io::Error),
    Db(Error),
}

/// Finds the page size and the meta to use: the valid one with the highest txid.
fn read_meta(file: &File, len: u64, opts: &Options) -> std::result::Result<(Meta, u32), ReadMetaError> {
    if len < MIN_FILE_SIZE {
        return Err(ReadMetaError::Db(Error::Invalid(format!(
            "the file is too small to be a database: {len} bytes (at least {MIN_FILE_SIZE} needed)"
        ))));
    }
    let read_page = |off: u64, n: usize| -> std::result::Result<Vec<u8>, ReadMetaError> {
        let mut b = vec![0u8; n];
        if off + n as u64 > len {
            return Ok(Vec::new());
        }
        file.read_exact_at(&mut b, off).map_err(ReadMetaError::Io)?;
        Ok(b)
    };
    let m0 = Meta::decode(&read_page(0, 128)?, 0).map_err(ReadMetaError::Db)?;
    let v0 = m0.validate().and_then(|()| {
        if valid_page_size(m0.page_size) {
            Ok(())
        } else {
            Err(Error::Invalid(format!("meta 0 has an impossible page size {}", m0.page_size)))
        }
    });
    let mut candidates: Vec<u32> = Vec::new();
    if v0.is_ok() {
        candidates.push(m0.page_size);
    } else {
        candidates.extend(opts.page_size);
        candidates.push(os_page_size());
        candidates.extend((8..=16).map(|s| 1u32 << s));
    }
    for ps in candidates {
        let b = read_page(u64::from(ps), 128)?;
        if b.is_empty() {
            continue;
        }
        let m1 = Meta::decode(&b, 1).ok().filter(|m1| m1.validate().is_ok() && m1.page_size == ps);
        let best = match (v0.is_ok(), m1) {
            (true, Some(m1)) => Some(if m1.txid > m0.txid { m1 } else { m0 }),
            (true, None) => Some(m0),
            (false, Some(m1)) => Some(m1),
            (false, None) => None,
        };
        if let Some(m) = best {
            return Ok((m, ps));
        }
        if v0.is_ok() {
            break;
        }
    }
    match v0 {
        Ok(()) => Ok((m0, m0.page_size)),
        Err(Error::Checksum) => Err(ReadMetaError::Db(Error::Checksum)),
        Err(e) => Err(ReadMetaError::Db(e)),
    }
}

pub(crate) fn snap_freelist_bytes(snap: &Snapshot) -> Result<&[u8]> {
    let id = snap.meta.freelist;
    if id < 2 || id >= snap.meta.pgid {
        return Err(Error::corrupted(id, format!("freelist page outside 2..{}", snap.meta.pgid)));
    }
    let ps = snap.page_size();
    let head = snap.map.bytes(id * ps, 16, id)?;
    let h = PageHeader::read(head, id)?;
    let span = 1 + u64::from(h.overflow);
    if id + span > snap.meta.pgid {
        return Err(Error::corrupted(id, "freelist overflow runs past the high-water mark"));
    }
    snap.map.bytes(id * ps, span * ps, id)
}

pub(crate) use snap_freelist_bytes as freelist_bytes;
