//! What an Elasticsearch database waits for before it writes: the
//! `wait_for_active_shards` and `require_health` settings.

use serde::Deserialize;

/// How many copies of each shard must be active before a write proceeds
/// (Elasticsearch's `wait_for_active_shards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveShards {
    /// Every copy: the primary and all its replicas.
    All,
    /// This many copies (1 = the primary alone).
    Count(u32),
}

impl ActiveShards {
    /// The request parameter's value.
    pub fn param(&self) -> String {
        match self {
            ActiveShards::All => "all".to_string(),
            ActiveShards::Count(n) => n.to_string(),
        }
    }
}

/// The cluster health a run requires before anything runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Every primary shard assigned (replicas may be missing).
    #[default]
    Yellow,
    /// Every shard, replicas too, assigned.
    Green,
}

impl Health {
    /// The name Elasticsearch gives this status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Yellow => "yellow",
            Health::Green => "green",
        }
    }
}

/// `wait_for_active_shards` and `require_health` of one Elasticsearch
/// database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterWaits {
    /// `None`: the server's default (the primary alone) and the index's
    /// own `index.write.wait_for_active_shards`.
    pub active_shards: Option<ActiveShards>,
    /// Checked before anything runs.
    pub require_health: Health,
}

/// `wait_for_active_shards` as written: `"all"`, `"2"` or `2`.
#[derive(Deserialize, schemars::JsonSchema, Clone, Debug)]
#[serde(untagged)]
pub(super) enum RawActiveShards {
    Number(i64),
    Text(String),
}

/// Reads `wait_for_active_shards`. Pure.
pub(super) fn active_shards(raw: &RawActiveShards) -> Result<ActiveShards, String> {
    let bad = |shown: String| {
        format!(
            "{shown} is not a shard count: give \"all\" or a number of copies from 1 up \
             (1 = the primary alone)"
        )
    };
    let n = match raw {
        RawActiveShards::Number(n) => *n,
        RawActiveShards::Text(t) if t.trim().eq_ignore_ascii_case("all") => {
            return Ok(ActiveShards::All);
        }
        RawActiveShards::Text(t) => t.trim().parse().map_err(|_| bad(format!("{t:?}")))?,
    };
    u32::try_from(n)
        .ok()
        .filter(|n| *n >= 1)
        .map(ActiveShards::Count)
        .ok_or_else(|| bad(n.to_string()))
}

/// Reads `require_health`. Pure.
pub(super) fn health(text: &str) -> Result<Health, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yellow" => Ok(Health::Yellow),
        "green" => Ok(Health::Green),
        _ => Err(format!(
            "{text:?}: expected \"yellow\" (every primary shard assigned) or \"green\" \
             (every replica too)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_counts_are_all_or_a_positive_number() {
        let text = |t: &str| active_shards(&RawActiveShards::Text(t.into()));
        assert_eq!(text("all"), Ok(ActiveShards::All));
        assert_eq!(text(" ALL "), Ok(ActiveShards::All));
        assert_eq!(text("2"), Ok(ActiveShards::Count(2)));
        assert_eq!(
            active_shards(&RawActiveShards::Number(1)),
            Ok(ActiveShards::Count(1))
        );
        for bad in ["0", "-1", "most", ""] {
            assert!(
                text(bad).unwrap_err().contains("not a shard count"),
                "{bad}"
            );
        }
        assert!(active_shards(&RawActiveShards::Number(0)).is_err());
        assert_eq!(ActiveShards::All.param(), "all");
        assert_eq!(ActiveShards::Count(3).param(), "3");
    }

    #[test]
    fn health_is_yellow_or_green() {
        assert_eq!(health("green"), Ok(Health::Green));
        assert_eq!(health("Yellow"), Ok(Health::Yellow));
        assert!(health("red").unwrap_err().contains("expected"));
        assert!(Health::Green > Health::Yellow);
    }
}
