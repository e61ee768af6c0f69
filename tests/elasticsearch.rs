//! The Elasticsearch backend against the real Elasticsearch that
//! `tests/support/test.sh` starts (Elastic's integ-test distribution, which
//! has no `reindex` module, so every reindex here takes the client-side
//! copy), and in the version matrix against OpenSearch with the modules
//! (the server's `_reindex`). The tests share one cluster: they take turns (a shared mutex) and
//! each starts from a cluster with no index and no template of ours.

mod support;

use std::process::Command;

use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use serde_json::{Value, json};
use support::Run;
use support::es_client::{fresh, migrate, project, server};

/// `migrate --database search` on the repository's demo.
fn demo(args: &[&str]) -> Run {
    Run::from(
        Command::new(support::migrate_bin())
            .args(["--database", "search"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("APP_DATABASE_URL", "postgres://unused@127.0.0.1:1/none")
            .env("GRAPH_DATABASE_URL", "bolt://127.0.0.1:1")
            .env("GRAPH_DATABASE_PASSWORD", "unused")
            .env("SEARCH_DATABASE_URL", server())
            .env("VECTORS_DATABASE_URL", "http://127.0.0.1:1")
            .output()
            .unwrap(),
    )
}

/// How many `_reindex` tasks the cluster has stored results of.
async fn reindex_tasks(es: &support::es_client::Es) -> usize {
    es.stored_tasks()
        .await
        .iter()
        .filter(|a| a.as_str() == "indices:data/write/reindex")
        .count()
}

#[tokio::test]
async fn demo_search_applies_reindexes_with_every_document_and_rolls_back() {
    let (_turn, es) = fresh().await;

    demo(&["up", "--to", "2"]).expect(0);
    assert_eq!(es.alias("messages").await, ["messages_v1"]);
    assert_eq!(es.alias("knowledge_nodes").await, ["knowledge_nodes_v1"]);
    assert_eq!(es.field("messages_v1", "tags").await["type"], "keyword");
    assert_eq!(
        es.field("research_sessions_v1", "source_count").await["type"],
        "integer"
    );
    assert_eq!(es.history().await, [(1, true), (2, true)]);

    // More documents than one batch (500), written through the alias.
    let mut bulk = String::new();
    for i in 0..1234 {
        bulk.push_str(&format!("{{\"index\":{{\"_id\":\"n{i}\"}}}}\n"));
        bulk.push_str(
            &json!({"node_id": format!("n{i}"), "user_id": format!("u{}", i % 7),
                    "type": "concept", "title": format!("The theory of item {i}"),
                    "tags": ["a", "b"], "created_at": "2026-11-01T00:00:00Z"})
            .to_string(),
        );
        bulk.push('\n');
    }
    let r =
        es.0.send(
            Method::Post,
            "/knowledge_nodes/_bulk",
            {
                let mut h = HeaderMap::new();
                h.insert("content-type", "application/x-ndjson".parse().unwrap());
                h
            },
            Option::<&()>::None,
            Some(bulk),
            None,
        )
        .await
        .unwrap();
    assert!(r.status_code().is_success());
    assert_eq!(es.count("knowledge_nodes").await, 1234);

    // The copy below is the server's `_reindex` on a distribution with the
    // reindex module (OpenSearch as the suite assembles it), strata's own
    // on one without (Elasticsearch's integ-test distribution).
    let server_copy = es.modules().await.iter().any(|m| m == "reindex");
    let reindexes_before = reindex_tasks(&es).await;

    demo(&["up"]).expect(0);
    assert_eq!(
        reindex_tasks(&es).await - reindexes_before,
        usize::from(server_copy)
    );
    assert_eq!(es.alias("knowledge_nodes").await, ["knowledge_nodes_v2"]);
    assert_eq!(es.count("knowledge_nodes_v2").await, 1234);
    assert_eq!(es.count("knowledge_nodes_v1").await, 1234);
    assert_eq!(
        es.field("knowledge_nodes_v2", "title").await["analyzer"],
        "node_text"
    );
    let doc = es
        .ok(Method::Get, "/knowledge_nodes_v2/_doc/n77", None)
        .await;
    assert_eq!(doc["_source"]["title"], "The theory of item 77");
    // The new analyzer drops English stop words: "the" and "of" match nothing.
    let hits = es
        .ok(
            Method::Post,
            "/knowledge_nodes/_count",
            Some(json!({"query": {"match": {"title": "the of"}}})),
        )
        .await;
    assert_eq!(hits["count"], 0);
    assert!(es.template_exists("research_sessions_archive").await);
    assert_eq!(
        es.history().await,
        [(1, true), (2, true), (3, true), (4, true)]
    );

    let status = demo(&["status"]);
    status.expect(0);
    assert!(status.stdout.contains("4 applied"), "{}", status.stdout);

    demo(&["down", "--to", "0"]).expect(0);
    for index in [
        "messages_v1",
        "research_sessions_v1",
        "knowledge_nodes_v1",
        "knowledge_nodes_v2",
    ] {
        assert!(!es.exists(index).await, "{index} survived the rollback");
    }
    assert!(!es.template_exists("research_sessions_archive").await);
    assert_eq!(es.history().await, []);

    // Everything rolled back applies again from scratch.
    demo(&["up"]).expect(0);
    assert_eq!(es.history().await.len(), 4);
}

#[tokio::test]
async fn search_plan_snapshot() {
    let (_turn, _es) = fresh().await;
    let text = demo(&["plan"]);
    text.expect(0);
    insta::assert_snapshot!("search_plan_text", text.stdout);
    let json = demo(&["plan", "--format", "json"]);
    json.expect(0);
    let value: Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_json_snapshot!("search_plan_json", value);
}

#[tokio::test]
async fn a_field_type_change_is_refused_before_anything_runs() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration(
        "V1__t.json",
        r#"[{"create_index": {"index": "t_v1", "mappings": {"properties": {"a": {"type": "keyword"}}}, "aliases": {"t": {}}}}]"#,
    );
    migrate(&p, &["up"]).expect(0);
    p.migration(
        "V2__extra.json",
        r#"[{"create_index": {"index": "t_extra"}}]"#,
    );
    p.migration(
        "V3__retype.json",
        r#"[{"put_mapping": {"index": "t", "properties": {"b": {"type": "long"}, "a": {"type": "text"}}}}]"#,
    );
    for command in ["plan", "up"] {
        let run = migrate(&p, &[command]);
        run.expect(2);
        assert!(run.stderr.contains("V3__retype.json"), "{}", run.stderr);
        assert!(
            run.stderr.contains(
                "$[0].put_mapping.properties.a: field \"a\" is keyword in index \"t_v1\""
            ),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("use reindex"), "{}", run.stderr);
    }
    // Nothing ran: not V2 before it, not field b beside it.
    assert!(!es.exists("t_extra").await);
    assert_eq!(es.field("t_v1", "b").await, Value::Null);
    assert_eq!(es.history().await, [(1, true)]);
}

#[tokio::test]
async fn bad_input_names_the_file_and_path_and_changes_nothing() {
    let (_turn, es) = fresh().await;
    let cases = [
        (
            "[{\"create_index\": {\"index\": \"x\"}},\n {\"delete_index\": {\"index\": \"x\"}\n]",
            "$[1]: expected value at line 3",
        ),
        (
            r#"[{"put_alias": {"index": "b_v1"}}]"#,
            "$[0].put_alias: missing field `alias`",
        ),
        (
            r#"[{"drop_index": {"index": "b_v1"}}]"#,
            "$[0]: unknown variant `drop_index`",
        ),
        (
            r#"[{"create_index": {"index": "b_v2", "mapping": {}}}]"#,
            "$[0].create_index.mapping: unknown field `mapping`",
        ),
        (
            r#"[{"put_mapping": {"index": "nowhere", "properties": {"x": {"type": "keyword"}}}}]"#,
            "$[0].put_mapping.index: index or alias \"nowhere\" does not exist",
        ),
        (
            r#"[{"create_index": {"index": "b_v2"}}, {"switch_alias": {"alias": "b", "to": "b_v3"}}]"#,
            "$[1].switch_alias.to: cannot switch alias \"b\" to it: index \"b_v3\" does not exist",
        ),
    ];
    for (text, expected) in cases {
        let p = project();
        p.migration("V1__base.json", r#"[{"create_index": {"index": "b_v1"}}]"#);
        p.migration("V2__bad.json", text);
        let run = migrate(&p, &["up"]);
        run.expect(2);
        assert!(run.stderr.contains("V2__bad.json"), "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
        // The valid V1 did not run either.
        assert!(!es.exists("b_v1").await);
        assert!(!es.exists("schema_migrations").await);
    }

    let p = project();
    p.migration("V1__base.json", r#"[{"create_index": {"index": "b_v1"}}]"#);
    let run = p.migrate_raw(
        &["up"],
        &[("ES_URL", "http://elastic:hunter2-secret@127.0.0.1:1")],
    );
    run.expect(1);
    // The cause, not only the request that failed.
    assert!(
        run.stderr.contains("cannot connect") && run.stderr.contains("Connection refused"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains("hunter2-secret"), "{}", run.all());
}

#[tokio::test]
async fn a_failing_operation_leaves_the_version_dirty_until_repair() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration(
        "V1__broken.json",
        r#"[{"create_index": {"index": "d_v1"}},
            {"put_mapping": {"index": "d_v1", "properties": {"x": {"type": "strnig"}}}}]"#,
    );
    let run = migrate(&p, &["up"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("V1__broken.json at $[1] (put_mapping d_v1 (+x))"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("mapper_parsing_exception"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("strnig"), "{}", run.stderr);
    // The first operation stays; the record says the version is unfinished.
    assert!(es.exists("d_v1").await);
    assert_eq!(es.history().await, [(1, false)]);
    let status = migrate(&p, &["status"]);
    assert!(status.stdout.contains("dirty"), "{}", status.stdout);

    let again = migrate(&p, &["up"]);
    again.expect(3);
    assert!(again.stderr.contains("dirty"), "{}", again.stderr);

    // The operator cleans up by hand, fixes the file and repairs.
    es.ok(Method::Delete, "/d_v1", None).await;
    p.migration(
        "V1__broken.json",
        r#"[{"create_index": {"index": "d_v1"}},
            {"put_mapping": {"index": "d_v1", "properties": {"x": {"type": "keyword"}}}}]"#,
    );
    migrate(&p, &["repair"]).expect(0);
    assert_eq!(es.history().await, []);
    migrate(&p, &["up"]).expect(0);
    assert_eq!(es.history().await, [(1, true)]);
    assert_eq!(es.field("d_v1", "x").await["type"], "keyword");
}

#[tokio::test]
async fn drift_is_refused() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration("V1__a.json", r#"[{"create_index": {"index": "a_v1"}}]"#);
    migrate(&p, &["up"]).expect(0);
    p.migration("V1__a.json", r#"[{"create_index": {"index": "a_v2"}}]"#);
    p.migration("V2__b.json", r#"[{"create_index": {"index": "b_v1"}}]"#);
    let run = migrate(&p, &["up"]);
    run.expect(3);
    assert!(run.stderr.contains("checksum"), "{}", run.stderr);
    assert!(!es.exists("b_v1").await);
    assert!(!es.exists("a_v2").await);
}

#[tokio::test]
async fn concurrent_runners_apply_every_version_exactly_once() {
    let (_turn, es) = fresh().await;
    let p = project();
    for v in 1..=4 {
        p.migration(
            &format!("V{v}__index_{v}.json"),
            &format!(r#"[{{"create_index": {{"index": "c_{v}"}}}}, {{"put_alias": {{"index": "c_{v}", "alias": "c_all"}}}}]"#),
        );
    }
    let children: Vec<_> = (0..6)
        .map(|_| {
            Command::new(support::migrate_bin())
                .arg("up")
                .current_dir(p.path())
                .env("ES_URL", server())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for child in children {
        // A second create of any index would fail its runner: every exit
        // code 0 means no version ran twice.
        let run = Run::from(child.wait_with_output().unwrap());
        run.expect(0);
        applied += run.stdout.matches("applied").count();
    }
    assert_eq!(
        applied, 4,
        "each version reported applied by exactly one runner"
    );
    assert_eq!(
        es.history().await,
        [(1, true), (2, true), (3, true), (4, true)]
    );
    assert_eq!(es.alias("c_all").await, ["c_1", "c_2", "c_3", "c_4"]);
    let (status, _) = es
        .call(Method::Get, "/schema_migrations_lock/_doc/lock", None)
        .await;
    assert_eq!(status, 404, "the lock was released");
}

#[tokio::test]
async fn a_stale_lock_is_reported_and_broken_only_by_unlock() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration("V1__a.json", r#"[{"create_index": {"index": "l_v1"}}]"#);
    es.ok(
        Method::Put,
        "/schema_migrations_lock",
        Some(json!({"mappings": {"properties": {"owner": {"type": "keyword"}}}})),
    )
    .await;
    let lock = |expires: &str| json!({"owner": "ghost-host pid 4242", "acquired_at": "2026-11-24T08:00:00.000Z", "expires_at": expires});
    es.ok(
        Method::Put,
        "/schema_migrations_lock/_doc/lock?refresh=true",
        Some(lock("2026-11-24T08:00:30.000Z")),
    )
    .await;

    // Waiters never take a lock over, even a stale one.
    let run = migrate(&p, &["--lock-timeout", "1", "up"]);
    run.expect(1);
    assert!(run.stderr.contains("ghost-host pid 4242"), "{}", run.stderr);
    assert!(run.stderr.contains("stale"), "{}", run.stderr);
    assert!(!es.exists("l_v1").await);

    let unlock = migrate(&p, &["unlock"]);
    unlock.expect(0);
    assert!(
        unlock
            .stdout
            .contains("removed the lock held by ghost-host"),
        "{}",
        unlock.stdout
    );
    migrate(&p, &["up"]).expect(0);
    assert!(es.exists("l_v1").await);

    // A live lease is refused unless forced.
    let live = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    es.ok(
        Method::Put,
        "/schema_migrations_lock/_doc/lock?refresh=true",
        Some(lock(&live)),
    )
    .await;
    let refused = migrate(&p, &["unlock"]);
    refused.expect(1);
    assert!(
        refused.stderr.contains("its owner is alive"),
        "{}",
        refused.stderr
    );
    migrate(&p, &["unlock", "--force"]).expect(0);
    let (status, _) = es
        .call(Method::Get, "/schema_migrations_lock/_doc/lock", None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_empty_rollback_reverts_a_mapping_change_by_doing_nothing() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration("V1__a.json", r#"[{"create_index": {"index": "a_v1"}}]"#);
    p.migration(
        "V2__title.json",
        r#"[{"put_mapping": {"index": "a_v1", "properties": {"title": {"type": "keyword"}}}}]"#,
    );
    // A mapping cannot lose a field: the rollback says so by doing nothing.
    p.rollback("U2__title.json", "[]\n");
    // In a migration, an empty list is still refused.
    p.migration("V3__nothing.json", "[]\n");
    let refused = migrate(&p, &["up"]);
    refused.expect(2);
    assert!(
        refused.stderr.contains("V3__nothing.json")
            && refused.stderr.contains("holds no operation"),
        "{}",
        refused.stderr
    );
    assert!(!es.exists("a_v1").await);
    p.remove_migration("V3__nothing.json");
    migrate(&p, &["up"]).expect(0);
    let plan = migrate(&p, &["down", "--dry-run"]);
    plan.expect(0);
    assert!(plan.stdout.contains("no-op rollback"), "{}", plan.stdout);
    migrate(&p, &["down"]).expect(0);
    assert_eq!(es.field("a_v1", "title").await["type"], "keyword");
    let status = migrate(&p, &["status"]);
    assert!(status.stdout.contains("pending"), "{}", status.stdout);
}

/// YAML operation files run like JSON ones (the same operations), their
/// mistakes are refused naming the file, the operation's path and line,
/// and their checksum is their own text's.
#[tokio::test]
async fn yaml_operation_files_apply_like_json_and_are_refused_by_line() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration(
        "V1__articles.yaml",
        "# articles, read through an alias\n\
         - create_index:\n    index: articles_v1\n    mappings:\n      properties:\n        \
         title: {type: text}\n    aliases:\n      articles: {}\n",
    );
    p.migration(
        "V2__tags.yml",
        "- put_mapping:\n    index: articles\n    properties:\n      tags: {type: keyword}\n",
    );
    p.migration(
        "V3__seed.json",
        r#"[{"index_documents": {"index": "articles", "documents": [{"title": "a", "tags": "x"}]}}]"#,
    );
    migrate(&p, &["up"]).expect(0);
    assert_eq!(es.field("articles_v1", "title").await["type"], "text");
    assert_eq!(es.field("articles_v1", "tags").await["type"], "keyword");
    assert_eq!(es.count("articles_v1").await, 1);
    let plan = migrate(&p, &["status"]);
    assert!(plan.stdout.contains("applied"), "{}", plan.stdout);

    p.migration(
        "V4__bad.yaml",
        "- put_mapping:\n    index: articles\n    properties: {}\n- delete_index:\n    indx: x\n",
    );
    let run = migrate(&p, &["up"]);
    run.expect(2);
    for needle in [
        "V4__bad.yaml",
        "$[1].delete_index",
        "unknown field `indx`",
        "line 4",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    std::fs::remove_file(p.path().join("migrations/V4__bad.yaml")).unwrap();
    // The YAML text is what is checksummed: a comment changed is a change.
    p.migration(
        "V1__articles.yaml",
        "# articles, read through the alias\n\
         - create_index:\n    index: articles_v1\n    mappings:\n      properties:\n        \
         title: {type: text}\n    aliases:\n      articles: {}\n",
    );
    migrate(&p, &["validate"]).expect(3);
}

/// The NDJSON file an `index_documents` names is part of its migration's
/// checksum; a version recorded before that (its checksum the file's
/// alone) is not drift, and the next `up` upgrades it, saying so, once.
#[tokio::test]
async fn data_files_are_checksummed_and_old_records_are_upgraded_once() {
    use sha2::Digest;
    let (_turn, es) = fresh().await;
    let p = project();
    let seed = p.path().join("migrations/seed.ndjson");
    std::fs::create_dir_all(seed.parent().unwrap()).unwrap();
    std::fs::write(&seed, "{\"title\": \"a\"}\n{\"title\": \"b\"}\n").unwrap();
    let text = r#"[{"create_index": {"index": "docs"}},
  {"index_documents": {"index": "docs", "file": "seed.ndjson"}}]"#;
    p.migration("V1__docs.json", text);
    migrate(&p, &["up"]).expect(0);
    assert_eq!(es.count("docs").await, 2);

    std::fs::write(&seed, "{\"title\": \"a\"}\n{\"title\": \"c\"}\n").unwrap();
    let run = migrate(&p, &["validate"]);
    run.expect(3);
    assert!(run.stderr.contains("V1__docs.json"), "{}", run.stderr);
    std::fs::write(&seed, "{\"title\": \"a\"}\n{\"title\": \"b\"}\n").unwrap();
    migrate(&p, &["validate"]).expect(0);

    // As recorded before data files were checksummed.
    let legacy: String = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    es.ok(
        Method::Post,
        "/schema_migrations/_update/1?refresh=true",
        Some(json!({"doc": {"checksum": legacy}})),
    )
    .await;
    let status = migrate(&p, &["status"]);
    assert!(
        status.stdout.contains("applied") && !status.stdout.contains("drifted"),
        "{}",
        status.stdout
    );
    let run = migrate(&p, &["up"]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("V1__docs.json: recorded checksum upgraded to cover the data files"),
        "{}",
        run.stdout
    );
    let recorded =
        es.ok(Method::Get, "/schema_migrations/_doc/1", None).await["_source"]["checksum"]
            .as_str()
            .unwrap()
            .to_string();
    assert_ne!(recorded, legacy);
    let again = migrate(&p, &["up"]);
    again.expect(0);
    assert!(!again.stdout.contains("upgraded"), "{}", again.stdout);
    // A data file that is not there is refused before anything runs.
    std::fs::remove_file(&seed).unwrap();
    let run = migrate(&p, &["status"]);
    run.expect(2);
    assert!(run.stderr.contains("seed.ndjson"), "{}", run.stderr);
}
