//! The server-side paths, on a node with the modules: `reindex` with a
//! script and a pipeline, `update_by_query` with a script, `delete_by_query`
//! as server tasks, ingest pipelines with real processors (`set`,
//! `rename`, `script`), and data streams (OpenSearch core; a module
//! Elasticsearch's test distribution lacks). `tests/support/test.sh` runs this file against the
//! OpenSearch node it assembles from Maven Central with the `reindex`,
//! `lang-painless`, `ingest-common` and `analysis-common` modules (Elastic
//! publishes no distribution with them there); it fails on a node without
//! them rather than testing the client-side copy by mistake.

mod support;

use elasticsearch::http::Method;
use serde_json::{Value, json};
use support::es_client::{Es, fresh, migrate, project};

/// The modules these tests need, checked first.
async fn with_modules() -> (tokio::sync::MutexGuard<'static, ()>, Es) {
    let (turn, es) = fresh().await;
    let modules = es.modules().await;
    for needed in ["reindex", "lang-painless", "ingest-common"] {
        assert!(
            modules.iter().any(|m| m == needed),
            "this node lacks the {needed} module (it has {modules:?}): run these tests against \
             the OpenSearch node tests/support/opensearch.sh assembles"
        );
    }
    (turn, es)
}

/// The stored server tasks started since `before` of them were.
async fn tasks_since(es: &Es, before: usize) -> Vec<String> {
    es.stored_tasks().await.split_off(before)
}

/// A document's `_source`.
async fn source(es: &Es, index: &str, id: &str) -> Value {
    es.ok(Method::Get, &format!("/{index}/_doc/{id}"), None)
        .await["_source"]
        .clone()
}

const V1_ITEMS: &str = r#"[
  {"put_pipeline": {"id": "items-shape", "description": "set, rename and a script",
     "processors": [
       {"set": {"field": "stage", "value": "shaped"}},
       {"rename": {"field": "title", "target_field": "name", "ignore_missing": true}},
       {"script": {"source": "if (ctx.name != null) { ctx.name_length = ctx.name.length() }"}}]}},
  {"create_index": {"index": "items_v1", "settings": {"number_of_replicas": 0},
     "mappings": {"properties": {"title": {"type": "text"}, "n": {"type": "integer"}}},
     "aliases": {"items": {}}}},
  {"index_documents": {"index": "items", "documents": [
     {"_id": "a", "title": "Lamp", "n": 1},
     {"_id": "b", "title": "Chair", "n": 2},
     {"_id": "c", "title": "Desk", "n": 3}]}}
]"#;

const V2_REINDEX: &str = r#"[
  {"reindex": {"alias": "items", "to": "items_v2", "pipeline": "items-shape",
     "script": {"source": "ctx._source.n = ctx._source.n * params.k", "params": {"k": 10}},
     "settings": {"number_of_replicas": 0},
     "mappings": {"properties": {"name": {"type": "keyword"}, "n": {"type": "integer"},
                                 "stage": {"type": "keyword"},
                                 "name_length": {"type": "integer"}}}}}
]"#;

#[tokio::test]
async fn reindex_runs_its_script_and_pipeline_in_the_servers_task_and_rolls_back() {
    let (_turn, es) = with_modules().await;
    let p = project();
    // The kind's other name, as an OpenSearch user writes it.
    p.config(
        "[databases.search]\nkind = \"opensearch\"\nurl = \"${ES_URL}\"\n\
         migrations = \"migrations\"\nrollbacks = \"rollbacks\"\n",
    );
    p.migration("V1__items.json", V1_ITEMS)
        .migration("V2__reshape.json", V2_REINDEX)
        .rollback(
            "U1__items.json",
            r#"[{"delete_index": {"index": "items_v1"}},
                {"delete_pipeline": {"id": "items-shape"}}]"#,
        )
        .rollback(
            "U2__reshape.json",
            r#"[{"switch_alias": {"alias": "items", "to": "items_v1"}},
                {"delete_index": {"index": "items_v2"}}]"#,
        );
    let plan = migrate(&p, &["plan"]);
    plan.expect(0);
    assert!(
        plan.stdout
            .contains("reindex items: (its index) -> items_v2, script, pipeline items-shape"),
        "{}",
        plan.stdout
    );

    let before = es.stored_tasks().await.len();
    migrate(&p, &["up"]).expect(0);
    assert_eq!(
        tasks_since(&es, before).await,
        ["indices:data/write/reindex"]
    );
    assert_eq!(es.alias("items").await, ["items_v2"]);
    assert_eq!(es.count("items_v2").await, 3);
    // The script ran first, then the pipeline's three processors.
    assert_eq!(
        source(&es, "items_v2", "b").await,
        json!({"n": 20, "name": "Chair", "stage": "shaped", "name_length": 5})
    );
    // The source is untouched.
    assert_eq!(
        source(&es, "items_v1", "b").await,
        json!({"title": "Chair", "n": 2})
    );

    migrate(&p, &["down", "--to", "1"]).expect(0);
    assert_eq!(es.alias("items").await, ["items_v1"]);
    assert!(!es.exists("items_v2").await);
    migrate(&p, &["down", "--to", "0"]).expect(0);
    assert_eq!(es.history().await, []);
    assert!(!es.exists("items_v1").await);
}

#[tokio::test]
async fn by_query_operations_run_as_server_tasks_with_a_script_and_a_pipeline() {
    let (_turn, es) = with_modules().await;
    let p = project();
    p.migration("V1__items.json", V1_ITEMS).migration(
        "V2__rewrite.json",
        r#"[
          {"update_by_query": {"index": "items", "query": {"range": {"n": {"gte": 2}}},
             "script": {"source": "ctx._source.n += params.add", "params": {"add": 100}}}},
          {"update_by_query": {"index": "items", "query": {"ids": {"values": ["a"]}},
             "pipeline": "items-shape"}},
          {"delete_by_query": {"index": "items", "query": {"term": {"n": 103}}}}
        ]"#,
    );
    let plan = migrate(&p, &["plan"]);
    plan.expect(0);
    for line in [
        "update_by_query items (matching documents, script)",
        "update_by_query items (matching documents, pipeline items-shape)",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }

    let before = es.stored_tasks().await.len();
    migrate(&p, &["up"]).expect(0);
    assert_eq!(
        tasks_since(&es, before).await,
        [
            "indices:data/write/update/byquery",
            "indices:data/write/update/byquery",
            "indices:data/write/delete/byquery"
        ]
    );
    assert_eq!(
        source(&es, "items_v1", "a").await,
        json!({"n": 1, "name": "Lamp", "stage": "shaped", "name_length": 4})
    );
    assert_eq!(
        source(&es, "items_v1", "b").await,
        json!({"title": "Chair", "n": 102})
    );
    assert_eq!(es.count("items_v1").await, 2);
}

#[tokio::test]
async fn a_default_pipeline_with_real_processors_shapes_seeded_documents() {
    let (_turn, es) = with_modules().await;
    let p = project();
    p.migration(
        "V1__seeded.json",
        r#"[
          {"put_pipeline": {"id": "seed-shape", "processors": [
             {"set": {"field": "source", "value": "seed"}},
             {"rename": {"field": "label", "target_field": "title"}},
             {"script": {"source": "ctx.title = ctx.title.toUpperCase()"}}]}},
          {"create_index": {"index": "seeded", "settings": {"index":
             {"default_pipeline": "seed-shape", "number_of_replicas": 0}}}},
          {"index_documents": {"index": "seeded", "documents": [{"_id": "1", "label": "first"}]}}
        ]"#,
    );
    migrate(&p, &["up"]).expect(0);
    assert_eq!(
        source(&es, "seeded", "1").await,
        json!({"title": "FIRST", "source": "seed"})
    );
}

#[tokio::test]
async fn a_script_or_processor_the_node_cannot_run_is_refused_before_anything_runs() {
    let (_turn, es) = with_modules().await;
    // A script language whose module this node lacks (2.19 as assembled
    // has only Painless; 3.8 on ships every language module, and then the
    // rule is left to the unit tests of the model).
    let modules = es.modules().await;
    let missing_lang = ["expression", "mustache"]
        .into_iter()
        .find(|l| !modules.contains(&format!("lang-{l}")));
    let script_case = missing_lang.map(|lang| {
        (
            format!(
                r#"[{{"create_index": {{"index": "items_v1", "aliases": {{"items": {{}}}}}}}},
                    {{"reindex": {{"alias": "items", "to": "items_v2",
                       "script": {{"source": "1", "lang": "{lang}"}}}}}}]"#
            ),
            format!("$[1].reindex.script: a script needs the lang-{lang} module"),
        )
    });
    let cases = [
        (
            r#"[{"create_index": {"index": "items_v1", "aliases": {"items": {}}}},
                {"put_pipeline": {"id": "doc", "processors": [{"attachment": {"field": "f"}}]}}]"#
                .to_string(),
            "processor type \"attachment\" is not available on this cluster".to_string(),
        ),
        (
            r#"[{"create_index": {"index": "items_v1", "aliases": {"items": {}}}},
                {"update_by_query": {"index": "items", "pipeline": "absent"}}]"#
                .to_string(),
            "$[1].update_by_query.pipeline: pipeline \"absent\" does not exist".to_string(),
        ),
    ];
    for (file, expected) in cases.into_iter().chain(script_case) {
        let p = project();
        p.migration("V1__bad.json", &file);
        let run = migrate(&p, &["up"]);
        run.expect(2);
        assert!(
            run.stderr.contains("V1__bad.json") && run.stderr.contains(&expected),
            "{expected}\n{}",
            run.stderr
        );
        assert!(!es.exists("items_v1").await);
        assert_eq!(es.history().await, []);
    }
}

const V1_STREAM: &str = r#"[
  {"put_index_template": {"name": "logs", "index_patterns": ["logs-*"], "priority": 5,
     "data_stream": {},
     "template": {"settings": {"number_of_replicas": 0},
                  "mappings": {"properties": {"n": {"type": "integer"}}}}}},
  {"create_data_stream": {"name": "logs-app"}},
  {"index_documents": {"index": "logs-app", "documents": [
     {"_id": "first", "@timestamp": "2026-12-01T00:00:00Z", "n": 1},
     {"@timestamp": "2026-12-02T00:00:00Z", "n": 2}]}}
]"#;

#[tokio::test]
async fn a_data_stream_is_created_from_its_template_written_to_and_rolled_back() {
    let (_turn, es) = with_modules().await;
    let p = project();
    p.migration("V1__logs.json", V1_STREAM).rollback(
        "U1__logs.json",
        r#"[{"delete_data_stream": {"name": "logs-app"}},
            {"delete_index_template": {"name": "logs"}}]"#,
    );
    migrate(&p, &["up"]).expect(0);
    let stream = es.ok(Method::Get, "/_data_stream/logs-app", None).await;
    assert_eq!(stream["data_streams"][0]["template"], "logs");
    // Written with `create` actions, both documents are in the stream.
    assert_eq!(es.count("logs-app").await, 2);

    // What the server refuses, refused before anything runs: an index under
    // the stream template's pattern, the template while the stream uses
    // it, a document without the timestamp, a stream no template decides.
    for (text, expected) in [
        (
            r#"[{"create_index": {"index": "logs-other"}}]"#,
            "$[0].create_index.index: index template \"logs\" makes \"logs-other\" a data stream",
        ),
        (
            r#"[{"delete_index_template": {"name": "logs"}}]"#,
            "$[0].delete_index_template.name: index template \"logs\" is in use by data stream(s) logs-app",
        ),
        (
            r#"[{"index_documents": {"index": "logs-app", "documents": [{"n": 3}]}}]"#,
            "$[0].index_documents.documents[0]: has no \"@timestamp\"",
        ),
        (
            r#"[{"create_data_stream": {"name": "metrics-app"}}]"#,
            "$[0].create_data_stream.name: no index template matches \"metrics-app\"",
        ),
    ] {
        p.migration("V2__bad.json", text);
        let run = migrate(&p, &["up"]);
        run.expect(2);
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    assert_eq!(es.history().await, [(1, true)]);
    // The server says the same to the first two.
    for (method, path, body, reason) in [
        (
            Method::Put,
            "/logs-other",
            Some(json!({})),
            "use create data stream api instead",
        ),
        (
            Method::Delete,
            "/_index_template/logs",
            None,
            "in use by a data streams [logs-app]",
        ),
    ] {
        let (status, answer) = es.call(method, path, body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().contains(reason), "{answer}");
    }
    std::fs::remove_file(p.path().join("migrations/V2__bad.json")).unwrap();

    migrate(&p, &["down", "--to", "0"]).expect(0);
    assert_eq!(
        es.call(Method::Get, "/_data_stream/logs-app", None).await.0,
        404
    );
    assert!(!es.template_exists("logs").await);
    assert_eq!(es.history().await, []);
}
