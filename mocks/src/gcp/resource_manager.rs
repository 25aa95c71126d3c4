//! Cloud Resource Manager: project ancestry (Vault's group aliases) and project IAM policies (the
//! GCP secrets engine's bindings), reference gcp.md 1.5 and 5.2.
//!
//! Upstream: <https://cloud.google.com/resource-manager/reference/rest/v1/projects/getAncestry>,
//! <https://cloud.google.com/resource-manager/reference/rest/v3/projects/getIamPolicy>,
//! <https://cloud.google.com/resource-manager/reference/rest/v3/projects/setIamPolicy>.
//!
//! Endpoints (all `POST`):
//! - `/v1/projects/{p}:getAncestry` → `{"ancestor":[{"resourceId":{"type":"project","id":p}}, …]}`
//!   (the project, then its folders and organization from the world); needs a project role in
//!   [`PROJECT_GET_ROLES`].
//! - `/v3/projects/{p}:getIamPolicy` and `/v1/projects/{p}:getIamPolicy` → a `Policy`
//!   (`version`, `etag`, `bindings`); needs [`PROJECT_GET_IAM_ROLES`].
//! - `/v3/projects/{p}:setIamPolicy` and `/v1/...` with `{"policy":{…}}`: replaces the world's
//!   project bindings; an `etag` that is not the current one is a 409 ABORTED; needs
//!   [`PROJECT_SET_IAM_ROLES`].
//!
//! Unknown projects and missing roles are both `403 The caller does not have permission`, as
//! Resource Manager answers.
//!
//! **Not modelled:** IAM conditions (a binding with a `condition` is refused), audit configs,
//! `updateMask`, policy version 3 semantics, folders' and organizations' own policies, the other
//! project methods (`get`, `list`, `search`, ...), and Token Creator grants on service accounts
//! (those live on the accounts, not in the project policy).

use axum::extract::State;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::error::GcpError;
use super::extract::{
    authenticate, bearer, json_response, parse_json, split_verb, Caller, GcpPath,
};
use super::GcpState;
use crate::world::gcp::{Project, PROJECT_GET_IAM_ROLES, PROJECT_GET_ROLES, PROJECT_SET_IAM_ROLES};
use crate::world::World;

// ------------------------------------------------------------------------------------ wire types

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ancestry {
    pub ancestor: Vec<Ancestor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ancestor {
    pub resource_id: ResourceId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceId {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetAncestryRequest {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetIamPolicyRequest {
    #[serde(default)]
    pub options: Option<GetPolicyOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetPolicyOptions {
    #[serde(default)]
    pub requested_policy_version: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetIamPolicyRequest {
    #[serde(default)]
    pub policy: Option<Policy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mask: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub version: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Binding>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Binding {
    pub role: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

// ------------------------------------------------------------------------------- the rules

fn denied() -> GcpError {
    GcpError::new(403, "The caller does not have permission")
}

fn project_for<'w>(
    world: &'w World,
    caller: &Caller,
    project: &str,
    roles: &[&str],
) -> Result<&'w Project, GcpError> {
    world
        .gcp
        .projects
        .get(project)
        .filter(|_| world.gcp.has_project_role(project, &caller.email, roles))
        .ok_or_else(denied)
}

pub fn get_ancestry(world: &World, caller: &Caller, project: &str) -> Result<Ancestry, GcpError> {
    let p = project_for(world, caller, project, PROJECT_GET_ROLES)?;
    let mut ancestor = vec![Ancestor {
        resource_id: ResourceId {
            kind: "project".into(),
            id: p.id.clone(),
        },
    }];
    ancestor.extend(p.ancestors.iter().map(|(kind, id)| Ancestor {
        resource_id: ResourceId {
            kind: kind.clone(),
            id: id.clone(),
        },
    }));
    Ok(Ancestry { ancestor })
}

fn etag(p: &Project) -> String {
    STANDARD.encode(p.etag_version.to_be_bytes())
}

pub fn policy(p: &Project) -> Policy {
    Policy {
        version: 1,
        etag: etag(p),
        bindings: p
            .iam_bindings
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(role, members)| Binding {
                role: role.clone(),
                members: members.iter().cloned().collect(),
                condition: None,
            })
            .collect(),
    }
}

pub fn get_iam_policy(world: &World, caller: &Caller, project: &str) -> Result<Policy, GcpError> {
    project_for(world, caller, project, PROJECT_GET_IAM_ROLES).map(policy)
}

/// Whether `m` has Google's member form (`user:`, `serviceAccount:`, `group:`, `domain:`,
/// `principal:`/`principalSet:`, `deleted:…`, or `allUsers`/`allAuthenticatedUsers`).
fn valid_member(m: &str) -> bool {
    matches!(m, "allUsers" | "allAuthenticatedUsers")
        || m.split_once(':')
            .is_some_and(|(kind, value)| !kind.is_empty() && !value.is_empty())
}

pub fn set_iam_policy(
    world: &mut World,
    caller: &Caller,
    project: &str,
    req: &SetIamPolicyRequest,
) -> Result<Policy, GcpError> {
    let current = project_for(world, caller, project, PROJECT_SET_IAM_ROLES)?;
    let Some(new) = &req.policy else {
        // UNVERIFIED wording.
        return Err(GcpError::invalid_argument(
            "Request contains an invalid argument: the policy is missing.",
        ));
    };
    if !new.etag.is_empty() && new.etag != etag(current) {
        return Err(GcpError::new(
            409,
            "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
        )
        .with_status("ABORTED"));
    }
    let mut bindings: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for b in &new.bindings {
        if b.condition.as_ref().is_some_and(|c| !c.is_null()) {
            return Err(GcpError::invalid_argument(
                "authsim does not model IAM conditions.",
            ));
        }
        if b.role.is_empty() {
            return Err(GcpError::invalid_argument(
                "Policy binding role must not be empty.",
            ));
        }
        if let Some(bad) = b.members.iter().find(|m| !valid_member(m)) {
            // UNVERIFIED wording.
            return Err(GcpError::invalid_argument(format!(
                "Policy members must be of the form \"<type>:<value>\"; got \"{bad}\"."
            )));
        }
        bindings
            .entry(b.role.clone())
            .or_default()
            .extend(b.members.iter().cloned());
    }
    let p = world.gcp.projects.get_mut(project).expect("checked above");
    p.iam_bindings = bindings;
    p.etag_version += 1;
    Ok(policy(p))
}

// ------------------------------------------------------------------------------------- handler

/// `POST /v1/projects/{project}:{verb}` and `/v3/...`.
fn dispatch(
    s: GcpState,
    version: u8,
    segment: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, GcpError> {
    let unknown = || super::unknown_url(&format!("/v{version}/projects/{segment}"));
    let (project, verb) = split_verb(segment).ok_or_else(unknown)?;
    match (version, verb) {
        (1, "getAncestry") => {
            let _: GetAncestryRequest = parse_json(body)?;
            let w = s.sim.world();
            let c = authenticate(&w, s.sim.clock(), bearer(headers))?;
            get_ancestry(&w, &c, project).map(|r| json_response(&r))
        }
        (_, "getIamPolicy") => {
            let _: GetIamPolicyRequest = parse_json(body)?;
            let w = s.sim.world();
            let c = authenticate(&w, s.sim.clock(), bearer(headers))?;
            get_iam_policy(&w, &c, project).map(|r| json_response(&r))
        }
        (_, "setIamPolicy") => {
            let req: SetIamPolicyRequest = parse_json(body)?;
            let mut w = s.sim.world_mut();
            let c = authenticate(&w, s.sim.clock(), bearer(headers))?;
            set_iam_policy(&mut w, &c, project, &req).map(|r| json_response(&r))
        }
        _ => Err(unknown()),
    }
}

pub(crate) async fn v1_handler(
    State(s): State<GcpState>,
    GcpPath(segment): GcpPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GcpError> {
    dispatch(s, 1, &segment, &headers, &body)
}

pub(crate) async fn v3_handler(
    State(s): State<GcpState>,
    GcpPath(segment): GcpPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GcpError> {
    dispatch(s, 3, &segment, &headers, &body)
}
