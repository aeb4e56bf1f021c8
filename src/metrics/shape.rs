//! Where an agent's money goes, from its shape: per tool (calls, failures, latency, output
//! tokens), the prompt by step index and by part (system prompt, tool schemas, history, tool
//! results: each step resends all of it), and what the provider's prompt cache saved.
//!
//! Tool names come from the model, so the map is bounded: past [`MAX_TOOL_NAMES`] names the
//! rest count under [`OTHER_TOOLS`]. Steps past [`MAX_STEPS`] count in the last row.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::hist::{duration_us, new_histogram, record};
use crate::pricing::PriceTable;
use crate::record::{CallRecord, PromptParts, ToolRecord, ToolStatus};

/// Most distinct tool names kept apart.
pub const MAX_TOOL_NAMES: usize = 256;
/// The row of tool names past [`MAX_TOOL_NAMES`].
pub const OTHER_TOOLS: &str = "(other)";
/// Most step rows; later steps count in the last.
pub const MAX_STEPS: usize = 64;

/// One tool's figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToolMetrics {
    /// Runs and refusals.
    pub calls: u64,
    /// Runs that failed (simulated failure, bad arguments, a service's error or timeout).
    pub errors: u64,
    /// Refused without running (allow-list, dangerous name).
    pub refused: u64,
    /// Run time in µs (refusals excluded).
    #[serde(with = "super::state::hist")]
    pub latency_us: Histogram<u64>,
    /// Tokens of the outputs the model was given.
    pub output_tokens: u64,
}

impl Default for ToolMetrics {
    fn default() -> Self {
        ToolMetrics {
            calls: 0,
            errors: 0,
            refused: 0,
            latency_us: new_histogram(),
            output_tokens: 0,
        }
    }
}

/// The prompts of one step index, summed over calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepMetrics {
    /// Calls sent at this step.
    pub calls: u64,
    /// Their prompts as counted before sending, by part.
    pub counted: PromptParts,
    /// Calls that were answered (whose usage the endpoint billed).
    pub billed_calls: u64,
    /// Their prompt tokens as billed.
    pub billed_prompt: u64,
    /// Of those, cached.
    pub cached: u64,
}

/// The agent's shape, summed over a run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AgentShape {
    /// By tool name.
    pub tools: BTreeMap<String, ToolMetrics>,
    /// By step index (index 0 is step 1).
    pub steps: Vec<StepMetrics>,
    /// Dollars the cached prompt tokens saved against the uncached input price, by the
    /// answering model's prices (set when the run ends).
    pub cached_saving_usd: f64,
}

impl AgentShape {
    /// Records one tool run or refusal.
    pub fn record_tool(&mut self, t: &ToolRecord) {
        let key = if self.tools.len() < MAX_TOOL_NAMES || self.tools.contains_key(&t.name) {
            t.name.as_str()
        } else {
            OTHER_TOOLS
        };
        let m = match self.tools.get_mut(key) {
            Some(m) => m,
            None => self.tools.entry(key.to_string()).or_default(),
        };
        m.calls += 1;
        match t.status {
            ToolStatus::Refused => m.refused += 1,
            ToolStatus::Error => m.errors += 1,
            ToolStatus::Ok => {}
        }
        if t.status != ToolStatus::Refused {
            record(&mut m.latency_us, duration_us(t.latency));
        }
        m.output_tokens += t.output_tokens;
    }

    /// Records one call's prompt, when it was built and sent (`sent`).
    pub fn record_call(&mut self, c: &CallRecord, sent: bool) {
        if !sent || c.prompt.total() == 0 {
            return;
        }
        let i = (c.step.max(1) as usize - 1).min(MAX_STEPS - 1);
        if self.steps.len() <= i {
            self.steps.resize(i + 1, StepMetrics::default());
        }
        let s = &mut self.steps[i];
        s.calls += 1;
        let p = &c.prompt;
        s.counted.system += p.system;
        s.counted.tool_schemas += p.tool_schemas;
        s.counted.history += p.history;
        s.counted.tool_results += p.tool_results;
        if c.error.is_none() {
            s.billed_calls += 1;
            s.billed_prompt += c.usage.prompt_tokens;
            s.cached += c.usage.cached_tokens;
        }
    }

    /// Adds another run's shape (a shard's) into this one, exactly: calls and tokens summed,
    /// latency histograms added. `cached_saving_usd` is left to [`cached_saving_usd`], priced
    /// from the merged token totals.
    pub fn add(&mut self, other: &AgentShape) -> anyhow::Result<()> {
        for (name, t) in &other.tools {
            let into = match self.tools.get_mut(name) {
                Some(m) => m,
                None => self.tools.entry(name.clone()).or_default(),
            };
            into.calls += t.calls;
            into.errors += t.errors;
            into.refused += t.refused;
            into.output_tokens += t.output_tokens;
            into.latency_us.add(&t.latency_us).map_err(|e| {
                anyhow::anyhow!("cannot add tool {name}'s latency histograms: {e:?}")
            })?;
        }
        if self.steps.len() < other.steps.len() {
            self.steps.resize(other.steps.len(), StepMetrics::default());
        }
        for (into, s) in self.steps.iter_mut().zip(&other.steps) {
            into.calls += s.calls;
            into.counted.system += s.counted.system;
            into.counted.tool_schemas += s.counted.tool_schemas;
            into.counted.history += s.counted.history;
            into.counted.tool_results += s.counted.tool_results;
            into.billed_calls += s.billed_calls;
            into.billed_prompt += s.billed_prompt;
            into.cached += s.cached;
        }
        Ok(())
    }

    /// Every step's counted prompt parts, summed.
    pub fn counted_total(&self) -> PromptParts {
        let mut t = PromptParts::default();
        for s in &self.steps {
            t.system += s.counted.system;
            t.tool_schemas += s.counted.tool_schemas;
            t.history += s.counted.history;
            t.tool_results += s.counted.tool_results;
        }
        t
    }
}

/// What the cached prompt tokens saved against the uncached input price: per model (its name
/// and cached token total), priced from integer token totals (a model without prices saves
/// nothing we can price).
pub fn cached_saving_usd<'a>(
    cached_by_model: impl IntoIterator<Item = (&'a str, u64)>,
    prices: &PriceTable,
) -> f64 {
    cached_by_model
        .into_iter()
        .filter_map(|(name, cached)| {
            let p = prices.get(name)?;
            let per_mtok = p.input_usd_per_mtok - p.cached_input_usd_per_mtok;
            Some(cached as f64 * per_mtok / 1e6)
        })
        .sum()
}
