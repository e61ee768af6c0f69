//! Long-running work on the cluster: server tasks (`_reindex`,
//! `_update_by_query`, `_delete_by_query` started without waiting) polled
//! until they finish, and point-in-time scans for the client-side
//! equivalents on distributions without the `reindex` module.

use std::time::{Duration, Instant};

use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::request::JsonBody;
use elasticsearch::nodes::NodesInfoParts;
use elasticsearch::params::Refresh;
use elasticsearch::{BulkParts, OpenPointInTimeParts, SearchParts};
use serde_json::{Value, json};

use super::ElasticsearchBackend;
use super::http::Failure;

/// How often a long task's progress is logged.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How long a point in time stays open between two pages.
const KEEP_ALIVE: &str = "5m";

pub(super) fn failure(message: impl Into<String>) -> Failure {
    Failure {
        code: None,
        message: message.into(),
    }
}

/// A point-in-time scan over the documents of an index (or alias) that
/// match a query, page by page in `_shard_doc` order.
pub(super) struct Scan {
    pit: String,
    after: Option<Value>,
    query: Option<Value>,
    source: bool,
    batch: u32,
    done: bool,
}

impl ElasticsearchBackend {
    /// Whether every node has the `reindex` module, which serves
    /// `_reindex`, `_update_by_query` and `_delete_by_query` (asked once
    /// per connection).
    pub(super) async fn server_has_reindex(&mut self) -> Result<bool, Failure> {
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

    /// Polls a task started with `wait_for_completion=false` until it
    /// completes, logging its progress every few seconds; its `response`.
    pub(super) async fn wait_task(&self, started: &Value, what: &str) -> Result<Value, Failure> {
        let task = started
            .get("task")
            .and_then(Value::as_str)
            .ok_or_else(|| failure(format!("{what} returned no task: {started}")))?
            .to_string();
        let begun = Instant::now();
        let mut logged = Instant::now();
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
                    return Err(failure(format!("{what} (task {task}) failed: {error}")));
                }
                let response = status.get("response").cloned().unwrap_or(Value::Null);
                let failures = response
                    .get("failures")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if let Some(first) = failures.first() {
                    return Err(failure(format!(
                        "{what} (task {task}): {} document(s) failed, the first: {first}",
                        failures.len()
                    )));
                }
                return Ok(response);
            }
            if logged.elapsed() >= PROGRESS_EVERY {
                logged = Instant::now();
                let n = |k: &str| {
                    status
                        .pointer(&format!("/task/status/{k}"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                };
                tracing::info!(
                    database = %self.conn.database,
                    "still running {what}: {} of {} documents done ({}s)",
                    n("created") + n("updated") + n("deleted") + n("noops"),
                    n("total"),
                    begun.elapsed().as_secs()
                );
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Opens a scan of `index`'s documents matching `query` (all when
    /// `None`), with their `_source` when `source`.
    pub(super) async fn scan(
        &self,
        index: &str,
        query: Option<Value>,
        source: bool,
        batch: u32,
    ) -> Result<Scan, Failure> {
        let opened = self
            .conn
            .ok(self
                .conn
                .client
                .open_point_in_time(OpenPointInTimeParts::Index(&[index]))
                .keep_alive(KEEP_ALIVE)
                .send()
                .await)
            .await?;
        let pit = opened
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| failure(format!("opening a point in time returned {opened}")))?
            .to_string();
        Ok(Scan {
            pit,
            after: None,
            query,
            source,
            batch,
            done: false,
        })
    }

    /// The next page of a scan: its hits (with `_index`, `_id`, `_seq_no`,
    /// `_primary_term`, `_routing` and, when asked, `_source`); empty at
    /// the end.
    pub(super) async fn next_page(&self, scan: &mut Scan) -> Result<Vec<Value>, Failure> {
        if scan.done {
            return Ok(Vec::new());
        }
        let mut body = json!({
            "size": scan.batch,
            "pit": { "id": scan.pit, "keep_alive": KEEP_ALIVE },
            "sort": [{ "_shard_doc": "asc" }],
            "track_total_hits": false,
            "seq_no_primary_term": true,
            "_source": scan.source,
        });
        if let Some(q) = &scan.query {
            body["query"] = q.clone();
        }
        if let Some(a) = &scan.after {
            body["search_after"] = a.clone();
        }
        let page = self
            .conn
            .ok(self
                .conn
                .client
                .search(SearchParts::None)
                .body(body)
                .send()
                .await)
            .await?;
        if let Some(id) = page.get("pit_id").and_then(Value::as_str) {
            scan.pit = id.to_string();
        }
        let hits = page
            .pointer("/hits/hits")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        scan.after = hits.last().and_then(|h| h.get("sort")).cloned();
        scan.done = hits.len() < scan.batch as usize;
        Ok(hits)
    }

    /// Frees a scan's point in time; a failure only costs memory until
    /// it expires.
    pub(super) async fn close_scan(&self, scan: Scan) {
        let _ = self
            .conn
            .client
            .close_point_in_time()
            .body(json!({ "id": scan.pit }))
            .send()
            .await;
    }

    /// One `_bulk` request: its items, in order.
    pub(super) async fn bulk(
        &self,
        index: &str,
        lines: Vec<JsonBody<Value>>,
        refresh: bool,
    ) -> Result<Vec<Value>, Failure> {
        let refresh = if refresh {
            Refresh::True
        } else {
            Refresh::False
        };
        let shards = self.active_shards();
        let mut bulk = self
            .conn
            .client
            .bulk(BulkParts::Index(index))
            .refresh(refresh)
            .body(lines);
        if let Some(w) = &shards {
            bulk = bulk
                .wait_for_active_shards(w)
                .timeout(super::health::SHARDS_WAIT);
        }
        let written = self.conn.ok(bulk.send().await).await?;
        Ok(written
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }
}

/// A bulk item's error, when it has one: its status, type and reason.
pub(super) fn item_error(item: &Value) -> Option<(u16, String, String)> {
    let (_, result) = item.as_object()?.iter().next()?;
    let error = result.get("error")?;
    let status = result.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("error")
        .to_string();
    let reason = error
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    Some((status, kind, reason))
}
