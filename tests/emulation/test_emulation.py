"""cdk_ota_update.testing through plain boto3, against moto in-process and over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulation_support import REGION, Aws, World, error, make_world, serve

from cdk_ota_update import testing
from cdk_ota_update.api import MAX_TAGS_PER_RESOURCE


@pytest.fixture(params=["mock_aws", "server"])
def aws(request: pytest.FixtureRequest) -> Aws:
    """moto in-process, and a ThreadedMotoServer of this process (conftest's)."""
    name = "emulated_in_process" if request.param == "mock_aws" else "emulated_server"
    aws: Aws = request.getfixturevalue(name)
    return aws


@pytest.fixture
def world(aws: Aws) -> World:
    return make_world(aws)


@pytest.fixture
def manual(world: World) -> World:
    """Manual lifecycle, switched on after moto's reset (which resets the controls)."""
    testing.set_manual_lifecycle(True)
    return world


# ---------------------------------------------------------------------------------------------
# CreateOTAUpdate, GetOTAUpdate
# ---------------------------------------------------------------------------------------------
def test_create_answers_pending_with_its_ids(world: World) -> None:
    answer = world.create()

    assert {k: v for k, v in answer.items() if k != "ResponseMetadata"} == {
        "otaUpdateId": "ota-1",
        "otaUpdateArn": f"arn:aws:iot:{REGION}:123456789012:otaupdate/ota-1",
        "awsIotJobId": "AFR_OTA-ota-1",
        "awsIotJobArn": f"arn:aws:iot:{REGION}:123456789012:job/AFR_OTA-ota-1",
        "otaUpdateStatus": "CREATE_PENDING",
    }


def test_get_returns_the_members_aws_returns(world: World) -> None:
    rollout = {"maximumPerMinute": 10}
    world.create(
        description="v1", awsJobExecutionsRolloutConfig=rollout, additionalParameters={"k": "v"}
    )

    info = world.info()

    assert {k: info[k] for k in info if k not in ("creationDate", "lastModifiedDate")} == {
        "otaUpdateId": "ota-1",
        "otaUpdateArn": f"arn:aws:iot:{REGION}:123456789012:otaupdate/ota-1",
        "awsIotJobId": "AFR_OTA-ota-1",
        "awsIotJobArn": f"arn:aws:iot:{REGION}:123456789012:job/AFR_OTA-ota-1",
        "description": "v1",
        "targets": [world.thing_arn],
        "protocols": ["MQTT"],
        "targetSelection": "SNAPSHOT",
        "awsJobExecutionsRolloutConfig": rollout,
        "otaUpdateFiles": [world.s3_file()],
        "otaUpdateStatus": "CREATE_COMPLETE",
        "additionalParameters": {"k": "v"},
    }
    assert info["creationDate"] <= info["lastModifiedDate"]


def test_signature_blob_round_trips_as_bytes(world: World) -> None:
    signing = {
        "customCodeSigning": {
            "signature": {"inlineDocument": b"\x00\xffsig"},
            "hashAlgorithm": "SHA256",
            "signatureAlgorithm": "ECDSA",
        }
    }
    world.create(files=[{**world.s3_file(), "codeSigning": signing}])

    assert world.info()["otaUpdateFiles"][0]["codeSigning"] == signing


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {"otaUpdateId": "ota.1"},
            "1 validation error detected: Value 'ota.1' at 'otaUpdateId' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+",
        ),
        (
            {"awsJobExecutionsRolloutConfig": {"maximumPerMinute": 5000}},
            "1 validation error detected: Value '5000' at "
            "'awsJobExecutionsRolloutConfig.maximumPerMinute' failed to satisfy constraint: "
            "Member must have value less than or equal to 1000",
        ),
        (
            {"protocols": ["MQTT", "COAP"]},
            "1 validation error detected: Value 'COAP' at 'protocols.2.member' failed to satisfy "
            "constraint: Member must satisfy enum value set: [MQTT, HTTP]",
        ),
        (
            {"protocols": ["MQTT", "HTTP", "COAP"]},
            "2 validation errors detected: Value '[MQTT, HTTP, COAP]' at 'protocols' failed to "
            "satisfy constraint: Member must have length less than or equal to 2; Value 'COAP' at "
            "'protocols.3.member' failed to satisfy constraint: Member must satisfy enum value "
            "set: [MQTT, HTTP]",
        ),
        (
            {"otaUpdateId": "x" * 57},
            f"1 validation error detected: Value '{'x' * 57}' at 'otaUpdateId' failed to satisfy "
            "constraint: Member must have length less than or equal to 56 (the service creates "
            "the job AFR_OTA-<otaUpdateId> and job ids are at most 64 characters)",
        ),
        (
            {"protocols": ["MQTT", "MQTT"], "tags": [{"Key": "aws:x", "Value": "v"}]},
            "2 validation errors detected: Value '[MQTT, MQTT]' at 'protocols' failed to satisfy "
            "constraint: Member must be a list without repeated values; Value 'aws:x' at "
            "'tags.1.member.key' failed to satisfy constraint: Member must be a string not "
            "starting with aws: (the aws: prefix is reserved for AWS)",
        ),
    ],
    ids=["pattern", "value-range", "enum", "list-length", "job-id-length", "two-rules"],
)
def test_invalid_request_is_answered_as_aws_words_it(
    world: World, members: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        world.create(**members)

    assert error(caught.value) == ("InvalidRequestException", 400)
    assert caught.value.response["Error"]["Message"] == message


def test_duplicate_id_already_exists(world: World) -> None:
    world.create()

    with pytest.raises(ClientError) as caught:
        world.create()

    assert error(caught.value) == ("ResourceAlreadyExistsException", 409)


def test_unknown_thing_target_is_not_found(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.create(targets=[world.thing_arn + "-gone"])

    assert error(caught.value) == ("ResourceNotFoundException", 404)


def test_target_that_is_no_thing_arn_is_invalid(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.create(targets=[world.role_arn])

    assert error(caught.value) == ("InvalidRequestException", 400)


def test_thing_group_target_completes(world: World) -> None:
    world.create(targets=[world.group_arn])

    assert world.status() == "CREATE_COMPLETE"


def test_unknown_stream_is_not_found(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.create(files=[{"fileLocation": {"stream": {"streamId": "nope", "fileId": 1}}}])

    assert error(caught.value) == ("ResourceNotFoundException", 404)


def test_unknown_file_id_of_a_stream_is_not_found(world: World) -> None:
    world.user_stream()

    with pytest.raises(ClientError) as caught:
        world.create(files=[{"fileLocation": {"stream": {"streamId": "user-stream", "fileId": 8}}}])

    assert error(caught.value) == ("ResourceNotFoundException", 404)


def test_get_of_unknown_id_is_not_found(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.info("never-created")

    assert error(caught.value) == ("ResourceNotFoundException", 404)


def test_missing_role_ends_in_create_failed(world: World) -> None:
    world.create(roleArn=world.role_arn + "-gone")

    info = world.info()

    assert (info["otaUpdateStatus"], info["errorInfo"]["code"]) == (
        "CREATE_FAILED",
        "AccessDeniedException",
    )


@pytest.mark.parametrize(
    "location",
    [{"key": "v1/missing.bin"}, {"bucket": "no-such-bucket"}, {"version": "no-such-version"}],
    ids=["key", "bucket", "version"],
)
def test_unreadable_object_ends_in_create_failed(world: World, location: dict[str, str]) -> None:
    world.create(files=[world.s3_file(**location)])

    info = world.info()

    assert (info["otaUpdateStatus"], info["errorInfo"]["code"]) == (
        "CREATE_FAILED",
        "AccessDeniedException",
    )


def test_existing_object_version_completes(world: World) -> None:
    s3 = world.aws.client("s3")
    s3.put_bucket_versioning(Bucket=world.bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=world.bucket, Key=world.key, Body=b"v2")["VersionId"]

    world.create(files=[world.s3_file(version=version)])

    assert world.status() == "CREATE_COMPLETE"


def test_failed_creation_creates_no_job(world: World) -> None:
    world.create(roleArn=world.role_arn + "-gone")
    world.status()

    assert world.iot.list_jobs()["jobs"] == []


# ---------------------------------------------------------------------------------------------
# Side effects: the job and the stream
# ---------------------------------------------------------------------------------------------
def test_job_carries_the_updates_configs(world: World) -> None:
    rollout = {
        "maximumPerMinute": 5,
        "exponentialRate": {
            "baseRatePerMinute": 2,
            "incrementFactor": 1.5,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 3},
        },
    }
    abort = [
        {
            "failureType": "ALL",
            "action": "CANCEL",
            "thresholdPercentage": 12.5,
            "minNumberOfExecutedThings": 4,
        }
    ]
    world.create(
        targets=[world.thing_arn, world.group_arn],
        targetSelection="CONTINUOUS",
        awsJobExecutionsRolloutConfig=rollout,
        awsJobAbortConfig={"abortCriteriaList": abort},
        awsJobTimeoutConfig={"inProgressTimeoutInMinutes": 30},
        awsJobPresignedUrlConfig={"expiresInSec": 600},
    )
    world.status()

    job = world.iot.describe_job(jobId="AFR_OTA-ota-1")["job"]

    assert {
        k: job[k]
        for k in (
            "targets",
            "targetSelection",
            "jobExecutionsRolloutConfig",
            "abortConfig",
            "timeoutConfig",
            "presignedUrlConfig",
            "status",
        )
    } == {
        "targets": [world.thing_arn, world.group_arn],
        "targetSelection": "CONTINUOUS",
        "jobExecutionsRolloutConfig": rollout,
        "abortConfig": {"criteriaList": abort},
        "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "presignedUrlConfig": {"roleArn": world.role_arn, "expiresInSec": 600},
        "status": "IN_PROGRESS",
    }


def test_job_document_names_the_files_and_stream(world: World) -> None:
    signing = {
        "customCodeSigning": {
            "signature": {"inlineDocument": b"sig"},
            "certificateChain": {"certificateName": "/certs/ota.pem"},
            "hashAlgorithm": "SHA256",
            "signatureAlgorithm": "ECDSA",
        }
    }
    world.create(files=[{**world.s3_file(), "fileType": 3, "codeSigning": signing}])
    world.status()

    document = json.loads(world.iot.get_job_document(jobId="AFR_OTA-ota-1")["document"])

    assert document == {
        "afr_ota": {
            "protocols": ["MQTT"],
            "streamname": world.stream_ids()[0],
            "files": [
                {
                    "filepath": "firmware.bin",
                    "filesize": 16,
                    "fileid": 0,
                    "fileType": 3,
                    "certfile": "/certs/ota.pem",
                    "sig-sha256-ecdsa": "c2ln",
                }
            ],
        }
    }


def test_mqtt_with_s3_files_creates_a_stream_holding_them(world: World) -> None:
    world.create()
    world.status()

    [stream_id] = world.stream_ids()
    stream = world.iot.describe_stream(streamId=stream_id)["streamInfo"]

    assert (stream_id.startswith("AFR_OTA-"), stream["files"], stream["roleArn"]) == (
        True,
        [{"fileId": 0, "s3Location": {"bucket": world.bucket, "key": world.key}}],
        world.role_arn,
    )


def test_http_only_creates_no_stream(world: World) -> None:
    world.create(protocols=["HTTP"])
    world.status()

    assert world.stream_ids() == []


def test_stream_location_uses_the_users_stream(world: World) -> None:
    world.user_stream()
    world.create(files=[{"fileLocation": {"stream": {"streamId": "user-stream", "fileId": 7}}}])
    world.status()

    document = json.loads(world.iot.get_job_document(jobId="AFR_OTA-ota-1")["document"])

    assert (world.stream_ids(), document["afr_ota"]["streamname"]) == (
        ["user-stream"],
        "user-stream",
    )


# ---------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------
def test_creation_tags_are_listed(world: World) -> None:
    arn = world.create(tags=[{"Key": "team", "Value": "fw"}])["otaUpdateArn"]

    assert world.iot.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "team", "Value": "fw"}
    ]


def test_tag_and_untag_resource(world: World) -> None:
    arn = world.create(tags=[{"Key": "team", "Value": "fw"}])["otaUpdateArn"]

    world.iot.tag_resource(resourceArn=arn, tags=[{"Key": "stage", "Value": "prod"}])
    world.iot.untag_resource(resourceArn=arn, tagKeys=["team"])

    assert world.iot.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "stage", "Value": "prod"}
    ]


def tag_list(count: int, prefix: str = "k") -> list[dict[str, str]]:
    return [{"Key": f"{prefix}{i}", "Value": f"v{i}"} for i in range(count)]


def test_creation_with_more_tags_than_a_resource_keeps_is_invalid(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.create(tags=tag_list(MAX_TAGS_PER_RESOURCE + 1))

    assert error(caught.value) == ("InvalidRequestException", 400)
    assert caught.value.response["Error"]["Message"] == (
        f"The resource arn:aws:iot:{REGION}:123456789012:otaupdate/ota-1 would have 51 tags: a "
        "resource can have at most 50 tags, the tags it has and those of the request counted "
        "together"
    )
    assert world.iot.list_ota_updates()["otaUpdates"] == []


def test_tagging_past_the_limit_with_existing_tags_is_invalid_and_changes_nothing(
    world: World,
) -> None:
    arn = world.create(tags=tag_list(MAX_TAGS_PER_RESOURCE - 1))["otaUpdateArn"]

    with pytest.raises(ClientError) as caught:
        world.iot.tag_resource(resourceArn=arn, tags=tag_list(2, prefix="new"))

    assert error(caught.value) == ("InvalidRequestException", 400)
    assert "would have 51 tags" in caught.value.response["Error"]["Message"]
    assert len(world.iot.list_tags_for_resource(resourceArn=arn)["tags"]) == 49


def test_a_resource_at_the_limit_can_change_its_values_and_untag(world: World) -> None:
    arn = world.create(tags=tag_list(MAX_TAGS_PER_RESOURCE))["otaUpdateArn"]

    world.iot.tag_resource(resourceArn=arn, tags=[{"Key": "k0", "Value": "changed"}])
    world.iot.untag_resource(resourceArn=arn, tagKeys=["k1"])
    world.iot.tag_resource(resourceArn=arn, tags=[{"Key": "last", "Value": "fits"}])

    tags = {t["Key"]: t["Value"] for t in world.iot.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert (len(tags), tags["k0"], tags["last"], "k1" in tags) == (50, "changed", "fits", False)


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (
            {"Key": "aws:cost-center", "Value": "42"},
            "Value 'aws:cost-center' at 'tags.1.member.key' failed to satisfy constraint: Member "
            "must be a string not starting with aws: (the aws: prefix is reserved for AWS)",
        ),
        (
            {"Key": "k" * 129, "Value": "v"},
            f"Value '{'k' * 129}' at 'tags.1.member.key' failed to satisfy constraint: Member must "
            "have length less than or equal to 128",
        ),
        (
            {"Key": "", "Value": "v"},
            "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length "
            "greater than or equal to 1",
        ),
        (
            {"Value": "v"},
            "Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be "
            "null",
        ),
        (
            {"Key": "cost#center", "Value": "v"},
            "Value 'cost#center' at 'tags.1.member.key' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$",
        ),
        (
            {"Key": "k", "Value": "v" * 257},
            f"Value '{'v' * 257}' at 'tags.1.member.value' failed to satisfy constraint: Member "
            "must have length less than or equal to 256",
        ),
    ],
    ids=["reserved-prefix", "long-key", "empty-key", "no-key", "key-pattern", "long-value"],
)
def test_tag_resource_refuses_what_the_tag_shapes_refuse(
    world: World, tag: dict[str, str], message: str
) -> None:
    arn = world.create(tags=[{"Key": "team", "Value": "fw"}])["otaUpdateArn"]
    unvalidated = world.aws.client(
        "iot", parameter_validation=False
    )  # botocore checks min, required

    with pytest.raises(ClientError) as caught:
        unvalidated.tag_resource(resourceArn=arn, tags=[tag])

    assert error(caught.value) == ("InvalidRequestException", 400)
    assert caught.value.response["Error"]["Message"] == f"1 validation error detected: {message}"
    assert world.iot.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "team", "Value": "fw"}
    ]


def test_stream_tags_are_listed(world: World) -> None:
    arn = world.iot.create_stream(
        streamId="tagged",
        files=[{"fileId": 0, "s3Location": {"bucket": "b", "key": "k"}}],
        roleArn=world.role_arn,
        tags=[{"Key": "k", "Value": "v"}],
    )["streamArn"]

    assert world.iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "k", "Value": "v"}]


def test_tags_of_unknown_resource_are_not_found(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.iot.list_tags_for_resource(
            resourceArn=f"arn:aws:iot:{REGION}:123456789012:otaupdate/none"
        )

    assert error(caught.value) == ("ResourceNotFoundException", 404)


# ---------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("manual")
def test_manual_lifecycle_steps_through_creation(world: World) -> None:
    world.create()
    seen = [world.status()]
    for _ in range(3):
        testing.advance("ota-1")
        seen.append(world.status())

    assert seen == ["CREATE_PENDING", "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_COMPLETE"]


@pytest.mark.usefixtures("manual")
def test_job_appears_on_completion(world: World) -> None:
    world.create()
    testing.advance()
    before = world.iot.list_jobs()["jobs"]
    testing.advance()

    assert (before, [j["jobId"] for j in world.iot.list_jobs()["jobs"]]) == ([], ["AFR_OTA-ota-1"])


@pytest.mark.usefixtures("manual")
def test_advance_steps_only_the_named_update(world: World) -> None:
    world.create("ota-1")
    world.create("ota-2")

    testing.advance("ota-2")

    assert (world.status("ota-1"), world.status("ota-2")) == (
        "CREATE_PENDING",
        "CREATE_IN_PROGRESS",
    )


def test_lifecycle_delay_spreads_the_transitions(world: World) -> None:
    testing.set_lifecycle_delay(0.5)
    world.create()
    early = world.status()
    time.sleep(1.3)

    assert (early != "CREATE_COMPLETE", world.status()) == (True, "CREATE_COMPLETE")


@pytest.mark.usefixtures("manual")
def test_forced_delete_is_in_progress_then_gone(world: World) -> None:
    world.create()
    testing.advance()
    testing.advance()
    world.iot.delete_ota_update(otaUpdateId="ota-1", forceDeleteAWSJob=True)
    during = world.status()
    testing.advance()

    with pytest.raises(ClientError) as caught:
        world.status()

    assert (during, error(caught.value)) == (
        "DELETE_IN_PROGRESS",
        ("ResourceNotFoundException", 404),
    )


def test_forced_delete_deletes_the_job(world: World) -> None:
    world.create()
    world.status()
    world.iot.delete_ota_update(otaUpdateId="ota-1", forceDeleteAWSJob=True)

    with pytest.raises(ClientError) as caught:
        world.iot.describe_job(jobId="AFR_OTA-ota-1")

    assert error(caught.value)[0] == "ResourceNotFoundException"


def test_delete_without_force_of_an_in_progress_job_fails(world: World) -> None:
    world.create()
    world.status()
    world.iot.delete_ota_update(otaUpdateId="ota-1")

    info = world.info()

    assert (info["otaUpdateStatus"], info["errorInfo"]["code"]) == (
        "DELETE_FAILED",
        "InvalidStateTransitionException",
    )


def test_delete_without_force_of_a_canceled_job_deletes_both(world: World) -> None:
    world.create()
    world.status()
    world.iot.cancel_job(jobId="AFR_OTA-ota-1")
    world.iot.delete_ota_update(otaUpdateId="ota-1")

    assert (world.iot.list_ota_updates()["otaUpdates"], world.iot.list_jobs()["jobs"]) == ([], [])


@pytest.mark.parametrize(("flag", "kept"), [(True, 0), (False, 1)])
def test_delete_stream_flag_decides_the_created_streams_fate(
    world: World, flag: bool, kept: int
) -> None:
    world.create()
    world.status()

    world.iot.delete_ota_update(otaUpdateId="ota-1", deleteStream=flag, forceDeleteAWSJob=True)

    assert len(world.stream_ids()) == kept


def test_delete_stream_keeps_the_users_own_stream(world: World) -> None:
    world.user_stream()
    world.create(files=[{"fileLocation": {"stream": {"streamId": "user-stream", "fileId": 7}}}])
    world.status()

    world.iot.delete_ota_update(otaUpdateId="ota-1", deleteStream=True, forceDeleteAWSJob=True)

    assert world.stream_ids() == ["user-stream"]


@pytest.mark.usefixtures("manual")
def test_recreating_while_the_old_job_is_being_deleted_fails(world: World) -> None:
    world.create()
    testing.advance()
    testing.advance()
    world.iot.delete_ota_update(otaUpdateId="ota-1", forceDeleteAWSJob=True)
    testing.advance()  # the OTA update is gone, its job is DELETION_IN_PROGRESS
    world.create()
    testing.advance()
    testing.advance()

    info = world.info()

    assert (info["otaUpdateStatus"], info["errorInfo"]["code"]) == (
        "CREATE_FAILED",
        "ResourceAlreadyExistsException",
    )


def test_delete_of_unknown_id_is_not_found(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.iot.delete_ota_update(otaUpdateId="never-created")

    assert error(caught.value) == ("ResourceNotFoundException", 404)


@pytest.mark.usefixtures("manual")
def test_delete_while_creating_is_invalid(world: World) -> None:
    world.create()

    with pytest.raises(ClientError) as caught:
        world.iot.delete_ota_update(otaUpdateId="ota-1")

    assert error(caught.value) == ("InvalidRequestException", 400)


# ---------------------------------------------------------------------------------------------
# ListOTAUpdates
# ---------------------------------------------------------------------------------------------
def test_list_filters_by_status(world: World) -> None:
    world.create("good")
    world.create("bad", roleArn=world.role_arn + "-gone")

    listed = world.iot.list_ota_updates(otaUpdateStatus="CREATE_FAILED")["otaUpdates"]

    assert [ota["otaUpdateId"] for ota in listed] == ["bad"]


def test_list_paginates(world: World) -> None:
    for index in range(5):
        world.create(f"ota-{index}")
    pages: list[list[str]] = []
    token: dict[str, str] = {}
    while True:
        page = world.iot.list_ota_updates(maxResults=2, **token)
        pages.append([ota["otaUpdateId"] for ota in page["otaUpdates"]])
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}

    assert pages == [["ota-0", "ota-1"], ["ota-2", "ota-3"], ["ota-4"]]


def test_list_with_a_bad_token_is_invalid(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.iot.list_ota_updates(nextToken="not-a-token")

    assert error(caught.value) == ("InvalidRequestException", 400)


# ---------------------------------------------------------------------------------------------
# Streams
# ---------------------------------------------------------------------------------------------
def test_created_stream_is_described(world: World) -> None:
    world.user_stream()

    info = world.iot.describe_stream(streamId="user-stream")["streamInfo"]

    assert {k: info[k] for k in ("streamId", "streamArn", "streamVersion", "files")} == {
        "streamId": "user-stream",
        "streamArn": f"arn:aws:iot:{REGION}:123456789012:stream/user-stream",
        "streamVersion": 1,
        "files": [{"fileId": 7, "s3Location": {"bucket": world.bucket, "key": world.key}}],
    }


def test_duplicate_stream_already_exists(world: World) -> None:
    world.user_stream()

    with pytest.raises(ClientError) as caught:
        world.user_stream()

    assert error(caught.value) == ("ResourceAlreadyExistsException", 409)


def test_invalid_stream_is_invalid_request(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.iot.create_stream(
            streamId="s",
            roleArn=world.role_arn,
            files=[{"fileId": 256, "s3Location": {"bucket": world.bucket, "key": world.key}}],
        )

    assert error(caught.value) == ("InvalidRequestException", 400)


def test_update_stream_replaces_files_and_bumps_the_version(world: World) -> None:
    world.user_stream()
    files = [{"fileId": 1, "s3Location": {"bucket": world.bucket, "key": "v2.bin"}}]

    answer = world.iot.update_stream(streamId="user-stream", files=files, description="v2")
    info = world.iot.describe_stream(streamId="user-stream")["streamInfo"]

    assert (answer["streamVersion"], info["files"], info["description"]) == (2, files, "v2")


def test_deleted_stream_is_not_found(world: World) -> None:
    world.user_stream()
    world.iot.delete_stream(streamId="user-stream")

    with pytest.raises(ClientError) as caught:
        world.iot.describe_stream(streamId="user-stream")

    assert error(caught.value) == ("ResourceNotFoundException", 404)


def test_stream_in_use_cannot_be_deleted(world: World) -> None:
    world.user_stream()
    world.create(files=[{"fileLocation": {"stream": {"streamId": "user-stream", "fileId": 7}}}])

    with pytest.raises(ClientError) as caught:
        world.iot.delete_stream(streamId="user-stream")

    assert error(caught.value) == ("DeleteConflictException", 409)


def test_list_streams_paginates(world: World) -> None:
    for index in range(3):
        world.user_stream(f"s-{index}")

    first = world.iot.list_streams(maxResults=2, ascendingOrder=True)
    second = world.iot.list_streams(maxResults=2, ascendingOrder=True, nextToken=first["nextToken"])

    assert (
        [s["streamId"] for s in first["streams"] + second["streams"]],
        "nextToken" in second,
    ) == (["s-0", "s-1", "s-2"], False)


# ---------------------------------------------------------------------------------------------
# Fault injection and the other controls
# ---------------------------------------------------------------------------------------------
def test_throttle_fails_the_next_calls_then_lets_them_through(world: World) -> None:
    world.create()
    testing.throttle("GetOTAUpdate", times=2)
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            world.info()
        codes.append(error(caught.value))

    assert (codes, world.status()) == ([("ThrottlingException", 400)] * 2, "CREATE_COMPLETE")


@pytest.mark.parametrize(
    ("code", "status"), [("InternalFailureException", 500), ("ServiceUnavailableException", 503)]
)
def test_fail_answers_the_code_with_its_status(world: World, code: str, status: int) -> None:
    testing.fail("CreateOTAUpdate", code=code)

    with pytest.raises(ClientError) as caught:
        world.create()

    assert error(caught.value) == (code, status)


def test_a_failed_call_changes_nothing(world: World) -> None:
    testing.fail("CreateOTAUpdate")
    with pytest.raises(ClientError):
        world.create()

    assert world.iot.list_ota_updates()["otaUpdates"] == []


def test_fail_next_creation_ends_in_create_failed_with_its_error_info(world: World) -> None:
    testing.fail_next_creation("AccessDeniedException", "no signer access")
    world.create("first")
    world.create("second")

    first = world.info("first")

    assert (first["otaUpdateStatus"], first["errorInfo"], world.status("second")) == (
        "CREATE_FAILED",
        {"code": "AccessDeniedException", "message": "no signer access"},
        "CREATE_COMPLETE",
    )


def test_fail_next_deletion_ends_in_delete_failed_with_its_reason(world: World) -> None:
    world.create()
    world.status()
    testing.fail_next_deletion("stream busy")
    world.iot.delete_ota_update(otaUpdateId="ota-1", forceDeleteAWSJob=True)

    info = world.info()

    assert (info["otaUpdateStatus"], info["errorInfo"]["message"]) == (
        "DELETE_FAILED",
        "stream busy",
    )


def test_calls_counts_each_request_of_an_operation(world: World) -> None:
    testing.install()  # again: must not count twice
    world.create()
    world.info()
    world.info()

    assert (
        testing.calls("CreateOTAUpdate"),
        testing.calls("GetOTAUpdate"),
        testing.calls("DeleteOTAUpdate"),
    ) == (1, 2, 0)


def test_reset_controls_drops_queued_faults(world: World) -> None:
    testing.throttle("CreateOTAUpdate", times=3)

    testing.reset_controls()

    assert world.create()["otaUpdateStatus"] == "CREATE_PENDING"


def test_moto_reset_resets_controls_and_state(world: World) -> None:
    world.create()
    testing.throttle("ListOTAUpdates")

    world.aws.reset()

    assert world.iot.list_ota_updates()["otaUpdates"] == []


@pytest.mark.parametrize(
    ("operation", "code"),
    [("CreateOtaUpdate", "InternalFailureException"), ("CreateOTAUpdate", "Oops")],
)
def test_fail_refuses_unknown_operations_and_codes(operation: str, code: str) -> None:
    with pytest.raises(ValueError, match="not an"):
        testing.fail(operation, code=code)


def test_importing_the_library_does_not_import_moto() -> None:
    probe = "import sys, cdk_ota_update; print('moto' in sys.modules)"

    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": "constructs"},
    )

    assert result.stdout.strip() == "False"


def _import_emulation(moto: Path, *python_options: str) -> subprocess.CompletedProcess[str]:
    """``import cdk_ota_update.testing`` in a new interpreter whose path starts with ``moto``."""
    return subprocess.run(
        [sys.executable, *python_options, "-c", "import cdk_ota_update.testing"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": os.pathsep.join([str(moto), "constructs"])},
    )


def _moto_metadata(path: Path, version: str) -> Path:
    """The metadata of an installed moto ``version`` (no code: the real moto is imported)."""
    dist_info = path / f"moto-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: moto\nVersion: {version}\n")
    return path


def test_importing_with_an_older_moto_says_which_moto_it_needs_and_how_to_install_it(
    tmp_path: Path,
) -> None:
    result = _import_emulation(_moto_metadata(tmp_path, "5.2.3"))

    assert result.stderr.splitlines()[-1] == (
        "ImportError: cdk_ota_update.testing needs moto 5.2.4 or newer (below 5.3), but moto "
        '5.2.3 is installed: pip install "moto[server]>=5.2.4,<5.3"'
    )


@pytest.mark.parametrize("version", ["5.2.4", "5.2.10"])
def test_importing_with_moto_at_or_past_the_floor_succeeds(tmp_path: Path, version: str) -> None:
    result = _import_emulation(_moto_metadata(tmp_path, version))

    assert (result.returncode, result.stderr) == (0, "")


def test_importing_without_moto_says_how_to_install_it(tmp_path: Path) -> None:
    result = _import_emulation(tmp_path, "-S")  # no site-packages: no moto

    assert result.stderr.splitlines()[-1] == (
        "ImportError: cdk_ota_update.testing needs moto 5.2.4 or newer (below 5.3), but moto is "
        'not installed: pip install "moto[server]>=5.2.4,<5.3"'
    )


def test_python_m_runs_a_moto_server_with_the_emulation_on_the_default_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with serve() as aws:
        streams = aws.client("iot").list_streams()["streams"]

    assert streams == []


@pytest.fixture(scope="module")
def server_help() -> str:
    """``python -m cdk_ota_update.testing --help``, its lines joined by single spaces."""
    result = subprocess.run(
        [sys.executable, "-m", "cdk_ota_update.testing", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": "constructs"},
    )
    return " ".join(result.stdout.split())


@pytest.mark.parametrize(
    "operation",
    [
        *("CreateOTAUpdate", "GetOTAUpdate", "ListOTAUpdates", "DeleteOTAUpdate"),
        *("CreateStream", "DescribeStream", "ListStreams", "UpdateStream", "DeleteStream"),
        *("ListTagsForResource", "TagResource", "UntagResource"),
    ],
)
def test_server_help_names_each_operation_the_emulation_adds(
    server_help: str, operation: str
) -> None:
    assert operation in re.findall(r"\w+", server_help)


@pytest.mark.parametrize(
    "statement",
    [
        "-H HOST, --host HOST the address to listen on (default: 127.0.0.1)",
        "-p PORT, --port PORT the port to listen on (default: $MOTO_PORT if set, else 5000)",
        "this server answers them over HTTP: POST /moto-api/cdk-ota-update/CONTROL with a JSON "
        "object of its keyword arguments,",
        "POST /moto-api/reset wipes moto's state, the emulation's OTA updates, streams and tags "
        "included, and its controls (a --fleet is simulated again).",
        "--fleet OUTCOME=N%[,...] the things of every job (an OTA update's, or moto's CreateJob) "
        "are simulated devices,",
        "--fleet-speed X with --fleet: the simulated seconds the fleet's clock moves on per real "
        "second (default 1; 60: a minute a second; 0: only the advance_fleet control moves it)",
    ],
    ids=["default-host", "default-port", "controls-over-http", "reset", "fleet", "fleet-speed"],
)
def test_server_help_states(server_help: str, statement: str) -> None:
    assert statement in server_help
