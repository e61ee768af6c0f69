//! The schema of a Qdrant instance as drift compares it, and the
//! collection `<history>_schema` whose one point keeps the description the
//! last run left.
//!
//! Described per collection: its parameters (shards, replication, payload
//! storage, sharding method), each dense and sparse vector, HNSW,
//! optimizer, quantization and strict-mode settings, each payload index
//! and custom shard key; and every alias. Counts (points, indexed points,
//! segments) and status change as data comes and goes: left out. Settings
//! are shown as the server's message (`HnswConfigDiff { m: Some(16), … }`)
//! with maps sorted, so two reads of one collection print the same.

use std::collections::BTreeMap;

use qdrant_client::qdrant as pb;
use tonic::Code;

use super::ops::ShardKey;
use super::{QdrantBackend, bookkeeping_collection, document, point, point_id};
use crate::drift::{Entry, Recorded, Schema, Scope};
use crate::error::{Error, Result};

/// The entries of one collection's info. Pure.
pub fn collection_entries(name: &str, info: &pb::CollectionInfo) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut add = |key: String, detail: String| out.push(Entry::new(name, key, detail));
    let config = info.config.clone().unwrap_or_default();
    let mut params = config.params.clone().unwrap_or_default();
    use pb::vectors_config::Config;
    match params.vectors_config.take().and_then(|v| v.config) {
        Some(Config::Params(p)) => add(format!("vector {name}"), format!("{p:?}")),
        Some(Config::ParamsMap(m)) => {
            for (v, p) in m.map.into_iter().collect::<BTreeMap<_, _>>() {
                add(format!("vector {name}.{v}"), format!("{p:?}"));
            }
        }
        None => {}
    }
    if let Some(sparse) = params.sparse_vectors_config.take() {
        for (v, p) in sparse.map.into_iter().collect::<BTreeMap<_, _>>() {
            add(format!("sparse vector {name}.{v}"), format!("{p:?}"));
        }
    }
    add(format!("collection {name}"), format!("{params:?}"));
    if let Some(h) = &config.hnsw_config {
        add(format!("hnsw {name}"), format!("{h:?}"));
    }
    if let Some(o) = &config.optimizer_config {
        add(format!("optimizers {name}"), format!("{o:?}"));
    }
    if let Some(q) = &config.quantization_config {
        add(format!("quantization {name}"), format!("{q:?}"));
    }
    if let Some(s) = &config.strict_mode_config {
        let mut s = s.clone();
        // Maps print in no fixed order: each entry on its own line instead.
        if let Some(m) = s.multivector_config.take() {
            for (v, c) in m.multivector_config.into_iter().collect::<BTreeMap<_, _>>() {
                add(
                    format!("strict mode {name} multivector {v}"),
                    format!("{c:?}"),
                );
            }
        }
        if let Some(m) = s.sparse_config.take() {
            for (v, c) in m.sparse_config.into_iter().collect::<BTreeMap<_, _>>() {
                add(format!("strict mode {name} sparse {v}"), format!("{c:?}"));
            }
        }
        add(format!("strict mode {name}"), format!("{s:?}"));
    }
    for (field, schema) in info.payload_schema.iter().collect::<BTreeMap<_, _>>() {
        let kind = pb::PayloadSchemaType::try_from(schema.data_type)
            .map(|t| t.as_str_name().to_lowercase())
            .unwrap_or_else(|_| schema.data_type.to_string());
        let params = schema
            .params
            .as_ref()
            .map(|p| format!(" {p:?}"))
            .unwrap_or_default();
        add(
            format!("payload index {name}.{field}"),
            format!("{kind}{params}"),
        );
    }
    out
}

impl QdrantBackend {
    fn schema_collection(&self) -> String {
        format!("{}_schema", self.history)
    }

    /// The live schema as `scope` covers it.
    pub(super) async fn describe_schema(&mut self, scope: &Scope) -> Result<Schema> {
        let own = [
            self.history.clone(),
            format!("{}_lock", self.history),
            self.schema_collection(),
        ];
        let mut entries = Vec::new();
        for (name, info) in self.collection_infos().await? {
            if own.contains(&name) {
                continue;
            }
            entries.extend(collection_entries(&name, &info));
            if super::proto::custom_sharding(&info) {
                for key in self.shard_keys(&name).await? {
                    let key = match key {
                        ShardKey::Keyword(s) => s,
                        ShardKey::Number(n) => n.to_string(),
                    };
                    entries.push(Entry::new(
                        name.as_str(),
                        format!("shard key {name}.{key}"),
                        "",
                    ));
                }
            }
        }
        for (alias, collection) in self.alias_list().await? {
            entries.push(Entry::new(
                collection.as_str(),
                format!("alias {alias}"),
                format!("→ {collection}"),
            ));
        }
        let own: Vec<&str> = own.iter().map(String::as_str).collect();
        Ok(Schema::from_entries(entries, &scope.ignore, &own))
    }

    /// The description the last run recorded, if any.
    pub(super) async fn recorded_schema(&mut self) -> Result<Option<Recorded>> {
        let got = self
            .points
            .get(pb::GetPoints {
                collection_name: self.schema_collection(),
                ids: vec![point_id(1)],
                with_payload: Some(true.into()),
                ..Default::default()
            })
            .await;
        let points = match got {
            Ok(r) => r.into_inner().result,
            Err(s) if s.code() == Code::NotFound => return Ok(None),
            Err(s) => return Err(self.db_error("reading the recorded schema", s)),
        };
        let Some(p) = points.first() else {
            return Ok(None);
        };
        Recorded::from_document(&document(&p.payload))
            .map(Some)
            .map_err(|m| Error::Database {
                database: self.database.clone(),
                message: format!("collection {}: {m}", self.schema_collection()),
            })
    }

    /// Records `schema` as the one the next run expects.
    pub(super) async fn write_schema(&mut self, schema: &Schema) -> Result<()> {
        let name = self.schema_collection();
        match self.collections.create(bookkeeping_collection(&name)).await {
            Ok(_) => {}
            Err(s) if super::is_already_exists(&s) => {}
            Err(s) => return Err(self.db_error("creating the schema collection", s)),
        }
        let payload = Recorded::document(schema, &self.applied_by);
        self.points
            .upsert(pb::UpsertPoints {
                collection_name: name,
                wait: Some(true),
                points: vec![point(1, payload)],
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|s| self.db_error("recording the schema", s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_left_out_and_maps_sorted() {
        let info = |points: u64| pb::CollectionInfo {
            points_count: Some(points),
            payload_schema: [
                (
                    "user_id".to_string(),
                    pb::PayloadSchemaInfo {
                        data_type: pb::PayloadSchemaType::Keyword as i32,
                        params: None,
                        points: Some(points),
                    },
                ),
                (
                    "a".to_string(),
                    pb::PayloadSchemaInfo {
                        data_type: pb::PayloadSchemaType::Integer as i32,
                        params: None,
                        points: Some(points),
                    },
                ),
            ]
            .into(),
            ..Default::default()
        };
        let a = Schema::from_entries(collection_entries("docs", &info(1)), &[], &[]);
        let b = Schema::from_entries(collection_entries("docs", &info(9)), &[], &[]);
        assert_eq!(a, b);
        assert_eq!(a.objects["payload index docs.user_id"], "keyword");
        assert_eq!(a.objects["payload index docs.a"], "integer");
    }
}
