//! AWS state: accounts, IAM users with access keys, roles and who may assume them, instance
//! profiles, EC2 instances, and the temporary credentials STS has issued.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::SystemTime;

use super::{derive_chars, RsaKey, SECRET_CHARS, UPPER_ALNUM};

#[derive(Debug, Clone)]
pub struct AwsWorld {
    seed: String,
    /// By 12-digit account id.
    pub accounts: BTreeMap<String, Account>,
    /// Long-term keys (`AKIA…`) → owner.
    pub access_keys: HashMap<String, AccessKey>,
    /// Temporary keys (`ASIA…`) from AssumeRole / GetSessionToken / instance profiles.
    pub sessions: HashMap<String, Session>,
    /// By instance id.
    pub instances: BTreeMap<String, Ec2Instance>,
    /// Signs instance identity documents; its certificate is what Vault's `config/certificate` takes.
    pub identity_key: RsaKey,
    /// IMDSv2 tokens issued → expiry.
    pub imds_tokens: HashMap<String, SystemTime>,
    /// The instance the metadata service answers for.
    pub imds_instance: Option<String>,
    /// Whether the metadata service answers requests without an IMDSv2 token (IMDSv1). AWS's
    /// default for most launches is "optional", i.e. allowed.
    pub imds_v1_allowed: bool,
    pub counter: u64,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub users: BTreeMap<String, User>,
    pub roles: BTreeMap<String, Role>,
    pub instance_profiles: BTreeMap<String, InstanceProfile>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub path: String,
    pub user_id: String,
    pub created: SystemTime,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub created: SystemTime,
    /// User names (in the same account) or full principal ARNs that may assume the role.
    pub assumable_by: BTreeSet<String>,
    pub max_session_duration: u32,
}

#[derive(Debug, Clone)]
pub struct InstanceProfile {
    pub name: String,
    pub path: String,
    pub id: String,
    pub role: Option<String>,
    pub created: SystemTime,
}

#[derive(Debug, Clone)]
pub struct Ec2Instance {
    pub id: String,
    pub account: String,
    pub region: String,
    pub availability_zone: String,
    pub ami: String,
    pub instance_type: String,
    pub subnet: String,
    pub vpc: String,
    pub private_ip: String,
    pub profile: Option<String>,
    pub launched: SystemTime,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub account: String,
    pub user: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub secret: String,
    pub token: String,
    pub expires: SystemTime,
    pub principal: Principal,
}

/// Who a request is signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User {
        account: String,
        user: String,
    },
    AssumedRole {
        account: String,
        role: String,
        session: String,
    },
    /// GetSessionToken credentials stand for the user who asked.
    SessionUser {
        account: String,
        user: String,
    },
}

impl Principal {
    /// The account the principal acts in.
    pub fn account(&self) -> &str {
        match self {
            Principal::User { account, .. }
            | Principal::AssumedRole { account, .. }
            | Principal::SessionUser { account, .. } => account,
        }
    }
}

/// What GetCallerIdentity answers for a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub arn: String,
    pub user_id: String,
    pub account: String,
}

impl AwsWorld {
    pub fn new(seed: &str) -> Self {
        Self {
            seed: seed.to_owned(),
            accounts: BTreeMap::new(),
            access_keys: HashMap::new(),
            sessions: HashMap::new(),
            instances: BTreeMap::new(),
            identity_key: RsaKey::derive(seed, "aws/ec2-identity", "ec2.amazonaws.com"),
            imds_tokens: HashMap::new(),
            imds_instance: None,
            imds_v1_allowed: true,
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        let n = self.counter;
        self.counter += 1;
        n
    }

    /// An AWS unique id: prefix plus 17 characters (21 in all), deterministic.
    pub fn unique_id(&mut self, prefix: &str, label: &str) -> String {
        let n = self.next();
        format!(
            "{prefix}{}",
            derive_chars(&self.seed, &format!("aws/{label}/{n}"), UPPER_ALNUM, 17)
        )
    }

    pub fn account_mut(&mut self, id: &str) -> &mut Account {
        self.accounts
            .entry(id.to_owned())
            .or_insert_with(|| Account {
                id: id.to_owned(),
                users: BTreeMap::new(),
                roles: BTreeMap::new(),
                instance_profiles: BTreeMap::new(),
            })
    }

    pub fn add_user(&mut self, account: &str, name: &str, path: &str, now: SystemTime) {
        let user_id = self.unique_id("AIDA", &format!("user/{account}/{name}"));
        self.account_mut(account).users.insert(
            name.to_owned(),
            User {
                name: name.to_owned(),
                path: path.to_owned(),
                user_id,
                created: now,
            },
        );
    }

    /// A new long-term access key for a user; returns its id.
    pub fn add_access_key(&mut self, account: &str, user: &str) -> String {
        let n = self.next();
        let label = format!("aws/key/{account}/{user}/{n}");
        let id = format!("AKIA{}", derive_chars(&self.seed, &label, UPPER_ALNUM, 16));
        let secret = derive_chars(&self.seed, &format!("{label}/secret"), SECRET_CHARS, 40);
        self.access_keys.insert(
            id.clone(),
            AccessKey {
                id: id.clone(),
                secret,
                account: account.to_owned(),
                user: user.to_owned(),
                active: true,
            },
        );
        id
    }

    /// Adds (or re-creates, with a new unique id) a role.
    pub fn add_role(&mut self, account: &str, name: &str, path: &str, now: SystemTime) {
        let role_id = self.unique_id("AROA", &format!("role/{account}/{name}"));
        let assumable_by = self
            .accounts
            .get(account)
            .and_then(|a| a.roles.get(name))
            .map(|r| r.assumable_by.clone())
            .unwrap_or_default();
        self.account_mut(account).roles.insert(
            name.to_owned(),
            Role {
                name: name.to_owned(),
                path: path.to_owned(),
                role_id,
                created: now,
                assumable_by,
                max_session_duration: 3600,
            },
        );
    }

    pub fn add_instance_profile(
        &mut self,
        account: &str,
        name: &str,
        role: Option<&str>,
        now: SystemTime,
    ) {
        let id = self.unique_id("AIPA", &format!("profile/{account}/{name}"));
        self.account_mut(account).instance_profiles.insert(
            name.to_owned(),
            InstanceProfile {
                name: name.to_owned(),
                path: "/".into(),
                id,
                role: role.map(str::to_owned),
                created: now,
            },
        );
    }

    /// Issues temporary credentials (`ASIA…`) for a principal.
    pub fn issue_session(&mut self, principal: Principal, expires: SystemTime) -> Session {
        let n = self.next();
        let label = format!("aws/session/{n}");
        let id = format!("ASIA{}", derive_chars(&self.seed, &label, UPPER_ALNUM, 16));
        let secret = derive_chars(&self.seed, &format!("{label}/secret"), SECRET_CHARS, 40);
        let token = format!(
            "IQoJb3JpZ2luX2VjEAuthsim{}",
            derive_chars(&self.seed, &format!("{label}/token"), SECRET_CHARS, 200)
        );
        let session = Session {
            id: id.clone(),
            secret,
            token,
            expires,
            principal,
        };
        self.sessions.insert(id, session.clone());
        session
    }

    /// Deletes a role; `add_role` with the same name then re-creates it with a new unique id, as
    /// IAM does (who may assume it is kept only if the role still exists, so set it again).
    pub fn delete_role(&mut self, account: &str, name: &str) -> Option<Role> {
        self.accounts.get_mut(account)?.roles.remove(name)
    }

    /// Deletes a user and its access keys; `add_user` re-creates it with a new unique id.
    pub fn delete_user(&mut self, account: &str, name: &str) -> Option<User> {
        let user = self.accounts.get_mut(account)?.users.remove(name)?;
        self.access_keys
            .retain(|_, k| !(k.account == account && k.user == name));
        Some(user)
    }

    /// A new IMDSv2 session token valid until `expires`.
    pub fn issue_imds_token(&mut self, expires: SystemTime) -> String {
        let n = self.next();
        let token = format!(
            "AQAEA{}==",
            derive_chars(&self.seed, &format!("aws/imds-token/{n}"), SECRET_CHARS, 51)
        );
        self.imds_tokens.insert(token.clone(), expires);
        token
    }

    /// Whether an IMDSv2 token was issued and is still valid at `now`.
    pub fn imds_token_valid(&self, token: &str, now: SystemTime) -> bool {
        self.imds_tokens.get(token).is_some_and(|exp| now < *exp)
    }

    /// Temporary credentials for an instance's role, as the metadata service hands them out:
    /// the current ones while more than `refresh_before` of their life remains, else new ones
    /// valid until `expires`.
    pub fn instance_role_session(
        &mut self,
        principal: Principal,
        now: SystemTime,
        refresh_before: std::time::Duration,
        expires: SystemTime,
    ) -> Session {
        let current = self
            .sessions
            .values()
            .filter(|s| s.principal == principal && s.expires > now + refresh_before)
            .max_by_key(|s| s.expires)
            .cloned();
        current.unwrap_or_else(|| self.issue_session(principal, expires))
    }

    /// A stable reservation id (`r-` and 17 hex digits) for an instance.
    pub fn reservation_id(&self, instance_id: &str) -> String {
        let bytes = super::derive(&self.seed, &format!("aws/reservation/{instance_id}"));
        format!("r-{}", &hex::encode(bytes)[..17])
    }

    /// The principal behind an access key, whether long-term or temporary.
    pub fn principal_for_key(&self, access_key_id: &str) -> Option<Principal> {
        if let Some(k) = self.access_keys.get(access_key_id) {
            return Some(Principal::User {
                account: k.account.clone(),
                user: k.user.clone(),
            });
        }
        self.sessions
            .get(access_key_id)
            .map(|s| s.principal.clone())
    }

    /// What GetCallerIdentity says for a principal; `None` if it no longer exists.
    pub fn caller_identity(&self, p: &Principal) -> Option<CallerIdentity> {
        match p {
            Principal::User { account, user } | Principal::SessionUser { account, user } => {
                let u = self.accounts.get(account)?.users.get(user)?;
                Some(CallerIdentity {
                    arn: user_arn(account, &u.path, &u.name),
                    user_id: u.user_id.clone(),
                    account: account.clone(),
                })
            }
            Principal::AssumedRole {
                account,
                role,
                session,
            } => {
                let r = self.accounts.get(account)?.roles.get(role)?;
                Some(CallerIdentity {
                    arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
                    user_id: format!("{}:{session}", r.role_id),
                    account: account.clone(),
                })
            }
        }
    }

    /// The ARN of a principal as IAM policies name it (users with their path; for an assumed
    /// role, the role's IAM ARN).
    pub fn principal_arn(&self, p: &Principal) -> Option<String> {
        self.caller_identity(p).map(|c| c.arn)
    }

    /// Whether `p` may assume `role` in `account`.
    pub fn may_assume(&self, p: &Principal, account: &str, role: &str) -> bool {
        let Some(r) = self.accounts.get(account).and_then(|a| a.roles.get(role)) else {
            return false;
        };
        let Some(arn) = self.principal_arn(p) else {
            return false;
        };
        r.assumable_by.iter().any(|who| {
            who == "*"
                || *who == arn
                || matches!(p, Principal::User { account: a, user } | Principal::SessionUser { account: a, user } if a == account && who == user)
        })
    }
}

pub fn user_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

pub fn instance_profile_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:instance-profile{path}{name}")
}
