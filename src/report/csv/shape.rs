//! `tools.csv` (per tool) and `prompt_by_step.csv` (the prompt's growth within a turn, by
//! part), from the same figures as `summary.json`'s `tool.by_tool` and `prompt`.

use std::path::Path;

use super::write_csv;
use crate::metrics::RunMetrics;
use crate::report::summary::shape::{by_tool, prompt_section};

/// The per-tool file.
pub const TOOLS_FILE: &str = "tools.csv";
/// Columns of `tools.csv`.
pub const TOOLS_COLUMNS: &[&str] = &[
    "tool",
    "calls",
    "errors",
    "refused",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "output_tokens",
    "output_tokens_mean",
];
/// The per-step file.
pub const PROMPT_BY_STEP_FILE: &str = "prompt_by_step.csv";
/// Columns of `prompt_by_step.csv` (means over the calls of each step).
pub const PROMPT_BY_STEP_COLUMNS: &[&str] = &[
    "step",
    "calls",
    "prompt_tokens",
    "system",
    "tool_schemas",
    "history",
    "tool_results",
    "billed_prompt_tokens",
    "cached_tokens",
];

/// Writes `tools.csv` and `prompt_by_step.csv` (a header alone when there is nothing to list).
pub fn write_shape_files(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    let rows = by_tool(&m.shape).into_iter().map(|(name, t)| {
        vec![
            name,
            t.calls.to_string(),
            t.errors.to_string(),
            t.refused.to_string(),
            t.error_rate.to_string(),
            t.latency_ms.p50.to_string(),
            t.latency_ms.p95.to_string(),
            t.latency_ms.p99.to_string(),
            t.latency_ms.max.to_string(),
            t.output_tokens.to_string(),
            t.output_tokens_mean.to_string(),
        ]
    });
    write_csv(&dir.join(TOOLS_FILE), TOOLS_COLUMNS, rows)?;
    let steps = prompt_section(m).map(|p| p.by_step).unwrap_or_default();
    let rows = steps.into_iter().map(|s| {
        vec![
            s.step.to_string(),
            s.calls.to_string(),
            s.prompt_tokens.to_string(),
            s.system.to_string(),
            s.tool_schemas.to_string(),
            s.history.to_string(),
            s.tool_results.to_string(),
            s.billed_prompt_tokens.to_string(),
            s.cached_tokens.to_string(),
        ]
    });
    write_csv(&dir.join(PROMPT_BY_STEP_FILE), PROMPT_BY_STEP_COLUMNS, rows)
}
