//! The schema of a Neo4j database as drift compares it: its constraints and
//! indexes, each as the server would create it again (`createStatement`),
//! and the node `:<history label>Schema` that keeps the description the
//! last run left.
//!
//! A name the server generated (`constraint_1a2b3c4d`) differs each time
//! an unnamed constraint is created: such objects are keyed by their
//! definition instead, without the name.

use chrono::{DateTime, Utc};
use neo4rs::query;

use super::Neo4jBackend;
use crate::drift::{Entry, Recorded, Schema, Scope};
use crate::error::{Error, Result};

/// Whether Neo4j made this name up (`index_343aff4e`, `constraint_1a2b3c4d`).
fn generated(name: &str) -> bool {
    let hex = |s: &str| s.len() == 8 && s.chars().all(|c| c.is_ascii_hexdigit());
    ["index_", "constraint_"]
        .iter()
        .any(|p| name.strip_prefix(p).is_some_and(hex))
}

/// One constraint or index as an entry: `what` is `constraint` or `index`.
fn entry(what: &str, name: &str, statement: &str) -> Entry {
    let definition = statement.replacen(&format!("`{name}` "), "", 1);
    if generated(name) {
        Entry::new(name, format!("{what} {definition}"), "")
    } else {
        Entry::new(name, format!("{what} {name}"), definition)
    }
}

impl Neo4jBackend {
    fn schema_label(&self) -> String {
        format!("{}Schema", self.label)
    }

    /// The live constraints and indexes, strata's own left out.
    pub(super) async fn describe_schema(&mut self, scope: &Scope) -> Result<Schema> {
        let own = [
            self.label.clone(),
            format!("{}Lock", self.label),
            self.schema_label(),
        ];
        let mut entries = Vec::new();
        for (what, show, owned) in [
            ("constraint", "SHOW CONSTRAINTS", "null"),
            ("index", "SHOW INDEXES", "owningConstraint"),
        ] {
            let context = format!("describing the schema ({show})");
            let mut rows = self
                .conn
                .graph
                .execute(query(&format!(
                    "{show} YIELD * RETURN name, coalesce(labelsOrTypes, []) AS labels, \
                     createStatement AS statement, {owned} IS NOT NULL AS owned"
                )))
                .await
                .map_err(|e| self.conn.db_error(&context, e))?;
            while let Some(row) = rows
                .next()
                .await
                .map_err(|e| self.conn.db_error(&context, e))?
            {
                let name: String = row.get("name").unwrap_or_default();
                let labels: Vec<String> = row.get("labels").unwrap_or_default();
                let statement: String = row.get("statement").unwrap_or_default();
                // A constraint's own index comes and goes with it.
                let owned: bool = row.get("owned").unwrap_or(false);
                if owned || labels.iter().any(|l| own.contains(l)) {
                    continue;
                }
                entries.push(entry(what, &name, &statement));
            }
        }
        Ok(Schema::from_entries(entries, &scope.ignore, &[]))
    }

    /// The description the last run recorded, if any.
    pub(super) async fn recorded_schema(&mut self) -> Result<Option<Recorded>> {
        let context = "reading the recorded schema";
        let mut rows = self
            .conn
            .graph
            .execute(query(&format!(
                "MATCH (s:{} {{id: 1}}) RETURN s.description AS description, \
                 toString(s.recorded_at) AS recorded_at, s.recorded_by AS recorded_by",
                self.schema_label()
            )))
            .await
            .map_err(|e| self.conn.db_error(context, e))?;
        let Some(row) = rows
            .next()
            .await
            .map_err(|e| self.conn.db_error(context, e))?
        else {
            return Ok(None);
        };
        let bad = |m: String| Error::Database {
            database: self.conn.database.clone(),
            message: format!("node :{}: {m}", self.schema_label()),
        };
        let description: String = row
            .get("description")
            .map_err(|_| bad("no description".into()))?;
        let at: String = row
            .get("recorded_at")
            .map_err(|_| bad("no recorded_at".into()))?;
        Ok(Some(Recorded {
            schema: Schema::from_json(&description).map_err(bad)?,
            recorded_at: DateTime::parse_from_rfc3339(&at)
                .map_err(|e| bad(format!("recorded_at {at:?}: {e}")))?
                .with_timezone(&Utc),
            recorded_by: row.get("recorded_by").unwrap_or_default(),
        }))
    }

    /// Records `schema` as the one the next run expects.
    pub(super) async fn write_schema(&mut self, schema: &Schema) -> Result<()> {
        self.conn
            .run_query(
                "recording the schema",
                query(&format!(
                    "MERGE (s:{} {{id: 1}}) SET s.sha256 = $sha, s.description = $description, \
                     s.recorded_at = datetime(), s.recorded_by = $by",
                    self.schema_label()
                ))
                .param("sha", schema.sha256())
                .param("description", schema.to_json())
                .param("by", self.applied_by.clone()),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_give_way_to_definitions() {
        let e = entry(
            "constraint",
            "constraint_1a2b3c4d",
            "CREATE CONSTRAINT `constraint_1a2b3c4d` FOR (n:`Person`) REQUIRE (n.`email`) IS UNIQUE",
        );
        assert_eq!(
            e.key,
            "constraint CREATE CONSTRAINT FOR (n:`Person`) REQUIRE (n.`email`) IS UNIQUE"
        );
        let e = entry(
            "index",
            "person_name",
            "CREATE RANGE INDEX `person_name` FOR (n:`Person`) ON (n.`name`)",
        );
        assert_eq!(e.key, "index person_name");
        assert_eq!(
            e.detail,
            "CREATE RANGE INDEX FOR (n:`Person`) ON (n.`name`)"
        );
        assert!(!generated("index_person"));
    }
}
