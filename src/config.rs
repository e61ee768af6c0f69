//! `migrate.toml` and the single-database shortcut (`--database-url`).
//!
//! The file is read into raw string fields first, then each value's
//! `${VAR}` references are expanded with the name of the setting at hand, so
//! an unset variable is reported as "databases.app.url: environment variable
//! APP_DB_URL is not set" rather than as a parse error somewhere later.
//! Unknown keys are refused (a typo in `migratons` must not silently fall back
//! to a default). Relative folders are resolved against the config file's own
//! folder, so `migrate --config deploy/migrate.toml` works from anywhere.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The default name of the history table/collection/index in every database.
pub const DEFAULT_HISTORY_TABLE: &str = "schema_migrations";

/// The label of Neo4j history nodes unless `history_label` says otherwise.
pub const DEFAULT_HISTORY_LABEL: &str = "SchemaMigration";

/// Which kind of database a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// PostgreSQL, migrated with `.sql` files.
    Postgres,
    /// Neo4j, migrated with `.cypher` files.
    Neo4j,
    /// Elasticsearch, migrated with `.json` operation lists.
    Elasticsearch,
    /// Qdrant, migrated with `.json` operation lists.
    Qdrant,
}

impl Kind {
    /// The file extension of this kind's migration files.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Postgres => "sql",
            Kind::Neo4j => "cypher",
            Kind::Elasticsearch | Kind::Qdrant => "json",
        }
    }

    /// The lowercase name used in config files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Neo4j => "neo4j",
            Kind::Elasticsearch => "elasticsearch",
            Kind::Qdrant => "qdrant",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connection URL that never shows its password when printed.
///
/// `Display` and `Debug` both redact; [`ConnectionUrl::expose`] is the only way
/// to the real string, and only backends call it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionUrl(url.into())
    }

    /// The URL with its secret parts, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL as it may be shown to people.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }

    /// The secret strings in this URL (password, raw and percent-decoded), for
    /// scrubbing server and driver messages before they are shown.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((_, pass)) = userinfo(&self.0).and_then(|u| u.split_once(':'))
            && !pass.is_empty()
        {
            out.push(pass.to_string());
            let decoded = percent_decode(pass);
            if decoded != pass {
                out.push(decoded);
            }
        }
        if let Some((_, query)) = self.0.split_once('?') {
            for pair in query.split('&') {
                if let Some((k, v)) = pair.split_once('=')
                    && is_secret_param(k)
                    && !v.is_empty()
                {
                    out.push(v.to_string());
                    // Query values may be form-encoded ('+' for space).
                    let decoded = percent_decode(&v.replace('+', " "));
                    if decoded != v {
                        out.push(decoded);
                    }
                }
            }
        }
        out
    }

    /// Replaces every secret of this URL in `text` with `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.secrets() {
            out = out.replace(&secret, "***");
        }
        out
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionUrl({:?})", self.redacted())
    }
}

fn userinfo(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    Some(&authority[..authority.rfind('@')?])
}

fn is_secret_param(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "password" | "pass" | "api_key" | "apikey" | "token" | "sslpassword"
    )
}

/// Redacts the password in `scheme://user:password@host/...` and secret query
/// parameters (`?password=...`). Pure; anything unparsable is returned as is,
/// because a URL without `://` carries no userinfo to hide.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(info) = userinfo(url)
        && let Some((user, pass)) = info.split_once(':')
        && !pass.is_empty()
    {
        let start = url.find("://").map(|i| i + 3).unwrap_or(0);
        out = format!(
            "{}{}:***{}",
            &url[..start],
            user,
            &url[start + info.len()..]
        );
    }
    if let Some((base, query)) = out.clone().split_once('?') {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_param(k) => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{base}?{}", pairs.join("&"));
    }
    out
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One named database target.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The name used in `--database` and in output.
    pub name: String,
    /// What kind of server this is.
    pub kind: Kind,
    /// How to connect; printed only redacted.
    pub url: ConnectionUrl,
    /// Folder holding `V<version>__<description>.<ext>` files.
    pub migrations: PathBuf,
    /// Folder holding `U<version>__<description>.<ext>` files.
    pub rollbacks: PathBuf,
    /// Name of the history store inside the database (may be schema-qualified).
    pub history_table: String,
}

/// The whole configuration: every database, in name order, and the
/// partition policies.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Databases by name; a `BTreeMap` so every listing and plan is ordered.
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// `[[partitions]]` policies, in file order.
    pub partitions: Vec<crate::partition::Policy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    databases: BTreeMap<String, RawDatabase>,
    #[serde(default)]
    partitions: Vec<crate::partition::policy::RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    kind: String,
    url: String,
    migrations: Option<String>,
    rollbacks: Option<String>,
    history_table: Option<String>,
    user: Option<String>,
    password: Option<String>,
    database: Option<String>,
    history_label: Option<String>,
    api_key: Option<String>,
}

impl Config {
    /// Reads and validates a `migrate.toml`, expanding `${VAR}` from the
    /// process environment.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, &path.display().to_string(), base, &|name| {
            std::env::var(name).ok()
        })
    }

    /// Parses config text. `origin` names the source in errors, `base` is the
    /// folder relative paths are resolved against, `env` looks up variables.
    pub fn parse(
        text: &str,
        origin: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| Error::config(origin, e.to_string().trim_end().to_string()))?;
        if raw.databases.is_empty() {
            return Err(Error::config(
                format!("{origin}: databases"),
                "no database is configured; add a [databases.NAME] table",
            ));
        }
        let mut databases = BTreeMap::new();
        for (name, db) in raw.databases {
            validate_name(&name)
                .map_err(|m| Error::config(format!("{origin}: databases.{name}"), m))?;
            let setting = |key: &str| format!("{origin}: databases.{name}.{key}");
            let get = |key: &str, value: &str| {
                expand(value, env).map_err(|m| Error::config(setting(key), m))
            };
            let kind = parse_kind(&get("kind", &db.kind)?)
                .map_err(|m| Error::config(setting("kind"), m))?;
            let mut url = get("url", &db.url)?;
            if url.trim().is_empty() {
                return Err(Error::config(setting("url"), "is empty"));
            }
            let opt = |key: &str, v: &Option<String>| v.as_ref().map(|v| get(key, v)).transpose();
            // Each kind takes only the extra keys it understands; a key meant
            // for another kind is a mistake worth stopping for.
            let extras = [
                ("user", db.user.is_some()),
                ("password", db.password.is_some()),
                ("database", db.database.is_some()),
                ("history_label", db.history_label.is_some()),
                ("api_key", db.api_key.is_some()),
            ];
            let allowed: &[&str] = match kind {
                Kind::Neo4j => &["user", "password", "database", "history_label"],
                Kind::Elasticsearch => &["user", "password", "api_key"],
                Kind::Qdrant => &["api_key"],
                Kind::Postgres => &[],
            };
            if let Some((key, _)) = extras
                .iter()
                .find(|(key, set)| *set && !allowed.contains(key))
            {
                return Err(Error::config(
                    setting(key),
                    format!(
                        "is not a setting of kind {kind} (it takes: url{}{})",
                        if allowed.is_empty() { "" } else { ", " },
                        allowed.join(", ")
                    ),
                ));
            }
            match kind {
                Kind::Neo4j => {
                    if db.history_table.is_some() {
                        return Err(Error::config(
                            setting("history_table"),
                            "a neo4j history is a label: use history_label",
                        ));
                    }
                    url = neo4j_url(
                        &url,
                        opt("user", &db.user)?,
                        opt("password", &db.password)?,
                        opt("database", &db.database)?,
                    )
                    .map_err(|m| Error::config(setting("url"), m))?;
                }
                Kind::Elasticsearch | Kind::Qdrant => {
                    url = http_url(
                        &url,
                        opt("user", &db.user)?,
                        opt("password", &db.password)?,
                        opt("api_key", &db.api_key)?,
                    )
                    .map_err(|m| Error::config(setting("url"), m))?;
                }
                Kind::Postgres => {}
            }
            let dir = |key: &str, value: Option<&String>, default: String| -> Result<PathBuf> {
                let value = match value {
                    Some(v) => get(key, v)?,
                    None => default,
                };
                Ok(base.join(value))
            };
            let migrations = dir(
                "migrations",
                db.migrations.as_ref(),
                format!("migrations/{name}"),
            )?;
            let rollbacks = dir(
                "rollbacks",
                db.rollbacks.as_ref(),
                format!("rollbacks/{name}"),
            )?;
            let history_table = match (kind, &db.history_table, &db.history_label) {
                (Kind::Neo4j, _, Some(v)) => get("history_label", v)?,
                (Kind::Neo4j, _, None) => DEFAULT_HISTORY_LABEL.to_string(),
                (_, Some(v), _) => get("history_table", v)?,
                (_, None, _) => DEFAULT_HISTORY_TABLE.to_string(),
            };
            match kind {
                Kind::Neo4j => validate_label(&history_table)
                    .map_err(|m| Error::config(setting("history_label"), m))?,
                Kind::Elasticsearch => validate_index_name(&history_table)
                    .map_err(|m| Error::config(setting("history_table"), m))?,
                Kind::Qdrant => validate_label(&history_table)
                    .map_err(|m| Error::config(setting("history_table"), m))?,
                _ => validate_history_table(&history_table)
                    .map_err(|m| Error::config(setting("history_table"), m))?,
            }
            databases.insert(
                name.clone(),
                DatabaseConfig {
                    name,
                    kind,
                    url: ConnectionUrl::new(url),
                    migrations,
                    rollbacks,
                    history_table,
                },
            );
        }
        let names: Vec<&str> = databases.keys().map(String::as_str).collect();
        let expand_value = |v: &str| expand(v, env);
        let partitions = raw
            .partitions
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.resolve(i, origin, &expand_value, &names))
            .collect::<Result<Vec<_>>>()?;
        for (i, p) in partitions.iter().enumerate() {
            let kind = databases[&p.database].kind;
            if kind != Kind::Postgres {
                return Err(Error::config(
                    format!("{origin}: partitions[{i}] ({})", p.table),
                    format!(
                        "database {} is {kind}; partitions are managed for postgres only",
                        p.database
                    ),
                ));
            }
            if partitions[..i]
                .iter()
                .any(|q| q.database == p.database && q.qualified() == p.qualified())
            {
                return Err(Error::config(
                    format!("{origin}: partitions[{i}] ({})", p.table),
                    "a second policy for the same table",
                ));
            }
        }
        Ok(Config {
            databases,
            partitions,
        })
    }

    /// Adds a database in code, for services that take their connection
    /// settings from elsewhere: folders and history table get their
    /// defaults (`migrations/<name>`, `rollbacks/<name>`, `schema_migrations`).
    pub fn with_database(
        mut self,
        name: &str,
        kind: Kind,
        url: impl Into<String>,
    ) -> Result<Config> {
        let setting = format!("database {name}");
        validate_name(name).map_err(|m| Error::config(&setting, m))?;
        let url = url.into();
        if url.trim().is_empty() {
            return Err(Error::config(format!("{setting}: url"), "is empty"));
        }
        if self.databases.contains_key(name) {
            return Err(Error::config(setting, "is configured twice"));
        }
        self.databases.insert(
            name.to_string(),
            DatabaseConfig {
                name: name.to_string(),
                kind,
                url: ConnectionUrl::new(url),
                migrations: PathBuf::from("migrations").join(name),
                rollbacks: PathBuf::from("rollbacks").join(name),
                history_table: DEFAULT_HISTORY_TABLE.to_string(),
            },
        );
        Ok(self)
    }

    /// The single-database configuration behind `--database-url`: one
    /// database named `default`, its kind taken from the URL scheme.
    pub fn single(url: &str, migrations: PathBuf, rollbacks: PathBuf) -> Result<Config> {
        let scheme = url.split("://").next().unwrap_or_default();
        let kind = match scheme {
            "postgres" | "postgresql" => Kind::Postgres,
            _ => {
                return Err(Error::config(
                    "--database-url",
                    format!(
                        "cannot tell the database kind from {}; use a postgres:// URL or a migrate.toml",
                        redact_url(url)
                    ),
                ));
            }
        };
        let mut databases = BTreeMap::new();
        databases.insert(
            "default".to_string(),
            DatabaseConfig {
                name: "default".to_string(),
                kind,
                url: ConnectionUrl::new(url),
                migrations,
                rollbacks,
                history_table: DEFAULT_HISTORY_TABLE.to_string(),
            },
        );
        Ok(Config {
            databases,
            partitions: Vec::new(),
        })
    }

    /// The databases named in `only` (all when empty), in name order.
    /// An unknown name is a usage error listing the known ones.
    pub fn select(&self, only: &[String]) -> Result<Vec<&DatabaseConfig>> {
        if only.is_empty() {
            return Ok(self.databases.values().collect());
        }
        for name in only {
            if !self.databases.contains_key(name) {
                let known: Vec<&str> = self.databases.keys().map(String::as_str).collect();
                return Err(Error::Usage(format!(
                    "--database {name}: no such database in the config (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(self
            .databases
            .values()
            .filter(|db| only.contains(&db.name))
            .collect())
    }
}

fn parse_kind(value: &str) -> std::result::Result<Kind, String> {
    match value {
        "postgres" | "postgresql" => Ok(Kind::Postgres),
        "neo4j" => Ok(Kind::Neo4j),
        "elasticsearch" => Ok(Kind::Elasticsearch),
        "qdrant" => Ok(Kind::Qdrant),
        other => Err(format!(
            "unknown kind {other:?} (expected postgres, neo4j, qdrant or elasticsearch)"
        )),
    }
}

fn validate_name(name: &str) -> std::result::Result<(), String> {
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
fn validate_history_table(name: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    let ident = |p: &str| {
        let mut chars = p.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && p.len() <= 63
    };
    if (1..=2).contains(&parts.len()) && parts.iter().all(|p| ident(p)) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid name: use letters, digits and '_', optionally schema.table"
        ))
    }
}

/// A plain identifier, so a label can go into Cypher unquoted.
fn validate_label(name: &str) -> std::result::Result<(), String> {
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
fn validate_index_name(name: &str) -> std::result::Result<(), String> {
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

/// Puts `user`/`password` settings into a URL's userinfo (percent-encoded).
fn set_userinfo(
    url: &mut url::Url,
    user: Option<String>,
    password: Option<String>,
) -> std::result::Result<(), String> {
    if let Some(user) = user {
        url.set_username(&user)
            .map_err(|()| "cannot set the user".to_string())?;
    }
    if let Some(password) = password {
        url.set_password(Some(&password))
            .map_err(|()| "cannot set the password".to_string())?;
    }
    Ok(())
}

/// One URL holding everything an HTTP connection needs (Elasticsearch), so
/// redaction and scrubbing work as for every other kind: `user`/`password`
/// become its userinfo, `api_key` a query parameter the backend turns into
/// an `Authorization` header.
fn http_url(
    url: &str,
    user: Option<String>,
    password: Option<String>,
    api_key: Option<String>,
) -> std::result::Result<String, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("{}: {e}", redact_url(url)))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "{}: expected http://host:port or https://host:port",
            redact_url(url)
        ));
    }
    set_userinfo(&mut parsed, user, password)?;
    if parsed.query().is_some_and(|q| !q.is_empty()) {
        return Err(format!(
            "{}: query parameters are not understood; use the api_key setting",
            redact_url(url)
        ));
    }
    if let Some(key) = api_key {
        if !parsed.username().is_empty() {
            return Err("give either user/password or api_key, not both".to_string());
        }
        parsed.query_pairs_mut().append_pair("api_key", &key);
    }
    Ok(parsed.to_string())
}

/// One URL holding everything a Neo4j connection needs, so redaction and
/// scrubbing work as for every other kind: `user`/`password` become its
/// userinfo (percent-encoded), `database` its path.
fn neo4j_url(
    url: &str,
    user: Option<String>,
    password: Option<String>,
    database: Option<String>,
) -> std::result::Result<String, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("{}: {e}", redact_url(url)))?;
    if !matches!(
        parsed.scheme(),
        "bolt" | "bolt+s" | "bolt+ssc" | "neo4j" | "neo4j+s" | "neo4j+ssc"
    ) || parsed.host_str().is_none()
    {
        return Err(format!(
            "{}: expected bolt://host:port or neo4j://host:port",
            redact_url(url)
        ));
    }
    set_userinfo(&mut parsed, user, password)?;
    if let Some(db) = database {
        parsed.set_path(&db);
    }
    if parsed.query().is_some() || parsed.path().trim_matches('/').contains('/') {
        return Err(format!(
            "{}: only bolt://user:password@host:port/database is understood",
            redact_url(url)
        ));
    }
    Ok(parsed.to_string())
}

/// Expands `${VAR}` references. A `$` not followed by `{` is kept as is, so
/// passwords with dollar signs need no escaping.
pub fn expand(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated ${ (expected ${NAME})".to_string())?;
        let name = &after[..end];
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "${{{name}}} is not a valid environment variable reference"
            ));
        }
        match env(name) {
            Some(v) => out.push_str(&v),
            None => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embed_macro_knows_every_kinds_extension() {
        let kinds = [
            Kind::Postgres,
            Kind::Neo4j,
            Kind::Elasticsearch,
            Kind::Qdrant,
        ];
        for kind in kinds.iter() {
            assert!(
                crate::catalog::EXTENSIONS.contains(&kind.extension()),
                "{kind}"
            );
        }
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "APP_URL" => Some("postgres://app:s3cr%40t@db:5433/app".to_string()),
            "DIR" => Some("sql".to_string()),
            _ => None,
        }
    }

    #[test]
    fn parses_databases_with_defaults_and_expansion() {
        let cfg = Config::parse(
            r#"
            [databases.app]
            kind = "postgres"
            url = "${APP_URL}"
            [databases.billing]
            kind = "postgres"
            url = "postgres://localhost:5434/billing"
            migrations = "${DIR}/billing"
            history_table = "ops.history"
            "#,
            "migrate.toml",
            Path::new("/etc/strata"),
            &env,
        )
        .unwrap();
        let names: Vec<&String> = cfg.databases.keys().collect();
        assert_eq!(names, ["app", "billing"]);
        let app = &cfg.databases["app"];
        assert_eq!(app.url.expose(), "postgres://app:s3cr%40t@db:5433/app");
        assert_eq!(app.migrations, Path::new("/etc/strata/migrations/app"));
        assert_eq!(app.rollbacks, Path::new("/etc/strata/rollbacks/app"));
        assert_eq!(app.history_table, "schema_migrations");
        let billing = &cfg.databases["billing"];
        assert_eq!(billing.migrations, Path::new("/etc/strata/sql/billing"));
        assert_eq!(billing.history_table, "ops.history");
    }

    #[test]
    fn unset_variable_names_variable_and_setting() {
        let err = Config::parse(
            "[databases.app]\nkind = \"postgres\"\nurl = \"${NOPE}\"\n",
            "migrate.toml",
            Path::new("."),
            &env,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("databases.app.url"), "{msg}");
        assert!(msg.contains("NOPE is not set"), "{msg}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let err = Config::parse(
            "[databases.app]\nkind = \"postgres\"\nurl = \"x\"\nmigratons = \"m\"\n",
            "migrate.toml",
            Path::new("."),
            &env,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("migratons"), "{msg}");
        assert!(msg.contains("line 4"), "{msg}");
    }

    #[test]
    fn unknown_kind_and_bad_history_table_are_refused() {
        let err = Config::parse(
            "[databases.app]\nkind = \"mysql\"\nurl = \"x\"\n",
            "m.toml",
            Path::new("."),
            &env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("databases.app.kind"), "{err}");
        let err = Config::parse(
            "[databases.app]\nkind = \"postgres\"\nurl = \"x\"\nhistory_table = \"a;drop\"\n",
            "m.toml",
            Path::new("."),
            &env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("history_table"), "{err}");
    }

    fn parse_one(body: &str) -> Result<Config> {
        Config::parse(
            &format!("[databases.search]\n{body}"),
            "m.toml",
            Path::new("."),
            &|name| (name == "KEY").then(|| "aWQ6c2Vj+ZXQ=".to_string()),
        )
    }

    #[test]
    fn elasticsearch_credentials_become_one_redacted_url() {
        let cfg = parse_one(
            "kind = \"elasticsearch\"\nurl = \"http://es:9200\"\nuser = \"elastic\"\npassword = \"p@ss w\"\n",
        )
        .unwrap();
        let db = &cfg.databases["search"];
        assert_eq!(db.kind, Kind::Elasticsearch);
        assert_eq!(db.url.expose(), "http://elastic:p%40ss%20w@es:9200/");
        assert_eq!(db.url.redacted(), "http://elastic:***@es:9200/");
        assert_eq!(db.url.scrub("refused p@ss w"), "refused ***");
        assert_eq!(db.history_table, "schema_migrations");

        let cfg = parse_one(
            "kind = \"elasticsearch\"\nurl = \"https://es:9200\"\napi_key = \"${KEY}\"\n",
        )
        .unwrap();
        let url = &cfg.databases["search"].url;
        assert!(!url.redacted().contains("aWQ6"), "{}", url.redacted());
        assert_eq!(url.scrub("key aWQ6c2Vj+ZXQ= bad"), "key *** bad");
        assert!(!format!("{url:?}").contains("aWQ6"));
    }

    #[test]
    fn elasticsearch_settings_are_checked() {
        let cases = [
            ("url = \"bolt://es:7687\"\n", "databases.search.url"),
            (
                "url = \"http://es:9200\"\nhistory_label = \"X\"\n",
                "databases.search.history_label: is not a setting of kind elasticsearch",
            ),
            (
                "url = \"http://u:p@es:9200\"\napi_key = \"k\"\n",
                "either user/password or api_key",
            ),
            (
                "url = \"http://es:9200\"\nhistory_table = \"History\"\n",
                "not a valid index name",
            ),
            ("url = \"http://es:9200/?x=1\"\n", "query parameters"),
        ];
        for (body, expected) in cases {
            let err = parse_one(&format!("kind = \"elasticsearch\"\n{body}")).unwrap_err();
            assert!(err.to_string().contains(expected), "{body}: {err}");
            assert_eq!(err.exit_code(), 2);
        }
        let err =
            parse_one("kind = \"qdrant\"\nurl = \"http://q:6334\"\nuser = \"u\"\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("user: is not a setting of kind qdrant (it takes: url, api_key)"),
            "{err}"
        );
        let cfg = parse_one("kind = \"qdrant\"\nurl = \"http://q:6334\"\napi_key = \"${KEY}\"\n")
            .unwrap();
        assert_eq!(cfg.databases["search"].kind, Kind::Qdrant);
        assert!(!cfg.databases["search"].url.redacted().contains("aWQ6"));
        let err = parse_one("kind = \"postgres\"\nurl = \"postgres://x\"\napi_key = \"k\"\n")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("is not a setting of kind postgres (it takes: url)"),
            "{err}"
        );
    }

    #[test]
    fn expansion_keeps_lone_dollars_and_rejects_bad_references() {
        assert_eq!(expand("pa$$word", &env).unwrap(), "pa$$word");
        assert_eq!(expand("${DIR}/x/${DIR}", &env).unwrap(), "sql/x/sql");
        assert!(expand("${DIR", &env).unwrap_err().contains("unterminated"));
        assert!(expand("${A-B}", &env).unwrap_err().contains("not a valid"));
    }

    #[test]
    fn urls_are_redacted_everywhere() {
        let url =
            ConnectionUrl::new("postgres://app:s3cr%40t@db:5433/app?sslmode=require&password=two");
        let shown = format!("{url} {url:?} {}", url.redacted());
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(!shown.contains("two"), "{shown}");
        assert!(shown.contains("postgres://app:***@db:5433/app?sslmode=require&password=***"));
        assert_eq!(
            url.scrub("auth failed for s3cr@t and s3cr%40t"),
            "auth failed for *** and ***"
        );
        assert_eq!(
            redact_url("postgres://localhost/x"),
            "postgres://localhost/x"
        );
        assert_eq!(redact_url("postgres://u@h/x"), "postgres://u@h/x");
        // An '@' inside the password: the last '@' ends the userinfo.
        assert_eq!(redact_url("postgres://u:p@ss@h/x"), "postgres://u:***@h/x");
    }

    #[test]
    fn select_refuses_unknown_names() {
        let cfg = Config::single("postgres://h/db", "m".into(), "r".into()).unwrap();
        assert_eq!(cfg.select(&[]).unwrap().len(), 1);
        let err = cfg.select(&["nope".to_string()]).unwrap_err();
        assert!(err.to_string().contains("known: default"), "{err}");
    }
}
