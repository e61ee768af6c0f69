//! Listing the members of `[groups.NAME]` entries whose `urls_query` runs
//! against a configured PostgreSQL database: before a migrator is built,
//! since the members are databases of their own.

use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};

/// Runs every group's `urls_query` and adds its members to `config`. Does
/// nothing for groups listed by `urls` or `urls_file`.
pub async fn resolve(config: &mut Config, connect_timeout: Duration) -> Result<()> {
    let pending: Vec<(String, crate::config::GroupQuery)> = config
        .groups
        .values()
        .filter_map(|g| g.query.clone().map(|q| (g.name.clone(), q)))
        .collect();
    for (group, query) in pending {
        let rows = members(config, &group, &query, connect_timeout).await?;
        if rows.is_empty() {
            return Err(Error::Database {
                database: query.database.clone(),
                message: format!("the urls_query of group {group} returned no member URL"),
            });
        }
        // Every row is a member: a NULL or blank one is refused rather
        // than skipped, so that no tenant goes unmigrated without a word.
        let mut urls = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            match row.as_deref().map(str::trim) {
                Some(url) if !url.is_empty() => urls.push(url.to_string()),
                _ => {
                    return Err(Error::config(
                        format!("groups.{group} (urls_query row {})", i + 1),
                        format!(
                            "is {}: every row is a member's URL; leave the others out in the \
                             query (`WHERE url IS NOT NULL`)",
                            if row.is_none() { "NULL" } else { "blank" }
                        ),
                    ));
                }
            }
        }
        config.add_members(&group, &urls)?;
    }
    Ok(())
}

#[cfg(feature = "postgres")]
async fn members(
    config: &Config,
    group: &str,
    query: &crate::config::GroupQuery,
    connect_timeout: Duration,
) -> Result<Vec<Option<String>>> {
    use crate::backend::Backend;
    let db = &config.databases[&query.database];
    let mut backend =
        crate::backend::postgres::PostgresBackend::connect(db, connect_timeout).await?;
    let urls = backend
        .query_strings(&query.sql, &format!("groups.{group}.urls_query"))
        .await;
    let _ = backend.close().await;
    urls
}

#[cfg(not(feature = "postgres"))]
async fn members(
    _config: &Config,
    _group: &str,
    query: &crate::config::GroupQuery,
    _connect_timeout: Duration,
) -> Result<Vec<Option<String>>> {
    Err(Error::config(
        format!("query_database {}", query.database),
        "urls_query runs on PostgreSQL, which this build of strata leaves out: enable the \
         cargo feature \"postgres\"",
    ))
}
