//! The command line's grammar: every command, option and value parser
//! (clap), and nothing that runs.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "migrate",
    version,
    about = "Schema migrations with a checksummed history inside each database",
    after_help = "Which databases: the first of these that is given wins:\n  \
        1. --database-url URL   one PostgreSQL database, no config file\n  \
        2. --config FILE\n  \
        3. ./migrate.toml       in the current folder\n  \
        4. DATABASE_URL         the environment variable, like --database-url\n\
        When a config file wins while DATABASE_URL is set, a note on stderr says so.\n\n\
        Examples:\n  \
        migrate status\n  \
        migrate up --dry-run\n  \
        migrate --database-url postgres://app@localhost/app up\n  \
        migrate new add user email\n\n\
        Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."
)]
pub(crate) struct Cli {
    /// The config file (default: ./migrate.toml, then DATABASE_URL).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Work on this database only (repeatable; default: all in the config).
    #[arg(long = "database", global = true, value_name = "NAME")]
    pub(crate) databases: Vec<String>,
    /// Single-database mode without a config file:
    /// postgres://user:password@host:5432/dbname. Comes before any config
    /// file; the DATABASE_URL variable comes after them.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "config")]
    pub(crate) database_url: Option<String>,
    /// The database's name in single-database mode (default: `default`),
    /// as a config or an embedding service calls it.
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// Migrations folder in single-database mode.
    #[arg(long, global = true, default_value = "migrations", value_name = "DIR")]
    pub(crate) migrations: PathBuf,
    /// Rollbacks folder in single-database mode.
    #[arg(long, global = true, default_value = "rollbacks", value_name = "DIR")]
    pub(crate) rollbacks: PathBuf,
    /// History table in single-database mode (default: schema_migrations),
    /// e.g. when another tool's table has that name.
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) history_table: Option<String>,
    /// Seconds to wait for another runner's migration lock.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    pub(crate) lock_timeout: u64,
    /// How long one migration statement may wait for a table lock before
    /// the step is rolled back and tried again (PostgreSQL; `5s`, `500ms`,
    /// `off`): overrides every database's `lock_timeout`.
    #[arg(long, global = true, value_name = "DURATION")]
    pub(crate) ddl_lock_timeout: Option<String>,
    /// Seconds to wait for a server to accept a connection.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECONDS")]
    pub(crate) connect_timeout: u64,
    /// After SIGINT or SIGTERM, seconds a running step may go on before it
    /// is cancelled on the server (PostgreSQL rolls it back); a second
    /// signal stops at once.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    pub(crate) stop_timeout: u64,
    /// Databases to look at and migrate at once (default: `jobs` in the
    /// config, else 8; never more than there are databases).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=strata::config::MAX_JOBS as i64))]
    pub(crate) jobs: Option<u16>,
    /// Migrate every group's first N members first; the others start only
    /// when none of those failed (overrides the groups' `rollout`).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) canary: Option<u32>,
    /// After a database fails, still start the ones not started yet
    /// (default: those running finish, no new one starts).
    #[arg(long, global = true)]
    pub(crate) keep_going: bool,
    /// What stderr's lines are: `text` for people, `json` for a log
    /// pipeline (one object per line: timestamp, level, database, version,
    /// event, message).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    /// Log progress to stderr (-v: each step, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    #[command(after_help = concat!("Examples:\n  migrate up\n  migrate up --dry-run\n  migrate up --to 12 --database app\n\n", "Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."))]
    /// Apply pending migrations.
    Up {
        /// Stop after this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<u64>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply pending versions below the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
        /// The final summary's format (json: one outcome per database).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    #[command(after_help = concat!("Examples:\n  migrate down --dry-run\n  migrate down --steps 2\n  migrate down --to 0 --database app   (revert everything)\n\n", "Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."))]
    /// Revert applied migrations with their rollback files (default: the newest one).
    Down {
        /// Revert this many of the newest applied migrations.
        #[arg(long, conflicts_with = "to", value_name = "N")]
        steps: Option<usize>,
        /// Revert every applied migration above this version (0: all).
        #[arg(long, value_name = "VERSION")]
        to: Option<u64>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The final summary's format (json: one outcome per database).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    #[command(after_help = concat!("Examples:\n  migrate status\n  migrate status --format json > status.json\n\n", "Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."))]
    /// Show every version and its state.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Exit 3 when any migration is pending (for scripts).
        #[arg(long)]
        exit_code: bool,
    },
    #[command(after_help = concat!("Examples:\n  migrate wait                      (an init container: until nothing is pending)\n  migrate wait --timeout 2m --version 14\n\n", "Settings: see the book, chapter \"Deploy jobs\" (docs/src/deploy.md)."))]
    /// Wait until every selected database has its migrations applied.
    ///
    /// A readiness gate for replicas: takes no lock and writes nothing;
    /// exit 1 after the timeout, naming what is pending and who holds the
    /// lock.
    Wait {
        /// How long to wait (`30s`, `10m`, `1h`).
        #[arg(long, default_value = "10m", value_parser = parse_every)]
        timeout: Duration,
        /// Wait for this version (and those before it) instead of all.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
    },
    #[command(after_help = concat!("Examples:\n  migrate validate\n  migrate validate --no-pending   (in CI before a deploy)\n\n", "Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."))]
    /// Check files against each history (drift, dirty, out of order); run nothing.
    Validate {
        /// Accept pending versions below the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
        /// Also refuse when migrations are pending.
        #[arg(long)]
        no_pending: bool,
    },
    #[command(after_help = concat!("Examples:\n  migrate plan\n  migrate plan --format json\n  migrate plan --from-status status.json   (offline, no connection)\n\n", "Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."))]
    /// Show what `up` and partition maintenance would do.
    Plan {
        /// Stop after this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<u64>,
        /// Include pending versions below the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
        /// Plan partitions as of this instant (RFC 3339) instead of each
        /// database server's clock (with --from-status: this machine's).
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        /// Plan against this recorded `status --format json` output instead
        /// of the servers (no connection is made).
        #[arg(long, value_name = "FILE")]
        from_status: Option<PathBuf>,
        /// Output format (markdown: for a pull-request comment).
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
    },
    #[command(after_help = concat!("Examples:\n  migrate lint\n  migrate lint --all   (every file, no connection)\n\n", "Settings: see the book, chapter \"Lint\" (docs/src/lint.md)."))]
    /// Show what pending files will lock, rewrite or scan (squawk's rules
    /// and strata's lock table, with the tables' live sizes); exit 1 when a
    /// finding reaches `[lint] fail_on` (default: warning).
    Lint {
        /// Every file, not only pending ones; connects to nothing (no sizes).
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    #[command(after_help = concat!("Examples:\n  migrate new add user email            (one database)\n  migrate new shop add coupons          (the database named shop)\n  migrate new --no-transaction shop index orders by date\n\n", "Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."))]
    /// Write the next V file and its U file for a database.
    New {
        /// Mark both files `-- strata:no-transaction` (PostgreSQL: for
        /// CREATE INDEX CONCURRENTLY and the like).
        #[arg(long)]
        no_transaction: bool,
        // The help text shows `[DATABASE]` as the usage line does, not a link.
        #[allow(rustdoc::broken_intra_doc_links)]
        /// [DATABASE] DESCRIPTION…: the database as named in the config
        /// (not needed when there is only one), then what the migration
        /// does, e.g. "add user email".
        #[arg(required = true, num_args = 1.., value_name = "WORDS")]
        words: Vec<String>,
    },
    #[command(after_help = concat!("Examples:\n  migrate validate   (see what is wrong first)\n  migrate repair\n  migrate repair --accept-drift --database app\n\n", "Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."))]
    /// Realign the history with the files after a human has looked: update
    /// changed checksums and names, forget dirty and vanished records.
    Repair {
        /// Instead: record the live schema as the one the migrations
        /// expect (after a reviewed change by hand; see `migrate drift`).
        #[arg(long)]
        accept_drift: bool,
    },
    #[command(after_help = concat!("Examples:\n  migrate drift\n  migrate drift --database app --format json\n\n", "Settings: see the book, chapter \"Drift of the live schema\" (docs/src/drift.md)."))]
    /// Show what changed in each live schema since strata last ran there
    /// (by hand, by a script); exit 1 when anything did.
    Drift {
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    #[command(after_help = concat!("Examples:\n  migrate unlock --database graph\n  migrate unlock --force --database graph   (only when its owner is surely gone)\n\n", "Settings: see the book, chapter \"Configuration\" (docs/src/configuration.md)."))]
    /// Remove a migration lock left behind by a runner that died (Neo4j,
    /// Elasticsearch, Qdrant); refused while its owner still renews it.
    Unlock {
        /// Remove it even though its lease is live.
        #[arg(long)]
        force: bool,
    },
    #[command(after_help = concat!("Examples:\n  migrate partitions plan\n  migrate partitions run                    (from cron)\n  migrate partitions daemon --every 1h --metrics-file /var/lib/strata/partitions.prom\n  migrate partitions check                  (monitoring: exit 1 on a problem)\n\n", "Settings: see the book, chapter \"Partitions\" (docs/src/partitions.md)."))]
    /// Partition maintenance for the `[[partitions]]` policies.
    Partitions {
        #[command(subcommand)]
        command: PartitionCmd,
    },
    #[command(after_help = concat!("Examples:\n  migrate baseline --version 14 --database app\n  migrate baseline --from flyway\n  migrate --history-table strata_migrations baseline --from golang-migrate\n\n", "Settings: see the book, chapter \"Coming from another tool\" (docs/src/import.md)."))]
    /// Record versions as applied, without running them, on a database
    /// that has no history yet: 1..=N, or what another tool applied.
    Baseline {
        /// The newest version the database already has.
        #[arg(
            long,
            value_name = "N",
            required_unless_present = "from",
            conflicts_with = "from"
        )]
        version: Option<u64>,
        /// Adopt the history of this tool (flyway, sqlx, refinery,
        /// golang-migrate, dbmate) from its table in the same database;
        /// its table is only read.
        #[arg(long, value_name = "TOOL", value_parser = parse_tool)]
        from: Option<strata::import::Tool>,
        /// The tool's history table, when it is not the tool's default
        /// (flyway_schema_history, _sqlx_migrations, refinery_schema_history,
        /// schema_migrations).
        #[arg(long, value_name = "NAME", requires = "from")]
        from_table: Option<String>,
    },
    #[command(after_help = concat!("Examples:\n  migrate import --from flyway src/main/resources/db/migration\n  migrate --migrations migrations --rollbacks rollbacks import --from golang-migrate db/migrations\n\n", "Settings: see the book, chapter \"Coming from another tool\" (docs/src/import.md)."))]
    /// Convert another tool's migration folder into strata's layout (the
    /// configured folders, or --migrations/--rollbacks); never overwrites.
    Import {
        /// The tool that wrote the folder: flyway, sqlx, refinery,
        /// golang-migrate, dbmate.
        #[arg(long, value_name = "TOOL", value_parser = parse_tool)]
        from: strata::import::Tool,
        /// The tool's migrations folder, read as the tool reads it (Flyway
        /// and refinery: with its subfolders). Flyway and dbmate take
        /// several, merged as they merge their locations/folders.
        #[arg(value_name = "SOURCE_DIR", required = true, num_args = 1..)]
        source: Vec<PathBuf>,
    },
    #[command(
        after_help = "Examples:\n  migrate completions bash > /etc/bash_completion.d/migrate\n  migrate completions zsh > ~/.zfunc/_migrate\n  migrate completions fish > ~/.config/fish/completions/migrate.fish"
    )]
    /// Print the completion script of a shell (bash, zsh, fish) on stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (migrate.1 and migrate-COMMAND.1) into a folder.
    #[command(hide = true)]
    Man {
        /// The folder (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Write the book's generated references (cli.md, config.md) into a
    /// folder.
    #[command(hide = true)]
    Reference {
        /// The folder (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn parse_tool(s: &str) -> Result<strata::import::Tool, String> {
    s.parse()
}

#[derive(Subcommand)]
pub(crate) enum PartitionCmd {
    /// Show what `run` would do; changes nothing.
    Plan {
        /// Plan as of this instant (RFC 3339) instead of now.
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Create future partitions and retire expired ones, once (for cron).
    Run {
        /// Run as of this instant (RFC 3339) instead of the database
        /// server's clock; refused when more than one interval after it.
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        /// Trust --now however far it is from the server's clock (tests,
        /// rehearsals).
        #[arg(long, requires = "now")]
        allow_clock_skew: bool,
        /// Move DEFAULT-partition rows into the partitions being created.
        #[arg(long)]
        move_default_rows: bool,
    },
    /// Run now and then at every interval until SIGTERM or SIGINT.
    Daemon {
        /// Interval between runs: e.g. 30s, 15m, 1h, 1d.
        #[arg(long, default_value = "1h", value_parser = parse_every)]
        every: Duration,
        /// After each run, write the state of every table to this file in
        /// Prometheus' text format (atomically).
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
    },
    /// Report rows sitting in DEFAULT partitions, by interval; exit 1 when
    /// there are any.
    CheckDefault,
    /// Check every table for monitoring: partitions ready ahead, expired
    /// ones still there, DEFAULT rows; one line per problem, exit 1 on any.
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    use chrono::Datelike;
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time like 2027-01-15T00:00:00Z: {e}"))?;
    if !(1900..=2200).contains(&t.year()) {
        return Err(format!("{s:?}: the year must be between 1900 and 2200"));
    }
    Ok(t)
}

fn parse_every(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit, e.g. 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    if secs == 0 {
        return Err("the interval must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}
