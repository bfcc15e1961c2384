use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Address {
    street: String,
    zip: u32,
}

#[derive(Record, Serialize, Deserialize)]
struct Customer {
    #[key(auto)]
    id: u64,
    name: String,
    #[serde(flatten)]
    address: Address,
}

fn main() {}
