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
    /// HNSW parameters for this vector.
    pub hnsw_config: Option<Hnsw>,
    /// Quantization for this vector.
    pub quantization_config: Option<Quantization>,
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
    /// Quantization of the collection.
    pub quantization_config: Option<Quantization>,
    /// Collection parameters.
    pub params: Option<ParamsUpdate>,
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
                    vectors.push(format!("{} {:?}", v.size, v.distance));
                }
                for (name, v) in o.named_vectors.iter().flatten() {
                    vectors.push(format!("{name}: {} {:?}", v.size, v.distance));
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

/// Collection, alias and field names: non-empty, no path separators.
fn name_ok(field: &str, value: &str) -> Check {
    if value.is_empty() || value.len() > 255 || value.contains(['/', '\\', '\0']) {
        return Err((
            format!(".{field}"),
            format!("{value:?} is not a valid name (1 to 255 characters, no '/' or '\\')"),
        ));
    }
    Ok(())
}

fn vector_ok(path: &str, v: &VectorParams) -> Check {
    if v.size == 0 {
        return Err((
            format!("{path}.size"),
            "a vector needs at least one dimension".into(),
        ));
    }
    if v.size > 65_536 {
        return Err((
            format!("{path}.size"),
            "is above Qdrant's limit of 65536".into(),
        ));
    }
    Ok(())
}

fn check(op: &Operation) -> Check {
    match op {
        Operation::CreateCollection(o) => {
            name_ok("collection", &o.collection)?;
            if o.vectors.is_some() && o.named_vectors.is_some() {
                return Err((
                    ".named_vectors".into(),
                    "give either `vectors` (one unnamed vector) or `named_vectors`, not both"
                        .into(),
                ));
            }
            if let Some(v) = &o.vectors {
                vector_ok(".vectors", v)?;
            }
            for (name, v) in o.named_vectors.iter().flatten() {
                name_ok(&format!("named_vectors.{name}"), name)?;
                vector_ok(&format!(".named_vectors.{name}"), v)?;
            }
            if matches!(o.shard_number, Some(0)) || matches!(o.replication_factor, Some(0)) {
                return Err((
                    ".shard_number".into(),
                    "shard_number and replication_factor start at 1".into(),
                ));
            }
            Ok(())
        }
        Operation::UpdateCollection(o) => {
            name_ok("collection", &o.collection)?;
            if o.vectors.is_some() && o.named_vectors.is_some() {
                return Err((
                    ".named_vectors".into(),
                    "give either `vectors` or `named_vectors`, not both".into(),
                ));
            }
            Ok(())
        }
        Operation::DeleteCollection(o) => name_ok("collection", &o.collection),
        Operation::CreatePayloadIndex(o) => {
            name_ok("collection", &o.collection)?;
            name_ok("field", &o.field)
        }
        Operation::DeletePayloadIndex(o) => {
            name_ok("collection", &o.collection)?;
            name_ok("field", &o.field)
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
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_operation() {
        let ops = parse(
            r#"[
              {"create_collection": {"collection": "docs_v1",
                 "vectors": {"size": 1536, "distance": "Cosine", "on_disk": true},
                 "sparse_vectors": {"keywords": {"modifier": "idf"}},
                 "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000},
                 "optimizers_config": {"indexing_threshold": 20000},
                 "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}},
                 "on_disk_payload": true, "shard_number": 2, "replication_factor": 2}},
              {"create_collection": {"collection": "multi",
                 "named_vectors": {"text": {"size": 768, "distance": "Dot"}, "image": {"size": 512, "distance": "Euclid"}}}},
              {"update_collection": {"collection": "docs_v1", "vectors": {"size": 1536, "on_disk": false},
                 "hnsw_config": {"ef_construct": 200}, "quantization_config": {"binary": {}},
                 "params": {"replication_factor": 3}}},
              {"create_payload_index": {"collection": "docs_v1", "field": "user_id", "schema": "keyword"}},
              {"delete_payload_index": {"collection": "docs_v1", "field": "user_id"}},
              {"create_alias": {"alias": "docs", "collection": "docs_v1"}},
              {"switch_alias": {"alias": "docs", "to": "multi"}},
              {"delete_alias": {"alias": "docs"}},
              {"delete_collection": {"collection": "multi"}}
            ]"#,
        )
        .unwrap();
        assert_eq!(ops.len(), 9);
        assert_eq!(
            ops[0].describe(),
            "create_collection docs_v1 (1536 Cosine, keywords: sparse)"
        );
        assert_eq!(
            ops[3].describe(),
            "create_payload_index docs_v1.user_id (keyword)"
        );
    }

    #[test]
    fn bad_values_name_their_path() {
        let e = error(
            r#"[{"create_collection": {"collection": "a", "vectors": {"size": 3, "distance": "Cosin"}}}]"#,
        );
        assert!(
            e.starts_with("$[0].create_collection.vectors.distance: unknown variant `Cosin`"),
            "{e}"
        );
        let e = error(
            r#"[{"create_collection": {"collection": "a", "vectors": {"size": 0, "distance": "Dot"}}}]"#,
        );
        assert_eq!(
            e,
            "$[0].create_collection.vectors.size: a vector needs at least one dimension"
        );
        let e = error(
            r#"[{"create_payload_index": {"collection": "a", "field": "f", "schema": "string"}}]"#,
        );
        assert!(
            e.starts_with("$[0].create_payload_index.schema: unknown variant `string`"),
            "{e}"
        );
        let e = error(r#"[{"update_collection": {"collection": "a", "vectors": {"dims": 3}}}]"#);
        assert!(
            e.starts_with("$[0].update_collection.vectors.dims: unknown field"),
            "{e}"
        );
        let e = error(r#"[{"create_colection": {"collection": "a"}}]"#);
        assert!(
            e.starts_with("$[0]: unknown variant `create_colection`"),
            "{e}"
        );
        assert!(error("[]").contains("holds no operation"));
        assert!(error("[{").contains("line 1 column"));
    }
}
