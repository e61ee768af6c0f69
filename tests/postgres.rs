//! The `migrate` binary against a real PostgreSQL: up, down, status, drift,
//! dirty records, failures, locking and concurrency. Each test has its own
//! database on the server started by `tests/support/test.sh`.

mod support;

use std::time::{Duration, Instant};

use strata::catalog::{checksum, normalize};
use support::{Project, TestDb, admin_password};

fn three(p: &Project) {
    p.migration(
        "V1__create_users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n",
    )
    .migration(
        "V2__create_posts.sql",
        "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\n",
    )
    .migration(
        "V3__posts_index.sql",
        "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY posts_user_idx ON posts (user_id);\n",
    )
    .rollback("U1__create_users.sql", "DROP TABLE users;\n")
    .rollback("U2__create_posts.sql", "DROP TABLE posts;\n")
    .rollback(
        "U3__posts_index.sql",
        "-- strata:no-transaction\nDROP INDEX CONCURRENTLY posts_user_idx;\n",
    );
}

#[tokio::test]
async fn up_records_checksums_and_a_second_run_does_nothing() {
    let db = TestDb::new("up").await;
    let p = Project::new();
    three(&p);
    let run = p.migrate(&db, &["up"]);
    run.expect(0);
    assert!(
        run.stdout.contains("applied 1 create users"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("applied 3 posts index"),
        "{}",
        run.stdout
    );
    assert!(db.has_table("users").await && db.has_table("posts").await);
    assert!(
        db.scalar::<bool>(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'posts_user_idx'::regclass"
        )
        .await
    );
    assert_eq!(db.history().await, [(1, true), (2, true), (3, true)]);
    let recorded: String = db
        .scalar("SELECT checksum::text FROM schema_migrations WHERE version = 2")
        .await;
    let file = std::fs::read(p.path().join("migrations/V2__create_posts.sql")).unwrap();
    assert_eq!(recorded, checksum(&normalize(&file).unwrap()));

    let again = p.migrate(&db, &["up"]);
    again.expect(0);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
    assert_eq!(db.history().await.len(), 3);
}

#[tokio::test]
async fn down_reverts_newest_first_and_to_a_version() {
    let db = TestDb::new("down").await;
    let p = Project::new();
    three(&p);
    p.migrate(&db, &["up"]).expect(0);

    let one = p.migrate(&db, &["down"]);
    one.expect(0);
    assert!(one.stdout.contains("reverted 3"), "{}", one.stdout);
    assert!(
        db.scalar::<bool>("SELECT to_regclass('posts_user_idx') IS NULL")
            .await
    );
    assert_eq!(db.history().await, [(1, true), (2, true)]);

    p.migrate(&db, &["down", "--to", "0"]).expect(0);
    assert!(!db.has_table("users").await && !db.has_table("posts").await);
    assert!(db.history().await.is_empty());

    p.migrate(&db, &["up", "--to", "2"]).expect(0);
    assert_eq!(db.history().await, [(1, true), (2, true)]);
    p.migrate(&db, &["down", "--steps", "2"]).expect(0);
    assert!(db.history().await.is_empty());
}

#[tokio::test]
async fn dry_runs_touch_nothing() {
    let db = TestDb::new("dry").await;
    let p = Project::new();
    three(&p);
    let before = db.schema_dump().await;
    let run = p.migrate(&db, &["up", "--dry-run"]);
    run.expect(0);
    assert!(run.stdout.contains("3 steps"), "{}", run.stdout);
    assert_eq!(db.schema_dump().await, before);
    assert!(
        !db.has_table("schema_migrations").await,
        "a dry run must not create the history table"
    );

    p.migrate(&db, &["up"]).expect(0);
    let after_up = db.schema_dump().await;
    let down = p.migrate(&db, &["down", "--dry-run", "--to", "0"]);
    down.expect(0);
    assert!(down.stdout.contains("revert"), "{}", down.stdout);
    assert_eq!(db.schema_dump().await, after_up);
}

#[tokio::test]
async fn drift_refuses_every_run_until_repair() {
    let db = TestDb::new("drift").await;
    let p = Project::new();
    three(&p);
    p.migrate(&db, &["up", "--to", "2"]).expect(0);
    p.migration(
        "V1__create_users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    );
    let before = db.schema_dump().await;

    let up = p.migrate(&db, &["up"]);
    up.expect(3);
    assert!(
        up.stderr
            .contains("version 1 (V1__create_users.sql) changed"),
        "{}",
        up.stderr
    );
    assert!(up.stderr.contains("nothing was changed"), "{}", up.stderr);
    assert_eq!(db.schema_dump().await, before, "version 3 must not run");
    p.migrate(&db, &["validate"]).expect(3);
    p.migrate(&db, &["down"]).expect(3);
    let status = p.migrate(&db, &["status"]);
    status.expect(0);
    assert!(status.stdout.contains("drifted"), "{}", status.stdout);

    let repair = p.migrate(&db, &["repair"]);
    repair.expect(0);
    assert!(
        repair.stdout.contains("version 1: recorded checksum"),
        "{}",
        repair.stdout
    );
    p.migrate(&db, &["up"]).expect(0);
    assert_eq!(db.history().await.len(), 3);
}

#[tokio::test]
async fn a_vanished_or_renamed_file_is_drift() {
    let db = TestDb::new("vanish").await;
    let p = Project::new();
    three(&p);
    p.migrate(&db, &["up", "--to", "2"]).expect(0);
    let text = std::fs::read_to_string(p.path().join("migrations/V2__create_posts.sql")).unwrap();
    p.remove_migration("V2__create_posts.sql");
    std::fs::remove_file(p.path().join("rollbacks/U2__create_posts.sql")).unwrap();
    p.migration("V2__posts.sql", &text);
    let up = p.migrate(&db, &["up"]);
    up.expect(3);
    assert!(
        up.stderr
            .contains("version 2 was applied as \"create posts\""),
        "{}",
        up.stderr
    );

    p.remove_migration("V2__posts.sql");
    let up = p.migrate(&db, &["up"]);
    up.expect(3);
    assert!(
        up.stderr
            .contains("version 2 (\"create posts\") is applied but its file is gone"),
        "{}",
        up.stderr
    );
}

#[tokio::test]
async fn a_failing_migration_leaves_no_trace() {
    let db = TestDb::new("fail").await;
    let p = Project::new();
    p.migration("V1__ok.sql", "CREATE TABLE ok (id int);\n")
        .migration(
            "V2__bad.sql",
            "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\n\n  SELEC 1;\n",
        );
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("V2__bad.sql:4:3 failed (SQLSTATE 42601)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("syntax error"), "{}", run.stderr);
    assert!(
        run.stderr.contains("completed version(s) 1"),
        "{}",
        run.stderr
    );
    assert!(db.has_table("ok").await);
    assert!(
        !db.has_table("half").await,
        "the failed migration's table must be rolled back"
    );
    assert_eq!(db.history().await, [(1, true)]);
}

#[tokio::test]
async fn an_interrupted_no_transaction_migration_is_dirty_until_repair() {
    let db = TestDb::new("dirty").await;
    let p = Project::new();
    p.migration(
        "V1__slow.sql",
        "-- strata:no-transaction\nCREATE TABLE slow (id int);\nSELECT pg_sleep(120);\n",
    );
    let mut child = p.command(&db, &["up"]).spawn().unwrap();
    // Wait until the dirty record exists: the migration is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.history().await != [(1, false)] {
        assert!(Instant::now() < deadline, "the migration never started");
        assert!(child.try_wait().unwrap().is_none(), "migrate exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let up = p.migrate(&db, &["--lock-timeout", "30", "up"]);
    up.expect(3);
    assert!(up.stderr.contains("dirty: version 1"), "{}", up.stderr);
    let status = p.migrate(&db, &["status"]);
    assert!(status.stdout.contains("dirty"), "{}", status.stdout);

    let repair = p.migrate(&db, &["repair"]);
    repair.expect(0);
    assert!(
        repair.stdout.contains("record removed (dirty)"),
        "{}",
        repair.stdout
    );
    assert!(db.history().await.is_empty());
}

#[tokio::test]
async fn a_failed_no_transaction_migration_can_be_reverted() {
    let db = TestDb::new("dirtydown").await;
    let p = Project::new();
    p.migration(
        "V1__two_steps.sql",
        "-- strata:no-transaction\nCREATE TABLE first (id int);\nCREATE TABLE first (id int);\n",
    )
    .rollback("U1__two_steps.sql", "DROP TABLE IF EXISTS first;\n");
    let up = p.migrate(&db, &["up"]);
    up.expect(1);
    assert!(
        up.stderr
            .contains("V1__two_steps.sql:3 failed (SQLSTATE 42P07)"),
        "{}",
        up.stderr
    );
    assert_eq!(db.history().await, [(1, false)]);
    p.migrate(&db, &["up"]).expect(3);
    p.migrate(&db, &["down"]).expect(0);
    assert!(db.history().await.is_empty());
    assert!(!db.has_table("first").await);
}

#[tokio::test]
async fn out_of_order_versions_are_refused_unless_allowed() {
    let db = TestDb::new("ooo").await;
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id int);\n")
        .migration("V3__c.sql", "CREATE TABLE c (id int);\n");
    p.migrate(&db, &["up"]).expect(0);
    p.migration("V2__b.sql", "CREATE TABLE b (id int);\n");
    let up = p.migrate(&db, &["up"]);
    up.expect(3);
    assert!(
        up.stderr.contains("out of order: version 2"),
        "{}",
        up.stderr
    );
    assert!(!db.has_table("b").await);
    p.migrate(&db, &["up", "--allow-out-of-order"]).expect(0);
    assert!(db.has_table("b").await);
}

#[tokio::test]
async fn concurrent_runners_apply_each_migration_exactly_once() {
    let db = TestDb::new("race").await;
    let p = Project::new();
    p.migration(
        "V1__runs.sql",
        "CREATE TABLE runs (version int PRIMARY KEY);\n",
    );
    for v in 2..=30 {
        p.migration(
            &format!("V{v}__step_{v}.sql"),
            &format!("INSERT INTO runs VALUES ({v});\nCREATE TABLE t{v} (id int);\n"),
        );
    }
    // Four runners started together on an empty database.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = p.command(&db, &["up"]);
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    let mut applied_lines = 0;
    for h in handles {
        let out = support::Run::from(h.join().unwrap());
        out.expect(0);
        applied_lines += out.stdout.matches("applied ").count();
    }
    let history = db.history().await;
    assert_eq!(history.len(), 30);
    assert!(history.iter().all(|(_, ok)| *ok));
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM runs").await, 29);
    assert!(applied_lines <= 30 * 2, "{applied_lines}");
}

#[tokio::test]
async fn a_runner_waiting_for_the_lock_never_deadlocks_an_index_build() {
    // CREATE INDEX CONCURRENTLY waits for every older snapshot; a second
    // runner blocked in pg_advisory_lock() would hold one, and the two
    // would deadlock (flyway#1654 from the waiter's side).
    let db = TestDb::new("cic_waiter").await;
    let p = Project::new();
    p.migration("V1__t.sql", "CREATE TABLE t (id int);\n");
    p.migrate(&db, &["up"]).expect(0);
    p.migration(
        "V2__t_idx.sql",
        "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY t_idx ON t (id);\n",
    );
    // An open writer keeps the index build waiting while its runner holds the lock.
    let mut writer = db.connect().await;
    sqlx::raw_sql("BEGIN; INSERT INTO t VALUES (1);")
        .execute(&mut writer)
        .await
        .unwrap();
    let mut cmd = p.command(&db, &["up"]);
    let first = std::thread::spawn(move || cmd.output().unwrap());
    // Scoped to this database: other suites run strata beside this one.
    let builder = "SELECT pid FROM pg_stat_activity WHERE application_name = 'strata' \
                   AND datname = current_database() \
                   AND query LIKE '%CREATE INDEX CONCURRENTLY%' AND state = 'active'";
    support::wait_until(
        &db,
        "the index build to wait for the writer",
        &format!("SELECT EXISTS ({builder} AND wait_event_type = 'Lock')"),
    )
    .await;
    let mut cmd = p.command(&db, &["up"]);
    let second = std::thread::spawn(move || cmd.output().unwrap());
    support::wait_until(
        &db,
        "the second runner to try for the lock",
        &format!(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'strata' \
             AND datname = current_database() \
             AND query LIKE '%advisory_lock%' AND pid NOT IN ({builder}))"
        ),
    )
    .await;
    sqlx::raw_sql("COMMIT").execute(&mut writer).await.unwrap();

    support::Run::from(first.join().unwrap()).expect(0);
    support::Run::from(second.join().unwrap()).expect(0);
    assert!(
        db.scalar::<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_idx'::regclass")
            .await
    );
    assert_eq!(db.history().await, vec![(1, true), (2, true)]);
}

#[tokio::test]
async fn a_held_lock_times_out_naming_the_holder() {
    let db = TestDb::new("lock").await;
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id int);\n");
    let mut holder = db.hold_migration_lock().await;
    let key = strata::backend::postgres::lock_key("schema_migrations");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .unwrap();

    let up = p.migrate(&db, &["--lock-timeout", "1", "up"]);
    up.expect(1);
    assert!(
        up.stderr
            .contains("timed out after 1s waiting for the migration lock"),
        "{}",
        up.stderr
    );
    assert!(
        up.stderr.contains(&format!("held by server process {pid}")),
        "{}",
        up.stderr
    );
    assert!(!db.has_table("a").await);

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut holder)
        .await
        .unwrap();
    p.migrate(&db, &["--lock-timeout", "1", "up"]).expect(0);
}

#[tokio::test]
async fn status_json_has_the_documented_shape() {
    let db = TestDb::new("json").await;
    let p = Project::new();
    three(&p);
    p.migrate(&db, &["up", "--to", "1"]).expect(0);
    let run = p.migrate(&db, &["status", "--format", "json"]);
    run.expect(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let dbs = v["databases"].as_array().unwrap();
    assert_eq!(dbs.len(), 1);
    assert_eq!(dbs[0]["name"], "default");
    assert_eq!(dbs[0]["kind"], "postgres");
    let rows = dbs[0]["migrations"].as_array().unwrap();
    let states: Vec<(u64, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["version"].as_u64().unwrap(),
                r["description"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (1, "create users", "applied"),
            (2, "create posts", "pending"),
            (3, "posts index", "pending")
        ]
    );
    // The JSON reads back as the library's Status value.
    let parsed: strata::Status = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        parsed.databases[0].migrations[0].record().unwrap().version,
        1
    );
}

#[tokio::test]
async fn baseline_adopts_an_existing_database() {
    let db = TestDb::new("baseline").await;
    let p = Project::new();
    three(&p);
    let mut c = db.connect().await;
    sqlx::raw_sql("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL)")
        .execute(&mut c)
        .await
        .unwrap();
    let run = p.migrate(&db, &["baseline", "--version", "1"]);
    run.expect(0);
    assert!(run.stdout.contains("without running: 1"), "{}", run.stdout);
    p.migrate(&db, &["up"]).expect(0);
    assert_eq!(db.history().await.len(), 3);
    let again = p.migrate(&db, &["baseline", "--version", "1"]);
    again.expect(2);
    assert!(
        again.stderr.contains("needs an empty history"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn new_writes_the_next_pair_with_the_same_padding() {
    let p = Project::new();
    p.migration("V0007__seven.sql", "select 7;\n");
    let run = p.migrate_raw(
        &[
            "--database-url",
            "postgres://nowhere/x",
            "new",
            "default",
            "Add",
            "user e-mail",
        ],
        &[],
    );
    run.expect(0);
    assert!(
        p.path()
            .join("migrations/V0008__add_user_e_mail.sql")
            .is_file(),
        "{}",
        run.stdout
    );
    assert!(
        p.path()
            .join("rollbacks/U0008__add_user_e_mail.sql")
            .is_file()
    );
}

#[tokio::test]
async fn several_databases_are_validated_before_any_is_touched() {
    let a = TestDb::new("multi_a").await;
    let b = TestDb::new("multi_b").await;
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("migrations/a")).unwrap();
    std::fs::create_dir_all(p.path().join("migrations/b")).unwrap();
    std::fs::write(
        p.path().join("migrations/a/V1__a.sql"),
        "CREATE TABLE a (id int);\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("migrations/b/V1__b.sql"),
        "CREATE TABLE b (id int);\n",
    )
    .unwrap();
    p.config(
        "[databases.a]\nkind = \"postgres\"\nurl = \"${A_URL}\"\n\
         [databases.b]\nkind = \"postgres\"\nurl = \"${B_URL}\"\n",
    );
    let env = [("A_URL", a.url.as_str()), ("B_URL", b.url.as_str())];

    // A bad file in b stops the whole run: a is not touched either.
    std::fs::write(p.path().join("migrations/b/V2_typo.sql"), "select 1;\n").unwrap();
    let run = p.migrate_raw(&["up"], &env);
    run.expect(2);
    assert!(run.stderr.contains("V2_typo.sql"), "{}", run.stderr);
    assert!(!a.has_table("a").await);
    std::fs::remove_file(p.path().join("migrations/b/V2_typo.sql")).unwrap();

    p.migrate_raw(&["up", "--database", "a"], &env).expect(0);
    assert!(a.has_table("a").await && !b.has_table("b").await);
    let run = p.migrate_raw(&["up"], &env);
    run.expect(0);
    assert!(
        run.stdout.contains("a (postgres): nothing to do"),
        "{}",
        run.stdout
    );
    assert!(b.has_table("b").await);
    p.migrate_raw(&["up", "--database", "c"], &env).expect(2);
}

#[tokio::test]
async fn connection_failures_name_the_database_and_hide_the_password() {
    let db = TestDb::new("conn").await;
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id int);\n");
    let wrong = db.url.replace(&admin_password(), "not-the-password-x9");
    let run = p.migrate_raw(&["--database-url", &wrong, "up"], &[]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("database default: cannot connect to postgres://strata:***@"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("password authentication failed"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains("not-the-password-x9"));
    assert!(!db.has_table("a").await);

    let closed = "postgres://strata:hunter2-secret@127.0.0.1:1/x";
    let run = p.migrate_raw(&["--database-url", closed, "status"], &[]);
    run.expect(1);
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
    assert!(!run.all().contains("hunter2-secret"));
}

#[tokio::test]
async fn bad_config_and_files_fail_before_connecting() {
    let db = TestDb::new("badcfg").await;
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id int);\n");
    let before = db.schema_dump().await;
    let url_env = [("APP_URL", db.url.as_str())];

    p.config("[databases.app]\nkind = \"postgres\"\nurl = \"${APP_URL}\"\nmigrations = \"migrations\"\nmigratons = \"x\"\n");
    let run = p.migrate_raw(&["up"], &url_env);
    run.expect(2);
    assert!(
        run.stderr.contains("migratons") && run.stderr.contains("line 5"),
        "{}",
        run.stderr
    );

    p.config("[databases.app]\nkind = \"postgres\"\nurl = \"${NOT_SET_ANYWHERE}\"\n");
    let run = p.migrate_raw(&["up"], &url_env);
    run.expect(2);
    assert!(
        run.stderr
            .contains("databases.app.url: environment variable NOT_SET_ANYWHERE is not set"),
        "{}",
        run.stderr
    );

    p.config("[databases.app]\nkind = \"postgres\"\nurl = \"${APP_URL}\"\nmigrations = \"migrations\"\nrollbacks = \"rollbacks\"\n");
    p.migration("V01__dup.sql", "select 1;\n");
    let run = p.migrate_raw(&["up"], &url_env);
    run.expect(2);
    assert!(run.stderr.contains("duplicate version 1"), "{}", run.stderr);
    p.remove_migration("V01__dup.sql");

    p.rollback("U9__orphan.sql", "select 1;\n");
    let run = p.migrate_raw(&["up"], &url_env);
    run.expect(2);
    assert!(
        run.stderr.contains("U9__orphan.sql") && run.stderr.contains("no migration V9"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(p.path().join("rollbacks/U9__orphan.sql")).unwrap();

    p.migrate_raw(&["up"], &url_env).expect(0);
    let run = p.migrate_raw(&["down"], &url_env);
    run.expect(3);
    assert!(
        run.stderr.contains("no rollback: version 1"),
        "{}",
        run.stderr
    );
    assert_ne!(db.schema_dump().await, before);
    assert!(!run.all().contains(&admin_password()));
}

#[tokio::test]
async fn a_history_from_before_applied_by_is_read_and_upgraded() {
    let db = TestDb::new("old_history").await;
    let p = Project::new();
    three(&p);
    p.migrate(&db, &["up"]).expect(0);
    // As an older strata left it: no `applied_by` column.
    let mut c = db.connect().await;
    sqlx::raw_sql("ALTER TABLE schema_migrations DROP COLUMN applied_by")
        .execute(&mut c)
        .await
        .unwrap();
    let status = p.migrate(&db, &["status"]);
    status.expect(0);
    assert!(status.stdout.contains("3 applied"), "{}", status.stdout);
    p.migration("V4__tags.sql", "CREATE TABLE tags (id int);\n");
    p.migrate(&db, &["up"]).expect(0);
    let by: String = db
        .scalar("SELECT applied_by FROM schema_migrations WHERE version = 4")
        .await;
    assert!(by.contains("pid"), "the next write adds the column: {by:?}");
    assert_eq!(db.history().await.len(), 4);
}
