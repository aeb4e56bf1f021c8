//! The `bench` binary: parse arguments, call the library, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

// glibc's malloc was a fifth of the harness's CPU at full load (perf: `_int_malloc`, arena lock
// waits); mimalloc's per-thread heaps remove both. Method and figures: docs/performance.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = reactbench::cli::Cli::parse();
    match reactbench::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(reactbench::EXIT_ERROR)
        }
    }
}
