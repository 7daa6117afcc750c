"""A CloudFormation stand-in for custom resource handlers.

:class:`CloudFormation` sends lifecycle events shaped like CloudFormation's (stringified
properties, RequestId, StackId, LogicalResourceId, ResourceType, ResponseURL, OldResourceProperties
on Update, PhysicalResourceId on Update and Delete) to a handler, and reads the answer the handler
PUTs to the ResponseURL, served over HTTPS on loopback by :class:`ResponseServer` (with a throwaway
certificate authority that the handler trusts through ``SSL_CERT_FILE``; these hosting parts live
in :mod:`cdk_ota_update.rehearse.host`, which the rehearsal uses too). It also plays Lambda's
asynchronous invocations for the handler's hand-overs to itself (:class:`LambdaService`,
:meth:`CloudFormation.run_handovers`).

How the handler runs is up to the caller: in this process (:class:`InProcess`) or, as the Lambda
runtime would, in a separate Python process whose path holds only the Lambda asset and boto3
(:class:`LambdaProcess`, driven by ``cdk_ota_update/rehearse/lambda_runtime.py``).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cdk_ota_update import api
from cdk_ota_update.rehearse.host import (
    URL_SECRET,
    Event,
    LambdaProcess,
    ResponseServer,
    boto3_runtime,
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


class LambdaService:
    """Lambda's Invoke API over HTTP on 127.0.0.1 (``AWS_ENDPOINT_URL_LAMBDA``): asynchronous
    invocations are queued for :meth:`CloudFormation.run_handovers`, or refused on demand."""

    PATH = "/2015-03-31/functions/"

    def __init__(self) -> None:
        self._queued: list[tuple[str, Event]] = []
        self._refusals: list[str] = []  # error codes for the next invocations
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status, code = service._take(self.path, self.headers, body)
                payload = json.dumps({"message": code}).encode() if code else b""
                self.send_response(status)
                if code:
                    self.send_header("x-amzn-ErrorType", code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _take(self, path: str, headers: Any, body: bytes) -> tuple[int, str]:
        if not path.startswith(self.PATH) or headers.get("X-Amz-Invocation-Type") != "Event":
            return 400, "InvalidRequestContentException"
        name = path[len(self.PATH) :].split("/")[0]
        with self._lock:
            if self._refusals:
                return 403, self._refusals.pop(0)
            self._queued.append((name, json.loads(body)))
        return 202, ""

    def refuse(self, *codes: str) -> None:
        """Refuse the next invocations with these error codes (HTTP 403)."""
        with self._lock:
            self._refusals.extend(codes)

    def take(self) -> list[tuple[str, Event]]:
        """The queued invocations (function name, event), emptying the queue."""
        with self._lock:
            queued, self._queued = self._queued, []
        return queued

    def reset(self) -> None:
        with self._lock:
            self._queued, self._refusals = [], []

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


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
        answer_within: float = 120,
        lambda_service: LambdaService | None = None,
    ) -> None:
        self.invoke = invoke
        self.responses = responses
        self.lambda_service = lambda_service
        self.stack_id = stack_id(stack_name)
        self.service_token = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
        self.timeout = timeout  # the Lambda function's timeout
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
    ) -> Event:
        """A custom resource event as CloudFormation sends it."""
        request_id = str(uuid.uuid4())
        event: Event = {
            "RequestType": request_type,
            "ServiceToken": self.service_token,
            "ResponseURL": self.responses.url(self.stack_id, logical_id, request_id),
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

    def start(self, event: Event) -> float:
        """Invoke the handler with ``event`` (the invocation may end without an answer)."""
        self.events.append(event)
        started = time.monotonic()
        self.invoke(json.loads(json.dumps(event)), self.timeout)
        return started

    def answer(self, event: Event, started: float, timeout: float) -> Response | None:
        """The answer to ``event``, if it comes within ``timeout`` seconds."""
        arrival = self.responses.wait(event["ResponseURL"], timeout)
        if arrival is None:
            return None
        arrived, body = arrival
        for key in ("StackId", "RequestId", "LogicalResourceId"):
            if body.get(key) != event[key]:
                raise AssertionError(f"the answer's {key} is {body.get(key)!r}, not {event[key]!r}")
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
