//! `reindex`: a new index, every document copied into it, the count
//! checked, then the alias switched in one atomic `_aliases` request.
//!
//! The copy uses the server's `_reindex` (started as a task and polled)
//! when every node has the `reindex` module. Distributions without it (the
//! test distribution, some managed offerings) get a client-side copy: a
//! point-in-time search paged with `search_after` on `_shard_doc`, written
//! back with `_bulk` in bounded batches, ids and routing preserved.
//!
//! Documents written to the source while the copy runs are not copied:
//! pause writers, or write through an alias that already points at the new
//! index, during a reindex.

use std::time::Duration;

use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::request::JsonBody;
use elasticsearch::indices::{IndicesCreateParts, IndicesRefreshParts};
use elasticsearch::nodes::NodesInfoParts;
use elasticsearch::{BulkParts, CountParts, OpenPointInTimeParts, SearchParts};
use serde_json::{Value, json};

use super::ElasticsearchBackend;
use super::http::Failure;
use super::ops::Reindex;

fn failure(message: impl Into<String>) -> Failure {
    Failure {
        code: None,
        message: message.into(),
    }
}

/// How long a point in time stays open between two pages.
const KEEP_ALIVE: &str = "5m";

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
        let mut body = serde_json::Map::new();
        if let Some(s) = &o.settings {
            body.insert("settings".into(), Value::Object(s.clone()));
        }
        if let Some(m) = &o.mappings {
            body.insert("mappings".into(), Value::Object(m.clone()));
        }
        self.conn
            .ok(self
                .conn
                .client
                .indices()
                .create(IndicesCreateParts::Index(&o.to))
                .body(Value::Object(body))
                .send()
                .await)
            .await?;
        if self.server_has_reindex().await? {
            self.copy_on_server(&source, &o.to).await?;
        } else {
            self.copy_here(&source, &o.to, o.batch()).await?;
        }
        let (from_count, to_count) = (self.count(&source).await?, self.count(&o.to).await?);
        if from_count != to_count {
            return Err(failure(format!(
                "the copy holds {to_count} documents but {source} holds {from_count}; \
                 the alias was not switched (were documents written during the reindex?)"
            )));
        }
        tracing::info!(database = %self.conn.database, from = %source, to = %o.to, documents = to_count, "copied");
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

    /// Whether every node has the `reindex` module (asked once per connection).
    async fn server_has_reindex(&mut self) -> Result<bool, Failure> {
        if let Some(known) = self.has_reindex {
            return Ok(known);
        }
        let info = self
            .conn
            .ok(self
                .conn
                .client
                .nodes()
                .info(NodesInfoParts::Metric(&["plugins"]))
                .filter_path(&["nodes.*.modules.name"])
                .send()
                .await)
            .await?;
        let nodes = info
            .get("nodes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let has = !nodes.is_empty()
            && nodes.values().all(|n| {
                n.get("modules")
                    .and_then(Value::as_array)
                    .is_some_and(|m| m.iter().any(|m| m.get("name") == Some(&json!("reindex"))))
            });
        self.has_reindex = Some(has);
        Ok(has)
    }

    async fn count(&self, index: &str) -> Result<u64, Failure> {
        self.conn
            .ok(self
                .conn
                .client
                .indices()
                .refresh(IndicesRefreshParts::Index(&[index]))
                .send()
                .await)
            .await?;
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
    async fn copy_on_server(&self, source: &str, to: &str) -> Result<(), Failure> {
        let started = self
            .conn
            .ok(self
                .conn
                .client
                .reindex()
                .wait_for_completion(false)
                .body(json!({ "source": { "index": source }, "dest": { "index": to } }))
                .send()
                .await)
            .await?;
        let task = started
            .get("task")
            .and_then(Value::as_str)
            .ok_or_else(|| failure(format!("_reindex returned no task: {started}")))?
            .to_string();
        let mut pause = Duration::from_millis(100);
        loop {
            let status = self
                .conn
                .ok(self
                    .conn
                    .client
                    .send(
                        Method::Get,
                        &format!("/_tasks/{task}"),
                        HeaderMap::new(),
                        Option::<&()>::None,
                        Option::<String>::None,
                        None,
                    )
                    .await)
                .await?;
            if status.get("completed").and_then(Value::as_bool) == Some(true) {
                if let Some(error) = status.get("error") {
                    return Err(failure(format!("_reindex task {task} failed: {error}")));
                }
                let failures = status
                    .pointer("/response/failures")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if let Some(first) = failures.first() {
                    return Err(failure(format!(
                        "_reindex task {task}: {} document(s) failed, the first: {first}",
                        failures.len()
                    )));
                }
                return Ok(());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// The client-side copy: point-in-time pages into `_bulk`.
    async fn copy_here(&self, source: &str, to: &str, batch: u32) -> Result<(), Failure> {
        let opened = self
            .conn
            .ok(self
                .conn
                .client
                .open_point_in_time(OpenPointInTimeParts::Index(&[source]))
                .keep_alive(KEEP_ALIVE)
                .send()
                .await)
            .await?;
        let mut pit = opened
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| failure(format!("opening a point in time returned {opened}")))?
            .to_string();
        let copied = self.copy_pages(&mut pit, to, batch).await;
        // Free the point in time whatever happened; a leak only costs
        // memory until it expires.
        let _ = self
            .conn
            .client
            .close_point_in_time()
            .body(json!({ "id": pit }))
            .send()
            .await;
        copied
    }

    async fn copy_pages(&self, pit: &mut String, to: &str, batch: u32) -> Result<(), Failure> {
        let mut after: Option<Value> = None;
        loop {
            let mut query = json!({
                "size": batch,
                "pit": { "id": *pit, "keep_alive": KEEP_ALIVE },
                "sort": [{ "_shard_doc": "asc" }],
                "track_total_hits": false,
            });
            if let Some(a) = &after {
                query["search_after"] = a.clone();
            }
            let page = self
                .conn
                .ok(self
                    .conn
                    .client
                    .search(SearchParts::None)
                    .body(query)
                    .send()
                    .await)
                .await?;
            if let Some(id) = page.get("pit_id").and_then(Value::as_str) {
                *pit = id.to_string();
            }
            let hits = page
                .pointer("/hits/hits")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let Some(last) = hits.last() else {
                return Ok(());
            };
            after = last.get("sort").cloned();
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
                lines.push(JsonBody::new(json!({ "index": action })));
                lines.push(JsonBody::new(doc));
            }
            let written = self
                .conn
                .ok(self
                    .conn
                    .client
                    .bulk(BulkParts::Index(to))
                    .body(lines)
                    .send()
                    .await)
                .await?;
            if written.get("errors").and_then(Value::as_bool) == Some(true) {
                let first = written
                    .get("items")
                    .and_then(Value::as_array)
                    .and_then(|items| {
                        items
                            .iter()
                            .find_map(|i| i.get("index").and_then(|x| x.get("error")).cloned())
                    })
                    .unwrap_or(Value::Null);
                return Err(failure(format!("copying into {to} failed: {first}")));
            }
            if hits.len() < batch as usize {
                return Ok(());
            }
        }
    }
}
