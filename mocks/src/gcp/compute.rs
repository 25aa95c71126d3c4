//! Compute Engine API v1 subset used by Vault's gce login, reference gcp.md 2.2 and 3.2.
//!
//! Upstream: <https://cloud.google.com/compute/docs/reference/rest/v1/instances/get>,
//! <https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroups/aggregatedList>,
//! <https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroups/listInstances>.
//!
//! Endpoints, each under `/compute/v1` **and** without that prefix (a `custom_endpoint.compute`
//! given without a path resolves there; reference gcp.md 3.2, UNVERIFIED by a run):
//! - `GET  /projects/{p}/zones/{z}/instances/{name}`
//! - `GET  /projects/{p}/aggregated/instanceGroups`
//! - `POST /projects/{p}/zones/{z}/instanceGroups/{g}/listInstances[?filter=instance eq URL]`
//!
//! Callers need a bearer token and a project role in [`COMPUTE_VIEW_ROLES`]. Errors use
//! Compute's legacy envelope with `errors: [{message, domain, reason}]` (reference gcp.md 6.1).
//! Resource URLs are Google's (`https://www.googleapis.com/compute/v1/...`) whatever the mock's
//! address, as GCE prints them; `creationTimestamp` is in US Pacific time with milliseconds.
//!
//! **Not modelled:** machine types, disks, network interfaces, metadata items, regional instance
//! groups (`regions/{r}/instanceGroups`), paging (`maxResults`/`pageToken`), the `fields`
//! parameter, filters other than `instance eq URL` (compared literally, not as the RE2 pattern
//! GCE uses), empty-zone warnings in aggregated lists, and instance states other than the world's.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::error::GcpError;
use super::extract::{
    authenticate, bearer, json_response, query_get, query_pairs, Caller, GcpJson, GcpPath,
};
use super::GcpState;
use crate::world::gcp::{Instance, COMPUTE_VIEW_ROLES};
use crate::world::World;

/// How GCE spells its resource URLs.
pub const COMPUTE_BASE: &str = "https://www.googleapis.com/compute/v1";

// ------------------------------------------------------------------------------------ wire types

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceJson {
    pub kind: String,
    /// A uint64 as a JSON string.
    pub id: String,
    pub creation_timestamp: String,
    pub name: String,
    pub status: String,
    pub zone: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<InstanceServiceAccount>,
    pub self_link: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceServiceAccount {
    pub email: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListInstancesRequest {
    /// `ALL` (default) or `RUNNING`.
    #[serde(default)]
    pub instance_state: Option<String>,
}

// ------------------------------------------------------------------------------- the rules

/// RFC 3339 in US Pacific time with milliseconds (`2024-01-15T01:30:00.000-08:00`), as GCE prints
/// `creationTimestamp` (US daylight-saving rules since 2007).
pub fn gce_timestamp(t: SystemTime) -> String {
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
    let utc = OffsetDateTime::from(t);
    let nth_sunday_at = |month: Month, n: u8, utc_hour: u8| {
        let first = Date::from_calendar_date(utc.year(), month, 1).ok()?;
        let to_sunday = (7 - first.weekday().number_days_from_sunday()) % 7;
        let day = Date::from_calendar_date(utc.year(), month, 1 + to_sunday + 7 * (n - 1)).ok()?;
        Some(PrimitiveDateTime::new(day, Time::from_hms(utc_hour, 0, 0).ok()?).assume_utc())
    };
    let dst = match (
        nth_sunday_at(Month::March, 2, 10),
        nth_sunday_at(Month::November, 1, 9),
    ) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    };
    let hours = if dst { -7 } else { -8 };
    let offset = UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC);
    let l = utc.to_offset(offset);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}-{:02}:00",
        l.year(),
        l.month() as u8,
        l.day(),
        l.hour(),
        l.minute(),
        l.second(),
        l.millisecond(),
        -hours
    )
}

pub fn zone_url(project: &str, zone: &str) -> String {
    format!("{COMPUTE_BASE}/projects/{project}/zones/{zone}")
}

pub fn instance_url(i: &Instance) -> String {
    format!("{}/instances/{}", zone_url(&i.project, &i.zone), i.name)
}

fn group_url(project: &str, zone: &str, group: &str) -> String {
    format!("{}/instanceGroups/{group}", zone_url(project, zone))
}

pub fn instance_json(i: &Instance) -> InstanceJson {
    InstanceJson {
        kind: "compute#instance".into(),
        id: i.id.to_string(),
        creation_timestamp: gce_timestamp(i.creation_timestamp),
        name: i.name.clone(),
        status: i.status.clone(),
        zone: zone_url(&i.project, &i.zone),
        labels: i.labels.clone(),
        service_accounts: i
            .service_account
            .iter()
            .map(|email| InstanceServiceAccount {
                email: email.clone(),
                scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
            })
            .collect(),
        self_link: instance_url(i),
    }
}

/// Compute's 403: `Required 'PERMISSION' permission for 'RESOURCE'`.
fn forbidden(
    world: &World,
    caller: &Caller,
    project: &str,
    permission: &str,
    resource: &str,
) -> Result<(), GcpError> {
    if world
        .gcp
        .has_project_role(project, &caller.email, COMPUTE_VIEW_ROLES)
    {
        return Ok(());
    }
    Err(GcpError::new(
        403,
        format!("Required '{permission}' permission for '{resource}'"),
    )
    .with_reason("forbidden"))
}

fn not_found(resource: &str) -> GcpError {
    GcpError::not_found(format!("The resource '{resource}' was not found")).with_reason("notFound")
}

pub fn get_instance(
    world: &World,
    caller: &Caller,
    project: &str,
    zone: &str,
    name: &str,
) -> Result<InstanceJson, GcpError> {
    let resource = format!("projects/{project}/zones/{zone}/instances/{name}");
    forbidden(world, caller, project, "compute.instances.get", &resource)?;
    world
        .gcp
        .instances
        .get(name)
        .filter(|i| i.project == project && i.zone == zone)
        .map(instance_json)
        .ok_or_else(|| not_found(&resource))
}

/// Instance groups of `project`: (zone, group) → member instances.
fn groups<'w>(world: &'w World, project: &str) -> BTreeMap<(String, String), Vec<&'w Instance>> {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for i in world
        .gcp
        .instances
        .values()
        .filter(|i| i.project == project)
    {
        for g in &i.groups {
            out.entry((i.zone.clone(), g.clone())).or_default().push(i);
        }
    }
    out
}

pub fn aggregated_instance_groups(
    world: &World,
    caller: &Caller,
    project: &str,
) -> Result<serde_json::Value, GcpError> {
    forbidden(
        world,
        caller,
        project,
        "compute.instanceGroups.list",
        &format!("projects/{project}"),
    )?;
    let mut items = serde_json::Map::new();
    for ((zone, group), members) in groups(world, project) {
        let entry = items
            .entry(format!("zones/{zone}"))
            .or_insert_with(|| serde_json::json!({ "instanceGroups": [] }));
        if let Some(list) = entry["instanceGroups"].as_array_mut() {
            list.push(serde_json::json!({
                "kind": "compute#instanceGroup",
                "name": group,
                "zone": zone_url(project, &zone),
                "size": members.len(),
                "selfLink": group_url(project, &zone, &group),
            }));
        }
    }
    Ok(serde_json::json!({
        "kind": "compute#instanceGroupAggregatedList",
        "id": format!("projects/{project}/aggregated/instanceGroups"),
        "items": items,
        "selfLink": format!("{COMPUTE_BASE}/projects/{project}/aggregated/instanceGroups"),
    }))
}

/// `instance eq URL` (the value may be quoted) → `URL`.
fn parse_filter(filter: &str) -> Result<&str, GcpError> {
    let mut parts = filter.trim().splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("instance"), Some("eq"), Some(v)) => Ok(v.trim().trim_matches(['"', '\''])),
        _ => Err(GcpError::invalid_argument(format!(
            "Invalid value for field 'filter': '{filter}'. authsim models only 'instance eq URL'."
        ))
        .with_reason("invalid")),
    }
}

pub fn list_group_instances(
    world: &World,
    caller: &Caller,
    project: &str,
    zone: &str,
    group: &str,
    filter: Option<&str>,
    req: &ListInstancesRequest,
) -> Result<serde_json::Value, GcpError> {
    let resource = format!("projects/{project}/zones/{zone}/instanceGroups/{group}");
    forbidden(
        world,
        caller,
        project,
        "compute.instanceGroups.list",
        &resource,
    )?;
    let running_only = match req.instance_state.as_deref() {
        None | Some("ALL") => false,
        Some("RUNNING") => true,
        Some(other) => {
            return Err(GcpError::invalid_argument(format!(
                "Invalid value for field 'resource.instanceState': '{other}'. Value must be one of [ALL, RUNNING]"
            ))
            .with_reason("invalid"))
        }
    };
    let wanted = filter
        .filter(|f| !f.trim().is_empty())
        .map(parse_filter)
        .transpose()?;
    let all = groups(world, project);
    let members = all
        .get(&(zone.to_owned(), group.to_owned()))
        .ok_or_else(|| not_found(&resource))?;
    let items: Vec<_> = members
        .iter()
        .filter(|i| !running_only || i.status == "RUNNING")
        .filter(|i| wanted.is_none_or(|w| w == instance_url(i)))
        .map(|i| serde_json::json!({ "instance": instance_url(i), "status": i.status }))
        .collect();
    let mut out = serde_json::json!({
        "kind": "compute#instanceGroupsListInstances",
        "id": resource,
        "selfLink": format!("{}/listInstances", group_url(project, zone, group)),
    });
    if !items.is_empty() {
        out["items"] = items.into();
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------ handlers

fn caller<'s>(
    s: &'s GcpState,
    headers: &HeaderMap,
) -> Result<(std::sync::RwLockReadGuard<'s, World>, Caller), GcpError> {
    let w = s.sim.world();
    let c = authenticate(&w, s.sim.clock(), bearer(headers))?;
    Ok((w, c))
}

pub(crate) async fn instance_handler(
    State(s): State<GcpState>,
    GcpPath((project, zone, name)): GcpPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, GcpError> {
    let (w, c) = caller(&s, &headers)?;
    get_instance(&w, &c, &project, &zone, &name).map(|r| json_response(&r))
}

pub(crate) async fn aggregated_groups_handler(
    State(s): State<GcpState>,
    GcpPath(project): GcpPath<String>,
    headers: HeaderMap,
) -> Result<Response, GcpError> {
    let (w, c) = caller(&s, &headers)?;
    aggregated_instance_groups(&w, &c, &project).map(|r| json_response(&r))
}

pub(crate) async fn list_instances_handler(
    State(s): State<GcpState>,
    GcpPath((project, zone, group)): GcpPath<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    GcpJson(req): GcpJson<ListInstancesRequest>,
) -> Result<Response, GcpError> {
    let pairs = query_pairs(&uri);
    let (w, c) = caller(&s, &headers)?;
    list_group_instances(
        &w,
        &c,
        &project,
        &zone,
        &group,
        query_get(&pairs, "filter"),
        &req,
    )
    .map(|r| json_response(&r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worldfile::parse_time;

    #[test]
    fn gcp_gce_timestamps_are_us_pacific_with_daylight_saving() {
        let t = |s| gce_timestamp(parse_time(s).unwrap());
        assert_eq!(t("2024-01-15T09:30:00Z"), "2024-01-15T01:30:00.000-08:00");
        assert_eq!(t("2024-07-01T12:00:00Z"), "2024-07-01T05:00:00.000-07:00");
        // 2024: DST from 10 March 10:00 UTC to 3 November 09:00 UTC.
        assert_eq!(t("2024-03-10T09:59:59Z"), "2024-03-10T01:59:59.000-08:00");
        assert_eq!(t("2024-03-10T10:00:00Z"), "2024-03-10T03:00:00.000-07:00");
        assert_eq!(t("2024-11-03T08:59:59Z"), "2024-11-03T01:59:59.000-07:00");
        assert_eq!(t("2024-11-03T09:00:00Z"), "2024-11-03T01:00:00.000-08:00");
    }
}
