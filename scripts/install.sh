#!/usr/bin/env bash
# Installs everything the project needs into ./.venv and ./node_modules (idempotent; skips when unchanged).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.install-stamp
want=$(cat requirements.txt package.json $(ls package-lock.json 2>/dev/null) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/aws-cdk ]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
echo "$want" > "$stamp"
