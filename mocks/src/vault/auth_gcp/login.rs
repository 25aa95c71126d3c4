//! `login` for iam and gce roles, and renewal (reference gcp.md 1.2-1.8, 2, 4).
//!
//! Processing order follows the plugin: field check (422), then everything in `parse` (400),
//! then the role type's own steps. Messages are the plugin's format strings; statuses follow
//! `RespondErrorCommon` (an error response is 400, a bare Go error 500).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::config::Config;
use super::fields::{go_list, go_quote, go_quoted_list, Fields};
use super::google::{path_escape, Endpoints, ServiceAccountInfo};
use super::jwt::{self, Claims, GceClaims, SignedJwt};
use super::role::{sanitize_policies, Role, RoleType};
use super::{bad_request, internal_error, GcpAuthBackend, VaultResult};
use crate::vault::backend::{LoginOutcome, VaultError};
use crate::vault::fields::cidrs_allow;

const NANOS: i128 = 1_000_000_000;
/// `jwtExpToleranceSec`.
const EXP_TOLERANCE_SECS: i128 = 60;
/// `maxJwtExpMaxMinutes`.
const EXP_MAX_MINUTES: i128 = 60;
/// Instance states the plugin accepts.
const VALID_STATUSES: &[&str] = &["PROVISIONING", "RUNNING", "STAGING"];

/// What `parse` hands to the role type's login.
#[derive(Debug)]
struct Parsed {
    config: std::sync::Arc<Config>,
    role: Role,
    /// The role name as sent (metadata, `aud` suffix, messages).
    role_name: String,
    claims: Claims,
}

fn unix_nanos(t: std::time::SystemTime) -> i128 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

impl GcpAuthBackend {
    fn now_nanos(&self) -> i128 {
        unix_nanos(self.clock.now())
    }

    pub(super) async fn login(
        &self,
        data: &Map<String, Value>,
        remote: Option<IpAddr>,
    ) -> VaultResult<LoginOutcome> {
        let f = Fields::new(data);
        let role_name = f.string("role")?.unwrap_or_default();
        // `GetOk`: a `jwt` key with an empty or null value is given, and goes to the parse.
        let token = match data.contains_key("jwt") {
            true => Some(f.string("jwt")?.unwrap_or_default()),
            false => None,
        };
        let mut unknown: Vec<String> = data
            .keys()
            .filter(|k| *k != "role" && *k != "jwt")
            .cloned()
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(VaultError {
                status: 422,
                errors: vec![format!("unknown fields: {}", go_quoted_list(&unknown))],
            });
        }
        let p = self
            .parse(&role_name, token.as_deref())
            .await
            .map_err(bad_request)?;
        // token_bound_cidrs, after the JWT checks (path_login.go:110-118); without a remote
        // address every login to such a role is refused.
        let bound = &p.role.token.bound_cidrs;
        if !bound.is_empty() && !remote.is_some_and(|ip| cidrs_allow(bound, ip)) {
            return Err(VaultError::permission_denied());
        }
        match p.role.role_type {
            RoleType::Iam => self.iam_login(p).await,
            RoleType::Gce => self.gce_login(p).await,
        }
    }

    /// `parseAndValidateJwt`: every error here is a 400.
    async fn parse(&self, role_name: &str, token: Option<&str>) -> Result<Parsed, String> {
        let config = self.config_snapshot();
        if role_name.is_empty() {
            return Err("role is required".into());
        }
        let role = self
            .role_snapshot(&role_name.to_lowercase())
            .ok_or_else(|| format!("role {} not found", go_quote(role_name)))?;
        let Some(token) = token else {
            return Err("jwt argument is required".into());
        };
        let signed =
            jwt::parse_signed(token).map_err(|e| format!("unable to parse signed JWT: {e}"))?;
        // Decoded once; the plugin decodes them twice (for the key's subject, then after the
        // signature check), each failure reported where it decodes them.
        let claims = jwt::claims(&signed);
        let cert = self
            .signing_key(&config, role.role_type, &signed, &claims)
            .await
            .map_err(|e| format!("unable to get public key for signed JWT: {e}"))?;
        signed.verify(&cert)?;
        let claims = claims?;
        self.validate_base_claims(&claims, role_name)?;
        if role.role_type == RoleType::Gce
            && claims.gce.as_ref().is_none_or(|g| g.instance_id.is_empty())
        {
            return Err("expected JWT to have claims with GCE metadata".into());
        }
        Ok(Parsed {
            config,
            role,
            role_name: role_name.to_owned(),
            claims,
        })
    }

    /// `getSigningKey`: Google's OAuth2 certs first, then (iam roles) the account's x509 keys.
    /// Returns the certificate PEM.
    async fn signing_key(
        &self,
        config: &Config,
        role_type: RoleType,
        signed: &SignedJwt,
        claims: &Result<Claims, String>,
    ) -> Result<String, String> {
        let ep = Endpoints::from_config(config);
        let kid = &signed.kid;
        // Any failure of the certs lookup is discarded (reference gcp.md 1.4).
        if let Some(pem) = self
            .google
            .key_map(&ep.api_url("/oauth2/v1/certs"))
            .await
            .ok()
            .and_then(|m| m.get(kid).cloned())
            .and_then(|v| jwt::certificate_pem(&v).ok())
        {
            return Ok(pem);
        }
        // `getJWTSubject`, for either role type.
        let claims = claims
            .as_ref()
            .map_err(|e| format!("could not parse claims from JWT: {e}"))?;
        let sub = claims.sub.clone();
        if sub.is_empty() {
            return Err("expected 'sub' claim from JWT".into());
        }
        let wrap = |e: String| {
            format!(
                "unable to get public key {} for JWT subject {}: {e}",
                go_quote(kid),
                go_quote(&sub)
            )
        };
        match role_type {
            RoleType::Gce => Err(wrap(
                "no Google OAuth2 provider key found for GCE role".into(),
            )),
            RoleType::Iam => {
                let url = ep.api_url(&format!(
                    "/service_accounts/v1/metadata/x509/{}?alt=json",
                    path_escape(&sub)
                ));
                let keys = self.google.key_map(&url).await.map_err(wrap)?;
                match keys.get(kid) {
                    Some(v) => jwt::certificate_pem(v).map_err(wrap),
                    // The plugin prints kid where the account belongs, and the reverse.
                    None => Err(wrap(format!(
                        "service account {} key {} not found at GET {}",
                        go_quote(kid),
                        go_quote(&sub),
                        go_quote(&url)
                    ))),
                }
            }
        }
    }

    /// `validateBaseJWTClaims`.
    fn validate_base_claims(&self, claims: &Claims, role_name: &str) -> Result<(), String> {
        let now = self.now_nanos();
        let exp = claims.exp.unwrap_or(0) as i128 * NANOS;
        if exp == 0 || exp < now - EXP_TOLERANCE_SECS * NANOS {
            return Err("JWT is expired or does not have proper 'exp' claim".into());
        }
        let expires_in = exp - now;
        if expires_in > (EXP_MAX_MINUTES * 60 + EXP_TOLERANCE_SECS) * NANOS {
            return Err(format!(
                "JWT must expire in {EXP_MAX_MINUTES} minutes, expires in {}",
                jwt::go_duration(expires_in)
            ));
        }
        if claims.sub.is_empty() {
            return Err("expected JWT to have 'sub' claim with service account id or email".into());
        }
        let suffix = format!("vault/{role_name}");
        // Every entry must match although the message says "at least one"; no `aud` passes.
        if claims.aud.iter().any(|a| !a.ends_with(&suffix)) {
            return Err(format!(
                "at least one of the JWT claim 'aud' must end in {}",
                go_quote(&suffix)
            ));
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------- iam

    async fn iam_login(&self, p: Parsed) -> VaultResult<LoginOutcome> {
        let Parsed {
            config,
            role,
            role_name,
            claims,
        } = p;
        let exp = claims.exp.unwrap_or(0) as i128 * NANOS;
        if exp > self.now_nanos() + role.max_jwt_exp as i128 * NANOS {
            return Err(bad_request(format!(
                "role requires that service account JWTs expire within {} seconds",
                role.max_jwt_exp
            )));
        }
        let sa = self
            .google
            .service_account(&*self.clock, &config, "-", &claims.sub, None)
            .await
            .map_err(|e| {
                internal_error(format!(
                    "could not find service account 'projects/-/serviceAccounts/{}': {e}",
                    claims.sub
                ))
            })?;
        if sa.email.is_empty() && sa.unique_id.is_empty() {
            return Err(internal_error("service account is empty"));
        }
        // Never configured: the default, `role_id`.
        let alias = match config.iam_alias.as_str() {
            "" | "role_id" => role.role_id.clone(),
            "unique_id" => sa.unique_id.clone(),
            _ => {
                return Err(bad_request(
                    "unable to create alias: invalid IAM alias type: must be one of: role_id, unique_id",
                ))
            }
        };
        authorize_iam(&role, &sa).map_err(bad_request)?;

        let all = BTreeMap::from([
            ("project_id", sa.project_id.clone()),
            ("role", role_name.clone()),
            ("service_account_email", sa.email.clone()),
            ("service_account_id", sa.unique_id.clone()),
        ]);
        let metadata = select(&all, &config.iam_metadata);
        let mut internal = Map::new();
        internal.insert("role".into(), role_name.clone().into());
        internal.insert("role_type".into(), "iam".into());
        internal.insert("service_account_id".into(), sa.unique_id.clone().into());
        internal.insert("service_account_email".into(), sa.email.clone().into());
        internal.insert("project_id".into(), sa.project_id.clone().into());
        if role.add_group_aliases {
            let groups = self
                .group_aliases(&config, &sa.project_id)
                .await
                .map_err(internal_error)?;
            internal.insert("group_aliases".into(), json!(groups));
        }
        Ok(outcome(&role, metadata, sa.email.clone(), alias, internal))
    }

    // ------------------------------------------------------------------------------- gce

    async fn gce_login(&self, p: Parsed) -> VaultResult<LoginOutcome> {
        let Parsed {
            config,
            role,
            role_name,
            claims,
        } = p;
        let gce = claims.gce.clone().unwrap_or_default();
        if !role.bound_projects.is_empty() && !role.bound_projects.contains(&gce.project_id) {
            return Err(bad_request(format!(
                "instance {} (project {}) not in bound projects {}",
                go_quote(&gce.instance_id),
                go_quote(&gce.project_id),
                go_list(&role.bound_projects)
            )));
        }
        let instance = self
            .find_instance(&config, &gce)
            .await
            .map_err(bad_request)?;
        self.authorize_gce(&config, &role, &instance, &gce.project_id, &claims.sub)
            .await
            .map_err(bad_request)?;
        let alias = match config.gce_alias.as_str() {
            "" | "role_id" => role.role_id.clone(),
            "instance_id" => format!("gce-{}", instance["id"].as_str().unwrap_or_default()),
            // The allowed types sorted, as the plugin lists them (aliasing.go, v0.23.1).
            _ => {
                return Err(bad_request(
                    "unable to create alias: invalid GCE alias type: must be one of: instance_id, role_id",
                ))
            }
        };
        let sa = self
            .google
            .service_account(&*self.clock, &config, "-", &claims.sub, None)
            .await
            .map_err(|e| {
                bad_request(format!(
                    "Could not find service account {} used for GCE metadata token: could not find service account 'projects/-/serviceAccounts/{}': {e}",
                    go_quote(&claims.sub),
                    claims.sub
                ))
            })?;
        let all = BTreeMap::from([
            (
                "instance_creation_timestamp",
                gce.instance_creation_timestamp.to_string(),
            ),
            ("instance_id", gce.instance_id.clone()),
            ("instance_name", gce.instance_name.clone()),
            ("project_id", gce.project_id.clone()),
            ("project_number", gce.project_number.to_string()),
            ("role", role_name.clone()),
            ("service_account_email", sa.email.clone()),
            ("service_account_id", sa.unique_id.clone()),
            ("zone", gce.zone.clone()),
        ]);
        let metadata = select(&all, &config.gce_metadata);
        let mut internal = Map::new();
        internal.insert("role".into(), role_name.clone().into());
        internal.insert("role_type".into(), "gce".into());
        internal.insert("service_account_id".into(), claims.sub.clone().into());
        internal.insert("project_id".into(), gce.project_id.clone().into());
        internal.insert("zone".into(), gce.zone.clone().into());
        internal.insert("instance_name".into(), gce.instance_name.clone().into());
        internal.insert("instance_id".into(), gce.instance_id.clone().into());
        internal.insert(
            "instance_creation_timestamp".into(),
            gce.instance_creation_timestamp.into(),
        );
        if role.add_group_aliases {
            let groups = self
                .group_aliases(&config, &gce.project_id)
                .await
                .map_err(internal_error)?;
            internal.insert("group_aliases".into(), json!(groups));
        }
        Ok(outcome(
            &role,
            metadata,
            gce.instance_name.clone(),
            alias,
            internal,
        ))
    }

    /// `instances.get` plus the status and creation-time checks, wrapped as the login does.
    async fn find_instance(&self, config: &Config, gce: &GceClaims) -> Result<Value, String> {
        self.verified_instance(config, gce).await.map_err(|e| {
            format!(
                "error when attempting to find instance (project {}, zone: {}, instance: {}) :{e}",
                gce.project_id, gce.zone, gce.instance_name
            )
        })
    }

    /// go-gcp-common `GetVerifiedInstance`: `instances.get`, the status, the creation time.
    async fn verified_instance(&self, config: &Config, gce: &GceClaims) -> Result<Value, String> {
        let instance = self
            .google
            .instance(
                &*self.clock,
                config,
                &gce.project_id,
                &gce.zone,
                &gce.instance_name,
            )
            .await
            .map_err(|e| format!("unable to find instance associated with token: {e}"))?;
        let status = instance["status"].as_str().unwrap_or_default();
        if !VALID_STATUSES.contains(&status) {
            // The name the API gave, not the token's.
            return Err(format!(
                "authenticating instance {} found but has invalid status '{status}'",
                instance["name"].as_str().unwrap_or_default()
            ));
        }
        // go-gcp-common `GetVerifiedInstance`: RFC 3339 with fractions, compared to the token's
        // whole seconds in fractional seconds, one second of slack.
        let raw = instance["creationTimestamp"].as_str().unwrap_or_default();
        let created =
            time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    format!(
                        "instance 'creationTimestamp' field could not be parsed into time: {raw}"
                    )
                })?;
        let delta =
            i128::from(gce.instance_creation_timestamp) * NANOS - created.unix_timestamp_nanos();
        if delta < -NANOS {
            // The plugin prints the instance's time first, then the token's.
            return Err(format!(
                "metadata instance_creation_timestamp {} is before instance's creation time {}",
                created.unix_timestamp(),
                gce.instance_creation_timestamp
            ));
        }
        Ok(instance)
    }

    /// `AuthorizeGCE`: labels, zones or regions, instance groups, service accounts.
    async fn authorize_gce(
        &self,
        config: &Config,
        role: &Role,
        instance: &Value,
        project: &str,
        sub: &str,
    ) -> Result<(), String> {
        for (k, v) in &role.bound_labels {
            if instance["labels"][k].as_str() != Some(v.as_str()) {
                // Quotes written out in the plugin's format, not %q.
                return Err(format!("instance missing bound label \"{k}:{v}\""));
            }
        }
        let zone_url = instance["zone"].as_str().unwrap_or_default();
        let zone = zone_url
            .rsplit_once("zones/")
            .map_or(zone_url, |(_, z)| z)
            .to_owned();
        let region = zone.rsplit_once('-').map_or(zone.as_str(), |(r, _)| r);
        if !role.bound_zones.is_empty() {
            if !role.bound_zones.contains(&zone) {
                return Err(format!(
                    "instance not in bound zones {}",
                    go_quoted_list(&role.bound_zones)
                ));
            }
        } else if !role.bound_regions.is_empty() && !role.bound_regions.iter().any(|r| r == region)
        {
            return Err(format!(
                "instance not in bound regions {}",
                go_quoted_list(&role.bound_regions)
            ));
        }
        if !role.bound_instance_groups.is_empty() {
            self.authorize_groups(config, role, instance, project)
                .await?;
        }
        if !role.bound_service_accounts.is_empty() {
            let sa = self
                .google
                .service_account(&*self.clock, config, "-", sub, Some("uniqueId,email"))
                .await
                // UNVERIFIED: reference/gcp.md §2.2 names no text for this lookup's failure.
                .map_err(|e| format!("could not find service account {}: {e}", go_quote(sub)))?;
            if !role.bound_service_accounts.contains(&sa.email)
                && !role.bound_service_accounts.contains(&sa.unique_id)
            {
                // UNVERIFIED: `[...]` printed with %v.
                return Err(format!(
                    "service account {} ({}) is not in bound service accounts {}",
                    go_quote(&sa.unique_id),
                    go_quote(&sa.email),
                    go_quoted_list(&role.bound_service_accounts)
                ));
            }
        }
        Ok(())
    }

    /// Instance-group membership as the plugin's `AuthorizeGCE` checks it: each bound group is
    /// placed in one zone (or region) by the bound zones or regions, then asked whether it lists
    /// the instance; the first group that does ends the check.
    async fn authorize_groups(
        &self,
        config: &Config,
        role: &Role,
        instance: &Value,
        project: &str,
    ) -> Result<(), String> {
        let listed = self
            .google
            .instance_groups(&*self.clock, config, project)
            .await
            .map_err(|e| {
                format!(
                    "failed to list instance groups for project {}: {e}",
                    go_quote(project)
                )
            })?;
        let self_link = instance["selfLink"].as_str().unwrap_or_default();
        let lists = |loc: &str, group: &str| {
            listed
                .iter()
                .any(|(l, names)| l == loc && names.iter().any(|n| n == group))
        };
        // Each bound group in turn: where it is (one place), then whether it lists the
        // instance; a group found nowhere ends the check.
        for group in &role.bound_instance_groups {
            let location = if !role.bound_zones.is_empty() {
                // The last bound zone that has the group.
                let zone = role
                    .bound_zones
                    .iter()
                    .rfind(|z| lists(&format!("zones/{z}"), group));
                match zone {
                    Some(z) => format!("zones/{z}"),
                    None => {
                        return Err(format!(
                            "instance group {} does not exist in zones {} for project {}",
                            go_quote(group),
                            go_quoted_list(&role.bound_zones),
                            go_quote(project)
                        ))
                    }
                }
            } else if !role.bound_regions.is_empty() {
                // Zonal groups in a zone named after a bound region, and regional groups in any
                // region (the plugin's loop shadows the bound region); the last of each found,
                // and the zone asked when there is one.
                let mut zone = None;
                for r in &role.bound_regions {
                    for (l, names) in listed.iter() {
                        let zonal = l
                            .strip_prefix("zones/")
                            .is_some_and(|z| z.starts_with(r.as_str()));
                        if zonal && names.iter().any(|n| n == group) {
                            zone = Some(l);
                        }
                    }
                }
                let region = listed
                    .iter()
                    .filter(|(l, names)| {
                        l.starts_with("regions/") && names.iter().any(|n| n == group)
                    })
                    .map(|(l, _)| l)
                    .next_back();
                match zone.or(region).cloned() {
                    Some(l) => l,
                    None => {
                        return Err(format!(
                            "instance group {} does not exist in regions {} for project {}",
                            go_quote(group),
                            go_quoted_list(&role.bound_regions),
                            go_quote(project)
                        ))
                    }
                }
            } else {
                return Err(format!(
                    "instance group {} is not bound to any zones or regions",
                    go_quote(group)
                ));
            };
            let member = self
                .google
                .group_has_instance(&*self.clock, config, project, &location, group, self_link)
                .await
                // go-gcp-common `AuthorizeGCE`.
                .map_err(|e| {
                    format!(
                        "failed to list instances in instance group {} for project {}: {e}",
                        go_quote(group),
                        go_quote(project)
                    )
                })?;
            if member {
                return Ok(());
            }
        }
        // The list with %q (go-gcp-common compute.go, v0.9.2).
        Err(format!(
            "instance is not part of instance groups {}",
            go_quoted_list(&role.bound_instance_groups)
        ))
    }

    /// getAncestry → `{type}-{id}` group alias names. Errors are the raw Go error (500).
    async fn group_aliases(&self, config: &Config, project: &str) -> Result<Vec<String>, String> {
        let ancestors = self.google.ancestry(&*self.clock, config, project).await?;
        Ok(ancestors
            .into_iter()
            .map(|(t, id)| format!("{t}-{id}"))
            .collect())
    }

    // ------------------------------------------------------------------------------- renew

    /// `pathLoginRenew`: re-reads the role, compares its policies, and re-checks the account or
    /// instance with Google. The JWT is not checked again.
    /// `pathLoginRenew`: everything it needs comes from the token's metadata (the fields
    /// `iam_metadata` / `gce_metadata` kept at login), and every refusal is a 400.
    pub(super) async fn renew_login(
        &self,
        internal: &Map<String, Value>,
    ) -> VaultResult<LoginOutcome> {
        let meta: BTreeMap<String, String> = internal
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let get = |k: &str| meta.get(k).cloned();
        let role_name = get("role").unwrap_or_default();
        if role_name.is_empty() {
            return Err(bad_request(
                "role name metadata not associated with auth token, invalid",
            ));
        }
        let role = self
            .role_snapshot(&role_name.to_lowercase())
            .ok_or_else(|| {
                bad_request(format!("role {} no longer exists", go_quote(&role_name)))
            })?;
        // `EquivalentPolicies(role.TokenPolicies, token policies)`: the same set, `default`
        // aside, compared as written: the role's as stored, the token's as core sanitised them
        // (so a role policy `Dev` no longer matches the token's `dev`).
        let had: Vec<String> = internal
            .get("token_policies")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let set = |p: Vec<String>| -> std::collections::BTreeSet<String> {
            p.into_iter().filter(|p| p != "default").collect()
        };
        if set(sanitize_policies(&had)) != set(role.token.policies.clone()) {
            return Err(bad_request(format!(
                "policies on role {} have changed, cannot renew",
                go_quote(&role_name)
            )));
        }
        let config = self.config_snapshot();
        // The role's type now, whatever it was at login.
        match role.role_type {
            RoleType::Iam => {
                let account = get("service_account_id").ok_or_else(|| {
                    bad_request(
                        "service account id metadata not associated with auth token, invalid",
                    )
                })?;
                let project = get("project_id").unwrap_or_else(|| "-".into());
                let sa = self
                    .google
                    .service_account(&*self.clock, &config, &project, &account, None)
                    .await
                    .map_err(|_| bad_request(format!("cannot find service account {account}")))?;
                if meta.contains_key("instance_id") && !role.allow_gce_inference {
                    return Err(bad_request(format!(
                        "GCE inferrence is no longer allowed for role {role_name}"
                    )));
                }
                authorize_iam(&role, &sa).map_err(|_| {
                    bad_request(format!(
                        "service account is no longer authorized for role {role_name}"
                    ))
                })?;
            }
            RoleType::Gce => {
                let gce = gce_metadata(&meta)
                    .map_err(|e| bad_request(format!("invalid auth metadata: {e}")))?;
                let instance = self
                    .verified_instance(&config, &gce)
                    .await
                    .map_err(bad_request)?;
                let account = get("service_account_id").ok_or_else(|| {
                    bad_request("invalid auth metadata: service_account_id not found")
                })?;
                self.authorize_gce(&config, &role, &instance, &gce.project_id, &account)
                    .await
                    .map_err(|e| {
                        bad_request(format!("could not renew token for role {role_name}: {e}"))
                    })?;
            }
        }
        let display = internal
            .get("display_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let alias = internal
            .get("alias_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut out = outcome(&role, meta, display, alias, internal.clone());
        out.internal = internal.clone();
        Ok(out)
    }
}

/// `authorizeIAMServiceAccount`.
fn authorize_iam(role: &Role, sa: &ServiceAccountInfo) -> Result<(), String> {
    if !role.bound_projects.is_empty() && !role.bound_projects.contains(&sa.project_id) {
        return Err(format!(
            "service account {} not in bound projects {}",
            go_quote(&sa.email),
            go_list(&role.bound_projects)
        ));
    }
    let bound = &role.bound_service_accounts;
    if bound.len() == 1 && bound[0] == "*" {
        return Ok(());
    }
    if bound.contains(&sa.email) || bound.contains(&sa.unique_id) {
        return Ok(());
    }
    Err(format!(
        "service account {} (id: {}) is not authorized for role",
        sa.email, sa.unique_id
    ))
}

/// The configured metadata fields.
/// `PopulateDesiredMetadata`: the configured fields that have a value.
fn select(all: &BTreeMap<&str, String>, fields: &[String]) -> BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|f| all.get(f.as_str()).map(|v| (f.clone(), v.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// `getInstanceMetadataFromAuth`: the instance a gce token's metadata names.
fn gce_metadata(meta: &BTreeMap<String, String>) -> Result<GceClaims, String> {
    let field = |k: &str| {
        meta.get(k)
            .cloned()
            .ok_or_else(|| format!("expected '{k}' field"))
    };
    let project_id = field("project_id")?;
    let zone = field("zone")?;
    let instance_id = field("instance_id")?;
    let instance_name = field("instance_name")?;
    // The plugin's text, its unfilled verb included.
    let number = meta
        .get("project_number")
        .ok_or("expected 'project_number' field, got %v")?;
    let project_number = number.parse::<i64>().map_err(|_| {
        format!(
            "expected 'project_number' value {} to be a int64",
            go_quote(number)
        )
    })?;
    let created = field("instance_creation_timestamp")?;
    let instance_creation_timestamp = created.parse::<i64>().map_err(|_| {
        format!(
            "expected 'instance_creation_timestamp' value {} to be int64",
            go_quote(&created)
        )
    })?;
    Ok(GceClaims {
        project_id,
        project_number,
        zone,
        instance_id,
        instance_name,
        instance_creation_timestamp,
    })
}

/// The token the role asks for (`PopulateTokenAuth`), with `default` added here because the
/// outcome has no `no_default_policy` flag for the core to apply.
fn outcome(
    role: &Role,
    metadata: BTreeMap<String, String>,
    display_name: String,
    alias_name: String,
    mut internal: Map<String, Value>,
) -> LoginOutcome {
    let t = &role.token;
    let mut policies = t.policies.clone();
    if !t.no_default_policy && !policies.iter().any(|p| p == "default") {
        policies.push("default".into());
    }
    policies.sort();
    let secs = |s: i64| (s > 0).then(|| std::time::Duration::from_secs(s as u64));
    // The outcome has no explicit max TTL: the nearer of the two limits stands for both.
    let max_ttl = match (secs(t.max_ttl), secs(t.explicit_max_ttl)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    internal
        .entry("token_policies")
        .or_insert_with(|| json!(t.policies));
    internal
        .entry("metadata")
        .or_insert_with(|| json!(metadata));
    internal
        .entry("display_name")
        .or_insert_with(|| json!(display_name));
    internal
        .entry("alias_name")
        .or_insert_with(|| json!(alias_name));
    LoginOutcome {
        token_policies: policies.clone(),
        policies,
        metadata,
        display_name,
        alias_name,
        ttl: secs(t.ttl),
        max_ttl,
        period: secs(t.period),
        num_uses: t.num_uses.clamp(0, i64::from(u32::MAX)) as u32,
        token_type: t.token_type.clone(),
        bound_cidrs: t.bound_cidrs.clone(),
        renewable: true,
        internal,
    }
}
