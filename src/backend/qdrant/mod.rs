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

pub mod describe;
pub mod lint;
mod lock;
pub mod ops;
mod proto;
pub mod state;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use qdrant_client::Payload;
use qdrant_client::qdrant as pb;
use qdrant_client::qdrant::collections_client::CollectionsClient;
use qdrant_client::qdrant::points_client::PointsClient;
use serde_json::json;
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

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
use crate::secret::ConnectionUrl;
use crate::step::{Action, Step};

/// The most history records one read returns.
const MAX_RECORDS: u32 = 10_000;

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

/// How Qdrant operation files are read.
pub fn format() -> OperationFormat<Operation> {
    OperationFormat::new(Kind::Qdrant)
}

/// A connection to one Qdrant instance.
pub struct QdrantBackend {
    collections: CollectionsClient<Service>,
    points: PointsClient<Service>,
    database: String,
    url: ConnectionUrl,
    history: String,
    lock: LeasedLock<LockStore>,
    /// Recorded as who applied each migration.
    pub(crate) applied_by: String,
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

/// A point's payload as JSON.
fn document(payload: &HashMap<String, pb::Value>) -> serde_json::Value {
    Payload::from(payload.clone()).into()
}

/// A server error as the library's, scrubbed of the URL's secrets.
fn status_error(database: &str, url: &ConnectionUrl, context: &str, s: tonic::Status) -> Error {
    Error::Database {
        database: database.to_string(),
        message: url.scrub(&format!("{context}: {} ({:?})", s.message(), s.code())),
    }
}

fn is_already_exists(s: &tonic::Status) -> bool {
    s.code() == Code::AlreadyExists
        || (s.code() == Code::InvalidArgument && s.message().contains("already exists"))
}

impl QdrantBackend {
    /// Connects and checks the server and the api key with one
    /// authenticated call (Qdrant answers health checks without a key),
    /// waiting at most `timeout`.
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| db.connect_error(&message);
        let parsed = url::Url::parse(db.url.expose()).map_err(|e| connect_error(e.to_string()))?;
        let key = db
            .api_key
            .as_ref()
            .map(|k| {
                MetadataValue::try_from(k.expose())
                    .map_err(|_| connect_error("the api_key is not a valid header value".into()))
            })
            .transpose()?;
        let mut endpoint = Endpoint::from_shared(parsed.to_string())
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(timeout);
        if parsed.scheme() == "https" {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = &db.tls.ca_cert {
                let pem = super::read_pem(ca).map_err(connect_error)?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            if let (Some(cert), Some(key)) = (&db.tls.client_cert, &db.tls.client_key) {
                let cert = super::read_pem(cert).map_err(connect_error)?;
                let key = super::read_pem(key).map_err(connect_error)?;
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| connect_error(format!("{e} ({})", source_chain(&e))))?;
        }
        let channel = tokio::time::timeout(timeout, endpoint.connect())
            .await
            .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|e| connect_error(format!("{e} ({})", source_chain(&e))))?;
        let api_key = ApiKey(key);
        // Qdrant answers a health check without looking at the api key:
        // the first authenticated call tells whether the key is right.
        let mut check = CollectionsClient::with_interceptor(channel.clone(), api_key.clone());
        tokio::time::timeout(
            timeout,
            check.collection_exists(pb::CollectionExistsRequest {
                collection_name: db.history_table.clone(),
            }),
        )
        .await
        .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
        .map_err(|s| connect_error(format!("{} ({:?})", s.message(), s.code())))?;
        let collections = CollectionsClient::with_interceptor(channel.clone(), api_key.clone());
        let points = PointsClient::with_interceptor(channel, api_key);
        let lock = LeasedLock::new(LockStore {
            collections: collections.clone(),
            points: points.clone(),
            database: db.name.clone(),
            url: db.url.clone(),
            name: format!("{}_lock", db.history_table),
        });
        Ok(QdrantBackend {
            collections,
            points,
            database: db.name.clone(),
            url: db.url.clone(),
            history: db.history_table.clone(),
            lock,
            applied_by: crate::history::this_process(),
        })
    }

    fn db_error(&self, context: &str, s: tonic::Status) -> Error {
        status_error(&self.database, &self.url, context, s)
    }

    /// The configured database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Removes the lock left by a runner that died; see
    /// [`LeasedLock::break_lock`].
    pub async fn break_lock(&mut self, force: bool) -> Result<String> {
        self.lock.break_lock(force).await
    }

    /// Reads the live collections (their vectors and payload indexes) and
    /// aliases.
    /// Points in each named collection that exists, for findings on them
    /// (Qdrant reports no size in bytes here: 0).
    pub async fn table_sizes(
        &mut self,
        names: &[String],
    ) -> Result<BTreeMap<String, crate::finding::TableSize>> {
        let mut out = BTreeMap::new();
        for name in names {
            let info = match self
                .collections
                .get(pb::GetCollectionInfoRequest {
                    collection_name: name.clone(),
                })
                .await
            {
                Ok(info) => info.into_inner().result.unwrap_or_default(),
                Err(s) if s.code() == tonic::Code::NotFound => continue,
                Err(s) => return Err(self.db_error(&format!("reading collection {name}"), s)),
            };
            out.insert(
                name.clone(),
                crate::finding::TableSize {
                    rows: info.points_count.unwrap_or(0) as i64,
                    bytes: 0,
                },
            );
        }
        Ok(out)
    }

    /// Every collection with its info, in name order.
    async fn collection_infos(&mut self) -> Result<Vec<(String, pb::CollectionInfo)>> {
        let mut names: Vec<String> = self
            .collections
            .list(pb::ListCollectionsRequest {})
            .await
            .map_err(|s| self.db_error("listing the collections", s))?
            .into_inner()
            .collections
            .into_iter()
            .map(|c| c.name)
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let info = self
                .collections
                .get(pb::GetCollectionInfoRequest {
                    collection_name: name.clone(),
                })
                .await
                .map_err(|s| self.db_error(&format!("reading collection {name}"), s))?
                .into_inner()
                .result
                .unwrap_or_default();
            out.push((name, info));
        }
        Ok(out)
    }

    /// The custom shard keys of a collection sharded by them.
    async fn shard_keys(&mut self, collection: &str) -> Result<BTreeSet<ops::ShardKey>> {
        Ok(self
            .collections
            .list_shard_keys(pb::ListShardKeysRequest {
                collection_name: collection.to_string(),
            })
            .await
            .map_err(|s| self.db_error(&format!("listing the shard keys of {collection}"), s))?
            .into_inner()
            .shard_keys
            .iter()
            .filter_map(|d| d.key.as_ref().and_then(proto::shard_key_of))
            .collect())
    }

    /// Every alias with its collection.
    async fn alias_list(&mut self) -> Result<BTreeMap<String, String>> {
        Ok(self
            .collections
            .list_aliases(pb::ListAliasesRequest {})
            .await
            .map_err(|s| self.db_error("listing the aliases", s))?
            .into_inner()
            .aliases
            .into_iter()
            .map(|a| (a.alias_name, a.collection_name))
            .collect())
    }

    async fn cluster(&mut self) -> Result<state::Cluster> {
        let mut collections = BTreeMap::new();
        for (name, info) in self.collection_infos().await? {
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
            let custom = proto::custom_sharding(&info);
            let shard_keys = if custom {
                self.shard_keys(&name).await?
            } else {
                BTreeSet::new()
            };
            collections.insert(
                name,
                state::Collection {
                    vectors,
                    sparse: proto::live_sparse(&info),
                    payload_indexes,
                    custom,
                    shard_keys,
                },
            );
        }
        Ok(state::Cluster {
            collections,
            aliases: self.alias_list().await?,
        })
    }

    async fn execute(&mut self, op: &Operation) -> std::result::Result<(), tonic::Status> {
        use pb::alias_operations::Action as A;
        match op {
            Operation::CreateCollection(o) => {
                self.collections.create(proto::create(o)).await?;
            }
            Operation::UpdateCollection(o) => {
                let hnsw = if proto::needs_collection_hnsw(o) {
                    let info = self
                        .collections
                        .get(pb::GetCollectionInfoRequest {
                            collection_name: o.collection.clone(),
                        })
                        .await?
                        .into_inner()
                        .result
                        .unwrap_or_default();
                    proto::collection_hnsw(&info)
                } else {
                    pb::HnswConfigDiff::default()
                };
                self.collections.update(proto::update(o, &hnsw)).await?;
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
                // One create_alias action: Qdrant repoints an existing
                // alias in place, and applies the actions of a request one
                // by one, so a delete-then-create pair could leave no
                // alias at all when the create fails.
                self.collections
                    .update_aliases(proto::aliases(vec![A::CreateAlias(pb::CreateAlias {
                        collection_name: o.to.clone(),
                        alias_name: o.alias.clone(),
                    })]))
                    .await?;
            }
            Operation::CreateShardKey(o) => {
                self.collections
                    .create_shard_key(pb::CreateShardKeyRequest {
                        collection_name: o.collection.clone(),
                        request: Some(pb::CreateShardKey {
                            shard_key: Some(proto::shard_key(&o.shard_key)),
                            shards_number: o.shards_number,
                            replication_factor: o.replication_factor,
                            placement: o.placement.clone().unwrap_or_default(),
                            ..Default::default()
                        }),
                        timeout: None,
                    })
                    .await?;
            }
            Operation::DeleteShardKey(o) => {
                self.collections
                    .delete_shard_key(pb::DeleteShardKeyRequest {
                        collection_name: o.collection.clone(),
                        request: Some(pb::DeleteShardKey {
                            shard_key: Some(proto::shard_key(&o.shard_key)),
                        }),
                        timeout: None,
                    })
                    .await?;
            }
        }
        Ok(())
    }

    async fn write_record(&mut self, record: &Record) -> Result<()> {
        let payload = record.to_document();
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

    /// Sets `success` of a recorded version (a rollback starts by
    /// clearing it).
    async fn set_success(&mut self, version: u64, success: bool) -> Result<()> {
        let flag = Payload::try_from(json!({ "success": success })).expect("an object");
        self.points
            .set_payload(pb::SetPayloadPoints {
                collection_name: self.history.clone(),
                wait: Some(true),
                payload: flag.into(),
                points_selector: Some(vec![point_id(version)].into()),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|s| self.db_error("writing the history", s))
    }

    fn step_error(&self, script: &Script, i: usize, op: &Operation, s: tonic::Status) -> Error {
        Error::Step(Box::new(StepFailure {
            database: self.database.clone(),
            file: script.file.clone(),
            location: format!(" at $[{i}] ({})", op.describe()),
            code: Some(format!("{:?}", s.code())),
            message: self.url.scrub(s.message()),
            progress: None,
            done: Default::default(),
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

impl Stepwise<Operation> for QdrantBackend {
    async fn mark_started(&mut self, step: &Step) -> Result<()> {
        match step.action {
            Action::Apply => {
                self.write_record(&step.record(false, 0, &self.applied_by))
                    .await
            }
            // Only the flag: the step carries the rollback file's checksum,
            // not the migration's.
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

    /// The server applies `update_collection` section by section: it may
    /// fail part-way.
    fn atomic(&self, op: &Operation) -> bool {
        !matches!(op, Operation::UpdateCollection(_))
    }

    const UNIT: &'static str = "operation";

    async fn run_unit(&mut self, script: &Script, index: usize, op: &Operation) -> Result<()> {
        tracing::debug!(database = %self.database, op = %op.describe(), "running");
        self.execute(op)
            .await
            .map_err(|s| self.step_error(script, index, op, s))
    }
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
                Record::from_document(&document(&p.payload)).ok_or_else(|| Error::Database {
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
        if steps.is_empty() {
            return Ok(());
        }
        let mut cluster = self.cluster().await?;
        let reserved = [self.history.clone(), format!("{}_lock", self.history)];
        crate::operations::play::<Operation>(&mut cluster, steps, &reserved)
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
