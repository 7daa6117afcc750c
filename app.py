#!/usr/bin/env python3
"""Example: a firmware release stack, as a release pipeline would deploy it.

A thing group receives firmware built into ``firmware/`` (uploaded as a CDK asset), signed by an
existing AWS Signer profile into a bucket of the stack, rolled out exponentially with abort and
timeout rules. ``cdk synth`` needs no AWS credentials, no Docker and no network.

Context (``-c name=value``): ``thingGroup``, ``signingProfileName``, ``signingProfileVersion``,
``firmwareVersion``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "constructs"))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_signer as signer  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402
from constructs import Construct  # noqa: E402

from cdk_ota_update import (  # noqa: E402
    AwsJobAbortConfig,
    AwsJobAbortCriteria,
    AwsJobAbortCriteriaAbortAction,
    AwsJobAbortCriteriaFailureType,
    AwsJobExecutionsRolloutConfig,
    AwsJobExponentialRolloutRate,
    AwsJobRateIncreaseCriteria,
    AwsJobTimeoutConfig,
    CodeSigning,
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
    Protocol,
    TargetSelection,
)

FIRMWARE = HERE / "firmware" / "sensor-fw.bin"


class FirmwareReleaseStack(cdk.Stack):
    """One firmware release: the signed-firmware bucket and the OTA update to a thing group."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        context = self.node.try_get_context
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
        )
        cdk.Validations.of(access_logs).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-S1", reason="This is the access-log bucket itself.")
        )
        signed = s3.Bucket(
            self,
            "SignedFirmware",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="signed-firmware/",
        )
        profile = signer.SigningProfile.from_signing_profile_attributes(
            self,
            "SigningProfile",
            signing_profile_name=context("signingProfileName") or "sensorFirmwareSigner",
            signing_profile_version=context("signingProfileVersion") or "a1b2c3d4e5",
        )
        version = context("firmwareVersion") or "1.2.0"
        ota = OtaUpdate(
            self,
            "SensorFirmware",
            description=f"Sensor firmware {version}",
            targets=[OtaTarget.thing_group(context("thingGroup") or "sensor-fleet")],
            protocols=[Protocol.MQTT],
            target_selection=TargetSelection.CONTINUOUS,
            files=[
                OtaUpdateFile(
                    file_name="sensor-fw.bin",
                    file_version=version,
                    file_location=FileLocation.from_asset(str(FIRMWARE)),
                    code_signing=CodeSigning.from_signing_profile(
                        profile, destination=signed, prefix="signed/"
                    ),
                )
            ],
            aws_job_executions_rollout_config=AwsJobExecutionsRolloutConfig(
                maximum_per_minute=100,
                exponential_rate=AwsJobExponentialRolloutRate(
                    base_rate_per_minute=5,
                    increment_factor=1.5,
                    rate_increase_criteria=AwsJobRateIncreaseCriteria(
                        number_of_succeeded_things=10
                    ),
                ),
            ),
            aws_job_abort_config=AwsJobAbortConfig(
                abort_criteria_list=[
                    AwsJobAbortCriteria(
                        failure_type=AwsJobAbortCriteriaFailureType.FAILED,
                        action=AwsJobAbortCriteriaAbortAction.CANCEL,
                        threshold_percentage=10.5,
                        min_number_of_executed_things=20,
                    )
                ]
            ),
            aws_job_timeout_config=AwsJobTimeoutConfig(in_progress_timeout_in_minutes=60),
            tags={"release": version},
        )
        cdk.CfnOutput(self, "OtaUpdateArn", value=ota.ota_update_arn)
        cdk.CfnOutput(self, "OtaJobArn", value=ota.aws_iot_job_arn)


def build(app: cdk.App) -> FirmwareReleaseStack:
    """The example stack, with cdk-nag's AwsSolutions checks on it."""
    stack = FirmwareReleaseStack(app, "FirmwareRelease")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack


if __name__ == "__main__":
    # Access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL.
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    build(app)
    app.synth()
