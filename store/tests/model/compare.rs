// Comparing the store with the model (included by `body.rs`).

// ------------------------------------------------------------------------------------------
// Comparing the store with the model
// ------------------------------------------------------------------------------------------

fn check<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: store {got:?}, model {want:?}"))
    }
}

fn ids<'a>(people: impl IntoIterator<Item = &'a Person>) -> Vec<u64> {
    people.into_iter().map(|p| p.id).collect()
}

fn all<T, I: Iterator<Item = Result<T, Error>>>(it: I) -> Result<Vec<T>, String> {
    it.collect::<Result<Vec<T>, Error>>().map_err(|e| e.to_string())
}

fn compare(tx: &ReadTx<'_>, m: &Model) -> Result<(), String> {
    let e = |e: Error| e.to_string();
    let people: Vec<&Person> = m.people.values().collect();

    // Primary key: scan, count, get, ranges, reverse, pagination, sequence.
    check("scan", all(tx.scan::<Person>())?, people.iter().map(|p| (*p).clone()).collect())?;
    check("count", tx.count::<Person>().map_err(e)?, m.people.len())?;
    check("sequence", tx.sequence::<Person>().map_err(e)?, m.seq)?;
    for id in 0..15u64 {
        check(&format!("get {id}"), tx.get::<Person>(id).map_err(e)?, m.people.get(&id).cloned())?;
    }
    for (lo, hi) in [(0u64, 5u64), (3, 9), (7, 20), (5, 5)] {
        let want: Vec<u64> = m.people.range(lo..hi).map(|(k, _)| *k).collect();
        check(&format!("range {lo}..{hi}"), all(tx.range::<Person>(lo..hi).keys())?, want.clone())?;
        let rev: Vec<u64> = want.iter().rev().copied().collect();
        check(&format!("range {lo}..{hi} rev"), all(tx.range::<Person>(lo..hi).rev().keys())?, rev)?;
        let incl: Vec<u64> = m.people.range(lo..=hi).map(|(k, _)| *k).collect();
        let incl_rev: Vec<u64> = incl.iter().rev().copied().collect();
        check(&format!("range {lo}..={hi}"), all(tx.range::<Person>(lo..=hi).keys())?, incl)?;
        check(&format!("range {lo}..={hi} rev"), all(tx.range::<Person>(lo..=hi).rev().keys())?, incl_rev)?;
        let tail: Vec<u64> = m.people.range(lo..hi).map(|(k, _)| *k).filter(|k| *k > lo + 1).collect();
        check(
            &format!("range {lo}..{hi} after {}", lo + 1),
            all(tx.range::<Person>(lo..hi).after(lo + 1).keys())?,
            tail,
        )?;
    }
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let q = tx.scan::<Person>().rev().limit(3);
        let page = all(match after {
            Some(k) => q.after(k).keys(),
            None => q.keys(),
        })?;
        if page.is_empty() {
            break;
        }
        after = page.last().copied();
        paged.extend(page);
    }
    check("pages (reversed)", paged, m.people.keys().rev().copied().collect())?;

    // Unique index `email`.
    for i in 0..EMAILS {
        let email = format!("e{i}");
        let want = m.people.values().find(|p| p.email == email).map(|p| p.id);
        check(&format!("email {email}"), tx.index(Person::email).get(&email).map_err(e)?.map(|p| p.id), want)?;
    }
    let mut by_email = people.clone();
    by_email.sort_by(|a, b| a.email.cmp(&b.email));
    check("email scan", all(tx.index(Person::email).scan().keys())?, ids(by_email.iter().copied()))?;
    let want: Vec<u64> = ids(by_email.iter().copied().filter(|p| p.email.as_str() >= "e13" && p.email.as_str() < "e7"));
    check("email range", all(tx.index(Person::email).range("e13".."e7").keys())?, want)?;

    // Index `team`: equality, range, reversed, paginated.
    for t in 0..3u8 {
        let want = ids(people.iter().copied().filter(|p| p.team == t));
        check(&format!("team {t}"), all(tx.index(Person::team).equal(t).keys())?, want.clone())?;
        check(&format!("team {t} count"), tx.index(Person::team).equal(t).count().map_err(e)?, want.len())?;
    }
    let mut by_team = people.clone();
    by_team.sort_by_key(|p| (p.team, p.id));
    let want = ids(by_team.iter().copied().filter(|p| p.team >= 1));
    check("team 1..", all(tx.index(Person::team).range(1..).keys())?, want)?;
    check("team rev", all(tx.index(Person::team).scan().rev().keys())?, ids(by_team.iter().rev().copied()))?;
    let mut paged = Vec::new();
    let mut last: Option<Person> = None;
    loop {
        let q = tx.index(Person::team).scan().limit(2);
        let page = all(match &last {
            Some(p) => q.after(p),
            None => q,
        })?;
        if page.is_empty() {
            break;
        }
        last = page.last().cloned();
        paged.extend(page.iter().map(|p| p.id));
    }
    check("team pages", paged, ids(by_team.iter().copied()))?;

    // Sparse unique index `handle`.
    let mut by_handle: Vec<&Person> = people.iter().copied().filter(|p| p.handle.is_some()).collect();
    by_handle.sort_by(|a, b| a.handle.cmp(&b.handle));
    check("handle scan", all(tx.index(Person::handle).scan().keys())?, ids(by_handle.iter().copied()))?;
    for h in 0..HANDLES {
        let handle = format!("h{h}");
        let want = m.people.values().find(|p| p.handle.as_deref() == Some(handle.as_str())).map(|p| p.id);
        check(&format!("handle {handle}"), tx.index(Person::handle).get(&handle).map_err(e)?.map(|p| p.id), want)?;
    }

    // Composite index (team, score): order, and prefix by team.
    let mut by_ts = people.clone();
    by_ts.sort_by_key(|p| (p.team, p.score, p.id));
    check("team/score scan", all(tx.index(Person::by_team_score).scan().keys())?, ids(by_ts.iter().copied()))?;
    for t in 0..3u8 {
        let want = ids(by_ts.iter().copied().filter(|p| p.team == t));
        check(&format!("team/score prefix {t}"), all(tx.index(Person::by_team_score).prefix((t,)).keys())?, want)?;
        let want = ids(by_ts.iter().copied().filter(|p| p.team == t && p.score >= 0));
        let got = all(tx.index(Person::by_team_score).range((t, 0)..=(t, i32::MAX)).keys())?;
        check(&format!("team/score {t} non-negative"), got, want)?;
    }

    // Events: composite primary key, prefixes, and an index.
    let events: Vec<Event> = m.events.values().cloned().collect();
    check("events", all(tx.scan::<Event>())?, events.clone())?;
    for u in 0..4u32 {
        let want: Vec<Event> = events.iter().filter(|ev| ev.user == u).cloned().collect();
        check(&format!("events of {u}"), all(tx.prefix::<Event>((u,)))?, want.clone())?;
        let rev: Vec<Event> = want.iter().rev().cloned().collect();
        check(&format!("events of {u} rev"), all(tx.prefix::<Event>((u,)).rev())?, rev)?;
        let want: Vec<(u32, i16)> =
            events.iter().filter(|ev| ev.user == u && ev.at >= 0).map(|ev| (ev.user, ev.at)).collect();
        check(&format!("events of {u} at >= 0"), all(tx.range::<Event>((u, 0)..=(u, i16::MAX)).keys())?, want)?;
    }
    check(
        "events 1..3",
        tx.range::<Event>((1,)..(3,)).count().map_err(e)?,
        events.iter().filter(|ev| (1..3).contains(&ev.user)).count(),
    )?;
    for k in 0..3u8 {
        let kind = format!("k{k}");
        let want: Vec<(u32, i16)> = events.iter().filter(|ev| ev.kind == kind).map(|ev| (ev.user, ev.at)).collect();
        check(&format!("events kind {kind}"), all(tx.index(Event::kind).equal(&kind).keys())?, want)?;
    }

    // The raw index buckets hold exactly the entries the model's records imply.
    raw_indexes(tx, m)?;
    check("verify people", tx.verify::<Person>().map_err(e)?, Vec::new())?;
    check("verify events", tx.verify::<Event>().map_err(e)?, Vec::new())?;
    Ok(())
}

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

fn entries(b: Bucket<'_>) -> Result<Entries, String> {
    let mut out = BTreeMap::new();
    for item in b.iter() {
        let (k, v) = item.map_err(|e| e.to_string())?;
        let v = v.ok_or_else(|| format!("nested bucket {k:02x?} inside an index"))?;
        out.insert(k.to_vec(), v.to_vec());
    }
    Ok(out)
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn raw_indexes(tx: &ReadTx<'_>, m: &Model) -> Result<(), String> {
    let engine = tx.engine();
    let Ok(people) = engine.bucket(b"people") else {
        return check("people bucket present", false, !(m.people.is_empty() && m.seq == 0));
    };
    // The catalog names the codec the values are in.
    let catalog = engine.bucket(CATALOG_BUCKET).map_err(|e| format!("catalog: {e}"))?;
    let entry = catalog.get(b"people").map_err(|e| e.to_string())?.ok_or("no catalog entry for people")?;
    let codec = Entry::parse(entry).map_err(|e| e.to_string())?.codec;
    check("catalog codec", codec.as_str(), <RecordCodec as rivet::Codec>::NAME)?;
    let idx = |name: &str| -> Result<Entries, String> {
        let b = people.bucket(format!("index:{name}").as_bytes()).map_err(|e| format!("index {name}: {e}"))?;
        entries(b)
    };
    let mut email = Entries::new();
    let mut team = Entries::new();
    let mut handle = Entries::new();
    let mut ts = Entries::new();
    let mut records = Entries::new();
    for p in m.people.values() {
        let pk = encode(&p.id);
        // The layout's number (1: the type never changed), then the value in the type's codec.
        let mut value = vec![1u8];
        value.extend(<RecordCodec as rivet::Codec>::encode(p)?);
        records.insert(pk.clone(), value);
        email.insert(encode(&p.email), pk.clone());
        team.insert(cat(&[encode(&p.team), pk.clone()]), Vec::new());
        if let Some(h) = &p.handle {
            handle.insert(encode(h), pk.clone());
        }
        ts.insert(cat(&[encode(&(p.team, p.score)), pk.clone()]), Vec::new());
    }
    check("raw index:email", idx("email")?, email)?;
    check("raw index:team", idx("team")?, team)?;
    check("raw index:handle", idx("handle")?, handle)?;
    check("raw index:by_team_score", idx("by_team_score")?, ts)?;
    let mut stored = Entries::new();
    for item in people.iter() {
        let (k, v) = item.map_err(|e| e.to_string())?;
        if let Some(v) = v {
            stored.insert(k.to_vec(), v.to_vec());
        }
    }
    check("raw records", stored, records)?;
    check("raw sequence", people.sequence(), m.seq)?;
    Ok(())
}
