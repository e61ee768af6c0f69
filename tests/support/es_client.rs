//! A client for the real Elasticsearch that `tests/support/test.sh`
//! starts: requests, a reset to a cluster with nothing of ours, and reads of
//! the history. The tests of one binary take turns on it with [`TURN`].

use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::transport::Transport;
use serde_json::{Value, json};

/// Held by a test while it uses the cluster.
pub static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The cluster's URL.
pub fn server() -> String {
    std::env::var("STRATA_TEST_ES_URL").unwrap_or_else(|_| {
        panic!(
            "STRATA_TEST_ES_URL is not set: the Elasticsearch tests need a real server. \
             Run the suite with `bash tests/support/test.sh`, which starts one."
        )
    })
}

/// A plain client for setting up and inspecting the cluster.
pub struct Es(pub Elasticsearch);

impl Es {
    /// A client for the test cluster.
    pub fn new() -> Es {
        Es::at(&server())
    }

    /// A client for the node at `url`.
    pub fn at(url: &str) -> Es {
        Es(Elasticsearch::new(Transport::single_node(url).unwrap()))
    }

    /// One request: the status and the JSON body (null when not JSON).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let r = self
            .0
            .send(
                method,
                path,
                HeaderMap::new(),
                Option::<&()>::None,
                body.map(|b| b.to_string()),
                None,
            )
            .await
            .unwrap();
        let status = r.status_code().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One request that must succeed; its JSON body.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(method, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }

    /// Deletes every data stream, index and template the tests may have
    /// made.
    pub async fn reset(&self) {
        // Data streams own their backing indices (a distribution without
        // them answers 400 or 404 here).
        let (status, streams) = self.call(Method::Get, "/_data_stream", None).await;
        if status == 200 {
            for s in streams["data_streams"].as_array().into_iter().flatten() {
                let name = s["name"].as_str().unwrap();
                self.ok(Method::Delete, &format!("/_data_stream/{name}"), None)
                    .await;
            }
        }
        let indices = self
            .ok(
                Method::Get,
                "/_cat/indices?format=json&h=index&expand_wildcards=open,closed",
                None,
            )
            .await;
        for i in indices.as_array().unwrap() {
            let name = i["index"].as_str().unwrap();
            self.ok(Method::Delete, &format!("/{name}"), None).await;
        }
        let templates = self.ok(Method::Get, "/_index_template", None).await;
        for t in templates["index_templates"].as_array().unwrap() {
            let name = t["name"].as_str().unwrap();
            if !name.starts_with('.') {
                self.ok(Method::Delete, &format!("/_index_template/{name}"), None)
                    .await;
            }
        }
        // Component templates after the index templates that use them.
        let (_, components) = self.call(Method::Get, "/_component_template", None).await;
        for c in components["component_templates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = c["name"].as_str().unwrap();
            if !name.starts_with('.') && !name.contains('@') {
                self.ok(
                    Method::Delete,
                    &format!("/_component_template/{name}"),
                    None,
                )
                .await;
            }
        }
        // The tests' lifecycle policies (a server may have its own).
        if let Some(api) = self.lifecycle_api().await {
            for name in ["strata-test-logs"] {
                self.call(Method::Delete, &format!("{api}/{name}"), None)
                    .await;
            }
        }
        let (_, pipelines) = self.call(Method::Get, "/_ingest/pipeline", None).await;
        for id in pipelines.as_object().into_iter().flatten().map(|(k, _)| k) {
            if !id.starts_with('.') && !id.contains('@') {
                self.ok(Method::Delete, &format!("/_ingest/pipeline/{id}"), None)
                    .await;
            }
        }
    }

    /// Whether the server is OpenSearch (Elasticsearch's test distribution
    /// answers `GET /` with 405: it lacks the handler).
    pub async fn is_opensearch(&self) -> bool {
        self.call(Method::Get, "/", None).await.1["version"]["distribution"] == "opensearch"
    }

    /// Where this server keeps lifecycle policies (`/_ilm/policy` or
    /// `/_plugins/_ism/policies`), when it has them: the listing answers
    /// 200 only on a node with ILM or ISM.
    pub async fn lifecycle_api(&self) -> Option<&'static str> {
        let path = if self.is_opensearch().await {
            "/_plugins/_ism/policies"
        } else {
            "/_ilm/policy"
        };
        (self.call(Method::Get, path, None).await.0 == 200).then_some(path)
    }

    /// Whether an index (or alias) exists.
    pub async fn exists(&self, index: &str) -> bool {
        self.call(Method::Head, &format!("/{index}"), None).await.0 == 200
    }

    /// Whether an index template exists.
    pub async fn template_exists(&self, name: &str) -> bool {
        self.call(Method::Get, &format!("/_index_template/{name}"), None)
            .await
            .0
            == 200
    }

    /// The indices behind an alias, sorted.
    pub async fn alias(&self, alias: &str) -> Vec<String> {
        let (status, body) = self
            .call(Method::Get, &format!("/_alias/{alias}"), None)
            .await;
        if status == 404 {
            return Vec::new();
        }
        let mut out: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        out.sort();
        out
    }

    /// The number of documents in an index, after a refresh.
    pub async fn count(&self, index: &str) -> u64 {
        self.ok(Method::Post, &format!("/{index}/_refresh"), None)
            .await;
        self.ok(Method::Get, &format!("/{index}/_count"), None)
            .await["count"]
            .as_u64()
            .unwrap()
    }

    /// A field's mapping as the server has it.
    pub async fn field(&self, index: &str, field: &str) -> Value {
        let body = self
            .ok(Method::Get, &format!("/{index}/_mapping"), None)
            .await;
        body[index]["mappings"]["properties"][field].clone()
    }

    /// The actions of the server tasks whose results the cluster stored
    /// (every task started without waiting: `_reindex`,
    /// `_update_by_query`, `_delete_by_query`), oldest first.
    #[allow(dead_code)] // not every test binary asks
    pub async fn stored_tasks(&self) -> Vec<String> {
        self.call(Method::Post, "/.tasks/_refresh", None).await;
        let (status, body) = self
            .call(
                Method::Post,
                "/.tasks/_search",
                Some(json!({"size": 1000, "sort": [{"task.start_time_in_millis": "asc"}]})),
            )
            .await;
        if status == 404 {
            return Vec::new();
        }
        body["hits"]["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("reading .tasks: {status} {body}"))
            .iter()
            .map(|h| h["_source"]["task"]["action"].as_str().unwrap().to_string())
            .collect()
    }

    /// The modules every node of the cluster has.
    #[allow(dead_code)]
    pub async fn modules(&self) -> Vec<String> {
        let body = self
            .ok(
                Method::Get,
                "/_nodes/plugins?filter_path=nodes.*.modules.name",
                None,
            )
            .await;
        let mut names: Vec<String> =
            body["nodes"].as_object().unwrap().values().next().unwrap()["modules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap().to_string())
                .collect();
        names.sort();
        names
    }

    /// `(version, success)` of every history document.
    pub async fn history(&self) -> Vec<(u64, bool)> {
        let search = async || {
            self.call(
                Method::Post,
                "/schema_migrations/_search",
                Some(json!({"size": 100, "sort": [{"version": "asc"}]})),
            )
            .await
        };
        let (mut status, mut body) = search().await;
        if status == 503 {
            // A runner created the index a moment ago: no shard is up yet.
            self.ok(
                Method::Get,
                "/_cluster/health/schema_migrations?wait_for_active_shards=1&timeout=30s",
                None,
            )
            .await;
            (status, body) = search().await;
        }
        if status == 404 {
            return Vec::new();
        }
        body["hits"]["hits"]
            .as_array()
            .unwrap_or_else(|| panic!("reading the history: {status} {body}"))
            .iter()
            .map(|h| {
                (
                    h["_source"]["version"].as_u64().unwrap(),
                    h["_source"]["success"].as_bool().unwrap(),
                )
            })
            .collect()
    }
}

/// A project with one Elasticsearch database, `search`, on the test cluster.
pub fn project() -> super::Project {
    let p = super::Project::new();
    p.config(
        "[databases.search]\nkind = \"elasticsearch\"\nurl = \"${ES_URL}\"\n\
         migrations = \"migrations\"\nrollbacks = \"rollbacks\"\n",
    );
    p
}

/// `migrate` in a [`project`], pointed at the test cluster.
pub fn migrate(p: &super::Project, args: &[&str]) -> super::Run {
    p.migrate_raw(args, &[("ES_URL", &server())])
}

/// A fresh cluster for one test, and the turn to use it.
pub async fn fresh() -> (tokio::sync::MutexGuard<'static, ()>, Es) {
    let turn = TURN.lock().await;
    let es = Es::new();
    es.reset().await;
    (turn, es)
}
