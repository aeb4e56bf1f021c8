//! Simulated in-process tools: the built-in three (a calculator that really computes, and
//! `search` and `lookup` that return canned text derived deterministically from their input),
//! and the user's own tools (`defs.rs`: an OpenAI `tools` file or inline tables), each
//! simulated as `sim.rs` says: latency, failures, outputs, or a real tool service.
//!
//! The [`ToolBox`] enforces the allow-list: a name outside it is refused and never run.
//! Detecting dangerous names (`exec`, `os.system` ...) is the sanitizer's job; an unknown name
//! is refused here either way.
//!
//! User-facing as:
//! ```toml
//! [agent.tools]
//! definitions = "tools.json"                 # an OpenAI `tools` array; default: the built-ins
//! allowed = ["calculator", "search", "lookup"]   # default: every defined tool
//! latency = { calculator = "1ms..5ms", search = "20ms..80ms", lookup = "10ms..40ms" }
//! outputs = { search = ["canned answer one", "canned answer two"] }   # optional
//! [agent.tools.simulate.search_kb]
//! latency = "80ms..400ms"
//! failure_probability = 0.02
//! output_tokens = "200..=1500"
//! ```

mod calc;
mod defs;
mod sim;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

pub use calc::calculate;
use calc::format_number;
pub use defs::{InlineTool, check_spec, parse_openai_tools};
use sim::Output;
pub use sim::ToolSim;

use crate::chat::ToolSpec;
use crate::client::{GetError, Poster};
use crate::record::{ToolRecord, ToolStatus};
use crate::units::DurationRange;

/// Names of the built-in simulated tools.
pub const KNOWN_TOOLS: [&str; 3] = ["calculator", "search", "lookup"];

/// Longest expression or query accepted, in bytes.
const MAX_INPUT_BYTES: usize = 4096;
/// Largest reply of a tool service read (a larger one is a failed call).
const MAX_SERVICE_BYTES: usize = 4 << 20;
/// Latency of a custom tool without one set.
const CUSTOM_LATENCY: DurationRange = DurationRange {
    min: Duration::from_millis(10),
    max: Duration::from_millis(50),
};

/// Tool settings, user-facing as `[agent.tools]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Tools the agent may run; any other name is refused. Default: every defined tool (the
    /// built-ins, when none is defined). May name built-ins beside defined tools.
    pub allowed: Option<Vec<String>>,
    /// An OpenAI `tools` array file (`definitions`), relative to the scenario file.
    pub definitions: Option<PathBuf>,
    /// Inline definitions (`[[agent.tools.define]]`).
    pub define: Vec<InlineTool>,
    /// Simulated latency per tool (`"20ms..80ms"`, or one value); tools not listed use the
    /// defaults: calculator 1ms..5ms, search 20ms..80ms, lookup 10ms..40ms, others 10ms..50ms.
    pub latency: BTreeMap<String, DurationRange>,
    /// Canned outputs per tool (not the calculator): the input picks one, deterministically.
    /// Without them the output is generated from the input.
    pub outputs: BTreeMap<String, Vec<String>>,
    /// Behaviour per tool (`[agent.tools.simulate.NAME]`).
    pub simulate: BTreeMap<String, ToolSim>,
    /// The definitions read from `definitions` (not a key: the scenario reads the file, a
    /// library user sets them directly).
    #[serde(skip)]
    pub loaded: Vec<ToolSpec>,
}

impl Serialize for ToolsConfig {
    /// Only for descriptions: the allow-list and the defined tools' names.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

impl ToolsConfig {
    /// The user's definitions, file then inline; an inline one that does not check is skipped
    /// here (validation reports it).
    pub fn custom(&self) -> Vec<ToolSpec> {
        let mut out = self.loaded.clone();
        out.extend(self.define.iter().filter_map(|d| d.spec().ok()));
        out
    }

    /// The names of the allowed tools, in order.
    pub fn names(&self) -> Vec<String> {
        match &self.allowed {
            Some(list) => list.clone(),
            None => {
                let custom = self.custom();
                if custom.is_empty() {
                    KNOWN_TOOLS.iter().map(|s| s.to_string()).collect()
                } else {
                    custom.into_iter().map(|t| t.name).collect()
                }
            }
        }
    }

    /// Checks names and behaviours; the error names the key (`agent.tools.*`) and what is
    /// accepted.
    pub fn validate(&self) -> Result<(), String> {
        let custom = self.custom();
        for (i, d) in self.define.iter().enumerate() {
            d.spec()
                .map_err(|e| format!("agent.tools.define[{i}]: {e}"))?;
        }
        let mut seen: Vec<&str> = Vec::new();
        for t in &custom {
            if seen.contains(&t.name.as_str()) {
                return Err(format!(
                    "agent.tools: tool `{}` is defined twice; give each tool one definition",
                    t.name
                ));
            }
            seen.push(&t.name);
        }
        let exists =
            |name: &str| KNOWN_TOOLS.contains(&name) || custom.iter().any(|t| t.name == name);
        let known = || {
            let mut names: Vec<&str> = custom.iter().map(|t| t.name.as_str()).collect();
            names.extend(KNOWN_TOOLS);
            names.join(", ")
        };
        for name in self.allowed.iter().flatten() {
            if !exists(name) {
                return Err(format!(
                    "agent.tools.allowed lists `{name}`, which is neither defined nor a built-in tool; use some of: {}",
                    known()
                ));
            }
        }
        for name in self.latency.keys().chain(self.simulate.keys()) {
            if !exists(name) {
                return Err(format!(
                    "agent.tools has settings for `{name}`, which is neither defined nor a built-in tool; use some of: {}",
                    known()
                ));
            }
        }
        for (name, outs) in &self.outputs {
            if !exists(name) || name == "calculator" {
                return Err(format!(
                    "agent.tools.outputs has a key `{name}`; canned outputs exist for defined tools, search and lookup (the calculator computes)"
                ));
            }
            if outs.is_empty() {
                return Err(format!(
                    "agent.tools.outputs.{name} is an empty list; give at least one output or remove the key"
                ));
            }
        }
        for (name, sim) in &self.simulate {
            let props = custom
                .iter()
                .find(|t| &t.name == name)
                .and_then(|t| t.parameters.get("properties"));
            if name == "calculator" && sim.output().is_some() {
                return Err("agent.tools.simulate.calculator sets an output; the calculator computes its own (set latency or failures only)".to_string());
            }
            sim.validate(props).map_err(|(key, value, hint)| {
                format!("agent.tools.simulate.{name}.{key} is {value}; expected {hint}")
            })?;
        }
        Ok(())
    }
}

/// The outcome of one tool run or refusal, ready to become an observation for the model and a
/// [`ToolRecord`] for the metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    /// Tool name as the model asked for it.
    pub name: String,
    /// Ran, failed, or refused.
    pub status: ToolStatus,
    /// The text to send back to the model: the output, or the error or refusal message.
    pub output: String,
    /// When the run started.
    pub started: Instant,
    /// Time the run took: the simulated latency as slept, rounded up by the timer's 1 ms
    /// granularity (zero for a refusal), or a tool service's response time.
    pub latency: Duration,
    /// A tool service's HTTP status (`url` tools only; `None` when no reply came).
    pub http_status: Option<u16>,
}

impl ToolResult {
    /// The record the conversation keeps for this run; `output_tokens` is the count of what
    /// the model was given.
    pub fn record(&self, output_tokens: u64) -> ToolRecord {
        ToolRecord {
            name: self.name.clone(),
            started: self.started,
            latency: self.latency,
            status: self.status.clone(),
            output_tokens,
            output_bytes: self.output.len() as u64,
            http_status: self.http_status,
        }
    }
}

/// Which simulated tool a name maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Calculator,
    Search,
    Lookup,
    /// A user-defined tool.
    Custom,
}

impl Kind {
    fn from_name(name: &str) -> Kind {
        match name {
            "calculator" => Kind::Calculator,
            "search" => Kind::Search,
            "lookup" => Kind::Lookup,
            _ => Kind::Custom,
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Kind::Calculator => "expression",
            Kind::Search | Kind::Lookup | Kind::Custom => "query",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Kind::Calculator => {
                "Evaluates an arithmetic expression with + - * / parentheses and decimals, e.g. (2.5 + 3) * 4"
            }
            Kind::Search => "Searches the web and returns a short summary of the top results",
            Kind::Lookup => "Looks up a fact, definition or record by name",
            Kind::Custom => "",
        }
    }

    fn default_latency(self) -> DurationRange {
        let ms = Duration::from_millis;
        match self {
            Kind::Calculator => DurationRange {
                min: ms(1),
                max: ms(5),
            },
            Kind::Search => DurationRange {
                min: ms(20),
                max: ms(80),
            },
            Kind::Lookup => DurationRange {
                min: ms(10),
                max: ms(40),
            },
            Kind::Custom => CUSTOM_LATENCY,
        }
    }
}

/// One allowed tool, ready to run.
#[derive(Clone, Debug)]
struct Tool {
    name: String,
    kind: Kind,
    /// The definition the model sees.
    spec: ToolSpec,
    latency: DurationRange,
    output: Output,
    failure_probability: f64,
    error: String,
    /// The tool service, for `url` tools.
    service: Option<std::sync::Arc<Poster>>,
}

/// The allowed tools of an agent. Cheap to share (`Arc`) or clone; `run` takes `&self`.
#[derive(Clone, Debug)]
pub struct ToolBox {
    tools: Vec<Tool>,
}

impl ToolBox {
    /// Builds the allowed tools from a config (validated here too).
    pub fn new(config: &ToolsConfig) -> Result<ToolBox, String> {
        config.validate()?;
        let custom = config.custom();
        let mut tools: Vec<Tool> = Vec::new();
        for name in config.names() {
            if tools.iter().any(|t| t.name == name) {
                continue;
            }
            let defined = custom.iter().find(|t| t.name == name);
            let kind = match defined {
                Some(_) => Kind::Custom,
                None => Kind::from_name(&name),
            };
            if kind == Kind::Custom && defined.is_none() {
                return Err(format!("unknown tool `{name}`"));
            }
            let spec = defined
                .cloned()
                .unwrap_or_else(|| builtin_spec(&name, kind));
            let sim = config.simulate.get(&name).cloned().unwrap_or_default();
            let canned = config.outputs.get(&name).cloned().unwrap_or_default();
            let output = match sim.output() {
                Some(o) => o,
                None if !canned.is_empty() => Output::Canned(canned),
                None if kind == Kind::Custom => Output::Echo,
                None => Output::BuiltIn,
            };
            let service = match &output {
                Output::Service { url, timeout } => Some(std::sync::Arc::new(
                    Poster::new(url, http::HeaderMap::new(), *timeout, MAX_SERVICE_BYTES)
                        .map_err(|e| format!("agent.tools.simulate.{name}.url: {e}"))?,
                )),
                _ => None,
            };
            tools.push(Tool {
                latency: sim
                    .latency
                    .or_else(|| config.latency.get(&name).copied())
                    .unwrap_or_else(|| kind.default_latency()),
                error: sim
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("Error: {name} is unavailable, try again later")),
                failure_probability: sim.failure_probability,
                name,
                kind,
                spec,
                output,
                service,
            });
        }
        Ok(ToolBox { tools })
    }

    /// Tool definitions for the native protocol's `tools` field, with JSON-schema parameters:
    /// calculator takes `{"expression": string}`, search and lookup take `{"query": string}`,
    /// a defined tool its own schema.
    pub fn spec(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|t| t.spec.clone()).collect()
    }

    /// `(name, description)` of each allowed tool, for the text protocol's system prompt. A
    /// defined tool's description ends with its arguments' JSON schema, so a text-protocol
    /// model knows what `Action Input` to write (LangChain's structured-chat agents do the
    /// same).
    pub fn describe(&self) -> Vec<(String, String)> {
        self.tools
            .iter()
            .map(|t| {
                let d = match t.kind {
                    Kind::Custom => format!(
                        "{} {ARGS_MARK} {}",
                        t.spec.description.trim(),
                        t.spec.parameters
                    ),
                    _ => t.kind.description().to_string(),
                };
                (t.name.clone(), d)
            })
            .collect()
    }

    /// True if `name` is on the allow-list.
    pub fn allows(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t.name == name)
    }

    /// Runs tool `name` on `input` after sleeping its simulated latency (drawn with `rng`, so a
    /// seeded rng makes runs reproducible), or by calling its tool service. `input` is either
    /// raw text (text protocol's `Action Input:`, surrounding quotes tolerated) or the JSON
    /// arguments string (native protocol). A name outside the allow-list is refused at once,
    /// without sleeping or running. Tool errors (bad syntax, division by zero, missing
    /// argument, a simulated failure, a service's error) are results, never panics.
    ///
    /// The latency is drawn before the future is returned, so the future does not borrow `rng`
    /// and stays `Send` whatever rng is used.
    pub fn run(
        &self,
        name: &str,
        input: &str,
        rng: &mut impl Rng,
    ) -> impl Future<Output = ToolResult> + Send + 'static {
        let started = Instant::now();
        let name = name.to_string();
        let planned = match self.tools.iter().find(|t| t.name == name) {
            Some(tool) => Ok(plan(tool, input, rng)),
            None => Err(format!(
                "Error: tool `{name}` is not allowed; available tools: {}",
                self.tools
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        async move {
            let refused = |output| ToolResult {
                name: name.clone(),
                status: ToolStatus::Refused,
                output,
                started,
                latency: Duration::ZERO,
                http_status: None,
            };
            let (status, output, http_status) = match planned {
                Err(refusal) => return refused(refusal),
                Ok(Plan::Local(sleep, outcome)) => {
                    crate::units::sleep_for(sleep).await;
                    match outcome {
                        Ok(out) => (ToolStatus::Ok, out, None),
                        Err(e) => (ToolStatus::Error, e, None),
                    }
                }
                Ok(Plan::Service(poster, body)) => call_service(&poster, &body).await,
            };
            ToolResult {
                name,
                status,
                output,
                started,
                // What the agent really waited: the timer's 1 ms granularity rounds
                // the draw up.
                latency: started.elapsed(),
                http_status,
            }
        }
    }
}

/// The marker between a defined tool's description and its arguments' schema in the text
/// protocol's tool list (the mock reads the schema after it).
pub const ARGS_MARK: &str = "Arguments JSON schema:";

/// What a run will do, decided before its future exists.
enum Plan {
    /// Sleep, then give this output (or error text).
    Local(Duration, Result<String, String>),
    /// POST the body to the service.
    Service(std::sync::Arc<Poster>, Vec<u8>),
}

/// Draws the latency and the failure, then computes the output (or names the service call).
fn plan(tool: &Tool, input: &str, rng: &mut impl Rng) -> Plan {
    if let Some(poster) = &tool.service {
        let body = match serde_json::from_str::<Value>(input.trim()) {
            Ok(v) => serde_json::to_vec(&v).unwrap_or_default(),
            Err(_) => {
                serde_json::to_vec(&serde_json::json!({ "input": input })).unwrap_or_default()
            }
        };
        return Plan::Service(std::sync::Arc::clone(poster), body);
    }
    let sleep = draw(tool.latency, rng);
    if sim::fails(tool.failure_probability, rng) {
        return Plan::Local(sleep, Err(tool.error.clone()));
    }
    let outcome = run_sync(tool, input, rng).map_err(|e| format!("Error: {e}"));
    Plan::Local(sleep, outcome)
}

/// One call of a tool service: its body is the output of a 2xx, the error of anything else.
async fn call_service(poster: &Poster, body: &[u8]) -> (ToolStatus, String, Option<u16>) {
    match poster.post_any(body).await {
        Ok((status, bytes)) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if (200..300).contains(&status) {
                (ToolStatus::Ok, text, Some(status))
            } else {
                let excerpt: String = text.chars().take(500).collect();
                (
                    ToolStatus::Error,
                    format!("Error: the tool service answered HTTP {status}: {excerpt}"),
                    Some(status),
                )
            }
        }
        Err(GetError::Timeout(t)) => (
            ToolStatus::Error,
            format!("Error: the tool service did not answer within {t:?}"),
            None,
        ),
        Err(e) => (
            ToolStatus::Error,
            format!("Error: the tool service failed: {e}"),
            None,
        ),
    }
}

/// The definition of a built-in tool.
fn builtin_spec(name: &str, kind: Kind) -> ToolSpec {
    let arg = kind.arg();
    ToolSpec {
        name: name.to_string(),
        description: kind.description().to_string(),
        parameters: serde_json::json!({
            "type": "object",
            "properties": { arg: { "type": "string" } },
            "required": [arg],
            "additionalProperties": false,
        }),
    }
}

/// A uniform draw from `[min, max]`, in whole microseconds (finer would be lost to the timer).
fn draw(range: DurationRange, rng: &mut impl Rng) -> Duration {
    if range.max <= range.min {
        return range.min;
    }
    let lo = range.min.as_micros().min(u64::MAX as u128) as u64;
    let hi = range.max.as_micros().min(u64::MAX as u128) as u64;
    Duration::from_micros(rng.random_range(lo..=hi))
}

/// The tool's output for `input`, or the error message.
fn run_sync(tool: &Tool, input: &str, rng: &mut impl Rng) -> Result<String, String> {
    if tool.kind == Kind::Custom || !matches!(tool.output, Output::BuiltIn | Output::Canned(_)) {
        return custom_output(tool, input, rng);
    }
    let arg = argument(input, tool.kind.arg())?;
    if arg.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "{} is {} bytes long; the limit is {MAX_INPUT_BYTES}",
            tool.kind.arg(),
            arg.len()
        ));
    }
    match tool.kind {
        Kind::Calculator => calculate(&arg).map(format_number),
        _ => canned(tool, &arg),
    }
}

/// A defined tool's output (or a built-in's set by `[agent.tools.simulate]`): its arguments
/// are a JSON object (text-protocol input that is not JSON is taken as `{"input": text}`).
fn custom_output(tool: &Tool, input: &str, rng: &mut impl Rng) -> Result<String, String> {
    let text = input.trim();
    if text.len() > MAX_INPUT_BYTES * 16 {
        return Err(format!(
            "arguments are {} bytes long; the limit is {}",
            text.len(),
            MAX_INPUT_BYTES * 16
        ));
    }
    let args = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(_) => serde_json::json!({ "input": text }),
    };
    let key = fnv1a(&args.to_string());
    Ok(match &tool.output {
        Output::Canned(outs) => outs[(key % outs.len() as u64) as usize].clone(),
        Output::Template(t) => sim::fill(t, &args),
        Output::Tokens(range) => sim::generate(sim::draw_count(*range, rng), key),
        Output::Echo | Output::BuiltIn | Output::Service { .. } => sim::echo(&tool.name, &args),
    })
}

/// Extracts the argument: from a JSON object's `key` (or its only string field), from a JSON
/// string, or from raw text with matching surrounding quotes removed.
fn argument(input: &str, key: &str) -> Result<String, String> {
    let text = input.trim();
    if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            format!("arguments are not valid JSON ({e}); send {{\"{key}\": \"...\"}}")
        })?;
        let obj = value
            .as_object()
            .ok_or_else(|| format!("arguments must be a JSON object {{\"{key}\": \"...\"}}"))?;
        if let Some(v) = obj.get(key) {
            return v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{key}` must be a string"));
        }
        let strings: Vec<&str> = obj.values().filter_map(|v| v.as_str()).collect();
        return match strings.as_slice() {
            [only] => Ok(only.to_string()),
            _ => Err(format!("missing `{key}`; send {{\"{key}\": \"...\"}}")),
        };
    }
    if text.starts_with('"')
        && let Ok(serde_json::Value::String(s)) = serde_json::from_str(text)
    {
        return Ok(s);
    }
    let unquoted = ['"', '\'', '`']
        .iter()
        .find_map(|q| text.strip_prefix(*q).and_then(|t| t.strip_suffix(*q)))
        .unwrap_or(text);
    Ok(unquoted.trim().to_string())
}

/// Canned text for search and lookup, derived only from the (normalized) query.
fn canned(tool: &Tool, query: &str) -> Result<String, String> {
    let q = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if q.is_empty() {
        return Err(format!(
            "empty {}; say what to {}",
            tool.kind.arg(),
            tool.name
        ));
    }
    let h = fnv1a(&q.to_lowercase());
    if let Output::Canned(outputs) = &tool.output {
        return Ok(outputs[(h % outputs.len() as u64) as usize].clone());
    }
    Ok(match tool.kind {
        Kind::Search => format!(
            "Top results for \"{q}\": 1. {q} - overview and key facts (result #{a}). 2. Recent news about {q} ({b} articles). 3. Frequently asked questions about {q}.",
            a = h % 97 + 1,
            b = (h >> 8) % 50 + 2,
        ),
        _ => format!(
            "Record for \"{q}\": id {id:08x}; category {cat}; last updated {days} days ago.",
            id = h as u32,
            cat = ["person", "place", "product", "concept", "event"][(h >> 32) as usize % 5],
            days = (h >> 16) % 365,
        ),
    })
}

/// FNV-1a: a tiny hash that is stable across Rust versions (std's hasher is not), so canned
/// outputs stay the same from run to run and release to release.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
