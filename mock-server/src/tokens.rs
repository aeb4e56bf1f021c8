//! Token counting with tiktoken, cached, and the prompt-caching rule.
//!
//! The vocabulary follows the harness's rule (`src/tokens.rs`): `cl100k_base` for gpt-4 and
//! gpt-3.5 models, `o200k_base` for everything else (exact for gpt-4o, gpt-4.1, gpt-5 and the
//! o-series, an estimate for other providers' models). Prompt tokens are 3 per message plus
//! the tokens of its role and content (plus each tool call's name and arguments), plus 3 that
//! prime the reply: the rule the harness uses for its pre-call estimate, so the two agree.
//!
//! Tool definitions are billed too, by the rule OpenAI's cookbook publishes for functions (the
//! harness's `count_tools`): an agent's tool schemas are resent with every step, and a mock
//! that did not bill them under-counted a native agent's prompt by a thousand tokens a call.
//!
//! An agent re-sends the same system prompt and history on every step, so per-text counts are
//! cached (keyed by a 64-bit hash of the text) in a few sharded maps; a shard is cleared when it
//! grows past its bound, so memory stays bounded whatever the traffic.

use std::sync::Mutex;

use tiktoken_rs::CoreBPE;

use serde_json::Value;

use crate::config::PromptCaching;
use crate::rng::{combine, hash_bytes};
use crate::wire::{Message, Tool};

/// Tokens added per message by the chat format.
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens that prime the assistant's reply.
pub const TOKENS_REPLY_PRIMING: u64 = 3;
/// OpenAI caches prompts of at least this many tokens...
pub const CACHE_MIN_TOKENS: u64 = 1024;
/// ...in blocks of this many tokens.
pub const CACHE_BLOCK_TOKENS: u64 = 128;

/// Tokens that open each function definition: 7 on `o200k_base`, 10 on `cl100k_base`.
const TOKENS_PER_TOOL: u64 = 7;
const TOKENS_PER_TOOL_CL100K: u64 = 10;
/// Tokens that close the list of function definitions.
const TOKENS_TOOLS_END: u64 = 12;
/// Tokens that open a function's properties.
const TOKENS_PROPERTIES_START: u64 = 3;
/// Tokens per property.
const TOKENS_PER_PROPERTY: u64 = 3;
/// Tokens per enum item (3 fewer once per property with an enum).
const TOKENS_PER_ENUM_ITEM: u64 = 3;
/// Salt of the cache keys of tool lists (apart from texts').
const TOOLS_SALT: u64 = 0x7001_5000;

const SHARDS: usize = 16;
const SHARD_CAPACITY: usize = 8192;

/// The two BPE vocabularies the mock counts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// gpt-4o, gpt-4.1, gpt-5, o-series, and every non-OpenAI model (an estimate there).
    O200kBase,
    /// gpt-4 and gpt-3.5.
    Cl100kBase,
}

impl Encoding {
    /// The vocabulary (loaded once per process).
    pub fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        }
    }
}

/// The vocabulary for `model` (provider prefixes such as `openai/` are ignored).
pub fn encoding_for(model: &str) -> Encoding {
    let name = model.rsplit('/').next().unwrap_or(model);
    // Case-insensitive prefixes without lowercasing a copy (this runs on every request).
    let starts = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let cl100k = (starts("gpt-4") || starts("gpt-3.5"))
        && !starts("gpt-4o")
        && !starts("gpt-4.1")
        && !starts("gpt-4.5");
    if cl100k {
        Encoding::Cl100kBase
    } else {
        Encoding::O200kBase
    }
}

/// The vocabulary object for `model`.
pub fn bpe_for(model: &str) -> &'static CoreBPE {
    encoding_for(model).bpe()
}

/// A prompt's token counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptCount {
    /// All input tokens.
    pub prompt_tokens: u64,
    /// Of those, the ones reported as cached.
    pub cached_tokens: u64,
}

/// Counts tokens of texts, remembering recent texts.
pub struct TokenCounter {
    /// Keyed by a 64-bit hash of the text already: foldhash, not SipHash, on top.
    shards: Vec<Mutex<foldhash::HashMap<u64, u32>>>,
}

impl Default for TokenCounter {
    fn default() -> Self {
        TokenCounter::new()
    }
}

impl TokenCounter {
    /// An empty cache. Loads nothing: the vocabularies are process-wide singletons.
    pub fn new() -> TokenCounter {
        TokenCounter {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// Tokens in `text` under `bpe` (special-token markers counted as plain text).
    pub fn count(&self, bpe: &'static CoreBPE, text: &str) -> u64 {
        if text.is_empty() {
            return 0;
        }
        // The vocabulary's address tells the two vocabularies apart in the key.
        let key = hash_bytes(bpe as *const CoreBPE as u64, text.as_bytes());
        let shard = &self.shards[(key as usize) % SHARDS];
        if let Some(n) = shard.lock().ok().and_then(|m| m.get(&key).copied()) {
            return u64::from(n);
        }
        // Encode outside the lock: it is the slow part.
        let n = bpe.encode_ordinary(text).len();
        if let Ok(mut m) = shard.lock() {
            if m.len() >= SHARD_CAPACITY {
                m.clear();
            }
            m.insert(key, u32::try_from(n).unwrap_or(u32::MAX));
        }
        n as u64
    }

    /// Tokens of one message including the per-message overhead.
    pub fn message_tokens(&self, bpe: &'static CoreBPE, m: &Message) -> u64 {
        // Role names are one token each in both vocabularies; skip the cache for them.
        let role = match m.role.as_ref() {
            "system" | "user" | "assistant" | "tool" => 1,
            _ => self.count(bpe, &m.role),
        };
        let mut n = TOKENS_PER_MESSAGE + role + self.count(bpe, &m.content.text());
        for call in &m.tool_calls {
            if let Some(f) = &call.function {
                n += self.count(bpe, &f.name) + self.count(bpe, &f.arguments);
            }
        }
        n
    }

    /// Tokens the `tools` definitions add to a prompt (see the module docs), remembered per
    /// list: an agent sends the same list with every request.
    pub fn tools_tokens(&self, enc: Encoding, tools: &[Tool]) -> u64 {
        if tools.is_empty() {
            return 0;
        }
        let bpe = enc.bpe();
        let mut key = hash_bytes(TOOLS_SALT ^ (bpe as *const CoreBPE as u64), b"tools");
        for t in tools {
            let f = &t.function;
            key = combine(key, hash_bytes(1, f.name.as_bytes()));
            key = combine(
                key,
                hash_bytes(2, f.description.as_deref().unwrap_or("").as_bytes()),
            );
            let params = f.parameters.as_ref().map_or("", |p| p.get());
            key = combine(key, hash_bytes(3, params.as_bytes()));
        }
        let shard = &self.shards[(key as usize) % SHARDS];
        if let Some(n) = shard.lock().ok().and_then(|m| m.get(&key).copied()) {
            return u64::from(n);
        }
        let per_tool = match enc {
            Encoding::O200kBase => TOKENS_PER_TOOL,
            Encoding::Cl100kBase => TOKENS_PER_TOOL_CL100K,
        };
        let mut n = TOKENS_TOOLS_END;
        for t in tools {
            let f = &t.function;
            let d = f.description.as_deref().unwrap_or("");
            let d = d.strip_suffix('.').unwrap_or(d);
            n += per_tool + self.count(bpe, &format!("{}:{d}", f.name));
            let params: Option<Value> = f
                .parameters
                .as_ref()
                .and_then(|p| serde_json::from_str(p.get()).ok());
            let props = params
                .as_ref()
                .and_then(|p| p.get("properties"))
                .and_then(Value::as_object);
            let Some(props) = props.filter(|p| !p.is_empty()) else {
                continue;
            };
            n += TOKENS_PROPERTIES_START;
            for (name, schema) in props {
                n += TOKENS_PER_PROPERTY + self.property_tokens(bpe, name, schema);
            }
        }
        if let Ok(mut m) = shard.lock() {
            if m.len() >= SHARD_CAPACITY {
                m.clear();
            }
            m.insert(key, u32::try_from(n).unwrap_or(u32::MAX));
        }
        n
    }

    /// One property: `name:type:description`, its enum items, and nested schemas as JSON.
    fn property_tokens(&self, bpe: &'static CoreBPE, name: &str, schema: &Value) -> u64 {
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let kind = text(schema.get("type"));
        let description = text(schema.get("description"));
        let description = description.strip_suffix('.').unwrap_or(&description);
        let mut n = self.count(bpe, &format!("{name}:{kind}:{description}"));
        if let Some(items) = schema.get("enum").and_then(Value::as_array) {
            n = (n + TOKENS_PER_ENUM_ITEM * items.len() as u64).saturating_sub(3);
            for item in items {
                n += self.count(bpe, &text(Some(item)));
            }
        }
        for nested in ["properties", "items"] {
            if let Some(v) = schema.get(nested) {
                n += self.count(bpe, &v.to_string());
            }
        }
        n
    }

    /// Prompt and cached tokens of `messages` after `tool_tokens` of tool definitions (part of
    /// the cacheable prefix: they come first and are the same every step).
    ///
    /// Cached tokens (OpenAI rule): the cacheable prefix is every message before the newest
    /// turn, which starts at the last `assistant` message (an agent's previous call ended
    /// there), or at the last message when there is no assistant message (so a shared system
    /// prompt is the prefix of a first call). When that prefix holds at least 1,024 tokens,
    /// it is reported rounded down to a multiple of 128; otherwise 0.
    pub fn prompt(
        &self,
        bpe: &'static CoreBPE,
        messages: &[Message],
        caching: PromptCaching,
        tool_tokens: u64,
    ) -> PromptCount {
        let turn_start = messages
            .iter()
            .rposition(|m| m.role == "assistant")
            .unwrap_or(messages.len().saturating_sub(1));
        let mut total = TOKENS_REPLY_PRIMING + tool_tokens;
        let mut prefix = tool_tokens;
        for (i, m) in messages.iter().enumerate() {
            let n = self.message_tokens(bpe, m);
            total += n;
            if i < turn_start {
                prefix += n;
            }
        }
        let cached = match caching {
            PromptCaching::Off => 0,
            PromptCaching::Openai => cached_tokens(prefix),
        };
        PromptCount {
            prompt_tokens: total,
            cached_tokens: cached,
        }
    }
}

/// Cached tokens reported for a cacheable prefix of `prefix` tokens (OpenAI rule).
pub fn cached_tokens(prefix: u64) -> u64 {
    if prefix < CACHE_MIN_TOKENS {
        0
    } else {
        prefix / CACHE_BLOCK_TOKENS * CACHE_BLOCK_TOKENS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(json: &str) -> Vec<Message<'_>> {
        serde_json::from_str(json).expect("test messages parse")
    }

    #[test]
    fn counts_match_the_harness_rule() {
        let c = TokenCounter::new();
        let bpe = bpe_for("gpt-4.1");
        let m = msgs(r#"[{"role":"user","content":"hello world"}]"#);
        // priming 3 + per-message 3 + "user" 1 + "hello world" 2
        assert_eq!(c.prompt(bpe, &m, PromptCaching::Openai, 0).prompt_tokens, 9);
        // Cached path gives the same answer.
        assert_eq!(c.prompt(bpe, &m, PromptCaching::Openai, 0).prompt_tokens, 9);
        let t = msgs(
            r#"[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function",
            "function":{"name":"calculator","arguments":"{\"expression\":\"1+2\"}"}}]}]"#,
        );
        let want = 3
            + 3
            + c.count(bpe, "assistant")
            + c.count(bpe, "calculator")
            + c.count(bpe, "{\"expression\":\"1+2\"}");
        assert_eq!(c.prompt(bpe, &t, PromptCaching::Off, 0).prompt_tokens, want);
    }

    #[test]
    fn role_names_are_one_token() {
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            for role in ["system", "user", "assistant", "tool"] {
                assert_eq!(enc.bpe().encode_ordinary(role).len(), 1, "{enc:?} {role}");
            }
        }
    }

    #[test]
    fn vocabulary_by_family() {
        let o200k = tiktoken_rs::o200k_base_singleton() as *const CoreBPE;
        let cl100k = tiktoken_rs::cl100k_base_singleton() as *const CoreBPE;
        for (model, want) in [
            ("gpt-4.1", o200k),
            ("gpt-4o-mini", o200k),
            ("openai/gpt-5", o200k),
            ("gpt-4", cl100k),
            ("gpt-3.5-turbo", cl100k),
            ("deepseek-v3.2", o200k),
            ("GPT-4-Turbo", cl100k),
            ("GPT-4O", o200k),
            ("gpt", o200k),
            ("", o200k),
        ] {
            assert_eq!(bpe_for(model) as *const CoreBPE, want, "{model}");
        }
    }

    #[test]
    fn caching_rule() {
        assert_eq!(cached_tokens(1023), 0);
        assert_eq!(cached_tokens(1024), 1024);
        assert_eq!(cached_tokens(1300), 1280);
        let c = TokenCounter::new();
        let bpe = bpe_for("gpt-4.1");
        let long = "word ".repeat(1500);
        let text =
            format!(r#"[{{"role":"system","content":"{long}"}},{{"role":"user","content":"hi"}}]"#);
        let m = msgs(&text);
        let p = c.prompt(bpe, &m, PromptCaching::Openai, 0);
        let sys = 3 + c.count(bpe, "system") + c.count(bpe, &long);
        assert_eq!(p.cached_tokens, sys / 128 * 128);
        assert!(p.cached_tokens >= 1024 && p.cached_tokens < p.prompt_tokens);
        assert_eq!(c.prompt(bpe, &m, PromptCaching::Off, 0).cached_tokens, 0);
    }
}
