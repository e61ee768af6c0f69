//! Many databases in one run, against the real PostgreSQL: bounded
//! parallelism, the all-or-nothing look before anything runs, independent
//! databases once running, the per-database summary, and groups from each
//! member source.

mod support;

use std::process::{Command, Stdio};

use support::{Project, Run, TestDb, migrate_bin};

/// `n` fresh databases.
async fn databases(label: &str, n: usize) -> Vec<TestDb> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(TestDb::new(label).await);
    }
    out
}

/// A project whose group `tenants` lists `dbs` in `tenants.txt`, with two
/// migrations.
fn tenants_project(dbs: &[TestDb]) -> Project {
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("migrations/tenants")).unwrap();
    std::fs::write(
        p.path().join("migrations/tenants/V1__accounts.sql"),
        "CREATE TABLE accounts (id int PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("migrations/tenants/V2__invoices.sql"),
        "CREATE TABLE invoices (id int PRIMARY KEY);\n",
    )
    .unwrap();
    let lines: Vec<&str> = dbs.iter().map(|d| d.url.as_str()).collect();
    std::fs::write(
        p.path().join("tenants.txt"),
        format!("# one tenant per line\n{}\n", lines.join("\n")),
    )
    .unwrap();
    p.config("[groups.tenants]\nkind = \"postgres\"\nurls_file = \"tenants.txt\"\n");
    p
}

/// Gives `db` an `invoices` table already: its V2 fails on the server,
/// which no plan can foresee.
async fn invoices_taken(db: &TestDb) {
    let mut c = db.connect().await;
    sqlx::raw_sql("CREATE TABLE invoices (x int)")
        .execute(&mut c)
        .await
        .unwrap();
}

/// Adds V3, creating `events`, partitioned by month for the policies.
fn events_migration(p: &Project) {
    std::fs::write(
        p.path().join("migrations/tenants/V3__events.sql"),
        "CREATE TABLE events (at timestamptz NOT NULL) PARTITION BY RANGE (at);\n",
    )
    .unwrap();
}

/// [`tenants_project`] with `events` and a monthly policy on it for the
/// whole group, migrated up.
fn events_migrated(dbs: &[TestDb]) -> Project {
    let p = tenants_project(dbs);
    events_migration(&p);
    p.config(
        "[groups.tenants]\nkind = \"postgres\"\nurls_file = \"tenants.txt\"\n\
         [[partitions]]\ndatabase = \"tenants\"\ntable = \"events\"\npremake = 1\n",
    );
    p.migrate_raw(&["up"], &[]).expect(0);
    p
}

/// `migrate args` started in `p`, its output captured.
fn spawn(p: &Project, args: &[&str]) -> std::process::Child {
    Command::new(migrate_bin())
        .args(args)
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn member(db: &TestDb) -> String {
    format!("tenants/{}", db.name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_databases_with_racing_runners_are_each_migrated_once() {
    let dbs = databases("fan", 50).await;
    let p = tenants_project(&dbs);
    let runners: Vec<_> = (0..4).map(|_| spawn(&p, &["--jobs", "8", "up"])).collect();
    let mut applied = 0;
    for r in runners {
        let run = Run::from(r.wait_with_output().unwrap());
        run.expect(0);
        applied += run
            .stdout
            .lines()
            .filter(|l| l.starts_with("tenants/") && l.contains(": applied 1 accounts"))
            .count();
    }
    assert_eq!(
        applied, 50,
        "each database's V1 applied by exactly one runner"
    );
    for db in &dbs {
        assert_eq!(db.history().await, [(1, true), (2, true)], "{}", db.name);
    }
    // A run with nothing to do summarises every database.
    let again = p.migrate_raw(&["up"], &[]);
    again.expect(0);
    assert!(again.stdout.starts_with("summary:\n"), "{}", again.stdout);
    assert_eq!(again.stdout.matches(": nothing to do").count(), 50);
}

#[tokio::test]
async fn an_unreachable_database_stops_everything_before_any_change() {
    let dbs = databases("unreach", 3).await;
    let p = tenants_project(&dbs);
    let mut lines = std::fs::read_to_string(p.path().join("tenants.txt")).unwrap();
    lines.push_str("postgres://nobody@127.0.0.1:1/ghost\n");
    std::fs::write(p.path().join("tenants.txt"), lines).unwrap();
    let run = p.migrate_raw(&["up"], &[]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("1 of 4 databases failed (tenants/ghost); 3 not started"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("\ndatabase tenants/ghost: cannot connect"),
        "{}",
        run.stderr
    );
    // As data too: stdout is the summary, the others not started.
    let run = p.migrate_raw(&["up", "--format", "json"], &[]);
    run.expect(1);
    let summary: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()));
    let outcomes: Vec<(String, String)> = summary["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["database"].as_str().unwrap().to_string(),
                d["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = dbs
        .iter()
        .map(|db| (member(db), "not started".to_string()))
        .collect();
    expected.push(("tenants/ghost".into(), "failed".into()));
    expected.sort();
    assert_eq!(outcomes, expected);
    assert_eq!(summary["exit_code"], 1);
    for db in &dbs {
        assert!(!db.has_table("accounts").await, "{} was changed", db.name);
        assert_eq!(db.history().await, []);
    }

    // `status` shows every member that answers and names the one that
    // does not (it showed nothing but that error).
    let run = p.migrate_raw(&["status"], &[]);
    run.expect(1);
    for db in &dbs {
        let heading = format!("{} (postgres)\n", member(db));
        assert!(run.stdout.contains(&heading), "{}", run.all());
    }
    assert!(!run.stdout.contains("tenants/ghost"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("error: database tenants/ghost: cannot connect"),
        "{}",
        run.stderr
    );
    let run = p.migrate_raw(&["status", "--format", "json"], &[]);
    run.expect(1);
    let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status["databases"].as_array().unwrap().len(), 3, "{status}");
    assert_eq!(status["failed"][0]["database"], "tenants/ghost", "{status}");
    let error = status["failed"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("cannot connect"), "{error}");
    // The library's strict `status` still refuses.
    let config = strata::Config::load(&p.path().join("migrate.toml")).unwrap();
    let migrator = strata::Migrator::new(&config, &[]).unwrap();
    let e = migrator.status().await.unwrap_err();
    assert!(
        matches!(&e, strata::Error::Databases { failed, .. } if failed.len() == 1),
        "{e:?}"
    );
    let (status, failed) = migrator.status_each().await;
    assert_eq!(status.databases.len(), 3);
    assert_eq!(failed.len(), 1);
}

#[tokio::test]
async fn a_failing_database_does_not_stop_the_others_and_the_summary_names_it() {
    let dbs = databases("partial", 5).await;
    // The third tenant already has an `invoices` table: its V2 fails on
    // the server, which no plan can foresee.
    invoices_taken(&dbs[2]).await;
    let p = tenants_project(&dbs);

    let run = p.migrate_raw(&["--jobs", "8", "up"], &[]);
    run.expect(1);
    let failed = member(&dbs[2]);
    assert!(
        run.stdout
            .contains(&format!("  {failed} (postgres): failed: ")),
        "{}",
        run.stdout
    );
    // Named once per line, with the file that failed.
    assert!(
        run.stdout.contains(&format!(
            "  {failed} (postgres): failed: migrations/tenants/V2__invoices.sql"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(&format!(
            "error: {failed}: migrations/tenants/V2__invoices.sql"
        )),
        "{}",
        run.stderr
    );
    for (i, db) in dbs.iter().enumerate() {
        let expected: &[(i64, bool)] = if i == 2 {
            &[(1, true)]
        } else {
            &[(1, true), (2, true)]
        };
        assert_eq!(db.history().await, expected, "{}", db.name);
    }

    // One at a time, a failure stops new databases from starting: the
    // ones after it are reported as not started…
    let more = databases("partial_more", 2).await;
    let mut all: Vec<&TestDb> = dbs.iter().collect();
    all.extend(more.iter());
    let lines: Vec<&str> = all.iter().map(|d| d.url.as_str()).collect();
    std::fs::write(p.path().join("tenants.txt"), lines.join("\n")).unwrap();
    let run = p.migrate_raw(&["--jobs", "1", "up", "--format", "json"], &[]);
    run.expect(1);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["exit_code"], 1);
    let outcome = |name: &str| {
        summary["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["database"] == name)
            .unwrap_or_else(|| panic!("{name} in {summary}"))["outcome"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(outcome(&failed), "failed");
    let entry = summary["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["database"] == failed.as_str())
        .unwrap();
    let error = entry["error"].as_str().unwrap();
    assert!(
        error.starts_with("migrations/tenants/V2__invoices.sql:"),
        "{error}"
    );
    // Members run in name order: the new ones come after the failed one
    // and did not start; the others had nothing to do.
    for db in &dbs {
        let name = member(db);
        if name != failed {
            assert_eq!(outcome(&name), "nothing to do", "{name}");
        }
    }
    for db in &more {
        let name = member(db);
        assert!(name > failed, "{name} sorts after {failed}");
        assert_eq!(outcome(&name), "not started", "{name}");
        assert_eq!(db.history().await, []);
    }
    // …and --keep-going starts them anyway.
    let run = p.migrate_raw(&["--jobs", "1", "--keep-going", "up"], &[]);
    run.expect(1);
    for db in &more {
        assert_eq!(db.history().await, [(1, true), (2, true)], "{}", db.name);
    }

    // A database that fails after completing a step lists that step in
    // the data, as the history holds it.
    let late = databases("partial_late", 2).await;
    invoices_taken(&late[0]).await;
    let lines: Vec<&str> = late.iter().map(|d| d.url.as_str()).collect();
    std::fs::write(p.path().join("tenants.txt"), lines.join("\n")).unwrap();
    let run = p.migrate_raw(&["up", "--format", "json"], &[]);
    run.expect(1);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let entry = summary["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["database"] == member(&late[0]).as_str())
        .unwrap();
    assert_eq!(entry["outcome"], "failed", "{summary}");
    let steps: Vec<u64> = entry["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [1], "{summary}");
    assert_eq!(late[0].history().await, [(1, true)]);
}

/// Hundreds of tenants failing alike would print one reason hundreds of
/// times: alike failures are said once, naming a few databases and how
/// many more; the summary still lists every database.
#[tokio::test]
async fn failures_alike_are_said_once() {
    let dbs = databases("alike", 7).await;
    for db in &dbs[..6] {
        invoices_taken(db).await;
    }
    let p = tenants_project(&dbs);

    let run = p.migrate_raw(&["--keep-going", "up"], &[]);
    run.expect(1);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    let names: Vec<String> = dbs[..5].iter().map(member).collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "error: {} and 1 more: migrations/tenants/V2__invoices.sql",
            names.join(", ")
        )),
        "{}",
        run.stderr
    );
    for db in &dbs[..6] {
        let line = format!("  {} (postgres): failed: ", member(db));
        assert!(run.stdout.contains(&line), "{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains(&format!("  {} (postgres): applied 2", member(&dbs[6]))),
        "{}",
        run.stdout
    );

    // Refused everywhere before anything runs: no rollback files.
    let run = p.migrate_raw(&["down"], &[]);
    run.expect(3);
    // Six stand at version 1, one at version 2: two reasons.
    assert_eq!(
        run.stderr.matches("nothing was changed").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "\ndatabases {} and 1 more: refused, nothing was changed:\n  - no rollback: version 1 ",
            names.join(", ")
        )),
        "{}",
        run.stderr
    );
}

/// The library, embedded in a service: `up` over a group where one
/// tenant fails still says what every other tenant did, and `run_each`
/// gives each database's outcome.
#[tokio::test]
async fn the_library_keeps_every_database_s_result_when_one_fails() {
    let dbs = databases("lib_partial", 3).await;
    invoices_taken(&dbs[1]).await;
    let p = tenants_project(&dbs);
    // Three jobs: all three start together, so the failure cannot keep
    // the third from starting.
    let migrator = strata::Migrator::from_config_file(p.path().join("migrate.toml"))
        .unwrap()
        .with_jobs(3);

    let e = migrator.up().await.unwrap_err();
    let failed_name = member(&dbs[1]);
    match &e {
        strata::Error::Databases {
            total,
            failed,
            not_started,
            done,
        } => {
            assert_eq!(*total, 3);
            assert_eq!(failed.len(), 1, "{e}");
            assert_eq!(failed[0].0, failed_name);
            assert!(not_started.is_empty(), "{not_started:?}");
            let names: Vec<&str> = done.iter().map(|r| r.database.as_str()).collect();
            assert_eq!(names, [member(&dbs[0]), member(&dbs[2])], "{e}");
            for r in done {
                let versions: Vec<u64> = r.done.iter().map(|d| d.version).collect();
                assert_eq!(versions, [1, 2], "{}", r.database);
            }
        }
        other => panic!("expected every database's result, got {other:?}"),
    }
    assert_eq!(e.exit_code(), 1);
    assert_eq!(dbs[0].history().await, [(1, true), (2, true)]);
    assert_eq!(dbs[1].history().await, [(1, true)]);

    // Again, outcome by outcome: the failed tenant fails again, the others
    // have nothing to do.
    let summary = migrator
        .run_each(strata::Command::Up {
            to: strata::UpTarget::Latest,
            out_of_order: strata::OutOfOrder::Refuse,
        })
        .await
        .unwrap();
    let outcomes: Vec<(String, bool)> = summary
        .databases
        .iter()
        .map(|d| {
            let ok = match &d.outcome {
                strata::Outcome::Done(r) => r.done.is_empty(),
                _ => false,
            };
            (d.database.clone(), ok)
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (member(&dbs[0]), true),
            (failed_name, false),
            (member(&dbs[2]), true)
        ]
    );
    assert_eq!(summary.exit_code(), 1);
}

#[tokio::test]
async fn groups_come_from_urls_a_file_or_a_query_and_are_selectable() {
    let dbs = databases("grp", 3).await;
    let directory = TestDb::new("grp_dir").await;
    let mut c = directory.connect().await;
    sqlx::raw_sql("CREATE TABLE tenants (url text, active bool)")
        .execute(&mut c)
        .await
        .unwrap();
    for (db, active) in [(&dbs[0], true), (&dbs[1], false), (&dbs[2], true)] {
        sqlx::query("INSERT INTO tenants VALUES ($1, $2)")
            .bind(&db.url)
            .bind(active)
            .execute(&mut c)
            .await
            .unwrap();
    }
    let p = tenants_project(&dbs);
    let query_config = "[databases.directory]\nkind = \"postgres\"\nurl = \"${DIR_URL}\"\n\
         migrations = \"migrations/directory\"\n\
         [groups.tenants]\nkind = \"postgres\"\n\
         urls_query = \"SELECT url FROM tenants WHERE active ORDER BY url\"\n\
         query_database = \"directory\"\n";
    std::fs::create_dir_all(p.path().join("migrations/directory")).unwrap();
    p.config(query_config);
    let env = [("DIR_URL", directory.url.as_str())];
    let status = p.migrate_raw(&["--database", "tenants", "status"], &env);
    status.expect(0);
    assert!(
        status.stdout.contains(&member(&dbs[0])),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.contains(&member(&dbs[1])),
        "inactive tenant listed"
    );
    // One member alone.
    p.migrate_raw(&["--database", &member(&dbs[2]), "up"], &env)
        .expect(0);
    assert_eq!(dbs[2].history().await.len(), 2);
    assert_eq!(dbs[0].history().await, []);

    // Inline URLs, with a partition policy for the whole group.
    let inline = format!(
        "[groups.tenants]\nkind = \"postgres\"\nurls = [\"{}\", \"{}\"]\n\
         [[partitions]]\ndatabase = \"tenants\"\ntable = \"events\"\npremake = 1\n",
        dbs[0].url, dbs[1].url
    );
    events_migration(&p);
    p.config(&inline);
    p.migrate_raw(&["up"], &[]).expect(0);
    p.migrate_raw(&["partitions", "run"], &[]).expect(0);
    for db in &dbs[..2] {
        assert_eq!(db.history().await.len(), 3, "{}", db.name);
        let children: i64 = db
            .scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
            .await;
        assert_eq!(children, 2, "{}: current and next month", db.name);
    }

    // A file (the tests above use one too), its password given as a
    // `${VAR}` as in the config itself.
    let url = url::Url::parse(&dbs[1].url).unwrap();
    let secret = url.password().unwrap().to_string();
    let templated = dbs[1]
        .url
        .replacen(&format!(":{secret}@"), ":${TENANT_PW}@", 1);
    std::fs::write(p.path().join("tenants.txt"), format!("{templated}\n")).unwrap();
    p.config("[groups.tenants]\nkind = \"postgres\"\nurls_file = \"tenants.txt\"\n");
    let run = p.migrate_raw(&["status"], &[("TENANT_PW", &secret)]);
    run.expect(0);
    assert!(run.stdout.contains(&member(&dbs[1])), "{}", run.stdout);
    assert!(!run.all().contains(&secret), "{}", run.all());
    let run = p.migrate_raw(&["status"], &[]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("environment variable TENANT_PW is not set"),
        "{}",
        run.stderr
    );

    // A query whose first column is not text is named as such.
    p.config(&query_config.replace("SELECT url FROM tenants", "SELECT 1 FROM tenants"));
    // A query the server refuses is bad input, named as a setting (exit 2).
    let run = p.migrate_raw(&["status"], &[("DIR_URL", &directory.url)]);
    run.expect(2);
    assert!(
        run.stderr.contains(
            "config: groups.tenants.urls_query: on database directory: its first column must be text"
        ),
        "{}",
        run.stderr
    );
    p.config(&query_config.replace(
        "SELECT url FROM tenants WHERE active ORDER BY url",
        "DELETE FROM tenants WHERE active RETURNING url",
    ));
    let run = p.migrate_raw(&["status"], &[("DIR_URL", &directory.url)]);
    run.expect(2);
    assert!(
        run.stderr.contains("read-only transaction"),
        "{}",
        run.stderr
    );

    // A NULL row is refused, naming it, rather than a tenant left out.
    sqlx::raw_sql("INSERT INTO tenants VALUES (NULL, true)")
        .execute(&mut c)
        .await
        .unwrap();
    p.config(query_config);
    let run = p.migrate_raw(&["status"], &[("DIR_URL", &directory.url)]);
    run.expect(2);
    assert!(
        run.stderr.contains("(urls_query row 3): is NULL"),
        "{}",
        run.stderr
    );
    sqlx::raw_sql("DELETE FROM tenants WHERE url IS NULL")
        .execute(&mut c)
        .await
        .unwrap();

    // A query's URLs are taken as they are: a `${VAR}` in one is refused.
    sqlx::query("UPDATE tenants SET url = $1 WHERE url = $2")
        .bind(&templated)
        .bind(&dbs[0].url)
        .execute(&mut c)
        .await
        .unwrap();
    p.config(query_config);
    let run = p.migrate_raw(
        &["status"],
        &[("DIR_URL", &directory.url), ("TENANT_PW", &secret)],
    );
    run.expect(2);
    assert!(
        run.stderr.contains("urls_query row") && run.stderr.contains("not expanded"),
        "{}",
        run.stderr
    );

    // An unknown selection names the groups.
    p.config(&inline);
    let run = p.migrate_raw(&["--database", "nobody", "status"], &[]);
    run.expect(2);
    assert!(run.stderr.contains("known: tenants"), "{}", run.stderr);
}

#[tokio::test]
async fn one_database_name_on_two_servers_is_two_members_each_named_by_host() {
    // One server reached as 127.0.0.1 and as localhost stands for two
    // servers holding a database of the same name: the members are told
    // apart by host, and since it really is one database, its lock still
    // lets exactly one of them apply each version.
    let db = TestDb::new("twice").await;
    let url = url::Url::parse(&db.url).unwrap();
    let port = url.port().unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    let mut aliased = url.clone();
    aliased.set_host(Some("localhost")).unwrap();
    let p = tenants_project(&[]);
    std::fs::write(
        p.path().join("tenants.txt"),
        format!("{}\n{aliased}\n", db.url),
    )
    .unwrap();
    let run = p.migrate_raw(&["--jobs", "2", "up", "--format", "json"], &[]);
    run.expect(0);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = summary["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["database"].as_str().unwrap())
        .collect();
    let by_ip = format!("tenants/{}@127.0.0.1-{port}", db.name);
    let by_name = format!("tenants/{}@localhost-{port}", db.name);
    assert_eq!(names, [by_ip.as_str(), by_name.as_str()]);
    let applied: usize = summary["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["steps"].as_array().unwrap().len())
        .sum();
    assert_eq!(applied, 2, "{summary}");
    assert_eq!(db.history().await, [(1, true), (2, true)]);
    // Each is selectable by its name.
    p.migrate_raw(&["--database", &by_name, "status"], &[])
        .expect(0);
}

#[tokio::test]
async fn a_stopped_run_says_so_for_every_database() {
    let dbs = databases("halt", 4).await;
    let p = tenants_project(&dbs);
    std::fs::write(
        p.path().join("migrations/tenants/V2__invoices.sql"),
        "SELECT pg_sleep(60);\n",
    )
    .unwrap();
    let child = spawn(&p, &["--jobs", "2", "--stop-timeout", "1", "up"]);
    let names: Vec<String> = dbs.iter().map(|d| format!("'{}'", d.name)).collect();
    support::wait_until(
        &dbs[0],
        "two sleeps to run",
        &format!(
            "SELECT count(*) = 2 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
             AND application_name = 'strata' AND state = 'active' AND datname IN ({})",
            names.join(", ")
        ),
    )
    .await;
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let run: Run = child.wait_with_output().unwrap().into();
    run.expect(130);
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  tenants/"))
        .collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    let stopped = lines
        .iter()
        .filter(|l| {
            l.contains("(postgres): stopped (SIGINT); version 2 was still running")
                && l.ends_with("(applied 1 before it)")
        })
        .count();
    let waiting = lines
        .iter()
        .filter(|l| l.ends_with("(postgres): not started (the run was stopped)"))
        .count();
    assert_eq!((stopped, waiting), (2, 2), "{}", run.stdout);
    // The sleeps were cancelled and rolled back; nothing else ran.
    let mut histories = Vec::new();
    for db in &dbs {
        histories.push(db.history().await.len());
    }
    histories.sort();
    assert_eq!(histories, [0, 0, 1, 1]);
}

#[tokio::test]
async fn partition_maintenance_over_a_group_holds_no_more_connections_than_jobs() {
    // A role that may hold at most 3 connections (superusers ignore the
    // limit): maintenance over 5 members with --jobs 1 must never hold
    // more than its one connection (the margin is for backends still
    // exiting after their client closed). It held all 5 at once.
    let dbs = databases("pjobs", 5).await;
    let role = format!("runner_{}", std::process::id());
    let password = "runner-pw";
    let mut admin = dbs[0].connect().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{password}' CONNECTION LIMIT 3"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let mut urls = Vec::new();
    for db in &dbs {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE \"{}\" OWNER TO {role}",
            db.name
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        let mut url = url::Url::parse(&db.url).unwrap();
        url.set_username(&role).unwrap();
        url.set_password(Some(password)).unwrap();
        urls.push(format!("\"{url}\""));
    }
    let p = tenants_project(&[]);
    events_migration(&p);
    p.config(&format!(
        "[groups.tenants]\nkind = \"postgres\"\nurls = [{}]\n\
         [[partitions]]\ndatabase = \"tenants\"\ntable = \"events\"\npremake = 1\n",
        urls.join(", ")
    ));
    p.migrate_raw(&["--jobs", "1", "up"], &[]).expect(0);
    for command in [
        &["partitions", "run"][..],
        &["partitions", "check"],
        &["plan"],
    ] {
        let mut args = vec!["--jobs", "1"];
        args.extend_from_slice(command);
        p.migrate_raw(&args, &[]).expect(0);
    }
    for db in &dbs {
        let children: i64 = db
            .scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
            .await;
        assert_eq!(children, 2, "{}: current and next month", db.name);
    }
    // The role stays: the cluster is a throwaway, and the tenants' tables
    // are its own.
}

/// A member whose lock is held by another runner past the lock timeout is
/// not maintained, and says so; the other members are maintained and
/// their reports printed (the whole run used to end on that one error,
/// dropping theirs).
#[tokio::test]
async fn partition_maintenance_reports_every_member_when_one_cannot_be_locked() {
    let dbs = databases("plock", 3).await;
    let p = events_migrated(&dbs);
    let _holder = dbs[1].hold_migration_lock().await;

    let run = p.migrate_raw(&["--lock-timeout", "1", "partitions", "run"], &[]);
    run.expect(1);
    let locked = member(&dbs[1]);
    assert!(
        run.stdout
            .contains(&format!("{locked} public.events: FAILED: not maintained: ")),
        "{}",
        run.all()
    );
    for db in [&dbs[0], &dbs[2]] {
        assert!(
            run.stdout
                .contains(&format!("{} public.events: created ", member(db))),
            "{}",
            run.all()
        );
    }
    assert!(
        run.stderr.contains(&locked) && !run.stderr.contains(&member(&dbs[0])),
        "the error names the member that failed only: {}",
        run.stderr
    );
    for (db, expected) in dbs.iter().zip([2, 0, 2]) {
        let children: i64 = db
            .scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
            .await;
        assert_eq!(children, expected, "{}", db.name);
    }

    // Monitoring over the group with a member down: that member is a
    // problem of its own, and every other member is still checked (the
    // unmaintained one shows its missing partition).
    let mut lines = std::fs::read_to_string(p.path().join("tenants.txt")).unwrap();
    lines.push_str("\npostgres://nobody@127.0.0.1:1/ghost\n");
    std::fs::write(p.path().join("tenants.txt"), lines).unwrap();
    let run = p.migrate_raw(&["partitions", "check"], &[]);
    run.expect(1);
    assert!(
        run.stdout
            .contains("tenants/ghost: could not be checked: cannot connect"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains(&format!(
            "{locked} public.events: no partition holds the current interval"
        )),
        "{}",
        run.all()
    );
    assert!(!run.stdout.contains(&member(&dbs[0])), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("error: database tenants/ghost: cannot connect"),
        "{}",
        run.stderr
    );
}

/// `baseline` over a group records nothing anywhere when one member
/// refuses (it has a history already): it recorded the members before
/// that one and then stopped.
#[tokio::test]
async fn a_baseline_refused_by_one_member_records_nothing_anywhere() {
    let dbs = databases("base", 3).await;
    let p = tenants_project(&dbs);
    p.migrate_raw(&["--database", &member(&dbs[1]), "up"], &[])
        .expect(0);

    let run = p.migrate_raw(&["baseline", "--version", "1"], &[]);
    run.expect(2);
    assert!(
        run.stderr.contains(&format!(
            "\ndatabase {}: baseline needs an empty history, but 2 version(s) are recorded already",
            member(&dbs[1])
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("2 not started"), "{}", run.stderr);
    assert_eq!(dbs[0].history().await, []);
    assert_eq!(dbs[2].history().await, []);
    assert_eq!(dbs[1].history().await, [(1, true), (2, true)]);

    // Without that member, every other one is baselined.
    let others = [member(&dbs[0]), member(&dbs[2])];
    let mut args: Vec<&str> = Vec::new();
    for m in &others {
        args.extend(["--database", m.as_str()]);
    }
    args.extend(["baseline", "--version", "1"]);
    p.migrate_raw(&args, &[]).expect(0);
    assert_eq!(dbs[0].history().await, [(1, true)]);
    assert_eq!(dbs[2].history().await, [(1, true)]);
}

/// `repair` over a group with a member down changes no history at all: it
/// repaired the members before that one and then stopped.
#[tokio::test]
async fn repair_over_a_group_with_a_member_down_changes_nothing() {
    let dbs = databases("repair", 2).await;
    let p = tenants_project(&dbs);
    p.migrate_raw(&["up"], &[]).expect(0);
    let mut c = dbs[0].connect().await;
    sqlx::raw_sql("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        .execute(&mut c)
        .await
        .unwrap();
    let checksum = || async {
        dbs[0]
            .scalar::<String>("SELECT trim(checksum) FROM schema_migrations WHERE version = 1")
            .await
    };
    let urls = std::fs::read_to_string(p.path().join("tenants.txt")).unwrap();
    // Named to sort last: repairing one member after another and stopping
    // at the failure would have repaired the others first.
    std::fs::write(
        p.path().join("tenants.txt"),
        format!("{urls}\npostgres://nobody@127.0.0.1:1/zz_ghost\n"),
    )
    .unwrap();

    let run = p.migrate_raw(&["repair"], &[]);
    run.expect(1);
    assert!(
        run.stderr.contains("tenants/zz_ghost: cannot connect"),
        "{}",
        run.stderr
    );
    assert_eq!(checksum().await, "edited");

    std::fs::write(p.path().join("tenants.txt"), urls).unwrap();
    p.migrate_raw(&["repair"], &[]).expect(0);
    assert_ne!(checksum().await, "edited");
}

/// Sessions ever opened to each of `dbs`, read from the `postgres`
/// database once none of their backends is left (a closing backend counts
/// its session before it leaves `pg_stat_activity`).
async fn sessions(dbs: &[TestDb]) -> Vec<i64> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&support::admin_url())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut out = Vec::new();
    for db in dbs {
        loop {
            let busy: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                    .bind(&db.name)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if busy == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: backends stay",
                db.name
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let n: i64 = sqlx::query_scalar("SELECT sessions FROM pg_stat_database WHERE datname = $1")
            .bind(&db.name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        out.push(n);
    }
    out
}

/// `status` and `plan` over a group with a partition policy read each
/// member's history and its partitioned parents on one connection: they
/// opened a second connection per member for the catalog, doubling what
/// they cost the server over hundreds of tenants.
#[tokio::test]
async fn status_and_plan_read_each_member_and_its_partitions_on_one_connection() {
    let dbs = databases("pstatus", 3).await;
    let p = events_migrated(&dbs);
    p.migrate_raw(&["partitions", "run"], &[]).expect(0);
    let now = chrono::Utc::now().to_rfc3339();
    for args in [
        &["status", "--format", "json"][..],
        &["plan", "--format", "json"],
        &["plan", "--format", "json", "--now", &now],
    ] {
        let before = sessions(&dbs).await;
        let run = p.migrate_raw(args, &[]);
        run.expect(0);
        let after = sessions(&dbs).await;
        let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        for (i, db) in dbs.iter().enumerate() {
            let parent = out["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["database"] == member(db))
                .unwrap_or_else(|| panic!("{args:?}, {}: no partitions in {out}", db.name));
            assert_eq!(parent["table"], "public.events", "{args:?}: {parent}");
            if args[0] == "status" {
                assert_eq!(parent["children"].as_array().unwrap().len(), 2, "{parent}");
            } else {
                // Made by the run above: nothing to do at either clock.
                assert_eq!(
                    parent["actions"],
                    serde_json::json!([]),
                    "{args:?}: {parent}"
                );
            }
            assert_eq!(
                after[i] - before[i],
                1,
                "{args:?}, {}: sessions opened",
                db.name
            );
        }
    }
}

/// `repair`, `unlock` and `baseline` look at the members `--jobs` at a
/// time: while one member's history cannot be read yet (another session
/// holds its table), the others are looked at. One after another, nothing
/// moved past the first member until it answered — for hundreds of
/// tenants, hundreds of round trips in a row.
#[tokio::test]
async fn repair_looks_at_the_members_jobs_at_a_time() {
    use sqlx::Connection;
    let dbs = databases("rjobs", 4).await;
    let p = tenants_project(&dbs);
    p.migrate_raw(&["up"], &[]).expect(0);
    let before = sessions(&dbs[1..]).await;
    let mut holder = dbs[0].connect().await;
    let mut tx = holder.begin().await.unwrap();
    sqlx::raw_sql("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    // Fewer jobs than members, so each look closes its connection (with
    // every member in a job of its own the look's connections are kept for
    // the change, and their sessions would not end to be counted).
    let mut repair = spawn(&p, &["--jobs", "3", "repair"]);
    // The first member's look waits on the table; the other three are
    // looked at meanwhile, two at a time (their sessions counted once they
    // closed).
    support::wait_until(
        &dbs[0],
        "the first member's look to wait on the held table",
        &format!(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '{}' \
             AND wait_event_type = 'Lock')",
            dbs[0].name
        ),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now: Vec<i64> = sessions(&dbs[1..]).await;
        if now.iter().zip(&before).all(|(n, b)| n > b) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other members were not looked at while the first waited: {now:?} {before:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(repair.try_wait().unwrap().is_none(), "repair ended early");
    tx.rollback().await.unwrap();
    let run = Run::from(repair.wait_with_output().unwrap());
    run.expect(0);
    for db in &dbs {
        assert!(run.stdout.contains(&member(db)), "{}", run.stdout);
    }
}

/// A member whose baseline fails after the look (its lock held by another
/// runner past the lock timeout) does not stop the others: they are
/// baselined, the exit code is 1 and the error names that member.
#[tokio::test]
async fn a_baseline_failing_on_one_member_after_the_look_still_baselines_the_others() {
    let dbs = databases("basel", 3).await;
    let p = tenants_project(&dbs);
    let _holder = dbs[1].hold_migration_lock().await;
    let run = p.migrate_raw(
        &[
            "--lock-timeout",
            "1",
            "--jobs",
            "1",
            "baseline",
            "--version",
            "1",
        ],
        &[],
    );
    run.expect(1);
    let locked = member(&dbs[1]);
    assert!(
        run.stderr.contains("1 of 3 databases failed") && run.stderr.contains(&locked),
        "{}",
        run.stderr
    );
    assert_eq!(dbs[0].history().await, [(1, true)]);
    assert_eq!(
        dbs[2].history().await,
        [(1, true)],
        "stopped at the failure"
    );
    assert_eq!(dbs[1].history().await, []);
}

/// `repair`, `unlock` and `baseline` keep the look's connection for the
/// change when every member fits in `--jobs`, as `up` does: one session
/// per member instead of two. With fewer jobs than members each change
/// connects again, so no more than `--jobs` connections are ever open.
#[tokio::test]
async fn admin_commands_keep_the_look_s_connection_when_the_members_fit_in_jobs() {
    let dbs = databases("akeep", 3).await;
    let p = tenants_project(&dbs);
    for (jobs, expected) in [("8", 1), ("2", 2)] {
        for args in [&["repair"][..], &["unlock"]] {
            let before = sessions(&dbs).await;
            let mut all = vec!["--jobs", jobs];
            all.extend_from_slice(args);
            p.migrate_raw(&all, &[]).expect(0);
            let after = sessions(&dbs).await;
            for (i, db) in dbs.iter().enumerate() {
                assert_eq!(
                    after[i] - before[i],
                    expected,
                    "--jobs {jobs} {args:?}, {}: sessions opened",
                    db.name
                );
            }
        }
    }
    let before = sessions(&dbs).await;
    p.migrate_raw(&["--jobs", "8", "baseline", "--version", "1"], &[])
        .expect(0);
    let after = sessions(&dbs).await;
    for (i, db) in dbs.iter().enumerate() {
        assert_eq!(db.history().await, [(1, true)], "{}", db.name);
        assert_eq!(after[i] - before[i], 1, "baseline, {}", db.name);
    }
}

/// One slow database must not hold back the others: with `--jobs 2`, while
/// the first member's migration waits on a lock, the other three are all
/// migrated. Futures run in a window that counted a finished one as
/// running until every one before it had finished, so only one other
/// member ran and the rest waited for the slow one.
#[tokio::test]
async fn a_slow_database_does_not_hold_back_the_others() {
    use sqlx::Connection;
    let dbs = databases("slow", 4).await;
    let p = tenants_project(&dbs);
    std::fs::write(
        p.path().join("migrations/tenants/V3__touch.sql"),
        "CREATE TABLE IF NOT EXISTS blocker (x int);\nINSERT INTO blocker VALUES (1);\n",
    )
    .unwrap();
    let mut holder = dbs[0].connect().await;
    sqlx::raw_sql("CREATE TABLE blocker (x int)")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut tx = holder.begin().await.unwrap();
    sqlx::raw_sql("LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut up = spawn(&p, &["--jobs", "2", "up"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for db in &dbs[1..] {
        while db.history().await.len() < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "{} was held back by the slow member",
                db.name
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    // The slow member is still waiting on its lock, not done before them.
    assert_eq!(dbs[0].history().await.len(), 2);
    assert!(up.try_wait().unwrap().is_none(), "up ended early");
    tx.rollback().await.unwrap();
    let run = Run::from(up.wait_with_output().unwrap());
    run.expect(0);
    assert_eq!(dbs[0].history().await.len(), 3);
}
