//! Ctrl-C and SIGTERM: the first asks the run to stop starting conversations and let those in
//! flight finish within the grace period; the second cuts them now (they are reported as
//! interrupted). Either way the report is written.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The two ways a run is told to stop, as futures for the runner, and the task listening for
/// the signals (abort it once the load is over).
pub(super) struct Stops<S, C> {
    /// Resolves on the first signal, or when `stop` is notified (an `abort_on_fail` threshold,
    /// the spend cap): no new conversations.
    pub(super) shutdown: S,
    /// Resolves on the second signal: conversations in flight are cut.
    pub(super) cut: C,
    /// The listening task.
    pub(super) listener: JoinHandle<()>,
}

/// Listens for the stop signals from now on. One task counts the presses, so the two futures
/// never both take the same signal.
pub(super) fn listen(
    stop: Arc<Notify>,
) -> Stops<impl Future<Output = ()>, impl Future<Output = ()>> {
    // SIGTERM is how CI runners and Kubernetes stop a job.
    let first_interrupt = Arc::new(Notify::new());
    let second_interrupt = Arc::new(Notify::new());
    let listener = tokio::spawn({
        let first = Arc::clone(&first_interrupt);
        let second = Arc::clone(&second_interrupt);
        async move {
            let Some(mut signals) = StopSignals::new() else {
                return;
            };
            let Some(name) = signals.next().await else {
                return;
            };
            eprintln!(
                "\n{name}: no new conversations; letting those in flight finish (Ctrl-C again to stop now)"
            );
            first.notify_one();
            let Some(name) = signals.next().await else {
                return;
            };
            eprintln!(
                "\n{name} again: stopping now; conversations in flight are cut and reported as interrupted"
            );
            second.notify_one();
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = first_interrupt.notified() => {}
            _ = stop.notified() => {}
        }
    };
    let cut = async move { second_interrupt.notified().await };
    Stops {
        shutdown,
        cut,
        listener,
    }
}

/// The signals that stop a run: SIGINT (Ctrl-C) and, on Unix, SIGTERM. Once listened to,
/// neither kills the process any more: the run stops through its shutdown path and writes its
/// report.
struct StopSignals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// `None` when the handlers cannot be installed (then the defaults stay: the process dies).
    fn new() -> Option<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // Streams, not `ctrl_c()` per wait: a signal between two waits is not lost.
            let int = signal(SignalKind::interrupt()).ok()?;
            let term = signal(SignalKind::terminate()).ok()?;
            Some(StopSignals { int, term })
        }
        #[cfg(not(unix))]
        Some(StopSignals {})
    }

    /// The next signal's name; `None` if listening failed.
    async fn next(&mut self) -> Option<&'static str> {
        #[cfg(unix)]
        {
            tokio::select! {
                r = self.int.recv() => r.map(|()| "interrupted (SIGINT)"),
                r = self.term.recv() => r.map(|()| "terminated (SIGTERM)"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.ok().map(|()| "interrupted")
        }
    }
}
