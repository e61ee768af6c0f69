//! Component templates and ingest pipelines: the building blocks index
//! templates and indices refer to by name.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Object;

/// `put_component_template`; serialized, it is the request's body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PutComponentTemplate {
    /// The component template's name.
    #[serde(skip_serializing)]
    pub name: String,
    /// `settings`, `mappings` and `aliases` it contributes.
    pub template: Object,
    /// A version number for the template itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Free-form metadata.
    #[serde(rename = "_meta")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Object>,
}

/// `delete_component_template`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentOnly {
    /// The component template's name.
    pub name: String,
}

/// `put_pipeline`: an ingest pipeline; serialized, it is the request's body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PutPipeline {
    /// The pipeline's id.
    #[serde(skip_serializing)]
    pub id: String,
    /// Processors, each `{"<type>": {…}}`, run in order.
    pub processors: Vec<Value>,
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Processors run when one of `processors` fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Vec<Value>>,
    /// A version number for the pipeline itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Free-form metadata.
    #[serde(rename = "_meta")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Object>,
}

/// `delete_pipeline`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineOnly {
    /// The pipeline's id.
    pub id: String,
}

/// Every processor type a pipeline uses, with its JSON path under the
/// operation (`.processors[1].rename`), including the `on_failure` lists of
/// the pipeline and of each processor. Pure; the shape is checked first.
pub fn processor_types(o: &PutPipeline) -> Vec<(String, String)> {
    fn walk(prefix: &str, list: &[Value], out: &mut Vec<(String, String)>) {
        for (i, p) in list.iter().enumerate() {
            let Some((kind, config)) = p.as_object().and_then(|m| m.iter().next()) else {
                continue;
            };
            let path = format!("{prefix}[{i}].{kind}");
            if let Some(Value::Array(inner)) = config.get("on_failure") {
                walk(&format!("{path}.on_failure"), inner, out);
            }
            out.push((path, kind.clone()));
        }
    }
    let mut out = Vec::new();
    walk(".processors", &o.processors, &mut out);
    if let Some(f) = &o.on_failure {
        walk(".on_failure", f, &mut out);
    }
    out
}

fn processors_shape(path: &str, list: &[Value]) -> Result<(), (String, String)> {
    for (i, p) in list.iter().enumerate() {
        let ok = p
            .as_object()
            .is_some_and(|m| m.len() == 1 && m.values().all(Value::is_object));
        if !ok {
            return Err((
                format!("{path}[{i}]"),
                "a processor is an object with one key, its type: {\"set\": {\"field\": …}}".into(),
            ));
        }
    }
    Ok(())
}

/// Checks what serde cannot. Pure.
pub fn check_pipeline(o: &PutPipeline) -> Result<(), (String, String)> {
    pipeline_id(&o.id)?;
    processors_shape(".processors", &o.processors)?;
    if let Some(f) = &o.on_failure {
        // Elasticsearch: "cannot have an empty on_failure option defined".
        if f.is_empty() {
            return Err((
                ".on_failure".into(),
                "is empty; Elasticsearch refuses an empty on_failure (leave it out)".into(),
            ));
        }
        processors_shape(".on_failure", f)?;
    }
    Ok(())
}

/// A pipeline id: not empty, no spaces or characters that would change the
/// request's path. Pure.
pub fn pipeline_id(id: &str) -> Result<(), (String, String)> {
    if id.is_empty() || id.contains(['*', ',', ' ', '/', '\\', '?', '#']) {
        return Err((
            ".id".into(),
            format!(
                "pipeline id {id:?} must be non-empty, without '*', ',', '/', '?', '#' or spaces"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pipeline(v: Value) -> PutPipeline {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn processor_types_include_nested_failure_handlers() {
        let p = pipeline(json!({
            "id": "p",
            "processors": [
                {"set": {"field": "a", "value": 1}},
                {"rename": {"field": "b", "target_field": "c",
                            "on_failure": [{"lowercase": {"field": "d"}}]}}
            ],
            "on_failure": [{"set": {"field": "error", "value": "x"}}]
        }));
        check_pipeline(&p).unwrap();
        let types: Vec<(String, String)> = processor_types(&p);
        assert_eq!(
            types,
            [
                (".processors[0].set".to_string(), "set".to_string()),
                (
                    ".processors[1].rename.on_failure[0].lowercase".into(),
                    "lowercase".into()
                ),
                (".processors[1].rename".into(), "rename".into()),
                (".on_failure[0].set".into(), "set".into()),
            ]
        );
    }

    #[test]
    fn malformed_pipelines_are_refused() {
        let e = check_pipeline(&pipeline(json!({"id": "p", "processors": [{"set": 1}]})));
        assert_eq!(e.unwrap_err().0, ".processors[0]");
        let e = check_pipeline(&pipeline(
            json!({"id": "p", "processors": [{"set": {}, "rename": {}}]}),
        ));
        assert_eq!(e.unwrap_err().0, ".processors[0]");
        let e = check_pipeline(&pipeline(
            json!({"id": "p", "processors": [], "on_failure": []}),
        ));
        assert_eq!(e.unwrap_err().0, ".on_failure");
        let e = check_pipeline(&pipeline(json!({"id": "a b", "processors": []})));
        assert_eq!(e.unwrap_err().0, ".id");
    }
}
