//! The bad-input corpus: every folder of `tests/bad_input/` is one case —
//! its files, an optional `migrate.toml` (default: one PostgreSQL database
//! at `${BAD_INPUT_URL}`), an optional `setup/` applied first, and a
//! `case.toml` saying the command, the exit code, the kind of error and
//! what the message must name. For each case, against a fresh database on
//! the real test PostgreSQL (and the real Elasticsearch and Neo4j, and a
//! Qdrant test server, for the cases that configure them): the exit code
//! and the error kind are exact, the message names the file or setting (and
//! line where there is one), every server's schema and history are the same
//! before and after, and no secret the case could see appears anywhere in
//! the output, nor in its trace log.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;
mod support;

use std::path::Path;

use elasticsearch::http::Method;
use serde::Deserialize;
use support::es_client::Es;
use support::{Project, TestDb, admin_password};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// `config`, `file`, `usage`, `connect`, `step` or `refused`.
    kind: String,
    exit: i32,
    contains: Vec<String>,
    #[serde(default)]
    args: Option<Vec<String>>,
    /// Comment lines to put before `migrations/V1__a.sql` (a huge file).
    #[serde(default)]
    huge_prefix_lines: Option<usize>,
    /// Text to append to `migrations/V1__a.sql` after the prefix.
    #[serde(default)]
    suffix: Option<String>,
}

const DEFAULT_CONFIG: &str = "[databases.app]\nkind = \"postgres\"\nurl = \"${BAD_INPUT_URL}\"\n\
                              migrations = \"migrations\"\nrollbacks = \"rollbacks\"\n";

/// Secrets the cases put in URLs and configs; none may ever be printed.
const PLANTED_SECRETS: &[&str] = &[
    "hunter2-es-secret",
    "es-key-secret",
    "qdrant-key-secret",
    "neo4j-secret-pw",
    "wrong-pw-secret",
];

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target, &[]);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// What the error's first line must look like for each kind.
fn kind_matches(kind: &str, stderr: &str) -> bool {
    match kind {
        "config" => stderr.starts_with("error: config: "),
        "file" => {
            stderr.starts_with("error: ")
                && !stderr.contains("cannot connect")
                && !stderr.contains("refused")
        }
        "usage" => stderr.starts_with("error: "),
        "connect" => stderr.contains(": cannot connect to "),
        "step" => stderr.contains(" failed (SQLSTATE "),
        "refused" => stderr.contains(": refused, nothing was changed:"),
        other => panic!("unknown kind {other}"),
    }
}

/// What the Elasticsearch, Neo4j and Qdrant servers hold: indices with their
/// mappings, aliases and templates; constraints, indexes and node labels
/// with counts; collections with their configs and aliases.
async fn other_servers(
    es: &Es,
    graph: &neo4rs::Graph,
    qdrant: &qdrant_server::TestQdrant,
) -> String {
    let mut out = Vec::new();
    for path in ["/_mapping", "/_alias", "/_index_template"] {
        out.push(format!(
            "es {path} {}",
            es.ok(Method::Get, path, None).await
        ));
    }
    for cypher in [
        "SHOW CONSTRAINTS YIELD name RETURN name AS x",
        "SHOW INDEXES YIELD name RETURN name AS x",
        "MATCH (n) WITH labels(n)[0] AS l, count(*) AS c RETURN l + ' ' + toString(c) AS x",
    ] {
        out.push(format!(
            "neo4j {:?}",
            support::neo4j_client::strings(graph, cypher).await
        ));
    }
    for name in qdrant.collection_names() {
        out.push(format!("qdrant {name} {:?}", qdrant.config(&name)));
    }
    out.push(format!("qdrant aliases {:?}", qdrant.aliases()));
    out.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_refused_by_name_and_changes_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 50, "the corpus has {} cases", dirs.len());
    let password = admin_password();
    let es = Es::new();
    // Start from an empty cluster: the cases expect no strata history there.
    es.reset().await;
    let graph = support::neo4j_client::graph().await;
    support::neo4j_client::reset(&graph).await;
    let qdrant = qdrant_server::TestQdrant::default();
    let qdrant_server = qdrant.clone().start().await;
    let es_url = support::es_client::server();
    let neo4j_url = support::neo4j_client::server().0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let case: Case =
            toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap()).unwrap();
        let db = TestDb::new("bad").await;
        let base = &db.url[..db.url.rfind('/').unwrap()];
        let unreachable = format!("postgres://strata:{password}@127.0.0.1:1/x");
        let wrong = db.url.replace(&password, "wrong-pw-secret");
        let missing = format!("{base}/no_such_database");
        let env = [
            ("BAD_INPUT_URL", db.url.as_str()),
            ("BAD_INPUT_UNREACHABLE_URL", unreachable.as_str()),
            ("BAD_INPUT_WRONG_PASSWORD_URL", wrong.as_str()),
            ("BAD_INPUT_MISSING_DB_URL", missing.as_str()),
            ("BAD_INPUT_ES_URL", es_url.as_str()),
            ("BAD_INPUT_NEO4J_URL", neo4j_url.as_str()),
            ("BAD_INPUT_QDRANT_URL", qdrant_server.url.as_str()),
        ];

        let p = Project::new();
        if dir.join("setup").is_dir() {
            copy_tree(&dir.join("setup"), p.path(), &[]);
            p.config(DEFAULT_CONFIG);
            p.migrate_raw(&["up"], &env).expect(0);
            std::fs::remove_dir_all(p.path().join("migrations")).unwrap();
            std::fs::create_dir_all(p.path().join("migrations")).unwrap();
        }
        copy_tree(dir, p.path(), &["case.toml", "setup"]);
        if !dir.join("migrate.toml").exists() {
            p.config(DEFAULT_CONFIG);
        }
        if let Some(lines) = case.huge_prefix_lines {
            let file = p.path().join("migrations/V1__a.sql");
            let mut text = String::with_capacity(lines * 24);
            for i in 1..=lines {
                text.push_str(&format!("-- padding line {i}\n"));
            }
            text.push_str(&std::fs::read_to_string(&file).unwrap());
            text.push_str(case.suffix.as_deref().unwrap_or(""));
            std::fs::write(&file, text).unwrap();
        }

        let before = db.schema_dump().await;
        let others_before = other_servers(&es, &graph, &qdrant).await;
        let args: Vec<&str> = match &case.args {
            Some(a) => a.iter().map(String::as_str).collect(),
            None => vec!["up"],
        };
        let run = p.migrate_raw(&args, &env);
        let all = run.all();
        assert_eq!(run.code, case.exit, "{name}: exit code\n{all}");
        assert!(
            kind_matches(&case.kind, &run.stderr),
            "{name}: not a {} error:\n{all}",
            case.kind
        );
        for needle in &case.contains {
            assert!(
                all.contains(needle),
                "{name}: the output lacks {needle:?}:\n{all}"
            );
        }
        assert_eq!(
            db.schema_dump().await,
            before,
            "{name}: the database changed"
        );
        assert_eq!(
            other_servers(&es, &graph, &qdrant).await,
            others_before,
            "{name}: another server changed"
        );
        // Again with every log line of strata and of its drivers, at trace level.
        let mut traced = env.to_vec();
        traced.push(("STRATA_LOG", "trace"));
        let logged = p.migrate_raw(&args, &traced);
        assert_eq!(
            logged.code,
            case.exit,
            "{name}: exit code with logging\n{}",
            logged.all()
        );
        for secret in PLANTED_SECRETS.iter().copied().chain([password.as_str()]) {
            for (what, out) in [("output", &all), ("trace log", &logged.all())] {
                assert!(
                    !out.contains(secret),
                    "{name}: a secret was printed in the {what}:\n{out}"
                );
            }
        }
    }
}
