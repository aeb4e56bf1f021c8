//! The scraper: a task that gets the server's metrics page at a fixed interval during the run,
//! from one scrape before the load starts to one after it ends, so counters' increases cover
//! the run exactly. A scrape that fails (no server, 404, garbage, a hang past the timeout) is
//! counted and the run goes on; nothing here can fail or slow the run.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::parse::{ParseFailure, parse};
use super::series::ServerMetrics;
use super::settings::{Selection, TOKEN_COUNTERS};
use crate::client::Getter;

/// Largest metrics page read (vLLM's is tens of kilobytes; a server with thousands of label
/// sets may publish a few megabytes).
pub const MAX_PAGE_BYTES: usize = 16 << 20;
/// Longest a scrape may take, whatever the interval.
const MAX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// A running scraper.
pub struct Scraper {
    stop: oneshot::Sender<()>,
    task: JoinHandle<ServerMetrics>,
}

/// Scrapes `url` every `interval` (each scrape within the interval, at most 5 s), keeping what
/// `selection` keeps (and the servers' token counters always). Takes the first scrape before
/// returning. `source` is how the report names the page; times are from `run_start`.
pub async fn start(
    url: &str,
    source: String,
    interval: Duration,
    selection: Selection,
    run_start: Instant,
) -> Result<Scraper, String> {
    let getter = Getter::new(url, interval.min(MAX_SCRAPE_TIMEOUT), MAX_PAGE_BYTES)?;
    let mut metrics = ServerMetrics::new(source, interval.as_secs_f64());
    scrape(&getter, &selection, run_start, &mut metrics).await;
    let (stop, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
        // A slow scrape shifts the next one rather than bunching scrapes up.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                _ = ticks.tick() => scrape(&getter, &selection, run_start, &mut metrics).await,
            }
        }
        // The last scrape, after the load: counters then hold every request of the run.
        scrape(&getter, &selection, run_start, &mut metrics).await;
        metrics
    });
    Ok(Scraper { stop, task })
}

impl Scraper {
    /// Takes the last scrape and returns everything found.
    pub async fn finish(self) -> Option<ServerMetrics> {
        let _ = self.stop.send(());
        self.task.await.ok()
    }
}

async fn scrape(
    getter: &Getter,
    selection: &Selection,
    run_start: Instant,
    metrics: &mut ServerMetrics,
) {
    let t = run_start.elapsed().as_secs_f64();
    let body = match getter.get().await {
        Ok(b) => b,
        Err(e) => {
            metrics.add_failure(e.kind(), e.to_string());
            return;
        }
    };
    let text = String::from_utf8_lossy(&body);
    let always: Vec<&str> = TOKEN_COUNTERS.iter().flat_map(|(p, g)| [*p, *g]).collect();
    match parse(&text, selection, &always) {
        Ok(samples) => metrics.add_scrape(t, samples),
        Err(ParseFailure::Syntax(m)) => {
            metrics.add_failure("parse", format!("not the Prometheus text format: {m}"))
        }
        Err(ParseFailure::Empty) => {
            metrics.add_failure("empty", "the page holds no metrics".to_string())
        }
    }
}
