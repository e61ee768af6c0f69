//! What a Qdrant migration file may say: a JSON array of operations, each
//! an object with one key naming the operation. Field names follow Qdrant's
//! REST API (`hnsw_config`, `optimizers_config`, `quantization_config`, …).
//!
//! Parsing is pure and strict (unknown operations, fields and distances are
//! refused) and every error carries the JSON path of the offending value.

use std::collections::BTreeMap;

use serde::Deserialize;

mod cluster;
mod rules;

pub use cluster::{CreateShardKey, DeleteShardKey, ShardKey, ShardingMethod, StrictMode};

use crate::operations;
pub use crate::operations::OpError;

/// Vector distance functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Distance {
    /// Cosine similarity.
    Cosine,
    /// Euclidean distance.
    Euclid,
    /// Dot product.
    Dot,
    /// Manhattan distance.
    Manhattan,
}

/// How vector values are stored (Qdrant 1.9+: `uint8` and `float16`
/// halve or quarter the memory of the default `float32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    /// 32-bit floats (the default).
    Float32,
    /// Bytes, for embeddings made as bytes.
    Uint8,
    /// 16-bit floats.
    Float16,
}

/// How the vectors of one multivector point are compared (late
/// interaction, e.g. ColBERT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparator {
    /// Sum over the query's vectors of the best match among the point's.
    MaxSim,
}

/// A multivector setting: each point holds several vectors of the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiVector {
    /// The comparator (Qdrant has one: `max_sim`).
    pub comparator: Comparator,
}

/// HNSW index parameters (each optional: unset means the server's default
/// on create and "unchanged" on update).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hnsw {
    /// Edges per node.
    pub m: Option<u64>,
    /// Neighbours considered while building.
    pub ef_construct: Option<u64>,
    /// Below this many kilobytes of vectors, search is a full scan.
    pub full_scan_threshold: Option<u64>,
    /// Threads used to build the index (0 = automatic).
    pub max_indexing_threads: Option<u64>,
    /// Keep the index on disk.
    pub on_disk: Option<bool>,
    /// Edges per node of the payload-aware graph.
    pub payload_m: Option<u64>,
}

/// Optimizer parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Optimizers {
    /// Fraction of deleted vectors that triggers a vacuum.
    pub deleted_threshold: Option<f64>,
    /// Minimal vectors in a segment before a vacuum.
    pub vacuum_min_vector_number: Option<u64>,
    /// Target number of segments.
    pub default_segment_number: Option<u64>,
    /// Maximal segment size in kilobytes.
    pub max_segment_size: Option<u64>,
    /// Segments above this size (kB) are memory-mapped.
    pub memmap_threshold: Option<u64>,
    /// Segments above this size (kB) get a vector index.
    pub indexing_threshold: Option<u64>,
    /// Interval between forced flushes.
    pub flush_interval_sec: Option<u64>,
}

/// Quantization, as in Qdrant's REST API: `{"scalar": {"type": "int8"}}`,
/// `{"product": {"compression": "x16"}}` or `{"binary": {}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Quantization {
    /// Scalar (int8) quantization.
    Scalar(Scalar),
    /// Product quantization.
    Product(Product),
    /// Binary quantization.
    Binary(Binary),
}

/// Scalar quantization parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scalar {
    /// Only `int8` exists.
    #[serde(rename = "type")]
    pub kind: ScalarType,
    /// Quantile used to clip outliers (0.5 to 1.0).
    pub quantile: Option<f32>,
    /// Keep quantized vectors in RAM.
    pub always_ram: Option<bool>,
}

/// The scalar quantization type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalarType {
    /// 8-bit integers.
    Int8,
}

/// Product quantization parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Compression ratio.
    pub compression: Compression,
    /// Keep quantized vectors in RAM.
    pub always_ram: Option<bool>,
}

/// Product quantization compression ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// 4×.
    X4,
    /// 8×.
    X8,
    /// 16×.
    X16,
    /// 32×.
    X32,
    /// 64×.
    X64,
}

/// Binary quantization parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binary {
    /// Keep quantized vectors in RAM.
    pub always_ram: Option<bool>,
}

/// A change of quantization in `update_collection`: new settings, or
/// `"disabled"` (Qdrant's `"Disabled"` too), which removes quantization —
/// the rollback of a file that added it.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantizationChange {
    /// Quantize with these settings.
    Set(Quantization),
    /// Remove quantization.
    Disabled,
}

impl<'de> Deserialize<'de> for QuantizationChange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match &value {
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("disabled") => {
                Ok(QuantizationChange::Disabled)
            }
            serde_json::Value::Object(_) => serde_json::from_value(value)
                .map(QuantizationChange::Set)
                .map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "expected {\"scalar\": …}, {\"product\": …}, {\"binary\": …} or \"disabled\"",
            )),
        }
    }
}

/// A named vector's HNSW change in `update_collection`: new parameters,
/// or `"collection"`, which sets them to the collection's own — the
/// rollback of a file that gave the vector parameters of its own.
#[derive(Debug, Clone, PartialEq)]
pub enum HnswChange {
    /// These parameters.
    Set(Hnsw),
    /// The collection's parameters, as they are when the step runs.
    Collection,
}

impl<'de> Deserialize<'de> for HnswChange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match &value {
            serde_json::Value::String(s) if s == "collection" => Ok(HnswChange::Collection),
            serde_json::Value::Object(_) => serde_json::from_value(value)
                .map(HnswChange::Set)
                .map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "expected HNSW parameters ({\"m\": …}) or \"collection\"",
            )),
        }
    }
}

/// A dense vector's parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorParams {
    /// Dimensions; fixed for the collection's life.
    pub size: u64,
    /// Distance; fixed for the collection's life.
    pub distance: Distance,
    /// Keep vectors on disk.
    pub on_disk: Option<bool>,
    /// HNSW parameters for this vector.
    pub hnsw_config: Option<Hnsw>,
    /// Quantization for this vector.
    pub quantization_config: Option<Quantization>,
    /// How values are stored; fixed for the collection's life.
    pub datatype: Option<Datatype>,
    /// Several vectors per point; fixed for the collection's life.
    pub multivector_config: Option<MultiVector>,
}

impl VectorParams {
    /// `128 Cosine`, `128 Dot uint8 multivector`: what a plan shows.
    fn describe(&self) -> String {
        let mut out = format!("{} {:?}", self.size, self.distance);
        if let Some(d) = self.datatype {
            out.push_str(&format!(" {}", format!("{d:?}").to_ascii_lowercase()));
        }
        if self.multivector_config.is_some() {
            out.push_str(" multivector");
        }
        out
    }
}

/// Sparse vector weighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modifier {
    /// Raw weights.
    None,
    /// Inverse document frequency.
    Idf,
}

/// A sparse vector's parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseVector {
    /// Weighting of the values.
    pub modifier: Option<Modifier>,
    /// Keep its index on disk.
    pub on_disk: Option<bool>,
    /// Below this many matching points a search scans instead of using
    /// the index.
    pub full_scan_threshold: Option<u64>,
    /// How the index stores values (`float32`, `float16`, `uint8`).
    pub datatype: Option<Datatype>,
}

/// `create_collection`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    /// The new collection.
    pub collection: String,
    /// One unnamed dense vector.
    pub vectors: Option<VectorParams>,
    /// Named dense vectors (instead of `vectors`).
    pub named_vectors: Option<BTreeMap<String, VectorParams>>,
    /// Named sparse vectors.
    pub sparse_vectors: Option<BTreeMap<String, SparseVector>>,
    /// HNSW parameters of the collection.
    pub hnsw_config: Option<Hnsw>,
    /// Optimizer parameters.
    pub optimizers_config: Option<Optimizers>,
    /// Quantization of the collection.
    pub quantization_config: Option<Quantization>,
    /// Keep payloads on disk.
    pub on_disk_payload: Option<bool>,
    /// Shards (clusters).
    pub shard_number: Option<u32>,
    /// Copies of each shard (clusters).
    pub replication_factor: Option<u32>,
    /// Replicas that must acknowledge a write (clusters).
    pub write_consistency_factor: Option<u32>,
    /// `auto` (the default) or `custom`, for shards made per shard key.
    pub sharding_method: Option<ShardingMethod>,
    /// Limits on what callers may ask of the collection.
    pub strict_mode_config: Option<StrictMode>,
}

/// A dense vector's changeable parameters. `size` and `distance` may be
/// given only to state what they are: Qdrant cannot change them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorUpdate {
    /// Must equal the live size.
    pub size: Option<u64>,
    /// Must equal the live distance.
    pub distance: Option<Distance>,
    /// Keep vectors on disk.
    pub on_disk: Option<bool>,
    /// HNSW parameters for this vector, or `"collection"`.
    pub hnsw_config: Option<HnswChange>,
    /// Quantization for this vector, or `"disabled"`.
    pub quantization_config: Option<QuantizationChange>,
}

/// Collection parameters changeable in place.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsUpdate {
    /// Copies of each shard.
    pub replication_factor: Option<u32>,
    /// Replicas that must acknowledge a write.
    pub write_consistency_factor: Option<u32>,
    /// Keep payloads on disk.
    pub on_disk_payload: Option<bool>,
}

/// `update_collection`: what Qdrant lets you change in place.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCollection {
    /// The collection.
    pub collection: String,
    /// The unnamed dense vector.
    pub vectors: Option<VectorUpdate>,
    /// Named dense vectors.
    pub named_vectors: Option<BTreeMap<String, VectorUpdate>>,
    /// HNSW parameters of the collection.
    pub hnsw_config: Option<Hnsw>,
    /// Optimizer parameters.
    pub optimizers_config: Option<Optimizers>,
    /// Quantization of the collection, or `"disabled"`.
    pub quantization_config: Option<QuantizationChange>,
    /// Collection parameters.
    pub params: Option<ParamsUpdate>,
    /// Named sparse vectors' weighting and index settings.
    pub sparse_vectors: Option<BTreeMap<String, SparseVector>>,
    /// Strict mode settings to change (the others are kept).
    pub strict_mode_config: Option<StrictMode>,
}

/// Payload index types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldSchema {
    /// Exact strings.
    Keyword,
    /// Integers.
    Integer,
    /// Floats.
    Float,
    /// Booleans.
    Bool,
    /// Geo points.
    Geo,
    /// RFC 3339 date-times.
    Datetime,
    /// Full-text.
    Text,
    /// UUIDs.
    Uuid,
}

/// `create_payload_index`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayloadIndex {
    /// The collection.
    pub collection: String,
    /// The payload field.
    pub field: String,
    /// Its index type.
    pub schema: FieldSchema,
}

/// `delete_payload_index`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletePayloadIndex {
    /// The collection.
    pub collection: String,
    /// The payload field.
    pub field: String,
}

/// `delete_collection`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionOnly {
    /// The collection.
    pub collection: String,
}

/// `create_alias`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAlias {
    /// The alias.
    pub alias: String,
    /// The collection it names.
    pub collection: String,
}

/// `delete_alias`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAlias {
    /// The alias.
    pub alias: String,
}

/// `switch_alias`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchAlias {
    /// The alias.
    pub alias: String,
    /// The collection it names afterwards.
    pub to: String,
}

/// One operation of a migration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Creates a collection.
    CreateCollection(Box<CreateCollection>),
    /// Changes what Qdrant lets change in place.
    UpdateCollection(Box<UpdateCollection>),
    /// Deletes a collection.
    DeleteCollection(CollectionOnly),
    /// Indexes a payload field.
    CreatePayloadIndex(CreatePayloadIndex),
    /// Drops a payload field's index.
    DeletePayloadIndex(DeletePayloadIndex),
    /// Creates an alias.
    CreateAlias(CreateAlias),
    /// Deletes an alias.
    DeleteAlias(DeleteAlias),
    /// Points an alias at another collection, atomically.
    SwitchAlias(SwitchAlias),
    /// Makes the shards of a custom shard key.
    CreateShardKey(CreateShardKey),
    /// Drops a custom shard key with its shards and their points.
    DeleteShardKey(DeleteShardKey),
}

impl Operation {
    /// The operation's name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::CreateCollection(_) => "create_collection",
            Operation::UpdateCollection(_) => "update_collection",
            Operation::DeleteCollection(_) => "delete_collection",
            Operation::CreatePayloadIndex(_) => "create_payload_index",
            Operation::DeletePayloadIndex(_) => "delete_payload_index",
            Operation::CreateAlias(_) => "create_alias",
            Operation::DeleteAlias(_) => "delete_alias",
            Operation::SwitchAlias(_) => "switch_alias",
            Operation::CreateShardKey(_) => "create_shard_key",
            Operation::DeleteShardKey(_) => "delete_shard_key",
        }
    }

    /// One line saying what the operation does, for plans.
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateCollection(o) => {
                let mut vectors: Vec<String> = Vec::new();
                if let Some(v) = &o.vectors {
                    vectors.push(v.describe());
                }
                for (name, v) in o.named_vectors.iter().flatten() {
                    vectors.push(format!("{name}: {}", v.describe()));
                }
                for name in o.sparse_vectors.iter().flat_map(|m| m.keys()) {
                    vectors.push(format!("{name}: sparse"));
                }
                format!(
                    "create_collection {} ({})",
                    o.collection,
                    vectors.join(", ")
                )
            }
            Operation::UpdateCollection(o) => {
                let parts: Vec<&str> = [
                    ("vectors", o.vectors.is_some() || o.named_vectors.is_some()),
                    ("hnsw_config", o.hnsw_config.is_some()),
                    ("optimizers_config", o.optimizers_config.is_some()),
                    ("quantization_config", o.quantization_config.is_some()),
                    ("params", o.params.is_some()),
                    ("sparse_vectors", o.sparse_vectors.is_some()),
                    ("strict_mode_config", o.strict_mode_config.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, set)| set.then_some(name))
                .collect();
                format!("update_collection {} ({})", o.collection, parts.join(", "))
            }
            Operation::DeleteCollection(o) => format!("delete_collection {}", o.collection),
            Operation::CreatePayloadIndex(o) => format!(
                "create_payload_index {}.{} ({:?})",
                o.collection, o.field, o.schema
            )
            .to_lowercase(),
            Operation::DeletePayloadIndex(o) => {
                format!("delete_payload_index {}.{}", o.collection, o.field)
            }
            Operation::CreateAlias(o) => format!("create_alias {} -> {}", o.alias, o.collection),
            Operation::DeleteAlias(o) => format!("delete_alias {}", o.alias),
            Operation::SwitchAlias(o) => format!("switch_alias {} -> {}", o.alias, o.to),
            Operation::CreateShardKey(o) => {
                format!("create_shard_key {} {}", o.collection, o.shard_key)
            }
            Operation::DeleteShardKey(o) => {
                format!("delete_shard_key {} {}", o.collection, o.shard_key)
            }
        }
    }
}

/// Parses and checks a whole file. Pure: nothing here knows the server.
pub fn parse(content: &str) -> Result<Vec<Operation>, OpError> {
    operations::parse(content)
}

impl operations::Operation for Operation {
    fn name(&self) -> &'static str {
        Operation::name(self)
    }

    fn check(&self) -> Result<(), (String, String)> {
        rules::check(self)
    }

    fn describe(&self) -> String {
        Operation::describe(self)
    }
}

#[cfg(test)]
mod tests;
