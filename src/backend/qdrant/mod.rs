//! Qdrant: JSON operation lists run one operation at a time over gRPC,
//! with the message types and generated clients of `qdrant-client` (its
//! high-level client cannot send several alias actions in one request,
//! which an atomic alias switch needs).
//!
//! History: a collection (default `schema_migrations`) holding one point
//! per version, id = version, payload = the record (version, name,
//! checksum, applied_at, execution_time_ms, success); every write waits
//! for the server to apply it. Its one-dimensional vector is a placeholder:
//! Qdrant points carry vectors.
//!
//! Lock: creating the collection `<history>_lock` succeeds for exactly one
//! runner; its point 1 carries the owner and a lease the holder renews
//! every few seconds; releasing deletes the collection. Waiters never take
//! it over: a lease that ran out is reported as stale, and `migrate
//! unlock` deletes it (refusing a live lease, or a lock without an owner
//! point, unless forced).
//!
//! Nothing is transactional: the record is written dirty first and
//! completed after, and before the first operation runs every pending file
//! is played against the live collections and aliases ([`state::Cluster`]),
//! so a missing collection or a vector size change is refused before
//! anything changed.

pub mod ops;
mod proto;
pub mod state;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use qdrant_client::Payload;
use qdrant_client::qdrant as pb;
use qdrant_client::qdrant::collections_client::CollectionsClient;
use qdrant_client::qdrant::points_client::PointsClient;
use qdrant_client::qdrant::qdrant_client::QdrantClient;
use serde_json::json;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use self::ops::Operation;
use super::Backend;
use super::lease::{Holder, LEASE, expired, lease_fields, owner_tag};
use crate::catalog::Script;
use crate::config::{ConnectionUrl, DatabaseConfig};
use crate::error::{Error, Result, StepFailure};
use crate::history::Record;
use crate::plan::{Action, Step};

/// The most history records one read returns.
const MAX_RECORDS: u32 = 10_000;

/// The id of the owner point in the lock collection.
const LOCK_POINT: u64 = 1;

/// Adds the `api-key` header to every request when one is configured.
#[derive(Clone)]
pub struct ApiKey(Option<MetadataValue<Ascii>>);

impl Interceptor for ApiKey {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        if let Some(key) = &self.0 {
            request.metadata_mut().insert("api-key", key.clone());
        }
        Ok(request)
    }
}

type Service = InterceptedService<Channel, ApiKey>;

/// A connection to one Qdrant instance.
pub struct QdrantBackend {
    collections: CollectionsClient<Service>,
    points: PointsClient<Service>,
    database: String,
    url: ConnectionUrl,
    history: String,
    owner: String,
    heartbeat: Option<JoinHandle<()>>,
}

fn lock_name(history: &str) -> String {
    format!("{history}_lock")
}

fn point_id(n: u64) -> pb::PointId {
    pb::PointId {
        point_id_options: Some(pb::point_id::PointIdOptions::Num(n)),
    }
}

/// A one-dimensional placeholder vector space for strata's own collections.
fn bookkeeping_collection(name: &str) -> pb::CreateCollection {
    pb::CreateCollection {
        collection_name: name.to_string(),
        vectors_config: Some(pb::VectorsConfig {
            config: Some(pb::vectors_config::Config::Params(pb::VectorParams {
                size: 1,
                distance: pb::Distance::Dot as i32,
                ..Default::default()
            })),
        }),
        ..Default::default()
    }
}

fn point(id: u64, payload: serde_json::Value) -> pb::PointStruct {
    let payload = Payload::try_from(payload).expect("an object");
    pb::PointStruct::new(point_id(id), vec![1.0_f32], payload)
}

fn text(payload: &HashMap<String, pb::Value>, key: &str) -> Option<String> {
    match payload.get(key)?.kind.as_ref()? {
        pb::value::Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn integer(payload: &HashMap<String, pb::Value>, key: &str) -> Option<i64> {
    match payload.get(key)?.kind.as_ref()? {
        pb::value::Kind::IntegerValue(n) => Some(*n),
        pb::value::Kind::DoubleValue(f) => Some(*f as i64),
        _ => None,
    }
}

fn boolean(payload: &HashMap<String, pb::Value>, key: &str) -> Option<bool> {
    match payload.get(key)?.kind.as_ref()? {
        pb::value::Kind::BoolValue(b) => Some(*b),
        _ => None,
    }
}

fn record_of(payload: &HashMap<String, pb::Value>) -> Option<Record> {
    Some(Record {
        version: u64::try_from(integer(payload, "version")?).ok()?,
        name: text(payload, "name")?,
        checksum: text(payload, "checksum")?,
        applied_at: DateTime::parse_from_rfc3339(&text(payload, "applied_at")?)
            .ok()?
            .with_timezone(&Utc),
        execution_time_ms: integer(payload, "execution_time_ms")?,
        success: boolean(payload, "success")?,
    })
}

fn holder_of(payload: &HashMap<String, pb::Value>) -> Option<Holder> {
    let expires_at = text(payload, "expires_at")?;
    let stale = expired(&expires_at);
    Some(Holder {
        owner: text(payload, "owner")?,
        acquired_at: text(payload, "acquired_at").unwrap_or_default(),
        expires_at,
        stale,
    })
}

/// The lock collection's owner point, if there is one.
async fn read_holder(
    points: &mut PointsClient<Service>,
    lock: &str,
) -> std::result::Result<Option<Holder>, tonic::Status> {
    let got = points
        .get(pb::GetPoints {
            collection_name: lock.to_string(),
            ids: vec![point_id(LOCK_POINT)],
            with_payload: Some(true.into()),
            ..Default::default()
        })
        .await;
    match got {
        Ok(r) => Ok(r
            .into_inner()
            .result
            .first()
            .and_then(|p| holder_of(&p.payload))),
        Err(s) if s.code() == Code::NotFound => Ok(None),
        Err(s) => Err(s),
    }
}

/// Keeps our lease alive while the lock collection still names us.
async fn renew(mut points: PointsClient<Service>, lock: String, owner: String) {
    loop {
        tokio::time::sleep(LEASE / 3).await;
        match read_holder(&mut points, &lock).await {
            Ok(Some(h)) if h.owner == owner => {
                let upsert = points
                    .upsert(pb::UpsertPoints {
                        collection_name: lock.clone(),
                        wait: Some(true),
                        points: vec![point(LOCK_POINT, lease_fields(&owner, &h.acquired_at))],
                        ..Default::default()
                    })
                    .await;
                if let Err(e) = upsert {
                    tracing::warn!(lock, error = %e.message(), "renewing the qdrant migration lock failed");
                }
            }
            Ok(_) => {
                tracing::warn!(lock, "the qdrant migration lock is no longer ours");
                return;
            }
            Err(e) => {
                tracing::warn!(lock, error = %e.message(), "reading the qdrant migration lock failed")
            }
        }
    }
}

fn is_already_exists(s: &tonic::Status) -> bool {
    s.code() == Code::AlreadyExists
        || (s.code() == Code::InvalidArgument && s.message().contains("already exists"))
}

impl QdrantBackend {
    /// Connects and checks the server and the api key with one health
    /// check, waiting at most `timeout`.
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| Error::Connect {
            database: db.name.clone(),
            url: db.url.redacted(),
            message: db.url.scrub(&message),
        };
        let (parsed, key) = super::split_api_key(db.url.expose()).map_err(connect_error)?;
        let key = key
            .map(|k| {
                MetadataValue::try_from(k.as_str())
                    .map_err(|_| connect_error("the api_key is not a valid header value".into()))
            })
            .transpose()?;
        let https = parsed.scheme() == "https";
        let mut endpoint = Endpoint::from_shared(parsed.to_string())
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(timeout);
        if https {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_native_roots())
                .map_err(|e| connect_error(e.to_string()))?;
        }
        let channel = tokio::time::timeout(timeout, endpoint.connect())
            .await
            .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|e| connect_error(format!("{e} ({})", source_chain(&e))))?;
        let api_key = ApiKey(key);
        let mut health = QdrantClient::with_interceptor(channel.clone(), api_key.clone());
        tokio::time::timeout(timeout, health.health_check(pb::HealthCheckRequest {}))
            .await
            .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|s| connect_error(format!("{} ({:?})", s.message(), s.code())))?;
        Ok(QdrantBackend {
            collections: CollectionsClient::with_interceptor(channel.clone(), api_key.clone()),
            points: PointsClient::with_interceptor(channel, api_key),
            database: db.name.clone(),
            url: db.url.clone(),
            history: db.history_table.clone(),
            owner: owner_tag(),
            heartbeat: None,
        })
    }

    fn db_error(&self, context: &str, s: tonic::Status) -> Error {
        Error::Database {
            database: self.database.clone(),
            message: self
                .url
                .scrub(&format!("{context}: {} ({:?})", s.message(), s.code())),
        }
    }

    /// Deletes a lock left by a runner that died. Refuses while its lease
    /// is being renewed, or when it has no owner point (a runner may be
    /// taking it this instant), unless `force`.
    pub async fn break_lock(&mut self, force: bool) -> Result<String> {
        let lock = lock_name(&self.history);
        let exists = self
            .collections
            .collection_exists(pb::CollectionExistsRequest {
                collection_name: lock.clone(),
            })
            .await
            .map_err(|s| self.db_error("reading the lock", s))?
            .into_inner()
            .result
            .is_some_and(|r| r.exists);
        if !exists {
            return Ok(format!("{}: no lock is held", self.database));
        }
        let holder = read_holder(&mut self.points, &lock)
            .await
            .map_err(|s| self.db_error("reading the lock", s))?;
        let shown = match &holder {
            Some(h) if !h.stale && !force => {
                return Err(Error::Database {
                    database: self.database.clone(),
                    message: format!(
                        "the lock is held by {h}: its owner is alive; wait for it, or pass \
                         --force if you are sure it is not running"
                    ),
                });
            }
            None if !force => {
                return Err(Error::Database {
                    database: self.database.clone(),
                    message: format!(
                        "collection {lock} exists without an owner point: a runner may be taking \
                         the lock right now, or died doing so; pass --force to remove it"
                    ),
                });
            }
            Some(h) => h.to_string(),
            None => "an unknown runner".to_string(),
        };
        self.delete_collection(&lock)
            .await
            .map_err(|s| self.db_error("removing the lock", s))?;
        Ok(format!(
            "{}: removed the lock held by {shown}",
            self.database
        ))
    }

    async fn delete_collection(&mut self, name: &str) -> std::result::Result<(), tonic::Status> {
        self.collections
            .delete(pb::DeleteCollection {
                collection_name: name.to_string(),
                ..Default::default()
            })
            .await
            .map(|_| ())
    }

    fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }

    /// Reads the live collections (their vectors and payload indexes) and
    /// aliases.
    async fn cluster(&mut self) -> Result<state::Cluster> {
        let names = self
            .collections
            .list(pb::ListCollectionsRequest {})
            .await
            .map_err(|s| self.db_error("listing the collections", s))?
            .into_inner()
            .collections;
        let mut collections = BTreeMap::new();
        for c in names {
            let info = self
                .collections
                .get(pb::GetCollectionInfoRequest {
                    collection_name: c.name.clone(),
                })
                .await
                .map_err(|s| self.db_error(&format!("reading collection {}", c.name), s))?
                .into_inner()
                .result
                .unwrap_or_default();
            let vectors = proto::live_vectors(&info)
                .into_iter()
                .filter_map(|(name, (size, d))| {
                    Some((
                        name,
                        state::Vector {
                            size,
                            distance: proto::distance_of(d)?,
                        },
                    ))
                })
                .collect();
            let payload_indexes: BTreeSet<String> = info.payload_schema.keys().cloned().collect();
            collections.insert(
                c.name,
                state::Collection {
                    vectors,
                    payload_indexes,
                },
            );
        }
        let aliases = self
            .collections
            .list_aliases(pb::ListAliasesRequest {})
            .await
            .map_err(|s| self.db_error("listing the aliases", s))?
            .into_inner()
            .aliases
            .into_iter()
            .map(|a| (a.alias_name, a.collection_name))
            .collect();
        Ok(state::Cluster {
            collections,
            aliases,
        })
    }

    async fn execute(&mut self, op: &Operation) -> std::result::Result<(), tonic::Status> {
        use pb::alias_operations::Action as A;
        match op {
            Operation::CreateCollection(o) => {
                self.collections.create(proto::create(o)).await?;
            }
            Operation::UpdateCollection(o) => {
                self.collections.update(proto::update(o)).await?;
            }
            Operation::DeleteCollection(o) => {
                let deleted = self
                    .collections
                    .delete(pb::DeleteCollection {
                        collection_name: o.collection.clone(),
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                if !deleted.result {
                    return Err(tonic::Status::not_found(format!(
                        "collection {} was not deleted (did it exist?)",
                        o.collection
                    )));
                }
            }
            Operation::CreatePayloadIndex(o) => {
                self.points
                    .create_field_index(pb::CreateFieldIndexCollection {
                        collection_name: o.collection.clone(),
                        wait: Some(true),
                        field_name: o.field.clone(),
                        field_type: Some(proto::field_type(o.schema)),
                        ..Default::default()
                    })
                    .await?;
            }
            Operation::DeletePayloadIndex(o) => {
                self.points
                    .delete_field_index(pb::DeleteFieldIndexCollection {
                        collection_name: o.collection.clone(),
                        wait: Some(true),
                        field_name: o.field.clone(),
                        ..Default::default()
                    })
                    .await?;
            }
            Operation::CreateAlias(o) => {
                self.collections
                    .update_aliases(proto::aliases(vec![A::CreateAlias(pb::CreateAlias {
                        collection_name: o.collection.clone(),
                        alias_name: o.alias.clone(),
                    })]))
                    .await?;
            }
            Operation::DeleteAlias(o) => {
                self.collections
                    .update_aliases(proto::aliases(vec![A::DeleteAlias(pb::DeleteAlias {
                        alias_name: o.alias.clone(),
                    })]))
                    .await?;
            }
            Operation::SwitchAlias(o) => {
                let exists = self
                    .collections
                    .list_aliases(pb::ListAliasesRequest {})
                    .await?
                    .into_inner()
                    .aliases
                    .iter()
                    .any(|a| a.alias_name == o.alias);
                let mut actions = Vec::new();
                if exists {
                    actions.push(A::DeleteAlias(pb::DeleteAlias {
                        alias_name: o.alias.clone(),
                    }));
                }
                actions.push(A::CreateAlias(pb::CreateAlias {
                    collection_name: o.to.clone(),
                    alias_name: o.alias.clone(),
                }));
                self.collections
                    .update_aliases(proto::aliases(actions))
                    .await?;
            }
        }
        Ok(())
    }

    async fn write_record(&mut self, record: &Record) -> Result<()> {
        let payload = json!({
            "version": record.version,
            "name": record.name,
            "checksum": record.checksum,
            "applied_at": record.applied_at.to_rfc3339(),
            "execution_time_ms": record.execution_time_ms,
            "success": record.success,
        });
        self.points
            .upsert(pb::UpsertPoints {
                collection_name: self.history.clone(),
                wait: Some(true),
                points: vec![point(record.version, payload)],
                ..Default::default()
            })
            .await
            .map_err(|s| self.db_error("writing the history", s))?;
        Ok(())
    }

    fn step_error(&self, script: &Script, i: usize, op: &Operation, s: tonic::Status) -> Error {
        Error::Step(Box::new(StepFailure {
            database: self.database.clone(),
            file: script.file.clone(),
            location: format!(" at $[{i}] ({})", op.describe()),
            code: Some(format!("{:?}", s.code())),
            message: self.url.scrub(s.message()),
            applied: Vec::new(),
        }))
    }
}

/// The causes of a transport error, which tonic keeps out of its message.
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    out.join(": ")
}

impl Backend for QdrantBackend {
    async fn applied(&mut self) -> Result<Vec<Record>> {
        let scrolled = self
            .points
            .scroll(pb::ScrollPoints {
                collection_name: self.history.clone(),
                limit: Some(MAX_RECORDS),
                with_payload: Some(true.into()),
                ..Default::default()
            })
            .await;
        let page = match scrolled {
            Ok(r) => r.into_inner(),
            // No history collection yet: nothing applied. Never create it here.
            Err(s) if s.code() == Code::NotFound => return Ok(Vec::new()),
            Err(s) => return Err(self.db_error("reading the history", s)),
        };
        if page.next_page_offset.is_some() {
            return Err(Error::Database {
                database: self.database.clone(),
                message: format!(
                    "collection {} holds more than {MAX_RECORDS} records; strata reads at most that many",
                    self.history
                ),
            });
        }
        let mut records = page
            .result
            .iter()
            .map(|p| {
                record_of(&p.payload).ok_or_else(|| Error::Database {
                    database: self.database.clone(),
                    message: format!(
                        "a point of collection {} is not a history record",
                        self.history
                    ),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        records.sort_by_key(|r| r.version);
        Ok(records)
    }

    async fn ensure_history(&mut self) -> Result<()> {
        match self
            .collections
            .create(bookkeeping_collection(&self.history))
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if is_already_exists(&s) => Ok(()),
            Err(s) => Err(self.db_error("creating the history collection", s)),
        }
    }

    async fn lock(&mut self, timeout: Duration) -> Result<()> {
        let lock = lock_name(&self.history);
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            match self.collections.create(bookkeeping_collection(&lock)).await {
                Ok(_) => break,
                Err(s) if is_already_exists(&s) => {}
                Err(s) => return Err(self.db_error("taking the lock", s)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let holder = match read_holder(&mut self.points, &lock).await {
                    Ok(Some(h)) => h.to_string(),
                    _ => "a runner that has not written its owner point (or just released it)"
                        .to_string(),
                };
                return Err(Error::LockTimeout {
                    database: self.database.clone(),
                    lock: format!("collection {lock}"),
                    holder,
                    waited: timeout,
                });
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let written = self
            .points
            .upsert(pb::UpsertPoints {
                collection_name: lock.clone(),
                wait: Some(true),
                points: vec![point(LOCK_POINT, lease_fields(&self.owner, &now))],
                ..Default::default()
            })
            .await;
        if let Err(s) = written {
            let _ = self.delete_collection(&lock).await;
            return Err(self.db_error("taking the lock", s));
        }
        self.heartbeat = Some(tokio::spawn(renew(
            self.points.clone(),
            lock,
            self.owner.clone(),
        )));
        Ok(())
    }

    async fn lock_lost(&mut self) -> Result<Option<String>> {
        let now = read_holder(&mut self.points, &lock_name(&self.history))
            .await
            .map_err(|s| self.db_error("reading the lock", s))?;
        Ok(super::lease::lost(&self.owner, now.as_ref()))
    }

    async fn unlock(&mut self) -> Result<()> {
        self.stop_heartbeat();
        let lock = lock_name(&self.history);
        let holder = read_holder(&mut self.points, &lock)
            .await
            .map_err(|s| self.db_error("releasing the lock", s))?;
        if holder.is_some_and(|h| h.owner == self.owner) {
            self.delete_collection(&lock)
                .await
                .map_err(|s| self.db_error("releasing the lock", s))?;
        }
        Ok(())
    }

    async fn check(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let mut cluster = self.cluster().await?;
        super::operations::play::<Operation>(&mut cluster, steps)
    }

    async fn run(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let started = Instant::now();
        let ops =
            ops::parse(&script.content).map_err(|e| Error::file(&script.file, e.to_string()))?;
        let record = Record {
            version: step.version,
            name: step.description.clone(),
            checksum: step.checksum.clone(),
            applied_at: Utc::now(),
            execution_time_ms: 0,
            success: false,
        };
        // Dirty first: if we die half-way, the record says so. A rollback
        // only flips `success` of the recorded point (the step carries the
        // rollback file's checksum, not the migration's).
        match step.action {
            Action::Apply => self.write_record(&record).await?,
            Action::Revert => {
                let flag = Payload::try_from(json!({ "success": false })).expect("an object");
                self.points
                    .set_payload(pb::SetPayloadPoints {
                        collection_name: self.history.clone(),
                        wait: Some(true),
                        payload: flag.into(),
                        points_selector: Some(vec![point_id(step.version)].into()),
                        ..Default::default()
                    })
                    .await
                    .map_err(|s| self.db_error("recording the rollback as started", s))?;
            }
        }
        for (i, op) in ops.iter().enumerate() {
            tracing::debug!(database = %self.database, op = %op.describe(), "running");
            if let Err(s) = self.execute(op).await {
                return Err(self.step_error(script, i, op, s));
            }
        }
        let elapsed = started.elapsed().as_millis() as i64;
        match step.action {
            Action::Apply => {
                self.write_record(&Record {
                    applied_at: Utc::now(),
                    execution_time_ms: elapsed,
                    success: true,
                    ..record
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
        self.points
            .delete(pb::DeletePoints {
                collection_name: self.history.clone(),
                wait: Some(true),
                points: Some(vec![point_id(version)].into()),
                ..Default::default()
            })
            .await
            .map_err(|s| self.db_error("writing the history", s))?;
        Ok(())
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

impl Drop for QdrantBackend {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}
