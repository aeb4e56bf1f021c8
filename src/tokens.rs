//! Real token counts with tiktoken, by model family.
//!
//! OpenAI's gpt-4o, gpt-4.1, gpt-5 and o-series families use `o200k_base`; gpt-4, gpt-3.5 and
//! the older embeddings use `cl100k_base`. Any other model (Claude, DeepSeek, Gemini, Llama ...)
//! is counted with `o200k_base` as an estimate, and the count says so. Never `len / 4`.

use tiktoken_rs::CoreBPE;

use std::sync::OnceLock;

use crate::chat::{ChatMessage, ChatRequest, Role, ToolSpec};

/// Tokens added per message by the chat format (OpenAI's published rule of thumb).
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens that prime the assistant's reply.
pub const TOKENS_REPLY_PRIMING: u64 = 3;
/// Tokens that open each function definition (OpenAI cookbook, "How to count tokens with
/// tiktoken", for tools): 7 on `o200k_base` models (gpt-4o family), 10 on `cl100k_base` ones.
pub const TOKENS_PER_TOOL: u64 = 7;
/// [`TOKENS_PER_TOOL`] for `cl100k_base` models (gpt-4, gpt-3.5-turbo).
pub const TOKENS_PER_TOOL_CL100K: u64 = 10;
/// Tokens that close the list of function definitions (once per request with tools).
pub const TOKENS_TOOLS_END: u64 = 12;
/// Tokens that open a function's properties.
pub const TOKENS_PROPERTIES_START: u64 = 3;
/// Tokens per property.
pub const TOKENS_PER_PROPERTY: u64 = 3;
/// Tokens per enum item (and 3 fewer once per property with an enum).
pub const TOKENS_PER_ENUM_ITEM: u64 = 3;

/// Texts up to this many bytes are counted exactly by [`Tokenizer::count_bounded`].
pub const EXACT_COUNT_BYTES: usize = 64 * 1024;
/// Slices counted for a longer text.
pub const COUNT_SAMPLES: usize = 8;

/// The largest char boundary at or below `at`.
fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Which BPE vocabulary a model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// gpt-4o, gpt-4.1, gpt-5, o1/o3/o4 families.
    O200kBase,
    /// gpt-4, gpt-3.5-turbo.
    Cl100kBase,
}

/// A tokenizer chosen for a model, and whether its counts are exact for that model.
#[derive(Clone, Copy)]
pub struct Tokenizer {
    /// The vocabulary used.
    pub encoding: Encoding,
    /// False when the model is not an OpenAI model and `o200k_base` only approximates it.
    pub exact: bool,
    bpe: &'static CoreBPE,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("encoding", &self.encoding)
            .field("exact", &self.exact)
            .finish()
    }
}

/// The encoding for `model` and whether it is exact. Provider prefixes (`openai/gpt-4o`) are
/// ignored.
pub fn encoding_for(model: &str) -> (Encoding, bool) {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    let starts = |p: &str| name.starts_with(p);
    if starts("gpt-4o")
        || starts("gpt-4.1")
        || starts("gpt-4.5")
        || starts("gpt-5")
        || starts("o1")
        || starts("o3")
        || starts("o4")
        || starts("chatgpt-4o")
        || starts("gpt-oss")
    {
        (Encoding::O200kBase, true)
    } else if starts("gpt-4") || starts("gpt-3.5") || starts("text-embedding-3") {
        (Encoding::Cl100kBase, true)
    } else {
        (Encoding::O200kBase, false)
    }
}

impl Tokenizer {
    /// The tokenizer for `model` (loaded once per process and shared).
    pub fn for_model(model: &str) -> Tokenizer {
        let (encoding, exact) = encoding_for(model);
        let bpe = match encoding {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        };
        Tokenizer {
            encoding,
            exact,
            bpe,
        }
    }

    /// Tokens in `text`, special-token markers counted as plain text (as a provider would for
    /// user content).
    pub fn count(&self, text: &str) -> u64 {
        self.bpe.encode_ordinary(text).len() as u64
    }

    /// Tokens in `text`, in bounded time and memory whatever its size: exact up to
    /// [`EXACT_COUNT_BYTES`], beyond that estimated from [`COUNT_SAMPLES`] evenly spread slices
    /// scaled by length. BPE on one long run without spaces costs far more than linear time
    /// (a 10 MB reply took seconds and a gigabyte), and a count of a reply the server did not
    /// count is an estimate anyway.
    pub fn count_bounded(&self, text: &str) -> u64 {
        if text.len() <= EXACT_COUNT_BYTES {
            return self.count(text);
        }
        let slice_len = EXACT_COUNT_BYTES / COUNT_SAMPLES;
        let stride = text.len() / COUNT_SAMPLES;
        let (mut tokens, mut bytes) = (0u64, 0usize);
        for i in 0..COUNT_SAMPLES {
            let start = floor_char_boundary(text, i * stride);
            let end = floor_char_boundary(text, (start + slice_len).min(text.len()));
            tokens += self.count(&text[start..end]);
            bytes += end - start;
        }
        if bytes == 0 {
            return 0;
        }
        // u128: len * tokens of a text near usize::MAX must not overflow.
        let scaled = u128::from(tokens) * text.len() as u128 / bytes as u128;
        u64::try_from(scaled).unwrap_or(u64::MAX)
    }

    /// Tokens one message adds to a prompt: the per-message overhead, its role, its content
    /// and its tool calls' names and arguments. [`Tokenizer::count_messages`] is the sum of
    /// these plus the reply priming, so history truncation can price messages one by one.
    pub fn count_message(&self, m: &ChatMessage) -> u64 {
        let mut n = TOKENS_PER_MESSAGE + self.role_tokens(m.role);
        if let Some(c) = &m.content {
            n += self.count(c);
        }
        for call in &m.tool_calls {
            n += self.count(&call.name) + self.count(&call.arguments);
        }
        n
    }

    /// Tokens of a role's name, counted once per process and encoding: every message needs
    /// one, and tokenizing a one-word string costs nearly the fixed overhead of a sentence (the
    /// pre-tokenizer regex), which made it a measurable share of each call (docs/performance.md
    /// says how it was measured).
    fn role_tokens(&self, role: Role) -> u64 {
        static O200K: OnceLock<[u64; 4]> = OnceLock::new();
        static CL100K: OnceLock<[u64; 4]> = OnceLock::new();
        let cell = match self.encoding {
            Encoding::O200kBase => &O200K,
            Encoding::Cl100kBase => &CL100K,
        };
        let counts = cell.get_or_init(|| {
            [Role::System, Role::User, Role::Assistant, Role::Tool].map(|r| self.count(r.as_str()))
        });
        match role {
            Role::System => counts[0],
            Role::User => counts[1],
            Role::Assistant => counts[2],
            Role::Tool => counts[3],
        }
    }

    /// Prompt tokens of a chat request: each message's role and content (and tool calls'
    /// names and arguments) plus the per-message and reply-priming overheads.
    pub fn count_messages(&self, messages: &[ChatMessage]) -> u64 {
        TOKENS_REPLY_PRIMING + messages.iter().map(|m| self.count_message(m)).sum::<u64>()
    }

    /// Tokens the tool definitions add to a prompt (native protocol), by the rule OpenAI's
    /// cookbook publishes for function definitions: per function an opening overhead and
    /// `name:description` (a final `.` dropped); if it has properties, an overhead, then per
    /// property an overhead, `name:type:description` and its enum items (each with an
    /// overhead); and a closing overhead once for the list. Schema parts the rule does not
    /// cover (nested `properties` or `items`) are counted as their JSON text, so they are not
    /// free. An estimate; the endpoint's `usage` is what gets billed.
    pub fn count_tools(&self, tools: &[ToolSpec]) -> u64 {
        if tools.is_empty() {
            return 0;
        }
        let per_tool = match self.encoding {
            Encoding::O200kBase => TOKENS_PER_TOOL,
            Encoding::Cl100kBase => TOKENS_PER_TOOL_CL100K,
        };
        let mut n = TOKENS_TOOLS_END;
        for t in tools {
            let description = t.description.strip_suffix('.').unwrap_or(&t.description);
            n += per_tool + self.count(&format!("{}:{description}", t.name));
            let properties = t
                .parameters
                .get("properties")
                .and_then(serde_json::Value::as_object);
            let Some(properties) = properties.filter(|p| !p.is_empty()) else {
                continue;
            };
            n += TOKENS_PROPERTIES_START;
            for (name, schema) in properties {
                n += TOKENS_PER_PROPERTY + self.count_property(name, schema);
            }
        }
        n
    }

    /// One property of a function: `name:type:description`, its enum, and nested schemas.
    fn count_property(&self, name: &str, schema: &serde_json::Value) -> u64 {
        let text = |v: Option<&serde_json::Value>| match v {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let kind = text(schema.get("type"));
        let description = text(schema.get("description"));
        let description = description.strip_suffix('.').unwrap_or(&description);
        let mut n = self.count(&format!("{name}:{kind}:{description}"));
        if let Some(items) = schema.get("enum").and_then(serde_json::Value::as_array) {
            // The rule's enum overhead is -3 once, +3 per item.
            n = (n + TOKENS_PER_ENUM_ITEM * items.len() as u64).saturating_sub(3);
            for item in items {
                n += self.count(&text(Some(item)));
            }
        }
        for nested in ["properties", "items"] {
            if let Some(v) = schema.get(nested) {
                n += self.count(&v.to_string());
            }
        }
        n
    }

    /// Prompt tokens of a whole request: its messages and its tool definitions. This is the
    /// estimate the token budget checks before the call is paid for.
    pub fn count_request(&self, request: &ChatRequest) -> u64 {
        self.count_messages(&request.messages) + self.count_tools(&request.tools)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_role_counts_equal_counting_the_role_name() {
        for model in ["gpt-4.1", "gpt-4"] {
            let t = Tokenizer::for_model(model);
            for role in [Role::System, Role::User, Role::Assistant, Role::Tool] {
                assert_eq!(
                    t.role_tokens(role),
                    t.count(role.as_str()),
                    "{model} {role:?}"
                );
            }
        }
    }

    /// Issue 15.3: counting a huge reply locally is bounded, and close for ordinary text.
    #[test]
    fn bounded_counts_are_exact_for_short_texts_and_close_for_long_ones() {
        let t = Tokenizer::for_model("gpt-4.1");
        let short = "hello world ".repeat(100);
        assert_eq!(t.count_bounded(&short), t.count(&short));
        let long = "The quick brown fox, tôi cần giúp đỡ. ".repeat(8000);
        let exact = t.count(&long) as f64;
        let bounded = t.count_bounded(&long) as f64;
        assert!((bounded / exact - 1.0).abs() < 0.05, "{bounded} vs {exact}");
        // A run with no spaces, the costly case, in bounded time: only 64 KiB are counted.
        let run = "a".repeat(4 << 20);
        let started = std::time::Instant::now();
        assert!(t.count_bounded(&run) > 0);
        // Generous (debug build, noisy machine): counting all 4 MiB takes minutes.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(t.count_bounded(""), 0);
    }

    /// Issue 14.10: the cookbook's own example (a weather function with an enum) counts 101
    /// prompt tokens on gpt-4o and 105 on gpt-4, as the API billed it there.
    #[test]
    fn tool_definitions_count_by_the_published_rule() {
        let weather = ToolSpec {
            name: "get_current_weather".into(),
            description: "Get the current weather in a given location".into(),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            }),
        };
        let messages = [
            ChatMessage::text(
                Role::System,
                "You are a helpful assistant that can answer to questions about the weather.",
            ),
            ChatMessage::text(Role::User, "What's the weather like in San Francisco?"),
        ];
        for (model, want) in [("gpt-4o", 101), ("gpt-4o-mini", 101), ("gpt-4", 105)] {
            let t = Tokenizer::for_model(model);
            let got = t.count_messages(&messages) + t.count_tools(std::slice::from_ref(&weather));
            assert_eq!(got, want, "{model}");
        }
    }

    #[test]
    fn model_families() {
        for (model, enc, exact) in [
            ("gpt-4.1", Encoding::O200kBase, true),
            ("gpt-4o-mini", Encoding::O200kBase, true),
            ("openai/gpt-5-mini", Encoding::O200kBase, true),
            ("gpt-4", Encoding::Cl100kBase, true),
            ("gpt-3.5-turbo", Encoding::Cl100kBase, true),
            ("deepseek-v3.2", Encoding::O200kBase, false),
            ("claude-sonnet-4.5", Encoding::O200kBase, false),
        ] {
            assert_eq!(encoding_for(model), (enc, exact), "{model}");
        }
    }

    #[test]
    fn counts_real_tokens_not_chars_over_four() {
        let t = Tokenizer::for_model("gpt-4o");
        assert_eq!(t.count("hello world"), 2);
        // Vietnamese takes far more tokens than len/4 suggests for its bytes.
        let vi = "Xin chào, tôi cần giúp đỡ với đơn hàng của tôi";
        assert_ne!(t.count(vi), vi.len() as u64 / 4);
        let msgs = [ChatMessage::text(Role::User, "hello world")];
        // priming 3 + per-message 3 + "user" 1 + content 2
        assert_eq!(t.count_messages(&msgs), 9);
    }

    #[test]
    fn message_counts_add_up_to_the_request() {
        use crate::chat::{MaxTokensField, ToolCall};
        let t = Tokenizer::for_model("gpt-4.1");
        let mut asst = ChatMessage::text(Role::Assistant, "");
        asst.content = None;
        asst.tool_calls.push(ToolCall {
            id: "call_1".into(),
            name: "calculator".into(),
            arguments: r#"{"expression":"2+2"}"#.into(),
        });
        let msgs = vec![
            ChatMessage::text(Role::System, "You are a helpful agent."),
            ChatMessage::text(Role::User, "Tính 2+2 giúp tôi"),
            asst,
            ChatMessage::tool_result("call_1", "4"),
        ];
        let per: u64 = msgs.iter().map(|m| t.count_message(m)).sum();
        assert_eq!(t.count_messages(&msgs), per + TOKENS_REPLY_PRIMING);
        // A tool call costs its name and arguments, not nothing.
        assert!(t.count_message(&msgs[2]) > TOKENS_PER_MESSAGE + 1);

        let tool = ToolSpec {
            name: "calculator".into(),
            description: "Evaluates an arithmetic expression".into(),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            }),
        };
        let one = t.count_tools(std::slice::from_ref(&tool));
        assert!(one > TOKENS_PER_TOOL + TOKENS_TOOLS_END + 5, "{one}");
        assert_eq!(
            t.count_tools(&[tool.clone(), tool.clone()]),
            2 * one - TOKENS_TOOLS_END
        );
        let mut req = ChatRequest {
            model: "gpt-4.1".into(),
            messages: msgs.clone(),
            max_tokens: Some(100),
            max_tokens_field: MaxTokensField::MaxTokens,
            tools: Vec::new().into(),
            stream: false,
            stop: Default::default(),
        };
        assert_eq!(t.count_request(&req), t.count_messages(&msgs));
        req.tools = vec![tool].into();
        assert_eq!(t.count_request(&req), t.count_messages(&msgs) + one);
    }
}
