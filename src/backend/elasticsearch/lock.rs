//! The migration lock: the document `lock` in `<history>_lock`, created
//! with `op_type=create`, carrying its owner and a lease (see
//! [`crate::backend::lease`]). Every write to it after creation is
//! conditioned on the `_seq_no`/`_primary_term` just read, so a holder
//! never overwrites or removes a lock that was broken and taken since.

use elasticsearch::params::Refresh;
use elasticsearch::{CreateParts, DeleteParts, GetParts, IndexParts};
use serde_json::{Value, json};

use super::conn::Conn;
use crate::backend::lease::{Holder, LeaseStore, LockState, holder_of, lease_fields, now_text};
use crate::error::Result;

/// `_seq_no` and `_primary_term` of the lock document as read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Version {
    seq_no: i64,
    primary_term: i64,
}

/// The lock document of one history index.
#[derive(Clone)]
pub(super) struct LockStore {
    conn: Conn,
    index: String,
}

impl LockStore {
    pub(super) fn new(conn: Conn, history: &str) -> Self {
        LockStore {
            conn,
            index: format!("{history}_lock"),
        }
    }
}

fn lock_doc(body: &Value) -> Option<(Holder, Version)> {
    Some((
        holder_of(body.get("_source")?)?,
        Version {
            seq_no: body.get("_seq_no").and_then(Value::as_i64)?,
            primary_term: body.get("_primary_term").and_then(Value::as_i64)?,
        },
    ))
}

impl LeaseStore for LockStore {
    type Token = Version;

    fn database(&self) -> &str {
        &self.conn.database
    }

    fn describe(&self) -> String {
        format!("document {}/lock", self.index)
    }

    async fn prepare(&self) -> Result<()> {
        self.conn
            .ensure_index(
                &self.index,
                json!({
                    "settings": { "number_of_shards": 1, "auto_expand_replicas": "0-1" },
                    "mappings": { "dynamic": "strict", "properties": {
                        "owner": { "type": "keyword" },
                        "acquired_at": { "type": "date" },
                        "expires_at": { "type": "date" },
                    }},
                }),
            )
            .await
    }

    async fn create(&self, owner: &str) -> Result<bool> {
        let r = self
            .conn
            .reply(
                self.conn
                    .client
                    .create(CreateParts::IndexId(&self.index, "lock"))
                    .refresh(Refresh::True)
                    .body(lease_fields(owner, &now_text()))
                    .send()
                    .await,
            )
            .await
            .map_err(|f| self.conn.db_error("taking the lock", f))?;
        match r.status {
            _ if r.success() => Ok(true),
            409 => Ok(false),
            _ => Err(self.conn.db_error("taking the lock", r.failure())),
        }
    }

    async fn read(&self) -> Result<LockState<Version>> {
        let get = || {
            self.conn
                .client
                .get(GetParts::IndexId(&self.index, "lock"))
                .send()
        };
        let r = self
            .conn
            .read(&self.index, get)
            .await
            .map_err(|f| self.conn.db_error("reading the lock", f))?;
        if r.status == 404 {
            return Ok(LockState::Free);
        }
        let body = r
            .into_result()
            .map_err(|f| self.conn.db_error("reading the lock", f))?;
        Ok(match lock_doc(&body) {
            Some((holder, version)) => LockState::Held(holder, version),
            None => LockState::Ownerless,
        })
    }

    async fn renew(&self, holder: &Holder, version: &Version) -> Result<()> {
        self.conn
            .ok(self
                .conn
                .client
                .index(IndexParts::IndexId(&self.index, "lock"))
                .if_seq_no(version.seq_no)
                .if_primary_term(version.primary_term)
                .refresh(Refresh::True)
                .body(lease_fields(&holder.owner, &holder.acquired_at))
                .send()
                .await)
            .await
            .map(|_| ())
            .map_err(|f| self.conn.db_error("renewing the lock", f))
    }

    async fn delete(&self, found: Option<(&Holder, &Version)>) -> Result<()> {
        let mut request = self
            .conn
            .client
            .delete(DeleteParts::IndexId(&self.index, "lock"))
            .refresh(Refresh::True);
        if let Some((_, version)) = found {
            request = request
                .if_seq_no(version.seq_no)
                .if_primary_term(version.primary_term);
        }
        let r = self
            .conn
            .reply(request.send().await)
            .await
            .map_err(|f| self.conn.db_error("removing the lock", f))?;
        // 404: gone already; 409: someone else's lock now, not ours to remove.
        if r.success() || r.status == 404 || r.status == 409 {
            Ok(())
        } else {
            Err(self.conn.db_error("removing the lock", r.failure()))
        }
    }
}
