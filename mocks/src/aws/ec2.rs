//! Amazon EC2, Query API version 2016-11-15, the one call Vault makes
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html>;
//! reference aws.md 1.8, 1.9, 3). Signed for service `ec2`; the credential scope's region picks
//! the instances, as EC2 is regional.
//!
//! Endpoints covered: `DescribeInstances` with `InstanceId.N` (or no ids: every instance of the
//! caller's account in the region), `DryRun`.
//!
//! **Not modelled:** `Filter.N.*` (refused with a 400 saying so), pagination (`MaxResults`,
//! `NextToken` ignored), tags, security groups, network interfaces, block devices; every other
//! EC2 action. The XML shape follows the EC2 API reference and is UNVERIFIED against the wire.

use axum::response::Response;

use super::error::{AwsError, EC2_XMLNS};
use super::xml::El;
use super::{ok_xml, AwsState, Call};
use crate::clock::rfc3339;
use crate::world::aws::{instance_profile_arn, Ec2Instance};
use crate::world::World;

// ------------------------------------------------------------------------------- wire types

/// One instance as `DescribeInstances` reports it, in a reservation of its own.
#[derive(Debug, Clone)]
pub struct InstanceView {
    pub reservation_id: String,
    pub instance: Ec2Instance,
    /// The instance profile's ARN and id.
    pub profile: Option<(String, String)>,
}

// ------------------------------------------------------------------------------- operations

fn err(status: u16, code: &str, message: impl Into<String>) -> AwsError {
    AwsError::sender(status, code, message).ec2()
}

/// `i-` and 8 or 17 lowercase hex digits.
fn well_formed(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The state codes EC2 pairs with state names.
fn state_code(name: &str) -> u16 {
    match name {
        "pending" => 0,
        "running" => 16,
        "shutting-down" => 32,
        "terminated" => 48,
        "stopping" => 64,
        "stopped" => 80,
        _ => 16,
    }
}

/// DescribeInstances in `account` and `region`: the named instances (all must exist there) or,
/// with no ids, all of them.
pub fn describe_instances(
    world: &World,
    account: &str,
    region: &str,
    ids: &[&str],
) -> Result<Vec<InstanceView>, AwsError> {
    let visible = |i: &&Ec2Instance| i.account == account && i.region == region;
    let found: Vec<&Ec2Instance> = if ids.is_empty() {
        world.aws.instances.values().filter(visible).collect()
    } else {
        let mut missing = Vec::new();
        let mut found = Vec::new();
        for id in ids {
            match world.aws.instances.get(*id).filter(visible) {
                Some(i) => found.push(i),
                None if !well_formed(id) => {
                    // UNVERIFIED: wording for a malformed instance id.
                    return Err(err(
                        400,
                        "InvalidInstanceID.Malformed",
                        format!("Invalid id: \"{id}\""),
                    ));
                }
                None => missing.push(*id),
            }
        }
        match missing[..] {
            [] => {}
            [one] => {
                return Err(err(
                    400,
                    "InvalidInstanceID.NotFound",
                    format!("The instance ID '{one}' does not exist"),
                ))
            }
            // UNVERIFIED: the plural wording.
            _ => {
                return Err(err(
                    400,
                    "InvalidInstanceID.NotFound",
                    format!("The instance IDs '{}' do not exist", missing.join(", ")),
                ))
            }
        }
        found
    };
    Ok(found
        .into_iter()
        .map(|i| {
            let profile = i.profile.as_deref().and_then(|p| {
                let p = world
                    .aws
                    .accounts
                    .get(&i.account)?
                    .instance_profiles
                    .get(p)?;
                Some((
                    instance_profile_arn(&i.account, &p.path, &p.name),
                    p.id.clone(),
                ))
            });
            InstanceView {
                reservation_id: world.aws.reservation_id(&i.id),
                instance: i.clone(),
                profile,
            }
        })
        .collect())
}

// ------------------------------------------------------------------------------- rendering

/// EC2 prints times with milliseconds: `2015-08-30T12:36:00.000Z`.
fn ec2_time(t: std::time::SystemTime) -> String {
    let s = rfc3339(t);
    format!("{}.000Z", s.trim_end_matches('Z'))
}

fn private_dns(i: &Ec2Instance) -> String {
    let host = format!("ip-{}", i.private_ip.replace('.', "-"));
    if i.region == "us-east-1" {
        format!("{host}.ec2.internal")
    } else {
        format!("{host}.{}.compute.internal", i.region)
    }
}

fn instance_el(v: &InstanceView) -> El {
    let i = &v.instance;
    let mut el = El::new("item")
        .child(El::text("instanceId", &i.id))
        .child(El::text("imageId", &i.ami))
        .child(
            El::new("instanceState")
                .child(El::text("code", state_code(&i.state).to_string()))
                .child(El::text("name", &i.state)),
        )
        .child(El::text("privateDnsName", private_dns(i)))
        .child(El::text("dnsName", ""))
        .child(El::text("amiLaunchIndex", "0"))
        .child(El::text("instanceType", &i.instance_type))
        .child(El::text("launchTime", ec2_time(i.launched)))
        .child(
            El::new("placement")
                .child(El::text("availabilityZone", &i.availability_zone))
                .child(El::text("groupName", ""))
                .child(El::text("tenancy", "default")),
        )
        .child(El::new("monitoring").child(El::text("state", "disabled")))
        .child(El::text("subnetId", &i.subnet))
        .child(El::text("vpcId", &i.vpc))
        .child(El::text("privateIpAddress", &i.private_ip))
        .child(El::text("architecture", "x86_64"))
        .child(El::text("rootDeviceType", "ebs"))
        .child(El::text("virtualizationType", "hvm"))
        .child(El::new("tagSet"))
        .child(El::text("hypervisor", "xen"));
    if let Some((arn, id)) = &v.profile {
        el = el.child(
            El::new("iamInstanceProfile")
                .child(El::text("arn", arn))
                .child(El::text("id", id)),
        );
    }
    el
}

pub fn describe_instances_xml(views: &[InstanceView], request_id: &str) -> String {
    let reservations = views.iter().map(|v| {
        El::new("item")
            .child(El::text("reservationId", &v.reservation_id))
            .child(El::text("ownerId", &v.instance.account))
            .child(El::new("groupSet"))
            .child(El::new("instancesSet").child(instance_el(v)))
    });
    let doc = El::new("DescribeInstancesResponse")
        .xmlns(EC2_XMLNS)
        .child(El::text("requestId", request_id))
        .child(El::new("reservationSet").children(reservations));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        doc.render(4)
    )
}

// ------------------------------------------------------------------------------- handler

pub(crate) fn handle(
    state: &AwsState,
    action: &str,
    call: &Call<'_>,
) -> Result<Response, AwsError> {
    if action != "DescribeInstances" {
        // UNVERIFIED: EC2's wording for an unknown action.
        return Err(err(
            400,
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        ));
    }
    let p = &call.params;
    if let Some((name, _)) = p.first_with_prefix("Filter.") {
        return Err(err(
            400,
            "InvalidParameterValue",
            format!("authsim does not model DescribeInstances filters ({name}); use InstanceId.N"),
        ));
    }
    let ids = p.list("InstanceId");
    let views = describe_instances(
        &state.sim.world(),
        call.caller.account(),
        &call.region,
        &ids,
    )?;
    if p.get("DryRun") == Some("true") {
        return Err(err(
            412,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }
    Ok(ok_xml(
        describe_instances_xml(&views, &call.request_id),
        call,
    ))
}
