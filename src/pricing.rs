//! Model price tables and what tokens cost. Pure: no I/O beyond loading a table.
//!
//! Prices are USD per million tokens, with input, cached input and output apart: a call costs
//! `(prompt - cached) * input + cached * cached_input + completion * output`, divided by 10^6.
//!
//! Two table formats load into one [`PriceTable`]:
//! - the native TOML format (`prices/2026-11.toml` is the dated default, embedded in the binary):
//!   `date`, `source` and `notes` at the top, one `[models."name"]` table per model with the
//!   [`ModelPrice`] keys, and `[aliases]` mapping names a scenario or endpoint uses to table keys;
//! - LiteLLM's `model_prices_and_context_window.json` as it ships: per-token prices, chat models
//!   only, odd entries skipped and counted rather than failing the whole file.
//!
//! [`what_if`] re-prices one token mix under many models, for `bench prices` and the report's
//! price comparison.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::chat::Usage;

/// Where the default table lives in the repository; it is compiled into the binary.
pub const DEFAULT_TABLE_PATH: &str = "prices/2026-11.toml";

/// The default table's text, embedded so `bench` works from any directory.
const DEFAULT_TABLE_TOML: &str = include_str!("../prices/2026-11.toml");

/// Days in the "per month" figures of [`what_if`].
pub const DAYS_PER_MONTH: u64 = 30;

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

/// The two file formats a table can come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    /// reactbench's TOML format.
    #[default]
    Native,
    /// LiteLLM's `model_prices_and_context_window.json`.
    Litellm,
}

/// LiteLLM entries left out of a table, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipCounts {
    /// The `sample_spec` entry, which documents the fields and prices nothing.
    pub sample_spec: usize,
    /// Entries whose `mode` is not `chat` (embeddings, images, audio ...) or is missing.
    pub not_chat: usize,
    /// Chat entries without an input or output price (missing or null).
    pub no_price: usize,
    /// Entries with a value of the wrong type or range (a string price, a negative price, a
    /// cached price above the input price, an entry that is not an object).
    pub odd_value: usize,
}

impl SkipCounts {
    /// All skipped entries.
    pub fn total(&self) -> usize {
        self.sample_spec + self.not_chat + self.no_price + self.odd_value
    }
}

/// Where a table came from and what loading it left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    /// The file it was read from, or `built-in prices/2026-11.toml` for the embedded default.
    pub origin: String,
    /// Its format.
    pub format: TableFormat,
    /// The date its prices were checked (native tables' `date`).
    pub date: Option<String>,
    /// Where its prices come from (native tables' `source`).
    pub source: Option<String>,
    /// LiteLLM entries skipped, by reason (all zero for native tables).
    pub skipped: SkipCounts,
    /// LiteLLM models without `cache_read_input_token_cost`, whose cached input is therefore
    /// priced at the input price.
    pub cached_price_assumed: Vec<String>,
}

/// A set of model prices by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    /// Prices by model name.
    pub models: BTreeMap<String, ModelPrice>,
    /// Other names for models: alias to a key of `models`.
    pub aliases: BTreeMap<String, String>,
    /// Provenance and load statistics.
    pub info: TableInfo,
}

/// Why a table could not be loaded or a model not priced.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The file could not be read.
    #[error("cannot read price table {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error(
        "{origin}: not a valid TOML price table: {message}\nsee prices/2026-11.toml for the format"
    )]
    Toml {
        /// The file.
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file is not JSON.
    #[error(
        "{origin}: not valid JSON: {message}\na LiteLLM table is model_prices_and_context_window.json as LiteLLM ships it"
    )]
    Json {
        /// The file.
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file parses but a value is wrong.
    #[error("{origin}: {}: {message}", place(.model.as_deref(), .key))]
    Invalid {
        /// The file.
        origin: String,
        /// The model whose entry is wrong, if the problem is in one.
        model: Option<String>,
        /// The key whose value is wrong.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A model asked for is in neither the table nor its aliases.
    #[error("model `{model}` is not in price table {origin}{hint}")]
    UnknownModel {
        /// The name asked for.
        model: String,
        /// The table's file.
        origin: String,
        /// Close names, or how to add one.
        hint: String,
    },
    /// A token mix that cannot be priced per call.
    #[error("token mix: {0}")]
    BadMix(String),
}

fn place(model: Option<&str>, key: &str) -> String {
    match model {
        Some(m) => format!("model `{m}`, key `{key}`"),
        None => format!("key `{key}`"),
    }
}

impl PriceTable {
    /// The price of `model`, if the table has it under that name, an alias or a
    /// provider-prefixed form (see [`PriceTable::resolve`]).
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.resolve(model).map(|(_, p)| p)
    }

    /// Dollars `usage` costs on `model`, or `None` if the table lacks the model.
    pub fn cost_usd(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.get(model).map(|p| p.cost_usd(usage))
    }

    /// Finds `name` and returns the table key it resolved to with its price. In order:
    /// the exact key; an alias; then the name with provider prefixes dropped one at a time
    /// (`openrouter/deepseek/deepseek-chat`, `deepseek/deepseek-chat`, `deepseek-chat`), each
    /// tried as a key and as an alias; last, keys that are the name with a provider prefix
    /// (`deepseek-chat` finds `deepseek/deepseek-chat`). Among several, the maker's own listing
    /// wins (a prefix the name starts with: `deepseek/deepseek-v3.2` over
    /// `azure_ai/deepseek-v3.2`), then the fewest prefixes, then alphabetical order, so the
    /// choice is deterministic; the returned key says which entry priced it.
    pub fn resolve(&self, name: &str) -> Option<(&str, &ModelPrice)> {
        let mut candidate = name;
        loop {
            if let Some(found) = self.exact_or_alias(candidate) {
                return Some(found);
            }
            match candidate.split_once('/') {
                Some((_, rest)) if !rest.is_empty() => candidate = rest,
                _ => break,
            }
        }
        // `candidate` is now the bare model name: look for prefixed keys.
        let suffix = format!("/{candidate}");
        self.models
            .iter()
            .filter(|(k, _)| k.ends_with(&suffix))
            .min_by_key(|(k, _)| {
                let first = k.split('/').next().unwrap_or_default();
                (
                    !candidate.starts_with(first),
                    k.matches('/').count(),
                    k.as_str(),
                )
            })
            .map(|(k, p)| (k.as_str(), p))
    }

    fn exact_or_alias(&self, name: &str) -> Option<(&str, &ModelPrice)> {
        if let Some((k, p)) = self.models.get_key_value(name) {
            return Some((k.as_str(), p));
        }
        let target = self.aliases.get(name)?;
        self.models
            .get_key_value(target.as_str())
            .map(|(k, p)| (k.as_str(), p))
    }

    /// Like [`PriceTable::resolve`], but a missing model is an error that names close
    /// table keys.
    pub fn lookup(&self, name: &str) -> Result<(&str, &ModelPrice), PricingError> {
        self.resolve(name).ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> PricingError {
        let bare = name.rsplit('/').next().unwrap_or(name).to_lowercase();
        // A close name shares the bare name's first word ("gpt", "claude", "deepseek").
        let stem: String = bare
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let close: Vec<&str> = self
            .models
            .keys()
            .chain(self.aliases.keys())
            .map(String::as_str)
            .filter(|k| !stem.is_empty() && k.to_lowercase().contains(&stem))
            .take(8)
            .collect();
        let hint = if close.is_empty() {
            format!(
                "; it has {} models; add `[models.\"{name}\"]` or an alias in `[aliases]`",
                self.models.len()
            )
        } else {
            format!(
                "; close names: {}; or add an alias in `[aliases]`",
                close.join(", ")
            )
        };
        let hint = if self.info.origin.starts_with("built-in") {
            // The embedded table cannot be edited in place; say how to extend it.
            format!("{hint} of a copy of {DEFAULT_TABLE_PATH}, passed with --table")
        } else {
            hint
        };
        PricingError::UnknownModel {
            model: name.to_string(),
            origin: self.info.origin.clone(),
            hint,
        }
    }

    /// The default table shipped in `prices/2026-11.toml`, compiled into the binary.
    pub fn default_table() -> Result<Self, PricingError> {
        Self::from_toml_str(
            DEFAULT_TABLE_TOML,
            &format!("built-in {DEFAULT_TABLE_PATH}"),
        )
    }

    /// Reads a table file. A `.json` file is read as LiteLLM's format and a `.toml` file as the
    /// native one; any other name is judged by its first character (`{` means JSON).
    pub fn load(path: &Path) -> Result<Self, PricingError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PricingError::Io {
            path: origin.clone(),
            source,
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let json = match ext.as_deref() {
            Some("json") => true,
            Some("toml") => false,
            _ => text.trim_start().starts_with('{'),
        };
        if json {
            Self::from_litellm_str(&text, &origin)
        } else {
            Self::from_toml_str(&text, &origin)
        }
    }

    /// Parses and validates a native TOML table; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, PricingError> {
        let root: toml::Table = toml::from_str(text).map_err(|e| PricingError::Toml {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |model: Option<&str>, key: &str, message: String| PricingError::Invalid {
            origin: origin.to_string(),
            model: model.map(str::to_string),
            key: key.to_string(),
            message,
        };
        let mut table = PriceTable {
            info: TableInfo {
                origin: origin.to_string(),
                format: TableFormat::Native,
                ..TableInfo::default()
            },
            ..PriceTable::default()
        };
        let mut aliases = None;
        for (key, value) in &root {
            match key.as_str() {
                "date" => table.info.date = Some(header_text(value, key, &invalid)?),
                "source" => table.info.source = Some(header_text(value, key, &invalid)?),
                "notes" => {
                    header_text(value, key, &invalid)?;
                }
                "models" => {
                    let models = value.as_table().ok_or_else(|| {
                        invalid(
                            None,
                            key,
                            "must be tables of prices, written `[models.\"gpt-4.1\"]`".into(),
                        )
                    })?;
                    for (name, entry) in models {
                        let price = native_model(name, entry, &invalid)?;
                        table.models.insert(name.clone(), price);
                    }
                }
                "aliases" => aliases = Some(value),
                other => {
                    return Err(invalid(
                        None,
                        other,
                        "unknown key; the top level holds `date`, `source`, `notes`, `[models.\"name\"]` and `[aliases]`".into(),
                    ));
                }
            }
        }
        if table.models.is_empty() {
            return Err(invalid(
                None,
                "models",
                "the table prices no model; add `[models.\"name\"]` tables".into(),
            ));
        }
        if let Some(value) = aliases {
            let map = value.as_table().ok_or_else(|| {
                invalid(
                    None,
                    "aliases",
                    "must be a table of `\"alias\" = \"table key\"`".into(),
                )
            })?;
            for (alias, target) in map {
                let target = target.as_str().ok_or_else(|| {
                    invalid(
                        None,
                        &format!("aliases.\"{alias}\""),
                        format!(
                            "must be the name of a model of the table, a string; found {target}"
                        ),
                    )
                })?;
                if table.models.contains_key(alias) {
                    return Err(invalid(
                        None,
                        &format!("aliases.\"{alias}\""),
                        "is also a model of the table; remove the alias or rename the model".into(),
                    ));
                }
                if !table.models.contains_key(target) {
                    return Err(invalid(
                        None,
                        &format!("aliases.\"{alias}\""),
                        format!("points to `{target}`, which is not a model of the table"),
                    ));
                }
                table.aliases.insert(alias.clone(), target.to_string());
            }
        }
        Ok(table)
    }

    /// Reads LiteLLM's `model_prices_and_context_window.json` text as it ships: chat models with
    /// per-token input and output prices become entries (prices times 10^6); `sample_spec`,
    /// other modes and entries with missing or odd values are skipped and counted in
    /// [`TableInfo::skipped`]. A model without `cache_read_input_token_cost` gets its input price
    /// for cached tokens and is listed in [`TableInfo::cached_price_assumed`].
    pub fn from_litellm_str(text: &str, origin: &str) -> Result<Self, PricingError> {
        let root: serde_json::Value =
            serde_json::from_str(text).map_err(|e| PricingError::Json {
                origin: origin.to_string(),
                message: e.to_string(),
            })?;
        let entries = root.as_object().ok_or_else(|| PricingError::Invalid {
            origin: origin.to_string(),
            model: None,
            key: "(top level)".into(),
            message: "a LiteLLM table is one JSON object of model entries".into(),
        })?;
        let mut table = PriceTable {
            info: TableInfo {
                origin: origin.to_string(),
                format: TableFormat::Litellm,
                source: Some("LiteLLM model_prices_and_context_window.json".into()),
                ..TableInfo::default()
            },
            ..PriceTable::default()
        };
        for (name, entry) in entries {
            match litellm_model(name, entry) {
                Ok((price, cached_assumed)) => {
                    if cached_assumed {
                        table.info.cached_price_assumed.push(name.clone());
                    }
                    table.models.insert(name.clone(), price);
                }
                Err(Skip::SampleSpec) => table.info.skipped.sample_spec += 1,
                Err(Skip::NotChat) => table.info.skipped.not_chat += 1,
                Err(Skip::NoPrice) => table.info.skipped.no_price += 1,
                Err(Skip::Odd) => table.info.skipped.odd_value += 1,
            }
        }
        if table.models.is_empty() {
            return Err(PricingError::Invalid {
                origin: origin.to_string(),
                model: None,
                key: "(top level)".into(),
                message: format!(
                    "no chat model with an input and output price among {} entries; is this LiteLLM's model_prices_and_context_window.json?",
                    entries.len()
                ),
            });
        }
        Ok(table)
    }
}

/// A top-level text value; dates may be written as TOML dates or strings.
fn header_text(
    value: &toml::Value,
    key: &str,
    invalid: &impl Fn(Option<&str>, &str, String) -> PricingError,
) -> Result<String, PricingError> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        other => Err(invalid(
            None,
            key,
            format!("must be text, such as \"2026-11-28\"; found {other}"),
        )),
    }
}

/// Keys a `[models."name"]` table may hold.
const MODEL_KEYS: &str = "input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok, context_window, provider, notes";

/// One `[models."name"]` table, checked key by key so an error names the key.
fn native_model(
    name: &str,
    entry: &toml::Value,
    invalid: &impl Fn(Option<&str>, &str, String) -> PricingError,
) -> Result<ModelPrice, PricingError> {
    let m = Some(name);
    let fields = entry.as_table().ok_or_else(|| {
        invalid(
            m,
            "(entry)",
            format!("must be a table with the keys {MODEL_KEYS}"),
        )
    })?;
    let mut input = None;
    let mut cached = None;
    let mut output = None;
    let mut price = ModelPrice {
        input_usd_per_mtok: 0.0,
        cached_input_usd_per_mtok: 0.0,
        output_usd_per_mtok: 0.0,
        context_window: None,
        provider: None,
        notes: None,
    };
    for (key, value) in fields {
        match key.as_str() {
            "input_usd_per_mtok" => input = Some(usd_per_mtok(name, key, value, invalid)?),
            "cached_input_usd_per_mtok" => cached = Some(usd_per_mtok(name, key, value, invalid)?),
            "output_usd_per_mtok" => output = Some(usd_per_mtok(name, key, value, invalid)?),
            "context_window" => match value {
                toml::Value::Integer(n) if *n > 0 => price.context_window = Some(*n as u64),
                other => {
                    return Err(invalid(
                        m,
                        key,
                        format!("must be a positive whole number of tokens; found {other}"),
                    ));
                }
            },
            "provider" | "notes" => {
                let text = value
                    .as_str()
                    .ok_or_else(|| invalid(m, key, format!("must be text; found {value}")))?;
                if key == "provider" {
                    price.provider = Some(text.to_string());
                } else {
                    price.notes = Some(text.to_string());
                }
            }
            other => {
                return Err(invalid(
                    m,
                    other,
                    format!("unknown key; a model holds {MODEL_KEYS}"),
                ));
            }
        }
    }
    let required = |v: Option<f64>, key: &str| {
        v.ok_or_else(|| invalid(m, key, "missing; every model needs input_usd_per_mtok, cached_input_usd_per_mtok and output_usd_per_mtok".into()))
    };
    price.input_usd_per_mtok = required(input, "input_usd_per_mtok")?;
    price.cached_input_usd_per_mtok = required(cached, "cached_input_usd_per_mtok")?;
    price.output_usd_per_mtok = required(output, "output_usd_per_mtok")?;
    // A cache read is a discount on input; a higher price means swapped or mistyped columns, and
    // pricing with it would overstate cached workloads, so it is rejected rather than warned.
    if price.cached_input_usd_per_mtok > price.input_usd_per_mtok {
        return Err(invalid(
            m,
            "cached_input_usd_per_mtok",
            format!(
                "{} is above the input price {}; a cached token never costs more than an uncached one (write the input price if the provider has no cache discount)",
                price.cached_input_usd_per_mtok, price.input_usd_per_mtok
            ),
        ));
    }
    Ok(price)
}

/// A price value: a finite, non-negative number (integers accepted).
fn usd_per_mtok(
    model: &str,
    key: &str,
    value: &toml::Value,
    invalid: &impl Fn(Option<&str>, &str, String) -> PricingError,
) -> Result<f64, PricingError> {
    let x = match value {
        toml::Value::Float(f) => *f,
        toml::Value::Integer(i) => *i as f64,
        other => {
            return Err(invalid(
                Some(model),
                key,
                format!("must be a number of USD per million tokens, such as 2.5; found {other}"),
            ));
        }
    };
    if !x.is_finite() || x < 0.0 {
        return Err(invalid(
            Some(model),
            key,
            format!(
                "{x} is not a price; write a finite number of USD per million tokens, 0 or more"
            ),
        ));
    }
    Ok(x)
}

/// Why a LiteLLM entry was left out.
enum Skip {
    SampleSpec,
    NotChat,
    NoPrice,
    Odd,
}

/// One LiteLLM entry to a price; the flag is true when the cached price was absent.
fn litellm_model(name: &str, entry: &serde_json::Value) -> Result<(ModelPrice, bool), Skip> {
    if name == "sample_spec" {
        return Err(Skip::SampleSpec);
    }
    let fields = entry.as_object().ok_or(Skip::Odd)?;
    match fields.get("mode") {
        Some(serde_json::Value::String(mode)) if mode == "chat" => {}
        Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => {
            return Err(Skip::NotChat);
        }
        Some(_) => return Err(Skip::Odd),
    }
    let per_token = |key: &str| -> Result<Option<f64>, Skip> {
        match fields.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(per_mtok(x))),
                _ => Err(Skip::Odd),
            },
            Some(_) => Err(Skip::Odd),
        }
    };
    let input = per_token("input_cost_per_token")?.ok_or(Skip::NoPrice)?;
    let output = per_token("output_cost_per_token")?.ok_or(Skip::NoPrice)?;
    let cached = per_token("cache_read_input_token_cost")?;
    if cached.is_some_and(|c| c > input) {
        return Err(Skip::Odd);
    }
    // The context window is informative, not needed to price: an odd value is dropped, not
    // a reason to lose the model.
    let context_window = fields
        .get("max_input_tokens")
        .and_then(serde_json::Value::as_u64)
        .filter(|n| *n > 0);
    let provider = fields
        .get("litellm_provider")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    let mut notes = vec![format!("LiteLLM `{name}`")];
    if cached.is_none() {
        notes.push("no cache_read_input_token_cost: cached input priced as input".into());
    }
    let price = ModelPrice {
        input_usd_per_mtok: input,
        cached_input_usd_per_mtok: cached.unwrap_or(input),
        output_usd_per_mtok: output,
        context_window,
        provider,
        notes: Some(notes.join("; ")),
    };
    Ok((price, cached.is_none()))
}

/// USD per token to USD per million tokens. Rounded to 10^-9 USD/Mtok so that `3e-06` reads
/// back as exactly 3.0, not 3.0000000000000004, without changing any real price.
fn per_mtok(usd_per_token: f64) -> f64 {
    (usd_per_token * 1e15).round() / 1e9
}

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
    fn prices_input_cached_and_output_apart() {
        let p = ModelPrice {
            input_usd_per_mtok: 2.0,
            cached_input_usd_per_mtok: 0.5,
            output_usd_per_mtok: 8.0,
            context_window: None,
            provider: None,
            notes: None,
        };
        let u = Usage::billed(1_000_000, 400_000, 100_000);
        // 600k * 2 + 400k * 0.5 + 100k * 8, per million = 1.2 + 0.2 + 0.8
        assert!((p.cost_usd(&u) - 2.2).abs() < 1e-12);
    }

    #[test]
    fn default_table_has_the_seed_models_at_the_reference_prices() {
        let t = PriceTable::default_table().expect("the shipped table is valid");
        for (model, input, cached, output) in [
            ("gpt-4.1", 2.00, 0.50, 8.00),
            ("claude-sonnet-4.5", 3.00, 0.30, 15.00),
            ("deepseek-v3.2", 0.28, 0.028, 0.42),
            ("gemini-2.5-flash", 0.30, 0.03, 2.50),
        ] {
            let p = t.get(model).unwrap_or_else(|| panic!("{model} missing"));
            assert_eq!(
                (
                    p.input_usd_per_mtok,
                    p.cached_input_usd_per_mtok,
                    p.output_usd_per_mtok
                ),
                (input, cached, output),
                "{model}"
            );
        }
        for model in ["gpt-4o", "gpt-4o-mini", "gpt-5", "gpt-5-mini"] {
            assert!(t.get(model).is_some(), "{model} missing");
        }
        assert_eq!(t.info.date.as_deref(), Some("2026-11-28"));
    }

    #[test]
    fn resolves_aliases_and_provider_prefixes() {
        let t = PriceTable::default_table().expect("valid");
        for (asked, key) in [
            ("deepseek-chat", "deepseek-v3.2"),
            ("deepseek/deepseek-chat", "deepseek-v3.2"),
            ("openai/gpt-4.1", "gpt-4.1"),
            ("anthropic/claude-sonnet-4-5", "claude-sonnet-4.5"),
            ("gpt-4.1", "gpt-4.1"),
        ] {
            assert_eq!(t.resolve(asked).map(|(k, _)| k), Some(key), "{asked}");
        }
        assert!(t.resolve("gpt-4").is_none());
        let err = t.lookup("claude-opus").unwrap_err().to_string();
        assert!(err.contains("claude-sonnet-4.5"), "{err}");
    }

    #[test]
    fn per_token_prices_become_exact_per_million() {
        assert_eq!(per_mtok(3e-06), 3.0);
        assert_eq!(per_mtok(2.8e-08), 0.028);
        assert_eq!(per_mtok(1.25e-07), 0.125);
    }

    fn check_bad_toml(body: &str, want: &[&str]) {
        let err = PriceTable::from_toml_str(body, "bad.toml")
            .expect_err(body)
            .to_string();
        for w in want {
            assert!(err.contains(w), "`{err}` lacks `{w}`");
        }
    }

    #[test]
    fn native_table_errors_name_file_model_and_key() {
        let ok = "input_usd_per_mtok = 1.0\ncached_input_usd_per_mtok = 0.5\noutput_usd_per_mtok = 2.0\n";
        check_bad_toml(
            &format!("[models.m]\n{ok}typo = 1\n"),
            &["bad.toml", "model `m`", "key `typo`", "unknown key"],
        );
        check_bad_toml(
            "[models.m]\ninput_usd_per_mtok = -1.0\ncached_input_usd_per_mtok = 0.0\noutput_usd_per_mtok = 2.0\n",
            &["model `m`", "key `input_usd_per_mtok`", "-1"],
        );
        check_bad_toml(
            "[models.m]\ninput_usd_per_mtok = nan\ncached_input_usd_per_mtok = 0.0\noutput_usd_per_mtok = 2.0\n",
            &["key `input_usd_per_mtok`", "finite"],
        );
        check_bad_toml(
            "[models.m]\ninput_usd_per_mtok = 1.0\ncached_input_usd_per_mtok = 2.0\noutput_usd_per_mtok = 2.0\n",
            &["key `cached_input_usd_per_mtok`", "above the input price"],
        );
        check_bad_toml(
            "[models.m]\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n",
            &["key `cached_input_usd_per_mtok`", "missing"],
        );
        check_bad_toml(
            "[models.m]\ninput_usd_per_mtok = \"1\"\ncached_input_usd_per_mtok = 0.0\noutput_usd_per_mtok = 2.0\n",
            &["key `input_usd_per_mtok`", "must be a number"],
        );
        check_bad_toml(
            &format!("[models.m]\n{ok}[aliases]\nx = \"nope\"\n"),
            &["aliases.\"x\"", "`nope`"],
        );
        check_bad_toml(
            &format!("currency = \"EUR\"\n[models.m]\n{ok}"),
            &["key `currency`"],
        );
        check_bad_toml("date = \"2026-11-28\"\n", &["prices no model"]);
        check_bad_toml("[models.m\n", &["bad.toml", "not a valid TOML"]);
    }

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
