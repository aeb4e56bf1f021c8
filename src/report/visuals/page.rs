//! `index.html` as content: the run's settings, notes, the summary's tables, the plots, the
//! latency percentiles, the price comparison and the thresholds, handed to [`crate::report::html`] to write.

use std::path::Path;

use super::data::{
    PLOT_CALL_HISTOGRAM, PLOT_CALL_PERCENTILES, PLOT_CONVERSATION_PERCENTILES, PLOT_COST_BY_MODEL,
    PLOT_FILES, PLOT_PROMPT_BY_STEP, PLOT_SERVER_METRICS, PLOT_TIMELINE, ReportData,
};
use super::prices::PriceComparison;
use crate::report::format::{self, ms_unit};
use crate::report::html::{HtmlImage, HtmlReport, HtmlTable};
use crate::report::summary::{LatencyMs, Summary};
use crate::report::terminal;

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
        PLOT_SERVER_METRICS => "Server metrics",
        PLOT_PROMPT_BY_STEP => "Prompt tokens by step",
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

/// The page of a run whose plots are in `dir`.
pub fn page(dir: &Path, data: &ReportData) -> HtmlReport {
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

    let sections = terminal::sections_without_tools(s);
    let mut sections = sections.into_iter();
    let summary = sections
        .next()
        .map(|(title, t)| from_table(&title, &t))
        .unwrap_or_default();
    let mut tables: Vec<HtmlTable> = sections.map(|(title, t)| from_table(&title, &t)).collect();
    tables.extend(super::shape::tables(s));
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
            .flat_map(|f| {
                // The server's metrics under the timeline, on the same time axis.
                let server =
                    (*f == PLOT_TIMELINE && data.server.is_some()).then_some(PLOT_SERVER_METRICS);
                std::iter::once(*f).chain(server)
            })
            // The prompt's growth by step after the costs it explains.
            .chain(s.prompt.is_some().then_some(PLOT_PROMPT_BY_STEP))
            .map(|f| HtmlImage {
                title: image_title(f).to_string(),
                path: dir.join(f),
            })
            .collect(),
        tables,
    }
}
