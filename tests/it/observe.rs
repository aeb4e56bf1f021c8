//! Observability end to end: the mock's `GET /metrics` against its own `/mock/stats`; a run that
//! scrapes it (rows, plot, summary keys usable by gates, token reconciliation to zero); servers
//! whose metrics page is garbage, missing, hung or closed, which change none of the run's
//! figures; and `--metrics-addr`, read while the run holds its last figures.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use prom_text_format_parser::{Type, ValueType, parse_scrape};
use serde_json::Value;

use crate::run::{json, ok, run, scenario, u};
use crate::support::bench;

/// A deterministic scenario (fixed conversations, fast mock); `endpoint_extra` goes into
/// `[endpoint]`, `tail` at the end.
fn fixed(endpoint_extra: &str, tail: &str) -> String {
    format!(
        r#"
name = "observe"
seed = 11
conversations_per_user = 5
grace = "20s"

[endpoint]
kind = "mock"
timeout = "3s"
{endpoint_extra}

[mock]
seed = 11

[mock.models.default]
ttft = "20ms"
per_token = "1ms"
jitter = "none"
completion_tokens = "10..=40"

[mock.faults]
rate_limit = 0.05
server_error = 0.03
retry_after = "10ms"

[load]
users = 4
think_time = "20ms"
turns_per_session = "1..=2"

[agent]
model = "gpt-4.1"
fallback = ["gpt-4o-mini"]
protocol = "native"
stream = true
max_tokens = 300
retry = {{ max_retries = 2, base_delay = "5ms", max_delay = "20ms" }}

[[workload]]
prompts = [
    "What is 12 times 34?",
    "Look up order 48213 and tell me when it will be delivered.",
    "Search for the opening hours of the city library.",
]
{tail}
"#
    )
}

/// One HTTP/1.1 request on a fresh connection; the whole reply (head and body).
fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

fn get_body(addr: &str, path: &str) -> String {
    let reply = http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
    );
    let (head, body) = reply.split_once("\r\n\r\n").expect("a reply");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// Samples of a page parsed by the Prometheus text-format parser crate: (series name with its
/// `_sum`/`_count`/`_bucket` role, labels, value). The page must parse without an error.
fn samples(page: &str) -> Vec<(String, String, f64)> {
    let (metrics, err) = parse_scrape(page);
    assert!(err.is_none(), "{err:?}\n{page}");
    let mut out = Vec::new();
    for m in metrics {
        for s in &m.samples {
            let name = match (m.kind, s.value.value_type) {
                (_, ValueType::Sum) => format!("{}_sum", m.name),
                (_, ValueType::Count) => format!("{}_count", m.name),
                (Type::Histogram, ValueType::Sample) => format!("{}_bucket", m.name),
                _ => m.name.clone(),
            };
            out.push((name, s.labels.to_string(), s.value.value.as_f64()));
        }
    }
    out
}

fn value(samples: &[(String, String, f64)], name: &str, label: &str) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| n == name && l.contains(label))
        .map(|s| s.2)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_metrics_parse_and_equal_mock_stats() {
    let config: mock_server::MockConfig = toml::from_str(
        r#"
seed = 3
[models.default]
ttft = "2ms"
per_token = "0ms"
jitter = "none"
completion_tokens = "5..=30"
[faults]
rate_limit = 0.1
server_error = 0.1
"#,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = mock_server::serve(listener, config).await.unwrap();
    let addr = handle.addr().to_string();
    let a = addr.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..60 {
            let model = ["gpt-4.1", "gpt-4o-mini", "deepseek-v3.2"][i % 3];
            let stream = i % 2 == 0;
            let body = format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"question {i}"}}],"stream":{stream},"stream_options":{{"include_usage":true}}}}"#
            );
            let reply = http(
                &a,
                &format!(
                    "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                ),
            );
            assert!(reply.starts_with("HTTP/1.1 "), "{reply}");
        }
    })
    .await
    .unwrap();
    let a = addr.clone();
    let (page, stats) = tokio::task::spawn_blocking(move || {
        (get_body(&a, "/metrics"), get_body(&a, "/mock/stats"))
    })
    .await
    .unwrap();
    let stats: Value = serde_json::from_str(&stats).unwrap();
    let s = samples(&page);
    let mut ok_total = 0;
    for model in ["gpt-4.1", "gpt-4o-mini", "deepseek-v3.2"] {
        let label = format!("model_name=\"{model}\"");
        let t = &stats["tokens_by_model"][model];
        assert_eq!(
            value(&s, "vllm:prompt_tokens_total", &label),
            u(&t["prompt_tokens"]) as f64,
            "{model}"
        );
        assert_eq!(
            value(&s, "vllm:generation_tokens_total", &label),
            u(&t["completion_tokens"]) as f64,
            "{model}"
        );
        let ok = u(&stats["by_model_status"][model]["200"]);
        assert_eq!(value(&s, "vllm:request_success_total", &label), ok as f64);
        ok_total += ok;
    }
    // Faults happened, so success is not simply every request.
    assert!(ok_total < u(&stats["requests_total"]), "{stats}");
    // Every 200 reply is in both histograms, once; nothing is running any more.
    assert_eq!(
        value(&s, "vllm:time_to_first_token_seconds_count", ""),
        ok_total as f64
    );
    assert_eq!(
        value(&s, "vllm:e2e_request_latency_seconds_count", ""),
        ok_total as f64
    );
    assert_eq!(
        value(&s, "vllm:e2e_request_latency_seconds_bucket", "le=\"+Inf\""),
        ok_total as f64
    );
    assert_eq!(value(&s, "vllm:num_requests_running", ""), 0.0);
    assert_eq!(value(&s, "vllm:num_requests_waiting", ""), 0.0);
    handle.shutdown().await;
}

#[test]
fn a_run_scrapes_the_mock_and_reconciles_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "scraped",
        &fixed(
            "metrics_url = \"mock\"\nmetrics_interval = \"100ms\"",
            "[thresholds]\n\"server.vllm:num_requests_waiting.max\" = \"< 1\"\n\"server.vllm:request_success_total.increase\" = \"> 0\"\n",
        ),
    );
    let out_dir = dir.path().join("out");
    let out = run(&path, &out_dir, &[]);
    ok(&out);
    let s = json(out_dir.join("summary.json"));
    let m = json(out_dir.join("mock_stats.json"));
    let server = &s["server"];
    assert_eq!(server["source"], "embedded mock");
    assert_eq!(u(&server["scrapes"]["failed"]), 0, "{server}");
    assert!(u(&server["scrapes"]["ok"]) >= 3, "{server}");
    // The server's token counters over the run are exactly the run's own.
    let tokens = &server["tokens"];
    assert_eq!(tokens["prompt_metric"], "vllm:prompt_tokens_total");
    assert_eq!(tokens["prompt_difference"].as_f64(), Some(0.0), "{tokens}");
    assert_eq!(
        tokens["generation_difference"].as_f64(),
        Some(0.0),
        "{tokens}"
    );
    assert_eq!(
        tokens["server_prompt"].as_f64(),
        Some(u(&s["tokens"]["prompt"]) as f64)
    );
    // The success counter's increase is the mock's count of 200 replies.
    assert_eq!(
        server["vllm:request_success_total"]["increase"].as_f64(),
        Some(u(&m["by_status"]["200"]) as f64),
        "{server}"
    );
    assert_eq!(server["vllm:num_requests_running"]["kind"], "gauge");
    // Gates read the server's keys.
    let thresholds = s["thresholds"].as_array().unwrap();
    assert_eq!(thresholds.len(), 2);
    assert!(
        thresholds.iter().all(|t| t["passed"] == true),
        "{thresholds:?}"
    );
    // The rows: one per series per scrape, with the documented columns.
    let csv = std::fs::read_to_string(out_dir.join("server_metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("elapsed_s,metric,labels,kind,value"));
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter()
            .filter(|r| r.contains(",vllm:num_requests_running,"))
            .count()
            >= 3
    );
    assert!(rows.iter().any(
        |r| r.contains("vllm:prompt_tokens_total") && r.contains("model_name=\"\"gpt-4.1\"\"")
    ));
    // The plot and the page.
    assert!(
        std::fs::metadata(out_dir.join("server_metrics.png"))
            .unwrap()
            .len()
            > 5000
    );
    let page = std::fs::read_to_string(out_dir.join("index.html")).unwrap();
    assert!(page.contains("Server metrics"), "the page shows them");
    // `bench report` draws them again from the files.
    let again = bench(&["report", out_dir.to_str().unwrap()]);
    ok(&again);
    assert!(out_dir.join("server_metrics.png").is_file());
}

/// What a broken metrics endpoint does with each connection.
#[derive(Clone, Copy, Debug)]
enum Broken {
    /// 200 with an HTML page.
    Garbage,
    /// 404.
    NotFound,
    /// Reads the request and never answers (until the test ends).
    Hang,
}

/// A loopback server that is a broken metrics page, until `stop` (or 60 s).
fn broken_server(kind: Broken, stop: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let reply: &[u8] = match kind {
                    Broken::Garbage => b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 38\r\n\r\n<html><body>It works!</body></html>\n\n\n",
                    Broken::NotFound => b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found",
                    Broken::Hang => {
                        let until = Instant::now() + Duration::from_secs(30);
                        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        return;
                    }
                };
                let _ = s.write_all(reply);
            });
        }
    });
    addr
}

/// The figures of a run that depend only on the seed (what the agent did, never timings).
fn figures(s: &Value) -> Vec<(String, Value)> {
    [
        ("conversation", "count"),
        ("conversation", "by_outcome"),
        ("llm_call", "count"),
        ("llm_call", "retries"),
        ("attempt", "count"),
        ("tokens", "prompt"),
        ("tokens", "completion"),
        ("cost", "usd_total"),
    ]
    .iter()
    .map(|(a, b)| (format!("{a}.{b}"), s[a][b].clone()))
    .collect()
}

#[test]
fn a_broken_metrics_page_changes_nothing_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let base_path = scenario(dir.path(), "base", &fixed("", ""));
    let base_out = dir.path().join("base");
    ok(&run(&base_path, &base_out, &[]));
    let base = json(base_out.join("summary.json"));
    assert!(base.get("server").is_none(), "no scrape, no section");

    // A port with nothing behind it.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let cases = [
        (format!("http://{closed}/metrics"), "connect"),
        (
            format!(
                "http://{}/metrics",
                broken_server(Broken::Garbage, Arc::clone(&stop))
            ),
            "parse",
        ),
        (
            format!(
                "http://{}/metrics",
                broken_server(Broken::NotFound, Arc::clone(&stop))
            ),
            "status",
        ),
        (
            format!(
                "http://{}/metrics",
                broken_server(Broken::Hang, Arc::clone(&stop))
            ),
            "timeout",
        ),
    ];
    for (i, (url, kind)) in cases.iter().enumerate() {
        let path = scenario(
            dir.path(),
            &format!("broken{i}"),
            &fixed(
                &format!("metrics_url = \"{url}\"\nmetrics_interval = \"400ms\""),
                "",
            ),
        );
        let out_dir = dir.path().join(format!("broken{i}"));
        let out = run(&path, &out_dir, &[]);
        ok(&out);
        let s = json(out_dir.join("summary.json"));
        assert_eq!(figures(&s), figures(&base), "{kind}: the run's figures");
        let scrapes = &s["server"]["scrapes"];
        assert_eq!(u(&scrapes["ok"]), 0, "{kind}: {scrapes}");
        assert!(u(&scrapes["failed"]) >= 2, "{kind}: {scrapes}");
        // Mostly of its own kind; on a loaded machine a scrape of any of them may also run
        // past its timeout first.
        let own = u(&scrapes["by_kind"][kind]);
        assert!(own * 2 >= u(&scrapes["failed"]), "{kind}: {scrapes}");
        let other: u64 = scrapes["by_kind"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != kind && *k != "timeout" && *k != "connect")
            .map(|(_, v)| u(v))
            .sum();
        assert_eq!(other, 0, "{kind}: {scrapes}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("scrapes of the server's metrics"),
            "{kind}: told on stderr: {stderr}"
        );
        assert!(s["server"].get("tokens").is_none());
    }
    stop.store(true, Ordering::Relaxed);
}

/// A port free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn metrics_addr_serves_the_run_live_and_its_final_figures() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "live", &fixed("", ""));
    let out_dir = dir.path().join("out");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "run",
            path.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--quiet",
            "--metrics-addr",
            &addr,
            "--metrics-hold",
            "3s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut pages = Vec::new();
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if let Ok(mut s) = TcpStream::connect(&addr) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            let mut reply = Vec::new();
            let _ = s.read_to_end(&mut reply);
            let reply = String::from_utf8_lossy(&reply).into_owned();
            if let Some((head, body)) = reply.split_once("\r\n\r\n")
                && head.starts_with("HTTP/1.1 200")
            {
                pages.push(body.to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(pages.len() >= 5, "the page was served: {}", pages.len());
    let s = json(out_dir.join("summary.json"));
    let last = samples(pages.last().unwrap());
    // The last page (served while the run held its end) has the run's final figures.
    assert_eq!(
        value(&last, "reactbench_llm_calls_total", "scenario=\"observe\""),
        u(&s["llm_call"]["count"]) as f64
    );
    assert_eq!(
        value(&last, "reactbench_llm_call_duration_seconds_count", ""),
        u(&s["llm_call"]["count"]) as f64
    );
    assert_eq!(
        value(&last, "reactbench_tokens_total", "kind=\"prompt\""),
        u(&s["tokens"]["prompt"]) as f64
    );
    assert_eq!(
        value(&last, "reactbench_conversations_total", ""),
        u(&s["conversation"]["count"]) as f64
    );
    assert_eq!(
        value(&last, "reactbench_retries_total", ""),
        u(&s["llm_call"]["retries"]) as f64
    );
    let usd = value(&last, "reactbench_cost_usd_total", "");
    assert!(
        (usd - s["cost"]["usd_total"].as_f64().unwrap()).abs() < 1e-9,
        "{usd}"
    );
    assert!(last.iter().any(|(n, l, _)| n == "reactbench_breaker_state"
        && l.contains("gpt-4.1")
        && l.contains("shard=\"0/1\"")));
    // Earlier pages counted less: the page was live.
    let first = samples(&pages[0]);
    assert!(
        value(&first, "reactbench_llm_calls_total", "")
            <= value(&last, "reactbench_llm_calls_total", "")
    );
}

#[test]
fn metrics_addr_in_use_is_refused_before_the_run() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "busy", &fixed("", ""));
    let out_dir = dir.path().join("out");
    let out = run(&path, &out_dir, &["--metrics-addr", &addr]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--metrics-addr") && stderr.contains(&addr),
        "{stderr}"
    );
    assert!(!out_dir.join("summary.json").exists());
}
