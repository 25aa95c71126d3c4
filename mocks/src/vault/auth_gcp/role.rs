//! `auth/<mount>/role/:name`, `role/:name/service-accounts`, `role/:name/labels`, and the lists
//! `role/` and `roles/` (reference gcp.md 3.3).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::fields::{dedupe, go_quote, Fields};
use super::{bad_request, VaultResult};
use crate::vault::backend::BackendResponse;

/// Default and largest `max_jwt_exp` (seconds).
pub(crate) const DEFAULT_MAX_JWT_EXP: i64 = 15 * 60;
pub(crate) const MAX_MAX_JWT_EXP: i64 = 60 * 60;

const IAM_ONLY: &[&str] = &["max_jwt_exp", "allow_gce_inference"];
const GCE_ONLY: &[&str] = &[
    "bound_zones",
    "bound_zone",
    "bound_regions",
    "bound_region",
    "bound_instance_groups",
    "bound_instance_group",
    "bound_labels",
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

/// Vault's common token fields (`tokenutil.TokenParams`). Durations in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenParams {
    pub(crate) policies: Vec<String>,
    pub(crate) ttl: i64,
    pub(crate) max_ttl: i64,
    pub(crate) explicit_max_ttl: i64,
    pub(crate) period: i64,
    pub(crate) num_uses: i64,
    pub(crate) no_default_policy: bool,
    pub(crate) bound_cidrs: Vec<String>,
    pub(crate) token_type: String,
    /// Which deprecated names were used, so that read shows them too.
    pub(crate) legacy_policies: bool,
    pub(crate) legacy_ttl: bool,
    pub(crate) legacy_max_ttl: bool,
    pub(crate) legacy_period: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub(crate) token: TokenParams,
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
            token: TokenParams {
                token_type: "default".into(),
                ..Default::default()
            },
        }
    }
}

/// `policyutil.SanitizePolicies`: trimmed, lower-cased, deduplicated, sorted.
pub(crate) fn sanitize_policies(p: &[String]) -> Vec<String> {
    dedupe(p.iter().map(|s| s.trim().to_lowercase()).collect())
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

/// `k:v` label strings → map.
fn parse_labels(items: &[String]) -> VaultResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        match item.split_once(':') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            // UNVERIFIED: reference/gcp.md §3.3 gives no text for a malformed label.
            _ => {
                return Err(bad_request(format!(
                    "invalid label {}: must be of the form key:value",
                    go_quote(item)
                )))
            }
        }
    }
    Ok(out)
}

fn token_fields(f: &Fields<'_>, t: &mut TokenParams) -> VaultResult<()> {
    if let Some(p) = f.string_list("token_policies")? {
        t.policies = sanitize_policies(&p);
        t.legacy_policies = false;
    } else if let Some(p) = f.string_list("policies")? {
        t.policies = sanitize_policies(&p);
        t.legacy_policies = true;
    }
    if let Some(v) = f.duration_secs("token_ttl")? {
        t.ttl = v;
        t.legacy_ttl = false;
    } else if let Some(v) = f.duration_secs("ttl")? {
        t.ttl = v;
        t.legacy_ttl = true;
    }
    if let Some(v) = f.duration_secs("token_max_ttl")? {
        t.max_ttl = v;
        t.legacy_max_ttl = false;
    } else if let Some(v) = f.duration_secs("max_ttl")? {
        t.max_ttl = v;
        t.legacy_max_ttl = true;
    }
    if let Some(v) = f.duration_secs("token_period")? {
        t.period = v;
        t.legacy_period = false;
    } else if let Some(v) = f.duration_secs("period")? {
        t.period = v;
        t.legacy_period = true;
    }
    if let Some(v) = f.duration_secs("token_explicit_max_ttl")? {
        t.explicit_max_ttl = v;
    }
    if let Some(v) = f.int("token_num_uses")? {
        if v < 0 {
            // UNVERIFIED: tokenutil's wording.
            return Err(bad_request("'token_num_uses' cannot be negative"));
        }
        t.num_uses = v;
    }
    if let Some(v) = f.bool("token_no_default_policy")? {
        t.no_default_policy = v;
    }
    if let Some(v) = f.string_list("token_bound_cidrs")? {
        for c in &v {
            if !valid_cidr(c) {
                // UNVERIFIED: tokenutil/parseutil's wording.
                return Err(bad_request(format!("invalid CIDR address: {c}")));
            }
        }
        t.bound_cidrs = v;
    }
    if let Some(v) = f.string("token_type")? {
        let v = if v.is_empty() {
            "default".to_owned()
        } else {
            v
        };
        if ![
            "default",
            "service",
            "batch",
            "default-service",
            "default-batch",
        ]
        .contains(&v.as_str())
        {
            // UNVERIFIED: tokenutil's wording.
            return Err(bad_request(format!(
                "invalid 'token_type' value {}",
                go_quote(&v)
            )));
        }
        t.token_type = v;
    }
    if t.max_ttl > 0 && t.ttl > t.max_ttl {
        // UNVERIFIED: the plugin's wording for ttl > max_ttl.
        return Err(bad_request("ttl should not be greater than max ttl"));
    }
    Ok(())
}

fn valid_cidr(c: &str) -> bool {
    let (addr, bits) = match c.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (c, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.is_none_or(|b| b.parse::<u8>().is_ok_and(|n| n <= max))
}

/// `POST role/:name`; `existing` is the stored role under the lower-cased name.
pub(crate) fn write(
    existing: Option<&Role>,
    data: &Map<String, Value>,
) -> VaultResult<(Role, Vec<String>)> {
    let f = Fields::new(data);
    let requested_type = f.string("type")?.unwrap_or_default();
    let mut role = match existing {
        Some(r) => {
            if !requested_type.is_empty() && requested_type != r.role_type.name() {
                return Err(bad_request(
                    "role type cannot be changed for an existing role",
                ));
            }
            r.clone()
        }
        None => {
            let t = match requested_type.as_str() {
                "" => return Err(bad_request("role type cannot be empty")),
                "iam" => RoleType::Iam,
                "gce" => RoleType::Gce,
                other => return Err(bad_request(format!("role type '{other}' is invalid"))),
            };
            Role::new(t)
        }
    };

    // Fields of the other role type.
    let foreign = match role.role_type {
        RoleType::Iam => GCE_ONLY,
        RoleType::Gce => IAM_ONLY,
    };
    let mut found: Vec<&str> = foreign.iter().copied().filter(|k| f.has(k)).collect();
    found.sort();
    if !found.is_empty() {
        // UNVERIFIED: how several names are joined (reference/gcp.md §3.3 shows one).
        return Err(bad_request(format!(
            "invalid args found for role of type {}: {}",
            role.role_type.name(),
            found.join(", ")
        )));
    }

    if let Some(v) = f.string_list("bound_service_accounts")? {
        role.bound_service_accounts = dedupe(v);
    } else if let Some(v) = f.string_list("service_accounts")? {
        role.bound_service_accounts = dedupe(v);
    }
    if let Some(v) = f.string_list("bound_projects")? {
        role.bound_projects = dedupe(v);
    } else if let Some(v) = f.string("project_id")? {
        role.bound_projects = dedupe(vec![v]);
    }
    if let Some(v) = f.bool("add_group_aliases")? {
        role.add_group_aliases = v;
    }
    token_fields(&f, &mut role.token)?;

    let mut warnings = Vec::new();
    match role.role_type {
        RoleType::Iam => {
            if let Some(v) = f.duration_secs("max_jwt_exp")? {
                role.max_jwt_exp = v;
            }
            if let Some(v) = f.bool("allow_gce_inference")? {
                role.allow_gce_inference = v;
            }
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
            if let Some(v) = f.string_list("bound_zones")? {
                role.bound_zones = dedupe(v);
            } else if let Some(v) = f.string("bound_zone")? {
                role.bound_zones = dedupe(vec![v]);
            }
            if let Some(v) = f.string_list("bound_regions")? {
                role.bound_regions = dedupe(v);
            } else if let Some(v) = f.string("bound_region")? {
                role.bound_regions = dedupe(vec![v]);
            }
            if let Some(v) = f.string_list("bound_instance_groups")? {
                role.bound_instance_groups = dedupe(v);
            } else if let Some(v) = f.string("bound_instance_group")? {
                role.bound_instance_groups = dedupe(vec![v]);
            }
            if let Some(v) = f.string_list("bound_labels")? {
                role.bound_labels = parse_labels(&v)?;
            }
            if !role.bound_instance_groups.is_empty()
                && role.bound_zones.is_empty()
                && role.bound_regions.is_empty()
            {
                return Err(bad_request(
                    "region or zone information must be specified if an instance group is given",
                ));
            }
            if !role.bound_zones.is_empty() && !role.bound_regions.is_empty() {
                // UNVERIFIED: reference/gcp.md §3.3 says "warning" without its text.
                warnings.push(
                    "Both zones and regions were given. Only the zones will be checked; the regions are ignored."
                        .to_owned(),
                );
            }
        }
    }
    Ok((role, warnings))
}

fn secs(v: i64) -> Value {
    json!(v)
}

/// `GET role/:name`.
pub(crate) fn read(role: &Role) -> BackendResponse {
    let t = &role.token;
    let mut data = json!({
        "role_id": role.role_id,
        "type": role.role_type.name(),
        "bound_service_accounts": role.bound_service_accounts,
        "bound_projects": role.bound_projects,
        "add_group_aliases": role.add_group_aliases,
        "token_bound_cidrs": t.bound_cidrs,
        "token_explicit_max_ttl": secs(t.explicit_max_ttl),
        "token_max_ttl": secs(t.max_ttl),
        "token_no_default_policy": t.no_default_policy,
        "token_num_uses": t.num_uses,
        "token_period": secs(t.period),
        "token_policies": t.policies,
        "token_ttl": secs(t.ttl),
        "token_type": t.token_type,
    });
    match role.role_type {
        RoleType::Iam => {
            data["max_jwt_exp"] = secs(role.max_jwt_exp);
            data["allow_gce_inference"] = role.allow_gce_inference.into();
        }
        RoleType::Gce => {
            data["bound_zones"] = json!(role.bound_zones);
            data["bound_regions"] = json!(role.bound_regions);
            data["bound_instance_groups"] = json!(role.bound_instance_groups);
            data["bound_labels"] = json!(role.bound_labels);
        }
    }
    if t.legacy_policies {
        data["policies"] = json!(t.policies);
    }
    if t.legacy_ttl {
        data["ttl"] = secs(t.ttl);
    }
    if t.legacy_max_ttl {
        data["max_ttl"] = secs(t.max_ttl);
    }
    if t.legacy_period {
        data["period"] = secs(t.period);
    }
    BackendResponse::Data {
        data,
        warnings: Vec::new(),
    }
}

/// `POST role/:name/service-accounts` with `add` and `remove` lists (iam roles).
pub(crate) fn edit_service_accounts(
    role: &Role,
    name: &str,
    data: &Map<String, Value>,
) -> VaultResult<Role> {
    if role.role_type != RoleType::Iam {
        // UNVERIFIED: the plugin's wording for editing a gce role's accounts here.
        return Err(bad_request(format!(
            "role {} is not an iam role",
            go_quote(name)
        )));
    }
    let f = Fields::new(data);
    let add = f.string_list("add")?.unwrap_or_default();
    let remove = f.string_list("remove")?.unwrap_or_default();
    let mut next = role.clone();
    let mut list = role.bound_service_accounts.clone();
    list.extend(add);
    list.retain(|s| !remove.contains(s));
    next.bound_service_accounts = dedupe(list);
    if next.bound_service_accounts.is_empty() {
        return Err(bad_request(
            "IAM role type must have at least one service account",
        ));
    }
    if next.bound_service_accounts.len() > 1 && next.bound_service_accounts.iter().any(|s| s == "*")
    {
        return Err(bad_request(
            "cannot provide IAM service account wildcard '*' (for all service accounts) with other service accounts",
        ));
    }
    Ok(next)
}

/// `POST role/:name/labels` with `add` (`k:v`) and `remove` (keys) lists (gce roles).
pub(crate) fn edit_labels(role: &Role, name: &str, data: &Map<String, Value>) -> VaultResult<Role> {
    if role.role_type != RoleType::Gce {
        // UNVERIFIED: the plugin's wording for editing an iam role's labels.
        return Err(bad_request(format!(
            "role {} is not a gce role",
            go_quote(name)
        )));
    }
    let f = Fields::new(data);
    let add = parse_labels(&f.string_list("add")?.unwrap_or_default())?;
    let remove = f.string_list("remove")?.unwrap_or_default();
    let mut next = role.clone();
    next.bound_labels.extend(add);
    for k in remove {
        next.bound_labels.remove(&k);
    }
    Ok(next)
}
