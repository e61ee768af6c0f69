//! The configuration's parsing and checks, one behaviour per test.

use super::*;

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
        "[databases.app]\nkind = \"postgres\"\nurl = \"postgres://h/app\"\nhistory_table = \"a;drop\"\n",
        "m.toml",
        Path::new("."),
        &env,
    )
    .unwrap_err();
    assert!(err.to_string().contains("history_table"), "{err}");
    // A PostgreSQL URL the driver could not read, or one of another kind,
    // is the config's mistake (exit 2), named by its setting.
    for (url, said) in [
        ("x", "relative URL without a base"),
        (
            "bolt://h:7687",
            "expected postgres://user@host:port/database",
        ),
        ("postgres://h:99999/x", "invalid port number"),
        ("postgres://h/a postgres://h/b", "contains a space"),
    ] {
        let err = postgres_at(url).unwrap_err().to_string();
        assert!(
            err.contains("databases.app.url") && err.contains(said),
            "{url}: {err}"
        );
    }
    for url in [
        "postgresql://u@h:5433/app",
        "postgres:///app?host=/run/postgresql",
    ] {
        postgres_at(url).unwrap();
    }
}

/// A config of one PostgreSQL database at `url`.
fn postgres_at(url: &str) -> Result<Config> {
    Config::parse(
        &format!("[databases.app]\nkind = \"postgres\"\nurl = \"{url}\"\n"),
        "m.toml",
        Path::new("."),
        &env,
    )
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
fn credentials_travel_beside_the_url_and_are_scrubbed() {
    let cfg = parse_one(
        "kind = \"elasticsearch\"\nurl = \"http://es:9200\"\nuser = \"elastic\"\npassword = \"p@ss w\"\n",
    )
    .unwrap();
    let db = &cfg.databases["search"];
    assert_eq!(db.kind, Kind::Elasticsearch);
    assert_eq!(db.url.expose(), "http://es:9200");
    assert_eq!(db.user.as_deref(), Some("elastic"));
    assert_eq!(db.password.as_ref().unwrap().expose(), "p@ss w");
    assert!(!format!("{db:?}").contains("p@ss"), "{db:?}");
    assert_eq!(
        db.url.scrub("refused p@ss w and p%40ss%20w"),
        "refused *** and ***"
    );
    assert_eq!(db.history_table, "schema_migrations");

    // A password for PostgreSQL too, and `${VAR}` in the userinfo is
    // percent-encoded so that any generated password works.
    let env = |name: &str| (name == "PW").then(|| "aB3/xY9+Qz7kLm==".to_string());
    let cfg = Config::parse(
        "[databases.a]\nkind = \"postgres\"\nurl = \"postgres://billing:${PW}@h:5432/b\"\n\
         [databases.b]\nkind = \"postgres\"\nurl = \"postgres://h/b\"\nuser = \"u\"\npassword = \"${PW}\"\n",
        "m.toml",
        Path::new("."),
        &env,
    )
    .unwrap();
    let a = &cfg.databases["a"];
    assert_eq!(
        a.url.expose(),
        "postgres://billing:aB3%2FxY9%2BQz7kLm%3D%3D@h:5432/b"
    );
    assert_eq!(a.url.redacted(), "postgres://billing:***@h:5432/b");
    assert_eq!(a.url.scrub("bad aB3/xY9+Qz7kLm== x"), "bad *** x");
    let b = &cfg.databases["b"];
    assert_eq!(b.url.expose(), "postgres://h/b");
    assert_eq!(b.url.scrub("bad aB3/xY9+Qz7kLm== x"), "bad *** x");

    let cfg =
        parse_one("kind = \"elasticsearch\"\nurl = \"https://es:9200\"\napi_key = \"${KEY}\"\n")
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
    let err = parse_one("kind = \"qdrant\"\nurl = \"http://q:6334\"\nuser = \"u\"\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("user: is not a setting of kind qdrant (it takes: url, api_key, ca_cert"),
        "{err}"
    );
    let cfg =
        parse_one("kind = \"qdrant\"\nurl = \"http://q:6334\"\napi_key = \"${KEY}\"\n").unwrap();
    assert_eq!(cfg.databases["search"].kind, Kind::Qdrant);
    assert!(!cfg.databases["search"].url.redacted().contains("aWQ6"));
    let err =
        parse_one("kind = \"postgres\"\nurl = \"postgres://x\"\napi_key = \"k\"\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("is not a setting of kind postgres (it takes: url, user, password)"),
        "{err}"
    );
    for (query, needle) in [
        ("sslmode=bogus", "sslmode=bogus is not a TLS mode"),
        (
            "sslrootcert=/nowhere/ca.pem",
            "sslrootcert: cannot read /nowhere/ca.pem",
        ),
        (
            "sslmode=require&sslrootcert=system",
            "needs sslmode=verify-full",
        ),
        ("sslcert=/etc/hostname", "go together"),
    ] {
        let err = parse_one(&format!(
            "kind = \"postgres\"\nurl = \"postgres://h/d?{query}\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains(needle), "{query}: {err}");
        assert_eq!(err.exit_code(), 2);
    }
}

#[test]
fn expansion_keeps_lone_dollars_and_rejects_bad_references() {
    assert_eq!(expand("pa$$word", &env).unwrap(), "pa$$word");
    assert_eq!(expand("${DIR}/x/${DIR}", &env).unwrap(), "sql/x/sql");
    assert!(expand("${DIR", &env).unwrap_err().contains("unterminated"));
    assert!(expand("${A-B}", &env).unwrap_err().contains("not a valid"));
}

#[test]
fn select_refuses_unknown_names() {
    let cfg = Config::single("postgres://h/db", "m".into(), "r".into()).unwrap();
    assert_eq!(cfg.select(&[]).unwrap().len(), 1);
    let err = cfg.select(&["nope".to_string()]).unwrap_err();
    assert!(err.to_string().contains("known: default"), "{err}");
}

#[test]
fn jobs_must_be_between_one_and_the_maximum() {
    let with_jobs = |n: i64| {
        Config::parse(
            &format!(
                "jobs = {n}\n[databases.app]\nkind = \"postgres\"\nurl = \"postgres://h/app\"\n"
            ),
            "migrate.toml",
            Path::new("."),
            &env,
        )
    };
    assert_eq!(with_jobs(1).unwrap().jobs, Some(1));
    assert_eq!(with_jobs(MAX_JOBS as i64).unwrap().jobs, Some(MAX_JOBS));
    for bad in [0, -1, MAX_JOBS as i64 + 1] {
        let err = with_jobs(bad).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("migrate.toml: jobs"), "{msg}");
        assert!(
            msg.contains(&format!("{bad}: must be between 1 and 1024")),
            "{msg}"
        );
        assert_eq!(err.exit_code(), 2);
    }
}

#[test]
fn a_config_that_does_not_parse_never_prints_a_secret() {
    let cases = [
        // An unknown key holding the secret.
        "[databases.app]\nkind = \"postgres\"\nurl = \"postgres://h/app\"\npasswd = \"Hunter2Secret\"\n",
        // An unterminated string.
        "[databases.app]\nkind = \"postgres\"\nurl = \"postgres://app:Hunter2Secret@h/app\n",
        // A duplicate key.
        "[databases.app]\nkind = \"postgres\"\nurl = \"postgres://app:Hunter2Secret@h/app\"\nurl = \"postgres://app:Hunter2Secret@h/b\"\n",
        // A wrong type, whose message quotes the value.
        "[databases.app]\nkind = \"postgres\"\nurl = \"postgres://h/app\"\npassword = [\"Hunter2Secret\"]\n",
        "[databases.app]\nkind = \"postgres\"\nurl = \"postgres://h/app\"\npassword = 918273645\n",
        // A secret query parameter in a URL that does not parse as TOML.
        "[databases.app]\nkind = \"postgres\"\nurl = \"postgres://h/app?password=Hunter2Secret\" x\n",
    ];
    for text in cases {
        let err = Config::parse(text, "migrate.toml", Path::new("."), &env).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("Hunter2Secret"), "{shown}");
        assert!(!shown.contains("918273645"), "{shown}");
        assert!(shown.contains("migrate.toml:"), "names the place: {shown}");
        assert_eq!(err.exit_code(), 2);
    }
}

#[test]
fn cluster_waits_belong_to_elasticsearch_and_are_checked() {
    let es = |extra: &str| {
        parse_one(&format!(
            "kind = \"elasticsearch\"\nurl = \"http://es:9200\"\n{extra}"
        ))
    };
    let db = |c: Config| c.databases["search"].cluster;
    assert_eq!(db(es("").unwrap()), cluster::ClusterWaits::default());
    let set = db(es("wait_for_active_shards = \"all\"\nrequire_health = \"green\"\n").unwrap());
    assert_eq!(set.active_shards, Some(cluster::ActiveShards::All));
    assert_eq!(set.require_health, cluster::Health::Green);
    let two = db(es("wait_for_active_shards = 2\n").unwrap());
    assert_eq!(two.active_shards, Some(cluster::ActiveShards::Count(2)));
    for (extra, expected) in [
        (
            "wait_for_active_shards = 0\n",
            "databases.search.wait_for_active_shards: 0 is not a shard count",
        ),
        (
            "require_health = \"red\"\n",
            "databases.search.require_health: \"red\": expected",
        ),
    ] {
        let err = es(extra).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
    let pg =
        parse_one("kind = \"postgres\"\nurl = \"postgres://h/db\"\nrequire_health = \"green\"\n")
            .unwrap_err();
    assert!(
        pg.to_string()
            .contains("require_health: is not a setting of kind postgres"),
        "{pg}"
    );
}
