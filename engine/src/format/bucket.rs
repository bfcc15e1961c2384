//! Bucket headers: the 16-byte value (root page, sequence) a bucket element stores, followed
//! for an inline bucket by the image of its single leaf page.

use crate::error::{PageId, Result};
use crate::format::layout;
use crate::format::page::NodeView;

/// Size of a bucket header stored as a leaf value: root pgid and sequence.
pub const BUCKET_HEADER_SIZE: usize = size_of::<layout::BucketHeader>();

/// Where a bucket's tree lives.
#[derive(Debug, Clone, Copy)]
pub enum DiskRoot<'a> {
    /// A paged bucket: its root page.
    Paged(PageId),
    /// An inline bucket: the page image stored after its header.
    Inline(&'a [u8]),
}

/// A committed bucket: its tree and sequence, as read from its header.
#[derive(Debug, Clone, Copy)]
pub struct DiskBucket<'a> {
    /// The tree.
    pub root: DiskRoot<'a>,
    /// The stored sequence.
    pub sequence: u64,
    /// The root node, when a bucket handle has read it already (so lookups through the
    /// handle do not read and check the root page again).
    pub(crate) node: Option<NodeView<'a>>,
}

/// Decodes a bucket header (and inline page) stored as the value of a bucket element found in
/// page `page`.
///
/// # Errors
/// [`Error::Corrupted`](crate::Error::Corrupted) naming `page` if `value` is shorter than a
/// bucket header. The inline page image, if any, is not checked here.
pub fn decode_bucket(value: &[u8], page: PageId) -> Result<DiskBucket<'_>> {
    let (h, inline) = layout::read::<layout::BucketHeader>(value, page, "bucket header")?;
    let root = match h.root.get() {
        0 => DiskRoot::Inline(inline),
        root => DiskRoot::Paged(root),
    };
    Ok(DiskBucket { root, sequence: h.sequence.get(), node: None })
}
