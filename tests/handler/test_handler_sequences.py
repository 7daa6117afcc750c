"""CloudFormation's rarer sequences (issue 18): a create cancelled or timed out before any answer,
a late or repeated delivery, a cleanup that fails once, the same Delete twice at once, a throttle
once the invocation's time is spent, a clock step. Each ends by checking what is left in the
account, and what was answered. A Delete during a creation carries the id CloudFormation made up,
never the OTA update's, which CloudFormation cannot know."""

from __future__ import annotations

import time
from typing import Any

import pytest
from emulation_support import World
from handler_support import ID, LOGICAL_ID, NOTHING, leftovers, properties
from harness import CloudFormation, Event

from cdk_ota_update import testing

NEW_ID = "fw-2"
HOURS_AGO = 2 * 3600


@pytest.fixture
def short_invocations(cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invocations that stop waiting after one second (and hand over), OTA updates that settle
    only when the test advances them."""
    cloudformation.timeout = 30
    monkeypatch.setenv("OTA_HANDOVER_MARGIN_SECONDS", "29")
    testing.set_manual_lifecycle(True)


def _settle() -> None:
    """The emulated service finishes what it is doing from now on (the creation completes)."""
    testing.advance()
    testing.advance()
    testing.set_manual_lifecycle(False)


def _run_all_handovers(cloudformation: CloudFormation) -> int:
    """Run the hand-overs until none is left; how many rounds that took."""
    rounds = 0
    while cloudformation.run_handovers():
        rounds += 1
        assert rounds < 10, "the hand-overs never end"
    return rounds


def _answers(cloudformation: CloudFormation, event: Event) -> list[str]:
    return [body["Status"] for _, body in cloudformation.responses.answers(event["ResponseURL"])]


# ---------------------------------------------------------------------------------------------
# 1. A create cancelled (or timed out) before any answer: a Delete under a made-up id
# ---------------------------------------------------------------------------------------------
def test_a_create_cancelled_while_handed_over_is_deleted_and_never_answered(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    cloudformation.start(create)  # CREATE_PENDING: handed over
    delete = cloudformation.cancel(create)

    started = cloudformation.start(delete)  # still being created: waited for, handed over
    waiting = cloudformation.answer(delete, started, timeout=0.2)
    _settle()
    _run_all_handovers(cloudformation)
    deleted = cloudformation.answer(delete, started, timeout=5)

    assert waiting is None
    assert deleted is not None
    assert (deleted.status, deleted.physical_id) == ("SUCCESS", delete["PhysicalResourceId"])
    assert _answers(cloudformation, create) == []  # CloudFormation no longer waits for it
    assert leftovers(world) == NOTHING


def test_a_request_no_longer_waited_for_is_logged_as_a_warning(
    cloudformation: CloudFormation,
    world: World,
    short_invocations: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    cloudformation.start(create)  # CREATE_PENDING: handed over
    cloudformation.start(cloudformation.cancel(create))
    _settle()
    _run_all_handovers(cloudformation)

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert (
        f"Create {LOGICAL_ID} (request {create['RequestId']}): CloudFormation no longer waits "
        f"for it ({LOGICAL_ID} is DELETE_IN_PROGRESS): not answered"
    ) in warnings


def test_a_cancelled_create_goes_on_watching_the_deletion_of_what_it_created(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    """Its hand-over finds CloudFormation no longer waiting: it deletes its OTA update and,
    while the deletion lasts, hands over again (silently) until the OTA update is gone."""
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    cloudformation.start(create)  # CREATE_PENDING: handed over
    cloudformation.cancel(create)
    testing.advance()
    testing.advance()  # created; the deletion the hand-over starts then waits for the test

    (first,) = cloudformation.run_handovers()
    (second,) = cloudformation.run_handovers()  # deleting: handed over again
    _settle()
    _run_all_handovers(cloudformation)

    assert testing.calls("DeleteOTAUpdate") >= 1
    assert second["RequestId"] == first["RequestId"] == create["RequestId"]
    assert second["OtaUpdateHandover"]["count"] == first["OtaUpdateHandover"]["count"] + 1
    assert _answers(cloudformation, create) == []
    assert leftovers(world) == NOTHING


def test_a_create_that_never_answered_is_deleted_by_the_delete_after_the_timeout(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    assert cloudformation.lambda_service is not None
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    cloudformation.start(create)
    cloudformation.lambda_service.take()  # the hand-over is lost: no answer ever comes
    delete = cloudformation.time_out(create)
    _settle()

    deleted = cloudformation.send(delete)

    assert (deleted.status, deleted.physical_id) == ("SUCCESS", delete["PhysicalResourceId"])
    assert testing.calls("DeleteOTAUpdate") == 1
    assert leftovers(world) == NOTHING
    assert _answers(cloudformation, create) == []


def test_a_create_queued_behind_the_delete_of_its_cancellation_creates_nothing(
    cloudformation: CloudFormation, world: World
) -> None:
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    cloudformation.queue(create)  # sent by CloudFormation, still in Lambda's queue
    delete = cloudformation.cancel(create)

    deleted = cloudformation.send(delete)
    started = cloudformation.start(create)  # Lambda runs it at last
    late = cloudformation.answer(create, started, timeout=0.5)

    assert deleted.status == "SUCCESS"
    assert late is None
    assert testing.calls("CreateOTAUpdate") == 0
    assert leftovers(world) == NOTHING


def test_a_made_up_id_never_deletes_an_ota_update_of_another_request(
    cloudformation: CloudFormation, world: World
) -> None:
    """The OTA update under the request's id was made by this resource from another request: the
    Delete of a cancelled creation leaves it."""
    cloudformation.create(LOGICAL_ID, properties(world, description="Firmware 0.9"))
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    cloudformation.queue(create)
    delete = cloudformation.cancel(create)

    deleted = cloudformation.send(delete)

    assert deleted.status == "SUCCESS"
    assert testing.calls("DeleteOTAUpdate") == 0
    assert leftovers(world)["ota_update"] == "CREATE_COMPLETE"


def test_a_replacement_cancelled_while_handed_over_deletes_the_new_one_and_keeps_the_old(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    """CloudFormation never learns the new id of a cancelled Update: its rollback Update names
    the old one, and no cleanup Delete comes for the new one."""
    assert cloudformation.statuses is not None
    old, new = properties(world), properties(world, NEW_ID, description="Firmware 2.0")
    testing.set_manual_lifecycle(False)
    cloudformation.create(LOGICAL_ID, old)
    testing.set_manual_lifecycle(True)
    update = cloudformation.event(
        "Update", LOGICAL_ID, new, physical_id=ID, old_properties=old, signed_at=time.time() - 60
    )
    started = cloudformation.start(update)  # NEW_ID CREATE_PENDING: handed over
    cloudformation.statuses.abandoned(update, ID)  # "Resource update cancelled"

    rolled_back = cloudformation.update(LOGICAL_ID, ID, old, new)
    _settle()
    _run_all_handovers(cloudformation)

    assert (rolled_back.status, rolled_back.physical_id) == ("SUCCESS", ID)
    assert cloudformation.answer(update, started, timeout=0.2) is None
    assert leftovers(world, NEW_ID)["ota_update"] is None
    assert leftovers(world, NEW_ID)["job"] is False
    assert leftovers(world)["ota_update"] == "CREATE_COMPLETE"
    assert len(leftovers(world)["streams"]) == 1  # the old one's


# ---------------------------------------------------------------------------------------------
# 2. A late or repeated delivery
# ---------------------------------------------------------------------------------------------
def test_a_create_replayed_after_the_stack_was_deleted_creates_nothing(
    cloudformation: CloudFormation, world: World
) -> None:
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    created = cloudformation.send(create)
    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))
    cloudformation.delete_stack()
    replay = cloudformation.replay(create)

    cloudformation.start(replay)

    assert (created.status, deleted.status) == ("SUCCESS", "SUCCESS")
    assert testing.calls("CreateOTAUpdate") == 1
    assert _answers(cloudformation, create) == ["SUCCESS"]  # the first delivery's only
    assert leftovers(world) == NOTHING


def test_a_create_replayed_after_its_replacement_creates_nothing(
    cloudformation: CloudFormation, world: World
) -> None:
    old, new = properties(world), properties(world, NEW_ID, description="Firmware 2.0")
    create = cloudformation.event("Create", LOGICAL_ID, old)
    cloudformation.send(create)
    replaced = cloudformation.update(LOGICAL_ID, ID, new, old)
    cleaned = cloudformation.delete(LOGICAL_ID, ID, old)

    cloudformation.start(cloudformation.replay(create))

    assert (replaced.status, replaced.physical_id, cleaned.status) == ("SUCCESS", NEW_ID, "SUCCESS")
    assert testing.calls("CreateOTAUpdate") == 2
    assert leftovers(world) == {**NOTHING, "streams": leftovers(world)["streams"]}
    assert leftovers(world, NEW_ID)["ota_update"] == "CREATE_COMPLETE"
    assert len(_answers(cloudformation, create)) == 1


def test_a_create_replayed_while_a_later_create_of_the_resource_waits_creates_nothing(
    cloudformation: CloudFormation, world: World
) -> None:
    """The resource is CREATE_IN_PROGRESS again, for a later request: the replay is not it."""
    first = cloudformation.event(
        "Create", LOGICAL_ID, properties(world), signed_at=time.time() - 60
    )
    cloudformation.queue(first)
    cloudformation.send(cloudformation.cancel(first))
    second = cloudformation.event("Create", LOGICAL_ID, properties(world, NEW_ID))
    cloudformation.queue(second)

    cloudformation.start(cloudformation.replay(first))
    created = cloudformation.send(second)

    assert (created.status, created.physical_id) == ("SUCCESS", NEW_ID)
    assert testing.calls("CreateOTAUpdate") == 1
    assert leftovers(world) == {**NOTHING, "streams": leftovers(world)["streams"]}
    assert _answers(cloudformation, first) == []


def test_a_request_older_than_its_service_timeout_changes_nothing(
    cloudformation: CloudFormation, world: World
) -> None:
    """Even while the resource is in progress again (a later request), an event CloudFormation
    signed hours ago is past waiting for."""
    create = cloudformation.event(
        "Create", LOGICAL_ID, properties(world), signed_at=time.time() - HOURS_AGO
    )

    started = cloudformation.start(create)

    assert cloudformation.answer(create, started, timeout=0.5) is None
    assert testing.calls("CreateOTAUpdate") == 0
    assert leftovers(world) == NOTHING


def test_a_delete_older_than_its_service_timeout_deletes_nothing(
    cloudformation: CloudFormation, world: World
) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))
    delete = cloudformation.event(
        "Delete",
        LOGICAL_ID,
        properties(world),
        physical_id=ID,
        signed_at=time.time() - HOURS_AGO,
    )

    started = cloudformation.start(delete)

    assert cloudformation.answer(delete, started, timeout=0.5) is None
    assert testing.calls("DeleteOTAUpdate") == 0
    assert leftovers(world)["ota_update"] == "CREATE_COMPLETE"


def test_a_create_whose_stack_cannot_be_read_fails_naming_why(
    cloudformation: CloudFormation, world: World
) -> None:
    assert cloudformation.stack_service is not None
    cloudformation.stack_service.refuse("AccessDenied")

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.startswith("AccessDenied: ")
    assert "cannot tell whether CloudFormation still waits" in created.reason
    assert testing.calls("CreateOTAUpdate") == 0


def test_a_stack_that_keeps_throttling_fails_the_create_naming_the_resource(
    cloudformation: CloudFormation, world: World
) -> None:
    assert cloudformation.stack_service is not None
    cloudformation.stack_service.refuse(*["Throttling"] * 1000)  # past OTA_RETRY_SECONDS (3)

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.startswith(
        f"Throttling: Rate exceeded (DescribeStackResource of resource {LOGICAL_ID} still failing "
        "after "
    )
    assert testing.calls("CreateOTAUpdate") == 0


# ---------------------------------------------------------------------------------------------
# 3. A cleanup whose deletion fails once
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["InternalFailure", "ThrottlingException"])
def test_a_deletion_failing_once_in_a_cleanup_is_started_again(
    cloudformation: CloudFormation, world: World, code: str
) -> None:
    old, new = properties(world), properties(world, NEW_ID, description="Firmware 2.0")
    cloudformation.create(LOGICAL_ID, old)
    cloudformation.update(LOGICAL_ID, ID, new, old)
    testing.fail_next_deletion("An internal error occurred", code=code)

    cleaned = cloudformation.delete(LOGICAL_ID, ID, old)

    assert (cleaned.status, cleaned.physical_id) == ("SUCCESS", ID)
    assert testing.calls("DeleteOTAUpdate") == 2
    assert leftovers(world)["ota_update"] is None
    assert leftovers(world)["job"] is False
    assert leftovers(world, NEW_ID)["ota_update"] == "CREATE_COMPLETE"


def test_a_deletion_failing_for_good_names_what_is_left_and_how_to_remove_it(
    cloudformation: CloudFormation, world: World
) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))
    testing.fail_next_deletion("Job is in progress", code="InvalidStateTransitionException")

    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))
    left = leftovers(world)
    retried = cloudformation.delete(LOGICAL_ID, ID, properties(world))

    assert deleted.status == "FAILED"
    assert deleted.reason.startswith(
        "Job is in progress (OTA update fw-1 is DELETE_FAILED InvalidStateTransitionException): "
        "it is left, with its job AFR_OTA-fw-1"
    )
    assert "aws iot delete-ota-update --ota-update-id fw-1" in deleted.reason
    assert testing.calls("DeleteOTAUpdate") == 2  # once, then the retry's
    assert (left["ota_update"], left["job"]) == ("DELETE_FAILED", True)
    assert retried.status == "SUCCESS"
    assert leftovers(world) == NOTHING


def test_a_deletion_failing_transiently_past_the_bound_fails(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))
    monkeypatch.setenv("OTA_MAX_WAIT_SECONDS", "0")
    testing.fail_next_deletion("An internal error occurred", code="InternalFailure")

    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))

    assert deleted.status == "FAILED"
    assert deleted.reason.startswith("An internal error occurred (OTA update fw-1 is DELETE_FAILED")
    assert testing.calls("DeleteOTAUpdate") == 1


# ---------------------------------------------------------------------------------------------
# 4. The same Delete twice at once
# ---------------------------------------------------------------------------------------------
class _StaleFirstRead:
    """An IoT client whose first GetOTAUpdate answers what the service said before another
    execution environment started deleting (both read CREATE_COMPLETE, then both delete)."""

    def __init__(self, client: Any, snapshot: dict[str, Any]) -> None:
        self._client = client
        self._snapshot: dict[str, Any] | None = snapshot

    def get_ota_update(self, **kwargs: Any) -> dict[str, Any]:
        if self._snapshot is not None:
            snapshot, self._snapshot = self._snapshot, None
            return snapshot
        return self._client.get_ota_update(**kwargs)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_the_same_delete_in_two_execution_environments_answers_success_first(
    cloudformation: CloudFormation,
    world: World,
    short_invocations: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import index

    testing.set_manual_lifecycle(False)
    cloudformation.create(LOGICAL_ID, properties(world))
    testing.set_manual_lifecycle(True)
    before = index._iot().get_ota_update(otaUpdateId=ID)
    delete = cloudformation.event("Delete", LOGICAL_ID, properties(world), physical_id=ID)
    started = cloudformation.start(delete)  # DELETE_IN_PROGRESS, handed over
    monkeypatch.setattr(index, "_iot", lambda: _StaleFirstRead(world.iot, before))

    cloudformation.start(cloudformation.replay(delete))  # refused: already being deleted
    first = cloudformation.answer(delete, started, timeout=0.2)
    _settle()
    _run_all_handovers(cloudformation)

    assert first is None  # the second delivery did not answer FAILED
    assert testing.calls("DeleteOTAUpdate") == 2
    assert set(_answers(cloudformation, delete)) == {"SUCCESS"}
    assert leftovers(world) == NOTHING


# ---------------------------------------------------------------------------------------------
# 5. A transient error once the invocation's time is spent hands over
# ---------------------------------------------------------------------------------------------
def test_a_throttle_after_a_wait_hands_over_instead_of_failing(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    cloudformation.start(create)
    delete = cloudformation.cancel(create)
    started = cloudformation.start(delete)  # waits for the creation: handed over
    testing.advance()
    testing.advance()  # CREATE_COMPLETE
    testing.throttle("DeleteOTAUpdate", times=1000)

    cloudformation.run_handovers()  # DeleteOTAUpdate throttled until the invocation stops
    throttled = cloudformation.answer(delete, started, timeout=0.2)
    testing.reset_controls()
    _run_all_handovers(cloudformation)
    deleted = cloudformation.answer(delete, started, timeout=5)

    assert throttled is None
    assert deleted is not None
    assert deleted.status == "SUCCESS"
    assert leftovers(world) == NOTHING


# ---------------------------------------------------------------------------------------------
# 6. A clock step within an invocation
# ---------------------------------------------------------------------------------------------
def test_a_clock_step_back_does_not_run_the_wait_past_the_invocation(
    cloudformation: CloudFormation,
    world: World,
    short_invocations: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wall clock steps 8 s back (NTP) half a second into an invocation that stops waiting
    after 1 s and ends after 4 s."""
    assert cloudformation.lambda_service is not None
    cloudformation.timeout = 4
    monkeypatch.setenv("OTA_HANDOVER_MARGIN_SECONDS", "3")
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))
    real, since = time.time, time.monotonic()
    monkeypatch.setattr(time, "time", lambda: real() - (8 if time.monotonic() - since > 0.5 else 0))

    started = cloudformation.start(create)
    took = time.monotonic() - started
    monkeypatch.setattr(time, "time", real)
    answer = cloudformation.answer(create, started, timeout=0.2)

    assert answer is None  # not crhelper's "Execution timed out"
    assert took < 3
    assert len(cloudformation.lambda_service.take()) == 1  # handed over


# ---------------------------------------------------------------------------------------------
# 7. Reasons keep their beginning
# ---------------------------------------------------------------------------------------------
def test_a_refused_hand_over_keeps_the_beginning_of_its_reason(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    assert cloudformation.lambda_service is not None
    cloudformation.lambda_service.refuse("TooManyRequestsException" + "x" * 300)
    create = cloudformation.event("Create", LOGICAL_ID, properties(world))

    started = cloudformation.start(create)
    refused = cloudformation.answer(create, started, timeout=5)

    assert refused is not None
    assert (refused.status, refused.physical_id) == ("FAILED", ID)
    assert refused.reason.startswith("Handing the wait over to the next invocation failed: ")
    assert len(refused.reason) == 256
    assert refused.reason.endswith("…")
