//! AWS Query-protocol errors (reference aws.md 5.4): `<ErrorResponse>` XML laid out as AWS does
//! (two-space indentation, trailing newline), `Content-Type: text/xml`, `x-amzn-RequestId`.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

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

    /// STS's throttling answer: 400 `Throttling` `Rate exceeded` (reference aws.md 5.4).
    pub fn throttling() -> Self {
        Self::sender(400, "Throttling", "Rate exceeded")
    }

    pub fn invalid_action(action: &str) -> Self {
        Self::sender(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version 2011-06-15"),
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

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let id = new_request_id();
        xml_response(self.status, self.to_xml(&id), &id)
    }
}

/// Escapes text for an XML element body.
pub fn xml_escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

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
