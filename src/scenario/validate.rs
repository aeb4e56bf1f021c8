//! From text to [`Plan`]: [`load`] and [`parse`] deserialize the file, then each table is
//! checked and turned into its part of the plan (the `[load]` table in `load_model.rs`), and the
//! checks across tables run last (`invariants.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use super::check::{Check, check_env_name, check_model_name, check_spend_cap, redact};
use super::error::ScenarioError;
use super::invariants::check_invariants;
use super::plan::{
    DEFAULT_CALL_DEADLINE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_SEED, DEFAULT_TIMEOUT, Endpoint,
    EndpointPlan, Limits, LoadShape, MAX_CONNECTIONS, Plan, PricesPlan, ReportPlan,
};
use super::prices::price_table;
use super::raw::{
    EndpointKind, OneOrMany, RawEndpoint, RawLimits, RawPrices, RawScenario, RawWorkload,
    deserialize,
};
use super::workload::{self, Source, WorkItem, Workload};
use crate::agent::settings::AgentConfig;
use crate::observe::{self, MetricsSource, ScrapeSettings, Selection};
use crate::units::HumanDuration;

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

/// What `bench validate` checks: [`load`], then the prices of every model the plan calls when
/// the plan names a TOML price table (the shipped table and LiteLLM JSON files are checked by
/// the pricing module at run time).
pub fn check_file(path: &Path) -> Result<Plan, ScenarioError> {
    let plan = load(path)?;
    price_table(&plan)?;
    Ok(plan)
}

impl Check<'_> {
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
        let slo = raw.slo.map(|s| self.slo(s)).transpose()?;
        let sweep = raw.sweep.map(|s| self.sweep(s)).transpose()?;
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
            slo,
            sweep,
            sharding: None,
        };
        check_invariants(&plan)?;
        Ok(plan)
    }

    /// `[endpoint]` (and `[mock]` for the embedded mock): timeouts, bounds and the target.
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
            EndpointKind::Mock => self.mock_target(&raw, mock)?,
            EndpointKind::Http => self.http_target(&raw, mock)?,
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
        let server_metrics = self.server_metrics(&raw)?;
        Ok(EndpointPlan {
            target,
            timeout,
            connect_timeout,
            call_deadline: Some(call_deadline),
            // In range by the check above.
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            max_response_bytes,
            auth_header: raw.auth_header,
            server_metrics,
        })
    }

    /// `metrics_url`, `metrics_interval`, `metrics`: the server's metrics page to scrape.
    fn server_metrics(&self, raw: &RawEndpoint) -> Result<Option<ScrapeSettings>, ScenarioError> {
        let Some(url) = &raw.metrics_url else {
            for (key, set) in [
                ("metrics_interval", raw.metrics_interval.is_some()),
                ("metrics", raw.metrics.is_some()),
            ] {
                if set {
                    return Err(self.invalid(
                        &format!("endpoint.{key}"),
                        "(set)",
                        "it applies to the page named by `endpoint.metrics_url`; set that too \
                         (\"mock\" for the embedded mock, or a URL such as \"http://127.0.0.1:8000/metrics\")",
                    ));
                }
            }
            return Ok(None);
        };
        let source = if url == "mock" {
            if raw.kind != EndpointKind::Mock {
                return Err(self.invalid(
                    "endpoint.metrics_url",
                    "\"mock\"",
                    "the server's metrics URL, such as \"http://127.0.0.1:8000/metrics\" \
                     (\"mock\" names the embedded mock's page, for `kind = \"mock\"` only)",
                ));
            }
            MetricsSource::EmbeddedMock
        } else {
            let ok = url.parse::<http::Uri>().ok().is_some_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            });
            if !ok {
                return Err(self.invalid(
                    "endpoint.metrics_url",
                    format!("\"{}\"", crate::client::redact_url(url)),
                    "an http:// or https:// URL of a Prometheus metrics page, such as \
                     \"http://127.0.0.1:8000/metrics\", or \"mock\" for the embedded mock",
                ));
            }
            MetricsSource::Url(url.clone())
        };
        let interval = raw
            .metrics_interval
            .map_or(observe::DEFAULT_INTERVAL, HumanDuration::get);
        if interval < observe::MIN_INTERVAL {
            return Err(self.invalid(
                "endpoint.metrics_interval",
                format!("\"{}\"", HumanDuration(interval)),
                "at least \"100ms\", such as \"1s\" (the default) or \"5s\"",
            ));
        }
        let selection = match &raw.metrics {
            None => Selection::All,
            Some(m) => {
                let entries = match m {
                    OneOrMany::One(one) => vec![one.clone()],
                    OneOrMany::Many(many) => many.clone(),
                };
                let names = observe::expand(&entries).map_err(|bad| {
                    self.invalid(
                        "endpoint.metrics",
                        format!("\"{bad}\""),
                        &format!(
                            "Prometheus metric names (such as \"vllm:num_requests_waiting\") or presets: {}",
                            observe::preset_names()
                        ),
                    )
                })?;
                Selection::Names(names)
            }
        };
        Ok(Some(ScrapeSettings {
            source,
            interval,
            selection,
        }))
    }

    /// `kind = "mock"`: no key of a real endpoint, and the `[mock]` table checked by its owner.
    fn mock_target(
        &self,
        raw: &RawEndpoint,
        mock: Option<mock_server::MockConfig>,
    ) -> Result<Endpoint, ScenarioError> {
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
        Ok(Endpoint::Mock {
            config: Box::new(config),
        })
    }

    /// `kind = "http"`: a usable base URL, a variable name (never a key) and valid header
    /// names, and no `[mock]` table.
    fn http_target(
        &self,
        raw: &RawEndpoint,
        mock: Option<mock_server::MockConfig>,
    ) -> Result<Endpoint, ScenarioError> {
        if mock.is_some() {
            return Err(self.invalid(
                "mock",
                "(a table)",
                "`[mock]` configures the embedded mock server, used only with `endpoint.kind = \"mock\"`; remove it",
            ));
        }
        let base_url = raw.base_url.clone().ok_or_else(|| {
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
        Ok(Endpoint::Http {
            base_url,
            api_key_env: raw.api_key_env.clone(),
            headers: raw.headers.clone(),
        })
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

    fn agent(&self, mut raw: AgentConfig) -> Result<AgentConfig, ScenarioError> {
        self.agent_files(&mut raw)?;
        raw.budget.validate().map_err(|m| self.component(m))?;
        raw.sessions.validate().map_err(|m| self.component(m))?;
        raw.breaker.validate().map_err(|m| self.component(m))?;
        raw.tools.validate().map_err(|m| self.component(m))?;
        if let Some(g) = &raw.guard {
            g.validate()
                .map_err(|(k, v, hint)| self.invalid(&format!("agent.guard.{k}"), v, &hint))?;
        }
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

    /// Reads the files `[agent]` names: the system prompt and the tool definitions.
    fn agent_files(&self, raw: &mut AgentConfig) -> Result<(), ScenarioError> {
        if let Some(file) = &raw.system_prompt_file {
            if raw.system_prompt.is_some() {
                return Err(self.invalid(
                    "agent.system_prompt_file",
                    format!("\"{}\"", file.display()),
                    "either `system_prompt` or `system_prompt_file`, not both",
                ));
            }
            let path = self.resolve(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| {
                    self.file_error("agent.system_prompt_file", &path, format!("cannot be read ({e}); the path is relative to the scenario file's directory"))
                })?;
            if text.trim().is_empty() {
                return Err(self.file_error(
                    "agent.system_prompt_file",
                    &path,
                    "the file is empty; write the agent's system prompt in it".to_string(),
                ));
            }
            raw.system_prompt = Some(text);
        }
        if let Some(file) = &raw.tools.definitions {
            let path = self.resolve(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| {
                    self.file_error("agent.tools.definitions", &path, format!("cannot be read ({e}); the path is relative to the scenario file's directory"))
                })?;
            raw.tools.loaded = crate::agent::tools::parse_openai_tools(&text)
                .map_err(|e| self.file_error("agent.tools.definitions", &path, e))?;
        }
        Ok(())
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
