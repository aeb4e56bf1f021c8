//! `bench compare`'s output: aligned text for the terminal, Markdown for a pull request and
//! JSON, all from one [`Comparison`].

use std::fmt::Write as _;

use super::{Comparison, Row, Source, Unit, Verdict, unit_of};
use crate::report::format::{figure as format_value, usd_figure};
use crate::report::hlog::HLOG_FILE as HISTOGRAM_LOG;
use crate::report::terminal::Table;

fn value_text(metric: &str, v: Option<f64>) -> String {
    match v {
        None => "n/a".to_string(),
        Some(v) => match unit_of(metric) {
            Unit::Ms => format!("{} ms", format_value(v)),
            Unit::Usd => usd_figure(v),
            Unit::Ratio if metric.ends_with("_rate") => {
                format!("{}%", format_value(v * 100.0))
            }
            _ => format_value(v),
        },
    }
}

fn change_text(metric: &str, c: Option<f64>) -> String {
    match c {
        None => "n/a".to_string(),
        Some(0.0) => "0".to_string(),
        Some(c) => {
            let sign = if c > 0.0 { "+" } else { "-" };
            match unit_of(metric) {
                Unit::Ms => format!("{sign}{} ms", format_value(c.abs())),
                Unit::Usd => format!("{sign}${}", format_value(c.abs())),
                Unit::Ratio if metric.ends_with("_rate") => {
                    format!("{sign}{} pp", format_value(c.abs() * 100.0))
                }
                _ => format!("{sign}{}", format_value(c.abs())),
            }
        }
    }
}

fn relative_text(r: Option<f64>) -> String {
    match r {
        None => "n/a".to_string(),
        Some(r) if r.is_infinite() => {
            if r > 0.0 {
                "+∞".to_string()
            } else {
                "-∞".to_string()
            }
        }
        Some(r) => format!("{:+.1}%", r * 100.0),
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Regressed => "REGRESSED",
        Verdict::Worse => "worse (within tolerance)",
        Verdict::Same => "same",
        Verdict::Better => "better",
        Verdict::Missing => "n/a",
    }
}

fn table(c: &Comparison, mark: impl Fn(&Row, String) -> String) -> Table {
    Table {
        header: [
            "Metric",
            "Base",
            "New",
            "Change",
            "Change %",
            "Tolerance",
            "Result",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: c
            .rows
            .iter()
            .map(|r| {
                vec![
                    mark(r, r.metric.clone()),
                    value_text(&r.metric, r.base),
                    value_text(&r.metric, r.new),
                    change_text(&r.metric, r.change),
                    relative_text(r.relative),
                    format!("{}%", format_value(r.tolerance * 100.0)),
                    mark(r, verdict_text(r.verdict).to_string()),
                ]
            })
            .collect(),
    }
}

fn headline(c: &Comparison) -> String {
    let n = c
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regressed)
        .count();
    match n {
        0 => "no regression beyond tolerance".to_string(),
        1 => "1 regression beyond tolerance".to_string(),
        n => format!("{n} regressions beyond tolerance"),
    }
}

/// Aligned text for the terminal; `color` paints regressed rows red.
pub fn render_text(c: &Comparison, color: bool) -> String {
    let mut out = format!(
        "Compare {} -> {}: {}\n",
        c.base.display(),
        c.new.display(),
        headline(c)
    );
    let t = table(c, |_, s| s);
    let text = t.to_text(false);
    // Paint whole lines after alignment so escape codes do not skew the columns.
    let mut lines = text.lines();
    if let Some(head) = lines.next() {
        out.push_str(head);
        out.push('\n');
    }
    for (line, row) in lines.zip(&c.rows) {
        if color && row.verdict == Verdict::Regressed {
            let _ = writeln!(out, "\x1b[1;31m{line}\x1b[0m");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    let hist = c.rows.iter().any(|r| r.source == Source::Histogram);
    if hist {
        let _ = writeln!(
            out,
            "  (latency percentiles recomputed from both runs' {HISTOGRAM_LOG})"
        );
    }
    out
}

/// Markdown for a pull-request comment: a headline, the table with regressed rows marked, and
/// the notes.
pub fn render_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let icon = if c.regressed() { "❌" } else { "✅" };
    let _ = writeln!(out, "### reactbench: {icon} {}\n", headline(c));
    let _ = writeln!(
        out,
        "Baseline `{}` against `{}`.\n",
        c.base.display(),
        c.new.display()
    );
    let t = table(c, |r, s| {
        if r.verdict == Verdict::Regressed {
            format!("❌ **{s}**")
        } else {
            s
        }
    });
    out.push_str(&t.to_markdown());
    if c.rows.iter().any(|r| r.source == Source::Histogram) {
        let _ = writeln!(
            out,
            "\nLatency percentiles recomputed from both runs' HdrHistogram logs."
        );
    }
    for n in &c.notes {
        let _ = writeln!(out, "\n> Note: {n}");
    }
    out
}

/// The comparison as pretty JSON (infinite relative changes as `null`).
pub fn render_json(c: &Comparison) -> String {
    let mut s =
        serde_json::to_string_pretty(c).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}
