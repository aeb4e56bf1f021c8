//! The agent stack a production ReAct agent runs, one conversation at a time: ReAct loop,
//! token budget, sessions, sanitizer, retry with circuit breaker and fallback, simulated tools.

pub mod breaker;
pub mod record;
pub mod resilience;
pub mod retry;
