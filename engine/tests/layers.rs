//! The engine's layers import downward only, and its files never import each other in a circle.
//!
//! The layers, lowest first: the base (`error.rs`, `limits.rs`, `options.rs`, `corruption.rs`),
//! `format/`, `io/`, `tree/`, `commit/`, `journal/`, `db/` (see `src/lib.rs` and
//! `docs/design.md`). A file's layer is its top directory under `src/`; a file directly in `src/`
//! is in the base. This test reads the sources, finds every `crate::` path and `super::` path
//! outside comments and unit-test modules, and fails on a path into a higher layer or on a cycle
//! among files. Names the crate root re-exports (`crate::DB`) are followed to the file that
//! defines them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[&str] = &["base", "format", "io", "tree", "commit", "journal", "db"];

/// The module path of a source file: `src/tree/check.rs` is `tree::check`, `src/error.rs` is
/// `error`, `src/tree/mod.rs` is `tree`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| *p != "mod").collect();
    parts.join("::")
}

fn layer_of(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or("");
    LAYERS.iter().position(|l| *l == top).unwrap_or(0)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)]` modules.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i64> = None;
    let mut depth = 0i64;
    let mut pending_test = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        let line = line.split(" // ").next().unwrap_or(line);
        if t.starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = line.matches('{').count() as i64;
        let closes = line.matches('}').count() as i64;
        if pending_test && skip_depth.is_none() {
            pending_test = false;
            if opens > closes {
                skip_depth = Some(depth);
            } else {
                // A one-line item under `#[cfg(test)]`.
                depth += opens - closes;
                continue;
            }
        }
        depth += opens - closes;
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Where the crate root's `pub use` lines send a name: `DB` -> `db::handle`.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else { continue };
        let rest = rest.trim_end_matches(';');
        let (path, names) = match rest.split_once("::{") {
            Some((p, n)) => (p.to_string(), n.trim_end_matches('}').split(',').map(|s| s.trim().to_string()).collect()),
            None => {
                let (p, n) = rest.rsplit_once("::").unwrap();
                (p.to_string(), vec![n.to_string()])
            }
        };
        for n in names.into_iter().filter(|n| !n.is_empty()) {
            map.insert(n, path.clone());
        }
    }
    map
}

/// The file modules a piece of code refers to through `crate::` and `super::` paths.
fn references(
    module: &str,
    code: &str,
    modules: &BTreeSet<String>,
    exports: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let parent: Vec<&str> = module.split("::").collect();
    let bytes = code.as_bytes();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent[..parent.len().saturating_sub(1)].to_vec())] {
        let mut from = 0;
        while let Some(i) = code[from..].find(prefix) {
            let start = from + i;
            from = start + prefix.len();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            // The path after the prefix; a `{a, b::c}` group names several.
            let rest = &code[from..];
            let end = rest
                .find(|c: char| {
                    !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{' || c == '}' || c == ',' || c == ' ')
                })
                .unwrap_or(rest.len());
            let path = &rest[..end];
            let (head, group) = match path.split_once('{') {
                Some((h, g)) => (h.trim_end_matches("::"), g.split('}').next().unwrap_or("")),
                None => (path.trim(), ""),
            };
            let heads: Vec<String> = if group.is_empty() {
                vec![head.split([' ', ',', '}']).next().unwrap_or("").to_string()]
            } else {
                group.split(',').map(|g| format!("{head}::{}", g.trim())).collect()
            };
            for h in heads {
                let mut segs: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                segs.extend(h.split("::").filter(|s| !s.is_empty()).map(str::to_string));
                if prefix == "crate::" && segs.len() == 1 {
                    if let Some(target) = exports.get(&segs[0]) {
                        out.insert(target.clone());
                    }
                    continue;
                }
                // The longest prefix of the path that names a file module.
                while !segs.is_empty() {
                    let m = segs.join("::");
                    if modules.contains(&m) {
                        if m != module {
                            out.insert(m);
                        }
                        break;
                    }
                    segs.pop();
                }
            }
        }
    }
    out
}

#[test]
fn layers_import_downward_and_files_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let modules: BTreeSet<String> = all.iter().map(|f| module_of(&src, f)).filter(|m| m != "lib").collect();
    let exports = root_exports(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for f in &all {
        let m = module_of(&src, f);
        if m == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let refs = references(&m, &code(&text), &modules, &exports);
        for r in &refs {
            if layer_of(r) > layer_of(&m) {
                upward.push(format!("{m} ({}) imports {r} ({})", LAYERS[layer_of(&m)], LAYERS[layer_of(r)]));
            }
        }
        // A layer's `mod.rs` only declares its files.
        let is_decl = f.file_name().is_some_and(|n| n == "mod.rs");
        graph.insert(m, if is_decl { BTreeSet::new() } else { refs });
    }
    assert!(upward.is_empty(), "imports into a higher layer:\n{}", upward.join("\n"));
    // Depth-first search for a cycle among files.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(1) => {
                let at = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle = path[at..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            Some(_) => return None,
            None => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, &graph, &mut state, &mut Vec::new()) {
            panic!("files import each other in a circle: {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_an_upward_import() {
    let modules: BTreeSet<String> =
        ["format::page", "db::tx", "tree::snapshot"].iter().map(|s| s.to_string()).collect();
    let exports = BTreeMap::from([("Tx".to_string(), "db::tx".to_string())]);
    let code = code("use crate::db::tx::Tx;\n// use crate::tree::snapshot;\n#[cfg(test)]\nmod tests {\n    use crate::tree::snapshot::X;\n}\nfn f() -> crate::Tx {}\n");
    let refs = references("format::page", &code, &modules, &exports);
    assert_eq!(refs, BTreeSet::from(["db::tx".to_string()]));
    let grouped = references("db::tx", "use crate::{format::page::A, tree::snapshot::B};", &modules, &exports);
    assert_eq!(grouped, BTreeSet::from(["format::page".to_string(), "tree::snapshot".to_string()]));
    let sup =
        references("tree::snapshot", "use super::cursor::C;", &BTreeSet::from(["tree::cursor".to_string()]), &exports);
    assert_eq!(sup, BTreeSet::from(["tree::cursor".to_string()]));
}
