//! Writing and removing documents: `index_documents` and
//! `delete_documents` with `_bulk` (every refused item reported with its
//! position), and `update_by_query` / `delete_by_query`, as server tasks
//! when every node has the `reindex` module, else done here over a
//! point-in-time scan with the same rules (documents written with their
//! sequence numbers, so a concurrent change is a conflict, not a lost
//! write).

use std::path::{Path, PathBuf};
use std::time::Instant;

use elasticsearch::http::request::JsonBody;
use elasticsearch::params::Conflicts as EsConflicts;
use elasticsearch::{DeleteByQueryParts, UpdateByQueryParts};
use serde_json::{Value, json};

use super::ElasticsearchBackend;
use super::http::Failure;
use super::ops::HttpMethod;
use super::ops::documents::{self, Conflicts, Document};
use super::ops::{DeleteByQuery, DeleteDocuments, IndexDocuments, UpdateByQuery};
use super::tasks::{PROGRESS_EVERY, failure, item_error};
use crate::error::{Error, Result};

/// Documents per `_bulk` request.
const BATCH: usize = 1000;

/// How many refused documents one message lists.
const LISTED: usize = 10;

/// A document with where it was written: `documents[3]` or `seed.ndjson:4`.
pub(super) struct Placed {
    at: String,
    doc: Document,
}

/// The data file an `index_documents` names, beside the file naming it.
pub(super) fn data_file(script_file: &Path, name: &str) -> PathBuf {
    script_file.parent().unwrap_or(Path::new(".")).join(name)
}

/// The documents of an `index_documents`, read and checked: inline ones,
/// or every line of its NDJSON file (an error names the file and line).
pub(super) fn placed(o: &IndexDocuments, script_file: &Path) -> Result<Vec<Placed>> {
    if let Some(docs) = &o.documents {
        return docs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let doc = documents::document(d).map_err(|(p, m)| {
                    Error::file(script_file, format!("documents[{i}]{p}: {m}"))
                })?;
                Ok(Placed {
                    at: format!("documents[{i}]"),
                    doc,
                })
            })
            .collect();
    }
    let name = o.file.as_deref().unwrap_or_default();
    let path = data_file(script_file, name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::file(
            script_file,
            format!("index_documents: cannot read {}: {e}", path.display()),
        )
    })?;
    let docs = documents::ndjson(&text).map_err(|(line, m)| Error::File {
        file: path.clone(),
        location: format!(":{line}"),
        message: m,
    })?;
    Ok(docs
        .into_iter()
        .map(|(line, doc)| Placed {
            at: format!("{name}:{line}"),
            doc,
        })
        .collect())
}

/// One message for every refused item: how many, then the first few with
/// their position, id and Elasticsearch's reason.
fn refused(what: &str, total: usize, errors: &[(String, String, String)]) -> Failure {
    let mut listed: Vec<String> = errors
        .iter()
        .take(LISTED)
        .map(|(at, kind, reason)| format!("{at}: {kind}: {reason}"))
        .collect();
    if errors.len() > LISTED {
        listed.push(format!("and {} more", errors.len() - LISTED));
    }
    Failure {
        code: errors.first().map(|(_, kind, _)| kind.clone()),
        message: format!(
            "{} of {total} {what} refused: {}",
            errors.len(),
            listed.join("; ")
        ),
    }
}

impl ElasticsearchBackend {
    pub(super) async fn index_documents(
        &self,
        o: &IndexDocuments,
        script_file: &Path,
    ) -> std::result::Result<(), Failure> {
        let docs = placed(o, script_file).map_err(|e| failure(e.to_string()))?;
        // A data stream takes only `create` actions (a document with an id
        // already there is refused rather than replaced).
        let action = if self.is_data_stream(&o.index).await? {
            "create"
        } else {
            "index"
        };
        let mut errors = Vec::new();
        let chunks: Vec<&[Placed]> = docs.chunks(BATCH).collect();
        for (n, chunk) in chunks.iter().enumerate() {
            let mut lines = Vec::with_capacity(chunk.len() * 2);
            for p in *chunk {
                let meta = match &p.doc.id {
                    Some(id) => json!({ action: { "_id": id } }),
                    None => json!({ action: {} }),
                };
                lines.push(JsonBody::new(meta));
                lines.push(JsonBody::new(Value::Object(p.doc.source.clone())));
            }
            let last = n + 1 == chunks.len();
            let items = self.bulk(&o.index, lines, last && o.refresh()).await?;
            for (p, item) in chunk.iter().zip(&items) {
                if let Some((_, kind, reason)) = item_error(item) {
                    let at = match &p.doc.id {
                        Some(id) => format!("{} (_id {id:?})", p.at),
                        None => p.at.clone(),
                    };
                    errors.push((at, kind, reason));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(refused("documents were", docs.len(), &errors))
        }
    }

    pub(super) async fn delete_documents(
        &self,
        o: &DeleteDocuments,
    ) -> std::result::Result<(), Failure> {
        let ids: Vec<String> = o
            .ids
            .iter()
            .map(|id| documents::id_text(id).map_err(failure))
            .collect::<std::result::Result<_, _>>()?;
        let mut errors = Vec::new();
        let mut missing = 0;
        for (n, chunk) in ids.chunks(BATCH).enumerate() {
            let lines = chunk
                .iter()
                .map(|id| JsonBody::new(json!({ "delete": { "_id": id } })))
                .collect();
            let last = (n + 1) * BATCH >= ids.len();
            let items = self.bulk(&o.index, lines, last).await?;
            for (i, item) in items.iter().enumerate() {
                let result = item.pointer("/delete/result").and_then(Value::as_str);
                if result == Some("not_found") {
                    missing += 1;
                } else if let Some((_, kind, reason)) = item_error(item) {
                    let at = n * BATCH + i;
                    errors.push((format!("ids[{at}] ({:?})", ids[at]), kind, reason));
                }
            }
        }
        if missing > 0 {
            // A rollback of seeds some of which were removed since: what
            // it should achieve holds.
            tracing::info!(database = %self.conn.database, index = %o.index, missing, "documents already absent");
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(refused("deletions were", ids.len(), &errors))
        }
    }

    /// Whether `name` is a data stream (never, on a cluster without them).
    async fn is_data_stream(&self, name: &str) -> std::result::Result<bool, Failure> {
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let reply = self
            .send(HttpMethod::Get, &format!("/_data_stream/{encoded}"), None)
            .await?;
        Ok(reply.success())
    }

    pub(super) async fn update_by_query(
        &mut self,
        o: &UpdateByQuery,
    ) -> std::result::Result<(), Failure> {
        let proceed = o.conflicts == Some(Conflicts::Proceed);
        let query = o.query.clone().map(Value::Object);
        let has_reindex = self.server_has_reindex().await?;
        if o.script.is_some() && !has_reindex {
            return Err(failure(
                "a script runs only in the server's _update_by_query, and this cluster's nodes \
                 lack the reindex module; nothing was changed",
            ));
        }
        if has_reindex {
            let mut body = json!({});
            if let Some(q) = &query {
                body["query"] = q.clone();
            }
            if let Some(s) = &o.script {
                body["script"] = json!(s);
            }
            let shards = self.active_shards();
            let target = [o.index.as_str()];
            let mut request = self
                .conn
                .client
                .update_by_query(UpdateByQueryParts::Index(&target))
                .conflicts(if proceed {
                    EsConflicts::Proceed
                } else {
                    EsConflicts::Abort
                })
                .refresh(true)
                .wait_for_completion(false)
                .body(body);
            if let Some(w) = &shards {
                request = request.wait_for_active_shards(w);
            }
            if let Some(p) = &o.pipeline {
                request = request.pipeline(p);
            }
            let started = self.conn.ok(request.send().await).await?;
            let done = self
                .wait_task(&started, &format!("update_by_query on {}", o.index))
                .await?;
            let updated = done.get("updated").and_then(Value::as_u64).unwrap_or(0);
            tracing::info!(database = %self.conn.database, index = %o.index, updated, "update_by_query done");
            return Ok(());
        }
        let pipeline = o.pipeline.as_deref();
        self.rewrite_here(&o.index, query, proceed, Some(pipeline))
            .await
    }

    pub(super) async fn delete_by_query(
        &mut self,
        o: &DeleteByQuery,
    ) -> std::result::Result<(), Failure> {
        let query = Value::Object(o.query.clone());
        if self.server_has_reindex().await? {
            let shards = self.active_shards();
            let target = [o.index.as_str()];
            let mut request = self
                .conn
                .client
                .delete_by_query(DeleteByQueryParts::Index(&target))
                .refresh(true)
                .wait_for_completion(false)
                .body(json!({ "query": query }));
            if let Some(w) = &shards {
                request = request.wait_for_active_shards(w);
            }
            let started = self.conn.ok(request.send().await).await?;
            self.wait_task(&started, &format!("delete_by_query on {}", o.index))
                .await?;
            return Ok(());
        }
        self.rewrite_here(&o.index, Some(query), false, None).await
    }

    /// `update_by_query` (`update` is `Some(pipeline)`) or `delete_by_query`
    /// (`None`) done here: every matching document written back (through
    /// the pipeline) or deleted, guarded by the sequence number it was read
    /// with.
    async fn rewrite_here(
        &self,
        index: &str,
        query: Option<Value>,
        proceed: bool,
        update: Option<Option<&str>>,
    ) -> std::result::Result<(), Failure> {
        let what = if update.is_some() {
            "update_by_query"
        } else {
            "delete_by_query"
        };
        let mut scan = self
            .scan(index, query, update.is_some(), BATCH as u32)
            .await?;
        let mut logged = Instant::now();
        let (mut done, mut conflicts) = (0u64, 0u64);
        let result = async {
            loop {
                let hits = self.next_page(&mut scan).await?;
                if hits.is_empty() {
                    return Ok(());
                }
                let mut lines = Vec::with_capacity(hits.len() * 2);
                for hit in &hits {
                    let mut target = json!({
                        "_index": hit["_index"],
                        "_id": hit["_id"],
                        "if_seq_no": hit["_seq_no"],
                        "if_primary_term": hit["_primary_term"],
                    });
                    if let Some(r) = hit.get("_routing") {
                        target["routing"] = r.clone();
                    }
                    if let Some(pipeline) = update {
                        if let Some(p) = pipeline {
                            target["pipeline"] = json!(p);
                        }
                        let source = hit.get("_source").cloned().ok_or_else(|| {
                            failure(format!(
                                "document {} has no _source (is _source disabled?): it cannot be \
                                 written again",
                                hit["_id"]
                            ))
                        })?;
                        lines.push(JsonBody::new(json!({ "index": target })));
                        lines.push(JsonBody::new(source));
                    } else {
                        lines.push(JsonBody::new(json!({ "delete": target })));
                    }
                }
                let items = self.bulk(index, lines, false).await?;
                for (hit, item) in hits.iter().zip(&items) {
                    match item_error(item) {
                        None => done += 1,
                        Some((409, _, _)) if proceed => conflicts += 1,
                        Some((409, kind, reason)) => {
                            return Err(Failure {
                                code: Some(kind),
                                message: format!(
                                    "document {} changed while {what} ran ({reason}); \
                                     {done} document(s) were done before it (conflicts: \
                                     \"proceed\" skips such documents)",
                                    hit["_id"]
                                ),
                            });
                        }
                        Some((_, kind, reason)) => {
                            return Err(Failure {
                                code: Some(kind),
                                message: format!(
                                    "document {}: {reason}; {done} document(s) were done before it",
                                    hit["_id"]
                                ),
                            });
                        }
                    }
                }
                if logged.elapsed() >= PROGRESS_EVERY {
                    logged = Instant::now();
                    tracing::info!(database = %self.conn.database, index, done, "still running {what}");
                }
            }
        }
        .await;
        self.close_scan(scan).await;
        result?;
        self.conn.refresh(index).await?;
        tracing::info!(database = %self.conn.database, index, done, conflicts, "{what} done");
        Ok(())
    }
}
