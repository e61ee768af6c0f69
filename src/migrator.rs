//! The library's front door: every selected database, in three phases.
//!
//! 1. Load and validate every catalog (files only, no connection).
//! 2. Connect to every database, read its history and plan, without a lock.
//!    Any refusal stops the run here, before anything changed anywhere.
//! 3. For each database whose plan has work: lock, re-plan, run, unlock.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::{self, AnyBackend, Backend};
use crate::catalog::Catalog;
use crate::config::{Config, DatabaseConfig};
use crate::embed::Embedded;
use crate::engine::{self, Options, RepairChange, Report, StopHandle, Target};
use crate::error::{Error, Result};
#[cfg(not(feature = "postgres"))]
use crate::partition::Unmaintained as Maintenance;
use crate::partition::plan::plan_observed;
#[cfg(feature = "postgres")]
use crate::partition::scheduler::Maintenance;
use crate::plan::{Command, DeployPlan, DownTarget, OutOfOrder, Pending, Plan, UpTarget};
use crate::status::{self, DatabaseStatus, Status};

/// Migrates a set of databases. Build it once; every call connects afresh.
#[derive(Debug, Clone)]
pub struct Migrator {
    targets: Vec<Target>,
    options: Options,
    maintenance: Maintenance,
    validate_only: bool,
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
        Ok(Migrator {
            targets,
            options: Options::default(),
            maintenance: Maintenance::new(config, only)?,
            validate_only: false,
        })
    }

    /// Replaces the run options (lock and connect timeouts).
    pub fn with_options(mut self, options: Options) -> Migrator {
        self.maintenance = self.maintenance.with_options(options.clone());
        self.options = options;
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

    async fn connect_all(&self) -> Result<Vec<AnyBackend>> {
        let mut backends = Vec::with_capacity(self.targets.len());
        for t in &self.targets {
            backends.push(self.connect(&t.config).await?);
        }
        Ok(backends)
    }

    async fn close_all(backends: Vec<AnyBackend>) {
        for b in backends {
            let _ = b.close().await;
        }
    }

    /// Applies every pending migration of every database (in
    /// [`validate_only`](Self::validate_only) mode: checks that none is
    /// pending and applies nothing).
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

    /// Runs `up` or `down` (a `validate` command only checks).
    pub async fn run(&self, command: Command) -> Result<Vec<Report>> {
        let mut backends = self.connect_all().await?;
        let result = self.run_connected(&mut backends, command).await;
        Self::close_all(backends).await;
        result
    }

    async fn run_connected(
        &self,
        backends: &mut [AnyBackend],
        command: Command,
    ) -> Result<Vec<Report>> {
        // Phase 2: look everywhere before touching anything.
        let mut work = Vec::new();
        for (target, backend) in self.targets.iter().zip(backends.iter_mut()) {
            let history = backend.applied().await?;
            let planned = target.plan(&history, command);
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
            if engine::nothing_to_do(&planned) || matches!(command, Command::Validate { .. }) {
                planned?;
                continue;
            }
            if planned.is_err() && !engine::may_be_in_progress(&planned) {
                planned?;
            }
            work.push(target.config.name.clone());
        }
        // Phase 3: run, database by database, in name order.
        let mut reports = Vec::new();
        for (target, backend) in self.targets.iter().zip(backends.iter_mut()) {
            if work.contains(&target.config.name) {
                reports.push(engine::execute(target, backend, command, &self.options).await?);
            } else {
                reports.push(target.nothing_done());
            }
        }
        Ok(reports)
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
        let mut backends = self.connect_all().await?;
        let mut plans = Vec::new();
        let mut result = Ok(());
        for (target, backend) in self.targets.iter().zip(backends.iter_mut()) {
            let planned = match backend.applied().await {
                Ok(history) => target.plan(&history, command),
                Err(e) => Err(e),
            };
            let checked = match planned {
                Ok(p) => engine::check(target, backend, &p).await.map(|()| p),
                Err(e) => Err(e),
            };
            match checked {
                Ok(p) => plans.push(p),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        Self::close_all(backends).await;
        result.map(|()| plans)
    }

    /// What `command` would do to each database now, then partition
    /// maintenance at `now`. Read-only, no lock.
    pub async fn deploy_plan(&self, command: Command, now: DateTime<Utc>) -> Result<DeployPlan> {
        Ok(DeployPlan {
            databases: self.plan(command).await?,
            partitions: self.partition_plans(&self.maintenance.observe().await?, now),
        })
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
            databases.push(target.plan(&history, command)?);
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

    /// Every version of every database with its state, and what the catalog
    /// shows of each partitioned parent. Read-only, no lock.
    pub async fn status(&self) -> Result<Status> {
        let mut databases = Vec::new();
        for target in &self.targets {
            let mut backend = self.connect(&target.config).await?;
            let history = backend.applied().await;
            let _ = backend.close().await;
            databases.push(DatabaseStatus {
                name: target.config.name.clone(),
                kind: target.config.kind,
                migrations: status::status(&target.catalog, &history?),
            });
        }
        Ok(Status {
            databases,
            partitions: self.maintenance.observe().await?,
        })
    }

    /// Realigns each history with its files (checksums, names, forgotten
    /// records) after a human has looked. Returns what changed, per database.
    pub async fn repair(&self) -> Result<Vec<(String, Vec<RepairChange>)>> {
        let mut out = Vec::new();
        for target in &self.targets {
            let mut backend = self.connect(&target.config).await?;
            let changes = engine::repair(target, &mut backend, &self.options).await;
            let _ = backend.close().await;
            out.push((target.config.name.clone(), changes?));
        }
        Ok(out)
    }

    /// Removes locks left behind by dead runners (`migrate unlock`). A lock
    /// whose owner still renews it is refused unless `force`. Says what it
    /// did, per database.
    pub async fn unlock(&self, force: bool) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for target in &self.targets {
            let mut backend = self.connect(&target.config).await?;
            let done = backend.break_lock(force).await;
            let _ = backend.close().await;
            out.push(done?);
        }
        Ok(out)
    }

    /// Marks every migration up to `version` as applied on databases with
    /// no history yet. Returns the versions recorded, per database.
    pub async fn baseline(&self, version: u64) -> Result<Vec<(String, Vec<u64>)>> {
        if version == 0 {
            return Err(Error::Usage("baseline --version must be at least 1".into()));
        }
        let mut out = Vec::new();
        for target in &self.targets {
            let mut backend = self.connect(&target.config).await?;
            let recorded = engine::baseline(target, &mut backend, version, &self.options).await;
            let _ = backend.close().await;
            out.push((target.config.name.clone(), recorded?));
        }
        Ok(out)
    }
}
