use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

#[test]
fn calculator_table() {
    for (expr, want) in [
        ("2+3", Ok(5.0)),
        ("2 + 3 * 4", Ok(14.0)),
        ("(2 + 3) * 4", Ok(20.0)),
        ("10 / 4", Ok(2.5)),
        ("10 - 4 - 3", Ok(3.0)),
        ("100 / 10 / 5", Ok(2.0)),
        ("-3 * -2", Ok(6.0)),
        ("-(2 + 3)", Ok(-5.0)),
        ("--4", Ok(4.0)),
        ("+4", Ok(4.0)),
        ("1.5 * 2", Ok(3.0)),
        (".5 + 2.", Ok(2.5)),
        ("1e3 / 8", Ok(125.0)),
        ("  ((1))  ", Ok(1.0)),
        ("0.1 + 0.2", Ok(0.1 + 0.2)),
        ("1/0", Err("division by zero")),
        ("1/(2-2)", Err("division by zero")),
        ("", Err("unexpected end")),
        ("2 +", Err("unexpected end")),
        ("(2 + 3", Err("missing `)`")),
        ("2 + 3)", Err("unexpected `)`")),
        ("2 ^ 3", Err("unexpected `^`")),
        ("two + 3", Err("unexpected `t`")),
        ("1..2", Err("unexpected `.`")),
        ("2 3", Err("unexpected `3`")),
        ("3 × 4", Err("unexpected `×`")),
        ("1e308 * 10", Err("overflows")),
    ] {
        match (calculate(expr), want) {
            (Ok(got), Ok(w)) => assert_eq!(got, w, "{expr}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{expr}: {e}"),
            (got, w) => panic!("{expr}: got {got:?}, want {w:?}"),
        }
    }
}

#[test]
fn calculator_survives_hostile_nesting() {
    let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(calculate(&deep).unwrap_err().contains("nested"));
    let minus = "-".repeat(100_000) + "1";
    assert!(calculate(&minus).unwrap_err().contains("nested"));
    let ok = format!("{}7{}", "(".repeat(60), ")".repeat(60));
    assert_eq!(calculate(&ok), Ok(7.0));
}

#[test]
fn arguments_from_text_or_json() {
    for (input, want) in [
        ("2+2", Ok("2+2")),
        ("  \"2+2\" ", Ok("2+2")),
        ("'2+2'", Ok("2+2")),
        (r#"{"expression": "2+2"}"#, Ok("2+2")),
        (r#"{"expr": "2+2"}"#, Ok("2+2")),
        (r#""a \"quoted\" one""#, Ok("a \"quoted\" one")),
        (r#"{"expression": 4}"#, Err("must be a string")),
        (r#"{"a": "1", "b": "2"}"#, Err("missing `expression`")),
        (r#"{"expression": "#, Err("not valid JSON")),
    ] {
        let got = argument(input, "expression");
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{input}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{input}: {e}"),
            (g, w) => panic!("{input}: got {g:?}, want {w:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn runs_tools_with_simulated_latency() {
    let mut cfg = ToolsConfig::default();
    cfg.latency
        .insert("calculator".into(), "20ms..80ms".parse().unwrap());
    let tb = ToolBox::new(&cfg).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let t0 = Instant::now();
    let r = tb
        .run("calculator", r#"{"expression":"(2+3)*4"}"#, &mut rng)
        .await;
    assert_eq!(
        (r.status.clone(), r.output.as_str()),
        (ToolStatus::Ok, "20")
    );
    assert!((Duration::from_millis(20)..=Duration::from_millis(81)).contains(&r.latency));
    // Paused time: the clock moved by exactly the simulated latency.
    assert_eq!(t0.elapsed(), r.latency);
    assert_eq!(r.record(0).latency, r.latency);

    let r = tb.run("calculator", "10/4", &mut rng).await;
    assert_eq!(r.output, "2.5");
    let r = tb.run("calculator", "1/0", &mut rng).await;
    assert_eq!(r.status, ToolStatus::Error);
    assert!(r.output.contains("division by zero"), "{}", r.output);

    // Search and lookup: deterministic, derived from the query, whitespace-insensitive.
    let a = tb.run("search", "weather in Hanoi", &mut rng).await;
    let b = tb
        .run("search", r#"{"query":"weather  in Hanoi"}"#, &mut rng)
        .await;
    let c = tb.run("search", "weather in Paris", &mut rng).await;
    assert_eq!(a.status, ToolStatus::Ok);
    assert_eq!(a.output, b.output);
    assert_ne!(a.output, c.output);
    assert!(a.output.contains("weather in Hanoi"));
    let l = tb.run("lookup", "Ada Lovelace", &mut rng).await;
    assert!(
        l.output.starts_with("Record for \"Ada Lovelace\""),
        "{}",
        l.output
    );
    let e = tb.run("lookup", r#"{"query": "  "}"#, &mut rng).await;
    assert_eq!(e.status, ToolStatus::Error);
}

#[tokio::test(start_paused = true)]
async fn refuses_names_outside_the_allow_list_without_running() {
    let cfg = ToolsConfig {
        allowed: Some(vec!["calculator".into()]),
        ..Default::default()
    };
    let tb = ToolBox::new(&cfg).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for name in ["search", "delete_all", "exec", "Calculator", ""] {
        let t0 = Instant::now();
        let r = tb.run(name, "anything", &mut rng).await;
        assert_eq!(r.status, ToolStatus::Refused, "{name}");
        assert_eq!((r.latency, t0.elapsed()), (Duration::ZERO, Duration::ZERO));
        assert!(r.output.contains("not allowed"));
        assert_eq!(r.record(0).status, ToolStatus::Refused);
    }
    assert!(tb.allows("calculator") && !tb.allows("search"));
}

#[tokio::test(start_paused = true)]
async fn run_future_is_send_and_does_not_borrow_the_rng() {
    let tb = ToolBox::new(&ToolsConfig::default()).unwrap();
    // A thread-local rng is not Send; the future must not hold it.
    let fut = tb.run("calculator", "6*7", &mut rand::rng());
    let r = tokio::spawn(fut).await.unwrap();
    assert_eq!((r.status, r.output.as_str()), (ToolStatus::Ok, "42"));
}

#[test]
fn spec_and_describe_follow_the_allow_list() {
    let tb = ToolBox::new(&ToolsConfig::default()).unwrap();
    let spec = tb.spec();
    let names: Vec<&str> = spec.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, KNOWN_TOOLS);
    assert_eq!(spec[0].parameters["required"][0], "expression");
    assert_eq!(
        spec[0].parameters["properties"]["expression"]["type"],
        "string"
    );
    assert_eq!(spec[1].parameters["required"][0], "query");
    assert_eq!(tb.describe().len(), 3);
    assert_eq!(tb.describe()[2].0, "lookup");
}

#[tokio::test(start_paused = true)]
async fn config_from_toml_with_canned_outputs() {
    let cfg: ToolsConfig = toml::from_str(
        r#"
        allowed = ["search"]
        latency = { search = "5ms" }
        outputs = { search = ["alpha", "beta", "gamma"] }
        "#,
    )
    .unwrap();
    let tb = ToolBox::new(&cfg).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let r = tb.run("search", "rust", &mut rng).await;
    assert_eq!(r.latency, Duration::from_millis(5));
    assert!(["alpha", "beta", "gamma"].contains(&r.output.as_str()));
    assert_eq!(tb.run("search", "rust", &mut rng).await.output, r.output);

    for (toml_text, key) in [
        ("allowed = [\"exec\"]", "`exec`"),
        ("latency = { shell = \"1ms\" }", "`shell`"),
        ("outputs = { calculator = [\"4\"] }", "calculator"),
        ("outputs = { search = [] }", "empty"),
    ] {
        let cfg: ToolsConfig = toml::from_str(toml_text).unwrap();
        let err = ToolBox::new(&cfg).unwrap_err();
        assert!(err.contains(key), "{toml_text}: {err}");
    }
    assert!(toml::from_str::<ToolsConfig>("allow = []").is_err());
    assert!(toml::from_str::<ToolsConfig>("latency = { search = \"fast\" }").is_err());
}

/// Two defined tools, one failing always, one with a template, and a built-in kept.
fn custom_box(extra: &str) -> ToolBox {
    let cfg: ToolsConfig = toml::from_str(&format!(
        r#"
        allowed = ["get_order", "search_kb", "calculator"]
        [[define]]
        name = "get_order"
        description = "Fetch an order"
        parameters = {{ type = "object", properties = {{ order_id = {{ type = "string" }} }}, required = ["order_id"] }}
        [[define]]
        name = "search_kb"
        parameters = {{ type = "object", properties = {{ query = {{ type = "string" }} }} }}
        [simulate.get_order]
        latency = "30ms"
        template = "Order {{order_id}}: shipped"
        {extra}
        "#
    ))
    .unwrap();
    ToolBox::new(&cfg).unwrap()
}

#[tokio::test(start_paused = true)]
async fn defined_tools_run_as_simulated() {
    let tb = custom_box("[simulate.search_kb]\noutput_tokens = \"300\"");
    let names: Vec<String> = tb.spec().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["get_order", "search_kb", "calculator"]);
    let described = tb.describe();
    assert!(described[0].1.contains(ARGS_MARK) && described[0].1.contains("order_id"));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let r = tb.run("get_order", r#"{"order_id":"A-7"}"#, &mut rng).await;
    assert_eq!(
        (r.status, r.output.as_str()),
        (ToolStatus::Ok, "Order A-7: shipped")
    );
    assert_eq!(r.latency, Duration::from_millis(30));
    let kb = tb
        .run("search_kb", r#"{"query":"refunds"}"#, &mut rng)
        .await;
    let tokens = crate::tokens::Tokenizer::for_model("gpt-4.1").count(&kb.output);
    assert!((270..=330).contains(&tokens), "{tokens}");
    assert_eq!(tb.run("calculator", "2*3", &mut rng).await.output, "6");
}

#[tokio::test(start_paused = true)]
async fn a_failing_tool_returns_its_error_text() {
    let tb = custom_box("failure_probability = 1.0\nerror = \"Error: order service down\"");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let r = tb.run("get_order", r#"{"order_id":"A-7"}"#, &mut rng).await;
    assert_eq!(
        (r.status, r.output.as_str()),
        (ToolStatus::Error, "Error: order service down")
    );
}

#[test]
fn tool_settings_errors_name_the_tool_and_key() {
    for (toml_text, want) in [
        ("[simulate.nope]\nlatency = \"1ms\"", "`nope`"),
        (
            "[[define]]\nname = \"x\"\nparameters = { type = \"object\", properties = { a = { type = \"str\" } } }",
            "agent.tools.define[0]: tool `x`: `parameters.properties.a.type`",
        ),
        (
            "[[define]]\nname = \"x\"\n[simulate.x]\nfailure_probability = 2.0",
            "agent.tools.simulate.x.failure_probability",
        ),
        (
            "[[define]]\nname = \"x\"\n[simulate.x]\noutputs = [\"a\"]\ntemplate = \"b\"",
            "one of `outputs`, `template`",
        ),
        (
            "[[define]]\nname = \"x\"\nparameters = { type = \"object\", properties = { id = { type = \"string\" } } }\n[simulate.x]\ntemplate = \"{oid}\"",
            "agent.tools.simulate.x.template",
        ),
        (
            "[[define]]\nname = \"x\"\n[[define]]\nname = \"x\"",
            "defined twice",
        ),
    ] {
        let cfg: ToolsConfig = toml::from_str(toml_text).unwrap();
        let err = cfg.validate().unwrap_err();
        assert!(err.contains(want), "{toml_text}: {err}");
    }
}
