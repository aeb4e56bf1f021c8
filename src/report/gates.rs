//! CI gates: a scenario's `[thresholds]` parsed into [`Threshold`]s, evaluated against a
//! [`Summary`], and reported in the terminal, `summary.json`, `summary.md` and JUnit XML.
//!
//! A threshold names a `summary.json` metric path (`llm_call.latency_ms.p95`) and a condition:
//!
//! ```text
//! condition := op bound option*
//! op        := "<" | "<=" | ">" | ">=" | "==" | "!="
//! bound     := number | "baseline" [ "*" number ]
//! option    := "abort_on_fail" | "min_samples=" integer
//! ```
//!
//! `baseline` conditions compare with a baseline run's summary when one is given, and are
//! skipped (reported, not failed) when none is. `abort_on_fail` and `min_samples` only matter
//! while a run goes ([`should_abort`]). The reserved key `warm_up = "10s"` in `[thresholds]` is
//! not a metric: it sets [`Gates::warm_up`], the window at the start of a run whose
//! conversations the gated figures leave out.
//!
//! The same pieces check the load generator itself: `load.achieved_rate_ratio` and
//! `load.scheduler_lag_ms.p99` are metric paths like any other, and [`load_health_warnings`]
//! says in words when the generator, not the system under test, set the pace.
//!
//! `docs/gates.md` is the user-facing description.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A number for people (six significant digits): the one rule, in [`super::format::figure`].
pub use super::format::figure as format_value;
pub use super::summary::ThresholdResult;
use super::summary::{ModelCalls, ModelCost, Summary};

/// Key of `[thresholds]` that sets the warm-up window instead of naming a metric.
pub const WARM_UP_KEY: &str = "warm_up";

/// Conversations finished before an `abort_on_fail` threshold may end a run, when the
/// condition does not say `min_samples=`: percentiles of a handful of samples are noise.
pub const DEFAULT_ABORT_MIN_SAMPLES: u64 = 50;

/// Why a `[thresholds]` table is invalid (a configuration error: exit 2).
#[derive(Debug, Error, PartialEq)]
pub enum GateError {
    /// The key is not a metric path of `summary.json`.
    #[error(
        "thresholds: unknown metric path \"{metric}\"; closest valid names: {}; \
         every path is listed in docs/report-files.md",
        suggestions.join(", ")
    )]
    UnknownMetric {
        /// The key as written.
        metric: String,
        /// The closest valid paths, nearest first.
        suggestions: Vec<String>,
    },
    /// The condition text cannot be parsed.
    #[error(
        "thresholds.\"{metric}\": condition \"{condition}\" is not valid: {reason}; write an \
         operator (<, <=, >, >=, ==, !=) and a number or `baseline * FACTOR`, optionally \
         followed by `abort_on_fail` and `min_samples=N`, e.g. \"< 2500\" or \
         \"<= 0.01 abort_on_fail min_samples=100\""
    )]
    BadCondition {
        /// The metric path.
        metric: String,
        /// The condition as written.
        condition: String,
        /// What exactly is wrong.
        reason: String,
    },
    /// The `warm_up` key does not hold one duration.
    #[error(
        "thresholds.warm_up: {value:?} is not a duration; write one human duration such as \
         \"10s\" or \"1m30s\""
    )]
    BadWarmUp {
        /// The value as written.
        value: String,
    },
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// True if `measured op limit` holds. NaN never satisfies a condition.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Op::Lt => measured < limit,
            Op::Le => measured <= limit,
            Op::Gt => measured > limit,
            Op::Ge => measured >= limit,
            Op::Eq => measured == limit,
            Op::Ne => measured != limit && !measured.is_nan(),
        }
    }
}

/// The right-hand side of a condition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// A fixed number in the metric's unit.
    Value(f64),
    /// The baseline run's value of the same metric times a factor (`baseline * 1.2`).
    Baseline {
        /// Multiplier of the baseline value.
        factor: f64,
    },
}

/// One parsed condition on one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// Metric path in `summary.json`, e.g. `llm_call.latency_ms.p95`.
    pub metric: String,
    /// The condition as written (trimmed), for reports.
    pub condition: String,
    /// Comparison.
    pub op: Op,
    /// What the metric is compared with.
    pub bound: Bound,
    /// End the run early once this condition is lost ([`should_abort`]).
    pub abort_on_fail: bool,
    /// Conversations that must have finished before an abort is considered.
    pub min_samples: u64,
}

/// Everything `[thresholds]` holds: the conditions and the warm-up window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gates {
    /// Every condition, metric paths in key order, conditions in the order written.
    pub thresholds: Vec<Threshold>,
    /// Conversations that started within this time of the run's start are left out of the
    /// gated figures (`warm_up`, default zero).
    pub warm_up: Duration,
}

/// Parses a `[thresholds]` table (metric path -> conditions, as the scenario stores it).
pub fn parse_gates(map: &BTreeMap<String, Vec<String>>) -> Result<Gates, GateError> {
    let known = Summary::metric_paths();
    let mut gates = Gates::default();
    for (metric, conditions) in map {
        if metric == WARM_UP_KEY {
            gates.warm_up = parse_warm_up(conditions)?;
            continue;
        }
        if !is_metric_path(metric, &known) {
            return Err(GateError::UnknownMetric {
                metric: metric.clone(),
                suggestions: closest(metric, &known, 3),
            });
        }
        for c in conditions {
            gates.thresholds.push(parse_condition(metric, c)?);
        }
    }
    Ok(gates)
}

/// The conditions of a `[thresholds]` table; see [`parse_gates`] (the warm-up key is
/// checked and left out).
pub fn parse_thresholds(map: &BTreeMap<String, Vec<String>>) -> Result<Vec<Threshold>, GateError> {
    parse_gates(map).map(|g| g.thresholds)
}

fn parse_warm_up(values: &[String]) -> Result<Duration, GateError> {
    let bad = || GateError::BadWarmUp {
        value: values.join(", "),
    };
    match values {
        [one] => crate::units::parse_duration(one.trim()).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Parses one condition such as `"< 2500"` or `"<= baseline * 1.1 abort_on_fail"`.
pub fn parse_condition(metric: &str, text: &str) -> Result<Threshold, GateError> {
    let bad = |reason: &str| GateError::BadCondition {
        metric: metric.to_string(),
        condition: text.to_string(),
        reason: reason.to_string(),
    };
    let t = text.trim();
    let (op, rest) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(s, op)| t.strip_prefix(s).map(|rest| (*op, rest)))
    .ok_or_else(|| bad("it does not start with an operator"))?;
    // The bound is every word before the first option, spaces dropped (`baseline * 1.2`).
    let words: Vec<&str> = rest.split_whitespace().collect();
    let is_option = |w: &&str| *w == "abort_on_fail" || w.starts_with("min_samples=");
    let split = words.iter().position(is_option).unwrap_or(words.len());
    let bound_text: String = words[..split].concat();
    if bound_text.is_empty() {
        return Err(bad("no number follows the operator"));
    }
    let bound = match bound_text.strip_prefix("baseline") {
        Some("") => Bound::Baseline { factor: 1.0 },
        Some(f) => match f.strip_prefix('*') {
            Some(f) => Bound::Baseline {
                factor: parse_number(f).ok_or_else(|| bad("the factor is not a number"))?,
            },
            None => return Err(bad("only `baseline * FACTOR` is supported")),
        },
        None => {
            Bound::Value(parse_number(&bound_text).ok_or_else(|| bad("the bound is not a number"))?)
        }
    };
    let mut th = Threshold {
        metric: metric.to_string(),
        condition: t.to_string(),
        op,
        bound,
        abort_on_fail: false,
        min_samples: DEFAULT_ABORT_MIN_SAMPLES,
    };
    for w in &words[split..] {
        if *w == "abort_on_fail" {
            th.abort_on_fail = true;
        } else if let Some(n) = w.strip_prefix("min_samples=") {
            th.min_samples = n
                .parse()
                .map_err(|_| bad("min_samples= needs a whole number"))?;
        } else {
            return Err(bad(&format!("unexpected {w:?} among the options")));
        }
    }
    Ok(th)
}

fn parse_number(s: &str) -> Option<f64> {
    s.replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// True if `path` is a metric of `summary.json`: one of the fixed paths, or a path into a map
/// whose keys depend on the run (`cost.by_model.gpt-4.1.usd`, `llm_call.by_status.429`).
pub fn is_metric_path(path: &str, known: &[String]) -> bool {
    if known.iter().any(|k| k == path) {
        return true;
    }
    let model_calls = fields_of(&ModelCalls::default());
    let model_cost = fields_of(&ModelCost::default());
    let keyed: [(&str, &[String]); 6] = [
        ("llm_call.by_model.", &model_calls),
        ("cost.by_model.", &model_cost),
        ("llm_call.by_status.", &[]),
        ("attempt.by_status.", &[]),
        ("sanitizer.by_threat.", &[]),
        ("breaker.open_s.", &[]),
    ];
    keyed.iter().any(|(prefix, fields)| {
        let Some(rest) = path.strip_prefix(prefix) else {
            return false;
        };
        if fields.is_empty() {
            return !rest.is_empty();
        }
        // Model names may hold dots: the field is a suffix, the model whatever precedes it.
        fields.iter().any(|f| {
            rest.strip_suffix(f.as_str())
                .and_then(|m| m.strip_suffix('.'))
                .is_some_and(|m| !m.is_empty())
        })
    })
}

/// The model a per-model metric path is about (`cost.by_model.gpt-4.1.usd` is about
/// `gpt-4.1`), or `None` for any other path. Lets a plan check its thresholds name models it
/// can call before the run, not after it.
pub fn model_of_path(path: &str) -> Option<&str> {
    let keyed: [(&str, Vec<String>); 2] = [
        ("llm_call.by_model.", fields_of(&ModelCalls::default())),
        ("cost.by_model.", fields_of(&ModelCost::default())),
    ];
    keyed.iter().find_map(|(prefix, fields)| {
        let rest = path.strip_prefix(prefix)?;
        fields.iter().find_map(|f| {
            rest.strip_suffix(f.as_str())
                .and_then(|m| m.strip_suffix('.'))
                .filter(|m| !m.is_empty())
        })
    })
}

/// Numeric field paths of a serializable value (`latency_ms.p95`, `usd`, ...).
fn fields_of<T: Serialize>(v: &T) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(json) = serde_json::to_value(v) {
        super::summary::collect_paths(&json, String::new(), &mut out);
    }
    out
}

/// The `n` names of `candidates` nearest to `name` by edit distance, nearest first (ties in
/// the candidates' order).
pub fn closest(name: &str, candidates: &[String], n: usize) -> Vec<String> {
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .map(|c| (edit_distance(name, c), c))
        .collect();
    scored.sort_by_key(|(d, _)| *d);
    scored.into_iter().take(n).map(|(_, c)| c.clone()).collect()
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Evaluates every threshold against a summary, without a baseline (`baseline` conditions are
/// skipped).
pub fn evaluate(thresholds: &[Threshold], summary: &Summary) -> Vec<ThresholdResult> {
    evaluate_against(thresholds, summary, None)
}

/// Evaluates every threshold against a summary, taking `baseline` conditions from `baseline`.
pub fn evaluate_against(
    thresholds: &[Threshold],
    summary: &Summary,
    baseline: Option<&Summary>,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| evaluate_one(t, summary, baseline))
        .collect()
}

fn evaluate_one(t: &Threshold, s: &Summary, baseline: Option<&Summary>) -> ThresholdResult {
    let measured = s.metric(&t.metric);
    let mut r = ThresholdResult {
        metric: t.metric.clone(),
        condition: t.condition.clone(),
        limit: None,
        measured,
        passed: false,
        note: None,
    };
    let limit = match (t.bound, baseline) {
        (Bound::Value(v), _) => v,
        (Bound::Baseline { .. }, None) => {
            r.passed = true;
            r.note = Some("skipped: no baseline run given".to_string());
            return r;
        }
        (Bound::Baseline { factor }, Some(b)) => match b.metric(&t.metric) {
            Some(v) => v * factor,
            None => {
                r.note = Some("the baseline run has no such value".to_string());
                return r;
            }
        },
    };
    r.limit = Some(limit);
    let Some(value) = measured else {
        r.note = Some("this run has no such value".to_string());
        return r;
    };
    // A percentile of an empty histogram reads 0 and would pass `<` vacuously.
    if let Some(0) = sample_count(s, &t.metric) {
        r.note = Some("no samples were recorded, so it cannot be checked".to_string());
        return r;
    }
    // Likewise a rate or a per-conversation figure over nothing reads 0, which is no pass.
    if let Some(count) = denominator(&t.metric)
        && s.metric(count) == Some(0.0)
    {
        r.note = Some(format!("`{count}` is 0, so it cannot be checked"));
        return r;
    }
    r.passed = t.op.holds(value, limit);
    r
}

/// For a statistic of a latency object (`llm_call.latency_ms.p95`), its sample count.
fn sample_count(s: &Summary, metric: &str) -> Option<u64> {
    let (object, stat) = metric.rsplit_once('.')?;
    if stat == "count" || !object.ends_with("_ms") {
        return None;
    }
    s.metric(&format!("{object}.count")).map(|c| c as u64)
}

/// For a rate or an average (`conversation.error_rate`, `cost.usd_per_conversation`,
/// `llm_call.fallback_rate` ...), the count it is taken over.
fn denominator(metric: &str) -> Option<&'static str> {
    let ratio = metric.ends_with("_rate") || metric.ends_with("retry_amplification");
    if metric.starts_with("llm_call.") && ratio || metric.contains("per_call") {
        Some("llm_call.count")
    } else if metric.starts_with("conversation.") && ratio || metric.contains("per_conversation") {
        Some("conversation.count")
    } else {
        None
    }
}

/// True when every threshold passed (or was skipped).
pub fn all_passed(results: &[ThresholdResult]) -> bool {
    results.iter().all(|r| r.passed)
}

fn measured_text(r: &ThresholdResult) -> String {
    match r.measured {
        Some(v) => format_value(v),
        None => "n/a".to_string(),
    }
}

fn limit_text(r: &ThresholdResult) -> String {
    // For a baseline condition the resolved limit says more than the formula alone.
    match r.limit {
        Some(l) if r.condition.contains("baseline") => format!(" (limit {})", format_value(l)),
        _ => String::new(),
    }
}

/// One line per threshold for the terminal, and a count line; `color` adds green and red.
pub fn render_terminal(results: &[ThresholdResult], color: bool) -> String {
    let mut out = String::new();
    if results.is_empty() {
        return out;
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let skipped = results.iter().filter(|r| r.skipped()).count();
    let width = results
        .iter()
        .map(|r| r.metric.chars().count() + r.condition.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "Thresholds: {} passed, {failed} failed{}",
        results.len() - failed - skipped,
        if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        }
    );
    for r in results {
        let (word, paint) = if r.skipped() {
            ("skip", "\x1b[33m")
        } else if r.passed {
            ("pass", "\x1b[32m")
        } else {
            ("FAIL", "\x1b[1;31m")
        };
        let word = if color {
            format!("{paint}{word}\x1b[0m")
        } else {
            word.to_string()
        };
        let gate = format!("{} {}", r.metric, r.condition);
        let _ = write!(
            out,
            "  {word}  {gate:<width$}  measured {}{}",
            measured_text(r),
            limit_text(r)
        );
        if let Some(n) = &r.note {
            let _ = write!(out, "  ({n})");
        }
        out.push('\n');
    }
    out
}

/// The `## Thresholds` section of `summary.md`: a table with a verdict per threshold.
pub fn render_markdown(results: &[ThresholdResult]) -> String {
    let mut out = String::new();
    if results.is_empty() {
        return out;
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let _ = writeln!(out, "\n## Thresholds\n");
    let _ = writeln!(
        out,
        "{}\n",
        if failed == 0 {
            "All thresholds passed.".to_string()
        } else {
            format!("**{failed} of {} thresholds failed.**", results.len())
        }
    );
    let _ = writeln!(out, "| Result | Metric | Condition | Measured |");
    let _ = writeln!(out, "| --- | --- | --- | ---: |");
    for r in results {
        let verdict = if r.skipped() {
            "skipped"
        } else if r.passed {
            "✅ pass"
        } else {
            "❌ **FAIL**"
        };
        let mut measured = format!("{}{}", measured_text(r), limit_text(r));
        if let Some(n) = &r.note {
            let _ = write!(measured, " ({n})");
        }
        let _ = writeln!(
            out,
            "| {verdict} | `{}` | `{}` | {} |",
            r.metric.replace('|', "\\|"),
            r.condition.replace('|', "\\|"),
            measured.replace('|', "\\|")
        );
    }
    out
}

/// JUnit XML for CI systems: one `<testcase>` per threshold; a failed one holds a `<failure>`
/// with the measured value, a skipped one a `<skipped>`.
pub fn junit_xml(results: &[ThresholdResult], suite_name: &str) -> String {
    let failures = results.iter().filter(|r| !r.passed).count();
    let skipped = results.iter().filter(|r| r.skipped()).count();
    let suite = xml_escape(suite_name);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"reactbench\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\">",
        results.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\">",
        results.len()
    );
    for r in results {
        let name = xml_escape(&format!("{} {}", r.metric, r.condition));
        let _ = write!(
            out,
            "    <testcase classname=\"reactbench.thresholds\" name=\"{name}\""
        );
        let detail = format!(
            "{} {}: measured {}{}{}",
            r.metric,
            r.condition,
            measured_text(r),
            limit_text(r),
            r.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        if r.skipped() {
            let _ = writeln!(out, ">");
            let _ = writeln!(
                out,
                "      <skipped message=\"{}\"/>",
                xml_escape(r.note.as_deref().unwrap_or("skipped"))
            );
            let _ = writeln!(out, "    </testcase>");
        } else if r.passed {
            let _ = writeln!(out, "/>");
        } else {
            let _ = writeln!(out, ">");
            let _ = writeln!(
                out,
                "      <failure type=\"threshold\" message=\"measured {}\">{}</failure>",
                xml_escape(&measured_text(r)),
                xml_escape(&detail)
            );
            let _ = writeln!(out, "    </testcase>");
        }
    }
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}

/// Escapes text for XML attributes and content, and drops characters XML 1.0 cannot hold.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// While a run goes: the first `abort_on_fail` threshold already lost, as a message, once at
/// least its `min_samples` conversations have finished. `live` gives the current value of a
/// metric path (for instance `|p| snapshot_summary.metric(p)`); `samples` is the number of
/// conversations finished so far. `baseline` conditions never abort (no baseline is at hand
/// mid-run). The caller stops starting conversations, lets those in flight finish or cuts
/// them at its grace period, and still writes the full report; the final evaluation then
/// reports the threshold as failed.
pub fn should_abort(
    thresholds: &[Threshold],
    live: &impl Fn(&str) -> Option<f64>,
    samples: u64,
) -> Option<String> {
    thresholds
        .iter()
        .filter(|t| t.abort_on_fail && samples >= t.min_samples)
        .find_map(|t| {
            let Bound::Value(limit) = t.bound else {
                return None;
            };
            let value = live(&t.metric)?;
            (!t.op.holds(value, limit)).then(|| {
                format!(
                    "threshold `{} {}` lost after {samples} conversations (measured {}); \
                     aborting the run because it is marked abort_on_fail",
                    t.metric,
                    t.condition,
                    format_value(value)
                )
            })
        })
}

/// True if a conversation that started `started_after` the run's start counts toward the
/// gated figures (it started after the warm-up window). The runner feeds such conversations
/// to a second aggregator whose summary the thresholds read.
pub fn counts_after_warm_up(started_after: Duration, warm_up: Duration) -> bool {
    started_after >= warm_up
}

/// [`counts_after_warm_up`] for a record: its start (the intended one in an open model, so a
/// late start caused by warm-up slowness is still warm-up) measured from `run_start`.
pub fn record_after_warm_up(
    rec: &crate::record::ConversationRecord,
    run_start: tokio::time::Instant,
    warm_up: Duration,
) -> bool {
    let start = rec.intended_start.unwrap_or(rec.started);
    counts_after_warm_up(start.saturating_duration_since(run_start), warm_up)
}

/// Writes [`junit_xml`] to `path` atomically (for `bench run --junit FILE`).
pub fn write_junit(
    path: &std::path::Path,
    results: &[ThresholdResult],
    suite_name: &str,
) -> anyhow::Result<()> {
    super::atomic::write_bytes(path, junit_xml(results, suite_name).as_bytes())
}

/// When the load generator itself is the bottleneck.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadHealthLimits {
    /// Warn when `load.achieved_rate_ratio` is below this (default 0.9).
    pub min_achieved_rate_ratio: f64,
    /// Warn when `load.scheduler_lag_ms.p99` is above this many milliseconds (default 100).
    pub max_scheduler_lag_p99_ms: f64,
}

impl Default for LoadHealthLimits {
    fn default() -> Self {
        LoadHealthLimits {
            min_achieved_rate_ratio: 0.9,
            max_scheduler_lag_p99_ms: 100.0,
        }
    }
}

/// Warnings (for stderr) when the load generator fell short of its schedule, each saying what
/// to change and which metric path gates it. Empty when the generator kept up.
pub fn load_health_warnings(s: &Summary, limits: &LoadHealthLimits) -> Vec<String> {
    let mut out = Vec::new();
    let l = &s.load;
    if l.intended_starts > 0 && l.achieved_rate_ratio < limits.min_achieved_rate_ratio {
        out.push(format!(
            "load generator fell short of its target: {} of {} intended conversations ran \
             ({:.0}%), {} dropped at the in-flight cap; raise load.max_in_flight, lower \
             load.arrival_rate, or run bench on a bigger machine. Gate it with \
             \"load.achieved_rate_ratio\" = \">= {}\"",
            s.conversation.count,
            l.intended_starts,
            l.achieved_rate_ratio * 100.0,
            l.dropped_arrivals,
            limits.min_achieved_rate_ratio
        ));
    }
    if l.scheduler_lag_ms.count > 0 && l.scheduler_lag_ms.p99 > limits.max_scheduler_lag_p99_ms {
        out.push(format!(
            "load generator lagged behind its schedule: p99 start lag {} ms (limit {} ms), so \
             the offered load was lower than asked; the machine running bench is saturated: \
             use fewer users or more cores. Gate it with \"load.scheduler_lag_ms.p99\" = \
             \"< {}\"",
            format_value(l.scheduler_lag_ms.p99),
            format_value(limits.max_scheduler_lag_p99_ms),
            format_value(limits.max_scheduler_lag_p99_ms)
        ));
    }
    out
}

/// Why the run fails although no threshold says so: requests went out and no model answered a
/// single call (every one failed after its retries and fallbacks, or was cut). A run with no
/// thresholds would otherwise pass on 100% failures. `None` when some call was answered, or
/// when nothing was sent at all (every prompt blocked before the model, say).
pub fn no_success(s: &Summary) -> Option<String> {
    let answered = s.llm_call.count.saturating_sub(s.llm_call.errors);
    (s.attempt.count > 0 && answered == 0).then(|| {
        format!(
            "no call succeeded: {} attempts were sent for {} calls and no model answered any \
             (errors by class in llm_call.by_error_class); if this run is meant to fail, set \
             `[limits] expect_no_success = true` in the scenario",
            s.attempt.count, s.llm_call.count
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, op: Op, bound: Bound, abort: bool, min: u64) {
        let t = parse_condition("m", text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            (t.op, t.bound, t.abort_on_fail, t.min_samples),
            (op, bound, abort, min),
            "{text}"
        );
    }

    #[test]
    fn conditions_parse() {
        let d = DEFAULT_ABORT_MIN_SAMPLES;
        check("< 2500", Op::Lt, Bound::Value(2500.0), false, d);
        check("<=0.01", Op::Le, Bound::Value(0.01), false, d);
        check(" >= 50 ", Op::Ge, Bound::Value(50.0), false, d);
        check("== 0", Op::Eq, Bound::Value(0.0), false, d);
        check("!= 1", Op::Ne, Bound::Value(1.0), false, d);
        check("> 1_000", Op::Gt, Bound::Value(1000.0), false, d);
        let b = |factor| Bound::Baseline { factor };
        check("< baseline * 1.2", Op::Lt, b(1.2), false, d);
        check("< baseline*1.2", Op::Lt, b(1.2), false, d);
        check("< baseline *1.5", Op::Lt, b(1.5), false, d);
        check("<= baseline", Op::Le, b(1.0), false, d);
        check(
            "< 2500 abort_on_fail",
            Op::Lt,
            Bound::Value(2500.0),
            true,
            d,
        );
        check(
            "< 0.05 abort_on_fail min_samples=200",
            Op::Lt,
            Bound::Value(0.05),
            true,
            200,
        );
    }

    #[test]
    fn bad_conditions_say_why() {
        for (text, why) in [
            ("2500", "operator"),
            ("<", "no number follows"),
            ("< fast", "not a number"),
            ("< 2500 please", "not a number"),
            ("< 2500 abort_on_fail now", "unexpected"),
            ("< baseline + 3", "baseline * FACTOR"),
            ("< 1 min_samples=x", "whole number"),
            ("< NaN", "not a number"),
        ] {
            let err = parse_condition("llm_call.latency_ms.p95", text)
                .expect_err(text)
                .to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains("llm_call.latency_ms.p95"), "{err}");
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("p95", "p95"), 0);
    }

    #[test]
    fn keyed_paths_are_metrics() {
        let known = Summary::metric_paths();
        for p in [
            "cost.by_model.gpt-4.1.usd",
            "llm_call.by_model.claude-sonnet-4.5.latency_ms.p95",
            "llm_call.by_status.429",
            "breaker.open_s.mock/gpt-4.1",
        ] {
            assert!(is_metric_path(p, &known), "{p}");
        }
        for p in [
            "cost.by_model.usd",
            "cost.by_model.gpt-4.1.dollars",
            "llm_call.by_status.",
            "llm_call.latency_ms.p96",
        ] {
            assert!(!is_metric_path(p, &known), "{p}");
        }
    }
}
