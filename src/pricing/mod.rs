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
//! [`what_if`](fn@what_if) re-prices one token mix under many models, for `bench prices` and the report's
//! price comparison.

pub mod litellm;
pub mod load;
pub mod native;
pub mod table;
pub mod what_if;

pub use table::{
    DEFAULT_TABLE_PATH, ModelPrice, PriceTable, PricingError, SkipCounts, TableFormat, TableInfo,
};
pub use what_if::{DAYS_PER_MONTH, TokenMix, WhatIfRow, what_if};
