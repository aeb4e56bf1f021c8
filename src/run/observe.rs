//! The run's observability, beside the load: the scraper of the server's own metrics
//! (`[endpoint] metrics_url`) and the live exporter (`--metrics-addr`).
//!
//! The exporter binds before the report directory is made, so a port in use is an error
//! (exit 2) before anything is sent; the scraper takes its first scrape just before the load
//! and its last once every conversation is recorded, so counters' increases cover the run.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::time::Instant;

use crate::agent::conversation::Agent;
use crate::observe::{self, Exporter, LiveLevels, MetricsSource, Scraper};
use crate::scenario::Plan;

/// Binds `--metrics-addr` and serves the live page; the levels come from `agent`.
pub(super) async fn start_exporter(
    addr: Option<SocketAddr>,
    plan: &Plan,
    agent: &Arc<Agent>,
) -> anyhow::Result<Option<Exporter>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on --metrics-addr {addr}; pick a free port, such as 127.0.0.1:9464")
    })?;
    let agent = Arc::clone(agent);
    let max_requests = plan.endpoint.max_connections;
    let levels: observe::LevelSource = Arc::new(move || LiveLevels {
        requests_in_flight: max_requests.saturating_sub(agent.client().free_slots()) as u64,
        breakers: agent
            .breakers()
            .breakers()
            .iter()
            .map(|b| (b.model().to_string(), b.state().as_str()))
            .collect(),
    });
    let exporter =
        observe::export::serve(listener, &plan.name, &plan.load.shard.to_string(), levels)
            .context("cannot serve --metrics-addr")?;
    eprintln!("live metrics: http://{}/metrics", exporter.local_addr());
    Ok(Some(exporter))
}

/// Starts scraping the server's metrics page, if the plan names one; `mock` is the embedded
/// mock's address when there is one.
pub(super) async fn start_scraper(
    plan: &Plan,
    mock: Option<SocketAddr>,
    run_start: Instant,
) -> Option<Scraper> {
    let settings = plan.endpoint.server_metrics.as_ref()?;
    let (url, source) = match &settings.source {
        MetricsSource::EmbeddedMock => match mock {
            Some(addr) => (
                format!("http://{addr}/metrics"),
                "embedded mock".to_string(),
            ),
            None => {
                eprintln!(
                    "warning: endpoint.metrics_url = \"mock\" but the endpoint is not the \
                     embedded mock (--endpoint-url?); no server metrics are scraped"
                );
                return None;
            }
        },
        MetricsSource::Url(url) => (url.clone(), crate::client::redact_url(url)),
    };
    match observe::start_scraper(
        &url,
        source,
        settings.interval,
        settings.selection.clone(),
        run_start,
    )
    .await
    {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("warning: cannot scrape the server's metrics: {e}");
            None
        }
    }
}
