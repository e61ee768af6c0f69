//! Elasticsearch as a cluster: three nodes on loopback that
//! `tests/support/es_cluster.sh` starts (the suite runs this binary once on
//! each server line). Nodes are stopped and started again by the tests;
//! each test takes its turn and starts from three nodes, green, with
//! nothing of ours.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use elasticsearch::http::Method;
use serde_json::{Value, json};
use support::Run;
use support::es_client::{Es, TURN};

/// The three nodes' URLs and the folder holding their configs and data.
struct Cluster {
    urls: Vec<String>,
    dir: String,
}

fn cluster() -> Cluster {
    let missing = |name: &str| {
        panic!(
            "{name} is not set: the cluster tests need a real three-node Elasticsearch. \
             Run the suite with `bash tests/support/test.sh`, which starts one."
        )
    };
    let urls = std::env::var("STRATA_TEST_ES_CLUSTER")
        .unwrap_or_else(|_| missing("STRATA_TEST_ES_CLUSTER"))
        .split(',')
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(urls.len(), 3, "three node URLs");
    let dir = std::env::var("STRATA_TEST_ES_CLUSTER_DIR")
        .unwrap_or_else(|_| missing("STRATA_TEST_ES_CLUSTER_DIR"));
    Cluster { urls, dir }
}

impl Cluster {
    /// A client for node `n` (1, 2 or 3).
    fn es(&self, n: usize) -> Es {
        Es::at(&self.urls[n - 1])
    }

    fn node_script(&self, action: &str, n: usize) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/es_cluster.sh");
        let status = Command::new("bash")
            .args([script, action, &self.dir, &n.to_string()])
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{action} node {n}");
    }

    fn running(&self, n: usize) -> bool {
        std::path::Path::new(&format!("{}/node{n}/pid", self.dir)).exists()
    }

    /// Stops node `n` and waits until the two others agree it is gone.
    async fn stop(&self, n: usize) {
        self.node_script("stop", n);
        let other = if n == 1 { 2 } else { 1 };
        self.es(other)
            .ok(
                Method::Get,
                "/_cluster/health?wait_for_nodes=2&timeout=60s",
                None,
            )
            .await;
    }

    /// Kills node `n` (SIGKILL: a crash, not a shutdown) and waits until
    /// the two others agree it is gone.
    async fn crash(&self, n: usize) {
        self.node_script("kill", n);
        let other = if n == 1 { 2 } else { 1 };
        self.es(other)
            .wait_ok(
                "/_cluster/health?wait_for_nodes=2&timeout=60s",
                Duration::from_secs(90),
            )
            .await;
    }

    /// Starts every stopped node and waits until each answers and sees
    /// three nodes.
    async fn all_up(&self) {
        for n in 1..=3 {
            if !self.running(n) {
                self.node_script("start", n);
            }
        }
        // Every node's own HTTP port, not only the cluster's view: a node
        // counts as joined a moment before it serves requests.
        for n in 1..=3 {
            let health = self
                .es(n)
                .wait_ok(
                    "/_cluster/health?wait_for_nodes=3&timeout=120s",
                    Duration::from_secs(180),
                )
                .await;
            assert_eq!(health["timed_out"], false, "node {n}: {health}");
        }
    }

    /// Waits until every shard of the cluster is assigned.
    async fn green(&self) {
        let health = self
            .es(1)
            .ok(
                Method::Get,
                "/_cluster/health?wait_for_status=green&timeout=120s",
                None,
            )
            .await;
        assert_eq!(health["timed_out"], false, "{health}");
    }

    /// The node (1, 2 or 3) holding the primary of `index`'s shard 0.
    async fn primary_of(&self, index: &str) -> usize {
        let shards = self
            .es(1)
            .ok(
                Method::Get,
                &format!("/_cat/shards/{index}?format=json&h=shard,prirep,state,node"),
                None,
            )
            .await;
        let node = shards
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["shard"] == "0" && s["prirep"] == "p" && s["state"] == "STARTED")
            .unwrap_or_else(|| panic!("no started primary of {index}: {shards}"))["node"]
            .as_str()
            .unwrap()
            .to_string();
        node.trim_start_matches("node-").parse().unwrap()
    }
}

trait WaitOk {
    /// `GET path` until a node answers 2xx (one may be starting).
    async fn wait_ok(&self, path: &str, within: Duration) -> Value;
}

impl WaitOk for Es {
    async fn wait_ok(&self, path: &str, within: Duration) -> Value {
        let deadline = std::time::Instant::now() + within;
        loop {
            let answer = self
                .0
                .send(
                    Method::Get,
                    path,
                    Default::default(),
                    Option::<&()>::None,
                    Option::<String>::None,
                    None,
                )
                .await;
            if let Ok(r) = answer
                && r.status_code().is_success()
            {
                return r.json().await.unwrap();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path} never answered"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The turn to use the cluster: three nodes up, green, nothing of ours.
async fn turn() -> (tokio::sync::MutexGuard<'static, ()>, Cluster) {
    let turn = TURN.lock().await;
    let c = cluster();
    c.all_up().await;
    // An index a failed test left red would keep the cluster from green.
    c.es(1).reset().await;
    c.green().await;
    (turn, c)
}

/// A project whose `search` database is node `n`'s URL (`ES_URL`), with
/// `extra` settings.
fn project(extra: &str) -> support::Project {
    let p = support::Project::new();
    p.config(&format!(
        "[databases.search]\nkind = \"elasticsearch\"\nurl = \"${{ES_URL}}\"\n\
         migrations = \"migrations\"\nrollbacks = \"rollbacks\"\n{extra}"
    ));
    p
}

fn migrate(p: &support::Project, c: &Cluster, n: usize, args: &[&str]) -> Run {
    p.migrate_raw(args, &[("ES_URL", &c.urls[n - 1])])
}

/// Both copies of each of strata's own indices, started on two nodes.
async fn copies(es: &Es, index: &str) -> Vec<String> {
    let shards = es
        .ok(
            Method::Get,
            &format!("/_cat/shards/{index}?format=json&h=prirep,state,node"),
            None,
        )
        .await;
    let mut nodes: Vec<String> = shards
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "STARTED")
        .map(|s| s["node"].as_str().unwrap().to_string())
        .collect();
    nodes.sort();
    nodes
}

#[tokio::test]
async fn strata_history_and_lock_keep_a_copy_on_a_second_node() {
    let (_turn, c) = turn().await;
    let es = c.es(1);
    let p = project("");
    p.migration("V1__a.json", r#"[{"create_index": {"index": "a"}}]"#);
    migrate(&p, &c, 1, &["up"]).expect(0);
    es.ok(
        Method::Get,
        "/_cluster/health?wait_for_status=green&timeout=60s",
        None,
    )
    .await;
    for index in ["schema_migrations", "schema_migrations_lock"] {
        let settings = es
            .ok(
                Method::Get,
                &format!("/{index}/_settings?flat_settings=true"),
                None,
            )
            .await;
        let settings = &settings[index]["settings"];
        assert_eq!(settings["index.auto_expand_replicas"], "0-1", "{index}");
        assert_eq!(settings["index.number_of_replicas"], "1", "{index}");
        let nodes = copies(&es, index).await;
        assert_eq!(nodes.len(), 2, "{index}: {nodes:?}");
        assert_ne!(nodes[0], nodes[1], "{index}: two nodes hold its copies");
    }
}

#[tokio::test]
async fn losing_the_node_with_the_history_between_two_migrations_loses_nothing() {
    let (_turn, c) = turn().await;
    let p = project("");
    p.migration("V1__a.json", r#"[{"create_index": {"index": "a"}}]"#);
    migrate(&p, &c, 1, &["up"]).expect(0);
    let es = c.es(1);
    es.ok(
        Method::Get,
        "/_cluster/health/schema_migrations?wait_for_status=green&timeout=60s",
        None,
    )
    .await;

    // The node holding the history's primary goes; strata talks to another.
    let gone = c.primary_of("schema_migrations").await;
    let stays = if gone == 3 { 2 } else { 3 };
    c.stop(gone).await;
    let run = migrate(&p, &c, stays, &["status"]);
    run.expect(0);
    assert!(run.stdout.contains("1 applied"), "{}", run.stdout);
    assert!(!run.stdout.contains("pending"), "{}", run.stdout);

    p.migration(
        "V2__b.json",
        r#"[{"create_index": {"index": "b", "settings": {"number_of_replicas": 1}}},
            {"index_documents": {"index": "b", "documents": [{"_id": "1", "n": 1}]}}]"#,
    );
    migrate(&p, &c, stays, &["up"]).expect(0);
    let survivor = c.es(stays);
    assert_eq!(survivor.history().await, [(1, true), (2, true)]);
    assert_eq!(survivor.count("b").await, 1);
    // And the node that comes back holds the same history.
    c.all_up().await;
    assert_eq!(c.es(gone).history().await, [(1, true), (2, true)]);
}

#[tokio::test]
async fn a_red_cluster_is_refused_naming_its_unassigned_primaries() {
    let (_turn, c) = turn().await;
    let es = c.es(1);
    // A primary that can go nowhere: the cluster is red.
    es.ok(
        Method::Put,
        "/stranded?wait_for_active_shards=0",
        Some(json!({"settings": {"number_of_replicas": 0,
            "index.routing.allocation.require._name": "no-such-node"}})),
    )
    .await;
    let p = project("");
    p.migration("V1__a.json", r#"[{"create_index": {"index": "a"}}]"#);
    let run = migrate(&p, &c, 2, &["up"]);
    run.expect(1);
    let err = run.stderr.clone();
    assert!(err.contains("health is red"), "{err}");
    assert!(err.contains("stranded[0] (primary"), "{err}");
    assert!(err.contains("Nothing was run"), "{err}");
    assert!(!es.exists("a").await, "nothing ran");
    assert!(es.history().await.is_empty());

    es.ok(Method::Delete, "/stranded", None).await;
    migrate(&p, &c, 2, &["up"]).expect(0);
    assert!(es.exists("a").await);
}

#[tokio::test]
async fn require_health_green_refuses_a_yellow_cluster_naming_its_replicas() {
    let (_turn, c) = turn().await;
    let es = c.es(1);
    // Four copies on three nodes: one replica stays unassigned (yellow).
    es.ok(
        Method::Put,
        "/wide",
        Some(json!({"settings": {"number_of_replicas": 3}})),
    )
    .await;
    let p = project("require_health = \"green\"\n");
    p.migration("V1__a.json", r#"[{"create_index": {"index": "a"}}]"#);
    let run = migrate(&p, &c, 1, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("health is yellow"), "{}", run.stderr);
    assert!(run.stderr.contains("requires green"), "{}", run.stderr);
    assert!(run.stderr.contains("wide[0] (replica"), "{}", run.stderr);
    assert!(!es.exists("a").await);

    // The default, yellow, runs on it.
    let p = project("");
    p.migration("V1__a.json", r#"[{"create_index": {"index": "a"}}]"#);
    migrate(&p, &c, 1, &["up"]).expect(0);
    assert!(es.exists("a").await);
}

#[tokio::test]
async fn wait_for_active_shards_all_fails_cleanly_when_copies_cannot_start() {
    let (_turn, c) = turn().await;
    let es = c.es(1);
    let p = project("wait_for_active_shards = \"all\"\n");
    // Four copies of each shard on three nodes: "all" can never be met.
    p.migration(
        "V1__wide.json",
        r#"[{"create_index": {"index": "wide", "settings": {"number_of_replicas": 3}}}]"#,
    );
    let run = migrate(&p, &c, 1, &["up"]);
    run.expect(1);
    assert!(
        run.stderr.contains("shard copies did not start"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("deleted again"), "{}", run.stderr);
    assert!(!es.exists("wide").await, "the index was taken back");
    assert!(
        es.history().await.is_empty(),
        "nothing recorded, nothing dirty"
    );

    // Three copies on three nodes: "all" is met, and so is a number.
    p.migration(
        "V1__wide.json",
        r#"[{"create_index": {"index": "wide", "settings": {"number_of_replicas": 2}}}]"#,
    );
    migrate(&p, &c, 1, &["up"]).expect(0);
    let copies = copies(&es, "wide").await;
    assert_eq!(copies.len(), 3, "every copy started before the step ended");
    es.reset().await;
    let p = project("wait_for_active_shards = 2\n");
    p.migration(
        "V1__pair.json",
        r#"[{"create_index": {"index": "pair", "settings": {"number_of_replicas": 1}}},
            {"index_documents": {"index": "pair", "documents": [{"_id": "1"}]}}]"#,
    );
    migrate(&p, &c, 1, &["up"]).expect(0);
    assert_eq!(es.count("pair").await, 1);
}

#[tokio::test]
async fn a_node_lost_during_a_reindex_never_leaves_the_alias_on_a_partial_copy() {
    let (_turn, c) = turn().await;
    let es = c.es(1);
    es.ok(
        Method::Put,
        "/docs_v1",
        Some(
            json!({"settings": {"number_of_shards": 1, "number_of_replicas": 1},
                    "aliases": {"docs": {}}}),
        ),
    )
    .await;
    const DOCS: usize = 60_000;
    for chunk in 0..(DOCS / 5000) {
        let mut bulk = String::new();
        for i in chunk * 5000..(chunk + 1) * 5000 {
            bulk.push_str(&format!(
                "{{\"index\":{{\"_id\":\"{i}\"}}}}\n{{\"n\":{i}}}\n"
            ));
        }
        let r =
            es.0.send(
                Method::Post,
                "/docs_v1/_bulk",
                {
                    let mut h = elasticsearch::http::headers::HeaderMap::new();
                    h.insert(
                        elasticsearch::http::headers::CONTENT_TYPE,
                        "application/x-ndjson".parse().unwrap(),
                    );
                    h
                },
                Option::<&()>::None,
                Some(bulk),
                None,
            )
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"], false);
    }
    assert_eq!(es.count("docs_v1").await, DOCS as u64);

    // The copy lives on nodes 2 and 3; strata talks to node 1, which stays.
    let p = project("");
    p.migration(
        "V1__reindex.json",
        r#"[{"reindex": {"alias": "docs", "to": "docs_v2", "batch_size": 100,
              "settings": {"number_of_shards": 1, "number_of_replicas": 1,
                           "index.routing.allocation.exclude._name": "node-1"}}}]"#,
    );
    let mut child = Command::new(support::migrate_bin())
        .args(["up"])
        .current_dir(p.path())
        .env("ES_URL", &c.urls[0])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the copy has started writing, then stop the node holding
    // its primary.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, stats) = es.call(Method::Get, "/docs_v2/_stats/indexing", None).await;
        if status == 200 && stats["_all"]["primaries"]["indexing"]["index_total"].as_u64() > Some(0)
        {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the copy was seen"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gone = c.primary_of("docs_v2").await;
    assert_ne!(gone, 1);
    c.crash(gone).await;
    let stopped_mid_copy = child.try_wait().unwrap().is_none();
    let out = child.wait_with_output().unwrap();
    let run = Run::from(out);
    eprintln!("the run that lost a node exited {}", run.code);
    assert!(
        stopped_mid_copy,
        "the node was stopped before the copy ended"
    );
    match run.code {
        0 => {
            assert_eq!(es.alias("docs").await, ["docs_v2"]);
            assert_eq!(es.count("docs_v2").await, DOCS as u64);
        }
        1 => {
            assert_eq!(es.alias("docs").await, ["docs_v1"], "{}", run.all());
            assert!(!es.exists("docs_v2").await, "{}", run.all());
            assert!(
                run.stderr.contains("still points at docs_v1"),
                "{}",
                run.stderr
            );
            // After a look, the next run starts the copy again and finishes.
            c.all_up().await;
            migrate(&p, &c, 1, &["repair"]).expect(0);
            migrate(&p, &c, 1, &["up"]).expect(0);
            assert_eq!(es.alias("docs").await, ["docs_v2"]);
            assert_eq!(es.count("docs_v2").await, DOCS as u64);
        }
        other => panic!("exit {other}: {}", run.all()),
    }
    assert_eq!(
        es.count("docs_v1").await,
        DOCS as u64,
        "the source is untouched"
    );
}

#[tokio::test]
async fn two_runners_on_different_nodes_apply_each_migration_once() {
    let (_turn, c) = turn().await;
    let es = c.es(1);
    for round in 0..3 {
        es.reset().await;
        let p = project("");
        p.migration(
            "V1__events.json",
            r#"[{"create_index": {"index": "events"}}]"#,
        );
        // A write that would show a second run: an id chosen by the server.
        p.migration(
            "V2__first_event.json",
            r#"[{"request": {"method": "POST", "path": "/events/_doc?refresh=true",
                 "body": {"kind": "created"}}}]"#,
        );
        let spawn = |n: usize| {
            Command::new(support::migrate_bin())
                .args(["up", "--lock-timeout", "120"])
                .current_dir(p.path())
                .env("ES_URL", &c.urls[n - 1])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(1), spawn(2));
        for child in [a, b] {
            Run::from(child.wait_with_output().unwrap()).expect_in(0, &format!("round {round}"));
        }
        assert_eq!(es.history().await, [(1, true), (2, true)], "round {round}");
        assert_eq!(es.count("events").await, 1, "round {round}: applied once");
    }
}
