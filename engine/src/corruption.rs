//! What can be wrong with a file, as data: the reason of [`crate::Error::Corrupted`], and the
//! problems the consistency check reports.
//!
//! Checks and tools match on these kinds, never on message text. One enum serves both: a read
//! that meets damage stops with `Error::Corrupted { page, reason }`, and a walk that goes on
//! past it records a [`Problem`] of the same kind. The two are worded for their readers: an
//! error says what stopped the read (`page reached twice (damaged tree)`), a problem line uses
//! the consistency check's (and bbolt's) words for the same thing (`page 7: multiple
//! references`).

use std::fmt;

use crate::limits::MAX_DEPTH;

/// A page number (the crate's `PageId`, which `error.rs` defines; named here without importing
/// it, since `error.rs` holds these types in its `Error`).
type PageId = u64;

/// A kind of damage, with what is known about it. `Display` is the wording of an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// A page id outside `2..hwm`: a meta page, or a page the meta does not cover.
    #[error("page id outside 2..{hwm} (high-water mark)")]
    OutOfBounds {
        /// The high-water mark.
        hwm: PageId,
    },
    /// The page's header names another page.
    #[error("page header says it is page {found}")]
    IdMismatch {
        /// The id stored in the header.
        found: PageId,
    },
    /// A node's overflow pages run past the high-water mark.
    #[error("{overflow} overflow pages run past the high-water mark")]
    OverflowPastHwm {
        /// The overflow count of the header.
        overflow: u32,
    },
    /// The page lies beyond the end of the file (a truncated file).
    #[error("beyond the end of the file (the file holds {file_pages} pages)")]
    BeyondFile {
        /// Whole pages in the file.
        file_pages: u64,
    },
    /// The page starts in the file but its overflow pages run past its end.
    #[error("its {overflow} overflow pages run past the end of the file (the file holds {file_pages} pages)")]
    OverflowPastFile {
        /// The overflow count of the header.
        overflow: u32,
        /// Whole pages in the file.
        file_pages: u64,
    },
    /// A span of pages lies beyond the memory map.
    #[error("page span {start}..{end} lies beyond the mapping of {size} bytes")]
    BeyondMap {
        /// First byte.
        start: u64,
        /// Byte after the last one.
        end: u64,
        /// Size of the mapping.
        size: u64,
    },
    /// A structure does not fit in the bytes it should lie in.
    #[error("{what} needs {needed} bytes, only {len} there")]
    TooShort {
        /// What was being read ("page header", "bucket header", ...).
        what: &'static str,
        /// Bytes it needs (saturating at `u32::MAX`; 32 bits keep the error type small).
        needed: u32,
        /// Bytes there are (fewer than needed).
        len: u32,
    },
    /// A page where a branch or leaf was expected carries neither flag.
    #[error("expected a branch or leaf page, found flags {flags:#x}")]
    InvalidType {
        /// The page's flags.
        flags: u16,
    },
    /// A node's element headers do not fit in its page span.
    #[error("{count} elements do not fit in the page")]
    TooManyElements {
        /// The element count of the header.
        count: usize,
    },
    /// An element's key or value lies outside its page span.
    #[error("element data {start}..{end} lies outside the page span of {span} bytes")]
    ElementOutOfSpan {
        /// Offset of the data in the span.
        start: usize,
        /// Offset after the data.
        end: usize,
        /// Bytes in the span.
        span: usize,
    },
    /// An element asked of a node that does not hold it.
    #[error("no {kind} element {index}")]
    NoElement {
        /// "leaf" or "branch".
        kind: &'static str,
        /// The element asked for.
        index: usize,
    },
    /// The keys and values of a node's elements add up to more than the node's bytes: their
    /// data overlap.
    #[error("its elements announce {total} bytes of keys and values, more than its {span} bytes (overlapping data)")]
    DataOverlap {
        /// Bytes of keys and values announced.
        total: u64,
        /// Bytes of the node (with its overflow pages).
        span: usize,
    },
    /// A branch page without elements.
    #[error("empty branch page")]
    EmptyBranch,
    /// An element with an empty key.
    #[error("element {element} has an empty key")]
    EmptyKey {
        /// The element.
        element: usize,
    },
    /// A leaf key not greater than the key before it in its bucket (in this page or an earlier
    /// one).
    #[error("keys out of order at element {element}")]
    KeysOutOfOrder {
        /// The element.
        element: usize,
    },
    /// A branch key not greater than the one before it in the same page.
    #[error("branch keys out of order at element {element}")]
    BranchKeysOutOfOrder {
        /// The element.
        element: usize,
    },
    /// A cursor or merged walk found a key that does not move on from the last one.
    #[error("keys out of order{} (damaged tree)", if *.across_pages { " across pages" } else { "" })]
    KeysNotAscending {
        /// Whether the walk was crossing from one page to the next.
        across_pages: bool,
    },
    /// A bucket that an iteration listed is not found by a lookup of its name.
    #[error("a bucket listed by iteration cannot be found again (keys out of order)")]
    ListedBucketLost,
    /// A branch key differs from the first key of its child page.
    #[error("branch key {} differs from the first key {} of child page {}", short_hex(&.0.key), short_hex(&.0.first), .0.child)]
    BranchKeyMismatch(Box<KeyMismatch>),
    /// A page reached a second time: by two references, or through a cycle. With
    /// `overflow_of`, the page is an overflow page of that node.
    #[error("page reached twice (damaged tree)")]
    ReachedTwice {
        /// The node whose overflow page this is.
        overflow_of: Option<PageId>,
    },
    /// A page a tree uses is listed on the freelist.
    #[error("reachable freed")]
    ReachableFreed {
        /// The node whose overflow page this is.
        overflow_of: Option<PageId>,
    },
    /// A page below the high-water mark that no tree uses and the freelist does not list.
    #[error("unreachable unfreed")]
    UnreachableUnfreed,
    /// A run of `count` (at least 2) consecutive pages, from the problem's page on, that no
    /// tree uses and the freelist does not list: reported as one problem, so that a check's
    /// report is proportional to the file's content, not to its high-water mark.
    #[error("unreachable unfreed ({count} pages)")]
    UnreachableUnfreedRun {
        /// Pages in the run.
        count: u64,
    },
    /// A page listed on the freelist twice.
    #[error("already freed")]
    FreedTwice,
    /// The freelist lists one of its own pages.
    #[error("the freelist lists its own page")]
    FreelistListsItself,
    /// The freelist lists a page id outside `2..hwm`.
    #[error("freelist id out of bounds (2..{hwm})")]
    FreeIdOutOfBounds {
        /// The high-water mark.
        hwm: PageId,
    },
    /// The meta names a freelist page outside `2..hwm`.
    #[error("freelist page outside 2..{hwm}")]
    FreelistOutOfBounds {
        /// The high-water mark.
        hwm: PageId,
    },
    /// The freelist's overflow pages run past the high-water mark.
    #[error("freelist overflow runs past the high-water mark")]
    FreelistOverflowPastHwm,
    /// The freelist page does not carry the freelist flag.
    #[error("expected a freelist page, found flags {flags:#x}")]
    NotFreelist {
        /// The page's flags.
        flags: u16,
    },
    /// The freelist's count runs past its pages.
    #[error("freelist of {count} ids overruns its {len} bytes")]
    FreelistOverrun {
        /// The stored count.
        count: u64,
        /// Bytes of the freelist's pages.
        len: usize,
    },
    /// The stored freelist could not be read; free pages are unknown.
    #[error("the freelist cannot be read: {0}")]
    FreelistUnreadable(Box<Corruption>),
    /// A tree deeper than `MAX_DEPTH` (64) levels.
    #[error("tree deeper than {MAX_DEPTH} levels (cycle?)")]
    TreeTooDeep,
    /// Buckets nested deeper than `MAX_DEPTH` (64) levels.
    #[error("buckets nested deeper than {MAX_DEPTH} levels")]
    NestingTooDeep,
    /// The page image of an inline bucket is not a leaf.
    #[error("inline bucket page is not a leaf")]
    InlineNotLeaf,
    /// An inline bucket holds a nested bucket (Go never writes one).
    #[error("inline bucket holds a sub-bucket")]
    InlineHoldsBucket,
    /// An inline bucket's keys are empty or not ascending.
    #[error("inline bucket keys out of order")]
    InlineKeysOutOfOrder,
    /// The page image of an inline bucket is damaged.
    #[error("inline bucket: {0}")]
    InlineDamaged(Box<Corruption>),
    /// What is wrong with element `index` of the page (a bucket header, an inline bucket).
    #[error("element {index}: {reason}")]
    Element {
        /// The element.
        index: usize,
        /// What is wrong with it.
        reason: Box<Corruption>,
    },
    /// A leaf element whose flags have bits other than the bucket flag (a warning: the file is
    /// readable).
    #[error("element {element} has unknown flag bits {flags:#x}")]
    UnknownFlags {
        /// The element.
        element: usize,
        /// Its flags.
        flags: u32,
    },
    /// The root bucket holds a plain value (Go's root bucket holds only buckets).
    #[error("root bucket holds a non-bucket key {}", short_hex(.key))]
    RootHoldsValue {
        /// The key.
        key: Vec<u8>,
    },
    /// A file written without a freelist whose trees are damaged: its free pages cannot be
    /// known.
    #[error("while rebuilding the freelist: {0}")]
    Unrebuildable(Box<Problem>),
    /// An operation in the operation log of a journal record cannot be decoded. The record's
    /// checksum held, so the log was written so (a bug) or by another program; it is never
    /// applied. The error's `page` is 0: no page is involved.
    #[error("journal operation log, byte {offset}: {what}")]
    JournalOp {
        /// Offset in the record's payload of the field that failed.
        offset: u64,
        /// What is wrong there ("unknown opcode", "length past the end", ...).
        what: &'static str,
    },
    /// A journal record whose operations do not replay as they were recorded (an operation
    /// fails, or hands out another bucket id): it is not applied.
    #[error("journal record {txid} does not replay: {why}")]
    JournalReplay {
        /// The record's transaction id.
        txid: u64,
        /// Which operation, and what went wrong.
        why: Box<str>,
    },
    /// Anything else (rare one-offs, mostly of a commit meeting a damaged tree).
    #[error("{0}")]
    Other(String),
}

/// The keys of a [`Corruption::BranchKeyMismatch`] (boxed, so that the error type stays small
/// on the paths that return it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMismatch {
    /// The branch element's key.
    pub key: Vec<u8>,
    /// The child's first key.
    pub first: Vec<u8>,
    /// The child page.
    pub child: PageId,
}

impl From<String> for Corruption {
    fn from(s: String) -> Self {
        Corruption::Other(s)
    }
}

impl From<&str> for Corruption {
    fn from(s: &str) -> Self {
        Corruption::Other(s.to_string())
    }
}

/// One thing the consistency check found: a page and what is wrong with it (or, for
/// [`Problem::is_warning`], what is odd about it).
///
/// `Display` is the check's line, `page N: ...`, in bbolt's words where bbolt has them
/// (`multiple references`, `reachable freed`, `unreachable unfreed`, `already freed`,
/// `out of bounds`, `invalid type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The page to blame.
    pub page: PageId,
    /// What is wrong.
    pub kind: Corruption,
}

impl Problem {
    /// A problem with `page`.
    pub fn new(page: PageId, kind: Corruption) -> Self {
        Problem { page, kind }
    }

    /// Whether this is an oddity that does not make the file wrong (unknown element flag bits).
    pub fn is_warning(&self) -> bool {
        matches!(self.kind, Corruption::UnknownFlags { .. })
    }

    /// Whether the walk went on through everything below the page: the problem is with the
    /// order or the content of what it read (keys, branch keys, inline buckets), not a page it
    /// could not read or follow.
    pub fn is_content(&self) -> bool {
        is_content(&self.kind)
    }
}

fn is_content(kind: &Corruption) -> bool {
    use Corruption as C;
    match kind {
        C::EmptyKey { .. }
        | C::KeysOutOfOrder { .. }
        | C::BranchKeysOutOfOrder { .. }
        | C::BranchKeyMismatch { .. }
        | C::EmptyBranch
        | C::UnknownFlags { .. }
        | C::RootHoldsValue { .. }
        | C::InlineNotLeaf
        | C::InlineHoldsBucket
        | C::InlineKeysOutOfOrder
        | C::DataOverlap { .. } => true,
        C::Element { reason, .. } => is_content(reason),
        _ => false,
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Corruption as C;
        let page = self.page;
        let of = |o: &Option<PageId>| o.map(|s| format!(" (overflow page of page {s})")).unwrap_or_default();
        match &self.kind {
            C::OutOfBounds { hwm } => write!(f, "page {page}: out of bounds: {hwm}"),
            C::InvalidType { .. } => write!(f, "page {page}: invalid type: {}", self.kind),
            C::ReachedTwice { overflow_of } => write!(f, "page {page}: multiple references{}", of(overflow_of)),
            C::ReachableFreed { overflow_of } => write!(f, "page {page}: reachable freed{}", of(overflow_of)),
            C::BeyondFile { file_pages } => {
                write!(f, "page {page}: missing: beyond the end of the truncated file ({file_pages} pages)")
            }
            C::TreeTooDeep => write!(f, "page {page}: tree deeper than {MAX_DEPTH} levels"),
            C::UnreachableUnfreedRun { count } => {
                write!(f, "pages {page}-{}: {}", page.saturating_add(count.saturating_sub(1)), self.kind)
            }
            C::FreelistUnreadable(reason) => write!(f, "freelist: page {page}: {reason}"),
            kind => write!(f, "page {page}: {kind}"),
        }
    }
}

/// Up to 16 bytes of `b` in lowercase hex, `...` if longer.
fn short_hex(b: &[u8]) -> String {
    let n = b.len().min(16);
    let mut s: String = b[..n].iter().map(|x| format!("{x:02x}")).collect();
    if b.len() > n {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_problem_lines_are_worded_for_their_readers() {
        let p = |page, kind| Problem::new(page, kind).to_string();
        assert_eq!(p(193, Corruption::ReachedTwice { overflow_of: None }), "page 193: multiple references");
        assert_eq!(Corruption::ReachedTwice { overflow_of: None }.to_string(), "page reached twice (damaged tree)");
        assert_eq!(
            p(8, Corruption::ReachableFreed { overflow_of: Some(7) }),
            "page 8: reachable freed (overflow page of page 7)"
        );
        assert_eq!(
            p(150, Corruption::InvalidType { flags: 0 }),
            "page 150: invalid type: expected a branch or leaf page, found flags 0x0"
        );
        assert_eq!(p(999, Corruption::OutOfBounds { hwm: 6 }), "page 999: out of bounds: 6");
        assert_eq!(Corruption::OutOfBounds { hwm: 6 }.to_string(), "page id outside 2..6 (high-water mark)");
        let key = vec![0, 0, 0, 0, 0, 0, 5, 0x58];
        let first = vec![0, 0, 0, 0, 0, 0, 5, 0x59];
        assert_eq!(
            p(193, Corruption::BranchKeyMismatch(Box::new(KeyMismatch { key, first, child: 2 }))),
            "page 193: branch key 0000000000000558 differs from the first key 0000000000000559 of child page 2"
        );
        assert_eq!(short_hex(&[0xab; 17]), format!("{}...", "ab".repeat(16)));
        let inline = Corruption::Element { index: 3, reason: Box::new(Corruption::InlineNotLeaf) };
        assert_eq!(p(7, inline), "page 7: element 3: inline bucket page is not a leaf");
        let fl = Corruption::FreelistUnreadable(Box::new(Corruption::NotFreelist { flags: 2 }));
        assert_eq!(p(5, fl), "freelist: page 5: expected a freelist page, found flags 0x2");
    }

    #[test]
    fn content_problems_are_told_from_pages_not_followed() {
        assert!(Problem::new(2, Corruption::KeysOutOfOrder { element: 1 }).is_content());
        let inline = Corruption::Element { index: 0, reason: Box::new(Corruption::InlineHoldsBucket) };
        assert!(Problem::new(2, inline).is_content());
        assert!(!Problem::new(2, Corruption::ReachedTwice { overflow_of: None }).is_content());
        assert!(!Problem::new(2, Corruption::InvalidType { flags: 0 }).is_content());
        assert!(Problem::new(2, Corruption::UnknownFlags { element: 0, flags: 4 }).is_warning());
    }
}
