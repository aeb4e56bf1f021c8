//! Load models under paused time: exact conversation counts, ramp-up spacing, seeded prompts,
//! open-model drops at the cap, replay spacing, the run's own trace, shutdown and grace.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reactbench::runner::{ConversationSpec, LoadReport, run_load, write_trace};
use reactbench::scenario::{self, Plan};
use tokio::time::Instant;

/// A conversation as the test driver saw it: the spec and when it started, from the run's start.
type Seen = Vec<(ConversationSpec, Duration)>;

fn plan(text: &str) -> Plan {
    scenario::parse(Path::new("runner-test.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn closed(extra_top: &str, load: &str) -> Plan {
    plan(&format!(
        "{extra_top}\n[load]\n{load}\n[agent]\nmodel = \"m\"\n\
         [[workload]]\nweight = 3\nlabel = \"benign\"\nprompts = [\"a\", \"b\", \"c\", \"d\"]\n\
         [[workload]]\nweight = 1\nlabel = \"hostile\"\nprompts = [\"x\", \"y\"]\n"
    ))
}

/// Runs `plan` with a driver that records each spec and then sleeps `work`.
async fn run(plan: &Plan, work: Duration, shutdown_after: Option<Duration>) -> (LoadReport, Seen) {
    run_with_cut(plan, work, shutdown_after, None).await
}

/// [`run`], with a second interrupt (`cut`) after `cut_after`.
async fn run_with_cut(
    plan: &Plan,
    work: Duration,
    shutdown_after: Option<Duration>,
    cut_after: Option<Duration>,
) -> (LoadReport, Seen) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let start = Instant::now();
    let log = Arc::clone(&seen);
    let driver = move |spec: ConversationSpec| {
        let log = Arc::clone(&log);
        async move {
            log.lock()
                .expect("not poisoned")
                .push((spec, start.elapsed()));
            tokio::time::sleep(work).await;
        }
    };
    let shutdown = async move {
        match shutdown_after {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    // The deadline is fixed now: the runner first polls `cut` only once the grace period began.
    let cut_at = cut_after.map(|d| Instant::now() + d);
    let cut = async move {
        match cut_at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let report = run_load(&plan.load, &plan.workload, plan.seed, driver, shutdown, cut).await;
    let seen = std::mem::take(&mut *seen.lock().expect("not poisoned"));
    (report, seen)
}

#[tokio::test(start_paused = true)]
async fn closed_model_runs_exactly_users_times_conversations() {
    let p = closed(
        "conversations_per_user = 3",
        "users = 5\nramp_up = \"1s\"\nthink_time = \"10ms..200ms\"\nturns_per_session = \"1..=2\"",
    );
    let (report, seen) = run(&p, Duration::from_millis(50), None).await;
    assert_eq!((report.started, report.completed), (15, 15));
    assert!(!report.interrupted);
    for user in 0..5 {
        assert_eq!(
            seen.iter().filter(|(s, _)| s.user_id == user).count(),
            3,
            "user {user}"
        );
    }
    let mut ids: Vec<_> = seen.iter().map(|(s, _)| s.conversation_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..15).collect::<Vec<_>>());
    // Turn numbers restart with every session; a session's first turn opens it.
    for (s, _) in &seen {
        assert_eq!(s.new_session, s.turn == 1);
        assert!(s.intended_start.is_none());
        assert!(s.source.is_some());
    }
    // The trace holds every conversation, grouped by session.
    let traced: usize = report.trace.iter().map(|e| e.turns.len()).sum();
    assert_eq!(traced, 15);
}

/// `[report] trace = false`: the runner keeps nothing per session (a soak's memory stays
/// flat), and runs the same conversations.
#[tokio::test(start_paused = true)]
async fn no_trace_kept_when_the_report_writes_none() {
    let load = "users = 3\nramp_up = \"0s\"\nthink_time = \"10ms\"\nturns_per_session = \"1..=2\"";
    let with = closed("conversations_per_user = 4", load);
    let without = closed("conversations_per_user = 4\n[report]\ntrace = false", load);
    assert!(with.load.keep_trace && !without.load.keep_trace);
    let (a, seen_a) = run(&with, Duration::from_millis(5), None).await;
    let (b, seen_b) = run(&without, Duration::from_millis(5), None).await;
    assert_eq!((a.completed, b.completed), (12, 12));
    assert_eq!(seen_a.len(), seen_b.len());
    assert_eq!(a.trace.iter().map(|e| e.turns.len()).sum::<usize>(), 12);
    assert!(b.trace.is_empty());
}

/// Users with zero think time and a driver that never waits still yield between
/// conversations, so Ctrl-C (any timer or signal) is seen even on a single-threaded runtime.
/// Without the yield this run would never end; the test then fails after a minute.
#[test]
fn zero_think_time_still_yields_to_ctrl_c() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let p = closed(
            "duration = \"1h\"",
            "users = 2\nramp_up = \"0s\"\nthink_time = \"0s\"",
        );
        let report = rt.block_on(async {
            run_load(
                &p.load,
                &p.workload,
                p.seed,
                |_spec: ConversationSpec| async {},
                tokio::time::sleep(Duration::from_millis(50)),
                std::future::pending::<()>(),
            )
            .await
        });
        let _ = tx.send((report.interrupted, report.completed));
    });
    let (interrupted, completed) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the run saw Ctrl-C and stopped");
    assert!(interrupted && completed > 0);
}

/// Zero think time means back to back: no timer tick (1 ms in tokio) between conversations.
/// Sleeping until "now" used to round up to the next tick, twice per conversation, which at
/// zero latency held `bench run` to a fifth of its capacity.
#[tokio::test(start_paused = true)]
async fn zero_think_time_costs_no_timer_ticks() {
    let p = closed(
        "conversations_per_user = 500",
        "users = 2\nramp_up = \"0s\"\nthink_time = \"0s\"\nturns_per_session = \"1..=3\"",
    );
    let start = Instant::now();
    // Each conversation moves the paused clock by exactly 300 µs, off the 1 ms tick grid.
    let driver = |_spec: ConversationSpec| tokio::time::advance(Duration::from_micros(300));
    let report = run_load(
        &p.load,
        &p.workload,
        p.seed,
        driver,
        std::future::pending::<()>(),
        std::future::pending::<()>(),
    )
    .await;
    assert_eq!((report.started, report.completed), (1000, 1000));
    // The clock moved only by the conversations' own 1,000 × 300 µs: no wait rounded up to
    // the next 1 ms tick (before the fix: 997 ms).
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(300),
        "zero think time slept"
    );
}

#[tokio::test(start_paused = true)]
async fn ramp_up_spreads_user_starts() {
    let p = closed("conversations_per_user = 1", "users = 4\nramp_up = \"1s\"");
    let (_, seen) = run(&p, Duration::from_millis(10), None).await;
    let mut starts: Vec<_> = seen
        .iter()
        .map(|(s, at)| (s.user_id, at.as_millis()))
        .collect();
    starts.sort_unstable();
    assert_eq!(starts, vec![(0, 0), (1, 250), (2, 500), (3, 750)]);
}

#[tokio::test(start_paused = true)]
async fn same_seed_gives_the_same_prompts() {
    let prompts = |seen: &Seen| {
        let mut v: Vec<_> = seen
            .iter()
            .map(|(s, _)| {
                (
                    s.user_id,
                    s.session,
                    s.turn,
                    s.prompt.clone(),
                    s.source.as_ref().map(|x| x.index),
                )
            })
            .collect();
        v.sort();
        v
    };
    let load = "users = 6\nthink_time = \"0s..100ms\"\nturns_per_session = \"1..=3\"";
    let a = closed("seed = 9\nconversations_per_user = 8", load);
    let b = closed("seed = 10\nconversations_per_user = 8", load);
    let (_, first) = run(&a, Duration::from_millis(30), None).await;
    // Same seed, different speed: the prompts do not depend on timing.
    let (_, again) = run(&a, Duration::from_millis(70), None).await;
    let (_, other) = run(&b, Duration::from_millis(30), None).await;
    assert_eq!(prompts(&first), prompts(&again));
    assert_ne!(prompts(&first), prompts(&other));
    // Both sources are drawn from.
    assert!(
        first
            .iter()
            .any(|(s, _)| s.source.as_ref().is_some_and(|x| x.index == 1))
    );
}

#[tokio::test(start_paused = true)]
async fn stages_ramp_users_down() {
    let p = closed(
        "",
        "think_time = \"0s\"\n\
         [[load.stages]]\ntarget = 3\nduration = \"0s\"\n\
         [[load.stages]]\ntarget = 3\nduration = \"1s\"\n\
         [[load.stages]]\ntarget = 1\nduration = \"0s\"\n\
         [[load.stages]]\ntarget = 1\nduration = \"1s\"",
    );
    let (report, seen) = run(&p, Duration::from_millis(100), None).await;
    let late: Vec<_> = seen
        .iter()
        .filter(|(_, at)| *at >= Duration::from_millis(1000))
        .collect();
    assert!(!late.is_empty());
    assert!(
        late.iter().all(|(s, _)| s.user_id == 0),
        "only user 0 after the ramp-down"
    );
    assert!(seen.iter().any(|(s, _)| s.user_id == 2));
    // The stages end the run: 2 s, then the last conversation finishes.
    assert!(
        report.elapsed <= Duration::from_millis(2100),
        "{:?}",
        report.elapsed
    );
    assert_eq!(report.started, report.completed);
}

fn open(rate: &str, arrival: &str, cap: u64, stop: &str) -> Plan {
    plan(&format!(
        "{stop}\n[load]\narrival_rate = \"{rate}\"\narrival = \"{arrival}\"\nmax_in_flight = {cap}\n\
         [agent]\nmodel = \"m\"\n[[workload]]\nprompts = [\"a\", \"b\"]\n"
    ))
}

#[tokio::test(start_paused = true)]
async fn open_model_counts_arrivals_dropped_at_the_cap() {
    // 100 arrivals (0 ms, 10 ms ... 990 ms), 2 in flight at most, each taking 1 s.
    let p = open("100/s", "constant", 2, "duration = \"995ms\"");
    let (report, seen) = run(&p, Duration::from_secs(1), None).await;
    assert_eq!(
        (report.started, report.completed, report.dropped_arrivals),
        (2, 2, 98)
    );
    assert_eq!(report.scheduler_lag_us.len(), 100);
    // Each records its intended start, on the 10 ms grid (no lag under paused time).
    let t0 = seen[0]
        .0
        .intended_start
        .expect("open arrivals have an intended start");
    let intended = seen[1].0.intended_start.map(|t| t - t0);
    assert_eq!(
        (intended, seen[1].1),
        (Some(Duration::from_millis(10)), Duration::from_millis(10))
    );
    assert_eq!(report.scheduler_lag_us.max(), 0);

    let p = open("50/s", "poisson", 1, "duration = \"2s\"");
    let (report, _) = run(&p, Duration::from_millis(100), None).await;
    assert!(report.dropped_arrivals > 0);
    // About rate x duration arrivals (a fixed seed makes the count fixed; the range only
    // says the generator follows the rate).
    assert!(
        (70..=130).contains(&report.scheduler_lag_us.len()),
        "{}",
        report.scheduler_lag_us.len()
    );
    assert_eq!(
        report.started + report.dropped_arrivals,
        report.scheduler_lag_us.len()
    );
}

#[tokio::test(start_paused = true)]
async fn open_model_stops_at_max_conversations() {
    let p = open("10/s", "poisson", 100, "[limits]\nmax_conversations = 7");
    let (report, seen) = run(&p, Duration::from_millis(500), None).await;
    assert_eq!((report.started, report.completed, seen.len()), (7, 7, 7));
    assert_eq!(report.dropped_arrivals, 0);
}

#[tokio::test(start_paused = true)]
async fn replay_keeps_spacing_and_the_written_trace_replays_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("in.jsonl"),
        "{\"user\": 5, \"offset_ms\": 0, \"turns\": [\"one\", \"two\"]}\n\
         {\"user\": \"ann\", \"offset_ms\": 300, \"turns\": [\"three\"]}\n\
         {\"user\": 5, \"offset_ms\": 1000, \"turns\": [\"four\"]}\n",
    )
    .expect("write trace");
    let scenario = |trace: &str, scale: f64| {
        let text =
            format!("[load]\ntrace = \"{trace}\"\ntime_scale = {scale}\n[agent]\nmodel = \"m\"\n");
        let path = dir.path().join("replay.toml");
        std::fs::write(&path, text).expect("write scenario");
        scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
    };
    let p = scenario("in.jsonl", 2.0);
    let (report, seen) = run(&p, Duration::from_millis(100), None).await;
    let starts: Vec<_> = seen
        .iter()
        .map(|(s, at)| {
            (
                s.user_id,
                s.session,
                s.turn,
                s.prompt.as_str(),
                at.as_millis(),
            )
        })
        .collect();
    assert_eq!(
        starts,
        vec![
            (5, 0, 1, "one", 0),
            (5, 0, 2, "two", 100),
            (0, 0, 1, "three", 600),
            (5, 1, 1, "four", 2000)
        ],
        "offsets times 2; a session's turns back to back"
    );
    assert_eq!(
        report.trace.iter().map(|e| e.offset_ms).collect::<Vec<_>>(),
        vec![0, 600, 2000]
    );

    // The run's own trace, written and replayed unscaled, gives the same schedule again.
    write_trace(&dir.path().join("out.jsonl"), &report.trace).expect("write");
    let p = scenario("out.jsonl", 1.0);
    let (again, seen_again) = run(&p, Duration::from_millis(100), None).await;
    assert_eq!(again.trace, report.trace);
    let at: Vec<_> = seen_again
        .iter()
        .map(|(s, at)| (s.prompt.clone(), at.as_millis()))
        .collect();
    assert_eq!(
        at,
        vec![
            ("one".into(), 0),
            ("two".into(), 100),
            ("three".into(), 600),
            ("four".into(), 2000)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn closed_run_trace_replays_to_the_same_schedule() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = closed(
        "conversations_per_user = 4",
        "users = 3\nramp_up = \"300ms\"\nthink_time = \"50ms..150ms\"\nturns_per_session = \"1..=3\"",
    );
    let (report, _) = run(&p, Duration::from_millis(20), None).await;
    let path = dir.path().join("trace.jsonl");
    write_trace(&path, &report.trace).expect("write");
    let parsed = scenario::trace::parse_trace(&std::fs::read_to_string(&path).expect("read"))
        .expect("valid trace");
    assert_eq!(parsed, report.trace);
    std::fs::write(
        dir.path().join("r.toml"),
        "[load]\ntrace = \"trace.jsonl\"\n[agent]\nmodel = \"m\"\n",
    )
    .expect("write");
    let replay = scenario::load(&dir.path().join("r.toml")).expect("valid");
    let (again, _) = run(&replay, Duration::from_millis(20), None).await;
    assert_eq!(
        again.trace, report.trace,
        "same sessions, users, turns and start offsets"
    );
    assert_eq!(again.started, 12);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_stops_starting_and_grace_cuts_the_rest() {
    // Conversations of 5 s from 0 s: at the 12 s interrupt all 3 users are mid-way through
    // their third; a 1 s grace is not enough, so those 3 are cut off.
    let p = closed("duration = \"60s\"\ngrace = \"1s\"", "users = 3");
    let (report, seen) = run(&p, Duration::from_secs(5), Some(Duration::from_secs(12))).await;
    assert!(report.interrupted);
    assert_eq!((report.started, report.completed, seen.len()), (9, 6, 9));
    assert_eq!(report.elapsed, Duration::from_secs(13));
    assert_eq!(
        report.trace.iter().map(|e| e.turns.len()).sum::<usize>(),
        9,
        "cut sessions are traced too"
    );

    // A second interrupt cuts a long grace period short: interrupted at 12 s, grace 30 s, cut
    // at 14 s, while the third conversations (10 s to 15 s) are still running.
    let p = closed("duration = \"60s\"\ngrace = \"30s\"", "users = 3");
    let (report, _) = run_with_cut(
        &p,
        Duration::from_secs(5),
        Some(Duration::from_secs(12)),
        Some(Duration::from_secs(14)),
    )
    .await;
    assert!(report.interrupted);
    assert_eq!((report.started, report.completed), (9, 6));
    assert_eq!(report.elapsed, Duration::from_secs(14));

    // At the deadline with a long enough grace, every conversation in flight finishes.
    let p = closed("duration = \"12s\"\ngrace = \"10s\"", "users = 3");
    let (report, _) = run(&p, Duration::from_secs(5), None).await;
    assert!(!report.interrupted);
    assert_eq!((report.started, report.completed), (9, 9));
    assert_eq!(report.elapsed, Duration::from_secs(15));
}
