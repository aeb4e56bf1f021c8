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
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn calculator_table() {
        for (expr, want) in [
            ("2+3", Ok(5.0)),
            ("2 + 3 * 4", Ok(14.0)),
            ("(2 + 3) * 4", Ok(20.0)),
            ("10 / 4", Ok(2.5)),
            ("10 - 4 - 3", Ok(3.0)),
            ("100 / 10 / 5", Ok(2.0)),
            ("-3 * -2", Ok(6.0)),
            ("-(2 + 3)", Ok(-5.0)),
            ("--4", Ok(4.0)),
            ("+4", Ok(4.0)),
            ("1.5 * 2", Ok(3.0)),
            (".5 + 2.", Ok(2.5)),
            ("1e3 / 8", Ok(125.0)),
            ("  ((1))  ", Ok(1.0)),
            ("0.1 + 0.2", Ok(0.1 + 0.2)),
            ("1/0", Err("division by zero")),
            ("1/(2-2)", Err("division by zero")),
            ("", Err("unexpected end")),
            ("2 +", Err("unexpected end")),
            ("(2 + 3", Err("missing `)`")),
            ("2 + 3)", Err("unexpected `)`")),
            ("2 ^ 3", Err("unexpected `^`")),
            ("two + 3", Err("unexpected `t`")),
            ("1..2", Err("unexpected `.`")),
            ("2 3", Err("unexpected `3`")),
            ("3 × 4", Err("unexpected `×`")),
            ("1e308 * 10", Err("overflows")),
        ] {
            match (calculate(expr), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{expr}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{expr}: {e}"),
                (got, w) => panic!("{expr}: got {got:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn calculator_survives_hostile_nesting() {
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(calculate(&deep).unwrap_err().contains("nested"));
        let minus = "-".repeat(100_000) + "1";
        assert!(calculate(&minus).unwrap_err().contains("nested"));
        let ok = format!("{}7{}", "(".repeat(60), ")".repeat(60));
        assert_eq!(calculate(&ok), Ok(7.0));
    }

    #[test]
    fn arguments_from_text_or_json() {
        for (input, want) in [
            ("2+2", Ok("2+2")),
            ("  \"2+2\" ", Ok("2+2")),
            ("'2+2'", Ok("2+2")),
            (r#"{"expression": "2+2"}"#, Ok("2+2")),
            (r#"{"expr": "2+2"}"#, Ok("2+2")),
            (r#""a \"quoted\" one""#, Ok("a \"quoted\" one")),
            (r#"{"expression": 4}"#, Err("must be a string")),
            (r#"{"a": "1", "b": "2"}"#, Err("missing `expression`")),
            (r#"{"expression": "#, Err("not valid JSON")),
        ] {
            let got = argument(input, "expression");
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{input}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{input}: {e}"),
                (g, w) => panic!("{input}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn runs_tools_with_simulated_latency() {
        let mut cfg = ToolsConfig::default();
        cfg.latency
            .insert("calculator".into(), "20ms..80ms".parse().unwrap());
        let tb = ToolBox::new(&cfg).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let t0 = Instant::now();
        let r = tb
            .run("calculator", r#"{"expression":"(2+3)*4"}"#, &mut rng)
            .await;
        assert_eq!(
            (r.status.clone(), r.output.as_str()),
            (ToolStatus::Ok, "20")
        );
        assert!((Duration::from_millis(20)..=Duration::from_millis(81)).contains(&r.latency));
        // Paused time: the clock moved by exactly the simulated latency.
        assert_eq!(t0.elapsed(), r.latency);
        assert_eq!(r.record().latency, r.latency);

        let r = tb.run("calculator", "10/4", &mut rng).await;
        assert_eq!(r.output, "2.5");
        let r = tb.run("calculator", "1/0", &mut rng).await;
        assert_eq!(r.status, ToolStatus::Error);
        assert!(r.output.contains("division by zero"), "{}", r.output);

        // Search and lookup: deterministic, derived from the query, whitespace-insensitive.
        let a = tb.run("search", "weather in Hanoi", &mut rng).await;
        let b = tb
            .run("search", r#"{"query":"weather  in Hanoi"}"#, &mut rng)
            .await;
        let c = tb.run("search", "weather in Paris", &mut rng).await;
        assert_eq!(a.status, ToolStatus::Ok);
        assert_eq!(a.output, b.output);
        assert_ne!(a.output, c.output);
        assert!(a.output.contains("weather in Hanoi"));
        let l = tb.run("lookup", "Ada Lovelace", &mut rng).await;
        assert!(
            l.output.starts_with("Record for \"Ada Lovelace\""),
            "{}",
            l.output
        );
        let e = tb.run("lookup", r#"{"query": "  "}"#, &mut rng).await;
        assert_eq!(e.status, ToolStatus::Error);
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_names_outside_the_allow_list_without_running() {
        let cfg = ToolsConfig {
            allowed: vec!["calculator".into()],
            ..Default::default()
        };
        let tb = ToolBox::new(&cfg).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for name in ["search", "delete_all", "exec", "Calculator", ""] {
            let t0 = Instant::now();
            let r = tb.run(name, "anything", &mut rng).await;
            assert_eq!(r.status, ToolStatus::Refused, "{name}");
            assert_eq!((r.latency, t0.elapsed()), (Duration::ZERO, Duration::ZERO));
            assert!(r.output.contains("not allowed"));
            assert_eq!(r.record().status, ToolStatus::Refused);
        }
        assert!(tb.allows("calculator") && !tb.allows("search"));
    }

    #[tokio::test(start_paused = true)]
    async fn run_future_is_send_and_does_not_borrow_the_rng() {
        let tb = ToolBox::new(&ToolsConfig::default()).unwrap();
        // A thread-local rng is not Send; the future must not hold it.
        let fut = tb.run("calculator", "6*7", &mut rand::rng());
        let r = tokio::spawn(fut).await.unwrap();
        assert_eq!((r.status, r.output.as_str()), (ToolStatus::Ok, "42"));
    }

    #[test]
    fn spec_and_describe_follow_the_allow_list() {
        let tb = ToolBox::new(&ToolsConfig::default()).unwrap();
        let spec = tb.spec();
        let names: Vec<&str> = spec.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, KNOWN_TOOLS);
        assert_eq!(spec[0].parameters["required"][0], "expression");
        assert_eq!(
            spec[0].parameters["properties"]["expression"]["type"],
            "string"
        );
        assert_eq!(spec[1].parameters["required"][0], "query");
        assert_eq!(tb.describe().len(), 3);
        assert_eq!(tb.describe()[2].0, "lookup");
    }

    #[tokio::test(start_paused = true)]
    async fn config_from_toml_with_canned_outputs() {
        let cfg: ToolsConfig = toml::from_str(
            r#"
            allowed = ["search"]
            latency = { search = "5ms" }
            outputs = { search = ["alpha", "beta", "gamma"] }
            "#,
        )
        .unwrap();
        let tb = ToolBox::new(&cfg).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let r = tb.run("search", "rust", &mut rng).await;
        assert_eq!(r.latency, Duration::from_millis(5));
        assert!(["alpha", "beta", "gamma"].contains(&r.output.as_str()));
        assert_eq!(tb.run("search", "rust", &mut rng).await.output, r.output);

        for (toml_text, key) in [
            ("allowed = [\"exec\"]", "`exec`"),
            ("latency = { shell = \"1ms\" }", "`shell`"),
            ("outputs = { calculator = [\"4\"] }", "calculator"),
            ("outputs = { search = [] }", "empty"),
        ] {
            let cfg: ToolsConfig = toml::from_str(toml_text).unwrap();
            let err = ToolBox::new(&cfg).unwrap_err();
            assert!(err.contains(key), "{toml_text}: {err}");
        }
        assert!(toml::from_str::<ToolsConfig>("allow = []").is_err());
        assert!(toml::from_str::<ToolsConfig>("latency = { search = \"fast\" }").is_err());
    }
}
