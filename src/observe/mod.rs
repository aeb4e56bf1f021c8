//! Observability: the endpoint's own Prometheus metrics scraped beside the run's figures, and
//! the run's live figures served in Prometheus' format.
//!
//! - `settings.rs`: what to scrape (`[endpoint] metrics_url`, `metrics_interval`, `metrics`)
//!   and the presets of vLLM, SGLang, TGI, llama.cpp's server and LiteLLM;
//! - `parse.rs`: a page to samples (a parser crate, then counters, gauges, and histograms'
//!   sums and counts);
//! - `series.rs`: [`ServerMetrics`], what a run's scrapes found, and its figures (gauges'
//!   mean, max and last; counters' increase and rates; the server's token counts);
//! - `scrape.rs`: the scraper task, first scrape before the load and last after it;
//! - `export.rs`: `--metrics-addr`, the live page.
//!
//! Layer: above `metrics` (the exporter reads the aggregator) and `client` (the scraper's
//! transport), below `report` (which writes what the scrapes found).

pub mod export;
mod parse;
mod scrape;
mod series;
mod settings;

pub use export::{Exporter, LevelSource, LiveLevels, Publisher};
pub use parse::{Kind, ParseFailure, Sample, parse as parse_page};
pub use scrape::{Scraper, start as start_scraper};
pub use series::{MAX_SERIES, MetricFigures, Series, SeriesKey, ServerMetrics, ServerTokens};
pub use settings::{
    DEFAULT_INTERVAL, MIN_INTERVAL, MetricsSource, PRESETS, ScrapeSettings, Selection,
    TOKEN_COUNTERS, expand, is_metric_name, preset_names,
};
