//! What a Qdrant cluster needs of a migration: how a collection is sharded,
//! its custom shard keys, and strict mode (the limits a shared cluster
//! puts on every caller).

use serde::Deserialize;

/// How points are spread over a collection's shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardingMethod {
    /// By a hash of the point id over `shard_number` shards (the default).
    Auto,
    /// By a shard key the writer names; shards are made per key with
    /// `create_shard_key`.
    Custom,
}

/// A custom shard key: a string (`"tenant-a"`) or a number (`42`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(untagged)]
pub enum ShardKey {
    /// A number.
    Number(u64),
    /// A string.
    Keyword(String),
}

impl std::fmt::Display for ShardKey {
    /// As Qdrant writes it in messages: a string quoted, a number bare.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShardKey::Number(n) => write!(f, "{n}"),
            ShardKey::Keyword(k) => write!(f, "\"{k}\""),
        }
    }
}

/// `create_shard_key`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateShardKey {
    /// A collection created with `"sharding_method": "custom"`.
    pub collection: String,
    /// The key.
    pub shard_key: ShardKey,
    /// Shards made for the key (the collection's `shard_number` when absent).
    pub shards_number: Option<u32>,
    /// Copies of each of them (the collection's `replication_factor` when
    /// absent).
    pub replication_factor: Option<u32>,
    /// The peer ids that may hold them (every peer when absent).
    pub placement: Option<Vec<u64>>,
}

/// `delete_shard_key`: the key's shards and every point in them go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteShardKey {
    /// The collection.
    pub collection: String,
    /// The key.
    pub shard_key: ShardKey,
}

/// Strict mode: limits on what callers may ask of a collection. Every
/// field is optional: on create, unset is the server's default; on update,
/// unset is unchanged.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrictMode {
    /// Whether the limits apply.
    pub enabled: Option<bool>,
    /// Largest `limit` of a query.
    pub max_query_limit: Option<u32>,
    /// Largest `timeout` of a request, in seconds.
    pub max_timeout: Option<u32>,
    /// Whether a search may filter on a field without a payload index.
    pub unindexed_filtering_retrieve: Option<bool>,
    /// Whether an update may filter on a field without a payload index.
    pub unindexed_filtering_update: Option<bool>,
    /// Largest HNSW `ef` of a search.
    pub search_max_hnsw_ef: Option<u32>,
    /// Whether exact (full scan) search is allowed.
    pub search_allow_exact: Option<bool>,
    /// Largest quantization oversampling of a search.
    pub search_max_oversampling: Option<f32>,
    /// Most points in one upsert.
    pub upsert_max_batchsize: Option<u64>,
    /// Most searches in one batch.
    pub search_max_batchsize: Option<u64>,
    /// Largest vector storage, in bytes, replicas not counted.
    pub max_collection_vector_size_bytes: Option<u64>,
    /// Reads per minute per replica.
    pub read_rate_limit: Option<u32>,
    /// Writes per minute per replica.
    pub write_rate_limit: Option<u32>,
    /// Largest payload storage, in bytes, replicas not counted.
    pub max_collection_payload_size_bytes: Option<u64>,
    /// Most conditions in one filter.
    pub filter_max_conditions: Option<u64>,
    /// Most values in one condition (e.g. `match any`).
    pub condition_max_size: Option<u64>,
    /// Most points in the collection (estimated).
    pub max_points_count: Option<u64>,
    /// Most payload indexes in the collection.
    pub max_payload_index_count: Option<u64>,
}
