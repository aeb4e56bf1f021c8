//! The page's tables of the agent's shape: per tool and where the prompt tokens go (with the
//! prompt cache's saving in dollars); prompt tokens by step is the summary's own section.

use crate::report::format::{ms_unit, percent, usd_summary};
use crate::report::html::HtmlTable;
use crate::report::plot::PromptStep;
use crate::report::summary::Summary;

/// The tables, in page order (none when the run had no tools and counted no prompt).
pub fn tables(s: &Summary) -> Vec<HtmlTable> {
    let mut out = Vec::new();
    if !s.tool.by_tool.is_empty() {
        out.push(HtmlTable {
            title: "Tools".to_string(),
            headers: [
                "tool",
                "calls",
                "errors",
                "refused",
                "error rate",
                "p50",
                "p95",
                "p99",
                "output tokens",
                "mean output tokens",
            ]
            .map(str::to_string)
            .to_vec(),
            rows: s
                .tool
                .by_tool
                .iter()
                .map(|(name, t)| {
                    vec![
                        name.clone(),
                        t.calls.to_string(),
                        t.errors.to_string(),
                        t.refused.to_string(),
                        percent(t.error_rate),
                        ms_unit(t.latency_ms.p50),
                        ms_unit(t.latency_ms.p95),
                        ms_unit(t.latency_ms.p99),
                        t.output_tokens.to_string(),
                        format!("{:.0}", t.output_tokens_mean),
                    ]
                })
                .collect(),
        });
    }
    if let Some(p) = &s.prompt {
        let cached = s.tokens.cached;
        out.push(HtmlTable {
            title: "Where the prompt tokens go".to_string(),
            headers: ["part", "share of counted prompt tokens"]
                .map(str::to_string)
                .to_vec(),
            rows: vec![
                vec!["system prompt".into(), percent(p.share.system)],
                vec!["tool schemas".into(), percent(p.share.tool_schemas)],
                vec!["history".into(), percent(p.share.history)],
                vec!["tool results".into(), percent(p.share.tool_results)],
                vec![
                    "cached (billed)".into(),
                    format!(
                        "{} of {} prompt tokens ({}), saving {}",
                        cached,
                        s.tokens.prompt,
                        percent(if s.tokens.prompt == 0 {
                            0.0
                        } else {
                            cached as f64 / s.tokens.prompt as f64
                        }),
                        usd_summary(s.cost.cached_saving_usd)
                    ),
                ],
            ],
        });
    }
    out
}

/// The steps to plot, when the summary has any.
pub fn steps(s: &Summary) -> Option<Vec<PromptStep>> {
    let p = s.prompt.as_ref()?;
    Some(
        p.by_step
            .iter()
            .map(|r| PromptStep {
                step: r.step,
                calls: r.calls,
                system: r.system,
                tool_schemas: r.tool_schemas,
                history: r.history,
                tool_results: r.tool_results,
                cached: r.cached_tokens,
            })
            .collect(),
    )
}
