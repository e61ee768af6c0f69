//! Findings for Elasticsearch operation files: what closes an index,
//! copies or rewrites every document, or deletes documents. Same shape as
//! PostgreSQL's. Pure.

use super::ops::{self, Operation};
use std::collections::BTreeSet;

use crate::backend::point;
use crate::finding::{Finding, Level};

/// One finding per operation that closes an index (a static setting:
/// analyzers, similarity, codec), reindexes, or rewrites or deletes by
/// query — unless the index (or the alias) is one an earlier operation of
/// the run created, which holds only what the run put there. `created`
/// carries those names from file to file. Files that do not parse have
/// none (the catalog refuses them anyway).
pub fn findings(file: &str, content: &str, created: &mut BTreeSet<String>) -> Vec<Finding> {
    let Ok(operations) = ops::parse(content) else {
        return Vec::new();
    };
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut out = Vec::new();
    for op in &operations {
        let new = |name: &str| created.contains(name);
        let skip = match op {
            Operation::PutSettings(p) => new(&p.index),
            Operation::Reindex(r) => new(r.from.as_deref().unwrap_or(&r.alias)),
            Operation::UpdateByQuery(u) => new(&u.index),
            Operation::DeleteByQuery(d) => new(&d.index),
            _ => false,
        };
        track(op, created);
        // The nth operation of its name in the file, found or not: its line.
        let nth = seen.entry(op.name()).or_default();
        *nth += 1;
        let line = crate::operations::line_of_nth(content, &format!("\"{}\"", op.name()), *nth);
        let (name, index, lock, rewrite, message) = match op {
            _ if skip => continue,
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

/// Keeps `created` up to date with what `op` makes: new indices, and the
/// aliases while they point at one.
fn track(op: &Operation, created: &mut BTreeSet<String>) {
    match op {
        Operation::CreateIndex(c) => {
            created.insert(c.index.clone());
            for alias in c.aliases.iter().flat_map(|a| a.keys()) {
                created.insert(alias.clone());
            }
        }
        Operation::Reindex(r) => {
            // A copy of a new index is as new; a copy of live data is not.
            let empty = created.contains(r.from.as_deref().unwrap_or(&r.alias));
            point(created, &r.to, empty);
            point(created, &r.alias, empty);
        }
        Operation::PutAlias(p) => {
            let at_new = created.contains(&p.index);
            point(created, &p.alias, at_new);
        }
        Operation::SwitchAlias(s) => {
            let at_new = created.contains(&s.to);
            point(created, &s.alias, at_new);
        }
        Operation::DeleteIndex(d) => {
            created.remove(&d.index);
        }
        _ => {}
    }
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
        let f = findings("V3__x.json", text, &mut BTreeSet::new());
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

    #[test]
    fn what_the_run_created_has_no_findings() {
        let mut created = BTreeSet::new();
        let first = r#"[
  {"create_index": {"index": "nodes_v1", "aliases": {"nodes": {}}}},
  {"create_index": {"index": "tags_v1"}},
  {"put_alias": {"index": "tags_v1", "alias": "tags"}}
]"#;
        assert!(findings("V1__a.json", first, &mut created).is_empty());
        let second = r#"[
  {"reindex": {"alias": "nodes", "to": "nodes_v2"}},
  {"update_by_query": {"index": "tags"}},
  {"put_settings": {"index": "nodes_v2", "settings": {"analysis": {}}}},
  {"reindex": {"alias": "live", "to": "live_v2"}},
  {"delete_by_query": {"index": "live_v2", "query": {"match_all": {}}}}
]"#;
        let f = findings("V2__b.json", second, &mut created);
        // Only the copy of live data, and what is done to that copy.
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!((f[0].rule.as_str(), f[0].line), ("reindex", 5));
        assert_eq!((f[1].rule.as_str(), f[1].line), ("delete-by-query", 6));
        assert!(created.contains("nodes_v2") && created.contains("nodes"));
        // A finding's line counts every operation of its name before it.
        let text = r#"[
  {"put_settings": {"index": "a", "settings": {"number_of_replicas": 2}}},
  {"put_settings": {"index": "a", "settings": {"analysis": {"analyzer": {"x": {"type": "standard"}}}}}}
]"#;
        let f = findings("V3__c.json", text, &mut BTreeSet::new());
        assert_eq!((f.len(), f[0].line), (1, 3), "{f:#?}");
        assert!(!created.contains("live_v2"));
    }
}
