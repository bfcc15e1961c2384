//! A backend on one in-memory `BTreeMap`, for tests only: it proves the seam does not lean on
//! the engine, and it lays its keys out the way the etcd backend will (see docs/design.md,
//! "The backend seam"): one flat, memcmp-ordered key space, a tree being a key prefix.
//!
//! - A tree's prefix `P` is its path, each name escaped (`00` becomes `00 ff`) and ended by
//!   `00 01`: paths are prefix-free and keep memcmp order.
//! - `P ++ 00 00` is the tree's marker: it exists while the tree does and holds its sequence
//!   (8 bytes, big-endian).
//! - `P ++ 00 02 ++ key` holds a value: a tree's values are one contiguous range, which no
//!   child tree's keys fall into (they continue `P` with an escaped name, never `00 02`).
//!
//! A read transaction holds the committed map (an `Arc`, so it is a snapshot for free); a write
//! transaction holds the writer lock and a copy, which replaces the committed map on commit.
//! A tree handle borrows its marker key from the map, so handles are `Copy` and every key and
//! value read is borrowed for the transaction's lifetime, as the seam requires.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rivet_engine as eng;

use super::{Error, Item, Result};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

const MARKER: [u8; 2] = [0, 0];
const VALUES: [u8; 2] = [0, 2];
const VALUES_END: [u8; 2] = [0, 3];

/// `prefix ++ escaped name ++ 00 01`: the prefix of child tree `name` of the tree at `prefix`.
fn child_prefix(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + name.len() + 2);
    out.extend_from_slice(prefix);
    for &b in name {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 1]);
    out
}

fn join(prefix: &[u8], tail: &[u8], key: &[u8]) -> Vec<u8> {
    [prefix, tail, key].concat()
}

fn not_found() -> Error {
    Error::Engine(eng::Error::BucketNotFound)
}

/// The database: the committed map and the writer lock.
#[derive(Debug, Default)]
pub(crate) struct Db {
    committed: Mutex<Arc<Map>>,
    writer: Mutex<()>,
}

impl Db {
    pub(crate) fn begin(&self, writable: bool) -> Txn<'_> {
        let writer = writable.then(|| self.writer.lock().unwrap_or_else(PoisonError::into_inner));
        let map = self.committed.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Txn { db: self, map, writer }
    }
}

/// A transaction: a snapshot of the map (copied on the first write).
#[derive(Debug)]
pub(crate) struct Txn<'db> {
    db: &'db Db,
    map: Arc<Map>,
    writer: Option<MutexGuard<'db, ()>>,
}

/// The marker key of the tree at `prefix`, borrowed from `map`, if the tree exists.
fn marker<'a>(map: &'a Map, prefix: &[u8]) -> Option<&'a [u8]> {
    map.get_key_value(&join(prefix, &MARKER, &[])).map(|(k, _)| k.as_slice())
}

impl<'db> Txn<'db> {
    pub(crate) fn tree(&self, name: &[u8]) -> Result<Option<Tree<'_>>> {
        Ok(marker(&self.map, &child_prefix(&[], name)).map(|m| Tree { map: &self.map, marker: m }))
    }

    pub(crate) fn has_top_level(&self, name: &[u8]) -> Result<bool> {
        Ok(self.tree(name)?.is_some())
    }

    fn root(&mut self) -> Result<TreeMut<'_>> {
        if self.writer.is_none() {
            return Err(Error::Engine(eng::Error::TxNotWritable));
        }
        Ok(TreeMut { map: Arc::make_mut(&mut self.map), prefix: Vec::new() })
    }

    pub(crate) fn tree_mut(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        let root = self.root()?;
        root.into_child(name, Want::Existing)
    }

    pub(crate) fn ensure_tree(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        self.root()?.into_child(name, Want::Either)
    }

    pub(crate) fn create_tree(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        self.root()?.into_child(name, Want::New)
    }

    pub(crate) fn delete_tree(&mut self, name: &[u8]) -> Result<bool> {
        self.root()?.delete_child(name)
    }

    pub(crate) fn commit(self) -> Result<()> {
        if self.writer.is_none() {
            return Err(Error::Engine(eng::Error::TxNotWritable));
        }
        *self.db.committed.lock().unwrap_or_else(PoisonError::into_inner) = self.map;
        Ok(())
    }
}

/// A tree, to read: the map and the tree's marker key in it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tree<'a> {
    map: &'a Map,
    marker: &'a [u8],
}

impl<'a> Tree<'a> {
    fn prefix(&self) -> &'a [u8] {
        &self.marker[..self.marker.len() - MARKER.len()]
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        Ok(self.map.get(&join(self.prefix(), &VALUES, key)).map(Vec::as_slice))
    }

    pub(crate) fn child(&self, name: &[u8]) -> Result<Option<Tree<'a>>> {
        Ok(marker(self.map, &child_prefix(self.prefix(), name)).map(|m| Tree { map: self.map, marker: m }))
    }

    pub(crate) fn has_child(&self, name: &[u8]) -> Result<bool> {
        Ok(self.child(name)?.is_some())
    }

    pub(crate) fn children(&self) -> Result<Vec<Vec<u8>>> {
        let p = self.prefix();
        let mut out = Vec::new();
        // Child trees' keys sort after the values (`00 02 ..`): an escaped name starts with a
        // byte above 0, or with `00 ff`. So the listing starts past the values, never reading them.
        let from = join(p, &VALUES_END, &[]);
        for k in self.map.range::<[u8], _>((Bound::Included(from.as_slice()), Bound::Unbounded)).map(|(k, _)| k) {
            let Some(rest) = k.strip_prefix(p) else { break };
            // A child's marker: an escaped name, `00 01`, then `00 00` and nothing more.
            let Some(name) = rest.strip_suffix(&[0, 1, 0, 0]) else { continue };
            let mut unescaped = Vec::new();
            let mut it = name.iter();
            let mut whole = true;
            while let Some(&b) = it.next() {
                unescaped.push(b);
                if b == 0 && it.next() != Some(&0xff) {
                    whole = false;
                    break;
                }
            }
            if whole && !unescaped.is_empty() {
                out.push(unescaped);
            }
        }
        Ok(out)
    }

    pub(crate) fn sequence(&self) -> u64 {
        self.map.get(self.marker).and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()).map_or(0, u64::from_be_bytes)
    }

    pub(crate) fn scan(&self) -> Scan<'a> {
        let p = self.prefix();
        Scan { map: self.map, start: join(p, &VALUES, &[]), end: join(p, &VALUES_END, &[]), at: None }
    }
}

/// A position among a tree's values: the full key of the item last returned.
#[derive(Debug)]
pub(crate) struct Scan<'a> {
    map: &'a Map,
    start: Vec<u8>,
    end: Vec<u8>,
    at: Option<&'a [u8]>,
}

impl<'a> Scan<'a> {
    fn land(&mut self, found: Option<(&'a Vec<u8>, &'a Vec<u8>)>) -> Item<'a> {
        match found {
            Some((k, v)) => {
                self.at = Some(k);
                Ok(Some((&k[self.start.len()..], v)))
            }
            None => {
                self.at = None;
                Ok(None)
            }
        }
    }

    fn forward(&mut self, from: Bound<&[u8]>) -> Item<'a> {
        let found = self.map.range::<[u8], _>((from, Bound::Excluded(self.end.as_slice()))).next();
        self.land(found)
    }

    fn backward(&mut self, to: Bound<&[u8]>) -> Item<'a> {
        let found = self.map.range::<[u8], _>((Bound::Included(self.start.as_slice()), to)).next_back();
        self.land(found)
    }

    pub(crate) fn first(&mut self) -> Item<'a> {
        let start = self.start.clone();
        self.forward(Bound::Included(&start))
    }

    pub(crate) fn last(&mut self) -> Item<'a> {
        let end = self.end.clone();
        self.backward(Bound::Excluded(&end))
    }

    pub(crate) fn seek(&mut self, key: &[u8]) -> Item<'a> {
        let k = [self.start.as_slice(), key].concat();
        self.forward(Bound::Included(&k))
    }

    pub(crate) fn next(&mut self) -> Item<'a> {
        match self.at {
            Some(at) => self.forward(Bound::Excluded(at)),
            None => Ok(None),
        }
    }

    pub(crate) fn prev(&mut self) -> Item<'a> {
        match self.at {
            Some(at) => self.backward(Bound::Excluded(at)),
            None => Ok(None),
        }
    }
}

/// What opening a child tree asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Existing,
    New,
    Either,
}

/// A tree, to write.
#[derive(Debug)]
pub(crate) struct TreeMut<'t> {
    map: &'t mut Map,
    prefix: Vec<u8>,
}

impl<'t> TreeMut<'t> {
    fn marker(&self) -> Vec<u8> {
        join(&self.prefix, &MARKER, &[])
    }

    fn into_child(self, name: &[u8], want: Want) -> Result<TreeMut<'t>> {
        if name.is_empty() {
            return Err(Error::Engine(eng::Error::BucketNameRequired));
        }
        if self.map.contains_key(&join(&self.prefix, &VALUES, name)) {
            return Err(Error::Engine(eng::Error::IncompatibleValue { found: "value", wanted: "bucket" }));
        }
        let prefix = child_prefix(&self.prefix, name);
        let child = TreeMut { map: self.map, prefix };
        let exists = child.map.contains_key(&child.marker());
        match (want, exists) {
            (Want::Existing, false) => Err(not_found()),
            (Want::New, true) => Err(Error::Engine(eng::Error::BucketExists)),
            (_, true) => Ok(child),
            (_, false) => {
                let m = child.marker();
                child.map.insert(m, 0u64.to_be_bytes().to_vec());
                Ok(child)
            }
        }
    }

    fn reborrow(&mut self) -> TreeMut<'_> {
        TreeMut { map: self.map, prefix: self.prefix.clone() }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        Ok(self.map.get(&join(&self.prefix, &VALUES, key)).map(Vec::as_slice))
    }

    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Err(Error::Engine(eng::Error::KeyRequired));
        }
        if self.map.contains_key(&join(&child_prefix(&self.prefix, key), &MARKER, &[])) {
            return Err(Error::Engine(eng::Error::IncompatibleValue { found: "bucket", wanted: "value" }));
        }
        self.map.insert(join(&self.prefix, &VALUES, key), value.to_vec());
        Ok(())
    }

    pub(crate) fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.map.remove(&join(&self.prefix, &VALUES, key));
        Ok(())
    }

    pub(crate) fn child_mut(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        self.reborrow().into_child(name, Want::Existing)
    }

    pub(crate) fn ensure_child(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        self.reborrow().into_child(name, Want::Either)
    }

    pub(crate) fn create_child(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        self.reborrow().into_child(name, Want::New)
    }

    pub(crate) fn delete_child(&mut self, name: &[u8]) -> Result<bool> {
        let p = child_prefix(&self.prefix, name);
        if !self.map.contains_key(&join(&p, &MARKER, &[])) {
            return Ok(false);
        }
        let doomed: Vec<Vec<u8>> = self
            .map
            .range::<[u8], _>((Bound::Included(p.as_slice()), Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(&p))
            .cloned()
            .collect();
        for k in doomed {
            self.map.remove(&k);
        }
        Ok(true)
    }

    pub(crate) fn sequence(&self) -> u64 {
        self.map.get(&self.marker()).and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()).map_or(0, u64::from_be_bytes)
    }

    pub(crate) fn set_sequence(&mut self, value: u64) -> Result<()> {
        let m = self.marker();
        self.map.insert(m, value.to_be_bytes().to_vec());
        Ok(())
    }
}
