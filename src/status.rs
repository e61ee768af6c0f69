//! What `status` shows: every version in the files or the history, with its
//! state. Pure; recorded as JSON (`status --format json`) it is all an
//! offline plan needs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::history::Record;
use crate::kind::Kind;

/// The state of one version, as `status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Recorded and matching its file.
    Applied,
    /// Has a file, not recorded.
    Pending,
    /// Recorded as started and not finished.
    Dirty,
    /// Recorded, but the file's checksum or name changed.
    Drifted,
    /// Recorded, but the file is gone.
    Missing,
}

impl State {
    /// Lowercase name as shown in output.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Dirty => "dirty",
            State::Drifted => "drifted",
            State::Missing => "missing",
        }
    }
}

/// One line of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRow {
    /// The version.
    pub version: u64,
    /// The file's description, or the recorded name when the file is gone.
    pub description: String,
    /// What state it is in.
    pub state: State,
    /// The file name, when there is a file.
    pub file: Option<String>,
    /// The file's checksum, when there is a file.
    pub checksum: Option<String>,
    /// The recorded name, when recorded.
    pub recorded_name: Option<String>,
    /// The recorded checksum, when recorded.
    pub recorded_checksum: Option<String>,
    /// When it was applied, when recorded.
    pub applied_at: Option<DateTime<Utc>>,
    /// How long it took, when recorded.
    pub execution_time_ms: Option<i64>,
    /// Who applied it, when recorded (and known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_by: Option<String>,
}

impl StatusRow {
    /// The history record this row shows, if the version is recorded.
    pub fn record(&self) -> Option<Record> {
        Some(Record {
            version: self.version,
            name: self.recorded_name.clone()?,
            checksum: self.recorded_checksum.clone()?,
            applied_at: self.applied_at?,
            execution_time_ms: self.execution_time_ms.unwrap_or(0),
            success: self.state != State::Dirty,
            applied_by: self.applied_by.clone().unwrap_or_default(),
        })
    }
}

/// The status of one database, as `status --format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseStatus {
    /// The configured database name.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Where the history lives, `schema.table`, for kinds whose session
    /// could send it elsewhere (PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
    /// Every version in the files or the history, in order.
    pub migrations: Vec<StatusRow>,
    /// PostgreSQL: every table's estimated rows and size, by
    /// `schema.name`, so an offline plan's findings carry them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tables: std::collections::BTreeMap<String, crate::finding::TableSize>,
    /// The live schema against the one recorded after the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::drift::DriftState>,
}

/// The status of every selected database: `{"databases": [...]}`, plus
/// what the catalog shows of each partition policy's parent. Recorded as
/// JSON, it is all [`Migrator::plan_offline`](crate::Migrator::plan_offline)
/// needs to plan without a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// In configuration (name) order.
    pub databases: Vec<DatabaseStatus>,
    /// One entry per `[[partitions]]` policy, in configuration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<crate::partition::plan::Observed>,
}

/// The rows of `status`: every version in the files or the history, in order.
pub fn status(catalog: &Catalog, history: &[Record]) -> Vec<StatusRow> {
    let recorded: BTreeMap<u64, &Record> = history.iter().map(|r| (r.version, r)).collect();
    let mut versions: Vec<u64> = catalog.migrations.iter().map(|m| m.version).collect();
    versions.extend(recorded.keys());
    versions.sort_unstable();
    versions.dedup();
    versions
        .into_iter()
        .map(|version| {
            let file = catalog.get(version);
            let rec = recorded.get(&version).copied();
            let state = match (file, rec) {
                (_, Some(r)) if r.is_dirty() => State::Dirty,
                (Some(m), Some(r)) if !m.script.matches(&r.checksum) || m.description != r.name => {
                    State::Drifted
                }
                (Some(_), Some(_)) => State::Applied,
                (Some(_), None) => State::Pending,
                (None, _) => State::Missing,
            };
            StatusRow {
                version,
                description: file
                    .map(|m| m.description.clone())
                    .or_else(|| rec.map(|r| r.name.clone()))
                    .unwrap_or_default(),
                state,
                file: file.map(|m| crate::catalog::display_name(&m.script.file)),
                checksum: file.map(|m| m.script.checksum.clone()),
                recorded_name: rec.map(|r| r.name.clone()),
                recorded_checksum: rec.map(|r| r.checksum.clone()),
                applied_at: rec.map(|r| r.applied_at),
                execution_time_ms: rec.map(|r| r.execution_time_ms),
                applied_by: rec
                    .map(|r| r.applied_by.clone())
                    .filter(|by| !by.is_empty()),
            }
        })
        .collect()
}
