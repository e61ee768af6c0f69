//! The findings of one PostgreSQL file, as plans and `lint` show them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::catalog::TransactionMode;
use crate::finding::Finding;
use crate::lint;
use crate::script::Script;

/// Lints `script` as it runs (a whole-file `BEGIN; … COMMIT;` blanked out,
/// since strata runs it as if absent), and says under each lock finding how
/// long the lock is waited for: the file's own directive, else `timeout`.
/// `created` carries the tables earlier pending files create.
pub(super) fn sql_findings(
    file: &str,
    script: &Script,
    timeout: Option<Duration>,
    created: &mut BTreeSet<String>,
) -> Vec<Finding> {
    let transactional = script.mode == TransactionMode::Transaction;
    #[cfg(feature = "postgres")]
    let body = match transactional {
        true => crate::backend::postgres::transaction_body(&script.content),
        false => std::borrow::Cow::Borrowed(script.content.as_str()),
    };
    #[cfg(not(feature = "postgres"))]
    let body = std::borrow::Cow::Borrowed(script.content.as_str());
    let mut found = lint::lint_sql(file, &body, transactional, None, created);
    let timeout = script.lock_timeout.unwrap_or(timeout);
    for f in found.iter_mut().filter(|f| f.rule == lint::LOCK_RULE) {
        f.message.push_str(&match timeout {
            Some(_) => format!(
                "; waited for at most {} (lock_timeout), then retried",
                crate::config::timeouts::show_timeout(timeout)
            ),
            None => "; waited for as long as it takes (lock_timeout off)".to_string(),
        });
    }
    found
}
