//! Tool definitions the way users already have them: an OpenAI `tools` array (the JSON their
//! code sends, `[{"type": "function", "function": {"name", "description", "parameters"}}]`),
//! or inline TOML tables (`[[agent.tools.define]]`). Both become [`ToolSpec`]s, checked once:
//! every error names the tool and the field, so a typo in a 15-tool file is found at once.
//!
//! The schema check is the subset of JSON Schema that function calling uses (OpenAI's own
//! structured-outputs subset): `type`, `properties`, `required`, `enum`, `items`, nested
//! objects and arrays, `anyOf`, `description`, bounds. A key outside it is not an error (the
//! endpoint may know it), but a malformed known key is.

use serde::Deserialize;
use serde_json::Value;

use crate::chat::ToolSpec;

/// The JSON types a schema's `type` may name.
const TYPES: [&str; 7] = [
    "string", "number", "integer", "boolean", "array", "object", "null",
];

/// Deepest schema nesting accepted (keeps the check and the mock's generator bounded).
const MAX_DEPTH: usize = 16;

/// One inline tool, `[[agent.tools.define]]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineTool {
    /// Function name.
    pub name: String,
    /// What it does, for the model (default empty).
    #[serde(default)]
    pub description: String,
    /// JSON Schema of its arguments, as a TOML table (default: no arguments).
    pub parameters: Option<toml::Value>,
}

impl InlineTool {
    /// The definition as the model sees it, checked.
    pub fn spec(&self) -> Result<ToolSpec, String> {
        let parameters = match &self.parameters {
            Some(p) => serde_json::to_value(p)
                .map_err(|e| format!("tool `{}`: parameters: {e}", self.name))?,
            None => empty_parameters(),
        };
        let spec = ToolSpec {
            name: self.name.clone(),
            description: self.description.clone(),
            parameters,
        };
        check_spec(&spec)?;
        Ok(spec)
    }
}

/// `{"type": "object", "properties": {}}`: a tool without arguments.
fn empty_parameters() -> Value {
    serde_json::json!({ "type": "object", "properties": {} })
}

/// Parses an OpenAI `tools` array. The error names the tool (by name, or by index before the
/// name is known) and the field.
pub fn parse_openai_tools(text: &str) -> Result<Vec<ToolSpec>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    let items = value.as_array().ok_or_else(|| {
        "the file must hold a JSON array of tools, as OpenAI's `tools` field: [{\"type\": \"function\", \"function\": {...}}]".to_string()
    })?;
    let mut specs: Vec<ToolSpec> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("tool [{i}]");
        let obj = item
            .as_object()
            .ok_or_else(|| format!("{at} is not a JSON object"))?;
        for key in obj.keys() {
            if key != "type" && key != "function" {
                return Err(format!(
                    "{at} has an unknown field `{key}`; a tool has `type` and `function`"
                ));
            }
        }
        match obj.get("type").and_then(Value::as_str) {
            Some("function") => {}
            other => {
                return Err(format!(
                    "{at}: `type` is {}; expected \"function\"",
                    other.map_or("missing".to_string(), |t| format!("\"{t}\""))
                ));
            }
        }
        let f = obj
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{at}: `function` is missing or not an object"))?;
        let name = match f.get("name") {
            Some(Value::String(n)) => n.clone(),
            _ => return Err(format!("{at}: `function.name` is missing or not a string")),
        };
        let at = format!("tool `{name}`");
        for key in f.keys() {
            if !["name", "description", "parameters", "strict"].contains(&key.as_str()) {
                return Err(format!(
                    "{at}: unknown field `function.{key}`; expected name, description, parameters, strict"
                ));
            }
        }
        let description = match f.get("description") {
            None => String::new(),
            Some(Value::String(d)) => d.clone(),
            Some(_) => return Err(format!("{at}: `function.description` is not a string")),
        };
        if let Some(s) = f.get("strict")
            && !s.is_boolean()
        {
            return Err(format!("{at}: `function.strict` is not true or false"));
        }
        let parameters = f
            .get("parameters")
            .cloned()
            .unwrap_or_else(empty_parameters);
        let spec = ToolSpec {
            name,
            description,
            parameters,
        };
        check_spec(&spec)?;
        specs.push(spec);
    }
    Ok(specs)
}

/// Checks a definition: its name (OpenAI's rule: 1 to 64 of `a-z A-Z 0-9 _ -`) and its
/// parameters' schema, an object at the top.
pub fn check_spec(spec: &ToolSpec) -> Result<(), String> {
    let name = &spec.name;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "tool `{name}`: `name` must be 1 to 64 letters, digits, `_` or `-` (OpenAI's rule)"
        ));
    }
    let at = |field: &str| format!("tool `{name}`: `{field}`");
    let p = &spec.parameters;
    if !p.is_object() {
        return Err(format!("{} must be a JSON-schema object", at("parameters")));
    }
    if p.get("type").and_then(Value::as_str) != Some("object") {
        return Err(format!(
            "{} must be \"object\" (function arguments are an object)",
            at("parameters.type")
        ));
    }
    check_schema(p, p, "parameters", 0)
        .map_err(|(field, problem)| format!("{}: {problem}", at(&field)))
}

/// Checks one schema node; the error is (field path, problem).
fn check_schema(root: &Value, s: &Value, path: &str, depth: usize) -> Result<(), (String, String)> {
    let err = |field: &str, problem: &str| Err((format!("{path}.{field}"), problem.to_string()));
    if depth > MAX_DEPTH {
        return Err((
            path.to_string(),
            format!("nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let Some(obj) = s.as_object() else {
        // `true` and `false` are schemas too (anything, nothing).
        return if s.is_boolean() {
            Ok(())
        } else {
            Err((path.to_string(), "is not a JSON-schema object".to_string()))
        };
    };
    let types: Vec<&str> = match obj.get("type") {
        None => Vec::new(),
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) if !ts.is_empty() && ts.iter().all(Value::is_string) => {
            ts.iter().filter_map(Value::as_str).collect()
        }
        Some(_) => return err("type", "must be a type name or a non-empty list of them"),
    };
    for t in &types {
        if !TYPES.contains(t) {
            return err(
                "type",
                &format!(
                    "\"{t}\" is not a JSON type; use one of {}",
                    TYPES.join(", ")
                ),
            );
        }
    }
    if let Some(e) = obj.get("enum") {
        match e.as_array() {
            Some(items) if !items.is_empty() => {}
            _ => return err("enum", "must be a non-empty list of allowed values"),
        }
    }
    if let Some(props) = obj.get("properties") {
        let Some(props) = props.as_object() else {
            return err("properties", "must be an object of property schemas");
        };
        for (k, v) in props {
            check_schema(root, v, &format!("{path}.properties.{k}"), depth + 1)?;
        }
    }
    if let Some(req) = obj.get("required") {
        let Some(req) = req.as_array() else {
            return err("required", "must be a list of property names");
        };
        let props = obj.get("properties").and_then(Value::as_object);
        for r in req {
            let Some(r) = r.as_str() else {
                return err("required", "must be a list of property names (strings)");
            };
            if !props.is_some_and(|p| p.contains_key(r)) {
                return err(
                    "required",
                    &format!("names `{r}`, which is not in `properties`"),
                );
            }
        }
    }
    if let Some(items) = obj.get("items") {
        check_schema(root, items, &format!("{path}.items"), depth + 1)?;
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = obj.get(key) {
            let Some(list) = list.as_array().filter(|l| !l.is_empty()) else {
                return err(key, "must be a non-empty list of schemas");
            };
            for (i, v) in list.iter().enumerate() {
                check_schema(root, v, &format!("{path}.{key}[{i}]"), depth + 1)?;
            }
        }
    }
    if let Some(r) = obj.get("$ref") {
        let Some(r) = r.as_str() else {
            return err("$ref", "must be a string such as \"#/$defs/Address\"");
        };
        // Local references must land: a provider rejects a schema whose `$ref` does not.
        if let Some(pointer) = r.strip_prefix('#')
            && root.pointer(pointer).is_none()
        {
            return err(
                "$ref",
                &format!("\"{r}\" points at nothing in this tool's `parameters`"),
            );
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(defs) = obj.get(key) {
            let Some(defs) = defs.as_object() else {
                return err(key, "must be an object of named schemas");
            };
            for (k, v) in defs {
                check_schema(root, v, &format!("{path}.{key}.{k}"), depth + 1)?;
            }
        }
    }
    if let Some(m) = obj.get("multipleOf")
        && !m.as_f64().is_some_and(|m| m > 0.0)
    {
        return err("multipleOf", "must be a number above 0");
    }
    // A pattern is ECMA-262 (lookarounds included), which no Rust regex engine here reads
    // whole: only its kind is checked.
    if let Some(pat) = obj.get("pattern")
        && !pat.is_string()
    {
        return err("pattern", "must be a string (a regular expression)");
    }
    for key in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
        if let Some(v) = obj.get(key)
            && !v.is_number()
        {
            return err(key, "must be a number");
        }
    }
    for key in ["minItems", "maxItems", "minLength", "maxLength"] {
        if let Some(v) = obj.get(key)
            && !v.is_u64()
        {
            return err(key, "must be a whole number");
        }
    }
    if let Some(d) = obj.get("description")
        && !d.is_string()
    {
        return err("description", "must be a string");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str, want: Result<usize, &str>) {
        match (parse_openai_tools(json), want) {
            (Ok(specs), Ok(n)) => assert_eq!(specs.len(), n, "{json}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{json}: {e}"),
            (got, w) => panic!("{json}: got {got:?}, want {w:?}"),
        }
    }

    #[test]
    fn openai_tools_are_read_and_mistakes_named() {
        let ok = r#"[{"type":"function","function":{"name":"get_order","description":"d",
            "parameters":{"type":"object","properties":{"id":{"type":"string"},
            "items":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string","enum":["a","b"]}},"required":["sku"]}}},
            "required":["id"]}}}]"#;
        check(ok, Ok(1));
        check(r#"[{"type":"function","function":{"name":"bare"}}]"#, Ok(1));
        for (json, want) in [
            ("{}", "JSON array"),
            ("[1]", "tool [0] is not a JSON object"),
            (
                r#"[{"type":"fn","function":{"name":"a"}}]"#,
                "tool [0]: `type` is \"fn\"",
            ),
            (
                r#"[{"type":"function"}]"#,
                "tool [0]: `function` is missing",
            ),
            (
                r#"[{"type":"function","function":{"name":"a b"}}]"#,
                "tool `a b`: `name`",
            ),
            (
                r#"[{"type":"function","function":{"name":"a","paramters":{}}}]"#,
                "tool `a`: unknown field `function.paramters`",
            ),
            (
                r##"[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{"$ref":"#/$defs/Nope"}}}}}]"##,
                "tool `a`: `parameters.properties.x.$ref`: \"#/$defs/Nope\" points at nothing",
            ),
            (
                r##"[{"type":"function","function":{"name":"a","parameters":{"type":"object","$defs":{"D":{"type":"strin"}}}}}]"##,
                "tool `a`: `parameters.$defs.D.type`: \"strin\" is not a JSON type",
            ),
            (
                r#"[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"n":{"type":"integer","multipleOf":0}}}}}]"#,
                "`parameters.properties.n.multipleOf`: must be a number above 0",
            ),
            (
                r#"[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"s":{"type":"string","pattern":5}}}}}]"#,
                "`parameters.properties.s.pattern`: must be a string",
            ),
            (
                r#"[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{"type":"text"}}}}}]"#,
                "tool `a`: `parameters.properties.x.type`: \"text\" is not a JSON type",
            ),
            (
                r#"[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{"type":"string","enum":[]}}}}}]"#,
                "tool `a`: `parameters.properties.x.enum`",
            ),
            (
                r#"[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{},"required":["y"]}}}]"#,
                "tool `a`: `parameters.required`: names `y`",
            ),
            (
                r#"[{"type":"function","function":{"name":"a","parameters":{"type":"array"}}}]"#,
                "tool `a`: `parameters.type` must be \"object\"",
            ),
        ] {
            check(json, Err(want));
        }
    }
}
