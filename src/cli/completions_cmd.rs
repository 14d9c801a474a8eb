//! `redash-gitops completions`: shell completion scripts.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use super::{Cli, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

impl ShellArg {
    fn shell(self) -> Shell {
        match self {
            ShellArg::Bash => Shell::Bash,
            ShellArg::Zsh => Shell::Zsh,
            ShellArg::Fish => Shell::Fish,
        }
    }

    /// Where packagers put the script, by convention.
    fn file_name(self) -> &'static str {
        match self {
            ShellArg::Bash => "redash-gitops.bash",
            ShellArg::Zsh => "_redash-gitops",
            ShellArg::Fish => "redash-gitops.fish",
        }
    }
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum, required_unless_present = "out")]
    shell: Option<ShellArg>,
    /// Write the scripts of every shell into this directory instead
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn script(shell: ShellArg) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell.shell(), &mut Cli::command(), "redash-gitops", &mut buf);
    buf
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    match (args.out, args.shell) {
        (Some(dir), _) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for shell in [ShellArg::Bash, ShellArg::Zsh, ShellArg::Fish] {
                let path = dir.join(shell.file_name());
                std::fs::write(&path, script(shell)).with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
        (None, Some(shell)) => {
            use std::io::Write;
            std::io::stdout().write_all(&script(shell))?;
        }
        (None, None) => anyhow::bail!("name a shell: bash, zsh or fish"),
    }
    Ok(Outcome::Clean)
}
