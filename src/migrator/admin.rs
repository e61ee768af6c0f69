//! The history's upkeep: `repair`, `unlock`, `baseline` and `baseline
//! --from` another tool. Rare, human-driven commands, kept apart from the
//! run's three phases but with the same rules: every database is looked at
//! before any is written, and both the look and the change go `--jobs`
//! databases at a time (adopting hundreds of tenants should not take one
//! round trip after another).

use super::Migrator;
use crate::backend::{AnyBackend, Backend};
use crate::config::validate_history_table;
use crate::engine::{self, RepairChange, Target};
use crate::error::{Error, Result};
use crate::import::{ForeignRow, MAPPING_FILE, Tool, adopted_versions, history_query};

impl Migrator {
    /// Realigns each history with its files (checksums, names, forgotten
    /// records) after a human has looked; every database must answer
    /// before any is repaired. Returns what changed, per database.
    pub async fn repair(&self) -> Result<Vec<(String, Vec<RepairChange>)>> {
        let kept = &self.look_first(Look::History).await?;
        self.change_each(|target| async move {
            let mut backend = self.again(target, kept).await?;
            let changes = engine::repair(target, &mut backend, &self.options).await;
            let _ = backend.close().await;
            Ok((target.config.name.clone(), changes?))
        })
        .await
    }

    /// Removes locks left behind by dead runners (`migrate unlock`). A lock
    /// whose owner still renews it is refused unless `force`; every
    /// database must answer before any lock is removed. Says what it did,
    /// per database.
    pub async fn unlock(&self, force: bool) -> Result<Vec<String>> {
        let kept = &self.look_first(Look::Answers).await?;
        self.change_each(|target| async move {
            let mut backend = self.again(target, kept).await?;
            let done = backend.break_lock(force).await;
            let _ = backend.close().await;
            done
        })
        .await
    }

    /// Marks every migration up to `version` as applied on databases with
    /// no history yet. Returns the versions recorded, per database.
    pub async fn baseline(&self, version: u64) -> Result<Vec<(String, Vec<u64>)>> {
        if version == 0 {
            return Err(Error::Usage("baseline --version must be at least 1".into()));
        }
        let kept = &self.look_first(Look::Empty).await?;
        self.change_each(|target| async move {
            let mut backend = self.again(target, kept).await?;
            let recorded = engine::baseline(target, &mut backend, version, &self.options).await;
            let _ = backend.close().await;
            Ok((target.config.name.clone(), recorded?))
        })
        .await
    }

    /// `baseline --from TOOL`: records as applied, without running
    /// anything, every version that tool's history table (`table`, else
    /// the tool's default name) says it applied, mapped through the
    /// `imported.toml` that `import` wrote beside the migrations. Refuses
    /// (nothing recorded) on a dirty or failed record, a version with no
    /// file, or a version the map does not know. The tool's table is only
    /// read. Returns the versions recorded, per database.
    pub async fn baseline_from(
        &self,
        tool: Tool,
        table: Option<&str>,
    ) -> Result<Vec<(String, Vec<u64>)>> {
        let table = table.unwrap_or(tool.default_table());
        validate_history_table(table).map_err(|m| Error::config("--from-table", m))?;
        // Every file-side check before any connection.
        let mut adoptions = Vec::new();
        for target in &self.targets {
            let config = &target.config;
            if config.history_table == table {
                return Err(Error::Config {
                    setting: "history_table".into(),
                    message: format!(
                        "database {}: strata's history table and {tool}'s are both {table}: give \
                         strata its own with history_table = \"strata_migrations\" in \
                         migrate.toml (or --history-table strata_migrations)",
                        config.name
                    ),
                });
            }
            let mapping = crate::import::load_mapping(&config.migrations.join(MAPPING_FILE), tool)?;
            adoptions.push(Adoption {
                tool,
                table,
                sql: history_query(tool, table),
                mapping,
                files: target
                    .catalog
                    .migrations
                    .iter()
                    .map(|m| m.version)
                    .collect(),
            });
        }
        let kept = &self.look_first(Look::Adopt(&adoptions)).await?;
        let how = &format!("baseline from {tool}");
        let adoptions = &adoptions;
        self.change_each(|target| async move {
            let adoption = &adoptions[self.index_of(target)];
            let mut backend = self.again(target, kept).await?;
            let recorded =
                engine::record_as_applied(target, &mut backend, &self.options, how, async |b| {
                    adoption.versions(&target.config.name, b).await
                })
                .await;
            let _ = backend.close().await;
            Ok((target.config.name.clone(), recorded?))
        })
        .await
    }

    /// Looks at every database before any is written, `--jobs` at a
    /// time: each must answer and pass `look` (which only reads). One
    /// refusal anywhere, and nothing is written anywhere. When every
    /// database fits in `--jobs`, their connections are kept for the
    /// change (as `up` keeps them for its run); otherwise each change
    /// connects again, so no more than `--jobs` are ever open.
    async fn look_first(&self, look: Look<'_>) -> Result<Kept> {
        let look = &look;
        let keep = self.targets.len() <= self.jobs();
        let looked = self
            .each(|target| async move {
                let mut backend = self.connect(&target.config).await?;
                let checked = self.check(target, &mut backend, look).await;
                match checked {
                    Ok(()) if keep => Ok(Some(backend)),
                    other => {
                        let _ = backend.close().await;
                        other.map(|()| None)
                    }
                }
            })
            .await;
        let mut kept = Vec::new();
        let mut refused = Vec::new();
        for (t, r) in self.targets.iter().zip(looked) {
            match r {
                Ok(backend) => kept.push(backend),
                Err(e) => refused.push((t.config.name.clone(), Box::new(e))),
            }
        }
        if refused.is_empty() {
            return Ok(Kept(kept.into_iter().map(std::sync::Mutex::new).collect()));
        }
        for backend in kept.into_iter().flatten() {
            let _ = backend.close().await;
        }
        Err(self.refused_everywhere(refused))
    }

    /// The connection the look kept for `target`, or a new one.
    async fn again(&self, target: &Target, kept: &Kept) -> Result<AnyBackend> {
        let slot = kept.0[self.index_of(target)]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match slot {
            Some(backend) => Ok(backend),
            None => self.connect(&target.config).await,
        }
    }

    async fn check(
        &self,
        target: &Target,
        backend: &mut AnyBackend,
        look: &Look<'_>,
    ) -> Result<()> {
        match look {
            Look::Answers => Ok(()),
            Look::History => backend.applied().await.map(drop),
            Look::Empty => empty_history(target, backend).await,
            Look::Adopt(adoptions) => {
                empty_history(target, backend).await?;
                adoptions[self.index_of(target)]
                    .versions(&target.config.name, backend)
                    .await
                    .map(drop)
            }
        }
    }

    /// `change` on every database once the look has passed, `--jobs` at a
    /// time. A database whose change fails (its connection dropped since
    /// the look) does not stop the others; over several databases the
    /// error names each that failed ([`Error::Databases`]).
    pub(super) async fn change_each<'a, T, Fut>(
        &'a self,
        change: impl Fn(&'a Target) -> Fut,
    ) -> Result<Vec<T>>
    where
        Fut: std::future::Future<Output = Result<T>> + Send + 'a,
    {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for (target, result) in self.targets.iter().zip(self.each(change).await) {
            match result {
                Ok(v) => done.push(v),
                Err(e) => failed.push((target.config.name.clone(), Box::new(e))),
            }
        }
        match failed.len() {
            0 => Ok(done),
            _ if self.targets.len() == 1 => Err(*failed.pop().expect("one").1),
            _ => Err(Error::Databases {
                total: self.targets.len(),
                failed,
                not_started: Vec::new(),
                done: Vec::new(),
            }),
        }
    }

    fn index_of(&self, target: &Target) -> usize {
        self.targets
            .iter()
            .position(|t| std::ptr::eq(t, target))
            .expect("a target of this migrator")
    }
}

/// The connections the look kept, by the databases' positions.
struct Kept(Vec<std::sync::Mutex<Option<AnyBackend>>>);

/// What the look before any write checks in each database (it only
/// reads).
enum Look<'a> {
    /// It answers.
    Answers,
    /// Its history can be read.
    History,
    /// Its history is empty: a baseline's first condition.
    Empty,
    /// Empty, and the other tool's history (the adoption at the
    /// database's position) is one strata can adopt.
    Adopt(&'a [Adoption<'a>]),
}

/// A baseline's first condition: nothing recorded yet.
async fn empty_history(target: &Target, backend: &mut AnyBackend) -> Result<()> {
    match backend.applied().await?.len() {
        0 => Ok(()),
        recorded => Err(engine::history_not_empty(&target.config.name, recorded)),
    }
}

/// What `baseline --from` adopts in one database: the other tool's history
/// read through the map `import` wrote.
struct Adoption<'a> {
    tool: Tool,
    table: &'a str,
    sql: String,
    mapping: std::collections::BTreeMap<String, u64>,
    files: Vec<u64>,
}

impl Adoption<'_> {
    /// The versions to record, or why not (a dirty or failed record, a
    /// version with no file or not in the map). Only reads.
    async fn versions(&self, database: &str, backend: &mut AnyBackend) -> Result<Vec<u64>> {
        let rows: Vec<ForeignRow> = backend
            .foreign_rows(&self.sql, self.table)
            .await?
            .into_iter()
            .map(|(version, kind, ok)| ForeignRow { version, kind, ok })
            .collect();
        adopted_versions(self.tool, &rows, &self.mapping, &self.files).map_err(|problems| {
            Error::Refused {
                database: database.to_string(),
                problems,
            }
        })
    }
}
