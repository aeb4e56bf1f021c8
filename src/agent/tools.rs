//! Simulated in-process tools: a calculator that really computes, and `search` and `lookup`
//! that return canned text derived deterministically from their input, each after a simulated
//! latency drawn from its configured range.
//!
//! The [`ToolBox`] enforces the allow-list: a name outside it is refused and never run.
//! Detecting dangerous names (`exec`, `os.system` ...) is the sanitizer's job; an unknown name
//! is refused here either way.
//!
//! User-facing as:
//! ```toml
//! [agent.tools]
//! allowed = ["calculator", "search", "lookup"]
//! latency = { calculator = "1ms..5ms", search = "20ms..80ms", lookup = "10ms..40ms" }
//! outputs = { search = ["canned answer one", "canned answer two"] }   # optional
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::chat::ToolSpec;
use crate::record::{ToolRecord, ToolStatus};
use crate::units::DurationRange;

/// Names of the tools this module can simulate.
pub const KNOWN_TOOLS: [&str; 3] = ["calculator", "search", "lookup"];

/// Deepest parenthesis nesting the calculator accepts (keeps recursion bounded on hostile input).
const MAX_NESTING: usize = 64;
/// Longest expression or query accepted, in bytes.
const MAX_INPUT_BYTES: usize = 4096;

/// Tool settings, user-facing as `[agent.tools]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Tools the agent may run; any other name is refused. Default: all of [`KNOWN_TOOLS`].
    pub allowed: Vec<String>,
    /// Simulated latency per tool (`"20ms..80ms"`, or one value); tools not listed use the
    /// defaults: calculator 1ms..5ms, search 20ms..80ms, lookup 10ms..40ms.
    pub latency: BTreeMap<String, DurationRange>,
    /// Canned outputs per tool (search and lookup only): the input picks one, deterministically.
    /// Without them the output is generated from the input.
    pub outputs: BTreeMap<String, Vec<String>>,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        ToolsConfig {
            allowed: KNOWN_TOOLS.iter().map(|s| s.to_string()).collect(),
            latency: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }
}

impl ToolsConfig {
    /// Checks names; the error names the key (`agent.tools.*`) and the tools that exist.
    pub fn validate(&self) -> Result<(), String> {
        let known = || KNOWN_TOOLS.join(", ");
        for name in &self.allowed {
            if !KNOWN_TOOLS.contains(&name.as_str()) {
                return Err(format!(
                    "agent.tools.allowed lists `{name}`, which is not a simulated tool; use some of: {}",
                    known()
                ));
            }
        }
        for name in self.latency.keys() {
            if !KNOWN_TOOLS.contains(&name.as_str()) {
                return Err(format!(
                    "agent.tools.latency has a key `{name}`, which is not a simulated tool; use some of: {}",
                    known()
                ));
            }
        }
        for (name, outs) in &self.outputs {
            if name != "search" && name != "lookup" {
                return Err(format!(
                    "agent.tools.outputs has a key `{name}`; canned outputs exist only for search and lookup (the calculator computes)"
                ));
            }
            if outs.is_empty() {
                return Err(format!(
                    "agent.tools.outputs.{name} is an empty list; give at least one output or remove the key"
                ));
            }
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
    /// granularity (zero for a refusal).
    pub latency: Duration,
}

impl ToolResult {
    /// The record the conversation keeps for this run.
    pub fn record(&self) -> ToolRecord {
        ToolRecord {
            name: self.name.clone(),
            started: self.started,
            latency: self.latency,
            status: self.status.clone(),
        }
    }
}

/// Which simulated tool a name maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Calculator,
    Search,
    Lookup,
}

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        match name {
            "calculator" => Some(Kind::Calculator),
            "search" => Some(Kind::Search),
            "lookup" => Some(Kind::Lookup),
            _ => None,
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Kind::Calculator => "expression",
            Kind::Search | Kind::Lookup => "query",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Kind::Calculator => {
                "Evaluates an arithmetic expression with + - * / parentheses and decimals, e.g. (2.5 + 3) * 4"
            }
            Kind::Search => "Searches the web and returns a short summary of the top results",
            Kind::Lookup => "Looks up a fact, definition or record by name",
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
        }
    }
}

/// One allowed tool, ready to run.
#[derive(Clone, Debug)]
struct Tool {
    name: String,
    kind: Kind,
    latency: DurationRange,
    outputs: Vec<String>,
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
        let mut tools: Vec<Tool> = Vec::new();
        for name in &config.allowed {
            if tools.iter().any(|t| &t.name == name) {
                continue;
            }
            let kind = Kind::from_name(name).ok_or_else(|| format!("unknown tool `{name}`"))?;
            tools.push(Tool {
                name: name.clone(),
                kind,
                latency: config
                    .latency
                    .get(name)
                    .copied()
                    .unwrap_or_else(|| kind.default_latency()),
                outputs: config.outputs.get(name).cloned().unwrap_or_default(),
            });
        }
        Ok(ToolBox { tools })
    }

    /// Tool definitions for the native protocol's `tools` field, with JSON-schema parameters:
    /// calculator takes `{"expression": string}`, search and lookup take `{"query": string}`.
    pub fn spec(&self) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .map(|t| {
                let arg = t.kind.arg();
                ToolSpec {
                    name: t.name.clone(),
                    description: t.kind.description().to_string(),
                    parameters: serde_json::json!({
                        "type": "object",
                        "properties": { arg: { "type": "string" } },
                        "required": [arg],
                        "additionalProperties": false,
                    }),
                }
            })
            .collect()
    }

    /// `(name, description)` of each allowed tool, for the text protocol's system prompt.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.tools
            .iter()
            .map(|t| (t.name.clone(), t.kind.description().to_string()))
            .collect()
    }

    /// True if `name` is on the allow-list.
    pub fn allows(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t.name == name)
    }

    /// Runs tool `name` on `input` after sleeping its simulated latency (drawn with `rng`, so a
    /// seeded rng makes runs reproducible). `input` is either raw text (text protocol's
    /// `Action Input:`, surrounding quotes tolerated) or the JSON arguments string (native
    /// protocol). A name outside the allow-list is refused at once, without sleeping or running.
    /// Tool errors (bad syntax, division by zero, missing argument) are results, never panics.
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
            Some(tool) => Ok((draw(tool.latency, rng), run_sync(tool, input))),
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
            match planned {
                Err(refusal) => ToolResult {
                    name,
                    status: ToolStatus::Refused,
                    output: refusal,
                    started,
                    latency: Duration::ZERO,
                },
                Ok((sleep, outcome)) => {
                    crate::units::sleep_for(sleep).await;
                    let (status, output) = match outcome {
                        Ok(out) => (ToolStatus::Ok, out),
                        Err(e) => (ToolStatus::Error, format!("Error: {e}")),
                    };
                    ToolResult {
                        name,
                        status,
                        output,
                        started,
                        // What the agent really waited: the timer's 1 ms granularity rounds
                        // the draw up.
                        latency: started.elapsed(),
                    }
                }
            }
        }
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
fn run_sync(tool: &Tool, input: &str) -> Result<String, String> {
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
        Kind::Search | Kind::Lookup => canned(tool, &arg),
    }
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
    if !tool.outputs.is_empty() {
        return Ok(tool.outputs[(h % tool.outputs.len() as u64) as usize].clone());
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

/// Prints integers without a fraction (`4`, not `4.0`) and other values in shortest form.
fn format_number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Evaluates an arithmetic expression: `+ - * /`, parentheses, unary minus and plus, decimals
/// (`.5`, `2.`, `1e3` are accepted). Division by zero, a non-finite result and bad syntax are
/// errors with the position.
pub fn calculate(expression: &str) -> Result<f64, String> {
    let mut p = Parser {
        src: expression.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let value = p.expr()?;
    p.skip_ws();
    if p.pos < p.src.len() {
        return Err(p.unexpected());
    }
    if !value.is_finite() {
        return Err(format!("`{expression}` overflows"));
    }
    Ok(value)
}

/// Recursive-descent parser over bytes (every token is ASCII, so byte offsets are safe):
/// `expr = term (("+"|"-") term)*`, `term = unary (("*"|"/") unary)*`,
/// `unary = ("-"|"+") unary | primary`, `primary = number | "(" expr ")"`.
struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.get(self.pos).copied()
    }

    fn unexpected(&self) -> String {
        match std::str::from_utf8(&self.src[self.pos..])
            .ok()
            .and_then(|s| s.chars().next())
        {
            Some(c) => format!("unexpected `{c}` at position {}", self.pos),
            None => "unexpected end of expression".to_string(),
        }
    }

    fn expr(&mut self) -> Result<f64, String> {
        let mut acc = self.term()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.pos += 1;
            let rhs = self.term()?;
            acc = if op == b'+' { acc + rhs } else { acc - rhs };
        }
        Ok(acc)
    }

    fn term(&mut self) -> Result<f64, String> {
        let mut acc = self.unary()?;
        while let Some(op @ (b'*' | b'/')) = self.peek() {
            self.pos += 1;
            let rhs = self.unary()?;
            if op == b'*' {
                acc *= rhs;
            } else if rhs == 0.0 {
                return Err("division by zero".to_string());
            } else {
                acc /= rhs;
            }
        }
        Ok(acc)
    }

    fn unary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(op @ (b'-' | b'+')) => {
                self.enter()?;
                self.pos += 1;
                let v = self.unary()?;
                self.depth -= 1;
                Ok(if op == b'-' { -v } else { v })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(b'(') => {
                self.enter()?;
                self.pos += 1;
                let v = self.expr()?;
                if self.peek() != Some(b')') {
                    return Err(format!("missing `)`: {}", self.unexpected()));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            _ => Err(self.unexpected()),
        }
    }

    /// Counts one level of nesting, refusing input nested deeper than [`MAX_NESTING`].
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!(
                "expression nested deeper than {MAX_NESTING} levels"
            ));
        }
        Ok(())
    }

    fn number(&mut self) -> Result<f64, String> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            while p.pos < p.src.len() && p.src[p.pos].is_ascii_digit() {
                p.pos += 1;
            }
        };
        digits(self);
        if self.src.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            digits(self);
        }
        if matches!(self.src.get(self.pos), Some(b'e' | b'E'))
            && self
                .src
                .get(self.pos + 1)
                .is_some_and(|c| c.is_ascii_digit() || *c == b'-' || *c == b'+')
        {
            self.pos += 2;
            digits(self);
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("");
        text.parse::<f64>()
            .map_err(|_| format!("`{text}` at position {start} is not a number"))
    }
}

#[cfg(test)]
mod tests;
