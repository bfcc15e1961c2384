//! The consistency check (bbolt's `tx.Check`, and more), and the reachability walk that
//! rebuilds a freelist that was not stored: both are the page walker ([`crate::tree::walk`])
//! with a visitor that keeps what it is told.
//!
//! Invariants checked, for one meta: every page below the high-water mark is reached exactly
//! once (from the bucket trees, the freelist page, or as meta page 0/1) or free, never both; no
//! page is listed free twice; every reached tree page is a branch or leaf whose stored id is its
//! position and whose span lies below the mark; keys are strictly ascending within and across
//! the pages of a bucket, and not empty; a branch key equals the first key of its child; branch
//! pages are not empty; trees are at most `MAX_DEPTH` (64) levels deep and nested
//! at most as deep; inline buckets hold one leaf and no sub-buckets; the root bucket holds only
//! buckets. Messages use bbolt's wording where bbolt has one ([`Problem`]'s `Display`).

use crate::corruption::{Corruption, Problem};
use crate::error::{Error, PageId, Result};
use crate::format::meta::Meta;
use crate::format::source::PageSource;
use crate::tree::snapshot::Snapshot;
use crate::tree::walk::{walk, Scope, Visitor};

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// What is wrong, in the order found (empty: consistent).
    pub problems: Vec<Problem>,
    /// Oddities that do not make the file wrong ([`Problem::is_warning`]).
    pub warnings: Vec<Problem>,
}

impl Visitor for Report {
    fn problem(&mut self, p: Problem) -> Result<()> {
        if p.is_warning() {
            self.warnings.push(p);
        } else {
            self.problems.push(p);
        }
        Ok(())
    }
}

/// Checks `scope` of the file `meta` describes, read from `src`: a snapshot, or a file read
/// page by page (which may be truncated: pages past its end are reported missing).
///
/// # Errors
/// [`Error::Io`] when the source cannot be read; damage is reported, not returned.
pub fn check<S: PageSource + ?Sized>(src: &S, meta: &Meta, scope: Scope<'_>) -> Result<Report> {
    let mut report = Report::default();
    walk(src, meta, scope, &mut report)?;
    Ok(report)
}

/// Pages nothing reached, collected as runs (`start`, `len`) in ascending order, so that memory
/// follows the number of runs, not the high-water mark; stops at the first problem.
struct Unreached {
    root: PageId,
    runs: Vec<(PageId, u64)>,
}

impl Visitor for Unreached {
    fn unreached(&mut self, id: PageId, _free: bool) {
        match self.runs.last_mut() {
            Some((start, len)) if *start + *len == id => *len += 1,
            _ => self.runs.push((id, 1)),
        }
    }

    fn problem(&mut self, p: Problem) -> Result<()> {
        if p.is_warning() {
            return Ok(());
        }
        Err(Error::corrupted(self.root, Corruption::Unrebuildable(Box::new(p))))
    }
}

/// Every page in `2..hwm` not reachable from the root bucket, as ascending runs (`start`,
/// `len`): the free set of a file written without a freelist (`no_freelist_sync`).
///
/// # Errors
/// [`Error::Corrupted`] naming the root page if the trees are damaged at all (a freelist
/// rebuilt from them could hand out pages still in use).
pub fn unreachable_runs(snap: &Snapshot) -> Result<Vec<(PageId, u64)>> {
    let mut v = Unreached { root: snap.meta.root, runs: Vec::new() };
    walk(snap, &snap.meta, Scope::Trees, &mut v)?;
    Ok(v.runs)
}
