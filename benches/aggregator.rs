//! How fast the one metrics owner absorbs conversation records, alone and with the per-call and
//! per-conversation CSV rows streamed to disk. Each record is a typical streamed conversation:
//! three LLM calls (one retried), 60 inter-token gaps each, two tool runs.
//!
//! Also what observability costs per second of a run (docs/observability.md): the live
//! exporter's page rendered from the aggregator (once a second, in the recorder), and one
//! scrape of a vLLM-sized metrics page parsed and stored (once per `metrics_interval`).
//!
//! Run: `cargo bench --bench aggregator -- --warm-up-time 1 --measurement-time 3`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reactbench::chat::Usage;
use reactbench::metrics::{Aggregator, RunInfo};
use reactbench::pricing::{ModelPrice, PriceTable};
use reactbench::record::{
    AttemptRecord, CallRecord, ConversationRecord, ErrorClass, Outcome, ToolRecord, ToolStatus,
};
use reactbench::report::csv::RecordCsv;
use tokio::time::Instant;

fn prices() -> PriceTable {
    let mut models = BTreeMap::new();
    models.insert(
        "gpt-4.1".to_string(),
        ModelPrice {
            input_usd_per_mtok: 2.0,
            cached_input_usd_per_mtok: 0.5,
            output_usd_per_mtok: 8.0,
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

fn record(id: u64, t0: Instant) -> ConversationRecord {
    let started = t0 + Duration::from_millis(id % 60_000);
    let call = |step: u32, retried: bool| {
        let mut attempts = Vec::new();
        if retried {
            attempts.push(AttemptRecord {
                model: "gpt-4.1".to_string(),
                started,
                latency: Duration::from_millis(40),
                status: Some(429),
                error: Some(ErrorClass::RateLimited),
                backoff: Duration::ZERO,
            });
        }
        attempts.push(AttemptRecord {
            model: "gpt-4.1".to_string(),
            started,
            latency: Duration::from_millis(300 + id % 200),
            status: Some(200),
            error: None,
            backoff: Duration::ZERO,
        });
        CallRecord {
            step,
            model_asked: "gpt-4.1".to_string(),
            model_answered: Some("gpt-4.1".to_string()),
            attempts,
            started,
            latency: Duration::from_millis(320 + id % 300),
            status: Some(200),
            error: None,
            ttft: Some(Duration::from_millis(80 + id % 50)),
            ttft_answer: Some(Duration::from_millis(80 + id % 50)),
            finish_reason: None,
            stream_ignored: false,
            inter_chunk_gaps_us: (0..60)
                .map(|i| 8_000 + (i * 37 + id as u32) % 4_000)
                .collect(),
            usage: Usage::billed(1_200, 400, 60),
            fallback: false,
            prompt: Default::default(),
        }
    };
    let tool = ToolRecord {
        name: "search".to_string(),
        started,
        latency: Duration::from_millis(25),
        status: ToolStatus::Ok,
        output_tokens: 0,
        output_bytes: 0,
        http_status: None,
    };
    ConversationRecord {
        conversation_id: id,
        user_id: id % 100,
        turn: 1,
        started,
        intended_start: None,
        latency: Duration::from_millis(1_500),
        outcome: Outcome::Answered,
        steps: 3,
        calls: vec![call(1, false), call(2, true), call(3, false)],
        tools: vec![tool.clone(), tool],
        sanitizer_threats: Vec::new(),
        guard: None,
        budget_warning: false,
        session_wait: None,
        error_detail: None,
    }
}

fn info() -> RunInfo {
    RunInfo {
        name: "bench".to_string(),
        seed: 1,
        started_at: UNIX_EPOCH,
        endpoint_kind: "mock".to_string(),
        load_model: "closed".to_string(),
        slo: None,
    }
}

fn bench(c: &mut Criterion) {
    let t0 = Instant::now();
    let records: Vec<ConversationRecord> = (0..1_000).map(|i| record(i, t0)).collect();
    let mut g = c.benchmark_group("aggregator");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function("record_1000_conversations", |b| {
        let mut agg = Aggregator::new(info(), t0, prices());
        b.iter(|| {
            for r in &records {
                black_box(agg.record(r));
            }
        })
    });
    g.bench_function("record_1000_conversations_with_csv_rows", |b| {
        let dir = std::env::temp_dir().join(format!("reactbench-bench-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut agg = Aggregator::new(info(), t0, prices());
        let mut csv = RecordCsv::create(&dir, t0).expect("temp dir is writable");
        let p = prices();
        b.iter(|| {
            for r in &records {
                black_box(agg.record(r));
                csv.write(r, &p).expect("rows written");
            }
        });
        drop(csv);
        let _ = std::fs::remove_dir_all(&dir);
    });
    g.finish();

    let mut g = c.benchmark_group("observe");
    let mut agg = Aggregator::new(info(), t0, prices());
    for r in &records {
        agg.record(r);
    }
    g.bench_function("render_live_page", |b| {
        b.iter(|| {
            black_box(reactbench::observe::export::render_run(
                &agg,
                "scenario=\"b\"",
            ))
        })
    });
    let page = vllm_like_page();
    let always = ["vllm:prompt_tokens_total", "vllm:generation_tokens_total"];
    g.bench_function("parse_and_store_vllm_page", |b| {
        let mut m = reactbench::observe::ServerMetrics::new("bench".into(), 1.0);
        let mut t = 0.0;
        b.iter(|| {
            let samples = reactbench::observe::parse_page(
                &page,
                &reactbench::observe::Selection::All,
                &always,
            )
            .expect("parses");
            t += 1.0;
            m.add_scrape(t, samples);
            // A run's store grows by a scrape a second; keep the benchmark's from growing.
            if m.scrapes_ok.is_multiple_of(3600) {
                m = reactbench::observe::ServerMetrics::new("bench".into(), 1.0);
            }
        })
    });
    g.finish();
}

/// A page shaped like vLLM's for two models: gauges, counters, and histograms of 20 to 30
/// buckets (about 700 lines, 60 KB).
fn vllm_like_page() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for name in [
        "num_requests_running",
        "num_requests_waiting",
        "kv_cache_usage_perc",
    ] {
        let _ = writeln!(out, "# HELP vllm:{name} A gauge.\n# TYPE vllm:{name} gauge");
        for m in ["model-a", "model-b"] {
            let _ = writeln!(out, "vllm:{name}{{engine=\"0\",model_name=\"{m}\"}} 3.0");
        }
    }
    for name in [
        "prompt_tokens_total",
        "generation_tokens_total",
        "num_preemptions_total",
        "prefix_cache_queries_total",
        "prefix_cache_hits_total",
    ] {
        let _ = writeln!(
            out,
            "# HELP vllm:{name} A counter.\n# TYPE vllm:{name} counter"
        );
        for m in ["model-a", "model-b"] {
            let _ = writeln!(
                out,
                "vllm:{name}{{engine=\"0\",model_name=\"{m}\"}} 123456.0"
            );
        }
    }
    for name in [
        "time_to_first_token_seconds",
        "e2e_request_latency_seconds",
        "inter_token_latency_seconds",
        "request_queue_time_seconds",
        "request_prompt_tokens",
        "request_generation_tokens",
        "request_inference_time_seconds",
        "request_prefill_time_seconds",
        "request_decode_time_seconds",
        "iteration_tokens_total",
    ] {
        let _ = writeln!(
            out,
            "# HELP vllm:{name} A histogram.\n# TYPE vllm:{name} histogram"
        );
        for m in ["model-a", "model-b"] {
            for (i, le) in (0..28).map(|i| (i, 0.001 * 2f64.powi(i))) {
                let _ = writeln!(
                    out,
                    "vllm:{name}_bucket{{engine=\"0\",le=\"{le}\",model_name=\"{m}\"}} {}.0",
                    i * 10
                );
            }
            let _ = writeln!(
                out,
                "vllm:{name}_bucket{{engine=\"0\",le=\"+Inf\",model_name=\"{m}\"}} 280.0"
            );
            let _ = writeln!(
                out,
                "vllm:{name}_count{{engine=\"0\",model_name=\"{m}\"}} 280.0"
            );
            let _ = writeln!(
                out,
                "vllm:{name}_sum{{engine=\"0\",model_name=\"{m}\"}} 912.5"
            );
        }
    }
    out
}

criterion_group!(benches, bench);
criterion_main!(benches);
