//! The in-memory model: a tree of `BTreeMap`s ([`MBucket`]) with the engine's semantics for
//! puts, deletes, bucket creation, deletion and moves, the errors the engine must return ([`E`]),
//! and the canonical JSON dump of the model.

use std::collections::BTreeMap;

use rivet_engine::Error;

use crate::compare::show;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Value(Vec<u8>),
    Bucket(MBucket),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MBucket {
    pub(crate) seq: u64,
    pub(crate) items: BTreeMap<Vec<u8>, Node>,
}

/// A path of bucket names from the root (empty: the root bucket itself).
pub(crate) type BPath = Vec<Vec<u8>>;

/// An owned cursor item: key and value (`None`: a nested bucket).
pub(crate) type Item = (Vec<u8>, Option<Vec<u8>>);

/// The engine errors the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum E {
    NotFound,
    Exists,
    NameRequired,
    KeyRequired,
    KeyTooLarge(usize),
    InvalidMove,
    Incompatible { found: &'static str, wanted: &'static str },
}

pub(crate) const VALUE_NOT_BUCKET: E = E::Incompatible { found: "value", wanted: "bucket" };
pub(crate) const BUCKET_NOT_VALUE: E = E::Incompatible { found: "bucket", wanted: "value" };

pub(crate) fn kind(e: &Error) -> Option<E> {
    Some(match e {
        Error::BucketNotFound => E::NotFound,
        Error::BucketExists => E::Exists,
        Error::BucketNameRequired => E::NameRequired,
        Error::KeyRequired => E::KeyRequired,
        Error::KeyTooLarge { size } => E::KeyTooLarge(*size),
        Error::InvalidMove(_) => E::InvalidMove,
        Error::IncompatibleValue { found, wanted } => E::Incompatible { found, wanted },
        _ => return None,
    })
}

impl MBucket {
    pub(crate) fn at(&self, path: &[Vec<u8>]) -> Result<&MBucket, E> {
        let mut b = self;
        for name in path {
            b = match b.items.get(name) {
                Some(Node::Bucket(c)) => c,
                Some(Node::Value(_)) => return Err(VALUE_NOT_BUCKET),
                None => return Err(E::NotFound),
            };
        }
        Ok(b)
    }

    pub(crate) fn at_mut(&mut self, path: &[Vec<u8>]) -> Result<&mut MBucket, E> {
        let mut b = self;
        for name in path {
            b = match b.items.get_mut(name) {
                Some(Node::Bucket(c)) => c,
                Some(Node::Value(_)) => return Err(VALUE_NOT_BUCKET),
                None => return Err(E::NotFound),
            };
        }
        Ok(b)
    }

    pub(crate) fn entries(&self) -> Vec<Item> {
        self.items
            .iter()
            .map(|(k, n)| {
                let v = match n {
                    Node::Value(v) => Some(v.clone()),
                    Node::Bucket(_) => None,
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// Every nested bucket path (root excluded), depth first in key order.
    pub(crate) fn paths(&self) -> Vec<BPath> {
        fn walk(b: &MBucket, path: &mut BPath, out: &mut Vec<BPath>) {
            for (k, n) in &b.items {
                if let Node::Bucket(c) = n {
                    path.push(k.clone());
                    out.push(path.clone());
                    walk(c, path, out);
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut Vec::new(), &mut out);
        out
    }

    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), E> {
        if key.is_empty() {
            return Err(E::KeyRequired);
        }
        if key.len() > rivet_engine::MAX_KEY_SIZE {
            return Err(E::KeyTooLarge(key.len()));
        }
        if let Some(Node::Bucket(_)) = self.items.get(key) {
            return Err(BUCKET_NOT_VALUE);
        }
        self.items.insert(key.to_vec(), Node::Value(value.to_vec()));
        Ok(())
    }

    pub(crate) fn delete(&mut self, key: &[u8]) -> Result<(), E> {
        match self.items.get(key) {
            Some(Node::Bucket(_)) => Err(BUCKET_NOT_VALUE),
            Some(Node::Value(_)) => {
                self.items.remove(key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Creates (or with `if_missing`, finds) the bucket `name`; returns its sequence.
    pub(crate) fn create(&mut self, name: &[u8], if_missing: bool) -> Result<u64, E> {
        if name.is_empty() {
            return Err(E::NameRequired);
        }
        if name.len() > rivet_engine::MAX_KEY_SIZE {
            return Err(E::KeyTooLarge(name.len()));
        }
        match self.items.get(name) {
            Some(Node::Bucket(b)) if if_missing => Ok(b.seq),
            Some(Node::Bucket(_)) => Err(E::Exists),
            Some(Node::Value(_)) => Err(VALUE_NOT_BUCKET),
            None => {
                self.items.insert(name.to_vec(), Node::Bucket(MBucket::default()));
                Ok(0)
            }
        }
    }

    pub(crate) fn child_mut(&mut self, name: &[u8]) -> &mut MBucket {
        match self.items.get_mut(name) {
            Some(Node::Bucket(b)) => b,
            _ => panic!("model: no bucket {:?}", show(name)),
        }
    }

    pub(crate) fn delete_bucket(&mut self, name: &[u8]) -> Result<(), E> {
        if name.is_empty() {
            return Err(E::NameRequired);
        }
        match self.items.get(name) {
            Some(Node::Bucket(_)) => {
                self.items.remove(name);
                Ok(())
            }
            Some(Node::Value(_)) => Err(VALUE_NOT_BUCKET),
            None => Err(E::NotFound),
        }
    }

    /// `Tx::move_bucket`, with the engine's order of checks.
    pub(crate) fn move_bucket(&mut self, name: &[u8], src: &[Vec<u8>], dst: &[Vec<u8>]) -> Result<(), E> {
        let s = self.at(src)?;
        let d = self.at(dst)?;
        match s.items.get(name) {
            Some(Node::Bucket(_)) => {}
            Some(Node::Value(_)) => return Err(VALUE_NOT_BUCKET),
            None => return Err(E::NotFound),
        }
        if src == dst {
            return Err(E::InvalidMove);
        }
        let mut moved = src.to_vec();
        moved.push(name.to_vec());
        if dst.starts_with(&moved) {
            return Err(E::InvalidMove);
        }
        match d.items.get(name) {
            Some(Node::Bucket(_)) => return Err(E::Exists),
            Some(Node::Value(_)) => return Err(VALUE_NOT_BUCKET),
            None => {}
        }
        let node = self.at_mut(src).expect("checked").items.remove(name).expect("checked");
        self.at_mut(dst).expect("checked").items.insert(name.to_vec(), node);
        Ok(())
    }

    /// The canonical JSON dump (the format of `rivet_engine::dump`), for the root bucket.
    pub(crate) fn json(&self) -> String {
        fn hex(out: &mut String, b: &[u8]) {
            for x in b {
                out.push_str(&format!("{x:02x}"));
            }
        }
        fn bucket(b: &MBucket, out: &mut String) {
            out.push_str(&format!("{{\"sequence\":{},\"entries\":[", b.seq));
            for (i, (k, n)) in b.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"key\":\"");
                hex(out, k);
                match n {
                    Node::Value(v) => {
                        out.push_str("\",\"value\":\"");
                        hex(out, v);
                        out.push_str("\"}");
                    }
                    Node::Bucket(c) => {
                        out.push_str("\",\"bucket\":");
                        bucket(c, out);
                        out.push('}');
                    }
                }
            }
            out.push_str("]}");
        }
        let mut out = String::new();
        bucket(self, &mut out);
        out.push('\n');
        out
    }
}
