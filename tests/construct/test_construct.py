"""The OtaUpdate construct, through aws_cdk.assertions.Template."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer
from aws_cdk.assertions import Match, Template
from botocore import xform_name
from cdk_support import firmware, ota, ota_properties, stack, template
from constructs import Construct
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

import cdk_ota_update as lib
from cdk_ota_update import (
    AwsJobAbortConfig,
    AwsJobAbortCriteria,
    AwsJobExecutionsRolloutConfig,
    AwsJobExponentialRolloutRate,
    AwsJobPresignedUrlConfig,
    AwsJobRateIncreaseCriteria,
    AwsJobTimeoutConfig,
    CodeSigning,
    CodeSigningCertificateChain,
    CodeSigningSignature,
    CustomCodeSigning,
    Destination,
    FileLocation,
    OtaTarget,
    OtaUpdateFile,
    S3Destination,
    S3Location,
    SigningProfileParameter,
    StartSigningJobParameter,
    Stream,
    api,
)

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

SIGNATURE = b"\x30\x45\x02\x20signature-bytes\xff"

# Each dataclass and the API shape it mirrors.
SHAPES = [
    (lib.AwsJobExecutionsRolloutConfig, "AwsJobExecutionsRolloutConfig"),
    (lib.AwsJobExponentialRolloutRate, "AwsJobExponentialRolloutRate"),
    (lib.AwsJobRateIncreaseCriteria, "AwsJobRateIncreaseCriteria"),
    (lib.AwsJobPresignedUrlConfig, "AwsJobPresignedUrlConfig"),
    (lib.AwsJobAbortConfig, "AwsJobAbortConfig"),
    (lib.AwsJobAbortCriteria, "AwsJobAbortCriteria"),
    (lib.AwsJobTimeoutConfig, "AwsJobTimeoutConfig"),
    (lib.OtaUpdateFile, "OTAUpdateFile"),
    (lib.FileLocation, "FileLocation"),
    (lib.Stream, "Stream"),
    (lib.S3Location, "S3Location"),
    (lib.CodeSigning, "CodeSigning"),
    (lib.StartSigningJobParameter, "StartSigningJobParameter"),
    (lib.SigningProfileParameter, "SigningProfileParameter"),
    (lib.Destination, "Destination"),
    (lib.S3Destination, "S3Destination"),
    (lib.CustomCodeSigning, "CustomCodeSigning"),
    (lib.CodeSigningSignature, "CodeSigningSignature"),
    (lib.CodeSigningCertificateChain, "CodeSigningCertificateChain"),
]


@pytest.mark.parametrize(("cls", "shape_name"), SHAPES, ids=[s for _, s in SHAPES])
def test_dataclass_mirrors_every_member_of_its_shape(cls: type, shape_name: str) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    assert fields == {xform_name(m) for m in api.shape(shape_name).members}


def test_construct_takes_every_request_member() -> None:
    import inspect

    params = set(inspect.signature(lib.OtaUpdate.__init__).parameters)
    members = {xform_name(m) for m in api.create_request_shape().members} - {"role_arn"}
    assert members | {"role"} <= params


@pytest.mark.parametrize(
    ("enum", "shape_name"),
    [
        (lib.Protocol, "Protocol"),
        (lib.TargetSelection, "TargetSelection"),
        (lib.AwsJobAbortCriteriaFailureType, "AwsJobAbortCriteriaFailureType"),
        (lib.AwsJobAbortCriteriaAbortAction, "AwsJobAbortCriteriaAbortAction"),
    ],
)
def test_enums_are_the_models_enums(enum: Any, shape_name: str) -> None:
    assert [e.value for e in enum] == api.shape(shape_name).enum


def full_request_stack() -> cdk.Stack:
    s = stack()
    ota(
        s,
        ota_update_id="fw-2024-06",
        description="Every member",
        targets=["arn:aws:iot:eu-west-1:123456789012:thing/device-1"],
        protocols=["MQTT", lib.Protocol.HTTP],
        target_selection=lib.TargetSelection.SNAPSHOT,
        aws_job_executions_rollout_config=AwsJobExecutionsRolloutConfig(
            maximum_per_minute=50,
            exponential_rate=AwsJobExponentialRolloutRate(
                base_rate_per_minute=2,
                increment_factor=1.5,
                rate_increase_criteria=AwsJobRateIncreaseCriteria(number_of_notified_things=5),
            ),
        ),
        aws_job_presigned_url_config=AwsJobPresignedUrlConfig(expires_in_sec=600),
        aws_job_abort_config=AwsJobAbortConfig(
            abort_criteria_list=[AwsJobAbortCriteria("ALL", "CANCEL", 12.25, 3)]
        ),
        aws_job_timeout_config=AwsJobTimeoutConfig(in_progress_timeout_in_minutes=30),
        files=[
            OtaUpdateFile(
                file_name="app.bin",
                file_type=7,
                file_version="2.0",
                file_location=FileLocation(
                    s3_location=S3Location(bucket="fw-bucket", key="app.bin", version="v3")
                ),
                code_signing=CodeSigning(
                    custom_code_signing=CustomCodeSigning(
                        signature=CodeSigningSignature(inline_document=SIGNATURE),
                        certificate_chain=CodeSigningCertificateChain("cert", "Q0VSVA=="),
                        hash_algorithm="SHA256",
                        signature_algorithm="ECDSA",
                    )
                ),
                attributes={"slot": "b"},
            ),
            OtaUpdateFile(
                file_name="boot.bin",
                file_location=FileLocation(stream=Stream(stream_id="boot-stream", file_id=0)),
                code_signing=CodeSigning(
                    start_signing_job_parameter=StartSigningJobParameter(
                        signing_profile_parameter=SigningProfileParameter(
                            certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/abc",
                            platform="AmazonFreeRTOS-Default",
                            certificate_path_on_device="/cert.pem",
                        ),
                        signing_profile_name="profile",
                        destination=Destination(S3Destination(bucket="signed", prefix="out/")),
                    )
                ),
            ),
        ],
        additional_parameters={"key": "value"},
        tags={"team": "firmware"},
        delete_stream=False,
        force_delete_aws_job=True,
    )
    return s


@pytest.fixture(scope="module")
def full_request() -> Template:
    """The template of ``full_request_stack()``, synthesized once for the tests that read it."""
    return template(full_request_stack())


def test_every_member_renders_under_its_api_name(full_request: Template) -> None:
    (props,) = [r["Properties"] for r in full_request.find_resources("Custom::OtaUpdate").values()]
    props.pop("ServiceToken")
    props.pop("ServiceTimeout")
    props.pop("roleArn")
    props.pop("targets")
    assert props == {
        "otaUpdateId": "fw-2024-06",
        "description": "Every member",
        "protocols": ["MQTT", "HTTP"],
        "targetSelection": "SNAPSHOT",
        "awsJobExecutionsRolloutConfig": {
            "maximumPerMinute": 50,
            "exponentialRate": {
                "baseRatePerMinute": 2,
                "incrementFactor": 1.5,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 5},
            },
        },
        "awsJobPresignedUrlConfig": {"expiresInSec": 600},
        "awsJobAbortConfig": {
            "abortCriteriaList": [
                {
                    "failureType": "ALL",
                    "action": "CANCEL",
                    "thresholdPercentage": 12.25,
                    "minNumberOfExecutedThings": 3,
                }
            ]
        },
        "awsJobTimeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "files": [
            {
                "fileName": "app.bin",
                "fileType": 7,
                "fileVersion": "2.0",
                "fileLocation": {
                    "s3Location": {"bucket": "fw-bucket", "key": "app.bin", "version": "v3"}
                },
                "codeSigning": {
                    "customCodeSigning": {
                        "signature": {"inlineDocument": base64.b64encode(SIGNATURE).decode()},
                        "certificateChain": {
                            "certificateName": "cert",
                            "inlineDocument": "Q0VSVA==",
                        },
                        "hashAlgorithm": "SHA256",
                        "signatureAlgorithm": "ECDSA",
                    }
                },
                "attributes": {"slot": "b"},
            },
            {
                "fileName": "boot.bin",
                "fileLocation": {"stream": {"streamId": "boot-stream", "fileId": 0}},
                "codeSigning": {
                    "startSigningJobParameter": {
                        "signingProfileParameter": {
                            "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
                            "platform": "AmazonFreeRTOS-Default",
                            "certificatePathOnDevice": "/cert.pem",
                        },
                        "signingProfileName": "profile",
                        "destination": {"s3Destination": {"bucket": "signed", "prefix": "out/"}},
                    }
                },
            },
        ],
        "additionalParameters": {"key": "value"},
        "tags": [{"Key": "team", "Value": "firmware"}],
        "deleteStream": False,
        "forceDeleteAWSJob": True,
    }


def test_targets_and_role_render_as_references() -> None:
    s = stack()
    ota(s, targets=["arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet"])
    template(s).has_resource_properties(
        "Custom::OtaUpdate",
        {
            "ServiceToken": {
                "Fn::GetAtt": [Match.string_like_regexp("OtaUpdateProviderFunction"), "Arn"]
            },
            "targets": ["arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet"],
            "roleArn": {"Fn::GetAtt": [Match.string_like_regexp("OtaUpdateServiceRole"), "Arn"]},
            "deleteStream": True,
            "forceDeleteAWSJob": True,
        },
    )


def test_a_lost_answer_fails_the_deploy_in_minutes_after_the_handlers_own_bound() -> None:
    s = stack()
    ota(s)
    (props,) = ota_properties(s)
    (function,) = template(s).find_resources("AWS::Lambda::Function").values()
    max_wait = int(function["Properties"]["Environment"]["Variables"]["OTA_MAX_WAIT_SECONDS"])
    assert max_wait < int(props["ServiceTimeout"]) <= 30 * 60


def test_thing_and_thing_group_targets_are_arns_of_the_stack() -> None:
    s = stack()
    ota(s, targets=[OtaTarget.thing("dev-1"), OtaTarget.thing_group("fleet")])
    (props,) = ota_properties(s)
    joined = [
        "".join(p if isinstance(p, str) else "{}" for p in t["Fn::Join"][1])
        for t in props["targets"]
    ]
    assert joined == ["arn:{}:iot:{}:{}:thing/dev-1", "arn:{}:iot:{}:{}:thinggroup/fleet"]


def test_three_ota_updates_share_one_provider_and_one_role() -> None:
    s = stack()
    for index in range(3):
        ota(s, f"Ota{index}")
    t = template(s)
    t.resource_count_is("Custom::OtaUpdate", 3)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.resource_count_is("AWS::IAM::Role", 2)  # the provider's and the shared service role


def test_provider_is_a_plain_custom_resource_on_a_current_python() -> None:
    s = stack()
    ota(s)
    t = template(s)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {"Runtime": "python3.14", "Handler": "index.handler", "Timeout": Match.any_value()},
    )
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": Match.any_value()})
    assert not t.find_resources("AWS::CloudFormation::CustomResource")
    assert not t.find_resources("AWS::StepFunctions::StateMachine")


def _statements(t: Any) -> list[dict[str, Any]]:
    statements = []
    for policy in t.find_resources("AWS::IAM::Policy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_no_wildcard_actions_and_no_pass_role_on_everything(full_request: Template) -> None:
    t = full_request
    for statement in _statements(t):
        assert not any(a.endswith("*") for a in _actions(statement)), statement
        if statement["Resource"] in ("*", ["*"]):
            # The one action without resource-level permissions.
            assert _actions(statement) == ["iot:ListOTAUpdates"], statement
        if "iam:PassRole" in _actions(statement):
            assert statement["Condition"] == {
                "StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}
            }


def _resources_of(t: Any, action: str) -> list[Any]:
    found = []
    for statement in _statements(t):
        if action in _actions(statement):
            found += statement["Resource"]
    return found


def _arn_text(resource: Any) -> str:
    if isinstance(resource, str):
        return resource
    return "".join(p if isinstance(p, str) else "{}" for p in resource["Fn::Join"][1])


def test_service_role_reads_exactly_the_firmware_object_and_version() -> None:
    s = stack()
    ota(s, files=[_bucket_file(s, "fw/v2/app.bin", version="abc")])
    t = template(s)
    assert [_arn_text(r) for r in _resources_of(t, "s3:GetObjectVersion")] == [
        "arn:{}:s3:::firmware-bucket/fw/v2/app.bin"
    ] * 2  # the service role and the provider
    assert "arn:{}:s3:::firmware-bucket/fw/v2/app.bin" in {
        _arn_text(r) for r in _resources_of(t, "s3:GetObject")
    }


def _bucket_file(s: cdk.Stack, key: str, **kwargs: Any) -> OtaUpdateFile:
    bucket = s3.Bucket.from_bucket_name(s, f"B{key}", "firmware-bucket")
    return OtaUpdateFile(file_location=FileLocation.from_bucket(bucket, key, **kwargs))


def test_service_role_creates_exactly_its_job_on_its_targets() -> None:
    s = stack()
    ota(s, ota_update_id="fw-1", targets=["arn:aws:iot:eu-west-1:123456789012:thinggroup/g"])
    created = {_arn_text(r) for r in _resources_of(template(s), "iot:CreateJob")}
    assert created == {
        "arn:{}:iot:{}:{}:job/AFR_OTA-fw-1",
        "arn:aws:iot:eu-west-1:123456789012:thinggroup/g",
    }


def test_signing_profile_grants_exactly_that_profile_and_destination() -> None:
    s = stack()
    profile = signer.SigningProfile.from_signing_profile_attributes(
        s, "Profile", signing_profile_name="fleetSigner", signing_profile_version="h3Lq8ZrT1c"
    )
    destination = s3.Bucket(s, "Signed")
    ota(
        s,
        files=[
            OtaUpdateFile(
                file_location=FileLocation.from_bucket(
                    s3.Bucket.from_bucket_name(s, "Src", "src"), "a.bin"
                ),
                code_signing=CodeSigning.from_signing_profile(
                    profile, destination=destination, prefix="signed/"
                ),
            )
        ],
    )
    t = template(s)
    (props,) = ota_properties(s)
    job = props["files"][0]["codeSigning"]["startSigningJobParameter"]
    assert job["signingProfileName"] == "fleetSigner"
    assert job["destination"]["s3Destination"]["prefix"] == "signed/"
    started = [_arn_text(r) for r in _resources_of(t, "signer:StartSigningJob")]
    assert started and all(a.startswith("arn:{}:signer:{}:{}:/signing-profiles/") for a in started)
    written = [_arn_text(r) for r in _resources_of(t, "s3:PutObject")]
    assert written == ["arn:{}:s3:::{}/signed/*"]


def test_asset_firmware_is_uploaded_and_readable_exactly(tmp_path: Any) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\x7fFIRMWARE")
    s = stack()
    ota(s, files=[OtaUpdateFile(file_location=FileLocation.from_asset(str(image)))])
    (props,) = ota_properties(s)
    location = props["files"][0]["fileLocation"]["s3Location"]
    assert location["key"].endswith(".bin")
    assert location["key"] in {
        _arn_text(r).rsplit("/", 1)[1] for r in _resources_of(template(s), "s3:GetObject")
    }


def test_a_given_role_is_used_and_granted_instead_of_the_shared_one() -> None:
    s = stack()
    role = iam.Role(s, "Mine", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    ota(s, role=role)
    t = template(s)
    (props,) = ota_properties(s)
    assert props["roleArn"]["Fn::GetAtt"][0].startswith("Mine")
    assert s.node.try_find_child("OtaUpdateServiceRole") is None
    # A managed policy of the library's, so that the role's own inline policies keep their budget.
    (name,) = t.find_resources(
        "AWS::IAM::ManagedPolicy",
        {
            "Properties": {
                "Roles": [{"Ref": Match.string_like_regexp("Mine")}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [  # in this order
                            Match.object_like(
                                {"Action": "iam:GetRole", "Resource": [props["roleArn"]]}
                            ),
                            Match.object_like(
                                {"Action": "iam:PassRole", "Resource": [props["roleArn"]]}
                            ),
                            Match.object_like({"Action": "iot:CreateJob"}),
                        ]
                    )
                },
            }
        },
    )
    (update,) = t.find_resources("Custom::OtaUpdate").values()
    assert name in update["DependsOn"]
    assert props["roleArn"]["Fn::GetAtt"][0] in update["DependsOn"]


def test_teardown_flags_and_removal_policy_render() -> None:
    s = stack()
    ota(s, delete_stream=False, force_delete_aws_job=False, removal_policy=cdk.RemovalPolicy.RETAIN)
    t = template(s)
    t.has_resource("Custom::OtaUpdate", {"DeletionPolicy": "Retain"})
    t.has_resource_properties(
        "Custom::OtaUpdate", {"deleteStream": False, "forceDeleteAWSJob": False}
    )


def test_snapshot_removal_policy_is_refused() -> None:
    with pytest.raises(lib.OtaUpdateValidationError, match="removal_policy"):
        ota(stack(), removal_policy=cdk.RemovalPolicy.SNAPSHOT)


def test_tags_of_adds_tags_to_the_ota_update() -> None:
    s = stack()
    update = ota(s, tags={"team": "fw"})
    cdk.Tags.of(update).add("env", "prod")
    (props,) = ota_properties(s)
    assert props["tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "fw"}]


def test_a_bad_tag_added_by_tags_of_fails_synth() -> None:
    s = stack()
    update = ota(s)
    cdk.Tags.of(update).add("aws:reserved", "x")
    with pytest.raises(Exception, match=r"tags\[0\]\.Key"):
        template(s)


def test_tags_of_the_app_reach_every_ota_update_of_every_stack() -> None:
    app = cdk.App()
    first, second = cdk.Stack(app, "First"), cdk.Stack(app, "Second")
    nested = Construct(second, "Releases")
    ota(first, "A", tags={"team": "fw"})
    ota(first, "B")
    lib.OtaUpdate(nested, "C", targets=[OtaTarget.thing("t")], files=[firmware(second)])
    cdk.Tags.of(app).add("env", "prod")
    assert [p["tags"] for p in ota_properties(first)] == [
        [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "fw"}],
        [{"Key": "env", "Value": "prod"}],
    ]
    assert [p["tags"] for p in ota_properties(second)] == [[{"Key": "env", "Value": "prod"}]]


def test_tags_of_a_stage_reach_its_ota_updates_and_tags_of_the_app_do_not() -> None:
    """As the README says: CDK synthesizes a Stage's stacks on their own, so a pipeline tags
    each stage."""
    app = cdk.App()
    stage = cdk.Stage(app, "Eu")
    release = cdk.Stack(stage, "Release")
    ota(release)
    cdk.Tags.of(app).add("cost-center", "fw")
    cdk.Tags.of(stage).add("stage", "eu")
    (props,) = ota_properties(release)
    assert props["tags"] == [{"Key": "stage", "Value": "eu"}]


def test_a_bad_tag_set_on_the_tag_manager_after_construction_fails_synth() -> None:
    s = stack()
    ota(s, "Good", tags={"team": "fw"})
    update = ota(s, "Bad")
    update.tags.set_tag("team", "x" * 257)
    with pytest.raises(Exception, match=r"Test/Bad: tags\[0\]\.Value") as raised:
        template(s)
    assert "Test/Good" not in str(raised.value)


def test_derived_id_is_short_deterministic_and_follows_the_request() -> None:
    ids = []
    for description in ("one", "one", "two"):
        s = stack()
        ota(
            s,
            "AVeryLongConstructIdThatWouldNotFitIntoTheJobIdLimitOnItsOwn",
            description=description,
        )
        (props,) = ota_properties(s)
        ids.append(props["otaUpdateId"])
    assert ids[0] == ids[1] != ids[2]
    assert all(len(i) <= 56 and i.startswith("AVeryLong") for i in ids)


def test_derived_id_differs_between_constructs_with_the_same_request() -> None:
    s = stack()
    ota(s, "A")
    ota(s, "B")
    first, second = ota_properties(s)
    assert first["otaUpdateId"] != second["otaUpdateId"]


def test_attributes_are_the_resources_data() -> None:
    s = stack()
    update = ota(s)
    cdk.CfnOutput(s, "Arn", value=update.ota_update_arn)
    cdk.CfnOutput(s, "Id", value=update.ota_update_id)
    cdk.CfnOutput(s, "JobId", value=update.aws_iot_job_id)
    cdk.CfnOutput(s, "JobArn", value=update.aws_iot_job_arn)
    outputs = template(s).find_outputs("*")
    assert {k: v["Value"]["Fn::GetAtt"][1] for k, v in outputs.items()} == {
        "Arn": "otaUpdateArn",
        "Id": "otaUpdateId",
        "JobId": "awsIotJobId",
        "JobArn": "awsIotJobArn",
    }


def test_full_request_template_matches_the_snapshot(
    full_request: Template, snapshot: SnapshotAssertion
) -> None:
    assert full_request.to_json() == snapshot(extension_class=JSONSnapshotExtension)
