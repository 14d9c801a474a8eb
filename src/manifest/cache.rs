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

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use foldhash::HashMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::load::Doc;

/// Bumped when what an entry holds changes shape.
const FORMAT: u32 = 1;

/// A cache file larger than this is not read (it would be a wrong file, not a cache).
const MAX_BYTES: u64 = 512 * 1024 * 1024;

/// The cache of a set of paths no run has used for this long is removed (projects moved,
/// checkouts deleted, CI workspaces of past jobs); so is a temporary file left for a day.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
const TEMP_LEFT_FOR: Duration = Duration::from_secs(24 * 3600);

/// A cache file as read (written by `cache_json`): its entries, by the SHA-256 of each
/// document's text, borrowed from its text.
#[derive(Deserialize)]
struct CacheFileRef<'a> {
    tool: String,
    #[serde(borrow)]
    documents: HashMap<&'a str, &'a RawValue>,
}

/// The cache of one set of paths, read once per run and written back when it changed.
///
/// Entries stay in the text of the file they were read from, each a range of it: the cache of
/// 10,000 documents was as many allocations and copies, and another of each for every entry read.
pub struct ManifestCache {
    file: PathBuf,
    tool: String,
    text: String,
    entries: HashMap<String, Entry>,
    /// Entries made this run.
    made: Mutex<Vec<(String, Box<RawValue>)>>,
    hits: AtomicUsize,
    misses: AtomicUsize,
}

struct Entry {
    /// Where the entry's JSON is in the cache's text.
    range: Range<usize>,
    /// Read this run: the next cache holds these and those made, so texts no longer in any file
    /// do not pile up.
    used: AtomicBool,
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
        let (text, entries) = match read(&file, &tool) {
            Ok(found) => found,
            Err(reason) => {
                tracing::warn!(file = %file.display(), %reason, "the manifest cache is unusable; parsing every document");
                Default::default()
            }
        };
        Some(ManifestCache {
            file,
            tool,
            text,
            entries,
            made: Mutex::default(),
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
        })
    }

    /// The documents of a text with this key, when read before.
    pub fn get(&self, key: &str) -> Option<Vec<Doc>> {
        // An entry that no longer reads is dropped, and its text parsed as if it were new.
        let found = self
            .entries
            .get(key)
            .and_then(|entry| Some((entry, serde_json::from_str::<Vec<Doc>>(&self.text[entry.range.clone()]).ok()?)));
        let Some((entry, docs)) = found else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        entry.used.store(true, Ordering::Relaxed);
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
            self.made.lock().unwrap_or_else(|e| e.into_inner()).push((key, raw));
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }

    /// Writes the cache back when this run changed it: through a file renamed into place, so a
    /// run that reads it meanwhile sees the old cache or the new one, never half of one.
    /// The files of other path sets that no run has used for a while are removed.
    pub fn save(self) -> std::io::Result<()> {
        let made = self.made.into_inner().unwrap_or_else(|e| e.into_inner());
        let dir = self.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        // Nothing made (an entry that did not read is made again) and every entry read.
        let unchanged = made.is_empty()
            && self.misses.load(Ordering::Relaxed) == 0
            && self.entries.values().all(|e| e.used.load(Ordering::Relaxed));
        let saved = if unchanged {
            // Its modification time says when it was last used; a cache that cannot be touched
            // (read-only, shared) is still a good one, and worth no warning.
            if let Ok(f) = std::fs::File::options().write(true).open(&self.file) {
                let _ = f.set_modified(SystemTime::now());
            }
            Ok(())
        } else {
            // Kept entries are JSON values as found in this text when the cache was opened.
            let kept = self
                .entries
                .iter()
                .filter(|(_, e)| e.used.load(Ordering::Relaxed))
                .map(|(key, e)| (key.as_str(), &self.text[e.range.clone()]));
            let documents = kept.chain(made.iter().map(|(key, raw)| (key.as_str(), raw.get())));
            write_atomically(&self.file, &cache_json(&self.tool, documents))
        };
        remove_unused(&dir, &self.file);
        saved
    }
}

/// A cache file's text: `{"tool": …, "documents": {key: entry, …}}`, each entry's JSON text
/// copied as it is. (Through serde, each entry kept was parsed again to be written: 10 ms of a
/// plan that changed 1% of 11,000 documents.)
fn cache_json<'a>(tool: &str, documents: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut json = Vec::new();
    json.extend_from_slice(br#"{"tool":"#);
    // Writing a string into memory cannot fail.
    let _ = serde_json::to_writer(&mut json, tool);
    json.extend_from_slice(br#","documents":{"#);
    for (i, (key, entry)) in documents.enumerate() {
        if i > 0 {
            json.push(b',');
        }
        let _ = serde_json::to_writer(&mut json, key);
        json.push(b':');
        json.extend_from_slice(entry.as_bytes());
    }
    json.extend_from_slice(b"}}");
    json
}

/// Writes `json` to a temporary file renamed to `file`.
fn write_atomically(file: &Path, json: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")))?;
    let temp = file.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&temp, json)?;
    std::fs::rename(&temp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Removes the cache files in `dir` other than `current` that no run has used for
/// [`UNUSED_FOR`], and temporary files older than [`TEMP_LEFT_FOR`]; nothing else. Best effort.
fn remove_unused(dir: &Path, current: &Path) {
    let now = SystemTime::now();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path == current || !name.starts_with("manifests-") {
            continue;
        }
        let limit = if name.ends_with(".tmp") {
            TEMP_LEFT_FOR
        } else if name.ends_with(".json") {
            UNUSED_FOR
        } else {
            continue;
        };
        let idle = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| now.duration_since(t).ok());
        if idle.is_some_and(|idle| idle > limit) {
            let _ = std::fs::remove_file(&path);
        }
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

/// The text of the cache file and where each entry of this build is in it; none when there is
/// no cache yet or it is another build's.
fn read(file: &Path, tool: &str) -> Result<(String, HashMap<String, Entry>), String> {
    let size = match std::fs::metadata(file) {
        Ok(m) => m.len(),
        // No cache yet; a directory that cannot exist is told when the cache is written.
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Ok(Default::default());
        }
        Err(e) => return Err(e.to_string()),
    };
    if size > MAX_BYTES {
        return Err(format!("{size} bytes, more than a cache should hold"));
    }
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let cached: CacheFileRef<'_> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if cached.tool != tool {
        return Ok(Default::default());
    }
    let start_of = |raw: &RawValue| raw.get().as_ptr() as usize - text.as_ptr() as usize;
    let entries = cached
        .documents
        .iter()
        .map(|(key, raw)| {
            let start = start_of(raw);
            (key.to_string(), Entry { range: start..start + raw.get().len(), used: AtomicBool::new(false) })
        })
        .collect();
    drop(cached);
    Ok((text, entries))
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
    fn caches_of_paths_no_run_used_for_a_month_are_removed_and_a_used_one_is_kept() {
        let dir = TestDir::new("cache-unused");
        let file = saved_run(&dir, &["a"]);
        let aged = |name: &str, days: u64| {
            let path = dir.join(name);
            std::fs::write(&path, "{}").unwrap();
            let when = SystemTime::now() - Duration::from_secs(days * 24 * 3600);
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(when).unwrap();
            path
        };
        let old_project = aged("manifests-0123456789abcdef.json", 40);
        let recent_project = aged("manifests-fedcba9876543210.json", 3);
        let left_over = aged("manifests-0123456789abcdef.json.4242.tmp", 2);
        let not_ours = aged("notes.json", 400);
        // Ours was last used long ago too; this run reads it, changes nothing, and marks it used.
        let stale = SystemTime::now() - Duration::from_secs(40 * 24 * 3600);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(stale).unwrap();
        let cache = open(&dir);
        assert!(cache.get("a").is_some());
        cache.save().unwrap();
        let exists = |p: &Path| p.exists();
        assert!(!exists(&old_project) && !exists(&left_over), "unused caches and left temporary files go");
        assert!(exists(&recent_project) && exists(&not_ours), "recent caches and other files stay");
        let used = std::fs::metadata(&file).unwrap().modified().unwrap();
        assert!(used > stale + Duration::from_secs(24 * 3600), "a cache read and unchanged is marked as used");
        assert_eq!(open(&dir).get("a"), Some(snippet("a")));
    }

    #[test]
    fn entries_are_read_where_they_sit_in_the_file_whatever_its_layout() {
        let dir = TestDir::new("cache-layout");
        let file = saved_run(&dir, &["a"]);
        // Another writer's layout: indented, keys in another order, escapes inside an entry.
        let mut docs = snippet("b");
        if let Doc::QuerySnippet(_, spec) = &mut docs[0] {
            spec.snippet = "SELECT \"x\"\n  FROM t -- é".into();
        }
        let text = format!(
            "{{\n  \"documents\": {{\n    \"b\" : {},\n    \"a\":\t{}\n  }},\n  \"tool\": {}\n}}\n",
            serde_json::to_string_pretty(&docs).unwrap(),
            serde_json::to_string(&snippet("a")).unwrap(),
            serde_json::to_string(&tool_identity().unwrap()).unwrap(),
        );
        std::fs::write(&file, text).unwrap();
        let cache = open(&dir);
        assert_eq!((cache.get("a"), cache.get("b")), (Some(snippet("a")), Some(docs.clone())));
        // Written back as found, beside one made now: all three read again.
        cache.put("c".into(), &snippet("c"));
        cache.save().unwrap();
        let cache = open(&dir);
        assert_eq!(
            (cache.get("a"), cache.get("b"), cache.get("c")),
            (Some(snippet("a")), Some(docs), Some(snippet("c")))
        );
        assert_eq!(cache.stats(), CacheStats { hits: 3, misses: 0 });
    }

    #[test]
    fn keys_are_the_sha256_of_the_text() {
        assert_eq!(key_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
