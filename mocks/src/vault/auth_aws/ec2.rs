//! EC2 instances as Vault checks them: `DescribeInstances` and the role's instance bindings
//! (reference aws.md §1.8), shared by the inferred-`ec2_instance` iam login and the `ec2` login
//! (§3). The `ec2` login itself is in [`super::login_ec2`].

use std::time::SystemTime;

use super::fields::go_quote;
use super::role::Role;
use super::AwsAuthBackend;
use crate::vault::backend::VaultError;

/// What an ec2 login remembers per instance (the `identity-accesslist`).
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessListEntry {
    /// The role the instance logged in with (renewals read it from here, as Vault does).
    pub role: String,
    pub client_nonce: String,
    pub pending_time: String,
    pub disallow_reauthentication: bool,
    pub creation_time: Option<SystemTime>,
    pub last_updated_time: Option<SystemTime>,
    /// When a tidy would drop it: the last login or renewal plus the longest max TTL.
    pub expiration_time: Option<SystemTime>,
}

impl AccessListEntry {
    /// `identity-accesslist/<instance_id>` as Vault reads it.
    pub(crate) fn to_data(&self) -> serde_json::Value {
        let time = |t: Option<SystemTime>| {
            crate::vault::fields::rfc3339_nano(t.unwrap_or(std::time::UNIX_EPOCH))
        };
        serde_json::json!({
            "role": self.role,
            "client_nonce": self.client_nonce,
            "creation_time": time(self.creation_time),
            "disallow_reauthentication": self.disallow_reauthentication,
            "pending_time": self.pending_time,
            "expiration_time": time(self.expiration_time),
            "last_updated_time": time(self.last_updated_time),
        })
    }

    /// A login or renewal at `now` for a role whose max TTL is `role_max_ttl`.
    pub(crate) fn touch(&mut self, now: SystemTime, role_max_ttl: std::time::Duration) {
        // Vault's system max lease TTL (768 h), or the role's when longer.
        let longest = role_max_ttl.max(std::time::Duration::from_secs(768 * 3600));
        self.creation_time.get_or_insert(now);
        self.last_updated_time = Some(now);
        self.expiration_time = Some(now + longest);
    }
}

/// One instance from `DescribeInstances`.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstanceDesc {
    pub instance_id: String,
    /// `None`: the element is absent (Vault's SDK struct holds a nil pointer).
    pub image_id: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    /// `iamInstanceProfile`, and its `arn`.
    pub profile: Option<Option<String>>,
    pub state: Option<String>,
}

/// Why an instance does not meet a role (`verifyInstanceMeetsRoleRequirements` returns the two
/// kinds apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unmet {
    /// A requirement the instance fails: a 400 after `error validating instance: `.
    Requirement(String),
    /// The check itself could not be made: a plain error (500), as it is.
    Internal(String),
}

impl Unmet {
    /// The answer: `prefix` + the requirement as a 400, or the internal error as a 500.
    pub(crate) fn answer(self, prefix: &str) -> crate::vault::backend::VaultError {
        use crate::vault::backend::VaultError;
        match self {
            Unmet::Requirement(m) => VaultError::bad_request(format!("{prefix}{m}")),
            Unmet::Internal(m) => VaultError::internal(m),
        }
    }
}

/// `bound` matches `value`: a prefix when it ends in `*`, else exactly.
fn prefix_or_exact(bound: &str, value: &str) -> bool {
    match bound.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => bound == value,
    }
}

impl AwsAuthBackend {
    /// `DescribeInstances` for one running instance; the message Vault wraps on failure.
    pub(super) async fn describe_instance(
        &self,
        account: &str,
        region: &str,
        id: &str,
    ) -> Result<InstanceDesc, String> {
        // Vault's `validateInstance`: a client that cannot be made is its error as it is; only
        // the API call's failure is wrapped.
        let keys = self.keys_for_account(account).await?;
        let node = self
            .ec2_call(
                &keys,
                region,
                &[
                    ("Action", "DescribeInstances"),
                    ("Version", "2016-11-15"),
                    ("InstanceId.1", id),
                ],
            )
            .await
            .map_err(|e| {
                format!(
                    "error fetching description for instance ID {}: {e}",
                    go_quote(id)
                )
            })?;
        let reservations: Vec<_> = node
            .child("reservationSet")
            .map(|r| r.children_named("item").collect())
            .unwrap_or_default();
        let Some(reservation) = reservations.first() else {
            return Err("no reservations found in instance description".into());
        };
        let Some(instance) = reservation
            .child("instancesSet")
            .and_then(|s| s.children_named("item").next())
        else {
            return Err("no instance details found in reservations".into());
        };
        let text = |n: &super::xml::Node| n.text.trim().to_owned();
        let desc = InstanceDesc {
            instance_id: instance.text_at(&["instanceId"]),
            image_id: instance.child("imageId").map(text),
            subnet_id: instance.child("subnetId").map(text),
            vpc_id: instance.child("vpcId").map(text),
            profile: instance
                .child("iamInstanceProfile")
                .map(|p| p.child("arn").map(text)),
            state: instance
                .child("instanceState")
                .map(|s| s.text_at(&["name"])),
        };
        if desc.instance_id != id {
            return Err(
                "expected instance ID not matching the instance ID in the instance description"
                    .into(),
            );
        }
        match desc.state.as_deref() {
            None => Err("instance state in instance description is nil".into()),
            Some("running") => Ok(desc),
            Some(_) => Err("instance is not in 'running' state".into()),
        }
    }

    /// A renewal's check that the instance still runs: `failed to verify instance ID %q: …`,
    /// a plain error.
    pub(super) async fn instance_still_runs(
        &self,
        account: &str,
        region: &str,
        instance: &str,
    ) -> Result<(), VaultError> {
        self.describe_instance(account, region, instance)
            .await
            .map(|_| ())
            .map_err(|e| {
                VaultError::internal(format!(
                    "failed to verify instance ID {}: {e}",
                    go_quote(instance)
                ))
            })
    }

    /// The role's ec2 bindings against an instance, in Vault's order.
    pub(super) async fn instance_meets_role(
        &self,
        role: &Role,
        role_name: &str,
        d: &InstanceDesc,
        account: &str,
    ) -> Result<(), Unmet> {
        let q = go_quote;
        let rn = q(role_name);
        let unmet = |m: String| Err(Unmet::Requirement(m));
        let internal = |m: &str| Err(Unmet::Internal(m.to_owned()));
        if !role.bound_ec2_instance_id.is_empty()
            && !role.bound_ec2_instance_id.contains(&d.instance_id)
        {
            return unmet(format!(
                "instance ID {} does not belong to the role {rn}",
                q(&d.instance_id)
            ));
        }
        if !role.bound_account_id.is_empty() && !role.bound_account_id.iter().any(|a| a == account)
        {
            return unmet(format!(
                "account ID {} does not belong to role {rn}",
                q(account)
            ));
        }
        if !role.bound_ami_id.is_empty() {
            let Some(ami) = &d.image_id else {
                return internal("AMI ID in the instance description is nil");
            };
            if !role.bound_ami_id.contains(ami) {
                return unmet(format!("AMI ID {} does not belong to role {rn}", q(ami)));
            }
        }
        if !role.bound_subnet_id.is_empty() {
            let Some(subnet) = &d.subnet_id else {
                return internal("subnet ID in the instance description is nil");
            };
            if !role.bound_subnet_id.contains(subnet) {
                return unmet(format!(
                    "subnet ID {} does not satisfy the constraint on role {rn}",
                    q(subnet)
                ));
            }
        }
        if !role.bound_vpc_id.is_empty() {
            let Some(vpc) = &d.vpc_id else {
                return internal("VPC ID in the instance description is nil");
            };
            if !role.bound_vpc_id.contains(vpc) {
                return unmet(format!(
                    "VPC ID {} does not satisfy the constraint on role {rn}",
                    q(vpc)
                ));
            }
        }
        let profile_arn = || -> Result<String, Unmet> {
            match &d.profile {
                None => Err(Unmet::Internal(
                    "IAM instance profile in the instance description is nil".into(),
                )),
                Some(None) => Err(Unmet::Internal(
                    "IAM instance profile ARN in the instance description is nil".into(),
                )),
                Some(Some(arn)) => Ok(arn.clone()),
            }
        };
        if !role.bound_iam_instance_profile_arn.is_empty() {
            let arn = profile_arn()?;
            if !role
                .bound_iam_instance_profile_arn
                .iter()
                .any(|b| prefix_or_exact(b, &arn))
            {
                return unmet(format!(
                    "IAM instance profile ARN {} does not satisfy the constraint role {rn}",
                    q(&arn)
                ));
            }
        }
        if !role.bound_iam_role_arn.is_empty() {
            let arn = profile_arn()?;
            if arn.is_empty() {
                return internal("IAM instance profile ARN in the instance description is empty");
            }
            let role_arn = self
                .profile_role_arn(&arn, account)
                .await
                .map_err(Unmet::Internal)?;
            if !role
                .bound_iam_role_arn
                .iter()
                .any(|b| prefix_or_exact(b, &role_arn))
            {
                return unmet(format!(
                    "IAM role ARN {} does not satisfy the constraint role {rn}",
                    q(&role_arn)
                ));
            }
        }
        Ok(())
    }

    /// The one role of an instance profile (`iam:GetInstanceProfile` with Vault's client for
    /// the instance's account); Vault's plain errors.
    async fn profile_role_arn(&self, profile_arn: &str, account: &str) -> Result<String, String> {
        let e = super::arn::IamEntity::parse(profile_arn).map_err(|e| {
            format!(
                "failed to parse IAM instance profile ARN {}: {e}",
                go_quote(profile_arn)
            )
        })?;
        let keys = self
            .keys_for_account(account)
            .await
            .map_err(|e| format!("could not fetch IAM client: {e}"))?;
        let fetched = |why: &str| format!("IAM role ARN could not be fetched: {why}");
        if e.friendly_name.is_empty() {
            return Err(fetched("missing instance profile name"));
        }
        let node = self
            .iam_call_as(
                &keys,
                &[
                    ("Action", "GetInstanceProfile"),
                    ("Version", "2010-05-08"),
                    ("InstanceProfileName", &e.friendly_name),
                ],
            )
            .await
            .map_err(|err| fetched(&err))?;
        let Some(profile) = node
            .child("GetInstanceProfileResult")
            .and_then(|r| r.child("InstanceProfile"))
        else {
            return Err(fetched(
                "nil instance profile in the output of instance profile details",
            ));
        };
        let roles: Vec<Option<String>> = profile
            .child("Roles")
            .map(|r| {
                r.children_named("member")
                    .map(|m| m.child("Arn").map(|a| a.text.trim().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        match &roles[..] {
            [Some(arn)] if arn.is_empty() => Err("IAM role ARN could not be fetched".into()),
            [Some(arn)] => Ok(arn.clone()),
            [None] => Err(fetched(
                "nil role ARN in the output of instance profile details",
            )),
            _ => Err(fetched(
                "invalid roles in the output of instance profile details",
            )),
        }
    }
}
