//! The freelist a meta names, read through any [`PageSource`] (format doc, section 8): for the
//! walk, which needs the free set, and for tools that describe it.

use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result};
use crate::format::freelist::Freelist;
use crate::format::meta::{Meta, NO_FREELIST};
use crate::format::page::PageHeader;
use crate::format::source::PageSource;

/// A stored freelist, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFreelist {
    /// Its first page.
    pub page: PageId,
    /// Pages it spans (first page plus overflow).
    pub span: u64,
    /// The ids it lists, as stored (ids outside `2..hwm` included: the writer ignores them,
    /// the check reports them).
    pub ids: Vec<PageId>,
    /// Whether the count is in the long form (`0xFFFF` in the header, the count in the first
    /// slot).
    pub long_form: bool,
}

/// Reads the freelist `meta` names; `None` when it names none ([`NO_FREELIST`]).
///
/// # Errors
/// [`Error::Corrupted`] naming the freelist page if it lies outside `2..hwm`, its header names
/// another page, its overflow
/// runs past the high-water mark or the source's end, it is not a freelist page, or its count
/// overruns it; [`Error::Io`] from the source.
pub fn read_freelist<S: PageSource + ?Sized>(src: &S, meta: &Meta) -> Result<Option<StoredFreelist>> {
    let id = meta.freelist;
    if id == NO_FREELIST {
        return Ok(None);
    }
    let hwm = meta.pgid;
    if id < 2 || id >= hwm {
        return Err(Error::corrupted(id, Corruption::FreelistOutOfBounds { hwm }));
    }
    let first = src.pages(id, 1)?;
    let h = PageHeader::read(&first, id)?;
    if h.id != id {
        return Err(Error::corrupted(id, Corruption::IdMismatch { found: h.id }));
    }
    let span = 1 + u64::from(h.overflow);
    if id + span > hwm {
        return Err(Error::corrupted(id, Corruption::FreelistOverflowPastHwm));
    }
    let ids =
        if span == 1 { Freelist::decode_ids(&first, id)? } else { Freelist::decode_ids(&src.pages(id, span)?, id)? };
    Ok(Some(StoredFreelist { page: id, span, ids, long_form: h.count == 0xFFFF }))
}
