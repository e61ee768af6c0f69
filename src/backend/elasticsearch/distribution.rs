//! Which search server the cluster runs: Elasticsearch, or OpenSearch and
//! its major version. The two share every API strata uses, but not every
//! rule the pre-check mirrors: OpenSearch lets a pipeline in use be
//! deleted, and OpenSearch 3 judges template overlaps by literal pattern
//! matches. Each rule
//! here was observed on a real server (Elasticsearch 8.19 and 9.2,
//! OpenSearch 2.19.6 and 3.8.0).

use serde_json::Value;

/// The server behind the URL, read from `GET /`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Distribution {
    /// Elasticsearch (also what an answer without `version.distribution`
    /// means, and what is assumed when `GET /` cannot be read).
    #[default]
    Elasticsearch,
    /// OpenSearch of this major version.
    OpenSearch {
        /// `version.number`'s first part.
        major: u64,
    },
}

impl Distribution {
    /// The distribution a `GET /` answer names. Pure.
    pub fn from_root(answer: &Value) -> Distribution {
        let version = &answer["version"];
        if version["distribution"].as_str() != Some("opensearch") {
            return Distribution::Elasticsearch;
        }
        let major = version["number"]
            .as_str()
            .and_then(|n| n.split('.').next())
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        Distribution::OpenSearch { major }
    }

    /// Its name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Elasticsearch => "Elasticsearch",
            Distribution::OpenSearch { .. } => "OpenSearch",
        }
    }

    /// Whether two index templates of one priority conflict only when one's
    /// pattern matches the other's text (OpenSearch 3), rather than when
    /// some index name could match both.
    pub fn literal_template_overlap(self) -> bool {
        matches!(self, Distribution::OpenSearch { major } if major >= 3)
    }

    /// Whether deleting a pipeline an index names as its default or final
    /// pipeline is refused (OpenSearch deletes it, and every later write
    /// to that index fails).
    pub fn refuses_deleting_pipelines_in_use(self) -> bool {
        self == Distribution::Elasticsearch
    }
}

#[cfg(test)]
mod tests {
    use super::Distribution;
    use serde_json::json;

    #[test]
    fn the_root_answer_names_the_distribution() {
        let es = json!({"version": {"number": "8.19.21", "build_flavor": "default"}});
        assert_eq!(Distribution::from_root(&es), Distribution::Elasticsearch);
        let os = json!({"version": {"distribution": "opensearch", "number": "3.8.0"}});
        assert_eq!(
            Distribution::from_root(&os),
            Distribution::OpenSearch { major: 3 }
        );
        assert!(Distribution::from_root(&os).literal_template_overlap());
        let os2 = json!({"version": {"distribution": "opensearch", "number": "2.19.6"}});
        assert!(!Distribution::from_root(&os2).literal_template_overlap());
        assert!(!Distribution::from_root(&os2).refuses_deleting_pipelines_in_use());
        assert!(Distribution::Elasticsearch.refuses_deleting_pipelines_in_use());
        assert_eq!(
            Distribution::from_root(&json!(null)),
            Distribution::Elasticsearch
        );
    }
}
