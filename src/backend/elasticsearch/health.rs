//! What a cluster of several nodes needs before strata writes: the health
//! the database requires (`require_health`), checked before anything runs,
//! and the shard copies each write waits for (`wait_for_active_shards`).

use elasticsearch::cat::CatShardsParts;
use elasticsearch::cluster::ClusterHealthParts;
use elasticsearch::params::WaitForStatus;
use serde_json::Value;

use super::ElasticsearchBackend;
use crate::config::cluster::Health;
use crate::error::{Error, Result};

/// How long the health check waits for the required status (a node that
/// just came back needs a moment to start its shards), and how long a
/// write waits for the active shards it asked for.
pub(super) const HEALTH_WAIT: &str = "10s";
pub(super) const SHARDS_WAIT: &str = "30s";

/// At most this many unassigned shards are named in a refusal.
const SHOWN: usize = 10;

impl ElasticsearchBackend {
    /// `wait_for_active_shards` for a write, when the database sets it.
    pub(super) fn active_shards(&self) -> Option<String> {
        self.waits.active_shards.map(|a| a.param())
    }

    /// Refuses, before anything runs, when the cluster's health is below
    /// `require_health` after waiting [`HEALTH_WAIT`] for it, naming the
    /// shards that are not assigned and why.
    pub(super) async fn require_health(&self) -> Result<()> {
        let required = self.waits.require_health;
        let wanted = match required {
            Health::Yellow => WaitForStatus::Yellow,
            Health::Green => WaitForStatus::Green,
        };
        let reply = self
            .conn
            .reply(
                self.conn
                    .client
                    .cluster()
                    .health(ClusterHealthParts::None)
                    .wait_for_status(wanted)
                    .timeout(HEALTH_WAIT)
                    .send()
                    .await,
            )
            .await
            .map_err(|f| self.conn.db_error("reading the cluster health", f))?;
        // A wait that timed out answers 408 with the health as it is.
        let health = if reply.status == 408 {
            reply.body
        } else {
            reply
                .into_result()
                .map_err(|f| self.conn.db_error("reading the cluster health", f))?
        };
        let status = health
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let met = match status {
            "green" => true,
            "yellow" => required == Health::Yellow,
            _ => false,
        };
        if met {
            return Ok(());
        }
        let shards = self
            .conn
            .ok(self
                .conn
                .client
                .cat()
                .shards(CatShardsParts::None)
                .format("json")
                .h(&["index", "shard", "prirep", "state", "unassigned.reason"])
                .send()
                .await)
            .await
            .map_err(|f| self.conn.db_error("reading the unassigned shards", f))?;
        Err(Error::Database {
            database: self.conn.database.clone(),
            message: refusal(status, required, &shards),
        })
    }
}

/// The refusal for a cluster whose health is `status` while `required` is
/// asked for: the unassigned shards that make it so (primaries for red,
/// replicas too when green is required), from `_cat/shards`. Pure.
pub(super) fn refusal(status: &str, required: Health, shards: &Value) -> String {
    let unassigned: Vec<String> = shards
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["state"] == "UNASSIGNED")
        .filter(|s| required == Health::Green || s["prirep"] == "p")
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or("?").to_string();
            let copy = if s["prirep"] == "p" {
                "primary"
            } else {
                "replica"
            };
            let reason = s["unassigned.reason"]
                .as_str()
                .map(|r| format!(", {r}"))
                .unwrap_or_default();
            format!("{}[{}] ({copy}{reason})", text("index"), text("shard"))
        })
        .collect();
    let mut named = unassigned
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if unassigned.len() > SHOWN {
        named.push_str(&format!(" and {} more", unassigned.len() - SHOWN));
    }
    if named.is_empty() {
        named = "none listed (shards may be initializing)".to_string();
    }
    format!(
        "the cluster's health is {status}, and this database requires {} (require_health) \
         before anything runs; unassigned shards: {named}. Nothing was run.",
        required.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refusal_names_the_unassigned_shards_that_matter() {
        let shards = json!([
            {"index": "logs", "shard": "0", "prirep": "p", "state": "UNASSIGNED", "unassigned.reason": "NODE_LEFT"},
            {"index": "logs", "shard": "0", "prirep": "r", "state": "UNASSIGNED", "unassigned.reason": "NODE_LEFT"},
            {"index": "users", "shard": "1", "prirep": "r", "state": "UNASSIGNED", "unassigned.reason": "INDEX_CREATED"},
            {"index": "users", "shard": "0", "prirep": "p", "state": "STARTED", "unassigned.reason": null},
        ]);
        let red = refusal("red", Health::Yellow, &shards);
        assert!(red.contains("health is red"), "{red}");
        assert!(red.contains("requires yellow"), "{red}");
        assert!(red.contains("logs[0] (primary, NODE_LEFT)"), "{red}");
        assert!(
            !red.contains("replica"),
            "red names the primaries only: {red}"
        );
        let yellow = refusal("yellow", Health::Green, &shards);
        assert!(
            yellow.contains("users[1] (replica, INDEX_CREATED)"),
            "{yellow}"
        );
        assert!(yellow.contains("logs[0] (replica, NODE_LEFT)"), "{yellow}");
        assert!(!yellow.contains("users[0]"), "{yellow}");
    }

    #[test]
    fn a_long_list_is_cut() {
        let shards: Vec<Value> = (0..15)
            .map(|i| json!({"index": format!("i{i}"), "shard": "0", "prirep": "p", "state": "UNASSIGNED"}))
            .collect();
        let text = refusal("red", Health::Yellow, &Value::Array(shards));
        assert!(text.contains("i9[0] (primary)"), "{text}");
        assert!(!text.contains("i10[0]"), "{text}");
        assert!(text.contains("and 5 more"), "{text}");
    }
}
