//! AWS Security Token Service, Query API version 2011-06-15
//! (<https://docs.aws.amazon.com/STS/latest/APIReference/welcome.html>; reference aws.md 5).
//!
//! Endpoints covered: `GetCallerIdentity` (XML, and JSON when the client sends
//! `Accept: application/json`), `AssumeRole`, `GetSessionToken`.
//!
//! **Not modelled:** `AssumeRoleWithWebIdentity`, `AssumeRoleWithSAML`, `GetFederationToken`,
//! `DecodeAuthorizationMessage`, `GetAccessKeyInfo`; session policies (`Policy`, `PolicyArns`,
//! hence no `PackedPolicySize`), `ExternalId`, tags, `SourceIdentity` and MFA parameters (accepted
//! and ignored); JSON error bodies for `Accept: application/json` (errors stay XML); regional
//! endpoints; sessions outliving a deleted and re-created role keep working under the new role id.

use std::time::{Duration, SystemTime};

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue};

use super::error::{xml_escape, AwsError, STS_VERSION, STS_XMLNS};
use super::query::Params;
use super::xml::{response_metadata, El};
use super::{ok_xml, AwsState, Call};
use crate::clock::{rfc3339, Clock};
use crate::world::aws::{CallerIdentity, Principal};
use crate::world::World;

// ------------------------------------------------------------------------------- wire types

/// `AssumeRole`'s parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    pub role_arn: String,
    pub role_session_name: String,
    pub duration_seconds: Option<u32>,
}

/// Temporary credentials as STS returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRoleUser {
    pub arn: String,
    pub assumed_role_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleResult {
    pub credentials: Credentials,
    pub assumed_role_user: AssumedRoleUser,
}

/// AssumeRole's default and bounds (reference aws.md 5.2; bounds UNVERIFIED).
pub const ASSUME_ROLE_DEFAULT: u32 = 3600;
pub const ASSUME_ROLE_MIN: u32 = 900;
pub const ASSUME_ROLE_MAX: u32 = 43_200;
/// GetSessionToken's default and bounds (reference aws.md 5.3).
pub const SESSION_TOKEN_DEFAULT: u32 = 43_200;
pub const SESSION_TOKEN_MAX: u32 = 129_600;

impl AssumeRoleRequest {
    pub(crate) fn from_params(p: &Params) -> Result<Self, AwsError> {
        let role_arn = required(p, "RoleArn", "roleArn")?;
        let role_session_name = required(p, "RoleSessionName", "roleSessionName")?;
        let duration_seconds = duration(p)?;
        Ok(Self {
            role_arn,
            role_session_name,
            duration_seconds,
        })
    }
}

// UNVERIFIED: STS's answer to a missing required member is taken to be the Coral validation
// message ("Member must not be null"), not `MissingParameter`.
fn required(p: &Params, name: &str, field: &str) -> Result<String, AwsError> {
    p.get(name)
        .map(str::to_owned)
        .ok_or_else(|| AwsError::validation(None, field, "Member must not be null"))
}

fn duration(p: &Params) -> Result<Option<u32>, AwsError> {
    match p.get("DurationSeconds") {
        None => Ok(None),
        // UNVERIFIED: the message for a DurationSeconds that is not a number.
        Some(v) => v.parse().map(Some).map_err(|_| {
            AwsError::validation(Some(v), "durationSeconds", "Member must be a number")
        }),
    }
}

fn check_range(value: u32, min: u32, max: u32) -> Result<(), AwsError> {
    let v = value.to_string();
    if value < min {
        return Err(AwsError::validation(
            Some(&v),
            "durationSeconds",
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(AwsError::validation(
            Some(&v),
            "durationSeconds",
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------- operations

/// GetCallerIdentity: who signed the request. Cannot be denied.
pub fn get_caller_identity(world: &World, caller: &Principal) -> Result<CallerIdentity, AwsError> {
    world.aws.caller_identity(caller).ok_or_else(|| {
        AwsError::sender(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid",
        )
    })
}

/// A role ARN's parts: account, path (`/` or `/a/b/`) and name.
fn parse_role_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return None;
    };
    if prefix != "arn" || partition.is_empty() || service != "iam" || !region.is_empty() {
        return None;
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = resource.strip_prefix("role")?;
    if !rest.starts_with('/') {
        return None;
    }
    let slash = rest.rfind('/')?;
    let (path, name) = (&rest[..=slash], &rest[slash + 1..]);
    (!name.is_empty()).then_some((account, path, name))
}

fn session_name_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// AssumeRole: temporary credentials for a role the caller may assume.
pub fn assume_role(
    world: &mut World,
    clock: &dyn Clock,
    caller: &Principal,
    req: &AssumeRoleRequest,
) -> Result<AssumeRoleResult, AwsError> {
    // Parameter validation first, in the order of the API reference's members.
    let arn = &req.role_arn;
    if arn.len() < 20 || arn.len() > 2048 {
        let c = if arn.len() < 20 {
            "Member must have length greater than or equal to 20"
        } else {
            "Member must have length less than or equal to 2048"
        };
        return Err(AwsError::validation(Some(arn), "roleArn", c));
    }
    let name = &req.role_session_name;
    let n = name.chars().count();
    if n < 2 {
        return Err(AwsError::validation(
            Some(name),
            "roleSessionName",
            "Member must have length greater than or equal to 2",
        ));
    }
    if n > 64 {
        return Err(AwsError::validation(
            Some(name),
            "roleSessionName",
            "Member must have length less than or equal to 64",
        ));
    }
    if !session_name_ok(name) {
        return Err(AwsError::validation(
            Some(name),
            "roleSessionName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ));
    }
    let duration = req.duration_seconds.unwrap_or(ASSUME_ROLE_DEFAULT);
    check_range(duration, ASSUME_ROLE_MIN, ASSUME_ROLE_MAX)?;
    // UNVERIFIED: the wording for an ARN of the right length that does not parse.
    let (account, path, role) = parse_role_arn(arn)
        .ok_or_else(|| AwsError::sender(400, "ValidationError", format!("{arn} is invalid")))?;

    // Then authorisation. A role that does not exist (or whose path differs) is denied like one
    // the caller may not assume: STS does not reveal which roles exist.
    let denied = || {
        let who = world
            .aws
            .caller_identity(caller)
            .map(|c| c.arn)
            .unwrap_or_default();
        AwsError::sender(
            403,
            "AccessDenied",
            format!("User: {who} is not authorized to perform: sts:AssumeRole on resource: {arn}"),
        )
    };
    let Some(r) = world
        .aws
        .accounts
        .get(account)
        .and_then(|a| a.roles.get(role))
    else {
        return Err(denied());
    };
    if r.path != path || !world.aws.may_assume(caller, account, role) {
        return Err(denied());
    }
    if duration > r.max_session_duration {
        // UNVERIFIED: wording as commonly reported for STS.
        return Err(AwsError::sender(
            400,
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    if matches!(caller, Principal::AssumedRole { .. }) && duration > 3600 {
        // UNVERIFIED: wording as commonly reported for role chaining.
        return Err(AwsError::sender(
            400,
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }

    let principal = Principal::AssumedRole {
        account: account.to_owned(),
        role: role.to_owned(),
        session: name.clone(),
    };
    let expires = clock.now() + Duration::from_secs(duration.into());
    let session = world.aws.issue_session(principal.clone(), expires);
    let who = world
        .aws
        .caller_identity(&principal)
        .expect("the role was just found");
    Ok(AssumeRoleResult {
        credentials: Credentials {
            access_key_id: session.id,
            secret_access_key: session.secret,
            session_token: session.token,
            expiration: expires,
        },
        assumed_role_user: AssumedRoleUser {
            arn: who.arn,
            assumed_role_id: who.user_id,
        },
    })
}

/// GetSessionToken: temporary credentials standing for the IAM user who asks. Only long-term
/// user keys may call it.
pub fn get_session_token(
    world: &mut World,
    clock: &dyn Clock,
    caller: &Principal,
    duration_seconds: Option<u32>,
) -> Result<Credentials, AwsError> {
    let duration = duration_seconds.unwrap_or(SESSION_TOKEN_DEFAULT);
    check_range(duration, ASSUME_ROLE_MIN, SESSION_TOKEN_MAX)?;
    let Principal::User { account, user } = caller else {
        // UNVERIFIED: wording as commonly reported for STS.
        return Err(AwsError::sender(
            403,
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
        ));
    };
    let principal = Principal::SessionUser {
        account: account.clone(),
        user: user.clone(),
    };
    let expires = clock.now() + Duration::from_secs(duration.into());
    let s = world.aws.issue_session(principal, expires);
    Ok(Credentials {
        access_key_id: s.id,
        secret_access_key: s.secret,
        session_token: s.token,
        expiration: expires,
    })
}

// ------------------------------------------------------------------------------- rendering

fn credentials_el(c: &Credentials) -> El {
    El::new("Credentials")
        .child(El::text("AccessKeyId", &c.access_key_id))
        .child(El::text("SecretAccessKey", &c.secret_access_key))
        .child(El::text("SessionToken", &c.session_token))
        .child(El::text("Expiration", rfc3339(c.expiration)))
}

/// Reference aws.md 5.1, byte for byte apart from the values.
/// Written out directly rather than through [`El`]: this is the answer every login waits on, and
/// the layout is pinned by the fixture `tests/fixtures/sts/get_caller_identity_response.xml`.
pub fn get_caller_identity_xml(c: &CallerIdentity, request_id: &str) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"{STS_XMLNS}\">\n  <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        xml_escape(&c.arn),
        xml_escape(&c.user_id),
        xml_escape(&c.account),
        xml_escape(request_id),
    )
}

/// The JSON variant STS gives for `Accept: application/json` (reference aws.md 5.1).
pub fn get_caller_identity_json(c: &CallerIdentity, request_id: &str) -> String {
    serde_json::json!({
        "GetCallerIdentityResponse": {
            "GetCallerIdentityResult": {
                "Account": c.account,
                "Arn": c.arn,
                "UserId": c.user_id,
            },
            "ResponseMetadata": { "RequestId": request_id },
        }
    })
    .to_string()
}

pub fn assume_role_xml(r: &AssumeRoleResult, request_id: &str) -> String {
    El::new("AssumeRoleResponse")
        .xmlns(STS_XMLNS)
        .child(
            El::new("AssumeRoleResult")
                .child(credentials_el(&r.credentials))
                .child(
                    El::new("AssumedRoleUser")
                        .child(El::text("Arn", &r.assumed_role_user.arn))
                        .child(El::text(
                            "AssumedRoleId",
                            &r.assumed_role_user.assumed_role_id,
                        )),
                ),
        )
        .child(response_metadata(request_id))
        .render(2)
}

pub fn get_session_token_xml(c: &Credentials, request_id: &str) -> String {
    El::new("GetSessionTokenResponse")
        .xmlns(STS_XMLNS)
        .child(El::new("GetSessionTokenResult").child(credentials_el(c)))
        .child(response_metadata(request_id))
        .render(2)
}

// ------------------------------------------------------------------------------- handler

fn wants_json(call: &Call<'_>) -> bool {
    call.headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

pub(crate) fn handle(
    state: &AwsState,
    action: &str,
    call: &Call<'_>,
) -> Result<Response, AwsError> {
    let clock = state.sim.clock();
    match action {
        "GetCallerIdentity" => {
            let who = get_caller_identity(&state.sim.world(), &call.caller)?;
            if wants_json(call) {
                let mut resp = get_caller_identity_json(&who, &call.request_id).into_response();
                let h = resp.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                if let Ok(v) = HeaderValue::from_str(&call.request_id) {
                    h.insert("x-amzn-requestid", v);
                }
                return Ok(resp);
            }
            Ok(ok_xml(
                get_caller_identity_xml(&who, &call.request_id),
                call,
            ))
        }
        "AssumeRole" => {
            let req = AssumeRoleRequest::from_params(&call.params)?;
            let r = assume_role(&mut state.sim.world_mut(), clock, &call.caller, &req)?;
            Ok(ok_xml(assume_role_xml(&r, &call.request_id), call))
        }
        "GetSessionToken" => {
            let d = duration(&call.params)?;
            let c = get_session_token(&mut state.sim.world_mut(), clock, &call.caller, d)?;
            Ok(ok_xml(get_session_token_xml(&c, &call.request_id), call))
        }
        other => Err(AwsError::invalid_action_for(other, STS_VERSION)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_parse_with_paths() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/app-role"),
            Some(("111122223333", "/", "app-role"))
        );
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/a/b/app-role"),
            Some(("111122223333", "/a/b/", "app-role"))
        );
        for bad in [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:sts::111122223333:role/x",
            "arn:aws:iam::1111:role/x",
            "arn:aws:iam::111122223333:role/",
            "not-an-arn-at-all-xxxxxxxx",
        ] {
            assert_eq!(parse_role_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn session_names_follow_the_pattern() {
        assert!(session_name_ok("ci-run_42+x=y,z.w@h"));
        assert!(!session_name_ok("has space"));
        assert!(!session_name_ok("colon:no"));
    }
}
