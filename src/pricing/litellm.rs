//! LiteLLM's `model_prices_and_context_window.json` as it ships: per-token prices, chat models
//! only; odd entries are skipped and counted rather than failing the whole file.

use super::table::{ModelPrice, PriceTable, PricingError, TableFormat, TableInfo};

impl PriceTable {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_token_prices_become_exact_per_million() {
        assert_eq!(per_mtok(3e-06), 3.0);
        assert_eq!(per_mtok(2.8e-08), 0.028);
        assert_eq!(per_mtok(1.25e-07), 0.125);
    }
}
