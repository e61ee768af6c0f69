//! Executing plans against one database: lock, re-plan, run, record, unlock.
//!
//! The algorithm lives here once, for every kind; backends only store, lock
//! and run. The no-op path (everything applied) costs one read of the history
//! and no lock: only when that read shows work (or anything suspicious) is
//! the lock taken and the history read again, because another runner may
//! have finished the work meanwhile.

use std::time::Duration;

use serde::Serialize;

use crate::backend::{AnyBackend, Backend};
use crate::catalog::Catalog;
use crate::config::DatabaseConfig;
use crate::error::{Error, Result};
use crate::history::Record;
use crate::kind::Kind;
use crate::plan::{self, Command, Plan};
use crate::problem::Problem;
use crate::script::Script;
use crate::step::{Action, Step};

/// Knobs that apply to every database of a run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How long to wait for another runner's lock before giving up.
    pub lock_timeout: Duration,
    /// How long to wait for a server to accept a connection.
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lock_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// One step that completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Done {
    /// Applied or reverted.
    pub action: Action,
    /// The version.
    pub version: u64,
    /// Its description.
    pub description: String,
    /// The file that ran.
    pub file: String,
    /// How long it took.
    pub execution_time_ms: i64,
}

/// What a run did to one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The configured database name.
    pub database: String,
    /// Its kind.
    pub kind: Kind,
    /// The steps that completed, in order.
    pub done: Vec<Done>,
}

/// A change `repair` made to the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum RepairChange {
    /// The recorded checksum now matches the file.
    Checksum {
        /// The version.
        version: u64,
        /// The checksum that was recorded.
        from: String,
        /// The file's checksum, now recorded.
        to: String,
    },
    /// The recorded name now matches the file.
    Name {
        /// The version.
        version: u64,
        /// The name that was recorded.
        from: String,
        /// The file's description, now recorded.
        to: String,
    },
    /// The record was deleted (its file is gone, or it was dirty).
    Forgotten {
        /// The version.
        version: u64,
        /// Its recorded name.
        name: String,
        /// Why: `missing file` or `dirty`.
        reason: String,
    },
}

/// A database ready to run: its settings and its validated catalog.
#[derive(Debug, Clone)]
pub struct Target {
    /// Connection settings and folders.
    pub config: DatabaseConfig,
    /// Its migrations, already validated.
    pub catalog: Catalog,
}

impl Target {
    /// Plans `command` against a history, purely.
    pub fn plan(&self, history: &[Record], command: Command) -> Result<Plan> {
        plan::plan(
            &self.config.name,
            self.config.kind,
            &self.catalog,
            history,
            command,
        )
    }

    /// The report of a run that had nothing to do here.
    pub fn nothing_done(&self) -> Report {
        Report {
            database: self.config.name.clone(),
            kind: self.config.kind,
            done: Vec::new(),
        }
    }

    fn script(&self, step: &Step) -> &Script {
        let m = self
            .catalog
            .get(step.version)
            .expect("the plan only holds versions of this catalog");
        match step.action {
            Action::Apply => &m.script,
            Action::Revert => m
                .rollback
                .as_ref()
                .expect("the plan checked the rollback exists"),
        }
    }
}

/// Checks a plan's steps against the live database (see
/// [`Backend::check`]) before any of them runs. Read-only.
pub async fn check(target: &Target, backend: &mut AnyBackend, plan: &Plan) -> Result<()> {
    let steps: Vec<(&Step, &Script)> = plan.steps.iter().map(|s| (s, target.script(s))).collect();
    backend.check(&steps).await
}

/// Runs the work under the lock and always releases it, whatever happened.
async fn locked<T>(
    backend: &mut AnyBackend,
    options: Options,
    work: impl AsyncFnOnce(&mut AnyBackend) -> Result<T>,
) -> Result<T> {
    backend.lock(options.lock_timeout).await?;
    let result = work(backend).await;
    let released = backend.unlock().await;
    match (result, released) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e),
    }
}

/// Executes `command` on one database whose unlocked plan showed work.
///
/// Takes the lock, re-reads the history and re-plans (another runner may
/// have applied some or all of it meanwhile), then runs each step. On a
/// failure, the error lists what this run completed before it.
pub async fn execute(
    target: &Target,
    backend: &mut AnyBackend,
    command: Command,
    options: Options,
) -> Result<Report> {
    let mut report = Report {
        database: target.config.name.clone(),
        kind: target.config.kind,
        done: Vec::new(),
    };
    locked(backend, options, async |backend| {
        backend.ensure_history().await?;
        let history = backend.applied().await?;
        let plan = target.plan(&history, command)?;
        check(target, backend, &plan).await?;
        for step in &plan.steps {
            if let Some(holder) = backend.lock_lost().await? {
                return Err(Error::LockLost {
                    database: target.config.name.clone(),
                    holder,
                    next: step.version,
                    applied: report.done.iter().map(|d| d.version).collect(),
                });
            }
            let script = target.script(step);
            tracing::info!(database = %target.config.name, version = step.version, action = ?step.action, file = %step.file, "running");
            match backend.run(step, script).await {
                Ok(ms) => {
                    tracing::info!(database = %target.config.name, version = step.version, ms, "done");
                    report.done.push(Done {
                        action: step.action,
                        version: step.version,
                        description: step.description.clone(),
                        file: step.file.clone(),
                        execution_time_ms: ms,
                    });
                }
                Err(e) => return Err(with_applied(e, &report)),
            }
        }
        Ok(())
    })
    .await?;
    Ok(report)
}

fn with_applied(e: Error, report: &Report) -> Error {
    match e {
        Error::Step(mut failure) => {
            failure.applied = report.done.iter().map(|d| d.version).collect();
            Error::Step(failure)
        }
        other => other,
    }
}

/// The history changes `repair` would make. Pure.
pub fn repair_changes(catalog: &Catalog, history: &[Record]) -> Vec<RepairChange> {
    let mut changes = Vec::new();
    for r in history {
        if r.is_dirty() {
            changes.push(RepairChange::Forgotten {
                version: r.version,
                name: r.name.clone(),
                reason: "dirty".into(),
            });
            continue;
        }
        match catalog.get(r.version) {
            None => changes.push(RepairChange::Forgotten {
                version: r.version,
                name: r.name.clone(),
                reason: "missing file".into(),
            }),
            Some(m) => {
                if m.script.checksum != r.checksum {
                    changes.push(RepairChange::Checksum {
                        version: r.version,
                        from: r.checksum.clone(),
                        to: m.script.checksum.clone(),
                    });
                }
                if m.description != r.name {
                    changes.push(RepairChange::Name {
                        version: r.version,
                        from: r.name.clone(),
                        to: m.description.clone(),
                    });
                }
            }
        }
    }
    changes
}

/// Realigns the history with the files, under the lock.
pub async fn repair(
    target: &Target,
    backend: &mut AnyBackend,
    options: Options,
) -> Result<Vec<RepairChange>> {
    locked(backend, options, async |backend| {
        let history = backend.applied().await?;
        let changes = repair_changes(&target.catalog, &history);
        for change in &changes {
            match change {
                RepairChange::Forgotten { version, .. } => backend.remove(*version).await?,
                RepairChange::Checksum { version, .. } | RepairChange::Name { version, .. } => {
                    let m = target
                        .catalog
                        .get(*version)
                        .expect("repair_changes saw the file");
                    let old = history
                        .iter()
                        .find(|r| r.version == *version)
                        .expect("recorded");
                    backend
                        .upsert(&Record {
                            name: m.description.clone(),
                            checksum: m.script.checksum.clone(),
                            ..old.clone()
                        })
                        .await?;
                }
            }
        }
        Ok(changes)
    })
    .await
}

/// Records every migration up to `version` as applied, without running it,
/// on a database that has no history yet.
pub async fn baseline(
    target: &Target,
    backend: &mut AnyBackend,
    version: u64,
    options: Options,
) -> Result<Vec<u64>> {
    locked(backend, options, async |backend| {
        backend.ensure_history().await?;
        let history = backend.applied().await?;
        if !history.is_empty() {
            return Err(Error::Usage(format!(
                "database {}: baseline needs an empty history, but {} version(s) are recorded already",
                target.config.name,
                history.len()
            )));
        }
        let mut recorded = Vec::new();
        for m in target.catalog.migrations.iter().filter(|m| m.version <= version) {
            backend
                .upsert(&Record {
                    version: m.version,
                    name: m.description.clone(),
                    checksum: m.script.checksum.clone(),
                    applied_at: chrono::Utc::now(),
                    execution_time_ms: 0,
                    success: true,
                })
                .await?;
            recorded.push(m.version);
        }
        Ok(recorded)
    })
    .await
}

/// True when an unlocked look shows nothing to do and nothing suspicious,
/// so the lock need not be taken at all.
pub fn nothing_to_do(planned: &Result<Plan>) -> bool {
    matches!(planned, Ok(plan) if plan.is_empty())
}

/// Whether a refusal may be a runner in progress rather than real trouble:
/// a dirty record can be another runner's non-transactional step under way.
pub fn may_be_in_progress(planned: &Result<Plan>) -> bool {
    matches!(planned, Err(Error::Refused { problems, .. })
        if problems.iter().all(|p| matches!(p, Problem::Dirty { .. })))
}
