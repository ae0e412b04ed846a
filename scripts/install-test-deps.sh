#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, into the active Python.
# Chromium (for the browser tests) comes from Debian's packages; run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium for the browser tests"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
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
