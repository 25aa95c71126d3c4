//! Google Cloud state: projects, service accounts and their keys, Token Creator grants, project IAM
//! policies, GCE instances, and the access tokens the mock has issued.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::SystemTime;

use super::{derive_chars, RsaKey, DIGITS};

/// Roles on a project that carry `iam.serviceAccounts.get`.
pub const SA_GET_ROLES: &[&str] = &[
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/iam.serviceAccountViewer",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.securityReviewer",
];
/// Roles on a project that carry `compute.instances.get` and instance-group reads.
pub const COMPUTE_VIEW_ROLES: &[&str] = &[
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/compute.viewer",
];
/// Project roles that may create, delete, disable and enable service accounts (authsim's model of
/// `iam.serviceAccounts.{create,delete,disable,enable}`).
pub const SA_ADMIN_ROLES: &[&str] = &[
    "roles/owner",
    "roles/editor",
    "roles/iam.serviceAccountAdmin",
];
/// Project roles that may create and delete user-managed keys (`iam.serviceAccountKeys.create`).
pub const KEY_ADMIN_ROLES: &[&str] = &[
    "roles/owner",
    "roles/editor",
    "roles/iam.serviceAccountKeyAdmin",
];
/// Project roles that may list and read keys (`iam.serviceAccountKeys.{get,list}`).
pub const KEY_VIEW_ROLES: &[&str] = &[
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/iam.serviceAccountViewer",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountKeyAdmin",
    "roles/iam.securityReviewer",
];
/// Project roles that carry `resourcemanager.projects.get` (getAncestry).
pub const PROJECT_GET_ROLES: &[&str] = &[
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/browser",
];
/// Project roles that carry `resourcemanager.projects.getIamPolicy`.
pub const PROJECT_GET_IAM_ROLES: &[&str] = &[
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/browser",
    "roles/iam.securityReviewer",
    "roles/resourcemanager.projectIamAdmin",
];
/// Project roles that carry `resourcemanager.projects.setIamPolicy`.
pub const PROJECT_SET_IAM_ROLES: &[&str] = &[
    "roles/owner",
    "roles/resourcemanager.projectIamAdmin",
    "roles/iam.securityAdmin",
];
/// The limit of user-managed keys per service account.
pub const MAX_USER_KEYS: usize = 10;

#[derive(Debug, Clone)]
pub struct GcpWorld {
    seed: String,
    pub projects: BTreeMap<String, Project>,
    /// By email.
    pub service_accounts: BTreeMap<String, ServiceAccount>,
    /// By name.
    pub instances: BTreeMap<String, Instance>,
    /// Google's own OAuth2 signing keys (identity tokens; `/oauth2/v1/certs`).
    pub google_keys: Vec<RsaKey>,
    /// The metadata server's default service account (email).
    pub metadata_account: Option<String>,
    /// The instance the metadata server runs on (name), for `format=full` identity tokens.
    pub metadata_instance: Option<String>,
    /// Issued access tokens.
    pub tokens: HashMap<String, AccessToken>,
    /// Counts, so that runtime-created keys and accounts stay deterministic.
    pub counter: u64,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub number: u64,
    /// Ancestry for `getAncestry`: (type, id), nearest first, e.g. ("folder","123"), ("organization","456").
    pub ancestors: Vec<(String, String)>,
    /// role → members (`serviceAccount:x@p.iam.gserviceaccount.com`, `user:...`).
    pub iam_bindings: BTreeMap<String, BTreeSet<String>>,
    pub etag_version: u64,
}

#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub email: String,
    pub account_id: String,
    pub project: String,
    pub unique_id: String,
    pub display_name: String,
    pub description: String,
    pub disabled: bool,
    /// Google-managed keys: what signJwt and signBlob sign with (the first one).
    pub system_keys: Vec<RsaKey>,
    /// User-managed keys: key files.
    pub user_keys: Vec<UserKey>,
    /// Emails of accounts holding `roles/iam.serviceAccountTokenCreator` on this account.
    pub token_creators: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct UserKey {
    pub key: RsaKey,
    pub valid_after: SystemTime,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub project: String,
    pub zone: String,
    pub id: u64,
    pub status: String,
    pub creation_timestamp: SystemTime,
    pub labels: BTreeMap<String, String>,
    /// Email of the attached service account.
    pub service_account: Option<String>,
    /// Instance groups (names) in the instance's zone.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    /// Email of the account the token stands for.
    pub email: String,
    pub expires: SystemTime,
    pub scopes: Vec<String>,
}

impl GcpWorld {
    pub fn new(seed: &str) -> Self {
        let google_keys = (0..2)
            .map(|i| {
                RsaKey::derive(
                    seed,
                    &format!("gcp/google-oauth2/{i}"),
                    "accounts.google.com",
                )
            })
            .collect();
        Self {
            seed: seed.to_owned(),
            projects: BTreeMap::new(),
            service_accounts: BTreeMap::new(),
            instances: BTreeMap::new(),
            google_keys,
            metadata_account: None,
            metadata_instance: None,
            tokens: HashMap::new(),
            counter: 0,
        }
    }

    pub fn seed(&self) -> &str {
        &self.seed
    }

    pub fn add_project(&mut self, id: &str, number: Option<u64>) -> &mut Project {
        let number = number.unwrap_or_else(|| {
            derive_chars(&self.seed, &format!("gcp/project/{id}/number"), DIGITS, 12)
                .trim_start_matches('0')
                .parse()
                .unwrap_or(100_000_000_000)
        });
        self.projects.entry(id.to_owned()).or_insert(Project {
            id: id.to_owned(),
            number,
            ancestors: Vec::new(),
            iam_bindings: BTreeMap::new(),
            etag_version: 1,
        })
    }

    /// Adds `account_id@project.iam.gserviceaccount.com` with one Google-managed key and
    /// `user_keys` user-managed keys. Returns its email.
    pub fn add_service_account(
        &mut self,
        account_id: &str,
        project: &str,
        user_keys: usize,
        now: SystemTime,
    ) -> String {
        let email = format!("{account_id}@{project}.iam.gserviceaccount.com");
        let generation = self.counter;
        self.counter += 1;
        // The unique id changes when an account is deleted and re-created with the same email.
        let label = format!("gcp/sa/{email}/{generation}");
        let mut unique_id = String::from("1");
        unique_id.push_str(&derive_chars(
            &self.seed,
            &format!("{label}/uid"),
            DIGITS,
            20,
        ));
        let system_keys = vec![RsaKey::derive(
            &self.seed,
            &format!("{label}/system/0"),
            &email,
        )];
        let mut sa = ServiceAccount {
            email: email.clone(),
            account_id: account_id.to_owned(),
            project: project.to_owned(),
            unique_id,
            display_name: account_id.to_owned(),
            description: String::new(),
            disabled: false,
            system_keys,
            user_keys: Vec::new(),
            token_creators: BTreeSet::new(),
        };
        for i in 0..user_keys {
            sa.user_keys.push(UserKey {
                key: RsaKey::derive(&self.seed, &format!("{label}/user/{i}"), &email),
                valid_after: now,
                disabled: false,
            });
        }
        self.service_accounts.insert(email.clone(), sa);
        email
    }

    /// A new user-managed key for `email` (deterministic from the seed and a counter).
    pub fn create_user_key(&mut self, email: &str, now: SystemTime) -> Option<RsaKey> {
        let n = self.counter;
        self.counter += 1;
        let seed = self.seed.clone();
        let sa = self.service_accounts.get_mut(email)?;
        let key = RsaKey::derive(&seed, &format!("gcp/sa/{email}/user-created/{n}"), email);
        sa.user_keys.push(UserKey {
            key: key.clone(),
            valid_after: now,
            disabled: false,
        });
        Some(key)
    }

    /// Finds an account by email or 21-digit unique id.
    pub fn find_account(&self, email_or_id: &str) -> Option<&ServiceAccount> {
        if email_or_id.contains('@') {
            return self.service_accounts.get(email_or_id);
        }
        self.service_accounts
            .values()
            .find(|sa| sa.unique_id == email_or_id)
    }

    pub fn find_account_mut(&mut self, email_or_id: &str) -> Option<&mut ServiceAccount> {
        let email = self.find_account(email_or_id)?.email.clone();
        self.service_accounts.get_mut(&email)
    }

    /// Whether `caller` (email) holds Token Creator on `target` (email), directly or through a
    /// project-level grant.
    pub fn may_impersonate(&self, caller: &str, target: &ServiceAccount) -> bool {
        if target.token_creators.contains(caller) {
            return true;
        }
        self.has_project_role(
            &target.project,
            caller,
            &["roles/owner", "roles/iam.serviceAccountTokenCreator"],
        )
    }

    /// Whether `caller` (email) holds one of `roles` on `project`.
    pub fn has_project_role(&self, project: &str, caller: &str, roles: &[&str]) -> bool {
        let Some(p) = self.projects.get(project) else {
            return false;
        };
        let member = format!("serviceAccount:{caller}");
        roles.iter().any(|r| {
            p.iam_bindings
                .get(*r)
                .is_some_and(|m| m.contains(&member) || m.contains("allAuthenticatedUsers"))
        })
    }

    /// Whether `caller` (email) holds one of `roles` on any project (for `projects/-` names).
    pub fn has_role_anywhere(&self, caller: &str, roles: &[&str]) -> bool {
        self.projects
            .keys()
            .any(|p| self.has_project_role(p, caller, roles))
    }

    /// Deletes an account. As Google does, its access tokens stop working, its Token Creator
    /// grants on other accounts go, and project bindings naming it become
    /// `deleted:serviceAccount:EMAIL?uid=UNIQUE_ID`, so a re-created account with the same email
    /// inherits nothing.
    pub fn delete_service_account(&mut self, email: &str) -> Option<ServiceAccount> {
        let sa = self.service_accounts.remove(email)?;
        self.tokens.retain(|_, t| t.email != email);
        for other in self.service_accounts.values_mut() {
            other.token_creators.remove(email);
        }
        let member = format!("serviceAccount:{email}");
        let deleted = format!("deleted:serviceAccount:{email}?uid={}", sa.unique_id);
        for p in self.projects.values_mut() {
            for members in p.iam_bindings.values_mut() {
                if members.remove(&member) {
                    members.insert(deleted.clone());
                }
            }
        }
        Some(sa)
    }

    /// Every key the world names (for warming and for the certs endpoints).
    pub fn all_keys(&self) -> Vec<RsaKey> {
        let mut keys = self.google_keys.clone();
        for sa in self.service_accounts.values() {
            keys.extend(sa.system_keys.iter().cloned());
            keys.extend(sa.user_keys.iter().map(|k| k.key.clone()));
        }
        keys
    }

    /// Issues an opaque `ya29.` access token for `email`.
    pub fn issue_token(&mut self, email: &str, scopes: Vec<String>, expires: SystemTime) -> String {
        let n = self.counter;
        self.counter += 1;
        let token = format!(
            "ya29.authsim-{}",
            derive_chars(
                &self.seed,
                &format!("gcp/token/{email}/{n}"),
                super::SECRET_CHARS
                    .iter()
                    .copied()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect::<Vec<_>>()
                    .as_slice(),
                48
            )
        );
        self.tokens.insert(
            token.clone(),
            AccessToken {
                email: email.to_owned(),
                expires,
                scopes,
            },
        );
        token
    }
}
