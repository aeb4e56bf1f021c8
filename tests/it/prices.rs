//! Price tables and `bench prices`: the LiteLLM excerpt, bad tables, what-if costs checked by
//! hand, and the command line's output and exit codes.

use std::path::{Path, PathBuf};
use std::process::Output;

use reactbench::pricing::{PriceTable, PricingError, TableFormat, TokenMix, what_if};
use reactbench::report::summary::{SUMMARY_VERSION, Summary};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn excerpt() -> PriceTable {
    PriceTable::load(&data("litellm-excerpt.json")).expect("the excerpt loads")
}

/// Runs `bench` with `args` from a neutral directory, so the built-in table must be embedded.
fn bench(args: &[&str]) -> Output {
    crate::support::bench_in(&std::env::temp_dir(), args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn litellm_excerpt_loads_and_skips_sample_spec_and_non_chat_entries() {
    let t = excerpt();
    assert_eq!(t.info.format, TableFormat::Litellm);
    let keys: Vec<&str> = t.models.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "azure_ai/deepseek-v3.2",
            "claude-sonnet-4-5",
            "deepseek/deepseek-chat",
            "deepseek/deepseek-v3.2",
            "gemini/gemini-2.5-flash",
            "gpt-4.1",
            "gpt-4o-2024-05-13",
            "gpt-4o-mini",
        ]
    );
    let s = &t.info.skipped;
    // sample_spec; embedding, image and mode-less entries; a chat entry without an input price.
    assert_eq!(
        (s.sample_spec, s.not_chat, s.no_price, s.odd_value),
        (1, 3, 1, 0)
    );
    let p = t.get("gpt-4.1").expect("gpt-4.1");
    assert_eq!(
        (
            p.input_usd_per_mtok,
            p.cached_input_usd_per_mtok,
            p.output_usd_per_mtok
        ),
        (2.0, 0.5, 8.0)
    );
    assert_eq!(p.context_window, Some(1_047_576));
    assert_eq!(p.provider.as_deref(), Some("openai"));
    // No cache_read_input_token_cost: cached input at the input price, and the table says so.
    let old = t.get("gpt-4o-2024-05-13").expect("snapshot");
    assert_eq!(old.cached_input_usd_per_mtok, old.input_usd_per_mtok);
    assert!(
        t.info
            .cached_price_assumed
            .contains(&"gpt-4o-2024-05-13".to_string())
    );
    assert!(!t.info.cached_price_assumed.contains(&"gpt-4.1".to_string()));
}

#[test]
fn litellm_lookup_resolves_provider_prefixes_both_ways() {
    let t = excerpt();
    for (asked, key) in [
        ("deepseek-chat", "deepseek/deepseek-chat"),
        ("deepseek/deepseek-chat", "deepseek/deepseek-chat"),
        ("gemini-2.5-flash", "gemini/gemini-2.5-flash"),
        ("openai/gpt-4.1", "gpt-4.1"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        // The maker's own listing wins over a reseller's.
        ("deepseek-v3.2", "deepseek/deepseek-v3.2"),
    ] {
        assert_eq!(t.resolve(asked).map(|(k, _)| k), Some(key), "{asked}");
    }
    assert!(matches!(
        t.lookup("gpt-9"),
        Err(PricingError::UnknownModel { .. })
    ));
}

#[test]
fn litellm_odd_entries_are_skipped_and_counted_not_fatal() {
    let body = r#"{
        "good": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                 "max_input_tokens": "lots", "some_future_field": [1, 2]},
        "string-price": {"mode": "chat", "input_cost_per_token": "1e-06", "output_cost_per_token": 2e-06},
        "null-price": {"mode": "chat", "input_cost_per_token": null, "output_cost_per_token": 2e-06},
        "negative": {"mode": "chat", "input_cost_per_token": -1e-06, "output_cost_per_token": 2e-06},
        "cached-dearer": {"mode": "chat", "input_cost_per_token": 1e-06, "cache_read_input_token_cost": 2e-06, "output_cost_per_token": 2e-06},
        "mode-number": {"mode": 3, "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
        "not-an-object": 42
    }"#;
    let t = PriceTable::from_litellm_str(body, "odd.json").expect("the good entry survives");
    assert_eq!(t.models.keys().collect::<Vec<_>>(), ["good"]);
    assert_eq!(t.models["good"].context_window, None);
    let s = &t.info.skipped;
    assert_eq!((s.no_price, s.odd_value), (1, 5));
}

#[test]
fn bad_tables_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "negative.toml",
            "[models.\"gpt-4.1\"]\ninput_usd_per_mtok = -2.0\ncached_input_usd_per_mtok = 0.5\noutput_usd_per_mtok = 8.0\n",
            &[
                "negative.toml",
                "model `gpt-4.1`",
                "key `input_usd_per_mtok`",
                "-2",
            ],
        ),
        (
            "unknown-key.toml",
            "[models.m]\ninput_usd_per_mtok = 1.0\ncached_input_usd_per_mtok = 0.1\noutput_usd_per_mtok = 2.0\noutput_usd_per_mtoken = 3.0\n",
            &[
                "unknown-key.toml",
                "model `m`",
                "key `output_usd_per_mtoken`",
            ],
        ),
        (
            "malformed.toml",
            "[models.m\ninput_usd_per_mtok = 1.0\n",
            &["malformed.toml", "not a valid TOML", "line"],
        ),
        (
            "malformed.json",
            "{\"gpt-4.1\": {\"mode\": \"chat\",}",
            &["malformed.json", "not valid JSON", "line"],
        ),
        (
            "no-chat.json",
            "{\"e\": {\"mode\": \"embedding\", \"input_cost_per_token\": 1e-08}}",
            &["no-chat.json", "no chat model"],
        ),
        (
            "infinite.toml",
            "[models.m]\ninput_usd_per_mtok = inf\ncached_input_usd_per_mtok = 0.1\noutput_usd_per_mtok = 2.0\n",
            &["infinite.toml", "key `input_usd_per_mtok`", "finite"],
        ),
    ];
    for (name, body, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("write");
        let err = PriceTable::load(&path).expect_err(name).to_string();
        for w in want {
            assert!(err.contains(w), "{name}: `{err}` lacks `{w}`");
        }
    }
    let missing = PriceTable::load(&dir.path().join("nope.toml")).expect_err("missing file");
    assert!(matches!(missing, PricingError::Io { .. }), "{missing}");
}

#[test]
fn what_if_equals_hand_computed_costs_to_the_cent() {
    let t = PriceTable::default_table().expect("default table");
    // Three conversations: 12,000 prompt tokens of which 3,000 cached, 1,500 completion tokens;
    // 250 conversations a day.
    let mix = TokenMix {
        calls: 3,
        prompt_tokens: 12_000,
        cached_tokens: 3_000,
        completion_tokens: 1_500,
    };
    let models: Vec<String> = ["claude-sonnet-4.5", "deepseek-chat", "gemini-2.5-flash"]
        .map(String::from)
        .to_vec();
    let rows = what_if(&t, &mix, &models, Some("gpt-4.1"), 250).expect("priced");
    // By hand, micro-dollars for the whole mix (9,000 uncached + 3,000 cached + 1,500 output):
    // gpt-4.1   9000*2.00 + 3000*0.50  + 1500*8.00  = 31,500
    // sonnet    9000*3.00 + 3000*0.30  + 1500*15.00 = 50,400
    // deepseek  9000*0.28 + 3000*0.028 + 1500*0.42  =  3,234
    // gemini    9000*0.30 + 3000*0.03  + 1500*2.50  =  6,540
    // per conversation /3, per day *250, per month *30; saving against gpt-4.1's $78.75/month.
    let want = [
        // (model, key, per conversation, per 1k, per day, per month, saving/month, saving %)
        ("gpt-4.1", "gpt-4.1", 0.0105, 10.5, 2.625, 78.75, 0.0, 0.0),
        (
            "claude-sonnet-4.5",
            "claude-sonnet-4.5",
            0.0168,
            16.8,
            4.2,
            126.0,
            -47.25,
            -60.0,
        ),
        (
            "deepseek-chat",
            "deepseek-v3.2",
            0.001078,
            1.078,
            0.2695,
            8.085,
            70.665,
            89.733,
        ),
        (
            "gemini-2.5-flash",
            "gemini-2.5-flash",
            0.00218,
            2.18,
            0.545,
            16.35,
            62.4,
            79.238,
        ),
    ];
    assert_eq!(rows.len(), want.len());
    // Far tighter than a cent: the hand figures are exact, so only float noise may differ
    // (rounding both to cents would flip on values like $70.665).
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    for (row, (model, key, call, k, day, month, saving, pct)) in rows.iter().zip(want) {
        assert_eq!((row.model.as_str(), row.table_key.as_str()), (model, key));
        assert!(close(row.usd_per_call, call), "{model} per call");
        assert!(close(row.usd_per_1k_calls, k), "{model} per 1k");
        assert!(close(row.usd_per_day, day), "{model} per day");
        assert!(close(row.usd_per_month, month), "{model} per month");
        let s = row.saving_usd_per_month.expect("a reference was given");
        assert!(close(s, saving), "{model} saving {s}");
        let p = row.saving_pct.expect("reference costs something");
        assert!((p - pct).abs() < 0.001, "{model} saving % {p}");
        assert_eq!(row.is_reference, model == "gpt-4.1");
    }
}

#[test]
fn cli_prints_the_four_seed_models_with_savings() {
    let out = bench(&[
        "prices",
        "--input-tokens",
        "2000",
        "--output-tokens",
        "500",
        "--calls-per-day",
        "10000",
        "--reference",
        "gpt-4.1",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    // Per call, per day and per month at 10,000 calls a day, with the saving against gpt-4.1:
    // gpt-4.1 2000*2 + 500*8 = $0.008; the others below.
    for (model, cells) in [
        (
            "gpt-4.1",
            &["$0.008000", "$80.00", "$2,400.00", "reference"][..],
        ),
        (
            "claude-sonnet-4.5",
            &["$0.0135", "$135.00", "$4,050.00", "-$1,650.00", "-68.8%"],
        ),
        (
            "deepseek-v3.2",
            &["$0.000770", "$7.70", "$231.00", "+$2,169.00", "+90.4%"],
        ),
        (
            "gemini-2.5-flash",
            &["$0.001850", "$18.50", "$555.00", "+$1,845.00", "+76.9%"],
        ),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(model))
            .unwrap_or_else(|| panic!("no row for {model} in\n{stdout}"));
        for cell in cells {
            assert!(line.contains(cell), "{model}: `{line}` lacks `{cell}`");
        }
    }
    assert!(stdout.contains("10,000 calls/day"), "{stdout}");
}

#[test]
fn cli_csv_columns_are_pinned_and_json_parses() {
    let base = [
        "prices",
        "--input-tokens",
        "1000",
        "--cached-tokens",
        "200",
        "--output-tokens",
        "100",
        "--models",
        "gpt-4o,gpt-5-mini",
        "--reference",
        "gpt-4.1",
    ];
    let out = bench(&[&base[..], &["--format", "csv"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "model,table_key,provider,input_usd_per_mtok,cached_input_usd_per_mtok,output_usd_per_mtok,context_window,usd_total,usd_per_call,usd_per_1k_calls,usd_per_day,usd_per_month,is_reference,saving_usd_per_month,saving_pct"
        )
    );
    // The reference comes first when --models lacks it, then the models in the order given.
    let firsts: Vec<&str> = lines.filter_map(|l| l.split(',').next()).collect();
    assert_eq!(firsts, ["gpt-4.1", "gpt-4o", "gpt-5-mini"]);

    let out = bench(&[&base[..], &["--format", "json"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["mix"]["cached_tokens"], 200);
    assert_eq!(json["unit"], "call");

    let out = bench(&[&base[..], &["--format", "markdown"]].concat());
    let md = text(&out.stdout);
    assert!(
        md.contains("| model |") && md.contains("| gpt-4o |"),
        "{md}"
    );
}

#[test]
fn cli_exits_2_on_a_bad_table_or_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let negative = dir.path().join("negative.toml");
    std::fs::write(
        &negative,
        "[models.m]\ninput_usd_per_mtok = 1.0\ncached_input_usd_per_mtok = 0.1\noutput_usd_per_mtok = -2.0\n",
    )
    .expect("write");
    let malformed = dir.path().join("broken.json");
    std::fs::write(&malformed, "{\"m\": ").expect("write");
    let profile = ["--input-tokens", "100", "--output-tokens", "10"];
    for (extra, want) in [
        (
            vec!["--table", negative.to_str().expect("utf-8 path")],
            "key `output_usd_per_mtok`",
        ),
        (
            vec!["--table", malformed.to_str().expect("utf-8 path")],
            "broken.json",
        ),
        (vec!["--models", "gpt-9"], "model `gpt-9`"),
        (vec!["--cached-tokens", "101"], "--cached-tokens"),
    ] {
        let args = [&["prices"][..], &profile[..], &extra[..]].concat();
        let out = bench(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: `{stderr}` lacks `{want}`");
        assert!(out.stdout.is_empty(), "{args:?} printed data on failure");
    }
    let out = bench(&["prices"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--input-tokens"));
}

#[test]
fn cli_prices_a_run_directory_per_conversation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut summary = Summary {
        version: SUMMARY_VERSION,
        ..Summary::default()
    };
    summary.conversation.count = 4;
    summary.llm_call.count = 9;
    summary.tokens.prompt = 40000;
    summary.tokens.cached = 8000;
    summary.tokens.completion = 4000;
    std::fs::write(dir.path().join("summary.json"), summary.to_json()).expect("write");
    let run_dir = dir.path().to_str().expect("utf-8 path");
    let out = bench(&[
        "prices", "--run", run_dir, "--models", "gpt-4.1", "--format", "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["unit"], "conversation");
    assert_eq!(json["mix"]["calls"], 4);
    // Per conversation: 8,000 uncached * 2 + 2,000 cached * 0.5 + 1,000 output * 8 = $0.025.
    let per = json["rows"][0]["usd_per_call"].as_f64().expect("a number");
    assert!((per - 0.025).abs() < 1e-12, "{per}");
}

#[test]
fn cli_refuses_a_summary_of_another_version_or_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().to_str().expect("utf-8 path");
    let out = bench(&["prices", "--run", run_dir]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not a run directory") && stderr.contains("summary.json"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("summary.json"),
        r#"{"version": 1, "conversations": {"total": 4},
            "tokens": {"prompt_tokens": 40000, "completion_tokens": 4000}}"#,
    )
    .expect("write");
    let out = bench(&["prices", "--run", run_dir]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("version 1") && stderr.contains("reads version 2"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "printed data on failure");
}

#[test]
fn cli_reads_a_litellm_table() {
    let table = data("litellm-excerpt.json");
    let out = bench(&[
        "prices",
        "--table",
        table.to_str().expect("utf-8 path"),
        "--input-tokens",
        "1000",
        "--output-tokens",
        "100",
        "--models",
        "deepseek-chat",
        "--reference",
        "gpt-4.1",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("deepseek-chat"))
        .unwrap_or_else(|| panic!("no deepseek row in\n{stdout}"));
    // Priced as the prefixed entry: 1000 * 0.28 + 100 * 0.42 = $0.000322 per call.
    assert!(
        line.contains("deepseek/deepseek-chat") && line.contains("$0.000322"),
        "{line}"
    );
    assert!(text(&out.stderr).contains("sample_spec 1"));
}
