//! Scenario files: shipped scenarios validate, bad files are refused with a message that names
//! the problem (and `bench validate` exits 2 on them), overrides re-check what they change.

use std::path::Path;

use crate::support::{bench, repo, write};
use reactbench::pricing::{ModelPrice, PriceTable};
use reactbench::scenario::{self, Endpoint, LoadShape, Overrides, ScenarioError};

/// A valid closed-model scenario that the bad cases below break one way each.
const GOOD: &str = r#"
name = "t"
duration = "5s"
[load]
users = 3
[agent]
model = "gpt-4.1"
fallback = ["deepseek-v3.2"]
[[workload]]
prompts = ["hi"]
"#;

fn price(input: f64) -> ModelPrice {
    ModelPrice {
        input_usd_per_mtok: input,
        cached_input_usd_per_mtok: input / 4.0,
        output_usd_per_mtok: input * 4.0,
        context_window: None,
        provider: None,
        notes: None,
    }
}

/// The benchmark scenarios of `scripts/bench-peers.sh` validate too, and keep their
/// connection bound (what stops 50,000 users from opening 50,000 sockets).
#[test]
fn every_bench_scenario_validates() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("scenarios/bench")).expect("scenarios/bench/ exists")
    {
        let path = entry.expect("readable dir").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let plan = scenario::check_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            (1..=4096).contains(&plan.endpoint.max_connections),
            "{}: max_connections {}",
            path.display(),
            plan.endpoint.max_connections
        );
    }
    assert!(seen >= 5, "capacity, streaming, scale, open, overhead");
}

#[test]
fn max_connections_defaults_and_is_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = scenario::check_file(&write(dir.path(), "ok.toml", GOOD)).expect("valid");
    assert_eq!(
        plan.endpoint.max_connections,
        reactbench::client::DEFAULT_MAX_CONNECTIONS
    );
    let set = format!("{GOOD}\n[endpoint]\nmax_connections = 64\n");
    let plan = scenario::check_file(&write(dir.path(), "set.toml", &set)).expect("valid");
    assert_eq!(plan.endpoint.max_connections, 64);
    let zero = format!("{GOOD}\n[endpoint]\nmax_connections = 0\n");
    let e = scenario::check_file(&write(dir.path(), "zero.toml", &zero)).unwrap_err();
    assert!(e.to_string().contains("endpoint.max_connections"), "{e}");
}

#[test]
fn every_shipped_scenario_validates() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("scenarios")).expect("scenarios/ exists") {
        let path = entry.expect("readable dir").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let plan = scenario::check_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let out = bench(&["validate", path.to_str().expect("utf-8 path")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&plan.name),
            "summary names the scenario: {stdout}"
        );
    }
    for name in [
        "100-users.toml",
        "smoke.toml",
        "rate-limit-storm.toml",
        "outage-fallback.toml",
        "open-model.toml",
        "real-endpoint.toml",
    ] {
        assert!(
            repo().join("scenarios").join(name).is_file(),
            "{name} is shipped"
        );
    }
    assert!(seen >= 6);
}

#[test]
fn shipped_demo_has_the_promised_shape() {
    let plan = scenario::load(&repo().join("scenarios/100-users.toml")).expect("valid");
    let LoadShape::Closed(c) = &plan.load.shape else {
        panic!("closed model expected")
    };
    assert_eq!(c.users, 100);
    assert!(matches!(plan.endpoint.target, Endpoint::Mock { .. }));
    let labels: Vec<_> = plan
        .workload
        .sources
        .iter()
        .filter_map(|s| s.label.as_deref())
        .collect();
    assert!(
        labels.contains(&"benign") && labels.contains(&"hostile"),
        "{labels:?}"
    );
    // The JSONL source holds scripted multi-turn sessions.
    assert!(
        plan.workload
            .sources
            .iter()
            .flat_map(|s| &s.items)
            .any(|i| i.follow_ups.len() >= 2)
    );
    let real = scenario::load(&repo().join("scenarios/real-endpoint.toml")).expect("valid");
    assert!(matches!(real.endpoint.target, Endpoint::Http { .. }));
    assert!(real.limits.spend_cap_usd.is_some());
}

/// One bad file: how to make it, and what its message must name.
struct Bad {
    what: &'static str,
    scenario: String,
    /// Extra files beside the scenario.
    files: Vec<(&'static str, &'static str)>,
    /// Substrings the message must contain (the key path, the value, the remedy).
    expect: Vec<&'static str>,
}

fn bad_cases() -> Vec<Bad> {
    let with = |from: &str, to: &str| {
        assert!(GOOD.contains(from), "{from}");
        GOOD.replace(from, to)
    };
    vec![
        Bad {
            what: "syntax error",
            scenario: with("model = \"gpt-4.1\"", "model = \"gpt-4.1"),
            files: vec![],
            expect: vec!["syntax error", ":7:"],
        },
        Bad {
            what: "unknown key",
            scenario: with("users = 3", "userz = 3"),
            files: vec![],
            expect: vec!["load.userz", "unknown field", "users"],
        },
        Bad {
            what: "negative users",
            scenario: with("users = 3", "users = -3"),
            files: vec![],
            expect: vec!["load.users", "-3", "whole number"],
        },
        Bad {
            what: "zero users",
            scenario: with("users = 3", "users = 0"),
            files: vec![],
            expect: vec!["load.users", "= 0", "from 1"],
        },
        Bad {
            what: "bad duration",
            scenario: with("duration = \"5s\"", "duration = \"5 parsecs\""),
            files: vec![],
            expect: vec!["`duration`", "5 parsecs", "1m30s"],
        },
        Bad {
            what: "absurdly long duration",
            scenario: with("duration = \"5s\"", "duration = \"1000years\""),
            files: vec![],
            expect: vec!["`duration`", "365 days"],
        },
        Bad {
            what: "open-model rate beyond what a run can schedule",
            scenario: with("users = 3", "arrival_rate = \"1/1000000d\""),
            files: vec![],
            expect: vec!["load.arrival_rate", "1/d"],
        },
        Bad {
            what: "missing prompt file",
            scenario: with("prompts = [\"hi\"]", "file = \"prompts/nope.txt\""),
            files: vec![],
            expect: vec!["workload[0].file", "nope.txt", "cannot be read"],
        },
        Bad {
            what: "malformed JSONL prompt file",
            scenario: with("prompts = [\"hi\"]", "file = \"p.jsonl\""),
            files: vec![("p.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"typo\"}\n")],
            expect: vec!["workload[0].file", "p.jsonl", "line 2"],
        },
        Bad {
            what: "http without a spend cap",
            scenario: format!(
                "{GOOD}\n[endpoint]\nkind = \"http\"\nbase_url = \"http://127.0.0.1:9/v1\"\n"
            ),
            files: vec![],
            expect: vec!["limits.spend_cap_usd", "(missing)", "spend_cap_usd = 5.0"],
        },
        Bad {
            what: "an API key where its variable's name belongs",
            scenario: format!(
                "{GOOD}\n[limits]\nspend_cap_usd = 1.0\n[endpoint]\nkind = \"http\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"sk-proj-abcdefghijklmnop\"\n"
            ),
            files: vec![],
            expect: vec!["endpoint.api_key_env", "never the key itself", "sk-p..."],
        },
        Bad {
            what: "unknown endpoint kind",
            scenario: format!("{GOOD}\n[endpoint]\nkind = \"grpc\"\n"),
            files: vec![],
            expect: vec!["endpoint.kind", "grpc", "`mock` or `http`"],
        },
        Bad {
            what: "missing model price",
            scenario: format!("{GOOD}\n[prices]\ntable = \"prices.toml\"\n"),
            files: vec![(
                "prices.toml",
                "[models.\"gpt-4.1\"]\ninput_usd_per_mtok = 2.0\ncached_input_usd_per_mtok = 0.5\noutput_usd_per_mtok = 8.0\n",
            )],
            expect: vec!["agent.fallback[0]", "deepseek-v3.2", "no price", "gpt-4.1"],
        },
        Bad {
            what: "two load models at once",
            scenario: with("users = 3", "users = 3\narrival_rate = \"5/s\""),
            files: vec![],
            expect: vec!["`load`", "exactly one load model"],
        },
        Bad {
            what: "both prompts and file",
            scenario: with("prompts = [\"hi\"]", "prompts = [\"hi\"]\nfile = \"x.txt\""),
            files: vec![],
            expect: vec!["workload[0]", "exactly one of"],
        },
        Bad {
            what: "both duration and conversations per user",
            scenario: with(
                "duration = \"5s\"",
                "duration = \"5s\"\nconversations_per_user = 2",
            ),
            files: vec![],
            expect: vec!["conversations_per_user", "not both"],
        },
        Bad {
            what: "fallback repeating the primary",
            scenario: with("fallback = [\"deepseek-v3.2\"]", "fallback = [\"gpt-4.1\"]"),
            files: vec![],
            expect: vec!["agent.fallback[0]", "gpt-4.1", "not already in the chain"],
        },
        Bad {
            what: "empty count range",
            scenario: with("users = 3", "users = 3\nturns_per_session = \"4..=1\""),
            files: vec![],
            expect: vec!["load.turns_per_session", "4..=1", "1..=4"],
        },
        Bad {
            what: "metrics URL that is not http",
            scenario: with(
                "duration = \"5s\"",
                "duration = \"5s\"\n[endpoint]\nmetrics_url = \"ftp://host/metrics\"",
            ),
            files: vec![],
            expect: vec![
                "endpoint.metrics_url",
                "ftp://host/metrics",
                "http://127.0.0.1:8000/metrics",
            ],
        },
        Bad {
            what: "unknown metric or preset",
            scenario: with(
                "duration = \"5s\"",
                "duration = \"5s\"\n[endpoint]\nmetrics_url = \"mock\"\nmetrics = [\"vllm\", \"not a name\"]",
            ),
            files: vec![],
            expect: vec!["endpoint.metrics", "not a name", "\"sglang\""],
        },
        Bad {
            what: "tool definition with a bad type",
            scenario: with(
                "fallback = [\"deepseek-v3.2\"]",
                "fallback = [\"deepseek-v3.2\"]\n[agent.tools]\ndefinitions = \"tools.json\"",
            ),
            files: vec![(
                "tools.json",
                r#"[{"type":"function","function":{"name":"get_order","parameters":{"type":"object","properties":{"status":{"type":"text"}}}}}]"#,
            )],
            expect: vec![
                "agent.tools.definitions",
                "tools.json",
                "tool `get_order`",
                "parameters.properties.status.type",
                "\"text\" is not a JSON type",
            ],
        },
        Bad {
            what: "tool definition with an unknown field",
            scenario: with(
                "fallback = [\"deepseek-v3.2\"]",
                "fallback = [\"deepseek-v3.2\"]\n[agent.tools]\ndefinitions = \"tools.json\"",
            ),
            files: vec![(
                "tools.json",
                r#"[{"type":"function","function":{"name":"refund","paramters":{}}}]"#,
            )],
            expect: vec![
                "tool `refund`",
                "unknown field `function.paramters`",
                "parameters",
            ],
        },
        Bad {
            what: "missing tools file",
            scenario: with(
                "fallback = [\"deepseek-v3.2\"]",
                "fallback = [\"deepseek-v3.2\"]\n[agent.tools]\ndefinitions = \"nope.json\"",
            ),
            files: vec![],
            expect: vec!["agent.tools.definitions", "nope.json"],
        },
        Bad {
            what: "inline tool with a required field it lacks",
            scenario: with(
                "fallback = [\"deepseek-v3.2\"]",
                "fallback = [\"deepseek-v3.2\"]\n[[agent.tools.define]]\nname = \"refund\"\nparameters = { type = \"object\", properties = {}, required = [\"amount\"] }",
            ),
            files: vec![],
            expect: vec![
                "agent.tools.define[0]",
                "tool `refund`",
                "parameters.required",
                "`amount`",
            ],
        },
        Bad {
            what: "tool failure probability out of range",
            scenario: with(
                "fallback = [\"deepseek-v3.2\"]",
                "fallback = [\"deepseek-v3.2\"]\n[[agent.tools.define]]\nname = \"refund\"\n[agent.tools.simulate.refund]\nfailure_probability = 1.5",
            ),
            files: vec![],
            expect: vec![
                "agent.tools.simulate.refund.failure_probability",
                "1.5",
                "from 0 to 1",
            ],
        },
        Bad {
            what: "both system prompt keys",
            scenario: with(
                "fallback = [\"deepseek-v3.2\"]",
                "fallback = [\"deepseek-v3.2\"]\nsystem_prompt = \"x\"\nsystem_prompt_file = \"p.md\"",
            ),
            files: vec![("p.md", "You are an agent.")],
            expect: vec!["agent.system_prompt_file", "not both"],
        },
        Bad {
            what: "scrape interval too short",
            scenario: with(
                "duration = \"5s\"",
                "duration = \"5s\"\n[endpoint]\nmetrics_url = \"mock\"\nmetrics_interval = \"10ms\"",
            ),
            files: vec![],
            expect: vec!["endpoint.metrics_interval", "10ms", "100ms"],
        },
        Bad {
            what: "mock metrics on a real endpoint",
            scenario: with(
                "duration = \"5s\"",
                "duration = \"5s\"\n[endpoint]\nkind = \"http\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmetrics_url = \"mock\"",
            ),
            files: vec![],
            expect: vec!["endpoint.metrics_url", "\"mock\"", "kind = \"mock\""],
        },
        Bad {
            what: "scrape settings without a metrics URL",
            scenario: with(
                "duration = \"5s\"",
                "duration = \"5s\"\n[endpoint]\nmetrics = \"vllm\"",
            ),
            files: vec![],
            expect: vec!["endpoint.metrics", "metrics_url"],
        },
    ]
}

#[test]
fn bad_scenario_files_are_refused_naming_the_problem() {
    for case in bad_cases() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in &case.files {
            write(dir.path(), name, text);
        }
        let path = write(dir.path(), "bad.toml", &case.scenario);
        let err = match scenario::check_file(&path) {
            Ok(_) => panic!("{}: accepted", case.what),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("bad.toml"),
            "{}: names the file: {err}",
            case.what
        );
        for want in &case.expect {
            assert!(
                err.contains(want),
                "{}: `{want}` missing from: {err}",
                case.what
            );
        }
        let out = bench(&["validate", path.to_str().expect("utf-8 path")]);
        assert_eq!(out.status.code(), Some(2), "{}", case.what);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&err), "{}: stderr {stderr}", case.what);
        assert!(out.stdout.is_empty(), "{}: no plan printed", case.what);
        // Validation writes nothing: the directory holds only what the case put there.
        let entries = std::fs::read_dir(dir.path()).expect("readable").count();
        assert_eq!(entries, case.files.len() + 1, "{}", case.what);
    }
}

#[test]
fn validate_on_a_missing_file_exits_2() {
    let out = bench(&["validate", "scenarios/does-not-exist.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.toml"));
}

#[test]
fn price_hook_checks_primary_fallbacks_and_comparison() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "{GOOD}\n[prices]\ncompare = [\"gpt-4.1\", \"gemini-2.5-flash\"]\nreference = \"gpt-4.1\"\n"
    );
    let plan = scenario::load(&write(dir.path(), "p.toml", &text)).expect("valid");
    let mut table = PriceTable::default();
    table.models.insert("gpt-4.1".into(), price(2.0));
    let check = |t: &PriceTable| scenario::validate_prices(&plan, t, "test table");
    match check(&table) {
        Err(ScenarioError::MissingPrice { key, model, .. }) => {
            assert_eq!(
                (key.as_str(), model.as_str()),
                ("agent.fallback[0]", "deepseek-v3.2")
            );
        }
        other => panic!("{other:?}"),
    }
    table.models.insert("deepseek-v3.2".into(), price(0.28));
    match check(&table) {
        Err(ScenarioError::MissingPrice { key, .. }) => assert_eq!(key, "prices.compare[1]"),
        other => panic!("{other:?}"),
    }
    table.models.insert("gemini-2.5-flash".into(), price(0.3));
    check(&table).expect("every model priced");
}

#[test]
fn defaults_files_and_thresholds() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("prompts")).expect("mkdir");
    write(
        &dir.path().join("prompts"),
        "a.txt",
        "# attribution line\nfirst\n\n  second  \n",
    );
    write(
        &dir.path().join("prompts"),
        "s.jsonl",
        "{\"text\": \"hello\", \"turns\": [\"and then\", \"finally\"]}\n{\"text\": \"solo\", \"label\": \"benign\"}\n",
    );
    let text = r#"
duration = "1m"
[load]
users = 2
[agent]
model = "gpt-4.1"
[[workload]]
file = "prompts/a.txt"
label = "benign"
[[workload]]
weight = 3
file = "prompts/s.jsonl"
[thresholds]
"llm_call.latency_ms.p95" = "< 2500"
"cost.usd_per_conversation" = ["< 0.03", "< baseline * 1.1"]
"#;
    let plan = scenario::load(&write(dir.path(), "named.toml", text)).expect("valid");
    assert_eq!(plan.name, "named", "name defaults to the file stem");
    assert_eq!(plan.seed, scenario::DEFAULT_SEED);
    assert_eq!(plan.load.grace, scenario::DEFAULT_GRACE);
    assert!(plan.agent.stream);
    let texts: Vec<_> = plan.workload.sources[0]
        .items
        .iter()
        .map(|i| i.text.as_str())
        .collect();
    assert_eq!(
        texts,
        ["first", "second"],
        "comments and blank lines skipped, trimmed"
    );
    let scripted = &plan.workload.sources[1].items[0];
    assert_eq!(
        (scripted.text.as_str(), scripted.follow_ups.len()),
        ("hello", 2)
    );
    assert_eq!(plan.thresholds["cost.usd_per_conversation"].len(), 2);
    assert_eq!(plan.thresholds["llm_call.latency_ms.p95"], ["< 2500"]);
}

fn args(f: impl FnOnce(&mut Overrides)) -> Overrides {
    let mut a = Overrides::default();
    f(&mut a);
    a
}

#[test]
fn overrides_apply_and_are_rechecked() {
    let base = scenario::parse(Path::new("o.toml"), GOOD).expect("valid");

    let mut plan = base.clone();
    scenario::apply_overrides(
        &mut plan,
        &args(|a| {
            a.users = Some(7);
            a.conversations_per_user = Some(2);
            a.seed = Some(99);
            a.out = Some("out/dir".into());
        }),
    )
    .expect("valid overrides");
    let LoadShape::Closed(c) = &plan.load.shape else {
        panic!("closed")
    };
    assert_eq!((c.users, c.stages[0].target), (7, 7));
    assert_eq!(
        (plan.load.conversations_per_user, plan.load.duration),
        (Some(2), None),
        "replaces duration"
    );
    assert_eq!(plan.seed, 99);
    assert_eq!(plan.report.out.as_deref(), Some(Path::new("out/dir")));

    let mut plan = base.clone();
    scenario::apply_overrides(&mut plan, &args(|a| a.duration = Some("90s".into())))
        .expect("valid");
    assert_eq!(plan.load.duration, Some(std::time::Duration::from_secs(90)));

    for (what, a, key) in [
        ("zero users", args(|a| a.users = Some(0)), "--users"),
        (
            "bad duration",
            args(|a| a.duration = Some("soon".into())),
            "--duration",
        ),
        (
            "bad url",
            args(|a| a.endpoint_url = Some("ftp://x".into())),
            "--endpoint-url",
        ),
        // Switching to a real endpoint needs a spend cap the mock scenario lacks.
        (
            "url without cap",
            args(|a| a.endpoint_url = Some("http://127.0.0.1:9/v1".into())),
            "limits.spend_cap_usd",
        ),
        (
            "zero conversations",
            args(|a| a.conversations_per_user = Some(0)),
            "conversations_per_user",
        ),
    ] {
        let mut plan = base.clone();
        let err = scenario::apply_overrides(&mut plan, &a).expect_err(what);
        assert_eq!(err.key(), Some(key), "{what}: {err}");
    }

    let open = GOOD.replace("users = 3", "arrival_rate = \"5/s\"");
    let mut plan = scenario::parse(Path::new("o.toml"), &open).expect("valid open model");
    let err =
        scenario::apply_overrides(&mut plan, &args(|a| a.users = Some(3))).expect_err("no users");
    assert_eq!(err.key(), Some("--users"));

    // A cap needs a completion limit to reserve against (`agent.max_tokens`).
    let capped = format!(
        "{}\n[limits]\nspend_cap_usd = 2.0\n",
        GOOD.replace(
            "model = \"gpt-4.1\"",
            "model = \"gpt-4.1\"\nmax_tokens = 256"
        )
    );
    let mut plan = scenario::parse(Path::new("o.toml"), &capped).expect("valid");
    scenario::apply_overrides(
        &mut plan,
        &args(|a| a.endpoint_url = Some("http://127.0.0.1:9/v1".into())),
    )
    .expect("a capped plan may switch to http");
    assert!(
        matches!(&plan.endpoint.target, Endpoint::Http { base_url, .. } if base_url == "http://127.0.0.1:9/v1")
    );
}
