//! Combined queries (`ReadTx::find`): each operator, the walk options, the plans `explain`
//! reports, and the errors (an unbuilt index, a stale entry, damaged values).

use std::ops::Bound;

use rivet::query::{and, or};
use rivet::{Condition, Error, Options, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "people", index(name = "by_city_age", fields(city, age)))]
struct Person {
    #[key]
    id: u32,
    #[index]
    city: String,
    #[index]
    age: u8,
    #[index(unique)]
    email: String,
    /// Sparse: `None` has no entry.
    #[index]
    team: Option<u8>,
    name: String,
}

/// Events keyed by (user, at), for primary-key prefixes.
#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Visit {
    #[key]
    user: u32,
    #[key]
    at: i32,
    #[index]
    page: String,
}

const CITIES: [&str; 4] = ["Oslo", "Bergen", "Rome", "Lima"];
const NAMES: [&str; 6] = ["Ada", "Adam", "Bo", "Cy", "Adele", "Di"];

fn person(id: u32) -> Person {
    Person {
        id,
        city: CITIES[(id % 4) as usize].into(),
        age: (20 + id % 7) as u8,
        email: format!("p{id}@example.com"),
        team: if id.is_multiple_of(3) { None } else { Some((id % 5) as u8) },
        name: NAMES[(id % 6) as usize].into(),
    }
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open_with(dir.path().join("query.db"), Options::default().no_sync(true)).unwrap()
}

/// A store with people 1..=n.
fn people(dir: &tempfile::TempDir, n: u32) -> Store {
    let store = open(dir);
    store
        .write(|tx| {
            for id in 1..=n {
                tx.upsert(&person(id))?;
            }
            Ok(())
        })
        .unwrap();
    store
}

/// The ids of people 1..=n for which `f` holds, ascending.
fn expect(n: u32, f: impl Fn(&Person) -> bool) -> Vec<u32> {
    (1..=n).map(person).filter(|p| f(p)).map(|p| p.id).collect()
}

fn ids(store: &Store, c: Condition<Person>) -> Vec<u32> {
    store.read(|tx| tx.find(c).map(|p| p.map(|p| p.id)).collect()).unwrap()
}

fn keys(store: &Store, c: Condition<Person>) -> Vec<u32> {
    store.read(|tx| tx.find(c).keys().collect()).unwrap()
}

#[test]
fn each_leaf_selects_what_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let n = 200;
    let store = people(&dir, n);
    let cases: Vec<(Condition<Person>, Vec<u32>)> = vec![
        (Person::city.eq("Oslo"), expect(n, |p| p.city == "Oslo")),
        (Person::age.eq(22), expect(n, |p| p.age == 22)),
        (Person::email.eq("p17@example.com"), vec![17]),
        (Person::email.eq("nobody"), vec![]),
        (Person::age.range(21..23), expect(n, |p| (21..23).contains(&p.age))),
        (Person::age.range(..=21), expect(n, |p| p.age <= 21)),
        (Person::age.range((Bound::Excluded(24), Bound::Unbounded)), expect(n, |p| p.age > 24)),
        (Person::city.range("Bergen".."Oslo"), expect(n, |p| ("Bergen".."Oslo").contains(&p.city.as_str()))),
        (Person::email.range("p1".."p2"), expect(n, |p| p.email.as_str() >= "p1" && p.email.as_str() < "p2")),
        (Person::by_city_age.prefix(("Rome".to_string(),)), expect(n, |p| p.city == "Rome")),
        (Person::by_city_age.eq(("Lima".to_string(), 23u8)), expect(n, |p| p.city == "Lima" && p.age == 23)),
        (Person::team.eq(2), expect(n, |p| p.team == Some(2))),
        (Person::team.range(..3), expect(n, |p| p.team.is_some_and(|t| t < 3))),
        (Condition::key_range(10..20), (10..20).collect()),
        (Condition::key_range(..), (1..=n).collect()),
        (Condition::key_prefix(7u32), vec![7]),
    ];
    for (c, want) in cases {
        let text = c.to_string();
        assert_eq!(ids(&store, c.clone()), want, "{text}");
        assert_eq!(keys(&store, c.clone()), want, "{text} (keys)");
        assert_eq!(store.read(|tx| tx.find(c.clone()).count()).unwrap(), want.len(), "{text} (count)");
        // Every range read whole, or every range checked on each candidate: the same answer.
        let checked = store.read(|tx| tx.find(c.clone()).sort_budget(0).keys().collect::<Result<Vec<_>, _>>());
        assert_eq!(checked.unwrap(), want, "{text} (sort budget 0)");
    }
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "named")]
struct Named {
    #[key]
    id: u32,
    #[index]
    name: String,
}

#[test]
fn starts_with_is_a_text_prefix_and_prefix_a_whole_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let names = ["Ad", "Ada", "Adam", "Ad\0x", "Bo", "A", "Ae", ""];
    store
        .write(|tx| {
            for (i, name) in names.iter().enumerate() {
                tx.upsert(&Named { id: i as u32, name: name.to_string() })?;
            }
            Ok(())
        })
        .unwrap();
    let find = |c: Condition<Named>| store.read(|tx| tx.find(c).keys().collect::<Result<Vec<_>, _>>()).unwrap();
    assert_eq!(find(Named::name.starts_with("Ad")), [0, 1, 2, 3]);
    assert_eq!(find(Named::name.starts_with("Ad\0")), [3]);
    assert_eq!(find(Named::name.starts_with("")), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(find(Named::name.prefix("Ad")), [0], "a single-field prefix is the whole value");
    let checked = store
        .read(|tx| tx.find(Named::name.starts_with("Ad")).sort_budget(1).keys().collect::<Result<Vec<_>, _>>())
        .unwrap();
    assert_eq!(checked, [0, 1, 2, 3], "checked on decoded records, the same answer");
}

#[test]
fn and_or_and_nesting() {
    let dir = tempfile::tempdir().unwrap();
    let n = 300;
    let store = people(&dir, n);
    let oslo = || Person::city.eq("Oslo");
    let cases: Vec<(Condition<Person>, Vec<u32>)> = vec![
        (and([oslo(), Person::age.eq(22)]), expect(n, |p| p.city == "Oslo" && p.age == 22)),
        (
            oslo() & Person::age.eq(22) & Person::team.eq(1),
            expect(n, |p| p.city == "Oslo" && p.age == 22 && p.team == Some(1)),
        ),
        (or([oslo(), Person::age.eq(22)]), expect(n, |p| p.city == "Oslo" || p.age == 22)),
        (or([oslo(), oslo()]), expect(n, |p| p.city == "Oslo")),
        (
            and([oslo(), or([Person::age.eq(21), Person::age.eq(26)])]),
            expect(n, |p| p.city == "Oslo" && (p.age == 21 || p.age == 26)),
        ),
        (
            or([and([oslo(), Person::age.eq(21)]), and([Person::city.eq("Rome"), Person::team.eq(4)])]),
            expect(n, |p| (p.city == "Oslo" && p.age == 21) || (p.city == "Rome" && p.team == Some(4))),
        ),
        (oslo() & Person::email.eq("p8@example.com"), vec![8]),
        (oslo() & Person::email.eq("p9@example.com"), vec![]),
        (oslo() | Person::email.eq("p9@example.com"), expect(n, |p| p.city == "Oslo" || p.id == 9)),
        (
            and([Person::age.range(21..24), Person::team.range(2..)]),
            expect(n, |p| (21..24).contains(&p.age) && p.team.is_some_and(|t| t >= 2)),
        ),
        (or([Person::age.range(25..), oslo()]), expect(n, |p| p.age >= 25 || p.city == "Oslo")),
        (and([]), (1..=n).collect()),
        (or([]), vec![]),
        (and([or([]), oslo()]), vec![]),
        (or([and([]), oslo()]), (1..=n).collect()),
        (oslo() & Person::city.eq("Rome"), vec![]),
    ];
    for (c, want) in cases {
        let text = c.to_string();
        for budget in [0, 3, rivet::query::SORT_BUDGET] {
            let got = store.read(|tx| tx.find(c.clone()).sort_budget(budget).keys().collect::<Result<Vec<_>, _>>());
            assert_eq!(got.unwrap(), want, "{text} (budget {budget})");
        }
        assert_eq!(ids(&store, c.clone()), want, "{text}");
        let mut rev = want.clone();
        rev.reverse();
        let got: Vec<u32> = store.read(|tx| tx.find(c.clone()).rev().keys().collect()).unwrap();
        assert_eq!(got, rev, "{text} (rev)");
    }
}

#[test]
fn rev_limit_after_and_filter_compose() {
    let dir = tempfile::tempdir().unwrap();
    let n = 300;
    let store = people(&dir, n);
    let c = || or([Person::city.eq("Oslo"), Person::age.eq(22)]);
    let all = expect(n, |p| p.city == "Oslo" || p.age == 22);
    store
        .read(|tx| {
            // Pages of 7, forwards then backwards, with `after` the last key of each page.
            for reverse in [false, true] {
                let mut want = all.clone();
                if reverse {
                    want.reverse();
                }
                let mut got = Vec::new();
                let mut last = None;
                loop {
                    let mut q = tx.find(c()).limit(7);
                    if let Some(k) = last {
                        q = q.after(k);
                    }
                    if reverse {
                        q = q.rev();
                    }
                    let page: Vec<Person> = q.to_vec()?;
                    assert!(page.len() <= 7);
                    let Some(end) = page.last() else { break };
                    last = Some(end.id);
                    got.extend(page.iter().map(|p| p.id));
                }
                assert_eq!(got, want, "reverse {reverse}");
            }
            // after, then rev: the order of the calls does not matter.
            let a: Vec<u32> = tx.find(c()).after(150).rev().keys().collect::<Result<_, _>>()?;
            let b: Vec<u32> = tx.find(c()).rev().after(150).keys().collect::<Result<_, _>>()?;
            assert_eq!(a, b);
            assert_eq!(a, all.iter().rev().copied().filter(|id| *id < 150).collect::<Vec<_>>());
            // Filters see decoded records; several filters all apply; count and keys agree.
            let q = || tx.find(c()).filter(|p| p.name.starts_with("Ad")).filter(|p| p.id % 2 == 0);
            let want: Vec<u32> =
                expect(n, |p| (p.city == "Oslo" || p.age == 22) && p.name.starts_with("Ad") && p.id % 2 == 0);
            assert_eq!(q().keys().collect::<Result<Vec<_>, _>>()?, want);
            assert_eq!(q().count()?, want.len());
            assert_eq!(q().map(|p| p.map(|p| p.id)).collect::<Result<Vec<_>, _>>()?, want);
            assert_eq!(q().limit(3).count()?, 3);
            assert_eq!(
                q().rev().limit(2).keys().collect::<Result<Vec<_>, _>>()?,
                want[want.len() - 2..].iter().rev().copied().collect::<Vec<_>>()
            );
            assert_eq!(tx.find(c()).limit(0).count()?, 0);
            // The iterator is lazy: taking two results reads two.
            let first_two: Vec<u32> = tx.find(c()).take(2).map(|p| p.map(|p| p.id)).collect::<Result<_, _>>()?;
            assert_eq!(first_two, all[..2]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_primary_key_range_bounds_every_stream() {
    let dir = tempfile::tempdir().unwrap();
    let n = 400;
    let store = people(&dir, n);
    let c = and([Person::city.eq("Oslo"), Condition::key_range(100..=180), Person::age.eq(23)]);
    assert_eq!(ids(&store, c.clone()), expect(n, |p| p.city == "Oslo" && p.age == 23 && (100..=180).contains(&p.id)));
    let plan = store.read(|tx| tx.find(c).explain()).unwrap();
    assert!(plan.contains("bounded by key in 100..=180"), "{plan}");
    // Two key ranges in one AND intersect; an OR of key ranges is a union of walks.
    let both = and([Condition::key_range(10..50), Condition::key_range(40..), Person::age.range(..30)]);
    assert_eq!(ids(&store, both), (40..50).collect::<Vec<_>>());
    let either = or([Condition::key_range(..3), Condition::key_range(398..), Person::email.eq("p200@example.com")]);
    assert_eq!(ids(&store, either), [1, 2, 200, 398, 399, 400]);
    // Composite primary keys: a prefix bounds the index walk to one user's visits.
    let store = open(&tempfile::tempdir().unwrap());
    store
        .write(|tx| {
            for user in 1..=5u32 {
                for at in -10..10i32 {
                    tx.upsert(&Visit { user, at, page: ["home", "cart", "pay"][(at.rem_euclid(3)) as usize].into() })?;
                }
            }
            Ok(())
        })
        .unwrap();
    let visits: Vec<(u32, i32)> =
        store.read(|tx| tx.find(Visit::page.eq("pay") & Condition::key_prefix((3u32,))).keys().collect()).unwrap();
    let want: Vec<(u32, i32)> = (-10..10).filter(|at: &i32| at.rem_euclid(3) == 2).map(|at| (3, at)).collect();
    assert_eq!(visits, want);
    let late: Vec<(u32, i32)> = store
        .read(|tx| {
            tx.find(Visit::page.eq("home") & Condition::key_range((2u32, 5)..(3u32, i32::MIN))).rev().keys().collect()
        })
        .unwrap();
    assert_eq!(late, [(2, 9), (2, 6)]);
}

#[test]
fn explain_names_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let store = people(&dir, 100);
    let plan = |c: Condition<Person>, budget: usize| {
        store.read(|tx| tx.find(c).sort_budget(budget).filter(|_| true).rev().limit(3).explain()).unwrap()
    };
    let p = plan(and([Person::city.eq("Oslo"), Person::age.eq(22), Person::team.range(1..3)]), 1000);
    for needle in [
        "find Person where city = \"Oslo\" and age = 22 and team in 1..3",
        "order: primary key descending, at most 3",
        "intersection: leapfrog over 3 key-ordered streams",
        "entries of index city = \"Oslo\", in key order",
        "index team in 1..3: ",
        "keys sorted",
        "filter: 1 predicate(s)",
    ] {
        assert!(p.contains(needle), "{needle:?} not in\n{p}");
    }
    let p = plan(and([Person::city.eq("Oslo"), Person::team.range(1..3)]), 5);
    assert!(p.contains("then check each candidate"), "{p}");
    assert!(p.contains("index team in 1..3 (more than 5 entries to sort): decode the record"), "{p}");
    let p = plan(or([Person::city.eq("Oslo"), Person::email.eq("p3@example.com")]), 5);
    assert!(p.contains("union: k-way merge of 2 key-ordered streams"), "{p}");
    assert!(p.contains("probe unique index email = \"p3@example.com\": one lookup, 1 key"), "{p}");
    let p = plan(or([Person::city.eq("Oslo"), Person::age.range(..25)]), 5);
    assert!(p.contains("walk every record in key order"), "{p}");
    assert!(p.contains("any of:"), "{p}");
    assert!(p.contains("index city = \"Oslo\": look up the entry value ++ key"), "{p}");
    let p = store.read(|tx| tx.find(Person::city.eq("Oslo") & Person::age.eq(22)).explain()).unwrap();
    assert!(p.contains("decodes: the results only"), "{p}");
    // Debug shows the condition and the options.
    let d = store.read(|tx| Ok(format!("{:?}", tx.find(Person::age.eq(1)).after(5u32)))).unwrap();
    assert!(d.contains("Condition(age = 1)") && d.contains("after: Some(\"5\")"), "{d}");
}

#[test]
fn an_empty_store_and_a_write_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .read(|tx| {
            assert_eq!(tx.find(Person::city.eq("Oslo")).count()?, 0);
            assert!(tx.find(Person::city.eq("Oslo")).explain()?.contains("nothing to read"));
            Ok(())
        })
        .unwrap();
    store
        .write(|tx| {
            for id in 1..=40 {
                tx.upsert(&person(id))?;
            }
            // The transaction's own writes, through merged cursors.
            let got: Vec<u32> =
                tx.find(Person::city.eq("Oslo") & Person::age.eq(20)).keys().collect::<Result<_, _>>()?;
            assert_eq!(got, expect(40, |p| p.city == "Oslo" && p.age == 20));
            tx.remove::<Person>(got[0])?;
            let after: Vec<u32> =
                tx.find(Person::city.eq("Oslo") & Person::age.eq(20)).keys().collect::<Result<_, _>>()?;
            assert_eq!(after, got[1..]);
            Ok(())
        })
        .unwrap();
}

mod before {
    use super::*;

    /// `Person`'s bucket as an older program wrote it: the same fields, fewer indexes.
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "people")]
    pub struct Person {
        #[key]
        pub id: u32,
        #[index]
        pub city: String,
        pub age: u8,
        #[index(unique)]
        pub email: String,
        pub team: Option<u8>,
        pub name: String,
    }
}

#[test]
fn an_index_not_built_yet_is_an_error_until_a_write_builds_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .write(|tx| {
            for id in 1..=20 {
                let p = person(id);
                tx.upsert(&before::Person {
                    id,
                    city: p.city,
                    age: p.age,
                    email: p.email,
                    team: p.team,
                    name: p.name,
                })?;
            }
            Ok(())
        })
        .unwrap();
    store
        .read(|tx| {
            let mut q = tx.find(Person::city.eq("Oslo") & Person::age.eq(22));
            let e = q.next().unwrap().unwrap_err();
            assert!(matches!(&e, Error::IndexNotBuilt { index, .. } if index == "age"), "{e}");
            assert!(q.next().is_none(), "the error ends the iteration");
            let e = tx.find(Person::age.range(..30)).count().unwrap_err();
            assert!(matches!(e, Error::IndexNotBuilt { .. }), "{e}");
            let e = tx.find(or([Person::city.eq("Oslo"), Person::team.eq(1)])).explain().unwrap_err();
            assert!(matches!(e, Error::IndexNotBuilt { .. }), "{e}");
            // Conditions on built indexes only work.
            assert_eq!(tx.find(Person::city.eq("Oslo")).count()?, 5);
            Ok(())
        })
        .unwrap();
    store.write(|tx| tx.migrate::<Person>().map(drop)).unwrap();
    assert_eq!(
        ids(&store, Person::city.eq("Oslo") & Person::age.eq(22)),
        expect(20, |p| p.city == "Oslo" && p.age == 22)
    );
}

/// Overwrites the stored values of `ids` with bytes no codec reads.
fn damage(store: &Store, ids: impl IntoIterator<Item = u32>) {
    store
        .write(|tx| {
            let mut b = tx.engine_mut().bucket_mut(b"people")?;
            for id in ids {
                b.put(&rivet::key::encode(&id), &[0xFF, 0xFF, 0xFF, 0xFF])?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn records_outside_the_result_are_never_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let n = 400;
    let store = people(&dir, n);
    let c = || and([Person::city.eq("Oslo"), Person::age.eq(22)]);
    let want = expect(n, |p| p.city == "Oslo" && p.age == 22);
    assert!(want.len() > 5);
    // Damage every record outside the result, among them every record of either stream alone.
    damage(&store, (1..=n).filter(|id| !want.contains(id)));
    assert_eq!(ids(&store, c()), want, "the AND decoded only its results");
    assert_eq!(ids(&store, c() | Person::email.eq(format!("p{}@example.com", want[0]))), want);
    assert_eq!(ids(&store, or([c(), Person::age.eq(99)])), want);
    // A query whose results include damaged records fails on the first one.
    let e = store.read(|tx| tx.find(Person::city.eq("Oslo")).to_vec()).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e}");
    // Counting decodes nothing: it succeeds with every value damaged.
    damage(&store, 1..=n);
    let count = store.read(|tx| tx.find(c()).count()).unwrap();
    assert_eq!(count, want.len());
    let k: Vec<u32> = store.read(|tx| tx.find(c()).rev().keys().collect()).unwrap();
    assert_eq!(k, want.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(
        store.read(|tx| tx.find(or([c(), Person::email.eq("p1@example.com")])).count()).unwrap(),
        want.len() + 1
    );
    // Decoding the results fails now, once, and ends the walk.
    store
        .read(|tx| {
            let mut q = tx.find(c());
            let e = q.next().unwrap().unwrap_err();
            assert!(matches!(&e, Error::Decode { key, .. } if *key == want[0].to_string()), "{e}");
            assert!(q.next().is_none());
            // A filter needs the records: count fails too.
            assert!(matches!(tx.find(c()).filter(|_| true).count(), Err(Error::Decode { .. })));
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_stale_entry_naming_a_missing_record_is_inconsistent() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100;
    let store = people(&dir, n);
    let c = || and([Person::city.eq("Oslo"), Person::age.eq(22)]);
    let want = expect(n, |p| p.city == "Oslo" && p.age == 22);
    let gone = want[1];
    // Delete the record underneath the store: its index entries stay.
    store
        .write(|tx| {
            tx.engine_mut().bucket_mut(b"people")?.delete(&rivet::key::encode(&gone))?;
            Ok(())
        })
        .unwrap();
    store
        .read(|tx| {
            let mut q = tx.find(c());
            assert_eq!(q.next().unwrap()?.id, want[0]);
            let e = q.next().unwrap().unwrap_err();
            match &e {
                Error::Inconsistent { bucket, index, reason } => {
                    assert_eq!(bucket, "people");
                    assert_eq!(index, "city, age");
                    assert!(reason.contains(&format!("key {gone},")), "{reason}");
                }
                other => panic!("expected Inconsistent, got {other}"),
            }
            assert!(q.next().is_none(), "the error ends the iteration");
            // A unique probe naming a missing record is the same error.
            let e = tx.find(Person::email.eq(format!("p{gone}@example.com"))).to_vec().unwrap_err();
            assert!(matches!(e, Error::Inconsistent { .. }), "{e}");
            // Counting trusts the index, as IndexQuery::count does; verify finds the problem.
            assert_eq!(tx.find(c()).count()?, want.len());
            assert!(!tx.verify::<Person>()?.is_empty());
            Ok(())
        })
        .unwrap();
}
