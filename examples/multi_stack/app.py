#!/usr/bin/env python3
"""Several stacks in a Stage: the fleet's long-lived resources apart from the releases.

``FleetStack`` holds what outlives any release: the versioned firmware bucket (with access
logs), the bucket of signed firmware and the thing groups. ``ReleaseStack`` holds the OTA
updates; it reads the fleet's bucket names and group ARNs through cross-stack references, so a
release can be deployed (and rolled back) without touching the fleet. Both live in a
``cdk.Stage``, deployed to one account and Region (``cdk deploy 'Production/*'``).

The FreeRTOS signing profile is imported (CloudFormation cannot create a profile for the
FreeRTOS or IoT platforms; see docs/deploy.md).

Context: ``firmwareVersion``, ``firmwareObjectVersion`` (the S3 version id of the upload),
``signingProfileName``, ``signingProfileVersion``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iot as iot
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer
from constructs import Construct

from cdk_ota_update import (
    AwsJobExecutionsRolloutConfig,
    CodeSigning,
    FileLocation,
    OtaUpdate,
    OtaUpdateFile,
    TargetSelection,
)


class FleetStack(cdk.Stack):
    """Buckets and thing groups: created once, kept across releases."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cdk.Validations.of(logs).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-S1", reason="This is the access-log bucket itself.")
        )

        def firmware_bucket(id: str) -> s3.Bucket:
            return s3.Bucket(
                self,
                id,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                encryption=s3.BucketEncryption.S3_MANAGED,
                enforce_ssl=True,
                versioned=True,  # an OTA update names the object version it sends
                server_access_logs_bucket=logs,
                server_access_logs_prefix=f"{id}/",
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )

        self.firmware = firmware_bucket("Firmware")
        self.signed = firmware_bucket("SignedFirmware")
        self.canary = iot.CfnThingGroup(self, "Canary", thing_group_name="thermostat-canary")
        self.fleet = iot.CfnThingGroup(self, "Fleet", thing_group_name="thermostat-fleet")


class ReleaseStack(cdk.Stack):
    """One firmware version: a canary OTA update and a fleet-wide one."""

    def __init__(self, scope: Construct, id: str, *, fleet: FleetStack, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        context = self.node.try_get_context
        version = context("firmwareVersion") or "5.2.0"
        profile = signer.SigningProfile.from_signing_profile_attributes(
            self,
            "Profile",
            signing_profile_name=context("signingProfileName") or "thermostatSigner",
            signing_profile_version=context("signingProfileVersion") or "h3Lq8ZrT1c",
        )
        firmware = OtaUpdateFile(
            file_name="thermostat-fw.bin",
            file_version=version,
            file_location=FileLocation.from_bucket(
                fleet.firmware,
                f"thermostat/{version}/thermostat-fw.bin",
                version=context("firmwareObjectVersion") or "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            ),
            code_signing=CodeSigning.from_signing_profile(
                profile, destination=fleet.signed, prefix=f"thermostat/{version}/"
            ),
        )
        canary = OtaUpdate(
            self,
            "Canary",
            description=f"Thermostat {version}: canary",
            targets=[fleet.canary.attr_arn],
            files=[firmware],
        )
        everyone = OtaUpdate(
            self,
            "Fleet",
            description=f"Thermostat {version}: the fleet",
            targets=[fleet.fleet.attr_arn],
            target_selection=TargetSelection.CONTINUOUS,
            files=[firmware],
            aws_job_executions_rollout_config=AwsJobExecutionsRolloutConfig(maximum_per_minute=50),
        )
        everyone.node.add_dependency(canary)  # the canary's job starts first
        cdk.CfnOutput(self, "FleetJobArn", value=everyone.aws_iot_job_arn)


class Environment(cdk.Stage):
    """The fleet and its current release, in one account and Region."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.fleet = FleetStack(self, "Fleet")
        self.release = ReleaseStack(self, "Release", fleet=self.fleet)


def build(app: cdk.App) -> None:
    Environment(app, "Production")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
