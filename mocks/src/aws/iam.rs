//! AWS Identity and Access Management, Query API version 2010-05-08, the reads Vault makes
//! (<https://docs.aws.amazon.com/IAM/latest/APIReference/welcome.html>; reference aws.md 6.1, 1.7,
//! 1.9). Signed for service `iam` in `us-east-1`.
//!
//! Endpoints covered: `GetUser` (`UserName` optional: the calling user), `GetRole`,
//! `GetInstanceProfile`.
//!
//! **Not modelled:** every write and list operation; IAM policies (any authenticated principal in
//! an account may read it; other accounts' entities are never visible); `Tags`,
//! `PermissionsBoundary`, `RoleLastUsed`, `PasswordLastUsed`, `Description`; the refusal of IAM
//! calls made with GetSessionToken credentials that lack MFA.

use axum::response::Response;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::{AwsError, IAM_VERSION, IAM_XMLNS};
use super::xml::{response_metadata, El};
use super::{ok_xml, AwsState, Call};
use crate::clock::rfc3339;
use crate::world::aws::{
    instance_profile_arn, role_arn, user_arn, InstanceProfile, Principal, Role, User,
};
use crate::world::World;

// ------------------------------------------------------------------------------- wire types

/// A role as IAM describes it, with the account it lives in.
#[derive(Debug, Clone)]
pub struct RoleView {
    pub account: String,
    pub role: Role,
    /// The trust policy, JSON (IAM sends it URL-encoded).
    pub assume_role_policy: String,
}

#[derive(Debug, Clone)]
pub struct UserView {
    pub account: String,
    pub user: User,
}

#[derive(Debug, Clone)]
pub struct InstanceProfileView {
    pub account: String,
    pub profile: InstanceProfile,
    pub roles: Vec<RoleView>,
}

// ------------------------------------------------------------------------------- operations

fn no_such_entity(message: String) -> AwsError {
    AwsError::sender(404, "NoSuchEntity", message).iam()
}

fn check_name(value: &str, field: &str) -> Result<(), AwsError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let n = value.chars().count();
    let constraint = if n == 0 {
        "Member must have length greater than or equal to 1"
    } else if n > 128 {
        "Member must have length less than or equal to 128"
    } else if !value.chars().all(ok_char) {
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    } else {
        return Ok(());
    };
    // UNVERIFIED: IAM's validation wording is assumed to follow the Coral template.
    Err(AwsError::validation(Some(value), field, constraint).iam())
}

/// GetUser: a user of the caller's account, or the calling user when `name` is omitted.
pub fn get_user(
    world: &World,
    caller: &Principal,
    name: Option<&str>,
) -> Result<UserView, AwsError> {
    let account = caller.account();
    let name = match (name, caller) {
        (Some(n), _) => {
            check_name(n, "userName")?;
            n
        }
        (None, Principal::User { user, .. } | Principal::SessionUser { user, .. }) => user,
        (None, Principal::AssumedRole { .. }) => {
            // UNVERIFIED: wording as commonly reported for IAM.
            return Err(AwsError::sender(
                400,
                "ValidationError",
                "Must specify userName when calling with non-User credentials",
            )
            .iam());
        }
    };
    let user = world
        .aws
        .accounts
        .get(account)
        .and_then(|a| a.users.get(name))
        .ok_or_else(|| no_such_entity(format!("The user with name {name} cannot be found.")))?;
    Ok(UserView {
        account: account.to_owned(),
        user: user.clone(),
    })
}

/// The trust policy built from who may assume the role: account users and full ARNs as `AWS`
/// principals, `*` as itself, and `ec2.amazonaws.com` when an instance profile holds the role.
pub fn assume_role_policy(world: &World, account: &str, role: &Role) -> String {
    let acct = world.aws.accounts.get(account);
    let mut aws: Vec<String> = role
        .assumable_by
        .iter()
        .map(|who| {
            if who == "*" || who.starts_with("arn:") {
                who.clone()
            } else {
                let path = acct
                    .and_then(|a| a.users.get(who))
                    .map_or("/", |u| u.path.as_str());
                user_arn(account, path, who)
            }
        })
        .collect();
    aws.sort();
    let ec2 = acct.is_some_and(|a| {
        a.instance_profiles
            .values()
            .any(|p| p.role.as_deref() == Some(role.name.as_str()))
    });
    let mut statements = Vec::new();
    if !aws.is_empty() {
        statements.push(serde_json::json!({
            "Effect": "Allow",
            "Principal": { "AWS": if aws.len() == 1 { serde_json::json!(aws[0]) } else { serde_json::json!(aws) } },
            "Action": "sts:AssumeRole",
        }));
    }
    if ec2 {
        statements.push(serde_json::json!({
            "Effect": "Allow",
            "Principal": { "Service": "ec2.amazonaws.com" },
            "Action": "sts:AssumeRole",
        }));
    }
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

fn role_view(world: &World, account: &str, role: &Role) -> RoleView {
    RoleView {
        account: account.to_owned(),
        role: role.clone(),
        assume_role_policy: assume_role_policy(world, account, role),
    }
}

/// GetRole: a role of the caller's account.
pub fn get_role(world: &World, caller: &Principal, name: &str) -> Result<RoleView, AwsError> {
    check_name(name, "roleName")?;
    let account = caller.account();
    let role = world
        .aws
        .accounts
        .get(account)
        .and_then(|a| a.roles.get(name))
        .ok_or_else(|| no_such_entity(format!("The role with name {name} cannot be found.")))?;
    Ok(role_view(world, account, role))
}

/// GetInstanceProfile: an instance profile of the caller's account, with its role.
pub fn get_instance_profile(
    world: &World,
    caller: &Principal,
    name: &str,
) -> Result<InstanceProfileView, AwsError> {
    check_name(name, "instanceProfileName")?;
    let account = caller.account();
    let acct = world.aws.accounts.get(account);
    let profile = acct
        .and_then(|a| a.instance_profiles.get(name))
        // UNVERIFIED: IAM's wording for a missing instance profile.
        .ok_or_else(|| no_such_entity(format!("Instance Profile {name} cannot be found.")))?;
    let roles = profile
        .role
        .as_deref()
        .and_then(|r| acct?.roles.get(r))
        .map(|r| role_view(world, account, r))
        .into_iter()
        .collect();
    Ok(InstanceProfileView {
        account: account.to_owned(),
        profile: profile.clone(),
        roles,
    })
}

// ------------------------------------------------------------------------------- rendering

/// Characters IAM leaves unencoded in a policy document: RFC 3986's unreserved set.
const POLICY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn role_el(name: &str, v: &RoleView, with_max_session: bool) -> El {
    let r = &v.role;
    let mut el = El::new(name)
        .child(El::text("Path", &r.path))
        .child(El::text("Arn", role_arn(&v.account, &r.path, &r.name)))
        .child(El::text("RoleName", &r.name))
        .child(El::text(
            "AssumeRolePolicyDocument",
            utf8_percent_encode(&v.assume_role_policy, POLICY_ENCODE).to_string(),
        ))
        .child(El::text("CreateDate", rfc3339(r.created)))
        .child(El::text("RoleId", &r.role_id));
    if with_max_session {
        el = el.child(El::text(
            "MaxSessionDuration",
            r.max_session_duration.to_string(),
        ));
    }
    el
}

fn response(op: &str, result: El, request_id: &str) -> String {
    El::new(&format!("{op}Response"))
        .xmlns(IAM_XMLNS)
        .child(El::new(&format!("{op}Result")).child(result))
        .child(response_metadata(request_id))
        .render(2)
}

pub fn get_role_xml(v: &RoleView, request_id: &str) -> String {
    response("GetRole", role_el("Role", v, true), request_id)
}

pub fn get_user_xml(v: &UserView, request_id: &str) -> String {
    let u = &v.user;
    let user = El::new("User")
        .child(El::text("Path", &u.path))
        .child(El::text("UserName", &u.name))
        .child(El::text("UserId", &u.user_id))
        .child(El::text("Arn", user_arn(&v.account, &u.path, &u.name)))
        .child(El::text("CreateDate", rfc3339(u.created)));
    response("GetUser", user, request_id)
}

pub fn get_instance_profile_xml(v: &InstanceProfileView, request_id: &str) -> String {
    let p = &v.profile;
    let profile = El::new("InstanceProfile")
        .child(El::text("InstanceProfileId", &p.id))
        .child(El::new("Roles").children(v.roles.iter().map(|r| role_el("member", r, false))))
        .child(El::text("InstanceProfileName", &p.name))
        .child(El::text("Path", &p.path))
        .child(El::text(
            "Arn",
            instance_profile_arn(&v.account, &p.path, &p.name),
        ))
        .child(El::text("CreateDate", rfc3339(p.created)));
    response("GetInstanceProfile", profile, request_id)
}

// ------------------------------------------------------------------------------- handler

pub(crate) fn handle(
    state: &AwsState,
    action: &str,
    call: &Call<'_>,
) -> Result<Response, AwsError> {
    let world = state.sim.world();
    let p = &call.params;
    let id = &call.request_id;
    let body = match action {
        "GetUser" => get_user_xml(&get_user(&world, &call.caller, p.get("UserName"))?, id),
        "GetRole" => get_role_xml(&get_role(&world, &call.caller, p.require("RoleName")?)?, id),
        "GetInstanceProfile" => get_instance_profile_xml(
            &get_instance_profile(&world, &call.caller, p.require("InstanceProfileName")?)?,
            id,
        ),
        other => return Err(AwsError::invalid_action_for(other, IAM_VERSION)),
    };
    Ok(ok_xml(body, call))
}
