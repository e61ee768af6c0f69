//! The file operations as Qdrant's gRPC requests (the `qdrant-client`
//! message types). Pure translation: no defaults are invented, an unset
//! field stays unset so the server applies its own.
//!
//! `on_disk`, `on_disk_payload` and `always_ram` are the fields Qdrant's
//! documentation and every server version know; the client marks them
//! deprecated in favour of a newer `memory` field that older servers
//! ignore, so they are used on purpose.
#![allow(deprecated)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use qdrant_client::qdrant as pb;

use super::ops::{
    Comparator, Compression, CreateCollection, Datatype, Distance, FieldSchema, Hnsw, HnswChange,
    Modifier, Optimizers, Quantization, QuantizationChange, ShardKey, ShardingMethod, SparseVector,
    StrictMode, UpdateCollection, VectorParams, VectorUpdate,
};

fn distance(d: Distance) -> i32 {
    (match d {
        Distance::Cosine => pb::Distance::Cosine,
        Distance::Euclid => pb::Distance::Euclid,
        Distance::Dot => pb::Distance::Dot,
        Distance::Manhattan => pb::Distance::Manhattan,
    }) as i32
}

/// The file's distance for a server's distance number, if it is one.
pub fn distance_of(n: i32) -> Option<Distance> {
    match pb::Distance::try_from(n).ok()? {
        pb::Distance::Cosine => Some(Distance::Cosine),
        pb::Distance::Euclid => Some(Distance::Euclid),
        pb::Distance::Dot => Some(Distance::Dot),
        pb::Distance::Manhattan => Some(Distance::Manhattan),
        _ => None,
    }
}

fn hnsw(h: &Hnsw) -> pb::HnswConfigDiff {
    pb::HnswConfigDiff {
        m: h.m,
        ef_construct: h.ef_construct,
        full_scan_threshold: h.full_scan_threshold,
        max_indexing_threads: h.max_indexing_threads,
        on_disk: h.on_disk,
        payload_m: h.payload_m,
        ..Default::default()
    }
}

fn optimizers(o: &Optimizers) -> pb::OptimizersConfigDiff {
    pb::OptimizersConfigDiff {
        deleted_threshold: o.deleted_threshold,
        vacuum_min_vector_number: o.vacuum_min_vector_number,
        default_segment_number: o.default_segment_number,
        max_segment_size: o.max_segment_size,
        memmap_threshold: o.memmap_threshold,
        indexing_threshold: o.indexing_threshold,
        flush_interval_sec: o.flush_interval_sec,
        ..Default::default()
    }
}

fn scalar(q: &super::ops::Scalar) -> pb::ScalarQuantization {
    pb::ScalarQuantization {
        r#type: pb::QuantizationType::Int8 as i32,
        quantile: q.quantile,
        always_ram: q.always_ram,
        ..Default::default()
    }
}

fn product(q: &super::ops::Product) -> pb::ProductQuantization {
    let ratio = match q.compression {
        Compression::X4 => pb::CompressionRatio::X4,
        Compression::X8 => pb::CompressionRatio::X8,
        Compression::X16 => pb::CompressionRatio::X16,
        Compression::X32 => pb::CompressionRatio::X32,
        Compression::X64 => pb::CompressionRatio::X64,
    };
    pb::ProductQuantization {
        compression: ratio as i32,
        always_ram: q.always_ram,
        ..Default::default()
    }
}

fn binary(q: &super::ops::Binary) -> pb::BinaryQuantization {
    pb::BinaryQuantization {
        always_ram: q.always_ram,
        ..Default::default()
    }
}

fn quantization(q: &Quantization) -> pb::QuantizationConfig {
    use pb::quantization_config::Quantization as Q;
    pb::QuantizationConfig {
        quantization: Some(match q {
            Quantization::Scalar(s) => Q::Scalar(scalar(s)),
            Quantization::Product(p) => Q::Product(product(p)),
            Quantization::Binary(b) => Q::Binary(binary(b)),
        }),
    }
}

fn quantization_diff(q: &QuantizationChange) -> pb::QuantizationConfigDiff {
    use pb::quantization_config_diff::Quantization as Q;
    pb::QuantizationConfigDiff {
        quantization: Some(match q {
            QuantizationChange::Set(Quantization::Scalar(s)) => Q::Scalar(scalar(s)),
            QuantizationChange::Set(Quantization::Product(p)) => Q::Product(product(p)),
            QuantizationChange::Set(Quantization::Binary(b)) => Q::Binary(binary(b)),
            QuantizationChange::Disabled => Q::Disabled(pb::Disabled {}),
        }),
    }
}

fn vector(v: &VectorParams) -> pb::VectorParams {
    pb::VectorParams {
        size: v.size,
        distance: distance(v.distance),
        on_disk: v.on_disk,
        hnsw_config: v.hnsw_config.as_ref().map(hnsw),
        quantization_config: v.quantization_config.as_ref().map(quantization),
        datatype: v.datatype.map(|d| datatype(d) as i32),
        multivector_config: v.multivector_config.map(|m| pb::MultiVectorConfig {
            comparator: match m.comparator {
                Comparator::MaxSim => pb::MultiVectorComparator::MaxSim,
            } as i32,
        }),
        ..Default::default()
    }
}

fn datatype(d: Datatype) -> pb::Datatype {
    match d {
        Datatype::Float32 => pb::Datatype::Float32,
        Datatype::Uint8 => pb::Datatype::Uint8,
        Datatype::Float16 => pb::Datatype::Float16,
    }
}

/// A vector's change; `collection` is the collection's own HNSW
/// parameters, which `"collection"` copies (Qdrant merges a vector's
/// parameters field by field and has no way to drop them, so equal values
/// are the reset).
fn vector_diff(v: &VectorUpdate, collection: &pb::HnswConfigDiff) -> pb::VectorParamsDiff {
    pb::VectorParamsDiff {
        on_disk: v.on_disk,
        hnsw_config: v.hnsw_config.as_ref().map(|h| match h {
            HnswChange::Set(h) => hnsw(h),
            HnswChange::Collection => *collection,
        }),
        quantization_config: v.quantization_config.as_ref().map(quantization_diff),
        ..Default::default()
    }
}

/// `create_collection` as a request.
pub fn create(o: &CreateCollection) -> pb::CreateCollection {
    use pb::vectors_config::Config;
    let vectors_config = match (&o.vectors, &o.named_vectors) {
        (Some(v), _) => Some(Config::Params(vector(v))),
        (None, Some(named)) => Some(Config::ParamsMap(pb::VectorParamsMap {
            map: named.iter().map(|(k, v)| (k.clone(), vector(v))).collect(),
        })),
        (None, None) => None,
    }
    .map(|config| pb::VectorsConfig {
        config: Some(config),
    });
    pb::CreateCollection {
        collection_name: o.collection.clone(),
        vectors_config,
        sparse_vectors_config: o.sparse_vectors.as_ref().map(sparse_vectors),
        hnsw_config: o.hnsw_config.as_ref().map(hnsw),
        optimizers_config: o.optimizers_config.as_ref().map(optimizers),
        quantization_config: o.quantization_config.as_ref().map(quantization),
        on_disk_payload: o.on_disk_payload,
        shard_number: o.shard_number,
        replication_factor: o.replication_factor,
        write_consistency_factor: o.write_consistency_factor,
        sharding_method: o.sharding_method.map(|m| {
            (match m {
                ShardingMethod::Auto => pb::ShardingMethod::Auto,
                ShardingMethod::Custom => pb::ShardingMethod::Custom,
            }) as i32
        }),
        strict_mode_config: o.strict_mode_config.as_ref().map(strict_mode),
        ..Default::default()
    }
}

/// Strict mode settings, each unset one left to the server.
fn strict_mode(m: &StrictMode) -> pb::StrictModeConfig {
    pb::StrictModeConfig {
        enabled: m.enabled,
        max_query_limit: m.max_query_limit,
        max_timeout: m.max_timeout,
        unindexed_filtering_retrieve: m.unindexed_filtering_retrieve,
        unindexed_filtering_update: m.unindexed_filtering_update,
        search_max_hnsw_ef: m.search_max_hnsw_ef,
        search_allow_exact: m.search_allow_exact,
        search_max_oversampling: m.search_max_oversampling,
        upsert_max_batchsize: m.upsert_max_batchsize,
        search_max_batchsize: m.search_max_batchsize,
        max_collection_vector_size_bytes: m.max_collection_vector_size_bytes,
        read_rate_limit: m.read_rate_limit,
        write_rate_limit: m.write_rate_limit,
        max_collection_payload_size_bytes: m.max_collection_payload_size_bytes,
        filter_max_conditions: m.filter_max_conditions,
        condition_max_size: m.condition_max_size,
        max_points_count: m.max_points_count,
        max_payload_index_count: m.max_payload_index_count,
        ..Default::default()
    }
}

/// A shard key as Qdrant's message.
pub fn shard_key(k: &ShardKey) -> pb::ShardKey {
    pb::ShardKey {
        key: Some(match k {
            ShardKey::Number(n) => pb::shard_key::Key::Number(*n),
            ShardKey::Keyword(s) => pb::shard_key::Key::Keyword(s.clone()),
        }),
    }
}

/// A shard key from Qdrant's message.
pub fn shard_key_of(k: &pb::ShardKey) -> Option<ShardKey> {
    match k.key.as_ref()? {
        pb::shard_key::Key::Number(n) => Some(ShardKey::Number(*n)),
        pb::shard_key::Key::Keyword(s) => Some(ShardKey::Keyword(s.clone())),
    }
}

/// Whether a collection's info says it is sharded by custom keys.
pub fn custom_sharding(info: &pb::CollectionInfo) -> bool {
    info.config
        .as_ref()
        .and_then(|c| c.params.as_ref())
        .and_then(|p| p.sharding_method)
        == Some(pb::ShardingMethod::Custom as i32)
}

/// Sparse vectors' settings: all of them on create, the given ones on
/// update (Qdrant merges an update field by field).
fn sparse_vectors(m: &BTreeMap<String, SparseVector>) -> pb::SparseVectorConfig {
    pb::SparseVectorConfig {
        map: m
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    pb::SparseVectorParams {
                        index: (s.on_disk.is_some()
                            || s.full_scan_threshold.is_some()
                            || s.datatype.is_some())
                        .then(|| pb::SparseIndexConfig {
                            on_disk: s.on_disk,
                            full_scan_threshold: s.full_scan_threshold,
                            datatype: s.datatype.map(|d| datatype(d) as i32),
                            ..Default::default()
                        }),
                        modifier: s.modifier.map(|m| {
                            (match m {
                                Modifier::None => pb::Modifier::None,
                                Modifier::Idf => pb::Modifier::Idf,
                            }) as i32
                        }),
                    },
                )
            })
            .collect(),
    }
}

/// Whether the update copies the collection's HNSW parameters into a
/// vector, so the caller must read them first.
pub fn needs_collection_hnsw(o: &UpdateCollection) -> bool {
    o.vectors
        .iter()
        .chain(o.named_vectors.iter().flat_map(|m| m.values()))
        .any(|v| v.hnsw_config == Some(HnswChange::Collection))
}

/// The collection's HNSW parameters from its info.
pub fn collection_hnsw(info: &pb::CollectionInfo) -> pb::HnswConfigDiff {
    info.config
        .as_ref()
        .and_then(|c| c.hnsw_config)
        .unwrap_or_default()
}

/// `update_collection` as a request; `collection_hnsw` is the collection's
/// own HNSW parameters (see [`needs_collection_hnsw`]).
pub fn update(o: &UpdateCollection, collection_hnsw: &pb::HnswConfigDiff) -> pb::UpdateCollection {
    use pb::vectors_config_diff::Config;
    let vectors_config = match (&o.vectors, &o.named_vectors) {
        (Some(v), _) => Some(Config::Params(vector_diff(v, collection_hnsw))),
        (None, Some(named)) => Some(Config::ParamsMap(pb::VectorParamsDiffMap {
            map: named
                .iter()
                .map(|(k, v)| (k.clone(), vector_diff(v, collection_hnsw)))
                .collect(),
        })),
        (None, None) => None,
    }
    .map(|config| pb::VectorsConfigDiff {
        config: Some(config),
    });
    pb::UpdateCollection {
        collection_name: o.collection.clone(),
        vectors_config,
        hnsw_config: o.hnsw_config.as_ref().map(hnsw),
        optimizers_config: o.optimizers_config.as_ref().map(optimizers),
        quantization_config: o.quantization_config.as_ref().map(quantization_diff),
        params: o.params.as_ref().map(|p| pb::CollectionParamsDiff {
            replication_factor: p.replication_factor,
            write_consistency_factor: p.write_consistency_factor,
            on_disk_payload: p.on_disk_payload,
            ..Default::default()
        }),
        sparse_vectors_config: o.sparse_vectors.as_ref().map(sparse_vectors),
        strict_mode_config: o.strict_mode_config.as_ref().map(strict_mode),
        ..Default::default()
    }
}

/// A payload index type as Qdrant's field type number.
pub fn field_type(s: FieldSchema) -> i32 {
    (match s {
        FieldSchema::Keyword => pb::FieldType::Keyword,
        FieldSchema::Integer => pb::FieldType::Integer,
        FieldSchema::Float => pb::FieldType::Float,
        FieldSchema::Bool => pb::FieldType::Bool,
        FieldSchema::Geo => pb::FieldType::Geo,
        FieldSchema::Datetime => pb::FieldType::Datetime,
        FieldSchema::Text => pb::FieldType::Text,
        FieldSchema::Uuid => pb::FieldType::Uuid,
    }) as i32
}

/// Alias actions in one atomic request.
pub fn aliases(actions: Vec<pb::alias_operations::Action>) -> pb::ChangeAliases {
    pb::ChangeAliases {
        actions: actions
            .into_iter()
            .map(|a| pb::AliasOperations { action: Some(a) })
            .collect(),
        timeout: None,
    }
}

/// The names of a collection's sparse vectors, from its info.
pub fn live_sparse(info: &pb::CollectionInfo) -> BTreeSet<String> {
    info.config
        .as_ref()
        .and_then(|c| c.params.as_ref())
        .and_then(|p| p.sparse_vectors_config.as_ref())
        .map(|s| s.map.keys().cloned().collect())
        .unwrap_or_default()
}

/// The dense vectors of a live collection: name → (size, distance); the
/// unnamed vector is `""`.
pub fn live_vectors(info: &pb::CollectionInfo) -> HashMap<String, (u64, i32)> {
    use pb::vectors_config::Config;
    let config = info
        .config
        .as_ref()
        .and_then(|c| c.params.as_ref())
        .and_then(|p| p.vectors_config.as_ref())
        .and_then(|v| v.config.as_ref());
    match config {
        Some(Config::Params(p)) => HashMap::from([(String::new(), (p.size, p.distance))]),
        Some(Config::ParamsMap(m)) => m
            .map
            .iter()
            .map(|(k, p)| (k.clone(), (p.size, p.distance)))
            .collect(),
        None => HashMap::new(),
    }
}
