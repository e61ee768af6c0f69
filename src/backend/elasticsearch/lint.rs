//! Findings for Elasticsearch operation files: what closes an index,
//! copies or rewrites every document, or deletes documents. Same shape as
//! PostgreSQL's. Pure.

use super::ops::{self, Operation};
use crate::finding::{Finding, Level};

/// One finding per operation that closes an index (a static setting:
/// analyzers, similarity, codec), reindexes, or rewrites or deletes by
/// query. Files that do not parse
/// have none (the catalog refuses them anyway).
pub fn findings(file: &str, content: &str) -> Vec<Finding> {
    let Ok(operations) = ops::parse(content) else {
        return Vec::new();
    };
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut out = Vec::new();
    for op in &operations {
        let (name, index, lock, rewrite, message) = match op {
            Operation::PutSettings(p)
                if p.close.unwrap_or_else(|| ops::needs_close(&p.settings)) =>
            {
                (
                    "put_settings",
                    p.index.clone(),
                    "closed",
                    false,
                    format!(
                        "put_settings closes {} while the settings change (analyzers, similarity \
                     or codec are static): searches and writes fail until it reopens",
                        p.index
                    ),
                )
            }
            Operation::Reindex(r) => (
                "reindex",
                r.from.clone().unwrap_or_else(|| r.alias.clone()),
                "none",
                true,
                format!(
                    "reindex copies every document of {} into {}; documents written to the \
                     source during the copy are not in the new index when the alias switches",
                    r.from.as_deref().unwrap_or(&r.alias),
                    r.to
                ),
            ),
            Operation::UpdateByQuery(u) => (
                "update_by_query",
                u.index.clone(),
                "none",
                true,
                format!(
                    "update_by_query writes every matching document of {} again; on a large \
                     index this is a long task competing with live writes",
                    u.index
                ),
            ),
            Operation::DeleteByQuery(d) => (
                "delete_by_query",
                d.index.clone(),
                "none",
                true,
                format!(
                    "delete_by_query deletes documents of {}: no rollback can bring them back \
                     unless a copy was kept",
                    d.index
                ),
            ),
            _ => continue,
        };
        let nth = seen.entry(name).or_default();
        *nth += 1;
        let line = crate::operations::line_of_nth(content, &format!("\"{name}\""), *nth);
        out.push(Finding {
            file: file.to_string(),
            line,
            column: 1,
            rule: name.replace('_', "-"),
            level: Level::Warning,
            message,
            help: None,
            table: Some(index),
            lock: Some(lock.to_string()),
            rewrite,
            scan: true,
            rows: None,
            bytes: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_and_reindexing_are_findings_and_mappings_are_not() {
        let text = r#"[
  {"put_mapping": {"index": "docs", "properties": {"t": {"type": "keyword"}}}},
  {"put_settings": {"index": "docs", "settings": {"analysis": {"analyzer": {"a": {"type": "standard"}}}}}},
  {"put_settings": {"index": "docs", "settings": {"number_of_replicas": 2}}},
  {"reindex": {"alias": "docs", "to": "docs_v2"}},
  {"update_by_query": {"index": "docs"}}
]"#;
        let f = findings("V3__x.json", text);
        assert_eq!(f.len(), 3, "{f:#?}");
        assert_eq!(
            (f[2].rule.as_str(), f[2].line, f[2].rewrite),
            ("update-by-query", 6, true)
        );
        assert_eq!(
            (f[0].rule.as_str(), f[0].line, f[0].table.as_deref()),
            ("put-settings", 3, Some("docs"))
        );
        assert!(f[0].message.contains("closes docs"));
        assert_eq!(
            (f[1].rule.as_str(), f[1].line, f[1].rewrite),
            ("reindex", 5, true)
        );
    }
}
