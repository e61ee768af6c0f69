//! The Neo4j migration lock: one `<Label>Lock` node named `lock`, unique
//! by a constraint, whose lease the holder renews (see the lease module).

use neo4rs::query;

use super::Conn;
use crate::backend::lease::{Holder, LEASE, LeaseStore, LockState};
use crate::error::Result;

/// The lock node `(:<Label>Lock {name: 'lock'})`, unique by a constraint
/// on `name`. Its lease is judged by the server's clock.
#[derive(Clone)]
pub(super) struct LockStore {
    pub(super) conn: Conn,
    pub(super) label: String,
}

impl LeaseStore for LockStore {
    type Token = ();

    fn database(&self) -> &str {
        &self.conn.database
    }

    fn describe(&self) -> String {
        format!("node :{} {{name: 'lock'}}", self.label)
    }

    async fn prepare(&self) -> Result<()> {
        self.conn
            .ensure_constraint("creating the lock constraint", &self.label, "name")
            .await
    }

    async fn create(&self, owner: &str) -> Result<bool> {
        let created = self
            .conn
            .graph
            .run(
                query(&format!(
                    "CREATE (:{} {{name: 'lock', owner: $owner, acquired_at: datetime(), \
                     expires_at: datetime() + duration({{seconds: $lease}})}})",
                    self.label
                ))
                .param("owner", owner.to_string())
                .param("lease", LEASE.as_secs() as i64),
            )
            .await;
        match created {
            Ok(()) => Ok(true),
            Err(neo4rs::Error::Neo4j(e))
                if e.code() == "Neo.ClientError.Schema.ConstraintValidationFailed" =>
            {
                Ok(false)
            }
            Err(e) => Err(self.conn.db_error("taking the lock", e)),
        }
    }

    async fn read(&self) -> Result<LockState<()>> {
        let context = "reading the lock";
        let mut rows = self
            .conn
            .graph
            .execute(query(&format!(
                "MATCH (l:{}) WHERE l.name = 'lock' RETURN l.owner AS owner, \
                 toString(l.acquired_at) AS acquired_at, toString(l.expires_at) AS expires_at, \
                 l.expires_at < datetime() AS stale",
                self.label
            )))
            .await
            .map_err(|e| self.conn.db_error(context, e))?;
        let row = rows
            .next()
            .await
            .map_err(|e| self.conn.db_error(context, e))?;
        Ok(match row {
            None => LockState::Free,
            Some(r) => LockState::Held(
                Holder {
                    owner: r.get("owner").unwrap_or_default(),
                    acquired_at: r.get("acquired_at").unwrap_or_default(),
                    expires_at: r.get("expires_at").unwrap_or_default(),
                    stale: r.get("stale").unwrap_or(false),
                },
                (),
            ),
        })
    }

    async fn renew(&self, holder: &Holder, _: &()) -> Result<()> {
        self.conn
            .run_query(
                "renewing the lock",
                query(&format!(
                    "MATCH (l:{}) WHERE l.name = 'lock' AND l.owner = $owner \
                     SET l.expires_at = datetime() + duration({{seconds: $lease}})",
                    self.label
                ))
                .param("owner", holder.owner.clone())
                .param("lease", LEASE.as_secs() as i64),
            )
            .await
    }

    async fn delete(&self, found: Option<(&Holder, &())>) -> Result<()> {
        let owner = found.map(|(h, _)| h.owner.clone()).unwrap_or_default();
        self.conn
            .run_query(
                "removing the lock",
                query(&format!(
                    "MATCH (l:{}) WHERE l.name = 'lock' AND l.owner = $owner DELETE l",
                    self.label
                ))
                .param("owner", owner),
            )
            .await
    }
}
