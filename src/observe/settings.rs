//! What to scrape: `[endpoint] metrics_url`, `metrics_interval` and `metrics` as a plan, and the
//! presets of metric names of the model servers and gateways people put under load.

use std::collections::BTreeSet;
use std::time::Duration;

/// Scrape interval unless `metrics_interval` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest interval accepted: faster scrapes would measure the scraper.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Where the metrics page is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsSource {
    /// `metrics_url = "mock"`: the embedded mock's `GET /metrics`, wherever it was bound.
    EmbeddedMock,
    /// An `http` or `https` URL.
    Url(String),
}

/// Which metrics are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every counter and gauge, and each histogram's and summary's `_sum` and `_count`.
    All,
    /// These names (a histogram's name keeps its `_sum` and `_count`).
    Names(BTreeSet<String>),
}

/// The scrape plan of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeSettings {
    /// Where.
    pub source: MetricsSource,
    /// How often (the first scrape is taken before the load starts, the last after it ends).
    pub interval: Duration,
    /// What is kept.
    pub selection: Selection,
}

/// The presets `metrics` accepts by name, with the metrics each one keeps: queue and running
/// requests, cache use, token counters and the servers' own latency histograms, under the
/// names the servers publish (a name a server does not publish is simply absent).
pub const PRESETS: &[(&str, &[&str])] = &[
    (
        "vllm",
        &[
            "vllm:num_requests_running",
            "vllm:num_requests_waiting",
            "vllm:kv_cache_usage_perc",
            "vllm:gpu_cache_usage_perc",
            "vllm:prompt_tokens_total",
            "vllm:generation_tokens_total",
            "vllm:request_success_total",
            "vllm:num_preemptions_total",
            "vllm:prefix_cache_queries_total",
            "vllm:prefix_cache_hits_total",
            "vllm:time_to_first_token_seconds",
            "vllm:e2e_request_latency_seconds",
            "vllm:inter_token_latency_seconds",
            "vllm:time_per_output_token_seconds",
            "vllm:request_queue_time_seconds",
        ],
    ),
    (
        "sglang",
        &[
            "sglang:num_running_reqs",
            "sglang:num_queue_reqs",
            "sglang:token_usage",
            "sglang:cache_hit_rate",
            "sglang:gen_throughput",
            "sglang:prompt_tokens_total",
            "sglang:generation_tokens_total",
            "sglang:num_requests_total",
            "sglang:time_to_first_token_seconds",
            "sglang:e2e_request_latency_seconds",
            "sglang:inter_token_latency_seconds",
        ],
    ),
    (
        "tgi",
        &[
            "tgi_queue_size",
            "tgi_batch_current_size",
            "tgi_batch_current_max_tokens",
            "tgi_request_count",
            "tgi_request_success",
            "tgi_request_failure",
            "tgi_request_input_length",
            "tgi_request_generated_tokens",
            "tgi_request_duration",
            "tgi_request_queue_duration",
        ],
    ),
    (
        "llamacpp",
        &[
            "llamacpp:requests_processing",
            "llamacpp:requests_deferred",
            "llamacpp:kv_cache_usage_ratio",
            "llamacpp:kv_cache_tokens",
            "llamacpp:prompt_tokens_total",
            "llamacpp:tokens_predicted_total",
            "llamacpp:prompt_tokens_seconds",
            "llamacpp:predicted_tokens_seconds",
            "llamacpp:n_decode_total",
            "llamacpp:n_busy_slots_per_decode",
        ],
    ),
    (
        "litellm",
        &[
            "litellm_proxy_total_requests_metric_total",
            "litellm_proxy_failed_requests_metric_total",
            "litellm_input_tokens_metric_total",
            "litellm_output_tokens_metric_total",
            "litellm_total_tokens_metric_total",
            "litellm_spend_metric_total",
            "litellm_deployment_state",
            "litellm_remaining_requests_metric",
            "litellm_remaining_tokens_metric",
            "litellm_request_total_latency_metric",
            "litellm_llm_api_latency_metric",
            "litellm_llm_api_time_to_first_token_metric",
        ],
    ),
];

/// The servers' prompt and generation token counters, in the order they are tried: the first
/// pair present in a run's scrapes is compared with the harness's own token totals. (TGI
/// publishes token histograms, whose `_sum` is the total.)
pub const TOKEN_COUNTERS: &[(&str, &str)] = &[
    ("vllm:prompt_tokens_total", "vllm:generation_tokens_total"),
    (
        "sglang:prompt_tokens_total",
        "sglang:generation_tokens_total",
    ),
    (
        "llamacpp:prompt_tokens_total",
        "llamacpp:tokens_predicted_total",
    ),
    (
        "tgi_request_input_length_sum",
        "tgi_request_generated_tokens_sum",
    ),
    (
        "litellm_input_tokens_metric_total",
        "litellm_output_tokens_metric_total",
    ),
];

/// The names a `metrics` list keeps: each entry a metric name or a preset name, expanded.
/// Returns the first entry that is neither.
pub fn expand(entries: &[String]) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    for e in entries {
        if let Some((_, preset)) = PRESETS.iter().find(|(p, _)| p == e) {
            names.extend(preset.iter().map(|s| s.to_string()));
        } else if is_metric_name(e) {
            names.insert(e.clone());
        } else {
            return Err(e.clone());
        }
    }
    Ok(names)
}

/// A valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The preset names, for error messages.
pub fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|(p, _)| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_expand_and_names_pass_through() {
        let names = expand(&["vllm".into(), "my_gauge".into()]).unwrap();
        assert!(names.contains("vllm:num_requests_waiting"));
        assert!(names.contains("my_gauge"));
        assert_eq!(
            expand(&["no such thing".into()]),
            Err("no such thing".into())
        );
    }

    #[test]
    fn metric_names_follow_prometheus() {
        assert!(is_metric_name("vllm:num_requests_running"));
        assert!(is_metric_name("_x1"));
        assert!(!is_metric_name("1x"));
        assert!(!is_metric_name("a-b"));
        assert!(!is_metric_name(""));
        for (_, names) in PRESETS {
            assert!(names.iter().all(|n| is_metric_name(n)));
        }
    }
}
