//! `[[partitions]]` entries as written: read and expanded here, turned
//! into policies by [`crate::partition::policy`].

use serde::Deserialize;

use super::expand;
use crate::error::{Error, Result};

/// A `[[partitions]]` entry as written, its `${VAR}` references expanded.
/// [`crate::partition::policy`] turns it into a policy and says what is
/// wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionSettings {
    /// The configured database the table lives in.
    pub database: String,
    /// `table` or `schema.table`.
    pub table: String,
    /// `interval`.
    pub interval: Option<String>,
    /// `premake`.
    pub premake: Option<i64>,
    /// `retention`, e.g. `"12 months"`.
    pub retention: Option<String>,
    /// `retention_mode`: `drop` or `detach`.
    pub retention_mode: Option<String>,
    /// `retention_schema`.
    pub retention_schema: Option<String>,
    /// `naming`.
    pub naming: Option<String>,
    /// `max_create_per_run`.
    pub max_create_per_run: Option<i64>,
    /// `move_batch_rows`.
    pub move_batch_rows: Option<i64>,
    /// Where the entry came from, for messages:
    /// `migrate.toml: partitions[0] (events)`.
    #[serde(skip)]
    pub origin: String,
}

/// One `[[partitions]]` entry with its `${VAR}` references expanded; an
/// unset variable names the entry.
pub(super) fn partition_settings(
    raw: PartitionSettings,
    index: usize,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PartitionSettings> {
    let place = format!("{origin}: partitions[{index}] ({})", raw.table);
    let get = |v: &str| expand(v, env).map_err(|m| Error::config(&place, m));
    let opt = |v: &Option<String>| v.as_deref().map(get).transpose();
    Ok(PartitionSettings {
        database: get(&raw.database)?,
        table: get(&raw.table)?,
        interval: opt(&raw.interval)?,
        premake: raw.premake,
        retention: opt(&raw.retention)?,
        retention_mode: opt(&raw.retention_mode)?,
        retention_schema: opt(&raw.retention_schema)?,
        naming: opt(&raw.naming)?,
        max_create_per_run: raw.max_create_per_run,
        move_batch_rows: raw.move_batch_rows,
        origin: place.clone(),
    })
}
