//! Two runs side by side: what `bench compare BASE NEW` computes and prints.
//!
//! Every compared metric is a `summary.json` metric path. Each has a direction (latency, cost,
//! error rates and drops are better lower; throughput is better higher), a relative tolerance
//! (default 10%) and an absolute floor by unit (a latency change under 5 ms never fails), so a
//! 1 ms to 2 ms change is not a "100% regression". A row regresses when it moved the bad way
//! by more than both its tolerance and its floor.
//!
//! Latency figures are recomputed from the runs' HdrHistogram interval logs
//! (`histograms.hlog`, written by [`super::hlog::write_histograms`]) when both runs have one, so nothing
//! depends on how `summary.json` rounded them, and runs merged from shards compare exactly;
//! otherwise they come from `summary.json`.
//!
//! This file judges; [`render`] prints the verdicts as text, Markdown or JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::Serialize;

use super::gates::{closest, is_metric_path};
use super::hlog::{HLOG_FILE as HISTOGRAM_LOG, LATENCY_HISTOGRAMS, histogram_name};
use super::run_dir::RunDir;
use super::summary::Summary;

pub mod render;

pub use render::{render_json, render_markdown, render_text};

/// Tolerance of a metric without its own `--tolerance`: 10%.
pub const DEFAULT_TOLERANCE: f64 = 0.10;

/// The metrics `bench compare` always shows; `--tolerance` adds others.
pub const DEFAULT_METRICS: &[&str] = &[
    "conversation.latency_ms.p50",
    "conversation.latency_ms.p95",
    "conversation.latency_ms.p99",
    "llm_call.latency_ms.p50",
    "llm_call.latency_ms.p95",
    "llm_call.latency_ms.p99",
    "llm_call.ttft_ms.p95",
    "conversation.error_rate",
    "llm_call.error_rate",
    "llm_call.fallback_rate",
    "llm_call.retry_amplification",
    "cost.usd_per_conversation",
    "cost.usd_per_call",
    "cost.usd_total",
    "tokens.per_conversation",
    "conversation.per_second",
    "llm_call.per_second",
    "load.dropped_arrivals",
];

/// The interval-log histogram behind a latency metric path and the statistic it asks for:
/// `llm_call.latency_ms.p95` -> (`llm_call`, `p95`),
/// `llm_call.by_model.gpt-4.1.ttft_ms.p99` -> (`ttft/gpt-4.1`, `p99`).
pub fn histogram_for(path: &str) -> Option<(String, &str)> {
    let (object, stat) = path.rsplit_once('.')?;
    if let Some((_, name)) = LATENCY_HISTOGRAMS.iter().find(|(o, _)| *o == object) {
        return Some((name.to_string(), stat));
    }
    let rest = object.strip_prefix("llm_call.by_model.")?;
    if let Some(model) = rest.strip_suffix(".latency_ms") {
        return Some((histogram_name("llm_call", model), stat));
    }
    rest.strip_suffix(".ttft_ms")
        .map(|model| (histogram_name("ttft", model), stat))
}

/// A latency metric recomputed from histograms of microseconds, in milliseconds (`count` as
/// is); `None` if the path is not a latency statistic or its histogram is absent or empty.
pub fn metric_from_histograms(
    histograms: &BTreeMap<String, Histogram<u64>>,
    path: &str,
) -> Option<f64> {
    let (name, stat) = histogram_for(path)?;
    let h = histograms.get(&name).filter(|h| !h.is_empty())?;
    let q = |q: f64| Some(h.value_at_quantile(q) as f64 / 1000.0);
    match stat {
        "count" => Some(h.len() as f64),
        "p50" => q(0.50),
        "p90" => q(0.90),
        "p95" => q(0.95),
        "p99" => q(0.99),
        "p99_9" => q(0.999),
        "max" => Some(h.max() as f64 / 1000.0),
        "mean" => Some(h.mean() / 1000.0),
        _ => None,
    }
}

/// One side of a comparison: a run's summary and, when it has one, its histogram log.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The `summary.json` read.
    pub source: PathBuf,
    /// Its contents.
    pub summary: Summary,
    /// The histograms of `histograms.hlog` next to it, if that file exists.
    pub histograms: Option<BTreeMap<String, Histogram<u64>>>,
}

/// Reads a run: a run directory (its `summary.json` and, if present, `histograms.hlog`) or a
/// `summary.json` file (and a `histograms.hlog` beside it, if present).
pub fn load_run(path: &Path) -> anyhow::Result<RunData> {
    let run = RunDir::open(path)?;
    Ok(RunData {
        histograms: run.histograms()?,
        source: run.summary_path,
        summary: run.summary,
    })
}

/// Which way is better for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Latency, cost, tokens, error and fallback rates, drops: up is a regression.
    LowerIsBetter,
    /// Throughput and achieved rate: down is a regression.
    HigherIsBetter,
}

/// The direction of a metric path.
pub fn direction(path: &str) -> Direction {
    let higher = path.ends_with("per_second")
        || path.ends_with("_per_s")
        || path.ends_with("achieved_rate_ratio")
        || path.ends_with("by_outcome.answered")
        || path.starts_with("slo.attainment")
        || path == "slo.good";
    if higher {
        Direction::HigherIsBetter
    } else {
        Direction::LowerIsBetter
    }
}

/// The unit family of a metric, which picks its default absolute floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Milliseconds (latency objects).
    Ms,
    /// Dollars.
    Usd,
    /// A rate or ratio (error rate, fallback rate, attempts per call).
    Ratio,
    /// Tokens.
    Tokens,
    /// Events per second.
    PerS,
    /// A plain count.
    Count,
}

impl Unit {
    /// All units, for error messages.
    pub const ALL: [Unit; 6] = [
        Unit::Ms,
        Unit::Usd,
        Unit::Ratio,
        Unit::Tokens,
        Unit::PerS,
        Unit::Count,
    ];

    /// The name `--floor` accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Usd => "usd",
            Unit::Ratio => "ratio",
            Unit::Tokens => "tokens",
            Unit::PerS => "per_s",
            Unit::Count => "count",
        }
    }

    /// Default absolute floor: changes smaller than this never fail. 5 ms for latency (timer
    /// and scheduler noise), 0.1 percentage point for rates; none for dollars and tokens,
    /// which are deterministic on the mock for a fixed seed and conversation count.
    pub fn default_floor(self) -> f64 {
        match self {
            Unit::Ms => 5.0,
            Unit::Ratio => 0.001,
            Unit::Usd | Unit::Tokens | Unit::PerS | Unit::Count => 0.0,
        }
    }
}

/// The unit of a metric path.
pub fn unit_of(path: &str) -> Unit {
    let (object, stat) = path.rsplit_once('.').unwrap_or(("", path));
    if object.ends_with("_ms") && stat != "count" {
        Unit::Ms
    } else if stat.starts_with("usd") || stat == "usd" || object.contains(".usd_") {
        Unit::Usd
    } else if stat.ends_with("_rate") || stat.ends_with("ratio") || stat.ends_with("amplification")
    {
        Unit::Ratio
    } else if path.starts_with("tokens.")
        || (object.starts_with("cost.by_model.")
            && matches!(stat, "prompt" | "cached" | "completion"))
    {
        Unit::Tokens
    } else if stat.ends_with("per_second") || stat.ends_with("_per_s") {
        Unit::PerS
    } else {
        Unit::Count
    }
}

/// How `bench compare` judges each metric.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareOptions {
    /// Metrics to compare, in order.
    pub metrics: Vec<String>,
    /// Per-metric relative tolerance (0.1 = 10%).
    pub tolerances: BTreeMap<String, f64>,
    /// Tolerance of every other metric.
    pub default_tolerance: f64,
    /// Absolute floor per unit (defaults: [`Unit::default_floor`]).
    pub unit_floors: BTreeMap<Unit, f64>,
    /// Absolute floor per metric, overriding its unit's.
    pub metric_floors: BTreeMap<String, f64>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            metrics: DEFAULT_METRICS.iter().map(|m| m.to_string()).collect(),
            tolerances: BTreeMap::new(),
            default_tolerance: DEFAULT_TOLERANCE,
            unit_floors: Unit::ALL.iter().map(|u| (*u, u.default_floor())).collect(),
            metric_floors: BTreeMap::new(),
        }
    }
}

/// A percentage such as `10%` or `2.5%`, as a fraction.
pub fn parse_percent(text: &str) -> anyhow::Result<f64> {
    let t = text.trim();
    let n = t
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .with_context(|| format!("{t:?} is not a percentage; write one such as 10% or 2.5%"))?;
    Ok(n / 100.0)
}

fn check_metric(metric: &str, flag: &str) -> anyhow::Result<()> {
    let known = Summary::metric_paths();
    if is_metric_path(metric, &known) {
        return Ok(());
    }
    anyhow::bail!(
        "{flag}: unknown metric path {metric:?}; closest valid names: {}; every path is \
         listed in docs/report-files.md",
        closest(metric, &known, 3).join(", ")
    )
}

impl CompareOptions {
    /// Options from the command line's `--tolerance METRIC=PCT` (repeatable; adds the metric
    /// if it is not a default one), `--default-tolerance PCT` and `--floor KEY=VALUE` (KEY a
    /// unit name such as `ms` or a metric path; VALUE in that unit).
    pub fn from_flags(
        tolerances: &[String],
        default_tolerance: &str,
        floors: &[String],
    ) -> anyhow::Result<Self> {
        let mut o = CompareOptions {
            default_tolerance: parse_percent(default_tolerance).context("--default-tolerance")?,
            ..CompareOptions::default()
        };
        for t in tolerances {
            let (metric, pct) = t.split_once('=').with_context(|| {
                format!("--tolerance {t:?}: write METRIC=PERCENT, e.g. llm_call.latency_ms.p95=10%")
            })?;
            let metric = metric.trim();
            check_metric(metric, "--tolerance")?;
            let pct = parse_percent(pct).with_context(|| format!("--tolerance {t:?}"))?;
            o.tolerances.insert(metric.to_string(), pct);
            if !o.metrics.iter().any(|m| m == metric) {
                o.metrics.push(metric.to_string());
            }
        }
        for f in floors {
            let (key, value) = f.split_once('=').with_context(|| {
                format!("--floor {f:?}: write UNIT=VALUE (ms=5) or METRIC=VALUE")
            })?;
            let key = key.trim();
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .with_context(|| {
                    format!("--floor {f:?}: {value:?} is not a non-negative number")
                })?;
            if let Some(u) = Unit::ALL.iter().find(|u| u.as_str() == key) {
                o.unit_floors.insert(*u, value);
            } else if key.contains('.') {
                check_metric(key, "--floor")?;
                o.metric_floors.insert(key.to_string(), value);
            } else {
                anyhow::bail!(
                    "--floor {f:?}: {key:?} is neither a unit ({}) nor a metric path",
                    Unit::ALL.map(Unit::as_str).join(", ")
                );
            }
        }
        Ok(o)
    }

    fn tolerance(&self, metric: &str) -> f64 {
        self.tolerances
            .get(metric)
            .copied()
            .unwrap_or(self.default_tolerance)
    }

    fn floor(&self, metric: &str) -> f64 {
        self.metric_floors.get(metric).copied().unwrap_or_else(|| {
            let u = unit_of(metric);
            self.unit_floors
                .get(&u)
                .copied()
                .unwrap_or(u.default_floor())
        })
    }
}

/// Where a row's values came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Recomputed from both runs' histogram logs.
    Histogram,
    /// Read from both runs' `summary.json`.
    Summary,
}

/// The verdict on one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse by more than the tolerance and the floor: fails the comparison.
    Regressed,
    /// Worse, but within the tolerance or the floor.
    Worse,
    /// Unchanged.
    Same,
    /// Better.
    Better,
    /// One of the runs lacks the value.
    Missing,
}

/// One compared metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Metric path.
    pub metric: String,
    /// Baseline value.
    pub base: Option<f64>,
    /// New value.
    pub new: Option<f64>,
    /// `new - base`.
    pub change: Option<f64>,
    /// `(new - base) / |base|`; infinite when base is 0 and new is not.
    #[serde(serialize_with = "finite_or_null")]
    pub relative: Option<f64>,
    /// Relative tolerance applied.
    pub tolerance: f64,
    /// Absolute floor applied, in the metric's unit.
    pub floor: f64,
    /// Which way is better.
    pub direction: Direction,
    /// Where the values came from.
    pub source: Source,
    /// The verdict.
    pub verdict: Verdict,
}

fn finite_or_null<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.is_finite() => s.serialize_some(x),
        _ => s.serialize_none(),
    }
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Baseline `summary.json`.
    pub base: PathBuf,
    /// New `summary.json`.
    pub new: PathBuf,
    /// One row per metric, in the options' order.
    pub rows: Vec<Row>,
    /// Caveats for the reader (different seeds or conversation counts, interrupted runs).
    pub notes: Vec<String>,
}

impl Comparison {
    /// True if any row regressed beyond its tolerance.
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Regressed)
    }
}

/// Judges one change: `base` to `new` with a tolerance and a floor.
pub fn judge(base: f64, new: f64, direction: Direction, tolerance: f64, floor: f64) -> Verdict {
    let change = new - base;
    let worse = match direction {
        Direction::LowerIsBetter => change > 0.0,
        Direction::HigherIsBetter => change < 0.0,
    };
    if change == 0.0 {
        return Verdict::Same;
    }
    if !worse {
        return Verdict::Better;
    }
    let relative = if base == 0.0 {
        f64::INFINITY
    } else {
        (change / base).abs()
    };
    if change.abs() > floor && relative > tolerance {
        Verdict::Regressed
    } else {
        Verdict::Worse
    }
}

/// Compares `new` against `base` metric by metric.
pub fn compare(base: &RunData, new: &RunData, opts: &CompareOptions) -> Comparison {
    let rows = opts
        .metrics
        .iter()
        .map(|metric| {
            let from_hist = match (&base.histograms, &new.histograms) {
                (Some(b), Some(n)) => {
                    metric_from_histograms(b, metric).zip(metric_from_histograms(n, metric))
                }
                _ => None,
            };
            let (b, n, source) = match from_hist {
                Some((b, n)) => (Some(b), Some(n), Source::Histogram),
                None => (
                    base.summary.metric(metric),
                    new.summary.metric(metric),
                    Source::Summary,
                ),
            };
            let direction = direction(metric);
            let tolerance = opts.tolerance(metric);
            let floor = opts.floor(metric);
            let change = b.zip(n).map(|(b, n)| n - b);
            let relative = b.zip(change).map(|(b, c)| {
                if c == 0.0 {
                    0.0
                } else if b == 0.0 {
                    f64::INFINITY.copysign(c)
                } else {
                    c / b.abs()
                }
            });
            let verdict = match b.zip(n) {
                Some((b, n)) => judge(b, n, direction, tolerance, floor),
                None => Verdict::Missing,
            };
            Row {
                metric: metric.clone(),
                base: b,
                new: n,
                change,
                relative,
                tolerance,
                floor,
                direction,
                source,
                verdict,
            }
        })
        .collect();
    Comparison {
        base: base.source.clone(),
        new: new.source.clone(),
        rows,
        notes: notes(base, new),
    }
}

fn notes(base: &RunData, new: &RunData) -> Vec<String> {
    let (b, n) = (&base.summary, &new.summary);
    let mut out = Vec::new();
    if b.run.seed != n.run.seed {
        out.push(format!(
            "the runs used different seeds ({} and {}): expect noise in every figure",
            b.run.seed, n.run.seed
        ));
    }
    if b.conversation.count != n.conversation.count {
        out.push(format!(
            "the runs recorded different numbers of conversations ({} and {}): totals such as \
             cost.usd_total are not like for like; fix conversations_per_user for an exact \
             cost gate",
            b.conversation.count, n.conversation.count
        ));
    }
    if b.run.endpoint_kind != n.run.endpoint_kind {
        out.push(format!(
            "the runs hit different endpoint kinds ({} and {})",
            b.run.endpoint_kind, n.run.endpoint_kind
        ));
    }
    for (which, s) in [("baseline", b), ("new", n)] {
        if s.run.interrupted {
            out.push(format!(
                "the {which} run was interrupted: its figures cover part of the run"
            ));
        }
    }
    match (&base.histograms, &new.histograms) {
        (Some(_), Some(_)) => {}
        (None, None) => {}
        _ => out.push(format!(
            "only one run has {HISTOGRAM_LOG}: latencies come from summary.json"
        )),
    }
    out
}
