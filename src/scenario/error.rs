//! Why a scenario was refused: every error names the scenario file and, when it is about one
//! key, the key path, the bad value and what is accepted.

use std::path::PathBuf;

/// Why a scenario file (or an override) was refused. Every variant names the scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario file could not be read.
    #[error("cannot read scenario file {}: {source}", path.display())]
    Read {
        /// The scenario file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: TOML syntax error: {message}", path.display())]
    Syntax {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser says.
        message: String,
    },
    /// A key is unknown or a value has the wrong type or form (as the deserializer saw it).
    #[error("{}{}: `{key}`: {message}", path.display(), at(*line))]
    Schema {
        /// The scenario file.
        path: PathBuf,
        /// Key path, such as `load.users` or `workload[1].weight`.
        key: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("{}: `{key}` = {value}: {expected}", path.display())]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// Key path.
        key: String,
        /// The bad value, as written (or `(missing)`).
        value: String,
        /// What is accepted, and how to fix it.
        expected: String,
    },
    /// A file the scenario names is missing, unreadable, empty or malformed.
    #[error("{}: `{key}`: {} {problem}", path.display(), file.display())]
    File {
        /// The scenario file.
        path: PathBuf,
        /// Key path that names the file.
        key: String,
        /// The file named, resolved against the scenario's directory.
        file: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A component (mock server, budget, sessions, sanitizer, retry, breaker, tools) refused
    /// its settings.
    #[error(transparent)]
    Component(#[from] ComponentError),
    /// A model the scenario may call has no price in the price table.
    #[error(
        "{}: `{key}` = \"{model}\" has no price in the price table {table}; add it to the table or use one of: {known}",
        path.display()
    )]
    MissingPrice {
        /// The scenario file.
        path: PathBuf,
        /// Key path naming the model (`agent.model`, `agent.fallback[0]`, `prices.reference`).
        key: String,
        /// The model.
        model: String,
        /// Which table was consulted.
        table: String,
        /// The models the table does price (comma-separated).
        known: String,
    },
}

/// A component's own validation message (it already names its key, such as
/// `agent.budget.max_tokens`).
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ComponentError {
    /// The scenario file.
    pub path: PathBuf,
    /// The component's message.
    pub message: String,
}

fn at(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

impl ScenarioError {
    /// The key path the error is about, when it is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ScenarioError::Schema { key, .. }
            | ScenarioError::Invalid { key, .. }
            | ScenarioError::File { key, .. }
            | ScenarioError::MissingPrice { key, .. } => Some(key),
            ScenarioError::Read { .. }
            | ScenarioError::Syntax { .. }
            | ScenarioError::Component(_) => None,
        }
    }
}
