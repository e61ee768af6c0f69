//! `migrate`: the command line. Parses, calls the library, prints.
//!
//! Exit codes: 0 success, 1 a migration, connection or lock failed,
//! 2 usage or bad input files, 3 drift, dirty or validation refused the run.

/// `println!`, `print!` and `eprintln!` that do not panic when the reader
/// has gone (`migrate status | head`, a log collector that died): a lost
/// line must not end a run half-way, and the exit code still tells.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}
/// A line on stderr: as written, or as one JSON log object with
/// `--log-format json`.
macro_rules! errln {
    ($($arg:tt)*) => {{
        $crate::logs::stderr_line(&format!($($arg)*));
    }};
}

mod cli;
mod docs;
mod logs;
#[cfg(feature = "otel")]
mod otel;
mod partitions;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use strata::config::Config;
use strata::engine::StopHandle;
use strata::error::Signal;
use strata::migrator::WaitFor;
use strata::plan::{Command, DownTarget, OutOfOrder, Pending, UpTarget};
use strata::{Error, Migrator, Options, render};

use cli::{Cli, Cmd, Format, PlanFormat};
use partitions::partitions;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Generated from the grammar alone: no config, no server.
    match &cli.command {
        Cmd::Completions { shell } => return docs::completions(*shell),
        Cmd::Man { out } => return docs::man(out),
        Cmd::Reference { out } => return docs::reference(out),
        _ => {}
    }
    logs::init(cli.verbose, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    #[cfg(feature = "otel")]
    let export = {
        let _entered = runtime.enter();
        otel::from_env()
    };
    #[cfg(feature = "otel")]
    let export = match export {
        Ok(export) => export,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    #[cfg(feature = "otel")]
    let telemetry = export
        .as_ref()
        .map(otel::Export::telemetry)
        .unwrap_or_default();
    #[cfg(not(feature = "otel"))]
    let telemetry = Default::default();
    let stop = StopHandle::new();
    let ran = runtime.block_on(async {
        tokio::spawn(watch_signals(stop.clone()));
        run(cli, stop, telemetry).await
    });
    // What is buffered goes out before the process ends; the runtime keeps
    // running meanwhile, for the gRPC client.
    #[cfg(feature = "otel")]
    if let Some(export) = export {
        let _ = runtime.block_on(runtime.spawn_blocking(move || export.shutdown()));
    }
    match ran {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            errln!(
                "error: {}",
                strata::secret::scrub_registered(&e.to_string())
            );
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// Finds the databases: `--database-url`, then `--config`, then
/// `./migrate.toml`, then `DATABASE_URL` — a config file in the folder must
/// never lose to a variable a shell or `.env` file happens to set. Says on
/// stderr when one source wins over another that is present.
fn load_config(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let config = find_config(cli, env)?;
    match &cli.ddl_lock_timeout {
        Some(text) => config.with_ddl_lock_timeout(text),
        None => Ok(config),
    }
}

fn find_config(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let default = Path::new("migrate.toml");
    if let Some(url) = &cli.database_url {
        if default.is_file() {
            errln!("note: using --database-url; ./migrate.toml is not read");
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
            // `lint --all` reads files only: a PostgreSQL folder needs no
            // server to be linted, so none needs naming.
            None if matches!(cli.command, Cmd::Lint { all: true, .. }) => {
                single(cli, "postgres://localhost/lint")
            }
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
        errln!(
            "note: using {}; DATABASE_URL is set but a config file comes first \
             (pass --database-url to use a URL instead)",
            path.display()
        );
    }
    Ok(config)
}

/// Runs `up`/`down` and ends it. A run refused before anything ran is an
/// error, except with `--format json`, where stdout is still the summary
/// (the refused databases failed, the others not started).
async fn finish_run(migrator: &Migrator, command: Command, format: Format) -> Result<u8, Error> {
    match migrator.run_each(command).await {
        Ok(summary) => finish(summary, format),
        Err(e) if matches!(format, Format::Json) => {
            let databases: Vec<_> = migrator
                .targets()
                .iter()
                .map(|t| (t.config.name.clone(), t.config.kind))
                .collect();
            finish(strata::Summary::refused(&databases, e)?, format)
        }
        Err(e) => Err(e),
    }
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
        out!("{}", render::idle(&reports));
        return Ok(0);
    }
    outln!("summary:");
    for line in summary.to_string().lines() {
        outln!("  {line}");
    }
    // Hundreds of members failing alike: one line for the reason.
    for (databases, why) in strata::error::by_reason(summary.failures()) {
        errln!(
            "error: {}: {}",
            strata::error::some_names(databases),
            strata::secret::scrub_registered(&why)
        );
    }
    Ok(summary.exit_code() as u8)
}

/// `status` over several databases: every one that answered, then one
/// `error:` line per distinct failure (JSON: a `failed` list); exit 1 when
/// any could not be read.
/// Whether any database of `status` has a pending migration.
fn any_pending(status: &strata::status::Status) -> bool {
    status.databases.iter().any(|d| {
        d.migrations
            .iter()
            .any(|m| m.state == strata::status::State::Pending)
    })
}

async fn status_of_many(migrator: &Migrator, format: Format, exit_code: bool) -> Result<u8, Error> {
    let (status, failed) = migrator.status_each().await;
    match format {
        Format::Text => out!("{}", render::status(&status)),
        Format::Json => {
            let mut value = serde_json::to_value(&status).expect("plain data serialises");
            if !failed.is_empty() {
                value["failed"] = failed
                    .iter()
                    .map(|(database, e)| {
                        serde_json::json!({
                            "database": database,
                            "error": strata::secret::scrub_registered(
                                &strata::summary::reason(database, e)
                            ),
                        })
                    })
                    .collect();
            }
            print_json(&value);
        }
    }
    for line in strata::error::failure_lines(failed.iter().map(|(d, e)| (d.as_str(), e))) {
        errln!("error: {}", strata::secret::scrub_registered(&line));
    }
    let failed = failed.iter().map(|(_, e)| e.exit_code()).max().unwrap_or(0);
    if failed == 0 && exit_code && any_pending(&status) {
        return Ok(strata::error::EXIT_REFUSED as u8);
    }
    Ok(failed as u8)
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
    outln!(
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
            errln!("{got} again: stopping now");
            std::process::exit(got.exit_code());
        }
        errln!("{got}: stopping after the step in progress (send it again to stop at once)");
        stop.stop(got);
    }
}

/// Runs the command; `Ok` carries the exit code of a check that found
/// problems (printed already), 0 otherwise.
async fn run(
    cli: Cli,
    stop: StopHandle,
    telemetry: strata::telemetry::Telemetry,
) -> Result<u8, Error> {
    let options = Options {
        lock_timeout: Duration::from_secs(cli.lock_timeout),
        connect_timeout: Duration::from_secs(cli.connect_timeout),
        stop,
        stop_timeout: Duration::from_secs(cli.stop_timeout),
        observer: logs::observer(
            matches!(
                cli.command,
                Cmd::Up {
                    format: Format::Json,
                    ..
                } | Cmd::Down {
                    format: Format::Json,
                    ..
                }
            ),
            // Progress lines are for a person watching, or asked for.
            cli.verbose > 0 || std::io::IsTerminal::is_terminal(&std::io::stdout()),
        ),
        applied_by: strata::history::this_process(),
        jobs: cli.jobs.map_or(strata::engine::DEFAULT_JOBS, usize::from),
        keep_going: cli.keep_going,
        telemetry,
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
        outln!("created {}", v.display());
        outln!("created {}", u.display());
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
    // A JSON status is what offline plans read: it records table sizes,
    // which cost a catalog scan that a status for a human does not need.
    let sizes = matches!(
        cli.command,
        Cmd::Status {
            format: Format::Json,
            ..
        }
    );
    let mut migrator = Migrator::new(&config, &cli.databases)?
        .with_options(options)
        .with_table_sizes(sizes);
    if let Some(n) = cli.canary {
        migrator = migrator.with_canary(n as usize);
    }
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
                out!("{}", render::plans(&migrator.plan(command).await?));
            } else {
                return finish_run(&migrator, command, format).await;
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
                out!("{}", render::plans(&migrator.plan(command).await?));
            } else {
                return finish_run(&migrator, command, format).await;
            }
        }
        Cmd::Status { format, exit_code } => {
            if migrator.targets().len() == 1 {
                let status = migrator.status().await?;
                match format {
                    Format::Text => out!("{}", render::status(&status)),
                    Format::Json => print_json(&status),
                }
                if exit_code && any_pending(&status) {
                    return Ok(strata::error::EXIT_REFUSED as u8);
                }
            } else {
                return status_of_many(&migrator, format, exit_code).await;
            }
        }
        Cmd::Wait { timeout, version } => {
            let wait_for = version.map_or(WaitFor::Current, WaitFor::Version);
            migrator.wait_until(wait_for, timeout).await?;
            for t in migrator.targets() {
                outln!("{} ({}): ready", t.config.name, t.config.kind);
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
                outln!("{} ({}): valid", t.config.name, t.config.kind);
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
            let plan = match from_status {
                // No server to ask: the recorded status is planned at
                // this machine's clock unless --now says otherwise.
                Some(path) => migrator.plan_offline(
                    command,
                    &read_status(&path)?,
                    now.unwrap_or_else(chrono::Utc::now),
                )?,
                None => match now {
                    Some(now) => migrator.deploy_plan(command, now).await?,
                    None => migrator.deploy_plan_at_server_clock(command).await?,
                },
            };
            match format {
                PlanFormat::Text => {
                    out!("{}", render::deploy_plan(&plan));
                    out!("{}", render::rollouts(&migrator.rollout_stages()));
                }
                PlanFormat::Json => print_json(&plan),
                PlanFormat::Markdown => out!(
                    "{}",
                    render::markdown::deploy_plan(&plan, &migrator.rollout_stages())
                ),
            }
        }
        Cmd::Lint { all, format } => {
            let found = migrator.lint(all).await?;
            let failed = found
                .iter()
                .any(|(_, fail_on, findings)| strata::lint::fails(findings, *fail_on));
            match format {
                Format::Text => out!("{}", render::findings(&found)),
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
        Cmd::Repair { accept_drift: true } => {
            out!("{}", render::accepted(&migrator.accept_drift().await?))
        }
        Cmd::Repair { .. } => out!("{}", render::repairs(&migrator.repair().await?)),
        Cmd::Drift { format } => {
            let reports = migrator.drift().await?;
            match format {
                Format::Text => out!("{}", render::drift(&reports)),
                Format::Json => print_json(&serde_json::json!({ "databases": reports })),
            }
            return Ok(u8::from(
                reports.iter().any(|r| !r.state.changes().is_empty()),
            ));
        }
        Cmd::Unlock { force } => {
            for line in migrator.unlock(force).await? {
                outln!("{line}");
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
                outln!(
                    "{db}: recorded as applied without running: {}",
                    if list.is_empty() {
                        "none".to_string()
                    } else {
                        list.join(", ")
                    }
                );
            }
        }
        Cmd::New { .. }
        | Cmd::Partitions { .. }
        | Cmd::Import { .. }
        | Cmd::Completions { .. }
        | Cmd::Man { .. }
        | Cmd::Reference { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(0)
}

/// `migrate import`: reads the tool's folder, converts it, writes the
/// files into one database's folders (or --migrations/--rollbacks when
/// there is no config), says what it wrote and what it could not convert.
/// Exit 2 when any file could not be converted (the rest are written).
fn import(
    cli: &Cli,
    tool: strata::import::Tool,
    sources: &[std::path::PathBuf],
) -> Result<u8, Error> {
    use strata::import::{convert_with_conf, read_folders, write};
    let config = load_config(cli, &|name| {
        Some(std::env::var(name).unwrap_or_else(|_| format!("${{{name}}}")))
    });
    let (migrations, rollbacks, kind) = match config {
        // A group's members share its folders (a query group has none
        // until its query runs).
        Ok(config) if cli.databases.len() == 1 && config.groups.contains_key(&cli.databases[0]) => {
            let g = &config.groups[&cli.databases[0]];
            (g.migrations.clone(), g.rollbacks.clone(), Some(g.kind))
        }
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
    let folder = read_folders(tool, sources)?;
    let mut converted = convert_with_conf(tool, &folder.sources);
    if let Some(kind) = kind {
        converted.keep_extension(kind.extension(), &kind.to_string());
    }
    let ext = kind.map_or("sql", |k| k.extension());
    let written = write(tool, &converted, &migrations, &rollbacks, ext)?;
    for (file, path) in converted.files.iter().zip(&written) {
        outln!("wrote {} (from {})", path.display(), file.from);
        if let Some(note) = &file.note {
            outln!("  {note}");
        }
    }
    if let Some(map) = written.last() {
        outln!(
            "wrote {} (the version map `baseline --from {tool}` reads)",
            map.display()
        );
    }
    if let Some(zero) = &converted.zero_to_one {
        outln!("version {zero} became 1 (strata's versions start at 1); the others kept theirs");
    }
    if converted.renumbered {
        outln!("versions renumbered in {tool}'s order:");
        for (theirs, ours) in &converted.versions {
            outln!("  {theirs} -> {ours}");
        }
    }
    for name in &converted.ignored {
        errln!("note: ignored {name}: not a {tool} migration file");
    }
    for (name, why) in &folder.passed_over {
        errln!("note: ignored {name}: {why}");
    }
    for (name, why) in &converted.skipped {
        errln!("not converted: {name}: {why}");
    }
    if written.is_empty() {
        let folders: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
        errln!(
            "error: nothing written: no {tool} migration converted from {}",
            folders.join(", ")
        );
        return Ok(2);
    }
    Ok(if converted.skipped.is_empty() { 0 } else { 2 })
}
