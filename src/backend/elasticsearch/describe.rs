//! The schema of an Elasticsearch cluster as drift compares it, and the
//! index `<history>_schema` that keeps the description the last run left.
//!
//! Described: every index (open or closed) with its fields, its top-level
//! mapping parameters and the settings that shape it (analysis, shards,
//! replicas unless they expand automatically, pipelines, sort, codec,
//! mapping limits, refresh interval); aliases; index and component
//! templates; ingest pipelines. Left out: hidden and system indices (a
//! leading `.`), what the server manages itself (`_meta.managed`),
//! strata's own indices, and indices whose names an index template's
//! patterns claim (applications create those as they write: the template
//! is what migrations shape).

use serde_json::{Value, json};

use super::ElasticsearchBackend;
use super::ops::request::HttpMethod;
use crate::drift::{Entry, Recorded, Schema, Scope};
use crate::error::{Error, Result};

/// The settings that are part of an index's schema (flat names); every
/// other one is operational.
const SETTINGS: &[&str] = &[
    "index.analysis.",
    "index.number_of_shards",
    "index.number_of_replicas",
    "index.auto_expand_replicas",
    "index.default_pipeline",
    "index.final_pipeline",
    "index.sort.",
    "index.codec",
    "index.mapping.",
    "index.refresh_interval",
];

/// `value` with every object's keys sorted, as compact JSON. Pure.
pub fn canonical(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // Keys are inserted in order; serde_json keeps them so whether or not
    // its `preserve_order` feature is on.
    sorted(value).to_string()
}

/// Whether the server manages this template or pipeline itself.
fn managed(body: &Value) -> bool {
    body.pointer("/_meta/managed").and_then(Value::as_bool) == Some(true)
}

/// The fields of one index's mapping, with dotted paths. Pure.
fn fields(index: &str, prefix: &str, properties: &Value, out: &mut Vec<Entry>) {
    let Some(props) = properties.as_object() else {
        return;
    };
    for (name, def) in props {
        let path = format!("{prefix}{name}");
        let mut own = def.clone();
        let inner = own.as_object_mut().and_then(|m| m.remove("properties"));
        let params = own.as_object().is_some_and(|m| !m.is_empty());
        if params || inner.is_none() {
            out.push(Entry::new(
                index,
                format!("field {index}.{path}"),
                canonical(&own),
            ));
        }
        if let Some(inner) = inner {
            fields(index, &format!("{path}."), &inner, out);
        }
    }
}

/// The entries of the cluster's answers, before anything is left out.
/// Pure, so what is described is unit-tested.
pub fn entries(
    mappings: &Value,
    settings: &Value,
    aliases: &Value,
    states: &Value,
    templates: &Value,
    components: &Value,
    pipelines: &Value,
) -> (Vec<Entry>, Vec<String>) {
    let mut out = Vec::new();
    let mut patterns = Vec::new();
    for t in templates
        .get("index_templates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
        let body = t.get("index_template").cloned().unwrap_or(Value::Null);
        if managed(&body) || name.starts_with('.') {
            continue;
        }
        patterns.extend(
            body.get("index_patterns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        out.push(Entry::new(
            name,
            format!("index template {name}"),
            canonical(&body),
        ));
    }
    for t in components
        .get("component_templates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
        let body = t.get("component_template").cloned().unwrap_or(Value::Null);
        if !managed(&body) && !name.starts_with('.') {
            out.push(Entry::new(
                name,
                format!("component template {name}"),
                canonical(&body),
            ));
        }
    }
    for (id, body) in pipelines.as_object().into_iter().flatten() {
        if !managed(body) && !id.starts_with('.') {
            out.push(Entry::new(id, format!("pipeline {id}"), canonical(body)));
        }
    }
    for row in states.as_array().into_iter().flatten() {
        let index = row.get("index").and_then(Value::as_str).unwrap_or_default();
        let status = row
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.push(Entry::new(index, format!("index {index}"), status));
    }
    for (index, body) in mappings.as_object().into_iter().flatten() {
        let mut top = body.get("mappings").cloned().unwrap_or(json!({}));
        let properties = top.as_object_mut().and_then(|m| m.remove("properties"));
        if top.as_object().is_some_and(|m| !m.is_empty()) {
            out.push(Entry::new(
                index.as_str(),
                format!("mapping {index}"),
                canonical(&top),
            ));
        }
        if let Some(p) = properties {
            fields(index, "", &p, &mut out);
        }
    }
    for (index, body) in settings.as_object().into_iter().flatten() {
        let Some(flat) = body.get("settings").and_then(Value::as_object) else {
            continue;
        };
        let expands = flat
            .get("index.auto_expand_replicas")
            .and_then(Value::as_str)
            .is_some_and(|v| v != "false");
        for (key, value) in flat {
            let kept = SETTINGS
                .iter()
                .any(|s| key == s || (s.ends_with('.') && key.starts_with(s)));
            if !kept || (expands && key == "index.number_of_replicas") {
                continue;
            }
            let shown = value
                .as_str()
                .map_or_else(|| canonical(value), str::to_string);
            out.push(Entry::new(
                index.as_str(),
                format!("setting {index}.{key}"),
                shown,
            ));
        }
    }
    for (index, body) in aliases.as_object().into_iter().flatten() {
        for (alias, props) in body
            .get("aliases")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let shown = match props.as_object() {
                Some(m) if m.is_empty() => String::new(),
                _ => canonical(props),
            };
            out.push(Entry::new(
                index.as_str(),
                format!("alias {alias} on {index}"),
                shown,
            ));
        }
    }
    (out, patterns)
}

impl ElasticsearchBackend {
    fn schema_index(&self) -> String {
        format!("{}_schema", self.history)
    }

    /// The live schema as `scope` covers it.
    pub(super) async fn describe_schema(&mut self, scope: &Scope) -> Result<Schema> {
        let wild = "expand_wildcards=open,closed";
        let mappings = self
            .get(&format!("/_all/_mapping?{wild}"), "reading the mappings")
            .await?;
        let settings = self
            .get(
                &format!("/_all/_settings?flat_settings=true&{wild}"),
                "reading the index settings",
            )
            .await?;
        let aliases = self
            .get(&format!("/_alias?{wild}"), "reading the aliases")
            .await?;
        let states = self
            .get(
                &format!("/_cat/indices?format=json&h=index,status&{wild}"),
                "listing the indices",
            )
            .await?;
        let templates = self
            .get("/_index_template", "reading the index templates")
            .await?;
        let components = self
            .get("/_component_template", "reading the component templates")
            .await?;
        let pipelines = self
            .get("/_ingest/pipeline", "reading the ingest pipelines")
            .await?;
        let (entries, patterns) = entries(
            &mappings,
            &settings,
            &aliases,
            &states,
            &templates,
            &components,
            &pipelines,
        );
        let own = [
            self.history.clone(),
            format!("{}_lock", self.history),
            self.schema_index(),
        ];
        let entries = entries
            .into_iter()
            .filter(|e| {
                let index_like = e.key.starts_with("index ")
                    || e.key.starts_with("field ")
                    || e.key.starts_with("mapping ")
                    || e.key.starts_with("setting ")
                    || e.key.starts_with("alias ");
                !(index_like
                    && (e.owner.starts_with('.')
                        || patterns.iter().any(|p| crate::drift::matches(p, &e.owner))))
            })
            .collect();
        let own: Vec<&str> = own.iter().map(String::as_str).collect();
        Ok(Schema::from_entries(entries, &scope.ignore, &own))
    }

    /// The description the last run recorded, if any.
    pub(super) async fn recorded_schema(&mut self) -> Result<Option<Recorded>> {
        let context = "reading the recorded schema";
        let reply = self
            .send(
                HttpMethod::Get,
                &format!("/{}/_doc/expected", self.schema_index()),
                None,
            )
            .await
            .map_err(|f| self.conn.db_error(context, f))?;
        if reply.status == 404 {
            return Ok(None);
        }
        let body = reply
            .into_result()
            .map_err(|f| self.conn.db_error(context, f))?;
        let source = body.get("_source").cloned().unwrap_or(Value::Null);
        Recorded::from_document(&source)
            .map(Some)
            .map_err(|m| Error::Database {
                database: self.conn.database.clone(),
                message: format!("{}: {m}", self.schema_index()),
            })
    }

    /// Records `schema` as the one the next run expects.
    pub(super) async fn write_schema(&mut self, schema: &Schema) -> Result<()> {
        let index = self.schema_index();
        self.conn
            .ensure_index(
                &index,
                json!({
                    "settings": { "number_of_shards": 1, "auto_expand_replicas": "0-1" },
                    // Kept, not searched: nothing is indexed.
                    "mappings": { "dynamic": false, "properties": {} },
                }),
            )
            .await?;
        let body = Recorded::document(schema, &self.applied_by);
        self.send(
            HttpMethod::Put,
            &format!("/{index}/_doc/expected?refresh=true"),
            Some(&body),
        )
        .await
        .and_then(|r| r.into_result())
        .map(|_| ())
        .map_err(|f| self.conn.db_error("recording the schema", f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_settings_aliases_and_templates_are_described() {
        let mappings = json!({"articles_v1": {"mappings": {
            "dynamic": "strict",
            "properties": {
                "title": {"type": "text", "analyzer": "english"},
                "author": {"properties": {"name": {"type": "keyword"}}}
            }
        }}});
        let settings = json!({"articles_v1": {"settings": {
            "index.number_of_shards": "1",
            "index.number_of_replicas": "1",
            "index.auto_expand_replicas": "0-1",
            "index.uuid": "abc",
            "index.creation_date": "1"
        }}});
        let aliases = json!({"articles_v1": {"aliases": {"articles": {}}}});
        let states = json!([{"index": "articles_v1", "status": "open"}]);
        let templates = json!({"index_templates": [
            {"name": "logs", "index_template": {"index_patterns": ["logs-*"], "priority": 1}},
            {"name": "builtin", "index_template": {"index_patterns": ["b-*"], "_meta": {"managed": true}}}
        ]});
        let (entries, patterns) = entries(
            &mappings,
            &settings,
            &aliases,
            &states,
            &templates,
            &Value::Null,
            &json!({"p": {"processors": [{"set": {"field": "a", "value": 1}}]}}),
        );
        let schema = Schema::from_entries(entries, &[], &[]);
        let lines: Vec<String> = schema
            .objects
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        assert_eq!(
            lines,
            [
                "alias articles on articles_v1: ",
                "field articles_v1.author.name: {\"type\":\"keyword\"}",
                "field articles_v1.title: {\"analyzer\":\"english\",\"type\":\"text\"}",
                "index articles_v1: open",
                "index template logs: {\"index_patterns\":[\"logs-*\"],\"priority\":1}",
                "mapping articles_v1: {\"dynamic\":\"strict\"}",
                "pipeline p: {\"processors\":[{\"set\":{\"field\":\"a\",\"value\":1}}]}",
                "setting articles_v1.index.auto_expand_replicas: 0-1",
                "setting articles_v1.index.number_of_shards: 1",
            ]
        );
        assert_eq!(patterns, ["logs-*"]);
    }
}
