use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Profile {
    #[key(auto)]
    id: u64,
    #[serde(skip_serializing)]
    password: String,
    bio: String,
}

fn main() {}
