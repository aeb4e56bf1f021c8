//! The `bench` binary: parse arguments, call the library, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

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
