//! The validation context shared by every check: the scenario file (named in each message),
//! its directory (relative paths resolve against it), the error constructors, and the small
//! value checks more than one table uses.

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::{ComponentError, ScenarioError};
use super::plan::MAX_USERS;

/// Validation context: the file (for messages) and its directory (for relative paths).
pub(super) struct Check<'a> {
    pub(super) path: &'a Path,
    pub(super) dir: &'a Path,
}

impl Check<'_> {
    pub(super) fn invalid(
        &self,
        key: &str,
        value: impl fmt::Display,
        expected: &str,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    pub(super) fn component(&self, message: String) -> ScenarioError {
        ComponentError {
            path: self.path.to_path_buf(),
            message,
        }
        .into()
    }

    pub(super) fn file_error(&self, key: &str, file: &Path, problem: String) -> ScenarioError {
        ScenarioError::File {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            file: file.to_path_buf(),
            problem,
        }
    }

    pub(super) fn resolve(&self, file: &Path) -> PathBuf {
        if file.is_absolute() {
            file.to_path_buf()
        } else {
            self.dir.join(file)
        }
    }

    pub(super) fn check_url(&self, key: &str, url: &str) -> Result<(), ScenarioError> {
        match crate::client::chat_uri(url) {
            Some(_) => Ok(()),
            None => Err(self.invalid(
                key,
                // Never the password or a key the URL may carry.
                format!("\"{}\"", crate::client::redact_url(url)),
                "an http:// or https:// URL with a host, such as \"https://api.openai.com/v1\"",
            )),
        }
    }
}

pub(super) fn check_users(users: u64) -> Result<(), String> {
    if users == 0 || users > MAX_USERS {
        Err(format!("a number of virtual users from 1 to {MAX_USERS}"))
    } else {
        Ok(())
    }
}

pub(super) fn check_spend_cap(cap: f64) -> Result<(), String> {
    if cap.is_finite() && cap > 0.0 {
        Ok(())
    } else {
        Err("a positive number of dollars, such as 5.0".into())
    }
}

pub(super) fn check_model_name(m: &str) -> Result<(), String> {
    if m.trim().is_empty() || m.trim() != m {
        Err("a model name such as \"gpt-4.1\", without surrounding spaces".into())
    } else {
        Ok(())
    }
}

/// An environment variable name, not a key pasted by mistake.
pub(super) fn check_env_name(var: &str) -> Result<(), String> {
    let looks_like_name = !var.is_empty()
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !var.starts_with(|c: char| c.is_ascii_digit());
    if looks_like_name && !var.starts_with("sk-") {
        Ok(())
    } else {
        Err("the NAME of an environment variable that holds the key, such as \"OPENAI_API_KEY\"; never the key itself".into())
    }
}

/// Shows enough of a value to find it, never a whole secret pasted where a name belongs.
pub(super) fn redact(value: &str) -> String {
    if value.len() > 8 {
        format!(
            "\"{}...\" (shortened)",
            value.chars().take(4).collect::<String>()
        )
    } else {
        format!("\"{value}\"")
    }
}
