"""Events the handler must not act on, and answers that must reach CloudFormation (issue 8,
cases 7-9): malformed events, events of another stack, a ResponseURL failing for a while."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from emulation_support import World
from handler_support import ID, LOGICAL_ID, NOTHING, exists, leftovers, properties
from harness import URL_SECRET, CloudFormation, Event

from cdk_ota_update import api, testing


@pytest.fixture
def index(cloudformation: CloudFormation) -> Any:
    return sys.modules["index"]


@pytest.fixture
def pending(cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch) -> Event:
    """A Create that crhelper still holds in its module state, not answered yet."""
    monkeypatch.setenv("OTA_MAX_WAIT_SECONDS", "1")
    testing.set_manual_lifecycle(True)
    first = cloudformation.event("Create", LOGICAL_ID, properties(world))
    # its answer is lost (the ResponseURL refuses every attempt), so only a stranger could answer
    cloudformation.responses.refuse(first["ResponseURL"], *[403])
    cloudformation.start(first)
    testing.set_manual_lifecycle(False)
    monkeypatch.delenv("OTA_MAX_WAIT_SECONDS")
    return first


# ---------------------------------------------------------------------------------------------
# 7. A malformed event answers only itself
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("StackId", "Malformed event: StackId missing"),
        ("RequestId", "Malformed event: RequestId missing"),
        ("LogicalResourceId", "Malformed event: LogicalResourceId missing"),
        ("RequestType", "Malformed event: RequestType missing"),
        ("ResourceProperties", "Malformed event: ResourceProperties missing"),
        ("PhysicalResourceId", "Malformed event: PhysicalResourceId missing"),
        ("OldResourceProperties", "Malformed event: OldResourceProperties missing"),
    ],
)
def test_malformed_event_fails_on_its_own_url_and_touches_nothing(
    cloudformation: CloudFormation, world: World, pending: Event, missing: str, reason: str
) -> None:
    created = cloudformation.create("Other", properties(world, "fw-other"))
    event = cloudformation.event(
        "Update",
        LOGICAL_ID,
        properties(world, "fw-3"),
        physical_id=ID,
        old_properties=properties(world),
    )
    del event[missing]

    cloudformation.start(event)
    answers = cloudformation.responses.answers(event["ResponseURL"])

    assert [(body["Status"], body["Reason"].split(" or ")[0]) for _, body in answers] == [
        ("FAILED", reason)
    ]
    assert cloudformation.answer_count(pending) == 0  # the stranger never answered it
    assert testing.calls("CreateOTAUpdate") == 2  # the pending one and Other's, no fw-3
    assert exists(world.iot, "fw-other")
    assert created.status == "SUCCESS"


def test_event_without_a_response_url_is_answered_nowhere(
    cloudformation: CloudFormation, world: World, pending: Event
) -> None:
    event = cloudformation.event("Delete", LOGICAL_ID, properties(world), physical_id=ID)
    del event["ResponseURL"]

    cloudformation.start(event)

    assert cloudformation.answer_count(pending) == 0
    assert testing.calls("DeleteOTAUpdate") == 0
    assert exists(world.iot, ID)


# ---------------------------------------------------------------------------------------------
# 8. The provider acts only for its own stack
# ---------------------------------------------------------------------------------------------
def test_forged_delete_of_another_stack_is_refused(
    cloudformation: CloudFormation, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))
    forged = cloudformation.event("Delete", LOGICAL_ID, properties(world), physical_id=ID)
    forged["StackId"] = cloudformation.stack_id.replace("stack/Firmware/", "stack/Attacker/")
    reads = testing.calls("GetOTAUpdate")

    cloudformation.start(forged)
    ((_, answer),) = cloudformation.responses.answers(forged["ResponseURL"])

    assert answer["Status"] == "FAILED"
    refusal = (
        f"Refused: StackId {forged['StackId']} is not the stack of this provider "
        f"({cloudformation.stack_id}); nothing was done"
    )
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [refusal]
    assert answer["Reason"] == refusal[:255] + "…"  # cut to crhelper's 256
    assert (testing.calls("GetOTAUpdate"), testing.calls("DeleteOTAUpdate")) == (reads, 0)
    assert leftovers(world)["ota_update"] == "CREATE_COMPLETE"


def test_provider_without_its_stack_id_acts_for_no_stack(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(api.STACK_ID_ENV)

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.endswith(
        "is not the stack of this provider (OTA_STACK_ID is not set); nothing was done"
    )
    assert leftovers(world) == NOTHING


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OTA_MAX_WAIT_SECONDS", "15m", "seconds, 0 or more"),
        ("OTA_RETRY_SECONDS", "-1", "seconds, 0 or more"),
        ("OTA_HANDOVER_MARGIN_SECONDS", "nan", "seconds, 0 or more"),
        ("OTA_MAX_HANDOVERS", "2.5", "a whole number, 0 or more"),
        (api.STACK_ID_ENV, "", "the stack's id"),
    ],
)
def test_bad_setting_of_the_provider_fails_naming_it_and_touches_nothing(
    cloudformation: CloudFormation,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    expected: str,
) -> None:
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))

    with monkeypatch.context() as patch:
        patch.setenv(name, value)
        created = cloudformation.send(event)
    rollback = cloudformation.roll_back(event, created)  # once the provider is fixed

    assert created.status == "FAILED"
    assert created.reason == (
        f"Provider misconfigured: {name}={value!r} is invalid: {expected} expected (the "
        "provider's CDK construct sets it; fix or remove it in the function's environment); "
        "nothing was done"
    )
    assert testing.calls("CreateOTAUpdate") == 0
    assert [r.status for r in rollback] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


# ---------------------------------------------------------------------------------------------
# 9. Answers reach CloudFormation
# ---------------------------------------------------------------------------------------------
def test_answer_is_retried_through_server_errors(
    cloudformation: CloudFormation, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))
    cloudformation.responses.refuse(event["ResponseURL"], 500, 503)

    created = cloudformation.send(event)

    assert (created.status, created.physical_id) == ("SUCCESS", ID)
    assert cloudformation.answer_count(event) == 1
    assert [
        r.getMessage().split(" (")[0]
        for r in caplog.records
        if r.name == "index" and r.levelno == logging.WARNING
    ] == ["Answering failed", "Answering failed"]


def test_answer_that_cannot_be_delivered_is_logged_without_the_url(
    cloudformation: CloudFormation,
    world: World,
    caplog: pytest.LogCaptureFixture,
    index: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))
    body = {"Status": "FAILED", "Reason": "r", "PhysicalResourceId": "p"}
    cloudformation.responses.refuse(event["ResponseURL"], *[502] * 100)

    delivered = index.put_answer(event["ResponseURL"], body, deadline=_in(1.5))
    last = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]

    assert not delivered
    assert last[-1].startswith("The answer was not delivered after ")
    assert last[-1].endswith("attempts, the last: HTTP 502")
    assert not [r for r in caplog.records if URL_SECRET in r.getMessage()]


def test_answer_put_has_a_timeout(
    cloudformation: CloudFormation, index: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A ResponseURL host that accepts the connection and never answers."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        url = f"https://127.0.0.1:{port}/x?{URL_SECRET}"

        delivered = index.put_answer(url, {"Status": "SUCCESS"}, deadline=_in(1.0))

    assert not delivered
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors[-1].endswith("timed out")


def _in(seconds: float) -> float:
    import time

    return time.monotonic() + seconds
