//! The cluster as the pending operations will find it, for checking them
//! before the first one runs.
//!
//! The backend reads the live indices, mappings, aliases and templates once;
//! [`Cluster::apply`] then plays every pending operation on that model, in
//! order, and refuses what Elasticsearch would refuse half-way through the
//! run: an operation on an index that does not exist, a field type change
//! (which only a reindex can make), an alias switch to a missing index.
//! Pure, so every rule is unit-tested here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ops::{Object, Operation};

/// One index: its field types (dotted paths) and its aliases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexState {
    /// `user.name` → `keyword`; object fields without a type are `object`.
    pub fields: BTreeMap<String, String>,
    /// Aliases pointing at this index.
    pub aliases: BTreeSet<String>,
}

/// The parts of a cluster the operations touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    /// Concrete indices by name.
    pub indices: BTreeMap<String, IndexState>,
    /// Composable index template names.
    pub templates: BTreeSet<String>,
}

/// A refusal: the JSON path under the operation (`.properties.user_id`) and why.
pub type Refusal = (String, String);

/// Field name → type, flattened, from a mapping's `properties`. Pure.
pub fn field_types(properties: &Object) -> BTreeMap<String, String> {
    fn walk(prefix: &str, properties: &Object, out: &mut BTreeMap<String, String>) {
        for (name, def) in properties {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let ty = def
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("object")
                .to_string();
            out.insert(path.clone(), ty);
            if let Some(Value::Object(inner)) = def.get("properties") {
                walk(&path, inner, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", properties, &mut out);
    out
}

fn mapping_fields(mappings: Option<&Object>) -> BTreeMap<String, String> {
    match mappings.and_then(|m| m.get("properties")) {
        Some(Value::Object(p)) => field_types(p),
        _ => BTreeMap::new(),
    }
}

impl Cluster {
    /// Builds the model from `GET /_mapping` and `GET /_alias` answers and
    /// the template names.
    pub fn from_responses(mappings: &Value, aliases: &Value, templates: BTreeSet<String>) -> Self {
        let mut indices = BTreeMap::new();
        if let Some(map) = mappings.as_object() {
            for (name, body) in map {
                let fields = mapping_fields(body.get("mappings").and_then(Value::as_object));
                indices.insert(
                    name.clone(),
                    IndexState {
                        fields,
                        aliases: BTreeSet::new(),
                    },
                );
            }
        }
        if let Some(map) = aliases.as_object() {
            for (name, body) in map {
                let state = indices.entry(name.clone()).or_default();
                if let Some(Value::Object(a)) = body.get("aliases") {
                    state.aliases.extend(a.keys().cloned());
                }
            }
        }
        Cluster { indices, templates }
    }

    /// The indices an alias points at, in name order.
    pub fn alias_targets(&self, alias: &str) -> Vec<String> {
        self.indices
            .iter()
            .filter(|(_, s)| s.aliases.contains(alias))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn is_alias(&self, name: &str) -> bool {
        self.indices.values().any(|s| s.aliases.contains(name))
    }

    /// The concrete indices a name means: the index itself, or every index
    /// behind the alias.
    fn resolve(&self, name: &str, field: &str) -> Result<Vec<String>, Refusal> {
        if self.indices.contains_key(name) {
            return Ok(vec![name.to_string()]);
        }
        let targets = self.alias_targets(name);
        if targets.is_empty() {
            return Err((
                field.to_string(),
                format!("index or alias {name:?} does not exist"),
            ));
        }
        Ok(targets)
    }

    fn existing(&self, name: &str, field: &str) -> Result<(), Refusal> {
        if self.indices.contains_key(name) {
            Ok(())
        } else if self.is_alias(name) {
            Err((
                field.to_string(),
                format!("{name:?} is an alias; this operation needs the index itself"),
            ))
        } else {
            Err((field.to_string(), format!("index {name:?} does not exist")))
        }
    }

    fn absent(&self, name: &str, field: &str) -> Result<(), Refusal> {
        if self.indices.contains_key(name) {
            Err((field.to_string(), format!("index {name:?} already exists")))
        } else if self.is_alias(name) {
            Err((
                field.to_string(),
                format!("{name:?} is already an alias; an index cannot have its name"),
            ))
        } else {
            Ok(())
        }
    }

    fn create(&mut self, name: &str, mappings: Option<&Object>, aliases: Option<&Object>) {
        self.indices.insert(
            name.to_string(),
            IndexState {
                fields: mapping_fields(mappings),
                aliases: aliases
                    .map(|a| a.keys().cloned().collect())
                    .unwrap_or_default(),
            },
        );
    }

    /// Plays one operation on the model, or says why Elasticsearch would
    /// refuse it.
    pub fn apply(&mut self, op: &Operation) -> Result<(), Refusal> {
        match op {
            Operation::CreateIndex(o) => {
                self.absent(&o.index, ".index")?;
                if let Some(aliases) = &o.aliases {
                    for alias in aliases.keys() {
                        if self.indices.contains_key(alias) {
                            return Err((
                                format!(".aliases.{alias}"),
                                format!("{alias:?} is an index; an alias cannot have its name"),
                            ));
                        }
                    }
                }
                self.create(&o.index, o.mappings.as_ref(), o.aliases.as_ref());
            }
            Operation::DeleteIndex(o) => {
                self.existing(&o.index, ".index")?;
                self.indices.remove(&o.index);
            }
            Operation::PutMapping(o) => {
                let targets = self.resolve(&o.index, ".index")?;
                let new = field_types(&o.properties);
                for index in &targets {
                    let state = self.indices.get_mut(index).expect("resolved");
                    for (field, ty) in &new {
                        if let Some(old) = state.fields.get(field)
                            && old != ty
                        {
                            return Err((
                                format!(".properties.{field}"),
                                format!(
                                    "field {field:?} is {old} in index {index:?} and this would make it \
                                     {ty}: Elasticsearch cannot change a field's type in place; use \
                                     reindex (a new index with the new mapping, then an alias switch)"
                                ),
                            ));
                        }
                    }
                    state.fields.extend(new.clone());
                }
            }
            Operation::PutSettings(o) => {
                self.resolve(&o.index, ".index")?;
            }
            Operation::PutAlias(o) => {
                self.existing(&o.index, ".index")?;
                if self.indices.contains_key(&o.alias) {
                    return Err((
                        ".alias".into(),
                        format!("{:?} is an index; an alias cannot have its name", o.alias),
                    ));
                }
                let state = self.indices.get_mut(&o.index).expect("checked");
                state.aliases.insert(o.alias.clone());
            }
            Operation::DeleteAlias(o) => {
                self.existing(&o.index, ".index")?;
                let state = self.indices.get_mut(&o.index).expect("checked");
                if !state.aliases.remove(&o.alias) {
                    return Err((
                        ".alias".into(),
                        format!("index {:?} has no alias {:?}", o.index, o.alias),
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
                if self.indices.contains_key(&o.alias) {
                    return Err((
                        ".alias".into(),
                        format!("{:?} is an index, not an alias", o.alias),
                    ));
                }
                let losers = match &o.from {
                    Some(from) => {
                        self.existing(from, ".from")?;
                        if !self.indices[from].aliases.contains(&o.alias) {
                            return Err((
                                ".from".into(),
                                format!("index {from:?} has no alias {:?}", o.alias),
                            ));
                        }
                        vec![from.clone()]
                    }
                    None => self.alias_targets(&o.alias),
                };
                for index in losers {
                    self.indices
                        .get_mut(&index)
                        .expect("listed")
                        .aliases
                        .remove(&o.alias);
                }
                let to = self.indices.get_mut(&o.to).expect("checked");
                to.aliases.insert(o.alias.clone());
            }
            Operation::PutIndexTemplate(o) => {
                self.templates.insert(o.name.clone());
            }
            Operation::DeleteIndexTemplate(o) => {
                if !self.templates.remove(&o.name) {
                    return Err((
                        ".name".into(),
                        format!("index template {:?} does not exist", o.name),
                    ));
                }
            }
            Operation::Reindex(o) => {
                let source = self.reindex_source(o)?;
                self.absent(&o.to, ".to")?;
                self.create(&o.to, o.mappings.as_ref(), None);
                for index in self.alias_targets(&o.alias) {
                    self.indices
                        .get_mut(&index)
                        .expect("listed")
                        .aliases
                        .remove(&o.alias);
                }
                self.indices
                    .get_mut(&o.to)
                    .expect("created")
                    .aliases
                    .insert(o.alias.clone());
                if o.delete_source {
                    self.indices.remove(&source);
                }
            }
        }
        Ok(())
    }

    /// The index a `reindex` copies from: `from`, or the one index behind
    /// the alias.
    pub fn reindex_source(&self, o: &super::ops::Reindex) -> Result<String, Refusal> {
        if self.indices.contains_key(&o.alias) {
            return Err((
                ".alias".into(),
                format!("{:?} is an index, not an alias", o.alias),
            ));
        }
        match &o.from {
            Some(from) => {
                self.existing(from, ".from")?;
                Ok(from.clone())
            }
            None => match self.alias_targets(&o.alias).as_slice() {
                [one] => Ok(one.clone()),
                [] => Err((
                    ".alias".into(),
                    format!(
                        "alias {:?} points at no index; name the source in `from`",
                        o.alias
                    ),
                )),
                many => Err((
                    ".alias".into(),
                    format!(
                        "alias {:?} points at several indices ({}); name the source in `from`",
                        o.alias,
                        many.join(", ")
                    ),
                )),
            },
        }
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
    use serde_json::json;

    fn live() -> Cluster {
        Cluster::from_responses(
            &json!({
                "messages_v1": {"mappings": {"properties": {
                    "user_id": {"type": "keyword"},
                    "body": {"type": "text"},
                    "meta": {"properties": {"lang": {"type": "keyword"}}}
                }}},
                "other": {"mappings": {}}
            }),
            &json!({
                "messages_v1": {"aliases": {"messages": {}}},
                "other": {"aliases": {}}
            }),
            BTreeSet::from(["logs".to_string()]),
        )
    }

    fn run(text: &str) -> Result<Cluster, String> {
        let mut c = live();
        for (i, op) in parse(text).unwrap().iter().enumerate() {
            c.apply(op)
                .map_err(|(p, m)| format!("$[{i}].{}{p}: {m}", op.name()))?;
        }
        Ok(c)
    }

    #[test]
    fn reads_fields_and_aliases() {
        let c = live();
        assert_eq!(c.indices["messages_v1"].fields["meta.lang"], "keyword");
        assert_eq!(c.indices["messages_v1"].fields["meta"], "object");
        assert_eq!(c.alias_targets("messages"), ["messages_v1"]);
    }

    #[test]
    fn a_type_change_through_an_alias_is_refused_with_reindex_advice() {
        let e = run(r#"[{"put_mapping": {"index": "messages", "properties": {"user_id": {"type": "text"}}}}]"#)
            .unwrap_err();
        assert!(
            e.starts_with("$[0].put_mapping.properties.user_id: field \"user_id\" is keyword"),
            "{e}"
        );
        assert!(e.contains("use reindex"), "{e}");
        let e = run(r#"[{"put_mapping": {"index": "messages_v1", "properties": {"meta": {"properties": {"lang": {"type": "text"}}}}}}]"#)
            .unwrap_err();
        assert!(e.contains("properties.meta.lang"), "{e}");
    }

    #[test]
    fn adding_fields_and_same_type_are_accepted() {
        let c = run(r#"[{"put_mapping": {"index": "messages", "properties": {"user_id": {"type": "keyword", "ignore_above": 64}, "lang": {"type": "keyword"}}}}]"#)
            .unwrap();
        assert_eq!(c.indices["messages_v1"].fields["lang"], "keyword");
    }

    #[test]
    fn later_operations_see_earlier_ones() {
        // The type of a field added earlier in the run cannot change later either.
        let e = run(
            r#"[{"create_index": {"index": "n", "mappings": {"properties": {"a": {"type": "long"}}}}},
                {"put_mapping": {"index": "n", "properties": {"a": {"type": "keyword"}}}}]"#,
        )
        .unwrap_err();
        assert!(e.starts_with("$[1].put_mapping.properties.a"), "{e}");
        run(r#"[{"create_index": {"index": "n"}}, {"put_alias": {"index": "n", "alias": "nn"}}, {"switch_alias": {"alias": "messages", "to": "n"}}]"#)
            .unwrap();
    }

    #[test]
    fn missing_things_are_refused() {
        let e =
            run(r#"[{"switch_alias": {"alias": "messages", "to": "messages_v2"}}]"#).unwrap_err();
        assert_eq!(
            e,
            "$[0].switch_alias.to: cannot switch alias \"messages\" to it: index \"messages_v2\" does not exist"
        );
        let e =
            run(r#"[{"put_settings": {"index": "nope", "settings": {"refresh_interval": "1s"}}}]"#)
                .unwrap_err();
        assert_eq!(
            e,
            "$[0].put_settings.index: index or alias \"nope\" does not exist"
        );
        let e = run(r#"[{"delete_index": {"index": "messages"}}]"#).unwrap_err();
        assert!(e.contains("is an alias"), "{e}");
        let e = run(r#"[{"delete_index_template": {"name": "nope"}}]"#).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = run(r#"[{"delete_alias": {"index": "other", "alias": "messages"}}]"#).unwrap_err();
        assert!(e.contains("has no alias"), "{e}");
        let e = run(r#"[{"create_index": {"index": "messages"}}]"#).unwrap_err();
        assert!(e.contains("already an alias"), "{e}");
    }

    #[test]
    fn reindex_moves_the_alias_and_may_drop_the_source() {
        let c = run(
            r#"[{"reindex": {"alias": "messages", "to": "messages_v2", "delete_source": true}}]"#,
        )
        .unwrap();
        assert_eq!(c.alias_targets("messages"), ["messages_v2"]);
        assert!(!c.indices.contains_key("messages_v1"));
        let e = run(r#"[{"reindex": {"alias": "nothing", "to": "x"}}]"#).unwrap_err();
        assert!(e.contains("points at no index"), "{e}");
        let e = run(r#"[{"reindex": {"alias": "messages", "to": "other"}}]"#).unwrap_err();
        assert!(e.contains("already exists"), "{e}");
    }
}
