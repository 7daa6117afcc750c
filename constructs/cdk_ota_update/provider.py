"""The custom resource provider: one crhelper Lambda per stack, shared by every OtaUpdate in it.

``OtaUpdateProvider.configure(stack, ...)``, called before the first OtaUpdate of the stack, sets
its options (memory, timeout, VPC, logs, permissions boundary, KMS key, concurrency,
architecture); without it the provider has the defaults below.

Its code is ``lambda_handler/`` (with the crhelper release it vendors) plus the API table
(``cdk_ota_update.api``), copied at synth by a local bundler: no Docker, no network, and the same
bytes (so the same asset hash) on every synth, in any directory, whatever else is installed.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any

from aws_cdk import (
    Duration,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import api
from ._cdk import StackSingleton, seconds, stack_id
from .errors import OtaUpdateValidationError
from .grants import OTA_JOBS, OTA_STREAMS, OTA_UPDATES, function_arn, log_group_arn
from .policy import Grant, Resource, ScopedPolicy

# The handler waits for the service inside one invocation and hands the wait over to its next
# invocation (the function invoking itself) only when this runs short. Its time bounds, and those
# derived from the function's timeout, are the contract's (api.TimeBudget).
MEMORY_SIZE_RANGE = (128, 10_240)  # MB, Lambda's bounds
MEMORY_SIZE = 256
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
ARCHITECTURE = "arm64"  # Lambda's name for Architecture.ARM_64
VPC_ACCESS_POLICY = "service-role/AWSLambdaVPCAccessExecutionRole"
_VPC_ACCESS_REASON = (
    "Attached because the provider runs in a VPC (OtaUpdateProvider.configure(vpc=...)): AWS's "
    "managed policy for the network interfaces Lambda creates in the VPC's subnets; "
    "ec2:CreateNetworkInterface and its kin are not scoped to resources by Lambda."
)
_OTA_UPDATES_REASON = (
    "OTA update ids are derived at synth from the request and can change on every deploy (a "
    "replacement); limited to this account and region."
)
# IoT's otaupdate resource type supports aws:ResourceTag, and CreateOTAUpdate aws:RequestTag and
# aws:TagKeys (the Service Authorization Reference): the provider creates, deletes and retags
# only OTA updates that carry its stack's ownership tag, and never changes that tag.
_REQUEST_STACK_TAG = f"aws:RequestTag/{api.OWNER_STACK_TAG}"
_RESOURCE_STACK_TAG = f"aws:ResourceTag/{api.OWNER_STACK_TAG}"


@dataclass(frozen=True)
class ProviderOptions:
    """What ``OtaUpdateProvider.configure`` sets, checked; the defaults are the provider's own."""

    memory_size: int | float = MEMORY_SIZE
    timeout_seconds: int = api.FUNCTION_TIMEOUT_SECONDS
    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    security_groups: tuple[ec2.ISecurityGroup, ...] | None = None
    log_retention: logs.RetentionDays = LOG_RETENTION
    log_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    permissions_boundary: iam.IManagedPolicy | None = None
    environment_encryption: kms.IKey | None = None
    reserved_concurrent_executions: int | float | None = None
    architecture: str = ARCHITECTURE

    @property
    def lambda_architecture(self) -> lambda_.Architecture:
        return _architectures()[self.architecture]

    def differences(self, other: ProviderOptions) -> list[str]:
        """``option = value (now other's value)`` of each option that differs from ``other``."""
        found = []
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if mine == theirs:
                continue
            if f.name == "timeout_seconds":
                found.append(
                    f"timeout = {_option(Duration.seconds(mine))} "
                    f"(now {_option(Duration.seconds(theirs))})"
                )
            else:
                found.append(f"{f.name} = {_option(mine)} (now {_option(theirs)})")
        return found


@functools.cache
def _architectures() -> dict[str, lambda_.Architecture]:
    """The architectures the handler runs on, by Lambda's name (read from jsii on first use:
    importing the library loads nothing of aws-lambda into jsii, tests/test_imports.py)."""
    return {a.name: a for a in (lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64)}


@functools.cache
def _runtime() -> lambda_.Runtime:
    """The handler's runtime (read from jsii once per process)."""
    return lambda_.Runtime.PYTHON_3_14


@functools.cache
def _lambda_principal() -> iam.ServicePrincipal:
    """Lambda's service principal, which the function's role trusts (made once per process: a
    role reads it when made, and every stack's provider role trusts the same one)."""
    return iam.ServicePrincipal("lambda.amazonaws.com")


def _option(value: Any) -> str:
    """An option's value as a message shows it: durations in words, constructs by path, the
    rest as :func:`api.show` shows any value."""
    if isinstance(value, Duration):
        seconds = value.to_seconds(integral=False)
        return value.to_human_string() if seconds == int(seconds) else f"{seconds:g} seconds"
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, lambda_.Architecture):
        return f"Architecture({value.name!r})"
    if hasattr(value, "node"):  # a construct, or an imported one (a jsii proxy)
        return str(value.node.path)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_option(v) for v in value) + "]"
    return api.show(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def provider_options(
    path: str,
    *,
    memory_size: int | None,
    timeout: Duration | None,
    vpc: ec2.IVpc | None,
    vpc_subnets: ec2.SubnetSelection | None,
    security_groups: Sequence[ec2.ISecurityGroup] | None,
    log_retention: logs.RetentionDays | None,
    log_removal_policy: RemovalPolicy | None,
    permissions_boundary: iam.IManagedPolicy | None,
    environment_encryption: kms.IKey | None,
    reserved_concurrent_executions: int | None,
    architecture: lambda_.Architecture | None,
) -> ProviderOptions:
    """The options, checked: each refusal names ``path``, the option, its value and the fix."""

    def refuse(option: str, value: Any, rule: str) -> OtaUpdateValidationError:
        return OtaUpdateValidationError(f"{path}: {option} = {_option(value)} is invalid: {rule}")

    defaults = ProviderOptions()
    if memory_size is not None and not Token.is_unresolved(memory_size):
        low, high = MEMORY_SIZE_RANGE
        if (
            not _number(memory_size)
            or memory_size != int(memory_size)
            or not (low <= memory_size <= high)
        ):
            raise refuse(
                "memory_size",
                memory_size,
                f"it must be a whole number of MB from {low} to {high} (Lambda's range)",
            )
    timeout_seconds = defaults.timeout_seconds
    if timeout is not None:
        given = timeout.to_seconds(integral=False) if isinstance(timeout, Duration) else None
        shortest, longest = api.MIN_FUNCTION_TIMEOUT_SECONDS, api.MAX_FUNCTION_TIMEOUT_SECONDS
        if (
            given is None
            or Token.is_unresolved(given)
            or given != int(given)
            or not (shortest <= given <= longest)
        ):
            raise refuse(
                "timeout",
                timeout,
                f"it must be a Duration of whole seconds from {shortest // 60} minutes (each "
                f"invocation stops waiting {api.HANDOVER_MARGIN_SECONDS:.0f} s before its end to "
                "hand over and answer) to "
                f"{longest // 60} minutes (Lambda's limit), known at synth (the resource's "
                "ServiceTimeout is derived from it)",
            )
        timeout_seconds = int(given)
    if vpc is None:
        for option, value in (("vpc_subnets", vpc_subnets), ("security_groups", security_groups)):
            if value is not None:
                raise refuse(
                    option,
                    value,
                    "it needs vpc: pass the VPC the subnets or security "
                    "groups belong to as vpc=..., or leave it out",
                )
    if log_removal_policy is RemovalPolicy.SNAPSHOT:
        raise refuse(
            "log_removal_policy",
            log_removal_policy,
            "it must be RemovalPolicy.DESTROY or RemovalPolicy.RETAIN (a log group has "
            "no snapshot)",
        )
    if (
        reserved_concurrent_executions is not None
        and not Token.is_unresolved(reserved_concurrent_executions)
        and (
            not _number(reserved_concurrent_executions)
            or reserved_concurrent_executions != int(reserved_concurrent_executions)
            or reserved_concurrent_executions < 1
        )
    ):
        raise refuse(
            "reserved_concurrent_executions",
            reserved_concurrent_executions,
            "it must be a whole number of at least 1 (with 0 the handler could never "
            "run, and every deploy would wait for the ServiceTimeout): leave it out "
            "for no reservation",
        )
    if architecture is not None and architecture.name not in _architectures():
        raise refuse(
            "architecture",
            architecture,
            "it must be Architecture.ARM_64 (the default) or Architecture.X86_64",
        )
    return ProviderOptions(
        memory_size=defaults.memory_size if memory_size is None else memory_size,
        timeout_seconds=timeout_seconds,
        vpc=vpc,
        vpc_subnets=vpc_subnets,
        security_groups=None if security_groups is None else tuple(security_groups),
        log_retention=log_retention or defaults.log_retention,
        log_removal_policy=log_removal_policy or defaults.log_removal_policy,
        permissions_boundary=permissions_boundary,
        environment_encryption=environment_encryption,
        reserved_concurrent_executions=reserved_concurrent_executions,
        architecture=defaults.architecture if architecture is None else architecture.name,
    )


_HERE = Path(__file__).resolve().parent
# The API contract the handler imports (``cdk_ota_update.api``); neither imports aws_cdk or jsii.
CONTRACT_FILES = ("__init__.py", "api.py")


def handler_dir() -> Path:
    """The handler's source: packaged beside this module in the wheel, or the repo's folder."""
    packaged = _HERE / "_handler"
    return packaged if packaged.is_dir() else _HERE.parent.parent / "lambda_handler"


def _python_files(source: Path) -> list[Path]:
    """The ``.py`` files below ``source`` (no caches, no ``.pyc``)."""
    return [p for p in sorted(source.rglob("*.py")) if "__pycache__" not in p.parts]


def _asset_files() -> dict[PurePosixPath, Path]:
    """The Lambda asset's files, by their path in it: the handler with the crhelper release it
    vendors (``lambda_handler/crhelper``: the same bytes whatever crhelper the user installed) and
    the API contract (as they are in the wheel), each with the file it is copied from."""
    handler = handler_dir()
    files = {PurePosixPath(p.relative_to(handler).as_posix()): p for p in _python_files(handler)}
    files |= {PurePosixPath("cdk_ota_update", name): _HERE / name for name in CONTRACT_FILES}
    return dict(sorted(files.items()))


def bundle(output_dir: Path, files: Mapping[PurePosixPath, Path] | None = None) -> None:
    """Lay out the Lambda asset: the handler, crhelper and the API contract (``files``, when the
    caller has listed them already)."""
    for path, source in (_asset_files() if files is None else files).items():
        destination = output_dir / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def _laid_out(files: Mapping[PurePosixPath, Path]) -> Path:
    """The asset laid out in a new directory of this process's own (mode 0700)."""
    staging = Path(tempfile.mkdtemp(prefix="cdk-ota-update-staging-"))
    bundle(staging, files)
    return staging


@functools.cache
def asset_dir() -> Path:
    """The Lambda asset, laid out once, in a folder of the library's private cache directory
    named by the digest of its content (read from the sources: a process that finds the folder
    copies nothing): no bundling step at synth (no Docker, no "Bundling asset" line), and the
    same bytes, so the same asset hash, in any directory."""
    files = _asset_files()
    cache = api.private_cache_dir()
    if cache is None:  # no private place to share it: this process's own copy
        return _laid_out(files)
    digest = hashlib.sha256()
    for path, source in files.items():
        digest.update(str(path).encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    target = cache / f"asset-{digest.hexdigest()[:32]}"
    if not target.is_dir():
        staging = _laid_out(files)
        try:
            staging.rename(target)
        except OSError:  # laid out meanwhile (by another synth): the same content
            shutil.rmtree(staging, ignore_errors=True)
    return target


def code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(asset_dir()))


class OtaUpdateProvider(StackSingleton):
    """The stack's provider of ``Custom::OtaUpdate``; ``OtaUpdateProvider.of(scope)`` gets it,
    ``OtaUpdateProvider.configure(stack, ...)`` sets its options first."""

    ID = "OtaUpdateProvider"

    def __init__(
        self, scope: Construct, id: str, *, options: ProviderOptions | None = None
    ) -> None:
        super().__init__(scope, id)
        self.options = options or ProviderOptions()
        self.configured = options is not None
        timing = api.TimeBudget(self.options.timeout_seconds)
        self.service_timeout = seconds(timing.service_timeout_seconds)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=_lambda_principal(),
            description="Runs the Custom::OtaUpdate handler (cdk-ota-update).",
            permissions_boundary=self.options.permissions_boundary,
        )
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=self.options.log_retention,
            removal_policy=self.options.log_removal_policy,
        )
        if self.options.environment_encryption is not None:
            # Lambda decrypts the environment with the function's role when it starts.
            self.options.environment_encryption.grant_decrypt(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description="Creates and deletes AWS IoT OTA updates for Custom::OtaUpdate resources.",
            runtime=_runtime(),
            architecture=self.options.lambda_architecture,
            handler="index.handler",
            code=code(),
            timeout=seconds(timing.function_seconds),
            memory_size=self.options.memory_size,
            vpc=self.options.vpc,
            vpc_subnets=self.options.vpc_subnets,
            security_groups=(
                None if self.options.security_groups is None else [*self.options.security_groups]
            ),
            environment_encryption=self.options.environment_encryption,
            reserved_concurrent_executions=self.options.reserved_concurrent_executions,
            role=self.role,
            log_group=log_group,
            # The handler acts for this stack only (events name their StackId themselves).
            environment=api.Settings(stack_id=stack_id()).to_environment(),
            retry_attempts=0,
            max_event_age=seconds(timing.event_age_seconds),
        )
        self.service_token = self.function.function_arn
        function = function_arn(self.service_token)
        self.policy = ScopedPolicy(self, "Policy", role=self.role)
        if self.options.vpc is not None:
            self.policy.attach_aws_managed_policy(VPC_ACCESS_POLICY, _VPC_ACCESS_REASON)
        self.policy.add(
            [
                Grant(
                    ("logs:CreateLogStream", "logs:PutLogEvents"),
                    (log_group_arn(log_group.log_group_arn),),
                    reason="the handler's logs, in the provider's own log group.",
                ),
                Grant(
                    ("iot:GetOTAUpdate", "iot:ListTagsForResource"),
                    (Resource.fixed(OTA_UPDATES),),
                    reason=_OTA_UPDATES_REASON,
                ),
                Grant(
                    ("iot:CreateOTAUpdate",),
                    (Resource.fixed(OTA_UPDATES),),
                    conditions={"StringEquals": {_REQUEST_STACK_TAG: stack_id()}},
                    reason=f"{_OTA_UPDATES_REASON} Only OTA updates created with this stack's "
                    "ownership tag.",
                ),
                Grant(
                    ("iot:DeleteOTAUpdate",),
                    (Resource.fixed(OTA_UPDATES),),
                    conditions={"StringEquals": {_RESOURCE_STACK_TAG: stack_id()}},
                    reason=f"{_OTA_UPDATES_REASON} Only OTA updates with this stack's "
                    "ownership tag.",
                ),
                Grant(
                    ("iot:TagResource", "iot:UntagResource"),
                    (Resource.fixed(OTA_UPDATES),),
                    conditions={
                        "StringEquals": {_RESOURCE_STACK_TAG: stack_id()},
                        "ForAllValues:StringNotLike": {"aws:TagKeys": f"{api.OWNER_TAG_PREFIX}*"},
                    },
                    reason=f"{_OTA_UPDATES_REASON} Only the user tags of OTA updates with this "
                    "stack's ownership tag.",
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
                    ("cloudformation:DescribeStackResource",),
                    (Resource.fixed(stack_id()),),
                    reason="a Create or Update is acted on only while CloudFormation still "
                    "waits for it (its resource in progress): read on this stack only.",
                ),
                Grant(
                    ("lambda:InvokeFunction",),
                    (function,),
                    reason="a wait longer than an invocation is handed over to the next one: "
                    "the function invokes itself (asynchronously), and nothing else.",
                ),
            ]
        )

    @classmethod
    def configure(
        cls,
        scope: Construct,
        *,
        memory_size: int | None = None,
        timeout: Duration | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        log_retention: logs.RetentionDays | None = None,
        log_removal_policy: RemovalPolicy | None = None,
        permissions_boundary: iam.IManagedPolicy | None = None,
        environment_encryption: kms.IKey | None = None,
        reserved_concurrent_executions: int | None = None,
        architecture: lambda_.Architecture | None = None,
    ) -> OtaUpdateProvider:
        """Set the options of the provider of ``scope``'s stack, before its first OtaUpdate.

        Once per stack: the provider is one Lambda shared by every OtaUpdate of the stack. A
        second call with the same options returns the same provider; with other options, or
        after an OtaUpdate made the provider with its defaults, synth fails saying so.

        :param memory_size: MB, 128 to 10,240. Default: 256.
        :param timeout: the function's timeout, 3 to 15 minutes. The resources' ServiceTimeout
            follows from it (``api.TimeBudget``: the invocations' maximum age, 15 minutes of
            waiting, one invocation and its answer). Default: 5 minutes.
        :param vpc: run the function in this VPC. It reaches AWS IoT, EventBridge, Lambda and
            CloudFormation's response URL (S3) through the VPC's endpoints or a NAT gateway (see
            the README). Attaches AWS's managed policy AWSLambdaVPCAccessExecutionRole to the
            function's role. Default: - no VPC.
        :param vpc_subnets: where in ``vpc``. Default: - the VPC's private subnets with egress.
        :param security_groups: the function's security groups in ``vpc`` (outbound HTTPS
            needed). Default: - a new one allowing all outbound traffic.
        :param log_retention: how long the function's log group keeps its logs.
            Default: RetentionDays.THREE_MONTHS.
        :param log_removal_policy: what happens to the log group when it leaves the stack.
            Default: RemovalPolicy.RETAIN.
        :param permissions_boundary: the function role's permissions boundary (it must allow
            what the role's policies grant). ``PermissionsBoundary.of(scope).apply(...)`` applies
            too, and wins, as for every role of its scope. Default: - none.
        :param environment_encryption: the KMS key that encrypts the function's environment;
            the function's role may decrypt with it. Default: - Lambda's AWS managed key.
        :param reserved_concurrent_executions: concurrency reserved for the function (and its
            limit), at least 1. Default: - none reserved.
        :param architecture: ``Architecture.ARM_64`` or ``Architecture.X86_64`` (the handler is
            pure Python). Default: Architecture.ARM_64.
        """
        stack = scope if isinstance(scope, Stack) else Stack.of(scope)
        path = f"{stack.node.path}/{cls.ID}"
        options = provider_options(
            path,
            memory_size=memory_size,
            timeout=timeout,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
            log_retention=log_retention,
            log_removal_policy=log_removal_policy,
            permissions_boundary=permissions_boundary,
            environment_encryption=environment_encryption,
            reserved_concurrent_executions=reserved_concurrent_executions,
            architecture=architecture,
        )
        existing = cls.existing(stack)
        if existing is None:
            return cls.create(stack, lambda: cls(stack, cls.ID, options=options))
        differences = options.differences(existing.options)
        if not differences:
            return existing
        if existing.configured:
            fix = (
                "it was configured already with other options: configure the provider once "
                "per stack, with all its options"
            )
        else:
            fix = (
                "the provider exists already with its defaults (the stack's first OtaUpdate "
                "made it): call OtaUpdateProvider.configure(stack, ...) before the first "
                "OtaUpdate of the stack"
            )
        raise OtaUpdateValidationError(
            f"{path}: OtaUpdateProvider.configure({', '.join(differences)}) is invalid: {fix}"
        )
