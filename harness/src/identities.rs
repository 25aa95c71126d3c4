//! The default identities of a world: who the quick start logs in as.

use authsim_mocks::world::aws::{user_arn, AccessKey};
use authsim_mocks::world::gcp::ServiceAccount;
use authsim_mocks::World;

/// The AWS user and key the quick start signs with: the first user with an active access key.
pub fn aws_default(world: &World) -> Option<(&AccessKey, String)> {
    let mut keys: Vec<&AccessKey> = world
        .aws
        .access_keys
        .values()
        .filter(|k| k.active)
        .collect();
    keys.sort_by(|a, b| (&a.account, &a.user, &a.id).cmp(&(&b.account, &b.user, &b.id)));
    let key = keys.into_iter().next()?;
    let user = world.aws.accounts.get(&key.account)?.users.get(&key.user)?;
    Some((key, user_arn(&key.account, &user.path, &user.name)))
}

/// The GCP account that logs in (the metadata server's account, else the first enabled account
/// someone else may sign as) and a caller with a key file who may sign JWTs as it.
pub fn gcp_default(world: &World) -> Option<(&ServiceAccount, Option<&ServiceAccount>)> {
    let gcp = &world.gcp;
    let target = gcp
        .metadata_account
        .as_ref()
        .and_then(|e| gcp.service_accounts.get(e))
        .or_else(|| gcp.service_accounts.values().find(|s| !s.disabled))?;
    let caller = gcp.service_accounts.values().find(|c| {
        !c.disabled
            && !c.user_keys.is_empty()
            && c.email != target.email
            && gcp.may_impersonate(&c.email, target)
    });
    Some((target, caller))
}
