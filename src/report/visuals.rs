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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::atomic;
use super::format::{self, ms_unit};
use super::hlog;
use super::html::{self, HtmlImage, HtmlReport, HtmlTable};
use super::plot::{self, LatencySeries, ModelCost, OpenPeriod, PriceComparisonRow, TimelinePoint};
use super::run_dir::{RunDir, TIMELINE_FILE};
use super::summary::{LatencyMs, Summary};
use super::terminal;
use crate::metrics::RunMetrics;
use crate::pricing::{ModelPrice, PriceTable, TableFormat, TokenMix, WhatIfRow, what_if};

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
/// The what-if comparison as CSV.
pub const PRICE_COMPARISON_FILE: &str = "price_comparison.csv";
/// What `bench report DIR` needs besides the metric files: settings and comparison prices.
pub const REPORT_INPUTS_FILE: &str = "report_inputs.json";

/// Columns of `price_comparison.csv`, pinned by a test; documented in `docs/report-files.md`.
pub const PRICE_COMPARISON_COLUMNS: &[&str] = &[
    "model",
    "table_key",
    "provider",
    "input_usd_per_mtok",
    "cached_input_usd_per_mtok",
    "output_usd_per_mtok",
    "context_window",
    "conversations",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "usd_total",
    "usd_per_conversation",
    "usd_per_1k_conversations",
    "conversations_per_day",
    "usd_per_day",
    "usd_per_month",
    "is_reference",
    "saving_usd_per_month",
    "saving_pct",
];

/// Conversations per day for the daily and monthly figures when `[prices] per_day` is not set
/// (the same default as `bench prices`).
pub const DEFAULT_PER_DAY: u64 = 1000;

/// A table with more models than this (a LiteLLM file lists thousands) is not compared whole
/// when no models are chosen: the run's own models are, so the plot stays readable.
pub const MAX_WHOLE_TABLE_MODELS: usize = 40;

/// What to compare: the fields of the scenario's `[prices]` that the comparison uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceChoice {
    /// Models to re-price the run under; empty means the whole table.
    pub compare: Vec<String>,
    /// Model the others are compared against.
    pub reference: Option<String>,
    /// Conversations per day; [`DEFAULT_PER_DAY`] when `None`.
    pub per_day: Option<u64>,
}

/// The run's token mix re-priced under several models.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceComparison {
    /// The run's totals; `calls` is the number of conversations, so "per call" figures of the
    /// rows are per conversation.
    pub mix: TokenMix,
    /// Conversations per day behind `usd_per_day` and `usd_per_month`.
    pub per_day: u64,
    /// The reference model, as named.
    pub reference: Option<String>,
    /// One row per model; empty when the run recorded no conversation.
    pub rows: Vec<WhatIfRow>,
}

/// The run's token totals, per conversation: the mix the comparison re-prices.
pub fn run_token_mix(s: &Summary) -> TokenMix {
    TokenMix {
        calls: s.conversation.count,
        prompt_tokens: s.tokens.prompt,
        cached_tokens: s.tokens.cached,
        completion_tokens: s.tokens.completion,
    }
}

/// Re-prices the run's actual token mix (total prompt, cached and completion tokens, per
/// conversation) under `choice.compare`, or the whole table when that is empty (the run's own
/// billed models when the table is a LiteLLM file or holds more than
/// [`MAX_WHOLE_TABLE_MODELS`]). A run without conversations gives no rows; a model missing
/// from the table is an error naming it.
pub fn price_comparison(
    summary: &Summary,
    table: &PriceTable,
    choice: &PriceChoice,
) -> anyhow::Result<PriceComparison> {
    let mix = run_token_mix(summary);
    let per_day = choice.per_day.unwrap_or(DEFAULT_PER_DAY);
    let mut out = PriceComparison {
        mix,
        per_day,
        reference: choice.reference.clone(),
        rows: Vec::new(),
    };
    if mix.calls == 0 {
        return Ok(out);
    }
    let too_big =
        table.info.format == TableFormat::Litellm || table.models.len() > MAX_WHOLE_TABLE_MODELS;
    let mut models: Vec<String> = if choice.compare.is_empty() && too_big {
        summary
            .cost
            .by_model
            .keys()
            .filter(|m| table.resolve(m).is_some())
            .cloned()
            .collect()
    } else {
        choice.compare.clone()
    };
    if models.is_empty() && too_big {
        // An empty list means "the whole table" to `what_if`: never thousands of rows.
        match &choice.reference {
            Some(r) => models.push(r.clone()),
            None => return Ok(out),
        }
    }
    out.rows = what_if(table, &mix, &models, choice.reference.as_deref(), per_day)
        .context("[prices] compare/reference: pricing the run's token mix")?;
    Ok(out)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Writes `price_comparison.csv` (columns [`PRICE_COMPARISON_COLUMNS`]) atomically.
pub fn write_price_comparison(dir: &Path, pc: &PriceComparison) -> anyhow::Result<()> {
    let path = dir.join(PRICE_COMPARISON_FILE);
    atomic::write_with(&path, |f| {
        let mut w = ::csv::Writer::from_writer(f);
        w.write_record(PRICE_COMPARISON_COLUMNS)?;
        for r in &pc.rows {
            w.write_record([
                r.model.clone(),
                r.table_key.clone(),
                r.provider.clone().unwrap_or_default(),
                r.input_usd_per_mtok.to_string(),
                r.cached_input_usd_per_mtok.to_string(),
                r.output_usd_per_mtok.to_string(),
                opt(r.context_window),
                pc.mix.calls.to_string(),
                pc.mix.prompt_tokens.to_string(),
                pc.mix.cached_tokens.to_string(),
                pc.mix.completion_tokens.to_string(),
                r.usd_total.to_string(),
                r.usd_per_call.to_string(),
                r.usd_per_1k_calls.to_string(),
                pc.per_day.to_string(),
                r.usd_per_day.to_string(),
                r.usd_per_month.to_string(),
                r.is_reference.to_string(),
                opt(r.saving_usd_per_month),
                opt(r.saving_pct),
            ])?;
        }
        w.flush()?;
        Ok(())
    })
}

/// One compared model's price, as kept in `report_inputs.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredPrice {
    model: String,
    table_key: String,
    provider: Option<String>,
    input_usd_per_mtok: f64,
    cached_input_usd_per_mtok: f64,
    output_usd_per_mtok: f64,
    context_window: Option<u64>,
}

/// `report_inputs.json`: what re-rendering needs that the metric files do not hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ReportInputs {
    version: u32,
    settings: Vec<(String, String)>,
    per_day: u64,
    reference: Option<String>,
    prices: Vec<StoredPrice>,
}

const REPORT_INPUTS_VERSION: u32 = 1;

fn write_report_inputs(
    dir: &Path,
    settings: &[(String, String)],
    pc: &PriceComparison,
) -> anyhow::Result<()> {
    let inputs = ReportInputs {
        version: REPORT_INPUTS_VERSION,
        settings: settings.to_vec(),
        per_day: pc.per_day,
        reference: pc.reference.clone(),
        prices: pc
            .rows
            .iter()
            .map(|r| StoredPrice {
                model: r.model.clone(),
                table_key: r.table_key.clone(),
                provider: r.provider.clone(),
                input_usd_per_mtok: r.input_usd_per_mtok,
                cached_input_usd_per_mtok: r.cached_input_usd_per_mtok,
                output_usd_per_mtok: r.output_usd_per_mtok,
                context_window: r.context_window,
            })
            .collect(),
    };
    let mut json = serde_json::to_string_pretty(&inputs)?;
    json.push('\n');
    atomic::write_bytes(dir.join(REPORT_INPUTS_FILE), json.as_bytes())
}

/// Rebuilds the comparison from stored prices: the same models, in the same order, priced the
/// same, on the run's mix from `summary.json`.
fn comparison_from_inputs(
    summary: &Summary,
    inputs: &ReportInputs,
) -> anyhow::Result<PriceComparison> {
    let mut table = PriceTable::default();
    for p in &inputs.prices {
        table.models.insert(
            p.table_key.clone(),
            ModelPrice {
                input_usd_per_mtok: p.input_usd_per_mtok,
                cached_input_usd_per_mtok: p.cached_input_usd_per_mtok,
                output_usd_per_mtok: p.output_usd_per_mtok,
                context_window: p.context_window,
                provider: p.provider.clone(),
                notes: None,
            },
        );
        if p.model != p.table_key {
            table.aliases.insert(p.model.clone(), p.table_key.clone());
        }
    }
    let choice = PriceChoice {
        compare: inputs.prices.iter().map(|p| p.model.clone()).collect(),
        reference: inputs.reference.clone(),
        per_day: Some(inputs.per_day),
    };
    if choice.compare.is_empty() {
        return Ok(PriceComparison {
            mix: run_token_mix(summary),
            per_day: inputs.per_day,
            reference: inputs.reference.clone(),
            rows: Vec::new(),
        });
    }
    price_comparison(summary, &table, &choice)
}

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
        let inputs_path = run.file(REPORT_INPUTS_FILE);
        let summary = run.summary;
        let (settings, prices) = if inputs_path.is_file() {
            let text = std::fs::read_to_string(&inputs_path)
                .with_context(|| format!("cannot read {}", inputs_path.display()))?;
            let inputs: ReportInputs = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not valid; delete it to compare the run's models under the shipped \
                     price table",
                    inputs_path.display()
                )
            })?;
            let prices = comparison_from_inputs(&summary, &inputs)?;
            (inputs.settings, prices)
        } else {
            notes.push(format!(
                "{REPORT_INPUTS_FILE} is missing: settings are not shown and the price \
                 comparison uses the shipped price table"
            ));
            let table = PriceTable::default_table()?;
            let choice = PriceChoice {
                compare: summary
                    .cost
                    .by_model
                    .keys()
                    .filter(|m| table.resolve(m).is_some())
                    .cloned()
                    .collect(),
                ..PriceChoice::default()
            };
            let prices = if choice.compare.is_empty() {
                PriceComparison {
                    mix: run_token_mix(&summary),
                    per_day: DEFAULT_PER_DAY,
                    ..PriceComparison::default()
                }
            } else {
                price_comparison(&summary, &table, &choice)?
            };
            (Vec::new(), prices)
        };
        Ok(ReportData {
            summary,
            histograms,
            timeline,
            prices,
            settings,
            notes,
        })
    }
}

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
) -> anyhow::Result<Vec<PathBuf>> {
    let data = ReportData::from_metrics(metrics, summary, prices, settings);
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
) -> anyhow::Result<Vec<PathBuf>> {
    let prices = price_comparison(summary, table, choice)?;
    write_visuals(dir, metrics, summary, &prices, settings)
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

    write_price_comparison(dir, &data.prices)?;
    written.push(dir.join(PRICE_COMPARISON_FILE));

    let path = dir.join(INDEX_FILE);
    html::write_html(&path, &page(dir, data))?;
    written.push(path);
    Ok(written)
}

fn from_table(title: &str, t: &terminal::Table) -> HtmlTable {
    HtmlTable {
        title: title.to_string(),
        headers: t.header.clone(),
        rows: t.rows.clone(),
    }
}

fn image_title(file: &str) -> &'static str {
    match file {
        PLOT_CALL_PERCENTILES => "LLM call latency by percentile",
        PLOT_CONVERSATION_PERCENTILES => "Conversation latency by percentile",
        PLOT_CALL_HISTOGRAM => "LLM call latency histogram",
        PLOT_TIMELINE => "Timeline",
        PLOT_COST_BY_MODEL => "Cost by model",
        _ => "Price comparison",
    }
}

fn percentile_table(data: &ReportData) -> HtmlTable {
    let mut rows = Vec::new();
    for (name, h) in &data.histograms {
        let (metric, model) = name.split_once('/').unwrap_or((name.as_str(), "all"));
        let l = LatencyMs::from_us(h);
        rows.push(vec![
            metric.to_string(),
            model.to_string(),
            l.count.to_string(),
            ms_unit(l.p50),
            ms_unit(l.p90),
            ms_unit(l.p95),
            ms_unit(l.p99),
            ms_unit(l.p99_9),
            ms_unit(l.max),
            ms_unit(l.mean),
        ]);
    }
    HtmlTable {
        title: "Latency percentiles by metric and model".into(),
        headers: [
            "metric", "model", "count", "p50", "p90", "p95", "p99", "p99.9", "max", "mean",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    }
}

fn price_table(pc: &PriceComparison) -> HtmlTable {
    let money = |v: f64| format::usd_compact(v);
    let rows = pc
        .rows
        .iter()
        .map(|r| {
            let name = if r.is_reference {
                format!("{} (reference)", r.model)
            } else {
                r.model.clone()
            };
            vec![
                name,
                format!(
                    "{} / {} / {}",
                    r.input_usd_per_mtok, r.cached_input_usd_per_mtok, r.output_usd_per_mtok
                ),
                money(r.usd_per_call),
                money(r.usd_per_1k_calls),
                money(r.usd_per_day),
                money(r.usd_per_month),
                r.saving_usd_per_month.map(money).unwrap_or_default(),
                r.saving_pct
                    .map(|p| format!("{p:+.1}%"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    HtmlTable {
        title: format!(
            "Price comparison ({} conversations; {} a day)",
            pc.mix.calls, pc.per_day
        ),
        headers: [
            "model",
            "USD/Mtok in / cached / out",
            "per conversation",
            "per 1,000",
            "per day",
            "per month",
            "saving per month",
            "saving",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    }
}

fn threshold_table(s: &Summary) -> Option<HtmlTable> {
    if s.thresholds.is_empty() {
        return None;
    }
    let num = |v: Option<f64>| v.map(format::figure).unwrap_or_default();
    Some(HtmlTable {
        title: "Thresholds".into(),
        headers: ["result", "metric", "condition", "limit", "measured", "note"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: s
            .thresholds
            .iter()
            .map(|t| {
                vec![
                    if t.skipped() {
                        "skipped".into()
                    } else if t.passed {
                        "pass".into()
                    } else {
                        "FAIL".into()
                    },
                    t.metric.clone(),
                    t.condition.clone(),
                    num(t.limit),
                    num(t.measured),
                    t.note.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    })
}

fn page(dir: &Path, data: &ReportData) -> HtmlReport {
    let s = &data.summary;
    let mut notes = Vec::new();
    if s.run.interrupted {
        notes.push("This run was interrupted: its figures cover part of the run.".to_string());
    }
    if let Some(failed) = (!s.thresholds.is_empty())
        .then(|| s.thresholds.iter().filter(|t| !t.passed).count())
        .filter(|n| *n > 0)
    {
        notes.push(format!(
            "{failed} of {} thresholds failed.",
            s.thresholds.len()
        ));
    }
    notes.extend(terminal::warnings(s));
    notes.extend(data.notes.iter().cloned());

    let mut settings = vec![
        ("scenario".to_string(), s.run.name.clone()),
        ("started (UTC)".to_string(), s.run.started_at.clone()),
        ("duration".to_string(), format!("{:.1} s", s.run.duration_s)),
        ("seed".to_string(), s.run.seed.to_string()),
        ("endpoint".to_string(), s.run.endpoint_kind.clone()),
        ("load model".to_string(), s.run.load_model.clone()),
        (
            "token mix priced".to_string(),
            format!(
                "{} prompt ({} cached) and {} completion tokens over {} conversations",
                data.prices.mix.prompt_tokens,
                data.prices.mix.cached_tokens,
                data.prices.mix.completion_tokens,
                data.prices.mix.calls
            ),
        ),
    ];
    settings.extend(
        data.settings
            .iter()
            .filter(|(k, _)| !settings.iter().any(|(have, _)| have == k))
            .cloned()
            .collect::<Vec<_>>(),
    );

    let sections = terminal::sections(s);
    let mut sections = sections.into_iter();
    let summary = sections
        .next()
        .map(|(title, t)| from_table(&title, &t))
        .unwrap_or_default();
    let mut tables: Vec<HtmlTable> = sections.map(|(title, t)| from_table(&title, &t)).collect();
    tables.push(percentile_table(data));
    tables.push(price_table(&data.prices));
    tables.extend(threshold_table(s));

    HtmlReport {
        title: format!("reactbench: {} ({})", s.run.name, s.run.started_at),
        notes,
        settings,
        summary,
        images: PLOT_FILES
            .iter()
            .map(|f| HtmlImage {
                title: image_title(f).to_string(),
                path: dir.join(f),
            })
            .collect(),
        tables,
    }
}
