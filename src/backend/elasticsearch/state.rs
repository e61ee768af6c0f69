//! The cluster as the pending operations will find it, for checking them
//! before the first one runs.
//!
//! The backend reads the live indices, mappings, aliases and templates once;
//! [`Cluster::apply`] then plays every pending operation on that model, in
//! order, and refuses what Elasticsearch would refuse half-way through the
//! run: an operation on an index that does not exist, a field type change
//! (which only a reindex can make), an alias switch to a missing index, an
//! index template whose patterns overlap another's of the same priority.
//! Pure, so every rule is unit-tested here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::distribution::Distribution;
use super::ops::{Object, Operation, Script};
use super::patterns;

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
    /// Aliases for which this index is the write index (`is_write_index:
    /// true`).
    pub write_aliases: BTreeSet<String>,
    /// Aliases through which this index takes no writes (`is_write_index:
    /// false`), even when it is the alias's only index.
    pub read_only_aliases: BTreeSet<String>,
    /// The lifecycle policy its settings attach it to
    /// (`index.lifecycle.name`, Elasticsearch's ILM).
    pub lifecycle: Option<String>,
}

/// One composable index template, as far as the checks need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    /// `index_patterns`.
    pub patterns: Vec<String>,
    /// `priority`; Elasticsearch counts an absent one as 0.
    pub priority: u64,
    /// The component templates it is composed of.
    pub composed_of: Vec<String>,
    /// For a data-stream template, the timestamp field its documents need.
    pub data_stream: Option<String>,
}

impl Template {
    /// The templates of a `GET /_index_template` answer, by name. Pure.
    pub fn from_response(answer: &Value) -> BTreeMap<String, Template> {
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        answer
            .get("index_templates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let name = t.get("name")?.as_str()?.to_string();
                let body = t.get("index_template")?;
                Some((
                    name,
                    Template {
                        patterns: strings(body.get("index_patterns")),
                        priority: body.get("priority").and_then(Value::as_u64).unwrap_or(0),
                        composed_of: strings(body.get("composed_of")),
                        data_stream: body
                            .get("data_stream")
                            .filter(|d| d.is_object())
                            .map(super::ops::streams::timestamp_field),
                    },
                ))
            })
            .collect()
    }
}

/// The parts of a cluster the operations touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    /// Concrete indices by name.
    pub indices: BTreeMap<String, IndexState>,
    /// Composable index templates by name.
    pub templates: BTreeMap<String, Template>,
    /// Component template names.
    pub components: BTreeSet<String>,
    /// Ingest pipeline ids.
    pub pipelines: BTreeSet<String>,
    /// The ingest processor types every node has; `None` when unknown
    /// (then processors are not checked).
    pub processors: Option<BTreeSet<String>>,
    /// The modules every node has (`reindex`, `lang-painless`, …); `None`
    /// when unknown (then scripts are not checked).
    pub modules: Option<BTreeSet<String>>,
    /// Which server it is, where their rules differ.
    pub distribution: Distribution,
    /// Data streams by name; `None` when the cluster has no data streams
    /// (Elasticsearch without its data-streams module).
    pub data_streams: Option<BTreeMap<String, DataStream>>,
    /// Lifecycle policy names (ILM or ISM); `None` when the cluster has
    /// neither.
    pub lifecycles: Option<BTreeSet<String>>,
}

/// The aliases of an `aliases` object marked `is_write_index: flag`. Pure.
fn marked(aliases: &Object, flag: bool) -> impl Iterator<Item = String> + '_ {
    aliases
        .iter()
        .filter(move |(_, body)| body.get("is_write_index") == Some(&Value::Bool(flag)))
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
        templates: BTreeMap<String, Template>,
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
                    state.write_aliases.extend(marked(a, true));
                    state.read_only_aliases.extend(marked(a, false));
                }
            }
        }
        Cluster {
            indices,
            templates,
            ..Cluster::default()
        }
    }

    /// Records the pipelines and the lifecycle policy each index's settings
    /// name, from a
    /// `GET /_settings?flat_settings=true` answer.
    pub fn with_settings(mut self, settings: &Value) -> Self {
        for (name, body) in settings.as_object().into_iter().flatten() {
            if let (Some(state), Some(Value::Object(s))) =
                (self.indices.get_mut(name), body.get("settings"))
            {
                state.pipelines = pipeline_settings(s);
                state.pipelines.retain(|_, id| !id.is_empty());
                state.lifecycle = super::ops::lifecycle::setting(s).flatten();
            }
        }
        self
    }

    /// Writes through an alias need its write index: one marked
    /// `is_write_index: true`, or its only index unless that one is marked
    /// `false`.
    fn writable(&self, name: &str, targets: &[String]) -> Result<(), Refusal> {
        let marked_true = |t: &String| self.indices[t].write_aliases.contains(name);
        let marked_false = |t: &String| self.indices[t].read_only_aliases.contains(name);
        let why = match targets {
            _ if self.indices.contains_key(name) || targets.iter().any(marked_true) => {
                return Ok(());
            }
            [only] if marked_false(only) => {
                format!("its only index {only:?} has `is_write_index: false`")
            }
            [_] => return Ok(()),
            _ => format!(
                "it points at several indices ({}) and none is its write index",
                targets.join(", ")
            ),
        };
        Err((
            ".index".into(),
            format!(
                "alias {name:?} has no write index: {why}; Elasticsearch would refuse every \
                 document (give one index `is_write_index: true` with put_alias)"
            ),
        ))
    }

    /// An alias has at most one write index: making `index` its write
    /// index while another index is fails on the server.
    fn one_write_index(&self, alias: &str, index: &str, field: &str) -> Result<(), Refusal> {
        match self.indices.iter().find(|(name, s)| {
            name.as_str() != index && s.aliases.contains(alias) && s.write_aliases.contains(alias)
        }) {
            Some((other, _)) => Err((
                field.to_string(),
                format!(
                    "alias {alias:?} already has write index {other:?}: Elasticsearch refuses a \
                     second one (put_alias {other:?} with `is_write_index: false` first)"
                ),
            )),
            None => Ok(()),
        }
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

    /// A script runs only in the server's `_reindex`/`_update_by_query`
    /// and needs its language's module; a named pipeline must exist.
    fn rewrite_runs(&self, script: Option<&Script>, pipeline: Option<&str>) -> Result<(), Refusal> {
        if let (Some(script), Some(modules)) = (script, &self.modules) {
            for needed in ["reindex".to_string(), script.module()] {
                if !modules.contains(&needed) {
                    return Err((
                        ".script".into(),
                        format!(
                            "a script needs the {needed} module, which this cluster's nodes lack \
                             (they have: {}); strata's own copy cannot run scripts",
                            modules.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
        }
        if let Some(id) = pipeline
            && !self.pipelines.contains(id)
        {
            return Err((
                ".pipeline".into(),
                format!("pipeline {id:?} does not exist"),
            ));
        }
        Ok(())
    }

    /// Elasticsearch refuses a template when one index name could match
    /// both it and another template of the same priority (replacing a
    /// template by its own name does not count).
    fn no_overlap(&self, name: &str, new: &Template) -> Result<(), Refusal> {
        for (other, t) in &self.templates {
            if other == name || t.priority != new.priority {
                continue;
            }
            let overlap = if self.distribution.literal_template_overlap() {
                patterns::literal_overlap
            } else {
                patterns::overlap
            };
            for (i, mine) in new.patterns.iter().enumerate() {
                if let Some(theirs) = t.patterns.iter().find(|p| overlap(mine, p)) {
                    return Err((
                        format!(".index_patterns[{i}]"),
                        format!(
                            "pattern {mine:?} overlaps pattern {theirs:?} of index template \
                             {other:?}, which has the same priority ({}): {} refuses two \
                             templates that could match one index at equal priority; give this \
                             one a different `priority`",
                            new.priority,
                            self.distribution.name()
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
        if let Some(stream) = self.streams().get(name) {
            return Ok(stream.backing.clone());
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
        if self.is_stream(name) {
            Err((field.to_string(), format!("{name:?} is a data stream")))
        } else if self.indices.contains_key(name) {
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
                write_aliases: aliases.into_iter().flat_map(|a| marked(a, true)).collect(),
                read_only_aliases: aliases.into_iter().flat_map(|a| marked(a, false)).collect(),
                lifecycle: settings.and_then(super::ops::lifecycle::setting).flatten(),
            },
        );
    }

    /// Plays one operation on the model, or says why Elasticsearch would
    /// refuse it.
    pub fn apply(&mut self, op: &Operation) -> Result<(), Refusal> {
        match op {
            Operation::CreateIndex(o) => {
                self.absent(&o.index, ".index")?;
                self.not_claimed_by_a_stream(&o.index)?;
                if let Some(aliases) = &o.aliases {
                    for alias in aliases.keys() {
                        if self.indices.contains_key(alias) {
                            return Err((
                                format!(".aliases.{alias}"),
                                format!("{alias:?} is an index; an alias cannot have its name"),
                            ));
                        }
                    }
                    for alias in marked(aliases, true) {
                        self.one_write_index(&alias, &o.index, &format!(".aliases.{alias}"))?;
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
                self.not_backing(&o.index)?;
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
                let lifecycle = super::ops::lifecycle::setting(&o.settings);
                for index in self.resolve(&o.index, ".index")? {
                    let state = self.indices.get_mut(&index).expect("resolved");
                    if let Some(policy) = &lifecycle {
                        state.lifecycle = policy.clone();
                    }
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
                if o.is_write_index == Some(true) {
                    self.one_write_index(&o.alias, &o.index, ".is_write_index")?;
                }
                let state = self.indices.get_mut(&o.index).expect("checked");
                state.aliases.insert(o.alias.clone());
                state.write_aliases.remove(&o.alias);
                state.read_only_aliases.remove(&o.alias);
                match o.is_write_index {
                    Some(true) => state.write_aliases.insert(o.alias.clone()),
                    Some(false) => state.read_only_aliases.insert(o.alias.clone()),
                    None => false,
                };
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
                to.read_only_aliases.remove(&o.alias);
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
                let template = Template {
                    patterns: o.index_patterns.clone(),
                    priority: o.priority.unwrap_or(0),
                    composed_of: composed,
                    data_stream: o
                        .data_stream
                        .as_ref()
                        .map(|d| super::ops::streams::timestamp_field(&Value::Object(d.clone()))),
                };
                self.no_overlap(&o.name, &template)?;
                self.templates.insert(o.name.clone(), template);
            }
            Operation::DeleteIndexTemplate(o) => {
                self.template_unused(&o.name)?;
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
                    .filter(|(_, t)| t.composed_of.contains(&o.name))
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
                if !users.is_empty() && self.distribution.refuses_deleting_pipelines_in_use() {
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
            Operation::IndexDocuments(o) if self.is_stream(&o.index) => {
                self.stream_documents(o)?;
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
                self.rewrite_runs(o.script.as_ref(), o.pipeline.as_deref())?;
            }
            Operation::DeleteDocuments(o) => {
                self.not_a_stream(&o.index, "delete_documents")?;
                self.resolve(&o.index, ".index")?;
            }
            Operation::DeleteByQuery(o) => {
                self.resolve(&o.index, ".index")?;
            }
            // Not modelled: later operations are checked as if it had not run.
            Operation::Request(_) => {}
            Operation::CreateDataStream(o) => self.create_stream(&o.name)?,
            Operation::DeleteDataStream(o) => self.delete_stream(&o.name)?,
            Operation::PutLifecycle(o) => self.put_lifecycle(o)?,
            Operation::DeleteLifecycle(o) => self.delete_lifecycle(&o.name)?,
            Operation::Reindex(o) => {
                let source = self.reindex_source(o)?;
                self.rewrite_runs(o.script.as_ref(), o.pipeline.as_deref())?;
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

mod lifecycle;
mod streams;
pub use streams::DataStream;

#[cfg(test)]
mod tests;
