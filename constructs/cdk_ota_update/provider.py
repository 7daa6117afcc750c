"""The custom resource provider: one crhelper Lambda per stack, shared by every OtaUpdate in it.

Its code is ``lambda_handler/`` plus crhelper and the API table (``cdk_ota_update.api``), copied
at synth by a local bundler: no Docker, no network, and the same bytes (so the same asset hash)
on every synth, in any directory.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    Aws,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import api
from ._cdk import StackSingleton
from .grants import OTA_JOBS, OTA_STREAMS, OTA_UPDATES
from .policy import Grant, Resource, ScopedPolicy

# The handler waits for the service inside one invocation and hands the wait over to its next
# invocation only when this runs short. It gives up (FAILED, with a Reason) after MAX_WAIT (the
# handler's settings); CloudFormation gives up on a lost answer after SERVICE_TIMEOUT, a few
# minutes later.
FUNCTION_TIMEOUT = Duration.minutes(5)
MAX_WAIT = Duration.seconds(api.Settings().max_wait_seconds)
SERVICE_TIMEOUT = Duration.minutes(20)
# Lambda's asynchronous invocations (CloudFormation's events, the hand-overs) are not retried after
# a failure or timeout, and are dropped once older than this: a retried or late Create must not
# recreate an OTA update CloudFormation no longer waits for (the request already failed, or the
# stack was rolled back). Past it, an invocation could not answer before CloudFormation stops
# waiting anyway.
MAX_EVENT_AGE = Duration.minutes(SERVICE_TIMEOUT.to_minutes() - FUNCTION_TIMEOUT.to_minutes())
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS

_HERE = Path(__file__).resolve().parent
# The API contract the handler imports (``cdk_ota_update.api``); neither imports aws_cdk or jsii.
CONTRACT_FILES = ("__init__.py", "api.py")


def handler_dir() -> Path:
    """The handler's source: packaged beside this module in the wheel, or the repo's folder."""
    packaged = _HERE / "_handler"
    return packaged if packaged.is_dir() else _HERE.parent.parent / "lambda_handler"


def _copy_sources(source: Path, target: Path) -> None:
    """Copy the ``.py`` files below ``source`` (no caches, no ``.pyc``) into ``target``."""
    for path in sorted(source.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def bundle(output_dir: Path) -> None:
    """Lay out the Lambda asset: the handler, crhelper and the API contract."""
    _copy_sources(handler_dir(), output_dir)
    spec = importlib.util.find_spec("crhelper")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("crhelper is missing: pip install cdk-ota-update (it depends on it)")
    _copy_sources(Path(next(iter(spec.submodule_search_locations))), output_dir / "crhelper")
    package = output_dir / "cdk_ota_update"
    package.mkdir(exist_ok=True)
    for contract in CONTRACT_FILES:  # as they are in the wheel
        shutil.copyfile(_HERE / contract, package / contract)


@jsii.implements(ILocalBundling)
class _LocalBundling:
    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        bundle(Path(output_dir))
        return True


def code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(handler_dir()),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never used: local bundling always succeeds, so synth needs no Docker.
            image=DockerImage.from_registry("local-bundling-only"),
            local=_LocalBundling(),
        ),
    )


class OtaUpdateProvider(StackSingleton):
    """The stack's provider of ``Custom::OtaUpdate``; ``OtaUpdateProvider.of(scope)`` gets it."""

    ID = "OtaUpdateProvider"

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the Custom::OtaUpdate handler (cdk-ota-update).",
        )
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description="Creates and deletes AWS IoT OTA updates for Custom::OtaUpdate resources.",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=code(),
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=log_group,
            # The handler acts for this stack only (events name their StackId themselves).
            environment=api.Settings(stack_id=Aws.STACK_ID).to_environment(),
            retry_attempts=0,
            max_event_age=MAX_EVENT_AGE,
        )
        self.service_token = self.function.function_arn
        function = Resource.fixed(self.function.function_arn)
        self.policy = ScopedPolicy(self, "Policy", role=self.role)
        self.policy.add(
            [
                Grant(
                    ("iot:CreateOTAUpdate", "iot:GetOTAUpdate", "iot:DeleteOTAUpdate",
                     "iot:TagResource", "iot:UntagResource", "iot:ListTagsForResource"),
                    (Resource.fixed(OTA_UPDATES),),
                    reason="OTA update ids are derived at synth from the request and can change "
                    "on every deploy (a replacement); limited to this account and region.",
                ),
                Grant(
                    ("iot:ListOTAUpdates",),
                    (Resource.fixed("*"),),
                    reason="ListOTAUpdates has no resource-level permissions; the handler counts "
                    "the OTA updates in progress to share GetOTAUpdate's request rate.",
                ),
                Grant(
                    ("iot:DescribeJob", "iot:DeleteJob"),
                    (Resource.fixed(OTA_JOBS),),
                    reason=f"DeleteOTAUpdate deletes the service's job {api.JOB_ID_PREFIX}"
                    "<otaUpdateId> (forceDeleteAWSJob); limited to that name prefix.",
                ),
                Grant(
                    ("iot:DeleteStream",),
                    (Resource.fixed(OTA_STREAMS),),
                    reason=f"DeleteOTAUpdate deletes the stream the service named "
                    f"{api.STREAM_ID_PREFIX}<uuid> at run time (deleteStream); limited to that "
                    "name prefix.",
                ),
                Grant(
                    ("lambda:InvokeFunction",),
                    (function,),
                    reason="a wait longer than an invocation is handed over to the next one: "
                    "the function invokes itself (asynchronously), and nothing else.",
                ),
            ]
        )

