//! What the page walker ([`crate::tree::walk`]) tells the code that runs it: the [`Visitor`]
//! trait and the events it receives. The consistency check, bucket statistics, the freelist
//! rebuild and the `rivet` tool's page table are each a visitor.

use crate::corruption::Problem;
use crate::error::{PageId, Result};
use crate::format::page::NodeView;

/// The role in which the walk claims a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Meta page 0 or 1.
    Meta,
    /// The first page of the stored freelist.
    Freelist {
        /// Ids it lists.
        ids: usize,
        /// Its overflow pages.
        overflow: u32,
    },
    /// The first page of a tree node of bucket number `bucket` (see [`BucketStart::index`]),
    /// claimed before it is read: a [`Visitor::node`] follows if it is a readable node.
    Node {
        /// The bucket.
        bucket: u32,
    },
    /// A continuation page of the node or freelist starting at `of`.
    Overflow {
        /// The first page.
        of: PageId,
        /// The node's bucket (`None` for the freelist).
        bucket: Option<u32>,
    },
}

/// Where a bucket's tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketRoot {
    /// A paged bucket: its root page.
    Paged(PageId),
    /// An inline bucket: the page holding its header (0 when walked alone), and its page
    /// image's length.
    Inline {
        /// The leaf page holding the bucket's element.
        holder: PageId,
        /// Bytes of the page image.
        len: usize,
    },
}

/// A bucket the walk enters.
#[derive(Debug, Clone, Copy)]
pub struct BucketStart<'a> {
    /// Its number in this walk: 0 for the first (the root bucket, the tree of
    /// [`Scope::From`](crate::tree::walk::Scope::From), the bucket of [`Scope::Bucket`](crate::tree::walk::Scope::Bucket)), then counting up as buckets are met.
    pub index: u32,
    /// The number of the bucket it is nested in.
    pub parent: Option<u32>,
    /// Its name (empty for bucket 0).
    pub name: &'a [u8],
    /// Nesting level: 0 for bucket 0, its children 1, ...
    pub nesting: usize,
    /// Where its tree is.
    pub root: BucketRoot,
}

/// A node the walk read and decoded.
#[derive(Debug, Clone, Copy)]
pub struct NodeInfo<'a> {
    /// Its page (for an inline bucket, the page holding it).
    pub page: PageId,
    /// The bucket whose tree it is in.
    pub bucket: u32,
    /// Its level in the tree: 1 for the root.
    pub level: usize,
    /// Whether it is the page image of an inline bucket.
    pub inline: bool,
    /// The node (elements are checked as they are read).
    pub view: NodeView<'a>,
    /// Bytes it spans (the page and its overflow pages, or the inline image).
    pub bytes: usize,
    /// Its overflow pages.
    pub overflow: u32,
}

/// What a walk tells the code that runs it. Every method but [`Visitor::problem`] has a default
/// that ignores the event.
pub trait Visitor {
    /// The walk claimed page `id` (the first time it reached it) in `role`.
    fn page(&mut self, id: PageId, role: Role) {
        let _ = (id, role);
    }

    /// A bucket begins; its tree's events follow, then the walk goes on in its parent.
    fn bucket(&mut self, bucket: &BucketStart<'_>) {
        let _ = bucket;
    }

    /// A node was read and decoded (before its elements are checked).
    fn node(&mut self, node: &NodeInfo<'_>) {
        let _ = node;
    }

    /// Page `id` (in `2..hwm`, present in the source) was not reached; `free` if the freelist
    /// lists it, or no freelist is stored (then every page not reached is free).
    fn unreached(&mut self, id: PageId, free: bool) {
        let _ = (id, free);
    }

    /// Something is wrong. Return `Err` to stop the walk with that error.
    ///
    /// # Errors
    /// Whatever the visitor decides (a walk that needs a sound file stops at the first
    /// problem that matters to it).
    fn problem(&mut self, problem: Problem) -> Result<()>;

    /// Whether the walk should check the content of what it reads: key order, empty keys,
    /// branch keys, element flags, inline buckets, values in the root bucket (the problems
    /// [`Problem::is_content`] tells apart). A visitor that ignores those says `false` and the
    /// walk skips the work; pages are read, claimed and followed the same either way.
    fn checks_content(&self) -> bool {
        true
    }
}
