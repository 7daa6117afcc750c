"""The constraint table (cdk_ota_update.api) on API-typed requests."""

from __future__ import annotations

import pytest

from cdk_ota_update import api

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

VALID = {
    "otaUpdateId": "fw-1",
    "targets": ["arn:aws:iot:us-east-1:123456789012:thinggroup/fleet"],
    "files": [
        {
            "fileName": "firmware.bin",
            "fileLocation": {"s3Location": {"bucket": "b", "key": "k"}},
            "codeSigning": {"awsSignerJobId": "job"},
        }
    ],
    "roleArn": "arn:aws:iam::123456789012:role/ota",
}


def test_valid_request_has_no_violation() -> None:
    assert api.validate(VALID) == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [("plain ascii", True), ("accents é ü", True), ("bell \x07", False), ("tab\t", False)],
)
def test_description_pattern_uses_unicode_categories(text: str, ok: bool) -> None:
    violations = api.validate({**VALID, "description": text})
    assert (violations == []) is ok


def test_cloudformation_strings_become_api_types() -> None:
    shape = api.create_request_shape()
    restored = api.from_cloudformation(
        {
            "awsJobExecutionsRolloutConfig": {
                "maximumPerMinute": "5",
                "exponentialRate": {"incrementFactor": "1.5"},
            },
            "files": [
                {"codeSigning": {"customCodeSigning": {"signature": {"inlineDocument": "aGk="}}}}
            ],
        },
        shape,
    )
    assert restored["awsJobExecutionsRolloutConfig"] == {
        "maximumPerMinute": 5,
        "exponentialRate": {"incrementFactor": 1.5},
    }
    assert restored["files"][0]["codeSigning"]["customCodeSigning"]["signature"] == {
        "inlineDocument": b"hi"
    }


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf"])
def test_non_finite_numbers_from_cloudformation_are_refused(text: str) -> None:
    rollout = {
        "exponentialRate": {
            "baseRatePerMinute": 1,
            "incrementFactor": text,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 1},
        }
    }
    request = api.from_cloudformation(
        {**VALID, "awsJobExecutionsRolloutConfig": rollout}, api.create_request_shape()
    )
    (violation,) = api.validate(request)
    assert violation.path == "awsJobExecutionsRolloutConfig.exponentialRate.incrementFactor"
    assert violation.expected == "a finite number"
