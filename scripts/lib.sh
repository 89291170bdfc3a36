# Shared by scripts/run and scripts/test: installs and starts what Waymark needs on a Debian
# machine, and says clearly what failed if it cannot.

set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

# Runs a command as root (directly, or through sudo when we are not root).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

# Installs Debian packages that are missing.
ensure_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root dpkg --configure -a >/dev/null 2>&1 || true
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
  as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null \
    || die "could not install ${missing[*]}"
}

# PostgreSQL installed, running on 127.0.0.1:5432, with a `waymark` role that may create
# databases. Passwords work whatever the cluster's pg_hba says (trust or scram).
ensure_postgres() {
  ensure_packages postgresql postgresql-client
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    say "starting PostgreSQL"
    local version
    version=$(ls /etc/postgresql | sort -n | tail -1)
    [ -n "$version" ] || die "PostgreSQL is installed but has no cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start \
      || die "could not start PostgreSQL $version"
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not come up on 127.0.0.1:5432"
  fi
  as_root runuser -u postgres -- psql -qXtA -c "SELECT 1 FROM pg_roles WHERE rolname = 'waymark'" \
    | grep -q 1 \
    || as_root runuser -u postgres -- psql -qX -c "CREATE ROLE waymark LOGIN PASSWORD 'waymark' CREATEDB" \
    || die "could not create the waymark database role"
  # The role the services run as: rows to read and write, nothing to own (docs/operations.md).
  as_root runuser -u postgres -- psql -qXtA -c "SELECT 1 FROM pg_roles WHERE rolname = 'waymark_app'" \
    | grep -q 1 \
    || as_root runuser -u postgres -- psql -qX -c "CREATE ROLE waymark_app LOGIN PASSWORD 'waymark_app'" \
    || die "could not create the waymark_app database role"
}

ensure_database() {
  local name=$1
  as_root runuser -u postgres -- psql -qXtA -c "SELECT 1 FROM pg_database WHERE datname = '$name'" \
    | grep -q 1 \
    || as_root runuser -u postgres -- psql -qX -c "CREATE DATABASE $name OWNER waymark" \
    || die "could not create database $name"
  as_root runuser -u postgres -- psql -qX -c "ALTER DATABASE $name OWNER TO waymark" \
    || die "could not give database $name to the waymark role"
}

# Builds land outside the checkout so a fresh clone on the same machine reuses them.
use_shared_target_dir() {
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/waymark/target}
  mkdir -p "$CARGO_TARGET_DIR"
  command -v cargo >/dev/null || die "cargo is not installed (install Rust first)"
}

# What the gateway's browser tests use: Debian's Chromium and ChromeDriver, axe-core (from
# npm) to check every page, and oidc-provider-mock (from PyPI) as the identity provider.
# Sets WAYMARK_AXE_JS and WAYMARK_OIDC_PROVIDER.
ensure_browser_tools() {
  ensure_packages chromium chromium-driver python3-venv
  command -v npm >/dev/null || ensure_packages npm
  local tools=${WAYMARK_TOOLS_DIR:-$HOME/.cache/waymark/tools}
  mkdir -p "$tools"
  if [ ! -f "$tools/node_modules/axe-core/axe.min.js" ]; then
    say "installing axe-core"
    npm install --silent --no-audit --no-fund --prefix "$tools" axe-core@4.14.1 >/dev/null \
      || die "could not install axe-core with npm"
  fi
  if [ ! -x "$tools/oidc/bin/oidc-provider-mock" ]; then
    say "installing oidc-provider-mock"
    python3 -m venv "$tools/oidc" || die "could not make a Python virtual environment"
    "$tools/oidc/bin/pip" install --quiet oidc-provider-mock==0.3.4 \
      || die "could not install oidc-provider-mock with pip"
  fi
  export WAYMARK_AXE_JS="$tools/node_modules/axe-core/axe.min.js"
  export WAYMARK_OIDC_PROVIDER="$tools/oidc/bin/oidc-provider-mock"
}

# An S3-compatible server for the tests of what Waymark keeps in object stores: moto in
# server mode (from PyPI). Tests start their own, each on its own port. Sets
# WAYMARK_MOTO_SERVER.
ensure_object_store_tools() {
  ensure_packages python3-venv
  local tools=${WAYMARK_TOOLS_DIR:-$HOME/.cache/waymark/tools}
  if [ ! -x "$tools/moto/bin/moto_server" ]; then
    say "installing moto (S3-compatible server)"
    python3 -m venv "$tools/moto" || die "could not make a Python virtual environment"
    "$tools/moto/bin/pip" install --quiet 'moto[server]==5.2.6' \
      || die "could not install moto with pip"
  fi
  export WAYMARK_MOTO_SERVER="$tools/moto/bin/moto_server"
}

# Runs `cargo nextest run ARGS…` with the test binaries' wall clock (and their children's)
# starting at MOMENT, in UTC, under libfaketime. Only the tests are run through faketime
# (as cargo's target runner): cargo and rustc keep the real time. Monotonic time is left
# alone, so timeouts and timers behave.
nextest_at() {
  local moment=$1; shift
  command -v faketime >/dev/null || die "faketime is not installed"
  local triple
  triple=$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
  env "CARGO_TARGET_${triple}_RUNNER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/faketime-runner ${moment// /T}" \
    cargo nextest run "$@"
}

# `cargo deny --offline check` (deny.toml) against the advisory snapshot committed in
# supply-chain/advisory-db.tgz: unpacked, as a git repository (cargo-deny reads its commit
# time), where cargo-deny looks for the default database, whenever the snapshot is newer.
# Installs cargo-deny with cargo when it is missing.
supply_chain_check() {
  command -v cargo-deny >/dev/null || cargo install --locked --quiet cargo-deny \
    || die "could not install cargo-deny"
  local snapshot db
  snapshot="$(pwd)/supply-chain/advisory-db.tgz"
  db="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691"
  [ -f "$snapshot" ] || die "no advisory snapshot at $snapshot"
  if [ ! -f "$db/.snapshot" ] || [ "$snapshot" -nt "$db/.snapshot" ]; then
    rm -rf "$db" && mkdir -p "$db"
    tar xzf "$snapshot" -C "$db" || die "could not unpack $snapshot"
    (cd "$db" && git init -q && git add -A \
      && git -c user.name=waymark -c user.email=waymark@localhost commit -qm "advisory snapshot") \
      || die "could not prepare the advisory database"
    touch "$db/.snapshot"
  fi
  # Every platform's dependencies are read (cargo metadata); fetch them first.
  cargo fetch --locked --quiet || die "could not fetch the dependencies"
  cargo deny --offline check
}
