"""The rollout gate (issue 21 item 5) through CloudFormation's events (tests/harness.py), against
the OTA update emulation over HTTP and its simulated fleet: the deploy waits, after
CREATE_COMPLETE, until the job's executions pass the gate (SUCCESS) or fail it (FAILED, the
figures first, the job cancelled), and CloudFormation's rollback removes what the request created.
Each test ends by checking what is left in the account."""

from __future__ import annotations

import time
from typing import Any

import pytest
from emulation_support import World, things
from handler_support import ID, LOGICAL_ID, NOTHING, exists, job, leftovers, properties
from harness import CloudFormation, Event, Response

from cdk_ota_update import api, testing

NEW_ID = "fw-2"
JOB = api.job_id(ID)
FLEET = 10  # things in the targeted thing group
# Every device notified, started and done (the rollout notifies 5, then 7, ... a minute).
ALL_DONE = 20 * 60.0
ROLLBACK = "CloudFormation's rollback deletes it with its job)"


def _gated(world: World, ota_update_id: str = ID, **gate: Any) -> dict[str, Any]:
    """An OtaUpdate's properties with a rollout gate (no abort configuration: the gate judges)."""
    given = properties(world, ota_update_id, rolloutGate=gate)
    del given["awsJobAbortConfig"]
    return given


@pytest.fixture
def fleet(world: World) -> list[str]:
    """The targeted thing group's things, simulated devices that report within minutes."""
    names = things(world, FLEET)
    testing.simulate_fleet(pace=testing.Pace(start_after=30, finish_after=60))
    return names


@pytest.fixture
def short_invocations(cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invocations that stop waiting after a second and hand over (the gate reads its job every
    GATE_POLL_SECONDS: each invocation reads it once)."""
    cloudformation.timeout = 30
    monkeypatch.setenv("OTA_HANDOVER_MARGIN_SECONDS", "29")


def _failing(names: tuple[str, ...], outcome: str) -> None:
    """The default fleet: ``names`` end in ``outcome``, the other devices never report (their
    executions stay IN_PROGRESS, and so does the job)."""
    testing.simulate_fleet(
        outcomes={"TIMED_OUT": 1},
        script=dict.fromkeys(names, outcome),
        pace=testing.Pace(start_after=30, finish_after=60),
    )


def _answer_after_handovers(cloudformation: CloudFormation, event: Event) -> Response:
    """Run the hand-overs, the fleet moving on ALL_DONE in between, until ``event`` is answered."""
    started = time.monotonic()
    for _ in range(5):
        response = cloudformation.answer(event, started, timeout=0.1)
        if response is not None:
            return response
        testing.advance_fleet(ALL_DONE)
        cloudformation.run_handovers()
    raise AssertionError("no answer after 5 rounds of hand-overs")


def test_the_gate_passes_on_a_healthy_fleet(
    cloudformation: CloudFormation, world: World, fleet: list[str], short_invocations: None
) -> None:
    create = cloudformation.event(
        "Create", LOGICAL_ID, _gated(world, minSucceededPercentage=90, timeoutSeconds=600)
    )
    started = cloudformation.start(create)
    waiting = cloudformation.answer(create, started, timeout=0.1)

    passed = _answer_after_handovers(cloudformation, create)

    assert waiting is None  # CREATE_COMPLETE, the fleet not done yet: the gate waited
    assert (passed.status, passed.physical_id, passed.reason) == ("SUCCESS", ID, "")
    assert passed.data[api.ATTR_AWS_IOT_JOB_ID] == JOB
    assert job(world)["status"] == "COMPLETED"
    assert job(world)["jobProcessDetails"]["numberOfSucceededThings"] == FLEET
    assert testing.calls("CancelJob") == 0
    assert world.status(ID) == "CREATE_COMPLETE"


def test_the_gates_wait_is_handed_over_with_its_own_bound(
    cloudformation: CloudFormation,
    world: World,
    fleet: list[str],
    short_invocations: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert cloudformation.lambda_service is not None
    gate: dict[str, Any] = {"minSucceededPercentage": 90, "timeoutSeconds": 600}
    create = cloudformation.event("Create", LOGICAL_ID, _gated(world, **gate))
    cloudformation.start(create)
    before = time.time()

    (handover,) = cloudformation.lambda_service.take()

    _, event = handover
    state = event["OtaUpdateHandover"]
    assert (state["gating"], state["count"]) == (True, 1)
    assert before - 2 < state["giveUpAt"] - 600 <= before  # the gate's timeout from its start
    assert event["ResourceProperties"]["rolloutGate"] == {
        "minSucceededPercentage": "90",
        "timeoutSeconds": "600",
    }
    assert testing.calls("DescribeJob") == 1  # once CREATE_COMPLETE, once per invocation
    assert f"{ID}: waiting for its rollout gate" in caplog.messages
    assert world.status(ID) == "CREATE_COMPLETE"


def test_the_gate_fails_on_a_failing_fleet_and_the_rollback_deletes_the_ota_update_and_its_job(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    things(world, FLEET)
    _failing(("thing-01", "thing-02", "thing-03"), "FAILED")
    create = cloudformation.event(
        "Create",
        LOGICAL_ID,
        _gated(world, minSucceededPercentage=90, maxFailedPercentage=10, timeoutSeconds=600),
    )
    cloudformation.start(create)

    failed = _answer_after_handovers(cloudformation, create)
    cancelled = job(world)["status"]
    rolled_back = cloudformation.roll_back(create, failed)

    assert (failed.status, failed.physical_id) == ("FAILED", ID)
    assert failed.reason.startswith("failed>10% holds: 3 of 10 executions (30.0%) ")
    assert failed.reason == (
        "failed>10% holds: 3 of 10 executions (30.0%) (rollout gate of OTA update fw-1 failed; "
        f"its job {JOB} cancelled; {ROLLBACK}"
    )
    assert cancelled == "CANCELED"
    assert [r.status for r in rolled_back] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


def test_the_gate_times_out_with_the_figures_and_the_rollback_deletes_it(
    cloudformation: CloudFormation, world: World, fleet: list[str]
) -> None:
    create = cloudformation.event(
        "Create", LOGICAL_ID, _gated(world, minSucceededPercentage=95, timeoutSeconds=2)
    )

    failed = cloudformation.send(create)  # nothing moves: the devices' clock stands still
    rolled_back = cloudformation.roll_back(create, failed)

    assert (failed.status, failed.physical_id) == ("FAILED", ID)
    assert failed.reason == (
        "not yet: succeeded>=95% does not hold: 0 of 10 executions (0.0%) (rollout gate of OTA "
        f"update fw-1 timed out after 2 s; its job {JOB} cancelled; {ROLLBACK}"
    )
    assert [r.status for r in rolled_back] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


def test_a_replacement_that_fails_its_gate_leaves_the_previous_ota_update_rolling_out(
    cloudformation: CloudFormation,
    world: World,
    short_invocations: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    things(world, FLEET)
    gate: dict[str, Any] = {
        "minSucceededPercentage": 90,
        "maxFailedPercentage": 10,
        "timeoutSeconds": 600,
    }
    old = _gated(world, **gate)
    create = cloudformation.event("Create", LOGICAL_ID, old)
    cloudformation.start(create)  # CREATE_COMPLETE, the gate waits: handed over
    testing.simulate_fleet(JOB, pace=testing.Pace(start_after=30, finish_after=60))  # healthy
    created = _answer_after_handovers(cloudformation, create)
    _failing(("thing-01", "thing-02"), "REJECTED")  # the new release's fleet
    new = {**_gated(world, NEW_ID, **gate), "description": "Firmware 2.0"}
    update = cloudformation.event("Update", LOGICAL_ID, new, physical_id=ID, old_properties=old)
    cloudformation.start(update)
    failed = _answer_after_handovers(cloudformation, update)
    # CloudFormation signs its URLs to the second: the rollback comes in a later one than the old
    # job's creation, as it always does after a failed gate.
    time.sleep(max(0.0, job(world)["createdAt"].timestamp() + 1.1 - time.time()))

    caplog.clear()
    rolled_back = cloudformation.roll_back(update, failed)

    assert created.status == "SUCCESS"
    assert (failed.status, failed.physical_id) == ("FAILED", NEW_ID)
    assert failed.reason == (
        "rejected>10% holds: 2 of 10 executions (20.0%) (rollout gate of OTA update fw-2 failed; "
        f"its job {api.job_id(NEW_ID)} cancelled; {ROLLBACK}"
    )
    assert [(r.status, r.physical_id) for r in rolled_back] == [
        ("SUCCESS", ID),  # back to the old one at once: its rollout is not judged again
        ("SUCCESS", NEW_ID),  # the cleanup Delete of the new one
    ]
    assert not exists(world.iot, NEW_ID)
    assert api.job_id(NEW_ID) not in [j["jobId"] for j in world.iot.list_jobs()["jobs"]]
    assert (world.status(ID), job(world)["status"]) == ("CREATE_COMPLETE", "COMPLETED")
    assert testing.calls("CancelJob") == 1  # the new one's only
    assert "fw-1: its job is older than the request: not judged again" in caplog.messages


def test_a_change_of_the_gate_alone_waits_for_nothing(
    cloudformation: CloudFormation, world: World, fleet: list[str]
) -> None:
    old = properties(world)
    created = cloudformation.create(LOGICAL_ID, old)
    new = {**old, "rolloutGate": {"minSucceededPercentage": 90, "timeoutSeconds": 600}}

    updated = cloudformation.update(LOGICAL_ID, created.physical_id, new, old)

    assert (updated.status, updated.physical_id) == ("SUCCESS", ID)
    assert testing.calls("DescribeJob") == 0
    assert testing.calls("CreateOTAUpdate") == 1
    assert (world.status(ID), job(world)["status"]) == ("CREATE_COMPLETE", "IN_PROGRESS")


def test_an_invalid_gate_fails_the_create_before_any_call(
    cloudformation: CloudFormation, world: World
) -> None:
    create = _gated(world, maxFailedPercentage="lots", timeoutSeconds="0")

    failed = cloudformation.create(LOGICAL_ID, create)

    assert failed.status == "FAILED"
    assert failed.reason == (
        "Invalid properties: rolloutGate.maxFailedPercentage = 'lots' is invalid: it must be a "
        "finite number; rolloutGate.timeoutSeconds = 0 is invalid: it must be an integer at least 1"
    )
    assert testing.calls("CreateOTAUpdate") == 0
    assert leftovers(world) == NOTHING
