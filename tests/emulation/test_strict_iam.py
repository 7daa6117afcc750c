"""Strict IAM (``testing.set_strict_iam``): the evaluator against IAM's documented semantics, and
CreateOTAUpdate judged by the role as stored in moto's IAM (in-process, ``mock_aws()``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from emulation_support import FAKE_CREDENTIALS, REGION, Aws, World, make_world
from moto import mock_aws
from moto.iam.access_control import PermissionResult

from cdk_ota_update import testing
from cdk_ota_update.testing.strict_iam import condition_holds, decide, trusts

ALLOW, DENY, NEUTRAL = PermissionResult.PERMITTED, PermissionResult.DENIED, PermissionResult.NEUTRAL
ACCOUNT = "123456789012"
OBJECT = "arn:aws:s3:::firmware/v1/fw.bin"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ota"
PASSED = {"iam:PassedToService": "iot.amazonaws.com"}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# (case, policies' statements, action, resource, request context, IAM's verdict)
EVALUATION: list[tuple[str, list[dict[str, Any]], str, str, dict[str, str], PermissionResult]] = [
    (
        "exact action and resource",
        [allow("s3:GetObject", OBJECT)],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
    (
        "no statement names it: implicit deny",
        [allow("s3:PutObject", OBJECT)],
        "s3:GetObject",
        OBJECT,
        {},
        NEUTRAL,
    ),
    ("action wildcard", [allow("s3:Get*", OBJECT)], "s3:GetObjectVersion", OBJECT, {}, ALLOW),
    (
        "actions are case-insensitive",
        [allow("S3:getobject", OBJECT)],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
    (
        "resources are case-sensitive",
        [allow("s3:GetObject", OBJECT.upper())],
        "s3:GetObject",
        OBJECT,
        {},
        NEUTRAL,
    ),
    (
        "resource wildcard under a folder",
        [allow("s3:GetObject", "arn:aws:s3:::firmware/v1/*")],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
    (
        "a folder wildcard does not reach another folder",
        [allow("s3:GetObject", "arn:aws:s3:::firmware/v2/*")],
        "s3:GetObject",
        OBJECT,
        {},
        NEUTRAL,
    ),
    (
        "? is one character",
        [allow("s3:GetObject", "arn:aws:s3:::firmware/v?/fw.bin")],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
    (
        "? is not two characters",
        [allow("s3:GetObject", "arn:aws:s3:::firmware/?/fw.bin")],
        "s3:GetObject",
        OBJECT,
        {},
        NEUTRAL,
    ),
    (
        "a dot is a dot, not any character",
        [allow("s3:GetObject", OBJECT)],
        "s3:GetObject",
        "arn:aws:s3:::firmware/v1/fwXbin",
        {},
        NEUTRAL,
    ),
    (
        "a list of resources",
        [allow(["s3:GetObject"], ["arn:aws:s3:::other/*", OBJECT])],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
    (
        "NotAction allows every other action",
        [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
    (
        "NotAction does not allow the actions it names",
        [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}],
        "s3:GetObject",
        OBJECT,
        {},
        NEUTRAL,
    ),
    (
        "NotResource allows every other resource",
        [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"}],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
    (
        "NotResource does not allow the resources it names",
        [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::firmware/*"}],
        "s3:GetObject",
        OBJECT,
        {},
        NEUTRAL,
    ),
    (
        "an explicit Deny wins over an Allow",
        [allow("s3:*", "*"), deny("s3:GetObject", "arn:aws:s3:::firmware/*")],
        "s3:GetObject",
        OBJECT,
        {},
        DENY,
    ),
    (
        "a Deny of another resource leaves the Allow",
        [allow("s3:*", "*"), deny("s3:GetObject", "arn:aws:s3:::secret/*")],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
    (
        "a Deny with NotAction denies everything else",
        [allow("*", "*"), {"Effect": "Deny", "NotAction": "iot:*", "Resource": "*"}],
        "s3:GetObject",
        OBJECT,
        {},
        DENY,
    ),
    (
        "PassRole with iam:PassedToService iot",
        [allow("iam:PassRole", ROLE, Condition={"StringEquals": PASSED})],
        "iam:PassRole",
        ROLE,
        PASSED,
        ALLOW,
    ),
    (
        "PassRole to another service",
        [
            allow(
                "iam:PassRole",
                ROLE,
                Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            )
        ],
        "iam:PassRole",
        ROLE,
        PASSED,
        NEUTRAL,
    ),
    (
        "a failed condition on a Deny does not deny",
        [
            allow("iam:PassRole", ROLE),
            deny("iam:PassRole", ROLE, Condition={"StringNotEquals": PASSED}),
        ],
        "iam:PassRole",
        ROLE,
        PASSED,
        ALLOW,
    ),
    (
        "a met condition on a Deny denies",
        [
            allow("iam:PassRole", ROLE),
            deny("iam:PassRole", ROLE, Condition={"StringEquals": PASSED}),
        ],
        "iam:PassRole",
        ROLE,
        PASSED,
        DENY,
    ),
    (
        "condition keys are case-insensitive",
        [
            allow(
                "iam:PassRole",
                ROLE,
                Condition={"StringEquals": {"IAM:passedToService": "iot.amazonaws.com"}},
            )
        ],
        "iam:PassRole",
        ROLE,
        PASSED,
        ALLOW,
    ),
    (
        "a condition on a key the request lacks fails",
        [allow("iam:PassRole", ROLE, Condition={"StringEquals": PASSED})],
        "iam:PassRole",
        ROLE,
        {},
        NEUTRAL,
    ),
    (
        "several values of a key: any one",
        [
            allow(
                "iam:PassRole",
                ROLE,
                Condition={
                    "StringEquals": {
                        "iam:PassedToService": ["lambda.amazonaws.com", "iot.amazonaws.com"]
                    }
                },
            )
        ],
        "iam:PassRole",
        ROLE,
        PASSED,
        ALLOW,
    ),
    (
        "StringLike",
        [allow("iam:PassRole", ROLE, Condition={"StringLike": {"iam:PassedToService": "iot.*"}})],
        "iam:PassRole",
        ROLE,
        PASSED,
        ALLOW,
    ),
    (
        "policies are combined",
        [allow("s3:PutObject", OBJECT), allow("s3:GetObject", OBJECT)],
        "s3:GetObject",
        OBJECT,
        {},
        ALLOW,
    ),
]


@pytest.mark.parametrize(
    ("statements", "action", "resource", "context", "verdict"),
    [case[1:] for case in EVALUATION],
    ids=[case[0] for case in EVALUATION],
)
def test_identity_policies_are_evaluated_as_iam_documents(
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, str],
    verdict: PermissionResult,
) -> None:
    # One policy per statement: IAM combines a role's policies as it combines statements.
    documents = [json.dumps(policy(s)) for s in statements]
    assert decide(documents, action, resource, context) is verdict


# (case, condition operator, key, expected, request context, holds)
CONDITIONS: list[tuple[str, str, str, Any, dict[str, str], bool]] = [
    (
        "StringNotEquals on a missing key holds",
        "StringNotEquals",
        "aws:SourceAccount",
        ACCOUNT,
        {},
        True,
    ),
    (
        "StringEqualsIfExists on a missing key holds",
        "StringEqualsIfExists",
        "aws:SourceAccount",
        ACCOUNT,
        {},
        True,
    ),
    ("StringEqualsIgnoreCase", "StringEqualsIgnoreCase", "k", "IOT", {"k": "iot"}, True),
    ("StringNotLike excludes every value", "StringNotLike", "k", ["a*", "b*"], {"k": "bc"}, False),
    (
        "ArnLike matches part by part",
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:iot:*:123456789012:otaupdate/*",
        {"aws:SourceArn": "arn:aws:iot:us-east-1:123456789012:otaupdate/x"},
        True,
    ),
    (
        "ArnLike: a wildcard does not cross a colon",
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:iot:*:otaupdate/*",
        {"aws:SourceArn": "arn:aws:iot:us-east-1:123456789012:otaupdate/x"},
        False,
    ),
    (
        "Bool written as JSON true",
        "Bool",
        "aws:SecureTransport",
        True,
        {"aws:SecureTransport": "true"},
        True,
    ),
    ("Null true: the key is absent", "Null", "aws:SourceArn", "true", {}, True),
    ("Null false: the key is present", "Null", "aws:SourceArn", "false", {}, False),
]


@pytest.mark.parametrize(
    ("operator", "key", "expected", "context", "holds"),
    [case[1:] for case in CONDITIONS],
    ids=[case[0] for case in CONDITIONS],
)
def test_condition_operators(
    operator: str, key: str, expected: Any, context: dict[str, str], holds: bool
) -> None:
    assert condition_holds(operator, key, expected, context) is holds


IOT_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "iot.amazonaws.com"},
    "Action": "sts:AssumeRole",
}
SOURCE = {
    "aws:SourceAccount": ACCOUNT,
    "aws:SourceArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:otaupdate/ota-1",
}
TRUST: list[tuple[str, list[dict[str, Any]], bool]] = [
    ("the IoT service principal", [IOT_TRUST], True),
    (
        "a list of service principals",
        [{**IOT_TRUST, "Principal": {"Service": ["lambda.amazonaws.com", "iot.amazonaws.com"]}}],
        True,
    ),
    (
        "another service only",
        [{**IOT_TRUST, "Principal": {"Service": "lambda.amazonaws.com"}}],
        False,
    ),
    (
        "an account principal only",
        [{**IOT_TRUST, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}],
        False,
    ),
    (
        "the confused-deputy condition of this account",
        [{**IOT_TRUST, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}],
        True,
    ),
    (
        "the confused-deputy condition of another account",
        [{**IOT_TRUST, "Condition": {"StringEquals": {"aws:SourceAccount": "210987654321"}}}],
        False,
    ),
    ("an action other than sts:AssumeRole", [{**IOT_TRUST, "Action": "sts:TagSession"}], False),
    ("an explicit Deny of the service", [IOT_TRUST, {**IOT_TRUST, "Effect": "Deny"}], False),
]


@pytest.mark.parametrize(
    ("statements", "trusted"), [c[1:] for c in TRUST], ids=[c[0] for c in TRUST]
)
def test_trust_policies_admit_the_iot_service(
    statements: list[dict[str, Any]], trusted: bool
) -> None:
    assert trusts(policy(*statements), "iot.amazonaws.com", SOURCE) is trusted


# ---------------------------------------------------------------------------------------------
# CreateOTAUpdate in strict mode
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A world (role without policies, trusted by IoT) in mock_aws(), strict IAM on."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    testing.install()
    with mock_aws():
        world = make_world(Aws(endpoint=None))
        boto3.client("iam").update_assume_role_policy(
            RoleName="ota-role", PolicyDocument=json.dumps(policy(IOT_TRUST))
        )
        testing.set_strict_iam(True)
        yield world
    testing.reset_controls()


def full_policy(world: World) -> dict[str, Any]:
    """What the service does with the role for ``world.request()``."""
    iot = f"arn:aws:iot:{REGION}:{ACCOUNT}"
    return policy(
        allow(["iam:GetRole", "iam:PassRole"], world.role_arn),
        allow("s3:GetObject", f"arn:aws:s3:::{world.bucket}/{world.key}"),
        allow("iot:CreateJob", [f"{iot}:job/AFR_OTA-ota-*", world.thing_arn]),
        allow("iot:CreateStream", f"{iot}:stream/AFR_OTA-*"),
    )


def put(document: dict[str, Any], name: str = "ota") -> None:
    boto3.client("iam").put_role_policy(
        RoleName="ota-role", PolicyName=name, PolicyDocument=json.dumps(document)
    )


def outcome(world: World) -> tuple[str, str | None]:
    return outcome_of(world, "ota-1")


def test_a_role_allowing_what_the_service_does_creates_the_job(strict: World) -> None:
    put(full_policy(strict))
    strict.create()
    assert outcome(strict) == ("CREATE_COMPLETE", None)
    assert strict.iot.describe_job(jobId="AFR_OTA-ota-1")["job"]["status"] == "IN_PROGRESS"


def test_a_role_that_cannot_read_the_firmware_fails_naming_object_and_action(
    strict: World,
) -> None:
    document = full_policy(strict)
    document["Statement"] = [s for s in document["Statement"] if s["Action"] != "s3:GetObject"]
    put(document)
    strict.create()
    status, message = outcome(strict)
    assert status == "CREATE_FAILED"
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ota-role/OTAUpdateService is not authorized "
        f"to perform: s3:GetObject on resource: arn:aws:s3:::firmware-bucket/v1/firmware.bin "
        "because no identity-based policy allows the s3:GetObject action"
    )
    assert strict.iot.list_jobs()["jobs"] == []


def test_a_managed_policy_attached_to_the_role_counts(strict: World) -> None:
    iam = boto3.client("iam")
    arn = iam.create_policy(
        PolicyName="ota-managed", PolicyDocument=json.dumps(full_policy(strict))
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="ota-role", PolicyArn=arn)
    strict.create()
    assert outcome(strict) == ("CREATE_COMPLETE", None)


def test_an_explicit_deny_in_another_policy_fails_it(strict: World) -> None:
    put(full_policy(strict))
    put(policy(deny("iot:CreateJob", "*")), name="freeze")
    strict.create()
    status, message = outcome(strict)
    assert status == "CREATE_FAILED"
    assert message and message.endswith(
        f"iot:CreateJob on resource: arn:aws:iot:{REGION}:{ACCOUNT}:job/AFR_OTA-ota-1 "
        "with an explicit deny in an identity-based policy"
    )


def test_a_role_not_trusted_by_iot_fails(strict: World) -> None:
    put(full_policy(strict))
    boto3.client("iam").update_assume_role_policy(
        RoleName="ota-role",
        PolicyDocument=json.dumps(
            policy({**IOT_TRUST, "Principal": {"Service": "lambda.amazonaws.com"}})
        ),
    )
    strict.create()
    assert outcome(strict) == (
        "CREATE_FAILED",
        (
            f"Unable to assume the role {strict.role_arn}: its trust policy does not allow "
            "iot.amazonaws.com to perform sts:AssumeRole"
        ),
    )


def test_a_permissions_boundary_limits_the_role(strict: World) -> None:
    iam = boto3.client("iam")
    put(full_policy(strict))
    boundary = iam.create_policy(
        PolicyName="boundary", PolicyDocument=json.dumps(policy(allow(["iam:*", "iot:*"], "*")))
    )["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName="ota-role", PermissionsBoundary=boundary)
    strict.create()
    status, message = outcome(strict)
    assert status == "CREATE_FAILED"
    assert message and "s3:GetObject" in message and "no permissions boundary allows" in message


def test_signing_needs_the_profile_and_the_destination(strict: World) -> None:
    signing = {
        "startSigningJobParameter": {
            "signingProfileName": "fwSigner",
            "destination": {"s3Destination": {"bucket": "signed", "prefix": "out/"}},
        }
    }
    request = strict.request(files=[{**strict.s3_file(), "codeSigning": signing}])
    put(full_policy(strict))
    strict.iot.create_ota_update(**request)
    first = outcome(strict)
    profile = f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-profiles/fwSigner"
    jobs = f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-jobs/*"
    put(
        policy(
            allow(["signer:StartSigningJob", "signer:GetSigningProfile"], profile),
            allow("signer:DescribeSigningJob", jobs),
            allow(["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::signed/out/*"),
        ),
        name="sign",
    )
    strict.iot.create_ota_update(**{**request, "otaUpdateId": "ota-2"})
    second = outcome_of(strict, "ota-2")
    boto3.client("signer").put_signing_profile(
        profileName="fwSigner", platformId="AmazonFreeRTOS-Default"
    )
    strict.iot.create_ota_update(**{**request, "otaUpdateId": "ota-3"})

    assert first[0] == "CREATE_FAILED"
    assert first[1] and f"signer:GetSigningProfile on resource: {profile}" in first[1]
    assert second == (
        "CREATE_FAILED",
        f"Signing profile fwSigner does not exist in {REGION} of {ACCOUNT}",
    )
    assert outcome_of(strict, "ota-3") == ("CREATE_COMPLETE", None)


def outcome_of(world: World, ota_update_id: str) -> tuple[str, str | None]:
    info = world.info(ota_update_id)
    return info["otaUpdateStatus"], info.get("errorInfo", {}).get("message")


def test_strict_iam_is_off_by_default_and_after_a_reset(strict: World) -> None:
    testing.reset_controls()
    strict.create()  # the role has no policy at all
    assert outcome(strict) == ("CREATE_COMPLETE", None)
