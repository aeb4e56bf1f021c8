//! Checks that hold across tables (a real endpoint needs a spend cap, a threshold names a model
//! the run calls, every span fits the bounds, the load model has an end), run after loading and
//! again after overrides.

use std::time::Duration;

use super::error::ScenarioError;
use super::plan::{
    Endpoint, LoadShape, MAX_DURATION, MAX_RATE_PER_S, MAX_TIME_SCALE, MIN_RATE_PER_S, Plan,
};
use crate::units::HumanDuration;

/// Checks that hold across tables; run after loading and after overrides. The first problem
/// found is the one reported, in this order.
pub(super) fn check_invariants(plan: &Plan) -> Result<(), ScenarioError> {
    check_costs(plan)?;
    check_threshold_models(plan)?;
    check_spans(plan)?;
    check_guard(plan)?;
    check_run_end(plan)
}

/// `agent.guard.url = "mock"` needs the embedded mock.
fn check_guard(plan: &Plan) -> Result<(), ScenarioError> {
    match (&plan.agent.guard, &plan.endpoint.target) {
        (Some(g), Endpoint::Http { .. }) if g.url == "mock" => Err(invalid(
            plan,
            "agent.guard.url",
            "\"mock\"",
            "the guard service's URL, such as \"https://api.openai.com/v1/moderations\" \
             (\"mock\" names the embedded mock's guard, for `endpoint.kind = \"mock\"` only)",
        )),
        _ => Ok(()),
    }
}

fn invalid(plan: &Plan, key: &str, value: &str, expected: &str) -> ScenarioError {
    ScenarioError::Invalid {
        path: plan.source.clone(),
        key: key.into(),
        value: value.into(),
        expected: expected.into(),
    }
}

/// A real endpoint needs a spend cap, and a spend cap needs a completion limit.
fn check_costs(plan: &Plan) -> Result<(), ScenarioError> {
    if matches!(plan.endpoint.target, Endpoint::Http { .. }) && plan.limits.spend_cap_usd.is_none()
    {
        return Err(invalid(
            plan,
            "limits.spend_cap_usd",
            "(missing)",
            "a real endpoint costs money: set a run-wide cap in dollars, such as `[limits] spend_cap_usd = 5.0`",
        ));
    }
    // The cap reserves each call's worst case before sending it; without a completion limit
    // that is the model's whole output window, so no call would ever fit under a small cap.
    if plan.limits.spend_cap_usd.is_some() && plan.agent.max_tokens.is_none() {
        return Err(invalid(
            plan,
            "agent.max_tokens",
            "(missing)",
            "a completion limit per call with a spend cap, such as `[agent] max_tokens = 512`: the cap reserves each call's worst case before sending it",
        ));
    }
    Ok(())
}

/// A per-model threshold names a model the run may call.
fn check_threshold_models(plan: &Plan) -> Result<(), ScenarioError> {
    // A per-model threshold on a model the run never calls could only be found missing after
    // the whole load.
    let models: Vec<&str> = plan.agent.models().collect();
    for metric in plan.thresholds.keys() {
        if let Some(model) = crate::report::gates::model_of_path(metric)
            && !models.contains(&model)
        {
            let mut usable = format!("{} (agent.model)", models[0]);
            for m in &models[1..] {
                usable.push_str(&format!(", {m} (agent.fallback)"));
            }
            return Err(invalid(
                plan,
                &format!("thresholds.\"{metric}\""),
                model,
                &format!("a model the scenario can call: {usable}"),
            ));
        }
    }
    Ok(())
}

/// Rates, time scales and every duration within their bounds.
fn check_spans(plan: &Plan) -> Result<(), ScenarioError> {
    let load = &plan.load;
    // Bounds keep every later `Instant + Duration` from overflowing, and catch typos.
    let mut spans = vec![
        ("grace", Some(load.grace)),
        ("duration", load.duration),
        ("load.think_time", Some(load.think_time.max)),
        ("endpoint.timeout", Some(plan.endpoint.timeout)),
        (
            "endpoint.connect_timeout",
            Some(plan.endpoint.connect_timeout),
        ),
        ("endpoint.call_deadline", plan.endpoint.call_deadline),
        (
            "agent.breaker.recovery_timeout",
            Some(plan.agent.breaker.recovery_timeout.0),
        ),
        (
            "agent.retry.base_delay",
            Some(plan.agent.retry.base_delay.0),
        ),
        ("agent.retry.max_delay", Some(plan.agent.retry.max_delay.0)),
        (
            "agent.retry.max_server_wait",
            Some(plan.agent.retry.max_server_wait.0),
        ),
        ("agent.sessions.ttl", Some(plan.agent.sessions.ttl.0)),
    ];
    match &load.shape {
        LoadShape::Closed(c) => {
            let total = c
                .stages
                .iter()
                .try_fold(Duration::ZERO, |a, s| a.checked_add(s.duration));
            let key = if c.explicit_stages {
                "load.stages"
            } else {
                "load.ramp_up"
            };
            spans.push((key, Some(total.unwrap_or(Duration::MAX))));
        }
        LoadShape::Open(o) => {
            let per_s = o.arrival_rate.per_second;
            if !(MIN_RATE_PER_S..=MAX_RATE_PER_S).contains(&per_s) {
                return Err(invalid(
                    plan,
                    "load.arrival_rate",
                    &format!("\"{}\"", o.arrival_rate),
                    "a rate from 1/d to 1000000/s, such as \"5/s\"",
                ));
            }
        }
        LoadShape::Replay(r) => {
            if r.time_scale > MAX_TIME_SCALE {
                return Err(invalid(
                    plan,
                    "load.time_scale",
                    &r.time_scale.to_string(),
                    "a positive number up to 1000: 1 keeps the recorded spacing, 0.5 replays twice as fast",
                ));
            }
            let last = r.sessions.last().map_or(0, |e| e.offset_ms);
            let span = Duration::try_from_secs_f64(last as f64 / 1000.0 * r.time_scale);
            spans.push(("load.trace", Some(span.unwrap_or(Duration::MAX))));
        }
    }
    for (key, span) in spans {
        if let Some(d) = span
            && d > MAX_DURATION
        {
            return Err(invalid(
                plan,
                key,
                &HumanDuration(d).to_string(),
                "a duration of at most 365 days",
            ));
        }
    }
    Ok(())
}

/// The load model has an end, and no stop key contradicts it.
fn check_run_end(plan: &Plan) -> Result<(), ScenarioError> {
    let load = &plan.load;
    if let Some(d) = load.duration
        && d.is_zero()
    {
        return Err(invalid(
            plan,
            "duration",
            "\"0s\"",
            "a positive duration such as \"60s\"",
        ));
    }
    if load.conversations_per_user == Some(0) {
        return Err(invalid(
            plan,
            "conversations_per_user",
            "0",
            "a whole number above 0",
        ));
    }
    match &load.shape {
        LoadShape::Closed(c) => {
            if load.duration.is_some() && load.conversations_per_user.is_some() {
                return Err(invalid(
                    plan,
                    "conversations_per_user",
                    "(set together with `duration`)",
                    "one of `duration` or `conversations_per_user`, not both",
                ));
            }
            let has_end = load.duration.is_some()
                || load.conversations_per_user.is_some()
                || load.max_conversations.is_some()
                || c.explicit_stages;
            if !has_end {
                return Err(invalid(
                    plan,
                    "duration",
                    "(missing)",
                    "a run length such as `duration = \"60s\"`, or `conversations_per_user = 5`",
                ));
            }
        }
        LoadShape::Open(_) => {
            if load.conversations_per_user.is_some() {
                return Err(invalid(
                    plan,
                    "conversations_per_user",
                    "(set with an open load model)",
                    "only the closed model has users; use `duration` or `limits.max_conversations`",
                ));
            }
            if load.duration.is_none() && load.max_conversations.is_none() {
                return Err(invalid(
                    plan,
                    "duration",
                    "(missing)",
                    "the open model needs a run length such as `duration = \"60s\"` or `limits.max_conversations`",
                ));
            }
        }
        LoadShape::Replay(_) => {
            if load.conversations_per_user.is_some() {
                return Err(invalid(
                    plan,
                    "conversations_per_user",
                    "(set with the replay load model)",
                    "the trace decides the conversations; use `duration` to cut it short",
                ));
            }
        }
    }
    Ok(())
}
