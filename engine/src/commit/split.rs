//! How a node too big for a page is cut into pages.
//!
//! bbolt decides *whether* (a node of a page or more, with more than four elements, each part
//! keeping two) and cuts greedily at `page_size * fill_percent`, so its last part is often a
//! sliver and, at its default fill of 0.5, every page of a bulk load stays half empty. Here the
//! parts are packed to the fill target and the last two are balanced: a page overflowing by one
//! element becomes two half pages (LMDB's midpoint split), and a bulk build packs its pages.

use crate::format::page::node_size;

/// The size in bytes up to which a split packs a part (`page_size * fill`).
pub(crate) fn threshold(page_size: usize, fill: f64) -> usize {
    ((page_size as f64 * fill) as usize).max(crate::format::page::PAGE_HEADER_SIZE + 1)
}

/// Splits `n` elements with the given serialised sizes (element header excluded).
///
/// bbolt's rule decides whether to split: a node of fewer than a page, or of four elements or
/// fewer, stays whole, and every part keeps at least two elements. Parts are then packed up to
/// `page_size * fill` bytes in key order, and the last two parts are balanced, so a page that
/// overflows by one element becomes two half pages (LMDB's midpoint split) while a large build
/// packs its pages to the fill target instead of leaving them half empty.
pub(crate) fn split_ranges(sizes: &[usize], page_size: usize, fill: f64) -> Vec<std::ops::Range<usize>> {
    const MIN_KEYS: usize = 2;
    let n = sizes.len();
    if n == 0 {
        return Vec::new();
    }
    let data: usize = sizes.iter().sum();
    let threshold = threshold(page_size, fill);
    let el = |i: usize| crate::format::page::ELEMENT_SIZE + sizes[i];
    // Cut points: greedy packing, each part at least MIN_KEYS elements and leaving at least
    // MIN_KEYS for the rest.
    let mut cuts = vec![0usize];
    let (mut start, mut rest_data) = (0, data);
    while n - start > 2 * MIN_KEYS && node_size(n - start, rest_data) >= page_size {
        let mut sz = crate::format::page::PAGE_HEADER_SIZE;
        let mut end = start;
        while end < n - MIN_KEYS && (end - start < MIN_KEYS || sz + el(end) <= threshold) {
            sz += el(end);
            rest_data -= sizes[end];
            end += 1;
        }
        cuts.push(end);
        start = end;
    }
    cuts.push(n);
    // Balance the last two parts: the cut that minimises the larger of them (greedy's own cut
    // is a candidate, so no part grows past what greedy made).
    if cuts.len() >= 3 {
        let (a, b) = (cuts[cuts.len() - 3], cuts[cuts.len() - 1]);
        let total: usize = (a..b).map(el).sum();
        let mut left = 0;
        let (mut best, mut best_max) = (cuts[cuts.len() - 2], usize::MAX);
        for cut in a + 1..b {
            left += el(cut - 1);
            if cut - a < MIN_KEYS || b - cut < MIN_KEYS {
                continue;
            }
            let larger = left.max(total - left);
            if larger < best_max {
                best_max = larger;
                best = cut;
            }
        }
        let len = cuts.len();
        cuts[len - 2] = best;
    }
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

#[cfg(test)]
mod tests {
    use super::split_ranges;
    use crate::format::page::{node_size, ELEMENT_SIZE};

    fn part_sizes(sizes: &[usize], parts: &[std::ops::Range<usize>]) -> Vec<usize> {
        parts.iter().map(|r| node_size(r.len(), sizes[r.clone()].iter().sum())).collect()
    }

    fn assert_partition(n: usize, parts: &[std::ops::Range<usize>]) {
        assert_eq!(parts.first().map(|r| r.start), Some(0));
        assert_eq!(parts.last().map(|r| r.end), Some(n));
        for w in parts.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        if parts.len() > 1 {
            assert!(parts.iter().all(|r| r.len() >= 2), "{parts:?}");
        }
    }

    #[test]
    fn small_nodes_stay_whole() {
        assert_eq!(split_ranges(&[174; 21], 4096, 1.0), vec![0..21]);
        assert_eq!(split_ranges(&[5000; 4], 4096, 1.0), vec![0..4]);
        assert!(split_ranges(&[], 4096, 1.0).is_empty());
    }

    #[test]
    fn a_page_overflowing_by_one_element_splits_in_half() {
        let sizes = [174; 22];
        assert!(node_size(22, 22 * 174) > 4096);
        assert_eq!(split_ranges(&sizes, 4096, 1.0), vec![0..11, 11..22]);
        assert_eq!(split_ranges(&sizes, 4096, 0.5), vec![0..11, 11..22]);
    }

    #[test]
    fn a_large_build_packs_pages_to_the_fill_target() {
        let sizes: Vec<usize> = (0..10_000).map(|i| 100 + (i * 37) % 150).collect();
        for fill in [1.0, 0.9, 0.5] {
            let parts = split_ranges(&sizes, 4096, fill);
            assert_partition(sizes.len(), &parts);
            let bytes = part_sizes(&sizes, &parts);
            let cap = (4096.0 * fill) as usize;
            assert!(bytes.iter().all(|&b| b <= 4096), "{fill}: {bytes:?}");
            // All but the balanced last two are full: the next element would not have fitted.
            for (r, &b) in parts.iter().zip(&bytes).take(parts.len() - 2) {
                assert!(b <= cap && b + ELEMENT_SIZE + sizes[r.end] > cap, "{fill}: {b} of {cap}");
            }
            let (x, y) = (bytes[bytes.len() - 2], bytes[bytes.len() - 1]);
            assert!(x.abs_diff(y) <= ELEMENT_SIZE + 250, "{fill}: {x} vs {y}");
        }
    }

    #[test]
    fn elements_larger_than_a_page_go_two_to_a_part() {
        let parts = split_ranges(&[10_000; 9], 4096, 1.0);
        assert_partition(9, &parts);
        assert!(parts.iter().all(|r| r.len() <= 3), "{parts:?}");
    }
}
