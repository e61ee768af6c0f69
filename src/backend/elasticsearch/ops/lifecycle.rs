//! Lifecycle policies: Elasticsearch's ILM (`/_ilm/policy`, the
//! `x-pack-ilm` module) and OpenSearch's ISM (`/_plugins/_ism/policies`,
//! the `opensearch-index-management` plugin). One pair of operations
//! serves both; the policy is the server's own JSON, so a folder is
//! written for one of them, and the pre-check holds it to that server's
//! shape.

use serde::Deserialize;
use serde_json::Value;

use super::super::distribution::Distribution;
use super::Object;

/// `put_lifecycle`: creates or replaces a policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutLifecycle {
    /// The policy's name (its id on OpenSearch).
    pub name: String,
    /// The policy itself, as the server takes it under `policy`: `phases`
    /// on Elasticsearch, `description`, `default_state` and `states` on
    /// OpenSearch.
    pub policy: Object,
}

/// `delete_lifecycle`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleOnly {
    /// The policy's name.
    pub name: String,
}

/// The path of policy `name` on this server (the name percent-encoded). Pure.
pub fn policy_path(distribution: Distribution, name: &str) -> String {
    let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    match distribution {
        Distribution::Elasticsearch => format!("/_ilm/policy/{name}"),
        Distribution::OpenSearch { .. } => format!("/_plugins/_ism/policies/{name}"),
    }
}

/// The path listing every policy (ISM pages its list: ask for all). Pure.
pub fn list_path(distribution: Distribution) -> &'static str {
    match distribution {
        Distribution::Elasticsearch => "/_ilm/policy",
        Distribution::OpenSearch { .. } => "/_plugins/_ism/policies?size=10000",
    }
}

/// The policy names of a listing answer (ILM: an object by name; ISM:
/// `policies[]._id`). Pure.
pub fn names(distribution: Distribution, answer: &Value) -> Vec<String> {
    match distribution {
        Distribution::Elasticsearch => answer
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        Distribution::OpenSearch { .. } => answer["policies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["_id"].as_str().map(str::to_string))
            .collect(),
    }
}

/// What the feature is called where it is missing, for messages.
pub fn feature(distribution: Distribution) -> &'static str {
    match distribution {
        Distribution::Elasticsearch => "ILM (the x-pack-ilm module, not in the test distribution)",
        Distribution::OpenSearch { .. } => "ISM (the opensearch-index-management plugin)",
    }
}

/// The fields ISM reads in a policy (any other is refused).
const ISM_FIELDS: [&str; 9] = [
    "policy_id",
    "description",
    "last_updated_time",
    "schema_version",
    "error_notification",
    "default_state",
    "states",
    "ism_template",
    "user",
];

/// The fields ILM reads in a policy (any other is refused).
const ILM_FIELDS: [&str; 3] = ["phases", "_meta", "deprecated"];

/// ILM's phases, in the order it runs them.
const PHASES: [&str; 5] = ["hot", "warm", "cold", "frozen", "delete"];

/// Whether `policy` has the shape this server requires: the JSON path
/// under the operation and why not, when not. Pure: what only the server
/// can judge (an unknown action, a bad age) is left to it.
pub fn check_shape(distribution: Distribution, policy: &Object) -> Result<(), (String, String)> {
    let refuse = |path: &str, why: String| Err((format!(".policy{path}"), why));
    match distribution {
        Distribution::Elasticsearch => {
            if let Some(field) = policy.keys().find(|k| !ILM_FIELDS.contains(&k.as_str())) {
                return refuse(
                    &format!(".{field}"),
                    format!(
                        "ILM policies have no field {field:?} (they have: {}){}",
                        ILM_FIELDS.join(", "),
                        if ISM_FIELDS.contains(&field.as_str()) {
                            "; it is OpenSearch's ISM, and this is an Elasticsearch cluster"
                        } else {
                            ""
                        }
                    ),
                );
            }
            let Some(phases) = policy.get("phases").and_then(Value::as_object) else {
                return refuse(
                    "",
                    "an ILM policy needs a `phases` object (this is an Elasticsearch cluster; \
                     `states` is OpenSearch's ISM)"
                        .into(),
                );
            };
            for phase in phases.keys() {
                if !PHASES.contains(&phase.as_str()) {
                    return refuse(
                        &format!(".phases.{phase}"),
                        format!(
                            "{phase:?} is not an ILM phase (one of: {})",
                            PHASES.join(", ")
                        ),
                    );
                }
            }
            Ok(())
        }
        Distribution::OpenSearch { .. } => {
            if let Some(field) = policy.keys().find(|k| !ISM_FIELDS.contains(&k.as_str())) {
                return refuse(
                    &format!(".{field}"),
                    format!(
                        "ISM policies have no field {field:?} (they have: {}){}",
                        ISM_FIELDS.join(", "),
                        if field == "phases" {
                            "; `phases` is Elasticsearch's ILM, and this is an OpenSearch cluster"
                        } else {
                            ""
                        }
                    ),
                );
            }
            if !policy.get("description").is_some_and(Value::is_string) {
                return refuse(
                    ".description",
                    "an ISM policy needs a `description` string".into(),
                );
            }
            let states: Vec<&str> = match policy.get("states").and_then(Value::as_array) {
                Some(states) if !states.is_empty() => {
                    let mut names = Vec::new();
                    for (i, state) in states.iter().enumerate() {
                        match state.get("name").and_then(Value::as_str) {
                            Some(name) if names.contains(&name) => {
                                return refuse(
                                    &format!(".states[{i}].name"),
                                    format!("state {name:?} is named twice"),
                                );
                            }
                            Some(name) => names.push(name),
                            None => {
                                return refuse(
                                    &format!(".states[{i}].name"),
                                    "every ISM state needs a `name`".into(),
                                );
                            }
                        }
                    }
                    names
                }
                _ => {
                    return refuse(
                        ".states",
                        "an ISM policy needs a non-empty `states` list (this is an OpenSearch \
                         cluster; `phases` is Elasticsearch's ILM)"
                            .into(),
                    );
                }
            };
            for (i, state) in policy["states"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let transitions = state.get("transitions").and_then(Value::as_array);
                for (j, t) in transitions.into_iter().flatten().enumerate() {
                    let to = t.get("state_name").and_then(Value::as_str).unwrap_or("");
                    if !states.contains(&to) {
                        return refuse(
                            &format!(".states[{i}].transitions[{j}].state_name"),
                            format!(
                                "transition to {to:?}, which is not one of the policy's states"
                            ),
                        );
                    }
                }
            }
            match policy.get("default_state").and_then(Value::as_str) {
                Some(d) if states.contains(&d) => Ok(()),
                Some(d) => refuse(
                    ".default_state",
                    format!(
                        "default state {d:?} is not one of the policy's states ({})",
                        states.join(", ")
                    ),
                ),
                None => refuse(
                    ".default_state",
                    "an ISM policy needs a `default_state` naming one of its states".into(),
                ),
            }
        }
    }
}

/// The policy an index's settings attach it to (`index.lifecycle.name`,
/// Elasticsearch's): `Some(None)` when the settings clear it, `None` when
/// they do not mention it. Pure.
pub fn setting(settings: &Object) -> Option<Option<String>> {
    super::flatten(settings)
        .into_iter()
        .find(|(key, _)| key.strip_prefix("index.").unwrap_or(key) == "lifecycle.name")
        .map(|(_, value)| value.as_str().filter(|n| !n.is_empty()).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Object {
        v.as_object().unwrap().clone()
    }

    const OS: Distribution = Distribution::OpenSearch { major: 2 };

    #[test]
    fn lifecycle_operations_are_parsed_and_addressed_per_server() {
        let ops = parse(
            r#"[{"put_lifecycle": {"name": "logs-30d", "policy": {"phases": {}}}},
                {"delete_lifecycle": {"name": "logs-30d"}}]"#,
        )
        .unwrap();
        assert_eq!(ops[0].describe(), "put_lifecycle logs-30d");
        assert_eq!(ops[1].describe(), "delete_lifecycle logs-30d");
        assert_eq!(ops[0].simple_request(), None);
        assert_eq!(
            policy_path(Distribution::Elasticsearch, "logs-30d"),
            "/_ilm/policy/logs-30d"
        );
        assert_eq!(policy_path(OS, "a"), "/_plugins/_ism/policies/a");
        for bad in ["", "_x", "a b", "a,b"] {
            let file = format!(r#"[{{"put_lifecycle": {{"name": "{bad}", "policy": {{}}}}}}]"#);
            let err = parse(&file).unwrap_err();
            assert!(err.to_string().contains("$[0].put_lifecycle.name"), "{err}");
        }
        let err = parse(r#"[{"put_lifecycle": {"name": "a", "phases": {}}}]"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `phases`"), "{err}");
    }

    #[test]
    fn listings_are_read_per_server() {
        let ilm = json!({"a": {"version": 1, "policy": {}}, "b": {}});
        assert_eq!(names(Distribution::Elasticsearch, &ilm), ["a", "b"]);
        let ism = json!({"policies": [{"_id": "x", "_seq_no": 0}], "total_policies": 1});
        assert_eq!(names(OS, &ism), ["x"]);
    }

    #[test]
    fn each_server_gets_its_own_shape() {
        let es = Distribution::Elasticsearch;
        let ilm = object(json!({"phases": {"hot": {"actions": {}}, "delete": {}}}));
        assert_eq!(check_shape(es, &ilm), Ok(()));
        let (path, why) = check_shape(OS, &ilm).unwrap_err();
        assert_eq!(path, ".policy.phases");
        assert!(why.contains("Elasticsearch's ILM"), "{why}");
        let bad = object(json!({"phases": {"lukewarm": {}}}));
        assert_eq!(
            check_shape(es, &bad).unwrap_err().0,
            ".policy.phases.lukewarm"
        );
        let ism = object(json!({"description": "d", "default_state": "hot",
                                "states": [{"name": "hot", "actions": []}]}));
        assert_eq!(check_shape(OS, &ism), Ok(()));
        let (path, why) = check_shape(es, &ism).unwrap_err();
        assert_eq!(path, ".policy.default_state");
        assert!(why.contains("OpenSearch's ISM"), "{why}");
        let bare = object(json!({"_meta": {}}));
        assert_eq!(check_shape(es, &bare).unwrap_err().0, ".policy");
        let mut wrong = ism.clone();
        wrong.insert("default_state".into(), json!("cold"));
        let (path, why) = check_shape(OS, &wrong).unwrap_err();
        assert_eq!(path, ".policy.default_state");
        assert!(why.contains("(hot)"), "{why}");
        let twice = object(json!({"description": "d", "default_state": "hot",
                                  "states": [{"name": "hot"}, {"name": "hot"}]}));
        assert_eq!(
            check_shape(OS, &twice).unwrap_err().0,
            ".policy.states[1].name"
        );
        let nowhere = object(json!({"description": "d", "default_state": "hot",
            "states": [{"name": "hot", "transitions": [{"state_name": "cold"}]}]}));
        assert_eq!(
            check_shape(OS, &nowhere).unwrap_err().0,
            ".policy.states[0].transitions[0].state_name"
        );
        let mut extra = ism.clone();
        extra.insert("phases".into(), json!({}));
        assert_eq!(check_shape(OS, &extra).unwrap_err().0, ".policy.phases");
    }

    #[test]
    fn the_lifecycle_setting_is_found_however_nested() {
        let nested = object(json!({"index": {"lifecycle": {"name": "p"}}}));
        assert_eq!(setting(&nested), Some(Some("p".into())));
        let flat = object(json!({"index.lifecycle.name": null}));
        assert_eq!(setting(&flat), Some(None));
        assert_eq!(setting(&object(json!({"number_of_shards": 1}))), None);
    }
}
