"""No orphan: every failure after CreateOTAUpdate was accepted names the OTA update, and the
sequence CloudFormation sends after the FAILED answer (rollback Delete, rollback Update and cleanup
Delete) leaves nothing behind (issue 8, cases 1-4 and 6)."""

from __future__ import annotations

import pytest
from emulation_support import World
from handler_support import ID, LOGICAL_ID, NOTHING, leftovers, properties
from harness import CloudFormation

from cdk_ota_update import testing

NEW_ID = "fw-2"


# ---------------------------------------------------------------------------------------------
# 1. A Create that fails after creating
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("times", "code", "reason"),
    [
        (1000, "ThrottlingException", "ThrottlingException: "),
        (1, "UnauthorizedException", "UnauthorizedException: "),
        (1, "InvalidRequestException", "InvalidRequestException: "),
        (1, "ConflictException", "ConflictException: "),
    ],
    ids=["throttled-past-retries", "denied", "invalid", "unknown-code"],
)
def test_create_failing_after_creating_names_it_and_the_rollback_deletes_it(
    cloudformation: CloudFormation,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    times: int,
    code: str,
    reason: str,
) -> None:
    monkeypatch.setenv("OTA_RETRY_SECONDS", "1")  # failing for good within seconds
    testing.fail("GetOTAUpdate", times=times, code=code)
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))

    created = cloudformation.send(event)
    testing.reset_controls()  # the service recovers
    left = leftovers(world)
    rollback = cloudformation.roll_back(event, created)

    assert (created.status, created.physical_id) == ("FAILED", ID)
    assert created.reason.startswith(reason)
    assert "(GetOTAUpdate of OTA update fw-1" in created.reason
    assert left["ota_update"] == "CREATE_COMPLETE"  # what would have stayed
    assert [r.status for r in rollback] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


def test_create_that_the_service_says_is_gone_fails_and_the_rollback_deletes_it(
    cloudformation: CloudFormation, world: World
) -> None:
    """GetOTAUpdate answers ResourceNotFound once while the OTA update is being created."""
    testing.fail("GetOTAUpdate", code="ResourceNotFoundException")
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))

    created = cloudformation.send(event)
    rollback = cloudformation.roll_back(event, created)

    assert (created.status, created.physical_id) == ("FAILED", ID)
    assert created.reason == "OTA update fw-1 disappeared while it was being created"
    assert [r.status for r in rollback] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


def test_create_failing_after_a_hand_over_names_it_and_the_rollback_deletes_it(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudformation.timeout = 30
    monkeypatch.setenv("OTA_HANDOVER_MARGIN_SECONDS", "29")
    testing.set_manual_lifecycle(True)
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))
    started = cloudformation.start(event)
    testing.fail("GetOTAUpdate", code="UnauthorizedException")

    cloudformation.run_handovers()
    polled = cloudformation.answer(event, started, timeout=5)
    testing.reset_controls()
    testing.advance()
    testing.advance()
    assert polled is not None
    rollback = cloudformation.roll_back(event, polled)

    assert (polled.status, polled.physical_id) == ("FAILED", ID)
    assert polled.reason.startswith("UnauthorizedException: ")
    assert [r.status for r in rollback] == ["SUCCESS"]
    assert leftovers(world) == NOTHING
    assert cloudformation.run_handovers() == []  # none left running


def test_create_failed_by_the_service_is_discarded_with_its_stream_and_job(
    cloudformation: CloudFormation, world: World
) -> None:
    testing.fail_next_creation("InternalFailure", "Signing failed")
    event = cloudformation.event("Create", LOGICAL_ID, properties(world, deleteStream=False))

    created = cloudformation.send(event)
    left = leftovers(world)
    rollback = cloudformation.roll_back(event, created)

    assert (created.status, created.physical_id) == ("FAILED", ID)
    assert created.reason.startswith("Signing failed (OTA update fw-1 is CREATE_FAILED")
    assert left == NOTHING  # deleted with its stream and job, whatever the resource's flags
    assert [r.status for r in rollback] == ["SUCCESS"]


# ---------------------------------------------------------------------------------------------
# 2. Giving up after OTA_MAX_WAIT_SECONDS
# ---------------------------------------------------------------------------------------------
def test_giving_up_leaves_it_to_the_rollback_which_deletes_it_once_it_settles(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTA_MAX_WAIT_SECONDS", "1")
    testing.set_manual_lifecycle(True)
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))

    created = cloudformation.send(event)
    deletions = testing.calls("DeleteOTAUpdate")
    testing.advance()
    testing.advance()  # it completes after all
    monkeypatch.delenv("OTA_MAX_WAIT_SECONDS")
    testing.set_manual_lifecycle(False)
    rollback = cloudformation.roll_back(event, created)

    assert (created.status, created.physical_id) == ("FAILED", ID)
    assert created.reason.startswith("OTA update fw-1 is still CREATE_PENDING: gave up waiting")
    assert "CloudFormation's rollback deletes it once it settles" in created.reason
    assert deletions == 0  # the service refuses to delete a CREATE_PENDING OTA update
    assert [r.status for r in rollback] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


# ---------------------------------------------------------------------------------------------
# 3. A failed replacement
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["denied", "gave-up"])
def test_failed_replacement_is_removed_by_the_rollback_and_cleanup(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    old = properties(world)
    cloudformation.create(LOGICAL_ID, old)
    new = properties(world, NEW_ID, description="Firmware 2.0")
    if fault == "denied":
        testing.fail("GetOTAUpdate", code="UnauthorizedException")
    else:
        monkeypatch.setenv("OTA_MAX_WAIT_SECONDS", "1")
        testing.set_manual_lifecycle(True)
    event = cloudformation.event("Update", LOGICAL_ID, new, physical_id=ID, old_properties=old)

    updated = cloudformation.send(event)
    testing.reset_controls()
    testing.advance()
    testing.advance()
    monkeypatch.delenv("OTA_MAX_WAIT_SECONDS", raising=False)
    rollback = cloudformation.roll_back(event, updated)

    assert (updated.status, updated.physical_id) == ("FAILED", NEW_ID)
    assert [(r.status, r.physical_id) for r in rollback] == [("SUCCESS", ID), ("SUCCESS", NEW_ID)]
    assert leftovers(world, NEW_ID) == {**NOTHING, "streams": leftovers(world)["streams"]}
    assert leftovers(world)["ota_update"] == "CREATE_COMPLETE"  # the old one, untouched
    assert len(leftovers(world)["streams"]) == 1


# ---------------------------------------------------------------------------------------------
# 4. The hand-over margin covers blocking calls
# ---------------------------------------------------------------------------------------------
def test_recount_is_skipped_when_its_calls_would_run_past_the_hand_over(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudformation.timeout = 30
    monkeypatch.setenv("OTA_HANDOVER_MARGIN_SECONDS", "29")  # 1 s before handing over
    testing.set_manual_lifecycle(True)
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))

    started = cloudformation.start(event)

    assert cloudformation.answer(event, started, timeout=0.2) is None  # handed over
    assert testing.calls("ListOTAUpdates") == 0  # three calls of up to 25 s do not fit in 1 s


def test_recount_runs_when_the_invocation_has_time(
    cloudformation: CloudFormation, world: World
) -> None:
    testing.set_lifecycle_delay(0.3)  # CREATE_PENDING at the first poll: a wait, a count
    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "SUCCESS"
    assert testing.calls("ListOTAUpdates") == 3  # one count of each changing status


# ---------------------------------------------------------------------------------------------
# 6. "Not found" at any step of a Delete means gone
# ---------------------------------------------------------------------------------------------
def test_deletion_finished_between_get_and_list_tags_is_a_successful_delete(
    cloudformation: CloudFormation, world: World
) -> None:
    """ListTagsForResource answers ResourceNotFound, as after a deletion ending just then."""
    cloudformation.create(LOGICAL_ID, properties(world))
    testing.fail("ListTagsForResource", code="ResourceNotFoundException")

    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))

    assert (deleted.status, deleted.physical_id) == ("SUCCESS", ID)
    assert testing.calls("DeleteOTAUpdate") == 0


# ---------------------------------------------------------------------------------------------
# 10. Permanent service errors, each call once
# ---------------------------------------------------------------------------------------------
PERMANENT = (
    "UnauthorizedException",
    "InvalidRequestException",
    "ResourceNotFoundException",
    "ConflictException",
)


@pytest.mark.parametrize("code", PERMANENT)
def test_create_rejected_for_good_fails_and_the_rollback_leaves_nothing(
    cloudformation: CloudFormation, world: World, code: str
) -> None:
    testing.fail("CreateOTAUpdate", code=code)
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))

    created = cloudformation.send(event)
    rollback = cloudformation.roll_back(event, created)

    assert (created.status, created.physical_id) == ("FAILED", ID)
    assert created.reason.startswith(f"{code}: ")
    assert created.reason.endswith("(CreateOTAUpdate of OTA update fw-1)")
    assert testing.calls("CreateOTAUpdate") == 1  # not retried
    assert [r.status for r in rollback] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        (op, code)
        for op in ("GetOTAUpdate", "ListTagsForResource", "DeleteOTAUpdate")
        for code in PERMANENT
        if code != "ResourceNotFoundException"
    ],
)
def test_delete_rejected_for_good_fails_keeping_it_and_a_retry_deletes_it(
    cloudformation: CloudFormation, world: World, operation: str, code: str
) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))
    testing.fail(operation, code=code)

    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))
    kept = leftovers(world)
    retried = cloudformation.delete(LOGICAL_ID, ID, properties(world))  # DELETE_FAILED, retried

    assert (deleted.status, deleted.physical_id) == ("FAILED", ID)
    assert deleted.reason.startswith(f"{code}: ")
    assert deleted.reason.endswith(f"({operation} of OTA update fw-1)")
    assert (kept["ota_update"], kept["job"], len(kept["streams"])) == ("CREATE_COMPLETE", True, 1)
    assert retried.status == "SUCCESS"
    assert leftovers(world) == NOTHING


def test_get_not_found_on_delete_is_gone(cloudformation: CloudFormation, world: World) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))
    testing.fail("GetOTAUpdate", code="ResourceNotFoundException")

    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))

    assert deleted.status == "SUCCESS"
    assert testing.calls("DeleteOTAUpdate") == testing.calls("ListTagsForResource") == 0


def test_delete_while_delete_in_progress_is_not_sent_again(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))
    cloudformation.timeout = 30
    monkeypatch.setenv("OTA_HANDOVER_MARGIN_SECONDS", "29")
    testing.set_manual_lifecycle(True)
    event = cloudformation.event("Delete", LOGICAL_ID, properties(world), physical_id=ID)
    started = cloudformation.start(event)  # DELETE_IN_PROGRESS, handed over
    unanswered = cloudformation.answer(event, started, timeout=0.2)

    cloudformation.run_handovers()  # still DELETE_IN_PROGRESS: polled, not deleted again
    testing.advance()
    cloudformation.run_handovers()
    deleted = cloudformation.answer(event, started, timeout=5)

    assert unanswered is None
    assert deleted is not None
    assert deleted.status == "SUCCESS"
    assert testing.calls("DeleteOTAUpdate") == 1
    testing.advance()  # the deleted OTA update's job goes one transition later
    assert leftovers(world) == NOTHING
