//! Scenario files: TOML parsed once into a validated [`Plan`]; nothing downstream re-checks it.
//!
//! [`load`] reads a file, rejects unknown keys everywhere, checks every value, reads the prompt
//! files and replay trace it names, and returns a [`Plan`] or a [`ScenarioError`] that names
//! the file, the key path (such as `load.users`), the bad value and what is accepted.
//! [`apply_overrides`] applies `bench run` flags and re-checks what they change;
//! [`validate_prices`] checks that the price table prices every model the plan may call.
//!
//! The `[mock]` table and the agent's `budget`, `sessions`, `sanitizer`, `retry`, `breaker` and
//! `tools` sub-tables deserialize straight into the config types their owners define
//! (`mock_server::MockConfig`, `agent::budget::BudgetConfig` ...), so unknown keys there are
//! rejected with their full key path too, and each owner's `validate` runs here, once.

pub mod trace;
pub mod workload;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::pricing::PriceTable;
use crate::units::{CountRange, DurationRange, HumanDuration, Rate};

pub use trace::TraceEntry;
pub use workload::{Source, WorkItem, Workload};

/// Seed used when the file names none, so two runs of the same file draw the same prompts.
pub const DEFAULT_SEED: u64 = 1;
/// How long in-flight conversations may run on after the deadline or Ctrl-C, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// Per-attempt timeout of an LLM call, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Connect timeout, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default overall deadline of one logical LLM call (`endpoint.call_deadline`).
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(300);
/// Cap on open-model conversations in flight, by default.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 1000;
/// Longest duration any key may hold (and the longest a replay trace may span).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);
/// Slowest open-model arrival rate: one a day.
const MIN_RATE_PER_S: f64 = 1.0 / 86_400.0;
/// Fastest open-model arrival rate.
const MAX_RATE_PER_S: f64 = 1_000_000.0;
/// Largest replay time scale.
const MAX_TIME_SCALE: f64 = 1000.0;
/// Most virtual users or in-flight conversations a scenario may ask for: far above what one
/// machine drives, low enough to catch a typo such as an extra zero run amok.
pub const MAX_USERS: u64 = 1_000_000;

/// Most connections `endpoint.max_connections` may allow (each is a descriptor and, on
/// loopback, an ephemeral port; Linux has about 28,000 of those per destination).
pub const MAX_CONNECTIONS: u64 = 20_000;

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a scenario file (or an override) was refused. Every variant names the scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario file could not be read.
    #[error("cannot read scenario file {}: {source}", path.display())]
    Read {
        /// The scenario file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: TOML syntax error: {message}", path.display())]
    Syntax {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser says.
        message: String,
    },
    /// A key is unknown or a value has the wrong type or form (as the deserializer saw it).
    #[error("{}{}: `{key}`: {message}", path.display(), at(*line))]
    Schema {
        /// The scenario file.
        path: PathBuf,
        /// Key path, such as `load.users` or `workload[1].weight`.
        key: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("{}: `{key}` = {value}: {expected}", path.display())]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// Key path.
        key: String,
        /// The bad value, as written (or `(missing)`).
        value: String,
        /// What is accepted, and how to fix it.
        expected: String,
    },
    /// A file the scenario names is missing, unreadable, empty or malformed.
    #[error("{}: `{key}`: {} {problem}", path.display(), file.display())]
    File {
        /// The scenario file.
        path: PathBuf,
        /// Key path that names the file.
        key: String,
        /// The file named, resolved against the scenario's directory.
        file: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A component (mock server, budget, sessions, sanitizer, retry, breaker, tools) refused
    /// its settings.
    #[error(transparent)]
    Component(#[from] ComponentError),
    /// A model the scenario may call has no price in the price table.
    #[error(
        "{}: `{key}` = \"{model}\" has no price in the price table {table}; add it to the table or use one of: {known}",
        path.display()
    )]
    MissingPrice {
        /// The scenario file.
        path: PathBuf,
        /// Key path naming the model (`agent.model`, `agent.fallback[0]`, `prices.reference`).
        key: String,
        /// The model.
        model: String,
        /// Which table was consulted.
        table: String,
        /// The models the table does price (comma-separated).
        known: String,
    },
}

/// A component's own validation message (it already names its key, such as
/// `agent.budget.max_tokens`).
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ComponentError {
    /// The scenario file.
    pub path: PathBuf,
    /// The component's message.
    pub message: String,
}

fn at(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

impl ScenarioError {
    /// The key path the error is about, when it is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ScenarioError::Schema { key, .. }
            | ScenarioError::Invalid { key, .. }
            | ScenarioError::File { key, .. }
            | ScenarioError::MissingPrice { key, .. } => Some(key),
            ScenarioError::Read { .. }
            | ScenarioError::Syntax { .. }
            | ScenarioError::Component(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The validated plan

/// A validated scenario: everything a run needs, in checked, typed form.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Name for reports (`name`; default: the file's stem).
    pub name: String,
    /// Free-text description (`description`).
    pub description: Option<String>,
    /// The scenario file it came from.
    pub source: PathBuf,
    /// Seed of every random choice (`seed`; default [`DEFAULT_SEED`]).
    pub seed: u64,
    /// Where requests go.
    pub endpoint: EndpointPlan,
    /// Load model and when to stop.
    pub load: LoadPlan,
    /// The agent under test (`[agent]`; `context_window` and `call_deadline` are left for the
    /// run to set).
    pub agent: AgentConfig,
    /// Weighted prompt sources, loaded.
    pub workload: Workload,
    /// Price table and comparisons.
    pub prices: PricesPlan,
    /// Run limits.
    pub limits: Limits,
    /// Report options.
    pub report: ReportPlan,
    /// CI gates as written, metric key to conditions (`[thresholds]`).
    pub thresholds: BTreeMap<String, Vec<String>>,
    /// The same gates, parsed: thresholds and the warm-up window excluded from them.
    pub gates: crate::report::gates::Gates,
}

/// `[endpoint]`: where requests go, and the client's timeouts.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointPlan {
    /// Mock or real.
    pub target: Endpoint,
    /// Per-attempt timeout (`timeout`, default 60s).
    pub timeout: Duration,
    /// TCP/TLS connect timeout (`connect_timeout`, default 10s).
    pub connect_timeout: Duration,
    /// Overall deadline of one logical LLM call, retries, backoff and fallbacks included
    /// (`call_deadline`, default 5m).
    pub call_deadline: Option<Duration>,
    /// Most requests (so connections) in flight at once (`max_connections`, default 512);
    /// conversations beyond it queue for a slot, which shows in call but not attempt latency.
    pub max_connections: usize,
    /// Largest reply read (`max_response_bytes`, default 8 MiB); larger is `response_too_large`.
    pub max_response_bytes: u64,
    /// Header carrying the key instead of `Authorization: Bearer` (`auth_header`, such as
    /// Azure's `"api-key"`); `kind = "http"` only.
    pub auth_header: Option<String>,
}

/// The endpoint kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    /// `kind = "mock"`: the embedded mock server, started in-process.
    Mock {
        /// The `[mock]` table.
        config: Box<mock_server::MockConfig>,
    },
    /// `kind = "http"`: a real OpenAI-compatible endpoint.
    Http {
        /// Base URL up to and including the version, such as `https://api.openai.com/v1`.
        base_url: String,
        /// Name of the environment variable holding the API key (never the key itself).
        api_key_env: Option<String>,
        /// Extra request headers (`headers`).
        headers: BTreeMap<String, String>,
    },
}

/// `[load]` plus the top-level stop keys: the load model and when it ends.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadPlan {
    /// Closed, open or replay.
    pub shape: LoadShape,
    /// Think time between turns (`load.think_time`, default `"0s"`).
    pub think_time: DurationRange,
    /// Turns per session when the prompt is not a scripted session (`load.turns_per_session`,
    /// default `"1"`).
    pub turns_per_session: CountRange,
    /// Stop starting conversations after this long (`duration`).
    pub duration: Option<Duration>,
    /// Closed model: each user runs this many conversations, then stops
    /// (`conversations_per_user`).
    pub conversations_per_user: Option<u64>,
    /// Stop starting conversations after this many in all (`limits.max_conversations`).
    pub max_conversations: Option<u64>,
    /// How long in-flight conversations may finish after the stop (`grace`, default 10s).
    pub grace: Duration,
    /// Keep the run's own replayable trace and write it as `trace.jsonl` (`[report] trace`,
    /// default true). Without it the runner holds nothing per session, which is what a long
    /// soak needs.
    pub keep_trace: bool,
}

/// The three load models.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadShape {
    /// Virtual users looping with think time.
    Closed(ClosedLoad),
    /// Conversations arriving at a rate, whatever the system's speed.
    Open(OpenLoad),
    /// A recorded trace replayed with its spacing.
    Replay(ReplayLoad),
}

/// Closed model settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedLoad {
    /// Users at full load (`load.users`, or the highest stage target).
    pub users: u64,
    /// The target user count over time, as stages: from 0 users at the start, each stage
    /// ramps linearly to its target over its duration; the last target holds afterwards.
    /// Without `[[load.stages]]` this is one stage: `users` over `ramp_up`.
    pub stages: Vec<Stage>,
    /// True when the file wrote `[[load.stages]]` (they then also set the default duration).
    pub explicit_stages: bool,
}

/// One stage of a closed-model profile (`[[load.stages]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    /// User count reached at the end of the stage (`target`).
    pub target: u64,
    /// How long the ramp to it takes (`duration`; zero jumps at once).
    pub duration: Duration,
}

/// Open model settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenLoad {
    /// Mean arrival rate of new sessions (`load.arrival_rate`).
    pub arrival_rate: Rate,
    /// Spacing of arrivals (`load.arrival`, default Poisson).
    pub arrival: Arrival,
    /// Most sessions in flight; arrivals beyond it are dropped and counted
    /// (`load.max_in_flight`, default 1000).
    pub max_in_flight: u64,
}

/// How open-model arrivals are spaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Exponential gaps: what independent users produce.
    #[default]
    Poisson,
    /// Equal gaps.
    Constant,
}

/// Replay model settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayLoad {
    /// The trace file (`load.trace`), resolved against the scenario's directory.
    pub trace: PathBuf,
    /// Multiplies every offset (`load.time_scale`, default 1; 0.5 replays twice as fast).
    pub time_scale: f64,
    /// The trace's sessions, sorted by offset.
    pub sessions: Vec<TraceEntry>,
}

pub use crate::agent::settings::{AgentConfig, Protocol};

/// `[prices]`: which table prices the run, and what to compare.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PricesPlan {
    /// Price table file, resolved against the scenario's directory (`table`); `None` means
    /// the table shipped in `prices/`.
    pub table: Option<PathBuf>,
    /// Models to re-price the run under (`compare`).
    pub compare: Vec<String>,
    /// Model the comparison is relative to (`reference`).
    pub reference: Option<String>,
    /// Conversations per day, for daily and monthly figures (`per_day`).
    pub per_day: Option<u64>,
}

impl From<&PricesPlan> for crate::report::visuals::PriceChoice {
    fn from(p: &PricesPlan) -> Self {
        crate::report::visuals::PriceChoice {
            compare: p.compare.clone(),
            reference: p.reference.clone(),
            per_day: p.per_day,
        }
    }
}

/// `[limits]`: run-wide limits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// Stop issuing new LLM calls once this many dollars are spent (`spend_cap_usd`; required
    /// for `kind = "http"`).
    pub spend_cap_usd: Option<f64>,
    /// The run is expected to get no answer from any model (`expect_no_success`, default
    /// false): a fault or outage drill. Otherwise a run in which every call sent failed exits 1.
    pub expect_no_success: bool,
}

/// `[report]`: report options.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportPlan {
    /// Report directory (`out`); `None` means `reports/<name>-<UTC time>/`.
    pub out: Option<PathBuf>,
    /// Write PNG plots (`plots`, default true).
    pub plots: bool,
    /// Write `index.html` (`html`, default true).
    pub html: bool,
}

impl Default for ReportPlan {
    fn default() -> Self {
        ReportPlan {
            out: None,
            plots: true,
            html: true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written (serde types; private)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    seed: Option<u64>,
    duration: Option<HumanDuration>,
    conversations_per_user: Option<u64>,
    grace: Option<HumanDuration>,
    #[serde(default)]
    endpoint: RawEndpoint,
    mock: Option<mock_server::MockConfig>,
    load: RawLoad,
    agent: AgentConfig,
    #[serde(default)]
    workload: Vec<RawWorkload>,
    #[serde(default)]
    prices: RawPrices,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    report: RawReport,
    #[serde(default)]
    thresholds: BTreeMap<String, OneOrMany>,
}

#[derive(Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum EndpointKind {
    #[default]
    Mock,
    Http,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    #[serde(default)]
    kind: EndpointKind,
    base_url: Option<String>,
    api_key_env: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timeout: Option<HumanDuration>,
    connect_timeout: Option<HumanDuration>,
    call_deadline: Option<HumanDuration>,
    max_connections: Option<u64>,
    max_response_bytes: Option<u64>,
    auth_header: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    users: Option<u64>,
    ramp_up: Option<HumanDuration>,
    stages: Option<Vec<RawStage>>,
    think_time: Option<DurationRange>,
    turns_per_session: Option<CountRange>,
    arrival_rate: Option<Rate>,
    arrival: Option<Arrival>,
    max_in_flight: Option<u64>,
    trace: Option<PathBuf>,
    time_scale: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    target: u64,
    duration: HumanDuration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    weight: Option<u32>,
    prompts: Option<Vec<String>>,
    file: Option<PathBuf>,
    label: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrices {
    table: Option<PathBuf>,
    #[serde(default)]
    compare: Vec<String>,
    reference: Option<String>,
    per_day: Option<u64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    spend_cap_usd: Option<f64>,
    max_conversations: Option<u64>,
    expect_no_success: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    out: Option<PathBuf>,
    plots: Option<bool>,
    html: Option<bool>,
    trace: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

// ---------------------------------------------------------------------------------------------
// Loading and validation

/// Reads, parses and validates a scenario file, and loads the prompt files and trace it names
/// (relative paths resolve against the scenario's directory).
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses and validates scenario text as if read from `path` (used for messages and to
/// resolve relative file names).
pub fn parse(path: &Path, text: &str) -> Result<Plan, ScenarioError> {
    let raw = deserialize(path, text)?;
    Check {
        path,
        dir: path.parent().unwrap_or(Path::new("")),
    }
    .plan(raw)
}

fn deserialize(path: &Path, text: &str) -> Result<RawScenario, ScenarioError> {
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        ScenarioError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        ScenarioError::Schema {
            path: path.to_path_buf(),
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            line: inner.span().map(|s| line_col(text, s.start).0),
            message: friendlier(inner.message().trim()),
        }
    })
}

/// Serde says `expected u64`; a person reads "a whole number" more easily.
fn friendlier(message: &str) -> String {
    message
        .replace("expected u64", "expected a whole number of 0 or more")
        .replace("expected u32", "expected a whole number of 0 or more")
        .replace("expected f64", "expected a number")
        .replace(
            "data did not match any variant of untagged enum OneOrMany",
            "expected a string or a list of strings",
        )
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// Validation context: the file (for messages) and its directory (for relative paths).
struct Check<'a> {
    path: &'a Path,
    dir: &'a Path,
}

impl Check<'_> {
    fn invalid(&self, key: &str, value: impl fmt::Display, expected: &str) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    fn component(&self, message: String) -> ScenarioError {
        ComponentError {
            path: self.path.to_path_buf(),
            message,
        }
        .into()
    }

    fn file_error(&self, key: &str, file: &Path, problem: String) -> ScenarioError {
        ScenarioError::File {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            file: file.to_path_buf(),
            problem,
        }
    }

    fn resolve(&self, file: &Path) -> PathBuf {
        if file.is_absolute() {
            file.to_path_buf()
        } else {
            self.dir.join(file)
        }
    }

    fn plan(&self, raw: RawScenario) -> Result<Plan, ScenarioError> {
        let name = match raw.name {
            Some(n) if n.trim().is_empty() => {
                return Err(self.invalid("name", "\"\"", "a non-empty name for reports"));
            }
            Some(n) => n,
            None => self.path.file_stem().map_or_else(
                || "scenario".to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
        };
        let endpoint = self.endpoint(raw.endpoint, raw.mock)?;
        let limits = self.limits(&raw.limits)?;
        let mut load = self.load(
            raw.load,
            raw.duration,
            raw.conversations_per_user,
            raw.limits.max_conversations,
            raw.grace,
        )?;
        load.keep_trace = raw.report.trace.unwrap_or(true);
        let agent = self.agent(raw.agent)?;
        // A replay's trace holds its prompts, so it needs no workload.
        let workload = if raw.workload.is_empty() && matches!(load.shape, LoadShape::Replay(_)) {
            Workload::new(Vec::new())
        } else {
            self.workload(raw.workload)?
        };
        let prices = self.prices(raw.prices)?;
        let report = ReportPlan {
            out: raw.report.out.map(|o| self.resolve(&o)),
            plots: raw.report.plots.unwrap_or(true),
            html: raw.report.html.unwrap_or(true),
        };
        let mut thresholds = BTreeMap::new();
        for (metric, cond) in raw.thresholds {
            let conds = match cond {
                OneOrMany::One(c) => vec![c],
                OneOrMany::Many(cs) => cs,
            };
            if conds.is_empty() || conds.iter().any(|c| c.trim().is_empty()) {
                return Err(self.invalid(
                    &format!("thresholds.\"{metric}\""),
                    format!("{conds:?}"),
                    "a condition such as \"< 2500\", or a list of them",
                ));
            }
            thresholds.insert(metric, conds);
        }
        let gates = crate::report::gates::parse_gates(&thresholds)
            .map_err(|e| self.component(e.to_string()))?;
        let plan = Plan {
            name,
            description: raw.description,
            source: self.path.to_path_buf(),
            seed: raw.seed.unwrap_or(DEFAULT_SEED),
            endpoint,
            load,
            agent,
            workload,
            prices,
            limits,
            report,
            thresholds,
            gates,
        };
        check_invariants(&plan)?;
        Ok(plan)
    }

    fn endpoint(
        &self,
        raw: RawEndpoint,
        mock: Option<mock_server::MockConfig>,
    ) -> Result<EndpointPlan, ScenarioError> {
        let timeout = raw.timeout.map_or(DEFAULT_TIMEOUT, HumanDuration::get);
        if timeout.is_zero() {
            return Err(self.invalid(
                "endpoint.timeout",
                "\"0s\"",
                "a positive per-attempt timeout such as \"60s\"",
            ));
        }
        let connect_timeout = raw
            .connect_timeout
            .map_or(DEFAULT_CONNECT_TIMEOUT, HumanDuration::get);
        if connect_timeout.is_zero() {
            return Err(self.invalid(
                "endpoint.connect_timeout",
                "\"0s\"",
                "a positive connect timeout such as \"10s\"",
            ));
        }
        let max_connections = raw
            .max_connections
            .unwrap_or(crate::client::DEFAULT_MAX_CONNECTIONS as u64);
        if !(1..=MAX_CONNECTIONS).contains(&max_connections) {
            return Err(self.invalid(
                "endpoint.max_connections",
                max_connections,
                &format!("a number of connections from 1 to {MAX_CONNECTIONS}, such as 512"),
            ));
        }
        let target = match raw.kind {
            EndpointKind::Mock => {
                for (key, set) in [
                    ("base_url", raw.base_url.is_some()),
                    ("api_key_env", raw.api_key_env.is_some()),
                    ("headers", !raw.headers.is_empty()),
                    ("auth_header", raw.auth_header.is_some()),
                ] {
                    if set {
                        return Err(self.invalid(
                            &format!("endpoint.{key}"),
                            "(set)",
                            "only `kind = \"http\"` takes it; remove it, or set `endpoint.kind = \"http\"`",
                        ));
                    }
                }
                let config = mock.unwrap_or_default();
                config.validate().map_err(|e| match e {
                    mock_server::ConfigError::Invalid { key, value, hint } => {
                        self.invalid(&format!("mock.{key}"), value, &hint)
                    }
                    other => self.component(other.to_string()),
                })?;
                Endpoint::Mock {
                    config: Box::new(config),
                }
            }
            EndpointKind::Http => {
                if mock.is_some() {
                    return Err(self.invalid(
                        "mock",
                        "(a table)",
                        "`[mock]` configures the embedded mock server, used only with `endpoint.kind = \"mock\"`; remove it",
                    ));
                }
                let base_url = raw.base_url.ok_or_else(|| {
                    self.invalid(
                        "endpoint.base_url",
                        "(missing)",
                        "`kind = \"http\"` needs a base URL such as \"https://api.openai.com/v1\"",
                    )
                })?;
                self.check_url("endpoint.base_url", &base_url)?;
                if let Some(var) = &raw.api_key_env {
                    check_env_name(var)
                        .map_err(|e| self.invalid("endpoint.api_key_env", redact(var), &e))?;
                }
                for name in raw.headers.keys() {
                    if http::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        return Err(self.invalid(
                            &format!("endpoint.headers.\"{name}\""),
                            format!("\"{name}\""),
                            "a valid HTTP header name (letters, digits and `-`)",
                        ));
                    }
                }
                Endpoint::Http {
                    base_url,
                    api_key_env: raw.api_key_env,
                    headers: raw.headers,
                }
            }
        };
        let call_deadline = raw
            .call_deadline
            .map_or(DEFAULT_CALL_DEADLINE.max(timeout), HumanDuration::get);
        if call_deadline < timeout {
            return Err(self.invalid(
                "endpoint.call_deadline",
                format!("\"{}\"", HumanDuration(call_deadline)),
                "at least `endpoint.timeout`: it bounds a whole call, retries and fallbacks included",
            ));
        }
        let max_response_bytes = raw
            .max_response_bytes
            .unwrap_or(crate::client::DEFAULT_MAX_RESPONSE_BYTES);
        if max_response_bytes < 1024 {
            return Err(self.invalid(
                "endpoint.max_response_bytes",
                max_response_bytes,
                "at least 1024 bytes, such as 8388608 (8 MiB)",
            ));
        }
        if let Some(name) = &raw.auth_header
            && http::header::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            return Err(self.invalid(
                "endpoint.auth_header",
                format!("\"{name}\""),
                "a valid HTTP header name such as \"api-key\"",
            ));
        }
        Ok(EndpointPlan {
            target,
            timeout,
            connect_timeout,
            call_deadline: Some(call_deadline),
            // In range by the check above.
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            max_response_bytes,
            auth_header: raw.auth_header,
        })
    }

    fn check_url(&self, key: &str, url: &str) -> Result<(), ScenarioError> {
        match crate::client::chat_uri(url) {
            Some(_) => Ok(()),
            None => Err(self.invalid(
                key,
                // Never the password or a key the URL may carry.
                format!("\"{}\"", crate::client::redact_url(url)),
                "an http:// or https:// URL with a host, such as \"https://api.openai.com/v1\"",
            )),
        }
    }

    fn limits(&self, raw: &RawLimits) -> Result<Limits, ScenarioError> {
        if let Some(cap) = raw.spend_cap_usd {
            check_spend_cap(cap).map_err(|e| self.invalid("limits.spend_cap_usd", cap, &e))?;
        }
        if raw.max_conversations == Some(0) {
            return Err(self.invalid(
                "limits.max_conversations",
                0,
                "a whole number above 0, or leave it out for no limit",
            ));
        }
        Ok(Limits {
            spend_cap_usd: raw.spend_cap_usd,
            expect_no_success: raw.expect_no_success.unwrap_or(false),
        })
    }

    fn load(
        &self,
        raw: RawLoad,
        duration: Option<HumanDuration>,
        conversations_per_user: Option<u64>,
        max_conversations: Option<u64>,
        grace: Option<HumanDuration>,
    ) -> Result<LoadPlan, ScenarioError> {
        let closed = raw.users.is_some() || raw.stages.is_some() || raw.ramp_up.is_some();
        let open =
            raw.arrival_rate.is_some() || raw.arrival.is_some() || raw.max_in_flight.is_some();
        let replay = raw.trace.is_some() || raw.time_scale.is_some();
        let models = [closed, open, replay].iter().filter(|m| **m).count();
        if models != 1 {
            return Err(self.invalid(
                "load",
                if models == 0 { "(no load model)" } else { "(keys of several load models)" },
                "exactly one load model: closed (`users`, `ramp_up`, `[[load.stages]]`), open (`arrival_rate`, `arrival`, `max_in_flight`) or replay (`trace`, `time_scale`)",
            ));
        }
        let shape = if closed {
            LoadShape::Closed(self.closed(&raw)?)
        } else if open {
            let arrival_rate = raw.arrival_rate.ok_or_else(|| {
                self.invalid(
                    "load.arrival_rate",
                    "(missing)",
                    "the open model needs a rate of new sessions, such as \"5/s\" or \"300/min\"",
                )
            })?;
            let max_in_flight = raw.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
            if max_in_flight == 0 || max_in_flight > MAX_USERS {
                return Err(self.invalid(
                    "load.max_in_flight",
                    max_in_flight,
                    &format!("a whole number from 1 to {MAX_USERS}"),
                ));
            }
            LoadShape::Open(OpenLoad {
                arrival_rate,
                arrival: raw.arrival.unwrap_or_default(),
                max_in_flight,
            })
        } else {
            let file = raw
                .trace
                .as_deref()
                .map(|t| self.resolve(t))
                .ok_or_else(|| {
                    self.invalid(
                    "load.trace",
                    "(missing)",
                    "the replay model needs a JSONL trace file, such as \"traces/recorded.jsonl\"",
                )
                })?;
            let time_scale = raw.time_scale.unwrap_or(1.0);
            if !(time_scale.is_finite() && time_scale > 0.0) {
                return Err(self.invalid(
                    "load.time_scale",
                    time_scale,
                    "a positive number: 1 keeps the recorded spacing, 0.5 replays twice as fast",
                ));
            }
            let text = std::fs::read_to_string(&file).map_err(|e| {
                self.file_error("load.trace", &file, format!("cannot be read: {e}"))
            })?;
            let sessions = trace::parse_trace(&text).map_err(|(line, msg)| {
                self.file_error("load.trace", &file, format!("line {line}: {msg}"))
            })?;
            if sessions.is_empty() {
                return Err(self.file_error("load.trace", &file, "holds no session".into()));
            }
            LoadShape::Replay(ReplayLoad {
                trace: file,
                time_scale,
                sessions,
            })
        };
        let turns_per_session = raw.turns_per_session.unwrap_or(CountRange::fixed(1));
        if turns_per_session.min == 0 || turns_per_session.max > u64::from(u32::MAX) {
            return Err(self.invalid(
                "load.turns_per_session",
                format!("\"{turns_per_session}\""),
                "a count range of at least 1 turn, such as \"1..=3\"",
            ));
        }
        let grace = grace.map_or(DEFAULT_GRACE, HumanDuration::get);
        let load = LoadPlan {
            shape,
            think_time: raw.think_time.unwrap_or_default(),
            turns_per_session,
            duration: duration.map(HumanDuration::get),
            conversations_per_user,
            max_conversations,
            grace,
            keep_trace: true,
        };
        Ok(load)
    }

    fn closed(&self, raw: &RawLoad) -> Result<ClosedLoad, ScenarioError> {
        match &raw.stages {
            Some(stages) => {
                for (key, set) in [
                    ("users", raw.users.is_some()),
                    ("ramp_up", raw.ramp_up.is_some()),
                ] {
                    if set {
                        return Err(self.invalid(
                            &format!("load.{key}"),
                            "(set)",
                            "`[[load.stages]]` set the user count over time; remove it, or remove the stages",
                        ));
                    }
                }
                if stages.is_empty() {
                    return Err(self.invalid(
                        "load.stages",
                        "[]",
                        "at least one stage, such as { target = 50, duration = \"10s\" }",
                    ));
                }
                let mut out = Vec::with_capacity(stages.len());
                for (i, s) in stages.iter().enumerate() {
                    if s.target > MAX_USERS {
                        return Err(self.invalid(
                            &format!("load.stages[{i}].target"),
                            s.target,
                            &format!("a whole number of users from 0 to {MAX_USERS}"),
                        ));
                    }
                    out.push(Stage {
                        target: s.target,
                        duration: s.duration.get(),
                    });
                }
                let users = out.iter().map(|s| s.target).max().unwrap_or(0);
                if users == 0 {
                    return Err(self.invalid(
                        "load.stages",
                        "(every target is 0)",
                        "at least one stage with a target above 0 users",
                    ));
                }
                Ok(ClosedLoad {
                    users,
                    stages: out,
                    explicit_stages: true,
                })
            }
            None => {
                let users = raw.users.ok_or_else(|| {
                    self.invalid(
                        "load.users",
                        "(missing)",
                        "a number of virtual users, such as 100",
                    )
                })?;
                check_users(users).map_err(|e| self.invalid("load.users", users, &e))?;
                let ramp_up = raw.ramp_up.map_or(Duration::ZERO, HumanDuration::get);
                Ok(ClosedLoad {
                    users,
                    stages: vec![Stage {
                        target: users,
                        duration: ramp_up,
                    }],
                    explicit_stages: false,
                })
            }
        }
    }

    fn agent(&self, raw: AgentConfig) -> Result<AgentConfig, ScenarioError> {
        raw.budget.validate().map_err(|m| self.component(m))?;
        raw.sessions.validate().map_err(|m| self.component(m))?;
        raw.breaker.validate().map_err(|m| self.component(m))?;
        raw.tools.validate().map_err(|m| self.component(m))?;
        crate::agent::sanitizer::Sanitizer::new(&raw.sanitizer)
            .map_err(|e| self.component(format!("agent.sanitizer: {e}")))?;
        check_model_name(&raw.model)
            .map_err(|e| self.invalid("agent.model", format!("\"{}\"", raw.model), &e))?;
        for (i, m) in raw.fallback.iter().enumerate() {
            let key = format!("agent.fallback[{i}]");
            check_model_name(m).map_err(|e| self.invalid(&key, format!("\"{m}\""), &e))?;
            if *m == raw.model || raw.fallback[..i].contains(m) {
                return Err(self.invalid(
                    &key,
                    format!("\"{m}\""),
                    "a model not already in the chain (`agent.model` and earlier fallbacks)",
                ));
            }
        }
        if raw.max_tokens == Some(0) {
            return Err(self.invalid(
                "agent.max_tokens",
                0,
                "a completion-token limit above 0, or leave it out for the endpoint's default",
            ));
        }
        Ok(raw)
    }

    fn workload(&self, raw: Vec<RawWorkload>) -> Result<Workload, ScenarioError> {
        if raw.is_empty() {
            return Err(self.invalid(
                "workload",
                "(missing)",
                "at least one `[[workload]]` table with `prompts = [\"...\"]` or `file = \"prompts/benign.txt\"`",
            ));
        }
        let mut sources = Vec::with_capacity(raw.len());
        for (i, w) in raw.into_iter().enumerate() {
            let key = |k: &str| format!("workload[{i}].{k}");
            let weight = w.weight.unwrap_or(1);
            if weight == 0 {
                return Err(self.invalid(
                    &key("weight"),
                    0,
                    "a weight above 0 (relative to the other sources)",
                ));
            }
            if let Some(label) = &w.label
                && label.trim().is_empty()
            {
                return Err(self.invalid(
                    &key("label"),
                    "\"\"",
                    "a non-empty label such as \"benign\" or \"hostile\"",
                ));
            }
            let (origin, items) = match (w.prompts, w.file) {
                (Some(prompts), None) => {
                    if prompts.is_empty() {
                        return Err(self.invalid(&key("prompts"), "[]", "at least one prompt"));
                    }
                    if let Some(j) = prompts.iter().position(|p| p.trim().is_empty()) {
                        return Err(self.invalid(
                            &format!("workload[{i}].prompts[{j}]"),
                            "\"\"",
                            "a non-empty prompt",
                        ));
                    }
                    let items = prompts
                        .into_iter()
                        .map(|text| WorkItem {
                            text,
                            follow_ups: Vec::new(),
                        })
                        .collect();
                    ("inline".to_string(), items)
                }
                (None, Some(file)) => {
                    let resolved = self.resolve(&file);
                    let items = workload::read_prompt_file(&resolved).map_err(|e| match e {
                        workload::PromptFileError::Io(f, err) => {
                            self.file_error(&key("file"), &f, format!("cannot be read ({err}); the path is relative to the scenario file's directory"))
                        }
                        workload::PromptFileError::Line(f, line, msg) => {
                            self.file_error(&key("file"), &f, format!("line {line}: {msg}"))
                        }
                        workload::PromptFileError::Empty(f) => {
                            self.file_error(&key("file"), &f, "holds no prompt".to_string())
                        }
                    })?;
                    (resolved.display().to_string(), items)
                }
                _ => {
                    return Err(self.invalid(
                        &format!("workload[{i}]"),
                        "(both or neither of `prompts` and `file`)",
                        "exactly one of `prompts = [\"...\"]` or `file = \"prompts/benign.txt\"`",
                    ));
                }
            };
            sources.push(Source {
                weight,
                label: w.label,
                origin,
                items,
            });
        }
        Ok(Workload::new(sources))
    }

    fn prices(&self, raw: RawPrices) -> Result<PricesPlan, ScenarioError> {
        for (i, m) in raw.compare.iter().enumerate() {
            check_model_name(m).map_err(|e| {
                self.invalid(&format!("prices.compare[{i}]"), format!("\"{m}\""), &e)
            })?;
        }
        if let Some(r) = &raw.reference {
            check_model_name(r)
                .map_err(|e| self.invalid("prices.reference", format!("\"{r}\""), &e))?;
        }
        if raw.per_day == Some(0) {
            return Err(self.invalid(
                "prices.per_day",
                0,
                "conversations per day above 0, or leave it out",
            ));
        }
        let table = raw.table.map(|t| self.resolve(&t));
        if let Some(t) = &table
            && !t.is_file()
        {
            return Err(self.file_error(
                "prices.table",
                t,
                "does not exist; the path is relative to the scenario file's directory, or leave `table` out for the shipped table".into(),
            ));
        }
        Ok(PricesPlan {
            table,
            compare: raw.compare,
            reference: raw.reference,
            per_day: raw.per_day,
        })
    }
}

fn check_users(users: u64) -> Result<(), String> {
    if users == 0 || users > MAX_USERS {
        Err(format!("a number of virtual users from 1 to {MAX_USERS}"))
    } else {
        Ok(())
    }
}

fn check_spend_cap(cap: f64) -> Result<(), String> {
    if cap.is_finite() && cap > 0.0 {
        Ok(())
    } else {
        Err("a positive number of dollars, such as 5.0".into())
    }
}

fn check_model_name(m: &str) -> Result<(), String> {
    if m.trim().is_empty() || m.trim() != m {
        Err("a model name such as \"gpt-4.1\", without surrounding spaces".into())
    } else {
        Ok(())
    }
}

/// An environment variable name, not a key pasted by mistake.
fn check_env_name(var: &str) -> Result<(), String> {
    let looks_like_name = !var.is_empty()
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !var.starts_with(|c: char| c.is_ascii_digit());
    if looks_like_name && !var.starts_with("sk-") {
        Ok(())
    } else {
        Err("the NAME of an environment variable that holds the key, such as \"OPENAI_API_KEY\"; never the key itself".into())
    }
}

/// Shows enough of a value to find it, never a whole secret pasted where a name belongs.
fn redact(value: &str) -> String {
    if value.len() > 8 {
        format!(
            "\"{}...\" (shortened)",
            value.chars().take(4).collect::<String>()
        )
    } else {
        format!("\"{value}\"")
    }
}

/// Checks that hold across tables; run after loading and after overrides.
fn check_invariants(plan: &Plan) -> Result<(), ScenarioError> {
    let invalid = |key: &str, value: &str, expected: &str| ScenarioError::Invalid {
        path: plan.source.clone(),
        key: key.into(),
        value: value.into(),
        expected: expected.into(),
    };
    if matches!(plan.endpoint.target, Endpoint::Http { .. }) && plan.limits.spend_cap_usd.is_none()
    {
        return Err(invalid(
            "limits.spend_cap_usd",
            "(missing)",
            "a real endpoint costs money: set a run-wide cap in dollars, such as `[limits] spend_cap_usd = 5.0`",
        ));
    }
    // The cap reserves each call's worst case before sending it; without a completion limit
    // that is the model's whole output window, so no call would ever fit under a small cap.
    if plan.limits.spend_cap_usd.is_some() && plan.agent.max_tokens.is_none() {
        return Err(invalid(
            "agent.max_tokens",
            "(missing)",
            "a completion limit per call with a spend cap, such as `[agent] max_tokens = 512`: the cap reserves each call's worst case before sending it",
        ));
    }
    // A per-model threshold on a model the run never calls could only be found missing after
    // the whole load.
    let models: Vec<&str> = plan.agent.models().collect();
    for metric in plan.thresholds.keys() {
        if let Some(model) = crate::report::gates::model_of_path(metric)
            && !models.contains(&model)
        {
            let mut usable = format!("{} (agent.model)", models[0]);
            for m in &models[1..] {
                usable.push_str(&format!(", {m} (agent.fallback)"));
            }
            return Err(invalid(
                &format!("thresholds.\"{metric}\""),
                model,
                &format!("a model the scenario can call: {usable}"),
            ));
        }
    }
    let load = &plan.load;
    // Bounds keep every later `Instant + Duration` from overflowing, and catch typos.
    let mut spans = vec![
        ("grace", Some(load.grace)),
        ("duration", load.duration),
        ("load.think_time", Some(load.think_time.max)),
        ("endpoint.timeout", Some(plan.endpoint.timeout)),
        (
            "endpoint.connect_timeout",
            Some(plan.endpoint.connect_timeout),
        ),
        ("endpoint.call_deadline", plan.endpoint.call_deadline),
        (
            "agent.breaker.recovery_timeout",
            Some(plan.agent.breaker.recovery_timeout.0),
        ),
        (
            "agent.retry.base_delay",
            Some(plan.agent.retry.base_delay.0),
        ),
        ("agent.retry.max_delay", Some(plan.agent.retry.max_delay.0)),
        (
            "agent.retry.max_server_wait",
            Some(plan.agent.retry.max_server_wait.0),
        ),
        ("agent.sessions.ttl", Some(plan.agent.sessions.ttl.0)),
    ];
    match &load.shape {
        LoadShape::Closed(c) => {
            let total = c
                .stages
                .iter()
                .try_fold(Duration::ZERO, |a, s| a.checked_add(s.duration));
            let key = if c.explicit_stages {
                "load.stages"
            } else {
                "load.ramp_up"
            };
            spans.push((key, Some(total.unwrap_or(Duration::MAX))));
        }
        LoadShape::Open(o) => {
            let per_s = o.arrival_rate.per_second;
            if !(MIN_RATE_PER_S..=MAX_RATE_PER_S).contains(&per_s) {
                return Err(invalid(
                    "load.arrival_rate",
                    &format!("\"{}\"", o.arrival_rate),
                    "a rate from 1/d to 1000000/s, such as \"5/s\"",
                ));
            }
        }
        LoadShape::Replay(r) => {
            if r.time_scale > MAX_TIME_SCALE {
                return Err(invalid(
                    "load.time_scale",
                    &r.time_scale.to_string(),
                    "a positive number up to 1000: 1 keeps the recorded spacing, 0.5 replays twice as fast",
                ));
            }
            let last = r.sessions.last().map_or(0, |e| e.offset_ms);
            let span = Duration::try_from_secs_f64(last as f64 / 1000.0 * r.time_scale);
            spans.push(("load.trace", Some(span.unwrap_or(Duration::MAX))));
        }
    }
    for (key, span) in spans {
        if let Some(d) = span
            && d > MAX_DURATION
        {
            return Err(invalid(
                key,
                &HumanDuration(d).to_string(),
                "a duration of at most 365 days",
            ));
        }
    }
    if let Some(d) = load.duration
        && d.is_zero()
    {
        return Err(invalid(
            "duration",
            "\"0s\"",
            "a positive duration such as \"60s\"",
        ));
    }
    if load.conversations_per_user == Some(0) {
        return Err(invalid(
            "conversations_per_user",
            "0",
            "a whole number above 0",
        ));
    }
    match &load.shape {
        LoadShape::Closed(c) => {
            if load.duration.is_some() && load.conversations_per_user.is_some() {
                return Err(invalid(
                    "conversations_per_user",
                    "(set together with `duration`)",
                    "one of `duration` or `conversations_per_user`, not both",
                ));
            }
            let has_end = load.duration.is_some()
                || load.conversations_per_user.is_some()
                || load.max_conversations.is_some()
                || c.explicit_stages;
            if !has_end {
                return Err(invalid(
                    "duration",
                    "(missing)",
                    "a run length such as `duration = \"60s\"`, or `conversations_per_user = 5`",
                ));
            }
        }
        LoadShape::Open(_) => {
            if load.conversations_per_user.is_some() {
                return Err(invalid(
                    "conversations_per_user",
                    "(set with an open load model)",
                    "only the closed model has users; use `duration` or `limits.max_conversations`",
                ));
            }
            if load.duration.is_none() && load.max_conversations.is_none() {
                return Err(invalid(
                    "duration",
                    "(missing)",
                    "the open model needs a run length such as `duration = \"60s\"` or `limits.max_conversations`",
                ));
            }
        }
        LoadShape::Replay(_) => {
            if load.conversations_per_user.is_some() {
                return Err(invalid(
                    "conversations_per_user",
                    "(set with the replay load model)",
                    "the trace decides the conversations; use `duration` to cut it short",
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Overrides, prices, summary

/// What a command line may change in a plan (`bench run`'s flags, as plain data: the scenario
/// layer knows nothing of the CLI). Every field left `None` keeps the scenario's value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--users`: virtual users of a closed model without explicit stages.
    pub users: Option<u64>,
    /// `--duration`, as written (parsed and checked here).
    pub duration: Option<String>,
    /// `--conversations-per-user`.
    pub conversations_per_user: Option<u64>,
    /// `--endpoint-url`: switches the endpoint to `http`.
    pub endpoint_url: Option<String>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--out`.
    pub out: Option<PathBuf>,
}

/// Applies `bench run` flags to a plan and re-checks what they change. `--duration` replaces
/// `conversations_per_user` and the other way round; `--endpoint-url` switches the endpoint to
/// `http` (which then needs `limits.spend_cap_usd`).
pub fn apply_overrides(plan: &mut Plan, args: &Overrides) -> Result<(), ScenarioError> {
    let flag = |name: &str, value: &dyn fmt::Display, expected: &str| ScenarioError::Invalid {
        path: plan.source.clone(),
        key: format!("--{name}"),
        value: value.to_string(),
        expected: expected.to_string(),
    };
    if let Some(users) = args.users {
        let err = match &plan.load.shape {
            LoadShape::Closed(c) if !c.explicit_stages => check_users(users).err(),
            LoadShape::Closed(_) => {
                Some("a scenario without `[[load.stages]]`: its stages set the user count".into())
            }
            _ => Some("a closed-model scenario (`load.users`); this one has no users".into()),
        };
        if let Some(expected) = err {
            return Err(flag("users", &users, &expected));
        }
        if let LoadShape::Closed(c) = &mut plan.load.shape {
            c.users = users;
            c.stages[0].target = users;
        }
    }
    if let Some(text) = &args.duration {
        let d = crate::units::parse_duration(text)
            .map_err(|e| flag("duration", &format!("\"{text}\""), &e))?;
        plan.load.duration = Some(d);
        plan.load.conversations_per_user = None;
    }
    if let Some(n) = args.conversations_per_user {
        plan.load.conversations_per_user = Some(n);
        plan.load.duration = None;
    }
    if let Some(url) = &args.endpoint_url {
        let check = Check {
            path: &plan.source.clone(),
            dir: Path::new(""),
        };
        check.check_url("--endpoint-url", url)?;
        plan.endpoint.target = match std::mem::replace(
            &mut plan.endpoint.target,
            Endpoint::Mock {
                config: Box::default(),
            },
        ) {
            Endpoint::Http {
                api_key_env,
                headers,
                ..
            } => Endpoint::Http {
                base_url: url.clone(),
                api_key_env,
                headers,
            },
            Endpoint::Mock { .. } => Endpoint::Http {
                base_url: url.clone(),
                api_key_env: None,
                headers: BTreeMap::new(),
            },
        };
    }
    if let Some(seed) = args.seed {
        plan.seed = seed;
    }
    if let Some(out) = &args.out {
        plan.report.out = Some(out.clone());
    }
    check_invariants(plan)
}

/// Checks that `table` prices every model the plan may call (primary and fallbacks) and the
/// comparison's reference and list. `table_name` names the table in the message.
pub fn validate_prices(
    plan: &Plan,
    table: &PriceTable,
    table_name: &str,
) -> Result<(), ScenarioError> {
    let mut wanted: Vec<(String, &str)> = vec![("agent.model".into(), plan.agent.model.as_str())];
    for (i, m) in plan.agent.fallback.iter().enumerate() {
        wanted.push((format!("agent.fallback[{i}]"), m));
    }
    for (i, m) in plan.prices.compare.iter().enumerate() {
        wanted.push((format!("prices.compare[{i}]"), m));
    }
    if let Some(r) = &plan.prices.reference {
        wanted.push(("prices.reference".into(), r));
    }
    for (key, model) in wanted {
        if table.get(model).is_none() {
            return Err(ScenarioError::MissingPrice {
                path: plan.source.clone(),
                key,
                model: model.to_string(),
                table: table_name.to_string(),
                known: table.models.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(())
}

/// Loads the plan's price table (`[prices] table`: native TOML or LiteLLM JSON; default the
/// table shipped with the binary) and checks that it prices every model the plan may call.
pub fn price_table(plan: &Plan) -> Result<PriceTable, ScenarioError> {
    let (table, name) = match &plan.prices.table {
        Some(file) => {
            let table = PriceTable::load(file).map_err(|e| ScenarioError::File {
                path: plan.source.clone(),
                key: "prices.table".into(),
                file: file.clone(),
                problem: format!("is not a usable price table: {e}"),
            })?;
            (table, file.display().to_string())
        }
        None => {
            let table = PriceTable::default_table().map_err(|e| ScenarioError::File {
                path: plan.source.clone(),
                key: "prices.table".into(),
                file: PathBuf::from("(built-in table)"),
                problem: format!("does not load: {e}"),
            })?;
            (table, "(built-in table)".to_string())
        }
    };
    validate_prices(plan, &table, &name)?;
    Ok(table)
}

impl Plan {
    /// A few lines for people: what this plan will do. `bench validate` prints it.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "scenario  {} ({})", self.name, self.source.display());
        let _ = writeln!(s, "seed      {}", self.seed);
        let endpoint = match &self.endpoint.target {
            Endpoint::Mock { config } => format!(
                "embedded mock server (seed {}, {} model settings, {} outages)",
                config.seed,
                config.models.len(),
                config.outages.len()
            ),
            Endpoint::Http {
                base_url,
                api_key_env,
                ..
            } => format!(
                "{} (key from {})",
                crate::client::redact_url(base_url),
                api_key_env.as_deref().unwrap_or("no variable: no key sent")
            ),
        };
        let _ = writeln!(
            s,
            "endpoint  {endpoint}, timeout {}",
            HumanDuration(self.endpoint.timeout)
        );
        let l = &self.load;
        let shape = match &l.shape {
            LoadShape::Closed(c) if c.explicit_stages => format!(
                "closed: stages {}",
                c.stages
                    .iter()
                    .map(|st| format!("{} users over {}", st.target, HumanDuration(st.duration)))
                    .collect::<Vec<_>>()
                    .join(", then ")
            ),
            LoadShape::Closed(c) => format!(
                "closed: {} users, ramp-up {}",
                c.users,
                HumanDuration(c.stages[0].duration)
            ),
            LoadShape::Open(o) => format!(
                "open: {} arrivals at {}, at most {} in flight",
                match o.arrival {
                    Arrival::Poisson => "poisson",
                    Arrival::Constant => "constant",
                },
                o.arrival_rate,
                o.max_in_flight
            ),
            LoadShape::Replay(r) => format!(
                "replay: {} sessions from {}, time scale {}",
                r.sessions.len(),
                r.trace.display(),
                r.time_scale
            ),
        };
        let _ = writeln!(
            s,
            "load      {shape}; {} turns per session, think {}",
            l.turns_per_session, l.think_time
        );
        let mut stop = Vec::new();
        if let Some(d) = l.duration {
            stop.push(format!("after {}", HumanDuration(d)));
        }
        if let Some(n) = l.conversations_per_user {
            stop.push(format!("{n} conversations per user"));
        }
        if let Some(n) = l.max_conversations {
            stop.push(format!("at most {n} conversations"));
        }
        if stop.is_empty() {
            stop.push("when the load model is done".into());
        }
        let _ = writeln!(
            s,
            "stop      {}; grace {}",
            stop.join(", "),
            HumanDuration(l.grace)
        );
        let a = &self.agent;
        let _ = writeln!(
            s,
            "agent     {}{}, {} protocol, {}",
            a.model,
            if a.fallback.is_empty() {
                String::new()
            } else {
                format!(" -> {}", a.fallback.join(" -> "))
            },
            match a.protocol {
                Protocol::Text => "text",
                Protocol::Native => "native",
            },
            if a.stream {
                "streaming"
            } else {
                "not streaming"
            }
        );
        let total: u64 = self
            .workload
            .sources
            .iter()
            .map(|src| u64::from(src.weight))
            .sum();
        for src in &self.workload.sources {
            let _ = writeln!(
                s,
                "workload  {:>5.1}% {} ({} prompts from {})",
                100.0 * f64::from(src.weight) / total.max(1) as f64,
                src.label.as_deref().unwrap_or("unlabelled"),
                src.items.len(),
                src.origin
            );
        }
        let _ = writeln!(
            s,
            "prices    {}",
            self.prices.table.as_ref().map_or_else(
                || "the shipped table".to_string(),
                |t| t.display().to_string()
            )
        );
        if let Some(cap) = self.limits.spend_cap_usd {
            let _ = writeln!(s, "limits    spend cap ${cap:.2}");
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(s, "gates     {} thresholds", self.thresholds.len());
        }
        s
    }
}

/// What `bench validate` checks: [`load`], then the prices of every model the plan calls when
/// the plan names a TOML price table (the shipped table and LiteLLM JSON files are checked by
/// the pricing module at run time).
pub fn check_file(path: &Path) -> Result<Plan, ScenarioError> {
    let plan = load(path)?;
    price_table(&plan)?;
    Ok(plan)
}
