//! Staged rollouts over a group: `rollout = [1, "10%", "100%"]` and
//! `max_failures`. Each stage names how many members have been migrated
//! once it is done (a count, or a share of the members); the next stage
//! starts only when the previous one failed on at most `max_failures`
//! members. Pure: reading the setting, and cutting the members into stages.

use std::ops::Range;

use serde::Deserialize;

/// Where a stage ends, counted from the first member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageEnd {
    /// This many members in all.
    Count(usize),
    /// This share of the members in all, in percent (rounded up).
    Percent(u32),
}

/// A group's staged rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// Where each stage ends; the members left after the last one form a
    /// final stage.
    pub stages: Vec<StageEnd>,
    /// Failed members a stage may have and the next stage still start.
    pub max_failures: usize,
}

impl Rollout {
    /// `--canary N`: N members first, then the rest.
    pub fn canary(n: usize) -> Rollout {
        Rollout {
            stages: vec![StageEnd::Count(n)],
            max_failures: 0,
        }
    }

    /// The members (by position, out of `members`) of each stage, in
    /// order; stages that would be empty are left out, and the members
    /// after the last stage's end form one more.
    pub fn cut(&self, members: usize) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        let ends = self.stages.iter().map(|s| match *s {
            StageEnd::Count(n) => n.min(members),
            StageEnd::Percent(p) => (members * p as usize).div_ceil(100),
        });
        for end in ends.chain([members]) {
            if end > start {
                out.push(start..end);
                start = end;
            }
        }
        out
    }
}

/// The stages of one group's rollout, for `plan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStages {
    /// The group.
    pub group: String,
    /// Failed members a stage may have.
    pub max_failures: usize,
    /// Each stage's members, in order.
    pub stages: Vec<Vec<String>>,
}

/// One `rollout` entry as written: `1` or `"10%"` (or `"3"`).
#[derive(Deserialize, schemars::JsonSchema, Clone, Debug)]
#[serde(untagged)]
pub(super) enum RawStage {
    Number(i64),
    Text(String),
}

/// Reads `rollout` and `max_failures`. Pure.
pub(super) fn rollout(raw: &[RawStage], max_failures: Option<i64>) -> Result<Rollout, String> {
    if raw.is_empty() {
        return Err("is empty: give the stages, e.g. [1, \"10%\", \"100%\"]".into());
    }
    let stages = raw
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let bad = |shown: String| {
                format!(
                    "stage {} ({shown}): give a number of members from 1 up, or a share \
                     from \"1%\" to \"100%\"",
                    i + 1
                )
            };
            match s {
                RawStage::Number(n) => usize::try_from(*n)
                    .ok()
                    .filter(|n| *n >= 1)
                    .map(StageEnd::Count)
                    .ok_or_else(|| bad(n.to_string())),
                RawStage::Text(t) => match t.trim().strip_suffix('%') {
                    Some(p) => p
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|p| (1..=100).contains(p))
                        .map(StageEnd::Percent)
                        .ok_or_else(|| bad(format!("{t:?}"))),
                    None => t
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .map(StageEnd::Count)
                        .ok_or_else(|| bad(format!("{t:?}"))),
                },
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    let max_failures = match max_failures {
        None => 0,
        Some(n) => usize::try_from(n)
            .map_err(|_| format!("max_failures = {n}: give a number from 0 up"))?,
    };
    Ok(Rollout {
        stages,
        max_failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &[RawStage]) -> Rollout {
        rollout(raw, None).unwrap()
    }

    #[test]
    fn stages_are_cut_by_count_and_share_never_empty() {
        let r = parsed(&[
            RawStage::Number(1),
            RawStage::Text("10%".into()),
            RawStage::Text("100%".into()),
        ]);
        assert_eq!(r.cut(20), [0..1, 1..2, 2..20]);
        // 10% of 5 rounds up to 1: that stage is empty and left out.
        assert_eq!(r.cut(5), [0..1, 1..5]);
        assert_eq!(r.cut(1), vec![0..1_usize]);
        assert!(r.cut(0).is_empty());
        // Members after the last end still run, in a last stage.
        assert_eq!(parsed(&[RawStage::Text("2".into())]).cut(5), [0..2, 2..5]);
        assert_eq!(Rollout::canary(3).cut(10), [0..3, 3..10]);
        assert_eq!(Rollout::canary(30).cut(10), vec![0..10_usize]);
    }

    #[test]
    fn bad_stages_are_named() {
        for (raw, expected) in [
            (RawStage::Number(0), "stage 1 (0)"),
            (RawStage::Text("0%".into()), "stage 1 (\"0%\")"),
            (RawStage::Text("150%".into()), "stage 1 (\"150%\")"),
            (RawStage::Text("some".into()), "stage 1 (\"some\")"),
        ] {
            let e = rollout(&[raw], None).unwrap_err();
            assert!(e.contains(expected), "{e}");
        }
        assert!(rollout(&[], None).unwrap_err().contains("is empty"));
        assert!(
            rollout(&[RawStage::Number(1)], Some(-1))
                .unwrap_err()
                .contains("max_failures = -1")
        );
        assert_eq!(
            rollout(&[RawStage::Number(1)], Some(2))
                .unwrap()
                .max_failures,
            2
        );
    }
}
