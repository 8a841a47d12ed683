#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run ruff, mypy and pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not slow"`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

# real peers and a real browser from Debian: chromium, gpsbabel, routino
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v gpsbabel >/dev/null 2>&1 || need+=(gpsbabel)
command -v routino-router >/dev/null 2>&1 || need+=(routino)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "scripts/test.sh: please install with apt: ${need[*]}" >&2
  fi
fi
# Leaflet and friends from npm, for browser tests that cannot reach a CDN
if [ -f package.json ] && [ ! -d node_modules ]; then
  npm install --no-audit --no-fund --silent
fi

.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
