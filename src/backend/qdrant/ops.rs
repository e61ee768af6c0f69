//! What a Qdrant migration file may say: a JSON array of operations, each
//! an object with one key naming the operation. Field names follow Qdrant's
//! REST API (`hnsw_config`, `optimizers_config`, `quantization_config`, …).
//!
//! Parsing is pure and strict (unknown operations, fields and distances are
//! refused) and every error carries the JSON path of the offending value.

use std::collections::BTreeMap;

use serde::Deserialize;

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
        }
    }
}

type Check = Result<(), (String, String)>;

/// Characters Qdrant refuses in collection and vector names: they become
/// directories on disk. Control characters are refused too.
const INVALID_NAME_CHARS: [char; 9] = ['<', '>', ':', '"', '/', '\\', '|', '?', '*'];

fn bad(path: impl Into<String>, message: impl Into<String>) -> Check {
    Err((path.into(), message.into()))
}

/// A name Qdrant accepts for a collection or an alias: 1 to 255 bytes,
/// none of `< > : " / \ | ? *` and no control character.
fn name_ok(field: &str, value: &str) -> Check {
    name_with_limit(field, value, "name", 255)
}

/// A vector name: at most 200 bytes, the same characters refused.
fn vector_name_ok(path: &str, value: &str) -> Check {
    name_with_limit(path, value, "vector name", 200)
}

fn name_with_limit(path: &str, value: &str, what: &str, max: usize) -> Check {
    let path = if path.starts_with('.') {
        path.to_string()
    } else {
        format!(".{path}")
    };
    if value.is_empty() && what == "name" {
        return bad(path, "a name cannot be empty");
    }
    if value.len() > max {
        return bad(
            path,
            format!(
                "{value:?} is {} bytes long; a {what} may be at most {max}",
                value.len()
            ),
        );
    }
    if let Some(c) = value
        .chars()
        .find(|c| INVALID_NAME_CHARS.contains(c) || c.is_control())
    {
        return bad(
            path,
            format!(
                "{value:?}: a {what} cannot contain {:?} (Qdrant refuses < > : \" / \\ | ? * and control characters)",
                c
            ),
        );
    }
    Ok(())
}

/// A payload field: not empty.
fn field_ok(value: &str) -> Check {
    if value.is_empty() {
        return bad(".field", "a payload field name cannot be empty");
    }
    Ok(())
}

fn at_least<T: PartialOrd + std::fmt::Display + Copy>(path: &str, v: Option<T>, min: T) -> Check {
    match v {
        Some(n) if n < min => bad(path, format!("{n} is below Qdrant's minimum of {min}")),
        _ => Ok(()),
    }
}

fn within(path: &str, v: Option<f64>, min: f64, max: f64) -> Check {
    match v {
        Some(n) if !(min..=max).contains(&n) => bad(
            path,
            format!("{n} is outside Qdrant's range {min} to {max}"),
        ),
        _ => Ok(()),
    }
}

fn hnsw_ok(path: &str, h: &Hnsw) -> Check {
    at_least(&format!("{path}.ef_construct"), h.ef_construct, 4)
}

fn optimizers_ok(path: &str, o: &Optimizers) -> Check {
    within(
        &format!("{path}.deleted_threshold"),
        o.deleted_threshold,
        0.0,
        1.0,
    )?;
    at_least(
        &format!("{path}.vacuum_min_vector_number"),
        o.vacuum_min_vector_number,
        100,
    )?;
    at_least(&format!("{path}.max_segment_size"), o.max_segment_size, 1)
}

fn quantization_ok(path: &str, q: &Quantization) -> Check {
    match q {
        Quantization::Scalar(s) => within(
            &format!("{path}.scalar.quantile"),
            s.quantile.map(f64::from),
            0.5,
            1.0,
        ),
        Quantization::Product(_) | Quantization::Binary(_) => Ok(()),
    }
}

fn change_ok(path: &str, q: &QuantizationChange) -> Check {
    match q {
        QuantizationChange::Set(q) => quantization_ok(path, q),
        QuantizationChange::Disabled => Ok(()),
    }
}

fn vector_ok(path: &str, v: &VectorParams) -> Check {
    if v.size == 0 {
        return bad(
            format!("{path}.size"),
            "a vector needs at least one dimension",
        );
    }
    if v.size > 65_536 {
        return bad(format!("{path}.size"), "is above Qdrant's limit of 65536");
    }
    if let Some(h) = &v.hnsw_config {
        hnsw_ok(&format!("{path}.hnsw_config"), h)?;
    }
    if let Some(q) = &v.quantization_config {
        quantization_ok(&format!("{path}.quantization_config"), q)?;
    }
    Ok(())
}

fn vector_update_ok(path: &str, v: &VectorUpdate) -> Check {
    if let Some(HnswChange::Set(h)) = &v.hnsw_config {
        hnsw_ok(&format!("{path}.hnsw_config"), h)?;
    }
    if let Some(q) = &v.quantization_config {
        change_ok(&format!("{path}.quantization_config"), q)?;
    }
    Ok(())
}

/// Everything Qdrant's request validation refuses, checked without the
/// server: names, ranges, a dense and a sparse vector of one name. An
/// `update_collection` is checked as a whole, since the server applies it
/// section by section and stops at the first refusal.
fn check(op: &Operation) -> Check {
    match op {
        Operation::CreateCollection(o) => {
            name_ok("collection", &o.collection)?;
            if o.vectors.is_some() && o.named_vectors.is_some() {
                return bad(
                    ".named_vectors",
                    "give either `vectors` (one unnamed vector) or `named_vectors`, not both",
                );
            }
            if let Some(v) = &o.vectors {
                vector_ok(".vectors", v)?;
            }
            for (name, v) in o.named_vectors.iter().flatten() {
                vector_name_ok(&format!(".named_vectors.{name}"), name)?;
                vector_ok(&format!(".named_vectors.{name}"), v)?;
            }
            for name in o.sparse_vectors.iter().flat_map(|m| m.keys()) {
                if name.is_empty() {
                    return bad(".sparse_vectors", "a sparse vector needs a name");
                }
                vector_name_ok(&format!(".sparse_vectors.{name}"), name)?;
                if o.named_vectors
                    .as_ref()
                    .is_some_and(|m| m.contains_key(name))
                {
                    return bad(
                        format!(".sparse_vectors.{name}"),
                        format!(
                            "{name:?} is also a dense vector: a dense and a sparse vector cannot share a name"
                        ),
                    );
                }
            }
            if let Some(h) = &o.hnsw_config {
                hnsw_ok(".hnsw_config", h)?;
            }
            if let Some(opt) = &o.optimizers_config {
                optimizers_ok(".optimizers_config", opt)?;
            }
            if let Some(q) = &o.quantization_config {
                quantization_ok(".quantization_config", q)?;
            }
            at_least(".shard_number", o.shard_number, 1)?;
            at_least(".replication_factor", o.replication_factor, 1)?;
            at_least(".write_consistency_factor", o.write_consistency_factor, 1)
        }
        Operation::UpdateCollection(o) => {
            name_ok("collection", &o.collection)?;
            if o.vectors.is_some() && o.named_vectors.is_some() {
                return bad(
                    ".named_vectors",
                    "give either `vectors` or `named_vectors`, not both",
                );
            }
            if let Some(v) = &o.vectors {
                if matches!(v.hnsw_config, Some(HnswChange::Collection)) {
                    return bad(
                        ".vectors.hnsw_config",
                        "\"collection\" is for named vectors: the unnamed vector's HNSW parameters are the collection's",
                    );
                }
                vector_update_ok(".vectors", v)?;
            }
            for (name, v) in o.named_vectors.iter().flatten() {
                vector_name_ok(&format!(".named_vectors.{name}"), name)?;
                vector_update_ok(&format!(".named_vectors.{name}"), v)?;
            }
            if let Some(h) = &o.hnsw_config {
                hnsw_ok(".hnsw_config", h)?;
            }
            if let Some(opt) = &o.optimizers_config {
                optimizers_ok(".optimizers_config", opt)?;
            }
            if let Some(q) = &o.quantization_config {
                change_ok(".quantization_config", q)?;
            }
            if let Some(p) = &o.params {
                at_least(".params.replication_factor", p.replication_factor, 1)?;
                at_least(
                    ".params.write_consistency_factor",
                    p.write_consistency_factor,
                    1,
                )?;
            }
            Ok(())
        }
        Operation::DeleteCollection(o) => name_ok("collection", &o.collection),
        Operation::CreatePayloadIndex(o) => {
            name_ok("collection", &o.collection)?;
            field_ok(&o.field)
        }
        Operation::DeletePayloadIndex(o) => {
            name_ok("collection", &o.collection)?;
            field_ok(&o.field)
        }
        Operation::CreateAlias(o) => {
            name_ok("alias", &o.alias)?;
            name_ok("collection", &o.collection)
        }
        Operation::DeleteAlias(o) => name_ok("alias", &o.alias),
        Operation::SwitchAlias(o) => {
            name_ok("alias", &o.alias)?;
            name_ok("to", &o.to)
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

    fn check(&self) -> Check {
        check(self)
    }

    fn describe(&self) -> String {
        Operation::describe(self)
    }
}

#[cfg(test)]
mod tests;
