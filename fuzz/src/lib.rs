//! The properties the fuzz targets check, one function per target: each
//! takes the fuzzer's bytes and panics when a property fails. Besides "never
//! panics", every target checks something about what the code returns.

use strata::backend::{elasticsearch, qdrant};
use strata::operations::OpError;
use strata::names::{ParsedName, Prefix, parse_name};
use strata::split::{SplitError, Statement, line_of};

/// `V<version>__<description>.<ext>` parsing: a valid name keeps to the
/// documented limits and survives being written back out.
pub fn file_name(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(name) = std::str::from_utf8(rest) else {
        return;
    };
    let ext = ["sql", "cypher", "json"][pick as usize % 3];
    let ParsedName::Valid {
        prefix,
        version,
        description,
    } = parse_name(name, ext)
    else {
        return;
    };
    assert!(
        (1..=i64::MAX as u64).contains(&version),
        "{name:?}: version {version}"
    );
    assert!(
        !description.trim().is_empty(),
        "{name:?}: empty description"
    );
    let letter = match prefix {
        Prefix::Migration => 'V',
        Prefix::Rollback => 'U',
    };
    let written = format!("{letter}{version}__{}.{ext}", description.replace(' ', "_"));
    assert_eq!(
        parse_name(&written, ext),
        ParsedName::Valid {
            prefix,
            version,
            description: description.clone(),
        },
        "{name:?} written back as {written:?}"
    );
}

/// A statement splitter (SQL or Cypher): statements are non-empty, in
/// order, found in the script where they say they are, and splitting them
/// again once rejoined gives the same statements.
pub fn split(data: &[u8], splitter: for<'a> fn(&'a str) -> Result<Vec<Statement<'a>>, SplitError>) {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    let lines = script.lines().count() + 1;
    let statements = match splitter(script) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                (1..=lines).contains(&e.line),
                "{script:?}: error on line {} of {lines}",
                e.line
            );
            return;
        }
    };
    let mut end = 0;
    for s in &statements {
        assert!(!s.text.is_empty(), "{script:?}: an empty statement");
        // Trimmed of the white space both servers' lexers skip (a
        // non-ASCII space may be part of a PostgreSQL identifier).
        let space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
        assert_eq!(
            s.text,
            s.text.trim_matches(space),
            "{script:?}: untrimmed {:?}",
            s.text
        );
        assert!(s.offset >= end, "{script:?}: statements overlap");
        assert!(
            script[s.offset..].starts_with(s.text),
            "{script:?}: {:?} is not at offset {}",
            s.text,
            s.offset
        );
        assert!((1..=lines).contains(&line_of(script, s.offset)));
        end = s.offset + s.text.len();
    }
    let texts: Vec<&str> = statements.iter().map(|s| s.text).collect();
    let rejoined = texts.join("\n;\n");
    let again: Vec<&str> = splitter(&rejoined)
        .unwrap_or_else(|e| panic!("{script:?}: rejoined {rejoined:?} fails: {e:?}"))
        .iter()
        .map(|s| s.text)
        .collect();
    assert_eq!(again, texts, "{script:?}: rejoined as {rejoined:?}");
}

fn error_path(content: &str, e: &OpError) {
    assert!(
        e.path.starts_with('$'),
        "{content:?}: error path {:?}",
        e.path
    );
    assert!(
        !e.message.is_empty(),
        "{content:?}: an error without a message"
    );
}

/// Elasticsearch operation files: an error has a JSON path and a message;
/// a file that parses plays on an empty cluster model without panicking.
pub fn elasticsearch_ops(data: &[u8]) {
    let Ok(content) = std::str::from_utf8(data) else {
        return;
    };
    match elasticsearch::ops::parse(content) {
        Err(e) => error_path(content, &e),
        Ok(ops) => {
            let mut cluster = elasticsearch::state::Cluster::default();
            for op in &ops {
                if cluster.apply(op).is_err() {
                    break;
                }
            }
        }
    }
}

/// Qdrant operation files: as for Elasticsearch.
pub fn qdrant_ops(data: &[u8]) {
    let Ok(content) = std::str::from_utf8(data) else {
        return;
    };
    match qdrant::ops::parse(content) {
        Err(e) => error_path(content, &e),
        Ok(ops) => {
            let mut cluster = qdrant::state::Cluster::default();
            for op in &ops {
                if cluster.apply(op).is_err() {
                    break;
                }
            }
        }
    }
}
