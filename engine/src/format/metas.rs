//! Choosing the meta to trust (format doc, section 4): the rule the engine opens a file by, and
//! tools describe one by, in one place.
//!
//! Meta 0 sits at offset 0 whatever the page size. If it is valid, its page size says where
//! meta 1 is; if not, meta 1 is looked for at each page size the caller suggests, and accepted
//! only if it is valid and names that page size itself. The active meta is the valid one with
//! the higher txid (meta 0 on a tie). Both metas are described either way, with what makes
//! each unusable, so that a tool can show a damaged one.

use crate::corruption::Corruption;
use crate::error::Error;
use crate::format::meta::{Meta, MAGIC, VERSION};

/// Bytes of a meta page that hold the page header and the meta: what [`select`] reads.
pub const META_PAGE_BYTES: usize = 80;

/// Why a meta page cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetaProblem {
    /// The file ends before the meta page.
    #[error("lies beyond the end of the file")]
    Missing,
    /// The bytes could not be decoded as a meta.
    #[error("page {page}: {reason}")]
    Undecodable {
        /// The meta page (0 or 1).
        page: u64,
        /// What is wrong.
        reason: Corruption,
    },
    /// The magic number, byte-swapped: a file written on a big-endian host.
    #[error("big-endian bbolt file (written on a big-endian host)")]
    BigEndian,
    /// Not bbolt's magic number.
    #[error("bad magic {0:#010x} (not a bbolt meta page)")]
    BadMagic(u32),
    /// Another format version.
    #[error("format version {0} (only version 2 is supported)")]
    Version(u32),
    /// The stored checksum is neither 0 nor the fields' checksum.
    #[error("checksum mismatch (stored {stored:#018x}, computed {computed:#018x})")]
    Checksum {
        /// As stored.
        stored: u64,
        /// As computed from the fields.
        computed: u64,
    },
    /// A page size that is not a power of two in 256..=65536.
    #[error("impossible page size {0}")]
    PageSize(u32),
    /// Meta 1 names a page size other than the one it was found at.
    #[error("page size {found} differs from the file's {file}")]
    PageSizeDiffers {
        /// The page size it names.
        found: u32,
        /// The page size it was read at.
        file: u32,
    },
}

impl MetaProblem {
    /// The error an open of a file whose meta 0 has this problem (and no usable meta 1) fails
    /// with: bbolt's `ErrInvalid`, `ErrVersionMismatch` or `ErrChecksum`.
    pub fn to_error(&self) -> Error {
        match self {
            MetaProblem::Checksum { .. } => Error::Checksum,
            MetaProblem::Version(found) => Error::VersionMismatch { found: *found },
            MetaProblem::BigEndian => Error::Invalid(self.to_string()),
            MetaProblem::BadMagic(m) => Error::Invalid(format!("bad magic {m:#010x}")),
            MetaProblem::PageSize(p) => Error::Invalid(format!("meta 0 has an impossible page size {p}")),
            MetaProblem::PageSizeDiffers { .. } | MetaProblem::Missing => Error::Invalid(self.to_string()),
            MetaProblem::Undecodable { page, reason } => Error::Corrupted { page: *page, reason: reason.clone() },
        }
    }
}

/// One meta page as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaSlot {
    /// 0 or 1.
    pub page: u64,
    /// The decoded fields (all zero when the page could not be read).
    pub meta: Meta,
    /// Why it is not usable, if it is not.
    pub problem: Option<MetaProblem>,
}

impl MetaSlot {
    /// Whether the meta is valid.
    pub fn valid(&self) -> bool {
        self.problem.is_none()
    }
}

/// Both meta pages, the page size, and which meta is active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metas {
    /// The page size: meta 0's if it is valid, else the one meta 1 was found at (or, if
    /// neither is valid, the first suggested).
    pub page_size: u32,
    /// Meta 0 and meta 1.
    pub slots: [MetaSlot; 2],
    /// The index of the active meta; `None` when neither is valid.
    pub active: Option<usize>,
}

impl Metas {
    /// The active meta, if any.
    pub fn active_meta(&self) -> Option<&Meta> {
        self.active.map(|i| &self.slots[i].meta)
    }
}

/// Whether `ps` can be a page size.
pub fn valid_page_size(ps: u32) -> bool {
    ps.is_power_of_two() && (256..=65536).contains(&ps)
}

/// Why `m` cannot be used, or `None`: magic, version and checksum as Go checks them, then a
/// possible page size, equal to `file` when that is known.
pub fn meta_problem(m: &Meta, file: Option<u32>) -> Option<MetaProblem> {
    if m.magic != MAGIC {
        if m.magic == MAGIC.swap_bytes() {
            return Some(MetaProblem::BigEndian);
        }
        return Some(MetaProblem::BadMagic(m.magic));
    }
    if m.version != VERSION {
        return Some(MetaProblem::Version(m.version));
    }
    let computed = m.compute_checksum();
    if m.checksum != 0 && m.checksum != computed {
        return Some(MetaProblem::Checksum { stored: m.checksum, computed });
    }
    if !valid_page_size(m.page_size) {
        return Some(MetaProblem::PageSize(m.page_size));
    }
    match file {
        Some(file) if m.page_size != file => Some(MetaProblem::PageSizeDiffers { found: m.page_size, file }),
        _ => None,
    }
}

fn slot(page: u64, bytes: Option<Vec<u8>>, file: Option<u32>) -> MetaSlot {
    let Some(bytes) = bytes else {
        return MetaSlot { page, meta: Meta::default(), problem: Some(MetaProblem::Missing) };
    };
    match Meta::decode(&bytes, page) {
        Ok(meta) => MetaSlot { page, meta, problem: meta_problem(&meta, file) },
        Err(Error::Corrupted { reason, .. }) => {
            MetaSlot { page, meta: Meta::default(), problem: Some(MetaProblem::Undecodable { page, reason }) }
        }
        Err(e) => {
            let reason = Corruption::Other(e.to_string());
            MetaSlot { page, meta: Meta::default(), problem: Some(MetaProblem::Undecodable { page, reason }) }
        }
    }
}

/// Reads both metas and chooses the active one. `read(offset)` returns the
/// [`META_PAGE_BYTES`] bytes at `offset`, or `None` past the end of the file; `probe` lists the
/// page sizes at which to look for meta 1 when meta 0 is unusable, in order.
///
/// # Errors
/// Only what `read` returns.
///
/// # Example
/// ```
/// use rivet_engine::format::meta::Meta;
/// use rivet_engine::format::metas::select;
/// let mut file = Meta::initial(4096, 0).encode_page(0, 4096);
/// file.extend(Meta::initial(4096, 1).encode_page(1, 4096));
/// file[20] ^= 0xff; // meta 0's version: unusable
/// let read = |off: u64| Ok::<_, ()>(file.get(off as usize..off as usize + 80).map(<[u8]>::to_vec));
/// let metas = select(read, &[512, 4096])?;
/// assert_eq!((metas.page_size, metas.active), (4096, Some(1)));
/// assert!(!metas.slots[0].valid());
/// # Ok::<(), ()>(())
/// ```
pub fn select<E>(mut read: impl FnMut(u64) -> Result<Option<Vec<u8>>, E>, probe: &[u32]) -> Result<Metas, E> {
    let m0 = slot(0, read(0)?, None);
    let (page_size, m1) = if m0.valid() {
        let ps = m0.meta.page_size;
        (ps, slot(1, read(u64::from(ps))?, Some(ps)))
    } else {
        let mut found = None;
        for &ps in probe.iter().filter(|&&p| valid_page_size(p)) {
            let s = slot(1, read(u64::from(ps))?, Some(ps));
            if s.valid() {
                found = Some((ps, s));
                break;
            }
        }
        match found {
            Some(f) => f,
            None => {
                let ps = probe.iter().copied().find(|&p| valid_page_size(p)).unwrap_or(4096);
                (ps, slot(1, read(u64::from(ps))?, Some(ps)))
            }
        }
    };
    let active = match (m0.valid(), m1.valid()) {
        (true, true) => Some(usize::from(m1.meta.txid > m0.meta.txid)),
        (true, false) => Some(0),
        (false, true) => Some(1),
        (false, false) => None,
    };
    Ok(Metas { page_size, slots: [m0, m1], active })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(metas: &[(u32, u64)], ps: usize) -> Vec<u8> {
        let mut f = Vec::new();
        for (i, &(page_size, txid)) in metas.iter().enumerate() {
            f.extend(Meta { txid, ..Meta::initial(page_size, txid) }.encode_page(i as u64, ps));
        }
        f
    }

    fn reader(f: &[u8]) -> impl FnMut(u64) -> Result<Option<Vec<u8>>, ()> + '_ {
        |off| Ok(f.get(off as usize..off as usize + META_PAGE_BYTES).map(<[u8]>::to_vec))
    }

    #[test]
    fn the_newer_valid_meta_wins() {
        let f = file(&[(4096, 6), (4096, 5)], 4096);
        let m = select(reader(&f), &[4096]).unwrap();
        assert_eq!((m.active, m.page_size), (Some(0), 4096));
        let f = file(&[(4096, 6), (4096, 7)], 4096);
        assert_eq!(select(reader(&f), &[4096]).unwrap().active, Some(1));
    }

    #[test]
    fn a_damaged_meta_0_is_described_and_meta_1_found_by_probing() {
        let mut f = file(&[(1024, 4), (1024, 3)], 1024);
        f[40] ^= 1;
        let m = select(reader(&f), &[4096, 256, 512, 1024]).unwrap();
        assert_eq!((m.active, m.page_size), (Some(1), 1024));
        assert!(matches!(m.slots[0].problem, Some(MetaProblem::Checksum { .. })));
        assert_eq!(m.slots[0].problem.as_ref().unwrap().to_error().to_string(), Error::Checksum.to_string());
        // Nowhere to be found: neither is active, meta 1 is described at the first size.
        let m = select(reader(&f), &[4096, 512]).unwrap();
        assert_eq!((m.active, m.page_size), (None, 4096));
        assert_eq!(m.slots[1].problem, Some(MetaProblem::Missing));
    }

    #[test]
    fn problems_are_named() {
        let m = Meta::initial(4096, 1);
        assert_eq!(meta_problem(&Meta { magic: MAGIC.swap_bytes(), ..m }, None), Some(MetaProblem::BigEndian));
        assert_eq!(meta_problem(&Meta { version: 3, ..m }, None), Some(MetaProblem::Version(3)));
        assert_eq!(meta_problem(&Meta { page_size: 100, ..m }, None), Some(MetaProblem::PageSize(100)));
        let differs = meta_problem(&m, Some(512));
        assert_eq!(differs.map(|p| p.to_string()).as_deref(), Some("page size 4096 differs from the file's 512"));
        assert!(matches!(MetaProblem::Version(3).to_error(), Error::VersionMismatch { found: 3 }));
    }
}
