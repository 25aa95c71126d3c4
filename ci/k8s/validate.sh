#!/usr/bin/env bash
# Checks the Kubernetes files of ci/k8s/ without a cluster: every YAML parses and has a kind and a
# name; every authsim command in them uses only flags that `authsim SUBCOMMAND --help` lists; and
# the files agree with each other (workers = completions = parallelism = EXPECTED_WORKERS, the
# claim, the secret, the report paths, the image, the Dockerfile's entrypoint).
#
#   bash ci/k8s/validate.sh [DIR]      (default ci/k8s)
#
# PyYAML comes from the venv ci/.bench-venv (created, and PyYAML installed, when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="${1:-ci/k8s}"

venv=ci/.bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import yaml' 2>/dev/null || "$venv/bin/pip" install -q pyyaml >&2
cargo build --locked -q -p authsim --bin authsim
authsim="${AUTHSIM:-target/debug/authsim}"

"$venv/bin/python" - "$dir" "$authsim" <<'PY'
import glob, os, re, shlex, subprocess, sys
import yaml

d, authsim = sys.argv[1], sys.argv[2]
problems = []
def bad(where, what):
    problems.append(f"{where}: {what}")

docs = {}  # file name -> list of documents
for path in sorted(glob.glob(os.path.join(d, "*.yaml"))):
    name = os.path.basename(path)
    try:
        loaded = [x for x in yaml.safe_load_all(open(path)) if x is not None]
    except yaml.YAMLError as e:
        bad(name, "does not parse: " + " ".join(str(e).split()))
        continue
    for doc in loaded:
        for key in ("apiVersion", "kind"):
            if not doc.get(key):
                bad(name, f"a document without {key}")
        if not (doc.get("metadata") or {}).get("name"):
            bad(name, "a document without metadata.name")
    docs[name] = loaded

def one(name, kind):
    found = [x for x in docs.get(name, []) if x.get("kind") == kind]
    if len(found) != 1:
        bad(name, f"expected one {kind}, found {len(found)}")
        return {}
    return found[0]

help_flags = {}
def flags_of(sub):
    if sub not in help_flags:
        out = subprocess.run([authsim, sub, "--help"], capture_output=True, text=True)
        if out.returncode != 0:
            help_flags[sub] = None
        else:
            help_flags[sub] = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out.stdout))
    return help_flags[sub]

def authsim_commands(container):
    """The argument lists of every authsim invocation: the entrypoint's args, or `authsim …`
    inside a `sh -c` script (up to a shell operator)."""
    command = container.get("command") or []
    args = [str(a) for a in container.get("args") or []]
    if not command:
        return [args]  # the image's ENTRYPOINT is authsim
    if command[:2] == ["sh", "-c"] or command[:2] == ["bash", "-c"]:
        script = " ".join(str(a) for a in command[2:] + args)
        found = []
        for line in script.splitlines():
            words = shlex.split(line, comments=True)
            while "authsim" in words:
                words = words[words.index("authsim") + 1:]
                cut = next((i for i, w in enumerate(words) if w in (">", ">>", "|", "&&", ";", "||")), len(words))
                found.append(words[:cut])
                words = words[cut:]
        return found
    if os.path.basename(str(command[0])) == "authsim":
        return [[str(c) for c in command[1:]] + args]
    return []

def check_flags(where, argv):
    if not argv:
        bad(where, "authsim without a subcommand")
        return {}
    sub, rest = argv[0], argv[1:]
    known = flags_of(sub)
    if known is None:
        bad(where, f"`authsim {sub}` is not a subcommand (its --help fails)")
        return {}
    values = {}
    for i, a in enumerate(rest):
        if a.startswith("--"):
            flag, eq, v = a.partition("=")
            if flag not in known:
                bad(where, f"`authsim {sub}` has no flag {flag}")
            nxt = rest[i + 1] if i + 1 < len(rest) else ""
            values[flag] = v if eq else ("" if nxt.startswith("--") else nxt)
    return values

def containers(obj):
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", spec)
    return pod, pod.get("containers", [])

def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}

def check_var_refs(where, c, extra=()):
    defined = set(env_of(c)) | set(extra)
    text = " ".join(str(x) for x in (c.get("command") or []) + (c.get("args") or []))
    for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", text):
        if var not in defined:
            bad(where, f"$({var}) is not defined in the container's env")

# The claim and the secret the jobs refer to.
pvc = one("pvc.yaml", "PersistentVolumeClaim")
claim = (pvc.get("metadata") or {}).get("name")
if pvc and "ReadWriteMany" not in (pvc.get("spec") or {}).get("accessModes", []):
    bad("pvc.yaml", "accessModes lacks ReadWriteMany: the workers on several nodes share it")
secret = one("secret.example.yaml", "Secret")
secret_keys = set((secret.get("stringData") or {}) | (secret.get("data") or {}))
secret_name = (secret.get("metadata") or {}).get("name")

def check_pod(where, pod, c):
    mounts = {}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        v = vols.get(m["name"])
        if v is None:
            bad(where, f"volumeMount {m['name']} has no volume")
            continue
        pvc_ref = (v.get("persistentVolumeClaim") or {}).get("claimName")
        if pvc_ref and pvc_ref != claim:
            bad(where, f"claimName {pvc_ref} is not pvc.yaml's {claim}")
        mounts[m["mountPath"]] = v
    for name, e in env_of(c).items():
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref and (ref.get("name") != secret_name or ref.get("key") not in secret_keys):
            bad(where, f"env {name} reads secret {ref.get('name')}/{ref.get('key')}, which secret.example.yaml does not define")
    return mounts

images = set()
bench = one("bench-job.yaml", "Job")
workers = None
if bench:
    spec = bench["spec"]
    if spec.get("completionMode") != "Indexed":
        bad("bench-job.yaml", "completionMode is not Indexed")
    if spec.get("completions") != spec.get("parallelism"):
        bad("bench-job.yaml", f"completions {spec.get('completions')} != parallelism {spec.get('parallelism')}: every worker must run at once")
    workers = spec.get("completions")
    pod, cs = containers(bench)
    for c in cs:
        where = f"bench-job.yaml container {c.get('name')}"
        images.add(c.get("image"))
        mounts = check_pod(where, pod, c)
        check_var_refs(where, c, extra=("JOB_COMPLETION_INDEX",))
        cmds = authsim_commands(c)
        if len(cmds) != 1 or not cmds[0] or cmds[0][0] != "bench":
            bad(where, "does not run `authsim bench`")
            continue
        v = check_flags(where, cmds[0])
        if str(v.get("--workers")) != str(workers):
            bad(where, f"--workers {v.get('--workers')} != completions {workers}")
        if "--worker-index" in v and v["--worker-index"] != "$(JOB_COMPLETION_INDEX)":
            bad(where, "--worker-index is not $(JOB_COMPLETION_INDEX)")
        if not v.get("--vault-addr"):
            bad(where, "no --vault-addr")
        if "VAULT_TOKEN" not in env_of(c):
            bad(where, "no VAULT_TOKEN in env")
        report = v.get("--report-json", "")
        if "$(JOB_COMPLETION_INDEX)" not in report:
            bad(where, "--report-json does not name the worker's index: workers would overwrite each other")
        elif not any(report.startswith(m.rstrip("/") + "/") and "persistentVolumeClaim" in vol for m, vol in mounts.items()):
            bad(where, f"--report-json {report} is not on the shared volume")
        report_glob = report.replace("$(JOB_COMPLETION_INDEX)", "*")
        if v.get("--mocks-bind", "127.0.0.1") not in ("127.0.0.1", "::1") and "AUTHSIM_MOCKS_ADVERTISE" not in env_of(c) and "--mocks-advertise" not in v:
            bad(where, "--mocks-bind beyond loopback needs AUTHSIM_MOCKS_ADVERTISE (the pod's IP)")
else:
    report_glob = None

merge = one("merge-job.yaml", "Job")
if merge:
    pod, cs = containers(merge)
    for c in cs:
        where = f"merge-job.yaml container {c.get('name')}"
        images.add(c.get("image"))
        check_pod(where, pod, c)
        check_var_refs(where, c)
        cmds = [x for x in authsim_commands(c) if x and x[0] == "merge"]
        if len(cmds) != 1:
            bad(where, "does not run `authsim merge` once")
            continue
        check_flags(where, cmds[0])
        inputs = [a for a in cmds[0][1:] if not a.startswith("--") and a.endswith(".json")]
        if report_glob and report_glob not in inputs:
            bad(where, f"merges {inputs}, not the workers' {report_glob}")
        expected = (env_of(c).get("EXPECTED_WORKERS") or {}).get("value")
        if str(expected) != str(workers):
            bad(where, f"EXPECTED_WORKERS {expected} != bench-job.yaml's completions {workers}")

for name in docs:
    if name in ("bench-job.yaml", "merge-job.yaml", "pvc.yaml", "secret.example.yaml"):
        continue
    for doc in docs[name]:
        if doc.get("kind") in ("Pod", "Job"):
            pod, cs = containers(doc)
            for c in cs:
                where = f"{name} container {c.get('name')}"
                images.add(c.get("image"))
                check_pod(where, pod, c)
                for argv in authsim_commands(c):
                    check_flags(where, argv)
if len(images) > 1:
    bad("manifests", f"different images: {sorted(images)}")

dockerfile = os.path.join(d, "Dockerfile")
if not os.path.exists(dockerfile):
    bad("Dockerfile", "missing")
else:
    text = open(dockerfile).read()
    if not re.search(r'^ENTRYPOINT \["(/usr/local/bin/)?authsim"\]', text, re.M):
        bad("Dockerfile", 'ENTRYPOINT is not ["authsim"], which the manifests\' args assume')
    if "ca-certificates" not in text:
        bad("Dockerfile", "the runtime image lacks ca-certificates")

for p in problems:
    print(f"validate: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"validate: {len(docs)} manifests in {d} parse and match the CLI ({', '.join(sorted(help_flags))})")
PY
