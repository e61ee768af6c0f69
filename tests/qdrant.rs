//! The Qdrant backend, against the in-process gRPC test server in
//! `tests/support/qdrant_server.rs` (no registry this project reaches ships
//! a Qdrant server; see the README), or against a real Qdrant given by
//! `STRATA_TEST_QDRANT_URL` (`tests/support/qdrant_conformance.sh`): see
//! `tests/support/qdrant_subject.rs`. The first part is strata's own
//! behaviour; the second (`server_*`) asserts what the server itself does,
//! so the test server cannot drift from the real one unnoticed. The
//! runtime is multi-threaded because the test thread blocks on `migrate`
//! processes while the in-process server answers them.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;
#[path = "support/qdrant_subject.rs"]
mod qdrant_subject;
mod support;

use std::collections::HashMap;
use std::process::Command;

use qdrant_client::qdrant as pb;
use qdrant_subject::{Subject, migrate, project};
use support::Run;
use tonic::Code;

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

/// The unnamed vector's (size, distance).
async fn vector(q: &Subject, collection: &str) -> (u64, i32) {
    let config = q.config(collection).await.unwrap();
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

/// A named vector's parameters.
async fn named_vector(q: &Subject, collection: &str, name: &str) -> pb::VectorParams {
    let config = q.config(collection).await.unwrap();
    match config
        .params
        .unwrap()
        .vectors_config
        .unwrap()
        .config
        .unwrap()
    {
        pb::vectors_config::Config::ParamsMap(m) => m.map[name],
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_vectors_apply_switch_the_alias_and_roll_back() {
    let q = Subject::new().await;

    demo(&q.url, &["up", "--to", "2"]).expect(0);
    assert_eq!(
        q.collection_names().await,
        [
            "conversation_context",
            "documents_v1",
            "knowledge_nodes",
            "learning_content",
            "schema_migrations",
            "schema_migrations_schema",
            "user_preferences"
        ]
    );
    assert_eq!(
        vector(&q, "documents_v1").await,
        (1536, pb::Distance::Cosine as i32)
    );
    assert_eq!(
        vector(&q, "user_preferences").await,
        (768, pb::Distance::Cosine as i32)
    );
    let hnsw = q
        .config("knowledge_nodes")
        .await
        .unwrap()
        .hnsw_config
        .unwrap();
    assert_eq!((hnsw.m, hnsw.ef_construct), (Some(16), Some(100)));
    assert_eq!(
        q.payload_indexes("learning_content").await,
        ["difficulty", "timestamp", "type", "user_id"]
    );
    assert_eq!(q.alias("documents").await.as_deref(), Some("documents_v1"));
    assert_eq!(q.history().await, [(1, true), (2, true)]);

    demo(&q.url, &["up"]).expect(0);
    // The re-embedded collection took over the alias in one request.
    assert_eq!(q.alias("documents").await.as_deref(), Some("documents_v2"));
    assert_eq!(
        vector(&q, "documents_v2").await,
        (3072, pb::Distance::Cosine as i32)
    );
    assert!(
        q.config("documents_v2")
            .await
            .unwrap()
            .quantization_config
            .is_some()
    );
    let tuned = q.config("knowledge_nodes").await.unwrap();
    assert_eq!(tuned.hnsw_config.unwrap().ef_construct, Some(128));
    assert_eq!(
        tuned.optimizer_config.unwrap().indexing_threshold,
        Some(50_000)
    );
    assert_eq!(
        q.history().await,
        [(1, true), (2, true), (3, true), (4, true)]
    );
    let status = demo(&q.url, &["status"]);
    status.expect(0);
    assert!(status.stdout.contains("4 applied"), "{}", status.stdout);
    assert!(q.config("schema_migrations_lock").await.is_none());

    demo(&q.url, &["down", "--to", "2"]).expect(0);
    assert_eq!(q.alias("documents").await.as_deref(), Some("documents_v1"));
    assert!(q.config("documents_v2").await.is_none());
    assert_eq!(
        q.config("knowledge_nodes")
            .await
            .unwrap()
            .hnsw_config
            .unwrap()
            .ef_construct,
        Some(100)
    );

    demo(&q.url, &["down", "--to", "0"]).expect(0);
    assert_eq!(
        q.collection_names().await,
        ["schema_migrations", "schema_migrations_schema"]
    );
    assert!(q.aliases().await.is_empty());
    assert_eq!(q.history().await, []);

    demo(&q.url, &["up"]).expect(0);
    assert_eq!(q.history().await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_plan_snapshot() {
    let q = Subject::new().await;
    let text = demo(&q.url, &["plan"]);
    text.expect(0);
    insta::assert_snapshot!("vector_plan_text", text.stdout);
    let json = demo(&q.url, &["plan", "--format", "json"]);
    json.expect(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_json_snapshot!("vector_plan_json", value);
}

/// Every operation of the format, applied and rolled back, on a named-
/// vector collection: the settings a rollback must undo come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_applies_and_rolls_back() {
    let q = Subject::new().await;
    let p = project();
    p.migration(
        "V1__base.json",
        r#"[{"create_collection": {"collection": "items_v1",
               "named_vectors": {"text": {"size": 4, "distance": "Cosine"}, "image": {"size": 3, "distance": "Dot"}},
               "sparse_vectors": {"keywords": {"modifier": "idf"}},
               "hnsw_config": {"m": 16, "ef_construct": 100},
               "optimizers_config": {"indexing_threshold": 20000}}},
            {"create_payload_index": {"collection": "items_v1", "field": "kind", "schema": "keyword"}},
            {"create_alias": {"alias": "items", "collection": "items_v1"}},
            {"create_alias": {"alias": "items_old", "collection": "items_v1"}}]"#,
    );
    p.rollback(
        "U1__base.json",
        r#"[{"delete_alias": {"alias": "items_old"}},
            {"delete_alias": {"alias": "items"}},
            {"delete_payload_index": {"collection": "items_v1", "field": "kind"}},
            {"delete_collection": {"collection": "items_v1"}}]"#,
    );
    p.migration(
        "V2__tune.json",
        r#"[{"update_collection": {"collection": "items_v1",
               "named_vectors": {"text": {"hnsw_config": {"m": 32, "ef_construct": 200},
                                          "quantization_config": {"scalar": {"type": "int8", "quantile": 0.95}}}},
               "quantization_config": {"binary": {"always_ram": true}},
               "params": {"replication_factor": 1, "write_consistency_factor": 1}}},
            {"delete_alias": {"alias": "items_old"}}]"#,
    );
    p.rollback(
        "U2__tune.json",
        r#"[{"create_alias": {"alias": "items_old", "collection": "items_v1"}},
            {"update_collection": {"collection": "items_v1",
               "named_vectors": {"text": {"hnsw_config": "collection", "quantization_config": "disabled"}},
               "quantization_config": "disabled"}}]"#,
    );
    p.migration(
        "V3__v2.json",
        r#"[{"create_collection": {"collection": "items_v2",
               "named_vectors": {"text": {"size": 8, "distance": "Cosine"}, "image": {"size": 3, "distance": "Dot"}}}},
            {"switch_alias": {"alias": "items", "to": "items_v2"}}]"#,
    );
    p.rollback(
        "U3__v2.json",
        r#"[{"switch_alias": {"alias": "items", "to": "items_v1"}},
            {"delete_collection": {"collection": "items_v2"}}]"#,
    );

    migrate(&p, &q.url, &["up", "--to", "1"]).expect(0);
    let before = q.config("items_v1").await.unwrap();
    assert_eq!(q.payload_indexes("items_v1").await, ["kind"]);
    assert_eq!(q.alias("items_old").await.as_deref(), Some("items_v1"));

    migrate(&p, &q.url, &["up"]).expect(0);
    let text = named_vector(&q, "items_v1", "text").await;
    assert_eq!(text.hnsw_config.unwrap().m, Some(32));
    assert!(text.quantization_config.is_some());
    assert!(
        q.config("items_v1")
            .await
            .unwrap()
            .quantization_config
            .is_some()
    );
    assert_eq!(q.alias("items_old").await, None);
    assert_eq!(q.alias("items").await.as_deref(), Some("items_v2"));
    assert_eq!(q.history().await, [(1, true), (2, true), (3, true)]);

    migrate(&p, &q.url, &["down", "--to", "1"]).expect(0);
    assert_eq!(q.alias("items").await.as_deref(), Some("items_v1"));
    assert_eq!(q.alias("items_old").await.as_deref(), Some("items_v1"));
    assert!(q.config("items_v2").await.is_none());
    let after = q.config("items_v1").await.unwrap();
    assert_eq!(after.quantization_config, None, "quantization removed");
    let text = named_vector(&q, "items_v1", "text").await;
    assert_eq!(text.quantization_config, None);
    // Qdrant keeps a vector's own HNSW parameters once given; "collection"
    // makes them the collection's again.
    let own = text.hnsw_config.unwrap();
    let collection = after.hnsw_config.unwrap();
    assert_eq!(
        (own.m, own.ef_construct),
        (collection.m, collection.ef_construct)
    );
    assert_eq!(after.hnsw_config, before.hnsw_config);

    migrate(&p, &q.url, &["down", "--to", "0"]).expect(0);
    assert_eq!(
        q.collection_names().await,
        ["schema_migrations", "schema_migrations_schema"]
    );
    assert!(q.aliases().await.is_empty());
    migrate(&p, &q.url, &["up"]).expect(0);
    assert_eq!(q.history().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multivectors_datatypes_and_sparse_index_settings_reach_the_collection() {
    let q = Subject::new().await;
    let p = project();
    p.migration(
        "V1__late_interaction.json",
        r#"[{"create_collection": {"collection": "passages",
               "named_vectors": {
                 "colbert": {"size": 4, "distance": "Dot",
                             "multivector_config": {"comparator": "max_sim"}, "datatype": "float16"},
                 "dense": {"size": 3, "distance": "Cosine", "datatype": "uint8"}},
               "sparse_vectors": {"bm25": {"modifier": "idf", "full_scan_threshold": 5000,
                                           "datatype": "float16", "on_disk": true}}}}]"#,
    );
    let plan = migrate(&p, &q.url, &["plan"]);
    plan.expect(0);
    assert!(
        plan.stdout.contains(
            "create_collection passages (colbert: 4 Dot float16 multivector, dense: 3 Cosine uint8, bm25: sparse)"
        ),
        "{}",
        plan.stdout
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    let colbert = named_vector(&q, "passages", "colbert").await;
    assert_eq!(
        colbert.multivector_config,
        Some(pb::MultiVectorConfig {
            comparator: pb::MultiVectorComparator::MaxSim as i32
        })
    );
    assert_eq!(colbert.datatype, Some(pb::Datatype::Float16 as i32));
    let dense = named_vector(&q, "passages", "dense").await;
    assert_eq!(dense.datatype, Some(pb::Datatype::Uint8 as i32));
    assert_eq!(dense.multivector_config, None);
    let params = q.config("passages").await.unwrap().params.unwrap();
    let bm25 = &params.sparse_vectors_config.unwrap().map["bm25"];
    assert_eq!(bm25.modifier, Some(pb::Modifier::Idf as i32));
    let index = bm25.index.unwrap();
    // `on_disk` is what every Qdrant version reads (see the README).
    #[allow(deprecated)]
    let on_disk = index.on_disk;
    assert_eq!(
        (index.full_scan_threshold, index.datatype, on_disk),
        (Some(5000), Some(pb::Datatype::Float16 as i32), Some(true))
    );

    // A sparse vector's weighting and index settings change in place
    // (merged field by field) and roll back; one the collection lacks is
    // refused before anything runs.
    p.migration(
        "V2__tune_bm25.json",
        r#"[{"update_collection": {"collection": "passages",
               "sparse_vectors": {"bm25": {"modifier": "none", "full_scan_threshold": 10000}}}}]"#,
    );
    p.rollback(
        "U2__tune_bm25.json",
        r#"[{"update_collection": {"collection": "passages",
               "sparse_vectors": {"bm25": {"modifier": "idf", "full_scan_threshold": 5000}}}}]"#,
    );
    let bm25 = || async {
        let params = q.config("passages").await.unwrap().params.unwrap();
        let bm25 = params.sparse_vectors_config.unwrap().map["bm25"];
        let index = bm25.index.unwrap();
        (bm25.modifier, index.full_scan_threshold, index.datatype)
    };
    let plan = migrate(&p, &q.url, &["plan"]);
    assert!(
        plan.stdout
            .contains("update_collection passages (sparse_vectors)"),
        "{}",
        plan.stdout
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    let float16 = Some(pb::Datatype::Float16 as i32);
    assert_eq!(
        bm25().await,
        (Some(pb::Modifier::None as i32), Some(10000), float16)
    );
    migrate(&p, &q.url, &["down"]).expect(0);
    assert_eq!(
        bm25().await,
        (Some(pb::Modifier::Idf as i32), Some(5000), float16)
    );
    std::fs::remove_file(p.path().join("migrations/V2__tune_bm25.json")).unwrap();
    p.migration(
        "V2__x.json",
        r#"[{"update_collection": {"collection": "passages", "sparse_vectors": {"splade": {"modifier": "idf"}}}}]"#,
    );
    let run = migrate(&p, &q.url, &["up"]);
    run.expect(2);
    assert!(
        run.stderr.contains(
            "$[0].update_collection.sparse_vectors.splade: collection \"passages\" has no sparse vector \"splade\""
        ),
        "{}",
        run.stderr
    );

    // Fixed for the collection's life, like size and distance: an update
    // cannot name them, and an unknown comparator or datatype is refused
    // with its path before anything runs.
    for (file, body, said) in [
        (
            "V2__x.json",
            r#"[{"update_collection": {"collection": "passages", "named_vectors": {"dense": {"datatype": "float32"}}}}]"#,
            "unknown field `datatype`",
        ),
        (
            "V2__x.json",
            r#"[{"create_collection": {"collection": "other", "vectors": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "min_sim"}}}}]"#,
            "unknown variant `min_sim`",
        ),
        (
            "V2__x.json",
            r#"[{"create_collection": {"collection": "other", "vectors": {"size": 2, "distance": "Dot", "datatype": "int4"}}}]"#,
            "unknown variant `int4`",
        ),
    ] {
        p.migration(file, body);
        let run = migrate(&p, &q.url, &["up"]);
        run.expect(2);
        assert!(run.stderr.contains("V2__x.json"), "{}", run.stderr);
        assert!(run.stderr.contains(said), "{}", run.stderr);
        assert_eq!(q.history().await, [(1, true)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vector_size_change_is_refused_before_anything_runs() {
    let q = Subject::new().await;
    let p = project();
    p.migration(
        "V1__docs.json",
        r#"[{"create_collection": {"collection": "docs", "vectors": {"size": 4, "distance": "Cosine"}}}]"#,
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    p.migration(
        "V2__index.json",
        r#"[{"create_payload_index": {"collection": "docs", "field": "user_id", "schema": "keyword"}}]"#,
    );
    p.migration(
        "V3__bigger.json",
        r#"[{"update_collection": {"collection": "docs", "hnsw_config": {"m": 32}, "vectors": {"size": 8}}}]"#,
    );
    for command in ["plan", "up"] {
        let run = migrate(&p, &q.url, &[command]);
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
    assert!(q.payload_indexes("docs").await.is_empty());
    assert_eq!(
        q.config("docs").await.unwrap().hnsw_config.unwrap().m,
        Some(16)
    );
    assert_eq!(q.history().await, [(1, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_file_and_path_and_changes_nothing() {
    let q = Subject::new().await;
    let long_name = "c".repeat(256);
    let long_vector = "v".repeat(201);
    let cases = [
        (
            "[{\"delete_collection\": {\"collection\": \"x\"}}".to_string(),
            "line 1 column".to_string(),
        ),
        (
            r#"[{"create_collection": {"collection": "b", "vectors": {"size": 3, "distance": "Cosin"}}}]"#.into(),
            "$[0].create_collection.vectors.distance: unknown variant `Cosin`".into(),
        ),
        (
            r#"[{"create_collection": {"collection": "b", "vectors": {"size": 0, "distance": "Dot"}}}]"#.into(),
            "$[0].create_collection.vectors.size: a vector needs at least one dimension".into(),
        ),
        (
            r#"[{"create_payload_index": {"collection": "nowhere", "field": "f", "schema": "keyword"}}]"#.into(),
            "$[0].create_payload_index.collection: collection \"nowhere\" does not exist".into(),
        ),
        (
            r#"[{"create_payload_index": {"collection": "base", "field": "f"}}]"#.into(),
            "$[0].create_payload_index: missing field `schema`".into(),
        ),
        (
            r#"[{"switch_alias": {"alias": "a", "to": "base_v2"}}]"#.into(),
            "$[0].switch_alias.to: cannot switch alias \"a\" to it: collection \"base_v2\" does not exist".into(),
        ),
        // Qdrant's own rules: each of these fails on the server half-way
        // through a file; strata refuses them before anything runs.
        (
            r#"[{"create_collection": {"collection": "a:b", "vectors": {"size": 2, "distance": "Dot"}}}]"#.into(),
            "$[0].create_collection.collection: \"a:b\": a name cannot contain ':'".into(),
        ),
        (
            format!(r#"[{{"create_collection": {{"collection": "{long_name}", "vectors": {{"size": 2, "distance": "Dot"}}}}}}]"#),
            "$[0].create_collection.collection: ".to_string() + "\"" + &long_name + "\" is 256 bytes long",
        ),
        (
            format!(r#"[{{"create_collection": {{"collection": "b", "named_vectors": {{"{long_vector}": {{"size": 2, "distance": "Dot"}}}}}}}}]"#),
            "a vector name may be at most 200".into(),
        ),
        (
            r#"[{"create_collection": {"collection": "b", "named_vectors": {"t": {"size": 2, "distance": "Dot"}}, "sparse_vectors": {"t": {}}}}]"#.into(),
            "$[0].create_collection.sparse_vectors.t: \"t\" is also a dense vector".into(),
        ),
        (
            r#"[{"update_collection": {"collection": "base", "quantization_config": {"scalar": {"type": "int8", "quantile": 0.1}}}}]"#.into(),
            "$[0].update_collection.quantization_config.scalar.quantile: 0.1".into(),
        ),
        (
            r#"[{"update_collection": {"collection": "base", "hnsw_config": {"m": 8}, "optimizers_config": {"deleted_threshold": 5.0}}}]"#.into(),
            "$[0].update_collection.optimizers_config.deleted_threshold: 5 is outside Qdrant's range 0 to 1".into(),
        ),
        (
            r#"[{"update_collection": {"collection": "base", "hnsw_config": {"ef_construct": 0}}}]"#.into(),
            "$[0].update_collection.hnsw_config.ef_construct: 0 is below Qdrant's minimum of 4".into(),
        ),
        (
            r#"[{"update_collection": {"collection": "base", "params": {"write_consistency_factor": 0}}}]"#.into(),
            "$[0].update_collection.params.write_consistency_factor: 0 is below".into(),
        ),
        (
            r#"[{"update_collection": {"collection": "base", "hnsw_config": {"m": 8}, "named_vectors": {"nope": {"on_disk": true}}}}]"#.into(),
            "$[0].update_collection.named_vectors.nope: collection \"base\" has no vector \"nope\"".into(),
        ),
        (
            r#"[{"create_alias": {"alias": "x|y", "collection": "base"}}]"#.into(),
            "$[0].create_alias.alias: \"x|y\": a name cannot contain '|'".into(),
        ),
        (
            r#"[{"create_alias": {"alias": "al", "collection": "base"}}, {"create_collection": {"collection": "al", "vectors": {"size": 2, "distance": "Dot"}}}]"#.into(),
            "$[1].create_collection.collection: \"al\" is an alias of \"base\"".into(),
        ),
    ];
    for (text, expected) in &cases {
        let p = project();
        p.migration(
            "V1__base.json",
            r#"[{"create_collection": {"collection": "base", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
        );
        p.migration("V2__bad.json", text);
        let run = migrate(&p, &q.url, &["up"]);
        run.expect(2);
        assert!(run.stderr.contains("V2__bad.json"), "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
        // The valid V1 did not run either.
        assert!(
            q.collection_names().await.is_empty(),
            "{:?}",
            q.collection_names().await
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_refused_at_connect_and_no_key_is_shown() {
    let Some(q) = Subject::keyed("right-key-5f1c").await else {
        qdrant_subject::skipped(
            "a_wrong_api_key_is_refused_at_connect_and_no_key_is_shown",
            "no keyed server (STRATA_TEST_QDRANT_KEYED_URL, STRATA_TEST_QDRANT_API_KEY)",
        );
        return;
    };
    let right = q.api_key().unwrap().to_string();
    let p = project();
    p.migration(
        "V1__base.json",
        r#"[{"create_collection": {"collection": "base", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    let keyed = "[databases.vectors]\nkind = \"qdrant\"\nurl = \"${QDRANT_URL}\"\napi_key = \"${KEY}\"\nmigrations = \"migrations\"\n";
    let keyless = "[databases.vectors]\nkind = \"qdrant\"\nurl = \"${QDRANT_URL}\"\nmigrations = \"migrations\"\n";
    for (config, said) in [
        (keyed, "Invalid API key or JWT"),
        (keyless, "Must provide an API key"),
    ] {
        p.config(config);
        let run = p.migrate_raw(
            &["status"],
            &[("QDRANT_URL", &q.url), ("KEY", "wrong-key-77ab")],
        );
        run.expect(1);
        assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
        assert!(run.stderr.contains(said), "{}", run.stderr);
        assert!(
            !run.all().contains("wrong-key-77ab") && !run.all().contains(&right),
            "{}",
            run.all()
        );
    }
    p.config(keyed);
    let run = p.migrate_raw(&["up"], &[("QDRANT_URL", &q.url), ("KEY", &right)]);
    run.expect(0);
    assert!(!run.all().contains(&right), "{}", run.all());
    assert!(q.config("base").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_operation_leaves_the_version_dirty_until_repair() {
    let s = Subject::new().await;
    let Some(q) = s.injectable("a_failing_operation_leaves_the_version_dirty_until_repair") else {
        return;
    };
    q.fail_creating("second");
    let p = project();
    p.migration(
        "V1__two.json",
        r#"[{"create_collection": {"collection": "first", "vectors": {"size": 2, "distance": "Dot"}}},
            {"create_collection": {"collection": "second", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    let run = migrate(&p, &s.url, &["up"]);
    run.expect(1);
    assert!(
        run.stderr.contains(
            "V1__two.json at $[1] (create_collection second (2 Dot)) failed (Unavailable)"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("injected failure"), "{}", run.stderr);
    assert!(s.config("first").await.is_some());
    assert_eq!(s.history().await, [(1, false)]);
    assert!(migrate(&p, &s.url, &["status"]).stdout.contains("dirty"));
    let again = migrate(&p, &s.url, &["up"]);
    again.expect(3);
    assert!(again.stderr.contains("dirty"), "{}", again.stderr);

    // The server is back; the operator removes the half-made collection by
    // hand and repairs.
    q.stop_failing();
    s.client().delete_collection("first").await.unwrap();
    migrate(&p, &s.url, &["repair"]).expect(0);
    assert_eq!(s.history().await, []);
    migrate(&p, &s.url, &["up"]).expect(0);
    assert_eq!(s.history().await, [(1, true)]);
    assert!(s.config("second").await.is_some());
}

/// Another client deletes the target between strata's check and its
/// switch: the one create_alias action fails and the alias still names the
/// old collection (a delete-then-create pair would have lost it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_whose_target_vanishes_keeps_the_old_alias() {
    let s = Subject::new().await;
    let Some(q) = s.injectable("a_switch_whose_target_vanishes_keeps_the_old_alias") else {
        return;
    };
    let p = project();
    p.migration(
        "V1__two.json",
        r#"[{"create_collection": {"collection": "old", "vectors": {"size": 2, "distance": "Dot"}}},
            {"create_collection": {"collection": "new", "vectors": {"size": 2, "distance": "Dot"}}},
            {"create_alias": {"alias": "live", "collection": "old"}}]"#,
    );
    migrate(&p, &s.url, &["up"]).expect(0);
    p.migration(
        "V2__switch.json",
        r#"[{"switch_alias": {"alias": "live", "to": "new"}}]"#,
    );
    q.drop_before_next_alias_change("new");
    let run = migrate(&p, &s.url, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("V2__switch.json"), "{}", run.stderr);
    assert!(run.stderr.contains("NotFound"), "{}", run.stderr);
    assert_eq!(s.alias("live").await.as_deref(), Some("old"));
    // The one-step file failed on its first operation: nothing is dirty.
    assert_eq!(s.history().await, [(1, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_refused() {
    let q = Subject::new().await;
    let p = project();
    p.migration(
        "V1__a.json",
        r#"[{"create_collection": {"collection": "a", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    p.migration(
        "V1__a.json",
        r#"[{"create_collection": {"collection": "a", "vectors": {"size": 3, "distance": "Dot"}}}]"#,
    );
    p.migration(
        "V2__b.json",
        r#"[{"create_collection": {"collection": "b", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    let run = migrate(&p, &q.url, &["up"]);
    run.expect(3);
    assert!(run.stderr.contains("checksum"), "{}", run.stderr);
    assert!(q.config("b").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runners_apply_every_version_exactly_once() {
    let q = Subject::new().await;
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
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(support::migrate_bin())
                .arg("up")
                .current_dir(p.path())
                .env("QDRANT_URL", &q.url)
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
    assert_eq!(
        q.history().await,
        [(1, true), (2, true), (3, true), (4, true)]
    );
    assert!(
        q.config("schema_migrations_lock").await.is_none(),
        "the lock was released"
    );
}

/// Plants a lock as another runner would leave it.
async fn plant_lock(q: &Subject, owner_point: Option<&str>) {
    let client = q.client();
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
async fn wait_names_the_runner_holding_the_lock_and_takes_nothing() {
    let q = Subject::new().await;
    let p = project();
    p.migration(
        "V1__a.json",
        r#"[{"create_collection": {"collection": "a", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    let live = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    plant_lock(&q, Some(&live)).await;
    let run = migrate(&p, &q.url, &["wait", "--timeout", "1s"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("still pending: 1 (a); a run holds the migration lock: ghost-host pid 4242"),
        "{}",
        run.stderr
    );
    assert!(
        q.config("schema_migrations_lock").await.is_some(),
        "the lock is left alone"
    );
    migrate(&p, &q.url, &["unlock", "--force"]).expect(0);
    migrate(&p, &q.url, &["up"]).expect(0);
    migrate(&p, &q.url, &["wait", "--timeout", "5s"]).expect(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lock_is_reported_and_broken_only_by_unlock() {
    let q = Subject::new().await;
    let p = project();
    p.migration(
        "V1__a.json",
        r#"[{"create_collection": {"collection": "a", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    plant_lock(&q, Some("2026-11-24T08:00:30.000Z")).await;

    // Waiters never take a lock over, even a stale one.
    let run = migrate(&p, &q.url, &["--lock-timeout", "1", "up"]);
    run.expect(1);
    assert!(run.stderr.contains("ghost-host pid 4242"), "{}", run.stderr);
    assert!(run.stderr.contains("stale"), "{}", run.stderr);
    assert!(q.config("a").await.is_none());

    let unlock = migrate(&p, &q.url, &["unlock"]);
    unlock.expect(0);
    assert!(
        unlock
            .stdout
            .contains("removed the lock held by ghost-host"),
        "{}",
        unlock.stdout
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    assert!(q.config("a").await.is_some());

    // A live lease is refused unless forced; so is a lock without an owner point.
    let live = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    plant_lock(&q, Some(&live)).await;
    let refused = migrate(&p, &q.url, &["unlock"]);
    refused.expect(1);
    assert!(
        refused.stderr.contains("its owner is alive"),
        "{}",
        refused.stderr
    );
    migrate(&p, &q.url, &["unlock", "--force"]).expect(0);
    plant_lock(&q, None).await;
    let refused = migrate(&p, &q.url, &["unlock"]);
    refused.expect(1);
    assert!(
        refused.stderr.contains("without an owner point"),
        "{}",
        refused.stderr
    );
    migrate(&p, &q.url, &["unlock", "--force"]).expect(0);
    assert!(q.config("schema_migrations_lock").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rollback_marks_the_recorded_version_dirty_and_keeps_it() {
    let s = Subject::new().await;
    let Some(q) = s.injectable("a_failing_rollback_marks_the_recorded_version_dirty_and_keeps_it")
    else {
        return;
    };
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
    migrate(&p, &s.url, &["up"]).expect(0);
    q.fail_creating("parking");
    let run = migrate(&p, &s.url, &["down"]);
    run.expect(1);
    assert!(run.stderr.contains("U1__a.json at $[1]"), "{}", run.stderr);
    assert_eq!(s.history().await, [(1, false)]);
    // Only `success` changed: the migration's own checksum is still the
    // recorded one, so the version shows dirty, not drifted.
    let status = migrate(&p, &s.url, &["status"]);
    assert!(status.stdout.contains("dirty"), "{}", status.stdout);
    assert!(!status.stdout.contains("drifted"), "{}", status.stdout);
}

// ---------------------------------------------------------------------------
// What the server itself does. Each test is a row of what a real Qdrant
// 1.19 was observed to do; against the real server they check that the
// observation still holds, against the test server that it tells the truth.

fn dot(size: u64) -> pb::VectorParamsBuilder {
    pb::VectorParamsBuilder::new(size, pb::Distance::Dot)
}

async fn create(q: &Subject, name: &str) {
    q.client()
        .create_collection(pb::CreateCollectionBuilder::new(name).vectors_config(dot(2)))
        .await
        .unwrap();
}

fn create_alias(alias: &str, collection: &str) -> pb::AliasOperations {
    pb::AliasOperations {
        action: Some(pb::alias_operations::Action::CreateAlias(pb::CreateAlias {
            collection_name: collection.into(),
            alias_name: alias.into(),
        })),
    }
}

fn delete_alias(alias: &str) -> pb::AliasOperations {
    pb::AliasOperations {
        action: Some(pb::alias_operations::Action::DeleteAlias(pb::DeleteAlias {
            alias_name: alias.into(),
        })),
    }
}

async fn change_aliases(
    q: &Subject,
    actions: Vec<pb::AliasOperations>,
) -> Result<(), tonic::Status> {
    q.collections(q.api_key())
        .await
        .update_aliases(pb::ChangeAliases {
            actions,
            timeout: None,
        })
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_applies_alias_actions_one_at_a_time() {
    let q = Subject::new().await;
    create(&q, "c1").await;
    change_aliases(&q, vec![create_alias("sw", "c1")])
        .await
        .unwrap();
    let e = change_aliases(&q, vec![delete_alias("sw"), create_alias("sw", "missing")])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    // The delete before the failing create stayed applied.
    assert_eq!(q.alias("sw").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_repoints_an_alias_on_create_and_ignores_deleting_a_missing_one() {
    let q = Subject::new().await;
    create(&q, "c1").await;
    create(&q, "c2").await;
    change_aliases(&q, vec![create_alias("sw", "c1")])
        .await
        .unwrap();
    change_aliases(&q, vec![create_alias("sw", "c2")])
        .await
        .unwrap();
    assert_eq!(q.alias("sw").await.as_deref(), Some("c2"));
    change_aliases(&q, vec![delete_alias("never-was")])
        .await
        .unwrap();
    // An alias cannot take a collection's name.
    let e = change_aliases(&q, vec![create_alias("c1", "c2")])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refuses_a_collection_named_like_an_alias_or_an_existing_one() {
    let q = Subject::new().await;
    create(&q, "c1").await;
    change_aliases(&q, vec![create_alias("al", "c1")])
        .await
        .unwrap();
    let e = q
        .client()
        .create_collection(pb::CreateCollectionBuilder::new("al").vectors_config(dot(2)))
        .await
        .unwrap_err();
    let qdrant_client::QdrantError::ResponseError { status } = e else {
        panic!("{e:?}")
    };
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains("Alias with the same name already exists"),
        "{status:?}"
    );
    let e = q
        .client()
        .create_collection(pb::CreateCollectionBuilder::new("c1").vectors_config(dot(2)))
        .await
        .unwrap_err();
    let qdrant_client::QdrantError::ResponseError { status } = e else {
        panic!("{e:?}")
    };
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(deprecated)]
async fn server_applies_a_collection_update_section_by_section() {
    let q = Subject::new().await;
    q.client()
        .create_collection(pb::CreateCollectionBuilder::new("c").vectors_config(
            pb::VectorsConfig {
                config: Some(pb::vectors_config::Config::ParamsMap(pb::VectorParamsMap {
                    map: HashMap::from([("text".to_string(), dot(2).build())]),
                })),
            },
        ))
        .await
        .unwrap();
    let e = q
        .client()
        .update_collection(
            pb::UpdateCollectionBuilder::new("c")
                .hnsw_config(pb::HnswConfigDiffBuilder::default().m(40))
                .optimizers_config(
                    pb::OptimizersConfigDiffBuilder::default().indexing_threshold(12_345),
                )
                .vectors_config(pb::VectorsConfigDiff {
                    config: Some(pb::vectors_config_diff::Config::ParamsMap(
                        pb::VectorParamsDiffMap {
                            map: HashMap::from([(
                                "nope".to_string(),
                                pb::VectorParamsDiff {
                                    on_disk: Some(true),
                                    ..Default::default()
                                },
                            )]),
                        },
                    )),
                }),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Not existing vector name"), "{e:?}");
    let config = q.config("c").await.unwrap();
    // The sections before the vectors stayed applied.
    assert_eq!(config.hnsw_config.unwrap().m, Some(40));
    assert_eq!(
        config.optimizer_config.unwrap().indexing_threshold,
        Some(12_345)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(deprecated)] // `on_disk`: what every Qdrant version reads
async fn server_merges_sparse_vector_updates_and_refuses_a_missing_one() {
    let q = Subject::new().await;
    let sparse = |modifier: Option<pb::Modifier>, index: Option<pb::SparseIndexConfig>| {
        pb::SparseVectorParams {
            modifier: modifier.map(|m| m as i32),
            index,
        }
    };
    let created = sparse(
        Some(pb::Modifier::Idf),
        Some(pb::SparseIndexConfig {
            full_scan_threshold: Some(100),
            on_disk: Some(true),
            ..Default::default()
        }),
    );
    q.client()
        .create_collection(
            pb::CreateCollectionBuilder::new("c")
                .vectors_config(dot(2))
                .sparse_vectors_config(pb::SparseVectorConfig {
                    map: HashMap::from([("s".to_string(), created)]),
                }),
        )
        .await
        .unwrap();
    let update = |name: &str, params: pb::SparseVectorParams| {
        pb::UpdateCollectionBuilder::new("c")
            .hnsw_config(pb::HnswConfigDiffBuilder::default().m(40))
            .sparse_vectors_config(pb::SparseVectorConfig {
                map: HashMap::from([(name.to_string(), params)]),
            })
    };
    // Field by field: the threshold changes, on_disk and the modifier stay.
    let threshold = pb::SparseIndexConfig {
        full_scan_threshold: Some(7),
        ..Default::default()
    };
    q.client()
        .update_collection(update("s", sparse(None, Some(threshold))))
        .await
        .unwrap();
    let live = |config: pb::CollectionConfig| {
        config.params.unwrap().sparse_vectors_config.unwrap().map["s"]
    };
    let s = live(q.config("c").await.unwrap());
    assert_eq!(s.modifier, Some(pb::Modifier::Idf as i32));
    let index = s.index.unwrap();
    assert_eq!(
        (index.full_scan_threshold, index.on_disk),
        (Some(7), Some(true))
    );
    // A sparse vector the collection lacks: refused, after the sections
    // before it (HNSW here) were applied.
    q.client()
        .update_collection(
            pb::UpdateCollectionBuilder::new("c")
                .hnsw_config(pb::HnswConfigDiffBuilder::default().m(16)),
        )
        .await
        .unwrap();
    let e = q
        .client()
        .update_collection(update("nope", sparse(Some(pb::Modifier::None), None)))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Not existing vector name error: nope"),
        "{e:?}"
    );
    let config = q.config("c").await.unwrap();
    assert_eq!(config.hnsw_config.unwrap().m, Some(40));
    assert_eq!(live(config).modifier, Some(pb::Modifier::Idf as i32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_removes_quantization_when_disabled() {
    let q = Subject::new().await;
    q.client()
        .create_collection(
            pb::CreateCollectionBuilder::new("c")
                .vectors_config(dot(2))
                .quantization_config(pb::ScalarQuantizationBuilder::default()),
        )
        .await
        .unwrap();
    assert!(q.config("c").await.unwrap().quantization_config.is_some());
    q.client()
        .update_collection(pb::UpdateCollectionBuilder::new("c").quantization_config(
            pb::quantization_config_diff::Quantization::Disabled(pb::Disabled {}),
        ))
        .await
        .unwrap();
    assert_eq!(q.config("c").await.unwrap().quantization_config, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_checks_names_and_ranges_before_changing_anything() {
    let q = Subject::new().await;
    let refused = |r: Result<pb::CollectionOperationResponse, qdrant_client::QdrantError>,
                   what: &str| {
        match r {
            Err(qdrant_client::QdrantError::ResponseError { status }) => {
                assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}")
            }
            other => panic!("{what}: {other:?}"),
        }
    };
    for name in [
        "a:b",
        "a<b",
        "a|b",
        "a?b",
        "a*b",
        "a\"b",
        "a\\b",
        "a\u{1f}b",
        &"c".repeat(256),
    ] {
        let r = q
            .client()
            .create_collection(pb::CreateCollectionBuilder::new(name).vectors_config(dot(2)))
            .await;
        refused(r, &format!("collection name {name:?}"));
    }
    for vector in ["a/b", &"v".repeat(201)] {
        let r = q
            .client()
            .create_collection(pb::CreateCollectionBuilder::new("c").vectors_config(
                pb::VectorsConfig {
                    config: Some(pb::vectors_config::Config::ParamsMap(pb::VectorParamsMap {
                        map: HashMap::from([(vector.to_string(), dot(2).build())]),
                    })),
                },
            ))
            .await;
        refused(r, &format!("vector name {vector:?}"));
    }
    let r = q
        .client()
        .create_collection(
            pb::CreateCollectionBuilder::new("c")
                .vectors_config(pb::VectorsConfig {
                    config: Some(pb::vectors_config::Config::ParamsMap(pb::VectorParamsMap {
                        map: HashMap::from([("t".to_string(), dot(2).build())]),
                    })),
                })
                .sparse_vectors_config(pb::SparseVectorConfig {
                    map: HashMap::from([("t".to_string(), pb::SparseVectorParams::default())]),
                }),
        )
        .await;
    refused(r, "a dense and a sparse vector named alike");
    let r = q
        .client()
        .create_collection(
            pb::CreateCollectionBuilder::new("c")
                .vectors_config(dot(2))
                .write_consistency_factor(0),
        )
        .await;
    refused(r, "write_consistency_factor 0");
    assert!(q.collection_names().await.is_empty());

    create(&q, "c").await;
    let before = q.config("c").await.unwrap();
    let updates = [
        (
            "quantile 0.1",
            pb::UpdateCollectionBuilder::new("c").quantization_config(
                pb::quantization_config_diff::Quantization::Scalar(
                    pb::ScalarQuantizationBuilder::default()
                        .quantile(0.1)
                        .build(),
                ),
            ),
        ),
        (
            "deleted_threshold 5",
            pb::UpdateCollectionBuilder::new("c")
                .hnsw_config(pb::HnswConfigDiffBuilder::default().m(40))
                .optimizers_config(
                    pb::OptimizersConfigDiffBuilder::default().deleted_threshold(5.0),
                ),
        ),
        (
            "ef_construct 0",
            pb::UpdateCollectionBuilder::new("c")
                .hnsw_config(pb::HnswConfigDiffBuilder::default().ef_construct(0)),
        ),
        (
            "vacuum_min_vector_number 10",
            pb::UpdateCollectionBuilder::new("c").optimizers_config(
                pb::OptimizersConfigDiffBuilder::default().vacuum_min_vector_number(10),
            ),
        ),
    ];
    for (what, update) in updates {
        refused(q.client().update_collection(update).await, what);
    }
    // Refused by validation: not even the valid HNSW beside a bad value.
    assert_eq!(q.config("c").await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_checks_the_api_key_on_every_call_but_the_health_check() {
    let Some(q) = Subject::keyed("right-key-5f1c").await else {
        qdrant_subject::skipped(
            "server_checks_the_api_key_on_every_call_but_the_health_check",
            "no keyed server (STRATA_TEST_QDRANT_KEYED_URL, STRATA_TEST_QDRANT_API_KEY)",
        );
        return;
    };
    for key in [None, Some("wrong-key-77ab")] {
        let mut anyone = qdrant_client::Qdrant::from_url(&q.url).skip_compatibility_check();
        if let Some(k) = key {
            anyone = anyone.api_key(k);
        }
        let anyone = anyone.build().unwrap();
        anyone.health_check().await.expect("health needs no key");
        let e = anyone.list_collections().await.unwrap_err();
        let qdrant_client::QdrantError::ResponseError { status } = e else {
            panic!("{e:?}")
        };
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        let said = match key {
            None => "Must provide an API key or an Authorization bearer token",
            Some(_) => "Invalid API key or JWT",
        };
        assert!(status.message().contains(said), "{status:?}");
    }
    q.client().list_collections().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_index_rebuild_is_a_finding_with_the_point_count() {
    let q = Subject::new().await;
    let p = project();
    p.migration(
        "V1__docs.json",
        r#"[{"create_collection": {"collection": "docs", "vectors": {"size": 2, "distance": "Dot"}}}]"#,
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    let points: Vec<pb::PointStruct> = (1..=3u64)
        .map(|i| pb::PointStruct::new(i, vec![1.0_f32, 0.5], HashMap::<String, pb::Value>::new()))
        .collect();
    q.client()
        .upsert_points(pb::UpsertPointsBuilder::new("docs", points).wait(true))
        .await
        .unwrap();
    p.migration(
        "V2__denser_graph.json",
        r#"[{"update_collection": {"collection": "docs", "hnsw_config": {"m": 32}}}]"#,
    );
    let plan = migrate(&p, &q.url, &["plan"]);
    plan.expect(0);
    assert!(
        plan.stdout
            .contains("warning [rebuild-index] update_collection on docs rebuilds the HNSW index"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("(docs: ~3 rows)"), "{}", plan.stdout);
    // lint fails on it at the default level, and not once it is set to info.
    migrate(&p, &q.url, &["lint"]).expect(1);
    let mut config = std::fs::read_to_string(p.path().join("migrate.toml")).unwrap();
    config.push_str("\n[lint.rules]\nrebuild-index = \"info\"\n");
    p.config(&config);
    migrate(&p, &q.url, &["lint"]).expect(0);
}

/// A YAML operation file runs like its JSON form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_operation_files_apply_like_json() {
    let q = Subject::new().await;
    let p = project();
    p.migration(
        "V1__docs.yml",
        "- create_collection:\n    collection: docs\n    vectors: {size: 4, distance: Cosine}\n\
         - create_payload_index:\n    collection: docs\n    field: user_id\n    schema: keyword\n",
    );
    p.rollback(
        "U1__docs.yaml",
        "- delete_collection:\n    collection: docs\n",
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    assert_eq!(q.payload_indexes("docs").await, ["user_id"]);
    migrate(&p, &q.url, &["down"]).expect(0);
    assert!(q.info("docs").await.is_none());
}
