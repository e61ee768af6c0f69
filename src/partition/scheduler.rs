//! Running maintenance: once (cron), in a loop (daemon), or as a task inside
//! a service. Every run takes each database's migration lock, so replicas
//! and a concurrent `migrate up` never race, and re-plans under it, so a
//! second run (or a second replica) finds nothing to do.
//!
//! "Now" is the database server's clock, read once per run: a pod whose
//! own clock is wrong must not detach live partitions. A clock given by
//! hand (`--now`) more than one interval after the server's is refused
//! unless it is trusted explicitly ([`Clock::Trusted`]).
//!
//! Every policy is checked against the catalog before any partition is
//! touched; after that, a failure is isolated to its table and the run goes
//! on with the others. Databases are worked on `jobs` at a time
//! ([`Options::jobs`]), each with one connection at a time: a group of
//! hundreds of tenants never holds hundreds of connections.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::health::{self, Health};
use super::plan::{Action, Observed, TablePlan, plan};
use super::policy::Policy;
use super::postgres::{ExecOptions, Inspection, execute, inspect, parent_exists};
use crate::backend::postgres::PostgresBackend;
use crate::backend::{Backend, LockWait};
use crate::config::{Config, DatabaseConfig};
use crate::engine::Options;
use crate::error::{Error, Result, reason};

/// Which clock decides what is current, premade and expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The database server's `now()`, read once per run (the default).
    Server,
    /// A given time, refused by `run` when it lies more than one interval
    /// after the server's clock (`--now`).
    Given(DateTime<Utc>),
    /// A given time, trusted whatever the server says
    /// (`--now … --allow-clock-skew`: tests and rehearsals).
    Trusted(DateTime<Utc>),
}

/// A plan goes by a given clock as given: only `run` refuses one the
/// server refutes.
fn trusted(clock: Clock) -> Clock {
    match clock {
        Clock::Given(t) => Clock::Trusted(t),
        other => other,
    }
}

/// One action that was carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionDone {
    /// What was done.
    pub action: Action,
    /// How long it took.
    pub ms: i64,
}

/// What a run did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// The configured database.
    pub database: String,
    /// `schema.table`.
    pub table: String,
    /// Actions completed, in order.
    pub done: Vec<ActionDone>,
    /// Set when the table's maintenance stopped on an error.
    pub error: Option<String>,
    /// Set when there was nothing to maintain yet (the parent table is
    /// still to be created by a migration).
    pub note: Option<String>,
    /// Not maintained because the server is a standby (it may be promoted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub standby: bool,
}

/// Every database's rows, or the first database's error.
fn all_or_first_error<T>(per_db: Vec<(String, Result<Vec<T>>)>) -> Result<Vec<T>> {
    let mut all = Vec::new();
    for (_, rows) in per_db {
        all.extend(rows?);
    }
    Ok(all)
}

mod idle;
use idle::not_maintained;

/// How often the daemon looks again at a database whose server is a standby.
const STANDBY_RECHECK: Duration = Duration::from_secs(2);

/// Partition maintenance for the policies of a configuration.
#[derive(Debug, Clone)]
pub struct Maintenance {
    databases: Vec<(DatabaseConfig, Vec<Policy>)>,
    options: Options,
    exec: ExecOptions,
    /// What earlier runs' looks read, by database: a daemon's cycle with
    /// nothing to do reads only the parents that changed (shared by
    /// clones, which run the same policies).
    known: Arc<Mutex<HashMap<String, crate::partition::survey::Known>>>,
}

/// One database's connection with the clock of this run.
struct Session {
    backend: PostgresBackend,
    now: DateTime<Utc>,
}

impl Maintenance {
    /// The policies of the selected databases (all when `only` is empty).
    pub fn new(config: &Config, only: &[String]) -> Result<Maintenance> {
        // Every policy is checked, not only the selected databases': a
        // config with a bad policy is refused whatever is selected.
        let all = super::policy::policies(config)?;
        let databases = config
            .select(only)?
            .into_iter()
            .filter_map(|db| {
                let policies: Vec<Policy> = all
                    .iter()
                    .filter(|p| p.database == db.name)
                    .cloned()
                    .collect();
                (!policies.is_empty()).then(|| (db.clone(), policies))
            })
            .collect();
        Ok(Maintenance {
            databases,
            options: Options::default(),
            exec: ExecOptions::default(),
            known: Arc::default(),
        })
    }

    /// Replaces the connection and lock options.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Replaces the execution options (lock timeout per attach, retries,
    /// DEFAULT-partition rows).
    pub fn with_exec_options(mut self, exec: ExecOptions) -> Self {
        self.exec = exec;
        self
    }

    /// True when no policy applies to the selected databases.
    pub fn is_empty(&self) -> bool {
        self.databases.is_empty()
    }

    /// The policies this maintenance covers, by database.
    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.databases.iter().flat_map(|(_, p)| p.iter())
    }

    async fn connect(&self, db: &DatabaseConfig) -> Result<PostgresBackend> {
        PostgresBackend::connect(db, self.options.connect_timeout).await
    }

    /// How many databases are worked on at once.
    fn jobs(&self) -> usize {
        self.options.jobs.clamp(1, self.databases.len().max(1))
    }

    /// `f` for every database (its position, config and policies), at most
    /// [`jobs`](Self::jobs) at a time; the results in database order.
    async fn each<'a, T, Fut>(
        &'a self,
        f: impl Fn(usize, &'a DatabaseConfig, &'a [Policy]) -> Fut,
    ) -> Vec<T>
    where
        Fut: Future<Output = T> + Send + 'a,
    {
        let futures = self
            .databases
            .iter()
            .enumerate()
            .map(|(i, (db, policies))| Box::pin(f(i, db, policies)) as _)
            .collect();
        crate::engine::in_order(futures, self.jobs()).await
    }

    /// Each database's name beside its result (results in database order).
    fn named<T>(&self, per_db: Vec<T>) -> Vec<(String, T)> {
        self.databases
            .iter()
            .map(|(db, _)| db.name.clone())
            .zip(per_db)
            .collect()
    }

    /// Connects to a database and settles the clock of this run there.
    /// `Err` for a given clock the server's refutes.
    async fn session(
        &self,
        db: &DatabaseConfig,
        policies: &[Policy],
        clock: Clock,
    ) -> Result<Session> {
        let mut backend = self.connect(db).await?;
        match Self::settle(&mut backend, db, policies, clock).await {
            Ok(now) => Ok(Session { backend, now }),
            Err(e) => {
                let _ = backend.close().await;
                Err(e)
            }
        }
    }

    /// The time this run goes by on `db`: the server's clock, or the
    /// given one (refused when the server's refutes it).
    async fn settle(
        backend: &mut PostgresBackend,
        db: &DatabaseConfig,
        policies: &[Policy],
        clock: Clock,
    ) -> Result<DateTime<Utc>> {
        if let Clock::Trusted(t) = clock {
            return Ok(t);
        }
        let server: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(backend.connection())
            .await
            .map_err(|e| backend.db_error("reading the server's clock", e))?;
        match clock {
            Clock::Given(t) => match skew(policies, t, server) {
                Some(why) => Err(Error::Usage(format!("database {}: {why}", db.name))),
                None => Ok(t),
            },
            _ => Ok(server),
        }
    }

    /// What the catalog shows of every managed parent, for plans made
    /// later or elsewhere ([`plan_observed`](super::plan::plan_observed)). A
    /// parent that does not exist yet is reported as such, not as an error.
    pub async fn observe(&self) -> Result<Vec<Observed>> {
        all_or_first_error(self.observe_each().await)
    }

    /// [`observe`](Self::observe) database by database: one that cannot
    /// be read does not hide the others.
    pub async fn observe_each(&self) -> Vec<(String, Result<Vec<Observed>>)> {
        let per_db = self
            .each(|_, db, policies| async move {
                let mut backend = self.connect(db).await?;
                let observed = Self::observe_db(&mut backend, db, policies).await;
                let _ = backend.close().await;
                observed
            })
            .await;
        self.named(per_db)
    }

    /// [`observe`](Self::observe) for one database on a connection the
    /// caller already holds (`status` reads the history on it too, so a
    /// status over many databases opens one connection each, not two);
    /// `None` when no policy applies to `db`.
    pub async fn observe_on(
        &self,
        backend: &mut PostgresBackend,
        db: &DatabaseConfig,
    ) -> Option<Result<Vec<Observed>>> {
        let (_, policies) = self.databases.iter().find(|(d, _)| d.name == db.name)?;
        Some(Self::observe_db(backend, db, policies).await)
    }

    async fn observe_db(
        backend: &mut PostgresBackend,
        db: &DatabaseConfig,
        policies: &[Policy],
    ) -> Result<Vec<Observed>> {
        let mut out = Vec::with_capacity(policies.len());
        for p in policies {
            let mut o = Observed {
                database: db.name.clone(),
                table: p.qualified(),
                exists: parent_exists(backend.connection(), p).await?,
                children: Vec::new(),
                others: Default::default(),
                staged: Default::default(),
                error: None,
            };
            if o.exists {
                // One table that cannot be managed is refused alone.
                let insp = match inspect(backend.connection(), p).await {
                    Ok(insp) => insp,
                    Err(e) => {
                        o.error = Some(about_table(e, p));
                        out.push(o);
                        continue;
                    }
                };
                o.others = insp
                    .taken
                    .into_iter()
                    .filter(|t| t != &p.table && !insp.children.iter().any(|c| &c.name == t))
                    .collect();
                o.children = insp.children;
                o.staged = insp.staged;
            }
            out.push(o);
        }
        Ok(out)
    }

    /// What a run at `clock` would do. Read-only, no lock. A given clock
    /// is planned as given, even where `run` would refuse it (see
    /// [`Maintenance::clock_refusal`]).
    pub async fn plan(&self, clock: Clock) -> Result<Vec<TablePlan>> {
        let clock = trusted(clock);
        let per_db = self
            .each(|_, db, policies| async move {
                let mut s = self.session(db, policies, clock).await?;
                let planned = Self::plan_db(&mut s.backend, db, policies, s.now).await;
                let _ = s.backend.close().await;
                planned
            })
            .await;
        Ok(per_db.into_iter().collect::<Result<Vec<_>>>()?.concat())
    }

    /// [`plan`](Self::plan) for one database on a connection the caller
    /// already holds (`migrate plan` reads the history on it too); `None`
    /// when no policy applies to `db`.
    pub async fn plan_on(
        &self,
        backend: &mut PostgresBackend,
        db: &DatabaseConfig,
        clock: Clock,
    ) -> Option<Result<Vec<TablePlan>>> {
        let (_, policies) = self.databases.iter().find(|(d, _)| d.name == db.name)?;
        Some(
            async {
                let now = Self::settle(backend, db, policies, trusted(clock)).await?;
                Self::plan_db(backend, db, policies, now).await
            }
            .await,
        )
    }

    async fn plan_db(
        backend: &mut PostgresBackend,
        db: &DatabaseConfig,
        policies: &[Policy],
        now: DateTime<Utc>,
    ) -> Result<Vec<TablePlan>> {
        let observed = Self::observe_db(backend, db, policies).await?;
        Ok(policies
            .iter()
            .zip(observed)
            .map(|(p, o)| super::plan::plan_observed(p, Some(&o), now))
            .collect())
    }

    /// Why `run` would refuse this given clock, if it would: it lies more
    /// than one interval after some database server's clock.
    pub async fn clock_refusal(&self, given: DateTime<Utc>) -> Result<Option<String>> {
        let per_db = self
            .each(|_, db, policies| async move {
                match self.session(db, policies, Clock::Given(given)).await {
                    Ok(s) => {
                        let _ = s.backend.close().await;
                        Ok(None)
                    }
                    Err(Error::Usage(why)) => Ok(Some(why)),
                    Err(e) => Err(e),
                }
            })
            .await;
        for refusal in per_db {
            if let Some(why) = refusal? {
                return Ok(Some(why));
            }
        }
        Ok(None)
    }

    /// Carries out the plan at `clock`. Every database's clock and every
    /// policy is checked first (an error there changes nothing); then each
    /// database is locked and each table maintained on its own: a failure
    /// is recorded in its report and the others go on. A database whose
    /// lock or connection fails after the check is not maintained: each of
    /// its tables reports that, beside every other database's reports.
    pub async fn run(&self, clock: Clock) -> Result<Vec<TableReport>> {
        let span = self
            .options
            .telemetry
            .run("partitions", self.databases.len());
        let ran = span.wrap(self.run_inside(clock)).await;
        match &ran {
            Ok(reports) => match reports.iter().filter(|r| r.error.is_some()).count() {
                0 => span.ok(None),
                n => span.failed(&format!("{n} table(s) not maintained")),
            },
            Err(e) => span.failed(e),
        }
        ran
    }

    /// [`run`](Self::run) inside its span.
    async fn run_inside(&self, clock: Clock) -> Result<Vec<TableReport>> {
        // Every database's clock and policies first (the check holds no
        // lock; the run re-reads under it). When every database has a job
        // of its own, the check's connection is kept for the run;
        // otherwise it is closed, so no more than `jobs` are ever open.
        let keep = self.databases.len() <= self.jobs();
        let checked = self
            .each(|_, db, policies| async move {
                let (s, idle) = self.look(db, policies, clock).await?;
                // Nothing to do anywhere: reported without the lock.
                if let Some(idle) = idle {
                    let _ = s.backend.close().await;
                    return Ok((None, Some(idle::idle_reports(db, policies, &idle))));
                }
                if keep {
                    return Ok((Some(s), None));
                }
                let _ = s.backend.close().await;
                Ok((None, None))
            })
            .await;
        let mut kept = Vec::new();
        let mut idle = Vec::new();
        let mut refused = None;
        for c in checked {
            match c {
                Ok((s, i)) => {
                    kept.push(std::sync::Mutex::new(s));
                    idle.push(i);
                }
                Err(e) => {
                    refused.get_or_insert(e);
                }
            }
        }
        if let Some(e) = refused {
            for s in kept
                .into_iter()
                .filter_map(|s| s.into_inner().ok().flatten())
            {
                let _ = s.backend.close().await;
            }
            return Err(e);
        }
        let per_db = self
            .each(|i, db, policies| {
                let kept = kept[i].lock().ok().and_then(|mut s| s.take());
                let idle = idle[i].clone();
                async move {
                    if let Some(reports) = idle {
                        return reports;
                    }
                    let mut s = match kept {
                        Some(s) => s,
                        None => match self.session(db, policies, clock).await {
                            Ok(s) => s,
                            Err(e) => return not_maintained(db, policies, &e),
                        },
                    };
                    if let Err(e) = s
                        .backend
                        .lock(self.options.lock_timeout, &mut LockWait::quiet())
                        .await
                    {
                        let _ = s.backend.close().await;
                        return not_maintained(db, policies, &e);
                    }
                    let mut reports = Vec::new();
                    for p in policies {
                        reports.push(self.run_table(&mut s.backend, p, s.now).await);
                    }
                    let released = s.backend.unlock().await;
                    let _ = s.backend.close().await;
                    if let Err(e) = released {
                        // What ran is committed; closing the connection
                        // released the lock. Still a failure to report.
                        for r in reports.iter_mut().filter(|r| r.error.is_none()) {
                            r.error = Some(format!(
                                "maintained, but releasing the maintenance lock failed: {}",
                                reason(&db.name, &e)
                            ));
                        }
                    }
                    reports
                }
            })
            .await;
        Ok(per_db.concat())
    }

    async fn run_table(
        &self,
        backend: &mut PostgresBackend,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> TableReport {
        let mut report = TableReport {
            database: backend.database().to_string(),
            table: policy.qualified(),
            done: Vec::new(),
            error: None,
            note: None,
            standby: false,
        };
        match parent_exists(backend.connection(), policy).await {
            Ok(true) => {}
            Ok(false) => {
                report.note = Some(idle::not_yet(policy));
                return report;
            }
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        }
        // Re-read under the lock: another runner may have done the work.
        let insp: Inspection = match inspect(backend.connection(), policy).await {
            Ok(i) => i,
            Err(e) => {
                report.error = Some(about_table(e, policy));
                return report;
            }
        };
        let planned = plan(policy, &insp.children, &insp.taken, &insp.staged, now);
        if let Some(why) = planned.refused {
            report.error = Some(why);
            return report;
        }
        for action in planned.actions {
            let span = self.options.telemetry.partition(
                &report.database,
                &report.table,
                action.verb(),
                action.partition(),
            );
            let done = execute(backend.connection(), policy, &insp, &action, &self.exec);
            match span.wrap(done).await {
                Ok(ms) => {
                    span.ok(None);
                    tracing::info!(table = %report.table, ?action, ms, "partition maintenance");
                    report.done.push(ActionDone { action, ms });
                }
                Err(e) => {
                    span.failed(&e);
                    tracing::warn!(table = %report.table, error = %e, "partition maintenance failed");
                    report.error = Some(about_table(e, policy));
                    break;
                }
            }
        }
        report
    }

    /// What monitoring wants to know of every table, at the server's
    /// clock: partitions ready ahead, expired ones still there, rows in the
    /// DEFAULT partition by month. Read-only, no lock.
    pub async fn health(&self) -> Result<Vec<Health>> {
        all_or_first_error(self.health_each().await)
    }

    /// [`health`](Self::health) database by database: one that cannot be
    /// read does not hide the others (monitoring over a group of tenants).
    pub async fn health_each(&self) -> Vec<(String, Result<Vec<Health>>)> {
        let per_db = self
            .each(|_, db, policies| async move {
                let mut s = self.session(db, policies, Clock::Server).await?;
                let mut out = Vec::new();
                let read = async {
                    for p in policies {
                        // A table that cannot be read is a problem of its
                        // own; the others are still checked.
                        match health::read(&mut s.backend, p, s.now).await {
                            Ok(h) => out.push(h),
                            Err(e @ Error::Database { .. }) => {
                                out.push(Health::failed(&db.name, p, about_table(e, p)))
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Ok::<_, Error>(())
                }
                .await;
                let _ = s.backend.close().await;
                read.map(|()| out)
            })
            .await;
        self.named(per_db)
    }

    /// Runs now, then every `every`, until `shutdown` completes, at the
    /// server's clock. Each run's outcome is logged as one line (and, with
    /// `metrics`, written as a Prometheus text file); a failed run is
    /// retried at the next tick and never ends the loop. `shutdown` ends a
    /// run in progress too (a lock wait, a retry's pause): each action is
    /// its own transaction, so the one in flight is rolled back with its
    /// connection, and an interrupted `DETACH … CONCURRENTLY` is finished
    /// by the next run.
    pub async fn daemon(
        &self,
        every: Duration,
        metrics: Option<std::path::PathBuf>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut failures = 0u64;
        let mut last_success: Option<DateTime<Utc>> = None;
        // Databases whose server is a standby: said once, looked at again
        // often, maintained once promoted.
        let mut standbys: std::collections::BTreeSet<String> = Default::default();
        loop {
            let started = std::time::Instant::now();
            let outcome = tokio::select! {
                outcome = self.run(Clock::Server) => outcome,
                _ = &mut shutdown => return,
            };
            let now_standby: std::collections::BTreeSet<String> = match &outcome {
                Ok(reports) => reports
                    .iter()
                    .filter(|r| r.standby)
                    .map(|r| r.database.clone())
                    .collect(),
                Err(_) => standbys.clone(),
            };
            for db in now_standby.difference(&standbys) {
                tracing::warn!(
                    database = %db,
                    "the server is a standby: partition maintenance waits for it to be promoted"
                );
            }
            for db in standbys.difference(&now_standby) {
                tracing::warn!(database = %db, "the server accepts writes now: maintaining it");
            }
            standbys = now_standby;
            let failed = match &outcome {
                Ok(reports) => reports
                    .iter()
                    .filter(|r| r.error.is_some() && !r.standby)
                    .count(),
                Err(_) => self.databases.len(),
            };
            match &outcome {
                Ok(reports) => {
                    let created = count(reports, |a| matches!(a, Action::Create { .. }));
                    let retired = count(reports, |a| !matches!(a, Action::Create { .. }));
                    tracing::info!(
                        tables = reports.len(),
                        created,
                        retired,
                        failed,
                        ms = started.elapsed().as_millis() as u64,
                        "partition maintenance run finished"
                    );
                    for r in reports.iter().filter(|r| r.error.is_some() && !r.standby) {
                        tracing::warn!(table = %r.table, error = r.error.as_deref().unwrap_or(""), "partition maintenance failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "partition maintenance run failed"),
            }
            if failed == 0 {
                last_success = Some(Utc::now());
            } else {
                failures += 1;
            }
            let exports = self.options.telemetry.has_providers();
            if metrics.is_some() || exports {
                // What could be read: a member down must not blank the rest.
                let tables: Vec<Health> = self
                    .health_each()
                    .await
                    .into_iter()
                    .filter_map(|(_, h)| h.ok())
                    .flatten()
                    .collect();
                if exports {
                    health::export(&self.options.telemetry, &tables);
                }
                if let Some(path) = &metrics {
                    let text = health::metrics(&tables, last_success, failures);
                    if let Err(e) = health::write_atomically(path, &text) {
                        tracing::warn!(path = %path.display(), error = %e, "writing the metrics file failed");
                    }
                }
            }
            // A standby is looked at again soon: promotion is when the
            // partitions must be there.
            let pause = match standbys.is_empty() {
                true => every,
                false => every.min(STANDBY_RECHECK),
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Spawns [`Maintenance::daemon`] on the current tokio runtime, for a
    /// service that keeps its own partitions. Dropping or calling
    /// [`Scheduler::shutdown`] on the handle stops it, a run in progress too.
    pub fn spawn(self, every: Duration) -> Scheduler {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            self.daemon(every, None, async {
                let _ = stopped.await;
            })
            .await;
        });
        Scheduler {
            stop: Some(stop),
            task,
        }
    }
}

/// An error of one table's maintenance, without the database and table
/// names the report already carries.
fn about_table(e: Error, policy: &Policy) -> String {
    match e {
        Error::Database { message, .. } => {
            let prefix = format!("{}: ", policy.qualified());
            message
                .strip_prefix(&prefix)
                .map(str::to_string)
                .unwrap_or(message)
        }
        other => other.to_string(),
    }
}

fn count(reports: &[TableReport], which: impl Fn(&Action) -> bool) -> usize {
    reports
        .iter()
        .flat_map(|r| &r.done)
        .filter(|d| which(&d.action))
        .count()
}

/// Why a given clock may not be trusted: it lies more than one interval
/// (of the shortest interval among `policies`) after the server's. Pure.
pub fn skew(policies: &[Policy], given: DateTime<Utc>, server: DateTime<Utc>) -> Option<String> {
    let interval = policies
        .iter()
        .map(|p| p.interval)
        .min_by_key(|i| i.days())?;
    let limit = interval.step(interval.floor(server), 2);
    (given >= limit).then(|| {
        format!(
            "--now {} is more than one {} after the database server's clock ({}); a wrong \
             clock would detach live partitions. Pass --allow-clock-skew to trust it \
             (tests, rehearsals)",
            given.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            interval.as_str(),
            server.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    })
}

/// A running maintenance task inside a service.
#[derive(Debug)]
pub struct Scheduler {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Asks the loop to stop and waits until it has (a run in progress
    /// finishes first, so no partition is left half-made).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
