//! The endpoint a run talks to: the embedded mock server, started on loopback when the plan's
//! endpoint is `mock`, or the plan's URL; the client over it; and, at the end, the mock's
//! shutdown with its ground truth (`/mock/stats`).

use anyhow::Context;

use crate::client::{ClientConfig, LlmClient};
use crate::scenario::{Endpoint, Plan};

/// Where the run's requests go.
pub(super) struct Target {
    /// The embedded mock server, when the endpoint is `mock`.
    pub(super) mock: Option<mock_server::MockHandle>,
    /// The client for the agent.
    pub(super) client: LlmClient,
}

/// Starts the embedded mock (on `127.0.0.1:0`) when the plan asks for it, and builds the client.
pub(super) async fn connect(plan: &Plan) -> anyhow::Result<Target> {
    let (mock, base_url, api_key_env, headers) = match &plan.endpoint.target {
        Endpoint::Mock { config } => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("cannot bind the embedded mock server to 127.0.0.1")?;
            let handle = mock_server::serve(listener, (**config).clone()).await?;
            let url = handle.base_url();
            (Some(handle), url, None, Vec::new())
        }
        Endpoint::Http {
            base_url,
            api_key_env,
            headers,
        } => (
            None,
            base_url.clone(),
            api_key_env.clone(),
            headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    };
    let client = LlmClient::new(&ClientConfig {
        base_url,
        api_key_env,
        headers,
        attempt_timeout: plan.endpoint.timeout,
        connect_timeout: plan.endpoint.connect_timeout,
        max_connections: plan.endpoint.max_connections,
        max_response_bytes: plan.endpoint.max_response_bytes,
        auth_header: plan.endpoint.auth_header.clone(),
        ..ClientConfig::default()
    })?;
    Ok(Target { mock, client })
}

/// Stops the embedded mock, if there is one, and returns its counters.
pub(super) async fn shut_down(
    mock: Option<mock_server::MockHandle>,
) -> Option<mock_server::StatsSnapshot> {
    match mock {
        Some(handle) => {
            let stats = handle.stats();
            handle.shutdown().await;
            Some(stats)
        }
        None => None,
    }
}
