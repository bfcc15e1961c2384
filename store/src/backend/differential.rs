//! The typed store on two backends at once: the embedded engine and the in-memory map. The
//! same pseudo-random operations (writes of every kind, scans, index and combined queries,
//! counts, audits, subscriptions) run on both, and every answer, errors included, must be the
//! same. This is what shows the store depends on the seam alone.

use serde::{Deserialize, Serialize};

use crate::query::{and, or};
use crate::watch::Change;
use crate::{Record, Store};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Person {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    city: String,
    #[index]
    age: Option<u32>,
    #[index(each)]
    tags: Vec<String>,
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(index(name = "by_kind_at", fields(kind, at)))]
struct Event {
    #[key]
    person: u64,
    #[key]
    at: i64,
    kind: String,
}

/// A small deterministic generator (a 64-bit LCG's high bits).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const CITIES: [&str; 4] = ["Oslo", "Rome", "Lima", "Pune"];
const TAGS: [&str; 3] = ["a", "b", "c"];

fn person(r: &mut Rng) -> Person {
    let tags = (0..r.below(3)).map(|_| TAGS[r.below(3) as usize].to_string()).collect();
    Person {
        id: r.below(40),
        email: format!("p{}@x", r.below(30)),
        city: CITIES[r.below(4) as usize].into(),
        age: (r.below(4) > 0).then(|| 18 + r.below(50) as u32),
        tags,
    }
}

/// One step: a write transaction of a few operations, or a read of many answers. Returns what
/// it saw, as text.
fn step(store: &Store, r: &mut Rng) -> String {
    let mut log = String::new();
    let op = r.below(14);
    let rolled_back = r.below(10) == 0;
    let written = store.write(|tx| {
        for _ in 0..1 + r.below(4) {
            let mut p = person(r);
            let e = Event { person: r.below(10), at: r.below(20) as i64 - 5, kind: TAGS[r.below(3) as usize].into() };
            let out = match op {
                0..=3 => format!("{:?}", tx.insert(&mut p)),
                4 => format!("{:?}", tx.upsert(&Person { id: 1 + p.id, ..p })),
                5 => format!("{:?}", tx.update(&Person { id: 1 + p.id, ..p })),
                6 => format!("{:?}", tx.remove::<Person>(p.id)),
                7 => format!("{:?}", tx.modify::<Person, _>(p.id, |q| q.city = p.city.clone())),
                8 => format!("{:?} {:?}", tx.upsert(&e), tx.insert(&mut e.clone())),
                9 => format!("{:?}", tx.remove_prefix::<Event>((e.person,))),
                10 => format!("{:?}", tx.remove_range::<Person>(p.id..p.id + 3)),
                11 => format!("{:?}", tx.retain::<Person>(|q| q.age != Some(30))),
                12 if r.below(4) == 0 => format!("{:?}", tx.clear::<Event>()),
                _ => format!("{:?}", tx.insert(&mut p)),
            };
            log.push_str(&out);
            log.push('\n');
        }
        if rolled_back {
            return Err(crate::Error::user(std::io::Error::other("roll back")));
        }
        Ok(())
    });
    log.push_str(&format!("{written:?}\n"));
    let read = store.read(|tx| {
        let (a, b) = (r.below(45), r.below(45));
        let city = CITIES[r.below(4) as usize];
        let answers = [
            format!("{:?}", tx.get::<Person>(a)?),
            format!("{:?}", tx.contains::<Person>(b)?),
            format!("{:?}", tx.scan::<Person>().to_vec()),
            format!("{:?}", tx.range::<Person>(a.min(b)..a.max(b)).rev().limit(3).to_vec()),
            format!("{:?}", tx.range::<Person>(..).after(a).keys().collect::<Vec<_>>()),
            format!("{:?}", tx.prefix::<Event>((a % 10,)).rev().to_vec()),
            format!("{:?}", tx.range::<Event>((2,)..=(7,)).count()),
            format!("{:?}", tx.index(Person::email).get(format!("p{}@x", a % 30))),
            format!("{:?}", tx.index(Person::city).equal(city).keys().collect::<Vec<_>>()),
            format!("{:?}", tx.index(Person::age).range(20..40 + b as u32).rev().to_vec()),
            format!("{:?}", tx.index(Person::tags).equal("b").count()),
            format!("{:?}", tx.index(Event::by_kind_at).prefix(("a".to_string(),)).limit(4).to_vec()),
            format!(
                "{:?}",
                tx.find(and([Person::city.eq(city), or([Person::age.range(30..), Person::tags.eq("a")])])).to_vec()
            ),
            format!("{:?}", tx.find(Person::city.eq(city) | Person::tags.eq("c")).rev().limit(5).to_vec()),
            format!("{:?}", tx.find(Person::age.range(20..60)).sort_budget(2).keys().collect::<Vec<_>>()),
            format!("{:?} {:?}", tx.count::<Person>()?, tx.count::<Event>()?),
            format!("{:?} {:?}", tx.sequence::<Person>()?, tx.sequence::<Event>()?),
            format!("{:?} {:?}", tx.verify::<Person>()?, tx.verify::<Event>()?),
        ];
        Ok(answers.join("\n"))
    });
    log.push_str(&format!("{read:?}\n"));
    log
}

#[test]
fn the_store_answers_the_same_on_the_engine_and_on_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Store::open_with(dir.path().join("d.db"), crate::Options::default().no_sync(true)).unwrap();
    let map = Store::in_map();
    let (we, wm) = (engine.watch::<Person>(10_000), map.watch::<Person>(10_000));
    for seed in [1u64, 7, 42] {
        let (mut re, mut rm) = (Rng(seed), Rng(seed));
        for n in 0..150 {
            let (a, b) = (step(&engine, &mut re), step(&map, &mut rm));
            assert_eq!(a, b, "seed {seed}, step {n}");
        }
    }
    let changes =
        |w: &crate::watch::Watch<Person>| std::iter::from_fn(|| w.try_recv()).collect::<Vec<Change<Person>>>();
    let (ce, cm) = (changes(&we), changes(&wm));
    assert!(ce.len() > 100, "the workload changes records: {}", ce.len());
    assert_eq!(ce, cm);
}
