"""The custom resource handler's lifecycle, through CloudFormation-shaped events (tests/harness.py)
against the OTA update emulation over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from emulation_support import World
from handler_support import ID, LOGICAL_ID, SIGNATURE, exists, job, properties
from harness import CloudFormation

from cdk_ota_update import testing


# ---------------------------------------------------------------------------------------------
# Types: CloudFormation's strings become the API's types
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("read", "expected"),
    [
        pytest.param(lambda w: w.info(ID)["otaUpdateFiles"][0]["fileType"], 2, id="integer"),
        pytest.param(
            lambda w: w.info(ID)["awsJobPresignedUrlConfig"]["expiresInSec"], 1800, id="long"
        ),
        pytest.param(
            lambda w: w.info(ID)["awsJobExecutionsRolloutConfig"]["exponentialRate"][
                "incrementFactor"
            ],
            1.5,
            id="double",
        ),
        pytest.param(
            lambda w: job(w)["abortConfig"]["criteriaList"][0]["thresholdPercentage"],
            12.5,
            id="double-in-list",
        ),
        pytest.param(
            lambda w: job(w)["timeoutConfig"]["inProgressTimeoutInMinutes"], 90, id="long-in-job"
        ),
        pytest.param(
            lambda w: w.info(ID)["otaUpdateFiles"][0]["codeSigning"]["customCodeSigning"][
                "signature"
            ]["inlineDocument"],
            SIGNATURE,
            id="blob-from-base64",
        ),
    ],
)
def test_scalar_reaches_the_service_in_its_api_type(
    cloudformation: CloudFormation, world: World, read: Any, expected: Any
) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))

    value = read(world)

    assert value == expected
    assert type(value) is type(expected)


def test_delete_stream_flag_string_deletes_the_stream(
    cloudformation: CloudFormation, world: World
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world))
    streams = world.stream_ids()

    cloudformation.delete(LOGICAL_ID, created.physical_id, properties(world))

    assert streams
    assert world.stream_ids() == []


def test_force_delete_flag_string_deletes_a_running_job(
    cloudformation: CloudFormation, world: World
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world))

    deleted = cloudformation.delete(LOGICAL_ID, created.physical_id, properties(world))

    assert deleted.status == "SUCCESS"  # its job was IN_PROGRESS (see the next test)
    assert not exists(world.iot)


def test_false_force_flag_leaves_the_running_job_and_fails(
    cloudformation: CloudFormation, world: World
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world))

    deleted = cloudformation.delete(
        LOGICAL_ID, created.physical_id, properties(world, forceDeleteAWSJob=False)
    )

    assert deleted.status == "FAILED"
    assert deleted.reason.startswith("Job AFR_OTA-fw-1 is IN_PROGRESS")


# ---------------------------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------------------------
def test_create_answers_with_the_ota_update_and_its_job(
    cloudformation: CloudFormation, world: World
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert (created.status, created.physical_id) == ("SUCCESS", ID)
    assert created.data == {
        "otaUpdateId": ID,
        "otaUpdateArn": f"arn:aws:iot:us-east-1:123456789012:otaupdate/{ID}",
        "awsIotJobId": f"AFR_OTA-{ID}",
        "awsIotJobArn": f"arn:aws:iot:us-east-1:123456789012:job/AFR_OTA-{ID}",
        "otaUpdateStatus": "CREATE_COMPLETE",
    }


def test_create_waits_for_create_complete_and_answers_soon_after(
    cloudformation: CloudFormation, world: World
) -> None:
    testing.set_lifecycle_delay(1)  # two transitions: complete after 2 s

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.data["otaUpdateStatus"] == "CREATE_COMPLETE"
    assert 2 <= created.seconds < 5


def test_create_failed_fails_with_the_service_message_first(
    cloudformation: CloudFormation, world: World
) -> None:
    testing.fail_next_creation("AccessDeniedException", "Unable to read the firmware object")

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.startswith("Unable to read the firmware object (OTA update fw-1 is ")


def test_create_failed_leaves_no_ota_update_behind(
    cloudformation: CloudFormation, world: World
) -> None:
    testing.fail_next_creation("AccessDeniedException", "Unable to read the firmware object")

    cloudformation.create(LOGICAL_ID, properties(world))

    assert not exists(world.iot)


def test_repeated_delivery_of_a_create_succeeds_with_one_ota_update(
    cloudformation: CloudFormation, world: World
) -> None:
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))

    answers = [cloudformation.send(event), cloudformation.send(event)]

    assert [a.status for a in answers] == ["SUCCESS", "SUCCESS"]
    assert answers[0].data == answers[1].data
    assert len(world.iot.list_ota_updates()["otaUpdates"]) == 1


# ---------------------------------------------------------------------------------------------
# Never touch what is not ours
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def foreign(world: World) -> dict[str, Any]:
    """An OTA update under the id the stack wants, created by someone else."""
    world.create(ID, tags=[{"Key": "owner", "Value": "someone-else"}])
    return world.info(ID)


def test_create_of_a_taken_id_fails_already_exists(
    cloudformation: CloudFormation, world: World, foreign: dict[str, Any]
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.startswith("ResourceAlreadyExists: otaUpdateId fw-1 is taken")
    assert created.physical_id == ID  # the rollback Delete finds it foreign (next test)


def test_rollback_after_a_taken_id_leaves_the_foreign_ota_update(
    cloudformation: CloudFormation, world: World, foreign: dict[str, Any]
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world))

    deleted = cloudformation.delete(LOGICAL_ID, created.physical_id, properties(world))

    assert deleted.status == "SUCCESS"
    assert world.info(ID)["otaUpdateArn"] == foreign["otaUpdateArn"]
    assert world.iot.list_tags_for_resource(resourceArn=foreign["otaUpdateArn"])["tags"] == [
        {"Key": "owner", "Value": "someone-else"}
    ]


def test_delete_of_a_foreign_ota_update_leaves_it(
    cloudformation: CloudFormation, world: World, foreign: dict[str, Any]
) -> None:
    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))

    assert deleted.status == "SUCCESS"
    assert world.status(ID) == "CREATE_COMPLETE"


# ---------------------------------------------------------------------------------------------
# Update
# ---------------------------------------------------------------------------------------------
def test_changed_request_is_created_under_the_new_id(
    cloudformation: CloudFormation, world: World
) -> None:
    old = properties(world)
    cloudformation.create(LOGICAL_ID, old)
    new = properties(world, "fw-2", description="Firmware 2.0")

    updated = cloudformation.update(LOGICAL_ID, ID, new, old)

    assert (updated.status, updated.physical_id) == ("SUCCESS", "fw-2")
    assert updated.data["otaUpdateArn"].endswith(":otaupdate/fw-2")
    assert world.info("fw-2")["description"] == "Firmware 2.0"


def test_changed_request_under_the_same_id_fails_asking_for_a_new_id(
    cloudformation: CloudFormation, world: World
) -> None:
    old = properties(world)
    cloudformation.create(LOGICAL_ID, old)

    updated = cloudformation.update(LOGICAL_ID, ID, properties(world, description="2.0"), old)

    assert updated.status == "FAILED"
    assert updated.reason.startswith("otaUpdateId fw-1 is unchanged but the request changed")
    assert "new otaUpdateId" in updated.reason


def test_rollback_to_the_request_the_ota_update_was_made_from_succeeds(
    cloudformation: CloudFormation, world: World
) -> None:
    original = properties(world)
    cloudformation.create(LOGICAL_ID, original)
    attempted = properties(world, description="2.0")
    cloudformation.update(LOGICAL_ID, ID, attempted, original)

    rolled_back = cloudformation.update(LOGICAL_ID, ID, original, attempted)

    assert (rolled_back.status, rolled_back.physical_id) == ("SUCCESS", ID)


def test_teardown_flag_change_alone_calls_nothing(
    cloudformation: CloudFormation, world: World
) -> None:
    old = properties(world)
    created = cloudformation.create(LOGICAL_ID, old)
    before = {
        op: testing.calls(op)
        for op in ("CreateOTAUpdate", "GetOTAUpdate", "DeleteOTAUpdate", "ListTagsForResource")
    }

    updated = cloudformation.update(LOGICAL_ID, ID, properties(world, deleteStream=False), old)

    assert (updated.status, updated.physical_id, updated.data) == ("SUCCESS", ID, created.data)
    assert {op: testing.calls(op) for op in before} == before


# ---------------------------------------------------------------------------------------------
# Delete
# ---------------------------------------------------------------------------------------------
def test_delete_waits_until_the_ota_update_is_gone(
    cloudformation: CloudFormation, world: World
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world))
    testing.set_lifecycle_delay(1)

    deleted = cloudformation.delete(LOGICAL_ID, created.physical_id, properties(world))

    assert deleted.status == "SUCCESS"
    assert 1 <= deleted.seconds < 4
    assert not exists(world.iot)


def test_delete_failed_fails_with_the_service_message_first(
    cloudformation: CloudFormation, world: World
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world))
    testing.fail_next_deletion("The job is still being rolled out", code="InvalidRequestException")

    deleted = cloudformation.delete(LOGICAL_ID, created.physical_id, properties(world))

    assert deleted.status == "FAILED"
    assert deleted.reason.startswith(
        "The job is still being rolled out (OTA update fw-1 is DELETE_FAILED"
    )


def test_delete_of_a_missing_ota_update_succeeds(
    cloudformation: CloudFormation, world: World
) -> None:
    deleted = cloudformation.delete(LOGICAL_ID, "fw-gone", properties(world, "fw-gone"))

    assert (deleted.status, deleted.physical_id) == ("SUCCESS", "fw-gone")


def test_delete_of_the_id_crhelper_made_up_after_a_failed_create_succeeds(
    cloudformation: CloudFormation, world: World
) -> None:
    bad = properties(world, awsJobPresignedUrlConfig={"expiresInSec": "soon"})
    created = cloudformation.create(LOGICAL_ID, bad)

    deleted = cloudformation.delete(LOGICAL_ID, created.physical_id, bad)

    assert created.status == "FAILED"
    assert deleted.status == "SUCCESS"


def test_an_update_from_properties_todays_rules_refuse_replaces_it(
    cloudformation: CloudFormation, world: World
) -> None:
    """The old properties are another release's (v1 under v2): read, never judged."""
    created = cloudformation.create(LOGICAL_ID, properties(world))
    refused_today = properties(world, description="x" * 3000)  # past the 2,028 allowed
    new = properties(world, "fw-2", description="Firmware 2.0")

    updated = cloudformation.update(LOGICAL_ID, created.physical_id, new, refused_today)

    assert (updated.status, updated.physical_id) == ("SUCCESS", "fw-2")
    assert exists(world.iot, "fw-2")
