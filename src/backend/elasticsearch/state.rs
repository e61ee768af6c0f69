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
mod tests;
