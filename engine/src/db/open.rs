//! Opening a file: creating a new database (crash-safely), finding the meta to trust, mapping
//! the file, and rebuilding the freelist when the file stores none.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex};

use crate::commit::write::Writer;
use crate::db::core::{Core, Current};
use crate::error::{Error, PageId, Result};
use crate::format::meta::{Meta, NO_FREELIST};
use crate::format::metas::valid_page_size;
use crate::format::page::{PageHeader, FREELIST_FLAG, LEAF_FLAG, PAGE_HEADER_SIZE};
use crate::io::mmap::{mmap_size, Map};
use crate::io::raw::read_metas;
use crate::io::storage::Storage;
use crate::limits::MIN_FILE_SIZE;
use crate::options::Options;
use crate::tree::counters::{Counters, TxStats};
use crate::tree::snapshot::Snapshot;

/// An opened database, and whether it must store a freelist at once (as Go does for a file
/// that has none, so that older readers can open it).
pub(crate) struct Opened {
    pub core: Core,
    pub store_freelist: bool,
}

/// Opens or creates the database at `path`, every change going through the storage `make`
/// builds (see [`crate::DB::open_with_storage`]).
///
/// # Errors
/// As [`crate::DB::open`].
pub(crate) fn open<F>(
    path: &Path,
    opts: Options,
    make: F,
    wrap: crate::db::journaled::WrapJournal<'_>,
) -> Result<Opened>
where
    F: FnOnce(File) -> Box<dyn Storage>,
{
    let path = path.to_path_buf();
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
    let (meta, older_hwm, page_size) = read_meta(&file, &path, len, &opts)?;
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
    let snap = Snapshot { meta, map: map.clone(), counters: counters.clone(), opened: Default::default(), gen: None };
    let writer = if ro { None } else { Some(Writer::load(&snap, len, older_hwm)?) };
    let free_figures = writer.as_ref().map_or((0, 0, 0), |w| w.freelist.figures());
    let store_freelist = !ro && !opts.no_freelist_sync && meta.freelist == NO_FREELIST;
    let core = Core {
        path,
        opts,
        file,
        storage,
        page_size,
        maps: Mutex::new(vec![Arc::downgrade(&map)]),
        current: Mutex::new(Current { meta, map, readers: BTreeMap::new(), gen: None }),
        writer: Mutex::new(writer),
        writer_free: Condvar::new(),
        poisoned: AtomicBool::new(false),
        counters,
        tx_stats: Mutex::new(TxStats::default()),
        tx_n: AtomicU64::new(0),
        free_figures: Mutex::new(free_figures),
        journal: Mutex::new(None),
        group: Mutex::default(),
        group_done: Condvar::new(),
        recovery: Mutex::new(None),
    };
    let found = crate::db::journaled::recover(&core, wrap)?;
    *crate::db::core::lock(&core.recovery) = found;
    Ok(Opened { core, store_freelist })
}

#[allow(unsafe_code)] // one sysconf(3) call
fn os_page_size() -> u32 {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let ps = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(ps).ok().filter(|p| valid_page_size(*p)).unwrap_or(4096)
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

/// Finds the page size and the meta to use: the valid one with the highest txid
/// ([`crate::format::metas::select`], probing the `page_size` option and the OS page size
/// first for meta 1 when meta 0 is damaged).
fn read_meta(file: &File, path: &Path, len: u64, opts: &Options) -> Result<(Meta, PageId, u32)> {
    if len < MIN_FILE_SIZE {
        return Err(Error::Invalid(format!(
            "the file is too small to be a database: {len} bytes (at least {MIN_FILE_SIZE} needed)"
        )));
    }
    let mut probe: Vec<u32> = opts.page_size.into_iter().collect();
    probe.push(os_page_size());
    probe.extend((8..=16).map(|s| 1u32 << s));
    let metas = read_metas(file, path, len, &probe)?;
    match metas.active {
        Some(i) => {
            let other = &metas.slots[1 - i];
            let older_hwm = if other.valid() { other.meta.pgid } else { 0 };
            Ok((metas.slots[i].meta, older_hwm, metas.page_size))
        }
        None => Err(metas.slots[0].problem.as_ref().map_or(Error::Checksum, |p| p.to_error())),
    }
}
