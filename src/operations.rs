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
    for (i, op) in ops.iter().enumerate() {
        op.check().map_err(|(field, message)| OpError {
            path: format!("$[{i}].{}{field}", op.name()),
            message,
        })?;
    }
    Ok(ops)
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
