//! The book in `docs/src` (and the README) as a reader meets it: every
//! shell session of "Getting started" is run against the real servers,
//! with the files written as the chapter shows them, and its output
//! compared line by line; every internal link and anchor resolves; every
//! chapter is in the summary.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::TestDb;

fn book() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src")
}

/// A fenced block of a chapter: its info string and its lines.
struct Block {
    info: String,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for line in text.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    lines: Vec::new(),
                })
            }
            (Some(_), Some("")) => out.extend(open.take()),
            (Some(b), _) => b.lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    out
}

/// Whether `actual` is `expected`, where `[..]` stands for any text.
fn matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    let (first, rest) = parts.split_first().expect("split yields one part");
    let Some(mut left) = actual.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        if i == rest.len() - 1 {
            return left.len() >= part.len() && left.ends_with(part);
        }
        match left.find(part) {
            Some(at) => left = &left[at + part.len()..],
            None => return false,
        }
    }
    left.is_empty()
}

/// Runs one console block in `dir`: each `$ ` line through `sh -c`, its
/// stdout then stderr compared with the lines after it; a last line
/// `[exit N]` is the exit code expected (else 0).
fn run_session(block: &Block, dir: &Path, env: &[(&str, String)]) {
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    for line in &block.lines {
        match line.strip_prefix("$ ") {
            Some(cmd) => commands.push((cmd.to_string(), Vec::new())),
            None => commands
                .last_mut()
                .expect("a console block starts with a command")
                .1
                .push(line.clone()),
        }
    }
    let bin_dir = support::migrate_bin().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    for (cmd, mut expected) in commands {
        let code = match expected.last().and_then(|l| l.strip_prefix("[exit ")) {
            Some(n) => {
                let n = n.trim_end_matches(']').parse::<i32>().unwrap();
                expected.pop();
                n
            }
            None => 0,
        };
        let mut c = Command::new("sh");
        c.args(["-c", &cmd]).current_dir(dir).env("PATH", &path);
        for (k, v) in env {
            c.env(k, v);
        }
        let run = support::Run::from(c.output().unwrap());
        let actual: Vec<String> = format!("{}{}", run.stdout, run.stderr)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect();
        let same = actual.len() == expected.len()
            && expected
                .iter()
                .zip(&actual)
                .all(|(e, a)| matches(e.trim_end(), a));
        assert!(
            same && run.code == code,
            "$ {cmd}\nexpected (exit {code}):\n{}\ngot (exit {}):\n{}",
            expected.join("\n"),
            run.code,
            actual.join("\n")
        );
    }
}

#[tokio::test]
async fn the_getting_started_sessions_run_as_shown() {
    let db = TestDb::new("book").await;
    let es = support::es_client::server();
    // The chapter's Elasticsearch starts empty of what it creates: not
    // left from an earlier run (this binary's only test using it).
    let (status, body) = support::es_client::Es::new()
        .call(
            elasticsearch::http::Method::Delete,
            "/messages_v1,schema_migrations,schema_migrations_lock,schema_migrations_schema?ignore_unavailable=true",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", db.url.clone()), ("SEARCH_URL", es.clone())];
    let text = std::fs::read_to_string(book().join("getting-started.md")).unwrap();
    let mut sessions = 0;
    for block in blocks(&text) {
        let mut info = block.info.split(',');
        let lang = info.next().unwrap_or("");
        if let Some(file) = info.find_map(|i| i.strip_prefix("file=")) {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, block.lines.join("\n") + "\n").unwrap();
        } else if lang == "console" {
            run_session(&block, dir.path(), &env);
            sessions += 1;
        }
    }
    assert!(
        sessions >= 5,
        "the chapter's sessions were found ({sessions})"
    );
}

/// The `id`s mdBook gives a chapter's headings (lower case, spaces to
/// `-`, other punctuation dropped; a repeated one gets `-1`, `-2`, …).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        let Some(title) = line.trim_start_matches('#').strip_prefix(' ') else {
            continue;
        };
        if fenced || !line.starts_with('#') {
            continue;
        }
        let id: String = title
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c.to_ascii_lowercase()),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        let n = seen.entry(id.clone()).or_insert(0);
        out.insert(if *n == 0 {
            id.clone()
        } else {
            format!("{id}-{n}")
        });
        *n += 1;
    }
    out
}

/// Every `](target)` of a text outside code, with its line.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        // Inline code may show link syntax without being a link.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                out.push((n + 1, rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
    }
    out
}

/// The text of a chapter as mdBook renders it (`{{#include}}` resolved).
fn rendered(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        match line
            .strip_prefix("{{#include ")
            .and_then(|l| l.strip_suffix("}}"))
        {
            Some(spec) => {
                let (file, from) = match spec.split_once(':') {
                    Some((f, range)) => (f, range.trim_end_matches(':').parse::<usize>().unwrap()),
                    None => (spec, 1),
                };
                let included = std::fs::read_to_string(path.parent().unwrap().join(file)).unwrap();
                for l in included.lines().skip(from - 1) {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn chapters() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "md") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&book(), &mut out);
    out.sort();
    out
}

#[test]
fn every_chapter_is_in_the_summary_and_every_internal_link_resolves() {
    let root = book();
    let summary = std::fs::read_to_string(root.join("SUMMARY.md")).unwrap();
    let listed: BTreeSet<String> = links(&summary).into_iter().map(|(_, l)| l).collect();
    let mut problems = Vec::new();
    for chapter in chapters() {
        let name = chapter
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if name != "SUMMARY.md" && !listed.contains(&name) {
            problems.push(format!("{name}: not in SUMMARY.md"));
        }
    }
    let mut sources: Vec<PathBuf> = chapters();
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    sources.push(readme.clone());
    for source in &sources {
        let text = rendered(source);
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file_path = match file {
                "" => source.clone(),
                f => source.parent().unwrap().join(f),
            };
            let at = format!("{}:{line}: {target}", source.display());
            if !file_path.exists() {
                problems.push(format!("{at}: no such file"));
                continue;
            }
            if file_path.is_dir() {
                continue;
            }
            // From the README, the book is linked as files; only chapters
            // (and the README itself) are checked for anchors.
            let is_md = file_path.extension().is_some_and(|e| e == "md");
            if !anchor.is_empty() && is_md && !anchors(&rendered(&file_path)).contains(anchor) {
                problems.push(format!("{at}: no heading with that anchor"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every fenced block says what it is; Rust blocks are compiled (the
/// library and plans chapters are the crate's doc tests, never `ignore`);
/// TOML and JSON blocks are well-formed.
#[test]
fn every_code_block_is_compiled_checked_or_marked_as_output() {
    let mut problems = Vec::new();
    for chapter in chapters() {
        let name = chapter.strip_prefix(book()).unwrap().display().to_string();
        for block in blocks(&rendered(&chapter)) {
            let lang = block.info.split(',').next().unwrap_or("").to_string();
            let text = block.lines.join("\n");
            let at = format!("{name}: ```{}", block.info);
            match lang.as_str() {
                "" => problems.push(format!("{at}: no language (output is `text`)")),
                "rust" if block.info.contains("ignore") => {
                    problems.push(format!("{at}: not compiled"))
                }
                "toml" => {
                    if let Err(e) = text.parse::<toml::Table>() {
                        problems.push(format!("{at}: {e}"));
                    }
                }
                "json" if !text.contains('…') => {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
                        problems.push(format!("{at}: {e}"));
                    }
                }
                _ => {}
            }
        }
    }
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for chapter in ["library.md", "plans-in-ci.md"] {
        assert!(
            lib.contains(&format!("include_str!(\"../docs/src/{chapter}\")")),
            "{chapter}'s Rust blocks are doc tests"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
