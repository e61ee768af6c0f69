//! Elasticsearch: JSON operation lists run one operation at a time over
//! the official `elasticsearch` client.
//!
//! History: an index (default `schema_migrations`) holding one document per
//! version, id = version, with version, name, checksum, applied_at,
//! execution_time_ms and success. Every write refreshes, so the next read
//! sees it.
//!
//! Lock: the document `lock` in the index `<history>_lock`, created with
//! `op_type=create`, which succeeds for exactly one runner. It carries its
//! owner and a lease the holder renews every few seconds (guarded by the
//! document's sequence number, so a holder never overwrites a lock that
//! was broken and taken by someone else). Waiters never take it over: a
//! lease that stopped being renewed is reported as stale, and `migrate
//! unlock` removes it (refusing while the lease is live, unless forced).
//!
//! Nothing in Elasticsearch is transactional: the record is written dirty
//! first and completed after, and before the first operation runs every
//! pending file is played against the live indices, mappings, aliases and
//! templates ([`state::Cluster`]), so a missing index or a field type change
//! is refused before anything changed.

mod apply;
mod http;
mod lock;
pub mod ops;
mod reindex;
pub mod state;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use elasticsearch::http::headers::{AUTHORIZATION, HeaderMap, HeaderValue};
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::indices::IndicesCreateParts;
use elasticsearch::params::Refresh;
use elasticsearch::{
    DeleteParts, Elasticsearch, IndexParts, SearchParts, UpdateParts, auth::Credentials,
    cluster::ClusterHealthParts,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use self::http::{Failure, Reply, reply};
use self::lock::renew;
use self::ops::Operation;
use super::Backend;
use super::lease::{lease_fields, owner_tag};
use crate::catalog::Script;
use crate::config::{ConnectionUrl, DatabaseConfig, percent_decode};
use crate::error::{Error, Result, StepFailure};
use crate::history::Record;
use crate::plan::{Action, Step};

/// The most history records one read returns (one search page).
const MAX_RECORDS: usize = 10_000;

/// A connection to one Elasticsearch cluster.
pub struct ElasticsearchBackend {
    client: Elasticsearch,
    database: String,
    url: ConnectionUrl,
    history: String,
    owner: String,
    heartbeat: Option<JoinHandle<()>>,
    has_reindex: Option<bool>,
}

impl ElasticsearchBackend {
    /// Connects and checks the server and the credentials with one request,
    /// waiting at most `timeout`.
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| Error::Connect {
            database: db.name.clone(),
            url: db.url.redacted(),
            message: db.url.scrub(&message),
        };
        let (mut parsed, api_key) = super::split_api_key(db.url.expose()).map_err(connect_error)?;
        let credentials = match parsed.username() {
            "" => None,
            user => Some(Credentials::Basic(
                percent_decode(user),
                percent_decode(parsed.password().unwrap_or("")),
            )),
        };
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let mut builder =
            TransportBuilder::new(SingleNodeConnectionPool::new(parsed)).enable_meta_header(false);
        if let Some(credentials) = credentials {
            builder = builder.auth(credentials);
        }
        if let Some(key) = api_key {
            let value = HeaderValue::from_str(&format!("ApiKey {key}"))
                .map_err(|_| connect_error("the api_key is not a valid header value".into()))?;
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value);
            builder = builder.headers(headers);
        }
        let transport = builder.build().map_err(|e| connect_error(e.to_string()))?;
        let client = Elasticsearch::new(transport);
        // `GET /` needs a module some distributions lack; cluster health is
        // always there and needs the same credentials.
        let health = tokio::time::timeout(timeout, async {
            reply(
                &db.url,
                client
                    .cluster()
                    .health(ClusterHealthParts::None)
                    .timeout(&format!("{}s", timeout.as_secs().max(1)))
                    .send()
                    .await,
            )
            .await
        })
        .await
        .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
        .map_err(|f| connect_error(f.message))?;
        if !health.success() {
            let f = health.failure();
            return Err(connect_error(format!(
                "{} ({})",
                f.message,
                f.code.unwrap_or_default()
            )));
        }
        Ok(ElasticsearchBackend {
            client,
            database: db.name.clone(),
            url: db.url.clone(),
            history: db.history_table.clone(),
            owner: owner_tag(),
            heartbeat: None,
            has_reindex: None,
        })
    }

    /// The configured database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    fn lock_index(&self) -> String {
        format!("{}_lock", self.history)
    }

    fn db_error(&self, context: &str, f: Failure) -> Error {
        let code = f.code.map(|c| format!(" ({c})")).unwrap_or_default();
        Error::Database {
            database: self.database.clone(),
            message: self.url.scrub(&format!("{context}: {}{code}", f.message)),
        }
    }

    async fn reply(
        &self,
        sent: std::result::Result<Response, elasticsearch::Error>,
    ) -> std::result::Result<Reply, Failure> {
        reply(&self.url, sent).await
    }

    async fn ok(
        &self,
        sent: std::result::Result<Response, elasticsearch::Error>,
    ) -> std::result::Result<Value, Failure> {
        self.reply(sent).await?.into_result()
    }

    /// Waits for the one primary shard of `index` to start. A read of an
    /// index another runner created a moment ago answers 503 (no shard
    /// available) until then; health "yellow" is reported before the
    /// primary has started, so it is not the condition to wait for.
    async fn wait_for_primary(&self, index: &str) -> std::result::Result<(), Failure> {
        self.reply(
            self.client
                .cluster()
                .health(ClusterHealthParts::Index(&[index]))
                .wait_for_active_shards("1")
                .timeout("30s")
                .send()
                .await,
        )
        .await
        .map(|_| ())
    }

    /// Sends a read of `index` (`send` makes the request); when no shard of
    /// the index is started yet (503), waits for its primary and sends it
    /// once more.
    async fn read<F>(
        &self,
        index: &str,
        send: impl Fn() -> F,
    ) -> std::result::Result<Reply, Failure>
    where
        F: std::future::Future<Output = std::result::Result<Response, elasticsearch::Error>>,
    {
        let first = self.reply(send().await).await?;
        if first.status != 503 {
            return Ok(first);
        }
        self.wait_for_primary(index).await.ok();
        self.reply(send().await).await
    }

    /// Creates an index unless it exists (another runner may create it at
    /// the same moment).
    async fn ensure_index(&self, index: &str, body: Value) -> Result<()> {
        let r = self
            .reply(
                self.client
                    .indices()
                    .create(IndicesCreateParts::Index(index))
                    .body(body)
                    .send()
                    .await,
            )
            .await
            .map_err(|f| self.db_error(&format!("creating index {index}"), f))?;
        if r.success() || r.error_type() == Some("resource_already_exists_exception") {
            Ok(())
        } else {
            Err(self.db_error(&format!("creating index {index}"), r.failure()))
        }
    }

    fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }

    async fn write_record(&self, record: &Record) -> Result<()> {
        let id = record.version.to_string();
        self.ok(self
            .client
            .index(IndexParts::IndexId(&self.history, &id))
            .refresh(Refresh::True)
            .body(json!({
                "version": record.version,
                "name": record.name,
                "checksum": record.checksum,
                "applied_at": record.applied_at.to_rfc3339(),
                "execution_time_ms": record.execution_time_ms,
                "success": record.success,
            }))
            .send()
            .await)
            .await
            .map_err(|f| self.db_error("writing the history", f))?;
        Ok(())
    }

    fn step_error(&self, script: &Script, i: usize, op: &Operation, f: Failure) -> Error {
        Error::Step(Box::new(StepFailure {
            database: self.database.clone(),
            file: script.file.clone(),
            location: format!(" at $[{i}] ({})", op.describe()),
            code: f.code,
            message: self.url.scrub(&f.message),
            applied: Vec::new(),
        }))
    }
}

fn record_of(source: &Value) -> Option<Record> {
    Some(Record {
        version: source.get("version")?.as_u64()?,
        name: source.get("name")?.as_str()?.to_string(),
        checksum: source.get("checksum")?.as_str()?.to_string(),
        applied_at: DateTime::parse_from_rfc3339(source.get("applied_at")?.as_str()?)
            .ok()?
            .with_timezone(&Utc),
        execution_time_ms: source.get("execution_time_ms")?.as_i64()?,
        success: source.get("success")?.as_bool()?,
    })
}

impl Backend for ElasticsearchBackend {
    async fn applied(&mut self) -> Result<Vec<Record>> {
        let indices = [self.history.as_str()];
        let search = || {
            self.client
                .search(SearchParts::Index(&indices))
                .ignore_unavailable(true)
                .body(json!({
                    "size": MAX_RECORDS,
                    "sort": [{ "version": "asc" }],
                    "query": { "match_all": {} },
                }))
                .send()
        };
        let body = self
            .read(&self.history, search)
            .await
            .and_then(Reply::into_result)
            .map_err(|f| self.db_error("reading the history", f))?;
        let hits = body
            .pointer("/hits/hits")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if hits.len() >= MAX_RECORDS {
            return Err(Error::Database {
                database: self.database.clone(),
                message: format!(
                    "index {} holds {MAX_RECORDS} or more records; strata reads at most {}",
                    self.history,
                    MAX_RECORDS - 1
                ),
            });
        }
        hits.iter()
            .map(|hit| {
                hit.get("_source")
                    .and_then(record_of)
                    .ok_or_else(|| Error::Database {
                        database: self.database.clone(),
                        message: format!(
                            "document {} of index {} is not a history record",
                            hit.get("_id").unwrap_or(&Value::Null),
                            self.history
                        ),
                    })
            })
            .collect()
    }

    async fn ensure_history(&mut self) -> Result<()> {
        self.ensure_index(
            &self.history,
            json!({
                "settings": { "number_of_shards": 1, "auto_expand_replicas": "0-1" },
                "mappings": { "dynamic": "strict", "properties": {
                    "version": { "type": "long" },
                    "name": { "type": "keyword" },
                    "checksum": { "type": "keyword" },
                    "applied_at": { "type": "date" },
                    "execution_time_ms": { "type": "long" },
                    "success": { "type": "boolean" },
                }},
            }),
        )
        .await
    }

    async fn lock(&mut self, timeout: Duration) -> Result<()> {
        let index = self.lock_index();
        self.ensure_index(
            &index,
            json!({
                "settings": { "number_of_shards": 1, "auto_expand_replicas": "0-1" },
                "mappings": { "dynamic": "strict", "properties": {
                    "owner": { "type": "keyword" },
                    "acquired_at": { "type": "date" },
                    "expires_at": { "type": "date" },
                }},
            }),
        )
        .await?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let r = self
                .reply(
                    self.client
                        .create(elasticsearch::CreateParts::IndexId(&index, "lock"))
                        .refresh(Refresh::True)
                        .body(lease_fields(&self.owner, &now))
                        .send()
                        .await,
                )
                .await
                .map_err(|f| self.db_error("taking the lock", f))?;
            if r.success() {
                break;
            }
            if r.status != 409 {
                return Err(self.db_error("taking the lock", r.failure()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let holder = match self.holder().await? {
                    Some(lock) => lock.holder.to_string(),
                    None => "a runner that has released it since".into(),
                };
                return Err(Error::LockTimeout {
                    database: self.database.clone(),
                    lock: format!("document {index}/lock"),
                    holder,
                    waited: timeout,
                });
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
        self.heartbeat = Some(tokio::spawn(renew(
            self.client.clone(),
            index,
            self.owner.clone(),
        )));
        Ok(())
    }

    async fn lock_lost(&mut self) -> Result<Option<String>> {
        let now = self.holder().await?.map(|l| l.holder);
        Ok(super::lease::lost(&self.owner, now.as_ref()))
    }

    async fn unlock(&mut self) -> Result<()> {
        self.stop_heartbeat();
        match self.holder().await? {
            Some(lock) if lock.holder.owner == self.owner => self.delete_lock(&lock).await,
            _ => Ok(()),
        }
    }

    async fn check(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        self.check_live(steps).await
    }

    async fn run(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let started = Instant::now();
        let ops =
            ops::parse(&script.content).map_err(|e| Error::file(&script.file, e.to_string()))?;
        // Dirty first: if we die half-way, the record says so.
        let id = step.version.to_string();
        match step.action {
            Action::Apply => {
                self.write_record(&Record {
                    version: step.version,
                    name: step.description.clone(),
                    checksum: step.checksum.clone(),
                    applied_at: Utc::now(),
                    execution_time_ms: 0,
                    success: false,
                })
                .await?
            }
            Action::Revert => {
                self.ok(self
                    .client
                    .update(UpdateParts::IndexId(&self.history, &id))
                    .refresh(Refresh::True)
                    .body(json!({ "doc": { "success": false } }))
                    .send()
                    .await)
                    .await
                    .map_err(|f| self.db_error("recording the rollback as started", f))?;
            }
        }
        for (i, op) in ops.iter().enumerate() {
            tracing::debug!(database = %self.database, op = %op.describe(), "running");
            if let Err(f) = self.execute(op).await {
                return Err(self.step_error(script, i, op, f));
            }
        }
        let elapsed = started.elapsed().as_millis() as i64;
        match step.action {
            Action::Apply => {
                self.write_record(&Record {
                    version: step.version,
                    name: step.description.clone(),
                    checksum: step.checksum.clone(),
                    applied_at: Utc::now(),
                    execution_time_ms: elapsed,
                    success: true,
                })
                .await?
            }
            Action::Revert => self.remove(step.version).await?,
        }
        Ok(elapsed)
    }

    async fn upsert(&mut self, record: &Record) -> Result<()> {
        self.write_record(record).await
    }

    async fn remove(&mut self, version: u64) -> Result<()> {
        let id = version.to_string();
        let r = self
            .reply(
                self.client
                    .delete(DeleteParts::IndexId(&self.history, &id))
                    .refresh(Refresh::True)
                    .send()
                    .await,
            )
            .await
            .map_err(|f| self.db_error("writing the history", f))?;
        if r.success() || r.status == 404 {
            Ok(())
        } else {
            Err(self.db_error("writing the history", r.failure()))
        }
    }

    async fn close(mut self) -> Result<()> {
        // A lock still held here belongs to a run that failed to release
        // it: remove ours rather than leave it to go stale.
        if self.heartbeat.is_some() {
            let _ = self.unlock().await;
        }
        Ok(())
    }
}

impl Drop for ElasticsearchBackend {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}
