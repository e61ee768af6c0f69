//! Operations on documents: seeding an index (`index_documents`), taking
//! seeds back out (`delete_documents`), and rewriting or deleting the
//! documents a query matches (`update_by_query`, `delete_by_query`).
//!
//! A document is a JSON object; `_id` may name it (a string, or an integer
//! written as one), and no other metadata field may appear in it, since
//! Elasticsearch refuses those inside a document.

use serde::Deserialize;
use serde_json::Value;

use super::Object;

/// `index_documents`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexDocuments {
    /// An index or an alias with a write index.
    pub index: String,
    /// The documents, inline.
    pub documents: Option<Vec<Value>>,
    /// An NDJSON file (one document per line) beside the migration file.
    pub file: Option<String>,
    /// Make the documents searchable before the next operation (default true).
    pub refresh: Option<bool>,
}

impl IndexDocuments {
    /// Whether the index is refreshed after the documents are written.
    pub fn refresh(&self) -> bool {
        self.refresh.unwrap_or(true)
    }
}

/// `delete_documents`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteDocuments {
    /// An index or an alias.
    pub index: String,
    /// The ids to delete (strings, or integers meaning the same string).
    pub ids: Vec<Value>,
}

/// What `update_by_query` does when a document changed while it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conflicts {
    /// Stop at the first conflict (Elasticsearch's default).
    Abort,
    /// Count conflicts and carry on.
    Proceed,
}

/// `update_by_query`: every matching document written again, so it picks
/// up mapping additions (a new multi-field) and the index's default
/// pipeline; changed on the way by a script or a pipeline when given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateByQuery {
    /// An index or an alias.
    pub index: String,
    /// Which documents; every one when absent.
    pub query: Option<Object>,
    /// `abort` (default) or `proceed`.
    pub conflicts: Option<Conflicts>,
    /// Changes each document (`ctx._source`); needs the server's `reindex`
    /// module and the script's language module.
    pub script: Option<super::Script>,
    /// The ingest pipeline each document goes through.
    pub pipeline: Option<String>,
}

/// `delete_by_query`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteByQuery {
    /// An index or an alias.
    pub index: String,
    /// Which documents (required: deleting everything is `delete_index`).
    pub query: Object,
}

/// One document ready for `_bulk`: its id when it names one, and its body
/// without `_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `_id`, as a string.
    pub id: Option<String>,
    /// The fields.
    pub source: Object,
}

/// Metadata fields Elasticsearch refuses inside a document body.
const METADATA: &[&str] = &[
    "_index",
    "_routing",
    "_source",
    "_type",
    "_version",
    "_seq_no",
    "_primary_term",
    "_ignored",
    "_field_names",
    "_doc_count",
    "_tier",
    "_nested_path",
    "_data_stream_timestamp",
];

/// A document id as Elasticsearch takes it: a non-empty string of at most
/// 512 bytes, or an integer (which means its decimal text). Pure.
pub fn id_text(value: &Value) -> Result<String, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        other => return Err(format!("an id must be a string or an integer, not {other}")),
    };
    if text.is_empty() {
        return Err("an id must not be empty".into());
    }
    if text.len() > 512 {
        return Err("an id must be at most 512 bytes".into());
    }
    Ok(text)
}

/// Reads one document: the JSON path under it and why, on failure. Pure.
pub fn document(value: &Value) -> Result<Document, (String, String)> {
    let Value::Object(fields) = value else {
        return Err((
            String::new(),
            format!("a document must be a JSON object, not {value}"),
        ));
    };
    let mut source = fields.clone();
    let id = match source.remove("_id") {
        Some(v) => Some(id_text(&v).map_err(|m| ("._id".to_string(), m))?),
        None => None,
    };
    if let Some(field) = source.keys().find(|k| METADATA.contains(&k.as_str())) {
        return Err((
            format!(".{field}"),
            format!(
                "{field} is a metadata field, which Elasticsearch refuses inside a document \
                 (only _id may name the document)"
            ),
        ));
    }
    Ok(Document { id, source })
}

/// Reads an NDJSON file of documents, one per line (blank lines skipped).
/// On failure: the 1-based line and why. Pure.
pub fn ndjson(text: &str) -> Result<Vec<(usize, Document)>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| (i + 1, e.to_string()))?;
        let doc = document(&value).map_err(|(path, m)| {
            let at = path.trim_start_matches('.');
            let at = if at.is_empty() {
                String::new()
            } else {
                format!("{at}: ")
            };
            (i + 1, format!("{at}{m}"))
        })?;
        out.push((i + 1, doc));
    }
    if out.is_empty() {
        return Err((1, "holds no document".into()));
    }
    Ok(out)
}

/// Checks what serde cannot. Pure.
pub fn check_index_documents(o: &IndexDocuments) -> Result<(), (String, String)> {
    match (&o.documents, &o.file) {
        (Some(_), Some(_)) => Err((
            ".file".into(),
            "give `documents` or `file`, not both".into(),
        )),
        (None, None) => Err((
            String::new(),
            "needs `documents` (a list of objects) or `file` (an NDJSON file beside the \
             migration)"
                .into(),
        )),
        (Some(docs), None) => {
            if docs.is_empty() {
                return Err((".documents".into(), "indexes no document".into()));
            }
            for (i, d) in docs.iter().enumerate() {
                document(d).map_err(|(path, m)| (format!(".documents[{i}]{path}"), m))?;
            }
            Ok(())
        }
        (None, Some(file)) => file_name(file).map_err(|m| (".file".into(), m)),
    }
}

/// A data file's name: relative to the migration's folder, so the folder
/// can move.
fn file_name(file: &str) -> Result<(), String> {
    if file.trim().is_empty() {
        return Err("is empty".into());
    }
    if std::path::Path::new(file).is_absolute() {
        return Err(format!(
            "{file:?} is absolute; name the file relative to the migration's folder"
        ));
    }
    Ok(())
}

/// Checks what serde cannot. Pure.
pub fn check_delete_documents(o: &DeleteDocuments) -> Result<(), (String, String)> {
    if o.ids.is_empty() {
        return Err((".ids".into(), "deletes no document".into()));
    }
    for (i, id) in o.ids.iter().enumerate() {
        id_text(id).map_err(|m| (format!(".ids[{i}]"), m))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_keep_their_id_apart_and_refuse_metadata() {
        let d = document(&json!({"_id": 7, "title": "a"})).unwrap();
        assert_eq!(d.id.as_deref(), Some("7"));
        assert_eq!(Value::Object(d.source), json!({"title": "a"}));
        assert_eq!(document(&json!({"t": 1})).unwrap().id, None);
        let (path, m) = document(&json!({"_routing": "x"})).unwrap_err();
        assert_eq!(path, "._routing");
        assert!(m.contains("metadata field"), "{m}");
        assert_eq!(document(&json!({"_id": ""})).unwrap_err().0, "._id");
        assert_eq!(document(&json!({"_id": 1.5})).unwrap_err().0, "._id");
        assert!(document(&json!([1])).unwrap_err().1.contains("JSON object"));
    }

    #[test]
    fn ndjson_names_the_line() {
        let docs = ndjson("{\"_id\": \"a\", \"n\": 1}\n\n{\"n\": 2}\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].0, docs[1].0), (1, 3));
        assert_eq!(docs[0].1.id.as_deref(), Some("a"));
        let (line, m) = ndjson("{\"n\": 1}\n{\"n\": \n").unwrap_err();
        assert_eq!(line, 2);
        assert!(m.contains("EOF"), "{m}");
        let (line, m) = ndjson("{\"n\": 1}\n\n[1]\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(m.contains("JSON object"), "{m}");
        let (line, m) = ndjson("{\"_source\": {}}\n").unwrap_err();
        assert_eq!(line, 1);
        assert!(m.starts_with("_source: "), "{m}");
        assert_eq!(
            ndjson("\n  \n").unwrap_err(),
            (1, "holds no document".into())
        );
    }
}
