//! `migrate partitions …`: runs partition maintenance and prints it.

#[cfg(feature = "postgres")]
use std::collections::BTreeMap;
use strata::config::Config;

#[cfg(feature = "postgres")]
use strata::partition::scheduler::{Maintenance, TableReport};
#[cfg(feature = "postgres")]
use strata::render;
use strata::{Error, Options};

#[cfg(feature = "postgres")]
use crate::cli::Format;
use crate::cli::PartitionCmd;
#[cfg(feature = "postgres")]
use crate::print_json;

#[cfg(not(feature = "postgres"))]
pub(crate) async fn partitions(
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
pub(crate) async fn partitions(
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
                Format::Text => out!("{}", render::partition_plans(&plans)),
                Format::Json => print_json(&match &refusal {
                    None => serde_json::json!({ "partitions": plans }),
                    Some(why) => serde_json::json!({ "partitions": plans, "run_refused": why }),
                }),
            }
            if let Some(why) = refusal {
                errln!("note: `partitions run` with this --now would be refused: {why}");
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
            out!("{}", render::partition_reports(&reports));
            if let Some(e) = run_failure(&reports) {
                return Err(e);
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
            errln!("partition daemon stopped");
            // Stopped by a signal: the exit code says which, as every
            // other command's does.
            if let Some(signal) = options.stop.requested() {
                return Ok(signal.exit_code() as u8);
            }
        }
        PartitionCmd::CheckDefault => {
            let tables = m.health().await?;
            out!("{}", render::default_rows(&tables));
            if tables.iter().any(|t| !t.default_rows.is_empty()) {
                return Ok(1);
            }
        }
        PartitionCmd::Check { format } => {
            // Over several databases, one that cannot be read is a problem
            // of its own, beside every other database's tables.
            let per_db = m.health_each().await;
            let single = per_db.len() == 1;
            let mut tables = Vec::new();
            let mut problems: Vec<String> = Vec::new();
            let mut unread = Vec::new();
            for (database, health) in per_db {
                match health {
                    Ok(h) => tables.extend(h),
                    Err(e) if single => return Err(e),
                    Err(e) => {
                        problems.push(format!(
                            "{database}: could not be checked: {}",
                            strata::secret::scrub_registered(&strata::summary::reason(
                                &database, &e
                            ))
                        ));
                        unread.push((database, e));
                    }
                }
            }
            for line in strata::error::failure_lines(unread.iter().map(|(d, e)| (d.as_str(), e))) {
                errln!("error: {}", strata::secret::scrub_registered(&line));
            }
            problems.extend(tables.iter().flat_map(|t| t.problems()));
            if matches!(format, Format::Text) {
                for note in tables.iter().filter_map(|t| t.note()) {
                    errln!("note: {note}");
                }
            }
            match format {
                Format::Text if problems.is_empty() => {
                    outln!("{} table(s) checked: no problem", tables.len())
                }
                Format::Text => {
                    for p in &problems {
                        outln!("{p}");
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

/// The error a maintenance run ends with when any table failed: that
/// table's, a count of one database's failed tables, or, over several
/// databases, each database's.
#[cfg(feature = "postgres")]
fn run_failure(reports: &[TableReport]) -> Option<Error> {
    let mut by_database: BTreeMap<&str, (Vec<&TableReport>, usize)> = BTreeMap::new();
    for r in reports {
        let entry = by_database.entry(r.database.as_str()).or_default();
        entry.1 += 1;
        if r.error.is_some() {
            entry.0.push(r);
        }
    }
    let total = by_database.len();
    let mut failed: Vec<(String, Box<Error>)> = by_database
        .into_iter()
        .filter(|(_, (failed, _))| !failed.is_empty())
        .map(|(database, (failed, tables))| {
            let message = match failed.as_slice() {
                [one] if tables == 1 => format!(
                    "{} failed: {}",
                    one.table,
                    one.error.as_deref().unwrap_or_default()
                ),
                many => {
                    let names: Vec<&str> = many.iter().map(|r| r.table.as_str()).collect();
                    format!(
                        "{} of {tables} tables failed ({}); the others were maintained",
                        many.len(),
                        names.join(", ")
                    )
                }
            };
            let e = Error::Database {
                database: database.to_string(),
                message,
            };
            (database.to_string(), Box::new(e))
        })
        .collect();
    match failed.len() {
        0 => None,
        1 => Some(*failed.pop().expect("one").1),
        _ => Some(Error::Databases {
            total,
            failed,
            not_started: Vec::new(),
            done: Vec::new(),
        }),
    }
}
