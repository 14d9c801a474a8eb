//! Reading manifests from files and directories: recursive, multi-document, `.yaml`/`.yml`,
//! with `queryFile` sidecars. Every problem found is reported, each with its file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::cache::{self, ManifestCache};
use super::diagnostic::{Diagnostic, FileText, Source, doc_lines, field_path};
use super::node::{Node, Tree, parse_documents, parse_values};
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

/// The identity of a resource: kind, namespace and name, kept as the marker key written into
/// Redash (`Query/default/daily-signups`). The plan looks resources up by that text for each
/// of thousands of live objects; it is made once, here, not at every lookup.
///
/// Shared text: a plan copies each key into its action, its id map and its reports, 10,000 times
/// over at that many queries, and a copy is a count, not an allocation.
#[derive(Clone, PartialEq, Eq)]
pub struct ResourceKey {
    kind: Kind,
    marker: Arc<str>,
    /// Where the namespace ends in `marker` (a `/` follows).
    namespace_end: usize,
}

impl ResourceKey {
    pub fn new(kind: Kind, namespace: &str, name: &str) -> ResourceKey {
        let kind_name = kind.as_str();
        let mut marker = String::with_capacity(kind_name.len() + namespace.len() + name.len() + 2);
        for part in [kind_name, "/", namespace, "/", name] {
            marker.push_str(part);
        }
        ResourceKey { kind, marker: marker.into(), namespace_end: kind_name.len() + 1 + namespace.len() }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn namespace(&self) -> &str {
        &self.marker[self.kind.as_str().len() + 1..self.namespace_end]
    }

    pub fn name(&self) -> &str {
        &self.marker[self.namespace_end + 1..]
    }

    /// The key written into ownership markers: `Query/default/daily-signups`.
    pub fn marker(&self) -> &str {
        &self.marker
    }

    pub fn parse_marker_key(s: &str) -> Option<ResourceKey> {
        let mut parts = s.splitn(3, '/');
        let kind = Kind::parse(parts.next()?)?;
        Some(ResourceKey::new(kind, parts.next()?, parts.next()?))
    }
}

// Equal keys have equal marker texts: hashing that text alone is enough (and one write).
impl std::hash::Hash for ResourceKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.marker.hash(state);
    }
}

/// By kind, then namespace, then name (the order plans and reports list resources in).
impl Ord for ResourceKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.kind, self.namespace(), self.name()).cmp(&(other.kind, other.namespace(), other.name()))
    }
}

impl PartialOrd for ResourceKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for ResourceKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.marker)
    }
}

impl fmt::Debug for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceKey({})", self.marker)
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace(), self.name())
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
/// Documents read and found valid before come from `cache` when given.
pub fn load_paths(paths: &[PathBuf], cache: Option<&ManifestCache>) -> (ManifestSet, Vec<Diagnostic>) {
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
    // Files are parsed on every core (YAML parsing is most of a large plan's CPU time).
    let parts = crate::util::par_map(&all_files, |file| {
        let (mut set, mut diags) = (ManifestSet::default(), Vec::new());
        load_file(file, cache, &mut set, &mut diags);
        (set, diags)
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

fn load_file(file: &Path, cache: Option<&ManifestCache>, set: &mut ManifestSet, diags: &mut Vec<Diagnostic>) {
    let text = match read_text(file) {
        Ok(t) => t,
        Err(message) => {
            diags.push(Diagnostic::in_file(file, None, message));
            return;
        }
    };
    // Most files are valid: they are read without lines, which costs a fraction of reading with
    // them (and documents read before come from the cache). A file with any finding is read
    // again with lines, to report every finding in it.
    let docs = match cache {
        Some(cache) => cached_docs(file, &text, cache),
        None => valid_docs(file, &text),
    };
    if let Some(docs) = docs.filter(|docs| !docs.is_empty()) {
        return add_docs(file, &FileText::new(text), docs, set, diags);
    }
    // An empty file is a mistake (a save gone wrong, a bad merge), not "no resources wanted":
    // with pruning on, taking it at its word would archive everything.
    if load_str_into(file, &text, set, diags) == Some(0) {
        diags.push(Diagnostic::in_file(
            file,
            None,
            "no resources in this file: it is empty (delete it, or add a manifest)",
        ));
    }
}

/// The documents of a YAML text in which nothing is wrong (none, for only comments), or `None`.
fn valid_docs(file: &Path, text: &str) -> Option<Vec<Doc>> {
    let docs = parse_values(text).ok()?;
    if docs.iter().any(|doc| !check_document(file, doc).1.is_empty()) {
        return None;
    }
    let mut typed = Vec::with_capacity(docs.len());
    for doc in docs {
        let Value::Object(mut fields) = doc else { unreachable!("checked to be a mapping") };
        let (Some(kind), Some(metadata), Some(spec)) = (
            fields.get("kind").and_then(Value::as_str).and_then(Kind::parse),
            fields.remove("metadata"),
            fields.remove("spec"),
        ) else {
            unreachable!("checked to have a kind, metadata and spec")
        };
        // The schema lets through nothing typed reading refuses; should it, the slow path says what.
        typed.push(typed_doc(kind, metadata, spec).ok()?);
    }
    Some(typed)
}

/// The documents of a file, from the manifest cache for every document read before, parsing
/// only the others; `None` when the file must be read as a whole (something is wrong in it).
fn cached_docs(file: &Path, text: &str, cache: &ManifestCache) -> Option<Vec<Doc>> {
    // By document, so that changing one resource of a file of a hundred parses that one only.
    let parts = split_documents(text).unwrap_or_else(|| vec![text]);
    let mut docs = Vec::new();
    for part in parts {
        let key = cache::key_of(part);
        match cache.get(&key) {
            Some(found) => docs.extend(found),
            None => {
                let found = valid_docs(file, part)?;
                cache.put(key, &found);
                docs.extend(found);
            }
        }
    }
    Some(docs)
}

/// A YAML text cut into its documents at its `---` lines, when the cut is sure to give the
/// documents parsing the whole text gives: YAML forbids a `---` line inside a document, and
/// manifests are mappings, whose nested block scalars are indented. Texts with directives
/// (`%`), end markers (`...`) or content on a `---` line are not cut.
fn split_documents(text: &str) -> Option<Vec<&str>> {
    let (mut parts, mut start, mut at) = (Vec::new(), 0, 0);
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let marker = |m: &str| bare.strip_prefix(m).is_some_and(|rest| rest.trim_end_matches([' ', '\t']).is_empty());
        if bare.starts_with('%') || bare.starts_with("...") || (bare.starts_with("---") && !marker("---")) {
            return None;
        }
        if marker("---") {
            parts.push(&text[start..at]);
            start = at + line.len();
        }
        at += line.len();
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// Adds the documents of a file read without lines; their lines are found when first needed.
fn add_docs(file: &Path, text: &Arc<FileText>, docs: Vec<Doc>, set: &mut ManifestSet, diags: &mut Vec<Diagnostic>) {
    for (index, doc) in docs.into_iter().enumerate() {
        add_doc(file, doc, Source::deferred(file, text, index), set, diags);
    }
}

/// Reads every document of `text` with lines; the number of documents, unless the YAML is bad.
fn load_str_into(file: &Path, text: &str, set: &mut ManifestSet, diags: &mut Vec<Diagnostic>) -> Option<usize> {
    let docs = match parse_documents(text) {
        Ok(d) => d,
        Err(e) => {
            let line = e.location().map(|l| l.line() as usize).filter(|l| *l > 0);
            diags.push(Diagnostic::in_file(file, line, yaml_error_message(&e)));
            return None;
        }
    };
    for doc in &docs {
        load_document(file, doc, set, diags);
    }
    Some(docs.len())
}

fn key_line<T: Tree>(doc: &T, key: &str) -> usize {
    doc.entries().and_then(|e| e.into_iter().find(|(k, _, _)| *k == key).map(|(_, line, _)| line)).unwrap_or(doc.line())
}

const TOP_LEVEL_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];

/// Everything wrong with a document's shape (fields, apiVersion, kind, and the schema of its
/// metadata and spec), and its kind when that is known.
fn check_document<T: Tree>(file: &Path, doc: &T) -> (Option<Kind>, Vec<Diagnostic>) {
    let Some(entries) = doc.entries() else {
        let message = format!(
            "expected a manifest (a mapping with apiVersion, kind, metadata and spec), found {}",
            doc.kind_name()
        );
        return (None, vec![Diagnostic::in_file(file, Some(doc.line()), message)]);
    };
    let name = doc.get("metadata").and_then(|m| m.get("name")).and_then(T::as_str);
    let kind_text = doc.get("kind").and_then(T::as_str);
    let resource = match (kind_text, name) {
        (Some(k), Some(n)) => {
            let ns =
                doc.get("metadata").and_then(|m| m.get("namespace")).and_then(T::as_str).unwrap_or(DEFAULT_NAMESPACE);
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
    for (key, line, _) in &entries {
        if !TOP_LEVEL_FIELDS.contains(key) {
            push(*line, key, format!("unknown field `{key}`; expected one of: {}", TOP_LEVEL_FIELDS.join(", ")));
        }
    }
    match doc.get("apiVersion") {
        None => push(doc.line(), "apiVersion", format!("missing required field (use {API_VERSION})")),
        Some(v) if v.as_str() == Some(API_VERSION) => {}
        Some(v) => push(v.line(), "apiVersion", format!("unsupported apiVersion; use {API_VERSION}")),
    }
    let kind = match doc.get("kind") {
        None => {
            push(doc.line(), "kind", format!("missing required field ({})", Kind::names()));
            None
        }
        Some(k) => match k.as_str().and_then(Kind::parse) {
            Some(kind) => Some(kind),
            None => {
                let found = k.as_str().map(|s| format!(" `{s}`")).unwrap_or_default();
                push(k.line(), "kind", format!("unknown kind{found}; expected {}", Kind::names()));
                None
            }
        },
    };
    match doc.get("metadata") {
        None => push(doc.line(), "metadata", "missing required field (with at least `name`)".into()),
        Some(m) => {
            static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
            let schema = SCHEMA.get_or_init(|| schemars::schema_for!(Metadata).to_value());
            for e in schema_check::check(m, schema, "metadata", key_line(doc, "metadata")) {
                push(e.line, &e.path, e.message);
            }
        }
    }
    match (kind, doc.get("spec")) {
        (_, None) => push(doc.line(), "spec", "missing required field".into()),
        (Some(kind), Some(spec)) => {
            for e in schema_check::check(spec, kind.spec_schema(), "spec", key_line(doc, "spec")) {
                push(e.line, &e.path, e.message);
            }
        }
        (None, Some(_)) => {}
    }
    (kind, errors)
}

fn load_document(file: &Path, doc: &Node, set: &mut ManifestSet, diags: &mut Vec<Diagnostic>) {
    let (kind, errors) = check_document(file, doc);
    if !errors.is_empty() {
        diags.extend(errors);
        return;
    }
    let (Some(kind), Some(metadata), Some(spec)) = (kind, doc.get("metadata"), doc.get("spec")) else {
        return;
    };
    // Lines come from the one function that also finds them for files read without them.
    let source = Source::with_lines(file, doc_lines(doc));
    let json = |node: &Node| node.to_json("", &mut BTreeMap::new());
    match typed_doc(kind, json(metadata), json(spec)) {
        Ok(doc) => add_doc(file, doc, source, set, diags),
        Err((part, e)) => diags.push(Diagnostic::in_file(file, Some(source.line_of(part)), e.to_string())),
    }
}

/// One checked document of a manifest file, typed (what the manifest cache keeps).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Doc {
    Query(Metadata, QuerySpec),
    Dashboard(Metadata, DashboardSpec),
    Alert(Metadata, AlertSpec),
    QuerySnippet(Metadata, QuerySnippetSpec),
}

/// Reads a checked document's metadata and spec into their types; what failed (`/metadata` or
/// `/spec`) and why.
fn typed_doc(kind: Kind, metadata: Value, spec: Value) -> Result<Doc, (&'static str, serde_json::Error)> {
    fn at<T: DeserializeOwned>(part: &'static str, value: Value) -> Result<T, (&'static str, serde_json::Error)> {
        serde_json::from_value(value).map_err(|e| (part, e))
    }
    let metadata = at("/metadata", metadata)?;
    Ok(match kind {
        Kind::Query => Doc::Query(metadata, at("/spec", spec)?),
        Kind::Dashboard => Doc::Dashboard(metadata, at("/spec", spec)?),
        Kind::Alert => Doc::Alert(metadata, at("/spec", spec)?),
        Kind::QuerySnippet => Doc::QuerySnippet(metadata, at("/spec", spec)?),
    })
}

/// Adds a typed document to the set, with the SQL of its `queryFile` (read every time: it is
/// not part of the manifest's text).
fn add_doc(file: &Path, doc: Doc, mut source: Source, set: &mut ManifestSet, diags: &mut Vec<Diagnostic>) {
    match doc {
        Doc::Query(metadata, spec) => {
            if let Some(rel) = &spec.query_file {
                let path = file.parent().unwrap_or(Path::new(".")).join(rel);
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
        Doc::Dashboard(metadata, spec) => set.dashboards.push(Manifest { metadata, spec, source }),
        Doc::Alert(metadata, spec) => set.alerts.push(Manifest { metadata, spec, source }),
        Doc::QuerySnippet(metadata, spec) => set.snippets.push(Manifest { metadata, spec, source }),
    }
}

/// Reads manifests from one YAML text (tests and the operator use this).
pub fn load_str(file: &Path, text: &str) -> (ManifestSet, Vec<Diagnostic>) {
    let mut set = ManifestSet::default();
    let mut diags = Vec::new();
    load_str_into(file, text, &mut set, &mut diags);
    (set, diags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::TestDir;

    fn load(text: &str) -> (ManifestSet, Vec<String>) {
        let (set, diags) = load_str(Path::new("m.yaml"), text);
        (set, diags.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_key_is_its_marker_text_and_sorts_by_kind_namespace_then_name() {
        let k = ResourceKey::new(Kind::Dashboard, "team-a", "growth");
        assert_eq!((k.kind(), k.namespace(), k.name()), (Kind::Dashboard, "team-a", "growth"));
        assert_eq!(k.marker(), "Dashboard/team-a/growth");
        assert_eq!(ResourceKey::parse_marker_key(k.marker()), Some(k.clone()));
        assert_eq!(format!("{k:?}"), "ResourceKey(Dashboard/team-a/growth)");
        // Not the order of the texts: '-' sorts before '/', yet namespace "a" comes before "a-b".
        let key = |kind, ns, name| ResourceKey::new(kind, ns, name);
        let mut keys = [
            key(Kind::Dashboard, "a", "x"),
            key(Kind::Query, "a-b", "x"),
            key(Kind::Query, "a", "y"),
            key(Kind::Query, "a", "x"),
        ];
        keys.sort();
        let texts: Vec<&str> = keys.iter().map(ResourceKey::marker).collect();
        assert_eq!(texts, ["Query/a/x", "Query/a/y", "Query/a-b/x", "Dashboard/a/x"]);
    }

    #[test]
    fn reads_several_documents_of_both_kinds() {
        let (set, diags) = load(
            "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q}\nspec: {name: Q, dataSource: DS, query: select 1}\n---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Dashboard\nmetadata: {name: d, namespace: team}\nspec:\n  name: D\n  widgets:\n    - text: hi\n      position: {col: 0, row: 0, sizeX: 3, sizeY: 2}\n",
        );
        assert_eq!(diags, Vec::<String>::new());
        assert_eq!(set.queries.len(), 1);
        assert_eq!(set.dashboards[0].namespace(), "team");
        assert_eq!(set.dashboards[0].source.line(), 6);
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
    fn files_read_without_lines_give_what_reading_with_lines_gives() {
        let mut files = Vec::new();
        collect_files(Path::new("examples/analytics"), &mut files, &mut BTreeSet::new(), &mut Vec::new());
        let extra = Path::new("extra.yaml");
        let text = "# comment\n---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q, namespace: t}\nspec:\n  name: Q\n  dataSource: DS\n  query: select {{ n }}\n  parameters:\n    - {name: n, type: number, value: 1.5}\n  schedule: {interval: 3600, until: '2030-01-01'}\n---\n---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Dashboard\nmetadata: {name: d}\nspec:\n  name: D\n  widgets:\n    - text: hi\n      position: {col: 0, row: 0, sizeX: 3, sizeY: 2}\n";
        let mut cases: Vec<(PathBuf, String)> =
            files.iter().map(|f| (f.clone(), std::fs::read_to_string(f).unwrap())).collect();
        cases.push((extra.to_path_buf(), text.to_string()));
        assert!(cases.len() > 5, "{cases:?}");
        for (file, text) in cases {
            let docs = valid_docs(&file, &text).unwrap_or_else(|| panic!("{} fell back", file.display()));
            let (mut fast, mut diags) = (ManifestSet::default(), Vec::new());
            add_docs(&file, &FileText::new(text.clone()), docs, &mut fast, &mut diags);
            let mut slow = ManifestSet::default();
            load_str_into(&file, &text, &mut slow, &mut diags);
            assert_eq!(diags, vec![], "{}", file.display());
            // Equality covers every line: the deferred ones are found by parsing again.
            assert_eq!(fast, slow, "{}", file.display());
        }
    }

    #[test]
    fn a_file_with_any_finding_is_read_with_lines() {
        let text = "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: a}\nspec: {name: A, dataSource: DS, query: select 1}\n---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: b}\nspec: {name: B, dataSource: DS, query: select 1, colour: red}\n";
        assert!(valid_docs(Path::new("m.yaml"), text).is_none());
        let dir = TestDir::new("load-finding");
        std::fs::write(dir.join("m.yaml"), text).unwrap();
        let (set, diags) = load_paths(&[dir.join("m.yaml")], None);
        assert_eq!(set.queries.len(), 1);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].line, Some(9));
        assert_eq!(diags[0].field.as_deref(), Some("spec.colour"));
    }

    #[test]
    fn texts_are_cut_into_documents_only_where_yaml_says_a_document_ends() {
        assert_eq!(split_documents("a: 1\n---\nb: 2\n"), Some(vec!["a: 1\n", "b: 2\n"]));
        assert_eq!(
            split_documents("---\r\na: 1\r\n--- \t\r\nb: |\n  ---\n"),
            Some(vec!["", "a: 1\r\n", "b: |\n  ---\n"])
        );
        assert_eq!(split_documents("a: 1"), Some(vec!["a: 1"]));
        for uncut in ["%YAML 1.2\n---\na: 1\n", "a: 1\n...\n---\nb: 2\n", "--- {a: 1}\n", "---# c\na: 1\n"] {
            assert_eq!(split_documents(uncut), None, "{uncut:?}");
        }
    }

    /// Loads `paths` through a cache in `dir`, saving it as a run does; what was loaded and the
    /// cache's hits and misses.
    fn load_cached(dir: &Path, paths: &[PathBuf]) -> (ManifestSet, Vec<Diagnostic>, cache::CacheStats) {
        let cache = ManifestCache::open(dir, paths).expect("the test binary has an identity");
        let (set, diags) = load_paths(paths, Some(&cache));
        let stats = cache.stats();
        cache.save().unwrap();
        (set, diags, stats)
    }

    const TWO_QUERIES: &str = "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: a}\nspec: {name: A, dataSource: DS, query: select 1}\n---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: b}\nspec: {name: B, dataSource: DS, query: select 2}\n";

    #[test]
    fn the_cache_gives_what_parsing_gives_and_parses_only_changed_documents() {
        // Every example, and a directory of files made for the cache (nothing is written into the
        // examples: the cache lives elsewhere).
        let scratch = TestDir::new("load-cache");
        let project = scratch.join("project");
        std::fs::create_dir_all(&project).unwrap();
        let tricky = "# leading comment\n---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q, namespace: t}\nspec:\n  name: Q\n  dataSource: DS\n  query: |\n    select 1\n    ---\n  parameters:\n    - {name: n, type: number, value: 0.1}\n---\n---\n";
        std::fs::write(project.join("tricky.yaml"), tricky).unwrap();
        std::fs::write(project.join("two.yaml"), TWO_QUERIES).unwrap();
        let paths = [PathBuf::from("examples/analytics"), project.clone()];
        let (plain, plain_diags) = load_paths(&paths, None);
        assert_eq!(plain_diags, vec![]);
        let resources = plain.len();
        let cache_dir = scratch.join("cache");
        let (cold, cold_diags, stats) = load_cached(&cache_dir, &paths);
        assert_eq!((cold, cold_diags), (plain.clone(), vec![]));
        assert_eq!(stats.hits, 0);
        let (warm, warm_diags, stats) = load_cached(&cache_dir, &paths);
        assert_eq!((warm, warm_diags), (plain, vec![]));
        assert_eq!(stats.misses, 0, "{stats:?}");
        assert!(stats.hits > 5, "{stats:?}");

        // One changed document of a file is the only one parsed.
        std::fs::write(project.join("two.yaml"), TWO_QUERIES.replace("select 2", "select 3")).unwrap();
        let (changed, _, stats) = load_cached(&cache_dir, &paths);
        assert_eq!(stats.misses, 1, "{stats:?}");
        assert!(stats.hits >= resources - 1, "every other document comes from the cache: {stats:?}");
        let b = changed.queries.iter().find(|q| q.metadata.name == "b").unwrap();
        assert_eq!(b.spec.query.as_deref(), Some("select 3"));
        assert_eq!(b.source.line_of("/spec/query"), 9);
    }

    #[test]
    fn a_finding_in_a_cached_file_is_reported_as_without_the_cache() {
        let scratch = TestDir::new("load-cached-finding");
        let file = scratch.join("m.yaml");
        std::fs::write(&file, TWO_QUERIES).unwrap();
        let cache_dir = scratch.join("cache");
        load_cached(&cache_dir, std::slice::from_ref(&file));
        std::fs::write(&file, TWO_QUERIES.replace("query: select 2", "query: select 2, colour: red")).unwrap();
        let (plain, plain_diags) = load_paths(std::slice::from_ref(&file), None);
        let (cached, cached_diags, _) = load_cached(&cache_dir, std::slice::from_ref(&file));
        assert_eq!(cached_diags.len(), 1, "{cached_diags:?}");
        assert_eq!(cached_diags[0].line, Some(9));
        assert_eq!((cached, cached_diags), (plain, plain_diags));
    }

    #[test]
    fn the_sql_of_a_query_file_is_read_again_when_its_manifest_comes_from_the_cache() {
        let scratch = TestDir::new("load-cached-sql");
        let file = scratch.join("q.yaml");
        std::fs::write(&file, "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q}\nspec: {name: Q, dataSource: DS, queryFile: q.sql}\n").unwrap();
        std::fs::write(scratch.join("q.sql"), "select 1").unwrap();
        let cache_dir = scratch.join("cache");
        load_cached(&cache_dir, std::slice::from_ref(&file));
        std::fs::write(scratch.join("q.sql"), "select 2").unwrap();
        let (set, diags, stats) = load_cached(&cache_dir, std::slice::from_ref(&file));
        assert_eq!((diags, stats.hits), (vec![], 1));
        assert_eq!(set.queries[0].source.query_file_text.as_deref(), Some("select 2"));
        std::fs::remove_file(scratch.join("q.sql")).unwrap();
        let (_, diags, _) = load_cached(&cache_dir, std::slice::from_ref(&file));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!((diags[0].line, diags[0].field.as_deref()), (Some(4), Some("spec.queryFile")));
    }

    #[test]
    fn marker_keys_round_trip() {
        let key = ResourceKey::new(Kind::Query, "default", "daily-signups");
        assert_eq!(key.marker(), "Query/default/daily-signups");
        assert_eq!(ResourceKey::parse_marker_key(key.marker()), Some(key));
        assert_eq!(ResourceKey::parse_marker_key("Widget/x/y"), None);
    }
}
