//! The end-of-run summary as aligned text tables (for the terminal) and as Markdown (for
//! `summary.md` and pull requests). Both come from the same [`Summary`] and the same table
//! layout, so they never disagree.
//!
//! The terminal table is the run's result, so it goes to stdout (data), while progress and
//! warnings go to stderr. Colour (bold headings, red error counts) only when asked for: the
//! caller passes `color = false` when stdout is not a terminal or `NO_COLOR` is set
//! ([`color_enabled`]).

use std::fmt::Write as _;
use std::io::IsTerminal;

mod table;

pub use table::Table;

use super::format::{ms_table, percent, usd_summary};
use super::summary::{LatencyMs, Summary};

/// True when colour should be used on a stream: it is a terminal and `NO_COLOR` is unset or
/// empty (<https://no-color.org>).
pub fn color_enabled(is_terminal: bool) -> bool {
    color_decision(is_terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// The colour decision for a stream's terminal-ness and the value of `NO_COLOR`, if set.
pub fn color_decision(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Whether stdout gets colour.
pub fn stdout_color() -> bool {
    color_enabled(std::io::stdout().is_terminal())
}

/// The summary's sections as (title, table) pairs, shared by the text and Markdown forms;
/// sections with nothing to show are left out.
pub fn sections(s: &Summary) -> Vec<(String, Table)> {
    sections_with(s, true)
}

/// [`sections`] without the per-tool table: the HTML page shows a fuller one of its own.
pub fn sections_without_tools(s: &Summary) -> Vec<(String, Table)> {
    sections_with(s, false)
}

fn sections_with(s: &Summary, with_tools: bool) -> Vec<(String, Table)> {
    let mut out = Vec::new();
    out.push(throughput(s));
    out.push(retries(s));
    out.push(latency(s));
    out.extend(finish_reasons(s));
    out.push(outcomes(s));
    out.extend(slo(s));
    out.extend(errors(s));
    if with_tools {
        out.extend(tools(s));
    }
    out.extend(prompt_by_step(s));
    out.push(cost_by_model(s));
    out.push(cost_per_conversation(s));
    out.extend(controls(s));
    out.extend(guard(s));
    out.extend(server(s));
    out
}

/// The service-level objectives: attainment with its interval, goodput, and the share of
/// conversations that missed each objective; `None` without `[slo]`.
fn slo(s: &Summary) -> Option<(String, Table)> {
    let o = s.slo.as_ref()?;
    let mut t = Table::new(&["objective", "bound", "missed by"]);
    for (k, bound) in &o.objectives {
        let missed = o.missed.get(k).copied().unwrap_or(0.0);
        t.row(vec![k.clone(), bound.clone(), percent(missed)]);
    }
    t.row(vec![
        "attainment (good conversations)".into(),
        format!("{} of {}", o.good, o.conversations),
        format!(
            "{} [{}, {}]",
            percent(o.attainment),
            percent(o.attainment_low),
            percent(o.attainment_high)
        ),
    ]);
    t.row(vec![
        "goodput".into(),
        format!("{:.2} good conversations/s", o.goodput_per_second),
        String::new(),
    ]);
    Some(("SLO".to_string(), t))
}

/// The guard stage: verdicts, errors and latency; `None` without a guard.
fn guard(s: &Summary) -> Option<(String, Table)> {
    let g = s.guard.as_ref()?;
    let mut t = Table::new(&["guard", "value"]);
    t.row(vec!["checks".into(), g.checks.to_string()]);
    t.row(vec![
        "requests (retries included)".into(),
        g.requests.to_string(),
    ]);
    t.row(vec![
        "  failed requests".into(),
        g.failed_requests.to_string(),
    ]);
    for (verdict, n) in &g.by_verdict {
        t.row(vec![format!("  {verdict}"), n.to_string()]);
    }
    t.row(vec!["error rate".into(), percent(g.error_rate)]);
    for (kind, n) in &g.by_error {
        t.row(vec![format!("  error: {kind}"), n.to_string()]);
    }
    let l = &g.latency_ms;
    t.row(vec![
        "latency p50 / p95 / p99 / max".into(),
        format!(
            "{:.1} / {:.1} / {:.1} / {:.1} ms",
            l.p50, l.p95, l.p99, l.max
        ),
    ]);
    if g.usd_total > 0.0 {
        t.row(vec![
            "usd (not in the model's cost)".into(),
            usd_summary(g.usd_total),
        ]);
    }
    Some(("Guard".to_string(), t))
}

/// Most server metrics listed in the table (summary.json has them all).
const MAX_SERVER_ROWS: usize = 12;

/// The server's own metrics and its token counters beside ours; `None` when not scraped.
fn server(s: &Summary) -> Option<(String, Table)> {
    let sec = s.server.as_ref()?;
    let mut t = Table::new(&["server metric", "kind", "mean", "max", "last", "increase"]);
    let num = |v: f64| {
        if v.abs() >= 100.0 || v == v.trunc() {
            format!("{v:.0}")
        } else {
            format!("{v:.3}")
        }
    };
    for (name, m) in sec.metrics.iter().take(MAX_SERVER_ROWS) {
        let kind = if m.kind == "counter" {
            "rate/s"
        } else {
            "gauge"
        };
        t.row(vec![
            name.clone(),
            kind.to_string(),
            num(m.mean),
            num(m.max),
            num(m.last),
            m.increase.map(num).unwrap_or_default(),
        ]);
    }
    if sec.metrics.len() > MAX_SERVER_ROWS {
        t.row(vec![
            format!(
                "... {} more in summary.json and server_metrics.csv",
                sec.metrics.len() - MAX_SERVER_ROWS
            ),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    if let Some(tk) = &sec.tokens {
        for (what, metric, server, diff) in [
            (
                "prompt",
                &tk.prompt_metric,
                tk.server_prompt,
                tk.prompt_difference,
            ),
            (
                "completion",
                &tk.generation_metric,
                tk.server_generation,
                tk.generation_difference,
            ),
        ] {
            t.row(vec![
                format!("{what} tokens: server {metric} vs ours"),
                "check".into(),
                num(server),
                String::new(),
                String::new(),
                format!("{diff:+.0}"),
            ]);
        }
    }
    let title = format!(
        "Server metrics from {} ({} scrapes, {} failed)",
        sec.source, sec.scrapes.ok, sec.scrapes.failed
    );
    Some((title, t))
}

/// Conversations and calls: counts, rates and error rates.
fn throughput(s: &Summary) -> (String, Table) {
    let mut t = Table::new(&["", "count", "per second", "error rate"]);
    t.row(vec![
        "conversations sent to the model".into(),
        s.conversation.sent.to_string(),
        format!("{:.2}", s.conversation.per_second),
        percent(s.conversation.error_rate),
    ]);
    if s.conversation.local_only > 0 {
        // Settled without a request (blocked input, refused session, the local per-user rate
        // limit, spend cap): shown beside throughput, never inside it.
        t.row(vec![
            "  settled locally, nothing sent".into(),
            s.conversation.local_only.to_string(),
            String::new(),
            String::new(),
        ]);
    }
    t.row(vec![
        "llm calls".into(),
        s.llm_call.count.to_string(),
        format!("{:.2}", s.llm_call.per_second),
        percent(s.llm_call.error_rate),
    ]);
    ("Throughput".to_string(), t)
}

/// Retries, fallbacks and local refusals.
fn retries(s: &Summary) -> (String, Table) {
    let mut t = Table::new(&["calls", "value"]);
    let rows = [
        ("attempts sent", s.attempt.count.to_string()),
        ("retries", s.llm_call.retries.to_string()),
        (
            "retry amplification (attempts per call)",
            format!("{:.3}", s.llm_call.retry_amplification),
        ),
        ("fallbacks", s.llm_call.fallbacks.to_string()),
        ("fallback rate", percent(s.llm_call.fallback_rate)),
        (
            "attempts refused locally",
            s.attempt.local_refusals.to_string(),
        ),
        (
            "steps per conversation",
            format!("{:.2}", s.conversation.steps_mean),
        ),
    ];
    for (k, v) in rows {
        t.row(vec![k.to_string(), v]);
    }
    ("Retries and fallbacks".to_string(), t)
}

/// Latency percentiles of every histogram with samples (the main ones always).
fn latency(s: &Summary) -> (String, Table) {
    let mut t = Table::new(&["latency (ms)", "count", "p50", "p90", "p95", "p99", "max"]);
    let mut lat = |name: String, l: &LatencyMs, always: bool| {
        if always || l.count > 0 {
            t.row(vec![
                name,
                l.count.to_string(),
                ms_table(l.p50),
                ms_table(l.p90),
                ms_table(l.p95),
                ms_table(l.p99),
                ms_table(l.max),
            ]);
        }
    };
    lat("llm call".into(), &s.llm_call.latency_ms, true);
    for (model, m) in &s.llm_call.by_model {
        lat(format!("  {model}"), &m.latency_ms, false);
    }
    lat("attempt".into(), &s.attempt.latency_ms, true);
    lat("time to first token".into(), &s.llm_call.ttft_ms, false);
    for (model, m) in &s.llm_call.by_model {
        lat(format!("  {model}"), &m.ttft_ms, false);
    }
    lat(
        "time to first answer token".into(),
        &s.llm_call.ttft_answer_ms,
        false,
    );
    lat("time per output token".into(), &s.llm_call.tpot_ms, false);
    lat("inter-chunk gap".into(), &s.llm_call.inter_chunk_ms, false);
    lat("conversation".into(), &s.conversation.latency_ms, true);
    lat(
        "conversation from intended start".into(),
        &s.conversation.latency_from_intended_ms,
        false,
    );
    lat("tool".into(), &s.tool.latency_ms, false);
    lat("scheduler lag".into(), &s.load.scheduler_lag_ms, false);
    lat(
        "wait for the local rate limit".into(),
        &s.sessions.wait_ms,
        false,
    );
    ("Latency".to_string(), t)
}

/// Per tool: calls, failures, refusals, latency and output tokens; `None` when no tool ran.
fn tools(s: &Summary) -> Option<(String, Table)> {
    if s.tool.by_tool.is_empty() {
        return None;
    }
    let mut t = Table::new(&[
        "tool",
        "calls",
        "failed",
        "refused",
        "p50 ms",
        "p95 ms",
        "output tok",
        "tok/call",
    ]);
    for (name, x) in &s.tool.by_tool {
        t.row(vec![
            name.clone(),
            x.calls.to_string(),
            x.errors.to_string(),
            x.refused.to_string(),
            ms_table(x.latency_ms.p50),
            ms_table(x.latency_ms.p95),
            x.output_tokens.to_string(),
            format!("{:.0}", x.output_tokens_mean),
        ]);
    }
    Some(("Tools".to_string(), t))
}

/// Mean prompt tokens at each step index, by part, and each part's share of all prompt
/// tokens: where the money goes as the history grows; `None` when no prompt was counted.
fn prompt_by_step(s: &Summary) -> Option<(String, Table)> {
    let p = s.prompt.as_ref()?;
    let mut t = Table::new(&[
        "step",
        "calls",
        "prompt tok",
        "system",
        "tool schemas",
        "history",
        "tool results",
        "billed",
        "cached",
    ]);
    for r in &p.by_step {
        t.row(vec![
            r.step.to_string(),
            r.calls.to_string(),
            format!("{:.0}", r.prompt_tokens),
            format!("{:.0}", r.system),
            format!("{:.0}", r.tool_schemas),
            format!("{:.0}", r.history),
            format!("{:.0}", r.tool_results),
            format!("{:.0}", r.billed_prompt_tokens),
            format!("{:.0}", r.cached_tokens),
        ]);
    }
    t.row(vec![
        "share".into(),
        String::new(),
        p.counted_tokens.to_string(),
        percent(p.share.system),
        percent(p.share.tool_schemas),
        percent(p.share.history),
        percent(p.share.tool_results),
        String::new(),
        String::new(),
    ]);
    Some(("Prompt tokens by step (mean per call)".to_string(), t))
}

/// Answered calls by finish reason; `None` when none was reported.
fn finish_reasons(s: &Summary) -> Option<(String, Table)> {
    let mut t = Table::new(&["finish reason", "answered calls"]);
    for (reason, n) in s.llm_call.by_finish_reason.iter().filter(|(_, n)| **n > 0) {
        t.row(vec![reason.clone(), n.to_string()]);
    }
    if s.llm_call.stream_ignored > 0 {
        t.row(vec![
            "(stream asked, whole JSON reply sent)".into(),
            s.llm_call.stream_ignored.to_string(),
        ]);
    }
    (!t.rows.is_empty()).then(|| ("Finish reasons".to_string(), t))
}

/// Conversations by outcome.
fn outcomes(s: &Summary) -> (String, Table) {
    let mut t = Table::new(&["outcome", "conversations", "share"]);
    let total = s.conversation.count.max(1) as f64;
    for (o, n) in s.conversation.by_outcome.iter().filter(|(_, n)| **n > 0) {
        t.row(vec![o.clone(), n.to_string(), percent(*n as f64 / total)]);
    }
    ("Outcomes".to_string(), t)
}

/// Failed calls and attempts by error class; `None` without failures.
fn errors(s: &Summary) -> Option<(String, Table)> {
    let mut t = Table::new(&["error class", "failed calls", "failed attempts"]);
    for (class, attempts) in &s.attempt.by_error_class {
        let calls = s.llm_call.by_error_class.get(class).copied().unwrap_or(0);
        if calls > 0 || *attempts > 0 {
            t.row(vec![class.clone(), calls.to_string(), attempts.to_string()]);
        }
    }
    (!t.rows.is_empty()).then(|| ("Errors".to_string(), t))
}

/// Tokens and dollars by model, with the total.
fn cost_by_model(s: &Summary) -> (String, Table) {
    let mut t = Table::new(&[
        "model",
        "calls",
        "prompt tok",
        "cached tok",
        "completion tok",
        "usd",
        "usd/call",
    ]);
    for (model, c) in &s.cost.by_model {
        t.row(vec![
            model.clone(),
            c.calls.to_string(),
            c.prompt.to_string(),
            c.cached.to_string(),
            c.completion.to_string(),
            usd_summary(c.usd),
            usd_summary(if c.calls == 0 {
                0.0
            } else {
                c.usd / c.calls as f64
            }),
        ]);
    }
    t.row(vec![
        "total".into(),
        s.llm_call.count.to_string(),
        s.tokens.prompt.to_string(),
        s.tokens.cached.to_string(),
        s.tokens.completion.to_string(),
        usd_summary(s.cost.usd_total),
        usd_summary(s.cost.usd_per_call),
    ]);
    if s.tokens.cached > 0 {
        t.row(vec![
            "saved by the prompt cache".into(),
            String::new(),
            String::new(),
            s.tokens.cached.to_string(),
            String::new(),
            usd_summary(s.cost.cached_saving_usd),
            String::new(),
        ]);
    }
    let title = if s.tokens.estimated {
        "Tokens and cost by model (some token counts estimated locally)"
    } else {
        "Tokens and cost by model"
    };
    (title.to_string(), t)
}

/// Dollars per conversation: mean and percentiles.
fn cost_per_conversation(s: &Summary) -> (String, Table) {
    let p = &s.cost.usd_per_conversation_percentiles;
    let mut t = Table::new(&["cost per conversation", "mean", "p50", "p95", "p99", "max"]);
    t.row(vec![
        "usd".into(),
        usd_summary(s.cost.usd_per_conversation),
        usd_summary(p.p50),
        usd_summary(p.p95),
        usd_summary(p.p99),
        usd_summary(p.max),
    ]);
    ("Cost per conversation".to_string(), t)
}

/// Breakers, sanitizer, budget, sessions and drops that acted; `None` when none did.
fn controls(s: &Summary) -> Option<(String, Table)> {
    let mut t = Table::new(&["control", "count"]);
    let mut ctl = |name: &str, n: u64| {
        if n > 0 {
            t.row(vec![name.to_string(), n.to_string()]);
        }
    };
    ctl("breaker transitions", s.breaker.transitions.len() as u64);
    ctl("breaker opened", s.breaker.opened);
    ctl(
        "sanitizer: blocked conversations",
        s.sanitizer.blocked_conversations,
    );
    for (kind, n) in &s.sanitizer.by_threat {
        ctl(&format!("sanitizer: {kind}"), *n);
    }
    ctl("budget warnings", s.budget.warnings);
    ctl("budget exceeded", s.budget.exceeded);
    ctl("max steps reached", s.budget.max_steps);
    ctl("session evictions", s.sessions.evictions);
    ctl(
        "turns held by the local per-user rate limit (not an endpoint 429)",
        s.sessions.rate_limited_turns,
    );
    ctl("dropped arrivals (open model)", s.load.dropped_arrivals);
    ctl("unpriced calls", s.cost.unpriced_calls);
    for (key, secs) in &s.breaker.open_s {
        t.row(vec![
            format!("breaker {key} open (s)"),
            format!("{secs:.1}"),
        ]);
    }
    (!t.rows.is_empty()).then(|| ("Controls".to_string(), t))
}

fn headline(s: &Summary) -> String {
    let part = match (&s.shard, &s.merged) {
        (Some(sh), _) => format!(" · shard {}/{}", sh.index, sh.count),
        (None, Some(m)) => format!(" · merged from {} shards", m.count),
        (None, None) => String::new(),
    };
    format!(
        "{}{part} · {:.1} s · seed {} · {} load · {} endpoint · started {}{}",
        s.run.name,
        s.run.duration_s,
        s.run.seed,
        s.run.load_model,
        s.run.endpoint_kind,
        s.run.started_at,
        if s.run.interrupted {
            " · INTERRUPTED (partial results)"
        } else {
            ""
        }
    )
}

/// Fewer samples than this make a p99 little more than the maximum.
const MIN_SAMPLES_FOR_P99: u64 = 100;

/// Warnings about how far the figures can be trusted, each saying how to fix the cause; the
/// runner prints them on stderr after the table.
pub fn warnings(s: &Summary) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(sec) = &s.server {
        if sec.scrapes.failed > 0 {
            w.push(format!(
                "{} of {} scrapes of the server's metrics ({}) failed{}; the run's own figures \
                 are unaffected. Check endpoint.metrics_url.",
                sec.scrapes.failed,
                sec.scrapes.failed + sec.scrapes.ok,
                sec.source,
                sec.scrapes
                    .last_error
                    .as_deref()
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(tk) = &sec.tokens
            && (tk.prompt_difference != 0.0 || tk.generation_difference != 0.0)
        {
            w.push(format!(
                "the server counted {:+.0} prompt and {:+.0} completion tokens more than this run \
                 did (other clients of the server, requests cut before their usage, or locally \
                 estimated counts)",
                tk.prompt_difference, tk.generation_difference
            ));
        }
    }
    if s.run.interrupted {
        let cut = s
            .conversation
            .by_outcome
            .get("interrupted")
            .copied()
            .unwrap_or(0);
        w.push(if cut > 0 {
            format!(
                "the run was interrupted: {cut} conversations in flight were cut short and \
                 counted as `interrupted`; let it finish (or lengthen the grace period) for \
                 clean figures"
            )
        } else {
            "the run stopped early (a signal, the spend cap or `abort_on_fail`): every \
             conversation it started finished, but the load ran for less than planned"
                .to_string()
        });
    }
    if s.llm_call.count > 0 && s.llm_call.count < MIN_SAMPLES_FOR_P99 {
        w.push(format!(
            "only {} LLM calls: p99 is close to the maximum and noisy; run longer or with more \
             users for at least {MIN_SAMPLES_FOR_P99}",
            s.llm_call.count
        ));
    }
    if s.conversation.count > 0 && s.conversation.error_rate > 0.05 {
        w.push(format!(
            "{:.1}% of conversations ended in an error; see errors.csv for the classes \
             (rate limits, timeouts, outages) before reading latency or cost figures",
            s.conversation.error_rate * 100.0
        ));
    }
    let outcome = |k: &str| s.conversation.by_outcome.get(k).copied().unwrap_or(0);
    let undiagnosed: Vec<String> = [
        "unparseable",
        "empty_reply",
        "truncated",
        "content_filtered",
    ]
    .iter()
    .filter(|k| outcome(k) > 0)
    .map(|k| format!("{} {k}", outcome(k)))
    .collect();
    if !undiagnosed.is_empty() {
        w.push(format!(
            "the model answered but not usably ({}): conversations.csv has each one's outcome \
             and, for unparseable replies, the parse failure and an excerpt in `error_detail`; \
             calls.csv has every call's `finish_reason`",
            undiagnosed.join(", ")
        ));
    }
    if s.sessions.rate_limited_turns > 0 {
        w.push(format!(
            "{} turns waited for the local per-user rate limit (`[agent.sessions] rate_limit`, \
             nothing sent, not an endpoint 429; longest wait {:.0} ms): raise the limit or the \
             think time if real users would not wait",
            s.sessions.rate_limited_turns, s.sessions.wait_ms.max
        ));
    }
    if s.load.dropped_arrivals > 0 {
        w.push(format!(
            "{} arrivals were dropped at the in-flight cap: the system (or this machine) could \
             not keep up with the arrival rate; lower the rate or raise the cap",
            s.load.dropped_arrivals
        ));
    }
    let lag = &s.load.scheduler_lag_ms;
    if lag.count > 0 && lag.p99 > 100.0 {
        w.push(format!(
            "the load generator lagged behind its schedule (scheduler lag p99 {:.0} ms): this \
             machine is saturated; use fewer users or a faster machine, and read latency from \
             the intended start",
            lag.p99
        ));
    }
    if s.cost.unpriced_calls > 0 {
        w.push(format!(
            "{} calls were answered by models missing from the price table and billed $0; add \
             them to the table",
            s.cost.unpriced_calls
        ));
    }
    if s.tokens.estimated {
        w.push(
            "some token counts were estimated locally because the endpoint sent no usage; \
             costs are approximate (enable stream_options.include_usage on the endpoint)"
                .to_string(),
        );
    }
    w
}

/// The summary as aligned text tables for the terminal.
pub fn render_table(s: &Summary, color: bool) -> String {
    let mut out = String::new();
    let (b, r) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let _ = writeln!(out, "{b}{}{r}", headline(s));
    for (title, t) in sections(s) {
        let _ = writeln!(out);
        let _ = writeln!(out, "{b}{title}{r}");
        let text = t.to_text(color);
        if color && title == "Errors" {
            // Red draws the eye to failures; only when colour is allowed.
            for l in text.lines() {
                let _ = writeln!(out, "\x1b[31m{l}\x1b[0m");
            }
        } else {
            out.push_str(&text);
        }
    }
    out
}

impl Summary {
    /// The summary as Markdown, ready to paste into a pull request: the tables, then the
    /// threshold results. Defined here, beside the tables it renders, so that `summary` (the
    /// data) depends on no renderer.
    pub fn to_markdown(&self) -> String {
        let mut md = render_markdown(self);
        md.push_str(&super::gates::render_markdown(&self.thresholds));
        md
    }
}

/// The summary as Markdown (`summary.md`).
pub fn render_markdown(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## reactbench: {}", s.run.name.replace('|', "\\|"));
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", headline(s));
    for (title, t) in sections(s) {
        let _ = writeln!(out);
        let _ = writeln!(out, "### {title}");
        let _ = writeln!(out);
        out.push_str(&t.to_markdown());
    }
    out
}
