//! `bench prices`: re-price a token profile, or a finished run's token totals, under the models
//! of a price table, with costs per call, per 1,000, per day and per month and the saving
//! against a reference model.
//!
//! The table is the built-in default, a native TOML table or LiteLLM's JSON (`--table`). With a
//! LiteLLM table and no `--models`, the default table's models are compared, looked up by their
//! names and aliases, since LiteLLM lists thousands of chat models.
//!
//! # Reading a run (`--run DIR`)
//! `DIR` is a finished run's directory or its `summary.json`, read as the report's versioned
//! [`Summary`](crate::report::summary::Summary) through [`RunDir`], the one reader of run folders
//! (a summary of another version is refused with a message saying what changed). The mix is
//! the one the report's price comparison re-prices ([`run_token_mix`]): the run's prompt,
//! cached and completion tokens over its conversations, or over its LLM calls if it counts no
//! conversation.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::cli::{Format, PricesArgs};
use crate::pricing::{
    DAYS_PER_MONTH, PriceTable, TableFormat, TableInfo, TokenMix, WhatIfRow, what_if,
};
use crate::report::format::{grouped, price_per_mtok, usd_prices, usd_prices_signed};
use crate::report::run_dir::RunDir;
use crate::report::visuals::run_token_mix;

/// What the per-unit figures are per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// One LLM call (a token profile, or a run without a conversation count).
    Call,
    /// One conversation of a run.
    Conversation,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Call => "call",
            Unit::Conversation => "conversation",
        }
    }
}

/// Runs `bench prices`. A bad table, profile or run directory is an error (exit 2).
pub fn run(args: PricesArgs) -> anyhow::Result<ExitCode> {
    let table = match &args.table {
        Some(path) => PriceTable::load(path)?,
        None => PriceTable::default_table()?,
    };
    let (mix, unit, origin) = match &args.run {
        Some(dir) => {
            let (mix, unit, file) = mix_from_run(dir)?;
            (mix, unit, Some(file))
        }
        None => (mix_from_profile(&args)?, Unit::Call, None),
    };
    let models = if args.models.is_empty() && table.info.format == TableFormat::Litellm {
        let defaults = default_models_in(&table)?;
        eprintln!(
            "note: {} has {} chat models; comparing the default table's {} (choose others with --models)",
            table.info.origin,
            table.models.len(),
            defaults.len()
        );
        defaults
    } else {
        args.models.clone()
    };
    let mut rows = what_if(
        &table,
        &mix,
        &models,
        args.reference.as_deref(),
        args.calls_per_day,
    )?;
    if args.models.is_empty() {
        // Nobody chose an order: cheapest first answers "what could we switch to".
        rows.sort_by(|a, b| {
            a.usd_per_call
                .total_cmp(&b.usd_per_call)
                .then_with(|| a.model.cmp(&b.model))
        });
    }
    print_notes(&table.info, &rows, &mix);
    let report = Report {
        table: &table.info,
        source_run: origin,
        unit,
        mix,
        per_day: args.calls_per_day,
        days_per_month: DAYS_PER_MONTH,
        reference: args.reference.clone(),
        rows,
    };
    let text = render(&report, args.format)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")?
        }
        _ => {}
    }
    Ok(ExitCode::from(crate::cli::EXIT_OK))
}

/// Everything `bench prices` prints; `--format json` serializes it as is.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// The table's provenance.
    pub table: &'a TableInfo,
    /// The summary file the mix came from, for `--run`.
    pub source_run: Option<PathBuf>,
    /// What the per-unit figures are per.
    pub unit: Unit,
    /// The token totals priced.
    pub mix: TokenMix,
    /// Units per day for the daily and monthly figures.
    pub per_day: u64,
    /// Days in a month.
    pub days_per_month: u64,
    /// The reference model, as asked.
    pub reference: Option<String>,
    /// One row per model.
    pub rows: Vec<WhatIfRow>,
}

fn mix_from_profile(args: &PricesArgs) -> anyhow::Result<TokenMix> {
    let (Some(input), Some(output)) = (args.input_tokens, args.output_tokens) else {
        bail!(
            "give a token profile with --input-tokens N --output-tokens N (and optionally --cached-tokens N), or a finished run with --run DIR"
        );
    };
    if args.cached_tokens > input {
        bail!(
            "--cached-tokens {} is more than --input-tokens {input}; cached tokens are a part of the input",
            args.cached_tokens
        );
    }
    Ok(TokenMix::per_call(1, input, args.cached_tokens, output))
}

/// The models of the default table, each under the first of its key and aliases that is a key
/// of `table`, or failing that the first that `table` resolves some other way.
fn default_models_in(table: &PriceTable) -> anyhow::Result<Vec<String>> {
    let defaults = PriceTable::default_table()?;
    let mut found = Vec::new();
    for key in defaults.models.keys() {
        let names: Vec<&String> = std::iter::once(key)
            .chain(
                defaults
                    .aliases
                    .iter()
                    .filter(|(_, target)| *target == key)
                    .map(|(alias, _)| alias),
            )
            .collect();
        // An exact key is the provider's own entry; a prefix match may be a reseller's.
        let exact = names.iter().find(|n| table.models.contains_key(n.as_str()));
        if let Some(name) = exact.or_else(|| names.iter().find(|n| table.resolve(n).is_some())) {
            found.push((*name).clone());
        }
    }
    if found.is_empty() {
        bail!(
            "{} has none of the default table's models; choose some with --models",
            table.info.origin
        );
    }
    Ok(found)
}

/// Reads a run's token totals; see the module docs.
fn mix_from_run(path: &Path) -> anyhow::Result<(TokenMix, Unit, PathBuf)> {
    let run = RunDir::open(path)?;
    let mut mix = run_token_mix(&run.summary);
    let unit = if mix.calls > 0 {
        Unit::Conversation
    } else {
        mix.calls = run.summary.llm_call.count;
        Unit::Call
    };
    if mix.calls == 0 {
        bail!(
            "{}: the run has zero conversations and zero LLM calls; nothing to price",
            run.summary_path.display()
        );
    }
    Ok((mix, unit, run.summary_path))
}

/// Tells the reader, on stderr, what the table left out or assumed.
fn print_notes(info: &TableInfo, rows: &[WhatIfRow], mix: &TokenMix) {
    if info.format == TableFormat::Litellm {
        let s = &info.skipped;
        eprintln!(
            "note: {}: skipped {} entries (sample_spec {}, not chat {}, no price {}, odd values {})",
            info.origin,
            s.total(),
            s.sample_spec,
            s.not_chat,
            s.no_price,
            s.odd_value
        );
    }
    if mix.cached_tokens > 0 {
        for row in rows {
            if info.cached_price_assumed.contains(&row.table_key) {
                eprintln!(
                    "note: `{}` lists no cached-input price; its cached tokens are priced at the input price",
                    row.table_key
                );
            }
        }
    }
}

/// Renders the report in one of the output formats.
pub fn render(report: &Report<'_>, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(report)?;
            s.push('\n');
            s
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for row in &report.rows {
                w.serialize(row)?;
            }
            String::from_utf8(w.into_inner().context("cannot finish the CSV")?)?
        }
        Format::Table => render_table(report),
        Format::Markdown => render_markdown(report),
    })
}

/// Header and cells shared by the text and Markdown tables, and how many leading columns hold
/// names (left-aligned) rather than numbers.
fn cells(report: &Report<'_>) -> (Vec<String>, Vec<Vec<String>>, usize) {
    let unit = report.unit.name();
    let mut header: Vec<String> = [
        "model",
        "priced as",
        "in $/Mtok",
        "cached $/Mtok",
        "out $/Mtok",
    ]
    .map(String::from)
    .to_vec();
    header.extend([
        format!("$/{unit}"),
        format!("$/1k {unit}s"),
        "$/day".into(),
        format!("$/month ({}d)", report.days_per_month),
    ]);
    let with_reference = report.reference.is_some();
    if with_reference {
        header.extend(["saving/month".into(), "saving".into()]);
    }
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            let mut c = vec![
                r.model.clone(),
                if r.table_key == r.model {
                    String::new()
                } else {
                    r.table_key.clone()
                },
                price_per_mtok(r.input_usd_per_mtok),
                price_per_mtok(r.cached_input_usd_per_mtok),
                price_per_mtok(r.output_usd_per_mtok),
                usd_prices(r.usd_per_call),
                usd_prices(r.usd_per_1k_calls),
                usd_prices(r.usd_per_day),
                usd_prices(r.usd_per_month),
            ];
            if with_reference {
                if r.is_reference {
                    c.extend(["reference".into(), String::new()]);
                } else {
                    c.push(
                        r.saving_usd_per_month
                            .map(usd_prices_signed)
                            .unwrap_or_default(),
                    );
                    c.push(
                        r.saving_pct
                            .map(|p| format!("{p:+.1}%"))
                            .unwrap_or_default(),
                    );
                }
            }
            c
        })
        .collect();
    // "priced as" only matters when a name resolved through an alias or a provider prefix.
    if rows.iter().all(|r| r[1].is_empty()) {
        header.remove(1);
        let rows = rows
            .into_iter()
            .map(|mut r| {
                r.remove(1);
                r
            })
            .collect();
        return (header, rows, 1);
    }
    (header, rows, 2)
}

fn context_line(report: &Report<'_>) -> String {
    let m = &report.mix;
    let unit = report.unit.name();
    let per = |total: u64| grouped(total as f64 / m.calls as f64, 0);
    let mut s = format!(
        "Token mix: {} input ({} cached) + {} output tokens per {unit}",
        per(m.prompt_tokens),
        per(m.cached_tokens),
        per(m.completion_tokens)
    );
    if let Some(file) = &report.source_run {
        let _ = write!(
            s,
            ", from {} {unit}s in {}",
            grouped(m.calls as f64, 0),
            file.display()
        );
    }
    let _ = write!(
        s,
        "; {} {unit}s/day, {}-day month",
        grouped(report.per_day as f64, 0),
        report.days_per_month
    );
    s
}

fn table_line(info: &TableInfo) -> String {
    match &info.date {
        Some(d) => format!("Prices: {} ({d})", info.origin),
        None => format!("Prices: {}", info.origin),
    }
}

fn render_table(report: &Report<'_>) -> String {
    let (header, rows, names) = cells(report);
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                s.push_str("  ");
            }
            // Names read left-aligned; numbers right-aligned so their digits line up.
            if i < names {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            }
        }
        s.trim_end().to_string()
    };
    let mut out = format!("{}\n{}\n\n", context_line(report), table_line(report.table));
    out.push_str(&line(&header));
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

fn render_markdown(report: &Report<'_>) -> String {
    let (header, rows, names) = cells(report);
    let mut out = format!(
        "{}  \n{}\n\n",
        context_line(report),
        table_line(report.table)
    );
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let align: Vec<&str> = (0..header.len())
        .map(|i| if i < names { "---" } else { "---:" })
        .collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for r in rows {
        let escaped: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", escaped.join(" | ")));
    }
    out
}
