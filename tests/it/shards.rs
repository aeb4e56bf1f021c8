//! Sharded runs end to end: `bench run --shard I/N` against one standalone mock, `bench merge`
//! of the shards' reports, and what a merge refuses.

use std::path::{Path, PathBuf};
use std::process::Output;

use hdrhistogram::Histogram;
use serde_json::Value;

use crate::run::json;
use crate::support::{all_text, bench, repo, write};

/// A closed-model scenario against `base_url` with a fixed number of conversations.
fn scenario(dir: &Path, base_url: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"name = "shards"
seed = 11
conversations_per_user = 2
grace = "5s"

[endpoint]
kind = "http"
base_url = "{base_url}"
timeout = "5s"

[load]
users = 7
ramp_up = "100ms"
think_time = "0ms..5ms"
turns_per_session = "1..=2"

[agent]
model = "gpt-4.1"
protocol = "native"
stream = true
max_tokens = 256
budget = {{ max_tokens = 6000, max_steps = 6 }}

[[workload]]
prompts = [
    "What is 12 times 34?",
    "Look up order 48213 and tell me when it will be delivered.",
    "Search for the opening hours of the Hanoi office.",
]

[limits]
spend_cap_usd = 100.0

[report]
plots = false
html = false
{extra}
"#
    );
    write(dir, "shards.toml", &text)
}

/// Starts a standalone mock (its own runtime on a thread of its own) and returns its base URL
/// and handle.
fn standalone_mock() -> (String, mock_server::MockHandle, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config: mock_server::MockConfig = toml::from_str(
        r#"
seed = 5
[models.default]
ttft = "2ms"
per_token = "0ms"
jitter = "none"
completion_tokens = "5..=40"
"#,
    )
    .unwrap();
    let handle = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        mock_server::serve(listener, config).await.unwrap()
    });
    (format!("http://{}/v1", handle.addr()), handle, rt)
}

fn run_shard(path: &Path, out: &Path, shard: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--shard", shard];
    args.extend_from_slice(extra);
    crate::run::run(path, out, &args)
}

fn merge(out: &Path, dirs: &[&Path], extra: &[&str]) -> Output {
    let mut args = vec!["merge", out.to_str().unwrap()];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    args.extend_from_slice(extra);
    bench(&args)
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", all_text(o));
}

/// The figures a partition must not change.
fn figures(s: &Value) -> Value {
    serde_json::json!({
        "conversations": s["conversation"]["count"],
        "outcomes": s["conversation"]["outcomes"],
        "calls": s["llm_call"]["count"],
        "attempts": s["attempt"]["count"],
        "prompt": s["tokens"]["prompt"],
        "completion": s["tokens"]["completion"],
        "total": s["tokens"]["total"],
        "usd_total": s["cost"]["usd_total"],
        "by_model": s["cost"]["by_model"],
        "cached_saving_usd": s["cost"]["cached_saving_usd"],
        "tools": s["tool"]["by_tool"].as_object().map(|tools| {
            tools
                .iter()
                .map(|(name, t)| {
                    let counts = serde_json::json!([t["calls"], t["errors"], t["refused"], t["output_tokens"]]);
                    (name.clone(), counts)
                })
                .collect::<serde_json::Map<_, _>>()
        }),
        "prompt": s["prompt"],
    })
}

/// The `latency_ms` column of every `calls.csv` given, as a histogram of microseconds.
fn calls_latency(files: &[PathBuf]) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).unwrap();
    for f in files {
        let mut r = csv::Reader::from_path(f).unwrap();
        let col = r
            .headers()
            .unwrap()
            .iter()
            .position(|c| c == "latency_ms")
            .unwrap();
        for rec in r.records() {
            let ms: f64 = rec.unwrap()[col].parse().unwrap();
            h.record((ms * 1000.0).round() as u64).unwrap();
        }
    }
    h
}

#[test]
fn shards_merge_into_exactly_the_whole_run() {
    let (base_url, mock, _rt) = standalone_mock();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), &base_url, "");

    let before = mock.stats().requests_total;
    let whole_dir = dir.path().join("whole");
    ok(&crate::run::run(&path, &whole_dir, &[]));
    let whole = json(whole_dir.join("summary.json"));
    assert_eq!(
        whole["conversation"]["count"], 14,
        "7 users x 2 conversations"
    );
    assert_eq!(
        mock.stats().requests_total - before,
        whole["attempt"]["count"].as_u64().unwrap()
    );
    // The agent's shape is among the figures compared, so it must be there to compare.
    let shape = figures(&whole);
    assert!(!shape["tools"].as_object().unwrap().is_empty(), "{shape}");
    assert!(
        shape["prompt"]["counted_tokens"].as_u64().unwrap() > 0,
        "{shape}"
    );

    for n in [1u64, 2, 3, 4] {
        let before = mock.stats().requests_total;
        let mut shard_dirs = Vec::new();
        for i in 0..n {
            let d = dir.path().join(format!("n{n}/shard-{i}"));
            ok(&run_shard(&path, &d, &format!("{i}/{n}"), &[]));
            let s = json(d.join("summary.json"));
            assert_eq!(s["shard"]["index"], i);
            assert_eq!(s["shard"]["count"], n);
            // Users u with u mod n = i.
            let users = (0..7u64).filter(|u| u % n == i).count() as u64;
            assert_eq!(s["shard"]["share"]["users"], users);
            assert_eq!(s["conversation"]["count"], users * 2);
            shard_dirs.push(d);
        }
        let out = dir.path().join(format!("n{n}/merged"));
        // One directory holding the shards is as good as the list.
        ok(&merge(&out, &[&dir.path().join(format!("n{n}"))], &[]));
        let merged = json(out.join("summary.json"));
        assert_eq!(figures(&merged), figures(&whole), "{n} shards");
        assert_eq!(merged["merged"]["count"], n);
        assert_eq!(
            merged["merged"]["shards"].as_array().unwrap().len() as u64,
            n
        );
        // The merged request count is the mock's own.
        assert_eq!(
            mock.stats().requests_total - before,
            merged["attempt"]["count"].as_u64().unwrap(),
            "{n} shards"
        );

        // The merged histogram is the histogram of every shard's calls.
        let union = calls_latency(
            &shard_dirs
                .iter()
                .map(|d| d.join("calls.csv"))
                .collect::<Vec<_>>(),
        );
        let logged =
            reactbench::report::hlog::read_histograms(&out.join("histograms.hlog")).unwrap();
        let h = &logged["llm_call"];
        assert_eq!(h.len(), union.len());
        for q in [0.5, 0.9, 0.95, 0.99, 1.0] {
            assert!(
                h.equivalent(h.value_at_quantile(q), union.value_at_quantile(q)),
                "p{q}: {} vs {}",
                h.value_at_quantile(q),
                union.value_at_quantile(q)
            );
        }
        let p99 = merged["llm_call"]["latency_ms"]["p99"].as_f64().unwrap();
        assert!(h.equivalent((p99 * 1000.0) as u64, h.value_at_quantile(0.99)));

        // calls.csv: every shard's rows, each with its shard.
        let mut r = csv::Reader::from_path(out.join("calls.csv")).unwrap();
        assert_eq!(&r.headers().unwrap()[0], "shard");
        let rows: Vec<_> = r.records().map(Result::unwrap).collect();
        assert_eq!(
            rows.len() as u64,
            merged["llm_call"]["count"].as_u64().unwrap()
        );
        for i in 0..n {
            assert!(rows.iter().any(|row| row[0] == *i.to_string()), "shard {i}");
        }

        // A merged run is a run: compare and report read it.
        let o = bench(&[
            "compare",
            whole_dir.to_str().unwrap(),
            out.to_str().unwrap(),
            "--default-tolerance",
            "10000%",
        ]);
        ok(&o);
        ok(&bench(&["report", out.to_str().unwrap()]));
        assert!(out.join("index.html").is_file());
    }
}

#[test]
fn a_shard_state_reads_back_to_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    ok(&run_shard(
        &repo().join("scenarios/smoke.toml"),
        &out,
        "1/2",
        &[],
    ));
    let text = std::fs::read_to_string(out.join("shard_state.json")).unwrap();
    let state: reactbench::report::shard_file::ShardFile = serde_json::from_str(&text).unwrap();
    let again = reactbench::report::summary::Summary::from_metrics(&state.metrics);
    let written = json(out.join("summary.json"));
    let again = serde_json::to_value(&again).unwrap();
    for section in [
        "conversation",
        "llm_call",
        "attempt",
        "tokens",
        "cost",
        "load",
    ] {
        assert_eq!(again[section], written[section], "{section}");
    }
    assert_eq!(state.shard.index, 1);
    assert_eq!(written["shard"]["bench_version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn open_model_shards_split_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "open.toml",
        r#"name = "open shards"
seed = 3
duration = "3s"
grace = "2s"
[endpoint]
kind = "mock"
[mock.models.default]
ttft = "1ms"
per_token = "0ms"
completion_tokens = "5..=10"
[load]
arrival_rate = "60/s"
arrival = "poisson"
turns_per_session = "1"
[agent]
model = "gpt-4.1"
protocol = "native"
[[workload]]
prompts = ["What is 2 plus 2?"]
[report]
plots = false
html = false
"#,
    );
    let mut total = 0u64;
    let mut dirs = Vec::new();
    for i in 0..3 {
        let d = dir.path().join(format!("shards/{i}"));
        ok(&run_shard(&path, &d, &format!("{i}/3"), &[]));
        let s = json(d.join("summary.json"));
        assert_eq!(s["shard"]["share"]["arrival_rate_per_s"], 20.0);
        let arrivals = s["load"]["intended_starts"].as_u64().unwrap();
        // A third of 180 arrivals: 60, Poisson sd ~7.7; 4.5 sd either side.
        assert!((25..=95).contains(&arrivals), "shard {i}: {arrivals}");
        total += arrivals;
        dirs.push(d);
    }
    let out = dir.path().join("merged");
    ok(&merge(&out, &[&dir.path().join("shards")], &[]));
    let merged = json(out.join("summary.json"));
    assert_eq!(merged["load"]["intended_starts"], total);
    // 60/s for 3 s = 180, sd ~13.4; 4.5 sd either side.
    assert!((120..=240).contains(&total), "{total}");
    // The shards' arrival processes are not copies of each other.
    let counts: Vec<u64> = dirs
        .iter()
        .map(|d| {
            json(d.join("summary.json"))["load"]["intended_starts"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(counts.iter().any(|c| *c != counts[0]) || counts[0] == 0);
}

#[test]
fn replay_shards_merge_into_the_whole_replay() {
    let dir = tempfile::tempdir().unwrap();
    let whole_src = dir.path().join("source");
    ok(&crate::run::run(
        &repo().join("scenarios/smoke.toml"),
        &whole_src,
        &[],
    ));
    let trace = whole_src.join("trace.jsonl");
    let path = write(
        dir.path(),
        "replay.toml",
        &format!(
            r#"name = "replay shards"
seed = 7
[endpoint]
kind = "mock"
[mock.models.default]
ttft = "1ms"
per_token = "0ms"
completion_tokens = "10..=40"
[load]
trace = "{}"
time_scale = 0.2
[agent]
model = "gpt-4.1"
protocol = "native"
[report]
plots = false
html = false
"#,
            trace.display()
        ),
    );
    let whole = dir.path().join("whole");
    ok(&crate::run::run(&path, &whole, &[]));
    for i in 0..2 {
        ok(&run_shard(
            &path,
            &dir.path().join(format!("s/{i}")),
            &format!("{i}/2"),
            &[],
        ));
    }
    let out = dir.path().join("merged");
    ok(&merge(&out, &[&dir.path().join("s")], &[]));
    let w = json(whole.join("summary.json"));
    let m = json(out.join("summary.json"));
    assert_eq!(figures(&m), figures(&w));
}

#[test]
fn a_threshold_only_the_merged_run_fails_makes_merge_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "http://127.0.0.1:9/v1",
        "[thresholds]\n\"conversation.count\" = \"< 10\"\n",
    );
    // The endpoint is the embedded mock: the threshold is about counts, not the server.
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "kind = \"http\"\nbase_url = \"http://127.0.0.1:9/v1\"",
        "kind = \"mock\"",
    );
    std::fs::write(&path, text).unwrap();
    let mut dirs = Vec::new();
    for i in 0..3 {
        let d = dir.path().join(format!("s{i}"));
        ok(&run_shard(&path, &d, &format!("{i}/3"), &[]));
        let s = json(d.join("summary.json"));
        assert!(s["conversation"]["count"].as_u64().unwrap() < 10);
        assert_eq!(s["thresholds"][0]["passed"], true, "shard {i} passes alone");
        dirs.push(d);
    }
    let out = dir.path().join("merged");
    let junit = dir.path().join("junit.xml");
    let o = merge(
        &out,
        &dirs.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
        &["--junit", junit.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", all_text(&o));
    let merged = json(out.join("summary.json"));
    assert_eq!(merged["conversation"]["count"], 14);
    assert_eq!(merged["thresholds"][0]["passed"], false);
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<failure")
    );
}

#[test]
fn merge_refuses_a_missing_duplicate_or_foreign_shard() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = repo().join("scenarios/smoke.toml");
    let s0 = dir.path().join("s0");
    let s1 = dir.path().join("s1");
    ok(&run_shard(&smoke, &s0, "0/2", &[]));
    ok(&run_shard(&smoke, &s1, "1/2", &[]));
    let copy = dir.path().join("s0-copy");
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(&s0).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
    }
    let other_seed = dir.path().join("seed");
    ok(&run_shard(&smoke, &other_seed, "1/2", &["--seed", "99"]));
    let other_count = dir.path().join("count");
    ok(&run_shard(&smoke, &other_count, "1/3", &[]));
    let other_users = dir.path().join("users");
    ok(&run_shard(&smoke, &other_users, "1/2", &["--users", "5"]));

    let cases: [(&[&Path], &str); 6] = [
        (&[&s0], "shard(s) 1 of 2 missing"),
        (&[&s0, &s1, &copy], "appears twice"),
        (&[&s0, &other_seed], "seed"),
        (&[&s0, &other_count], "shard count"),
        (&[&s0, &other_users], "scenario digest"),
        (&[&s0, &dir.path().join("nothing")], "nothing"),
    ];
    for (i, (dirs, needle)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let o = merge(&out, dirs, &[]);
        let text = all_text(&o);
        assert_eq!(o.status.code(), Some(2), "{needle}: {text}");
        assert!(text.contains(needle), "{needle}: {text}");
        assert!(!out.exists(), "{needle}: no merged report is written");
    }
    // The two halves merge.
    ok(&merge(&dir.path().join("good"), &[&s0, &s1], &[]));
}

#[test]
fn start_at_in_the_past_or_malformed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = repo().join("scenarios/smoke.toml");
    let out = dir.path().join("r");
    let o = crate::run::run(&smoke, &out, &["--start-at", "2020-01-01T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(2), "{}", all_text(&o));
    assert!(all_text(&o).contains("in the past"), "{}", all_text(&o));
    assert!(!out.exists());
    let o = crate::run::run(&smoke, &out, &["--start-at", "tomorrow"]);
    assert_eq!(o.status.code(), Some(2), "{}", all_text(&o));
    assert!(
        all_text(&o).contains("2026-12-04T10:00:00Z"),
        "{}",
        all_text(&o)
    );
}

#[test]
fn start_at_waits_and_records_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = repo().join("scenarios/smoke.toml");
    let out = dir.path().join("r");
    // Whole seconds in RFC 3339: two seconds ahead at least.
    let at = std::time::SystemTime::now() + std::time::Duration::from_secs(2);
    let at = humantime::format_rfc3339_seconds(at + std::time::Duration::from_secs(1)).to_string();
    ok(&run_shard(&smoke, &out, "0/1", &["--start-at", &at]));
    let s = json(out.join("summary.json"));
    assert_eq!(s["shard"]["planned_start"], at.replace('Z', ".000Z"));
    // The load started at the planned instant, not before it.
    let offset = s["shard"]["start_offset_ms"].as_f64().unwrap();
    assert!(offset >= 0.0, "{offset}");
}

#[test]
fn shards_flag_takes_the_index_from_job_completion_index() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = repo().join("scenarios/smoke.toml");
    let out = dir.path().join("r");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["run", smoke.to_str().unwrap(), "--quiet", "--shards", "3"])
        .args(["--out", out.to_str().unwrap()])
        .env("JOB_COMPLETION_INDEX", "2")
        .env_remove("REACTBENCH_SHARD")
        .output()
        .unwrap();
    ok(&o);
    let s = json(out.join("summary.json"));
    assert_eq!(
        (s["shard"]["index"].clone(), s["shard"]["count"].clone()),
        (2.into(), 3.into())
    );

    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["run", smoke.to_str().unwrap(), "--quiet", "--shards", "3"])
        .args(["--out", dir.path().join("x").to_str().unwrap()])
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        all_text(&o).contains("JOB_COMPLETION_INDEX"),
        "{}",
        all_text(&o)
    );

    let out = dir.path().join("env");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["run", smoke.to_str().unwrap(), "--quiet"])
        .args(["--out", out.to_str().unwrap()])
        .env("REACTBENCH_SHARD", "1/2")
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(json(out.join("summary.json"))["shard"]["index"], 1);

    let o = bench(&["run", smoke.to_str().unwrap(), "--shard", "2/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(all_text(&o).contains("0 to 1"), "{}", all_text(&o));
}

/// The YAML documents of a file, each checked to be a Kubernetes object or a workflow.
fn yaml(path: &Path) -> Vec<yaml_rust2::Yaml> {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!docs.is_empty(), "{}", path.display());
    docs
}

#[test]
fn kubernetes_pods_run_the_command_of_the_local_script() {
    let k8s = repo().join("deploy/kubernetes");
    for f in [
        "configmap.yaml",
        "pvc.yaml",
        "job.yaml",
        "merge-job.yaml",
        "mock-server.yaml",
    ] {
        for doc in yaml(&k8s.join(f)) {
            assert!(doc["apiVersion"].as_str().is_some(), "{f}");
            assert!(doc["kind"].as_str().is_some(), "{f}");
        }
    }
    let workflow = &yaml(&repo().join("examples/github-actions-sharded.yml"))[0];
    assert!(
        workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]
            .as_vec()
            .is_some()
    );

    // The ConfigMap's example scenario is one bench accepts.
    let config = &yaml(&k8s.join("configmap.yaml"))[0];
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "scenario.toml",
        config["data"]["scenario.toml"].as_str().unwrap(),
    );
    ok(&bench(&["validate", scenario.to_str().unwrap()]));

    let job = &yaml(&k8s.join("job.yaml"))[0];
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    assert_eq!(job["spec"]["parallelism"], job["spec"]["completions"]);
    let pod_args: Vec<String> = job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();

    // scripts/shards-local.sh's POD_ARGS, with its shell variables written as Kubernetes
    // writes them ($(NAME)) and its report folder as the pods' volume.
    let script = std::fs::read_to_string(repo().join("scripts/shards-local.sh")).unwrap();
    let line = script
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("POD_ARGS=("))
        .and_then(|l| l.strip_suffix(')'))
        .expect("scripts/shards-local.sh sets POD_ARGS=(...)");
    let var = regex::Regex::new(r"\$([A-Z_]+)").unwrap();
    let local_args: Vec<String> = line
        .split_whitespace()
        .map(|t| {
            let t = t
                .trim_matches('"')
                .replace("$REPORTS", "/reports/$(RUN_ID)");
            var.replace_all(&t, "$$($1)").into_owned()
        })
        .collect();
    assert_eq!(local_args, pod_args);

    // The merge Job merges what the shards wrote.
    let merge_job = &yaml(&k8s.join("merge-job.yaml"))[0];
    let merge_args: Vec<&str> = merge_job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        merge_args[..3],
        ["merge", "/reports/$(RUN_ID)/merged", "/reports/$(RUN_ID)"]
    );
}
