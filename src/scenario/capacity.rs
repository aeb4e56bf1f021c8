//! `[slo]` and `[sweep]`: the objectives a conversation is judged on, and how `bench sweep`
//! steps the load to find the highest one that meets them.

use std::time::Duration;

use super::check::{Check, check_model_name};
use super::error::ScenarioError;
use super::plan::SweepPlan;
use super::raw::{RawSlo, RawSweep};
use crate::metrics::slo::{Bound, Slo};
use crate::record::Outcome;

impl Check<'_> {
    pub(super) fn slo(&self, raw: RawSlo) -> Result<Slo, ScenarioError> {
        let mut written = Vec::new();
        let mut duration = |key: &str, text: Option<String>| -> Result<_, ScenarioError> {
            let Some(text) = text else { return Ok(None) };
            let (inclusive, rest) = self.bound(key, &text)?;
            let limit = crate::units::parse_duration(rest).map_err(|e| {
                self.invalid(
                    &format!("slo.{key}"),
                    format!("\"{text}\""),
                    &format!("an upper bound with a duration, such as \"< 8s\" ({e})"),
                )
            })?;
            written.push((key.to_string(), text.clone()));
            Ok(Some(Bound { limit, inclusive }))
        };
        let conversation_latency = duration("conversation_latency", raw.conversation_latency)?;
        let ttft = duration("ttft", raw.ttft)?;
        let llm_call_latency = duration("llm_call_latency", raw.llm_call_latency)?;
        let inter_token = duration("inter_token", raw.inter_token)?;
        let cost_per_conversation = match raw.cost_per_conversation {
            None => None,
            Some(text) => {
                let (inclusive, rest) = self.bound("cost_per_conversation", &text)?;
                let limit = rest
                    .trim()
                    .trim_start_matches('$')
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| {
                        self.invalid(
                            "slo.cost_per_conversation",
                            format!("\"{text}\""),
                            "an upper bound in dollars, such as \"< 0.02\"",
                        )
                    })?;
                written.push(("cost_per_conversation".to_string(), text));
                Some(Bound { limit, inclusive })
            }
        };
        let outcomes = match raw.outcome {
            None => vec![Outcome::Answered],
            Some(list) => {
                let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
                let mut out = Vec::new();
                for name in &list {
                    let o = Outcome::ALL
                        .into_iter()
                        .find(|o| o.as_str() == name)
                        .ok_or_else(|| {
                            self.invalid(
                                "slo.outcome",
                                format!("\"{name}\""),
                                &format!("outcomes from: {}", names.join(", ")),
                            )
                        })?;
                    out.push(o);
                }
                if out.is_empty() {
                    return Err(self.invalid(
                        "slo.outcome",
                        "[]",
                        "at least one outcome that counts as good, such as [\"answered\"]",
                    ));
                }
                out
            }
        };
        written.insert(
            0,
            (
                "outcome".to_string(),
                outcomes
                    .iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        );
        Ok(Slo {
            conversation_latency,
            ttft,
            llm_call_latency,
            inter_token,
            cost_per_conversation,
            outcomes,
            written,
        })
    }

    /// Splits `"< 8s"` into (inclusive, "8s").
    fn bound<'t>(&self, key: &str, text: &'t str) -> Result<(bool, &'t str), ScenarioError> {
        let t = text.trim();
        if let Some(rest) = t.strip_prefix("<=") {
            Ok((true, rest.trim()))
        } else if let Some(rest) = t.strip_prefix('<') {
            Ok((false, rest.trim()))
        } else {
            Err(self.invalid(
                &format!("slo.{key}"),
                format!("\"{text}\""),
                "an upper bound written with < or <=, such as \"< 8s\"",
            ))
        }
    }

    pub(super) fn sweep(&self, raw: RawSweep) -> Result<SweepPlan, ScenarioError> {
        let positive = |key: &str, v: Option<f64>, what: &str| match v {
            Some(x) if !(x.is_finite() && x > 0.0) => {
                Err(self.invalid(&format!("sweep.{key}"), x, what))
            }
            _ => Ok(v),
        };
        let target = raw.target.unwrap_or(0.99);
        if !(target > 0.0 && target < 1.0) {
            return Err(self.invalid(
                "sweep.target",
                target,
                "an attainment between 0 and 1 (exclusive), such as 0.99",
            ));
        }
        let factor = raw.factor.unwrap_or(2.0);
        if !(factor > 1.0 && factor <= 10.0) {
            return Err(self.invalid(
                "sweep.factor",
                factor,
                "a growth factor above 1 and at most 10, such as 2",
            ));
        }
        let max_steps = raw.max_steps.unwrap_or(20);
        if !(2..=200).contains(&max_steps) {
            return Err(self.invalid("sweep.max_steps", max_steps, "from 2 to 200 steps"));
        }
        for m in &raw.models {
            check_model_name(m).map_err(|e| self.invalid("sweep.models", m, &e))?;
        }
        Ok(SweepPlan {
            target,
            start: positive(
                "start",
                raw.start,
                "a load above 0, such as 8 (users) or 2 (per s)",
            )?,
            factor,
            resolution: positive(
                "resolution",
                raw.resolution,
                "a load step above 0, such as 2",
            )?,
            max_load: positive("max_load", raw.max_load, "a load above 0")?,
            max_steps,
            max_duration: raw.max_duration.map(|d| d.get()),
            step_duration: raw.step_duration.map(|d| d.get()),
            warm_up: raw.warm_up.map_or(Duration::from_secs(5), |d| d.get()),
            repeats: raw.repeats.unwrap_or(1).min(5),
            models: raw.models,
        })
    }
}
