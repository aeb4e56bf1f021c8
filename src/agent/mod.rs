//! The agent stack a production ReAct agent runs, one conversation at a time: ReAct loop,
//! token budget, sessions, sanitizer, an external guard, retry with circuit breaker and fallback,
//! simulated tools.

mod admission;
pub mod breaker;
pub mod budget;
pub mod conversation;
pub mod guard;
pub mod history;
pub mod react;
pub mod resilience;
pub mod retry;
pub mod sanitizer;
pub mod sessions;
pub mod settings;
pub mod spend;
pub mod tools;
