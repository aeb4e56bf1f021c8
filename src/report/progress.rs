//! The live progress line on stderr: once a second, rewritten in place.
//!
//! It reads the aggregator's [`LiveStats`] (atomics; no lock, no message) and shows elapsed
//! time, active users, conversations and calls per second over the last second, p95 of call
//! latency so far, errors, fallbacks and dollars so far. It is silent with `--quiet` or when
//! stderr is not a terminal (a CI log must not fill with carriage returns), and uses colour
//! only when `NO_COLOR` is unset.
//!
//! The arithmetic lives in [`ProgressLine`] (pure, tested); [`Progress::spawn`] is the thin task
//! around it.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::terminal::color_enabled;
use crate::metrics::{LiveSnapshot, LiveStats};

/// Whether and how to draw the progress line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgressOptions {
    /// Draw it at all.
    pub enabled: bool,
    /// Use ANSI colour.
    pub color: bool,
}

impl ProgressOptions {
    /// For stderr: enabled unless `quiet` or stderr is not a terminal; colour unless `NO_COLOR`.
    pub fn for_stderr(quiet: bool) -> Self {
        Self::decide(quiet, std::io::stderr().is_terminal())
    }

    /// The decision for a given `quiet` flag and terminal-ness of stderr.
    pub fn decide(quiet: bool, stderr_is_terminal: bool) -> Self {
        ProgressOptions {
            enabled: !quiet && stderr_is_terminal,
            color: color_enabled(stderr_is_terminal),
        }
    }
}

/// Turns successive snapshots into progress lines, with rates over the interval between them.
#[derive(Clone, Debug, Default)]
pub struct ProgressLine {
    prev: Option<(Duration, LiveSnapshot)>,
}

impl ProgressLine {
    /// The line for `now` at `elapsed` since the run started (no newline, no carriage return).
    pub fn line(&mut self, elapsed: Duration, now: LiveSnapshot, color: bool) -> String {
        let (conv_rate, call_rate) = match self.prev {
            Some((t, p)) if elapsed > t => {
                let dt = (elapsed - t).as_secs_f64();
                (
                    now.conversations.saturating_sub(p.conversations) as f64 / dt,
                    now.calls.saturating_sub(p.calls) as f64 / dt,
                )
            }
            _ if elapsed > Duration::ZERO => {
                let dt = elapsed.as_secs_f64();
                (now.conversations as f64 / dt, now.calls as f64 / dt)
            }
            _ => (0.0, 0.0),
        };
        self.prev = Some((elapsed, now));
        let errors = if color && now.errors > 0 {
            format!("\x1b[31m{}\x1b[0m", now.errors)
        } else {
            now.errors.to_string()
        };
        format!(
            "{:>6.1}s  users {}  conv/s {:.1}  calls/s {:.1}  p95 {:.0}ms  errors {}  fallbacks {}  {}",
            elapsed.as_secs_f64(),
            now.users_active,
            conv_rate,
            call_rate,
            now.p95_call_us as f64 / 1000.0,
            errors,
            now.fallbacks,
            super::format::usd_summary(now.usd()),
        )
    }
}

/// The running progress task; [`Progress::stop`] ends it and clears the line.
#[derive(Debug)]
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts drawing once a second on stderr; `None` when `opts.enabled` is false.
    pub fn spawn(live: Arc<LiveStats>, opts: ProgressOptions) -> Option<Progress> {
        if !opts.enabled {
            return None;
        }
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut line = ProgressLine::default();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {
                        let text = line.line(start.elapsed(), live.snapshot(), opts.color);
                        // \r and "erase line" rewrite in place; a failed write to stderr is
                        // not worth ending the run for.
                        let mut err = std::io::stderr().lock();
                        let _ = write!(err, "\r\x1b[2K{text}");
                        let _ = err.flush();
                    }
                }
            }
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        });
        Some(Progress { stop, task })
    }

    /// Stops the task and clears the line, so the summary that follows starts clean.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
