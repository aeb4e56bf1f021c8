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
        snap
    }
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
