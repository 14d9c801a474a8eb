//! The project configuration file, `redash-gitops.yaml` at the repository root (or named with
//! `--config`): where Redash is, the owner, the manifest paths, per-environment overrides and
//! defaults. Command-line flags win over environment variables, which win over this file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const FILE_NAME: &str = "redash-gitops.yaml";

/// Settings that an environment can override.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Redash base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Ownership scope of this repository's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The environment variable holding the API key (when REDASH_API_KEY is not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// A file holding the API key, relative to this file (when no variable gives one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    /// Archive managed objects gone from the manifests (like `--prune`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// Most archives one run may make (like `--max-archive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_archive: Option<usize>,
    /// Requests in flight (like `--concurrency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u16>,
    /// Data source names on this Redash for names used in the manifests (old: new).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data_sources: BTreeMap<String, String>,
}

/// `redash-gitops.yaml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// Manifest files or directories, relative to this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathBuf>,
    /// Redash base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Ownership scope of this repository's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The environment variable holding the API key (when REDASH_API_KEY is not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// A file holding the API key, relative to this file (when no variable gives one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    /// Archive managed objects gone from the manifests (like `--prune`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// Most archives one run may make (like `--max-archive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_archive: Option<usize>,
    /// Requests in flight (like `--concurrency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u16>,
    /// Data source names on this Redash for names used in the manifests (old: new).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data_sources: BTreeMap<String, String>,
    /// Named environments (`--env NAME`), each overriding the settings above.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, Settings>,
}

impl ConfigFile {
    fn settings(&self) -> Settings {
        Settings {
            url: self.url.clone(),
            owner: self.owner.clone(),
            api_key_env: self.api_key_env.clone(),
            api_key_file: self.api_key_file.clone(),
            prune: self.prune,
            max_archive: self.max_archive,
            concurrency: self.concurrency,
            data_sources: self.data_sources.clone(),
        }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{}:{line}: {message}", path.display())]
    Invalid { path: PathBuf, line: usize, message: String },
    #[error("--env {name}: no environment of that name in {}; it has: {available}", path.display())]
    UnknownEnvironment { name: String, path: PathBuf, available: String },
    #[error("--env {0}: there is no {FILE_NAME} (looked from here up to the repository root)")]
    NoFile(String),
}

/// What a run uses from the configuration: the file's settings with the environment's applied.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resolved {
    pub file: Option<PathBuf>,
    pub paths: Vec<PathBuf>,
    pub settings: Settings,
}

/// Looks for the file in `start` and its parents, up to the directory holding `.git`.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        if d.join(".git").exists() {
            return None;
        }
        dir = d.parent();
    }
    None
}

/// Parses the file, reporting the first mistake with its line (every field is checked against
/// the schema of the type, as manifests are).
fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    use crate::manifest::node::parse_documents;
    use crate::manifest::schema_check::check;
    let invalid = |line: usize, message: String| ConfigError::Invalid { path: path.to_path_buf(), line, message };
    let docs = parse_documents(text)
        .map_err(|e| invalid(e.location().map(|l| l.line() as usize).unwrap_or(1), e.without_snippet().to_string()))?;
    let Some(doc) = docs.into_iter().next() else { return Ok(ConfigFile::default()) };
    let schema = schemars::schema_for!(ConfigFile).to_value();
    if let Some(e) = check(&doc, &schema, "", doc.line).into_iter().next() {
        return Err(invalid(e.line, format!("{}: {}", e.path, e.message)));
    }
    let mut lines = BTreeMap::new();
    serde_json::from_value(doc.to_json("", &mut lines)).map_err(|e| invalid(doc.line, e.to_string()))
}

/// Reads the configuration (`explicit`, or the discovered file) and applies `environment`.
pub fn load(explicit: Option<&Path>, environment: Option<&str>, cwd: &Path) -> Result<Resolved, ConfigError> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => discover(cwd),
    };
    let Some(path) = path else {
        return match environment {
            Some(e) => Err(ConfigError::NoFile(e.into())),
            None => Ok(Resolved::default()),
        };
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| ConfigError::Read { path: path.clone(), reason: e.to_string() })?;
    let file = parse(&path, &text)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut settings = file.settings();
    if let Some(name) = environment {
        let Some(env) = file.environments.get(name) else {
            let names: Vec<&str> = file.environments.keys().map(String::as_str).collect();
            return Err(ConfigError::UnknownEnvironment {
                name: name.into(),
                path,
                available: if names.is_empty() { "none".into() } else { names.join(", ") },
            });
        };
        settings = overlay(settings, env.clone());
    }
    settings.api_key_file = settings.api_key_file.map(|f| base.join(f));
    let paths = file.paths.iter().map(|p| relative(&base, p)).collect();
    Ok(Resolved { file: Some(path), paths, settings })
}

/// `./x` in a file at the repository root reads better as `x`.
fn relative(base: &Path, p: &Path) -> PathBuf {
    if base.as_os_str().is_empty() || base == Path::new(".") { p.to_path_buf() } else { base.join(p) }
}

fn overlay(base: Settings, env: Settings) -> Settings {
    let mut data_sources = base.data_sources;
    data_sources.extend(env.data_sources);
    Settings {
        url: env.url.or(base.url),
        owner: env.owner.or(base.owner),
        api_key_env: env.api_key_env.or(base.api_key_env),
        api_key_file: env.api_key_file.or(base.api_key_file),
        prune: env.prune.or(base.prune),
        max_archive: env.max_archive.or(base.max_archive),
        concurrency: env.concurrency.or(base.concurrency),
        data_sources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "url: https://prod.example.com\nowner: analytics\npaths: [manifests]\nprune: true\ndataSources: {Sample Postgres: Warehouse}\nenvironments:\n  staging:\n    url: https://staging.example.com\n    apiKeyEnv: STAGING_KEY\n    dataSources: {Analytics: Staging analytics}\n";

    fn write(dir: &Path, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(FILE_NAME);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmp(tag: &str) -> crate::util::TestDir {
        crate::util::TestDir::new(&format!("config-{tag}"))
    }

    #[test]
    fn environments_override_the_top_level() {
        let d = tmp("env");
        write(&d, TEXT);
        let r = load(None, Some("staging"), &d).unwrap();
        assert_eq!(r.settings.url.as_deref(), Some("https://staging.example.com"));
        assert_eq!(r.settings.owner.as_deref(), Some("analytics"));
        assert_eq!(r.settings.api_key_env.as_deref(), Some("STAGING_KEY"));
        assert_eq!(r.settings.data_sources.len(), 2);
        assert_eq!(r.paths, vec![d.join("manifests")]);
        let base = load(None, None, &d).unwrap();
        assert_eq!(base.settings.url.as_deref(), Some("https://prod.example.com"));
        assert!(
            matches!(load(None, Some("qa"), &d), Err(ConfigError::UnknownEnvironment { available, .. }) if available == "staging")
        );
    }

    #[test]
    fn the_file_is_found_up_to_the_repository_root() {
        let d = tmp("discover");
        std::fs::create_dir_all(d.join(".git")).unwrap();
        write(&d, "owner: x\n");
        let deep = d.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(discover(&deep), Some(d.join(FILE_NAME)));
        let outside = tmp("none");
        std::fs::create_dir_all(outside.join(".git")).unwrap();
        assert_eq!(discover(&outside), None);
    }

    #[test]
    fn mistakes_name_the_line() {
        let d = tmp("bad");
        write(&d, "url: x\nprun: true\n");
        let e = load(None, None, &d).unwrap_err().to_string();
        assert!(e.ends_with(&format!("{FILE_NAME}:2: prun: unknown field `prun`; expected one of: apiKeyEnv, apiKeyFile, concurrency, dataSources, environments, maxArchive, owner, paths, prune, url")), "{e}");
    }
}
