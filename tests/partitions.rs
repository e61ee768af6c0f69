//! `migrate partitions …` against a real PostgreSQL, with an injected clock.

mod support;

use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};
use support::{Project, Run, TestDb};

const EVENTS: &str = "CREATE TABLE events (id bigserial, payload text, created_at timestamptz NOT NULL, \
                      PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);\n\
                      CREATE INDEX events_payload_idx ON events (payload);";

async fn sql(db: &TestDb, text: &str) {
    let mut c = db.connect().await;
    sqlx::raw_sql(AssertSqlSafe(text.to_string()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    let _ = c.close().await;
}

fn project(policy: &str) -> Project {
    let p = Project::new();
    p.config(&format!(
        "[databases.app]\nkind = \"postgres\"\nurl = \"${{APP_URL}}\"\nmigrations = \"migrations\"\n\n[[partitions]]\ndatabase = \"app\"\n{policy}\n"
    ));
    p
}

fn run(p: &Project, db: &TestDb, args: &[&str]) -> Run {
    let mut full = vec!["partitions"];
    full.extend_from_slice(args);
    p.migrate_raw(&full, &[("APP_URL", db.url.as_str())])
}

/// `(name, bound)` of every child of `parent`, ordered by name.
async fn children(db: &TestDb, parent: &str) -> Vec<(String, String)> {
    let mut c = db.connect().await;
    sqlx::raw_sql("SET TIME ZONE 'UTC'")
        .execute(&mut c)
        .await
        .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1",
    )
    .bind(parent)
    .fetch_all(&mut c)
    .await
    .unwrap();
    let _ = c.close().await;
    rows
}

fn names(children: &[(String, String)]) -> Vec<&str> {
    children.iter().map(|(n, _)| n.as_str()).collect()
}

#[tokio::test]
async fn creates_ahead_and_retires_across_a_year_boundary_in_utc() {
    let db = TestDb::new("part_year").await;
    sql(&db, EVENTS).await;
    // Whatever the session zone, boundaries are UTC months.
    sql(
        &db,
        &format!(
            "ALTER DATABASE \"{}\" SET timezone = 'Pacific/Auckland'",
            db.name
        ),
    )
    .await;
    let p = project("table = \"events\"\npremake = 2\nretention = \"3 months\"");

    run(&p, &db, &["run", "--now", "2026-11-30T23:30:00Z"]).expect(0);
    let kids = children(&db, "events").await;
    assert_eq!(
        names(&kids),
        ["events_2026_11", "events_2026_12", "events_2027_01"]
    );
    assert_eq!(
        kids[2].1,
        "FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00')"
    );
    // Indexes on the parent reach the children.
    assert!(
        db.scalar::<bool>("SELECT to_regclass('events_2027_01_payload_idx') IS NOT NULL")
            .await
    );
    // The helper CHECK constraint is gone again.
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'strata_partition_bound'"
        )
        .await,
        0
    );

    let again = run(&p, &db, &["run", "--now", "2026-11-30T23:30:00Z"]);
    again.expect(0);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);

    // Five months later: gaps filled, premade ones added, the oldest retired.
    let later = run(&p, &db, &["run", "--now", "2027-04-10T00:00:00Z"]);
    later.expect(0);
    assert_eq!(
        names(&children(&db, "events").await),
        [
            "events_2027_01",
            "events_2027_02",
            "events_2027_03",
            "events_2027_04",
            "events_2027_05",
            "events_2027_06"
        ]
    );
    assert!(!db.has_table("events_2026_11").await && !db.has_table("events_2026_12").await);
    assert!(
        later.stdout.contains("detached events_2026_11"),
        "{}",
        later.stdout
    );
}

#[tokio::test]
async fn detach_mode_keeps_the_rows_in_another_schema() {
    let db = TestDb::new("part_detach").await;
    sql(&db, EVENTS).await;
    let p = project(
        "table = \"events\"\npremake = 0\nretention = \"1 month\"\nretention_mode = \"detach\"\nretention_schema = \"archive\"",
    );
    run(&p, &db, &["run", "--now", "2026-01-15T00:00:00Z"]).expect(0);
    sql(
        &db,
        "INSERT INTO events (payload, created_at) VALUES ('old', '2026-01-20T00:00:00Z')",
    )
    .await;
    run(&p, &db, &["run", "--now", "2026-03-15T00:00:00Z"]).expect(0);
    // January expired; February is no gap, since nothing older is kept.
    assert_eq!(names(&children(&db, "events").await), ["events_2026_03"]);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM archive.events_2026_01")
            .await,
        1
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM events").await, 0);
}

#[tokio::test]
async fn rows_in_the_default_partition_are_refused_then_moved_without_loss() {
    let db = TestDb::new("part_default").await;
    sql(&db, EVENTS).await;
    sql(
        &db,
        "CREATE TABLE events_default PARTITION OF events DEFAULT",
    )
    .await;
    sql(
        &db,
        "INSERT INTO events (payload, created_at) \
         SELECT 'stray ' || g, timestamptz '2026-12-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(0, 11999) g",
    )
    .await;
    sql(
        &db,
        "INSERT INTO events (payload, created_at) VALUES ('older', '2026-06-01T00:00:00Z')",
    )
    .await;
    let p = project("table = \"events\"\npremake = 1");

    let check = run(&p, &db, &["check-default"]);
    check.expect(0);
    assert!(
        check
            .stdout
            .contains("events_default holds 12000 row(s) for 2026-12"),
        "{}",
        check.stdout
    );

    let refused = run(&p, &db, &["run", "--now", "2026-11-15T00:00:00Z"]);
    refused.expect(1);
    assert!(
        refused
            .stdout
            .contains("holds 12000 row(s) for 2026-12-01 .. 2027-01-01"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("--move-default-rows"),
        "{}",
        refused.stdout
    );
    // November has no stray rows and was created; December was not.
    assert_eq!(
        names(&children(&db, "events").await),
        ["events_2026_11", "events_default"]
    );

    let moved = run(
        &p,
        &db,
        &[
            "run",
            "--now",
            "2026-11-15T00:00:00Z",
            "--move-default-rows",
        ],
    );
    moved.expect(0);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM events").await, 12001);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events_2026_12")
            .await,
        12000
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events_default")
            .await,
        1
    );
    let check = run(&p, &db, &["check-default"]);
    assert!(
        check.stdout.contains("1 row(s) for 2026-06"),
        "{}",
        check.stdout
    );
    assert!(!check.stdout.contains("2026-12"), "{}", check.stdout);
}

#[tokio::test]
async fn a_table_named_like_a_partition_is_never_touched() {
    let db = TestDb::new("part_foreign").await;
    sql(&db, EVENTS).await;
    sql(
        &db,
        "CREATE TABLE events_2026_12 (note text); INSERT INTO events_2026_12 VALUES ('mine')",
    )
    .await;
    let p = project("table = \"events\"\npremake = 2\nretention = \"2 months\"");
    let plan = run(&p, &db, &["plan", "--now", "2026-11-15T00:00:00Z"]);
    plan.expect(0);
    assert!(
        plan.stdout
            .contains("events_2026_12 exists but is not a partition"),
        "{}",
        plan.stdout
    );
    run(&p, &db, &["run", "--now", "2026-11-15T00:00:00Z"]).expect(0);
    assert_eq!(
        names(&children(&db, "events").await),
        ["events_2026_11", "events_2027_01"]
    );
    // Far in the future the retention window passes it by, too.
    run(&p, &db, &["run", "--now", "2028-01-15T00:00:00Z"]).expect(0);
    assert_eq!(
        db.scalar::<String>("SELECT note FROM events_2026_12").await,
        "mine"
    );
}

#[tokio::test]
async fn bad_policies_fail_before_anything_is_created() {
    let db = TestDb::new("part_bad").await;
    sql(&db, EVENTS).await;
    sql(&db, "CREATE TABLE plain (created_at timestamptz)").await;
    let p = Project::new();
    let base = "[databases.app]\nkind = \"postgres\"\nurl = \"${APP_URL}\"\nmigrations = \"migrations\"\n\
                [[partitions]]\ndatabase = \"app\"\ntable = \"events\"\n";
    for (extra, code, needle) in [
        (
            "[[partitions]]\ndatabase = \"app\"\ntable = \"missing\"\n",
            2,
            "table public.missing does not exist",
        ),
        (
            "[[partitions]]\ndatabase = \"app\"\ntable = \"plain\"\n",
            2,
            "public.plain is not a partitioned table",
        ),
        (
            "[[partitions]]\ndatabase = \"app\"\ntable = \"x\"\nretention = \"12\"\n",
            2,
            "write a number and a unit",
        ),
        (
            "[[partitions]]\ndatabase = \"app\"\ntable = \"x\"\npremake = -2\n",
            2,
            "premake = -2",
        ),
        (
            "[[partitions]]\ndatabase = \"app\"\ntable = \"x\"\ninterval = \"hour\"\n",
            2,
            "unknown interval",
        ),
    ] {
        p.config(&format!("{base}{extra}"));
        let r = run(&p, &db, &["run", "--now", "2026-11-15T00:00:00Z"]);
        r.expect(code);
        assert!(r.stderr.contains(needle), "{extra}: {}", r.stderr);
        assert!(r.stderr.contains("partitions"), "{}", r.stderr);
        assert!(
            children(&db, "events").await.is_empty(),
            "nothing may be created"
        );
    }
}

#[tokio::test]
async fn concurrent_runs_create_each_partition_once() {
    let db = TestDb::new("part_race").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 11");
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let mut cmd = std::process::Command::new(support::migrate_bin());
            cmd.args(["partitions", "run", "--now", "2026-11-15T00:00:00Z"])
                .current_dir(p.path())
                .env("APP_URL", &db.url);
            std::thread::spawn(move || Run::from(cmd.output().unwrap()))
        })
        .collect();
    let mut created = 0;
    for h in handles {
        let r = h.join().unwrap();
        r.expect(0);
        created += r.stdout.matches("created events_").count();
    }
    assert_eq!(created, 12, "each partition created by exactly one runner");
    assert_eq!(children(&db, "events").await.len(), 12);
}

#[tokio::test]
async fn writers_keep_writing_while_24_partitions_are_created() {
    let db = TestDb::new("part_load").await;
    sql(&db, EVENTS).await;
    // The current month exists; writers insert into it throughout.
    let p = project("table = \"events\"\npremake = 0");
    run(&p, &db, &["run"]).expect(0);
    let p = project("table = \"events\"\npremake = 23");

    let url = db.url.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let writer = tokio::spawn(async move {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        // A writer that gives up quickly: any ACCESS EXCLUSIVE on the parent
        // longer than this would show up as a failed insert.
        sqlx::raw_sql("SET lock_timeout = '100ms'")
            .execute(&mut c)
            .await
            .unwrap();
        let (mut ok, mut failed) = (0u64, 0u64);
        let mut worst = Duration::ZERO;
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            let t = Instant::now();
            match sqlx::query("INSERT INTO events (payload, created_at) VALUES ('w', now())")
                .execute(&mut c)
                .await
            {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
            worst = worst.max(t.elapsed());
        }
        (ok, failed, worst)
    });
    // Wait until the writer is really writing.
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.scalar::<i64>("SELECT count(*) FROM events").await < 50 {
        assert!(Instant::now() < deadline, "the writer never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = tokio::task::spawn_blocking(move || run(&p, &db, &["run"]))
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (ok, failed, worst) = writer.await.unwrap();
    r.expect(0);
    assert_eq!(
        r.stdout.matches("created events_").count(),
        23,
        "{}",
        r.stdout
    );
    assert_eq!(
        failed, 0,
        "{failed} inserts failed ({ok} succeeded, worst latency {worst:?})"
    );
    assert!(ok > 50);
}

#[tokio::test]
async fn demo_partition_plan_snapshot() {
    let db = TestDb::new("part_demo").await;
    let demo = |args: &[&str]| support::demo_migrate(&db.url, args);
    demo(&["up"]).expect(0);
    let plan = demo(&["partitions", "plan", "--now", "2027-01-15T12:00:00Z"]);
    plan.expect(0);
    insta::assert_snapshot!("demo_partition_plan", plan.stdout);
    demo(&["partitions", "run", "--now", "2027-01-15T12:00:00Z"]).expect(0);
    let json = demo(&[
        "partitions",
        "plan",
        "--now",
        "2027-08-01T00:00:00Z",
        "--format",
        "json",
    ]);
    json.expect(0);
    insta::assert_snapshot!("demo_partition_plan_later_json", json.stdout);
}

#[tokio::test]
async fn one_failing_table_does_not_stop_the_others() {
    let db = TestDb::new("part_isolate").await;
    sql(&db, EVENTS).await;
    sql(&db, &EVENTS.replace("events", "other")).await;
    sql(
        &db,
        "CREATE TABLE events_default PARTITION OF events DEFAULT",
    )
    .await;
    sql(
        &db,
        "INSERT INTO events (payload, created_at) VALUES ('stray', '2026-11-20T00:00:00Z')",
    )
    .await;
    let p = project(
        "table = \"events\"\npremake = 0\n\n[[partitions]]\ndatabase = \"app\"\ntable = \"other\"\npremake = 1",
    );
    let r = run(&p, &db, &["run", "--now", "2026-11-15T00:00:00Z"]);
    r.expect(1);
    assert!(
        r.stdout.contains("app public.events: FAILED"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("created other_2026_12"), "{}", r.stdout);
    assert!(r.stderr.contains("1 of 2 table(s) failed"), "{}", r.stderr);
    assert_eq!(
        names(&children(&db, "other").await),
        ["other_2026_11", "other_2026_12"]
    );
}

#[tokio::test]
async fn the_daemon_maintains_then_stops_cleanly_on_sigterm() {
    let db = TestDb::new("part_daemon").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 2");
    let mut child = std::process::Command::new(support::migrate_bin())
        .args(["partitions", "daemon", "--every", "1h"])
        .current_dir(p.path())
        .env("APP_URL", &db.url)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while children(&db, "events").await.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the daemon never maintained the table"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the daemon exited early"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("partition daemon stopped"));
}

#[tokio::test]
async fn a_service_can_run_maintenance_as_a_task() {
    let db = TestDb::new("part_task").await;
    sql(&db, EVENTS).await;
    let text = "[databases.app]\nkind = \"postgres\"\nurl = \"${APP_URL}\"\n\
                [[partitions]]\ndatabase = \"app\"\ntable = \"events\"\npremake = 1\n";
    let url = db.url.clone();
    let config = strata::Config::parse(text, "inline", std::path::Path::new("."), &move |n| {
        (n == "APP_URL").then(|| url.clone())
    })
    .unwrap();
    let task = strata::partition::scheduler::Maintenance::new(&config, &[])
        .unwrap()
        .spawn(Duration::from_secs(3600));
    let deadline = Instant::now() + Duration::from_secs(60);
    while children(&db, "events").await.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the task never maintained the table"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::timeout(Duration::from_secs(30), task.shutdown())
        .await
        .expect("the task stops when asked");
}

#[tokio::test]
async fn an_interrupted_concurrent_detach_is_finalized() {
    let db = TestDb::new("part_finalize").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 0\nretention = \"1 month\"");
    run(&p, &db, &["run", "--now", "2026-01-15T00:00:00Z"]).expect(0);
    run(&p, &db, &["run", "--now", "2026-02-15T00:00:00Z"]).expect(0);
    assert_eq!(
        names(&children(&db, "events").await),
        ["events_2026_01", "events_2026_02"]
    );

    // A reader keeps a transaction open on the parent, so the second phase
    // of DETACH CONCURRENTLY waits; cancelling it there leaves the partition
    // half-detached, as a crash would.
    let mut reader = db.connect().await;
    sqlx::raw_sql("BEGIN; SELECT count(*) FROM events;")
        .execute(&mut reader)
        .await
        .unwrap();
    let mut detacher = db.connect().await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut detacher)
        .await
        .unwrap();
    let detach = tokio::spawn(async move {
        sqlx::raw_sql("ALTER TABLE events DETACH PARTITION events_2026_01 CONCURRENTLY")
            .execute(&mut detacher)
            .await
            .map(|_| ())
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !db
        .scalar::<bool>(&format!(
            "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhdetachpending) AND \
             EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = {pid} AND wait_event_type = 'Lock')"
        ))
        .await
    {
        assert!(
            Instant::now() < deadline,
            "the detach never reached its second phase"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sql(&db, &format!("SELECT pg_cancel_backend({pid})")).await;
    assert!(detach.await.unwrap().is_err(), "the detach was cancelled");
    sqlx::raw_sql("COMMIT").execute(&mut reader).await.unwrap();

    // Not past retention yet: the detach is finished, the table kept.
    let plan = run(&p, &db, &["plan", "--now", "2026-02-15T00:00:00Z"]);
    assert!(
        plan.stdout
            .contains("finalize  events_2026_01  (interrupted detach; keep the table)"),
        "{}",
        plan.stdout
    );
    run(&p, &db, &["run", "--now", "2026-02-15T00:00:00Z"]).expect(0);
    assert_eq!(names(&children(&db, "events").await), ["events_2026_02"]);
    assert!(
        db.has_table("events_2026_01").await,
        "a partition inside retention is never dropped"
    );
}
