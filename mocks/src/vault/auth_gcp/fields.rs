//! Vault's weakly typed request fields (`sdk/framework` `FieldData`), as the GCP auth paths use
//! them: strings, booleans, integers, durations in seconds, comma-string lists and key-value
//! pairs. A JSON `null` counts as "not given". Conversion failures are answered as the framework
//! does: 400 `Field validation failed: error converting input <v> for field "<name>": <err>`
//! (reference vault-core.md 1.1).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::bad_request;
use crate::vault::backend::VaultError;
use crate::vault::fields::weak;

/// Go's `%v` of a `[]string`: `[a b]`.
pub(crate) fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

pub(crate) use crate::vault::go_fmt::{go_quote, go_quoted_list, go_value};

/// Read access to a request's data with the framework's conversions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    data: &'a Map<String, Value>,
}

fn conversion_error(name: &str, v: &Value, err: &str) -> VaultError {
    bad_request(format!(
        "Field validation failed: error converting input {} for field {}: {err}",
        go_value(v),
        go_quote(name)
    ))
}

impl<'a> Fields<'a> {
    pub(crate) fn new(data: &'a Map<String, Value>) -> Self {
        Self { data }
    }

    /// The raw value, `None` when absent or `null`.
    pub(crate) fn raw(&self, name: &str) -> Option<&'a Value> {
        self.data.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// `TypeString` (mapstructure v1.5.0's weak decode, as the plugin's SDK has it).
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, VaultError> {
        self.weak(name, weak::string)
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, VaultError> {
        self.weak(name, weak::bool)
    }

    fn weak<T>(
        &self,
        name: &str,
        decode: fn(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, VaultError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => decode(v)
                .map(Some)
                .map_err(|e| conversion_error(name, v, &e)),
        }
    }

    /// `TypeDurationSecond`: an integer number of seconds or a Go duration string (`15m`).
    pub(crate) fn duration_secs(&self, name: &str) -> Result<Option<i64>, VaultError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let parsed = match v {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) if s.trim().is_empty() => Some(0),
            Value::String(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .ok()
                    .or_else(|| crate::clock::parse_duration(s).map(|d| d.as_secs() as i64))
            }
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            // UNVERIFIED: parseutil's wording for an unparsable duration.
            conversion_error(
                name,
                v,
                &format!("time: invalid duration {}", go_quote(&go_value(v))),
            )
        })
    }

    /// `TypeCommaStringSlice`: a JSON list, or one string split at commas; items trimmed, empty
    /// items dropped.
    pub(crate) fn string_list(&self, name: &str) -> Result<Option<Vec<String>>, VaultError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let items: Vec<String> = match v {
            Value::String(s) => s.split(',').map(str::to_owned).collect(),
            Value::Number(n) => vec![n.to_string()],
            Value::Array(a) => {
                let mut out = Vec::new();
                for item in a {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        Value::Number(n) => out.push(n.to_string()),
                        Value::Bool(b) => out.push(b.to_string()),
                        _ => {
                            return Err(conversion_error(
                                name,
                                v,
                                "'' expected type 'string', got unconvertible type 'map[string]interface {}'",
                            ))
                        }
                    }
                }
                out
            }
            _ => {
                return Err(conversion_error(
                    name,
                    v,
                    &format!(
                        "'' expected type 'string', got unconvertible type '{}'",
                        go_type(v)
                    ),
                ))
            }
        };
        Ok(Some(
            items
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        ))
    }

    /// `TypeKVPairs`: a JSON object of strings, or a list of `k=v` strings (the CLI form).
    pub(crate) fn kv_pairs(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, VaultError> {
        // The core's `TypeKVPairs` decoder: a map, or `k=v` strings (a single string is one
        // pair, not split at commas, as mapstructure lifts it into a list of one).
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let one = Map::from_iter([(name.to_owned(), v.clone())]);
        Ok(crate::vault::fields::Input::new(one).kv_pairs(name)?)
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn vault_fields_are_weakly_typed_like_the_framework() {
        let data = map(json!({
            "s": 42, "b": "true", "d": "15m", "d2": 60, "l": "a, b,,c",
            "l2": ["x", 1], "kv": ["api=http://h", "iam=http://i"], "n": null
        }));
        let f = Fields::new(&data);
        assert_eq!(f.string("s").unwrap().as_deref(), Some("42"));
        assert_eq!(f.bool("b").unwrap(), Some(true));
        assert_eq!(f.duration_secs("d").unwrap(), Some(900));
        assert_eq!(f.duration_secs("d2").unwrap(), Some(60));
        assert_eq!(
            f.string_list("l").unwrap().unwrap(),
            vec!["a".to_owned(), "b".into(), "c".into()]
        );
        assert_eq!(
            f.string_list("l2").unwrap().unwrap(),
            vec!["x".to_owned(), "1".into()]
        );
        let kv = f.kv_pairs("kv").unwrap().unwrap();
        assert_eq!(kv["api"], "http://h");
        assert_eq!(f.string("n").unwrap(), None);
        assert_eq!(f.string("missing").unwrap(), None);
    }

    #[test]
    fn vault_field_conversion_errors_name_the_field_and_input() {
        let data = map(json!({ "b": "maybe" }));
        let e = Fields::new(&data).bool("b").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.errors,
            vec![
                "Field validation failed: error converting input maybe for field \"b\": cannot parse '' as bool: strconv.ParseBool: parsing \"maybe\": invalid syntax"
                    .to_owned()
            ]
        );
    }
}
