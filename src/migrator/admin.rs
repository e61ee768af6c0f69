//! The history's upkeep, one database after another: `repair`, `unlock`,
//! `baseline` and `baseline --from` another tool. Rare, human-driven
//! commands; kept apart from the run's three phases.

use super::Migrator;
use crate::backend::Backend;
use crate::config::validate_history_table;
use crate::engine::{self, RepairChange};
use crate::error::{Error, Result};
use crate::import::{ForeignRow, MAPPING_FILE, Tool, adopted_versions, history_query};

impl Migrator {
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
        let mut out = Vec::new();
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
            let sql = history_query(tool, table);
            let files: Vec<u64> = target
                .catalog
                .migrations
                .iter()
                .map(|m| m.version)
                .collect();
            let mut backend = self.connect(config).await?;
            let how = format!("baseline from {tool}");
            let recorded = engine::record_as_applied(
                target,
                &mut backend,
                &self.options,
                &how,
                async |backend| {
                    let rows: Vec<ForeignRow> = backend
                        .foreign_rows(&sql, table)
                        .await?
                        .into_iter()
                        .map(|(version, kind, ok)| ForeignRow { version, kind, ok })
                        .collect();
                    adopted_versions(tool, &rows, &mapping, &files).map_err(|problems| {
                        Error::Refused {
                            database: config.name.clone(),
                            problems,
                        }
                    })
                },
            )
            .await;
            let _ = backend.close().await;
            out.push((config.name.clone(), recorded?));
        }
        Ok(out)
    }
}
