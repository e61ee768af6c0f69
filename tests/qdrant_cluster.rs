//! Qdrant in distributed mode: shards, replicas, write consistency,
//! custom shard keys and strict mode. Against the in-process test server
//! modelling a three-peer cluster, or a real cluster given by
//! `STRATA_TEST_QDRANT_CLUSTER_URL` (`tests/support/qdrant_conformance.sh
//! URL --cluster URL`); the `server_*` tests assert what the server itself
//! does, so the model cannot drift from the real cluster unnoticed.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;
#[path = "support/qdrant_subject.rs"]
mod qdrant_subject;
mod support;

use qdrant_client::qdrant as pb;
use qdrant_subject::{Subject, migrate, project, skipped};
use tonic::Code;

/// The cluster, or a loud skip when the suite runs against a real
/// standalone server only.
async fn cluster(test: &str) -> Option<Subject> {
    let q = Subject::cluster().await;
    if q.is_none() {
        skipped(test, "needs a cluster: STRATA_TEST_QDRANT_CLUSTER_URL");
    }
    q
}

async fn params(q: &Subject, collection: &str) -> pb::CollectionParams {
    q.config(collection).await.unwrap().params.unwrap()
}

async fn strict(q: &Subject, collection: &str) -> pb::StrictModeConfig {
    q.config(collection)
        .await
        .unwrap()
        .strict_mode_config
        .unwrap_or_default()
}

/// The collection's shard keys, sorted as shown (`"a"`, `7`).
async fn shard_keys(q: &Subject, collection: &str) -> Vec<String> {
    let mut keys: Vec<String> = q
        .collections(None)
        .await
        .list_shard_keys(pb::ListShardKeysRequest {
            collection_name: collection.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .shard_keys
        .into_iter()
        .map(|d| match d.key.and_then(|k| k.key) {
            Some(pb::shard_key::Key::Keyword(k)) => format!("{k:?}"),
            Some(pb::shard_key::Key::Number(n)) => n.to_string(),
            None => "?".into(),
        })
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_replicas_consistency_and_strict_mode_apply_and_roll_back() {
    let Some(q) = cluster("shards_replicas_consistency_and_strict_mode_apply_and_roll_back").await
    else {
        return;
    };
    let p = project();
    p.migration(
        "V1__docs.json",
        r#"[{"create_collection": {"collection": "docs", "vectors": {"size": 4, "distance": "Cosine"},
               "shard_number": 6, "replication_factor": 2, "write_consistency_factor": 2,
               "strict_mode_config": {"enabled": true, "max_query_limit": 100,
                                      "unindexed_filtering_retrieve": false}}}]"#,
    );
    p.rollback(
        "U1__docs.json",
        r#"[{"delete_collection": {"collection": "docs"}}]"#,
    );
    p.migration(
        "V2__more_copies.json",
        r#"[{"update_collection": {"collection": "docs",
               "params": {"replication_factor": 3, "write_consistency_factor": 1},
               "strict_mode_config": {"max_query_limit": 50}}}]"#,
    );
    p.rollback(
        "U2__more_copies.json",
        r#"[{"update_collection": {"collection": "docs",
               "params": {"replication_factor": 2, "write_consistency_factor": 2},
               "strict_mode_config": {"max_query_limit": 100}}}]"#,
    );

    migrate(&p, &q.url, &["up", "--to", "1"]).expect(0);
    let created = params(&q, "docs").await;
    assert_eq!(created.shard_number, 6);
    assert_eq!(created.replication_factor, Some(2));
    assert_eq!(created.write_consistency_factor, Some(2));
    let limits = strict(&q, "docs").await;
    assert_eq!(limits.enabled, Some(true));
    assert_eq!(limits.max_query_limit, Some(100));
    assert_eq!(limits.unindexed_filtering_retrieve, Some(false));

    migrate(&p, &q.url, &["up"]).expect(0);
    let updated = params(&q, "docs").await;
    assert_eq!(updated.replication_factor, Some(3));
    assert_eq!(updated.write_consistency_factor, Some(1));
    let limits = strict(&q, "docs").await;
    assert_eq!(limits.max_query_limit, Some(50));
    assert_eq!(
        limits.enabled,
        Some(true),
        "an update keeps what it does not name"
    );

    migrate(&p, &q.url, &["down"]).expect(0);
    let back = params(&q, "docs").await;
    assert_eq!(back.replication_factor, Some(2));
    assert_eq!(back.write_consistency_factor, Some(2));
    assert_eq!(strict(&q, "docs").await.max_query_limit, Some(100));
    assert_eq!(q.history().await, [(1, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_shard_keys_are_made_placed_and_rolled_back() {
    let Some(q) = cluster("custom_shard_keys_are_made_placed_and_rolled_back").await else {
        return;
    };
    let p = project();
    p.migration(
        "V1__tenants.json",
        r#"[{"create_collection": {"collection": "tenants", "vectors": {"size": 4, "distance": "Dot"},
               "sharding_method": "custom", "replication_factor": 2}},
            {"create_shard_key": {"collection": "tenants", "shard_key": "acme"}},
            {"create_shard_key": {"collection": "tenants", "shard_key": 7, "shards_number": 2,
                                  "replication_factor": 1}}]"#,
    );
    p.rollback(
        "U1__tenants.json",
        r#"[{"delete_shard_key": {"collection": "tenants", "shard_key": 7}},
            {"delete_shard_key": {"collection": "tenants", "shard_key": "acme"}},
            {"delete_collection": {"collection": "tenants"}}]"#,
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    assert_eq!(shard_keys(&q, "tenants").await, ["\"acme\"", "7"]);
    let made = params(&q, "tenants").await;
    assert_eq!(
        made.sharding_method,
        Some(pb::ShardingMethod::Custom as i32)
    );
    assert_eq!(
        made.shard_number, 1,
        "custom sharding: one shard per key by default"
    );

    // A key placed on the peer this client talks to.
    let peer = q.peer_id("tenants").await;
    p.migration(
        "V2__pinned.json",
        &format!(
            r#"[{{"create_shard_key": {{"collection": "tenants", "shard_key": "pinned",
                  "placement": [{peer}]}}}}]"#
        ),
    );
    p.rollback(
        "U2__pinned.json",
        r#"[{"delete_shard_key": {"collection": "tenants", "shard_key": "pinned"}}]"#,
    );
    let plan = migrate(&p, &q.url, &["plan"]);
    plan.expect(0);
    assert!(
        plan.stdout.contains("create_shard_key tenants \"pinned\""),
        "{}",
        plan.stdout
    );
    migrate(&p, &q.url, &["up"]).expect(0);
    assert_eq!(
        shard_keys(&q, "tenants").await,
        ["\"acme\"", "\"pinned\"", "7"]
    );

    migrate(&p, &q.url, &["down"]).expect(0);
    assert_eq!(shard_keys(&q, "tenants").await, ["\"acme\"", "7"]);
    migrate(&p, &q.url, &["down"]).expect(0);
    assert!(q.info("tenants").await.is_none());
    assert!(q.history().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_key_mistakes_are_refused_before_anything_runs() {
    let Some(q) = cluster("shard_key_mistakes_are_refused_before_anything_runs").await else {
        return;
    };
    let p = project();
    p.migration(
        "V1__plain.json",
        r#"[{"create_collection": {"collection": "plain", "vectors": {"size": 4, "distance": "Dot"}}},
            {"create_collection": {"collection": "keyed", "vectors": {"size": 4, "distance": "Dot"},
                                   "sharding_method": "custom"}},
            {"create_shard_key": {"collection": "keyed", "shard_key": "a"}}]"#,
    );
    let cases = [
        (
            r#"[{"create_shard_key": {"collection": "plain", "shard_key": "a"}}]"#,
            "$[0].create_shard_key.shard_key: Shard Key \"a\" cannot be created with Auto sharding method",
        ),
        (
            r#"[{"create_shard_key": {"collection": "keyed", "shard_key": "b"}},
                {"create_shard_key": {"collection": "keyed", "shard_key": "a"}}]"#,
            "$[1].create_shard_key.shard_key: Shard key \"a\" already exists in collection \"keyed\"",
        ),
        (
            r#"[{"delete_shard_key": {"collection": "keyed", "shard_key": 3}}]"#,
            "$[0].delete_shard_key.shard_key: collection \"keyed\" has no shard key 3",
        ),
        (
            r#"[{"create_shard_key": {"collection": "keyed", "shard_key": "c", "placement": []}}]"#,
            "$[0].create_shard_key.placement: is empty",
        ),
        (
            r#"[{"create_shard_key": {"collection": "keyed", "shard_key": "c", "shards_number": 0}}]"#,
            "$[0].create_shard_key.shards_number",
        ),
        (
            r#"[{"create_collection": {"collection": "c", "vectors": {"size": 4, "distance": "Dot"},
                 "strict_mode_config": {"max_query_limit": 0}}}]"#,
            "$[0].create_collection.strict_mode_config.max_query_limit",
        ),
        (
            r#"[{"create_collection": {"collection": "c", "vectors": {"size": 4, "distance": "Dot"},
                 "sharding_method": "by_tenant"}}]"#,
            "$[0].create_collection.sharding_method",
        ),
    ];
    for (text, expected) in cases {
        p.migration("V2__bad.json", text);
        let run = migrate(&p, &q.url, &["up"]);
        run.expect(2);
        assert!(run.stderr.contains("V2__bad.json"), "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
        // Nothing ran, not even the valid V1 before it.
        assert!(q.info("plain").await.is_none(), "{text}");
        assert!(q.history().await.is_empty());
    }
    p.remove_migration("V2__bad.json");
    migrate(&p, &q.url, &["up"]).expect(0);
    assert_eq!(shard_keys(&q, "keyed").await, ["\"a\""]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_key_on_a_standalone_server_fails_at_its_step_and_is_not_recorded() {
    let q = Subject::new().await;
    if std::env::var("STRATA_TEST_QDRANT_URL").is_ok() {
        skipped(
            "a_shard_key_on_a_standalone_server_fails_at_its_step_and_is_not_recorded",
            "the real server given may run in distributed mode",
        );
        return;
    }
    let p = project();
    p.migration(
        "V1__keyed.json",
        r#"[{"create_collection": {"collection": "keyed", "vectors": {"size": 4, "distance": "Dot"},
               "sharding_method": "custom"}}]"#,
    );
    p.migration(
        "V2__key.json",
        r#"[{"create_shard_key": {"collection": "keyed", "shard_key": "a"}}]"#,
    );
    let run = migrate(&p, &q.url, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("standalone mode"), "{}", run.stderr);
    assert!(run.stderr.contains("V2__key.json"), "{}", run.stderr);
    assert_eq!(
        q.history().await,
        [(1, true)],
        "V2 left no record, not even dirty"
    );
}

// What the server itself does.

async fn create(q: &Subject, name: &str, custom: bool, shards: Option<u32>) {
    let mut request = pb::CreateCollectionBuilder::new(name)
        .vectors_config(pb::VectorParamsBuilder::new(4, pb::Distance::Dot));
    if custom {
        request = request.sharding_method(pb::ShardingMethod::Custom as i32);
    }
    if let Some(n) = shards {
        request = request.shard_number(n);
    }
    q.client().create_collection(request).await.unwrap();
}

fn key(k: &str) -> Option<pb::ShardKey> {
    Some(pb::ShardKey {
        key: Some(pb::shard_key::Key::Keyword(k.into())),
    })
}

async fn create_key(q: &Subject, collection: &str, k: &str, placement: Vec<u64>) -> tonic::Status {
    match q
        .collections(None)
        .await
        .create_shard_key(pb::CreateShardKeyRequest {
            collection_name: collection.into(),
            request: Some(pb::CreateShardKey {
                shard_key: key(k),
                placement,
                ..Default::default()
            }),
            timeout: None,
        })
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(s) => s,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_spreads_auto_shards_over_every_peer_and_keeps_factors_as_given() {
    let Some(q) =
        cluster("server_spreads_auto_shards_over_every_peer_and_keeps_factors_as_given").await
    else {
        return;
    };
    create(&q, "spread", false, None).await;
    assert_eq!(
        params(&q, "spread").await.shard_number,
        3,
        "one shard per peer"
    );
    // More copies than peers: accepted as given (one copy per peer is
    // placed), and so is a write consistency above the copies.
    q.client()
        .create_collection(
            pb::CreateCollectionBuilder::new("wide")
                .vectors_config(pb::VectorParamsBuilder::new(4, pb::Distance::Dot))
                .replication_factor(5)
                .write_consistency_factor(4),
        )
        .await
        .unwrap();
    let wide = params(&q, "wide").await;
    assert_eq!(wide.replication_factor, Some(5));
    assert_eq!(wide.write_consistency_factor, Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refuses_shard_keys_as_qdrant_does() {
    let Some(q) = cluster("server_refuses_shard_keys_as_qdrant_does").await else {
        return;
    };
    create(&q, "auto", false, None).await;
    create(&q, "keyed", true, None).await;

    let auto = create_key(&q, "auto", "a", Vec::new()).await;
    assert_eq!(auto.code(), Code::InvalidArgument, "{auto:?}");
    assert!(auto.message().contains("Auto sharding method"), "{auto:?}");

    assert_eq!(
        create_key(&q, "keyed", "a", Vec::new()).await.code(),
        Code::Ok
    );
    let twice = create_key(&q, "keyed", "a", Vec::new()).await;
    assert_eq!(twice.code(), Code::InvalidArgument, "{twice:?}");
    assert!(twice.message().contains("already exists"), "{twice:?}");

    let nowhere = create_key(&q, "keyed", "b", vec![42]).await;
    assert_eq!(nowhere.code(), Code::InvalidArgument, "{nowhere:?}");
    assert!(
        nowhere.message().contains("Peer 42 does not exist"),
        "{nowhere:?}"
    );

    let missing = create_key(&q, "absent", "a", Vec::new()).await;
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");

    let dropped = q
        .collections(None)
        .await
        .delete_shard_key(pb::DeleteShardKeyRequest {
            collection_name: "keyed".into(),
            request: Some(pb::DeleteShardKey {
                shard_key: key("zzz"),
            }),
            timeout: None,
        })
        .await
        .unwrap_err();
    assert_eq!(dropped.code(), Code::InvalidArgument, "{dropped:?}");
    assert!(dropped.message().contains("does not exist"), "{dropped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refuses_shard_keys_when_standalone() {
    if std::env::var("STRATA_TEST_QDRANT_URL").is_ok() {
        skipped(
            "server_refuses_shard_keys_when_standalone",
            "the real server given may run in distributed mode",
        );
        return;
    }
    let q = Subject::new().await;
    create(&q, "keyed", true, None).await;
    let refused = create_key(&q, "keyed", "a", Vec::new()).await;
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    assert!(refused.message().contains("standalone mode"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_merges_strict_mode_updates_field_by_field() {
    let Some(q) = cluster("server_merges_strict_mode_updates_field_by_field").await else {
        return;
    };
    q.client()
        .create_collection(
            pb::CreateCollectionBuilder::new("limited")
                .vectors_config(pb::VectorParamsBuilder::new(4, pb::Distance::Dot))
                .strict_mode_config(pb::StrictModeConfig {
                    enabled: Some(true),
                    max_query_limit: Some(10),
                    ..Default::default()
                }),
        )
        .await
        .unwrap();
    q.client()
        .update_collection(
            pb::UpdateCollectionBuilder::new("limited").strict_mode_config(pb::StrictModeConfig {
                max_timeout: Some(5),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let limits = strict(&q, "limited").await;
    assert_eq!(limits.enabled, Some(true));
    assert_eq!(limits.max_query_limit, Some(10));
    assert_eq!(limits.max_timeout, Some(5));
    let zero = q
        .client()
        .update_collection(
            pb::UpdateCollectionBuilder::new("limited").strict_mode_config(pb::StrictModeConfig {
                max_query_limit: Some(0),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
    assert!(format!("{zero:?}").contains("max_query_limit"), "{zero:?}");
}
