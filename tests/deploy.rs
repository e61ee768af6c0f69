//! Deploy jobs: `migrate wait` as a readiness gate (and
//! `Migrator::wait_until_current`), `status --exit-code`, against the real
//! PostgreSQL the suite starts.

mod support;

use std::process::Stdio;

use sqlx::Connection;
use std::time::Duration;

use strata::migrator::WaitFor;
use strata::{Config, Error, Migrator};
use support::{Project, Run, TestDb};

fn project() -> Project {
    let p = Project::new();
    p.migration("V1__users.sql", "CREATE TABLE users (id bigint);");
    p.migration("V2__email.sql", "ALTER TABLE users ADD COLUMN email text;");
    p
}

#[tokio::test]
async fn wait_returns_only_once_every_migration_is_applied() {
    let db = TestDb::new("wait_gate").await;
    let p = project();
    let mut waiter = p
        .command(&db, &["wait", "--timeout", "2m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Half the folder: the gate stays shut.
    p.migrate(&db, &["up", "--to", "1"]).expect(0);
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "wait returned with version 2 pending"
    );
    p.migrate(&db, &["up"]).expect(0);
    let run = Run::from(waiter.wait_with_output().unwrap());
    run.expect(0);
    assert!(
        run.stdout.contains("default (postgres): ready"),
        "{}",
        run.stdout
    );
    // It never wrote: no lock taken, nothing recorded but by `up`.
    assert_eq!(db.history().await.len(), 2);
}

#[tokio::test]
async fn wait_times_out_naming_what_is_pending_and_who_holds_the_lock() {
    let db = TestDb::new("wait_timeout").await;
    let p = project();
    p.migrate(&db, &["up", "--to", "1"]).expect(0);

    let run = p.migrate(&db, &["wait", "--timeout", "1s"]);
    run.expect(1);
    assert!(run.stderr.contains("not ready after 1s"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "database default: still pending: 2 (email); no run holds the migration lock"
        ),
        "{}",
        run.stderr
    );

    let holder = db.hold_migration_lock().await;
    let run = p.migrate(&db, &["wait", "--timeout", "1s"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("a run holds the migration lock: server process"),
        "{}",
        run.stderr
    );
    let _ = holder.close().await;

    // A version: ready as soon as it (and those before it) is applied.
    p.migrate(&db, &["wait", "--version", "1", "--timeout", "1s"])
        .expect(0);
    let run = p.migrate(&db, &["wait", "--version", "7"]);
    run.expect(2);
    assert!(run.stderr.contains("has no migration 7"), "{}", run.stderr);
    assert_eq!(db.history().await.len(), 1, "wait wrote nothing");
}

#[tokio::test]
async fn status_exit_code_says_whether_anything_is_pending() {
    let db = TestDb::new("status_exit").await;
    let p = project();
    p.migrate(&db, &["status", "--exit-code"]).expect(3);
    // Without the flag, pending is not a failure.
    p.migrate(&db, &["status"]).expect(0);
    p.migrate(&db, &["up"]).expect(0);
    p.migrate(&db, &["status", "--exit-code"]).expect(0);
    p.migrate(&db, &["status", "--exit-code", "--format", "json"])
        .expect(0);
}

#[tokio::test]
async fn the_library_waits_until_current() {
    let db = TestDb::new("wait_library").await;
    let p = project();
    let config = Config::single(
        &db.url,
        p.path().join("migrations"),
        p.path().join("rollbacks"),
    )
    .unwrap();
    let migrator = Migrator::new(&config, &[]).unwrap();
    let e = migrator
        .wait_until_current(Duration::from_millis(300))
        .await
        .unwrap_err();
    let Error::NotReady { behind, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(behind.len(), 1);
    assert_eq!(behind[0].pending.len(), 2);
    assert_eq!(e.exit_code(), 1);

    p.migrate(&db, &["up", "--to", "1"]).expect(0);
    migrator
        .wait_until(WaitFor::Version(1), Duration::from_secs(5))
        .await
        .unwrap();
    p.migrate(&db, &["up"]).expect(0);
    migrator
        .wait_until_current(Duration::from_secs(5))
        .await
        .unwrap();
}

/// Every stderr line of `run`, parsed: each must be one JSON object.
fn json_lines(run: &Run) -> Vec<serde_json::Value> {
    run.stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[tokio::test]
async fn log_format_json_makes_every_stderr_line_a_log_object() {
    let db = TestDb::new("json_logs").await;
    let p = project();
    let run = p.migrate(&db, &["--log-format", "json", "-v", "up"]);
    run.expect(0);
    assert!(
        run.stdout.trim().is_empty(),
        "steps are log lines now: {}",
        run.stdout
    );
    let lines = json_lines(&run);
    for l in &lines {
        assert!(
            l["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{l}"
        );
        assert!(l["level"].is_string(), "{l}");
    }
    let completed: Vec<_> = lines.iter().filter(|l| l["event"] == "completed").collect();
    assert_eq!(completed.len(), 2, "{}", run.stderr);
    assert_eq!(completed[0]["database"], "default");
    assert_eq!(completed[0]["version"], 1);
    assert_eq!(completed[1]["version"], 2);
    assert!(
        completed[1]["message"]
            .as_str()
            .unwrap()
            .contains("applied 2 email"),
        "{}",
        completed[1]
    );
    // -v: the tracing log is JSON too.
    assert!(
        lines
            .iter()
            .any(|l| l["event"].is_null() && l["message"].is_string()),
        "{}",
        run.stderr
    );

    // A failure: the error is a log object, the password nowhere.
    p.migration("V3__bad.sql", "ALTER TABLE nope ADD COLUMN x int;");
    let run = p.migrate(&db, &["--log-format", "json", "up"]);
    run.expect(1);
    let lines = json_lines(&run);
    let error = lines.last().unwrap();
    assert_eq!(error["level"], "ERROR", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("V3__bad.sql"),
        "{error}"
    );
    let wrong = db.url.replacen("://strata:", "://strata:hunter2-not-it", 1);
    let run = p.migrate_raw(
        &["--database-url", &wrong, "--log-format", "json", "status"],
        &[],
    );
    run.expect(1);
    let all = run.all();
    assert!(!all.contains(&support::admin_password()), "{all}");
    assert!(!all.contains("hunter2-not-it"), "{all}");
    json_lines(&run);
}

/// A group of `dbs` with `extra` settings, its folder `migrations/`.
fn group(dbs: &[TestDb], extra: &str) -> Project {
    let p = project();
    let urls: Vec<String> = dbs.iter().map(|d| format!("\"{}\"", d.url)).collect();
    p.config(&format!(
        "[groups.tenants]\nkind = \"postgres\"\nurls = [{}]\nmigrations = \"migrations\"\n\
         rollbacks = \"rollbacks\"\n{extra}",
        urls.join(", ")
    ));
    p
}

async fn tenants(label: &str, n: usize) -> Vec<TestDb> {
    let mut dbs = Vec::new();
    for _ in 0..n {
        dbs.push(TestDb::new(label).await);
    }
    dbs
}

#[tokio::test]
async fn a_failing_canary_stops_the_rollout_before_the_next_stage() {
    let dbs = tenants("rollout_stop", 4).await;
    let p = group(&dbs, "rollout = [1, \"50%\", \"100%\"]\n");
    let plan = p.migrate_raw(&["plan"], &[]);
    plan.expect(0);
    assert!(
        plan.stdout.contains("rollout of group tenants (3 stages"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(&format!("stage 1: 1 member: tenants/{}", dbs[0].name)),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("stage 2: 1 member"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("stage 3: 2 members"),
        "{}",
        plan.stdout
    );

    // The canary already has the table: its V1 fails.
    let mut canary = dbs[0].connect().await;
    sqlx::raw_sql("CREATE TABLE users (id bigint)")
        .execute(&mut canary)
        .await
        .unwrap();
    let _ = canary.close().await;
    let run = p.migrate_raw(&["--jobs", "4", "up"], &[]);
    run.expect(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    for db in &dbs[1..] {
        assert!(
            run.all().contains(&format!("tenants/{}", db.name)),
            "{} is named as not started: {}",
            db.name,
            run.all()
        );
        assert!(db.history().await.is_empty(), "{} was not started", db.name);
    }
    assert!(run.all().contains("not started"), "{}", run.all());
    assert!(run.stderr.contains("rollout stopped"), "{}", run.stderr);

    // One failure allowed: the later stages go on without the canary.
    let p = group(&dbs, "rollout = [1, \"50%\", \"100%\"]\nmax_failures = 1\n");
    let run = p.migrate_raw(&["up"], &[]);
    run.expect(1);
    for db in &dbs[1..] {
        assert_eq!(db.history().await.len(), 2, "{}", db.name);
    }
    assert!(dbs[0].history().await.is_empty());
}

#[tokio::test]
async fn canary_runs_the_first_members_first_then_the_rest() {
    let dbs = tenants("rollout_canary", 3).await;
    let p = group(&dbs, "");
    let plan = p.migrate_raw(&["--canary", "2", "plan"], &[]);
    plan.expect(0);
    assert!(
        plan.stdout.contains("stage 1: 2 members"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("stage 2: 1 member"), "{}", plan.stdout);
    let md = p.migrate_raw(&["--canary", "2", "plan", "--format", "markdown"], &[]);
    md.expect(0);
    assert!(md.stdout.starts_with("## strata plan\n"), "{}", md.stdout);
    assert!(
        md.stdout
            .contains("| | version | description | file | notes |"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("### Rollouts"), "{}", md.stdout);
    // Without a rollout or --canary, no stages are shown.
    assert!(
        !p.migrate_raw(&["plan"], &[])
            .stdout
            .contains("rollout of group")
    );

    // The last member fails: the canaries were already done.
    let mut last = dbs[2].connect().await;
    sqlx::raw_sql("CREATE TABLE users (id bigint)")
        .execute(&mut last)
        .await
        .unwrap();
    let _ = last.close().await;
    let run = p.migrate_raw(&["--canary", "2", "up"], &[]);
    run.expect(1);
    assert_eq!(dbs[0].history().await.len(), 2);
    assert_eq!(dbs[1].history().await.len(), 2);
    assert!(dbs[2].history().await.is_empty());

    let bad = group(&dbs, "max_failures = 1\n");
    let run = bad.migrate_raw(&["plan"], &[]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("groups.tenants.max_failures: is for a staged rollout"),
        "{}",
        run.stderr
    );
}
