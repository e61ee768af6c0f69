//! The lifecycle-policy rules of the model: a cluster without ILM or ISM
//! has no policies to put, a policy has the shape its server requires, a
//! policy deleted must exist, and Elasticsearch refuses to delete a policy
//! an index's `index.lifecycle.name` still names (ISM deletes one in use).

use super::super::distribution::Distribution;
use super::super::ops::PutLifecycle;
use super::super::ops::lifecycle::{check_shape, feature};
use super::{Cluster, Refusal};

impl Cluster {
    fn policies(&mut self, path: &str) -> Result<&mut std::collections::BTreeSet<String>, Refusal> {
        let missing = feature(self.distribution);
        self.lifecycles.as_mut().ok_or_else(|| {
            (
                path.to_string(),
                format!("this cluster has no lifecycle policies: it lacks {missing}"),
            )
        })
    }

    pub(super) fn put_lifecycle(&mut self, o: &PutLifecycle) -> Result<(), Refusal> {
        self.policies(".name")?;
        check_shape(self.distribution, &o.policy)?;
        self.policies(".name")?.insert(o.name.clone());
        Ok(())
    }

    pub(super) fn delete_lifecycle(&mut self, name: &str) -> Result<(), Refusal> {
        if !self.policies(".name")?.contains(name) {
            return Err((
                ".name".into(),
                format!("lifecycle policy {name:?} does not exist"),
            ));
        }
        let users: Vec<&str> = self
            .indices
            .iter()
            .filter(|(_, s)| s.lifecycle.as_deref() == Some(name))
            .map(|(i, _)| i.as_str())
            .collect();
        if !users.is_empty() && self.distribution == Distribution::Elasticsearch {
            return Err((
                ".name".into(),
                format!(
                    "lifecycle policy {name:?} is in use by index(es) {}: set their \
                     index.lifecycle.name to null first (put_settings)",
                    users.join(", ")
                ),
            ));
        }
        self.policies(".name")?.remove(name);
        Ok(())
    }
}
