//! `bench compare BASE NEW`: compares two runs metric by metric and exits 1 on a regression
//! beyond tolerance (0 otherwise, 2 on errors). The comparison itself lives in
//! [`crate::report::compare`]; this is the command's edge: flags, files, output.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{CompareArgs, CompareFormat};
use crate::cli::{EXIT_FAILED_GATE, EXIT_OK};
use crate::report::compare::{self, CompareOptions};

/// Runs `bench compare`: the table (or Markdown, or JSON) to stdout, caveats to stderr.
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let opts = CompareOptions::from_flags(&args.tolerance, &args.default_tolerance, &args.floor)?;
    let base = compare::load_run(&args.base).context("reading the baseline run")?;
    let new = compare::load_run(&args.new).context("reading the new run")?;
    let result = compare::compare(&base, &new, &opts);
    let text = match args.format {
        CompareFormat::Table => {
            compare::render_text(&result, crate::report::terminal::stdout_color())
        }
        CompareFormat::Markdown => compare::render_markdown(&result),
        CompareFormat::Json => compare::render_json(&result),
    };
    print!("{text}");
    // The Markdown and JSON forms carry the notes themselves.
    if args.format == CompareFormat::Table {
        for n in &result.notes {
            eprintln!("note: {n}");
        }
    }
    Ok(ExitCode::from(if result.regressed() {
        EXIT_FAILED_GATE
    } else {
        EXIT_OK
    }))
}
