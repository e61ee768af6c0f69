//! The library as a service uses it: migrations compiled in, replicas
//! starting together, a validate-only mode, and plans as values that CI
//! snapshots without a database.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Connection;
use strata::catalog::Catalog;
use strata::plan::{Command as PlanCommand, OutOfOrder, UpTarget};
use strata::{Config, Error, Kind, Migrator, Status};
use support::{Run, TestDb};

static DEMO: strata::Embedded = strata::embed!("migrations", "rollbacks");
static KIND_BAD: strata::Embedded = strata::embed!("tests/fixtures/embed_kind_bad/migrations");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn up_latest() -> PlanCommand {
    PlanCommand::Up {
        to: UpTarget::Latest,
        out_of_order: OutOfOrder::Refuse,
    }
}

/// The repository's own `migrate.toml`, pointed at `url`.
fn demo_config(url: &str) -> Config {
    let text = std::fs::read_to_string(repo().join("migrate.toml")).unwrap();
    Config::parse(&text, "migrate.toml", repo(), &|name| {
        Some(match name {
            "APP_DATABASE_URL" => url.to_string(),
            "GRAPH_DATABASE_URL" => "bolt://127.0.0.1:1".to_string(),
            "SEARCH_DATABASE_URL" | "VECTORS_DATABASE_URL" => "http://127.0.0.1:1".to_string(),
            _ => "unused".to_string(),
        })
    })
    .unwrap()
}

fn app_config(db: &TestDb) -> Config {
    Config::default()
        .with_database("app", Kind::Postgres, &db.url)
        .unwrap()
}

#[test]
fn embedded_checksums_equal_the_files_checksums() {
    assert_eq!(
        DEMO.folders().collect::<Vec<_>>(),
        vec!["app", "graph", "search", "vectors"]
    );
    for (folder, kind) in [
        ("app", Kind::Postgres),
        ("graph", Kind::Neo4j),
        ("search", Kind::Elasticsearch),
        ("vectors", Kind::Qdrant),
    ] {
        let db = Config::default()
            .with_database(folder, kind, "unused://")
            .unwrap()
            .databases
            .remove(folder)
            .unwrap();
        let format = strata::backend::format(&db).unwrap();
        let embedded = DEMO.catalog(folder, &*format).unwrap();
        let files = Catalog::load(
            &*format,
            &repo().join("migrations").join(folder),
            &repo().join("rollbacks").join(folder),
        )
        .unwrap();
        assert!(!files.migrations.is_empty());
        assert_eq!(embedded.migrations.len(), files.migrations.len());
        for (e, f) in embedded.migrations.iter().zip(&files.migrations) {
            assert_eq!(e.version, f.version);
            assert_eq!(e.description, f.description);
            assert_eq!(
                e.script.checksum, f.script.checksum,
                "{folder} V{}",
                e.version
            );
            assert_eq!(e.script.mode, f.script.mode, "{folder} V{}", e.version);
            assert_eq!(
                e.rollback.as_ref().map(|r| &r.checksum),
                f.rollback.as_ref().map(|r| &r.checksum),
                "{folder} U{}",
                e.version
            );
        }
    }
}

#[test]
fn a_bad_file_the_macro_cannot_judge_fails_at_construction() {
    // The macro cannot know this folder is PostgreSQL; the Migrator can.
    let config = Config::default()
        .with_database("bad", Kind::Postgres, "postgres://u:p@127.0.0.1:1/x")
        .unwrap();
    let e = Migrator::from_embedded(&KIND_BAD, &config).unwrap_err();
    assert!(matches!(e, Error::File { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("tests/fixtures/embed_kind_bad/migrations/bad/V1__unknown_directive.sql")
            && text.contains("unknown directive"),
        "{text}"
    );
    // A database without an embedded folder is refused the same way.
    let config = Config::default()
        .with_database("nowhere", Kind::Postgres, "postgres://u:p@127.0.0.1:1/x")
        .unwrap();
    let e = Migrator::from_embedded(&DEMO, &config).unwrap_err();
    assert!(
        e.to_string().contains(
            "no embedded migrations folder named nowhere (embedded: app, graph, search, vectors)"
        ),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_replicas_starting_at_once_apply_each_migration_once() {
    let db = TestDb::new("replicas").await;
    let migrator = Migrator::from_embedded(&DEMO, &app_config(&db)).unwrap();
    let total = migrator.targets()[0].catalog.migrations.len();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (m, b) = (migrator.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            m.up().await
        }));
    }
    let mut applied = Vec::new();
    for t in tasks {
        let reports = t.await.unwrap().expect("every replica starts");
        applied.push(reports[0].done.len());
    }
    applied.sort();
    // Either one replica applied everything, or the work was split in order
    // between lock holders; never applied twice.
    assert_eq!(applied.iter().sum::<usize>(), total, "{applied:?}");
    let history = db.history().await;
    assert_eq!(history.len(), total);
    assert!(history.iter().all(|(_, ok)| *ok));
    let versions: Vec<i64> = history.iter().map(|(v, _)| *v).collect();
    let mut unique = versions.clone();
    unique.dedup();
    assert_eq!(versions, unique);
}

#[tokio::test]
async fn validate_only_refuses_pending_work_and_changes_nothing() {
    let db = TestDb::new("validate_only").await;
    let before = db.schema_dump().await;
    let checker = Migrator::from_embedded(&DEMO, &app_config(&db))
        .unwrap()
        .validate_only(true);
    let e = checker.up().await.unwrap_err();
    assert!(matches!(e, Error::Refused { .. }), "{e:?}");
    assert_eq!(e.exit_code(), 3);
    assert!(e.to_string().contains("pending"), "{e}");
    assert_eq!(db.schema_dump().await, before);
    assert!(db.history().await.is_empty());

    Migrator::from_embedded(&DEMO, &app_config(&db))
        .unwrap()
        .up()
        .await
        .unwrap();
    let reports = checker.up().await.expect("nothing pending now");
    assert!(reports.iter().all(|r| r.done.is_empty()));
}

#[tokio::test]
async fn the_lock_timeout_is_the_callers() {
    let db = TestDb::new("lock_timeout").await;
    // Another runner holds the migration lock and keeps it.
    let holder = db.hold_migration_lock().await;
    let e = Migrator::from_embedded(&DEMO, &app_config(&db))
        .unwrap()
        .with_lock_timeout(Duration::from_millis(300))
        .up()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
    assert!(db.history().await.is_empty());
    let _ = holder.close().await;
}

#[test]
fn demo_full_plan_snapshot() {
    // Every database of the root config and every partition policy, planned
    // from a recorded status of empty databases: no server.
    let config = demo_config("postgres://demo@127.0.0.1:1/none");
    let migrator = Migrator::new(&config, &[]).unwrap();
    let empty: Status = serde_json::from_value(serde_json::json!({
        "databases": config.databases.values().map(|d| serde_json::json!({
            "name": d.name, "kind": d.kind, "migrations": []
        })).collect::<Vec<_>>()
    }))
    .unwrap();
    let plan = migrator
        .plan_offline(up_latest(), &empty, at("2026-11-24T10:00:00Z"))
        .unwrap();
    assert_eq!(plan.databases.len(), config.databases.len());
    assert_eq!(plan.partitions.len(), config.partitions.len());
    insta::assert_yaml_snapshot!("demo_full_plan", plan);
    // The same plan as a pull-request comment (`plan --format markdown`).
    insta::assert_snapshot!(
        "demo_full_plan_markdown",
        strata::render::markdown::deploy_plan(&plan, &migrator.rollout_stages())
    );
}

#[test]
fn an_offline_plan_needs_every_database_in_the_recording() {
    let config = demo_config("postgres://demo@127.0.0.1:1/none");
    let migrator = Migrator::new(&config, &[]).unwrap();
    let e = migrator
        .plan_offline(
            up_latest(),
            &Status {
                databases: Vec::new(),
                partitions: Vec::new(),
            },
            Utc::now(),
        )
        .unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("has no database app"), "{e}");
}

#[tokio::test]
async fn a_plan_from_recorded_status_equals_the_plan_from_the_server() {
    let db = TestDb::new("offline_plan").await;
    // The PostgreSQL database of the demo (its graph needs a Neo4j).
    let migrator = Migrator::new(&demo_config(&db.url), &["app".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("status.json");
    // Empty, half-way, and fully applied with partitions a quarter old.
    let stages: [(&[&str], &str); 3] = [
        (&[], "2026-11-24T10:00:00Z"),
        (&["up", "--to", "6"], "2026-11-24T10:00:00Z"),
        (&["up"], "2027-02-27T23:59:59Z"),
    ];
    for (args, now) in stages {
        if !args.is_empty() {
            support::demo_migrate(&db.url, args).expect(0);
        }
        if args == ["up"] {
            support::demo_migrate(
                &db.url,
                &[
                    "partitions",
                    "run",
                    "--allow-clock-skew",
                    "--now",
                    "2026-11-24T10:00:00Z",
                ],
            )
            .expect(0);
        }
        let status = support::demo_migrate(&db.url, &["status", "--format", "json"]);
        status.expect(0);
        std::fs::write(&recorded, &status.stdout).unwrap();
        let parsed: Status = serde_json::from_str(&status.stdout).unwrap();

        let online = migrator.deploy_plan(up_latest(), at(now)).await.unwrap();
        let offline = migrator
            .plan_offline(up_latest(), &parsed, at(now))
            .unwrap();
        assert_eq!(online, offline, "after {args:?}");

        // The CLI prints the same plan from the recording, connecting nowhere.
        let cli = Command::new(support::migrate_bin())
            .args([
                "--database",
                "app",
                "plan",
                "--format",
                "json",
                "--now",
                now,
            ])
            .arg("--from-status")
            .arg(&recorded)
            .current_dir(repo())
            .env("APP_DATABASE_URL", "postgres://nobody:x@127.0.0.1:1/none")
            .env("GRAPH_DATABASE_URL", "bolt://nobody@127.0.0.1:1")
            .env("GRAPH_DATABASE_PASSWORD", "unused")
            .env("SEARCH_DATABASE_URL", "http://127.0.0.1:1")
            .env("VECTORS_DATABASE_URL", "http://127.0.0.1:1")
            .output()
            .unwrap();
        let cli = Run::from(cli);
        cli.expect(0);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&cli.stdout).unwrap(),
            serde_json::to_value(&offline).unwrap(),
            "after {args:?}"
        );
    }
    // Fully applied, three months on: no migration, the next partitions.
    let last = migrator
        .deploy_plan(up_latest(), at("2027-02-27T23:59:59Z"))
        .await
        .unwrap();
    assert!(last.databases.iter().all(|p| p.steps.is_empty()));
    assert!(last.partitions.iter().all(|p| !p.actions.is_empty()));

    // Without a clock, the server's: on this one machine, the plan at the
    // instant of the call.
    let before = chrono::Utc::now();
    let at_server = migrator
        .deploy_plan_at_server_clock(up_latest())
        .await
        .unwrap();
    let after = chrono::Utc::now();
    assert_eq!(at_server.partitions.len(), last.partitions.len());
    let mut as_of = Vec::new();
    for t in [before, after] {
        as_of.push(migrator.deploy_plan(up_latest(), t).await.unwrap());
    }
    assert!(as_of.contains(&at_server), "{at_server:#?}");
}

#[tokio::test]
async fn replicas_are_told_apart_in_the_history_and_reports_print_like_the_cli() {
    let db = TestDb::new("applied_by").await;
    let reports = Migrator::from_embedded(&DEMO, &app_config(&db))
        .unwrap()
        .with_applied_by("orders replica 3")
        .up()
        .await
        .unwrap();
    // A report prints as the command line does.
    let text = reports[0].to_string();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("app: applied 1 users ("), "{text}");
    assert_eq!(text.lines().count(), reports[0].done.len());
    assert!(
        reports[0].done[0]
            .to_string()
            .starts_with("applied 1 users ("),
        "{}",
        reports[0].done[0]
    );

    let by: Vec<String> = {
        let mut c = db.connect().await;
        sqlx::query_scalar("SELECT applied_by FROM schema_migrations ORDER BY version")
            .fetch_all(&mut c)
            .await
            .unwrap()
    };
    assert!(by.iter().all(|b| b == "orders replica 3"), "{by:?}");
    let status = Migrator::from_embedded(&DEMO, &app_config(&db))
        .unwrap()
        .status()
        .await
        .unwrap();
    assert_eq!(
        status.databases[0].migrations[0].applied_by.as_deref(),
        Some("orders replica 3")
    );
    let idle = Migrator::from_embedded(&DEMO, &app_config(&db))
        .unwrap()
        .up()
        .await
        .unwrap();
    assert_eq!(idle[0].to_string(), "app (postgres): nothing to do\n");

    // The command line records its host and process id, and shows them.
    let other = TestDb::new("applied_by_cli").await;
    let p = support::Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id int);\n");
    p.migrate(&other, &["up"]).expect(0);
    let status = p.migrate(&other, &["status"]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        status.stdout.contains("APPLIED BY")
            && status.stdout.contains(&format!("{} pid ", host.trim())),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn library_errors_speak_to_a_service_as_well_as_to_the_command_line() {
    let db = TestDb::new("lib_words").await;
    let holder = db.hold_migration_lock().await;
    let e = Migrator::from_embedded(&DEMO, &app_config(&db))
        .unwrap()
        .with_lock_timeout(Duration::from_millis(200))
        .up()
        .await
        .unwrap_err();
    let said = e.to_string();
    assert!(said.contains("Migrator::with_lock_timeout"), "{said}");
    assert!(said.contains("--lock-timeout"), "{said}");
    let _ = holder.close().await;
}

#[tokio::test]
async fn a_single_database_status_plans_an_embedded_service() {
    let db = TestDb::new("single_named").await;
    let p = support::Project::new();
    for (name, text) in [
        ("V1__a.sql", "CREATE TABLE a (id int);\n"),
        ("V2__b.sql", "CREATE TABLE b (id int);\n"),
    ] {
        p.migration(name, text);
    }
    p.migrate(&db, &["up", "--to", "1"]).expect(0);
    let service = Migrator::new(
        &Config::single_named(
            "app",
            "postgres://x@127.0.0.1:1/none",
            p.path().join("migrations"),
            p.path().join("rollbacks"),
        )
        .unwrap(),
        &[],
    )
    .unwrap();
    // Recorded as `default`: one database on each side plans it.
    let plain = p.migrate(&db, &["status", "--format", "json"]);
    let recorded: Status = serde_json::from_str(&plain.stdout).unwrap();
    assert_eq!(recorded.databases[0].name, "default");
    let plan = service
        .plan_offline(up_latest(), &recorded, Utc::now())
        .unwrap();
    assert_eq!(plan.databases[0].database, "app");
    assert_eq!(plan.databases[0].steps.len(), 1);
    // Or recorded under the service's name with --name.
    let named = p.migrate(&db, &["--name", "app", "status", "--format", "json"]);
    named.expect(0);
    let recorded: Status = serde_json::from_str(&named.stdout).unwrap();
    assert_eq!(recorded.databases[0].name, "app");
    assert_eq!(
        service
            .plan_offline(up_latest(), &recorded, Utc::now())
            .unwrap(),
        plan
    );
}
