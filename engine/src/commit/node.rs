//! The nodes a commit rebuilds: a node as an owned list of elements ([`Node`]), a branch's
//! child kept or rebuilt ([`Child`]), and cutting a node into the parts a split gives.
//!
//! Split from `spill.rs`, which walks the trees and decides what to rebuild; this file only
//! holds the values it builds.

use crate::error::Result;
use crate::format::page::{node_size, BranchElem, LeafElem, NodeView};

/// A node being rebuilt.
#[derive(Debug)]
pub(crate) enum Node<'x> {
    Leaf(Vec<LeafElem<'x>>),
    Branch(Vec<BranchElem<'x>>),
}

impl<'x> Node<'x> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Branch(v) => v.len(),
        }
    }
    pub(crate) fn size(&self) -> usize {
        match self {
            Node::Leaf(v) => node_size(v.len(), v.iter().map(|e| e.key.len() + e.value.len()).sum()),
            Node::Branch(v) => node_size(v.len(), v.iter().map(|e| e.key.len()).sum()),
        }
    }
    pub(crate) fn first_key(&self) -> &'x [u8] {
        match self {
            Node::Leaf(v) => v.first().map_or(&[][..], |e| e.key),
            Node::Branch(v) => v.first().map_or(&[][..], |e| e.key),
        }
    }
    pub(crate) fn is_leaf(&self) -> bool {
        matches!(self, Node::Leaf(_))
    }
    /// The data size of each element (key, and value for a leaf), as [`crate::commit::split`] takes it.
    pub(crate) fn elem_sizes(&self) -> Vec<usize> {
        match self {
            Node::Leaf(v) => v.iter().map(|e| e.key.len() + e.value.len()).collect(),
            Node::Branch(v) => v.iter().map(|e| e.key.len()).collect(),
        }
    }
    /// All elements of `nodes` as one node, if they are all of one kind.
    pub(crate) fn concat(nodes: Vec<Node<'x>>) -> std::result::Result<Node<'x>, Vec<Node<'x>>> {
        if nodes.iter().all(Node::is_leaf) {
            let leaf = |n: Node<'x>| if let Node::Leaf(v) = n { v } else { Vec::new() };
            Ok(Node::Leaf(nodes.into_iter().flat_map(leaf).collect()))
        } else if !nodes.iter().any(Node::is_leaf) {
            let branch = |n: Node<'x>| if let Node::Branch(v) = n { v } else { Vec::new() };
            Ok(Node::Branch(nodes.into_iter().flat_map(branch).collect()))
        } else {
            Err(nodes)
        }
    }
    pub(crate) fn min_keys(&self) -> usize {
        match self {
            Node::Leaf(_) => 1,
            Node::Branch(_) => 2,
        }
    }
}

/// A child of a branch being rebuilt: kept as it is, or rebuilt.
pub(crate) enum Child<'x> {
    Existing(BranchElem<'x>),
    Built(Node<'x>),
}

pub(crate) fn split<'x>(node: Node<'x>, page_size: usize, fill: f64) -> Vec<Node<'x>> {
    let ranges = crate::commit::split::split_ranges(&node.elem_sizes(), page_size, fill);
    cut(node, &ranges)
}

/// Cuts `node` into the parts `ranges` (consecutive, covering all its elements) name.
pub(crate) fn cut<'x>(node: Node<'x>, ranges: &[std::ops::Range<usize>]) -> Vec<Node<'x>> {
    match ranges.len() {
        0 => return Vec::new(),
        1 => return vec![node],
        _ => {}
    }
    // Cut from the back, so every element moves once.
    let mut parts = Vec::with_capacity(ranges.len());
    match node {
        Node::Leaf(mut v) => {
            for r in ranges.iter().rev() {
                parts.push(Node::Leaf(v.split_off(r.start)));
            }
        }
        Node::Branch(mut v) => {
            for r in ranges.iter().rev() {
                parts.push(Node::Branch(v.split_off(r.start)));
            }
        }
    }
    parts.reverse();
    parts
}

/// All elements of a committed node, as an owned list.
pub(crate) fn node_elems(view: NodeView<'_>) -> Result<Node<'_>> {
    view.check_data()?;
    if view.leaf {
        (0..view.len()).map(|i| view.leaf_elem(i)).collect::<Result<Vec<_>>>().map(Node::Leaf)
    } else {
        (0..view.len()).map(|i| view.branch_elem(i)).collect::<Result<Vec<_>>>().map(Node::Branch)
    }
}
