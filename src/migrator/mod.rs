//! The library's front door: every selected database, in three phases.
//!
//! 1. Load and validate every catalog (files only, no connection).
//! 2. Connect to every database, read its history and plan, without a lock.
//!    Any refusal stops the run here, before anything changed anywhere.
//! 3. For each database whose plan has work: lock, re-plan, run, unlock.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::{self, AnyBackend, Backend};
use crate::catalog::Catalog;
use crate::config::{Config, DatabaseConfig};
use crate::embed::Embedded;
use crate::engine::{self, Options, Report, StopHandle, Target};
use crate::error::{Error, Result};
use crate::finding::{Finding, Level};
use crate::lint::{self, LintSettings, TableSize};
#[cfg(not(feature = "postgres"))]
use crate::partition::Unmaintained as Maintenance;
use crate::partition::plan::plan_observed;
#[cfg(feature = "postgres")]
use crate::partition::scheduler::Maintenance;
use crate::plan::{Command, DeployPlan, DownTarget, OutOfOrder, Pending, Plan, UpTarget};
use crate::status::Status;
use crate::step::Action;
use crate::summary::{DatabaseOutcome, Outcome, Summary};

use std::sync::atomic::{AtomicBool, Ordering};

mod admin;
mod drift;
mod rollout;
mod sql_findings;
mod status_read;
mod wait;

pub use crate::config::rollout::GroupStages;

pub use crate::error::Behind;
pub use wait::WaitFor;

/// A database after phase 2: whether it has work, and its connection when
/// kept for phase 3.
struct Looked {
    backend: Option<AnyBackend>,
    work: bool,
}

/// Which clock a plan's partition maintenance goes by, if planned at all.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // no partitions without PostgreSQL
enum PartitionsAt {
    Skip,
    Given(DateTime<Utc>),
    ServerClock,
}

/// Migrates a set of databases. Build it once; every call connects afresh.
#[derive(Debug, Clone)]
pub struct Migrator {
    targets: Vec<Target>,
    options: Options,
    maintenance: Maintenance,
    validate_only: bool,
    lint: LintSettings,
    table_sizes: bool,
    /// Every group of the config, with its rollout when it has one.
    rollouts: BTreeMap<String, Option<crate::config::rollout::Rollout>>,
    /// `--canary N`: every group with N members first.
    canary: Option<usize>,
}

impl Migrator {
    /// Loads the catalogs of the selected databases (all when `only` is
    /// empty) from their folders. Every file is validated here; nothing is
    /// connected yet.
    pub fn new(config: &Config, only: &[String]) -> Result<Migrator> {
        Migrator::build(config, only, |db| {
            Catalog::load(&*backend::format(db)?, &db.migrations, &db.rollbacks)
        })
    }

    /// Reads a `migrate.toml` and loads every database in it.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Migrator> {
        Migrator::new(&Config::load(path.as_ref())?, &[])
    }

    /// Every database of `config`, its migrations taken from the binary: the
    /// embedded folder named like the last part of the database's
    /// `migrations` setting (by default, the database's name). Every file is
    /// validated for its database's kind here, before anything connects.
    pub fn from_embedded(embedded: &Embedded, config: &Config) -> Result<Migrator> {
        Migrator::build(config, &[], |db| {
            let folder = db
                .migrations
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or(&db.name);
            embedded.catalog(folder, &*backend::format(db)?)
        })
    }

    fn build(
        config: &Config,
        only: &[String],
        catalog: impl Fn(&DatabaseConfig) -> Result<Catalog>,
    ) -> Result<Migrator> {
        let targets = config
            .select(only)?
            .into_iter()
            .map(|db| {
                Ok(Target {
                    catalog: catalog(db)?,
                    config: db.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let maintenance = Maintenance::new(config, only)?;
        let mut targets = targets;
        for target in &mut targets {
            // Partition maintenance's children are not drift.
            target.config.drift.managed = maintenance
                .policies()
                .filter(|p| p.database == target.config.name)
                .map(|p| crate::drift::Managed {
                    parent: p.qualified(),
                    children: crate::drift::children_pattern(&p.naming, &p.table),
                })
                .collect();
        }
        Ok(Migrator {
            targets,
            options: Options {
                jobs: config.jobs.unwrap_or(engine::DEFAULT_JOBS),
                ..Options::default()
            },
            maintenance,
            validate_only: false,
            lint: config.lint.clone(),
            table_sizes: false,
            rollouts: config
                .groups
                .iter()
                .map(|(name, g)| (name.clone(), g.rollout.clone()))
                .collect(),
            canary: None,
        })
    }

    /// Migrates every group `n` members first (`--canary N`): the rest
    /// start only when none of those failed. Replaces the groups' own
    /// `rollout`.
    pub fn with_canary(mut self, n: usize) -> Migrator {
        self.canary = Some(n.max(1));
        self
    }

    /// Replaces the run options (lock and connect timeouts).
    pub fn with_options(mut self, options: Options) -> Migrator {
        self.maintenance = self.maintenance.with_options(options.clone());
        self.options = options;
        self
    }

    /// Works on at most `jobs` databases at once (default: the config's
    /// `jobs`, else 8).
    pub fn with_jobs(self, jobs: usize) -> Migrator {
        let options = Options {
            jobs: jobs.max(1),
            ..self.options.clone()
        };
        self.with_options(options)
    }

    /// Makes `status` record every PostgreSQL table's estimated rows and
    /// size (`Status`'s `tables`), which `plan --from-status` grades its
    /// lock findings by. Off by default: over thousands of tables the
    /// catalog scan costs more than the rest of a status.
    pub fn with_table_sizes(mut self, on: bool) -> Migrator {
        self.table_sizes = on;
        self
    }

    /// Records `who` as having applied each migration (default: the host
    /// name and process id, which tells replicas apart); `status` shows it.
    pub fn with_applied_by(self, who: impl Into<String>) -> Migrator {
        let options = Options {
            applied_by: who.into(),
            ..self.options.clone()
        };
        self.with_options(options)
    }

    /// Connects to one database, recording this migrator's `applied_by`.
    async fn connect(&self, db: &DatabaseConfig) -> Result<AnyBackend> {
        let mut backend = AnyBackend::connect(db, self.options.connect_timeout).await?;
        backend.set_applied_by(&self.options.applied_by);
        Ok(backend)
    }

    /// How long `up`/`down` wait for another runner's lock before failing
    /// with [`Error::LockTimeout`] (default 60 s).
    pub fn with_lock_timeout(self, timeout: Duration) -> Migrator {
        let options = Options {
            lock_timeout: timeout,
            ..self.options.clone()
        };
        self.with_options(options)
    }

    /// The handle that stops this migrator's runs: between steps, and after
    /// the options' `stop_timeout` by cancelling a PostgreSQL step in
    /// progress (it rolls back). Call [`StopHandle::stop`] from the
    /// service's shutdown; the run then fails with [`Error::Stopped`],
    /// its lock released.
    pub fn stop_handle(&self) -> StopHandle {
        self.options.stop.clone()
    }

    /// Makes [`up`](Self::up) check instead of apply: it fails with
    /// [`Error::Refused`] when anything is pending, drifted, dirty or out of
    /// order, and changes nothing. For services that must not start against
    /// a schema they were not built for.
    pub fn validate_only(mut self, on: bool) -> Migrator {
        self.validate_only = on;
        self
    }

    /// The databases this migrator works on, with their catalogs.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// How many databases are worked on at once.
    fn jobs(&self) -> usize {
        self.options.jobs.clamp(1, self.targets.len().max(1))
    }

    /// `f` for every database, at most [`jobs`](Self::jobs) at a time; the
    /// results in database (name) order.
    async fn each<'a, T, Fut>(&'a self, f: impl Fn(&'a Target) -> Fut) -> Vec<T>
    where
        Fut: std::future::Future<Output = T> + Send + 'a,
    {
        let futures = self.targets.iter().map(|t| Box::pin(f(t)) as _).collect();
        engine::in_order(futures, self.jobs()).await
    }

    /// Applies every pending migration of every database (in
    /// [`validate_only`](Self::validate_only) mode: checks that none is
    /// pending and applies nothing). One failing database does not stop
    /// those already running; over several databases the error
    /// ([`Error::Databases`]) keeps what the others completed, and
    /// [`run_each`](Self::run_each) gives each database's outcome.
    pub async fn up(&self) -> Result<Vec<Report>> {
        if self.validate_only {
            self.validate(Pending::Refuse, OutOfOrder::Refuse).await?;
            return Ok(self.targets.iter().map(Target::nothing_done).collect());
        }
        self.run(Command::Up {
            to: UpTarget::Latest,
            out_of_order: OutOfOrder::Refuse,
        })
        .await
    }

    /// Reverts migrations of every database with their rollback files.
    pub async fn down(&self, to: DownTarget) -> Result<Vec<Report>> {
        self.run(Command::Down { to }).await
    }

    /// Runs `up` or `down` (a `validate` command only checks): every
    /// report, or the failure — over several databases
    /// [`Error::Databases`], with each failure and the reports of the
    /// databases that completed.
    pub async fn run(&self, command: Command) -> Result<Vec<Report>> {
        self.run_each(command).await?.into_result()
    }

    /// Runs `up` or `down` on every database and says how each ended.
    ///
    /// First every database is looked at (connect, read the history, plan,
    /// check), at most `jobs` at a time; if any is refused or unreachable,
    /// nothing runs anywhere and that is the `Err` (over several
    /// databases [`Error::Databases`], the others listed as not started). Then the databases with
    /// work run, at most `jobs` at a time, each under its own lock: one
    /// failing does not stop the others already running, and no new one
    /// starts after a failure unless `keep_going`.
    pub async fn run_each(&self, command: Command) -> Result<Summary> {
        let span = self
            .options
            .telemetry
            .run(command.name(), self.targets.len());
        let summary = span.wrap(self.run_phases(command)).await;
        match summary.as_ref().map(|s| s.failures().count()) {
            Ok(0) => span.ok(None),
            Ok(n) => span.failed(&format!("{n} database(s) failed")),
            Err(e) => span.failed(e),
        }
        summary
    }

    /// [`run_each`](Self::run_each) inside its span.
    async fn run_phases(&self, command: Command) -> Result<Summary> {
        // Connections are kept from the look to the run when they all fit
        // in the job limit; otherwise each run connects again, so no more
        // than `jobs` connections are ever open.
        let keep = self.targets.len() <= self.jobs();
        let looked = self.each(|t| self.look(t, command, keep)).await;
        let mut ready = Vec::new();
        let mut refused = Vec::new();
        for (target, l) in self.targets.iter().zip(looked) {
            match l {
                Ok(l) => ready.push(l),
                Err(e) => refused.push((target.config.name.clone(), Box::new(e))),
            }
        }
        if !refused.is_empty() {
            for l in ready {
                if let Some(b) = l.backend {
                    let _ = b.close().await;
                }
            }
            return Err(self.refused_everywhere(refused));
        }
        let staged = self.staged();
        if staged.iter().any(|s| s.stage > 0) {
            let outcomes = self.execute_staged(ready, command, &staged).await;
            return Ok(self.summary(outcomes));
        }
        let failed = AtomicBool::new(false);
        let slots: Vec<std::sync::Mutex<Option<Looked>>> = ready
            .into_iter()
            .map(|l| std::sync::Mutex::new(Some(l)))
            .collect();
        let slots = &slots;
        let failed = &failed;
        let outcomes = self
            .each(|target| async move {
                let index = self
                    .targets
                    .iter()
                    .position(|t| std::ptr::eq(t, target))
                    .expect("a target of this migrator");
                let looked = slots[index].lock().expect("not poisoned").take();
                // The first `jobs` databases have their slots from the
                // start: they are running, whichever is polled first.
                let at_once = index < self.jobs();
                self.execute(target, looked, command, failed, at_once).await
            })
            .await;
        Ok(self.summary(outcomes))
    }

    /// Each target with its outcome, in order.
    fn summary(&self, outcomes: Vec<Outcome>) -> Summary {
        Summary {
            databases: self
                .targets
                .iter()
                .zip(outcomes)
                .map(|(t, outcome)| DatabaseOutcome {
                    database: t.config.name.clone(),
                    kind: t.config.kind,
                    outcome,
                })
                .collect(),
        }
    }

    /// The error of a run refused before anything ran anywhere: the one
    /// database's own, or [`Error::Databases`] with every database not
    /// refused listed as not started.
    fn refused_everywhere(&self, mut refused: Vec<(String, Box<Error>)>) -> Error {
        if self.targets.len() == 1 && refused.len() == 1 {
            return *refused.pop().expect("one").1;
        }
        let refused_names: std::collections::HashSet<&str> =
            refused.iter().map(|(d, _)| d.as_str()).collect();
        let not_started = self
            .targets
            .iter()
            .map(|t| t.config.name.clone())
            .filter(|n| !refused_names.contains(n.as_str()))
            .collect();
        Error::Databases {
            total: self.targets.len(),
            failed: refused,
            not_started,
            done: Vec::new(),
        }
    }

    /// Phase 2 for one database: connect, read, plan, check. `Ok` says
    /// whether it has work (keeping the connection when `keep`).
    async fn look(&self, target: &Target, command: Command, keep: bool) -> Result<Looked> {
        let mut backend = self.connect(&target.config).await?;
        let work = self.has_work(target, &mut backend, command).await;
        match work {
            Ok(true) if keep => Ok(Looked {
                backend: Some(backend),
                work: true,
            }),
            other => {
                let _ = backend.close().await;
                other.map(|work| Looked {
                    backend: None,
                    work,
                })
            }
        }
    }

    async fn has_work(
        &self,
        target: &Target,
        backend: &mut AnyBackend,
        command: Command,
    ) -> Result<bool> {
        let history = backend.applied().await?;
        engine::check_built(target, backend, &history, false).await?;
        let planned = target.plan(&history, command);
        if let (Ok(plan), Command::Up { .. }) = (&planned, command) {
            let telemetry = &self.options.telemetry;
            telemetry.pending(&target.config.name, target.config.kind, plan.steps.len());
        }
        if let Ok(plan) = &planned
            && let Err(refused) = engine::check(target, backend, plan).await
        {
            // Refuse what the server would refuse half-way, before
            // anything changes anywhere, unless the check may have seen
            // another runner's work in progress: runners record a
            // version (dirty) before its first operation, so a history
            // that changed since the read above means one is at work.
            // The locked phase then re-plans and checks again.
            if backend.applied().await? == history {
                return Err(refused);
            }
        }
        // A checksum recorded before data files counted is upgraded under
        // the lock, even when nothing else is to be done.
        let upgrade = matches!(command, Command::Up { .. })
            && planned.is_ok()
            && !engine::legacy_checksums(target, &history).is_empty();
        if upgrade {
            self.refuse_drift(target, backend, &history).await?;
            return Ok(true);
        }
        if engine::nothing_to_do(&planned) || matches!(command, Command::Validate { .. }) {
            planned?;
            return Ok(false);
        }
        if planned.is_err() && !engine::may_be_in_progress(&planned) {
            planned?;
        }
        self.refuse_drift(target, backend, &history).await?;
        Ok(true)
    }

    /// Phase 3 for one database: lock, re-plan, run, unlock. Not started
    /// after another database failed, unless `at_once` (it had its slot
    /// from the start) or `keep_going`.
    async fn execute(
        &self,
        target: &Target,
        looked: Option<Looked>,
        command: Command,
        failed: &AtomicBool,
        at_once: bool,
    ) -> Outcome {
        let Some(Looked {
            backend,
            work: true,
        }) = looked
        else {
            return Outcome::Done(target.nothing_done());
        };
        if !at_once && failed.load(Ordering::SeqCst) && !self.options.keep_going {
            if let Some(b) = backend {
                let _ = b.close().await;
            }
            return Outcome::NotStarted;
        }
        let mut backend = match backend {
            Some(b) => b,
            None => match self.connect(&target.config).await {
                Ok(b) => b,
                Err(e) => {
                    failed.store(true, Ordering::SeqCst);
                    return Outcome::Failed(e);
                }
            },
        };
        let span = self
            .options
            .telemetry
            .database(&target.config.name, target.config.kind);
        let result = span
            .wrap(engine::execute(
                target,
                &mut backend,
                command,
                &self.options,
            ))
            .await;
        let _ = backend.close().await;
        match &result {
            Ok(_) => span.ok(None),
            Err(e) => span.failed(e),
        }
        match result {
            Ok(report) => Outcome::Done(report),
            Err(e) => {
                failed.store(true, Ordering::SeqCst);
                Outcome::Failed(e)
            }
        }
    }

    /// Checks files against every history; runs nothing.
    pub async fn validate(&self, pending: Pending, out_of_order: OutOfOrder) -> Result<()> {
        self.run(Command::Validate {
            pending,
            out_of_order,
        })
        .await
        .map(|_| ())
    }

    /// What `command` would do to each database now. Read-only, no lock.
    pub async fn plan(&self, command: Command) -> Result<Vec<Plan>> {
        Ok(self.plan_with(command, PartitionsAt::Skip).await?.databases)
    }

    /// What `command` would do to each database now, then partition
    /// maintenance at `now`. Read-only, no lock.
    pub async fn deploy_plan(&self, command: Command, now: DateTime<Utc>) -> Result<DeployPlan> {
        self.plan_with(command, PartitionsAt::Given(now)).await
    }

    /// [`deploy_plan`](Self::deploy_plan) with partition maintenance
    /// planned at each database server's clock, as `partitions plan` and
    /// `partitions run` decide it (the deploy job's own clock may be off):
    /// what `migrate plan` does without `--now`. Read-only, no lock.
    pub async fn deploy_plan_at_server_clock(&self, command: Command) -> Result<DeployPlan> {
        self.plan_with(command, PartitionsAt::ServerClock).await
    }

    /// Plans `command` and partition maintenance at `at`, each database on
    /// one connection (a plan over hundreds of tenants with a partition
    /// policy opened two each).
    async fn plan_with(&self, command: Command, at: PartitionsAt) -> Result<DeployPlan> {
        let planned = self
            .each(|target| async move {
                let mut backend = self.connect(&target.config).await?;
                let plan = async {
                    let history = backend.applied().await?;
                    engine::check_built(target, &mut backend, &history, false).await?;
                    let mut plan = target.plan(&history, command)?;
                    engine::check(target, &mut backend, &plan).await?;
                    let skips = backend.skips();
                    for step in &mut plan.steps {
                        step.skip = skips.get(&step.version).cloned();
                    }
                    self.add_findings(target, &mut plan, Some(&mut backend), None)
                        .await?;
                    let partitions = self.partitions_on(&mut backend, &target.config, at).await;
                    Ok((plan, partitions.transpose()?.unwrap_or_default()))
                }
                .await;
                let _ = backend.close().await;
                plan
            })
            .await;
        let mut out = DeployPlan {
            databases: Vec::new(),
            partitions: Vec::new(),
        };
        for planned in planned {
            let (plan, partitions) = planned?;
            out.databases.push(plan);
            out.partitions.extend(partitions);
        }
        Ok(out)
    }

    /// The partition plans of `db` at `at`, on the connection its
    /// migration plan was made on; `None` without policies there.
    async fn partitions_on(
        &self,
        backend: &mut AnyBackend,
        db: &DatabaseConfig,
        at: PartitionsAt,
    ) -> Option<Result<Vec<crate::partition::TablePlan>>> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = backend.postgres() {
            use crate::partition::scheduler::Clock;
            let clock = match at {
                PartitionsAt::Skip => return None,
                PartitionsAt::Given(t) => Clock::Trusted(t),
                PartitionsAt::ServerClock => Clock::Server,
            };
            return self.maintenance.plan_on(pg, db, clock).await;
        }
        let _ = (backend, db, at); // unused without PostgreSQL
        None
    }

    /// The same plan from a recorded [`Status`] (the JSON `migrate status
    /// --format json` prints) instead of the servers: CI needs no database.
    /// Pure: the same inputs always give the same plan.
    pub fn plan_offline(
        &self,
        command: Command,
        recorded: &Status,
        now: DateTime<Utc>,
    ) -> Result<DeployPlan> {
        let mut databases = Vec::new();
        for target in &self.targets {
            let name = &target.config.name;
            let by_name = recorded.databases.iter().find(|d| &d.name == name);
            // One database on each side: the status of a single-database
            // run (named `default`) plans the one database of a service.
            let only = match (self.targets.len(), recorded.databases.as_slice()) {
                (1, [one]) => Some(one),
                _ => None,
            };
            let Some(db) = by_name.or(only) else {
                let recorded_names: Vec<&str> =
                    recorded.databases.iter().map(|d| d.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "the recorded status has no database {name} (it has: {}); record it with \
                     `migrate status --format json` run with the same config, or in \
                     single-database mode with `--name {name}`",
                    if recorded_names.is_empty() {
                        "none".to_string()
                    } else {
                        recorded_names.join(", ")
                    }
                )));
            };
            if db.kind != target.config.kind {
                return Err(Error::Usage(format!(
                    "the recorded status says {name} is {}, the config says {}",
                    db.kind, target.config.kind
                )));
            }
            let history: Vec<_> = db.migrations.iter().filter_map(|r| r.record()).collect();
            let mut plan = target.plan(&history, command)?;
            let findings = self.step_findings(target, &plan);
            for (step, mut found) in plan.steps.iter_mut().zip(findings) {
                lint::grade(&mut found, &db.tables, &self.lint);
                step.findings = found;
            }
            databases.push(plan);
        }
        Ok(DeployPlan {
            databases,
            partitions: self.partition_plans(&recorded.partitions, now),
        })
    }

    fn partition_plans(
        &self,
        observed: &[crate::partition::Observed],
        now: DateTime<Utc>,
    ) -> Vec<crate::partition::TablePlan> {
        self.maintenance
            .policies()
            .map(|p| {
                let o = observed
                    .iter()
                    .find(|o| o.database == p.database && o.table == p.qualified());
                plan_observed(p, o, now)
            })
            .collect()
    }

    /// The findings of each step of `plan`, before sizes: PostgreSQL files
    /// are linted (squawk's rules and strata's lock table), Elasticsearch
    /// and Qdrant operation files by their backends; Neo4j has none.
    fn step_findings(&self, target: &Target, plan: &Plan) -> Vec<Vec<Finding>> {
        let mut created = std::collections::BTreeSet::new();
        plan.steps
            .iter()
            .map(|step| {
                let Some(m) = target.catalog.get(step.version) else {
                    return Vec::new();
                };
                let script = match step.action {
                    Action::Apply => &m.script,
                    Action::Revert => match &m.rollback {
                        Some(rb) => rb,
                        None => return Vec::new(),
                    },
                };
                match target.config.kind {
                    crate::kind::Kind::Postgres => sql_findings::sql_findings(
                        &step.file,
                        script,
                        target.config.ddl_lock.timeout,
                        &mut created,
                    ),
                    kind => backend::findings(kind, &step.file, &script.content, &mut created),
                }
            })
            .collect()
    }

    /// Adds each step's findings to `plan`, graded by the sizes of the
    /// tables they name: asked of `backend` when connected, else taken
    /// from `recorded`.
    async fn add_findings(
        &self,
        target: &Target,
        plan: &mut Plan,
        backend: Option<&mut AnyBackend>,
        recorded: Option<&std::collections::BTreeMap<String, TableSize>>,
    ) -> Result<()> {
        let mut found = self.step_findings(target, plan);
        let tables: Vec<String> = found.iter().flat_map(|f| lint::tables(f)).collect();
        let sizes = match (backend, recorded) {
            (Some(b), _) if !tables.is_empty() => b.table_sizes(&tables).await?,
            (_, Some(r)) => r.clone(),
            _ => Default::default(),
        };
        for (step, f) in plan.steps.iter_mut().zip(found.iter_mut()) {
            lint::grade(f, &sizes, &self.lint);
            step.findings = std::mem::take(f);
        }
        Ok(())
    }

    /// `migrate lint`: the findings of every pending file (connected, with
    /// the tables' live sizes), or with `all` of every file (offline, no
    /// sizes). Per database: its name, the level it fails on, its findings.
    pub async fn lint(&self, all: bool) -> Result<Vec<(String, Level, Vec<Finding>)>> {
        let fail_on = |t: &Target| t.config.lint_fail_on.unwrap_or(self.lint.fail_on);
        if all {
            // Offline the files are all there is, and a group's members
            // share theirs: the group is linted once, by its name.
            let mut seen = std::collections::BTreeSet::new();
            return Ok(self
                .targets
                .iter()
                .filter_map(|t| {
                    let name = t
                        .config
                        .name
                        .split_once('/')
                        .map_or(t.config.name.as_str(), |(group, _)| group);
                    seen.insert(name).then(|| (name.to_string(), t))
                })
                .map(|(name, t)| {
                    // Against an empty history every file is pending.
                    let everything = Command::Up {
                        to: UpTarget::Latest,
                        out_of_order: OutOfOrder::Allow,
                    };
                    let plan = match t.plan(&[], everything) {
                        Ok(plan) => plan,
                        Err(_) => return (name, fail_on(t), Vec::new()),
                    };
                    let mut findings: Vec<Finding> =
                        self.step_findings(t, &plan).into_iter().flatten().collect();
                    lint::grade(&mut findings, &Default::default(), &self.lint);
                    (name, fail_on(t), findings)
                })
                .collect());
        }
        let command = Command::Up {
            to: UpTarget::Latest,
            out_of_order: OutOfOrder::Allow,
        };
        let plans = self.plan(command).await?;
        Ok(self
            .targets
            .iter()
            .zip(plans)
            .map(|(t, p)| {
                (
                    t.config.name.clone(),
                    fail_on(t),
                    p.steps.into_iter().flat_map(|s| s.findings).collect(),
                )
            })
            .collect())
    }
}
