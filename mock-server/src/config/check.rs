//! [`MockConfig::validate`]: every value checked once, so the server can trust a validated
//! config; and [`MockConfig::from_toml_file`], which reads a file and checks it. Each refusal
//! names the key, the value as written, and what would be accepted.
//!
//! The checks run in the order of the tables (top-level keys, models, script, faults,
//! outages) and the first failure is reported.

use std::fmt;
use std::path::Path;

use super::faults::{FaultConfig, FaultKind, Outage};
use super::model::ModelConfig;
use super::{ConfigError, MAX_COMPLETION_TOKENS, MockConfig, ScriptConfig};

fn invalid(key: impl Into<String>, value: impl fmt::Display, hint: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        hint: hint.to_string(),
    }
}

impl MockConfig {
    /// Reads and validates a TOML file holding a [`MockConfig`] at its top level.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<MockConfig, ConfigError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let config: MockConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown,
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value once; the server trusts a validated config.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_top_level()?;
        for (name, m) in &self.models {
            check_model(name, m)?;
        }
        check_script(&self.script)?;
        check_faults(&self.faults)?;
        check_outages(&self.outages)?;
        let p = self.guard.error_probability;
        if !(0.0..=1.0).contains(&p) {
            return Err(invalid(
                "guard.error_probability",
                p,
                "use a probability from 0 to 1, such as 0.02",
            ));
        }
        Ok(())
    }

    fn check_top_level(&self) -> Result<(), ConfigError> {
        if self.header_read_timeout.is_zero() {
            return Err(invalid(
                "header_read_timeout",
                "0s",
                "use a positive duration such as \"30s\"",
            ));
        }
        if self.max_connections == 0 {
            return Err(invalid(
                "max_connections",
                0,
                "use a positive number of connections",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(invalid(
                "max_body_bytes",
                0,
                "use a positive number of bytes",
            ));
        }
        if let Some(k) = &self.api_key
            && k.is_empty()
        {
            return Err(invalid(
                "api_key",
                "\"\"",
                "remove the key to disable the check, or set a non-empty key",
            ));
        }
        Ok(())
    }
}

fn check_model(name: &str, m: &ModelConfig) -> Result<(), ConfigError> {
    let key = |field: &str| format!("models.\"{name}\".{field}");
    if let Some(r) = m.jitter_ratio
        && !(0.0..=10.0).contains(&r)
    {
        return Err(invalid(
            key("jitter_ratio"),
            r,
            "use a fraction from 0 to 10",
        ));
    }
    if let Some(w) = m.context_window
        && w == 0
    {
        return Err(invalid(
            key("context_window"),
            w,
            "use a positive token count",
        ));
    }
    if let Some(c) = m.completion_tokens
        && c.max > MAX_COMPLETION_TOKENS
    {
        return Err(invalid(
            key("completion_tokens"),
            c,
            "use at most 1000000 tokens per reply",
        ));
    }
    if let Some(c) = m.completion_tokens
        && c.min == 0
    {
        return Err(invalid(
            key("completion_tokens"),
            c,
            "replies have at least 1 token; start the range at 1 or more",
        ));
    }
    if m.rpm == Some(0) || m.tpm == Some(0) {
        return Err(invalid(
            key("rpm/tpm"),
            0,
            "use a positive limit, or remove the key for no limit",
        ));
    }
    if let Some(c) = m.max_concurrency
        && !(1..=1_000_000).contains(&c)
    {
        return Err(invalid(
            key("max_concurrency"),
            c,
            "use 1 to 1000000 requests served at once, or remove the key for no limit",
        ));
    }
    if let Some(t) = m.throughput_tokens_per_s
        && !(t.is_finite() && t > 0.0)
    {
        return Err(invalid(
            key("throughput_tokens_per_s"),
            t,
            "use a positive rate of output tokens per second, such as 2000",
        ));
    }
    if m.max_queue.is_some() && m.max_concurrency.is_none() {
        return Err(invalid(
            key("max_queue"),
            m.max_queue.unwrap_or(0),
            "a queue exists only with max_concurrency: set it too",
        ));
    }
    if let Some(s) = m.queue_full_status
        && s != 429
        && s != 503
    {
        return Err(invalid(
            key("queue_full_status"),
            s,
            "use 429 (rate limited) or 503 (overloaded)",
        ));
    }
    Ok(())
}

fn check_script(script: &ScriptConfig) -> Result<(), ConfigError> {
    if script.tool_steps.max > 50 {
        return Err(invalid(
            "script.tool_steps",
            script.tool_steps,
            "use at most 50 tool steps per turn",
        ));
    }
    let parallel = script.parallel_tool_calls;
    if parallel.min == 0 || parallel.max > 16 {
        return Err(invalid(
            "script.parallel_tool_calls",
            parallel,
            "use a range within 1..=16 calls per reply",
        ));
    }
    let p = script.dangerous_action_probability;
    if !(0.0..=1.0).contains(&p) {
        return Err(invalid(
            "script.dangerous_action_probability",
            p,
            "use a probability from 0 to 1",
        ));
    }
    if script.dangerous_tool.trim().is_empty() {
        return Err(invalid("script.dangerous_tool", "\"\"", "name a tool"));
    }
    Ok(())
}

fn check_faults(faults: &FaultConfig) -> Result<(), ConfigError> {
    let mut sum = 0.0;
    for kind in FaultKind::DRAWN {
        let p = faults.probability(kind);
        if !(0.0..=1.0).contains(&p) {
            return Err(invalid(
                format!("faults.{}", kind.name()),
                p,
                "use a probability from 0 to 1",
            ));
        }
        sum += p;
    }
    if sum > 1.0 + 1e-9 {
        return Err(invalid(
            "faults",
            format!("probabilities summing to {sum}"),
            "one draw picks at most one fault, so the probabilities must sum to at most 1",
        ));
    }
    Ok(())
}

fn check_outages(outages: &[Outage]) -> Result<(), ConfigError> {
    for (i, o) in outages.iter().enumerate() {
        if o.from >= o.to {
            return Err(invalid(
                format!("outages[{i}]"),
                format!(
                    "from = {:?}, to = {:?}",
                    humantime::format_duration(o.from).to_string(),
                    humantime::format_duration(o.to).to_string()
                ),
                "`from` must be before `to`",
            ));
        }
    }
    Ok(())
}
