use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct User {
    #[key(auto)]
    id: u64,
    #[rivet(renamed = "name")]
    full_name: String,
}

fn main() {}
