//! A sweep's files: `sweep.json` (rewritten after every step, so an interrupted sweep keeps
//! what finished), `sweep.csv`, the PNGs against the load, `index.html`, and the answer lines.

use std::path::Path;

use serde_json::json;

use super::search::{LoadKind, ModelSweep, Step, load_label};
use crate::report::atomic;
use crate::report::format::usd_prices as fmt_usd;
use crate::report::html::{HtmlImage, HtmlReport, HtmlTable, write_html};
use crate::report::plot::{Choice, Line, pareto_front, plot_lines, plot_pareto};
use crate::scenario::{Plan, SweepPlan};

/// Version of `sweep.json`'s layout.
const SWEEP_VERSION: u32 = 1;

/// The scenario's own load, at which models are compared.
fn scenario_load(plan: &Plan) -> f64 {
    match &plan.load.shape {
        crate::scenario::LoadShape::Closed(c) => c.users as f64,
        crate::scenario::LoadShape::Open(o) => o.arrival_rate.per_second,
        crate::scenario::LoadShape::Replay(_) => 0.0,
    }
}

/// A model's estimated cost per month at `load`: its dollars per conversation at its answer,
/// at the conversation rate its answer's rate scales to (rate per unit of load times `load`;
/// below the knee a closed model's rate grows with its users, an open model's is the load).
fn cost_at(best: &Step, load: f64) -> f64 {
    if best.load <= 0.0 {
        return 0.0;
    }
    best.usd_per_month() * load / best.load
}

/// The cheapest model meeting the SLO at the scenario's load, with its monthly cost.
fn cheapest<'a>(plan: &Plan, results: &'a [ModelSweep]) -> Option<(&'a str, f64)> {
    let at = scenario_load(plan);
    results
        .iter()
        .filter_map(|r| r.best.map(|b| (r.model.as_str(), &r.steps[b])))
        .filter(|(_, b)| b.load >= at)
        .map(|(m, b)| (m, cost_at(b, at)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The answer, one line per model (and one across models), printed last.
pub(super) fn answer_lines(
    plan: &Plan,
    settings: &SweepPlan,
    kind: LoadKind,
    results: &[ModelSweep],
) -> Vec<String> {
    let mut lines = Vec::new();
    for r in results {
        let prefix = if results.len() > 1 {
            format!("{}: ", r.model)
        } else {
            String::new()
        };
        match r.best.map(|i| &r.steps[i]) {
            None => lines.push(format!(
                "{prefix}no load met the SLO at {:.1}% attainment ({} steps; {})",
                settings.target * 100.0,
                r.steps.len(),
                r.stopped
            )),
            Some(b) => lines.push(format!(
                "{prefix}highest load meeting the SLO: {} {} ({:.1} conversations/s, attainment {:.1}% [{:.1}, {:.1}]); at that load: {} per day, {} per month",
                load_label(b.load),
                kind.unit(),
                b.conversations_per_s,
                b.attainment * 100.0,
                b.attainment_low * 100.0,
                b.attainment_high * 100.0,
                fmt_usd(b.usd_per_day()),
                fmt_usd(b.usd_per_month()),
            )),
        }
    }
    if results.len() > 1 {
        let at = scenario_load(plan);
        lines.push(match cheapest(plan, results) {
            Some((m, usd)) => format!(
                "cheapest model meeting the SLO at {} {}: {m} ({} per month)",
                load_label(at),
                kind.unit(),
                fmt_usd(usd)
            ),
            None => format!("no model met the SLO at {} {}", load_label(at), kind.unit()),
        });
    }
    lines
}

/// `sweep.json`.
pub(super) fn write_json(
    out: &Path,
    plan: &Plan,
    settings: &SweepPlan,
    kind: LoadKind,
    results: &[ModelSweep],
    interrupted: bool,
) -> anyhow::Result<()> {
    let models: Vec<_> = results
        .iter()
        .map(|r| {
            let best = r.best.map(|i| {
                let b = &r.steps[i];
                json!({
                    "load": b.load,
                    "attainment": b.attainment,
                    "attainment_low": b.attainment_low,
                    "attainment_high": b.attainment_high,
                    "conversations_per_s": b.conversations_per_s,
                    "goodput_per_s": b.goodput_per_s,
                    "usd_per_conversation": b.usd_per_conversation,
                    "usd_per_day": b.usd_per_day(),
                    "usd_per_month": b.usd_per_month(),
                })
            });
            let steps: Vec<_> = r
                .steps
                .iter()
                .map(|s| {
                    let mut v = serde_json::to_value(s).unwrap_or_default();
                    v["usd_per_day"] = json!(s.usd_per_day());
                    v["usd_per_month"] = json!(s.usd_per_month());
                    v
                })
                .collect();
            json!({"model": r.model, "stopped": r.stopped, "best": best, "steps": steps})
        })
        .collect();
    let doc = json!({
        "version": SWEEP_VERSION,
        "scenario": plan.name,
        "load": kind.unit(),
        "target": settings.target,
        "interrupted": interrupted,
        "slo": plan.slo.as_ref().map(|s| s.written.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()),
        "models": models,
        "answer": answer_lines(plan, settings, kind, results),
        "cheapest": cheapest(plan, results).map(|(m, usd)| json!({
            "model": m, "at_load": scenario_load(plan), "usd_per_month": usd
        })),
    });
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    atomic::write_bytes(out.join("sweep.json"), text.as_bytes())
}

/// The columns of `sweep.csv`.
pub const SWEEP_COLUMNS: [&str; 22] = [
    "model",
    "step",
    "load",
    "runs",
    "verdict",
    "conversations",
    "good",
    "attainment",
    "attainment_low",
    "attainment_high",
    "conversations_per_s",
    "goodput_per_s",
    "conversation_p50_ms",
    "conversation_p95_ms",
    "conversation_p99_ms",
    "call_p50_ms",
    "call_p95_ms",
    "call_p99_ms",
    "error_rate",
    "retry_amplification",
    "usd_per_conversation",
    "usd_per_month",
];

/// `sweep.csv`: one row per step.
pub(super) fn write_csv(out: &Path, results: &[ModelSweep]) -> anyhow::Result<()> {
    atomic::write_with(out.join("sweep.csv"), |f| {
        let mut w = csv::Writer::from_writer(f);
        w.write_record(SWEEP_COLUMNS)?;
        for r in results {
            for (i, s) in r.steps.iter().enumerate() {
                let verdict = serde_json::to_value(s.verdict)?;
                w.write_record([
                    s.model.clone(),
                    (i + 1).to_string(),
                    s.load.to_string(),
                    s.runs.to_string(),
                    verdict.as_str().unwrap_or_default().to_string(),
                    s.conversations.to_string(),
                    s.good.to_string(),
                    s.attainment.to_string(),
                    s.attainment_low.to_string(),
                    s.attainment_high.to_string(),
                    s.conversations_per_s.to_string(),
                    s.goodput_per_s.to_string(),
                    s.conversation_p50_ms.to_string(),
                    s.conversation_p95_ms.to_string(),
                    s.conversation_p99_ms.to_string(),
                    s.call_p50_ms.to_string(),
                    s.call_p95_ms.to_string(),
                    s.call_p99_ms.to_string(),
                    s.error_rate.to_string(),
                    s.retry_amplification.to_string(),
                    s.usd_per_conversation.to_string(),
                    s.usd_per_month().to_string(),
                ])?;
            }
        }
        w.flush()?;
        Ok(())
    })
}

/// The PNG files and their captions, in page order.
fn plot_files(results: &[ModelSweep]) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![
        ("sweep_attainment.png", "SLO attainment against the load"),
        (
            "sweep_goodput.png",
            "Goodput and throughput against the load",
        ),
        (
            "sweep_latency.png",
            "Conversation latency percentiles against the load",
        ),
        ("sweep_cost.png", "Dollars per month against the load"),
    ];
    if results.len() > 1 {
        files.push(("sweep_models.png", "Cost against latency per model"));
    }
    files
}

/// The sweep's PNGs.
pub(super) fn write_plots(
    out: &Path,
    plan: &Plan,
    settings: &SweepPlan,
    kind: LoadKind,
    results: &[ModelSweep],
) -> anyhow::Result<()> {
    let x = format!("Load ({})", kind.unit());
    let judged = |s: &&Step| s.conversations > 0;
    let lines = |name: &dyn Fn(&ModelSweep) -> String, y: &dyn Fn(&Step) -> f64| -> Vec<Line> {
        results
            .iter()
            .map(|r| Line {
                name: name(r),
                points: r
                    .steps
                    .iter()
                    .filter(judged)
                    .map(|s| (s.load, y(s)))
                    .collect(),
            })
            .collect()
    };
    let model = |r: &ModelSweep| r.model.clone();
    plot_lines(
        &out.join("sweep_attainment.png"),
        &format!(
            "{}: SLO attainment (target {:.1}%)",
            plan.name,
            settings.target * 100.0
        ),
        (&x, "Attainment (%)"),
        &lines(&model, &|s| s.attainment * 100.0),
        Some((settings.target * 100.0, "target")),
    )?;
    let mut goodput = lines(&|r| format!("{} goodput", r.model), &|s| s.goodput_per_s);
    goodput.extend(lines(&|r| format!("{} throughput", r.model), &|s| {
        s.conversations_per_s
    }));
    plot_lines(
        &out.join("sweep_goodput.png"),
        &format!("{}: good conversations per second", plan.name),
        (&x, "Conversations per second"),
        &goodput,
        None,
    )?;
    let mut latency = Vec::new();
    for (label, f) in [
        (
            "p50",
            (|s: &Step| s.conversation_p50_ms) as fn(&Step) -> f64,
        ),
        ("p95", |s: &Step| s.conversation_p95_ms),
        ("p99", |s: &Step| s.conversation_p99_ms),
    ] {
        latency.extend(lines(&|r| format!("{} {label}", r.model), &f));
    }
    plot_lines(
        &out.join("sweep_latency.png"),
        &format!("{}: conversation latency", plan.name),
        (&x, "Latency (ms)"),
        &latency,
        None,
    )?;
    plot_lines(
        &out.join("sweep_cost.png"),
        &format!("{}: dollars per month at each load", plan.name),
        (&x, "Dollars per month"),
        &lines(&model, &|s| s.usd_per_month()),
        None,
    )?;
    if results.len() > 1 {
        let at = scenario_load(plan);
        let choices: Vec<Choice> = results
            .iter()
            .filter_map(|r| {
                let b = &r.steps[r.best?];
                (b.load >= at).then(|| Choice {
                    name: r.model.clone(),
                    latency_ms: b.conversation_p95_ms,
                    usd_per_month: cost_at(b, at),
                })
            })
            .collect();
        plot_pareto(
            &out.join("sweep_models.png"),
            &format!(
                "Models meeting the SLO at {} {}: cost and latency",
                load_label(at),
                kind.unit()
            ),
            &choices,
        )?;
    }
    Ok(())
}

/// `index.html`: the answer, the steps, the plots.
pub(super) fn write_page(
    out: &Path,
    plan: &Plan,
    settings: &SweepPlan,
    kind: LoadKind,
    results: &[ModelSweep],
    interrupted: bool,
) -> anyhow::Result<()> {
    let mut notes = answer_lines(plan, settings, kind, results);
    if interrupted {
        notes.insert(0, "Interrupted: the steps that finished are shown.".into());
    }
    let mut summary = HtmlTable {
        title: "Answer".into(),
        headers: vec![
            "model".into(),
            format!("highest load ({})", kind.unit()),
            "conversations/s".into(),
            "attainment [95% interval]".into(),
            "p95 conversation".into(),
            "per month".into(),
            "steps".into(),
            "stopped".into(),
        ],
        rows: Vec::new(),
    };
    let front: Vec<usize> = {
        let choices: Vec<Choice> = results
            .iter()
            .map(|r| match r.best.map(|i| &r.steps[i]) {
                Some(b) => Choice {
                    name: r.model.clone(),
                    latency_ms: b.conversation_p95_ms,
                    usd_per_month: b.usd_per_month(),
                },
                None => Choice {
                    name: r.model.clone(),
                    latency_ms: f64::INFINITY,
                    usd_per_month: f64::INFINITY,
                },
            })
            .collect();
        pareto_front(&choices)
    };
    for (i, r) in results.iter().enumerate() {
        let row = match r.best.map(|i| &r.steps[i]) {
            None => vec![
                r.model.clone(),
                "none".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                r.steps.len().to_string(),
                r.stopped.clone(),
            ],
            Some(b) => vec![
                if results.len() > 1 && front.contains(&i) {
                    format!("{} (Pareto front)", r.model)
                } else {
                    r.model.clone()
                },
                load_label(b.load),
                format!("{:.2}", b.conversations_per_s),
                format!(
                    "{:.2}% [{:.2}, {:.2}]",
                    b.attainment * 100.0,
                    b.attainment_low * 100.0,
                    b.attainment_high * 100.0
                ),
                format!("{:.0} ms", b.conversation_p95_ms),
                fmt_usd(b.usd_per_month()),
                r.steps.len().to_string(),
                r.stopped.clone(),
            ],
        };
        summary.rows.push(row);
    }
    let steps = HtmlTable {
        title: "Steps".into(),
        headers: [
            "model",
            "load",
            "verdict",
            "conversations",
            "attainment [95%]",
            "conversations/s",
            "goodput/s",
            "p50 / p95 / p99 conversation (ms)",
            "error rate",
            "per month",
            "report",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: results
            .iter()
            .flat_map(|r| r.steps.iter())
            .map(|s| {
                vec![
                    s.model.clone(),
                    load_label(s.load),
                    format!("{:?}", s.verdict).to_lowercase(),
                    s.conversations.to_string(),
                    format!(
                        "{:.2}% [{:.2}, {:.2}]",
                        s.attainment * 100.0,
                        s.attainment_low * 100.0,
                        s.attainment_high * 100.0
                    ),
                    format!("{:.2}", s.conversations_per_s),
                    format!("{:.2}", s.goodput_per_s),
                    format!(
                        "{:.0} / {:.0} / {:.0}",
                        s.conversation_p50_ms, s.conversation_p95_ms, s.conversation_p99_ms
                    ),
                    format!("{:.2}%", s.error_rate * 100.0),
                    fmt_usd(s.usd_per_month()),
                    s.dirs
                        .iter()
                        .filter_map(|d| d.strip_prefix(out).ok())
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect(),
    };
    let mut settings_rows = vec![
        (
            "scenario file".to_string(),
            plan.source.display().to_string(),
        ),
        (
            "target attainment".to_string(),
            format!("{}", settings.target),
        ),
        ("load".to_string(), kind.unit().to_string()),
    ];
    if let Some(slo) = &plan.slo {
        for (k, v) in &slo.written {
            settings_rows.push((format!("slo {k}"), v.clone()));
        }
    }
    let report = HtmlReport {
        title: format!("Capacity sweep: {}", plan.name),
        notes,
        settings: settings_rows,
        summary,
        images: plot_files(results)
            .into_iter()
            .map(|(file, title)| HtmlImage {
                title: title.into(),
                path: out.join(file),
            })
            .collect(),
        tables: vec![steps],
    };
    write_html(&out.join("index.html"), &report)
}
