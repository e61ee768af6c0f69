//! A client for the real Neo4j that `tests/support/test.sh` starts: the
//! connection, an empty-graph reset, and reads of the history.
//!
//! Community Neo4j has one user database, so the tests of one binary take
//! turns on it with [`TURN`].

use neo4rs::{ConfigBuilder, Graph, query};

/// Held by a test while it uses the graph.
pub static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The Bolt URL and the `neo4j` user's password.
pub fn server() -> (String, String) {
    let url = std::env::var("STRATA_TEST_NEO4J_URL").unwrap_or_else(|_| {
        panic!(
            "STRATA_TEST_NEO4J_URL is not set: the Neo4j tests need a real server. \
             Run the suite with `bash tests/support/test.sh`, which starts one."
        )
    });
    (url, std::env::var("STRATA_TEST_NEO4J_PASSWORD").unwrap())
}

/// A driver for the server, as the `neo4j` user.
pub async fn graph() -> Graph {
    let (url, password) = server();
    let config = ConfigBuilder::default()
        .uri(url)
        .user("neo4j")
        .password(password)
        .build()
        .unwrap();
    Graph::connect(config).await.unwrap()
}

/// The column `x` of every row, sorted.
pub async fn strings(g: &Graph, cypher: &str) -> Vec<String> {
    let mut rows = g.execute(query(cypher)).await.unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.unwrap() {
        out.push(row.get::<String>("x").unwrap());
    }
    out.sort();
    out
}

/// The column `n` of the first row.
pub async fn count(g: &Graph, cypher: &str) -> i64 {
    let mut rows = g.execute(query(cypher)).await.unwrap();
    rows.next().await.unwrap().unwrap().get("n").unwrap()
}

/// Drops every constraint, index and node.
pub async fn reset(g: &Graph) {
    for c in strings(g, "SHOW CONSTRAINTS YIELD name RETURN name AS x").await {
        g.run(query(&format!("DROP CONSTRAINT `{c}`")))
            .await
            .unwrap();
    }
    for i in strings(
        g,
        "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name AS x",
    )
    .await
    {
        g.run(query(&format!("DROP INDEX `{i}`"))).await.unwrap();
    }
    g.run(query("MATCH (n) DETACH DELETE n")).await.unwrap();
}

/// `(version, success)` of every history node.
pub async fn history(g: &Graph) -> Vec<(i64, bool)> {
    let mut rows = g
        .execute(query(
            "MATCH (m:SchemaMigration) RETURN m.version AS v, m.success AS ok ORDER BY v",
        ))
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().await.unwrap() {
        out.push((r.get("v").unwrap(), r.get("ok").unwrap()));
    }
    out
}
