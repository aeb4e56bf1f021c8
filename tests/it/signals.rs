//! How `bench run` ends when it is told to stop: SIGTERM once (as CI runners and Kubernetes
//! stop a job) finishes like Ctrl-C and leaves a complete report that reconciles with the mock;
//! a second signal cuts at once and still writes the report; SIGKILL leaves the streamed rows
//! and a checkpoint of the summary readable. Each run is bounded (killed if it overstays).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::run::{json, reconcile, scenario, u};

/// Exit code of an interrupted run.
const EXIT_INTERRUPTED: i32 = 3;

/// A closed-model run that goes on for a minute unless stopped; `ttft` is the mock's latency.
fn long_run(ttft: &str, grace: &str, extra: &str) -> String {
    format!(
        r#"
name = "signals"
seed = 3
duration = "60s"
grace = "{grace}"
[endpoint]
kind = "mock"
[mock.models.default]
ttft = "{ttft}"
per_token = "0ms"
jitter = "none"
completion_tokens = "5..=20"
[load]
users = 4
think_time = "0s..5ms"
[agent]
model = "gpt-4.1"
stream = false
[[workload]]
prompts = ["What is 12 times 34?", "Search for the opening hours of the city library."]
{extra}
"#
    )
}

fn spawn(path: &Path, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "run",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .arg("--quiet")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bench starts")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name}");
}

/// Waits until the run has started sending (its streamed CSV exists, under a temporary
/// name), then `settle` longer.
fn wait_started(out: &Path, settle: Duration) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while temp_files(out).is_empty() {
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(settle);
}

/// Waits for the process to end, at most `limit` (then kills it and fails).
fn wait_bounded(child: &mut Child, limit: Duration) -> (ExitStatus, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            return (status, stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bench did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Hidden temporary files (`.<name>.tmp-<pid>-<n>`) in `dir`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
        })
        .collect()
}

fn complete_report(out: &Path, stderr: &str) {
    for f in [
        "summary.json",
        "calls.csv",
        "conversations.csv",
        "mock_stats.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing; stderr:\n{stderr}");
    }
    assert!(
        temp_files(out).is_empty(),
        "temp files left: {:?}",
        temp_files(out)
    );
    assert!(
        !out.join("summary.partial.json").exists(),
        "the final summary replaces the checkpoint"
    );
}

#[test]
fn sigterm_once_finishes_in_flight_work_and_writes_a_complete_report() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), "term", &long_run("20ms", "10s", ""));
    let out = tmp.path().join("run");
    let mut child = spawn(&path, &out);
    wait_started(&out, Duration::from_millis(700));
    signal(&child, "TERM");
    let (status, stderr) = wait_bounded(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(EXIT_INTERRUPTED), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    complete_report(&out, &stderr);
    let (s, _) = reconcile(&out);
    assert_eq!(s["run"]["interrupted"], true);
    // Stopped gracefully: the conversations in flight were allowed to finish.
    assert_eq!(u(&s["conversation"]["by_outcome"]["interrupted"]), 0);
    assert!(u(&s["conversation"]["count"]) > 0);
}

#[test]
fn a_second_signal_cuts_at_once_and_still_writes_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    // The server never answers within the run; the grace period is far longer than the test.
    let text = long_run("30s", "60s", "[limits]\nexpect_no_success = true\n");
    let path = scenario(tmp.path(), "int2", &text);
    let out = tmp.path().join("run");
    let mut child = spawn(&path, &out);
    wait_started(&out, Duration::from_millis(300));
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "INT");
    let (status, stderr) = wait_bounded(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(EXIT_INTERRUPTED), "{stderr}");
    complete_report(&out, &stderr);
    let (s, m) = reconcile(&out);
    // Every request the server saw is an attempt in the report, cut.
    assert_eq!(u(&m["requests_total"]), 4);
    assert_eq!(u(&s["attempt"]["by_error_class"]["interrupted"]), 4);
    assert_eq!(u(&s["conversation"]["by_outcome"]["interrupted"]), 4);
    assert_eq!(s["run"]["interrupted"], true);
}

#[test]
fn sigkill_leaves_readable_rows_and_a_partial_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), "kill", &long_run("5ms", "10s", ""));
    let out = tmp.path().join("run");
    let mut child = spawn(&path, &out);
    // Past the first summary checkpoint (every 3 s).
    wait_started(&out, Duration::from_millis(4000));
    signal(&child, "KILL");
    let (status, _) = wait_bounded(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), None, "killed by a signal");
    assert!(!out.join("summary.json").exists());
    let partial = json(out.join("summary.partial.json"));
    assert_eq!(partial["run"]["interrupted"], true);
    let conversations = u(&partial["conversation"]["count"]);
    assert!(conversations > 0, "{}", partial["conversation"]);
    // The streamed rows are on disk (under their temporary names) up to the last flush, at
    // least as many as the checkpoint counted.
    let temps = temp_files(&out);
    let rows = |name: &str| -> usize {
        let file = temps
            .iter()
            .find(|p| p.to_string_lossy().contains(name))
            .unwrap_or_else(|| panic!("no {name} in {temps:?}"));
        let text = std::fs::read_to_string(file).unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        reader.records().filter_map(Result::ok).count()
    };
    assert!(rows("conversations.csv") as u64 >= conversations);
    assert!(rows("calls.csv") > 0);
}
