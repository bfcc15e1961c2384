//! Placement: where in the file a commit's new pages go.
//!
//! A durable commit costs what its data sync costs, and that grows with the number of separate
//! places written far more than with the bytes: on the machines we measured, 1,300 scattered
//! 4 KiB pages take several times as long to sync as the same pages in one run. So the commit
//! builds its pages first, under provisional ids, and only then decides where they go, all at
//! once, in the order the spill gives (leaves, then branches, then the root bucket's pages):
//!
//! 1. the smallest free run that holds the whole commit, if there is one (one write);
//! 2. otherwise free runs, each filled before the next is taken, shortest first (taking the
//!    long runs first was measured and is worse: it breaks up the runs that later commits could
//!    have used whole, and leaves the singles for them); a page group that does not fit in
//!    what is left of a run moves to the next run, and the unused tail goes back;
//! 3. what no free run can hold goes above the high-water mark, in one run.
//!
//! Every free page is still used before the file grows, so files are no larger than with a
//! page-by-page best fit. The order matters for the *next* commits: pages rewritten together
//! are freed together, and come back as one run.

use std::collections::BTreeMap;

use crate::error::PageId;
use crate::format::freelist::Freelist;

pub(crate) use crate::limits::PROVISIONAL;

/// The outcome of [`crate::commit::spill::Spill::place`]: the commit's pages under their real ids.
pub(crate) struct Placed {
    /// The pages to write, by real first page id.
    pub pages: BTreeMap<PageId, Vec<u8>>,
    /// Provisional first page id -> real one.
    pub(crate) map: BTreeMap<PageId, PageId>,
    /// The first of the extra pages asked for.
    pub extra_at: Option<PageId>,
}

impl Placed {
    /// The real page of `id` (provisional or committed).
    pub fn real(&self, id: PageId) -> crate::error::Result<PageId> {
        if id < PROVISIONAL {
            return Ok(id);
        }
        self.map
            .get(&id)
            .copied()
            .ok_or_else(|| crate::error::Error::corrupted(id, "reference to a page this commit dropped"))
    }
}

/// Where a commit's page groups went.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The first real page of each group, in the order the groups were given.
    pub starts: Vec<PageId>,
    /// Pages taken: start, count, and whether they came from the freelist (for undo).
    pub taken: Vec<(PageId, u64, bool)>,
    /// The high-water mark after placement.
    pub hwm: PageId,
}

/// Places groups of `sizes[i]` contiguous pages, taking free runs from `freelist` and growing
/// from `hwm` (see the module docs for the policy).
pub(crate) fn place(freelist: &mut Freelist, hwm: PageId, sizes: &[u64]) -> Placement {
    let total: u64 = sizes.iter().sum();
    let mut out = Placement { starts: Vec::with_capacity(sizes.len()), taken: Vec::new(), hwm };
    if total == 0 {
        return out;
    }
    if let Some(start) = freelist.allocate(total) {
        let mut at = start;
        for &n in sizes {
            out.starts.push(at);
            at += n;
        }
        out.taken.push((start, total, true));
        return out;
    }
    // The run being filled: next free page, end, first page, and whether it is a free run.
    let (mut at, mut end, mut first, mut from_freelist) = (0, 0, 0, false);
    let mut rest = total;
    let mut freelist_dry = false;
    for &n in sizes {
        if end - at < n {
            close_run(freelist, &mut out, first, at, end, from_freelist);
            match (!freelist_dry).then(|| freelist.take_shortest(n)).flatten() {
                Some((s, len)) => (at, end, first, from_freelist) = (s, s + len, s, true),
                None => {
                    // Nothing free is long enough: everything left goes above the high-water
                    // mark, contiguously (smaller groups do not go back to the free runs, so
                    // the tail of the commit stays one write).
                    freelist_dry = true;
                    (at, end, first, from_freelist) = (out.hwm, out.hwm + rest, out.hwm, false);
                    out.hwm += rest;
                }
            }
        }
        out.starts.push(at);
        at += n;
        rest -= n;
    }
    close_run(freelist, &mut out, first, at, end, from_freelist);
    out
}

/// Records the used part `first..at` of a run and gives its unused tail `at..end` back.
fn close_run(
    freelist: &mut Freelist,
    out: &mut Placement,
    first: PageId,
    at: PageId,
    end: PageId,
    from_freelist: bool,
) {
    if at > first {
        out.taken.push((first, at - first, from_freelist));
    }
    if at < end {
        if from_freelist {
            freelist.unallocate(at, end - at);
        } else {
            // Never happens: the high-water run is sized to what is left.
            out.hwm -= end - at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(p: &Placement, sizes: &[u64]) -> Vec<PageId> {
        p.starts.iter().zip(sizes).flat_map(|(&s, &n)| s..s + n).collect()
    }

    #[test]
    fn a_commit_that_fits_a_free_run_goes_there_whole() {
        let mut fl = Freelist::from_ids(vec![5, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24, 25, 26, 27]);
        let sizes = [1, 2, 1, 1];
        let p = place(&mut fl, 100, &sizes);
        assert_eq!(pages(&p, &sizes), vec![10, 11, 12, 13, 14]);
        assert_eq!(p.taken, vec![(10, 5, true)]);
        assert_eq!(p.hwm, 100);
        assert_eq!(fl.free_count(), 9);
    }

    #[test]
    fn runs_fill_shortest_first_then_the_high_water_mark() {
        let mut fl = Freelist::from_ids(vec![3, 4, 8, 9, 10, 30]);
        let sizes = [1, 1, 2, 1, 1, 3, 1];
        let p = place(&mut fl, 50, &sizes);
        // 30, then 3..=4; the 2-page group skips the page left at 4 (it goes back and is used
        // later) for 8..=10; the 3-page group fits no run, so it and all after it go above the
        // high-water mark.
        assert_eq!(p.starts, vec![30, 3, 8, 10, 4, 50, 53]);
        assert_eq!(p.hwm, 54);
        assert_eq!(fl.free_count(), 0);
        let mut all = pages(&p, &sizes);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len() as u64, sizes.iter().sum::<u64>(), "no page placed twice");
    }

    #[test]
    fn an_empty_freelist_grows_the_file_in_one_run() {
        let mut fl = Freelist::new();
        let sizes = [1, 4, 1];
        let p = place(&mut fl, 7, &sizes);
        assert_eq!(p.starts, vec![7, 8, 12]);
        assert_eq!(p.taken, vec![(7, 6, false)]);
        assert_eq!(p.hwm, 13);
    }

    proptest::proptest! {
        #[test]
        fn placement_takes_each_page_once_and_undo_restores_the_list(
            free in proptest::collection::btree_set(2u64..300, 0..120),
            sizes in proptest::collection::vec(1u64..5, 0..60),
        ) {
            let hwm = 300;
            let before: Vec<PageId> = free.iter().copied().collect();
            let mut fl = Freelist::from_ids(before.clone());
            let p = place(&mut fl, hwm, &sizes);
            proptest::prop_assert_eq!(p.starts.len(), sizes.len());
            let mut used = pages(&p, &sizes);
            used.sort_unstable();
            let n = used.len();
            used.dedup();
            proptest::prop_assert_eq!(used.len(), n, "a page placed twice");
            for &id in &used {
                proptest::prop_assert!(free.contains(&id) || (hwm..p.hwm).contains(&id), "page {} was not free", id);
                proptest::prop_assert!(!fl.is_free(id), "page {} placed and still free", id);
            }
            // Only pages above the old mark are new; the mark covers exactly what was taken there.
            let grown: u64 = p.taken.iter().filter(|t| !t.2).map(|t| t.1).sum();
            proptest::prop_assert_eq!(p.hwm - hwm, grown);
            // Free pages are conserved: what is still free plus what was taken from the list.
            let taken: u64 = p.taken.iter().filter(|t| t.2).map(|t| t.1).sum();
            proptest::prop_assert_eq!(fl.free_count() + taken, before.len() as u64);
            // Undo (as a failed commit does) gives the list back exactly.
            for &(s, len, from_list) in &p.taken {
                if from_list {
                    fl.unallocate(s, len);
                }
            }
            proptest::prop_assert_eq!(fl.all_ids(), before);
        }
    }
}
