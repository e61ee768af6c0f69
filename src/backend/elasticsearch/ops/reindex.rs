//! `reindex`, and what it shares with `update_by_query`: a script that
//! changes each document on the way, and an ingest pipeline it goes
//! through.
//!
//! Scripts run only inside the server's `_reindex` and `_update_by_query`
//! (strata's own copy cannot run Painless); a pipeline works either way,
//! since `_bulk` takes one too. The pre-check refuses a script on a cluster
//! without the modules it needs, before anything runs.

use serde::{Deserialize, Serialize};

use super::Object;

/// The documents copied per round trip when `batch_size` is not given.
pub const DEFAULT_BATCH_SIZE: u32 = 1000;

/// `reindex`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reindex {
    /// The alias readers use; it ends up on `to`.
    pub alias: String,
    /// The new index, created by this operation.
    pub to: String,
    /// The index to copy from; when absent, the one index behind `alias`.
    pub from: Option<String>,
    /// Settings of the new index.
    pub settings: Option<Object>,
    /// Mappings of the new index.
    pub mappings: Option<Object>,
    /// Documents per batch when strata copies them itself.
    pub batch_size: Option<u32>,
    /// Delete the source index in the same atomic request as the switch.
    #[serde(default)]
    pub delete_source: bool,
    /// Changes each document as it is copied (`ctx._source`); needs the
    /// server's `reindex` module and the script's language module.
    pub script: Option<Script>,
    /// The ingest pipeline each copied document goes through.
    pub pipeline: Option<String>,
}

impl Reindex {
    /// The batch size in effect.
    pub fn batch(&self) -> u32 {
        self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE)
    }

    /// One line for plans.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "reindex {}: {} -> {}",
            self.alias,
            self.from.as_deref().unwrap_or("(its index)"),
            self.to
        );
        line.push_str(&rewrite_notes(
            self.script.as_ref(),
            self.pipeline.as_deref(),
        ));
        if self.delete_source {
            line.push_str(", delete the source");
        }
        line
    }
}

/// A script as `_reindex` and `_update_by_query` take it: inline source,
/// its language (Painless when absent) and parameters.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The script's text.
    pub source: String,
    /// `painless` (the default), `expression` or `mustache`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Values the script reads as `params.<name>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Object>,
}

impl Script {
    /// The server module that runs this script's language.
    pub fn module(&self) -> String {
        format!("lang-{}", self.lang.as_deref().unwrap_or("painless"))
    }
}

/// `, script, pipeline p` for a plan line. Pure.
pub fn rewrite_notes(script: Option<&Script>, pipeline: Option<&str>) -> String {
    let mut notes = String::new();
    if script.is_some() {
        notes.push_str(", script");
    }
    if let Some(p) = pipeline {
        notes.push_str(&format!(", pipeline {p}"));
    }
    notes
}

/// The checks `reindex` needs beyond its names. Pure.
pub fn check_reindex(o: &Reindex) -> Result<(), (String, String)> {
    if o.from.as_deref() == Some(o.to.as_str()) {
        return Err((".to".into(), "is the same index as `from`".into()));
    }
    if o.to == o.alias {
        return Err((".to".into(), "is the alias's own name".into()));
    }
    if !(1..=10_000).contains(&o.batch()) {
        return Err((".batch_size".into(), "must be between 1 and 10000".into()));
    }
    check_rewrite(o.script.as_ref(), o.pipeline.as_deref())
}

/// A script needs text in a language Elasticsearch has; a pipeline a valid
/// id. Pure.
pub fn check_rewrite(
    script: Option<&Script>,
    pipeline: Option<&str>,
) -> Result<(), (String, String)> {
    if let Some(s) = script {
        if s.source.trim().is_empty() {
            return Err((".script.source".into(), "must not be empty".into()));
        }
        if let Some(lang) = &s.lang
            && !["painless", "expression", "mustache"].contains(&lang.as_str())
        {
            return Err((
                ".script.lang".into(),
                format!("{lang:?} is not a script language (painless, expression or mustache)"),
            ));
        }
    }
    if let Some(p) = pipeline {
        super::ingest::pipeline_id(p).map_err(|(_, m)| (".pipeline".into(), m))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Operation, parse};

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_script_and_a_pipeline_are_parsed_and_described() {
        let ops = parse(
            r#"[{"reindex": {"alias": "m", "to": "m_v2", "pipeline": "clean",
                 "script": {"source": "ctx._source.n += params.k", "params": {"k": 1}}}},
                {"update_by_query": {"index": "m", "script": {"source": "ctx._source.x = 1"}}}]"#,
        )
        .unwrap();
        let Operation::Reindex(r) = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(r.script.as_ref().unwrap().module(), "lang-painless");
        assert_eq!(
            ops[0].describe(),
            "reindex m: (its index) -> m_v2, script, pipeline clean"
        );
        assert_eq!(
            ops[1].describe(),
            "update_by_query m (every document, script)"
        );
    }

    #[test]
    fn a_bad_script_or_pipeline_is_refused_by_path() {
        assert!(
            error(r#"[{"reindex": {"alias": "m", "to": "m2", "script": {"source": " "}}}]"#)
                .contains("$[0].reindex.script.source: must not be empty"),
        );
        assert!(
            error(r#"[{"reindex": {"alias": "m", "to": "m2", "script": {"source": "x", "lang": "groovy"}}}]"#)
                .contains("$[0].reindex.script.lang: \"groovy\" is not a script language"),
        );
        assert!(
            error(r#"[{"update_by_query": {"index": "m", "pipeline": "a b"}}]"#)
                .contains("$[0].update_by_query.pipeline: pipeline id \"a b\""),
        );
        assert!(
            error(
                r#"[{"reindex": {"alias": "m", "to": "m2", "script": {"source": "x", "id": "s"}}}]"#
            )
            .contains("unknown field `id`"),
        );
    }
}
