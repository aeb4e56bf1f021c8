//! reactbench's native TOML price table: `date`, `source` and `notes` at the top, one
//! `[models."name"]` table per model with the [`ModelPrice`] keys, and `[aliases]` mapping
//! names a scenario or endpoint uses to table keys. Every value is checked, and an error names
//! the file, the model and the key.

use super::table::{ModelPrice, PriceTable, PricingError, TableFormat, TableInfo};

impl PriceTable {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
