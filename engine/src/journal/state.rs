//! What a database in journal mode keeps between commits: the journal file, the generation of
//! nodes not yet checkpointed, which of them are live, and the last checkpoint's meta; and the
//! two ways a write transaction ends in journal mode, a journaled commit and a checkpoint
//! (design doc, "The journal").
//!
//! The writer owns this state (it is taken with the writer's slot), so nothing here locks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::commit::protocol::{self, Committed, Failure, Target};
use crate::commit::write::WriteTx;
use crate::error::{Error, PageId, Result, TxId};
use crate::format::meta::Meta;
use crate::journal::format::{Header, RecordKind};
use crate::journal::writer::Journal;
use crate::tree::generation::{Generation, Links};

/// What an open found in the journal and did with it ([`crate::DB::recovery`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Journaled commits replayed (acknowledged before the handle that wrote them ended
    /// without a checkpoint).
    pub replayed: u64,
    /// Bytes at the journal's end that were not replayed (a record torn by a crash, or
    /// damaged), with the offset where they start and why; `None` if the journal was intact.
    pub dropped: Option<(u64, u64, String)>,
}

/// The journal-mode state of an open database.
pub(crate) struct JournalState {
    /// The journal file, positioned at its end.
    pub journal: Journal,
    /// Nodes of journaled commits since the last checkpoint.
    pub gen: Arc<Generation>,
    /// The nodes of `gen` the newest version reaches (what a checkpoint places), with their
    /// links.
    pub live: BTreeMap<PageId, Links>,
    /// Bytes of page images in `gen`.
    pub gen_bytes: u64,
    /// The meta of the last checkpoint: what the file holds, and the journal's base.
    pub durable: Meta,
    /// [`crate::Options::journal_max_bytes`].
    pub max_bytes: u64,
}

impl JournalState {
    /// A state with an empty generation over the checkpoint `durable`, appending to `journal`.
    pub fn new(journal: Journal, durable: Meta, max_bytes: u64) -> Self {
        JournalState {
            journal,
            gen: Arc::new(Generation::new()),
            live: BTreeMap::new(),
            gen_bytes: 0,
            durable,
            max_bytes,
        }
    }

    /// Whether the generation or the journal has outgrown the limit: the next write
    /// transaction should checkpoint first.
    pub fn full(&self) -> bool {
        self.gen_bytes >= self.max_bytes || self.journal.end() >= self.max_bytes
    }

    /// Whether a transaction whose operation log is `log_len` bytes is better committed as a
    /// checkpoint (a bulk load gains nothing from the journal, and its record would outgrow it).
    pub fn too_large(&self, log_len: usize) -> bool {
        log_len as u64 >= self.max_bytes / 2
    }

    /// Whether anything was journaled since the last checkpoint.
    pub fn dirty(&self, newest: &Meta) -> bool {
        newest.txid != self.durable.txid
    }

    /// A journaled commit of `w`: the spill into the generation, then the record (`payload`,
    /// the transaction's operation log) appended and, with `sync`, synced. With `append` off
    /// (a replay at open: the record is in the journal already), nothing is written.
    ///
    /// # Errors
    /// [`Failure::Refused`] if the spill finds damage (nothing kept, nothing written);
    /// [`Failure::Io`] if the append or the sync fails (the handle must be poisoned).
    pub fn commit(
        &mut self,
        w: &mut WriteTx,
        payload: &[u8],
        append: bool,
        sync: bool,
    ) -> std::result::Result<Committed, Failure> {
        let kept = protocol::keep(w, &self.gen).map_err(Failure::Refused)?;
        if append {
            self.journal.append(RecordKind::Commit, kept.meta.txid, payload).map_err(Failure::Io)?;
            if sync {
                self.journal.sync().map_err(Failure::Io)?;
            }
        }
        for &(first, count) in &kept.freed {
            self.gen.record_freed(kept.meta.txid, first, count);
        }
        for id in &kept.dead {
            self.live.remove(id);
        }
        for (id, links) in kept.born {
            self.gen_bytes += self.gen.page(id).map_or(0, |b| b.len() as u64);
            self.live.insert(id, links);
        }
        Ok(Committed { meta: kept.meta, stats: kept.stats, gen: Some(self.gen.clone()) })
    }

    /// The txid a checkpoint's meta takes: the first at or after `at_least` whose meta page
    /// (`txid % 2`) is not the durable meta's, so that a torn meta write can never take the
    /// last checkpoint with it. `at_least` is past the newest version's txid: readers of that
    /// version must not share a txid with the checkpoint, whose freed pages they still read.
    pub fn checkpoint_txid(&self, at_least: TxId) -> TxId {
        if at_least % 2 == self.durable.txid % 2 {
            at_least + 1
        } else {
            at_least
        }
    }

    /// Writes the live nodes of the generation, and the changes of `w` if it has any, to the
    /// file as one ordinary commit; records the meta in the journal just before the meta is
    /// written (so that an open after a crash recognises the checkpoint); then starts a new
    /// generation and resets the journal to follow the new meta. `w.txid` must come from
    /// [`JournalState::checkpoint_txid`].
    ///
    /// # Errors
    /// As [`protocol::commit`]; a failure of the journal reset after the meta is durable is
    /// [`Failure::Io`] (the checkpoint stands, and an open recognises it).
    pub fn checkpoint(&mut self, w: &mut WriteTx, to: &Target<'_>) -> std::result::Result<Committed, Failure> {
        let gen = self.gen.clone();
        // Nodes of buckets `w` deleted are not live any more (the spill drops the others it
        // frees as it meets them).
        let gone: BTreeSet<PageId> = w.freed_nodes.iter().copied().collect();
        let live = self.live.iter().filter(|(id, _)| !gone.contains(id));
        let nodes: Vec<(PageId, &[u8], &Links)> = match live.map(|(&id, l)| gen.page(id).map(|b| (id, b, l))).collect()
        {
            Ok(nodes) => nodes,
            Err(e) => return Err(Failure::Refused(e)),
        };
        let sync = !to.opts.no_sync;
        let journal = &mut self.journal;
        let mut record = |meta: &Meta| -> Result<()> {
            journal.append(RecordKind::Checkpoint, meta.txid, &meta.checksum.to_le_bytes())?;
            if sync {
                journal.sync()?;
            }
            Ok(())
        };
        let committed = protocol::commit_with(w, to, &nodes, &mut record)?;
        drop(nodes);
        w.writer.release_cap = committed.meta.txid;
        self.durable = committed.meta;
        self.gen = Arc::new(Generation::new());
        self.live.clear();
        self.gen_bytes = 0;
        let m = &committed.meta;
        let header = Header { page_size: m.page_size, base_txid: m.txid, base_checksum: m.checksum };
        self.journal.reset(header).map_err(Failure::Io)?;
        Ok(committed)
    }
}

/// The error a journal of another history gets.
pub(crate) fn mismatch(journal_base: TxId, file: TxId) -> Error {
    Error::JournalMismatch { journal_base, file }
}
