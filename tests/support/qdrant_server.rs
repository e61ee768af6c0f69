//! An in-process Qdrant gRPC server for the Qdrant tests.
//!
//! No package registry this project reaches ships a Qdrant server, so the
//! backend is tested against this one. It implements the RPCs strata uses
//! (collections, aliases, points, payload indexes, health) with Qdrant's
//! documented behaviour, on the generated tonic service traits that
//! `qdrant-client` exports:
//!
//! What it does is what a real Qdrant 1.19 was seen to do (and what its
//! source says), not what would be convenient; `tests/qdrant.rs` holds a
//! test for each rule, and runs against a real server given by URL too:
//!
//! - requests are validated first, as Qdrant's API layer does: collection
//!   names (1–255 bytes, none of `< > : " / \ | ? *`, NUL or `\x1F` on
//!   create; only `/` and NUL on the other calls, Qdrant's "legacy" rule),
//!   vector names (≤ 200 bytes, same characters), value ranges
//!   (`ef_construct` ≥ 4, `deleted_threshold` 0–1,
//!   `vacuum_min_vector_number` ≥ 100, `max_segment_size` ≥ 1, `quantile`
//!   0.5–1, shard, replication and write-consistency factors ≥ 1, vector
//!   size 1–65536), a dense and a sparse vector sharing a name, an empty
//!   sparse vector name: each `InvalidArgument`;
//! - creating a collection that exists fails with `AlreadyExists`; one
//!   named like an alias with `InvalidArgument`; every operation on a
//!   missing collection or alias fails with `NotFound`; deleting a missing
//!   collection answers `result: false` and drops the collection's aliases;
//! - `UpdateAliases` applies its actions one at a time, so a failing action
//!   leaves the earlier ones applied; `create_alias` of an existing alias
//!   repoints it; `delete_alias` of a missing alias succeeds;
//! - `UpdateCollection` applies its sections in Qdrant's order (optimizers,
//!   params, HNSW, vectors, quantization, sparse vectors), each kept when a
//!   later one fails; a vector's size and distance are fixed at creation;
//!   quantization `Disabled` removes it; a sparse vector's modifier and
//!   index settings merge field by field, and naming a sparse vector the
//!   collection lacks fails; the collection info reflects every update;
//! - points are checked against the vector size, kept in id order, and
//!   paged by `scroll`;
//! - with an api key configured, every call but `HealthCheck` needs the
//!   `api-key` header: none is refused with "Must provide an API key or an
//!   Authorization bearer token", a wrong one with "Invalid API key or
//!   JWT" (`Unauthenticated`);
//! - distributed mode ([`TestQdrant::cluster`], three peers as the tests
//!   use it): a collection's default `shard_number` is the number of
//!   peers (1 with `sharding_method: custom`); a replication factor above
//!   the peers is accepted as given (Qdrant places at most one copy per
//!   peer); custom shard keys are made and dropped only in distributed
//!   mode (standalone answers `Unimplemented`, "Qdrant is running in
//!   standalone mode"), only on a custom-sharded collection ("Shard Key
//!   cannot be created with Auto sharding method", for a drop too), a key
//!   that exists or does not is refused ("Sharding key … already exists /
//!   does not exist for collection …"), a placement naming an unknown
//!   peer too ("Peer … does not exist"): each `InvalidArgument`; strict
//!   mode is kept as created and merged field by field on update, after
//!   every other section.
//!
//! Every other RPC answers `Unimplemented`.

#![allow(clippy::result_large_err)]
// The demo's stand-alone server (examples/) uses only part of this.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ::qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use ::qdrant_client::qdrant::points_server::{Points, PointsServer};
use ::qdrant_client::qdrant::qdrant_server::{Qdrant, QdrantServer};
use ::qdrant_client::qdrant::*;
use tonic::{Request, Response, Status};

type Answer<T> = Result<Response<T>, Status>;

#[derive(Default)]
struct Collection {
    config: CollectionConfig,
    points: BTreeMap<u64, PointStruct>,
    payload_schema: HashMap<String, PayloadSchemaInfo>,
    /// Custom shard keys, in the order they were made.
    shard_keys: Vec<ShardKey>,
}

#[derive(Default)]
struct State {
    collections: BTreeMap<String, Collection>,
    aliases: BTreeMap<String, String>,
}

impl State {
    /// A collection name or an alias, resolved to the collection's name.
    fn resolve(&self, name: &str) -> Result<String, Status> {
        if self.collections.contains_key(name) {
            return Ok(name.to_string());
        }
        self.aliases.get(name).cloned().ok_or_else(|| {
            Status::not_found(format!("Not found: Collection `{name}` doesn't exist!"))
        })
    }

    fn collection(&mut self, name: &str) -> Result<&mut Collection, Status> {
        let real = self.resolve(name)?;
        Ok(self.collections.get_mut(&real).expect("resolved"))
    }
}

/// The shared state behind the three services, and the expected api key.
#[derive(Clone, Default)]
pub struct TestQdrant {
    state: Arc<Mutex<State>>,
    api_key: Option<String>,
    /// Creating a collection of this name fails as an unavailable node
    /// would: for testing what a run does when the server fails half-way.
    fail_create: Arc<Mutex<Option<String>>>,
    /// Requests received, so a test can wait for a client's last ones.
    received: Arc<std::sync::atomic::AtomicU64>,
    /// A collection deleted when the next alias request arrives, just
    /// before it is applied: another client racing a switch.
    drop_before_alias_change: Arc<Mutex<Option<String>>>,
    /// The peer ids of a server in distributed mode; `None` standalone.
    peers: Option<Vec<u64>>,
}

/// A running server.
pub struct Running {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ok<T>(t: T) -> Answer<T> {
    Ok(Response::new(t))
}

fn done() -> CollectionOperationResponse {
    CollectionOperationResponse {
        result: true,
        time: 0.0,
    }
}

fn applied() -> PointsOperationResponse {
    PointsOperationResponse {
        result: Some(UpdateResult {
            operation_id: Some(0),
            status: UpdateStatus::Completed as i32,
        }),
        time: 0.0,
        usage: None,
    }
}

fn num(id: &Option<PointId>) -> Result<u64, Status> {
    match id.as_ref().and_then(|p| p.point_id_options.as_ref()) {
        Some(point_id::PointIdOptions::Num(n)) => Ok(*n),
        _ => Err(Status::invalid_argument(
            "this test server stores numeric point ids only",
        )),
    }
}

fn dense_sizes(config: &CollectionConfig) -> HashMap<String, u64> {
    match config
        .params
        .as_ref()
        .and_then(|p| p.vectors_config.as_ref())
        .and_then(|v| v.config.as_ref())
    {
        Some(vectors_config::Config::Params(p)) => HashMap::from([(String::new(), p.size)]),
        Some(vectors_config::Config::ParamsMap(m)) => {
            m.map.iter().map(|(k, p)| (k.clone(), p.size)).collect()
        }
        None => HashMap::new(),
    }
}

#[allow(deprecated)]
fn merge_hnsw(into: &mut HnswConfigDiff, diff: &HnswConfigDiff) {
    macro_rules! take {
        ($($f:ident),*) => { $( if diff.$f.is_some() { into.$f = diff.$f; } )* };
    }
    take!(
        m,
        ef_construct,
        full_scan_threshold,
        max_indexing_threads,
        on_disk,
        payload_m
    );
}

fn merge_optimizers(into: &mut OptimizersConfigDiff, diff: &OptimizersConfigDiff) {
    macro_rules! take {
        ($($f:ident),*) => { $( if diff.$f.is_some() { into.$f = diff.$f; } )* };
    }
    take!(
        deleted_threshold,
        vacuum_min_vector_number,
        default_segment_number,
        max_segment_size,
        memmap_threshold,
        indexing_threshold,
        flush_interval_sec
    );
}

fn quantization_of(diff: &QuantizationConfigDiff) -> Option<QuantizationConfig> {
    use quantization_config::Quantization as Q;
    use quantization_config_diff::Quantization as D;
    match diff.quantization.as_ref()? {
        D::Scalar(s) => Some(QuantizationConfig {
            quantization: Some(Q::Scalar(*s)),
        }),
        D::Product(p) => Some(QuantizationConfig {
            quantization: Some(Q::Product(*p)),
        }),
        D::Binary(b) => Some(QuantizationConfig {
            quantization: Some(Q::Binary(*b)),
        }),
        _ => None,
    }
}

/// A sparse vector's update: the modifier if given; index settings field
/// by field.
#[allow(deprecated)]
fn merge_sparse(p: &mut SparseVectorParams, diff: &SparseVectorParams) {
    if diff.modifier.is_some() {
        p.modifier = diff.modifier;
    }
    if let Some(d) = &diff.index {
        let index = p.index.get_or_insert_with(Default::default);
        if d.full_scan_threshold.is_some() {
            index.full_scan_threshold = d.full_scan_threshold;
        }
        if d.on_disk.is_some() {
            index.on_disk = d.on_disk;
        }
        if d.datatype.is_some() {
            index.datatype = d.datatype;
        }
    }
}

/// Strict mode on update: each field given replaces the live one.
fn merge_strict(into: &mut StrictModeConfig, diff: &StrictModeConfig) {
    macro_rules! take {
        ($($field:ident),*) => { $( if diff.$field.is_some() { into.$field = diff.$field; } )* };
    }
    take!(
        enabled,
        max_query_limit,
        max_timeout,
        unindexed_filtering_retrieve,
        unindexed_filtering_update,
        search_max_hnsw_ef,
        search_allow_exact,
        search_max_oversampling,
        upsert_max_batchsize,
        search_max_batchsize,
        max_collection_vector_size_bytes,
        read_rate_limit,
        write_rate_limit,
        max_collection_payload_size_bytes,
        filter_max_conditions,
        condition_max_size,
        max_points_count,
        max_payload_index_count
    );
}

/// What a standalone Qdrant answers to a cluster operation.
fn standalone() -> Status {
    Status::unimplemented("Qdrant is running in standalone mode")
}

/// A shard key as Qdrant's messages show it (a string quoted); a request
/// without one is refused.
fn shard_key_shown(key: &Option<ShardKey>) -> Result<String, Status> {
    match key.as_ref().and_then(|k| k.key.as_ref()) {
        Some(shard_key::Key::Keyword(k)) => Ok(format!("\"{k}\"")),
        Some(shard_key::Key::Number(n)) => Ok(n.to_string()),
        None => Err(Status::invalid_argument("Shard key is not specified")),
    }
}

/// Refuses shard key operations on a collection sharded automatically.
fn custom_sharding(c: &Collection) -> Result<(), Status> {
    let method = c.config.params.as_ref().and_then(|p| p.sharding_method);
    if method == Some(ShardingMethod::Custom as i32) {
        return Ok(());
    }
    Err(Status::invalid_argument(
        "Bad request: Shard Key cannot be created with Auto sharding method",
    ))
}

#[allow(deprecated)]
fn merge_vector(p: &mut VectorParams, diff: &VectorParamsDiff) {
    if let Some(h) = &diff.hnsw_config {
        merge_hnsw(p.hnsw_config.get_or_insert_with(Default::default), h);
    }
    if let Some(q) = &diff.quantization_config {
        p.quantization_config = quantization_of(q);
    }
    if diff.on_disk.is_some() {
        p.on_disk = diff.on_disk;
    }
}

impl TestQdrant {
    /// A server that requires this api key.
    pub fn with_api_key(key: &str) -> TestQdrant {
        TestQdrant {
            api_key: Some(key.to_string()),
            ..TestQdrant::default()
        }
    }

    /// A server in distributed mode, one of a cluster of `n` peers: a
    /// collection's default shard number is the number of peers, and
    /// custom shard keys can be made (standalone refuses them).
    pub fn cluster(n: u64) -> TestQdrant {
        TestQdrant {
            peers: Some((1..=n).map(|i| 1_000_000_007 * i).collect()),
            ..TestQdrant::default()
        }
    }

    /// The peer ids of a cluster (empty for a standalone server).
    pub fn peer_ids(&self) -> Vec<u64> {
        self.peers.clone().unwrap_or_default()
    }

    /// The api key this server requires, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// Serves on a free port of 127.0.0.1 until the handle is dropped.
    pub async fn start(self) -> Running {
        self.serve(None).await
    }

    /// Serves over TLS with this PEM certificate and key (`https://`).
    pub async fn start_tls(self, cert: Vec<u8>, key: Vec<u8>) -> Running {
        let tls = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(cert, key));
        self.serve(Some(tls)).await
    }

    async fn serve(self, tls: Option<tonic::transport::ServerTlsConfig>) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let key = self.api_key.clone();
        let received = self.received.clone();
        let check = move |request: Request<()>| -> Result<Request<()>, Status> {
            received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match (&key, request.metadata().get("api-key")) {
                (None, _) => Ok(request),
                (Some(k), Some(v)) if v.to_str().ok() == Some(k.as_str()) => Ok(request),
                (Some(_), Some(_)) => Err(Status::unauthenticated("Invalid API key or JWT")),
                (Some(_), None) => Err(Status::unauthenticated(
                    "Must provide an API key or an Authorization bearer token",
                )),
            }
        };
        // Qdrant lets health checks through without a key.
        let counted = self.received.clone();
        let health = move |request: Request<()>| -> Result<Request<()>, Status> {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(request)
        };
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).unwrap();
        }
        let router = builder
            .add_service(QdrantServer::with_interceptor(self.clone(), health))
            .add_service(CollectionsServer::with_interceptor(
                self.clone(),
                check.clone(),
            ))
            .add_service(PointsServer::with_interceptor(self, check));
        let task = tokio::spawn(async move {
            router
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        Running { url, task }
    }

    /// Waits until no request has arrived for 300 ms: what a stopped or
    /// killed client had already sent has then been handled (requests are
    /// handled as they arrive).
    pub async fn quiet(&self) {
        let load = || self.received.load(std::sync::atomic::Ordering::SeqCst);
        let mut seen = load();
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let now = load();
            if now == seen {
                return;
            }
            seen = now;
        }
    }

    /// Names of the collections, sorted.
    pub fn collection_names(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .collections
            .keys()
            .cloned()
            .collect()
    }

    /// Alias → collection.
    pub fn aliases(&self) -> BTreeMap<String, String> {
        self.state.lock().unwrap().aliases.clone()
    }

    /// A collection's configuration as `get` reports it.
    pub fn config(&self, name: &str) -> Option<CollectionConfig> {
        let state = self.state.lock().unwrap();
        state.collections.get(name).map(|c| c.config.clone())
    }

    /// The indexed payload fields of a collection, sorted.
    pub fn payload_indexes(&self, name: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        let mut out: Vec<String> = state.collections[name]
            .payload_schema
            .keys()
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// The payload of every point of a collection, in id order.
    pub fn points(&self, name: &str) -> Vec<(u64, HashMap<String, Value>)> {
        let state = self.state.lock().unwrap();
        state
            .collections
            .get(name)
            .map(|c| {
                c.points
                    .iter()
                    .map(|(id, p)| (*id, p.payload.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets one payload key of one point, as another client would.
    pub fn set_payload(&self, name: &str, id: u64, key: &str, value: Value) {
        let mut state = self.state.lock().unwrap();
        let point = state
            .collections
            .get_mut(name)
            .and_then(|c| c.points.get_mut(&id))
            .unwrap_or_else(|| panic!("no point {id} in {name}"));
        point.payload.insert(key.to_string(), value);
    }

    /// `(version, success)` of every point of strata's history collection.
    pub fn history(&self) -> Vec<(i64, bool)> {
        self.points("schema_migrations")
            .iter()
            .map(|(_, payload)| {
                let version = match payload["version"].kind {
                    Some(value::Kind::IntegerValue(n)) => n,
                    _ => panic!("version is not an integer"),
                };
                let ok = matches!(payload["success"].kind, Some(value::Kind::BoolValue(true)));
                (version, ok)
            })
            .collect()
    }

    /// Deletes a collection (and its aliases), as another client would.
    pub fn drop_collection(&self, name: &str) {
        let mut state = self.state.lock().unwrap();
        state.collections.remove(name);
        state.aliases.retain(|_, c| c != name);
    }

    /// Deletes the collection `name` when the next alias request arrives,
    /// before that request is applied.
    pub fn drop_before_next_alias_change(&self, name: &str) {
        *self.drop_before_alias_change.lock().unwrap() = Some(name.to_string());
    }

    /// Makes creating the collection `name` fail with `Unavailable`.
    pub fn fail_creating(&self, name: &str) {
        *self.fail_create.lock().unwrap() = Some(name.to_string());
    }

    /// Lets creating collections succeed again.
    pub fn stop_failing(&self) {
        *self.fail_create.lock().unwrap() = None;
    }
}

#[tonic::async_trait]
impl Qdrant for TestQdrant {
    async fn health_check(&self, _: Request<HealthCheckRequest>) -> Answer<HealthCheckReply> {
        ok(HealthCheckReply {
            title: "qdrant - vector search engine (strata test server)".into(),
            version: "1.19.0".into(),
            commit: None,
        })
    }
}

/// RPCs strata does not use. `#[async_trait]` does not see methods a macro
/// makes, so these are written in the form it would produce.
macro_rules! unimplemented_rpcs {
    ($($name:ident($req:ident) -> $resp:ident;)*) => {
        $(
            fn $name<'life0, 'async_trait>(
                &'life0 self,
                _: Request<$req>,
            ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Answer<$resp>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async {
                    Err(Status::unimplemented(concat!(
                        stringify!($name),
                        " is not implemented by the strata test server"
                    )))
                })
            }
        )*
    };
}

#[tonic::async_trait]
impl Collections for TestQdrant {
    async fn get(
        &self,
        request: Request<GetCollectionInfoRequest>,
    ) -> Answer<GetCollectionInfoResponse> {
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&request.get_ref().collection_name)?;
        ok(GetCollectionInfoResponse {
            result: Some(CollectionInfo {
                status: CollectionStatus::Green as i32,
                config: Some(c.config.clone()),
                payload_schema: c.payload_schema.clone(),
                points_count: Some(c.points.len() as u64),
                ..Default::default()
            }),
            time: 0.0,
        })
    }

    async fn list(&self, _: Request<ListCollectionsRequest>) -> Answer<ListCollectionsResponse> {
        let state = self.state.lock().unwrap();
        ok(ListCollectionsResponse {
            collections: state
                .collections
                .keys()
                .map(|name| CollectionDescription { name: name.clone() })
                .collect(),
            time: 0.0,
        })
    }

    #[allow(deprecated)]
    async fn create(
        &self,
        request: Request<CreateCollection>,
    ) -> Answer<CollectionOperationResponse> {
        let r = request.into_inner();
        if self.fail_create.lock().unwrap().as_deref() == Some(r.collection_name.as_str()) {
            return Err(Status::unavailable(
                "injected failure: the node is unavailable",
            ));
        }
        rules::create(&r)?;
        let mut state = self.state.lock().unwrap();
        let name = &r.collection_name;
        if state.collections.contains_key(name) {
            return Err(Status::already_exists(format!(
                "Wrong input: Collection `{name}` already exists!"
            )));
        }
        if state.aliases.contains_key(name) {
            return Err(Status::invalid_argument(format!(
                "Wrong input: Can't create collection with name {name}. Alias with the same name already exists"
            )));
        }
        let mut hnsw = HnswConfigDiff {
            m: Some(16),
            ef_construct: Some(100),
            full_scan_threshold: Some(10_000),
            max_indexing_threads: Some(0),
            on_disk: Some(false),
            payload_m: None,
            ..Default::default()
        };
        if let Some(h) = &r.hnsw_config {
            merge_hnsw(&mut hnsw, h);
        }
        let mut optimizers = OptimizersConfigDiff {
            deleted_threshold: Some(0.2),
            vacuum_min_vector_number: Some(1000),
            default_segment_number: Some(0),
            indexing_threshold: Some(10_000),
            flush_interval_sec: Some(5),
            ..Default::default()
        };
        if let Some(o) = &r.optimizers_config {
            merge_optimizers(&mut optimizers, o);
        }
        // Custom sharding makes one shard per key by default; auto
        // sharding one per peer.
        let custom = r.sharding_method == Some(ShardingMethod::Custom as i32);
        let peers = self.peers.as_ref().map_or(1, |p| p.len() as u32);
        let config = CollectionConfig {
            params: Some(CollectionParams {
                shard_number: r.shard_number.unwrap_or(if custom { 1 } else { peers }),
                sharding_method: r.sharding_method,
                on_disk_payload: r.on_disk_payload.unwrap_or(true),
                vectors_config: r.vectors_config.clone(),
                replication_factor: Some(r.replication_factor.unwrap_or(1)),
                write_consistency_factor: Some(r.write_consistency_factor.unwrap_or(1)),
                sparse_vectors_config: r.sparse_vectors_config.clone(),
                ..Default::default()
            }),
            hnsw_config: Some(hnsw),
            optimizer_config: Some(optimizers),
            quantization_config: r.quantization_config,
            strict_mode_config: r.strict_mode_config,
            ..Default::default()
        };
        state.collections.insert(
            name.clone(),
            Collection {
                config,
                ..Default::default()
            },
        );
        ok(done())
    }

    #[allow(deprecated)]
    async fn update(
        &self,
        request: Request<UpdateCollection>,
    ) -> Answer<CollectionOperationResponse> {
        let r = request.into_inner();
        rules::update(&r)?;
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        // Section by section in Qdrant's order, each kept when a later one
        // fails: the request is not atomic.
        if let Some(o) = &r.optimizers_config {
            merge_optimizers(
                c.config
                    .optimizer_config
                    .get_or_insert_with(Default::default),
                o,
            );
        }
        let params = c.config.params.get_or_insert_with(Default::default);
        if let Some(p) = &r.params {
            if p.replication_factor.is_some() {
                params.replication_factor = p.replication_factor;
            }
            if p.write_consistency_factor.is_some() {
                params.write_consistency_factor = p.write_consistency_factor;
            }
            if let Some(on_disk) = p.on_disk_payload {
                params.on_disk_payload = on_disk;
            }
        }
        if let Some(h) = &r.hnsw_config {
            merge_hnsw(c.config.hnsw_config.get_or_insert_with(Default::default), h);
        }
        if let Some(diff) = r.vectors_config.as_ref().and_then(|v| v.config.as_ref()) {
            let diffs: Vec<(String, &VectorParamsDiff)> = match diff {
                vectors_config_diff::Config::Params(d) => vec![(String::new(), d)],
                vectors_config_diff::Config::ParamsMap(m) => {
                    m.map.iter().map(|(k, d)| (k.clone(), d)).collect()
                }
            };
            // The vector names are checked before any vector changes.
            let known = dense_sizes(&c.config);
            if let Some((name, _)) = diffs.iter().find(|(name, _)| !known.contains_key(name)) {
                return Err(Status::invalid_argument(format!(
                    "Wrong input: Not existing vector name error: {name}"
                )));
            }
            let params = c.config.params.get_or_insert_with(Default::default);
            match params
                .vectors_config
                .as_mut()
                .and_then(|v| v.config.as_mut())
            {
                Some(vectors_config::Config::Params(p)) => {
                    for (_, d) in &diffs {
                        merge_vector(p, d);
                    }
                }
                Some(vectors_config::Config::ParamsMap(m)) => {
                    for (name, d) in &diffs {
                        merge_vector(m.map.get_mut(name).expect("checked"), d);
                    }
                }
                None => {}
            }
        }
        if let Some(q) = &r.quantization_config {
            c.config.quantization_config = quantization_of(q);
        }
        if let Some(diff) = &r.sparse_vectors_config {
            let params = c.config.params.get_or_insert_with(Default::default);
            let live = params
                .sparse_vectors_config
                .get_or_insert_with(Default::default);
            // The names are checked before any sparse vector changes.
            if let Some(name) = diff.map.keys().find(|n| !live.map.contains_key(*n)) {
                return Err(Status::invalid_argument(format!(
                    "Wrong input: Not existing vector name error: {name}"
                )));
            }
            for (name, d) in &diff.map {
                merge_sparse(live.map.get_mut(name).expect("checked"), d);
            }
        }
        if let Some(diff) = &r.strict_mode_config {
            merge_strict(
                c.config
                    .strict_mode_config
                    .get_or_insert_with(Default::default),
                diff,
            );
        }
        ok(done())
    }

    async fn delete(
        &self,
        request: Request<DeleteCollection>,
    ) -> Answer<CollectionOperationResponse> {
        let name = request.into_inner().collection_name;
        rules::legacy_collection_name(&name)?;
        let mut state = self.state.lock().unwrap();
        let removed = state.collections.remove(&name).is_some();
        state.aliases.retain(|_, target| *target != name);
        ok(CollectionOperationResponse {
            result: removed,
            time: 0.0,
        })
    }

    async fn update_aliases(
        &self,
        request: Request<ChangeAliases>,
    ) -> Answer<CollectionOperationResponse> {
        if let Some(name) = self.drop_before_alias_change.lock().unwrap().take() {
            self.drop_collection(&name);
        }
        let mut state = self.state.lock().unwrap();
        // One action at a time, each kept: a failing action leaves the
        // earlier ones applied, as Qdrant does.
        for op in request.into_inner().actions {
            match op.action {
                Some(alias_operations::Action::CreateAlias(a)) => {
                    if !state.collections.contains_key(&a.collection_name) {
                        return Err(Status::not_found(format!(
                            "Not found: Collection `{}` doesn't exist!",
                            a.collection_name
                        )));
                    }
                    if state.collections.contains_key(&a.alias_name) {
                        return Err(Status::already_exists(format!(
                            "Wrong input: Collection `{}` already exists!",
                            a.alias_name
                        )));
                    }
                    // An existing alias is repointed.
                    state.aliases.insert(a.alias_name, a.collection_name);
                }
                Some(alias_operations::Action::DeleteAlias(a)) => {
                    // A missing alias is not an error.
                    state.aliases.remove(&a.alias_name);
                }
                Some(alias_operations::Action::RenameAlias(a)) => {
                    let Some(target) = state.aliases.remove(&a.old_alias_name) else {
                        return Err(Status::not_found(format!(
                            "Not found: Alias {} does not exists!",
                            a.old_alias_name
                        )));
                    };
                    state.aliases.insert(a.new_alias_name, target);
                }
                None => return Err(Status::invalid_argument("empty alias action")),
            }
        }
        ok(done())
    }

    async fn list_collection_aliases(
        &self,
        request: Request<ListCollectionAliasesRequest>,
    ) -> Answer<ListAliasesResponse> {
        let name = request.into_inner().collection_name;
        let state = self.state.lock().unwrap();
        state.resolve(&name)?;
        ok(ListAliasesResponse {
            aliases: state
                .aliases
                .iter()
                .filter(|(_, c)| **c == name)
                .map(|(a, c)| AliasDescription {
                    alias_name: a.clone(),
                    collection_name: c.clone(),
                })
                .collect(),
            time: 0.0,
        })
    }

    async fn list_aliases(&self, _: Request<ListAliasesRequest>) -> Answer<ListAliasesResponse> {
        let state = self.state.lock().unwrap();
        ok(ListAliasesResponse {
            aliases: state
                .aliases
                .iter()
                .map(|(a, c)| AliasDescription {
                    alias_name: a.clone(),
                    collection_name: c.clone(),
                })
                .collect(),
            time: 0.0,
        })
    }

    async fn collection_exists(
        &self,
        request: Request<CollectionExistsRequest>,
    ) -> Answer<CollectionExistsResponse> {
        let state = self.state.lock().unwrap();
        let exists = state.resolve(&request.get_ref().collection_name).is_ok();
        ok(CollectionExistsResponse {
            result: Some(CollectionExists { exists }),
            time: 0.0,
        })
    }

    /// Qdrant's checks in its cluster-update path: distributed mode, the
    /// collection, custom sharding, a new key, a placement on known peers.
    async fn create_shard_key(
        &self,
        request: Request<CreateShardKeyRequest>,
    ) -> Answer<CreateShardKeyResponse> {
        let r = request.into_inner();
        let Some(create) = r.request else {
            return Err(Status::invalid_argument("empty request"));
        };
        let key = shard_key_shown(&create.shard_key)?;
        rules::shard_key_request(&create)?;
        let peers = self.peers.clone().ok_or_else(standalone)?;
        let mut state = self.state.lock().unwrap();
        let name = state.resolve(&r.collection_name)?;
        let c = state.collection(&name)?;
        custom_sharding(c)?;
        let wanted = create.shard_key.clone().expect("shown above");
        if c.shard_keys.contains(&wanted) {
            return Err(Status::invalid_argument(format!(
                "Bad request: Sharding key {key} already exists for collection {name}"
            )));
        }
        if let Some(unknown) = create.placement.iter().find(|p| !peers.contains(p)) {
            return Err(Status::invalid_argument(format!(
                "Bad request: Peer {unknown} does not exist"
            )));
        }
        c.shard_keys.push(wanted);
        ok(CreateShardKeyResponse {
            result: true,
            time: 0.0,
        })
    }

    async fn delete_shard_key(
        &self,
        request: Request<DeleteShardKeyRequest>,
    ) -> Answer<DeleteShardKeyResponse> {
        let r = request.into_inner();
        let Some(delete) = r.request else {
            return Err(Status::invalid_argument("empty request"));
        };
        let key = shard_key_shown(&delete.shard_key)?;
        self.peers.as_ref().ok_or_else(standalone)?;
        let mut state = self.state.lock().unwrap();
        let name = state.resolve(&r.collection_name)?;
        let c = state.collection(&name)?;
        custom_sharding(c)?;
        let wanted = delete.shard_key.expect("shown above");
        let Some(at) = c.shard_keys.iter().position(|k| *k == wanted) else {
            return Err(Status::invalid_argument(format!(
                "Bad request: Sharding key {key} does not exist for collection {name}"
            )));
        };
        c.shard_keys.remove(at);
        ok(DeleteShardKeyResponse {
            result: true,
            time: 0.0,
        })
    }

    async fn list_shard_keys(
        &self,
        request: Request<ListShardKeysRequest>,
    ) -> Answer<ListShardKeysResponse> {
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&request.get_ref().collection_name)?;
        ok(ListShardKeysResponse {
            shard_keys: c
                .shard_keys
                .iter()
                .map(|k| ShardKeyDescription {
                    key: Some(k.clone()),
                })
                .collect(),
            time: 0.0,
        })
    }

    /// This peer's id and the shard count; the shards' placement is not
    /// modelled.
    async fn collection_cluster_info(
        &self,
        request: Request<CollectionClusterInfoRequest>,
    ) -> Answer<CollectionClusterInfoResponse> {
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&request.get_ref().collection_name)?;
        let shards = c.config.params.as_ref().map_or(1, |p| p.shard_number);
        ok(CollectionClusterInfoResponse {
            peer_id: self.peers.as_ref().map_or(1, |p| p[0]),
            shard_count: u64::from(shards) + c.shard_keys.len() as u64,
            ..Default::default()
        })
    }

    unimplemented_rpcs! {
        update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
    }
}

#[tonic::async_trait]
impl Points for TestQdrant {
    async fn upsert(&self, request: Request<UpsertPoints>) -> Answer<PointsOperationResponse> {
        let r = request.into_inner();
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        let sizes = dense_sizes(&c.config);
        let mut checked = Vec::new();
        for p in r.points {
            let id = num(&p.id)?;
            let got = match p.vectors.as_ref().and_then(|v| v.vectors_options.as_ref()) {
                #[allow(deprecated)]
                Some(vectors::VectorsOptions::Vector(v)) => match &v.vector {
                    Some(vector::Vector::Dense(d)) => d.data.len(),
                    _ => v.data.len(),
                },
                _ => {
                    return Err(Status::invalid_argument(
                        "this test server stores points with one unnamed dense vector only",
                    ));
                }
            } as u64;
            let expected = sizes.get("").copied().unwrap_or(0);
            if got != expected {
                return Err(Status::invalid_argument(format!(
                    "Wrong input: Vector dimension error: expected dim: {expected}, got {got}"
                )));
            }
            checked.push((id, p));
        }
        c.points.extend(checked);
        ok(applied())
    }

    async fn delete(&self, request: Request<DeletePoints>) -> Answer<PointsOperationResponse> {
        let r = request.into_inner();
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        match r.points.and_then(|s| s.points_selector_one_of) {
            Some(points_selector::PointsSelectorOneOf::Points(list)) => {
                for id in list.ids {
                    c.points.remove(&num(&Some(id))?);
                }
            }
            _ => {
                return Err(Status::invalid_argument(
                    "this test server deletes by id only",
                ));
            }
        }
        ok(applied())
    }

    async fn set_payload(
        &self,
        request: Request<SetPayloadPoints>,
    ) -> Answer<PointsOperationResponse> {
        let r = request.into_inner();
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        match r.points_selector.and_then(|s| s.points_selector_one_of) {
            Some(points_selector::PointsSelectorOneOf::Points(list)) => {
                for id in list.ids {
                    // Keys given are set, others kept; a missing point is skipped.
                    if let Some(p) = c.points.get_mut(&num(&Some(id))?) {
                        p.payload.extend(r.payload.clone());
                    }
                }
            }
            _ => {
                return Err(Status::invalid_argument(
                    "this test server selects by id only",
                ));
            }
        }
        ok(applied())
    }

    async fn get(&self, request: Request<GetPoints>) -> Answer<GetResponse> {
        let r = request.into_inner();
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        let mut result = Vec::new();
        for id in r.ids {
            if let Some(p) = c.points.get(&num(&Some(id))?) {
                result.push(RetrievedPoint {
                    id: p.id.clone(),
                    payload: p.payload.clone(),
                    ..Default::default()
                });
            }
        }
        ok(GetResponse {
            result,
            time: 0.0,
            usage: None,
        })
    }

    async fn scroll(&self, request: Request<ScrollPoints>) -> Answer<ScrollResponse> {
        let r = request.into_inner();
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        let from = match &r.offset {
            Some(_) => num(&r.offset)?,
            None => 0,
        };
        let limit = r.limit.unwrap_or(10) as usize;
        let mut page: Vec<RetrievedPoint> = c
            .points
            .range(from..)
            .take(limit + 1)
            .map(|(_, p)| RetrievedPoint {
                id: p.id.clone(),
                payload: p.payload.clone(),
                ..Default::default()
            })
            .collect();
        let next_page_offset = if page.len() > limit {
            page.pop().and_then(|p| p.id)
        } else {
            None
        };
        ok(ScrollResponse {
            next_page_offset,
            result: page,
            time: 0.0,
            usage: None,
        })
    }

    async fn create_field_index(
        &self,
        request: Request<CreateFieldIndexCollection>,
    ) -> Answer<PointsOperationResponse> {
        let r = request.into_inner();
        rules::legacy_collection_name(&r.collection_name)?;
        rules::field_name(&r.field_name)?;
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        let data_type = match r.field_type.map(FieldType::try_from) {
            Some(Ok(FieldType::Keyword)) => PayloadSchemaType::Keyword,
            Some(Ok(FieldType::Integer)) => PayloadSchemaType::Integer,
            Some(Ok(FieldType::Float)) => PayloadSchemaType::Float,
            Some(Ok(FieldType::Geo)) => PayloadSchemaType::Geo,
            Some(Ok(FieldType::Text)) => PayloadSchemaType::Text,
            Some(Ok(FieldType::Bool)) => PayloadSchemaType::Bool,
            Some(Ok(FieldType::Datetime)) => PayloadSchemaType::Datetime,
            Some(Ok(FieldType::Uuid)) => PayloadSchemaType::Uuid,
            _ => return Err(Status::invalid_argument("Wrong input: unknown field type")),
        };
        c.payload_schema.insert(
            r.field_name,
            PayloadSchemaInfo {
                data_type: data_type as i32,
                params: None,
                points: Some(0),
            },
        );
        ok(applied())
    }

    async fn delete_field_index(
        &self,
        request: Request<DeleteFieldIndexCollection>,
    ) -> Answer<PointsOperationResponse> {
        let r = request.into_inner();
        rules::legacy_collection_name(&r.collection_name)?;
        rules::field_name(&r.field_name)?;
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        c.payload_schema.remove(&r.field_name);
        ok(applied())
    }

    unimplemented_rpcs! {
        update_vectors(UpdatePointVectors) -> PointsOperationResponse;
        delete_vectors(DeletePointVectors) -> PointsOperationResponse;
        overwrite_payload(SetPayloadPoints) -> PointsOperationResponse;
        delete_payload(DeletePayloadPoints) -> PointsOperationResponse;
        clear_payload(ClearPayloadPoints) -> PointsOperationResponse;
        create_vector_name(CreateVectorNameRequest) -> PointsOperationResponse;
        delete_vector_name(DeleteVectorNameRequest) -> PointsOperationResponse;
        search(SearchPoints) -> SearchResponse;
        search_batch(SearchBatchPoints) -> SearchBatchResponse;
        search_groups(SearchPointGroups) -> SearchGroupsResponse;
        recommend(RecommendPoints) -> RecommendResponse;
        recommend_batch(RecommendBatchPoints) -> RecommendBatchResponse;
        recommend_groups(RecommendPointGroups) -> RecommendGroupsResponse;
        discover(DiscoverPoints) -> DiscoverResponse;
        discover_batch(DiscoverBatchPoints) -> DiscoverBatchResponse;
        count(CountPoints) -> CountResponse;
        update_batch(UpdateBatchPoints) -> UpdateBatchResponse;
        query(QueryPoints) -> QueryResponse;
        query_batch(QueryBatchPoints) -> QueryBatchResponse;
        query_groups(QueryPointGroups) -> QueryGroupsResponse;
        facet(FacetCounts) -> FacetResponse;
        search_matrix_pairs(SearchMatrixPoints) -> SearchMatrixPairsResponse;
        search_matrix_offsets(SearchMatrixPoints) -> SearchMatrixOffsetsResponse;
    }
}

/// Qdrant's request validation (its API layer's `validate` attributes and
/// `CreateCollectionOperation::new`), as far as the requests strata sends
/// reach. Messages follow the server's shape:
/// `Validation error in body: [field: …]` or `Wrong input: …`.
mod rules {
    use super::*;

    /// Refused in collection and vector names on create: they become
    /// directories on disk.
    const INVALID_NAME_CHARS: [char; 11] =
        ['<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0', '\u{1F}'];

    fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
        Status::invalid_argument(format!("Validation error in body: [{field}: {why}]"))
    }

    fn at_least<T: PartialOrd + std::fmt::Display + Copy>(
        field: &str,
        v: Option<T>,
        min: T,
    ) -> Result<(), Status> {
        match v {
            Some(n) if n < min => Err(invalid(
                field,
                format!("value {n} invalid, must be {min} or larger"),
            )),
            _ => Ok(()),
        }
    }

    fn between(field: &str, v: Option<f64>, min: f64, max: f64) -> Result<(), Status> {
        match v {
            Some(n) if !(min..=max).contains(&n) => Err(invalid(
                field,
                format!("value {n} invalid, must be from {min} to {max}"),
            )),
            _ => Ok(()),
        }
    }

    fn name_length(field: &str, name: &str) -> Result<(), Status> {
        if name.is_empty() || name.len() > 255 {
            return Err(invalid(
                field,
                "length is invalid, must be from 1 to 255 characters",
            ));
        }
        Ok(())
    }

    /// A new collection's name.
    pub fn collection_name(name: &str) -> Result<(), Status> {
        name_length("collection_name", name)?;
        if let Some(c) = INVALID_NAME_CHARS.into_iter().find(|c| name.contains(*c)) {
            return Err(invalid(
                "collection_name",
                format!("collection name cannot contain \"{c}\" char"),
            ));
        }
        Ok(())
    }

    /// An existing collection's name: names made before Qdrant 1.5 may
    /// hold more characters.
    pub fn legacy_collection_name(name: &str) -> Result<(), Status> {
        name_length("collection_name", name)?;
        if let Some(c) = ['/', '\0'].into_iter().find(|c| name.contains(*c)) {
            return Err(invalid(
                "collection_name",
                format!("collection name cannot contain \"{c}\" char"),
            ));
        }
        Ok(())
    }

    pub fn field_name(name: &str) -> Result<(), Status> {
        if name.is_empty() {
            return Err(invalid(
                "field_name",
                "length is invalid, must be 1 or more",
            ));
        }
        Ok(())
    }

    fn vector_name(kind: &str, name: &str) -> Result<(), Status> {
        let why = if name.len() > 200 {
            "vector name must be at most 200 bytes long".to_string()
        } else if let Some(c) = INVALID_NAME_CHARS.into_iter().find(|c| name.contains(*c)) {
            format!("vector name cannot contain \"{c}\" char")
        } else {
            return Ok(());
        };
        Err(Status::invalid_argument(format!(
            "Wrong input: Invalid {kind} vector name `{name}`: {why}"
        )))
    }

    fn hnsw(field: &str, h: &HnswConfigDiff) -> Result<(), Status> {
        at_least(&format!("{field}.ef_construct"), h.ef_construct, 4)
    }

    fn optimizers(field: &str, o: &OptimizersConfigDiff) -> Result<(), Status> {
        between(
            &format!("{field}.deleted_threshold"),
            o.deleted_threshold,
            0.0,
            1.0,
        )?;
        at_least(
            &format!("{field}.vacuum_min_vector_number"),
            o.vacuum_min_vector_number,
            100,
        )?;
        at_least(&format!("{field}.max_segment_size"), o.max_segment_size, 1)
    }

    fn scalar(field: &str, s: &ScalarQuantization) -> Result<(), Status> {
        between(
            &format!("{field}.scalar.quantile"),
            s.quantile.map(f64::from),
            0.5,
            1.0,
        )
    }

    fn quantization(field: &str, q: &QuantizationConfig) -> Result<(), Status> {
        match &q.quantization {
            Some(quantization_config::Quantization::Scalar(s)) => scalar(field, s),
            _ => Ok(()),
        }
    }

    fn quantization_diff(field: &str, q: &QuantizationConfigDiff) -> Result<(), Status> {
        match &q.quantization {
            Some(quantization_config_diff::Quantization::Scalar(s)) => scalar(field, s),
            _ => Ok(()),
        }
    }

    fn vector(field: &str, v: &VectorParams) -> Result<(), Status> {
        if !(1..=65_536).contains(&v.size) {
            return Err(invalid(
                &format!("{field}.size"),
                format!("value {} invalid, must be from 1 to 65536", v.size),
            ));
        }
        if let Some(h) = &v.hnsw_config {
            hnsw(&format!("{field}.hnsw_config"), h)?;
        }
        if let Some(q) = &v.quantization_config {
            quantization(&format!("{field}.quantization_config"), q)?;
        }
        Ok(())
    }

    fn vector_diff(field: &str, v: &VectorParamsDiff) -> Result<(), Status> {
        if let Some(h) = &v.hnsw_config {
            hnsw(&format!("{field}.hnsw_config"), h)?;
        }
        if let Some(q) = &v.quantization_config {
            quantization_diff(&format!("{field}.quantization_config"), q)?;
        }
        Ok(())
    }

    /// `CreateCollection`: the API layer's checks, then the names.
    pub fn create(r: &CreateCollection) -> Result<(), Status> {
        collection_name(&r.collection_name)?;
        if let Some(h) = &r.hnsw_config {
            hnsw("hnsw_config", h)?;
        }
        if let Some(o) = &r.optimizers_config {
            optimizers("optimizers_config", o)?;
        }
        at_least("shard_number", r.shard_number, 1)?;
        let dense: Vec<(String, &VectorParams)> =
            match r.vectors_config.as_ref().and_then(|v| v.config.as_ref()) {
                Some(vectors_config::Config::Params(p)) => vec![(String::new(), p)],
                Some(vectors_config::Config::ParamsMap(m)) => {
                    m.map.iter().map(|(k, p)| (k.clone(), p)).collect()
                }
                None => Vec::new(),
            };
        for (_, p) in &dense {
            vector("vectors_config", p)?;
        }
        at_least("replication_factor", r.replication_factor, 1)?;
        at_least("write_consistency_factor", r.write_consistency_factor, 1)?;
        if let Some(m) = &r.strict_mode_config {
            strict("strict_mode_config", m)?;
        }
        if let Some(q) = &r.quantization_config {
            quantization("quantization_config", q)?;
        }
        for (name, _) in &dense {
            vector_name("dense", name)?;
        }
        let sparse = r
            .sparse_vectors_config
            .as_ref()
            .map(|s| &s.map)
            .cloned()
            .unwrap_or_default();
        for name in sparse.keys() {
            vector_name("sparse", name)?;
        }
        if sparse.contains_key("") {
            return Err(Status::invalid_argument(
                "Wrong input: Sparse vector name cannot be empty",
            ));
        }
        if let Some((name, _)) = dense.iter().find(|(name, _)| sparse.contains_key(name)) {
            return Err(Status::invalid_argument(format!(
                "Wrong input: Dense and sparse vector names must be unique - duplicate found with '{name}'"
            )));
        }
        Ok(())
    }

    /// `CreateShardKey`: its ranges, and a placement that names peers.
    pub fn shard_key_request(r: &CreateShardKey) -> Result<(), Status> {
        at_least("shards_number", r.shards_number, 1)?;
        at_least("replication_factor", r.replication_factor, 1)
    }

    /// Strict mode's ranges.
    fn strict(field: &str, m: &StrictModeConfig) -> Result<(), Status> {
        at_least(&format!("{field}.max_query_limit"), m.max_query_limit, 1)?;
        at_least(&format!("{field}.max_timeout"), m.max_timeout, 1)?;
        at_least(&format!("{field}.max_points_count"), m.max_points_count, 1)?;
        at_least(&format!("{field}.read_rate_limit"), m.read_rate_limit, 1)?;
        at_least(&format!("{field}.write_rate_limit"), m.write_rate_limit, 1)
    }

    /// `UpdateCollection`: the API layer's checks.
    pub fn update(r: &UpdateCollection) -> Result<(), Status> {
        legacy_collection_name(&r.collection_name)?;
        if let Some(o) = &r.optimizers_config {
            optimizers("optimizers_config", o)?;
        }
        if let Some(p) = &r.params {
            at_least("params.replication_factor", p.replication_factor, 1)?;
            at_least(
                "params.write_consistency_factor",
                p.write_consistency_factor,
                1,
            )?;
        }
        if let Some(h) = &r.hnsw_config {
            hnsw("hnsw_config", h)?;
        }
        match r.vectors_config.as_ref().and_then(|v| v.config.as_ref()) {
            Some(vectors_config_diff::Config::Params(d)) => vector_diff("vectors_config", d)?,
            Some(vectors_config_diff::Config::ParamsMap(m)) => {
                for d in m.map.values() {
                    vector_diff("vectors_config", d)?;
                }
            }
            None => {}
        }
        if let Some(q) = &r.quantization_config {
            quantization_diff("quantization_config", q)?;
        }
        if let Some(m) = &r.strict_mode_config {
            strict("strict_mode_config", m)?;
        }
        Ok(())
    }
}
