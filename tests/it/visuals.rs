//! The files a person reads: every plot a valid PNG, `index.html` embedding each of them with
//! the main tables, `price_comparison.csv` pinned and priced by hand, and `bench report DIR`
//! re-creating all of them, byte for byte, from the directory alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::bench;
use base64::Engine as _;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use reactbench::chat::Usage;
use reactbench::metrics::{Aggregator, BreakerTransition, LoadReport, RunEnd, RunMetrics};
use reactbench::pricing::PriceTable;
use reactbench::record::{
    AttemptRecord, CallRecord, ConversationRecord, ErrorClass, Outcome, ToolRecord, ToolStatus,
};
use reactbench::report::gates::ThresholdResult;
use reactbench::report::summary::Summary;
use reactbench::report::visuals::{
    INDEX_FILE, PLOT_FILES, PLOT_PROMPT_BY_STEP, PRICE_COMPARISON_COLUMNS, PRICE_COMPARISON_FILE,
    PriceChoice, REPORT_INPUTS_FILE, price_comparison, write_run_report, write_visuals,
};
use reactbench::report::write_metric_files;
use tokio::time::Instant;

use crate::metrics::{info, prices, sample_run};

/// gpt-4.1 as reference, deepseek-v3.2 compared, 2,000 conversations a day.
fn choice() -> PriceChoice {
    PriceChoice {
        compare: vec!["deepseek-v3.2".to_string()],
        reference: Some("gpt-4.1".to_string()),
        per_day: Some(2000),
    }
}

fn settings() -> Vec<(String, String)> {
    vec![
        ("users".to_string(), "3".to_string()),
        ("model".to_string(), "gpt-4.1 <primary>".to_string()),
    ]
}

/// A complete run directory of the sample run: metric files, then the visuals.
fn write_sample_dir(dir: &Path) -> (RunMetrics, Vec<PathBuf>) {
    let m = sample_run();
    let summary = write_metric_files(dir, &m).expect("metric files");
    let written = write_run_report(dir, &m, &summary, &prices(), &choice(), &settings(), None)
        .expect("visuals");
    (m, written)
}

fn check_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    assert!(
        img.width() >= 1000 && img.height() >= 600,
        "{}",
        path.display()
    );
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).expect("csv opens");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|r| r.expect("row").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn num(cell: &str) -> f64 {
    cell.parse().unwrap_or(f64::NAN)
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn write_visuals_writes_every_plot_the_csv_and_a_page_embedding_them() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let (_, written) = write_sample_dir(dir);
    for f in PLOT_FILES {
        assert!(written.contains(&dir.join(f)), "{f} not reported written");
        check_png(&dir.join(f));
    }
    assert_eq!(written.last(), Some(&dir.join(INDEX_FILE)), "the page last");
    assert!(written.contains(&dir.join(PRICE_COMPARISON_FILE)));
    assert!(dir.join(REPORT_INPUTS_FILE).is_file());

    let page = std::fs::read_to_string(dir.join(INDEX_FILE)).expect("index.html");
    assert!(page.starts_with("<!DOCTYPE html>"));
    for f in PLOT_FILES {
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(dir.join(f)).expect("png"));
        assert!(
            page.contains(&format!("src=\"data:image/png;base64,{b64}\"")),
            "{f} is not embedded"
        );
    }
    for want in [
        "Settings",
        "gpt-4.1 &lt;primary&gt;",
        "Throughput",
        "Outcomes",
        "Errors",
        "Tokens and cost by model",
        "Latency percentiles by metric and model",
        "Price comparison",
        "deepseek-v3.2",
        "gpt-4.1 (reference)",
    ] {
        assert!(page.contains(want), "index.html lacks {want:?}");
    }
    assert!(!page.contains("Thresholds"), "no thresholds, no table");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_page_shows_thresholds_when_the_summary_has_them() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let m = sample_run();
    let mut summary = Summary::from_metrics(&m);
    summary.thresholds = vec![ThresholdResult {
        metric: "llm_call.latency_ms.p95".to_string(),
        condition: "p95 < 1000".to_string(),
        limit: Some(1000.0),
        measured: Some(3000.0),
        passed: false,
        note: None,
    }];
    let pc = price_comparison(&summary, &prices(), &choice()).expect("priced");
    write_visuals(tmp.path(), &m, &summary, &pc, &[], None).expect("visuals");
    let page = std::fs::read_to_string(tmp.path().join(INDEX_FILE)).expect("page");
    assert!(page.contains("<h2>Thresholds</h2>"), "thresholds table");
    assert!(page.contains("FAIL") && page.contains("p95 &lt; 1000"));
    assert!(page.contains("1 of 1 thresholds failed"));
}

#[test]
fn price_comparison_csv_is_pinned_and_priced_by_hand() {
    assert_eq!(
        PRICE_COMPARISON_COLUMNS,
        [
            "model",
            "table_key",
            "provider",
            "input_usd_per_mtok",
            "cached_input_usd_per_mtok",
            "output_usd_per_mtok",
            "context_window",
            "conversations",
            "prompt_tokens",
            "cached_tokens",
            "completion_tokens",
            "usd_total",
            "usd_per_conversation",
            "usd_per_1k_conversations",
            "conversations_per_day",
            "usd_per_day",
            "usd_per_month",
            "is_reference",
            "saving_usd_per_month",
            "saving_pct",
        ]
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    write_sample_dir(tmp.path());
    let (header, rows) = read_csv(&tmp.path().join(PRICE_COMPARISON_FILE));
    assert_eq!(header, PRICE_COMPARISON_COLUMNS);
    // The reference comes first (it was not in `compare`), then the compared model.
    assert_eq!(rows.len(), 2);
    let (gpt, ds) = (&rows[0], &rows[1]);
    assert_eq!((gpt[0].as_str(), gpt[17].as_str()), ("gpt-4.1", "true"));
    assert_eq!(
        (ds[0].as_str(), ds[17].as_str()),
        ("deepseek-v3.2", "false")
    );
    // The sample's tokens: prompt 1000 + 1500 + 2000 = 4500, of which cached 200 + 1000 =
    // 1200; completion 100 + 50 + 500 = 650; over 4 conversations.
    for r in &rows {
        assert_eq!(&r[7..11], ["4", "4500", "1200", "650"]);
        assert_eq!(r[14], "2000");
    }
    // gpt-4.1: 3300 * 2.00 + 1200 * 0.50 + 650 * 8.00 = 12,400 per million = $0.0124.
    assert!(near(num(&gpt[11]), 0.0124));
    assert!(near(num(&gpt[12]), 0.0031));
    assert!(near(num(&gpt[13]), 3.1));
    assert!(near(num(&gpt[15]), 6.2));
    assert!(near(num(&gpt[16]), 186.0));
    assert!(near(num(&gpt[18]), 0.0));
    // deepseek-v3.2: 3300 * 0.28 + 1200 * 0.028 + 650 * 0.42 = 1,230.6 per million.
    assert!(near(num(&ds[11]), 0.0012306));
    assert!(near(num(&ds[12]), 0.00030765));
    assert!(near(num(&ds[16]), 18.459));
    // Saving against gpt-4.1: 186 - 18.459 a month, (0.0031 - 0.00030765) / 0.0031 = 90.08%.
    assert!(near(num(&ds[18]), 167.541));
    assert!(near(num(&ds[19]), (0.0031 - 0.00030765) / 0.0031 * 100.0));
}

/// A run that recorded nothing.
fn empty_run() -> RunMetrics {
    let t0 = Instant::now();
    Aggregator::new(info(), t0, prices()).finish(RunEnd {
        ended: t0 + Duration::from_secs(1),
        interrupted: false,
        breaker_transitions: Vec::new(),
        load: LoadReport::default(),
        session_evictions: 0,
        local_rate_limit_rejections: 0,
    })
}

#[test]
fn no_conversations_give_a_header_only_comparison_and_unknown_models_an_error() {
    let m = empty_run();
    let s = Summary::from_metrics(&m);
    let pc = price_comparison(&s, &prices(), &choice()).expect("empty is fine");
    assert!(pc.rows.is_empty());
    let tmp = tempfile::tempdir().expect("temp dir");
    write_visuals(tmp.path(), &m, &s, &pc, &[], None).expect("an empty run still renders");
    for f in PLOT_FILES {
        check_png(&tmp.path().join(f));
    }
    let (header, rows) = read_csv(&tmp.path().join(PRICE_COMPARISON_FILE));
    assert_eq!(header, PRICE_COMPARISON_COLUMNS);
    assert!(rows.is_empty());

    let s = Summary::from_metrics(&sample_run());
    let bad = PriceChoice {
        compare: vec!["no-such-model".to_string()],
        ..PriceChoice::default()
    };
    let err = format!(
        "{:#}",
        price_comparison(&s, &prices(), &bad).expect_err("unknown")
    );
    assert!(err.contains("no-such-model"), "{err}");
}

#[test]
fn a_huge_table_is_not_compared_whole() {
    // A LiteLLM file lists thousands of models: with no `compare`, the run's own models (and
    // the reference) are priced, not the whole file.
    let s = Summary::from_metrics(&sample_run());
    let mut table = PriceTable::default_table().expect("shipped table");
    table.info.format = reactbench::pricing::TableFormat::Litellm;
    let choice = PriceChoice {
        reference: Some("gpt-5".to_string()),
        ..PriceChoice::default()
    };
    let pc = price_comparison(&s, &table, &choice).expect("priced");
    let models: Vec<&str> = pc.rows.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(models, ["gpt-5", "deepseek-v3.2", "gpt-4.1"]);
    let none = price_comparison(&Summary::from_metrics(&empty_run()), &table, &choice)
        .expect("no conversations");
    assert!(none.rows.is_empty());
}

#[test]
fn bench_report_recreates_the_files_from_the_directory_alone() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    write_sample_dir(dir);
    let mut rendered: Vec<&str> = PLOT_FILES.to_vec();
    rendered.extend([PRICE_COMPARISON_FILE, INDEX_FILE]);
    let before: BTreeMap<&str, Vec<u8>> = rendered
        .iter()
        .map(|f| (*f, std::fs::read(dir.join(f)).expect("written")))
        .collect();
    for f in &rendered {
        std::fs::remove_file(dir.join(f)).expect("rm");
    }
    let out = bench(&["report", dir.to_str().expect("utf-8 path")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in &rendered {
        let again =
            std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f} not re-created: {e}"));
        assert!(
            again == before[f],
            "{f} differs from the run's own rendering"
        );
    }
}

#[test]
fn bench_report_without_the_inputs_file_still_renders_and_says_so() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    write_sample_dir(dir);
    std::fs::remove_file(dir.join(REPORT_INPUTS_FILE)).expect("rm");
    std::fs::remove_file(dir.join(INDEX_FILE)).expect("rm");
    let out = bench(&["report", dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains(REPORT_INPUTS_FILE));
    assert!(dir.join(INDEX_FILE).is_file());
    // The run's own models under the shipped table.
    let (_, rows) = read_csv(&dir.join(PRICE_COMPARISON_FILE));
    let models: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(models, ["deepseek-v3.2", "gpt-4.1"]);
}

#[test]
fn bench_report_on_something_else_exits_2_saying_why() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = bench(&["report", tmp.path().to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a run directory") && err.contains("summary.json"),
        "{err}"
    );
    let missing = tmp.path().join("nope");
    let out = bench(&["report", missing.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
}

/// A realistic synthetic run: 3 minutes of 40 users on gpt-4o-mini with a
/// claude-sonnet-4.5 fallback, a rate-limit storm that opens the primary's breaker from 70 s to
/// 95 s, and streaming TTFT. Deterministic (seeded).
fn realistic_run() -> (RunMetrics, PriceTable) {
    let table = PriceTable::default_table().expect("shipped table");
    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, table.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let ms = Duration::from_millis;
    let storm = 70_000..95_000u64;
    let mut id = 0;
    for user in 0..40u64 {
        let mut at = rng.random_range(0..2000u64);
        while at < 180_000 {
            id += 1;
            let start = t0 + ms(at);
            let steps = rng.random_range(1..5u32);
            let mut calls = Vec::new();
            let mut tools = Vec::new();
            let mut t = at;
            let mut failed = false;
            for step in 1..=steps {
                // Log-normal-ish latency around 900 ms with a long tail.
                let base = 400.0 + 500.0 * (-(rng.random::<f64>().max(1e-9)).ln()).powf(1.3);
                let in_storm = storm.contains(&t);
                let (model, fallback, error, status) = if in_storm && rng.random::<f64>() < 0.7 {
                    if rng.random::<f64>() < 0.8 {
                        ("claude-sonnet-4.5", true, None, Some(200))
                    } else {
                        (
                            "gpt-4o-mini",
                            false,
                            Some(ErrorClass::RateLimited),
                            Some(429),
                        )
                    }
                } else if rng.random::<f64>() < 0.01 {
                    ("gpt-4o-mini", false, Some(ErrorClass::Timeout), None)
                } else {
                    ("gpt-4o-mini", false, None, Some(200))
                };
                let latency = if model == "claude-sonnet-4.5" {
                    base * 2.2
                } else {
                    base
                } as u64;
                let prompt = 1200 + 700 * u64::from(step) + rng.random_range(0..400u64);
                let usage = if error.is_some() {
                    Usage::default()
                } else {
                    Usage::billed(
                        prompt,
                        if step > 1 { prompt / 2 } else { 0 },
                        rng.random_range(60..400u64),
                    )
                };
                calls.push(CallRecord {
                    step,
                    model_asked: "gpt-4o-mini".to_string(),
                    model_answered: error.is_none().then(|| model.to_string()),
                    attempts: vec![AttemptRecord {
                        model: model.to_string(),
                        started: t0 + ms(t),
                        latency: ms(latency),
                        status,
                        error,
                        backoff: Duration::ZERO,
                    }],
                    started: t0 + ms(t),
                    latency: ms(latency),
                    status,
                    error,
                    ttft: error.is_none().then(|| ms(latency / 4)),
                    ttft_answer: error.is_none().then(|| ms(latency / 4)),
                    finish_reason: None,
                    stream_ignored: false,
                    inter_chunk_gaps_us: Vec::new(),
                    usage,
                    fallback,
                    // What was sent, by part: the fixed prefix, then a growing history.
                    prompt: reactbench::record::PromptParts {
                        system: prompt / 2,
                        tool_schemas: prompt / 5,
                        history: prompt / 10,
                        tool_results: prompt - prompt / 2 - prompt / 5 - prompt / 10,
                    },
                });
                t += latency;
                if error.is_some() {
                    failed = true;
                    break;
                }
                let tool_ms = rng.random_range(20..300u64);
                tools.push(ToolRecord {
                    name: "search".to_string(),
                    started: t0 + ms(t),
                    latency: ms(tool_ms),
                    status: ToolStatus::Ok,
                    output_tokens: 0,
                    output_bytes: 0,
                    http_status: None,
                });
                t += tool_ms;
            }
            agg.record(&ConversationRecord {
                conversation_id: id,
                user_id: user,
                turn: 1,
                started: start,
                intended_start: None,
                latency: ms(t - at),
                outcome: if failed {
                    Outcome::Failed
                } else {
                    Outcome::Answered
                },
                steps,
                calls,
                tools,
                sanitizer_threats: Vec::new(),
                guard: None,
                budget_warning: false,
                session_wait: None,
                error_detail: None,
            });
            at = t + rng.random_range(500..3000u64);
        }
    }
    let tr = |from: &str, to: &str, s: u64| BreakerTransition {
        key: "gpt-4o-mini".to_string(),
        from: from.to_string(),
        to: to.to_string(),
        at: t0 + ms(s),
    };
    let m = agg.finish(RunEnd {
        ended: t0 + ms(185_000),
        interrupted: false,
        breaker_transitions: vec![tr("closed", "open", 72_000), tr("open", "closed", 95_000)],
        load: LoadReport::default(),
        session_evictions: 0,
        local_rate_limit_rejections: 0,
    });
    (m, table)
}

/// Renders the realistic run; set `REACTBENCH_PLOT_DIR` to keep the files and look at them.
#[test]
fn a_realistic_run_renders_every_file() {
    let (m, table) = realistic_run();
    let keep = std::env::var_os("REACTBENCH_PLOT_DIR").map(|d| PathBuf::from(d).join("visuals"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = keep.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).expect("dir");
    let summary = write_metric_files(&dir, &m).expect("metric files");
    assert!(
        m.counters.fallbacks > 0 && m.counters.call_errors > 0,
        "storm happened"
    );
    let choice = PriceChoice {
        compare: Vec::new(),
        reference: Some("gpt-4o-mini".to_string()),
        per_day: Some(50_000),
    };
    write_run_report(&dir, &m, &summary, &table, &choice, &settings(), None).expect("visuals");
    for f in PLOT_FILES {
        check_png(&dir.join(f));
    }
    let (_, rows) = read_csv(&dir.join(PRICE_COMPARISON_FILE));
    assert_eq!(rows.len(), table.models.len(), "the whole table");
    // The agent's shape: the prompt-by-step chart, and the page's tool and prompt tables.
    check_png(&dir.join(PLOT_PROMPT_BY_STEP));
    let page = std::fs::read_to_string(dir.join(INDEX_FILE)).expect("index.html");
    for want in [
        "Prompt tokens by step",
        "Where the prompt tokens go",
        "Tools",
        "search",
        "saving",
    ] {
        assert!(page.contains(want), "index.html lacks {want:?}");
    }
    let steps = summary
        .prompt
        .as_ref()
        .expect("a prompt section")
        .by_step
        .len();
    assert!(steps >= 2, "{steps} steps");
}
