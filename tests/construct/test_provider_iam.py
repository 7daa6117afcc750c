"""The provider's role, environment and invoke configuration, statement by statement (issue 8,
cases 5 and 8): what it may do outside its own stack, and with which condition."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from cdk_support import ota, stack, template
from iam_support import REAL, Resolver
from moto.iam.access_control import PermissionResult

from cdk_ota_update import api
from cdk_ota_update.testing.strict_iam import decide


def _arn(resource: Any) -> str:
    """An ARN with its pseudo parameters and attributes written as {Name}."""
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        return "{" + ".".join(resource["Fn::GetAtt"]) + "}"
    if "Ref" in resource:
        return "{" + str(resource["Ref"]) + "}"
    return "".join(
        p if isinstance(p, str) else "{" + p["Ref"] + "}" for p in resource["Fn::Join"][1]
    )


def _function(t: cdk.assertions.Template) -> dict[str, Any]:
    (function,) = t.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "index.handler"}}
    ).values()
    props: dict[str, Any] = function["Properties"]
    return props


def _provider_documents(s: cdk.Stack) -> list[dict[str, Any]]:
    """The provider role's policy documents, as synthesized."""
    return [
        r["Properties"]["PolicyDocument"]
        for logical_id, r in template(s).find_resources("AWS::IAM::Policy").items()
        if logical_id.startswith("OtaUpdateProviderPolicy")
    ]


def _provider_statements(s: cdk.Stack) -> dict[tuple[str, ...], dict[str, Any]]:
    """The provider policy's statements by their actions."""
    (document,) = _provider_documents(s)
    statements = {}
    for statement in document["Statement"]:
        actions = statement["Action"]
        actions = tuple(actions) if isinstance(actions, list) else (actions,)
        statements[actions] = statement
    return statements


@pytest.fixture(scope="module")
def provider_stack() -> cdk.Stack:
    s = stack()
    ota(s)
    ota(s, "Two", ota_update_id="fw-two")
    return s


IOT = "arn:{AWS::Partition}:iot:{AWS::Region}:{AWS::AccountId}:"
STACK_ID = {"Ref": "AWS::StackId"}
REQUEST_TAG = "aws:RequestTag/cdk-ota-update:stack-id"
RESOURCE_TAG = "aws:ResourceTag/cdk-ota-update:stack-id"
# actions -> (resources, condition): every statement the provider's role has for its own work.
EXPECTED: dict[tuple[str, ...], tuple[list[str], dict[str, Any] | None]] = {
    ("iot:GetOTAUpdate", "iot:ListTagsForResource"): ([IOT + "otaupdate/*"], None),
    # created only with this stack's ownership tag, deleted and retagged only with it
    ("iot:CreateOTAUpdate",): ([IOT + "otaupdate/*"], {"StringEquals": {REQUEST_TAG: STACK_ID}}),
    ("iot:DeleteOTAUpdate",): ([IOT + "otaupdate/*"], {"StringEquals": {RESOURCE_TAG: STACK_ID}}),
    ("iot:TagResource", "iot:UntagResource"): (
        [IOT + "otaupdate/*"],
        {
            "StringEquals": {RESOURCE_TAG: STACK_ID},
            "ForAllValues:StringNotLike": {"aws:TagKeys": "cdk-ota-update:*"},
        },
    ),
    ("iot:ListOTAUpdates",): (["*"], None),
    ("iot:DescribeJob", "iot:DeleteJob"): ([IOT + "job/AFR_OTA-*"], None),
    ("iot:DeleteStream",): ([IOT + "stream/AFR_OTA-*"], None),
    # whether CloudFormation still waits for a request: its own stack only
    ("cloudformation:DescribeStackResource",): (["{AWS::StackId}"], None),
    # the hand-over of a long wait: the function invokes itself, and nothing else
    ("lambda:InvokeFunction",): (["{OtaUpdateProviderFunctionF4FBA94A.Arn}"], None),
    # its logs, in its own log group only
    ("logs:CreateLogStream", "logs:PutLogEvents"): (["{OtaUpdateProviderLogs2C9F370B.Arn}"], None),
}


@pytest.mark.parametrize("actions", list(EXPECTED), ids=lambda a: "+".join(a))
def test_provider_statement_has_its_resources_and_condition(
    provider_stack: cdk.Stack, actions: tuple[str, ...]
) -> None:
    statement = _provider_statements(provider_stack)[actions]
    resources, condition = EXPECTED[actions]

    assert [_arn(r) for r in statement["Resource"]] == resources
    assert statement.get("Condition") == condition


def test_provider_has_no_other_statement_but_the_requests_grants(
    provider_stack: cdk.Stack,
) -> None:
    """Besides EXPECTED, only what CreateOTAUpdate's request needs (PassRole, the firmware)."""
    others = set(_provider_statements(provider_stack)) - set(EXPECTED)

    assert others == {("iam:PassRole",), ("s3:GetObject", "s3:GetObjectVersion")}


def test_the_provider_role_has_one_policy_the_librarys(provider_stack: cdk.Stack) -> None:
    t = template(provider_stack)
    (role,) = [i for i in t.find_resources("AWS::IAM::Role") if i.startswith("OtaUpdateProvider")]
    policies = [
        logical_id
        for logical_id, policy in t.find_resources("AWS::IAM::Policy").items()
        if {"Ref": role} in policy["Properties"]["Roles"]
    ]

    assert [p for p in policies if not p.startswith("OtaUpdateProviderPolicy")] == []
    assert len(policies) == 1


def test_provider_is_told_its_stack_id_and_the_handlers_default_settings(
    provider_stack: cdk.Stack,
) -> None:
    variables = _function(template(provider_stack))["Environment"]["Variables"]

    assert variables == {
        api.STACK_ID_ENV: {"Ref": "AWS::StackId"},
        "OTA_MAX_WAIT_SECONDS": "900",
        "OTA_RETRY_SECONDS": "40",
        "OTA_MAX_HANDOVERS": "20",
    }
    assert api.Settings.from_environment({**variables, api.STACK_ID_ENV: "s"}) == api.Settings(
        stack_id="s"
    )


def test_asynchronous_events_are_never_retried_and_expire(provider_stack: cdk.Stack) -> None:
    template(provider_stack).has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": "OtaUpdateProviderFunctionF4FBA94A"},
            "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": 300,  # part of the ServiceTimeout (api.TimeBudget)
        },
    )


def test_service_role_trusts_iot_of_this_account_and_region_only(
    provider_stack: cdk.Stack,
) -> None:
    template(provider_stack).has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "iot.amazonaws.com"},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                            "ArnLike": {
                                "aws:SourceArn": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            ":iot:",
                                            {"Ref": "AWS::Region"},
                                            ":",
                                            {"Ref": "AWS::AccountId"},
                                            ":*",
                                        ],
                                    ]
                                }
                            },
                        },
                    }
                ]
            }
        },
    )


OWN = REAL.stack_id()
OTHER = OWN.replace("/stack/", "/stack/other-")
OTA_ARN = REAL.arn("iot", "otaupdate/fw-1")

# (action, request context) -> whether the provider's role may do it on OTA_ARN
OWNERSHIP_CASES = [
    ("iot:CreateOTAUpdate", {REQUEST_TAG: OWN}, True),
    ("iot:CreateOTAUpdate", {REQUEST_TAG: OTHER}, False),
    ("iot:CreateOTAUpdate", {}, False),
    ("iot:DeleteOTAUpdate", {RESOURCE_TAG: OWN}, True),
    ("iot:DeleteOTAUpdate", {RESOURCE_TAG: OTHER}, False),
    ("iot:DeleteOTAUpdate", {}, False),
    ("iot:TagResource", {RESOURCE_TAG: OWN, "aws:TagKeys": "team"}, True),
    ("iot:UntagResource", {RESOURCE_TAG: OWN, "aws:TagKeys": "team"}, True),
    ("iot:TagResource", {RESOURCE_TAG: OTHER, "aws:TagKeys": "team"}, False),
    ("iot:TagResource", {"aws:TagKeys": "cdk-ota-update:stack-id"}, False),
    (
        "iot:TagResource",
        {RESOURCE_TAG: OWN, "aws:TagKeys": "cdk-ota-update:stack-id"},
        False,
    ),
    (
        "iot:UntagResource",
        {RESOURCE_TAG: OWN, "aws:TagKeys": "cdk-ota-update:logical-id"},
        False,
    ),
    ("iot:GetOTAUpdate", {}, True),
    ("iot:ListTagsForResource", {}, True),
]


@pytest.mark.parametrize(("action", "context", "allowed"), OWNERSHIP_CASES)
def test_provider_role_acts_only_on_its_own_stacks_ota_updates(
    provider_stack: cdk.Stack, action: str, context: dict[str, str], allowed: bool
) -> None:
    """Evaluated as IAM does (the emulation's strict IAM): besides reading, the role can only
    create OTA updates tagged for its stack, and delete and retag only those, never their
    ownership tags, whatever the function is made to do."""
    resolve = Resolver({"stack": template(provider_stack).to_json()}, REAL)
    documents = [resolve(d) for d in _provider_documents(provider_stack)]

    verdict = decide(documents, action, OTA_ARN, context)

    assert (verdict is PermissionResult.PERMITTED) is allowed
