//! Tool-call arguments valid against the tool's JSON schema, drawn deterministically: the
//! types, `required` and optional properties, `enum` and `const`, nested objects, arrays with
//! their item counts and `uniqueItems`, number and length bounds, `anyOf`/`oneOf`/`allOf`, and
//! the common string formats, `multipleOf`, and local `$ref`s (`#/$defs/...`, `#/definitions/...`,
//! as Pydantic and zod write nested models). Strings read like what a model writes for the
//! property's name (an id, an email, a date, a query). A string with a `pattern` takes one of
//! the schema's `examples` or its `default` when it gives them. Not covered: patterns without
//! an example, remote `$ref`s, `not`, conditional schemas; a schema using them may get
//! arguments it rejects.

use serde_json::{Map, Value, json};

use super::vocab::query;
use crate::rng::SplitMix;

/// Deepest nesting generated; below it a value is `null`.
const MAX_DEPTH: usize = 12;
/// Most items generated for an array without `maxItems` above its `minItems`.
const EXTRA_ITEMS: u64 = 3;

/// Words of generated free text.
const WORDS: &[&str] = &[
    "customer", "order", "delayed", "refund", "request", "damaged", "package", "wrong", "size",
    "billing", "question", "account", "access", "urgent", "follow", "up",
];

/// Whether a tool's schema is the simple one-string shape (`{"query": string}`, required),
/// which the script fills with its own queries and expressions as it always did; `None`
/// when it is not, with the one property's name when it is.
pub fn simple_key(schema: &Value) -> Option<&str> {
    let props = schema.get("properties")?.as_object()?;
    if props.len() != 1 {
        return None;
    }
    let (name, prop) = props.iter().next()?;
    let plain = prop.as_object().is_some_and(|p| {
        p.get("type").and_then(Value::as_str) == Some("string")
            && p.keys().all(|k| k == "type" || k == "description")
    });
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|v| v.as_str() == Some(name)));
    (plain && required).then_some(name.as_str())
}

/// Arguments for a tool whose parameters are `schema`, drawn from `rng`.
pub fn generate(schema: &Value, rng: &mut SplitMix) -> Value {
    value(schema, schema, "", rng, 0)
}

fn value(root: &Value, s: &Value, name: &str, rng: &mut SplitMix, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    let Some(obj) = s.as_object() else {
        return json!("x");
    };
    if let Some(target) = obj
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
    {
        // The target's keys with this schema's own beside them (a sibling `description`).
        let mut here = obj.clone();
        here.remove("$ref");
        return value(root, &merged(&here, target), name, rng, depth + 1);
    }
    if let Some(c) = obj.get("const") {
        return c.clone();
    }
    if let Some(e) = obj
        .get("enum")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
    {
        return e[pick(rng, e.len())].clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(list) = obj
            .get(key)
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
        {
            // The first branch: the one schema authors put first is the usual case, and for
            // `oneOf` a fixed choice cannot match two overlapping branches by chance.
            return value(root, &merged(obj, &list[0]), name, rng, depth + 1);
        }
    }
    if let Some(list) = obj
        .get("allOf")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    {
        let mut all = obj.clone();
        all.remove("allOf");
        let mut s = Value::Object(all);
        for branch in list {
            s = merged(s.as_object().unwrap_or(&Map::new()), branch);
        }
        return value(root, &s, name, rng, depth + 1);
    }
    let kind = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if obj.contains_key("properties") => "object",
        _ if obj.contains_key("items") => "array",
        _ => "string",
    };
    match kind {
        "object" => object(root, obj, rng, depth),
        "array" => array(root, obj, name, rng, depth),
        "integer" => integer(obj, rng),
        "number" => number(obj, rng),
        "boolean" => Value::Bool(rng.next_u64() & 1 == 1),
        "null" => Value::Null,
        _ => Value::String(string(obj, name, rng)),
    }
}

/// `base` without its combinators, with `branch`'s keys over it (properties and required
/// lists joined).
fn merged(base: &Map<String, Value>, branch: &Value) -> Value {
    let mut out = base.clone();
    for k in ["anyOf", "oneOf", "allOf"] {
        out.remove(k);
    }
    if let Some(b) = branch.as_object() {
        for (k, v) in b {
            match (k.as_str(), out.get_mut(k), v) {
                ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                    for (pk, pv) in theirs {
                        mine.insert(pk.clone(), pv.clone());
                    }
                }
                ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                    mine.extend(theirs.iter().cloned());
                }
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Value::Object(out)
}

fn object(root: &Value, obj: &Map<String, Value>, rng: &mut SplitMix, depth: usize) -> Value {
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            // Optional properties half the time: what a model fills varies too.
            if required.contains(&k.as_str()) || rng.next_u64() & 1 == 1 {
                out.insert(k.clone(), value(root, v, k, rng, depth + 1));
            }
        }
    }
    Value::Object(out)
}

fn array(
    root: &Value,
    obj: &Map<String, Value>,
    name: &str,
    rng: &mut SplitMix,
    depth: usize,
) -> Value {
    let min = obj.get("minItems").and_then(Value::as_u64).unwrap_or(1);
    let max = obj
        .get("maxItems")
        .and_then(Value::as_u64)
        .unwrap_or(min + EXTRA_ITEMS)
        .max(min)
        .min(min + EXTRA_ITEMS);
    let n = rng.range(min, max);
    let unique = obj.get("uniqueItems").and_then(Value::as_bool) == Some(true);
    let items = obj
        .get("items")
        .cloned()
        .unwrap_or(json!({"type": "string"}));
    let singular = name.strip_suffix('s').unwrap_or(name);
    let mut out: Vec<Value> = Vec::with_capacity(n as usize);
    let mut tries = 0;
    while (out.len() as u64) < n && tries < n * 8 + 8 {
        tries += 1;
        let v = value(root, &items, singular, rng, depth + 1);
        if unique && out.contains(&v) {
            continue;
        }
        out.push(v);
    }
    Value::Array(out)
}

/// The bounds of a numeric schema as (min, max, min is exclusive, max is exclusive); a
/// missing side is `span` away from the other (or from `lo`).
fn bounds(obj: &Map<String, Value>, lo: f64, span: f64) -> (f64, f64, bool, bool) {
    let f = |k: &str| obj.get(k).and_then(Value::as_f64);
    let tighter = |a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64| match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    };
    let min = tighter(f("minimum"), f("exclusiveMinimum"), f64::max);
    let max = tighter(f("maximum"), f("exclusiveMaximum"), f64::min);
    let (min, max) = match (min, max) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, a + span),
        (None, Some(b)) => (b - span, b),
        (None, None) => (lo, lo + span),
    };
    let xmin = f("exclusiveMinimum").is_some_and(|x| x >= min);
    let xmax = f("exclusiveMaximum").is_some_and(|x| x <= max);
    (min, max, xmin, xmax)
}

fn integer(obj: &Map<String, Value>, rng: &mut SplitMix) -> Value {
    let (min, max, xmin, xmax) = bounds(obj, 1.0, 99.0);
    let lo = if xmin {
        min.floor() as i64 + 1
    } else {
        min.ceil() as i64
    };
    let hi = if xmax {
        max.ceil() as i64 - 1
    } else {
        max.floor() as i64
    };
    if let Some(m) = obj
        .get("multipleOf")
        .and_then(Value::as_f64)
        .filter(|m| *m >= 1.0 && m.fract() == 0.0)
    {
        let m = m as i64;
        let (klo, khi) = (
            lo.div_euclid(m) + i64::from(lo.rem_euclid(m) != 0),
            hi.div_euclid(m),
        );
        let k = if khi > klo {
            klo + rng.range(0, (khi - klo) as u64) as i64
        } else {
            klo
        };
        return json!(k * m);
    }
    if hi <= lo {
        return json!(lo);
    }
    let span = (hi - lo) as u64;
    json!(lo + rng.range(0, span) as i64)
}

fn number(obj: &Map<String, Value>, rng: &mut SplitMix) -> Value {
    let (min, max, xmin, xmax) = bounds(obj, 1.0, 499.0);
    if let Some(m) = obj
        .get("multipleOf")
        .and_then(Value::as_f64)
        .filter(|m| *m > 0.0)
    {
        // k × m for a whole k inside the bounds, rounded to m's decimals so that the float
        // reads as the multiple it is (0.1 × 3 prints 0.30000000000000004 otherwise).
        let klo = (min / m).ceil() as i64 + i64::from(xmin && (min / m).fract() == 0.0);
        let khi = (max / m).floor() as i64 - i64::from(xmax && (max / m).fract() == 0.0);
        let k = if khi > klo {
            klo + rng.range(0, (khi - klo) as u64) as i64
        } else {
            klo
        };
        let decimals = format!("{m}").split('.').nth(1).map_or(0, str::len) as i32;
        let scale = 10f64.powi(decimals);
        return json!((k as f64 * m * scale).round() / scale);
    }
    // Whole cents strictly inside exclusive bounds, as a price or amount reads.
    let lo = (min * 100.0).floor() as i64 + i64::from(xmin || (min * 100.0).fract() != 0.0);
    let hi = (max * 100.0).ceil() as i64 - i64::from(xmax || (max * 100.0).fract() != 0.0);
    if hi <= lo {
        return json!((min + max) / 2.0);
    }
    let cents = lo + rng.range(0, (hi - lo) as u64) as i64;
    json!(cents as f64 / 100.0)
}

fn string(obj: &Map<String, Value>, name: &str, rng: &mut SplitMix) -> String {
    if obj.contains_key("pattern") {
        // A pattern is the schema author's; their own examples match it.
        let examples = obj.get("examples").and_then(Value::as_array);
        let given: Vec<&str> = examples
            .into_iter()
            .flatten()
            .chain(obj.get("default"))
            .filter_map(Value::as_str)
            .collect();
        if !given.is_empty() {
            return given[pick(rng, given.len())].to_string();
        }
    }
    let lower = name.to_ascii_lowercase();
    let n = rng.range(1000, 99_999);
    let text = match obj.get("format").and_then(Value::as_str) {
        Some("date") => format!("2026-{:02}-{:02}", n % 12 + 1, n % 28 + 1),
        Some("date-time") => format!(
            "2026-{:02}-{:02}T{:02}:{:02}:00Z",
            n % 12 + 1,
            n % 28 + 1,
            n % 24,
            n % 60
        ),
        Some("time") => format!("{:02}:{:02}:00", n % 24, n % 60),
        Some("email") => format!("customer{n}@example.com"),
        Some("uuid") => format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rng.next_u64() as u32,
            rng.next_u64() as u16,
            rng.next_u64() & 0xfff,
            rng.next_u64() & 0xfff,
            rng.next_u64() & 0xffff_ffff_ffff
        ),
        Some("uri" | "url") => format!("https://example.com/items/{n}"),
        _ if lower.ends_with("id") || lower.ends_with("_number") || lower.ends_with("number") => {
            format!(
                "{}-{n}",
                lower.chars().next().unwrap_or('x').to_ascii_uppercase()
            )
        }
        _ if lower.contains("email") => format!("customer{n}@example.com"),
        _ if lower.contains("date") => format!("2026-{:02}-{:02}", n % 12 + 1, n % 28 + 1),
        _ if lower.contains("query") || lower == "q" || lower.contains("question") => query(rng),
        _ => {
            let words = rng.range(2, 6);
            (0..words)
                .map(|_| WORDS[pick(rng, WORDS.len())])
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    sized(text, obj)
}

/// `text` padded or cut to the schema's length bounds (in characters).
fn sized(mut text: String, obj: &Map<String, Value>) -> String {
    let min = obj.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = obj
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    while text.chars().count() < min {
        text.push('x');
    }
    if let Some(max) = max
        && text.chars().count() > max
    {
        text = text.chars().take(max).collect();
    }
    text
}

fn pick(rng: &mut SplitMix, len: usize) -> usize {
    rng.range(0, len as u64 - 1) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_schemas_are_recognised() {
        for (schema, want) in [
            (
                json!({"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}),
                Some("query"),
            ),
            (
                json!({"type":"object","properties":{"q":{"type":"string","description":"d"}},"required":["q"]}),
                Some("q"),
            ),
            (
                json!({"type":"object","properties":{"q":{"type":"string"}}}),
                None,
            ),
            (
                json!({"type":"object","properties":{"q":{"type":"string","enum":["a"]}},"required":["q"]}),
                None,
            ),
            (
                json!({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["a"]}),
                None,
            ),
        ] {
            assert_eq!(simple_key(&schema), want, "{schema}");
        }
    }

    #[test]
    fn bounds_and_lengths_hold() {
        let schema = json!({"type":"object","properties":{
            "n":{"type":"integer","minimum":3,"exclusiveMaximum":5},
            "x":{"type":"number","exclusiveMinimum":0,"maximum":1},
            "s":{"type":"string","minLength":12,"maxLength":14},
            "tags":{"type":"array","items":{"enum":["a","b"]},"uniqueItems":true,"minItems":2,"maxItems":2}},
            "required":["n","x","s","tags"]});
        for seed in 0..500 {
            let v = generate(&schema, &mut SplitMix::new(seed));
            let n = v["n"].as_i64().unwrap();
            assert!((3..5).contains(&n), "{v}");
            let x = v["x"].as_f64().unwrap();
            assert!(x > 0.0 && x <= 1.0, "{v}");
            let s = v["s"].as_str().unwrap().chars().count();
            assert!((12..=14).contains(&s), "{v}");
            assert_eq!(v["tags"].as_array().unwrap().len(), 2, "{v}");
        }
    }
}
