//! Helpers for tests that run the real binary against the emulator over HTTP.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use redash_gitops::emulator::{LoggedRequest, RunningEmulator};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_redash-gitops");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("redash-gitops-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.join(rel)).unwrap()
    }

    /// Replaces `from` with `to` in a file, failing when `from` is not there.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// What a run of the binary printed.
#[derive(Debug)]
pub struct Run {
    pub cmd: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }

    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.describe());
        self
    }

    pub fn out_has(&self, text: &str) -> &Run {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{}", self.describe());
        self
    }

    pub fn err_has(&self, text: &str) -> &Run {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n{}", self.describe());
        self
    }
}

/// An emulator, a project directory and an API key; runs of the binary against them.
pub struct World {
    pub emu: RunningEmulator,
    pub key: String,
    pub dir: TempDir,
    /// The manifest cache of the world's runs, not the user's.
    pub cache: TempDir,
    runtime: tokio::runtime::Runtime,
}

impl World {
    pub fn new(tag: &str) -> World {
        World::with_job_delay(tag, redash_gitops::emulator::DEFAULT_JOB_DELAY_MS)
    }

    /// A world whose query executions take `ms` milliseconds.
    pub fn with_job_delay(tag: &str, ms: i64) -> World {
        let key = format!("k3y-{tag}-{}", std::process::id());
        let key: String = key.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let emu = RunningEmulator::serve(redash_gitops::emulator::Emulator::with_job_delay(&key, 7, ms)).unwrap();
        World {
            emu,
            key,
            dir: TempDir::new(tag),
            cache: TempDir::new(&format!("{tag}-cache")),
            runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        }
    }

    /// A world whose project directory holds the queries and dashboards of examples/analytics
    /// (the scenarios of the core kinds count on exactly those; tests/alerts.rs syncs the rest).
    pub fn with_examples(tag: &str) -> World {
        let w = World::new(tag);
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/analytics");
        for dir in ["queries", "dashboards", "sql"] {
            copy_dir(&examples.join(dir), &w.dir.path().join(dir));
        }
        w
    }

    /// A world whose project directory holds all of examples/analytics.
    pub fn with_all_examples(tag: &str) -> World {
        let w = World::new(tag);
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/analytics"), w.dir.path());
        w
    }

    /// The binary with `args`, run in the project directory with the world's manifest cache.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.dir.path()).env("REDASH_GITOPS_CACHE_DIR", self.cache.path());
        cmd
    }

    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        cmd.env("REDASH_URL", &self.emu.url).env("REDASH_API_KEY", &self.key).env("NO_COLOR", "1");
        cmd.env_remove("REDASH_GITOPS_OWNER");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let run = Run {
            cmd: format!("{} {}", BIN, args.join(" ")),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        // The API key must never be printed, whatever happened.
        assert!(
            !run.stdout.contains(&self.key) && !run.stderr.contains(&self.key),
            "the API key was printed\n{}",
            run.describe()
        );
        run
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// A request straight to the emulator's HTTP API, as a person or script would make it.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_at(&self.emu.url.clone(), &self.key.clone(), method, path, body)
    }

    /// A request to another server (a second instance in a migration test).
    pub fn api_at(&self, base: &str, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{base}{path}");
        let key = key.to_string();
        self.runtime.block_on(async move {
            redash_gitops::redash::install_crypto_provider();
            let client = reqwest::Client::new();
            let mut req = client.request(method.parse().unwrap(), url).header("Authorization", format!("Key {key}"));
            if let Some(b) = body {
                req = req.header("Content-Type", "application/json").body(b.to_string());
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.api(method, path, body);
        assert_eq!(status, 200, "{method} {path} -> {status} {v}");
        v
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.emu.emulator.requests()
    }

    pub fn writes(&self) -> Vec<LoggedRequest> {
        self.requests().into_iter().filter(|r| r.is_write()).collect()
    }

    pub fn clear(&self) {
        self.emu.emulator.clear_requests();
    }

    /// Every active query's JSON (list form).
    pub fn queries(&self) -> Vec<Value> {
        self.ok("GET", "/api/queries?page_size=250", None)["results"].as_array().unwrap().clone()
    }

    pub fn query_named(&self, name: &str) -> Value {
        let q =
            self.queries().into_iter().find(|q| q["name"] == name).unwrap_or_else(|| panic!("no query named {name}"));
        self.ok("GET", &format!("/api/queries/{}", q["id"]), None)
    }

    pub fn dashboards(&self) -> Vec<Value> {
        self.ok("GET", "/api/dashboards?page_size=250", None)["results"].as_array().unwrap().clone()
    }

    pub fn dashboard_named(&self, name: &str) -> Value {
        let d = self
            .dashboards()
            .into_iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("no dashboard named {name}"));
        self.ok("GET", &format!("/api/dashboards/{}", d["id"]), None)
    }

    /// The emulator's whole state, for before/after comparisons.
    pub fn snapshot(&self) -> Value {
        self.emu.emulator.store().snapshot()
    }
}

pub fn write_summary(requests: &[LoggedRequest]) -> Vec<String> {
    requests.iter().filter(|r| r.is_write()).map(|r| format!("{} {}", r.method, r.path)).collect()
}

impl World {
    /// Sends a request to the emulator without HTTP (for seeding many objects quickly).
    pub fn direct(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.emu.emulator.call(&self.key, method, path, body);
        answer.unwrap_or_else(|| panic!("{method} {path}: {status} without JSON"))
    }
}

/// Keys whose values differ between two runs reaching the same state: ids, clocks, counters.
const VOLATILE: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "version",
    "api_key",
    "latest_query_data_id",
    "retrieved_at",
    "runtime",
    "query_id",
    "dashboard_id",
    "user_id",
    "user",
    "last_modified_by",
    "last_modified_by_id",
];

/// The emulator's whole state (a `snapshot()`) without what differs between runs that reach
/// the same content: one canonical line per query and per dashboard, sorted, so duplicates and
/// losses show. Query ids in parameters become query names.
pub fn normalized(snapshot: &Value) -> Vec<String> {
    let names: std::collections::BTreeMap<i64, String> = snapshot["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["id"].as_i64().unwrap(), q["name"].as_str().unwrap().to_string()))
        .collect();
    fn strip(v: &mut Value, names: &std::collections::BTreeMap<i64, String>) {
        match v {
            Value::Object(m) => {
                for k in VOLATILE {
                    m.remove(*k);
                }
                if let Some(id) = m.get("queryId").and_then(Value::as_i64) {
                    m.insert(
                        "queryId".into(),
                        Value::String(names.get(&id).cloned().unwrap_or(format!("missing {id}"))),
                    );
                }
                m.values_mut().for_each(|v| strip(v, names));
            }
            Value::Array(items) => {
                items.iter_mut().for_each(|v| strip(v, names));
                // Children (visualizations, widgets) compare as sets.
                if items.iter().all(Value::is_object) {
                    items.sort_by_key(|v| v.to_string());
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for kind in ["queries", "dashboards"] {
        for item in snapshot[kind].as_array().unwrap() {
            let mut v = item.clone();
            strip(&mut v, &names);
            out.push(format!("{kind} {v}"));
        }
    }
    out.sort();
    out
}

/// The queries and dashboards (by kind and id) that carry no marker of `owner`, as they are.
/// A widget's embedded visualization (and its query) stands as its id: a foreign dashboard may
/// show one of `owner`'s charts, which changes with its query without the dashboard changing.
pub fn foreign(snapshot: &Value, owner: &str) -> std::collections::BTreeMap<String, Value> {
    let mut out = std::collections::BTreeMap::new();
    for kind in ["queries", "dashboards"] {
        for item in snapshot[kind].as_array().unwrap() {
            if item["options"]["gitops"]["owner"] != owner {
                let mut item = item.clone();
                for w in item["widgets"].as_array_mut().into_iter().flatten() {
                    if let Some(id) = w.get("visualization").and_then(|v| v.get("id")).cloned() {
                        w["visualization"] = id;
                    }
                }
                out.insert(format!("{kind}/{}", item["id"]), item);
            }
        }
    }
    out
}

impl World {
    /// Hand-made content the tool must never touch: a query with a chart, an archived query,
    /// and a dashboard with a text widget and the chart.
    pub fn seed_foreign_content(&self) {
        let q = self.ok(
            "POST",
            "/api/queries",
            Some(serde_json::json!({"name": "Hand-made revenue", "query": "SELECT 1 AS n", "data_source_id": 1, "tags": ["finance"]})),
        );
        let viz = self.ok(
            "POST",
            "/api/visualizations",
            Some(serde_json::json!({"query_id": q["id"], "type": "CHART", "name": "Hand-made chart", "options": {"globalSeriesType": "line"}})),
        );
        let old = self.ok(
            "POST",
            "/api/queries",
            Some(serde_json::json!({"name": "Old report", "query": "SELECT 2", "data_source_id": 2})),
        );
        self.ok("DELETE", &format!("/api/queries/{}", old["id"]), None);
        let d = self.ok("POST", "/api/dashboards", Some(serde_json::json!({"name": "Finance board"})));
        for (viz_id, text) in [(Value::Null, "Numbers by hand"), (viz["id"].clone(), "")] {
            self.ok(
                "POST",
                "/api/widgets",
                Some(serde_json::json!({"dashboard_id": d["id"], "visualization_id": viz_id, "text": text, "width": 1, "options": {}})),
            );
        }
    }
}
