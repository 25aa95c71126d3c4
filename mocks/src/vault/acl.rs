//! ACL policies (reference vault-core.md §2.5, §3): HCL parsing (with `hcl-rs`; JSON policies too),
//! capabilities, `*` prefix rules and `+` segment wildcards, the rule-priority order of §3.3, the
//! `root` and `default` policies and parameter constraints.
//!
//! **Not modelled:** `min_wrapping_ttl`/`max_wrapping_ttl`, `mfa_methods`, `control_group` (parsed
//! and ignored), glob values in `allowed_parameters`, identity-group policies, templated paths other
//! than `{{identity.entity.id}}`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

pub const DENY: u16 = 1;
pub const CREATE: u16 = 2;
pub const READ: u16 = 4;
pub const UPDATE: u16 = 8;
pub const DELETE: u16 = 16;
pub const LIST: u16 = 32;
pub const SUDO: u16 = 64;
pub const PATCH: u16 = 128;
pub const SUBSCRIBE: u16 = 256;

/// Capability names in the order `sys/capabilities-self` prints them (alphabetical).
const NAMES: &[(&str, u16)] = &[
    ("create", CREATE),
    ("delete", DELETE),
    ("list", LIST),
    ("patch", PATCH),
    ("read", READ),
    ("subscribe", SUBSCRIBE),
    ("sudo", SUDO),
    ("update", UPDATE),
];

/// The built-in `default` policy (reference §3.4).
pub const DEFAULT_POLICY: &str = r#"
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}


# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow checking the status of a Control Group request if the user has the
# accessor
path "sys/control-group/request" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"#;

/// What one `path` block grants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathRules {
    pub caps: u16,
    /// Lower-cased parameter name → allowed values (empty = any value).
    pub allowed: BTreeMap<String, Vec<Value>>,
    pub denied: BTreeMap<String, Vec<Value>>,
    pub required: Vec<String>,
}

impl PathRules {
    fn merge(&mut self, other: &PathRules) {
        if self.caps & DENY != 0 || other.caps & DENY != 0 {
            *self = PathRules {
                caps: DENY,
                ..PathRules::default()
            };
            return;
        }
        self.caps |= other.caps;
        // acl.go: values of one parameter from two policies are appended, unless one side's
        // list is empty ("any value"), which then wins.
        let merge = |mine: &mut BTreeMap<String, Vec<Value>>,
                     theirs: &BTreeMap<String, Vec<Value>>| {
            for (k, v) in theirs {
                match mine.get_mut(k) {
                    Some(m) if m.is_empty() => {}
                    Some(m) if v.is_empty() => m.clear(),
                    Some(m) => m.extend(v.iter().cloned()),
                    None => {
                        mine.insert(k.clone(), v.clone());
                    }
                }
            }
        };
        merge(&mut self.allowed, &other.allowed);
        merge(&mut self.denied, &other.denied);
        self.required.extend(other.required.iter().cloned());
    }
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub text: String,
    /// Rule string (as written, leading `/` stripped) → rules, in file order.
    pub paths: Vec<(String, PathRules)>,
}

/// Where keys and quoted strings sit in a policy's text, gathered in one pass, so that the lines
/// of invalid keys are found without rescanning the text for each (a policy can be a megabyte).
#[derive(Debug, Default)]
struct KeyLines {
    /// Key → the lines of its assignments (`key =` in HCL, `"key":` in JSON), in order; 0 for
    /// a block (`key "x" {`), which has no `=` and so no position in HCL 1's syntax tree.
    keys: HashMap<String, Vec<usize>>,
    /// Per key, how many of its lines have been reported.
    taken: HashMap<String, usize>,
    /// Quoted string → the first line it appears on.
    strings: HashMap<String, usize>,
}

impl KeyLines {
    fn new(text: &str) -> Self {
        let mut kl = Self::default();
        let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        for (n, line) in text.lines().enumerate() {
            let no = n + 1;
            let b = line.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'"' {
                    // A quoted string: recorded; followed by `:` it is a JSON key.
                    let start = i + 1;
                    let mut end = start;
                    while end < b.len() && b[end] != b'"' {
                        end += if b[end] == b'\\' { 2 } else { 1 };
                    }
                    let end = end.min(b.len());
                    let content = &line[start..end];
                    kl.strings.entry(content.to_owned()).or_insert(no);
                    let rest = line[(end + 1).min(b.len())..].trim_start();
                    if rest.starts_with(':') {
                        kl.keys.entry(content.to_owned()).or_default().push(no);
                    }
                    i = end + 1;
                } else if ident(b[i]) && (i == 0 || !ident(b[i - 1])) {
                    let start = i;
                    while i < b.len() && ident(b[i]) {
                        i += 1;
                    }
                    let rest = line[i..].trim_start();
                    let at_start = line[..start].trim().is_empty();
                    if rest.starts_with('=') && !rest.starts_with("==") {
                        kl.keys
                            .entry(line[start..i].to_owned())
                            .or_default()
                            .push(no);
                    } else if at_start && (rest.starts_with('"') || rest.starts_with('{')) {
                        kl.keys
                            .entry(line[start..i].to_owned())
                            .or_default()
                            .push(0);
                    }
                } else {
                    i += 1;
                }
            }
        }
        kl
    }

    /// The line of `key`'s next unreported assignment at or after line `from`.
    fn line(&mut self, key: &str, from: usize) -> usize {
        let Some(lines) = self.keys.get(key) else {
            return 0;
        };
        let taken = self.taken.entry(key.to_owned()).or_default();
        let first = lines.partition_point(|l| *l != 0 && *l < from);
        let at = first.max(*taken);
        *taken = at + 1;
        lines.get(at).copied().unwrap_or(0)
    }

    /// The line where the `path "p"` block (or JSON `"p":` entry) starts.
    fn path_line(&self, raw_path: &str) -> usize {
        self.strings.get(raw_path).copied().unwrap_or(1)
    }
}

/// The top level's invalid keys with their lines.
fn top_level_keys(text: &str, bad: &[String]) -> String {
    let mut lines = KeyLines::new(text);
    let listed: Vec<String> = bad
        .iter()
        .map(|k| format!("invalid key {k:?} on line {}", lines.line(k, 1)))
        .collect();
    invalid_keys(&listed)
}

/// `hclutil.CheckHCLKeys`' go-multierror: every invalid key with its line.
fn invalid_keys(errors: &[String]) -> String {
    let refs: Vec<&str> = errors.iter().map(String::as_str).collect();
    super::error::multierror(&refs)
}

const PATH_KEYS: &[&str] = &[
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "control_group",
    "subscribe_event_types",
];

/// Parses a policy's HCL (or JSON). The error text follows `failed to parse policy: `.
pub fn parse_policy(name: &str, text: &str) -> Result<Policy, String> {
    let blocks: PathBlocks = if text.trim_start().starts_with('{') {
        parse_json_policy(text)?
    } else {
        parse_hcl_policy(text)?
    };
    let mut paths = Vec::new();
    for (raw_path, body) in blocks {
        // A path's keys are checked before anything in it is read.
        if body.keys().any(|k| !PATH_KEYS.contains(&k.as_str())) {
            let mut lines = KeyLines::new(text);
            let from = lines.path_line(&raw_path);
            let bad: Vec<String> = body
                .keys()
                .filter(|k| !PATH_KEYS.contains(&k.as_str()))
                .map(|k| {
                    format!(
                        "path {raw_path:?}: invalid key {k:?} on line {}",
                        lines.line(k, from)
                    )
                })
                .collect();
            return Err(invalid_keys(&bad));
        }
        let path = raw_path.trim_start_matches('/').to_owned();
        if path.contains("+*") {
            return Err(format!(
                "path {raw_path:?}: invalid use of wildcards ('+*' is forbidden)"
            ));
        }
        let mut rules = PathRules::default();
        for (key, value) in &body {
            match key.as_str() {
                "capabilities" => {
                    // policy.go: read in order; `deny` ends the list (what follows is not
                    // checked). `recover` is a capability of later Vaults (1.20).
                    for c in value_strings(value) {
                        rules.caps |= match c.as_str() {
                            "deny" => {
                                rules.caps = DENY;
                                break;
                            }
                            "sudo" => SUDO,
                            "create" => CREATE,
                            "read" => READ,
                            "update" => UPDATE,
                            "delete" => DELETE,
                            "list" => LIST,
                            "patch" => PATCH,
                            "subscribe" => SUBSCRIBE,
                            _ => {
                                return Err(format!("path {raw_path:?}: invalid capability {c:?}"))
                            }
                        };
                    }
                }
                "policy" => {
                    let p = value.as_str().unwrap_or_default();
                    let write = CREATE | READ | UPDATE | DELETE | LIST;
                    rules.caps |= match p {
                        "deny" => DENY,
                        "read" => READ | LIST,
                        "write" => write,
                        "sudo" => write | SUDO,
                        // authsim wording: the reference does not give this message.
                        _ => return Err(format!("path {raw_path:?}: invalid policy {p:?}")),
                    };
                }
                "allowed_parameters" | "denied_parameters" => {
                    let mut m = BTreeMap::new();
                    if let Value::Object(o) = value {
                        for (k, v) in o {
                            let vals = match v {
                                Value::Array(a) => a.clone(),
                                Value::Null => Vec::new(),
                                other => vec![other.clone()],
                            };
                            m.insert(k.to_lowercase(), vals);
                        }
                    }
                    if key == "allowed_parameters" {
                        rules.allowed = m;
                    } else {
                        rules.denied = m;
                    }
                }
                "required_parameters" => {
                    rules.required = value_strings(value)
                        .into_iter()
                        .map(|s| s.to_lowercase())
                        .collect();
                }
                // The other valid keys (checked above) change nothing the mock enforces.
                _ => {}
            }
        }
        if rules.caps & DENY != 0 {
            rules.caps = DENY;
        }
        paths.push((path, rules));
    }
    Ok(Policy {
        name: name.to_owned(),
        text: text.to_owned(),
        paths,
    })
}

fn value_strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => super::fields::comma_list(s),
        _ => Vec::new(),
    }
}

/// `path` blocks as (rule string, block body).
type PathBlocks = Vec<(String, Map<String, Value>)>;

fn parse_json_policy(text: &str) -> Result<PathBlocks, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let Some(obj) = v.as_object() else {
        return Ok(out);
    };
    for (k, v) in obj {
        match k.as_str() {
            "name" => {}
            "path" => {
                let entries: Vec<&Map<String, Value>> = match v {
                    Value::Object(o) => vec![o],
                    Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
                    _ => Vec::new(),
                };
                for o in entries {
                    for (p, body) in o {
                        out.push((p.clone(), body.as_object().cloned().unwrap_or_default()));
                    }
                }
            }
            other => bad.push(other.to_owned()),
        }
    }
    if !bad.is_empty() {
        return Err(top_level_keys(text, &bad));
    }
    Ok(out)
}

fn parse_hcl_policy(text: &str) -> Result<PathBlocks, String> {
    let body = hcl::parse(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for structure in body.into_iter() {
        match structure {
            hcl::Structure::Block(block) => {
                if block.identifier.as_str() != "path" {
                    bad.push(block.identifier.as_str().to_owned());
                    continue;
                }
                let Some(label) = block.labels.first() else {
                    return Err("path: missing path name".into());
                };
                let mut m = Map::new();
                for s in block.body.into_iter() {
                    match s {
                        hcl::Structure::Attribute(a) => {
                            m.insert(a.key.as_str().to_owned(), expr_json(&a.expr));
                        }
                        hcl::Structure::Block(b) => {
                            m.insert(b.identifier.as_str().to_owned(), Value::Object(Map::new()));
                        }
                    }
                }
                out.push((label.as_str().to_owned(), m));
            }
            hcl::Structure::Attribute(a) => {
                if a.key.as_str() != "name" {
                    bad.push(a.key.as_str().to_owned());
                }
            }
        }
    }
    if !bad.is_empty() {
        return Err(top_level_keys(text, &bad));
    }
    Ok(out)
}

fn expr_json(e: &hcl::Expression) -> Value {
    use hcl::Expression as E;
    match e {
        E::Null => Value::Null,
        E::Bool(b) => Value::Bool(*b),
        E::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        E::String(s) => Value::String(s.clone()),
        E::Array(a) => Value::Array(a.iter().map(expr_json).collect()),
        E::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.to_string().trim_matches('"').to_owned(), expr_json(v)))
                .collect(),
        ),
        E::TemplateExpr(t) => Value::String(t.to_string().trim_matches('"').to_owned()),
        E::Parenthesis(inner) => expr_json(inner),
        other => Value::String(other.to_string()),
    }
}

/// The merged rules of a token's policies.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    pub root: bool,
    rules: BTreeMap<String, PathRules>,
}

fn has_plus(p: &str) -> bool {
    p == "+" || p.starts_with("+/") || p.contains("/+")
}

fn is_exact(p: &str) -> bool {
    !p.ends_with('*') && !has_plus(p)
}

/// Position of the first wildcard (`+` segment or the trailing `*`).
fn first_wildcard(p: &str) -> usize {
    let mut pos = if p.ends_with('*') {
        p.len() - 1
    } else {
        p.len()
    };
    let mut offset = 0;
    for seg in p.split('/') {
        if seg == "+" {
            pos = pos.min(offset);
            break;
        }
        offset += seg.len() + 1;
    }
    pos
}

/// Does a `+` rule match `path`?
fn plus_matches(rule: &str, path: &str) -> bool {
    let (body, prefix) = match rule.strip_suffix('*') {
        Some(b) => (b, true),
        None => (rule, false),
    };
    let rs: Vec<&str> = body.split('/').collect();
    let ps: Vec<&str> = path.split('/').collect();
    if prefix {
        if ps.len() < rs.len() {
            return false;
        }
    } else if ps.len() != rs.len() {
        return false;
    }
    for (i, r) in rs.iter().enumerate() {
        let last = i == rs.len() - 1;
        if *r == "+" {
            continue;
        }
        if last && prefix {
            if !ps[i].starts_with(r) {
                return false;
            }
        } else if *r != ps[i] {
            return false;
        }
    }
    true
}

impl Acl {
    /// The root ACL: everything allowed.
    pub fn root() -> Self {
        Self {
            root: true,
            rules: BTreeMap::new(),
        }
    }

    /// Merges `policies` per identical rule string (§3.3 step 1). `entity_id` resolves
    /// `{{identity.entity.id}}`; rules whose template cannot be resolved are dropped.
    pub fn new<'a>(policies: impl IntoIterator<Item = &'a Policy>, entity_id: &str) -> Self {
        let mut rules: BTreeMap<String, PathRules> = BTreeMap::new();
        for p in policies {
            for (path, r) in &p.paths {
                let path = if path.contains("{{") {
                    if entity_id.is_empty() || !path.contains("{{identity.entity.id}}") {
                        continue;
                    }
                    let resolved = path.replace("{{identity.entity.id}}", entity_id);
                    if resolved.contains("{{") {
                        continue;
                    }
                    resolved
                } else {
                    path.clone()
                };
                match rules.get_mut(&path) {
                    Some(existing) => existing.merge(r),
                    None => {
                        rules.insert(path, r.clone());
                    }
                }
            }
        }
        Self { root: false, rules }
    }

    /// The one rule that applies to `path` (§3.3), with the rule string.
    pub fn rule_for(&self, path: &str, is_list: bool) -> Option<(&str, &PathRules)> {
        if let Some((k, r)) = self.rules.get_key_value(path) {
            if is_exact(k) {
                return Some((k, r));
            }
        }
        if is_list {
            if let Some(trimmed) = path.strip_suffix('/') {
                if let Some((k, r)) = self.rules.get_key_value(trimmed) {
                    if is_exact(k) {
                        return Some((k, r));
                    }
                }
                // acl.go: a list tries the non-exact rules without the trailing slash first.
                if let Some(found) = self.non_exact_rule(trimmed) {
                    return Some(found);
                }
            }
        }
        self.non_exact_rule(path)
    }

    /// `CheckAllowedFromNonExactPaths`: the best of the `+` rules and the longest `*` prefix.
    fn non_exact_rule(&self, path: &str) -> Option<(&str, &PathRules)> {
        let mut best: Option<(&str, &PathRules)> = None;
        let mut longest_prefix: Option<(&str, &PathRules)> = None;
        for (k, r) in &self.rules {
            if has_plus(k) {
                if plus_matches(k, path) {
                    best = Some(pick(best, (k, r)));
                }
            } else if let Some(prefix) = k.strip_suffix('*') {
                if path.starts_with(prefix)
                    && longest_prefix.is_none_or(|(lp, _)| lp.len() < k.len())
                {
                    longest_prefix = Some((k, r));
                }
            }
        }
        match longest_prefix {
            Some(lp) => Some(pick(best, lp)),
            None => best,
        }
    }

    /// May this token do `cap` (plus `sudo` when `need_sudo`) on `path`?
    pub fn allows(&self, path: &str, cap: u16, need_sudo: bool, is_list: bool) -> bool {
        if self.root {
            return true;
        }
        match self.rule_for(path, is_list) {
            None => false,
            Some((_, r)) => {
                r.caps & DENY == 0 && r.caps & cap == cap && (!need_sudo || r.caps & SUDO != 0)
            }
        }
    }

    /// Parameter constraints (§3.3 step 5) of the rule that applies to `path`.
    pub fn params_allowed(&self, path: &str, data: &Map<String, Value>) -> bool {
        if self.root {
            return true;
        }
        let Some((_, r)) = self.rule_for(path, false) else {
            return true;
        };
        let lower: BTreeMap<String, &Value> =
            data.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
        for req in &r.required {
            if !lower.contains_key(req) {
                return false;
            }
        }
        let value_in = |list: &[Value], v: &Value| {
            let vals: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            vals.iter().all(|v| list.iter().any(|l| l == *v))
        };
        // A denied `*`, whatever values it lists, denies every request with data.
        if r.denied.contains_key("*") && !lower.is_empty() {
            return false;
        }
        for (k, v) in &lower {
            if let Some(d) = r.denied.get(k) {
                if d.is_empty() || value_in(d, v) {
                    return false;
                }
            }
        }
        if !r.allowed.is_empty() {
            let star = r.allowed.contains_key("*");
            for (k, v) in &lower {
                match r.allowed.get(k) {
                    Some(list) if !list.is_empty() && !value_in(list, v) => return false,
                    Some(_) => {}
                    None if star => {}
                    None => return false,
                }
            }
        }
        true
    }

    /// Does any non-deny rule grant something at or under `prefix` (a mount path)?
    pub fn has_rules_under(&self, prefix: &str) -> bool {
        self.rules.iter().any(|(k, r)| {
            r.caps & DENY == 0
                && r.caps != 0
                && (k.starts_with(prefix)
                    || k.strip_suffix('*').is_some_and(|p| prefix.starts_with(p))
                    || (has_plus(k) && plus_matches(k, prefix.trim_end_matches('/'))))
        })
    }

    /// Capability names on `path` for `sys/capabilities-self`.
    pub fn capabilities(&self, path: &str) -> Vec<&'static str> {
        if self.root {
            return vec!["root"];
        }
        // Evaluated as a list request (acl.go CapabilitiesAndSubscribeEventTypes).
        match self.rule_for(path.trim_start_matches('/'), true) {
            Some((_, r)) if r.caps & DENY == 0 && r.caps != 0 => NAMES
                .iter()
                .filter(|(_, c)| r.caps & c != 0)
                .map(|(n, _)| *n)
                .collect(),
            _ => vec!["deny"],
        }
    }
}

/// The higher-priority of two non-exact rules (§3.3 step 3).
fn pick<'a>(
    current: Option<(&'a str, &'a PathRules)>,
    cand: (&'a str, &'a PathRules),
) -> (&'a str, &'a PathRules) {
    let Some(cur) = current else {
        return cand;
    };
    let key = |p: &str| {
        (
            first_wildcard(p),
            !p.ends_with('*'),
            std::cmp::Reverse(p.split('/').filter(|s| *s == "+").count()),
            p.len(),
            p.to_owned(),
        )
    };
    if key(cand.0) > key(cur.0) {
        cand
    } else {
        cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn acl(text: &str) -> Acl {
        let p = parse_policy("t", text).unwrap();
        Acl::new([&p], "")
    }

    #[test]
    fn capabilities_parse_and_match_as_vault_1_17() {
        // `subscribe` is a capability, `recover` not yet; `deny` ends the list unchecked.
        let a = acl(r#"path "events/*" { capabilities = ["subscribe", "read"] }
path "gone" { capabilities = ["deny", "bogus"] }
path "s" {
  capabilities = ["read"]
  subscribe_event_types = ["*"]
}"#);
        assert_eq!(a.capabilities("events/x"), ["read", "subscribe"]);
        assert_eq!(a.capabilities("gone"), ["deny"]);
        assert_eq!(
            parse_policy("t", r#"path "x" { capabilities = ["recover"] }"#).unwrap_err(),
            "path \"x\": invalid capability \"recover\""
        );
        // A list tries the non-exact rules without the trailing slash first, and capabilities
        // are evaluated as a list.
        let a = acl(r#"path "secret/metadata/+" { capabilities = ["list"] }
path "secret/foo" { capabilities = ["read"] }"#);
        assert!(a.allows("secret/metadata/app/", LIST, false, true));
        assert!(!a.allows("secret/metadata/app/", LIST, false, false));
        assert_eq!(a.capabilities("secret/foo/"), ["read"]);
    }

    #[test]
    fn invalid_keys_are_listed_with_their_lines_as_check_hcl_keys_does() {
        let e = parse_policy(
            "t",
            "path \"a\" { capabilities = [\"read\"] }\nbad = \"x\"\nother \"y\" {}\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "2 errors occurred:\n\t* invalid key \"bad\" on line 2\n\t* invalid key \"other\" on line 0\n\n"
        );
        // A path's keys before its capabilities.
        let e = parse_policy(
            "t",
            "path \"x\" {\n  capabilities = [\"foo\"]\n  capabilites = [\"read\"]\n}\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "1 error occurred:\n\t* path \"x\": invalid key \"capabilites\" on line 3\n\n"
        );
        let e = parse_policy(
            "t",
            r#"{"path": {"x": {"capabilities": ["read"]}}, "bad": 1}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "1 error occurred:\n\t* invalid key \"bad\" on line 1\n\n"
        );
        // A key after the block's brace, and a key given twice, each with its own line.
        let e = parse_policy("t", "path \"x\" { capabilites = [\"read\"] }").unwrap_err();
        assert_eq!(
            e,
            "1 error occurred:\n\t* path \"x\": invalid key \"capabilites\" on line 1\n\n"
        );
        // The same invalid key in two paths: each path's own line.
        let e = parse_policy(
            "t",
            "path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"b\" {\n  bad = 1\n}\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "1 error occurred:\n\t* path \"b\": invalid key \"bad\" on line 5\n\n"
        );
    }

    #[test]
    fn parameter_constraints_merge_as_acl_go_does() {
        let allowing = |name: &str, values: &str| {
            let text = format!(
                "path \"p\" {{\n  capabilities = [\"update\"]\n  allowed_parameters = {{ \"x\" = [{values}] }}\n}}"
            );
            parse_policy(name, &text).unwrap()
        };
        let (a, any, two) = (
            allowing("a", "\"1\""),
            allowing("b", ""),
            allowing("c", "\"2\""),
        );
        // An empty list from either policy allows any value; otherwise the values add up.
        let merged = Acl::new([&a, &any], "");
        assert!(merged.params_allowed("p", json!({"x": "9"}).as_object().unwrap()));
        let merged = Acl::new([&a, &two], "");
        assert!(merged.params_allowed("p", json!({"x": "2"}).as_object().unwrap()));
        assert!(!merged.params_allowed("p", json!({"x": "9"}).as_object().unwrap()));
        // A denied `*` denies whatever values it names.
        let d = acl(r#"path "p" {
  capabilities = ["update"]
  denied_parameters = { "*" = ["only-this"] }
}"#);
        assert!(!d.params_allowed("p", json!({"y": "other"}).as_object().unwrap()));
        assert!(d.params_allowed("p", json!({}).as_object().unwrap()));
    }

    #[test]
    fn the_default_policy_parses() {
        let p = parse_policy("default", DEFAULT_POLICY).unwrap();
        assert!(p.paths.len() > 15);
        let a = Acl::new([&p], "");
        assert!(a.allows("auth/token/lookup-self", READ, false, false));
        assert!(!a.allows("auth/token/lookup-self", UPDATE, false, false));
        assert!(a.allows("cubbyhole/x", CREATE, false, false));
        assert!(a.allows("identity/oidc/provider/p1/authorize", READ, false, false));
        assert!(!a.allows("secret/data/x", READ, false, false));
    }

    #[test]
    fn star_is_a_prefix_only_at_the_end() {
        let a = acl(r#"path "secret/foo*" { capabilities = ["read"] }
                       path "a*b" { capabilities = ["read"] }"#);
        for p in ["secret/foo", "secret/foobar", "secret/foo/x"] {
            assert!(a.allows(p, READ, false, false), "{p}");
        }
        assert!(!a.allows("secret/fo", READ, false, false));
        assert!(a.allows("a*b", READ, false, false));
        assert!(!a.allows("axb", READ, false, false));
    }

    #[test]
    fn plus_matches_one_segment() {
        let a = acl(r#"path "secret/+/team*" { capabilities = ["read"] }
                       path "kv/+/x" { capabilities = ["read"] }"#);
        assert!(a.allows("secret/a/team-x/y", READ, false, false));
        assert!(a.allows("kv/a/x", READ, false, false));
        assert!(!a.allows("kv/a/b/x", READ, false, false));
        assert!(!a.allows("kv/a/x/y", READ, false, false));
    }

    #[test]
    fn plus_star_is_refused() {
        assert_eq!(
            parse_policy("p", r#"path "a+*" { capabilities = ["read"] }"#).unwrap_err(),
            r#"path "a+*": invalid use of wildcards ('+*' is forbidden)"#
        );
        assert_eq!(
            parse_policy("p", r#"path "secret/*" { capabilities = ["foo"] }"#).unwrap_err(),
            r#"path "secret/*": invalid capability "foo""#
        );
    }

    #[test]
    fn exact_rules_win_and_deny_wins_at_its_own_rule() {
        let a = acl(r#"path "secret/*" { capabilities = ["read"] }
                       path "secret/private" { capabilities = ["deny"] }
                       path "secret/private/*" { capabilities = ["deny"] }"#);
        assert!(a.allows("secret/public", READ, false, false));
        assert!(!a.allows("secret/private", READ, false, false));
        assert!(!a.allows("secret/private/x", READ, false, false));
    }

    #[test]
    fn deny_in_any_policy_replaces_the_same_rule() {
        let p1 = parse_policy("a", r#"path "s/x" { capabilities = ["read"] }"#).unwrap();
        let p2 = parse_policy("b", r#"path "s/x" { capabilities = ["deny"] }"#).unwrap();
        let p3 = parse_policy("c", r#"path "s/x" { capabilities = ["list"] }"#).unwrap();
        assert!(!Acl::new([&p1, &p2], "").allows("s/x", READ, false, false));
        let merged = Acl::new([&p1, &p3], "");
        assert!(merged.allows("s/x", READ | LIST, false, false));
        assert_eq!(merged.capabilities("s/x"), vec!["list", "read"]);
    }

    #[test]
    fn priority_prefers_later_wildcards_then_no_star_then_fewer_plus() {
        // A later first wildcard wins: `secret/+/b` (wildcard at 7) beats `secret/*` (at 7, star)
        // by rule 2, and `secret/a/*` (at 9) beats `secret/+/b*`.
        let a = acl(r#"path "secret/*" { capabilities = ["read"] }
                       path "secret/+/b" { capabilities = ["list"] }"#);
        assert_eq!(a.capabilities("secret/a/b"), vec!["list"]);
        let a = acl(r#"path "secret/a/*" { capabilities = ["read"] }
                       path "secret/+/b*" { capabilities = ["list"] }"#);
        assert_eq!(a.capabilities("secret/a/bc"), vec!["read"]);
        let a = acl(r#"path "+/+/c" { capabilities = ["read"] }
                       path "+/b/c" { capabilities = ["list"] }"#);
        assert_eq!(a.capabilities("a/b/c"), vec!["list"]);
        // capabilities of different rules are never combined
        let a = acl(r#"path "secret/*" { capabilities = ["read"] }
                       path "secret/a*" { capabilities = ["list"] }"#);
        assert_eq!(a.capabilities("secret/ab"), vec!["list"]);
        assert!(!a.allows("secret/ab", READ, false, false));
    }

    #[test]
    fn list_on_a_folder_matches_the_exact_rule_without_slash() {
        let a = acl(r#"path "secret/metadata/app" { capabilities = ["list"] }"#);
        assert!(a.allows("secret/metadata/app/", LIST, false, true));
        assert!(!a.allows("secret/metadata/app/", LIST, false, false));
    }

    #[test]
    fn sudo_and_legacy_policy_words() {
        let a = acl(r#"path "sys/auth/*" { policy = "write" }
                       path "sys/seal" { policy = "sudo" }"#);
        assert!(a.allows("sys/auth/x", UPDATE, false, false));
        assert!(!a.allows("sys/auth/x", UPDATE, true, false));
        assert!(a.allows("sys/seal", UPDATE, true, false));
    }

    #[test]
    fn parameter_constraints() {
        let a = acl(r#"path "s/x" {
            capabilities = ["update"]
            allowed_parameters = { "a" = [], "b" = ["1", "2"] }
            denied_parameters = { "c" = [] }
            required_parameters = ["a"]
        }"#);
        let ok = |v: serde_json::Value| a.params_allowed("s/x", v.as_object().unwrap());
        assert!(ok(json!({"a": "z", "b": "1"})));
        assert!(!ok(json!({"b": "1"})));
        assert!(!ok(json!({"a": "z", "b": "3"})));
        assert!(!ok(json!({"a": "z", "d": "3"})));
        assert!(!ok(json!({"a": "z", "c": "3"})));
    }

    #[test]
    fn json_policies_parse() {
        let a = acl(r#"{"path": {"secret/*": {"capabilities": ["read"]}}}"#);
        assert!(a.allows("secret/x", READ, false, false));
    }

    #[test]
    fn entity_templates_resolve_or_drop() {
        let p = parse_policy("default", DEFAULT_POLICY).unwrap();
        assert!(Acl::new([&p], "e1").allows("identity/entity/id/e1", READ, false, false));
        assert!(!Acl::new([&p], "").allows("identity/entity/id/", READ, false, false));
    }
}
