//! `bench sweep FILE`: the highest load at which the scenario's agent meets its `[slo]`, what
//! it costs there, and (with `[sweep] models`) the cheapest model that meets it.
//!
//! Each step is a whole `bench run` (its own report under `steps/`) at one load: users for a
//! closed model, conversations started per second for an open one, with a warm-up window left
//! out of its figures. The search climbs geometrically (`factor`) from `start` until a step
//! fails, then bisects between the last step that passed and the first that failed until the
//! bracket is `resolution` wide. A step passes when the lower end of its attainment's 95%
//! Wilson interval reaches the target and fails when the upper end stays below it; a step
//! whose interval straddles the target is run again with another seed (`repeats`), its
//! conversations pooled, and if it still straddles it is marked uncertain and not counted as a
//! pass: the answer is never a pass on luck. `max_steps` and `max_duration` bound the search.
//!
//! Files: `search.rs` (the search and a step's figures), `files.rs` (`sweep.csv`, `sweep.json`,
//! the PNGs and `index.html`); this file runs the command.

mod files;
mod search;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};

use crate::cli::{EXIT_ERROR, EXIT_FAILED_GATE, EXIT_INTERRUPTED, EXIT_OK, SweepArgs};
use crate::report::summary::{Summary, SweepSection};
use crate::report::{self, gates};
use crate::scenario::{self, Plan};

pub use search::{ModelSweep, Step, Verdict};

/// Where reports go when `--out` is not given.
const REPORTS_DIR: &str = "reports";

/// Runs `bench sweep`.
pub fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let plan = scenario::load(&args.scenario)?;
    if plan.slo.is_none() {
        bail!(
            "{}: bench sweep finds the highest load that meets the scenario's [slo], and it has \
             none; add one, such as\n\n[slo]\nconversation_latency = \"< 8s\"\nttft = \"< 1s\"",
            args.scenario.display()
        );
    }
    let kind = search::LoadKind::of(&plan).with_context(|| {
        format!(
            "{}: bench sweep cannot step this load",
            args.scenario.display()
        )
    })?;
    let prices = scenario::price_table(&plan)?;
    let out = match &args.out {
        Some(o) => {
            report::prepare_out_dir(o)?;
            o.clone()
        }
        None => report::create_run_dir(
            Path::new(REPORTS_DIR),
            &format!("{}-sweep", plan.name),
            SystemTime::now(),
        )?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let code = runtime.block_on(sweep(&plan, &prices, kind, &out, &args))?;
    Ok(ExitCode::from(code))
}

async fn sweep(
    plan: &Plan,
    prices: &crate::pricing::PriceTable,
    kind: search::LoadKind,
    out: &Path,
    args: &SweepArgs,
) -> anyhow::Result<u8> {
    let settings = plan.sweep.clone().unwrap_or_default();
    let models = if settings.models.is_empty() {
        vec![plan.agent.model.clone()]
    } else {
        settings.models.clone()
    };
    // Ctrl-C: the step in flight stops as a run does (its report written), and no step
    // starts after it.
    let interrupted = Arc::new(AtomicBool::new(false));
    let listener = {
        let flag = Arc::clone(&interrupted);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
        })
    };
    #[cfg(unix)]
    let term_listener = {
        let flag = Arc::clone(&interrupted);
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                term.recv().await;
                flag.store(true, Ordering::SeqCst);
            }
        })
    };
    let started = Instant::now();
    let mut results: Vec<ModelSweep> = Vec::new();
    for model in &models {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let ctx = search::Context {
            plan,
            prices,
            kind,
            settings: &settings,
            model,
            steps_dir: out.join("steps"),
            interrupted: &interrupted,
            started,
            quiet: args.quiet,
        };
        let r = search::search(&ctx, |done| {
            // Every finished step is on disk at once: an interrupted sweep keeps them.
            let mut partial = results.clone();
            partial.push(done.clone());
            files::write_json(out, plan, &settings, kind, &partial, true).ok();
        })
        .await?;
        results.push(r);
    }
    listener.abort();
    #[cfg(unix)]
    term_listener.abort();
    let was_interrupted = interrupted.load(Ordering::SeqCst);

    let mut write_errors = Vec::new();
    let mut keep = |r: anyhow::Result<()>| {
        if let Err(e) = r {
            write_errors.push(e);
        }
    };
    keep(files::write_json(
        out,
        plan,
        &settings,
        kind,
        &results,
        was_interrupted,
    ));
    keep(files::write_csv(out, &results));
    keep(files::write_plots(out, plan, &settings, kind, &results));
    keep(files::write_page(
        out,
        plan,
        &settings,
        kind,
        &results,
        was_interrupted,
    ));

    // The answer, per model, and across models; then the thresholds on the (first) answer.
    let answer = files::answer_lines(plan, &settings, kind, &results);
    let summary = answer_summary(plan, kind, &results);
    let gates = gates::parse_gates(&plan.thresholds)
        .map_err(|e| anyhow::anyhow!("{}: {e}", plan.source.display()))?;
    let sweep_gates: Vec<_> = gates
        .thresholds
        .into_iter()
        .filter(|t| t.metric.starts_with("sweep."))
        .collect();
    let results_gates = gates::evaluate(&sweep_gates, &summary);
    if !results_gates.is_empty() {
        print!(
            "{}",
            gates::render_terminal(&results_gates, report::terminal::stdout_color())
        );
    }
    if let Some(path) = &args.junit {
        keep(gates::write_junit(path, &results_gates, &plan.name));
    }
    for line in &answer {
        println!("{line}");
    }
    eprintln!("sweep report: {}", out.join("index.html").display());
    if let Some(first) = write_errors.first() {
        eprintln!("error: {first:#}");
        return Ok(EXIT_ERROR);
    }
    Ok(if !gates::all_passed(&results_gates) {
        EXIT_FAILED_GATE
    } else if was_interrupted {
        eprintln!("interrupted: the sweep stopped early; sweep.json lists the steps that finished");
        EXIT_INTERRUPTED
    } else {
        EXIT_OK
    })
}

/// The summary the sweep's thresholds read: its `sweep` section is the first model's answer.
fn answer_summary(plan: &Plan, kind: search::LoadKind, results: &[ModelSweep]) -> Summary {
    let mut s = Summary::default();
    s.run.name = plan.name.clone();
    let Some(r) = results.first() else {
        return s;
    };
    let steps = r.steps.len() as u64;
    s.sweep = Some(match r.best.map(|i| &r.steps[i]) {
        None => SweepSection {
            steps,
            max_users: matches!(kind, search::LoadKind::Users).then_some(0.0),
            max_rate_per_s: matches!(kind, search::LoadKind::Rate).then_some(0.0),
            ..SweepSection::default()
        },
        Some(b) => SweepSection {
            max_load: b.load,
            max_users: matches!(kind, search::LoadKind::Users).then_some(b.load),
            max_rate_per_s: matches!(kind, search::LoadKind::Rate).then_some(b.load),
            attainment: b.attainment,
            attainment_low: b.attainment_low,
            attainment_high: b.attainment_high,
            goodput_per_second: b.goodput_per_s,
            conversations_per_second: b.conversations_per_s,
            usd_per_conversation: b.usd_per_conversation,
            usd_per_day: b.usd_per_day(),
            usd_per_month: b.usd_per_month(),
            steps,
        },
    });
    s
}
