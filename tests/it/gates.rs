//! CI gates on a hand-built run: thresholds pass and fail with the measured value, unknown
//! metric paths get suggestions, JUnit XML parses, verdicts reach summary.json and summary.md,
//! early abort waits for its samples, and the load generator's health is checked.

use std::collections::BTreeMap;
use std::time::Duration;

use reactbench::report::gates::{
    self, GateError, LoadHealthLimits, ThresholdResult, counts_after_warm_up, junit_xml,
    parse_gates, parse_thresholds, render_terminal, should_abort,
};
use reactbench::report::summary::Summary;

use crate::metrics::sample_run;

fn table(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|c| c.to_string()).collect()))
        .collect()
}

/// The sample run (four conversations: calls of 100, 300, 1800 and 3000 ms; one failed
/// conversation of four; $0.00517 in all; 3 of 7 intended arrivals dropped).
fn sample_summary() -> Summary {
    Summary::from_metrics(&sample_run())
}

fn verdicts(results: &[ThresholdResult]) -> Vec<(String, bool)> {
    results
        .iter()
        .map(|r| (format!("{} {}", r.metric, r.condition), r.passed))
        .collect()
}

#[test]
fn thresholds_pass_and_fail_on_a_hand_built_summary() {
    let s = sample_summary();
    let th = parse_thresholds(&table(&[
        ("llm_call.latency_ms.p95", &["< 2500", "< 5000"]),
        ("conversation.error_rate", &["<= 0.25", "< 0.25"]),
        ("cost.usd_total", &["<= 0.006", "< 0.005"]),
        ("load.dropped_arrivals", &["== 3"]),
        ("cost.by_model.deepseek-v3.2.usd", &["> 0"]),
    ]))
    .expect("valid thresholds");
    let results = gates::evaluate(&th, &s);
    // Metric paths in key order, conditions in the order written.
    assert_eq!(
        verdicts(&results),
        [
            ("conversation.error_rate <= 0.25", true),
            ("conversation.error_rate < 0.25", false),
            ("cost.by_model.deepseek-v3.2.usd > 0", true),
            ("cost.usd_total <= 0.006", true),
            ("cost.usd_total < 0.005", false),
            ("llm_call.latency_ms.p95 < 2500", false),
            ("llm_call.latency_ms.p95 < 5000", true),
            ("load.dropped_arrivals == 3", true),
        ]
        .map(|(n, p)| (n.to_string(), p))
    );
    // Each verdict carries the value it judged.
    let p95 = s.metric("llm_call.latency_ms.p95").expect("p95");
    assert!((3000.0..3004.0).contains(&p95), "{p95}");
    let lost = &results[5];
    assert_eq!(lost.measured, Some(p95));
    assert_eq!(lost.limit, Some(2500.0));
    assert!(!gates::all_passed(&results));
    assert!(gates::all_passed(&results[..1]));
}

#[test]
fn a_percentile_without_samples_fails_instead_of_passing_vacuously() {
    let th = parse_thresholds(&table(&[("llm_call.ttft_ms.p95", &["< 100"])])).expect("valid");
    let r = &gates::evaluate(&th, &Summary::default())[0];
    assert!(!r.passed);
    assert!(
        r.note.as_deref().unwrap_or("").contains("no samples"),
        "{r:?}"
    );
    // A model the run never called has no value at all.
    let th = parse_thresholds(&table(&[("cost.by_model.gpt-5.usd", &["< 1"])])).expect("valid");
    let r = &gates::evaluate(&th, &sample_summary())[0];
    assert_eq!((r.passed, r.measured), (false, None));
}

#[test]
fn rates_and_averages_over_nothing_fail_instead_of_passing_vacuously() {
    let empty = Summary::default();
    for (metric, count) in [
        ("conversation.error_rate", "conversation.count"),
        ("cost.usd_per_conversation", "conversation.count"),
        ("llm_call.fallback_rate", "llm_call.count"),
        ("cost.usd_per_call", "llm_call.count"),
    ] {
        let th = parse_thresholds(&table(&[(metric, &["< 0.5"])])).expect("valid");
        let r = &gates::evaluate(&th, &empty)[0];
        assert!(!r.passed, "{metric} passed over an empty run");
        assert!(r.note.as_deref().unwrap_or("").contains(count), "{r:?}");
        // With data, the same condition is judged on its value.
        let r = &gates::evaluate(&th, &sample_summary())[0];
        assert!(r.note.is_none(), "{metric}: {r:?}");
    }
}

#[test]
fn baseline_conditions_use_the_baseline_or_are_skipped() {
    let s = sample_summary();
    let th = parse_thresholds(&table(&[("cost.usd_total", &["< baseline * 1.2"])])).expect("ok");
    let skipped = &gates::evaluate(&th, &s)[0];
    assert!(skipped.passed && skipped.skipped(), "{skipped:?}");

    let mut cheaper = s.clone();
    cheaper.cost.usd_total = s.cost.usd_total / 2.0;
    let r = &gates::evaluate_against(&th, &s, Some(&cheaper))[0];
    assert!(!r.passed && !r.skipped(), "{r:?}");
    assert_eq!(r.limit, Some(cheaper.cost.usd_total * 1.2));
    let r = &gates::evaluate_against(&th, &s, Some(&s))[0];
    assert!(r.passed, "{r:?}");
}

#[test]
fn an_unknown_metric_path_is_an_error_listing_the_closest_names() {
    let err = parse_thresholds(&table(&[("conversation.error_rat", &["< 0.01"])]))
        .expect_err("unknown path");
    let GateError::UnknownMetric { suggestions, .. } = &err else {
        panic!("wrong error: {err}");
    };
    assert_eq!(suggestions[0], "conversation.error_rate");
    let msg = err.to_string();
    assert!(msg.contains("conversation.error_rat\""), "{msg}");
    assert!(msg.contains("conversation.error_rate"), "{msg}");

    let err = parse_thresholds(&table(&[("llm_call.latency.p95", &["< 1"])])).expect_err("x");
    assert!(err.to_string().contains("llm_call.latency_ms.p95"), "{err}");
}

#[test]
fn a_bad_condition_says_what_is_accepted() {
    let err = parse_thresholds(&table(&[("conversation.error_rate", &["below 1%"])]))
        .expect_err("bad condition");
    let msg = err.to_string();
    assert!(
        msg.contains("thresholds.\"conversation.error_rate\""),
        "{msg}"
    );
    assert!(msg.contains("\"below 1%\""), "{msg}");
    assert!(msg.contains("< 2500"), "{msg}");
}

#[test]
fn warm_up_is_a_reserved_key_not_a_metric() {
    let g = parse_gates(&table(&[
        ("warm_up", &["10s"]),
        ("llm_call.latency_ms.p95", &["< 2500"]),
    ]))
    .expect("valid");
    assert_eq!(g.warm_up, Duration::from_secs(10));
    assert_eq!(g.thresholds.len(), 1);
    assert!(counts_after_warm_up(Duration::from_secs(10), g.warm_up));
    assert!(!counts_after_warm_up(
        Duration::from_millis(9_999),
        g.warm_up
    ));
    let err = parse_gates(&table(&[("warm_up", &["soon"])])).expect_err("bad warm-up");
    assert!(matches!(err, GateError::BadWarmUp { .. }), "{err}");
}

#[test]
fn junit_xml_parses_and_lists_each_threshold() {
    let s = sample_summary();
    let th = parse_thresholds(&table(&[
        ("llm_call.latency_ms.p95", &["< 2500", "< 5000"]),
        ("conversation.error_rate", &["< 0.5"]),
        ("cost.usd_total", &["< baseline"]),
    ]))
    .expect("valid");
    let results = gates::evaluate(&th, &s);
    let xml = junit_xml(&results, "ci-gate & friends");
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    assert_eq!(suite.attribute("name"), Some("ci-gate & friends"));
    assert_eq!(suite.attribute("tests"), Some("4"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    assert_eq!(suite.attribute("skipped"), Some("1"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "conversation.error_rate < 0.5",
            "cost.usd_total < baseline",
            "llm_call.latency_ms.p95 < 2500",
            "llm_call.latency_ms.p95 < 5000",
        ]
    );
    let failure = cases[2]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("the lost threshold has a failure");
    let p95 = gates::format_value(s.metric("llm_call.latency_ms.p95").expect("p95"));
    assert_eq!(
        failure.attribute("message"),
        Some(format!("measured {p95}").as_str())
    );
    assert!(failure.text().unwrap_or("").contains(&p95));
    assert!(
        cases[1].children().any(|n| n.has_tag_name("skipped")),
        "baseline condition without baseline is skipped"
    );
    for passed in [&cases[0], &cases[3]] {
        assert_eq!(passed.children().filter(|n| n.is_element()).count(), 0);
    }
}

#[test]
fn verdicts_reach_the_terminal_summary_json_and_summary_md() {
    let mut s = sample_summary();
    assert!(
        !s.to_json().contains("\"thresholds\""),
        "no section without thresholds"
    );
    let th = parse_thresholds(&table(&[
        ("llm_call.latency_ms.p95", &["< 2500"]),
        ("conversation.error_rate", &["< 0.5"]),
    ]))
    .expect("valid");
    s.thresholds = gates::evaluate(&th, &s);
    let p95 = gates::format_value(s.metric("llm_call.latency_ms.p95").expect("p95"));

    let text = render_terminal(&s.thresholds, false);
    assert!(text.starts_with("Thresholds: 1 passed, 1 failed"), "{text}");
    assert!(
        text.contains("FAIL  llm_call.latency_ms.p95 < 2500"),
        "{text}"
    );
    assert!(text.contains(&format!("measured {p95}")), "{text}");
    assert!(
        text.contains("pass  conversation.error_rate < 0.5"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when told");
    assert!(render_terminal(&s.thresholds, true).contains("\x1b[1;31mFAIL"));

    let json: serde_json::Value = serde_json::from_str(&s.to_json()).expect("json");
    let list = json["thresholds"].as_array().expect("a thresholds list");
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["metric"], "llm_call.latency_ms.p95");
    assert_eq!(list[1]["passed"], false);
    assert_eq!(list[1]["limit"], 2500.0);
    let back = Summary::from_json(&s.to_json()).expect("reads back");
    assert_eq!(back.thresholds, s.thresholds);

    let md = s.to_markdown();
    assert!(md.contains("## Thresholds"), "{md}");
    assert!(md.contains("**1 of 2 thresholds failed.**"), "{md}");
    assert!(
        md.contains(&format!(
            "| ❌ **FAIL** | `llm_call.latency_ms.p95` | `< 2500` | {p95} |"
        )),
        "{md}"
    );
}

#[test]
fn early_abort_waits_for_min_samples_and_only_for_abort_on_fail() {
    let th = parse_thresholds(&table(&[
        (
            "llm_call.latency_ms.p95",
            &["< 2500 abort_on_fail min_samples=10"],
        ),
        ("conversation.error_rate", &["< 0.01"]),
        ("cost.usd_total", &["< baseline abort_on_fail"]),
    ]))
    .expect("valid");
    let live = |p: &str| match p {
        "llm_call.latency_ms.p95" => Some(3000.0),
        "conversation.error_rate" => Some(0.5),
        "cost.usd_total" => Some(99.0),
        _ => None,
    };
    assert_eq!(should_abort(&th, &live, 9), None, "too few samples");
    let msg = should_abort(&th, &live, 10).expect("lost after 10 samples");
    assert!(msg.contains("llm_call.latency_ms.p95 < 2500"), "{msg}");
    assert!(msg.contains("measured 3000"), "{msg}");
    let fine = |p: &str| live(p).map(|v| if v == 3000.0 { 1000.0 } else { v });
    assert_eq!(
        should_abort(&th, &fine, 1000),
        None,
        "neither a threshold without abort_on_fail nor a baseline one aborts"
    );
    let default_min =
        parse_thresholds(&table(&[("cost.usd_total", &["< 1 abort_on_fail"])])).expect("valid");
    assert_eq!(default_min[0].min_samples, gates::DEFAULT_ABORT_MIN_SAMPLES);
}

#[test]
fn load_generator_health_is_a_metric_and_a_warning() {
    // 4 conversations ran of 7 intended; the lag histogram holds one 100 ms sample.
    let s = sample_summary();
    assert!((s.load.achieved_rate_ratio - 4.0 / 7.0).abs() < 1e-12);
    let th = parse_thresholds(&table(&[
        ("load.achieved_rate_ratio", &[">= 0.9"]),
        ("load.scheduler_lag_ms.p99", &["< 50"]),
    ]))
    .expect("valid");
    assert!(gates::evaluate(&th, &s).iter().all(|r| !r.passed));

    let strict = LoadHealthLimits {
        min_achieved_rate_ratio: 0.9,
        max_scheduler_lag_p99_ms: 50.0,
    };
    let w = gates::load_health_warnings(&s, &strict);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("fell short") && w[0].contains("4 of 7") && w[0].contains("3 dropped"),
        "{}",
        w[0]
    );
    assert!(w[1].contains("lagged") && w[1].contains("load.scheduler_lag_ms.p99"));
    let lenient = LoadHealthLimits {
        min_achieved_rate_ratio: 0.5,
        max_scheduler_lag_p99_ms: 500.0,
    };
    assert!(gates::load_health_warnings(&s, &lenient).is_empty());

    // A closed run has no target rate: ratio 1, no warning.
    let mut closed = s.clone();
    closed.load.intended_starts = 0;
    closed.load.achieved_rate_ratio = 1.0;
    closed.load.scheduler_lag_ms = Default::default();
    assert!(gates::load_health_warnings(&closed, &strict).is_empty());
}

#[test]
fn the_shipped_scenarios_thresholds_are_valid_gates() {
    for file in ["scenarios/ci-gate.toml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(&path).expect("scenario file");
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let raw = doc
            .get("thresholds")
            .and_then(|t| t.as_table())
            .expect("a [thresholds] table");
        let map: BTreeMap<String, Vec<String>> = raw
            .iter()
            .map(|(k, v)| {
                let conds = match v {
                    toml::Value::String(s) => vec![s.clone()],
                    toml::Value::Array(a) => a
                        .iter()
                        .map(|c| c.as_str().expect("string condition").to_string())
                        .collect(),
                    other => panic!("{file}: {k} = {other}"),
                };
                (k.clone(), conds)
            })
            .collect();
        let gates = parse_gates(&map).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(gates.thresholds.len() >= 8, "{file}");
        for needed in [
            "llm_call.latency_ms.p95",
            "conversation.error_rate",
            "cost.usd_per_conversation",
        ] {
            assert!(
                gates.thresholds.iter().any(|t| t.metric == needed),
                "{file} gates {needed}"
            );
        }
    }
}

#[test]
fn a_live_snapshot_feeds_early_abort_and_the_run_goes_on() {
    use reactbench::metrics::Aggregator;
    use tokio::time::Instant;

    use crate::metrics::{info, prices, run_end, sample_records};

    let t0 = Instant::now();
    let mut agg = Aggregator::new(info(), t0, prices());
    let records = sample_records(t0);
    for r in &records[..2] {
        agg.record(r);
    }
    // Two conversations in: calls of 100, 300 and 1800 ms.
    let live = Summary::from_metrics(&agg.snapshot(t0 + Duration::from_secs(3)));
    assert_eq!(live.llm_call.count, 3);
    let th = parse_thresholds(&table(&[(
        "llm_call.latency_ms.max",
        &["< 1000 abort_on_fail min_samples=2"],
    )]))
    .expect("valid");
    let msg =
        should_abort(&th, &|p| live.metric(p), live.conversation.count).expect("lost at 1800 ms");
    assert!(msg.contains("llm_call.latency_ms.max < 1000"), "{msg}");

    // The snapshot took nothing away: the final figures cover every record.
    for r in &records[2..] {
        agg.record(r);
    }
    let done = Summary::from_metrics(&agg.finish(run_end(t0)));
    assert_eq!(done.llm_call.count, 4);
    assert_eq!(done, sample_summary());
}

#[test]
fn warm_up_leaves_out_conversations_that_started_inside_it() {
    use tokio::time::Instant;

    use crate::metrics::sample_records;

    let t0 = Instant::now();
    // Starts: 0 s (intended -0.1 s), 1 s, 2 s, 3 s.
    let kept: Vec<u64> = sample_records(t0)
        .iter()
        .filter(|r| gates::record_after_warm_up(r, t0, Duration::from_secs(1)))
        .map(|r| r.conversation_id)
        .collect();
    assert_eq!(kept, [2, 3, 4]);
    let all = sample_records(t0)
        .iter()
        .filter(|r| gates::record_after_warm_up(r, t0, Duration::ZERO))
        .count();
    assert_eq!(all, 4);
}

#[test]
fn junit_file_is_written_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("junit.xml");
    let s = sample_summary();
    let th = parse_thresholds(&table(&[("llm_call.latency_ms.p95", &["< 1"])])).expect("ok");
    gates::write_junit(&file, &gates::evaluate(&th, &s), "ci-gate").expect("write");
    let xml = std::fs::read_to_string(&file).expect("read");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        1
    );
}

#[test]
fn a_run_fails_when_calls_were_sent_and_none_was_answered() {
    // (attempts sent, calls, failed calls, fails?)
    let cases = [
        (0, 0, 0, false), // nothing sent: nothing to judge
        (0, 3, 3, false), // every call refused before the network (sanitizer, breaker)
        (5, 5, 5, true),  // every call sent failed
        (9, 5, 5, true),  // retries do not make a success
        (6, 5, 4, false), // one answer is a success
    ];
    for (attempts, calls, errors, fails) in cases {
        let mut s = Summary::default();
        s.attempt.count = attempts;
        s.llm_call.count = calls;
        s.llm_call.errors = errors;
        let verdict = gates::no_success(&s);
        assert_eq!(
            verdict.is_some(),
            fails,
            "{attempts} {calls} {errors}: {verdict:?}"
        );
        if let Some(why) = verdict {
            assert!(why.contains("no call succeeded") && why.contains("expect_no_success"));
        }
    }
}

#[test]
fn per_model_paths_name_their_model() {
    for (path, model) in [
        ("cost.by_model.gpt-4.1.usd", Some("gpt-4.1")),
        ("cost.by_model.deepseek-v3.2.usd", Some("deepseek-v3.2")),
        ("llm_call.by_model.gpt-4.1.latency_ms.p95", Some("gpt-4.1")),
        ("cost.by_model.gpt-4.1.nonsense", None),
        ("cost.usd_total", None),
        ("llm_call.by_status.429", None),
    ] {
        assert_eq!(gates::model_of_path(path), model, "{path}");
    }
}
