//! A migration never queues live traffic behind it for longer than its
//! lock timeout: against the real PostgreSQL, with a blocking session and
//! a third session reading the table while the migration waits.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use support::{Project, TestDb, wait_until};

async fn run_sql(db: &TestDb, sql: &str) {
    let mut c = db.connect().await;
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.close().await;
}

/// A session holding ACCESS SHARE on `table` in an open transaction, named
/// `blocker-app`, and its process id.
async fn blocker(db: &TestDb, table: &str) -> (PgConnection, i32) {
    let mut c = db.connect().await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "SET application_name = 'blocker-app'; BEGIN ISOLATION LEVEL REPEATABLE READ; \
         SELECT count(*) FROM {table};"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    (c, pid)
}

/// `migrate up` in the project's folder (its `migrate.toml`), stderr kept.
fn up(p: &Project) -> std::process::Command {
    let mut cmd = std::process::Command::new(support::migrate_bin());
    cmd.arg("up")
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped());
    cmd
}

fn config(db: &TestDb, extra: &str) -> String {
    format!(
        "[defaults]\n{extra}\n[databases.app]\nkind = \"postgres\"\nurl = \"{}\"\nmigrations = \"migrations\"\n",
        db.url
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_wait_at_most_the_lock_timeout_while_the_migration_retries() {
    let db = TestDb::new("live_reader").await;
    run_sql(
        &db,
        "CREATE TABLE accounts (id int); INSERT INTO accounts SELECT generate_series(1, 100);",
    )
    .await;
    let p = Project::new();
    p.config(&config(&db, "lock_timeout = \"300ms\"\nlock_retries = 50"));
    p.migration(
        "V1__column.sql",
        "ALTER TABLE accounts ADD COLUMN note text;\n",
    );
    let (mut holder, holder_pid) = blocker(&db, "accounts").await;
    let child = up(&p).stdout(Stdio::piped()).spawn().unwrap();
    // The migration queues for its lock behind the blocker.
    wait_until(
        &db,
        "the migration to wait for its lock",
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'strata' AND datname = current_database() \
         AND wait_event_type = 'Lock'",
    )
    .await;
    // A reader of the table, while the migration waits and retries: never
    // stalled longer than the timeout (plus a margin for this machine).
    let mut reader = db.connect().await;
    let mut worst = Duration::ZERO;
    let watching = Instant::now();
    while watching.elapsed() < Duration::from_secs(2) {
        let asked = Instant::now();
        sqlx::query("SELECT count(*) FROM accounts")
            .execute(&mut reader)
            .await
            .unwrap();
        worst = worst.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        worst < Duration::from_millis(300 + 400),
        "a reader was stalled {worst:?} behind the waiting migration"
    );
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("retry 1 of 50"), "{stderr}");
    assert!(
        stderr.contains(&format!("server process {holder_pid}")),
        "{stderr}"
    );
    assert!(stderr.contains("\"blocker-app\""), "{stderr}");
    assert_eq!(db.history().await, vec![(1, true)]);
    assert!(
        db.scalar::<bool>(
            "SELECT count(*) = 1 FROM information_schema.columns WHERE column_name = 'note'"
        )
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_used_up_name_the_blocker_and_record_nothing() {
    let db = TestDb::new("live_giveup").await;
    run_sql(&db, "CREATE TABLE accounts (id int);").await;
    let p = Project::new();
    p.config(&config(&db, "lock_timeout = \"100ms\"\nlock_retries = 2"));
    p.migration(
        "V1__two.sql",
        "CREATE TABLE other (id int);\nALTER TABLE accounts ADD COLUMN note text;\n",
    );
    let (holder, holder_pid) = blocker(&db, "accounts").await;
    let run = p.migrate_raw(&["up"], &[]);
    run.expect(1);
    assert!(run.stderr.contains("V1__two.sql:2"), "{}", run.stderr);
    assert!(run.stderr.contains("3 time(s)"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("server process {holder_pid}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("blocker-app"), "{}", run.stderr);
    assert!(db.history().await.is_empty());
    assert!(!db.has_table("other").await, "rolled back whole");
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_index_that_times_out_leaves_no_invalid_index() {
    let db = TestDb::new("live_cic").await;
    run_sql(
        &db,
        "CREATE TABLE accounts (id int); INSERT INTO accounts VALUES (1);",
    )
    .await;
    let p = Project::new();
    p.config(&config(&db, "lock_timeout = \"200ms\"\nlock_retries = 50"));
    p.migration(
        "V1__idx.sql",
        "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_id ON accounts (id);\n",
    );
    // An old snapshot the build must wait for.
    let (mut holder, _) = blocker(&db, "accounts").await;
    let child = up(&p).spawn().unwrap();
    // A try timed out and left its INVALID index, which strata drops
    // (waiting, as the build did) before the next try.
    wait_until(
        &db,
        "strata to drop what a timed-out try left",
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'strata' AND datname = current_database() \
         AND query LIKE 'DROP INDEX CONCURRENTLY%'",
    )
    .await;
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("left the INVALID index public.accounts_id, dropped before the next one"),
        "{stderr}"
    );
    assert!(
        db.scalar::<bool>("SELECT count(*) = 0 FROM pg_index WHERE NOT indisvalid")
            .await,
        "an INVALID index was left"
    );
    assert_eq!(db.history().await, vec![(1, true)]);
    assert!(
        db.scalar::<bool>(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_id'::regclass"
        )
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_directive_overrides_the_default_and_off_waits_as_before() {
    let db = TestDb::new("live_directive").await;
    run_sql(&db, "CREATE TABLE accounts (id int);").await;
    let p = Project::new();
    p.config(&config(&db, "lock_timeout = \"off\"\nlock_retries = 0"));
    p.migration(
        "V1__own.sql",
        "-- strata:lock-timeout 150ms\nALTER TABLE accounts ADD COLUMN a int;\n",
    );
    let plan = p.migrate_raw(&["plan"], &[]);
    plan.expect(0);
    assert!(
        plan.stdout.contains("[lock timeout 150ms]"),
        "{}",
        plan.stdout
    );
    let (mut holder, _) = blocker(&db, "accounts").await;
    // The directive's 150 ms, not "off": it gives up at once (no retries).
    let run = p.migrate_raw(&["up"], &[]);
    run.expect(1);
    assert!(
        run.stderr.contains("waited 150ms for a lock 1 time(s)"),
        "{}",
        run.stderr
    );
    // Without it, "off" waits for the blocker as before, then applies.
    std::fs::write(
        p.path().join("migrations/V1__own.sql"),
        "ALTER TABLE accounts ADD COLUMN a int;\n",
    )
    .unwrap();
    let child = up(&p).spawn().unwrap();
    wait_until(
        &db,
        "the migration to wait for its lock",
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'strata' AND datname = current_database() \
         AND wait_event_type = 'Lock'",
    )
    .await;
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("retry"), "{stderr}");
    assert_eq!(db.history().await, vec![(1, true)]);
}

#[test]
fn a_bad_timeout_is_refused_by_name() {
    let p = Project::new();
    p.migration("V1__a.sql", "-- strata:lock-timeout soon\nSELECT 1;\n");
    let run = p.migrate_raw(
        &["--database-url", "postgres://localhost:1/x", "validate"],
        &[],
    );
    run.expect(2);
    assert!(run.stderr.contains("V1__a.sql:1"), "{}", run.stderr);
    let run = p.migrate_raw(
        &[
            "--database-url",
            "postgres://localhost:1/x",
            "--ddl-lock-timeout",
            "5",
            "validate",
        ],
        &[],
    );
    run.expect(2);
    assert!(run.stderr.contains("--ddl-lock-timeout"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_step_reports_what_it_waits_for() {
    use std::io::BufRead;
    let db = TestDb::new("live_progress").await;
    run_sql(&db, "CREATE TABLE accounts (id int);").await;
    let p = Project::new();
    p.config(&config(&db, "lock_timeout = \"off\""));
    p.migration("V1__col.sql", "ALTER TABLE accounts ADD COLUMN a int;\n");
    let (mut holder, holder_pid) = blocker(&db, "accounts").await;
    let mut child = up(&p).arg("-v").spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    // Read until the progress line names the lock and its holder.
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done =
            line.contains("V1__col.sql running") && line.contains("waiting (Lock: relation)");
        seen.push(line);
        if done {
            break;
        }
    }
    // The rest is read too, so the process never writes into a closed pipe.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).count());
    let last = seen.last().cloned().unwrap_or_default();
    assert!(last.contains("waiting (Lock: relation)"), "{seen:?}");
    assert!(
        last.contains(&format!("blocked by server process {holder_pid}")),
        "{last}"
    );
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    rest.join().unwrap();
    assert_eq!(db.history().await, vec![(1, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_json_events_with_format_json() {
    let db = TestDb::new("live_json").await;
    run_sql(&db, "CREATE TABLE accounts (id int);").await;
    let p = Project::new();
    p.config(&config(&db, "lock_timeout = \"100ms\"\nlock_retries = 3"));
    p.migration(
        "V1__col.sql",
        "ALTER TABLE accounts ADD COLUMN note text;\n",
    );
    let (holder, holder_pid) = blocker(&db, "accounts").await;
    let run = p.migrate_raw(&["up", "--format", "json"], &[]);
    run.expect(1);
    let events: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(events.len(), 3, "{}", run.stderr);
    assert!(
        events.iter().all(|e| e["event"] == "retrying"),
        "{events:?}"
    );
    assert_eq!(events[2]["attempt"], 3);
    // The watching connection, once open, names the blocker.
    assert!(
        events.iter().any(|e| e["blocker"]
            .as_str()
            .unwrap()
            .contains(&format!("server process {holder_pid}"))),
        "{events:?}"
    );
    drop(holder);
}
