//! Transaction closures that fail with the program's own errors: `try_write`/`try_read` with
//! any `E: From<rivet::Error>`, and `Error::user` through `write`. Either way the transaction
//! rolls back.

use rivet::{Error, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "accounts")]
struct Account {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
}

fn account(email: &str) -> Account {
    Account { id: 0, email: email.into() }
}

#[derive(Debug, PartialEq)]
enum AppError {
    Refused(&'static str),
    Store(String),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Store(e.to_string())
    }
}

#[test]
fn the_programs_own_errors_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("c.db")).unwrap();
    let r: Result<(), AppError> = store.try_write(|tx| {
        tx.insert(&mut account("a@example.com"))?;
        Err(AppError::Refused("no"))
    });
    assert_eq!(r, Err(AppError::Refused("no")));
    assert_eq!(store.read(|tx| tx.count::<Account>()).unwrap(), 0);
    // The store's own errors convert.
    let r: Result<u64, AppError> = store.try_write(|tx| {
        tx.insert(&mut account("a@example.com"))?;
        Ok(tx.insert(&mut account("a@example.com"))?)
    });
    assert!(matches!(r, Err(AppError::Store(ref m)) if m.contains("unique violation")), "{r:?}");
    let n: Result<usize, AppError> = store.try_read(|tx| Ok(tx.count::<Account>()?));
    assert_eq!(n, Ok(0));
}

#[test]
fn error_user_carries_any_error_through_write() {
    #[derive(Debug)]
    struct Quota;
    impl std::fmt::Display for Quota {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("over quota")
        }
    }
    impl std::error::Error for Quota {}
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("c.db")).unwrap();
    let e = store
        .write(|tx| {
            tx.insert(&mut account("b@example.com"))?;
            Err::<(), _>(Error::user(Quota))
        })
        .unwrap_err();
    assert!(e.downcast_user::<Quota>().is_some());
    assert_eq!(e.to_string(), "over quota");
    assert_eq!(store.read(|tx| tx.count::<Account>()).unwrap(), 0);
}
