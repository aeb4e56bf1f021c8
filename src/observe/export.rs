//! `bench run --metrics-addr`: the run's live figures in Prometheus' text format, for the
//! dashboards teams already have (`deploy/grafana/` holds one).
//!
//! Two parts make the page. The recorder task, the one owner of the run's metrics, renders the
//! counters, histograms and users once a second ([`Publisher::publish`]) into a watch
//! channel; the levels that change between records (requests in flight, breaker states) are
//! read when the page is asked for. Nothing is added to a call's path: the recorder already wakes once
//! a second to flush its files.
//!
//! Every series carries the labels `scenario` and `shard` (`"0/1"` for an unsharded run).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::metrics::Aggregator;

/// Call latency buckets, seconds: an LLM call takes from tens of milliseconds (a cached or
/// mocked reply) to minutes (a long reasoning answer).
const CALL_BOUNDS_S: &[f64] = &[
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0,
];
/// Time-to-first-token buckets, seconds.
const TTFT_BOUNDS_S: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 30.0,
];
/// Conversation latency buckets, seconds (several calls and tools).
const CONVERSATION_BOUNDS_S: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// How long a request head may take to arrive.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Levels read when the page is asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveLevels {
    /// LLM requests on the wire.
    pub requests_in_flight: u64,
    /// Each breaker's key and state (`closed`, `half_open`, `open`).
    pub breakers: Vec<(String, &'static str)>,
}

/// Where the levels come from (the run's agent and client).
pub type LevelSource = Arc<dyn Fn() -> LiveLevels + Send + Sync>;

/// The live exporter while it serves.
pub struct Exporter {
    addr: SocketAddr,
    page: watch::Sender<Arc<str>>,
    labels: Arc<str>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The recorder's handle: publishes the run's figures.
#[derive(Clone)]
pub struct Publisher {
    page: watch::Sender<Arc<str>>,
    labels: Arc<str>,
}

/// Serves `GET /metrics` on `listener` for the scenario `scenario` (shard `shard`, as
/// `"I/N"`).
pub fn serve(
    listener: TcpListener,
    scenario: &str,
    shard: &str,
    levels: LevelSource,
) -> std::io::Result<Exporter> {
    let addr = listener.local_addr()?;
    let labels: Arc<str> = format!(
        "scenario=\"{}\",shard=\"{}\"",
        escape(scenario),
        escape(shard)
    )
    .into();
    let (page, rx) = watch::channel::<Arc<str>>(Arc::from(""));
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task_labels = Arc::clone(&labels);
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                biased;
                _ = &mut stopped => break,
                a = listener.accept() => a,
            };
            let Ok((stream, _)) = accepted else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let rx = rx.clone();
            let levels = Arc::clone(&levels);
            let labels = Arc::clone(&task_labels);
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let page = Arc::clone(&rx.borrow());
                    let levels = levels();
                    let labels = Arc::clone(&labels);
                    async move { Ok::<_, Infallible>(respond(&req, &page, &levels, &labels)) }
                });
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(Exporter {
        addr,
        page,
        labels,
        stop,
        task,
    })
}

impl Exporter {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The recorder's handle.
    pub fn publisher(&self) -> Publisher {
        Publisher {
            page: self.page.clone(),
            labels: Arc::clone(&self.labels),
        }
    }

    /// Keeps serving the last figures for `hold` (so a scraper sees the run's end), then stops.
    pub async fn close(self, hold: Duration) {
        crate::units::sleep_for(hold).await;
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Publisher {
    /// Renders the run's figures so far; the page serves them from now on.
    pub fn publish(&self, agg: &Aggregator) {
        let page = render_run(agg, &self.labels);
        self.page.send_replace(page.into());
    }
}

fn respond(
    req: &Request<hyper::body::Incoming>,
    page: &str,
    levels: &LiveLevels,
    labels: &str,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET || req.uri().path() != "/metrics" {
        let mut r = Response::new(Full::new(Bytes::from_static(
            b"reactbench serves its live metrics at GET /metrics\n",
        )));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    }
    let mut body = String::with_capacity(page.len() + 1024);
    body.push_str(page);
    render_levels(&mut body, levels, labels);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// A label value escaped as the text format requires.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A labelled family: its HELP and TYPE only when it has samples (strict parsers refuse a
/// TYPE line with nothing under it).
fn family(out: &mut String, name: &str, kind: &str, help: &str, lines: &str) {
    if !lines.is_empty() {
        head(out, name, kind, help);
        out.push_str(lines);
    }
}

/// The levels part of the page.
fn render_levels(out: &mut String, l: &LiveLevels, labels: &str) {
    head(
        out,
        "reactbench_requests_in_flight",
        "gauge",
        "LLM requests on the wire.",
    );
    let _ = writeln!(
        out,
        "reactbench_requests_in_flight{{{labels}}} {}",
        l.requests_in_flight
    );
    let mut lines = String::new();
    for (key, state) in &l.breakers {
        let v = match *state {
            "open" => 2,
            "half_open" => 1,
            _ => 0,
        };
        let _ = writeln!(
            lines,
            "reactbench_breaker_state{{{labels},model=\"{}\"}} {v}",
            escape(key)
        );
    }
    family(
        out,
        "reactbench_breaker_state",
        "gauge",
        "Circuit breaker state per model: 0 closed, 1 half open, 2 open.",
        &lines,
    );
}

/// The run's counters and histograms so far.
pub fn render_run(agg: &Aggregator, labels: &str) -> String {
    let c = agg.counters();
    let h = agg.histograms();
    let mut out = String::with_capacity(8192);
    head(
        &mut out,
        "reactbench_run_elapsed_seconds",
        "gauge",
        "Seconds since the run's start.",
    );
    let _ = writeln!(
        out,
        "reactbench_run_elapsed_seconds{{{labels}}} {}",
        agg.run_start().elapsed().as_secs_f64()
    );
    head(
        &mut out,
        "reactbench_users_active",
        "gauge",
        "Virtual users running.",
    );
    let _ = writeln!(
        out,
        "reactbench_users_active{{{labels}}} {}",
        agg.live().snapshot().users_active
    );
    let mut lines = String::new();
    for (outcome, n) in &c.outcomes {
        let _ = writeln!(
            lines,
            "reactbench_conversations_total{{{labels},outcome=\"{}\"}} {n}",
            outcome.as_str()
        );
    }
    family(
        &mut out,
        "reactbench_conversations_total",
        "counter",
        "Conversations finished, by outcome.",
        &lines,
    );
    for (name, help, v) in [
        (
            "reactbench_llm_calls_total",
            "Logical LLM calls finished (retries and fallbacks inside).",
            c.calls,
        ),
        (
            "reactbench_llm_call_errors_total",
            "LLM calls that failed after every retry and fallback.",
            c.call_errors,
        ),
        (
            "reactbench_attempts_total",
            "HTTP attempts that reached the network.",
            c.attempts,
        ),
        (
            "reactbench_retries_total",
            "Attempts beyond a call's first.",
            c.retries,
        ),
        (
            "reactbench_fallbacks_total",
            "Calls answered by a fallback model.",
            c.fallbacks,
        ),
    ] {
        head(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name}{{{labels}}} {v}");
    }
    let mut lines = String::new();
    for (class, n) in &c.calls_by_error {
        let _ = writeln!(
            lines,
            "reactbench_llm_call_failures_total{{{labels},class=\"{}\"}} {n}",
            class.as_str()
        );
    }
    family(
        &mut out,
        "reactbench_llm_call_failures_total",
        "counter",
        "Failed LLM calls by error class.",
        &lines,
    );
    let mut token_lines = String::new();
    let mut cost_lines = String::new();
    for (model, m) in agg.models() {
        let model_l = escape(model);
        for (kind, v) in [
            ("prompt", m.usage.prompt_tokens),
            ("cached", m.usage.cached_tokens),
            ("completion", m.usage.completion_tokens),
        ] {
            let _ = writeln!(
                token_lines,
                "reactbench_tokens_total{{{labels},model=\"{model_l}\",kind=\"{kind}\"}} {v}"
            );
        }
        let usd = agg.prices().cost_usd(model, &m.usage).unwrap_or(0.0);
        let _ = writeln!(
            cost_lines,
            "reactbench_cost_usd_total{{{labels},model=\"{model_l}\"}} {usd}"
        );
    }
    family(
        &mut out,
        "reactbench_tokens_total",
        "counter",
        "Tokens billed by the model that answered: prompt (cached included), cached, completion.",
        &token_lines,
    );
    family(
        &mut out,
        "reactbench_cost_usd_total",
        "counter",
        "Dollars so far by the model that answered.",
        &cost_lines,
    );
    histogram(
        &mut out,
        "reactbench_llm_call_duration_seconds",
        "LLM call latency, retries, backoff and fallbacks included.",
        &h.call_us,
        CALL_BOUNDS_S,
        labels,
    );
    histogram(
        &mut out,
        "reactbench_time_to_first_token_seconds",
        "Time to first token of streamed calls that answered.",
        &h.ttft_us,
        TTFT_BOUNDS_S,
        labels,
    );
    histogram(
        &mut out,
        "reactbench_conversation_duration_seconds",
        "Latency of conversations that reached the model.",
        &h.conversation_us,
        CONVERSATION_BOUNDS_S,
        labels,
    );
    out
}

/// A microsecond HDR histogram as a Prometheus histogram in seconds.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    h: &Histogram<u64>,
    bounds_s: &[f64],
    labels: &str,
) {
    head(out, name, "histogram", help);
    for b in bounds_s {
        let us = (b * 1e6) as u64;
        let n = if h.is_empty() {
            0
        } else {
            h.count_between(0, us)
        };
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.len());
    let sum_s = if h.is_empty() {
        0.0
    } else {
        h.mean() * h.len() as f64 / 1e6
    };
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum_s}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.len());
}
