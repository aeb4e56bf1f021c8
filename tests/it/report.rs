//! Report files: the pinned `summary.json` key set and CSV headers, metric paths, the files a
//! run directory holds and their numbers, atomic writes, the terminal table and progress line.

use std::fs;
use std::time::{Duration, UNIX_EPOCH};

use reactbench::metrics::Aggregator;
use reactbench::metrics::LiveSnapshot;
use reactbench::report::atomic::{self, AtomicFile};
use reactbench::report::csv::{
    CALLS_COLUMNS, CONVERSATIONS_COLUMNS, COST_BY_MODEL_COLUMNS, ERRORS_COLUMNS,
    LATENCY_PERCENTILES_COLUMNS, PROMPT_BY_STEP_COLUMNS, PROMPT_BY_STEP_FILE, TIMELINE_COLUMNS,
    TOOLS_COLUMNS, TOOLS_FILE,
};
use reactbench::report::format::{percent, usd_summary};
use reactbench::report::hlog::{HLOG_FILE, histogram_name, read_histograms, write_histograms};
use reactbench::report::progress::{Progress, ProgressLine, ProgressOptions};
use reactbench::report::summary::Summary;
use reactbench::report::terminal::{color_decision, render_markdown, render_table, warnings};
use reactbench::report::{RunRecorder, create_run_dir, run_dir_name};
use tokio::time::Instant;

use crate::metrics::{close, info, prices, run_end, sample_records, sample_run};

fn latency(prefix: &str) -> Vec<String> {
    ["count", "p50", "p90", "p95", "p99", "p99_9", "max", "mean"]
        .iter()
        .map(|k| format!("{prefix}.{k}"))
        .collect()
}

fn error_classes(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = [
        "auth",
        "bad_request",
        "breaker_open",
        "conflict",
        "connection",
        "context_length_exceeded",
        "deadline",
        "interrupted",
        "malformed_response",
        "not_found",
        "other",
        "quota_exceeded",
        "rate_limited",
        "response_too_large",
        "server_error",
        "spend_cap",
        "stream_cut",
        "timeout",
    ]
    .iter()
    .map(|k| format!("{prefix}.{k}"))
    .collect();
    v.sort();
    v
}

/// The stable key set of `summary.json` version 1. Changing it breaks CI gates: bump
/// `SUMMARY_VERSION` and `docs/report-files.md` with it.
fn pinned_paths() -> Vec<String> {
    let mut p: Vec<String> = Vec::new();
    let s = |p: &mut Vec<String>, keys: &[&str]| p.extend(keys.iter().map(|k| k.to_string()));
    s(&mut p, &["attempt.count", "attempt.local_refusals"]);
    p.extend(error_classes("attempt.by_error_class"));
    p.extend(latency("attempt.latency_ms"));
    s(
        &mut p,
        &[
            "breaker.opened",
            "budget.exceeded",
            "budget.max_steps",
            "budget.warnings",
        ],
    );
    p.extend(
        [
            "answered",
            "blocked_by_guard",
            "blocked_by_sanitizer",
            "budget_exceeded",
            "failed",
            "interrupted",
            "content_filtered",
            "empty_reply",
            "max_steps",
            "session_rate_limited",
            "refused_action",
            "session_refused",
            "spend_cap",
            "truncated",
            "unparseable",
        ]
        .iter()
        .map(|k| format!("conversation.by_outcome.{k}")),
    );
    s(
        &mut p,
        &[
            "conversation.count",
            "conversation.error_rate",
            "conversation.errors",
            "conversation.local_only",
            "conversation.sent",
        ],
    );
    p.extend(latency("conversation.latency_from_intended_ms"));
    p.extend(latency("conversation.latency_ms"));
    s(
        &mut p,
        &["conversation.per_second", "conversation.steps_mean"],
    );
    s(
        &mut p,
        &[
            "cost.cached_saving_usd",
            "cost.unpriced_calls",
            "cost.usd_per_call",
            "cost.usd_per_conversation",
            "cost.usd_per_conversation_percentiles.max",
            "cost.usd_per_conversation_percentiles.p50",
            "cost.usd_per_conversation_percentiles.p95",
            "cost.usd_per_conversation_percentiles.p99",
            "cost.usd_total",
        ],
    );
    p.extend(error_classes("llm_call.by_error_class"));
    s(
        &mut p,
        &[
            "llm_call.attempts",
            "llm_call.count",
            "llm_call.error_rate",
            "llm_call.errors",
            "llm_call.fallback_rate",
            "llm_call.fallbacks",
        ],
    );
    p.extend(
        [
            "content_filter",
            "function_call",
            "length",
            "none",
            "other",
            "stop",
            "tool_calls",
        ]
        .iter()
        .map(|k| format!("llm_call.by_finish_reason.{k}")),
    );
    p.extend(latency("llm_call.inter_chunk_ms"));
    p.extend(latency("llm_call.latency_ms"));
    p.extend(latency("llm_call.output_tokens_per_s"));
    s(
        &mut p,
        &[
            "llm_call.per_second",
            "llm_call.retries",
            "llm_call.retry_amplification",
            "llm_call.stream_ignored",
        ],
    );
    p.extend(latency("llm_call.tpot_ms"));
    p.extend(latency("llm_call.ttft_answer_ms"));
    p.extend(latency("llm_call.ttft_ms"));
    s(
        &mut p,
        &[
            "load.achieved_conversations_per_s",
            "load.achieved_rate_ratio",
            "load.dropped_arrivals",
            "load.intended_starts",
        ],
    );
    p.extend(latency("load.scheduler_lag_ms"));
    s(
        &mut p,
        &[
            "run.duration_s",
            "run.interrupted",
            "run.seed",
            "sanitizer.blocked_conversations",
            "sanitizer.conversations_with_threats",
            "sanitizer.threats",
            "sessions.evictions",
            "sessions.rate_limit_rejections",
            "sessions.rate_limited_turns",
        ],
    );
    p.extend(latency("sessions.wait_ms"));
    s(
        &mut p,
        &[
            "tokens.cached",
            "tokens.completion",
            "tokens.estimated",
            "tokens.per_conversation",
            "tokens.prompt",
            "tokens.reasoning",
            "tokens.total",
            "tool.by_status.error",
            "tool.by_status.ok",
            "tool.by_status.refused",
            "tool.count",
        ],
    );
    p.extend(latency("tool.latency_ms"));
    s(&mut p, &["version"]);
    p
}

#[test]
fn summary_metric_paths_are_pinned() {
    let mut got = Summary::metric_paths();
    let mut want = pinned_paths();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // The paths a later CI-gate issue reads, by name.
    for p in [
        "llm_call.latency_ms.p95",
        "conversation.error_rate",
        "cost.usd_per_conversation",
        "llm_call.fallback_rate",
        "cost.usd_total",
        "load.dropped_arrivals",
    ] {
        assert!(got.iter().any(|g| g == p), "{p} missing");
    }
}

#[test]
fn summary_json_has_the_top_level_sections_and_string_fields() {
    let s = Summary::from_metrics(&sample_run());
    let json: serde_json::Value = serde_json::from_str(&s.to_json()).expect("valid JSON");
    let keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "attempt",
            "breaker",
            "budget",
            "conversation",
            "cost",
            "llm_call",
            "load",
            "run",
            "sanitizer",
            "sessions",
            "tokens",
            "tool",
            "version"
        ]
    );
    assert_eq!(json["version"], 2);
    assert_eq!(json["run"]["name"], "sample run");
    assert_eq!(json["run"]["started_at"], "2026-11-18T11:06:40Z");
    assert_eq!(json["run"]["endpoint_kind"], "mock");
    assert_eq!(json["run"]["load_model"], "open");
    let t = &json["breaker"]["transitions"][0];
    assert_eq!(t["key"], "gpt-4.1");
    assert_eq!(t["to"], "open");
    assert_eq!(t["at_s"], 2.5);
    assert_eq!(Summary::from_json(&s.to_json()).expect("reads back"), s);
}

#[test]
fn metric_reads_numbers_by_path_including_dotted_model_names() {
    let s = Summary::from_metrics(&sample_run());
    let m = |p: &str| s.metric(p).unwrap_or(f64::NAN);
    assert!(close(m("llm_call.latency_ms.p95"), 3000.0));
    assert!(close(m("llm_call.latency_ms.p50"), 300.0));
    assert_eq!(m("conversation.error_rate"), 0.25);
    assert_eq!(m("llm_call.fallback_rate"), 0.25);
    assert_eq!(m("llm_call.retry_amplification"), 1.75);
    assert!((m("cost.usd_total") - 0.00517).abs() < 1e-12);
    assert!((m("cost.usd_per_conversation") - 0.00517 / 3.0).abs() < 1e-12);
    assert!(close(
        m("cost.usd_per_conversation_percentiles.max"),
        0.0044
    ));
    assert_eq!(m("load.dropped_arrivals"), 3.0);
    assert_eq!(m("llm_call.by_status.200"), 3.0);
    assert_eq!(
        m("attempt.by_status.none"),
        1.0,
        "no response: a local refusal"
    );
    assert!((m("cost.by_model.gpt-4.1.usd") - 0.0044).abs() < 1e-12);
    assert!((m("cost.by_model.deepseek-v3.2.usd") - 0.00077).abs() < 1e-12);
    assert!(close(
        m("llm_call.by_model.deepseek-v3.2.latency_ms.max"),
        1800.0
    ));
    assert_eq!(m("breaker.open_s.gpt-4.1"), 1.5);
    assert_eq!(m("run.interrupted"), 0.0);
    assert_eq!(
        s.metric("llm_call.latency_ms"),
        None,
        "an object is not a number"
    );
    assert_eq!(s.metric("run.name"), None, "a string is not a number");
    assert_eq!(s.metric("llm_call.latency_ms.p42"), None);
}

#[test]
fn csv_headers_are_pinned() {
    assert_eq!(
        CALLS_COLUMNS.join(","),
        "conversation_id,user_id,turn,step,model_asked,model_answered,attempts,retries,fallback,\
         status,error_class,latency_ms,ttft_ms,prompt_tokens,cached_tokens,completion_tokens,\
         cost_usd,start_offset_ms,ttft_answer_ms,tpot_ms,output_tokens_per_s,finish_reason,\
         reasoning_tokens,stream_ignored"
    );
    assert_eq!(
        CONVERSATIONS_COLUMNS.join(","),
        "conversation_id,user_id,turn,outcome,steps,calls,tools,start_offset_ms,latency_ms,\
         latency_from_intended_ms,prompt_tokens,cached_tokens,completion_tokens,cost_usd,\
         sanitizer_threats,budget_warning,session_wait_ms,error_detail"
    );
    assert_eq!(
        LATENCY_PERCENTILES_COLUMNS.join(","),
        "metric,model,count,p50_ms,p90_ms,p95_ms,p99_ms,p99_9_ms,max_ms,mean_ms"
    );
    assert_eq!(
        TIMELINE_COLUMNS.join(","),
        "second,conversations_started,conversations_finished,calls,errors,fallbacks,\
         prompt_tokens,cached_tokens,completion_tokens,cost_usd,call_p95_ms,breaker_open"
    );
    assert_eq!(
        COST_BY_MODEL_COLUMNS.join(","),
        "model,calls,prompt_tokens,cached_tokens,completion_tokens,cost_usd,usd_per_call,\
         share_of_cost"
    );
    assert_eq!(
        ERRORS_COLUMNS.join(","),
        "scope,error_class,count,share_of_scope"
    );
}

fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).expect("CSV opens");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|row| row.expect("row").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn a_run_directory_holds_every_file_with_the_right_numbers() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let t0 = Instant::now();
    let agg = Aggregator::new(info(), t0, prices());
    let mut rec = RunRecorder::new(agg, Some(dir)).expect("recorder");
    for r in sample_records(t0) {
        rec.record(&r).expect("rows written");
    }
    // Until the run ends, the streamed CSVs are not visible under their names.
    assert!(!dir.join("calls.csv").exists());
    let (metrics, summary) = rec.finish(run_end(t0)).expect("finish");
    assert_eq!(summary.conversation.count, metrics.conversations());

    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "calls.csv",
            "conversations.csv",
            "cost_by_model.csv",
            "errors.csv",
            "histograms.hlog",
            "latency_percentiles.csv",
            "prompt_by_step.csv",
            "summary.json",
            "summary.md",
            "timeline.csv",
            "tools.csv"
        ],
        "every file, and no temporary file left behind"
    );
    let (header, tools) = read_csv(&dir.join(TOOLS_FILE));
    assert_eq!(header, TOOLS_COLUMNS);
    assert_eq!(tools.len(), 1, "one tool ran: {tools:?}");
    assert_eq!(&tools[0][..2], ["calculator", "1"]);
    let (header, _) = read_csv(&dir.join(PROMPT_BY_STEP_FILE));
    assert_eq!(header, PROMPT_BY_STEP_COLUMNS);

    let (header, calls) = read_csv(&dir.join("calls.csv"));
    assert_eq!(header, CALLS_COLUMNS);
    assert_eq!(calls.len(), 4);
    let col = |name: &str| {
        CALLS_COLUMNS
            .iter()
            .position(|c| *c == name)
            .unwrap_or(usize::MAX)
    };
    let fallback = &calls[2];
    assert_eq!(fallback[col("model_asked")], "gpt-4.1");
    assert_eq!(fallback[col("model_answered")], "deepseek-v3.2");
    assert_eq!(fallback[col("attempts")], "3");
    // Two attempts on gpt-4.1 (one retry), then the fallback: not a retry.
    assert_eq!(fallback[col("retries")], "1");
    assert_eq!(fallback[col("fallback")], "true");
    assert_eq!(fallback[col("latency_ms")], "1800.000");
    assert_eq!(fallback[col("start_offset_ms")], "1000.000");
    let usd: f64 = fallback[col("cost_usd")].parse().expect("a number");
    assert!(
        (usd - 0.00077).abs() < 1e-12,
        "fallback priced at deepseek's price: {usd}"
    );
    let failed = &calls[3];
    assert_eq!(failed[col("error_class")], "rate_limited");
    assert_eq!(
        failed[col("attempts")],
        "2",
        "the local breaker refusal is not sent"
    );
    let total: f64 = calls
        .iter()
        .map(|r| r[col("cost_usd")].parse::<f64>().unwrap_or(f64::NAN))
        .sum();
    assert!(
        (total - 0.00517).abs() < 1e-12,
        "rows add up to the total: {total}"
    );

    let (header, convs) = read_csv(&dir.join("conversations.csv"));
    assert_eq!(header, CONVERSATIONS_COLUMNS);
    assert_eq!(convs.len(), 4);
    assert_eq!(convs[2][3], "blocked_by_sanitizer");
    assert_eq!(convs[2][14], "prompt_injection");
    assert_eq!(convs[0][9], "600.000", "latency from the intended start");

    let (header, cost) = read_csv(&dir.join("cost_by_model.csv"));
    assert_eq!(header, COST_BY_MODEL_COLUMNS);
    assert_eq!(cost.len(), 2);
    assert_eq!(cost[0][0], "deepseek-v3.2");
    assert!((cost[0][5].parse::<f64>().unwrap_or(f64::NAN) - 0.00077).abs() < 1e-12);

    let (header, lat) = read_csv(&dir.join("latency_percentiles.csv"));
    assert_eq!(header, LATENCY_PERCENTILES_COLUMNS);
    let row = lat
        .iter()
        .find(|r| r[0] == "llm_call" && r[1] == "deepseek-v3.2")
        .expect("per-model call latency row");
    assert!(close(row[8].parse().unwrap_or(f64::NAN), 1800.0));

    let (header, timeline) = read_csv(&dir.join("timeline.csv"));
    assert_eq!(header, TIMELINE_COLUMNS);
    assert_eq!(timeline.len(), 7);
    assert_eq!(timeline[3][11], "gpt-4.1=1.000");

    let (header, errors) = read_csv(&dir.join("errors.csv"));
    assert_eq!(header, ERRORS_COLUMNS);
    assert!(
        errors
            .iter()
            .any(|r| r[0] == "llm_call" && r[1] == "rate_limited" && r[2] == "1")
    );
    assert!(
        errors
            .iter()
            .any(|r| r[0] == "attempt" && r[1] == "server_error" && r[2] == "2")
    );

    let json = fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    assert_eq!(Summary::from_json(&json).expect("parses"), summary);
    let md = fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    assert!(md.contains("| deepseek-v3.2 |"), "{md}");
}

#[test]
fn histogram_log_reads_back_to_the_same_percentiles() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let m = sample_run();
    write_histograms(tmp.path(), &m).expect("written");
    let back = read_histograms(&tmp.path().join(HLOG_FILE)).expect("read back");
    let tags: Vec<&str> = back.keys().map(String::as_str).collect();
    let mut want = [
        "llm_call",
        "attempt",
        "ttft",
        "ttft_answer",
        "inter_chunk",
        "tpot",
        "conversation",
        "conversation_from_intended",
        "tool",
        "scheduler_lag",
        "llm_call/deepseek-v3.2",
        "llm_call/gpt-4.1",
        "ttft/gpt-4.1",
    ];
    want.sort_unstable();
    assert_eq!(tags, want, "every non-empty histogram, tagged");
    let find = |tag: &str| back.get(tag).expect("tag present");
    for (tag, original) in [
        ("llm_call", &m.hist.call_us),
        ("attempt", &m.hist.attempt_us),
        ("llm_call/gpt-4.1", &m.models["gpt-4.1"].call_latency_us),
    ] {
        let h = find(tag);
        assert_eq!(h.len(), original.len(), "{tag}");
        for q in [0.5, 0.9, 0.99, 1.0] {
            assert_eq!(
                h.value_at_quantile(q),
                original.value_at_quantile(q),
                "{tag} q{q}"
            );
        }
    }
    assert_eq!(histogram_name("llm_call", "all"), "llm_call");
    // A model name a tag may not hold as is (space, comma) survives the file unchanged.
    let awkward = histogram_name("ttft", "my model,v2");
    assert_eq!(awkward, "ttft/my model,v2");
    let mut set = std::collections::BTreeMap::new();
    set.insert(awkward.clone(), m.hist.call_us.clone());
    let odd = tmp.path().join("odd.hlog");
    reactbench::report::histlog::write_interval_log(&odd, &set, UNIX_EPOCH, Duration::from_secs(1))
        .expect("written");
    let odd_back = read_histograms(&odd).expect("read back");
    assert_eq!(odd_back.keys().collect::<Vec<_>>(), [&awkward]);
    fs::write(
        tmp.path().join("bad.hlog"),
        "Tag=x,0.0,1.0,2.0,@@@not-base64\n",
    )
    .expect("write");
    assert!(read_histograms(&tmp.path().join("bad.hlog")).is_err());
}

#[test]
fn an_interrupted_run_is_marked_and_an_unfinished_stream_leaves_no_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let t0 = Instant::now();
    {
        let agg = Aggregator::new(info(), t0, prices());
        let mut rec = RunRecorder::new(agg, Some(tmp.path())).expect("recorder");
        for r in sample_records(t0) {
            rec.record(&r).expect("rows");
        }
        // Dropped without finish (a crash): no half-written CSV appears.
    }
    assert_eq!(fs::read_dir(tmp.path()).expect("list").count(), 0);

    let agg = Aggregator::new(info(), t0, prices());
    let mut rec = RunRecorder::new(agg, Some(tmp.path())).expect("recorder");
    for r in sample_records(t0) {
        rec.record(&r).expect("rows");
    }
    let mut end = run_end(t0);
    end.interrupted = true;
    let (_, summary) = rec.finish(end).expect("finish");
    assert!(summary.run.interrupted);
    let json = fs::read_to_string(tmp.path().join("summary.json")).expect("summary.json");
    assert!(json.contains("\"interrupted\": true"));
    let md = fs::read_to_string(tmp.path().join("summary.md")).expect("summary.md");
    assert!(md.contains("INTERRUPTED"));
    let (_, calls) = read_csv(&tmp.path().join("calls.csv"));
    assert_eq!(
        calls.len(),
        4,
        "every call recorded before the stop is in the file"
    );
}

#[test]
fn atomic_write_that_fails_midway_keeps_the_old_file_and_leaves_no_temp() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("summary.json");
    atomic::write_bytes(&path, b"old complete content").expect("first write");

    let err = atomic::write_with(&path, |f| {
        use std::io::Write;
        f.write_all(b"{\"half\": ")?;
        anyhow::bail!("disk full (simulated)")
    });
    assert!(err.is_err());
    assert_eq!(
        fs::read(&path).expect("still there"),
        b"old complete content"
    );

    // A file never committed (a run killed before the end) never appears at all.
    let fresh = tmp.path().join("calls.csv");
    {
        use std::io::Write;
        let mut f = AtomicFile::create(&fresh).expect("create");
        f.write_all(b"conversation_id,user_id\n1,").expect("write");
    }
    assert!(!fresh.exists());
    let names: Vec<_> = fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["summary.json"], "no temporary file left: {names:?}");

    atomic::write_bytes(&path, b"new").expect("second write");
    assert_eq!(fs::read(&path).expect("read"), b"new");
}

#[test]
fn terminal_table_shows_the_figures_without_colour_when_told() {
    let s = Summary::from_metrics(&sample_run());
    let plain = render_table(&s, false);
    assert!(!plain.contains('\x1b'), "no escape codes without colour");
    for needle in [
        "sample run",
        "conversations",
        "p95",
        "deepseek-v3.2",
        "blocked_by_sanitizer",
        "rate_limited",
        "$0.005170",
        "breaker gpt-4.1 open (s)",
        "dropped arrivals (open model)",
    ] {
        assert!(plain.contains(needle), "missing {needle:?} in\n{plain}");
    }
    let row_ends = |label: &str, value: &str| {
        plain
            .lines()
            .any(|l| l.trim_start().starts_with(label) && l.ends_with(value))
    };
    assert!(row_ends(
        "retry amplification (attempts per call)",
        " 1.750"
    ));
    assert!(row_ends("fallback rate", " 25.00%"));
    // Columns line up: every row of the latency table has its p95 cell at the same place.
    let lat: Vec<&str> = plain
        .lines()
        .skip_while(|l| !l.starts_with("Latency"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    let widths: Vec<usize> = lat.iter().map(|l| l.chars().count()).collect();
    assert!(
        widths.len() >= 4 && widths.iter().all(|w| *w == widths[0]),
        "{lat:#?}"
    );
    assert!(render_table(&s, true).contains("\x1b[1m"));
    let md = render_markdown(&s);
    assert!(md.contains("| --- |") && md.contains("### Latency"), "{md}");
    assert!(
        md.contains("| ↳ gpt-4.1 | 3 |"),
        "per-model rows marked: {md}"
    );
}

/// The agent's shape reaches the terminal and Markdown: a row per tool, the prompt by step with
/// each part's share, and the prompt cache's saving under the cost table.
#[test]
fn terminal_table_shows_tools_prompt_by_step_and_the_cache_saving() {
    // The sample run with its first conversation's two calls counted by part.
    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, prices());
    for mut r in sample_records(t0) {
        for (i, c) in r.calls.iter_mut().enumerate() {
            c.prompt = reactbench::record::PromptParts {
                system: 600,
                tool_schemas: 300,
                history: 100 + 20 * i as u64,
                tool_results: 40 * i as u64,
            };
        }
        agg.record(&r);
    }
    let s = Summary::from_metrics(&agg.finish(run_end(t0)));
    assert!(!s.tool.by_tool.is_empty() && s.prompt.is_some() && s.tokens.cached > 0);
    let plain = render_table(&s, false);
    let section = |title: &str| -> Vec<String> {
        plain
            .lines()
            .skip_while(|l| !l.starts_with(title))
            .skip(1)
            .take_while(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let tools = section("Tools");
    for (name, t) in &s.tool.by_tool {
        assert!(
            tools.iter().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.first() == Some(&name.as_str())
                    && cells.get(1) == Some(&t.calls.to_string().as_str())
            }),
            "{name} with {} calls in {tools:#?}",
            t.calls
        );
    }
    let p = s.prompt.as_ref().unwrap();
    let steps = section("Prompt tokens by step");
    assert_eq!(
        steps.len(),
        1 + p.by_step.len() + 1,
        "header, steps, share: {steps:#?}"
    );
    assert!(
        steps.last().unwrap().contains(&percent(p.share.system)),
        "{steps:#?}"
    );
    let saving = usd_summary(s.cost.cached_saving_usd);
    assert!(
        plain
            .lines()
            .any(|l| l.trim_start().starts_with("saved by the prompt cache") && l.contains(&saving)),
        "{saving} in\n{plain}"
    );
    let md = render_markdown(&s);
    assert!(
        md.contains("### Tools") && md.contains("### Prompt tokens by step"),
        "{md}"
    );
}

#[test]
fn colour_follows_no_color_and_the_terminal() {
    use std::ffi::OsStr;
    assert!(color_decision(true, None));
    assert!(
        color_decision(true, Some(OsStr::new(""))),
        "an empty NO_COLOR does not count"
    );
    assert!(!color_decision(true, Some(OsStr::new("1"))));
    assert!(
        !color_decision(false, None),
        "never colour into a pipe or file"
    );
}

#[test]
fn warnings_say_what_to_fix() {
    let mut s = Summary::from_metrics(&sample_run());
    let w = warnings(&s);
    // 4 calls, 25% failed conversations, 3 dropped arrivals, a conversation started 100 ms
    // late (HDR reads it as 100.03 ms, over the 100 ms line).
    assert_eq!(w.len(), 4, "{w:#?}");
    assert!(w[0].contains("only 4 LLM calls"));
    assert!(w[1].contains("25.0% of conversations"));
    assert!(w[2].contains("3 arrivals were dropped"));
    assert!(w[3].contains("scheduler lag p99 100 ms"));
    let mut calm = s.clone();
    calm.load.scheduler_lag_ms.p99 = 99.0;
    assert_eq!(warnings(&calm).len(), 3);
    s.run.interrupted = true;
    s.tokens.estimated = true;
    s.cost.unpriced_calls = 2;
    s.load.scheduler_lag_ms.p99 = 250.0;
    let w = warnings(&s);
    assert_eq!(w.len(), 7, "{w:#?}");
    assert!(w[0].contains("stopped early"), "nothing was cut: {}", w[0]);
    s.conversation
        .by_outcome
        .insert("interrupted".to_string(), 2);
    let w = warnings(&s);
    assert!(
        w[0].contains("2 conversations in flight were cut short"),
        "{}",
        w[0]
    );
    assert!(w.iter().any(|l| l.contains("scheduler lag p99 250 ms")));
    assert!(
        w.iter()
            .any(|l| l.contains("2 calls were answered by models missing"))
    );
}

#[test]
fn progress_line_rates_are_per_interval_and_quiet_or_pipes_disable_it() {
    let mut line = ProgressLine::default();
    let snap = |conversations, calls| LiveSnapshot {
        users_active: 100,
        conversations,
        calls,
        errors: 2,
        fallbacks: 1,
        nano_usd: 1_234_500_000,
        p95_call_us: 812_000,
    };
    let first = line.line(Duration::from_secs(2), snap(10, 30), false);
    assert!(first.contains("conv/s 5.0"), "{first}");
    assert!(first.contains("calls/s 15.0"), "{first}");
    let second = line.line(Duration::from_secs(3), snap(15, 40), false);
    assert_eq!(
        second,
        "   3.0s  users 100  conv/s 5.0  calls/s 10.0  p95 812ms  errors 2  fallbacks 1  $1.23"
    );
    assert!(
        line.line(Duration::from_secs(4), snap(15, 40), true)
            .contains("\x1b[31m2")
    );
    assert!(!ProgressOptions::decide(true, true).enabled, "--quiet");
    assert!(
        !ProgressOptions::decide(false, false).enabled,
        "not a terminal"
    );
    assert!(ProgressOptions::decide(false, true).enabled);
}

#[tokio::test]
async fn progress_is_not_spawned_when_quiet_or_piped() {
    let t0 = Instant::now();
    let agg = Aggregator::new(info(), t0, prices());
    for opts in [
        ProgressOptions::decide(true, true),
        ProgressOptions::decide(false, false),
    ] {
        assert!(Progress::spawn(agg.live(), opts).is_none(), "{opts:?}");
    }
}

#[test]
fn run_directory_names_are_slugs_with_utc_time_and_never_collide() {
    let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    assert_eq!(
        run_dir_name("100 users, mixed ReAct workload", t),
        "100-users-mixed-react-workload-20261118T110640Z"
    );
    assert_eq!(run_dir_name("../../etc", t), "etc-20261118T110640Z");
    assert_eq!(run_dir_name("", t), "run-20261118T110640Z");
    let tmp = tempfile::tempdir().expect("temp dir");
    let a = create_run_dir(&tmp.path().join("reports"), "smoke", t).expect("first");
    let b = create_run_dir(&tmp.path().join("reports"), "smoke", t).expect("second");
    assert_ne!(a, b);
    assert!(a.is_dir() && b.is_dir());
    assert!(b.ends_with("smoke-20261118T110640Z-2"));
}

/// A call's finish reason and a conversation's diagnosis reach the CSVs, quoted when they hold
/// commas, quotes or newlines, so an `unparseable` or `truncated` conversation can be read
/// back from `conversations.csv` without the run.
#[test]
fn finish_reason_and_error_detail_reach_the_csvs() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let t0 = Instant::now();
    let mut rec =
        RunRecorder::new(Aggregator::new(info(), t0, prices()), Some(dir)).expect("recorder");
    let mut records = sample_records(t0);
    records[0].calls[1].finish_reason = Some("length".to_string());
    records[0].calls[1].usage.reasoning_tokens = 7;
    records[0].outcome = reactbench::record::Outcome::Truncated;
    records[0].error_detail = Some("no Action, got: \"Thought: x\"\nand more".to_string());
    records[0].session_wait = Some(Duration::from_millis(1500));
    for r in &records {
        rec.record(r).expect("rows written");
    }
    rec.finish(run_end(t0)).expect("finish");
    let (header, calls) = read_csv(&dir.join("calls.csv"));
    let col = |name: &str| header.iter().position(|c| c == name).expect(name);
    assert_eq!(calls[1][col("finish_reason")], "length");
    assert_eq!(calls[1][col("reasoning_tokens")], "7");
    assert_eq!(calls[0][col("finish_reason")], "", "none sent: empty cell");
    assert_eq!(calls[1][col("stream_ignored")], "false");
    let (header, convs) = read_csv(&dir.join("conversations.csv"));
    let col = |name: &str| header.iter().position(|c| c == name).expect(name);
    assert_eq!(convs[0][col("outcome")], "truncated");
    assert_eq!(
        convs[0][col("error_detail")],
        "no Action, got: \"Thought: x\"\nand more"
    );
    assert_eq!(convs[0][col("session_wait_ms")], "1500.000");
    assert_eq!(convs[1][col("error_detail")], "");
}
