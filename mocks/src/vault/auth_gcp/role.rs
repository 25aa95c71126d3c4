//! `auth/<mount>/role/:name`, `role/:name/service-accounts`, `role/:name/labels`, and the lists
//! `role/` and `roles/` (reference gcp.md 3.3), as the plugin's `path_role.go` and `gcp_role.go`
//! write, check and read them.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::fields::{go_quote, go_quoted_list, Fields};
use super::{bad_request, VaultResult};
use crate::vault::backend::{BackendResponse, VaultError};
use crate::vault::fields::{go_duration, remove_duplicates, Input};
use crate::vault::token::TokenSettings;

/// Default and largest `max_jwt_exp` (seconds).
pub(crate) const DEFAULT_MAX_JWT_EXP: i64 = 15 * 60;
pub(crate) const MAX_MAX_JWT_EXP: i64 = 60 * 60;

/// The system's default and max lease TTL (768 h) that the plugin's checks compare with (a
/// tuned mount's own are not looked at).
const SYSTEM_TTL: i64 = 768 * 3600;

/// The role path's fields (`baseRoleFieldSchema`, `tokenutil.AddTokenFields`, the iam-only,
/// gce-only and deprecated ones); any other is an unknown field.
const BASE_FIELDS: &[&str] = &[
    "name",
    "type",
    "policies",
    "ttl",
    "max_ttl",
    "period",
    "bound_projects",
    "bound_service_accounts",
    "add_group_aliases",
    "token_bound_cidrs",
    "token_explicit_max_ttl",
    "token_max_ttl",
    "token_no_default_policy",
    "token_num_uses",
    "token_period",
    "token_policies",
    "token_ttl",
    "token_type",
];
const IAM_ONLY: &[&str] = &["max_jwt_exp", "allow_gce_inference"];
const GCE_ONLY: &[&str] = &[
    "bound_zones",
    "bound_regions",
    "bound_instance_groups",
    "bound_labels",
];
const DEPRECATED: &[&str] = &[
    "service_accounts",
    "project_id",
    "bound_zone",
    "bound_region",
    "bound_instance_group",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleType {
    Iam,
    Gce,
}

impl RoleType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            RoleType::Iam => "iam",
            RoleType::Gce => "gce",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Role {
    pub(crate) role_type: RoleType,
    pub(crate) role_id: String,
    pub(crate) bound_service_accounts: Vec<String>,
    pub(crate) bound_projects: Vec<String>,
    pub(crate) add_group_aliases: bool,
    pub(crate) max_jwt_exp: i64,
    pub(crate) allow_gce_inference: bool,
    pub(crate) bound_zones: Vec<String>,
    pub(crate) bound_regions: Vec<String>,
    pub(crate) bound_instance_groups: Vec<String>,
    pub(crate) bound_labels: BTreeMap<String, String>,
    /// The common token fields (Vault's `tokenutil`), with the deprecated names used.
    pub(crate) token: TokenSettings,
}

impl Role {
    fn new(role_type: RoleType) -> Self {
        Self {
            role_type,
            role_id: uuid::Uuid::new_v4().to_string(),
            bound_service_accounts: Vec::new(),
            bound_projects: Vec::new(),
            add_group_aliases: false,
            max_jwt_exp: DEFAULT_MAX_JWT_EXP,
            allow_gce_inference: true,
            bound_zones: Vec::new(),
            bound_regions: Vec::new(),
            bound_instance_groups: Vec::new(),
            bound_labels: BTreeMap::new(),
            token: TokenSettings {
                token_type: "default".into(),
                ..TokenSettings::default()
            },
        }
    }
}

/// `policyutil.SanitizePolicies`: trimmed, lower-cased, deduplicated, sorted.
pub(crate) fn sanitize_policies(p: &[String]) -> Vec<String> {
    remove_duplicates(p, true)
}

/// Role names as the framework accepts them in a path (`framework.GenericNameRegex`).
pub(crate) fn valid_name(name: &str) -> bool {
    let ok = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => false,
        [c] => ok(*c),
        [first, mid @ .., last] => {
            ok(*first) && ok(*last) && mid.iter().all(|c| ok(*c) || *c == '-' || *c == '.')
        }
    }
}

/// The plugin's `validateFields`: 422 `unknown fields: ["a" "b"]` (sorted) for any key the
/// path's schema does not have.
pub(crate) fn reject_unknown(data: &Map<String, Value>, known: &[&[&str]]) -> VaultResult<()> {
    let mut unknown: Vec<String> = data
        .keys()
        .filter(|k| !known.iter().any(|set| set.contains(&k.as_str())))
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(VaultError {
        status: 422,
        errors: vec![format!("unknown fields: {}", go_quoted_list(&unknown))],
    })
}

/// go-gcp-common's `ParseGcpLabels`: `key:value` with the key `[a-z][\w-]*` and the value
/// `[\w-]*` (ASCII word characters); the labels that do not match, in order.
fn parse_labels(items: &[String]) -> (BTreeMap<String, String>, Vec<String>) {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut parsed = BTreeMap::new();
    let mut invalid = Vec::new();
    for item in items {
        match item.split_once(':') {
            Some((k, v))
                if k.starts_with(|c: char| c.is_ascii_lowercase())
                    && k.chars().all(word)
                    && v.chars().all(word) =>
            {
                parsed.insert(k.to_owned(), v.to_owned());
            }
            _ => invalid.push(item.clone()),
        }
    }
    (parsed, invalid)
}

/// `strutil.TrimStrings` then `strutil.RemoveDuplicates(…, false)`: trimmed, deduplicated and
/// sorted.
fn trimmed(list: Vec<String>) -> Vec<String> {
    remove_duplicates(&list, false)
}

/// `POST role/:name` (`pathRoleCreateUpdate`, `updateRole`, then `storeRole`'s `validate`):
/// the role to store and the write's warnings. `existing` is the stored role under the
/// lower-cased name.
pub(crate) fn write(
    existing: Option<&Role>,
    data: &Map<String, Value>,
) -> VaultResult<(Role, Vec<String>)> {
    reject_unknown(data, &[BASE_FIELDS, IAM_ONLY, GCE_ONLY, DEPRECATED])?;
    let f = Fields::new(data);
    let created = existing.is_none();
    // `ParseTokenFields` and the deprecated names first: the role type is not known yet.
    let mut token = existing.map_or_else(|| Role::new(RoleType::Iam).token, |r| r.token.clone());
    let input = Input::new(data.clone());
    token.parse(&input)?;
    token.upgrade(&input, &["policies", "ttl", "max_ttl", "period"])?;
    let given_type = f.string("type")?;
    let mut role = match (existing, given_type.as_deref()) {
        (Some(r), Some(t)) if t != r.role_type.name() => {
            return Err(bad_request(
                "role type cannot be changed for an existing role",
            ))
        }
        (Some(r), _) => r.clone(),
        (None, None) => return Err(bad_request("role type cannot be empty")),
        (None, Some("iam")) => Role::new(RoleType::Iam),
        (None, Some("gce")) => Role::new(RoleType::Gce),
        // `validate` refuses it when the role is stored; nothing before it fails on the type.
        (None, Some("")) => return Err(bad_request("role type cannot be empty")),
        (None, Some(other)) => return Err(bad_request(format!("role type '{other}' is invalid"))),
    };
    role.token = token;
    // Warnings gathered up to here (token TTLs, `service_accounts`, `project_id`) are replaced
    // by what the type's own update returns (`warnings, err = role.updateIamFields(…)`), so
    // none of them reaches the client.
    if let Some(v) = f.string_list("bound_service_accounts")? {
        role.bound_service_accounts = trimmed(v);
    } else if let Some(v) = f.string_list("service_accounts")? {
        role.bound_service_accounts = trimmed(v);
    }
    let given_projects = f.string_list("bound_projects")?;
    let given_projects_flag = given_projects.is_some();
    if let Some(v) = given_projects {
        role.bound_projects = v;
    }
    if let Some(p) = f.string("project_id")? {
        if given_projects_flag {
            return Err(bad_request(
                "only one of 'bound_projects' or 'project_id' can be given",
            ));
        }
        role.bound_projects = vec![p];
    }
    role.bound_projects = trimmed(std::mem::take(&mut role.bound_projects));
    if let Some(v) = f.bool("add_group_aliases")? {
        role.add_group_aliases = v;
    }
    let foreign = match role.role_type {
        RoleType::Iam => GCE_ONLY,
        RoleType::Gce => IAM_ONLY,
    };
    // Go's map order; sorted here so that one request always gets one answer. The type is
    // `data.Get("type")`: empty on an update that does not send it.
    let mut found: Vec<&str> = foreign
        .iter()
        .copied()
        .filter(|k| data.contains_key(*k))
        .collect();
    found.sort_unstable();
    if !found.is_empty() {
        return Err(bad_request(format!(
            "invalid args found for role of type {}: {}",
            given_type.unwrap_or_default(),
            found.join(",")
        )));
    }
    let mut warnings = match role.role_type {
        RoleType::Iam => {
            if let Some(v) = f.bool("allow_gce_inference")? {
                role.allow_gce_inference = v;
            }
            if let Some(v) = f.duration_secs("max_jwt_exp")? {
                role.max_jwt_exp = v;
            } else if created {
                role.max_jwt_exp = DEFAULT_MAX_JWT_EXP;
            }
            Vec::new()
        }
        RoleType::Gce => gce_fields(&mut role, &f)?,
    };
    warnings.extend(validate(&role)?);
    Ok((role, warnings))
}

/// `updateGceFields`: the gce bindings, the deprecated singular names appended (and refused
/// beside their plural), labels; its warnings.
fn gce_fields(role: &mut Role, f: &Fields<'_>) -> VaultResult<Vec<String>> {
    if let Some(v) = f.string_list("bound_regions")? {
        role.bound_regions = v;
    }
    if let Some(v) = f.string_list("bound_zones")? {
        role.bound_zones = v;
    }
    if let Some(v) = f.string_list("bound_instance_groups")? {
        role.bound_instance_groups = v;
    }
    let mut warnings = Vec::new();
    for (single, plural, what) in [
        ("bound_region", "bound_regions", "region"),
        ("bound_zone", "bound_zones", "zone"),
        (
            "bound_instance_group",
            "bound_instance_groups",
            "instance group",
        ),
    ] {
        let Some(v) = f.string(single)? else { continue };
        if f.has(plural) {
            return Err(bad_request(format!(
                "cannot specify both \"{single}\" and \"{plural}\""
            )));
        }
        warnings.push(format!(
            "The \"{single}\" field is deprecated. Please use \"{plural}\" (plural) instead. You can still specify a single {what}, but multiple {what}s are also now supported. The \"{single}\" field will be removed in a later release, so please update accordingly."
        ));
        let list = match single {
            "bound_region" => &mut role.bound_regions,
            "bound_zone" => &mut role.bound_zones,
            _ => &mut role.bound_instance_groups,
        };
        list.push(v);
    }
    if let Some(v) = f.string_list("bound_labels")? {
        let (labels, invalid) = parse_labels(&v);
        if !invalid.is_empty() {
            return Err(bad_request(format!(
                "invalid labels given: {}",
                go_quoted_list(&invalid)
            )));
        }
        role.bound_labels = labels;
    }
    role.bound_regions = trimmed(std::mem::take(&mut role.bound_regions));
    role.bound_zones = trimmed(std::mem::take(&mut role.bound_zones));
    role.bound_instance_groups = trimmed(std::mem::take(&mut role.bound_instance_groups));
    Ok(warnings)
}

/// `gcpRole.validate`, run as the role is stored (after a write or an edit): the type's rules,
/// then the TTL checks; its warnings.
fn validate(role: &Role) -> VaultResult<Vec<String>> {
    let mut warnings = Vec::new();
    match role.role_type {
        RoleType::Iam => {
            if role.bound_service_accounts.is_empty() {
                return Err(bad_request(
                    "IAM role type must have at least one service account",
                ));
            }
            if role.bound_service_accounts.len() > 1
                && role.bound_service_accounts.iter().any(|s| s == "*")
            {
                return Err(bad_request(
                    "cannot provide IAM service account wildcard '*' (for all service accounts) with other service accounts",
                ));
            }
            if role.max_jwt_exp > MAX_MAX_JWT_EXP {
                return Err(bad_request("max_jwt_exp cannot be more than 60 minutes"));
            }
        }
        RoleType::Gce => {
            let (regions, zones) = (!role.bound_regions.is_empty(), !role.bound_zones.is_empty());
            if !role.bound_instance_groups.is_empty() && !regions && !zones {
                return Err(bad_request(
                    "region or zone information must be specified if an instance group is given",
                ));
            }
            if regions && zones {
                warnings.push("Given both \"bound_regions\" and \"bound_zones\" fields for role type \"gce\", \"bound_regions\" will be ignored in favor of the more specific \"bound_zones\" field. To fix this warning, update the role to remove either the \"bound_regions\" or \"bound_zones\" field.".to_owned());
            }
        }
    }
    let t = &role.token;
    if t.ttl > SYSTEM_TTL {
        warnings.push(format!("Given ttl of {} seconds greater than current mount/system default of {SYSTEM_TTL} seconds; ttl will be capped at login time", t.ttl));
    }
    if t.max_ttl > SYSTEM_TTL {
        warnings.push(format!("Given max_ttl of {} seconds greater than current mount/system default of {SYSTEM_TTL} seconds; max_ttl will be capped at login time", t.max_ttl));
    }
    if t.max_ttl != 0 && t.max_ttl < t.ttl {
        return Err(bad_request("ttl should be shorter than max_ttl"));
    }
    if t.period > SYSTEM_TTL {
        return Err(bad_request(format!(
            "'period' of '{}' is greater than the backend's maximum lease TTL of '{}'",
            go_duration(t.period),
            go_duration(SYSTEM_TTL)
        )));
    }
    Ok(warnings)
}

/// `GET role/:name` (`pathRoleRead`): the token fields, then the role's; empty bindings and a
/// zero `max_jwt_exp` are left out.
pub(crate) fn read(role: &Role) -> BackendResponse {
    let mut m = Map::new();
    role.token.write_json(&mut m);
    m.insert("role_id".into(), json!(role.role_id));
    m.insert("type".into(), json!(role.role_type.name()));
    let mut list = |k: &str, v: &[String]| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    list("bound_service_accounts", &role.bound_service_accounts);
    list("bound_projects", &role.bound_projects);
    m.insert("add_group_aliases".into(), json!(role.add_group_aliases));
    match role.role_type {
        RoleType::Iam => {
            if role.max_jwt_exp != 0 {
                m.insert("max_jwt_exp".into(), json!(role.max_jwt_exp));
            }
            m.insert(
                "allow_gce_inference".into(),
                json!(role.allow_gce_inference),
            );
        }
        RoleType::Gce => {
            for (k, v) in [
                ("bound_regions", &role.bound_regions),
                ("bound_zones", &role.bound_zones),
                ("bound_instance_groups", &role.bound_instance_groups),
            ] {
                if !v.is_empty() {
                    m.insert(k.into(), json!(v));
                }
            }
            if !role.bound_labels.is_empty() {
                m.insert("bound_labels".into(), json!(role.bound_labels));
            }
        }
    }
    BackendResponse::Data {
        data: Value::Object(m),
        warnings: Vec::new(),
    }
}

/// What an edit works on, in the plugin's order: no unknown fields, something to add or remove,
/// then the role and its type. The plugin goes on with a nil role when there is none, which
/// panics in the handler (the client's connection is dropped); the mock answers an error.
fn edit_target<'a>(
    role: Option<&'a Role>,
    name: &str,
    data: &Map<String, Value>,
    attribute: &str,
    expected: RoleType,
) -> VaultResult<(&'a Role, Vec<String>, Vec<String>)> {
    reject_unknown(data, &[&["name", "add", "remove"]])?;
    let f = Fields::new(data);
    let add = f.string_list("add")?.unwrap_or_default();
    let remove = f.string_list("remove")?.unwrap_or_default();
    if add.is_empty() && remove.is_empty() {
        return Err(bad_request(
            "must provide at least one value to add or remove",
        ));
    }
    // UNVERIFIED: no upstream text for a missing role (see above).
    let role =
        role.ok_or_else(|| bad_request(format!("role {} does not exist", go_quote(name))))?;
    if role.role_type != expected {
        return Err(bad_request(format!(
            "role is type '{}', cannot edit attribute '{attribute}' (expected role type: '{}')",
            role.role_type.name(),
            expected.name()
        )));
    }
    Ok((role, add, remove))
}

/// `POST role/:name/service-accounts` with `add` and `remove` lists (iam roles); the edited
/// role, checked as a write is, and its warnings. `role`: the stored role, if any.
pub(crate) fn edit_service_accounts(
    role: Option<&Role>,
    name: &str,
    data: &Map<String, Value>,
) -> VaultResult<(Role, Vec<String>)> {
    let (role, add, remove) = edit_target(role, name, data, "service_accounts", RoleType::Iam)?;
    let mut next = role.clone();
    let mut list = role.bound_service_accounts.clone();
    list.extend(add);
    list.retain(|s| !remove.contains(s));
    list.sort();
    list.dedup();
    next.bound_service_accounts = list;
    let warnings = validate(&next)?;
    Ok((next, warnings))
}

/// `POST role/:name/labels` with `add` (`k:v`) and `remove` (keys) lists (gce roles).
pub(crate) fn edit_labels(
    role: Option<&Role>,
    name: &str,
    data: &Map<String, Value>,
) -> VaultResult<(Role, Vec<String>)> {
    let (role, add, remove) = edit_target(role, name, data, "labels", RoleType::Gce)?;
    let (labels, invalid) = parse_labels(&add);
    if !invalid.is_empty() {
        return Err(bad_request(format!(
            "given invalid labels to add: {}",
            go_quoted_list(&invalid)
        )));
    }
    let mut next = role.clone();
    next.bound_labels.extend(labels);
    for k in remove {
        next.bound_labels.remove(&k);
    }
    let warnings = validate(&next)?;
    Ok((next, warnings))
}
