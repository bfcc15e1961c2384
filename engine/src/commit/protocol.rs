//! The commit protocol, top to bottom: one function, [`commit`], in the order the steps happen.
//!
//! 1. Rebuild every touched tree copy-on-write, under provisional page ids (the spill).
//! 2. Free the pages of the old freelist.
//! 3. Lower the high-water mark over a free run that ends at it; place the new pages in the
//!    file (free runs first, then above the high-water mark), the freelist's pages last, and
//!    encode the freelist there.
//! 4. Refuse growth past `max_size` (nothing has been written yet).
//! 5. Grow the file if the new high-water mark needs it.
//! 6. Write every page (adjacent pages coalesced) and fdatasync.
//! 7. Write the meta page `txid % 2` and fdatasync again.
//!
//! A crash before step 7 completes leaves the previous meta in charge, whose pages were never
//! overwritten. A failure in steps 1 to 4 restores the freelist and writes nothing; a failure
//! in steps 5 to 7 is an I/O error after which the handle must not commit again (the caller
//! poisons it). Publishing the new snapshot to readers is the caller's (the database handle
//! owns the map), as are strict-mode checks and `on_commit` callbacks.

use std::path::Path;
use std::time::Instant;

use crate::commit::spill::Spill;
use crate::commit::view::View;
use crate::commit::write::{WriteTx, Writer};
use crate::error::{Error, PageId, Result};
use crate::format::bucket::{decode_bucket, DiskRoot};
use crate::format::meta::{Meta, NO_FREELIST};
use crate::io::mmap::mmap_size;
use crate::io::storage::Storage;
use crate::limits::MIN_FILE_SIZE;
use crate::options::Options;
use crate::tree::counters::TxStats;

/// Coalesced writes are at most this long.
const MAX_WRITE: u64 = 4 << 20;

/// Where a commit goes: the file's storage, its path (for errors) and the options that shape
/// the commit.
pub(crate) struct Target<'a> {
    pub storage: &'a dyn Storage,
    pub path: &'a Path,
    pub opts: &'a Options,
}

/// A commit that is on disk: its meta (with the checksum the page holds) and its work counters.
pub(crate) struct Committed {
    pub meta: Meta,
    pub stats: TxStats,
    /// The generation the meta's tree references (journaled commits only).
    pub gen: Option<std::sync::Arc<crate::tree::generation::Generation>>,
}

/// Why a commit failed.
pub(crate) enum Failure {
    /// Refused before anything was written (the freelist is as it was): the handle is fine.
    Refused(Error),
    /// An I/O error once writing had begun: the file may hold part of the commit's pages (never
    /// its meta), so the handle must not commit again.
    Io(Error),
}

/// Commits the write transaction `w` to `to` (module docs: the steps). `w` keeps its writer
/// state (freelist, file size) updated either way.
pub(crate) fn commit(w: &mut WriteTx, to: &Target<'_>) -> std::result::Result<Committed, Failure> {
    commit_with(w, to, &[], &mut |_| Ok(()))
}

/// A journaled commit before its record is appended (module docs of `crate::journal`): the
/// version's meta (its root possibly provisional; hwm and freelist those of the last
/// checkpoint), and the nodes it added to and dropped from the generation's live set.
pub(crate) struct Kept {
    pub meta: Meta,
    pub born: Vec<(PageId, crate::tree::generation::Links)>,
    pub dead: Vec<PageId>,
    /// Pages of the file the commit freed, as (first, count).
    pub freed: Vec<(PageId, u64)>,
    pub stats: TxStats,
}

/// Step 1 only, for a journaled commit: rebuilds the touched trees under provisional ids and
/// hands the nodes to `gen` instead of placing them. Nothing is written. On an error the
/// freelist is as it was.
///
/// # Errors
/// As the spill of [`commit`] (damage found while rebuilding).
pub(crate) fn keep(w: &mut WriteTx, gen: &crate::tree::generation::Generation) -> Result<Kept> {
    let WriteTx { snap, arena, writer, txid, relocated, .. } = w;
    let txid = *txid;
    let view = View { snap, arena };
    let mut sp = Spill::new(snap, &mut writer.freelist, txid);
    let started = Instant::now();
    let root = match spill_root(&mut sp, &view, relocated) {
        Ok(root) => root,
        Err(e) => {
            sp.undo();
            return Err(e);
        }
    };
    let mut dead = std::mem::take(&mut sp.dead);
    let mut freed = std::mem::take(&mut sp.freed_real);
    let mut stats = sp.stats;
    stats.spill_time = started.elapsed();
    stats.commits = 1;
    let born = sp.into_generation(gen)?;
    dead.append(&mut w.freed_nodes);
    freed.append(&mut w.freed_pages);
    Ok(Kept { meta: Meta { root, txid, checksum: 0, ..w.snap.meta }, born, dead, freed, stats })
}

/// Step 1: the spill, from the root bucket down; the root bucket is never inline. Returns the
/// root page of the new root bucket (provisional if it was rebuilt).
fn spill_root<'s>(sp: &mut Spill<'s>, view: &View<'s>, relocated: &[bool]) -> Result<PageId> {
    Ok(match sp.commit_bucket(view, relocated, 0)? {
        Some(v) => match decode_bucket(&v, 0)?.root {
            DiskRoot::Paged(root) => root,
            DiskRoot::Inline(_) => return Err(Error::corrupted(0, "the root bucket cannot be inline")),
        },
        None => view.snap.meta.root,
    })
}

/// [`commit`], placing the generation nodes `adopt` along with the commit's own (a
/// checkpoint), and calling `before_meta` with the meta after the pages are synced and before
/// the meta is written (a checkpoint records it in the journal there). An error from
/// `before_meta` is an I/O failure: pages were written.
pub(crate) fn commit_with(
    w: &mut WriteTx,
    to: &Target<'_>,
    adopt: &[(PageId, &[u8], &crate::tree::generation::Links)],
    before_meta: &mut dyn FnMut(&Meta) -> Result<()>,
) -> std::result::Result<Committed, Failure> {
    let opts = to.opts;
    let page_size = w.snap.page_size();
    let WriteTx { snap, arena, writer, txid, relocated, .. } = w;
    let txid = *txid;
    let view = View { snap, arena };
    let mut sp = Spill::new(snap, &mut writer.freelist, txid);
    sp.adopt(adopt.iter().map(|&(id, buf, links)| (id, buf, links)));
    let started = Instant::now();

    let prepared = (|| -> Result<_> {
        // 1. The spill, from the root bucket down.
        let root = spill_root(&mut sp, &view, relocated)?;
        // 2. The old freelist's pages.
        if snap.meta.freelist != NO_FREELIST {
            let n = snap.page_span(snap.meta.freelist)?;
            sp.free(snap.meta.freelist, n)?;
        }
        // 3. Placement, after the free run at the end of the file has left it. Placement only
        //    takes ids out of the list, so the list's size now bounds the size it will be
        //    written at.
        sp.trim_free_tail();
        let freelist_pages =
            if opts.no_freelist_sync { 0 } else { (sp.freelist.encoded_size() as u64 / page_size) + 1 };
        let mut placed = sp.place(freelist_pages)?;
        let root = placed.real(root)?;
        let freelist = match placed.extra_at {
            Some(id) => {
                let mut buf = vec![0u8; (freelist_pages * page_size) as usize];
                sp.freelist.encode(&mut buf, id, (freelist_pages - 1) as u32)?;
                placed.pages.insert(id, buf);
                sp.stats.page_count += freelist_pages;
                sp.stats.page_alloc += freelist_pages * page_size;
                id
            }
            None => NO_FREELIST,
        };
        // 4. Only growth is refused: a commit that frees space must stay possible above the limit.
        let needed = sp.hwm.saturating_mul(page_size);
        if opts.max_size > 0 && needed > opts.max_size && sp.hwm > snap.meta.pgid {
            return Err(Error::MaxSizeReached { needed, max: opts.max_size });
        }
        Ok((Meta { root, freelist, pgid: sp.hwm, txid, checksum: 0, ..snap.meta }, placed.pages))
    })();
    let (meta, pages) = match prepared {
        Ok(p) => p,
        Err(e) => {
            sp.undo();
            return Err(Failure::Refused(e));
        }
    };
    let mut stats = sp.stats;
    stats.spill_time = started.elapsed();
    stats.commits = 1;
    drop(sp);

    let writing = Instant::now();
    let written = (|| -> Result<()> {
        let io = |op: &'static str| io_error(op, to.path);
        // 5. Growth.
        grow(writer, &meta, to)?;
        // 6. The pages, then a sync.
        stats.write += write_pages(to.storage, &pages, page_size).map_err(io("write"))?;
        if !opts.no_sync {
            to.storage.sync().map_err(io("sync"))?;
        }
        before_meta(&Meta { checksum: meta.compute_checksum(), ..meta })?;
        // 7. The meta, then a sync.
        let meta_page = meta.txid % 2;
        to.storage
            .write_at(&meta.encode_page(meta_page, page_size as usize), meta_page * page_size)
            .map_err(io("write meta"))?;
        stats.write += 1;
        if !opts.no_sync {
            to.storage.sync().map_err(io("sync"))?;
        }
        Ok(())
    })();
    stats.write_time += writing.elapsed();
    written.map_err(Failure::Io)?;
    // The meta this one replaced as the newest is now the older one.
    writer.older_hwm = snap.meta.pgid;
    // What the meta page now holds: these fields and the checksum `encode_page` gave them.
    Ok(Committed { meta: Meta { checksum: meta.compute_checksum(), ..meta }, stats, gen: None })
}

/// Grows the file to hold `meta`'s high-water mark: to bbolt's mapping sizes while small, then
/// by `alloc_size` at a time, never past `max_size` when one is set.
fn grow(writer: &mut Writer, meta: &Meta, to: &Target<'_>) -> Result<()> {
    let ps = u64::from(meta.page_size);
    let needed = (meta.pgid * ps).max(MIN_FILE_SIZE);
    if needed <= writer.file_size {
        return Ok(());
    }
    let opts = to.opts;
    let mut target =
        if needed < opts.alloc_size { mmap_size(needed, ps) } else { needed.saturating_add(opts.alloc_size) };
    if opts.max_size > 0 {
        target = target.min(opts.max_size.max(needed));
    }
    to.storage.set_len(target).map_err(io_error("grow", to.path))?;
    if !opts.no_grow_sync {
        to.storage.sync().map_err(io_error("sync", to.path))?;
    }
    writer.file_size = target;
    Ok(())
}

/// Turns an I/O error of operation `op` on the file at `path` into [`Error::Io`].
fn io_error<'a>(op: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

/// Writes `pages` (by first page id), joining adjacent pages into writes of at most
/// [`MAX_WRITE`] bytes; a lone page is written from its own buffer. Returns the number of
/// write calls.
fn write_pages(
    storage: &dyn Storage,
    pages: &std::collections::BTreeMap<PageId, Vec<u8>>,
    ps: u64,
) -> std::io::Result<u64> {
    let mut calls = 0;
    let mut run: Vec<&[u8]> = Vec::new();
    let (mut run_start, mut run_len) = (0u64, 0u64);
    let mut joined: Vec<u8> = Vec::new();
    let mut flush = |run: &mut Vec<&[u8]>, at: u64| -> std::io::Result<()> {
        let bytes: &[u8] = match run.as_slice() {
            [] => return Ok(()),
            [one] => one,
            many => {
                joined.clear();
                many.iter().for_each(|b| joined.extend_from_slice(b));
                &joined
            }
        };
        storage.write_at(bytes, at)?;
        calls += 1;
        run.clear();
        Ok(())
    };
    for (&id, buf) in pages {
        let off = id * ps;
        if run_start + run_len != off || run_len >= MAX_WRITE {
            flush(&mut run, run_start)?;
            (run_start, run_len) = (off, 0);
        }
        run.push(buf);
        run_len += buf.len() as u64;
    }
    flush(&mut run, run_start)?;
    Ok(calls)
}
