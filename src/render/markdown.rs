//! `migrate plan --format markdown`: the deploy plan as a pull-request
//! comment — a table per database, the findings under it, partition
//! maintenance and rollout stages as text. Pure.

use std::fmt::Write as _;

use crate::config::rollout::GroupStages;
use crate::finding::Level;
use crate::plan::DeployPlan;
use crate::script::TransactionMode;

/// A table cell: pipes and line breaks would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The plan as Markdown.
pub fn deploy_plan(plan: &DeployPlan, rollouts: &[GroupStages]) -> String {
    let mut out = String::from("## strata plan\n\n");
    let steps: usize = plan.databases.iter().map(|p| p.steps.len()).sum();
    let findings = plan
        .databases
        .iter()
        .flat_map(|p| &p.steps)
        .flat_map(|s| &s.findings);
    let (mut warnings, mut errors) = (0, 0);
    for f in findings {
        match f.level {
            Level::Error => errors += 1,
            Level::Warning => warnings += 1,
            Level::Info => {}
        }
    }
    let _ = writeln!(
        out,
        "{steps} step{} over {} database{}; {errors} error{} and {warnings} warning{} in the \
         findings.\n",
        if steps == 1 { "" } else { "s" },
        plan.databases.len(),
        if plan.databases.len() == 1 { "" } else { "s" },
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
    );
    for p in &plan.databases {
        let _ = writeln!(out, "### {} ({})\n", p.database, p.kind);
        if p.steps.is_empty() {
            out.push_str("Nothing to do.\n\n");
            continue;
        }
        out.push_str("| | version | description | file | notes |\n|---|---|---|---|---|\n");
        for s in &p.steps {
            let mut notes = Vec::new();
            if p.kind == crate::kind::Kind::Postgres && s.mode == TransactionMode::NoTransaction {
                notes.push("no transaction".to_string());
            }
            if let Some(t) = &s.lock_timeout {
                notes.push(format!("lock timeout {t}"));
            }
            if let Some(why) = &s.skip {
                notes.push(format!("recorded without running: {why}"));
            }
            notes.extend(s.operations.iter().map(|o| format!("`{o}`")));
            let mark = match s.findings.iter().map(|f| f.level).max() {
                Some(Level::Error) => "🛑",
                Some(Level::Warning) => "⚠️",
                _ => "",
            };
            let _ = writeln!(
                out,
                "| {mark} | {} | {} | `{}` | {} |",
                s.version,
                cell(&s.description),
                cell(&s.file),
                cell(&notes.join("; "))
            );
        }
        let found: Vec<_> = p.steps.iter().flat_map(|s| &s.findings).collect();
        if !found.is_empty() {
            out.push_str("\n**Findings**\n\n");
            for f in found {
                let _ = writeln!(
                    out,
                    "- {} `{}:{}` {}: {}",
                    f.level,
                    f.file,
                    f.line,
                    f.rule,
                    f.message.replace('\n', " ")
                );
            }
        }
        out.push('\n');
    }
    if !plan.partitions.is_empty() {
        let _ = writeln!(
            out,
            "### Partition maintenance\n\n```text\n{}```\n",
            super::partition_plans(&plan.partitions)
        );
    }
    if !rollouts.is_empty() {
        let _ = writeln!(
            out,
            "### Rollouts\n\n```text\n{}```\n",
            super::rollouts(rollouts)
        );
    }
    out
}
