//! The kinds of database strata migrates. A leaf: every layer may name a
//! kind, and nothing here knows how a kind is migrated.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which kind of database a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// PostgreSQL, migrated with `.sql` files.
    Postgres,
    /// Neo4j, migrated with `.cypher` files.
    Neo4j,
    /// Elasticsearch, migrated with `.json` operation lists.
    Elasticsearch,
    /// Qdrant, migrated with `.json` operation lists.
    Qdrant,
}

impl Kind {
    /// Every kind, in the order they are listed in messages.
    pub const ALL: [Kind; 4] = [
        Kind::Postgres,
        Kind::Neo4j,
        Kind::Elasticsearch,
        Kind::Qdrant,
    ];

    /// The file extension of this kind's migration files.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Postgres => "sql",
            Kind::Neo4j => "cypher",
            Kind::Elasticsearch | Kind::Qdrant => "json",
        }
    }

    /// Every extension this kind's migration files may have: operation
    /// files are JSON or YAML (read into the same operations). The first
    /// is [`extension`](Self::extension).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Postgres => &["sql"],
            Kind::Neo4j => &["cypher"],
            Kind::Elasticsearch | Kind::Qdrant => &["json", "yaml", "yml"],
        }
    }

    /// The cargo feature that compiles this kind in (its name).
    pub fn feature(self) -> &'static str {
        self.as_str()
    }

    /// The lowercase name used in config files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Neo4j => "neo4j",
            Kind::Elasticsearch => "elasticsearch",
            Kind::Qdrant => "qdrant",
        }
    }

    /// Reads a kind as written in a config file (`postgresql` is accepted
    /// for `postgres`, `opensearch` for `elasticsearch`: one kind serves
    /// both servers).
    pub fn parse(value: &str) -> Result<Kind, String> {
        match value {
            "postgres" | "postgresql" => Ok(Kind::Postgres),
            "neo4j" => Ok(Kind::Neo4j),
            "elasticsearch" | "opensearch" => Ok(Kind::Elasticsearch),
            "qdrant" => Ok(Kind::Qdrant),
            other => Err(format!(
                "unknown kind {other:?} (expected postgres, neo4j, qdrant or elasticsearch)"
            )),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embed_macro_knows_every_kinds_extension() {
        for kind in Kind::ALL {
            assert!(
                crate::names::EXTENSIONS.contains(&kind.extension()),
                "{kind}"
            );
            assert_eq!(Kind::parse(kind.as_str()), Ok(kind));
        }
        for (alias, kind) in [
            ("postgresql", Kind::Postgres),
            ("opensearch", Kind::Elasticsearch),
        ] {
            assert_eq!(Kind::parse(alias), Ok(kind));
        }
    }
}
