//! The workload's data: the same bytes for every contender, from a fixed seed.
//!
//! Everything comes from SplitMix64 streams (trivial to re-create in Go: `bench/go/main.go`
//! does, and the driver compares a checksum of the bytes every worker generated):
//!
//! - stream `SEED`: for each key in generation order, 3 words (24 key bytes, little-endian),
//!   then 19 words (the first 150 bytes are the value);
//! - stream `SEED ^ 1`: the lookups, `word % n` (an index into the first `n` keys);
//! - stream `SEED ^ 2`: the scan starts, `word % (total - 9)` (a rank among all keys, sorted),
//!   so that every scan has 10 entries to return.
//!
//! Keys `0..n` are the bulk load, the next 1,000 the individual writes, the next 100,000 the
//! batch writes; removals take keys `0..n/2`.

/// Key length in bytes.
pub const KEY_LEN: usize = 24;
/// Value length in bytes.
pub const VALUE_LEN: usize = 150;
/// The workload's seed ("RIVET" in ASCII).
pub const SEED: u64 = 0x52_49_56_45_54;
/// Inserts of the individual-writes phase (one durable commit each).
pub const INDIVIDUAL_WRITES: usize = 1_000;
/// Transactions of the batch-writes phase.
pub const BATCHES: usize = 100;
/// Inserts per transaction of the batch-writes phase.
pub const BATCH_SIZE: usize = 1_000;
/// Lookups of the random-reads phases.
pub const LOOKUPS: usize = 1_000_000;
/// Scans of the range-scans phase.
pub const SCANS: usize = 100_000;
/// Entries per scan.
pub const SCAN_LEN: usize = 10;

/// A SplitMix64 generator (Steele, Lea and Flood), the same in Go.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next word.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
}

/// SplitMix64's finaliser: a bijection on `u64` (so distinct inputs give distinct outputs).
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One key.
pub type Key = [u8; KEY_LEN];
/// One value.
pub type Value = [u8; VALUE_LEN];

/// The generated workload for `n` keys.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Keys loaded by the bulk load.
    pub n: usize,
    /// All keys, in generation order (`n + 1,000 + 100,000` of them).
    pub keys: Vec<Key>,
    /// All values, in the same order.
    pub values: Vec<Value>,
}

impl Workload {
    /// Generates the keys and values for `n` bulk-loaded keys (and the later writes).
    pub fn new(n: usize) -> Self {
        let total = n + INDIVIDUAL_WRITES + BATCHES * BATCH_SIZE;
        let mut rng = SplitMix64::new(SEED);
        let mut keys = Vec::with_capacity(total);
        let mut values = Vec::with_capacity(total);
        for _ in 0..total {
            let mut k = [0u8; KEY_LEN];
            for c in k.chunks_mut(8) {
                c.copy_from_slice(&rng.next().to_le_bytes());
            }
            let mut v = [0u8; VALUE_LEN + 2];
            for c in v.chunks_mut(8) {
                c.copy_from_slice(&rng.next().to_le_bytes());
            }
            keys.push(k);
            let mut value = [0u8; VALUE_LEN];
            value.copy_from_slice(&v[..VALUE_LEN]);
            values.push(value);
        }
        Workload { n, keys, values }
    }

    /// How many keys the database holds after the write phases.
    pub fn total(&self) -> usize {
        self.keys.len()
    }

    /// Index range of the bulk load.
    pub fn bulk(&self) -> std::ops::Range<usize> {
        0..self.n
    }

    /// Index range of the individual writes.
    pub fn individual(&self) -> std::ops::Range<usize> {
        self.n..self.n + INDIVIDUAL_WRITES
    }

    /// Index range of batch `b` of the batch writes.
    pub fn batch(&self, b: usize) -> std::ops::Range<usize> {
        let start = self.n + INDIVIDUAL_WRITES + b * BATCH_SIZE;
        start..start + BATCH_SIZE
    }

    /// Index range of the removals.
    pub fn removals(&self) -> std::ops::Range<usize> {
        0..self.n / 2
    }

    /// The lookups: indexes into the first `n` keys.
    pub fn lookups(&self) -> Vec<u32> {
        let mut rng = SplitMix64::new(SEED ^ 1);
        (0..LOOKUPS).map(|_| (rng.next() % self.n as u64) as u32).collect()
    }

    /// The scan starts: indexes (into `keys`) of keys with at least 9 larger keys.
    pub fn scan_starts(&self) -> Vec<u32> {
        let mut sorted: Vec<u32> = (0..self.total() as u32).collect();
        sorted.sort_unstable_by(|&a, &b| self.keys[a as usize].cmp(&self.keys[b as usize]));
        let mut rng = SplitMix64::new(SEED ^ 2);
        let span = (self.total() - (SCAN_LEN - 1)) as u64;
        (0..SCANS).map(|_| sorted[(rng.next() % span) as usize]).collect()
    }

    /// Whether every key is distinct (192 random bits each: a duplicate means a broken generator).
    pub fn keys_distinct(&self) -> bool {
        let mut k: Vec<&Key> = self.keys.iter().collect();
        k.sort_unstable();
        k.windows(2).all(|w| w[0] != w[1])
    }

    /// FNV-1a over every key and value, for comparing the bytes two generators made.
    pub fn checksum(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (k, v) in self.keys.iter().zip(&self.values) {
            for &b in k.iter().chain(v.iter()) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01B3);
            }
        }
        h
    }
}

/// Parses a count such as `200000`, `200k`, `1m` or `1_000_000`.
pub fn parse_count(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase().replace('_', "");
    let (digits, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1_000),
        'm' => (&s[..s.len() - 1], 1_000_000),
        _ => (&s[..], 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference() {
        // First outputs of SplitMix64 seeded with 0 (the published reference values).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("1m"), Some(1_000_000));
        assert_eq!(parse_count("200k"), Some(200_000));
        assert_eq!(parse_count("1_000"), Some(1000));
        assert_eq!(parse_count("x"), None);
    }

    #[test]
    fn workload_shape() {
        let w = Workload::new(1000);
        assert_eq!(w.total(), 1000 + 1000 + 100_000);
        assert!(w.keys_distinct());
        assert!(w.lookups().iter().all(|&i| (i as usize) < 1000));
    }
}
