#!/usr/bin/env python3
"""A gated canary, then the fleet: the deploy stops at the canary unless its devices take the
firmware.

The canary OTA update (a thing group of a few devices, SNAPSHOT) has a ``rollout_gate``: once it is
CREATE_COMPLETE, ``cdk deploy`` waits until at least 90 % of the canary's executions SUCCEEDED
(and at least 10 devices have one), and fails as soon as more than 5 % FAILED, REJECTED or
TIMED_OUT, or after 30 minutes. The fleet OTA update (CONTINUOUS) depends on the canary, so
CloudFormation creates it only after the gate passed; a failed gate rolls the stack back (the
canary's job cancelled, the OTA update deleted with it), and the fleet never gets the firmware.

Rehearse it before deploying (``REHEARSE``, in the synth step): the thing groups of registered
devices are given with how many devices each has, simulated with the outcomes ``--fleet`` draws.
With ``--fleet succeeded=100%`` the gate passes and the fleet's job starts; with
``--fleet succeeded=70%,failed=30%`` the gate fails, the canary is rolled back and the fleet's OTA
update is never created (exit status 1).

Context: ``firmwareBucket``, ``firmwareVersion``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_ota_update import (
    CodeSigning,
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
    RolloutGate,
    TargetSelection,
)

# The rehearsal of a release: what it refers to and does not declare, the devices of its groups.
REHEARSE = (
    "cdk-ota-update rehearse cdk.out --exists thinggroup/thermostat-canary=20 "
    "--exists thinggroup/thermostats=50 "
    "--exists s3://acme-thermostat-firmware/thermostat/5.2.0/fw.bin "
    "--fleet succeeded=100% --teardown"
)


class CanaryGateStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        context = self.node.try_get_context
        version = context("firmwareVersion") or "5.2.0"
        bucket = s3.Bucket.from_bucket_name(
            self, "Firmware", context("firmwareBucket") or "acme-thermostat-firmware"
        )
        firmware = OtaUpdateFile(
            file_name="thermostat-fw.bin",
            file_version=version,
            file_location=FileLocation.from_bucket(bucket, f"thermostat/{version}/fw.bin"),
            code_signing=CodeSigning(aws_signer_job_id=context("signerJobId") or "0f6d3a2c"),
        )
        canary = OtaUpdate(
            self,
            "ThermostatCanary",
            description=f"Thermostat firmware {version}: canary",
            targets=[OtaTarget.thing_group("thermostat-canary")],
            target_selection=TargetSelection.SNAPSHOT,
            files=[firmware],
            rollout_gate=RolloutGate(
                min_succeeded_percentage=90,
                max_failed_percentage=5,
                min_executions=10,
                timeout=cdk.Duration.minutes(30),
            ),
        )
        fleet = OtaUpdate(
            self,
            "ThermostatFleet",
            description=f"Thermostat firmware {version}: fleet",
            targets=[OtaTarget.thing_group("thermostats")],
            target_selection=TargetSelection.CONTINUOUS,
            files=[firmware],
        )
        fleet.node.add_dependency(canary)  # created once the canary's gate passed


def build(app: cdk.App) -> None:
    CanaryGateStack(app, "ThermostatRelease")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
