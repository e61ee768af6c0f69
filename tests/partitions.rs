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

    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-30T23:30:00Z"],
    )
    .expect(0);
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

    let again = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-30T23:30:00Z"],
    );
    again.expect(0);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);

    // Five months later: gaps filled, premade ones added, the oldest retired.
    let later = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2027-04-10T00:00:00Z"],
    );
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
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-01-15T00:00:00Z"],
    )
    .expect(0);
    sql(
        &db,
        "INSERT INTO events (payload, created_at) VALUES ('old', '2026-01-20T00:00:00Z')",
    )
    .await;
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-03-15T00:00:00Z"],
    )
    .expect(0);
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
        "CREATE TABLE events_default PARTITION OF events DEFAULT;\n\
         CREATE INDEX \"Events by day\" ON events (date_trunc('day', created_at AT TIME ZONE 'UTC')) \
           WHERE payload IS NOT NULL",
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

    // Rows in the DEFAULT partition: monitoring is told (exit 1).
    let check = run(&p, &db, &["check-default"]);
    check.expect(1);
    assert!(
        check
            .stdout
            .contains("events_default holds 12000 row(s) for 2026-12"),
        "{}",
        check.stdout
    );

    let refused = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-15T00:00:00Z"],
    );
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
            "--allow-clock-skew",
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
    // The moved partition's indexes (built before the attach, so that
    // the attach does not build them under its lock) are the parent's
    // three, each attached to its parent index, none twice.
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(p.relname || '=' || x.indisunique, ',' ORDER BY p.relname) \
             FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indexrelid \
             JOIN pg_class p ON p.oid = i.inhparent WHERE x.indrelid = 'events_2026_12'::regclass"
        )
        .await,
        "Events by day=false,events_payload_idx=false,events_pkey=true"
    );
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'events_2026_12'::regclass"
        )
        .await,
        3
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'events_2026_12'::regclass AND contype = 'p'"
        )
        .await,
        "events_2026_12_pkey"
    );
    // Autovacuum, kept off the child while rows moved in, is back.
    assert_eq!(
        db.scalar::<String>(
            "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class \
             WHERE oid = 'events_2026_12'::regclass"
        )
        .await,
        ""
    );
    let check = run(&p, &db, &["check-default"]);
    check.expect(1);
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
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-15T00:00:00Z"],
    )
    .expect(0);
    assert_eq!(
        names(&children(&db, "events").await),
        ["events_2026_11", "events_2027_01"]
    );
    // Far in the future the retention window passes it by, too.
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2028-01-15T00:00:00Z"],
    )
    .expect(0);
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
    for (extra, needle) in [
        (
            "[[partitions]]\ndatabase = \"app\"\ntable = \"x\"\nretention = \"12\"\n",
            "write a number and a unit",
        ),
        (
            "[[partitions]]\ndatabase = \"app\"\ntable = \"x\"\npremake = -2\n",
            "premake = -2",
        ),
        (
            "[[partitions]]\ndatabase = \"app\"\ntable = \"x\"\ninterval = \"hour\"\n",
            "unknown interval",
        ),
    ] {
        p.config(&format!("{base}{extra}"));
        let r = run(
            &p,
            &db,
            &["run", "--allow-clock-skew", "--now", "2026-11-15T00:00:00Z"],
        );
        r.expect(2);
        assert!(r.stderr.contains(needle), "{extra}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: config:"), "{}", r.stderr);
        assert!(
            children(&db, "events").await.is_empty(),
            "nothing may be created"
        );
    }
    // A table that is not partitioned is a problem of that table: it fails
    // alone, named, and the others are maintained.
    p.config(&format!(
        "{base}[[partitions]]\ndatabase = \"app\"\ntable = \"plain\"\n"
    ));
    let r = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-15T00:00:00Z"],
    );
    r.expect(1);
    assert!(r.all().contains("public.plain"), "{}", r.all());
    assert!(r.all().contains("not a partitioned table"), "{}", r.all());
    assert!(!r.stderr.starts_with("error: config:"), "{}", r.stderr);
    assert!(!children(&db, "events").await.is_empty());
}

#[tokio::test]
async fn concurrent_runs_create_each_partition_once() {
    let db = TestDb::new("part_race").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 11");
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let mut cmd = std::process::Command::new(support::migrate_bin());
            cmd.args([
                "partitions",
                "run",
                "--allow-clock-skew",
                "--now",
                "2026-11-15T00:00:00Z",
            ])
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
    demo(&[
        "partitions",
        "run",
        "--allow-clock-skew",
        "--now",
        "2027-01-15T12:00:00Z",
    ])
    .expect(0);
    let json = demo(&[
        "partitions",
        "plan",
        "--now",
        "2027-08-01T00:00:00Z",
        "--format",
        "json",
    ]);
    json.expect(0);
    // Whether `run` would accept this --now depends on today's date: the
    // key saying so is not part of the snapshot.
    insta::with_settings!({filters => vec![(r#"(?m),\n  "run_refused": "[^\n]*$"#, "")]}, {
        insta::assert_snapshot!("demo_partition_plan_later_json", json.stdout);
    });
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
    let r = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-15T00:00:00Z"],
    );
    r.expect(1);
    assert!(
        r.stdout.contains("app public.events: FAILED"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("created other_2026_12"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("1 of 2 tables failed (public.events); the others were maintained"),
        "{}",
        r.stderr
    );
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
    assert_eq!(out.status.code(), Some(143), "SIGTERM's exit code");
    assert!(String::from_utf8_lossy(&out.stderr).contains("partition daemon stopped"));
}

#[tokio::test]
async fn the_daemon_stops_at_once_while_it_waits_for_the_lock() {
    let db = TestDb::new("part_daemon_wait").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 2");
    let holder = db.hold_migration_lock().await;
    let child = std::process::Command::new(support::migrate_bin())
        .args([
            "--lock-timeout",
            "600",
            "partitions",
            "daemon",
            "--every",
            "1h",
        ])
        .current_dir(p.path())
        .env("APP_URL", &db.url)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    support::wait_until(
        &db,
        "the daemon to wait for the lock",
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'strata' \
         AND datname = current_database()",
    )
    .await;
    let asked = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "SIGINT's exit code");
    // Not after the 600 s lock timeout: at once.
    assert!(asked.elapsed() < Duration::from_secs(60));
    assert!(children(&db, "events").await.is_empty());
    drop(holder);
}

/// The first day of the server's current month and of the next, in UTC.
async fn server_months(db: &TestDb) -> (String, String, String) {
    db.scalar::<String>(
        "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD') || ' ' || \
                to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month', 'YYYY-MM-DD') || ' ' || \
                to_char(date_trunc('month', now() AT TIME ZONE 'UTC'), 'YYYY_MM')",
    )
    .await
    .split(' ')
    .map(str::to_string)
    .collect::<Vec<_>>()
    .try_into()
    .map(|[a, b, c]: [String; 3]| (a, b, c))
    .unwrap()
}

#[tokio::test]
async fn a_month_made_by_hand_in_local_time_leaves_no_hole_and_check_sees_holes() {
    let db = TestDb::new("part_localtime").await;
    sql(&db, EVENTS).await;
    let (this, next, suffix) = server_months(&db).await;
    // A DBA in Auckland makes this month's partition in local time.
    sql(
        &db,
        &format!(
            "SET TIME ZONE 'Pacific/Auckland';\n\
             CREATE TABLE events_{suffix} PARTITION OF events FOR VALUES FROM ('{this}') TO ('{next}');"
        ),
    )
    .await;
    let p = project("table = \"events\"\npremake = 2");
    let check = run(&p, &db, &["check"]);
    assert_ne!(check.code, 0, "{}", check.all());
    assert!(
        check.stdout.contains("no partition covers"),
        "{}",
        check.stdout
    );

    run(&p, &db, &["run"]).expect(0);
    // The next partition starts where the hand-made one ends.
    let joined: bool = db
        .scalar(&format!(
            "SELECT bool_or(pg_get_expr(c.relpartbound, c.oid) LIKE '%' || \
               (SELECT split_part(split_part(pg_get_expr(relpartbound, oid), 'TO (', 2), ')', 1) \
                FROM pg_class WHERE relname = 'events_{suffix}') || '%TO%') \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'events'::regclass AND c.relname <> 'events_{suffix}'"
        ))
        .await;
    assert!(joined, "{:?}", children(&db, "events").await);
    // The hours the hand-made one left: a row there is taken.
    sql(
        &db,
        &format!(
            "INSERT INTO events (payload, created_at) VALUES ('edge', timestamptz '{next} 00:00:00+00' - interval '1 minute')"
        ),
    )
    .await;
    run(&p, &db, &["check"]).expect(0);
}

/// A `sales` table ranged by month whose current month is itself
/// partitioned by region.
fn sales(this: &str, next: &str, suffix: &str) -> String {
    format!(
        "CREATE TABLE sales (id bigint, region text NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);\n\
         CREATE TABLE sales_{suffix} PARTITION OF sales FOR VALUES FROM ('{this} 00:00+00') TO ('{next} 00:00+00') \
           PARTITION BY LIST (region);\n\
         CREATE TABLE sales_{suffix}_eu PARTITION OF sales_{suffix} FOR VALUES IN ('eu');\n\
         CREATE TABLE sales_{suffix}_us PARTITION OF sales_{suffix} FOR VALUES IN ('us');"
    )
}

#[tokio::test]
async fn sub_partitioned_months_get_sub_partitioned_successors() {
    let db = TestDb::new("part_sub").await;
    let (this, next, suffix) = server_months(&db).await;
    sql(&db, &sales(&this, &next, &suffix)).await;
    let p = project("table = \"sales\"\npremake = 1");
    run(&p, &db, &["run"]).expect(0);
    let kids = children(&db, "sales").await;
    assert_eq!(kids.len(), 2, "{kids:?}");
    let new = &kids
        .iter()
        .find(|(n, _)| *n != format!("sales_{suffix}"))
        .unwrap()
        .0;
    assert_eq!(
        db.scalar::<String>(&format!(
            "SELECT relkind::text FROM pg_class WHERE relname = '{new}'"
        ))
        .await,
        "p",
        "{new} must be partitioned like the month before it"
    );
    let subs: Vec<String> = children(&db, new)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(subs, [format!("{new}_eu"), format!("{new}_us")]);
    sql(
        &db,
        &format!(
            "INSERT INTO sales VALUES (1, 'eu', timestamptz '{next} 00:00+00' + interval '1 day')"
        ),
    )
    .await;
}

#[tokio::test]
async fn default_rows_move_into_a_sub_partitioned_successor() {
    let db = TestDb::new("part_sub_default").await;
    let (this, next, suffix) = server_months(&db).await;
    sql(
        &db,
        &format!(
            "{}\n\
             CREATE INDEX sales_at ON sales (at);\n\
             CREATE TABLE sales_default PARTITION OF sales DEFAULT;\n\
             INSERT INTO sales SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, \
               timestamptz '{next} 00:00+00' + g * interval '1 minute' FROM generate_series(1, 500) g;",
            sales(&this, &next, &suffix)
        ),
    )
    .await;
    let p = project("table = \"sales\"\npremake = 1");
    run(&p, &db, &["run", "--move-default-rows"]).expect(0);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM sales_default").await,
        0
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM sales").await, 500);
    // The rows sit in the new month's sub-partitions, reached through
    // the parent, and the new month has the parent's index.
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(tableoid::regclass::text || '=' || n, ',' ORDER BY tableoid::regclass::text) \
             FROM (SELECT tableoid, count(*) n FROM sales GROUP BY tableoid) t"
        )
        .await
        .matches('=')
        .count(),
        2
    );
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'sales_at'::regclass"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn a_table_strata_cannot_manage_fails_alone() {
    let db = TestDb::new("part_alone").await;
    sql(&db, EVENTS).await;
    sql(
        &db,
        "CREATE TABLE ticks (id bigint, at_epoch bigint NOT NULL) PARTITION BY RANGE (at_epoch)",
    )
    .await;
    let p = Project::new();
    p.config(
        "[databases.app]\nkind = \"postgres\"\nurl = \"${APP_URL}\"\nmigrations = \"migrations\"\n\n\
         [[partitions]]\ndatabase = \"app\"\ntable = \"ticks\"\n\n\
         [[partitions]]\ndatabase = \"app\"\ntable = \"events\"\npremake = 1\n",
    );
    let plan = run(&p, &db, &["plan"]);
    assert!(plan.stdout.contains("events_"), "{}", plan.all());
    assert!(plan.all().contains("at_epoch is bigint"), "{}", plan.all());
    let ran = run(&p, &db, &["run"]);
    assert_ne!(ran.code, 0, "{}", ran.all());
    assert!(ran.all().contains("ticks"), "{}", ran.all());
    assert_eq!(
        children(&db, "events").await.len(),
        2,
        "events is maintained"
    );
    let check = run(&p, &db, &["check"]);
    assert_ne!(check.code, 0);
    assert!(
        check.all().contains("at_epoch is bigint"),
        "{}",
        check.all()
    );
    assert!(!check.all().contains("public.events:"), "{}", check.all());
}

/// A config, as a service builds it, keeping `premake` months of
/// `events` ahead on `db`.
fn events_config(db: &TestDb, premake: u32) -> strata::Config {
    let text = format!(
        "[databases.app]\nkind = \"postgres\"\nurl = \"${{APP_URL}}\"\n\
         [[partitions]]\ndatabase = \"app\"\ntable = \"events\"\npremake = {premake}\n"
    );
    let url = db.url.clone();
    strata::Config::parse(&text, "inline", std::path::Path::new("."), &move |n| {
        (n == "APP_URL").then(|| url.clone())
    })
    .unwrap()
}

#[tokio::test]
async fn a_service_can_run_maintenance_as_a_task() {
    let db = TestDb::new("part_task").await;
    sql(&db, EVENTS).await;
    let config = events_config(&db, 1);
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
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-01-15T00:00:00Z"],
    )
    .expect(0);
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-02-15T00:00:00Z"],
    )
    .expect(0);
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
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-02-15T00:00:00Z"],
    )
    .expect(0);
    assert_eq!(names(&children(&db, "events").await), ["events_2026_02"]);
    assert!(
        db.has_table("events_2026_01").await,
        "a partition inside retention is never dropped"
    );
}

/// The database server's clock, as `partitions run` reads it.
async fn server_now(db: &TestDb) -> chrono::DateTime<chrono::Utc> {
    db.scalar::<chrono::DateTime<chrono::Utc>>("SELECT now()")
        .await
}

#[tokio::test]
async fn the_server_clock_decides_and_a_clock_far_ahead_cannot_drop_live_data() {
    let db = TestDb::new("part_clock").await;
    sql(&db, &EVENTS.replace("events", "ev_ret")).await;
    let p = project("table = \"ev_ret\"\npremake = 1\nretention = \"12 months\"");
    // No --now: the server's month is created, whatever this process's clock.
    run(&p, &db, &["run"]).expect(0);
    let now = server_now(&db).await;
    let current = format!("ev_ret_{}", now.format("%Y_%m"));
    assert!(names(&children(&db, "ev_ret").await).contains(&current.as_str()));
    sql(
        &db,
        "INSERT INTO ev_ret (payload, created_at) SELECT 'live', now() FROM generate_series(1, 200)",
    )
    .await;
    // The failure seen: a clock three years ahead detached (and dropped)
    // the current month. Now it is refused, saying both times.
    let refused = run(&p, &db, &["run", "--now", "2030-01-15T00:00:00Z"]);
    refused.expect(2);
    assert!(
        refused.stderr.contains("2030-01-15T00:00:00Z"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(&now.format("%Y-%m-%d").to_string()),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--allow-clock-skew"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("config:"), "{}", refused.stderr);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM ev_ret").await, 200);
    assert!(names(&children(&db, "ev_ret").await).contains(&current.as_str()));
    sql(
        &db,
        "INSERT INTO ev_ret (payload, created_at) VALUES ('next', now())",
    )
    .await;
    // `plan` with that clock is free, and says `run` would refuse it.
    let plan = run(&p, &db, &["plan", "--now", "2030-01-15T00:00:00Z"]);
    plan.expect(0);
    assert!(plan.stderr.contains("would be refused"), "{}", plan.stderr);
    // A year outside 1900–2200 is a usage error.
    let r = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "9999-12-15T00:00:00Z"],
    );
    r.expect(2);
    assert!(r.stderr.contains("between 1900 and 2200"), "{}", r.stderr);
}

#[tokio::test]
async fn a_gap_of_thousands_is_refused_not_filled() {
    let db = TestDb::new("part_bound").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 1");
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-15T00:00:00Z"],
    )
    .expect(0);
    let before = children(&db, "events").await;
    let started = Instant::now();
    let r = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2199-12-15T00:00:00Z"],
    );
    r.expect(1);
    assert!(started.elapsed() < Duration::from_secs(30));
    // One policy: the failure reads like one.
    assert!(r.stderr.contains("public.events failed: "), "{}", r.stderr);
    assert!(
        r.stderr.contains("would create 2077 partitions"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("max_create_per_run = 120"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("table(s)"), "{}", r.stderr);
    assert_eq!(children(&db, "events").await, before);
    // The cap is a setting.
    let p = project("table = \"events\"\npremake = 1\nmax_create_per_run = 5");
    let r = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2027-06-15T00:00:00Z"],
    );
    r.expect(1);
    assert!(
        r.stderr.contains("would create 7 partitions"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn every_interval_is_managed_on_the_real_server() {
    let db = TestDb::new("part_every").await;
    let cases = [
        (
            "day",
            "ev_d",
            ["ev_d_2026_11_30", "ev_d_2026_12_01"],
            "FOR VALUES FROM ('2026-11-30 00:00:00+00') TO ('2026-12-01 00:00:00+00')",
        ),
        (
            "week",
            "ev_w",
            ["ev_w_2026_w53", "ev_w_2027_w01"],
            "FOR VALUES FROM ('2026-12-28 00:00:00+00') TO ('2027-01-04 00:00:00+00')",
        ),
        (
            "quarter",
            "ev_q",
            ["ev_q_2026_q4", "ev_q_2027_q1"],
            "FOR VALUES FROM ('2026-10-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')",
        ),
        (
            "year",
            "ev_y",
            ["ev_y_2026", "ev_y_2027"],
            "FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')",
        ),
    ];
    for (interval, table, expected, first_bound) in cases {
        sql(&db, &EVENTS.replace("events", table)).await;
        let p = project(&format!(
            "table = \"{table}\"\ninterval = \"{interval}\"\npremake = 1"
        ));
        let now = if interval == "week" {
            "2027-01-01T12:00:00Z"
        } else {
            "2026-11-30T12:00:00Z"
        };
        run(&p, &db, &["run", "--allow-clock-skew", "--now", now]).expect(0);
        let kids = children(&db, table).await;
        assert_eq!(names(&kids), expected, "{interval}");
        assert_eq!(kids[0].1, first_bound, "{interval}");
        // A row lands in its partition, and a second run has nothing to do.
        sql(
            &db,
            &format!("INSERT INTO {table} (payload, created_at) VALUES ('x', '{now}')"),
        )
        .await;
        let again = run(&p, &db, &["run", "--allow-clock-skew", "--now", now]);
        again.expect(0);
        assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
    }
    // Retention in days on daily partitions.
    sql(&db, &EVENTS.replace("events", "ev_r")).await;
    let p = project("table = \"ev_r\"\ninterval = \"daily\"\npremake = 0\nretention = \"2 days\"");
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-27T12:00:00Z"],
    )
    .expect(0);
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-28T12:00:00Z"],
    )
    .expect(0);
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-29T12:00:00Z"],
    )
    .expect(0);
    let r = run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-30T12:00:00Z"],
    );
    r.expect(0);
    assert_eq!(
        names(&children(&db, "ev_r").await),
        ["ev_r_2026_11_28", "ev_r_2026_11_29", "ev_r_2026_11_30"]
    );
    assert!(
        r.stdout.contains("detached ev_r_2026_11_27"),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn check_tells_monitoring_what_is_missing_expired_or_stray() {
    let db = TestDb::new("part_check").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 2\nretention = \"3 months\"");
    let now = server_now(&db).await;
    // Nothing yet: no current partition, none ahead.
    let r = run(&p, &db, &["check"]);
    r.expect(1);
    assert!(
        r.stdout.contains("no partition holds the current interval"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("0 partition(s) ready ahead, the policy keeps 2"),
        "{}",
        r.stdout
    );
    run(&p, &db, &["run"]).expect(0);
    let r = run(&p, &db, &["check"]);
    r.expect(0);
    assert!(r.stdout.contains("no problem"), "{}", r.stdout);
    // An expired partition that is still there, and a stray DEFAULT row.
    sql(&db, "CREATE TABLE events_old PARTITION OF events FOR VALUES FROM ('2001-01-01') TO ('2001-02-01')").await;
    sql(
        &db,
        "CREATE TABLE events_default PARTITION OF events DEFAULT",
    )
    .await;
    sql(
        &db,
        "INSERT INTO events (payload, created_at) VALUES ('stray', '2003-05-05T00:00:00Z')",
    )
    .await;
    let r = run(&p, &db, &["check"]);
    r.expect(1);
    assert!(
        r.stdout.contains("events_old is past retention"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("events_default holds 1 row(s) for 2003-05"),
        "{}",
        r.stdout
    );
    let json = run(&p, &db, &["check", "--format", "json"]);
    json.expect(1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["tables"][0]["future"], 2);
    let _ = now;
}

#[tokio::test]
async fn the_daemon_logs_each_run_and_writes_metrics_atomically() {
    let db = TestDb::new("part_metrics").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 2");
    let metrics = p.path().join("strata.prom");
    let child = std::process::Command::new(support::migrate_bin())
        .args([
            "-v",
            "partitions",
            "daemon",
            "--every",
            "1s",
            "--metrics-file",
        ])
        .arg(&metrics)
        .current_dir(p.path())
        .env("APP_URL", &db.url)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&metrics).unwrap_or_default();
        if text.contains("strata_partitions_future{database=\"app\",table=\"public.events\"} 2") {
            break text;
        }
        assert!(Instant::now() < deadline, "no metrics: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        !text.contains("strata_partitions_last_success_timestamp_seconds 0\n"),
        "{text}"
    );
    assert!(
        text.contains("strata_partitions_failed_runs_total 0"),
        "{text}"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("partition maintenance run finished"), "{log}");
    assert!(log.contains("created=3"), "{log}");
    // Only the file itself is left in the folder: no temporary file.
    let leftovers: Vec<_> = std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("prom") && n != "strata.prom")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `events` with a DEFAULT partition holding `rows` rows for December
/// 2026 (payload `old …`), November made by a first run.
async fn december_in_default(name: &str, rows: u32) -> TestDb {
    let db = TestDb::new(name).await;
    sql(&db, EVENTS).await;
    sql(
        &db,
        "CREATE TABLE events_default PARTITION OF events DEFAULT",
    )
    .await;
    let p = project("table = \"events\"\npremake = 0");
    run(
        &p,
        &db,
        &["run", "--allow-clock-skew", "--now", "2026-11-15T00:00:00Z"],
    )
    .expect(0);
    sql(
        &db,
        &format!(
            "INSERT INTO events (payload, created_at) SELECT 'old ' || g, \
             timestamptz '2026-12-01 00:00:00+00' + (g % 40000) * interval '1 minute' \
             FROM generate_series(1, {rows}) g"
        ),
    )
    .await;
    db
}

/// The run that moves December's DEFAULT rows, verbose.
const MOVE: [&str; 7] = [
    "-v",
    "partitions",
    "run",
    "--allow-clock-skew",
    "--now",
    "2026-11-15T00:00:00Z",
    "--move-default-rows",
];

/// [`MOVE`] on a thread of its own, so the test's tasks go on beside it.
async fn move_beside(p: Project, db: &TestDb) -> Run {
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || p.migrate_raw(&MOVE, &[("APP_URL", url.as_str())]))
        .await
        .unwrap()
}

/// Nothing of a copy is left: no trigger, function or table.
async fn no_copy_left(db: &TestDb) {
    assert_eq!(
        db.scalar::<i64>(
            "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'strata_copy%') \
             + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'strata_copy%') \
             + (SELECT count(*) FROM pg_class WHERE relname LIKE 'strata_copy%')"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_rows_move_under_load_without_loss_or_failed_inserts() {
    // 100,000 rows for December wait in the DEFAULT partition.
    let db = december_in_default("part_move", 100_000).await;
    let before: i64 = db.scalar("SELECT count(*) FROM events").await;
    // Four writers: two into December (the DEFAULT, then the new
    // partition), two into November (an existing partition).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (url, flag) = (db.url.clone(), stop.clone());
        let month = if w % 2 == 0 {
            "2026-12-10"
        } else {
            "2026-11-10"
        };
        writers.push(tokio::spawn(async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let (mut ok, mut failed) = (0i64, 0i64);
            let mut worst = Duration::ZERO;
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                let t = Instant::now();
                let sql = format!(
                    "INSERT INTO events (payload, created_at) VALUES ('w', '{month}T12:00:00Z')"
                );
                match sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        failed += 1;
                        eprintln!("insert failed: {e}");
                    }
                }
                worst = worst.max(t.elapsed());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (month, ok, failed, worst)
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.scalar::<i64>("SELECT count(*) FROM events").await < before + 100 {
        assert!(Instant::now() < deadline, "the writers never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A reader counts the December rows through the parent all along:
    // they are copied while they stay where they are, then switched.
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (url, on) = (db.url.clone(), watching.clone());
        tokio::spawn(async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let (mut fewest, mut looks) = (i64::MAX, 0);
            while on.load(std::sync::atomic::Ordering::SeqCst) {
                let n: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM events WHERE payload LIKE 'old %'")
                        .fetch_one(&mut c)
                        .await
                        .unwrap();
                fewest = fewest.min(n);
                looks += 1;
            }
            (fewest, looks)
        })
    };
    let p = project("table = \"events\"\npremake = 1\nmove_batch_rows = 10000");
    let started = Instant::now();
    let r = move_beside(p, &db).await;
    let took = started.elapsed();
    watching.store(false, std::sync::atomic::Ordering::SeqCst);
    let (fewest, looks) = watcher.await.unwrap();
    assert!(looks > 1, "the reader looked {looks} time(s)");
    assert_eq!(
        fewest, 100_000,
        "rows went missing through the parent during the move"
    );
    assert!(
        r.stderr
            .contains("copied DEFAULT partition rows and switched"),
        "{}",
        r.stderr
    );
    // Writers go on a moment after the attach, then stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut inserted = 0;
    for w in writers {
        let (month, ok, failed, worst) = w.await.unwrap();
        eprintln!("writer into {month}: {ok} inserts, {failed} failed, longest stall {worst:?}");
        assert_eq!(failed, 0, "writer into {month}");
        inserted += ok;
    }
    r.expect(0);
    // Each batch is a transaction of its own (a batch left open would make
    // the next BEGIN warn, and hold its locks until the end).
    assert!(!r.stderr.contains("already a transaction"), "{}", r.stderr);
    eprintln!("moved 100,000 DEFAULT rows under load in {took:?}");
    assert!(r.stdout.contains("created events_2026_12"), "{}", r.stdout);
    // Every row is somewhere, once: none lost, none twice.
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events").await,
        before + inserted
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events_default WHERE created_at >= '2026-12-01' AND created_at < '2027-01-01'").await,
        0
    );
    assert!(
        db.scalar::<i64>("SELECT count(*) FROM events_2026_12")
            .await
            >= 100_000
    );
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'strata_partition_bound'"
        )
        .await,
        0
    );
    // Nothing of the copy is left: no trigger, function or table.
    no_copy_left(&db).await;
}

#[tokio::test]
async fn maintenance_that_times_out_names_who_holds_the_parent() {
    let db = TestDb::new("part_holder").await;
    sql(&db, EVENTS).await;
    let p = project("table = \"events\"\npremake = 1");
    let mut holder = db.connect().await;
    sqlx::raw_sql(
        "SET application_name = 'holder-app'; BEGIN; LOCK TABLE events IN ACCESS SHARE MODE;",
    )
    .execute(&mut holder)
    .await
    .unwrap();
    // ATTACH needs SHARE UPDATE EXCLUSIVE, which ACCESS SHARE does not
    // block: hold what does.
    sqlx::raw_sql("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let r = run(&p, &db, &["run"]);
    r.expect(1);
    assert!(
        r.all().contains("was held by server process"),
        "{}",
        r.all()
    );
    assert!(r.all().contains("\"holder-app\""), "{}", r.all());
    assert!(children(&db, "events").await.is_empty());
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    run(&p, &db, &["run"]).expect(0);
}

/// The steady state reads every table in one look and takes no lock: a
/// run with nothing to do finishes while another runner holds the lock
/// (before, it waited for it); a run with work waits for the lock.
#[tokio::test]
async fn a_run_with_nothing_to_do_takes_no_lock() {
    let db = TestDb::new("part_idle").await;
    sql(&db, EVENTS).await;
    sql(
        &db,
        "CREATE TABLE later_events (id bigint, at date NOT NULL) PARTITION BY RANGE (at)",
    )
    .await;
    let p = project(
        "table = \"events\"\npremake = 2\n\n[[partitions]]\ndatabase = \"app\"\n\
         table = \"later_events\"\npremake = 1\n\n[[partitions]]\ndatabase = \"app\"\n\
         table = \"not_yet\"",
    );
    let at = |now: &str| {
        p.migrate_raw(
            &[
                "--lock-timeout",
                "1",
                "partitions",
                "run",
                "--allow-clock-skew",
                "--now",
                now,
            ],
            &[("APP_URL", db.url.as_str())],
        )
    };
    at("2026-11-15T00:00:00Z").expect(0);
    let holder = db.hold_migration_lock().await;
    let idle = at("2026-11-20T00:00:00Z");
    idle.expect(0);
    assert!(idle.stdout.contains("nothing to do"), "{}", idle.stdout);
    assert!(
        idle.stdout.contains("not_yet does not exist yet"),
        "{}",
        idle.stdout
    );
    // A month on, partitions are due: the run needs the lock and waits.
    let busy = at("2026-12-20T00:00:00Z");
    assert_ne!(busy.code, 0, "{}", busy.stdout);
    assert!(
        busy.stdout.contains("not maintained") && busy.stdout.contains("lock"),
        "{}\n{}",
        busy.stdout,
        busy.stderr
    );
    drop(holder);
    at("2026-12-20T00:00:00Z").expect(0);
    assert_eq!(
        names(&children(&db, "events").await),
        [
            "events_2026_11",
            "events_2026_12",
            "events_2027_01",
            "events_2027_02"
        ]
    );
}

#[tokio::test]
async fn a_daemon_reads_again_only_the_parents_that_changed() {
    use strata::partition::scheduler::{Clock, Maintenance, TableReport};
    let db = TestDb::new("part_known").await;
    sql(&db, EVENTS).await;
    let config = events_config(&db, 2);
    let options = strata::engine::Options {
        lock_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let maintenance = || {
        Maintenance::new(&config, &[])
            .unwrap()
            .with_options(options.clone())
    };
    let done = |reports: &[TableReport]| -> usize {
        for r in reports {
            assert!(r.error.is_none(), "{r:?}");
        }
        reports.iter().map(|r| r.done.len()).sum()
    };
    // One value runs again and again, as the daemon does.
    let daemon = maintenance();
    assert_eq!(done(&daemon.run(Clock::Server).await.unwrap()), 3);
    assert_eq!(done(&daemon.run(Clock::Server).await.unwrap()), 0);
    let months = children(&db, "events").await;
    let [(this, _), _, (last, last_bound)] = &months[..] else {
        panic!("{months:?}");
    };

    // Behind pg_inherits' back, the catalog now says the last month's
    // child is another child of this month: read again, the last month is
    // missing and the run needs the lock to create it; the daemon, whose
    // parent's children have not changed, does not read them again and
    // takes no lock.
    sql(
        &db,
        &format!(
            "CREATE TABLE saved AS SELECT oid, relname, relpartbound FROM pg_class WHERE relname = '{last}';\n\
             UPDATE pg_class SET relname = 'tampered', \
             relpartbound = (SELECT relpartbound FROM pg_class WHERE relname = '{this}') \
             WHERE relname = '{last}'"
        ),
    )
    .await;
    let holder = db.hold_migration_lock().await;
    assert_eq!(done(&daemon.run(Clock::Server).await.unwrap()), 0);
    let fresh = maintenance().run(Clock::Server).await.unwrap();
    assert!(
        fresh[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("not maintained") && e.contains("lock")),
        "{fresh:?}"
    );
    drop(holder);
    sql(
        &db,
        "UPDATE pg_class c SET relname = s.relname, relpartbound = s.relpartbound \
         FROM saved s WHERE c.oid = s.oid",
    )
    .await;

    // Changes made the ordinary way change the parent's children: the
    // daemon reads them again and sees what they did.
    sql(&db, &format!("DROP TABLE {last}")).await;
    assert_eq!(done(&daemon.run(Clock::Server).await.unwrap()), 1);
    assert_eq!(children(&db, "events").await, months);
    // Last month's child attached again, renamed, for its first half
    // only: its second half gets a partition of its own.
    let from = last_bound.split('\'').nth(1).unwrap().to_string();
    let half = from.replacen("-01 ", "-15 ", 1);
    sql(
        &db,
        &format!(
            "ALTER TABLE events DETACH PARTITION {last};\n\
             ALTER TABLE {last} RENAME TO by_hand;\n\
             ALTER TABLE events ATTACH PARTITION by_hand FOR VALUES FROM ('{from}') TO ('{half}')"
        ),
    )
    .await;
    assert_eq!(done(&daemon.run(Clock::Server).await.unwrap()), 1);
    let now = children(&db, "events").await;
    assert_eq!(
        now.iter()
            .find(|(name, _)| name == last)
            .map(|(_, b)| b.split('\'').nth(1)),
        Some(Some(half.as_str())),
        "{now:?}"
    );
    assert_eq!(done(&daemon.run(Clock::Server).await.unwrap()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_deleted_during_the_copy_send_the_move_the_batched_way() {
    let db = december_in_default("part_copy_back", 50_000).await;
    // A deleter removes December rows one by one, before and all through
    // the move: the copy sees its deletes and leaves the rows to batches.
    let deleting = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let deleter = {
        let (url, on) = (db.url.clone(), deleting.clone());
        tokio::spawn(async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let mut deleted = 0u64;
            while on.load(std::sync::atomic::Ordering::SeqCst) {
                deleted += sqlx::query(
                    "DELETE FROM events WHERE id = (SELECT min(id) FROM events WHERE payload LIKE 'old %')",
                )
                .execute(&mut c)
                .await
                .unwrap()
                .rows_affected();
            }
            deleted
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.scalar::<i64>("SELECT count(*) FROM events").await > 49_990 {
        assert!(Instant::now() < deadline, "the deleter never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let p = project("table = \"events\"\npremake = 1");
    let r = move_beside(p, &db).await;
    deleting.store(false, std::sync::atomic::Ordering::SeqCst);
    let deleted = deleter.await.unwrap();
    r.expect(0);
    assert!(
        r.stderr.contains("moving them in batches instead"),
        "{}",
        r.stderr
    );
    let left = 50_000 - i64::try_from(deleted).unwrap();
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM events").await, left);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events_2026_12")
            .await,
        left
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(DISTINCT id) FROM events")
            .await,
        left
    );
    no_copy_left(&db).await;
}

#[tokio::test]
async fn an_interrupted_copy_is_undone_then_the_rows_moved() {
    let db = december_in_default("part_copy_cut", 500_000).await;
    let p = project("table = \"events\"\npremake = 1");
    let args = &MOVE[1..];
    let mut child = std::process::Command::new(support::migrate_bin())
        .args(args)
        .current_dir(p.path())
        .env("APP_URL", &db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the copy's trigger is in place: its log, its trigger
    // and a child holding copies are left behind.
    let deadline = Instant::now() + Duration::from_secs(60);
    while db
        .scalar::<i64>("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'strata_copy%'")
        .await
        == 0
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its copy was seen"
        );
        assert!(Instant::now() < deadline, "no copy started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The server ends the dead client's statement (strata asks it to look
    // every 2 s); until then the next run waits for its locks.
    let r = p.migrate_raw(args, &[("APP_URL", db.url.as_str())]);
    r.expect(0);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events").await,
        500_000
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events_2026_12")
            .await,
        500_000
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(DISTINCT id) FROM events")
            .await,
        500_000
    );
    no_copy_left(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_with_no_right_on_the_copy_keeps_inserting_through_it() {
    let db = december_in_default("part_copy_role", 200_000).await;
    // The application's role: SELECT and INSERT on the table, nothing
    // else (the copy's trigger writes its log with strata's rights).
    let role = format!("{}_writer", db.name);
    sql(
        &db,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'writer-secret';\n\
             GRANT SELECT, INSERT ON events TO {role};\n\
             GRANT USAGE ON SEQUENCE events_id_seq TO {role}"
        ),
    )
    .await;
    let host = &db.url[db.url.rfind('@').unwrap() + 1..];
    let url = format!("postgres://{role}:writer-secret@{host}");
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let on = writing.clone();
        tokio::spawn(async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let (mut ok, mut failed) = (0i64, Vec::new());
            while on.load(std::sync::atomic::Ordering::SeqCst) {
                match sqlx::query(
                    "INSERT INTO events (payload, created_at) VALUES ('w', '2026-12-10T12:00:00Z')",
                )
                .execute(&mut c)
                .await
                {
                    Ok(_) => ok += 1,
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while db
        .scalar::<i64>("SELECT count(*) FROM events WHERE payload = 'w'")
        .await
        < 10
    {
        assert!(Instant::now() < deadline, "the writer never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = move_beside(project("table = \"events\"\npremake = 1"), &db).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    writing.store(false, std::sync::atomic::Ordering::SeqCst);
    let (inserted, failed) = writer.await.unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    r.expect(0);
    // It wrote all through the copy, whose trigger fired on each of its
    // rows: none failed.
    assert!(
        r.stderr
            .contains("copied DEFAULT partition rows and switched"),
        "{}",
        r.stderr
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events").await,
        200_000 + inserted
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events_default")
            .await,
        0
    );
    no_copy_left(&db).await;
    sql(&db, &format!("DROP OWNED BY {role}; DROP ROLE {role}")).await;
}
