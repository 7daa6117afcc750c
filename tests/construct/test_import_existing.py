"""Existing OTA updates imported by id or ARN, and read grants for a watcher of the rollout."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_support import ota, template
from constructs import Construct

from cdk_ota_update import IOtaUpdate, OtaUpdate, OtaUpdateValidationError

ENV = cdk.Environment(account="123456789012", region="eu-west-1")
ARN = "arn:aws:iot:eu-west-1:123456789012:otaupdate/release-7"


def _in_partition(resource: str) -> dict[str, Any]:
    """An ARN of the stack's account and Region, in the partition CloudFormation names."""
    return {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, f":iot:eu-west-1:123456789012:{resource}"],
        ]
    }


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Watch", env=ENV)


def _attributes(update: IOtaUpdate) -> dict[str, Any]:
    stack = cdk.Stack.of(update)  # type: ignore[arg-type]
    return {
        name: stack.resolve(getattr(update, name))
        for name in ("ota_update_id", "ota_update_arn", "aws_iot_job_id", "aws_iot_job_arn")
    }


EXPECTED = {
    "ota_update_id": "release-7",
    "ota_update_arn": ARN,
    "aws_iot_job_id": "AFR_OTA-release-7",
    "aws_iot_job_arn": "arn:aws:iot:eu-west-1:123456789012:job/AFR_OTA-release-7",
}


def test_from_id_names_the_ota_update_and_its_job_in_the_stacks_account_and_region() -> None:
    update = OtaUpdate.from_ota_update_id(_stack(), "Existing", "release-7")
    assert isinstance(update, IOtaUpdate)
    assert _attributes(update) == {
        **EXPECTED,
        "ota_update_arn": _in_partition("otaupdate/release-7"),
        "aws_iot_job_arn": _in_partition("job/AFR_OTA-release-7"),
    }


def test_from_arn_takes_account_and_region_from_the_arn() -> None:
    other = "arn:aws-cn:iot:cn-north-1:210987654321:otaupdate/release-7"
    update = OtaUpdate.from_ota_update_arn(_stack(), "Existing", other)
    assert _attributes(update) == {
        **EXPECTED,
        "ota_update_arn": other,
        "aws_iot_job_arn": "arn:aws-cn:iot:cn-north-1:210987654321:job/AFR_OTA-release-7",
    }


def test_from_arn_with_a_token_resolves_at_deploy() -> None:
    s = _stack()
    arn = cdk.CfnParameter(s, "Arn").value_as_string
    update = OtaUpdate.from_ota_update_arn(s, "Existing", arn)
    attributes = _attributes(update)
    assert attributes["ota_update_arn"] == {"Ref": "Arn"}
    assert "Fn::Select" in str(attributes["ota_update_id"])


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (
            lambda s: OtaUpdate.from_ota_update_id(s, "Bad", "release 7"),
            r"^Watch/Bad: otaUpdateId = 'release 7' is invalid: it must be a string matching",
        ),
        (
            lambda s: OtaUpdate.from_ota_update_arn(
                s, "Bad", "arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet"
            ),
            r"^Watch/Bad: otaUpdateArn = '.*thinggroup/fleet' is invalid: it must be an OTA "
            r"update's ARN, arn:<partition>:iot:<region>:<account>:otaupdate/<otaUpdateId>",
        ),
        (
            lambda s: OtaUpdate.from_ota_update_arn(s, "Bad", "release-7"),
            r"\(OtaUpdate\.from_ota_update_id takes the id alone\)",
        ),
    ],
    ids=["bad id", "ARN of a thing group", "an id where the ARN belongs"],
)
def test_bad_imports_are_refused(call: Any, pattern: str) -> None:
    with pytest.raises(OtaUpdateValidationError, match=pattern):
        call(_stack())


def _logical_id(scope: Construct, child: str) -> str:
    resource = scope.node.find_child(child).node.default_child
    assert isinstance(resource, cdk.CfnElement)
    return cdk.Stack.of(scope).get_logical_id(resource)


def _statements(stack: cdk.Stack) -> list[dict[str, Any]]:
    policies = template(stack).find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": _logical_id(stack, "Watcher")}]}}
    )
    (policy,) = policies.values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_grant_read_of_an_import_allows_watching_exactly_that_rollout() -> None:
    s = _stack()
    watcher = iam.Role(s, "Watcher", assumed_by=iam.AccountRootPrincipal())
    OtaUpdate.from_ota_update_arn(s, "Existing", ARN).grant_read(watcher)
    assert _statements(s) == [
        {"Action": "iot:GetOTAUpdate", "Effect": "Allow", "Resource": ARN},
        {
            "Action": ["iot:DescribeJob", "iot:ListJobExecutionsForJob"],
            "Effect": "Allow",
            "Resource": EXPECTED["aws_iot_job_arn"],
        },
    ]


def test_grant_read_of_a_created_ota_update_names_its_resources_attributes() -> None:
    s = _stack()
    watcher = iam.Role(s, "Watcher", assumed_by=iam.AccountRootPrincipal())
    update = ota(s)
    update.grant_read(watcher)
    logical_id = _logical_id(update, "Resource")
    assert _statements(s) == [
        {
            "Action": "iot:GetOTAUpdate",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [logical_id, "otaUpdateArn"]},
        },
        {
            "Action": ["iot:DescribeJob", "iot:ListJobExecutionsForJob"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [logical_id, "awsIotJobArn"]},
        },
    ]
