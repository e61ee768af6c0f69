//! The Qdrant a test runs against, and how a test looks into it.

#![allow(dead_code)] // each test binary uses part of it
//!
//! By default each test starts its own in-process test server
//! (`qdrant_server.rs`), so tests run in parallel. With
//! `STRATA_TEST_QDRANT_URL` set (Qdrant's gRPC port, e.g.
//! `http://127.0.0.1:6334`), every test runs against that real server
//! instead, one at a time, after deleting every collection on it. That
//! wipe is why a server that holds collections is refused unless
//! `STRATA_TEST_QDRANT_WIPE=1` (`tests/support/qdrant_conformance.sh
//! --wipe`). A keyed server for the API-key rules is given by
//! `STRATA_TEST_QDRANT_KEYED_URL` and `STRATA_TEST_QDRANT_API_KEY`.
//!
//! Everything a test reads goes through gRPC, the same for both servers,
//! so an assertion holds for the real server or fails. Tests that need a
//! failure injected into the server run on the test server only, and say
//! so loudly when skipped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use qdrant_client::Qdrant;
use qdrant_client::qdrant as pb;

use crate::qdrant_server::{Running, TestQdrant};

/// A project with one Qdrant database, `vectors`, at `${QDRANT_URL}`.
pub fn project() -> crate::support::Project {
    let p = crate::support::Project::new();
    p.config(
        "[databases.vectors]\nkind = \"qdrant\"\nurl = \"${QDRANT_URL}\"\n\
         migrations = \"migrations\"\nrollbacks = \"rollbacks\"\n",
    );
    p
}

/// `migrate` in a [`project`], pointed at `url`.
pub fn migrate(p: &crate::support::Project, url: &str, args: &[&str]) -> crate::support::Run {
    p.migrate_raw(args, &[("QDRANT_URL", url)])
}

/// Real servers are shared: one test at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// Whether the real server was found empty (or allowed to be wiped).
static CHECKED: AtomicBool = AtomicBool::new(false);

/// A Qdrant under test.
pub struct Subject {
    /// The gRPC URL strata is given.
    pub url: String,
    local: Option<(TestQdrant, Running)>,
    client: Qdrant,
    api_key: Option<String>,
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
}

/// The real server's URL, when the suite runs against one.
pub fn real_url() -> Option<String> {
    std::env::var("STRATA_TEST_QDRANT_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Says that a test did not run against the real server, where everyone
/// reading the output sees it.
pub fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED against the real Qdrant: {test}: {why}");
}

fn client(url: &str, key: Option<&str>) -> Qdrant {
    let mut b = Qdrant::from_url(url).skip_compatibility_check();
    if let Some(k) = key {
        b = b.api_key(k);
    }
    b.build().unwrap()
}

impl Subject {
    /// The in-process server, or the real one (emptied) when configured.
    pub async fn new() -> Subject {
        match real_url() {
            Some(url) => Subject::real(url, None).await,
            None => Subject::local(TestQdrant::default()).await,
        }
    }

    /// A server in distributed mode: the test server modelling a
    /// three-peer cluster, or the real cluster given by
    /// `STRATA_TEST_QDRANT_CLUSTER_URL` (one of its nodes). `None` when the
    /// suite runs against a real server without a cluster (the caller
    /// skips).
    pub async fn cluster() -> Option<Subject> {
        if real_url().is_none() {
            return Some(Subject::local(TestQdrant::cluster(3)).await);
        }
        let url = std::env::var("STRATA_TEST_QDRANT_CLUSTER_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        Some(Subject::real(url, None).await)
    }

    /// The id of the peer this client talks to, from a collection's
    /// cluster info.
    pub async fn peer_id(&self, collection: &str) -> u64 {
        self.client
            .collection_cluster_info(collection)
            .await
            .unwrap()
            .peer_id
    }

    /// A server that requires `key`: the test server, or the keyed real
    /// server when one is configured. `None` when the suite runs against
    /// a real server without a keyed one (the caller skips).
    pub async fn keyed(key: &str) -> Option<Subject> {
        if real_url().is_none() {
            return Some(Subject::local(TestQdrant::with_api_key(key)).await);
        }
        let url = std::env::var("STRATA_TEST_QDRANT_KEYED_URL").ok()?;
        let real_key = std::env::var("STRATA_TEST_QDRANT_API_KEY").ok()?;
        Some(Subject::real(url, Some(real_key)).await)
    }

    async fn local(q: TestQdrant) -> Subject {
        let key = q.api_key().map(str::to_string);
        let running = q.clone().start().await;
        Subject {
            url: running.url.clone(),
            client: client(&running.url, key.as_deref()),
            local: Some((q, running)),
            api_key: key,
            _turn: None,
        }
    }

    async fn real(url: String, key: Option<String>) -> Subject {
        let turn = TURN.lock().await;
        let s = Subject {
            client: client(&url, key.as_deref()),
            url,
            local: None,
            api_key: key,
            _turn: Some(turn),
        };
        let health =
            tokio::time::timeout(std::time::Duration::from_secs(10), s.client.health_check()).await;
        match health {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("the Qdrant at {} does not answer: {e}", s.url),
            Err(_) => panic!("the Qdrant at {} did not answer within 10 s", s.url),
        }
        let names = s.collection_names().await;
        if !CHECKED.swap(true, Ordering::SeqCst)
            && !names.is_empty()
            && std::env::var("STRATA_TEST_QDRANT_WIPE").as_deref() != Ok("1")
        {
            CHECKED.store(false, Ordering::SeqCst);
            panic!(
                "the Qdrant at {} holds collections {names:?}; the suite deletes every \
                 collection, so it runs only on an empty server or with \
                 STRATA_TEST_QDRANT_WIPE=1 (qdrant_conformance.sh --wipe)",
                s.url
            );
        }
        for name in names {
            s.client.delete_collection(name).await.unwrap();
        }
        s
    }

    /// The key the server requires, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// The test server, for injecting a failure; `None` (and a loud skip)
    /// on a real server.
    pub fn injectable(&self, test: &str) -> Option<&TestQdrant> {
        match &self.local {
            Some((q, _)) => Some(q),
            None => {
                skipped(test, "needs a failure injected into the server");
                None
            }
        }
    }

    /// A client for raw requests.
    pub fn client(&self) -> &Qdrant {
        &self.client
    }

    /// The raw collections service, for requests the high-level client
    /// does not make (several alias actions in one request).
    pub async fn collections(
        &self,
        key: Option<&str>,
    ) -> pb::collections_client::CollectionsClient<
        tonic::service::interceptor::InterceptedService<
            tonic::transport::Channel,
            impl tonic::service::Interceptor + use<>,
        >,
    > {
        let channel = tonic::transport::Endpoint::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let key = key.map(|k| k.parse::<tonic::metadata::MetadataValue<_>>().unwrap());
        pb::collections_client::CollectionsClient::with_interceptor(
            channel,
            move |mut r: tonic::Request<()>| {
                if let Some(k) = &key {
                    r.metadata_mut().insert("api-key", k.clone());
                }
                Ok(r)
            },
        )
    }

    /// Names of the collections, sorted.
    pub async fn collection_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .client
            .list_collections()
            .await
            .unwrap()
            .collections
            .into_iter()
            .map(|c| c.name)
            .collect();
        names.sort();
        names
    }

    /// Alias → collection.
    pub async fn aliases(&self) -> BTreeMap<String, String> {
        self.client
            .list_aliases()
            .await
            .unwrap()
            .aliases
            .into_iter()
            .map(|a| (a.alias_name, a.collection_name))
            .collect()
    }

    /// The collection an alias names.
    pub async fn alias(&self, name: &str) -> Option<String> {
        self.aliases().await.get(name).cloned()
    }

    /// A collection's info, `None` when it does not exist.
    pub async fn info(&self, name: &str) -> Option<pb::CollectionInfo> {
        if !self.client.collection_exists(name).await.unwrap() {
            return None;
        }
        self.client.collection_info(name).await.unwrap().result
    }

    /// A collection's configuration, `None` when it does not exist.
    pub async fn config(&self, name: &str) -> Option<pb::CollectionConfig> {
        self.info(name).await.and_then(|i| i.config)
    }

    /// The indexed payload fields of a collection, sorted.
    pub async fn payload_indexes(&self, name: &str) -> Vec<String> {
        let mut fields: Vec<String> = self
            .info(name)
            .await
            .map(|i| i.payload_schema.into_keys().collect())
            .unwrap_or_default();
        fields.sort();
        fields
    }

    /// `(version, success)` of every point of strata's history collection,
    /// in version order.
    pub async fn history(&self) -> Vec<(i64, bool)> {
        if !self
            .client
            .collection_exists("schema_migrations")
            .await
            .unwrap()
        {
            return Vec::new();
        }
        let points = self
            .client
            .scroll(
                pb::ScrollPointsBuilder::new("schema_migrations")
                    .limit(10_000)
                    .with_payload(true),
            )
            .await
            .unwrap()
            .result;
        let mut out: Vec<(i64, bool)> = points
            .iter()
            .map(|p| {
                let version = match p.payload["version"].kind {
                    Some(pb::value::Kind::IntegerValue(n)) => n,
                    _ => panic!("version is not an integer"),
                };
                let ok = matches!(
                    p.payload["success"].kind,
                    Some(pb::value::Kind::BoolValue(true))
                );
                (version, ok)
            })
            .collect();
        out.sort();
        out
    }
}
