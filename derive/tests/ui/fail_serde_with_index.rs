use rivet::Record;
use serde::{Deserialize, Serialize};

mod upper {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&s.to_uppercase())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
        String::deserialize(de)
    }
}

#[derive(Record, Serialize, Deserialize)]
struct User {
    #[key(auto)]
    id: u64,
    #[index]
    #[serde(with = "upper")]
    country: String,
}

fn main() {}
