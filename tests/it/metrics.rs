//! The aggregator: exact counters, percentiles within HDR precision, costs computed by hand
//! (a fallback call priced at the fallback's price), the timeline and the live view.
//!
//! [`sample_run`] builds four conversations by hand; the report tests reuse it.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use reactbench::chat::Usage;
use reactbench::metrics::{Aggregator, BreakerTransition, LoadReport, RunEnd, RunInfo, RunMetrics};
use reactbench::pricing::{ModelPrice, PriceTable};
use reactbench::record::{
    AttemptRecord, CallRecord, ConversationRecord, ErrorClass, Outcome, ToolRecord, ToolStatus,
};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn price(input: f64, cached: f64, output: f64) -> ModelPrice {
    ModelPrice {
        input_usd_per_mtok: input,
        cached_input_usd_per_mtok: cached,
        output_usd_per_mtok: output,
        context_window: None,
        provider: None,
        notes: None,
    }
}

/// gpt-4.1 2.00 / 0.50 / 8.00 and deepseek-v3.2 0.28 / 0.028 / 0.42 USD per million tokens.
pub fn prices() -> PriceTable {
    let mut models = BTreeMap::new();
    models.insert("gpt-4.1".to_string(), price(2.0, 0.5, 8.0));
    models.insert("deepseek-v3.2".to_string(), price(0.28, 0.028, 0.42));
    PriceTable {
        models,
        ..Default::default()
    }
}

fn attempt(
    model: &str,
    started: Instant,
    latency_ms: u64,
    status: Option<u16>,
    error: Option<ErrorClass>,
) -> AttemptRecord {
    AttemptRecord {
        model: model.to_string(),
        started,
        latency: ms(latency_ms),
        status,
        error,
        backoff: Duration::ZERO,
    }
}

fn ok_call(step: u32, started: Instant, latency_ms: u64, u: Usage, ttft_ms: u64) -> CallRecord {
    CallRecord {
        step,
        model_asked: "gpt-4.1".to_string(),
        model_answered: Some("gpt-4.1".to_string()),
        attempts: vec![attempt("gpt-4.1", started, latency_ms, Some(200), None)],
        started,
        latency: ms(latency_ms),
        status: Some(200),
        error: None,
        ttft: Some(ms(ttft_ms)),
        ttft_answer: Some(ms(ttft_ms)),
        finish_reason: None,
        stream_ignored: false,
        inter_chunk_gaps_us: vec![10_000, 20_000],
        usage: u,
        fallback: false,
        prompt: Default::default(),
    }
}

fn conversation(
    id: u64,
    started: Instant,
    latency_ms: u64,
    outcome: Outcome,
) -> ConversationRecord {
    ConversationRecord {
        conversation_id: id,
        user_id: id * 10,
        turn: 1,
        started,
        intended_start: None,
        latency: ms(latency_ms),
        outcome,
        steps: 0,
        calls: Vec::new(),
        tools: Vec::new(),
        sanitizer_threats: Vec::new(),
        guard: None,
        budget_warning: false,
        session_wait: None,
        error_detail: None,
    }
}

/// Four conversations, starting at `t0`:
/// 1. answered at 0 ms, 500 ms long, open model (intended 100 ms earlier): two gpt-4.1 calls of
///    100 ms (1000 prompt, 200 cached, 100 completion: $0.0025) and 300 ms (1500 / 1000 / 50:
///    $0.0019); a 20 ms tool; a budget warning.
/// 2. answered at 1 s, 2000 ms: one call of 1800 ms: gpt-4.1 500, retry 503, then the
///    fallback deepseek-v3.2 answers (2000 prompt, 500 completion: $0.00077, not gpt-4.1's
///    $0.008).
/// 3. blocked by the sanitizer at 2 s (1 ms, prompt_injection), no call.
/// 4. failed at 3 s, 3000 ms: one call of 3000 ms: two 429s, then a local breaker refusal.
pub fn sample_records(t0: Instant) -> Vec<ConversationRecord> {
    let mut c1 = conversation(1, t0, 500, Outcome::Answered);
    c1.intended_start = Some(t0 - ms(100));
    c1.steps = 2;
    c1.budget_warning = true;
    c1.calls = vec![
        ok_call(1, t0, 100, Usage::billed(1000, 200, 100), 50),
        ok_call(2, t0 + ms(150), 300, Usage::billed(1500, 1000, 50), 80),
    ];
    c1.tools = vec![ToolRecord {
        name: "calculator".to_string(),
        started: t0 + ms(110),
        latency: ms(20),
        status: ToolStatus::Ok,
        output_tokens: 0,
        output_bytes: 0,
        http_status: None,
    }];

    let s2 = t0 + ms(1000);
    let mut c2 = conversation(2, s2, 2000, Outcome::Answered);
    c2.steps = 1;
    c2.calls = vec![CallRecord {
        step: 1,
        model_asked: "gpt-4.1".to_string(),
        model_answered: Some("deepseek-v3.2".to_string()),
        attempts: vec![
            attempt("gpt-4.1", s2, 200, Some(500), Some(ErrorClass::Server)),
            attempt(
                "gpt-4.1",
                s2 + ms(1200),
                200,
                Some(503),
                Some(ErrorClass::Server),
            ),
            attempt("deepseek-v3.2", s2 + ms(1400), 400, Some(200), None),
        ],
        started: s2,
        latency: ms(1800),
        status: Some(200),
        error: None,
        ttft: None,
        ttft_answer: None,
        finish_reason: None,
        stream_ignored: false,
        inter_chunk_gaps_us: Vec::new(),
        usage: Usage::billed(2000, 0, 500),
        fallback: true,
        prompt: Default::default(),
    }];

    let mut c3 = conversation(3, t0 + ms(2000), 1, Outcome::BlockedBySanitizer);
    c3.sanitizer_threats = vec!["prompt_injection".to_string()];

    let s4 = t0 + ms(3000);
    let mut c4 = conversation(4, s4, 3000, Outcome::Failed);
    c4.calls = vec![CallRecord {
        step: 1,
        model_asked: "gpt-4.1".to_string(),
        model_answered: None,
        attempts: vec![
            attempt("gpt-4.1", s4, 50, Some(429), Some(ErrorClass::RateLimited)),
            attempt(
                "gpt-4.1",
                s4 + ms(1000),
                50,
                Some(429),
                Some(ErrorClass::RateLimited),
            ),
            attempt(
                "gpt-4.1",
                s4 + ms(3000),
                0,
                None,
                Some(ErrorClass::BreakerOpen),
            ),
        ],
        started: s4,
        latency: ms(3000),
        status: Some(429),
        error: Some(ErrorClass::RateLimited),
        ttft: None,
        ttft_answer: None,
        finish_reason: None,
        stream_ignored: false,
        inter_chunk_gaps_us: Vec::new(),
        usage: Usage::default(),
        fallback: false,
        prompt: Default::default(),
    }];
    vec![c1, c2, c3, c4]
}

/// The run's identity used by every sample.
pub fn info() -> RunInfo {
    RunInfo {
        name: "sample run".to_string(),
        seed: 7,
        started_at: UNIX_EPOCH + Duration::from_secs(1_795_000_000),
        endpoint_kind: "mock".to_string(),
        load_model: "open".to_string(),
        slo: None,
    }
}

/// The run end of the sample: 7 s long, the gpt-4.1 breaker open from 2.5 s to 4 s.
pub fn run_end(t0: Instant) -> RunEnd {
    let tr = |from: &str, to: &str, at: u64| BreakerTransition {
        key: "gpt-4.1".to_string(),
        from: from.to_string(),
        to: to.to_string(),
        at: t0 + ms(at),
    };
    RunEnd {
        ended: t0 + ms(7000),
        interrupted: false,
        // Given out of order on purpose: the aggregator sorts them.
        breaker_transitions: vec![tr("open", "half_open", 4000), tr("closed", "open", 2500)],
        load: LoadReport {
            dropped_arrivals: 3,
            intended_starts: 7,
            scheduler_lag_us: None,
        },
        session_evictions: 2,
        local_rate_limit_rejections: 5,
    }
}

/// The sample run through a fresh aggregator.
pub fn sample_run() -> RunMetrics {
    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, prices());
    for r in sample_records(t0) {
        agg.record(&r);
    }
    agg.finish(run_end(t0))
}

/// `a` is within HDR's 3-significant-digit precision of `b`.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= b.abs() * 0.001 + 1e-12
}

#[test]
fn counters_are_exact() {
    let m = sample_run();
    let c = &m.counters;
    assert_eq!(m.conversations(), 4);
    assert_eq!(c.outcomes[&Outcome::Answered], 2);
    assert_eq!(c.outcomes[&Outcome::BlockedBySanitizer], 1);
    assert_eq!(c.outcomes[&Outcome::Failed], 1);
    assert_eq!(m.conversation_errors(), 1);
    assert_eq!(c.calls, 4);
    assert_eq!(c.call_errors, 1);
    assert_eq!(c.calls_by_error[&ErrorClass::RateLimited], 1);
    assert_eq!(c.calls_by_status[&Some(200)], 3);
    assert_eq!(c.calls_by_status[&Some(429)], 1);
    // Sent attempts: 2 + 3 + 2; the breaker refusal is local, not an attempt on the wire.
    assert_eq!(c.attempts, 7);
    assert_eq!(c.local_refusals, 1);
    assert_eq!(c.attempts_by_error[&ErrorClass::Server], 2);
    assert_eq!(c.attempts_by_error[&ErrorClass::RateLimited], 2);
    assert_eq!(c.attempts_by_error[&ErrorClass::BreakerOpen], 1);
    assert_eq!(c.attempts_by_status[&None], 1);
    // Retries are per model: the fallback call's move to deepseek is a fallback, not a retry.
    assert_eq!(c.retries, 2);
    assert_eq!(c.fallbacks, 1);
    assert_eq!(c.sanitizer_threats["prompt_injection"], 1);
    assert_eq!(c.conversations_with_threats, 1);
    assert_eq!(c.budget_warnings, 1);
    assert_eq!(c.tools_by_status["ok"], 1);
    assert_eq!(c.usage, Usage::billed(4500, 1200, 650));
    assert_eq!(c.unpriced_calls, 0);
    assert_eq!(m.dropped_arrivals, 3);
    assert_eq!(m.session_evictions, 2);
    assert_eq!(m.local_rate_limit_rejections, 5);
    assert_eq!(m.duration, ms(7000));
}

#[test]
fn costs_match_hand_computation_and_fallback_is_priced_at_its_own_price() {
    let m = sample_run();
    // gpt-4.1: (800*2 + 200*0.5 + 100*8)/1e6 = 0.0025; (500*2 + 1000*0.5 + 50*8)/1e6 = 0.0019.
    // deepseek-v3.2 fallback: (2000*0.28 + 500*0.42)/1e6 = 0.00077.
    let gpt = &m.models["gpt-4.1"];
    let ds = &m.models["deepseek-v3.2"];
    assert!((gpt.usd - 0.0044).abs() < 1e-12, "{}", gpt.usd);
    assert!((ds.usd - 0.00077).abs() < 1e-12, "{}", ds.usd);
    assert!((m.counters.usd_total - 0.00517).abs() < 1e-12);
    // The failed call is timed under the model it last tried, and costs nothing.
    assert_eq!(gpt.calls, 3);
    assert_eq!(gpt.errors, 1);
    assert_eq!(ds.calls, 1);
    assert_eq!(ds.fallbacks, 1);
    assert_eq!(ds.usage, Usage::billed(2000, 0, 500));
}

#[test]
fn percentiles_are_within_hdr_precision() {
    let m = sample_run();
    let h = &m.hist;
    // Call latencies: 100, 300, 1800, 3000 ms.
    assert_eq!(h.call_us.len(), 4);
    assert!(close(h.call_us.value_at_quantile(0.5) as f64, 300_000.0));
    assert!(close(h.call_us.value_at_quantile(0.95) as f64, 3_000_000.0));
    assert!(close(h.call_us.max() as f64, 3_000_000.0));
    assert!(close(
        m.models["deepseek-v3.2"].call_latency_us.max() as f64,
        1_800_000.0
    ));
    assert!(close(
        m.models["gpt-4.1"].call_latency_us.value_at_quantile(0.5) as f64,
        300_000.0
    ));
    // Attempts on the wire: 100, 300, 200, 200, 400, 50, 50 ms.
    assert_eq!(h.attempt_us.len(), 7);
    assert!(close(h.attempt_us.max() as f64, 400_000.0));
    assert!(close(h.ttft_us.max() as f64, 80_000.0));
    assert_eq!(h.inter_chunk_us.len(), 4);
    assert!(close(h.inter_chunk_us.max() as f64, 20_000.0));
    // Conversations: 1 ms (blocked at input, nothing sent: left out), 500, 2000, 3000 ms.
    assert_eq!(h.conversation_us.len(), 3);
    assert_eq!(m.conversations_sent(), 3);
    assert!(close(
        h.conversation_us.value_at_quantile(0.5) as f64,
        2_000_000.0
    ));
    // Open model: 500 ms from a start that came 100 ms late.
    assert!(close(
        h.conversation_from_intended_us.max() as f64,
        600_000.0
    ));
    assert!(close(h.scheduler_lag_us.max() as f64, 100_000.0));
    assert!(close(h.tool_us.max() as f64, 20_000.0));
    // Dollars per conversation that reached the model: 0, 0.00077, 0.0044 (nano-dollars);
    // the blocked one sent nothing and does not dilute it.
    assert_eq!(h.conversation_cost_nano_usd.len(), 3);
    assert!(close(
        h.conversation_cost_nano_usd.max() as f64,
        4_400_000.0
    ));
    assert!(close(
        h.conversation_cost_nano_usd.value_at_quantile(0.5) as f64,
        770_000.0
    ));
}

#[test]
fn timeline_counts_by_second_and_shades_breaker_open_time() {
    let m = sample_run();
    let s = &m.timeline.seconds;
    assert_eq!(s.len(), 7, "one row per second of a 7 s run");
    assert_eq!(s[0].conversations_started, 1);
    assert_eq!(s[0].conversations_finished, 1);
    assert_eq!(s[0].calls, 2);
    assert!((s[0].usd - 0.0044).abs() < 1e-12);
    // Conversation 2's call ends at 2.8 s, conversation 4's at 6 s.
    assert_eq!(s[2].calls, 1);
    assert_eq!(s[2].fallbacks, 1);
    assert_eq!(s[6].errors, 1);
    // Per-second histograms keep 2 significant digits: within 1%.
    let p95 = s[6].call_p95_us().unwrap_or(0) as f64;
    assert!((p95 - 3_000_000.0).abs() <= 30_000.0, "{p95}");
    assert_eq!(s[1].call_p95_us(), None);
    let open = |i: usize| s[i].breaker_open_s.get("gpt-4.1").copied().unwrap_or(0.0);
    assert!((open(2) - 0.5).abs() < 1e-9);
    assert!((open(3) - 1.0).abs() < 1e-9);
    assert_eq!(open(4), 0.0);
    assert_eq!(m.breaker_transitions[0].to, "open", "sorted by time");
    assert_eq!(m.breaker_transitions[0].at, ms(2500));
}

#[test]
fn live_view_follows_records() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, prices());
    let live = agg.live();
    live.set_users_active(12);
    for r in sample_records(t0) {
        agg.record(&r);
    }
    let s = live.snapshot();
    assert_eq!(s.users_active, 12);
    assert_eq!(s.conversations, 4);
    assert_eq!(s.calls, 4);
    assert_eq!(s.errors, 1);
    assert_eq!(s.fallbacks, 1);
    assert_eq!(s.nano_usd, 5_170_000);
    assert!(s.p95_call_us > 0);
}

#[test]
fn a_model_missing_from_the_price_table_is_counted_not_guessed() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, PriceTable::default());
    for r in sample_records(t0) {
        agg.record(&r);
    }
    let m = agg.finish(run_end(t0));
    assert_eq!(m.counters.unpriced_calls, 4);
    assert_eq!(m.counters.usd_total, 0.0);
}

#[test]
fn scheduler_lag_from_the_load_report_replaces_the_derived_one() {
    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, prices());
    for r in sample_records(t0) {
        agg.record(&r);
    }
    let mut end = run_end(t0);
    let mut lag = reactbench::metrics::new_histogram();
    reactbench::metrics::record(&mut lag, 5_000);
    reactbench::metrics::record(&mut lag, 7_000);
    end.load.scheduler_lag_us = Some(lag);
    let m = agg.finish(end);
    assert_eq!(m.hist.scheduler_lag_us.len(), 2);
    assert!(close(m.hist.scheduler_lag_us.max() as f64, 7_000.0));
}

#[test]
fn a_time_far_past_the_run_cannot_grow_the_timeline_without_bound() {
    let mut t = reactbench::metrics::Timeline::default();
    t.at(Duration::from_secs(u64::MAX / 2)).calls += 1;
    assert_eq!(
        t.seconds.len() as u64,
        reactbench::metrics::timeline::MAX_SECONDS
    );
    assert_eq!(t.seconds.last().map(|s| s.calls), Some(1));
}

/// The per-call facts of issue 14 reach the summary: finish reasons, time per output token,
/// time to the first answer token after reasoning, reasoning tokens, ignored streams, and turns
/// held by the local rate limit, which stay out of throughput and cost per conversation.
#[test]
fn finish_reasons_tpot_reasoning_and_local_waits_are_reported() {
    use reactbench::report::summary::Summary;
    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, prices());
    // A reasoning model: first token (reasoning) at 100 ms, first answer token at 400 ms,
    // 1,100 ms in all for 11 completion tokens (5 of them reasoning): tpot (1100-100)/10 = 100 ms.
    let mut c1 = conversation(1, t0, 1200, Outcome::Answered);
    let mut u = Usage::billed(1000, 0, 11);
    u.reasoning_tokens = 5;
    let mut call = ok_call(1, t0, 1100, u, 100);
    call.ttft_answer = Some(ms(400));
    call.finish_reason = Some("stop".to_string());
    c1.calls = vec![call];
    c1.session_wait = Some(ms(2000));
    // Cut at the completion limit, with a stream the server ignored.
    let mut c2 = conversation(2, t0, 600, Outcome::Truncated);
    let mut call = ok_call(1, t0, 500, Usage::billed(500, 0, 1), 0);
    call.ttft = None;
    call.ttft_answer = None;
    call.inter_chunk_gaps_us.clear();
    call.finish_reason = Some("length".to_string());
    call.stream_ignored = true;
    c2.calls = vec![call];
    // A server's own reason, and one sending none.
    let mut c3 = conversation(3, t0, 300, Outcome::ContentFiltered);
    let mut call = ok_call(1, t0, 200, Usage::billed(100, 0, 2), 50);
    call.finish_reason = Some("eos_token".to_string());
    c3.calls = vec![call];
    // Held by the local limiter until the run ended: nothing sent.
    let mut c4 = conversation(4, t0, 5000, Outcome::SessionRateLimited);
    c4.session_wait = Some(ms(5000));
    for r in [&c1, &c2, &c3, &c4] {
        agg.record(r);
    }
    let m = agg.finish(run_end(t0));
    let s = Summary::from_metrics(&m);
    let f = &s.llm_call.by_finish_reason;
    assert_eq!(
        (f["stop"], f["length"], f["other"], f["none"]),
        (1, 1, 1, 0)
    );
    assert_eq!(s.llm_call.stream_ignored, 1);
    // tpot: 100 ms for the reasoning call, (200-50)/1 = 150 ms for the two-token one.
    assert!(
        close(s.llm_call.tpot_ms.p50, 100.0),
        "{:?}",
        s.llm_call.tpot_ms
    );
    assert!(
        close(s.llm_call.tpot_ms.max, 150.0),
        "{:?}",
        s.llm_call.tpot_ms
    );
    assert_eq!(
        s.llm_call.tpot_ms.count, 2,
        "the one-token call has no tpot"
    );
    assert!(close(s.llm_call.ttft_ms.p50, 50.0) && close(s.llm_call.ttft_ms.max, 100.0));
    assert!(close(s.llm_call.ttft_answer_ms.max, 400.0));
    assert!(
        close(s.llm_call.output_tokens_per_s.p50, 10.0),
        "11 tokens in 1.1 s"
    );
    assert_eq!(s.tokens.reasoning, 5);
    assert_eq!(s.cost.by_model["gpt-4.1"].reasoning, 5);
    // Reasoning is inside completion tokens: priced once, at the output price.
    let want_usd = ((1000.0 + 500.0 + 100.0) * 2.0 + (11.0 + 1.0 + 2.0) * 8.0) / 1e6;
    assert!((s.cost.usd_total - want_usd).abs() < 1e-12);
    // Three conversations reached the model; the fourth waited locally and sent nothing.
    assert_eq!((s.conversation.count, s.conversation.sent), (4, 3));
    assert_eq!(s.conversation.local_only, 1);
    assert!((s.cost.usd_per_conversation - want_usd / 3.0).abs() < 1e-12);
    assert_eq!(s.conversation.latency_ms.count, 3);
    assert_eq!(s.sessions.rate_limited_turns, 2);
    assert!(close(s.sessions.wait_ms.max, 5000.0));
    // Empty, truncated and filtered replies are errors, never answers.
    assert_eq!(s.conversation.errors, 2);
    assert_eq!(s.conversation.by_outcome["session_rate_limited"], 1);
}

/// The prompt cache's saving: cached tokens priced at the input price less the cached one, by
/// the answering model (gpt-4.1 here: 1,200 cached tokens at $2.00 - $0.50 per Mtok).
#[test]
fn cached_tokens_saving_is_priced_by_the_answering_model() {
    let s = reactbench::report::summary::Summary::from_metrics(&sample_run());
    assert_eq!(s.tokens.cached, 1200);
    assert!(
        (s.cost.cached_saving_usd - 1200.0 * 1.5 / 1e6).abs() < 1e-15,
        "{}",
        s.cost.cached_saving_usd
    );
}
