//! Schema evolution: how a record type of today reads every value its bucket holds, whatever
//! layout wrote it, and what the first write transaction of a changed type does to the file.
//!
//! ## Reading
//! The catalog entry lists every layout the bucket's values may have (see [`crate::catalog`]).
//! When a transaction first uses a type, the entry is *resolved* against the type and its
//! upgrade chain (`#[rivet(version = 2, from = UserV1)]`): for each stored layout the store
//! finds the type of the chain at that layout's version and decides, before reading any value,
//! how to read it:
//! - **direct**: the layout is that type's own, field for field: the codec decodes the bytes
//!   as the type (the fast path; every value written by the program itself reads this way);
//! - **by name**: the layout differs but only safely (fields added with a default, removed,
//!   reordered, or renamed with `#[rivet(renamed_from = "old")]`): the bytes are decoded by the
//!   stored layout into a [`Value`], which the type reads by field name;
//! - anything else (a field whose shape changed, a new field without a default, an opaque
//!   field in a changed layout, a stored version no type of the chain has, a file whose
//!   version is newer than the type) is [`Error::SchemaMismatch`] naming the field and both
//!   shapes, raised before anything is read or written.
//!
//! Then values of older versions go up the chain through the user's `From`/`TryFrom` impls,
//! one version at a time. Resolutions are cached per type and catalog entry, so a transaction
//! that uses an unchanged type pays one comparison of the entry's bytes.
//!
//! ## The first write
//! A write transaction that uses a type whose entry is not exactly the type's own
//! *registers* it (`register`): it converts a format 1 bucket (values get the envelope of
//! layout 1), appends the type's layout if it is new, drops the buckets of indexes the type no
//! longer has, builds the indexes it has that are not built (all of them when the version went
//! up: a `From` may have changed indexed values), then writes the new entry. A unique index
//! that would hold one value twice refuses with both keys, and the transaction is aborted.

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use crate::backend::Txn;

use crate::catalog::{push_envelope, split_envelope, Entry, StoredBuild, StoredLayout, CATALOG_BUCKET, FORMAT};
use crate::codec::Codec;
use crate::error::{Error, Mismatch, Result};
use crate::layout::{FieldShape, Shape, VariantData};
use crate::record::{Record, Schema};

/// How to read the values of one stored layout.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The layout's number (`0` for the values of a format 1 bucket, which have none).
    id: u32,
    /// The type version that wrote it.
    version: u32,
    /// Whether the chain's type at `version` decodes it as its own.
    direct: bool,
    /// Otherwise, the stored layout with renamed fields under their new names.
    shape: Shape,
}

/// A type resolved against its catalog entry (see the module docs).
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The entry (`None`: the type has no bucket yet).
    pub(crate) entry: Option<Entry>,
    /// Whether values have no envelope (format 1).
    bare: bool,
    /// One plan per stored layout (one plan, id 0, for a format 1 bucket).
    plans: Vec<Plan>,
    /// The layout the type writes, if the entry has it.
    pub(crate) write_layout: Option<u32>,
    /// Per index of the type (by position): whether it is built and current in the file.
    pub(crate) built: Vec<bool>,
    /// Per index of the type: where its bounded build goes on, if it is being built with the
    /// type's definition (see [`crate::catalog::StoredBuild`]).
    pub(crate) building: Vec<Option<Vec<u8>>>,
    /// Whether the first write must register the type (the entry is not exactly its own).
    pub(crate) needs_register: bool,
}

/// What a type's upgrade step gets: the stored layout a value was written with, to decode it as
/// the chain's type of that version (used by the code `#[derive(Record)]` generates for
/// `from = ..`).
#[derive(Debug)]
pub struct Upgrade<'a> {
    plan: &'a Plan,
    key: &'a [u8],
    bucket: &'static str,
}

impl Upgrade<'_> {
    /// The type version that wrote the value.
    pub fn version(&self) -> u32 {
        self.plan.version
    }

    /// Decodes the value as `X`: as its own layout when `X` is the chain's type at the value's
    /// version, else through `X`'s own upgrade step.
    ///
    /// # Errors
    /// [`Error::Decode`]; [`Error::Upgrade`] from a `TryFrom` further down;
    /// [`Error::SchemaMismatch`] if no type of the chain has the value's version.
    pub fn decode<X: Record>(&self, bytes: &[u8]) -> Result<X> {
        let schema = X::schema();
        if schema.version > self.plan.version {
            return X::decode_older(self, bytes);
        }
        if schema.version < self.plan.version {
            return Err(self.no_path::<X>());
        }
        let decoded = if self.plan.direct {
            <X::Codec as Codec>::decode::<X>(bytes)
        } else {
            <X::Codec as Codec>::decode_shape(bytes, &self.plan.shape)
                .and_then(|v| v.into_type::<X>().map_err(|e| e.to_string()))
        };
        decoded.map_err(|cause| Error::Decode { bucket: self.bucket.into(), key: self.describe_key::<X>(), cause })
    }

    /// The error of a failed `TryFrom` up to `X`.
    pub fn failed<X: Record, E: fmt::Display>(&self, cause: E) -> Error {
        Error::Upgrade {
            bucket: self.bucket.into(),
            key: self.describe_key::<X>(),
            from: self.plan.version,
            to: X::schema().version,
            cause: cause.to_string(),
        }
    }

    /// The error of a type that has no way down to the value's version.
    pub fn no_path<X: Record>(&self) -> Error {
        Error::SchemaMismatch {
            bucket: self.bucket.into(),
            reason: Mismatch::NoType { version: self.plan.version, type_name: X::schema().type_name.into() },
        }
    }

    fn describe_key<X: Record>(&self) -> String {
        crate::txn::describe_key::<X::Key>(self.key)
    }
}

impl Resolved {
    /// Decodes a stored value as `T` (see the module docs).
    pub(crate) fn decode<T: Record>(&self, key: &[u8], value: &[u8]) -> Result<T> {
        let bucket = T::schema().bucket;
        let bad = |cause: String| Error::Decode {
            bucket: bucket.into(),
            key: crate::txn::describe_key::<T::Key>(key),
            cause,
        };
        let (plan, body) = if self.bare {
            match self.plans.first() {
                Some(p) => (p, value),
                None => return Err(bad("the bucket has no readable layout".into())),
            }
        } else {
            let (id, body) = split_envelope(value).map_err(bad)?;
            if Some(id) == self.write_layout {
                return <T::Codec as Codec>::decode(body).map_err(bad);
            }
            match self.plans.iter().find(|p| p.id == id) {
                Some(p) => (p, body),
                None => return Err(bad(format!("layout {id} is not in the catalog"))),
            }
        };
        Upgrade { plan, key, bucket }.decode::<T>(body)
    }

    /// Whether a value is already in the layout the type writes.
    pub(crate) fn is_current(&self, value: &[u8]) -> bool {
        !self.bare && self.write_layout.is_some() && split_envelope(value).ok().map(|(id, _)| id) == self.write_layout
    }

    /// Whether every layout the entry lists is the one the type writes: then no value needs
    /// rewriting.
    pub(crate) fn all_current(&self) -> bool {
        !self.bare && self.write_layout.is_some() && self.plans.iter().all(|p| Some(p.id) == self.write_layout)
    }

    /// Whether index number `position` can be queried.
    pub(crate) fn is_built(&self, position: usize) -> bool {
        self.built.get(position).copied().unwrap_or(false)
    }
}

/// The chain of a type: itself, then its `from` predecessors, newest first.
fn chain(schema: &'static Schema) -> Result<Vec<&'static Schema>, Mismatch> {
    let mut out = vec![schema];
    let mut at = schema;
    while let Some(prev) = at.previous {
        let p = prev();
        if p.version >= at.version || out.len() > 64 {
            return Err(Mismatch::Chain {
                reason: format!(
                    "`{}` (version {}) names `{}` (version {}) as its predecessor; versions must go down",
                    at.type_name, at.version, p.type_name, p.version
                ),
            });
        }
        if p.bucket != schema.bucket || p.key_text != schema.key_text || p.codec != schema.codec {
            return Err(Mismatch::Chain {
                reason: format!(
                    "`{}` and its predecessor `{}` must share the bucket, the key and the codec",
                    at.type_name, p.type_name
                ),
            });
        }
        out.push(p);
        at = p;
    }
    Ok(out)
}

/// Whether bytes of `stored` can be read into a type of shape `declared` by name; on failure
/// the path inside the shape where they part.
fn compatible(stored: &Shape, declared: &Shape) -> Result<(), String> {
    if stored == declared {
        return Ok(());
    }
    let mismatch = || Err(String::new());
    match (stored, declared) {
        (Shape::Option(a), Shape::Option(b)) | (Shape::Seq(a), Shape::Seq(b)) => compatible(a, b),
        (Shape::Array(a, n), Shape::Array(b, m)) if n == m => compatible(a, b),
        (Shape::Map(ka, va), Shape::Map(kb, vb)) => compatible(ka, kb).and_then(|_| compatible(va, vb)),
        (Shape::Tuple(a), Shape::Tuple(b)) if a.len() == b.len() => {
            a.iter().zip(b).try_for_each(|(a, b)| compatible(a, b))
        }
        (Shape::Struct { fields: a, .. }, Shape::Struct { fields: b, .. }) => fields_compatible(a, b),
        (Shape::Enum { variants: a, .. }, Shape::Enum { variants: b, .. }) => {
            for v in a {
                let Some(w) = b.iter().find(|w| w.name == v.name) else {
                    return Err(format!(".{}", v.name));
                };
                let ok = match (&v.data, &w.data) {
                    (VariantData::Unit, VariantData::Unit) => Ok(()),
                    (VariantData::Newtype(a), VariantData::Newtype(b)) => compatible(a, b),
                    (VariantData::Tuple(a), VariantData::Tuple(b)) if a.len() == b.len() => {
                        a.iter().zip(b).try_for_each(|(a, b)| compatible(a, b))
                    }
                    (VariantData::Struct(a), VariantData::Struct(b)) => fields_compatible(a, b),
                    _ => mismatch(),
                };
                ok.map_err(|p| format!(".{}{p}", v.name))?;
            }
            Ok(())
        }
        _ => mismatch(),
    }
}

/// Nested struct fields: every declared field must be stored, with a compatible shape (a
/// nested type's defaults are not known, so it may only lose fields or reorder them).
fn fields_compatible(stored: &[FieldShape], declared: &[FieldShape]) -> Result<(), String> {
    for d in declared {
        match stored.iter().find(|s| s.name == d.name) {
            Some(s) => compatible(&s.shape, &d.shape).map_err(|p| format!(".{}{p}", d.name))?,
            None => return Err(format!(".{}", d.name)),
        }
    }
    Ok(())
}

/// How the chain's type `x` reads `stored` (see the module docs).
fn plan(x: &Schema, stored: &StoredLayout) -> Result<Plan, Mismatch> {
    let declared: Vec<FieldShape> = x.fields.iter().map(|f| f.shape.clone()).collect();
    if stored.fields == declared {
        return Ok(Plan { id: stored.id, version: stored.version, direct: true, shape: Shape::Unit });
    }
    let mut fields = stored.fields.clone();
    for f in &mut fields {
        if x.field(&f.name).is_none() {
            let renamed = x.fields.iter().find(|t| t.renamed_from.contains(&f.name.as_str()));
            if let Some(t) = renamed {
                if !stored.fields.iter().any(|s| s.name == t.shape.name) {
                    f.name = t.shape.name.clone();
                }
            }
        }
    }
    for t in &x.fields {
        match fields.iter().find(|s| s.name == t.shape.name) {
            Some(s) => compatible(&s.shape, &t.shape.shape).map_err(|path| Mismatch::Field {
                version: stored.version,
                field: format!("{}{path}", t.shape.name),
                stored: s.shape.to_string(),
                declared: t.shape.shape.to_string(),
            })?,
            None if t.default => {}
            None => {
                return Err(Mismatch::NewField {
                    version: stored.version,
                    field: t.shape.name.clone(),
                    declared: t.shape.shape.to_string(),
                })
            }
        }
    }
    if let Some(f) = fields.iter().find(|f| !f.shape.is_described()) {
        return Err(Mismatch::Opaque { version: stored.version, field: f.name.clone(), shape: f.shape.to_string() });
    }
    let shape = Shape::Struct { name: x.type_name.into(), fields };
    Ok(Plan { id: stored.id, version: stored.version, direct: false, shape })
}

/// Resolves type `T` against its entry (`None`: no entry).
fn resolve(schema: &'static Schema, entry: Option<&[u8]>) -> Result<Resolved, Mismatch> {
    let Some(bytes) = entry else {
        return Ok(Resolved {
            entry: None,
            bare: false,
            plans: Vec::new(),
            write_layout: None,
            built: vec![false; schema.indexes.len()],
            building: vec![None; schema.indexes.len()],
            needs_register: true,
        });
    };
    let entry = Entry::parse(bytes).map_err(|e| Mismatch::Damaged { reason: e.0 })?;
    let chain = chain(schema)?;
    let known_name =
        chain.iter().any(|s| s.type_name == entry.type_name) || schema.renamed_from.contains(&entry.type_name.as_str());
    if !known_name {
        return Err(Mismatch::OtherType { owner: entry.type_name, type_name: schema.type_name.into() });
    }
    if entry.version > schema.version {
        return Err(Mismatch::Newer { stored: entry.version, declared: schema.version });
    }
    if entry.key != schema.key_text {
        return Err(Mismatch::Key { stored: entry.key, declared: schema.key_text.clone() });
    }
    if entry.codec != schema.codec {
        return Err(Mismatch::Codec { stored: entry.codec, declared: schema.codec.into() });
    }
    let at_version = |version: u32| {
        chain
            .iter()
            .copied()
            .find(|s| s.version == version)
            .ok_or_else(|| Mismatch::NoType { version, type_name: schema.type_name.into() })
    };
    let bare = entry.format < 2;
    let plans = if bare {
        // Values of a format 1 bucket carry no layout: they are taken to be the layout of the
        // chain's type at the entry's version (the only one such a file could hold).
        at_version(entry.version)?;
        vec![Plan { id: 0, version: entry.version, direct: true, shape: Shape::Unit }]
    } else {
        entry.layouts.iter().map(|l| plan(at_version(l.version)?, l)).collect::<Result<Vec<_>, _>>()?
    };
    let own: Vec<FieldShape> = schema.fields.iter().map(|f| f.shape.clone()).collect();
    let write_layout = entry.layouts.iter().find(|l| l.version == schema.version && l.fields == own).map(|l| l.id);
    let same_version = entry.version == schema.version;
    let built: Vec<bool> =
        schema.indexes.iter().map(|i| same_version && entry.index(i.name) == Some(i.definition.as_str())).collect();
    let building: Vec<Option<Vec<u8>>> = schema
        .indexes
        .iter()
        .map(|i| if same_version { entry.building(i.name, &i.definition).map(<[u8]>::to_vec) } else { None })
        .collect();
    let exact = entry.render() == *entry_for(schema, &entry, write_layout).render();
    Ok(Resolved {
        needs_register: bare || write_layout.is_none() || !exact,
        entry: Some(entry),
        bare,
        plans,
        write_layout,
        built,
        building,
    })
}

/// The entry a registered type leaves: `old` with the type's name, version and indexes, and its
/// layout (`write_layout`, or appended).
fn entry_for(schema: &Schema, old: &Entry, write_layout: Option<u32>) -> Entry {
    Entry::registered(schema, &old.layouts, write_layout)
}

/// The entry of a type registered with bounded index builds: as [`entry_for`], but the indexes
/// whose `building` is `Some` are listed as being built from that key.
pub(crate) fn entry_building(
    schema: &Schema,
    old: &Entry,
    write_layout: Option<u32>,
    building: &[Option<Vec<u8>>],
) -> Entry {
    let mut e = entry_for(schema, old, write_layout);
    for (idx, next) in schema.indexes.iter().zip(building) {
        if let Some(next) = next {
            e.indexes.retain(|i| i.name != idx.name);
            e.building.push(StoredBuild {
                name: idx.name.into(),
                definition: idx.definition.clone(),
                next: next.clone(),
            });
        }
    }
    e
}

/// Whether `r` is as a registration with [`Builds::Bounded`] leaves it: nothing to register
/// but the indexes being built.
pub(crate) fn bounded_ready(schema: &Schema, r: &Resolved) -> bool {
    let Some(entry) = &r.entry else { return false };
    !r.bare
        && r.write_layout.is_some()
        && (0..schema.indexes.len()).all(|i| r.is_built(i) || r.building.get(i).is_some_and(Option::is_some))
        && entry.render() == entry_building(schema, entry, r.write_layout, &r.building).render()
}

/// How a registration treats the indexes it must build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builds {
    /// Builds them in this transaction (finishing any bounded build under way).
    Whole,
    /// Starts a bounded build of each (an empty bucket, listed as `building`), or leaves one
    /// under way as it is: [`crate::Store::migrate`] fills them batch by batch.
    Bounded,
}

/// Resolutions already made, per type and entry bytes. They are immutable and few (one per
/// schema change a process meets), so they are kept for the life of the process.
type Cache = Mutex<HashMap<TypeId, Vec<(Option<Vec<u8>>, &'static Resolved)>>>;

fn cache() -> &'static Cache {
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The resolution of `T` against `entry` (cached).
///
/// # Errors
/// [`Error::SchemaMismatch`] (see the module docs).
pub(crate) fn resolved<T: Record>(entry: Option<&[u8]>) -> Result<&'static Resolved> {
    // Where a bounded build goes on changes with every batch; it is read from the catalog
    // where needed (`building_from`), so resolutions (kept for the life of the process) are
    // made and cached without it: one per schema change, not one per batch. The entry as
    // stored is looked up first: normalizing is idempotent, so an entry equal to a cached
    // (normalized) one normalizes to it, and the usual case (no build under way) skips the
    // normalizing, which every transaction's first use of a type would pay.
    let schema = T::schema();
    let id = TypeId::of::<T>();
    let cached = |entry: Option<&[u8]>| {
        let cache = cache().lock().unwrap_or_else(|p| p.into_inner());
        cache.get(&id).and_then(|list| list.iter().find(|(e, _)| e.as_deref() == entry).map(|(_, r)| *r))
    };
    if let Some(r) = cached(entry) {
        return Ok(r);
    }
    let normalized = entry.map(without_build_progress);
    let entry = normalized.as_deref();
    if let Some(r) = cached(entry) {
        return Ok(r);
    }
    let r = resolve(schema, entry).map_err(|reason| Error::SchemaMismatch { bucket: schema.bucket.into(), reason })?;
    let r: &'static Resolved = Box::leak(Box::new(r));
    let mut cache = cache().lock().unwrap_or_else(|p| p.into_inner());
    cache.entry(id).or_default().push((entry.map(<[u8]>::to_vec), r));
    Ok(r)
}

/// `entry` with every `building` line's `next` key replaced by `-` (borrowed as it is when it
/// has no such line, which is every transaction's first use of a type outside a bounded build).
fn without_build_progress(entry: &[u8]) -> Cow<'_, [u8]> {
    let Ok(text) = std::str::from_utf8(entry) else { return Cow::Borrowed(entry) };
    if !text.contains("\nbuilding ") {
        return Cow::Borrowed(entry);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.split_once(" = next ") {
            Some((label, rest)) if label.starts_with("building ") => {
                let definition = rest.split_once(' ').map_or("", |(_, d)| d);
                out.push_str(label);
                out.push_str(" = next - ");
                out.push_str(definition);
                if !definition.ends_with('\n') && line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    Cow::Owned(out.into_bytes())
}

/// Where each index of `T` under way goes on, as the catalog says now (the resolution does not
/// keep it: see [`resolved`]).
///
/// # Errors
/// Engine errors; a catalog entry that does not parse.
pub(crate) fn building_from<T: Record>(tx: &Txn<'_>, resolved: &Resolved) -> Result<Vec<Option<Vec<u8>>>> {
    let schema = T::schema();
    if resolved.building.iter().all(Option::is_none) {
        return Ok(resolved.building.clone());
    }
    let catalog = tx.tree(CATALOG_BUCKET)?.ok_or_else(crate::backend::missing_tree)?;
    let bytes = catalog.get(schema.bucket.as_bytes())?.unwrap_or_default();
    let entry = Entry::parse(bytes).map_err(|e| Error::SchemaMismatch {
        bucket: schema.bucket.into(),
        reason: Mismatch::Damaged { reason: e.0 },
    })?;
    Ok(schema
        .indexes
        .iter()
        .zip(&resolved.building)
        .map(|(idx, b)| b.as_ref().and(entry.building(idx.name, &idx.definition).map(<[u8]>::to_vec)))
        .collect())
}

/// Registers `T` in a write transaction (see the module docs): after it returns `Ok`, the
/// entry is exactly the type's own. Returns the new entry's bytes.
///
/// # Errors
/// [`Error::UniqueCollision`] if a new unique index would hold a value twice; decode and
/// upgrade errors of the values read; engine errors. The caller aborts the transaction on
/// error: the registration may be half done.
pub(crate) fn register<T: Record>(tx: &mut Txn<'_>, resolved: &Resolved, builds: Builds) -> Result<Vec<u8>> {
    let schema = T::schema();
    let name = schema.bucket.as_bytes();
    let Some(old) = &resolved.entry else {
        let fresh = schema.catalog_entry().as_bytes().to_vec();
        tx.ensure_tree(CATALOG_BUCKET)?.put(name, &fresh)?;
        let mut b = tx.ensure_tree(name)?;
        for idx in &schema.indexes {
            b.ensure_child(&idx.bucket)?;
        }
        return Ok(fresh);
    };
    let mut base = old.clone();
    if resolved.bare {
        let legacy =
            chain(schema).ok().and_then(|c| c.into_iter().find(|s| s.version == old.version)).ok_or_else(|| {
                Error::SchemaMismatch {
                    bucket: schema.bucket.into(),
                    reason: Mismatch::NoType { version: old.version, type_name: schema.type_name.into() },
                }
            })?;
        let fields = legacy.fields.iter().map(|f| f.shape.clone()).collect();
        convert_bare(tx, name, fields, &mut base)?;
    }
    let whole = entry_for(schema, &base, resolved.write_layout).render().into_bytes();
    // Read the values as they will be: the new entry's resolution.
    let now = resolved_for::<T>(&whole)?;
    // Drop the indexes that are gone or changed (built or being built).
    let stored_names = old.indexes.iter().map(|i| &i.name).chain(old.building.iter().map(|b| &b.name));
    for stored in stored_names {
        let kept = schema.indexes.iter().enumerate().any(|(i, idx)| {
            idx.name == *stored && (resolved.is_built(i) || resolved.building.get(i).is_some_and(Option::is_some))
        });
        if !kept {
            drop_index::<T>(tx, stored)?;
        }
    }
    let missing: Vec<usize> = (0..schema.indexes.len()).filter(|i| !resolved.is_built(*i)).collect();
    let progress = building_from::<T>(tx, resolved)?;
    let under_way = |i: usize| progress.get(i).cloned().flatten();
    let bytes = match builds {
        Builds::Whole => {
            let fresh: Vec<usize> = missing.iter().copied().filter(|&i| under_way(i).is_none()).collect();
            if !fresh.is_empty() {
                crate::build::build_indexes::<T>(tx, now, &fresh, &[], usize::MAX, true)?;
            }
            for &i in &missing {
                if let Some(next) = under_way(i) {
                    crate::build::build_indexes::<T>(tx, now, &[i], &next, usize::MAX, false)?;
                }
            }
            whole
        }
        Builds::Bounded => {
            let mut building = vec![None; schema.indexes.len()];
            for &i in &missing {
                building[i] = Some(match under_way(i) {
                    Some(next) => next,
                    None => {
                        let idx = &schema.indexes[i];
                        drop_index::<T>(tx, idx.name)?;
                        tx.tree_mut(name)?.create_child(&idx.bucket)?;
                        Vec::new()
                    }
                });
            }
            entry_building(schema, &base, resolved.write_layout, &building).render().into_bytes()
        }
    };
    tx.ensure_tree(CATALOG_BUCKET)?.put(name, &bytes)?;
    Ok(bytes)
}

/// Drops the bucket of index `index` of `T`, if it has one.
fn drop_index<T: Record>(tx: &mut Txn<'_>, index: &str) -> Result<()> {
    let b = crate::record::index_bucket_name::<T::Key>(index);
    tx.tree_mut(T::schema().bucket.as_bytes())?.delete_child(&b)?;
    Ok(())
}

fn resolved_for<T: Record>(entry: &[u8]) -> Result<&'static Resolved> {
    resolved::<T>(Some(entry))
}

/// Gives every value of a format 1 bucket the envelope of layout 1 (the layout of the type at
/// the entry's version) and records that layout.
fn convert_bare(tx: &mut Txn<'_>, name: &[u8], fields: Vec<FieldShape>, entry: &mut Entry) -> Result<()> {
    let values: Vec<(Vec<u8>, Vec<u8>)> = {
        let b = tx.tree(name)?.ok_or_else(crate::backend::missing_tree)?;
        let mut out = Vec::new();
        for item in b.iter() {
            let (k, v) = item?;
            let mut e = Vec::with_capacity(v.len() + 1);
            push_envelope(1, &mut e);
            e.extend_from_slice(v);
            out.push((k.to_vec(), e));
        }
        out
    };
    let mut b = tx.tree_mut(name)?;
    for (k, v) in &values {
        b.put(k, v)?;
    }
    entry.format = FORMAT;
    entry.layouts = vec![StoredLayout { id: 1, version: entry.version, fields }];
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILDING: &str = "format = 2\ntype = A\nversion = 1\ncodec = postcard\nkey = id: u64\n\
                            building age = next 00ab07 (age: u8)\nbuilding name = next - (name: string)\n";

    #[test]
    fn build_progress_is_dropped_once_and_for_all() {
        let once = without_build_progress(BUILDING.as_bytes()).into_owned();
        assert_eq!(
            String::from_utf8(once.clone()).unwrap(),
            BUILDING.replace("next 00ab07 ", "next - "),
            "only the key of where the build goes on is dropped"
        );
        // `resolved` looks the stored entry up as it is before normalizing it: that is only
        // right if a normalized entry normalizes to itself.
        assert_eq!(without_build_progress(&once), once);
    }

    #[test]
    fn an_entry_without_builds_is_borrowed() {
        let plain = b"format = 2\ntype = A\nversion = 1\ncodec = postcard\nkey = id: u64\n";
        assert!(matches!(without_build_progress(plain), Cow::Borrowed(b) if b == plain));
    }
}
