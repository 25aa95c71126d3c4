//! EC2 instances as Vault checks them: `DescribeInstances` and the role's instance bindings
//! (reference aws.md §1.8), shared by the inferred-`ec2_instance` iam login and the `ec2` login
//! (§3). The `ec2` login itself is in [`super::login_ec2`].

use super::fields::go_quote;
use super::role::Role;
use super::AwsAuthBackend;

/// What an ec2 login remembers per instance (the `identity-accesslist`).
#[derive(Debug, Clone)]
pub(crate) struct AccessListEntry {
    /// The role the instance logged in with (renewals read it from here, as Vault does).
    pub role: String,
    pub client_nonce: String,
    pub pending_time: String,
    pub disallow_reauthentication: bool,
}

/// One instance from `DescribeInstances`.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstanceDesc {
    pub instance_id: String,
    pub image_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub profile_arn: String,
    pub state: Option<String>,
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
        let node = self
            .ec2_call(
                account,
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
        let desc = InstanceDesc {
            instance_id: instance.text_at(&["instanceId"]),
            image_id: instance.text_at(&["imageId"]),
            subnet_id: instance.text_at(&["subnetId"]),
            vpc_id: instance.text_at(&["vpcId"]),
            profile_arn: instance.text_at(&["iamInstanceProfile", "arn"]),
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

    /// The role's ec2 bindings against an instance; the message after
    /// `error validating instance: `.
    pub(super) async fn instance_meets_role(
        &self,
        role: &Role,
        role_name: &str,
        d: &InstanceDesc,
        account: &str,
    ) -> Result<(), String> {
        let q = go_quote;
        let rn = q(role_name);
        if !role.bound_ec2_instance_id.is_empty()
            && !role.bound_ec2_instance_id.contains(&d.instance_id)
        {
            return Err(format!(
                "instance ID {} does not belong to the role {rn}",
                q(&d.instance_id)
            ));
        }
        if !role.bound_account_id.is_empty() && !role.bound_account_id.iter().any(|a| a == account)
        {
            return Err(format!(
                "account ID {} does not belong to role {rn}",
                q(account)
            ));
        }
        if !role.bound_ami_id.is_empty() && !role.bound_ami_id.contains(&d.image_id) {
            return Err(format!(
                "AMI ID {} does not belong to role {rn}",
                q(&d.image_id)
            ));
        }
        if !role.bound_subnet_id.is_empty() && !role.bound_subnet_id.contains(&d.subnet_id) {
            return Err(format!(
                "subnet ID {} does not satisfy the constraint on role {rn}",
                q(&d.subnet_id)
            ));
        }
        if !role.bound_vpc_id.is_empty() && !role.bound_vpc_id.contains(&d.vpc_id) {
            return Err(format!(
                "VPC ID {} does not satisfy the constraint on role {rn}",
                q(&d.vpc_id)
            ));
        }
        if !role.bound_iam_instance_profile_arn.is_empty() {
            if d.profile_arn.is_empty() {
                // UNVERIFIED: wording for an instance without a profile.
                return Err("IAM instance profile in the instance description is nil".into());
            }
            if !role
                .bound_iam_instance_profile_arn
                .iter()
                .any(|b| prefix_or_exact(b, &d.profile_arn))
            {
                return Err(format!(
                    "IAM instance profile ARN {} does not satisfy the constraint role {rn}",
                    q(&d.profile_arn)
                ));
            }
        }
        if !role.bound_iam_role_arn.is_empty() {
            if d.profile_arn.is_empty() {
                // UNVERIFIED: wording for an instance without a profile.
                return Err("IAM instance profile in the instance description is nil".into());
            }
            let role_arn = self.profile_role_arn(&d.profile_arn).await?;
            if !role
                .bound_iam_role_arn
                .iter()
                .any(|b| prefix_or_exact(b, &role_arn))
            {
                return Err(format!(
                    "IAM role ARN {} does not satisfy the constraint role {rn}",
                    q(&role_arn)
                ));
            }
        }
        Ok(())
    }

    /// The one role of an instance profile (`iam:GetInstanceProfile`).
    // UNVERIFIED: the wording of these failures (reference §1.8 names only the requirement).
    async fn profile_role_arn(&self, profile_arn: &str) -> Result<String, String> {
        let e = super::arn::IamEntity::parse(profile_arn).map_err(|e| {
            format!(
                "failed to parse instance profile ARN {}: {e}",
                go_quote(profile_arn)
            )
        })?;
        let node = self
            .iam_call(
                &e.account,
                &[
                    ("Action", "GetInstanceProfile"),
                    ("Version", "2010-05-08"),
                    ("InstanceProfileName", &e.friendly_name),
                ],
            )
            .await
            .map_err(|err| {
                format!(
                    "error fetching IAM instance profile {}: {err}",
                    go_quote(profile_arn)
                )
            })?;
        let roles: Vec<String> = node
            .child("GetInstanceProfileResult")
            .and_then(|r| r.child("InstanceProfile"))
            .and_then(|p| p.child("Roles"))
            .map(|r| {
                r.children_named("member")
                    .map(|m| m.text_at(&["Arn"]))
                    .collect()
            })
            .unwrap_or_default();
        match &roles[..] {
            [one] => Ok(one.clone()),
            _ => Err(format!(
                "expected 1 role in IAM instance profile, found {}",
                roles.len()
            )),
        }
    }
}
