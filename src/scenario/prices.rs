//! The plan's price table: loaded (the file it names, or the shipped table) and checked to
//! price every model the plan may call or compare.

use std::path::PathBuf;

use super::error::ScenarioError;
use super::plan::Plan;
use crate::pricing::PriceTable;

/// Checks that `table` prices every model the plan may call (primary and fallbacks) and the
/// comparison's reference and list. `table_name` names the table in the message.
pub fn validate_prices(
    plan: &Plan,
    table: &PriceTable,
    table_name: &str,
) -> Result<(), ScenarioError> {
    let mut wanted: Vec<(String, &str)> = vec![("agent.model".into(), plan.agent.model.as_str())];
    for (i, m) in plan.agent.fallback.iter().enumerate() {
        wanted.push((format!("agent.fallback[{i}]"), m));
    }
    for (i, m) in plan.prices.compare.iter().enumerate() {
        wanted.push((format!("prices.compare[{i}]"), m));
    }
    if let Some(r) = &plan.prices.reference {
        wanted.push(("prices.reference".into(), r));
    }
    for (key, model) in wanted {
        if table.get(model).is_none() {
            return Err(ScenarioError::MissingPrice {
                path: plan.source.clone(),
                key,
                model: model.to_string(),
                table: table_name.to_string(),
                known: table.models.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(())
}

/// Loads the plan's price table (`[prices] table`: native TOML or LiteLLM JSON; default the
/// table shipped with the binary) and checks that it prices every model the plan may call.
pub fn price_table(plan: &Plan) -> Result<PriceTable, ScenarioError> {
    let (table, name) = match &plan.prices.table {
        Some(file) => {
            let table = PriceTable::load(file).map_err(|e| ScenarioError::File {
                path: plan.source.clone(),
                key: "prices.table".into(),
                file: file.clone(),
                problem: format!("is not a usable price table: {e}"),
            })?;
            (table, file.display().to_string())
        }
        None => {
            let table = PriceTable::default_table().map_err(|e| ScenarioError::File {
                path: plan.source.clone(),
                key: "prices.table".into(),
                file: PathBuf::from("(built-in table)"),
                problem: format!("does not load: {e}"),
            })?;
            (table, "(built-in table)".to_string())
        }
    };
    validate_prices(plan, &table, &name)?;
    Ok(table)
}
