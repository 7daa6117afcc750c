"""CloudFormation's DescribeStackResource on loopback (:class:`StackService`), through a real boto3
client; the statuses the harness records in it as CloudFormation would (sends, answers, the
cleanup Delete, cancelled and timed-out Creates, replays, a deleted stack); the signing time of
the ResponseURLs."""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import trustme
from botocore.config import Config
from botocore.exceptions import ClientError
from harness import (
    REGION,
    URL_SECRET,
    CloudFormation,
    Event,
    ResponseServer,
    StackService,
    stack_id,
)

STACK = "Firmware"
STACK_ID = stack_id(STACK)
LOGICAL_ID = "Release"
PROPERTIES = {"otaUpdateId": "fw-1", "targets": ["arn:aws:iot:us-east-1:1:thinggroup/fleet"]}
NEW_PROPERTIES = {**PROPERTIES, "otaUpdateId": "fw-2"}
AT = 1_700_000_000.123  # 2023-11-14T22:13:20.123Z
GENERATED = re.compile(rf"^{STACK}-{LOGICAL_ID}-[A-Z0-9]{{12}}$")
STATUSES = [
    f"{action}_{state}"
    for action in ("CREATE", "UPDATE", "DELETE")
    for state in ("IN_PROGRESS", "COMPLETE", "FAILED")
]


def make_client(service: StackService, attempts: int = 1) -> Any:
    return boto3.client(
        "cloudformation",
        endpoint_url=service.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


@pytest.fixture
def service(stack_service: StackService) -> StackService:
    stack_service.reset()
    return stack_service


@pytest.fixture
def client(service: StackService) -> Any:
    return make_client(service)


def describe(client: Any, stack: str = STACK_ID, logical_id: str = LOGICAL_ID) -> dict[str, Any]:
    detail: dict[str, Any] = client.describe_stack_resource(
        StackName=stack, LogicalResourceId=logical_id
    )["StackResourceDetail"]
    return detail


def error(client: Any, stack: str = STACK_ID, logical_id: str = LOGICAL_ID) -> dict[str, Any]:
    """The error DescribeStackResource answers: code, message, type and HTTP status."""
    with pytest.raises(ClientError) as raised:
        describe(client, stack, logical_id)
    response = raised.value.response
    return {**response["Error"], "HTTPStatusCode": response["ResponseMetadata"]["HTTPStatusCode"]}


def status(client: Any) -> tuple[str, str | None]:
    detail = describe(client)
    return detail["ResourceStatus"], detail.get("PhysicalResourceId")


# -- the API ------------------------------------------------------------------------------------
@pytest.mark.parametrize("resource_status", STATUSES)
def test_each_status_is_described(service: StackService, client: Any, resource_status: str) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, resource_status, physical_id="fw-1")

    assert describe(client)["ResourceStatus"] == resource_status


def test_the_description_names_the_stack_the_resource_and_its_type(
    service: StackService, client: Any
) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE", physical_id="fw-1")

    detail = describe(client)

    assert {k: detail[k] for k in ("StackName", "StackId", "LogicalResourceId")} == {
        "StackName": STACK,
        "StackId": STACK_ID,
        "LogicalResourceId": LOGICAL_ID,
    }
    assert (detail["PhysicalResourceId"], detail["ResourceType"]) == ("fw-1", "Custom::OtaUpdate")


def test_the_last_update_time_round_trips_to_the_millisecond(
    service: StackService, client: Any
) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_IN_PROGRESS", at=AT)

    timestamp = describe(client)["LastUpdatedTimestamp"]

    assert timestamp.tzinfo is not None  # botocore gives tzlocal() on a UTC machine, tzutc() else
    assert timestamp.timestamp() == pytest.approx(AT, abs=1e-6)


def test_the_last_update_time_is_now_by_default(service: StackService, client: Any) -> None:
    before = time.time()
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_IN_PROGRESS")

    timestamp = describe(client)["LastUpdatedTimestamp"].timestamp()

    assert before - 0.001 <= timestamp <= time.time()


def test_an_unknown_physical_id_is_not_described(service: StackService, client: Any) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_IN_PROGRESS")

    assert "PhysicalResourceId" not in describe(client)


def test_the_stack_may_be_named_by_its_name(service: StackService, client: Any) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE", physical_id="fw-1")

    assert describe(client, STACK)["StackId"] == STACK_ID


def test_the_stack_named_by_its_arn_is_described_with_its_name(
    service: StackService, client: Any
) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE", physical_id="fw-1")

    assert describe(client, STACK_ID)["StackName"] == STACK


def test_an_unknown_stack_does_not_exist(service: StackService, client: Any) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE")

    assert error(client, "Other") == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "Stack with id Other does not exist",
        "HTTPStatusCode": 400,
    }


def test_an_arn_of_another_stack_of_the_same_name_does_not_exist(
    service: StackService, client: Any
) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE")
    other = STACK_ID.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"

    assert error(client, other)["Message"] == f"Stack with id {other} does not exist"


def test_a_deleted_stack_does_not_exist(service: StackService, client: Any) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "DELETE_COMPLETE", physical_id="fw-1")
    service.delete_stack(STACK_ID)

    refused = error(client)

    assert (refused["Code"], refused["Message"]) == (
        "ValidationError",
        f"Stack with id {STACK_ID} does not exist",
    )


def test_a_deleted_stack_named_by_its_name_does_not_exist(
    service: StackService, client: Any
) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "DELETE_COMPLETE", physical_id="fw-1")
    service.delete_stack(STACK_ID)

    assert error(client, STACK)["Message"] == f"Stack with id {STACK} does not exist"


def test_an_unknown_logical_id_does_not_exist_for_the_stack(
    service: StackService, client: Any
) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE")

    assert error(client, STACK, "Other") == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": f"Resource Other does not exist for stack {STACK}",
        "HTTPStatusCode": 400,
    }


def test_a_refusal_answers_its_code_and_http_status(service: StackService, client: Any) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE")
    service.refuse("AccessDenied", "Throttling")

    first, second = error(client), error(client)

    assert (first["Code"], first["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert (second["Code"], second["HTTPStatusCode"]) == ("Throttling", 400)


def test_the_calls_after_the_refusals_are_answered(service: StackService, client: Any) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE")
    service.refuse("Throttling")
    error(client)

    assert describe(client)["ResourceStatus"] == "CREATE_COMPLETE"


def test_botocore_retries_a_throttled_call_and_each_attempt_is_counted(
    service: StackService,
) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE")
    service.refuse("Throttling", "Throttling")

    described = describe(make_client(service, attempts=3))

    assert (described["ResourceStatus"], service.calls()) == ("CREATE_COMPLETE", 3)


def test_the_calls_are_counted(service: StackService, client: Any) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE")
    describe(client)
    error(client, "Other")

    assert service.calls() == 2


def test_another_action_is_invalid(service: StackService, client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client.describe_stacks(StackName=STACK)

    assert raised.value.response["Error"]["Code"] == "InvalidAction"


def test_reset_forgets_the_stacks_the_refusals_and_the_calls(
    service: StackService, client: Any
) -> None:
    service.set_status(STACK_ID, LOGICAL_ID, "CREATE_COMPLETE")
    describe(client)
    service.refuse("AccessDenied")
    service.reset()

    assert (error(client)["Code"], service.calls()) == ("ValidationError", 1)


def test_lambda_env_points_boto3s_cloudformation_at_the_service(
    lambda_env: dict[str, str], stack_service: StackService
) -> None:
    stack_service.set_status(STACK_ID, LOGICAL_ID, "CREATE_IN_PROGRESS")
    client = boto3.client("cloudformation", config=Config(retries={"total_max_attempts": 1}))

    assert describe(client)["ResourceStatus"] == "CREATE_IN_PROGRESS"


def test_the_cloudformation_fixture_records_in_the_service(
    cloudformation: CloudFormation, stack_service: StackService
) -> None:
    assert cloudformation.stack_service is stack_service


# -- the harness's bookkeeping --------------------------------------------------------------------
class Scripted:
    """A handler that looks its resource up (what it saw: the status, or the error's code, and the
    physical id), then answers as told (SUCCESS under the event's physical id, or fw-1, unless
    queued otherwise)."""

    def __init__(self, client: Any, ca_file: Path) -> None:
        self.client = client
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.seen: list[tuple[str, str | None]] = []
        self.answers: list[tuple[str, str]] = []  # (status, physical id), first for the next
        self.silent = False  # no answer at all

    def __call__(self, event: Event, timeout: float) -> None:
        try:
            detail = describe(self.client, event["StackId"], event["LogicalResourceId"])
            self.seen.append((detail["ResourceStatus"], detail.get("PhysicalResourceId")))
        except ClientError as failed:
            self.seen.append((failed.response["Error"]["Code"], None))
        if self.silent:
            return
        answer, physical_id = (
            self.answers.pop(0)
            if self.answers
            else ("SUCCESS", event.get("PhysicalResourceId", "fw-1"))
        )
        body = {
            "Status": answer,
            "Reason": "scripted",
            "PhysicalResourceId": physical_id,
            **{k: event[k] for k in ("StackId", "RequestId", "LogicalResourceId")},
        }
        request = urllib.request.Request(
            event["ResponseURL"], data=json.dumps(body).encode(), method="PUT"
        )
        with urllib.request.urlopen(request, context=self.context, timeout=10):
            pass


@pytest.fixture
def handler(client: Any, trusted_ca: tuple[trustme.CA, Path]) -> Scripted:
    return Scripted(client, trusted_ca[1])


@pytest.fixture
def harness(
    handler: Scripted, response_server: ResponseServer, service: StackService
) -> CloudFormation:
    return CloudFormation(
        handler, response_server, stack_name=STACK, answer_within=10, stack_service=service
    )


def test_a_create_is_in_progress_while_the_handler_runs(
    harness: CloudFormation, handler: Scripted
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)

    assert handler.seen == [("CREATE_IN_PROGRESS", None)]


def test_an_answered_create_is_complete_under_the_answers_physical_id(
    harness: CloudFormation, client: Any
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)

    assert status(client) == ("CREATE_COMPLETE", "fw-1")


def test_a_failed_create_is_failed_under_the_answers_physical_id(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    handler.answers.append(("FAILED", "fw-broken"))
    harness.create(LOGICAL_ID, PROPERTIES)

    assert status(client) == ("CREATE_FAILED", "fw-broken")


def test_an_update_is_in_progress_under_the_old_physical_id_while_the_handler_runs(
    harness: CloudFormation, handler: Scripted
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    handler.answers.append(("SUCCESS", "fw-2"))
    harness.update(LOGICAL_ID, "fw-1", NEW_PROPERTIES, PROPERTIES)

    assert handler.seen[-1] == ("UPDATE_IN_PROGRESS", "fw-1")


def test_an_answered_update_is_complete_under_the_answers_physical_id(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    handler.answers.append(("SUCCESS", "fw-2"))
    harness.update(LOGICAL_ID, "fw-1", NEW_PROPERTIES, PROPERTIES)

    assert status(client) == ("UPDATE_COMPLETE", "fw-2")


def test_a_failed_update_is_failed(harness: CloudFormation, handler: Scripted, client: Any) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    handler.answers.append(("FAILED", "fw-1"))
    harness.update(LOGICAL_ID, "fw-1", NEW_PROPERTIES, PROPERTIES)

    assert status(client) == ("UPDATE_FAILED", "fw-1")


def test_a_delete_is_in_progress_while_the_handler_runs(
    harness: CloudFormation, handler: Scripted
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    harness.delete(LOGICAL_ID, "fw-1", PROPERTIES)

    assert handler.seen[-1] == ("DELETE_IN_PROGRESS", "fw-1")


def test_an_answered_delete_is_complete(harness: CloudFormation, client: Any) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    harness.delete(LOGICAL_ID, "fw-1", PROPERTIES)

    assert status(client) == ("DELETE_COMPLETE", "fw-1")


def test_a_failed_delete_is_failed(harness: CloudFormation, handler: Scripted, client: Any) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    handler.answers.append(("FAILED", "fw-1"))
    harness.delete(LOGICAL_ID, "fw-1", PROPERTIES)

    assert status(client) == ("DELETE_FAILED", "fw-1")


def test_the_cleanup_delete_of_a_replaced_resource_sees_the_update_complete(
    harness: CloudFormation, handler: Scripted
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    handler.answers.append(("SUCCESS", "fw-2"))
    harness.update(LOGICAL_ID, "fw-1", NEW_PROPERTIES, PROPERTIES)
    harness.delete(LOGICAL_ID, "fw-1", PROPERTIES)

    assert handler.seen[-1] == ("UPDATE_COMPLETE", "fw-2")


def test_the_cleanup_delete_of_a_replaced_resource_leaves_the_new_one_update_complete(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    handler.answers.append(("SUCCESS", "fw-2"))
    harness.update(LOGICAL_ID, "fw-1", NEW_PROPERTIES, PROPERTIES)
    harness.delete(LOGICAL_ID, "fw-1", PROPERTIES)

    assert status(client) == ("UPDATE_COMPLETE", "fw-2")


def test_a_rolled_back_replacement_is_update_complete_under_the_old_physical_id(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    handler.answers += [("FAILED", "fw-2"), ("SUCCESS", "fw-1")]  # the Update, its rollback
    event = harness.event(
        "Update", LOGICAL_ID, NEW_PROPERTIES, physical_id="fw-1", old_properties=PROPERTIES
    )
    rolled_back = harness.roll_back(event, harness.send(event))

    assert [r.physical_id for r in rolled_back] == ["fw-1", "fw-2"]  # (the cleanup Delete ran)
    assert status(client) == ("UPDATE_COMPLETE", "fw-1")


def test_a_rolled_back_create_is_delete_complete(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    handler.answers.append(("FAILED", "fw-broken"))
    event = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.roll_back(event, harness.send(event))

    assert status(client) == ("DELETE_COMPLETE", "fw-broken")


@pytest.mark.parametrize("give_up", ["cancel", "time_out"])
def test_a_create_given_up_is_deleted_under_a_generated_physical_id(
    harness: CloudFormation, handler: Scripted, give_up: str
) -> None:
    handler.silent = True
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.start(create)

    delete = getattr(harness, give_up)(create)

    assert (delete["RequestType"], delete["LogicalResourceId"]) == ("Delete", LOGICAL_ID)
    assert GENERATED.match(delete["PhysicalResourceId"]), delete["PhysicalResourceId"]


@pytest.mark.parametrize("give_up", ["cancel", "time_out"])
def test_the_delete_of_a_create_given_up_has_the_creates_properties(
    harness: CloudFormation, handler: Scripted, give_up: str
) -> None:
    handler.silent = True
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.start(create)

    delete = getattr(harness, give_up)(create)

    assert delete["ResourceProperties"] == create["ResourceProperties"]
    assert "OldResourceProperties" not in delete


def test_the_delete_of_a_create_given_up_is_a_request_of_its_own(
    harness: CloudFormation, handler: Scripted
) -> None:
    handler.silent = True
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.start(create)

    delete = harness.cancel(create)

    assert delete["RequestId"] != create["RequestId"]
    assert urlsplit(delete["ResponseURL"]).path != urlsplit(create["ResponseURL"]).path


def test_each_create_given_up_gets_a_physical_id_of_its_own(
    harness: CloudFormation, handler: Scripted
) -> None:
    handler.silent = True
    creates = [harness.event("Create", LOGICAL_ID, PROPERTIES) for _ in range(2)]
    for create in creates:
        harness.start(create)

    ids = {harness.time_out(create)["PhysicalResourceId"] for create in creates}

    assert len(ids) == 2


@pytest.mark.parametrize("give_up", ["cancel", "time_out"])
def test_a_create_given_up_is_create_failed_under_the_generated_physical_id(
    harness: CloudFormation, handler: Scripted, client: Any, give_up: str
) -> None:
    handler.silent = True
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.start(create)

    delete = getattr(harness, give_up)(create)

    assert status(client) == ("CREATE_FAILED", delete["PhysicalResourceId"])


def test_the_delete_after_a_cancel_is_in_progress_while_the_handler_runs(
    harness: CloudFormation, handler: Scripted
) -> None:
    handler.silent = True
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.start(create)
    delete = harness.cancel(create)
    handler.silent = False

    harness.send(delete)

    assert handler.seen == [
        ("CREATE_IN_PROGRESS", None),
        ("DELETE_IN_PROGRESS", delete["PhysicalResourceId"]),
    ]


def test_the_delete_after_a_cancel_completes_under_the_generated_physical_id(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    handler.silent = True
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.start(create)
    delete = harness.cancel(create)
    handler.silent = False

    harness.send(delete)

    assert status(client) == ("DELETE_COMPLETE", delete["PhysicalResourceId"])


def test_a_late_answer_to_a_cancelled_create_changes_nothing(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    handler.silent = True
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.start(create)
    delete = harness.cancel(create)
    handler.silent = False
    harness.send(harness.replay(create))  # the Create's answer, after all

    assert status(client) == ("CREATE_FAILED", delete["PhysicalResourceId"])


def test_an_answered_create_cannot_be_cancelled(harness: CloudFormation) -> None:
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.send(create)

    with pytest.raises(AssertionError):
        harness.cancel(create)


def test_only_a_create_is_cancelled(harness: CloudFormation, handler: Scripted) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    handler.silent = True
    delete = harness.event("Delete", LOGICAL_ID, PROPERTIES, physical_id="fw-1")
    harness.start(delete)

    with pytest.raises(AssertionError):
        harness.cancel(delete)


def test_a_deleted_stack_does_not_exist_for_the_handler(
    harness: CloudFormation, handler: Scripted
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    harness.delete_stack()
    harness.send(harness.event("Delete", LOGICAL_ID, PROPERTIES, physical_id="fw-1"))

    assert handler.seen[-1] == ("ValidationError", None)


def test_nothing_is_recorded_for_a_deleted_stack(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    harness.delete_stack()
    harness.send(harness.event("Delete", LOGICAL_ID, PROPERTIES, physical_id="fw-1"))

    assert error(client)["Message"] == f"Stack with id {STACK_ID} does not exist"


def test_a_queued_create_is_in_progress_before_the_handler_runs(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    harness.queue(harness.event("Create", LOGICAL_ID, PROPERTIES))

    assert (status(client), handler.seen) == (("CREATE_IN_PROGRESS", None), [])


def test_a_queued_create_run_after_its_cancellation_sees_it_failed(
    harness: CloudFormation, handler: Scripted
) -> None:
    create = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.queue(create)
    delete = harness.cancel(create)
    harness.start(create)

    assert handler.seen == [("CREATE_FAILED", delete["PhysicalResourceId"])]


def test_a_malformed_event_records_nothing(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    harness.create(LOGICAL_ID, PROPERTIES)
    event = harness.event("Update", LOGICAL_ID, NEW_PROPERTIES, physical_id="fw-1")
    del event["RequestId"]
    handler.silent = True
    harness.start(event)

    assert status(client) == ("CREATE_COMPLETE", "fw-1")


# -- replays and the signing time of the ResponseURL --------------------------------------------
def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def amz_date(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def test_a_response_url_is_signed_now_for_two_hours(harness: CloudFormation) -> None:
    before = amz_date(time.time())
    signed = query(harness.event("Create", LOGICAL_ID, PROPERTIES)["ResponseURL"])

    assert before <= signed["X-Amz-Date"] <= amz_date(time.time())
    assert signed["X-Amz-Expires"] == "7200"


def test_a_response_url_keeps_its_secret(harness: CloudFormation) -> None:
    assert URL_SECRET in harness.event("Create", LOGICAL_ID, PROPERTIES)["ResponseURL"]


def test_an_event_may_be_signed_long_ago(harness: CloudFormation) -> None:
    event = harness.event("Create", LOGICAL_ID, PROPERTIES, signed_at=AT)

    assert query(event["ResponseURL"])["X-Amz-Date"] == "20231114T221320Z"


def test_a_replay_is_the_same_event(harness: CloudFormation) -> None:
    event = harness.event("Create", LOGICAL_ID, PROPERTIES)

    assert harness.replay(event) == event


def test_a_replay_signed_long_ago_differs_only_in_the_signing_time(
    harness: CloudFormation,
) -> None:
    event = harness.event("Create", LOGICAL_ID, PROPERTIES)

    replayed = harness.replay(event, signed_at=AT)

    assert {k: v for k, v in replayed.items() if k != "ResponseURL"} == {
        k: v for k, v in event.items() if k != "ResponseURL"
    }
    assert replayed["ResponseURL"] == re.sub(
        r"X-Amz-Date=[0-9TZ]+", "X-Amz-Date=20231114T221320Z", event["ResponseURL"]
    )
    assert replayed["ResponseURL"] != event["ResponseURL"]


def test_the_answer_to_a_replay_signed_long_ago_is_an_answer_to_the_event(
    harness: CloudFormation, response_server: ResponseServer
) -> None:
    event = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.start(harness.replay(event, signed_at=AT))

    assert len(response_server.answers(event["ResponseURL"])) == 1


def test_a_replay_does_not_put_the_resource_back_in_progress(
    harness: CloudFormation, handler: Scripted, client: Any
) -> None:
    event = harness.event("Create", LOGICAL_ID, PROPERTIES)
    harness.send(event)
    harness.start(harness.replay(event, signed_at=AT))

    assert handler.seen == [("CREATE_IN_PROGRESS", None), ("CREATE_COMPLETE", "fw-1")]
