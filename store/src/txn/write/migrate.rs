//! Migrations of a write transaction: [`WriteTx::migrate`] in one go, and the bounded batches
//! [`crate::Store::migrate`] commits one by one.

use crate::abort::Abort;
use crate::error::Result;
use crate::evolve::{self, Builds};
use crate::record::Record;

use super::WriteTx;

impl WriteTx<'_> {
    /// Brings type `T` up to date in the file: registers it (converting an old bucket,
    /// building new indexes, dropping removed ones) and rewrites every value written by an
    /// older layout in the type's own. Returns how many values were rewritten. For a large
    /// bucket, [`crate::Store::migrate`] does the same in bounded transactions.
    ///
    /// # Errors
    /// Every error here aborts the transaction (building and rewriting may be half done).
    /// - [`Error::Aborted`](crate::Error::Aborted) if an earlier error aborted the transaction;
    /// - [`Error::SchemaMismatch`](crate::Error::SchemaMismatch) if the file cannot be read as `T`;
    /// - [`Error::UniqueCollision`](crate::Error::UniqueCollision) if two records share a value of a new unique index;
    /// - [`Error::Decode`](crate::Error::Decode) or [`Error::Upgrade`](crate::Error::Upgrade) for a record that cannot be read as `T`;
    /// - [`Error::Engine`](crate::Error::Engine) for an engine failure while reading or writing.
    ///
    /// # Example
    /// ```
    /// use rivet::Store;
    ///
    /// mod v1 {
    ///     use rivet::Record;
    ///     use serde::{Deserialize, Serialize};
    ///     #[derive(Record, Serialize, Deserialize)]
    ///     #[rivet(bucket = "person")]
    ///     pub struct Person { #[key] pub id: u64, pub name: String }
    /// }
    /// mod v2 {
    ///     use rivet::Record;
    ///     use serde::{Deserialize, Serialize};
    ///     // The same type with a new index, as the next release declares it.
    ///     #[derive(Record, Serialize, Deserialize)]
    ///     #[rivet(bucket = "person")]
    ///     pub struct Person { #[key] pub id: u64, #[index] pub name: String }
    /// }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("people.db"))?;
    /// store.write(|tx| tx.insert(&mut v1::Person { id: 1, name: "Ada".into() }).map(drop))?;
    /// // Before any write, the new index is not there to query.
    /// let early = store.read(|tx| tx.index(v2::Person::name).equal("Ada").count());
    /// assert!(matches!(early, Err(rivet::Error::IndexNotBuilt { .. })));
    /// store.write(|tx| tx.migrate::<v2::Person>().map(drop))?;
    /// assert_eq!(store.read(|tx| tx.index(v2::Person::name).equal("Ada").count())?, 1);
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn migrate<T: Record>(&mut self) -> Result<usize> {
        let (n, _) = self.migrate_some::<T>(None, usize::MAX)?;
        Ok(n)
    }

    /// One batch of [`crate::Store::migrate`]'s index builds: registers `T` with bounded
    /// builds (if it is not), then adds the entries of at most `limit` records to the first
    /// index being built. Returns how many records were read and whether any index is still
    /// being built.
    pub(crate) fn build_some<T: Record>(&mut self, limit: usize) -> Result<(usize, bool)> {
        self.check_open()?;
        let schema = T::schema();
        let mut r = self.read.resolved::<T>()?;
        if !evolve::bounded_ready(schema, r) {
            r = self.register_with::<T>(r, Builds::Bounded)?;
        }
        let out = crate::build::next_batch::<T>(&mut self.read.tx, r, limit).and_then(|done| match done {
            None => Ok((0, false)),
            Some((read, entry)) => {
                let now = evolve::resolved::<T>(Some(&entry))?;
                self.read.set_verified::<T>(now);
                Ok((read, now.building.iter().any(Option::is_some)))
            }
        });
        if let Err(e) = &out {
            self.aborted = Some(Abort::after::<T>(e));
        }
        out
    }

    /// [`WriteTx::migrate`] of at most `limit` values from key `from`; returns the count and
    /// where to go on.
    pub(crate) fn migrate_some<T: Record>(
        &mut self,
        from: Option<&[u8]>,
        limit: usize,
    ) -> Result<(usize, Option<Vec<u8>>)> {
        self.check_open()?;
        let r = self.register::<T>()?;
        let out = crate::rewrite::rewrite::<T>(&mut self.read.tx, r, from, limit).and_then(|(n, next)| {
            // At the end of a pass, drop the layouts no value has any more.
            if next.is_none() {
                if let Some(entry) = crate::rewrite::prune_layouts::<T>(&mut self.read.tx, r)? {
                    self.read.set_verified::<T>(evolve::resolved::<T>(Some(&entry))?);
                }
            }
            Ok((n, next))
        });
        if let Err(e) = &out {
            self.aborted = Some(Abort::Failed { bucket: T::schema().bucket.into(), cause: e.to_string() });
        }
        out
    }
}
