//! `bench sanitize [FILE|-] [--scenario FILE]`: screens each input through the sanitizer and
//! prints one JSON verdict per input; with labelled inputs, also measures detection quality.
//!
//! # Input
//! One input per line. A line starting with `{` is JSON with a string `text` field and optional:
//! - `label`: `"malicious"` / `"benign"`, a boolean or `1` / `0` (true and 1 mean malicious);
//! - `channel`: where the text enters, which decides the entry point: `"user"` (the default:
//!   [`Sanitizer::screen_input`]), `"tool"` (a tool's output, the indirect-injection path:
//!   [`Sanitizer::screen_tool_output`]) or `"memory"` (recalled memory:
//!   [`Sanitizer::screen_memory`]). The older `source` key (`"input"`, `"tool_output"`) is
//!   still read;
//! - `category`: any string (the kind of attack or look-alike), only for the per-category table.
//!
//! Any other non-empty line is screened as plain user input (unlabelled). Blank lines are
//! skipped.
//!
//! # Output (stdout is data)
//! One JSON object per input, in order:
//! `{"line": 3, "label": "malicious", "safe": false, "score": 0.8,
//!   "threats": [{"kind": "injection", "pattern": "ignore_instructions"}], "cleaned": "..."}`
//! (`label` only when the input had one). When at least one input was labelled, one last object
//! follows whose only key is `"metrics"`, so a consumer tells it apart by that key:
//! `{"metrics": {"labelled": 120, "tp": .., "fp": .., "tn": .., "fn": .., "precision": ..,
//!   "recall": .., "f1": .., "false_positive_rate": .., "accuracy": ..,
//!   "by_channel": {"tool": {"labelled": .., "tp": .., ...}, ...}, "by_category": {...}}}`
//! (`by_channel` only when some labelled line named its channel or source, `by_category` only
//! when some labelled line had a category).
//! "Positive" means malicious; the sanitizer predicts positive when its verdict is unsafe.
//! A ratio whose denominator is zero is `null`. The same figures go to stderr as a table.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::agent::sanitizer::{Sanitizer, SanitizerConfig, Threat};
use crate::cli::EXIT_OK;
use crate::cli::SanitizeArgs;

/// Runs `bench sanitize`.
pub fn run(args: SanitizeArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.scenario {
        Some(path) => load_config(path)?,
        None => SanitizerConfig::default(),
    };
    let sanitizer = Sanitizer::new(&config).with_context(|| match &args.scenario {
        Some(path) => format!("{}: key agent.sanitizer", path.display()),
        None => "default sanitizer settings".to_string(),
    })?;
    let (reader, name): (Box<dyn BufRead>, String) = match &args.input {
        Some(path) if path.as_os_str() != "-" => {
            let file = fs::File::open(path)
                .with_context(|| format!("cannot open input file {}", path.display()))?;
            (Box::new(BufReader::new(file)), path.display().to_string())
        }
        _ => (
            Box::new(BufReader::new(io::stdin().lock())),
            "<stdin>".to_string(),
        ),
    };
    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::new(stdout);
    let metrics = screen_stream(&sanitizer, reader, &mut out, &name)?;
    out.flush().context("cannot write to stdout")?;
    if let Some(m) = metrics {
        eprint!("{}", m.table());
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Reads the `[agent.sanitizer]` table of a scenario file (absent: defaults). Only that table
/// is parsed, so the rest of the scenario need not be valid for this command.
pub fn load_config(path: &Path) -> anyhow::Result<SanitizerConfig> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read scenario file {}", path.display()))?;
    config_from_scenario_text(&text).with_context(|| format!("scenario file {}", path.display()))
}

/// [`load_config`] on a scenario's text.
pub fn config_from_scenario_text(text: &str) -> anyhow::Result<SanitizerConfig> {
    let table: toml::Table = toml::from_str(text).context("not valid TOML")?;
    let Some(agent) = table.get("agent") else {
        return Ok(SanitizerConfig::default());
    };
    let Some(agent) = agent.as_table() else {
        bail!("key `agent` must be a table");
    };
    let Some(sanitizer) = agent.get("sanitizer") else {
        return Ok(SanitizerConfig::default());
    };
    sanitizer
        .clone()
        .try_into::<SanitizerConfig>()
        .context("key `agent.sanitizer` is invalid")
}

/// Ground truth of a labelled input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// An attack: the sanitizer should flag it.
    Malicious,
    /// Legitimate traffic: the sanitizer should pass it.
    Benign,
}

/// One output line.
#[derive(Serialize)]
struct VerdictLine<'a> {
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<Label>,
    safe: bool,
    score: f64,
    threats: &'a [Threat],
    cleaned: &'a str,
}

/// Confusion counts over labelled inputs, and the ratios derived from them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Labelled inputs seen.
    pub labelled: u64,
    /// Malicious and flagged.
    pub tp: u64,
    /// Benign but flagged.
    pub fp: u64,
    /// Benign and passed.
    pub tn: u64,
    /// Malicious but passed.
    #[serde(rename = "fn")]
    pub fn_: u64,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Metrics {
    /// Adds one labelled verdict.
    pub fn add(&mut self, label: Label, flagged: bool) {
        self.labelled += 1;
        match (label, flagged) {
            (Label::Malicious, true) => self.tp += 1,
            (Label::Malicious, false) => self.fn_ += 1,
            (Label::Benign, true) => self.fp += 1,
            (Label::Benign, false) => self.tn += 1,
        }
    }
    /// Flagged inputs that were malicious.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }
    /// Malicious inputs that were flagged.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> Option<f64> {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
    /// Benign inputs that were flagged.
    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(self.fp, self.fp + self.tn)
    }
    /// Inputs classified right.
    pub fn accuracy(&self) -> Option<f64> {
        ratio(self.tp + self.tn, self.labelled)
    }

    fn fields(&self) -> serde_json::Value {
        serde_json::json!({
            "labelled": self.labelled,
            "tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn_,
            "precision": self.precision(),
            "recall": self.recall(),
            "f1": self.f1(),
            "false_positive_rate": self.false_positive_rate(),
            "accuracy": self.accuracy(),
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "metrics": self.fields() })
    }

    /// The figures as an aligned table for people.
    pub fn table(&self) -> String {
        let f = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        format!(
            "labelled inputs     {}\n\
             true positives      {}\n\
             false positives     {}\n\
             true negatives      {}\n\
             false negatives     {}\n\
             precision           {}\n\
             recall              {}\n\
             F1                  {}\n\
             false-positive rate {}\n\
             accuracy            {}\n",
            self.labelled,
            self.tp,
            self.fp,
            self.tn,
            self.fn_,
            f(self.precision()),
            f(self.recall()),
            f(self.f1()),
            f(self.false_positive_rate()),
            f(self.accuracy()),
        )
    }
}

/// Detection quality over a labelled stream: overall, and per channel and per category for the
/// lines that carried them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Every labelled line.
    pub overall: Metrics,
    /// By channel (`user`, `tool`, `memory`), for lines that named their channel or source.
    pub by_channel: BTreeMap<String, Metrics>,
    /// By the lines' `category` field.
    pub by_category: BTreeMap<String, Metrics>,
}

impl Evaluation {
    fn json(&self) -> serde_json::Value {
        let mut value = self.overall.json();
        let groups = |map: &BTreeMap<String, Metrics>| {
            serde_json::Value::Object(
                map.iter()
                    .map(|(k, m)| (k.clone(), m.fields()))
                    .collect::<serde_json::Map<_, _>>(),
            )
        };
        if !self.by_channel.is_empty() {
            value["metrics"]["by_channel"] = groups(&self.by_channel);
        }
        if !self.by_category.is_empty() {
            value["metrics"]["by_category"] = groups(&self.by_category);
        }
        value
    }

    /// The overall table, then one row per channel and per category.
    pub fn table(&self) -> String {
        let mut out = self.overall.table();
        let f = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        for (title, map) in [
            ("channel", &self.by_channel),
            ("category", &self.by_category),
        ] {
            if map.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "\n{title:<20} {:>5} {:>4} {:>4} {:>4} {:>4} {:>9} {:>6} {:>6} {:>6}\n",
                "n", "tp", "fp", "tn", "fn", "precision", "recall", "F1", "FPR"
            ));
            for (name, m) in map {
                out.push_str(&format!(
                    "{name:<20} {:>5} {:>4} {:>4} {:>4} {:>4} {:>9} {:>6} {:>6} {:>6}\n",
                    m.labelled,
                    m.tp,
                    m.fp,
                    m.tn,
                    m.fn_,
                    f(m.precision()),
                    f(m.recall()),
                    f(m.f1()),
                    f(m.false_positive_rate()),
                ));
            }
        }
        out
    }
}

/// Screens every input of `reader`, writing one JSON verdict per input to `out`; when any input
/// was labelled, writes the metrics object last and returns the evaluation. `name` names the
/// input in error messages.
pub fn screen_stream(
    sanitizer: &Sanitizer,
    reader: impl Read,
    out: &mut impl Write,
    name: &str,
) -> anyhow::Result<Option<Evaluation>> {
    let mut eval = Evaluation::default();
    for (index, line) in BufReader::new(reader).lines().enumerate() {
        let number = index + 1;
        let line = line.with_context(|| format!("{name}: cannot read line {number}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let input = parse_line(&line).with_context(|| format!("{name}:{number}"))?;
        let text = &input.text;
        let verdict = match input.channel {
            Channel::User => sanitizer.screen_input(text),
            Channel::Tool => sanitizer.screen_tool_output(text),
            Channel::Memory => sanitizer.screen_memory(text),
        };
        let label = input.label;
        if let Some(label) = label {
            let flagged = !verdict.safe;
            eval.overall.add(label, flagged);
            if input.channel_given {
                let key = input.channel.as_str().to_string();
                eval.by_channel.entry(key).or_default().add(label, flagged);
            }
            if let Some(category) = input.category {
                eval.by_category
                    .entry(category)
                    .or_default()
                    .add(label, flagged);
            }
        }
        let record = VerdictLine {
            line: number,
            label,
            safe: verdict.safe,
            score: verdict.score,
            threats: &verdict.threats,
            cleaned: &verdict.cleaned,
        };
        serde_json::to_writer(&mut *out, &record).context("cannot write a verdict")?;
        out.write_all(b"\n").context("cannot write a verdict")?;
    }
    if eval.overall.labelled == 0 {
        return Ok(None);
    }
    serde_json::to_writer(&mut *out, &eval.json()).context("cannot write the metrics")?;
    out.write_all(b"\n").context("cannot write the metrics")?;
    Ok(Some(eval))
}

/// Where an input enters the conversation, which decides the entry point that screens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    User,
    Tool,
    Memory,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::User => "user",
            Channel::Tool => "tool",
            Channel::Memory => "memory",
        }
    }
}

/// One parsed input line.
#[derive(Debug)]
struct Input {
    text: String,
    label: Option<Label>,
    channel: Channel,
    /// The line named its channel (or source), so it counts in the per-channel table.
    channel_given: bool,
    category: Option<String>,
}

/// One input line: JSON with `text` (and maybe `label`, `channel` or `source`, `category`), or
/// plain text.
fn parse_line(line: &str) -> anyhow::Result<Input> {
    if !line.trim_start().starts_with('{') {
        return Ok(Input {
            text: line.to_string(),
            label: None,
            channel: Channel::User,
            channel_given: false,
            category: None,
        });
    }
    let value: serde_json::Value =
        serde_json::from_str(line).context("a line starting with `{` must be a JSON object")?;
    let Some(text) = value.get("text").and_then(|t| t.as_str()) else {
        bail!("JSON input needs a string field `text`");
    };
    let label = match value.get("label") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Bool(true)) => Some(Label::Malicious),
        Some(serde_json::Value::Bool(false)) => Some(Label::Benign),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("malicious") => {
            Some(Label::Malicious)
        }
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("benign") => {
            Some(Label::Benign)
        }
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => Some(Label::Malicious),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(0) => Some(Label::Benign),
        Some(other) => bail!(
            "`label` is {other}; use \"malicious\", \"benign\", true or 1 (malicious), false or 0 (benign)"
        ),
    };
    let (channel, channel_given) = match (value.get("channel"), value.get("source")) {
        (Some(serde_json::Value::String(s)), _) => match s.as_str() {
            "user" | "input" => (Channel::User, true),
            "tool" | "tool_output" => (Channel::Tool, true),
            "memory" => (Channel::Memory, true),
            _ => bail!("`channel` is {s:?}; use \"user\", \"tool\" or \"memory\""),
        },
        (Some(other), _) if !other.is_null() => {
            bail!("`channel` is {other}; use \"user\", \"tool\" or \"memory\"")
        }
        (_, None | Some(serde_json::Value::Null)) => (Channel::User, false),
        (_, Some(serde_json::Value::String(s))) if s == "input" => (Channel::User, true),
        (_, Some(serde_json::Value::String(s))) if s == "tool_output" => (Channel::Tool, true),
        (_, Some(other)) => bail!("`source` is {other}; use \"input\" or \"tool_output\""),
    };
    let category = match value.get("category") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => bail!("`category` is {other}; use a string"),
    };
    Ok(Input {
        text: text.to_string(),
        label,
        channel,
        channel_given,
        category,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_ratios_and_empty_denominators() {
        let mut m = Metrics::default();
        assert_eq!(m.precision(), None);
        for (label, flagged) in [
            (Label::Malicious, true),
            (Label::Malicious, true),
            (Label::Malicious, false),
            (Label::Benign, true),
            (Label::Benign, false),
            (Label::Benign, false),
            (Label::Benign, false),
        ] {
            m.add(label, flagged);
        }
        assert_eq!((m.tp, m.fn_, m.fp, m.tn), (2, 1, 1, 3));
        assert_eq!(m.precision(), Some(2.0 / 3.0));
        assert_eq!(m.recall(), Some(2.0 / 3.0));
        assert_eq!(m.f1(), Some(4.0 / 6.0));
        assert_eq!(m.false_positive_rate(), Some(0.25));
        assert_eq!(m.json()["metrics"]["fn"], 1);
    }

    #[test]
    fn labels_in_every_accepted_form() {
        let cases: &[(&str, Option<Label>)] = &[
            ("plain text line", None),
            (r#"{"text": "a"}"#, None),
            (
                r#"{"text": "a", "label": "malicious"}"#,
                Some(Label::Malicious),
            ),
            (r#"{"text": "a", "label": "Benign"}"#, Some(Label::Benign)),
            (r#"{"text": "a", "label": true}"#, Some(Label::Malicious)),
            (r#"{"text": "a", "label": false}"#, Some(Label::Benign)),
            (r#"{"text": "a", "label": 1}"#, Some(Label::Malicious)),
            (r#"{"text": "a", "label": 0}"#, Some(Label::Benign)),
        ];
        for &(line, label) in cases {
            assert_eq!(parse_line(line).expect(line).label, label, "{line}");
        }
        let channels: &[(&str, Channel, bool)] = &[
            (r#"{"text": "a"}"#, Channel::User, false),
            (
                r#"{"text": "a", "source": "tool_output"}"#,
                Channel::Tool,
                true,
            ),
            (r#"{"text": "a", "source": "input"}"#, Channel::User, true),
            (r#"{"text": "a", "channel": "tool"}"#, Channel::Tool, true),
            (
                r#"{"text": "a", "channel": "memory"}"#,
                Channel::Memory,
                true,
            ),
            (r#"{"text": "a", "channel": "user"}"#, Channel::User, true),
        ];
        for &(line, channel, given) in channels {
            let input = parse_line(line).expect(line);
            assert_eq!(
                (input.channel, input.channel_given),
                (channel, given),
                "{line}"
            );
        }
        let with_category = parse_line(r#"{"text": "a", "category": "hex"}"#).expect("category");
        assert_eq!(with_category.category.as_deref(), Some("hex"));
        for bad in [
            r#"{"text": 3}"#,
            r#"{"label": "benign"}"#,
            r#"{"text": "a", "label": "evil"}"#,
            r#"{"text": "a", "label": 2}"#,
            r#"{"text": "a", "source": "web"}"#,
            r#"{"text": "a", "channel": "web"}"#,
            r#"{"text": "a", "category": 7}"#,
            "{not json",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }
}
