//! IAM principal ARNs as Vault parses them (reference aws.md §1.6): the entity, its canonical
//! ARN (path dropped, `assumed-role` → `role`), and the `%v` rendering Vault's messages use.

use std::fmt;

/// A parsed principal ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IamEntity {
    pub partition: String,
    pub account: String,
    /// `user`, `role`, `instance-profile` or `assumed-role`.
    pub kind: String,
    /// The middle path segments joined with `/` (empty for none and for assumed roles).
    pub path: String,
    pub friendly_name: String,
    /// The session of an assumed role.
    pub session: String,
}

impl IamEntity {
    pub(crate) fn parse(arn: &str) -> Result<Self, String> {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() != 6 {
            return Err(format!(
                "unrecognized arn: contains {} colon-separated parts, expected 6",
                parts.len()
            ));
        }
        if parts[0] != "arn" {
            return Err("unrecognized arn: does not begin with \"arn:\"".into());
        }
        if parts[2] != "iam" && parts[2] != "sts" {
            return Err(format!(
                "unrecognized service: {}, not one of iam or sts",
                parts[2]
            ));
        }
        let resource: Vec<&str> = parts[5].split('/').collect();
        if resource.len() < 2 {
            return Err(format!(
                "unrecognized arn: {} contains fewer than 2 slash-separated parts",
                super::fields::go_quote(parts[5])
            ));
        }
        let kind = resource[0];
        let mut e = IamEntity {
            partition: parts[1].to_owned(),
            account: parts[4].to_owned(),
            kind: kind.to_owned(),
            path: String::new(),
            friendly_name: resource[resource.len() - 1].to_owned(),
            session: String::new(),
        };
        match kind {
            "assumed-role" => {
                if resource.len() < 3 {
                    return Err(format!(
                        "unrecognized arn: {} contains fewer than 3 slash-separated parts",
                        super::fields::go_quote(parts[5])
                    ));
                }
                e.friendly_name = resource[1].to_owned();
                e.session = resource[2].to_owned();
            }
            "user" | "role" | "instance-profile" => {
                e.path = resource[1..resource.len() - 1].join("/");
            }
            other => {
                return Err(format!(
                    "unrecognized principal type: {}",
                    super::fields::go_quote(other)
                ))
            }
        }
        Ok(e)
    }

    /// `arn:<partition>:iam::<account>:<type>/<name>`, path dropped, assumed roles as roles.
    pub(crate) fn canonical_arn(&self) -> String {
        let kind = if self.kind == "assumed-role" {
            "role"
        } else {
            &self.kind
        };
        format!(
            "arn:{}:iam::{}:{kind}/{}",
            self.partition, self.account, self.friendly_name
        )
    }
}

/// Go's `%v` of a `*iamEntity`: `&{aws 123456789012 assumed-role  RoleName session}`.
// UNVERIFIED: reference/aws.md §1.2 step 15 says `<%v of *iamEntity>`; field order assumed to be
// partition, account, type, path, friendly name, session.
impl fmt::Display for IamEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "&{{{} {} {} {} {} {}}}",
            self.partition, self.account, self.kind, self.path, self.friendly_name, self.session
        )
    }
}

/// `strutil.GlobbedStringsMatch`-style matching: `*` matches any run of characters.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    crate::faults::glob(pattern, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_roles_canonicalise_to_the_role() {
        let e = IamEntity::parse("arn:aws:sts::123456789012:assumed-role/RoleName/RoleSessionName")
            .unwrap();
        assert_eq!(e.friendly_name, "RoleName");
        assert_eq!(e.session, "RoleSessionName");
        assert_eq!(e.canonical_arn(), "arn:aws:iam::123456789012:role/RoleName");
    }

    #[test]
    fn paths_are_dropped_from_the_canonical_arn() {
        let e = IamEntity::parse("arn:aws:iam::1:role/a/b/MyRole").unwrap();
        assert_eq!(e.path, "a/b");
        assert_eq!(e.canonical_arn(), "arn:aws:iam::1:role/MyRole");
    }

    #[test]
    fn malformed_arns_are_named_as_vault_names_them() {
        assert_eq!(
            IamEntity::parse("arn:aws:iam::1").unwrap_err(),
            "unrecognized arn: contains 5 colon-separated parts, expected 6"
        );
        assert_eq!(
            IamEntity::parse("nra:aws:iam::1:user/x").unwrap_err(),
            "unrecognized arn: does not begin with \"arn:\""
        );
        assert_eq!(
            IamEntity::parse("arn:aws:s3::1:user/x").unwrap_err(),
            "unrecognized service: s3, not one of iam or sts"
        );
        assert_eq!(
            IamEntity::parse("arn:aws:iam::1:root").unwrap_err(),
            "unrecognized arn: \"root\" contains fewer than 2 slash-separated parts"
        );
        assert_eq!(
            IamEntity::parse("arn:aws:sts::1:federated-user/bob").unwrap_err(),
            "unrecognized principal type: \"federated-user\""
        );
    }
}
