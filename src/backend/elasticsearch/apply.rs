//! Running operations, and checking them against the live cluster first.

use std::collections::BTreeSet;
use std::path::Path;

use elasticsearch::http::Method;
use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};

use elasticsearch::cluster::ClusterHealthParts;
use elasticsearch::indices::{
    IndicesCloseParts, IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts,
    IndicesGetIndexTemplateParts, IndicesGetMappingParts, IndicesOpenParts, IndicesPutMappingParts,
    IndicesPutSettingsParts,
};
use elasticsearch::params::{ExpandWildcards, WaitForStatus};
use serde_json::{Value, json};

use super::health::SHARDS_WAIT;
use super::http::{Failure, Reply};
use super::ops::request::HttpMethod;
use super::ops::{self, Operation};
use super::{ElasticsearchBackend, documents, state};
use crate::error::Result;
use crate::operations;
use crate::script::Script;
use crate::step::Step;

impl ElasticsearchBackend {
    /// Reads the live indices, mappings, aliases and templates.
    async fn cluster(&mut self) -> Result<state::Cluster> {
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
        let templates = if templates.status == 404 {
            Value::Null
        } else {
            templates
                .into_result()
                .map_err(|f| self.conn.db_error("reading the index templates", f))?
        };
        let templates = state::Template::from_response(&templates);
        let components = self
            .get("/_component_template", "reading the component templates")
            .await?;
        let pipelines = self
            .get("/_ingest/pipeline", "reading the ingest pipelines")
            .await?;
        let settings = self
            .get(
                "/_all/_settings/index.default_pipeline,index.final_pipeline,index.lifecycle.name\
                 ?flat_settings=true&expand_wildcards=open,closed",
                "reading the indices' pipelines",
            )
            .await?;
        let nodes = self
            .get(
                "/_nodes/ingest,plugins?filter_path=nodes.*.ingest.processors,nodes.*.modules.name",
                "reading the ingest processors and modules",
            )
            .await?;
        // Some managed offerings answer `GET /` with an error: then the
        // rules are Elasticsearch's.
        let distribution = self.distribution().await;
        let mut cluster =
            state::Cluster::from_responses(&mappings, &aliases, templates).with_settings(&settings);
        cluster.distribution = distribution;
        // Without the data-streams API the path is taken for an index name
        // (400) or not routed at all.
        let streams = self.send(HttpMethod::Get, "/_data_stream", None).await;
        cluster.data_streams = match streams {
            Ok(r) if r.success() => r
                .into_result()
                .ok()
                .map(|v| state::DataStream::from_response(&v)),
            _ => None,
        };
        cluster.lifecycles = self.lifecycles(distribution).await;
        cluster.components = list(&components, "component_templates")
            .map(name_of)
            .collect();
        cluster.pipelines = pipelines
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        cluster.processors = common(&nodes, |node| {
            list(&node["ingest"], "processors")
                .filter_map(|p| p.get("type").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        });
        cluster.modules = common(&nodes, |node| {
            node.get("modules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        });
        Ok(cluster)
    }

    /// `GET path`: its body, or null when the server answers 404 (no
    /// pipelines, no component templates).
    pub(super) async fn get(&self, path: &str, context: &str) -> Result<Value> {
        let reply = self
            .send(HttpMethod::Get, path, None)
            .await
            .map_err(|f| self.conn.db_error(context, f))?;
        if reply.status == 404 {
            return Ok(Value::Null);
        }
        reply
            .into_result()
            .map_err(|f| self.conn.db_error(context, f))
    }

    /// Plays every pending file against the live cluster, in order, and
    /// refuses the first operation Elasticsearch would refuse; reads every
    /// data file the files name.
    pub(super) async fn check_live(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let reserved = [self.history.clone(), format!("{}_lock", self.history)];
        for (_, script) in steps {
            let ops = ops::parse(&script.content)
                .map_err(|e| crate::error::Error::file(&script.file, e.to_string()))?;
            for (i, op) in ops.iter().enumerate() {
                match op {
                    Operation::IndexDocuments(o) => {
                        documents::placed(o, &script.file)?;
                    }
                    Operation::Request(r) if reserved.iter().any(|n| n == r.target()) => {
                        return Err(crate::error::Error::file(
                            &script.file,
                            format!(
                                "$[{i}].request.path: {:?} is strata's own history (or its \
                                 lock): a migration must never change it",
                                r.target()
                            ),
                        ));
                    }
                    _ => {}
                }
            }
        }
        self.require_health().await?;
        let mut cluster = self.cluster().await?;
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

    /// Runs one operation of the file `script_file`.
    pub(super) async fn execute(
        &mut self,
        op: &Operation,
        script_file: &Path,
    ) -> std::result::Result<(), Failure> {
        if let Some((method, path, body)) = op.simple_request() {
            return self
                .send(method, &path, body.as_ref())
                .await?
                .into_result()
                .map(|_| ());
        }
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
                self.create_index(&o.index, Value::Object(body)).await?;
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
                    let shards = self.active_shards();
                    let indices = self.conn.client.indices();
                    let target = [o.index.as_str()];
                    let mut open = indices.open(IndicesOpenParts::Index(&target));
                    if let Some(w) = &shards {
                        open = open.wait_for_active_shards(w).timeout(SHARDS_WAIT);
                    }
                    self.conn.ok(open.send().await).await?;
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
            Operation::Reindex(o) => self.reindex(o).await?,
            Operation::IndexDocuments(o) => self.index_documents(o, script_file).await?,
            Operation::DeleteDocuments(o) => self.delete_documents(o).await?,
            Operation::UpdateByQuery(o) => self.update_by_query(o).await?,
            Operation::DeleteByQuery(o) => self.delete_by_query(o).await?,
            Operation::Request(o) => self.request(o).await?,
            Operation::PutLifecycle(o) => self.put_lifecycle(o).await?,
            Operation::DeleteLifecycle(o) => self.delete_lifecycle(&o.name).await?,
            Operation::PutIndexTemplate(_)
            | Operation::DeleteIndexTemplate(_)
            | Operation::PutComponentTemplate(_)
            | Operation::DeleteComponentTemplate(_)
            | Operation::PutPipeline(_)
            | Operation::DeletePipeline(_)
            | Operation::CreateDataStream(_)
            | Operation::DeleteDataStream(_) => unreachable!("sent as simple requests above"),
        }
        Ok(())
    }

    /// Creates `index` from `body`, waiting for the shard copies the
    /// database asks for. When they do not start in time the index is
    /// deleted again (it is new and empty), so the failed operation
    /// changed nothing.
    pub(super) async fn create_index(
        &self,
        index: &str,
        body: Value,
    ) -> std::result::Result<(), Failure> {
        let shards = self.active_shards();
        let indices = self.conn.client.indices();
        let mut create = indices.create(IndicesCreateParts::Index(index)).body(body);
        if let Some(w) = &shards {
            create = create.wait_for_active_shards(w).timeout(SHARDS_WAIT);
        }
        let created = self.conn.ok(create.send().await).await?;
        if created.get("shards_acknowledged").and_then(Value::as_bool) != Some(false) {
            return Ok(());
        }
        let removed = self.drop_index(index).await;
        Err(Failure {
            code: Some("wait_for_active_shards".into()),
            message: format!(
                "index {index} was created, but {} shard copies did not start within {SHARDS_WAIT}; {}",
                shards.as_deref().unwrap_or("the required"),
                match removed {
                    Ok(_) => "it was deleted again, nothing changed".to_string(),
                    Err(f) => format!("deleting it again failed too: {}", f.message),
                }
            ),
        })
    }

    /// One request with a JSON body.
    pub(super) async fn send(
        &self,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> std::result::Result<Reply, Failure> {
        let method = match method {
            HttpMethod::Get => Method::Get,
            HttpMethod::Put => Method::Put,
            HttpMethod::Post => Method::Post,
            HttpMethod::Delete => Method::Delete,
            HttpMethod::Head => Method::Head,
        };
        let mut headers = HeaderMap::new();
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self.conn
            .reply(
                self.conn
                    .client
                    .send(
                        method,
                        path,
                        headers,
                        Option::<&()>::None,
                        body.map(Value::to_string),
                        None,
                    )
                    .await,
            )
            .await
    }

    /// `request`: sent as written; the answer's status decides.
    async fn request(&self, o: &ops::Request) -> std::result::Result<(), Failure> {
        let reply = self.send(o.method, &o.path, o.body.as_ref()).await?;
        if o.accepts(reply.status) {
            return Ok(());
        }
        let mut f = reply.failure();
        f.message = format!(
            "{} {} answered {}{}: {}",
            o.method.as_str(),
            o.path,
            reply.status,
            if o.expect.is_some() {
                " (not one of `expect`)"
            } else {
                ""
            },
            f.message
        );
        Err(f)
    }
}

/// The objects of `body[key]`.
fn list<'a>(body: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    body.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn name_of(v: &Value) -> String {
    v.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The names every node of a `GET /_nodes` answer has (processor types,
/// modules); `None` when it names none (then the server is left to judge).
fn common(nodes: &Value, names: impl Fn(&Value) -> BTreeSet<String>) -> Option<BTreeSet<String>> {
    let mut common: Option<BTreeSet<String>> = None;
    for node in nodes.get("nodes").and_then(Value::as_object)?.values() {
        let these = names(node);
        common = Some(match common {
            None => these,
            Some(c) => c.intersection(&these).cloned().collect(),
        });
    }
    common.filter(|c| !c.is_empty())
}
