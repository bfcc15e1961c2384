use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
#[rivet(bucket = "__rivet_catalog")]
struct Sneaky {
    #[key]
    id: u64,
}

fn main() {}
