//! The crate's dependencies point one way: from the front door down to the
//! vocabulary, never back. Each module has a layer; a module may use
//! modules of lower layers, and modules of its own layer only inside its
//! own subtree (a backend's files use each other). A new module must be
//! given a layer here, so where it sits is a decision, not an accident.
//!
//! Read from the source text: every `crate::…`, `super::…` and `self::…`
//! path outside comments and `#[cfg(test)]` modules counts as a use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Module path (as `a::b`, the crate root as `crate`) → layer.
const LAYERS: &[(&str, u32)] = &[
    // Vocabulary, in the order its words build on each other.
    ("drift", 0),
    ("finding", 0),
    ("history", 0),
    ("kind", 0),
    ("names", 0),
    ("problem", 0),
    ("secret", 0),
    ("split", 0),
    ("partition::calendar", 0),
    ("script", 1),
    ("step", 2),
    ("error", 3),
    // Settings.
    ("config", 4),
    // Inputs, checked before anything connects.
    ("catalog", 5),
    ("operations", 5),
    ("partition::policy", 5),
    ("embed", 6),
    ("lint", 5),
    // Pure decisions.
    ("partition::plan", 6),
    ("partition", 6),
    ("plan", 7),
    ("status", 7),
    ("events", 7),
    // Servers.
    ("backend", 8),
    ("telemetry", 8),
    ("engine", 9),
    ("scaffold", 9),
    ("groups", 9),
    ("import", 9),
    ("partition::postgres", 9),
    ("partition::health", 9),
    ("partition::survey", 9),
    ("partition::scheduler", 10),
    ("summary", 10),
    // The front door.
    ("migrator", 11),
    ("render", 11),
    ("crate", 12),
];

fn layer_of(module: &str) -> Option<(String, u32)> {
    // The longest listed prefix: `backend::postgres` is in `backend`.
    let mut parts: Vec<&str> = module.split("::").collect();
    while !parts.is_empty() {
        let candidate = parts.join("::");
        if let Some((_, l)) = LAYERS.iter().find(|(m, _)| *m == candidate) {
            return Some((candidate, *l));
        }
        parts.pop();
    }
    None
}

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; `src/lib.rs` → `crate`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] {
        return "crate".into();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments, string contents or test modules.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") || trimmed.starts_with("#[cfg(all(test") {
            break; // test modules come last and may use anything
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let mut in_string = false;
        let mut prev = ' ';
        for (i, c) in line.char_indices() {
            if !in_string && c == '/' && line[i..].starts_with("//") {
                break;
            }
            if c == '"' && prev != '\\' {
                in_string = !in_string;
            } else if !in_string {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Every module path a file's code names, resolved to an absolute path.
fn uses(module: &str, code: &str) -> Vec<String> {
    let parent = |m: &str| match m.rsplit_once("::") {
        Some((p, _)) => p.to_string(),
        None => "crate".to_string(),
    };
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for (start, prefix) in [("crate::", 0u8), ("super::", 1), ("self::", 2)]
        .iter()
        .flat_map(|(p, k)| code.match_indices(p).map(move |(i, _)| (i, (*p, *k))))
    {
        // Only whole words: `my_crate::` is not `crate::`.
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let rest = &code[start + prefix.0.len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let base = match prefix.1 {
            0 => String::new(),
            1 => {
                let p = parent(module);
                if p == "crate" { String::new() } else { p }
            }
            _ => {
                if module == "crate" {
                    String::new()
                } else {
                    module.to_string()
                }
            }
        };
        let path = path.trim_end_matches(':');
        let full = match (base.is_empty(), path.is_empty()) {
            (true, true) => "crate".to_string(),
            (true, false) => path.to_string(),
            (false, true) => base,
            (false, false) => format!("{base}::{path}"),
        };
        found.push((start, full));
    }
    found.sort();
    found.into_iter().map(|(_, f)| f).collect()
}

fn same_subtree(a: &str, b: &str) -> bool {
    let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
    top(a) == top(b)
}

#[test]
fn dependencies_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&src, &file);
        if module.starts_with("bin") {
            continue; // the binary uses the library by its public name
        }
        let Some((owner, own)) = layer_of(&module) else {
            problems.push(format!(
                "{}: module {module} has no layer in tests/layering.rs",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for used in uses(&module, &code(&text)) {
            let Some((target, theirs)) = layer_of(&used) else {
                continue; // a name inside a module, e.g. `crate::Error`
            };
            if target == owner || theirs < own || (theirs == own && same_subtree(&target, &owner)) {
                continue;
            }
            edges.entry(owner.clone()).or_default().push(target.clone());
            problems.push(format!(
                "{}: {owner} (layer {own}) uses {used} ({target}, layer {theirs})",
                file.display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "dependencies must point down:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checker_sees_uses_that_point_up() {
    // A sample with an upward use, one hidden in a comment and one in a
    // string, so a checker that sees nothing cannot pass.
    let sample = "use crate::backend::postgres::SqlFormat;\n\
                  // use crate::migrator::Migrator;\n\
                  let s = \"crate::engine\";\n\
                  fn f() { super::plan::plan(); }\n";
    let found = uses("status", &code(sample));
    assert_eq!(found, ["backend::postgres::SqlFormat", "plan::plan"]);
    let backend = layer_of("backend::postgres::SqlFormat").unwrap();
    assert_eq!(backend.0, "backend");
    assert!(layer_of("status").unwrap().1 < backend.1);
    assert_eq!(
        uses("backend::qdrant::state", "self::x; super::ops::Op"),
        ["backend::qdrant::state::x", "backend::qdrant::ops::Op"]
    );
}
