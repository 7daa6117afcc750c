"""Synth-time validation: every documented constraint, its boundaries, and tokens."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_support import ota, ota_properties, stack

from cdk_ota_update import (
    AwsJobAbortConfig,
    AwsJobAbortCriteria,
    AwsJobExecutionsRolloutConfig,
    AwsJobExponentialRolloutRate,
    AwsJobPresignedUrlConfig,
    AwsJobRateIncreaseCriteria,
    AwsJobTimeoutConfig,
    CodeSigning,
    CodeSigningSignature,
    CustomCodeSigning,
    FileLocation,
    OtaUpdateFile,
    OtaUpdateValidationError,
    S3Location,
    Stream,
)

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

S3 = FileLocation(s3_location=S3Location(bucket="b", key="k"))
SIGNED = CodeSigning(aws_signer_job_id="job")


def rollout(**rate: Any) -> AwsJobExecutionsRolloutConfig:
    values: dict[str, Any] = {
        "base_rate_per_minute": 1,
        "increment_factor": 2,
        "rate_increase_criteria": AwsJobRateIncreaseCriteria(number_of_notified_things=1),
    }
    values.update(rate)
    return AwsJobExecutionsRolloutConfig(exponential_rate=AwsJobExponentialRolloutRate(**values))


def abort(**criteria: Any) -> AwsJobAbortConfig:
    values: dict[str, Any] = {
        "failure_type": "FAILED",
        "action": "CANCEL",
        "threshold_percentage": 50,
        "min_number_of_executed_things": 1,
    }
    values.update(criteria)
    return AwsJobAbortConfig(abort_criteria_list=[AwsJobAbortCriteria(**values)])


def file(**values: Any) -> list[OtaUpdateFile]:
    props: dict[str, Any] = {"file_location": S3, "code_signing": SIGNED}
    props.update(values)
    return [OtaUpdateFile(**props)]


def stream(stream_id: str = "s", file_id: int = 0) -> list[OtaUpdateFile]:
    return file(file_location=FileLocation(stream=Stream(stream_id, file_id)))


# (case, props, the field as the API spells it, a fragment of the allowed range)
BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("id too long for the job id", {"ota_update_id": "a" * 57}, "otaUpdateId", "from 1 to 56"),
    ("id empty", {"ota_update_id": ""}, "otaUpdateId", "from 1 to 56"),
    ("id bad characters", {"ota_update_id": "fw 1.0"}, "otaUpdateId", "[a-zA-Z0-9_-]+"),
    ("description too long", {"description": "d" * 2029}, "description", "at most 2028"),
    ("description control character", {"description": "a\nb"}, "description", r"\p{C}"),
    ("no target", {"targets": []}, "targets", "at least 1"),
    ("target not an ARN", {"targets": ["my-thing"]}, r"targets\[0\]", "thing|thinggroup"),
    ("no protocol", {"protocols": []}, "protocols", "from 1 to 2"),
    ("three protocols", {"protocols": ["MQTT", "HTTP", "MQTT"]}, "protocols", "from 1 to 2"),
    ("unknown protocol", {"protocols": ["FTP"]}, r"protocols\[0\]", "MQTT, HTTP"),
    ("repeated protocol", {"protocols": ["MQTT", "MQTT"]}, "protocols", "without repeated"),
    ("unknown target selection", {"target_selection": "ONCE"}, "targetSelection", "CONTINUOUS"),
    (
        "maximumPerMinute 0",
        {"aws_job_executions_rollout_config": AwsJobExecutionsRolloutConfig(maximum_per_minute=0)},
        "awsJobExecutionsRolloutConfig.maximumPerMinute",
        "from 1 to 1000",
    ),
    (
        "maximumPerMinute 1001",
        {
            "aws_job_executions_rollout_config": AwsJobExecutionsRolloutConfig(
                maximum_per_minute=1001
            )
        },
        "awsJobExecutionsRolloutConfig.maximumPerMinute",
        "from 1 to 1000",
    ),
    (
        "baseRatePerMinute 0",
        {"aws_job_executions_rollout_config": rollout(base_rate_per_minute=0)},
        "exponentialRate.baseRatePerMinute",
        "from 1 to 1000",
    ),
    (
        "baseRatePerMinute 1001",
        {"aws_job_executions_rollout_config": rollout(base_rate_per_minute=1001)},
        "exponentialRate.baseRatePerMinute",
        "from 1 to 1000",
    ),
    (
        "incrementFactor 1.0",
        {"aws_job_executions_rollout_config": rollout(increment_factor=1.0)},
        "exponentialRate.incrementFactor",
        "from 1.1 to 5",
    ),
    (
        "incrementFactor 5.1",
        {"aws_job_executions_rollout_config": rollout(increment_factor=5.1)},
        "exponentialRate.incrementFactor",
        "from 1.1 to 5",
    ),
    (
        "incrementFactor two decimals",
        {"aws_job_executions_rollout_config": rollout(increment_factor=1.55)},
        "exponentialRate.incrementFactor",
        "at most 1 digit",
    ),
    (
        "no rate increase criterion",
        {
            "aws_job_executions_rollout_config": rollout(
                rate_increase_criteria=AwsJobRateIncreaseCriteria()
            )
        },
        "exponentialRate.rateIncreaseCriteria",
        "exactly one of",
    ),
    (
        "both rate increase criteria",
        {
            "aws_job_executions_rollout_config": rollout(
                rate_increase_criteria=AwsJobRateIncreaseCriteria(
                    number_of_notified_things=1, number_of_succeeded_things=1
                )
            )
        },
        "exponentialRate.rateIncreaseCriteria",
        "exactly one of",
    ),
    (
        "numberOfNotifiedThings 0",
        {
            "aws_job_executions_rollout_config": rollout(
                rate_increase_criteria=AwsJobRateIncreaseCriteria(number_of_notified_things=0)
            )
        },
        "rateIncreaseCriteria.numberOfNotifiedThings",
        "at least 1",
    ),
    (
        "numberOfSucceededThings 0",
        {
            "aws_job_executions_rollout_config": rollout(
                rate_increase_criteria=AwsJobRateIncreaseCriteria(number_of_succeeded_things=0)
            )
        },
        "rateIncreaseCriteria.numberOfSucceededThings",
        "at least 1",
    ),
    (
        "expiresInSec 59",
        {"aws_job_presigned_url_config": AwsJobPresignedUrlConfig(59)},
        "awsJobPresignedUrlConfig.expiresInSec",
        "from 60 to 3600",
    ),
    (
        "expiresInSec 3601",
        {"aws_job_presigned_url_config": AwsJobPresignedUrlConfig(3601)},
        "awsJobPresignedUrlConfig.expiresInSec",
        "from 60 to 3600",
    ),
    (
        "no abort criterion",
        {"aws_job_abort_config": AwsJobAbortConfig(abort_criteria_list=[])},
        "awsJobAbortConfig.abortCriteriaList",
        "at least 1",
    ),
    (
        "unknown failure type",
        {"aws_job_abort_config": abort(failure_type="BROKEN")},
        r"abortCriteriaList\[0\]\.failureType",
        "FAILED, REJECTED, TIMED_OUT, ALL",
    ),
    (
        "unknown abort action",
        {"aws_job_abort_config": abort(action="PAUSE")},
        r"abortCriteriaList\[0\]\.action",
        "CANCEL",
    ),
    (
        "threshold over 100",
        {"aws_job_abort_config": abort(threshold_percentage=100.5)},
        r"abortCriteriaList\[0\]\.thresholdPercentage",
        "at most 100",
    ),
    (
        "threshold three decimals",
        {"aws_job_abort_config": abort(threshold_percentage=10.999)},
        r"abortCriteriaList\[0\]\.thresholdPercentage",
        "at most 2 digits",
    ),
    (
        "minNumberOfExecutedThings 0",
        {"aws_job_abort_config": abort(min_number_of_executed_things=0)},
        r"abortCriteriaList\[0\]\.minNumberOfExecutedThings",
        "at least 1",
    ),
    (
        "timeout 0",
        {"aws_job_timeout_config": AwsJobTimeoutConfig(0)},
        "awsJobTimeoutConfig.inProgressTimeoutInMinutes",
        "from 1 to 10080",
    ),
    (
        "timeout 10081",
        {"aws_job_timeout_config": AwsJobTimeoutConfig(10081)},
        "awsJobTimeoutConfig.inProgressTimeoutInMinutes",
        "from 1 to 10080",
    ),
    ("no file", {"files": []}, "files", "at least 1"),
    ("fileType 256", {"files": file(file_type=256)}, r"files\[0\]\.fileType", "from 0 to 255"),
    ("fileType -1", {"files": file(file_type=-1)}, r"files\[0\]\.fileType", "from 0 to 255"),
    ("fileId 256", {"files": stream(file_id=256)}, r"stream\.fileId", "from 0 to 255"),
    (
        "streamId bad characters",
        {"files": stream(stream_id="my stream")},
        r"stream\.streamId",
        "[a-zA-Z0-9_-]+",
    ),
    (
        "streamId too long",
        {"files": stream(stream_id="s" * 129)},
        r"stream\.streamId",
        "from 1 to 128",
    ),
    (
        "stream and S3 location",
        {
            "files": file(
                file_location=FileLocation(
                    stream=Stream("s", 0), s3_location=S3Location(bucket="b", key="k")
                )
            )
        },
        r"files\[0\]\.fileLocation",
        "exactly one of stream, s3Location",
    ),
    (
        "no location",
        {"files": file(file_location=FileLocation())},
        r"files\[0\]\.fileLocation",
        "exactly one of stream, s3Location",
    ),
    (
        "two signing methods",
        {
            "files": file(
                code_signing=CodeSigning(
                    aws_signer_job_id="j",
                    custom_code_signing=CustomCodeSigning(signature=CodeSigningSignature(b"s")),
                )
            )
        },
        r"files\[0\]\.codeSigning",
        "exactly one of awsSignerJobId",
    ),
    (
        "no signing method",
        {"files": file(code_signing=CodeSigning())},
        r"files\[0\]\.codeSigning",
        "exactly one of awsSignerJobId",
    ),
    (
        "attribute value too long",
        {"files": file(attributes={"a": "v" * 4097})},
        r"files\[0\]\.attributes\['a'\]",
        "from 0 to 4096",
    ),
    (
        "additional parameter too long",
        {"additional_parameters": {"p": "v" * 4097}},
        r"additionalParameters\['p'\]",
        "from 0 to 4096",
    ),
    ("tag key empty", {"tags": {"": "v"}}, r"tags\[0\]\.Key", "from 1 to 128"),
    ("tag key too long", {"tags": {"k" * 129: "v"}}, r"tags\[0\]\.Key", "from 1 to 128"),
    ("tag key bad characters", {"tags": {"a\tb": "v"}}, r"tags\[0\]\.Key", "pattern"),
    ("tag key aws: prefix", {"tags": {"aws:owner": "v"}}, r"tags\[0\]\.Key", "aws:"),
    ("tag value too long", {"tags": {"k": "v" * 257}}, r"tags\[0\]\.Value", "from 0 to 256"),
]


@pytest.mark.parametrize(
    ("props", "field", "allowed"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_is_refused_at_synth(props: dict[str, Any], field: str, allowed: str) -> None:
    s = stack()
    with pytest.raises(OtaUpdateValidationError) as raised:
        ota(s, **props)
    message = str(raised.value)
    assert message.startswith("Test/Ota: ")
    assert re.search(field, message), message
    assert allowed in message, message


def test_role_arn_shorter_than_the_api_allows_is_refused() -> None:
    s = stack()
    role = iam.Role.from_role_arn(s, "Short", "arn:a:iam::1:role/r")
    with pytest.raises(OtaUpdateValidationError, match=r"roleArn = 'arn:a:iam::1:role/r'.*from 20"):
        ota(s, role=role)


def test_every_violation_is_reported_at_once() -> None:
    with pytest.raises(OtaUpdateValidationError) as raised:
        ota(stack(), ota_update_id="bad id", description="x" * 3000)
    assert str(raised.value).count("Test/Ota: ") == 2


def test_the_error_shows_the_bad_value() -> None:
    with pytest.raises(OtaUpdateValidationError, match=r"maximumPerMinute = 0 is invalid"):
        ota(stack(), aws_job_executions_rollout_config=AwsJobExecutionsRolloutConfig(0))


GOOD: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("id of 56", lambda: {"ota_update_id": "a" * 56}),
    ("description of 2028", lambda: {"description": "d" * 2028}),
    ("two protocols", lambda: {"protocols": ["HTTP", "MQTT"]}),
    (
        "maximumPerMinute 1 and 1000 bounds",
        lambda: {
            "aws_job_executions_rollout_config": AwsJobExecutionsRolloutConfig(
                1000, rollout(base_rate_per_minute=1000).exponential_rate
            )
        },
    ),
    (
        "incrementFactor 1.1",
        lambda: {"aws_job_executions_rollout_config": rollout(increment_factor=1.1)},
    ),
    (
        "incrementFactor 5",
        lambda: {"aws_job_executions_rollout_config": rollout(increment_factor=5)},
    ),
    (
        "succeeded things only",
        lambda: {
            "aws_job_executions_rollout_config": rollout(
                rate_increase_criteria=AwsJobRateIncreaseCriteria(number_of_succeeded_things=1)
            )
        },
    ),
    ("expiresInSec 60", lambda: {"aws_job_presigned_url_config": AwsJobPresignedUrlConfig(60)}),
    ("expiresInSec 3600", lambda: {"aws_job_presigned_url_config": AwsJobPresignedUrlConfig(3600)}),
    ("threshold 100", lambda: {"aws_job_abort_config": abort(threshold_percentage=100)}),
    ("threshold 0.01", lambda: {"aws_job_abort_config": abort(threshold_percentage=0.01)}),
    ("timeout 1", lambda: {"aws_job_timeout_config": AwsJobTimeoutConfig(1)}),
    ("timeout 10080", lambda: {"aws_job_timeout_config": AwsJobTimeoutConfig(10080)}),
    ("fileType 0 and 255", lambda: {"files": file(file_type=0) + file(file_type=255)}),
    ("stream file 255", lambda: {"files": stream("s-1_A", 255)}),
    ("attribute of 4096", lambda: {"files": file(attributes={"a": "v" * 4096})}),
    ("tag of 128 and 256", lambda: {"tags": {"k" * 128: "v" * 256, "a b:c/d=e+f-g@h_i.j": ""}}),
    ("unicode description", lambda: {"description": "Firmware für Geräte, v2"}),
]


@pytest.mark.parametrize("props", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_boundary_values_pass(props: Callable[[], dict[str, Any]]) -> None:
    s = stack()
    ota(s, **props())
    assert len(ota_properties(s)) == 1


def test_unresolved_tokens_are_not_checked_at_synth() -> None:
    s = stack()
    rate = cdk.CfnParameter(s, "Rate", type="Number")
    text = cdk.CfnParameter(s, "Text")
    ota(
        s,
        ota_update_id=text.value_as_string,
        description=text.value_as_string,
        targets=cdk.Fn.split(",", text.value_as_string),
        aws_job_executions_rollout_config=AwsJobExecutionsRolloutConfig(
            maximum_per_minute=rate.value_as_number  # type: ignore[arg-type]
        ),
        files=[
            OtaUpdateFile(
                file_location=FileLocation(
                    s3_location=S3Location(bucket=text.value_as_string, key=text.value_as_string)
                ),
                file_type=rate.value_as_number,  # type: ignore[arg-type]
            )
        ],
        tags={"k": text.value_as_string},
    )
    (props,) = ota_properties(s)
    assert props["awsJobExecutionsRolloutConfig"] == {"maximumPerMinute": {"Ref": "Rate"}}
    assert props["otaUpdateId"] == {"Ref": "Text"}
