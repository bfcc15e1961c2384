//! The reachability walk a handle runs before its first write: the committed trees must reach
//! every page at most once, and none that the freelist lists.
//!
//! A commit frees the pages it replaces and hands out free pages. In a file where two buckets
//! share a page (a crafted or damaged file), or a bucket is nested in itself, or the freelist
//! lists a page a tree still uses, a commit would free a page that is still reachable, free a
//! page twice, or overwrite live data. Within one commit the writer can see that only for the
//! pages it touches; sharing across buckets shows only in a walk of the committed trees. So
//! the first write transaction of a handle walks them once ([`verify_for_write`]); the
//! engine's own commits keep the trees' shape (each page in one place), so later write
//! transactions of the handle need no walk. See [`crate::Options::verify_before_write`].

use crate::corruption::{Corruption, Problem};
use crate::error::{Error, Result};
use crate::tree::snapshot::Snapshot;
use crate::tree::walk::{walk, Scope, Visitor};

/// Stops at the first page reached twice or reachable and free; ignores other damage (which
/// a write does not make worse: it is reported by the check, and by reads that meet it).
struct Verify;

impl Visitor for Verify {
    fn problem(&mut self, p: Problem) -> Result<()> {
        match p.kind {
            Corruption::ReachedTwice { .. } | Corruption::ReachableFreed { .. } => {
                Err(Error::corrupted(p.page, p.kind))
            }
            _ => Ok(()),
        }
    }

    fn checks_content(&self) -> bool {
        false
    }
}

/// Walks the committed trees of `snap` (and its freelist) once, each page at most once.
///
/// # Errors
/// [`Error::Corrupted`] naming the first page the trees reach twice
/// ([`Corruption::ReachedTwice`]: shared between buckets, or a cycle), or a page they reach
/// that the freelist lists ([`Corruption::ReachableFreed`]); [`Error::Io`] from reading.
pub fn verify_for_write(snap: &Snapshot) -> Result<()> {
    walk(snap, &snap.meta, Scope::File, &mut Verify)
}
