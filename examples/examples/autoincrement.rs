//! Autoincrement ids: `#[key(auto)]` takes the bucket's sequence (bbolt's `NextSequence`).
//! Ids are never reused after a removal; a rolled-back transaction gives its ids back; an id
//! written explicitly moves the sequence past it.
//!
//! `cargo run -p rivet-examples --example autoincrement [-- PATH]` (default: a file in the
//! system temp directory, recreated on each run).

use std::path::PathBuf;

use rivet::{Error, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug)]
struct Ticket {
    #[key(auto)]
    id: u32,
    title: String,
}

fn ticket(title: &str) -> Ticket {
    Ticket { id: 0, title: title.into() }
}

/// The program's own error type: its failures, and the store's.
#[derive(Debug)]
enum AppError {
    Refused(&'static str),
    Store(Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Store(e)
    }
}

fn main() -> Result<(), Error> {
    let path =
        std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("autoincrement.db"));
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path)?;

    let ids = store.write(|tx| {
        let a = tx.insert(&mut ticket("disk full"))?;
        let b = tx.insert(&mut ticket("printer on fire"))?;
        Ok((a, b))
    })?;
    println!("inserted tickets {} and {}", ids.0, ids.1);

    store.write(|tx| tx.remove::<Ticket>(ids.1).map(drop))?;
    let id = store.write(|tx| tx.insert(&mut ticket("coffee machine")))?;
    println!("removed {}, then the next insert got {id}: ids are not reused", ids.1);

    // The program's own error rolls the transaction back (`try_write` returns it as it is).
    let rolled_back: Result<u32, AppError> = store.try_write(|tx| {
        let id = tx.insert(&mut ticket("never stored"))?;
        println!("in a transaction that will fail, insert got {id}...");
        Err(AppError::Refused("on purpose"))
    });
    let id = store.write(|tx| tx.insert(&mut ticket("stored")))?;
    match rolled_back {
        Err(AppError::Refused(why)) => println!("...it rolled back ({why}), so the next insert got {id} again"),
        Err(AppError::Store(e)) => return Err(e),
        Ok(_) => println!("...it unexpectedly committed"),
    }

    store.write(|tx| tx.upsert(&Ticket { id: 100, title: "imported".into() }))?;
    let id = store.write(|tx| tx.insert(&mut ticket("after the import")))?;
    println!("an explicit id 100 moved the sequence: the next insert got {id}");

    store.read(|tx| {
        println!("sequence is {}; tickets:", tx.sequence::<Ticket>()?);
        for t in tx.scan::<Ticket>() {
            let t = t?;
            println!("  #{:<3} {}", t.id, t.title);
        }
        Ok(())
    })
}
