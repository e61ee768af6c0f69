//! `reindex`: a new index, every document copied into it, the count
//! checked, then the alias switched in one atomic `_aliases` request.
//!
//! The copy uses the server's `_reindex` (started as a task and polled)
//! when every node has the `reindex` module. Distributions without it
//! (Elasticsearch's test distribution, some managed offerings) get a
//! client-side copy: a point-in-time search paged with `search_after` on
//! `_shard_doc`, written back with `_bulk` in bounded batches, ids, routing
//! and the `pipeline` preserved; a `script` needs the server's copy.
//!
//! Documents written to the source while the copy runs are not copied:
//! pause writers, or write through an alias that already points at the new
//! index, during a reindex.

use elasticsearch::CountParts;
use elasticsearch::http::request::JsonBody;
use elasticsearch::indices::IndicesDeleteParts;
use serde_json::{Value, json};

use super::ElasticsearchBackend;
use super::http::Failure;
use super::ops::Reindex;
use super::tasks::{Scan, failure, item_error};

impl ElasticsearchBackend {
    pub(super) async fn reindex(&mut self, o: &Reindex) -> Result<(), Failure> {
        let holders = self.alias_targets(&o.alias).await?;
        let source = match (&o.from, holders.as_slice()) {
            (Some(from), _) => from.clone(),
            (None, [one]) => one.clone(),
            (None, other) => {
                return Err(failure(format!(
                    "alias {} points at {} indices; name the source in `from`",
                    o.alias,
                    other.len()
                )));
            }
        };
        if o.script.is_some() && !self.server_has_reindex().await? {
            return Err(failure(
                "a script runs only in the server's _reindex, and this cluster's nodes lack the \
                 reindex module; nothing was copied",
            ));
        }
        let mut body = serde_json::Map::new();
        if let Some(s) = &o.settings {
            body.insert("settings".into(), Value::Object(s.clone()));
        }
        if let Some(m) = &o.mappings {
            body.insert("mappings".into(), Value::Object(m.clone()));
        }
        self.create_index(&o.to, Value::Object(body)).await?;
        if let Err(mut f) = self.copy_and_count(&source, o).await {
            // The alias was not switched: the half-filled copy is dropped,
            // so a new run starts from the source again.
            f.message = match self.drop_index(&o.to).await {
                Ok(()) => format!(
                    "{}; the alias {} still points at {source}, and the copy {} was deleted",
                    f.message, o.alias, o.to
                ),
                Err(d) => format!(
                    "{}; the alias {} still points at {source}; deleting the copy {} failed: {}",
                    f.message, o.alias, o.to, d.message
                ),
            };
            return Err(f);
        }
        let mut actions: Vec<Value> = holders
            .iter()
            .map(|i| json!({ "remove": { "index": i, "alias": o.alias } }))
            .collect();
        actions.push(json!({ "add": { "index": o.to, "alias": o.alias } }));
        if o.delete_source {
            actions.push(json!({ "remove_index": { "index": source } }));
        }
        self.aliases_update(actions).await
    }

    /// Copies `source` into the new index and checks both hold the same
    /// number of documents.
    async fn copy_and_count(&mut self, source: &str, o: &Reindex) -> Result<(), Failure> {
        if self.server_has_reindex().await? {
            self.copy_on_server(source, o).await?;
        } else {
            self.copy_here(source, o).await?;
        }
        let (from_count, to_count) = (self.count(source).await?, self.count(&o.to).await?);
        if from_count != to_count {
            return Err(failure(format!(
                "the copy holds {to_count} documents but {source} holds {from_count} \
                 (were documents written during the reindex?)"
            )));
        }
        tracing::info!(database = %self.conn.database, from = %source, to = %o.to, documents = to_count, "copied");
        Ok(())
    }

    pub(super) async fn drop_index(&self, index: &str) -> Result<(), Failure> {
        self.conn
            .ok(self
                .conn
                .client
                .indices()
                .delete(IndicesDeleteParts::Index(&[index]))
                .send()
                .await)
            .await
            .map(|_| ())
    }

    pub(super) async fn count(&self, index: &str) -> Result<u64, Failure> {
        self.conn.refresh(index).await?;
        let body = self
            .conn
            .ok(self
                .conn
                .client
                .count(CountParts::Index(&[index]))
                .send()
                .await)
            .await?;
        body.get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| failure(format!("counting {index}: no count in {body}")))
    }

    /// `_reindex` as a task, polled until it completes.
    async fn copy_on_server(&self, source: &str, o: &Reindex) -> Result<(), Failure> {
        let mut body = json!({ "source": { "index": source }, "dest": { "index": o.to } });
        if let Some(p) = &o.pipeline {
            body["dest"]["pipeline"] = json!(p);
        }
        if let Some(s) = &o.script {
            body["script"] = json!(s);
        }
        let started = self
            .conn
            .ok(self
                .conn
                .client
                .reindex()
                .wait_for_completion(false)
                .body(body)
                .send()
                .await)
            .await?;
        self.wait_task(&started, "_reindex").await.map(|_| ())
    }

    /// The client-side copy: point-in-time pages into `_bulk`.
    async fn copy_here(&self, source: &str, o: &Reindex) -> Result<(), Failure> {
        let mut scan = self.scan(source, None, true, o.batch()).await?;
        let copied = self
            .copy_pages(&mut scan, &o.to, o.pipeline.as_deref())
            .await;
        self.close_scan(scan).await;
        copied
    }

    async fn copy_pages(
        &self,
        scan: &mut Scan,
        to: &str,
        pipeline: Option<&str>,
    ) -> Result<(), Failure> {
        loop {
            let hits = self.next_page(scan).await?;
            if hits.is_empty() {
                return Ok(());
            }
            let mut lines: Vec<JsonBody<Value>> = Vec::with_capacity(hits.len() * 2);
            for hit in &hits {
                let doc = hit.get("_source").cloned().ok_or_else(|| {
                    failure(format!(
                        "document {} has no _source (is _source disabled?); it cannot be copied",
                        hit.get("_id").unwrap_or(&Value::Null)
                    ))
                })?;
                let mut action = json!({ "_id": hit.get("_id") });
                if let Some(routing) = hit.get("_routing") {
                    action["routing"] = routing.clone();
                }
                if let Some(p) = pipeline {
                    action["pipeline"] = json!(p);
                }
                lines.push(JsonBody::new(json!({ "index": action })));
                lines.push(JsonBody::new(doc));
            }
            let items = self.bulk(to, lines, false).await?;
            if let Some((_, kind, reason)) = items.iter().find_map(item_error) {
                return Err(failure(format!(
                    "copying into {to} failed: {kind}: {reason}"
                )));
            }
        }
    }
}
