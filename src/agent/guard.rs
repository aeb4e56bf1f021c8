//! An external guard stage (`[agent.guard]`): before the model is called, the turn's user input
//! goes to a guard service over HTTP, which allows or flags it. Two request shapes: OpenAI's
//! moderations (`{"model", "input"}` to `{"results": [{"flagged", "category_scores"}]}`) and a
//! generic one (`{"text"}` to `{"flagged", "score"}`).
//!
//! The guard is on the critical path, as in production: its latency is part of the
//! conversation's, its failures are retried (`retries`, short backoff) and counted by a breaker
//! of its own, and when it cannot give a verdict the turn goes on (`on_error = "allow"`,
//! fail-open, the default) or is blocked (`"block"`, fail-closed). What it did is a
//! [`GuardRecord`] on the conversation.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use tokio::time::Instant;

use crate::agent::breaker::{Breaker, BreakerConfig, CallResult};
use crate::client::{GetError, Poster};
use crate::record::{GuardRecord, GuardVerdict};
use crate::units::HumanDuration;

/// Largest guard reply read.
const MAX_REPLY_BYTES: usize = 1 << 20;
/// Wait before a retry (doubled each time).
const RETRY_BASE: Duration = Duration::from_millis(20);

/// The guard service's request and reply shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardShape {
    /// OpenAI's `POST /v1/moderations`.
    #[default]
    Moderation,
    /// `{"text": ...}` to `{"flagged": bool, "score": number}`.
    Generic,
}

/// What a turn does when the guard gives no verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Fail-open: the turn goes on unguarded.
    #[default]
    Allow,
    /// Fail-closed: the turn is blocked.
    Block,
}

/// `[agent.guard]` in a scenario file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// The guard's URL (`url`), such as `https://api.openai.com/v1/moderations`; `"mock"` with
    /// the embedded mock (its `/v1/moderations`, or `/guard` for the generic shape).
    pub url: String,
    /// Request and reply shape (`shape`, `"moderation"` or `"generic"`).
    #[serde(default)]
    pub shape: GuardShape,
    /// The moderation model asked for (`model`, `"omni-moderation-latest"`).
    #[serde(default = "default_model")]
    pub model: String,
    /// One request's timeout (`timeout`, `"2s"`).
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Retries after a failed request (`retries`, 1).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Without a verdict: `"allow"` (fail-open, default) or `"block"` (fail-closed).
    #[serde(default)]
    pub on_error: OnError,
    /// Generic shape: a `score` at or above this flags even when `flagged` is false
    /// (`threshold`, 0.5).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Dollars per guard request, for the report (`usd_per_call`, 0).
    #[serde(default)]
    pub usd_per_call: f64,
    /// Name of the environment variable holding the guard's API key (`api_key_env`), sent as
    /// `Authorization: Bearer`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The guard's own breaker (`breaker`, the same keys as `[agent.breaker]`).
    #[serde(default)]
    pub breaker: BreakerConfig,
}

fn default_model() -> String {
    "omni-moderation-latest".to_string()
}

fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(2))
}

fn default_retries() -> u32 {
    1
}

fn default_threshold() -> f64 {
    0.5
}

impl GuardConfig {
    /// Checks the values serde cannot: returns the key (under `agent.guard.`), the value and
    /// what would be accepted.
    pub fn validate(&self) -> Result<(), (String, String, String)> {
        let bad = |k: &str, v: String, hint: &str| Err((k.to_string(), v, hint.to_string()));
        if self.url != "mock" {
            let ok = self.url.parse::<http::Uri>().ok().is_some_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            });
            if !ok {
                return bad(
                    "url",
                    format!("\"{}\"", crate::client::redact_url(&self.url)),
                    "an http:// or https:// URL of a guard service, such as \
                     \"https://api.openai.com/v1/moderations\", or \"mock\" for the embedded mock",
                );
            }
        }
        if self.timeout.get().is_zero() {
            return bad(
                "timeout",
                "\"0s\"".into(),
                "a positive timeout such as \"2s\"",
            );
        }
        if self.retries > 10 {
            return bad("retries", self.retries.to_string(), "at most 10 retries");
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return bad(
                "threshold",
                self.threshold.to_string(),
                "a score from 0 to 1, such as 0.5",
            );
        }
        if !(self.usd_per_call.is_finite() && self.usd_per_call >= 0.0) {
            return bad(
                "usd_per_call",
                self.usd_per_call.to_string(),
                "dollars per request, 0 or more, such as 0.0001",
            );
        }
        self.breaker
            .validate()
            .map_err(|m| ("breaker".to_string(), String::new(), m))
    }
}

/// A guard ready to call.
pub struct Guard {
    config: GuardConfig,
    poster: Poster,
    breaker: Breaker,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("shape", &self.config.shape)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard calling `url` (the config's, or the embedded mock's when it says `"mock"`).
    pub fn new(config: GuardConfig, url: &str) -> Result<Guard, String> {
        let mut headers = HeaderMap::new();
        if let Some(var) = &config.api_key_env {
            let key = std::env::var(var).map_err(|_| {
                format!("agent.guard.api_key_env: the environment variable {var} is not set")
            })?;
            let value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                format!("agent.guard.api_key_env: the value of {var} is not a valid header value")
            })?;
            headers.insert(http::header::AUTHORIZATION, value);
        }
        let poster = Poster::new(url, headers, config.timeout.get(), MAX_REPLY_BYTES)?;
        let breaker = Breaker::new(url, "guard", config.breaker.clone());
        Ok(Guard {
            config,
            poster,
            breaker,
        })
    }

    /// Its breaker (for the run's transition log).
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Asks the guard about `text`; retries failed requests; never fails: a guard that gives no
    /// verdict is a record with the error and what the policy did.
    pub async fn check(&self, text: &str) -> GuardRecord {
        let started = Instant::now();
        let body = match self.config.shape {
            GuardShape::Moderation => {
                serde_json::json!({ "model": self.config.model, "input": text })
            }
            GuardShape::Generic => serde_json::json!({ "text": text }),
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut attempts = 0;
        let mut last_error = String::new();
        let mut last_status = None;
        for attempt in 0..=self.config.retries {
            if attempt > 0 {
                crate::units::sleep_for(RETRY_BASE * 2u32.pow(attempt - 1)).await;
            }
            let Ok(permit) = self.breaker.try_acquire() else {
                last_error = "breaker_open".to_string();
                break;
            };
            attempts += 1;
            let reply = self.poster.post(&body).await;
            let verdict = match reply {
                Ok(bytes) => self
                    .verdict(&bytes)
                    .ok_or_else(|| ("malformed".to_string(), None)),
                Err(e) => {
                    let status = match e {
                        GetError::Status(s) => Some(s),
                        _ => None,
                    };
                    Err((error_kind(&e).to_string(), status))
                }
            };
            match verdict {
                Ok((flagged, score)) => {
                    permit.record(CallResult::Success);
                    return GuardRecord {
                        started,
                        latency: started.elapsed(),
                        attempts,
                        verdict: if flagged {
                            GuardVerdict::Flagged
                        } else {
                            GuardVerdict::Allowed
                        },
                        score,
                        error: None,
                        status: Some(200),
                        usd: self.config.usd_per_call * f64::from(attempts),
                    };
                }
                Err((kind, status)) => {
                    // A 4xx other than 408 and 429 says nothing of the guard's health and will
                    // not change on a retry.
                    let client_error =
                        status.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429);
                    permit.record(if client_error {
                        CallResult::Neutral
                    } else {
                        CallResult::Failure
                    });
                    last_error = kind;
                    last_status = status;
                    if client_error {
                        break;
                    }
                }
            }
        }
        GuardRecord {
            started,
            latency: started.elapsed(),
            attempts,
            verdict: match self.config.on_error {
                OnError::Allow => GuardVerdict::FailedOpen,
                OnError::Block => GuardVerdict::FailedClosed,
            },
            score: None,
            error: Some(last_error),
            status: last_status,
            usd: self.config.usd_per_call * f64::from(attempts),
        }
    }

    /// `(flagged, score)` from a reply body, or `None` when it is not the configured shape.
    fn verdict(&self, bytes: &[u8]) -> Option<(bool, Option<f64>)> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        match self.config.shape {
            GuardShape::Moderation => {
                let results = v.get("results")?.as_array()?;
                if results.is_empty() {
                    return None;
                }
                let mut flagged = false;
                let mut top: Option<f64> = None;
                for r in results {
                    flagged |= r.get("flagged")?.as_bool()?;
                    if let Some(scores) = r.get("category_scores").and_then(|s| s.as_object()) {
                        for s in scores.values().filter_map(|s| s.as_f64()) {
                            top = Some(top.map_or(s, |t: f64| t.max(s)));
                        }
                    }
                }
                Some((flagged, top))
            }
            GuardShape::Generic => {
                let flagged = v.get("flagged").and_then(|f| f.as_bool());
                let score = v.get("score").and_then(|s| s.as_f64());
                if flagged.is_none() && score.is_none() {
                    return None;
                }
                let by_score = score.is_some_and(|s| s >= self.config.threshold);
                Some((flagged.unwrap_or(false) || by_score, score))
            }
        }
    }
}

/// The error kind recorded for a failed guard request.
fn error_kind(e: &GetError) -> &'static str {
    match e {
        GetError::Connect(_) => "connection",
        GetError::Timeout(_) => "timeout",
        GetError::Status(s) if *s == 429 => "rate_limited",
        GetError::Status(s) if *s >= 500 => "server",
        GetError::Status(_) => "client",
        GetError::Broken(_) | GetError::TooLarge(_) => "malformed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(shape: GuardShape) -> Guard {
        let config: GuardConfig = toml::from_str(&format!(
            "url = \"http://127.0.0.1:9/x\"\nshape = \"{}\"",
            match shape {
                GuardShape::Moderation => "moderation",
                GuardShape::Generic => "generic",
            }
        ))
        .unwrap();
        config.validate().unwrap();
        Guard::new(config, "http://127.0.0.1:9/x").unwrap()
    }

    #[test]
    fn moderation_replies_read_flagged_and_the_top_score() {
        let g = guard(GuardShape::Moderation);
        let reply = br#"{"id":"m","results":[{"flagged":true,"categories":{},"category_scores":{"a":0.2,"b":0.9}}]}"#;
        assert_eq!(g.verdict(reply), Some((true, Some(0.9))));
        let reply = br#"{"results":[{"flagged":false,"category_scores":{"a":0.01}}]}"#;
        assert_eq!(g.verdict(reply), Some((false, Some(0.01))));
        assert_eq!(g.verdict(br#"{"results":[]}"#), None);
        assert_eq!(g.verdict(b"<html>"), None);
    }

    #[test]
    fn generic_replies_flag_by_flag_or_score() {
        let g = guard(GuardShape::Generic);
        assert_eq!(
            g.verdict(br#"{"flagged":false,"score":0.7}"#),
            Some((true, Some(0.7)))
        );
        assert_eq!(
            g.verdict(br#"{"flagged":false,"score":0.1}"#),
            Some((false, Some(0.1)))
        );
        assert_eq!(g.verdict(br#"{"flagged":true}"#), Some((true, None)));
        assert_eq!(g.verdict(br#"{"ok":1}"#), None);
    }

    #[test]
    fn bad_settings_name_their_key() {
        let c: GuardConfig = toml::from_str("url = \"ftp://x\"").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "url");
        let c: GuardConfig = toml::from_str("url = \"mock\"\nthreshold = 2.0").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "threshold");
        assert!(toml::from_str::<GuardConfig>("url = \"mock\"\non_error = \"maybe\"").is_err());
    }

    #[tokio::test]
    async fn a_guard_that_is_not_there_fails_by_policy() {
        let g = guard(GuardShape::Moderation);
        let r = g.check("hello").await;
        assert_eq!(r.verdict, GuardVerdict::FailedOpen);
        assert_eq!(r.error.as_deref(), Some("connection"));
        assert_eq!(r.attempts, 2, "one retry by default");
    }
}
