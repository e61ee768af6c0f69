//! A cheap proof that the catalog has not changed since the schema was
//! recorded, so `status` (and the drift gate) need not describe it again.
//!
//! Every DDL statement inserts, updates or deletes rows of the catalogs the
//! description reads, and a row written gets the writing transaction's id
//! as its `xmin`, newer than every id at the time of the recording; VACUUM
//! and ANALYZE change catalog rows in place, keeping `xmin`. So the number
//! of those rows and the sum of their `xmin`s change with every change
//! that could change the description: a deletion lowers the count, and
//! rows written since add other (newer) ids than the ones they replace.
//! (Only ids that happen to sum to exactly what they replaced could keep
//! both, as after a wrap-around of the 32-bit transaction counter.) Rows
//! of temporary tables are counted too (leaving them out would cost a join
//! per catalog), so a session creating one, a `TRUNCATE`, `VACUUM FULL`,
//! `CLUSTER` or `REINDEX` (a new relfilenode) also changes it: then the
//! schema is described again, as before fingerprints.
//! Equal fingerprints mean the recorded description stands;
//! different ones only mean "describe again". strata's own tables are left
//! out, as the description leaves them out, so writing the history and the
//! recorded schema does not change it.
//!
//! The server's part is joined to a digest of what else decides the
//! description: the query strata describes with, the scope (schemas,
//! ignore patterns, managed partitions) and where the history lives.

use sha2::{Digest, Sha256};

use crate::drift::Scope;

/// The catalog fingerprint as one text value: the number of rows and the
/// sum of their `xmin`s. Rows of built-in
/// objects (OIDs below 16384, `FirstNormalObjectId`) are left out: they
/// never change. `{own}` is the list of strata's own tables as OIDs (0
/// when absent).
const CATALOG: &str = r#"
(WITH own AS (SELECT o AS oid FROM unnest(ARRAY[{own}]::oid[]) o WHERE o <> 0),
 own_table AS (
   SELECT oid FROM own
   UNION SELECT reltoastrelid FROM pg_catalog.pg_class WHERE oid IN (SELECT oid FROM own)
 ),
 own_rel AS (
   SELECT oid FROM own_table
   UNION SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid IN (SELECT oid FROM own_table)
 ),
 own_type AS (SELECT oid FROM pg_catalog.pg_type WHERE typrelid IN (SELECT oid FROM own))
 SELECT count(*) || '/' || coalesce(sum(x::text::bigint), 0) FROM (
   SELECT xmin AS x FROM pg_catalog.pg_namespace WHERE oid >= 16384
   UNION ALL SELECT xmin FROM pg_catalog.pg_class
     WHERE oid >= 16384 AND relpersistence <> 't' AND oid NOT IN (SELECT oid FROM own_rel)
   UNION ALL SELECT xmin FROM pg_catalog.pg_attribute
     WHERE attrelid >= 16384 AND attrelid NOT IN (SELECT oid FROM own_rel)
   UNION ALL SELECT xmin FROM pg_catalog.pg_attrdef
     WHERE oid >= 16384 AND adrelid NOT IN (SELECT oid FROM own)
   UNION ALL SELECT xmin FROM pg_catalog.pg_constraint
     WHERE oid >= 16384 AND conrelid NOT IN (SELECT oid FROM own)
   UNION ALL SELECT xmin FROM pg_catalog.pg_index
     WHERE indexrelid >= 16384 AND indrelid NOT IN (SELECT oid FROM own_table)
   UNION ALL SELECT xmin FROM pg_catalog.pg_trigger WHERE oid >= 16384
   UNION ALL SELECT xmin FROM pg_catalog.pg_rewrite WHERE oid >= 16384
   UNION ALL SELECT xmin FROM pg_catalog.pg_proc WHERE oid >= 16384
   UNION ALL SELECT xmin FROM pg_catalog.pg_type
     WHERE oid >= 16384 AND oid NOT IN (SELECT oid FROM own_type)
       AND typelem NOT IN (SELECT oid FROM own_type)
   UNION ALL SELECT xmin FROM pg_catalog.pg_enum WHERE oid >= 16384
   UNION ALL SELECT xmin FROM pg_catalog.pg_range WHERE rngtypid >= 16384
   UNION ALL SELECT xmin FROM pg_catalog.pg_sequence WHERE seqrelid >= 16384
   UNION ALL SELECT xmin FROM pg_catalog.pg_extension
   UNION ALL SELECT xmin FROM pg_catalog.pg_depend WHERE deptype = 'e'
   UNION ALL SELECT xmin FROM pg_catalog.pg_inherits
   UNION ALL SELECT xmin FROM pg_catalog.pg_collation WHERE oid >= 16384
   UNION ALL SELECT xmin FROM pg_catalog.pg_language
   UNION ALL SELECT xmin FROM pg_catalog.pg_partitioned_table
 ) f)
"#;

/// The SQL expression computing the fingerprint of the live catalog,
/// `key` being [`key`]'s digest. `own` are strata's own tables, (schema,
/// table), unquoted. Pure.
pub fn expression(own: &[(String, String)], key: &str) -> String {
    let own = own
        .iter()
        .map(|(schema, table)| {
            format!(
                "coalesce(pg_catalog.to_regclass(pg_catalog.quote_ident({}) || '.' || \
                 pg_catalog.quote_ident({}))::oid, 0)",
                super::describe::literal(schema),
                super::describe::literal(table)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("{} || ':{key}'", CATALOG.replace("{own}", &own).trim_end())
}

/// A digest of what besides the catalog decides the description: the
/// describing query, the scope and strata's own tables. Pure.
pub fn key(describe_query: &str, scope: &Scope, own: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    h.update(describe_query.as_bytes());
    h.update(format!("{scope:?}").as_bytes());
    h.update(format!("{own:?}").as_bytes());
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_changes_with_the_scope_and_the_query() {
        let own = vec![("public".to_string(), "schema_migrations".to_string())];
        let scope = Scope::default();
        let base = key("q", &scope, &own);
        assert_eq!(base.len(), 24);
        assert_eq!(base, key("q", &scope, &own));
        assert_ne!(base, key("q2", &scope, &own));
        let ignoring = Scope {
            ignore: vec!["public.audit_*".into()],
            ..Scope::default()
        };
        assert_ne!(base, key("q", &ignoring, &own));
        let elsewhere = [("app".to_string(), "schema_migrations".to_string())];
        assert_ne!(base, key("q", &scope, &elsewhere));
        let sql = expression(&own, &base);
        assert!(sql.contains("pg_catalog.quote_ident('schema_migrations')"));
        assert!(sql.ends_with(&format!("|| ':{base}'")));
    }
}
