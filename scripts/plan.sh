#!/usr/bin/env bash
# Set up ringroute in .venv on a fresh machine (once), then run `ringroute plan` with the
# given arguments. Example:
#   bash scripts/plan.sh tsukuba --osm ../shared/data/osm/tsukuba-science-city.osm \
#       --via univ --via expo --via botgarden --km 30
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/ringroute ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
exec .venv/bin/ringroute plan "$@"
