//! Coverage counters, printed at the end of the model test, to see that the generated cases do
//! reach things.

use std::sync::atomic::{AtomicU64, Ordering};

pub static OPS: AtomicU64 = AtomicU64::new(0);
pub static OPS_ON_BUCKET: AtomicU64 = AtomicU64::new(0);
pub static EXPECTED_ERRORS: AtomicU64 = AtomicU64::new(0);
pub static COMMITS: AtomicU64 = AtomicU64::new(0);
pub static ROLLBACKS: AtomicU64 = AtomicU64::new(0);
pub static REOPENS: AtomicU64 = AtomicU64::new(0);
pub static MAX_PAGES: AtomicU64 = AtomicU64::new(0);
pub static MAX_KEYS: AtomicU64 = AtomicU64::new(0);
pub static MAX_DEPTH: AtomicU64 = AtomicU64::new(0);

pub fn add(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}
pub fn max(c: &AtomicU64, v: u64) {
    c.fetch_max(v, Ordering::Relaxed);
}
pub fn report() {
    let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
    eprintln!(
        "model coverage: {} ops ({} reached their bucket, {} expected errors), {} commits, \
         {} rollbacks, {} reopens; largest file {} pages, largest bucket {} keys, deepest \
         bucket {} levels",
        g(&OPS),
        g(&OPS_ON_BUCKET),
        g(&EXPECTED_ERRORS),
        g(&COMMITS),
        g(&ROLLBACKS),
        g(&REOPENS),
        g(&MAX_PAGES),
        g(&MAX_KEYS),
        g(&MAX_DEPTH)
    );
}
