//! Capacity planning: `[slo]` goodput and attainment checked by hand against the CSVs, and
//! `bench sweep` against a mock with a known capacity.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::run::{json, run};
use crate::support::{all_text, write};

fn ok(o: &std::process::Output) {
    assert_eq!(o.status.code(), Some(0), "{}", all_text(o));
}

/// Rows of a CSV file as maps of column to cell.
fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            h.iter()
                .zip(rec.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn attainment_and_goodput_equal_a_count_by_hand_and_failures_are_never_good() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "slo.toml",
        r#"name = "slo by hand"
seed = 5
conversations_per_user = 6
grace = "2s"
[endpoint]
kind = "mock"
[mock]
seed = 5
[mock.faults]
server_error = 0.25
[mock.models.default]
ttft = "2ms"
per_token = "1ms"
jitter = "uniform"
jitter_ratio = 0.9
completion_tokens = "5..=40"
[load]
users = 5
ramp_up = "0s"
think_time = "0ms"
turns_per_session = "1"
[agent]
model = "gpt-4.1"
protocol = "native"
stream = true
retry = { max_retries = 0 }
[[workload]]
prompts = ["What is 12 times 34?", "Look up order 48213.", "Hello there"]
[slo]
conversation_latency = "< 5s"
llm_call_latency = "<= 3s"
cost_per_conversation = "< 0.0012"
[report]
plots = false
html = false
"#,
    );
    let out = dir.path().join("r");
    ok(&run(&path, &out, &[]));
    let s = json(out.join("summary.json"));
    let slo = &s["slo"];

    // By hand: a conversation is good when it answered, took under 5 s, cost under
    // $0.0012 and each of its calls took at most 3 s (loose latency bounds: the mix comes from
    // the injected failures and the cost bound, whatever the machine's speed).
    let calls = rows(&out.join("calls.csv"));
    let mut slow_calls: HashMap<String, bool> = HashMap::new();
    for c in &calls {
        let slow = c["latency_ms"].parse::<f64>().unwrap() > 3000.0;
        *slow_calls.entry(c["conversation_id"].clone()).or_default() |= slow;
    }
    let convs = rows(&out.join("conversations.csv"));
    let good = |c: &HashMap<String, String>| {
        c["outcome"] == "answered"
            && c["latency_ms"].parse::<f64>().unwrap() < 5000.0
            && c["cost_usd"].parse::<f64>().unwrap() < 0.0012
            && !slow_calls
                .get(&c["conversation_id"])
                .copied()
                .unwrap_or(false)
    };
    let by_hand = convs.iter().filter(|c| good(c)).count() as u64;
    assert_eq!(slo["conversations"], convs.len() as u64);
    assert_eq!(slo["good"], by_hand);
    assert!(by_hand > 0 && by_hand < convs.len() as u64, "a mix: {slo}");
    let attainment = by_hand as f64 / convs.len() as f64;
    assert!((slo["attainment"].as_f64().unwrap() - attainment).abs() < 1e-12);
    let duration = s["run"]["duration_s"].as_f64().unwrap();
    let goodput = slo["goodput_per_second"].as_f64().unwrap();
    assert!(
        (goodput - by_hand as f64 / duration).abs() < 1e-9,
        "{goodput}"
    );
    let (lo, hi) = (
        slo["attainment_low"].as_f64().unwrap(),
        slo["attainment_high"].as_f64().unwrap(),
    );
    assert!(lo < attainment && attainment < hi, "{lo} {attainment} {hi}");

    // Failed conversations were fast (an error answers at once) but none is good.
    let failed: Vec<_> = convs.iter().filter(|c| c["outcome"] == "failed").collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .any(|c| c["latency_ms"].parse::<f64>().unwrap() < 5000.0),
        "a fast failure exists"
    );
    let missed_outcome = slo["missed"]["outcome"].as_f64().unwrap();
    let not_answered = convs.iter().filter(|c| c["outcome"] != "answered").count();
    assert!((missed_outcome - not_answered as f64 / convs.len() as f64).abs() < 1e-12);

    // Thresholds read the section.
    let gated = write(
        dir.path(),
        "gated.toml",
        &std::fs::read_to_string(&path).unwrap().replace(
            "[report]",
            "[thresholds]\n\"slo.attainment\" = \"> 0.999\"\n[report]",
        ),
    );
    let o = run(&gated, &dir.path().join("g"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", all_text(&o));
    let g: Value = json(dir.path().join("g/summary.json"));
    assert_eq!(g["thresholds"][0]["metric"], "slo.attainment");
    assert_eq!(g["thresholds"][0]["passed"], false);
}

#[test]
fn bad_slo_and_sweep_keys_name_the_key_value_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let base =
        std::fs::read_to_string(crate::support::repo().join("scenarios/smoke.toml")).unwrap();
    let cases = [
        ("[slo]\nttft = \"1s\"\n", "slo.ttft", "< or <="),
        (
            "[slo]\nconversation_latency = \"< soon\"\n",
            "slo.conversation_latency",
            "duration",
        ),
        ("[slo]\noutcome = [\"fine\"]\n", "slo.outcome", "answered"),
        (
            "[slo]\ncost_per_conversation = \"< -1\"\n",
            "slo.cost_per_conversation",
            "dollars",
        ),
        ("[slo]\nlatency = \"< 1s\"\n", "latency", "slo"),
        ("[sweep]\ntarget = 1.5\n", "sweep.target", "between 0 and 1"),
        ("[sweep]\nfactor = 1.0\n", "sweep.factor", "above 1"),
    ];
    for (i, (table, key, hint)) in cases.iter().enumerate() {
        let path = write(
            dir.path(),
            &format!("bad{i}.toml"),
            &format!("{base}\n{table}"),
        );
        let o = crate::support::bench(&["validate", path.to_str().unwrap()]);
        let text = all_text(&o);
        assert_eq!(o.status.code(), Some(2), "{table}: {text}");
        assert!(text.contains(key) && text.contains(hint), "{table}: {text}");
    }
}

/// A scenario whose one mock model serves 8 requests at once, 100 ms each, one call per
/// conversation, with an SLO just above the service time.
fn saturating(dir: &Path, extra: &str) -> std::path::PathBuf {
    write(
        dir,
        "sweep.toml",
        &format!(
            r#"name = "sweep test"
seed = 3
duration = "2s"
grace = "5s"
[endpoint]
kind = "mock"
[mock]
seed = 3
script = {{ tool_steps = "0..=0" }}
[mock.models.default]
ttft = "100ms"
per_token = "0ms"
jitter = "none"
completion_tokens = "10..=10"
max_concurrency = 8
[load]
users = 4
ramp_up = "0s"
think_time = "0ms"
turns_per_session = "1"
[agent]
model = "gpt-4.1"
protocol = "native"
stream = true
retry = {{ max_retries = 0 }}
sessions = {{ rate_limit = "1000000/s", max_sessions = 100000 }}
[[workload]]
prompts = ["What is the capital of Vietnam?"]
[slo]
conversation_latency = "< 140ms"
[sweep]
target = 0.9
start = 4
resolution = 2
warm_up = "500ms"
max_steps = 10
[report]
plots = false
html = false
{extra}
"#
        ),
    )
}

#[test]
fn a_sweep_finds_the_concurrency_of_a_saturating_mock_and_gates_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = saturating(dir.path(), "[thresholds]\n\"sweep.max_users\" = \"> 20\"\n");
    let out = dir.path().join("sweep");
    let o = crate::support::bench(&[
        "sweep",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // The threshold asks for more than the mock can serve: exit 1, after a full report.
    assert_eq!(o.status.code(), Some(1), "{}", all_text(&o));
    let text = all_text(&o);
    assert!(
        text.contains("highest load meeting the SLO: 8 users"),
        "{text}"
    );
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(s["interrupted"], false);
    let m = &s["models"][0];
    // Within one resolution step (2 users) of the 8 places.
    let best = m["best"]["load"].as_f64().unwrap();
    assert_eq!(best, 8.0, "{m}");
    let steps = m["steps"].as_array().unwrap();
    assert!(steps.len() <= 10, "bounded: {}", steps.len());
    // Every step above the concurrency missed; none is called a pass on luck.
    for st in steps {
        let load = st["load"].as_f64().unwrap();
        let verdict = st["verdict"].as_str().unwrap();
        if load > 8.0 {
            assert_ne!(verdict, "pass", "{st}");
        }
        if verdict == "pass" {
            assert!(st["attainment_low"].as_f64().unwrap() >= 0.9, "{st}");
        }
        for d in st["dirs"].as_array().unwrap() {
            assert!(
                Path::new(d.as_str().unwrap())
                    .join("summary.json")
                    .is_file()
            );
        }
    }
    let rows = rows(&out.join("sweep.csv"));
    assert_eq!(rows.len(), steps.len());
    for f in [
        "sweep_attainment.png",
        "sweep_goodput.png",
        "sweep_latency.png",
        "sweep_cost.png",
        "index.html",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

#[test]
fn an_interrupted_sweep_keeps_its_finished_steps_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = saturating(dir.path(), "");
    let out = dir.path().join("sweep");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "sweep",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until a step has finished, then Ctrl-C.
    let json_path = out.join("sweep.json");
    let mut finished = 0;
    for _ in 0..300 {
        if let Ok(text) = std::fs::read_to_string(&json_path)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
        {
            finished = v["models"][0]["steps"].as_array().map_or(0, Vec::len);
            if finished >= 1 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(finished >= 1, "a step finished within 30 s");
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", all_text(&o));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(v["interrupted"], true);
    let steps = v["models"][0]["steps"].as_array().unwrap();
    assert!(steps.len() >= finished, "{v}");
    for st in steps {
        for d in st["dirs"].as_array().unwrap() {
            assert!(
                Path::new(d.as_str().unwrap())
                    .join("summary.json")
                    .is_file()
            );
        }
    }
    assert!(out.join("index.html").is_file());
}
