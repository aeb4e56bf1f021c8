//! The one agent every virtual user of a run shares, built from the plan's `[agent]` settings
//! and the two facts of the endpoint they leave open: the primary model's context window and
//! the call deadline. The spend cap, when the plan sets one, is the agent's too.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::agent::conversation::Agent;
use crate::agent::guard::{Guard, GuardShape};
use crate::agent::settings::AgentConfig;
use crate::agent::spend::SpendCap;
use crate::client::LlmClient;
use crate::pricing::PriceTable;
use crate::scenario::{Endpoint, Plan};

/// Builds the run's agent over `client`.
pub(super) fn build(
    plan: &Plan,
    prices: &PriceTable,
    client: LlmClient,
    mock: Option<SocketAddr>,
) -> anyhow::Result<Arc<Agent>> {
    let context_window = match &plan.endpoint.target {
        // The mock plays the provider: its window is the one the requests must fit.
        Endpoint::Mock { config } => Some(config.model(&plan.agent.model).context_window),
        Endpoint::Http { .. } => prices.get(&plan.agent.model).and_then(|p| p.context_window),
    };
    let spend = plan
        .limits
        .spend_cap_usd
        .map(|usd| Arc::new(SpendCap::new(usd, prices.clone())));
    let mut agent = Agent::new(
        AgentConfig {
            context_window,
            call_deadline: plan.endpoint.call_deadline,
            ..plan.agent.clone()
        },
        client,
        spend,
        plan.seed,
    )?;
    if let Some(g) = &plan.agent.guard {
        let url = match (g.url.as_str(), mock) {
            ("mock", Some(addr)) => match g.shape {
                GuardShape::Moderation => format!("http://{addr}/v1/moderations"),
                GuardShape::Generic => format!("http://{addr}/guard"),
            },
            ("mock", None) => anyhow::bail!(
                "agent.guard.url = \"mock\" names the embedded mock's guard, but the endpoint \
                 is not the embedded mock; give the guard service's URL"
            ),
            (url, _) => url.to_string(),
        };
        let guard = Guard::new(g.clone(), &url).map_err(|e| anyhow::anyhow!("agent.guard: {e}"))?;
        agent = agent.with_guard(guard);
    }
    Ok(Arc::new(agent))
}
