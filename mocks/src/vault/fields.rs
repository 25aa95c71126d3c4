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
}

/// Go's `%v` of a JSON value, for field validation messages.
fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

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

    /// The value of `key`, `null` included; marks it read.
    pub fn given(&self, key: &str) -> Option<&Value> {
        self.used.borrow_mut().insert(key.to_owned());
        self.map.get(key)
    }

    /// A `TypeStringSlice` field: a list (numbers printed), or a single string as a list of one
    /// (no comma split; `""` is the empty list), each item trimmed.
    pub fn string_slice(&self, key: &str) -> Result<Option<Vec<String>>, VaultError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(Value::String(s)) => Ok(Some(vec![s.trim().to_owned()])),
            Some(Value::Array(a)) => a
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.trim().to_owned()),
                    Value::Number(n) => Ok(n.to_string()),
                    Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_owned()),
                    other => Err(VaultError::field(
                        go_value(&Value::Array(a.clone())),
                        key,
                        format!(
                            "'' expected type 'string', got unconvertible type '{}'",
                            go_type(other)
                        ),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Ok(Some(vec![go_value(other)])),
        }
    }

    /// A `TypeKVPairs` field (token `meta`): a JSON object of scalars (weakly printed: `true` is
    /// `"1"`), or a string or list of `k=v` pairs split at the first `=` (`invalid key pair %q`
    /// otherwise: a JSON object inside a string is one such bad pair).
    pub fn kv_pairs(&self, key: &str) -> Result<Option<BTreeMap<String, String>>, VaultError> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let weak = |x: &Value| match x {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
            Value::Number(n) => Some(n.to_string()),
            Value::Null => Some(String::new()),
            _ => None,
        };
        let field_err = |e: String| VaultError::field(go_value(v), key, e);
        let items: Vec<String> = match v {
            Value::Object(o) => {
                let mut out = BTreeMap::new();
                for (k, x) in o {
                    let s = weak(x).ok_or_else(|| {
                        field_err(format!(
                            "'[0]' expected type 'string', got unconvertible type '{}', value: '{}'",
                            go_type(v),
                            go_value(v)
                        ))
                    })?;
                    out.insert(k.clone(), s);
                }
                return Ok(Some(out));
            }
            Value::Array(a) => a
                .iter()
                .map(|x| {
                    weak(x).ok_or_else(|| {
                        field_err(format!(
                            "'[0]' expected type 'string', got unconvertible type '{}', value: '{}'",
                            go_type(x),
                            go_value(x)
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
            other => vec![weak(other).unwrap_or_default()],
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
        let used = self.used.borrow();
        let mut keys: Vec<String> = self
            .map
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    pub fn str(&self, key: &str) -> Result<Option<String>, VaultError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(v) => Err(VaultError::field(
                go_value(v),
                key,
                format!(
                    "'' expected type 'string', got unconvertible type '{}'",
                    go_type(v)
                ),
            )),
        }
    }

    /// A string, `""` when absent.
    pub fn string(&self, key: &str) -> Result<String, VaultError> {
        Ok(self.str(key)?.unwrap_or_default())
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, VaultError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => parse_bool(s).map(Some).ok_or_else(|| {
                VaultError::field(
                    s,
                    key,
                    format!("strconv.ParseBool: parsing {s:?}: invalid syntax"),
                )
            }),
            Some(Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
            Some(v) => Err(VaultError::field(
                go_value(v),
                key,
                format!(
                    "'' expected type 'bool', got unconvertible type '{}'",
                    go_type(v)
                ),
            )),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, VaultError> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, VaultError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 => Ok(Some(f as i64)),
                    _ => Err(VaultError::field(
                        n,
                        key,
                        format!("strconv.ParseInt: parsing \"{n}\": invalid syntax"),
                    )),
                },
            },
            Some(Value::String(s)) if s.is_empty() => Ok(Some(0)),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                VaultError::field(
                    s,
                    key,
                    format!("strconv.ParseInt: parsing {s:?}: invalid syntax"),
                )
            }),
            Some(v) => Err(VaultError::field(
                go_value(v),
                key,
                format!(
                    "'' expected type 'int', got unconvertible type '{}'",
                    go_type(v)
                ),
            )),
        }
    }

    /// A duration in seconds (`3600`, `"3600"`, `"1h"`, `"90m"`, `"2d"`).
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
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(comma_list(s))),
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for item in a {
                    match item {
                        Value::String(s) => out.extend(comma_list(s)),
                        Value::Number(n) => out.push(n.to_string()),
                        other => {
                            return Err(VaultError::field(
                                go_value(&Value::Array(a.clone())),
                                key,
                                format!(
                                    "'' expected type 'string', got unconvertible type '{}'",
                                    go_type(other)
                                ),
                            ))
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(VaultError::field(
                go_value(v),
                key,
                format!(
                    "'' expected type '[]string', got unconvertible type '{}'",
                    go_type(v)
                ),
            )),
        }
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
    if secs >= 0 {
        t + Duration::from_secs(secs as u64)
    } else {
        t - Duration::from_secs(secs.unsigned_abs())
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
