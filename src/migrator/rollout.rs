//! Staged rollouts: a group's members migrated stage by stage
//! (`rollout` in the group's config, or `--canary N`), the next stage
//! starting only when the one before failed on at most `max_failures`
//! members.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Looked, Migrator};
use crate::backend::Backend;
use crate::config::rollout::{GroupStages, Rollout};
use crate::engine::Target;
use crate::plan::Command;
use crate::summary::Outcome;

/// Where each target runs: its group (when it has a rollout) and stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Staged {
    pub(super) group: Option<String>,
    pub(super) stage: usize,
}

impl Migrator {
    /// The rollout of `group`: `--canary` over the config's.
    fn rollout_of(&self, group: &str) -> Option<Rollout> {
        match (self.canary, self.rollouts.get(group)) {
            (Some(n), Some(_)) => Some(Rollout::canary(n)),
            (None, Some(r)) => r.clone(),
            (_, None) => None,
        }
    }

    /// Each target's group and stage (stage 0 outside any rollout).
    pub(super) fn staged(&self) -> Vec<Staged> {
        let group_of = |t: &Target| {
            let (group, _) = t.config.name.split_once('/')?;
            self.rollout_of(group).map(|r| (group.to_string(), r))
        };
        let mut members: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, t) in self.targets.iter().enumerate() {
            if let Some((g, _)) = group_of(t) {
                members.entry(g).or_default().push(i);
            }
        }
        let mut out = vec![
            Staged {
                group: None,
                stage: 0,
            };
            self.targets.len()
        ];
        for (group, indices) in members {
            let rollout = self.rollout_of(&group).expect("a group with a rollout");
            for (stage, range) in rollout.cut(indices.len()).into_iter().enumerate() {
                for &i in &indices[range] {
                    out[i] = Staged {
                        group: Some(group.clone()),
                        stage,
                    };
                }
            }
        }
        out
    }

    /// The stages of every group with a rollout, for `plan`.
    pub fn rollout_stages(&self) -> Vec<GroupStages> {
        let staged = self.staged();
        let mut groups: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for (t, s) in self.targets.iter().zip(&staged) {
            let Some(g) = &s.group else { continue };
            let stages = groups.entry(g.clone()).or_default();
            if stages.len() <= s.stage {
                stages.resize(s.stage + 1, Vec::new());
            }
            stages[s.stage].push(t.config.name.clone());
        }
        groups
            .into_iter()
            .map(|(group, stages)| GroupStages {
                max_failures: self.rollout_of(&group).map_or(0, |r| r.max_failures),
                group,
                stages,
            })
            .collect()
    }

    /// Runs the looked-at targets stage by stage: within a stage as a
    /// plain run does (at most `jobs` at once; after a failure no new
    /// database starts unless `keep_going`); between stages a group whose
    /// stage failed on more members than its `max_failures` stops, its
    /// later members not started.
    pub(super) async fn execute_staged(
        &self,
        looked: Vec<Looked>,
        command: Command,
        staged: &[Staged],
    ) -> Vec<Outcome> {
        let mut slots: Vec<Option<Looked>> = looked.into_iter().map(Some).collect();
        let mut outcomes: Vec<Option<Outcome>> = (0..self.targets.len()).map(|_| None).collect();
        let last = staged.iter().map(|s| s.stage).max().unwrap_or(0);
        let mut stopped: BTreeMap<String, usize> = BTreeMap::new();
        for stage in 0..=last {
            let mut here = Vec::new();
            for (i, s) in staged.iter().enumerate() {
                if s.stage != stage {
                    continue;
                }
                if s.group.as_ref().is_some_and(|g| stopped.contains_key(g)) {
                    if let Some(Some(b)) = slots[i].take().map(|l| l.backend) {
                        let _ = b.close().await;
                    }
                    outcomes[i] = Some(Outcome::NotStarted);
                    continue;
                }
                here.push(i);
            }
            let failed = AtomicBool::new(false);
            let failed = &failed;
            let jobs = self.jobs();
            let futures = here
                .iter()
                .enumerate()
                .map(|(n, &i)| {
                    let looked = slots[i].take();
                    let target = &self.targets[i];
                    Box::pin(self.execute(target, looked, command, failed, n < jobs)) as _
                })
                .collect();
            let done = crate::engine::in_order(futures, jobs).await;
            for (&i, outcome) in here.iter().zip(done) {
                outcomes[i] = Some(outcome);
            }
            // Which groups' stage failed on too many members.
            let mut failures: BTreeMap<&str, usize> = BTreeMap::new();
            for &i in &here {
                if let (Some(g), Some(Outcome::Failed(_))) = (&staged[i].group, &outcomes[i]) {
                    *failures.entry(g).or_default() += 1;
                }
            }
            for (g, n) in failures {
                let allowed = self.rollout_of(g).map_or(0, |r| r.max_failures);
                if n > allowed {
                    tracing::warn!(
                        group = g,
                        stage = stage + 1,
                        failed = n,
                        allowed,
                        "rollout stopped"
                    );
                    stopped.insert(g.to_string(), stage + 1);
                }
            }
            if failed.load(Ordering::SeqCst) && !self.options.keep_going {
                // A database outside any rollout failed: as in a plain run,
                // nothing new starts.
                let plain_failed = here.iter().any(|&i| {
                    staged[i].group.is_none() && matches!(outcomes[i], Some(Outcome::Failed(_)))
                });
                if plain_failed {
                    for (i, s) in staged.iter().enumerate() {
                        if s.stage > stage && outcomes[i].is_none() {
                            if let Some(Some(b)) = slots[i].take().map(|l| l.backend) {
                                let _ = b.close().await;
                            }
                            outcomes[i] = Some(Outcome::NotStarted);
                        }
                    }
                    break;
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::NotStarted))
            .collect()
    }
}
