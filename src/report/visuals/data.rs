//! [`ReportData`]: everything the plots and the page show, as plain data, from a finished
//! run's metrics or read back from its folder; and the names of the files drawn from it.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;

use super::prices::{PriceComparison, stored_comparison};
use crate::metrics::RunMetrics;
use crate::observe::{Kind, PRESETS, ServerMetrics};
use crate::report::csv::{SERVER_METRICS_FILE, read_server_metrics};
use crate::report::hlog;
use crate::report::plot::{MAX_SERVER_PANELS, ServerPanel, TimelinePoint};
use crate::report::run_dir::{RunDir, TIMELINE_FILE};
use crate::report::summary::Summary;

/// LLM call latency by percentile, one curve per answering model and one for all.
pub const PLOT_CALL_PERCENTILES: &str = "latency_percentiles_llm_call.png";
/// Conversation latency by percentile (and from the intended start, open model).
pub const PLOT_CONVERSATION_PERCENTILES: &str = "latency_percentiles_conversation.png";
/// Histogram of LLM call latency.
pub const PLOT_CALL_HISTOGRAM: &str = "latency_histogram_llm_call.png";
/// Per-second throughput, errors and p95, breaker-open periods shaded.
pub const PLOT_TIMELINE: &str = "timeline.png";
/// Dollars by answering model.
pub const PLOT_COST_BY_MODEL: &str = "cost_by_model.png";
/// The run's token mix priced under each compared model.
pub const PLOT_PRICE_COMPARISON: &str = "price_comparison.png";
/// The server's own metrics over the run (only when the scenario scrapes them).
pub const PLOT_SERVER_METRICS: &str = "server_metrics.png";
/// Prompt tokens by step, stacked by part (when any call was counted).
pub const PLOT_PROMPT_BY_STEP: &str = "prompt_by_step.png";
/// Every plot, in the order the page shows them.
pub const PLOT_FILES: [&str; 6] = [
    PLOT_CALL_PERCENTILES,
    PLOT_CONVERSATION_PERCENTILES,
    PLOT_CALL_HISTOGRAM,
    PLOT_TIMELINE,
    PLOT_COST_BY_MODEL,
    PLOT_PRICE_COMPARISON,
];
/// The page.
pub const INDEX_FILE: &str = "index.html";

/// Everything the plots and the page show, as plain data.
#[derive(Clone, Debug)]
pub struct ReportData {
    /// The run's summary.
    pub summary: Summary,
    /// Latency histograms by their `histograms.hlog` name (see [`hlog::histogram_name`]).
    pub histograms: BTreeMap<String, Histogram<u64>>,
    /// One point per second of the run.
    pub timeline: Vec<TimelinePoint>,
    /// The what-if price comparison.
    pub prices: PriceComparison,
    /// The run's settings, shown on the page in this order.
    pub settings: Vec<(String, String)>,
    /// Caveats for the page (files missing when re-rendering ...).
    pub notes: Vec<String>,
    /// The server's scraped metrics, as panels to draw, when the scenario scraped them.
    pub server: Option<Vec<ServerPanel>>,
}

/// The panels of `server_metrics.png`: gauges before counters, and among each the metrics of
/// the presets (queues, cache use, tokens) before the rest, at most [`MAX_SERVER_PANELS`].
pub fn server_panels(m: &ServerMetrics) -> Vec<ServerPanel> {
    let names = m.metric_names();
    let preset_rank = |name: &str| {
        PRESETS
            .iter()
            .flat_map(|(_, ns)| ns.iter())
            .position(|n| *n == name || name.strip_suffix("_count") == Some(n))
            .unwrap_or(usize::MAX)
    };
    let mut order: Vec<(&str, Kind)> = names.into_iter().collect();
    order.sort_by_key(|(name, kind)| (*kind != Kind::Gauge, preset_rank(name), name.to_string()));
    order
        .into_iter()
        // A histogram's sum in seconds per second reads as nothing to most people; its count
        // (requests per second) does.
        .filter(|(name, _)| !name.ends_with("_sum"))
        .take(MAX_SERVER_PANELS)
        .map(|(name, kind)| ServerPanel {
            name: name.to_string(),
            rate: kind == Kind::Counter,
            points: m.summed(name),
        })
        .collect()
}

impl ReportData {
    /// The data of a finished run.
    pub fn from_metrics(
        m: &RunMetrics,
        summary: &Summary,
        prices: &PriceComparison,
        settings: &[(String, String)],
    ) -> Self {
        let timeline = m
            .timeline
            .seconds
            .iter()
            .enumerate()
            .map(|(i, s)| TimelinePoint {
                second: i as u64,
                calls: s.calls,
                errors: s.errors,
                p95_ms: s.call_p95_us().map(|us| us as f64 / 1000.0),
            })
            .collect();
        ReportData {
            summary: summary.clone(),
            histograms: hlog::log_histograms(m),
            timeline,
            prices: prices.clone(),
            settings: settings.to_vec(),
            notes: Vec::new(),
            server: None,
        }
    }

    /// The data of a run directory: `summary.json` (required), `histograms.hlog`,
    /// `timeline.csv` and `report_inputs.json`. A missing optional file leaves its plots empty
    /// (or, for the inputs, compares the run's own models under the shipped table) and adds a
    /// note saying so.
    pub fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        let run = RunDir::open(dir)?;
        let mut notes = Vec::new();
        let histograms = match run.histograms()? {
            Some(h) => h,
            None => {
                notes.push(format!(
                    "{} is missing: the latency plots are empty",
                    hlog::HLOG_FILE
                ));
                BTreeMap::new()
            }
        };
        let timeline = match run.timeline()? {
            Some(t) => t,
            None => {
                notes.push(format!("{TIMELINE_FILE} is missing: the timeline is empty"));
                Vec::new()
            }
        };
        let summary = run.summary;
        let (settings, prices) = stored_comparison(&run.dir, &summary, &mut notes)?;
        let server = match &summary.server {
            Some(sec) => {
                let path = run.dir.join(SERVER_METRICS_FILE);
                if path.is_file() {
                    Some(server_panels(&read_server_metrics(
                        &path,
                        &sec.source,
                        sec.interval_s,
                    )?))
                } else {
                    notes.push(format!(
                        "{SERVER_METRICS_FILE} is missing: the server metrics plot is empty"
                    ));
                    Some(Vec::new())
                }
            }
            None => None,
        };
        Ok(ReportData {
            summary,
            histograms,
            timeline,
            prices,
            settings,
            notes,
            server,
        })
    }
}
