//! Lifecycle policies on the live cluster: which policies there are (for
//! the pre-check), and `put_lifecycle` / `delete_lifecycle` against the
//! server's own API, ILM's or ISM's.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::ElasticsearchBackend;
use super::distribution::Distribution;
use super::http::Failure;
use super::ops::lifecycle::{list_path, names, policy_path};
use super::ops::{HttpMethod, PutLifecycle};

impl ElasticsearchBackend {
    /// The server's distribution, read once from `GET /` (Elasticsearch's
    /// rules when it cannot be read, as for the pre-check).
    pub(super) async fn distribution(&mut self) -> Distribution {
        if let Some(known) = self.distribution {
            return known;
        }
        let known = match self.send(HttpMethod::Get, "/", None).await {
            Ok(r) if r.success() => r
                .into_result()
                .map(|v| Distribution::from_root(&v))
                .unwrap_or_default(),
            _ => Distribution::Elasticsearch,
        };
        self.distribution = Some(known);
        known
    }

    /// The cluster's policy names; `None` when it has no lifecycle API
    /// (the path is then taken for an index name, or not routed).
    pub(super) async fn lifecycles(&self, distribution: Distribution) -> Option<BTreeSet<String>> {
        match self
            .send(HttpMethod::Get, list_path(distribution), None)
            .await
        {
            Ok(r) if r.success() => r
                .into_result()
                .ok()
                .map(|v| names(distribution, &v).into_iter().collect()),
            _ => None,
        }
    }

    /// `put_lifecycle`. ISM refuses to overwrite a policy without the
    /// sequence number it was read at, so an existing one is read first.
    pub(super) async fn put_lifecycle(&mut self, o: &PutLifecycle) -> Result<(), Failure> {
        let distribution = self.distribution().await;
        let mut path = policy_path(distribution, &o.name);
        if let Distribution::OpenSearch { .. } = distribution {
            let current = self.send(HttpMethod::Get, &path, None).await?;
            if current.success() {
                let current = current.into_result()?;
                if let (Some(seq), Some(term)) = (
                    current["_seq_no"].as_i64(),
                    current["_primary_term"].as_i64(),
                ) {
                    path = format!("{path}?if_seq_no={seq}&if_primary_term={term}");
                }
            }
        }
        let body = json!({ "policy": Value::Object(o.policy.clone()) });
        self.send(HttpMethod::Put, &path, Some(&body))
            .await?
            .into_result()
            .map(|_| ())
    }

    /// `delete_lifecycle`.
    pub(super) async fn delete_lifecycle(&mut self, name: &str) -> Result<(), Failure> {
        let path = policy_path(self.distribution().await, name);
        self.send(HttpMethod::Delete, &path, None)
            .await?
            .into_result()
            .map(|_| ())
    }
}
