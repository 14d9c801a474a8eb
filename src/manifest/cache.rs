//! Manifests already read: a YAML document whose text was read and found valid before is not
//! parsed again.
//!
//! Parsing YAML is most of the CPU time of a plan of 10,000 resources (serde-saphyr reads about
//! 13 MB/s), and most runs read documents that have not changed since the last one. The cache
//! keeps, for each valid document text (by its SHA-256), the document typed, as JSON, for one
//! build of the tool: its version and the size and modification time of its executable (as
//! ccache checks its compiler), so an upgrade or a rebuild starts afresh. Documents with any
//! finding are never kept, so every finding still comes from the YAML with its line. A cache
//! that cannot be read, is corrupt, or cannot be written costs time, never a result.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::load::Doc;

/// Bumped when what an entry holds changes shape.
const FORMAT: u32 = 1;

/// A cache file larger than this is not read (it would be a wrong file, not a cache).
const MAX_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct CacheFile {
    tool: String,
    /// By the SHA-256 of each document's text.
    documents: HashMap<String, Box<RawValue>>,
}

/// The cache of one set of paths, read once per run and written back when it changed.
pub struct ManifestCache {
    file: PathBuf,
    tool: String,
    entries: HashMap<String, Box<RawValue>>,
    /// Entries read this run, and entries made this run: the next cache holds these only, so
    /// texts no longer in any file do not pile up.
    kept: Mutex<HashMap<String, Box<RawValue>>>,
    hits: AtomicUsize,
    misses: AtomicUsize,
}

/// How many document texts came from the cache, and how many were parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub hits: usize,
    pub misses: usize,
}

impl ManifestCache {
    /// The cache in `dir` for manifests under `paths`, or `None` when this build of the tool
    /// cannot be told apart from another (no readable executable).
    pub fn open(dir: &Path, paths: &[PathBuf]) -> Option<ManifestCache> {
        let tool = tool_identity()?;
        // One file per set of paths: `plan a/` and `plan b/` do not evict each other's entries.
        let roots: Vec<String> =
            paths.iter().map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()).display().to_string()).collect();
        let name = &crate::util::sha256_hex(roots.join("\n").as_bytes())[..16];
        let file = dir.join(format!("manifests-{name}.json"));
        let entries = match read(&file) {
            Ok(Some(cached)) if cached.tool == tool => cached.documents,
            Ok(_) => HashMap::new(),
            Err(reason) => {
                tracing::warn!(file = %file.display(), %reason, "the manifest cache is unusable; parsing every document");
                HashMap::new()
            }
        };
        Some(ManifestCache {
            file,
            tool,
            entries,
            kept: Mutex::default(),
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
        })
    }

    /// The documents of a text with this key, when read before.
    pub fn get(&self, key: &str) -> Option<Vec<Doc>> {
        // An entry that no longer reads is dropped, and its text parsed as if it were new.
        let found =
            self.entries.get(key).and_then(|raw| Some((raw, serde_json::from_str::<Vec<Doc>>(raw.get()).ok()?)));
        let Some((raw, docs)) = found else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(key.to_string(), raw.clone());
        Some(docs)
    }

    /// Keeps the documents of a valid text, if they read back exactly as they are.
    pub fn put(&self, key: String, docs: &[Doc]) {
        let Ok(json) = serde_json::to_string(docs) else { return };
        // Only what reads back equal is kept (a float's last digit, say, could differ): a cached
        // document must give exactly what parsing it gives.
        if serde_json::from_str::<Vec<Doc>>(&json).ok().as_deref() != Some(docs) {
            return;
        }
        if let Ok(raw) = RawValue::from_string(json) {
            self.lock().insert(key, raw);
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }

    /// Writes the cache back when this run changed it: through a file renamed into place, so a
    /// run that reads it meanwhile sees the old cache or the new one, never half of one.
    pub fn save(self) -> std::io::Result<()> {
        let kept = self.kept.into_inner().unwrap_or_else(|e| e.into_inner());
        // Nothing put (an entry that did not read is put again) and every entry read.
        let unchanged = self.misses.load(Ordering::Relaxed) == 0 && kept.len() == self.entries.len();
        if unchanged {
            return Ok(());
        }
        let dir = self.file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let json =
            serde_json::to_vec(&CacheFile { tool: self.tool, documents: kept }).map_err(std::io::Error::other)?;
        let temp = self.file.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&temp, json)?;
        std::fs::rename(&temp, &self.file).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Box<RawValue>>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key of a document's text.
pub fn key_of(text: &str) -> String {
    crate::util::sha256_hex(text.as_bytes())
}

/// Where the cache lives when not told: `$XDG_CACHE_HOME/redash-gitops`, else
/// `~/.cache/redash-gitops`.
pub fn default_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = non_empty("XDG_CACHE_HOME").or_else(|| non_empty("HOME").map(|h| h.join(".cache")))?;
    Some(base.join("redash-gitops"))
}

fn read(file: &Path) -> Result<Option<CacheFile>, String> {
    let size = match std::fs::metadata(file) {
        Ok(m) => m.len(),
        // No cache yet; a directory that cannot exist is told when the cache is written.
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Ok(None);
        }
        Err(e) => return Err(e.to_string()),
    };
    if size > MAX_BYTES {
        return Err(format!("{size} bytes, more than a cache should hold"));
    }
    let text = std::fs::read(file).map_err(|e| e.to_string())?;
    serde_json::from_slice(&text).map(Some).map_err(|e| e.to_string())
}

/// This build of the tool: entries made by another build are not trusted.
fn tool_identity() -> Option<String> {
    let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let modified = exe.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    Some(format!("redash-gitops {} format {FORMAT} exe {} {modified}", env!("CARGO_PKG_VERSION"), exe.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::types::{Metadata, QuerySnippetSpec};
    use crate::util::TestDir;

    fn snippet(trigger: &str) -> Vec<Doc> {
        let metadata = Metadata { name: trigger.into(), ..Metadata::default() };
        vec![Doc::QuerySnippet(
            metadata,
            QuerySnippetSpec {
                trigger: trigger.into(),
                snippet: "x".into(),
                description: None,
                operator: Default::default(),
            },
        )]
    }

    fn open(dir: &Path) -> ManifestCache {
        ManifestCache::open(dir, &[PathBuf::from("project")]).unwrap()
    }

    /// A run that read nothing from the cache and put a snippet under each of `keys`; the cache
    /// file it wrote.
    fn saved_run(dir: &Path, keys: &[&str]) -> PathBuf {
        let cache = open(dir);
        for key in keys {
            cache.put(key.to_string(), &snippet(key));
        }
        cache.save().unwrap();
        std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path()
    }

    #[test]
    fn what_is_put_is_found_by_the_next_run_and_what_is_not_used_is_dropped() {
        let dir = TestDir::new("cache-runs");
        assert_eq!(open(&dir).get("a"), None);
        saved_run(&dir, &["a", "b"]);
        let cache = open(&dir);
        assert_eq!(cache.get("a"), Some(snippet("a")));
        assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 0 });
        cache.save().unwrap();
        // `b` was not read by the second run: its file changed or went away.
        let cache = open(&dir);
        assert_eq!((cache.get("a"), cache.get("b")), (Some(snippet("a")), None));
    }

    #[test]
    fn a_run_that_changes_nothing_does_not_write() {
        let dir = TestDir::new("cache-unchanged");
        let file = saved_run(&dir, &["a"]);
        std::fs::write(&file, std::fs::read_to_string(&file).unwrap() + " ").unwrap();
        let cache = open(&dir);
        assert!(cache.get("a").is_some());
        cache.save().unwrap();
        assert!(std::fs::read_to_string(&file).unwrap().ends_with(" "), "the cache was written again");
    }

    #[test]
    fn a_corrupt_cache_or_one_of_another_build_costs_only_time() {
        let dir = TestDir::new("cache-corrupt");
        let file = saved_run(&dir, &["a", "b"]);
        let text = std::fs::read_to_string(&file).unwrap();

        // Another build's entries are not read.
        let tool = tool_identity().unwrap();
        std::fs::write(&file, text.replace(&tool, "redash-gitops 0.0.0 format 1 exe 1 1")).unwrap();
        assert_eq!(open(&dir).get("a"), None);

        // A cut-off file is no cache at all; an entry that does not read is a miss.
        std::fs::write(&file, &text[..text.len() / 2]).unwrap();
        assert_eq!(open(&dir).get("a"), None);
        let entry = serde_json::to_string(&snippet("b")).unwrap();
        std::fs::write(&file, text.replace(&entry, r#"[{"Query":"not a query"}]"#)).unwrap();
        let cache = open(&dir);
        assert_eq!((cache.get("a"), cache.get("b")), (Some(snippet("a")), None));
        assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 1 });

        // And the next run writes a sound one.
        cache.put("b".into(), &snippet("b"));
        cache.save().unwrap();
        let cache = open(&dir);
        assert_eq!((cache.get("a"), cache.get("b")), (Some(snippet("a")), Some(snippet("b"))));
    }

    #[test]
    fn keys_are_the_sha256_of_the_text() {
        assert_eq!(key_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
