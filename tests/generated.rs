//! What is generated from the command line's grammar cannot go stale: the
//! man pages in `docs/man/` are what `migrate man` writes now (regenerate
//! them with `STRATA_BLESS=1 cargo test --test generated`), and each
//! shell's completion script knows every command.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn pages(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "1"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_man_pages_in_the_repository_are_current() {
    let fresh = tempfile::tempdir().unwrap();
    let run = support::Run::from(
        Command::new(support::migrate_bin())
            .args(["man", "--out"])
            .arg(fresh.path())
            .output()
            .unwrap(),
    );
    run.expect(0);
    let generated = pages(fresh.path());
    assert!(generated.contains_key("migrate.1") && generated.contains_key("migrate-drift.1"));
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    if std::env::var("STRATA_BLESS").is_ok_and(|v| v == "1") {
        std::fs::remove_dir_all(&kept).ok();
        std::fs::create_dir_all(&kept).unwrap();
        for (name, text) in &generated {
            std::fs::write(kept.join(name), text).unwrap();
        }
    }
    let stored = pages(&kept);
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>(),
        "docs/man/ lists other pages than `migrate man` writes: regenerate with \
         STRATA_BLESS=1 cargo test --test generated"
    );
    for (name, text) in &generated {
        assert!(
            stored[name] == *text,
            "docs/man/{name} is stale: regenerate with STRATA_BLESS=1 cargo test --test generated"
        );
    }
}

#[test]
fn every_shell_s_completions_know_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let run = support::Run::from(
            Command::new(support::migrate_bin())
                .args(["completions", shell])
                .output()
                .unwrap(),
        );
        run.expect(0);
        for command in ["up", "down", "status", "drift", "partitions", "baseline"] {
            assert!(
                run.stdout.contains(command),
                "{shell}: no {command} in\n{}",
                run.stdout
            );
        }
    }
    let run = support::Run::from(
        Command::new(support::migrate_bin())
            .args(["completions", "tcsh"])
            .output()
            .unwrap(),
    );
    run.expect(2);
}

/// `docs/migrate.schema.json` is the JSON Schema the config types give now,
/// and the demo's own `migrate.toml` is valid against it (every key known,
/// every value of the type the schema says).
#[test]
fn the_config_schema_is_current_and_takes_the_demo_config() {
    let schema = strata::config::json_schema();
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/migrate.schema.json");
    let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    if std::env::var("STRATA_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&kept, &text).unwrap();
    }
    assert!(
        std::fs::read_to_string(&kept).is_ok_and(|stored| stored == text),
        "docs/migrate.schema.json is stale: regenerate with STRATA_BLESS=1 cargo test --test generated"
    );
    // Every top-level table of the demo's config is a property the schema
    // knows, and unknown ones are refused.
    let demo: toml::Table = toml::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrate.toml"))
            .unwrap(),
    )
    .unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for key in demo.keys() {
        assert!(properties.contains_key(key), "{key} not in the schema");
    }
    assert_eq!(schema["additionalProperties"], false);
    let database = &schema["$defs"]["RawDatabase"];
    assert_eq!(database["additionalProperties"], false, "{database}");
    for key in ["kind", "url", "on_drift", "drift_ignore", "lock_timeout"] {
        assert!(
            database["properties"][key]["description"].is_string(),
            "{key}: {database}"
        );
    }
    assert_eq!(database["required"], serde_json::json!(["kind", "url"]));
}

#[test]
fn the_book_s_generated_references_are_current() {
    let fresh = tempfile::tempdir().unwrap();
    support::Run::from(
        Command::new(support::migrate_bin())
            .args(["reference", "--out"])
            .arg(fresh.path())
            .output()
            .unwrap(),
    )
    .expect(0);
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/reference");
    for name in ["cli.md", "config.md"] {
        let generated = std::fs::read_to_string(fresh.path().join(name)).unwrap();
        if std::env::var("STRATA_BLESS").is_ok_and(|v| v == "1") {
            std::fs::create_dir_all(&kept).unwrap();
            std::fs::write(kept.join(name), &generated).unwrap();
        }
        let stored = std::fs::read_to_string(kept.join(name)).unwrap_or_default();
        assert!(
            stored == generated,
            "docs/src/reference/{name} is stale: regenerate with STRATA_BLESS=1 cargo test --test generated"
        );
    }
    let config = std::fs::read_to_string(kept.join("config.md")).unwrap();
    for setting in ["`lock_timeout`", "`rollout`", "`on_drift`", "`retention`"] {
        assert!(
            config.contains(setting),
            "{setting} in the configuration reference"
        );
    }
}
