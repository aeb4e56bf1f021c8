//! The `[load]` table and the top-level stop keys: exactly one of the closed, open and replay
//! models, each checked, and the replay trace read.

use std::time::Duration;

use super::check::{Check, check_users};
use super::error::ScenarioError;
use super::plan::{
    ClosedLoad, DEFAULT_GRACE, DEFAULT_MAX_IN_FLIGHT, LoadPlan, LoadShape, MAX_USERS, OpenLoad,
    ReplayLoad, Stage,
};
use super::raw::RawLoad;
use super::trace;
use crate::units::{CountRange, HumanDuration};

impl Check<'_> {
    /// `[load]` and the top-level stop keys: exactly one load model, its settings checked.
    pub(super) fn load(
        &self,
        raw: RawLoad,
        duration: Option<HumanDuration>,
        conversations_per_user: Option<u64>,
        max_conversations: Option<u64>,
        grace: Option<HumanDuration>,
    ) -> Result<LoadPlan, ScenarioError> {
        let closed = raw.users.is_some() || raw.stages.is_some() || raw.ramp_up.is_some();
        let open =
            raw.arrival_rate.is_some() || raw.arrival.is_some() || raw.max_in_flight.is_some();
        let replay = raw.trace.is_some() || raw.time_scale.is_some();
        let models = [closed, open, replay].iter().filter(|m| **m).count();
        if models != 1 {
            return Err(self.invalid(
                "load",
                if models == 0 { "(no load model)" } else { "(keys of several load models)" },
                "exactly one load model: closed (`users`, `ramp_up`, `[[load.stages]]`), open (`arrival_rate`, `arrival`, `max_in_flight`) or replay (`trace`, `time_scale`)",
            ));
        }
        let shape = if closed {
            LoadShape::Closed(self.closed(&raw)?)
        } else if open {
            LoadShape::Open(self.open(&raw)?)
        } else {
            LoadShape::Replay(self.replay(&raw)?)
        };
        let turns_per_session = raw.turns_per_session.unwrap_or(CountRange::fixed(1));
        if turns_per_session.min == 0 || turns_per_session.max > u64::from(u32::MAX) {
            return Err(self.invalid(
                "load.turns_per_session",
                format!("\"{turns_per_session}\""),
                "a count range of at least 1 turn, such as \"1..=3\"",
            ));
        }
        let grace = grace.map_or(DEFAULT_GRACE, HumanDuration::get);
        let load = LoadPlan {
            shape,
            think_time: raw.think_time.unwrap_or_default(),
            turns_per_session,
            duration: duration.map(HumanDuration::get),
            conversations_per_user,
            max_conversations,
            grace,
            keep_trace: true,
            shard: super::shard::Shard::WHOLE,
        };
        Ok(load)
    }

    /// The open model: a rate of new sessions, their spacing, and the in-flight cap.
    fn open(&self, raw: &RawLoad) -> Result<OpenLoad, ScenarioError> {
        let arrival_rate = raw.arrival_rate.ok_or_else(|| {
            self.invalid(
                "load.arrival_rate",
                "(missing)",
                "the open model needs a rate of new sessions, such as \"5/s\" or \"300/min\"",
            )
        })?;
        let max_in_flight = raw.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
        if max_in_flight == 0 || max_in_flight > MAX_USERS {
            return Err(self.invalid(
                "load.max_in_flight",
                max_in_flight,
                &format!("a whole number from 1 to {MAX_USERS}"),
            ));
        }
        Ok(OpenLoad {
            arrival_rate,
            arrival: raw.arrival.unwrap_or_default(),
            max_in_flight,
        })
    }

    /// The replay model: the trace file, read and parsed now, and its time scale.
    fn replay(&self, raw: &RawLoad) -> Result<ReplayLoad, ScenarioError> {
        let file = raw
            .trace
            .as_deref()
            .map(|t| self.resolve(t))
            .ok_or_else(|| {
                self.invalid(
                    "load.trace",
                    "(missing)",
                    "the replay model needs a JSONL trace file, such as \"traces/recorded.jsonl\"",
                )
            })?;
        let time_scale = raw.time_scale.unwrap_or(1.0);
        if !(time_scale.is_finite() && time_scale > 0.0) {
            return Err(self.invalid(
                "load.time_scale",
                time_scale,
                "a positive number: 1 keeps the recorded spacing, 0.5 replays twice as fast",
            ));
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|e| self.file_error("load.trace", &file, format!("cannot be read: {e}")))?;
        let sessions = trace::parse_trace(&text).map_err(|(line, msg)| {
            self.file_error("load.trace", &file, format!("line {line}: {msg}"))
        })?;
        if sessions.is_empty() {
            return Err(self.file_error("load.trace", &file, "holds no session".into()));
        }
        Ok(ReplayLoad {
            trace: file,
            time_scale,
            sessions,
        })
    }

    /// The closed model: users and ramp-up, or explicit stages.
    fn closed(&self, raw: &RawLoad) -> Result<ClosedLoad, ScenarioError> {
        match &raw.stages {
            Some(stages) => {
                for (key, set) in [
                    ("users", raw.users.is_some()),
                    ("ramp_up", raw.ramp_up.is_some()),
                ] {
                    if set {
                        return Err(self.invalid(
                            &format!("load.{key}"),
                            "(set)",
                            "`[[load.stages]]` set the user count over time; remove it, or remove the stages",
                        ));
                    }
                }
                if stages.is_empty() {
                    return Err(self.invalid(
                        "load.stages",
                        "[]",
                        "at least one stage, such as { target = 50, duration = \"10s\" }",
                    ));
                }
                let mut out = Vec::with_capacity(stages.len());
                for (i, s) in stages.iter().enumerate() {
                    if s.target > MAX_USERS {
                        return Err(self.invalid(
                            &format!("load.stages[{i}].target"),
                            s.target,
                            &format!("a whole number of users from 0 to {MAX_USERS}"),
                        ));
                    }
                    out.push(Stage {
                        target: s.target,
                        duration: s.duration.get(),
                    });
                }
                let users = out.iter().map(|s| s.target).max().unwrap_or(0);
                if users == 0 {
                    return Err(self.invalid(
                        "load.stages",
                        "(every target is 0)",
                        "at least one stage with a target above 0 users",
                    ));
                }
                Ok(ClosedLoad {
                    users,
                    stages: out,
                    explicit_stages: true,
                })
            }
            None => {
                let users = raw.users.ok_or_else(|| {
                    self.invalid(
                        "load.users",
                        "(missing)",
                        "a number of virtual users, such as 100",
                    )
                })?;
                check_users(users).map_err(|e| self.invalid("load.users", users, &e))?;
                let ramp_up = raw.ramp_up.map_or(Duration::ZERO, HumanDuration::get);
                Ok(ClosedLoad {
                    users,
                    stages: vec![Stage {
                        target: users,
                        duration: ramp_up,
                    }],
                    explicit_stages: false,
                })
            }
        }
    }
}
