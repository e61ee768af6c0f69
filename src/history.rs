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
    /// Who applied it: by default this process's host name and id (so
    /// replicas can be told apart), or the name a service gave with
    /// [`Migrator::with_applied_by`](crate::Migrator::with_applied_by).
    /// Empty in records written before strata kept it.
    #[serde(default)]
    pub applied_by: String,
}

/// The default [`Record::applied_by`]: `host pid N`.
pub fn this_process() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{host} pid {}", std::process::id())
}

impl Record {
    /// True when the record belongs to a migration that did not finish.
    pub fn is_dirty(&self) -> bool {
        !self.success
    }
}

impl Record {
    /// The record as the document kinds store it (an Elasticsearch
    /// document, a Qdrant payload): one field per column.
    pub fn to_document(&self) -> serde_json::Value {
        serde_json::json!({
            "version": self.version,
            "name": self.name,
            "checksum": self.checksum,
            "applied_at": self.applied_at.to_rfc3339(),
            "execution_time_ms": self.execution_time_ms,
            "success": self.success,
            "applied_by": self.applied_by,
        })
    }

    /// Reads [`to_document`](Self::to_document) back; `None` when a field
    /// is missing or of the wrong type. Numbers stored as floats (Qdrant
    /// payloads may hold them so) are taken as integers.
    pub fn from_document(doc: &serde_json::Value) -> Option<Record> {
        let int = |k: &str| {
            let v = doc.get(k)?;
            v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
        };
        Some(Record {
            version: u64::try_from(int("version")?).ok()?,
            name: doc.get("name")?.as_str()?.to_string(),
            checksum: doc.get("checksum")?.as_str()?.to_string(),
            applied_at: DateTime::parse_from_rfc3339(doc.get("applied_at")?.as_str()?)
                .ok()?
                .with_timezone(&Utc),
            execution_time_ms: int("execution_time_ms")?,
            success: doc.get("success")?.as_bool()?,
            applied_by: doc
                .get("applied_by")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip() {
        let r = Record {
            version: 7,
            name: "add users".into(),
            checksum: "ab".repeat(32),
            applied_at: DateTime::parse_from_rfc3339("2026-11-30T09:00:00.5Z")
                .unwrap()
                .with_timezone(&Utc),
            execution_time_ms: 12,
            success: false,
            applied_by: "web-1 pid 7".into(),
        };
        assert_eq!(Record::from_document(&r.to_document()), Some(r.clone()));
        let mut doc = r.to_document();
        doc["execution_time_ms"] = serde_json::json!(12.0);
        assert_eq!(Record::from_document(&doc), Some(r));
        doc["version"] = serde_json::json!(-1);
        assert_eq!(Record::from_document(&doc), None);
    }
}
