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
/// Tokens added per tool definition on top of its JSON text (an estimate: OpenAI renders tools
/// into a hidden system-prompt block whose exact format is not published).
pub const TOKENS_PER_TOOL: u64 = 8;

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
    /// pre-tokenizer regex), which made it a measurable share of each call (see the README's
    /// Performance section).
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

    /// Tokens the tool definitions add to a prompt (native protocol): each tool's name,
    /// description and JSON-schema parameters as compact JSON, plus [`TOKENS_PER_TOOL`]. This
    /// is an estimate within a few tokens per tool; the endpoint's `usage` is what gets billed.
    pub fn count_tools(&self, tools: &[ToolSpec]) -> u64 {
        tools
            .iter()
            .map(|t| {
                let json = serde_json::json!({
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                });
                TOKENS_PER_TOOL + self.count(&json.to_string())
            })
            .sum()
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
        assert!(one > TOKENS_PER_TOOL + 10, "{one}");
        assert_eq!(t.count_tools(&[tool.clone(), tool.clone()]), 2 * one);
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
