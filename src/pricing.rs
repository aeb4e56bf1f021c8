//! Model price tables and what tokens cost. Pure: no I/O beyond loading a table.
//!
//! Prices are USD per million tokens, with input, cached input and output apart: a call costs
//! `(prompt - cached) * input + cached * cached_input + completion * output`, divided by 10^6.

use std::collections::BTreeMap;

use crate::chat::Usage;

/// What one model costs, USD per million tokens.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Uncached input tokens.
    pub input_usd_per_mtok: f64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_input_usd_per_mtok: f64,
    /// Output tokens.
    pub output_usd_per_mtok: f64,
    /// Context window in tokens, if known.
    #[serde(default)]
    pub context_window: Option<u64>,
    /// Who sells it.
    #[serde(default)]
    pub provider: Option<String>,
    /// Free text (source, date, caveats).
    #[serde(default)]
    pub notes: Option<String>,
}

impl ModelPrice {
    /// Dollars for the given token counts; cached tokens are a part of `prompt_tokens`.
    pub fn cost_usd(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let uncached = usage.prompt_tokens - cached;
        (uncached as f64 * self.input_usd_per_mtok
            + cached as f64 * self.cached_input_usd_per_mtok
            + usage.completion_tokens as f64 * self.output_usd_per_mtok)
            / 1_000_000.0
    }
}

/// A set of model prices by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    /// Prices by model name.
    pub models: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    /// The price of `model`, if the table has it.
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.models.get(model)
    }

    /// Dollars `usage` costs on `model`, or `None` if the table lacks the model.
    pub fn cost_usd(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.get(model).map(|p| p.cost_usd(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_input_cached_and_output_apart() {
        let p = ModelPrice {
            input_usd_per_mtok: 2.0,
            cached_input_usd_per_mtok: 0.5,
            output_usd_per_mtok: 8.0,
            context_window: None,
            provider: None,
            notes: None,
        };
        let u = Usage {
            prompt_tokens: 1_000_000,
            cached_tokens: 400_000,
            completion_tokens: 100_000,
            estimated: false,
        };
        // 600k * 2 + 400k * 0.5 + 100k * 8, per million = 1.2 + 0.2 + 0.8
        assert!((p.cost_usd(&u) - 2.2).abs() < 1e-12);
    }
}
