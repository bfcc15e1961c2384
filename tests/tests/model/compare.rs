//! Comparison helpers: printable forms of keys, values and items, comparing single results,
//! item lists and errors with the model's, reading a whole tree from the engine and diffing it
//! with the model, and [`verify`] (check, full comparison and JSON dump after a transaction).

use std::collections::BTreeMap;
use std::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rivet_engine::{Bucket, Error, Tx, DB};

use crate::model::{kind, BPath, Item, MBucket, Node, E};
use crate::stats;

pub(crate) fn fail(msg: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(msg.into())
}

/// A short printable form of a key.
pub(crate) fn show(k: &[u8]) -> String {
    if k.len() <= 48 {
        String::from_utf8_lossy(k).into_owned()
    } else {
        format!("{}..({} bytes)", String::from_utf8_lossy(&k[..40]), k.len())
    }
}

/// A short printable form of a value (values can be several KB).
pub(crate) fn show_val(v: &[u8]) -> String {
    let h = v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("<{} bytes #{:04x}>", v.len(), h & 0xffff)
}

pub(crate) fn show_item(i: &Option<Item>) -> String {
    match i {
        None => "None".into(),
        Some((k, None)) => format!("({:?}, bucket)", show(k)),
        Some((k, Some(v))) => format!("({:?}, {})", show(k), show_val(v)),
    }
}

pub(crate) fn own(kv: Option<(&[u8], Option<&[u8]>)>) -> Option<Item> {
    kv.map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
}

/// Compares one cursor/iterator result with the model's.
pub(crate) fn same_item(
    got: rivet_engine::Result<Option<rivet_engine::KeyValue<'_>>>,
    want: Option<&Item>,
    ctx: &dyn Fn() -> String,
) -> Result<Option<Item>, TestCaseError> {
    let got = got.map_err(|e| fail(format!("{}: unexpected engine error {e:?}", ctx())))?;
    let got = own(got);
    let want = want.cloned();
    if got != want {
        return Err(fail(format!("{}: engine gives {}, model expects {}", ctx(), show_item(&got), show_item(&want))));
    }
    Ok(got)
}

pub(crate) fn same_items(got: &[Item], want: &[Item], ctx: &dyn Fn() -> String) -> Result<(), TestCaseError> {
    for i in 0..got.len().max(want.len()) {
        let g = got.get(i).cloned();
        let w = want.get(i).cloned();
        if g != w {
            return Err(fail(format!(
                "{}: item {i} of {} (model has {}): engine gives {}, model expects {}",
                ctx(),
                got.len(),
                want.len(),
                show_item(&g),
                show_item(&w)
            )));
        }
    }
    Ok(())
}

/// Compares an engine result with the model's expected result.
pub(crate) fn same<T: PartialEq + Debug>(
    got: Result<T, Error>,
    want: Result<T, E>,
    ctx: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(g), Ok(w)) if g == w => Ok(()),
        (Err(e), Err(w)) if kind(&e) == Some(w) => {
            stats::add(&stats::EXPECTED_ERRORS);
            Ok(())
        }
        (g, w) => Err(fail(format!("{}: engine returned {g:?}, model expects {w:?}", ctx()))),
    }
}

/// Reads a whole bucket (recursively) from the engine, asserting strict key order on the way.
pub(crate) fn read_all(b: Bucket<'_>, path: &mut BPath) -> Result<MBucket, TestCaseError> {
    let mut out = MBucket { seq: b.sequence(), items: BTreeMap::new() };
    let mut last: Option<Vec<u8>> = None;
    for item in b.iter() {
        let (k, v) = item.map_err(|e| fail(format!("iterating {path:?}: {e:?}")))?;
        if let Some(l) = &last {
            if k <= l.as_slice() {
                return Err(fail(format!("bucket {path:?}: key {:?} follows {:?}", show(k), show(l))));
            }
        }
        last = Some(k.to_vec());
        let node = match v {
            Some(v) => {
                let g = b.get(k).map_err(|e| fail(format!("get: {e:?}")))?;
                if g != Some(v) {
                    return Err(fail(format!(
                        "bucket {path:?}: get({:?}) gives {:?}, iteration gave {}",
                        show(k),
                        g.map(show_val),
                        show_val(v)
                    )));
                }
                Node::Value(v.to_vec())
            }
            None => {
                let c = b.bucket(k).map_err(|e| fail(format!("bucket {path:?}/{:?}: {e:?}", show(k))))?;
                if b.get(k).ok() != Some(None) {
                    return Err(fail(format!("bucket {path:?}: get({:?}) of a nested bucket is not None", show(k))));
                }
                path.push(k.to_vec());
                let n = read_all(c, path)?;
                path.pop();
                Node::Bucket(n)
            }
        };
        out.items.insert(k.to_vec(), node);
    }
    Ok(out)
}

/// The first difference between the engine's tree and the model's, if any.
pub(crate) fn diff(got: &MBucket, want: &MBucket, path: &mut BPath) -> Option<String> {
    if got.seq != want.seq {
        return Some(format!("bucket {path:?}: sequence {} but the model has {}", got.seq, want.seq));
    }
    let g: Vec<&Vec<u8>> = got.items.keys().collect();
    let w: Vec<&Vec<u8>> = want.items.keys().collect();
    if g != w {
        let extra: Vec<String> = got.items.keys().filter(|k| !want.items.contains_key(*k)).map(|k| show(k)).collect();
        let missing: Vec<String> = want.items.keys().filter(|k| !got.items.contains_key(*k)).map(|k| show(k)).collect();
        return Some(format!("bucket {path:?}: keys differ: engine has extra {extra:?}, lacks {missing:?}"));
    }
    for (k, gn) in &got.items {
        let wn = &want.items[k];
        match (gn, wn) {
            (Node::Value(a), Node::Value(b)) if a == b => {}
            (Node::Bucket(a), Node::Bucket(b)) => {
                path.push(k.clone());
                let d = diff(a, b, path);
                path.pop();
                if d.is_some() {
                    return d;
                }
            }
            (a, b) => {
                let s = |n: &Node| match n {
                    Node::Value(v) => show_val(v),
                    Node::Bucket(_) => "a bucket".into(),
                };
                return Some(format!("bucket {path:?}: key {:?} holds {} but the model has {}", show(k), s(a), s(b)));
            }
        }
    }
    None
}

/// Compares everything `tx` sees with the model.
pub(crate) fn everything(tx: &Tx<'_>, m: &MBucket, ctx: &str) -> Result<(), TestCaseError> {
    let got = read_all(tx.root(), &mut Vec::new()).map_err(|e| fail(format!("{ctx}: {e}")))?;
    if let Some(d) = diff(&got, m, &mut Vec::new()) {
        return Err(fail(format!("{ctx}: {d}")));
    }
    let mut names = Vec::new();
    tx.for_each_bucket(|k, _| {
        names.push(k.to_vec());
        Ok(())
    })
    .map_err(|e| fail(format!("{ctx}: for_each_bucket: {e:?}")))?;
    let want: Vec<Vec<u8>> = m.items.keys().cloned().collect();
    prop_assert_eq!(names, want, "{}: for_each_bucket", ctx);
    Ok(())
}

/// A fresh read transaction: `check()` finds nothing, and the content equals the model.
pub(crate) fn verify(db: &DB, m: &MBucket, ctx: &str) -> Result<(), TestCaseError> {
    let tx = db.begin(false).map_err(|e| fail(format!("{ctx}: begin read: {e:?}")))?;
    let problems = tx.check().map_err(|e| fail(format!("{ctx}: check: {e:?}")))?;
    prop_assert!(problems.is_empty(), "{}: check found {:?}", ctx, problems);
    everything(&tx, m, ctx)?;
    let json = rivet_engine::dump::dump_json(&tx).map_err(|e| fail(format!("{ctx}: dump: {e:?}")))?;
    prop_assert!(json == m.json(), "{}: JSON dump differs from the model's", ctx);
    stats::max(&stats::MAX_PAGES, tx.meta().pgid);
    fn sizes(b: &MBucket, depth: u64) {
        stats::max(&stats::MAX_KEYS, b.items.len() as u64);
        stats::max(&stats::MAX_DEPTH, depth);
        for n in b.items.values() {
            if let Node::Bucket(c) = n {
                sizes(c, depth + 1);
            }
        }
    }
    sizes(m, 0);
    Ok(())
}
