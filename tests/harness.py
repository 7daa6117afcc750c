"""A CloudFormation stand-in for custom resource handlers.

:class:`CloudFormation` sends lifecycle events shaped like CloudFormation's (stringified
properties, RequestId, StackId, LogicalResourceId, ResourceType, ResponseURL, OldResourceProperties
on Update, PhysicalResourceId on Update and Delete) to a handler, and reads the answer the handler
PUTs to the ResponseURL, served over HTTPS on loopback by :class:`ResponseServer` (with a throwaway
certificate authority that the handler trusts through ``SSL_CERT_FILE``; the URL carries its
signing time, ``X-Amz-Date``, and ``X-Amz-Expires=7200``, as CloudFormation's pre-signed S3 URLs
do). These hosting parts live in :mod:`cdk_ota_update.rehearse.host`, which the rehearsal uses too.

Given a :class:`StackService` (CloudFormation's ``DescribeStackResource`` on loopback, for
``AWS_ENDPOINT_URL_CLOUDFORMATION``), it records the resource statuses CloudFormation would show:
``CREATE_``/``UPDATE_``/``DELETE_IN_PROGRESS`` before an event is sent, then ``..._COMPLETE`` or
``..._FAILED`` (with the answer's physical id) once :meth:`CloudFormation.answer` reads the
answer. The cleanup Delete of a replaced resource leaves the status alone (the logical resource
stays ``UPDATE_COMPLETE``), as does an event sent again. It also sends what CloudFormation sends
in its rarer sequences: :meth:`CloudFormation.cancel` and :meth:`CloudFormation.time_out` give up
on a waiting Create (``CREATE_FAILED``) and return the Delete that follows, under a physical id
CloudFormation made up; :meth:`CloudFormation.replay` is an event delivered again (Lambda's
at-least-once delivery), possibly signed long ago (a late delivery);
:meth:`CloudFormation.delete_stack` makes the stack disappear; :meth:`CloudFormation.queue`
sends an event that Lambda runs only later (:meth:`CloudFormation.start`).

It also plays Lambda's asynchronous invocations for the handler's hand-overs to itself
(:class:`LambdaService`, :meth:`CloudFormation.run_handovers`).

How the handler runs is up to the caller: in this process (:class:`InProcess`) or, as the Lambda
runtime would, in a separate Python process whose path holds only the Lambda asset and boto3
(:class:`LambdaProcess`, driven by ``cdk_ota_update/rehearse/lambda_runtime.py``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdk_ota_update import api
from cdk_ota_update.rehearse.host import (
    URL_SECRET,
    Event,
    LambdaProcess,
    LambdaService,
    ResponseServer,
    StackService,
    StatusRecorder,
    boto3_runtime,
    generated_physical_id,
    resigned,
    stringify,
)
from cdk_ota_update.rehearse.lambda_runtime import ACCOUNT, FUNCTION_NAME, REGION, LambdaContext

# The names the tests import from here (some defined in the rehearsal's host, which runs the
# bundled handler for the rehearsal too).
__all__ = [
    "ACCOUNT",
    "FUNCTION_NAME",
    "REGION",
    "URL_SECRET",
    "CloudFormation",
    "Event",
    "InProcess",
    "LambdaContext",
    "LambdaProcess",
    "LambdaService",
    "Response",
    "ResponseServer",
    "StackService",
    "boto3_runtime",
    "runtime_env",
    "stack_id",
    "stringify",
]

RESOURCE_TYPE = "Custom::OtaUpdate"
STACK_NAME = "Firmware"

Invoke = Callable[[Event, float], None]  # runs the handler for an event, with a timeout (s)


def stack_id(name: str = STACK_NAME) -> str:
    """The StackId of the stack ``name`` (the same on every call: the provider is told it)."""
    unique = uuid.uuid5(uuid.NAMESPACE_URL, name)
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{unique}"


@dataclass(frozen=True)
class Response:
    """What the handler answered, and how long after the event it arrived (seconds)."""

    status: str
    reason: str
    physical_id: str
    data: dict[str, Any]
    seconds: float
    body: dict[str, Any]


class InProcess:
    """Runs ``handler`` in this process, as an invocation of a warm Lambda would."""

    def __init__(self, handler: Callable[[Event, LambdaContext], None]) -> None:
        self.handler = handler

    def __call__(self, event: Event, timeout: float) -> None:
        self.handler(event, LambdaContext(timeout))


class CloudFormation:
    """Sends a stack's custom resource events to a handler and reads its answers."""

    def __init__(
        self,
        invoke: Invoke,
        responses: ResponseServer,
        *,
        stack_name: str = STACK_NAME,
        timeout: float = 300,
        answer_within: float = 5,
        lambda_service: LambdaService | None = None,
        stack_service: StackService | None = None,
    ) -> None:
        self.invoke = invoke
        self.responses = responses
        self.lambda_service = lambda_service
        self.stack_service = stack_service
        self.statuses = StatusRecorder(stack_service) if stack_service is not None else None
        self.stack_id = stack_id(stack_name)
        self.service_token = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
        self.timeout = timeout  # the Lambda function's timeout
        # The handler answers within its invocation, so an answer is there when it returns: a few
        # seconds of wait catch "no answer at all" without slowing the suite.
        self.answer_within = answer_within
        self.events: list[Event] = []

    # -- events -----------------------------------------------------------------------------
    def event(
        self,
        request_type: str,
        logical_id: str,
        properties: Mapping[str, Any],
        *,
        physical_id: str | None = None,
        old_properties: Mapping[str, Any] | None = None,
        signed_at: float | None = None,
    ) -> Event:
        """A custom resource event as CloudFormation sends it, its ResponseURL signed at
        ``signed_at`` (epoch seconds; now by default)."""
        request_id = str(uuid.uuid4())
        event: Event = {
            "RequestType": request_type,
            "ServiceToken": self.service_token,
            "ResponseURL": self.responses.url(
                self.stack_id, logical_id, request_id, signed_at=signed_at
            ),
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": RESOURCE_TYPE,
            "ResourceProperties": self._properties(properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = self._properties(old_properties)
        return event

    def replay(self, event: Event, *, signed_at: float | None = None) -> Event:
        """``event`` delivered again (Lambda delivers an asynchronous invocation at least once):
        the same RequestId and ResponseURL; with ``signed_at`` (epoch seconds), as if
        CloudFormation had signed the ResponseURL then (a late delivery): only its
        ``X-Amz-Date`` differs. Sent with :meth:`send` or :meth:`start`, it changes no status."""
        again: Event = json.loads(json.dumps(event))
        if signed_at is not None:
            again["ResponseURL"] = resigned(again["ResponseURL"], signed_at)
        return again

    def cancel(self, event: Event) -> Event:
        """CloudFormation cancels the Create ``event``, still waiting for its answer (another
        resource of the stack failed): the resource is ``CREATE_FAILED``, and CloudFormation
        deletes it. The Delete it sends (not sent here), under a physical id it made up (see
        :func:`~cdk_ota_update.rehearse.host.generated_physical_id`)."""
        return self._give_up(event)

    def time_out(self, event: Event) -> Event:
        """No answer to the Create ``event`` within the ServiceTimeout: the resource is
        ``CREATE_FAILED``, then deleted as after :meth:`cancel`. The Delete (not sent here)."""
        return self._give_up(event)

    def _give_up(self, event: Event) -> Event:
        assert event["RequestType"] == "Create", "CloudFormation gives up on Creates only here"
        logical_id = event["LogicalResourceId"]
        physical_id = generated_physical_id(self.stack_id, logical_id)
        assert not self.responses.answers(event["ResponseURL"]), "the Create was answered"
        if self.statuses is not None:
            assert not self.statuses.settled(event), "CloudFormation stopped waiting already"
            self.statuses.abandoned(event, physical_id)
        delete = self.event("Delete", logical_id, {}, physical_id=physical_id)
        delete["ResourceProperties"] = json.loads(json.dumps(event["ResourceProperties"]))
        return delete

    def delete_stack(self) -> None:
        """The stack is gone: DescribeStackResource answers that it does not exist."""
        assert self.statuses is not None, "no StackService given"
        self.statuses.delete_stack(self.stack_id)

    def _properties(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        rendered: dict[str, Any] = stringify({"ServiceToken": self.service_token, **properties})
        return rendered

    def create(self, logical_id: str, properties: Mapping[str, Any]) -> Response:
        return self.send(self.event("Create", logical_id, properties))

    def update(
        self,
        logical_id: str,
        physical_id: str,
        properties: Mapping[str, Any],
        old_properties: Mapping[str, Any],
    ) -> Response:
        return self.send(
            self.event(
                "Update",
                logical_id,
                properties,
                physical_id=physical_id,
                old_properties=old_properties,
            )
        )

    def delete(self, logical_id: str, physical_id: str, properties: Mapping[str, Any]) -> Response:
        return self.send(self.event("Delete", logical_id, properties, physical_id=physical_id))

    def roll_back(self, event: Event, failed: Response) -> list[Response]:
        """What CloudFormation sends after ``failed``, the FAILED answer to ``event``, and the
        answers: a failed Create is rolled back by a Delete of the physical id the answer gave; a
        failed Update by an Update back to the old properties under that id, followed, when the
        rollback's answer names another resource, by the cleanup Delete of the failed one."""
        assert failed.status == "FAILED", failed
        logical_id, properties = event["LogicalResourceId"], event["ResourceProperties"]
        if event["RequestType"] == "Create":
            return [self.delete(logical_id, failed.physical_id, properties)]
        assert event["RequestType"] == "Update", event["RequestType"]
        rolled_back = self.update(
            logical_id, failed.physical_id, event["OldResourceProperties"], properties
        )
        if rolled_back.status != "SUCCESS" or rolled_back.physical_id == failed.physical_id:
            return [rolled_back]
        return [rolled_back, self.delete(logical_id, failed.physical_id, properties)]

    # -- sending and answers ----------------------------------------------------------------
    def send(self, event: Event) -> Response:
        """Invoke the handler with ``event``; its answer (which must come)."""
        started = self.start(event)
        response = self.answer(event, started, self.answer_within)
        if response is None:
            raise AssertionError(f"no answer to the {event['RequestType']} event")
        return response

    def queue(self, event: Event) -> None:
        """CloudFormation sends ``event``, which waits in Lambda's queue: the resource's status is
        recorded as for :meth:`start`, which runs it later (or never)."""
        if self.statuses is not None:
            self.statuses.sent(event)

    def start(self, event: Event) -> float:
        """Invoke the handler with ``event`` (the invocation may end without an answer)."""
        self.events.append(event)
        if self.statuses is not None:
            self.statuses.sent(event)  # nothing when queued or sent before
        started = time.monotonic()
        self.invoke(json.loads(json.dumps(event)), self.timeout)
        return started

    def answer(self, event: Event, started: float, timeout: float) -> Response | None:
        """The answer to ``event``, if it comes within ``timeout`` seconds (the first answer to
        reach CloudFormation sets the resource's status)."""
        arrival = self.responses.wait(event["ResponseURL"], timeout)
        if arrival is None:
            return None
        arrived, body = arrival
        for key in ("StackId", "RequestId", "LogicalResourceId"):
            if body.get(key) != event[key]:
                raise AssertionError(f"the answer's {key} is {body.get(key)!r}, not {event[key]!r}")
        if self.statuses is not None:
            self.statuses.answered(event, body["Status"], body.get("PhysicalResourceId"))
        return Response(
            status=body["Status"],
            reason=body.get("Reason", ""),
            physical_id=body["PhysicalResourceId"],
            data=body.get("Data") or {},
            seconds=arrived - started,
            body=body,
        )

    def answer_count(self, event: Event) -> int:
        return len(self.responses.answers(event["ResponseURL"]))

    # -- Lambda, for the handler's hand-overs to itself -------------------------------------
    def run_handovers(self) -> list[Event]:
        """Run the invocations the handler queued for itself (one round, as Lambda would): the
        events run, each checked to be for this provider's function."""
        assert self.lambda_service is not None, "no LambdaService given"
        queued = self.lambda_service.take()
        for name, event in queued:
            assert name == FUNCTION_NAME, f"{name} invoked instead of {FUNCTION_NAME}"
            self.invoke(event, self.timeout)
        return [event for _, event in queued]


def runtime_env(
    endpoint: str, ca_file: Path, stack_name: str = STACK_NAME, **extra: str
) -> dict[str, str]:
    """The environment of a Lambda process talking to the emulated AWS at ``endpoint``, as the
    provider of the stack ``stack_name`` sets it."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "SSL_CERT_FILE": str(ca_file),
        api.STACK_ID_ENV: stack_id(stack_name),
        **extra,
    }
