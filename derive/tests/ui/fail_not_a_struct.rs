use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
enum Shape {
    Circle(f64),
    Square(f64),
}

#[derive(Record, Serialize, Deserialize)]
struct Pair(u64, String);

fn main() {}
