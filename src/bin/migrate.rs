//! `migrate`: the command line. Parses, calls the library, prints.
//!
//! Exit codes: 0 success, 1 a migration, connection or lock failed,
//! 2 usage or bad input files, 3 drift, dirty or validation refused the run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use strata::config::Config;
use strata::engine::{Event, Observer, StopHandle};
use strata::error::Signal;
#[cfg(feature = "postgres")]
use strata::partition::scheduler::Maintenance;
use strata::plan::{Command, DownTarget, OutOfOrder, Pending, UpTarget};
use strata::{Error, Migrator, Options, render};

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
        Settings: see the README, section \"Configuration: migrate.toml\"."
)]
struct Cli {
    /// The config file (default: ./migrate.toml, then DATABASE_URL).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Work on this database only (repeatable; default: all in the config).
    #[arg(long = "database", global = true, value_name = "NAME")]
    databases: Vec<String>,
    /// Single-database mode without a config file:
    /// postgres://user:password@host:5432/dbname. Comes before any config
    /// file; the DATABASE_URL variable comes after them.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "config")]
    database_url: Option<String>,
    /// The database's name in single-database mode (default: `default`),
    /// as a config or an embedding service calls it.
    #[arg(long, global = true, value_name = "NAME")]
    name: Option<String>,
    /// Migrations folder in single-database mode.
    #[arg(long, global = true, default_value = "migrations", value_name = "DIR")]
    migrations: PathBuf,
    /// Rollbacks folder in single-database mode.
    #[arg(long, global = true, default_value = "rollbacks", value_name = "DIR")]
    rollbacks: PathBuf,
    /// History table in single-database mode (default: schema_migrations),
    /// e.g. when another tool's table has that name.
    #[arg(long, global = true, value_name = "NAME")]
    history_table: Option<String>,
    /// Seconds to wait for another runner's migration lock.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    lock_timeout: u64,
    /// Seconds to wait for a server to accept a connection.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECONDS")]
    connect_timeout: u64,
    /// After SIGINT or SIGTERM, seconds a running step may go on before it
    /// is cancelled on the server (PostgreSQL rolls it back); a second
    /// signal stops at once.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    stop_timeout: u64,
    /// Databases to look at and migrate at once (default: `jobs` in the
    /// config, else 8; never more than there are databases).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// After a database fails, still start the ones not started yet
    /// (default: those running finish, no new one starts).
    #[arg(long, global = true)]
    keep_going: bool,
    /// Log progress to stderr (-v: each step, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    #[command(after_help = concat!("Examples:\n  migrate up\n  migrate up --dry-run\n  migrate up --to 12 --database app\n\n", "Settings: see the README, section \"Configuration: migrate.toml\"."))]
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
    #[command(after_help = concat!("Examples:\n  migrate down --dry-run\n  migrate down --steps 2\n  migrate down --to 0 --database app   (revert everything)\n\n", "Settings: see the README, section \"Configuration: migrate.toml\"."))]
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
    #[command(after_help = concat!("Examples:\n  migrate status\n  migrate status --format json > status.json\n\n", "Settings: see the README, section \"Configuration: migrate.toml\"."))]
    /// Show every version and its state.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    #[command(after_help = concat!("Examples:\n  migrate validate\n  migrate validate --no-pending   (in CI before a deploy)\n\n", "Settings: see the README, section \"Configuration: migrate.toml\"."))]
    /// Check files against each history (drift, dirty, out of order); run nothing.
    Validate {
        /// Accept pending versions below the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
        /// Also refuse when migrations are pending.
        #[arg(long)]
        no_pending: bool,
    },
    #[command(after_help = concat!("Examples:\n  migrate plan\n  migrate plan --format json\n  migrate plan --from-status status.json   (offline, no connection)\n\n", "Settings: see the README, section \"Configuration: migrate.toml\"."))]
    /// Show what `up` and partition maintenance would do.
    Plan {
        /// Stop after this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<u64>,
        /// Include pending versions below the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
        /// Plan partitions as of this instant (RFC 3339) instead of now.
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        /// Plan against this recorded `status --format json` output instead
        /// of the servers (no connection is made).
        #[arg(long, value_name = "FILE")]
        from_status: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    #[command(after_help = concat!("Examples:\n  migrate lint\n  migrate lint --all   (every file, no connection)\n\n", "Settings: see the README, section \"Lint\"."))]
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
    #[command(after_help = concat!("Examples:\n  migrate new add user email            (one database)\n  migrate new shop add coupons          (the database named shop)\n  migrate new --no-transaction shop index orders by date\n\n", "Settings: see the README, section \"Configuration: migrate.toml\"."))]
    /// Write the next V file and its U file for a database.
    New {
        /// Mark both files `-- strata:no-transaction` (PostgreSQL: for
        /// CREATE INDEX CONCURRENTLY and the like).
        #[arg(long)]
        no_transaction: bool,
        /// [DATABASE] DESCRIPTION…: the database as named in the config
        /// (not needed when there is only one), then what the migration
        /// does, e.g. "add user email".
        #[arg(required = true, num_args = 1.., value_name = "WORDS")]
        words: Vec<String>,
    },
    #[command(after_help = concat!("Examples:\n  migrate validate   (see what is wrong first)\n  migrate repair\n\n", "Settings: see the README, section \"Configuration: migrate.toml\"."))]
    /// Realign the history with the files after a human has looked: update
    /// changed checksums and names, forget dirty and vanished records.
    Repair,
    #[command(after_help = concat!("Examples:\n  migrate unlock --database graph\n  migrate unlock --force --database graph   (only when its owner is surely gone)\n\n", "Settings: see the README, section \"Configuration: migrate.toml\"."))]
    /// Remove a migration lock left behind by a runner that died (Neo4j,
    /// Elasticsearch, Qdrant); refused while its owner still renews it.
    Unlock {
        /// Remove it even though its lease is live.
        #[arg(long)]
        force: bool,
    },
    #[command(after_help = concat!("Examples:\n  migrate partitions plan\n  migrate partitions run                    (from cron)\n  migrate partitions daemon --every 1h --metrics-file /var/lib/strata/partitions.prom\n  migrate partitions check                  (monitoring: exit 1 on a problem)\n\n", "Settings: see the README, section \"Partitions\"."))]
    /// Partition maintenance for the `[[partitions]]` policies.
    Partitions {
        #[command(subcommand)]
        command: PartitionCmd,
    },
    #[command(after_help = concat!("Examples:\n  migrate baseline --version 14 --database app\n  migrate baseline --from flyway\n  migrate --history-table strata_migrations baseline --from golang-migrate\n\n", "Settings: see the README, section \"Coming from another tool\"."))]
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
    #[command(after_help = concat!("Examples:\n  migrate import --from flyway src/main/resources/db/migration\n  migrate --migrations migrations --rollbacks rollbacks import --from golang-migrate db/migrations\n\n", "Settings: see the README, section \"Coming from another tool\"."))]
    /// Convert another tool's migration folder into strata's layout (the
    /// configured folders, or --migrations/--rollbacks); never overwrites.
    Import {
        /// The tool that wrote the folder: flyway, sqlx, refinery,
        /// golang-migrate, dbmate.
        #[arg(long, value_name = "TOOL", value_parser = parse_tool)]
        from: strata::import::Tool,
        /// The tool's migrations folder.
        #[arg(value_name = "SOURCE_DIR")]
        source: PathBuf,
    },
}

fn parse_tool(s: &str) -> Result<strata::import::Tool, String> {
    s.parse()
}

#[derive(Subcommand)]
enum PartitionCmd {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let stop = StopHandle::new();
    match runtime.block_on(async {
        tokio::spawn(watch_signals(stop.clone()));
        run(cli, stop).await
    }) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!(
                "error: {}",
                strata::secret::scrub_registered(&e.to_string())
            );
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "strata=info",
        _ => "strata=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| ScrubbedStderr)
        .with_target(false)
        // Colour codes only for a person at a terminal who has not asked
        // for none (NO_COLOR), never in CI logs.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
}

/// Standard error, with every configured secret scrubbed from each log
/// line: the last line of defence for what drivers log at trace level.
struct ScrubbedStderr;

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = strata::secret::scrub_registered(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Finds the databases: `--database-url`, then `--config`, then
/// `./migrate.toml`, then `DATABASE_URL` — a config file in the folder must
/// never lose to a variable a shell or `.env` file happens to set. Says on
/// stderr when one source wins over another that is present.
fn load_config(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let default = Path::new("migrate.toml");
    if let Some(url) = &cli.database_url {
        if default.is_file() {
            eprintln!("note: using --database-url; ./migrate.toml is not read");
        }
        return single(cli, url);
    }
    let variable = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty());
    let path = cli
        .config
        .as_deref()
        .or_else(|| default.is_file().then_some(default));
    let Some(path) = path else {
        return match variable {
            Some(url) => single(cli, &url),
            None => Err(Error::Usage(
                "no migrate.toml in this folder: pass --config FILE or --database-url URL \
                 (or set DATABASE_URL)"
                    .into(),
            )),
        };
    };
    if cli.name.is_some() {
        return Err(Error::Usage(format!(
            "--name is for single-database mode; {} names its databases itself",
            path.display()
        )));
    }
    if cli.history_table.is_some() {
        return Err(Error::Usage(format!(
            "--history-table is for single-database mode; set history_table for the \
             database in {}",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // A config that reads DATABASE_URL itself uses it: nothing to say.
    let reads_variable = std::cell::Cell::new(false);
    let watched = |name: &str| {
        if name == "DATABASE_URL" {
            reads_variable.set(true);
        }
        env(name)
    };
    let config = Config::parse(
        &text,
        &path.display().to_string(),
        path.parent().unwrap_or(Path::new("")),
        &watched,
    )?;
    if variable.is_some() && !reads_variable.get() {
        eprintln!(
            "note: using {}; DATABASE_URL is set but a config file comes first \
             (pass --database-url to use a URL instead)",
            path.display()
        );
    }
    Ok(config)
}

/// Ends `up`/`down`: the steps were printed as they completed; says what
/// each database came to, and exits with the worst outcome. One database
/// that failed ends as before, with its error.
fn finish(summary: strata::Summary, format: Format) -> Result<u8, Error> {
    if let Format::Json = format {
        print_json(&summary);
        return Ok(summary.exit_code() as u8);
    }
    if summary.databases.len() == 1 {
        let reports = summary.into_result()?;
        print!("{}", render::idle(&reports));
        return Ok(0);
    }
    println!("summary:");
    for line in summary.to_string().lines() {
        println!("  {line}");
    }
    for (database, e) in summary.failures() {
        eprintln!(
            "error: {database}: {}",
            strata::secret::scrub_registered(&e.to_string())
        );
    }
    Ok(summary.exit_code() as u8)
}

/// Single-database mode: one database, named by `--name` or `default`.
fn single(cli: &Cli, url: &str) -> Result<Config, Error> {
    let config = Config::single_named(
        cli.name.as_deref().unwrap_or("default"),
        url,
        cli.migrations.clone(),
        cli.rollbacks.clone(),
    )?;
    match &cli.history_table {
        Some(table) => config.with_history_table(table),
        None => Ok(config),
    }
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("plain data serialises")
    );
}

/// Reads a recorded `migrate status --format json`.
fn read_status(path: &Path) -> Result<strata::Status, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{}: not the output of `migrate status --format json`: {e}",
            path.display()
        ))
    })
}

/// Prints each step as it happens, so a long run shows its progress and a
/// failing one still shows what completed before it.
fn observer() -> Observer {
    Observer::new(|event| match event {
        Event::Completed { database, done } => println!("{database}: {done}"),
        Event::StillRunning {
            database,
            step,
            elapsed,
        } => eprintln!(
            "{database}: still running {} {} ({} s)",
            step.version,
            step.description,
            elapsed.as_secs()
        ),
        Event::Waiting {
            database,
            holder,
            waited,
        } => eprintln!(
            "{database}: waiting for the migration lock, held by {holder} ({} s so far)",
            waited.as_secs()
        ),
        Event::Started { .. } => {}
    })
}

/// The first SIGINT or SIGTERM asks the run to stop after its current
/// step; a second one ends the process at once.
async fn watch_signals(stop: StopHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        let got = tokio::select! {
            _ = int.recv() => Signal::Interrupt,
            _ = term.recv() => Signal::Terminate,
        };
        if stop.requested().is_some() {
            eprintln!("{got} again: stopping now");
            std::process::exit(got.exit_code());
        }
        eprintln!("{got}: stopping after the step in progress (send it again to stop at once)");
        stop.stop(got);
    }
}

/// Runs the command; `Ok` carries the exit code of a check that found
/// problems (printed already), 0 otherwise.
async fn run(cli: Cli, stop: StopHandle) -> Result<u8, Error> {
    let options = Options {
        lock_timeout: Duration::from_secs(cli.lock_timeout),
        connect_timeout: Duration::from_secs(cli.connect_timeout),
        stop,
        stop_timeout: Duration::from_secs(cli.stop_timeout),
        observer: observer(),
        applied_by: strata::history::this_process(),
        jobs: cli.jobs.map_or(strata::engine::DEFAULT_JOBS, usize::from),
        keep_going: cli.keep_going,
    };
    if let Cmd::New {
        no_transaction,
        words,
    } = &cli.command
    {
        // Writing files needs folders, not servers: unset variables in URLs
        // must not stop a developer from adding a migration.
        let config = load_config(&cli, &|name| {
            Some(std::env::var(name).unwrap_or_else(|_| format!("${{{name}}}")))
        })?;
        let (db, description) = strata::scaffold::choose_database(&config, words)?;
        let (v, u) = strata::scaffold::new_migration(db, &description, *no_transaction)?;
        println!("created {}", v.display());
        println!("created {}", u.display());
        return Ok(0);
    }
    if let Cmd::Import { from, source } = &cli.command {
        return import(&cli, *from, source);
    }
    let mut config = load_config(&cli, &|name| std::env::var(name).ok())?;
    for db in config.databases.values() {
        strata::secret::register(&db.url);
    }
    strata::groups::resolve(&mut config, options.connect_timeout).await?;
    for db in config.databases.values() {
        strata::secret::register(&db.url);
    }
    let options = Options {
        jobs: cli
            .jobs
            .map(usize::from)
            .or(config.jobs)
            .unwrap_or(strata::engine::DEFAULT_JOBS),
        ..options
    };
    if let Cmd::Partitions { command } = &cli.command {
        return partitions(&config, &cli.databases, options, command).await;
    }
    let migrator = Migrator::new(&config, &cli.databases)?.with_options(options);
    let ooo = |allow: bool| {
        if allow {
            OutOfOrder::Allow
        } else {
            OutOfOrder::Refuse
        }
    };
    let up_to = |to: Option<u64>| to.map_or(UpTarget::Latest, UpTarget::Version);
    match cli.command {
        Cmd::Up {
            to,
            dry_run,
            allow_out_of_order,
            format,
        } => {
            let command = Command::Up {
                to: up_to(to),
                out_of_order: ooo(allow_out_of_order),
            };
            if dry_run {
                print!("{}", render::plans(&migrator.plan(command).await?));
            } else {
                return finish(migrator.run_each(command).await?, format);
            }
        }
        Cmd::Down {
            steps,
            to,
            dry_run,
            format,
        } => {
            let target = match (steps, to) {
                (_, Some(v)) => DownTarget::Version(v),
                (Some(n), None) => DownTarget::Steps(n),
                (None, None) => DownTarget::Steps(1),
            };
            let command = Command::Down { to: target };
            if dry_run {
                print!("{}", render::plans(&migrator.plan(command).await?));
            } else {
                return finish(migrator.run_each(command).await?, format);
            }
        }
        Cmd::Status { format } => {
            let status = migrator.status().await?;
            match format {
                Format::Text => print!("{}", render::status(&status)),
                Format::Json => print_json(&status),
            }
        }
        Cmd::Validate {
            allow_out_of_order,
            no_pending,
        } => {
            let pending = if no_pending {
                Pending::Refuse
            } else {
                Pending::Allow
            };
            migrator.validate(pending, ooo(allow_out_of_order)).await?;
            for t in migrator.targets() {
                println!("{} ({}): valid", t.config.name, t.config.kind);
            }
        }
        Cmd::Plan {
            to,
            allow_out_of_order,
            now,
            from_status,
            format,
        } => {
            let command = Command::Up {
                to: up_to(to),
                out_of_order: ooo(allow_out_of_order),
            };
            let now = now.unwrap_or_else(Utc::now);
            let plan = match from_status {
                Some(path) => migrator.plan_offline(command, &read_status(&path)?, now)?,
                None => migrator.deploy_plan(command, now).await?,
            };
            match format {
                Format::Text => print!("{}", render::deploy_plan(&plan)),
                Format::Json => print_json(&plan),
            }
        }
        Cmd::Lint { all, format } => {
            let found = migrator.lint(all).await?;
            let failed = found
                .iter()
                .any(|(_, fail_on, findings)| strata::lint::fails(findings, *fail_on));
            match format {
                Format::Text => print!("{}", render::findings(&found)),
                Format::Json => print_json(&serde_json::json!({
                    "databases": found.iter().map(|(db, fail_on, findings)| serde_json::json!({
                        "database": db,
                        "fail_on": fail_on,
                        "findings": findings,
                    })).collect::<Vec<_>>(),
                    "failed": failed,
                })),
            }
            return Ok(u8::from(failed));
        }
        Cmd::Repair => print!("{}", render::repairs(&migrator.repair().await?)),
        Cmd::Unlock { force } => {
            for line in migrator.unlock(force).await? {
                println!("{line}");
            }
        }
        Cmd::Baseline {
            version,
            from,
            from_table,
        } => {
            let recorded = match (from, version) {
                (Some(tool), _) => migrator.baseline_from(tool, from_table.as_deref()).await?,
                (None, Some(version)) => migrator.baseline(version).await?,
                (None, None) => unreachable!("clap requires one"),
            };
            for (db, versions) in recorded {
                let list: Vec<String> = versions.iter().map(u64::to_string).collect();
                println!(
                    "{db}: recorded as applied without running: {}",
                    if list.is_empty() {
                        "none".to_string()
                    } else {
                        list.join(", ")
                    }
                );
            }
        }
        Cmd::New { .. } | Cmd::Partitions { .. } | Cmd::Import { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(0)
}

#[cfg(not(feature = "postgres"))]
async fn partitions(
    _config: &Config,
    _only: &[String],
    _options: Options,
    _command: &PartitionCmd,
) -> Result<u8, Error> {
    Err(Error::Usage(
        "partition maintenance is for PostgreSQL, which this build of strata leaves out: \
         enable the cargo feature \"postgres\""
            .into(),
    ))
}

#[cfg(feature = "postgres")]
async fn partitions(
    config: &Config,
    only: &[String],
    options: Options,
    command: &PartitionCmd,
) -> Result<u8, Error> {
    use strata::partition::scheduler::Clock;
    let mut exec = strata::partition::postgres::ExecOptions::default();
    if let PartitionCmd::Run {
        move_default_rows: true,
        ..
    } = command
    {
        exec.default_rows = strata::partition::postgres::DefaultRows::Move;
    }
    let m = Maintenance::new(config, only)?
        .with_options(options.clone())
        .with_exec_options(exec);
    if m.is_empty() {
        return Err(Error::Usage(
            "no [[partitions]] policy applies to the selected databases".into(),
        ));
    }
    match command {
        PartitionCmd::Plan { now, format } => {
            let plans = m.plan(now.map_or(Clock::Server, Clock::Given)).await?;
            let refusal = match now {
                Some(t) => m.clock_refusal(*t).await?,
                None => None,
            };
            match format {
                Format::Text => print!("{}", render::partition_plans(&plans)),
                Format::Json => print_json(&match &refusal {
                    None => serde_json::json!({ "partitions": plans }),
                    Some(why) => serde_json::json!({ "partitions": plans, "run_refused": why }),
                }),
            }
            if let Some(why) = refusal {
                eprintln!("note: `partitions run` with this --now would be refused: {why}");
            }
        }
        PartitionCmd::Run {
            now,
            allow_clock_skew,
            ..
        } => {
            let clock = match (now, allow_clock_skew) {
                (None, _) => Clock::Server,
                (Some(t), false) => Clock::Given(*t),
                (Some(t), true) => Clock::Trusted(*t),
            };
            let reports = m.run(clock).await?;
            print!("{}", render::partition_reports(&reports));
            let failed: Vec<_> = reports.iter().filter(|r| r.error.is_some()).collect();
            match failed.as_slice() {
                [] => {}
                [one] if reports.len() == 1 => {
                    return Err(Error::Database {
                        database: one.database.clone(),
                        message: format!(
                            "{} failed: {}",
                            one.table,
                            one.error.as_deref().unwrap_or_default()
                        ),
                    });
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|r| r.table.as_str()).collect();
                    return Err(Error::Database {
                        database: many[0].database.clone(),
                        message: format!(
                            "{} of {} tables failed ({}); the others were maintained",
                            many.len(),
                            reports.len(),
                            names.join(", ")
                        ),
                    });
                }
            }
        }
        PartitionCmd::Daemon {
            every,
            metrics_file,
        } => {
            let stop = options.stop.clone();
            m.daemon(*every, metrics_file.clone(), async move {
                let _ = stop.stopped().await;
            })
            .await;
            eprintln!("partition daemon stopped");
        }
        PartitionCmd::CheckDefault => {
            let tables = m.health().await?;
            print!("{}", render::default_rows(&tables));
            if tables.iter().any(|t| !t.default_rows.is_empty()) {
                return Ok(1);
            }
        }
        PartitionCmd::Check { format } => {
            let tables = m.health().await?;
            let problems: Vec<String> = tables.iter().flat_map(|t| t.problems()).collect();
            match format {
                Format::Text if problems.is_empty() => {
                    println!("{} table(s) checked: no problem", tables.len())
                }
                Format::Text => {
                    for p in &problems {
                        println!("{p}");
                    }
                }
                Format::Json => print_json(&serde_json::json!({
                    "ok": problems.is_empty(),
                    "problems": problems,
                    "tables": tables,
                })),
            }
            if !problems.is_empty() {
                return Ok(1);
            }
        }
    }
    Ok(0)
}

/// `migrate import`: reads the tool's folder, converts it, writes the
/// files into one database's folders (or --migrations/--rollbacks when
/// there is no config), says what it wrote and what it could not convert.
/// Exit 2 when any file could not be converted (the rest are written).
fn import(cli: &Cli, tool: strata::import::Tool, source: &Path) -> Result<u8, Error> {
    use strata::import::{Source, convert_with_conf, write};
    let config = load_config(cli, &|name| {
        Some(std::env::var(name).unwrap_or_else(|_| format!("${{{name}}}")))
    });
    let (migrations, rollbacks, kind) = match config {
        Ok(config) => {
            let mut folders: Vec<_> = config
                .select(&cli.databases)?
                .into_iter()
                .map(|db| (db.migrations.clone(), db.rollbacks.clone(), Some(db.kind)))
                .collect();
            folders.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
            if folders.len() != 1 {
                return Err(Error::Usage(
                    "import writes one database's folders: name it with --database NAME".into(),
                ));
            }
            folders.remove(0)
        }
        Err(Error::Usage(_)) if cli.config.is_none() => {
            (cli.migrations.clone(), cli.rollbacks.clone(), None)
        }
        Err(e) => return Err(e),
    };
    let entries = std::fs::read_dir(source).map_err(|e| Error::Io {
        path: source.to_path_buf(),
        source: e,
    })?;
    let mut sources = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io {
            path: source.to_path_buf(),
            source: e,
        })?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        sources.push(Source {
            name: entry.file_name().to_string_lossy().into_owned(),
            text,
        });
    }
    let mut converted = convert_with_conf(tool, &sources);
    if let Some(kind) = kind {
        converted.keep_extension(kind.extension(), &kind.to_string());
    }
    let ext = kind.map_or("sql", |k| k.extension());
    let written = write(tool, &converted, &migrations, &rollbacks, ext)?;
    for (file, path) in converted.files.iter().zip(&written) {
        println!("wrote {} (from {})", path.display(), file.from);
        if let Some(note) = &file.note {
            println!("  {note}");
        }
    }
    if let Some(map) = written.last() {
        println!(
            "wrote {} (the version map `baseline --from {tool}` reads)",
            map.display()
        );
    }
    if converted.renumbered {
        println!("versions renumbered in {tool}'s order:");
        for (theirs, ours) in &converted.versions {
            println!("  {theirs} -> {ours}");
        }
    }
    for name in &converted.ignored {
        eprintln!("note: ignored {name}: not a {tool} migration file");
    }
    for (name, why) in &converted.skipped {
        eprintln!("not converted: {name}: {why}");
    }
    Ok(if converted.skipped.is_empty() { 0 } else { 2 })
}
