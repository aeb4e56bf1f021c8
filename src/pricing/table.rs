//! A price table as data: what a model costs ([`ModelPrice`]), a table of them with aliases
//! ([`PriceTable`]), where it came from ([`TableInfo`]), how a name is resolved to an entry,
//! and why a table or a model was refused ([`PricingError`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::chat::Usage;

/// Where the default table lives in the repository; it is compiled into the binary.
pub const DEFAULT_TABLE_PATH: &str = "prices/2026-11.toml";

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
}
