"""The CreateOTAUpdate API: its wire names and the one table of its constraints.

Read by the construct (errors at synth), the Lambda handler (errors before any call) and the moto
emulation (the service's InvalidRequestException). Imports only the standard library and
botocore, so it travels into the Lambda asset beside the handler.

Constraints come from botocore's service model (lengths, ranges, patterns, enums, required
members) plus the documented rules the model does not state, kept in ``RULES`` below.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.model import (
    ListShape,
    MapShape,
    ServiceModel,
    Shape,
    ShapeResolver,
    StructureShape,
)

# ---------------------------------------------------------------------------------------------
# Wire names: the custom resource contract (Custom::OtaUpdate) and the API members it carries.
# ---------------------------------------------------------------------------------------------
RESOURCE_TYPE = "Custom::OtaUpdate"
SERVICE_TOKEN = "ServiceToken"
SERVICE_TIMEOUT = "ServiceTimeout"  # CloudFormation's own property of custom resources
OTA_UPDATE_ID = "otaUpdateId"
ROLE_ARN = "roleArn"
TARGETS = "targets"
TARGET_SELECTION = "targetSelection"
CONTINUOUS = "CONTINUOUS"
FILES = "files"
FILE_NAME = "fileName"
TAGS = "tags"
TAG_KEY = "Key"
TAG_VALUE = "Value"
# DeleteOTAUpdate's flags, carried beside the request for teardown.
DELETE_STREAM = "deleteStream"
FORCE_DELETE_AWS_JOB = "forceDeleteAWSJob"
TEARDOWN_FLAGS = (DELETE_STREAM, FORCE_DELETE_AWS_JOB)
# The rollout gate (optional), beside the request too: the deploy waits for the job's executions.
ROLLOUT_GATE = "rolloutGate"
GATE_MIN_SUCCEEDED_PERCENTAGE = "minSucceededPercentage"
GATE_MAX_FAILED_PERCENTAGE = "maxFailedPercentage"
GATE_MIN_EXECUTIONS = "minExecutions"
GATE_TIMEOUT_SECONDS = "timeoutSeconds"
GATE_CRITERIA = (GATE_MIN_SUCCEEDED_PERCENTAGE, GATE_MAX_FAILED_PERCENTAGE, GATE_MIN_EXECUTIONS)
# What the resource carries beside the CreateOTAUpdate request (never part of the request).
BESIDE_REQUEST = (*TEARDOWN_FLAGS, ROLLOUT_GATE)
# AWS::Signer::SigningProfile accepts only these platforms (its PlatformId), which sign Lambda
# code and container images; the FreeRTOS and IoT platforms that sign firmware need a signing
# certificate that CloudFormation cannot give a profile (docs/deploy.md, "The signing profile").
CLOUDFORMATION_SIGNER_PLATFORMS = ("AWSLambda-SHA384-ECDSA", "Notation-OCI-SHA384-ECDSA")
NOT_FIRMWARE = "that platform signs Lambda code or container images, not firmware"


def signs_firmware(platform: str) -> bool:
    """Whether a Signer profile of ``platform`` can sign an OTA update's firmware."""
    return platform not in CLOUDFORMATION_SIGNER_PLATFORMS


# Data (Fn::GetAtt) of the custom resource.
ATTR_OTA_UPDATE_ID = "otaUpdateId"
ATTR_OTA_UPDATE_ARN = "otaUpdateArn"
ATTR_AWS_IOT_JOB_ID = "awsIotJobId"
ATTR_AWS_IOT_JOB_ARN = "awsIotJobArn"
ATTR_OTA_UPDATE_STATUS = "otaUpdateStatus"

# The service names the job of an OTA update ``AFR_OTA-<otaUpdateId>`` (and the stream it creates
# ``AFR_OTA-<uuid>``); IoT job ids are at most 64 characters (CreateJob's JobId shape).
JOB_ID_PREFIX = "AFR_OTA-"
STREAM_ID_PREFIX = "AFR_OTA-"
JOB_ID_MAX_LENGTH = 64
OTA_UPDATE_ID_MAX_LENGTH = JOB_ID_MAX_LENGTH - len(JOB_ID_PREFIX)

# ---------------------------------------------------------------------------------------------
# The time budget (seconds): every bound on time of the provider and its handler, in one place.
# The construct derives the function's event age and the resource's ServiceTimeout from it, the
# handler its deadlines; every message that names a figure reads it from here.
# ---------------------------------------------------------------------------------------------
# One call of the handler to IoT or CloudFormation: one attempt (the handler retries with its own
# backoff) of connect + read.
CALL_CONNECT_TIMEOUT = 5.0
CALL_READ_TIMEOUT = 20.0
CALL_SECONDS = CALL_CONNECT_TIMEOUT + CALL_READ_TIMEOUT
# The hand-over to the next invocation (an asynchronous Invoke of the function itself):
# INVOKE_ATTEMPTS attempts of connect + read, and a second of backoff between them.
INVOKE_CONNECT_TIMEOUT = 3.0
INVOKE_READ_TIMEOUT = 5.0
INVOKE_ATTEMPTS = 2
HANDOVER_SECONDS = INVOKE_ATTEMPTS * (INVOKE_CONNECT_TIMEOUT + INVOKE_READ_TIMEOUT) + 1
# The answer's PUT to the ResponseURL: each attempt at most PUT_TIMEOUT, three attempts' worth.
PUT_TIMEOUT = 5.0
ANSWER_SECONDS = 3 * PUT_TIMEOUT
# What an invocation keeps after it stops waiting: the IoT call that may have started just
# before, the hand-over and the answer.
HANDOVER_MARGIN_SECONDS = CALL_SECONDS + HANDOVER_SECONDS + ANSWER_SECONDS
# Waiting for a status, over all invocations of a request, counted from when CloudFormation sent
# it (the ResponseURL's signing time) where that is known, else from the first invocation.
MAX_WAIT_SECONDS = 900.0
# How long a throttled or failing service call is retried before the resource fails.
RETRY_SECONDS = 40.0
# Lambda keeps an asynchronous event (CloudFormation's, a hand-over) at most this long when it
# cannot run it at once (throttling); older ones are dropped, and none is retried after a failure.
EVENT_AGE_SECONDS = 300
# The function's timeout: Lambda's 15 minutes at most, FUNCTION_WAIT_SECONDS at least to wait in
# each invocation beside its HANDOVER_MARGIN_SECONDS.
FUNCTION_TIMEOUT_SECONDS = 5 * 60
MAX_FUNCTION_TIMEOUT_SECONDS = 15 * 60
FUNCTION_WAIT_SECONDS = 120
MIN_FUNCTION_TIMEOUT_SECONDS = 60 * math.ceil(
    (HANDOVER_MARGIN_SECONDS + FUNCTION_WAIT_SECONDS) / 60
)
# Clocks of CloudFormation, Lambda and S3 may disagree by this much.
CLOCK_SKEW_SECONDS = 30
# CloudFormation marks a resource in progress just before it signs the request's ResponseURL,
# whose X-Amz-Date is to the second: a status set more than this after it is a later request's.
SIGNING_PRECISION_SECONDS = 2
# CloudFormation's ServiceTimeout is at most SERVICE_TIMEOUT_MAX (SERVICE_TIMEOUT_DEFAULT when a
# template gives none).
SERVICE_TIMEOUT_DEFAULT = 3600
SERVICE_TIMEOUT_MAX = 3600
# A rollout gate waits this long after CREATE_COMPLETE when its timeout is not given: it fits the
# ServiceTimeout with every function timeout the provider allows (TimeBudget.max_gate_seconds).
GATE_TIMEOUT_DEFAULT_SECONDS = 20 * 60


# CloudFormation's ResponseURL is a presigned S3 URL: SigV4's signing time and lifetime, or (older
# URLs) SigV2's expiry, which CloudFormation sets RESPONSE_URL_SECONDS after it signs.
RESPONSE_URL_SIGNED_AT = "X-Amz-Date"
RESPONSE_URL_LIFETIME = "X-Amz-Expires"
RESPONSE_URL_EXPIRES = "Expires"
RESPONSE_URL_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
RESPONSE_URL_SECONDS = 7200


def response_url_date(at: float) -> str:
    """``at`` (epoch seconds) as a presigned URL's X-Amz-Date."""
    return datetime.fromtimestamp(at, timezone.utc).strftime(RESPONSE_URL_DATE_FORMAT)


def response_url_signed_at(url: str) -> float | None:
    """When CloudFormation signed the ResponseURL ``url``, hence sent its request (epoch seconds;
    None when the URL does not say)."""
    query = parse_qs(urlsplit(url).query)
    try:
        if RESPONSE_URL_SIGNED_AT in query:
            signed = datetime.strptime(query[RESPONSE_URL_SIGNED_AT][0], RESPONSE_URL_DATE_FORMAT)
            return signed.replace(tzinfo=timezone.utc).timestamp()
        if RESPONSE_URL_EXPIRES in query:
            return float(int(query[RESPONSE_URL_EXPIRES][0]) - RESPONSE_URL_SECONDS)
    except ValueError:
        return None
    return None


@dataclass(frozen=True)
class TimeBudget:
    """The provider's time bounds, derived from its function's timeout (plain seconds)."""

    function_seconds: int = FUNCTION_TIMEOUT_SECONDS
    max_wait_seconds: float = MAX_WAIT_SECONDS
    # A rollout gate's timeout: its wait, after the creation's.
    gate_seconds: float = 0

    @property
    def event_age_seconds(self) -> int:
        """Lambda's maximum event age for the function's asynchronous invocations."""
        return EVENT_AGE_SECONDS

    @property
    def service_timeout_seconds(self) -> int:
        """The resources' ServiceTimeout: CloudFormation waits for the worst case of an answer,
        an event kept by Lambda for its maximum age, the longest wait, the invocation that gives
        up and its answer, with room for the clocks' skew; with a rollout gate, its wait too."""
        return math.ceil(
            self.event_age_seconds
            + self.max_wait_seconds
            + self.gate_seconds
            + self.function_seconds
            + ANSWER_SECONDS
            + CLOCK_SKEW_SECONDS
        )

    @property
    def max_gate_seconds(self) -> int:
        """The longest rollout gate timeout whose ServiceTimeout is within CloudFormation's
        SERVICE_TIMEOUT_MAX for custom resources."""
        return SERVICE_TIMEOUT_MAX - replace(self, gate_seconds=0).service_timeout_seconds


# ---------------------------------------------------------------------------------------------
# The provider function's settings: the construct writes them into the function's environment,
# the handler reads them from it once per invocation.
# ---------------------------------------------------------------------------------------------
STACK_ID_ENV = "OTA_STACK_ID"
MAX_WAIT_ENV = "OTA_MAX_WAIT_SECONDS"
RETRY_ENV = "OTA_RETRY_SECONDS"
HANDOVER_MARGIN_ENV = "OTA_HANDOVER_MARGIN_SECONDS"
MAX_HANDOVERS_ENV = "OTA_MAX_HANDOVERS"


class SettingsError(ValueError):
    """A setting in the provider function's environment is invalid."""


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError
    return value


def _text(text: str) -> str:
    if not text:
        raise ValueError
    return text


def _setting(env: str, default: Any, parse: Callable[[str], Any], expected: str) -> Any:
    return field(default=default, metadata={"env": env, "parse": parse, "expected": expected})


@dataclass(frozen=True)
class Settings:
    """The provider function's settings, by environment variable (defaults in one place)."""

    # The stack the provider acts for (AWS::StackId): events of any other stack are refused.
    stack_id: str | None = _setting(STACK_ID_ENV, None, _text, "the stack's id")
    # How long waiting for a status may take, over all invocations of a request.
    max_wait_seconds: float = _setting(
        MAX_WAIT_ENV, MAX_WAIT_SECONDS, _seconds, "seconds, 0 or more"
    )
    # How long a throttled or failing service call is retried before the resource fails.
    retry_seconds: float = _setting(RETRY_ENV, RETRY_SECONDS, _seconds, "seconds, 0 or more")
    # What an invocation keeps after it stops waiting (None: the handler's own estimate).
    handover_margin_seconds: float | None = _setting(
        HANDOVER_MARGIN_ENV, None, _seconds, "seconds, 0 or more"
    )
    # How many times the invocations of one request may hand a wait (the creation's, then a
    # rollout gate's) over to the next one.
    max_handovers: int = _setting(MAX_HANDOVERS_ENV, 20, _count, "a whole number, 0 or more")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """The settings in ``environ`` (defaults for those absent); :class:`SettingsError` names
        the first bad one."""
        values = {}
        for setting in fields(cls):
            env, text = setting.metadata["env"], environ.get(setting.metadata["env"])
            if text is None:
                continue
            try:
                values[setting.name] = setting.metadata["parse"](text)
            except ValueError:
                raise SettingsError(
                    f"{env}={text!r} is invalid: {setting.metadata['expected']} expected (the "
                    "provider's CDK construct sets it; fix or remove it in the function's "
                    "environment)"
                ) from None
        return cls(**values)

    def to_environment(self) -> dict[str, str]:
        """The function's environment variables for these settings (None ones left out)."""
        return {
            s.metadata["env"]: _env_text(getattr(self, s.name))
            for s in fields(self)
            if getattr(self, s.name) is not None
        }


def _env_text(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Tags this project's handler adds to every OTA update it creates, so that ownership can be
# checked from the service itself (never from memory in the Lambda).
OWNER_STACK_TAG = "cdk-ota-update:stack-id"
OWNER_LOGICAL_ID_TAG = "cdk-ota-update:logical-id"
REQUEST_HASH_TAG = "cdk-ota-update:request-sha256"
OWNER_TAGS = (OWNER_STACK_TAG, OWNER_LOGICAL_ID_TAG, REQUEST_HASH_TAG)
OWNER_TAG_PREFIX = "cdk-ota-update:"
# IoT resources have at most this many tags (the ownership tags included); the model states none.
MAX_TAGS_PER_RESOURCE = 50
USER_TAG_BUDGET = MAX_TAGS_PER_RESOURCE - len(OWNER_TAGS)


def job_id(ota_update_id: str) -> str:
    """The id of the IoT job the service creates for an OTA update."""
    return JOB_ID_PREFIX + ota_update_id


# IoT's ARNs: ``arn:<partition>:iot:<region>:<account>:<resource>``.
IOT_ARN_PATTERN = r"arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:"
OTA_UPDATE_RESOURCE = "otaupdate"
JOB_RESOURCE = "job"


def iot_arn(partition: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:iot:{region}:{account}:{resource}"


def ota_update_resource(ota_update_id: str) -> str:
    return f"{OTA_UPDATE_RESOURCE}/{ota_update_id}"


def job_resource(ota_update_id: str) -> str:
    """The resource part of the ARN of an OTA update's job."""
    return f"{JOB_RESOURCE}/{job_id(ota_update_id)}"


# ---------------------------------------------------------------------------------------------
# botocore's service model
# ---------------------------------------------------------------------------------------------
@cache
def _service_model() -> ServiceModel:
    return ServiceModel(_model_data(), service_name="iot")


@cache
def _model_data() -> dict[str, Any]:
    """IoT's model, read by botocore's loader from the same places as a session's
    (``AWS_DATA_PATH`` first) without importing the session and client machinery (~30 ms)."""
    from botocore.loaders import create_loader

    loader = create_loader(os.environ.get("AWS_DATA_PATH"))
    data: dict[str, Any] = loader.load_service_model("iot", "service-2")
    return data


# The operations of the contract (the construct's and the handler's). Their shapes are a small
# part of IoT's model (~1 MB of JSON, ~25 ms to read): at synth the part is kept in the library's
# private cache directory (``_disk_cache``, which the Lambda asset leaves out), read by the next
# process instead of the whole model.
CONTRACT_OPERATIONS = ("CreateOTAUpdate", "DeleteOTAUpdate", "GetOTAUpdate")


@cache
def _contract_model() -> ServiceModel:
    try:
        from ._disk_cache import contract_model_data as kept_contract_model_data
    except ImportError:  # the Lambda asset's copy of the contract: no cache there
        return ServiceModel(contract_model_data(_model_data()), service_name="iot")
    return ServiceModel(kept_contract_model_data(), service_name="iot")


def contract_model_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a service model ``data`` that the contract's operations use: the operations,
    and every shape reachable from their input, output and errors."""
    operations = {name: data["operations"][name] for name in CONTRACT_OPERATIONS}
    pending = [
        ref["shape"]
        for operation in operations.values()
        for ref in (operation.get("input"), operation.get("output"), *operation.get("errors", ()))
        if ref
    ]
    kept: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        shape = kept[name] = data["shapes"][name]
        refs = (shape.get("member"), shape.get("key"), shape.get("value"))
        pending += [r["shape"] for r in (*refs, *shape.get("members", {}).values()) if r]
    return {**data, "operations": operations, "shapes": dict(sorted(kept.items()))}


def operation_input(operation: str) -> StructureShape:
    """The input shape of an IoT operation (``CreateOTAUpdate``, ``DeleteOTAUpdate``, ...)."""
    model = _contract_model() if operation in CONTRACT_OPERATIONS else _service_model()
    shape: StructureShape = model.operation_model(operation).input_shape
    return shape


def create_request_shape() -> StructureShape:
    return operation_input("CreateOTAUpdate")


def shape(name: str) -> Shape:
    """A named shape of the IoT model (``AwsJobAbortCriteria``, ``OTAUpdateFile``, ...)."""
    found: Shape = _service_model().shape_for(name)
    return found


# ---------------------------------------------------------------------------------------------
# The rules botocore's model does not state (from the API reference and developer guide).
# Keys are member paths: ``a.b`` for structure members, ``[]`` for list items.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    max_items: int | None = None
    decimals: int | None = None
    unique: bool = False
    unique_key: str | None = None
    exactly_one_of: tuple[str, ...] = ()
    at_least_one_of: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    forbidden_prefixes: tuple[tuple[str, str], ...] = ()  # (prefix, why it is reserved)
    pattern: str | None = None
    why: str | None = None


RULES: Mapping[str, Rule] = {
    "otaUpdateId": Rule(
        max_length=OTA_UPDATE_ID_MAX_LENGTH,
        why=f"the service creates the job {JOB_ID_PREFIX}<otaUpdateId> and job ids are at most "
        f"{JOB_ID_MAX_LENGTH} characters",
    ),
    "targets[]": Rule(
        pattern=IOT_ARN_PATTERN + r"(thing|thinggroup)/[a-zA-Z0-9:_-]{1,128}",
        why="targets are ARNs of things or thing groups, whose names are 1-128 of [a-zA-Z0-9:_-]",
    ),
    "protocols": Rule(unique=True),
    "awsJobExecutionsRolloutConfig.exponentialRate.incrementFactor": Rule(
        minimum=1.1, maximum=5, decimals=1
    ),
    "awsJobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria": Rule(
        exactly_one_of=("numberOfNotifiedThings", "numberOfSucceededThings"),
        why="the rollout rate increases on one criterion: notified or succeeded things",
    ),
    "awsJobPresignedUrlConfig.expiresInSec": Rule(minimum=60, maximum=3600),
    "awsJobAbortConfig.abortCriteriaList[].thresholdPercentage": Rule(decimals=2),
    "awsJobTimeoutConfig.inProgressTimeoutInMinutes": Rule(minimum=1, maximum=10080),
    "files[]": Rule(required=("fileLocation",)),
    "files[].fileLocation": Rule(exactly_one_of=("stream", "s3Location")),
    "files[].fileLocation.s3Location": Rule(
        required=("bucket", "key"), why="the service reads the file from that bucket and key"
    ),
    "files[].fileLocation.stream": Rule(
        required=("streamId", "fileId"), why="the service sends that file of that stream"
    ),
    "files[].codeSigning.startSigningJobParameter": Rule(
        required=("signingProfileName", "destination"),
        why="AWS Signer signs with a named profile and writes the signed file to a destination",
    ),
    "files[].codeSigning.startSigningJobParameter.destination": Rule(
        required=("s3Destination",), why="signed files are written to S3"
    ),
    "files[].codeSigning.startSigningJobParameter.destination.s3Destination": Rule(
        required=("bucket",), why="signed files are written to that bucket"
    ),
    "files[].codeSigning": Rule(
        exactly_one_of=("awsSignerJobId", "startSigningJobParameter", "customCodeSigning")
    ),
    "tags": Rule(unique_key=TAG_KEY),  # at most MAX_TAGS_PER_RESOURCE, with the existing ones
    "tags[].Key": Rule(forbidden_prefixes=(("aws:", "the aws: prefix is reserved for AWS"),)),
}

# What an OtaUpdate of this library accepts: the service's rules, less what the handler's own
# ownership tags take (checked by the construct at synth and by the handler before any call).
RESOURCE_RULES: Mapping[str, Rule] = {
    **RULES,
    "tags": Rule(
        unique_key=TAG_KEY,
        max_items=USER_TAG_BUDGET,
        why=f"IoT allows {MAX_TAGS_PER_RESOURCE} tags per resource and the handler adds its own "
        f"{len(OWNER_TAGS)} ownership tags",
    ),
    "tags[].Key": Rule(
        forbidden_prefixes=(
            *RULES["tags[].Key"].forbidden_prefixes,
            (
                OWNER_TAG_PREFIX,
                f"the {OWNER_TAG_PREFIX} prefix is reserved for the library's ownership tags",
            ),
        )
    ),
}


# ---------------------------------------------------------------------------------------------
# The rollout gate: not a member of CreateOTAUpdate, so its shape is stated here in botocore's
# terms; the same validation and the same restoration of CloudFormation's strings serve it.
# ---------------------------------------------------------------------------------------------
_GATE_SHAPES: Mapping[str, Any] = {
    "RolloutGateProperties": {
        "type": "structure",
        "members": {ROLLOUT_GATE: {"shape": "RolloutGate"}},
    },
    "RolloutGate": {
        "type": "structure",
        "required": [GATE_TIMEOUT_SECONDS],
        "members": {
            GATE_MIN_SUCCEEDED_PERCENTAGE: {"shape": "GatePercentage"},
            GATE_MAX_FAILED_PERCENTAGE: {"shape": "GatePercentage"},
            GATE_MIN_EXECUTIONS: {"shape": "GateCount"},
            GATE_TIMEOUT_SECONDS: {"shape": "GateSeconds"},
        },
    },
    "GatePercentage": {"type": "double", "min": 0, "max": 100},
    "GateCount": {"type": "integer", "min": 0},
    "GateSeconds": {"type": "integer", "min": 1},
}


@cache
def rollout_gate_shape() -> StructureShape:
    """The shape of the resource's rollout gate, as the one member of a structure (so that each
    violation is named ``rolloutGate.<member>``)."""
    found = ShapeResolver(dict(_GATE_SHAPES)).get_shape_by_name("RolloutGateProperties")
    assert isinstance(found, StructureShape)
    return found


GATE_RULES: Mapping[str, Rule] = {
    ROLLOUT_GATE: Rule(
        at_least_one_of=GATE_CRITERIA,
        why="a gate passes or fails on the job's executions",
    ),
}


def gate_rules(budget: TimeBudget) -> Mapping[str, Rule]:
    """GATE_RULES, with the longest timeout that fits the ServiceTimeout of ``budget``."""
    return {
        **GATE_RULES,
        f"{ROLLOUT_GATE}.{GATE_TIMEOUT_SECONDS}": Rule(
            maximum=budget.max_gate_seconds,
            why=f"CloudFormation waits at most {SERVICE_TIMEOUT_MAX} s for a custom resource and "
            f"the creation's wait takes {budget.service_timeout_seconds - budget.gate_seconds:.0f}"
            " s of it: shorten the gate's timeout, or the provider's function timeout "
            "(OtaUpdateProvider.configure(timeout=...))",
        ),
    }


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    """One broken constraint: the member (as the API spells it), the bad value and what fits."""

    path: str
    value: Any
    expected: str
    why: str | None = None

    def __str__(self) -> str:
        text = f"{self.path} = {show(self.value)} is invalid: it must be {self.expected}"
        return f"{text} ({self.why})" if self.why else text


def show(value: Any) -> str:
    """A value as an error message shows it: bytes by their count, a repr cut at 200 characters."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


Skip = Callable[[Any], bool]


def _never(_value: Any) -> bool:
    return False


def validate(
    request: Mapping[str, Any],
    *,
    skip: Skip = _never,
    shape: StructureShape | None = None,
    rules: Mapping[str, Rule] = RULES,
) -> list[Violation]:
    """Every violation of the CreateOTAUpdate constraints in ``request`` (API-typed values).

    ``skip(value)`` tells values that cannot be checked yet (unresolved CDK tokens). ``rules``
    are keyed by member paths of ``shape``: pass another operation's own (or none) with its shape.
    """
    request_shape = create_request_shape() if shape is None else shape
    return list(_walk(request, request_shape, "", "", skip, rules))


def validate_member(
    member: str, value: Any, *, skip: Skip = _never, rules: Mapping[str, Rule] = RULES
) -> list[Violation]:
    """Every violation of one top-level request member (``tags``, ``files``, ...)."""
    member_shape = create_request_shape().members[member]
    return list(_walk(value, member_shape, member, member, skip, rules))


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _walk(
    value: Any, shp: Shape, path: str, key: str, skip: Skip, rules: Mapping[str, Rule]
) -> Iterator[Violation]:
    """Check ``value`` at ``path`` (``key`` is the rules' key: the path without indices)."""
    if skip(value):
        return
    rule = rules.get(key, Rule())
    kind = shp.type_name
    if kind == "structure":
        yield from _walk_structure(value, shp, path, key, rule, skip, rules)
    elif kind == "list":
        yield from _walk_list(value, shp, path, key, rule, skip, rules)
    elif kind == "map":
        yield from _walk_map(value, shp, path, key, skip, rules)
    elif kind == "string":
        yield from _check_string(value, shp, path, rule)
    elif kind in ("integer", "long", "double"):  # IoT's model has no "float" shape
        yield from _check_number(value, shp, path, rule)
    elif kind == "blob":
        if not isinstance(value, (bytes, bytearray)):
            yield Violation(path, value, "binary data (bytes)")
    elif kind == "boolean" and not isinstance(value, bool):
        yield Violation(path, value, "a boolean (true or false)")


def _walk_structure(
    value: Any,
    shp: StructureShape,
    path: str,
    key: str,
    rule: Rule,
    skip: Skip,
    rules: Mapping[str, Rule],
) -> Iterator[Violation]:
    if not isinstance(value, Mapping):
        yield Violation(path, value, f"a structure ({shp.name}: {', '.join(shp.members)})")
        return
    members = shp.members
    for name in value:
        if name not in members:
            yield Violation(
                _join(path, name),
                value[name],
                f"absent: {shp.name} has no member {name!r} (its members are {', '.join(members)})",
            )
    for name in (*shp.required_members, *rule.required):
        if value.get(name) is None:
            why = rule.why if name in rule.required else None
            yield Violation(_join(path, name), None, "given (it is required)", why)
    if rule.exactly_one_of:
        given = [m for m in rule.exactly_one_of if value.get(m) is not None]
        if len(given) != 1:
            yield Violation(
                path,
                {m: value[m] for m in given} if given else value,
                f"exactly one of {', '.join(rule.exactly_one_of)} (given: "
                f"{', '.join(given) or 'none'})",
                rule.why,
            )
    if rule.at_least_one_of and all(value.get(m) is None for m in rule.at_least_one_of):
        yield Violation(
            path,
            value,
            f"a structure with at least one of {', '.join(rule.at_least_one_of)}",
            rule.why,
        )
    for name, member in members.items():
        if value.get(name) is not None:
            yield from _walk(value[name], member, _join(path, name), _join(key, name), skip, rules)


def _walk_list(
    value: Any,
    shp: ListShape,
    path: str,
    key: str,
    rule: Rule,
    skip: Skip,
    rules: Mapping[str, Rule],
) -> Iterator[Violation]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        yield Violation(path, value, "a list")
        return
    yield from _check_size(value, shp, path, "item")
    if rule.max_items is not None and len(value) > rule.max_items:
        yield Violation(
            path, value, f"at most {rule.max_items} items (given: {len(value)})", rule.why
        )
    # Repeats are counted among plain values; items of a wrong type are reported by their walk.
    if rule.unique:
        plain = [v for v in value if _plain(v, skip)]
        if len(set(plain)) != len(plain):
            yield Violation(path, value, "a list without repeated values")
    if rule.unique_key:
        keys = [v.get(rule.unique_key) for v in value if isinstance(v, Mapping)]
        plain_keys = [k for k in keys if _plain(k, skip)]
        if len(set(plain_keys)) != len(plain_keys):
            yield Violation(path, plain_keys, f"a list without repeated {rule.unique_key}s")
    for index, item in enumerate(value):
        yield from _walk(item, shp.member, f"{path}[{index}]", f"{key}[]", skip, rules)


def _plain(value: Any, skip: Skip) -> bool:
    return isinstance(value, (str, int, float)) and not skip(value)


def _walk_map(
    value: Any, shp: MapShape, path: str, key: str, skip: Skip, rules: Mapping[str, Rule]
) -> Iterator[Violation]:
    if not isinstance(value, Mapping):
        yield Violation(path, value, "a map of strings to strings")
        return
    for name, item in value.items():
        yield from _walk(name, shp.key, f"{path} key", f"{key}{{}}", skip, rules)
        yield from _walk(item, shp.value, f"{path}[{name!r}]", f"{key}{{}}", skip, rules)


def _check_size(value: Any, shp: Shape, path: str, unit: str) -> Iterator[Violation]:
    low, high = shp.metadata.get("min"), shp.metadata.get("max")
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        yield Violation(path, value, _range_text(low, high, unit))


def _range_text(low: float | None, high: float | None, unit: str = "") -> str:
    """``from 1 to 2 items``, ``at least 1 character``, ``at most 3600`` (``unit``: singular)."""
    last = low if high is None else high
    suffix = f" {unit}{'' if last == 1 else 's'}" if unit else ""
    if low is not None and high is not None:
        return f"from {low} to {high}{suffix}"
    if low is not None:
        return f"at least {low}{suffix}"
    return f"at most {high}{suffix}"


def _check_string(value: Any, shp: Shape, path: str, rule: Rule) -> Iterator[Violation]:
    if not isinstance(value, str):
        yield Violation(path, value, "a string")
        return
    low = shp.metadata.get("min")
    high = min(
        (h for h in (shp.metadata.get("max"), rule.max_length) if h is not None), default=None
    )
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        why = rule.why if rule.max_length is not None and len(value) > rule.max_length else None
        yield Violation(path, value, f"{_range_text(low, high, 'character')} long", why)
    enum = shp.metadata.get("enum")
    if enum and value not in enum:
        yield Violation(path, value, f"one of {', '.join(enum)}")
    for pattern, why in ((shp.metadata.get("pattern"), None), (rule.pattern, rule.why)):
        if pattern and not _matches(pattern, value):
            yield Violation(path, value, f"a string matching the pattern {pattern}", why)
    for prefix, why in rule.forbidden_prefixes:
        if value.lower().startswith(prefix):
            yield Violation(path, value, f"a string not starting with {prefix}", why)


_CATEGORY = re.compile(r"\\p\{(\w+)\}")


def _matches(pattern: str, value: str) -> bool:
    r"""Full match of a Java-style pattern from the model (``\p{C}`` Unicode categories included).

    Python's ``re`` has no ``\p{..}``: each one becomes the value's own characters of that
    category (the only characters the match can meet) plus one the value does not contain (so
    that a character class is never empty).
    """
    used = set(value)
    absent = next((c for c in map(chr, range(sys.maxunicode, -1, -1)) if c not in used), "")

    def expand(match: re.Match[str]) -> str:
        category = match.group(1)
        chars = {c for c in used if unicodedata.category(c).startswith(category)}
        return "".join(re.escape(c) for c in sorted(chars | {absent}))

    return re.fullmatch(_CATEGORY.sub(expand, pattern), value, re.DOTALL) is not None


def _check_number(value: Any, shp: Shape, path: str, rule: Rule) -> Iterator[Violation]:
    integral = shp.type_name in ("integer", "long")
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (integral and not isinstance(value, int))
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        yield Violation(path, value, "an integer" if integral else "a finite number")
        return
    low = rule.minimum if rule.minimum is not None else shp.metadata.get("min")
    high = rule.maximum if rule.maximum is not None else shp.metadata.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        noun = "an integer" if integral else "a number"
        yield Violation(path, value, f"{noun} {_range_text(low, high)}", rule.why)
    if rule.decimals is not None and _decimals(value) > rule.decimals:
        yield Violation(
            path,
            value,
            f"a number with at most {rule.decimals} digit"
            f"{'s' if rule.decimals > 1 else ''} after the decimal point",
        )


def _decimals(value: float) -> int:
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # value is finite
    return max(0, -exponent)


# ---------------------------------------------------------------------------------------------
# CloudFormation delivers every scalar as a string: restore the API's types from the model.
# ---------------------------------------------------------------------------------------------
def from_cloudformation(value: Any, shp: Shape) -> Any:
    """``value`` with each scalar turned into the type ``shp`` declares, where it converts.

    Values that do not convert are left as they are, for :func:`validate` to report. The maps of
    CreateOTAUpdate map strings to strings: nothing in them to convert.
    """
    kind = shp.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = shp.members
        return {
            k: from_cloudformation(v, members[k]) if k in members else v for k, v in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [from_cloudformation(v, shp.member) for v in value]
    if not isinstance(value, str):
        return value
    with contextlib.suppress(ValueError, InvalidOperation):  # binascii.Error is a ValueError
        if kind in ("integer", "long"):
            return int(value)
        if kind == "double":
            return float(Decimal(value))
        if kind == "boolean" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "blob":
            return base64.b64decode(value, validate=True)
    return value


def to_cloudformation(value: Any) -> Any:
    """A request as resource properties, the inverse of :func:`from_cloudformation`: blobs (the
    signature) as base64 strings, everything else as it is."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {k: to_cloudformation(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_cloudformation(v) for v in value]
    return value
