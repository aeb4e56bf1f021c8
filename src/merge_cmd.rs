//! `bench merge OUT DIR...`: the reports of a sharded run's shards (`bench run --shard I/N`)
//! added into the report of one run, exactly, with the scenario's thresholds judged on it.
//!
//! Every shard is checked before anything is written: all of `0..N` present once, one scenario
//! digest, seed, shard count and `bench` version. Then the shards' complete metrics
//! (`shard_state.json`) are added ([`crate::metrics::merge`]: histograms by HdrHistogram
//! addition, counters summed, dollars re-priced from token totals), and the merged run gets
//! the report a run gets (summary, CSV tables, `histograms.hlog`, PNGs, `index.html`), plus
//! `calls.csv` and `conversations.csv` as the shards' rows with a `shard` column, the shards'
//! traces on one time axis, and the embedded mocks' counters summed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::cli::{EXIT_FAILED_GATE, EXIT_INTERRUPTED, EXIT_OK, MergeArgs};
use crate::metrics::merge::{ShardMetrics, merge_runs};
use crate::pricing::PriceTable;
use crate::report::shard_file::{SHARD_FILE, ShardFile};
use crate::report::summary::{MergedSection, MergedShard, Summary, rfc3339_utc_millis};
use crate::report::{self, atomic, csv, gates, hlog, terminal, visuals};
use crate::scenario::trace::{parse_trace, write_trace};

/// One shard's report directory and state.
struct Input {
    dir: PathBuf,
    state: ShardFile,
}

/// Runs `bench merge`.
pub fn run(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let inputs = read_inputs(&args.dirs)?;
    check_inputs(&inputs)?;
    for i in &inputs {
        if same_dir(&i.dir, &args.out) {
            bail!(
                "the output {} is shard {}'s own report; give a new directory for the merged run",
                args.out.display(),
                i.state.shard.index
            );
        }
    }
    let merged = merge(&inputs)?;
    report::prepare_out_dir(&args.out)?;
    let outcome = write(&args, &inputs, merged)?;
    Ok(ExitCode::from(outcome))
}

/// The shard directories: each argument is a shard's report, or a directory holding them
/// (one level down).
fn read_inputs(dirs: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut found = Vec::new();
    for d in dirs {
        if d.join(SHARD_FILE).is_file() {
            found.push(d.clone());
            continue;
        }
        if !d.is_dir() {
            bail!(
                "{} is not a directory; give the shards' report directories (written by \
                 `bench run --shard I/N --out DIR`), or one directory holding them",
                d.display()
            );
        }
        let mut inner: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("cannot list {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(SHARD_FILE).is_file())
            .collect();
        if inner.is_empty() {
            bail!(
                "{} holds no shard report (no {SHARD_FILE} in it or in its subdirectories); \
                 run the shards with `bench run --shard I/N` (or --shards N)",
                d.display()
            );
        }
        inner.sort();
        found.extend(inner);
    }
    let mut inputs = Vec::with_capacity(found.len());
    for dir in found {
        let state = ShardFile::read(&dir)?;
        inputs.push(Input { dir, state });
    }
    inputs.sort_by_key(|i| i.state.shard.index);
    Ok(inputs)
}

/// Refuses a set of shards that is not one whole run: a missing or duplicated index, or a shard
/// of another scenario, seed, shard count or `bench` version.
fn check_inputs(inputs: &[Input]) -> anyhow::Result<()> {
    let first = inputs.first().context("no shard to merge")?;
    let r = &first.state.shard;
    for i in &inputs[1..] {
        let s = &i.state.shard;
        let differs = |what: &str, theirs: String, ours: String| {
            anyhow::anyhow!(
                "{} (shard {}) has {what} {theirs}, but {} (shard {}) has {ours}: they are not \
                 shards of one run; merge only the reports of one `bench run --shard` set",
                i.dir.display(),
                s.index,
                first.dir.display(),
                r.index
            )
        };
        if s.count != r.count {
            return Err(differs(
                "shard count",
                s.count.to_string(),
                r.count.to_string(),
            ));
        }
        if s.scenario_digest != r.scenario_digest {
            return Err(differs(
                "scenario digest",
                s.scenario_digest.clone(),
                r.scenario_digest.clone(),
            ));
        }
        if s.seed != r.seed {
            return Err(differs("seed", s.seed.to_string(), r.seed.to_string()));
        }
        if s.bench_version != r.bench_version {
            return Err(differs(
                "bench version",
                s.bench_version.clone(),
                r.bench_version.clone(),
            ));
        }
    }
    let mut by_index: BTreeMap<u64, &Path> = BTreeMap::new();
    for i in inputs {
        if let Some(other) = by_index.insert(i.state.shard.index, &i.dir) {
            bail!(
                "shard {} of {} appears twice: {} and {}; give each shard's report once",
                i.state.shard.index,
                r.count,
                other.display(),
                i.dir.display()
            );
        }
    }
    let missing: Vec<String> = (0..r.count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard(s) {} of {} missing (have {}); a merged report of part of a run would \
             understate it, so none is written",
            missing.join(", "),
            r.count,
            by_index
                .keys()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// The merged run's metrics: whole run, and after the warm-up when the shards have one.
struct Merged {
    metrics: crate::metrics::RunMetrics,
    gated: Option<crate::metrics::RunMetrics>,
}

fn merge(inputs: &[Input]) -> anyhow::Result<Merged> {
    let mut prices = PriceTable::default();
    for i in inputs {
        prices.models.extend(i.state.prices.clone());
    }
    let label = |i: &Input| format!("shard {}/{}", i.state.shard.index, i.state.shard.count);
    let metrics = merge_runs(
        inputs
            .iter()
            .map(|i| ShardMetrics {
                metrics: i.state.metrics.clone(),
                label: label(i),
            })
            .collect(),
        &prices,
    )?;
    let gated = match inputs.iter().all(|i| i.state.gated.is_some()) {
        true => Some(merge_runs(
            inputs
                .iter()
                .filter_map(|i| {
                    i.state.gated.clone().map(|m| ShardMetrics {
                        metrics: m,
                        label: label(i),
                    })
                })
                .collect(),
            &prices,
        )?),
        false => None,
    };
    Ok(Merged { metrics, gated })
}

/// Writes the merged report and returns the exit code.
fn write(args: &MergeArgs, inputs: &[Input], merged: Merged) -> anyhow::Result<u8> {
    let out = &args.out;
    let first = &inputs[0].state;
    let m = &merged.metrics;
    let start = m.info.started_at;
    let mut summary = Summary::from_metrics(m);
    summary.merged = Some(MergedSection {
        count: first.shard.count,
        scenario_digest: first.shard.scenario_digest.clone(),
        bench_version: first.shard.bench_version.clone(),
        planned_start: first.shard.planned_start.clone(),
        shards: inputs
            .iter()
            .map(|i| {
                let s = &i.state;
                MergedShard {
                    index: s.shard.index,
                    dir: i.dir.display().to_string(),
                    started_at: rfc3339_utc_millis(s.metrics.info.started_at),
                    start_offset_ms: s.shard.start_offset_ms,
                    duration_s: s.metrics.duration.as_secs_f64(),
                    conversations: s.metrics.conversations(),
                    llm_calls: s.metrics.counters.calls,
                    interrupted: s.metrics.interrupted,
                    share: s.shard.share.clone(),
                }
            })
            .collect(),
    });
    let gated_summary = merged.gated.as_ref().map(Summary::from_metrics);
    let gates = gates::parse_gates(&first.thresholds)
        .map_err(|e| anyhow::anyhow!("the shards' thresholds do not parse: {e}"))?;
    let results = gates::evaluate(
        &gates.thresholds,
        gated_summary.as_ref().unwrap_or(&summary),
    );
    let no_success = gates::no_success(&summary).filter(|_| !first.expect_no_success);
    let passed = gates::all_passed(&results) && no_success.is_none();
    summary.thresholds = results;

    let mut errors: Vec<anyhow::Error> = Vec::new();
    let mut keep = |r: anyhow::Result<()>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    keep(concat_csv(inputs, out, "calls.csv"));
    keep(concat_csv(inputs, out, "conversations.csv"));
    keep(merge_traces(inputs, out, start));
    keep(merge_mock_stats(inputs, out));
    keep(csv::write_metric_files(out, m));
    keep(csv::shape::write_shape_files(out, m));
    keep(hlog::write_histograms(out, m));
    keep(copy_report_inputs(inputs, out));
    // The summary after the tables and before the page, as a run writes it.
    keep(report::write_summary_files(out, &summary));
    if first.plots || first.html {
        keep(
            visuals::ReportData::from_dir(out)
                .and_then(|data| visuals::render(out, &data).map(|_| ()))
                .context("cannot write the plots and index.html"),
        );
    }
    if let Some(path) = &args.junit {
        keep(gates::write_junit(path, &summary.thresholds, &m.info.name));
    }

    print!(
        "{}",
        terminal::render_table(&summary, terminal::stdout_color())
    );
    if !summary.thresholds.is_empty() {
        print!(
            "{}",
            gates::render_terminal(&summary.thresholds, terminal::stdout_color())
        );
    }
    if let Some(why) = &no_success {
        eprintln!("failed: {why}");
    }
    eprintln!(
        "merged {} shards of {:?} into {}",
        inputs.len(),
        m.info.name,
        out.display()
    );
    if let Some(first) = errors.first() {
        for e in &errors[1..] {
            eprintln!("error: {e:#}");
        }
        bail!(
            "{first:#}; {} merged report file(s) could not be written",
            errors.len()
        );
    }
    Ok(if !passed {
        EXIT_FAILED_GATE
    } else if m.interrupted {
        eprintln!(
            "interrupted: a shard stopped early or cut conversations; the figures are incomplete"
        );
        EXIT_INTERRUPTED
    } else {
        EXIT_OK
    })
}

/// `out/name`: every shard's rows of `name`, each prefixed with its shard index in a first
/// column `shard`, the header once. Shards without the file add nothing.
fn concat_csv(inputs: &[Input], out: &Path, name: &str) -> anyhow::Result<()> {
    let sources: Vec<(u64, PathBuf)> = inputs
        .iter()
        .map(|i| (i.state.shard.index, i.dir.join(name)))
        .filter(|(_, p)| p.is_file())
        .collect();
    if sources.is_empty() {
        return Ok(());
    }
    atomic::write_with(out.join(name), |f| {
        let mut w = ::csv::Writer::from_writer(f);
        let mut header: Option<::csv::StringRecord> = None;
        for (index, path) in &sources {
            let mut r = ::csv::Reader::from_path(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let h = r.headers()?.clone();
            match &header {
                None => {
                    let mut row = ::csv::StringRecord::new();
                    row.push_field("shard");
                    row.extend(h.iter());
                    w.write_record(&row)?;
                    header = Some(h);
                }
                Some(first) if *first != h => bail!(
                    "{} has other columns than the first shard's {name}",
                    path.display()
                ),
                Some(_) => {}
            }
            let shard = index.to_string();
            let mut row = ::csv::StringRecord::new();
            for rec in r.records() {
                let rec = rec.with_context(|| format!("reading {}", path.display()))?;
                row.clear();
                row.push_field(&shard);
                row.extend(rec.iter());
                w.write_record(&row)?;
            }
        }
        w.flush()?;
        Ok(())
    })
}

/// `out/trace.jsonl`: the shards' traces on the merged run's time axis (each offset moved by
/// its shard's start), in order; replaying it replays the whole run.
fn merge_traces(inputs: &[Input], out: &Path, start: std::time::SystemTime) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    let mut any = false;
    for i in inputs {
        let path = i.dir.join("trace.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        any = true;
        let shift = i
            .state
            .metrics
            .info
            .started_at
            .duration_since(start)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64;
        let mut list = parse_trace(&text)
            .map_err(|(line, e)| anyhow::anyhow!("{} line {line}: {e}", path.display()))?;
        for e in &mut list {
            e.offset_ms += shift;
        }
        entries.extend(list);
    }
    if !any {
        return Ok(());
    }
    entries.sort_by_key(|e| (e.offset_ms, e.user));
    write_trace(&out.join("trace.jsonl"), &entries)
}

/// `out/mock_stats.json`: the shards' embedded mocks' counters, summed (every number of the
/// snapshot is a count).
fn merge_mock_stats(inputs: &[Input], out: &Path) -> anyhow::Result<()> {
    let mut total: Option<serde_json::Value> = None;
    for i in inputs {
        let path = i.dir.join("mock_stats.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        match total.as_mut() {
            None => total = Some(v),
            Some(t) => add_json(t, &v),
        }
    }
    match total {
        Some(t) => {
            let json = serde_json::to_string_pretty(&t)? + "\n";
            atomic::write_bytes(out.join("mock_stats.json"), json.as_bytes())
        }
        None => Ok(()),
    }
}

/// Adds `from`'s numbers into `into`, key by key (objects merge; other values stay `into`'s).
fn add_json(into: &mut serde_json::Value, from: &serde_json::Value) {
    use serde_json::Value;
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(x) => add_json(x, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let sum = match (a.as_u64(), b.as_u64()) {
                (Some(x), Some(y)) => Value::from(x.saturating_add(y)),
                _ => Value::from(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
            };
            *a = match sum {
                Value::Number(n) => n,
                _ => return,
            };
        }
        _ => {}
    }
}

/// `out/report_inputs.json`: the first shard's (the price comparison and settings behind the
/// page), with a line saying the run was merged.
fn copy_report_inputs(inputs: &[Input], out: &Path) -> anyhow::Result<()> {
    let path = inputs[0].dir.join(visuals::REPORT_INPUTS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    if let Some(settings) = v.get_mut("settings").and_then(|s| s.as_array_mut()) {
        settings.push(serde_json::json!([
            "shards",
            format!("{} merged by bench merge", inputs.len())
        ]));
    }
    let mut json = serde_json::to_string_pretty(&v)?;
    json.push('\n');
    atomic::write_bytes(out.join(visuals::REPORT_INPUTS_FILE), json.as_bytes())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_counters_add_key_by_key() {
        let mut a = serde_json::json!({"requests_total": 3, "by_status": {"200": 2}, "x": "a"});
        let b =
            serde_json::json!({"requests_total": 4, "by_status": {"200": 1, "429": 5}, "x": "b"});
        add_json(&mut a, &b);
        assert_eq!(
            a,
            serde_json::json!({"requests_total": 7, "by_status": {"200": 3, "429": 5}, "x": "a"})
        );
    }
}
