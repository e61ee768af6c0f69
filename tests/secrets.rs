//! No secret from a URL or a config ever shows in a `Debug` print, an
//! error (plain, alternate or `Debug`), or the message of a panic on one of
//! those errors — for every kind, against the real servers (Qdrant: the
//! in-process test server) with wrong credentials and against a port where
//! nothing listens. The CLI's output and trace logs are checked by the
//! bad-input corpus and the reliability campaign.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;
mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use strata::{Config, Migrator};
use support::Project;

/// Every secret the configs below plant, as written and as they may be
/// transformed on the way (percent-decoded, base64 in a basic-auth header).
const SECRETS: &[&str] = &[
    "pg-secret-pw",
    "pg:secret/pw",
    "neo4j-secret-pw",
    "es-secret-pw",
    "es-secret-key",
    "qdrant-secret-key",
    "query-secret-token",
];

fn assert_clean(what: &str, text: &str) {
    let mut forms: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    forms.push(support::base64("elastic:es-secret-pw"));
    for secret in forms {
        assert!(
            !text.contains(&secret),
            "{what} shows a secret ({secret}):\n{text}"
        );
    }
}

/// The Neo4j user the wrong passwords are tried for. Not `neo4j`: Neo4j
/// locks a user out after three failures in a row, and the suites running
/// beside this one log in as `neo4j`.
const NEO4J_INTRUDER: &str = "secrets-intruder";

/// A config with every kind, each with its secrets, pointed at `hosts`.
fn config(pg: &str, neo4j: &str, es: &str, qdrant: &str) -> Config {
    let text = format!(
        r#"
[databases.app]
kind = "postgres"
url = "{pg}"
[databases.encoded]
kind = "postgres"
url = "postgres://strata:pg%3Asecret%2Fpw@127.0.0.1:1/app?password=query-secret-token"
[databases.graph]
kind = "neo4j"
url = "{neo4j}"
user = "{NEO4J_INTRUDER}"
password = "neo4j-secret-pw"
[databases.search]
kind = "elasticsearch"
url = "{es}"
user = "elastic"
password = "es-secret-pw"
[databases.search_key]
kind = "elasticsearch"
url = "{es}"
api_key = "es-secret-key"
[databases.vectors]
kind = "qdrant"
url = "{qdrant}"
api_key = "qdrant-secret-key"
[[partitions]]
database = "app"
table = "events"
"#
    );
    Config::parse(&text, "migrate.toml", Path::new("."), &|_| None).unwrap()
}

/// The same config with only `name`, its folders in `dir` (empty).
fn only(config: &Config, name: &str, dir: &Path) -> Config {
    let mut one = config.clone();
    one.databases.retain(|n, _| n == name);
    for db in one.databases.values_mut() {
        db.migrations = dir.to_path_buf();
        db.rollbacks = dir.to_path_buf();
    }
    one.partitions.retain(|p| p.database == name);
    one
}

/// Runs `f` expecting a panic, and returns the message the panic hook saw.
fn panic_message(f: impl FnOnce()) -> String {
    let seen = Arc::new(Mutex::new(String::new()));
    let hook = std::panic::take_hook();
    let sink = Arc::clone(&seen);
    std::panic::set_hook(Box::new(move |info| {
        *sink.lock().unwrap() = info.to_string();
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    assert!(result.is_err(), "expected a panic");
    let message = seen.lock().unwrap().clone();
    assert!(!message.is_empty());
    message
}

#[test]
fn debug_prints_of_configs_and_migrators_hide_every_secret() {
    let config = config(
        "postgres://strata:pg-secret-pw@127.0.0.1:1/app",
        "bolt://127.0.0.1:1",
        "http://127.0.0.1:1",
        "http://127.0.0.1:1",
    );
    assert_clean("Config (Debug)", &format!("{config:?}"));
    assert_clean("Config (pretty Debug)", &format!("{config:#?}"));
    for db in config.databases.values() {
        assert_clean("DatabaseConfig (Debug)", &format!("{db:?}"));
        assert_clean("ConnectionUrl (Display)", &db.url.to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    for name in config.databases.keys() {
        let one = only(&config, name, dir.path());
        let migrator = Migrator::new(&one, &[]).unwrap();
        assert_clean("Migrator (Debug)", &format!("{migrator:?}"));
        assert_clean("Migrator (pretty Debug)", &format!("{migrator:#?}"));
    }
    let maintenance = strata::Maintenance::new(&config, &[]).unwrap();
    assert_clean("Maintenance (Debug)", &format!("{maintenance:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_panics_on_them_hide_every_secret() {
    let qdrant = qdrant_server::TestQdrant::with_api_key("the-right-key")
        .start()
        .await;
    let admin = support::admin_url();
    // The real servers with wrong credentials, each database on its own.
    let wrong_pg = admin.replace(&support::admin_password(), "pg-secret-pw");
    let (neo4j, _) = support::neo4j_client::server();
    let es = support::es_client::server();
    let live = config(&wrong_pg, &neo4j, &es, &qdrant.url);
    let dead = config(
        "postgres://strata:pg-secret-pw@127.0.0.1:1/app",
        "bolt://127.0.0.1:1",
        "http://127.0.0.1:1",
        "http://127.0.0.1:1",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut failures = 0;
    for (label, config) in [("servers", &live), ("nothing listening", &dead)] {
        for name in config.databases.keys() {
            let one = only(config, name, dir.path());
            let migrator = Migrator::new(&one, &[])
                .unwrap()
                .with_options(strata::Options {
                    connect_timeout: std::time::Duration::from_secs(5),
                    ..Default::default()
                });
            let Err(e) = migrator.status().await else {
                // Elasticsearch without security ignores credentials.
                assert!(name.starts_with("search"), "{name} ({label}) connected");
                continue;
            };
            failures += 1;
            let what = format!("{name} ({label})");
            assert_clean(&format!("{what}: error"), &e.to_string());
            assert_clean(&format!("{what}: error (alternate)"), &format!("{e:#}"));
            assert_clean(&format!("{what}: error (Debug)"), &format!("{e:?}"));
            // What a service's `migrator.up().await.unwrap()` prints.
            let r: strata::Result<()> = Err(e);
            #[allow(clippy::unnecessary_literal_unwrap)]
            let message = panic_message(|| r.unwrap());
            assert!(message.contains("called `Result::unwrap()`"), "{message}");
            assert_clean(&format!("{what}: panic"), &message);
        }
    }
    // Every database fails with nothing listening; against the servers, all
    // but Elasticsearch (whose test cluster has security off).
    assert_eq!(failures, 6 + 4, "every connection that should fail did");
}

/// Passwords a generator or a person may well produce, with every
/// character a URL gives a meaning to.
const HARD_PASSWORDS: &[&str] = &["aB3/xY9+Qz7kLm==", "p@ss:w/rd%25#?&=x"];

/// Every form a password may take on its way: as written, percent-encoded,
/// percent-decoded, and base64 in a basic-auth header.
fn forms(user: &str, password: &str) -> Vec<String> {
    let encoded: String = password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let decoded = password.replace("%25", "%");
    vec![
        password.to_string(),
        encoded,
        decoded,
        support::base64(&format!("{user}:{password}")),
    ]
}

#[test]
fn hard_passwords_never_show_in_any_failure_at_any_log_level() {
    let admin = support::admin_url();
    let pg_port = admin
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let (neo4j, _) = support::neo4j_client::server();
    let neo4j_port = neo4j.rsplit(':').next().unwrap().to_string();
    let tls = std::env::var("STRATA_TEST_CERTS").ok();
    let wrong_ca = tls
        .as_ref()
        .map(|d| format!("{d}/wrong-ca.crt"))
        .unwrap_or_else(|| panic!("STRATA_TEST_CERTS is not set: run tests/support/test.sh"));
    // (label, kind, URL with `${PW}` in its userinfo, the same URL with the
    // password as a setting instead)
    let pg = |host: &str, port: &str, query: &str| {
        (
            format!("postgres://strata:${{PW}}@{host}:{port}/postgres{query}"),
            format!("postgres://{host}:{port}/postgres{query}"),
        )
    };
    let bolt = |host: &str, port: &str| {
        (
            format!("bolt://{NEO4J_INTRUDER}:${{PW}}@{host}:{port}"),
            format!("bolt://{host}:{port}"),
        )
    };
    let mut cases = vec![
        (
            "postgres wrong password",
            "postgres",
            pg("127.0.0.1", &pg_port, ""),
        ),
        (
            "postgres refused port",
            "postgres",
            pg("127.0.0.1", "1", ""),
        ),
        (
            "postgres unknown host",
            "postgres",
            pg("no-such-host.invalid", "5432", ""),
        ),
        (
            "postgres TLS failure",
            "postgres",
            pg(
                "127.0.0.1",
                &pg_port,
                &format!("?sslmode=verify-full&sslrootcert={wrong_ca}"),
            ),
        ),
        (
            "postgres bad URL",
            "postgres",
            pg("127.0.0.1", "not-a-port", ""),
        ),
        (
            "neo4j wrong password",
            "neo4j",
            bolt("127.0.0.1", &neo4j_port),
        ),
        ("neo4j refused port", "neo4j", bolt("127.0.0.1", "1")),
        (
            "neo4j unknown host",
            "neo4j",
            bolt("no-such-host.invalid", "7687"),
        ),
        ("neo4j bad URL", "neo4j", bolt("127.0.0.1", "not-a-port")),
    ];
    for (label, host) in [
        ("elasticsearch refused port", "127.0.0.1:1"),
        ("elasticsearch unknown host", "no-such-host.invalid:9200"),
        ("elasticsearch bad URL", "127.0.0.1:not-a-port"),
    ] {
        cases.push((
            label,
            "elasticsearch",
            (
                format!("http://elastic:${{PW}}@{host}"),
                format!("http://{host}"),
            ),
        ));
    }
    let mut runs = Vec::new();
    for password in HARD_PASSWORDS {
        for (label, kind, (in_url, beside)) in &cases {
            let user = if *kind == "neo4j" {
                NEO4J_INTRUDER
            } else {
                "elastic"
            };
            let user_line = match *kind {
                "postgres" => "user = \"strata\"\n",
                "neo4j" => "user = \"secrets-intruder\"\n",
                _ => "user = \"elastic\"\n",
            };
            for (form, config) in [
                ("${PW} in the URL", format!("url = \"{in_url}\"\n")),
                (
                    "password setting",
                    format!("url = \"{beside}\"\n{user_line}password = \"${{PW}}\"\n"),
                ),
            ] {
                for (level, extra) in [("default", None), ("trace", Some("-vv"))] {
                    let p = Project::new();
                    p.config(&format!(
                        "[databases.db]\nkind = \"{kind}\"\n{config}migrations = \"migrations\"\n"
                    ));
                    let mut cmd = std::process::Command::new(support::migrate_bin());
                    if let Some(flag) = extra {
                        cmd.arg(flag).env("STRATA_LOG", "trace");
                    }
                    cmd.args(["--connect-timeout", "2", "status"])
                        .current_dir(p.path())
                        .env("PW", password)
                        .env_remove("DATABASE_URL")
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped());
                    let what = format!("{label}, {form}, {level} log, password {password:?}");
                    runs.push((what, user, *password, cmd.spawn().unwrap(), p));
                }
            }
        }
    }
    for (what, user, password, child, _project) in runs {
        let run: support::Run = child.wait_with_output().unwrap().into();
        assert_ne!(run.code, 0, "{what}: expected a failure\n{}", run.all());
        for secret in forms(user, password) {
            assert!(
                !run.all().contains(&secret),
                "{what}: the output shows {secret:?}:\n{}",
                run.all()
            );
        }
        assert!(
            !run.all().contains("ort number\n") || run.all().contains("port number"),
            "{what}: a word was mangled:\n{}",
            run.all()
        );
    }
}
