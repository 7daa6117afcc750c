#!/usr/bin/env bash
# The whole test suite: installs what it needs, lints and type-checks the package, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH"
ruff check constructs lambda_handler tests app.py benchmarks examples scripts
ruff format --check constructs lambda_handler tests app.py benchmarks examples scripts
mypy constructs/cdk_ota_update lambda_handler            # the library and handler: Python 3.10 up
# The tests, the apps, benchmarks and scripts run on the pinned Python (3.11); each example is an
# app of its own (its module is `app`, like the example app's).
MYPYPATH=constructs:lambda_handler:tests mypy --python-version 3.11 tests app.py benchmarks scripts
for example in examples/*/; do MYPYPATH=constructs mypy --python-version 3.11 "$example"; done
python3 scripts/test_floor.py   # the construct tests on the lowest versions pyproject.toml allows
exec python -m pytest "$@"
