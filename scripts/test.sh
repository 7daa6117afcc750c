#!/usr/bin/env bash
# The whole test suite: installs what it needs, lints and type-checks the package, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH"
ruff check constructs lambda_handler tests app.py benchmarks examples scripts
mypy constructs/cdk_ota_update lambda_handler
python3 scripts/test_floor.py   # the construct tests on the lowest versions pyproject.toml allows
exec python -m pytest "$@"
