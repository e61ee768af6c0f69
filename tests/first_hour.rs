//! What a new user meets in the first hour, against the real PostgreSQL:
//! which database a command reaches, output that streams, `migrate new`,
//! the messages that tell what to do next, and `--help`. The exact output
//! is snapshot-tested (`insta`), with temp paths and timings filtered.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Project, Run, TestDb, migrate_bin};

/// Snapshot text with the project folder replaced; the timings, database
/// names and ports are filtered by [`snapshot`].
fn stable(p: &Project, text: &str) -> String {
    text.replace(&p.path().display().to_string(), "[project]")
}

/// `insta::assert_snapshot!` with what changes between runs filtered.
macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({filters => vec![
            (r"\(\d+ ms\)", "(N ms)"),
            (r"\(\d+(\.\d+)? s\)", "(N s)"),
            (r"t_[a-z_]+_\d+_\d+", "[db]"),
            (r"127\.0\.0\.1:\d+", "[host]"),
        ]}, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

fn one_db_config(p: &Project) {
    p.config(
        "[databases.shop]\nkind = \"postgres\"\nurl = \"${SHOP_URL}\"\nmigrations = \"migrations\"\n",
    );
}

#[tokio::test]
async fn a_config_file_beats_database_url_and_says_so() {
    let shop = TestDb::new("fh_shop").await;
    let other = TestDb::new("fh_other").await;
    let p = Project::new();
    one_db_config(&p);
    p.migration("V1__widgets.sql", "CREATE TABLE widgets (id int);\n");

    // DATABASE_URL points elsewhere: the folder's migrate.toml wins.
    let run = p.migrate_raw(
        &["up"],
        &[("SHOP_URL", &shop.url), ("DATABASE_URL", &other.url)],
    );
    run.expect(0);
    assert!(shop.has_table("widgets").await);
    assert!(!other.has_table("widgets").await);
    snapshot!("config_beats_variable", stable(&p, &run.all()));

    // A config that reads DATABASE_URL itself uses it: nothing to note.
    p.config(
        "[databases.shop]\nkind = \"postgres\"\nurl = \"${DATABASE_URL}\"\nmigrations = \"migrations\"\n",
    );
    let run = p.migrate_raw(&["status"], &[("DATABASE_URL", &shop.url)]);
    run.expect(0);
    assert!(!run.stderr.contains("note:"), "{}", run.stderr);

    // The flag beats the file, and says so.
    let run = p.migrate_raw(&["--database-url", &other.url, "up"], &[]);
    run.expect(0);
    assert!(other.has_table("widgets").await);
    assert!(
        run.stderr
            .contains("note: using --database-url; ./migrate.toml is not read"),
        "{}",
        run.stderr
    );

    // Without a config file, DATABASE_URL is the database.
    std::fs::remove_file(p.path().join("migrate.toml")).unwrap();
    let run = p.migrate_raw(&["status"], &[("DATABASE_URL", &other.url)]);
    run.expect(0);
    assert!(run.stdout.contains("default (postgres)"), "{}", run.stdout);
    assert!(run.stdout.contains("1 applied"), "{}", run.stdout);

    // Two explicit sources contradict each other.
    let run = p.migrate_raw(
        &["--config", "x.toml", "--database-url", &other.url, "status"],
        &[],
    );
    run.expect(2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}

#[tokio::test]
async fn steps_print_as_they_complete_and_before_a_failure() {
    let db = TestDb::new("fh_stream").await;
    let p = Project::new();
    p.migration("V1__quick.sql", "CREATE TABLE quick (id int);\n");
    p.migration("V2__slow.sql", "SELECT pg_sleep(3);\n");
    p.migration("V3__broken.sql", "SELECT 1/0;\n");
    let mut child = p
        .command(&db, &["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("default: applied 1 quick ("), "{first}");
    // The first line arrived while the slow step was still running.
    assert!(
        child.try_wait().unwrap().is_none(),
        "printed only at the end"
    );
    let second = lines.next().unwrap().unwrap();
    assert!(second.starts_with("default: applied 2 slow ("), "{second}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("V3__broken.sql"), "{stderr}");
    assert!(stderr.contains("division by zero"), "{stderr}");
    assert_eq!(db.history().await, [(1, true), (2, true)]);
}

#[tokio::test]
async fn a_waiting_runner_says_who_holds_the_lock() {
    let db = TestDb::new("fh_wait").await;
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id int);\n");
    let holder = db.hold_migration_lock().await;
    let mut child = p
        .command(&db, &["--lock-timeout", "30", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let said = err.next().unwrap().unwrap();
    assert!(
        said.starts_with("default: waiting for the migration lock, held by server process "),
        "{said}"
    );
    // The holder goes away: the waiting run goes on and applies.
    drop(holder);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(db.history().await, [(1, true)]);
}

#[tokio::test]
async fn new_writes_templates_that_cannot_be_applied_unedited() {
    let db = TestDb::new("fh_new").await;
    let p = Project::new();
    // Single-database mode: no database name needed.
    let run = p.migrate_raw(&["--database-url", &db.url, "new", "add", "widgets"], &[]);
    run.expect(0);
    let v = std::fs::read_to_string(p.path().join("migrations/V1__add_widgets.sql")).unwrap();
    let u = std::fs::read_to_string(p.path().join("rollbacks/U1__add_widgets.sql")).unwrap();
    snapshot!(
        "new_templates",
        format!("{}{v}---\n{u}", stable(&p, &run.stdout))
    );

    let up = p.migrate(&db, &["up"]);
    up.expect(2);
    snapshot!("new_template_refused", stable(&p, &up.stderr));
    assert_eq!(db.history().await, []);

    // A no-transaction migration gets a no-transaction rollback.
    let run = p.migrate_raw(
        &[
            "--database-url",
            &db.url,
            "new",
            "--no-transaction",
            "index widgets",
        ],
        &[],
    );
    run.expect(0);
    for file in [
        "migrations/V2__index_widgets.sql",
        "rollbacks/U2__index_widgets.sql",
    ] {
        let text = std::fs::read_to_string(p.path().join(file)).unwrap();
        assert!(
            text.starts_with("-- strata:no-transaction\n"),
            "{file}: {text}"
        );
    }

    // With several databases the first word must name one.
    p.config(
        "[databases.shop]\nkind = \"postgres\"\nurl = \"${X}\"\nmigrations = \"m/shop\"\n\
         [databases.billing]\nkind = \"postgres\"\nurl = \"${X}\"\nmigrations = \"m/billing\"\n",
    );
    let run = p.migrate_raw(&["new", "add", "coupons"], &[]);
    run.expect(2);
    assert!(
        run.stderr.contains(
            "\"add\" is not a database or group of this config; name one first (billing, shop)"
        ),
        "{}",
        run.stderr
    );
    p.migrate_raw(&["new", "shop", "add", "coupons"], &[])
        .expect(0);
    assert!(p.path().join("m/shop/V1__add_coupons.sql").is_file());
}

/// A group is named by itself in `migrate new` and `import` (its members
/// share its folders), a member stands for its group, and the members are
/// not offered as names; a group whose members come from a query has none
/// until the query runs, and still gets its files.
#[test]
fn new_and_import_write_a_group_s_files() {
    let p = Project::new();
    p.config(
        "[databases.directory]\nkind = \"postgres\"\nurl = \"${DIR_URL}\"\n\
         [groups.tenants]\nkind = \"postgres\"\n\
         urls = [\"postgres://h/acme\", \"postgres://h/globex\"]\n\
         [groups.shards]\nkind = \"postgres\"\nmigrations = \"m/shards\"\n\
         urls_query = \"SELECT url FROM shards\"\nquery_database = \"directory\"\n",
    );
    p.migrate_raw(&["new", "tenants", "add", "x"], &[])
        .expect(0);
    assert!(p.path().join("migrations/tenants/V1__add_x.sql").is_file());
    assert!(p.path().join("rollbacks/tenants/U1__add_x.sql").is_file());
    p.migrate_raw(&["new", "tenants/globex", "add", "y"], &[])
        .expect(0);
    assert!(p.path().join("migrations/tenants/V2__add_y.sql").is_file());
    p.migrate_raw(&["new", "shards", "add", "z"], &[]).expect(0);
    assert!(p.path().join("m/shards/V1__add_z.sql").is_file());
    assert!(p.path().join("rollbacks/shards/U1__add_z.sql").is_file());
    let run = p.migrate_raw(&["new", "add", "w"], &[]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("name one first (directory, shards, tenants)"),
        "{}",
        run.stderr
    );
    let flyway = p.path().join("flyway");
    std::fs::create_dir_all(&flyway).unwrap();
    std::fs::write(flyway.join("V7__b.sql"), "CREATE TABLE b (id int);\n").unwrap();
    let run = p.migrate_raw(
        &[
            "--database",
            "shards",
            "import",
            "--from",
            "flyway",
            "flyway",
        ],
        &[],
    );
    run.expect(0);
    assert!(
        p.path().join("m/shards/V7__b.sql").is_file(),
        "{}",
        run.stdout
    );
}

/// `migrate new` reads the config without the environment (no secrets
/// needed to write a file): a URL that is all `${VAR}` is not checked
/// there, for any kind; the commands that connect check it.
#[test]
fn new_needs_no_variables_for_any_kind() {
    let p = Project::new();
    p.config(
        "[databases.shop]\nkind = \"postgres\"\nurl = \"${SHOP_URL}\"\nmigrations = \"m/shop\"\n\
         [databases.graph]\nkind = \"neo4j\"\nurl = \"${GRAPH_URL}\"\nmigrations = \"m/graph\"\n\
         [databases.search]\nkind = \"elasticsearch\"\nurl = \"${SEARCH_URL}\"\nmigrations = \"m/search\"\n\
         [databases.vectors]\nkind = \"qdrant\"\nurl = \"${VECTORS_URL}\"\nmigrations = \"m/vectors\"\n",
    );
    for (db, file) in [
        ("shop", "m/shop/V1__add_x.sql"),
        ("graph", "m/graph/V1__add_x.cypher"),
        ("search", "m/search/V1__add_x.json"),
        ("vectors", "m/vectors/V1__add_x.json"),
    ] {
        p.migrate_raw(&["new", db, "add", "x"], &[]).expect(0);
        assert!(p.path().join(file).is_file(), "{file}");
    }
    // With the variable set to something that is not a URL, a command that
    // connects refuses it by its setting.
    let run = p.migrate_raw(
        &["--database", "search", "status"],
        &[
            ("SHOP_URL", "postgres://shop@127.0.0.1:1/shop"),
            ("GRAPH_URL", "bolt://127.0.0.1:1"),
            ("VECTORS_URL", "http://127.0.0.1:1"),
            ("SEARCH_URL", "search:9200"),
        ],
    );
    run.expect(2);
    assert!(
        run.stderr.contains("databases.search.url"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_rollback_of_a_concurrent_index_needs_its_own_directive() {
    let db = TestDb::new("fh_conc").await;
    let p = Project::new();
    p.migration(
        "V1__idx.sql",
        "-- strata:no-transaction\nCREATE TABLE t (a int);\n",
    );
    p.rollback("U1__idx.sql", "DROP INDEX CONCURRENTLY IF EXISTS t_a;\n");
    for command in [&["validate"][..], &["down", "--dry-run"]] {
        let run = p.migrate(&db, command);
        run.expect(2);
        assert!(
            run.stderr.contains("U1__idx.sql:1:1: DROP INDEX CONCURRENTLY cannot run inside a transaction block: mark the file `-- strata:no-transaction`"),
            "{}",
            run.stderr
        );
    }
}

#[tokio::test]
async fn refusals_say_what_to_do_next() {
    let db = TestDb::new("fh_next").await;
    let p = Project::new();
    p.migration("V5__add_widgets.sql", "CREATE TABLE widgets (id int);\n");
    p.migrate(&db, &["up"]).expect(0);
    let down = p.migrate(&db, &["down"]);
    down.expect(3);
    assert!(
        down.stderr.contains("create rollbacks/U5__add_widgets.sql"),
        "{}",
        down.stderr
    );

    let run = p.migrate_raw(&["--database-url", "localhost:5432/shop", "status"], &[]);
    run.expect(2);
    snapshot!("url_without_scheme", run.stderr);
}

#[test]
fn help_teaches_the_order_of_settings_and_shows_examples() {
    let help = |args: &[&str]| {
        let out = Command::new(migrate_bin()).args(args).output().unwrap();
        Run::from(out).expect(0).stdout.clone()
    };
    insta::assert_snapshot!("help", help(&["--help"]));
    insta::assert_snapshot!("help_new", help(&["new", "--help"]));
    for command in [
        "up",
        "down",
        "status",
        "wait",
        "validate",
        "plan",
        "partitions",
    ] {
        let text = help(&[command, "--help"]);
        assert!(text.contains("Examples:\n  migrate "), "{command}: {text}");
        assert!(text.contains("see the book, chapter"), "{command}: {text}");
    }
}

#[tokio::test]
async fn the_partition_daemon_logs_each_run() {
    let db = TestDb::new("fh_daemon").await;
    let p = Project::new();
    p.migration(
        "V1__events.sql",
        "CREATE TABLE events (at timestamptz NOT NULL) PARTITION BY RANGE (at);\n",
    );
    p.config(
        "[databases.d]\nkind = \"postgres\"\nurl = \"${D_URL}\"\nmigrations = \"migrations\"\n\
         [[partitions]]\ndatabase = \"d\"\ntable = \"events\"\npremake = 1\n",
    );
    p.migrate_raw(&["up"], &[("D_URL", &db.url)]).expect(0);
    let mut child = Command::new(migrate_bin())
        .args(["-v", "partitions", "daemon", "--every", "1s"])
        .current_dir(p.path())
        .env("D_URL", &db.url)
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut runs = 0;
    while runs < 2 {
        assert!(Instant::now() < deadline, "fewer than two runs logged");
        let line = err.next().unwrap().unwrap();
        assert!(
            !line.contains('\u{1b}'),
            "colour despite NO_COLOR: {line:?}"
        );
        if line.contains("partition maintenance run finished") {
            runs += 1;
        }
    }
    // SIGTERM ends it cleanly, with the exit code every command gives it.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let rest: Vec<String> = err.map_while(Result::ok).collect();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert!(
        rest.iter().any(|l| l.contains("partition daemon stopped")),
        "{rest:?}"
    );
}
