//! The world file (TOML) and its conversion into a [`World`].
//!
//! These are the only serde types for world files; the world model itself never derives serde
//! (invariant 7). Every error names `file:line:col` and shows the line with a caret.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::time::SystemTime;

use serde::Deserialize;
use toml::Spanned;

use crate::world::World;

/// The default world, embedded in the binary and kept as `scenarios/world.toml`.
pub const DEFAULT_WORLD: &str = include_str!("../../scenarios/world.toml");
pub const DEFAULT_WORLD_NAME: &str = "scenarios/world.toml (built in)";

/// A world file that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldFileError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub source_line: String,
    /// A "did you mean" for a misspelt key.
    pub help: Option<String>,
}

impl std::error::Error for WorldFileError {}

impl fmt::Display for WorldFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.line.to_string();
        let pad = " ".repeat(n.len());
        writeln!(f, "{}", self.message)?;
        writeln!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.col)?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{n} | {}", self.source_line)?;
        write!(f, "{pad} | {}^", " ".repeat(self.col.saturating_sub(1)))?;
        if let Some(h) = &self.help {
            write!(f, " {h}")?;
        }
        Ok(())
    }
}

impl WorldFileError {
    /// An error at byte `span` of `text` (the start of the file if `None`), with a "did you mean"
    /// when `message` is serde's unknown-field message. Other file formats (scenario files) use it
    /// too, so every file error reads the same.
    pub fn at(file: &str, text: &str, span: Option<Range<usize>>, message: String) -> Self {
        let offset = span.map(|s| s.start).unwrap_or(0).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        let source_line = text[line_start..]
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        let help = did_you_mean(&message);
        Self {
            file: file.to_owned(),
            line,
            col,
            message,
            source_line,
            help,
        }
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`": the closest expected name.
fn did_you_mean(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, expected) = rest.split_once('`')?;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|c| (strsim::jaro_winkler(unknown, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldSpec {
    seed: String,
    admin_token: Option<String>,
    #[serde(default)]
    gcp: GcpSpec,
    #[serde(default)]
    aws: AwsSpec,
    vault: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GcpSpec {
    #[serde(default)]
    projects: BTreeMap<String, ProjectSpec>,
    #[serde(default)]
    service_accounts: BTreeMap<String, ServiceAccountSpec>,
    #[serde(default)]
    instances: BTreeMap<String, InstanceSpec>,
    /// Account id (or email) of the metadata server's default account.
    metadata_account: Option<Spanned<String>>,
    /// The instance the metadata server runs on.
    metadata_instance: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSpec {
    number: Option<u64>,
    /// `folders/N` and `organizations/N`, nearest first.
    #[serde(default)]
    ancestors: Vec<String>,
    /// role → members: account ids of this world, or full member strings (`user:a@b`).
    #[serde(default)]
    iam: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceAccountSpec {
    project: Option<Spanned<String>>,
    display_name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    disabled: bool,
    /// Number of user-managed keys (key files).
    #[serde(default)]
    user_keys: usize,
    /// Account ids this account holds Token Creator on ("self" allowed).
    #[serde(default)]
    token_creator_on: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceSpec {
    project: Option<Spanned<String>>,
    zone: String,
    id: Option<u64>,
    #[serde(default = "running")]
    status: String,
    /// RFC 3339.
    created: Option<Spanned<String>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    service_account: Option<Spanned<String>>,
    #[serde(default)]
    groups: Vec<String>,
}

fn running() -> String {
    "RUNNING".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwsSpec {
    #[serde(default)]
    accounts: BTreeMap<String, AccountSpec>,
    #[serde(default)]
    instances: BTreeMap<String, Ec2Spec>,
    /// The instance the metadata service answers for.
    metadata_instance: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountSpec {
    #[serde(default)]
    users: BTreeMap<String, UserSpec>,
    #[serde(default)]
    roles: BTreeMap<String, RoleSpec>,
    #[serde(default)]
    instance_profiles: BTreeMap<String, ProfileSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserSpec {
    #[serde(default = "slash")]
    path: String,
    #[serde(default = "one")]
    access_keys: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    #[serde(default = "slash")]
    path: String,
    #[serde(default)]
    assumable_by: Vec<String>,
    max_session_duration: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileSpec {
    role: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ec2Spec {
    account: Spanned<String>,
    #[serde(default = "us_east_1")]
    region: String,
    availability_zone: Option<String>,
    #[serde(default = "default_ami")]
    ami: String,
    #[serde(default = "default_type")]
    instance_type: String,
    #[serde(default = "default_subnet")]
    subnet: String,
    #[serde(default = "default_vpc")]
    vpc: String,
    #[serde(default = "default_ip")]
    private_ip: String,
    profile: Option<Spanned<String>>,
}

fn slash() -> String {
    "/".into()
}
fn one() -> usize {
    1
}
fn us_east_1() -> String {
    "us-east-1".into()
}
fn default_ami() -> String {
    "ami-0abcdef1234567890".into()
}
fn default_type() -> String {
    "t3.micro".into()
}
fn default_subnet() -> String {
    "subnet-0123456789abcdef0".into()
}
fn default_vpc() -> String {
    "vpc-0123456789abcdef0".into()
}
fn default_ip() -> String {
    "10.0.0.10".into()
}

/// Parses a world file. `now` stamps creation times that the file does not give.
pub fn parse(file: &str, text: &str, now: SystemTime) -> Result<World, WorldFileError> {
    let spec: WorldSpec = toml::from_str(text)
        .map_err(|e| WorldFileError::at(file, text, e.span(), e.message().trim_end().to_owned()))?;
    let err = |span: Range<usize>, msg: String| WorldFileError::at(file, text, Some(span), msg);
    let mut world = World::new(&spec.seed);
    world.admin_token = spec.admin_token;
    if let Some(vault) = spec.vault {
        if let Some(t) = vault.get("root_token").and_then(|v| v.as_str()) {
            world.vault.root_token = t.to_owned();
        }
        world.vault.raw_toml = toml::to_string(&vault).unwrap_or_default();
    }

    // --- gcp
    let gcp = &mut world.gcp;
    for (id, p) in &spec.gcp.projects {
        let project = gcp.add_project(id, p.number);
        for a in &p.ancestors {
            match a.split_once('/') {
                Some(("folders", n)) => project.ancestors.push(("folder".into(), n.into())),
                Some(("organizations", n)) => {
                    project.ancestors.push(("organization".into(), n.into()))
                }
                _ => {
                    return Err(err(
                        0..0,
                        format!(
                        "project '{id}': ancestor '{a}' is not 'folders/N' or 'organizations/N'"
                    ),
                    ))
                }
            }
        }
    }
    let only_project = (spec.gcp.projects.len() == 1)
        .then(|| spec.gcp.projects.keys().next().cloned())
        .flatten();
    let project_of = |p: &Option<Spanned<String>>, span: Range<usize>, what: &str| match p {
        Some(p) if spec.gcp.projects.contains_key(p.get_ref()) => Ok(p.get_ref().clone()),
        Some(p) => Err(err(
            p.span(),
            format!(
                "unknown project '{}' (define it under [gcp.projects])",
                p.get_ref()
            ),
        )),
        None => only_project.clone().ok_or_else(|| {
            err(
                span,
                format!("{what} needs `project =` (the world has several or no projects)"),
            )
        }),
    };
    let mut emails = BTreeMap::new();
    for (id, sa) in &spec.gcp.service_accounts {
        let project = project_of(
            &sa.project,
            header_span(text, "gcp.service_accounts", id),
            &format!("service account '{id}'"),
        )?;
        if sa.user_keys > crate::world::gcp::MAX_USER_KEYS {
            return Err(err(
                header_span(text, "gcp.service_accounts", id),
                format!(
                    "service account '{id}' user_keys = {}: Google allows at most {} user-managed keys per account",
                    sa.user_keys,
                    crate::world::gcp::MAX_USER_KEYS
                ),
            ));
        }
        let email = gcp.add_service_account(id, &project, sa.user_keys, now);
        let acct = gcp.service_accounts.get_mut(&email).expect("just added");
        acct.disabled = sa.disabled;
        if let Some(d) = &sa.display_name {
            acct.display_name = d.clone();
        }
        if let Some(d) = &sa.description {
            acct.description = d.clone();
        }
        emails.insert(id.clone(), email);
    }
    let resolve = |name: &Spanned<String>| -> Result<String, WorldFileError> {
        let n = name.get_ref();
        if n.contains('@') {
            return Ok(n.clone());
        }
        emails.get(n).cloned().ok_or_else(|| {
            err(
                name.span(),
                format!("unknown service account '{n}' (define it under [gcp.service_accounts])"),
            )
        })
    };
    for (id, sa) in &spec.gcp.service_accounts {
        let caller = emails[id].clone();
        for target in &sa.token_creator_on {
            let target_email = if target.get_ref() == "self" {
                caller.clone()
            } else {
                resolve(target)?
            };
            if let Some(t) = gcp.service_accounts.get_mut(&target_email) {
                t.token_creators.insert(caller.clone());
            }
        }
    }
    for (id, p) in &spec.gcp.projects {
        for (role, members) in &p.iam {
            let mut set = std::collections::BTreeSet::new();
            for m in members {
                let member = if m.contains(':') {
                    m.clone()
                } else if let Some(e) = emails.get(m) {
                    format!("serviceAccount:{e}")
                } else {
                    return Err(err(0..0, format!("project '{id}': iam member '{m}' is neither a service account of this world nor a 'type:value' member")));
                };
                set.insert(member);
            }
            gcp.projects
                .get_mut(id)
                .expect("defined above")
                .iam_bindings
                .insert(role.clone(), set);
        }
    }
    for (name, inst) in &spec.gcp.instances {
        let i = inst;
        let project = project_of(
            &i.project,
            header_span(text, "gcp.instances", name),
            &format!("instance '{name}'"),
        )?;
        let created = match &i.created {
            Some(c) => parse_time(c.get_ref()).ok_or_else(|| {
                err(
                    c.span(),
                    format!("'{}' is not an RFC 3339 time", c.get_ref()),
                )
            })?,
            None => now,
        };
        let service_account = i.service_account.as_ref().map(&resolve).transpose()?;
        let id = i.id.unwrap_or_else(|| {
            crate::world::derive_chars(
                &spec.seed,
                &format!("gcp/instance/{name}"),
                b"0123456789",
                18,
            )
            .trim_start_matches('0')
            .parse()
            .unwrap_or(1)
        });
        gcp.instances.insert(
            name.clone(),
            crate::world::gcp::Instance {
                name: name.clone(),
                project,
                zone: i.zone.clone(),
                id,
                status: i.status.clone(),
                creation_timestamp: created,
                labels: i.labels.clone(),
                service_account,
                groups: i.groups.clone(),
            },
        );
    }
    if let Some(m) = &spec.gcp.metadata_account {
        gcp.metadata_account = Some(resolve(m)?);
    }
    if let Some(m) = &spec.gcp.metadata_instance {
        if !gcp.instances.contains_key(m.get_ref()) {
            return Err(err(
                m.span(),
                format!(
                    "unknown instance '{}' (define it under [gcp.instances])",
                    m.get_ref()
                ),
            ));
        }
        gcp.metadata_instance = Some(m.get_ref().clone());
        if gcp.metadata_account.is_none() {
            gcp.metadata_account = gcp.instances[m.get_ref()].service_account.clone();
        }
    }

    // --- aws
    let aws = &mut world.aws;
    for (acct_id, acct) in &spec.aws.accounts {
        if acct_id.len() != 12 || !acct_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                header_span(text, "aws.accounts", acct_id),
                format!("AWS account id '{acct_id}' is not 12 digits"),
            ));
        }
        let a = acct;
        for (name, u) in &a.users {
            aws.add_user(acct_id, name, &u.path, now);
            for _ in 0..u.access_keys {
                aws.add_access_key(acct_id, name);
            }
        }
        for (name, r) in &a.roles {
            aws.add_role(acct_id, name, &r.path, now);
            let role = aws
                .account_mut(acct_id)
                .roles
                .get_mut(name)
                .expect("just added");
            // A bare name is a user of this account (an ARN or `*` is taken as written): one
            // that does not exist could never assume the role, which is a typo, not a test.
            if let Some(who) = r.assumable_by.iter().find(|w| {
                !(w.as_str() == "*" || w.starts_with("arn:") || a.users.contains_key(w.as_str()))
            }) {
                return Err(err(
                    header_span(text, &format!("aws.accounts.{acct_id}.roles"), name),
                    format!(
                        "role '{name}' assumable_by '{who}': no user '{who}' in account {acct_id} (give a user name of the account, a principal ARN, or \"*\")"
                    ),
                ));
            }
            role.assumable_by = r.assumable_by.iter().cloned().collect();
            if let Some(m) = r.max_session_duration {
                role.max_session_duration = m;
            }
        }
        for (name, p) in &a.instance_profiles {
            let role = p.role.as_ref();
            if let Some(r) = role {
                if !a.roles.contains_key(r.get_ref()) {
                    return Err(err(
                        r.span(),
                        format!("unknown role '{}' in account {acct_id}", r.get_ref()),
                    ));
                }
            }
            aws.add_instance_profile(acct_id, name, role.map(|r| r.get_ref().as_str()), now);
        }
    }
    for (id, inst) in &spec.aws.instances {
        let i = inst;
        let account = i.account.get_ref();
        let Some(acct) = spec.aws.accounts.get(account) else {
            return Err(err(
                i.account.span(),
                format!("unknown AWS account '{account}'"),
            ));
        };
        if let Some(p) = &i.profile {
            if !acct.instance_profiles.contains_key(p.get_ref()) {
                return Err(err(
                    p.span(),
                    format!(
                        "unknown instance profile '{}' in account {account}",
                        p.get_ref()
                    ),
                ));
            }
        }
        aws.instances.insert(
            id.clone(),
            crate::world::aws::Ec2Instance {
                id: id.clone(),
                account: account.clone(),
                region: i.region.clone(),
                availability_zone: i
                    .availability_zone
                    .clone()
                    .unwrap_or_else(|| format!("{}a", i.region)),
                ami: i.ami.clone(),
                instance_type: i.instance_type.clone(),
                subnet: i.subnet.clone(),
                vpc: i.vpc.clone(),
                private_ip: i.private_ip.clone(),
                profile: i.profile.as_ref().map(|p| p.get_ref().clone()),
                launched: now,
                state: "running".into(),
            },
        );
    }
    if let Some(m) = &spec.aws.metadata_instance {
        if !aws.instances.contains_key(m.get_ref()) {
            return Err(err(
                m.span(),
                format!(
                    "unknown EC2 instance '{}' (define it under [aws.instances])",
                    m.get_ref()
                ),
            ));
        }
        aws.imds_instance = Some(m.get_ref().clone());
    } else {
        aws.imds_instance = aws.instances.keys().next().cloned();
    }
    Ok(world)
}

/// The span of the first table header naming `prefix.name` (quoted or not), for errors about a
/// whole table.
fn header_span(text: &str, prefix: &str, name: &str) -> Range<usize> {
    for candidate in [format!("[{prefix}.{name}"), format!("[{prefix}.\"{name}\"")] {
        if let Some(i) = text.find(&candidate) {
            return i..i + candidate.len();
        }
    }
    0..0
}

/// The built-in default world.
pub fn default_world(now: SystemTime) -> World {
    parse(DEFAULT_WORLD_NAME, DEFAULT_WORLD, now).expect("the built-in world parses")
}

/// Parses RFC 3339 (`2024-01-02T03:04:05Z`).
pub fn parse_time(s: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn default_world_has_the_documented_identities() {
        let w = default_world(UNIX_EPOCH);
        assert!(w.gcp.service_accounts.len() >= 4);
        let app = &w.gcp.service_accounts["app@authsim-demo.iam.gserviceaccount.com"];
        assert!(app
            .token_creators
            .contains("ci-runner@authsim-demo.iam.gserviceaccount.com"));
        assert_eq!(app.unique_id.len(), 21);
        assert!(w.gcp.service_accounts.values().any(|s| s.disabled));
        assert_eq!(w.gcp.instances.len(), 1);
        assert_eq!(w.aws.access_keys.len(), 2); // alice and Vault's own vault-server
        assert_eq!(w.aws.instances.len(), 1);
    }

    #[test]
    fn same_seed_same_identities() {
        let a = default_world(UNIX_EPOCH);
        let b = default_world(UNIX_EPOCH);
        let ka: std::collections::BTreeSet<_> = a.aws.access_keys.keys().collect();
        let kb: std::collections::BTreeSet<_> = b.aws.access_keys.keys().collect();
        assert_eq!(ka, kb);
        assert_eq!(
            a.gcp
                .service_accounts
                .values()
                .map(|s| s.system_keys[0].key_id().to_owned())
                .collect::<Vec<_>>(),
            b.gcp
                .service_accounts
                .values()
                .map(|s| s.system_keys[0].key_id().to_owned())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let text = "seed = \"x\"\n[gcp.projects.p]\nnumbr = 1\n";
        let e = parse("w.toml", text, UNIX_EPOCH).unwrap_err();
        assert_eq!((e.line, e.col), (3, 1), "{e}");
        assert!(e.message.contains("unknown field `numbr`"), "{e}");
        let shown = e.to_string();
        assert!(shown.contains("--> w.toml:3:1"), "{shown}");
        assert!(shown.contains("3 | numbr = 1"), "{shown}");
        assert!(shown.ends_with("  | ^ did you mean `number`?"), "{shown}");
    }

    #[test]
    fn unknown_reference_points_at_the_value() {
        let text = "seed = \"x\"\n[gcp.projects.p]\n[gcp.service_accounts.a]\ntoken_creator_on = [\"nobody\"]\n";
        let e = parse("w.toml", text, UNIX_EPOCH).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert_eq!(e.col, 21, "{e}");
        assert!(e.message.contains("unknown service account 'nobody'"));
    }

    #[test]
    fn a_role_assumable_by_no_one_and_more_keys_than_google_allows_are_refused() {
        let role = "seed = \"x\"\n[aws.accounts.\"111122223333\".users.alice]\n[aws.accounts.\"111122223333\".roles.r]\nassumable_by = [\"ghost\"]\n";
        let e = parse("w.toml", role, UNIX_EPOCH).unwrap_err();
        assert!(
            e.message
                .contains("role 'r' assumable_by 'ghost': no user 'ghost' in account 111122223333"),
            "{e}"
        );
        for ok in ["alice", "*", "arn:aws:iam::444455556666:user/bob"] {
            let text = role.replace("ghost", ok);
            assert!(parse("w.toml", &text, UNIX_EPOCH).is_ok(), "{ok}");
        }
        let keys = "seed = \"x\"\n[gcp.projects.p]\n[gcp.service_accounts.a]\nuser_keys = 11\n";
        let e = parse("w.toml", keys, UNIX_EPOCH).unwrap_err();
        assert!(e.message.contains("at most 10 user-managed keys"), "{e}");
        assert_eq!(e.line, 3, "{e}");
        assert!(parse("w.toml", &keys.replace("11", "10"), UNIX_EPOCH).is_ok());
    }
}
