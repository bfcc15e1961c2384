//! The file: the memory map readers see, the storage seam every write goes through, and the
//! advisory lock that keeps two writers apart.

pub(crate) mod holes;
pub mod lock;
pub(crate) mod mmap;
pub mod raw;
pub mod storage;
