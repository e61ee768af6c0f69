//! The history record every backend keeps inside its own database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One row of `schema_migrations`: a migration that was applied, or started
/// and not finished (`success == false`, "dirty").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The migration's version.
    pub version: u64,
    /// The description it had when applied.
    pub name: String,
    /// The checksum of the file when applied (SHA-256 hex).
    pub checksum: String,
    /// When it was applied (or started, for a dirty record).
    pub applied_at: DateTime<Utc>,
    /// How long it took.
    pub execution_time_ms: i64,
    /// False while a non-transactional migration runs, and after it failed.
    pub success: bool,
}

impl Record {
    /// True when the record belongs to a migration that did not finish.
    pub fn is_dirty(&self) -> bool {
        !self.success
    }
}
