//! `authsim world show [--json]`.

use std::fmt::Write as _;

use authsim_mocks::world::aws::{instance_profile_arn, role_arn, user_arn};
use authsim_mocks::World;
use serde_json::json;

pub fn to_json(world: &World) -> serde_json::Value {
    let gcp = &world.gcp;
    let projects: Vec<_> = gcp
        .projects
        .values()
        .map(|p| json!({ "id": p.id, "number": p.number }))
        .collect();
    let accounts: Vec<_> = gcp
        .service_accounts
        .values()
        .map(|sa| {
            json!({
                "email": sa.email,
                "unique_id": sa.unique_id,
                "project": sa.project,
                "disabled": sa.disabled,
                "system_key_ids": sa.system_keys.iter().map(|k| k.key_id()).collect::<Vec<_>>(),
                "user_key_ids": sa.user_keys.iter().map(|k| k.key.key_id()).collect::<Vec<_>>(),
                "token_creators": sa.token_creators,
            })
        })
        .collect();
    let instances: Vec<_> = gcp
        .instances
        .values()
        .map(|i| json!({ "name": i.name, "id": i.id.to_string(), "project": i.project, "zone": i.zone, "service_account": i.service_account, "labels": i.labels }))
        .collect();
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut profiles = Vec::new();
    for a in world.aws.accounts.values() {
        for u in a.users.values() {
            let mut keys: Vec<_> = world
                .aws
                .access_keys
                .values()
                .filter(|k| k.account == a.id && k.user == u.name)
                .map(|k| json!({ "access_key_id": k.id, "secret_access_key": k.secret }))
                .collect();
            keys.sort_by_key(|k| k["access_key_id"].as_str().map(str::to_owned));
            users.push(json!({ "arn": user_arn(&a.id, &u.path, &u.name), "user_id": u.user_id, "access_keys": keys }));
        }
        for r in a.roles.values() {
            roles.push(json!({ "arn": role_arn(&a.id, &r.path, &r.name), "role_id": r.role_id, "assumable_by": r.assumable_by }));
        }
        for p in a.instance_profiles.values() {
            profiles.push(json!({ "arn": instance_profile_arn(&a.id, &p.path, &p.name), "id": p.id, "role": p.role }));
        }
    }
    let ec2: Vec<_> = world
        .aws
        .instances
        .values()
        .map(|i| json!({ "id": i.id, "account": i.account, "region": i.region, "ami": i.ami, "profile": i.profile }))
        .collect();
    json!({
        "seed": world.seed,
        "gcp": {
            "projects": projects,
            "service_accounts": accounts,
            "instances": instances,
            "google_oauth2_key_ids": gcp.google_keys.iter().map(|k| k.key_id()).collect::<Vec<_>>(),
            "metadata_account": gcp.metadata_account,
        },
        "aws": {
            "users": users, "roles": roles, "instance_profiles": profiles, "instances": ec2,
            // What Vault's `auth/aws/config/certificate` takes to verify identity documents.
            "identity_document_certificate": world.aws.identity_key.material().cert_pem,
        },
    })
}

pub fn to_text(world: &World) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "world seed: {}", world.seed);
    let _ = writeln!(out, "\nGoogle Cloud");
    for p in world.gcp.projects.values() {
        let _ = writeln!(out, "  project {} (number {})", p.id, p.number);
    }
    for sa in world.gcp.service_accounts.values() {
        let _ = writeln!(
            out,
            "  service account {}{}\n    unique id {}  signing key {}{}",
            sa.email,
            if sa.disabled { "  [disabled]" } else { "" },
            sa.unique_id,
            sa.system_keys.first().map(|k| k.key_id()).unwrap_or("-"),
            if sa.user_keys.is_empty() {
                String::new()
            } else {
                format!(
                    "  key file(s) {}",
                    sa.user_keys
                        .iter()
                        .map(|k| k.key.key_id())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        if !sa.token_creators.is_empty() {
            let who: Vec<_> = sa.token_creators.iter().map(String::as_str).collect();
            let _ = writeln!(out, "    may be signed as by: {}", who.join(", "));
        }
    }
    for i in world.gcp.instances.values() {
        let _ = writeln!(
            out,
            "  instance {} (id {}, {}/{}) runs as {}",
            i.name,
            i.id,
            i.project,
            i.zone,
            i.service_account.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(out, "\nAWS");
    let json = to_json(world);
    for u in json["aws"]["users"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  user {} ({})",
            u["arn"].as_str().unwrap_or_default(),
            u["user_id"].as_str().unwrap_or_default()
        );
        for k in u["access_keys"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "    access key {}  secret {}",
                k["access_key_id"].as_str().unwrap_or_default(),
                k["secret_access_key"].as_str().unwrap_or_default()
            );
        }
    }
    for r in json["aws"]["roles"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  role {} ({})  assumable by {}",
            r["arn"].as_str().unwrap_or_default(),
            r["role_id"].as_str().unwrap_or_default(),
            r["assumable_by"]
        );
    }
    for p in json["aws"]["instance_profiles"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "  instance profile {} -> role {}",
            p["arn"].as_str().unwrap_or_default(),
            p["role"].as_str().unwrap_or("-")
        );
    }
    for i in json["aws"]["instances"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  ec2 instance {} ({}, profile {})",
            i["id"].as_str().unwrap_or_default(),
            i["region"].as_str().unwrap_or_default(),
            i["profile"].as_str().unwrap_or("-")
        );
    }
    out
}
