//! The cluster model's rules, one test per rule.

use super::super::ops::parse;
use super::*;
use serde_json::json;

fn live() -> Cluster {
    Cluster::from_responses(
        &json!({
            "messages_v1": {"mappings": {"properties": {
                "user_id": {"type": "keyword"},
                "body": {"type": "text"},
                "meta": {"properties": {"lang": {"type": "keyword"}}}
            }}},
            "other": {"mappings": {}}
        }),
        &json!({
            "messages_v1": {"aliases": {"messages": {}}},
            "other": {"aliases": {}}
        }),
        BTreeMap::from([(
            "logs".to_string(),
            Template {
                patterns: vec!["logs-*".into()],
                ..Template::default()
            },
        )]),
    )
}

fn run(text: &str) -> Result<Cluster, String> {
    run_on(live(), text)
}

#[test]
fn reads_fields_and_aliases() {
    let c = live();
    assert_eq!(c.indices["messages_v1"].fields["meta.lang"], "keyword");
    assert_eq!(c.indices["messages_v1"].fields["meta"], "object");
    assert_eq!(c.alias_targets("messages"), ["messages_v1"]);
}

#[test]
fn a_type_change_through_an_alias_is_refused_with_reindex_advice() {
    let e = run(
        r#"[{"put_mapping": {"index": "messages", "properties": {"user_id": {"type": "text"}}}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("$[0].put_mapping.properties.user_id: field \"user_id\" is keyword"),
        "{e}"
    );
    assert!(e.contains("use reindex"), "{e}");
    let e = run(r#"[{"put_mapping": {"index": "messages_v1", "properties": {"meta": {"properties": {"lang": {"type": "text"}}}}}}]"#)
        .unwrap_err();
    assert!(e.contains("properties.meta.lang"), "{e}");
}

#[test]
fn adding_fields_and_same_type_are_accepted() {
    let c = run(r#"[{"put_mapping": {"index": "messages", "properties": {"user_id": {"type": "keyword", "ignore_above": 64}, "lang": {"type": "keyword"}}}}]"#)
        .unwrap();
    assert_eq!(c.indices["messages_v1"].fields["lang"], "keyword");
}

#[test]
fn later_operations_see_earlier_ones() {
    // The type of a field added earlier in the run cannot change later either.
    let e = run(
        r#"[{"create_index": {"index": "n", "mappings": {"properties": {"a": {"type": "long"}}}}},
            {"put_mapping": {"index": "n", "properties": {"a": {"type": "keyword"}}}}]"#,
    )
    .unwrap_err();
    assert!(e.starts_with("$[1].put_mapping.properties.a"), "{e}");
    run(r#"[{"create_index": {"index": "n"}}, {"put_alias": {"index": "n", "alias": "nn"}}, {"switch_alias": {"alias": "messages", "to": "n"}}]"#)
        .unwrap();
}

#[test]
fn missing_things_are_refused() {
    let e = run(r#"[{"switch_alias": {"alias": "messages", "to": "messages_v2"}}]"#).unwrap_err();
    assert_eq!(
        e,
        "$[0].switch_alias.to: cannot switch alias \"messages\" to it: index \"messages_v2\" does not exist"
    );
    let e = run(r#"[{"put_settings": {"index": "nope", "settings": {"refresh_interval": "1s"}}}]"#)
        .unwrap_err();
    assert_eq!(
        e,
        "$[0].put_settings.index: index or alias \"nope\" does not exist"
    );
    let e = run(r#"[{"delete_index": {"index": "messages"}}]"#).unwrap_err();
    assert!(e.contains("is an alias"), "{e}");
    let e = run(r#"[{"delete_index_template": {"name": "nope"}}]"#).unwrap_err();
    assert!(e.contains("does not exist"), "{e}");
    let e = run(r#"[{"delete_alias": {"index": "other", "alias": "messages"}}]"#).unwrap_err();
    assert!(e.contains("has no alias"), "{e}");
    let e = run(r#"[{"create_index": {"index": "messages"}}]"#).unwrap_err();
    assert!(e.contains("already an alias"), "{e}");
}

#[test]
fn reindex_moves_the_alias_and_may_drop_the_source() {
    let c =
        run(r#"[{"reindex": {"alias": "messages", "to": "messages_v2", "delete_source": true}}]"#)
            .unwrap();
    assert_eq!(c.alias_targets("messages"), ["messages_v2"]);
    assert!(!c.indices.contains_key("messages_v1"));
    let e = run(r#"[{"reindex": {"alias": "nothing", "to": "x"}}]"#).unwrap_err();
    assert!(e.contains("points at no index"), "{e}");
    let e = run(r#"[{"reindex": {"alias": "messages", "to": "other"}}]"#).unwrap_err();
    assert!(e.contains("already exists"), "{e}");
}

fn ingest_live() -> Cluster {
    let mut c = live().with_settings(&json!({
        "messages_v1": {"settings": {"index.default_pipeline": "stamp"}},
        "other": {"settings": {}}
    }));
    c.components = BTreeSet::from(["base".to_string()]);
    c.templates.insert(
        "logs".into(),
        Template {
            patterns: vec!["logs-*".into()],
            priority: 0,
            composed_of: vec!["base".into()],
            data_stream: None,
        },
    );
    c.pipelines = BTreeSet::from(["stamp".to_string()]);
    c.processors = Some(BTreeSet::from(["set".to_string(), "rename".to_string()]));
    c
}

fn run_on(mut c: Cluster, text: &str) -> Result<Cluster, String> {
    crate::operations::apply_all(&mut c, &parse(text).unwrap())?;
    Ok(c)
}

#[test]
fn composed_templates_need_their_components_first() {
    let e = run_on(
        ingest_live(),
        r#"[{"put_index_template": {"name": "t", "index_patterns": ["t-*"], "composed_of": ["base", "extra"]}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with(
            "$[0].put_index_template.composed_of[1]: component template \"extra\" does not exist"
        ),
        "{e}"
    );
    // Created earlier in the same run, or allowed to be missing: fine.
    run_on(
        ingest_live(),
        r#"[{"put_component_template": {"name": "extra", "template": {}}},
            {"put_index_template": {"name": "t", "index_patterns": ["t-*"], "composed_of": ["base", "extra"]}}]"#,
    )
    .unwrap();
    run_on(
        ingest_live(),
        r#"[{"put_index_template": {"name": "t", "index_patterns": ["t-*"], "composed_of": ["gone"], "ignore_missing_component_templates": ["gone"]}}]"#,
    )
    .unwrap();
}

#[test]
fn a_component_in_use_cannot_be_deleted() {
    let e = run_on(
        ingest_live(),
        r#"[{"delete_component_template": {"name": "base"}}]"#,
    )
    .unwrap_err();
    assert!(e.contains("used by index template(s) logs"), "{e}");
    run_on(
        ingest_live(),
        r#"[{"delete_index_template": {"name": "logs"}}, {"delete_component_template": {"name": "base"}}]"#,
    )
    .unwrap();
    let e = run_on(
        ingest_live(),
        r#"[{"delete_component_template": {"name": "nope"}}]"#,
    )
    .unwrap_err();
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn pipelines_are_checked_against_processors_and_users() {
    let e = run_on(
        ingest_live(),
        r#"[{"put_pipeline": {"id": "p", "processors": [{"set": {"field": "a", "value": 1}}, {"lowercase": {"field": "b"}}]}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("$[0].put_pipeline.processors[1].lowercase: processor type \"lowercase\" is not available"),
        "{e}"
    );
    let e = run_on(ingest_live(), r#"[{"delete_pipeline": {"id": "stamp"}}]"#).unwrap_err();
    assert!(
        e.contains("default or final pipeline of index(es) messages_v1"),
        "{e}"
    );
    run_on(
        ingest_live(),
        r#"[{"put_settings": {"index": "messages", "settings": {"index": {"default_pipeline": "_none"}}}},
            {"delete_pipeline": {"id": "stamp"}}]"#,
    )
    .unwrap();
    let e = run_on(ingest_live(), r#"[{"delete_pipeline": {"id": "nope"}}]"#).unwrap_err();
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn scripts_need_the_reindex_and_language_modules_and_pipelines_must_exist() {
    let with = |modules: &[&str]| {
        let mut c = ingest_live();
        c.modules = Some(modules.iter().map(|m| m.to_string()).collect());
        c
    };
    let reindex = r#"[{"reindex": {"alias": "messages", "to": "messages_v2",
                        "script": {"source": "ctx._source.x = 1"}}}]"#;
    let e = run_on(with(&["lang-painless"]), reindex).unwrap_err();
    assert!(
        e.starts_with("$[0].reindex.script: a script needs the reindex module"),
        "{e}"
    );
    run_on(with(&["reindex", "lang-painless"]), reindex).unwrap();
    let e = run_on(
        with(&["reindex", "lang-painless"]),
        r#"[{"update_by_query": {"index": "messages",
              "script": {"source": "1", "lang": "expression"}}}]"#,
    )
    .unwrap_err();
    assert!(e.contains("needs the lang-expression module"), "{e}");
    // Unknown modules leave scripts to the server.
    run_on(ingest_live(), reindex).unwrap();
    let e = run_on(
        ingest_live(),
        r#"[{"reindex": {"alias": "messages", "to": "messages_v2", "pipeline": "later"}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("$[0].reindex.pipeline: pipeline \"later\" does not exist"),
        "{e}"
    );
    run_on(
        ingest_live(),
        r#"[{"put_pipeline": {"id": "later", "processors": []}},
            {"update_by_query": {"index": "messages", "pipeline": "later"}}]"#,
    )
    .unwrap();
}

#[test]
fn writes_through_an_alias_of_several_indices_need_a_write_index() {
    let two = r#"[{"create_index": {"index": "a1", "aliases": {"both": {}}}},
                  {"create_index": {"index": "a2", "aliases": {"both": {}}}},
                  {"index_documents": {"index": "both", "documents": [{"x": 1}]}}]"#;
    let e = run_on(ingest_live(), two).unwrap_err();
    assert!(
        e.starts_with(
            "$[2].index_documents.index: alias \"both\" has no write index: it points at several indices (a1, a2)"
        ),
        "{e}"
    );
    run_on(
        ingest_live(),
        r#"[{"create_index": {"index": "a1", "aliases": {"both": {"is_write_index": true}}}},
            {"create_index": {"index": "a2", "aliases": {"both": {}}}},
            {"index_documents": {"index": "both", "documents": [{"x": 1}]}},
            {"put_alias": {"index": "a1", "alias": "both", "is_write_index": false}},
            {"put_alias": {"index": "a2", "alias": "both", "is_write_index": true}},
            {"index_documents": {"index": "both", "documents": [{"x": 2}]}}]"#,
    )
    .unwrap();
    // A second write index is refused, by put_alias or create_index.
    let e = run_on(
        ingest_live(),
        r#"[{"create_index": {"index": "a1", "aliases": {"both": {"is_write_index": true}}}},
            {"create_index": {"index": "a2", "aliases": {"both": {}}}},
            {"put_alias": {"index": "a2", "alias": "both", "is_write_index": true}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with(
            "$[2].put_alias.is_write_index: alias \"both\" already has write index \"a1\""
        ),
        "{e}"
    );
    let e = run_on(
        ingest_live(),
        r#"[{"create_index": {"index": "a1", "aliases": {"both": {"is_write_index": true}}}},
            {"create_index": {"index": "a2", "aliases": {"both": {"is_write_index": true}}}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("$[1].create_index.aliases.both: alias \"both\" already has write index"),
        "{e}"
    );
    // One index whose alias is marked `is_write_index: false` takes no
    // writes through it either.
    let e = run_on(
        ingest_live(),
        r#"[{"create_index": {"index": "a1", "aliases": {"ro": {"is_write_index": false}}}},
            {"index_documents": {"index": "ro", "documents": [{"x": 1}]}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with(
            "$[1].index_documents.index: alias \"ro\" has no write index: its only index \"a1\" has `is_write_index: false`"
        ),
        "{e}"
    );
    // The live model reads the flag from GET /_alias (the answer of a real
    // Elasticsearch 8.19, both values).
    let c = Cluster::from_responses(
        &json!({"b1": {"mappings": {}}, "b2": {"mappings": {}}, "r1": {"mappings": {}}}),
        &json!({"b1": {"aliases": {"b": {"is_write_index": true}}}, "b2": {"aliases": {"b": {}}},
                "r1": {"aliases": {"r": {"is_write_index": false}}}}),
        BTreeMap::new(),
    );
    run_on(
        c.clone(),
        r#"[{"index_documents": {"index": "b", "documents": [{"x": 1}]}}]"#,
    )
    .unwrap();
    let e = run_on(
        c.clone(),
        r#"[{"index_documents": {"index": "r", "documents": [{"x": 1}]}}]"#,
    )
    .unwrap_err();
    assert!(
        e.contains("its only index \"r1\" has `is_write_index: false`"),
        "{e}"
    );
    let e = run_on(
        c,
        r#"[{"put_alias": {"index": "b2", "alias": "b", "is_write_index": true}}]"#,
    )
    .unwrap_err();
    assert!(e.contains("already has write index \"b1\""), "{e}");
}

#[test]
fn documents_need_their_index_and_its_pipelines() {
    let e = run_on(
        ingest_live(),
        r#"[{"index_documents": {"index": "nowhere", "documents": [{"a": 1}]}}]"#,
    )
    .unwrap_err();
    assert!(e.contains("create it first"), "{e}");
    let e = run_on(
        ingest_live(),
        r#"[{"create_index": {"index": "n", "settings": {"default_pipeline": "later"}}},
            {"index_documents": {"index": "n", "documents": [{"a": 1}]}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("$[1].index_documents.index: index \"n\" has default_pipeline \"later\", which does not exist"),
        "{e}"
    );
    run_on(
        ingest_live(),
        r#"[{"put_pipeline": {"id": "later", "processors": []}},
            {"create_index": {"index": "n", "settings": {"default_pipeline": "later"}}},
            {"index_documents": {"index": "n", "documents": [{"a": 1}]}},
            {"update_by_query": {"index": "n"}},
            {"delete_documents": {"index": "n", "ids": ["1"]}},
            {"delete_by_query": {"index": "messages", "query": {"match_all": {}}}},
            {"request": {"method": "PUT", "path": "/_cluster/settings", "body": {}}}]"#,
    )
    .unwrap();
}

#[test]
fn templates_are_read_from_the_servers_answer() {
    // A real Elasticsearch 8.19 answer: `priority` is absent when not set.
    let answer = json!({"index_templates": [
        {"name": "t4", "index_template": {"index_patterns": ["metrics"], "composed_of": [], "priority": 0}},
        {"name": "t1", "index_template": {"index_patterns": ["logs-*", "other"], "composed_of": ["base"]}}
    ]});
    let t = Template::from_response(&answer);
    assert_eq!(t["t1"].patterns, ["logs-*", "other"]);
    assert_eq!(t["t1"].priority, 0);
    assert_eq!(t["t1"].composed_of, ["base"]);
    assert_eq!(t["t4"].patterns, ["metrics"]);
    assert!(Template::from_response(&Value::Null).is_empty());
}

#[test]
fn templates_of_equal_priority_must_not_overlap() {
    let e = run_on(
        ingest_live(),
        r#"[{"put_index_template": {"name": "apps", "index_patterns": ["metrics-*", "logs-app-*"]}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with(
            "$[0].put_index_template.index_patterns[1]: pattern \"logs-app-*\" overlaps pattern \"logs-*\" of index template \"logs\", which has the same priority (0)"
        ),
        "{e}"
    );
    // Another priority, the same template replaced, or the other one gone
    // first: accepted, as the server accepts them.
    run_on(
        ingest_live(),
        r#"[{"put_index_template": {"name": "apps", "index_patterns": ["logs-app-*"], "priority": 5}}]"#,
    )
    .unwrap();
    run_on(
        ingest_live(),
        r#"[{"put_index_template": {"name": "logs", "index_patterns": ["logs-*", "logs-app-*"], "composed_of": ["base"]}}]"#,
    )
    .unwrap();
    run_on(
        ingest_live(),
        r#"[{"delete_index_template": {"name": "logs"}},
            {"put_index_template": {"name": "apps", "index_patterns": ["logs-app-*"]}}]"#,
    )
    .unwrap();
    // Two templates of one run collide with each other too.
    let e = run_on(
        ingest_live(),
        r#"[{"put_index_template": {"name": "a", "index_patterns": ["x-*"], "priority": 3}},
            {"put_index_template": {"name": "b", "index_patterns": ["*-y"], "priority": 3}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("$[1].put_index_template.index_patterns[0]"),
        "{e}"
    );
}

#[test]
fn data_streams_need_a_deciding_data_stream_template_and_keep_what_they_use() {
    let with_streams = || {
        let mut c = live();
        c.data_streams = Some(BTreeMap::new());
        c
    };
    let e = run_on(live(), r#"[{"create_data_stream": {"name": "logs-a"}}]"#).unwrap_err();
    assert!(e.contains("this cluster has no data streams"), "{e}");
    // `logs` matches but has no data_stream.
    let e = run_on(
        with_streams(),
        r#"[{"create_data_stream": {"name": "logs-a"}}]"#,
    )
    .unwrap_err();
    assert!(
        e.starts_with("$[0].create_data_stream.name: index template \"logs\", which decides"),
        "{e}"
    );
    let e = run_on(
        with_streams(),
        r#"[{"create_data_stream": {"name": "events"}}]"#,
    )
    .unwrap_err();
    assert!(e.contains("no index template matches \"events\""), "{e}");
    let ds = r#"{"put_index_template": {"name": "ds", "index_patterns": ["logs-*"],
                  "priority": 5, "data_stream": {}}}"#;
    let mut c = with_streams();
    for (i, op) in parse(&format!(
        r#"[{ds}, {{"create_data_stream": {{"name": "logs-a"}}}},
            {{"index_documents": {{"index": "logs-a",
               "documents": [{{"@timestamp": "2026-01-01T00:00:00Z", "n": 1}}]}}}},
            {{"update_by_query": {{"index": "logs-a"}}}}]"#
    ))
    .unwrap()
    .iter()
    .enumerate()
    {
        c.apply(op).unwrap_or_else(|e| panic!("{i}: {e:?}"));
    }
    for (op, expected) in [
        (
            r#"{"index_documents": {"index": "logs-a", "documents": [{"n": 1}]}}"#,
            "$[0].index_documents.documents[0]: has no \"@timestamp\"",
        ),
        (
            r#"{"create_index": {"index": "logs-b"}}"#,
            "$[0].create_index.index: index template \"ds\" makes \"logs-b\" a data stream",
        ),
        (
            r#"{"delete_index_template": {"name": "ds"}}"#,
            "$[0].delete_index_template.name: index template \"ds\" is in use by data stream(s) logs-a",
        ),
        (
            r#"{"create_data_stream": {"name": "logs-a"}}"#,
            "data stream \"logs-a\" already exists",
        ),
        (
            r#"{"delete_documents": {"index": "logs-a", "ids": ["1"]}}"#,
            "is a data stream: delete_documents cannot address its documents by id",
        ),
        (
            r#"{"delete_data_stream": {"name": "logs-z"}}"#,
            "data stream \"logs-z\" does not exist",
        ),
    ] {
        let e = run_on(c.clone(), &format!("[{op}]")).unwrap_err();
        assert!(
            e.starts_with(expected) || e.contains(expected),
            "{expected}\n{e}"
        );
    }
    // A live stream's backing index is not deleted by hand; deleting the
    // stream frees its template.
    c.data_streams
        .as_mut()
        .unwrap()
        .get_mut("logs-a")
        .unwrap()
        .backing = vec!["messages_v1".into()];
    let e = run_on(c.clone(), r#"[{"delete_index": {"index": "messages_v1"}}]"#).unwrap_err();
    assert!(e.contains("backs data stream \"logs-a\""), "{e}");
    run_on(
        c,
        r#"[{"delete_data_stream": {"name": "logs-a"}}, {"delete_index_template": {"name": "ds"}}]"#,
    )
    .unwrap();
}

#[test]
fn lifecycle_policies_need_the_feature_their_shape_and_no_users() {
    let ilm = r#"[{"put_lifecycle": {"name": "logs-30d", "policy": {"phases": {"delete": {"min_age": "30d", "actions": {"delete": {}}}}}}}]"#;
    let err = run(ilm).unwrap_err();
    assert!(err.contains("$[0].put_lifecycle.name"), "{err}");
    assert!(err.contains("lacks ILM (the x-pack-ilm module"), "{err}");

    let mut es = live();
    es.lifecycles = Some(BTreeSet::from(["old".to_string()]));
    let c = run_on(es.clone(), ilm).unwrap();
    assert!(c.lifecycles.as_ref().unwrap().contains("logs-30d"));
    // Attached by create_index, detached by put_settings: only then deletable.
    let attach = r#"[{"create_index": {"index": "logs-1", "settings": {"index.lifecycle.name": "old"}}},
                     {"delete_lifecycle": {"name": "old"}}]"#;
    let err = run_on(es.clone(), attach).unwrap_err();
    assert!(
        err.contains("$[1].delete_lifecycle.name") && err.contains("in use by index(es) logs-1"),
        "{err}"
    );
    let detach = r#"[{"create_index": {"index": "logs-1", "settings": {"index": {"lifecycle": {"name": "old"}}}}},
                     {"put_settings": {"index": "logs-1", "settings": {"index.lifecycle.name": null}}},
                     {"delete_lifecycle": {"name": "old"}},
                     {"delete_lifecycle": {"name": "old"}}]"#;
    let err = run_on(es.clone(), detach).unwrap_err();
    assert!(
        err.contains("$[3].delete_lifecycle.name") && err.contains("does not exist"),
        "{err}"
    );
    // A live index attached to it, read from the settings answer.
    let live_user =
        es.with_settings(&json!({"other": {"settings": {"index.lifecycle.name": "old"}}}));
    let err = run_on(live_user, r#"[{"delete_lifecycle": {"name": "old"}}]"#).unwrap_err();
    assert!(err.contains("in use by index(es) other"), "{err}");

    // OpenSearch: ISM's shape, and a policy in use may go.
    let mut os = live();
    os.distribution = Distribution::OpenSearch { major: 2 };
    let err = run_on(os.clone(), ilm).unwrap_err();
    assert!(err.contains("lacks ISM"), "{err}");
    os.lifecycles = Some(BTreeSet::new());
    let err = run_on(os.clone(), ilm).unwrap_err();
    assert!(
        err.contains("$[0].put_lifecycle.policy.phases") && err.contains("Elasticsearch's ILM"),
        "{err}"
    );
    let ism = r#"[{"put_lifecycle": {"name": "hot-delete", "policy": {"description": "d", "default_state": "hot",
                   "states": [{"name": "hot", "actions": [], "transitions": []}]}}},
                  {"create_index": {"index": "logs-1", "settings": {"index.lifecycle.name": "hot-delete"}}},
                  {"delete_lifecycle": {"name": "hot-delete"}}]"#;
    let c = run_on(os, ism).unwrap();
    assert!(c.lifecycles.unwrap().is_empty());
}
