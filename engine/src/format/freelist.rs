//! The freelist: which pages below the high-water mark can be reused (format doc, section 8).
//!
//! In memory, free pages are kept as runs (`start -> len`) with a second index by run length, so
//! that allocating `n` contiguous pages is a logarithmic best-fit lookup even on a fragmented
//! multi-GB file, never a scan of the whole list. Pages freed by transaction `t` stay *pending*
//! until no open reader has a snapshot older than `t`; only then may they be handed out again.
//! A commit records the runs it took (`Spill::allocated`) and the pages it freed (pending under
//! its txid), so a commit that fails before writing restores the list exactly.
//!
//! On disk the list is bbolt's: sorted u64 ids after the page header, with the 0xFFFF count
//! overflow form for 65535 ids or more (read and written as [`crate::format::layout`] structures).

use std::collections::{BTreeMap, BTreeSet};

use zerocopy::FromBytes;

use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result, TxId};
use crate::format::layout::{self, FreelistCount, FreelistId};
use crate::format::page::{PageHeader, FREELIST_FLAG, PAGE_HEADER_SIZE};

/// Free and pending pages.
#[derive(Debug, Default, Clone)]
pub struct Freelist {
    runs: BTreeMap<PageId, u64>,
    by_len: BTreeSet<(u64, PageId)>,
    free_count: u64,
    pending: BTreeMap<TxId, Vec<(PageId, u64)>>,
    pending_count: u64,
}

impl Freelist {
    /// An empty freelist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a freelist whose free set is `ids` (any order, duplicates ignored).
    pub fn from_ids(mut ids: Vec<PageId>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let mut fl = Freelist::new();
        let mut i = 0;
        while i < ids.len() {
            let start = ids[i];
            let mut len = 1;
            while i + (len as usize) < ids.len() && ids[i + len as usize] == start + len {
                len += 1;
            }
            fl.insert_run(start, len);
            i += len as usize;
        }
        fl
    }

    /// Builds a freelist whose free set is the runs (`start`, `len`) given, which must not
    /// overlap (adjacent runs are joined). Memory follows the number of runs, not of pages.
    pub fn from_runs(runs: impl IntoIterator<Item = (PageId, u64)>) -> Self {
        let mut fl = Freelist::new();
        for (start, len) in runs {
            if len > 0 {
                fl.insert_run(start, len);
            }
        }
        fl
    }

    /// Takes out the free run that ends exactly at `hwm`, if there is one, and returns it: those
    /// pages can leave the file instead of being listed (a commit then lowers the high-water
    /// mark to the run's start). Pending pages are never taken.
    pub fn take_tail(&mut self, hwm: PageId) -> Option<(PageId, u64)> {
        let (&start, &len) = self.runs.range(..hwm).next_back()?;
        if start + len != hwm {
            return None;
        }
        self.remove_run(start, len);
        Some((start, len))
    }

    /// Number of pages free for allocation now.
    pub fn free_count(&self) -> u64 {
        self.free_count
    }
    /// Number of pages freed by recent transactions and not yet reusable.
    pub fn pending_count(&self) -> u64 {
        self.pending_count
    }
    /// Free pages, pending pages, and bytes of the on-disk list (for statistics).
    pub fn figures(&self) -> (u64, u64, u64) {
        (self.free_count, self.pending_count, self.encoded_size() as u64)
    }

    /// Free plus pending: the number of ids the on-disk list will hold.
    pub fn count(&self) -> u64 {
        self.free_count + self.pending_count
    }

    fn insert_run(&mut self, start: PageId, len: u64) {
        let (mut start, mut len) = (start, len);
        // Merge with the run that ends where this one starts.
        if let Some((&s, &l)) = self.runs.range(..start).next_back() {
            if s + l == start {
                self.remove_run(s, l);
                start = s;
                len += l;
            }
        }
        // Merge with the run that starts where this one ends.
        if let Some(&l) = self.runs.get(&(start + len)) {
            self.remove_run(start + len, l);
            len += l;
        }
        self.runs.insert(start, len);
        self.by_len.insert((len, start));
        self.free_count += len;
    }

    fn remove_run(&mut self, start: PageId, len: u64) {
        self.runs.remove(&start);
        self.by_len.remove(&(len, start));
        self.free_count -= len;
    }

    /// Whether `id` is free (not counting pending pages).
    pub fn is_free(&self, id: PageId) -> bool {
        self.runs.range(..=id).next_back().is_some_and(|(&s, &l)| id < s + l)
    }

    /// Takes `n` contiguous free pages (the smallest run that fits, lowest id on ties) and
    /// returns the first id, or `None` if no run is long enough.
    pub fn allocate(&mut self, n: u64) -> Option<PageId> {
        let (start, len) = self.take_shortest(n)?;
        if len > n {
            self.insert_run(start + n, len - n);
        }
        Some(start)
    }

    /// Takes the whole shortest free run (lowest id among equals) that holds at least `n` pages.
    pub fn take_shortest(&mut self, n: u64) -> Option<(PageId, u64)> {
        let &(len, start) = self.by_len.range((n.max(1), 0)..).next()?;
        self.remove_run(start, len);
        Some((start, len))
    }

    /// Gives back pages taken by [`Freelist::allocate`] or [`Freelist::take_shortest`] (the
    /// unused tail of a run, or a failed commit's pages).
    pub fn unallocate(&mut self, start: PageId, n: u64) {
        self.insert_run(start, n);
    }

    /// Drops every free page at or above `hwm` (used when a commit that raised the high-water
    /// mark is undone: those pages no longer exist).
    pub fn forget_from(&mut self, hwm: PageId) {
        let mut above: Vec<(PageId, u64)> = self.runs.range(hwm..).map(|(&s, &l)| (s, l)).collect();
        if let Some((&s, &l)) = self.runs.range(..hwm).next_back() {
            if s + l > hwm {
                above.push((s, l));
            }
        }
        for (s, l) in above {
            self.remove_run(s, l);
            if s < hwm {
                self.insert_run(s, hwm - s);
            }
        }
    }

    /// Records that transaction `txid` freed `n` pages starting at `start`.
    pub fn free(&mut self, txid: TxId, start: PageId, n: u64) {
        self.pending.entry(txid).or_default().push((start, n));
        self.pending_count += n;
    }

    /// Forgets the pages that `txid` freed (rollback).
    pub fn rollback_pending(&mut self, txid: TxId) {
        if let Some(v) = self.pending.remove(&txid) {
            self.pending_count -= v.iter().map(|&(_, n)| n).sum::<u64>();
        }
    }

    /// Makes the pages freed by transactions `<= txid` reusable.
    pub fn release(&mut self, txid: TxId) {
        let later = self.pending.split_off(&(txid.saturating_add(1)));
        let done = std::mem::replace(&mut self.pending, later);
        for (_, runs) in done {
            for (s, n) in runs {
                self.pending_count -= n;
                self.insert_run(s, n);
            }
        }
    }

    /// Every free and pending id, ascending.
    pub fn all_ids(&self) -> Vec<PageId> {
        let mut ids: Vec<PageId> = Vec::with_capacity(self.count() as usize);
        for (&s, &l) in &self.runs {
            ids.extend(s..s + l);
        }
        for runs in self.pending.values() {
            for &(s, n) in runs {
                ids.extend(s..s + n);
            }
        }
        ids.sort_unstable();
        ids
    }

    /// Bytes the on-disk encoding of the current list needs (an upper bound for the list that
    /// will actually be written, which can only get shorter by allocating its own page).
    pub fn encoded_size(&self) -> usize {
        let n = self.count() as usize;
        let count = if n >= 0xFFFF { size_of::<FreelistCount>() } else { 0 };
        PAGE_HEADER_SIZE + count + n * size_of::<FreelistId>()
    }

    /// Encodes the list into `buf` (zeroed, at least [`Freelist::encoded_size`] bytes) as page
    /// `id` spanning `overflow` extra pages.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `id` if `buf` is too short for the list.
    pub fn encode(&self, buf: &mut [u8], id: PageId, overflow: u32) -> Result<()> {
        let ids = self.all_ids();
        let n = ids.len();
        let (count, long) = if n >= 0xFFFF { (0xFFFFu16, true) } else { (n as u16, false) };
        let len = buf.len();
        let (h, rest) = layout::write::<layout::PageHeader>(buf, id, "freelist page header")?;
        *h = PageHeader { id, flags: FREELIST_FLAG, count, overflow }.to_disk();
        let rest = if long {
            let (c, rest) = layout::write::<FreelistCount>(rest, id, "freelist count")?;
            c.set(n as u64);
            rest
        } else {
            rest
        };
        let (slots, _) = <[FreelistId]>::mut_from_prefix_with_elems(rest, n)
            .map_err(|_| layout::too_short(id, "freelist", self.encoded_size(), len))?;
        for (slot, id) in slots.iter_mut().zip(ids) {
            slot.set(id);
        }
        Ok(())
    }

    /// Decodes the ids stored in a freelist page (`bytes` spans the page and its overflow).
    /// The ids are returned as stored; callers decide what to do with ids outside `2..hwm`
    /// (Go does not check them: the writer ignores them, `check` reports them).
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `pgid` if the page is not a freelist page, or is too short
    /// for its header or for the number of ids it claims.
    pub fn decode_ids(bytes: &[u8], pgid: PageId) -> Result<Vec<PageId>> {
        let (h, rest) = layout::read::<layout::PageHeader>(bytes, pgid, "freelist page header")?;
        let h = PageHeader::from_disk(h);
        if h.flags & FREELIST_FLAG == 0 {
            return Err(Error::corrupted(pgid, Corruption::NotFreelist { flags: h.flags }));
        }
        let (n, rest) = if h.count == 0xFFFF {
            let (n, rest) = layout::read::<FreelistCount>(rest, pgid, "freelist count")?;
            (n.get(), rest)
        } else {
            (u64::from(h.count), rest)
        };
        let overrun = || Error::corrupted(pgid, Corruption::FreelistOverrun { count: n, len: bytes.len() });
        let elems = usize::try_from(n).map_err(|_| overrun())?;
        let (ids, _) = <[FreelistId]>::ref_from_prefix_with_elems(rest, elems).map_err(|_| overrun())?;
        Ok(ids.iter().map(|id| id.get()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_and_best_fit() {
        let mut fl = Freelist::from_ids(vec![3, 4, 5, 9, 10, 20]);
        assert_eq!(fl.free_count(), 6);
        assert_eq!(fl.allocate(2), Some(9));
        assert_eq!(fl.allocate(1), Some(20));
        assert_eq!(fl.allocate(4), None);
        fl.unallocate(9, 2);
        fl.free(7, 6, 3);
        assert_eq!(fl.count(), 8);
        fl.release(7);
        // 3..=5, 6..=8 and 9..=10 now form one run of 8.
        assert_eq!(fl.allocate(8), Some(3));
        assert_eq!(fl.free_count(), 0);
    }

    #[test]
    fn encode_decode_including_overflow_form() {
        for n in [0usize, 1, 100, 0xFFFE, 0xFFFF, 70_000] {
            let ids: Vec<u64> = (0..n as u64).map(|i| 2 + i * 2).collect();
            let fl = Freelist::from_ids(ids.clone());
            let size = fl.encoded_size();
            let mut buf = vec![0u8; size];
            fl.encode(&mut buf, 5, 0).unwrap();
            let back = Freelist::decode_ids(&buf, 5).unwrap();
            assert_eq!(back, ids, "n = {n}");
            assert_eq!(PageHeader::read(&buf, 5).unwrap().count == 0xFFFF, n >= 0xFFFF);
            assert!(Freelist::decode_ids(&buf[..size - 1], 5).is_err() || n == 0);
            assert!(fl.encode(&mut buf[..size - 1], 5, 0).is_err() || n == 0);
        }
    }

    #[test]
    fn runs_and_tail() {
        let mut fl = Freelist::from_runs([(3, 2), (5, 1), (10, 1 << 40)]);
        assert_eq!(fl.free_count(), 3 + (1 << 40));
        assert!(fl.is_free(4) && fl.is_free(5) && !fl.is_free(6));
        assert_eq!(fl.take_tail(10 + (1 << 40) + 1), None);
        assert_eq!(fl.take_tail(10 + (1 << 40)), Some((10, 1 << 40)));
        assert_eq!(fl.take_tail(10), None);
        assert_eq!(fl.take_tail(6), Some((3, 3)));
        assert_eq!(fl.free_count(), 0);
        // Pending pages stay.
        fl.free(9, 20, 2);
        assert_eq!(fl.take_tail(22), None);
    }

    #[test]
    fn pending_is_not_allocatable_until_released() {
        let mut fl = Freelist::new();
        fl.free(5, 10, 1);
        assert_eq!(fl.allocate(1), None);
        fl.release(4);
        assert_eq!(fl.allocate(1), None);
        fl.release(5);
        assert_eq!(fl.allocate(1), Some(10));
    }
}
