//! Replaying a journal record: its operation log, applied to a write transaction through the
//! same `WriteTx` methods that recorded it.
//!
//! The same operations on the same committed state perform the same changes and hand out the
//! same arena ids, so a replay reproduces the transaction exactly. Each id an operation returns
//! is checked against the one the log recorded, and each operation must succeed as it did the
//! first time: a record that does not replay cleanly is damage (`Corrupted`), never a quietly
//! different database.

use crate::commit::write::WriteTx;
use crate::corruption::Corruption;
use crate::error::{Error, Result, TxId};
use crate::format::oplog::{decode, Op};

/// Applies the operation log `payload` of the record `txid` to `w`.
///
/// # Errors
/// [`Error::Corrupted`] naming page 0 if the log does not decode, an operation fails, or an id
/// differs from the recorded one.
pub(crate) fn replay(w: &mut WriteTx, txid: TxId, payload: &[u8]) -> Result<()> {
    for (i, op) in decode(payload).enumerate() {
        let op = op?;
        let diverged = |why: String| {
            Error::corrupted(0, Corruption::JournalReplay { txid, why: format!("operation {i}: {why}").into() })
        };
        let same = |got: usize, want: usize| {
            if got == want {
                Ok(())
            } else {
                Err(diverged(format!("bucket id {got}, the log says {want}")))
            }
        };
        // Ids name buckets this transaction materialised already; any other would index past
        // the arena.
        let known = w.arena.len();
        if let Some(bad) = inputs(&op).into_iter().flatten().find(|&b| b >= known) {
            return Err(diverged(format!("bucket id {bad} was never opened ({known} are)")));
        }
        let done = match op {
            Op::Child { parent, name, id } => w.child(parent, name).map(|got| same(got, id)),
            Op::CreateChild { parent, name, if_missing, id } => {
                w.create_child(parent, name, if_missing).map(|got| same(got, id))
            }
            Op::Put { bucket, key, value } => w.put(bucket, key, value).map(Ok),
            Op::Delete { bucket, key } => w.delete(bucket, key).map(Ok),
            Op::SetSequence { bucket, value } => w.set_sequence(bucket, value).map(Ok),
            Op::DeleteChild { parent, name } => w.delete_child(parent, name).map(Ok),
            Op::MoveChild { src, name, dst } => w.move_child(src, name, dst).map(Ok),
        };
        match done {
            Ok(checked) => checked?,
            Err(e) => return Err(diverged(e.to_string())),
        }
    }
    Ok(())
}

/// The bucket ids an operation acts on (not the one it hands out).
fn inputs(op: &Op<'_>) -> [Option<usize>; 2] {
    match *op {
        Op::Child { parent, .. } | Op::CreateChild { parent, .. } | Op::DeleteChild { parent, .. } => {
            [Some(parent), None]
        }
        Op::Put { bucket, .. } | Op::Delete { bucket, .. } | Op::SetSequence { bucket, .. } => [Some(bucket), None],
        Op::MoveChild { src, dst, .. } => [Some(src), Some(dst)],
    }
}
