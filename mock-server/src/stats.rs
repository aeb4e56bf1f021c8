//! Ground-truth counters, served as JSON by `GET /mock/stats`.
//!
//! Each request's outcome is recorded with one short lock when its reply is decided, and the
//! tokens of a reply with one more when its usage object is handed to the connection; no lock
//! is held across an await. The counted events are documented on [`StatsSnapshot`]'s fields.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters keyed by status codes, fault names and the models of the scenario: no chosen-key
/// defence needed, so foldhash instead of SipHash (hashing was most of recording an outcome).
type HashMap<K, V> = foldhash::HashMap<K, V>;

use serde::{Deserialize, Serialize};

use crate::config::FaultKind;

/// Token totals of replies that carried a `usage` object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenTotals {
    /// Replies counted: non-streaming 200 replies with a valid body, and streams whose usage
    /// chunk (`stream_options.include_usage`) was sent.
    pub replies: u64,
    /// Sum of their `usage.prompt_tokens`.
    pub prompt_tokens: u64,
    /// Sum of their `usage.prompt_tokens_details.cached_tokens`.
    pub cached_tokens: u64,
    /// Sum of their `usage.completion_tokens`.
    pub completion_tokens: u64,
}

/// The capacity model's queue (models with `max_concurrency` or `throughput_tokens_per_s`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueTotals {
    /// Requests admitted to be served.
    pub admitted: u64,
    /// Of those, requests that waited for a place first.
    pub queued: u64,
    /// Requests refused because `max_queue` requests were waiting.
    pub rejected: u64,
    /// Sum of the admitted requests' waits, microseconds.
    pub wait_us_total: u64,
    /// Longest wait, microseconds.
    pub wait_us_max: u64,
    /// Most requests seen waiting at once.
    pub max_waiting: u64,
    /// Most requests seen in progress at once.
    pub max_running: u64,
    /// The same per second of the server's life (seconds with no admission or refusal are
    /// left out).
    pub by_second: Vec<QueueSecond>,
}

/// One second of the queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSecond {
    /// Seconds since the server started.
    pub second: u64,
    /// Requests admitted in this second.
    pub admitted: u64,
    /// Of those, requests that had waited.
    pub queued: u64,
    /// Requests refused in this second.
    pub rejected: u64,
    /// Sum of the waits of the requests admitted in this second, microseconds.
    pub wait_us_total: u64,
    /// Longest of those waits, microseconds.
    pub wait_us_max: u64,
    /// Most requests seen waiting at once in this second.
    pub max_waiting: u64,
    /// Most requests seen in progress at once in this second.
    pub max_running: u64,
}

/// Longest queue timeline kept: one day of seconds.
const MAX_QUEUE_SECONDS: u64 = 86_400;

/// A copy of every counter; the JSON of `GET /mock/stats`.
///
/// "Chat request" means a `POST /v1/chat/completions` whose headers arrived; other routes
/// (models, health, stats) are not counted anywhere but in `http_requests`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// TCP connections accepted.
    pub connections_accepted: u64,
    /// HTTP requests on any route.
    pub http_requests: u64,
    /// Chat requests, whatever their outcome (errors, faults, hangs and resets included).
    pub requests_total: u64,
    /// Chat requests whose body parsed with `"stream": true`.
    pub streamed: u64,
    /// Chat requests whose body parsed without `"stream": true`.
    pub non_streamed: u64,
    /// Chat requests by the `model` of their parsed body (unknown models included).
    pub by_model: BTreeMap<String, u64>,
    /// Chat replies by HTTP status sent (`"200"`, `"429"` ...). Hangs and resets send none;
    /// a cut stream or malformed body counts as the 200 it started as.
    pub by_status: BTreeMap<String, u64>,
    /// `by_status` split by model, for replies to requests whose body named a model.
    pub by_model_status: BTreeMap<String, BTreeMap<String, u64>>,
    /// Faults by kind: the drawn kinds (`rate_limit`, `insufficient_quota`, `server_error`,
    /// `bad_gateway`, `service_unavailable`, `hang`, `reset`, `malformed_json`, `stream_cut`,
    /// `stream_error_event`) and `outage` for 503s of scheduled outages.
    pub faults: BTreeMap<String, u64>,
    /// 429s from the configured rpm (`"requests"`) and tpm (`"tokens"`) limits.
    pub rate_limited: BTreeMap<String, u64>,
    /// Replies that proposed the dangerous tool.
    pub dangerous_actions: u64,
    /// Tokens of replies that carried a `usage` object (see [`TokenTotals::replies`]).
    pub tokens: TokenTotals,
    /// `tokens` by model.
    pub tokens_by_model: BTreeMap<String, TokenTotals>,
    /// The guard endpoints (`POST /v1/moderations`, `POST /guard`).
    #[serde(default)]
    pub guard: GuardTotals,
    /// The capacity model's queue, summed over models (absent when no model has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueTotals>,
}

/// What the guard endpoints answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardTotals {
    /// Guard requests, whatever their outcome.
    pub requests: u64,
    /// Verdicts that flagged the text.
    pub flagged: u64,
    /// Verdicts that did not.
    pub allowed: u64,
    /// Injected 500s.
    pub errors: u64,
    /// Requests whose body was not a guard request (400).
    pub invalid: u64,
}

/// What happened to one chat request, recorded once.
#[derive(Debug, Default)]
pub struct Outcome<'a> {
    /// The model of the parsed body.
    pub model: Option<&'a str>,
    /// The body's `stream`, when it parsed.
    pub stream: Option<bool>,
    /// The HTTP status sent, if any.
    pub status: Option<u16>,
    /// The fault injected, if any.
    pub fault: Option<FaultKind>,
    /// `"requests"` or `"tokens"` when a configured limit said 429.
    pub rate_limited: Option<&'static str>,
    /// The reply proposed the dangerous tool.
    pub dangerous: bool,
    /// Prompt, cached and completion tokens of a reply delivered whole with its usage
    /// (non-streaming; streams record theirs with [`Stats::usage`] when the chunk is sent).
    pub usage: Option<[u64; 3]>,
}

#[derive(Default)]
struct ModelCounters {
    requests: u64,
    by_status: HashMap<u16, u64>,
    tokens: TokenTotals,
}

#[derive(Default)]
struct Inner {
    streamed: u64,
    non_streamed: u64,
    by_status: HashMap<u16, u64>,
    models: HashMap<String, ModelCounters>,
    faults: HashMap<&'static str, u64>,
    rate_limited: HashMap<&'static str, u64>,
    dangerous: u64,
    tokens: TokenTotals,
    queue: Option<QueueTotals>,
}

impl Inner {
    fn model(&mut self, name: &str) -> &mut ModelCounters {
        if !self.models.contains_key(name) {
            self.models
                .insert(name.to_string(), ModelCounters::default());
        }
        self.models.get_mut(name).expect("inserted just above")
    }
}

/// The live counters.
#[derive(Default)]
pub struct Stats {
    connections: AtomicU64,
    http_requests: AtomicU64,
    requests: AtomicU64,
    guard: [AtomicU64; 5],
    inner: Mutex<Inner>,
}

fn add(t: &mut TokenTotals, prompt: u64, cached: u64, completion: u64) {
    t.replies += 1;
    t.prompt_tokens += prompt;
    t.cached_tokens += cached;
    t.completion_tokens += completion;
}

impl Stats {
    /// A connection was accepted.
    pub fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// An HTTP request arrived (any route).
    pub fn http_request(&self) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A chat request arrived; returns its sequence number (0, 1, ...).
    pub fn chat_request(&self) -> u64 {
        self.requests.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a chat request's outcome.
    pub fn record(&self, o: &Outcome<'_>) {
        let Ok(mut s) = self.inner.lock() else { return };
        match o.stream {
            Some(true) => s.streamed += 1,
            Some(false) => s.non_streamed += 1,
            None => {}
        }
        if let Some(code) = o.status {
            *s.by_status.entry(code).or_default() += 1;
        }
        if let Some(f) = o.fault {
            *s.faults.entry(f.name()).or_default() += 1;
        }
        if let Some(r) = o.rate_limited {
            *s.rate_limited.entry(r).or_default() += 1;
        }
        if o.dangerous {
            s.dangerous += 1;
        }
        if let Some([p, c, n]) = o.usage {
            add(&mut s.tokens, p, c, n);
        }
        if let Some(model) = o.model {
            let m = s.model(model);
            m.requests += 1;
            if let Some(code) = o.status {
                *m.by_status.entry(code).or_default() += 1;
            }
            if let Some([p, c, n]) = o.usage {
                add(&mut m.tokens, p, c, n);
            }
        }
    }

    /// A guard request arrived; returns its sequence number.
    pub fn guard_request(&self) -> u64 {
        self.guard[0].fetch_add(1, Ordering::Relaxed)
    }

    /// A guard request ended: `flagged`, `allowed`, `error` or `invalid`.
    pub fn guard_outcome(&self, outcome: &str) {
        let i = match outcome {
            "flagged" => 1,
            "allowed" => 2,
            "error" => 3,
            _ => 4,
        };
        self.guard[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Records the usage of a reply that was handed to the connection.
    pub fn usage(&self, model: &str, prompt: u64, cached: u64, completion: u64) {
        let Ok(mut s) = self.inner.lock() else { return };
        add(&mut s.tokens, prompt, cached, completion);
        add(&mut s.model(model).tokens, prompt, cached, completion);
    }

    /// A consistent copy of every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut snap = StatsSnapshot {
            connections_accepted: self.connections.load(Ordering::Relaxed),
            http_requests: self.http_requests.load(Ordering::Relaxed),
            requests_total: self.requests.load(Ordering::Relaxed),
            guard: GuardTotals {
                requests: self.guard[0].load(Ordering::Relaxed),
                flagged: self.guard[1].load(Ordering::Relaxed),
                allowed: self.guard[2].load(Ordering::Relaxed),
                errors: self.guard[3].load(Ordering::Relaxed),
                invalid: self.guard[4].load(Ordering::Relaxed),
            },
            ..StatsSnapshot::default()
        };
        let Ok(s) = self.inner.lock() else {
            return snap;
        };
        snap.streamed = s.streamed;
        snap.non_streamed = s.non_streamed;
        snap.by_status = s
            .by_status
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        for (name, m) in &s.models {
            snap.by_model.insert(name.clone(), m.requests);
            if !m.by_status.is_empty() {
                snap.by_model_status.insert(
                    name.clone(),
                    m.by_status
                        .iter()
                        .map(|(k, v)| (k.to_string(), *v))
                        .collect(),
                );
            }
            if m.tokens.replies > 0 {
                snap.tokens_by_model.insert(name.clone(), m.tokens);
            }
        }
        snap.faults = s.faults.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        snap.rate_limited = s
            .rate_limited
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        snap.dangerous_actions = s.dangerous;
        snap.tokens = s.tokens;
        snap.queue = s.queue.clone();
        snap
    }

    /// A request was admitted by a capacity model after waiting `waited`, `second`s into the
    /// server's life, with `waiting` others waiting and `running` in progress.
    pub fn queue_admitted(
        &self,
        second: u64,
        waited: std::time::Duration,
        waiting: u64,
        running: u64,
    ) {
        let Ok(mut s) = self.inner.lock() else { return };
        let wait_us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        let q = s.queue.get_or_insert_with(QueueTotals::default);
        q.admitted += 1;
        q.queued += u64::from(wait_us > 0);
        q.wait_us_total = q.wait_us_total.saturating_add(wait_us);
        q.wait_us_max = q.wait_us_max.max(wait_us);
        q.max_waiting = q.max_waiting.max(waiting);
        q.max_running = q.max_running.max(running);
        if let Some(sec) = queue_second(q, second) {
            sec.admitted += 1;
            sec.queued += u64::from(wait_us > 0);
            sec.wait_us_total = sec.wait_us_total.saturating_add(wait_us);
            sec.wait_us_max = sec.wait_us_max.max(wait_us);
            sec.max_waiting = sec.max_waiting.max(waiting);
            sec.max_running = sec.max_running.max(running);
        }
    }

    /// A request was refused by a full queue, `second`s into the server's life, with `waiting`
    /// requests waiting.
    pub fn queue_rejected(&self, second: u64, waiting: u64) {
        let Ok(mut s) = self.inner.lock() else { return };
        let q = s.queue.get_or_insert_with(QueueTotals::default);
        q.rejected += 1;
        q.max_waiting = q.max_waiting.max(waiting);
        if let Some(sec) = queue_second(q, second) {
            sec.rejected += 1;
            sec.max_waiting = sec.max_waiting.max(waiting);
        }
    }
}

/// The row of `second` (appended in order; a late writer for an earlier second finds it by
/// search), or `None` past a day.
fn queue_second(q: &mut QueueTotals, second: u64) -> Option<&mut QueueSecond> {
    if second >= MAX_QUEUE_SECONDS {
        return None;
    }
    let i = match q.by_second.binary_search_by_key(&second, |s| s.second) {
        Ok(i) => i,
        Err(i) => {
            q.by_second.insert(
                i,
                QueueSecond {
                    second,
                    ..QueueSecond::default()
                },
            );
            i
        }
    };
    q.by_second.get_mut(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_snapshots() {
        let s = Stats::default();
        s.connection();
        assert_eq!(s.chat_request(), 0);
        s.record(&Outcome {
            model: Some("m"),
            stream: Some(true),
            status: Some(200),
            ..Outcome::default()
        });
        s.record(&Outcome {
            fault: Some(FaultKind::Reset),
            ..Outcome::default()
        });
        s.usage("m", 10, 0, 5);
        let snap = s.snapshot();
        assert_eq!(snap.requests_total, 1);
        assert_eq!(snap.by_status["200"], 1);
        assert_eq!(snap.by_model_status["m"]["200"], 1);
        assert_eq!(snap.faults["reset"], 1);
        assert_eq!(snap.tokens.completion_tokens, 5);
        assert_eq!(snap.tokens_by_model["m"].prompt_tokens, 10);
        let json = serde_json::to_string(&snap).expect("serializes");
        let back: StatsSnapshot = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, snap);
    }
}
