//! Data streams: an append-only name over generated backing indices,
//! created from an index template that has `data_stream` (OpenSearch core,
//! Elasticsearch's data-streams module). Documents written to one need a
//! timestamp field and go in with `_bulk` `create` actions.

use serde::Deserialize;

/// `create_data_stream` and `delete_data_stream`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataStreamOnly {
    /// The data stream's name.
    pub name: String,
}

/// The timestamp field a template's `data_stream` object names
/// (OpenSearch's `timestamp_field.name`), `@timestamp` when it names none.
/// Pure.
pub fn timestamp_field(data_stream: &serde_json::Value) -> String {
    data_stream
        .pointer("/timestamp_field/name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("@timestamp")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::timestamp_field;
    use serde_json::json;

    #[test]
    fn data_stream_operations_are_parsed_described_and_sent() {
        let ops = parse(
            r#"[{"put_index_template": {"name": "logs", "index_patterns": ["logs-*"],
                 "data_stream": {"timestamp_field": {"name": "ts"}}}},
                {"create_data_stream": {"name": "logs-app"}},
                {"delete_data_stream": {"name": "logs-app"}}]"#,
        )
        .unwrap();
        assert_eq!(ops[1].describe(), "create_data_stream logs-app");
        assert_eq!(ops[2].describe(), "delete_data_stream logs-app");
        let (_, path, body) = ops[0].simple_request().unwrap();
        assert_eq!(path, "/_index_template/logs");
        assert_eq!(
            body.unwrap()["data_stream"],
            json!({"timestamp_field": {"name": "ts"}})
        );
        let (method, path, _) = ops[1].simple_request().unwrap();
        assert_eq!(
            (method.as_str(), path.as_str()),
            ("PUT", "/_data_stream/logs-app")
        );
        let (method, _, _) = ops[2].simple_request().unwrap();
        assert_eq!(method.as_str(), "DELETE");
        assert_eq!(timestamp_field(&json!({})), "@timestamp");
        assert!(
            parse(r#"[{"create_data_stream": {"name": "Logs"}}]"#)
                .unwrap_err()
                .to_string()
                .contains("$[0].create_data_stream.name")
        );
    }
}
