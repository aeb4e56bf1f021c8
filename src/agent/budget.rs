//! Token budget of one conversation: max tokens, max steps and a warning threshold, checked
//! *before* each paid call.
//!
//! # What counts
//! - **Spent** tokens are the `prompt_tokens + completion_tokens` the endpoint billed, summed
//!   over every call of the conversation that returned a reply ([`Budget::record`]). Cached
//!   prompt tokens are part of `prompt_tokens` and count in full: they still fill the context
//!   and are still billed (at a lower price, which is the pricing module's concern, not the
//!   budget's).
//! - Before a call, [`Budget::check_before_call`] projects the worst case:
//!   `spent + prompt_tokens_estimate + max_completion`. The call is allowed only if that
//!   projection is `<= max_tokens`, so a conversation can never overspend its budget, even if
//!   the model writes its longest allowed reply. Pass `max_completion = 0` when the request sets
//!   no completion limit (then only the prompt is projected).
//! - A **step** is a call that returned a reply (one `record`). With `max_steps = 10`, ten calls
//!   are made and the eleventh check answers [`BudgetCheck::MaxSteps`]: the limit is enforced
//!   before the paid call, never after it (the seed's bug).
//! - The **warning** fires once per conversation: the first time a projection (or, in `record`,
//!   the actual spend) reaches `warning_threshold * max_tokens`. The call still goes ahead.
//!
//! The prompt estimate should come from a real tokenizer ([`crate::tokens::Tokenizer`]), never
//! from `len / 4`.

use serde::{Deserialize, Serialize};

use crate::chat::Usage;

/// Budget settings, user-facing as `[agent] budget = { max_tokens = 8000, max_steps = 10,
/// warning_threshold = 0.7 }`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Most tokens (prompt + completion, summed over all calls) one conversation may spend.
    pub max_tokens: u64,
    /// Most LLM calls that return a reply in one conversation.
    pub max_steps: u32,
    /// Fraction of `max_tokens` at which the conversation is flagged (once), in `(0, 1]`.
    pub warning_threshold: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            max_tokens: 8000,
            max_steps: 10,
            warning_threshold: 0.7,
        }
    }
}

impl BudgetConfig {
    /// Checks the values; the error names the key (`agent.budget.*`) and what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_tokens == 0 {
            return Err("agent.budget.max_tokens = 0 allows no call at all; set a positive number of tokens such as 8000".into());
        }
        if self.max_steps == 0 {
            return Err("agent.budget.max_steps = 0 allows no call at all; set a positive number of steps such as 10".into());
        }
        let w = self.warning_threshold;
        if !(w.is_finite() && w > 0.0 && w <= 1.0) {
            return Err(format!(
                "agent.budget.warning_threshold = {w} is out of range; write a fraction of max_tokens above 0 and at most 1, such as 0.7"
            ));
        }
        Ok(())
    }
}

/// The verdict of [`Budget::check_before_call`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetCheck {
    /// Go ahead.
    Ok,
    /// Go ahead, but this call crosses the warning threshold for the first time in this
    /// conversation (reported once; later checks answer `Ok`).
    Warning {
        /// Projected tokens after the call, worst case.
        projected: u64,
    },
    /// Do not call: the worst case would exceed `max_tokens`. End with `budget_exceeded`.
    Exceeded {
        /// Projected tokens after the call, worst case.
        projected: u64,
        /// The configured `max_tokens`.
        limit: u64,
    },
    /// Do not call: `max_steps` calls already returned. End with `max_steps`.
    MaxSteps {
        /// The configured `max_steps`.
        limit: u32,
    },
}

impl BudgetCheck {
    /// True when the call may be made (`Ok` or `Warning`).
    pub fn allows_call(self) -> bool {
        matches!(self, BudgetCheck::Ok | BudgetCheck::Warning { .. })
    }
}

/// The budget state of one conversation. Cheap (a few integers); create one per conversation.
#[derive(Clone, Debug)]
pub struct Budget {
    config: BudgetConfig,
    spent: Usage,
    steps: u32,
    warned: bool,
}

impl Budget {
    /// A fresh budget (nothing spent, no step taken).
    pub fn new(config: BudgetConfig) -> Self {
        Budget {
            config,
            spent: Usage::default(),
            steps: 0,
            warned: false,
        }
    }

    /// Decides whether the next paid call may be made. Call it before every call, with the
    /// prompt's token count from a real tokenizer and the request's completion limit (0 if it
    /// sets none). Steps are checked first: a conversation out of steps ends with `max_steps`
    /// even if tokens remain.
    pub fn check_before_call(
        &mut self,
        prompt_tokens_estimate: u64,
        max_completion: u64,
    ) -> BudgetCheck {
        if self.steps >= self.config.max_steps {
            return BudgetCheck::MaxSteps {
                limit: self.config.max_steps,
            };
        }
        let projected = self
            .spent_tokens()
            .saturating_add(prompt_tokens_estimate)
            .saturating_add(max_completion);
        if projected > self.config.max_tokens {
            return BudgetCheck::Exceeded {
                projected,
                limit: self.config.max_tokens,
            };
        }
        if !self.warned && projected >= self.warning_tokens() {
            self.warned = true;
            return BudgetCheck::Warning { projected };
        }
        BudgetCheck::Ok
    }

    /// Records the usage the endpoint reported for a call that returned a reply: adds its
    /// tokens and counts one step. Returns true if this spend crossed the warning threshold for
    /// the first time (a reply longer than its check projected cannot, but a check made with
    /// `max_completion = 0` can).
    pub fn record(&mut self, usage: &Usage) -> bool {
        self.spent.add(usage);
        self.steps += 1;
        if !self.warned && self.spent_tokens() >= self.warning_tokens() {
            self.warned = true;
            return true;
        }
        false
    }

    /// Tokens spent so far (prompt + completion, all calls).
    pub fn spent_tokens(&self) -> u64 {
        self.spent.total()
    }

    /// Usage summed over all recorded calls (prompt, cached, completion, estimated flag).
    pub fn spent(&self) -> Usage {
        self.spent
    }

    /// Tokens left before `max_tokens` (zero when over, which a reply longer than requested
    /// can cause).
    pub fn remaining_tokens(&self) -> u64 {
        self.config.max_tokens.saturating_sub(self.spent_tokens())
    }

    /// Calls that returned a reply so far.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// True once the warning threshold was crossed (for `ConversationRecord::budget_warning`).
    pub fn warned(&self) -> bool {
        self.warned
    }

    /// The settings.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// `warning_threshold * max_tokens`, rounded up so a threshold of 0.7 on 8000 is 5600.
    fn warning_tokens(&self) -> u64 {
        (self.config.warning_threshold * self.config.max_tokens as f64).ceil() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(max_tokens: u64, max_steps: u32, warning: f64) -> Budget {
        Budget::new(BudgetConfig {
            max_tokens,
            max_steps,
            warning_threshold: warning,
        })
    }

    #[test]
    fn defaults_and_toml() {
        let c: BudgetConfig = toml::from_str("").unwrap();
        assert_eq!(c, BudgetConfig::default());
        assert_eq!(
            (c.max_tokens, c.max_steps, c.warning_threshold),
            (8000, 10, 0.7)
        );
        let c: BudgetConfig = toml::from_str("max_tokens = 100\nmax_steps = 2").unwrap();
        assert_eq!(
            (c.max_tokens, c.max_steps, c.warning_threshold),
            (100, 2, 0.7)
        );
        let err = toml::from_str::<BudgetConfig>("max_token = 100").unwrap_err();
        assert!(err.to_string().contains("max_token"), "{err}");
    }

    #[test]
    fn validation() {
        for (c, bad) in [
            (BudgetConfig::default(), None),
            (
                BudgetConfig {
                    max_tokens: 0,
                    ..Default::default()
                },
                Some("max_tokens"),
            ),
            (
                BudgetConfig {
                    max_steps: 0,
                    ..Default::default()
                },
                Some("max_steps"),
            ),
            (
                BudgetConfig {
                    warning_threshold: 0.0,
                    ..Default::default()
                },
                Some("warning_threshold"),
            ),
            (
                BudgetConfig {
                    warning_threshold: 1.5,
                    ..Default::default()
                },
                Some("warning_threshold"),
            ),
            (
                BudgetConfig {
                    warning_threshold: f64::NAN,
                    ..Default::default()
                },
                Some("warning_threshold"),
            ),
            (
                BudgetConfig {
                    warning_threshold: 1.0,
                    ..Default::default()
                },
                None,
            ),
        ] {
            match (c.validate(), bad) {
                (Ok(()), None) => {}
                (Err(e), Some(key)) => assert!(e.contains(key), "{e}"),
                (got, want) => panic!("{c:?}: got {got:?}, want error on {want:?}"),
            }
        }
    }

    #[test]
    fn token_edges() {
        // (spent before, prompt estimate, max completion, verdict) with max 1000, warning 0.7.
        for (spent, prompt, completion, want) in [
            (0, 500, 500, BudgetCheck::Warning { projected: 1000 }),
            (
                0,
                500,
                501,
                BudgetCheck::Exceeded {
                    projected: 1001,
                    limit: 1000,
                },
            ),
            (0, 100, 100, BudgetCheck::Ok),
            (0, 600, 99, BudgetCheck::Ok),
            (0, 600, 100, BudgetCheck::Warning { projected: 700 }),
            (400, 300, 0, BudgetCheck::Warning { projected: 700 }),
            (
                400,
                300,
                301,
                BudgetCheck::Exceeded {
                    projected: 1001,
                    limit: 1000,
                },
            ),
            // The record of 1000 already raised the warning, so the check does not repeat it.
            (1000, 0, 0, BudgetCheck::Ok),
            (
                1000,
                1,
                0,
                BudgetCheck::Exceeded {
                    projected: 1001,
                    limit: 1000,
                },
            ),
            (
                0,
                u64::MAX,
                u64::MAX,
                BudgetCheck::Exceeded {
                    projected: u64::MAX,
                    limit: 1000,
                },
            ),
        ] {
            let mut b = budget(1000, 100, 0.7);
            if spent > 0 {
                // spent splits into prompt (cached part included) and completion.
                b.record(&Usage::billed(spent - spent / 4, spent / 8, spent / 4));
            }
            assert_eq!(b.spent_tokens(), spent);
            let got = b.check_before_call(prompt, completion);
            assert_eq!(
                got, want,
                "spent {spent}, prompt {prompt}, completion {completion}"
            );
        }
    }

    #[test]
    fn warning_is_reported_once() {
        let mut b = budget(1000, 100, 0.5);
        assert_eq!(b.check_before_call(100, 100), BudgetCheck::Ok);
        b.record(&Usage::billed(100, 0, 50));
        assert_eq!(
            b.check_before_call(300, 100),
            BudgetCheck::Warning { projected: 550 }
        );
        assert!(b.warned());
        b.record(&Usage::billed(300, 0, 100));
        assert_eq!(b.check_before_call(300, 0), BudgetCheck::Ok);
        // A record without a warning check first still flags the crossing, once.
        let mut b = budget(1000, 100, 0.5);
        assert!(!b.record(&Usage::billed(400, 0, 50)));
        assert!(b.record(&Usage::billed(50, 0, 50)));
        assert!(!b.record(&Usage::billed(10, 0, 10)));
        assert!(b.warned());
        assert_eq!(b.check_before_call(10, 10), BudgetCheck::Ok);
    }

    #[test]
    fn max_steps_is_checked_before_the_call() {
        let mut b = budget(1_000_000, 3, 0.9);
        let mut calls = 0;
        loop {
            let check = b.check_before_call(10, 10);
            if !check.allows_call() {
                assert_eq!(check, BudgetCheck::MaxSteps { limit: 3 });
                break;
            }
            calls += 1;
            b.record(&Usage::billed(10, 0, 10));
        }
        assert_eq!((calls, b.steps()), (3, 3));
        // Steps win over tokens: out of steps is reported even when tokens also ran out.
        let mut b = budget(10, 1, 0.9);
        b.record(&Usage::billed(100, 0, 100));
        assert_eq!(
            b.check_before_call(1, 0),
            BudgetCheck::MaxSteps { limit: 1 }
        );
    }

    #[test]
    fn spent_comes_from_reported_usage_with_cached_tokens_inside_prompt() {
        let mut b = budget(10_000, 10, 0.7);
        b.record(&Usage::billed(1200, 1000, 80));
        b.record(&Usage {
            estimated: true,
            ..Usage::billed(1300, 1100, 90)
        });
        let s = b.spent();
        assert_eq!(
            (s.prompt_tokens, s.cached_tokens, s.completion_tokens),
            (2500, 2100, 170)
        );
        assert!(s.estimated);
        assert_eq!(b.spent_tokens(), 2670);
        assert_eq!(b.remaining_tokens(), 10_000 - 2670);
        // A reply longer than asked can overshoot; remaining saturates at zero.
        b.record(&Usage::billed(9000, 0, 1000));
        assert_eq!(b.remaining_tokens(), 0);
        assert!(!b.check_before_call(0, 0).allows_call());
    }
}
