//! Validation findings that name the file and line, the resource and the field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    /// The resource, e.g. `Query default/daily-signups`.
    pub resource: Option<String>,
    /// The field path, e.g. `spec.visualizations[1].type`.
    pub field: Option<String>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: None, line: None, resource: None, field: None, message: message.into() }
    }

    pub fn in_file(file: &Path, line: Option<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: Some(file.to_path_buf()), line, ..Diagnostic::new(message) }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        if let Some(r) = &self.resource {
            write!(f, "{r}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Where a resource came from: its file, the line its document starts on, and the line of
/// every value by JSON pointer (e.g. `/spec/visualizations/0/type`).
///
/// Lines are needed only to report a finding, and tracking them costs more than the rest of
/// reading a manifest; a file read without them keeps its text and finds them when first asked.
#[derive(Clone, Default)]
pub struct Source {
    pub file: PathBuf,
    lines: Lines,
    /// The SQL read from a query's `queryFile`.
    pub query_file_text: Option<String>,
}

#[derive(Clone, Default)]
enum Lines {
    /// Not from a file (a Kubernetes object): every finding is about the resource as a whole.
    #[default]
    None,
    Known(Arc<DocLines>),
    /// Document `doc` (counting non-empty ones) of a file's text.
    Deferred {
        file: Arc<FileText>,
        doc: usize,
    },
}

#[derive(Debug, Default, PartialEq)]
pub struct DocLines {
    /// Where the document starts.
    pub line: usize,
    /// The line of every value by JSON pointer, and of every key (`pointer#key`).
    pub lines: BTreeMap<String, usize>,
}

/// A manifest file's text, parsed again with lines on first need.
pub struct FileText {
    text: String,
    docs: OnceLock<Vec<Arc<DocLines>>>,
}

impl FileText {
    pub fn new(text: String) -> Arc<FileText> {
        Arc::new(FileText { text, docs: OnceLock::new() })
    }

    fn doc(&self, index: usize) -> Option<Arc<DocLines>> {
        let docs = self.docs.get_or_init(|| {
            super::node::parse_documents(&self.text)
                .map(|docs| docs.iter().map(|d| Arc::new(doc_lines(d))).collect())
                .unwrap_or_default()
        });
        docs.get(index).cloned()
    }
}

/// The lines of a document's metadata and spec.
pub fn doc_lines(doc: &super::node::Node) -> DocLines {
    let mut lines = BTreeMap::new();
    for part in ["metadata", "spec"] {
        if let Some(node) = doc.get(part) {
            node.to_json(&format!("/{part}"), &mut lines);
        }
    }
    DocLines { line: doc.line, lines }
}

impl Source {
    /// A resource that is not from a file; `name` stands for the file in findings.
    pub fn named(name: impl Into<PathBuf>) -> Source {
        Source { file: name.into(), ..Source::default() }
    }

    pub fn with_lines(file: impl Into<PathBuf>, lines: DocLines) -> Source {
        Source { file: file.into(), lines: Lines::Known(Arc::new(lines)), query_file_text: None }
    }

    /// Document `doc` of `text`, whose lines are looked for only when a finding needs them.
    pub fn deferred(file: impl Into<PathBuf>, text: &Arc<FileText>, doc: usize) -> Source {
        Source { file: file.into(), lines: Lines::Deferred { file: text.clone(), doc }, query_file_text: None }
    }

    fn doc_lines(&self) -> Option<Arc<DocLines>> {
        match &self.lines {
            Lines::None => None,
            Lines::Known(lines) => Some(lines.clone()),
            Lines::Deferred { file, doc } => file.doc(*doc),
        }
    }

    /// The line the resource's document starts on (0 when it is not from a file).
    pub fn line(&self) -> usize {
        self.doc_lines().map(|d| d.line).unwrap_or(0)
    }

    /// The line of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn line_of(&self, pointer: &str) -> usize {
        let Some(doc) = self.doc_lines() else { return 0 };
        let mut p = pointer;
        loop {
            if let Some(line) = doc.lines.get(p) {
                return *line;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return doc.line,
            }
        }
    }

    /// The line of a mapping key (for "unknown"/"duplicate" findings about the key itself).
    pub fn key_line(&self, pointer: &str) -> usize {
        let key = self.doc_lines().and_then(|d| d.lines.get(&format!("{pointer}#key")).copied());
        key.unwrap_or_else(|| self.line_of(pointer))
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the text or the line map: a Debug of a manifest set would print every file whole.
        f.debug_struct("Source").field("file", &self.file).field("query_file_text", &self.query_file_text).finish()
    }
}

impl PartialEq for Source {
    fn eq(&self, other: &Source) -> bool {
        self.file == other.file
            && self.query_file_text == other.query_file_text
            && self.doc_lines() == other.doc_lines()
    }
}

/// `/spec/visualizations/1/type` → `spec.visualizations[1].type`.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').filter(|s| !s.is_empty()) {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

/// Collected findings, printed one a line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_paths() {
        assert_eq!(field_path("/spec/visualizations/1/type"), "spec.visualizations[1].type");
        assert_eq!(field_path("/metadata/annotations/a~1b"), "metadata.annotations.a/b");
    }

    #[test]
    fn lines_fall_back_to_the_nearest_ancestor() {
        let lines = DocLines { line: 3, lines: [("/spec".to_string(), 7)].into() };
        let s = Source::with_lines("f.yaml", lines);
        assert_eq!(s.line_of("/spec/widgets/2"), 7);
        assert_eq!(s.line_of("/metadata"), 3);
    }

    #[test]
    fn findings_print_file_line_resource_and_field() {
        let d = Diagnostic {
            file: Some("q.yaml".into()),
            line: Some(4),
            resource: Some("Query default/x".into()),
            field: Some("spec.dataSource".into()),
            message: "unknown data source".into(),
        };
        assert_eq!(d.to_string(), "q.yaml:4: Query default/x: spec.dataSource: unknown data source");
    }
}
