//! The migration lock: the document `lock` in `<history>_lock`, created
//! with `op_type=create`, carrying its owner and a lease (see
//! [`crate::backend::lease`]). Every write to it after creation is
//! conditioned on the `_seq_no`/`_primary_term` just read, so a holder
//! never overwrites or removes a lock that was broken and taken since.

use elasticsearch::params::Refresh;
use elasticsearch::{DeleteParts, Elasticsearch, GetParts, IndexParts};
use serde_json::Value;

use super::ElasticsearchBackend;
use crate::backend::lease::{Holder, LEASE, expired, lease_fields};
use crate::error::{Error, Result};

/// The lock document: its holder and the version to condition writes on.
#[derive(Debug, Clone)]
pub(super) struct LockDoc {
    pub(super) holder: Holder,
    seq_no: i64,
    primary_term: i64,
}

pub(super) fn lock_doc(body: &Value) -> Option<LockDoc> {
    let source = body.get("_source")?;
    let text = |k: &str| {
        source
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let expires_at = text("expires_at");
    let stale = expired(&expires_at);
    Some(LockDoc {
        holder: Holder {
            owner: text("owner"),
            acquired_at: text("acquired_at"),
            expires_at,
            stale,
        },
        seq_no: body.get("_seq_no").and_then(Value::as_i64)?,
        primary_term: body.get("_primary_term").and_then(Value::as_i64)?,
    })
}

/// Keeps our lease alive: re-reads the lock and, while it is still ours,
/// extends it, conditioned on the version just read.
pub(super) async fn renew(client: Elasticsearch, index: String, owner: String) {
    loop {
        tokio::time::sleep(LEASE / 3).await;
        let current = match client.get(GetParts::IndexId(&index, "lock")).send().await {
            Ok(r) if r.status_code().is_success() => r.json::<Value>().await.ok(),
            _ => None,
        };
        let Some(lock) = current.as_ref().and_then(lock_doc) else {
            tracing::warn!(index, "the elasticsearch migration lock is gone while held");
            continue;
        };
        if lock.holder.owner != owner {
            tracing::warn!(index, holder = %lock.holder.owner, "the elasticsearch migration lock was taken over");
            return;
        }
        let renewed = client
            .index(IndexParts::IndexId(&index, "lock"))
            .if_seq_no(lock.seq_no)
            .if_primary_term(lock.primary_term)
            .refresh(Refresh::True)
            .body(lease_fields(&owner, &lock.holder.acquired_at))
            .send()
            .await;
        if !matches!(&renewed, Ok(r) if r.status_code().is_success()) {
            tracing::warn!(index, "renewing the elasticsearch migration lock failed");
        }
    }
}

impl ElasticsearchBackend {
    pub(super) async fn holder(&self) -> Result<Option<LockDoc>> {
        let index = self.lock_index();
        let get = || self.client.get(GetParts::IndexId(&index, "lock")).send();
        let r = self
            .read(&index, get)
            .await
            .map_err(|f| self.db_error("reading the lock", f))?;
        if r.status == 404 {
            return Ok(None);
        }
        let body = r
            .into_result()
            .map_err(|f| self.db_error("reading the lock", f))?;
        Ok(lock_doc(&body))
    }

    /// Removes the lock document left by another runner. Refuses while its
    /// lease is being renewed (its owner is alive) unless `force`.
    pub async fn break_lock(&mut self, force: bool) -> Result<String> {
        let Some(lock) = self.holder().await? else {
            return Ok(format!("{}: no lock is held", self.database));
        };
        let holder = &lock.holder;
        if !holder.stale && !force {
            return Err(Error::Database {
                database: self.database.clone(),
                message: format!(
                    "the lock is held by {holder}: its owner is alive; wait for it, or pass --force \
                     if you are sure it is not running"
                ),
            });
        }
        self.delete_lock(&lock).await?;
        Ok(format!(
            "{}: removed the lock held by {holder}",
            self.database
        ))
    }

    /// Deletes the lock document if it is still the version read.
    pub(super) async fn delete_lock(&self, lock: &LockDoc) -> Result<()> {
        let index = self.lock_index();
        let r = self
            .reply(
                self.client
                    .delete(DeleteParts::IndexId(&index, "lock"))
                    .if_seq_no(lock.seq_no)
                    .if_primary_term(lock.primary_term)
                    .refresh(Refresh::True)
                    .send()
                    .await,
            )
            .await
            .map_err(|f| self.db_error("removing the lock", f))?;
        // 404: gone already; 409: someone else's lock now, not ours to remove.
        if r.success() || r.status == 404 || r.status == 409 {
            Ok(())
        } else {
            Err(self.db_error("removing the lock", r.failure()))
        }
    }
}
