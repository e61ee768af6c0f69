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

/// One index: its field types (dotted paths), its aliases and the
/// pipelines its settings name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexState {
    /// `user.name` → `keyword`; object fields without a type are `object`.
    pub fields: BTreeMap<String, String>,
    /// Aliases pointing at this index.
    pub aliases: BTreeSet<String>,
    /// `default_pipeline` / `final_pipeline` → the pipeline's id.
    pub pipelines: BTreeMap<String, String>,
    /// Aliases for which this index is the write index (`is_write_index`).
    pub write_aliases: BTreeSet<String>,
}

/// The parts of a cluster the operations touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    /// Concrete indices by name.
    pub indices: BTreeMap<String, IndexState>,
    /// Composable index templates, with the component templates each is
    /// composed of.
    pub templates: BTreeMap<String, Vec<String>>,
    /// Component template names.
    pub components: BTreeSet<String>,
    /// Ingest pipeline ids.
    pub pipelines: BTreeSet<String>,
    /// The ingest processor types every node has; `None` when unknown
    /// (then processors are not checked).
    pub processors: Option<BTreeSet<String>>,
}

/// The aliases of an `aliases` object marked `is_write_index: true`. Pure.
fn writes(aliases: &Object) -> impl Iterator<Item = String> + '_ {
    aliases
        .iter()
        .filter(|(_, body)| body.get("is_write_index") == Some(&Value::Bool(true)))
        .map(|(name, _)| name.clone())
}

/// The pipelines index settings name, by setting (`default_pipeline`,
/// `final_pipeline`), however the settings are nested; `_none` and null
/// mean no pipeline (an empty id here). Pure.
pub fn pipeline_settings(settings: &Object) -> BTreeMap<String, String> {
    super::ops::flatten(settings)
        .into_iter()
        .filter_map(|(key, value)| {
            let key = key.strip_prefix("index.").unwrap_or(&key);
            let id = value.as_str().filter(|id| *id != "_none").unwrap_or("");
            (key == "default_pipeline" || key == "final_pipeline")
                .then(|| (key.to_string(), id.to_string()))
        })
        .collect()
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
    pub fn from_responses(
        mappings: &Value,
        aliases: &Value,
        templates: BTreeMap<String, Vec<String>>,
    ) -> Self {
        let mut indices = BTreeMap::new();
        if let Some(map) = mappings.as_object() {
            for (name, body) in map {
                let fields = mapping_fields(body.get("mappings").and_then(Value::as_object));
                indices.insert(
                    name.clone(),
                    IndexState {
                        fields,
                        ..IndexState::default()
                    },
                );
            }
        }
        if let Some(map) = aliases.as_object() {
            for (name, body) in map {
                let state = indices.entry(name.clone()).or_default();
                if let Some(Value::Object(a)) = body.get("aliases") {
                    state.aliases.extend(a.keys().cloned());
                    state.write_aliases.extend(writes(a));
                }
            }
        }
        Cluster {
            indices,
            templates,
            ..Cluster::default()
        }
    }

    /// Records the pipelines each index's settings name, from a
    /// `GET /_settings?flat_settings=true` answer.
    pub fn with_settings(mut self, settings: &Value) -> Self {
        for (name, body) in settings.as_object().into_iter().flatten() {
            if let (Some(state), Some(Value::Object(s))) =
                (self.indices.get_mut(name), body.get("settings"))
            {
                state.pipelines = pipeline_settings(s);
                state.pipelines.retain(|_, id| !id.is_empty());
            }
        }
        self
    }

    /// Writes through an alias that points at several indices need one of
    /// them to be its write index.
    fn writable(&self, name: &str, targets: &[String]) -> Result<(), Refusal> {
        if self.indices.contains_key(name)
            || targets.len() < 2
            || targets
                .iter()
                .any(|t| self.indices[t].write_aliases.contains(name))
        {
            return Ok(());
        }
        Err((
            ".index".into(),
            format!(
                "alias {name:?} points at several indices ({}) and none is its write index: \
                 Elasticsearch would refuse every document (give one `is_write_index: true` \
                 with put_alias)",
                targets.join(", ")
            ),
        ))
    }

    /// Every pipeline named by the settings of the indices behind
    /// `targets` must exist, or every document written would be refused.
    fn pipelines_exist(&self, targets: &[String]) -> Result<(), Refusal> {
        for index in targets {
            for (setting, id) in &self.indices[index].pipelines {
                if !self.pipelines.contains(id) {
                    return Err((
                        ".index".into(),
                        format!(
                            "index {index:?} has {setting} {id:?}, which does not exist: \
                             Elasticsearch would refuse every document"
                        ),
                    ));
                }
            }
        }
        Ok(())
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

    fn create(
        &mut self,
        name: &str,
        settings: Option<&Object>,
        mappings: Option<&Object>,
        aliases: Option<&Object>,
    ) {
        let mut pipelines = settings.map(pipeline_settings).unwrap_or_default();
        pipelines.retain(|_, id| !id.is_empty());
        self.indices.insert(
            name.to_string(),
            IndexState {
                fields: mapping_fields(mappings),
                aliases: aliases
                    .map(|a| a.keys().cloned().collect())
                    .unwrap_or_default(),
                pipelines,
                write_aliases: aliases.into_iter().flat_map(writes).collect(),
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
                self.create(
                    &o.index,
                    o.settings.as_ref(),
                    o.mappings.as_ref(),
                    o.aliases.as_ref(),
                );
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
                let changed = pipeline_settings(&o.settings);
                for index in self.resolve(&o.index, ".index")? {
                    let state = self.indices.get_mut(&index).expect("resolved");
                    for (setting, id) in &changed {
                        if id.is_empty() {
                            state.pipelines.remove(setting);
                        } else {
                            state.pipelines.insert(setting.clone(), id.clone());
                        }
                    }
                }
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
                if o.is_write_index == Some(true) {
                    state.write_aliases.insert(o.alias.clone());
                } else {
                    state.write_aliases.remove(&o.alias);
                }
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
                to.write_aliases.remove(&o.alias);
            }
            Operation::PutIndexTemplate(o) => {
                let composed = o.composed_of.clone().unwrap_or_default();
                let optional = o.ignore_missing_component_templates.as_deref();
                for (i, c) in composed.iter().enumerate() {
                    if !self.components.contains(c) && !optional.is_some_and(|l| l.contains(c)) {
                        return Err((
                            format!(".composed_of[{i}]"),
                            format!(
                                "component template {c:?} does not exist: create it with \
                                 put_component_template in this or an earlier file"
                            ),
                        ));
                    }
                }
                self.templates.insert(o.name.clone(), composed);
            }
            Operation::DeleteIndexTemplate(o) => {
                if self.templates.remove(&o.name).is_none() {
                    return Err((
                        ".name".into(),
                        format!("index template {:?} does not exist", o.name),
                    ));
                }
            }
            Operation::PutComponentTemplate(o) => {
                self.components.insert(o.name.clone());
            }
            Operation::DeleteComponentTemplate(o) => {
                if !self.components.contains(&o.name) {
                    return Err((
                        ".name".into(),
                        format!("component template {:?} does not exist", o.name),
                    ));
                }
                let users: Vec<&str> = self
                    .templates
                    .iter()
                    .filter(|(_, parts)| parts.contains(&o.name))
                    .map(|(t, _)| t.as_str())
                    .collect();
                if !users.is_empty() {
                    return Err((
                        ".name".into(),
                        format!(
                            "component template {:?} is used by index template(s) {}: delete \
                             or change those first",
                            o.name,
                            users.join(", ")
                        ),
                    ));
                }
                self.components.remove(&o.name);
            }
            Operation::PutPipeline(o) => {
                if let Some(available) = &self.processors {
                    for (path, kind) in super::ops::ingest::processor_types(o) {
                        if !available.contains(&kind) {
                            return Err((
                                path,
                                format!(
                                    "processor type {kind:?} is not available on this cluster \
                                     (its nodes have: {})",
                                    available.iter().cloned().collect::<Vec<_>>().join(", ")
                                ),
                            ));
                        }
                    }
                }
                self.pipelines.insert(o.id.clone());
            }
            Operation::DeletePipeline(o) => {
                if !self.pipelines.contains(&o.id) {
                    return Err((".id".into(), format!("pipeline {:?} does not exist", o.id)));
                }
                let users: Vec<&str> = self
                    .indices
                    .iter()
                    .filter(|(_, s)| s.pipelines.values().any(|p| *p == o.id))
                    .map(|(i, _)| i.as_str())
                    .collect();
                if !users.is_empty() {
                    return Err((
                        ".id".into(),
                        format!(
                            "pipeline {:?} is the default or final pipeline of index(es) {}: \
                             change their settings first",
                            o.id,
                            users.join(", ")
                        ),
                    ));
                }
                self.pipelines.remove(&o.id);
            }
            Operation::IndexDocuments(o) => {
                let targets = self.resolve(&o.index, ".index").map_err(|(p, m)| {
                    (
                        p,
                        format!(
                            "{m}: create it first (create_index), so its mapping is yours and \
                             not guessed from the documents"
                        ),
                    )
                })?;
                self.writable(&o.index, &targets)?;
                self.pipelines_exist(&targets)?;
            }
            Operation::UpdateByQuery(o) => {
                let targets = self.resolve(&o.index, ".index")?;
                self.pipelines_exist(&targets)?;
            }
            Operation::DeleteDocuments(o) => {
                self.resolve(&o.index, ".index")?;
            }
            Operation::DeleteByQuery(o) => {
                self.resolve(&o.index, ".index")?;
            }
            // Not modelled: later operations are checked as if it had not run.
            Operation::Request(_) => {}
            Operation::Reindex(o) => {
                let source = self.reindex_source(o)?;
                self.absent(&o.to, ".to")?;
                self.create(&o.to, o.settings.as_ref(), o.mappings.as_ref(), None);
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
            BTreeMap::from([("logs".to_string(), Vec::new())]),
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

    fn ingest_live() -> Cluster {
        let mut c = live().with_settings(&json!({
            "messages_v1": {"settings": {"index.default_pipeline": "stamp"}},
            "other": {"settings": {}}
        }));
        c.components = BTreeSet::from(["base".to_string()]);
        c.templates.insert("logs".into(), vec!["base".to_string()]);
        c.pipelines = BTreeSet::from(["stamp".to_string()]);
        c.processors = Some(BTreeSet::from(["set".to_string(), "rename".to_string()]));
        c
    }

    fn run_on(mut c: Cluster, text: &str) -> Result<Cluster, String> {
        for (i, op) in parse(text).unwrap().iter().enumerate() {
            c.apply(op)
                .map_err(|(p, m)| format!("$[{i}].{}{p}: {m}", op.name()))?;
        }
        Ok(c)
    }

    #[test]
    fn composed_templates_need_their_components_first() {
        let e = run_on(
            ingest_live(),
            r#"[{"put_index_template": {"name": "t", "index_patterns": ["t-*"], "composed_of": ["base", "extra"]}}]"#,
        )
        .unwrap_err();
        assert!(
            e.starts_with("$[0].put_index_template.composed_of[1]: component template \"extra\" does not exist"),
            "{e}"
        );
        // Created earlier in the same run, or allowed to be missing: fine.
        run_on(
            ingest_live(),
            r#"[{"put_component_template": {"name": "extra", "template": {}}},
                {"put_index_template": {"name": "t", "index_patterns": ["t-*"], "composed_of": ["base", "extra"]}}]"#,
        )
        .unwrap();
        run_on(
            ingest_live(),
            r#"[{"put_index_template": {"name": "t", "index_patterns": ["t-*"], "composed_of": ["gone"], "ignore_missing_component_templates": ["gone"]}}]"#,
        )
        .unwrap();
    }

    #[test]
    fn a_component_in_use_cannot_be_deleted() {
        let e = run_on(
            ingest_live(),
            r#"[{"delete_component_template": {"name": "base"}}]"#,
        )
        .unwrap_err();
        assert!(e.contains("used by index template(s) logs"), "{e}");
        run_on(
            ingest_live(),
            r#"[{"delete_index_template": {"name": "logs"}}, {"delete_component_template": {"name": "base"}}]"#,
        )
        .unwrap();
        let e = run_on(
            ingest_live(),
            r#"[{"delete_component_template": {"name": "nope"}}]"#,
        )
        .unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn pipelines_are_checked_against_processors_and_users() {
        let e = run_on(
            ingest_live(),
            r#"[{"put_pipeline": {"id": "p", "processors": [{"set": {"field": "a", "value": 1}}, {"lowercase": {"field": "b"}}]}}]"#,
        )
        .unwrap_err();
        assert!(
            e.starts_with("$[0].put_pipeline.processors[1].lowercase: processor type \"lowercase\" is not available"),
            "{e}"
        );
        let e = run_on(ingest_live(), r#"[{"delete_pipeline": {"id": "stamp"}}]"#).unwrap_err();
        assert!(
            e.contains("default or final pipeline of index(es) messages_v1"),
            "{e}"
        );
        run_on(
            ingest_live(),
            r#"[{"put_settings": {"index": "messages", "settings": {"index": {"default_pipeline": "_none"}}}},
                {"delete_pipeline": {"id": "stamp"}}]"#,
        )
        .unwrap();
        let e = run_on(ingest_live(), r#"[{"delete_pipeline": {"id": "nope"}}]"#).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn writes_through_an_alias_of_several_indices_need_a_write_index() {
        let two = r#"[{"create_index": {"index": "a1", "aliases": {"both": {}}}},
                      {"create_index": {"index": "a2", "aliases": {"both": {}}}},
                      {"index_documents": {"index": "both", "documents": [{"x": 1}]}}]"#;
        let e = run_on(ingest_live(), two).unwrap_err();
        assert!(
            e.starts_with(
                "$[2].index_documents.index: alias \"both\" points at several indices (a1, a2)"
            ),
            "{e}"
        );
        run_on(
            ingest_live(),
            r#"[{"create_index": {"index": "a1", "aliases": {"both": {"is_write_index": true}}}},
                {"create_index": {"index": "a2", "aliases": {"both": {}}}},
                {"index_documents": {"index": "both", "documents": [{"x": 1}]}},
                {"put_alias": {"index": "a2", "alias": "both", "is_write_index": true}},
                {"put_alias": {"index": "a1", "alias": "both", "is_write_index": false}},
                {"index_documents": {"index": "both", "documents": [{"x": 2}]}}]"#,
        )
        .unwrap();
        // The live model reads the flag from GET /_alias.
        let c = Cluster::from_responses(
            &json!({"b1": {"mappings": {}}, "b2": {"mappings": {}}}),
            &json!({"b1": {"aliases": {"b": {"is_write_index": true}}}, "b2": {"aliases": {"b": {}}}}),
            BTreeMap::new(),
        );
        run_on(
            c,
            r#"[{"index_documents": {"index": "b", "documents": [{"x": 1}]}}]"#,
        )
        .unwrap();
    }

    #[test]
    fn documents_need_their_index_and_its_pipelines() {
        let e = run_on(
            ingest_live(),
            r#"[{"index_documents": {"index": "nowhere", "documents": [{"a": 1}]}}]"#,
        )
        .unwrap_err();
        assert!(e.contains("create it first"), "{e}");
        let e = run_on(
            ingest_live(),
            r#"[{"create_index": {"index": "n", "settings": {"default_pipeline": "later"}}},
                {"index_documents": {"index": "n", "documents": [{"a": 1}]}}]"#,
        )
        .unwrap_err();
        assert!(
            e.starts_with("$[1].index_documents.index: index \"n\" has default_pipeline \"later\", which does not exist"),
            "{e}"
        );
        run_on(
            ingest_live(),
            r#"[{"put_pipeline": {"id": "later", "processors": []}},
                {"create_index": {"index": "n", "settings": {"default_pipeline": "later"}}},
                {"index_documents": {"index": "n", "documents": [{"a": 1}]}},
                {"update_by_query": {"index": "n"}},
                {"delete_documents": {"index": "n", "ids": ["1"]}},
                {"delete_by_query": {"index": "messages", "query": {"match_all": {}}}},
                {"request": {"method": "PUT", "path": "/_cluster/settings", "body": {}}}]"#,
        )
        .unwrap();
    }
}
