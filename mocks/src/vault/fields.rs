//! Request data as Vault's `sdk/framework` reads it: weakly typed fields (`"ttl": 3600` = `"1h"`,
//! comma strings for lists, `null` = unset), field validation errors, and the list of keys a
//! handler never read (for the "Endpoint ignored these unrecognized parameters" warning).
//!
//! Also the small formats Vault prints: Go durations (`768h0m0s`), RFC 3339 with nanoseconds,
//! CIDR blocks.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::error::VaultError;

/// A request's data (JSON body, form body or query parameters) and which keys were read.
#[derive(Debug, Default)]
pub struct Input {
    /// Shared: a backend that runs after the store's lock is released takes a reference to the
    /// request's fields instead of a copy.
    map: Arc<Map<String, Value>>,
    used: RefCell<BTreeSet<String>>,
    all_used: RefCell<bool>,
    /// A path schema whose keys all count as read ([`Input::shared_with_schema`]).
    schema: RefCell<&'static [&'static str]>,
}

use super::go_fmt::{go_quote, go_quoted_list, go_value};

impl Input {
    pub fn new(map: Map<String, Value>) -> Self {
        Self {
            map: Arc::new(map),
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every key, marking them all as read (a KV write stores whatever it gets).
    pub fn all(&self) -> &Map<String, Value> {
        *self.all_used.borrow_mut() = true;
        &self.map
    }

    /// Every key, shared, marking them all as read (for a backend that runs deferred).
    pub fn all_shared(&self) -> Arc<Map<String, Value>> {
        *self.all_used.borrow_mut() = true;
        self.map.clone()
    }

    /// Every key, shared, marking only `schema`'s as read: the path's other keys are what
    /// core's unrecognized-parameter warning names (for a backend that runs deferred).
    pub fn shared_with_schema(&self, schema: &'static [&'static str]) -> Arc<Map<String, Value>> {
        *self.schema.borrow_mut() = schema;
        self.map.clone()
    }

    /// The value of `key`, `null` included; marks it read.
    pub fn given(&self, key: &str) -> Option<&Value> {
        self.used.borrow_mut().insert(key.to_owned());
        self.map.get(key)
    }

    /// A `TypeStringSlice` field: a list (numbers printed), or a single string as a list of one
    /// (no comma split; `""` is the empty list), each item trimmed.
    pub fn string_slice(&self, key: &str) -> Result<Option<Vec<String>>, VaultError> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let items = match v {
            Value::String(s) if s.is_empty() => return Ok(Some(Vec::new())),
            Value::Object(o) if o.is_empty() => return Ok(Some(Vec::new())),
            Value::Array(a) => weak::strings(a),
            other => weak::strings(std::slice::from_ref(other)),
        };
        items
            .map(|list| Some(list.into_iter().map(|s| s.trim().to_owned()).collect()))
            .map_err(|e| VaultError::field(go_value(v), key, e))
    }

    /// A `TypeKVPairs` field (token `meta`): a JSON object of scalars (weakly printed: `true` is
    /// `"1"`), or a string or list of `k=v` pairs split at the first `=` (`invalid key pair %q`
    /// otherwise: a JSON object inside a string is one such bad pair).
    pub fn kv_pairs(&self, key: &str) -> Result<Option<BTreeMap<String, String>>, VaultError> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let field_err = |e: String| VaultError::field(go_value(v), key, e);
        let items: Vec<String> = match v {
            // A map of scalars decodes as a map; otherwise mapstructure falls back to a list,
            // into which the whole object is lifted as one (failing) item.
            Value::Object(o) if o.values().all(|x| !x.is_object() && !x.is_array()) => {
                let map = o
                    .iter()
                    .map(|(k, x)| (k.clone(), weak::string(x).unwrap_or_default()))
                    .collect();
                return Ok(Some(map));
            }
            Value::Array(a) => weak::strings(a).map_err(field_err)?,
            other => weak::strings(std::slice::from_ref(other)).map_err(field_err)?,
        };
        let mut out = BTreeMap::new();
        for pair in items {
            match pair.split_once('=') {
                Some((k, val)) if !k.is_empty() => {
                    out.insert(k.to_owned(), val.to_owned());
                }
                _ => {
                    return Err(field_err(format!(
                        "invalid key pair {}",
                        super::go_fmt::go_quote(&pair)
                    )))
                }
            }
        }
        Ok(Some(out))
    }

    /// The value of `key` (`null` counts as absent); marks it read.
    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.used.borrow_mut().insert(key.to_owned());
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Keys a handler never looked at, sorted.
    pub fn unrecognized(&self) -> Vec<String> {
        if *self.all_used.borrow() {
            return Vec::new();
        }
        let (used, schema) = (self.used.borrow(), *self.schema.borrow());
        let mut keys: Vec<String> = self
            .map
            .keys()
            .filter(|k| !used.contains(*k) && !schema.contains(&k.as_str()))
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// A `TypeString` field (mapstructure's weak decode: numbers printed, bools `1`/`0`).
    pub fn str(&self, key: &str) -> Result<Option<String>, VaultError> {
        self.weak(key, weak::string)
    }

    /// A string, `""` when absent.
    pub fn string(&self, key: &str) -> Result<String, VaultError> {
        Ok(self.str(key)?.unwrap_or_default())
    }

    /// A `TypeBool` field (`strconv.ParseBool` of strings and numbers, `""` is false).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, VaultError> {
        self.weak(key, weak::bool)
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, VaultError> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    /// A `TypeInt` field (`strconv.ParseInt` with base prefixes, `""` is 0).
    pub fn int(&self, key: &str) -> Result<Option<i64>, VaultError> {
        self.weak(key, weak::int)
    }

    fn weak<T>(
        &self,
        key: &str,
        decode: fn(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, VaultError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => decode(v)
                .map(Some)
                .map_err(|e| VaultError::field(go_value(v), key, e)),
        }
    }

    /// A `TypeDurationSecond` field in seconds: a negative value fails the field validation
    /// (`cannot provide negative value '-5'`).
    pub fn duration(&self, key: &str) -> Result<Option<i64>, VaultError> {
        match self.signed_duration(key)? {
            Some(n) if n < 0 => Err(VaultError::field(
                go_value(self.raw(key).unwrap_or(&Value::Null)),
                key,
                format!("cannot provide negative value '{n}'"),
            )),
            d => Ok(d),
        }
    }

    /// A `TypeSignedDurationSecond` field in seconds (KV's `delete_version_after`).
    pub fn signed_duration(&self, key: &str) -> Result<Option<i64>, VaultError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_duration_value(v)
                .map(Some)
                .map_err(|e| VaultError::field(go_value(v), key, e)),
        }
    }

    /// A list of strings: a JSON array or a comma-separated string (trimmed, empties dropped).
    pub fn str_list(&self, key: &str) -> Result<Option<Vec<String>>, VaultError> {
        // parseutil.ParseCommaStringSlice: a string (or number) split at commas; a list decoded
        // item by item, not split; anything else lifted into a list of one.
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let items = match v {
            Value::String(s) => return Ok(Some(comma_list(s))),
            Value::Number(n) => return Ok(Some(comma_list(&n.to_string()))),
            Value::Object(o) if o.is_empty() => return Ok(Some(Vec::new())),
            Value::Array(a) => weak::strings(a),
            other => weak::strings(std::slice::from_ref(other)),
        };
        items
            .map(|list| {
                Some(
                    list.into_iter()
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            })
            .map_err(|e| VaultError::field(go_value(v), key, e))
    }

    /// A string → string map (`meta`, `custom_metadata`); also accepts a JSON string of one.
    pub fn str_map(&self, key: &str) -> Result<Option<BTreeMap<String, String>>, VaultError> {
        let v = match self.raw(key) {
            None => return Ok(None),
            Some(v) => v,
        };
        let obj = match v {
            Value::Object(o) => o.clone(),
            Value::String(s) if s.is_empty() => return Ok(Some(BTreeMap::new())),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(o)) => o,
                _ => return Err(VaultError::field(s, key, "'' expected a map, got 'string'")),
            },
            other => {
                return Err(VaultError::field(
                    go_value(other),
                    key,
                    format!("'' expected a map, got '{}'", go_type(other)),
                ))
            }
        };
        let mut out = BTreeMap::new();
        for (k, v) in obj {
            out.insert(k, go_value(&v));
        }
        Ok(Some(out))
    }
}

/// mapstructure v1.5.0's `WeakDecode` (what the framework's `TypeString`, `TypeBool` and `TypeInt`
/// use) of a request value. Vault decodes request bodies with `UseNumber`, so a number arrives
/// as `json.Number`, a string kind: it takes the string paths. Each error is mapstructure's text.
pub mod weak {
    use serde_json::Value;

    use super::{go_type, parse_bool};
    use crate::vault::go_fmt::{go_quote, go_value};

    /// `'' expected type 'T', got unconvertible type 'U', value: 'V'`.
    pub fn unconvertible(expected: &str, v: &Value) -> String {
        named_unconvertible("", expected, v)
    }

    fn named_unconvertible(name: &str, expected: &str, v: &Value) -> String {
        format!(
            "'{name}' expected type '{expected}', got unconvertible type '{}', value: '{}'",
            go_type(v),
            go_value(v)
        )
    }

    /// The items of a JSON list decoded into `[]string`: each as [`string`], the failures
    /// gathered as mapstructure's `Error` (`1 error(s) decoding:\n\n* '[1]' expected type …`).
    pub fn strings(items: &[Value]) -> Result<Vec<String>, String> {
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::Array(_) | Value::Object(_) => errors.push(format!(
                    "* {}",
                    named_unconvertible(&format!("[{i}]"), "string", item)
                )),
                _ => out.push(string(item).unwrap_or_default()),
            }
        }
        if errors.is_empty() {
            return Ok(out);
        }
        errors.sort();
        Err(format!(
            "{} error(s) decoding:\n\n{}",
            errors.len(),
            errors.join("\n")
        ))
    }

    fn text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn string(v: &Value) -> Result<String, String> {
        match v {
            Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_owned()),
            Value::Null => Ok(String::new()),
            _ => text(v).ok_or_else(|| unconvertible("string", v)),
        }
    }

    pub fn bool(v: &Value) -> Result<bool, String> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(false),
            _ => match text(v) {
                Some(s) if s.is_empty() => Ok(false),
                Some(s) => parse_bool(&s).ok_or_else(|| {
                    format!(
                        "cannot parse '' as bool: strconv.ParseBool: parsing {}: invalid syntax",
                        go_quote(&s)
                    )
                }),
                None => Err(unconvertible("bool", v)),
            },
        }
    }

    pub fn int(v: &Value) -> Result<i64, String> {
        match v {
            Value::Bool(b) => Ok(i64::from(*b)),
            Value::Null => Ok(0),
            _ => match text(v) {
                Some(s) if s.is_empty() => Ok(0),
                Some(s) => go_parse_int(&s).map_err(|why| {
                    format!(
                        "cannot parse '' as int: strconv.ParseInt: parsing {}: {why}",
                        go_quote(&s)
                    )
                }),
                None => Err(unconvertible("int", v)),
            },
        }
    }

    /// `strconv.ParseInt(s, 0, 64)`: a sign, then `0x`, `0o`, `0b` or a leading `0` (octal)
    /// choose the base; `_` may sit between digits.
    pub fn go_parse_int(s: &str) -> Result<i64, &'static str> {
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let lower = body.to_ascii_lowercase();
        let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
            (16, d.to_owned(), true)
        } else if let Some(d) = lower.strip_prefix("0o") {
            (8, d.to_owned(), true)
        } else if let Some(d) = lower.strip_prefix("0b") {
            (2, d.to_owned(), true)
        } else if lower.len() > 1 && lower.starts_with('0') {
            (8, lower[1..].to_owned(), true)
        } else {
            (10, lower.clone(), false)
        };
        // Underscores only between digits (or right after a base prefix).
        let bytes = digits.as_bytes();
        let underscores_ok = bytes.iter().enumerate().all(|(i, &c)| {
            c != b'_'
                || ((i > 0 || prefixed)
                    && i + 1 < bytes.len()
                    && bytes[i + 1] != b'_'
                    && (i == 0 || bytes[i - 1] != b'_'))
        });
        let clean: String = digits.chars().filter(|c| *c != '_').collect();
        if clean.is_empty() || !underscores_ok || !clean.chars().all(|c| c.is_digit(radix)) {
            return Err("invalid syntax");
        }
        let magnitude = u64::from_str_radix(&clean, radix).map_err(|_| "value out of range")?;
        if neg {
            if magnitude > i64::MAX as u64 + 1 {
                return Err("value out of range");
            }
            Ok((magnitude as i64).wrapping_neg())
        } else {
            i64::try_from(magnitude).map_err(|_| "value out of range")
        }
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Splits `a, b,,c` into `["a","b","c"]`.
pub fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `parseutil.ParseDurationSecond`: a number is seconds; a string is seconds or a Go duration
/// (with a `d` suffix for days).
pub fn parse_duration_value(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| format!("time: invalid duration \"{n}\"")),
        Value::String(s) => parse_duration_str(s),
        other => Err(format!("time: invalid duration \"{other}\"")),
    }
}

pub fn parse_duration_str(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let err = || format!("time: invalid duration {s:?}");
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut total = 0f64;
    if bytes.is_empty() {
        return Err(err());
    }
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            return Err(err());
        }
        let num: f64 = body[start..i].parse().map_err(|_| err())?;
        let ustart = i;
        while i < bytes.len() && !(bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let unit = match &body[ustart..i] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        total += num * unit;
    }
    let secs = total.floor() as i64;
    Ok(if neg { -secs } else { secs })
}

/// `framework`'s `humanDuration`: Go's duration text without zero minutes and seconds
/// (`1000h`, `1h30m`, `1h5s`, `1m30s`).
pub fn human_duration(secs: i64) -> String {
    let mut s = go_duration(secs);
    if s.ends_with("m0s") {
        s.truncate(s.len() - 2);
    }
    if let Some(i) = s.find("h0m").filter(|i| *i > 0) {
        s.replace_range(i + 1..i + 3, "");
    }
    s
}

/// Go's `time.Duration.String()` for whole seconds: `768h0m0s`, `1m30s`, `45s`, `0s`.
pub fn go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{sign}{m}m{sec}s")
    } else {
        format!("{sign}{sec}s")
    }
}

/// RFC 3339 with nanoseconds as Go's `time.RFC3339Nano` prints in UTC (trailing zeros dropped).
pub fn rfc3339_nano(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Seconds since the epoch.
pub fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// `t + secs` (secs may be negative).
pub fn add_secs(t: SystemTime, secs: i64) -> SystemTime {
    // Kept within years 1–9999 (what RFC 3339 and the date library print): a duration given
    // in billions of seconds saturates instead of overflowing.
    const MAX: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    const MIN: u64 = 62_135_596_800; // 0001-01-01T00:00:00Z, before the epoch
    let d = Duration::from_secs(secs.unsigned_abs());
    let moved = if secs >= 0 {
        t.checked_add(d)
    } else {
        t.checked_sub(d)
    };
    let latest = UNIX_EPOCH + Duration::from_secs(MAX);
    let earliest = UNIX_EPOCH - Duration::from_secs(MIN);
    match moved {
        Some(m) if m > latest => latest,
        Some(m) if m < earliest => earliest,
        Some(m) => m,
        None if secs >= 0 => latest,
        None => earliest,
    }
}

/// Whole seconds from `now` until `t` (negative when past).
pub fn secs_until(now: SystemTime, t: SystemTime) -> i64 {
    match t.duration_since(now) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    }
}

/// A CIDR block (`10.0.0.0/8`, `127.0.0.1`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { addr, prefix })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses every block, or `None` if one is invalid.
pub fn parse_cidrs(list: &[String]) -> Option<Vec<Cidr>> {
    list.iter().map(|s| Cidr::parse(s)).collect()
}

/// Go's `base64.StdEncoding.DecodeString`: line breaks (`\r`, `\n`) are skipped, as in the
/// wrapped output of `base64`; nothing else is.
pub fn go_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    if s.contains(['\r', '\n']) {
        let clean: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        engine.decode(clean)
    } else {
        engine.decode(s)
    }
}

/// Go's `mime.ParseMediaType`, as far as Vault's PATCH handling needs it: the lower-cased media
/// type, or the error text (`mime: no media type`, `mime: expected slash after first token`,
/// `mime: expected token after slash`, `mime: unexpected content after media subtype`,
/// `mime: invalid media parameter`).
pub fn parse_media_type(v: &str) -> Result<String, String> {
    let token =
        |c: char| c.is_ascii() && !c.is_ascii_control() && !" ()<>@,;:\\\"/[]?=".contains(c);
    let base = v.split_once(';').map_or(v, |(b, _)| b);
    let media = base.trim().to_ascii_lowercase();
    let typ_len = media.find(|c: char| !token(c)).unwrap_or(media.len());
    if typ_len == 0 {
        return Err("mime: no media type".into());
    }
    let rest = &media[typ_len..];
    if !rest.is_empty() {
        let Some(sub) = rest.strip_prefix('/') else {
            return Err("mime: expected slash after first token".into());
        };
        let sub_len = sub.find(|c: char| !token(c)).unwrap_or(sub.len());
        if sub_len == 0 {
            return Err("mime: expected token after slash".into());
        }
        if sub_len != sub.len() {
            return Err("mime: unexpected content after media subtype".into());
        }
    }
    // consumeMediaParam, repeated: `; name = value` with a token or a quoted string as value;
    // a trailing `;` is allowed, a name twice is not.
    let mut rest = &v[base.len()..];
    let mut seen = BTreeSet::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some(after) = rest.strip_prefix(';') else {
            return Err("mime: invalid media parameter".into());
        };
        let after = after.trim_start();
        let name_len = after.find(|c: char| !token(c)).unwrap_or(after.len());
        if name_len == 0 {
            if after.trim().is_empty() {
                break; // a trailing semicolon
            }
            return Err("mime: invalid media parameter".into());
        }
        let name = after[..name_len].to_ascii_lowercase();
        let Some(value) = after[name_len..].trim_start().strip_prefix('=') else {
            return Err("mime: invalid media parameter".into());
        };
        let value = value.trim_start();
        let consumed = if let Some(q) = value.strip_prefix('"') {
            // A quoted string, `\\` escaping the next character.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in q.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            match end {
                Some(e) => 1 + e + 1,
                None => return Err("mime: invalid media parameter".into()),
            }
        } else {
            let n = value.find(|c: char| !token(c)).unwrap_or(value.len());
            if n == 0 {
                return Err("mime: invalid media parameter".into());
            }
            n
        };
        if !seen.insert(name) {
            return Err("mime: duplicate parameter name".into());
        }
        rest = &value[consumed..];
    }
    Ok(media)
}

/// The sdk's `authmetadata.ParseAuthMetadata` over a field list given as `list`: lower-cased,
/// deduplicated and sorted; `default` alone is `None` (the defaults, in their own order);
/// `default` beside others, or a name outside `defaults` + `available`, is refused with the
/// sdk's text.
pub fn auth_metadata(
    list: &[String],
    defaults: &[&str],
    available: &[&str],
) -> Result<Option<Vec<String>>, String> {
    let list = remove_duplicates(list, true);
    if list == ["default"] {
        return Ok(None);
    }
    if list.iter().any(|f| f == "default") {
        return Err(format!(
            "{} contains default - default can't be used in combination with other fields",
            go_quoted_list(&list)
        ));
    }
    let all: Vec<&str> = defaults.iter().chain(available).copied().collect();
    if !list.iter().all(|f| all.contains(&f.as_str())) {
        return Err(format!(
            "{} contains an unavailable field, please select from {}",
            go_quote(&list.join(", ")),
            go_quote(&all.join(", "))
        ));
    }
    Ok(Some(list))
}

/// `strutil.RemoveDuplicates`: trimmed, without empties, lower-cased when `lowercase`, sorted,
/// each once.
pub fn remove_duplicates(items: &[String], lowercase: bool) -> Vec<String> {
    let set: BTreeSet<String> = items
        .iter()
        .map(|i| i.trim())
        .filter(|i| !i.is_empty())
        .map(|i| {
            if lowercase {
                i.to_lowercase()
            } else {
                i.to_owned()
            }
        })
        .collect();
    set.into_iter().collect()
}

/// `framework.GenericNameRegex` (`\w(([\w-.]+)?\w)?`, anchored, ASCII): the names of roles and
/// users in Vault's paths.
pub fn generic_name(s: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = s.as_bytes();
    match b {
        [] => false,
        [c] => word(*c),
        [first, mid @ .., last] => {
            word(*first) && word(*last) && mid.iter().all(|&c| word(c) || c == b'-' || c == b'.')
        }
    }
}

/// `parseutil.ParseAddrs`' error for one address, `None` when go-sockaddr's `NewSockAddr` takes
/// it: an IP, an IP with a prefix, an IPv4 `ip:port`, or anything it reads as a UNIX socket path
/// (longer than one byte, starting with `.` or `/` or holding a `/`: `10.0.0.0/33` is accepted as
/// a path, as in Vault). Host names with a port, which Go would resolve, are refused here.
pub fn sockaddr_error(a: &str) -> Option<String> {
    let ok = Cidr::parse(a).is_some()
        || a.parse::<std::net::SocketAddrV4>().is_ok()
        || a.parse::<std::net::SocketAddrV6>().is_ok()
        || (a.len() > 1 && (a.starts_with(['.', '/']) || a.contains('/')));
    let q = super::go_fmt::go_quote(a);
    (!ok).then(|| {
        format!("error parsing address {q}: Unable to convert {q} to an IPv4 or IPv6 address, or a UNIX Socket")
    })
}

/// True when `list` is empty or one of its blocks holds `ip`.
pub fn cidrs_allow(list: &[String], ip: IpAddr) -> bool {
    list.is_empty()
        || list
            .iter()
            .filter_map(|s| Cidr::parse(s))
            .any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn weak_decoding_follows_mapstructure_1_5() {
        let input = Input::new(
            json!({
                "t": true, "n": 5, "s": "x", "l": ["a"], "m": {"a": 1},
                "hex": "0x1f", "oct": "017", "us": "1_000", "big": "9223372036854775808",
                "f": 1.5, "e": "", "one": 1, "two": 2,
                "cl": "a, b,c", "items": ["a,b", 7, true, {"k": "v"}, ["z"]],
            })
            .as_object()
            .unwrap()
            .clone(),
        );
        fn e<T: std::fmt::Debug>(r: Result<T, VaultError>) -> String {
            r.unwrap_err().message.unwrap()
        }
        assert_eq!(input.str("t").unwrap().as_deref(), Some("1"));
        assert_eq!(input.str("n").unwrap().as_deref(), Some("5"));
        assert_eq!(
            e(input.str("m")),
            "Field validation failed: error converting input map[a:1] for field \"m\": '' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[a:1]'"
        );
        assert_eq!(input.bool("one").unwrap(), Some(true));
        assert_eq!(input.bool("e").unwrap(), Some(false));
        assert_eq!(
            e(input.bool("two")),
            "Field validation failed: error converting input 2 for field \"two\": cannot parse '' as bool: strconv.ParseBool: parsing \"2\": invalid syntax"
        );
        assert_eq!(
            e(input.bool("l")),
            "Field validation failed: error converting input [a] for field \"l\": '' expected type 'bool', got unconvertible type '[]interface {}', value: '[a]'"
        );
        let ints: Vec<_> = ["hex", "oct", "us", "e", "t"]
            .iter()
            .map(|k| input.int(k).unwrap().unwrap())
            .collect();
        assert_eq!(ints, [31, 15, 1000, 0, 1]);
        assert_eq!(
            e(input.int("f")),
            "Field validation failed: error converting input 1.5 for field \"f\": cannot parse '' as int: strconv.ParseInt: parsing \"1.5\": invalid syntax"
        );
        assert_eq!(
            e(input.int("big")),
            "Field validation failed: error converting input 9223372036854775808 for field \"big\": cannot parse '' as int: strconv.ParseInt: parsing \"9223372036854775808\": value out of range"
        );
        assert_eq!(input.str_list("cl").unwrap().unwrap(), ["a", "b", "c"]);
        assert_eq!(
            e(input.str_list("items")),
            "Field validation failed: error converting input [a,b 7 true map[k:v] [z]] for field \"items\": 2 error(s) decoding:\n\n* '[3]' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[k:v]'\n* '[4]' expected type 'string', got unconvertible type '[]interface {}', value: '[z]'"
        );
    }

    #[test]
    fn media_types_parse_as_gos_mime_package() {
        let ok = |s: &str| parse_media_type(s).unwrap();
        let err = |s: &str| parse_media_type(s).unwrap_err();
        assert_eq!(
            ok("Application/Merge-Patch+JSON"),
            "application/merge-patch+json"
        );
        assert_eq!(ok("a/b; charset = utf-8"), "a/b");
        assert_eq!(ok("a/b; x=\"p;q\"; y=z;"), "a/b");
        assert_eq!(err(""), "mime: no media type");
        assert_eq!(err("a/b; x"), "mime: invalid media parameter");
        assert_eq!(err("a/b; x=1; X=2"), "mime: duplicate parameter name");
        assert_eq!(err("a/b; x=\"open"), "mime: invalid media parameter");
        assert_eq!(err("a/b;; x=1"), "mime: invalid media parameter");
    }

    #[test]
    fn huge_durations_saturate_instead_of_overflowing() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339_nano(add_secs(t, i64::MAX)), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339_nano(add_secs(t, i64::MIN)), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn human_durations_drop_zero_units_as_frameworks() {
        let h = |s| human_duration(s);
        assert_eq!(
            [h(3_600_000), h(5400), h(3605), h(90), h(2400), h(0), h(45)],
            ["1000h", "1h30m", "1h5s", "1m30s", "40m", "0s", "45s"]
        );
    }

    #[test]
    fn durations_are_weakly_typed_like_parseutil() {
        assert_eq!(parse_duration_value(&json!(3600)), Ok(3600));
        assert_eq!(parse_duration_value(&json!("3600")), Ok(3600));
        assert_eq!(parse_duration_value(&json!("1h")), Ok(3600));
        assert_eq!(parse_duration_value(&json!("1h30m")), Ok(5400));
        assert_eq!(parse_duration_value(&json!("2d")), Ok(172800));
        assert_eq!(
            parse_duration_value(&json!("abc")),
            Err("time: invalid duration \"abc\"".into())
        );
    }

    #[test]
    fn go_durations_print_like_go() {
        assert_eq!(go_duration(2764800), "768h0m0s");
        assert_eq!(go_duration(3_600_000), "1000h0m0s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(0), "0s");
    }

    #[test]
    fn rfc3339_nano_drops_trailing_zeros() {
        let t = UNIX_EPOCH + Duration::new(1_521_686_203, 986_212_000);
        assert_eq!(rfc3339_nano(t), "2018-03-22T02:36:43.986212Z");
        assert_eq!(
            rfc3339_nano(UNIX_EPOCH + Duration::from_secs(1_521_686_203)),
            "2018-03-22T02:36:43Z"
        );
    }

    #[test]
    fn cidrs_match_v4_and_v6() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.1.2.3".parse().unwrap()));
        assert!(Cidr::parse("127.0.0.1")
            .unwrap()
            .contains("127.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nope").is_none());
    }

    #[test]
    fn unread_keys_are_reported_sorted() {
        let input = Input::new(
            json!({"b": 1, "a": 2, "ttl": "1h"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(input.duration("ttl").unwrap(), Some(3600));
        assert_eq!(input.unrecognized(), vec!["a", "b"]);
    }
}
