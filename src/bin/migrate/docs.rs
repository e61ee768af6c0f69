//! What is generated from the command line's grammar: shell completions
//! (`migrate completions SHELL`) and man pages (`migrate man --out DIR`,
//! kept in `docs/man/` and checked for staleness by `tests/generated.rs`).

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
