//! `role/<role>` (reference aws.md §1.12): the fields, their checks in write order, the read
//! output. Unique-ID resolution needs AWS calls and is done by the backend after [`Role::apply`].
//!
//! **Not modelled:** `role/<role>/tag` (role tags are stored, never issued or checked).

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::fields::{self, go_quote, Data};
use crate::vault::backend::VaultError;
use crate::vault::fields::{go_duration, Input};
use crate::vault::token::TokenSettings;

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
    /// The common token fields (Vault's `tokenutil`), with the deprecated names used.
    pub token: TokenSettings,
}

/// The bindings, in the order Vault checks them against the role's type.
const BIND_ORDER: &[&str] = &[
    "bound_account_id",
    "bound_region",
    "bound_ami_id",
    "bound_iam_instance_profile_arn",
    "bound_ec2_instance_id",
    "bound_iam_role_arn",
    "bound_iam_principal_arn",
    "bound_vpc_id",
    "bound_subnet_id",
];

/// Vault's system max lease TTL (768 h), in seconds.
const SYSTEM_MAX_TTL: i64 = 768 * 3600;

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
            token: TokenSettings {
                token_type: "default".into(),
                ..TokenSettings::default()
            },
        }
    }

    fn bind_mut(&mut self, name: &str) -> &mut Vec<String> {
        match name {
            "bound_region" => &mut self.bound_region,
            "bound_iam_principal_arn" => &mut self.bound_iam_principal_arn,
            "bound_account_id" => &mut self.bound_account_id,
            "bound_ami_id" => &mut self.bound_ami_id,
            "bound_ec2_instance_id" => &mut self.bound_ec2_instance_id,
            "bound_iam_role_arn" => &mut self.bound_iam_role_arn,
            "bound_iam_instance_profile_arn" => &mut self.bound_iam_instance_profile_arn,
            "bound_vpc_id" => &mut self.bound_vpc_id,
            _ => &mut self.bound_subnet_id,
        }
    }

    fn bind(&self, name: &str) -> &Vec<String> {
        match name {
            "bound_region" => &self.bound_region,
            "bound_iam_principal_arn" => &self.bound_iam_principal_arn,
            "bound_account_id" => &self.bound_account_id,
            "bound_ami_id" => &self.bound_ami_id,
            "bound_ec2_instance_id" => &self.bound_ec2_instance_id,
            "bound_iam_role_arn" => &self.bound_iam_role_arn,
            "bound_iam_instance_profile_arn" => &self.bound_iam_instance_profile_arn,
            "bound_vpc_id" => &self.bound_vpc_id,
            _ => &self.bound_subnet_id,
        }
    }

    /// The first part of a create or update, in Vault's order (`pathRoleCreateUpdate`): the
    /// old role (if any) with the bindings and `resolve_aws_unique_ids` of `data` applied. The
    /// caller then resolves unique IDs when [`Role::needs_resolution`] (before anything else is
    /// checked, as Vault does) and finishes with [`Role::finish`].
    pub(crate) fn bind_fields(old: Option<&Role>, data: &Data) -> Result<Role, VaultError> {
        let mut r = old
            .cloned()
            .unwrap_or_else(|| Role::new(uuid::Uuid::new_v4().to_string()));
        let list = |name: &str| fields::comma_list(data, name);
        for name in [
            "bound_ami_id",
            "bound_account_id",
            "bound_region",
            "bound_vpc_id",
            "bound_subnet_id",
        ] {
            if let Some(v) = list(name)? {
                *r.bind_mut(name) = v;
            }
        }
        if let Some(b) = fields::boolean(data, "resolve_aws_unique_ids")? {
            if r.resolve_aws_unique_ids && !b && old.is_some() {
                return Err(VaultError::bad_request(
                    "changing resolve_aws_unique_ids from true to false is not allowed",
                ));
            }
            r.resolve_aws_unique_ids = b;
        }
        for name in [
            "bound_iam_role_arn",
            "bound_iam_instance_profile_arn",
            "bound_ec2_instance_id",
        ] {
            if let Some(v) = list(name)? {
                *r.bind_mut(name) = v;
            }
        }
        if let Some(v) = list("bound_iam_principal_arn")? {
            r.bound_iam_principal_arn = v;
            r.bound_iam_principal_id.clear();
        }
        Ok(r)
    }

    /// The rest of a create (`created`) or update, after unique-ID resolution: the remaining
    /// fields and every cross-field rule, in Vault's order; the write's warnings.
    pub(crate) fn finish(&mut self, created: bool, data: &Data) -> Result<Vec<String>, VaultError> {
        let bad = |m: String| Err(VaultError::bad_request(m));
        if let Some(v) = fields::string(data, "inferred_entity_type")? {
            self.inferred_entity_type = v;
        }
        if let Some(v) = fields::string(data, "inferred_aws_region")? {
            self.inferred_aws_region = v;
        }
        if let Some(t) = fields::string(data, "auth_type")? {
            if self.auth_type.is_empty() {
                if t != "iam" && t != "ec2" {
                    return bad(format!("unrecognized auth_type: {t}"));
                }
                self.auth_type = t;
            } else if t != self.auth_type {
                return bad("changing auth_type on a role is not allowed".into());
            }
        } else if created {
            self.auth_type = "iam".into();
        }
        let ec2 = self.auth_type == "ec2";
        let mut ec2_binds_allowed = ec2;
        if !self.inferred_entity_type.is_empty() {
            if self.auth_type != "iam" {
                return bad("specified inferred_entity_type but didn't allow iam auth_type".into());
            }
            if self.inferred_entity_type != "ec2_instance" {
                return bad(format!(
                    "specified invalid inferred_entity_type: {}",
                    self.inferred_entity_type
                ));
            }
            if self.inferred_aws_region.is_empty() {
                return bad("specified inferred_entity_type but not inferred_aws_region".into());
            }
            ec2_binds_allowed = true;
        } else if !self.inferred_aws_region.is_empty() {
            return bad("specified inferred_aws_region but not inferred_entity_type".into());
        }
        let mut binds = 0;
        for name in BIND_ORDER {
            if self.bind(name).is_empty() {
                continue;
            }
            let refused = match *name {
                "bound_region" => (!ec2).then(|| {
                    "specified bound_region but not specifying ec2 auth_type".to_owned()
                }),
                "bound_iam_principal_arn" => (self.auth_type != "iam").then(|| {
                    "specified bound_iam_principal_arn but not specifying iam auth_type".to_owned()
                }),
                _ => (!ec2_binds_allowed).then(|| {
                    format!("specified {name} but not specifying ec2 auth_type or inferring ec2_instance")
                }),
            };
            if let Some(m) = refused {
                return bad(m);
            }
            binds += 1;
        }
        if binds == 0 {
            return bad("at least one bound parameter should be specified on the role".into());
        }
        // Given at all (even `false`) on a role of another type: refused.
        for (field, slot) in [
            (
                "disallow_reauthentication",
                &mut self.disallow_reauthentication,
            ),
            (
                "allow_instance_migration",
                &mut self.allow_instance_migration,
            ),
        ] {
            if let Some(b) = fields::boolean(data, field)? {
                if !ec2 {
                    return bad(format!("specified {field} when not using ec2 auth type"));
                }
                *slot = b;
            } else if created && ec2 {
                *slot = false;
            }
        }
        if self.allow_instance_migration && self.disallow_reauthentication {
            return bad(
                "cannot specify both disallow_reauthentication=true and allow_instance_migration=true"
                    .into(),
            );
        }
        // `ParseTokenFields` (its own texts, 400), then the deprecated names.
        let input = Input::new(data.clone());
        self.token.parse(&input)?;
        self.token
            .upgrade(&input, &["policies", "ttl", "max_ttl", "period"])?;
        let mut warnings = Vec::new();
        // `b.System().MaxLeaseTTL()`: the system's 768 h (a tuned mount's own max is not
        // looked at).
        if self.token.max_ttl > SYSTEM_MAX_TTL {
            warnings.push(format!(
                "Given max ttl of {} seconds greater than current mount/system default of {SYSTEM_MAX_TTL} seconds; max ttl will be capped at login time",
                self.token.max_ttl
            ));
        }
        if self.token.max_ttl != 0 && self.token.max_ttl < self.token.ttl {
            return bad("ttl should be shorter than max ttl".into());
        }
        if self.token.period > SYSTEM_MAX_TTL {
            return bad(format!(
                "period of {} is greater than the backend's maximum lease TTL of {}",
                go_quote(&go_duration(self.token.period)),
                go_quote(&go_duration(SYSTEM_MAX_TTL))
            ));
        }
        if let Some(v) = fields::string(data, "role_tag")? {
            if !ec2 {
                return bad("tried to enable role_tag when not using ec2 auth method".into());
            }
            self.role_tag = v;
            if self.role_tag.len() > 127 {
                return bad(
                    "length of role tag exceeds the EC2 key limit of 127 characters".into(),
                );
            }
        }
        Ok(warnings)
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
        let mut m = Map::new();
        for (k, v) in [
            ("role_id", json!(self.role_id)),
            ("auth_type", json!(self.auth_type)),
            ("bound_ami_id", json!(self.bound_ami_id)),
            ("bound_account_id", json!(self.bound_account_id)),
            ("bound_ec2_instance_id", json!(self.bound_ec2_instance_id)),
            (
                "bound_iam_principal_arn",
                json!(self.bound_iam_principal_arn),
            ),
            ("bound_iam_principal_id", json!(self.bound_iam_principal_id)),
            ("bound_iam_role_arn", json!(self.bound_iam_role_arn)),
            (
                "bound_iam_instance_profile_arn",
                json!(self.bound_iam_instance_profile_arn),
            ),
            ("bound_region", json!(self.bound_region)),
            ("bound_subnet_id", json!(self.bound_subnet_id)),
            ("bound_vpc_id", json!(self.bound_vpc_id)),
            ("inferred_entity_type", json!(self.inferred_entity_type)),
            ("inferred_aws_region", json!(self.inferred_aws_region)),
            ("resolve_aws_unique_ids", json!(self.resolve_aws_unique_ids)),
            ("role_tag", json!(self.role_tag)),
            (
                "allow_instance_migration",
                json!(self.allow_instance_migration),
            ),
            (
                "disallow_reauthentication",
                json!(self.disallow_reauthentication),
            ),
        ] {
            m.insert(k.into(), v);
        }
        self.token.write_json(&mut m);
        Value::Object(m)
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
