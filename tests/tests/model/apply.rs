//! Applying operations: resolving a bucket path in both the engine and the model, and running
//! each read ([`read_op`]) and write ([`write_op`]) operation on both, comparing every result.

use std::collections::VecDeque;
use std::ops::Bound;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rivet_engine::{Bucket, BucketMut, Error, Tx};
use rivet_tests::Rng;

use crate::compare::{everything, fail, own, same, same_item, same_items, show, show_val};
use crate::model::{kind, Item, MBucket, Node, BUCKET_NOT_VALUE, E};
use crate::ops::{Dir, ROp, Val, WOp, K};
use crate::stats;

/// The read view of the bucket at `path` (the root for an empty path).
fn bucket_at<'t>(tx: &'t Tx<'_>, path: &[Vec<u8>], chained: bool) -> Result<Bucket<'t>, Error> {
    if path.is_empty() {
        return Ok(tx.root());
    }
    if chained {
        let mut b = tx.bucket(&path[0])?;
        for n in &path[1..] {
            b = b.bucket(n)?;
        }
        Ok(b)
    } else {
        let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
        tx.bucket_path(&refs)
    }
}

fn descend<R>(b: &mut BucketMut<'_>, rest: &[Vec<u8>], f: impl FnOnce(&mut BucketMut<'_>) -> R) -> Result<R, Error> {
    match rest.split_first() {
        None => Ok(f(b)),
        Some((n, rest)) => {
            let mut c = b.bucket_mut(n)?;
            descend(&mut c, rest, f)
        }
    }
}

/// Runs `f` on the write handle of the (non-root) bucket at `path`.
fn with_mut<R>(
    tx: &mut Tx<'_>,
    path: &[Vec<u8>],
    chained: bool,
    f: impl FnOnce(&mut BucketMut<'_>) -> R,
) -> Result<R, Error> {
    if chained && !path.is_empty() {
        let mut b = tx.bucket_mut(&path[0])?;
        descend(&mut b, &path[1..], f)
    } else {
        let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
        let mut b = tx.bucket_path_mut(&refs)?;
        Ok(f(&mut b))
    }
}

/// Resolves `path` in both the engine and the model (they must agree, errors included), then
/// runs `f` on both buckets.
fn on_bucket(
    tx: &mut Tx<'_>,
    m: &mut MBucket,
    path: &[Vec<u8>],
    chained: bool,
    ctx: &dyn Fn() -> String,
    f: impl FnOnce(&mut BucketMut<'_>, &mut MBucket) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let want = m.at(path).map(|_| ());
    let got = with_mut(tx, path, chained, |b| match m.at_mut(path) {
        Ok(mb) => f(b, mb),
        Err(e) => Err(fail(format!("{}: engine found bucket {path:?}, model says {e:?}", ctx()))),
    });
    match (got, want) {
        (Ok(r), Ok(())) => {
            stats::add(&stats::OPS_ON_BUCKET);
            r
        }
        (Err(e), Err(w)) if kind(&e) == Some(w) => {
            stats::add(&stats::EXPECTED_ERRORS);
            Ok(())
        }
        (Ok(_), Err(w)) => Err(fail(format!("{}: engine found bucket {path:?}, model expects {w:?}", ctx()))),
        (Err(e), w) => Err(fail(format!("{}: resolving {path:?}: engine returned {e:?}, model expects {w:?}", ctx()))),
    }
}

/// The read counterpart of [`on_bucket`].
fn on_bucket_ref(
    tx: &Tx<'_>,
    m: &MBucket,
    path: &[Vec<u8>],
    chained: bool,
    ctx: &dyn Fn() -> String,
    f: impl FnOnce(Bucket<'_>, &MBucket) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    match (bucket_at(tx, path, chained), m.at(path)) {
        (Ok(b), Ok(mb)) => {
            stats::add(&stats::OPS_ON_BUCKET);
            f(b, mb)
        }
        (Err(e), Err(w)) if kind(&e) == Some(w) => {
            stats::add(&stats::EXPECTED_ERRORS);
            Ok(())
        }
        (Ok(_), Err(w)) => Err(fail(format!("{}: engine found bucket {path:?}, model expects {w:?}", ctx()))),
        (Err(e), w) => Err(fail(format!(
            "{}: resolving {path:?}: engine returned {e:?}, model expects {:?}",
            ctx(),
            w.map(|_| ())
        ))),
    }
}

fn in_bounds(k: &[u8], lo: &Bound<K>, hi: &Bound<K>) -> bool {
    let lo_ok = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
    };
    let hi_ok = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
    };
    lo_ok && hi_ok
}

pub(crate) fn read_op(tx: &Tx<'_>, m: &MBucket, op: &ROp) -> Result<(), TestCaseError> {
    let ctx = || format!("{op:?}");
    let ctx = &ctx as &dyn Fn() -> String;
    match op {
        ROp::Everything => everything(tx, m, &ctx()),
        ROp::Get { at, key } => {
            let path = at.resolve(m, true);
            on_bucket_ref(tx, m, &path, at.chained, ctx, |b, mb| {
                let want = match mb.items.get(key.as_slice()) {
                    Some(Node::Value(v)) => Some(v.as_slice()),
                    _ => None,
                };
                let got = b.get(key).map_err(|e| fail(format!("{}: {e:?}", ctx())))?;
                prop_assert!(
                    got == want,
                    "{}: get gives {:?}, model expects {:?}",
                    ctx(),
                    got.map(show_val),
                    want.map(show_val)
                );
                let has = b.has_bucket(key).map_err(|e| fail(format!("{}: {e:?}", ctx())))?;
                let want_has = matches!(mb.items.get(key.as_slice()), Some(Node::Bucket(_)));
                prop_assert_eq!(has, want_has, "{}: has_bucket", ctx());
                Ok(())
            })
        }
        ROp::Walk { at, forward } => {
            let path = at.resolve(m, true);
            on_bucket_ref(tx, m, &path, at.chained, ctx, |b, mb| {
                let mut want = mb.entries();
                if !forward {
                    want.reverse();
                }
                let mut c = b.cursor();
                let mut got = Vec::new();
                let mut r = if *forward { c.first() } else { c.last() };
                loop {
                    match r {
                        Err(e) => return Err(fail(format!("{}: {e:?}", ctx()))),
                        Ok(None) => break,
                        Ok(Some(kv)) => got.extend(own(Some(kv))),
                    }
                    if got.len() > want.len() + 2 {
                        break;
                    }
                    r = if *forward { c.next() } else { c.prev() };
                }
                same_items(&got, &want, &|| format!("{} walk", ctx()))?;
                // At either end, one more step finds nothing.
                let all = mb.entries();
                let ctx2 = || format!("{}: last then next", ctx());
                same_item(c.last(), all.last(), &ctx2)?;
                same_item(c.next(), None, &ctx2)?;
                let ctx2 = || format!("{}: first then prev", ctx());
                same_item(c.first(), all.first(), &ctx2)?;
                same_item(c.prev(), None, &ctx2)?;
                // The iterator agrees too.
                let it: Result<Vec<_>, _> = if *forward {
                    b.iter().map(|r| r.map(|kv| own(Some(kv)).unwrap())).collect()
                } else {
                    b.iter().rev().map(|r| r.map(|kv| own(Some(kv)).unwrap())).collect()
                };
                let it = it.map_err(|e| fail(format!("{}: iter: {e:?}", ctx())))?;
                same_items(&it, &want, &|| format!("{} iter", ctx()))
            })
        }
        ROp::Seek { at, key, steps } => {
            let path = at.resolve(m, true);
            on_bucket_ref(tx, m, &path, at.chained, ctx, |b, mb| {
                let items = mb.entries();
                let mut idx = items.partition_point(|(k, _)| k.as_slice() < key.as_slice());
                let mut c = b.cursor();
                let ctx0 = || format!("{}: seek", ctx());
                if same_item(c.seek(key), items.get(idx), &ctx0)?.is_none() {
                    return Ok(());
                }
                for (i, &fwd) in steps.iter().enumerate() {
                    let ctx1 = || format!("{}: step {i} ({})", ctx(), if fwd { "next" } else { "prev" });
                    let want = if fwd {
                        idx += 1;
                        items.get(idx)
                    } else if idx == 0 {
                        None
                    } else {
                        idx -= 1;
                        items.get(idx)
                    };
                    let got = if fwd { c.next() } else { c.prev() };
                    if same_item(got, want, &ctx1)?.is_none() {
                        break;
                    }
                }
                Ok(())
            })
        }
        ROp::Range { at, lo, hi, dir } => {
            let path = at.resolve(m, true);
            on_bucket_ref(tx, m, &path, at.chained, ctx, |b, mb| {
                let want: Vec<Item> = mb.entries().into_iter().filter(|(k, _)| in_bounds(k, lo, hi)).collect();
                let mut it = b.range((lo.clone(), hi.clone()));
                let collect = |it: &mut dyn Iterator<Item = rivet_engine::Result<rivet_engine::KeyValue<'_>>>,
                               limit: usize|
                 -> Result<Vec<Item>, TestCaseError> {
                    let mut out = Vec::new();
                    for r in it {
                        let kv = r.map_err(|e| fail(format!("{}: {e:?}", ctx())))?;
                        out.extend(own(Some(kv)));
                        if out.len() > limit {
                            break;
                        }
                    }
                    Ok(out)
                };
                match dir {
                    Dir::Fwd => {
                        let got = collect(&mut it, want.len() + 2)?;
                        same_items(&got, &want, ctx)
                    }
                    Dir::Rev => {
                        let got = collect(&mut it.rev(), want.len() + 2)?;
                        let mut want = want;
                        want.reverse();
                        same_items(&got, &want, ctx)
                    }
                    Dir::Mixed(steps) => {
                        let mut q: VecDeque<Item> = want.into_iter().collect();
                        for (i, &front) in steps.iter().enumerate() {
                            let ctx1 = || format!("{}: step {i} ({})", ctx(), if front { "next" } else { "next_back" });
                            let (got, w) =
                                if front { (it.next(), q.pop_front()) } else { (it.next_back(), q.pop_back()) };
                            let got = got.transpose();
                            let ended = w.is_none();
                            same_item(got, w.as_ref(), &ctx1)?;
                            if ended {
                                // Both ends are exhausted.
                                let other = if front { it.next_back() } else { it.next() };
                                same_item(other.transpose(), None, &|| format!("{}: other end", ctx1()))?;
                                return Ok(());
                            }
                        }
                        let got = collect(&mut it, q.len() + 2)?;
                        let rest: Vec<Item> = q.into_iter().collect();
                        same_items(&got, &rest, &|| format!("{}: rest", ctx()))
                    }
                }
            })
        }
    }
}

/// Keys and values for `PutMany`: short keys over "abcd", so they interleave with other keys.
fn many(seed: u64, count: usize, vmax: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let klen = 2 + rng.below(7) as usize;
            let k: Vec<u8> = (0..klen).map(|_| b"abcd"[rng.below(4) as usize]).collect();
            let v = Val { len: rng.below(vmax as u64 + 1) as usize, seed: rng.next_u64() as u8 };
            (k, v.bytes())
        })
        .collect()
}

pub(crate) fn write_op(tx: &mut Tx<'_>, m: &mut MBucket, op: &WOp) -> Result<(), TestCaseError> {
    let ctx = || format!("{op:?}");
    let ctx = &ctx as &dyn Fn() -> String;
    match op {
        WOp::Read(r) => read_op(tx, m, r),
        WOp::Put { at, key, val } => {
            let path = at.resolve(m, false);
            let v = val.bytes();
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                same(b.put(key, &v), mb.put(key, &v), ctx)?;
                let got = b.get(key).map_err(|e| fail(format!("{}: get: {e:?}", ctx())))?;
                let want = match mb.items.get(key.as_slice()) {
                    Some(Node::Value(v)) => Some(v.as_slice()),
                    _ => None,
                };
                prop_assert!(got == want, "{}: get after put", ctx());
                Ok(())
            })
        }
        WOp::Overwrite { at, pick, val } => {
            let path = at.resolve(m, false);
            let key = match m.at(&path) {
                Ok(mb) if !mb.items.is_empty() => mb.items.keys().nth(pick.index(mb.items.len())).cloned().unwrap(),
                _ => b"a".to_vec(),
            };
            let v = val.bytes();
            on_bucket(tx, m, &path, at.chained, &|| format!("{} key {:?}", ctx(), show(&key)), |b, mb| {
                same(b.put(&key, &v), mb.put(&key, &v), ctx)
            })
        }
        WOp::Delete { at, key } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                same(b.delete(key), mb.delete(key), ctx)?;
                let got = b.get(key).map_err(|e| fail(format!("{}: get: {e:?}", ctx())))?;
                if !mb.items.contains_key(key.as_slice()) {
                    prop_assert!(got.is_none(), "{}: get after delete", ctx());
                }
                Ok(())
            })
        }
        WOp::DeleteExisting { at, pick } => {
            let path = at.resolve(m, false);
            let key = match m.at(&path) {
                Ok(mb) if !mb.items.is_empty() => mb.items.keys().nth(pick.index(mb.items.len())).cloned().unwrap(),
                _ => b"a".to_vec(),
            };
            on_bucket(tx, m, &path, at.chained, &|| format!("{} key {:?}", ctx(), show(&key)), |b, mb| {
                same(b.delete(&key), mb.delete(&key), ctx)
            })
        }
        WOp::PutMany { at, seed, count, vmax } => {
            let path = at.resolve(m, false);
            let kvs = many(*seed, *count, *vmax);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                for (i, (k, v)) in kvs.iter().enumerate() {
                    same(b.put(k, v), mb.put(k, v), &|| format!("{} put #{i} {:?}", ctx(), show(k)))?;
                }
                Ok(())
            })
        }
        WOp::DeleteRange { at, from, count } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                let keys: Vec<Vec<u8>> = mb
                    .items
                    .range(from.0.clone()..)
                    .filter(|(_, n)| matches!(n, Node::Value(_)))
                    .take(*count)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in keys {
                    same(b.delete(&k), mb.delete(&k), &|| format!("{} delete {:?}", ctx(), show(&k)))?;
                }
                Ok(())
            })
        }
        WOp::CreateBucket { parent, name, if_missing, then_put } => {
            let path = parent.resolve(m, true);
            let create = |b: Result<BucketMut<'_>, Error>, mb: &mut MBucket| {
                let want = mb.create(name, *if_missing);
                match (b, want) {
                    (Ok(mut c), Ok(seq)) => {
                        prop_assert_eq!(c.sequence(), seq, "{}: sequence of the bucket", ctx());
                        if let Some((k, v)) = then_put {
                            let v = v.bytes();
                            let child = mb.child_mut(name);
                            same(c.put(k, &v), child.put(k, &v), &|| format!("{} then put", ctx()))?;
                        }
                        Ok(())
                    }
                    (got, want) => same(got.map(|_| ()), want.map(|_| ()), ctx),
                }
            };
            if path.is_empty() {
                let b = if *if_missing { tx.create_bucket_if_not_exists(name) } else { tx.create_bucket(name) };
                create(b, m)
            } else {
                on_bucket(tx, m, &path, parent.chained, ctx, |b, mb| {
                    let c = if *if_missing { b.create_bucket_if_not_exists(name) } else { b.create_bucket(name) };
                    create(c, mb)
                })
            }
        }
        WOp::DeleteBucket { parent, name } => {
            let path = parent.resolve(m, true);
            delete_bucket(tx, m, &path, name, parent.chained, ctx)
        }
        WOp::DeleteSomeBucket { pick } => {
            let mut paths = m.paths();
            let (path, name) = if paths.is_empty() {
                (Vec::new(), b"a".to_vec())
            } else {
                let mut p = paths.swap_remove(pick.index(paths.len()));
                let name = p.pop().unwrap();
                (p, name)
            };
            let ctx2 = || format!("{} = delete {:?} in {:?}", ctx(), show(&name), path);
            delete_bucket(tx, m, &path, &name, false, &ctx2)
        }
        WOp::NextSequence { at } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                mb.seq = mb.seq.wrapping_add(1);
                same(b.next_sequence(), Ok(mb.seq), ctx)?;
                prop_assert_eq!(b.sequence(), mb.seq, "{}", ctx());
                prop_assert_eq!(b.as_bucket().sequence(), mb.seq, "{}", ctx());
                Ok(())
            })
        }
        WOp::SetSequence { at, value } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                mb.seq = *value;
                same(b.set_sequence(*value), Ok(()), ctx)?;
                prop_assert_eq!(b.sequence(), mb.seq, "{}", ctx());
                Ok(())
            })
        }
        WOp::FillPercent { at, fill } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, _| {
                b.set_fill_percent(*fill);
                Ok(())
            })
        }
        WOp::MaxKey { at, over, bucket } => {
            let path = at.resolve(m, false);
            let len = (rivet_engine::MAX_KEY_SIZE as isize + isize::from(*over)) as usize;
            let mut key = vec![b'c'; len];
            key[0] = b'b';
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                if *bucket {
                    same(b.create_bucket(&key).map(|c| c.sequence()), mb.create(&key, false), ctx)
                } else {
                    same(b.put(&key, b"max"), mb.put(&key, b"max"), ctx)
                }
            })
        }
        WOp::MoveSomeBucket { pick, dst } => {
            let mut paths = m.paths();
            let (s, name) = if paths.is_empty() {
                (Vec::new(), b"a".to_vec())
            } else {
                let mut p = paths.swap_remove(pick.index(paths.len()));
                let name = p.pop().unwrap();
                (p, name)
            };
            let d = dst.resolve(m, true);
            move_bucket(tx, m, &s, &name, &d, ctx)
        }
        WOp::MoveBucket { src, name, dst } => {
            let s = src.resolve(m, true);
            let d = dst.resolve(m, true);
            move_bucket(tx, m, &s, name, &d, ctx)
        }
        WOp::CursorDelete { at, start, forward, every } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                let items = mb.entries();
                let mut c = b.cursor_mut();
                same(c.delete(), Err(E::KeyRequired), &|| format!("{}: delete before moving", ctx()))?;
                let mut idx: Option<usize> = match start {
                    None if *forward => (!items.is_empty()).then_some(0),
                    None => items.len().checked_sub(1),
                    Some(k) => {
                        let i = items.partition_point(|(ik, _)| ik.as_slice() < k.as_slice());
                        (i < items.len()).then_some(i)
                    }
                };
                let first = match start {
                    None if *forward => c.first(),
                    None => c.last(),
                    Some(k) => c.seek(k),
                };
                let mut got = same_item(first, idx.map(|i| &items[i]), &|| format!("{}: start", ctx()))?;
                let mut n = 0usize;
                while let (Some(i), Some((k, v))) = (idx, got) {
                    if n.checked_rem(*every) == Some(0) {
                        let want = if v.is_none() { Err(BUCKET_NOT_VALUE) } else { mb.delete(&k) };
                        same(c.delete(), want, &|| format!("{}: delete {:?}", ctx(), show(&k)))?;
                    }
                    n += 1;
                    idx = if *forward { (i + 1 < items.len()).then_some(i + 1) } else { i.checked_sub(1) };
                    let r = if *forward { c.next() } else { c.prev() };
                    got = same_item(r, idx.map(|i| &items[i]), &|| format!("{}: step {n}", ctx()))?;
                }
                Ok(())
            })
        }
    }
}

fn move_bucket(
    tx: &mut Tx<'_>,
    m: &mut MBucket,
    s: &[Vec<u8>],
    name: &[u8],
    d: &[Vec<u8>],
    ctx: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    let sr: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
    let dr: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
    let want = m.move_bucket(name, s, d);
    let got = tx.move_bucket(name, &sr, &dr);
    same(got, want, &|| format!("{} = move {:?} from {s:?} to {d:?}", ctx(), show(name)))
}

fn delete_bucket(
    tx: &mut Tx<'_>,
    m: &mut MBucket,
    path: &[Vec<u8>],
    name: &[u8],
    chained: bool,
    ctx: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    if path.is_empty() {
        let want = m.delete_bucket(name);
        same(tx.delete_bucket(name), want, ctx)
    } else {
        on_bucket(tx, m, path, chained, ctx, |b, mb| same(b.delete_bucket(name), mb.delete_bucket(name), ctx))
    }
}
