//! A set of page ids sized by the pages in it, not by the file: a walk's visited set and the
//! freelist's ids.
//!
//! Ids are kept as bits in 64-page blocks, the blocks in a hash map keyed by block number, so
//! a file whose high-water mark is huge but whose trees are small costs what its trees cost.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::PageId;

/// A hasher for block numbers: one multiply (they are spread well enough by it, and hashing is
/// on every page a walk reaches).
#[derive(Default)]
struct BlockHasher(u64);

impl Hasher for BlockHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A set of page ids.
#[derive(Debug, Default, Clone)]
pub struct PageSet {
    blocks: HashMap<u64, u64, BuildHasherDefault<BlockHasher>>,
    len: usize,
}

impl PageSet {
    /// An empty set.
    pub fn new() -> Self {
        PageSet::default()
    }

    /// Adds `id`; `false` if it was there already.
    pub fn insert(&mut self, id: PageId) -> bool {
        let bit = 1u64 << (id % 64);
        let block = self.blocks.entry(id / 64).or_insert(0);
        if *block & bit != 0 {
            return false;
        }
        *block |= bit;
        self.len += 1;
        true
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: PageId) -> bool {
        self.blocks.get(&(id / 64)).is_some_and(|b| b & (1u64 << (id % 64)) != 0)
    }

    /// How many ids the set holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids in `from..to` that are not in the set, in order (one lookup per 64 ids).
    pub fn missing(&self, from: PageId, to: PageId) -> impl Iterator<Item = PageId> + '_ {
        let mut id = from;
        let mut block = None;
        std::iter::from_fn(move || {
            while id < to {
                let (n, bit) = (id / 64, id % 64);
                let bits = match block {
                    Some((b, bits)) if b == n => bits,
                    _ => {
                        let bits = self.blocks.get(&n).copied().unwrap_or(0);
                        block = Some((n, bits));
                        bits
                    }
                };
                let here = id;
                id += 1;
                if bits & (1u64 << bit) == 0 {
                    return Some(here);
                }
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_once_and_lists_what_is_missing() {
        let mut s = PageSet::new();
        assert!(s.insert(3) && s.insert(64) && s.insert(1 << 40));
        assert!(!s.insert(3));
        assert_eq!(s.len(), 3);
        assert!(s.contains(64) && s.contains(1 << 40) && !s.contains(65));
        let missing: Vec<PageId> = s.missing(2, 8).collect();
        assert_eq!(missing, vec![2, 4, 5, 6, 7]);
        assert_eq!(s.missing(60, 70).count(), 9);
    }
}
