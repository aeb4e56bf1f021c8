//! Where a table comes from: a file of either format (by its extension, or failing that its
//! first character), or the dated default compiled into the binary.

use std::path::Path;

use super::table::{DEFAULT_TABLE_PATH, PriceTable, PricingError};

/// The default table's text, embedded so `bench` works from any directory.
const DEFAULT_TABLE_TOML: &str = include_str!("../../prices/2026-11.toml");

impl PriceTable {
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
}
