//! Scale benchmark: the real binary against the emulator serving like a real Redash (a fixed
//! number of workers, each spending a service time per request), for N managed queries (each
//! with a chart besides Redash's default table) and N/10 dashboards (8 chart widgets and a text
//! widget each).
//!
//! For each N it measures a first sync, a no-op plan (list pages only, with the manifest cache
//! the first sync filled and without it, and with --refresh-children), a plan and a sync after
//! 1% of the resources changed (their documents miss the cache), and an export; a
//! serial run (--concurrency 1) of the same operations for the sizes in --serial-sizes. Each
//! row: wall time, requests by method, the floor the server allows (service time of those
//! requests ÷ workers), the child's CPU time and peak RSS. A plan that takes under 5 s is run
//! 5 times, each from the manifest cache as the first run found it, and the run of median wall
//! time is the row (`runs` in the JSON).
//!
//!     cargo bench --bench scale -- --sizes 100,1000,10000 --serial-sizes 100,1000
//!
//! Options: --workers 4, --service-ms 15,25,40 (list page, object, write), --concurrency 8,
//! --out target/bench/scale.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use redash_gitops::emulator::{Emulator, RequestClass, RunningEmulator, ServiceModel};
use serde_json::{Value, json};

const KEY: &str = "benchkey0123456789";
const OPERATIONS: &[&str] = &[
    "first sync",
    "no-op plan",
    "no-op plan --no-cache",
    "no-op plan --refresh-children",
    "plan after 1% changed",
    "sync of 1% changed",
    "export",
];

struct Options {
    sizes: Vec<usize>,
    serial_sizes: Vec<usize>,
    model: ServiceModel,
    concurrency: usize,
    out: PathBuf,
}

fn parse_list(s: &str) -> Vec<usize> {
    s.split(',').filter(|p| !p.is_empty()).map(|p| p.trim().parse().expect("a list of numbers")).collect()
}

fn options() -> Options {
    let mut o = Options {
        sizes: vec![100, 1_000, 10_000],
        serial_sizes: vec![100, 1_000],
        model: ServiceModel::default(),
        concurrency: 8,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/scale.json"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--sizes" => o.sizes = parse_list(&value()),
            "--serial-sizes" => o.serial_sizes = parse_list(&value()),
            "--workers" => o.model.workers = value().parse().expect("a number of workers"),
            "--service-ms" => {
                let ms = parse_list(&value());
                assert_eq!(ms.len(), 3, "--service-ms LIST,DETAIL,WRITE");
                (o.model.list_ms, o.model.detail_ms, o.model.write_ms) = (ms[0] as u64, ms[1] as u64, ms[2] as u64);
            }
            "--concurrency" => o.concurrency = value().parse().expect("a number"),
            "--out" => o.out = PathBuf::from(value()),
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// One measured run of the binary.
struct Row {
    n: usize,
    operation: &'static str,
    concurrency: usize,
    wall: Duration,
    requests: BTreeMap<String, usize>,
    floor: Duration,
    cpu: Duration,
    peak_rss_kb: i64,
    /// How many runs the row is the median of, and the fastest and slowest of them.
    runs: usize,
    wall_range: (Duration, Duration),
}

impl Row {
    fn total_requests(&self) -> usize {
        self.requests.values().sum()
    }

    fn json(&self) -> Value {
        json!({
            "n": self.n,
            "operation": self.operation,
            "concurrency": self.concurrency,
            "wallSeconds": secs(self.wall),
            "requests": self.requests,
            "totalRequests": self.total_requests(),
            "floorSeconds": secs(self.floor),
            "wallOverFloor": ratio(self.wall, self.floor),
            "cpuSeconds": secs(self.cpu),
            "peakRssMb": self.peak_rss_kb as f64 / 1024.0,
            "runs": self.runs,
            "wallSecondsRange": [secs(self.wall_range.0), secs(self.wall_range.1)],
        })
    }
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() { 0.0 } else { (a.as_secs_f64() / b.as_secs_f64() * 100.0).round() / 100.0 }
}

/// The CPU time of this process's children that have been waited for.
fn children_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into a valid pointer to a local.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs the binary; its wall time, its CPU time (the children's CPU time before and after it:
/// the benchmark runs one child at a time) and its peak RSS.
fn run(emu: &RunningEmulator, dir: &Path, args: &[&str], ok: &[i32]) -> (Duration, Duration, i64) {
    let before = children_cpu();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_redash-gitops"))
        .args(args)
        .current_dir(dir)
        .env("REDASH_URL", &emu.url)
        .env("REDASH_API_KEY", KEY)
        .env("REDASH_GITOPS_CACHE_DIR", cache_dir(dir))
        .env_remove("REDASH_GITOPS_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = child.id() as libc::pid_t;
    // Peak RSS from /proc (VmHWM of the process's own memory): rusage's ru_maxrss also counts
    // the memory of the forked copy of this process before exec, which holds the emulator.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak_kb = 0i64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kb) = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
                {
                    peak_kb = peak_kb.max(kb);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            peak_kb
        })
    };
    let output = child.wait_with_output().expect("the binary is waited for");
    let wall = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let peak_kb = sampler.join().unwrap_or(0);
    let cpu = children_cpu().saturating_sub(before);
    let code = output.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(ok.contains(&code), "redash-gitops {} exited {code}:\n{stderr}", args.join(" "));
    (wall, cpu, peak_kb)
}

/// The manifest cache of a project's runs: the first sync fills it, the plans after it use it.
fn cache_dir(project: &Path) -> PathBuf {
    project.with_extension("cache")
}

/// One scenario's emulator and project.
struct Bench<'a> {
    emu: &'a RunningEmulator,
    model: &'a ServiceModel,
    dir: &'a Path,
    n: usize,
    concurrency: usize,
}

/// A run shorter than this that changes nothing is repeated, and its median reported: one
/// sample of a sub-second run moves by a tenth from one run to the next.
const REPEAT_UNDER: Duration = Duration::from_secs(5);
const REPEATS: usize = 5;

impl Bench<'_> {
    /// One run, for operations that write (to Redash or to files).
    fn measure(&self, operation: &'static str, args: &[&str], ok: &[i32]) -> Row {
        let row = self.run_once(operation, args, ok);
        report(&row);
        row
    }

    /// A plan: repeated when short, each run from the manifest cache as the first found it;
    /// the run of median wall time is reported.
    fn measure_plan(&self, operation: &'static str, args: &[&str], ok: &[i32]) -> Row {
        let cache = cache_dir(self.dir);
        let kept = self.dir.with_extension("cache-kept");
        copy_files(&cache, &kept);
        let mut runs = vec![self.run_once(operation, args, ok)];
        while runs[0].wall < REPEAT_UNDER && runs.len() < REPEATS {
            copy_files(&kept, &cache);
            runs.push(self.run_once(operation, args, ok));
        }
        copy_files(&kept, &cache);
        let _ = std::fs::remove_dir_all(&kept);
        let n = runs.len();
        runs.sort_by_key(|r| r.wall);
        let range = (runs[0].wall, runs[n - 1].wall);
        let mut row = runs.swap_remove(n / 2);
        row.runs = n;
        row.wall_range = range;
        report(&row);
        row
    }

    fn run_once(&self, operation: &'static str, args: &[&str], ok: &[i32]) -> Row {
        let (emu, n, concurrency) = (self.emu, self.n, self.concurrency);
        // The log is never cleared: after freeing the 42,000 entries of a first sync, every later
        // no-op plan at N = 10,000 measured slower, more so run after run (0.27-0.29 s before,
        // 0.30-0.36 s after one clear, against the same emulator state).
        let first = emu.emulator.request_count();
        let c = concurrency.to_string();
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--concurrency", &c]);
        let (wall, cpu, peak_rss_kb) = run(emu, self.dir, &full, ok);
        let log = emu.emulator.requests_from(first);
        let mut requests = BTreeMap::new();
        for r in &log {
            *requests.entry(r.method.clone()).or_insert(0) += 1;
        }
        let floor = self.model.floor(log.iter().map(|r| RequestClass::of(&r.method, &r.path)));
        Row { n, operation, concurrency, wall, requests, floor, cpu, peak_rss_kb, runs: 1, wall_range: (wall, wall) }
    }
}

fn report(row: &Row) {
    let (fastest, slowest) = row.wall_range;
    let median = if row.runs > 1 {
        format!("  (median of {}: {:.2}-{:.2} s)", row.runs, fastest.as_secs_f64(), slowest.as_secs_f64())
    } else {
        String::new()
    };
    eprintln!(
        "  {:<32} {:>8.2} s  {:>6} requests  floor {:>7.2} s  ×{:.2}{median}",
        row.operation,
        row.wall.as_secs_f64(),
        row.total_requests(),
        row.floor.as_secs_f64(),
        ratio(row.wall, row.floor)
    );
}

/// Makes `to` hold exactly the files of `from` (a cache directory holds files only).
fn copy_files(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// N queries and N/10 dashboards, 100 queries and 10 dashboards per file.
fn write_project(dir: &Path, n: usize) {
    let queries = dir.join("queries");
    let dashboards = dir.join("dashboards");
    std::fs::create_dir_all(&queries).unwrap();
    std::fs::create_dir_all(&dashboards).unwrap();
    for start in (0..n).step_by(100) {
        let docs: Vec<String> = (start..(start + 100).min(n)).map(|i| query_doc(i, "")).collect();
        std::fs::write(queries.join(format!("q{start:05}.yaml")), docs.join("---\n")).unwrap();
    }
    for start in (0..n / 10).step_by(10) {
        let docs: Vec<String> = (start..(start + 10).min(n / 10)).map(|j| dashboard_doc(j, "")).collect();
        std::fs::write(dashboards.join(format!("d{start:05}.yaml")), docs.join("---\n")).unwrap();
    }
}

fn query_doc(i: usize, edit: &str) -> String {
    format!(
        "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {{name: q{i:05}}}\nspec:\n  name: Bench query {i}\n  dataSource: Sample Postgres\n  query: SELECT {i} AS n{edit}\n  tags: [bench]\n  visualizations:\n    - {{name: Chart, type: CHART, options: {{globalSeriesType: column, columnMapping: {{n: y}}}}}}\n"
    )
}

fn dashboard_doc(j: usize, edit: &str) -> String {
    let mut widgets = String::new();
    for k in 0..8 {
        let (col, row) = ((k % 4) * 3, (k / 4) * 8 + 2);
        widgets.push_str(&format!(
            "    - visualization: {{query: q{:05}, name: Chart}}\n      position: {{col: {col}, row: {row}, sizeX: 3, sizeY: 8}}\n",
            j * 10 + k
        ));
    }
    format!(
        "apiVersion: redash-gitops.dev/v1alpha1\nkind: Dashboard\nmetadata: {{name: d{j:05}}}\nspec:\n  name: Bench dashboard {j}\n  widgets:\n    - text: \"## Dashboard {j}{edit}\"\n      position: {{col: 0, row: 0, sizeX: 12, sizeY: 2}}\n{widgets}"
    )
}

/// Changes 1% of the queries (their SQL) and 1% of the dashboards (their text widget).
fn change_one_percent(dir: &Path, n: usize) -> (usize, usize) {
    let (queries, dashboards) = ((n / 100).max(1), (n / 10 / 100).max(1));
    for i in (0..n).step_by(n / queries).take(queries) {
        let file = dir.join(format!("queries/q{:05}.yaml", i / 100 * 100));
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replace(&query_doc(i, ""), &query_doc(i, " -- changed"))).unwrap();
    }
    for j in (0..n / 10).step_by((n / 10 / dashboards).max(1)).take(dashboards) {
        let file = dir.join(format!("dashboards/d{:05}.yaml", j / 10 * 10));
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replace(&dashboard_doc(j, ""), &dashboard_doc(j, " (changed)"))).unwrap();
    }
    (queries, dashboards)
}

fn scenario(o: &Options, n: usize, concurrency: usize) -> Vec<Row> {
    let emulator = Emulator::new(KEY, 1);
    emulator.set_service_model(Some(o.model));
    let emu = RunningEmulator::serve(emulator).expect("the emulator starts");
    let dir = std::env::temp_dir().join(format!("redash-gitops-bench-{}-{n}-{concurrency}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_project(&dir, n);
    let b = Bench { emu: &emu, model: &o.model, dir: &dir, n, concurrency };
    eprintln!("N = {n}, concurrency {concurrency}:");
    let mut rows = vec![
        b.measure(OPERATIONS[0], &["sync", "."], &[0]),
        b.measure_plan(OPERATIONS[1], &["plan", "."], &[0]),
        b.measure_plan(OPERATIONS[2], &["plan", ".", "--no-cache"], &[0]),
        b.measure_plan(OPERATIONS[3], &["plan", ".", "--refresh-children"], &[0]),
    ];
    let (q, d) = change_one_percent(&dir, n);
    eprintln!("  (changed {q} queries and {d} dashboards)");
    rows.push(b.measure_plan(OPERATIONS[4], &["plan", "."], &[2]));
    rows.push(b.measure(OPERATIONS[5], &["sync", "."], &[0]));
    rows.push(b.measure(OPERATIONS[6], &["export", "--out", "exported"], &[0]));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(cache_dir(&dir));
    rows
}

fn main() {
    let o = options();
    let machine = json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    });
    eprintln!(
        "emulated server: {} workers, {} ms a list page, {} ms an object, {} ms a write",
        o.model.workers, o.model.list_ms, o.model.detail_ms, o.model.write_ms
    );
    let mut rows = Vec::new();
    for &n in &o.sizes {
        rows.extend(scenario(&o, n, o.concurrency));
    }
    for &n in &o.serial_sizes {
        rows.extend(scenario(&o, n, 1));
    }
    println!();
    println!(
        "| N | operation | concurrency | wall s | requests (GET/POST/DELETE) | floor s | wall ÷ floor | vs serial | CPU s | peak RSS MB |"
    );
    println!("|---:|---|---:|---:|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        let serial = rows
            .iter()
            .find(|s| s.n == r.n && s.operation == r.operation && s.concurrency == 1 && r.concurrency != 1)
            .map(|s| format!("{:.1}× faster", s.wall.as_secs_f64() / r.wall.as_secs_f64()))
            .unwrap_or_else(|| "".into());
        let by_method =
            ["GET", "POST", "DELETE"].map(|m| r.requests.get(m).copied().unwrap_or(0).to_string()).join("/");
        println!(
            "| {} | {} | {} | {:.2} | {} ({by_method}) | {:.2} | {:.2} | {serial} | {:.2} | {:.1} |",
            r.n,
            r.operation,
            r.concurrency,
            r.wall.as_secs_f64(),
            r.total_requests(),
            r.floor.as_secs_f64(),
            ratio(r.wall, r.floor),
            r.cpu.as_secs_f64(),
            r.peak_rss_kb as f64 / 1024.0
        );
    }
    let report = json!({
        "machine": machine,
        "server": o.model,
        "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
    });
    if let Some(parent) = o.out.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&o.out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    eprintln!("wrote {}", o.out.display());
}
