//! A scraped page to samples: the Prometheus text format parsed by `prom_text_format_parser`
//! (chosen over `prometheus-parse`, whose name pattern `\w+` rejects the `vllm:` and
//! `sglang:` names every model server publishes, and over `openmetrics-parser`, which is
//! LGPL), then reduced to the series a load report can use.
//!
//! Counters and gauges are kept as they are; a histogram or summary keeps its `_sum` and
//! `_count` (counters: their rates are a mean latency and a request rate), not its buckets or
//! quantiles. An untyped series is a counter when its name ends in `_total`, a gauge otherwise.

use prom_text_format_parser::{Type, ValueType, parse_scrape};

use super::settings::Selection;

/// How a series' values are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Only goes up (reset to zero when the server restarts): reported as a rate.
    Counter,
    /// A level: reported as it is.
    Gauge,
}

impl Kind {
    /// `counter` or `gauge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One series' value in one scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Series name (`vllm:num_requests_waiting`, `tgi_request_duration_count`).
    pub name: String,
    /// Its labels, `key="value"` pairs sorted by key and joined by commas (empty without).
    pub labels: String,
    /// Counter or gauge.
    pub kind: Kind,
    /// The value.
    pub value: f64,
}

/// Why a page gave no samples.
#[derive(Debug, PartialEq)]
pub enum ParseFailure {
    /// Not the Prometheus text format.
    Syntax(String),
    /// Valid, but holding no sample at all (most likely not a metrics page).
    Empty,
}

/// The samples of `text` that `selection` (or `always`, names kept whatever the selection
/// says) keeps.
pub fn parse(
    text: &str,
    selection: &Selection,
    always: &[&str],
) -> Result<Vec<Sample>, ParseFailure> {
    if text.trim().is_empty() {
        return Err(ParseFailure::Empty);
    }
    // The parser wants every line ended, the last one included.
    let owned;
    let text = if text.ends_with('\n') || text.is_empty() {
        text
    } else {
        owned = format!("{text}\n");
        &owned
    };
    let (metrics, error) = parse_scrape(text);
    if metrics.is_empty() {
        return Err(match error {
            Some(e) => ParseFailure::Syntax(first_line(&format!("{e:?}"))),
            None => ParseFailure::Empty,
        });
    }
    let keep = |series: &str, family: &str| match selection {
        Selection::All => true,
        Selection::Names(names) => {
            names.contains(series) || names.contains(family) || always.contains(&series)
        }
    };
    let mut out = Vec::new();
    for m in metrics {
        for s in &m.samples {
            let value = s.value.value.as_f64();
            let (name, kind) = match (m.kind, s.value.value_type) {
                (Type::Histogram | Type::Summary, ValueType::Sum) => {
                    (format!("{}_sum", m.name), Kind::Counter)
                }
                (Type::Histogram | Type::Summary, ValueType::Count) => {
                    (format!("{}_count", m.name), Kind::Counter)
                }
                // Buckets and quantiles.
                (Type::Histogram | Type::Summary, ValueType::Sample) => continue,
                (Type::Counter, _) => (m.name.clone(), Kind::Counter),
                (Type::Gauge, _) => (m.name.clone(), Kind::Gauge),
                (Type::Untyped, _) if m.name.ends_with("_total") => (m.name.clone(), Kind::Counter),
                (Type::Untyped, _) => (m.name.clone(), Kind::Gauge),
            };
            if !keep(&name, &m.name) || !value.is_finite() {
                continue;
            }
            let mut labels: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|l| (l.key.as_str(), l.value.as_str()))
                .collect();
            labels.sort_unstable();
            let labels = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(",");
            out.push(Sample {
                name,
                labels,
                kind,
                value,
            });
        }
    }
    if out.is_empty() && matches!(selection, Selection::All) {
        return Err(ParseFailure::Empty);
    }
    Ok(out)
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VLLM_LIKE: &str = "\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name=\"m\",engine=\"0\"} 3.0
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{model_name=\"m\"} 1234.0
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_sum{model_name=\"m\"} 3.5
vllm:e2e_request_latency_seconds_bucket{le=\"0.3\",model_name=\"m\"} 1.0
vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\",model_name=\"m\"} 4.0
vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 4.0
process_open_fds 12
http_requests_total 7";

    #[test]
    fn kinds_labels_and_histogram_parts() {
        let s = parse(VLLM_LIKE, &Selection::All, &[]).unwrap();
        let names: Vec<(&str, Kind, f64)> = s
            .iter()
            .map(|s| (s.name.as_str(), s.kind, s.value))
            .collect();
        assert_eq!(
            names,
            vec![
                ("vllm:num_requests_running", Kind::Gauge, 3.0),
                ("vllm:prompt_tokens_total", Kind::Counter, 1234.0),
                ("vllm:e2e_request_latency_seconds_sum", Kind::Counter, 3.5),
                ("vllm:e2e_request_latency_seconds_count", Kind::Counter, 4.0),
                ("process_open_fds", Kind::Gauge, 12.0),
                ("http_requests_total", Kind::Counter, 7.0),
            ]
        );
        // Labels sorted by key.
        assert_eq!(s[0].labels, "engine=\"0\",model_name=\"m\"");
    }

    #[test]
    fn a_selection_keeps_names_families_and_the_always_kept() {
        let sel = Selection::Names(
            ["vllm:e2e_request_latency_seconds".to_string()]
                .into_iter()
                .collect(),
        );
        let s = parse(VLLM_LIKE, &sel, &["vllm:prompt_tokens_total"]).unwrap();
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vllm:prompt_tokens_total",
                "vllm:e2e_request_latency_seconds_sum",
                "vllm:e2e_request_latency_seconds_count"
            ]
        );
    }

    #[test]
    fn a_family_without_samples_does_not_lose_the_page() {
        // prometheus_client (vLLM, SGLang) writes HELP and TYPE of labelled families before
        // their first sample; the rest of the page still counts.
        let page = "# HELP vllm:request_success_total Count.\n\
                    # TYPE vllm:request_success_total counter\n\
                    # HELP vllm:num_requests_running Running.\n\
                    # TYPE vllm:num_requests_running gauge\n\
                    vllm:num_requests_running{model_name=\"m\"} 0.0\n";
        let s = parse(page, &Selection::All, &[]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "vllm:num_requests_running");
    }

    #[test]
    fn garbage_and_empty_pages_fail() {
        assert!(matches!(
            parse("<html><body>Not Found</body></html>", &Selection::All, &[]),
            Err(ParseFailure::Syntax(_))
        ));
        assert!(matches!(
            parse("{\"error\": \"nope\"}", &Selection::All, &[]),
            Err(ParseFailure::Syntax(_))
        ));
        assert_eq!(parse("", &Selection::All, &[]), Err(ParseFailure::Empty));
        assert_eq!(
            parse("# just a comment\n", &Selection::All, &[]),
            Err(ParseFailure::Empty)
        );
    }
}
