//! What every Google handler shares: extractors that answer malformed input in Google's envelope
//! (invariant 3), bearer-token authentication, JSON responses and small wire helpers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::GcpError;
use crate::clock::Clock;
use crate::world::World;

/// A JSON request body, or a Google `INVALID_ARGUMENT` error: never axum's plain-text rejection.
///
/// An empty body reads as `{}` (Google's transcoder treats a missing body as an empty message).
/// Unknown fields are refused when `T` says `#[serde(deny_unknown_fields)]`, as Google refuses
/// them (`Invalid JSON payload received. Unknown name "x": Cannot find field.`).
#[derive(Debug, Clone)]
pub struct GcpJson<T>(pub T);

impl<S, T> FromRequest<S> for GcpJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = GcpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| GcpError::invalid_argument(format!("Invalid request body: {e}")))?;
        parse_json(&bytes).map(GcpJson)
    }
}

/// Parses a request body the way Google's JSON transcoder answers it.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, GcpError> {
    let invalid =
        |what: &str| GcpError::invalid_argument(format!("Invalid JSON payload received. {what}"));
    let text = std::str::from_utf8(body).map_err(|_| invalid("Invalid UTF-8 string."))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Eof => invalid("Unexpected end of string."),
        _ => invalid(&format!(
            "Unexpected token at line {} column {}.",
            e.line(),
            e.column()
        )),
    })?;
    if !value.is_object() {
        return Err(invalid(
            "Unknown name \"\": Root element must be a message.",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        let msg = e.to_string();
        match unknown_field_name(&msg) {
            Some(name) => invalid(&format!("Unknown name \"{name}\": Cannot find field.")),
            // UNVERIFIED: Google names the field and its proto type here
            // (`Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), "x"`);
            // serde's description is the closest this mock knows.
            None => invalid(&format!("{}.", msg.trim_end_matches('.'))),
        }
    })
}

/// `unknown field `x`, expected ...` → `x`.
fn unknown_field_name(serde_message: &str) -> Option<&str> {
    let rest = serde_message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Path parameters, or a Google `INVALID_ARGUMENT` error when they do not decode (e.g. non-UTF-8
/// percent escapes).
#[derive(Debug, Clone)]
pub struct GcpPath<T>(pub T);

impl<S, T> FromRequestParts<S> for GcpPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = GcpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| GcpPath(t))
            .map_err(|e| GcpError::invalid_argument(format!("Invalid resource name: {e}")))
    }
}

/// A `200` JSON response with Google's content type.
pub fn json_response<T: Serialize>(body: &T) -> Response {
    json_text_response(serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned()))
}

/// A 200 with `text`, already JSON, as its body.
pub fn json_text_response(text: String) -> Response {
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

/// The empty message `{}` that Google answers deletes and state changes with.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Empty {}

/// The value of `Authorization: Bearer <token>`, if the header has that form.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Who a request comes from: the account an access token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub email: String,
    pub scopes: Vec<String>,
}

/// Looks the bearer token up among the tokens this mock issued. Missing, unknown or expired
/// tokens, and tokens of accounts since deleted or disabled, are `401 UNAUTHENTICATED`.
pub fn authenticate(
    world: &World,
    clock: &dyn Clock,
    token: Option<&str>,
) -> Result<Caller, GcpError> {
    let t = token
        .and_then(|t| world.gcp.tokens.get(t))
        .ok_or_else(GcpError::unauthenticated)?;
    if t.expires <= clock.now() {
        return Err(GcpError::unauthenticated());
    }
    match world.gcp.service_accounts.get(&t.email) {
        Some(sa) if !sa.disabled => Ok(Caller {
            email: t.email.clone(),
            scopes: t.scopes.clone(),
        }),
        _ => Err(GcpError::unauthenticated()),
    }
}

/// Splits `name:verb` at the last `:` (custom-method segments such as `app@p.iam...:signJwt`).
pub fn split_verb(segment: &str) -> Option<(&str, &str)> {
    segment.rsplit_once(':')
}

/// Query parameters as pairs; unknown ones (`alt`, `prettyPrint`, `fields`) are simply ignored by
/// the callers.
pub fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of query parameter `name`.
pub fn query_get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Answer for a known path with a method it does not serve.
///
/// UNVERIFIED: Google's front end answers most such requests with a 404 page; this mock answers
/// 405 in Google's envelope so that the mistake is obvious.
pub async fn method_not_allowed(method: Method, uri: Uri) -> GcpError {
    GcpError::new(
        405,
        format!(
            "The requested method {method} is not allowed for the URL {}.",
            uri.path()
        ),
    )
    .with_status("UNIMPLEMENTED")
}

/// Seconds since the Unix epoch (negative before it).
pub fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// The time `secs` seconds after the epoch.
pub fn from_unix(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// An HTTP date (`Tue, 15 Nov 1994 08:12:31 GMT`), for `Expires` and `Date`-like headers.
pub fn http_date(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[dt.weekday().number_days_from_monday() as usize],
        dt.day(),
        MONTHS[dt.month() as usize - 1],
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        #[serde(default)]
        payload: String,
    }

    fn message(r: Result<Req, GcpError>) -> String {
        let e = r.unwrap_err();
        assert_eq!((e.code, e.status), (400, "INVALID_ARGUMENT"));
        e.message
    }

    #[test]
    fn gcp_json_errors_read_like_google() {
        assert_eq!(
            message(parse_json(br#"{"payload":"x","x":1}"#)),
            "Invalid JSON payload received. Unknown name \"x\": Cannot find field."
        );
        assert!(message(parse_json(b"{\"payload\":")).starts_with("Invalid JSON payload received."));
        assert!(message(parse_json(b"{nope}")).contains("Unexpected token"));
        assert!(message(parse_json(b"[1]")).contains("Root element must be a message"));
        assert!(message(parse_json(b"{\"payload\":\"\xff\"}")).contains("Invalid UTF-8"));
        assert!(message(parse_json(br#"{"payload":1}"#)).contains("invalid type"));
        assert_eq!(parse_json::<Req>(b"").unwrap().payload, "");
    }

    #[test]
    fn gcp_http_dates_are_imf_fixdate() {
        assert_eq!(
            http_date(from_unix(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
