//! The summary's view of the agent's shape, built from the metrics (the types are the
//! schema's, in `mod.rs`): `tool.by_tool`, the `prompt` section (prompt
//! tokens by step index and the share of each part) and `cost.cached_saving_usd`.

use std::collections::BTreeMap;

use super::{LatencyMs, PromptSection, PromptShare, StepRow, ToolStats};
use crate::metrics::{AgentShape, RunMetrics};
use crate::record::PromptParts;

/// `tool.by_tool`.
pub fn by_tool(shape: &AgentShape) -> BTreeMap<String, ToolStats> {
    shape
        .tools
        .iter()
        .map(|(name, t)| {
            let per = |n: u64| {
                if t.calls == 0 {
                    0.0
                } else {
                    n as f64 / t.calls as f64
                }
            };
            (
                name.clone(),
                ToolStats {
                    calls: t.calls,
                    errors: t.errors,
                    refused: t.refused,
                    error_rate: per(t.errors),
                    latency_ms: LatencyMs::from_us(&t.latency_us),
                    output_tokens: t.output_tokens,
                    output_tokens_mean: per(t.output_tokens),
                },
            )
        })
        .collect()
}

/// `prompt`, or `None` when no call was counted.
pub fn prompt_section(m: &RunMetrics) -> Option<PromptSection> {
    let shape = &m.shape;
    let total = shape.counted_total();
    let counted = total.total();
    if counted == 0 {
        return None;
    }
    let share = |n: u64| n as f64 / counted as f64;
    let by_step = shape
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.calls > 0)
        .map(|(i, s)| {
            let mean = |n: u64| n as f64 / s.calls as f64;
            let billed = |n: u64| {
                if s.billed_calls == 0 {
                    0.0
                } else {
                    n as f64 / s.billed_calls as f64
                }
            };
            let p: PromptParts = s.counted;
            StepRow {
                step: i as u32 + 1,
                calls: s.calls,
                prompt_tokens: mean(p.total()),
                system: mean(p.system),
                tool_schemas: mean(p.tool_schemas),
                history: mean(p.history),
                tool_results: mean(p.tool_results),
                billed_prompt_tokens: billed(s.billed_prompt),
                cached_tokens: billed(s.cached),
            }
        })
        .collect();
    Some(PromptSection {
        counted_tokens: counted,
        share: PromptShare {
            system: share(total.system),
            tool_schemas: share(total.tool_schemas),
            history: share(total.history),
            tool_results: share(total.tool_results),
        },
        by_step,
    })
}
