use super::*;

fn config(threshold: u32, probes: u32) -> BreakerConfig {
    BreakerConfig {
        failure_threshold: threshold,
        recovery_timeout: HumanDuration(Duration::from_secs(60)),
        half_open_max_calls: probes,
        ..BreakerConfig::default()
    }
}

fn call(b: &Breaker, r: CallResult) -> bool {
    match b.try_acquire() {
        Ok(p) => {
            p.record(r);
            true
        }
        Err(_) => false,
    }
}

fn states(b: &Breaker) -> Vec<(BreakerState, BreakerState)> {
    b.transitions().iter().map(|t| (t.from, t.to)).collect()
}

use BreakerState::{Closed, HalfOpen, Open};
use CallResult::{Failure, Neutral, Success};

#[tokio::test(start_paused = true)]
async fn trips_on_consecutive_failures_only() {
    let b = Breaker::new("e", "m", config(3, 1));
    for r in [Failure, Failure, Success, Failure, Failure] {
        assert!(call(&b, r));
    }
    assert_eq!(b.state(), Closed, "a success resets the streak");
    // Client errors are neutral: they neither trip nor reset.
    for r in [Neutral, Neutral, Neutral, Neutral] {
        assert!(call(&b, r));
    }
    assert_eq!(b.state(), Closed);
    assert!(call(&b, Failure));
    assert_eq!(b.state(), Open);
}

#[tokio::test(start_paused = true)]
async fn rejections_are_never_failures() {
    let b = Breaker::new("e", "m", config(2, 1));
    call(&b, Failure);
    call(&b, Failure);
    assert_eq!(b.state(), Open);
    // Steady traffic while open: many rejections.
    for _ in 0..1000 {
        assert!(!call(&b, Failure));
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    assert_eq!(b.rejections(), 1000);
    // 50 s passed; 10 more and the probe goes through and closes the breaker, because
    // the rejections did not push the open time forward.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(call(&b, Success));
    assert_eq!(b.state(), Closed);
    assert_eq!(
        states(&b),
        vec![(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_n_probes_and_closes_after_all_succeed() {
    let b = Breaker::new("e", "m", config(1, 3));
    call(&b, Failure);
    tokio::time::advance(Duration::from_secs(60)).await;
    let permits: Vec<Permit<'_>> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
    assert!(permits.iter().all(|p| p.is_probe()));
    for _ in 0..5 {
        let r = b.try_acquire().err().unwrap();
        assert_eq!(r.state, HalfOpen);
    }
    let mut permits = permits.into_iter();
    permits.next().unwrap().record(Success);
    permits.next().unwrap().record(Success);
    assert_eq!(b.state(), HalfOpen, "one success is not enough");
    assert!(
        b.try_acquire().is_err(),
        "succeeded probes do not free slots"
    );
    permits.next().unwrap().record(Success);
    assert_eq!(b.state(), Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_reopens_on_a_failure_and_waits_again() {
    let b = Breaker::new("e", "m", config(1, 2));
    call(&b, Failure);
    tokio::time::advance(Duration::from_secs(60)).await;
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.record(Failure);
    assert_eq!(b.state(), Open);
    // The other probe's late success belongs to the old generation and changes nothing.
    p2.record(Success);
    assert_eq!(b.state(), Open);
    tokio::time::advance(Duration::from_secs(59)).await;
    let r = b.try_acquire().err().unwrap();
    assert_eq!(r.retry_in, Some(Duration::from_secs(1)));
    assert_eq!(
        states(&b),
        vec![(Closed, Open), (Open, HalfOpen), (HalfOpen, Open)]
    );
    let times: Vec<Instant> = b.transitions().iter().map(|t| t.at).collect();
    assert_eq!(times[2] - times[0], Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn dropped_probe_frees_its_slot() {
    let b = Breaker::new("e", "m", config(1, 1));
    call(&b, Failure);
    tokio::time::advance(Duration::from_secs(60)).await;
    let p = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(p);
    assert!(call(&b, Success));
    assert_eq!(b.state(), Closed);
}

#[tokio::test(start_paused = true)]
async fn failure_rate_mode_needs_min_calls_and_forgets_old_calls() {
    let b = Breaker::new(
        "e",
        "m",
        BreakerConfig {
            failure_threshold: 100,
            failure_rate: Some(0.5),
            window: HumanDuration(Duration::from_secs(10)),
            min_calls: 10,
            ..BreakerConfig::default()
        },
    );
    // Alternate: 50 % failures but never 100 in a row; 9 calls are below min_calls.
    for i in 0..9 {
        call(&b, if i % 2 == 0 { Success } else { Failure });
    }
    assert_eq!(b.state(), Closed);
    // Old calls slide out of the window.
    tokio::time::advance(Duration::from_secs(11)).await;
    for _ in 0..9 {
        call(&b, Success);
    }
    call(&b, Failure);
    assert_eq!(b.state(), Closed, "1 failure in 10 is under 50 %");
    for _ in 0..9 {
        call(&b, Failure);
    }
    assert_eq!(b.state(), Open);
}

#[test]
fn classification_of_results() {
    let e = |class, status| LlmError {
        status,
        ..LlmError::local(class, "x")
    };
    for (err, want) in [
        (e(ErrorClass::RateLimited, Some(429)), Failure),
        (e(ErrorClass::Server, Some(503)), Failure),
        (e(ErrorClass::Timeout, None), Failure),
        (e(ErrorClass::Connection, None), Failure),
        (e(ErrorClass::StreamCut, Some(200)), Failure),
        (e(ErrorClass::Conflict, Some(408)), Failure),
        (e(ErrorClass::Conflict, Some(409)), Neutral),
        (e(ErrorClass::BadRequest, Some(400)), Neutral),
        (e(ErrorClass::ContextLength, Some(400)), Neutral),
        (e(ErrorClass::Auth, Some(401)), Neutral),
        (e(ErrorClass::NotFound, Some(404)), Neutral),
    ] {
        assert_eq!(CallResult::of(Err(&err)), want, "{err:?}");
    }
    assert_eq!(CallResult::of(Ok(())), Success);
}

#[test]
fn registry_shares_one_breaker_per_endpoint_and_model() {
    let r = BreakerRegistry::new(config(1, 1));
    let a = r.get("e1", "m");
    assert!(Arc::ptr_eq(&a, &r.get("e1", "m")));
    assert!(!Arc::ptr_eq(&a, &r.get("e2", "m")));
    assert!(!Arc::ptr_eq(&a, &r.get("e1", "n")));
    assert_eq!(r.breakers().len(), 3);
}

#[test]
fn config_validation_and_toml() {
    let c: BreakerConfig = toml::from_str("failure_rate = 0.5\nmin_calls = 4").unwrap();
    assert_eq!(c.failure_threshold, 5);
    assert!(c.validate().is_ok());
    for bad in [
        "failure_threshold = 0",
        "half_open_max_calls = 0",
        "failure_rate = 1.5",
    ] {
        let c: BreakerConfig = toml::from_str(bad).unwrap();
        assert!(c.validate().is_err(), "{bad}");
    }
    assert!(toml::from_str::<BreakerConfig>("threshold = 3").is_err());
}
