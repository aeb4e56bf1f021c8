//! CI gates: a scenario's `[thresholds]` parsed into [`Threshold`]s, evaluated against a
//! [`Summary`](super::summary::Summary), and reported in the terminal, `summary.json`,
//! `summary.md` and JUnit XML.
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

//!
//! - [`parse`]: the grammar, metric paths and suggestions;
//! - [`evaluate`](mod@evaluate): verdicts, early abort, warm-up and the load generator's health;
//! - [`render`]: terminal, Markdown and JUnit XML.

pub mod evaluate;
pub mod parse;
pub mod render;

pub use evaluate::{
    LoadHealthLimits, all_passed, counts_after_warm_up, evaluate, evaluate_against,
    load_health_warnings, no_success, record_after_warm_up, should_abort,
};
pub use parse::{
    Bound, DEFAULT_ABORT_MIN_SAMPLES, GateError, Gates, Op, Threshold, WARM_UP_KEY, closest,
    edit_distance, is_metric_path, model_of_path, parse_condition, parse_gates, parse_thresholds,
};
pub use render::{junit_xml, render_markdown, render_terminal, write_junit};

/// A number for people (six significant digits): the one rule, in [`super::format::figure`].
pub use super::format::figure as format_value;
pub use super::summary::ThresholdResult;
