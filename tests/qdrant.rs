//! The Qdrant backend against the in-process gRPC test server in
//! `tests/support/qdrant_server.rs` (no registry this project reaches ships
//! a Qdrant server; see the README). Each test starts its own server, so
//! they run in parallel. The runtime is multi-threaded because the test
//! thread blocks on `migrate` processes while the server answers them.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;
mod support;

use std::collections::HashMap;
use std::process::Command;

use qdrant_client::qdrant as pb;
use qdrant_server::TestQdrant;
use support::{Project, Run};

fn project() -> Project {
    let p = Project::new();
    p.config(
        "[databases.vectors]\nkind = \"qdrant\"\nurl = \"${QDRANT_URL}\"\n\
         migrations = \"migrations\"\nrollbacks = \"rollbacks\"\n",
    );
    p
}

fn migrate(p: &Project, url: &str, args: &[&str]) -> Run {
    p.migrate_raw(args, &[("QDRANT_URL", url)])
}

/// `migrate --database vectors` on the repository's demo.
fn demo(url: &str, args: &[&str]) -> Run {
    Run::from(
        Command::new(support::migrate_bin())
            .args(["--database", "vectors"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("APP_DATABASE_URL", "postgres://unused@127.0.0.1:1/none")
            .env("GRAPH_DATABASE_URL", "bolt://127.0.0.1:1")
            .env("GRAPH_DATABASE_PASSWORD", "unused")
            .env("SEARCH_DATABASE_URL", "http://127.0.0.1:1")
            .env("VECTORS_DATABASE_URL", url)
            .output()
            .unwrap(),
    )
}

fn vector(q: &TestQdrant, collection: &str) -> (u64, i32) {
    let config = q.config(collection).unwrap();
    match config
        .params
        .unwrap()
        .vectors_config
        .unwrap()
        .config
        .unwrap()
    {
        pb::vectors_config::Config::Params(p) => (p.size, p.distance),
        other => panic!("{other:?}"),
    }
}

fn alias(q: &TestQdrant, name: &str) -> Option<String> {
    q.aliases().get(name).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_vectors_apply_switch_the_alias_and_roll_back() {
    let q = TestQdrant::default();
    let server = q.clone().start().await;

    demo(&server.url, &["up", "--to", "2"]).expect(0);
    assert_eq!(
        q.collection_names(),
        [
            "conversation_context",
            "documents_v1",
            "knowledge_nodes",
            "learning_content",
            "schema_migrations",
            "user_preferences"
        ]
    );
    assert_eq!(
        vector(&q, "documents_v1"),
        (1536, pb::Distance::Cosine as i32)
    );
    assert_eq!(
        vector(&q, "user_preferences"),
        (768, pb::Distance::Cosine as i32)
    );
    let hnsw = q.config("knowledge_nodes").unwrap().hnsw_config.unwrap();
    assert_eq!((hnsw.m, hnsw.ef_construct), (Some(16), Some(100)));
    assert_eq!(
        q.payload_indexes("learning_content"),
        ["difficulty", "timestamp", "type", "user_id"]
    );
    assert_eq!(alias(&q, "documents").as_deref(), Some("documents_v1"));
    assert_eq!(q.history(), [(1, true), (2, true)]);

    demo(&server.url, &["up"]).expect(0);
    // The re-embedded collection took over the alias in one request.
    assert_eq!(alias(&q, "documents").as_deref(), Some("documents_v2"));
    assert_eq!(
        vector(&q, "documents_v2"),
        (3072, pb::Distance::Cosine as i32)
    );
    assert!(
        q.config("documents_v2")
            .unwrap()
            .quantization_config
            .is_some()
    );
    let tuned = q.config("knowledge_nodes").unwrap();
    assert_eq!(tuned.hnsw_config.unwrap().ef_construct, Some(128));
    assert_eq!(
        tuned.optimizer_config.unwrap().indexing_threshold,
        Some(50_000)
    );
    assert_eq!(q.history(), [(1, true), (2, true), (3, true), (4, true)]);
    let status = demo(&server.url, &["status"]);
    status.expect(0);
    assert!(status.stdout.contains("4 applied"), "{}", status.stdout);
    assert!(
        !q.collection_names()
            .contains(&"schema_migrations_lock".to_string())
    );

    demo(&server.url, &["down", "--to", "2"]).expect(0);
    assert_eq!(alias(&q, "documents").as_deref(), Some("documents_v1"));
    assert!(q.config("documents_v2").is_none());
    assert_eq!(
        q.config("knowledge_nodes")
            .unwrap()
            .hnsw_config
            .unwrap()
            .ef_construct,
        Some(100)
    );

    demo(&server.url, &["down", "--to", "0"]).expect(0);
    assert_eq!(q.collection_names(), ["schema_migrations"]);
    assert!(q.aliases().is_empty());
    assert_eq!(q.history(), []);

    demo(&server.url, &["up"]).expect(0);
    assert_eq!(q.history().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_plan_snapshot() {
    let server = TestQdrant::default().start().await;
    let text = demo(&server.url, &["plan"]);
    text.expect(0);
    insta::assert_snapshot!("vector_plan_text", text.stdout);
    let json = demo(&server.url, &["plan", "--format", "json"]);
    json.expect(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_json_snapshot!("vector_plan_json", value);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vector_size_change_is_refused_before_anything_runs() {
    let q = TestQdrant::default();
    let server = q.clone().start().await;
    let p = project();
    p.migration(
        "V1__docs.json",
        r#"[{"create_collection": {"collection": "docs", "vectors": {"size": 4, "distance": "Cosine"}}}]"#,
    );
    migrate(&p, &server.url, &["up"]).expect(0);
    p.migration(
        "V2__index.json",
        r#"[{"create_payload_index": {"collection": "docs", "field": "user_id", "schema": "keyword"}}]"#,
    );
    p.migration(
        "V3__bigger.json",
        r#"[{"update_collection": {"collection": "docs", "hnsw_config": {"m": 32}, "vectors": {"size": 8}}}]"#,
    );
    for command in ["plan", "up"] {
        let run = migrate(&p, &server.url, &[command]);
        run.expect(2);
        assert!(run.stderr.contains("V3__bigger.json"), "{}", run.stderr);
        assert!(
            run.stderr.contains(
                "$[0].update_collection.vectors.size: the unnamed vector of collection \"docs\" has size 4"
            ),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("switch_alias"), "{}", run.stderr);
    }
    // Nothing ran: not V2 before it, not the HNSW change beside it.
    assert!(q.payload_indexes("docs").is_empty());
    assert_eq!(q.config("docs").unwrap().hnsw_config.unwrap().m, Some(16));
    assert_eq!(q.history(), [(1, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_file_and_path_and_changes_nothing() {
    let q = TestQdrant::default();
    let server = q.clone().start().await;
    let cases = [
        (
            "[{\"delete_collection\": {\"collection\": \"x\"}}",
            "line 1 column",
        ),
        (
            r#"[{"create_collection": {"collection": "b", "vectors": {"size": 3, "distance": "Cosin"}}}]"#,
            "$[0].create_collection.vectors.distance: unknown variant `Cosin`",
        ),
        (
            r#"[{"create_collection": {"collection": "b", "vectors": {"size": 0, "distance": "Dot"}}}]"#,
            "$[0].create_collection.vectors.size: a vector needs at least one dimension",
        ),
        (
            r#"[{"create_payload_index": {"collection": "nowhere", "field": "f", "schema": "keyword"}}]"#,
            "$[0].create_payload_index.collection: collection \"nowhere\" does not exist",
        ),
        (
            r#"[{"create_payload_index": {"collection": "base", "field": "f"}}]"#,
            "$[0].create_payload_index: missing field `schema`",
        ),
        (
            r#"[{"switch_alias": {"alias": "a", "to": "base_v2"}}]"#,
            "$[0].switch_alias.to: cannot switch alias \"a\" to it: collection \"base_v2\" does not exist",
        ),
    ];
    for (text, expected) in cases {
        let p = project();
        p.migration(
            "V1__base.json",
            r#"[{"create_collection": {"collection": "base", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
        );
        p.migration("V2__bad.json", text);
        let run = migrate(&p, &server.url, &["up"]);
        run.expect(2);
        assert!(run.stderr.contains("V2__bad.json"), "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
        // The valid V1 did not run either.
        assert!(
            q.collection_names().is_empty(),
            "{:?}",
            q.collection_names()
        );
    }

    let p = project();
    p.migration(
        "V1__base.json",
        r#"[{"create_collection": {"collection": "base", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    let run = migrate(&p, "http://127.0.0.1:1", &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);

    // A wrong api key is refused, and neither key is shown.
    let guarded = TestQdrant::with_api_key("right-key-5f1c").start().await;
    p.config(
        "[databases.vectors]\nkind = \"qdrant\"\nurl = \"${QDRANT_URL}\"\napi_key = \"${KEY}\"\nmigrations = \"migrations\"\n",
    );
    let run = p.migrate_raw(
        &["up"],
        &[("QDRANT_URL", &guarded.url), ("KEY", "wrong-key-77ab")],
    );
    run.expect(1);
    assert!(run.stderr.contains("Invalid api-key"), "{}", run.stderr);
    assert!(
        !run.all().contains("wrong-key-77ab") && !run.all().contains("right-key"),
        "{}",
        run.all()
    );
    let run = p.migrate_raw(
        &["up"],
        &[("QDRANT_URL", &guarded.url), ("KEY", "right-key-5f1c")],
    );
    run.expect(0);
    assert!(!run.all().contains("right-key"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_operation_leaves_the_version_dirty_until_repair() {
    let q = TestQdrant::default();
    let server = q.clone().start().await;
    q.fail_creating("second");
    let p = project();
    p.migration(
        "V1__two.json",
        r#"[{"create_collection": {"collection": "first", "vectors": {"size": 2, "distance": "Dot"}}},
            {"create_collection": {"collection": "second", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    let run = migrate(&p, &server.url, &["up"]);
    run.expect(1);
    assert!(
        run.stderr.contains(
            "V1__two.json at $[1] (create_collection second (2 Dot)) failed (Unavailable)"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("injected failure"), "{}", run.stderr);
    assert!(q.config("first").is_some());
    assert_eq!(q.history(), [(1, false)]);
    assert!(
        migrate(&p, &server.url, &["status"])
            .stdout
            .contains("dirty")
    );
    let again = migrate(&p, &server.url, &["up"]);
    again.expect(3);
    assert!(again.stderr.contains("dirty"), "{}", again.stderr);

    // The server is back; the operator removes the half-made collection by
    // hand and repairs.
    q.stop_failing();
    qdrant_client::Qdrant::from_url(&server.url)
        .skip_compatibility_check()
        .build()
        .unwrap()
        .delete_collection("first")
        .await
        .unwrap();
    migrate(&p, &server.url, &["repair"]).expect(0);
    assert_eq!(q.history(), []);
    migrate(&p, &server.url, &["up"]).expect(0);
    assert_eq!(q.history(), [(1, true)]);
    assert!(q.config("second").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_refused() {
    let q = TestQdrant::default();
    let server = q.clone().start().await;
    let p = project();
    p.migration(
        "V1__a.json",
        r#"[{"create_collection": {"collection": "a", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    migrate(&p, &server.url, &["up"]).expect(0);
    p.migration(
        "V1__a.json",
        r#"[{"create_collection": {"collection": "a", "vectors": {"size": 3, "distance": "Dot"}}}]"#,
    );
    p.migration(
        "V2__b.json",
        r#"[{"create_collection": {"collection": "b", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    let run = migrate(&p, &server.url, &["up"]);
    run.expect(3);
    assert!(run.stderr.contains("checksum"), "{}", run.stderr);
    assert!(q.config("b").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runners_apply_every_version_exactly_once() {
    let q = TestQdrant::default();
    let server = q.clone().start().await;
    let p = project();
    for v in 1..=4 {
        p.migration(
            &format!("V{v}__c{v}.json"),
            &format!(
                r#"[{{"create_collection": {{"collection": "c{v}", "vectors": {{"size": 2, "distance": "Dot"}}}}}},
                    {{"create_payload_index": {{"collection": "c{v}", "field": "user_id", "schema": "keyword"}}}}]"#
            ),
        );
    }
    let children: Vec<_> = (0..6)
        .map(|_| {
            Command::new(support::migrate_bin())
                .arg("up")
                .current_dir(p.path())
                .env("QDRANT_URL", &server.url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for child in children {
        // A second create of any collection fails its runner: every exit
        // code 0 means no version ran twice.
        let run = Run::from(child.wait_with_output().unwrap());
        run.expect(0);
        applied += run.stdout.matches("applied").count();
    }
    assert_eq!(
        applied, 4,
        "each version reported applied by exactly one runner"
    );
    assert_eq!(q.history(), [(1, true), (2, true), (3, true), (4, true)]);
    assert!(
        q.config("schema_migrations_lock").is_none(),
        "the lock was released"
    );
}

/// Plants a lock as another runner would leave it.
async fn plant_lock(url: &str, owner_point: Option<&str>) {
    let client = qdrant_client::Qdrant::from_url(url)
        .skip_compatibility_check()
        .build()
        .unwrap();
    client
        .create_collection(
            pb::CreateCollectionBuilder::new("schema_migrations_lock")
                .vectors_config(pb::VectorParamsBuilder::new(1, pb::Distance::Dot)),
        )
        .await
        .unwrap();
    if let Some(expires_at) = owner_point {
        let payload: HashMap<String, pb::Value> = HashMap::from([
            ("owner".to_string(), "ghost-host pid 4242".into()),
            ("acquired_at".to_string(), "2026-11-24T08:00:00.000Z".into()),
            ("expires_at".to_string(), expires_at.into()),
        ]);
        client
            .upsert_points(
                pb::UpsertPointsBuilder::new(
                    "schema_migrations_lock",
                    vec![pb::PointStruct::new(1, vec![1.0_f32], payload)],
                )
                .wait(true),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lock_is_reported_and_broken_only_by_unlock() {
    let q = TestQdrant::default();
    let server = q.clone().start().await;
    let p = project();
    p.migration(
        "V1__a.json",
        r#"[{"create_collection": {"collection": "a", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    plant_lock(&server.url, Some("2026-11-24T08:00:30.000Z")).await;

    // Waiters never take a lock over, even a stale one.
    let run = migrate(&p, &server.url, &["--lock-timeout", "1", "up"]);
    run.expect(1);
    assert!(run.stderr.contains("ghost-host pid 4242"), "{}", run.stderr);
    assert!(run.stderr.contains("stale"), "{}", run.stderr);
    assert!(q.config("a").is_none());

    let unlock = migrate(&p, &server.url, &["unlock"]);
    unlock.expect(0);
    assert!(
        unlock
            .stdout
            .contains("removed the lock held by ghost-host"),
        "{}",
        unlock.stdout
    );
    migrate(&p, &server.url, &["up"]).expect(0);
    assert!(q.config("a").is_some());

    // A live lease is refused unless forced; so is a lock without an owner point.
    let live = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    plant_lock(&server.url, Some(&live)).await;
    let refused = migrate(&p, &server.url, &["unlock"]);
    refused.expect(1);
    assert!(
        refused.stderr.contains("its owner is alive"),
        "{}",
        refused.stderr
    );
    migrate(&p, &server.url, &["unlock", "--force"]).expect(0);
    plant_lock(&server.url, None).await;
    let refused = migrate(&p, &server.url, &["unlock"]);
    refused.expect(1);
    assert!(
        refused.stderr.contains("without an owner point"),
        "{}",
        refused.stderr
    );
    migrate(&p, &server.url, &["unlock", "--force"]).expect(0);
    assert!(q.config("schema_migrations_lock").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rollback_marks_the_recorded_version_dirty_and_keeps_it() {
    let q = TestQdrant::default();
    let server = q.clone().start().await;
    let p = project();
    p.migration(
        "V1__a.json",
        r#"[{"create_collection": {"collection": "a", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    p.rollback(
        "U1__a.json",
        r#"[{"delete_collection": {"collection": "a"}},
            {"create_collection": {"collection": "parking", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    migrate(&p, &server.url, &["up"]).expect(0);
    q.fail_creating("parking");
    let run = migrate(&p, &server.url, &["down"]);
    run.expect(1);
    assert!(run.stderr.contains("U1__a.json at $[1]"), "{}", run.stderr);
    assert_eq!(q.history(), [(1, false)]);
    // Only `success` changed: the migration's own checksum is still the
    // recorded one, so the version shows dirty, not drifted.
    let status = migrate(&p, &server.url, &["status"]);
    assert!(status.stdout.contains("dirty"), "{}", status.stdout);
    assert!(!status.stdout.contains("drift"), "{}", status.stdout);
}
