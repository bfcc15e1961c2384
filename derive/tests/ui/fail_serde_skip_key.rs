use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Session {
    #[key]
    #[serde(skip)]
    token: u64,
    user: String,
}

fn main() {}
