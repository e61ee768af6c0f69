//! Drift of the live schema: what changed in a database since strata last
//! ran there, found by comparing a description of the live schema with the
//! one recorded after the last `up`, `down`, `baseline` or `repair
//! --accept-drift`.
//!
//! A [`Schema`] is a sorted map from an object (`column public.users.name`,
//! `field articles.title`, `payload index documents.user_id`) to a one-line
//! detail (`text NOT NULL`): canonical, so two descriptions of one schema
//! are equal byte for byte, and readable, so a [`Change`] is a line a
//! reviewer understands. Each backend describes its own kind; what is
//! compared, filtered and printed is here. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What `up` does when the live schema drifted (`on_drift`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDrift {
    /// Print the changes and go on (the default).
    #[default]
    Warn,
    /// Refuse to run any migration until the drift is accepted or undone.
    Refuse,
    /// Neither describe nor record the schema.
    Off,
}

impl OnDrift {
    /// Reads `"warn"`, `"refuse"` or `"off"`.
    pub fn parse(text: &str) -> Option<OnDrift> {
        match text.trim() {
            "warn" => Some(OnDrift::Warn),
            "refuse" => Some(OnDrift::Refuse),
            "off" => Some(OnDrift::Off),
            _ => None,
        }
    }
}

/// A partitioned table whose children partition maintenance creates,
/// detaches and drops: they are not drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    /// The parent, `schema.table`.
    pub parent: String,
    /// Its children's names as a pattern (`events_*_*`), in any schema
    /// (detached ones may move to a `retention_schema`).
    pub children: String,
}

/// What a database's description covers (`schemas`, `drift_ignore`,
/// `drift_include_grants` and the partition policies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// What `up` does on drift.
    pub on_drift: OnDrift,
    /// PostgreSQL: the schemas described; empty: every non-system schema.
    pub schemas: Vec<String>,
    /// Objects left out: `*` matches any run of characters, matched
    /// against the object's owner (`public.audit_*`, `logs-*`).
    pub ignore: Vec<String>,
    /// PostgreSQL: owners and privileges too.
    pub include_grants: bool,
    /// Partitioned parents kept by `[[partitions]]` policies.
    pub managed: Vec<Managed>,
}

/// One described object as a backend reads it: the object it belongs to
/// (a table, an index, a collection: what ignore patterns match), its key
/// and its detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The table, index or collection it belongs to.
    pub owner: String,
    /// `column public.users.name`.
    pub key: String,
    /// `text NOT NULL`.
    pub detail: String,
}

impl Entry {
    /// An entry; the detail's runs of white space become one space, so a
    /// server's line breaks in a definition do not matter.
    pub fn new(owner: impl Into<String>, key: impl Into<String>, detail: impl AsRef<str>) -> Self {
        Entry {
            owner: owner.into(),
            key: key.into(),
            detail: detail
                .as_ref()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// A canonical description of a database's schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Object → detail, sorted.
    pub objects: BTreeMap<String, String>,
}

impl Schema {
    /// The entries not left out by `ignore` patterns (matched against
    /// their owner) or `own` names (strata's own objects, matched exactly).
    pub fn from_entries(entries: Vec<Entry>, ignore: &[String], own: &[&str]) -> Schema {
        Schema {
            objects: entries
                .into_iter()
                .filter(|e| !own.contains(&e.owner.as_str()))
                .filter(|e| !ignore.iter().any(|p| matches(p, &e.owner)))
                .map(|e| (e.key, e.detail))
                .collect(),
        }
    }

    /// The description as stored: compact JSON, keys sorted.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.objects).expect("a map of strings")
    }

    /// Reads a stored description.
    pub fn from_json(text: &str) -> Result<Schema, String> {
        serde_json::from_str(text)
            .map(|objects| Schema { objects })
            .map_err(|e| format!("the recorded schema is not a description strata wrote: {e}"))
    }

    /// SHA-256 of [`to_json`](Self::to_json), hex.
    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(self.to_json().as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The schema recorded after the last run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The description.
    pub schema: Schema,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who recorded it (`applied_by` of that run).
    pub recorded_by: String,
}

impl Recorded {
    /// The stored form where the description is kept as a document
    /// (Elasticsearch, Qdrant): SHA-256, description, when and by whom.
    pub fn document(schema: &Schema, by: &str) -> serde_json::Value {
        serde_json::json!({
            "sha256": schema.sha256(),
            "description": schema.to_json(),
            "recorded_at": Utc::now().to_rfc3339(),
            "recorded_by": by,
        })
    }

    /// Reads a [`document`](Self::document) back.
    pub fn from_document(doc: &serde_json::Value) -> Result<Recorded, String> {
        let text = |k: &str| doc.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        Ok(Recorded {
            schema: Schema::from_json(text("description"))?,
            recorded_at: DateTime::parse_from_rfc3339(text("recorded_at"))
                .map_err(|e| format!("recorded_at: {e}"))?
                .with_timezone(&Utc),
            recorded_by: text("recorded_by").to_string(),
        })
    }
}

/// One difference between the recorded and the live schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum Change {
    /// In the live schema only.
    Added {
        /// The object.
        object: String,
        /// Its detail.
        detail: String,
    },
    /// Recorded, gone from the live schema.
    Removed {
        /// The object.
        object: String,
        /// Its recorded detail.
        detail: String,
    },
    /// In both, different.
    Changed {
        /// The object.
        object: String,
        /// As recorded.
        from: String,
        /// As it is now.
        to: String,
    },
}

impl std::fmt::Display for Change {
    /// `+ object: detail`, `- object: detail`, `~ object: from → to`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let with = |detail: &str| match detail {
            "" => String::new(),
            d => format!(": {d}"),
        };
        match self {
            Change::Added { object, detail } => write!(f, "+ {object}{}", with(detail)),
            Change::Removed { object, detail } => write!(f, "- {object}{}", with(detail)),
            Change::Changed { object, from, to } => write!(f, "~ {object}: {from} → {to}"),
        }
    }
}

/// Every difference from `expected` to `live`, in object order.
pub fn diff(expected: &Schema, live: &Schema) -> Vec<Change> {
    let mut out = Vec::new();
    let mut old = expected.objects.iter().peekable();
    let mut new = live.objects.iter().peekable();
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        match order {
            std::cmp::Ordering::Less => {
                let (object, detail) = old.next().expect("peeked");
                out.push(Change::Removed {
                    object: object.clone(),
                    detail: detail.clone(),
                });
            }
            std::cmp::Ordering::Greater => {
                let (object, detail) = new.next().expect("peeked");
                out.push(Change::Added {
                    object: object.clone(),
                    detail: detail.clone(),
                });
            }
            std::cmp::Ordering::Equal => {
                let ((object, from), (_, to)) =
                    (old.next().expect("peeked"), new.next().expect("peeked"));
                if from != to {
                    out.push(Change::Changed {
                        object: object.clone(),
                        from: from.clone(),
                        to: to.clone(),
                    });
                }
            }
        }
    }
    out
}

/// A database's drift, as `drift` and `status` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DriftState {
    /// No schema recorded yet (no run since strata started recording).
    NotRecorded,
    /// The live schema is the recorded one.
    None {
        /// When it was recorded.
        recorded_at: DateTime<Utc>,
    },
    /// The live schema differs.
    Drifted {
        /// When the expected schema was recorded.
        recorded_at: DateTime<Utc>,
        /// By whom.
        recorded_by: String,
        /// What differs.
        changes: Vec<Change>,
    },
    /// `on_drift = "off"`.
    Off,
}

impl DriftState {
    /// The state of `live` against what was recorded.
    pub fn of(recorded: Option<&Recorded>, live: &Schema) -> DriftState {
        let Some(r) = recorded else {
            return DriftState::NotRecorded;
        };
        let changes = diff(&r.schema, live);
        if changes.is_empty() {
            DriftState::None {
                recorded_at: r.recorded_at,
            }
        } else {
            DriftState::Drifted {
                recorded_at: r.recorded_at,
                recorded_by: r.recorded_by.clone(),
                changes,
            }
        }
    }

    /// The changes, when drifted.
    pub fn changes(&self) -> &[Change] {
        match self {
            DriftState::Drifted { changes, .. } => changes,
            _ => &[],
        }
    }

    /// One line for `status`.
    pub fn summary(&self) -> String {
        match self {
            DriftState::NotRecorded => {
                "not recorded yet (the next run records it; or `migrate repair --accept-drift`)"
                    .to_string()
            }
            DriftState::None { .. } => "none".to_string(),
            DriftState::Drifted { changes, .. } => format!(
                "{} change(s) since the last run (`migrate drift` shows them)",
                changes.len()
            ),
            DriftState::Off => "not checked (on_drift = \"off\")".to_string(),
        }
    }
}

/// One database's drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftReport {
    /// The configured database name.
    pub database: String,
    /// What was found.
    #[serde(flatten)]
    pub state: DriftState,
}

/// Whether `name` matches `pattern`, where `*` matches any run of
/// characters and every other character itself. Pure.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer walk, backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if i < p.len() && p[i] == n[j] {
            i += 1;
            j += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// The pattern a partition naming (`{table}_{YYYY}_{MM}`) gives the
/// children of `table`: every other placeholder is `*`, and a trailing `*`
/// covers sub-partitions.
pub fn children_pattern(naming: &str, table: &str) -> String {
    let mut out = String::new();
    let mut rest = naming.replace("{table}", table);
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push('*');
        rest = rest[open + close + 1..].to_string();
    }
    out.push_str(&rest);
    out.push('*');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(pairs: &[(&str, &str)]) -> Schema {
        Schema {
            objects: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn diff_lines_read_as_changes() {
        let old = schema(&[
            ("column public.users.name", "text NOT NULL"),
            ("payload index documents.user_id", "keyword"),
            ("table public.users", ""),
        ]);
        let new = schema(&[
            ("column public.users.name", "text NULL"),
            (
                "index public.users_email_lower",
                "CREATE INDEX users_email_lower ON public.users USING btree (lower(email))",
            ),
            ("table public.users", ""),
        ]);
        let lines: Vec<String> = diff(&old, &new).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            lines,
            [
                "~ column public.users.name: text NOT NULL → text NULL",
                "+ index public.users_email_lower: CREATE INDEX users_email_lower ON public.users USING btree (lower(email))",
                "- payload index documents.user_id: keyword",
            ]
        );
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn descriptions_are_canonical_and_round_trip() {
        let a = Schema::from_entries(
            vec![
                Entry::new("b", "table b", "x\n   y"),
                Entry::new("a", "table a", ""),
            ],
            &[],
            &[],
        );
        assert_eq!(a.to_json(), r#"{"table a":"","table b":"x y"}"#);
        assert_eq!(Schema::from_json(&a.to_json()).unwrap(), a);
        assert_eq!(a.sha256().len(), 64);
        assert!(Schema::from_json("[1]").is_err());
    }

    #[test]
    fn ignored_and_own_objects_are_left_out() {
        let s = Schema::from_entries(
            vec![
                Entry::new("public.audit_2026", "table public.audit_2026", ""),
                Entry::new(
                    "public.schema_migrations",
                    "table public.schema_migrations",
                    "",
                ),
                Entry::new("public.users", "table public.users", ""),
            ],
            &["public.audit_*".to_string()],
            &["public.schema_migrations"],
        );
        assert_eq!(s.objects.keys().collect::<Vec<_>>(), ["table public.users"]);
    }

    #[test]
    fn patterns_match_like_globs() {
        assert!(matches("logs-*", "logs-2026.12"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(!matches("logs-*", "log"));
        assert!(matches("*.events_*_*", "archive.events_2026_01"));
    }

    #[test]
    fn partition_children_follow_the_naming() {
        let p = children_pattern("{table}_{YYYY}_{MM}", "events");
        assert_eq!(p, "events_*_**");
        assert!(matches(&p, "events_2026_01"));
        assert!(matches(&p, "events_2026_01_a"));
        assert!(!matches(&p, "events"));
        assert!(!matches(&p, "events_archive"));
        assert_eq!(children_pattern("{table}_{IYYY}_w{IW}", "t"), "t_*_w**");
    }

    #[test]
    fn states_summarise() {
        let at = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        let r = Recorded {
            schema: schema(&[("table a", "")]),
            recorded_at: at,
            recorded_by: "me".into(),
        };
        assert_eq!(DriftState::of(None, &r.schema), DriftState::NotRecorded);
        assert_eq!(
            DriftState::of(Some(&r), &r.schema),
            DriftState::None { recorded_at: at }
        );
        let d = DriftState::of(Some(&r), &schema(&[]));
        assert_eq!(d.changes().len(), 1);
        assert!(d.summary().starts_with("1 change(s)"));
        let json = serde_json::to_value(DriftReport {
            database: "app".into(),
            state: d,
        })
        .unwrap();
        assert_eq!(json["state"], "drifted");
        assert_eq!(json["changes"][0]["change"], "removed");
    }
}
