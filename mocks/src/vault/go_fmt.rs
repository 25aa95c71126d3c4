//! Go's `fmt` renderings that Vault's messages contain: `%q` of a string and `%v` of a value
//! decoded from JSON. Shared by the auth backends, whose messages come from Go code.

use serde_json::Value;

/// Go's `%v` of a decoded JSON value (`map[k:v]`, `[a b]`, `<nil>`).
pub(crate) fn go_value(v: &Value) -> String {
    render(v, &|scalar| match scalar {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    })
}

/// Go's `%s` of a decoded JSON value: as `%v`, but a value that is no string says so
/// (`%!s(bool=true)`, `%!s(<nil>)`); numbers decoded with `UseNumber` are `json.Number` text.
pub(crate) fn go_s(v: &Value) -> String {
    render(v, &|scalar| match scalar {
        Value::Null => "%!s(<nil>)".into(),
        Value::Bool(b) => format!("%!s(bool={b})"),
        other => other.to_string(),
    })
}

/// Strings as they are, lists as `[a b]`, maps as `map[k:v]` in sorted key order (as Go
/// prints maps); null, bools and numbers by `scalar`.
fn render(v: &Value, scalar: &dyn Fn(&Value) -> String) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|i| render(i, scalar)).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", render(&o[k], scalar)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        other => scalar(other),
    }
}

/// Go's `%q`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub(crate) fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// encoding/json's text for JSON that does not parse: exact for input that ends early or does
/// not start like JSON.
// UNVERIFIED: for a fault further in, Go names the context ("after object key", …); this says
// "looking for beginning of value" with the character serde_json stopped at.
pub(crate) fn go_json_syntax_error(bytes: &[u8], e: &serde_json::Error) -> String {
    let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
    // A bare literal Go scans letter by letter: `nope` is `in literal null (expecting 'u')`.
    if let Some(i) = first {
        let literal: &[u8] = match bytes[i] {
            b't' => b"true",
            b'f' => b"false",
            b'n' => b"null",
            _ => b"",
        };
        for (k, want) in literal.iter().enumerate().skip(1) {
            match bytes.get(i + k) {
                None => return "unexpected end of JSON input".into(),
                Some(c) if c != want => {
                    return format!(
                        "invalid character {} in literal {} (expecting '{}')",
                        go_char(*c),
                        String::from_utf8_lossy(literal),
                        *want as char
                    )
                }
                _ => {}
            }
        }
    }
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    let at = match first {
        Some(i) if !b"{[\"-0123456789tfn".contains(&bytes[i]) => i,
        _ => {
            // serde_json's line and column (1-based) of the offending character.
            let line_start: usize = bytes
                .split(|b| *b == b'\n')
                .take(e.line().saturating_sub(1))
                .map(|l| l.len() + 1)
                .sum();
            (line_start + e.column().saturating_sub(1)).min(bytes.len().saturating_sub(1))
        }
    };
    let c = bytes.get(at).copied().unwrap_or(b' ');
    format!(
        "invalid character {} looking for beginning of value",
        go_char(c)
    )
}

/// encoding/json's quoting of the character it stopped at.
fn go_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_owned(),
        0x20..=0x7e => format!("'{}'", c as char),
        _ => format!("'\\x{c:02x}'"),
    }
}

/// encoding/json's text for valid JSON of the wrong kind unmarshalled into a Go type `into`
/// (`json: cannot unmarshal number into Go value of type jose.rawHeader`).
pub(crate) fn go_json_type_error(v: &Value, into: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go value of type {into}",
        json_kind(v)
    )
}

/// encoding/json's name for a JSON value's kind in an `UnmarshalTypeError`.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_as_go_prints_them() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(
            go_value(&json!({"b": [1, "x"], "a": null})),
            "map[a:<nil> b:[1 x]]"
        );
        assert_eq!(go_quoted_list(&["a".into(), "b".into()]), "[\"a\" \"b\"]");
    }
}
