"""Input the README invites, checked at synth: wrong shapes, helper names around tokens, ids
unique in a stack, the tag budget, firmware that is not a file, a role IoT cannot assume."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer
from cdk_support import firmware, ota, ota_properties, stack, template

from cdk_ota_update import (
    AwsJobPresignedUrlConfig,
    CodeSigning,
    FileLocation,
    OtaTarget,
    OtaUpdateFile,
    OtaUpdateValidationError,
    S3Location,
    api,
)

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

GROUP_ARN = "arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet"
PSEUDO_ARN = r"'arn:\$\{AWS::Partition\}:iot:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"


def _file(location: FileLocation) -> OtaUpdateFile:
    return OtaUpdateFile(file_location=location, code_signing=CodeSigning(aws_signer_job_id="j"))


def _tags(count: int) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(count)}


def _firmware_dir(s: cdk.Stack, tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "fw.bin").write_bytes(b"firmware")
    return {"files": [_file(FileLocation.from_asset(str(tmp_path)))]}


# (case, props given the stack and a temporary folder, the message's pattern: field, value, fix)
BAD: list[tuple[str, Callable[[cdk.Stack, Path], dict[str, Any]], str]] = [
    (
        "thing group name with a space",
        lambda s, _: {"targets": [OtaTarget.thing_group("my group!")]},
        rf"targets\[0\] = {PSEUDO_ARN}thinggroup/my group!' is invalid: .*names are 1-128 of",
    ),
    (
        "empty thing group name",
        lambda s, _: {"targets": [OtaTarget.thing_group("")]},
        rf"targets\[0\] = {PSEUDO_ARN}thinggroup/' is invalid",
    ),
    (
        "thing group name with a slash",
        lambda s, _: {"targets": [OtaTarget.thing_group("a/b")]},
        rf"targets\[0\] = {PSEUDO_ARN}thinggroup/a/b' is invalid",
    ),
    (
        "thing name too long",
        lambda s, _: {"targets": [OtaTarget.thing("t" * 129)]},
        rf"targets\[0\] = {PSEUDO_ARN}thing/t+' is invalid",
    ),
    (
        "S3 location without a key",
        lambda s, _: {"files": [_file(FileLocation(s3_location=S3Location(bucket="b")))]},
        r"files\[0\]\.fileLocation\.s3Location\.key = None is invalid: it must be given \(it is "
        r"required\) \(the service reads the file from that bucket and key\)$",
    ),
    (
        "targets as one string",
        lambda s, _: {"targets": GROUP_ARN},
        rf"targets = '{GROUP_ARN}' is invalid: it must be a list$",
    ),
    (
        "protocols as one string",
        lambda s, _: {"protocols": "MQTT"},
        r"protocols = 'MQTT' is invalid: it must be a list$",
    ),
    (
        "a FileLocation where an OtaUpdateFile belongs",
        lambda s, _: {"files": [FileLocation(stream=None, s3_location=S3Location("b", "k"))]},
        r"files\[0\] = FileLocation\(.*\) is invalid: it must be a structure \(OTAUpdateFile: "
        r"fileName, fileType",
    ),
    (
        "one OtaUpdateFile instead of a list",
        lambda s, _: {"files": _file(FileLocation(s3_location=S3Location("b", "k")))},
        r"files = OtaUpdateFile\(file_location=.* is invalid: it must be a list$",
    ),
    (
        "a config of another shape",
        lambda s, _: {"aws_job_timeout_config": AwsJobPresignedUrlConfig(60)},
        r"awsJobTimeoutConfig = AwsJobPresignedUrlConfig\(expires_in_sec=60\) is invalid: it "
        r"must be a structure \(AwsJobTimeoutConfig: inProgressTimeoutInMinutes\)",
    ),
    (
        "tags as a list",
        lambda s, _: {"tags": [{"Key": "k", "Value": "v"}]},
        r"tags = \[\{'Key': 'k', 'Value': 'v'\}\] is invalid: it must be a mapping of tag keys",
    ),
    (
        "more user tags than IoT leaves beside the ownership tags",
        lambda s, _: {"tags": _tags(api.USER_TAG_BUDGET + 1)},
        rf"tags = .* is invalid: it must be at most {api.USER_TAG_BUDGET} items \(given: "
        rf"{api.USER_TAG_BUDGET + 1}\) \(IoT allows 50 tags per resource and the handler adds",
    ),
    (
        "a tag key in the library's ownership namespace",
        lambda s, _: {"tags": {"cdk-ota-update:owner": "me"}},
        r"tags\[0\]\.Key = 'cdk-ota-update:owner' is invalid: it must be a string not starting "
        r"with cdk-ota-update: \(the cdk-ota-update: prefix is reserved",
    ),
    (
        "a directory as firmware",
        _firmware_dir,
        r"^Test/Ota/File0: fileLocation = FileLocation\.from_asset\('.*'\) is invalid: it must "
        r"be a file, not a directory .*give the path of the firmware image",
    ),
]


@pytest.mark.parametrize(("props", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_path_field_value_and_fix(
    props: Callable[[cdk.Stack, Path], dict[str, Any]], pattern: str, tmp_path: Path
) -> None:
    s = stack()
    with pytest.raises(OtaUpdateValidationError) as raised:
        ota(s, **props(s, tmp_path))
    lines = str(raised.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Test/Ota")
    assert re.search(pattern, lines[0]), lines[0]


def test_a_user_tag_budget_of_exactly_the_free_tags_passes() -> None:
    s = stack()
    ota(s, tags=_tags(api.USER_TAG_BUDGET))
    (props,) = ota_properties(s)
    assert len(props["tags"]) == api.USER_TAG_BUDGET == 50 - len(api.OWNER_TAGS)


def test_tags_of_past_the_budget_fails_synth() -> None:
    s = stack()
    ota(s, tags=_tags(api.USER_TAG_BUDGET))
    cdk.Tags.of(s).add("cost-center", "42")
    with pytest.raises(Exception, match=rf"tags = .* at most {api.USER_TAG_BUDGET} items"):
        template(s)


def test_a_fixed_id_is_unique_in_its_stack() -> None:
    s = stack()
    ota(s, "First", ota_update_id="fw-1")
    with pytest.raises(
        OtaUpdateValidationError,
        match=r"^Test/Second: otaUpdateId = 'fw-1' is invalid: it must be unique in the stack, "
        r"and Test/First has it already",
    ):
        ota(s, "Second", ota_update_id="fw-1")


def test_the_same_fixed_id_in_two_stacks_and_distinct_ids_in_one_pass() -> None:
    app = cdk.App()
    first, second = cdk.Stack(app, "A"), cdk.Stack(app, "B")
    ota(first, "Ota", ota_update_id="fw-1")
    ota(first, "Other", ota_update_id="fw-2")
    ota(second, "Ota", ota_update_id="fw-1")
    assert [p["otaUpdateId"] for p in ota_properties(first)] == ["fw-1", "fw-2"]
    assert [p["otaUpdateId"] for p in ota_properties(second)] == ["fw-1"]


def test_helper_names_around_tokens_pass_and_token_names_are_left_to_deploy() -> None:
    s = stack()
    name = cdk.CfnParameter(s, "Group").value_as_string
    ota(
        s,
        targets=[
            OtaTarget.thing_group("fleet-eu_1:a"),
            OtaTarget.thing_group(name),
            OtaTarget.thing("device-1"),
        ],
    )
    (props,) = ota_properties(s)
    assert len(props["targets"]) == 3


def test_a_role_iot_cannot_assume_fails_synth_once_naming_its_users() -> None:
    s = stack()
    role = iam.Role(s, "LambdaRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    ota(s, role=role)
    ota(s, "Second", role=role)
    with pytest.raises(Exception) as raised:
        template(s)
    message = str(raised.value)
    assert message.count("LambdaRole is invalid") == 1
    assert re.search(
        r"Test/Ota \(and 1 other OtaUpdates\): role = Test/LambdaRole is invalid: its trust policy "
        r"must allow sts:AssumeRole to the service principal iot\.amazonaws\.com .*"
        r"assumed_by=iam\.ServicePrincipal",
        message,
    ), message


@pytest.mark.parametrize(
    "principal",
    [
        pytest.param(lambda: iam.ServicePrincipal("iot.amazonaws.com"), id="iot"),
        pytest.param(
            lambda: iam.CompositePrincipal(
                iam.ServicePrincipal("lambda.amazonaws.com"),
                iam.ServicePrincipal("iot.amazonaws.com"),
            ),
            id="composite",
        ),
    ],
)
def test_a_role_iot_can_assume_passes(principal: Callable[[], iam.IPrincipal]) -> None:
    s = stack()
    ota(s, role=iam.Role(s, "Role", assumed_by=principal()))
    assert len(ota_properties(s)) == 1


def test_an_imported_role_is_not_judged_by_its_trust() -> None:
    s = stack()
    role = iam.Role.from_role_arn(s, "Imported", "arn:aws:iam::123456789012:role/ota-service")
    ota(s, role=role, files=[firmware(s)])
    assert len(ota_properties(s)) == 1


def _staged() -> cdk.Stack:
    """A stack of a pipeline's stage: its account and Region known at synth."""
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    return cdk.Stack(cdk.App(), "Test", env=env)


@pytest.mark.parametrize(
    ("target", "what", "theirs", "ours"),
    [
        ("arn:aws:iot:us-east-1:111111111111:thinggroup/fleet", "Region", "us-east-1", "eu-west-1"),
        (
            "arn:aws:iot:eu-west-1:222222222222:thing/dev-1",
            "account",
            "222222222222",
            "111111111111",
        ),
    ],
    ids=["other-region", "other-account"],
)
def test_a_target_of_another_region_or_account_than_the_stacks_fails_synth(
    target: str, what: str, theirs: str, ours: str
) -> None:
    with pytest.raises(OtaUpdateValidationError) as raised:
        ota(_staged(), targets=[OtaTarget.thing_group("a"), target])

    assert str(raised.value).startswith(
        f"Test/Ota: targets[1] = '{target}' is invalid: its {what} is {theirs}, the stack's is "
        f"{ours}: an OTA update reaches only the things of its own account and Region"
    )


def test_targets_of_the_stacks_own_account_and_region_pass() -> None:
    s = _staged()
    ota(s, targets=["arn:aws:iot:eu-west-1:111111111111:thinggroup/fleet"])
    assert ota_properties(s)[0]["targets"] == [
        "arn:aws:iot:eu-west-1:111111111111:thinggroup/fleet"
    ]


def test_a_continuous_job_without_forced_deletion_warns_at_synth() -> None:
    s, quiet = stack(), stack()
    ota(s, target_selection="CONTINUOUS", force_delete_aws_job=False)
    ota(quiet, target_selection="CONTINUOUS")

    warning = cdk.assertions.Match.string_like_regexp(
        "target_selection=CONTINUOUS with force_delete_aws_job=False: .* leave "
        r"force_delete_aws_job at its default \(true\)"
    )
    cdk.assertions.Annotations.from_stack(s).has_warning("/Test/Ota", warning)
    cdk.assertions.Annotations.from_stack(quiet).has_no_warning("*", warning)


@pytest.mark.parametrize(
    ("platform", "why"),
    [
        (
            "AMAZON_FREE_RTOS_DEFAULT",
            "AmazonFreeRTOS-Default and CloudFormation cannot create it "
            r"\(AWS::Signer::SigningProfile accepts only AWSLambda-SHA384-ECDSA and "
            r"Notation-OCI-SHA384-ECDSA\)",
        ),
        (
            "AWS_LAMBDA_SHA384_ECDSA",
            "AWSLambda-SHA384-ECDSA and that platform signs Lambda code or container images, "
            "not firmware",
        ),
    ],
    ids=["freertos", "lambda"],
)
def test_a_signing_profile_declared_in_the_app_fails_synth_saying_how_to_import_one(
    platform: str, why: str
) -> None:
    s = stack()
    profile = signer.SigningProfile(s, "Signer", platform=getattr(signer.Platform, platform))
    signing = CodeSigning.from_signing_profile(profile, destination=s3.Bucket(s, "Signed"))

    with pytest.raises(OtaUpdateValidationError) as raised:
        ota(s, files=[OtaUpdateFile(firmware(s).file_location, code_signing=signing)])

    assert re.fullmatch(
        rf"Test/Ota: files\[0\]\.codeSigning = CodeSigning\.from_signing_profile\(Test/Signer\) "
        rf"is invalid: the profile's platform is {why}: create a profile of a FreeRTOS or IoT "
        r"platform .* import it with signer\.SigningProfile\.from_signing_profile_attributes"
        r"\(\.\.\.\) \(docs/deploy\.md\)",
        str(raised.value),
    ), str(raised.value)


def test_an_imported_signing_profile_passes() -> None:
    s = stack()
    profile = signer.SigningProfile.from_signing_profile_attributes(
        s, "Signer", signing_profile_name="fleetSigner", signing_profile_version="v1"
    )
    signing = CodeSigning.from_signing_profile(profile, destination=s3.Bucket(s, "Signed"))
    ota(s, files=[OtaUpdateFile(firmware(s).file_location, code_signing=signing)])

    job = ota_properties(s)[0]["files"][0]["codeSigning"]["startSigningJobParameter"]
    assert job["signingProfileName"] == "fleetSigner"


def _signed_from(bucket: s3.IBucket) -> OtaUpdateFile:
    """Firmware in ``bucket`` that AWS Signer signs (with an imported profile)."""
    s = cdk.Stack.of(bucket)
    profile = signer.SigningProfile.from_signing_profile_attributes(
        s, "Signer", signing_profile_name="fleetSigner", signing_profile_version="v1"
    )
    return OtaUpdateFile(
        file_name="firmware.bin",
        file_location=FileLocation.from_bucket(bucket, "fw/v1/firmware.bin"),
        code_signing=CodeSigning.from_signing_profile(profile, destination=bucket),
    )


def test_a_file_signer_signs_in_an_unversioned_bucket_of_the_app_fails_synth() -> None:
    s = stack()
    bucket = s3.Bucket(s, "Firmware")
    ota(s, "Good", files=[firmware(s)])
    ota(s, "Bad", files=[firmware(s), _signed_from(bucket)])

    with pytest.raises(Exception) as raised:  # CDK's validation error, listing each failure
        template(s)

    assert (
        "Test/Bad: files[1].fileLocation = FileLocation.from_bucket(Test/Firmware, ...) is "
        "invalid: AWS Signer signs the file (files[1].codeSigning.startSigningJobParameter) and "
        "signs only objects of a versioned bucket (StartSigningJob: 'Your S3 source bucket must "
        "be version enabled'), and Test/Firmware is not versioned: declare it with "
        "versioned=True, or sign the file yourself"
    ) in str(raised.value)
    assert "Test/Good" not in str(raised.value)


@pytest.mark.parametrize(
    "bucket",
    [
        lambda s: s3.Bucket(s, "Firmware", versioned=True),
        lambda s: s3.Bucket.from_bucket_name(s, "Firmware", "imported-firmware"),
    ],
    ids=["versioned", "imported"],
)
def test_a_file_signer_signs_in_a_versioned_or_imported_bucket_passes(
    bucket: Callable[[cdk.Stack], s3.IBucket],
) -> None:
    s = stack()
    ota(s, files=[_signed_from(bucket(s))])
    (props,) = ota_properties(s)
    assert props["files"][0]["fileLocation"]["s3Location"]["key"] == "fw/v1/firmware.bin"


def test_a_bucket_made_versioned_after_the_ota_update_passes() -> None:
    s = stack()
    bucket = s3.Bucket(s, "Firmware")
    ota(s, files=[_signed_from(bucket)])
    versioning = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
    cast(s3.CfnBucket, bucket.node.default_child).versioning_configuration = versioning
    assert len(ota_properties(s)) == 1


def test_an_unversioned_bucket_of_a_file_signed_beforehand_passes() -> None:
    s = stack()
    s3.Bucket(s, "FirmwareBucket")  # firmware(s)'s bucket, its file signed by an AWS Signer job
    ota(s, files=[firmware(s)])
    assert len(ota_properties(s)) == 1


def test_two_files_of_one_ota_update_with_the_same_name_warn_at_synth() -> None:
    s, quiet = stack(), stack()
    ota(s, files=[firmware(s), firmware(s, key="fw/v2/a.bin"), firmware(s, key="fw/v2/b.bin")])
    ota(quiet, "A", files=[firmware(quiet)])
    ota(quiet, "B", files=[firmware(quiet, key="fw/v2/a.bin")])  # one name in two OTA updates

    warning = cdk.assertions.Match.string_like_regexp(
        r"files\[0\] and files\[(1|2)\] have the same file_name 'firmware.bin': a device stores "
        "each file of the job under its file_name, so the later one overwrites the earlier"
    )
    found = cdk.assertions.Annotations.from_stack(s).find_warning("/Test/Ota", warning)
    assert len(found) == 2
    cdk.assertions.Annotations.from_stack(quiet).has_no_warning("*", warning)
