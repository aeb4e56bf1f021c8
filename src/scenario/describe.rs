//! The plan described for people: the few lines `bench validate` prints.

use super::plan::{Arrival, Endpoint, LoadPlan, LoadShape, Plan};
use crate::agent::settings::{AgentConfig, Protocol};
use crate::units::HumanDuration;

impl Plan {
    /// A few lines for people: what this plan will do. `bench validate` prints it.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "scenario  {} ({})", self.name, self.source.display());
        let _ = writeln!(s, "seed      {}", self.seed);
        let endpoint = endpoint_text(&self.endpoint.target);
        let _ = writeln!(
            s,
            "endpoint  {endpoint}, timeout {}",
            HumanDuration(self.endpoint.timeout)
        );
        let l = &self.load;
        let shape = shape_text(&l.shape);
        let _ = writeln!(
            s,
            "load      {shape}; {} turns per session, think {}",
            l.turns_per_session, l.think_time
        );
        let stop = stop_text(l);
        let _ = writeln!(s, "stop      {stop}; grace {}", HumanDuration(l.grace));
        let _ = writeln!(s, "agent     {}", agent_text(&self.agent));
        let total: u64 = self
            .workload
            .sources
            .iter()
            .map(|src| u64::from(src.weight))
            .sum();
        for src in &self.workload.sources {
            let _ = writeln!(
                s,
                "workload  {:>5.1}% {} ({} prompts from {})",
                100.0 * f64::from(src.weight) / total.max(1) as f64,
                src.label.as_deref().unwrap_or("unlabelled"),
                src.items.len(),
                src.origin
            );
        }
        let _ = writeln!(
            s,
            "prices    {}",
            self.prices.table.as_ref().map_or_else(
                || "the shipped table".to_string(),
                |t| t.display().to_string()
            )
        );
        if let Some(cap) = self.limits.spend_cap_usd {
            let _ = writeln!(s, "limits    spend cap ${cap:.2}");
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(s, "gates     {} thresholds", self.thresholds.len());
        }
        s
    }
}

/// The endpoint: the mock's settings in brief, or the URL (redacted) and the key's variable.
fn endpoint_text(target: &Endpoint) -> String {
    match target {
        Endpoint::Mock { config } => format!(
            "embedded mock server (seed {}, {} model settings, {} outages)",
            config.seed,
            config.models.len(),
            config.outages.len()
        ),
        Endpoint::Http {
            base_url,
            api_key_env,
            ..
        } => format!(
            "{} (key from {})",
            crate::client::redact_url(base_url),
            api_key_env.as_deref().unwrap_or("no variable: no key sent")
        ),
    }
}

/// The load model in one line.
fn shape_text(shape: &LoadShape) -> String {
    match shape {
        LoadShape::Closed(c) if c.explicit_stages => format!(
            "closed: stages {}",
            c.stages
                .iter()
                .map(|st| format!("{} users over {}", st.target, HumanDuration(st.duration)))
                .collect::<Vec<_>>()
                .join(", then ")
        ),
        LoadShape::Closed(c) => format!(
            "closed: {} users, ramp-up {}",
            c.users,
            HumanDuration(c.stages[0].duration)
        ),
        LoadShape::Open(o) => format!(
            "open: {} arrivals at {}, at most {} in flight",
            match o.arrival {
                Arrival::Poisson => "poisson",
                Arrival::Constant => "constant",
            },
            o.arrival_rate,
            o.max_in_flight
        ),
        LoadShape::Replay(r) => format!(
            "replay: {} sessions from {}, time scale {}",
            r.sessions.len(),
            r.trace.display(),
            r.time_scale
        ),
    }
}

/// When the run stops starting conversations.
fn stop_text(l: &LoadPlan) -> String {
    let mut stop = Vec::new();
    if let Some(d) = l.duration {
        stop.push(format!("after {}", HumanDuration(d)));
    }
    if let Some(n) = l.conversations_per_user {
        stop.push(format!("{n} conversations per user"));
    }
    if let Some(n) = l.max_conversations {
        stop.push(format!("at most {n} conversations"));
    }
    if stop.is_empty() {
        stop.push("when the load model is done".into());
    }
    stop.join(", ")
}

/// The model chain, protocol and streaming.
fn agent_text(a: &AgentConfig) -> String {
    format!(
        "{}{}, {} protocol, {}",
        a.model,
        if a.fallback.is_empty() {
            String::new()
        } else {
            format!(" -> {}", a.fallback.join(" -> "))
        },
        match a.protocol {
            Protocol::Text => "text",
            Protocol::Native => "native",
        },
        if a.stream {
            "streaming"
        } else {
            "not streaming"
        }
    )
}
