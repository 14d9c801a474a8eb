//! `redash-gitops schema`: JSON Schemas of the kinds and of redash-gitops.yaml, for editors.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::Outcome;
use crate::schema;

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Which schema to print: query, dashboard, redashconnection, manifest (either kind) or config
    #[arg(default_value = "manifest")]
    name: String,
    /// Write every schema into this directory instead of printing one
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: SchemaArgs) -> anyhow::Result<Outcome> {
    let schemas = schema::all();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, text) in schemas {
                let path = dir.join(name);
                std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
        None => {
            let wanted = format!("{}.json", args.name);
            let Some((_, text)) = schemas.iter().find(|(n, _)| *n == wanted) else {
                let names: Vec<&str> = schemas.iter().map(|(n, _)| n.trim_end_matches(".json")).collect();
                bail!("no schema {:?}; there are: {}", args.name, names.join(", "));
            };
            print!("{text}");
        }
    }
    Ok(Outcome::Clean)
}
