//! What an Elasticsearch migration file may say: a JSON array of
//! operations, each an object with one key naming the operation.
//!
//! ```json
//! [
//!   {"create_index": {"index": "messages_v1", "mappings": {"properties": {"body": {"type": "text"}}}}},
//!   {"put_alias": {"index": "messages_v1", "alias": "messages"}}
//! ]
//! ```
//!
//! Parsing is pure and strict (unknown operations and fields are refused),
//! and every error carries the JSON path of the offending value, so the
//! message can say `$[1].put_alias.alias` rather than "somewhere".

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::operations;
pub use crate::operations::OpError;

pub mod documents;
pub mod ingest;
pub mod lifecycle;
pub mod reindex;
pub mod request;
pub mod streams;

pub use documents::{Conflicts, DeleteByQuery, DeleteDocuments, IndexDocuments, UpdateByQuery};
pub use ingest::{ComponentOnly, PipelineOnly, PutComponentTemplate, PutPipeline};
pub use lifecycle::{LifecycleOnly, PutLifecycle};
pub use reindex::{DEFAULT_BATCH_SIZE, Reindex, Script};
pub use request::{HttpMethod, Request};
pub use streams::DataStreamOnly;

/// A JSON object, kept as written: settings and mappings are Elasticsearch's
/// own language, passed through unchanged.
pub type Object = Map<String, Value>;

/// One operation of a migration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Creates an index with its settings, mappings and aliases.
    CreateIndex(CreateIndex),
    /// Deletes an index (a concrete index, never an alias or a pattern).
    DeleteIndex(IndexOnly),
    /// Adds fields to the mapping of an index (or of every index behind an alias).
    PutMapping(PutMapping),
    /// Changes index settings, closing and reopening the index when a
    /// setting can only change on a closed index.
    PutSettings(PutSettings),
    /// Points an alias at an index.
    PutAlias(PutAlias),
    /// Removes an alias from an index.
    DeleteAlias(DeleteAlias),
    /// Moves an alias to another index in one atomic `_aliases` request.
    SwitchAlias(SwitchAlias),
    /// Creates or replaces a composable index template.
    PutIndexTemplate(PutIndexTemplate),
    /// Deletes a composable index template.
    DeleteIndexTemplate(TemplateOnly),
    /// Creates a new index, copies every document into it, checks the
    /// count, then switches the alias atomically.
    Reindex(Reindex),
    /// Creates or replaces a component template.
    PutComponentTemplate(PutComponentTemplate),
    /// Deletes a component template no index template uses.
    DeleteComponentTemplate(ComponentOnly),
    /// Creates or replaces an ingest pipeline.
    PutPipeline(PutPipeline),
    /// Deletes an ingest pipeline no index uses as its default or final one.
    DeletePipeline(PipelineOnly),
    /// Writes documents with `_bulk`.
    IndexDocuments(IndexDocuments),
    /// Deletes documents by id with `_bulk`.
    DeleteDocuments(DeleteDocuments),
    /// Writes every matching document again (to pick up a mapping change).
    UpdateByQuery(UpdateByQuery),
    /// Deletes every matching document.
    DeleteByQuery(DeleteByQuery),
    /// Any other request, sent as written and not checked beforehand.
    Request(Request),
    /// `PUT /_data_stream/<name>`: needs a matching index template with
    /// `data_stream`.
    CreateDataStream(DataStreamOnly),
    /// `DELETE /_data_stream/<name>`, with its backing indices.
    DeleteDataStream(DataStreamOnly),
    /// Creates or replaces a lifecycle policy (ILM on Elasticsearch, ISM
    /// on OpenSearch).
    PutLifecycle(PutLifecycle),
    /// Deletes a lifecycle policy.
    DeleteLifecycle(LifecycleOnly),
}

/// `create_index`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIndex {
    /// The new index.
    pub index: String,
    /// Index settings (`number_of_shards`, `analysis`, …).
    pub settings: Option<Object>,
    /// Mappings (`properties`, `dynamic`, …).
    pub mappings: Option<Object>,
    /// Aliases to create with it.
    pub aliases: Option<Object>,
}

/// `delete_index`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexOnly {
    /// The index.
    pub index: String,
}

/// `put_mapping`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutMapping {
    /// An index or an alias.
    pub index: String,
    /// The fields to add, as in a mapping's `properties`.
    pub properties: Object,
}

/// `put_settings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutSettings {
    /// An index or an alias.
    pub index: String,
    /// The settings to change.
    pub settings: Object,
    /// Close the index around the change. When absent, strata closes it
    /// exactly when a setting needs it (analysis, similarity, codec).
    pub close: Option<bool>,
}

/// `put_alias`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutAlias {
    /// The index.
    pub index: String,
    /// The alias.
    pub alias: String,
    /// A filter query limiting what the alias shows.
    pub filter: Option<Object>,
    /// Whether writes through the alias go to this index.
    pub is_write_index: Option<bool>,
}

/// `delete_alias`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAlias {
    /// The index.
    pub index: String,
    /// The alias.
    pub alias: String,
}

/// `switch_alias`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchAlias {
    /// The alias.
    pub alias: String,
    /// The index that gets it.
    pub to: String,
    /// The index that loses it; when absent, every index holding it.
    pub from: Option<String>,
}

/// `put_index_template`; serialized, it is the request's body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PutIndexTemplate {
    /// The template's name.
    #[serde(skip_serializing)]
    pub name: String,
    /// Index name patterns it applies to.
    pub index_patterns: Vec<String>,
    /// `settings`, `mappings` and `aliases` of matching new indices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<Object>,
    /// Which template wins when several match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u64>,
    /// Component templates it is composed of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composed_of: Option<Vec<String>>,
    /// Components of `composed_of` that may be missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_missing_component_templates: Option<Vec<String>>,
    /// A version number for the template itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Free-form metadata.
    #[serde(rename = "_meta")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Object>,
    /// Matching names become data streams (`create_data_stream`), not
    /// indices: `{}`, or OpenSearch's `{"timestamp_field": {"name": …}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_stream: Option<Object>,
}

/// `delete_index_template`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateOnly {
    /// The template's name.
    pub name: String,
}

impl Operation {
    /// The operation's name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::CreateIndex(_) => "create_index",
            Operation::DeleteIndex(_) => "delete_index",
            Operation::PutMapping(_) => "put_mapping",
            Operation::PutSettings(_) => "put_settings",
            Operation::PutAlias(_) => "put_alias",
            Operation::DeleteAlias(_) => "delete_alias",
            Operation::SwitchAlias(_) => "switch_alias",
            Operation::PutIndexTemplate(_) => "put_index_template",
            Operation::DeleteIndexTemplate(_) => "delete_index_template",
            Operation::Reindex(_) => "reindex",
            Operation::PutComponentTemplate(_) => "put_component_template",
            Operation::DeleteComponentTemplate(_) => "delete_component_template",
            Operation::PutPipeline(_) => "put_pipeline",
            Operation::DeletePipeline(_) => "delete_pipeline",
            Operation::IndexDocuments(_) => "index_documents",
            Operation::DeleteDocuments(_) => "delete_documents",
            Operation::UpdateByQuery(_) => "update_by_query",
            Operation::DeleteByQuery(_) => "delete_by_query",
            Operation::Request(_) => "request",
            Operation::CreateDataStream(_) => "create_data_stream",
            Operation::DeleteDataStream(_) => "delete_data_stream",
            Operation::PutLifecycle(_) => "put_lifecycle",
            Operation::DeleteLifecycle(_) => "delete_lifecycle",
        }
    }

    /// One line saying what the operation does, for plans.
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateIndex(o) => format!("create_index {}", o.index),
            Operation::DeleteIndex(o) => format!("delete_index {}", o.index),
            Operation::PutMapping(o) => format!(
                "put_mapping {} (+{})",
                o.index,
                o.properties.keys().cloned().collect::<Vec<_>>().join(", +")
            ),
            Operation::PutSettings(o) => format!(
                "put_settings {} ({})",
                o.index,
                flatten_keys(&o.settings).join(", ")
            ),
            Operation::PutAlias(o) => format!("put_alias {} -> {}", o.alias, o.index),
            Operation::DeleteAlias(o) => format!("delete_alias {} -> {}", o.alias, o.index),
            Operation::SwitchAlias(o) => match &o.from {
                Some(from) => format!("switch_alias {}: {from} -> {}", o.alias, o.to),
                None => format!("switch_alias {} -> {}", o.alias, o.to),
            },
            Operation::PutIndexTemplate(o) => format!(
                "put_index_template {} ({})",
                o.name,
                o.index_patterns.join(", ")
            ),
            Operation::DeleteIndexTemplate(o) => format!("delete_index_template {}", o.name),
            Operation::Reindex(o) => o.describe(),
            Operation::PutComponentTemplate(o) => format!("put_component_template {}", o.name),
            Operation::DeleteComponentTemplate(o) => {
                format!("delete_component_template {}", o.name)
            }
            Operation::PutPipeline(o) => {
                format!("put_pipeline {} ({} processors)", o.id, o.processors.len())
            }
            Operation::DeletePipeline(o) => format!("delete_pipeline {}", o.id),
            Operation::IndexDocuments(o) => match (&o.documents, &o.file) {
                (Some(d), _) => format!("index_documents {} ({} documents)", o.index, d.len()),
                (None, file) => format!(
                    "index_documents {} (from {})",
                    o.index,
                    file.as_deref().unwrap_or("?")
                ),
            },
            Operation::DeleteDocuments(o) => {
                format!("delete_documents {} ({} ids)", o.index, o.ids.len())
            }
            Operation::UpdateByQuery(o) => format!(
                "update_by_query {} ({}{}{})",
                o.index,
                if o.query.is_some() {
                    "matching documents"
                } else {
                    "every document"
                },
                reindex::rewrite_notes(o.script.as_ref(), o.pipeline.as_deref()),
                if o.conflicts == Some(Conflicts::Proceed) {
                    ", conflicts proceed"
                } else {
                    ""
                }
            ),
            Operation::DeleteByQuery(o) => {
                format!("delete_by_query {} (matching documents)", o.index)
            }
            Operation::CreateDataStream(o) => format!("create_data_stream {}", o.name),
            Operation::DeleteDataStream(o) => format!("delete_data_stream {}", o.name),
            Operation::PutLifecycle(o) => format!("put_lifecycle {}", o.name),
            Operation::DeleteLifecycle(o) => format!("delete_lifecycle {}", o.name),
            Operation::Request(o) => format!(
                "request {} {} (unchecked: strata cannot know what it changes)",
                o.method.as_str(),
                o.path
            ),
        }
    }
}

/// An operation's request body: the operation itself serialized, which
/// leaves out the name its path carries and the fields not given.
pub fn body(op: &impl Serialize) -> Value {
    serde_json::to_value(op).expect("operations serialize to JSON")
}

impl Operation {
    /// The one request an operation on a named template or pipeline is:
    /// method, path (the name percent-encoded) and body. `None` for the
    /// others. Pure.
    pub fn simple_request(&self) -> Option<(HttpMethod, String, Option<Value>)> {
        let path = |prefix: &str, name: &str| {
            let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
            format!("{prefix}/{name}")
        };
        Some(match self {
            Operation::PutIndexTemplate(o) => (
                HttpMethod::Put,
                path("/_index_template", &o.name),
                Some(body(o)),
            ),
            Operation::DeleteIndexTemplate(o) => {
                (HttpMethod::Delete, path("/_index_template", &o.name), None)
            }
            Operation::PutComponentTemplate(o) => (
                HttpMethod::Put,
                path("/_component_template", &o.name),
                Some(body(o)),
            ),
            Operation::DeleteComponentTemplate(o) => (
                HttpMethod::Delete,
                path("/_component_template", &o.name),
                None,
            ),
            Operation::PutPipeline(o) => (
                HttpMethod::Put,
                path("/_ingest/pipeline", &o.id),
                Some(body(o)),
            ),
            Operation::DeletePipeline(o) => {
                (HttpMethod::Delete, path("/_ingest/pipeline", &o.id), None)
            }
            Operation::CreateDataStream(o) => {
                (HttpMethod::Put, path("/_data_stream", &o.name), None)
            }
            Operation::DeleteDataStream(o) => {
                (HttpMethod::Delete, path("/_data_stream", &o.name), None)
            }
            _ => return None,
        })
    }
}

/// Setting names flattened to dotted keys (`analysis.analyzer.x.type`). Pure.
pub fn flatten_keys(settings: &Object) -> Vec<String> {
    flatten(settings).into_iter().map(|(k, _)| k).collect()
}

/// Settings flattened to dotted keys with their values (an empty object
/// is a value). Pure.
pub fn flatten(settings: &Object) -> Vec<(String, &Value)> {
    fn walk<'a>(prefix: &str, value: &'a Value, out: &mut Vec<(String, &'a Value)>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    walk(&format!("{prefix}.{k}"), v, out);
                }
            }
            _ => out.push((prefix.to_string(), value)),
        }
    }
    let mut out = Vec::new();
    for (k, v) in settings {
        walk(k, v, &mut out);
    }
    out
}

/// Whether changing these settings needs the index closed: analysis and
/// similarity definitions and the codec are static in Elasticsearch. Pure.
pub fn needs_close(settings: &Object) -> bool {
    flatten_keys(settings).iter().any(|k| {
        let k = k.strip_prefix("index.").unwrap_or(k);
        k.starts_with("analysis.") || k.starts_with("similarity.") || k == "codec"
    })
}

/// Parses and checks a whole file. Pure: nothing here knows the cluster.
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

    fn data_file(&self) -> Option<&str> {
        match self {
            Operation::IndexDocuments(o) => o.file.as_deref(),
            _ => None,
        }
    }
}

type Check = Result<(), (String, String)>;

fn name_ok(field: &str, value: &str, what: &str) -> Check {
    index_name(value).map_err(|m| (format!(".{field}"), format!("{what} {value:?}: {m}")))
}

/// Characters Elasticsearch refuses in index names and template patterns.
const FORBIDDEN: [char; 11] = ['\\', '/', '?', '"', '<', '>', '|', ' ', ',', '#', ':'];

/// Elasticsearch's rules for index and alias names, so a typo fails before
/// anything runs. Pure.
pub fn index_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > 255 {
        return Err("is longer than 255 bytes".into());
    }
    if name.starts_with(['_', '-', '+']) {
        return Err("must not start with '_', '-' or '+'".into());
    }
    if name == "." || name == ".." {
        return Err("is not a name".into());
    }
    if name.chars().any(|c| c.is_uppercase()) {
        return Err("must be lowercase".into());
    }
    if let Some(c) = name.chars().find(|c| *c == '*' || FORBIDDEN.contains(c)) {
        return Err(format!("must not contain {c:?}"));
    }
    Ok(())
}

/// Elasticsearch's rules for an index template's patterns (looser than
/// for names: `*` is the wildcard, capitals and a leading `-` pass). Pure.
pub fn index_pattern(pattern: &str) -> Result<(), String> {
    if pattern.starts_with('_') {
        return Err("must not start with '_'".into());
    }
    if let Some(c) = pattern.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(format!("must not contain {c:?}"));
    }
    Ok(())
}

fn check(op: &Operation) -> Check {
    match op {
        Operation::CreateIndex(o) => {
            name_ok("index", &o.index, "index")?;
            if let Some(aliases) = &o.aliases {
                for alias in aliases.keys() {
                    name_ok(&format!("aliases.{alias}"), alias, "alias")?;
                }
            }
            Ok(())
        }
        Operation::DeleteIndex(o) => name_ok("index", &o.index, "index"),
        Operation::PutMapping(o) => {
            name_ok("index", &o.index, "index")?;
            if o.properties.is_empty() {
                return Err((".properties".into(), "adds no field".into()));
            }
            for (field, def) in &o.properties {
                if !def.is_object() {
                    return Err((
                        format!(".properties.{field}"),
                        "a field definition must be an object like {\"type\": \"keyword\"}".into(),
                    ));
                }
            }
            Ok(())
        }
        Operation::PutSettings(o) => {
            name_ok("index", &o.index, "index")?;
            if o.settings.is_empty() {
                return Err((".settings".into(), "changes no setting".into()));
            }
            Ok(())
        }
        Operation::PutAlias(o) => {
            name_ok("index", &o.index, "index")?;
            name_ok("alias", &o.alias, "alias")
        }
        Operation::DeleteAlias(o) => {
            name_ok("index", &o.index, "index")?;
            name_ok("alias", &o.alias, "alias")
        }
        Operation::SwitchAlias(o) => {
            name_ok("alias", &o.alias, "alias")?;
            name_ok("to", &o.to, "index")?;
            if let Some(from) = &o.from {
                name_ok("from", from, "index")?;
                if from == &o.to {
                    return Err((".to".into(), "is the same index as `from`".into()));
                }
            }
            Ok(())
        }
        Operation::PutIndexTemplate(o) => {
            template_name(&o.name)?;
            if o.index_patterns.is_empty() {
                return Err((".index_patterns".into(), "is empty".into()));
            }
            for (i, pattern) in o.index_patterns.iter().enumerate() {
                index_pattern(pattern).map_err(|m| {
                    (
                        format!(".index_patterns[{i}]"),
                        format!("pattern {pattern:?}: {m}"),
                    )
                })?;
            }
            for (i, c) in o.composed_of.iter().flatten().enumerate() {
                template_name(c).map_err(|(_, m)| (format!(".composed_of[{i}]"), m))?;
            }
            Ok(())
        }
        Operation::DeleteIndexTemplate(o) => template_name(&o.name),
        Operation::PutComponentTemplate(o) => template_name(&o.name),
        Operation::DeleteComponentTemplate(o) => template_name(&o.name),
        Operation::PutPipeline(o) => ingest::check_pipeline(o),
        Operation::DeletePipeline(o) => ingest::pipeline_id(&o.id),
        Operation::IndexDocuments(o) => {
            name_ok("index", &o.index, "index")?;
            documents::check_index_documents(o)
        }
        Operation::DeleteDocuments(o) => {
            name_ok("index", &o.index, "index")?;
            documents::check_delete_documents(o)
        }
        Operation::UpdateByQuery(o) => {
            name_ok("index", &o.index, "index")?;
            reindex::check_rewrite(o.script.as_ref(), o.pipeline.as_deref())
        }
        Operation::DeleteByQuery(o) => name_ok("index", &o.index, "index"),
        Operation::Request(o) => request::check_request(o),
        Operation::CreateDataStream(o) | Operation::DeleteDataStream(o) => {
            name_ok("name", &o.name, "data stream")
        }
        Operation::PutLifecycle(o) => policy_name(&o.name),
        Operation::DeleteLifecycle(o) => policy_name(&o.name),
        Operation::Reindex(o) => {
            name_ok("alias", &o.alias, "alias")?;
            name_ok("to", &o.to, "index")?;
            if let Some(from) = &o.from {
                name_ok("from", from, "index")?;
            }
            reindex::check_reindex(o)
        }
    }
}

/// A policy name both servers take: ILM's rules (a valid file name, not
/// starting with `_`, at most 255 bytes); ISM ids are looser.
fn policy_name(name: &str) -> Check {
    const BAD: [char; 10] = ['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ','];
    if name.is_empty() || name.starts_with('_') || name.len() > 255 || name.contains(BAD) {
        return Err((
            ".name".into(),
            format!(
                "{name:?} is not a lifecycle policy name: it must be 1 to 255 bytes, not start \
                 with `_` and have none of {}",
                BAD.iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ));
    }
    Ok(())
}

fn template_name(name: &str) -> Check {
    if name.is_empty() || name.contains(['*', ',', ' ', '/', '\\']) {
        return Err((
            ".name".into(),
            format!("template name {name:?} must be non-empty, without '*', ',', '/' or spaces"),
        ));
    }
    Ok(())
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
              {"create_index": {"index": "m_v1", "settings": {"number_of_shards": 1},
                                "mappings": {"properties": {"body": {"type": "text"}}},
                                "aliases": {"m": {}}}},
              {"put_mapping": {"index": "m", "properties": {"tags": {"type": "keyword"}}}},
              {"put_settings": {"index": "m_v1", "settings": {"refresh_interval": "5s"}}},
              {"put_alias": {"index": "m_v1", "alias": "m_read", "is_write_index": false}},
              {"delete_alias": {"index": "m_v1", "alias": "m_read"}},
              {"switch_alias": {"alias": "m", "to": "m_v2", "from": "m_v1"}},
              {"put_index_template": {"name": "logs", "index_patterns": ["logs-*"], "priority": 10}},
              {"delete_index_template": {"name": "logs"}},
              {"reindex": {"alias": "m", "to": "m_v3", "mappings": {}, "delete_source": true}},
              {"delete_index": {"index": "m_v1"}}
            ]"#,
        )
        .unwrap();
        let names: Vec<&str> = ops.iter().map(Operation::name).collect();
        assert_eq!(
            names,
            [
                "create_index",
                "put_mapping",
                "put_settings",
                "put_alias",
                "delete_alias",
                "switch_alias",
                "put_index_template",
                "delete_index_template",
                "reindex",
                "delete_index"
            ]
        );
        assert_eq!(
            ops[8].describe(),
            "reindex m: (its index) -> m_v3, delete the source"
        );
        assert_eq!(ops[1].describe(), "put_mapping m (+tags)");
    }

    #[test]
    fn a_body_leaves_out_the_name_and_what_was_not_given() {
        let ops = parse(
            r#"[{"put_index_template": {"name": "t", "index_patterns": ["t-*"], "composed_of": ["c"], "_meta": {"a": 1}}},
                {"put_pipeline": {"id": "p", "processors": []}}]"#,
        )
        .unwrap();
        let (Operation::PutIndexTemplate(t), Operation::PutPipeline(p)) = (&ops[0], &ops[1]) else {
            panic!("{ops:?}");
        };
        assert_eq!(
            body(t),
            serde_json::json!({"index_patterns": ["t-*"], "composed_of": ["c"], "_meta": {"a": 1}})
        );
        assert_eq!(body(p), serde_json::json!({"processors": []}));
        let (method, path, _) = ops[1].simple_request().unwrap();
        assert_eq!(
            (method, path.as_str()),
            (HttpMethod::Put, "/_ingest/pipeline/p")
        );
        let odd = parse(r#"[{"delete_component_template": {"name": "logs@custom+é"}}]"#).unwrap();
        assert_eq!(
            odd[0].simple_request().unwrap().1,
            "/_component_template/logs%40custom%2B%C3%A9"
        );
    }

    #[test]
    fn unknown_operation_names_its_position() {
        let e = error(r#"[{"create_index": {"index": "a"}}, {"creat_index": {"index": "b"}}]"#);
        assert!(e.starts_with("$[1]: unknown variant `creat_index`"), "{e}");
    }

    #[test]
    fn unknown_field_names_its_path() {
        let e = error(r#"[{"create_index": {"index": "a", "mapping": {}}}]"#);
        assert!(
            e.starts_with("$[0].create_index.mapping: unknown field `mapping`"),
            "{e}"
        );
    }

    #[test]
    fn missing_field_and_bad_type_are_refused() {
        let e = error(r#"[{"put_alias": {"index": "a"}}]"#);
        assert!(e.contains("missing field `alias`"), "{e}");
        let e = error(r#"[{"put_mapping": {"index": "a", "properties": []}}]"#);
        assert!(
            e.starts_with("$[0].put_mapping.properties: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn invalid_json_says_line_and_column() {
        let e = error("[\n  {\"delete_index\": {\"index\": \"a\"}},\n  oops\n]");
        assert!(e.contains("line 3 column"), "{e}");
    }

    #[test]
    fn empty_list_and_bad_names_are_refused() {
        // An empty list: refused in a migration, a no-op in a rollback.
        let format =
            crate::operations::OperationFormat::<Operation>::new(crate::kind::Kind::Elasticsearch);
        let e = crate::script::Format::read(&format, "[]").unwrap_err();
        assert!(e.message.contains("holds no operation"), "{}", e.message);
        assert!(crate::script::Format::is_noop(&format, " [ ] "));
        let e = error(r#"[{"delete_index": {"index": "Messages"}}]"#);
        assert_eq!(
            e,
            "$[0].delete_index.index: index \"Messages\": must be lowercase"
        );
        let e = error(r#"[{"switch_alias": {"alias": "m", "to": "a", "from": "a"}}]"#);
        assert_eq!(e, "$[0].switch_alias.to: is the same index as `from`");
        let e = error(r#"[{"put_mapping": {"index": "a", "properties": {"x": "text"}}}]"#);
        assert!(
            e.starts_with("$[0].put_mapping.properties.x: a field definition"),
            "{e}"
        );
        let e = error(r#"[{"reindex": {"alias": "m", "to": "b", "batch_size": 0}}]"#);
        assert_eq!(e, "$[0].reindex.batch_size: must be between 1 and 10000");
    }

    #[test]
    fn a_second_key_in_one_operation_is_refused() {
        let e = error(
            r#"[{"delete_index": {"index": "a"}, "put_alias": {"index": "a", "alias": "b"}}]"#,
        );
        assert!(e.starts_with("$[0]"), "{e}");
    }

    #[test]
    fn static_settings_need_a_closed_index() {
        let analysis: Object =
            serde_json::from_str(r#"{"analysis": {"analyzer": {"x": {"type": "standard"}}}}"#)
                .unwrap();
        assert!(needs_close(&analysis));
        let prefixed: Object =
            serde_json::from_str(r#"{"index.codec": "best_compression"}"#).unwrap();
        assert!(needs_close(&prefixed));
        let dynamic: Object = serde_json::from_str(
            r#"{"index": {"refresh_interval": "1s", "number_of_replicas": 0}}"#,
        )
        .unwrap();
        assert!(!needs_close(&dynamic));
        assert_eq!(
            flatten_keys(&dynamic),
            ["index.number_of_replicas", "index.refresh_interval"]
        );
    }
}
