//! `migrate.toml` and the single-database shortcut (`--database-url`).
//!
//! The file is read into raw string fields first, then each value's
//! `${VAR}` references are expanded with the name of the setting at hand, so
//! an unset variable is reported as "databases.app.url: environment variable
//! APP_DB_URL is not set" rather than as a parse error somewhere later.
//! Unknown keys are refused (a typo in `migratons` must not silently fall back
//! to a default). Relative folders are resolved against the config file's own
//! folder, so `migrate --config deploy/migrate.toml` works from anywhere.
//!
//! The config holds plain data: what a `[[partitions]]` policy means is
//! for [`crate::partition::policy`] to say.

pub mod cluster;
mod drift;
mod env;
mod groups;
mod lint;
mod names;
mod partitions;
pub mod rollout;
pub mod timeouts;
mod toml_errors;
pub mod urls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use self::env::{expand, expand_url};
use self::groups::RawGroup;
pub use self::groups::{Group, GroupQuery};
use self::lint::{RawLint, lint_settings};
pub use self::names::validate_history_table;
use self::names::{validate_index_name, validate_label, validate_name};
pub use self::partitions::PartitionSettings;
use self::partitions::partition_settings;
pub use self::urls::TlsFiles;
use self::urls::url_has_user;
use self::urls::{http_url, neo4j_url};
use crate::error::{Error, Result};
use crate::finding::{Level, LintSettings};
pub use crate::kind::Kind;
pub use crate::secret::{ConnectionUrl, Secret, redact_url};

/// The default name of the history table/collection/index in every database.
pub const DEFAULT_HISTORY_TABLE: &str = "schema_migrations";

/// The label of Neo4j history nodes unless `history_label` says otherwise.
pub const DEFAULT_HISTORY_LABEL: &str = "SchemaMigration";

/// The most databases `jobs` (or `--jobs`) may work on at once: far more
/// than one server's connection limit, so a typo is caught rather than
/// taken as "all of them".
pub const MAX_JOBS: usize = 1024;

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
    /// The `user` setting, sent to the driver beside the URL.
    pub user: Option<String>,
    /// The `password` setting, sent to the driver beside the URL (never in it).
    pub password: Option<Secret>,
    /// The `api_key` setting (Elasticsearch, Qdrant).
    pub api_key: Option<Secret>,
    /// Certificate files for TLS (PostgreSQL takes libpq's URL parameters
    /// instead).
    pub tls: TlsFiles,
    /// `lint_fail_on`: this database's `[lint] fail_on`, when it differs.
    pub lint_fail_on: Option<Level>,
    /// `lock_timeout` and `lock_retries`: how long a migration's statement
    /// waits for a table lock, and how often a step is tried again.
    pub ddl_lock: timeouts::DdlLock,
    /// `wait_for_active_shards` and `require_health` (Elasticsearch).
    pub cluster: cluster::ClusterWaits,
    /// `on_drift`, `schemas`, `drift_ignore`, `drift_include_grants`, and
    /// the partitioned parents whose children are not drift.
    pub drift: crate::drift::Scope,
}

impl DatabaseConfig {
    /// A failure to connect to this database: its name, its URL as shown,
    /// and `message` scrubbed of the URL's secrets.
    pub fn connect_error(&self, message: &str) -> Error {
        Error::Connect {
            database: self.name.clone(),
            url: self.shown_url(),
            message: self.url.scrub(message),
        }
    }

    /// The URL as messages show it: redacted, with the `user` setting (and
    /// `***` for a `password` setting) in the userinfo the URL lacks, so it
    /// says who connected.
    pub fn shown_url(&self) -> String {
        let url = self.url.redacted();
        let (Some(user), Some(start)) = (&self.user, url.find("://").map(|s| s + 3)) else {
            return url;
        };
        if url[start..].contains('@') {
            return url;
        }
        let secret = if self.password.is_some() { ":***" } else { "" };
        format!("{}{user}{secret}@{}", &url[..start], &url[start..])
    }

    /// A database with default folders and history name, and no settings
    /// beside its URL.
    fn plain(
        name: &str,
        kind: Kind,
        url: ConnectionUrl,
        migrations: PathBuf,
        rollbacks: PathBuf,
    ) -> Self {
        DatabaseConfig {
            name: name.to_string(),
            kind,
            url,
            migrations,
            rollbacks,
            history_table: match kind {
                Kind::Neo4j => DEFAULT_HISTORY_LABEL.to_string(),
                _ => DEFAULT_HISTORY_TABLE.to_string(),
            },
            user: None,
            password: None,
            api_key: None,
            tls: TlsFiles::default(),
            lint_fail_on: None,
            ddl_lock: timeouts::DdlLock::default(),
            cluster: cluster::ClusterWaits::default(),
            drift: crate::drift::Scope::default(),
        }
    }
}

/// The JSON Schema of `migrate.toml`, generated from the types the file
/// is read into, for editors (taplo, Even Better TOML) to validate and
/// complete it; kept in `docs/migrate.schema.json`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawConfig)).expect("a schema is JSON")
}

/// The whole configuration: every database, in name order, and the
/// partition policies.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Databases by name; a `BTreeMap` so every listing and plan is ordered.
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// `[[partitions]]` entries, in file order.
    pub partitions: Vec<PartitionSettings>,
    /// `jobs`: how many databases to work on at once (`--jobs` wins).
    pub jobs: Option<usize>,
    /// `[groups.NAME]`: many databases sharing one migrations folder; their
    /// members are in `databases`, named `<group>/<member>`.
    pub groups: BTreeMap<String, Group>,
    /// `[lint]`: levels for `migrate lint` and the findings in plans.
    pub lint: LintSettings,
}

/// `migrate.toml`: the databases strata migrates, groups of databases
/// sharing one folder, partition policies, lint settings.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// How many databases are looked at and migrated at once (1 to 1024;
    /// default 8).
    jobs: Option<i64>,
    /// One table per database: `[databases.NAME]`.
    #[serde(default)]
    databases: BTreeMap<String, RawDatabase>,
    /// Many databases sharing one migrations folder: `[groups.NAME]`.
    #[serde(default)]
    groups: BTreeMap<String, RawGroup>,
    /// Time-partitioned tables kept by `migrate partitions`:
    /// `[[partitions]]`.
    #[serde(default)]
    partitions: Vec<PartitionSettings>,
    /// `[lint]`: what `migrate lint` fails on, and each rule's level.
    lint: Option<RawLint>,
    /// `[defaults]`: settings every database and group takes unless it
    /// says otherwise.
    defaults: Option<RawDefaults>,
}

/// `[defaults]`: settings every database and group takes unless it says
/// otherwise.
#[derive(Deserialize, schemars::JsonSchema, Clone, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    /// PostgreSQL: how long a statement waits for a table lock.
    lock_timeout: Option<String>,
    /// PostgreSQL: how often a step that timed out is tried again.
    lock_retries: Option<i64>,
}

#[derive(Deserialize, schemars::JsonSchema, Clone, Default)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    /// `postgres`, `neo4j`, `elasticsearch` or `qdrant`.
    kind: String,
    /// How to connect; `${VAR}` is read from the environment.
    url: String,
    /// Folder of `V<version>__<description>` files (default
    /// `migrations/<name>`).
    migrations: Option<String>,
    /// Folder of `U<version>__<description>` files (default
    /// `rollbacks/<name>`).
    rollbacks: Option<String>,
    /// The history table, index or collection (default
    /// `schema_migrations`; PostgreSQL: may be `schema.table`).
    history_table: Option<String>,
    /// PostgreSQL: the history's schema.
    history_schema: Option<String>,
    /// User name, sent beside the URL.
    user: Option<String>,
    /// Password, sent beside the URL, never printed.
    password: Option<String>,
    /// Neo4j: the database (default: the server's).
    database: Option<String>,
    /// Neo4j: the history nodes' label (default `SchemaMigration`).
    history_label: Option<String>,
    /// Elasticsearch, Qdrant: an API key.
    api_key: Option<String>,
    /// A PEM file of authorities to trust beside the system's.
    ca_cert: Option<String>,
    /// A PEM client certificate (with `client_key`).
    client_cert: Option<String>,
    /// The client certificate's PEM key.
    client_key: Option<String>,
    /// This database's lint level to fail on: `info`, `warning`, `error`.
    lint_fail_on: Option<String>,
    /// PostgreSQL: how long a statement waits for a table lock (`5s`,
    /// `500ms`, `off`).
    lock_timeout: Option<String>,
    /// PostgreSQL: how often a step that timed out is tried again.
    lock_retries: Option<i64>,
    /// Elasticsearch: shard copies every write waits for (`"all"` or a
    /// number).
    wait_for_active_shards: Option<cluster::RawActiveShards>,
    /// Elasticsearch: the cluster health required before anything runs
    /// (`yellow`, `green`).
    require_health: Option<String>,
    /// What `up` does on a schema changed by hand: `warn`, `refuse`, `off`.
    on_drift: Option<String>,
    /// PostgreSQL: the schemas drift describes (default: all but system
    /// ones).
    schemas: Option<Vec<String>>,
    /// Objects drift leaves out (`*` matches any run of characters).
    drift_ignore: Option<Vec<String>>,
    /// PostgreSQL: owners and privileges are drift too.
    drift_include_grants: Option<bool>,
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
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| toml_errors::toml_error(text, origin, &e))?;
        if raw.databases.is_empty() && raw.groups.is_empty() {
            return Err(Error::config(
                format!("{origin}: databases"),
                "no database is configured; add a [databases.NAME] table",
            ));
        }
        let defaults = raw.defaults.clone().unwrap_or_default();
        let mut databases = BTreeMap::new();
        for (name, mut db) in raw.databases {
            db.lock_timeout = db.lock_timeout.or(defaults.lock_timeout.clone());
            db.lock_retries = db.lock_retries.or(defaults.lock_retries);
            let place = format!("{origin}: databases.{name}");
            validate_name(&name).map_err(|m| Error::config(&place, m))?;
            let db = database(&name, &name, db, &place, base, env)?;
            databases.insert(name, db);
        }
        let mut config = Config {
            databases,
            ..Config::default()
        };
        for (name, mut raw) in raw.groups {
            raw.lock_timeout = raw.lock_timeout.or(defaults.lock_timeout.clone());
            raw.lock_retries = raw.lock_retries.or(defaults.lock_retries);
            groups::add(&mut config, &name, raw, origin, base, env)?;
        }
        let databases = config.databases;
        let groups = config.groups;
        let partitions = raw
            .partitions
            .into_iter()
            .enumerate()
            .map(|(i, p)| partition_settings(p, i, origin, env))
            .collect::<Result<Vec<_>>>()?;
        let jobs = match raw.jobs {
            None => None,
            Some(n) if (1..=MAX_JOBS as i64).contains(&n) => Some(n as usize),
            Some(n) => {
                return Err(Error::config(
                    format!("{origin}: jobs"),
                    format!("{n}: must be between 1 and {MAX_JOBS}"),
                ));
            }
        };
        let lint = lint_settings(raw.lint.unwrap_or_default(), origin)?;
        Ok(Config {
            databases,
            groups,
            partitions,
            jobs,
            lint,
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
        if kind == Kind::Postgres {
            urls::postgres_url(&url).map_err(|m| Error::config(format!("{setting}: url"), m))?;
        }
        self.databases.insert(
            name.to_string(),
            DatabaseConfig::plain(
                name,
                kind,
                ConnectionUrl::new(url),
                PathBuf::from("migrations").join(name),
                PathBuf::from("rollbacks").join(name),
            ),
        );
        Ok(self)
    }

    /// The single-database configuration behind `--database-url`: one
    /// database named `default`, its kind taken from the URL scheme.
    pub fn single(url: &str, migrations: PathBuf, rollbacks: PathBuf) -> Result<Config> {
        Config::single_named("default", url, migrations, rollbacks)
    }

    /// `--ddl-lock-timeout`: every database's `lock_timeout`, whatever the
    /// config says.
    pub fn with_ddl_lock_timeout(mut self, text: &str) -> Result<Config> {
        let timeout =
            timeouts::parse_timeout(text).map_err(|m| Error::config("--ddl-lock-timeout", m))?;
        for db in self.databases.values_mut() {
            db.ddl_lock.timeout = timeout;
        }
        for g in self.groups.values_mut() {
            g.override_lock_timeout(text);
        }
        Ok(self)
    }

    /// Single-database mode's `--history-table`: the table strata keeps its
    /// history in, instead of `schema_migrations` (when another tool's
    /// table has that name).
    pub fn with_history_table(mut self, table: &str) -> Result<Config> {
        validate_history_table(table).map_err(|m| Error::config("--history-table", m))?;
        for db in self.databases.values_mut() {
            db.history_table = table.to_string();
        }
        Ok(self)
    }

    /// [`Config::single`] with the database named `name` (`--name`), so
    /// what it records and prints matches a config or a service that calls
    /// the database that.
    pub fn single_named(
        name: &str,
        url: &str,
        migrations: PathBuf,
        rollbacks: PathBuf,
    ) -> Result<Config> {
        validate_name(name).map_err(|m| Error::config("--name", m))?;
        let scheme = url.split("://").next().unwrap_or_default();
        // libpq's key=value form has no scheme: it is PostgreSQL's alone.
        let keywords = !url.contains("://") && url.contains('=');
        let kind = match scheme {
            "postgres" | "postgresql" => Kind::Postgres,
            _ if keywords => Kind::Postgres,
            _ => {
                return Err(Error::config(
                    "--database-url",
                    format!(
                        "cannot tell the database kind from {}: a URL starts with its scheme, \
                         e.g. postgres://user:password@host:5432/dbname (for Neo4j, \
                         Elasticsearch or Qdrant, use a migrate.toml)",
                        redact_url(url)
                    ),
                ));
            }
        };
        if keywords {
            urls::postgres_shape(url).map_err(|m| Error::config("--database-url", m))?;
        }
        urls::postgres_url(url).map_err(|m| Error::config("--database-url", m))?;
        let mut databases = BTreeMap::new();
        databases.insert(
            name.to_string(),
            DatabaseConfig::plain(name, kind, ConnectionUrl::new(url), migrations, rollbacks),
        );
        Ok(Config {
            databases,
            ..Config::default()
        })
    }

    /// The databases named in `only` (all when empty), in name order.
    /// An unknown name is a usage error listing the known ones.
    pub fn select(&self, only: &[String]) -> Result<Vec<&DatabaseConfig>> {
        if let Some(g) = self.groups.values().find(|g| g.query.is_some()) {
            return Err(Error::Usage(format!(
                "group {} lists its members with a query that has not run: resolve the \
                 groups first (strata::groups::resolve)",
                g.name
            )));
        }
        if only.is_empty() {
            return Ok(self.databases.values().collect());
        }
        let mut wanted: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for name in only {
            if let Some(g) = self.groups.get(name) {
                wanted.extend(g.members.iter().map(String::as_str));
            } else if self.databases.contains_key(name) {
                wanted.insert(name);
            } else if let Some(g) = name
                .split_once('/')
                .and_then(|(group, _)| self.groups.get(group))
            {
                // Members can be hundreds: show a few.
                let shown: Vec<&str> = g.members.iter().take(5).map(String::as_str).collect();
                let more = match g.members.len().saturating_sub(shown.len()) {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                return Err(Error::Usage(format!(
                    "--database {name}: group {} has no such member (members are named by \
                     their database: {}{more})",
                    g.name,
                    shown.join(", ")
                )));
            } else {
                let known: Vec<&str> = self
                    .databases
                    .keys()
                    .filter(|n| !n.contains('/'))
                    .chain(self.groups.keys())
                    .map(String::as_str)
                    .collect();
                return Err(Error::Usage(format!(
                    "--database {name}: no such database or group in the config (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(self
            .databases
            .values()
            .filter(|db| wanted.contains(db.name.as_str()))
            .collect())
    }

    /// Adds members to a group, one per URL: what a `urls_query` returned
    /// (see `strata::groups::resolve`). Each member is checked like a
    /// configured database. The URLs are taken as they are: a `${VAR}` in
    /// one is refused, since a value read from a database must not read
    /// this process's environment (and send it to a host it names).
    pub fn add_members(&mut self, group: &str, urls: &[String]) -> Result<()> {
        if let Some((i, url)) = urls.iter().enumerate().find(|(_, u)| u.contains("${")) {
            return Err(Error::config(
                format!(
                    "groups.{group} (urls_query row {}: {})",
                    i + 1,
                    redact_url(url)
                ),
                "holds `${`: URLs a urls_query returns are not expanded (a value read from a \
                 database does not get to read the environment); store URLs without secrets \
                 and give the group's `user` and `password`",
            ));
        }
        let rows: Vec<(String, String)> = urls
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("urls_query row {}", i + 1), u.clone()))
            .collect();
        groups::add_members(self, group, &rows)
    }
}

/// `place` names the entry in messages (`migrate.toml: databases.app`); the
/// default folders are `migrations/<folder>` and `rollbacks/<folder>`.
fn database(
    name: &str,
    folder: &str,
    db: RawDatabase,
    place: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DatabaseConfig> {
    let setting = |key: &str| format!("{place}.{key}");
    let get =
        |key: &str, value: &str| expand(value, env).map_err(|m| Error::config(setting(key), m));
    let kind =
        Kind::parse(&get("kind", &db.kind)?).map_err(|m| Error::config(setting("kind"), m))?;
    let (mut url, substituted) =
        expand_url(&db.url, env).map_err(|m| Error::config(setting("url"), m))?;
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
        ("ca_cert", db.ca_cert.is_some()),
        ("client_cert", db.client_cert.is_some()),
        ("client_key", db.client_key.is_some()),
        (
            "wait_for_active_shards",
            db.wait_for_active_shards.is_some(),
        ),
        ("require_health", db.require_health.is_some()),
    ];
    let allowed: &[&str] = match kind {
        Kind::Neo4j => &["user", "password", "database", "history_label", "ca_cert"],
        Kind::Elasticsearch => &[
            "user",
            "password",
            "api_key",
            "ca_cert",
            "client_cert",
            "client_key",
            "wait_for_active_shards",
            "require_health",
        ],
        Kind::Qdrant => &["api_key", "ca_cert", "client_cert", "client_key"],
        // TLS files are libpq's URL parameters: sslrootcert, sslcert, sslkey.
        Kind::Postgres => &["user", "password"],
    };
    if let Some((key, _)) = extras
        .iter()
        .find(|(key, set)| *set && !allowed.contains(key))
    {
        return Err(Error::config(
            setting(key),
            format!(
                "is not a setting of kind {kind} (it takes: url, {})",
                allowed.join(", ")
            ),
        ));
    }
    let user = opt("user", &db.user)?;
    let password = opt("password", &db.password)?;
    let api_key = opt("api_key", &db.api_key)?;
    let url_error = |m: String| Error::config(setting("url"), m);
    // `migrate new` and `import` read the config without the environment:
    // a URL still holding a `${NAME}` cannot be known, and is checked by
    // the commands that connect, which have the variable.
    let known = !url.contains("${");
    match kind {
        Kind::Neo4j => {
            if db.history_table.is_some() {
                return Err(Error::config(
                    setting("history_table"),
                    "a neo4j history is a label: use history_label",
                ));
            }
            let database = opt("database", &db.database)?;
            if known {
                url = neo4j_url(&url, database).map_err(url_error)?;
            }
        }
        Kind::Elasticsearch | Kind::Qdrant => {
            if known {
                url = http_url(&url).map_err(url_error)?;
            }
            if api_key.is_some() && (user.is_some() || url_has_user(&url)) {
                return Err(Error::config(
                    setting("api_key"),
                    "give either user/password or api_key, not both",
                ));
            }
        }
        Kind::Postgres if known => {
            urls::postgres_shape(&url).map_err(url_error)?;
            urls::postgres_url(&url).map_err(url_error)?
        }
        Kind::Postgres => {}
    }
    let file = |key: &str, v: &Option<String>| -> Result<Option<PathBuf>> {
        let Some(value) = opt(key, v)? else {
            return Ok(None);
        };
        let path = base.join(value);
        urls::readable(key, &path).map_err(|m| Error::config(setting(key), m))?;
        Ok(Some(path))
    };
    let tls = TlsFiles {
        ca_cert: file("ca_cert", &db.ca_cert)?,
        client_cert: file("client_cert", &db.client_cert)?,
        client_key: file("client_key", &db.client_key)?,
    };
    if tls.client_cert.is_some() != tls.client_key.is_some() {
        return Err(Error::config(
            setting("client_cert"),
            "client_cert and client_key go together: give both or neither",
        ));
    }
    if kind != Kind::Neo4j
        && (tls.ca_cert.is_some() || tls.client_cert.is_some())
        && !url.starts_with("https://")
    {
        return Err(Error::config(
            setting("url"),
            format!(
                "{}: TLS files are set, but the URL is not https://",
                redact_url(&url)
            ),
        ));
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
        format!("migrations/{folder}"),
    )?;
    let rollbacks = dir(
        "rollbacks",
        db.rollbacks.as_ref(),
        format!("rollbacks/{folder}"),
    )?;
    let lint_fail_on = match &db.lint_fail_on {
        Some(v) => Some(Level::parse(v).ok_or_else(|| {
            Error::config(
                setting("lint_fail_on"),
                format!("{v:?}: expected \"info\", \"warning\" or \"error\""),
            )
        })?),
        None => None,
    };
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
    let history_table = match &db.history_schema {
        None => history_table,
        Some(_) if kind != Kind::Postgres => {
            return Err(Error::config(
                setting("history_schema"),
                "is for PostgreSQL databases only",
            ));
        }
        Some(_) if history_table.contains('.') => {
            return Err(Error::config(
                setting("history_schema"),
                format!(
                    "history_table {history_table} names its schema already: give the schema \
                     in one of the two settings"
                ),
            ));
        }
        Some(schema) => {
            let qualified = format!("{}.{history_table}", get("history_schema", schema)?);
            validate_history_table(&qualified)
                .map_err(|m| Error::config(setting("history_schema"), m))?;
            qualified
        }
    };
    let mut ddl_lock = timeouts::DdlLock::default();
    if let Some(text) = &db.lock_timeout {
        ddl_lock.timeout = timeouts::parse_timeout(&get("lock_timeout", text)?)
            .map_err(|m| Error::config(setting("lock_timeout"), m))?;
    }
    if let Some(n) = db.lock_retries {
        ddl_lock.retries = u32::try_from(n).map_err(|_| {
            Error::config(
                setting("lock_retries"),
                format!("lock_retries = {n}: give a number from 0 up"),
            )
        })?;
    }
    let mut waits = cluster::ClusterWaits::default();
    if let Some(raw) = &db.wait_for_active_shards {
        waits.active_shards = Some(
            cluster::active_shards(raw)
                .map_err(|m| Error::config(setting("wait_for_active_shards"), m))?,
        );
    }
    if let Some(text) = opt("require_health", &db.require_health)? {
        waits.require_health =
            cluster::health(&text).map_err(|m| Error::config(setting("require_health"), m))?;
    }
    let drift = drift::scope(
        &drift::RawDrift {
            on_drift: db.on_drift.clone(),
            schemas: db.schemas.clone(),
            drift_ignore: db.drift_ignore.clone(),
            drift_include_grants: db.drift_include_grants,
        },
        kind,
    )
    .map_err(|(key, m)| Error::config(setting(key), m))?;
    let secrets = substituted
        .into_iter()
        .chain(password.clone())
        .chain(api_key.clone());
    Ok(DatabaseConfig {
        name: name.to_string(),
        kind,
        url: ConnectionUrl::new(url).with_secrets(secrets),
        migrations,
        rollbacks,
        history_table,
        user,
        password: password.map(Secret::new),
        api_key: api_key.map(Secret::new),
        tls,
        lint_fail_on,
        ddl_lock,
        cluster: waits,
        drift,
    })
}

#[cfg(test)]
mod tests;
