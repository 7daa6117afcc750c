"""The custom resource provider: one crhelper Lambda per stack, shared by every OtaUpdate in it.

Its code is ``lambda_handler/`` plus crhelper and the API table (``cdk_ota_update.api``), copied
at synth by a local bundler: no Docker, no network, and the same bytes (so the same asset hash)
on every synth, in any directory.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import shutil
import tempfile
from pathlib import Path

from aws_cdk import (
    Aws,
    Duration,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import api
from ._cdk import StackSingleton, unresolved
from .grants import OTA_JOBS, OTA_STREAMS, OTA_UPDATES
from .policy import Grant, Resource, ScopedPolicy

# The handler waits for the service inside one invocation and hands over to crhelper's poller
# only when this runs short. It gives up (FAILED, with a Reason) after MAX_WAIT; CloudFormation
# gives up on a lost answer after SERVICE_TIMEOUT, a few minutes later.
FUNCTION_TIMEOUT = Duration.minutes(5)
MAX_WAIT = Duration.minutes(15)
SERVICE_TIMEOUT = Duration.minutes(20)
# Lambda's asynchronous invocations (CloudFormation's events, the poller's) are not retried after
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


@functools.cache
def asset_dir() -> Path:
    """The Lambda asset, laid out once per process in a folder of the system's temporary
    directory named by the digest of its content: no bundling step at synth (no Docker, no
    "Bundling asset" line), and the same bytes, so the same asset hash, in any directory."""
    staging = Path(tempfile.mkdtemp(prefix="cdk-ota-update-staging-"))
    bundle(staging)
    digest = hashlib.sha256()
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        digest.update(path.relative_to(staging).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    target = Path(tempfile.gettempdir()) / f"cdk-ota-update-asset-{digest.hexdigest()[:32]}"
    try:
        staging.rename(target)
    except OSError:  # laid out already (by another synth): the same content
        shutil.rmtree(staging, ignore_errors=True)
    return target


def code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(asset_dir()))


def poller_rule_prefix(stack: Stack) -> str:
    """The name prefix of the poller's EventBridge rules, unique to ``stack`` (its name hashed),
    so that the provider's policy names only this stack's rules."""
    name = stack.stack_name
    unique = stack.node.addr if unresolved(name) else name
    return f"{api.POLLER_RULE_PREFIX}{hashlib.sha256(unique.encode()).hexdigest()[:8]}-"


class OtaUpdateProvider(StackSingleton):
    """The stack's provider of ``Custom::OtaUpdate``; ``OtaUpdateProvider.of(scope)`` gets it."""

    ID = "OtaUpdateProvider"

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        rule_prefix = poller_rule_prefix(Stack.of(self))
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
            environment={
                "OTA_MAX_WAIT_SECONDS": str(int(MAX_WAIT.to_seconds())),
                # The handler acts for this stack only (events name their StackId themselves).
                api.STACK_ID_ENV: Aws.STACK_ID,
                api.POLLER_RULE_PREFIX_ENV: rule_prefix,
            },
            retry_attempts=0,
            max_event_age=MAX_EVENT_AGE,
        )
        self.service_token = self.function.function_arn
        function = Resource.fixed(self.function.function_arn)
        rules = Resource.fixed(
            f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{rule_prefix}*"
        )
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
                    ("events:PutRule", "events:DeleteRule", "events:RemoveTargets"),
                    (rules,),
                    reason="crhelper's poller names its EventBridge rule at run time; limited "
                    "to this account and region and a name prefix unique to this stack.",
                ),
                Grant(
                    ("events:PutTargets",),
                    (rules,),
                    {"ArnEquals": {"events:TargetArn": self.function.function_arn}},
                    reason="the poller's rules, named at run time, may target this function only.",
                ),
                Grant(
                    ("lambda:AddPermission",),
                    (function,),
                    {"StringEquals": {"lambda:Principal": "events.amazonaws.com"}},
                ),
                Grant(("lambda:RemovePermission",), (function,)),
            ]
        )

