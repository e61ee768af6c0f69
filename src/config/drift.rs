//! `on_drift`, `schemas`, `drift_ignore` and `drift_include_grants`: what a
//! database's schema description covers and what `up` does on drift.

use serde::Deserialize;

use crate::drift::{OnDrift, Scope};
use crate::kind::Kind;

/// The drift settings of a database or group, as written.
#[derive(Deserialize, Clone, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrift {
    pub(super) on_drift: Option<String>,
    pub(super) schemas: Option<Vec<String>>,
    pub(super) drift_ignore: Option<Vec<String>>,
    pub(super) drift_include_grants: Option<bool>,
}

/// Reads the settings; an error names the key and says why. Pure.
pub(super) fn scope(raw: &RawDrift, kind: Kind) -> Result<Scope, (&'static str, String)> {
    let on_drift = match &raw.on_drift {
        None => OnDrift::default(),
        Some(text) => OnDrift::parse(text).ok_or((
            "on_drift",
            format!("{text:?}: expected \"warn\", \"refuse\" or \"off\""),
        ))?,
    };
    if kind != Kind::Postgres {
        for (key, set) in [
            ("schemas", raw.schemas.is_some()),
            ("drift_include_grants", raw.drift_include_grants.is_some()),
        ] {
            if set {
                return Err((key, "is for PostgreSQL databases only".to_string()));
            }
        }
    }
    let schemas = raw.schemas.clone().unwrap_or_default();
    if let Some(bad) = schemas.iter().find(|s| !super::names::plain_identifier(s)) {
        return Err((
            "schemas",
            format!("{bad:?} is not a plain schema name (letters, digits, _; at most 63)"),
        ));
    }
    let ignore = raw.drift_ignore.clone().unwrap_or_default();
    if let Some(bad) = ignore.iter().find(|p| p.trim().is_empty()) {
        return Err(("drift_ignore", format!("{bad:?}: an empty pattern")));
    }
    Ok(Scope {
        on_drift,
        schemas,
        ignore,
        include_grants: raw.drift_include_grants.unwrap_or(false),
        managed: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_with_their_key() {
        let raw = RawDrift {
            on_drift: Some("refuse".into()),
            schemas: Some(vec!["app".into()]),
            drift_ignore: Some(vec!["public.tmp_*".into()]),
            drift_include_grants: Some(true),
        };
        let s = scope(&raw, Kind::Postgres).unwrap();
        assert_eq!(s.on_drift, OnDrift::Refuse);
        assert!(s.include_grants);
        assert_eq!(scope(&raw, Kind::Qdrant).unwrap_err().0, "schemas");
        let bad = RawDrift {
            on_drift: Some("block".into()),
            ..RawDrift::default()
        };
        assert!(scope(&bad, Kind::Neo4j).unwrap_err().1.contains("\"warn\""));
        let bad = RawDrift {
            schemas: Some(vec!["a;drop".into()]),
            ..RawDrift::default()
        };
        assert_eq!(scope(&bad, Kind::Postgres).unwrap_err().0, "schemas");
    }
}
