//! How a commit's sorted changes meet a committed node.
//!
//! A commit routes each bucket's sorted changes down the committed tree: a branch hands each
//! child the changes that sort between its key and the next child's ([`count_before`]), and a
//! leaf is merged with its share ([`merge_leaf`]). Every committed page id met on the way is
//! checked against the provisional range ([`committed_ref`]), so a damaged page cannot make a
//! commit write through an id that placement would rewrite. With the journal, committed nodes
//! may be a generation's (`tree::generation`), which name provisional ids of earlier commits:
//! those below the commit's own first id are committed too.

use std::cmp::Ordering;

use zerocopy::FromBytes;

use crate::error::{Error, PageId, Result};
use crate::format::layout::BucketHeader;
use crate::format::page::{compare_keys, LeafElem, NodeView, BUCKET_LEAF_FLAG};

/// A bucket's pending changes in key order: the new element, or `None` for a delete.
pub(crate) type Changes<'x> = [(&'x [u8], Option<LeafElem<'x>>)];

/// Refuses a committed child or bucket root at or above `own`, the commit's first provisional
/// id (a damaged page): [`crate::limits::PROVISIONAL`] without the journal, the generation's next id with it.
pub(crate) fn committed_ref(owner: PageId, id: PageId, own: PageId) -> Result<PageId> {
    if id >= own {
        return Err(Error::corrupted(owner, format!("reference to page {id} beyond any file")));
    }
    Ok(id)
}

/// The root a leaf element's bucket header names, if it is a bucket with a paged root.
pub(crate) fn bucket_root(e: &LeafElem<'_>) -> Option<PageId> {
    if e.flags & BUCKET_LEAF_FLAG == 0 {
        return None;
    }
    // A value too short for a header has no root (decoding the bucket reports it).
    let (h, _) = BucketHeader::ref_from_prefix(e.value).ok()?;
    Some(h.root.get()).filter(|&r| r != 0)
}

/// The elements of committed leaf `node` with `changes` applied: a change before an element is
/// an insert, one with an equal key replaces (or deletes) it. The committed sub-bucket roots
/// kept are checked with [`committed_ref`].
pub(crate) fn merge_leaf<'x>(node: NodeView<'x>, changes: &Changes<'x>, own: PageId) -> Result<Vec<LeafElem<'x>>> {
    node.check_data()?;
    let mut out = Vec::with_capacity(node.len() + changes.len());
    let mut ci = 0;
    for i in 0..node.len() {
        let e = node.leaf_elem(i)?;
        let mut replaced = false;
        while let Some(&(key, change)) = changes.get(ci) {
            let order = compare_keys(key, e.key);
            if order == Ordering::Greater {
                break;
            }
            out.extend(change);
            ci += 1;
            if order == Ordering::Equal {
                replaced = true;
                break;
            }
        }
        if !replaced {
            if let Some(r) = bucket_root(&e) {
                committed_ref(node.pgid, r, own)?;
            }
            out.push(e);
        }
    }
    out.extend(changes[ci..].iter().filter_map(|c| c.1));
    Ok(out)
}

/// How many of the sorted `changes` sort before `key`, found by galloping from the front:
/// between two neighbouring children of a branch there are usually only a few.
pub(crate) fn count_before(changes: &Changes<'_>, key: &[u8]) -> usize {
    let before = |c: &(&[u8], Option<LeafElem<'_>>)| compare_keys(c.0, key) == Ordering::Less;
    let mut step = 1;
    while step <= changes.len() && before(&changes[step - 1]) {
        step *= 2;
    }
    // changes[..step / 2] all sort before `key`, and changes[step - 1] (if any) does not.
    let lo = step / 2;
    lo + changes[lo..step.min(changes.len())].partition_point(before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::page::write_leaf;
    use crate::limits::PROVISIONAL;

    fn elem<'a>(key: &'a [u8], value: &'a [u8]) -> LeafElem<'a> {
        LeafElem { flags: 0, key, value }
    }

    #[test]
    fn count_before_agrees_with_a_linear_count() {
        let keys: Vec<[u8; 2]> = (0u16..300).map(|i| (i * 3).to_be_bytes()).collect();
        for n in [0usize, 1, 2, 3, 7, 8, 9, 100, 300] {
            let changes: Vec<(&[u8], Option<LeafElem<'_>>)> = keys[..n].iter().map(|k| (&k[..], None)).collect();
            for probe in 0u16..=905 {
                let p = probe.to_be_bytes();
                let linear = changes.iter().filter(|c| c.0 < &p[..]).count();
                assert_eq!(count_before(&changes, &p), linear, "n {n}, probe {probe}");
            }
        }
    }

    #[test]
    fn merge_inserts_replaces_and_deletes() {
        let stored = [elem(b"b", b"1"), elem(b"d", b"2"), elem(b"f", b"3")];
        let mut page = vec![0u8; 4096];
        write_leaf(&mut page, 7, 0, stored.iter().copied()).expect("room");
        let node = NodeView::new(&page, 7).expect("a valid leaf");
        let changes: Vec<(&[u8], Option<LeafElem<'_>>)> = vec![
            (b"a", Some(elem(b"a", b"new"))),
            (b"d", None),
            (b"e", Some(elem(b"e", b"x"))),
            (b"f", Some(elem(b"f", b"33"))),
            (b"g", Some(elem(b"g", b"y"))),
        ];
        let out = merge_leaf(node, &changes, PROVISIONAL).expect("merge");
        let got: Vec<(&[u8], &[u8])> = out.iter().map(|e| (e.key, e.value)).collect();
        let want: Vec<(&[u8], &[u8])> = vec![(b"a", b"new"), (b"b", b"1"), (b"e", b"x"), (b"f", b"33"), (b"g", b"y")];
        assert_eq!(got, want);
    }

    #[test]
    fn a_sub_bucket_root_in_the_provisional_range_is_damage() {
        let header = BucketHeader { root: PROVISIONAL.into(), sequence: 0.into() };
        let header = zerocopy::IntoBytes::as_bytes(&header);
        let stored = [LeafElem { flags: BUCKET_LEAF_FLAG, key: b"sub", value: header }];
        let mut page = vec![0u8; 4096];
        write_leaf(&mut page, 9, 0, stored.iter().copied()).expect("room");
        let node = NodeView::new(&page, 9).expect("a valid leaf");
        assert!(merge_leaf(node, &[], PROVISIONAL).is_err());
    }
}
