//! The files a person reads after a run: the PNG plots, `price_comparison.csv` and `index.html`,
//! drawn from a finished run's metrics or, for `bench report DIR`, from its directory alone.
//!
//! Both paths go through one plain-data value, [`ReportData`] (summary, named latency
//! histograms, per-second timeline, price comparison, settings), so a re-render from files draws
//! the very same images as the run did: everything a plot shows is either in `summary.json`,
//! `histograms.hlog` or `timeline.csv`, and the price comparison's inputs (price per model,
//! reference, conversations per day, settings) are kept in `report_inputs.json`.
//!
//! File names are stable and documented in `docs/report-files.md`.

//!
//! - [`data`]: [`ReportData`] and the plot and page file names;
//! - [`prices`]: the what-if price comparison, `price_comparison.csv` and `report_inputs.json`;
//! - [`page`]: the content of `index.html`; [`render`](mod@render): drawing and writing it all.

pub mod data;
pub mod page;
pub mod prices;
pub mod render;
pub mod shape;

pub use data::{
    INDEX_FILE, PLOT_CALL_HISTOGRAM, PLOT_CALL_PERCENTILES, PLOT_CONVERSATION_PERCENTILES,
    PLOT_COST_BY_MODEL, PLOT_FILES, PLOT_PRICE_COMPARISON, PLOT_PROMPT_BY_STEP, PLOT_TIMELINE,
    ReportData,
};
pub use prices::{
    DEFAULT_PER_DAY, MAX_WHOLE_TABLE_MODELS, PRICE_COMPARISON_COLUMNS, PRICE_COMPARISON_FILE,
    PriceChoice, PriceComparison, REPORT_INPUTS_FILE, price_comparison, run_token_mix,
    write_price_comparison,
};
pub use render::{render, write_run_report, write_visuals};
