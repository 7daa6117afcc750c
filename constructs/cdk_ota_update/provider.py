"""The custom resource provider: one crhelper Lambda per stack, shared by every OtaUpdate in it.

``OtaUpdateProvider.configure(stack, ...)`` sets its options (memory, timeout, VPC, logs,
permissions boundary, KMS key, concurrency, architecture), before or after the stack's OtaUpdates:
the provider is one construct per stack, made on first need, and its role, log group, function and
policy are built once, with the options the stack has then: when ``configure`` is called, or else
at synth (or when the app reads one of them first). Without ``configure`` the provider has the
defaults below. Each check of the options is a row of ``OPTION_RULES``.

Its code is ``lambda_handler/`` (with the crhelper release it vendors) plus the API table
(``cdk_ota_update.api``), copied at synth by a local bundler: no Docker, no network, and the same
bytes (so the same asset hash) on every synth, in any directory, whatever else is installed.

aws-cdk-lib's ``aws_lambda``, ``aws_logs``, ``aws_ec2`` and ``aws_kms`` are imported when the
provider is built (or an option names them), not with this module.
"""

from __future__ import annotations

import functools
import hashlib
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

import jsii
from aws_cdk import (
    Aspects,
    CfnResource,
    CustomResource,
    Duration,
    IAspect,
    Lazy,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct, IDependable

from . import _disk_cache, api
from ._cdk import Producer, StackSingleton, seconds, stack_id
from .errors import OtaUpdateValidationError
from .grants import OTA_JOBS, OTA_STREAMS, OTA_UPDATES, function_arn, log_group_arn
from .policy import Grant, Resource, ScopedPolicy

if TYPE_CHECKING:
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

# The handler waits for the service inside one invocation and hands the wait over to its next
# invocation (the function invoking itself) only when this runs short. Its time bounds, and those
# derived from the function's timeout, are the contract's (api.TimeBudget).
MEMORY_SIZE_RANGE = (128, 10_240)  # MB, Lambda's bounds
MEMORY_SIZE = 256
LOG_RETENTION = "THREE_MONTHS"  # the name of logs.RetentionDays.THREE_MONTHS
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
    """What ``OtaUpdateProvider.configure`` sets, checked; the defaults are the provider's own.
    Enum-like options are kept by name (read from aws-cdk-lib when the provider is built)."""

    memory_size: int | float = MEMORY_SIZE
    timeout_seconds: int = api.FUNCTION_TIMEOUT_SECONDS
    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    security_groups: tuple[ec2.ISecurityGroup, ...] | None = None
    log_retention: str = LOG_RETENTION  # a name of logs.RetentionDays
    log_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    permissions_boundary: iam.IManagedPolicy | None = None
    environment_encryption: kms.IKey | None = None
    reserved_concurrent_executions: int | float | None = None
    architecture: str = ARCHITECTURE  # Lambda's name of an Architecture

    @property
    def lambda_architecture(self) -> lambda_.Architecture:
        return _architectures()[self.architecture]

    @property
    def retention(self) -> logs.RetentionDays:
        from aws_cdk import aws_logs as logs

        return logs.RetentionDays[self.log_retention]

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
            elif f.name == "log_retention":
                found.append(f"{f.name} = RetentionDays.{mine} (now RetentionDays.{theirs})")
            else:
                found.append(f"{f.name} = {_option(mine)} (now {_option(theirs)})")
        return found


def _architectures() -> dict[str, lambda_.Architecture]:
    """The architectures the handler runs on, by Lambda's name (read from jsii when asked, not
    kept: ``benchmarks/synth.py --memos`` showed no saving in a synth, docs/benchmarks.md §7;
    importing the library loads nothing of aws-lambda, tests/project/test_imports.py)."""
    from aws_cdk import aws_lambda as lambda_

    return {a.name: a for a in (lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64)}


def _option(value: Any) -> str:
    """An option's value as a message shows it: durations in words, constructs by path, the
    rest as :func:`api.show` shows any value."""
    if isinstance(value, Duration):
        seconds = value.to_seconds(integral=False)
        return value.to_human_string() if seconds == int(seconds) else f"{seconds:g} seconds"
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    if type(value).__name__ == "Architecture" and hasattr(value, "name"):
        return f"Architecture({value.name!r})"
    if hasattr(value, "node"):  # a construct, or an imported one (a jsii proxy)
        return str(value.node.path)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_option(v) for v in value) + "]"
    return api.show(value)


# ---------------------------------------------------------------------------------------------
# The checks of the options, one row each (like the request's constraints, api.RULES).
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionRule:
    """A check of one option of ``OtaUpdateProvider.configure``: a value given (not None) must
    satisfy ``allows(value, given)``, where ``given`` holds every option as passed; otherwise
    synth refuses it, naming the provider's path, the option, the value and ``rule``. With
    ``tokens``, a value CloudFormation resolves at deploy time is left to it."""

    option: str
    allows: Callable[[Any, Mapping[str, Any]], bool]
    rule: str
    tokens: bool = False

    def refusal(self, path: str, value: Any) -> OtaUpdateValidationError:
        return OtaUpdateValidationError(
            f"{path}: {self.option} = {_option(value)} is invalid: {self.rule}"
        )


def _whole(value: Any, low: float, high: float = math.inf) -> bool:
    """A number (not a bool) of whole units from ``low`` to ``high``."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value == int(value)
        and low <= value <= high
    )


def _known_seconds(value: Any) -> float | None:
    """The seconds of a ``Duration`` known at synth (None for anything else, or a token)."""
    if not isinstance(value, Duration):
        return None
    given = value.to_seconds(integral=False)
    return None if Token.is_unresolved(given) else given


_TIMEOUT_RANGE = (api.MIN_FUNCTION_TIMEOUT_SECONDS, api.MAX_FUNCTION_TIMEOUT_SECONDS)


def _has_vpc(_value: Any, given: Mapping[str, Any]) -> bool:
    return given.get("vpc") is not None


_NEEDS_VPC = (
    "it needs vpc: pass the VPC the subnets or security groups belong to as vpc=..., or leave "
    "it out"
)

OPTION_RULES: tuple[OptionRule, ...] = (
    OptionRule(
        "memory_size",
        lambda value, _: _whole(value, *MEMORY_SIZE_RANGE),
        f"it must be a whole number of MB from {MEMORY_SIZE_RANGE[0]} to {MEMORY_SIZE_RANGE[1]} "
        "(Lambda's range)",
        tokens=True,
    ),
    OptionRule(
        "timeout",
        lambda value, _: _whole(
            _known_seconds(value),
            api.MIN_FUNCTION_TIMEOUT_SECONDS,
            api.MAX_FUNCTION_TIMEOUT_SECONDS,
        ),
        f"it must be a Duration of whole seconds from {api.MIN_FUNCTION_TIMEOUT_SECONDS // 60} "
        f"minutes (each invocation stops waiting {api.HANDOVER_MARGIN_SECONDS:.0f} s before its "
        "end to hand over and answer) to "
        f"{api.MAX_FUNCTION_TIMEOUT_SECONDS // 60} minutes (Lambda's limit), known at synth (the "
        "resource's ServiceTimeout is derived from it)",
    ),
    OptionRule("vpc_subnets", _has_vpc, _NEEDS_VPC),
    OptionRule("security_groups", _has_vpc, _NEEDS_VPC),
    OptionRule(
        "log_removal_policy",
        lambda value, _: value is not RemovalPolicy.SNAPSHOT,
        "it must be RemovalPolicy.DESTROY or RemovalPolicy.RETAIN (a log group has no snapshot)",
    ),
    OptionRule(
        "reserved_concurrent_executions",
        lambda value, _: _whole(value, 1),
        "it must be a whole number of at least 1 (with 0 the handler could never run, and every "
        "deploy would wait for the ServiceTimeout): leave it out for no reservation",
        tokens=True,
    ),
    OptionRule(
        "architecture",
        lambda value, _: getattr(value, "name", None) in _architectures(),
        "it must be Architecture.ARM_64 (the default) or Architecture.X86_64",
    ),
)


def provider_options(path: str, given: Mapping[str, Any]) -> ProviderOptions:
    """The options ``given`` (``configure``'s keyword arguments, None where left out), checked
    by ``OPTION_RULES`` in order: the first refusal names ``path``, the option, its value and
    the fix."""
    for rule in OPTION_RULES:
        value = given[rule.option]
        if value is None or (rule.tokens and Token.is_unresolved(value)):
            continue
        if not rule.allows(value, given):
            raise rule.refusal(path, value)
    defaults = ProviderOptions()
    timeout: Duration | None = given["timeout"]
    groups: Sequence[ec2.ISecurityGroup] | None = given["security_groups"]
    retention: logs.RetentionDays | None = given["log_retention"]
    architecture: lambda_.Architecture | None = given["architecture"]
    return ProviderOptions(
        memory_size=defaults.memory_size if given["memory_size"] is None else given["memory_size"],
        timeout_seconds=(
            defaults.timeout_seconds if timeout is None else int(timeout.to_seconds(integral=False))
        ),
        vpc=given["vpc"],
        vpc_subnets=given["vpc_subnets"],
        security_groups=None if groups is None else tuple(groups),
        log_retention=defaults.log_retention if retention is None else retention.name,
        log_removal_policy=given["log_removal_policy"] or defaults.log_removal_policy,
        permissions_boundary=given["permissions_boundary"],
        environment_encryption=given["environment_encryption"],
        reserved_concurrent_executions=given["reserved_concurrent_executions"],
        architecture=defaults.architecture if architecture is None else architecture.name,
    )


_HERE = Path(__file__).resolve().parent
# The API contract the handler imports (``cdk_ota_update.api``), and the rules of a rollout that
# its rollout gate judges by (``rollout``, with the ``job_metrics`` it reads); none imports aws_cdk
# or jsii (the standard library and botocore only).
CONTRACT_FILES = ("__init__.py", "api.py", "job_metrics.py", "rollout.py")


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
    cache = _disk_cache.private_cache_dir()
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
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Code.from_asset(str(asset_dir()))


class _Built(NamedTuple):
    """The provider's constructs, built once."""

    role: iam.Role
    log_group: logs.LogGroup
    function: lambda_.Function
    function_arn: str  # the function's ARN, read once (the resources' ServiceToken)
    policy: ScopedPolicy


class _Waiting(NamedTuple):
    """A resource made before its provider was built: what it waits for."""

    resource: CustomResource
    timeout_seconds: int  # the function's timeout its ServiceTimeout was derived from
    dependencies: tuple[IDependable, ...]
    gate_seconds: int  # its rollout gate's timeout (0 without one)


@jsii.implements(IAspect)
class _BuildAtSynth:
    """Builds a provider not built yet when synth reaches it (before references and
    dependencies are resolved), and plans its policy there (the stack's other policies may have
    been planned already, on an earlier node)."""

    def __init__(self, provider: OtaUpdateProvider) -> None:
        self._provider = provider

    def visit(self, node: IConstruct) -> None:
        # jsii hands back the Python object itself: telling it costs no jsii call.
        if node is self._provider:
            self._provider._parts("synth").policy.plan()


class OtaUpdateProvider(StackSingleton):
    """The stack's provider of ``Custom::OtaUpdate``; ``OtaUpdateProvider.of(scope)`` gets it,
    ``OtaUpdateProvider.configure(stack, ...)`` sets its options (before or after the stack's
    OtaUpdates).

    Its ``role``, ``log_group``, ``function`` and ``policy`` are built once, with the options the
    stack has then: at ``configure``, or at synth, or when the app first reads one of them.
    """

    ID = "OtaUpdateProvider"

    def __init__(
        self, scope: Construct, id: str, *, options: ProviderOptions | None = None
    ) -> None:
        super().__init__(scope, id)
        self.options = options or ProviderOptions()
        self.configured = options is not None
        self._built: _Built | None = None
        self._built_when = ""  # how it came to be built, for the message of a later configure
        self._waiting: list[_Waiting] = []
        self._grants: list[Grant] = []
        if self.configured:  # the options are known: built now (so the function's ARN is known)
            self.service_token: str = self._build("configured").function_arn
        else:  # built at synth, with the options the stack has then
            self.service_token = Lazy.string(
                Producer(lambda: self._parts("service token").function_arn)
            )
            Aspects.of(self).add(_BuildAtSynth(self), priority=_BUILD_PRIORITY)

    # The constructs, built on first need.
    @property
    def role(self) -> iam.Role:
        return self._parts("role").role

    @property
    def log_group(self) -> logs.LogGroup:
        return self._parts("log_group").log_group

    @property
    def function(self) -> lambda_.Function:
        return self._parts("function").function

    @property
    def policy(self) -> ScopedPolicy:
        return self._parts("policy").policy

    @property
    def service_timeout(self) -> Duration:
        """The ServiceTimeout of the resources, derived from the function's timeout."""
        return self.gated_service_timeout(0)

    @property
    def time_budget(self) -> api.TimeBudget:
        """The time budget of its resources without a rollout gate (the options' as they are)."""
        return api.TimeBudget(self.options.timeout_seconds)

    def gated_service_timeout(self, gate_seconds: int) -> Duration:
        """The ServiceTimeout of a resource whose rollout gate waits ``gate_seconds`` (0: none)."""
        budget = replace(self.time_budget, gate_seconds=gate_seconds)
        return seconds(budget.service_timeout_seconds)

    def serve(
        self,
        resource: CustomResource,
        grants: Iterable[Grant],
        dependencies: Sequence[IDependable] = (),
        *,
        gate_seconds: int = 0,
    ) -> None:
        """``resource``, made with this provider's ``service_token`` and
        ``gated_service_timeout(gate_seconds)``, is one of its resources: its ``grants`` join the
        provider's policy, and it depends on that policy and on ``dependencies`` (the grants exist
        before its create and until after its delete). Now if the provider is built, else when it
        is (its ServiceTimeout then follows the options the provider is built with)."""
        if self._built is not None:
            self._built.policy.add(grants)
            resource.node.add_dependency(self._built.policy, *dependencies)
            return
        self._grants.extend(grants)
        self._waiting.append(
            _Waiting(resource, self.options.timeout_seconds, tuple(dependencies), gate_seconds)
        )

    def _parts(self, need: str) -> _Built:
        if self._built is not None:
            return self._built
        return self._build(
            "when the stack was synthesized" if need == "synth" else f"when its {need} was read"
        )

    def _build(self, when: str) -> _Built:
        from aws_cdk import aws_lambda as lambda_
        from aws_cdk import aws_logs as logs

        self._built_when = when
        options = self.options
        timing = api.TimeBudget(options.timeout_seconds)
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the Custom::OtaUpdate handler (cdk-ota-update).",
            permissions_boundary=options.permissions_boundary,
        )
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=options.retention,
            removal_policy=options.log_removal_policy,
        )
        if options.environment_encryption is not None:
            # Lambda decrypts the environment with the function's role when it starts.
            options.environment_encryption.grant_decrypt(role)
        function = lambda_.Function(
            self,
            "Function",
            description="Creates and deletes AWS IoT OTA updates for Custom::OtaUpdate resources.",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=options.lambda_architecture,
            handler="index.handler",
            code=code(),
            timeout=seconds(timing.function_seconds),
            memory_size=options.memory_size,
            vpc=options.vpc,
            vpc_subnets=options.vpc_subnets,
            security_groups=(
                None if options.security_groups is None else [*options.security_groups]
            ),
            environment_encryption=options.environment_encryption,
            reserved_concurrent_executions=options.reserved_concurrent_executions,
            role=role,
            log_group=log_group,
            # The handler acts for this stack only (events name their StackId themselves).
            environment=api.Settings(stack_id=stack_id()).to_environment(),
            retry_attempts=0,
            max_event_age=seconds(timing.event_age_seconds),
        )
        function_token = function.function_arn
        policy = ScopedPolicy(self, "Policy", role=role)
        self._built = _Built(role, log_group, function, function_token, policy)
        if options.vpc is not None:
            policy.attach_aws_managed_policy(VPC_ACCESS_POLICY, _VPC_ACCESS_REASON)
        policy.add(_grants(function_arn(function_token), log_group_arn(log_group.log_group_arn)))
        # The resources made before: their grants, dependencies and (if the timeout changed)
        # ServiceTimeout.
        policy.add(self._grants)
        self._grants.clear()
        for waiting in self._waiting:
            if waiting.timeout_seconds != options.timeout_seconds:
                default_child = waiting.resource.node.default_child
                assert isinstance(default_child, CfnResource)
                gated = replace(timing, gate_seconds=waiting.gate_seconds)
                default_child.add_property_override(
                    "ServiceTimeout", str(gated.service_timeout_seconds)
                )
            waiting.resource.node.add_dependency(policy, *waiting.dependencies)
        self._waiting.clear()
        return self._built

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
        """Set the options of the provider of ``scope``'s stack, before or after its OtaUpdates.

        Once per stack: the provider is one Lambda shared by every OtaUpdate of the stack, built
        with these options at synth. A second call with the same options returns the same
        provider; with other options, or after the provider was built with its defaults (the
        app read its ``role``, ``log_group``, ``function`` or ``policy``, or synthesized the
        stack), synth fails saying so.

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
            {
                "memory_size": memory_size,
                "timeout": timeout,
                "vpc": vpc,
                "vpc_subnets": vpc_subnets,
                "security_groups": security_groups,
                "log_retention": log_retention,
                "log_removal_policy": log_removal_policy,
                "permissions_boundary": permissions_boundary,
                "environment_encryption": environment_encryption,
                "reserved_concurrent_executions": reserved_concurrent_executions,
                "architecture": architecture,
            },
        )
        existing = cls.existing(stack)
        if existing is None:
            return cls.create(stack, lambda: cls(stack, cls.ID, options=options))
        return existing._configured(path, options)

    def _configured(self, path: str, options: ProviderOptions) -> OtaUpdateProvider:
        """This provider with ``options``: set, unless they differ from options set before or
        from those it was built with."""
        differences = options.differences(self.options)
        if differences and self.configured:
            fix = (
                "it was configured already with other options: configure the provider once "
                "per stack, with all its options"
            )
        elif differences and self._built is not None:
            fix = (
                f"the provider was built already with its defaults, {self._built_when}: call "
                "OtaUpdateProvider.configure(stack, ...) before reading the provider's role, "
                "log_group, function or policy, and before synth"
            )
        else:
            self.options = options
            self.configured = True
            return self
        raise OtaUpdateValidationError(
            f"{path}: OtaUpdateProvider.configure({', '.join(differences)}) is invalid: {fix}"
        )


# Before any other aspect on the provider (cdk-nag's, Tags.of's, a permissions boundary's): they
# find its constructs built.
_BUILD_PRIORITY = 0


def _grants(function: Resource, log_group: Resource) -> list[Grant]:
    """The handler's own grants: its logs, the OTA updates of its stack, their jobs and streams,
    its stack's resource, and the hand-over to itself."""
    return [
        Grant(
            ("logs:CreateLogStream", "logs:PutLogEvents"),
            (log_group,),
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
            reason=f"{_OTA_UPDATES_REASON} Only OTA updates with this stack's ownership tag.",
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
