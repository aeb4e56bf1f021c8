//! `bench run`'s flags applied to a plan, as plain data (the scenario layer knows nothing of
//! the CLI), and re-checked.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::check::{Check, check_users};
use super::error::ScenarioError;
use super::invariants::check_invariants;
use super::plan::{Endpoint, LoadShape, Plan};

/// What a command line may change in a plan (`bench run`'s flags, as plain data: the scenario
/// layer knows nothing of the CLI). Every field left `None` keeps the scenario's value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--users`: virtual users of a closed model without explicit stages.
    pub users: Option<u64>,
    /// `--duration`, as written (parsed and checked here).
    pub duration: Option<String>,
    /// `--conversations-per-user`.
    pub conversations_per_user: Option<u64>,
    /// `--endpoint-url`: switches the endpoint to `http`.
    pub endpoint_url: Option<String>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--out`.
    pub out: Option<PathBuf>,
}

impl Overrides {
    /// The flags that change what is run (not where the report goes, not the seed, which a
    /// merge checks on its own), as text for [`super::scenario_digest`].
    pub fn plan_flags(&self) -> String {
        format!(
            "users={:?} duration={:?} conversations_per_user={:?} endpoint_url={:?}",
            self.users, self.duration, self.conversations_per_user, self.endpoint_url
        )
    }
}

/// Applies `bench run` flags to a plan and re-checks what they change. `--duration` replaces
/// `conversations_per_user` and the other way round; `--endpoint-url` switches the endpoint to
/// `http` (which then needs `limits.spend_cap_usd`).
pub fn apply_overrides(plan: &mut Plan, args: &Overrides) -> Result<(), ScenarioError> {
    let flag = |name: &str, value: &dyn fmt::Display, expected: &str| ScenarioError::Invalid {
        path: plan.source.clone(),
        key: format!("--{name}"),
        value: value.to_string(),
        expected: expected.to_string(),
    };
    if let Some(users) = args.users {
        let err = match &plan.load.shape {
            LoadShape::Closed(c) if !c.explicit_stages => check_users(users).err(),
            LoadShape::Closed(_) => {
                Some("a scenario without `[[load.stages]]`: its stages set the user count".into())
            }
            _ => Some("a closed-model scenario (`load.users`); this one has no users".into()),
        };
        if let Some(expected) = err {
            return Err(flag("users", &users, &expected));
        }
        if let LoadShape::Closed(c) = &mut plan.load.shape {
            c.users = users;
            c.stages[0].target = users;
        }
    }
    if let Some(text) = &args.duration {
        let d = crate::units::parse_duration(text)
            .map_err(|e| flag("duration", &format!("\"{text}\""), &e))?;
        plan.load.duration = Some(d);
        plan.load.conversations_per_user = None;
    }
    if let Some(n) = args.conversations_per_user {
        plan.load.conversations_per_user = Some(n);
        plan.load.duration = None;
    }
    if let Some(url) = &args.endpoint_url {
        let check = Check {
            path: &plan.source.clone(),
            dir: Path::new(""),
        };
        check.check_url("--endpoint-url", url)?;
        plan.endpoint.target = match std::mem::replace(
            &mut plan.endpoint.target,
            Endpoint::Mock {
                config: Box::default(),
            },
        ) {
            Endpoint::Http {
                api_key_env,
                headers,
                ..
            } => Endpoint::Http {
                base_url: url.clone(),
                api_key_env,
                headers,
            },
            Endpoint::Mock { .. } => Endpoint::Http {
                base_url: url.clone(),
                api_key_env: None,
                headers: BTreeMap::new(),
            },
        };
    }
    if let Some(seed) = args.seed {
        plan.seed = seed;
    }
    if let Some(out) = &args.out {
        plan.report.out = Some(out.clone());
    }
    check_invariants(plan)
}
