//! Why a write transaction can no longer commit: the first error that left it unable to roll
//! back piecemeal (a unique violation, a failed registration or index build, a write failed
//! halfway). Every later call of the transaction, and its commit, returns this error.

use crate::error::Error;
use crate::record::Record;

/// Why a transaction can no longer commit.
#[derive(Debug, Clone)]
pub(crate) enum Abort {
    Unique { bucket: String, index: String, value: String },
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

    pub(crate) fn error(&self) -> Error {
        match self.clone() {
            Abort::Unique { bucket, index, value } => Error::UniqueViolation { bucket, index, value },
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
