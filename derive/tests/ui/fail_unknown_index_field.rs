use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
#[rivet(index(name = "by_time", fields(sku, time)))]
struct Order {
    #[key]
    id: u64,
    sku: String,
    at: i64,
}

fn main() {}
