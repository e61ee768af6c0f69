//! The collections and aliases as the pending operations will find them,
//! for checking them before the first one runs.
//!
//! The backend reads the live collections (their vectors and payload
//! indexes) and aliases once; [`Cluster::apply`] plays every pending
//! operation on that model, in order, and refuses what Qdrant would refuse
//! half-way: a missing collection, a duplicate one, an alias that does not
//! exist, and above all a change of a vector's size or distance, which
//! Qdrant cannot make in place. Pure, so every rule is unit-tested here.

use std::collections::{BTreeMap, BTreeSet};

use super::ops::{Distance, Operation, ShardKey, ShardingMethod, VectorUpdate};

/// A dense vector's fixed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vector {
    /// Dimensions.
    pub size: u64,
    /// Distance.
    pub distance: Distance,
}

/// One collection: its dense vectors (`""` is the unnamed one), its
/// sparse vectors and the payload fields that have an index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// Vector name → parameters; the unnamed vector is `""`.
    pub vectors: BTreeMap<String, Vector>,
    /// Sparse vector names.
    pub sparse: BTreeSet<String>,
    /// Indexed payload fields.
    pub payload_indexes: BTreeSet<String>,
    /// Sharded by custom keys (`"sharding_method": "custom"`).
    pub custom: bool,
    /// Its custom shard keys.
    pub shard_keys: BTreeSet<ShardKey>,
}

/// The parts of a Qdrant instance the operations touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    /// Collections by name.
    pub collections: BTreeMap<String, Collection>,
    /// Alias → collection.
    pub aliases: BTreeMap<String, String>,
}

/// A refusal: the JSON path under the operation and why.
pub type Refusal = (String, String);

const NEW_COLLECTION: &str = "create a new collection with the new vectors, fill it \
     (re-embed), then switch_alias to it";

impl Cluster {
    fn existing(&self, name: &str, field: &str) -> Result<(), Refusal> {
        if self.collections.contains_key(name) {
            return Ok(());
        }
        match self.aliases.get(name) {
            Some(target) => Err((
                field.to_string(),
                format!("{name:?} is an alias of {target:?}; name the collection itself"),
            )),
            None => Err((
                field.to_string(),
                format!("collection {name:?} does not exist"),
            )),
        }
    }

    fn update_vector(
        &self,
        collection: &str,
        name: &str,
        update: &VectorUpdate,
        path: &str,
    ) -> Result<(), Refusal> {
        let shown = if name.is_empty() {
            "the unnamed vector"
        } else {
            name
        };
        let Some(live) = self.collections[collection].vectors.get(name) else {
            return Err((
                path.to_string(),
                format!("collection {collection:?} has no vector {shown:?}"),
            ));
        };
        if let Some(size) = update.size
            && size != live.size
        {
            return Err((
                format!("{path}.size"),
                format!(
                    "{shown} of collection {collection:?} has size {}; Qdrant cannot change a \
                     vector's size in place: {NEW_COLLECTION}",
                    live.size
                ),
            ));
        }
        if let Some(distance) = update.distance
            && distance != live.distance
        {
            return Err((
                format!("{path}.distance"),
                format!(
                    "{shown} of collection {collection:?} uses {:?}; Qdrant cannot change a \
                     vector's distance in place: {NEW_COLLECTION}",
                    live.distance
                ),
            ));
        }
        Ok(())
    }

    /// The collection a shard key is `verb` (created, removed) on: it must
    /// exist and be sharded by custom keys, as Qdrant refuses otherwise.
    fn custom(
        &mut self,
        name: &str,
        key: &ShardKey,
        verb: &str,
    ) -> Result<&mut Collection, Refusal> {
        self.existing(name, ".collection")?;
        let c = self.collections.get_mut(name).expect("checked");
        if !c.custom {
            return Err((
                ".shard_key".into(),
                format!(
                    "Shard Key {key} cannot be {verb} with Auto sharding method: collection \
                     {name:?} was not created with \"sharding_method\": \"custom\""
                ),
            ));
        }
        Ok(c)
    }

    /// Plays one operation on the model, or says why Qdrant would refuse it.
    pub fn apply(&mut self, op: &Operation) -> Result<(), Refusal> {
        match op {
            Operation::CreateCollection(o) => {
                if self.collections.contains_key(&o.collection) {
                    return Err((
                        ".collection".into(),
                        format!(
                            "collection {:?} already exists; to change its vectors, {NEW_COLLECTION}",
                            o.collection
                        ),
                    ));
                }
                if self.aliases.contains_key(&o.collection) {
                    return Err((
                        ".collection".into(),
                        format!(
                            "{:?} is an alias of {:?}; Qdrant refuses a collection named like an alias",
                            o.collection, self.aliases[&o.collection]
                        ),
                    ));
                }
                let mut vectors = BTreeMap::new();
                if let Some(v) = &o.vectors {
                    vectors.insert(
                        String::new(),
                        Vector {
                            size: v.size,
                            distance: v.distance,
                        },
                    );
                }
                for (name, v) in o.named_vectors.iter().flatten() {
                    vectors.insert(
                        name.clone(),
                        Vector {
                            size: v.size,
                            distance: v.distance,
                        },
                    );
                }
                self.collections.insert(
                    o.collection.clone(),
                    Collection {
                        vectors,
                        sparse: o
                            .sparse_vectors
                            .iter()
                            .flatten()
                            .map(|(n, _)| n.clone())
                            .collect(),
                        payload_indexes: BTreeSet::new(),
                        custom: o.sharding_method == Some(ShardingMethod::Custom),
                        shard_keys: BTreeSet::new(),
                    },
                );
            }
            Operation::UpdateCollection(o) => {
                self.existing(&o.collection, ".collection")?;
                if let Some(v) = &o.vectors {
                    self.update_vector(&o.collection, "", v, ".vectors")?;
                }
                for (name, v) in o.named_vectors.iter().flatten() {
                    self.update_vector(&o.collection, name, v, &format!(".named_vectors.{name}"))?;
                }
                let live = &self.collections[&o.collection].sparse;
                if let Some(name) = o
                    .sparse_vectors
                    .iter()
                    .flatten()
                    .map(|(n, _)| n)
                    .find(|n| !live.contains(*n))
                {
                    return Err((
                        format!(".sparse_vectors.{name}"),
                        format!(
                            "collection {:?} has no sparse vector {name:?}; Qdrant cannot add \
                             one in place: {NEW_COLLECTION}",
                            o.collection
                        ),
                    ));
                }
            }
            Operation::DeleteCollection(o) => {
                self.existing(&o.collection, ".collection")?;
                self.collections.remove(&o.collection);
                // Qdrant drops a deleted collection's aliases with it.
                self.aliases.retain(|_, target| *target != o.collection);
            }
            Operation::CreatePayloadIndex(o) => {
                self.existing(&o.collection, ".collection")?;
                self.collections
                    .get_mut(&o.collection)
                    .expect("checked")
                    .payload_indexes
                    .insert(o.field.clone());
            }
            Operation::DeletePayloadIndex(o) => {
                self.existing(&o.collection, ".collection")?;
                let c = self.collections.get_mut(&o.collection).expect("checked");
                if !c.payload_indexes.remove(&o.field) {
                    return Err((
                        ".field".into(),
                        format!(
                            "collection {:?} has no payload index on {:?}",
                            o.collection, o.field
                        ),
                    ));
                }
            }
            Operation::CreateAlias(o) => {
                self.existing(&o.collection, ".collection")?;
                if self.collections.contains_key(&o.alias) {
                    return Err((
                        ".alias".into(),
                        format!(
                            "{:?} is a collection; an alias cannot have its name",
                            o.alias
                        ),
                    ));
                }
                if let Some(target) = self.aliases.get(&o.alias) {
                    return Err((
                        ".alias".into(),
                        format!(
                            "alias {:?} exists already (it names {target:?}); use switch_alias",
                            o.alias
                        ),
                    ));
                }
                self.aliases.insert(o.alias.clone(), o.collection.clone());
            }
            Operation::DeleteAlias(o) => {
                if self.aliases.remove(&o.alias).is_none() {
                    return Err((
                        ".alias".into(),
                        format!("alias {:?} does not exist", o.alias),
                    ));
                }
            }
            Operation::SwitchAlias(o) => {
                self.existing(&o.to, ".to").map_err(|(path, m)| {
                    (
                        path,
                        format!("cannot switch alias {:?} to it: {m}", o.alias),
                    )
                })?;
                if self.collections.contains_key(&o.alias) {
                    return Err((
                        ".alias".into(),
                        format!("{:?} is a collection, not an alias", o.alias),
                    ));
                }
                self.aliases.insert(o.alias.clone(), o.to.clone());
            }
            Operation::CreateShardKey(o) => {
                let c = self.custom(&o.collection, &o.shard_key, "created")?;
                if !c.shard_keys.insert(o.shard_key.clone()) {
                    return Err((
                        ".shard_key".into(),
                        format!(
                            "Shard key {} already exists in collection {:?}",
                            o.shard_key, o.collection
                        ),
                    ));
                }
            }
            Operation::DeleteShardKey(o) => {
                let c = self.custom(&o.collection, &o.shard_key, "removed")?;
                // Qdrant answers success for a key it does not have; a
                // migration that names one is written for another database.
                if !c.shard_keys.remove(&o.shard_key) {
                    return Err((
                        ".shard_key".into(),
                        format!(
                            "collection {:?} has no shard key {}",
                            o.collection, o.shard_key
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl crate::operations::Model<Operation> for Cluster {
    fn apply(&mut self, op: &Operation) -> Result<(), Refusal> {
        Cluster::apply(self, op)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ops::parse;
    use super::*;

    fn live() -> Cluster {
        let mut c = Cluster::default();
        c.collections.insert(
            "docs_v1".into(),
            Collection {
                vectors: BTreeMap::from([(
                    String::new(),
                    Vector {
                        size: 1536,
                        distance: Distance::Cosine,
                    },
                )]),
                sparse: BTreeSet::from(["keywords".to_string()]),
                payload_indexes: BTreeSet::from(["user_id".to_string()]),
                ..Collection::default()
            },
        );
        c.aliases.insert("docs".into(), "docs_v1".into());
        c
    }

    fn run(text: &str) -> Result<Cluster, String> {
        let mut c = live();
        crate::operations::apply_all(&mut c, &parse(text).unwrap())?;
        Ok(c)
    }

    #[test]
    fn vector_size_and_distance_cannot_change_in_place() {
        let e =
            run(r#"[{"update_collection": {"collection": "docs_v1", "vectors": {"size": 3072}}}]"#)
                .unwrap_err();
        assert!(e.starts_with("$[0].update_collection.vectors.size: the unnamed vector of collection \"docs_v1\" has size 1536"), "{e}");
        assert!(e.contains("switch_alias"), "{e}");
        let e = run(
            r#"[{"update_collection": {"collection": "docs_v1", "vectors": {"distance": "Dot"}}}]"#,
        )
        .unwrap_err();
        assert!(e.contains("uses Cosine"), "{e}");
        let e = run(r#"[{"create_collection": {"collection": "docs_v1", "vectors": {"size": 3, "distance": "Dot"}}}]"#)
            .unwrap_err();
        assert!(
            e.contains("already exists") && e.contains("switch_alias"),
            "{e}"
        );
        run(r#"[{"update_collection": {"collection": "docs_v1", "vectors": {"size": 1536, "distance": "Cosine", "on_disk": true}}}]"#)
            .unwrap();
    }

    #[test]
    fn missing_things_are_refused() {
        let e = run(r#"[{"create_payload_index": {"collection": "nope", "field": "f", "schema": "keyword"}}]"#)
            .unwrap_err();
        assert_eq!(
            e,
            "$[0].create_payload_index.collection: collection \"nope\" does not exist"
        );
        let e = run(r#"[{"create_payload_index": {"collection": "docs", "field": "f", "schema": "keyword"}}]"#)
            .unwrap_err();
        assert!(e.contains("is an alias of \"docs_v1\""), "{e}");
        let e = run(r#"[{"switch_alias": {"alias": "docs", "to": "docs_v2"}}]"#).unwrap_err();
        assert!(e.contains("cannot switch alias \"docs\" to it"), "{e}");
        let e = run(r#"[{"delete_alias": {"alias": "nope"}}]"#).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e =
            run(r#"[{"create_alias": {"alias": "docs", "collection": "docs_v1"}}]"#).unwrap_err();
        assert!(e.contains("use switch_alias"), "{e}");
        let e = run(r#"[{"delete_payload_index": {"collection": "docs_v1", "field": "type"}}]"#)
            .unwrap_err();
        assert!(e.contains("no payload index"), "{e}");
        // A sparse vector can be tuned, not added, in place.
        run(r#"[{"update_collection": {"collection": "docs_v1", "sparse_vectors": {"keywords": {"modifier": "idf"}}}}]"#)
            .unwrap();
        let e = run(r#"[{"update_collection": {"collection": "docs_v1", "sparse_vectors": {"bm25": {"modifier": "idf"}}}}]"#)
            .unwrap_err();
        assert!(
            e.starts_with(
                "$[0].update_collection.sparse_vectors.bm25: collection \"docs_v1\" has no sparse vector \"bm25\""
            ),
            "{e}"
        );
        // One created earlier in the same run is there to tune.
        run(r#"[{"create_collection": {"collection": "c", "vectors": {"size": 2, "distance": "Dot"}, "sparse_vectors": {"s": {}}}},
               {"update_collection": {"collection": "c", "sparse_vectors": {"s": {"on_disk": true}}}}]"#)
            .unwrap();
    }

    #[test]
    fn later_operations_see_earlier_ones() {
        let c = run(
            r#"[{"create_collection": {"collection": "docs_v2", "vectors": {"size": 3072, "distance": "Cosine"}}},
                {"create_payload_index": {"collection": "docs_v2", "field": "user_id", "schema": "keyword"}},
                {"switch_alias": {"alias": "docs", "to": "docs_v2"}},
                {"delete_collection": {"collection": "docs_v1"}}]"#,
        )
        .unwrap();
        assert_eq!(c.aliases["docs"], "docs_v2");
        assert!(!c.collections.contains_key("docs_v1"));
        // Deleting a collection drops its aliases.
        let c = run(r#"[{"delete_collection": {"collection": "docs_v1"}}]"#).unwrap();
        assert!(c.aliases.is_empty());
    }
}
