//! The Neo4j backend against the real Neo4j that `tests/support/test.sh`
//! starts. Community Neo4j has one user database, so these tests take turns
//! (a shared mutex) and each starts from an empty graph with no schema.

mod support;

use neo4rs::query;
use support::neo4j_client::{TURN, count, graph, history, reset, server, strings};
use support::{Project, Run};

fn project() -> Project {
    let p = Project::new();
    p.config(
        "[databases.graph]\nkind = \"neo4j\"\nurl = \"${NEO4J_URL}\"\nuser = \"neo4j\"\n\
         password = \"${NEO4J_PASSWORD}\"\nmigrations = \"migrations\"\nrollbacks = \"rollbacks\"\n",
    );
    p
}

fn migrate(p: &Project, args: &[&str]) -> Run {
    let (url, password) = server();
    p.migrate_raw(args, &[("NEO4J_URL", &url), ("NEO4J_PASSWORD", &password)])
}

fn demo(args: &[&str]) -> Run {
    let (url, password) = server();
    Run::from(
        std::process::Command::new(support::migrate_bin())
            .args(["--database", "graph"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("APP_DATABASE_URL", "postgres://unused@127.0.0.1:1/none")
            .env("GRAPH_DATABASE_URL", url)
            .env("GRAPH_DATABASE_PASSWORD", password)
            .env("SEARCH_DATABASE_URL", "http://127.0.0.1:1")
            .env("VECTORS_DATABASE_URL", "http://127.0.0.1:1")
            .output()
            .unwrap(),
    )
}

#[tokio::test]
async fn demo_graph_applies_backfills_in_batches_and_rolls_back() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;

    demo(&["up", "--to", "3"]).expect(0);
    // Existing data for the backfill: more rows than one batch.
    g.run(query(
        "UNWIND range(1, 1234) AS i CREATE (:Concept {id: i, name: ' Linear Algebra ' + i})",
    ))
    .await
    .unwrap();
    demo(&["up"]).expect(0);
    assert_eq!(
        history(&g).await,
        (1..=5).map(|v| (v, true)).collect::<Vec<_>>()
    );
    assert_eq!(
        count(
            &g,
            "MATCH (c:Concept) WHERE c.slug STARTS WITH 'linear-algebra-' RETURN count(c) AS n"
        )
        .await,
        1234
    );
    let constraints = strings(&g, "SHOW CONSTRAINTS YIELD name RETURN name AS x").await;
    for c in [
        "user_id_unique",
        "concept_id_unique",
        "entity_id_unique",
        "learning_path_id_unique",
        "SchemaMigration_version_unique",
    ] {
        assert!(
            constraints.contains(&c.to_string()),
            "{c} in {constraints:?}"
        );
    }
    assert_eq!(
        count(&g, "SHOW INDEXES YIELD name, entityType WHERE name = 'related_to_weight' AND entityType = 'RELATIONSHIP' RETURN count(*) AS n").await,
        1
    );
    // The lock was released.
    assert_eq!(
        count(&g, "MATCH (l:SchemaMigrationLock) RETURN count(l) AS n").await,
        0
    );
    let status = demo(&["status"]);
    status.expect(0);
    assert!(status.stdout.contains("5 applied"), "{}", status.stdout);

    demo(&["down", "--to", "0"]).expect(0);
    assert!(history(&g).await.is_empty());
    assert_eq!(
        count(
            &g,
            "MATCH (c:Concept) WHERE c.slug IS NOT NULL RETURN count(c) AS n"
        )
        .await,
        0
    );
    let left = strings(&g, "SHOW CONSTRAINTS YIELD name RETURN name AS x").await;
    assert!(
        left.iter().all(|c| c.starts_with("SchemaMigration")),
        "{left:?}"
    );
    assert_eq!(
        strings(&g, "SHOW INDEXES YIELD name, type, owningConstraint WHERE type <> 'LOOKUP' AND owningConstraint IS NULL RETURN name AS x").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_failing_statement_is_named_and_leaves_a_dirty_record_until_repair() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    p.migration("V1__ok.cypher", "CREATE (:Marker {v: 1});\n");
    p.migration(
        "V2__broken.cypher",
        "CREATE (:Marker {v: 2});\n// the typo below\nMATCH (n:Marker) RETURNN n;\nCREATE (:Marker {v: 3});\n",
    );
    let up = migrate(&p, &["up"]);
    up.expect(1);
    for part in [
        "V2__broken.cypher:3 (statement 2: MATCH (n:Marker) RETURNN n)",
        "Neo.ClientError.Statement.SyntaxError",
        "this run completed version(s) 1 before it",
    ] {
        assert!(up.stderr.contains(part), "{part} not in {}", up.stderr);
    }
    assert_eq!(history(&g).await, vec![(1, true), (2, false)]);
    // The statement before the failure ran, the one after did not.
    assert_eq!(count(&g, "MATCH (m:Marker) RETURN count(m) AS n").await, 2);

    let again = migrate(&p, &["up"]);
    again.expect(3);
    assert!(again.stderr.contains("dirty"), "{}", again.stderr);

    p.migration(
        "V2__broken.cypher",
        "CREATE (:Marker {v: 2});\nMATCH (n:Marker) RETURN n;\nCREATE (:Marker {v: 3});\n",
    );
    migrate(&p, &["repair"]).expect(0);
    assert_eq!(history(&g).await, vec![(1, true)]);
    migrate(&p, &["up"]).expect(0);
    assert_eq!(history(&g).await, vec![(1, true), (2, true)]);
}

#[tokio::test]
async fn syntax_neo4j_5_removed_fails_with_the_servers_message() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    p.migration(
        "V1__old_constraint.cypher",
        "CREATE CONSTRAINT ON (u:User) ASSERT u.id IS UNIQUE;\n",
    );
    let up = migrate(&p, &["up"]);
    up.expect(1);
    assert!(
        up.stderr
            .contains("V1__old_constraint.cypher:1 (statement 1: CREATE CONSTRAINT ON (u:User) ASSERT u.id IS UNIQUE)"),
        "{}",
        up.stderr
    );
    assert!(
        up.stderr.contains("Neo.ClientError.Statement.SyntaxError"),
        "{}",
        up.stderr
    );
    assert!(
        strings(&g, "SHOW CONSTRAINTS YIELD name, labelsOrTypes WHERE 'User' IN labelsOrTypes RETURN name AS x").await.is_empty()
    );
}

#[tokio::test]
async fn concurrent_runners_apply_each_migration_once() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    p.migration(
        "V1__constraint.cypher",
        "CREATE CONSTRAINT run_v IF NOT EXISTS FOR (r:Run) REQUIRE r.v IS UNIQUE;\n",
    );
    for v in 2..=12 {
        // A second application of any of these would fail on the constraint.
        p.migration(
            &format!("V{v}__run_{v}.cypher"),
            &format!("CREATE (:Run {{v: {v}}});\n"),
        );
    }
    let (url, password) = server();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = std::process::Command::new(support::migrate_bin());
            cmd.args(["up"])
                .current_dir(p.path())
                .env("NEO4J_URL", &url)
                .env("NEO4J_PASSWORD", &password);
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    for h in handles {
        Run::from(h.join().unwrap()).expect(0);
    }
    assert_eq!(
        history(&g).await,
        (1..=12).map(|v| (v, true)).collect::<Vec<_>>()
    );
    assert_eq!(count(&g, "MATCH (r:Run) RETURN count(r) AS n").await, 11);
}

#[tokio::test]
async fn a_stale_lock_is_reported_and_broken_only_by_unlock() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    p.migration("V1__a.cypher", "CREATE (:A);\n");
    // A runner that died an hour ago left its lock behind.
    g.run(query(
        "CREATE (:SchemaMigrationLock {name: 'lock', owner: 'gone-host pid 42', \
         acquired_at: datetime() - duration('PT1H'), expires_at: datetime() - duration('PT59M')})",
    ))
    .await
    .unwrap();
    let up = migrate(&p, &["--lock-timeout", "1", "up"]);
    up.expect(1);
    for part in ["gone-host pid 42", "stale", "migrate unlock"] {
        assert!(up.stderr.contains(part), "{part} not in {}", up.stderr);
    }
    assert!(history(&g).await.is_empty(), "never silently stolen");

    let unlock = migrate(&p, &["unlock"]);
    unlock.expect(0);
    assert!(
        unlock
            .stdout
            .contains("removed the lock held by gone-host pid 42"),
        "{}",
        unlock.stdout
    );
    migrate(&p, &["up"]).expect(0);
    assert_eq!(history(&g).await, vec![(1, true)]);

    // A live lock (its lease in the future) is not removed without --force.
    g.run(query(
        "CREATE (:SchemaMigrationLock {name: 'lock', owner: 'busy-host pid 7', \
         acquired_at: datetime(), expires_at: datetime() + duration('PT1H')})",
    ))
    .await
    .unwrap();
    let refused = migrate(&p, &["unlock"]);
    refused.expect(1);
    assert!(
        refused.stderr.contains("its owner is alive"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        count(&g, "MATCH (l:SchemaMigrationLock) RETURN count(l) AS n").await,
        1
    );
    migrate(&p, &["unlock", "--force"]).expect(0);
    assert_eq!(
        count(&g, "MATCH (l:SchemaMigrationLock) RETURN count(l) AS n").await,
        0
    );
}

#[tokio::test]
async fn a_wrong_password_fails_to_connect_without_showing_it() {
    let _turn = TURN.lock().await;
    let (url, _) = server();
    // Another user: Neo4j locks out a user after repeated failures, and
    // the other tests need `neo4j`.
    let p = Project::new();
    p.config(
        "[databases.graph]\nkind = \"neo4j\"\nurl = \"${NEO4J_URL}\"\nuser = \"intruder\"\n\
         password = \"${NEO4J_PASSWORD}\"\nmigrations = \"migrations\"\n",
    );
    p.migration("V1__a.cypher", "CREATE (:A);\n");
    let secret = "wrong-Pa55word-x";
    let up = p.migrate_raw(&["up"], &[("NEO4J_URL", &url), ("NEO4J_PASSWORD", secret)]);
    up.expect(1);
    // The server's own reason, at once: the driver is not left retrying a
    // refused password until the timeout (which would also lock the user
    // out).
    assert!(
        up.stderr
            .contains("database graph: cannot connect to bolt://intruder:***@")
            && up
                .stderr
                .contains("unauthorized due to authentication failure")
            && !up.stderr.contains("no answer within"),
        "{}",
        up.stderr
    );
    assert!(!up.all().contains(secret), "{}", up.all());
}

#[test]
fn bad_cypher_files_fail_before_connecting() {
    let p = project();
    p.migration("V1__a.cypher", "CREATE (:A {s: 'unterminated});\n");
    // Nothing listens on port 1: validation must fail first.
    let up = p.migrate_raw(
        &["up"],
        &[("NEO4J_URL", "bolt://127.0.0.1:1"), ("NEO4J_PASSWORD", "x")],
    );
    up.expect(2);
    assert!(
        up.stderr
            .contains("V1__a.cypher: line 1: unterminated string '…'"),
        "{}",
        up.stderr
    );
}

#[tokio::test]
async fn an_index_left_by_a_killed_constraint_creation_is_cleared() {
    // Neo4j builds a constraint's index before the constraint: a runner
    // killed in between leaves an ownerless index of the constraint's name,
    // on which every later CREATE CONSTRAINT … IF NOT EXISTS fails.
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    for (label, property) in [
        ("SchemaMigrationLock", "name"),
        ("SchemaMigration", "version"),
    ] {
        g.run(query(&format!(
            "CREATE INDEX {label}_{property}_unique FOR (n:{label}) ON (n.{property})"
        )))
        .await
        .unwrap();
    }
    let p = project();
    p.migration("V1__a.cypher", "CREATE (:A);\n");
    let up = migrate(&p, &["up"]);
    up.expect(0);
    assert!(
        up.stderr
            .contains("removing an index left by an interrupted creation of its constraint"),
        "{}",
        up.stderr
    );
    assert_eq!(
        strings(&g, "SHOW CONSTRAINTS YIELD name RETURN name AS x").await,
        [
            "SchemaMigrationLock_name_unique",
            "SchemaMigration_version_unique"
        ]
    );
    assert_eq!(history(&g).await, vec![(1, true)]);
}

#[tokio::test]
async fn a_file_failing_on_its_first_statement_leaves_no_dirty_record() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    // Neo4j 4.x syntax, refused by Neo4j 5 at the first statement.
    p.migration(
        "V1__seed.cypher",
        "CREATE CONSTRAINT ON (u:User) ASSERT u.id IS UNIQUE;\nCREATE (:User {id: 1});\n",
    );
    let up = migrate(&p, &["up"]);
    up.expect(1);
    assert!(up.stderr.contains("no repair is needed"), "{}", up.stderr);
    assert_eq!(history(&g).await, Vec::<(i64, bool)>::new());
    assert_eq!(count(&g, "MATCH (u:User) RETURN count(u) AS n").await, 0);
    p.migration(
        "V1__seed.cypher",
        "CREATE CONSTRAINT user_id FOR (u:User) REQUIRE u.id IS UNIQUE;\nCREATE (:User {id: 1});\n",
    );
    migrate(&p, &["up"]).expect(0);
    assert_eq!(history(&g).await, vec![(1, true)]);
}

#[tokio::test]
async fn a_file_that_deletes_strata_s_history_is_stopped_and_the_history_rewritten() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    p.migration("V1__a.cypher", "CREATE (:Marker {v: 1});\n")
        .migration("V2__b.cypher", "CREATE (:Marker {v: 2});\n")
        .migration(
            "V3__wipe.cypher",
            "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS;\n",
        )
        .migration("V4__c.cypher", "CREATE (:Marker {v: 4});\n");
    migrate(&p, &["up", "--to", "2"]).expect(0);
    let up = migrate(&p, &["up"]);
    up.expect(1);
    for part in [
        "version 3 (V3__wipe.cypher) removed strata's history and its lock",
        "re-recorded the 3 version(s) this run knew of (1, 2, 3)",
        "this run completed version(s) 3 before it",
    ] {
        assert!(up.stderr.contains(part), "{part} not in {}", up.stderr);
    }
    assert!(!up.stderr.contains("held by nobody"), "{}", up.stderr);
    // The history says what happened; version 4 did not run; no lock is left.
    assert_eq!(history(&g).await, vec![(1, true), (2, true), (3, true)]);
    assert_eq!(
        count(&g, "MATCH (m:Marker {v: 4}) RETURN count(m) AS n").await,
        0
    );
    assert_eq!(
        count(&g, "MATCH (l:SchemaMigrationLock) RETURN count(l) AS n").await,
        0
    );
    let status = migrate(&p, &["status"]);
    status.expect(0);
    assert!(
        status.stdout.contains("3 applied, 1 pending"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn cypher_shell_commands_are_refused_and_comment_only_rollbacks_do_nothing() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    p.migration("V1__marker.cypher", "CREATE (:Marker {v: 1});\n");
    p.migration(
        "V2__system.cypher",
        "CREATE (:Marker {v: 2});\n:use system\nCREATE DATABASE other;\n",
    );
    let run = migrate(&p, &["up"]);
    run.expect(2);
    assert!(
        run.stderr.contains("V2__system.cypher:2")
            && run.stderr.contains(":use is a cypher-shell command"),
        "{}",
        run.stderr
    );
    assert_eq!(count(&g, "MATCH (m:Marker) RETURN count(m) AS n").await, 0);
    p.remove_migration("V2__system.cypher");
    p.rollback(
        "U1__marker.cypher",
        "// the marker stays: nothing to undo\n",
    );
    migrate(&p, &["up"]).expect(0);
    migrate(&p, &["down"]).expect(0);
    assert_eq!(count(&g, "MATCH (m:Marker) RETURN count(m) AS n").await, 1);
    assert!(history(&g).await.is_empty());
}

/// The run was refused (exit 3) for `requirement`, at `place`, on the
/// Community Edition test server.
fn refused_on_community(run: &Run, place: &str, requirement: &str) {
    run.expect(3);
    let said = &run.stderr;
    assert!(said.contains(place), "{said}");
    assert!(
        said.contains(&format!("requires `{requirement}`")),
        "{said}"
    );
    assert!(said.contains("Neo4j community"), "{said}");
}

#[tokio::test]
async fn preconditions_refuse_or_skip_before_anything_runs() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    // The test server is Community Edition 5.x.
    p.migration(
        "V1__marker.cypher",
        "// assert that version is ge 5.13\nCREATE (:Marker {v: 1});\n",
    );
    p.migration(
        "V2__node_key.cypher",
        "// strata:require edition=enterprise\n\
         CREATE CONSTRAINT marker_key FOR (m:Marker) REQUIRE m.v IS NODE KEY;\n",
    );
    refused_on_community(
        &migrate(&p, &["up"]),
        "V2__node_key.cypher:1",
        "strata:require edition=enterprise",
    );
    assert_eq!(count(&g, "MATCH (m:Marker) RETURN count(m) AS n").await, 0);

    // The same file as an assumption: skipped, and status says so.
    p.migration(
        "V2__node_key.cypher",
        "// assume that edition is enterprise\n\
         CREATE CONSTRAINT marker_key FOR (m:Marker) REQUIRE m.v IS NODE KEY;\n",
    );
    migrate(&p, &["up"]).expect(0);
    assert_eq!(count(&g, "MATCH (m:Marker) RETURN count(m) AS n").await, 1);
    assert_eq!(
        count(
            &g,
            "SHOW CONSTRAINTS YIELD name WHERE name = 'marker_key' RETURN count(*) AS n"
        )
        .await,
        0
    );
    let status = migrate(&p, &["status"]);
    status.expect(0);
    assert!(
        status
            .stdout
            .contains("skipped: `assume that edition is enterprise` does not hold"),
        "{}",
        status.stdout
    );
    // A precondition that cannot be read is refused with its line.
    p.migration(
        "V3__typo.cypher",
        "// assume that edition is platinum\nRETURN 1;\n",
    );
    let run = migrate(&p, &["up"]);
    run.expect(2);
    assert!(run.stderr.contains("V3__typo.cypher:1"), "{}", run.stderr);
}

#[tokio::test]
async fn query_preconditions_are_answered_by_the_graph_before_anything_runs() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    p.migration("V1__book.cypher", "CREATE (:Book {title: 'a'});\n");
    // Judged before anything runs (as neo4j-migrations does): no Book yet.
    p.migration(
        "V2__shelf.cypher",
        "// assume q' MATCH (b:Book) RETURN count(b) = 0\nCREATE (:Shelf);\n",
    );
    p.migration(
        "V3__never.cypher",
        "// Assume in schema q'RETURN false\nCREATE (:Never);\n",
    );
    // A precondition that writes changes nothing: it is rolled back.
    p.migration(
        "V4__checked.cypher",
        "// ASSERT q' CREATE (:Leak) RETURN true\nCREATE (:Checked);\n",
    );
    // Read as neo4j-migrations reads it (any case): skipped on Community.
    p.migration(
        "V5__enterprise.cypher",
        "// ASSUME that Edition is Enterprise\nCREATE (:Enterprise);\n",
    );
    // The plan shows what will be skipped, and why.
    let plan = migrate(&p, &["plan"]);
    plan.expect(0);
    let skipped: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("skip "))
        .collect();
    assert_eq!(skipped.len(), 2, "{}", plan.stdout);
    assert!(skipped[0].ends_with("V3__never.cypher"), "{}", plan.stdout);
    assert!(
        skipped[1].ends_with("V5__enterprise.cypher"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "~ recorded without running: `Assume in schema q'RETURN false` does not hold: \
             the query answers false"
        ),
        "{}",
        plan.stdout
    );
    let json = migrate(&p, &["plan", "--format", "json"]);
    json.expect(0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let steps = json["databases"][0]["steps"].as_array().unwrap();
    let skips: Vec<bool> = steps.iter().map(|s| s.get("skip").is_some()).collect();
    assert_eq!(skips, [false, false, true, false, true]);
    migrate(&p, &["up"]).expect(0);
    for (label, n) in [
        ("Book", 1),
        ("Shelf", 1),
        ("Never", 0),
        ("Leak", 0),
        ("Checked", 1),
        ("Enterprise", 0),
    ] {
        let q = format!("MATCH (x:{label}) RETURN count(x) AS n");
        assert_eq!(count(&g, &q).await, n, "{label}");
    }
    assert_eq!(
        history(&g).await,
        (1..=5).map(|v| (v, true)).collect::<Vec<_>>()
    );
    let status = migrate(&p, &["status"]);
    status.expect(0);
    for skipped in [
        "skipped: `Assume in schema q'RETURN false` does not hold: the query answers false",
        "skipped: `ASSUME that Edition is Enterprise` does not hold: the server is Neo4j community",
    ] {
        assert!(status.stdout.contains(skipped), "{}", status.stdout);
    }

    // An unmet assertion refuses the run before anything runs.
    p.migration("V6__more.cypher", "CREATE (:More);\n");
    p.migration(
        "V7__empty_only.cypher",
        "// assert in target q' MATCH (b:Book) RETURN count(b) = 0\nCREATE (:X);\n",
    );
    let run = migrate(&p, &["up"]);
    run.expect(3);
    assert!(
        run.stderr.contains(
            "V7__empty_only.cypher:1) requires `assert in target q' MATCH (b:Book) RETURN \
             count(b) = 0`, but the query answers false"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(count(&g, "MATCH (x:More) RETURN count(x) AS n").await, 0);

    // A query that does not answer one boolean, or that the server cannot
    // read, is the file's error (exit 2), naming its line.
    for (body, why) in [
        ("// assume q' RETURN 1\n", "the row is not one boolean"),
        (
            "// assume q' RETURN true, false\n",
            "the row is not one boolean",
        ),
        (
            "// assume q' UNWIND [true, true] AS b RETURN b\n",
            "more than one row",
        ),
        ("// assume q' MATCH (n:Nothing) RETURN true\n", "no row"),
        ("// assume q' RETRUN true\n", "Invalid input"),
    ] {
        p.migration("V7__empty_only.cypher", &format!("{body}CREATE (:X);\n"));
        let run = migrate(&p, &["up"]);
        run.expect(2);
        assert!(
            run.stderr.contains("V7__empty_only.cypher"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("line 1"), "{}", run.stderr);
        assert!(run.stderr.contains(why), "{body}: {}", run.stderr);
        assert_eq!(count(&g, "MATCH (x:More) RETURN count(x) AS n").await, 0);
    }
}

#[tokio::test]
async fn enterprise_only_schema_on_community_is_refused_before_anything_runs() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = project();
    p.migration("V1__marker.cypher", "CREATE (:Marker {v: 1});\n");
    // No precondition: two statements that Community runs, then a node key.
    p.migration(
        "V2__keys.cypher",
        "CREATE (:Marker {v: 2});\n\
         CREATE CONSTRAINT marker_id IF NOT EXISTS FOR (m:Marker) REQUIRE m.v IS UNIQUE;\n\
         CREATE CONSTRAINT marker_key\n  FOR (m:Marker) REQUIRE (m.v) IS NODE KEY;\n",
    );
    for command in ["plan", "up"] {
        refused_on_community(
            &migrate(&p, &[command]),
            "V2__keys.cypher:3",
            "Enterprise Edition, for a node key constraint",
        );
    }
    // Nothing ran: not V1, not the statements before the constraint.
    assert_eq!(count(&g, "MATCH (m:Marker) RETURN count(m) AS n").await, 0);
    assert!(history(&g).await.is_empty());
    // What the server says to it (so the refusal is not stricter than Neo4j).
    let refused = g
        .run(neo4rs::query(
            "CREATE CONSTRAINT marker_key FOR (m:Marker) REQUIRE (m.v) IS NODE KEY",
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("Enterprise"), "{refused}");
}

#[tokio::test]
async fn routing_urls_and_a_named_database_keep_the_history_there() {
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let (url, password) = server();
    // neo4j:// asks the server for a routing table; a single server
    // answers one naming itself.
    let routing = url.replacen("bolt://", "neo4j://", 1);
    let p = Project::new();
    p.migration("V1__widget.cypher", "CREATE (:Widget {id: 1});\n");
    p.config(
        "[databases.graph]\nkind = \"neo4j\"\nurl = \"${NEO4J_URL}\"\nuser = \"neo4j\"\n\
         password = \"${NEO4J_PASSWORD}\"\ndatabase = \"${NEO4J_DB}\"\nmigrations = \"migrations\"\n",
    );
    let run = |db: &str| {
        p.migrate_raw(
            &["up"],
            &[
                ("NEO4J_URL", &routing),
                ("NEO4J_PASSWORD", &password),
                ("NEO4J_DB", db),
            ],
        )
    };
    // A database the server does not have: the config's mistake, named,
    // and nothing written anywhere.
    let missing = run("nope");
    missing.expect(2);
    assert!(
        missing.stderr.contains("databases.graph.database"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("\"nope\""), "{}", missing.stderr);
    assert!(!missing.all().contains(&password));
    assert!(history(&g).await.is_empty());
    assert_eq!(count(&g, "MATCH (w:Widget) RETURN count(w) AS n").await, 0);
    // The named database (community's one: neo4j) keeps the history.
    run("neo4j").expect(0);
    assert_eq!(history(&g).await, vec![(1, true)]);
    assert_eq!(count(&g, "MATCH (w:Widget) RETURN count(w) AS n").await, 1);
}
