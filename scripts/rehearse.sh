#!/usr/bin/env bash
# The third command: rehearses the synthesized assembly (cdk.out, from scripts/synth.sh) in the
# moto emulation, each OTA update created, and with --teardown deleted, by the bundled handler,
# IAM judged as the service judges it. Arguments go to `cdk-ota-update rehearse cdk.out`; without
# any, those of the example app (its thing group and Signer profile exist before a deploy).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH"
[ -f cdk.out/manifest.json ] || bash scripts/synth.sh > /dev/null
if [ "$#" -eq 0 ]; then
  set -- --exists thinggroup/sensor-fleet --exists signing-profile/sensorFirmwareSigner --teardown
fi
exec env PYTHONPATH=constructs python -m cdk_ota_update.rehearse.cli rehearse cdk.out "$@"
