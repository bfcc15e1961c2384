//! Index handles make query mistakes compile errors.
use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct User {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    country: String,
}

fn queries(tx: &rivet::ReadTx<'_>) -> rivet::Result<()> {
    // `get` needs a unique index: a country has many users.
    let _ = tx.index(User::country).get("GB")?;
    // The value must have the index's type.
    let _ = tx.index(User::email).get(42u32)?;
    // A misspelt index does not exist.
    let _ = tx.index(User::emial).get("x")?;
    Ok(())
}

fn main() {
    let _ = queries;
}
