//! The GCE metadata server (`metadata.google.internal`, `169.254.169.254`), reference gcp.md 1.5.1,
//! 2.1 and 6.4. Clients reach it with `GCE_METADATA_HOST=127.0.0.1:PORT`.
//!
//! Upstream: <https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys> and
//! <https://cloud.google.com/compute/docs/instances/verifying-instance-identity>.
//!
//! Endpoints (`GET /computeMetadata/v1/...`, header `Metadata-Flavor: Google` required, answered
//! with the same header; `{acct}` is `default` or the default account's email):
//! - `project/project-id`, `project/numeric-project-id`
//! - `instance/id`, `instance/name`, `instance/zone` (`projects/NUMBER/zones/ZONE`),
//!   `instance/hostname`
//! - `instance/service-accounts/` and `instance/service-accounts/{acct}/` (listing, or JSON with
//!   `?recursive=true` as Python's google-auth asks), `.../{acct}/email`, `aliases`, `scopes`
//! - `.../{acct}/token[?scopes=a,b]` → `{"access_token","expires_in":3599,"token_type":"Bearer"}`
//! - `.../{acct}/identity?audience=A[&format=standard|full]` → a Google-signed JWT, `text/plain`;
//!   `format=full` adds `email`, `email_verified` and the `google.compute_engine` claims of
//!   reference gcp.md 2.1 (`project_number` and `instance_creation_timestamp` as JSON numbers,
//!   `instance_id` as a string).
//!
//! Anything else, and everything when the world has no metadata account, is a 404
//! (`universe/universe_domain` included: Go then uses its default).
//!
//! **Not modelled:** custom and project attributes, `?wait_for_change`, ETags, `?alt=json` on leaf
//! values, the `X-Forwarded-For` refusal, `licenses=TRUE` (`license_id` is never added), instance
//! scopes (every token defaults to `cloud-platform`), the v1beta1 path, and token caching (each
//! call issues a new token).

use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::extract::{query_get, query_pairs, unix};
use super::iam_credentials::{google_id_token, IdTokenClaims};
use super::GcpState;
use crate::clock::Clock;
use crate::world::gcp::{Instance, ServiceAccount};
use crate::world::World;

pub const FLAVOR: &str = "Metadata-Flavor";
const DEFAULT_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A metadata-server answer: status, content type and body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataAnswer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl MetadataAnswer {
    fn value(body: impl Into<String>) -> Self {
        Self {
            status: 200,
            content_type: "application/text",
            body: body.into(),
        }
    }

    fn json(v: serde_json::Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body: v.to_string(),
        }
    }

    /// UNVERIFIED: the metadata server's 404 page.
    fn not_found() -> Self {
        Self {
            status: 404,
            content_type: "text/html; charset=UTF-8",
            body: "Not Found\n".into(),
        }
    }

    fn bad_request(body: &str) -> Self {
        Self {
            status: 400,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
        }
    }
}

/// UNVERIFIED: the text the metadata server answers a request without the flavor header with.
pub fn missing_flavor(path: &str) -> MetadataAnswer {
    MetadataAnswer {
        status: 403,
        content_type: "text/html; charset=UTF-8",
        body: format!(
            "Your client does not have permission to get URL `{path}` from this server. Missing Metadata-Flavor:Google header.\n"
        ),
    }
}

/// Who the metadata server answers as: the default account and, on GCE, the instance.
fn identity(world: &World) -> Option<(&ServiceAccount, Option<&Instance>)> {
    let account = world
        .gcp
        .service_accounts
        .get(world.gcp.metadata_account.as_deref()?)?;
    let instance = world
        .gcp
        .metadata_instance
        .as_deref()
        .and_then(|n| world.gcp.instances.get(n));
    Some((account, instance))
}

/// The `google.compute_engine` claims of a `format=full` identity token (reference gcp.md 2.1).
pub fn compute_engine_claims(world: &World, i: &Instance) -> serde_json::Value {
    let number = world.gcp.projects.get(&i.project).map_or(0, |p| p.number);
    serde_json::json!({
        "instance_creation_timestamp": unix(i.creation_timestamp),
        "instance_id": i.id.to_string(),
        "instance_name": i.name,
        "project_id": i.project,
        "project_number": number,
        "zone": i.zone,
    })
}

/// Answers `GET /computeMetadata/v1/{path}`; `path` has no leading `/`.
pub fn answer(
    world: &mut World,
    clock: &dyn Clock,
    path: &str,
    query: &[(String, String)],
) -> MetadataAnswer {
    let Some((account, instance)) = identity(world) else {
        return MetadataAnswer::not_found();
    };
    let project_id = instance.map_or(account.project.as_str(), |i| i.project.as_str());
    let number = world.gcp.projects.get(project_id).map(|p| p.number);
    let email = account.email.clone();
    match path {
        "project/project-id" => return MetadataAnswer::value(project_id),
        "project/numeric-project-id" => {
            return number.map_or_else(MetadataAnswer::not_found, |n| {
                MetadataAnswer::value(n.to_string())
            })
        }
        "instance/service-accounts/" => {
            return MetadataAnswer::value(format!("default/\n{email}/\n"))
        }
        _ => {}
    }
    if let (Some(rest), Some(i)) = (path.strip_prefix("instance/"), instance) {
        match rest {
            "id" => return MetadataAnswer::value(i.id.to_string()),
            "name" => return MetadataAnswer::value(i.name.clone()),
            "zone" => {
                return MetadataAnswer::value(format!(
                    "projects/{}/zones/{}",
                    number.unwrap_or(0),
                    i.zone
                ))
            }
            "hostname" => {
                return MetadataAnswer::value(format!(
                    "{}.{}.c.{}.internal",
                    i.name, i.zone, i.project
                ))
            }
            _ => {}
        }
    }
    let Some(rest) = path.strip_prefix("instance/service-accounts/") else {
        return MetadataAnswer::not_found();
    };
    let (acct, leaf) = rest.split_once('/').unwrap_or((rest, ""));
    if acct != "default" && acct != email {
        return MetadataAnswer::not_found();
    }
    let scopes = vec![DEFAULT_SCOPE.to_owned()];
    match leaf {
        "" if query_get(query, "recursive") == Some("true") => {
            MetadataAnswer::json(serde_json::json!({
                "aliases": ["default"],
                "email": email,
                "scopes": scopes,
            }))
        }
        "" => MetadataAnswer::value("aliases\nemail\nidentity\nscopes\ntoken\n"),
        "email" => MetadataAnswer::value(email),
        "aliases" => MetadataAnswer::value("default\n"),
        "scopes" => MetadataAnswer::value(format!("{}\n", scopes.join("\n"))),
        "token" => {
            let scopes = match query_get(query, "scopes") {
                Some(s) if !s.is_empty() => s
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                _ => scopes,
            };
            let expires = clock.now() + Duration::from_secs(3600);
            let token = world.gcp.issue_token(&email, scopes, expires);
            MetadataAnswer::json(serde_json::json!({
                "access_token": token,
                "expires_in": 3599,
                "token_type": "Bearer",
            }))
        }
        "identity" => identity_token(world, clock, query),
        _ => MetadataAnswer::not_found(),
    }
}

fn identity_token(world: &World, clock: &dyn Clock, query: &[(String, String)]) -> MetadataAnswer {
    let Some((account, instance)) = identity(world) else {
        return MetadataAnswer::not_found();
    };
    let audience = query_get(query, "audience").unwrap_or("");
    if audience.is_empty() {
        // UNVERIFIED wording.
        return MetadataAnswer::bad_request("non-empty audience parameter required");
    }
    let full = match query_get(query, "format").unwrap_or("standard") {
        "standard" | "" => false,
        "full" => true,
        // UNVERIFIED wording.
        other => return MetadataAnswer::bad_request(&format!("invalid format \"{other}\"")),
    };
    let claims = IdTokenClaims {
        audience,
        account,
        include_email: full,
        compute_engine: instance
            .filter(|_| full)
            .map(|i| compute_engine_claims(world, i)),
        now: unix(clock.now()),
    };
    match google_id_token(world, &claims) {
        Ok(jwt) => MetadataAnswer {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: jwt,
        },
        Err(e) => MetadataAnswer {
            status: 500,
            content_type: "text/plain; charset=utf-8",
            body: e.message,
        },
    }
}

// ------------------------------------------------------------------------------------- handler

fn respond(a: MetadataAnswer) -> Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, a.body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        HeaderName::from_static("metadata-flavor"),
        HeaderValue::from_static("Google"),
    );
    h.insert(
        header::SERVER,
        HeaderValue::from_static("Metadata Server for VM"),
    );
    resp
}

pub(crate) async fn handler(
    State(s): State<GcpState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    if headers.get(FLAVOR).and_then(|v| v.to_str().ok()) != Some("Google") {
        return respond(missing_flavor(uri.path()));
    }
    let path = uri
        .path()
        .strip_prefix("/computeMetadata/v1/")
        .unwrap_or("");
    let query = query_pairs(&uri);
    let answer = answer(&mut s.sim.world_mut(), s.sim.clock(), path, &query);
    respond(answer)
}

/// `GET /`: what metadata-server probes (Go's `OnGCE`, Python's `ping`) look at: the flavor
/// header on any answer.
pub(crate) async fn root() -> Response {
    respond(MetadataAnswer::value("computeMetadata/\n"))
}
