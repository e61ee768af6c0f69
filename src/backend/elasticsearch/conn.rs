//! One connection to a cluster, shared by the backend and its lock: the
//! client, how answers become values, and the retries every read needs.

use elasticsearch::Elasticsearch;
use elasticsearch::cluster::ClusterHealthParts;
use elasticsearch::http::response::Response;
use elasticsearch::indices::{IndicesCreateParts, IndicesRefreshParts};
use serde_json::Value;

use super::http::{Failure, Reply, reply};
use crate::error::{Error, Result};
use crate::secret::ConnectionUrl;

/// The client, with the database name and URL its messages need.
#[derive(Clone)]
pub(super) struct Conn {
    pub(super) client: Elasticsearch,
    pub(super) database: String,
    pub(super) url: ConnectionUrl,
}

impl Conn {
    pub(super) fn db_error(&self, context: &str, f: Failure) -> Error {
        let code = f.code.map(|c| format!(" ({c})")).unwrap_or_default();
        Error::Database {
            database: self.database.clone(),
            message: self.url.scrub(&format!("{context}: {}{code}", f.message)),
        }
    }

    pub(super) async fn reply(
        &self,
        sent: std::result::Result<Response, elasticsearch::Error>,
    ) -> std::result::Result<Reply, Failure> {
        reply(&self.url, sent).await
    }

    pub(super) async fn ok(
        &self,
        sent: std::result::Result<Response, elasticsearch::Error>,
    ) -> std::result::Result<Value, Failure> {
        self.reply(sent).await?.into_result()
    }

    /// Waits for the one primary shard of `index` to start. A read of an
    /// index another runner created a moment ago answers 503 (no shard
    /// available) until then; health "yellow" is reported before the
    /// primary has started, so it is not the condition to wait for.
    pub(super) async fn wait_for_primary(&self, index: &str) -> std::result::Result<(), Failure> {
        self.reply(
            self.client
                .cluster()
                .health(ClusterHealthParts::Index(&[index]))
                .wait_for_active_shards("1")
                .timeout("30s")
                .send()
                .await,
        )
        .await
        .map(|_| ())
    }

    /// Sends a read of `index` (`send` makes the request); when no shard of
    /// the index is started yet (503), waits for its primary and sends it
    /// once more.
    pub(super) async fn read<F>(
        &self,
        index: &str,
        send: impl Fn() -> F,
    ) -> std::result::Result<Reply, Failure>
    where
        F: std::future::Future<Output = std::result::Result<Response, elasticsearch::Error>>,
    {
        let first = self.reply(send().await).await?;
        if first.status != 503 {
            return Ok(first);
        }
        self.wait_for_primary(index).await.ok();
        self.reply(send().await).await
    }

    /// Makes everything written to `index` searchable.
    pub(super) async fn refresh(&self, index: &str) -> std::result::Result<(), Failure> {
        self.ok(self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[index]))
            .send()
            .await)
            .await
            .map(|_| ())
    }

    /// Creates an index unless it exists (another runner may create it at
    /// the same moment).
    pub(super) async fn ensure_index(&self, index: &str, body: Value) -> Result<()> {
        let r = self
            .reply(
                self.client
                    .indices()
                    .create(IndicesCreateParts::Index(index))
                    .body(body)
                    .send()
                    .await,
            )
            .await
            .map_err(|f| self.db_error(&format!("creating index {index}"), f))?;
        if r.success() || r.error_type() == Some("resource_already_exists_exception") {
            Ok(())
        } else {
            Err(self.db_error(&format!("creating index {index}"), r.failure()))
        }
    }
}
