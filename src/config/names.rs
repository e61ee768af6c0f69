//! What names the config may give databases and history stores: plain
//! identifiers, so every backend can quote them safely.

pub(super) fn validate_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err("database names may hold only letters, digits, '_' and '-'".to_string())
    }
}

/// `name` or `schema.name`, each part a plain identifier, so it can be
/// quoted safely wherever a backend needs it.
pub fn validate_history_table(name: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    if (1..=2).contains(&parts.len()) && parts.iter().all(|p| plain_identifier(p)) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid name: use letters, digits and '_', optionally schema.table"
        ))
    }
}

/// Letters, digits and `_`, not starting with a digit, at most 63
/// characters: a name any backend can quote safely.
pub(super) fn plain_identifier(p: &str) -> bool {
    let mut chars = p.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && p.len() <= 63
}

/// A plain identifier, so a label can go into Cypher unquoted.
pub(super) fn validate_label(name: &str) -> std::result::Result<(), String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid label: use letters, digits and '_'"
        ))
    }
}

/// A lowercase Elasticsearch index name that needs no escaping in a path.
pub(super) fn validate_index_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['_', '-', '+'])
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid index name: use lowercase letters, digits, '_', '-' and '.'"
        ))
    }
}
