//! Request checks beyond the shape: the parameters OpenAI validates, answered with its 400
//! errors, and the options that change the reply (`stop`, `response_format`).
//!
//! The mock honours what changes a load test's figures (`stop` cuts the content and its
//! tokens; `json_object` makes the content a JSON object) and rejects, clearly and as OpenAI
//! words it, what it cannot serve (`n` above 1, `logprobs`, the deprecated `functions`, a JSON
//! schema), so a client never takes a silently ignored parameter for a served one.

use serde_json::Value;

use crate::wire::{ChatRequest, Message, Tool};

/// A request refused with a 400: OpenAI's message, `param` and `code`.
#[derive(Debug, PartialEq)]
pub struct Rejection {
    /// Human-readable message.
    pub message: String,
    /// The parameter at fault.
    pub param: Option<String>,
    /// Machine-readable code.
    pub code: &'static str,
}

fn reject(message: String, param: &str, code: &'static str) -> Rejection {
    Rejection {
        message,
        param: Some(param.to_string()),
        code,
    }
}

/// What the reply must honour.
#[derive(Debug, Default, PartialEq)]
pub struct ReplyOptions {
    /// Cut the content before the first of these (at most 4, none empty).
    pub stop: Vec<String>,
    /// `response_format: {"type": "json_object"}`: the content is a JSON object.
    pub json_object: bool,
}

/// Checks the parameters OpenAI checks, in its order of fields, and reads the reply options.
pub fn check(
    request: &ChatRequest<'_>,
    messages: &[Message<'_>],
    tools: &[Tool],
) -> Result<ReplyOptions, Rejection> {
    if let Some(n) = request.n {
        if n < 1 {
            return Err(reject(
                format!("{n} is less than the minimum of 1 - 'n'"),
                "n",
                "integer_below_min_value",
            ));
        }
        if n > 1 {
            return Err(reject(
                format!(
                    "Invalid 'n': {n}. The mock server returns one choice per request; send \
                     n = 1 or leave it out."
                ),
                "n",
                "unsupported_value",
            ));
        }
    }
    if let Some(t) = request.temperature {
        if t.is_nan() || t < 0.0 {
            return Err(reject(
                format!("{t} is less than the minimum of 0 - 'temperature'"),
                "temperature",
                "decimal_below_min_value",
            ));
        }
        if t > 2.0 {
            return Err(reject(
                format!("{t} is greater than the maximum of 2 - 'temperature'"),
                "temperature",
                "decimal_above_max_value",
            ));
        }
    }
    if request.logprobs || request.top_logprobs.is_some_and(|n| n > 0) {
        return Err(reject(
            "The mock server does not compute log probabilities; leave 'logprobs' and \
             'top_logprobs' out."
                .to_string(),
            "logprobs",
            "unsupported_parameter",
        ));
    }
    if request.functions.is_some() || request.function_call.is_some() {
        let param = if request.functions.is_some() {
            "functions"
        } else {
            "function_call"
        };
        return Err(reject(
            format!(
                "The mock server speaks 'tools' and 'tool_choice', not the deprecated '{param}'; \
                 send each function as {{\"type\": \"function\", \"function\": {{...}}}} in \
                 'tools'."
            ),
            param,
            "unsupported_parameter",
        ));
    }
    check_tool_choice(request.tool_choice.as_ref(), tools)?;
    check_tool_messages(messages)?;
    let json_object = check_response_format(request.response_format.as_ref(), messages)?;
    let stop = read_stop(request.stop.as_ref())?;
    Ok(ReplyOptions { stop, json_object })
}

fn check_tool_choice(choice: Option<&Value>, tools: &[Tool]) -> Result<(), Rejection> {
    let Some(choice) = choice else {
        return Ok(());
    };
    match choice {
        Value::Null => Ok(()),
        Value::String(s) if matches!(s.as_str(), "none" | "auto" | "required") => {
            if s != "none" && tools.is_empty() {
                return Err(reject(
                    "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' \
                     are specified."
                        .to_string(),
                    "tool_choice",
                    "invalid_value",
                ));
            }
            Ok(())
        }
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            match name {
                None => Err(reject(
                    "Missing required parameter: 'tool_choice.function.name'.".to_string(),
                    "tool_choice.function.name",
                    "missing_required_parameter",
                )),
                Some(name) if !tools.iter().any(|t| t.function.name == name) => Err(reject(
                    format!(
                        "Invalid value for 'tool_choice': tool '{name}' is not in 'tools' (a \
                         named tool choice must name one of the tools sent)."
                    ),
                    "tool_choice",
                    "invalid_value",
                )),
                Some(_) => Ok(()),
            }
        }
        other => Err(reject(
            format!(
                "Invalid value for 'tool_choice': {other}. Supported values are: 'none', \
                 'auto', 'required', or an object naming a function."
            ),
            "tool_choice",
            "invalid_value",
        )),
    }
}

/// Every `tool` message carries a `tool_call_id` answering a call of an earlier assistant
/// message, as the API demands (a truncation that drops the call but keeps its result is the
/// classic client bug this catches).
fn check_tool_messages(messages: &[Message<'_>]) -> Result<(), Rejection> {
    for (i, m) in messages.iter().enumerate() {
        if m.role != "tool" {
            continue;
        }
        let Some(id) = m.tool_call_id.as_deref() else {
            return Err(reject(
                format!("Missing parameter 'tool_call_id': messages[{i}] has role 'tool'."),
                &format!("messages.[{i}].tool_call_id"),
                "missing_required_parameter",
            ));
        };
        let answered = messages[..i].iter().rev().any(|earlier| {
            earlier.role == "assistant"
                && earlier
                    .tool_calls
                    .iter()
                    .any(|c| c.id.as_deref() == Some(id))
        });
        if !answered {
            return Err(reject(
                format!(
                    "Invalid parameter: messages with role 'tool' must be a response to a \
                     preceding message with 'tool_calls'; messages[{i}] answers '{id}', which no \
                     earlier call has."
                ),
                &format!("messages.[{i}].role"),
                "invalid_value",
            ));
        }
    }
    Ok(())
}

fn check_response_format(
    format: Option<&Value>,
    messages: &[Message<'_>],
) -> Result<bool, Rejection> {
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(false);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(false),
        Some("json_object") => {
            let mentions_json = messages
                .iter()
                .any(|m| m.content.text().to_ascii_lowercase().contains("json"));
            if !mentions_json {
                return Err(reject(
                    "'messages' must contain the word 'json' in some form, to use \
                     'response_format' of type 'json_object'."
                        .to_string(),
                    "messages",
                    "invalid_value",
                ));
            }
            Ok(true)
        }
        Some("json_schema") => Err(reject(
            "The mock server does not generate output that follows a JSON schema; use \
             'response_format': {\"type\": \"json_object\"} or leave it out."
                .to_string(),
            "response_format",
            "unsupported_value",
        )),
        _ => Err(reject(
            format!(
                "Invalid value for 'response_format.type': {}. Supported values are: 'text', \
                 'json_object' and 'json_schema'.",
                format.get("type").unwrap_or(&Value::Null)
            ),
            "response_format.type",
            "invalid_value",
        )),
    }
}

fn read_stop(stop: Option<&Value>) -> Result<Vec<String>, Rejection> {
    let bad = |what: &str| {
        reject(
            format!("Invalid 'stop': {what}. Send a string or an array of up to 4 strings."),
            "stop",
            "invalid_value",
        )
    };
    let list: Vec<String> = match stop {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            if items.len() > 4 {
                return Err(bad(&format!("{} sequences", items.len())));
            }
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad("not a string"))
                })
                .collect::<Result<_, _>>()?
        }
        Some(other) => return Err(bad(&other.to_string())),
    };
    Ok(list.into_iter().filter(|s| !s.is_empty()).collect())
}

/// Where the content is cut by the first stop sequence it holds, if any: the byte offset of
/// the earliest match.
pub fn stop_at(content: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter_map(|s| content.find(s.as_str())).min()
}

/// The content as a JSON object for `json_object` mode: `{"answer": content}`.
pub fn as_json_object(content: &str) -> String {
    serde_json::json!({ "answer": content }).to_string()
}
