#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, into the active Python.
# Chromium (for the browser tests) comes from Debian's packages; run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
AS_PG="runuser -u postgres --"
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; AS_PG="sudo -u postgres"; fi
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium for the browser tests"
  apt_install chromium
fi

# PostgreSQL and Redis (the scale-out store and live hub) on their standard ports: CI machines
# start them before the run; a fresh machine gets Debian's packages, started here.
if ! answers 5432; then
  echo "== installing and starting PostgreSQL"
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for db in test root; do
    $AS_PG psql -qtAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
      $AS_PG createdb "$db"
  done
  $AS_PG psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='root'" | grep -q 1 ||
    $AS_PG createuser --superuser root
fi
if ! answers 6379; then
  echo "== installing and starting Redis"
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/tsvis-tests.log
fi

echo "== installing tsvis-live with its test extras"
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0          # the CPU build; the real torch writer is tested
python -m pip install -q -e '.[test]'
python -m pip install -q --no-deps tsvis==0.4.2 six   # the TS-VIS writer and its web frontend

if command -v npm >/dev/null 2>&1 && [ -f web/package-lock.json ]; then
  echo "== installing the dashboard's front-end packages (for its unit tests)"
  (cd web && { npm ci --no-audit --no-fund --loglevel=error ||
    { echo "npm ci refused the lockfile; falling back to npm install" >&2;
      npm install --no-audit --no-fund --loglevel=error; }; })
fi
echo "== test dependencies installed"
