//! `role/<role>` (reference aws.md §1.12): the fields, their checks in write order, the read
//! output. Unique-ID resolution needs AWS calls and is done by the backend after [`Role::apply`].
//!
//! **Not modelled:** `role/<role>/tag` (role tags are stored, never issued or checked).

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::fields::{self, Data};
use crate::vault::backend::VaultError;

/// The `token_*` parameters (Vault's `tokenutil`).
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenParams {
    pub ttl: Duration,
    pub max_ttl: Duration,
    pub period: Duration,
    pub explicit_max_ttl: Duration,
    pub policies: Vec<String>,
    pub bound_cidrs: Vec<String>,
    pub no_default_policy: bool,
    pub num_uses: i64,
    pub token_type: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub role_id: String,
    pub auth_type: String,
    pub bound_iam_principal_arn: Vec<String>,
    pub bound_iam_principal_id: Vec<String>,
    pub resolve_aws_unique_ids: bool,
    pub inferred_entity_type: String,
    pub inferred_aws_region: String,
    pub bound_account_id: Vec<String>,
    pub bound_ami_id: Vec<String>,
    pub bound_ec2_instance_id: Vec<String>,
    pub bound_iam_role_arn: Vec<String>,
    pub bound_iam_instance_profile_arn: Vec<String>,
    pub bound_vpc_id: Vec<String>,
    pub bound_subnet_id: Vec<String>,
    pub bound_region: Vec<String>,
    pub role_tag: String,
    pub allow_instance_migration: bool,
    pub disallow_reauthentication: bool,
    pub token: TokenParams,
    /// Set through the deprecated names (`policies`, `ttl`, `max_ttl`, `period`): the read shows
    /// them too.
    pub legacy: [bool; 4],
}

const TOKEN_TYPES: &[&str] = &[
    "default",
    "service",
    "batch",
    "default-service",
    "default-batch",
];

/// The ec2 bindings, by field name.
const EC2_BINDS: &[&str] = &[
    "bound_account_id",
    "bound_ami_id",
    "bound_ec2_instance_id",
    "bound_iam_role_arn",
    "bound_iam_instance_profile_arn",
    "bound_vpc_id",
    "bound_subnet_id",
];

impl Role {
    fn new(role_id: String) -> Self {
        Self {
            role_id,
            auth_type: String::new(),
            bound_iam_principal_arn: Vec::new(),
            bound_iam_principal_id: Vec::new(),
            resolve_aws_unique_ids: true,
            inferred_entity_type: String::new(),
            inferred_aws_region: String::new(),
            bound_account_id: Vec::new(),
            bound_ami_id: Vec::new(),
            bound_ec2_instance_id: Vec::new(),
            bound_iam_role_arn: Vec::new(),
            bound_iam_instance_profile_arn: Vec::new(),
            bound_vpc_id: Vec::new(),
            bound_subnet_id: Vec::new(),
            bound_region: Vec::new(),
            role_tag: String::new(),
            allow_instance_migration: false,
            disallow_reauthentication: false,
            token: TokenParams {
                token_type: "default".into(),
                ..TokenParams::default()
            },
            legacy: [false; 4],
        }
    }

    fn ec2_bind_mut(&mut self, name: &str) -> &mut Vec<String> {
        match name {
            "bound_account_id" => &mut self.bound_account_id,
            "bound_ami_id" => &mut self.bound_ami_id,
            "bound_ec2_instance_id" => &mut self.bound_ec2_instance_id,
            "bound_iam_role_arn" => &mut self.bound_iam_role_arn,
            "bound_iam_instance_profile_arn" => &mut self.bound_iam_instance_profile_arn,
            "bound_vpc_id" => &mut self.bound_vpc_id,
            _ => &mut self.bound_subnet_id,
        }
    }

    fn ec2_bind(&self, name: &str) -> &Vec<String> {
        match name {
            "bound_account_id" => &self.bound_account_id,
            "bound_ami_id" => &self.bound_ami_id,
            "bound_ec2_instance_id" => &self.bound_ec2_instance_id,
            "bound_iam_role_arn" => &self.bound_iam_role_arn,
            "bound_iam_instance_profile_arn" => &self.bound_iam_instance_profile_arn,
            "bound_vpc_id" => &self.bound_vpc_id,
            _ => &self.bound_subnet_id,
        }
    }

    /// A create or update: the old role (if any) with `data` applied and checked. The caller
    /// then resolves unique IDs when [`Role::needs_resolution`].
    pub(crate) fn apply(old: Option<&Role>, data: &Data) -> Result<Role, VaultError> {
        let mut r = old
            .cloned()
            .unwrap_or_else(|| Role::new(uuid::Uuid::new_v4().to_string()));
        let list = |name: &str| fields::comma_list(data, name);

        if let Some(t) = fields::string(data, "auth_type")? {
            if old.is_some_and(|o| o.auth_type != t) {
                return Err(VaultError::bad_request(
                    "changing auth_type on a role is not allowed",
                ));
            }
            if t != "iam" && t != "ec2" {
                return Err(VaultError::bad_request(format!(
                    "unrecognized auth_type: {t}"
                )));
            }
            r.auth_type = t;
        } else if old.is_none() {
            r.auth_type = "iam".into();
        }
        for name in EC2_BINDS {
            if let Some(v) = list(name)? {
                *r.ec2_bind_mut(name) = v;
            }
        }
        if let Some(v) = list("bound_region")? {
            r.bound_region = v;
        }
        if let Some(v) = list("bound_iam_principal_arn")? {
            r.bound_iam_principal_arn = v;
            r.bound_iam_principal_id.clear();
        }
        if let Some(v) = fields::string(data, "inferred_entity_type")? {
            r.inferred_entity_type = v;
        }
        if let Some(v) = fields::string(data, "inferred_aws_region")? {
            r.inferred_aws_region = v;
        }
        if let Some(b) = fields::boolean(data, "resolve_aws_unique_ids")? {
            if r.resolve_aws_unique_ids && !b && old.is_some() {
                return Err(VaultError::bad_request(
                    "changing resolve_aws_unique_ids from true to false is not allowed",
                ));
            }
            r.resolve_aws_unique_ids = b;
        }
        if let Some(v) = fields::string(data, "role_tag")? {
            r.role_tag = v;
        }
        if let Some(b) = fields::boolean(data, "allow_instance_migration")? {
            r.allow_instance_migration = b;
        }
        if let Some(b) = fields::boolean(data, "disallow_reauthentication")? {
            r.disallow_reauthentication = b;
        }
        apply_token_fields(&mut r, data)?;
        r.check()?;
        Ok(r)
    }

    /// The cross-field rules, in Vault's order.
    fn check(&self) -> Result<(), VaultError> {
        let bad = |m: String| Err(VaultError::bad_request(m));
        let inferred = !self.inferred_entity_type.is_empty();
        if inferred {
            if self.inferred_entity_type != "ec2_instance" {
                return bad(format!(
                    "specified invalid inferred_entity_type: {}",
                    self.inferred_entity_type
                ));
            }
            if self.auth_type != "iam" {
                return bad("specified inferred_entity_type but didn't allow iam auth_type".into());
            }
            if self.inferred_aws_region.is_empty() {
                return bad("specified inferred_entity_type but not inferred_aws_region".into());
            }
        } else if !self.inferred_aws_region.is_empty() {
            return bad("specified inferred_aws_region but not inferred_entity_type".into());
        }
        let ec2_binds_allowed = self.auth_type == "ec2" || inferred;
        let mut binds = 0;
        for name in EC2_BINDS {
            if !self.ec2_bind(name).is_empty() {
                if !ec2_binds_allowed {
                    return bad(format!(
                        "specified {name} but not specifying ec2 auth_type or inferring ec2_instance"
                    ));
                }
                binds += 1;
            }
        }
        if !self.bound_region.is_empty() {
            // UNVERIFIED: bound_region is ec2-only per reference §1.12; the wording follows the
            // other ec2 bindings'.
            if self.auth_type != "ec2" {
                return bad("specified bound_region but not specifying ec2 auth_type".into());
            }
            binds += 1;
        }
        if !self.bound_iam_principal_arn.is_empty() {
            if self.auth_type != "iam" {
                return bad(
                    "specified bound_iam_principal_arn but not specifying iam auth_type".into(),
                );
            }
            binds += 1;
        }
        if binds == 0 {
            return bad("at least one bound parameter should be specified on the role".into());
        }
        if self.auth_type != "ec2" {
            // UNVERIFIED: wording of the ec2-only option errors.
            if !self.role_tag.is_empty() {
                return bad("tried to enable role_tag when not using ec2 auth method".into());
            }
            if self.allow_instance_migration {
                return bad(
                    "specified allow_instance_migration when not using ec2 auth type".into(),
                );
            }
            if self.disallow_reauthentication {
                return bad(
                    "specified disallow_reauthentication when not using ec2 auth type".into(),
                );
            }
        }
        if self.role_tag.len() > 127 {
            return bad("length of role tag exceeds the EC2 key limit of 127 characters".into());
        }
        if self.allow_instance_migration && self.disallow_reauthentication {
            return bad(
                "cannot specify both disallow_reauthentication=true and allow_instance_migration=true"
                    .into(),
            );
        }
        let t = &self.token;
        if !t.max_ttl.is_zero() && t.ttl > t.max_ttl {
            return bad("ttl should be shorter than max ttl".into());
        }
        Ok(())
    }

    /// Whether the bound ARNs still need their unique IDs looked up.
    pub(crate) fn needs_resolution(&self) -> bool {
        self.resolve_aws_unique_ids
            && self.bound_iam_principal_id.is_empty()
            && self
                .bound_iam_principal_arn
                .iter()
                .any(|a| !a.ends_with('*'))
    }

    /// The read: every field, lists as `[]` when empty.
    pub(crate) fn to_data(&self) -> Value {
        let t = &self.token;
        let mut d = json!({
            "role_id": self.role_id,
            "auth_type": self.auth_type,
            "bound_ami_id": self.bound_ami_id,
            "bound_account_id": self.bound_account_id,
            "bound_ec2_instance_id": self.bound_ec2_instance_id,
            "bound_iam_principal_arn": self.bound_iam_principal_arn,
            "bound_iam_principal_id": self.bound_iam_principal_id,
            "bound_iam_role_arn": self.bound_iam_role_arn,
            "bound_iam_instance_profile_arn": self.bound_iam_instance_profile_arn,
            "bound_region": self.bound_region,
            "bound_subnet_id": self.bound_subnet_id,
            "bound_vpc_id": self.bound_vpc_id,
            "inferred_entity_type": self.inferred_entity_type,
            "inferred_aws_region": self.inferred_aws_region,
            "resolve_aws_unique_ids": self.resolve_aws_unique_ids,
            "role_tag": self.role_tag,
            "allow_instance_migration": self.allow_instance_migration,
            "disallow_reauthentication": self.disallow_reauthentication,
            "token_ttl": t.ttl.as_secs(),
            "token_max_ttl": t.max_ttl.as_secs(),
            "token_period": t.period.as_secs(),
            "token_explicit_max_ttl": t.explicit_max_ttl.as_secs(),
            "token_policies": t.policies,
            "token_bound_cidrs": t.bound_cidrs,
            "token_no_default_policy": t.no_default_policy,
            "token_num_uses": t.num_uses,
            "token_type": t.token_type,
        });
        let [policies, ttl, max_ttl, period] = self.legacy;
        if let Value::Object(m) = &mut d {
            if policies {
                m.insert("policies".into(), json!(t.policies));
            }
            if ttl {
                m.insert("ttl".into(), json!(t.ttl.as_secs()));
            }
            if max_ttl {
                m.insert("max_ttl".into(), json!(t.max_ttl.as_secs()));
            }
            if period {
                m.insert("period".into(), json!(t.period.as_secs()));
            }
        }
        d
    }

    /// The token's policies: the role's plus `default` unless `token_no_default_policy`.
    pub(crate) fn login_policies(&self) -> Vec<String> {
        let mut p = self.token.policies.clone();
        if !self.token.no_default_policy && !p.iter().any(|x| x == "default") {
            p.push("default".into());
        }
        p.sort();
        p
    }
}

/// `policyutil.SanitizePolicies`: trimmed, lowercased, deduplicated, sorted.
fn sanitize_policies(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = list
        .into_iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn apply_token_fields(r: &mut Role, data: &Data) -> Result<(), VaultError> {
    let t = &mut r.token;
    // The `token_*` name wins over its deprecated alias.
    let durations: [(&str, &str, usize); 3] = [
        ("token_ttl", "ttl", 1),
        ("token_max_ttl", "max_ttl", 2),
        ("token_period", "period", 3),
    ];
    for (name, legacy, idx) in durations {
        let (value, is_legacy) = match fields::duration(data, name)? {
            Some(v) => (Some(v), false),
            None => (fields::duration(data, legacy)?, true),
        };
        if let Some(v) = value {
            let slot = match idx {
                1 => &mut t.ttl,
                2 => &mut t.max_ttl,
                _ => &mut t.period,
            };
            *slot = v;
            r.legacy[idx] = is_legacy;
        }
    }
    if let Some(v) = fields::duration(data, "token_explicit_max_ttl")? {
        t.explicit_max_ttl = v;
    }
    match fields::comma_list(data, "token_policies")? {
        Some(p) => {
            t.policies = sanitize_policies(p);
            r.legacy[0] = false;
        }
        None => {
            if let Some(p) = fields::comma_list(data, "policies")? {
                t.policies = sanitize_policies(p);
                r.legacy[0] = true;
            }
        }
    }
    if let Some(cidrs) = fields::comma_list(data, "token_bound_cidrs")? {
        for c in &cidrs {
            if parse_cidr(c).is_none() {
                // UNVERIFIED: wording of an unparseable CIDR.
                return Err(VaultError::bad_request(format!(
                    "invalid CIDR address: {c}"
                )));
            }
        }
        t.bound_cidrs = cidrs;
    }
    if let Some(b) = fields::boolean(data, "token_no_default_policy")? {
        t.no_default_policy = b;
    }
    if let Some(n) = fields::int(data, "token_num_uses")? {
        if n < 0 {
            // UNVERIFIED: wording.
            return Err(VaultError::bad_request("token_num_uses cannot be negative"));
        }
        t.num_uses = n;
    }
    if let Some(tt) = fields::string(data, "token_type")? {
        if !TOKEN_TYPES.contains(&tt.as_str()) {
            // UNVERIFIED: wording of an invalid token type.
            return Err(VaultError::bad_request(format!(
                "invalid 'token_type' value {}",
                fields::go_quote(&tt)
            )));
        }
        t.token_type = tt;
    }
    Ok(())
}

/// A CIDR (`10.0.0.0/8`) or a bare address (a /32 or /128).
pub(crate) fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a.parse::<IpAddr>().ok()?, Some(b.parse::<u8>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

/// Whether `ip` is inside one of `cidrs`.
pub(crate) fn cidrs_contain(cidrs: &[String], ip: IpAddr) -> bool {
    cidrs
        .iter()
        .filter_map(|c| parse_cidr(c))
        .any(|(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        })
}

/// Vault's role-name pattern (`framework.GenericNameRegex`): word characters, with `-` and `.`
/// allowed inside.
pub(crate) fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = name.chars();
    let (Some(first), Some(last)) = (chars.next(), name.chars().last()) else {
        return false;
    };
    word(first) && word(last) && name.chars().all(|c| word(c) || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_match_addresses_inside_them() {
        let c = vec!["10.0.0.0/8".to_owned(), "127.0.0.1".to_owned()];
        assert!(cidrs_contain(&c, "10.1.2.3".parse().unwrap()));
        assert!(cidrs_contain(&c, "127.0.0.1".parse().unwrap()));
        assert!(!cidrs_contain(&c, "192.168.0.1".parse().unwrap()));
        assert!(cidrs_contain(
            &["0.0.0.0/0".to_owned()],
            "8.8.8.8".parse().unwrap()
        ));
    }

    #[test]
    fn role_names_follow_the_generic_name_pattern() {
        assert!(valid_name("app"));
        assert!(valid_name("my-role.v2"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
    }
}
