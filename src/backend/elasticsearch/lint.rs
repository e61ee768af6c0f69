//! Findings for Elasticsearch operation files: what closes an index or
//! copies every document. Same shape as PostgreSQL's. Pure.

use super::ops::{self, Operation};
use crate::finding::{Finding, Level};

/// One finding per operation that closes an index (a static setting:
/// analyzers, similarity, codec) or reindexes. Files that do not parse
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
  {"reindex": {"alias": "docs", "to": "docs_v2"}}
]"#;
        let f = findings("V3__x.json", text);
        assert_eq!(f.len(), 2, "{f:#?}");
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
