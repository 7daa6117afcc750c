"""The handler under faults, malformed properties, long waits (crhelper's poller) and its logs."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from emulation_support import World
from handler_support import ID, LOGICAL_ID, exists, properties
from harness import URL_SECRET, CloudFormation, Event, Response

from cdk_ota_update import api, testing

TRANSIENT = ("ThrottlingException", "InternalFailureException", "ServiceUnavailableException")
# A CDK logical id: path segments plus a hash, longer than crhelper's rule names allow.
LONG_LOGICAL_ID = "FirmwareReleasePipelineStageProductionOtaUpdateForTheWholeFleetA1B2C3D4"


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
    cloudformation: CloudFormation, world: World, operation: str, code: str
) -> None:
    testing.fail(operation, times=1000, code=code)

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.startswith(f"{code}: ")
    assert f"({operation} of OTA update fw-1 still failing after" in created.reason
    assert created.seconds < 30


def test_persistent_fault_while_deleting_fails_with_a_clear_reason(
    cloudformation: CloudFormation, world: World
) -> None:
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
        ({"files": [{"fileName": "f", "fileType": "two",
                     "fileLocation": {"stream": {"streamId": "s", "fileId": "1"}}}]},
         "files[0].fileType"),
        ({"awsJobPresignedUrlConfig": {"expiresInSec": "30"}},
         "awsJobPresignedUrlConfig.expiresInSec"),
        ({"awsJobExecutionsRolloutConfig": {"maximumPerMinute": "1.5"}},
         "awsJobExecutionsRolloutConfig.maximumPerMinute"),
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


@pytest.mark.parametrize(("member", "value", "reason"), [
    ("roleArn", None, "roleArn = None is invalid: it must be given (it is required)"),
    ("targets", "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet",
     "targets = 'arn:aws:iot:us-east-1:123456789012:thinggroup/fleet' is invalid: it must be a "
     "list"),
    ("additionalParameters", "k=v",
     "additionalParameters = 'k=v' is invalid: it must be a map of strings to strings"),
])
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
# Waits longer than an invocation: crhelper's poller, bounded
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def short_invocations(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invocations that may wait ~2 s, and the provider function the poller's rule invokes."""
    cloudformation.timeout = 30
    monkeypatch.setenv("OTA_HANDOVER_MARGIN_SECONDS", "28")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("index.py", "")
    boto3.client("lambda").create_function(
        FunctionName=cloudformation.service_token.rsplit(":", 1)[1], Runtime="python3.13",
        Role=world.role_arn, Handler="index.handler", Code={"ZipFile": archive.getvalue()},
    )
    testing.set_manual_lifecycle(True)


@pytest.fixture
def handed_over(
    cloudformation: CloudFormation, world: World, short_invocations: None
) -> Iterator[tuple[Event, float]]:
    """A Create with a long logical id whose creation outlasts its invocation."""
    event = cloudformation.event("Create", LONG_LOGICAL_ID, properties(world))
    yield event, cloudformation.start(event)


def test_long_wait_hands_over_to_a_poller_rule_named_within_limits(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    rules = [rule["Name"] for rule in boto3.client("events").list_rules()["Rules"]]

    assert cloudformation.answer(*handed_over, timeout=0.5) is None
    assert len(rules) == 1
    assert rules[0].startswith(api.POLLER_RULE_PREFIX + LONG_LOGICAL_ID[:30])
    assert len(rules[0]) == api.POLLER_RULE_MAX_LENGTH


def test_poller_answers_once_the_creation_completes(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    testing.advance()
    testing.advance()

    cloudformation.run_pollers()
    answer = cloudformation.answer(*handed_over, timeout=5)

    assert answer is not None
    assert (answer.status, answer.physical_id) == ("SUCCESS", ID)
    assert answer.data["otaUpdateArn"].endswith(f":otaupdate/{ID}")
    assert boto3.client("events").list_rules()["Rules"] == []


def test_poller_keeps_waiting_while_the_creation_goes_on(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    cloudformation.run_pollers()

    assert cloudformation.answer(*handed_over, timeout=0.5) is None
    assert len(boto3.client("events").list_rules()["Rules"]) == 1


def test_waiting_ends_after_its_bound_with_a_reason(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTA_MAX_WAIT_SECONDS", "1")
    testing.set_manual_lifecycle(True)  # the creation never completes

    created = cloudformation.create(LOGICAL_ID, properties(world))

    assert created.status == "FAILED"
    assert created.reason.startswith("OTA update fw-1 is still CREATE_PENDING: gave up waiting")
    assert created.seconds < 10


def test_waiting_through_the_poller_ends_after_its_bound(
    cloudformation: CloudFormation, handed_over: tuple[Event, float]
) -> None:
    events = boto3.client("events")
    rule = events.list_rules()["Rules"][0]["Name"]
    polled = json.loads(events.list_targets_by_rule(Rule=rule)["Targets"][0]["Input"])
    polled["OtaUpdateGiveUpAt"] = time.time()  # index.GIVE_UP_AT: the bound has passed
    events.put_targets(Rule=rule, Targets=[
        {"Id": "1", "Arn": cloudformation.service_token, "Input": json.dumps(polled)}
    ])

    cloudformation.run_pollers()
    answer = cloudformation.answer(*handed_over, timeout=5)

    assert answer is not None
    assert answer.status == "FAILED"
    assert answer.reason.startswith("OTA update fw-1 is still CREATE_PENDING: gave up waiting")


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------
def handler_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the handler (and crhelper in it) logged, without the moto server's request log."""
    return [
        f"{r.levelname} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records if not r.name.startswith("werkzeug")
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
        "CreateOTAUpdate", "CREATE_COMPLETE", "DeleteOTAUpdate", "gone"
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
