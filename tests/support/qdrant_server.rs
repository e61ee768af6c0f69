//! An in-process Qdrant gRPC server for the Qdrant tests.
//!
//! No package registry this project reaches ships a Qdrant server, so the
//! backend is tested against this one. It implements the RPCs strata uses
//! (collections, aliases, points, payload indexes, health) with Qdrant's
//! documented behaviour, on the generated tonic service traits that
//! `qdrant-client` exports:
//!
//! - creating a collection (or alias) whose name is taken fails with
//!   `AlreadyExists`; every operation on a missing collection or alias fails
//!   with `NotFound`; deleting a missing collection answers `result: false`;
//! - aliases resolve wherever a collection name is accepted; an alias
//!   request applies all its actions or none; deleting a collection drops
//!   its aliases;
//! - a vector's size and distance are fixed at creation: `update` changes
//!   HNSW, optimizer, quantization, `on_disk` and replication parameters
//!   only, and the collection info reflects every update;
//! - points are checked against the vector size, kept in id order, and
//!   paged by `scroll`;
//! - with an api key configured, a request without the right `api-key`
//!   header fails with `Unauthenticated`.
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
            match &key {
                None => Ok(request),
                Some(k) => match request.metadata().get("api-key") {
                    Some(v) if v.to_str().ok() == Some(k.as_str()) => Ok(request),
                    _ => Err(Status::unauthenticated("Invalid api-key")),
                },
            }
        };
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).unwrap();
        }
        let router = builder
            .add_service(QdrantServer::with_interceptor(self.clone(), check.clone()))
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
            version: "1.13.0".into(),
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
        let mut state = self.state.lock().unwrap();
        let name = &r.collection_name;
        if state.collections.contains_key(name) || state.aliases.contains_key(name) {
            return Err(Status::already_exists(format!(
                "Wrong input: Collection `{name}` already exists!"
            )));
        }
        let sizes = match r.vectors_config.as_ref().and_then(|v| v.config.as_ref()) {
            Some(vectors_config::Config::Params(p)) => vec![p.size],
            Some(vectors_config::Config::ParamsMap(m)) => m.map.values().map(|p| p.size).collect(),
            None => Vec::new(),
        };
        if sizes.contains(&0) {
            return Err(Status::invalid_argument(
                "Validation error in body: [vectors.size: value 0 invalid, must be 1 or larger]",
            ));
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
        let config = CollectionConfig {
            params: Some(CollectionParams {
                shard_number: r.shard_number.unwrap_or(1),
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
        let mut state = self.state.lock().unwrap();
        let c = state.collection(&r.collection_name)?;
        // Check before changing anything: an update applies whole or not at all.
        let known = dense_sizes(&c.config);
        if let Some(vectors_config_diff::Config::ParamsMap(m)) =
            r.vectors_config.as_ref().and_then(|v| v.config.as_ref())
        {
            for name in m.map.keys() {
                if !known.contains_key(name) {
                    return Err(Status::invalid_argument(format!(
                        "Wrong input: Not existing vector name error: {name}"
                    )));
                }
            }
        }
        if let Some(h) = &r.hnsw_config {
            merge_hnsw(c.config.hnsw_config.get_or_insert_with(Default::default), h);
        }
        if let Some(o) = &r.optimizers_config {
            merge_optimizers(
                c.config
                    .optimizer_config
                    .get_or_insert_with(Default::default),
                o,
            );
        }
        if let Some(q) = &r.quantization_config {
            c.config.quantization_config = quantization_of(q);
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
        let vectors = params
            .vectors_config
            .as_mut()
            .and_then(|v| v.config.as_mut());
        match (r.vectors_config.and_then(|v| v.config), vectors) {
            (
                Some(vectors_config_diff::Config::Params(d)),
                Some(vectors_config::Config::Params(p)),
            ) => merge_vector(p, &d),
            (
                Some(vectors_config_diff::Config::ParamsMap(d)),
                Some(vectors_config::Config::ParamsMap(m)),
            ) => {
                for (name, diff) in &d.map {
                    merge_vector(m.map.get_mut(name).expect("checked"), diff);
                }
            }
            (None, _) => {}
            _ => {
                return Err(Status::invalid_argument(
                    "Wrong input: the vector update does not match the collection's vectors",
                ));
            }
        }
        ok(done())
    }

    async fn delete(
        &self,
        request: Request<DeleteCollection>,
    ) -> Answer<CollectionOperationResponse> {
        let name = request.into_inner().collection_name;
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
        let mut state = self.state.lock().unwrap();
        // All actions or none: work on a copy.
        let mut aliases = state.aliases.clone();
        for op in request.into_inner().actions {
            match op.action {
                Some(alias_operations::Action::CreateAlias(a)) => {
                    if !state.collections.contains_key(&a.collection_name) {
                        return Err(Status::not_found(format!(
                            "Not found: Collection `{}` doesn't exist!",
                            a.collection_name
                        )));
                    }
                    if state.collections.contains_key(&a.alias_name)
                        || aliases.contains_key(&a.alias_name)
                    {
                        return Err(Status::already_exists(format!(
                            "Wrong input: Alias `{}` already exists!",
                            a.alias_name
                        )));
                    }
                    aliases.insert(a.alias_name, a.collection_name);
                }
                Some(alias_operations::Action::DeleteAlias(a)) => {
                    if aliases.remove(&a.alias_name).is_none() {
                        return Err(Status::not_found(format!(
                            "Not found: Alias `{}` does not exist!",
                            a.alias_name
                        )));
                    }
                }
                Some(alias_operations::Action::RenameAlias(a)) => {
                    let Some(target) = aliases.remove(&a.old_alias_name) else {
                        return Err(Status::not_found(format!(
                            "Not found: Alias `{}` does not exist!",
                            a.old_alias_name
                        )));
                    };
                    aliases.insert(a.new_alias_name, target);
                }
                None => return Err(Status::invalid_argument("empty alias action")),
            }
        }
        state.aliases = aliases;
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

    unimplemented_rpcs! {
        collection_cluster_info(CollectionClusterInfoRequest) -> CollectionClusterInfoResponse;
        update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
        create_shard_key(CreateShardKeyRequest) -> CreateShardKeyResponse;
        delete_shard_key(DeleteShardKeyRequest) -> DeleteShardKeyResponse;
        list_shard_keys(ListShardKeysRequest) -> ListShardKeysResponse;
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
