//! The request journal: every request each listener received, secrets redacted (invariant 5).
//!
//! Scenarios assert on it ("two STS calls, each carrying the server-ID header"), and the admin API
//! serves it at `GET /__authsim/journal`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use http::{HeaderMap, Method, Uri};

use crate::clock::rfc3339;

/// Names whose values never reach the journal.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-vault-token",
    "x-amz-security-token",
    "x-aws-ec2-metadata-token",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];
const SECRET_FIELDS: &[&str] = &[
    "assertion",
    "jwt",
    "signedjwt",
    "signed_jwt",
    "token",
    "access_token",
    "accesstoken",
    "id_token",
    "client_token",
    "client_secret",
    "secret_id",
    "password",
    "private_key",
    "privatekeydata",
    "secretaccesskey",
    "sessiontoken",
    "x-amz-signature",
    "x-amz-security-token",
    "iam_request_headers",
    "signature",
    "pkcs7",
    "credentials",
    // Vault requests: `auth/aws/config/client`, `sys/unseal`, LDAP's bind password, a custom
    // token id on `auth/token/create`.
    "secret_key",
    "key",
    "bindpass",
    "id",
];
pub const REDACTED: &str = "<redacted>";
const MAX_BODY: usize = 8 * 1024;
const MAX_ENTRIES: usize = 10_000;

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    /// `google`, `aws` or `vault`.
    pub listener: &'static str,
    /// RFC 3339, from the simulation clock.
    pub at: String,
    pub method: String,
    pub path: String,
    /// Raw query, secret parameters redacted.
    pub query: String,
    /// Header name (lowercase) and value, secrets redacted, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy), secrets redacted, cut at 8 KiB.
    pub body: String,
    pub status: u16,
    pub duration_micros: u64,
}

impl Entry {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request as the listener received it, copied into two compact buffers: its head (path,
/// query and headers) and at most 8 KiB of its body. Redaction happens only when the journal is
/// read, so recording costs two copies on the hot path. Copies, not shared slices: hyper hands
/// out header values and small bodies as slices of its connection read buffer, and holding those
/// for 10 000 entries would keep that many whole buffers alive.
#[derive(Clone)]
pub struct Raw {
    pub listener: &'static str,
    pub at: SystemTime,
    pub method: Method,
    /// `path[?query]`, then one `name: value` line per header, in the order received.
    head: Box<[u8]>,
    /// Where the request target ends in `head`.
    target_len: usize,
    body: Box<[u8]>,
    pub status: u16,
    pub duration_micros: u64,
}

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the redacted view is ever printed.
        f.debug_struct("Raw")
            .field("method", &self.method)
            .field("path", &self.target().0)
            .finish_non_exhaustive()
    }
}

impl Raw {
    /// Captures a request (the body cut at 8 KiB).
    pub fn new(
        listener: &'static str,
        at: SystemTime,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Raw {
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let len = target.len()
            + headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 3)
                .sum::<usize>();
        let mut head = Vec::with_capacity(len);
        head.extend_from_slice(target.as_bytes());
        for (n, v) in headers {
            head.push(b'\n');
            head.extend_from_slice(n.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(v.as_bytes());
        }
        Raw {
            listener,
            at,
            method: method.clone(),
            head: head.into_boxed_slice(),
            target_len: target.len(),
            body: body[..body.len().min(MAX_BODY)].into(),
            status: 0,
            duration_micros: 0,
        }
    }

    /// The answer's status and how long it took.
    pub fn answered(mut self, status: u16, duration_micros: u64) -> Raw {
        self.status = status;
        self.duration_micros = duration_micros;
        self
    }

    /// Path and raw query.
    fn target(&self) -> (&str, Option<&str>) {
        // Both came from a `Uri`, which is ASCII.
        let t = std::str::from_utf8(&self.head[..self.target_len]).unwrap_or("/");
        match t.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (t, None),
        }
    }

    /// Header names and values as received.
    fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head[self.target_len..]
            .split(|b| *b == b'\n')
            .skip(1)
            .filter_map(|line| {
                let at = line.windows(2).position(|w| w == b": ")?;
                // Header names are ASCII.
                Some((std::str::from_utf8(&line[..at]).ok()?, &line[at + 2..]))
            })
    }

    /// The redacted view.
    fn entry(&self, seq: u64) -> Entry {
        let headers = self
            .headers()
            .map(|(n, v)| {
                let value = if is_secret_header(n) {
                    REDACTED.to_owned()
                } else {
                    String::from_utf8_lossy(v).into_owned()
                };
                (n.to_owned(), value)
            })
            .collect();
        let content_type = self
            .headers()
            .find(|(n, _)| *n == "content-type")
            .and_then(|(_, v)| std::str::from_utf8(v).ok());
        let (path, query) = self.target();
        Entry {
            seq,
            listener: self.listener,
            at: rfc3339(self.at),
            method: self.method.to_string(),
            path: path.to_owned(),
            query: query.map(redact_form).unwrap_or_default(),
            headers,
            body: redact_body(content_type, &self.body),
            status: self.status,
            duration_micros: self.duration_micros,
        }
    }
}

/// The timing of one recorded request, borrowed from the journal (see [`Journal::timings_since`]).
#[derive(Debug, Clone, Copy)]
pub struct Timing<'a> {
    pub listener: &'static str,
    pub path: &'a str,
    pub status: u16,
    pub duration_micros: u64,
}

#[derive(Debug, Default)]
pub struct Journal {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    entries: VecDeque<(u64, Raw)>,
}

impl Journal {
    /// Records a request and returns its sequence number.
    pub fn record(&self, raw: Raw) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.next_seq += 1;
        let seq = inner.next_seq;
        if inner.entries.len() == MAX_ENTRIES {
            inner.entries.pop_front();
        }
        inner.entries.push_back((seq, raw));
        seq
    }

    /// Every recorded request, redacted.
    pub fn entries(&self) -> Vec<Entry> {
        self.since(0)
    }

    /// Entries with `seq > after`, redacted.
    pub fn since(&self, after: u64) -> Vec<Entry> {
        let raws: Vec<(u64, Raw)> = {
            let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            inner
                .entries
                .iter()
                .filter(|(seq, _)| *seq > after)
                .cloned()
                .collect()
        };
        raws.iter().map(|(seq, r)| r.entry(*seq)).collect()
    }

    /// Listener, path and duration of each request with `seq > after`, without building the
    /// redacted view (no copies, no body parsing): what a load generator reads ten times a second
    /// while tens of thousands of requests a second are recorded. Returns the last sequence
    /// number seen (`after` when there is nothing new).
    pub fn timings_since(&self, after: u64, mut each: impl FnMut(Timing<'_>)) -> u64 {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Entries are in sequence order: skip the ones already seen from the front.
        let first_new = inner.entries.partition_point(|(seq, _)| *seq <= after);
        let mut last = after;
        for (seq, raw) in inner.entries.range(first_new..) {
            last = *seq;
            each(Timing {
                listener: raw.listener,
                path: raw.target().0,
                status: raw.status,
                duration_micros: raw.duration_micros,
            });
        }
        last
    }

    pub fn last_seq(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_seq
    }

    pub fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .clear();
    }
}

pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s))
}

fn is_secret_field(name: &str) -> bool {
    SECRET_FIELDS.iter().any(|s| name.eq_ignore_ascii_case(s))
}

/// Redacts secret parameters in a query string or form body, keeping the rest byte for byte.
pub fn redact_form(s: &str) -> String {
    s.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_field(&percent_decode(k)) => format!("{k}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Redacts a request body: JSON objects field by field, forms parameter by parameter; anything
/// else that looks like it carries a key or token is dropped whole.
pub fn redact_body(content_type: Option<&str>, body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_BODY)]).into_owned();
    let is_json =
        content_type.is_some_and(|c| c.contains("json")) || text.trim_start().starts_with('{');
    if is_json {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) {
            redact_json(&mut v);
            return v.to_string();
        }
    }
    if content_type.is_some_and(|c| c.contains("x-www-form-urlencoded"))
        || text.contains('=') && !text.contains('<')
    {
        return redact_form(&text);
    }
    if text.contains("PRIVATE KEY") || text.contains("SecretAccessKey") {
        return REDACTED.to_owned();
    }
    text
}

fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_field(k) && !val.is_null() {
                    *val = serde_json::Value::String(REDACTED.into());
                } else {
                    redact_json(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_journal() {
        assert_eq!(
            redact_form("grant_type=x&assertion=eyJ.abc.def"),
            "grant_type=x&assertion=<redacted>"
        );
        let b = redact_body(
            Some("application/json"),
            br#"{"role":"app","jwt":"eyJhbGc.x.y","nested":{"password":"p"}}"#,
        );
        assert_eq!(
            b,
            r#"{"role":"app","jwt":"<redacted>","nested":{"password":"<redacted>"}}"#
        );
        assert_eq!(
            redact_form("Action=GetCallerIdentity&X-Amz-Signature=abc"),
            "Action=GetCallerIdentity&X-Amz-Signature=<redacted>"
        );
        assert!(is_secret_header("Authorization"));
        // What Vault's own API carries: AWS keys, unseal keys, bind passwords, custom token ids.
        for (body, redacted) in [
            (
                r#"{"access_key":"AKIA1","secret_key":"s3cr3t"}"#,
                r#"{"access_key":"AKIA1","secret_key":"<redacted>"}"#,
            ),
            (r#"{"key":"abcd"}"#, r#"{"key":"<redacted>"}"#),
            (
                r#"{"binddn":"cn=vault","bindpass":"pw"}"#,
                r#"{"binddn":"cn=vault","bindpass":"<redacted>"}"#,
            ),
            (
                r#"{"id":"mytoken","policies":["app"]}"#,
                r#"{"id":"<redacted>","policies":["app"]}"#,
            ),
        ] {
            assert_eq!(
                redact_body(Some("application/json"), body.as_bytes()),
                redacted
            );
        }
    }

    #[test]
    fn journal_keeps_order_and_sequence() {
        let j = Journal::default();
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
        );
        headers.insert("content-type", "text/plain; a: b".parse().unwrap());
        let e = Raw::new(
            "aws",
            std::time::UNIX_EPOCH,
            &Method::POST,
            &"/?X-Amz-Signature=abc".parse().unwrap(),
            &headers,
            b"Action=GetCallerIdentity",
        )
        .answered(200, 1);
        assert_eq!(j.record(e.clone()), 1);
        assert_eq!(j.record(e), 2);
        let seen = j.since(1);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].seq, 2);
        assert_eq!(seen[0].header("authorization"), Some(REDACTED));
        assert_eq!(seen[0].query, "X-Amz-Signature=<redacted>");
        assert_eq!(seen[0].path, "/");
        assert_eq!(seen[0].header("content-type"), Some("text/plain; a: b"));
        assert_eq!(seen[0].body, "Action=GetCallerIdentity");
        assert_eq!((seen[0].status, seen[0].duration_micros), (200, 1));
        assert_eq!(seen[0].at, "1970-01-01T00:00:00Z");
        let mut timings = Vec::new();
        let last = j.timings_since(1, |t| {
            timings.push((t.listener, t.path.to_owned(), t.status, t.duration_micros));
        });
        assert_eq!(last, 2);
        assert_eq!(timings, [("aws", "/".to_owned(), 200, 1)]);
        assert_eq!(j.timings_since(2, |_| panic!("nothing is new")), 2);
        j.clear();
        assert!(j.entries().is_empty());
        assert_eq!(j.last_seq(), 2);
    }
}
