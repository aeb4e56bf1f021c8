//! Command-line interface: clap derive types. Their doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit code: the run happened and every gate passed.
pub const EXIT_OK: u8 = 0;
/// Exit code: the run happened but a threshold or comparison failed.
pub const EXIT_FAILED_GATE: u8 = 1;
/// Exit code: usage, configuration or I/O error.
pub const EXIT_ERROR: u8 = 2;
/// Exit code: the run stopped early (Ctrl-C, SIGTERM, spend cap) or cut conversations in
/// flight, and no gate failed: its figures are incomplete, so it is not a clean pass.
pub const EXIT_INTERRUPTED: u8 = 3;

/// Load-test and cost-benchmark LLM ReAct agents against an OpenAI-compatible endpoint
/// (an embedded mock by default).
#[derive(Debug, Parser)]
#[command(name = "bench", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: replay a concurrent multi-user ReAct workload and write a report.
    Run(RunArgs),
    /// Check a scenario file without sending a request, and print its plan.
    Validate(ValidateArgs),
    /// Screen text through the input sanitizer; with labelled JSONL, measure its accuracy.
    Sanitize(SanitizeArgs),
    /// Compare model prices for a token profile or a finished run.
    Prices(PricesArgs),
    /// Compare two runs and fail on a regression beyond tolerance.
    Compare(CompareArgs),
    /// Re-render a run's plots and HTML page from its data.
    Report(ReportArgs),
    /// Find the highest load that meets the scenario's [slo], and what it costs there.
    Sweep(SweepArgs),
    /// Merge the reports of a sharded run's shards into one run's report and judge its
    /// thresholds.
    Merge(MergeArgs),
}

/// Arguments of `bench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Override the number of virtual users (closed model).
    #[arg(long)]
    pub users: Option<u64>,
    /// Override the run duration, such as "30s" or "2m".
    #[arg(long)]
    pub duration: Option<String>,
    /// Override: run this many conversations per user instead of a duration.
    #[arg(long)]
    pub conversations_per_user: Option<u64>,
    /// Override the endpoint's base URL (switches the endpoint to `http`).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Override the seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the report here instead of `reports/<name>-<UTC time>/`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the threshold results as JUnit XML to this file (for CI systems).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Serve the run's live figures in Prometheus' text format at http://ADDR/metrics while
    /// it runs, such as 127.0.0.1:9464 (port 0 picks a free one; the address is printed).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// With --metrics-addr: keep serving the final figures this long after the run, so a
    /// scraper sees its end, such as "15s".
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_hold)]
    pub metrics_hold: std::time::Duration,
    /// Run shard I of N of the scenario (0-based), such as 0/4: the users u with u mod N = I,
    /// a 1/N share of an open model's rate, every N-th trace session; `bench merge` adds the
    /// shards' reports into one run's.
    #[arg(long, value_name = "I/N", env = "REACTBENCH_SHARD", value_parser = parse_shard, conflicts_with = "shards")]
    pub shard: Option<crate::scenario::Shard>,
    /// Run one of N shards, its index read from JOB_COMPLETION_INDEX (a Kubernetes Indexed
    /// Job sets it in each pod).
    #[arg(long, value_name = "N")]
    pub shards: Option<u64>,
    /// Start the load at this instant (UTC RFC 3339, such as 2026-12-04T10:00:00Z), waiting
    /// with a countdown until then, so shards started apart run one test. A time more than
    /// 5 seconds past is an error.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Set by `bench sweep` for its steps: no summary table on stdout (the sweep prints its
    /// own), the rest as in a run.
    #[arg(skip)]
    pub embedded: bool,
}

fn parse_shard(s: &str) -> Result<crate::scenario::Shard, String> {
    crate::scenario::Shard::parse(s)
}

fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
        format!("{e}; write a UTC time such as 2026-12-04T10:00:00Z (date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)")
    })
}

fn parse_hold(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<crate::units::HumanDuration>()
        .map(crate::units::HumanDuration::get)
        .map_err(|e| format!("{e}; write a duration such as \"15s\""))
}

impl RunArgs {
    /// The shard to run: `--shard` (or `REACTBENCH_SHARD`), or `--shards N` with the index
    /// from `JOB_COMPLETION_INDEX`; `None` for an ordinary run.
    pub fn shard(&self) -> anyhow::Result<Option<crate::scenario::Shard>> {
        self.shard_with(std::env::var("JOB_COMPLETION_INDEX").ok().as_deref())
    }

    /// [`RunArgs::shard`] with `JOB_COMPLETION_INDEX` given (for tests).
    pub fn shard_with(
        &self,
        job_index: Option<&str>,
    ) -> anyhow::Result<Option<crate::scenario::Shard>> {
        let Some(count) = self.shards else {
            return Ok(self.shard);
        };
        let Some(text) = job_index else {
            anyhow::bail!(
                "--shards {count} reads this shard's index from JOB_COMPLETION_INDEX, which is \
                 not set; set it (a Kubernetes Indexed Job does) or pass --shard I/{count}"
            );
        };
        let index = text.trim().parse::<u64>().map_err(|_| {
            anyhow::anyhow!(
                "JOB_COMPLETION_INDEX = {text:?} is not a shard index; expected a whole number \
                 from 0 to {}",
                count.saturating_sub(1)
            )
        })?;
        crate::scenario::Shard::new(index, count)
            .map(Some)
            .map_err(|e| {
                anyhow::anyhow!(
                    "--shards {count} with JOB_COMPLETION_INDEX = {index}: expected {e}"
                )
            })
    }

    /// The flags that change the scenario's plan, as the scenario layer takes them.
    pub fn overrides(&self) -> crate::scenario::Overrides {
        crate::scenario::Overrides {
            users: self.users,
            duration: self.duration.clone(),
            conversations_per_user: self.conversations_per_user,
            endpoint_url: self.endpoint_url.clone(),
            seed: self.seed,
            out: self.out.clone(),
        }
    }
}

/// Arguments of `bench sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Scenario file (TOML) with an `[slo]` table (and optionally `[sweep]`).
    pub scenario: PathBuf,
    /// Write the sweep here instead of `reports/<name>-sweep-<UTC time>/`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the results of the `sweep.*` thresholds as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// No line per step on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `bench merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Directory for the merged report (created; an earlier report there is replaced).
    pub out: PathBuf,
    /// The shards' report directories (`bench run --shard I/N --out DIR`), or one directory
    /// holding them.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Also write the threshold results as JUnit XML to this file (for CI systems).
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// Arguments of `bench validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
}

/// Arguments of `bench sanitize`.
#[derive(Debug, Args)]
pub struct SanitizeArgs {
    /// Text file (one input per line) or JSONL (a `text` field, optionally a `label`); `-` or
    /// nothing reads standard input.
    pub input: Option<PathBuf>,
    /// Take the sanitizer settings from this scenario's `[agent.sanitizer]` table.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
}

/// Output formats for tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// Comma-separated values.
    Csv,
    /// JSON.
    Json,
    /// Markdown table.
    Markdown,
}

/// Arguments of `bench prices`.
#[derive(Debug, Args)]
pub struct PricesArgs {
    /// Input tokens per call (cached ones included).
    #[arg(long)]
    pub input_tokens: Option<u64>,
    /// Of the input tokens, how many are billed as cached.
    #[arg(long, default_value_t = 0)]
    pub cached_tokens: u64,
    /// Output tokens per call.
    #[arg(long)]
    pub output_tokens: Option<u64>,
    /// Calls per day (conversations per day with --run), for the daily and monthly figures.
    #[arg(long, visible_alias = "per-day", default_value_t = 1000)]
    pub calls_per_day: u64,
    /// Take the token totals from a finished run's directory (its summary.json) instead; costs
    /// are then per conversation (per LLM call if the summary counts no conversations).
    #[arg(long, conflicts_with_all = ["input_tokens", "output_tokens", "cached_tokens"])]
    pub run: Option<PathBuf>,
    /// Price table: a native TOML table or LiteLLM's model_prices_and_context_window.json
    /// (default: the table shipped in prices/).
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Models to compare (comma-separated); default: every model of the table (for a LiteLLM
    /// file, the default table's models).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Model to compare the others against.
    #[arg(long)]
    pub reference: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Arguments of `bench compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Baseline run directory or summary.json.
    pub base: PathBuf,
    /// New run directory or summary.json.
    pub new: PathBuf,
    /// Relative tolerance of one metric, such as `llm_call.latency_ms.p95=10%` (repeatable);
    /// a metric not compared by default is added.
    #[arg(long, value_name = "METRIC=PCT")]
    pub tolerance: Vec<String>,
    /// Tolerance of every metric without its own.
    #[arg(long, value_name = "PCT", default_value = "10%")]
    pub default_tolerance: String,
    /// Absolute floor: changes smaller than this never fail. `UNIT=VALUE` for a unit (ms, usd,
    /// ratio, tokens, per_s, count; defaults ms=5, ratio=0.001, others 0) or `METRIC=VALUE`
    /// (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub floor: Vec<String>,
    /// Output format (markdown for a pull-request comment).
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
}

/// Output formats of `bench compare`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// Aligned text for people.
    #[default]
    Table,
    /// Markdown for a pull-request comment, regressed rows marked.
    Markdown,
    /// JSON.
    Json,
}

/// Arguments of `bench report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run's report directory.
    pub dir: PathBuf,
}
