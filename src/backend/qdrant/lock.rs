//! The migration lock: creating the collection `<history>_lock` succeeds
//! for exactly one runner; its point 1 carries the owner and a lease (see
//! [`crate::backend::lease`]); releasing deletes the collection. Qdrant
//! has no conditional write, so renewal is read-then-write.

use qdrant_client::qdrant as pb;
use qdrant_client::qdrant::collections_client::CollectionsClient;
use qdrant_client::qdrant::points_client::PointsClient;
use tonic::Code;

use super::{Service, bookkeeping_collection, document, is_already_exists, point, point_id};
use crate::backend::lease::{Holder, LeaseStore, LockState, holder_of, lease_fields, now_text};
use crate::error::{Error, Result};
use crate::secret::ConnectionUrl;

/// The id of the owner point in the lock collection.
const LOCK_POINT: u64 = 1;

/// The lock collection of one history collection.
#[derive(Clone)]
pub(super) struct LockStore {
    pub(super) collections: CollectionsClient<Service>,
    pub(super) points: PointsClient<Service>,
    pub(super) database: String,
    pub(super) url: ConnectionUrl,
    pub(super) name: String,
}

impl LockStore {
    fn error(&self, context: &str, s: tonic::Status) -> Error {
        super::status_error(&self.database, &self.url, context, s)
    }

    async fn write_owner(&self, owner: &str, acquired_at: &str) -> Result<()> {
        self.points
            .clone()
            .upsert(pb::UpsertPoints {
                collection_name: self.name.clone(),
                wait: Some(true),
                points: vec![point(LOCK_POINT, lease_fields(owner, acquired_at))],
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|s| self.error("writing the lock", s))
    }
}

impl LeaseStore for LockStore {
    type Token = ();

    fn database(&self) -> &str {
        &self.database
    }

    fn describe(&self) -> String {
        format!("collection {}", self.name)
    }

    async fn create(&self, owner: &str) -> Result<bool> {
        match self
            .collections
            .clone()
            .create(bookkeeping_collection(&self.name))
            .await
        {
            Ok(_) => {}
            Err(s) if is_already_exists(&s) => return Ok(false),
            Err(s) => return Err(self.error("taking the lock", s)),
        }
        if let Err(e) = self.write_owner(owner, &now_text()).await {
            let _ = self.delete(None).await;
            return Err(e);
        }
        Ok(true)
    }

    async fn read(&self) -> Result<LockState<()>> {
        let got = self
            .points
            .clone()
            .get(pb::GetPoints {
                collection_name: self.name.clone(),
                ids: vec![point_id(LOCK_POINT)],
                with_payload: Some(true.into()),
                ..Default::default()
            })
            .await;
        match got {
            Ok(r) => Ok(
                match r
                    .into_inner()
                    .result
                    .first()
                    .and_then(|p| holder_of(&document(&p.payload)))
                {
                    Some(h) => LockState::Held(h, ()),
                    None => LockState::Ownerless,
                },
            ),
            Err(s) if s.code() == Code::NotFound => Ok(LockState::Free),
            Err(s) => Err(self.error("reading the lock", s)),
        }
    }

    async fn renew(&self, holder: &Holder, _: &()) -> Result<()> {
        self.write_owner(&holder.owner, &holder.acquired_at).await
    }

    async fn delete(&self, _: Option<(&Holder, &())>) -> Result<()> {
        self.collections
            .clone()
            .delete(pb::DeleteCollection {
                collection_name: self.name.clone(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|s| self.error("removing the lock", s))
    }
}
