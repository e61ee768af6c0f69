//! File names and file text, before any kind is known: `V<version>__<description>.<ext>`
//! parsing and the two checksum normalisations. Pure and std-only, because
//! the `embed!` macro compiles this same file to check embedded folders
//! while the user's crate is being built.

/// Which side of the pair a file name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `V`: a migration.
    Migration,
    /// `U`: a rollback (undo).
    Rollback,
}

/// What a file name turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedName {
    /// Not a migration file at all (README.md, .gitkeep, …): ignored.
    Ignored,
    /// A well-formed `V`/`U` file name.
    Valid {
        /// `V` or `U`.
        prefix: Prefix,
        /// The numeric version.
        version: u64,
        /// The description, underscores turned into spaces.
        description: String,
    },
    /// Looks like a migration but is malformed; the string says how.
    Invalid(String),
}

/// The largest version: every kind's history stores versions as a signed
/// 64-bit integer (PostgreSQL's BIGINT), so one limit holds everywhere,
/// `import` included.
pub const MAX_VERSION: u64 = i64::MAX as u64;

/// Why a version is refused as too large, naming the limit.
pub fn too_large(version: &str) -> String {
    format!(
        "version {version} is too large: versions go up to {MAX_VERSION} (a signed 64-bit \
         integer, which every history stores them as)"
    )
}

/// [`parse_name`] for a kind whose files may have any of `exts` (the
/// first is named in messages about a wrong one).
pub fn parse_name_any(file_name: &str, exts: &[&str]) -> ParsedName {
    let own = file_name
        .rsplit_once('.')
        .and_then(|(_, e)| exts.iter().find(|x| e.eq_ignore_ascii_case(x)));
    parse_name(file_name, own.unwrap_or(&exts[0]))
}

/// Parses `V<version>__<description>.<ext>` / `U…`. Pure.
///
/// A file with the kind's extension must be a valid name (a misspelled
/// migration is never silently skipped); so must a `V<digits>__`/`U<digits>__`
/// name with another extension. Everything else is ignored.
pub fn parse_name(file_name: &str, ext: &str) -> ParsedName {
    if file_name.starts_with('.') {
        return ParsedName::Ignored;
    }
    let (stem, has_ext) = match file_name.rsplit_once('.') {
        Some((stem, e)) if e.eq_ignore_ascii_case(ext) => (stem, true),
        _ => (file_name, false),
    };
    let expected =
        format!("expected V<version>__<description>.{ext} or U<version>__<description>.{ext}");
    let prefix = match stem.chars().next() {
        Some('V') => Prefix::Migration,
        Some('U') => Prefix::Rollback,
        _ if has_ext => {
            return ParsedName::Invalid(format!("not a migration file name: {expected}"));
        }
        _ => return ParsedName::Ignored,
    };
    let rest = &stem[1..];
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    let after = &rest[digits.len()..];
    if !has_ext {
        // Only a name that clearly means to be a migration is refused.
        if !digits.is_empty() && after.starts_with("__") {
            return ParsedName::Invalid(format!("wrong extension: {expected}"));
        }
        return ParsedName::Ignored;
    }
    if digits.is_empty() {
        return ParsedName::Invalid(format!("no version number after the prefix: {expected}"));
    }
    let Some(description) = after.strip_prefix("__") else {
        return ParsedName::Invalid(format!(
            "the version must be followed by two underscores: {expected}"
        ));
    };
    // Underscores are shown as spaces: a description of nothing but those
    // and white space says nothing.
    if description.replace('_', " ").trim().is_empty() {
        return ParsedName::Invalid(format!("the description is empty: {expected}"));
    }
    let version = match digits.parse::<u64>() {
        Ok(0) => {
            return ParsedName::Invalid("version 0 is not allowed: versions start at 1".into());
        }
        Ok(v) if v <= MAX_VERSION => v,
        _ => return ParsedName::Invalid(too_large(digits)),
    };
    ParsedName::Valid {
        prefix,
        version,
        description: description.replace('_', " "),
    }
}

/// Removes a leading BOM and turns CRLF into LF; refuses non-UTF-8. Pure.
pub fn normalize(bytes: &[u8]) -> std::result::Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "is not valid UTF-8 (first bad byte at offset {}); save it as UTF-8",
            e.valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Ok(text.replace("\r\n", "\n"))
}

/// Every extension a kind's files may have; the first is the fallback used
/// to describe a name with an unknown extension.
pub const EXTENSIONS: &[&str] = &["sql", "cypher", "json", "yaml", "yml"];

/// Characters that must never reach a terminal raw from a file name:
/// control characters (a newline could forge a line of output) and the
/// bidirectional controls that reorder what is shown (U+202E …).
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A path as it may be printed: every [`is_hidden_char`] escaped
/// (`\n`, `\u{202e}`), everything else as is.
pub fn shown(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    if !text.chars().any(is_hidden_char) {
        return text.into_owned();
    }
    text.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if is_hidden_char(c) => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// Turns "Add user e-mail" into `add_user_e_mail`. Pure.
pub fn slug(description: &str) -> String {
    let mut out = String::new();
    for c in description.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_escaped_when_shown() {
        let p = std::path::Path::new("m/V1__a\nb\u{202e}lqs.sql");
        assert_eq!(shown(p), "m/V1__a\\nb\\u{202e}lqs.sql");
        assert_eq!(shown(std::path::Path::new("m/V1__ä.sql")), "m/V1__ä.sql");
    }

    #[test]
    fn a_description_of_underscores_and_spaces_is_empty() {
        // Found by fuzzing: "\u{c}_\u{c}" passed, and showed as blank.
        for name in ["V2__\u{c}_\u{c}.sql", "V2__ _ .sql", "V2_____.sql"] {
            assert!(
                matches!(parse_name(name, "sql"), ParsedName::Invalid(m) if m.contains("empty")),
                "{name:?}"
            );
        }
        assert!(matches!(
            parse_name("V2__a_b.sql", "sql"),
            ParsedName::Valid { version: 2, ref description, .. } if description == "a b"
        ));
    }
}
