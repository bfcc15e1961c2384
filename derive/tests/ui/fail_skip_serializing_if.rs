use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Profile {
    #[key(auto)]
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nickname: Option<String>,
    bio: String,
}

fn main() {}
