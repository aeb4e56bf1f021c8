//! What-if pricing: one token mix re-priced under many models, for `bench prices` and the
//! report's price comparison.

use serde::{Deserialize, Serialize};

use super::table::{PriceTable, PricingError};
use crate::chat::Usage;

/// Days in the "per month" figures of [`what_if`].
pub const DAYS_PER_MONTH: u64 = 30;

/// A workload's tokens, to re-price under other models: totals over `calls` calls (or
/// conversations: whichever unit the per-call figures of [`WhatIfRow`] should be per).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMix {
    /// Calls or conversations the totals cover; the "per call" unit.
    pub calls: u64,
    /// Input tokens in total, cached ones included.
    pub prompt_tokens: u64,
    /// Of the input tokens, those billed at the cached-input price.
    pub cached_tokens: u64,
    /// Output tokens in total.
    pub completion_tokens: u64,
}

impl TokenMix {
    /// A mix of `calls` identical calls of the given per-call token counts.
    pub fn per_call(calls: u64, prompt: u64, cached: u64, completion: u64) -> Self {
        TokenMix {
            calls,
            prompt_tokens: prompt.saturating_mul(calls),
            cached_tokens: cached.saturating_mul(calls),
            completion_tokens: completion.saturating_mul(calls),
        }
    }

    /// The totals as a [`Usage`].
    pub fn usage(&self) -> Usage {
        Usage::billed(
            self.prompt_tokens,
            self.cached_tokens,
            self.completion_tokens,
        )
    }
}

/// One model's price for a [`TokenMix`]. Money is unrounded USD; round only to display.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhatIfRow {
    /// The name asked for.
    pub model: String,
    /// The table key it resolved to (differs for aliases and provider prefixes).
    pub table_key: String,
    /// Who sells it, if the table says.
    pub provider: Option<String>,
    /// Price of uncached input, USD per million tokens.
    pub input_usd_per_mtok: f64,
    /// Price of cached input, USD per million tokens.
    pub cached_input_usd_per_mtok: f64,
    /// Price of output, USD per million tokens.
    pub output_usd_per_mtok: f64,
    /// Context window in tokens, if known.
    pub context_window: Option<u64>,
    /// The whole mix.
    pub usd_total: f64,
    /// Per call (or conversation).
    pub usd_per_call: f64,
    /// Per 1,000 calls.
    pub usd_per_1k_calls: f64,
    /// Per day at the stated calls per day.
    pub usd_per_day: f64,
    /// Per month of [`DAYS_PER_MONTH`] days.
    pub usd_per_month: f64,
    /// True for the reference model's row.
    pub is_reference: bool,
    /// Reference cost minus this model's, per month: positive is a saving, negative an extra.
    /// `None` without a reference.
    pub saving_usd_per_month: Option<f64>,
    /// The saving as a percentage of the reference's cost (negative: dearer). `None` without a
    /// reference or when the reference costs nothing.
    pub saving_pct: Option<f64>,
}

/// Re-prices `mix` under each of `models` (every model of the table when empty), at `per_day`
/// calls a day. With a `reference`, each row carries its saving against it, and the reference
/// is added to the rows if `models` lacks it. Rows come in the order of `models`; for the whole
/// table, cheapest first (ties by name). Unknown models, a mix of zero calls, or more cached than
/// prompt tokens are errors.
pub fn what_if(
    table: &PriceTable,
    mix: &TokenMix,
    models: &[String],
    reference: Option<&str>,
    per_day: u64,
) -> Result<Vec<WhatIfRow>, PricingError> {
    if mix.calls == 0 {
        return Err(PricingError::BadMix(
            "zero calls: the per-call cost is undefined; give at least one call or conversation"
                .into(),
        ));
    }
    if mix.cached_tokens > mix.prompt_tokens {
        return Err(PricingError::BadMix(format!(
            "{} cached tokens but only {} prompt tokens; cached tokens are a part of the prompt",
            mix.cached_tokens, mix.prompt_tokens
        )));
    }
    let whole_table = models.is_empty();
    let mut names: Vec<String> = if whole_table {
        table.models.keys().cloned().collect()
    } else {
        models.to_vec()
    };
    let reference_key = match reference {
        Some(r) => {
            let (key, _) = table.lookup(r)?;
            let listed = names
                .iter()
                .any(|n| table.resolve(n).is_some_and(|(k, _)| k == key));
            if !listed {
                names.insert(0, r.to_string());
            }
            Some(key.to_string())
        }
        None => None,
    };
    let usage = mix.usage();
    let mut rows = Vec::with_capacity(names.len());
    for name in &names {
        let (key, price) = table.lookup(name)?;
        let usd_total = price.cost_usd(&usage);
        let usd_per_call = usd_total / mix.calls as f64;
        let usd_per_day = usd_per_call * per_day as f64;
        rows.push(WhatIfRow {
            model: name.clone(),
            table_key: key.to_string(),
            provider: price.provider.clone(),
            input_usd_per_mtok: price.input_usd_per_mtok,
            cached_input_usd_per_mtok: price.cached_input_usd_per_mtok,
            output_usd_per_mtok: price.output_usd_per_mtok,
            context_window: price.context_window,
            usd_total,
            usd_per_call,
            usd_per_1k_calls: usd_per_call * 1000.0,
            usd_per_day,
            usd_per_month: usd_per_day * DAYS_PER_MONTH as f64,
            is_reference: reference_key.as_deref() == Some(key),
            saving_usd_per_month: None,
            saving_pct: None,
        });
    }
    if let Some(reference_key) = &reference_key {
        let base = rows
            .iter()
            .find(|r| &r.table_key == reference_key)
            .map(|r| (r.usd_per_month, r.usd_per_call));
        if let Some((base_month, base_call)) = base {
            for row in &mut rows {
                row.saving_usd_per_month = Some(base_month - row.usd_per_month);
                row.saving_pct =
                    (base_call > 0.0).then(|| (base_call - row.usd_per_call) / base_call * 100.0);
            }
        }
    }
    if whole_table {
        rows.sort_by(|a, b| {
            a.usd_per_call
                .total_cmp(&b.usd_per_call)
                .then_with(|| a.model.cmp(&b.model))
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_if_rejects_an_empty_or_impossible_mix() {
        let t = PriceTable::default_table().expect("valid");
        let zero = TokenMix::default();
        assert!(matches!(
            what_if(&t, &zero, &[], None, 1),
            Err(PricingError::BadMix(_))
        ));
        let too_cached = TokenMix {
            calls: 1,
            prompt_tokens: 10,
            cached_tokens: 11,
            completion_tokens: 0,
        };
        assert!(matches!(
            what_if(&t, &too_cached, &[], None, 1),
            Err(PricingError::BadMix(_))
        ));
        let mix = TokenMix::per_call(1, 10, 0, 1);
        assert!(matches!(
            what_if(&t, &mix, &["nope".to_string()], None, 1),
            Err(PricingError::UnknownModel { .. })
        ));
    }

    #[test]
    fn what_if_adds_the_reference_and_sorts_the_whole_table() {
        let t = PriceTable::default_table().expect("valid");
        let mix = TokenMix::per_call(10, 2000, 0, 500);
        let rows = what_if(&t, &mix, &["gpt-4o".into()], Some("gpt-4.1"), 100).expect("priced");
        assert_eq!(rows.len(), 2);
        assert!(rows[0].is_reference && rows[0].table_key == "gpt-4.1");
        assert_eq!(rows[0].saving_usd_per_month, Some(0.0));
        // gpt-4o is dearer than gpt-4.1 for this mix: a negative saving.
        assert!(rows[1].saving_pct.is_some_and(|p| p < 0.0));
        let all = what_if(&t, &mix, &[], None, 100).expect("priced");
        assert_eq!(all.len(), t.models.len());
        assert!(
            all.windows(2)
                .all(|w| w[0].usd_per_call <= w[1].usd_per_call)
        );
        assert!(all.iter().all(|r| r.saving_pct.is_none()));
    }
}
