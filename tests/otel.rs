//! OpenTelemetry export, asserted on what a real OpenTelemetry Collector
//! received: the official collector modules built with `go install` by
//! tests/support/tools.sh (`STRATA_TEST_OTELCOL`), an OTLP receiver on
//! gRPC and HTTP, and file exporters whose JSON lines these tests read.
//! Each test starts its own collector; `migrate` is configured only by the
//! standard `OTEL_*` variables.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Project, Run, TestDb};

/// A collector running for one test, stopped when dropped.
struct Collector {
    child: Child,
    dir: tempfile::TempDir,
    grpc: u16,
    http: u16,
}

impl Collector {
    fn start() -> Collector {
        let bin = std::env::var("STRATA_TEST_OTELCOL").expect(
            "STRATA_TEST_OTELCOL names the collector binary (tests/support/test.sh builds it)",
        );
        assert!(
            Path::new(&bin).is_file(),
            "STRATA_TEST_OTELCOL={bin}: no collector there (its build failed?)"
        );
        let dir = tempfile::tempdir().unwrap();
        let (grpc, http) = (support::free_port(), support::free_port());
        let out = dir.path().display();
        let config = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{grpc}\n      http:\n        endpoint: 127.0.0.1:{http}\n\
             exporters:\n  file/traces:\n    path: {out}/traces.jsonl\n    flush_interval: 100ms\n  file/metrics:\n    path: {out}/metrics.jsonl\n    flush_interval: 100ms\n\
             service:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file/traces]\n    metrics:\n      receivers: [otlp]\n      exporters: [file/metrics]\n"
        );
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("collector.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config=file:{}", config_path.display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut collector = Collector {
            child,
            dir,
            grpc,
            http,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [grpc, http] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    collector.child.try_wait().unwrap().is_none(),
                    "the collector exited: {}",
                    collector.log()
                );
                assert!(
                    Instant::now() < deadline,
                    "the collector never listened on {port}: {}",
                    collector.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        collector
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("collector.log")).unwrap_or_default()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The `OTEL_*` variables that send to this collector.
    fn env(&self, protocol: &str) -> Vec<(&'static str, String)> {
        let endpoint = match protocol {
            "grpc" => format!("http://127.0.0.1:{}", self.grpc),
            _ => format!("http://127.0.0.1:{}", self.http),
        };
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_string()),
            ("OTEL_SERVICE_NAME", "deploy-job".to_string()),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=test".to_string(),
            ),
        ]
    }

    /// Waits until the exported lines of `name` satisfy `done`; the lines.
    fn wait_for(&self, name: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines: Vec<Value> = std::fs::read_to_string(self.file(name))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if done(&lines) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "the collector never received {what}; it has:\n{}\nits log:\n{}",
                serde_json::to_string_pretty(&lines).unwrap(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OTLP attribute list as `key → value` (every value as text).
fn attributes(list: &Value) -> BTreeMap<String, String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|kv| {
            let v = &kv["value"];
            let text = ["stringValue", "intValue", "doubleValue", "boolValue"]
                .iter()
                .find_map(|k| v.get(*k))
                .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                .unwrap_or_default();
            (kv["key"].as_str().unwrap().to_string(), text)
        })
        .collect()
}

/// One exported span, flattened.
#[derive(Debug, Clone)]
struct Span {
    name: String,
    id: String,
    parent: String,
    trace: String,
    attrs: BTreeMap<String, String>,
    status: (i64, String),
    resource: BTreeMap<String, String>,
    scope: String,
}

fn spans(lines: &[Value]) -> Vec<Span> {
    let mut out = Vec::new();
    for line in lines {
        for rs in line["resourceSpans"].as_array().into_iter().flatten() {
            let resource = attributes(&rs["resource"]["attributes"]);
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
                    out.push(Span {
                        name: text("name"),
                        id: text("spanId"),
                        parent: text("parentSpanId"),
                        trace: text("traceId"),
                        attrs: attributes(&s["attributes"]),
                        status: (
                            s["status"]["code"].as_i64().unwrap_or(0),
                            s["status"]["message"].as_str().unwrap_or("").to_string(),
                        ),
                        resource: resource.clone(),
                        scope: ss["scope"]["name"].as_str().unwrap_or("").to_string(),
                    });
                }
            }
        }
    }
    out
}

/// One exported metric point: its metric's name, attributes and value (a
/// sum's or gauge's value, a histogram's count).
#[derive(Debug, Clone)]
struct Point {
    name: String,
    attrs: BTreeMap<String, String>,
    value: f64,
}

fn points(lines: &[Value]) -> Vec<Point> {
    let number = |v: &Value| match v {
        Value::String(s) => s.parse::<f64>().unwrap(),
        other => other.as_f64().unwrap(),
    };
    let mut out = Vec::new();
    for line in lines {
        for rm in line["resourceMetrics"].as_array().into_iter().flatten() {
            for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                for m in sm["metrics"].as_array().into_iter().flatten() {
                    for (kind, field) in
                        [("sum", None), ("gauge", None), ("histogram", Some("count"))]
                    {
                        for p in m[kind]["dataPoints"].as_array().into_iter().flatten() {
                            let value = match field {
                                Some(f) => number(&p[f]),
                                None => p.get("asInt").or(p.get("asDouble")).map_or(0.0, number),
                            };
                            out.push(Point {
                                name: m["name"].as_str().unwrap().to_string(),
                                attrs: attributes(&p["attributes"]),
                                value,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// The last point of `name` whose attributes include every pair of `with`.
fn last(points: &[Point], name: &str, with: &[(&str, &str)]) -> Option<f64> {
    points
        .iter()
        .filter(|p| p.name == name)
        .filter(|p| {
            with.iter()
                .all(|(k, v)| p.attrs.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|p| p.value)
        .next_back()
}

fn project() -> Project {
    let p = Project::new();
    p.config(
        "[databases.app]\nkind = \"postgres\"\nurl = \"${APP_URL}\"\nmigrations = \"migrations\"\n",
    );
    p.migration(
        "V1__create_widgets.sql",
        "CREATE TABLE widgets (id bigint PRIMARY KEY);\n",
    );
    p.migration(
        "V2__seed_widgets.sql",
        "INSERT INTO widgets VALUES (1), (2);\n",
    );
    p
}

fn migrate(p: &Project, db: &TestDb, otel: &[(&'static str, String)], args: &[&str]) -> Run {
    let mut env: Vec<(&str, &str)> = otel.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("APP_URL", &db.url));
    p.migrate_raw(args, &env)
}

fn checksum_of(p: &Project, db: &TestDb, version: &str) -> String {
    let status = migrate(p, db, &[], &["status", "--format", "json"]);
    status.expect(0);
    let parsed: Value = serde_json::from_str(&status.stdout).unwrap();
    let migration = parsed["databases"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"].as_u64().map(|v| v.to_string()).as_deref() == Some(version))
        .unwrap_or_else(|| panic!("version {version} in {parsed}"));
    migration["checksum"].as_str().unwrap()[..12].to_string()
}

#[tokio::test]
async fn an_up_is_one_trace_of_run_database_lock_and_steps_over_grpc() {
    let collector = Collector::start();
    let db = TestDb::new("otel_up").await;
    let p = project();
    migrate(&p, &db, &collector.env("grpc"), &["up"]).expect(0);

    let lines = collector.wait_for("traces.jsonl", "the run's spans", |l| {
        spans(l).iter().any(|s| s.name == "strata.run")
    });
    let all = spans(&lines);
    let one = |name: &str| -> Vec<&Span> { all.iter().filter(|s| s.name == name).collect() };
    let run = one("strata.run");
    assert_eq!(run.len(), 1, "{all:#?}");
    let run = run[0];
    assert_eq!(run.attrs["strata.command"], "up");
    assert_eq!(run.parent, "", "the run is the trace's root");
    assert_eq!(run.resource["service.name"], "deploy-job");
    assert_eq!(run.resource["deployment.environment"], "test");
    assert_eq!(run.scope, "strata");

    let database = one("strata.database");
    assert_eq!(database.len(), 1, "{all:#?}");
    let database = database[0];
    assert_eq!(database.parent, run.id);
    assert_eq!(database.attrs["db.system.name"], "postgresql");
    assert_eq!(database.attrs["db.namespace"], "app");

    let lock = one("strata.lock_wait");
    assert_eq!(lock.len(), 1, "{all:#?}");
    assert_eq!(lock[0].parent, database.id);

    let steps = one("strata.step");
    assert_eq!(steps.len(), 2, "{all:#?}");
    for (step, (version, name)) in steps
        .iter()
        .zip([("1", "create widgets"), ("2", "seed widgets")])
    {
        assert_eq!(step.parent, database.id);
        assert_eq!(step.trace, run.trace);
        assert_eq!(step.attrs["strata.migration.version"], version);
        assert_eq!(step.attrs["strata.migration.name"], name);
        assert_eq!(step.attrs["strata.migration.outcome"], "applied");
        assert_eq!(step.attrs["db.system.name"], "postgresql");
        assert_eq!(
            step.attrs["strata.migration.checksum"],
            checksum_of(&p, &db, version)
        );
        assert_eq!(step.status.0, 0, "a success leaves the status unset");
    }
    // Nothing exported carries the URL or its password.
    let text = serde_json::to_string(&lines).unwrap();
    assert!(
        !text.contains(&support::admin_password()),
        "a password was exported"
    );
    assert!(!text.contains("postgres://"), "a URL was exported");

    let metrics = collector.wait_for("metrics.jsonl", "the run's metrics", |l| {
        last(&points(l), "strata.migration.steps", &[]).is_some()
    });
    let points = points(&metrics);
    let app = [("db.namespace", "app"), ("db.system.name", "postgresql")];
    let applied = [app[0], app[1], ("strata.migration.outcome", "applied")];
    assert_eq!(
        last(&points, "strata.migration.steps", &applied),
        Some(2.0),
        "{points:#?}"
    );
    assert_eq!(
        last(&points, "strata.migration.step.duration", &applied),
        Some(2.0)
    );
    assert_eq!(last(&points, "strata.lock.wait.duration", &app), Some(1.0));
    assert_eq!(last(&points, "strata.migrations.pending", &app), Some(0.0));

    // `status` reports what is pending too (and runs nothing).
    p.migration("V3__later.sql", "SELECT 1;\n");
    migrate(&p, &db, &collector.env("grpc"), &["status"]).expect(0);
    collector.wait_for("metrics.jsonl", "status's pending count", |l| {
        last(&crate::points(l), "strata.migrations.pending", &app) == Some(1.0)
    });
}

#[tokio::test]
async fn a_failed_step_is_an_error_span_and_a_failed_count_over_http() {
    let collector = Collector::start();
    let db = TestDb::new("otel_fail").await;
    let p = project();
    p.migration(
        "V3__broken.sql",
        "ALTER TABLE no_such_table ADD COLUMN x int;\n",
    );
    migrate(&p, &db, &collector.env("http/protobuf"), &["up"]).expect(1);

    let lines = collector.wait_for("traces.jsonl", "the failed step's span", |l| {
        spans(l).iter().any(|s| s.name == "strata.run")
    });
    let all = spans(&lines);
    let failed: Vec<&Span> = all
        .iter()
        .filter(|s| s.name == "strata.step" && s.attrs["strata.migration.outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{all:#?}");
    assert_eq!(failed[0].attrs["strata.migration.version"], "3");
    assert_eq!(failed[0].status.0, 2, "status code ERROR");
    assert!(
        failed[0].status.1.contains("no_such_table"),
        "the status says why: {:?}",
        failed[0].status
    );
    for name in ["strata.database", "strata.run"] {
        let span = all.iter().find(|s| s.name == name).unwrap();
        assert_eq!(span.status.0, 2, "{name} failed too: {span:#?}");
    }

    let metrics = collector.wait_for("metrics.jsonl", "the failed count", |l| {
        last(
            &points(l),
            "strata.migration.steps",
            &[("strata.migration.outcome", "failed")],
        )
        .is_some()
    });
    let points = points(&metrics);
    let outcome = |o| [("db.namespace", "app"), ("strata.migration.outcome", o)];
    assert_eq!(
        last(&points, "strata.migration.steps", &outcome("failed")),
        Some(1.0)
    );
    assert_eq!(
        last(&points, "strata.migration.steps", &outcome("applied")),
        Some(2.0)
    );
    assert_eq!(
        last(
            &points,
            "strata.migrations.pending",
            &[("db.namespace", "app")]
        ),
        Some(1.0),
        "the failed one is still pending"
    );
}

#[tokio::test]
async fn the_daemon_exports_partition_actions_and_gauges_continuously() {
    let collector = Collector::start();
    let db = TestDb::new("otel_daemon").await;
    let p = Project::new();
    p.config(
        "[databases.app]\nkind = \"postgres\"\nurl = \"${APP_URL}\"\nmigrations = \"migrations\"\n\n\
         [[partitions]]\ndatabase = \"app\"\ntable = \"events\"\npremake = 2\n",
    );
    p.migration(
        "V1__events.sql",
        "CREATE TABLE events (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);\n\
         CREATE TABLE events_default PARTITION OF events DEFAULT;\n\
         INSERT INTO events VALUES (now() - interval '1 year', 1), (now() - interval '1 year', 2);\n",
    );
    migrate(&p, &db, &[], &["up"]).expect(0);
    let mut env = collector.env("grpc");
    env.push(("OTEL_METRIC_EXPORT_INTERVAL", "200".to_string()));
    let mut cmd = Command::new(support::migrate_bin());
    cmd.args(["partitions", "daemon", "--every", "1h"])
        .current_dir(p.path())
        .env("APP_URL", &db.url)
        .env_remove("DATABASE_URL")
        .stderr(Stdio::null());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut daemon = cmd.spawn().unwrap();
    let ahead = [("strata.table", "public.events"), ("db.namespace", "app")];
    // Exported again and again while the daemon waits for its next run:
    // at least two exports after the first one that carried the gauges.
    let metrics = collector.wait_for("metrics.jsonl", "the partition gauges, repeatedly", |l| {
        points(l)
            .iter()
            .filter(|p| p.name == "strata.partitions.ahead")
            .count()
            >= 3
    });
    // Stopped as a platform stops it: what is buffered is sent first.
    let stopped = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert_eq!(
        daemon.wait().unwrap().code(),
        Some(143),
        "SIGTERM's exit code"
    );
    let points = points(&metrics);
    assert_eq!(
        last(&points, "strata.partitions.ahead", &ahead),
        Some(2.0),
        "{points:#?}"
    );
    assert_eq!(last(&points, "strata.partitions.behind", &ahead), Some(0.0));
    assert_eq!(
        last(&points, "strata.partitions.default_rows", &ahead),
        Some(2.0)
    );
    let created = [
        ("strata.partition.action", "create"),
        ("strata.partition.outcome", "ok"),
    ];
    assert_eq!(
        last(&points, "strata.partition.actions", &created),
        Some(3.0)
    );

    let lines = collector.wait_for("traces.jsonl", "the partition actions' spans", |l| {
        spans(l)
            .iter()
            .filter(|s| s.name == "strata.partition")
            .count()
            >= 3
    });
    let all = spans(&lines);
    let run = all
        .iter()
        .find(|s| s.name == "strata.run" && s.attrs["strata.command"] == "partitions")
        .unwrap_or_else(|| panic!("{all:#?}"));
    let actions: Vec<&Span> = all
        .iter()
        .filter(|s| s.name == "strata.partition")
        .collect();
    for a in &actions {
        assert_eq!(a.parent, run.id);
        assert_eq!(a.attrs["strata.table"], "public.events");
        assert_eq!(a.attrs["strata.partition.action"], "create");
        assert!(a.attrs["strata.partition"].starts_with("events_"), "{a:#?}");
    }
}

#[tokio::test]
async fn a_bad_protocol_is_refused_before_anything_runs() {
    let db = TestDb::new("otel_bad").await;
    let p = project();
    let env = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:1".to_string(),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon".to_string()),
    ];
    let run = migrate(&p, &db, &env, &["up"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("OTEL_EXPORTER_OTLP_PROTOCOL=carrier-pigeon"),
        "{}",
        run.stderr
    );
    let mut c = db.connect().await;
    let (widgets,): (Option<String>,) = sqlx::query_as("SELECT to_regclass('widgets')::text")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(widgets, None, "nothing ran");
}

#[tokio::test]
async fn an_unreachable_collector_never_fails_a_run() {
    let db = TestDb::new("otel_gone").await;
    let p = project();
    let env = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", support::free_port()),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_string()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000".to_string()),
    ];
    migrate(&p, &db, &env, &["up"]).expect(0);
    let status = migrate(&p, &db, &[], &["status", "--format", "json"]);
    let parsed: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(
        parsed.to_string().matches("\"state\":\"applied\"").count(),
        2,
        "{}",
        status.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_hands_strata_its_own_providers() {
    use opentelemetry_otlp::WithExportConfig;
    let collector = Collector::start();
    let db = TestDb::new("otel_lib").await;
    let p = project();
    let endpoint = format!("http://127.0.0.1:{}", collector.grpc);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .build()
        .unwrap();
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("the-service")
        .build();
    let traces = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let metrics = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    let text =
        "[databases.app]\nkind = \"postgres\"\nurl = \"${APP_URL}\"\nmigrations = \"migrations\"\n";
    let env = |name: &str| (name == "APP_URL").then(|| db.url.clone());
    let config = strata::Config::parse(text, "migrate.toml", p.path(), &env).unwrap();
    let options = strata::Options {
        telemetry: strata::telemetry::Telemetry::with_providers(&traces, &metrics),
        ..Default::default()
    };
    let migrator = strata::Migrator::new(&config, &[])
        .unwrap()
        .with_options(options);
    let reports = migrator.up().await.unwrap();
    assert_eq!(reports[0].done.len(), 2);
    tokio::task::spawn_blocking(move || traces.shutdown().unwrap())
        .await
        .unwrap();
    let lines = collector.wait_for("traces.jsonl", "the service's spans", |l| {
        spans(l).iter().filter(|s| s.name == "strata.step").count() == 2
    });
    let all = spans(&lines);
    assert!(
        all.iter()
            .all(|s| s.resource["service.name"] == "the-service")
    );
    assert_eq!(all.iter().filter(|s| s.name == "strata.run").count(), 1);
}

#[tokio::test]
async fn a_lock_wait_names_who_holds_the_lock() {
    let collector = Collector::start();
    let db = TestDb::new("otel_lock").await;
    let p = project();
    let holder = db.hold_migration_lock().await;
    let run = migrate(
        &p,
        &db,
        &collector.env("grpc"),
        &["--lock-timeout", "1", "up"],
    );
    run.expect(1);
    drop(holder);
    let lines = collector.wait_for("traces.jsonl", "the lock wait's span", |l| {
        spans(l).iter().any(|s| s.name == "strata.lock_wait")
    });
    let all = spans(&lines);
    let wait = all.iter().find(|s| s.name == "strata.lock_wait").unwrap();
    assert_eq!(wait.status.0, 2, "the wait timed out: {wait:#?}");
    let holder = &wait.attrs["strata.lock.holder"];
    assert!(
        holder.starts_with("server process "),
        "who holds it: {holder}"
    );
    assert!(all.iter().all(|s| s.name != "strata.step"), "no step ran");
}
