//! The deploy examples are read as their platforms read them: each
//! Kubernetes manifest into the API's own types (`k8s-openapi`) and back,
//! so a misspelt or misplaced field (which the types drop) fails; the
//! GitHub Actions workflow as YAML with the keys GitHub needs; and every
//! `migrate` command line in them is parsed by the real binary.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::Value;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every YAML document of a file, as JSON values.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::to_value(v).unwrap()
        })
        .collect()
}

/// `doc` read into `T` and written back: equal only when every field is
/// one the API knows, where the API expects it.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value, what: &str) {
    let typed: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{what}: not a valid object: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, doc,
        "{what}: a field the API does not know was dropped"
    );
}

/// The containers (init containers too) of a workload, wherever its pod
/// template sits.
fn containers(doc: &Value) -> Vec<Value> {
    let spec = match doc["kind"].as_str() {
        Some("CronJob") => &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &doc["spec"]["template"]["spec"],
    };
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| spec[k].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Runs `migrate` with `args` in an empty folder: it may fail for want of
/// a config or a server, never because clap refuses the command line.
fn parses(args: &[String], context: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(support::migrate_bin())
        .args(args)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    for refusal in [
        "unexpected argument",
        "invalid value",
        "unrecognized subcommand",
        "Usage: migrate",
    ] {
        assert!(!err.contains(refusal), "{context}: migrate {args:?}: {err}");
    }
}

#[test]
fn kubernetes_manifests_are_valid_api_objects_running_valid_commands() {
    let dir = examples().join("kubernetes");
    let mut kinds = Vec::new();
    let mut commands = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        for (i, doc) in documents(&path).iter().enumerate() {
            let what = format!("{} document {}", path.display(), i + 1);
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            match kind.as_str() {
                "Job" => round_trip::<Job>(doc, &what),
                "CronJob" => round_trip::<CronJob>(doc, &what),
                "Deployment" => round_trip::<Deployment>(doc, &what),
                "ConfigMap" => round_trip::<ConfigMap>(doc, &what),
                other => panic!("{what}: kind {other:?} is not checked here"),
            }
            for c in containers(doc) {
                if c["command"] == serde_json::json!(["migrate"]) {
                    let args: Vec<String> = serde_json::from_value(c["args"].clone()).unwrap();
                    parses(&args, &what);
                    commands += 1;
                }
            }
            kinds.push(kind);
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["ConfigMap", "CronJob", "Deployment", "Job"]);
    assert_eq!(commands, 3, "up, wait and partitions run");
}

#[test]
fn the_github_workflow_lints_and_comments_the_plan() {
    let path = examples().join("ci").join("github-actions.yml");
    let docs = documents(&path);
    assert_eq!(docs.len(), 1);
    let wf = &docs[0];
    assert!(wf["on"]["pull_request"].is_object(), "{wf}");
    let steps = wf["jobs"]["plan"]["steps"]
        .as_array()
        .expect("jobs.plan.steps");
    assert_eq!(wf["jobs"]["plan"]["runs-on"], "ubuntu-latest");
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    for step in steps {
        assert!(
            step["run"].is_string() || step["uses"].is_string(),
            "a step runs or uses something: {step}"
        );
    }
    let migrate: Vec<&str> = runs
        .iter()
        .copied()
        .filter(|r| r.starts_with("migrate "))
        .collect();
    assert_eq!(migrate.len(), 2, "{runs:?}");
    assert!(migrate[0].contains("lint --format json"), "{}", migrate[0]);
    assert!(
        migrate[1].contains("plan --format markdown"),
        "{}",
        migrate[1]
    );
    for line in migrate {
        // The words before the shell's redirection, "$DATABASE_URL" as a URL.
        let words: Vec<String> = line
            .split('>')
            .next()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(|w| w.replace("\"$DATABASE_URL\"", "postgres://u@127.0.0.1:1/db"))
            .collect();
        parses(&words, &path.display().to_string());
    }
    assert!(
        runs.iter()
            .any(|r| r.contains("gh pr comment") && r.contains("plan.md")),
        "{runs:?}"
    );
}

/// The Dockerfile (no container engine here to build it): its build stage
/// runs exactly the command CI runs for the static binary, and the image
/// is the binary that command makes, on a static non-root base, as the
/// entrypoint.
#[test]
fn the_dockerfile_ships_the_static_binary_ci_builds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let instructions: Vec<(&str, &str)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once(' ').unwrap_or((l, "")))
        .collect();
    let all = |word: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(w, _)| *w == word)
            .map(|(_, rest)| *rest)
            .collect()
    };
    assert_eq!(all("RUN"), ["bash tests/support/static.sh build"]);
    let script = std::fs::read_to_string(root.join("tests/support/static.sh")).unwrap();
    assert!(
        script.contains("BIN=\"target/$TARGET/release/migrate\"")
            && script.contains("TARGET=x86_64-unknown-linux-musl"),
        "static.sh no longer builds where the Dockerfile copies from"
    );
    let from = all("FROM");
    assert_eq!(from.len(), 2, "{from:?}");
    assert!(from[1].starts_with("gcr.io/distroless/static"), "{from:?}");
    assert_eq!(
        all("COPY").last().copied(),
        Some(
            "--from=build /src/target/x86_64-unknown-linux-musl/release/migrate /usr/local/bin/migrate"
        )
    );
    let user = all("USER");
    assert!(
        user.len() == 1 && !user[0].starts_with("root") && !user[0].starts_with('0'),
        "{user:?}"
    );
    assert_eq!(all("ENTRYPOINT"), ["[\"/usr/local/bin/migrate\"]"]);
    // The default command is one the binary takes.
    let cmd: Vec<String> = serde_json::from_str(all("CMD")[0]).unwrap();
    parses(&cmd, "the Dockerfile's CMD");
}
