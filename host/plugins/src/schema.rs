//! The JSON Schema subset plugin configurations are written in.
//!
//! Why a subset and not a full validator: the schema does two jobs — the host checks a
//! configuration against it before any plugin sees it, and the UI renders a form from
//! it — and a form can only be built from simple keywords. So the host accepts exactly
//! the keywords it enforces and the UI renders, and refuses a manifest using any other
//! (a plugin author learns at install, not from a silently unenforced rule).
//!
//! Keywords: `type` (object, string, integer, number, boolean, array), `properties`,
//! `required`, `additionalProperties` (boolean), `items`, `enum`, `minLength`,
//! `maxLength`, `minimum`, `maximum`, `format: "uri"` (an http or https URL); and the
//! annotations `title`, `description`, `default`, `examples`, `writeOnly` (a secret
//! field), `readOnly`, `$schema`.

use serde_json::{Map, Value};

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "format",
    "title",
    "description",
    "default",
    "examples",
    "writeOnly",
    "readOnly",
    "$schema",
];
const TYPES: &[&str] = &["object", "string", "integer", "number", "boolean", "array"];

/// `Ok` when `schema` uses only the supported keywords, correctly.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    check_node(schema, "#")
}

fn check_node(s: &Value, at: &str) -> Result<(), String> {
    let obj = s
        .as_object()
        .ok_or_else(|| format!("{at}: a schema is an object"))?;
    for k in obj.keys() {
        if !KEYWORDS.contains(&k.as_str()) {
            return Err(format!(
                "{at}: keyword {k:?} is not supported (supported: {})",
                KEYWORDS.join(", ")
            ));
        }
    }
    if let Some(t) = obj.get("type") {
        match t.as_str() {
            Some(t) if TYPES.contains(&t) => {}
            _ => return Err(format!("{at}: type {t} is not one of {}", TYPES.join(", "))),
        }
    }
    if let Some(f) = obj.get("format")
        && f != "uri"
    {
        return Err(format!("{at}: format {f} is not supported (only \"uri\")"));
    }
    if let Some(p) = obj.get("properties") {
        let p = p
            .as_object()
            .ok_or_else(|| format!("{at}/properties: an object"))?;
        for (name, sub) in p {
            check_node(sub, &format!("{at}/properties/{name}"))?;
        }
    }
    if let Some(r) = obj.get("required")
        && !r.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err(format!("{at}/required: a list of property names"));
    }
    if let Some(a) = obj.get("additionalProperties")
        && !a.is_boolean()
    {
        return Err(format!("{at}/additionalProperties: true or false"));
    }
    if let Some(i) = obj.get("items") {
        check_node(i, &format!("{at}/items"))?;
    }
    if let Some(e) = obj.get("enum")
        && e.as_array().is_none_or(|a| a.is_empty())
    {
        return Err(format!("{at}/enum: a non-empty list"));
    }
    for k in ["minLength", "maxLength"] {
        if let Some(v) = obj.get(k)
            && !v.is_u64()
        {
            return Err(format!("{at}/{k}: a non-negative integer"));
        }
    }
    for k in ["minimum", "maximum"] {
        if let Some(v) = obj.get(k)
            && !v.is_number()
        {
            return Err(format!("{at}/{k}: a number"));
        }
    }
    Ok(())
}

/// `Ok` when `value` satisfies `schema` (checked by [`check_schema`]); otherwise the
/// first violation, naming the field (`url: …`).
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    validate_at(schema, value, "")
}

fn name(at: &str) -> &str {
    if at.is_empty() {
        "the configuration"
    } else {
        at
    }
}

fn validate_at(s: &Value, v: &Value, at: &str) -> Result<(), String> {
    let Some(s) = s.as_object() else {
        return Ok(());
    };
    let fail = |m: String| Err(format!("{}: {m}", name(at)));
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            _ => true,
        };
        if !ok {
            return fail(format!("must be {} {t}", article(t)));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        let options: Vec<String> = e.iter().map(Value::to_string).collect();
        return fail(format!("must be one of {}", options.join(", ")));
    }
    if let Some(text) = v.as_str() {
        let len = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            return fail(format!("must have at least {min} characters"));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            return fail(format!("must have at most {max} characters"));
        }
        if s.get("format").and_then(Value::as_str) == Some("uri") {
            check_url(text).or_else(&fail)?;
        }
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return fail(format!("must be at least {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return fail(format!("must be at most {max}"));
        }
    }
    if let Some(obj) = v.as_object() {
        validate_object(s, obj, at)?;
    }
    if let (Some(items), Some(list)) = (s.get("items"), v.as_array()) {
        for (i, item) in list.iter().enumerate() {
            validate_at(items, item, &format!("{}[{i}]", name(at)))?;
        }
    }
    Ok(())
}

fn validate_object(
    s: &Map<String, Value>,
    obj: &Map<String, Value>,
    at: &str,
) -> Result<(), String> {
    let props = s.get("properties").and_then(Value::as_object);
    let child = |k: &str| {
        if at.is_empty() {
            k.to_owned()
        } else {
            format!("{at}.{k}")
        }
    };
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if obj.get(r).is_none_or(Value::is_null) {
                return Err(format!("{}: is required", child(r)));
            }
        }
    }
    for (k, val) in obj {
        match props.and_then(|p| p.get(k)) {
            // An optional field left empty is absent, not wrong.
            Some(sub) if !val.is_null() => validate_at(sub, val, &child(k))?,
            Some(_) => {}
            None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                return Err(format!("{}: unknown field", child(k)));
            }
            None => {}
        }
    }
    Ok(())
}

fn article(t: &str) -> &'static str {
    if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// An absolute http(s) URL with a host.
fn check_url(text: &str) -> Result<(), String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(format!(
                "{text:?}: the URL must start with http:// or https://"
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{text:?}: the URL has no host"));
    }
    Ok(())
}

/// Names of the properties marked `writeOnly` (secret fields).
pub fn write_only_fields(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(_, s)| s.get("writeOnly") == Some(&Value::Bool(true)))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "format": "uri", "title": "URL"},
                "preset": {"type": "string", "enum": ["json", "ntfy"]},
                "retries": {"type": "integer", "minimum": 0, "maximum": 5},
                "token": {"type": "string", "writeOnly": true, "minLength": 4},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}}
            }
        })
    }

    #[test]
    fn accepts_valid_and_names_the_field_that_is_not() {
        let s = schema();
        check_schema(&s).unwrap();
        validate(
            &s,
            &json!({"url": "https://ntfy.sh/x", "preset": "ntfy", "retries": 2}),
        )
        .unwrap();
        validate(
            &s,
            &json!({"url": "http://10.0.0.1:8080/hook", "token": null}),
        )
        .unwrap();
        for (value, msg) in [
            (json!({}), "url: is required"),
            (json!({"url": null}), "url: is required"),
            (json!({"url": 3}), "url: must be a string"),
            (json!({"url": "ftp://x"}), "http:// or https://"),
            (json!({"url": "not a url"}), "is not a URL"),
            (
                json!({"url": "http://x", "preset": "xml"}),
                "preset: must be one of",
            ),
            (
                json!({"url": "http://x", "retries": 9}),
                "retries: must be at most 5",
            ),
            (
                json!({"url": "http://x", "retries": 1.5}),
                "retries: must be an integer",
            ),
            (
                json!({"url": "http://x", "token": "ab"}),
                "token: must have at least 4",
            ),
            (
                json!({"url": "http://x", "tags": ["abcd"]}),
                "tags[0]: must have at most 3",
            ),
            (
                json!({"url": "http://x", "extra": 1}),
                "extra: unknown field",
            ),
            (json!([]), "the configuration: must be an object"),
        ] {
            let e = validate(&s, &value).unwrap_err();
            assert!(e.contains(msg), "{value}: {e}");
        }
        assert_eq!(write_only_fields(&s), vec!["token".to_owned()]);
    }

    #[test]
    fn refuses_unsupported_schemas() {
        for (s, msg) in [
            (
                json!({"type": "object", "oneOf": []}),
                "\"oneOf\" is not supported",
            ),
            (json!({"type": "tuple"}), "is not one of"),
            (
                json!({"properties": {"a": {"format": "email"}}}),
                "only \"uri\"",
            ),
            (json!({"required": "a"}), "a list of property names"),
            (json!({"minLength": -1}), "non-negative"),
            (json!(true), "a schema is an object"),
        ] {
            let e = check_schema(&s).unwrap_err();
            assert!(e.contains(msg), "{s}: {e}");
        }
    }
}
