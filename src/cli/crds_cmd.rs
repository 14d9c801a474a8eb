//! `redash-gitops crds`: the CustomResourceDefinitions, generated from the Rust types.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::Outcome;
use crate::operator::crds;

#[derive(Args, Debug)]
pub struct CrdsArgs {
    /// Write one file per CRD into this directory instead of printing them
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: CrdsArgs) -> anyhow::Result<Outcome> {
    match args.out {
        None => print!("{}", crds::stream()),
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, yaml) in crds::all() {
                let path = dir.join(name);
                std::fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(Outcome::Clean)
}
