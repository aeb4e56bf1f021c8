//! Report plots, `index.html` and the HdrHistogram interval log: every plot is a real PNG of the
//! promised size for normal and awkward inputs, text is drawn with the bundled font, the page
//! embeds every image and escapes data, nothing temporary is left behind, and the interval log
//! reads back to the very same percentiles.
//!
//! Set `REACTBENCH_PLOT_DIR=/some/dir` to keep the sample plots and page for a look
//! (`html/index.html` is the whole sample report).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use plotters::prelude::*;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use reactbench::report::histlog::{read_interval_log, write_interval_log};
use reactbench::report::html::{HtmlImage, HtmlReport, HtmlTable, render_html, write_html};
use reactbench::report::plot::{
    FONT_FAMILY, LatencySeries, ModelCost, OpenPeriod, PLOT_HEIGHT, PLOT_WIDTH, PriceComparisonRow,
    TimelinePoint, ensure_font_registered, plot_cost_by_model, plot_latency_histogram,
    plot_latency_percentiles, plot_price_comparison, plot_timeline,
};

const LONG_NAME: &str = "an-extremely-long-model-name-from-a-provider-that-likes-long-names/\
                         with-a-version-suffix-2026-11-28-preview-experimental";

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Log-normal latencies (µs) around `median_ms`, with a slow tail, deterministic by seed.
fn latencies(seed: u64, n: usize, median_ms: f64) -> Histogram<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut h = histogram();
    for _ in 0..n {
        // Box-Muller: a standard normal from two uniforms.
        let u1: f64 = rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = rng.random_range(0.0..1.0);
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let mut ms = median_ms * (0.35 * z).exp();
        if rng.random_range(0.0..1.0) < 0.01 {
            ms *= 4.0; // a retry after a 429
        }
        h.record((ms * 1000.0) as u64).expect("value within bounds");
    }
    h
}

fn timeline(seconds: u64) -> (Vec<TimelinePoint>, Vec<OpenPeriod>) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let points = (0..seconds)
        .map(|s| {
            let ramp = (s as f64 / 30.0).min(1.0);
            let outage = (125..140).contains(&s);
            let calls = if (60..63).contains(&s) {
                0
            } else {
                (ramp * 55.0 + rng.random_range(-4.0..4.0)).max(0.0) as u64
            };
            let errors = if outage {
                calls / 2
            } else {
                u64::from(rng.random_range(0.0..1.0) < 0.08)
            };
            let p95_ms = (calls > 0).then(|| {
                let base = if outage { 4200.0 } else { 1800.0 };
                base + rng.random_range(0.0..300.0) + ramp * 200.0
            });
            TimelinePoint {
                second: s,
                calls,
                errors,
                p95_ms,
            }
        })
        .collect();
    let periods = vec![
        OpenPeriod {
            start_s: 125.0,
            end_s: 140.0,
            label: "deepseek-v3.2".into(),
        },
        OpenPeriod {
            start_s: 200.5,
            end_s: 203.0,
            label: "gpt-4o".into(),
        },
    ];
    (points, periods)
}

fn costs() -> Vec<ModelCost> {
    vec![
        ModelCost {
            model: "gpt-4.1".into(),
            usd: 4.8213,
        },
        ModelCost {
            model: "gpt-4o-mini".into(),
            usd: 0.1764,
        },
        ModelCost {
            model: "deepseek-v3.2 (fallback)".into(),
            usd: 0.0412,
        },
    ]
}

fn comparison() -> Vec<PriceComparisonRow> {
    [
        ("gpt-4.1", 52.40, true),
        ("claude-sonnet-4.5", 89.25, false),
        ("gpt-5", 41.10, false),
        ("gpt-5-mini", 8.22, false),
        ("gpt-4o", 64.75, false),
        ("gpt-4o-mini", 3.93, false),
        ("deepseek-v3.2", 4.41, false),
        ("gemini-2.5-flash", 11.80, false),
    ]
    .into_iter()
    .map(|(m, usd, r)| PriceComparisonRow {
        model: m.into(),
        usd_per_1k_conversations: usd,
        is_reference: r,
    })
    .collect()
}

/// Checks the bytes are a PNG and decode to an image of the expected size; returns the image.
fn check_png(path: &Path, height: Option<u32>) -> image::RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 1000,
        "{} is suspiciously small",
        path.display()
    );
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()))
        .to_rgb8();
    assert_eq!(img.width(), PLOT_WIDTH, "{}", path.display());
    match height {
        Some(h) => assert_eq!(img.height(), h, "{}", path.display()),
        None => assert!(img.height() >= PLOT_HEIGHT, "{}", path.display()),
    }
    img
}

/// Dark pixels (text, axes) in a band of rows: nonzero where something was drawn in black-ish.
fn dark_pixels(img: &image::RgbImage, rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|c| *c < 100))
        .count()
}

/// Files in `dir` whose name says they are temporary.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.contains(".tmp"))
        .collect()
}

/// Renders every plot with realistic data into `dir`; returns (title, path) per plot.
fn render_sample_report(dir: &Path) -> Vec<(String, PathBuf)> {
    let mini = latencies(1, 5000, 850.0);
    let sonnet = latencies(2, 3000, 2100.0);
    let deepseek = latencies(3, 800, 1500.0);
    let series = [
        LatencySeries {
            name: "gpt-4o-mini",
            histogram: &mini,
        },
        LatencySeries {
            name: "claude-sonnet-4.5",
            histogram: &sonnet,
        },
        LatencySeries {
            name: "deepseek-v3.2",
            histogram: &deepseek,
        },
    ];
    let (points, periods) = timeline(300);
    let out = |name: &str| dir.join(name);
    plot_latency_percentiles(
        &out("latency-percentiles.png"),
        "LLM call latency by model",
        &series,
    )
    .expect("percentile plot");
    plot_latency_histogram(
        &out("latency-histogram.png"),
        "LLM call latency (all models)",
        &mini,
    )
    .expect("histogram plot");
    plot_timeline(&out("timeline.png"), &points, &periods).expect("timeline plot");
    plot_cost_by_model(&out("cost-by-model.png"), &costs()).expect("cost plot");
    plot_price_comparison(&out("price-comparison.png"), &comparison()).expect("what-if plot");
    [
        ("Latency percentiles", "latency-percentiles.png"),
        ("Latency histogram", "latency-histogram.png"),
        ("Timeline", "timeline.png"),
        ("Cost by model", "cost-by-model.png"),
        ("What-if price comparison", "price-comparison.png"),
    ]
    .into_iter()
    .map(|(t, f)| (t.to_string(), out(f)))
    .collect()
}

/// A fresh temporary directory, or `$REACTBENCH_PLOT_DIR/<test>` to keep the output (one
/// subdirectory per test, so tests running in parallel never see each other's temporary files).
fn sample_dir(test: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("REACTBENCH_PLOT_DIR") {
        Some(d) => {
            let d = PathBuf::from(d).join(test);
            std::fs::create_dir_all(&d).expect("create REACTBENCH_PLOT_DIR");
            (None, d)
        }
        None => {
            let t = tempfile::tempdir().expect("tempdir");
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

#[test]
fn every_plot_is_a_png_of_the_promised_size_with_text() {
    let (_guard, dir) = sample_dir("plots");
    let plots = render_sample_report(&dir);
    for (_, path) in &plots {
        let img = check_png(path, None);
        // The title sits in the top band: dark glyph pixels there prove text was drawn.
        assert!(
            dark_pixels(&img, 0..60) > 200,
            "{} has no title text",
            path.display()
        );
    }
    assert!(
        leftovers(&dir).is_empty(),
        "temporary files left: {:?}",
        leftovers(&dir)
    );
}

#[test]
fn text_comes_from_the_bundled_font_only() {
    // plotters' ab_glyph backend resolves families only among fonts registered from bytes: a
    // family that was not registered fails, even one the system has (DejaVu Sans is installed on
    // many machines). So the plots cannot be using a system font.
    ensure_font_registered().expect("bundled font parses");
    let mut buf = vec![0u8; 200 * 50 * 3];
    let root = BitMapBackend::with_buffer(&mut buf, (200, 50)).into_drawing_area();
    root.fill(&WHITE).expect("fill");
    let unregistered = root.draw(&Text::new("x", (5, 5), ("DejaVu Sans", 20).into_font()));
    assert!(
        unregistered.is_err(),
        "an unregistered family must not draw"
    );
    root.draw(&Text::new("Latency", (5, 5), (FONT_FAMILY, 20).into_font()))
        .expect("bundled family draws");
    drop(root);
    assert!(
        buf.iter().any(|b| *b < 100),
        "the bundled font drew no pixels"
    );
}

#[test]
fn edge_cases_draw_without_panicking() {
    let (_guard, dir) = sample_dir("edge");
    let p = |n: &str| dir.join(n);
    let empty = histogram();
    let mut single = histogram();
    single.record(1_234).expect("record");
    let mut zeros = histogram();
    zeros.record_n(0, 10).expect("record");
    let big = latencies(9, 2000, 900.0);
    let long = [
        LatencySeries {
            name: LONG_NAME,
            histogram: &big,
        },
        LatencySeries {
            name: "empty-model",
            histogram: &empty,
        },
    ];

    let fixed = Some(PLOT_HEIGHT);
    plot_latency_percentiles(&p("pct-none.png"), "none", &[]).expect("no series");
    check_png(&p("pct-none.png"), fixed);
    let only_empty = [LatencySeries {
        name: "m",
        histogram: &empty,
    }];
    plot_latency_percentiles(&p("pct-empty.png"), "empty", &only_empty).expect("empty");
    check_png(&p("pct-empty.png"), fixed);
    let one = [LatencySeries {
        name: "m",
        histogram: &single,
    }];
    plot_latency_percentiles(&p("pct-one.png"), "one sample", &one).expect("one sample");
    check_png(&p("pct-one.png"), fixed);
    let zero = [LatencySeries {
        name: "m",
        histogram: &zeros,
    }];
    plot_latency_percentiles(&p("pct-zero.png"), "zeros", &zero).expect("all zero");
    check_png(&p("pct-zero.png"), fixed);
    let long_title = format!("LLM call latency for {LONG_NAME} and {LONG_NAME}");
    plot_latency_percentiles(&p("pct-long.png"), &long_title, &long).expect("long name");
    check_png(&p("pct-long.png"), fixed);

    for (name, h) in [
        ("h-empty.png", &empty),
        ("h-one.png", &single),
        ("h-zero.png", &zeros),
    ] {
        plot_latency_histogram(&p(name), name, h).expect(name);
        check_png(&p(name), fixed);
    }

    plot_timeline(&p("t-empty.png"), &[], &[]).expect("empty timeline");
    check_png(&p("t-empty.png"), fixed);
    let one_point = [TimelinePoint {
        second: 0,
        calls: 3,
        errors: 0,
        p95_ms: Some(812.0),
    }];
    plot_timeline(&p("t-one.png"), &one_point, &[]).expect("one second");
    check_png(&p("t-one.png"), fixed);
    let idle: Vec<TimelinePoint> = (0..10)
        .map(|s| TimelinePoint {
            second: s,
            calls: 0,
            errors: 0,
            p95_ms: None,
        })
        .collect();
    let weird = [OpenPeriod {
        start_s: f64::NAN,
        end_s: 3.0,
        label: LONG_NAME.into(),
    }];
    plot_timeline(&p("t-idle.png"), &idle, &weird).expect("idle timeline");
    check_png(&p("t-idle.png"), fixed);
    let (long_run, _) = timeline(3600);
    let many_periods: Vec<OpenPeriod> = (0..200)
        .map(|i| OpenPeriod {
            start_s: f64::from(i) * 17.0,
            end_s: f64::from(i) * 17.0 + 5.0,
            label: format!("model-{i}"),
        })
        .collect();
    plot_timeline(&p("t-hour.png"), &long_run, &many_periods).expect("an hour");
    check_png(&p("t-hour.png"), fixed);
    let extremes = [0, u64::MAX].map(|second| TimelinePoint {
        second,
        calls: u64::MAX,
        errors: 1,
        p95_ms: Some(f64::INFINITY),
    });
    plot_timeline(&p("t-extreme.png"), &extremes, &[]).expect("extreme seconds");
    check_png(&p("t-extreme.png"), fixed);

    plot_cost_by_model(&p("c-empty.png"), &[]).expect("no models");
    check_png(&p("c-empty.png"), fixed);
    let zero_costs = vec![
        ModelCost {
            model: LONG_NAME.into(),
            usd: 0.0,
        },
        ModelCost {
            model: "nan".into(),
            usd: f64::NAN,
        },
    ];
    plot_cost_by_model(&p("c-zero.png"), &zero_costs).expect("zero costs");
    check_png(&p("c-zero.png"), fixed);
    let many: Vec<ModelCost> = (0..60)
        .map(|i| ModelCost {
            model: format!("model-{i}"),
            usd: f64::from(i) * 0.37,
        })
        .collect();
    plot_cost_by_model(&p("c-many.png"), &many).expect("many models");
    let tall = check_png(&p("c-many.png"), None);
    assert!(tall.height() > PLOT_HEIGHT, "60 bars need a taller image");

    plot_price_comparison(&p("w-empty.png"), &[]).expect("no rows");
    check_png(&p("w-empty.png"), fixed);
    let no_reference: Vec<PriceComparisonRow> = comparison()
        .into_iter()
        .map(|r| PriceComparisonRow {
            is_reference: false,
            ..r
        })
        .collect();
    plot_price_comparison(&p("w-noref.png"), &no_reference).expect("no reference");
    check_png(&p("w-noref.png"), fixed);
    let zero_ref = [PriceComparisonRow {
        model: LONG_NAME.into(),
        usd_per_1k_conversations: 0.0,
        is_reference: true,
    }];
    plot_price_comparison(&p("w-zero.png"), &zero_ref).expect("zero reference");
    check_png(&p("w-zero.png"), fixed);

    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

#[test]
fn a_failed_write_reports_the_path_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The target is an existing directory, so the final rename must fail.
    let target = dir.path().join("occupied.png");
    std::fs::create_dir(&target).expect("mkdir");
    std::fs::write(target.join("keep"), b"x").expect("write");
    let err = plot_cost_by_model(&target, &costs()).expect_err("cannot replace a directory");
    assert!(format!("{err:#}").contains("occupied.png"), "{err:#}");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

fn sample_html(images: &[(String, PathBuf)]) -> HtmlReport {
    HtmlReport {
        title: "100-users <b>run</b> 2026-11-28T11:00Z".into(),
        notes: vec![
            "Run interrupted by Ctrl-C after 212 s; the report covers what finished.".into(),
        ],
        settings: vec![
            ("scenario".into(), "scenarios/100-users.toml".into()),
            ("users".into(), "100".into()),
            ("duration".into(), "5m".into()),
            (
                "models".into(),
                "gpt-4o-mini, fallback deepseek-v3.2".into(),
            ),
            (
                "system prompt".into(),
                "You are <script>alert('pwned')</script> helpful".into(),
            ),
        ],
        summary: HtmlTable {
            title: "Summary".into(),
            headers: vec![
                "metric".into(),
                "p50".into(),
                "p95".into(),
                "p99".into(),
                "max".into(),
            ],
            rows: vec![
                vec![
                    "LLM call latency".into(),
                    "851 ms".into(),
                    "1,512 ms".into(),
                    "3,402 ms".into(),
                    "9,120 ms".into(),
                ],
                vec![
                    "conversation latency".into(),
                    "6.2 s".into(),
                    "11.8 s".into(),
                    "19.4 s".into(),
                    "31.0 s".into(),
                ],
                vec![
                    "cost per conversation".into(),
                    "$0.0021".into(),
                    "$0.0064".into(),
                    "$0.0098".into(),
                    "$0.0150".into(),
                ],
            ],
        },
        images: images
            .iter()
            .map(|(title, path)| HtmlImage {
                title: title.clone(),
                path: path.clone(),
            })
            .collect(),
        tables: vec![
            HtmlTable {
                title: "Cost by model".into(),
                headers: vec![
                    "model".into(),
                    "calls".into(),
                    "input tokens".into(),
                    "output tokens".into(),
                    "cost".into(),
                ],
                rows: vec![
                    vec![
                        "gpt-4o-mini".into(),
                        "10,482".into(),
                        "20,964,000".into(),
                        "5,241,000".into(),
                        "$6.29".into(),
                    ],
                    vec![
                        "<script>evil()</script>".into(),
                        "12".into(),
                        "24,000".into(),
                        "6,000".into(),
                        "$0.01".into(),
                    ],
                ],
            },
            HtmlTable {
                title: "Errors by class".into(),
                headers: vec!["class".into(), "count".into(), "share".into()],
                rows: vec![
                    vec!["rate_limited".into(), "118".into(), "1.1%".into()],
                    vec!["timeout".into(), "7".into(), "0.1%".into()],
                ],
            },
            HtmlTable {
                title: "Empty table".into(),
                headers: vec!["a".into(), "b".into()],
                rows: vec![],
            },
        ],
    }
}

#[test]
fn html_embeds_every_plot_and_escapes_data() {
    let (_guard, dir) = sample_dir("html");
    let plots = render_sample_report(&dir);
    let report = sample_html(&plots);
    let path = dir.join("index.html");
    write_html(&path, &report).expect("write index.html");
    let html = std::fs::read_to_string(&path).expect("read index.html");

    use base64::Engine as _;
    for (title, png) in &plots {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(png).expect("read png"));
        assert!(
            html.contains(&format!("data:image/png;base64,{encoded}\"")),
            "{title} missing"
        );
    }
    assert_eq!(html.matches("<img ").count(), plots.len());
    // Data never becomes markup: the only tags are ours, and there is no script at all.
    assert!(
        !html.to_lowercase().contains("<script"),
        "unescaped <script> in the page"
    );
    assert!(html.contains("&lt;script&gt;evil()&lt;/script&gt;"));
    assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
    assert!(html.contains("100-users &lt;b&gt;run&lt;/b&gt;"));
    // Self-contained: nothing is fetched from anywhere.
    for needle in [
        "http://",
        "https://",
        "src=\"/",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(needle), "page references {needle}");
    }
    for text in [
        "Summary",
        "Settings",
        "Cost by model",
        "Errors by class",
        "1,512 ms",
        "no rows",
    ] {
        assert!(html.contains(text), "page lacks {text}");
    }
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

#[test]
fn html_names_a_missing_plot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = vec![("Gone".to_string(), dir.path().join("gone.png"))];
    let err = render_html(&sample_html(&missing)).expect_err("missing image");
    assert!(format!("{err:#}").contains("gone.png"), "{err:#}");
}

#[test]
fn interval_log_reads_back_the_same_percentiles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = BTreeMap::new();
    set.insert(
        "llm_call/gpt-4o-mini".to_string(),
        latencies(1, 5000, 850.0),
    );
    set.insert(
        "llm_call/claude sonnet, 4.5%".to_string(),
        latencies(2, 3000, 2100.0),
    );
    set.insert("conversation".to_string(), latencies(3, 900, 9000.0));
    set.insert("ttft/gpt-4o-mini".to_string(), latencies(4, 5000, 240.0));
    set.insert("empty".to_string(), histogram());
    let path = dir.path().join("histograms.hlog");
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    write_interval_log(&path, &set, start, Duration::from_secs(300)).expect("write log");
    let text = std::fs::read_to_string(&path).expect("log is text");
    assert!(text.contains("Tag=llm_call/gpt-4o-mini,"), "{text}");
    assert!(text.contains("#[BaseTime: 1795000000.000"), "{text}");

    let back = read_interval_log(&path).expect("read log");
    assert_eq!(
        back.keys().collect::<Vec<_>>(),
        set.keys().collect::<Vec<_>>()
    );
    for (name, original) in &set {
        let read = &back[name];
        assert_eq!(read.len(), original.len(), "{name} count");
        for q in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                read.value_at_quantile(q),
                original.value_at_quantile(q),
                "{name} q={q}"
            );
        }
        assert_eq!(read.max(), original.max(), "{name} max");
        assert_eq!(read.min(), original.min(), "{name} min");
        assert!(read == original, "{name}: histograms differ");
    }
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn interval_logs_of_two_shards_merge_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = latencies(5, 1000, 700.0);
    let b = latencies(6, 2000, 1300.0);
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let mut text = Vec::new();
    for (i, h) in [&a, &b].into_iter().enumerate() {
        let path = dir.path().join(format!("shard-{i}.hlog"));
        let set = BTreeMap::from([("llm_call/m".to_string(), h.clone())]);
        write_interval_log(&path, &set, start, Duration::from_secs(60)).expect("write shard");
        text.extend(std::fs::read(&path).expect("read shard"));
    }
    let merged_path = dir.path().join("merged.hlog");
    std::fs::write(&merged_path, &text).expect("write merged");
    let merged = read_interval_log(&merged_path).expect("read merged");
    let mut expected = a.clone();
    expected.add(&b).expect("add");
    let got = &merged["llm_call/m"];
    assert_eq!(got.len(), 3000);
    for q in [0.5, 0.95, 0.99, 1.0] {
        assert_eq!(
            got.value_at_quantile(q),
            expected.value_at_quantile(q),
            "q={q}"
        );
    }
}

#[test]
fn a_corrupt_interval_log_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.hlog");
    std::fs::write(&path, "Tag=x,0.0,1.0,2.0,not*base64\n").expect("write");
    let err = read_interval_log(&path).expect_err("corrupt");
    assert!(format!("{err:#}").contains("bad.hlog"), "{err:#}");
}
