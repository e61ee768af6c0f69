//! Qdrant's own request validation, applied to each operation before
//! anything runs (names, value ranges, vectors), so a file the server would
//! refuse half-way is refused whole. Each failure is the JSON path below
//! the operation and why.

use super::*;

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
fn shard_key_ok(key: &ShardKey) -> Check {
    match key {
        ShardKey::Keyword(k) if k.is_empty() => bad(".shard_key", "is empty"),
        _ => Ok(()),
    }
}

/// Strict mode's ranges, as Qdrant's API checks them.
fn strict_ok(path: &str, m: &StrictMode) -> Check {
    at_least(&format!("{path}.max_query_limit"), m.max_query_limit, 1)?;
    at_least(&format!("{path}.max_timeout"), m.max_timeout, 1)?;
    at_least(&format!("{path}.max_points_count"), m.max_points_count, 1)?;
    at_least(&format!("{path}.read_rate_limit"), m.read_rate_limit, 1)?;
    at_least(&format!("{path}.write_rate_limit"), m.write_rate_limit, 1)
}

pub(super) fn check(op: &Operation) -> Check {
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
            at_least(".write_consistency_factor", o.write_consistency_factor, 1)?;
            if let Some(m) = &o.strict_mode_config {
                strict_ok(".strict_mode_config", m)?;
            }
            Ok(())
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
            if let Some(m) = &o.strict_mode_config {
                strict_ok(".strict_mode_config", m)?;
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
        Operation::CreateShardKey(o) => {
            name_ok("collection", &o.collection)?;
            shard_key_ok(&o.shard_key)?;
            at_least(".shards_number", o.shards_number, 1)?;
            at_least(".replication_factor", o.replication_factor, 1)?;
            if o.placement.as_ref().is_some_and(Vec::is_empty) {
                return bad(
                    ".placement",
                    "is empty: list the peer ids that may hold the key's shards, or leave \
                     placement out for every peer",
                );
            }
            Ok(())
        }
        Operation::DeleteShardKey(o) => {
            name_ok("collection", &o.collection)?;
            shard_key_ok(&o.shard_key)
        }
    }
}
