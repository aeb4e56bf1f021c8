//! `bench report DIR`: re-renders a run directory's plots, `price_comparison.csv` and
//! `index.html` from its files alone (`summary.json`, `histograms.hlog`, `timeline.csv`,
//! `report_inputs.json`), e.g. after a plot change or to repair a deleted page.
//!
//! A directory without `summary.json` is not a run directory: exit 2 with a message saying
//! what to give instead.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::ReportArgs;
use crate::report::visuals::{ReportData, render};

/// Runs `bench report DIR`; prints each file written and any caveat (missing optional files).
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    if !dir.is_dir() {
        anyhow::bail!(
            "{} is not a directory; give a run directory that `bench run` wrote, such as \
             reports/<name>-<time>/",
            dir.display()
        );
    }
    let data = ReportData::from_dir(dir)?;
    for note in &data.notes {
        eprintln!("note: {note}");
    }
    let written = render(dir, &data)
        .with_context(|| format!("re-rendering the report in {}", dir.display()))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(ExitCode::from(crate::cli::EXIT_OK))
}
