//! What the operation-file kinds (Elasticsearch, Qdrant) share: parsing a
//! JSON array of operations with a JSON path in every error, and playing
//! pending files on a model of the live server before anything runs.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use std::marker::PhantomData;

use crate::kind::Kind;
use crate::script::{FileError, Format, Reading, Script, TransactionMode};
use crate::step::Step;

/// An error in a file, at a JSON path (`$[2].put_mapping.index`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// Where, as a JSON path; `$` is the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// An operation of a file.
pub trait Operation: DeserializeOwned {
    /// Its name as written in files (`create_index`).
    fn name(&self) -> &'static str;

    /// Checks what serde cannot (names, ranges): the JSON path under the
    /// operation (`.index`) and why, on failure. Pure.
    fn check(&self) -> std::result::Result<(), (String, String)>;

    /// One line for plans: `create_index messages_v1`.
    fn describe(&self) -> String;

    /// The data file it reads, relative to its file's folder, if any.
    fn data_file(&self) -> Option<&str> {
        None
    }
}

/// How an operation-file kind's files are read: the whole list must parse
/// now, not half-way through a run, and nothing in it is transactional.
pub struct OperationFormat<Op> {
    kind: Kind,
    operations: PhantomData<fn() -> Op>,
}

impl<Op> OperationFormat<Op> {
    /// The format of `kind`, whose files hold `Op`s.
    pub const fn new(kind: Kind) -> Self {
        OperationFormat {
            kind,
            operations: PhantomData,
        }
    }
}

impl<Op: Operation> Format for OperationFormat<Op> {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn read(&self, content: &str) -> std::result::Result<Reading, FileError> {
        let ops: Vec<Op> = parse(content).map_err(|e| e.to_string())?;
        if ops.is_empty() {
            return Err(OpError {
                path: "$".into(),
                message: "holds no operation; a migration must change something (an empty \
                          list is allowed in a rollback, for a change that cannot be undone)"
                    .into(),
            }
            .to_string()
            .into());
        }
        Ok(Reading {
            mode: TransactionMode::NoTransaction,
            operations: ops.iter().map(Operation::describe).collect(),
        })
    }

    fn is_noop(&self, content: &str) -> bool {
        serde_json::from_str::<Vec<serde_json::Value>>(content).is_ok_and(|ops| ops.is_empty())
    }

    fn data_files(&self, content: &str) -> Vec<String> {
        let mut files: Vec<String> = Vec::new();
        for op in parse::<Op>(content).unwrap_or_default() {
            if let Some(f) = op.data_file()
                && !files.iter().any(|g| g == f)
            {
                files.push(f.to_string());
            }
        }
        files
    }

    fn yaml_to_json(&self, content: &str) -> std::result::Result<String, FileError> {
        yaml_to_json::<Op>(content).map_err(|e| e.to_string().into())
    }
}

/// A YAML operation list as JSON text, after it was read into `Op`s
/// exactly as a JSON file is (the same model, the same checks). A YAML
/// syntax error names serde_yaml's line and column; an error in an
/// operation names its JSON path and the line its `- ` item starts on.
/// Pure.
pub fn yaml_to_json<Op: Operation>(content: &str) -> std::result::Result<String, OpError> {
    let value: serde_json::Value = serde_yaml::from_str(content).map_err(|e| OpError {
        path: "$".into(),
        message: e.to_string(),
    })?;
    let at_line = |e: OpError| match yaml_item_line(content, &e.path) {
        Some(line) => OpError {
            message: format!("{} (the operation at line {line})", e.message),
            ..e
        },
        None => e,
    };
    let ops: Vec<Op> = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        at_line(OpError {
            path: json_path(&e.path().to_string()),
            message: e.inner().to_string(),
        })
    })?;
    check_all(&ops).map_err(at_line)?;
    Ok(serde_json::to_string_pretty(&value).expect("a JSON value"))
}

/// The line on which the operation a JSON path (`$[2]…`) points into
/// starts, in a YAML block sequence (`- ` at the start of a line). Pure.
fn yaml_item_line(content: &str, path: &str) -> Option<usize> {
    let index: usize = path.strip_prefix("$[")?.split(']').next()?.parse().ok()?;
    content
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("- ") || *l == "-")
        .nth(index)
        .map(|(i, _)| i + 1)
}

/// A model of the live server that pending operations are played on.
pub trait Model<Op> {
    /// Applies one operation, or says why the server would refuse it: the
    /// JSON path under the operation and why.
    fn apply(&mut self, op: &Op) -> std::result::Result<(), (String, String)>;
}

/// Turns serde_path_to_error's `[1].create_index.index` into `$[1].create_index.index`.
fn json_path(path: &str) -> String {
    match path {
        "" | "." => "$".to_string(),
        p if p.starts_with('[') => format!("${p}"),
        p => format!("$.{p}"),
    }
}

/// Parses and checks a whole file. Pure.
pub fn parse<Op: Operation>(content: &str) -> std::result::Result<Vec<Op>, OpError> {
    let de = &mut serde_json::Deserializer::from_str(content);
    // serde_json's message ends with " at line L column C": kept, it helps.
    let ops: Vec<Op> = serde_path_to_error::deserialize(de).map_err(|e| OpError {
        path: json_path(&e.path().to_string()),
        message: e.inner().to_string(),
    })?;
    check_all(&ops)?;
    Ok(ops)
}

/// What serde cannot check, for each operation in order.
fn check_all<Op: Operation>(ops: &[Op]) -> std::result::Result<(), OpError> {
    for (i, op) in ops.iter().enumerate() {
        op.check().map_err(|(field, message)| OpError {
            path: format!("$[{i}].{}{field}", op.name()),
            message,
        })?;
    }
    Ok(())
}

/// The first name in an operation list that is one of `reserved`: any
/// string (or string in a list) directly under an operation, the way the
/// operations name indices, collections and aliases.
fn names_reserved(content: &str, reserved: &[String]) -> Option<(String, String)> {
    if reserved.is_empty() {
        return None;
    }
    let ops: Vec<serde_json::Value> = serde_json::from_str(content).ok()?;
    for (i, op) in ops.iter().enumerate() {
        let Some((name, body)) = op.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        for (field, value) in body.as_object().into_iter().flatten() {
            let strings: Vec<&str> = match value {
                serde_json::Value::String(s) => vec![s.as_str()],
                serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
                _ => Vec::new(),
            };
            if let Some(hit) = strings
                .into_iter()
                .find(|s| reserved.iter().any(|r| r == s))
            {
                return Some((format!("$[{i}].{name}.{field}"), hit.to_string()));
            }
        }
    }
    None
}

/// Plays every pending file on the model, in order, and refuses the first
/// operation the server would refuse, naming its file and JSON path.
///
/// `reserved` are strata's own stores (history, lock): an operation naming
/// one is refused, since no file may touch strata's own history.
pub fn play<Op: Operation>(
    model: &mut impl Model<Op>,
    steps: &[(&Step, &Script)],
    reserved: &[String],
) -> Result<()> {
    for (_, script) in steps {
        let ops: Vec<Op> =
            parse(&script.content).map_err(|e| Error::file(&script.file, e.to_string()))?;
        if let Some((path, name)) = names_reserved(&script.content, reserved) {
            return Err(Error::file(
                &script.file,
                format!(
                    "{path}: {name:?} is strata's own history (or its lock): a migration must \
                     never change it"
                ),
            ));
        }
        apply_all(model, &ops).map_err(|message| Error::file(&script.file, message))?;
    }
    Ok(())
}

/// Applies operations to the model in order; the first refusal as
/// `$[i].<operation>.<path>: <why>`. Pure.
pub fn apply_all<Op: Operation>(
    model: &mut impl Model<Op>,
    ops: &[Op],
) -> std::result::Result<(), String> {
    for (i, op) in ops.iter().enumerate() {
        model
            .apply(op)
            .map_err(|(path, message)| format!("$[{i}].{}{path}: {message}", op.name()))?;
    }
    Ok(())
}
/// The line of the `nth` (1-based) occurrence of `needle` in an
/// operation file, to point a finding at its operation (1 when absent).
pub fn line_of_nth(content: &str, needle: &str, nth: usize) -> usize {
    content
        .match_indices(needle)
        .nth(nth.saturating_sub(1))
        .map_or(1, |(at, _)| crate::split::line_of(content, at))
}

#[cfg(all(test, feature = "elasticsearch"))]
mod tests {
    use super::*;
    use crate::backend::elasticsearch::ops::Operation as Es;

    const JSON: &str = r#"[
  {"create_index": {"index": "m_v1", "mappings": {"properties": {"body": {"type": "text"}}},
                    "aliases": {"m": {}}}},
  {"put_settings": {"index": "m_v1", "settings": {"refresh_interval": "5s"}}}
]"#;

    const YAML: &str = "\
# the same two operations
- create_index:
    index: m_v1
    mappings:
      properties:
        body: {type: text}
    aliases:
      m: {}
- put_settings:
    index: m_v1
    settings:
      refresh_interval: 5s
";

    #[test]
    fn yaml_reads_as_the_same_operations_as_json() {
        let json = yaml_to_json::<Es>(YAML).unwrap();
        let from_yaml: Vec<Es> = parse(&json).unwrap();
        let from_json: Vec<Es> = parse(JSON).unwrap();
        assert_eq!(from_yaml, from_json);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            serde_json::from_str::<serde_json::Value>(JSON).unwrap()
        );
    }

    #[test]
    fn yaml_errors_name_the_yaml_line_and_the_field() {
        let unknown = yaml_to_json::<Es>("- create_index:\n    index: a\n    mapping: {}\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.starts_with("$[0].create_index"), "{unknown}");
        assert!(unknown.contains("unknown field `mapping`"), "{unknown}");
        assert!(unknown.contains("the operation at line 1"), "{unknown}");
        let second = yaml_to_json::<Es>("- delete_index:\n    index: a\n- delete_index: {}\n")
            .unwrap_err()
            .to_string();
        assert!(
            second.starts_with("$[1].delete_index") && second.contains("at line 3"),
            "{second}"
        );
        let syntax = yaml_to_json::<Es>("- create_index:\n    index: a\n   bad: [\n")
            .unwrap_err()
            .to_string();
        assert!(syntax.contains("line 3 column"), "{syntax}");
        // What serde cannot check is checked as for JSON.
        let checked = yaml_to_json::<Es>("- create_index:\n    index: Bad_Name\n")
            .unwrap_err()
            .to_string();
        assert!(checked.starts_with("$[0].create_index.index"), "{checked}");
    }
}
