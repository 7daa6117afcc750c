"""The handler under faults, malformed properties, long waits (handed over) and its logs."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from emulation_support import World
from handler_support import ID, LOGICAL_ID, NOTHING, exists, leftovers, properties
from harness import URL_SECRET, CloudFormation, Event, Response

from cdk_ota_update import api, testing

TRANSIENT = ("ThrottlingException", "InternalFailureException", "ServiceUnavailableException")


# ---------------------------------------------------------------------------------------------
# Faults: retried with backoff, then a clear Reason
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", TRANSIENT)
@pytest.mark.parametrize("operation", ["CreateOTAUpdate", "GetOTAUpdate"])
def test_transient_fault_while_creating_is_retried(
    cloudformation: CloudFormation, world: World, operation: str, code: str
) -> None:
    testing.fail(operation, times=2, code=code)

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert (created.status, created.data["otaUpdateStatus"]) == ("SUCCESS", "CREATE_COMPLETE")


@pytest.mark.parametrize("code", TRANSIENT)
@pytest.mark.parametrize("operation", ["DeleteOTAUpdate", "ListTagsForResource"])
def test_transient_fault_while_deleting_is_retried(
    cloudformation: CloudFormation, world: World, operation: str, code: str
) -> None:
    cloudformation.create(LOGICAL_ID, properties(world))
    testing.fail(operation, times=2, code=code)

    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))

    assert deleted.status == "SUCCESS"
    assert not exists(world.iot)


@pytest.mark.parametrize(
    ("operation", "code"),
    [("CreateOTAUpdate", code) for code in TRANSIENT] + [("GetOTAUpdate", "ThrottlingException")],
)
def test_persistent_fault_while_creating_fails_with_a_clear_reason(
    cloudformation: CloudFormation,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    code: str,
) -> None:
    monkeypatch.setenv("OTA_RETRY_SECONDS", "1")  # failing for good within seconds
    testing.fail(operation, times=1000, code=code)

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.startswith(f"{code}: ")
    assert f"({operation} of OTA update fw-1 still failing after" in created.reason
    assert created.seconds < 30


def test_persistent_fault_while_deleting_fails_with_a_clear_reason(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTA_RETRY_SECONDS", "1")  # failing for good within seconds
    cloudformation.create(LOGICAL_ID, properties(world))
    testing.fail("DeleteOTAUpdate", times=1000, code="ServiceUnavailableException")

    deleted = cloudformation.delete(LOGICAL_ID, ID, properties(world))

    assert deleted.status == "FAILED"
    assert deleted.reason.startswith("ServiceUnavailableException: ")
    assert "retry the deployment later" in deleted.reason


# ---------------------------------------------------------------------------------------------
# Malformed properties: FAILED within seconds, naming the field, nothing created
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("members", "field"),
    [
        (
            {
                "files": [
                    {
                        "fileName": "f",
                        "fileType": "two",
                        "fileLocation": {"stream": {"streamId": "s", "fileId": "1"}},
                    }
                ]
            },
            "files[0].fileType",
        ),
        (
            {"awsJobPresignedUrlConfig": {"expiresInSec": "30"}},
            "awsJobPresignedUrlConfig.expiresInSec",
        ),
        (
            {"awsJobExecutionsRolloutConfig": {"maximumPerMinute": "1.5"}},
            "awsJobExecutionsRolloutConfig.maximumPerMinute",
        ),
        ({api.DELETE_STREAM: "maybe"}, "deleteStream"),
        ({"colour": "blue"}, "colour"),
        ({"otaUpdateId": "x" * 57}, "otaUpdateId"),
    ],
)
def test_malformed_property_fails_fast_naming_the_field(
    cloudformation: CloudFormation, world: World, members: dict[str, Any], field: str
) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world, **members))

    assert created.status == "FAILED"
    assert created.reason.startswith(f"Invalid properties: {field} = ")
    assert created.seconds < 5
    assert testing.calls("CreateOTAUpdate") == 0


def test_signature_that_is_not_base64_fails_naming_the_field(
    cloudformation: CloudFormation, world: World
) -> None:
    file = properties(world)["files"][0]
    file["codeSigning"]["customCodeSigning"]["signature"]["inlineDocument"] = "not base64!"

    created = cloudformation.create(LOGICAL_ID, properties(world, files=[file]))

    assert created.reason.startswith(
        "Invalid properties: files[0].codeSigning.customCodeSigning.signature.inlineDocument"
    )
    assert testing.calls("CreateOTAUpdate") == 0


@pytest.mark.parametrize(
    ("member", "value", "reason"),
    [
        ("roleArn", None, "roleArn = None is invalid: it must be given (it is required)"),
        (
            "targets",
            "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet",
            "targets = 'arn:aws:iot:us-east-1:123456789012:thinggroup/fleet' is invalid: it "
            "must be a list",
        ),
        (
            "additionalParameters",
            "k=v",
            "additionalParameters = 'k=v' is invalid: it must be a map of strings to strings",
        ),
    ],
)
def test_a_missing_member_or_a_plain_string_for_a_list_or_map_fails_naming_it(
    cloudformation: CloudFormation, world: World, member: str, value: Any, reason: str
) -> None:
    given = properties(world)
    if value is None:
        del given[member]
    else:
        given[member] = value

    created = cloudformation.create(LOGICAL_ID, given)

    assert (created.status, created.reason) == ("FAILED", f"Invalid properties: {reason}")
    assert testing.calls("CreateOTAUpdate") == 0
    assert world.iot.list_ota_updates()["otaUpdates"] == []


def test_long_reason_keeps_its_beginning(cloudformation: CloudFormation, world: World) -> None:
    created = cloudformation.create(LOGICAL_ID, properties(world, colour="blue"))

    assert created.reason.startswith("Invalid properties: colour = 'blue' is invalid")
    assert (len(created.reason), created.reason[-1]) == (256, "…")


# ---------------------------------------------------------------------------------------------
# Waits longer than an invocation: handed over to the next invocation, bounded
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def short_invocations(cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invocations that may wait ~1 s, and creations that go on until advanced."""
    cloudformation.timeout = 30
    monkeypatch.setenv("OTA_HANDOVER_MARGIN_SECONDS", "29")
    testing.set_manual_lifecycle(True)


@pytest.fixture
def handed_over(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> Iterator[tuple[Event, float]]:
    """A Create whose creation outlasts its invocation."""
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))
    yield event, cloudformation.start(event)


def _queued(cloudformation: CloudFormation) -> list[tuple[str, Event]]:
    assert cloudformation.lambda_service is not None
    return cloudformation.lambda_service.take()


def test_long_wait_is_handed_over_to_the_function_itself_not_to_eventbridge(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    event, started = handed_over
    ((function, continued),) = _queued(cloudformation)

    assert cloudformation.answer(event, started, timeout=0.5) is None
    assert function == cloudformation.service_token.rsplit(":", 1)[1]
    assert continued["ResourceProperties"] == {
        "otaUpdateId": ID,
        "deleteStream": "true",
        "forceDeleteAWSJob": "true",
    }
    assert continued["OtaUpdateHandover"]["count"] == 1
    assert "OldResourceProperties" not in continued
    # the ResponseURL is nowhere that EventBridge's readers could see it
    assert boto3.client("events").list_rules()["Rules"] == []


def test_handed_over_wait_answers_once_the_creation_completes(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    testing.advance()
    testing.advance()

    cloudformation.run_handovers()
    answer = cloudformation.answer(*handed_over, timeout=5)

    assert answer is not None
    assert (answer.status, answer.physical_id) == ("SUCCESS", ID)
    assert answer.data["otaUpdateArn"].endswith(f":otaupdate/{ID}")
    assert _queued(cloudformation) == []  # no further hand-over


def test_handed_over_wait_hands_over_again_while_the_creation_goes_on(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    (first,) = cloudformation.run_handovers()
    ((_, second),) = _queued(cloudformation)

    assert cloudformation.answer(*handed_over, timeout=0.5) is None
    assert second["OtaUpdateHandover"] == {
        "giveUpAt": first["OtaUpdateHandover"]["giveUpAt"],
        "count": 2,
        "digest": first["OtaUpdateHandover"]["digest"],
    }


@pytest.mark.parametrize("client", ["_iot", "_cloudformation"])
def test_the_clients_are_of_the_region_lambda_runs_the_function_in(
    client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AWS_REGION`` (Lambda's), whatever ``AWS_DEFAULT_REGION`` a packaged config says."""
    import index

    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    index._client.cache_clear()
    try:
        assert getattr(index, client)().meta.region_name == "eu-central-1"
    finally:
        index._client.cache_clear()


@pytest.mark.parametrize("client", ["_iot", "_cloudformation"])
def test_each_call_and_the_hand_over_margin_are_bounded_as_documented(
    cloudformation: CloudFormation, client: str
) -> None:
    """The README: each invocation stops waiting ~57 s before its end, for the worst call (5 s
    connect + 20 s read, one attempt: the lifecycle retries), the hand-over and the answer."""
    import index

    config = getattr(index, client)().meta.config
    invoke = index._client(
        "lambda", api.INVOKE_CONNECT_TIMEOUT, api.INVOKE_READ_TIMEOUT, api.INVOKE_ATTEMPTS
    ).meta.config
    handing_over = invoke.retries["total_max_attempts"] * (
        invoke.connect_timeout + invoke.read_timeout
    )

    assert (config.connect_timeout, config.read_timeout) == (5, 20)
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert handing_over < api.HANDOVER_SECONDS
    assert api.HANDOVER_MARGIN_SECONDS == 57
    assert (
        config.connect_timeout + config.read_timeout + api.HANDOVER_SECONDS + api.ANSWER_SECONDS
    ) <= api.HANDOVER_MARGIN_SECONDS


def test_waiting_ends_after_its_bound_with_a_reason(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTA_MAX_WAIT_SECONDS", "1")
    testing.set_manual_lifecycle(True)  # the creation never completes

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.startswith("OTA update fw-1 is still CREATE_PENDING: gave up waiting")
    assert created.seconds < 10


def test_waiting_through_hand_overs_ends_after_its_bound(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    ((_, continued),) = _queued(cloudformation)
    continued["OtaUpdateHandover"]["giveUpAt"] = time.time()  # the bound has passed

    cloudformation.invoke(continued, cloudformation.timeout)
    answer = cloudformation.answer(*handed_over, timeout=5)

    assert answer is not None
    assert (answer.status, answer.physical_id) == ("FAILED", ID)
    assert answer.reason.startswith("OTA update fw-1 is still CREATE_PENDING: gave up waiting")
    assert _queued(cloudformation) == []


def test_hand_overs_are_bounded_in_number_and_the_rollback_deletes_it(
    cloudformation: CloudFormation,
    world: World,
    short_invocations: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTA_MAX_HANDOVERS", "1")
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))
    started = cloudformation.start(event)

    cloudformation.run_handovers()
    answer = cloudformation.answer(event, started, timeout=5)
    testing.set_manual_lifecycle(False)  # it completes after all
    monkeypatch.delenv("OTA_MAX_HANDOVERS")
    testing.advance()
    testing.advance()
    assert answer is not None
    rollback = cloudformation.roll_back(event, answer)

    assert (answer.status, answer.physical_id) == ("FAILED", ID)
    assert answer.reason.startswith(
        "OTA update fw-1 is still CREATE_PENDING: gave up waiting after 1 hand-overs "
        "(OTA_MAX_HANDOVERS=1)"
    )
    assert _queued(cloudformation) == []
    assert [r.status for r in rollback] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


def test_hand_over_refused_by_lambda_fails_naming_it_and_the_rollback_deletes_it(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    assert cloudformation.lambda_service is not None
    cloudformation.lambda_service.refuse("AccessDeniedException")
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))

    created = cloudformation.send(event)
    testing.set_manual_lifecycle(False)  # it completes after all
    testing.advance()
    testing.advance()
    rollback = cloudformation.roll_back(event, created)

    function = cloudformation.service_token.rsplit(":", 1)[1]
    assert (created.status, created.physical_id) == ("FAILED", ID)
    assert re.fullmatch(
        r"Handing the wait over to the next invocation failed: An error occurred "
        r"\(AccessDeniedException\) when calling the Invoke operation: .+ "
        rf"\(Invoke of function {function}\); retry the deployment",
        created.reason,
    ), created.reason
    assert [r.status for r in rollback] == ["SUCCESS"]
    assert leftovers(world) == NOTHING


def test_each_hand_over_is_logged_with_the_invocation_it_hands_over_to(
    cloudformation: CloudFormation,
    world: World,
    short_invocations: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloudformation.start(cloudformation.event("Create", LOGICAL_ID, properties(world)))
    cloudformation.run_handovers()  # the second invocation hands over again

    assert [line for line in handler_lines(caplog) if "anded over" in line] == [
        "INFO Handed over to invocation 2 ",
        "INFO Handed over to invocation 3 ",
    ]
    assert [line for line in handler_lines(caplog) if "waiting for" in line] == [
        f"INFO Create {LOGICAL_ID}: waiting for otaUpdateId {ID} (hand-over 1) "
    ]


def test_a_refused_hand_over_is_logged_as_an_error(
    cloudformation: CloudFormation,
    world: World,
    short_invocations: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert cloudformation.lambda_service is not None
    cloudformation.lambda_service.refuse("AccessDeniedException")

    cloudformation.send(cloudformation.event("Create", LOGICAL_ID, properties(world)))

    errors = [line for line in handler_lines(caplog) if line.startswith("ERROR Handing over")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "ERROR Handing over failed: An error occurred (AccessDeniedException) when calling the "
        "Invoke operation"
    )


def test_malformed_hand_over_is_refused_and_touches_nothing(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    ((_, continued),) = _queued(cloudformation)
    continued["OtaUpdateHandover"] = {"giveUpAt": "soon", "count": 1}
    reads = testing.calls("GetOTAUpdate")

    cloudformation.invoke(continued, cloudformation.timeout)
    answer = cloudformation.answer(*handed_over, timeout=5)

    assert answer is not None
    assert answer.status == "FAILED"
    assert answer.reason.startswith("Malformed event: OtaUpdateHandover is not ")
    assert testing.calls("GetOTAUpdate") == reads


def test_event_with_crhelpers_poller_keys_is_refused(
    cloudformation: CloudFormation, world: World
) -> None:
    event = cloudformation.event("Create", LOGICAL_ID, properties(world))
    event["CrHelperPoll"] = True

    created = cloudformation.send(event)

    assert created.status == "FAILED"
    assert created.reason.startswith("Malformed event: CrHelperPoll (crhelper's poller state)")
    assert testing.calls("CreateOTAUpdate") == 0


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------
def handler_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the handler (and crhelper in it) logged, without the moto server's request log."""
    return [
        f"{r.levelname} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("werkzeug")
    ]


def lifecycle(cloudformation: CloudFormation, world: World) -> list[Response]:
    created = cloudformation.create(LOGICAL_ID, properties(world))
    return [created, cloudformation.delete(LOGICAL_ID, created.physical_id, properties(world))]


def test_each_step_logs_a_line_with_the_id_and_status(
    cloudformation: CloudFormation, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    lifecycle(cloudformation, world)

    steps = [line for line in handler_lines(caplog) if line.startswith(f"INFO {ID}: ")]

    assert [step.split(": ", 1)[1].split(" ")[0] for step in steps] == [
        "CreateOTAUpdate",
        "CREATE_COMPLETE",
        "DeleteOTAUpdate",
        "gone",
    ]


def test_each_request_logs_its_type_resource_and_ota_update_ids(
    cloudformation: CloudFormation, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = properties(world), properties(world, "fw-2", description="Firmware 2.0")
    cloudformation.create(LOGICAL_ID, old)
    cloudformation.update(LOGICAL_ID, ID, new, old)
    cloudformation.delete(LOGICAL_ID, "fw-2", new)

    assert [line for line in handler_lines(caplog) if ": otaUpdateId " in line] == [
        f"INFO Create {LOGICAL_ID}: otaUpdateId {ID} ",
        f"INFO Update {LOGICAL_ID}: otaUpdateId {ID} -> fw-2 ",
        f"INFO Delete {LOGICAL_ID}: otaUpdateId fw-2 ",
    ]


def test_logs_never_show_the_response_url(
    cloudformation: CloudFormation, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lifecycle(cloudformation, world)

    lines = handler_lines(caplog)

    assert lines
    assert not [line for line in lines if URL_SECRET in line or "127.0.0.1:" in line]


def test_logs_never_show_the_properties(
    cloudformation: CloudFormation, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    lifecycle(cloudformation, world)

    lines = handler_lines(caplog)

    assert not [line for line in lines if world.role_arn in line or "Firmware 1.0" in line]


def test_an_unexpected_error_fails_with_its_type_and_message_and_is_logged(
    cloudformation: CloudFormation,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not a lifecycle.Failure (a bug, say): the Reason names the exception; the log keeps its
    traceback."""

    def broken(*_args: Any) -> Any:
        raise ValueError("the unexpected")

    monkeypatch.setattr(sys.modules["lifecycle"], "create", broken)

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert (created.status, created.reason) == ("FAILED", "ValueError: the unexpected")
    (failed,) = [r for r in caplog.records if r.getMessage() == "Create failed"]
    assert failed.levelname == "ERROR" and failed.exc_text and "the unexpected" in failed.exc_text
    assert testing.calls("CreateOTAUpdate") == 0


def test_a_handed_over_update_carries_neither_its_old_properties_nor_its_new_request(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> None:
    """The next invocation needs the id, ServiceTimeout and teardown flags; the request's digest
    travels in the hand-over (Lambda's asynchronous payloads are limited)."""
    old, new = properties(world), properties(world, "fw-2", description="Firmware 2.0")
    testing.set_manual_lifecycle(False)
    cloudformation.create(LOGICAL_ID, old)
    testing.set_manual_lifecycle(True)
    update = cloudformation.event("Update", LOGICAL_ID, new, physical_id=ID, old_properties=old)

    cloudformation.start(update)  # fw-2 CREATE_PENDING: handed over
    ((_, continued),) = _queued(cloudformation)

    assert "OldResourceProperties" not in continued
    assert continued["ResourceProperties"] == {
        "otaUpdateId": "fw-2",
        "deleteStream": "true",
        "forceDeleteAWSJob": "true",
    }
    assert sorted(continued["OtaUpdateHandover"]) == ["count", "digest", "giveUpAt"]
