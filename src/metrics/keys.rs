//! How records are keyed and classified in the metrics: finish-reason and status keys, which
//! model a call is billed to, and which conversations and attempts count as having reached the
//! model.

use crate::pricing::PriceTable;
use crate::record::{CallRecord, ConversationRecord, ErrorClass, ToolStatus};

/// The `finish_reason` keys counted in `llm_call.by_finish_reason`: the reasons OpenAI
/// documents, `other` for anything else a server sends, `none` when it sent none.
pub const FINISH_REASONS: [&str; 7] = [
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
    "other",
    "none",
];

/// The [`FINISH_REASONS`] key of a reply's `finish_reason`.
pub fn finish_reason_key(reason: Option<&str>) -> &'static str {
    match reason {
        None => "none",
        Some(r) => FINISH_REASONS[..5]
            .iter()
            .find(|k| **k == r)
            .copied()
            .unwrap_or("other"),
    }
}

/// True when a conversation sent at least one request to the endpoint.
pub fn reached_model(rec: &ConversationRecord) -> bool {
    rec.calls
        .iter()
        .any(|c| c.attempts.iter().any(|a| !is_local_refusal(a.error)))
}

/// The model a call is billed to and timed under: the one that answered, else the last one
/// attempted, else the one asked.
pub fn billed_model(call: &CallRecord) -> &str {
    call.model_answered
        .as_deref()
        .or_else(|| call.attempts.last().map(|a| a.model.as_str()))
        .unwrap_or(&call.model_asked)
}

/// Dollars of one call at the price of the model that answered; `None` if the table lacks it.
pub fn call_cost_usd(prices: &PriceTable, call: &CallRecord) -> Option<f64> {
    prices.cost_usd(billed_model(call), &call.usage)
}

/// True for an attempt refused locally (no request sent).
pub fn is_local_refusal(error: Option<ErrorClass>) -> bool {
    matches!(error, Some(ErrorClass::BreakerOpen | ErrorClass::SpendCap))
}

/// Key of a status map: the HTTP status, or `"none"` when no response arrived.
pub fn status_key(status: Option<u16>) -> String {
    status.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// Stable name of a tool status.
pub fn tool_status_str(s: &ToolStatus) -> &'static str {
    match s {
        ToolStatus::Ok => "ok",
        ToolStatus::Error => "error",
        ToolStatus::Refused => "refused",
    }
}
