#!/usr/bin/env python3
"""A CDK Pipelines release: the pipeline deploys ``ReleaseStage`` on every push to ``main``.

``ReleaseStage`` is the unit a pipeline deploys: the release stack with the OTA update. Its
``cdk deploy`` step succeeds only once the OTA update is ``CREATE_COMPLETE`` (the rollout has
really started), so a later pipeline stage can rely on it. Before that, the synth step rehearses
the release (``cdk-ota-update rehearse``): a release that would fail is not deployed. The source
is a CodeStar connection (GitHub, Bitbucket, GitLab); ``connectionArn`` comes from the context.

Context: ``connectionArn``, ``repository``, ``account``, ``region``, ``firmwareVersion``.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from cdk_ota_update import (
    AwsJobAbortConfig,
    AwsJobAbortCriteria,
    CodeSigning,
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
    TargetSelection,
)

FIRMWARE = Path(__file__).resolve().parent / "firmware" / "doorlock-fw.bin"
# What the release refers to and does not declare, as the rehearsal is told about it.
REHEARSE = (
    "cdk-ota-update rehearse cdk.out --stack 'DoorLockPipeline/Production/*' "
    "--exists thinggroup/doorlocks --exists signing-profile/doorlockSigner "
    "--exists s3://acme-signed-firmware --teardown"
)


class FirmwareReleaseStack(cdk.Stack):
    """The OTA update of one firmware version to the fleet."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        version = self.node.try_get_context("firmwareVersion") or "4.0.1"
        signed = s3.Bucket.from_bucket_name(self, "Signed", "acme-signed-firmware")
        profile = signer.SigningProfile.from_signing_profile_attributes(
            self, "Profile", signing_profile_name="doorlockSigner", signing_profile_version="Zt6pB1"
        )
        self.ota = OtaUpdate(
            self,
            "DoorLockFirmware",
            description=f"Door lock firmware {version}",
            targets=[OtaTarget.thing_group("doorlocks")],
            target_selection=TargetSelection.CONTINUOUS,
            files=[
                OtaUpdateFile(
                    file_name="doorlock-fw.bin",
                    file_version=version,
                    file_location=FileLocation.from_asset(str(FIRMWARE)),
                    code_signing=CodeSigning.from_signing_profile(
                        profile, destination=signed, prefix=f"doorlock/{version}/"
                    ),
                )
            ],
            aws_job_abort_config=AwsJobAbortConfig(
                abort_criteria_list=[
                    AwsJobAbortCriteria(
                        failure_type="FAILED",
                        action="CANCEL",
                        threshold_percentage=5,
                        min_number_of_executed_things=10,
                    )
                ]
            ),
        )
        self.job_arn = cdk.CfnOutput(self, "OtaJobArn", value=self.ota.aws_iot_job_arn)


class ReleaseStage(cdk.Stage):
    """What the pipeline deploys to each environment."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.release = FirmwareReleaseStack(self, "DoorLockRelease")


class PipelineStack(cdk.Stack):
    """CDK Pipelines: synth from the repository, then deploy ``ReleaseStage``."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        context = self.node.try_get_context
        source = pipelines.CodePipelineSource.connection(
            context("repository") or "acme/doorlock-firmware",
            "main",
            connection_arn=context("connectionArn")
            or "arn:aws:codeconnections:eu-west-1:111111111111:connection/"
            "0c7b2e4a-9f1d-4c6b-8e3a-5d2f7a1b9c0e",
        )
        pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=pipelines.ShellStep(
                "Synth",
                input=source,
                # The rehearsal gates the release: a non-zero exit fails the step (README).
                commands=["pip install -r requirements.txt", "npx cdk synth", REHEARSE],
                primary_output_directory="cdk.out",
            ),
        )
        pipeline.add_stage(ReleaseStage(self, "Production"))
        pipeline.build_pipeline()
        self.acknowledge_pipeline_findings(pipeline)

    def acknowledge_pipeline_findings(self, pipeline: pipelines.CodePipeline) -> None:
        """cdk-nag's findings about CDK Pipelines' own resources (none is about the release)."""

        def ref(construct: IConstruct, attribute: str = "") -> str:  # as cdk-nag names it
            resource = construct.node.default_child
            assert isinstance(resource, cdk.CfnElement)
            return f"<{self.get_logical_id(resource)}{attribute}>"

        where = f"{self.region}:{self.account}"
        logs = f"arn:<AWS::Partition>:logs:{where}:log-group:/aws/codebuild/"
        reports = f"arn:<AWS::Partition>:codebuild:{where}:report-group/"
        wildcards = [
            f"Action::s3:{action}*"
            for action in ("Abort", "DeleteObject", "GetBucket", "GetObject", "List")
        ]
        wildcards += [
            "Resource::*",
            f"Resource::arn:*:iam::{self.account}:role/*",
            f"Resource::{ref(pipeline.pipeline.artifact_bucket, '.Arn')}/*",
            f"Resource::{logs}*",
            f"Resource::{reports}*",
        ]
        for project in (pipeline.synth_project, pipeline.self_mutation_project):
            wildcards += [
                f"Resource::{logs}{ref(project)}:*",
                f"Resource::{reports}{ref(project)}-*",
            ]
        reasons = {
            "AwsSolutions-S1": "CDK Pipelines' artifact bucket holds transient artifacts only.",
            "AwsSolutions-CB4": "CodeBuild encrypts its artifacts with the artifact bucket's key.",
        }
        for wildcard in wildcards:
            reasons[f"AwsSolutions-IAM5[{wildcard}]"] = (
                "CDK Pipelines scopes its roles to its artifact bucket, its CodeBuild projects and "
                "their logs, and the CDK bootstrap roles it assumes."
            )
        for finding, reason in reasons.items():
            cdk.Validations.of(pipeline).acknowledge(
                cdk.Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason)
            )


def build(app: cdk.App) -> None:
    context = app.node.try_get_context
    env = cdk.Environment(
        account=context("account") or "111111111111", region=context("region") or "eu-west-1"
    )
    PipelineStack(app, "DoorLockPipeline", env=env)


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
