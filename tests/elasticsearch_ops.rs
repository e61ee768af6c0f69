//! Elasticsearch folders as elasticsearch-evolution users write them —
//! component and index templates, ingest pipelines, seed documents, a
//! mapping change picked up with `update_by_query`, requests of any other
//! kind — against the real Elasticsearch `tests/support/test.sh` starts
//! (the integ-test distribution: no `reindex` module, so the by-query
//! operations take the client-side path, and no ingest-common module, so
//! its only processor is `set_security_user`). Tests take turns on the
//! cluster and start from one with nothing of ours.

mod support;

use elasticsearch::http::Method;
use serde_json::{Value, json};
use support::Project;
use support::es_client::{Es, fresh, migrate, project};

/// Documents of `index` a query matches, after a refresh.
async fn hits(es: &Es, index: &str, query: Value) -> u64 {
    es.ok(Method::Post, &format!("/{index}/_refresh"), None)
        .await;
    es.ok(
        Method::Post,
        &format!("/{index}/_count"),
        Some(json!({ "query": query })),
    )
    .await["count"]
        .as_u64()
        .unwrap()
}

/// The server itself refuses the request (400, or 500 for a second write
/// index) with `reason`: a check strata makes first is not stricter than
/// Elasticsearch.
async fn server_refuses(es: &Es, method: Method, path: &str, body: Option<Value>, reason: &str) {
    let (status, answer) = es.call(method, path, body).await;
    assert!(status == 400 || status == 500, "{path}: {answer}");
    let said = answer["error"]["reason"].as_str().unwrap_or_default();
    assert!(said.contains(reason), "{answer}");
}

/// A project whose V1 creates `index` and whose V2 is `template`.
fn index_then(index: &str, template: &str) -> Project {
    let p = project();
    p.migration(
        "V1__index.json",
        &json!([{"create_index": {"index": index}}]).to_string(),
    )
    .migration("V2__template.json", template);
    p
}

/// `plan` and `up` both refuse the project (exit 2) naming
/// `V2__template.json` and `expected`, and nothing ran: V1's `index` does
/// not exist and there is no history.
async fn refused_before_anything_runs(es: &Es, p: &Project, index: &str, expected: &str) {
    for command in ["plan", "up"] {
        let run = migrate(p, &[command]);
        run.expect(2);
        assert!(
            run.stderr.contains("V2__template.json") && run.stderr.contains(expected),
            "{expected}\n{}",
            run.stderr
        );
    }
    assert!(!es.exists(index).await);
    assert_eq!(es.history().await, []);
}

/// Whether `GET path` answers 200.
async fn found(es: &Es, path: &str) -> bool {
    es.call(Method::Get, path, None).await.0 == 200
}

const V1_TEMPLATES: &str = r#"[
  {"put_component_template": {"name": "products-base", "version": 1,
     "template": {"settings": {"number_of_replicas": 0},
                  "mappings": {"properties": {"tenant": {"type": "keyword"}}}}}},
  {"put_pipeline": {"id": "products-stamp", "description": "every product passes here",
     "processors": []}},
  {"put_index_template": {"name": "products", "index_patterns": ["products-*"],
     "composed_of": ["products-base"], "priority": 100}},
  {"create_index": {"index": "products-v1",
     "settings": {"index": {"default_pipeline": "products-stamp"}},
     "mappings": {"properties": {"title": {"type": "text"}}},
     "aliases": {"products": {}}}}
]"#;

const V2_SEED: &str = r#"[
  {"index_documents": {"index": "products", "documents": [
     {"_id": "p1", "title": "Blue Lamp", "tenant": "acme"},
     {"_id": "p2", "title": "Red Chair", "tenant": "acme"},
     {"_id": "p3", "title": "Old Desk", "tenant": "gone"}]}},
  {"index_documents": {"index": "products", "file": "seed/products.ndjson"}}
]"#;

const SEED_NDJSON: &str = "{\"_id\": \"p4\", \"title\": \"Green Sofa\", \"tenant\": \"acme\"}\n\n\
                           {\"_id\": 5, \"title\": \"Grey Shelf\", \"tenant\": \"gone\"}\n";

const V3_MULTI_FIELD: &str = r#"[
  {"put_mapping": {"index": "products", "properties":
     {"title": {"type": "text", "fields": {"raw": {"type": "keyword"}}}}}},
  {"update_by_query": {"index": "products"}}
]"#;

const V4_PURGE: &str = r#"[
  {"delete_by_query": {"index": "products", "query": {"term": {"tenant": "gone"}}}}
]"#;

const V5_REQUEST: &str = r#"[
  {"request": {"method": "PUT", "path": "/scratch-v1",
     "body": {"settings": {"number_of_replicas": 0}}, "expect": [200]}}
]"#;

#[tokio::test]
async fn an_evolution_style_folder_runs_fully_and_rolls_back() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration("V1__templates.json", V1_TEMPLATES)
        .migration("V2__seed.json", V2_SEED)
        .migration("V3__title_raw.json", V3_MULTI_FIELD)
        .migration("V4__purge.json", V4_PURGE)
        .migration("V5__scratch.json", V5_REQUEST);
    std::fs::create_dir_all(p.path().join("migrations/seed")).unwrap();
    std::fs::write(
        p.path().join("migrations/seed/products.ndjson"),
        SEED_NDJSON,
    )
    .unwrap();
    p.rollback(
        "U1__templates.json",
        r#"[{"delete_index": {"index": "products-v1"}},
            {"delete_index_template": {"name": "products"}},
            {"delete_component_template": {"name": "products-base"}},
            {"delete_pipeline": {"id": "products-stamp"}}]"#,
    )
    .rollback(
        "U2__seed.json",
        r#"[{"delete_documents": {"index": "products", "ids": ["p1", "p2", "p3", "p4", 5]}}]"#,
    )
    // Re-written documents need no undoing; deleted ones cannot come back.
    .rollback("U3__title_raw.json", "[]")
    .rollback("U4__purge.json", "[]")
    .rollback(
        "U5__scratch.json",
        r#"[{"request": {"method": "DELETE", "path": "/scratch-v1", "expect": [200, 404]}}]"#,
    );

    let plan = migrate(&p, &["plan"]);
    plan.expect(0);
    for line in [
        "put_component_template products-base",
        "put_pipeline products-stamp (0 processors)",
        "index_documents products (3 documents)",
        "index_documents products (from seed/products.ndjson)",
        "update_by_query products (every document)",
        "delete_by_query products (matching documents)",
        "request PUT /scratch-v1 (unchecked",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }
    // Planning changed nothing.
    assert!(!es.exists("products-v1").await);

    migrate(&p, &["up"]).expect(0);
    assert_eq!(
        es.history().await,
        [(1, true), (2, true), (3, true), (4, true), (5, true)]
    );
    let template = es.ok(Method::Get, "/_index_template/products", None).await;
    assert_eq!(
        template["index_templates"][0]["index_template"]["composed_of"],
        json!(["products-base"])
    );
    assert!(found(&es, "/_ingest/pipeline/products-stamp").await);
    // The component template's mapping reached the index the template matched.
    assert_eq!(es.field("products-v1", "tenant").await["type"], "keyword");
    // Five seeded, the two of tenant "gone" purged.
    assert_eq!(es.count("products-v1").await, 3);
    assert_eq!(
        hits(&es, "products", json!({"ids": {"values": ["p3", "5"]}})).await,
        0
    );
    // Seeded before title.raw existed, found by it after update_by_query.
    assert_eq!(
        hits(&es, "products", json!({"term": {"title.raw": "Blue Lamp"}})).await,
        1
    );
    assert_eq!(
        hits(&es, "products", json!({"exists": {"field": "title.raw"}})).await,
        3
    );
    assert!(es.exists("scratch-v1").await);

    migrate(&p, &["down", "--to", "0"]).expect(0);
    assert_eq!(es.history().await, []);
    assert!(!es.exists("scratch-v1").await);
    assert!(!es.exists("products-v1").await);
    assert!(!es.template_exists("products").await);
    assert!(!found(&es, "/_component_template/products-base").await);
    assert!(!found(&es, "/_ingest/pipeline/products-stamp").await);

    // And forward again from nothing: the folder is repeatable.
    migrate(&p, &["up"]).expect(0);
    assert_eq!(es.count("products-v1").await, 3);
}

#[tokio::test]
async fn a_template_composed_of_a_missing_component_is_refused_before_anything_runs() {
    let (_turn, es) = fresh().await;
    let p = index_then(
        "orders-v1",
        r#"[{"put_index_template": {"name": "orders", "index_patterns": ["orders-*"],
             "composed_of": ["orders-mappings"]}}]"#,
    );
    refused_before_anything_runs(
        &es,
        &p,
        "orders-v1",
        "$[0].put_index_template.composed_of[0]: component template \
         \"orders-mappings\" does not exist",
    )
    .await;
    // The server itself refuses such a template: the check says what it would.
    let (status, body) = es
        .call(
            Method::Put,
            "/_index_template/orders",
            Some(json!({"index_patterns": ["orders-*"], "composed_of": ["orders-mappings"]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "invalid_index_template_exception");
}

/// A template another tool put on the cluster, and a folder whose template
/// would claim the same indices at the same priority: refused before the
/// folder's first file runs, as the server would refuse it half-way.
#[tokio::test]
async fn a_template_overlapping_another_of_equal_priority_is_refused_before_anything_runs() {
    let (_turn, es) = fresh().await;
    // No `priority`: the server counts it as 0, and so must strata.
    es.ok(
        Method::Put,
        "/_index_template/audit",
        Some(json!({"index_patterns": ["audit-*"]})),
    )
    .await;
    // "audit-x*" overlaps "audit-*" by every server's rule.
    let p = index_then(
        "events-v1",
        r#"[{"put_index_template": {"name": "events", "index_patterns": ["events-*", "audit-x*"], "priority": 0}}]"#,
    );
    refused_before_anything_runs(
        &es,
        &p,
        "events-v1",
        "$[0].put_index_template.index_patterns[1]: pattern \"audit-x*\" overlaps \
         pattern \"audit-*\" of index template \"audit\", which has the same priority (0)",
    )
    .await;
    server_refuses(
        &es,
        Method::Put,
        "/_index_template/events",
        Some(json!({"index_patterns": ["events-*", "audit-x*"], "priority": 0})),
        "that have the same priority [0], multiple index templates may not match",
    )
    .await;
    // "*-trail" and "audit-*" could both match "audit-trail": Elasticsearch
    // and OpenSearch 2 refuse that, OpenSearch 3 (which compares the
    // patterns' text) takes it. Asked of the server, then strata must agree.
    let trail = json!({"index_patterns": ["events-*", "*-trail"], "priority": 0});
    let (status, body) = es
        .call(Method::Put, "/_index_template/probe", Some(trail.clone()))
        .await;
    assert!(status == 200 || status == 400, "{body}");
    if status == 200 {
        es.ok(Method::Delete, "/_index_template/probe", None).await;
    }
    let p = index_then(
        "events-v1",
        r#"[{"put_index_template": {"name": "events", "index_patterns": ["events-*", "*-trail"], "priority": 0}}]"#,
    );
    if status == 400 {
        refused_before_anything_runs(
            &es,
            &p,
            "events-v1",
            "$[0].put_index_template.index_patterns[1]: pattern \"*-trail\" overlaps \
             pattern \"audit-*\" of index template \"audit\", which has the same priority (0)",
        )
        .await;
    } else {
        migrate(&p, &["plan"]).expect(0);
    }
    // At another priority the server takes it, and so does strata.
    p.migration(
        "V2__template.json",
        r#"[{"put_index_template": {"name": "events", "index_patterns": ["events-*", "audit-x*"], "priority": 10}}]"#,
    );
    migrate(&p, &["up"]).expect(0);
    assert!(es.template_exists("events").await);
}

/// Each case: a V1 that is fine, a V2 that the server would refuse; `up`
/// must refuse before V1 runs, naming the file (and where) and the reason.
#[tokio::test]
async fn what_the_server_would_refuse_is_refused_before_anything_runs() {
    let (_turn, es) = fresh().await;
    let base = r#"[{"create_index": {"index": "shop-v1"}}]"#;
    let cases: &[(&str, Option<&str>, &str, &str)] = &[
        (
            r#"[{"put_pipeline": {"id": "p", "processors": [{"no_such_processor": {"field": "a"}}]}}]"#,
            None,
            "V2__bad.json",
            "$[0].put_pipeline.processors[0].no_such_processor: processor type \
             \"no_such_processor\" is not available on this cluster",
        ),
        (
            r#"[{"index_documents": {"index": "shop-v1", "file": "bad.ndjson"}}]"#,
            Some("{\"a\": 1}\n{\"a\": 2}\n{\"a\": \n"),
            "bad.ndjson:3",
            "EOF while parsing",
        ),
        (
            r#"[{"index_documents": {"index": "shop-v1", "file": "absent.ndjson"}}]"#,
            None,
            "V2__bad.json",
            "index_documents: cannot read",
        ),
        (
            r#"[{"index_documents": {"index": "nowhere", "documents": [{"a": 1}]}}]"#,
            None,
            "V2__bad.json",
            "$[0].index_documents.index: index or alias \"nowhere\" does not exist: create it first",
        ),
        (
            r#"[{"index_documents": {"index": "shop-v1", "documents": [{"a": 1}, {"_routing": "x"}]}}]"#,
            None,
            "V2__bad.json",
            "$[0].index_documents.documents[1]._routing: _routing is a metadata field",
        ),
        (
            r#"[{"create_index": {"index": "shop-a", "aliases": {"shops": {}}}},
                {"create_index": {"index": "shop-b", "aliases": {"shops": {}}}},
                {"index_documents": {"index": "shops", "documents": [{"a": 1}]}}]"#,
            None,
            "V2__bad.json",
            "$[2].index_documents.index: alias \"shops\" has no write index: it points at \
             several indices (shop-a, shop-b) and none is its write index",
        ),
        (
            r#"[{"create_index": {"index": "shop-r", "aliases": {"shop-ro": {"is_write_index": false}}}},
                {"index_documents": {"index": "shop-ro", "documents": [{"a": 1}]}}]"#,
            None,
            "V2__bad.json",
            "$[1].index_documents.index: alias \"shop-ro\" has no write index: its only index \
             \"shop-r\" has `is_write_index: false`",
        ),
        (
            r#"[{"create_index": {"index": "shop-w1", "aliases": {"shop-w": {"is_write_index": true}}}},
                {"create_index": {"index": "shop-w2", "aliases": {"shop-w": {}}}},
                {"put_alias": {"index": "shop-w2", "alias": "shop-w", "is_write_index": true}}]"#,
            None,
            "V2__bad.json",
            "$[2].put_alias.is_write_index: alias \"shop-w\" already has write index \"shop-w1\"",
        ),
        (
            r#"[{"request": {"method": "DELETE", "path": "/schema_migrations"}}]"#,
            None,
            "V2__bad.json",
            "$[0].request.path: \"schema_migrations\" is strata's own history",
        ),
        (
            r#"[{"put_index_template": {"name": "shop", "index_patterns": ["shop-*", "shop?"]}}]"#,
            None,
            "V2__bad.json",
            "$[0].put_index_template.index_patterns[1]: pattern \"shop?\": must not contain '?'",
        ),
        (
            r#"[{"put_pipeline": {"id": "p", "processors": [], "on_failure": []}}]"#,
            None,
            "V2__bad.json",
            "$[0].put_pipeline.on_failure: is empty",
        ),
    ];
    // A script on a node that cannot run it (Elasticsearch's integ-test
    // distribution has neither the reindex nor the Painless module); a node
    // with both runs it (tests/search_modules.rs).
    let modules = es.modules().await;
    let scripts_run = ["reindex", "lang-painless"]
        .iter()
        .all(|m| modules.iter().any(|n| n == m));
    let script_case: (&str, Option<&str>, &str, &str) = (
        r#"[{"update_by_query": {"index": "shop-v1", "script": {"source": "ctx._source.a = 1"}}}]"#,
        None,
        "V2__bad.json",
        "$[0].update_by_query.script: a script needs the reindex module",
    );
    let script_case = (!scripts_run).then_some(&script_case);
    // Data streams on a cluster without them (the test distribution answers
    // `GET /_data_stream` as a request for an index of that name).
    let has_streams = es.call(Method::Get, "/_data_stream", None).await.0 == 200;
    let stream_case: (&str, Option<&str>, &str, &str) = (
        r#"[{"put_index_template": {"name": "logs", "index_patterns": ["logs-*"], "data_stream": {}}},
            {"create_data_stream": {"name": "logs-app"}}]"#,
        None,
        "V2__bad.json",
        "$[1].create_data_stream.name: this cluster has no data streams",
    );
    let stream_case = (!has_streams).then_some(&stream_case);
    for (text, data, names, expected) in cases.iter().chain(script_case).chain(stream_case) {
        let p = project();
        p.migration("V1__base.json", base)
            .migration("V2__bad.json", text);
        if let Some(data) = data {
            std::fs::write(p.path().join("migrations/bad.ndjson"), data).unwrap();
        }
        let run = migrate(&p, &["up"]);
        run.expect(2);
        assert!(run.stderr.contains(names), "{names}\n{}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
        assert!(!es.exists("shop-v1").await, "{text}");
        assert!(!es.exists("schema_migrations").await);
    }
    // Each check says what the server says: the server, holding these
    // indices, refuses each request with that reason.
    for (index, body) in [
        ("shop-a", json!({"aliases": {"shops": {}}})),
        ("shop-b", json!({"aliases": {"shops": {}}})),
        (
            "shop-r",
            json!({"aliases": {"shop-ro": {"is_write_index": false}}}),
        ),
        (
            "shop-w1",
            json!({"aliases": {"shop-w": {"is_write_index": true}}}),
        ),
        ("shop-w2", json!({"aliases": {"shop-w": {}}})),
    ] {
        es.ok(Method::Put, &format!("/{index}"), Some(body)).await;
    }
    for (path, body, reason) in [
        (
            "/shops/_doc/1",
            json!({"a": 1}),
            "no write index is defined for alias [shops]",
        ),
        (
            "/shop-ro/_doc/1",
            json!({"a": 1}),
            "no write index is defined for alias [shop-ro]",
        ),
        (
            "/shop-w2/_alias/shop-w",
            json!({"is_write_index": true}),
            "alias [shop-w] has more than one write index",
        ),
        (
            "/_index_template/shop",
            json!({"index_patterns": ["shop-*", "shop?"]}),
            "index_pattern [shop?] must not contain the following characters",
        ),
        (
            "/_ingest/pipeline/p",
            json!({"processors": [{"no_such_processor": {"field": "a"}}]}),
            "No processor type exists with name [no_such_processor]",
        ),
    ] {
        server_refuses(&es, Method::Put, path, Some(body), reason).await;
    }
}

#[tokio::test]
async fn pipelines_and_components_in_use_are_not_deleted() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration(
        "V1__base.json",
        r#"[{"put_pipeline": {"id": "stamp", "processors": []}},
            {"put_component_template": {"name": "parts", "template": {}}},
            {"put_index_template": {"name": "inv", "index_patterns": ["inv-*"], "composed_of": ["parts"]}},
            {"create_index": {"index": "inv-v1", "settings": {"default_pipeline": "stamp"}}}]"#,
    );
    migrate(&p, &["up"]).expect(0);
    // Whether this server refuses to delete a pipeline an index uses
    // (Elasticsearch does, OpenSearch does not), asked on
    // objects of the test's own: strata's check must say the same.
    es.ok(
        Method::Put,
        "/_ingest/pipeline/probe",
        Some(json!({"processors": []})),
    )
    .await;
    es.ok(
        Method::Put,
        "/probe-v1",
        Some(json!({"settings": {"index.default_pipeline": "probe"}})),
    )
    .await;
    let (status, body) = es
        .call(Method::Delete, "/_ingest/pipeline/probe", None)
        .await;
    assert!(status == 200 || status == 400, "{body}");
    let server_keeps_pipelines_in_use = status == 400;
    es.ok(Method::Delete, "/probe-v1", None).await;
    let pipeline_case = (
        r#"[{"delete_pipeline": {"id": "stamp"}}]"#,
        "$[0].delete_pipeline.id: pipeline \"stamp\" is the default or final pipeline of \
         index(es) inv-v1",
    );
    if !server_keeps_pipelines_in_use {
        p.migration("V2__drop.json", pipeline_case.0);
        migrate(&p, &["plan"]).expect(0);
    }
    let component_case = (
        r#"[{"delete_component_template": {"name": "parts"}}]"#,
        "$[0].delete_component_template.name: component template \"parts\" is used by index \
         template(s) inv",
    );
    let cases = [
        Some(component_case),
        server_keeps_pipelines_in_use.then_some(pipeline_case),
    ];
    for (text, expected) in cases.into_iter().flatten() {
        p.migration("V2__drop.json", text);
        let run = migrate(&p, &["up"]);
        run.expect(2);
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    assert_eq!(es.history().await, [(1, true)]);
    // What the server says to the component template.
    let (status, body) = es
        .call(Method::Delete, "/_component_template/parts", None)
        .await;
    assert_eq!(status, 400, "{body}");
    // Changing the index's pipeline first makes the deletion fine.
    p.migration(
        "V2__drop.json",
        r#"[{"put_settings": {"index": "inv-v1", "settings": {"index.default_pipeline": "_none"}}},
            {"delete_pipeline": {"id": "stamp"}}]"#,
    );
    migrate(&p, &["up"]).expect(0);
    assert!(!found(&es, "/_ingest/pipeline/stamp").await);
}

#[tokio::test]
async fn every_refused_document_is_reported_with_its_position() {
    let (_turn, es) = fresh().await;
    let p = project();
    p.migration(
        "V1__counts.json",
        r#"[{"create_index": {"index": "counts", "mappings": {"properties": {"n": {"type": "long"}}}}}]"#,
    )
    .migration(
        "V2__seed.json",
        r#"[{"index_documents": {"index": "counts", "documents": [
              {"_id": "a", "n": 1}, {"_id": "b", "n": "many"}, {"_id": "c", "n": 3}, {"n": "lots"}]}}]"#,
    );
    let run = migrate(&p, &["up"]);
    run.expect(1);
    for part in [
        "V2__seed.json at $[0] (index_documents counts (4 documents))",
        "2 of 4 documents were refused",
        "documents[1] (_id \"b\"): ",
        "documents[3]: ",
    ] {
        assert!(run.stderr.contains(part), "{part}\n{}", run.stderr);
    }
    // The server's own exception type (Elasticsearch and OpenSearch name it
    // differently), passed on.
    assert!(
        ["document_parsing_exception", "mapper_parsing_exception"]
            .iter()
            .any(|e| run
                .stderr
                .contains(&format!("documents[1] (_id \"b\"): {e}"))
                && run.stderr.contains(&format!("documents[3]: {e}"))),
        "{}",
        run.stderr
    );
    // The accepted documents are in; the record says the version is unfinished.
    assert_eq!(es.count("counts").await, 2);
    assert_eq!(es.history().await, [(1, true), (2, false)]);

    // From a file, the position is the file's line.
    es.reset().await;
    let p = project();
    p.migration(
        "V1__counts.json",
        r#"[{"create_index": {"index": "counts2", "mappings": {"properties": {"n": {"type": "long"}}}}},
            {"index_documents": {"index": "counts2", "file": "data/counts.ndjson"}}]"#,
    );
    std::fs::create_dir_all(p.path().join("migrations/data")).unwrap();
    std::fs::write(
        p.path().join("migrations/data/counts.ndjson"),
        "{\"n\": 1}\n{\"_id\": \"x\", \"n\": \"no\"}\n",
    )
    .unwrap();
    let run = migrate(&p, &["up"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("1 of 2 documents were refused: data/counts.ndjson:2 (_id \"x\")"),
        "{}",
        run.stderr
    );
}

/// A policy in the shape of the server's own lifecycle API, keeping data
/// `days` days.
fn policy(opensearch: bool, days: u32) -> Value {
    if opensearch {
        json!({"description": format!("keep {days} days"), "default_state": "hot", "states": [
            {"name": "hot", "actions": [], "transitions": [
                {"state_name": "gone", "conditions": {"min_index_age": format!("{days}d")}}]},
            {"name": "gone", "actions": [{"delete": {}}], "transitions": []}]})
    } else {
        json!({"phases": {"hot": {"actions": {}},
                          "delete": {"min_age": format!("{days}d"), "actions": {"delete": {}}}}})
    }
}

#[tokio::test]
async fn lifecycle_policies_run_where_the_server_has_them_and_are_refused_where_not() {
    let (_turn, es) = fresh().await;
    let opensearch = es.is_opensearch().await;
    let name = "strata-test-logs";
    let put = |days| json!([{"put_lifecycle": {"name": name, "policy": policy(opensearch, days)}}]);
    let p = project();
    p.migration(
        "V1__index.json",
        &json!([{"create_index": {"index": "logs-1"}}]).to_string(),
    )
    .migration("V2__policy.json", &put(30).to_string());
    let Some(api) = es.lifecycle_api().await else {
        // Neither Elasticsearch's test distribution nor an OpenSearch node
        // without the index-management plugin has policies: the server
        // refuses the request, and strata refuses the file first.
        let (status, _) = es
            .call(
                Method::Put,
                &format!("/_ilm/policy/{name}"),
                Some(json!({"policy": policy(false, 30)})),
            )
            .await;
        assert!(!(200..300).contains(&status), "{status}");
        let missing = if opensearch { "lacks ISM" } else { "lacks ILM" };
        for command in ["plan", "up"] {
            let run = migrate(&p, &[command]);
            run.expect(2);
            assert!(
                run.stderr
                    .contains("V2__policy.json: $[0].put_lifecycle.name")
                    && run.stderr.contains(missing),
                "{}",
                run.stderr
            );
        }
        assert!(!es.exists("logs-1").await);
        assert_eq!(es.history().await, []);
        return;
    };
    // On a server with them: put, replace (ISM needs the sequence number),
    // refuse deleting one in use (ILM), roll back.
    migrate(&p, &["up"]).expect(0);
    let path = format!("{api}/{name}");
    let stored = |answer: Value| answer.to_string();
    assert!(stored(es.ok(Method::Get, &path, None).await).contains("30d"));
    p.migration(
        "U2__policy.json",
        &json!([{"delete_lifecycle": {"name": name}}]).to_string(),
    )
    .migration("V3__longer.json", &put(90).to_string());
    migrate(&p, &["up"]).expect(0);
    assert!(stored(es.ok(Method::Get, &path, None).await).contains("90d"));
    if !opensearch {
        es.ok(
            Method::Put,
            "/logs-1/_settings",
            Some(json!({"index.lifecycle.name": name})),
        )
        .await;
        p.migration(
            "V4__gone.json",
            &json!([{"delete_lifecycle": {"name": name}}]).to_string(),
        );
        let run = migrate(&p, &["up"]);
        run.expect(2);
        assert!(
            run.stderr.contains("V4__gone.json")
                && run.stderr.contains("in use by index(es) logs-1"),
            "{}",
            run.stderr
        );
        std::fs::remove_file(p.path().join("migrations/V4__gone.json")).unwrap();
        es.ok(
            Method::Put,
            "/logs-1/_settings",
            Some(json!({"index.lifecycle.name": null})),
        )
        .await;
    }
    p.migration("U3__longer.json", "[]");
    migrate(&p, &["down", "--to", "1"]).expect(0);
    assert_eq!(es.call(Method::Get, &path, None).await.0, 404);
}
