//! Rewriting values in the type's own layout, so that reads no longer upgrade them on the fly,
//! and dropping from the catalog the layouts no value has any more (after which the program
//! may drop the old types of its chain that only those layouts needed).

use rivet_engine::Tx;

use crate::catalog::{push_envelope, split_envelope, CATALOG_BUCKET};
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::evolve::Resolved;
use crate::record::Record;

/// Rewrites up to `limit` values of `T` that are not in the type's own layout, starting at
/// primary key `from` (encoded; `None`: the first). Returns how many were rewritten and where
/// to go on (`None`: the end was reached). The type must be registered.
pub(crate) fn rewrite<T: Record>(
    tx: &mut Tx<'_>,
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
        let b = match tx.bucket(name) {
            Ok(b) => b,
            Err(rivet_engine::Error::BucketNotFound) => return Ok((0, None)),
            Err(e) => return Err(e.into()),
        };
        let range = match from {
            Some(f) => b.range(f.to_vec()..),
            None => b.iter(),
        };
        for item in range {
            let (k, v) = item?;
            let Some(v) = v else { continue };
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
    let mut b = tx.bucket_mut(name)?;
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
pub(crate) fn prune_layouts<T: Record>(tx: &mut Tx<'_>, resolved: &Resolved) -> Result<Option<Vec<u8>>> {
    let schema = T::schema();
    let (Some(entry), Some(own)) = (&resolved.entry, resolved.write_layout) else {
        return Ok(None);
    };
    if entry.layouts.len() <= 1 {
        return Ok(None);
    }
    {
        let b = match tx.bucket(schema.bucket.as_bytes()) {
            Ok(b) => b,
            Err(rivet_engine::Error::BucketNotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        for item in b.iter() {
            let (_, v) = item?;
            if let Some(v) = v {
                if split_envelope(v).ok().map(|(id, _)| id) != Some(own) {
                    return Ok(None);
                }
            }
        }
    }
    let mut pruned = entry.clone();
    pruned.layouts.retain(|l| l.id == own);
    let bytes = pruned.render().into_bytes();
    tx.create_bucket_if_not_exists(CATALOG_BUCKET)?.put(schema.bucket.as_bytes(), &bytes)?;
    Ok(Some(bytes))
}
