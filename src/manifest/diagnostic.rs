//! Validation findings that name the file and line, the resource and the field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    pub file: PathBuf,
    pub line: usize,
    pub lines: BTreeMap<String, usize>,
    /// The SQL read from a query's `queryFile`.
    pub query_file_text: Option<String>,
}

impl Source {
    /// The line of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn line_of(&self, pointer: &str) -> usize {
        let mut p = pointer;
        loop {
            if let Some(line) = self.lines.get(p) {
                return *line;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.line,
            }
        }
    }

    /// The line of a mapping key (for "unknown"/"duplicate" findings about the key itself).
    pub fn key_line(&self, pointer: &str) -> usize {
        self.lines.get(&format!("{pointer}#key")).copied().unwrap_or_else(|| self.line_of(pointer))
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
        let mut s = Source { file: "f.yaml".into(), line: 3, ..Source::default() };
        s.lines.insert("/spec".into(), 7);
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
