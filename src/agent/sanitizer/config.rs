//! The sanitizer's settings (`[agent.sanitizer]`) and its built-in pattern tables.

use serde::{Deserialize, Serialize};

/// Settings of the sanitizer; the scenario file's `[agent.sanitizer]` table. Every key has a
/// default, so an empty table (or none) gives the built-in behaviour.
///
/// ```toml
/// [agent.sanitizer]
/// enabled = true                 # false: every text passes untouched
/// max_input_chars = 8000         # user input longer than this is truncated (characters)
/// max_tool_output_chars = 32000  # tool output longer than this is truncated (characters)
/// threshold = 0.5                # unsafe when the risk score reaches this (0 < t <= 1)
/// strict = false                 # true: also replace every match with "[REDACTED]"
/// builtin_patterns = true        # false: only the patterns listed below
/// patterns = [{ name = "my_rule", regex = "secret\\s+menu", weight = 0.6 }]
/// dangerous_functions = ["delete_all", "drop_table", "exec", "eval", "os.system", ...]
/// dangerous_function_weight = 0.6
/// pollution_phrases = ["previous\\s+conversation", ...]
/// pollution_weight = 0.5
/// truncation_weight = 0.1
/// invisible_weight = 0.1
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SanitizerConfig {
    /// Screen at all. When false every entry point returns a safe verdict with the text as is.
    pub enabled: bool,
    /// Longest user input kept, in characters (the seed's 8000); the rest is cut off.
    pub max_input_chars: usize,
    /// Longest tool output kept, in characters; retrieved documents are longer than prompts.
    pub max_tool_output_chars: usize,
    /// Risk score at or above which a text is unsafe, in (0, 1].
    pub threshold: f64,
    /// Redact every match with `[REDACTED]` in the cleaned text, instead of only flagging it.
    pub strict: bool,
    /// Keep the built-in injection patterns ([`builtin_patterns`]); false keeps only `patterns`.
    pub builtin_patterns: bool,
    /// Extra injection patterns. One whose `name` equals a built-in pattern's replaces it
    /// (weight 0 disables it).
    pub patterns: Vec<PatternConfig>,
    /// Function and command names that must never be called, matched case-insensitively on word
    /// boundaries. Setting this key replaces the default list.
    pub dangerous_functions: Vec<String>,
    /// Score added by each dangerous name found in user input or an action's input.
    pub dangerous_function_weight: f64,
    /// Context-pollution phrases (regular expressions, case-insensitive). Setting this key
    /// replaces the default list.
    pub pollution_phrases: Vec<String>,
    /// Score added by each pollution phrase found.
    pub pollution_weight: f64,
    /// Score added when the text was truncated to the length limit.
    pub truncation_weight: f64,
    /// Score added when invisible or bidi-control characters were stripped.
    pub invisible_weight: f64,
}

/// One named, weighted injection pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// Stable name, reported in threats (snake_case by convention).
    pub name: String,
    /// Regular expression (Rust `regex` syntax, matched case-insensitively after normalization).
    pub regex: String,
    /// Score added when it matches, in [0, 1].
    pub weight: f64,
}

impl Default for SanitizerConfig {
    fn default() -> Self {
        SanitizerConfig {
            enabled: true,
            max_input_chars: 8000,
            max_tool_output_chars: 32_000,
            threshold: 0.5,
            strict: false,
            builtin_patterns: true,
            patterns: Vec::new(),
            dangerous_functions: DEFAULT_DANGEROUS_FUNCTIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            dangerous_function_weight: 0.6,
            pollution_phrases: DEFAULT_POLLUTION_PHRASES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            pollution_weight: 0.5,
            truncation_weight: 0.1,
            invisible_weight: 0.1,
        }
    }
}

/// Default dangerous function and command names (the seed's list, without its bare `system`,
/// which flagged "ecosystem").
pub const DEFAULT_DANGEROUS_FUNCTIONS: &[&str] = &[
    "delete_all",
    "drop_table",
    "drop_database",
    "truncate_table",
    "rm_rf",
    "rm -rf",
    "exec",
    "eval",
    "__import__",
    "os.system",
    "os.popen",
    "subprocess",
    "shell_exec",
    "child_process",
];

/// Default context-pollution phrases: attempts to rewrite what the model believes was said.
pub const DEFAULT_POLLUTION_PHRASES: &[&str] = &[
    r"previous\s+conversations?",
    r"forget\s+(?:about|everything|all)",
    r"ignore\s+what",
    r"the\s+last\s+\d+\s+messages",
    r"remember\s+that\s+you",
    r"(?:as\s+)?we\s+agreed\s+(?:earlier|before|previously)",
    r"cuộc\s+(?:trò\s+chuyện|hội\s+thoại)\s+trước",
    r"quên\s+(?:hết|đi|mọi\s+thứ|tất\s+cả)",
    r"hãy\s+nhớ\s+rằng\s+bạn",
];

/// The rows of [`builtin_patterns`]: (name, regex, weight).
const BUILTIN_PATTERNS: &[(&str, &str, f64)] = &[
    (
        "ignore_instructions",
        r"(?:ignore|disregard|forget|override|bypass|skip)\s+(?:(?:all|any|every|the|your|my|of|these|those|previous|prior|above|earlier|preceding|original|initial|system|developer|safety)\s+){0,4}(?:instructions?|rules|prompts?|directives?|guidelines|guardrails)",
        0.8,
    ),
    (
        "vi_ignore_instructions",
        r"(?:bỏ\s+qua|bo\s+qua|phớt\s+lờ|phot\s+lo|lờ\s+đi|quên|quen)\s+(?:\S+\s+){0,4}?(?:hướng\s+dẫn|huong\s+dan|chỉ\s+dẫn|chi\s+dan|chỉ\s+thị|chi\s+thi|quy\s+tắc|quy\s+tac|mệnh\s+lệnh|lệnh)",
        0.8,
    ),
    (
        "new_instructions",
        r"(?:new|updated|real|actual|revised)\s+(?:system\s+)?instructions?\s*:",
        0.5,
    ),
    (
        "roleplay_unrestricted",
        r"(?:you\s+are\s+now|you're\s+now|from\s+now\s+on,?\s+you\s+(?:are|will\s+be)|act\s+as|pretend\s+(?:to\s+be|you\s+are)|role-?play\s+as)\s+(?:an?\s+|the\s+)?(?:dan|evil|unrestricted|unfiltered|uncensored|jailbroken|unlimited|amoral|(?:ai|assistant|model|chatbot)\s+(?:with\s+no|without)\s+(?:any\s+)?(?:restrictions|limits|filters|rules|guidelines))",
        0.8,
    ),
    (
        "do_anything_now",
        r"do\s+anything\s+now|developer\s+mode\s+(?:enabled|activated|on)|jailbr(?:eak|oken)\s+mode",
        0.8,
    ),
    ("jailbreak_word", r"jailbr(?:eak|oken)", 0.3),
    (
        "no_restrictions",
        r"(?:without|with\s+no|free\s+(?:from|of))\s+(?:any\s+)?(?:restrictions|limitations|filters|censorship|guidelines|safety\s+(?:rules|guidelines|filters))",
        0.4,
    ),
    (
        "vi_roleplay",
        r"(?:bây\s+giờ\s+bạn\s+là|từ\s+(?:giờ|bây\s+giờ)\s+(?:trở\s+đi\s+)?bạn\s+(?:là|sẽ)|đóng\s+vai|giả\s+vờ\s+(?:là|bạn\s+là)|bay\s+gio\s+ban\s+la|dong\s+vai)",
        0.4,
    ),
    (
        "vi_no_restrictions",
        r"(?:không|khong)\s+(?:có\s+|co\s+|bị\s+|bi\s+|còn\s+)?(?:giới\s+hạn|gioi\s+han|kiểm\s+duyệt|kiem\s+duyet|hạn\s+chế|han\s+che|ràng\s+buộc|rang\s+buoc)",
        0.4,
    ),
    (
        "prompt_extraction",
        r"(?:reveal|show|print|repeat|output|display|tell|give|leak|dump|disclose|what\s+(?:is|are|was))\s+(?:me\s+|us\s+)?(?:your|the)\s+(?:full\s+|entire\s+|exact\s+|original\s+|initial\s+|hidden\s+|secret\s+)*(?:system\s+prompt|system\s+message|(?:initial|hidden|original|secret)\s+(?:prompt|instructions))",
        0.7,
    ),
    (
        "repeat_above",
        r"repeat\s+(?:everything|all|the\s+(?:text|words))\s+(?:above|before)|(?:text|everything)\s+above\s+this\s+line",
        0.6,
    ),
    (
        "vi_prompt_extraction",
        r"(?:tiết\s+lộ|cho\s+(?:tôi\s+)?xem|in\s+ra|hiển\s+thị|nhắc\s+lại)\s+(?:\S+\s+){0,3}?(?:system\s+prompt|lời\s+nhắc\s+hệ\s+thống|hướng\s+dẫn\s+hệ\s+thống|chỉ\s+dẫn\s+(?:gốc|ban\s+đầu)|prompt\s+(?:gốc|hệ\s+thống))",
        0.7,
    ),
    (
        "fake_turn",
        r"(?m)^\s*(?:#{1,3}\s*)?(?:system|developer)\s*(?:message|prompt)?\s*:",
        0.6,
    ),
    (
        "chat_template_tokens",
        r"<\|(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\|>|\[/?INST\]|<</?SYS>>",
        0.8,
    ),
    (
        "bracketed_system_note",
        r"\[\s*(?:system|admin|developer)\s*(?:message|note|override|instruction)?\s*\]",
        0.5,
    ),
    (
        "xss",
        r"<\s*script[\s>/]|javascript\s*:|<\s*iframe[\s>]|(?-u:\b)on(?:error|load|mouseover)\s*=",
        0.7,
    ),
    (
        "template_injection",
        r"\$\{[^}\n]{1,200}\}|\{\{[^}\n]{1,200}\}\}",
        0.3,
    ),
    (
        "addressed_to_ai",
        r"if\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant)|(?:ai|llm)\s+(?:assistants?|agents?|models?)\s+(?:reading|processing|summari[sz]ing)\s+this|note\s+to\s+(?:the\s+)?(?:ai|assistant|llm|model)|nếu\s+bạn\s+là\s+(?:một\s+)?(?:ai|trợ\s+lý|mô\s+hình)",
        0.6,
    ),
    (
        "secret_exfiltration",
        r"(?:send|forward|email|post|upload|leak|exfiltrate|reveal|print)\s+(?:\S+\s+){0,3}?(?:api[\s_-]?keys?|passwords?|credentials|secrets|access\s+tokens?)",
        0.5,
    ),
    (
        "sql_destructive",
        r"drop\s+(?:table|database)\s|truncate\s+table\s|;\s*delete\s+from\s",
        0.5,
    ),
];

/// The built-in injection patterns (English and Vietnamese), with their weights. Strong,
/// unambiguous attacks weigh at least the default threshold on their own; weak signals (the word
/// "jailbreak", template syntax, "no limits") weigh less and only block in combination.
pub fn builtin_patterns() -> Vec<PatternConfig> {
    BUILTIN_PATTERNS
        .iter()
        .map(|&(name, regex, weight)| PatternConfig {
            name: name.to_string(),
            regex: regex.to_string(),
            weight,
        })
        .collect()
}
