//! Every attribute the derive accepts, and the typed queries it enables.

use rivet::{Codec, Postcard, Record};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug)]
#[rivet(bucket = "users", version = 3)]
pub struct User {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    country: String,
    #[index(name = "birth_year")]
    born: Option<i32>,
    name: String,
}

#[derive(Record, Serialize, Deserialize, Debug)]
#[rivet(index(name = "by_sku_time", fields(sku, at)), index(name = "by_cents", fields(cents), unique))]
struct Order {
    #[key]
    user: u64,
    #[key]
    at: i64,
    sku: String,
    cents: i64,
}

/// A codec of one's own.
struct Wrapped;

impl Codec for Wrapped {
    const NAME: &'static str = "wrapped-postcard";
    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
        let mut v = vec![0xAA];
        v.extend(Postcard::encode(value)?);
        Ok(v)
    }
    fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        match bytes.split_first() {
            Some((0xAA, rest)) => Postcard::decode(rest),
            _ => Err("missing marker".into()),
        }
    }
}

#[derive(Record, Serialize, Deserialize)]
#[rivet(codec = Wrapped, crate = ::rivet)]
struct HTTPLogLine {
    #[key]
    at: (u32, u32),
    #[key]
    seq: Option<u8>,
    #[index]
    flag: bool,
    #[index]
    ratio: f64,
    #[index]
    digest: [u8; 4],
    #[index]
    tags: Vec<u8>,
    #[index]
    c: char,
}

fn queries(tx: &rivet::ReadTx<'_>) -> rivet::Result<()> {
    let _: Option<User> = tx.get::<User>(1)?;
    let _: Option<User> = tx.index(User::email).get("ada@example.com")?;
    let _: Vec<User> = tx.index(User::country).equal("GB").rev().limit(3).to_vec()?;
    let _ = tx.index(User::birth_year).range(1800..1900).count()?;
    let _: Vec<Order> = tx.prefix::<Order>((7,)).to_vec()?;
    let _ = tx.range::<Order>((7, 0)..(7, 100)).after((7, 5)).count()?;
    let _ = tx.index(Order::by_sku_time).prefix(("gear".to_string(),)).count()?;
    let _: Option<Order> = tx.index(Order::by_cents).get(1200)?;
    let _ = tx.index(HTTPLogLine::ratio).range(0.5..).count()?;
    Ok(())
}

fn main() {
    let s = User::schema();
    assert_eq!((s.bucket, s.version, s.auto_key), ("users", 3, true));
    assert_eq!(s.indexes.iter().map(|i| i.name).collect::<Vec<_>>(), ["email", "country", "birth_year"]);
    assert!(s.indexes[2].sparse);
    assert_eq!(Order::schema().bucket, "order");
    assert_eq!(Order::schema().key.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>(), ["u64", "i64"]);
    assert_eq!(HTTPLogLine::schema().bucket, "http_log_line");
    assert_eq!(HTTPLogLine::schema().codec, "wrapped-postcard");
    let _ = queries;
}
