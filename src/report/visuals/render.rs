//! Drawing every visual file of a run from its [`ReportData`]: the six plots (seven with the
//! server's metrics),
//! `price_comparison.csv` and `index.html` (last, since it embeds the plots).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::data::{
    INDEX_FILE, PLOT_CALL_HISTOGRAM, PLOT_CALL_PERCENTILES, PLOT_CONVERSATION_PERCENTILES,
    PLOT_COST_BY_MODEL, PLOT_PRICE_COMPARISON, PLOT_SERVER_METRICS, PLOT_TIMELINE, ReportData,
    server_panels,
};
use super::page::page;
use super::prices::{
    PRICE_COMPARISON_FILE, PriceChoice, PriceComparison, REPORT_INPUTS_FILE, price_comparison,
    write_price_comparison, write_report_inputs,
};
use crate::metrics::RunMetrics;
use crate::observe::ServerMetrics;
use crate::pricing::PriceTable;
use crate::report::html;
use crate::report::plot::{self, LatencySeries, ModelCost, OpenPeriod, PriceComparisonRow};
use crate::report::summary::Summary;

/// Breaker-open periods from the summary's transitions; a breaker still open at the end stays
/// open until the run's end.
fn open_periods(s: &Summary) -> Vec<OpenPeriod> {
    let mut open: BTreeMap<&str, f64> = BTreeMap::new();
    let mut out = Vec::new();
    for t in &s.breaker.transitions {
        if t.to == "open" {
            open.entry(t.key.as_str()).or_insert(t.at_s);
        } else if let Some(start) = open.remove(t.key.as_str()) {
            out.push(OpenPeriod {
                start_s: start,
                end_s: t.at_s,
                label: t.key.clone(),
            });
        }
    }
    for (key, start) in open {
        out.push(OpenPeriod {
            start_s: start,
            end_s: s.run.duration_s.max(start),
            label: key.to_string(),
        });
    }
    out.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    out
}

/// Writes every visual file of a finished run into `dir`: the plots, `price_comparison.csv`,
/// `report_inputs.json` and `index.html` (last). Returns the paths written.
pub fn write_visuals(
    dir: &Path,
    metrics: &RunMetrics,
    summary: &Summary,
    prices: &PriceComparison,
    settings: &[(String, String)],
    server: Option<&ServerMetrics>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut data = ReportData::from_metrics(metrics, summary, prices, settings);
    data.server = server.map(server_panels);
    write_report_inputs(dir, settings, prices)?;
    let mut written = render(dir, &data)?;
    written.insert(0, dir.join(REPORT_INPUTS_FILE));
    Ok(written)
}

/// What `bench run` calls after `RunRecorder::finish`: prices the run's mix
/// ([`price_comparison`]) and writes every visual file ([`write_visuals`]).
pub fn write_run_report(
    dir: &Path,
    metrics: &RunMetrics,
    summary: &Summary,
    table: &PriceTable,
    choice: &PriceChoice,
    settings: &[(String, String)],
    server: Option<&ServerMetrics>,
) -> anyhow::Result<Vec<PathBuf>> {
    let prices = price_comparison(summary, table, choice)?;
    write_visuals(dir, metrics, summary, &prices, settings, server)
}

fn empty_histogram() -> Histogram<u64> {
    crate::metrics::new_histogram()
}

/// Draws the plots and writes `price_comparison.csv` and `index.html` from `data`. Returns the
/// paths written, the page last.
pub fn render(dir: &Path, data: &ReportData) -> anyhow::Result<Vec<PathBuf>> {
    let s = &data.summary;
    let empty = empty_histogram();
    let hist = |name: &str| data.histograms.get(name).unwrap_or(&empty);
    let mut written = Vec::new();

    // Call latency: all calls, then each answering model.
    let per_model: Vec<(String, String)> = data
        .histograms
        .keys()
        .filter_map(|k| {
            k.strip_prefix("llm_call/")
                .map(|m| (m.to_string(), k.clone()))
        })
        .collect();
    let mut series = vec![LatencySeries {
        name: "all calls",
        histogram: hist("llm_call"),
    }];
    for (model, key) in &per_model {
        series.push(LatencySeries {
            name: model,
            histogram: hist(key),
        });
    }
    if per_model.len() == 1 {
        // One model: its curve is the "all" curve; do not draw it twice.
        series.truncate(1);
        series[0].name = &per_model[0].0;
    }
    let path = dir.join(PLOT_CALL_PERCENTILES);
    plot::plot_latency_percentiles(&path, "LLM call latency by percentile", &series)?;
    written.push(path);

    let mut series = vec![LatencySeries {
        name: "from actual start",
        histogram: hist("conversation"),
    }];
    if !hist("conversation_from_intended").is_empty() {
        series.push(LatencySeries {
            name: "from intended start",
            histogram: hist("conversation_from_intended"),
        });
    }
    let path = dir.join(PLOT_CONVERSATION_PERCENTILES);
    plot::plot_latency_percentiles(&path, "Conversation latency by percentile", &series)?;
    written.push(path);

    let path = dir.join(PLOT_CALL_HISTOGRAM);
    plot::plot_latency_histogram(&path, "LLM call latency", hist("llm_call"))?;
    written.push(path);

    let path = dir.join(PLOT_TIMELINE);
    plot::plot_timeline(&path, &data.timeline, &open_periods(s))?;
    written.push(path);

    let costs: Vec<ModelCost> = s
        .cost
        .by_model
        .iter()
        .map(|(model, c)| ModelCost {
            model: model.clone(),
            usd: c.usd,
        })
        .collect();
    let path = dir.join(PLOT_COST_BY_MODEL);
    plot::plot_cost_by_model(&path, &costs)?;
    written.push(path);

    let rows: Vec<PriceComparisonRow> = data
        .prices
        .rows
        .iter()
        .map(|r| PriceComparisonRow {
            model: r.model.clone(),
            usd_per_1k_conversations: r.usd_per_1k_calls,
            is_reference: r.is_reference,
        })
        .collect();
    let path = dir.join(PLOT_PRICE_COMPARISON);
    plot::plot_price_comparison(&path, &rows)?;
    written.push(path);

    if let Some(steps) = super::shape::steps(s) {
        let path = dir.join(super::data::PLOT_PROMPT_BY_STEP);
        plot::plot_prompt_by_step(&path, &steps)?;
        written.push(path);
    }

    if let (Some(panels), Some(sec)) = (&data.server, &s.server) {
        let path = dir.join(PLOT_SERVER_METRICS);
        plot::plot_server_metrics(&path, &sec.source, panels, s.run.duration_s)?;
        written.push(path);
    }

    write_price_comparison(dir, &data.prices)?;
    written.push(dir.join(PRICE_COMPARISON_FILE));

    let path = dir.join(INDEX_FILE);
    html::write_html(&path, &page(dir, data))?;
    written.push(path);
    Ok(written)
}
