//! PNG plots of a run: latency percentile curves, a latency histogram, the per-second timeline,
//! cost by model and the what-if price comparison, one file per chart.
//!
//! Every function takes plain data (no dependency on the metrics or pricing types), draws with
//! plotters into an in-memory RGB buffer, encodes it as PNG and writes it through
//! [`super::atomic`] (temporary file in the same directory, then rename), so an interrupted run
//! never leaves half an image.
//!
//! Text is drawn with DejaVu Sans, shipped in `assets/fonts/` and embedded in the binary: plotters'
//! `ab_glyph` backend only draws fonts registered from bytes, so no system font is looked up and a
//! machine without fonts still gets labelled plots.
//!
//! Inputs are never trusted to be tidy: empty histograms, a single point, all-zero values,
//! non-finite numbers and very long names all produce a readable image instead of a panic.
//!
//! - [`canvas`]: the font, size, palette and styles every chart shares, and the PNG writer.
//! - [`percentiles`], [`histogram`], [`timeline`], [`bars`], [`server`], [`prompt`]: one chart (or chart
//!   family) each.

pub mod bars;
pub mod canvas;
pub mod histogram;
pub mod lines;
pub mod percentiles;
pub mod prompt;
pub mod server;
pub mod timeline;

pub use bars::{ModelCost, PriceComparisonRow, plot_cost_by_model, plot_price_comparison};
pub use canvas::{FONT_FAMILY, PLOT_HEIGHT, PLOT_WIDTH, ensure_font_registered};
pub use histogram::plot_latency_histogram;
pub use lines::{Choice, Line, pareto_front, plot_lines, plot_pareto};
pub use percentiles::{LatencySeries, plot_latency_percentiles};
pub use prompt::{PromptStep, plot_prompt_by_step};
pub use server::{MAX_SERVER_PANELS, ServerPanel, plot_server_metrics};
pub use timeline::{OpenPeriod, TimelinePoint, plot_timeline};
