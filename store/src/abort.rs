//! Why a write transaction can no longer commit: the first error that left it unable to roll
//! back piecemeal (a failed registration or index build, a write failed halfway). Every later call of the transaction, and its commit, return `Error::Aborted`
//! naming it. (Errors found before anything is written, such as a duplicate key or a unique
//! violation, leave the transaction usable.)

use crate::error::Error;
use crate::record::Record;

/// Why a transaction can no longer commit.
#[derive(Debug, Clone)]
pub(crate) enum Abort {
    Collision { bucket: String, index: String, value: String, first: String, second: String },
    Failed { bucket: String, cause: String },
}

impl Abort {
    /// Why a transaction is aborted after `e`, met in a registration or an index build of `T`.
    pub(crate) fn after<T: Record>(e: &Error) -> Abort {
        match e {
            Error::UniqueCollision { bucket, index, value, first, second } => Abort::Collision {
                bucket: bucket.clone(),
                index: index.clone(),
                value: value.clone(),
                first: first.clone(),
                second: second.clone(),
            },
            other => Abort::Failed { bucket: T::schema().bucket.into(), cause: other.to_string() },
        }
    }

    /// What later calls and the commit return.
    pub(crate) fn error(&self) -> Error {
        Error::Aborted { cause: Box::new(self.cause()) }
    }

    /// The error that aborted the transaction.
    pub(crate) fn cause(&self) -> Error {
        match self.clone() {
            Abort::Collision { bucket, index, value, first, second } => {
                Error::UniqueCollision { bucket, index, value, first, second }
            }
            Abort::Failed { bucket, cause } => Error::Inconsistent {
                bucket,
                index: String::new(),
                reason: format!(
                    "a write failed halfway ({cause}); the transaction was aborted to keep the indexes consistent"
                ),
            },
        }
    }
}
