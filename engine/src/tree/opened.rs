//! The committed bucket roots a read transaction has opened, so that a program walking nested
//! buckets through the public API (`Bucket::bucket`, recursively) meets each root page once.
//!
//! In a sound file every paged bucket has a root page of its own. A crafted file can root two
//! buckets at the same page (sharing: the paths through a chain of such levels double at each)
//! or nest a bucket inside itself (a cycle): a reader recursing over the buckets would then do
//! work exponential in the file, or never end. So a read transaction remembers, for each root
//! page it has opened a bucket at, which bucket that was (its parent's identity and its name);
//! opening a *different* bucket at a page already seen, or at the root bucket's page, is
//! [`Corruption::ReachedTwice`]. Opening the same bucket again (same parent, same name) is
//! fine: that is what a program looking it up twice does.
//!
//! Cost: one uncontended lock and one hash-map lookup per committed paged bucket opened (the
//! typed store opens about three per transaction). Write transactions do not track: their
//! handle has verified the committed trees once before its first write
//! ([`crate::Options::verify_before_write`]).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result};

/// Who a bucket's parent is, stably for the life of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parent {
    /// A paged bucket: its root page (unique, since this very tracking enforces it).
    Page(PageId),
    /// An inline bucket: the address of its page image in the map (stable while the
    /// transaction's snapshot lives).
    Inline(usize),
}

/// Each root page opened, with the bucket opened at it: its parent and its name.
type Roots = HashMap<PageId, (Parent, Box<[u8]>)>;

/// The roots opened so far, when tracking (read transactions).
#[derive(Debug, Default)]
pub(crate) struct Opened(Option<Mutex<Roots>>);

impl Opened {
    /// A tracker that records (for a read transaction).
    pub(crate) fn tracking() -> Self {
        Opened(Some(Mutex::new(HashMap::new())))
    }

    /// Records that bucket `name` of `parent` is rooted at `page`; `root` is the root bucket's
    /// page.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `page` if it is the root bucket's page, or another bucket
    /// was opened at it in this transaction.
    pub(crate) fn claim(&self, page: PageId, parent: Parent, name: &[u8], root: PageId) -> Result<()> {
        let Some(map) = &self.0 else { return Ok(()) };
        let twice = || Error::corrupted(page, Corruption::ReachedTwice { overflow_of: None });
        if page == root {
            return Err(twice());
        }
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        match map.entry(page) {
            Entry::Vacant(v) => {
                v.insert((parent, name.into()));
                Ok(())
            }
            Entry::Occupied(o) if o.get().0 == parent && *o.get().1 == *name => Ok(()),
            Entry::Occupied(_) => Err(twice()),
        }
    }
}

impl Clone for Opened {
    /// A clone tracks (or not) as the original does, from nothing.
    fn clone(&self) -> Self {
        if self.0.is_some() {
            Opened::tracking()
        } else {
            Opened::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bucket_again_is_fine_another_at_its_page_is_not() {
        let o = Opened::tracking();
        o.claim(5, Parent::Page(3), b"a", 3).unwrap();
        o.claim(5, Parent::Page(3), b"a", 3).unwrap();
        assert!(o.claim(5, Parent::Page(3), b"b", 3).is_err());
        assert!(o.claim(5, Parent::Page(5), b"a", 3).is_err());
        assert!(o.claim(3, Parent::Page(5), b"x", 3).is_err());
        Opened::default().claim(3, Parent::Page(5), b"x", 3).unwrap();
    }
}
