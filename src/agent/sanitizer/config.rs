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
/// obfuscation_weight = 0.2       # added per decoding (base64, rot13 ...) that revealed a match
/// discussion_discount = 0.35     # taken off text that talks about prompt injection
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
    /// Score added for each way the text was obfuscated that hid a match: a decoded span
    /// (base64, hex, binary, percent-encoding, Unicode tag characters), a transformation of the
    /// whole text (rot13, reversed, leetspeak, letter-spacing), or words mixing look-alike
    /// scripts. Hiding an instruction is itself a sign of intent.
    pub obfuscation_weight: f64,
    /// Taken off the score of a text that talks about prompt injection (a security doc quoting
    /// an attack); never below zero.
    pub discussion_discount: f64,
}

/// One named, weighted injection pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// Stable name, reported in threats (snake_case by convention).
    pub name: String,
    /// Regular expression (Rust `regex` syntax, matched case-insensitively after normalization).
    pub regex: String,
    /// Score added when it matches in user input or a proposed action, in [0, 1].
    pub weight: f64,
    /// Score added when it matches in a data channel (tool output, memory), in [0, 1]; absent:
    /// `weight`. Instructions addressed to the assistant are normal from the user and out of
    /// place in data, so such patterns weigh more (or only) here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_weight: Option<f64>,
}

impl PatternConfig {
    /// The weight in a data channel.
    pub fn data_weight(&self) -> f64 {
        self.data_weight.unwrap_or(self.weight)
    }
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
            obfuscation_weight: 0.2,
            discussion_discount: 0.35,
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
    r"forget\s+(?:everything|all)(?-u:\b)",
    r"ignore\s+what",
    r"the\s+last\s+\d+\s+messages",
    r"remember\s+that\s+you",
    r"(?:as\s+)?we\s+agreed\s+(?:earlier|before|previously)",
    r"cuộc\s+(?:trò\s+chuyện|hội\s+thoại)\s+trước",
    r"quên\s+(?:hết|đi|mọi\s+thứ|tất\s+cả)",
    r"hãy\s+nhớ\s+rằng\s+bạn",
];

/// The rows of [`builtin_patterns`]: (name, regex, weight, data_weight).
///
/// Patterns run on the *folded* text (see `text::fold`): NFKC, look-alike Cyrillic and Greek
/// letters mapped to Latin, and Vietnamese (and other Latin) diacritics removed, so one
/// unaccented pattern matches "bỏ qua", "bo qua" and "bо quа" alike. They are compiled into one
/// `RegexSet`, so adding a signal costs no extra pass. Bounded gaps (`{0,5}?`) keep every
/// pattern a finite automaton; `(?-u:\b)` keeps word boundaries on the fast DFA engines.
///
/// The weights, in four bands:
/// - 0.7 to 0.8: unambiguous on their own (an override of the model's instructions, a chat
///   template's role header, a request for the hidden prompt). One is enough to block at the
///   default threshold of 0.5.
/// - 0.5 to 0.6: a strong signal that is still seen in benign text now and then (an imperative
///   addressed to the assistant inside data, an image URL with a placeholder in its query, a
///   request to decode and obey). Blocks alone; a benign look-alike rarely has two.
/// - 0.3 to 0.4: a shape that is only suspicious together with another (concealment from the
///   user, "from now on you", the word "jailbreak", a function call named in data).
/// - 0.2 and below: weak context (text styled invisible, a recipient change asked by the user).
///
/// The second weight is for data channels (tool output and memory), where the text is data and
/// an instruction to the assistant is out of place: signals such as "assistant, do X", a fake
/// `User:` turn, or "forward the emails to ..." count there and weigh little or nothing in user
/// input, where people legitimately ask the assistant to do things.
const BUILTIN_PATTERNS: &[(&str, &str, f64, f64)] = &[
    // ---- overriding the instructions (English, with paraphrases)
    (
        "ignore_instructions",
        r"(?:ignore|disregard|forget|override|bypass|skip|neglect|discard|abandon|drop|cancel|disable|deactivate|switch\s+off|turn\s+off|lift|set\s+aside|put\s+aside|throw\s+(?:away|out)|pay\s+no\s+(?:attention|heed)\s+to|stop\s+(?:following|obeying|using)|(?:do\s+not|don'?t|no\s+longer|never)\s+(?:follow|obey|apply|adhere\s+to))\s+(?:(?:[\w'’-]+[\s,]+){0,5}?(?:instructions?|prompts?|directives?|guidelines|guardrails|guidance|directions|programming|safety\s+(?:settings|rules|filters?|measures)|content\s+filters?|(?:your|the)\s+filters?)|(?:[\w'’-]+\s+){0,3}?(?:your|all|any|every|previous|prior|above|earlier|original|initial|these|those|its|system|my|whatever)\s+(?:[\w'’-]+\s+){0,2}?(?:rules|restrictions|constraints|polic(?:y|ies)|filters?)|(?:the\s+)?(?:rules|restrictions|constraints|polic(?:y|ies)|filters?)\s+(?:you\s+(?:were|have\s+been)\s+given|you\s+(?:have|follow|got)|from\s+your|of\s+your|set\s+by)|what\s+you\s+(?:were|have\s+been)\s+(?:told|given|asked)|everything\s+(?:you\s+(?:were|have\s+been)\s+told|above|before))",
        0.8,
        0.8,
    ),
    (
        "instructions_revoked",
        r"(?:(?:previous|prior|earlier|above|preceding)\s+(?:[\w'’-]+\s+){0,2}?(?:instructions?|rules|prompts?|directives?|guidelines|task|orders)|(?:instructions?|rules|directives?|guidelines)\s+(?:you\s+(?:received|were\s+given|got|have)|(?:given\s+)?(?:above|before|earlier)))\s+(?:[\w'’-]+\s+){0,5}?(?:(?:are|is|were|was|have\s+been|has\s+been)\s+(?:now\s+|all\s+)?(?:cancel+ed|void|revoked|obsolete|outdated|superseded|invalid|null|a\s+test|wrong|fake|replaced|no\s+longer\s+valid)|no\s+longer\s+appl(?:y|ies))|everything\s+(?:above|before)\s+(?:this\s+(?:line|point|message)\s+)?(?:was|is)\s+(?:a\s+test|fake|void|irrelevant|a\s+joke)|what\s+you\s+(?:were|have\s+been)\s+(?:told|given|instructed)\s+(?:\S+\s+){0,6}?(?:no\s+longer\s+(?:matters?|applies|counts)|(?:is|are)\s+(?:now\s+)?(?:void|irrelevant|cancel+ed|obsolete))|treat\s+(?:\S+\s+){0,6}?(?:instructions?|rules|guidelines|prompts?)\s+(?:\S+\s+){0,5}?as\s+(?:void|invalid|cancel+ed|null|obsolete|irrelevant|a\s+joke|fake)",
        0.7,
        0.7,
    ),
    (
        "new_instructions",
        r"(?:new|updated|real|actual|revised|true)\s+(?:system\s+)?(?:instructions?|task|directives?|rules|orders)\s*(?::|follow(?-u:\b))|new\s+(?:rule|instruction|directive|policy|order)s?\s+(?:\S+\s+){0,3}?(?:from|by)\s+(?:the\s+|your\s+)?(?:admins?|administrators?|developers?|system|openai|management|owner|operators?)\s*:|your\s+(?:new|real|actual|only|true)\s+(?:task|role|goal|objective|job|purpose|mission|instructions?)\s+(?:is|are|will\s+be|now|:)",
        0.5,
        0.5,
    ),
    (
        "from_now_on",
        r"from\s+now\s+on,?\s+(?:you|the\s+(?:assistant|ai|model))\s+(?:will|must|shall|are|should|only|obey|answer|respond|reply|act)|you\s+are\s+no\s+longer\s+(?:an?\s+|bound|restricted|limited|chatgpt|claude|the\s+assistant)",
        0.3,
        0.4,
    ),
    // ---- jailbreak personas and modes
    (
        "roleplay_unrestricted",
        r"(?:you\s+are\s+now|you're\s+now|from\s+now\s+on,?\s+you\s+(?:are|will\s+be)|act\s+as|pretend\s+(?:to\s+be|you\s+are)|role-?play\s+as)\s+(?:an?\s+|the\s+)?(?:dan|evil|unrestricted|unfiltered|uncensored|jailbroken|unlimited|amoral|(?:ai|assistant|model|chatbot)\s+(?:with\s+no|without)\s+(?:any\s+)?(?:restrictions|limits|filters|rules|guidelines))",
        0.8,
        0.8,
    ),
    (
        "unrestricted_persona",
        r"(?:unfiltered|uncensored|unrestricted|jailbroken|amoral|unethical|evil)\s+(?:ai|assistant|model|chatbot|bot|version|alter\s+ego|persona|mode)|(?:an?|the)\s+(?:ai|model|assistant|chatbot|bot|llm|hacker|version\s+of\s+you)\s+(?:that|who|which|with|without)\s+(?:[\w'’-]+\s+){0,3}?(?:no|never|without|ignores?)\s+(?:[\w'’-]+\s+){0,2}?(?:rules|restrictions|limits|filters|guidelines|refuses|ethics|content\s+polic(?:y|ies)|morals)",
        0.6,
        0.6,
    ),
    (
        "do_anything_now",
        r"do\s+anything\s+now|(?:jailbreak|dan|unrestricted|god)\s+mode|(?:developer|dev|sudo|admin)\s+mode\s+(?:enabled|activated|active)|(?:developer|admin|root|sudo)\s+override",
        0.8,
        0.8,
    ),
    (
        // "Turn on developer mode" is also how Android is set up: only with another signal.
        "mode_switch",
        r"(?:enable|activate|enter|switch\s+to|turn\s+on|(?:you\s+are|you're|now)\s+in|in)\s+(?:the\s+)?(?:developer|dev|admin|sudo|debug|maintenance)\s+mode",
        0.3,
        0.3,
    ),
    (
        // Role-play used to extract harmful instructions (the "grandmother" and "movie
        // script" framings): a role-play verb, then a dangerous subject.
        "roleplay_harmful",
        r"(?:pretend|act\s+as|role-?play|imagine\s+you\s+are|you\s+are\s+now|play\s+the\s+role)\s+(?:\S+\s+){0,16}?(?:napalm|explosives?|bombs?|meth(?:amphetamine)?|nerve\s+agents?|bioweapons?|malware|ransomware|keyloggers?|poisons?)(?-u:\b)",
        0.5,
        0.5,
    ),
    (
        "you_have_no_rules",
        r"you\s+(?:now\s+)?(?:have|has)\s+no\s+(?:\S+\s+)?(?:content\s+polic(?:y|ies)|rules|restrictions|limits|filters|guidelines|morals|ethics)",
        0.6,
        0.6,
    ),
    ("jailbreak_word", r"jailbr(?:eak|oken)", 0.3, 0.3),
    (
        "no_restrictions",
        r"(?:without|with\s+no|free\s+(?:from|of))\s+(?:any\s+)?(?:restrictions|limitations|limits|filters|censorship|guidelines|safety\s+(?:rules|guidelines|filters))",
        0.4,
        0.4,
    ),
    // ---- extracting the hidden prompt
    (
        "prompt_extraction",
        r"(?:reveal|show|print|repeat|output|display|tell|give|leak|dump|disclose|list|summari[sz]e|recite|write\s+out|copy|paste|share|return|append|include)\s+(?:me\s+|us\s+)?(?:all\s+)?(?:of\s+)?(?:your|the)\s+(?:[\w'’-]+\s+){0,3}?(?:system\s+(?:prompt|message|instructions?)|(?:initial|hidden|original|secret|confidential|developer|internal|first|exact)\s+(?:[\w'’-]+\s+){0,2}?(?:prompt|instructions?|rules|configuration|directives))|what\s+(?:were|are|was|is)\s+(?:the\s+|your\s+)?(?:exact\s+|original\s+|initial\s+|hidden\s+|secret\s+)?(?:instructions|rules|system\s+prompt|prompt)\s+(?:you\s+(?:were|have\s+been)\s+given|you\s+(?:received|got)|given\s+to\s+you)",
        0.7,
        0.7,
    ),
    (
        "instructions_probe",
        r"(?:tell|show|give|print|reveal|list)\s+(?:me\s+|us\s+)?your\s+(?:instructions|rules|prompt|guidelines)",
        0.4,
        0.4,
    ),
    (
        "repeat_above",
        r"repeat\s+(?:everything|all|the\s+(?:text|words))\s+(?:above|before)|(?:text|everything)\s+above\s+this\s+line",
        0.6,
        0.6,
    ),
    // ---- Vietnamese (folded: no diacritics)
    (
        "vi_ignore_instructions",
        r"(?-u:\b)(?:(?:tat|go\s+bo|vo\s+hieu\s+hoa)\s+(?:\S+\s+){0,2}?(?:bo\s+loc|kiem\s+duyet|che\s+do\s+an\s+toan)|(?:bo\s+qua|phot\s+lo|lo\s+di|quen|(?:dung|khong\s+(?:can\s+|duoc\s+)?|ngung|thoi)\s*(?:lam\s+theo|tuan\s+theo|tuan\s+thu|nghe\s+theo)|vo\s+hieu\s+hoa)\s+(?:\S+\s+){0,5}?(?:huong\s+dan|chi\s+dan|chi\s+thi|quy\s+tac|quy\s+dinh|nguyen\s+tac|menh\s+lenh|rang\s+buoc|loi\s+nhac|bo\s+loc|system\s+prompt|nhung\s+(?:gi|dieu)\s+(?:ban\s+)?(?:duoc\s+)?(?:dan|day|bao|yeu\s+cau)))",
        0.8,
        0.8,
    ),
    (
        "vi_new_task",
        r"nhiem\s+vu\s+(?:moi|that\s+su|thuc\s+su)\s+cua\s+ban\s+la|tu\s+(?:gio|bay\s+gio|nay)\s+(?:tro\s+di\s+)?,?\s*ban\s+(?:chi|phai|se|la)\s",
        0.5,
        0.5,
    ),
    (
        "vi_revoked",
        r"(?:huong\s+dan|chi\s+dan|chi\s+thi|quy\s+tac|nhung\s+(?:gi|dieu)\s+ban\s+(?:duoc\s+)?(?:dan|day|bao))\s+(?:\S+\s+){0,3}?(?:khong\s+con\s+(?:hieu\s+luc|gia\s+tri|ap\s+dung|quan\s+trong)|da\s+bi\s+(?:huy|thu\s+hoi|vo\s+hieu))",
        0.7,
        0.7,
    ),
    (
        "vi_roleplay",
        r"(?:bay\s+gio\s+ban\s+la|tu\s+(?:gio|bay\s+gio)\s+(?:tro\s+di\s+)?ban\s+(?:la|se)|dong\s+vai|gia\s+vo\s+(?:la|ban\s+la))",
        0.4,
        0.4,
    ),
    (
        "vi_no_restrictions",
        r"khong\s+(?:co\s+|bi\s+|con\s+)?(?:gioi\s+han|kiem\s+duyet|han\s+che|rang\s+buoc)",
        0.4,
        0.4,
    ),
    (
        "vi_prompt_extraction",
        r"(?:tiet\s+lo|cho\s+(?:toi\s+)?xem|in\s+ra|hien\s+thi|nhac\s+lai|lap\s+lai|chep\s+lai)\s+(?:\S+\s+){0,3}?(?:system\s+prompt|loi\s+nhac\s+he\s+thong|huong\s+dan\s+he\s+thong|(?:chi\s+dan|huong\s+dan|chi\s+thi)\s+(?:goc|ban\s+dau|an|bi\s+mat)|prompt\s+(?:goc|he\s+thong))",
        0.7,
        0.7,
    ),
    (
        "vi_addressed_to_ai",
        r"(?:luu\s+y|gui|nhan|ghi\s+chu|loi\s+nhan)\s+(?:cho\s+|toi\s+)?(?:tro\s+ly|ai|mo\s+hinh|chatbot|bot)(?-u:\b)|tro\s+ly\s+(?:ai\s+|ao\s+)?(?:\S+\s+){0,3}?(?:hay|phai|can|nen)\s",
        0.0,
        0.5,
    ),
    (
        "vi_exfiltration",
        r"(?:gui|chuyen(?:\s+tiep)?|forward|email|tai\s+len)\s+(?:\S+\s+){0,4}?(?:lich\s+su\s+(?:tro\s+chuyen|hoi\s+thoai|chat)|toan\s+bo\s+(?:danh\s+ba|email|tin\s+nhan|du\s+lieu|lich\s+su)|mat\s+khau|danh\s+ba|email\s+cua\s+nguoi\s+dung|du\s+lieu\s+(?:cua\s+)?nguoi\s+dung)\s+(?:\S+\s+){0,3}?(?:den|toi|cho|vao|len)\s",
        0.2,
        0.5,
    ),
    (
        "vi_change_recipient",
        r"(?:doi|thay\s+doi|cap\s+nhat|chuyen)\s+(?:\S+\s+){0,2}?(?:so\s+tai\s+khoan|tai\s+khoan\s+nhan|nguoi\s+nhan|nguoi\s+thu\s+huong|dia\s+chi\s+vi)\s+(?:\S+\s+){0,3}?(?:thanh|sang|la)\s",
        0.1,
        0.6,
    ),
    (
        "vi_decode_execute",
        r"giai\s+ma\s+(?:\S+\s+){0,6}?(?:va|roi|sau\s+do)\s+(?:lam\s+theo|thuc\s+hien|thuc\s+thi|tuan\s+theo|lam\s+dung)",
        0.6,
        0.6,
    ),
    (
        "vi_secret_request",
        r"(?:tiet\s+lo|gui|cho\s+(?:toi\s+)?(?:biet|xem)|in\s+ra|cung\s+cap)\s+(?:\S+\s+){0,3}?(?:khoa\s+api|api\s+key|mat\s+khau\s+(?:quan\s+tri|he\s+thong|admin)|thong\s+tin\s+dang\s+nhap|token\s+truy\s+cap)",
        0.5,
        0.5,
    ),
    (
        "vi_mode_switch",
        r"che\s+do\s+(?:nha\s+phat\s+trien|developer|quan\s+tri|admin|khong\s+(?:gioi\s+han|kiem\s+duyet))|(?:toi\s+la|day\s+la)\s+(?:quan\s+tri\s+vien|admin|nha\s+phat\s+trien)",
        0.3,
        0.3,
    ),
    (
        "vi_concealment",
        r"(?:bi\s+mat|am\s+tham|lang\s+le)\s+(?:gui|chuyen|doi|them|xoa)|khong\s+(?:cho|de|bao)\s+nguoi\s+dung\s+biet",
        0.3,
        0.3,
    ),
    // ---- role markers and template tokens
    (
        "fake_turn",
        r"(?m)^[ \t]*(?:#{1,3}[ \t]*)?(?:system|developer|admin)[ \t]*(?:message|prompt|note|override|instructions?)?[ \t]*:[^\n]{0,80}?(?:(?-u:\b)(?:you|assistant|ai|ignore|override|must|should|always|never|grant|policy|mode|new|instruction|rules?|authori[sz]ed|reveal|from\s+now)(?-u:\b))|(?m)^[ \t]*#{1,6}[ \t]*(?:system|developer)(?:[ \t]+(?:message|prompt|note|instructions?|override))?[ \t]*:?[ \t]*$",
        0.6,
        0.6,
    ),
    (
        "data_fake_turn",
        r"(?m)^[ \t]*(?:human|user|assistant|ai|model|gpt)[ \t]*:",
        0.0,
        0.4,
    ),
    (
        "chat_template_tokens",
        r"<\|im_start\|>\s*(?:system|assistant|user)|<\|(?:system|assistant|user)\|>|<\|start_header_id\|>\s*(?:system|assistant|user)|<start_of_turn>\s*(?:system|model|user)|\[INST\]\s*[^\[\s][^\[]{8,400}\[/INST\]|<</?SYS>>|<(?:system|instructions?|admin)>\s*[A-Za-z][^<\n]{0,200}?\s[^<]{0,200}</(?:system|instructions?|admin)>",
        0.8,
        0.8,
    ),
    (
        "template_token_mention",
        r"<\|[a-z_]{2,24}\|>|\[/?INST\]|<(?:start|end)_of_turn>",
        0.3,
        0.3,
    ),
    (
        "bracketed_system_note",
        r"\[\s*/?\s*(?:system|admin|developer)\s*(?:message|note|override|instruction|prompt)?\s*\]",
        0.5,
        0.5,
    ),
    // ---- instructions addressed to the model inside data (indirect injection)
    (
        "addressed_to_ai",
        r"if\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant)|if\s+(?:an?\s+|the\s+|any\s+)?(?:ai|llm|language\s+model|assistant|bot|chatbot)\s+(?:is\s+)?(?:reading|processing|summari[sz]ing|sees|reads)|(?:ai|llm)\s+(?:assistants?|agents?|models?|screeners?|systems?|reviewers?)\s+(?:reading|processing|summari[sz]ing|screening|reviewing)\s+this|(?:note|message|instructions?|attention|important|reminder|notice)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:ai|assistant|llm|language\s+model|chatbot|ai\s+(?:assistant|agent|model|system)s?)(?-u:\b)|(?:to|for)\s+(?:any|all|every)\s+(?:ai|llm|language\s+models?|assistants?|chatbots?|ai\s+\w+)\s+(?:reading|processing|summari[sz]ing|parsing|seeing)|neu\s+ban\s+la\s+(?:mot\s+)?(?:ai|tro\s+ly|mo\s+hinh)",
        0.6,
        0.6,
    ),
    (
        "imperative_to_ai",
        r"(?:(?:the|an?|dear|hey|hi|attention)\s+)?(?-u:\b)(?:ai|llm|gpt|chatgpt|assistant|chatbot|bot|agent|model|language\s+model)(?:\s+(?:assistant|agent|model|system|screener|reviewer|reader|bot)s?)?\s*[,:]\s*(?:please\s+)?(?:ignore|disregard|forget|do\s+not|don'?t|never|always|stop|start|send|forward|email|reply|respond|say|tell|include|add|append|mark|approve|accept|delete|remove|transfer|call|change|update|set|render|display|show|output|print|recommend|rate|reveal|visit|summari[sz]e|load|fetch|open|encode|post|upload|new\s+(?:rule|instruction|task|policy)|silently|quietly|secretly|from\s+now|before|after|when|to\s+continue|in\s+(?:every|all|each|your)|you\s+(?:must|should|are|will|need))(?-u:\b)|(?:assistant|ai|model|bot|agent)\s+(?:instructions?|directive|note|task)\s*:",
        0.0,
        0.5,
    ),
    (
        "ai_must",
        r"(?:the|any|an?)\s+(?:ai|assistant|chatbot|bot|llm|language\s+model|model|agent)\s+(?:(?:reading|processing|summari[sz]ing|that\s+reads)\s+(?:\S+\s+){0,3}?)?(?:must|should|shall|needs?\s+to|has\s+to|is\s+(?:required|instructed|expected|authori[sz]ed)\s+to|will\s+now|is\s+to)\s|when\s+(?:the\s+)?(?:ai|assistant|chatbot|bot|model)\s+(?:answers|replies|responds|summari[sz]es|reads)\s*,?\s*(?:it|you)\s+(?:must|should|will)|you\s+(?:are\s+(?:required|instructed|ordered|authori[sz]ed)\s+to|must\s+now|will\s+now)",
        0.0,
        0.5,
    ),
    (
        "ignore_the_user",
        r"(?:ignore|disregard)\s+(?:the\s+)?user(?:'s)?(?:\s+(?:request|question|task))?(?-u:\b)|(?:ignore|disregard)\s+(?:the\s+)?(?:summary|summari[sz]ation|original|current)\s+task",
        0.3,
        0.5,
    ),
    (
        // "When summarising this page, say ...": instructions for the model's next step,
        // planted in what it reads.
        "when_processing_do",
        r"when\s+(?:summari[sz]ing|reading|processing|answering|translating|you\s+(?:summari[sz]e|read|process|answer))\s+(?:this|the|these)\s+(?:\S+\s+){0,3}?(?:instead\s+)?(?:tell|say|write|respond|reply|include|add|recommend|state|mention|inform|claim|insert)(?-u:\b)",
        0.3,
        0.5,
    ),
    (
        "inline_system_command",
        r"(?-u:\b)(?:system|admin|developer|root)\s*:\s*(?:escalate|disable|grant|enable|delete|ignore|override|send|forward|set|give|make|add|remove|reveal|transfer|approve)(?-u:\b)",
        0.3,
        0.5,
    ),
    (
        // Phishing through the assistant: make it tell the user to hand something over.
        "tell_user_to_act",
        r"(?:tell|inform|warn|notify|convince|ask)\s+(?:the\s+)?(?:user|reader|customer|them)\s+(?:that\s+)?(?:\S+\s+){0,8}?(?:must|should|need\s+to|has\s+to|have\s+to)\s+(?:\S+\s+){0,2}?(?:send|provide|enter|re-?enter|give|share|confirm|pay|call|visit|click|disable|download|install|transfer)(?-u:\b)|(?:tell|inform|warn)\s+(?:the\s+)?(?:user|reader|customer)\s+(?:to|that)\s+(?:\S+\s+){0,3}?(?:re-?enter|send|share|disable|visit|call|pay|install)(?-u:\b)",
        0.3,
        0.5,
    ),
    (
        "concealment",
        r"without\s+(?:telling|informing|notifying|asking|alerting)\s+(?:the\s+)?(?:user|them|anyone|him|her|customer)|(?:do\s+not|don'?t|never)\s+(?:tell|inform|mention|notify|let)\s+(?:(?:this|it)\s+to\s+)?(?:the\s+)?(?:user|customer|them|anyone|it)(?-u:\b)|(?:silently|quietly|secretly|covertly)\s+(?:\S+\s+)?(?:accept|send|forward|add|include|recommend|approve|change|delete|transfer|bcc|copy)|delete\s+(?:the\s+)?(?:sent\s+(?:copies|items|messages)|evidence|logs)",
        0.3,
        0.3,
    ),
    // ---- hidden instructions
    (
        "hidden_comment",
        r"<!--[^>]{0,400}?(?:ignore|disregard|assistant|(?-u:\b)ai(?-u:\b)|llm|instructions?|you\s+must|reveal|send|forward|system\s+prompt|do\s+not\s+tell|password)",
        0.5,
        0.5,
    ),
    (
        "hidden_alt_text",
        r"!\[[^\]\n]{0,300}?(?:(?:ignore|disregard|forget)\s|assistant\s*[,:]|(?-u:\b)ai\s*[,:]|instructions?(?-u:\b)|you\s+must|system\s+prompt)[^\]\n]{0,300}\]\(",
        0.5,
        0.5,
    ),
    (
        "hidden_style",
        r#"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px)?\s*[;"']|opacity\s*:\s*0\s*[;"']"#,
        0.2,
        0.2,
    ),
    // ---- exfiltration and tool abuse
    (
        "exfil_image_url",
        r"!\[[^\]\n]{0,200}\]\(\s*(?:https?:)?//[^)\s]{1,300}?[?&][^)\s=]{1,40}=(?:[^)\s&]{0,100}?(?:\{|\}|\$|%7b|<|\[|(?-u:\b)(?:data|secret|token|key|password|email|history|conversation|chat|message)(?-u:\b))|\s*\))",
        0.6,
        0.6,
    ),
    (
        "exfil_url_placeholder",
        r"(?:https?|ftp)://[^\s)]{1,300}?[?&][^\s=&)]{1,40}=(?:\{[^}\s]{1,60}\}|\$\{?[A-Za-z_]{2,40}|<[A-Za-z_ ]{2,40}>|\[[A-Za-z_ ]{2,40}\]|%7B)",
        0.5,
        0.5,
    ),
    (
        "exfil_into_url",
        r"(?:append|add|include|put|insert|encode|embed|attach|send)\s+(?:\S+\s+){0,8}?(?:to|in|into|as)\s+(?:the\s+|this\s+|that\s+|a\s+)?(?:url|link|query(?:\s+string)?|parameter|(?:https?|ftp)://)",
        // Users edit their own links; data asking for it is a smuggling recipe.
        0.3,
        0.5,
    ),
    (
        // Rendering an image is how a URL gets fetched without a click.
        "render_as_image",
        r"(?:render|show|display|load|embed)\s+(?:it|this|that|them|the\s+(?:url|link|result))?\s*(?:as|into)\s+an?\s+(?:markdown\s+)?image",
        0.3,
        0.3,
    ),
    (
        "exfil_send_data",
        r"(?:send|forward|email|e-mail|mail|post|upload|transmit|leak|exfiltrate|share|sync|copy|export|bcc)\s+(?:\S+\s+){0,5}?(?:conversation|chat(?:\s+history|\s+log)?|history|transcript|messages?|e-?mails?|inbox|contacts|contact\s+list|customer\s+list|address\s+book|files|documents|rows|records|(?:the\s+)?user'?s?\s+(?:\S+\s+)?(?:data|e-?mails?|address|phone|password|details|information|messages|contacts)|personal\s+data|credentials|passwords?|api[\s_-]?keys?|secrets|tokens?)\s+(?:\S+\s+){0,6}?(?:to|into|with)\s+(?:\S+@\S+|(?:https?|ftp)://|the\s+(?:address|webhook|url|link|server|endpoint|email)|this\s+(?:address|url|webhook))",
        0.3,
        0.6,
    ),
    (
        "secret_exfiltration",
        r"(?:send|forward|email|post|upload|leak|exfiltrate|reveal|print)\s+(?:\S+\s+){0,3}?(?:api[\s_-]?keys?|passwords?|credentials|secrets|access\s+tokens?)",
        0.5,
        0.5,
    ),
    (
        "change_recipient",
        r"(?:change|update|set|replace|switch|modify|redirect)\s+(?:\S+\s+){0,3}?(?:recipient|payee|beneficiary|bank\s+(?:account|details)|account\s+(?:number|details)|(?:payout|payment|deposit|receiving)\s+(?:account|details)|iban|destination(?:\s+account)?|wallet(?:\s+address)?|routing\s+number)\s+(?:\S+\s+){0,6}?(?:to|into|with)\s",
        0.2,
        0.6,
    ),
    (
        "tool_call_in_data",
        r"(?:call|invoke|run|use|execute|trigger)\s+(?:the\s+)?`?[a-z]+_[a-z_]+`?(?:\s*\(|\s+(?:tool|function|action|api))|add\s+\S+@\S+\s+as\s+(?:an?\s+)?(?:collaborator|admin|owner|member)|(?:grant|give)\s+(?:\S+\s+){0,3}?(?:admin|owner|root|write)\s+(?:rights|access|permissions?)",
        0.1,
        0.4,
    ),
    // ---- decode-and-execute
    (
        "decode_execute",
        r"(?:decode|decrypt|decipher|translate|convert|unscramble|reverse|read)\s+(?:\S+\s+){0,8}?(?:and|then|,)\s+(?:then\s+)?(?:\S+\s+)?(?:follow|obey|carry\s+out|comply|act\s+on|do\s+(?:exactly\s+)?(?:what|as)\s+it\s+(?:says|tells)|do\s+it)(?-u:\b)|(?:base64|b64|hex|binary|rot-?13|caesar|reversed?|backwards|encoded)(?-u:\b)\W+(?:\S+\s+){0,6}?(?:then\s+|and\s+|please\s+)?(?:follow|obey|comply|act\s+on|carry\s+out|do\s+it|do\s+what\s+it\s+says)(?-u:\b)|(?:follow|execute|obey|carry\s+out|act\s+on)\s+(?:the\s+)?(?:decoded|hidden|encoded)\s+(?:text|instructions?|message|command)|step\s+\d\s*:?\s*(?:follow|execute|obey|comply)",
        0.5,
        0.5,
    ),
    (
        // "Decode and run" is also a programming question; only with another signal.
        "decode_run",
        r"(?:decode|decrypt|decipher)\s+(?:\S+\s+){0,8}?(?:and|then|,)\s+(?:then\s+)?(?:execute|run)(?-u:\b)",
        0.3,
        0.3,
    ),
    // ---- web and code payloads
    (
        "xss",
        r"<\s*script[\s>/]|javascript\s*:|<\s*iframe[\s>]|(?-u:\b)on(?:error|load|mouseover)\s*=",
        0.7,
        // Web pages a tool fetched carry scripts as a matter of course.
        0.2,
    ),
    (
        "template_injection",
        r"\$\{[^}\n]{1,200}\}|\{\{[^}\n]{1,200}\}\}",
        0.3,
        0.3,
    ),
    ("jndi_lookup", r"\$\{\s*jndi\s*:", 0.6, 0.6),
    (
        "sql_destructive",
        r"drop\s+(?:table|database)\s|truncate\s+table\s|;\s*delete\s+from\s",
        0.5,
        0.5,
    ),
];

/// Talk *about* prompt injection (security docs, papers, a question on how to defend, a policy
/// that says never to reveal the prompt): quoted attack phrases there are examples, not
/// instructions, so a text that matches this loses
/// `discussion_discount` from its score. An attacker gains little by adding the words: the
/// discount is less than one strong signal.
pub const DISCUSSION_PATTERN: &str = r#"(?:never|not|n't|cannot|must\s+not)\s+(?:\w+\s+)?(?:reveal|disclose|share|leak|show)\s+(?:your|the|its)\s+(?:system\s+prompt|instructions)|prompt\s+injection|jailbreak(?:ing)?\s+prompts|owasp|(?:the|an|that|malicious)\s+attackers?\s|attackers\s+(?:can|may|might|could|often|use|try|write|hide)\s|adversarial|injection\s+attacks?|guard\s+models?|(?:llm|ai)\s+security|attack\s+(?:strings?|payloads?|prompts?)|(?:such\s+as|e\.g\.|for\s+example:?)\s*['"“‘]|red[\s-]?team(?:ing|ers)?|security\s+research(?:er)?|phong\s+chong\s+tan\s+cong|tan\s+cong\s+prompt"#;

/// The built-in injection patterns (English and Vietnamese), with their weights. Strong,
/// unambiguous attacks weigh at least the default threshold on their own; weak signals (the word
/// "jailbreak", template syntax, "no limits") weigh less and only block in combination.
pub fn builtin_patterns() -> Vec<PatternConfig> {
    BUILTIN_PATTERNS
        .iter()
        .map(|&(name, regex, weight, data_weight)| PatternConfig {
            name: name.to_string(),
            regex: regex.to_string(),
            weight,
            data_weight: (data_weight != weight).then_some(data_weight),
        })
        .collect()
}
