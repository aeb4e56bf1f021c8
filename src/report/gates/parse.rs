//! `[thresholds]` to [`Threshold`]s: the condition grammar, the warm-up key, and which metric
//! paths exist (with the closest names when one does not).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::report::summary::{ModelCalls, ModelCost, Summary};

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
    /// End the run early once this condition is lost ([`should_abort`](super::evaluate::should_abort)).
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
    if known.iter().any(|k| k == path)
        || is_server_path(path)
        || is_guard_path(path)
        || is_slo_path(path)
        || is_sweep_path(path)
    {
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

/// True if `path` names a figure of the `server` section (scraped metrics): `server.<metric>.
/// {mean,max,last,increase}`, `server.scrapes.{ok,failed}`, `server.scrapes.by_kind.<kind>`,
/// `server.tokens.<field>`, `server.interval_s`. Which metrics exist is known only once the
/// server answers, so any valid metric name passes here.
fn is_server_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("server.") else {
        return false;
    };
    if matches!(rest, "interval_s" | "scrapes.ok" | "scrapes.failed") {
        return true;
    }
    if rest
        .strip_prefix("scrapes.by_kind.")
        .is_some_and(|k| !k.is_empty())
    {
        return true;
    }
    if let Some(field) = rest.strip_prefix("tokens.") {
        return matches!(
            field,
            "server_prompt" | "server_generation" | "prompt_difference" | "generation_difference"
        );
    }
    rest.rsplit_once('.').is_some_and(|(metric, field)| {
        crate::observe::is_metric_name(metric)
            && matches!(field, "mean" | "max" | "last" | "increase")
    })
}

/// True if `path` names a figure of the `slo` section (present only in runs with `[slo]`):
/// `slo.attainment`, `slo.goodput_per_second`, `slo.missed.ttft` ...
fn is_slo_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("slo.") else {
        return false;
    };
    if let Some(o) = rest.strip_prefix("missed.") {
        return crate::metrics::slo::OBJECTIVES.contains(&o);
    }
    matches!(
        rest,
        "conversations"
            | "good"
            | "attainment"
            | "attainment_low"
            | "attainment_high"
            | "goodput_per_second"
    )
}

/// True if `path` names a figure of a sweep's answer (`bench sweep`): `sweep.max_load`,
/// `sweep.max_users`, `sweep.max_rate_per_s`, `sweep.usd_per_month` ...
fn is_sweep_path(path: &str) -> bool {
    path.strip_prefix("sweep.")
        .is_some_and(|f| crate::report::summary::SWEEP_FIELDS.contains(&f))
}

/// True if `path` names a figure of the `guard` section (present only in runs with
/// `[agent.guard]`): `guard.checks`, `guard.error_rate`, `guard.latency_ms.p95`,
/// `guard.by_verdict.flagged`, `guard.by_error.timeout` ...
fn is_guard_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("guard.") else {
        return false;
    };
    if matches!(
        rest,
        "checks" | "requests" | "failed_requests" | "errors" | "error_rate" | "usd_total"
    ) {
        return true;
    }
    if let Some(v) = rest.strip_prefix("by_verdict.") {
        return matches!(v, "allowed" | "flagged" | "failed_open" | "failed_closed");
    }
    if rest
        .strip_prefix("by_error.")
        .is_some_and(|k| !k.is_empty())
    {
        return true;
    }
    rest.strip_prefix("latency_ms.").is_some_and(|f| {
        matches!(
            f,
            "count" | "p50" | "p90" | "p95" | "p99" | "p99_9" | "max" | "mean"
        )
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
        crate::report::summary::collect_paths(&json, String::new(), &mut out);
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
            "server.vllm:num_requests_waiting.max",
            "server.tgi_request_duration_count.increase",
            "server.scrapes.failed",
            "server.tokens.prompt_difference",
            "guard.latency_ms.p95",
            "guard.by_verdict.failed_closed",
            "guard.error_rate",
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
            "server.vllm:num_requests_waiting.median",
            "server.not a name.max",
            "server.tokens.nonsense",
        ] {
            assert!(!is_metric_path(p, &known), "{p}");
        }
    }
}
