//! `bench compare` on run directories written from hand-built runs: identical runs pass, a
//! doubled latency and a dearer model fail with their rows marked, small changes stay under
//! the floor, and latency percentiles come from the histogram logs, not summary.json.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use reactbench::chat::Usage;
use reactbench::metrics::{Aggregator, LoadReport, RunEnd, RunMetrics};
use reactbench::pricing::{ModelPrice, PriceTable};
use reactbench::record::{AttemptRecord, CallRecord, ConversationRecord, Outcome};
use reactbench::report::compare::{
    self, CompareOptions, Direction, Source, Verdict, judge, metric_from_histograms,
};
use reactbench::report::hlog::{HLOG_FILE as HISTOGRAM_LOG, log_histograms};
use reactbench::report::summary::Summary;
use tokio::time::Instant;

use crate::metrics::{info, sample_run};

/// gpt-4.1 at 2 / 0.5 / 8 USD per million tokens, scaled by `factor` (a dearer model).
fn prices(factor: f64) -> PriceTable {
    let mut models = BTreeMap::new();
    models.insert(
        "gpt-4.1".to_string(),
        ModelPrice {
            input_usd_per_mtok: 2.0 * factor,
            cached_input_usd_per_mtok: 0.5 * factor,
            output_usd_per_mtok: 8.0 * factor,
            context_window: None,
            provider: None,
            notes: None,
        },
    );
    PriceTable {
        models,
        ..Default::default()
    }
}

/// A run of 200 one-call conversations whose latencies are `base_us(i) * scale`, priced from
/// `prices`. Tokens do not depend on the scale, so only latency (and throughput) moves.
fn run(scale: u64, base_us: impl Fn(u64) -> u64, prices: PriceTable) -> RunMetrics {
    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, prices);
    for i in 0..200u64 {
        let started = t0 + Duration::from_millis(i * 50);
        let latency = Duration::from_micros(base_us(i) * scale);
        let call = CallRecord {
            step: 1,
            model_asked: "gpt-4.1".to_string(),
            model_answered: Some("gpt-4.1".to_string()),
            attempts: vec![AttemptRecord {
                model: "gpt-4.1".to_string(),
                started,
                latency,
                status: Some(200),
                error: None,
                backoff: Duration::ZERO,
            }],
            started,
            latency,
            status: Some(200),
            error: None,
            ttft: Some(latency / 4),
            ttft_answer: Some(latency / 4),
            finish_reason: None,
            stream_ignored: false,
            inter_chunk_gaps_us: vec![1_000, 2_000],
            usage: Usage::billed(1_000 + i, 0, 100 + i % 50),
            fallback: false,
            prompt: Default::default(),
        };
        agg.record(&ConversationRecord {
            conversation_id: i,
            user_id: i % 10,
            turn: 1,
            started,
            intended_start: None,
            latency,
            outcome: Outcome::Answered,
            steps: 1,
            calls: vec![call],
            tools: Vec::new(),
            sanitizer_threats: Vec::new(),
            guard: None,
            budget_warning: false,
            session_wait: None,
            error_detail: None,
        });
    }
    agg.finish(RunEnd {
        ended: t0 + Duration::from_secs(10),
        interrupted: false,
        breaker_transitions: Vec::new(),
        load: LoadReport::default(),
        session_evictions: 0,
        local_rate_limit_rejections: 0,
    })
}

/// Latencies spread over 100..500 ms.
fn spread(i: u64) -> u64 {
    100_000 + (i * 37 % 400) * 1_000 + i % 7
}

/// Writes a run directory: summary.json, summary.md, the CSVs and histograms.hlog (one writer
/// for all of them, as `bench run` uses).
fn write_run(dir: &Path, m: &RunMetrics) {
    std::fs::create_dir_all(dir).expect("mkdir");
    reactbench::report::write_metric_files(dir, m).expect("write metric files");
}

fn bench(args: &[&str]) -> Output {
    let mut all = vec!["compare"];
    all.extend_from_slice(args);
    crate::support::bench(&all)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The Markdown line of one metric's row (its first cell, marks stripped, is the metric).
fn md_row<'a>(md: &'a str, metric: &str) -> &'a str {
    md.lines()
        .find(|l| {
            l.split(" | ").next().is_some_and(|cell| {
                cell.trim_start_matches("| ")
                    .trim_start_matches("❌ ")
                    .trim_matches('*')
                    == metric
            })
        })
        .unwrap_or_else(|| panic!("no row for {metric} in\n{md}"))
}

#[test]
fn identical_runs_exit_0() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_run(&a, &run(1, spread, prices(1.0)));
    write_run(&b, &run(1, spread, prices(1.0)));
    let out = bench(&[path(&a), path(&b)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("no regression beyond tolerance"),
        "{stdout}"
    );
    assert!(stdout.contains("llm_call.latency_ms.p95"), "{stdout}");
    assert!(!stdout.contains("REGRESSED"), "{stdout}");
    // Summary files work as well as directories.
    let out = bench(&[
        path(&a.join("summary.json")),
        path(&b.join("summary.json")),
        "--format",
        "markdown",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("✅ no regression"));
}

#[test]
fn doubled_latency_exits_1_with_the_latency_rows_marked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_run(&a, &run(1, spread, prices(1.0)));
    write_run(&b, &run(2, spread, prices(1.0)));
    let out = bench(&[path(&a), path(&b), "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let md = text(&out.stdout);
    assert!(md.contains("### reactbench: ❌"), "{md}");
    let row = md_row(&md, "llm_call.latency_ms.p95");
    assert!(row.starts_with("| ❌ **llm_call.latency_ms.p95**"), "{row}");
    assert!(row.contains("❌ **REGRESSED**"), "{row}");
    assert!(row.contains("+100.0%"), "{row}");
    assert!(md_row(&md, "conversation.latency_ms.p99").contains("REGRESSED"));
    // Same tokens and prices: cost rows are unchanged and unmarked.
    let cost = md_row(&md, "cost.usd_per_conversation");
    assert!(cost.starts_with("| cost.usd_per_conversation |"), "{cost}");
    assert!(cost.contains("| same |"), "{cost}");
    // The text table says the same, and exits the same.
    let out = bench(&[path(&a), path(&b)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("regressions beyond tolerance"));
}

#[test]
fn a_dearer_model_is_caught_by_a_one_percent_cost_tolerance() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    write_run(&a, &run(1, spread, prices(1.0)));
    write_run(&b, &run(1, spread, prices(1.05)));
    write_run(&c, &run(1, spread, prices(1.0)));
    // Cost is deterministic for the same records: to the last bit, so a tight gate is safe.
    let sa = compare::load_run(&a).expect("a");
    let sc = compare::load_run(&c).expect("c");
    assert_eq!(
        sa.summary.cost.usd_total.to_bits(),
        sc.summary.cost.usd_total.to_bits()
    );
    let tight = ["--tolerance", "cost.usd_per_conversation=1%"];
    let out = bench(&[&[path(&a), path(&c)][..], &tight[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // 5% dearer passes the default 10% tolerance ...
    let out = bench(&[path(&a), path(&b)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // ... and fails a 1% one, on the cost row only.
    let out = bench(
        &[
            &[path(&a), path(&b), "--format", "markdown"][..],
            &tight[..],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let md = text(&out.stdout);
    let row = md_row(&md, "cost.usd_per_conversation");
    assert!(
        row.contains("❌ **REGRESSED**") && row.contains("+5.0%"),
        "{row}"
    );
    assert!(row.contains("| 1% |"), "{row}");
    assert!(md.contains("1 regression beyond tolerance"), "{md}");
    assert!(!md_row(&md, "cost.usd_total").contains("REGRESSED"));
}

#[test]
fn changes_under_the_absolute_floor_never_fail() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    // 1 ms to 2 ms: +100%, but under the 5 ms latency floor.
    write_run(&a, &run(1, |_| 1_000, prices(1.0)));
    write_run(&b, &run(2, |_| 1_000, prices(1.0)));
    let out = bench(&[path(&a), path(&b), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    let row = json["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["metric"] == "llm_call.latency_ms.p95")
        .expect("p95 row");
    assert_eq!(row["verdict"], "worse");
    assert_eq!(row["floor"], 5.0);
    // Without the floor it is a regression.
    let out = bench(&[path(&a), path(&b), "--floor", "ms=0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    // A per-metric floor overrides the unit's.
    let out = bench(&[
        path(&a),
        path(&b),
        "--floor",
        "ms=0",
        "--floor",
        "llm_call.latency_ms.p50=2",
        "--floor",
        "llm_call.latency_ms.p95=2",
        "--floor",
        "llm_call.latency_ms.p99=2",
        "--floor",
        "conversation.latency_ms.p50=2",
        "--floor",
        "conversation.latency_ms.p95=2",
        "--floor",
        "conversation.latency_ms.p99=2",
        "--floor",
        "llm_call.ttft_ms.p95=2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn latency_percentiles_come_from_the_histograms_not_rounded_summary_numbers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let base = run(1, spread, prices(1.0));
    let slower = run(1, |i| spread(i) * 6 / 5, prices(1.0));
    write_run(&a, &base);
    write_run(&b, &slower);
    // Make the baseline's summary.json read like the new one's, as if both had been rounded
    // to the same figures: only the histograms still tell the runs apart.
    let mut sa = Summary::from_metrics(&base);
    let sb = Summary::from_metrics(&slower);
    sa.llm_call.latency_ms = sb.llm_call.latency_ms;
    sa.llm_call.ttft_ms = sb.llm_call.ttft_ms;
    sa.conversation.latency_ms = sb.conversation.latency_ms;
    std::fs::write(a.join("summary.json"), sa.to_json()).expect("rewrite summary");

    let out = bench(&[path(&a), path(&b), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = |m: &str| {
        json["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["metric"] == m)
            .cloned()
            .expect("row")
    };
    let p95 = row("llm_call.latency_ms.p95");
    assert_eq!(p95["source"], "histogram");
    assert_eq!(p95["verdict"], "regressed");
    let exact = metric_from_histograms(&log_histograms(&base), "llm_call.latency_ms.p95");
    assert_eq!(p95["base"].as_f64(), exact);
    assert_eq!(row("cost.usd_total")["source"], "summary");

    // Without the baseline's log, the (identical) summary numbers are all there is.
    std::fs::remove_file(a.join(HISTOGRAM_LOG)).expect("rm log");
    let out = bench(&[path(&a), path(&b)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("only one run has histograms.hlog"));
}

#[test]
fn bad_flags_and_missing_runs_exit_2_with_a_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("a");
    write_run(&a, &run(1, spread, prices(1.0)));
    let out = bench(&[
        path(&a),
        path(&a),
        "--tolerance",
        "llm_call.latency_ms.p59=5%",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("unknown metric path"), "{err}");
    assert!(err.contains("llm_call.latency_ms.p50"), "{err}");

    let out = bench(&[path(&a), path(&a), "--tolerance", "cost.usd_total=ten"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("10%"), "{}", text(&out.stderr));

    let out = bench(&[path(&a), path(&a), "--floor", "furlongs=3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("ms, usd"),
        "{}",
        text(&out.stderr)
    );

    let missing = tmp.path().join("nope");
    let out = bench(&[path(&a), path(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("nope") && err.contains("summary.json"),
        "{err}"
    );
}

#[test]
fn an_added_metric_gets_its_own_tolerance() {
    let base = compare::RunData {
        source: "a".into(),
        summary: Summary::from_metrics(&sample_run()),
        histograms: None,
    };
    let mut worse = base.clone();
    worse.summary.llm_call.retries += 1;
    let opts = CompareOptions::from_flags(&["llm_call.retries=0%".to_string()], "10%", &[])
        .expect("valid flags");
    let c = compare::compare(&base, &worse, &opts);
    let row = c
        .rows
        .iter()
        .find(|r| r.metric == "llm_call.retries")
        .expect("added row");
    assert_eq!(row.verdict, Verdict::Regressed);
    assert_eq!(row.source, Source::Summary);
    assert!(c.regressed());
}

#[test]
fn histogram_log_names_and_metric_paths_agree_with_the_summary() {
    // Every latency statistic of summary.json, run-wide and per model, recomputed from the
    // histograms that go into the log, is exactly the summary's figure.
    let m = sample_run();
    let s = Summary::from_metrics(&m);
    let logged = log_histograms(&m);
    let mut paths: Vec<String> = Summary::metric_paths()
        .into_iter()
        .filter(|p| p.contains("_ms."))
        .collect();
    for model in m.models.keys() {
        for stat in ["p50", "p95", "p99", "max", "mean", "count"] {
            paths.push(format!("llm_call.by_model.{model}.latency_ms.{stat}"));
        }
    }
    let mut checked = 0;
    for p in &paths {
        let from_summary = s.metric(p).expect("summary has it");
        match metric_from_histograms(&logged, p) {
            Some(v) => {
                assert_eq!(v, from_summary, "{p}");
                checked += 1;
            }
            // Only empty histograms stay out of the log.
            None => assert_eq!(
                s.metric(&format!("{}.count", p.rsplit_once('.').expect("dot").0)),
                Some(0.0),
                "{p}"
            ),
        }
    }
    assert!(checked >= 50, "only {checked} paths checked");
    assert!(logged.contains_key("llm_call/deepseek-v3.2"));
}

#[test]
fn direction_decides_what_a_regression_is() {
    use Direction::{HigherIsBetter, LowerIsBetter};
    let cases = [
        (100.0, 200.0, LowerIsBetter, Verdict::Regressed),
        (200.0, 100.0, LowerIsBetter, Verdict::Better),
        (100.0, 105.0, LowerIsBetter, Verdict::Worse),
        (100.0, 100.0, LowerIsBetter, Verdict::Same),
        (50.0, 40.0, HigherIsBetter, Verdict::Regressed),
        (50.0, 60.0, HigherIsBetter, Verdict::Better),
        (0.0, 1.0, LowerIsBetter, Verdict::Regressed),
    ];
    for (base, new, dir, want) in cases {
        assert_eq!(
            judge(base, new, dir, 0.10, 0.0),
            want,
            "{base} -> {new} {dir:?}"
        );
    }
    assert_eq!(
        compare::direction("conversation.per_second"),
        HigherIsBetter
    );
    assert_eq!(
        compare::direction("load.achieved_rate_ratio"),
        HigherIsBetter
    );
    assert_eq!(compare::direction("cost.usd_total"), LowerIsBetter);
    assert_eq!(compare::direction("llm_call.latency_ms.p95"), LowerIsBetter);
}
