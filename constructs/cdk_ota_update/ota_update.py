"""The ``OtaUpdate`` construct: an AWS IoT OTA update (iot:CreateOTAUpdate) as a CDK resource."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import jsii
from aws_cdk import (
    Annotations,
    CustomResource,
    Duration,
    ITaggable,
    Lazy,
    RemovalPolicy,
    Stack,
    TagManager,
    TagType,
)
from constructs import Construct

from . import api
from ._cdk import (
    PSEUDO_SAMPLES,
    Producer,
    add_stack_validation,
    get_or_make,
    is_list_token,
    pseudo,
    readable,
    stack_of,
    unresolved,
)
from .base import ImportedOtaUpdate, IOtaUpdate, grant_read
from .errors import OtaUpdateValidationError
from .grants import IOT_SERVICE, provider_grants, rollout_gate_grants, service_role_grants
from .metrics import JobMetrics
from .props import (
    AwsJobAbortConfig,
    AwsJobExecutionsRolloutConfig,
    AwsJobPresignedUrlConfig,
    AwsJobTimeoutConfig,
    BucketFileLocation,
    CodeSigning,
    FileLocation,
    OtaUpdateFile,
    Protocol,
    RolloutGate,
    TargetSelection,
    render_structure,
)
from .provider import OtaUpdateProvider
from .role import service_role, warn_immutable

if TYPE_CHECKING:
    from aws_cdk import aws_iam as iam

_DIGEST_LENGTH = 16


@jsii.implements(ITaggable)
class OtaUpdate(Construct, JobMetrics):
    """An AWS IoT OTA update, created on deploy and deleted on teardown.

    Backed by ``Custom::OtaUpdate`` (one crhelper Lambda per stack). The request is validated at
    synth against the API's constraints; the deploy waits until the service reports
    CREATE_COMPLETE and fails with the service's own error otherwise. OTA updates are
    immutable: a changed request replaces the OTA update (a new derived ``otaUpdateId``).

    Its job's AWS IoT Jobs metrics (``metric_failed()``, ...) and alarms on them
    (``alarm_failure_rate()``, ``alarm_no_success()``) come from ``JobMetrics``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        targets: Sequence[str],
        files: Sequence[OtaUpdateFile],
        ota_update_id: str | None = None,
        description: str | None = None,
        protocols: Sequence[Protocol | str] | None = None,
        target_selection: TargetSelection | str | None = None,
        aws_job_executions_rollout_config: AwsJobExecutionsRolloutConfig | None = None,
        aws_job_presigned_url_config: AwsJobPresignedUrlConfig | None = None,
        aws_job_abort_config: AwsJobAbortConfig | None = None,
        aws_job_timeout_config: AwsJobTimeoutConfig | None = None,
        role: iam.IRole | None = None,
        additional_parameters: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        delete_stream: bool = True,
        force_delete_aws_job: bool = True,
        removal_policy: RemovalPolicy | None = None,
        rollout_gate: RolloutGate | None = None,
    ) -> None:
        """
        :param targets: thing / thing-group ARNs that receive the update (``OtaTarget`` helps).
        :param files: the files to send (at least one).
        :param ota_update_id: the OTA update's id (1-56 of ``[a-zA-Z0-9_-]``; the service's job is
            ``AFR_OTA-<id>``, at most 64). A fixed id must change whenever the request changes.
            Default: - derived from the construct path and the request: deterministic, and new
            (a replacement) whenever the request changes.
        :param description: Default: - no description.
        :param protocols: MQTT and/or HTTP. Default: - the service's default (MQTT).
        :param target_selection: CONTINUOUS or SNAPSHOT. Default: - the service's (SNAPSHOT).
        :param aws_job_executions_rollout_config: Default: - the service's rollout.
        :param aws_job_presigned_url_config: Default: - URLs valid for 1800 seconds.
        :param aws_job_abort_config: Default: - the job never aborts.
        :param aws_job_timeout_config: Default: - executions never time out.
        :param role: the service role (roleArn); it gets the statements this OTA update needs
            (none for an imported, immutable role). Default: - a least-privilege role shared by
            the stack's OtaUpdates, allowed exactly the objects, jobs and profiles in use.
        :param additional_parameters: Default: - none.
        :param tags: tags of the OTA update; ``Tags.of(...)`` adds to them. Default: - none.
        :param delete_stream: on teardown, delete the stream the service created for the update
            (DeleteOTAUpdate's deleteStream). Default: true.
        :param force_delete_aws_job: on teardown (stack deletion, or replacement by a changed
            request), delete the job even while executions are IN_PROGRESS, cancelling them
            (forceDeleteAWSJob). ``False`` makes the delete fail instead, saying so, while the
            job runs: a CONTINUOUS job always runs, so the stack could not be deleted and a
            replaced OTA update would keep rolling out. Default: true.
        :param removal_policy: RETAIN keeps the OTA update when the resource leaves the stack.
            Default: RemovalPolicy.DESTROY.
        :param rollout_gate: make the deploy wait, once the OTA update is CREATE_COMPLETE, until
            its job's executions pass the gate, or fail it (then CloudFormation rolls back: the
            job is cancelled and the OTA update deleted with it). It waits only when the request
            creates an OTA update (a Create, or a replacement); a change of the gate alone is an
            in-place update that waits for nothing. Its timeout grows the ServiceTimeout, and
            the provider may cancel OTA update jobs (``iot:CancelJob`` on ``job/AFR_OTA-*``).
            Default: - no gate: the deploy ends at CREATE_COMPLETE.
        """
        super().__init__(scope, id)
        stack = stack_of(scope)
        siblings = _StackOtaUpdates.of(stack)
        _check_removal_policy(self, removal_policy)
        user_tags = _tag_map(self, tags)
        self._tags = TagManager(TagType.KEY_VALUE, api.RESOURCE_TYPE, user_tags)
        self._tags_reached = False  # whether anything but the constructor got the TagManager
        provider = OtaUpdateProvider.of(stack)
        gate = _rollout_gate(self, rollout_gate, provider.time_budget)
        gate_seconds = _gate_seconds(gate)
        service = service_role(stack, role)
        role_arn = service.role_arn
        request = render_structure(
            dict(
                ota_update_id=ota_update_id,
                description=description,
                targets=targets,
                protocols=protocols,
                target_selection=target_selection,
                aws_job_executions_rollout_config=aws_job_executions_rollout_config,
                aws_job_presigned_url_config=aws_job_presigned_url_config,
                aws_job_abort_config=aws_job_abort_config,
                aws_job_timeout_config=aws_job_timeout_config,
                files=_bind_files(self, files),
                role_arn=role_arn,
                additional_parameters=additional_parameters,
                tags=_tag_list(user_tags) or None,
            ),
            api.create_request_shape(),
        )
        if ota_update_id is None:
            request = {api.OTA_UPDATE_ID: siblings.derive(scope, id, request), **request}
        else:
            siblings.claim(scope, id, ota_update_id)
        _raise_for(self, _violations(request))
        _check_targets(self, stack, request.get(api.TARGETS))
        _warn_continuous_without_force(self, request, force_delete_aws_job)
        _warn_same_file_names(self, request.get(api.FILES))
        siblings.add(self, role)
        # The job's id as synth knows it (the id given, or the derived one), for the metrics'
        # JobId: no reference to the resource, so a dashboard of another stack imports nothing.
        self._job_id = api.job_id(request[api.OTA_UPDATE_ID])

        # CDK's own lazy rendering of the tags at synth (Tags.of(...) adds to them later).
        request[api.TAGS] = self._tags.rendered_tags
        if service.policy is not None:
            service.policy.add(service_role_grants(request))
        else:
            warn_immutable(self, service, service_role_grants(request))

        self._resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=api.RESOURCE_TYPE,
            properties={
                **api.to_cloudformation(request),
                api.DELETE_STREAM: delete_stream,
                api.FORCE_DELETE_AWS_JOB: force_delete_aws_job,
                **({} if gate is None else {api.ROLLOUT_GATE: gate}),
            },
            removal_policy=removal_policy or RemovalPolicy.DESTROY,
            service_timeout=provider.gated_service_timeout(gate_seconds),
        )
        # The grants exist before the create and until after the delete (the provider's once it
        # is built, with the options its stack has then).
        grants = [*provider_grants(request, service.arn)]
        if gate is not None:
            grants += rollout_gate_grants()
            # The gate is checked again with the provider's options as synth finds them.
            add_stack_validation(
                self, lambda: _gate_errors(self, gate, provider.time_budget, unresolved)
            )
        provider.serve(self._resource, grants, service.dependencies, gate_seconds=gate_seconds)

    @staticmethod
    def from_ota_update_id(scope: Construct, id: str, ota_update_id: str) -> IOtaUpdate:
        """An existing OTA update of the stack's account and Region, by its id."""
        return ImportedOtaUpdate.of_id(scope, id, ota_update_id)

    @staticmethod
    def from_ota_update_arn(scope: Construct, id: str, ota_update_arn: str) -> IOtaUpdate:
        """An existing OTA update, by its ARN (any account and Region)."""
        return ImportedOtaUpdate.of_arn(scope, id, ota_update_arn)

    @property
    def tags(self) -> TagManager:
        """The OTA update's tags (``Tags.of(ota).add(k, v)`` works too)."""
        self._tags_reached = True
        return self._tags

    @property
    def ota_update_id(self) -> str:
        """The OTA update's id (the resource's physical id)."""
        return self._resource.get_att_string(api.ATTR_OTA_UPDATE_ID)

    @property
    def ota_update_arn(self) -> str:
        return self._resource.get_att_string(api.ATTR_OTA_UPDATE_ARN)

    @property
    def aws_iot_job_id(self) -> str:
        """The IoT job the service created (``AFR_OTA-<otaUpdateId>``)."""
        return self._resource.get_att_string(api.ATTR_AWS_IOT_JOB_ID)

    @property
    def aws_iot_job_arn(self) -> str:
        return self._resource.get_att_string(api.ATTR_AWS_IOT_JOB_ARN)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` watch the rollout: GetOTAUpdate on this OTA update, DescribeJob and
        ListJobExecutionsForJob on exactly its job."""
        return grant_read(grantee, self)

    def _metric_job_id(self) -> str:
        return self._job_id

    def _check_tags(self) -> list[str]:
        """The tags' violations, if anything could add tags after the constructor checked
        them (``Tags.of(...)`` and ``ota.tags`` get the TagManager through :attr:`tags`)."""
        if not self._tags_reached:
            return []
        tags = self._tags.render_tags() or []
        violations = api.validate_member(api.TAGS, tags, skip=unresolved, rules=api.RESOURCE_RULES)
        return [f"{self.node.path}: {v}" for v in violations]


class _StackOtaUpdates:
    """What the library keeps of each stack's OtaUpdates, on the Python side: their derived
    ids (computed together at synth, one resolve for all), the fixed ids taken, the roles given
    (a role's trust is checked once), and one synth check of them all."""

    _OF: ClassVar[weakref.WeakKeyDictionary[Stack, _StackOtaUpdates]] = weakref.WeakKeyDictionary()

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._pending: list[tuple[int, Construct, str, dict[str, Any]]] = []
        self._ids: dict[int, str] = {}
        self._fixed_ids: dict[str, str] = {}  # the path of the OtaUpdate that has each
        self._ota_updates: list[OtaUpdate] = []
        self._role_users: dict[iam.IRole, list[Construct]] = {}
        add_stack_validation(stack, self._check)

    @classmethod
    def of(cls, stack: Stack) -> _StackOtaUpdates:
        return get_or_make(cls._OF, stack, lambda: cls(stack))

    def add(self, ota: OtaUpdate, role: iam.IRole | None) -> None:
        self._ota_updates.append(ota)
        if role is not None:
            self._role_users.setdefault(role, []).append(ota)

    def _check(self) -> list[str]:
        errors = [e for ota in self._ota_updates for e in ota._check_tags()]
        for role, users in self._role_users.items():
            errors += _check_trust(role, users)
        return errors

    def claim(self, scope: Construct, id: str, ota_update_id: str) -> None:
        """Take the fixed ``ota_update_id`` for the OtaUpdate ``id`` under ``scope``."""
        if not isinstance(ota_update_id, str) or unresolved(ota_update_id):
            return
        path = _child_path(scope, id)
        if ota_update_id in self._fixed_ids:
            raise OtaUpdateValidationError(
                f"{path}: otaUpdateId = {ota_update_id!r} is invalid: it must be unique in the "
                f"stack, and {self._fixed_ids[ota_update_id]} has it already (the second deploy "
                "would fail): give each OtaUpdate its own id, or omit it to have one derived"
            )
        self._fixed_ids[ota_update_id] = path

    def derive(self, scope: Construct, id: str, request: Mapping[str, Any]) -> str:
        """A token for the id derived for ``request`` of the OtaUpdate ``id`` under ``scope``:
        ``<construct id>-<digest of path and request>``: same app, same id; new request, new id.
        Tags are not part of it: they change in place. A public contract, pinned by tests:
        changing it would replace every user's OTA updates on upgrade."""
        key = len(self._ids) + len(self._pending)
        body = {k: v for k, v in request.items() if k not in (api.OTA_UPDATE_ID, api.TAGS)}
        self._pending.append((key, scope, id, body))
        return Lazy.string(Producer(lambda: self._derived(key)))

    def _derived(self, key: int) -> str:
        if key not in self._ids:
            pending, self._pending = self._pending, []
            resolved = self._stack.resolve([api.to_cloudformation(p[3]) for p in pending])
            for (pending_key, scope, id, _), body in zip(pending, resolved, strict=True):
                self._ids[pending_key] = _derived_id(_child_path(scope, id), id, body)
        return self._ids[key]


def _derived_id(path: str, id: str, resolved_body: Any) -> str:
    digest = hashlib.sha256(json.dumps([path, resolved_body], sort_keys=True).encode()).hexdigest()[
        :_DIGEST_LENGTH
    ]
    slug = re.sub(r"[^a-zA-Z0-9_-]", "", id)
    return f"{slug[: api.OTA_UPDATE_ID_MAX_LENGTH - _DIGEST_LENGTH - 1]}-{digest}".lstrip("-")


_PATHS: weakref.WeakKeyDictionary[Construct, str] = weakref.WeakKeyDictionary()


def _child_path(scope: Construct, id: str) -> str:
    """The path of ``scope``'s child ``id`` (each scope's own path read from jsii once)."""
    parent = get_or_make(_PATHS, scope, lambda: scope.node.path)
    return f"{parent}/{id}" if parent else id


def _check_targets(scope: Construct, stack: Stack, targets: Any) -> None:
    """A literal target ARN must be of the stack's own account and Region (where they are
    known at synth): an OTA update reaches only the things of its own."""
    literal = [
        (index, target)
        for index, target in enumerate(targets if isinstance(targets, list) else [])
        if isinstance(target, str) and not unresolved(target) and target.count(":") >= 5
    ]
    if not literal:
        return
    region, account = stack.region, stack.account
    for index, target in literal:
        _, _, _, target_region, target_account, _ = target.split(":", 5)
        for what, theirs, ours in (
            ("Region", target_region, region),
            ("account", target_account, account),
        ):
            if not unresolved(ours) and theirs != ours:
                raise OtaUpdateValidationError(
                    f"{scope.node.path}: targets[{index}] = {target!r} is invalid: its {what} is "
                    f"{theirs}, the stack's is {ours}: an OTA update reaches only the things of "
                    "its own account and Region; target them with OtaTarget.thing(...) / "
                    "OtaTarget.thing_group(...), or deploy this OtaUpdate in a stack of that "
                    f"{what}"
                )


def _warn_continuous_without_force(
    scope: Construct, request: Mapping[str, Any], force_delete_aws_job: bool
) -> None:
    """A CONTINUOUS job never ends: without forceDeleteAWSJob its teardown always fails."""
    if request.get(api.TARGET_SELECTION) == api.CONTINUOUS and force_delete_aws_job is False:
        Annotations.of(scope).add_warning_v2(
            "cdk-ota-update:continuous-without-force",
            "target_selection=CONTINUOUS with force_delete_aws_job=False: a CONTINUOUS job "
            "never ends, so deleting this OTA update (stack deletion, or its replacement by a "
            "changed request) will fail while its job is IN_PROGRESS and the old firmware keeps "
            "rolling out: leave force_delete_aws_job at its default (true)",
        )


def _warn_same_file_names(scope: Construct, files: Any) -> None:
    """Files of one OTA update with the same (literal) ``fileName``: the service accepts them,
    but a device stores each file under its name, so one overwrites the other."""
    first: dict[str, int] = {}
    for index, file in enumerate(files if isinstance(files, list) else []):
        name = file.get(api.FILE_NAME) if isinstance(file, Mapping) else None
        if not isinstance(name, str) or unresolved(name):
            continue
        if name in first:
            Annotations.of(scope).add_warning_v2(
                "cdk-ota-update:same-file-name",
                f"files[{first[name]}] and files[{index}] have the same file_name {name!r}: a "
                "device stores each file of the job under its file_name, so the later one "
                "overwrites the earlier: give each file its own file_name (the path on the "
                "device)",
            )
        first.setdefault(name, index)


def _rollout_gate(
    scope: Construct, gate: RolloutGate | None, budget: api.TimeBudget
) -> dict[str, Any] | None:
    """The resource's rollout gate property (None without a gate), checked against the API's
    rules for it with the provider's time ``budget``."""
    if gate is None:
        return None
    if not isinstance(gate, RolloutGate):
        raise OtaUpdateValidationError(
            f"{scope.node.path}: rollout_gate = {api.show(gate)} is invalid: it must be a "
            "RolloutGate(min_succeeded_percentage=..., max_failed_percentage=..., "
            "min_executions=..., timeout=...)"
        )
    timeout = gate.timeout
    seconds: Any = api.GATE_TIMEOUT_DEFAULT_SECONDS
    if timeout is not None:
        seconds = timeout.to_seconds(integral=False) if isinstance(timeout, Duration) else None
        if seconds is None or unresolved(seconds):
            raise OtaUpdateValidationError(
                f"{scope.node.path}: rollout_gate.timeout = {api.show(timeout)} is invalid: it "
                "must be a Duration known at synth (the resource's ServiceTimeout is derived from "
                "it), for example Duration.minutes(20)"
            )
        seconds = int(seconds) if float(seconds).is_integer() else seconds
    values = {f.name: getattr(gate, f.name) for f in dataclasses.fields(gate)}
    rendered = render_structure(
        {**values, "timeout_seconds": seconds},
        api.rollout_gate_shape().members[api.ROLLOUT_GATE],
    )
    errors = _gate_errors(scope, rendered, budget, unresolved)
    if errors:
        raise OtaUpdateValidationError("\n".join(errors))
    return rendered


def _gate_errors(
    scope: Construct, gate: Mapping[str, Any], budget: api.TimeBudget, skip: api.Skip
) -> list[str]:
    """Each violation of the rollout gate ``gate`` (its property) with the time ``budget``."""
    violations = api.validate(
        {api.ROLLOUT_GATE: gate},
        shape=api.rollout_gate_shape(),
        rules=api.gate_rules(budget),
        skip=skip,
    )
    return [f"{scope.node.path}: {violation}" for violation in violations]


def _gate_seconds(gate: Mapping[str, Any] | None) -> int:
    """How long a rollout gate (its property) waits: 0 without one."""
    return 0 if gate is None else int(gate[api.GATE_TIMEOUT_SECONDS])


def _check_removal_policy(scope: Construct, removal_policy: RemovalPolicy | None) -> None:
    if removal_policy not in (None, RemovalPolicy.DESTROY, RemovalPolicy.RETAIN):
        raise OtaUpdateValidationError(
            f"{scope.node.path}: removal_policy = {removal_policy} is invalid: it must be "
            "RemovalPolicy.DESTROY or RemovalPolicy.RETAIN (an OTA update has no snapshot)"
        )


def _tag_map(scope: Construct, tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise OtaUpdateValidationError(
            f"{scope.node.path}: tags = {tags!r} is invalid: it must be a mapping of tag keys to "
            'values, for example {"team": "firmware"}'
        )
    return dict(tags)


def _bind_files(scope: Construct, files: Sequence[OtaUpdateFile]) -> Any:
    """The files with their locations bound (assets created); anything else left for
    validation to name."""
    if not isinstance(files, (list, tuple)):
        return files
    return [
        _bind_file(scope, index, file) if isinstance(file, OtaUpdateFile) else file
        for index, file in enumerate(files)
    ]


def _bind_file(scope: Construct, index: int, file: OtaUpdateFile) -> OtaUpdateFile:
    _check_signed_source(scope, index, file)
    if isinstance(file.file_location, FileLocation):
        file = dataclasses.replace(
            file, file_location=file.file_location.bind(scope, f"File{index}")
        )
    if isinstance(file.code_signing, CodeSigning):
        file = dataclasses.replace(
            file, code_signing=file.code_signing.bind(scope, f"files[{index}].codeSigning")
        )
    return file


def _check_signed_source(scope: Construct, index: int, file: OtaUpdateFile) -> None:
    """AWS Signer signs only objects of a versioned bucket: a file it signs in a bucket the app
    declares is checked at synth (then, so that the bucket's final settings count); an imported
    bucket's versioning is not known."""
    location, signing = file.file_location, file.code_signing
    if not (
        isinstance(location, BucketFileLocation)
        and isinstance(signing, CodeSigning)
        and signing.start_signing_job_parameter is not None
    ):
        return
    from aws_cdk import aws_s3 as s3

    declared = getattr(location.bucket.node, "default_child", None)
    if isinstance(declared, s3.CfnBucket):
        add_stack_validation(scope, lambda: _unversioned(scope, index, declared))


def _unversioned(scope: Construct, index: int, declared: Any) -> list[str]:
    """The error for a signed file's bucket that is not versioned (none if it is, or if its
    versioning is a token)."""
    setting = declared.versioning_configuration
    status = Stack.of(declared).resolve(setting).get("status") if setting is not None else None
    if status == "Enabled" or (status is not None and unresolved(status)):
        return []
    bucket = declared.node.scope.node.path
    return [
        f"{scope.node.path}: files[{index}].fileLocation = FileLocation.from_bucket({bucket}, "
        f"...) is invalid: AWS Signer signs the file (files[{index}].codeSigning."
        "startSigningJobParameter) and signs only objects of a versioned bucket (StartSigningJob: "
        f"'Your S3 source bucket must be version enabled'), and {bucket} is not versioned: "
        "declare it with versioned=True, or sign the file yourself and give "
        "CodeSigning(aws_signer_job_id=...) or custom_code_signing"
    ]


def _check_trust(role: iam.IRole, users: Sequence[Construct]) -> list[str]:
    """A role of the app must be assumable by the OTA update service (imports are not checked)."""
    document = getattr(role, "assume_role_policy", None)
    if document is None:
        return []
    statements = Stack.of(role).resolve(document.to_json()).get("Statement", [])
    if any(_admits_iot(statement) for statement in statements):
        return []
    others = f" (and {len(users) - 1} other OtaUpdates)" if len(users) > 1 else ""
    return [
        f"{users[0].node.path}{others}: role = {role.node.path} is invalid: its trust policy must "
        f"allow sts:AssumeRole to the service principal {IOT_SERVICE} (the OTA update service "
        f"acts with the role): create it with assumed_by=iam.ServicePrincipal({IOT_SERVICE!r})"
    ]


def _admits_iot(statement: Mapping[str, Any]) -> bool:
    actions = statement.get("Action", [])
    principal = statement.get("Principal", {})
    services = principal.get("Service", []) if isinstance(principal, Mapping) else []
    return (
        statement.get("Effect") == "Allow"
        and bool({"sts:AssumeRole", "sts:*", "*"} & set(_as_list(actions)))
        and (principal == "*" or IOT_SERVICE in _as_list(services))
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _violations(request: Mapping[str, Any]) -> list[api.Violation]:
    """The request's violations, pseudo parameters checked as samples and shown by name."""
    shown: dict[str, str] = {}
    violations = api.validate(_sampled(request, shown), skip=unresolved, rules=api.RESOURCE_RULES)
    return [
        dataclasses.replace(v, value=shown[v.value])
        if isinstance(v.value, str) and v.value in shown
        else v
        for v in violations
    ]


def _sampled(value: Any, shown: dict[str, str]) -> Any:
    """``value`` with pseudo parameters replaced by samples, so that the literal parts of a
    string around them (OtaTarget's ARNs) are checked at synth (strings with other tokens are
    skipped); ``shown`` maps each sampled string to its readable original."""
    if isinstance(value, str) and unresolved(value):
        sample = value
        for token, sample_value in zip(pseudo(), PSEUDO_SAMPLES, strict=True):
            sample = sample.replace(token, sample_value)
        shown[sample] = readable(value)
        return sample
    if isinstance(value, Mapping):
        return {k: _sampled(v, shown) for k, v in value.items()}
    if isinstance(value, list) and not is_list_token(value):
        return [_sampled(v, shown) for v in value]
    return value


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{api.TAG_KEY: k, api.TAG_VALUE: v} for k, v in tags.items()]


def _raise_for(scope: Construct, violations: Sequence[api.Violation]) -> None:
    if violations:
        raise OtaUpdateValidationError(
            "\n".join(f"{scope.node.path}: {violation}" for violation in violations)
        )
