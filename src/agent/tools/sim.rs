//! Simulated behaviour of one tool, `[agent.tools.simulate.NAME]`: how long it takes, how often
//! it fails and with what error text (which reaches the model as the tool result, as a real
//! agent passes a tool's error on), and what it returns: canned outputs picked by the input,
//! a template filled from the call's arguments, text generated to a size in tokens (retrieval
//! results, order records), or a real tool service's reply (`url`).

use std::time::Duration;

use rand::{Rng, RngExt};
use serde::Deserialize;
use serde_json::Value;

use crate::units::{CountRange, DurationRange, HumanDuration};

/// Default timeout of a `url` tool.
pub const DEFAULT_SERVICE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most output tokens a generated output may have.
const MAX_OUTPUT_TOKENS: u64 = 100_000;

/// Words of generated outputs: each is one token with its leading space in o200k and cl100k,
/// so a generated output of n words is close to n tokens (the recorded count is the
/// tokenizer's, not this estimate).
const WORDS: &[&str] = &[
    "the",
    "order",
    "customer",
    "status",
    "shipped",
    "delivery",
    "date",
    "item",
    "price",
    "refund",
    "policy",
    "account",
    "return",
    "days",
    "support",
    "ticket",
    "product",
    "number",
    "total",
    "address",
    "payment",
    "card",
    "store",
    "credit",
    "warranty",
    "service",
    "days",
    "week",
    "month",
    "available",
    "stock",
    "size",
    "color",
    "model",
    "record",
    "note",
    "team",
    "update",
    "request",
    "review",
];

/// `[agent.tools.simulate.NAME]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSim {
    /// Latency, drawn uniformly (`"50ms..400ms"`); default: the built-in's, or 10ms..50ms.
    pub latency: Option<DurationRange>,
    /// Chance in `[0, 1]` that a call fails (default 0).
    #[serde(default)]
    pub failure_probability: f64,
    /// The text a failed call returns to the model (default `Error: NAME is unavailable`).
    pub error: Option<String>,
    /// Canned outputs: the call's input picks one, deterministically.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// An output template: `{field}` is replaced by the call's argument `field` (a dotted path
    /// reaches into nested objects: `{address.city}`).
    pub template: Option<String>,
    /// Generated output of this many tokens, drawn uniformly (`"200..=1500"`).
    pub output_tokens: Option<CountRange>,
    /// A real tool service: the call's arguments are POSTed to it as JSON, its reply body is
    /// the output (a non-2xx status or a timeout is a failed call).
    pub url: Option<String>,
    /// Timeout of a `url` call (default 10s).
    pub timeout: Option<HumanDuration>,
}

/// How a tool produces its output.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// The built-in's own logic (calculator computes; search and lookup describe the query).
    BuiltIn,
    /// A short JSON acknowledgement with the arguments (a custom tool with no output set).
    Echo,
    /// Picked by the input.
    Canned(Vec<String>),
    /// Filled from the arguments.
    Template(String),
    /// Generated to a size.
    Tokens(CountRange),
    /// POSTed to a service.
    Service { url: String, timeout: Duration },
}

impl ToolSim {
    /// Checks the table; the error is (key under `simulate.NAME`, value, what is accepted).
    pub fn validate(&self, properties: Option<&Value>) -> Result<(), (String, String, String)> {
        let p = self.failure_probability;
        if !(0.0..=1.0).contains(&p) {
            return Err((
                "failure_probability".into(),
                p.to_string(),
                "a probability from 0 to 1".into(),
            ));
        }
        let modes = [
            !self.outputs.is_empty(),
            self.template.is_some(),
            self.output_tokens.is_some(),
            self.url.is_some(),
        ];
        if modes.iter().filter(|m| **m).count() > 1 {
            return Err((
                "outputs".into(),
                "(several output kinds)".into(),
                "one of `outputs`, `template`, `output_tokens` or `url`".into(),
            ));
        }
        if let Some(r) = self.output_tokens
            && (r.max > MAX_OUTPUT_TOKENS || r.max == 0)
        {
            return Err((
                "output_tokens".into(),
                format!("\"{r}\""),
                format!("a token range from 1 to {MAX_OUTPUT_TOKENS}, such as \"200..=1500\""),
            ));
        }
        if let Some(url) = &self.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err((
                "url".into(),
                format!("\"{url}\""),
                "an http:// or https:// URL of the tool service".into(),
            ));
        }
        if self.timeout.is_some() && self.url.is_none() {
            return Err((
                "timeout".into(),
                "(set)".into(),
                "a timeout only with `url` (a simulated tool's time is `latency`)".into(),
            ));
        }
        if let Some(t) = &self.template {
            for field in placeholders(t) {
                let top = field.split('.').next().unwrap_or(field);
                let known = properties
                    .and_then(Value::as_object)
                    .is_none_or(|p| p.contains_key(top));
                if !known {
                    return Err((
                        "template".into(),
                        format!("\"{t}\""),
                        format!(
                            "placeholders that name the tool's parameters; `{{{field}}}` is not one"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The output kind this table sets, if any.
    pub fn output(&self) -> Option<Output> {
        if !self.outputs.is_empty() {
            Some(Output::Canned(self.outputs.clone()))
        } else if let Some(t) = &self.template {
            Some(Output::Template(t.clone()))
        } else if let Some(r) = self.output_tokens {
            Some(Output::Tokens(r))
        } else {
            self.url.as_ref().map(|url| Output::Service {
                url: url.clone(),
                timeout: self.timeout.map_or(DEFAULT_SERVICE_TIMEOUT, |t| t.get()),
            })
        }
    }
}

/// The `{field}` placeholders of a template.
fn placeholders(t: &str) -> impl Iterator<Item = &str> {
    t.split('{').skip(1).filter_map(|rest| {
        let (field, _) = rest.split_once('}')?;
        let ok = !field.is_empty()
            && field
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        ok.then_some(field)
    })
}

/// A template filled from the arguments (a JSON object). A missing argument reads as
/// `unknown`; strings are inserted without quotes, other values as JSON.
pub fn fill(template: &str, args: &Value) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.split_once('}') {
            Some((field, tail)) if placeholders(&rest[open..]).next() == Some(field) => {
                let v = field.split('.').try_fold(args, |v, k| v.get(k));
                match v {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                    None => out.push_str("unknown"),
                }
                rest = tail;
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Generated text of about `n` tokens, picked by `seed`: numbered result lines, as a search or
/// retrieval tool returns them.
pub fn generate(n: u64, seed: u64) -> String {
    let mut out = String::with_capacity(n as usize * 7);
    let mut h = seed | 1;
    let mut line = 0;
    let mut words = 0;
    while words < n {
        if words % 40 == 0 {
            line += 1;
            if line > 1 {
                out.push('\n');
            }
            out.push_str(&format!("{line}."));
            words += 2;
            continue;
        }
        // xorshift: cheap, stable, enough to vary the words.
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        out.push(' ');
        out.push_str(WORDS[(h % WORDS.len() as u64) as usize]);
        words += 1;
    }
    out
}

/// The echo output of a custom tool with no output set.
pub fn echo(name: &str, args: &Value) -> String {
    serde_json::json!({ "tool": name, "status": "ok", "arguments": args }).to_string()
}

/// Draws whether this call fails (only when the probability is above zero, so a tool that
/// never fails draws exactly what it did before failures existed).
pub fn fails(p: f64, rng: &mut impl Rng) -> bool {
    p > 0.0 && rng.random::<f64>() < p
}

/// Draws a count from a range.
pub fn draw_count(r: CountRange, rng: &mut impl Rng) -> u64 {
    if r.max <= r.min {
        r.min
    } else {
        rng.random_range(r.min..=r.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_from_arguments() {
        let args = serde_json::json!({"id": "A-17", "n": 3, "address": {"city": "Hue"}});
        for (t, want) in [
            ("Order {id}: {n} items", "Order A-17: 3 items"),
            ("to {address.city}", "to Hue"),
            ("{missing} {id}", "unknown A-17"),
            ("json {{ \"a\": {n} }}", "json {{ \"a\": 3 }}"),
            ("no placeholders", "no placeholders"),
        ] {
            assert_eq!(fill(t, &args), want, "{t}");
        }
    }

    #[test]
    fn template_placeholders_must_name_parameters() {
        let props = serde_json::json!({"id": {"type": "string"}});
        let sim = |t: &str| ToolSim {
            template: Some(t.to_string()),
            ..ToolSim::default()
        };
        assert!(sim("Order {id}").validate(Some(&props)).is_ok());
        let err = sim("Order {oid}").validate(Some(&props)).unwrap_err();
        assert_eq!(err.0, "template");
        assert!(err.2.contains("{oid}"), "{err:?}");
    }

    #[test]
    fn generated_outputs_have_about_the_drawn_size() {
        let tok = crate::tokens::Tokenizer::for_model("gpt-4.1");
        for n in [50, 200, 1500] {
            let text = generate(n, 7);
            let got = tok.count(&text);
            assert!(got.abs_diff(n) <= n / 10 + 5, "{n}: {got}");
            assert_eq!(text, generate(n, 7));
        }
    }
}
