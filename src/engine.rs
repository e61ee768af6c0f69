//! Executing plans against one database: lock, re-plan, run, record, unlock.
//!
//! The algorithm lives here once, for every kind; backends only store, lock
//! and run. The no-op path (everything applied) costs one read of the history
//! and no lock: only when that read shows work (or anything suspicious) is
//! the lock taken and the history read again, because another runner may
//! have finished the work meanwhile.

use std::time::Duration;

use serde::Serialize;

use crate::backend::{AnyBackend, Backend, LockWait};
use crate::catalog::Catalog;
use crate::config::DatabaseConfig;
use crate::error::{Completed, Error, Result};
use crate::history::Record;
use crate::plan::{self, Command, Plan};
use crate::problem::Problem;
use crate::script::Script;
use crate::step::{Action, Step};
pub use crate::step::{Done, Report, duration_ms};

pub use crate::events::{Event, Observer, StopHandle};

pub mod drift;

/// Knobs that apply to every database of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for another runner's lock before giving up.
    pub lock_timeout: Duration,
    /// How long to wait for a server to accept a connection.
    pub connect_timeout: Duration,
    /// Asks the run to stop between steps.
    pub stop: StopHandle,
    /// After a stop request, how long a step in progress may go on before
    /// it is cancelled on the server (where the kind allows: PostgreSQL).
    pub stop_timeout: Duration,
    /// Told about each step as it starts and completes.
    pub observer: Observer,
    /// Recorded as who applied each migration (default: host name and
    /// process id).
    pub applied_by: String,
    /// How many databases to look at and run at once (at least 1; never
    /// more than there are databases).
    pub jobs: usize,
    /// After a database fails, start the ones not yet started anyway
    /// (default: stop starting new ones; those running finish).
    pub keep_going: bool,
    /// Where spans and metrics go (OpenTelemetry, feature `otel`):
    /// the global providers unless a service gives its own.
    pub telemetry: crate::telemetry::Telemetry,
}

/// Databases worked on at once unless told otherwise.
pub const DEFAULT_JOBS: usize = 8;

/// A future that may borrow from its caller, as [`in_order`] runs them.
pub(crate) type Job<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Runs `jobs` futures at most at a time, starting them in the order
/// given, and returns their outputs in that order. A new one starts as
/// soon as any running one ends: a slow database must not hold back the
/// ones after it (`buffered` counts a finished future as running until
/// every one before it has finished, so one slow first database stalled
/// the rest once `jobs - 1` others were done). The futures come boxed in a
/// list: a stream over a closure's futures would make the caller's future
/// not provably `Send` (rust-lang/rust#102211).
pub(crate) async fn in_order<T>(futures: Vec<Job<'_, T>>, jobs: usize) -> Vec<T> {
    use futures_util::stream::{self, StreamExt};
    let numbered: Vec<Job<'_, (usize, T)>> = futures
        .into_iter()
        .enumerate()
        .map(|(i, f)| Box::pin(async move { (i, f.await) }) as Job<'_, (usize, T)>)
        .collect();
    let mut done: Vec<(usize, T)> = stream::iter(numbered)
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lock_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            stop: StopHandle::default(),
            stop_timeout: Duration::from_secs(30),
            observer: Observer::default(),
            applied_by: crate::history::this_process(),
            jobs: DEFAULT_JOBS,
            keep_going: false,
            telemetry: Default::default(),
        }
    }
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

/// What applied migrations built outside a transaction and left unusable
/// (PostgreSQL: an INVALID index that a `CREATE INDEX CONCURRENTLY` left,
/// which `IF NOT EXISTS` takes as done); with `dirty`, also what dirty
/// records' files left (not before the lock: a dirty record may be another
/// runner's build in progress). Read-only; costs nothing where no such
/// file builds concurrently.
pub async fn built_problems(
    target: &Target,
    backend: &mut AnyBackend,
    history: &[Record],
    dirty: bool,
) -> Result<Vec<Problem>> {
    let built: Vec<(u64, &Script)> = history
        .iter()
        .filter(|r| r.success || dirty)
        .filter_map(|r| target.catalog.get(r.version))
        .filter(|m| m.script.mode == crate::script::TransactionMode::NoTransaction)
        .map(|m| (m.version, &m.script))
        .collect();
    if built.is_empty() {
        return Ok(Vec::new());
    }
    backend.built_problems(&built).await
}

/// Refuses while an applied migration's concurrent build is unusable (see
/// [`built_problems`]); `dirty` as there.
pub async fn check_built(
    target: &Target,
    backend: &mut AnyBackend,
    history: &[Record],
    dirty: bool,
) -> Result<()> {
    let problems = built_problems(target, backend, history, dirty).await?;
    match problems.is_empty() {
        true => Ok(()),
        false => Err(Error::Refused {
            database: target.config.name.clone(),
            problems,
        }),
    }
}

/// Runs the work under the lock and always releases it, whatever happened.
async fn locked<T>(
    target: &Target,
    backend: &mut AnyBackend,
    options: &Options,
    work: impl AsyncFnOnce(&mut AnyBackend) -> Result<T>,
) -> Result<T> {
    let database = &target.config.name;
    let wait = options.telemetry.lock_wait(database, target.config.kind);
    let report = |holder: &str, waited: Duration| {
        wait.holder(holder);
        options.observer.emit(Event::Waiting {
            database: database.to_string(),
            holder: holder.to_string(),
            waited,
        })
    };
    let taken = backend
        .lock(options.lock_timeout, &mut LockWait::new(&report))
        .await;
    match &taken {
        Ok(()) => wait.ok(None),
        Err(e) => wait.failed(e),
    }
    taken?;
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
    options: &Options,
) -> Result<Report> {
    let mut report = Report {
        database: target.config.name.clone(),
        kind: target.config.kind,
        done: Vec::new(),
    };
    let database = &target.config.name;
    let completed = |report: &Report, action: Option<Action>| Completed {
        action: report.done.first().map(|d| d.action).or(action),
        steps: report.done.clone(),
    };
    backend.set_run(options.observer.clone(), options.stop.clone());
    let outcome = locked(target, backend, options, async |backend| {
        backend.ensure_history().await?;
        let history = backend.applied().await?;
        // `down` may run the rollback that drops an INVALID index.
        let built = match command {
            Command::Down { .. } => Vec::new(),
            _ => built_problems(target, backend, &history, true).await?,
        };
        let plan = match (target.plan(&history, command), built.is_empty()) {
            (Ok(plan), true) => plan,
            (Ok(_), false) => {
                return Err(Error::Refused {
                    database: database.clone(),
                    problems: built,
                });
            }
            // One refusal naming all: a dirty record and the index it left.
            (Err(Error::Refused { database, mut problems }), _) => {
                problems.extend(built);
                problems.sort_by_key(|p| p.version());
                return Err(Error::Refused { database, problems });
            }
            (Err(e), _) => return Err(e),
        };
        check(target, backend, &plan).await?;
        if matches!(command, Command::Up { .. }) {
            upgrade_checksums(target, backend, &history, options).await?;
        }
        if plan.steps.is_empty() {
            return Ok(());
        }
        drift::gate(target, backend, options).await?;
        // What the history holds as far as this run knows, to notice a
        // step that deletes it (kinds whose history is not transactional).
        let mut known: std::collections::BTreeMap<u64, Record> =
            history.into_iter().map(|r| (r.version, r)).collect();
        let mut previous: Option<u64> = None;
        let ran: Result<()> = async {
        for step in &plan.steps {
            if let Some(signal) = options.stop.requested() {
                return Err(Error::Stopped {
                    database: database.clone(),
                    signal,
                    cancelled: None,
                    left: None,
                    done: completed(&report, Some(step.action)),
                });
            }
            if let Some(holder) = backend.lock_lost().await? {
                return Err(Error::LockLost {
                    database: database.clone(),
                    holder,
                    after: previous,
                    next: step.version,
                    done: completed(&report, Some(step.action)),
                });
            }
            let script = target.script(step);
            tracing::info!(database = %database, version = step.version, action = ?step.action, file = %step.file, "running");
            options.observer.emit(Event::Started {
                database: database.clone(),
                step: step.clone(),
            });
            let span = options.telemetry.step(database, target.config.kind, step);
            let ran = span.wrap(run_step(backend, step, script, options)).await;
            match &ran {
                Ok(_) => span.ok(Some(step.action)),
                Err(e) => span.failed(e),
            }
            let ms = match ran {
                Ok(ms) => ms,
                Err(e) if options.stop.requested().is_some() && is_cancelled(&e) => {
                    return Err(Error::Stopped {
                        database: database.clone(),
                        signal: options.stop.requested().expect("checked"),
                        cancelled: Some(step.version),
                        left: left_dirty(&e),
                        done: completed(&report, Some(step.action)),
                    });
                }
                Err(e) => return Err(with_done(e, completed(&report, Some(step.action)))),
            };
            tracing::info!(database = %database, version = step.version, ms, "done");
            let done = Done {
                action: step.action,
                version: step.version,
                description: step.description.clone(),
                file: step.file.clone(),
                execution_time_ms: ms,
            };
            options.observer.emit(Event::Completed {
                database: database.clone(),
                done: done.clone(),
            });
            report.done.push(done);
            match step.action {
                Action::Apply => {
                    known.insert(step.version, step.record(true, ms, &options.applied_by))
                }
                Action::Revert => known.remove(&step.version),
            };
            if !backend.history_is_transactional() {
                guard_history(target, backend, step, &known, completed(&report, None)).await?;
            }
            previous = Some(step.version);
        }
        Ok(())
        }
        .await;
        if matches!(command, Command::Up { .. }) {
            let left = plan.steps.len() - report.done.len();
            let telemetry = &options.telemetry;
            telemetry.pending(database, target.config.kind, left);
        }
        // The schema this run leaves is what the next one expects, also
        // after a failed step when steps completed before it (they stay);
        // not when another runner may be at work, and not when nothing
        // completed: a failed first run leaves the database as it was.
        let another = matches!(ran, Err(Error::LockLost { .. } | Error::HistoryLost { .. }));
        if !another && (ran.is_ok() || !report.done.is_empty()) {
            let recorded = drift::record(target, backend).await;
            match (&ran, recorded) {
                (Ok(()), Err(e)) => return Err(e),
                (Err(_), Err(e)) => {
                    tracing::warn!(database = %database, error = %e, "recording the schema failed")
                }
                _ => {}
            }
        }
        ran
    })
    .await;
    match outcome {
        Ok(()) => Ok(report),
        Err(
            e @ (Error::Step(_)
            | Error::LockLost { .. }
            | Error::HistoryLost { .. }
            | Error::Stopped { .. }
            | Error::Partial { .. }),
        ) => Err(e),
        Err(e) if report.done.is_empty() => Err(e),
        Err(e) => Err(Error::Partial {
            error: Box::new(e),
            done: completed(&report, None),
        }),
    }
}

/// Runs one step; once a stop was requested and the grace period is over,
/// asks the server to cancel it (the step then fails, rolled back).
async fn run_step(
    backend: &mut AnyBackend,
    step: &Step,
    script: &Script,
    options: &Options,
) -> Result<i64> {
    let cancel = backend.canceller();
    let database = backend_name(backend);
    let started = std::time::Instant::now();
    let run = backend.run(step, script);
    tokio::pin!(run);
    let grace = options.stop.grace_over(options.stop_timeout);
    tokio::pin!(grace);
    let mut cancelled = false;
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(30),
        Duration::from_secs(30),
    );
    loop {
        tokio::select! {
            r = &mut run => return r,
            _ = &mut grace, if !cancelled => {
                cancelled = true;
                if let Some(c) = &cancel {
                    tracing::warn!(version = step.version, "cancelling the step in progress");
                    c.cancel().await;
                }
            }
            _ = tick.tick() => {
                options.observer.emit(Event::StillRunning {
                    database: database.clone(),
                    step: step.clone(),
                    elapsed: started.elapsed(),
                });
            }
        }
    }
}

fn backend_name(backend: &AnyBackend) -> String {
    backend.database().to_string()
}

/// What a cancelled step left, when its record stays dirty: the step's own
/// account of it (which statement ran, an INVALID index and how to drop it).
fn left_dirty(e: &Error) -> Option<String> {
    match e {
        Error::Step(f) if f.progress.as_ref().is_some_and(|p| p.dirty) => Some(format!(
            "its record is dirty ({}{}: {})",
            crate::names::shown(&f.file),
            f.location,
            f.message.replace('\n', " ")
        )),
        _ => None,
    }
}

/// Whether an error is the server's answer to a cancel request.
fn is_cancelled(e: &Error) -> bool {
    matches!(e, Error::Step(f) if f.code.as_deref() == Some("SQLSTATE 57014"))
}

/// After a step, on kinds whose history a file can delete: if records this
/// run knows of are gone, write them back and stop, saying which step did it.
async fn guard_history(
    target: &Target,
    backend: &mut AnyBackend,
    step: &Step,
    known: &std::collections::BTreeMap<u64, Record>,
    done: Completed,
) -> Result<()> {
    let now: std::collections::BTreeSet<u64> =
        backend.applied().await?.iter().map(|r| r.version).collect();
    if known.keys().all(|v| now.contains(v)) {
        return Ok(());
    }
    let lock_gone = backend.lock_lost().await?.is_some();
    backend.ensure_history().await?;
    for record in known.values() {
        backend.upsert(record).await?;
    }
    Err(Error::HistoryLost {
        database: target.config.name.clone(),
        version: step.version,
        file: step.file.clone(),
        lock_gone,
        rerecorded: known.keys().copied().collect(),
        done,
    })
}

fn with_done(e: Error, done: Completed) -> Error {
    match e {
        Error::Step(mut failure) => {
            failure.done = done;
            Error::Step(failure)
        }
        other if done.steps.is_empty() => other,
        other => Error::Partial {
            error: Box::new(other),
            done,
        },
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
    options: &Options,
) -> Result<Vec<RepairChange>> {
    locked(target, backend, options, async |backend| {
        let history = backend.applied().await?;
        let changes = repair_changes(&target.catalog, &history);
        if !changes.is_empty() {
            // Brings an older history store up to date before writing it.
            backend.ensure_history().await?;
        }
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
    options: &Options,
) -> Result<Vec<u64>> {
    record_as_applied(target, backend, options, "baseline", async |_| {
        Ok(target
            .catalog
            .migrations
            .iter()
            .map(|m| m.version)
            .filter(|v| *v <= version)
            .collect())
    })
    .await
}

/// Why a baseline refuses a database: it has a history already.
pub fn history_not_empty(database: &str, recorded: usize) -> Error {
    Error::Usage(format!(
        "database {database}: baseline needs an empty history, but {recorded} version(s) are \
         recorded already"
    ))
}

/// Records the versions `choose` picks (it may read the database, under
/// the lock) as applied, without running them, on a database that has no
/// history yet; each record carries its file's checksum. `how` ends up in
/// each record's `applied_by`.
pub async fn record_as_applied(
    target: &Target,
    backend: &mut AnyBackend,
    options: &Options,
    how: &str,
    choose: impl AsyncFnOnce(&mut AnyBackend) -> Result<Vec<u64>>,
) -> Result<Vec<u64>> {
    locked(target, backend, options, async |backend| {
        backend.ensure_history().await?;
        let history = backend.applied().await?;
        if !history.is_empty() {
            return Err(history_not_empty(&target.config.name, history.len()));
        }
        let versions = choose(backend).await?;
        let mut recorded = Vec::new();
        for m in target
            .catalog
            .migrations
            .iter()
            .filter(|m| versions.contains(&m.version))
        {
            backend
                .upsert(&Record {
                    version: m.version,
                    name: m.description.clone(),
                    checksum: m.script.checksum.clone(),
                    applied_at: chrono::Utc::now(),
                    execution_time_ms: 0,
                    success: true,
                    applied_by: format!("{} ({how})", options.applied_by),
                })
                .await?;
            recorded.push(m.version);
        }
        // The schema the database has now is the one its history says.
        drift::record(target, backend).await?;
        Ok(recorded)
    })
    .await
}

/// The recorded versions whose checksum is their file's legacy one (from
/// before data files were checksummed): the next `up` upgrades them.
pub fn legacy_checksums(target: &Target, history: &[Record]) -> Vec<u64> {
    history
        .iter()
        .filter(|r| !r.is_dirty())
        .filter(|r| {
            target
                .catalog
                .get(r.version)
                .is_some_and(|m| m.script.is_legacy(&r.checksum))
        })
        .map(|r| r.version)
        .collect()
}

/// Records the full checksum of each version still holding its legacy
/// one, and says so for each.
async fn upgrade_checksums(
    target: &Target,
    backend: &mut AnyBackend,
    history: &[Record],
    options: &Options,
) -> Result<()> {
    for version in legacy_checksums(target, history) {
        let m = target
            .catalog
            .get(version)
            .expect("legacy_checksums saw it");
        let old = history
            .iter()
            .find(|r| r.version == version)
            .expect("recorded");
        backend
            .upsert(&Record {
                checksum: m.script.checksum.clone(),
                ..old.clone()
            })
            .await?;
        options.observer.emit(Event::ChecksumUpgraded {
            database: target.config.name.clone(),
            version,
            file: crate::catalog::display_name(&m.script.file),
        });
    }
    Ok(())
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
