//! The data-stream rules of the model, as OpenSearch and Elasticsearch
//! apply them: a stream needs a matching data-stream template (the one of
//! highest priority among those matching its name), such a template claims
//! its names from `create_index`, a template in use by a stream and a
//! stream's backing index cannot be deleted, and documents written to a
//! stream carry its timestamp field.

use std::collections::BTreeMap;

use serde_json::Value;

use super::super::ops::IndexDocuments;
use super::super::patterns;
use super::{Cluster, Refusal};

/// One data stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataStream {
    /// The index template it was created from.
    pub template: String,
    /// Its backing indices (none known yet for one created in this run).
    pub backing: Vec<String>,
}

impl DataStream {
    /// The streams of a `GET /_data_stream` answer, by name. Pure.
    pub fn from_response(answer: &Value) -> BTreeMap<String, DataStream> {
        answer["data_streams"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let name = d["name"].as_str()?.to_string();
                let backing = d["indices"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["index_name"].as_str().map(str::to_string))
                    .collect();
                let template = d["template"].as_str().unwrap_or_default().to_string();
                Some((name, DataStream { template, backing }))
            })
            .collect()
    }
}

/// For messages: why there are no streams.
const NO_STREAMS: &str = "this cluster has no data streams (Elasticsearch's test distribution \
                          lacks the data-streams module)";

impl Cluster {
    pub(super) fn streams(&self) -> &BTreeMap<String, DataStream> {
        static NONE: BTreeMap<String, DataStream> = BTreeMap::new();
        self.data_streams.as_ref().unwrap_or(&NONE)
    }

    pub(super) fn is_stream(&self, name: &str) -> bool {
        self.streams().contains_key(name)
    }

    /// The template that decides what a new index or stream called `name`
    /// is: the highest-priority one with a pattern matching it.
    fn deciding_template(&self, name: &str) -> Option<(&String, &super::Template)> {
        self.templates
            .iter()
            .filter(|(_, t)| t.patterns.iter().any(|p| patterns::matches(p, name)))
            .max_by_key(|(_, t)| t.priority)
    }

    pub(super) fn create_stream(&mut self, name: &str) -> Result<(), Refusal> {
        if self.data_streams.is_none() {
            return Err((".name".into(), NO_STREAMS.into()));
        }
        if self.is_stream(name) {
            return Err((
                ".name".into(),
                format!("data stream {name:?} already exists"),
            ));
        }
        self.absent(name, ".name")?;
        let template = match self.deciding_template(name) {
            None => {
                return Err((
                    ".name".into(),
                    format!(
                        "no index template matches {name:?}: put one with `data_stream: {{}}` \
                         first"
                    ),
                ));
            }
            Some((t, body)) if body.data_stream.is_none() => {
                return Err((
                    ".name".into(),
                    format!(
                        "index template {t:?}, which decides what {name:?} is, has no \
                         `data_stream`"
                    ),
                ));
            }
            Some((t, _)) => t.clone(),
        };
        self.data_streams.get_or_insert_default().insert(
            name.to_string(),
            DataStream {
                template,
                backing: Vec::new(),
            },
        );
        Ok(())
    }

    pub(super) fn delete_stream(&mut self, name: &str) -> Result<(), Refusal> {
        let Some(stream) = self.data_streams.as_mut().and_then(|s| s.remove(name)) else {
            return Err((
                ".name".into(),
                format!("data stream {name:?} does not exist"),
            ));
        };
        for index in stream.backing {
            self.indices.remove(&index);
        }
        Ok(())
    }

    /// A name a data-stream template decides cannot be a plain index.
    pub(super) fn not_claimed_by_a_stream(&self, index: &str) -> Result<(), Refusal> {
        match self.deciding_template(index) {
            Some((t, body)) if body.data_stream.is_some() => Err((
                ".index".into(),
                format!(
                    "index template {t:?} makes {index:?} a data stream: use \
                     create_data_stream"
                ),
            )),
            _ => Ok(()),
        }
    }

    pub(super) fn not_backing(&self, index: &str) -> Result<(), Refusal> {
        match self
            .streams()
            .iter()
            .find(|(_, s)| s.backing.iter().any(|b| b == index))
        {
            Some((stream, _)) => Err((
                ".index".into(),
                format!(
                    "index {index:?} backs data stream {stream:?}: delete the stream \
                     (delete_data_stream)"
                ),
            )),
            None => Ok(()),
        }
    }

    pub(super) fn not_a_stream(&self, name: &str, op: &str) -> Result<(), Refusal> {
        if self.is_stream(name) {
            return Err((
                ".index".into(),
                format!("{name:?} is a data stream: {op} cannot address its documents by id"),
            ));
        }
        Ok(())
    }

    pub(super) fn template_unused(&self, template: &str) -> Result<(), Refusal> {
        let users: Vec<&str> = self
            .streams()
            .iter()
            .filter(|(_, s)| s.template == template)
            .map(|(n, _)| n.as_str())
            .collect();
        if users.is_empty() {
            return Ok(());
        }
        Err((
            ".name".into(),
            format!(
                "index template {template:?} is in use by data stream(s) {}: delete them first",
                users.join(", ")
            ),
        ))
    }

    /// Inline documents written to a stream need its timestamp field.
    pub(super) fn stream_documents(&self, o: &IndexDocuments) -> Result<(), Refusal> {
        let field = self
            .templates
            .get(&self.streams()[&o.index].template)
            .and_then(|t| t.data_stream.clone())
            .unwrap_or_else(|| "@timestamp".into());
        for (i, doc) in o.documents.iter().flatten().enumerate() {
            if doc.get(&field).is_none() {
                return Err((
                    format!(".documents[{i}]"),
                    format!(
                        "has no {field:?}: every document of data stream {:?} needs its \
                         timestamp field",
                        o.index
                    ),
                ));
            }
        }
        Ok(())
    }
}
