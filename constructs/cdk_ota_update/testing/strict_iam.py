"""Strict IAM: the OTA update service judges its role as the service does (opt-in).

With :func:`set_strict_iam` on (the rehearsal turns it on; moto's reset and
:func:`~.controls.reset_controls` turn it off), a CreateOTAUpdate whose role, as stored in moto's
IAM, does not allow what the service does with it ends in ``CREATE_FAILED`` with the
``errorInfo`` the service gives (``AccessDeniedException``, "... is not authorized to perform:
s3:GetObject on resource: ..."). What the service does with the role, for a request
(:func:`needs`):

- assume it: its trust policy must allow ``sts:AssumeRole`` to ``iot.amazonaws.com`` (conditions
  on ``aws:SourceAccount`` / ``aws:SourceArn`` are checked against the OTA update);
- ``iam:GetRole`` and ``iam:PassRole`` (``iam:PassedToService`` = ``iot.amazonaws.com``) on the
  role itself, which the service passes on to the streams it creates;
- ``s3:GetObject`` on each firmware object (``s3:GetObjectVersion`` too when a version is named);
- ``iot:CreateJob`` on the job ``AFR_OTA-<otaUpdateId>`` and on each target; ``iot:CreateStream``
  on the stream it creates for MQTT delivery of S3 files; ``iot:DescribeStream`` on each stream a
  file names;
- for AWS Signer: ``signer:StartSigningJob`` and ``signer:GetSigningProfile`` on the profile
  (``signer:PutSigningProfile`` when a profile is described), ``signer:DescribeSigningJob`` on the
  signing job, ``s3:PutObject`` and ``s3:GetObject`` under the signing destination; the profile
  must exist in moto's Signer (``put_signing_profile``).

Policies are evaluated with moto's own ``IAMPolicy`` / ``IAMPolicyStatement`` (moto 5.2), with
what IAM documents and moto's statement does not do put right in :class:`Statement`: ``?``
wildcards and literal regex characters, case-insensitive actions, ``NotResource``, a failed
condition making a statement not apply (moto answers DENIED), a missing condition key, and the
condition operators below. The identity policies are the role's inline and attached managed
policies, bounded by its permissions boundary; an explicit Deny wins.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import translate
from typing import Any

from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
from moto.iam.models import IAMBackend, Role
from moto.signer.models import signer_backends

from cdk_ota_update import api

from . import controls
from .controls import LOCK, ErrorInfo

IOT_SERVICE = "iot.amazonaws.com"
ACCESS_DENIED = "AccessDeniedException"
SESSION_NAME = "OTAUpdateService"

Context = Mapping[str, str]


def set_strict_iam(enabled: bool) -> None:
    """Judge OTA update roles as the service does (see the module's description) if enabled."""
    with LOCK:
        controls.set_strict_iam(enabled)


class UnsupportedCondition(ValueError):
    """A condition operator strict IAM cannot evaluate (it refuses rather than guess)."""


# -- conditions -------------------------------------------------------------------------------
def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one; nothing else is special."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.match(translate(pattern.replace("[", "[[]")), value, flags) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own."""
    wanted, actual = pattern.split(":", 5), value.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(map(_like, wanted, actual))


Matcher = Callable[[str, str], bool]
_MATCHERS: dict[str, Matcher] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
    "StringLike": _like,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "Bool": lambda expected, actual: expected.lower() == actual.lower(),
}
_NEGATED = {
    f"{name[:-6]}NotEquals" if name.endswith("Equals") else f"{name[:-4]}NotLike": name
    for name in ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike")
}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    """One condition (operator, key, expected value or values) in the request ``context``."""
    keys = {k.lower(): v for k, v in context.items()}
    name = operator.split(":", 1)[-1]  # ForAnyValue: / ForAllValues: over single values
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    values = [_text(v) for v in (expected if isinstance(expected, list) else [expected])]
    actual = keys.get(key.lower())
    if name == "Null":
        return (actual is None) == (values[0].lower() == "true")
    negated = name in _NEGATED
    matcher = _MATCHERS.get(_NEGATED.get(name, name))
    if matcher is None:
        raise UnsupportedCondition(f"the condition operator {operator} is not supported")
    if actual is None:
        return if_exists or negated
    matched = any(matcher(value, actual) for value in values)
    return not matched if negated else matched


class Statement(IAMPolicyStatement):
    """moto's policy statement, evaluated as IAM documents it (see the module's description)."""

    def is_action_permitted(
        self,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> PermissionResult:
        if not self._check_conditions(incoming_condition_values):
            return PermissionResult.NEUTRAL  # moto: DENIED, even for an Allow
        if "NotResource" in self._statement:
            if not self._concerns(action) or self._check_element_matches("NotResource", resource):
                return PermissionResult.NEUTRAL
            return self._effect()
        if "Resource" not in self._statement:  # a trust policy: judged by :func:`_trusts`
            return self._effect() if self._concerns(action) else PermissionResult.NEUTRAL
        result: PermissionResult = super().is_action_permitted(
            action, resource, principal, incoming_condition_values
        )
        return result

    def _concerns(self, action: str) -> bool:
        if "NotAction" in self._statement:
            return not self._check_element_matches("NotAction", action)
        return self._check_element_matches("Action", action)

    def _effect(self) -> PermissionResult:
        allow = self._statement["Effect"] == "Allow"
        return PermissionResult.PERMITTED if allow else PermissionResult.DENIED

    def _check_element_matches(self, statement_element: Any, value: str) -> bool:
        patterns = self._statement[statement_element]
        ignore_case = statement_element in ("Action", "NotAction")
        return any(
            _like(p, value, ignore_case=ignore_case)
            for p in (patterns if isinstance(patterns, list) else [patterns])
        )

    def _check_conditions(self, incoming_condition_values: dict[str, str] | None) -> bool:
        conditions: Mapping[str, Mapping[str, Any]] = self._statement.get("Condition") or {}
        return all(
            condition_holds(operator, key, expected, incoming_condition_values or {})
            for operator, pairs in conditions.items()
            for key, expected in pairs.items()
        )


def statements(document: str | Mapping[str, Any]) -> list[Statement]:
    """The statements of a policy document (JSON text or parsed), as moto's IAMPolicy reads it."""
    text = document if isinstance(document, str) else json.dumps(document)
    found = IAMPolicy(text)._policy_json["Statement"]
    return [Statement(s) for s in (found if isinstance(found, list) else [found])]


def decide(
    documents: Iterable[str | Mapping[str, Any]],
    action: str,
    resource: str,
    context: Context | None = None,
) -> PermissionResult:
    """Identity policies' verdict: DENIED (an explicit Deny), PERMITTED (an Allow) or NEUTRAL."""
    permitted = False
    for document in documents:
        for statement in statements(document):
            result = statement.is_action_permitted(action, resource, None, dict(context or {}))
            if result is PermissionResult.DENIED:
                return result
            permitted = permitted or result is PermissionResult.PERMITTED
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def _admits(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    services = principal.get("Service", [])
    aws = principal.get("AWS", [])
    return service in (services if isinstance(services, list) else [services]) or aws == "*"


def trusts(document: str | Mapping[str, Any], service: str, context: Context) -> bool:
    """Whether a trust policy lets ``service`` assume the role (in the request ``context``)."""
    allowed = False
    for statement in statements(document):
        if not _admits(statement._statement.get("Principal"), service):
            continue
        result = statement.is_action_permitted("sts:AssumeRole", "*", None, dict(context))
        if result is PermissionResult.DENIED:
            return False
        allowed = allowed or result is PermissionResult.PERMITTED
    return allowed


# -- what the service does with the role --------------------------------------------------------
@dataclass(frozen=True)
class Need:
    """An action the service takes with the role on a resource, in a request context."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Place:
    partition: str
    region: str
    account: str

    def iot(self, resource: str) -> str:
        return api.iot_arn(self.partition, self.region, self.account, resource)

    def signer(self, resource: str) -> str:
        return f"arn:{self.partition}:signer:{self.region}:{self.account}:/{resource}"

    def s3(self, bucket: str, key: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}/{key}"


def needs(request: Mapping[str, Any], place: Place) -> Iterator[Need]:
    """What the service does with the role of a CreateOTAUpdate ``request``, in order."""
    role = request[api.ROLE_ARN]
    yield Need("iam:GetRole", role)
    yield Need("iam:PassRole", role, {"iam:PassedToService": IOT_SERVICE})
    files: list[Mapping[str, Any]] = request["files"]
    s3_files = [f["fileLocation"]["s3Location"] for f in files if "s3Location" in f["fileLocation"]]
    for location in s3_files:
        yield Need("s3:GetObject", place.s3(location["bucket"], location["key"]))
        if location.get("version"):
            yield Need("s3:GetObjectVersion", place.s3(location["bucket"], location["key"]))
    yield Need("iot:CreateJob", place.iot(api.job_resource(request[api.OTA_UPDATE_ID])))
    for target in request["targets"]:
        yield Need("iot:CreateJob", target)
    if s3_files and "MQTT" in (request.get("protocols") or ["MQTT"]):
        yield Need("iot:CreateStream", place.iot(f"stream/{api.STREAM_ID_PREFIX}{uuid.uuid4()}"))
    for file in files:
        stream = file["fileLocation"].get("stream")
        if stream:
            yield Need("iot:DescribeStream", place.iot(f"stream/{stream['streamId']}"))
        yield from _signing_needs(file.get("codeSigning") or {}, place)


def _signing_needs(signing: Mapping[str, Any], place: Place) -> Iterator[Need]:
    if signing.get("awsSignerJobId"):
        job = place.signer(f"signing-jobs/{signing['awsSignerJobId']}")
        yield Need("signer:DescribeSigningJob", job)
    start = signing.get("startSigningJobParameter")
    if not start:
        return
    profile = place.signer(f"signing-profiles/{start.get('signingProfileName')}")
    yield Need("signer:GetSigningProfile", profile)
    if start.get("signingProfileParameter"):
        yield Need("signer:PutSigningProfile", profile)
    yield Need("signer:StartSigningJob", profile)
    yield Need("signer:DescribeSigningJob", place.signer(f"signing-jobs/{uuid.uuid4()}"))
    destination = (start.get("destination") or {}).get("s3Destination")
    if destination:
        signed = place.s3(destination["bucket"], f"{destination.get('prefix') or ''}{uuid.uuid4()}")
        yield Need("s3:PutObject", signed)
        yield Need("s3:GetObject", signed)


# -- the judgement ------------------------------------------------------------------------------
def _identity_policies(role: Role) -> list[str]:
    inline = list(role.policies.values())
    managed = [_default_version(p) for p in role.managed_policies.values()]
    return [*inline, *managed]


def _default_version(policy: Any) -> str:
    document: str = next(v.document for v in policy.versions if v.is_default)
    return document


def judge(
    iam: IAMBackend, request: Mapping[str, Any], place: Place, ota_arn: str
) -> ErrorInfo | None:
    """The ``errorInfo`` the service would end the OTA update with, if its role falls short."""
    role: Role = iam.get_role_by_arn(request[api.ROLE_ARN])
    context = {"aws:SourceAccount": place.account, "aws:SourceArn": ota_arn}
    try:
        return _judge(iam, role, request, place, context)
    except UnsupportedCondition as unsupported:
        message = f"Strict IAM cannot judge the role {role.arn}: {unsupported}"
        return ErrorInfo(ACCESS_DENIED, message)


def _judge(
    iam: IAMBackend, role: Role, request: Mapping[str, Any], place: Place, context: Context
) -> ErrorInfo | None:
    if not trusts(role.assume_role_policy_document, IOT_SERVICE, context):
        return ErrorInfo(
            ACCESS_DENIED,
            f"Unable to assume the role {role.arn}: its trust policy does not allow "
            f"{IOT_SERVICE} to perform sts:AssumeRole",
        )
    policies = _identity_policies(role)
    bound = role.permissions_boundary_arn
    boundary = [_default_version(iam.get_policy(bound))] if bound else None
    session = f"arn:{place.partition}:sts::{place.account}:assumed-role/{role.name}/{SESSION_NAME}"
    for need in needs(request, place):
        ask = {"aws:PrincipalArn": role.arn, "aws:PrincipalAccount": place.account, **need.context}
        verdict = decide(policies, need.action, need.resource, ask)
        if verdict is PermissionResult.PERMITTED and boundary is not None:
            bounded = decide(boundary, need.action, need.resource, ask)
            if bounded is not PermissionResult.PERMITTED:
                return _denied(session, need, "no permissions boundary allows", bounded)
        if verdict is not PermissionResult.PERMITTED:
            return _denied(session, need, "no identity-based policy allows", verdict)
    return _signing_profiles(request, place)


def _denied(session: str, need: Need, missing: str, verdict: PermissionResult) -> ErrorInfo:
    why = (
        "with an explicit deny in an identity-based policy"
        if verdict is PermissionResult.DENIED
        else f"because {missing} the {need.action} action"
    )
    return ErrorInfo(
        ACCESS_DENIED,
        f"User: {session} is not authorized to perform: {need.action} on resource: "
        f"{need.resource} {why}",
    )


def _signing_profiles(request: Mapping[str, Any], place: Place) -> ErrorInfo | None:
    """A signing job's profile must exist (unless the request describes it) and sign firmware."""
    signer = signer_backends[place.account][place.region]
    for file in request["files"]:
        start = (file.get("codeSigning") or {}).get("startSigningJobParameter") or {}
        name = start.get("signingProfileName")
        if not name or start.get("signingProfileParameter"):
            continue
        profile = signer.signing_profiles.get(name)
        if profile is None:
            return ErrorInfo(
                "ResourceNotFoundException",
                f"Signing profile {name} does not exist in {place.region} of {place.account}",
            )
        if not api.signs_firmware(profile.platform_id):
            return ErrorInfo(
                "InvalidRequestException",
                f"Signing profile {name} is of platform {profile.platform_id}: {api.NOT_FIRMWARE}",
            )
    return None
