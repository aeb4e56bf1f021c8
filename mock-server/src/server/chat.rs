//! `POST /v1/chat/completions`: the handler, a pipeline over the other files of `server`.
//!
//! Its steps, in the order the crate docs give: key (401), body size (413), JSON and fields
//! (400), model (404), outage (503), injected fault, context window (400), rate limits (429),
//! reply. Each step either hands its values on or returns the reply that ends the request; the
//! outcome is recorded once, with the status of the reply sent.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::time::Instant;

use super::faults::{self, Instead};
use super::reply::{self, Answer};
use super::request::{self, Parsed};
use super::respond::{self, Body, add_limit_headers, rate_limited, unauthorized};
use super::state::State;
use crate::config::{FaultKind, ModelSettings};
use crate::rng::{SplitMix, combine};
use crate::script;
use crate::stats::Outcome;
use crate::tokens;
use crate::wire::Usage;
use http_body_util::BodyExt as _;

/// Records the outcome with the reply's status and returns the reply.
fn finish(state: &State, mut outcome: Outcome<'_>, r: Response<Body>) -> Response<Body> {
    outcome.status = Some(r.status().as_u16());
    state.stats.record(&outcome);
    r
}

/// Answers one chat request. An error means no reply: the client broke the connection
/// mid-body, or a fault hangs or resets it.
pub async fn chat(
    state: &Arc<State>,
    req: Request<Incoming>,
    reset: &AtomicBool,
) -> Result<Response<Body>, io::Error> {
    // Every delay of the reply is an instant measured from here: a relative sleep per token
    // rounds each gap up to tokio's 1 ms tick, and a 100-token stream ran 10-33% long.
    let started = Instant::now();
    let seq = state.stats.chat_request();
    let config = &state.config;
    let mut outcome = Outcome::default();

    if !state.authorized(&req) {
        return Ok(finish(state, outcome, unauthorized(&req)));
    }
    let body = match request::read_body(req, config.max_body_bytes).await? {
        Ok(body) => body,
        Err(r) => return Ok(finish(state, outcome, r)),
    };
    let mut rest = String::new();
    let Parsed { request, tools } = match request::parse(&state.tools, &body, &mut rest) {
        Ok(parsed) => parsed,
        Err(r) => return Ok(finish(state, outcome, r)),
    };
    let checked = match request::check(&request, &tools, config, &mut outcome) {
        Ok(checked) => checked,
        Err(r) => return Ok(finish(state, outcome, r)),
    };
    let model = checked.model;
    let settings = state.settings(model);

    if let Some(o) = state.in_outage(model) {
        outcome.fault = Some(FaultKind::Outage);
        return Ok(finish(state, outcome, faults::outage(model, o)));
    }

    // Per-request randomness: faults and jitter follow the arrival order from the seed.
    let mut rng = SplitMix::new(combine(config.seed, seq));
    let fault = faults::draw(&config.faults, &mut rng, request.stream);
    outcome.fault = fault;
    match faults::instead(fault, model, &config.faults) {
        None => {}
        Some(Instead::Reply(r)) => return Ok(finish(state, outcome, r)),
        Some(Instead::Silence(how)) => {
            return Err(faults::without_reply(state, &outcome, how, reset).await);
        }
    }

    let encoding = tokens::encoding_for(model);
    let tool_tokens = state.tokens.tools_tokens(encoding, &tools);
    let prompt = state.tokens.prompt(
        encoding.bpe(),
        checked.messages,
        settings.prompt_caching,
        tool_tokens,
    );
    if let Err(r) = checked.fits_context(settings, prompt.prompt_tokens) {
        outcome.fault = None;
        return Ok(finish(state, outcome, r));
    }

    let reply = script::reply(
        config.seed,
        &config.script,
        settings.completion_tokens,
        encoding,
        &checked.script_input(&request, &tools),
    );

    let cost = prompt.prompt_tokens + reply.completion_tokens;
    let limit_headers = match state.take_limits(model, settings, cost) {
        Ok(headers) => headers,
        Err(l) => {
            outcome.fault = None;
            outcome.rate_limited = Some(l.kind);
            return Ok(finish(state, outcome, rate_limited(model, &l)));
        }
    };
    outcome.dangerous = reply.dangerous;

    // The capacity model: wait for a place (the wait is part of TTFT: the reply's schedule
    // starts once served), at the token rate the throughput's share allows.
    let mut started = started;
    let mut paced: Option<ModelSettings> = None;
    let admission = match state.capacity(model) {
        None => None,
        Some(cap) => match cap.admit().await {
            Err(full) => {
                state.stats.queue_rejected(state.elapsed_s(), full.waiting);
                outcome.fault = None;
                outcome.rate_limited = Some("queue");
                let r = respond::queue_full(model, settings.queue_full_status);
                return Ok(finish(state, outcome, r));
            }
            Ok(a) => {
                state.stats.queue_admitted(
                    state.elapsed_s(),
                    a.waited,
                    a.waiting_at_admission,
                    a.active_at_admission,
                );
                started = Instant::now();
                paced = Some(ModelSettings {
                    per_token: cap.token_gap(settings.per_token, a.active_at_admission),
                    ..settings.clone()
                });
                Some(a)
            }
        },
    };
    let settings = paced.as_ref().unwrap_or(settings);

    let answer = Answer {
        seq,
        started,
        model,
        settings,
        reply: &reply,
        usage: Usage::new(
            prompt.prompt_tokens,
            prompt.cached_tokens,
            reply.completion_tokens,
        ),
        fault,
        stream: checked.stream,
    };
    let mut r = reply::answer(state, &answer, &mut rng, &mut outcome).await;
    add_limit_headers(&mut r, &limit_headers);
    // The place is held until the reply's body is sent (or dropped).
    if let Some(admission) = admission {
        r = r.map(|body| {
            body.map_frame(move |frame| {
                let _held = &admission;
                frame
            })
            .boxed_unsync()
        });
    }
    Ok(finish(state, outcome, r))
}
