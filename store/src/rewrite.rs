//! Rewriting values in the type's own layout, so that reads no longer upgrade them on the fly,
//! and dropping from the catalog the layouts no value has any more (after which the program
//! may drop the old types of its chain that only those layouts needed).

use crate::backend::Txn;

use crate::catalog::{push_envelope, split_envelope, CATALOG_BUCKET};
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::evolve::Resolved;
use crate::record::Record;

/// Rewrites up to `limit` values of `T` that are not in the type's own layout, starting at
/// primary key `from` (encoded; `None`: the first). Returns how many were rewritten and where
/// to go on (`None`: the end was reached). The type must be registered.
pub(crate) fn rewrite<T: Record>(
    tx: &mut Txn<'_>,
    resolved: &Resolved,
    from: Option<&[u8]>,
    limit: usize,
) -> Result<(usize, Option<Vec<u8>>)> {
    let schema = T::schema();
    let name = schema.bucket.as_bytes();
    let Some(layout) = resolved.write_layout else {
        return Ok((0, None));
    };
    if resolved.all_current() {
        return Ok((0, None));
    }
    let mut out = Vec::new();
    let mut next = None;
    {
        let Some(b) = tx.tree(name)? else {
            return Ok((0, None));
        };
        for item in b.iter_from(from) {
            let (k, v) = item?;
            if resolved.is_current(v) {
                continue;
            }
            if out.len() == limit {
                next = Some(k.to_vec());
                break;
            }
            let record: T = resolved.decode(k, v)?;
            let mut value = Vec::new();
            push_envelope(layout, &mut value);
            let body = <T::Codec as Codec>::encode(&record)
                .map_err(|cause| Error::Encode { bucket: schema.bucket.into(), cause })?;
            value.extend_from_slice(&body);
            out.push((k.to_vec(), value));
        }
    }
    let mut b = tx.tree_mut(name)?;
    for (k, v) in &out {
        b.put(k, v)?;
    }
    Ok((out.len(), next))
}

/// Drops from `T`'s catalog entry every layout but the one the type writes, if no value of the
/// bucket has another (checked by reading every value's envelope, nothing decoded). Returns the
/// new entry's bytes if it changed. The type must be registered.
///
/// # Errors
/// Engine errors.
pub(crate) fn prune_layouts<T: Record>(tx: &mut Txn<'_>, resolved: &Resolved) -> Result<Option<Vec<u8>>> {
    let schema = T::schema();
    let (Some(entry), Some(own)) = (&resolved.entry, resolved.write_layout) else {
        return Ok(None);
    };
    if entry.layouts.len() <= 1 {
        return Ok(None);
    }
    {
        let Some(b) = tx.tree(schema.bucket.as_bytes())? else {
            return Ok(None);
        };
        for item in b.iter() {
            let (_, v) = item?;
            if split_envelope(v).ok().map(|(id, _)| id) != Some(own) {
                return Ok(None);
            }
        }
    }
    let mut pruned = entry.clone();
    pruned.layouts.retain(|l| l.id == own);
    let bytes = pruned.render().into_bytes();
    tx.ensure_tree(CATALOG_BUCKET)?.put(schema.bucket.as_bytes(), &bytes)?;
    Ok(Some(bytes))
}
