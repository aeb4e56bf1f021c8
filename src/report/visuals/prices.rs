//! The what-if price comparison of a run: its actual token mix re-priced under other models,
//! written as `price_comparison.csv`, and the prices behind it kept in `report_inputs.json` so
//! `bench report` draws the same comparison again.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::pricing::{ModelPrice, PriceTable, TableFormat, TokenMix, WhatIfRow, what_if};
use crate::report::atomic;
use crate::report::summary::Summary;

/// The what-if comparison as CSV.
pub const PRICE_COMPARISON_FILE: &str = "price_comparison.csv";
/// What `bench report DIR` needs besides the metric files: settings and comparison prices.
pub const REPORT_INPUTS_FILE: &str = "report_inputs.json";

/// Columns of `price_comparison.csv`, pinned by a test; documented in `docs/report-files.md`.
pub const PRICE_COMPARISON_COLUMNS: &[&str] = &[
    "model",
    "table_key",
    "provider",
    "input_usd_per_mtok",
    "cached_input_usd_per_mtok",
    "output_usd_per_mtok",
    "context_window",
    "conversations",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "usd_total",
    "usd_per_conversation",
    "usd_per_1k_conversations",
    "conversations_per_day",
    "usd_per_day",
    "usd_per_month",
    "is_reference",
    "saving_usd_per_month",
    "saving_pct",
];

/// Conversations per day for the daily and monthly figures when `[prices] per_day` is not set
/// (the same default as `bench prices`).
pub const DEFAULT_PER_DAY: u64 = 1000;

/// A table with more models than this (a LiteLLM file lists thousands) is not compared whole
/// when no models are chosen: the run's own models are, so the plot stays readable.
pub const MAX_WHOLE_TABLE_MODELS: usize = 40;

/// What to compare: the fields of the scenario's `[prices]` that the comparison uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceChoice {
    /// Models to re-price the run under; empty means the whole table.
    pub compare: Vec<String>,
    /// Model the others are compared against.
    pub reference: Option<String>,
    /// Conversations per day; [`DEFAULT_PER_DAY`] when `None`.
    pub per_day: Option<u64>,
}

/// The run's token mix re-priced under several models.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceComparison {
    /// The run's totals; `calls` is the number of conversations, so "per call" figures of the
    /// rows are per conversation.
    pub mix: TokenMix,
    /// Conversations per day behind `usd_per_day` and `usd_per_month`.
    pub per_day: u64,
    /// The reference model, as named.
    pub reference: Option<String>,
    /// One row per model; empty when the run recorded no conversation.
    pub rows: Vec<WhatIfRow>,
}

/// The run's token totals, per conversation: the mix the comparison re-prices.
pub fn run_token_mix(s: &Summary) -> TokenMix {
    TokenMix {
        calls: s.conversation.count,
        prompt_tokens: s.tokens.prompt,
        cached_tokens: s.tokens.cached,
        completion_tokens: s.tokens.completion,
    }
}

/// Re-prices the run's actual token mix (total prompt, cached and completion tokens, per
/// conversation) under `choice.compare`, or the whole table when that is empty (the run's own
/// billed models when the table is a LiteLLM file or holds more than
/// [`MAX_WHOLE_TABLE_MODELS`]). A run without conversations gives no rows; a model missing
/// from the table is an error naming it.
pub fn price_comparison(
    summary: &Summary,
    table: &PriceTable,
    choice: &PriceChoice,
) -> anyhow::Result<PriceComparison> {
    let mix = run_token_mix(summary);
    let per_day = choice.per_day.unwrap_or(DEFAULT_PER_DAY);
    let mut out = PriceComparison {
        mix,
        per_day,
        reference: choice.reference.clone(),
        rows: Vec::new(),
    };
    if mix.calls == 0 {
        return Ok(out);
    }
    let too_big =
        table.info.format == TableFormat::Litellm || table.models.len() > MAX_WHOLE_TABLE_MODELS;
    let mut models: Vec<String> = if choice.compare.is_empty() && too_big {
        summary
            .cost
            .by_model
            .keys()
            .filter(|m| table.resolve(m).is_some())
            .cloned()
            .collect()
    } else {
        choice.compare.clone()
    };
    if models.is_empty() && too_big {
        // An empty list means "the whole table" to `what_if`: never thousands of rows.
        match &choice.reference {
            Some(r) => models.push(r.clone()),
            None => return Ok(out),
        }
    }
    out.rows = what_if(table, &mix, &models, choice.reference.as_deref(), per_day)
        .context("[prices] compare/reference: pricing the run's token mix")?;
    Ok(out)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Writes `price_comparison.csv` (columns [`PRICE_COMPARISON_COLUMNS`]) atomically.
pub fn write_price_comparison(dir: &Path, pc: &PriceComparison) -> anyhow::Result<()> {
    let path = dir.join(PRICE_COMPARISON_FILE);
    atomic::write_with(&path, |f| {
        let mut w = ::csv::Writer::from_writer(f);
        w.write_record(PRICE_COMPARISON_COLUMNS)?;
        for r in &pc.rows {
            w.write_record([
                r.model.clone(),
                r.table_key.clone(),
                r.provider.clone().unwrap_or_default(),
                r.input_usd_per_mtok.to_string(),
                r.cached_input_usd_per_mtok.to_string(),
                r.output_usd_per_mtok.to_string(),
                opt(r.context_window),
                pc.mix.calls.to_string(),
                pc.mix.prompt_tokens.to_string(),
                pc.mix.cached_tokens.to_string(),
                pc.mix.completion_tokens.to_string(),
                r.usd_total.to_string(),
                r.usd_per_call.to_string(),
                r.usd_per_1k_calls.to_string(),
                pc.per_day.to_string(),
                r.usd_per_day.to_string(),
                r.usd_per_month.to_string(),
                r.is_reference.to_string(),
                opt(r.saving_usd_per_month),
                opt(r.saving_pct),
            ])?;
        }
        w.flush()?;
        Ok(())
    })
}

/// One compared model's price, as kept in `report_inputs.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredPrice {
    model: String,
    table_key: String,
    provider: Option<String>,
    input_usd_per_mtok: f64,
    cached_input_usd_per_mtok: f64,
    output_usd_per_mtok: f64,
    context_window: Option<u64>,
}

/// `report_inputs.json`: what re-rendering needs that the metric files do not hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ReportInputs {
    version: u32,
    settings: Vec<(String, String)>,
    per_day: u64,
    reference: Option<String>,
    prices: Vec<StoredPrice>,
}

const REPORT_INPUTS_VERSION: u32 = 1;

pub fn write_report_inputs(
    dir: &Path,
    settings: &[(String, String)],
    pc: &PriceComparison,
) -> anyhow::Result<()> {
    let inputs = ReportInputs {
        version: REPORT_INPUTS_VERSION,
        settings: settings.to_vec(),
        per_day: pc.per_day,
        reference: pc.reference.clone(),
        prices: pc
            .rows
            .iter()
            .map(|r| StoredPrice {
                model: r.model.clone(),
                table_key: r.table_key.clone(),
                provider: r.provider.clone(),
                input_usd_per_mtok: r.input_usd_per_mtok,
                cached_input_usd_per_mtok: r.cached_input_usd_per_mtok,
                output_usd_per_mtok: r.output_usd_per_mtok,
                context_window: r.context_window,
            })
            .collect(),
    };
    let mut json = serde_json::to_string_pretty(&inputs)?;
    json.push('\n');
    atomic::write_bytes(dir.join(REPORT_INPUTS_FILE), json.as_bytes())
}

/// Rebuilds the comparison from stored prices: the same models, in the same order, priced the
/// same, on the run's mix from `summary.json`.
fn comparison_from_inputs(
    summary: &Summary,
    inputs: &ReportInputs,
) -> anyhow::Result<PriceComparison> {
    let mut table = PriceTable::default();
    for p in &inputs.prices {
        table.models.insert(
            p.table_key.clone(),
            ModelPrice {
                input_usd_per_mtok: p.input_usd_per_mtok,
                cached_input_usd_per_mtok: p.cached_input_usd_per_mtok,
                output_usd_per_mtok: p.output_usd_per_mtok,
                context_window: p.context_window,
                provider: p.provider.clone(),
                notes: None,
            },
        );
        if p.model != p.table_key {
            table.aliases.insert(p.model.clone(), p.table_key.clone());
        }
    }
    let choice = PriceChoice {
        compare: inputs.prices.iter().map(|p| p.model.clone()).collect(),
        reference: inputs.reference.clone(),
        per_day: Some(inputs.per_day),
    };
    if choice.compare.is_empty() {
        return Ok(PriceComparison {
            mix: run_token_mix(summary),
            per_day: inputs.per_day,
            reference: inputs.reference.clone(),
            rows: Vec::new(),
        });
    }
    price_comparison(summary, &table, &choice)
}

/// The settings and price comparison of a run read back from its folder: as stored in
/// `report_inputs.json`, or without it the run's own models under the shipped table (with a
/// note saying so).
pub fn stored_comparison(
    dir: &Path,
    summary: &Summary,
    notes: &mut Vec<String>,
) -> anyhow::Result<(Vec<(String, String)>, PriceComparison)> {
    let inputs_path = dir.join(REPORT_INPUTS_FILE);
    Ok(if inputs_path.is_file() {
        let text = std::fs::read_to_string(&inputs_path)
            .with_context(|| format!("cannot read {}", inputs_path.display()))?;
        let inputs: ReportInputs = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not valid; delete it to compare the run's models under the shipped \
                 price table",
                inputs_path.display()
            )
        })?;
        let prices = comparison_from_inputs(summary, &inputs)?;
        (inputs.settings, prices)
    } else {
        notes.push(format!(
            "{REPORT_INPUTS_FILE} is missing: settings are not shown and the price \
             comparison uses the shipped price table"
        ));
        let table = PriceTable::default_table()?;
        let choice = PriceChoice {
            compare: summary
                .cost
                .by_model
                .keys()
                .filter(|m| table.resolve(m).is_some())
                .cloned()
                .collect(),
            ..PriceChoice::default()
        };
        let prices = if choice.compare.is_empty() {
            PriceComparison {
                mix: run_token_mix(summary),
                per_day: DEFAULT_PER_DAY,
                ..PriceComparison::default()
            }
        } else {
            price_comparison(summary, &table, &choice)?
        };
        (Vec::new(), prices)
    })
}
