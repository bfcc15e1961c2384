//! The `Record` trait (what `#[derive(Record)]` implements), the schema it describes, and the
//! typed index handles the derive generates (`User::email`).
//!
//! A record type's [`Schema`] is built once per process and says everything the store needs
//! without looking at a value: the bucket, the key fields and their encodings, whether the key
//! is an autoincrement, the indexes (and the nested buckets that hold them), the codec and the
//! version. Its catalog entry (see [`crate::catalog`]) is what the file remembers about the type.

use std::fmt::Debug;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::Codec;
use crate::key::{Key, KeyLike, KeyPrefix, KeyRange};
use crate::layout::{FieldShape, Shape};
use crate::query::Condition;

/// A type stored by the typed store: one bucket of records, keyed by [`Record::Key`], with
/// secondary indexes. Implement it with `#[derive(Record)]`; the methods below are what the
/// derive generates.
///
/// ```
/// use rivet::Record;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Record, Serialize, Deserialize, Debug)]
/// #[rivet(bucket = "users")]
/// struct User {
///     #[key(auto)]
///     id: u64,
///     #[index(unique)]
///     email: String,
///     #[index]
///     country: String,
///     name: String,
/// }
///
/// assert_eq!(User::schema().bucket, "users");
/// assert_eq!(User::email.name(), "email");
/// ```
pub trait Record: Serialize + DeserializeOwned + 'static {
    /// The primary key: the key field's type, or a tuple of the key fields in declaration order.
    type Key: Key;
    /// How values are encoded (default [`crate::Postcard`]).
    type Codec: Codec;

    /// The type's schema (built once).
    fn schema() -> &'static Schema;

    /// The record's primary key.
    fn key(&self) -> Self::Key;

    /// Appends the encoding of the primary key (the same bytes as encoding [`Record::key`]).
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.key().encode_key(out);
    }

    /// Sets the autoincrement key field to sequence number `sequence`. Returns `false` if the
    /// type has no auto key or the number does not fit its type.
    fn assign_auto_key(&mut self, sequence: u64) -> bool {
        let _ = sequence;
        false
    }

    /// The sequence number the auto key field holds (`None` without an auto key, or for a
    /// negative value). Writes move the bucket's sequence up to it, so that later inserts never
    /// reuse a key written explicitly.
    fn auto_key_sequence(&self) -> Option<u64> {
        None
    }

    /// Appends the key of index number `index` (its position in [`Schema::indexes`]) and
    /// returns `true`, or returns `false` if the record is not in that index (a sparse index on
    /// an `Option` field that is `None`).
    fn encode_index(&self, index: usize, out: &mut Vec<u8>) -> bool {
        let _ = (index, out);
        false
    }

    /// Appends every entry key the record has in index number `index`, pushing the end of
    /// each to `ends`: one for a plain index (none if [`Record::encode_index`] says the record
    /// is not in it), one per element for a multi-valued index (`#[index(each)]`; repeated
    /// elements may repeat, the store keeps one entry each).
    fn encode_index_entries(&self, index: usize, out: &mut Vec<u8>, ends: &mut Vec<usize>) {
        if self.encode_index(index, out) {
            ends.push(out.len());
        }
    }

    /// The value of index number `index` as `Debug` prints it (for error messages).
    fn index_value(&self, index: usize) -> String {
        let _ = index;
        String::new()
    }

    /// Decodes a value written by an older version of the type: the derive generates it for
    /// `#[rivet(version = N, from = Previous)]` as "decode as `Previous` (recursively), then
    /// `TryFrom`". Without `from`, an older value has no way up.
    ///
    /// # Errors
    /// [`crate::Error::SchemaMismatch`] without a way up; what the chain's decoding and
    /// `TryFrom`s return.
    fn decode_older(upgrade: &crate::Upgrade<'_>, bytes: &[u8]) -> crate::Result<Self> {
        let _ = bytes;
        Err(upgrade.no_path::<Self>())
    }
}

/// A named field and the kind of its key encoding (`u64`, `string`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field's name.
    pub name: &'static str,
    /// The encoding kind ([`Key::kind`]).
    pub kind: String,
}

/// One secondary index of a record type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSchema {
    /// The index's name (the field name for a field index).
    pub name: &'static str,
    /// Whether two records may not share a value.
    pub unique: bool,
    /// Whether records whose (single, `Option`) field is `None` are left out.
    pub sparse: bool,
    /// Whether it holds one entry per element of a collection field (`#[index(each)]`).
    pub each: bool,
    /// The indexed fields, in key order.
    pub fields: Vec<Field>,
    /// The name of the nested bucket holding the index (see [`index_bucket_name`]).
    pub bucket: Vec<u8>,
    /// Its definition as the catalog records it (`unique (email: string)`).
    pub definition: String,
}

impl IndexSchema {
    /// A unique index's value as errors show it, from its entry: a string as it is, anything else
    /// as `Debug` prints it; `None` if the index's kinds are not the store's own.
    pub(crate) fn value_text(&self, entry: &[u8]) -> Option<String> {
        let fields = self
            .fields
            .iter()
            .map(|f| crate::key_kind::KeyKind::parse(&f.kind).map(|k| (f.name.to_string(), k)))
            .collect::<Option<Vec<_>>>()?;
        let mut rest = entry;
        let mut values = Vec::with_capacity(fields.len());
        for (_, kind) in &fields {
            values.push(kind.decode(&mut rest).ok()?);
        }
        Some(match values.as_slice() {
            [crate::value::Value::String(s)] => s.clone(),
            [one] => one.to_string(),
            many => format!("({})", many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        })
    }
}

/// One serialized field of a record's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueField {
    /// Its serialized name and shape.
    pub shape: FieldShape,
    /// Whether it has a default (`#[serde(default)]`): values without it can still be read.
    pub default: bool,
    /// Names it had before (`#[rivet(renamed_from = "old")]`).
    pub renamed_from: Vec<&'static str>,
}

/// What the store knows about a record type. Built by [`Schema::build`] from the derive's
/// [`SchemaSpec`].
#[derive(Debug, Clone)]
pub struct Schema {
    /// The Rust type's name (without its module path).
    pub type_name: &'static str,
    /// The top-level bucket holding the records.
    pub bucket: &'static str,
    /// The record's format version (`#[rivet(version = N)]`, default 1).
    pub version: u32,
    /// The value codec's name.
    pub codec: &'static str,
    /// The key fields, in key order.
    pub key: Vec<Field>,
    /// Whether the key is assigned from the bucket's sequence on insert.
    pub auto_key: bool,
    /// The secondary indexes, in declaration order (field indexes first, then the composite
    /// indexes of `#[rivet(index(..))]`).
    pub indexes: Vec<IndexSchema>,
    /// The serialized fields of the value, in order.
    pub fields: Vec<ValueField>,
    /// The previous version of the type (`from = ..`), if any.
    pub previous: Option<fn() -> &'static Schema>,
    /// Names the type had before (`#[rivet(renamed_from = "Old")]`), accepted as owners of its
    /// bucket in the catalog.
    pub renamed_from: Vec<&'static str>,
    /// The key as the catalog records it (`id: u64 (auto)`).
    pub key_text: String,
    /// The catalog entry a new file gets.
    pub(crate) entry: String,
}

/// The derive's description of a record type, turned into a [`Schema`] by [`Schema::build`].
#[derive(Debug, Clone)]
pub struct SchemaSpec {
    /// The Rust type's name.
    pub type_name: &'static str,
    /// The bucket name.
    pub bucket: &'static str,
    /// The format version.
    pub version: u32,
    /// The key fields.
    pub key: Vec<FieldSpec>,
    /// Whether the key is an autoincrement.
    pub auto_key: bool,
    /// The indexes.
    pub indexes: Vec<IndexSpec>,
    /// The serialized fields of the value.
    pub fields: Vec<ValueFieldSpec>,
    /// The previous version's schema.
    pub previous: Option<fn() -> &'static Schema>,
    /// The type's former names.
    pub renamed_from: &'static [&'static str],
}

/// A serialized field of a [`SchemaSpec`].
#[derive(Debug, Clone)]
pub struct ValueFieldSpec {
    /// The serialized name.
    pub name: &'static str,
    /// Its shape.
    pub shape: fn() -> Shape,
    /// Whether it has a default.
    pub default: bool,
    /// Its former names.
    pub renamed_from: &'static [&'static str],
}

/// A field of a [`SchemaSpec`].
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// The field's name.
    pub name: &'static str,
    /// The field type's [`Key::kind`].
    pub kind: fn() -> String,
}

/// An index of a [`SchemaSpec`].
#[derive(Debug, Clone)]
pub struct IndexSpec {
    /// The index's name.
    pub name: &'static str,
    /// Whether values are unique.
    pub unique: bool,
    /// Whether `None` values are left out.
    pub sparse: bool,
    /// Whether it holds one entry per element of a collection field.
    pub each: bool,
    /// The indexed fields.
    pub fields: Vec<FieldSpec>,
}

impl Schema {
    /// Builds the schema of `T` from its spec: resolves encoding kinds, index bucket names and
    /// the catalog entry.
    pub fn build<T: Record>(spec: SchemaSpec) -> Schema {
        let fields = |f: &[FieldSpec]| f.iter().map(|f| Field { name: f.name, kind: (f.kind)() }).collect();
        let text = |f: &[Field]| f.iter().map(|f| format!("{}: {}", f.name, f.kind)).collect::<Vec<_>>().join(", ");
        let indexes = spec
            .indexes
            .iter()
            .map(|i| {
                let fields: Vec<Field> = fields(&i.fields);
                let mut definition = String::new();
                if i.unique {
                    definition.push_str("unique ");
                }
                if i.sparse {
                    definition.push_str("sparse ");
                }
                if i.each {
                    definition.push_str("each ");
                }
                definition.push_str(&format!("({})", text(&fields)));
                IndexSchema {
                    name: i.name,
                    unique: i.unique,
                    sparse: i.sparse,
                    each: i.each,
                    fields,
                    bucket: index_bucket_name::<T::Key>(i.name),
                    definition,
                }
            })
            .collect();
        let key: Vec<Field> = fields(&spec.key);
        let key_text = format!("{}{}", text(&key), if spec.auto_key { " (auto)" } else { "" });
        let mut schema = Schema {
            type_name: spec.type_name,
            bucket: spec.bucket,
            version: spec.version,
            codec: <T::Codec as Codec>::NAME,
            key,
            auto_key: spec.auto_key,
            indexes,
            fields: spec
                .fields
                .iter()
                .map(|f| ValueField {
                    shape: FieldShape { name: f.name.into(), shape: (f.shape)() },
                    default: f.default,
                    renamed_from: f.renamed_from.to_vec(),
                })
                .collect(),
            previous: spec.previous,
            renamed_from: spec.renamed_from.to_vec(),
            key_text,
            entry: String::new(),
        };
        schema.entry = crate::catalog::Entry::registered(&schema, &[], None).render();
        schema
    }

    /// The value field named `name`.
    pub fn field(&self, name: &str) -> Option<&ValueField> {
        self.fields.iter().find(|f| f.shape.name == name)
    }

    /// The catalog entry this type writes (and expects to find), as text.
    pub fn catalog_entry(&self) -> &str {
        &self.entry
    }
}

/// The distinct entry keys `record` has in index number `index`, appended to `out`, as ranges
/// of it in byte order (a multi-valued index's repeated elements give one entry).
pub(crate) fn index_entries<T: Record>(record: &T, index: usize, out: &mut Vec<u8>) -> Vec<std::ops::Range<usize>> {
    let start = out.len();
    let mut ends = Vec::new();
    record.encode_index_entries(index, out, &mut ends);
    let mut spans = Vec::with_capacity(ends.len());
    let mut from = start;
    for end in ends {
        if end >= from && end <= out.len() {
            spans.push(from..end);
            from = end;
        }
    }
    if spans.len() > 1 {
        spans.sort_by(|a, b| out[a.clone()].cmp(&out[b.clone()]));
        spans.dedup_by(|a, b| out[a.clone()] == out[b.clone()]);
    }
    spans
}

/// The name of the nested bucket holding index `name` in a record bucket keyed by `K`:
/// `index:NAME`, or `index:NAME~` in the one case where `index:NAME` is itself a valid
/// encoding of a `K` (for example a `[u8; 11]` key). Key encodings are prefix-free, so the
/// longer name can never be one: an index bucket never collides with a record key.
pub fn index_bucket_name<K: Key>(name: &str) -> Vec<u8> {
    let mut b = format!("index:{name}").into_bytes();
    if crate::key::decode::<K>(&b).is_ok() {
        b.push(b'~');
    }
    b
}

/// Marks an [`Index`] whose values are unique: it has [`crate::IndexView::get`].
#[derive(Debug, Clone, Copy)]
pub enum Unique {}

/// Marks an [`Index`] whose values may repeat.
#[derive(Debug, Clone, Copy)]
pub enum Multi {}

/// Ties a handle to its record, key and uniqueness types without owning any of them.
pub(crate) type Marker<T, K, U> = PhantomData<fn() -> (T, K, U)>;

/// A typed handle on one index of record type `T`, whose index keys have type `K`. The derive
/// generates one per index as an associated constant named after the index (`User::email`);
/// pass it to [`crate::ReadTx::index`].
pub struct Index<T, K, U = Multi> {
    position: usize,
    name: &'static str,
    _marker: Marker<T, K, U>,
}

impl<T, K, U> Index<T, K, U> {
    /// A handle on index number `position` of `T` (used by the derive; the store checks the
    /// name against the schema).
    #[doc(hidden)]
    pub const fn new(position: usize, name: &'static str) -> Self {
        Index { position, name, _marker: PhantomData }
    }

    /// The index's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The index's position in [`Schema::indexes`].
    pub fn position(&self) -> usize {
        self.position
    }

    /// A [`Condition`] for [`crate::ReadTx::find`]: records whose value of this index equals
    /// `value` (as [`crate::IndexView::equal`] selects them). On a non-unique index its entries
    /// stream in primary-key order; on a unique one it is a single lookup.
    ///
    /// ```
    /// # use rivet::Record;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Record, Serialize, Deserialize, Debug)]
    /// # struct User { #[key] id: u64, #[index] city: String }
    /// let in_oslo = User::city.eq("Oslo");
    /// assert_eq!(in_oslo.to_string(), r#"city = "Oslo""#);
    /// ```
    pub fn eq(self, value: impl KeyLike<K> + Debug) -> Condition<T>
    where
        K: Key,
    {
        Condition::index_eq::<K>(self.position, self.name, value)
    }

    /// A [`Condition`]: records whose value of this index falls in `range` (`a..b`, `a..=b`,
    /// `a..`, `..b`, a pair of `Bound`s; endpoints may be prefixes of a composite index key).
    pub fn range(self, range: impl KeyRange<K> + Debug) -> Condition<T>
    where
        K: Key,
    {
        Condition::index_range::<K>(self.position, self.name, range)
    }

    /// A [`Condition`]: records whose composite index key starts with the leading fields
    /// `prefix` (a tuple, such as `("gear".to_string(),)`). On a single-field index a prefix is
    /// a whole value, as in [`crate::IndexView::prefix`]; for text that starts with some
    /// characters use [`Index::starts_with`].
    pub fn prefix(self, prefix: impl KeyPrefix<K> + Debug) -> Condition<T>
    where
        K: Key,
    {
        Condition::index_prefix::<K>(self.position, self.name, prefix)
    }
}

impl<T, U> Index<T, String, U> {
    /// A [`Condition`]: records whose value of this `String` index starts with `text`
    /// (`User::name.starts_with("Ad")` selects "Ada" and "Adam").
    pub fn starts_with(self, text: &str) -> Condition<T> {
        Condition::index_starts_with(self.position, self.name, text)
    }
}

impl<T, K, U> Clone for Index<T, K, U> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, K, U> Copy for Index<T, K, U> {}

impl<T, K, U> std::fmt::Debug for Index<T, K, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("name", &self.name).field("position", &self.position).finish()
    }
}
