//! The partition planner, one behaviour per test, without a server.
use super::*;
use crate::partition::calendar::Interval;
use crate::partition::policy::Retention;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn policy(premake: u32, retention: Option<u32>, mode: RetentionMode) -> Policy {
    Policy {
        database: "app".into(),
        schema: "public".into(),
        table: "audit_logs".into(),
        interval: Interval::Month,
        premake,
        retention: retention.map(|amount| Retention {
            amount,
            unit: crate::partition::calendar::Unit::Month,
        }),
        retention_mode: mode,
        naming: "{table}_{YYYY}_{MM}".into(),
        max_create_per_run: 120,
        move_batch_rows: 10_000,
    }
}

fn child(month: &str) -> Child {
    let from = at(&format!("{month}-01T00:00:00Z"));
    Child {
        schema: "public".into(),
        name: format!("audit_logs_{}", month.replace('-', "_")),
        bound: Bound::Range {
            from,
            to: Interval::Month.step(from, 1),
        },
        detach_pending: false,
    }
}

fn names(p: &TablePlan) -> Vec<String> {
    p.actions
        .iter()
        .map(|a| match a {
            Action::Create { name, .. } => format!("+{name}"),
            Action::Detach { name, .. } => format!("-{name}"),
            Action::Finalize { name, .. } => format!("!{name}"),
        })
        .collect()
}

#[test]
fn a_month_made_by_hand_in_local_time_leaves_no_hole_before_the_next() {
    // Pacific/Auckland (+13): December 2026 local is 11:00 UTC to 11:00 UTC.
    let dba = Child {
        schema: "public".into(),
        name: "audit_logs_2026_12".into(),
        bound: Bound::Range {
            from: at("2026-11-30T11:00:00Z"),
            to: at("2026-12-31T11:00:00Z"),
        },
        detach_pending: false,
    };
    let taken = BTreeSet::from([dba.name.clone()]);
    let p = plan(
        &policy(2, None, RetentionMode::Drop),
        &[dba],
        &taken,
        &BTreeSet::new(),
        at("2026-12-10T00:00:00Z"),
    );
    let creates: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Create { name, from, to, .. } => Some((name.clone(), *from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        creates[0],
        (
            "audit_logs_2027_01".to_string(),
            at("2026-12-31T11:00:00Z"),
            at("2027-02-01T00:00:00Z")
        )
    );
    assert_eq!(creates[1].0, "audit_logs_2027_02");
    // America/New_York (-5): the next month starts 05:00 UTC.
    let ny = Child {
        schema: "public".into(),
        name: "audit_logs_2026_12".into(),
        bound: Bound::Range {
            from: at("2026-12-01T05:00:00Z"),
            to: at("2027-01-01T05:00:00Z"),
        },
        detach_pending: false,
    };
    let p = plan(
        &policy(1, None, RetentionMode::Drop),
        &[ny],
        &taken,
        &BTreeSet::new(),
        at("2026-12-10T00:00:00Z"),
    );
    assert!(p.actions.iter().any(|a| matches!(a,
        Action::Create { name, from, .. }
            if name == "audit_logs_2027_01" && *from == at("2027-01-01T05:00:00Z"))));
}

#[test]
fn bounds_parse_from_the_catalog_text() {
    assert_eq!(parse_bound("DEFAULT"), Bound::Default);
    let tz =
        parse_bound("FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')");
    assert_eq!(
        tz,
        Bound::Range {
            from: at("2026-12-01T00:00:00Z"),
            to: at("2027-01-01T00:00:00Z")
        }
    );
    let ts = parse_bound("FOR VALUES FROM ('2026-12-01 00:00:00') TO ('2027-01-01 00:00:00')");
    assert_eq!(ts, tz);
    let date = parse_bound("FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')");
    assert_eq!(date, tz);
    // A zone other than UTC is still read correctly.
    let offset =
        parse_bound("FOR VALUES FROM ('2026-12-01 01:00:00+01') TO ('2027-01-01 01:00:00+01')");
    assert_eq!(offset, tz);
    assert!(matches!(
        parse_bound("FOR VALUES FROM (MINVALUE) TO ('2020-01-01 00:00:00+00')"),
        Bound::Other(_)
    ));
}

#[test]
fn creates_current_and_premade_partitions_across_the_year_end() {
    let p = plan(
        &policy(3, None, RetentionMode::Drop),
        &[],
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-11-24T10:00:00Z"),
    );
    assert_eq!(
        names(&p),
        [
            "+audit_logs_2026_11",
            "+audit_logs_2026_12",
            "+audit_logs_2027_01",
            "+audit_logs_2027_02"
        ]
    );
    // Last second of December: December is current.
    let p = plan(
        &policy(1, None, RetentionMode::Drop),
        &[],
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-12-31T23:59:59Z"),
    );
    assert_eq!(names(&p), ["+audit_logs_2026_12", "+audit_logs_2027_01"]);
}

#[test]
fn existing_partitions_make_a_second_run_a_no_op() {
    let existing: Vec<Child> = ["2026-11", "2026-12", "2027-01", "2027-02"]
        .iter()
        .map(|m| child(m))
        .collect();
    let p = plan(
        &policy(3, None, RetentionMode::Drop),
        &existing,
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-11-24T10:00:00Z"),
    );
    assert!(p.actions.is_empty(), "{p:?}");
}

#[test]
fn gaps_are_filled_and_retention_removes_only_the_expired() {
    let existing: Vec<Child> = ["2025-09", "2025-10", "2025-11", "2026-01", "2026-11"]
        .iter()
        .map(|m| child(m))
        .collect();
    let p = plan(
        &policy(1, Some(12), RetentionMode::Drop),
        &existing,
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-11-24T10:00:00Z"),
    );
    let n = names(&p);
    // Kept: 2025-11 .. 2026-11 (current plus 12 before); gaps filled in that window.
    assert!(n.contains(&"+audit_logs_2025_12".to_string()), "{n:?}");
    assert!(n.contains(&"+audit_logs_2026_10".to_string()), "{n:?}");
    assert!(n.contains(&"+audit_logs_2026_12".to_string()), "{n:?}");
    assert!(!n.iter().any(|x| x == "+audit_logs_2025_10"), "{n:?}");
    assert_eq!(
        n.iter().filter(|x| x.starts_with('-')).collect::<Vec<_>>(),
        ["-audit_logs_2025_09", "-audit_logs_2025_10"]
    );
    assert!(matches!(
        p.actions.last(),
        Some(Action::Detach {
            then: Then::Drop,
            ..
        })
    ));
}

#[test]
fn retention_never_touches_current_or_future_partitions() {
    let existing: Vec<Child> = ["2026-10", "2026-11", "2026-12"]
        .iter()
        .map(|m| child(m))
        .collect();
    let p = plan(
        &policy(1, Some(1), RetentionMode::Drop),
        &existing,
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-11-01T00:00:00Z"),
    );
    assert!(p.actions.is_empty(), "{:?}", names(&p));
    let p = plan(
        &policy(1, Some(1), RetentionMode::Drop),
        &existing,
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-12-15T00:00:00Z"),
    );
    assert_eq!(names(&p), ["+audit_logs_2027_01", "-audit_logs_2026_10"]);
}

#[test]
fn foreign_children_and_clashing_names_are_left_alone() {
    let mut wide = child("2026-11");
    wide.name = "audit_logs_q4".into();
    wide.bound = Bound::Range {
        from: at("2026-10-01T00:00:00Z"),
        to: at("2027-01-01T00:00:00Z"),
    };
    let default = Child {
        schema: "public".into(),
        name: "audit_logs_default".into(),
        bound: Bound::Default,
        detach_pending: false,
    };
    let taken: BTreeSet<String> = ["audit_logs_2027_01".to_string()].into();
    let p = plan(
        &policy(2, Some(3), RetentionMode::Drop),
        &[wide, default],
        &taken,
        &BTreeSet::new(),
        at("2026-11-24T00:00:00Z"),
    );
    // Nov and Dec are inside the quarter child; Jan's name is taken by a non-child.
    assert!(p.actions.is_empty(), "{:?}", names(&p));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("audit_logs_q4") && n.contains("left alone")),
        "{:?}",
        p.notes
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("audit_logs_2027_01 exists but is not a partition"))
    );
    assert!(p.notes.iter().any(|n| n.contains("DEFAULT")));
    // The wide child is never a retention candidate, however old.
    let p = plan(
        &policy(0, Some(1), RetentionMode::Drop),
        &p_children_wide(),
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2030-01-01T00:00:00Z"),
    );
    assert!(!p.actions.iter().any(|a| matches!(a, Action::Detach { .. })));
}

fn p_children_wide() -> Vec<Child> {
    vec![Child {
        schema: "public".into(),
        name: "audit_logs_old".into(),
        bound: Bound::Range {
            from: at("2020-01-01T00:00:00Z"),
            to: at("2021-01-01T00:00:00Z"),
        },
        detach_pending: false,
    }]
}

#[test]
fn a_half_detached_partition_inside_retention_is_kept() {
    let mut pending = child("2026-10");
    pending.detach_pending = true;
    let p = plan(
        &policy(0, Some(12), RetentionMode::Drop),
        &[pending, child("2026-11")],
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-11-02T00:00:00Z"),
    );
    assert_eq!(
        p.actions,
        [Action::Finalize {
            name: "audit_logs_2026_10".into(),
            then: Then::Keep { schema: None }
        }]
    );
    assert!(p.notes[0].contains("table kept"));
}

#[test]
fn detach_mode_keeps_tables_and_interrupted_detaches_are_finalized() {
    let mut pending = child("2025-01");
    pending.detach_pending = true;
    let existing = vec![pending, child("2025-02"), child("2026-11")];
    let mode = RetentionMode::Detach {
        schema: Some("archive".into()),
    };
    let p = plan(
        &policy(0, Some(6), mode),
        &existing,
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-11-02T00:00:00Z"),
    );
    assert_eq!(names(&p)[0], "!audit_logs_2025_01");
    assert!(p.actions.contains(&Action::Detach {
        name: "audit_logs_2025_02".into(),
        from: at("2025-02-01T00:00:00Z"),
        to: at("2025-03-01T00:00:00Z"),
        then: Then::Keep {
            schema: Some("archive".into())
        },
    }));
}

#[test]
fn a_clock_far_ahead_is_refused_rather_than_filling_thousands() {
    let existing = vec![child("2026-11")];
    let p = plan(
        &policy(3, None, RetentionMode::Drop),
        &existing,
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2040-01-15T00:00:00Z"),
    );
    assert!(p.actions.is_empty());
    let why = p.refused.unwrap();
    assert!(why.contains("would create 161 partitions"), "{why}");
    assert!(why.contains("2026-12-01 to 2040-04-01"), "{why}");
    assert!(why.contains("max_create_per_run = 120"), "{why}");
    // Within the cap, it plans as usual.
    let p = plan(
        &policy(3, None, RetentionMode::Drop),
        &existing,
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2027-06-15T00:00:00Z"),
    );
    assert_eq!(p.refused, None);
    assert_eq!(p.actions.len(), 10);
}

#[test]
fn a_staged_child_is_finished_not_avoided() {
    let taken: BTreeSet<String> = ["audit_logs_2026_11".to_string()].into();
    let p = plan(
        &policy(0, None, RetentionMode::Drop),
        &[],
        &taken,
        &taken,
        at("2026-11-24T00:00:00Z"),
    );
    assert_eq!(names(&p), ["+audit_logs_2026_11"]);
}

#[test]
fn every_interval_plans_current_and_premade_partitions_with_sorting_names() {
    let cases = [
        (
            Interval::Day,
            ["t_2026_11_30", "t_2026_12_01", "t_2026_12_02"],
        ),
        (Interval::Week, ["t_2026_w49", "t_2026_w50", "t_2026_w51"]),
        (Interval::Month, ["t_2026_11", "t_2026_12", "t_2027_01"]),
        (Interval::Quarter, ["t_2026_q4", "t_2027_q1", "t_2027_q2"]),
        (Interval::Year, ["t_2026", "t_2027", "t_2028"]),
    ];
    for (iv, expected) in cases {
        let p = Policy {
            table: "t".into(),
            interval: iv,
            naming: iv.default_naming().into(),
            ..policy(2, None, RetentionMode::Drop)
        };
        let planned = plan(
            &p,
            &[],
            &BTreeSet::new(),
            &BTreeSet::new(),
            at("2026-11-30T10:00:00Z"),
        );
        assert_eq!(names(&planned), expected.map(|n| format!("+{n}")), "{iv:?}");
    }
}

#[test]
fn retention_in_days_counts_back_from_the_current_interval() {
    let existing: Vec<Child> = ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
        .iter()
        .map(|m| child(m))
        .collect();
    let mut p = policy(0, None, RetentionMode::Drop);
    p.retention = Some(Retention {
        amount: 90,
        unit: crate::partition::calendar::Unit::Day,
    });
    // Current: November; 90 days back from 1 Nov is 3 Aug: July and
    // August have ended by then? July has, August has not.
    let planned = plan(
        &p,
        &existing,
        &BTreeSet::new(),
        &BTreeSet::new(),
        at("2026-11-24T00:00:00Z"),
    );
    assert_eq!(names(&planned), ["-audit_logs_2026_07"]);
}
