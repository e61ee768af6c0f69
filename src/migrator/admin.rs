//! The history's upkeep: `repair`, `unlock`, `baseline` and `baseline
//! --from` another tool. Rare, human-driven commands, kept apart from the
//! run's three phases but with the same rule: every database is looked at
//! before any is written, one after another.

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
        self.look_first(async |_, backend| backend.applied().await.map(drop))
            .await?;
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
    /// whose owner still renews it is refused unless `force`; every
    /// database must answer before any lock is removed. Says what it did,
    /// per database.
    pub async fn unlock(&self, force: bool) -> Result<Vec<String>> {
        self.look_first(async |_, _| Ok(())).await?;
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
        self.look_first(empty_history).await?;
        let mut out = Vec::new();
        for target in &self.targets {
            let mut backend = self.connect(&target.config).await?;
            let recorded = engine::baseline(target, &mut backend, version, &self.options).await;
            let _ = backend.close().await;
            out.push((target.config.name.clone(), recorded?));
        }
        Ok(out)
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
        self.look_first(async |target, backend| {
            empty_history(target, backend).await?;
            let i = self.index_of(target);
            adoptions[i]
                .versions(&target.config.name, backend)
                .await
                .map(drop)
        })
        .await?;
        let how = format!("baseline from {tool}");
        let mut out = Vec::new();
        for (target, adoption) in self.targets.iter().zip(&adoptions) {
            let mut backend = self.connect(&target.config).await?;
            let recorded =
                engine::record_as_applied(target, &mut backend, &self.options, &how, async |b| {
                    adoption.versions(&target.config.name, b).await
                })
                .await;
            let _ = backend.close().await;
            out.push((target.config.name.clone(), recorded?));
        }
        Ok(out)
    }

    /// Looks at every database before any is written: each must answer
    /// and `check` (which only reads) must pass. One refusal anywhere, and
    /// nothing is written anywhere.
    async fn look_first(
        &self,
        check: impl AsyncFn(&Target, &mut AnyBackend) -> Result<()>,
    ) -> Result<()> {
        let mut refused = Vec::new();
        for target in &self.targets {
            let looked = async {
                let mut backend = self.connect(&target.config).await?;
                let checked = check(target, &mut backend).await;
                let _ = backend.close().await;
                checked
            }
            .await;
            if let Err(e) = looked {
                refused.push((target.config.name.clone(), Box::new(e)));
            }
        }
        match refused.is_empty() {
            true => Ok(()),
            false => Err(self.refused_everywhere(refused)),
        }
    }

    fn index_of(&self, target: &Target) -> usize {
        self.targets
            .iter()
            .position(|t| std::ptr::eq(t, target))
            .expect("a target of this migrator")
    }
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
