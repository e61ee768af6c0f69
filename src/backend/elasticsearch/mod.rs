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
mod conn;
pub mod describe;
pub mod distribution;
mod documents;
mod health;
mod http;
mod lifecycle;
pub mod lint;
mod lock;
pub mod ops;
mod patterns;
mod reindex;
pub mod state;
mod tasks;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use elasticsearch::auth::ClientCertificate;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{AUTHORIZATION, HeaderMap, HeaderValue};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::params::Refresh;
use elasticsearch::{
    DeleteParts, Elasticsearch, IndexParts, SearchParts, UpdateParts, auth::Credentials,
    cluster::ClusterHealthParts,
};
use serde_json::{Value, json};

use self::conn::Conn;
use self::http::{Failure, Reply, reply};
use self::lock::LockStore;
use self::ops::Operation;
use super::lease::LeasedLock;
use super::stepwise::{self, Stepwise};
use super::{Backend, LockWait};
use crate::config::DatabaseConfig;
use crate::error::{Error, Result, StepFailure};
use crate::history::Record;
use crate::kind::Kind;
use crate::operations::OperationFormat;
use crate::script::Script;
use crate::step::{Action, Step};

/// The most history records one read returns (one search page).
const MAX_RECORDS: usize = 10_000;

/// How Elasticsearch operation files are read.
pub fn format() -> OperationFormat<Operation> {
    OperationFormat::new(Kind::Elasticsearch)
}

/// A connection to one Elasticsearch cluster.
pub struct ElasticsearchBackend {
    conn: Conn,
    history: String,
    lock: LeasedLock<LockStore>,
    has_reindex: Option<bool>,
    /// The server's distribution, once read.
    distribution: Option<distribution::Distribution>,
    /// `wait_for_active_shards` and `require_health`.
    waits: crate::config::cluster::ClusterWaits,
    /// Recorded as who applied each migration.
    pub(crate) applied_by: String,
}

impl ElasticsearchBackend {
    /// Documents (primaries) and store size of each named index or alias
    /// that exists, for findings on them.
    pub async fn table_sizes(
        &mut self,
        names: &[String],
    ) -> Result<BTreeMap<String, crate::finding::TableSize>> {
        let mut out = BTreeMap::new();
        for name in names {
            let reply = self
                .conn
                .reply(
                    self.conn
                        .client
                        .indices()
                        .stats(elasticsearch::indices::IndicesStatsParts::IndexMetric(
                            &[name],
                            &["docs", "store"],
                        ))
                        .send()
                        .await,
                )
                .await
                .map_err(|f| {
                    self.conn
                        .db_error(&format!("reading the size of {name}"), f)
                })?;
            if reply.status == 404 {
                continue;
            }
            let body = reply.into_result().map_err(|f| {
                self.conn
                    .db_error(&format!("reading the size of {name}"), f)
            })?;
            let number = |pointer: &str| body.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
            out.insert(
                name.clone(),
                crate::finding::TableSize {
                    rows: number("/_all/primaries/docs/count"),
                    bytes: number("/_all/total/store/size_in_bytes"),
                },
            );
        }
        Ok(out)
    }

    /// Connects and checks the server and the credentials with one request,
    /// waiting at most `timeout`.
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| db.connect_error(&message);
        let mut parsed =
            url::Url::parse(db.url.expose()).map_err(|e| connect_error(e.to_string()))?;
        let (user, password) = super::user_and_password(db, &parsed);
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let mut builder =
            TransportBuilder::new(SingleNodeConnectionPool::new(parsed)).enable_meta_header(false);
        // The client certificate takes the transport's one credentials
        // slot: a password or api key then travels as a header.
        let authorization = match (user, &db.api_key) {
            (Some(user), _) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.unwrap_or_default()))
            )),
            (None, Some(key)) => Some(format!("ApiKey {}", key.expose())),
            (None, None) => None,
        };
        if let Some(value) = authorization {
            let value = HeaderValue::from_str(&value).map_err(|_| {
                connect_error("the credentials are not a valid header value".into())
            })?;
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value);
            builder = builder.headers(headers);
        }
        if let Some(ca) = &db.tls.ca_cert {
            let pem = super::read_pem(ca).map_err(connect_error)?;
            let cert = Certificate::from_pem(&pem).map_err(|e| connect_error(e.to_string()))?;
            builder = builder.cert_validation(CertificateValidation::Full(cert));
        }
        if let (Some(cert), Some(key)) = (&db.tls.client_cert, &db.tls.client_key) {
            let mut pem = super::read_pem(cert).map_err(connect_error)?;
            pem.extend(super::read_pem(key).map_err(connect_error)?);
            builder = builder.auth(Credentials::Certificate(ClientCertificate::Pem(pem)));
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
        let conn = Conn {
            client,
            database: db.name.clone(),
            url: db.url.clone(),
        };
        Ok(ElasticsearchBackend {
            lock: LeasedLock::new(LockStore::new(conn.clone(), &db.history_table)),
            conn,
            history: db.history_table.clone(),
            has_reindex: None,
            distribution: None,
            waits: db.cluster,
            applied_by: crate::history::this_process(),
        })
    }

    /// The configured database name.
    pub fn database(&self) -> &str {
        &self.conn.database
    }

    /// Removes the lock left by a runner that died; see
    /// [`LeasedLock::break_lock`].
    pub async fn break_lock(&mut self, force: bool) -> Result<String> {
        self.lock.break_lock(force).await
    }

    async fn write_record(&self, record: &Record) -> Result<()> {
        let id = record.version.to_string();
        self.conn
            .ok(self
                .conn
                .client
                .index(IndexParts::IndexId(&self.history, &id))
                .refresh(Refresh::True)
                .body(record.to_document())
                .send()
                .await)
            .await
            .map_err(|f| self.conn.db_error("writing the history", f))?;
        Ok(())
    }

    /// Sets `success` of a recorded version (a rollback starts by
    /// clearing it).
    async fn set_success(&self, version: u64, success: bool) -> Result<()> {
        let id = version.to_string();
        self.conn
            .ok(self
                .conn
                .client
                .update(UpdateParts::IndexId(&self.history, &id))
                .refresh(Refresh::True)
                .body(json!({ "doc": { "success": success } }))
                .send()
                .await)
            .await
            .map(|_| ())
            .map_err(|f| self.conn.db_error("writing the history", f))
    }

    fn step_error(&self, script: &Script, i: usize, op: &Operation, f: Failure) -> Error {
        Error::Step(Box::new(StepFailure {
            database: self.conn.database.clone(),
            file: script.file.clone(),
            location: format!(" at $[{i}] ({})", op.describe()),
            code: f.code,
            message: self.conn.url.scrub(&f.message),
            progress: None,
            done: Default::default(),
        }))
    }
}

impl Stepwise<Operation> for ElasticsearchBackend {
    async fn mark_started(&mut self, step: &Step) -> Result<()> {
        match step.action {
            Action::Apply => {
                self.write_record(&step.record(false, 0, &self.applied_by))
                    .await
            }
            Action::Revert => self.set_success(step.version, false).await,
        }
    }

    async fn mark_finished(&mut self, step: &Step, ms: i64) -> Result<()> {
        match step.action {
            Action::Apply => {
                self.write_record(&step.record(true, ms, &self.applied_by))
                    .await
            }
            Action::Revert => self.remove(step.version).await,
        }
    }

    async fn unmark(&mut self, step: &Step) -> Result<()> {
        match step.action {
            Action::Apply => self.remove(step.version).await,
            Action::Revert => self.set_success(step.version, true).await,
        }
    }

    /// `reindex` (create, copy, switch), `put_settings` that closes the
    /// index and every operation on documents are several requests or
    /// items: they may fail part-way. What a `request` changed before it
    /// failed is unknown.
    fn atomic(&self, op: &Operation) -> bool {
        !matches!(
            op,
            Operation::Reindex(_)
                | Operation::PutSettings(_)
                | Operation::IndexDocuments(_)
                | Operation::DeleteDocuments(_)
                | Operation::UpdateByQuery(_)
                | Operation::DeleteByQuery(_)
                | Operation::Request(_)
        )
    }

    const UNIT: &'static str = "operation";

    async fn run_unit(&mut self, script: &Script, index: usize, op: &Operation) -> Result<()> {
        tracing::debug!(database = %self.conn.database, op = %op.describe(), "running");
        self.execute(op, &script.file)
            .await
            .map_err(|f| self.step_error(script, index, op, f))
    }
}

impl Backend for ElasticsearchBackend {
    async fn applied(&mut self) -> Result<Vec<Record>> {
        let indices = [self.history.as_str()];
        let search = || {
            self.conn
                .client
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
            .conn
            .read(&self.history, search)
            .await
            .and_then(Reply::into_result)
            .map_err(|f| self.conn.db_error("reading the history", f))?;
        let hits = body
            .pointer("/hits/hits")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if hits.len() >= MAX_RECORDS {
            return Err(Error::Database {
                database: self.conn.database.clone(),
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
                    .and_then(Record::from_document)
                    .ok_or_else(|| Error::Database {
                        database: self.conn.database.clone(),
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
        self.conn
            .ensure_index(
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
                        "applied_by": { "type": "keyword" },
                    }},
                }),
            )
            .await?;
        // A history index made before strata recorded who applied each
        // version gains the field (the mapping is strict).
        self.conn
            .ok(self
                .conn
                .client
                .indices()
                .put_mapping(elasticsearch::indices::IndicesPutMappingParts::Index(&[
                    &self.history,
                ]))
                .body(json!({ "properties": { "applied_by": { "type": "keyword" } } }))
                .send()
                .await)
            .await
            .map(|_| ())
            .map_err(|f| {
                self.conn
                    .db_error("adding applied_by to the history index", f)
            })
    }

    async fn lock(&mut self, timeout: Duration, wait: &mut LockWait<'_>) -> Result<()> {
        self.lock.lock(timeout, wait).await
    }

    async fn lock_lost(&mut self) -> Result<Option<String>> {
        self.lock.lost().await
    }

    async fn unlock(&mut self) -> Result<()> {
        self.lock.unlock().await
    }

    async fn lock_holder(&mut self) -> Result<Option<String>> {
        self.lock.current_holder().await
    }

    async fn check(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        self.check_live(steps).await
    }

    async fn run(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let ops =
            ops::parse(&script.content).map_err(|e| Error::file(&script.file, e.to_string()))?;
        stepwise::run(self, step, script, &ops).await
    }

    async fn upsert(&mut self, record: &Record) -> Result<()> {
        let mut record = record.clone();
        if record.applied_by.is_empty() {
            record.applied_by = self.applied_by.clone();
        }
        self.write_record(&record).await
    }

    async fn remove(&mut self, version: u64) -> Result<()> {
        let id = version.to_string();
        let r = self
            .conn
            .reply(
                self.conn
                    .client
                    .delete(DeleteParts::IndexId(&self.history, &id))
                    .refresh(Refresh::True)
                    .send()
                    .await,
            )
            .await
            .map_err(|f| self.conn.db_error("writing the history", f))?;
        if r.success() || r.status == 404 {
            Ok(())
        } else {
            Err(self.conn.db_error("writing the history", r.failure()))
        }
    }

    async fn describe(&mut self, scope: &crate::drift::Scope) -> Result<crate::drift::Schema> {
        self.describe_schema(scope).await
    }

    async fn recorded_schema(&mut self) -> Result<Option<crate::drift::Recorded>> {
        self.recorded_schema().await
    }

    async fn record_schema(&mut self, schema: &crate::drift::Schema) -> Result<()> {
        self.write_schema(schema).await
    }

    async fn close(mut self) -> Result<()> {
        self.lock.release_if_held().await;
        Ok(())
    }
}
