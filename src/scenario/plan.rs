//! The validated plan: everything a run needs, in checked, typed form, and the defaults and
//! bounds the checks apply. Nothing downstream re-checks a [`Plan`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::trace::TraceEntry;
use super::workload::Workload;
use crate::agent::settings::AgentConfig;
use crate::units::{CountRange, DurationRange, Rate};

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
pub(super) const MIN_RATE_PER_S: f64 = 1.0 / 86_400.0;
/// Fastest open-model arrival rate.
pub(super) const MAX_RATE_PER_S: f64 = 1_000_000.0;
/// Largest replay time scale.
pub(super) const MAX_TIME_SCALE: f64 = 1000.0;
/// Most virtual users or in-flight conversations a scenario may ask for: far above what one
/// machine drives, low enough to catch a typo such as an extra zero run amok.
pub const MAX_USERS: u64 = 1_000_000;

/// Most connections `endpoint.max_connections` may allow (each is a descriptor and, on
/// loopback, an ephemeral port; Linux has about 28,000 of those per destination).
pub const MAX_CONNECTIONS: u64 = 20_000;

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
    /// Service-level objectives per conversation (`[slo]`).
    pub slo: Option<crate::metrics::slo::Slo>,
    /// How `bench sweep` steps the load (`[sweep]`).
    pub sweep: Option<SweepPlan>,
    /// Set when this process runs one shard of the scenario ([`super::apply_shard`]).
    pub sharding: Option<super::shard::Sharding>,
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
    /// The server's Prometheus metrics to scrape during the run (`metrics_url`,
    /// `metrics_interval`, `metrics`), if any.
    pub server_metrics: Option<crate::observe::ScrapeSettings>,
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
    /// Which shard of the run this process runs (`0/1`: the whole run); see
    /// [`super::shard`].
    pub shard: super::shard::Shard,
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

/// `[sweep]`, checked, with defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPlan {
    /// The attainment a step must reach (`target`, default 0.99).
    pub target: f64,
    /// First load: users (closed) or conversations per second (open). Default: the
    /// scenario's own.
    pub start: Option<f64>,
    /// Growth factor of the climb (`factor`, default 2).
    pub factor: f64,
    /// Bisection stops when the bracket is this narrow (`resolution`, load units). Default: a
    /// tenth of the start, at least 1 user or 0.1/s.
    pub resolution: Option<f64>,
    /// Highest load tried (`max_load`); default 1,000 times the start.
    pub max_load: Option<f64>,
    /// Most steps (repeats included) per model (`max_steps`, default 20).
    pub max_steps: u32,
    /// The sweep stops starting steps after this long (`max_duration`).
    pub max_duration: Option<Duration>,
    /// Length of each step's load (`step_duration`, default the scenario's `duration`, or
    /// 30 s).
    pub step_duration: Option<Duration>,
    /// Conversations started within this time of a step's start are left out of its figures
    /// (`warm_up`, default 5 s, capped at half the step).
    pub warm_up: Duration,
    /// Times a step whose interval straddles the target is run again, its conversations
    /// pooled (`repeats`, default 1).
    pub repeats: u32,
    /// Models to sweep one after the other (`models`); empty: the scenario's model.
    pub models: Vec<String>,
}

impl Default for SweepPlan {
    fn default() -> Self {
        SweepPlan {
            target: 0.99,
            start: None,
            factor: 2.0,
            resolution: None,
            max_load: None,
            max_steps: 20,
            max_duration: None,
            step_duration: None,
            warm_up: Duration::from_secs(5),
            repeats: 1,
            models: Vec::new(),
        }
    }
}
