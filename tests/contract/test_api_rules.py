"""Every rule of the constraint table (cdk_ota_update.api), one at a time, with its exact error.

The construct, the handler and the emulation all read these rules; here each one is triggered
directly on an API-typed request, and each error is compared in full (path, bad value, what fits,
why), so that a rule that stops firing or a message that changes its words fails a test.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from cdk_ota_update import api

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

TARGET = "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet"
S3 = {"s3Location": {"bucket": "b", "key": "k"}}
SIGNER = {"awsSignerJobId": "job"}
FILE = {"fileName": "firmware.bin", "fileLocation": S3, "codeSigning": SIGNER}
VALID: dict[str, Any] = {
    "otaUpdateId": "fw-1",
    "targets": [TARGET],
    "files": [FILE],
    "roleArn": "arn:aws:iam::123456789012:role/ota",
}
RATE = {
    "baseRatePerMinute": 1,
    "incrementFactor": 2,
    "rateIncreaseCriteria": {"numberOfNotifiedThings": 1},
}
ABORT = {
    "failureType": "FAILED",
    "action": "CANCEL",
    "thresholdPercentage": 50,
    "minNumberOfExecutedThings": 1,
}
START_SIGNING = {
    "signingProfileName": "profile",
    "destination": {"s3Destination": {"bucket": "signed"}},
}
V = api.Violation


def check(rules: Any = api.RULES, **members: Any) -> list[str]:
    """The violations of VALID with ``members`` replaced, as the messages users read."""
    return [str(v) for v in api.validate({**VALID, **members}, rules=rules)]


def with_file(**members: Any) -> list[api.Violation]:
    return api.validate({**VALID, "files": [{**FILE, **members}]})


def with_rate(**members: Any) -> list[api.Violation]:
    return api.validate(
        {**VALID, "awsJobExecutionsRolloutConfig": {"exponentialRate": {**RATE, **members}}}
    )


def tags(*keys: str) -> list[dict[str, str]]:
    return [{api.TAG_KEY: key, api.TAG_VALUE: "v"} for key in keys]


# ---------------------------------------------------------------------------------------------
# The wire contract: names deployed templates, resources and users' code rely on
# ---------------------------------------------------------------------------------------------
def test_the_custom_resource_contract_keeps_its_names() -> None:
    # Changing any of these breaks deployed stacks: the resource type and its GetAtt names are in
    # users' templates, the ownership tags are on their OTA updates, the rest is AWS's naming.
    assert (api.RESOURCE_TYPE, api.SERVICE_TOKEN, api.SERVICE_TIMEOUT) == (
        "Custom::OtaUpdate",
        "ServiceToken",
        "ServiceTimeout",
    )
    assert (
        api.ATTR_OTA_UPDATE_ID,
        api.ATTR_OTA_UPDATE_ARN,
        api.ATTR_AWS_IOT_JOB_ID,
        api.ATTR_AWS_IOT_JOB_ARN,
        api.ATTR_OTA_UPDATE_STATUS,
    ) == ("otaUpdateId", "otaUpdateArn", "awsIotJobId", "awsIotJobArn", "otaUpdateStatus")
    assert api.OWNER_TAGS == (
        "cdk-ota-update:stack-id",
        "cdk-ota-update:logical-id",
        "cdk-ota-update:request-sha256",
    )
    assert all(tag.startswith(api.OWNER_TAG_PREFIX) for tag in api.OWNER_TAGS)
    assert (api.JOB_ID_PREFIX, api.STREAM_ID_PREFIX) == ("AFR_OTA-", "AFR_OTA-")
    assert (api.OTA_UPDATE_ID_MAX_LENGTH, api.MAX_TAGS_PER_RESOURCE, api.USER_TAG_BUDGET) == (
        56,
        50,
        47,
    )


def test_member_names_are_the_apis() -> None:
    create = api.create_request_shape()
    delete = api.operation_input("DeleteOTAUpdate")
    assert {api.OTA_UPDATE_ID, api.TAGS} <= set(create.members)
    assert set(api.TEARDOWN_FLAGS) == set(delete.members) - {api.OTA_UPDATE_ID}
    assert (api.DELETE_STREAM, api.FORCE_DELETE_AWS_JOB) == api.TEARDOWN_FLAGS
    assert list(api.shape("Tag").members) == [api.TAG_KEY, api.TAG_VALUE]


def test_job_and_arn_names() -> None:
    assert api.job_id("fw-1") == "AFR_OTA-fw-1"
    assert (
        api.iot_arn("aws-cn", "cn-north-1", "123456789012", api.ota_update_resource("fw-1"))
        == "arn:aws-cn:iot:cn-north-1:123456789012:otaupdate/fw-1"
    )
    assert api.job_resource("fw-1") == "job/AFR_OTA-fw-1"
    # The longest id the table allows gives the longest job id IoT allows.
    assert len(api.job_id("a" * api.OTA_UPDATE_ID_MAX_LENGTH)) == 64


def test_the_tables_cannot_be_changed_by_a_caller() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        api.RULES["protocols"].unique = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        V("a", 1, "b").path = "c"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# The rules of the table, each triggered, each at its boundaries
# ---------------------------------------------------------------------------------------------
def test_ota_update_id_fits_the_job_id() -> None:
    assert check(otaUpdateId="a" * 56) == []
    assert check(otaUpdateId="a" * 57) == [
        f"otaUpdateId = '{'a' * 57}' is invalid: it must be from 1 to 56 characters long (the "
        "service creates the job AFR_OTA-<otaUpdateId> and job ids are at most 64 characters)"
    ]
    # Too short is the model's rule: no reason about job ids.
    assert api.validate({**VALID, "otaUpdateId": ""}) == [
        V("otaUpdateId", "", "from 1 to 56 characters long"),
        V("otaUpdateId", "", "a string matching the pattern [a-zA-Z0-9_-]+"),
    ]
    assert check(otaUpdateId="fw 1") == [
        "otaUpdateId = 'fw 1' is invalid: it must be a string matching the pattern [a-zA-Z0-9_-]+"
    ]


@pytest.mark.parametrize(
    "target",
    [
        TARGET,
        "arn:aws-us-gov:iot:us-gov-west-1:123456789012:thing/a:b_c-1",
        "arn:aws:iot:eu-west-1:123456789012:thing/" + "t" * 128,
    ],
)
def test_targets_are_thing_or_group_arns(target: str) -> None:
    assert check(targets=[target]) == []


@pytest.mark.parametrize(
    "target",
    [
        "my-thing",
        "arn:aws:s3:us-east-1:123456789012:thing/t",
        "arn:aws:iot:us-east-1:12345678901:thing/t",
        "arn:aws:iot:us-east-1:123456789012:job/t",
        "arn:aws:iot:us-east-1:123456789012:thing/t t",
        "arn:aws:iot:eu-west-1:123456789012:thing/" + "t" * 129,
    ],
)
def test_other_targets_are_refused_with_the_reason(target: str) -> None:
    assert api.validate({**VALID, "targets": [TARGET, target]}) == [
        V(
            "targets[1]",
            target,
            "a string matching the pattern arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:"
            "(thing|thinggroup)/[a-zA-Z0-9:_-]{1,128}",
            "targets are ARNs of things or thing groups, whose names are 1-128 of [a-zA-Z0-9:_-]",
        )
    ]


def test_protocols_are_one_or_two_known_distinct_ones() -> None:
    assert check(protocols=["MQTT", "HTTP"]) == []
    assert check(protocols=["MQTT", "MQTT"]) == [
        "protocols = ['MQTT', 'MQTT'] is invalid: it must be a list without repeated values"
    ]
    assert check(protocols=[]) == ["protocols = [] is invalid: it must be from 1 to 2 items"]
    assert check(protocols=["FTP"]) == [
        "protocols[0] = 'FTP' is invalid: it must be one of MQTT, HTTP"
    ]


def test_list_sizes_name_their_unit_in_the_right_number() -> None:
    assert check(targets=[]) == ["targets = [] is invalid: it must be at least 1 item"]
    assert check(files=[]) == ["files = [] is invalid: it must be at least 1 item"]
    assert check(description="d" * 2029) == [
        f"description = '{'d' * 196}... is invalid: it must be at most 2028 characters long"
    ]
    assert with_file(fileLocation={"s3Location": {"bucket": "", "key": "k"}}) == [
        V("files[0].fileLocation.s3Location.bucket", "", "at least 1 character long")
    ]


def test_increment_factor_is_from_1_1_to_5_with_one_decimal() -> None:
    assert with_rate(incrementFactor=1.1) == []
    assert with_rate(incrementFactor=5) == []
    path = "awsJobExecutionsRolloutConfig.exponentialRate.incrementFactor"
    assert with_rate(incrementFactor=1.0) == [V(path, 1.0, "a number from 1.1 to 5")]
    assert with_rate(incrementFactor=5.1) == [V(path, 5.1, "a number from 1.1 to 5")]
    assert with_rate(incrementFactor=1.25) == [
        V(path, 1.25, "a number with at most 1 digit after the decimal point")
    ]


def test_the_rate_increases_on_exactly_one_criterion() -> None:
    path = "awsJobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria"
    why = "the rollout rate increases on one criterion: notified or succeeded things"
    assert with_rate(rateIncreaseCriteria={"numberOfSucceededThings": 3}) == []
    both = {"numberOfNotifiedThings": 1, "numberOfSucceededThings": 2}
    assert with_rate(rateIncreaseCriteria=both) == [
        V(
            path,
            both,
            "exactly one of numberOfNotifiedThings, numberOfSucceededThings (given: "
            "numberOfNotifiedThings, numberOfSucceededThings)",
            why,
        )
    ]
    assert with_rate(rateIncreaseCriteria={"numberOfNotifiedThings": None}) == [
        V(
            path,
            {"numberOfNotifiedThings": None},
            "exactly one of numberOfNotifiedThings, numberOfSucceededThings (given: none)",
            why,
        )
    ]
    assert with_rate(rateIncreaseCriteria={"numberOfNotifiedThings": 0}) == [
        V(f"{path}.numberOfNotifiedThings", 0, "an integer at least 1")
    ]


def test_the_models_required_members_are_required() -> None:
    rate = {k: v for k, v in RATE.items() if k != "incrementFactor"}
    assert api.validate({**VALID, "awsJobExecutionsRolloutConfig": {"exponentialRate": rate}}) == [
        V(
            "awsJobExecutionsRolloutConfig.exponentialRate.incrementFactor",
            None,
            "given (it is required)",
        )
    ]
    request = {k: v for k, v in VALID.items() if k != "roleArn"}
    assert [str(v) for v in api.validate(request)] == [
        "roleArn = None is invalid: it must be given (it is required)"
    ]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (60, None),
        (3600, None),
        (59, "an integer from 60 to 3600"),
        (3601, "an integer from 60 to 3600"),
        (60.5, "an integer"),
        ("60", "an integer"),
        (True, "an integer"),
        (10**400, None),
    ],
)
def test_presigned_urls_expire_after_60_to_3600_whole_seconds(
    seconds: Any, expected: str | None
) -> None:
    path = "awsJobPresignedUrlConfig.expiresInSec"
    found = api.validate({**VALID, "awsJobPresignedUrlConfig": {"expiresInSec": seconds}})
    if seconds == 10**400:  # too large for a float: still an integer out of range
        expected = "an integer from 60 to 3600"
    assert found == ([] if expected is None else [V(path, seconds, expected)])


def test_abort_thresholds_are_percentages_with_two_decimals() -> None:
    def abort(**members: Any) -> list[api.Violation]:
        config = {"abortCriteriaList": [{**ABORT, **members}]}
        return api.validate({**VALID, "awsJobAbortConfig": config})

    path = "awsJobAbortConfig.abortCriteriaList[0].thresholdPercentage"
    assert abort(thresholdPercentage=12.34) == []
    assert abort(thresholdPercentage=100) == []
    assert abort(thresholdPercentage=12.345) == [
        V(path, 12.345, "a number with at most 2 digits after the decimal point")
    ]
    assert abort(thresholdPercentage=100.5) == [V(path, 100.5, "a number at most 100")]
    assert abort(thresholdPercentage=float("inf")) == [V(path, float("inf"), "a finite number")]
    assert abort(minNumberOfExecutedThings=1.5) == [
        V("awsJobAbortConfig.abortCriteriaList[0].minNumberOfExecutedThings", 1.5, "an integer")
    ]


def test_in_progress_timeout_is_1_to_10080_minutes() -> None:
    path = "awsJobTimeoutConfig.inProgressTimeoutInMinutes"
    for minutes, ok in ((1, True), (10080, True), (0, False), (10081, False)):
        found = api.validate({**VALID, "awsJobTimeoutConfig": {path.split(".")[1]: minutes}})
        assert found == ([] if ok else [V(path, minutes, "an integer from 1 to 10080")])


def test_a_file_needs_exactly_one_location() -> None:
    assert with_file(fileLocation={"stream": {"streamId": "s", "fileId": 0}}) == []
    file = {k: v for k, v in FILE.items() if k != "fileLocation"}
    assert api.validate({**VALID, "files": [file]}) == [
        V("files[0].fileLocation", None, "given (it is required)")
    ]
    both = {**S3, "stream": {"streamId": "s", "fileId": 0}}
    assert with_file(fileLocation=both) == [
        V(
            "files[0].fileLocation",
            both,
            "exactly one of stream, s3Location (given: stream, s3Location)",
        )
    ]
    assert with_file(fileLocation={}) == [
        V("files[0].fileLocation", {}, "exactly one of stream, s3Location (given: none)")
    ]


def test_locations_name_their_object() -> None:
    assert with_file(fileLocation={"s3Location": {"bucket": "b"}}) == [
        V(
            "files[0].fileLocation.s3Location.key",
            None,
            "given (it is required)",
            "the service reads the file from that bucket and key",
        )
    ]
    assert with_file(fileLocation={"stream": {"fileId": 1}}) == [
        V(
            "files[0].fileLocation.stream.streamId",
            None,
            "given (it is required)",
            "the service sends that file of that stream",
        )
    ]
    assert with_file(fileLocation={"s3Location": {"key": "k"}}) == [
        V(
            "files[0].fileLocation.s3Location.bucket",
            None,
            "given (it is required)",
            "the service reads the file from that bucket and key",
        )
    ]
    assert with_file(fileLocation={"stream": {"streamId": "s"}}) == [
        V(
            "files[0].fileLocation.stream.fileId",
            None,
            "given (it is required)",
            "the service sends that file of that stream",
        )
    ]
    assert with_file(fileLocation={"stream": {"streamId": "s", "fileId": 256}}) == [
        V("files[0].fileLocation.stream.fileId", 256, "an integer from 0 to 255")
    ]


@pytest.mark.parametrize(
    "signing",
    [
        {"awsSignerJobId": "job"},
        {"startSigningJobParameter": START_SIGNING},
        {"customCodeSigning": {"signature": {"inlineDocument": bytearray(b"sig")}}},
    ],
)
def test_each_kind_of_code_signing_alone_passes(signing: dict[str, Any]) -> None:
    assert with_file(codeSigning=signing) == []


def test_code_signing_is_exactly_one_kind() -> None:
    two = {**SIGNER, "startSigningJobParameter": START_SIGNING}
    assert [str(v) for v in with_file(codeSigning=two)] == [
        f"files[0].codeSigning = {two!r} is invalid: it must be exactly one of awsSignerJobId, "
        "startSigningJobParameter, customCodeSigning (given: awsSignerJobId, "
        "startSigningJobParameter)"
    ]
    custom = {"customCodeSigning": {"hashAlgorithm": "SHA256"}}
    assert with_file(codeSigning={**custom, "startSigningJobParameter": START_SIGNING}) == [
        V(
            "files[0].codeSigning",
            {**custom, "startSigningJobParameter": START_SIGNING},
            "exactly one of awsSignerJobId, startSigningJobParameter, customCodeSigning (given: "
            "startSigningJobParameter, customCodeSigning)",
        )
    ]


def test_signing_jobs_name_a_profile_and_a_bucket() -> None:
    path = "files[0].codeSigning.startSigningJobParameter"
    assert with_file(codeSigning={"startSigningJobParameter": {}}) == [
        V(
            f"{path}.signingProfileName",
            None,
            "given (it is required)",
            "AWS Signer signs with a named profile and writes the signed file to a destination",
        ),
        V(
            f"{path}.destination",
            None,
            "given (it is required)",
            "AWS Signer signs with a named profile and writes the signed file to a destination",
        ),
    ]
    no_s3 = {**START_SIGNING, "destination": {}}
    assert with_file(codeSigning={"startSigningJobParameter": no_s3}) == [
        V(
            f"{path}.destination.s3Destination",
            None,
            "given (it is required)",
            "signed files are written to S3",
        )
    ]
    no_bucket = {**START_SIGNING, "destination": {"s3Destination": {"prefix": "p/"}}}
    assert with_file(codeSigning={"startSigningJobParameter": no_bucket}) == [
        V(
            f"{path}.destination.s3Destination.bucket",
            None,
            "given (it is required)",
            "signed files are written to that bucket",
        )
    ]


def test_tag_keys_are_unique_and_not_reserved() -> None:
    assert check(tags=tags("a", "b")) == []
    assert check(tags=tags("a", "b", "a")) == [
        "tags = ['a', 'b', 'a'] is invalid: it must be a list without repeated Keys"
    ]
    assert check(tags=tags("AWS:owner")) == [
        "tags[0].Key = 'AWS:owner' is invalid: it must be a string not starting with aws: (the "
        "aws: prefix is reserved for AWS)"
    ]


def test_without_the_tables_rules_only_the_models_constraints_apply() -> None:
    request = {
        **VALID,
        "otaUpdateId": "a" * 100,
        "protocols": ["MQTT", "MQTT"],
        "targets": ["my-thing"],
        "tags": tags("aws:x", "aws:x"),
    }
    assert api.validate(request, rules={}) == []
    assert api.validate({**request, "otaUpdateId": "a" * 129}, rules={}) == [
        V("otaUpdateId", "a" * 129, "from 1 to 128 characters long")
    ]


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        (200, "'" + "d" * 198 + "'"),
        (201, "'" + "d" * 196 + "..."),
    ],
)
def test_values_are_shown_up_to_200_characters(length: int, shown: str) -> None:
    text = "d" * (length - 2)  # its repr has the quotes
    assert str(V("description", text, "short")) == (
        f"description = {shown} is invalid: it must be short"
    )


def test_a_resource_of_this_library_keeps_room_for_its_ownership_tags() -> None:
    budget = [f"k{i}" for i in range(47)]
    assert check(api.RESOURCE_RULES, tags=tags(*budget)) == []
    assert check(api.RULES, tags=tags(*budget, "k47", "k48", "k49")) == []
    (past,) = api.validate({**VALID, "tags": tags(*budget, "k47")}, rules=api.RESOURCE_RULES)
    assert (past.path, past.expected, past.why) == (
        "tags",
        "at most 47 items (given: 48)",
        "IoT allows 50 tags per resource and the handler adds its own 3 ownership tags",
    )
    assert str(past).startswith("tags = [{'Key': 'k0', 'Value': 'v'}, ")
    # Its value is cut to 200 characters in the message.
    assert str(past).index("... is invalid") == len("tags = ") + 197


def test_the_librarys_tag_prefix_is_reserved_for_resources_of_this_library() -> None:
    assert check(api.RULES, tags=tags("cdk-ota-update:mine")) == []
    assert api.validate_member(
        "tags", tags("Cdk-Ota-Update:mine", "aws:x"), rules=api.RESOURCE_RULES
    ) == [
        V(
            "tags[0].Key",
            "Cdk-Ota-Update:mine",
            "a string not starting with cdk-ota-update:",
            "the cdk-ota-update: prefix is reserved for the library's ownership tags",
        ),
        V(
            "tags[1].Key",
            "aws:x",
            "a string not starting with aws:",
            "the aws: prefix is reserved for AWS",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Values of the wrong type: a violation each, never an exception
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"targets": TARGET}, [V("targets", TARGET, "a list")]),
        ({"targets": TARGET.encode()}, [V("targets", TARGET.encode(), "a list")]),
        ({"targets": {"a": TARGET}}, [V("targets", {"a": TARGET}, "a list")]),
        ({"protocols": [["MQTT"], "MQTT"]}, [V("protocols[0]", ["MQTT"], "a string")]),
        (
            {"awsJobPresignedUrlConfig": "60"},
            [
                V(
                    "awsJobPresignedUrlConfig",
                    "60",
                    "a structure (AwsJobPresignedUrlConfig: expiresInSec)",
                )
            ],
        ),
        (
            {"awsJobTimeoutConfig": ["1"]},
            [
                V(
                    "awsJobTimeoutConfig",
                    ["1"],
                    "a structure (AwsJobTimeoutConfig: inProgressTimeoutInMinutes)",
                )
            ],
        ),
        (
            {"additionalParameters": "k=v"},
            [V("additionalParameters", "k=v", "a map of strings to strings")],
        ),
        (
            {"additionalParameters": {1: "v", "k": 2}},
            [
                V("additionalParameters key", 1, "a string"),
                V("additionalParameters['k']", 2, "a string"),
            ],
        ),
        (
            {"tags": ["a=b", {"Key": ["k"]}, {"Key": ["k"]}]},
            [
                V("tags[0]", "a=b", "a structure (Tag: Key, Value)"),
                V("tags[1].Key", ["k"], "a string"),
                V("tags[2].Key", ["k"], "a string"),
            ],
        ),
        (
            {"awsJobExecutionsRolloutConfig": {"maximumPerMinute": "5", "maximumperminute": 5}},
            [
                V(
                    "awsJobExecutionsRolloutConfig.maximumperminute",
                    5,
                    "absent: AwsJobExecutionsRolloutConfig has no member 'maximumperminute' "
                    "(its members are maximumPerMinute, exponentialRate)",
                ),
                V("awsJobExecutionsRolloutConfig.maximumPerMinute", "5", "an integer"),
            ],
        ),
        (
            {"awsJobExecutionsRolloutConfig": {"maximumPerMinute": 1001}},
            [
                V(
                    "awsJobExecutionsRolloutConfig.maximumPerMinute",
                    1001,
                    "an integer from 1 to 1000",
                )
            ],
        ),
    ],
)
def test_wrong_types_are_violations(members: dict[str, Any], expected: list[Any]) -> None:
    assert api.validate({**VALID, **members}) == expected


def test_a_signature_is_bytes() -> None:
    signature = {"customCodeSigning": {"signature": {"inlineDocument": "c2ln"}}}
    (found,) = with_file(codeSigning=signature)
    assert found == V(
        "files[0].codeSigning.customCodeSigning.signature.inlineDocument",
        "c2ln",
        "binary data (bytes)",
    )
    assert found.why is None
    assert str(V("x", b"\x00" * 3, "y")) == "x = <3 bytes> is invalid: it must be y"


def test_unknown_members_are_named_with_the_shapes_members() -> None:
    assert check(Targets=[TARGET]) == [
        f"Targets = ['{TARGET}'] is invalid: it must be absent: CreateOTAUpdateRequest has no "
        "member 'Targets' (its members are otaUpdateId, description, targets, protocols, "
        "targetSelection, awsJobExecutionsRolloutConfig, awsJobPresignedUrlConfig, "
        "awsJobAbortConfig, awsJobTimeoutConfig, files, roleArn, additionalParameters, tags)"
    ]


def test_teardown_flags_are_booleans() -> None:
    shape = api.operation_input("DeleteOTAUpdate")
    flags = api.from_cloudformation({"deleteStream": "TRUE", "forceDeleteAWSJob": "no"}, shape)
    assert flags == {"deleteStream": True, "forceDeleteAWSJob": "no"}
    assert api.validate({**flags, "otaUpdateId": "fw-1"}, shape=shape, rules={}) == [
        V("forceDeleteAWSJob", "no", "a boolean (true or false)")
    ]
    assert api.from_cloudformation({"deleteStream": "False"}, shape) == {"deleteStream": False}
    assert api.from_cloudformation({"deleteStream": True}, shape) == {"deleteStream": True}


# ---------------------------------------------------------------------------------------------
# Skipped values (unresolved CDK tokens) and patterns with Unicode categories
# ---------------------------------------------------------------------------------------------
def test_skipped_values_are_not_checked_nor_counted_as_repeats() -> None:
    token = "${Token[T.1]}"

    def skip(value: Any) -> bool:
        return isinstance(value, str) and value == token

    request = {**VALID, "protocols": [token, token], "tags": tags(token, token), "targets": [token]}
    assert api.validate(request, skip=skip) == []
    assert api.validate_member("tags", tags(token, "aws:x"), skip=skip) == [
        V(
            "tags[1].Key",
            "aws:x",
            "a string not starting with aws:",
            "the aws: prefix is reserved for AWS",
        )
    ]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Version X 1.2 é", True),
        ("\uffff", False),
        ("a\ufffeb", False),
        ("\ufdd0", False),
        ("\uffff\ufffe ok", False),
        ("\uffff\ufffe\ufdd0", False),  # every character the pattern's stand-in once tried
        ("\U0010ffff\uffff\ufffe\ufdd0 é", False),
        ("zero\u200bwidth", False),
    ],
)
def test_descriptions_refuse_other_characters(text: str, ok: bool) -> None:
    found = api.validate({**VALID, "description": text})
    assert found == (
        [] if ok else [V("description", text, r"a string matching the pattern [^\p{C}]+")]
    )


def test_tag_keys_take_letters_spaces_digits_and_punctuation() -> None:
    assert check(tags=tags("Équipe 7_.:/=+-@")) == []
    (found,) = check(tags=tags("a#b"))
    assert found.startswith("tags[0].Key = 'a#b' is invalid: it must be a string matching")


# ---------------------------------------------------------------------------------------------
# CloudFormation's strings and back
# ---------------------------------------------------------------------------------------------
def test_cloudformation_strings_become_the_apis_types() -> None:
    properties = {
        "otaUpdateId": "fw-1",
        "targets": [TARGET],
        "awsJobExecutionsRolloutConfig": {
            "maximumPerMinute": "5",
            "exponentialRate": {
                "baseRatePerMinute": "2",
                "incrementFactor": "1.5",
                "rateIncreaseCriteria": {"numberOfNotifiedThings": "10"},
            },
        },
        "awsJobPresignedUrlConfig": {"expiresInSec": "3600"},
        "files": [
            {
                "fileType": "7",
                "attributes": {"k": "1"},
                "codeSigning": {"customCodeSigning": {"signature": {"inlineDocument": "aGk="}}},
            }
        ],
        "additionalParameters": {"n": "5"},
        "unknown": "5",
    }
    assert api.from_cloudformation(properties, api.create_request_shape()) == {
        "otaUpdateId": "fw-1",
        "targets": [TARGET],
        "awsJobExecutionsRolloutConfig": {
            "maximumPerMinute": 5,
            "exponentialRate": {
                "baseRatePerMinute": 2,
                "incrementFactor": 1.5,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 10},
            },
        },
        "awsJobPresignedUrlConfig": {"expiresInSec": 3600},
        "files": [
            {
                "fileType": 7,
                "attributes": {"k": "1"},
                "codeSigning": {"customCodeSigning": {"signature": {"inlineDocument": b"hi"}}},
            }
        ],
        "additionalParameters": {"n": "5"},
        "unknown": "5",
    }


@pytest.mark.parametrize(
    ("members", "path", "value", "expected"),
    [
        (
            {"awsJobPresignedUrlConfig": {"expiresInSec": "60.5"}},
            "awsJobPresignedUrlConfig.expiresInSec",
            "60.5",
            "an integer",
        ),
        (
            {"awsJobPresignedUrlConfig": {"expiresInSec": ["60"]}},
            "awsJobPresignedUrlConfig.expiresInSec",
            ["60"],
            "an integer",
        ),
        (
            {"awsJobTimeoutConfig": {"inProgressTimeoutInMinutes": "ten"}},
            "awsJobTimeoutConfig.inProgressTimeoutInMinutes",
            "ten",
            "an integer",
        ),
        ({"targets": TARGET}, "targets", TARGET, "a list"),
        (
            {"additionalParameters": "k=v"},
            "additionalParameters",
            "k=v",
            "a map of strings to strings",
        ),
        (
            {"awsJobPresignedUrlConfig": "3600"},
            "awsJobPresignedUrlConfig",
            "3600",
            "a structure (AwsJobPresignedUrlConfig: expiresInSec)",
        ),
        (
            {
                "files": [
                    {
                        **FILE,
                        "codeSigning": {
                            "customCodeSigning": {"signature": {"inlineDocument": "aGk=!"}}
                        },
                    }
                ]
            },
            "files[0].codeSigning.customCodeSigning.signature.inlineDocument",
            "aGk=!",
            "binary data (bytes)",
        ),
        (
            {
                "files": [
                    {
                        **FILE,
                        "codeSigning": {
                            "customCodeSigning": {"signature": {"inlineDocument": "aGk"}}
                        },
                    }
                ]
            },
            "files[0].codeSigning.customCodeSigning.signature.inlineDocument",
            "aGk",
            "binary data (bytes)",
        ),
    ],
)
def test_cloudformation_strings_that_do_not_convert_are_reported(
    members: dict[str, Any], path: str, value: Any, expected: str
) -> None:
    request = api.from_cloudformation({**VALID, **members}, api.create_request_shape())
    assert api.validate(request) == [V(path, value, expected)]


def test_requests_become_properties_and_back() -> None:
    request = {
        **VALID,
        "files": [
            {
                **FILE,
                "codeSigning": {
                    "customCodeSigning": {"signature": {"inlineDocument": b"\x00\xffsig"}}
                },
            }
        ],
        "tags": tags("a"),
    }
    properties = api.to_cloudformation(request)
    signature = properties["files"][0]["codeSigning"]["customCodeSigning"]["signature"]
    assert signature == {"inlineDocument": "AP9zaWc="}
    assert properties["tags"] == tags("a") and properties["targets"] == [TARGET]
    assert api.from_cloudformation(properties, api.create_request_shape()) == request
    assert api.to_cloudformation(bytearray(b"hi")) == "aGk="


# ---------------------------------------------------------------------------------------------
# The provider function's settings (its environment, documented in the README)
# ---------------------------------------------------------------------------------------------
def test_settings_default_to_the_documented_values() -> None:
    assert api.Settings.from_environment({}) == api.Settings(
        stack_id=None,
        max_wait_seconds=900.0,
        retry_seconds=40.0,
        handover_margin_seconds=None,
        max_handovers=20,
    )


def test_settings_are_read_from_the_documented_variables() -> None:
    environ = {
        "OTA_STACK_ID": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "OTA_MAX_WAIT_SECONDS": "1.5",
        "OTA_RETRY_SECONDS": "0",
        "OTA_HANDOVER_MARGIN_SECONDS": "25",
        "OTA_MAX_HANDOVERS": "0",
        "UNRELATED": "x",
    }
    settings = api.Settings.from_environment(environ)
    assert settings == api.Settings(
        stack_id="arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        max_wait_seconds=1.5,
        retry_seconds=0.0,
        handover_margin_seconds=25.0,
        max_handovers=0,
    )
    assert settings.to_environment() == {k: v for k, v in environ.items() if k != "UNRELATED"}


def test_settings_are_written_as_the_construct_sets_them() -> None:
    settings = api.Settings(stack_id="s", retry_seconds=2.5)
    assert settings.to_environment() == {
        "OTA_STACK_ID": "s",
        "OTA_MAX_WAIT_SECONDS": "900",
        "OTA_RETRY_SECONDS": "2.5",
        "OTA_MAX_HANDOVERS": "20",
    }
    assert api.Settings.from_environment(settings.to_environment()) == settings
    with pytest.raises(dataclasses.FrozenInstanceError):  # one value, passed down unchanged
        settings.retry_seconds = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        ("OTA_STACK_ID", "", "the stack's id"),
        ("OTA_MAX_WAIT_SECONDS", "-1", "seconds, 0 or more"),
        ("OTA_MAX_WAIT_SECONDS", "-0.5", "seconds, 0 or more"),
        ("OTA_RETRY_SECONDS", "inf", "seconds, 0 or more"),
        ("OTA_RETRY_SECONDS", "nan", "seconds, 0 or more"),
        ("OTA_HANDOVER_MARGIN_SECONDS", "soon", "seconds, 0 or more"),
        ("OTA_MAX_HANDOVERS", "-1", "a whole number, 0 or more"),
        ("OTA_MAX_HANDOVERS", "1.5", "a whole number, 0 or more"),
    ],
)
def test_a_bad_setting_is_named_with_its_value_and_the_fix(
    variable: str, text: str, expected: str
) -> None:
    with pytest.raises(api.SettingsError) as raised:
        api.Settings.from_environment({"OTA_MAX_WAIT_SECONDS": "60", variable: text})
    assert str(raised.value) == (
        f"{variable}={text!r} is invalid: {expected} expected (the provider's CDK construct sets "
        "it; fix or remove it in the function's environment)"
    )


# ---------------------------------------------------------------------------------------------
# The rollout gate: its wire names, its rules, its part of the time budget
# ---------------------------------------------------------------------------------------------
def test_the_rollout_gates_wire_names_are_the_contracts() -> None:
    assert api.ROLLOUT_GATE == "rolloutGate"
    assert api.GATE_CRITERIA == ("minSucceededPercentage", "maxFailedPercentage", "minExecutions")
    assert api.GATE_TIMEOUT_SECONDS == "timeoutSeconds"
    assert api.BESIDE_REQUEST == ("deleteStream", "forceDeleteAWSJob", "rolloutGate")


def test_cloudformations_strings_of_a_gate_become_numbers() -> None:
    given = {"rolloutGate": {"minSucceededPercentage": "95.5", "minExecutions": "10",
                             "maxFailedPercentage": "2", "timeoutSeconds": "1200"}}  # fmt: skip

    restored = api.from_cloudformation(given, api.rollout_gate_shape())

    assert restored == {
        "rolloutGate": {
            "minSucceededPercentage": 95.5,
            "minExecutions": 10,
            "maxFailedPercentage": 2.0,
            "timeoutSeconds": 1200,
        }
    }
    assert api.validate(restored, shape=api.rollout_gate_shape(), rules=api.GATE_RULES) == []


def test_a_gate_needs_a_timeout_and_a_criterion() -> None:
    violations = api.validate(
        {"rolloutGate": {"extra": 1}}, shape=api.rollout_gate_shape(), rules=api.GATE_RULES
    )

    assert [str(v) for v in violations] == [
        "rolloutGate.extra = 1 is invalid: it must be absent: RolloutGate has no member 'extra' "
        "(its members are minSucceededPercentage, maxFailedPercentage, minExecutions, "
        "timeoutSeconds)",
        "rolloutGate.timeoutSeconds = None is invalid: it must be given (it is required)",
        "rolloutGate = {'extra': 1} is invalid: it must be a structure with at least one of "
        "minSucceededPercentage, maxFailedPercentage, minExecutions (a gate passes or fails on "
        "the job's executions)",
    ]


@pytest.mark.parametrize("function_seconds", [180, 300, 600, 900])
def test_the_longest_gate_fills_cloudformations_limit_with_every_function_timeout(
    function_seconds: int,
) -> None:
    budget = api.TimeBudget(function_seconds)
    longest = api.TimeBudget(function_seconds, gate_seconds=budget.max_gate_seconds)

    assert longest.service_timeout_seconds == api.SERVICE_TIMEOUT_MAX
    assert budget.max_gate_seconds >= api.GATE_TIMEOUT_DEFAULT_SECONDS  # the default always fits
    # The gate's wait hands over as often as the creation's may, and that is enough for it.
    waits = budget.max_gate_seconds / (function_seconds - api.HANDOVER_MARGIN_SECONDS)
    assert waits <= api.Settings().max_handovers


def test_a_gate_grows_the_service_timeout_by_its_timeout() -> None:
    assert api.TimeBudget(gate_seconds=600).service_timeout_seconds == (
        api.TimeBudget().service_timeout_seconds + 600
    )
    assert api.TimeBudget(gate_seconds=600).max_gate_seconds == api.TimeBudget().max_gate_seconds
