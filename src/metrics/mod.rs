//! Run metrics: one [`Aggregator`] owns every histogram and counter of a run.
//!
//! Virtual users send one [`ConversationRecord`] per finished conversation (it batches all the
//! conversation's calls, attempts, tokens and token gaps) to the runner, which feeds them to the
//! aggregator from a single task. The aggregator is therefore never shared: no lock sits on the
//! hot path, and recording a conversation costs O(calls + attempts + token gaps) work.
//!
//! At the end the runner passes the run-level inputs that do not live in records ([`RunEnd`]:
//! breaker transitions, the load report, session evictions, local rate-limit rejections) and gets
//! a [`RunMetrics`]: plain data (histograms, counters, the per-second timeline) that the summary,
//! the CSV files and the plots read.
//!
//! Units: histograms hold integer microseconds (3 significant digits, auto-resizing, so any
//! latency fits); dollars per conversation are held in a histogram of nano-dollars (0.1%
//! precision, bounded memory whatever the run's length); dollar totals are unrounded `f64` sums.
//!
//! - [`live`]: the few atomics the progress line reads once per second.
//! - [`timeline`]: the per-second buckets.
//! - [`hist`]: histogram precision, units and recording.
//! - [`data`]: the run's metrics as plain data ([`RunMetrics`] and its parts).
//! - [`keys`]: how records are keyed (finish reasons, statuses, billed model).
//! - [`shape`]: per tool, the prompt by step and part, the prompt cache's saving.
//! - [`aggregator`]: [`Aggregator`], which fills them from records.

pub mod aggregator;
pub mod data;
pub mod hist;
pub mod keys;
pub mod live;
pub mod merge;
pub mod shape;
pub mod slo;
pub mod state;
pub mod timeline;

pub use aggregator::Aggregator;
pub use data::*;
pub use hist::*;
pub use keys::*;
pub use live::{LiveSnapshot, LiveStats};
pub use shape::{AgentShape, StepMetrics, ToolMetrics};
pub use timeline::{BreakerTransitionAt, Second, Timeline};
