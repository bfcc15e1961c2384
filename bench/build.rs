//! Records the versions of the peer crates (from the workspace's Cargo.lock) so that the
//! report can say which version of each ran.

use std::path::Path;

fn main() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    // (name, version) of every package in the lock file.
    let mut pkgs: Vec<(String, String)> = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("name = ") {
            name = Some(v.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                pkgs.push((n, v.trim_matches('"').to_string()));
            }
        }
    }
    let versions = |n: &str| -> Vec<String> { pkgs.iter().filter(|(p, _)| p == n).map(|(_, v)| v.clone()).collect() };
    let major = |v: &str| v.split('.').next().and_then(|m| m.parse::<u64>().ok()).unwrap_or(0);
    let newest = |n: &str| versions(n).into_iter().max_by_key(|v| major(v)).unwrap_or_else(|| "?".into());
    for (var, krate) in [
        ("HEED", "heed"),
        ("LMDB_MASTER_SYS", "lmdb-master-sys"),
        ("REDB", "redb"),
        ("JAMMDB", "jammdb"),
        ("SLED", "sled"),
        ("FJALL", "fjall"),
        ("NATIVE_DB", "native_db"),
    ] {
        println!("cargo:rustc-env=BENCH_VER_{var}={}", newest(krate));
    }
    // native_db 0.8 runs on redb 2.
    let redb2 = versions("redb").into_iter().find(|v| v.starts_with("2.")).unwrap_or_else(|| "?".into());
    println!("cargo:rustc-env=BENCH_VER_NATIVE_DB_REDB={redb2}");
}
