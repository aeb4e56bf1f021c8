//! `bench sanitize [FILE|-] [--scenario FILE]`: screens each input through the sanitizer and
//! prints one JSON verdict per input; with labelled inputs, also measures detection quality.
//!
//! # Input
//! One input per line. A line starting with `{` is JSON with a string `text` field and an
//! optional `label`: `"malicious"` / `"benign"`, or a boolean (`true` = malicious), and an
//! optional `source`: `"input"` (the default: screened as user input) or `"tool_output"`
//! (screened as a tool's output, the indirect-injection path). Any other non-empty line is
//! screened as plain user input (unlabelled). Blank lines are skipped.
//!
//! # Output (stdout is data)
//! One JSON object per input, in order:
//! `{"line": 3, "label": "malicious", "safe": false, "score": 0.8,
//!   "threats": [{"kind": "injection", "pattern": "ignore_instructions"}], "cleaned": "..."}`
//! (`label` only when the input had one). When at least one input was labelled, one last object
//! follows whose only key is `"metrics"`, so a consumer tells it apart by that key:
//! `{"metrics": {"labelled": 120, "tp": .., "fp": .., "tn": .., "fn": .., "precision": ..,
//!   "recall": .., "f1": .., "false_positive_rate": .., "accuracy": ..}}`.
//! "Positive" means malicious; the sanitizer predicts positive when its verdict is unsafe.
//! A ratio whose denominator is zero is `null`. The same figures go to stderr as a table.

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

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "metrics": {
            "labelled": self.labelled,
            "tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn_,
            "precision": self.precision(),
            "recall": self.recall(),
            "f1": self.f1(),
            "false_positive_rate": self.false_positive_rate(),
            "accuracy": self.accuracy(),
        }})
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

/// Screens every input of `reader`, writing one JSON verdict per input to `out`; when any input
/// was labelled, writes the metrics object last and returns the metrics. `name` names the input
/// in error messages.
pub fn screen_stream(
    sanitizer: &Sanitizer,
    reader: impl Read,
    out: &mut impl Write,
    name: &str,
) -> anyhow::Result<Option<Metrics>> {
    let mut metrics = Metrics::default();
    for (index, line) in BufReader::new(reader).lines().enumerate() {
        let number = index + 1;
        let line = line.with_context(|| format!("{name}: cannot read line {number}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let (text, label, source) =
            parse_line(&line).with_context(|| format!("{name}:{number}"))?;
        let verdict = match source {
            Source::Input => sanitizer.screen_input(&text),
            Source::ToolOutput => sanitizer.screen_tool_output(&text),
        };
        if let Some(label) = label {
            metrics.add(label, !verdict.safe);
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
    if metrics.labelled == 0 {
        return Ok(None);
    }
    serde_json::to_writer(&mut *out, &metrics.json()).context("cannot write the metrics")?;
    out.write_all(b"\n").context("cannot write the metrics")?;
    Ok(Some(metrics))
}

/// Which entry point screens an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Input,
    ToolOutput,
}

/// One input line: JSON with `text` (and maybe `label`, `source`), or plain text.
fn parse_line(line: &str) -> anyhow::Result<(String, Option<Label>, Source)> {
    if !line.trim_start().starts_with('{') {
        return Ok((line.to_string(), None, Source::Input));
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
        Some(other) => bail!(
            "`label` is {other}; use \"malicious\", \"benign\", true (malicious) or false (benign)"
        ),
    };
    let source = match value.get("source") {
        None | Some(serde_json::Value::Null) => Source::Input,
        Some(serde_json::Value::String(s)) if s == "input" => Source::Input,
        Some(serde_json::Value::String(s)) if s == "tool_output" => Source::ToolOutput,
        Some(other) => bail!("`source` is {other}; use \"input\" or \"tool_output\""),
    };
    Ok((text.to_string(), label, source))
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
        ];
        for &(line, label) in cases {
            assert_eq!(parse_line(line).expect(line).1, label, "{line}");
        }
        let tool = parse_line(r#"{"text": "a", "source": "tool_output"}"#).expect("tool");
        assert_eq!(tool.2, Source::ToolOutput);
        for bad in [
            r#"{"text": 3}"#,
            r#"{"label": "benign"}"#,
            r#"{"text": "a", "label": "evil"}"#,
            r#"{"text": "a", "source": "web"}"#,
            "{not json",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }
}
