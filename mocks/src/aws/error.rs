//! AWS Query-protocol errors (reference aws.md 5.4): `<ErrorResponse>` XML laid out as AWS does
//! (two-space indentation, trailing newline), `Content-Type: text/xml`, `x-amzn-RequestId`.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// EC2 errors have their own envelope (`<Response><Errors>…`); this namespace selects it.
pub const EC2_XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// The Query API versions each service answers to.
pub const STS_VERSION: &str = "2011-06-15";
pub const IAM_VERSION: &str = "2010-05-08";
pub const EC2_VERSION: &str = "2016-11-15";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct AwsError {
    pub status: u16,
    /// `Sender` or `Receiver`.
    pub kind: &'static str,
    pub code: String,
    pub message: String,
    pub xmlns: &'static str,
}

impl AwsError {
    pub fn sender(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: "Sender",
            code: code.to_owned(),
            message: message.into(),
            xmlns: STS_XMLNS,
        }
    }

    pub fn receiver(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            kind: "Receiver",
            ..Self::sender(status, code, message)
        }
    }

    pub fn iam(mut self) -> Self {
        self.xmlns = IAM_XMLNS;
        self
    }

    /// Answer in EC2's envelope instead of `<ErrorResponse>`.
    pub fn ec2(mut self) -> Self {
        self.xmlns = EC2_XMLNS;
        self
    }

    /// STS's throttling answer: 400 `Throttling` `Rate exceeded` (reference aws.md 5.4).
    pub fn throttling() -> Self {
        Self::sender(400, "Throttling", "Rate exceeded")
    }

    pub fn invalid_action(action: &str) -> Self {
        Self::invalid_action_for(action, STS_VERSION)
    }

    /// `InvalidAction` for a service's API version (STS and IAM word it the same way).
    pub fn invalid_action_for(action: &str, version: &str) -> Self {
        Self::sender(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {version}"),
        )
    }

    /// No `Action` parameter at all.
    // UNVERIFIED: code and wording from the AWS "common errors" list, not seen on the wire.
    pub fn missing_action() -> Self {
        Self::sender(
            400,
            "MissingAction",
            "The request is missing an action or a required parameter.",
        )
    }

    /// A query string or form body that does not decode (bad percent-encoding, not UTF-8).
    // UNVERIFIED: code and wording from the AWS "common errors" list.
    pub fn malformed_query(detail: &str) -> Self {
        Self::sender(
            400,
            "MalformedQueryString",
            format!("The query string contains a syntax error: {detail}"),
        )
    }

    /// A parameter given more than once.
    // UNVERIFIED: AWS's answer to a repeated Query parameter was not observed; the code is from the
    // "common errors" list and the message is ours.
    pub fn duplicate_parameter(name: &str) -> Self {
        Self::sender(
            400,
            "InvalidQueryParameter",
            format!("The parameter {name} is given more than once"),
        )
    }

    /// A Coral-style validation failure: `1 validation error detected: Value 'x' at 'field'
    /// failed to satisfy constraint: …`.
    // UNVERIFIED: the wording follows AWS's generated validators; not checked per field.
    pub fn validation(value: Option<&str>, field: &str, constraint: &str) -> Self {
        let value = match value {
            Some(v) => format!("'{v}'"),
            None => "null".to_owned(),
        };
        Self::sender(
            400,
            "ValidationError",
            format!(
                "1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::sender(
            400,
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    /// A generic error for a status, used by injected faults.
    pub fn for_status(status: u16, code: Option<&str>, message: Option<&str>) -> Self {
        let (default_code, default_message) = match status {
            400 => ("InvalidRequest", "The request is invalid"),
            403 => ("AccessDenied", "Access denied"),
            404 => ("NotFound", "Not found"),
            429 | 503 => ("ServiceUnavailable", "Service is unable to handle request."),
            _ => ("InternalFailure", "An internal error occurred. Try again."),
        };
        let code = code.unwrap_or(default_code);
        let message = message.unwrap_or(default_message);
        if status >= 500 {
            Self::receiver(status, code, message)
        } else {
            Self::sender(status, code, message)
        }
    }

    pub fn to_xml(&self, request_id: &str) -> String {
        if self.xmlns == EC2_XMLNS {
            // EC2's envelope: one line after the declaration, `RequestID` with a capital D.
            // UNVERIFIED: layout from the EC2 API reference's error example, not a wire capture.
            return format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
                xml_escape(&self.code),
                xml_escape(&self.message),
                request_id
            );
        }
        format!(
            "<ErrorResponse xmlns=\"{}\">\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            self.xmlns,
            self.kind,
            xml_escape(&self.code),
            xml_escape(&self.message),
            request_id
        )
    }
}

/// A response with AWS's headers: `Content-Type: text/xml` exactly and `x-amzn-RequestId`.
pub fn xml_response(status: u16, body: String, request_id: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl AwsError {
    /// This error as a response carrying `request_id`.
    pub fn into_response_with_id(self, request_id: &str) -> Response {
        xml_response(self.status, self.to_xml(request_id), request_id)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let id = new_request_id();
        xml_response(self.status, self.to_xml(&id), &id)
    }
}

/// Escapes text for an XML element body as AWS does: `&`, `<` and `>` only. Quotes and
/// apostrophes stay as they are (`Credential should be scoped to a valid region, not 'eu-west-1'. `
/// reaches users verbatim through Vault's `received error code 403 from STS: <body>`; reference
/// aws.md §4.4, vault PR#6268, vault#7397).
pub fn xml_escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::partial_escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apostrophes_and_quotes_are_not_escaped_but_markup_is() {
        assert_eq!(
            xml_escape("not 'eu-west-1'. \"x\" <a> & b"),
            "not 'eu-west-1'. \"x\" &lt;a&gt; &amp; b"
        );
        let e = AwsError::sender(
            403,
            "SignatureDoesNotMatch",
            "Credential should be scoped to a valid region, not 'eu-west-1'. ",
        );
        assert!(e.to_xml("r").contains(
            "<Message>Credential should be scoped to a valid region, not 'eu-west-1'. </Message>"
        ));
    }

    #[test]
    fn error_xml_is_laid_out_as_aws_does() {
        let e = AwsError::sender(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid",
        );
        assert_eq!(
            e.to_xml("16fc956c-311e-4199-bee1-1680236e9698"),
            include_str!("../../tests/fixtures/sts/error_invalid_client_token_id.xml")
        );
    }
}
