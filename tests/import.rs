//! Taking over from another tool, against the real tools and the real
//! PostgreSQL: each tool applies a sample folder written in its own format
//! to a fresh database; `migrate import` converts the folder; `migrate
//! baseline --from` adopts the history without running anything; `status`
//! shows no drift; a new strata migration applies; `down` reverts through
//! imported rollbacks; and the converted folder applied by strata to an
//! empty database gives exactly the schema the tool gave (`pg_dump
//! --schema-only`).
//!
//! `tests/support/test.sh` installs the tools (tests/support/tools.sh) and
//! passes their paths in `STRATA_TEST_TOOL_*`. A tool that truly cannot be
//! installed arrives as `unavailable: why`: its test says so loudly and
//! passes; a variable that is not set at all is a failure.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Project, Run, TestDb, admin_url};

/// The tool's command, or `None` (said loudly) when it cannot be installed.
fn tool(var: &str) -> Option<String> {
    let value = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the suite with `bash tests/support/test.sh`, which installs the tools")
    });
    if let Some(why) = value.strip_prefix("unavailable:") {
        eprintln!("\n*** SKIPPED: {var}: the tool could not be installed here:{why} ***\n");
        return None;
    }
    Some(value)
}

fn run_tool(program: &str, args: &[&str], env: &[(&str, &str)]) {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = Run::from(cmd.output().unwrap());
    assert_eq!(
        out.code, 0,
        "{program} {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}

/// The schema as `pg_dump --schema-only` prints it, without comments and
/// without either history table.
fn dump(db: &TestDb, tables: &[&str]) -> String {
    let pg_dump = std::env::var("STRATA_TEST_PG_DUMP")
        .unwrap_or_else(|_| panic!("STRATA_TEST_PG_DUMP is not set: run tests/support/test.sh"));
    let mut cmd = Command::new(pg_dump);
    cmd.args([
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "-d",
        &db.url,
    ]);
    for t in tables {
        cmd.args(["-T", t]);
    }
    let out = Run::from(cmd.output().unwrap());
    assert_eq!(out.code, 0, "pg_dump failed: {}", out.stderr);
    out.stdout
        .lines()
        .filter(|l| !l.starts_with("--") && !l.trim().is_empty() && !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn write_all(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// What every tool's sample builds: two tables, a foreign key, an index
/// built CONCURRENTLY (outside a transaction).
const ACCOUNTS: &str = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n";
const ACCOUNTS_DOWN: &str = "DROP TABLE accounts;\n";
const INDEX: &str = "CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);\n";
const INDEX_DOWN: &str = "DROP INDEX CONCURRENTLY accounts_email;\n";
const INVOICES: &str = "CREATE TABLE invoices (id bigint PRIMARY KEY, \
     account_id bigint NOT NULL REFERENCES accounts (id), total numeric(12,2));\n";
const INVOICES_DOWN: &str = "DROP TABLE invoices;\n";

/// The part every tool shares once the tool has run: import, baseline,
/// status, a new migration, down, and the schema compared.
/// `undone`: how many of the newest imported versions `down` reverts
/// (through imported rollbacks); `gone`: tables that must be gone then.
/// Returns what `import` printed.
async fn take_over(
    name: &str,
    db: &TestDb,
    srcs: &[&Path],
    history: &str,
    undone: usize,
    gone: &[&str],
) -> Run {
    let tool_rows: i64 = db
        .scalar(&format!("SELECT count(*) FROM \"{history}\""))
        .await;
    let expected = dump(db, &[history, "strata_migrations"]);
    let p = Project::new();
    let folders = ["--migrations", "migrations", "--rollbacks", "rollbacks"];
    let srcs: Vec<String> = srcs.iter().map(|s| s.display().to_string()).collect();
    let mut args = folders.to_vec();
    args.extend(["import", "--from", name]);
    args.extend(srcs.iter().map(String::as_str));
    let imported = p.migrate_raw(&args, &[]);
    imported.expect_in(0, "import");
    assert!(
        imported.stdout.contains("wrote migrations/"),
        "{}",
        imported.stdout
    );
    assert!(p.path().join("migrations/imported.toml").is_file());
    // Import never overwrites.
    p.migrate_raw(&args, &[]).expect_in(2, "import again");

    let own = ["--history-table", "strata_migrations"];
    let with = |rest: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["--database-url", db.url.as_str()]
            .iter()
            .chain(folders.iter())
            .chain(own.iter())
            .map(|s| s.to_string())
            .collect();
        a.extend(rest.iter().map(|s| s.to_string()));
        a
    };
    let go = |rest: &[&str]| {
        let a = with(rest);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        p.migrate_raw(&refs, &[])
    };

    let run = go(&["baseline", "--from", name]);
    run.expect_in(0, "baseline --from");
    assert!(
        run.stdout.contains("recorded as applied without running"),
        "{}",
        run.stdout
    );
    let status = go(&["status"]);
    status.expect_in(0, "status");
    assert!(!status.stdout.contains("pending"), "{}", status.stdout);
    go(&["validate", "--no-pending"]).expect_in(0, "validate --no-pending");
    // Nothing ran: the schema is the tool's, the tool's table untouched.
    // strata's own tables (its history and the schema it records) aside.
    assert_eq!(
        dump(
            db,
            &[history, "strata_migrations", "strata_migrations_schema"]
        ),
        expected
    );
    let after: i64 = db
        .scalar(&format!("SELECT count(*) FROM \"{history}\""))
        .await;
    assert_eq!(after, tool_rows, "the tool's history table changed");

    // The converted folder, applied by strata to an empty database, builds
    // what the tool built.
    let fresh = TestDb::new(&format!("{}_fresh", name.replace('-', "_"))).await;
    let mut a = vec!["--database-url", fresh.url.as_str()];
    a.extend(folders);
    a.push("up");
    p.migrate_raw(&a, &[])
        .expect_in(0, "up on an empty database");
    assert_eq!(
        dump(&fresh, &["schema_migrations", "schema_migrations_schema"]),
        expected,
        "strata's result differs from {name}'s"
    );

    // A new strata migration applies on the adopted database.
    let newest = std::fs::read_dir(p.path().join("migrations"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().to_string();
            n.strip_prefix('V')?.split("__").next()?.parse::<u64>().ok()
        })
        .max()
        .unwrap();
    let next = newest + 1;
    p.migration(
        &format!("V{next}__add_notes.sql"),
        "CREATE TABLE notes (id bigint PRIMARY KEY);\n",
    );
    p.rollback(&format!("U{next}__add_notes.sql"), "DROP TABLE notes;\n");
    go(&["up"]).expect_in(0, "up after the take-over");
    assert!(db.has_table("notes").await);

    // `down` reverts through the imported rollbacks too.
    let steps = (undone + 1).to_string();
    go(&["down", "--steps", &steps]).expect_in(0, "down");
    assert!(!db.has_table("notes").await);
    for table in gone {
        assert!(!db.has_table(table).await, "{table} was not reverted");
    }
    imported
}

#[tokio::test]
async fn takes_over_from_golang_migrate() {
    let Some(bin) = tool("STRATA_TEST_TOOL_GOLANG_MIGRATE") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    write_all(
        src.path(),
        &[
            // golang-migrate's habit: a whole-file transaction of its own.
            (
                "000001_create_accounts.up.sql",
                &format!("BEGIN;\n{ACCOUNTS}COMMIT;\n"),
            ),
            ("000001_create_accounts.down.sql", ACCOUNTS_DOWN),
            ("000002_index_email.up.sql", INDEX),
            ("000002_index_email.down.sql", INDEX_DOWN),
            ("000003_invoices.up.sql", INVOICES),
            ("000003_invoices.down.sql", INVOICES_DOWN),
        ],
    );
    let db = TestDb::new("golang_migrate").await;
    let url = format!("{}?sslmode=disable", db.url);
    let source = format!("file://{}", src.path().display());
    run_tool(&bin, &["-source", &source, "-database", &url, "up"], &[]);

    // Its table has strata's default name: every command says whose it is.
    let p = Project::new();
    let run = p.migrate(&db, &["status"]);
    run.expect(2);
    assert!(run.stderr.contains("golang-migrate"), "{}", run.stderr);
    assert!(
        run.stderr.contains("baseline --from golang-migrate"),
        "{}",
        run.stderr
    );

    // A dirty record is refused, nothing recorded.
    let mut c = db.connect().await;
    sqlx::raw_sql("UPDATE schema_migrations SET dirty = true")
        .execute(&mut c)
        .await
        .unwrap();
    std::fs::create_dir_all(p.path().join("migrations")).unwrap();
    let run = p.migrate_raw(
        &[
            "--migrations",
            "m",
            "import",
            "--from",
            "golang-migrate",
            &src.path().display().to_string(),
        ],
        &[],
    );
    run.expect(0);
    let run = p.migrate_raw(
        &[
            "--database-url",
            &db.url,
            "--migrations",
            "m",
            "--history-table",
            "strata_migrations",
            "baseline",
            "--from",
            "golang-migrate",
        ],
        &[],
    );
    run.expect(3);
    assert!(run.stderr.contains("dirty"), "{}", run.stderr);
    if db.has_table("strata_migrations").await {
        let recorded: i64 = db.scalar("SELECT count(*) FROM strata_migrations").await;
        assert_eq!(recorded, 0, "a refused baseline recorded versions");
    }
    sqlx::raw_sql(
        "UPDATE schema_migrations SET dirty = false; DROP TABLE IF EXISTS strata_migrations",
    )
    .execute(&mut c)
    .await
    .unwrap();

    take_over(
        "golang-migrate",
        &db,
        &[src.path()],
        "schema_migrations",
        1,
        &["invoices"],
    )
    .await;
}

#[tokio::test]
async fn takes_over_from_sqlx() {
    let Some(bin) = tool("STRATA_TEST_TOOL_SQLX") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    write_all(
        src.path(),
        &[
            ("20210425153745_create_accounts.up.sql", ACCOUNTS),
            ("20210425153745_create_accounts.down.sql", ACCOUNTS_DOWN),
            (
                "20210425153800_index_email.up.sql",
                &format!("-- no-transaction\n{INDEX}"),
            ),
            (
                "20210425153800_index_email.down.sql",
                &format!("-- no-transaction\n{INDEX_DOWN}"),
            ),
            ("20210425154000_invoices.up.sql", INVOICES),
            ("20210425154000_invoices.down.sql", INVOICES_DOWN),
            // sqlx reads the folder alone: neither it nor import runs this.
            (
                "drafts/20210425160000_draft.up.sql",
                "CREATE TABLE draft (id int);\n",
            ),
        ],
    );
    let db = TestDb::new("sqlx").await;
    run_tool(
        &bin,
        &[
            "migrate",
            "run",
            "--source",
            &src.path().display().to_string(),
            "--database-url",
            &db.url,
        ],
        &[],
    );
    let imported = take_over(
        "sqlx",
        &db,
        &[src.path()],
        "_sqlx_migrations",
        1,
        &["invoices"],
    )
    .await;
    assert!(!db.has_table("draft").await);
    assert!(
        imported
            .stderr
            .contains("note: ignored drafts/: a folder: sqlx reads only the folder it is given"),
        "{}",
        imported.stderr
    );
    assert!(!imported.stdout.contains("draft"), "{}", imported.stdout);
}

#[tokio::test]
async fn takes_over_from_refinery() {
    let Some(bin) = tool("STRATA_TEST_TOOL_REFINERY") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    write_all(
        src.path(),
        &[
            ("V1__create_accounts.sql", ACCOUNTS),
            // refinery walks subfolders too: so does import.
            ("billing/V2__invoices.sql", INVOICES),
            // refinery's U: unversioned, applied like the others.
            (
                "U3__account_notes.sql",
                "ALTER TABLE accounts ADD COLUMN note text;\n",
            ),
        ],
    );
    let db = TestDb::new("refinery").await;
    run_tool(
        &bin,
        &[
            "migrate",
            "-e",
            "REFINERY_DB_URL",
            "-p",
            &src.path().display().to_string(),
        ],
        &[("REFINERY_DB_URL", &db.url)],
    );
    // refinery has no down migrations: only the new one is reverted.
    let imported = take_over(
        "refinery",
        &db,
        &[src.path()],
        "refinery_schema_history",
        0,
        &[],
    )
    .await;
    assert!(
        imported
            .stdout
            .contains("migrations/V2__invoices.sql (from billing/V2__invoices.sql)"),
        "{}",
        imported.stdout
    );
}

#[tokio::test]
async fn takes_over_from_dbmate() {
    let Some(bin) = tool("STRATA_TEST_TOOL_DBMATE") else {
        return;
    };
    // Two folders, merged by version as dbmate merges repeated
    // --migrations-dir (the index's file sits between the other two).
    let src = tempfile::tempdir().unwrap();
    let extra = tempfile::tempdir().unwrap();
    write_all(
        src.path(),
        &[
            (
                "20200101000000_create_accounts.sql",
                &format!("-- migrate:up\n{ACCOUNTS}\n-- migrate:down\n{ACCOUNTS_DOWN}"),
            ),
            (
                "20200103000000_invoices.sql",
                &format!("-- migrate:up\n{INVOICES}\n-- migrate:down\n{INVOICES_DOWN}"),
            ),
        ],
    );
    write_all(
        extra.path(),
        &[(
            "20200102000000_index_email.sql",
            &format!(
                "-- migrate:up transaction:false\n{INDEX}\n-- migrate:down transaction:false\n{INDEX_DOWN}"
            ),
        )],
    );
    let db = TestDb::new("dbmate").await;
    run_tool(
        &bin,
        &[
            "--url",
            &format!("{}?sslmode=disable", db.url),
            "--migrations-dir",
            &src.path().display().to_string(),
            "--migrations-dir",
            &extra.path().display().to_string(),
            "--no-dump-schema",
            "up",
        ],
        &[],
    );
    let imported = take_over(
        "dbmate",
        &db,
        &[src.path(), extra.path()],
        "schema_migrations",
        1,
        &["invoices"],
    )
    .await;
    // Each file is named by its folder.
    let from = format!(
        "(from {}/20200102000000_index_email.sql)",
        extra.path().display()
    );
    assert!(imported.stdout.contains(&from), "{}", imported.stdout);
}

#[tokio::test]
async fn takes_over_from_flyway() {
    let Some(bin) = tool("STRATA_TEST_TOOL_FLYWAY") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let files = [
        ("V1__Create_accounts.sql", ACCOUNTS),
        // Flyway runs a CONCURRENTLY file outside a transaction itself.
        ("V1_1__Index_email.sql", INDEX),
        // Flyway scans a location's subfolders too: so does import.
        ("release_2/V2.0.1__Invoices.sql", INVOICES),
        (
            "release_2/notes/V2.0.10__Invoice_notes.sql",
            "ALTER TABLE invoices ADD COLUMN note text;\n",
        ),
    ];
    write_all(src.path(), &files);
    let db = TestDb::new("flyway").await;
    run_flyway(&bin, &db, &[src.path()]);
    // Flyway's undo files (a paid feature there) become strata rollbacks.
    let undo = tempfile::tempdir().unwrap();
    write_all(undo.path(), &files);
    write_all(
        undo.path(),
        &[(
            "undo/U2.0.10__Invoice_notes.sql",
            "ALTER TABLE invoices DROP COLUMN note;\n",
        )],
    );
    let imported = take_over(
        "flyway",
        &db,
        &[undo.path()],
        "flyway_schema_history",
        1,
        &[],
    )
    .await;
    for (ours, theirs) in [
        (
            "migrations/V3__invoices.sql",
            "release_2/V2.0.1__Invoices.sql",
        ),
        (
            "rollbacks/U4__invoice_notes.sql",
            "undo/U2.0.10__Invoice_notes.sql",
        ),
    ] {
        assert!(
            imported.stdout.contains(&format!("{ours} (from {theirs})")),
            "{}",
            imported.stdout
        );
    }
    let has_note: bool = db
        .scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
             WHERE table_name = 'invoices' AND column_name = 'note')",
        )
        .await;
    assert!(!has_note, "the imported undo file did not run");
}

/// Runs Flyway's `migrate` on `db` with `locations`.
fn run_flyway(bin: &str, db: &TestDb, locations: &[&Path]) {
    let admin = admin_url();
    let rest = &admin["postgres://".len()..];
    let (userinfo, hostport) = rest[..rest.rfind('/').unwrap()].rsplit_once('@').unwrap();
    let (user, password) = userinfo.split_once(':').unwrap();
    let locations: Vec<String> = locations
        .iter()
        .map(|l| format!("filesystem:{}", l.display()))
        .collect();
    run_tool(
        bin,
        &[
            &format!("-url=jdbc:postgresql://{hostport}/{}", db.name),
            &format!("-user={user}"),
            &format!("-password={password}"),
            &format!("-locations={}", locations.join(",")),
            // Flyway's default transactional lock keeps a transaction open
            // that CREATE INDEX CONCURRENTLY would wait for forever.
            "-postgresql.transactional.lock=false",
            "migrate",
        ],
        &[("REDGATE_DISABLE_TELEMETRY", "true")],
    );
}

/// Flyway merges its `locations` into one list by version: `import` takes
/// them all the same way, each file named by its location.
#[tokio::test]
async fn takes_over_from_flyway_with_two_locations() {
    let Some(bin) = tool("STRATA_TEST_TOOL_FLYWAY") else {
        return;
    };
    let common = tempfile::tempdir().unwrap();
    let postgres = tempfile::tempdir().unwrap();
    write_all(
        common.path(),
        &[
            ("V1__Create_accounts.sql", ACCOUNTS),
            ("V2__Invoices.sql", INVOICES),
        ],
    );
    write_all(postgres.path(), &[("V1_5__Index_email.sql", INDEX)]);
    let db = TestDb::new("flyway2").await;
    run_flyway(&bin, &db, &[common.path(), postgres.path()]);
    // The undo file after Flyway ran (undo is a paid feature there).
    write_all(postgres.path(), &[("U2__Invoices.sql", INVOICES_DOWN)]);
    let imported = take_over(
        "flyway",
        &db,
        &[common.path(), postgres.path()],
        "flyway_schema_history",
        1,
        &["invoices"],
    )
    .await;
    for (ours, location, theirs) in [
        (
            "migrations/V2__index_email.sql",
            &postgres,
            "V1_5__Index_email.sql",
        ),
        ("migrations/V3__invoices.sql", &common, "V2__Invoices.sql"),
        ("rollbacks/U3__invoices.sql", &postgres, "U2__Invoices.sql"),
    ] {
        let line = format!("{ours} (from {}/{theirs})", location.path().display());
        assert!(
            imported.stdout.contains(&line),
            "{line}\n{}",
            imported.stdout
        );
    }
}

/// Several folders only for the tools that merge them; a folder given
/// twice or inside another is refused before anything is written (the
/// tool would read its files twice).
#[test]
fn several_folders_are_refused_where_the_tool_would_not_merge_them() {
    let p = Project::new();
    write_all(
        p.path(),
        &[("a/1_x.sql", ACCOUNTS), ("b/2_y.sql", INVOICES)],
    );
    write_all(p.path(), &[("a/inner/V3__z.sql", INDEX)]);
    let folders = ["--migrations", "migrations", "--rollbacks", "rollbacks"];
    let import = |rest: &[&str]| {
        let mut args = folders.to_vec();
        args.extend(["import", "--from"]);
        args.extend(rest);
        p.migrate_raw(&args, &[])
    };
    for (rest, says) in [
        (&["sqlx", "a", "b"][..], "sqlx reads one folder"),
        (
            &["flyway", "a", "a/inner"],
            "SOURCE_DIR a/inner and a overlap",
        ),
        (&["dbmate", "a", "a/"], "SOURCE_DIR a and a overlap"),
    ] {
        let run = import(rest);
        run.expect(2);
        assert!(run.stderr.contains(says), "{rest:?}: {}", run.stderr);
        assert!(
            !p.path()
                .join("migrations")
                .read_dir()
                .unwrap()
                .any(|_| true),
            "{rest:?} wrote files"
        );
    }
    let run = import(&["dbmate", "a", "b"]);
    // Not dbmate files (no `-- migrate:up`): said per file, each named by
    // its folder, and not even the version map is written (it would stand
    // in the way of the next import, once the files are mended).
    run.expect(2);
    for said in [
        "not converted: a/1_x.sql",
        "not converted: b/2_y.sql",
        "nothing written: no dbmate migration converted from a, b",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert!(!p.path().join("migrations/imported.toml").exists());
}
