//! Counters: database-wide figures (bbolt's `DB.Stats`) and the work of committed
//! transactions (`TxStats`).
//!
//! Rivet rebuilds trees at commit instead of keeping bbolt's in-memory node graph, so the node
//! counters mean: `node_count` nodes written, `node_deref` committed nodes read to rebuild them,
//! `split` extra nodes made by splitting, `rebalance` merges of underfull nodes, `spill`
//! buckets committed.

use std::time::Duration;

/// Counters shared by every snapshot of one database (updated without locks).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub cursors: std::sync::atomic::AtomicU64,
}

/// Counters of transaction work, summed over committed transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Write transactions committed.
    pub commits: u64,
    /// Pages allocated.
    pub page_count: u64,
    /// Bytes allocated.
    pub page_alloc: u64,
    /// Cursors created.
    pub cursor_count: u64,
    /// Nodes written.
    pub node_count: u64,
    /// Committed nodes read to rebuild them.
    pub node_deref: u64,
    /// Underfull nodes merged.
    pub rebalance: u64,
    /// Time spent merging.
    pub rebalance_time: Duration,
    /// Extra nodes made by splitting.
    pub split: u64,
    /// Buckets committed.
    pub spill: u64,
    /// Time spent rebuilding trees.
    pub spill_time: Duration,
    /// Write calls to the file (data and meta).
    pub write: u64,
    /// Time spent writing and syncing.
    pub write_time: Duration,
}

impl TxStats {
    /// `self - other`, field by field (saturating): the work done between two readings.
    pub fn sub(&self, o: &TxStats) -> TxStats {
        TxStats {
            commits: self.commits.saturating_sub(o.commits),
            page_count: self.page_count.saturating_sub(o.page_count),
            page_alloc: self.page_alloc.saturating_sub(o.page_alloc),
            cursor_count: self.cursor_count.saturating_sub(o.cursor_count),
            node_count: self.node_count.saturating_sub(o.node_count),
            node_deref: self.node_deref.saturating_sub(o.node_deref),
            rebalance: self.rebalance.saturating_sub(o.rebalance),
            rebalance_time: self.rebalance_time.saturating_sub(o.rebalance_time),
            split: self.split.saturating_sub(o.split),
            spill: self.spill.saturating_sub(o.spill),
            spill_time: self.spill_time.saturating_sub(o.spill_time),
            write: self.write.saturating_sub(o.write),
            write_time: self.write_time.saturating_sub(o.write_time),
        }
    }

    pub(crate) fn add(&mut self, o: &TxStats) {
        self.commits += o.commits;
        self.page_count += o.page_count;
        self.page_alloc += o.page_alloc;
        self.cursor_count += o.cursor_count;
        self.node_count += o.node_count;
        self.node_deref += o.node_deref;
        self.rebalance += o.rebalance;
        self.rebalance_time += o.rebalance_time;
        self.split += o.split;
        self.spill += o.spill;
        self.spill_time += o.spill_time;
        self.write += o.write;
        self.write_time += o.write_time;
    }
}

/// Database statistics (bbolt's `DB.Stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Free pages, reusable now.
    pub free_page_n: u64,
    /// Pages freed by recent commits and still visible to some reader.
    pub pending_page_n: u64,
    /// Bytes in free pages.
    pub free_alloc: u64,
    /// Bytes the freelist takes on disk.
    pub freelist_inuse: u64,
    /// Read transactions started.
    pub tx_n: u64,
    /// Read transactions open now.
    pub open_tx_n: u64,
    /// Memory maps alive (the current one plus old ones still held by readers).
    pub maps: u64,
    /// Transaction counters.
    pub tx_stats: TxStats,
}

impl Stats {
    /// `self - other`: counters are subtracted, gauges (free pages, open transactions, maps)
    /// are taken from `self`.
    pub fn sub(&self, o: &Stats) -> Stats {
        Stats { tx_n: self.tx_n.saturating_sub(o.tx_n), tx_stats: self.tx_stats.sub(&o.tx_stats), ..*self }
    }
}
