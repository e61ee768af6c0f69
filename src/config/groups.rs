//! `[groups.NAME]`: one entry standing for many databases that share one
//! migrations folder (a database per tenant). Members come from `urls`, a
//! `urls_file` (one URL per line) or a `urls_query` run against a
//! configured PostgreSQL database; each becomes a database of the config
//! named `<group>/<database name>` (`<database>@<host>-<port>` where one
//! name sits on several servers), or `<group>/<host>-<port>` for kinds
//! without databases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Config, RawDatabase, database, expand, validate_name};
use crate::error::{Error, Result};
use crate::kind::Kind;

/// A `[groups.NAME]` table as written.
#[derive(Deserialize, schemars::JsonSchema, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    /// The members' kind: `postgres`, `neo4j`, `elasticsearch` or `qdrant`.
    kind: String,
    /// The folder every member migrates from (default `migrations/<group>`).
    migrations: Option<String>,
    /// The members' rollbacks (default `rollbacks/<group>`).
    rollbacks: Option<String>,
    /// Each member's history table, index or collection (default `schema_migrations`).
    history_table: Option<String>,
    /// PostgreSQL: the history's schema in each member.
    history_schema: Option<String>,
    /// PostgreSQL: how long a statement waits for a table lock (`5s`, `off`).
    pub(super) lock_timeout: Option<String>,
    /// PostgreSQL: how often a step that timed out is tried again.
    pub(super) lock_retries: Option<i64>,
    /// User name for every member, sent beside its URL.
    user: Option<String>,
    /// Password for every member, never printed.
    password: Option<String>,
    /// Elasticsearch, Qdrant: an API key for every member.
    api_key: Option<String>,
    /// Elasticsearch: shard copies every write waits for (`"all"` or a number).
    wait_for_active_shards: Option<super::cluster::RawActiveShards>,
    /// Elasticsearch: the cluster health required before anything runs.
    require_health: Option<String>,
    /// What `up` does on a schema changed by hand: `warn`, `refuse`, `off`.
    on_drift: Option<String>,
    /// Objects drift leaves out (`*` matches any run of characters).
    drift_ignore: Option<Vec<String>>,
    /// PostgreSQL: the schemas drift describes.
    schemas: Option<Vec<String>>,
    /// PostgreSQL: owners and privileges are drift too.
    drift_include_grants: Option<bool>,
    /// Staged rollout: members migrated up to each mark (a count or `"10%"`), in name order.
    rollout: Option<Vec<super::rollout::RawStage>>,
    /// Failed members a stage may have and the next stage still start (default 0).
    max_failures: Option<i64>,
    /// The members' URLs, one per member.
    urls: Option<Vec<String>>,
    /// A file of member URLs, one per line (`#` comments), relative to the config.
    urls_file: Option<String>,
    /// SQL whose first column lists the member URLs, run before anything else.
    urls_query: Option<String>,
    /// The `[databases.X]` (PostgreSQL) that `urls_query` runs against.
    query_database: Option<String>,
}

/// A group of databases sharing one migrations folder.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group's name: `--database NAME` selects every member.
    pub name: String,
    /// The members' database names (`<group>/<member>`), in order.
    pub members: Vec<String>,
    /// The query that lists the members, until it has run.
    pub query: Option<GroupQuery>,
    /// The members' kind.
    pub kind: Kind,
    /// The migrations folder every member shares.
    pub migrations: PathBuf,
    /// The rollbacks folder every member shares.
    pub rollbacks: PathBuf,
    /// `rollout` and `max_failures`: the members migrated in stages.
    pub rollout: Option<super::rollout::Rollout>,
    template: Template,
}

/// A `urls_query` and the configured database it runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupQuery {
    /// The SQL; its first column is one member URL per row.
    pub sql: String,
    /// The `[databases.X]` it runs against (PostgreSQL).
    pub database: String,
}

/// What every member is made from: the group's settings, where the file
/// was, and the environment variables they name (taken when the config was
/// read, so members made later see the same values).
impl Group {
    /// `--ddl-lock-timeout` for the members made later too.
    pub(super) fn override_lock_timeout(&mut self, text: &str) {
        self.template.raw.lock_timeout = Some(text.to_string());
    }
}

#[derive(Clone)]
struct Template {
    raw: RawGroup,
    place: String,
    base: PathBuf,
    env: BTreeMap<String, String>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The captured variables may hold passwords.
        f.debug_struct("Template")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

/// The `${NAME}` references in `text`.
fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// Reads one `[groups.NAME]` entry into `config`: the group, and its
/// members unless a query lists them.
pub(super) fn add(
    config: &mut Config,
    name: &str,
    raw: RawGroup,
    origin: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    let place = format!("{origin}: groups.{name}");
    validate_name(name).map_err(|m| Error::config(&place, m))?;
    if config.databases.contains_key(name) {
        return Err(Error::config(
            &place,
            "a database of the same name is configured; a group needs a name of its own",
        ));
    }
    let sources = [
        raw.urls.is_some(),
        raw.urls_file.is_some(),
        raw.urls_query.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(Error::config(
            &place,
            "give the members with exactly one of urls, urls_file, urls_query",
        ));
    }
    if raw.query_database.is_some() != raw.urls_query.is_some() {
        return Err(Error::config(
            format!("{place}.query_database"),
            "urls_query and query_database go together: the query runs against that database",
        ));
    }
    let fields = [
        Some(&raw.kind),
        raw.migrations.as_ref(),
        raw.rollbacks.as_ref(),
        raw.history_table.as_ref(),
        raw.history_schema.as_ref(),
        raw.lock_timeout.as_ref(),
        raw.user.as_ref(),
        raw.password.as_ref(),
        raw.api_key.as_ref(),
        raw.urls_file.as_ref(),
        raw.urls_query.as_ref(),
        raw.query_database.as_ref(),
    ];
    let mut captured = BTreeMap::new();
    for text in fields
        .into_iter()
        .flatten()
        .chain(raw.urls.iter().flatten())
    {
        for var in references(text) {
            if let Some(v) = env(&var) {
                captured.insert(var, v);
            }
        }
    }
    let template = Template {
        raw: raw.clone(),
        place: place.clone(),
        base: base.to_path_buf(),
        env: captured,
    };
    let captured = template.env.clone();
    let get = |key: &str, value: &str| {
        expand(value, &|n| captured.get(n).cloned())
            .map_err(|m| Error::config(format!("{place}.{key}"), m))
    };
    let query = match (&raw.urls_query, &raw.query_database) {
        (Some(sql), Some(db)) => {
            let database = get("query_database", db)?;
            match config.databases.get(&database) {
                Some(d) if d.kind == Kind::Postgres => {}
                Some(d) => {
                    return Err(Error::config(
                        format!("{place}.query_database"),
                        format!("{database} is {}; the query runs on PostgreSQL", d.kind),
                    ));
                }
                None => {
                    return Err(Error::config(
                        format!("{place}.query_database"),
                        format!("{database:?} is not configured under [databases]"),
                    ));
                }
            }
            Some(GroupQuery {
                sql: get("urls_query", sql)?,
                database,
            })
        }
        _ => None,
    };
    // The folders every member gets (members are made by the same rule).
    let kind = Kind::parse(&get("kind", &raw.kind)?)
        .map_err(|m| Error::config(format!("{place}.kind"), m))?;
    let folder = |key: &str, value: &Option<String>| -> Result<PathBuf> {
        let value = match value {
            Some(v) => get(key, v)?,
            None => format!("{key}/{name}"),
        };
        Ok(base.join(value))
    };
    let migrations = folder("migrations", &raw.migrations)?;
    let rollbacks = folder("rollbacks", &raw.rollbacks)?;
    let rollout = match (&raw.rollout, raw.max_failures) {
        (Some(stages), max) => Some(
            super::rollout::rollout(stages, max)
                .map_err(|m| Error::config(format!("{place}.rollout"), m))?,
        ),
        (None, Some(_)) => {
            return Err(Error::config(
                format!("{place}.max_failures"),
                "is for a staged rollout: give `rollout` too",
            ));
        }
        (None, None) => None,
    };
    config.groups.insert(
        name.to_string(),
        Group {
            name: name.to_string(),
            members: Vec::new(),
            query,
            kind,
            migrations,
            rollbacks,
            rollout,
            template,
        },
    );
    // Each URL with where it was given, for messages.
    let urls: Vec<(String, String)> = match (&raw.urls, &raw.urls_file) {
        (Some(urls), _) => urls
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("member {}", i + 1), u.clone()))
            .collect(),
        (None, Some(file)) => {
            let file = get("urls_file", file)?;
            let path = base.join(&file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::config(
                    format!("{place}.urls_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            text.lines()
                .enumerate()
                .map(|(i, l)| (format!("{file}:{}", i + 1), l.trim()))
                .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
                .map(|(at, l)| (at, l.to_string()))
                .collect()
        }
        (None, None) => return Ok(()),
    };
    if urls.is_empty() {
        return Err(Error::config(&place, "the group has no member URL"));
    }
    // The file's `${VAR}`s are read like the config's own.
    let captured = &mut config.groups.get_mut(name).expect("inserted").template.env;
    for var in urls.iter().flat_map(|(_, u)| references(u)) {
        if let Some(value) = env(&var) {
            captured.insert(var, value);
        }
    }
    add_members(config, name, &urls)
}

/// What names a member: its database (PostgreSQL and Neo4j: the URL's
/// path, `postgres://h/acme`, `bolt://h:7687/acme`) and its host and port
/// (`h-5433`), each kept to characters safe in a name.
fn member_parts(kind: Kind, url: &str) -> (Option<String>, String) {
    let parsed = url::Url::parse(url).ok();
    let database = parsed.as_ref().and_then(|u| match kind {
        Kind::Postgres | Kind::Neo4j => u
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|s| !s.is_empty())
            .map(safe),
        _ => None,
    });
    let host = parsed.as_ref().map_or_else(String::new, |u| {
        let host = u.host_str().unwrap_or("localhost");
        safe(&match u.port() {
            Some(p) => format!("{host}-{p}"),
            None => host.to_string(),
        })
    });
    (database, host)
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Each member's name: its database, or where databases of one name sit
/// on several servers (a tenant per server, each database `app`),
/// `database@host-port`; a member with no database (Elasticsearch,
/// Qdrant) is named by its host and port.
fn member_names(parts: &[(Option<String>, String)]) -> Vec<String> {
    // Each database name with the servers it sits on (one pass: groups
    // can list thousands of members).
    let mut servers: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for (database, host) in parts {
        if let Some(db) = database {
            servers.entry(db).or_default().insert(host);
        }
    }
    parts
        .iter()
        .map(|(database, host)| match database {
            Some(db) if servers[db.as_str()].len() > 1 => format!("{db}@{host}"),
            Some(db) => db.clone(),
            None => host.clone(),
        })
        .collect()
}

/// Adds one member per URL to a group (already in `config.groups`); each
/// URL comes with where it was given (`tenants.txt:3`), for messages.
pub(super) fn add_members(
    config: &mut Config,
    group: &str,
    urls: &[(String, String)],
) -> Result<()> {
    let Some(g) = config.groups.get(group) else {
        return Err(Error::Usage(format!("no group {group} in the config")));
    };
    let t = g.template.clone();
    let env = |n: &str| t.env.get(n).cloned();
    let mut made: Vec<super::DatabaseConfig> = Vec::new();
    let mut places = Vec::new();
    for (at, url) in urls {
        let place = format!("{} ({at}: {})", t.place, super::redact_url(url));
        let raw = RawDatabase {
            kind: t.raw.kind.clone(),
            url: url.clone(),
            migrations: t.raw.migrations.clone(),
            rollbacks: t.raw.rollbacks.clone(),
            history_table: t.raw.history_table.clone(),
            history_schema: t.raw.history_schema.clone(),
            lock_timeout: t.raw.lock_timeout.clone(),
            lock_retries: t.raw.lock_retries,
            user: t.raw.user.clone(),
            password: t.raw.password.clone(),
            api_key: t.raw.api_key.clone(),
            wait_for_active_shards: t.raw.wait_for_active_shards.clone(),
            require_health: t.raw.require_health.clone(),
            on_drift: t.raw.on_drift.clone(),
            schemas: t.raw.schemas.clone(),
            drift_ignore: t.raw.drift_ignore.clone(),
            drift_include_grants: t.raw.drift_include_grants,
            ..RawDatabase::default()
        };
        made.push(database(group, group, raw, &place, &t.base, &env)?);
        places.push(place);
    }
    let parts: Vec<_> = made
        .iter()
        .map(|db| member_parts(db.kind, db.url.expose()))
        .collect();
    // Name → position among the members named so far.
    let mut named: BTreeMap<String, usize> = BTreeMap::new();
    for (i, member) in member_names(&parts).into_iter().enumerate() {
        let name = format!("{group}/{member}");
        let earlier = named.get(&name).map(|&j| &made[j]);
        if let Some(other) = earlier.or_else(|| config.databases.get(&name)) {
            return Err(Error::config(
                &places[i],
                format!(
                    "is the same database as {} ({}): a group lists each database once",
                    other.name,
                    other.shown_url()
                ),
            ));
        }
        named.insert(name.clone(), i);
        made[i].name = name;
    }
    let g = config.groups.get_mut(group).expect("checked above");
    g.query = None;
    for db in made {
        g.members.push(db.name.clone());
        config.databases.insert(db.name.clone(), db);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(text, "migrate.toml", Path::new("/srv/app"), &|n| {
            env.get(n).cloned()
        })
    }

    #[test]
    fn members_are_named_by_their_database_and_share_the_folder() {
        let c = parse(
            "[groups.tenants]\nkind = \"postgres\"\nurls = [\"postgres://u:${PW}@db1/acme\", \"postgres://u@db2:5433/globex\"]\n",
            &[("PW", "s3cr/t")],
        )
        .unwrap();
        let g = &c.groups["tenants"];
        assert_eq!(g.members, ["tenants/acme", "tenants/globex"]);
        let acme = &c.databases["tenants/acme"];
        assert_eq!(acme.migrations, Path::new("/srv/app/migrations/tenants"));
        assert_eq!(acme.rollbacks, Path::new("/srv/app/rollbacks/tenants"));
        assert!(!acme.url.redacted().contains("s3cr"));
        assert_eq!(
            c.select(&["tenants".into()]).unwrap().len(),
            2,
            "the group selects every member"
        );
        assert_eq!(
            c.select(&["tenants/globex".into()]).unwrap()[0].name,
            "tenants/globex"
        );
        let e = c
            .select(&["tenants/initech".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "--database tenants/initech: group tenants has no such member (members are \
                 named by their database: tenants/acme, tenants/globex)"
            ),
            "{e}"
        );
    }

    #[test]
    fn one_database_name_on_several_servers_is_told_apart_by_host() {
        let c = parse(
            "[groups.t]\nkind = \"postgres\"\nurls = [\"postgres://db1/app\", \
             \"postgres://db2:5433/app\", \"postgres://db2:5433/billing\"]\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.groups["t"].members,
            ["t/app@db1", "t/app@db2-5433", "t/billing"]
        );
        let picked = c.select(&["t/app@db2-5433".into()]).unwrap();
        assert_eq!(picked[0].url.expose(), "postgres://db2:5433/app");
    }

    #[test]
    fn neo4j_members_are_named_by_their_database_else_their_host() {
        let c = parse(
            "[groups.graphs]\nkind = \"neo4j\"\nurls = [\"bolt://g1:7687/acme\", \"bolt://g1:7687/globex\", \"neo4j://g2:7687\"]\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.groups["graphs"].members,
            ["graphs/acme", "graphs/globex", "graphs/g2-7687"]
        );
    }

    #[test]
    fn bad_groups_are_refused_by_name() {
        for (text, said) in [
            (
                "[groups.t]\nkind = \"postgres\"\n",
                "exactly one of urls, urls_file, urls_query",
            ),
            (
                "[groups.t]\nkind = \"postgres\"\nurls = [\"postgres://h/a\"]\nurls_file = \"x\"\n",
                "exactly one of",
            ),
            (
                "[groups.t]\nkind = \"postgres\"\nurls = [\"postgres://h1/a\", \"postgres://u@h1/a\"]\n",
                "(member 2: postgres://u@h1/a): is the same database as t/a (postgres://h1/a)",
            ),
            (
                "[groups.t]\nkind = \"postgres\"\nurls_query = \"SELECT 1\"\n",
                "urls_query and query_database go together",
            ),
            (
                "[groups.t]\nkind = \"postgres\"\nurls_query = \"SELECT 1\"\nquery_database = \"dir\"\n",
                "\"dir\" is not configured",
            ),
            (
                "[groups.t]\nkind = \"postgres\"\nurls = [\"postgres://h/a?sslmode=bogus\"]\n",
                "groups.t (member 1: postgres://h/a?sslmode=bogus).url",
            ),
            (
                "[groups.t]\nkind = \"postgres\"\nurls = []\n",
                "no member URL",
            ),
        ] {
            let e = parse(text, &[]).unwrap_err().to_string();
            assert!(e.contains(said), "{text}\n{e}");
        }
    }

    #[test]
    fn a_query_group_waits_for_its_query() {
        let mut c = parse(
            "[databases.dir]\nkind = \"postgres\"\nurl = \"postgres://h/dir\"\n\
             [groups.t]\nkind = \"postgres\"\nurls_query = \"SELECT url FROM tenants\"\nquery_database = \"dir\"\n",
            &[],
        )
        .unwrap();
        assert!(
            c.select(&[])
                .unwrap_err()
                .to_string()
                .contains("has not run")
        );
        // What the query returns is taken as it is: no `${VAR}` in it.
        let e = c
            .add_members(
                "t",
                &[
                    "postgres://h/one".into(),
                    "postgres://u:${HOME}@h/two".into(),
                ],
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("groups.t (urls_query row 2: postgres://u:***@h/two)")
                && e.contains("not expanded"),
            "{e}"
        );
        assert!(c.groups["t"].members.is_empty());
        c.add_members("t", &["postgres://h/one".into()]).unwrap();
        assert_eq!(c.groups["t"].members, ["t/one"]);
        assert_eq!(c.select(&[]).unwrap().len(), 2);
    }

    #[test]
    fn a_urls_file_reads_variables_like_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tenants.txt"),
            "# tenants\npostgres://app:${TENANT_PW}@db1/acme\n\npostgres://app@db2/globex\n",
        )
        .unwrap();
        let env = |n: &str| (n == "TENANT_PW").then(|| "p@ss/word".to_string());
        let c = Config::parse(
            "[groups.t]\nkind = \"postgres\"\nurls_file = \"tenants.txt\"\n",
            "migrate.toml",
            dir.path(),
            &env,
        )
        .unwrap();
        assert_eq!(c.groups["t"].members, ["t/acme", "t/globex"]);
        // Substituted percent-encoded, as in the config's own URLs.
        assert!(
            c.databases["t/acme"]
                .url
                .expose()
                .starts_with("postgres://app:p%40ss%2Fword@db1/"),
            "{}",
            c.databases["t/acme"].url.redacted()
        );
        let e = Config::parse(
            "[groups.t]\nkind = \"postgres\"\nurls_file = \"tenants.txt\"\n",
            "migrate.toml",
            dir.path(),
            &|_| None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("groups.t (tenants.txt:2: postgres://app:***@db1/acme).url")
                && e.contains("TENANT_PW is not set"),
            "{e}"
        );
    }
}
