//! Reading manifests from files and directories: recursive, multi-document, `.yaml`/`.yml`,
//! with `queryFile` sidecars. Every problem found is reported, each with its file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::diagnostic::{Diagnostic, Source, field_path};
use super::node::{Node, NodeValue, parse_documents};
use super::schema_check;
use super::types::{API_VERSION, AlertSpec, DashboardSpec, Kind, Metadata, QuerySnippetSpec, QuerySpec};

/// A resource read from a file (or from the Kubernetes API): metadata, spec, and where it
/// came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest<S> {
    pub metadata: Metadata,
    pub spec: S,
    pub source: Source,
}

/// The identity of a resource: kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ResourceKey {
    pub fn new(kind: Kind, namespace: &str, name: &str) -> ResourceKey {
        ResourceKey { kind, namespace: namespace.into(), name: name.into() }
    }

    /// The key written into ownership markers: `Query/default/daily-signups`.
    pub fn marker_key(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace, self.name)
    }

    pub fn parse_marker_key(s: &str) -> Option<ResourceKey> {
        let mut parts = s.splitn(3, '/');
        let kind = Kind::parse(parts.next()?)?;
        Some(ResourceKey::new(kind, parts.next()?, parts.next()?))
    }
}

impl serde::Serialize for ResourceKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.marker_key())
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

pub const DEFAULT_NAMESPACE: &str = "default";

impl<S> Manifest<S> {
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    pub fn key(&self, kind: Kind) -> ResourceKey {
        ResourceKey::new(kind, self.namespace(), &self.metadata.name)
    }

    /// A finding about this resource at the field `pointer` (e.g. `/spec/dataSource`).
    pub fn diagnostic(&self, kind: Kind, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: Some(self.source.file.clone()),
            line: Some(self.source.line_of(pointer)),
            resource: Some(self.key(kind).to_string()),
            field: Some(field_path(pointer)).filter(|f| !f.is_empty()),
            message: message.into(),
        }
    }
}

/// Every resource read, by kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ManifestSet {
    pub queries: Vec<Manifest<QuerySpec>>,
    pub dashboards: Vec<Manifest<DashboardSpec>>,
    pub alerts: Vec<Manifest<AlertSpec>>,
    pub snippets: Vec<Manifest<QuerySnippetSpec>>,
}

impl ManifestSet {
    fn append(&mut self, other: ManifestSet) {
        self.queries.extend(other.queries);
        self.dashboards.extend(other.dashboards);
        self.alerts.extend(other.alerts);
        self.snippets.extend(other.snippets);
    }

    pub fn len(&self) -> usize {
        self.queries.len() + self.dashboards.len() + self.alerts.len() + self.snippets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads every manifest under `paths` (files, or directories searched recursively).
/// Returns what could be read and every finding; callers refuse to go on when there are any.
pub fn load_paths(paths: &[PathBuf]) -> (ManifestSet, Vec<Diagnostic>) {
    let mut set = ManifestSet::default();
    let mut diags = Vec::new();
    let mut all_files = Vec::new();
    for path in paths {
        let mut files = Vec::new();
        match std::fs::metadata(path) {
            Err(e) => {
                diags.push(Diagnostic::in_file(path, None, format!("cannot read: {}", io_reason(&e))));
                continue;
            }
            Ok(m) if m.is_dir() => {
                let mut visited = BTreeSet::new();
                collect_files(path, &mut files, &mut visited, &mut diags);
                if files.is_empty() {
                    diags.push(Diagnostic::in_file(path, None, "no manifests found (no .yaml or .yml files)"));
                }
            }
            Ok(_) => files.push(path.clone()),
        }
        // `./q.yaml` reads better as `q.yaml` in findings.
        all_files.extend(files.into_iter().map(|f| f.strip_prefix(".").map(Path::to_path_buf).unwrap_or(f)));
    }
    // Files are parsed on every core (YAML parsing is most of a large plan's CPU time); the
    // results are put together in file order, as one thread would have.
    let threads =
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(all_files.len().div_ceil(8)).max(1);
    let chunk = all_files.len().div_ceil(threads).max(1);
    let parts: Vec<(ManifestSet, Vec<Diagnostic>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = all_files
            .chunks(chunk)
            .map(|files| {
                scope.spawn(move || {
                    let (mut set, mut diags) = (ManifestSet::default(), Vec::new());
                    for file in files {
                        load_file(file, &mut set, &mut diags);
                    }
                    (set, diags)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    for (part, part_diags) in parts {
        set.append(part);
        diags.extend(part_diags);
    }
    (set, diags)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn is_manifest_file(path: &Path) -> bool {
    // The configuration file is not a manifest, wherever the paths start.
    let config = path.file_name().and_then(|n| n.to_str()) == Some(crate::config::FILE_NAME);
    !config && matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>, visited: &mut BTreeSet<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let canonical = match dir.canonicalize() {
        Ok(c) => c,
        Err(e) => {
            diags.push(Diagnostic::in_file(dir, None, format!("cannot read directory: {}", io_reason(&e))));
            return;
        }
    };
    if !visited.insert(canonical) {
        let message = format!(
            "directory already read as {} (a symlink loop, or two links to one directory); remove the link",
            dir.canonicalize().map(|c| c.display().to_string()).unwrap_or_default()
        );
        diags.push(Diagnostic::in_file(dir, None, message));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::in_file(dir, None, format!("cannot read directory: {}", io_reason(&e))));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => collect_files(&path, files, visited, diags),
            Ok(_) if is_manifest_file(&path) => files.push(path),
            Ok(_) => {}
            Err(e) => diags.push(Diagnostic::in_file(&path, None, format!("cannot read: {}", io_reason(&e)))),
        }
    }
}

/// The largest manifest or SQL file read. Redash has no limit of its own, but a file this big is
/// a wrong path or a generated dump, and reading it whole would only waste memory.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// The text of a file, which must be UTF-8 and at most `MAX_FILE_BYTES` long.
pub fn read_text(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("cannot read: {}", io_reason(&e)))?.len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "file too large: {:.1} MB, the limit is {} MB (is this the right file?)",
            size as f64 / (1024.0 * 1024.0),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    String::from_utf8(bytes).map_err(|e| {
        format!("not UTF-8 text (invalid byte at offset {}); save the file as UTF-8", e.utf8_error().valid_up_to())
    })
}

fn yaml_error_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    // Drop the "line N column M: " prefix: the line is printed in front already.
    let text = match text.find(": ") {
        Some(i) if text.starts_with("line ") => &text[i + 2..],
        _ => text,
    };
    let first = text.lines().next().unwrap_or(text).replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    format!("invalid YAML: {first}")
}

fn load_file(file: &Path, set: &mut ManifestSet, diags: &mut Vec<Diagnostic>) {
    let text = match read_text(file) {
        Ok(t) => t,
        Err(message) => {
            diags.push(Diagnostic::in_file(file, None, message));
            return;
        }
    };
    let docs = match parse_documents(&text) {
        Ok(d) => d,
        Err(e) => {
            let line = e.location().map(|l| l.line() as usize).filter(|l| *l > 0);
            diags.push(Diagnostic::in_file(file, line, yaml_error_message(&e)));
            return;
        }
    };
    // An empty file is a mistake (a save gone wrong, a bad merge), not "no resources wanted":
    // with pruning on, taking it at its word would archive everything.
    if docs.is_empty() {
        diags.push(Diagnostic::in_file(
            file,
            None,
            "no resources in this file: it is empty (delete it, or add a manifest)",
        ));
    }
    for doc in docs {
        load_document(file, &doc, set, diags);
    }
}

fn key_line(doc: &Node, key: &str) -> usize {
    match &doc.value {
        NodeValue::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, _)| k.line).unwrap_or(doc.line),
        _ => doc.line,
    }
}

const TOP_LEVEL_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];

fn load_document(file: &Path, doc: &Node, set: &mut ManifestSet, diags: &mut Vec<Diagnostic>) {
    let NodeValue::Map(entries) = &doc.value else {
        diags.push(Diagnostic::in_file(
            file,
            Some(doc.line),
            format!(
                "expected a manifest (a mapping with apiVersion, kind, metadata and spec), found {}",
                doc.kind_name()
            ),
        ));
        return;
    };
    let name = doc.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str);
    let kind_text = doc.get("kind").and_then(Node::as_str);
    let resource = match (kind_text, name) {
        (Some(k), Some(n)) => {
            let ns = doc
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Node::as_str)
                .unwrap_or(DEFAULT_NAMESPACE);
            Some(format!("{k} {ns}/{n}"))
        }
        _ => None,
    };
    let mut errors: Vec<Diagnostic> = Vec::new();
    let mut push = |line: usize, field: &str, message: String| {
        errors.push(Diagnostic {
            file: Some(file.to_path_buf()),
            line: Some(line),
            resource: resource.clone(),
            field: Some(field.to_string()).filter(|f| !f.is_empty()),
            message,
        });
    };
    for (key, _) in entries {
        if !TOP_LEVEL_FIELDS.contains(&key.name.as_str()) {
            push(
                key.line,
                &key.name,
                format!("unknown field `{}`; expected one of: {}", key.name, TOP_LEVEL_FIELDS.join(", ")),
            );
        }
    }
    match doc.get("apiVersion") {
        None => push(doc.line, "apiVersion", format!("missing required field (use {API_VERSION})")),
        Some(v) if v.as_str() == Some(API_VERSION) => {}
        Some(v) => push(v.line, "apiVersion", format!("unsupported apiVersion; use {API_VERSION}")),
    }
    let kind = match doc.get("kind") {
        None => {
            push(doc.line, "kind", format!("missing required field ({})", Kind::names()));
            None
        }
        Some(k) => match k.as_str().and_then(Kind::parse) {
            Some(kind) => Some(kind),
            None => {
                let found = k.as_str().map(|s| format!(" `{s}`")).unwrap_or_default();
                push(k.line, "kind", format!("unknown kind{found}; expected {}", Kind::names()));
                None
            }
        },
    };
    match doc.get("metadata") {
        None => push(doc.line, "metadata", "missing required field (with at least `name`)".into()),
        Some(m) => {
            static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
            let schema = SCHEMA.get_or_init(|| schemars::schema_for!(Metadata).to_value());
            for e in schema_check::check(m, schema, "metadata", key_line(doc, "metadata")) {
                push(e.line, &e.path, e.message);
            }
        }
    }
    let spec_node = doc.get("spec");
    match (kind, spec_node) {
        (_, None) => push(doc.line, "spec", "missing required field".into()),
        (Some(kind), Some(spec)) => {
            for e in schema_check::check(spec, kind.spec_schema(), "spec", key_line(doc, "spec")) {
                push(e.line, &e.path, e.message);
            }
        }
        (None, Some(_)) => {}
    }
    if !errors.is_empty() {
        diags.extend(errors);
        return;
    }
    let (Some(kind), Some(spec)) = (kind, spec_node) else {
        return;
    };
    let mut lines = BTreeMap::new();
    let metadata_json = doc.get("metadata").map(|m| m.to_json("/metadata", &mut lines)).unwrap_or(Value::Null);
    let spec_json = spec.to_json("/spec", &mut lines);
    let source = Source { file: file.to_path_buf(), line: doc.line, lines, query_file_text: None };
    let metadata: Metadata = match typed(metadata_json, file, doc.line) {
        Ok(m) => m,
        Err(d) => return diags.push(d),
    };
    match kind {
        Kind::Query => match typed::<QuerySpec>(spec_json, file, spec.line) {
            Ok(spec) => {
                let mut source = source;
                if let Some(rel) = spec.query_file.clone() {
                    let path = file.parent().unwrap_or(Path::new(".")).join(&rel);
                    match read_text(&path) {
                        Ok(sql) => source.query_file_text = Some(sql),
                        Err(message) => {
                            let manifest = Manifest { metadata: metadata.clone(), spec: (), source: source.clone() };
                            diags.push(manifest.diagnostic(
                                Kind::Query,
                                "/spec/queryFile",
                                format!("{}: {message}", path.display()),
                            ));
                        }
                    }
                }
                set.queries.push(Manifest { metadata, spec, source });
            }
            Err(d) => diags.push(d),
        },
        Kind::Dashboard => match typed::<DashboardSpec>(spec_json, file, spec.line) {
            Ok(spec) => set.dashboards.push(Manifest { metadata, spec, source }),
            Err(d) => diags.push(d),
        },
        Kind::Alert => match typed::<AlertSpec>(spec_json, file, spec.line) {
            Ok(spec) => set.alerts.push(Manifest { metadata, spec, source }),
            Err(d) => diags.push(d),
        },
        Kind::QuerySnippet => match typed::<QuerySnippetSpec>(spec_json, file, spec.line) {
            Ok(spec) => set.snippets.push(Manifest { metadata, spec, source }),
            Err(d) => diags.push(d),
        },
    }
}

fn typed<T: DeserializeOwned>(value: Value, file: &Path, line: usize) -> Result<T, Diagnostic> {
    serde_json::from_value(value).map_err(|e| Diagnostic::in_file(file, Some(line), e.to_string()))
}

/// Reads manifests from one YAML text (tests and the operator use this).
pub fn load_str(file: &Path, text: &str) -> (ManifestSet, Vec<Diagnostic>) {
    let mut set = ManifestSet::default();
    let mut diags = Vec::new();
    match parse_documents(text) {
        Ok(docs) => {
            for doc in docs {
                load_document(file, &doc, &mut set, &mut diags);
            }
        }
        Err(e) => {
            let line = e.location().map(|l| l.line() as usize).filter(|l| *l > 0);
            diags.push(Diagnostic::in_file(file, line, yaml_error_message(&e)));
        }
    }
    (set, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (ManifestSet, Vec<String>) {
        let (set, diags) = load_str(Path::new("m.yaml"), text);
        (set, diags.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn reads_several_documents_of_both_kinds() {
        let (set, diags) = load(
            "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q}\nspec: {name: Q, dataSource: DS, query: select 1}\n---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Dashboard\nmetadata: {name: d, namespace: team}\nspec:\n  name: D\n  widgets:\n    - text: hi\n      position: {col: 0, row: 0, sizeX: 3, sizeY: 2}\n",
        );
        assert_eq!(diags, Vec::<String>::new());
        assert_eq!(set.queries.len(), 1);
        assert_eq!(set.dashboards[0].namespace(), "team");
        assert_eq!(set.dashboards[0].source.line, 6);
        assert_eq!(set.dashboards[0].source.line_of("/spec/widgets/0/position"), 13);
    }

    #[test]
    fn reports_every_problem_of_a_document() {
        let (set, diags) = load(
            "apiVersion: v1\nkind: Query\nmetadata: {name: q, colour: red}\nspec:\n  name: Q\n  query: 1\n  bogus: true\n",
        );
        assert!(set.is_empty());
        assert_eq!(
            diags,
            vec![
                "m.yaml:1: Query default/q: apiVersion: unsupported apiVersion; use redash-gitops.dev/v1alpha1",
                "m.yaml:3: Query default/q: metadata.colour: unknown field `colour`; expected one of: annotations, labels, name, namespace",
                "m.yaml:6: Query default/q: spec.query: expected a string, found an integer (put it in quotes)",
                "m.yaml:7: Query default/q: spec.bogus: unknown field `bogus`; expected one of: autoLimit, connectionRef, dataSource, deletionPolicy, description, draft, name, parameters, query, queryFile, schedule, suspend, tags, visualizations",
                "m.yaml:4: Query default/q: spec.dataSource: missing required field",
            ]
        );
    }

    #[test]
    fn unknown_kinds_and_syntax_errors_are_named() {
        let (_, diags) = load("apiVersion: redash-gitops.dev/v1alpha1\nkind: Secret\nmetadata: {name: s}\nspec: {}\n");
        assert_eq!(
            diags,
            vec![
                "m.yaml:2: Secret default/s: kind: unknown kind `Secret`; expected Query, Dashboard, Alert or QuerySnippet"
            ]
        );
        let (_, diags) = load("kind: Query\nmetadata: [\n");
        assert_eq!(diags.len(), 1);
        assert!(diags[0].starts_with("m.yaml:"), "{}", diags[0]);
        assert!(diags[0].contains("invalid YAML"), "{}", diags[0]);
    }

    #[test]
    fn marker_keys_round_trip() {
        let key = ResourceKey::new(Kind::Query, "default", "daily-signups");
        assert_eq!(key.marker_key(), "Query/default/daily-signups");
        assert_eq!(ResourceKey::parse_marker_key(&key.marker_key()), Some(key));
        assert_eq!(ResourceKey::parse_marker_key("Widget/x/y"), None);
    }
}
