//! The `[faults]` table and the `[[outages]]` entries: what is injected, how often, and when.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Probability of each injected fault, per chat-completion request (all default 0; their sum
/// must not exceed 1). One draw per request picks at most one fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// 429 `rate_limit_exceeded` with `retry-after` and `retry-after-ms`.
    pub rate_limit: f64,
    /// 429 `insufficient_quota` (not retryable, no retry headers).
    pub insufficient_quota: f64,
    /// 500 `server_error`.
    pub server_error: f64,
    /// 502 bad gateway.
    pub bad_gateway: f64,
    /// 503 overloaded.
    pub service_unavailable: f64,
    /// Never answer: the request hangs until the client gives up (or the server shuts down).
    pub hang: f64,
    /// Close the connection with a TCP reset instead of answering.
    pub reset: f64,
    /// 200 whose body is not valid JSON; a stream sends one broken event, then `[DONE]`.
    pub malformed_json: f64,
    /// The reply body stops half-way and the connection is dropped (streaming or not).
    pub stream_cut: f64,
    /// Streaming only: half-way, an `{"error": ...}` event ends the stream (no `[DONE]`).
    /// Non-streaming requests that draw it are served normally.
    pub stream_error_event: f64,
    /// Wait advertised by injected 429 `rate_limit_exceeded` replies (default "1s").
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate_limit: 0.0,
            insufficient_quota: 0.0,
            server_error: 0.0,
            bad_gateway: 0.0,
            service_unavailable: 0.0,
            hang: 0.0,
            reset: 0.0,
            malformed_json: 0.0,
            stream_cut: 0.0,
            stream_error_event: 0.0,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// One kind of injected fault; its `name` is the key in the config and in the stats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 `rate_limit_exceeded`.
    RateLimit,
    /// 429 `insufficient_quota`.
    InsufficientQuota,
    /// 500.
    ServerError,
    /// 502.
    BadGateway,
    /// 503.
    ServiceUnavailable,
    /// No answer.
    Hang,
    /// TCP reset.
    Reset,
    /// Invalid JSON body.
    MalformedJson,
    /// Body cut half-way.
    StreamCut,
    /// Error event half-way through a stream.
    StreamErrorEvent,
    /// 503 from a scheduled outage (not drawn: scheduled).
    Outage,
}

impl FaultKind {
    /// Every kind drawn by probability, in draw order.
    pub const DRAWN: [FaultKind; 10] = [
        FaultKind::RateLimit,
        FaultKind::InsufficientQuota,
        FaultKind::ServerError,
        FaultKind::BadGateway,
        FaultKind::ServiceUnavailable,
        FaultKind::Hang,
        FaultKind::Reset,
        FaultKind::MalformedJson,
        FaultKind::StreamCut,
        FaultKind::StreamErrorEvent,
    ];

    /// The kind's name in config keys and in `/mock/stats`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RateLimit => "rate_limit",
            FaultKind::InsufficientQuota => "insufficient_quota",
            FaultKind::ServerError => "server_error",
            FaultKind::BadGateway => "bad_gateway",
            FaultKind::ServiceUnavailable => "service_unavailable",
            FaultKind::Hang => "hang",
            FaultKind::Reset => "reset",
            FaultKind::MalformedJson => "malformed_json",
            FaultKind::StreamCut => "stream_cut",
            FaultKind::StreamErrorEvent => "stream_error_event",
            FaultKind::Outage => "outage",
        }
    }
}

impl FaultConfig {
    /// The configured probability of a drawn kind (0 for [`FaultKind::Outage`]).
    pub fn probability(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::RateLimit => self.rate_limit,
            FaultKind::InsufficientQuota => self.insufficient_quota,
            FaultKind::ServerError => self.server_error,
            FaultKind::BadGateway => self.bad_gateway,
            FaultKind::ServiceUnavailable => self.service_unavailable,
            FaultKind::Hang => self.hang,
            FaultKind::Reset => self.reset,
            FaultKind::MalformedJson => self.malformed_json,
            FaultKind::StreamCut => self.stream_cut,
            FaultKind::StreamErrorEvent => self.stream_error_event,
            FaultKind::Outage => 0.0,
        }
    }

    /// The fault a uniform draw `u` in `[0, 1)` lands on, if any (cumulative, in
    /// [`FaultKind::DRAWN`] order).
    pub fn pick(&self, u: f64) -> Option<FaultKind> {
        let mut acc = 0.0;
        for kind in FaultKind::DRAWN {
            acc += self.probability(kind);
            if u < acc {
                return Some(kind);
            }
        }
        None
    }
}

/// A scheduled outage: `model` answers 503 from `from` to `to` after server start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// The model that goes down; `"*"` means every model.
    pub model: String,
    /// Start offset from server start (inclusive).
    #[serde(with = "humantime_serde")]
    pub from: Duration,
    /// End offset from server start (exclusive).
    #[serde(with = "humantime_serde")]
    pub to: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_pick_is_cumulative() {
        let f = FaultConfig {
            rate_limit: 0.25,
            hang: 0.25,
            ..FaultConfig::default()
        };
        assert_eq!(f.pick(0.1), Some(FaultKind::RateLimit));
        assert_eq!(f.pick(0.3), Some(FaultKind::Hang));
        assert_eq!(f.pick(0.6), None);
    }
}
