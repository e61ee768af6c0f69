//! The library's front door: every selected database, in three phases.
//!
//! 1. Load and validate every catalog (files only, no connection).
//! 2. Connect to every database, read its history and plan, without a lock.
//!    Any refusal stops the run here, before anything changed anywhere.
//! 3. For each database whose plan has work: lock, re-plan, run, unlock.

use std::path::Path;

use crate::backend::{AnyBackend, Backend};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::engine::{self, Options, RepairChange, Report, Target};
use crate::error::{Error, Result};
use crate::plan::{self, Command, DatabaseStatus, OutOfOrder, Pending, Plan, Status, UpTarget};

/// Migrates a set of databases. Build it once; every call connects afresh.
#[derive(Debug, Clone)]
pub struct Migrator {
    targets: Vec<Target>,
    options: Options,
}

impl Migrator {
    /// Loads the catalogs of the selected databases (all when `only` is
    /// empty). Every file is validated here; nothing is connected yet.
    pub fn new(config: &Config, only: &[String]) -> Result<Migrator> {
        let targets = config
            .select(only)?
            .into_iter()
            .map(|db| {
                Ok(Target {
                    catalog: Catalog::load(db.kind, &db.migrations, &db.rollbacks)?,
                    config: db.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Migrator {
            targets,
            options: Options::default(),
        })
    }

    /// Reads a `migrate.toml` and loads every database in it.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Migrator> {
        Migrator::new(&Config::load(path.as_ref())?, &[])
    }

    /// Replaces the run options (lock and connect timeouts).
    pub fn with_options(mut self, options: Options) -> Migrator {
        self.options = options;
        self
    }

    /// The databases this migrator works on, with their catalogs.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    async fn connect_all(&self) -> Result<Vec<AnyBackend>> {
        let mut backends = Vec::with_capacity(self.targets.len());
        for t in &self.targets {
            backends.push(AnyBackend::connect(&t.config, self.options.connect_timeout).await?);
        }
        Ok(backends)
    }

    async fn close_all(backends: Vec<AnyBackend>) {
        for b in backends {
            let _ = b.close().await;
        }
    }

    /// Applies every pending migration of every database.
    pub async fn up(&self) -> Result<Vec<Report>> {
        self.run(Command::Up {
            to: UpTarget::Latest,
            out_of_order: OutOfOrder::Refuse,
        })
        .await
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
            let planned = target.plan(&backend.applied().await?, command);
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
                reports.push(engine::execute(target, backend, command, self.options).await?);
            } else {
                reports.push(Report {
                    database: target.config.name.clone(),
                    kind: target.config.kind,
                    done: Vec::new(),
                });
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
            match backend
                .applied()
                .await
                .and_then(|h| target.plan(&h, command))
            {
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

    /// Every version of every database with its state. Read-only, no lock.
    pub async fn status(&self) -> Result<Status> {
        let mut databases = Vec::new();
        for target in &self.targets {
            let mut backend =
                AnyBackend::connect(&target.config, self.options.connect_timeout).await?;
            let history = backend.applied().await;
            let _ = backend.close().await;
            databases.push(DatabaseStatus {
                name: target.config.name.clone(),
                kind: target.config.kind,
                migrations: plan::status(&target.catalog, &history?),
            });
        }
        Ok(Status { databases })
    }

    /// Realigns each history with its files (checksums, names, forgotten
    /// records) after a human has looked. Returns what changed, per database.
    pub async fn repair(&self) -> Result<Vec<(String, Vec<RepairChange>)>> {
        let mut out = Vec::new();
        for target in &self.targets {
            let mut backend =
                AnyBackend::connect(&target.config, self.options.connect_timeout).await?;
            let changes = engine::repair(target, &mut backend, self.options).await;
            let _ = backend.close().await;
            out.push((target.config.name.clone(), changes?));
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
            let mut backend =
                AnyBackend::connect(&target.config, self.options.connect_timeout).await?;
            let recorded = engine::baseline(target, &mut backend, version, self.options).await;
            let _ = backend.close().await;
            out.push((target.config.name.clone(), recorded?));
        }
        Ok(out)
    }
}
