//! Findings for Qdrant operation files: changes that rebuild a vector
//! index or re-quantize every point. Same shape as PostgreSQL's. Pure.

use std::collections::BTreeSet;

use super::ops::{self, Operation};
use crate::backend::point;
use crate::finding::{Finding, Level};

/// One finding per `update_collection` that changes HNSW parameters or
/// quantization (of the collection or of a vector): Qdrant rebuilds the
/// index or re-quantizes every point in the background, with search
/// slower and memory higher until it is done.
///
/// A collection an earlier operation of the run created is left alone: it
/// holds only what the run put there. `created` carries those names (and
/// the aliases that point at them) from file to file.
pub fn findings(file: &str, content: &str, created: &mut BTreeSet<String>) -> Vec<Finding> {
    let Ok(operations) = ops::parse(content) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut nth = 0;
    for op in &operations {
        match op {
            Operation::CreateCollection(c) => {
                created.insert(c.collection.clone());
            }
            Operation::DeleteCollection(c) => {
                created.remove(&c.collection);
            }
            Operation::CreateAlias(a) => {
                let new = created.contains(&a.collection);
                point(created, &a.alias, new);
            }
            Operation::SwitchAlias(a) => {
                let new = created.contains(&a.to);
                point(created, &a.alias, new);
            }
            _ => {}
        }
        let Operation::UpdateCollection(u) = op else {
            continue;
        };
        nth += 1;
        if created.contains(&u.collection) {
            continue;
        }
        let vectors = u
            .vectors
            .iter()
            .chain(u.named_vectors.iter().flat_map(|m| m.values()));
        let mut what = Vec::new();
        if u.hnsw_config.is_some() || vectors.clone().any(|v| v.hnsw_config.is_some()) {
            what.push("rebuilds the HNSW index");
        }
        if u.quantization_config.is_some()
            || vectors.clone().any(|v| v.quantization_config.is_some())
        {
            what.push("re-quantizes every point");
        }
        if what.is_empty() {
            continue;
        }
        out.push(Finding {
            file: file.to_string(),
            line: crate::operations::line_of_nth(content, "\"update_collection\"", nth),
            column: 1,
            rule: "rebuild-index".into(),
            level: Level::Warning,
            message: format!(
                "update_collection on {} {} in the background: searches are slower and memory \
                 higher until the optimizer is done",
                u.collection,
                what.join(" and ")
            ),
            help: None,
            table: Some(u.collection.clone()),
            lock: Some("none".into()),
            rewrite: true,
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
    fn index_and_quantization_changes_are_findings() {
        let text = r#"[
  {"update_collection": {"collection": "docs", "optimizers_config": {"indexing_threshold": 1000}}},
  {"update_collection": {"collection": "docs", "hnsw_config": {"m": 32}}},
  {"update_collection": {"collection": "docs", "quantization_config": "disabled"}}
]"#;
        let f = findings("V2__x.json", text, &mut BTreeSet::new());
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!((f[0].line, f[0].table.as_deref()), (3, Some("docs")));
        assert!(
            f[0].message.contains("rebuilds the HNSW index"),
            "{}",
            f[0].message
        );
        assert!(f[1].message.contains("re-quantizes"), "{}", f[1].message);
    }

    #[test]
    fn a_collection_the_run_created_has_no_findings() {
        let mut created = BTreeSet::new();
        let first = r#"[
  {"create_collection": {"collection": "nodes", "vectors": {"size": 4, "distance": "Dot"}}},
  {"create_alias": {"alias": "current", "collection": "nodes"}}
]"#;
        assert!(findings("V1__a.json", first, &mut created).is_empty());
        let second = r#"[
  {"update_collection": {"collection": "nodes", "hnsw_config": {"m": 32}}},
  {"update_collection": {"collection": "live", "hnsw_config": {"m": 32}}}
]"#;
        let f = findings("V2__b.json", second, &mut created);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].line, f[0].table.as_deref()), (3, Some("live")));
    }
}
