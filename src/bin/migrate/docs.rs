//! What is generated from the command line's grammar and the config's
//! types: shell completions (`migrate completions SHELL`), man pages
//! (`migrate man --out DIR`, kept in `docs/man/`) and the book's CLI and
//! configuration references (`migrate reference --out DIR`, kept in
//! `docs/src/reference/`); `tests/generated.rs` fails when a kept one is
//! stale.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;

/// Prints the completion script of `shell` on stdout (a reader that goes
/// away gets what was written, as everywhere).
pub(crate) fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "migrate", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    ExitCode::SUCCESS
}

/// Writes `cli.md` and `config.md` into `out`.
pub(crate) fn reference(out: &Path) -> ExitCode {
    let written = std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(out.join("cli.md"), cli_reference()))
        .and_then(|()| std::fs::write(out.join("config.md"), config_reference()));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the references into {}: {e}", out.display());
            ExitCode::from(2)
        }
    }
}

/// Every visible command's `--help`, in the order `migrate --help` lists
/// them (subcommands under their command).
fn cli_reference() -> String {
    let mut root = Cli::command();
    root.build();
    let mut text = String::from(
        "# CLI reference\n\nGenerated from the command line's grammar (`migrate reference`); \
         each command's `--help` as `migrate` prints it. The [Command line](../cli.md) \
         chapter explains them together.\n",
    );
    fn add(cmd: &clap::Command, text: &mut String) {
        let name = cmd.get_bin_name().unwrap_or(cmd.get_name());
        let help = cmd.clone().render_long_help().to_string();
        let help: Vec<&str> = help.lines().map(str::trim_end).collect();
        text.push_str(&format!(
            "\n## `{name}`\n\n```text\n{}\n```\n",
            help.join("\n")
        ));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() != "help" {
                add(sub, text);
            }
        }
    }
    add(&root, &mut text);
    text
}

/// Each table of `migrate.toml` with its settings, their types and
/// descriptions, from the JSON Schema of the config types.
fn config_reference() -> String {
    let schema = strata::config::json_schema();
    let defs = &schema["$defs"];
    let mut text = String::from(
        "# Configuration reference\n\nGenerated from the types that read `migrate.toml` \
         (`migrate reference`), like `docs/migrate.schema.json`, which editors use to \
         complete and check the file. The [Configuration](../configuration.md) chapter \
         shows the settings in context.\n",
    );
    let tables = [
        ("Top level", &schema),
        ("`[databases.NAME]`", &defs["RawDatabase"]),
        ("`[groups.NAME]`", &defs["RawGroup"]),
        ("`[defaults]`", &defs["RawDefaults"]),
        ("`[lint]`", &defs["RawLint"]),
        ("`[[partitions]]`", &defs["PartitionSettings"]),
    ];
    for (title, table) in tables {
        text.push_str(&format!(
            "\n## {title}\n\n| setting | type | description |\n|---|---|---|\n"
        ));
        let Some(properties) = table["properties"].as_object() else {
            continue;
        };
        for (key, p) in properties {
            let description = p["description"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace('|', "\\|");
            text.push_str(&format!("| `{key}` | {} | {description} |\n", type_of(p)));
        }
    }
    text
}

/// A schema's type in a few words: `string`, `integer`, `array of string`,
/// one of its enumerated values, or the table it refers to.
fn type_of(p: &serde_json::Value) -> String {
    if let Some(values) = p["enum"].as_array() {
        return values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ");
    }
    if let Some(r) = p["$ref"]
        .as_str()
        .or(p["additionalProperties"]["$ref"].as_str())
    {
        return format!("table ({})", r.rsplit('/').next().unwrap_or(r));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = p[key].as_array() {
            let names: Vec<String> = options
                .iter()
                .filter(|o| o["type"] != "null")
                .map(type_of)
                .collect();
            return names.join(" or ");
        }
    }
    let kinds: Vec<String> = match &p["type"] {
        serde_json::Value::String(t) => vec![t.clone()],
        serde_json::Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "null")
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let kinds: Vec<String> = kinds
        .into_iter()
        .map(|k| match (k.as_str(), p["items"].is_object()) {
            ("array", true) => format!("array of {}", type_of(&p["items"])),
            _ => k,
        })
        .collect();
    match kinds.is_empty() {
        true => "any".to_string(),
        false => kinds.join(" or "),
    }
}

/// Writes `migrate.1` and one `migrate-COMMAND.1` per visible command.
pub(crate) fn man(out: &Path) -> ExitCode {
    match write_pages(out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing man pages into {}: {e}", out.display());
            ExitCode::from(2)
        }
    }
}

fn write_pages(out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let root = Cli::command();
    render(&root, &out.join("migrate.1"))?;
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap names a command with a `'static` string; this process
        // ends right after writing the pages.
        let name: &'static str = Box::leak(format!("migrate-{}", sub.get_name()).into_boxed_str());
        let page = sub.clone().name(name).bin_name(name.replacen('-', " ", 1));
        render(&page, &out.join(format!("{name}.1")))?;
    }
    Ok(())
}

fn render(cmd: &clap::Command, path: &Path) -> std::io::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    std::fs::write(path, page)
}
