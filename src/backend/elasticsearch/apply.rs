//! Running operations, and checking them against the live cluster first.

use std::collections::BTreeSet;

use elasticsearch::cluster::ClusterHealthParts;
use elasticsearch::indices::{
    IndicesCloseParts, IndicesCreateParts, IndicesDeleteIndexTemplateParts, IndicesDeleteParts,
    IndicesGetAliasParts, IndicesGetIndexTemplateParts, IndicesGetMappingParts, IndicesOpenParts,
    IndicesPutIndexTemplateParts, IndicesPutMappingParts, IndicesPutSettingsParts,
};
use elasticsearch::params::{ExpandWildcards, WaitForStatus};
use serde_json::{Value, json};

use super::http::Failure;
use super::ops::{self, Operation};
use super::{ElasticsearchBackend, state};
use crate::error::Result;
use crate::operations;
use crate::script::Script;
use crate::step::Step;

impl ElasticsearchBackend {
    /// Reads the live indices, mappings, aliases and templates.
    async fn cluster(&self) -> Result<state::Cluster> {
        let wildcards = [ExpandWildcards::Open, ExpandWildcards::Closed];
        let mappings = self
            .conn
            .ok(self
                .conn
                .client
                .indices()
                .get_mapping(IndicesGetMappingParts::None)
                .expand_wildcards(&wildcards)
                .send()
                .await)
            .await
            .map_err(|f| self.conn.db_error("reading the mappings", f))?;
        let aliases = self
            .conn
            .ok(self
                .conn
                .client
                .indices()
                .get_alias(IndicesGetAliasParts::None)
                .expand_wildcards(&wildcards)
                .send()
                .await)
            .await
            .map_err(|f| self.conn.db_error("reading the aliases", f))?;
        let templates = self
            .conn
            .reply(
                self.conn
                    .client
                    .indices()
                    .get_index_template(IndicesGetIndexTemplateParts::None)
                    .send()
                    .await,
            )
            .await
            .map_err(|f| self.conn.db_error("reading the index templates", f))?;
        let names: BTreeSet<String> = if templates.status == 404 {
            BTreeSet::new()
        } else {
            templates
                .into_result()
                .map_err(|f| self.conn.db_error("reading the index templates", f))?
                .get("index_templates")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|t| t.get("name").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(state::Cluster::from_responses(&mappings, &aliases, names))
    }

    /// Plays every pending file against the live cluster, in order, and
    /// refuses the first operation Elasticsearch would refuse.
    pub(super) async fn check_live(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let mut cluster = self.cluster().await?;
        let reserved = [self.history.clone(), format!("{}_lock", self.history)];
        operations::play::<Operation>(&mut cluster, steps, &reserved)
    }

    pub(super) async fn aliases_update(
        &self,
        actions: Vec<Value>,
    ) -> std::result::Result<(), Failure> {
        self.conn
            .ok(self
                .conn
                .client
                .indices()
                .update_aliases()
                .body(json!({ "actions": actions }))
                .send()
                .await)
            .await
            .map(|_| ())
    }

    /// The indices an alias points at now.
    pub(super) async fn alias_targets(
        &self,
        alias: &str,
    ) -> std::result::Result<Vec<String>, Failure> {
        let r = self
            .conn
            .reply(
                self.conn
                    .client
                    .indices()
                    .get_alias(IndicesGetAliasParts::Name(&[alias]))
                    .send()
                    .await,
            )
            .await?;
        if r.status == 404 {
            return Ok(Vec::new());
        }
        let body = r.into_result()?;
        Ok(body
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default())
    }

    async fn wait_for_yellow(&self, index: &str) -> std::result::Result<(), Failure> {
        let health = self
            .conn
            .ok(self
                .conn
                .client
                .cluster()
                .health(ClusterHealthParts::Index(&[index]))
                .wait_for_status(WaitForStatus::Yellow)
                .timeout("60s")
                .send()
                .await)
            .await?;
        if health.get("timed_out").and_then(Value::as_bool) == Some(true) {
            return Err(Failure {
                code: None,
                message: format!("index {index} did not become available within 60s"),
            });
        }
        Ok(())
    }

    /// Runs one operation.
    pub(super) async fn execute(&mut self, op: &Operation) -> std::result::Result<(), Failure> {
        match op {
            Operation::CreateIndex(o) => {
                let mut body = serde_json::Map::new();
                for (key, value) in [
                    ("settings", &o.settings),
                    ("mappings", &o.mappings),
                    ("aliases", &o.aliases),
                ] {
                    if let Some(v) = value {
                        body.insert(key.into(), Value::Object(v.clone()));
                    }
                }
                self.conn
                    .ok(self
                        .conn
                        .client
                        .indices()
                        .create(IndicesCreateParts::Index(&o.index))
                        .body(Value::Object(body))
                        .send()
                        .await)
                    .await?;
            }
            Operation::DeleteIndex(o) => {
                self.conn
                    .ok(self
                        .conn
                        .client
                        .indices()
                        .delete(IndicesDeleteParts::Index(&[&o.index]))
                        .send()
                        .await)
                    .await?;
            }
            Operation::PutMapping(o) => {
                self.conn
                    .ok(self
                        .conn
                        .client
                        .indices()
                        .put_mapping(IndicesPutMappingParts::Index(&[&o.index]))
                        .body(json!({ "properties": o.properties }))
                        .send()
                        .await)
                    .await?;
            }
            Operation::PutSettings(o) => {
                let close = o.close.unwrap_or_else(|| ops::needs_close(&o.settings));
                if close {
                    self.conn
                        .ok(self
                            .conn
                            .client
                            .indices()
                            .close(IndicesCloseParts::Index(&[&o.index]))
                            .send()
                            .await)
                        .await?;
                }
                let put = self
                    .conn
                    .ok(self
                        .conn
                        .client
                        .indices()
                        .put_settings(IndicesPutSettingsParts::Index(&[&o.index]))
                        .body(Value::Object(o.settings.clone()))
                        .send()
                        .await)
                    .await;
                if close {
                    // Reopen even when the change failed: a closed index
                    // is an outage, a refused setting is not.
                    self.conn
                        .ok(self
                            .conn
                            .client
                            .indices()
                            .open(IndicesOpenParts::Index(&[&o.index]))
                            .send()
                            .await)
                        .await?;
                    self.wait_for_yellow(&o.index).await?;
                }
                put?;
            }
            Operation::PutAlias(o) => {
                let mut add = json!({ "index": o.index, "alias": o.alias });
                if let Some(filter) = &o.filter {
                    add["filter"] = Value::Object(filter.clone());
                }
                if let Some(w) = o.is_write_index {
                    add["is_write_index"] = Value::Bool(w);
                }
                self.aliases_update(vec![json!({ "add": add })]).await?;
            }
            Operation::DeleteAlias(o) => {
                self.aliases_update(vec![
                    json!({ "remove": { "index": o.index, "alias": o.alias } }),
                ])
                .await?;
            }
            Operation::SwitchAlias(o) => {
                let losers = match &o.from {
                    Some(from) => vec![from.clone()],
                    None => self.alias_targets(&o.alias).await?,
                };
                let mut actions: Vec<Value> = losers
                    .iter()
                    .filter(|i| **i != o.to)
                    .map(|i| json!({ "remove": { "index": i, "alias": o.alias } }))
                    .collect();
                actions.push(json!({ "add": { "index": o.to, "alias": o.alias } }));
                self.aliases_update(actions).await?;
            }
            Operation::PutIndexTemplate(o) => {
                let mut body = json!({ "index_patterns": o.index_patterns });
                if let Some(t) = &o.template {
                    body["template"] = Value::Object(t.clone());
                }
                if let Some(p) = o.priority {
                    body["priority"] = json!(p);
                }
                if let Some(c) = &o.composed_of {
                    body["composed_of"] = json!(c);
                }
                if let Some(v) = o.version {
                    body["version"] = json!(v);
                }
                if let Some(m) = &o.meta {
                    body["_meta"] = Value::Object(m.clone());
                }
                self.conn
                    .ok(self
                        .conn
                        .client
                        .indices()
                        .put_index_template(IndicesPutIndexTemplateParts::Name(&o.name))
                        .body(body)
                        .send()
                        .await)
                    .await?;
            }
            Operation::DeleteIndexTemplate(o) => {
                self.conn
                    .ok(self
                        .conn
                        .client
                        .indices()
                        .delete_index_template(IndicesDeleteIndexTemplateParts::Name(&o.name))
                        .send()
                        .await)
                    .await?;
            }
            Operation::Reindex(o) => self.reindex(o).await?,
        }
        Ok(())
    }
}
