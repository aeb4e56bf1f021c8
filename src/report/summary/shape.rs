//! The summary's view of the agent's shape: `tool.by_tool`, the `prompt` section (prompt
//! tokens by step index and the share of each part) and `cost.cached_saving_usd`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::LatencyMs;
use crate::metrics::{AgentShape, RunMetrics};
use crate::record::PromptParts;

/// One tool in `tool.by_tool`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolStats {
    /// Runs and refusals.
    pub calls: u64,
    /// Runs that failed (the error text went to the model).
    pub errors: u64,
    /// Refused without running.
    pub refused: u64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// Run time (refusals excluded).
    pub latency_ms: LatencyMs,
    /// Tokens of the outputs the model was given.
    pub output_tokens: u64,
    /// `output_tokens / calls`.
    pub output_tokens_mean: f64,
}

/// One step index in `prompt.by_step`: means over the calls sent at that step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Step index within a turn (1 = the first call; the last row also holds later steps
    /// past 64).
    pub step: u32,
    /// Calls sent at this step.
    pub calls: u64,
    /// Mean prompt tokens as counted before sending (the sum of the four parts).
    pub prompt_tokens: f64,
    /// Of which the system prompt.
    pub system: f64,
    /// Of which the tool definitions.
    pub tool_schemas: f64,
    /// Of which the user and assistant messages (and the reply priming).
    pub history: f64,
    /// Of which the tool results.
    pub tool_results: f64,
    /// Mean prompt tokens as billed (answered calls).
    pub billed_prompt_tokens: f64,
    /// Mean cached prompt tokens as billed (answered calls).
    pub cached_tokens: f64,
}

/// Each part's share of all counted prompt tokens, in `[0, 1]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptShare {
    /// The system prompt.
    pub system: f64,
    /// The tool definitions.
    pub tool_schemas: f64,
    /// User and assistant messages.
    pub history: f64,
    /// Tool results.
    pub tool_results: f64,
}

/// `prompt`: where the prompt tokens come from (absent when no call was counted).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptSection {
    /// Prompt tokens counted before sending, all calls.
    pub counted_tokens: u64,
    /// The share of each part.
    pub share: PromptShare,
    /// By step index.
    pub by_step: Vec<StepRow>,
}

/// `tool.by_tool`.
pub fn by_tool(shape: &AgentShape) -> BTreeMap<String, ToolStats> {
    shape
        .tools
        .iter()
        .map(|(name, t)| {
            let per = |n: u64| if t.calls == 0 { 0.0 } else { n as f64 / t.calls as f64 };
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
