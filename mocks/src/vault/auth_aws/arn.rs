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
        let count = arn.split(':').count();
        if count != 6 {
            return Err(format!(
                "unrecognized arn: contains {count} colon-separated parts, expected 6"
            ));
        }
        let mut parts = arn.split(':');
        let mut next = || parts.next().unwrap_or_default();
        let (prefix, partition, service, _region, account, resource) =
            (next(), next(), next(), next(), next(), next());
        if prefix != "arn" {
            return Err("unrecognized arn: does not begin with \"arn:\"".into());
        }
        if service != "iam" && service != "sts" {
            return Err(format!(
                "unrecognized service: {service}, not one of iam or sts"
            ));
        }
        let segments = resource.split('/').count();
        if segments < 2 {
            return Err(format!(
                "unrecognized arn: {} contains fewer than 2 slash-separated parts",
                super::fields::go_quote(resource)
            ));
        }
        let (kind, rest) = resource.split_once('/').unwrap_or((resource, ""));
        let mut e = IamEntity {
            partition: partition.to_owned(),
            account: account.to_owned(),
            kind: kind.to_owned(),
            path: String::new(),
            friendly_name: String::new(),
            session: String::new(),
        };
        match kind {
            "assumed-role" => {
                if segments < 3 {
                    return Err(format!(
                        "unrecognized arn: {} contains fewer than 3 slash-separated parts",
                        super::fields::go_quote(resource)
                    ));
                }
                let mut names = rest.split('/');
                e.friendly_name = names.next().unwrap_or_default().to_owned();
                e.session = names.next().unwrap_or_default().to_owned();
            }
            "user" | "role" | "instance-profile" => {
                // The segments between the type and the name, joined with `/`.
                let (path, name) = rest.rsplit_once('/').unwrap_or(("", rest));
                e.path = path.to_owned();
                e.friendly_name = name.to_owned();
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

/// go-secure-stdlib's `strutil.GlobbedStringsMatch`, which the wildcard bindings use: only a
/// leading and a trailing `*` are wildcards (a `*` inside is a literal character), and a pattern
/// shorter than two characters (a bare `*`) must equal the text. Reference aws.md §1.7 says "glob
/// `*` anywhere"; the source is followed.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == text;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(_), Some(_)) => text.contains(&pattern[1..pattern.len() - 1]),
        (Some(rest), None) => text.ends_with(rest),
        (None, Some(rest)) => text.starts_with(rest),
        (None, None) => pattern == text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_strutils_leading_and_trailing_stars() {
        let arn = "arn:aws:iam::123456789012:role/team/app-web";
        assert!(glob_match("arn:aws:iam::123456789012:*", arn));
        assert!(glob_match("arn:aws:iam::123456789012:role/team/*", arn));
        assert!(glob_match("*:role/team/*", arn));
        assert!(!glob_match("arn:aws:iam::123456789012:role/*/app-*", arn));
        assert!(glob_match(
            "arn:aws:iam::123456789012:role/*/app-*",
            "arn:aws:iam::123456789012:role/*/app-web"
        ));
        assert!(!glob_match("*", arn));
        assert!(glob_match("*", "*"));
    }

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
