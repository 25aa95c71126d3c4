//! Query-protocol parameters (`Action=GetCallerIdentity&Version=2011-06-15&…`), from the URL query
//! and an `application/x-www-form-urlencoded` body, decoded strictly: bad percent-encoding, text
//! that is not UTF-8 and repeated names are the client's mistakes, answered with a 400.

use std::collections::BTreeMap;

use super::error::AwsError;

/// A request's decoded parameters; the presigned-URL `X-Amz-*` parameters are left out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Parameters from the query string and, when given, the form body.
    pub(crate) fn parse(query: Option<&str>, body: Option<&[u8]>) -> Result<Self, AwsError> {
        let mut map = BTreeMap::new();
        for source in [query.map(str::as_bytes), body].into_iter().flatten() {
            for pair in source.split(|b| *b == b'&') {
                if pair.is_empty() {
                    continue;
                }
                let (k, v) = match pair.iter().position(|b| *b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &b""[..]),
                };
                let k = decode(k)?;
                let v = decode(v)?;
                if k.starts_with("X-Amz-") {
                    continue;
                }
                if map.contains_key(&k) {
                    return Err(AwsError::duplicate_parameter(&k));
                }
                map.insert(k, v);
            }
        }
        Ok(Self { map })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A required parameter, else `MissingParameter`.
    pub(crate) fn require(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name)
            .ok_or_else(|| AwsError::missing_parameter(name))
    }

    /// The values of a list parameter (`InstanceId.1`, `InstanceId.2`, …), by index.
    pub(crate) fn list(&self, prefix: &str) -> Vec<&str> {
        let mut items: Vec<(u32, &str)> = self
            .map
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(prefix)?.strip_prefix('.')?.parse().ok()?;
                Some((n, v.as_str()))
            })
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// The first parameter whose name starts with `prefix`, if any.
    pub(crate) fn first_with_prefix(&self, prefix: &str) -> Option<(&str, &str)> {
        self.map
            .range(prefix.to_owned()..)
            .next()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space), refusing what does not decode.
fn decode(raw: &[u8]) -> Result<String, AwsError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(b) = hex else {
                    return Err(AwsError::malformed_query("invalid percent-encoding"));
                };
                out.push(b);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| AwsError::malformed_query("the text is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_come_from_query_and_body() {
        let p = Params::parse(
            Some("Action=DescribeInstances&X-Amz-Date=20150830T123600Z"),
            Some(b"InstanceId.2=i-b&InstanceId.1=i-a&Note=a+b%2Fc&Flag"),
        )
        .unwrap();
        assert_eq!(p.get("Action"), Some("DescribeInstances"));
        assert_eq!(p.get("X-Amz-Date"), None);
        assert_eq!(p.list("InstanceId"), ["i-a", "i-b"]);
        assert_eq!(p.get("Note"), Some("a b/c"));
        assert_eq!(p.get("Flag"), Some(""));
        assert_eq!(
            p.first_with_prefix("Instance"),
            Some(("InstanceId.1", "i-a"))
        );
        assert_eq!(p.first_with_prefix("Filter"), None);
    }

    #[test]
    fn bad_encoding_and_repeats_are_client_errors() {
        for (q, code) in [
            ("Action=%zz", "MalformedQueryString"),
            ("Action=%4", "MalformedQueryString"),
            ("Action=%ff", "MalformedQueryString"),
            ("Action=A&Action=B", "InvalidQueryParameter"),
        ] {
            let e = Params::parse(Some(q), None).unwrap_err();
            assert_eq!((e.status, e.code.as_str()), (400, code), "{q}");
        }
        assert_eq!(
            Params::parse(None, Some(&[b'A', b'=', 0xff][..]))
                .unwrap_err()
                .code,
            "MalformedQueryString"
        );
    }
}
