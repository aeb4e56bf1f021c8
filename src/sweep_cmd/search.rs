//! The search for the highest load meeting the SLO, and the figures of one step.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cli::RunArgs;
use crate::metrics::RunMetrics;
use crate::metrics::slo::wilson_95;
use crate::pricing::PriceTable;
use crate::report::summary::{LatencyMs, Summary};
use crate::scenario::{LoadShape, MAX_USERS, Plan, SweepPlan};

/// Default length of a step's load when the scenario sets no `duration`.
const DEFAULT_STEP: Duration = Duration::from_secs(30);
/// Seconds in a day, and days in a month, for the cost at a load.
const DAY_S: f64 = 86_400.0;
const MONTH_DAYS: f64 = 30.0;

/// What a step sets: users (closed model) or the arrival rate (open model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadKind {
    /// Virtual users of a closed model.
    Users,
    /// Conversations started per second of an open model.
    Rate,
}

impl LoadKind {
    /// The kind of load `plan` lets a sweep set, or why it cannot.
    pub fn of(plan: &Plan) -> anyhow::Result<LoadKind> {
        match &plan.load.shape {
            LoadShape::Closed(c) if c.explicit_stages => bail!(
                "its [[load.stages]] set the users; a sweep sets them itself: give `users` (and \
                 `ramp_up`) instead"
            ),
            LoadShape::Closed(_) => Ok(LoadKind::Users),
            LoadShape::Open(_) => Ok(LoadKind::Rate),
            LoadShape::Replay(_) => bail!(
                "a replay has neither users nor a rate to step; sweep a closed (`users`) or open \
                 (`arrival_rate`) scenario"
            ),
        }
    }

    /// The unit, for tables and the answer.
    pub fn unit(self) -> &'static str {
        match self {
            LoadKind::Users => "users",
            LoadKind::Rate => "conversations/s",
        }
    }
}

/// A load as a file-name part: `32` or `2.5`.
pub fn load_label(load: f64) -> String {
    if load.fract() == 0.0 {
        format!("{load:.0}")
    } else {
        format!("{load:.2}").trim_end_matches('0').to_string()
    }
}

/// How a step's attainment compares with the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval is at or above the target.
    Pass,
    /// The whole interval is below the target.
    Fail,
    /// The interval straddles the target even after the repeats: not a pass.
    Uncertain,
    /// Stopped by Ctrl-C before its end: not judged.
    Interrupted,
}

/// One step: its load and the figures of its conversations after the warm-up.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The model.
    pub model: String,
    /// Users or conversations per second.
    pub load: f64,
    /// The step's report directories (more than one when repeated).
    pub dirs: Vec<PathBuf>,
    /// Runs pooled into this step (1 + repeats).
    pub runs: u32,
    /// The verdict.
    pub verdict: Verdict,
    /// Conversations judged (after the warm-up).
    pub conversations: u64,
    /// Good conversations.
    pub good: u64,
    /// `good / conversations`.
    pub attainment: f64,
    /// 95% Wilson interval of the attainment.
    pub attainment_low: f64,
    /// See `attainment_low`.
    pub attainment_high: f64,
    /// Conversations per second (after the warm-up).
    pub conversations_per_s: f64,
    /// Good conversations per second.
    pub goodput_per_s: f64,
    /// Conversation latency percentiles, ms (from the intended start in the open model).
    pub conversation_p50_ms: f64,
    /// See `conversation_p50_ms`.
    pub conversation_p95_ms: f64,
    /// See `conversation_p50_ms`.
    pub conversation_p99_ms: f64,
    /// LLM call latency percentiles, ms.
    pub call_p50_ms: f64,
    /// See `call_p50_ms`.
    pub call_p95_ms: f64,
    /// See `call_p50_ms`.
    pub call_p99_ms: f64,
    /// Conversations that ended in error, as a share.
    pub error_rate: f64,
    /// Attempts per LLM call (retries amplify the load the endpoint sees).
    pub retry_amplification: f64,
    /// Dollars per conversation.
    pub usd_per_conversation: f64,
}

impl Step {
    /// Dollars per day at this step's rate, around the clock.
    pub fn usd_per_day(&self) -> f64 {
        self.usd_per_conversation * self.conversations_per_s * DAY_S
    }

    /// Dollars per month (30 days) at this step's rate.
    pub fn usd_per_month(&self) -> f64 {
        self.usd_per_day() * MONTH_DAYS
    }
}

/// What the search of one model needs.
pub(super) struct Context<'a> {
    pub(super) plan: &'a Plan,
    pub(super) prices: &'a PriceTable,
    pub(super) kind: LoadKind,
    pub(super) settings: &'a SweepPlan,
    pub(super) model: &'a str,
    pub(super) steps_dir: PathBuf,
    pub(super) interrupted: &'a AtomicBool,
    pub(super) started: Instant,
    pub(super) quiet: bool,
}

impl Context<'_> {
    /// The scenario's own load: its users, or its arrival rate.
    fn scenario_load(&self) -> f64 {
        match &self.plan.load.shape {
            LoadShape::Closed(c) => c.users as f64,
            LoadShape::Open(o) => o.arrival_rate.per_second,
            LoadShape::Replay(_) => 1.0,
        }
    }

    fn start(&self) -> f64 {
        self.normal(self.settings.start.unwrap_or_else(|| self.scenario_load()))
    }

    fn resolution(&self) -> f64 {
        let floor = match self.kind {
            LoadKind::Users => 1.0,
            LoadKind::Rate => 0.1,
        };
        self.settings
            .resolution
            .unwrap_or(self.start() / 10.0)
            .max(floor)
    }

    fn max_load(&self) -> f64 {
        let max = self.settings.max_load.unwrap_or(self.start() * 1000.0);
        match self.kind {
            LoadKind::Users => max.min(MAX_USERS as f64),
            LoadKind::Rate => max,
        }
    }

    /// A load the scenario can run: whole users (at least 1), a rate of at least 0.01/s.
    fn normal(&self, load: f64) -> f64 {
        match self.kind {
            LoadKind::Users => load.round().max(1.0),
            LoadKind::Rate => (load * 100.0).round().max(1.0) / 100.0,
        }
    }

    fn out_of_time(&self) -> bool {
        self.settings
            .max_duration
            .is_some_and(|d| self.started.elapsed() >= d)
    }
}

/// Searches one model's highest passing load; `progress` is called after every step with the
/// sweep so far.
pub(super) async fn search(
    ctx: &Context<'_>,
    mut progress: impl FnMut(&ModelSweep),
) -> anyhow::Result<ModelSweep> {
    let mut sweep = ModelSweep {
        model: ctx.model.to_string(),
        steps: Vec::new(),
        best: None,
        stopped: String::new(),
    };
    let mut runs = 0u32;
    let mut lo: Option<f64> = None; // highest load that passed
    let mut hi: Option<f64> = None; // lowest load that did not
    let mut load = ctx.start();
    loop {
        if let Some(why) = stop_reason(ctx, runs) {
            sweep.stopped = why;
            break;
        }
        let step = run_step(ctx, load, sweep.steps.len(), &mut runs).await?;
        let verdict = step.verdict;
        sweep.steps.push(step);
        if verdict == Verdict::Pass && sweep.best.is_none_or(|b| sweep.steps[b].load < load) {
            sweep.best = Some(sweep.steps.len() - 1);
        }
        progress(&sweep);
        if verdict == Verdict::Interrupted {
            sweep.stopped = "interrupted".into();
            break;
        }
        if verdict == Verdict::Pass {
            lo = Some(lo.map_or(load, |l: f64| l.max(load)));
        } else {
            hi = Some(hi.map_or(load, |h: f64| h.min(load)));
        }
        // Next load: climb until something fails, come down until something passes, then
        // bisect.
        let next = match (lo, hi) {
            (Some(l), None) => {
                let next = ctx.normal(l * ctx.settings.factor);
                if l >= ctx.max_load() {
                    sweep.stopped = format!("max_load {} reached", load_label(ctx.max_load()));
                    break;
                }
                next.min(ctx.max_load())
            }
            (None, Some(h)) => {
                let next = ctx.normal(h / ctx.settings.factor);
                if next >= h {
                    sweep.stopped = "even the smallest load missed the SLO".into();
                    break;
                }
                next
            }
            (Some(l), Some(h)) => {
                if h - l <= ctx.resolution() {
                    sweep.stopped = format!(
                        "bracket {}..{} within the resolution {}",
                        load_label(l),
                        load_label(h),
                        load_label(ctx.resolution())
                    );
                    break;
                }
                let mid = ctx.normal((l + h) / 2.0);
                if mid <= l || mid >= h {
                    sweep.stopped = "the bracket cannot be split further".into();
                    break;
                }
                mid
            }
            (None, None) => unreachable!("a step was judged"),
        };
        load = next;
    }
    Ok(sweep)
}

fn stop_reason(ctx: &Context<'_>, runs: u32) -> Option<String> {
    if ctx.interrupted.load(Ordering::SeqCst) {
        return Some("interrupted".into());
    }
    if runs >= ctx.settings.max_steps {
        return Some(format!("max_steps {} reached", ctx.settings.max_steps));
    }
    if ctx.out_of_time() {
        return Some("max_duration reached".into());
    }
    None
}

/// Runs the step at `load` (again with other seeds while its interval straddles the target
/// and repeats are left), pooling its conversations.
async fn run_step(
    ctx: &Context<'_>,
    load: f64,
    index: usize,
    runs: &mut u32,
) -> anyhow::Result<Step> {
    let mut pooled: Option<(Step, Summaryish)> = None;
    for repeat in 0..=ctx.settings.repeats {
        if repeat > 0 && (stop_reason(ctx, *runs).is_some()) {
            break;
        }
        let dir = step_dir(&ctx.steps_dir, index, ctx.model, load);
        let dir = match repeat {
            0 => dir,
            r => dir.with_file_name(format!(
                "{}-repeat{r}",
                dir.file_name().unwrap_or_default().to_string_lossy()
            )),
        };
        let (summary, judged, warm_up, interrupted) = run_once(ctx, load, &dir, repeat).await?;
        *runs += 1;
        let this = Summaryish::of(&summary, &judged, warm_up);
        let merged = match pooled.take() {
            None => this,
            Some((_, prev)) => prev.pool(&this)?,
        };
        let mut step = merged.step(ctx, load);
        step.dirs = match &pooled {
            Some((s, _)) => s.dirs.clone(),
            None => Vec::new(),
        };
        step.dirs.push(dir);
        step.runs = repeat + 1;
        if interrupted {
            step.verdict = Verdict::Interrupted;
        }
        if !ctx.quiet {
            eprintln!(
                "sweep {}: {} {} -> {:?}: attainment {:.2}% [{:.2}, {:.2}] of {} conversations, {:.2} conversations/s, p95 {:.0} ms",
                ctx.model,
                load_label(load),
                ctx.kind.unit(),
                step.verdict,
                step.attainment * 100.0,
                step.attainment_low * 100.0,
                step.attainment_high * 100.0,
                step.conversations,
                step.conversations_per_s,
                step.conversation_p95_ms,
            );
        }
        let straddles = step.verdict == Verdict::Uncertain;
        pooled = Some((step, merged));
        if !straddles {
            break;
        }
    }
    Ok(pooled
        .map(|(s, _)| s)
        .expect("the first run always happens"))
}

/// Runs the scenario once at `load` into `dir`; its post-warm-up summary and metrics, the
/// warm-up and whether it was interrupted.
async fn run_once(
    ctx: &Context<'_>,
    load: f64,
    dir: &Path,
    repeat: u32,
) -> anyhow::Result<(Summary, RunMetrics, Duration, bool)> {
    let mut p = ctx.plan.clone();
    p.agent.model = ctx.model.to_string();
    match &mut p.load.shape {
        LoadShape::Closed(c) => {
            let users = load as u64;
            c.users = users;
            if let Some(first) = c.stages.first_mut() {
                first.target = users;
            }
        }
        LoadShape::Open(o) => o.arrival_rate.per_second = load,
        LoadShape::Replay(_) => {}
    }
    let step = ctx
        .settings
        .step_duration
        .or(ctx.plan.load.duration)
        .unwrap_or(DEFAULT_STEP);
    p.load.duration = Some(step);
    p.load.conversations_per_user = None;
    p.load.keep_trace = false;
    let warm_up = ctx.settings.warm_up.min(step / 2);
    p.gates.warm_up = warm_up;
    // Another seed for a repeat: the same seed would draw the same conversations again.
    p.seed = ctx.plan.seed.wrapping_add(u64::from(repeat));
    p.report.out = Some(dir.to_path_buf());
    let args = RunArgs {
        scenario: ctx.plan.source.clone(),
        users: None,
        duration: None,
        conversations_per_user: None,
        endpoint_url: None,
        seed: None,
        out: None,
        junit: None,
        quiet: true,
        metrics_addr: None,
        metrics_hold: Duration::ZERO,
        shard: None,
        shards: None,
        start_at: None,
        embedded: true,
    };
    let outcome = crate::run::run_plan(&p, ctx.prices.clone(), &args).await?;
    let interrupted = outcome.summary.run.interrupted && ctx.interrupted.load(Ordering::SeqCst);
    let summary = outcome.gated_summary.unwrap_or(outcome.summary);
    Ok((summary, outcome.judged, warm_up, interrupted))
}

/// The pooled counts and latency histograms of a step's runs.
#[derive(Clone, Debug)]
struct Summaryish {
    conversations: u64,
    good: u64,
    seconds: f64,
    count: u64,
    errors: u64,
    calls: u64,
    attempts: u64,
    usd: f64,
    /// Conversation latency, µs (from the intended start in the open model).
    conversation_us: Histogram<u64>,
    /// LLM call latency, µs.
    call_us: Histogram<u64>,
}

impl Summaryish {
    fn of(s: &Summary, m: &RunMetrics, warm_up: Duration) -> Summaryish {
        let slo = s.slo.clone().unwrap_or_default();
        let conversation_us = if s.run.load_model == "open" {
            m.hist.conversation_from_intended_us.clone()
        } else {
            m.hist.conversation_us.clone()
        };
        Summaryish {
            conversations: slo.conversations,
            good: slo.good,
            seconds: (s.run.duration_s - warm_up.as_secs_f64()).max(1e-3),
            count: s.conversation.count,
            errors: s.conversation.errors,
            calls: s.llm_call.count,
            attempts: s.attempt.count,
            usd: s.cost.usd_total,
            conversation_us,
            call_us: m.hist.call_us.clone(),
        }
    }

    /// Two runs of one step pooled: counts add, latency histograms add (so the step's
    /// percentiles are those of all its conversations and calls, not of its last run).
    fn pool(&self, other: &Summaryish) -> anyhow::Result<Summaryish> {
        let add = |a: &Histogram<u64>, b: &Histogram<u64>| -> anyhow::Result<Histogram<u64>> {
            let mut sum = a.clone();
            sum.add(b)
                .map_err(|e| anyhow::anyhow!("cannot pool a step's latency histograms: {e:?}"))?;
            Ok(sum)
        };
        Ok(Summaryish {
            conversations: self.conversations + other.conversations,
            good: self.good + other.good,
            seconds: self.seconds + other.seconds,
            count: self.count + other.count,
            errors: self.errors + other.errors,
            calls: self.calls + other.calls,
            attempts: self.attempts + other.attempts,
            usd: self.usd + other.usd,
            conversation_us: add(&self.conversation_us, &other.conversation_us)?,
            call_us: add(&self.call_us, &other.call_us)?,
        })
    }

    fn step(&self, ctx: &Context<'_>, load: f64) -> Step {
        let (low, high) = wilson_95(self.good, self.conversations);
        let target = ctx.settings.target;
        let verdict = if self.conversations == 0 {
            Verdict::Fail
        } else if low >= target {
            Verdict::Pass
        } else if high < target {
            Verdict::Fail
        } else {
            Verdict::Uncertain
        };
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (conv, call) = (
            LatencyMs::from_us(&self.conversation_us),
            LatencyMs::from_us(&self.call_us),
        );
        Step {
            model: ctx.model.to_string(),
            load,
            dirs: Vec::new(),
            runs: 1,
            verdict,
            conversations: self.conversations,
            good: self.good,
            attainment: ratio(self.good, self.conversations),
            attainment_low: low,
            attainment_high: high,
            conversations_per_s: self.count as f64 / self.seconds,
            goodput_per_s: self.good as f64 / self.seconds,
            conversation_p50_ms: conv.p50,
            conversation_p95_ms: conv.p95,
            conversation_p99_ms: conv.p99,
            call_p50_ms: call.p50,
            call_p95_ms: call.p95,
            call_p99_ms: call.p99,
            error_rate: ratio(self.errors, self.count),
            retry_amplification: ratio(self.attempts, self.calls),
            usd_per_conversation: if self.count == 0 {
                0.0
            } else {
                self.usd / self.count as f64
            },
        }
    }
}

/// What a sweep found, per model.
#[derive(Debug, Clone)]
pub struct ModelSweep {
    /// The model swept.
    pub model: String,
    /// Every step, in the order run.
    pub steps: Vec<Step>,
    /// The highest step that passed, if any.
    pub best: Option<usize>,
    /// Why the search stopped.
    pub stopped: String,
}

/// The directory of one step's report.
fn step_dir(base: &Path, index: usize, model: &str, load: f64) -> PathBuf {
    let slug: String = model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    base.join(format!("{:02}-{slug}-{}", index + 1, load_label(load)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::hist::new_histogram;

    /// A run of `n` conversations and calls of `ms` each, 10 seconds long.
    fn run(n: u64, ms: u64) -> Summaryish {
        let mut h = new_histogram();
        h.record_n(ms * 1000, n).unwrap();
        Summaryish {
            conversations: n,
            good: n,
            seconds: 10.0,
            count: n,
            errors: 0,
            calls: n,
            attempts: n,
            usd: 0.01 * n as f64,
            conversation_us: h.clone(),
            call_us: h,
        }
    }

    #[test]
    fn a_repeated_steps_latency_is_every_runs_not_the_last_ones() {
        // 30 conversations of 100 ms, then a repeat of 10 of 300 ms: the pooled median is
        // 100 ms (the last run alone would say 300), its p95 300 ms.
        let pooled = run(30, 100).pool(&run(10, 300)).unwrap();
        assert_eq!(
            (pooled.conversations, pooled.good, pooled.count),
            (40, 40, 40)
        );
        assert_eq!(pooled.seconds, 20.0);
        let conv = LatencyMs::from_us(&pooled.conversation_us);
        assert_eq!(conv.count, 40);
        assert!((conv.p50 - 100.0).abs() < 0.1, "{conv:?}");
        assert!((conv.p95 - 300.0).abs() < 0.3, "{conv:?}");
        let call = LatencyMs::from_us(&pooled.call_us);
        assert_eq!(call.count, 40);
    }
}
