//! The read-only memory map of the database file, and the only place that turns mapped memory
//! into slices.
//!
//! Why this is sound: a [`Map`] is shared (`Arc`) by every transaction that started while it was
//! current, so it outlives every slice handed out from it. Slices are only ever made for pages
//! below the high-water mark of the snapshot that asks, and the commit protocol never writes a
//! page that an open snapshot can reach (freed pages stay pending until the last reader that
//! could see them is gone, and each commit writes the meta page the newest snapshot does not
//! use). The file itself is protected from other processes by the `flock` held while the
//! database is open. When the file outgrows the map, the writer makes a new, larger `Map`; old
//! ones are unmapped when their last transaction ends.

use std::fs::File;

use memmap2::{Mmap, MmapOptions};

use crate::error::{Error, PageId, Result};

/// A read-only mapping of the first `len` bytes of the file's address space.
#[derive(Debug)]
pub(crate) struct Map {
    mmap: Option<Mmap>,
}

impl Map {
    /// Maps `size` bytes of `file` (the mapping may extend past the end of the file, so that the
    /// file can grow without a new map).
    #[allow(unsafe_code)] // the mmap(2) call
    pub fn new(file: &File, size: u64, populate: bool) -> std::io::Result<Map> {
        if size == 0 {
            return Ok(Map { mmap: None });
        }
        let mut opts = MmapOptions::new();
        opts.len(size as usize);
        if populate {
            opts.populate();
        }
        // SAFETY: the map is read-only and shared. The file may change underneath only through
        // our own `pwrite`s, which never touch bytes that a live slice from this map covers (see
        // the module docs), and other processes are excluded by the flock. Bytes past the end
        // of the file are never turned into slices: callers only ask for pages below their
        // snapshot's high-water mark, and the file always covers that mark (checked at open,
        // kept by every commit before its meta is written).
        let mmap = unsafe { opts.map(file)? };
        Ok(Map { mmap: Some(mmap) })
    }

    /// Size of the mapping.
    pub fn size(&self) -> u64 {
        self.mmap.as_ref().map_or(0, |m| m.len() as u64)
    }

    /// The bytes `offset..offset + len`, if they lie inside the mapping.
    #[allow(unsafe_code)] // a slice of the mapping
    pub fn bytes(&self, offset: u64, len: u64, page: PageId) -> Result<&[u8]> {
        let end = offset.checked_add(len).ok_or_else(|| Error::corrupted(page, "page span overflows"))?;
        let Some(m) = &self.mmap else {
            return Err(Error::corrupted(page, "the database is not mapped"));
        };
        if end > m.len() as u64 {
            let size = m.len() as u64;
            return Err(Error::corrupted(page, crate::corruption::Corruption::BeyondMap { start: offset, end, size }));
        }
        // SAFETY: `offset..end` lies inside the mapping (checked above), which lives as long as
        // `&self`. Only this range is borrowed, never the whole map, and the commit protocol
        // never writes a page that a live snapshot can reach (module docs), so the bytes do not
        // change while the slice exists.
        Ok(unsafe { std::slice::from_raw_parts(m.as_ptr().add(offset as usize), len as usize) })
    }
}

/// bbolt's mapping size for `needed` bytes: powers of two from 32 KiB to 1 GiB, then 1 GiB steps,
/// rounded to the page size.
pub(crate) fn mmap_size(needed: u64, page_size: u64) -> u64 {
    const MAX_STEP: u64 = 1 << 30;
    let mut size = 1u64 << 15;
    while size < MAX_STEP {
        if needed <= size {
            return size;
        }
        size <<= 1;
    }
    let mut s = needed.div_ceil(MAX_STEP).saturating_mul(MAX_STEP);
    if page_size > 0 && !s.is_multiple_of(page_size) {
        s = (s / page_size).saturating_add(1).saturating_mul(page_size);
    }
    s
}
