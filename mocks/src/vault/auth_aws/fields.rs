//! Request fields as Vault's framework converts them (`sdk/framework/field_data.go`, reference
//! aws.md §1.1): weakly typed strings, bools, ints, durations in seconds, comma lists and the
//! `TypeHeader` of `iam_request_headers`; plus the Go renderings (`%q`, `%v`, canonical header
//! keys) that Vault's messages contain.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::vault::backend::VaultError;

pub(crate) type Data = Map<String, Value>;

/// An HTTP header set as Go's `http.Header`: canonical key → values in the order added.
pub(crate) type Headers = BTreeMap<String, Vec<String>>;

/// `Field validation failed: error converting input <v> for field "<f>": <err>` (400).
pub(crate) fn field_error(value: &Value, field: &str, err: &str) -> VaultError {
    VaultError::bad_request(format!(
        "Field validation failed: error converting input {} for field \"{field}\": {err}",
        go_value(value)
    ))
}

/// Go's `%T` for a decoded JSON value.
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

// The inner texts are mapstructure v1.5.0's weak-decode errors (the outer template is reference
// aws.md §1.2 step 1).
use crate::vault::fields::weak::unconvertible;

use crate::vault::go_fmt::json_kind;
pub(crate) use crate::vault::go_fmt::{go_quote, go_s, go_value};

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-vault-aws-iam-server-id` →
/// `X-Vault-Aws-Iam-Server-Id`; a key with a byte outside the token set is left as it is.
/// Borrowed when the key already is canonical (as clients send most of them).
pub(crate) fn canonical_header_key(k: &str) -> Cow<'_, str> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if k.is_empty() || !k.bytes().all(token) {
        return Cow::Borrowed(k);
    }
    let canonical_at = |i: usize, b: u8| {
        let upper = i == 0 || k.as_bytes()[i - 1] == b'-';
        if upper {
            b.to_ascii_uppercase()
        } else {
            b.to_ascii_lowercase()
        }
    };
    if k.bytes().enumerate().all(|(i, b)| canonical_at(i, b) == b) {
        return Cow::Borrowed(k);
    }
    // All bytes are ASCII (the token set), so the result is valid UTF-8.
    let bytes: Vec<u8> = k
        .bytes()
        .enumerate()
        .map(|(i, b)| canonical_at(i, b))
        .collect();
    Cow::Owned(String::from_utf8(bytes).unwrap_or_default())
}

/// `http.Header.Add`.
pub(crate) fn header_add(h: &mut Headers, k: &str, v: String) {
    let key = canonical_header_key(k);
    match h.get_mut(key.as_ref()) {
        Some(values) => values.push(v),
        None => {
            h.insert(key.into_owned(), vec![v]);
        }
    }
}

pub(crate) use crate::vault::fields::go_base64;

/// A value that is present and not JSON `null`.
pub(crate) fn present<'a>(data: &'a Data, name: &str) -> Option<&'a Value> {
    data.get(name).filter(|v| !v.is_null())
}

/// `TypeString` (mapstructure's weak decode: numbers printed, bools `1`/`0`).
pub(crate) fn string(data: &Data, name: &str) -> Result<Option<String>, VaultError> {
    weak(data, name, crate::vault::fields::weak::string)
}

/// `TypeBool`.
pub(crate) fn boolean(data: &Data, name: &str) -> Result<Option<bool>, VaultError> {
    weak(data, name, crate::vault::fields::weak::bool)
}

/// `TypeInt`.
pub(crate) fn int(data: &Data, name: &str) -> Result<Option<i64>, VaultError> {
    weak(data, name, crate::vault::fields::weak::int)
}

fn weak<T>(
    data: &Data,
    name: &str,
    decode: fn(&Value) -> Result<T, String>,
) -> Result<Option<T>, VaultError> {
    match present(data, name) {
        None => Ok(None),
        Some(v) => decode(v).map(Some).map_err(|e| field_error(v, name, &e)),
    }
}

/// `TypeCommaStringSlice`: a comma-separated string or an array (its items not split, as
/// `parseutil.ParseCommaStringSlice` decodes them); entries trimmed, empty dropped.
pub(crate) fn comma_list(data: &Data, name: &str) -> Result<Option<Vec<String>>, VaultError> {
    let raw: Vec<String> = match present(data, name) {
        None => return Ok(None),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Bool(b)) => vec![b.to_string()],
        Some(v @ Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    Value::Number(n) => out.push(n.to_string()),
                    Value::Bool(b) => out.push(b.to_string()),
                    _ => return Err(field_error(v, name, &unconvertible("string", item))),
                }
            }
            out
        }
        Some(v) => Err(field_error(v, name, &unconvertible("[]string", v)))?,
    };
    Ok(Some(
        raw.into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    ))
}

/// `TypeHeader` (`iam_request_headers`, sdk/framework/field_data.go): a JSON object of strings,
/// numbers or arrays of them; a string holding base64 of such an object (or, when it is not
/// base64, the object's JSON itself); or a list of `k:v` strings. Every key goes through
/// `http.Header.Add`, so keys come out canonical. The errors are the SDK's.
pub(crate) fn headers(data: &Data, name: &str) -> Result<Option<Headers>, VaultError> {
    let Some(v) = present(data, name) else {
        return Ok(None);
    };
    let bad = |why: &str| field_error(v, name, why);
    // `toHeader`, in the object's order (Go's map order is random).
    let from_object = |o: &Map<String, Value>| -> Result<Headers, VaultError> {
        let mut h = Headers::new();
        for (k, val) in o {
            match val {
                Value::String(s) => header_add(&mut h, k, s.clone()),
                Value::Number(n) => header_add(&mut h, k, n.to_string()),
                Value::Array(items) => {
                    for item in items {
                        match item {
                            Value::String(s) => header_add(&mut h, k, s.clone()),
                            Value::Number(n) => header_add(&mut h, k, n.to_string()),
                            _ => {
                                return Err(bad(&format!(
                                    "received non-string value for header key:{k}, val:{}",
                                    go_s(val)
                                )))
                            }
                        }
                    }
                }
                other => return Err(bad(&format!("unrecognized type for {}", go_s(other)))),
            }
        }
        Ok(h)
    };
    match v {
        Value::Object(o) => from_object(o).map(Some),
        Value::String(s) => {
            // Base64 if it decodes as such, else the text itself.
            let bytes: Cow<'_, [u8]> = match go_base64(s) {
                Ok(b) => Cow::Owned(b),
                Err(_) => Cow::Borrowed(s.as_bytes()),
            };
            // hvac and the SDK-based clients send base64 of a JSON object, on every login: it is
            // decoded straight into header pairs, without a `Value` tree in between. Anything
            // that does not pass is read again as a tree, for the SDK's error.
            if let Ok(HeaderPairs(pairs)) = serde_json::from_slice::<HeaderPairs>(&bytes) {
                if pairs.iter().all(|(_, values)| values.is_ok()) {
                    let mut h = Headers::new();
                    for (k, values) in pairs {
                        for v in values.unwrap_or_default() {
                            header_add(&mut h, &k, v);
                        }
                    }
                    return Ok(Some(h));
                }
            }
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(o)) => from_object(&o).map(Some),
                // Decoded into a map, `null` leaves it empty.
                Ok(Value::Null) => Ok(Some(Headers::new())),
                Ok(other) => Err(bad(&format!(
                    "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                ))),
                Err(e) => Err(bad(&crate::vault::go_fmt::go_json_syntax_error(&bytes, &e))),
            }
        }
        // The CLI's `k:v` pairs, split at the first colon, nothing trimmed; any other value is
        // lifted into a one-item list by the weak decode, and is no pair.
        other => {
            let items: Vec<&Value> = match other {
                Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            let mut h = Headers::new();
            for item in items {
                let Value::String(pair) = item else {
                    return Err(bad("invalid key pair \"\""));
                };
                match pair.split_once(':') {
                    Some((k, val)) if !k.is_empty() => header_add(&mut h, k, val.to_owned()),
                    _ => return Err(bad(&format!("invalid key pair {}", go_quote(pair)))),
                }
            }
            Ok(Some(h))
        }
    }
}

/// A JSON object of headers as [`headers`] reads it from a `Value::Object`, decoded straight
/// from text: the pairs in object order, a repeated key keeping its first place and its last
/// value (as `serde_json::Map` with `preserve_order` does); each value the strings it adds, or
/// the Go type of what it may not hold.
struct HeaderPairs(Vec<(String, Result<Vec<String>, &'static str>)>);

impl<'de> serde::Deserialize<'de> for HeaderPairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = HeaderPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<HeaderPairs, A::Error> {
                let mut pairs: Vec<(String, Result<Vec<String>, &'static str>)> = Vec::new();
                // Where each key is, once there are too many for a linear search.
                let mut index: Option<std::collections::HashMap<String, usize>> = None;
                while let Some(k) = map.next_key::<String>()? {
                    let HeaderValues(v) = map.next_value()?;
                    if pairs.len() >= 16 && index.is_none() {
                        let built = pairs.iter().enumerate();
                        index = Some(built.map(|(i, (k, _))| (k.clone(), i)).collect());
                    }
                    let at = match &index {
                        Some(index) => index.get(&k).copied(),
                        None => pairs.iter().position(|(pk, _)| *pk == k),
                    };
                    match at {
                        Some(i) => pairs[i].1 = v,
                        None => {
                            if let Some(index) = &mut index {
                                index.insert(k.clone(), pairs.len());
                            }
                            pairs.push((k, v));
                        }
                    }
                }
                Ok(HeaderPairs(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

/// One header value: a string or number, or an array of strings and numbers (the first item
/// of another type names the error).
struct HeaderValues(Result<Vec<String>, &'static str>);

/// A number as `serde_json::Number` prints it.
fn number_text(n: impl Into<serde_json::Number>) -> String {
    n.into().to_string()
}

fn float_text(f: f64) -> String {
    serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string())
}

impl<'de> serde::Deserialize<'de> for HeaderValues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        /// `top`: a value of the object (arrays read), else an array's item.
        struct Values {
            top: bool,
        }
        type Out = Result<Vec<String>, &'static str>;
        impl<'de> Visitor<'de> for Values {
            type Value = Out;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a header value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Out, E> {
                Ok(Ok(vec![v.to_owned()]))
            }
            fn visit_string<E>(self, v: String) -> Result<Out, E> {
                Ok(Ok(vec![v]))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Out, E> {
                Ok(Ok(vec![number_text(v)]))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Out, E> {
                Ok(Ok(vec![number_text(v)]))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Out, E> {
                Ok(Ok(vec![float_text(v)]))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Out, E> {
                Ok(Err("bool"))
            }
            fn visit_unit<E>(self) -> Result<Out, E> {
                Ok(Err("<nil>"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Out, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Err("map[string]interface {}"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Out, A::Error> {
                if !self.top {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Err("[]interface {}"));
                }
                let mut out: Out = Ok(Vec::new());
                while let Some(Item(item)) = seq.next_element()? {
                    match (&mut out, item) {
                        (Ok(values), Ok(mut v)) => values.append(&mut v),
                        (Ok(_), Err(t)) => out = Err(t),
                        (Err(_), _) => {}
                    }
                }
                Ok(out)
            }
        }
        struct Item(Out);
        impl<'de> serde::Deserialize<'de> for Item {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(Values { top: false }).map(Item)
            }
        }
        d.deserialize_any(Values { top: true }).map(HeaderValues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    #[test]
    fn header_keys_are_canonicalised_like_go() {
        assert_eq!(
            canonical_header_key("x-vault-aws-iam-server-id"),
            "X-Vault-Aws-Iam-Server-Id"
        );
        assert_eq!(canonical_header_key("X-AMZ-DATE"), "X-Amz-Date");
        assert_eq!(canonical_header_key("bad key"), "bad key");
        assert_eq!(canonical_header_key("x-1a-B"), "X-1a-B");
        assert!(matches!(
            canonical_header_key("X-Amz-Date"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(canonical_header_key("-x"), Cow::Owned(k) if k == "-X"));
    }

    #[test]
    fn base64_header_objects_keep_serde_json_map_semantics() {
        let b64 = |text: &str| json!(base64::engine::general_purpose::STANDARD.encode(text));
        // A repeated key keeps its first place and its last value, as `serde_json::Map` does.
        let data: Data = [("h".to_owned(), b64(r#"{"b":"1","a":"2","b":["3","4"]}"#))]
            .into_iter()
            .collect();
        let h = headers(&data, "h").unwrap().unwrap();
        assert_eq!(h["B"], vec!["3", "4"]);
        assert_eq!(h["A"], vec!["2"]);
        // Keys differing only in case meet in one canonical key, values in object order.
        let data: Data = [("h".to_owned(), b64(r#"{"x-a":"1","X-A":"2"}"#))]
            .into_iter()
            .collect();
        assert_eq!(headers(&data, "h").unwrap().unwrap()["X-A"], vec!["1", "2"]);
        // A large object, a key repeated far apart: same semantics.
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{i}\":\"{i}\","));
        }
        text.push_str(r#""k3":"last"}"#);
        let data: Data = [("h".to_owned(), b64(&text))].into_iter().collect();
        let h = headers(&data, "h").unwrap().unwrap();
        assert_eq!(h.len(), 40);
        assert_eq!(h["K3"], vec!["last"]);
        assert_eq!(h["K39"], vec!["39"]);
        // JSON that is not an object, and a wrong value type, are refused in the SDK's words;
        // `null` decodes to no headers.
        let data: Data = [("h".to_owned(), b64("null"))].into_iter().collect();
        assert_eq!(headers(&data, "h").unwrap().unwrap(), Headers::new());
        for (text, why) in [
            (
                "[1]",
                "json: cannot unmarshal array into Go value of type map[string]interface {}",
            ),
            (
                "\"s\"",
                "json: cannot unmarshal string into Go value of type map[string]interface {}",
            ),
            (
                "3",
                "json: cannot unmarshal number into Go value of type map[string]interface {}",
            ),
            ("{\"a\":{}}", "unrecognized type for map[]"),
            ("{\"a\":true}", "unrecognized type for %!s(bool=true)"),
            ("{\"a\":null}", "unrecognized type for %!s(<nil>)"),
            (
                "{\"a\":[\"x\",true,2]}",
                "received non-string value for header key:a, val:[x %!s(bool=true) 2]",
            ),
            ("{\"a\":", "unexpected end of JSON input"),
            (
                "x{}",
                "invalid character 'x' looking for beginning of value",
            ),
        ] {
            let data: Data = [("h".to_owned(), b64(text))].into_iter().collect();
            let e = headers(&data, "h").unwrap_err();
            assert_eq!(e.status, 400, "{text}");
            assert!(
                e.errors[0].ends_with(&format!("for field \"h\": {why}")),
                "{text}: {e:?}"
            );
        }
    }

    #[test]
    fn header_lists_split_at_the_first_colon_as_the_sdk_does() {
        let list = |items: Value| -> Result<Headers, String> {
            let data: Data = [("h".to_owned(), items)].into_iter().collect();
            headers(&data, "h")
                .map(Option::unwrap_or_default)
                .map_err(|e| {
                    e.errors[0]
                        .rsplit("\"h\": ")
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
        };
        let h = list(json!(["a: b c ", "x-amz-date:1:2"])).unwrap();
        assert_eq!(h["A"], vec![" b c "]);
        assert_eq!(h["X-Amz-Date"], vec!["1:2"]);
        assert_eq!(
            list(json!(["nocolon"])).unwrap_err(),
            "invalid key pair \"nocolon\""
        );
        assert_eq!(list(json!([":v"])).unwrap_err(), "invalid key pair \":v\"");
        assert_eq!(
            list(json!(["a:b", 5])).unwrap_err(),
            "invalid key pair \"\""
        );
        assert_eq!(list(json!(true)).unwrap_err(), "invalid key pair \"\"");
        // Not base64: the text is the JSON.
        assert_eq!(list(json!("{\"k\":\"v\"}")).unwrap()["K"], vec!["v"]);
    }

    #[test]
    fn base64_header_objects_read_as_the_same_object_given_as_json() {
        // The streaming decoder of base64 objects against the `Value` path of plain objects:
        // the same headers, or the same error.
        let texts = [
            r#"{"x-amz-date":"1","Content-Length":["43"],"n":5,"f":1.5,"e":1e3,"neg":-2,"t":true}"#,
            r#"{"a":["x",2,3.25],"A":"y","a":"z"}"#,
            r#"{"a":null}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":[true]}"#,
            r#"{"a":[null]}"#,
            r#"{"a":[[1]]}"#,
            r#"{"a":[{}],"b":{}}"#,
            r#"{"a":{},"a":"fixed"}"#,
            r#"{"k":"\u00e9\n"}"#,
            r#"{}"#,
        ];
        for text in texts {
            let obj: Value = serde_json::from_str(text).unwrap();
            let plain: Data = [("h".to_owned(), obj)].into_iter().collect();
            let b64 = base64::engine::general_purpose::STANDARD.encode(text);
            let encoded: Data = [("h".to_owned(), json!(b64))].into_iter().collect();
            let raw: Data = [("h".to_owned(), json!(text))].into_iter().collect();
            let msg = |r: Result<Option<Headers>, VaultError>| r.map_err(|e| e.errors);
            let want = msg(headers(&plain, "h"));
            assert_eq!(
                msg(headers(&encoded, "h")).map_err(|_| ()),
                want.clone().map_err(|_| ()),
                "{text}"
            );
            if let Err(e) = &want {
                let got = msg(headers(&encoded, "h")).unwrap_err();
                // The error prints the field's value: the base64 text here, the object there.
                assert_eq!(
                    got[0].rsplit(": ").next(),
                    e[0].rsplit(": ").next(),
                    "{text}"
                );
            } else {
                assert_eq!(msg(headers(&encoded, "h")), want, "{text}");
                assert_eq!(msg(headers(&raw, "h")), want, "{text}");
            }
        }
    }

    #[test]
    fn go_quote_escapes_like_percent_q() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }

    #[test]
    fn headers_take_objects_base64_json_and_k_v_lists() {
        let obj = json!({"x-amz-date": "1", "Content-Length": ["43"], "n": 5});
        let data: Data = [("h".to_owned(), obj.clone())].into_iter().collect();
        let h = headers(&data, "h").unwrap().unwrap();
        assert_eq!(h["X-Amz-Date"], vec!["1"]);
        assert_eq!(h["N"], vec!["5"]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(obj.to_string());
        let data: Data = [("h".to_owned(), json!(b64))].into_iter().collect();
        assert_eq!(headers(&data, "h").unwrap().unwrap(), h);
        let data: Data = [("h".to_owned(), json!(["a:b", "a:c"]))]
            .into_iter()
            .collect();
        assert_eq!(headers(&data, "h").unwrap().unwrap()["A"], vec!["b", "c"]);
        let data: Data = [("h".to_owned(), json!({"a": [1.5, {}]}))]
            .into_iter()
            .collect();
        assert_eq!(headers(&data, "h").unwrap_err().status, 400);
    }
}
