//! The operation files' parser and Qdrant's own rules, unit by unit.

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
fn settings_can_be_undone() {
    let ops = parse(
        r#"[{"update_collection": {"collection": "a", "quantization_config": "disabled",
              "named_vectors": {"t": {"hnsw_config": "collection", "quantization_config": "Disabled"}}}}]"#,
    )
    .unwrap();
    let Operation::UpdateCollection(u) = &ops[0] else {
        panic!()
    };
    assert_eq!(u.quantization_config, Some(QuantizationChange::Disabled));
    let t = &u.named_vectors.as_ref().unwrap()["t"];
    assert_eq!(t.hnsw_config, Some(HnswChange::Collection));
    assert_eq!(t.quantization_config, Some(QuantizationChange::Disabled));
    let e = error(r#"[{"update_collection": {"collection": "a", "quantization_config": "off"}}]"#);
    assert!(e.contains("\"disabled\""), "{e}");
    let e = error(
        r#"[{"update_collection": {"collection": "a", "vectors": {"hnsw_config": "collection"}}}]"#,
    );
    assert!(e.contains("for named vectors"), "{e}");
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
    // An empty list: refused in a migration, a no-op in a rollback.
    let format = crate::operations::OperationFormat::<Operation>::new(crate::kind::Kind::Qdrant);
    let e = crate::script::Format::read(&format, "[]").unwrap_err();
    assert!(e.message.contains("holds no operation"), "{}", e.message);
    assert!(crate::script::Format::is_noop(&format, " [ ] "));
    // Qdrant's own rules, before anything is sent.
    for (text, path, what) in [
        (
            r#"{"create_collection": {"collection": "a:b", "vectors": {"size": 3, "distance": "Dot"}}}"#,
            "$[0].create_collection.collection",
            "cannot contain ':'",
        ),
        (
            r#"{"create_collection": {"collection": "a\u001fb", "vectors": {"size": 3, "distance": "Dot"}}}"#,
            "$[0].create_collection.collection",
            "cannot contain",
        ),
        (
            r#"{"create_alias": {"alias": "x|y", "collection": "a"}}"#,
            "$[0].create_alias.alias",
            "cannot contain '|'",
        ),
        (
            r#"{"update_collection": {"collection": "a", "quantization_config": {"scalar": {"type": "int8", "quantile": 0.1}}}}"#,
            "$[0].update_collection.quantization_config.scalar.quantile",
            "outside Qdrant's range 0.5 to 1",
        ),
        (
            r#"{"update_collection": {"collection": "a", "optimizers_config": {"deleted_threshold": 5.0}}}"#,
            "$[0].update_collection.optimizers_config.deleted_threshold",
            "outside",
        ),
        (
            r#"{"update_collection": {"collection": "a", "hnsw_config": {"ef_construct": 0}}}"#,
            "$[0].update_collection.hnsw_config.ef_construct",
            "minimum of 4",
        ),
        (
            r#"{"update_collection": {"collection": "a", "params": {"write_consistency_factor": 0}}}"#,
            "$[0].update_collection.params.write_consistency_factor",
            "minimum of 1",
        ),
        (
            r#"{"create_collection": {"collection": "a", "optimizers_config": {"vacuum_min_vector_number": 10}}}"#,
            "$[0].create_collection.optimizers_config.vacuum_min_vector_number",
            "minimum of 100",
        ),
        (
            r#"{"create_collection": {"collection": "a", "named_vectors": {"t": {"size": 3, "distance": "Dot"}}, "sparse_vectors": {"t": {}}}}"#,
            "$[0].create_collection.sparse_vectors.t",
            "cannot share a name",
        ),
        (
            r#"{"create_collection": {"collection": "a", "named_vectors": {"a/b": {"size": 3, "distance": "Dot"}}}}"#,
            "$[0].create_collection.named_vectors.a/b",
            "vector name cannot contain '/'",
        ),
    ] {
        let e = error(&format!("[{text}]"));
        assert!(e.starts_with(path), "{text}: {e}");
        assert!(e.contains(what), "{text}: {e}");
    }
    let long = "v".repeat(201);
    let e = error(&format!(
        r#"[{{"create_collection": {{"collection": "a", "named_vectors": {{"{long}": {{"size": 3, "distance": "Dot"}}}}}}}}]"#
    ));
    assert!(e.contains("at most 200"), "{e}");
    let long = "c".repeat(256);
    let e = error(&format!(
        r#"[{{"delete_collection": {{"collection": "{long}"}}}}]"#
    ));
    assert!(e.contains("at most 255"), "{e}");
    assert!(error("[{").contains("line 1 column"));
}

#[test]
fn shard_keys_are_strings_or_numbers_and_show_as_qdrant_shows_them() {
    let ops = parse(
        r#"[
          {"create_collection": {"collection": "t", "vectors": {"size": 4, "distance": "Dot"},
             "sharding_method": "custom", "strict_mode_config": {"enabled": true}}},
          {"create_shard_key": {"collection": "t", "shard_key": "acme", "placement": [7]}},
          {"create_shard_key": {"collection": "t", "shard_key": 42, "shards_number": 2}},
          {"delete_shard_key": {"collection": "t", "shard_key": "acme"}},
          {"update_collection": {"collection": "t", "strict_mode_config": {"max_timeout": 5}}}
        ]"#,
    )
    .unwrap();
    let Operation::CreateCollection(c) = &ops[0] else {
        panic!("{:?}", ops[0]);
    };
    assert_eq!(c.sharding_method, Some(ShardingMethod::Custom));
    assert_eq!(ops[1].describe(), "create_shard_key t \"acme\"");
    assert_eq!(ops[2].describe(), "create_shard_key t 42");
    assert_eq!(ops[3].describe(), "delete_shard_key t \"acme\"");
    assert_eq!(
        ops[4].describe(),
        "update_collection t (strict_mode_config)"
    );
    assert_eq!(
        error(r#"[{"create_shard_key": {"collection": "t", "shard_key": ""}}]"#),
        "$[0].create_shard_key.shard_key: is empty"
    );
    assert!(
        error(r#"[{"create_shard_key": {"collection": "t", "shard_key": "a", "placement": []}}]"#)
            .starts_with("$[0].create_shard_key.placement: is empty")
    );
    assert!(
        error(r#"[{"update_collection": {"collection": "t", "strict_mode_config": {"max_timeout": 0}}}]"#)
            .starts_with("$[0].update_collection.strict_mode_config.max_timeout")
    );
}
