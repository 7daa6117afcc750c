#!/usr/bin/env bash
# The main job: installs everything, synthesizes the example app (app.py) with the pinned CDK CLI
# and prints where the template is. Needs no AWS credentials, no Docker and no network.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH"
npx --no-install cdk synth --quiet --output cdk.out "$@"
for template in cdk.out/*.template.json; do
  echo "Template: $PWD/$template"
done
