"""A CloudFormation stand-in for custom resource handlers.

:class:`CloudFormation` sends lifecycle events shaped like CloudFormation's (stringified
properties, RequestId, StackId, LogicalResourceId, ResourceType, ResponseURL, OldResourceProperties
on Update, PhysicalResourceId on Update and Delete) to a handler, and reads the answer the handler
PUTs to the ResponseURL, served over HTTPS on loopback by :class:`ResponseServer` (with a throwaway
certificate authority that the handler trusts through ``SSL_CERT_FILE``). It also plays
EventBridge for crhelper's poller (:meth:`CloudFormation.run_pollers`).

How the handler runs is up to the caller: in this process (:class:`InProcess`) or, as the Lambda
runtime would, in a separate Python process whose path holds only the Lambda asset and boto3
(:class:`LambdaProcess`, driven by ``lambda_runtime.py``).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import trustme
from lambda_runtime import ACCOUNT, FUNCTION_NAME, REGION, LambdaContext

from cdk_ota_update import api

RESOURCE_TYPE = "Custom::OtaUpdate"
STACK_NAME = "Firmware"
URL_SECRET = "X-Amz-Signature=0123456789abcdef"  # stands for the secret part of a ResponseURL
RUNTIME = Path(__file__).with_name("lambda_runtime.py")

Event = dict[str, Any]
Invoke = Callable[[Event, float], None]  # runs the handler for an event, with a timeout (s)


def stack_id(name: str = STACK_NAME) -> str:
    """The StackId of the stack ``name`` (the same on every call: the provider is told it)."""
    unique = uuid.uuid5(uuid.NAMESPACE_URL, name)
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{unique}"


def stringify(value: Any) -> Any:
    """``value`` as CloudFormation hands properties to a custom resource: every scalar a string."""
    if isinstance(value, Mapping):
        return {k: stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Response:
    """What the handler answered, and how long after the event it arrived (seconds)."""

    status: str
    reason: str
    physical_id: str
    data: dict[str, Any]
    seconds: float
    body: dict[str, Any]


class ResponseServer:
    """Collects the answers PUT to ResponseURLs, over HTTPS on 127.0.0.1."""

    def __init__(self, ca: trustme.CA) -> None:
        self._answers: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self._refusals: dict[str, list[int]] = {}
        self._arrived = threading.Condition()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = answers._take(urlsplit(self.path).path, json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, stack_id: str, logical_id: str, request_id: str) -> str:
        """A ResponseURL shaped like CloudFormation's pre-signed S3 URL."""
        path = quote(f"{stack_id}|{logical_id}|{request_id}", safe="")
        return f"https://127.0.0.1:{self.port}/{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&{URL_SECRET}"

    def refuse(self, url: str, *statuses: int) -> None:
        """Answer the next PUTs to ``url`` with these HTTP statuses (the answers are lost)."""
        with self._arrived:
            self._refusals.setdefault(urlsplit(url).path, []).extend(statuses)

    def _take(self, path: str, body: dict[str, Any]) -> int:
        with self._arrived:
            refusals = self._refusals.get(path)
            if refusals:
                return refusals.pop(0)
            self._answers.setdefault(path, []).append((time.monotonic(), body))
            self._arrived.notify_all()
            return 200

    def answers(self, url: str) -> list[tuple[float, dict[str, Any]]]:
        """The answers received so far for ``url`` (arrival time on the monotonic clock, body)."""
        with self._arrived:
            return list(self._answers.get(urlsplit(url).path, []))

    def wait(self, url: str, timeout: float) -> tuple[float, dict[str, Any]] | None:
        """The first answer for ``url``, waiting up to ``timeout`` seconds for it."""
        with self._arrived:
            self._arrived.wait_for(lambda: urlsplit(url).path in self._answers, timeout)
            answers = self._answers.get(urlsplit(url).path)
            return answers[0] if answers else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class InProcess:
    """Runs ``handler`` in this process, as an invocation of a warm Lambda would."""

    def __init__(self, handler: Callable[[Event, LambdaContext], None]) -> None:
        self.handler = handler

    def __call__(self, event: Event, timeout: float) -> None:
        self.handler(event, LambdaContext(timeout))


class LambdaProcess:
    """Runs ``index.handler`` of a Lambda asset folder in a separate Python process.

    Its ``sys.path`` is the asset folder plus a folder holding boto3 and its dependencies only, as
    in the Lambda runtime: anything the asset lacks fails to import. The process stays up between
    invocations (a warm Lambda).
    """

    def __init__(self, asset: Path, runtime_path: Path, env: Mapping[str, str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(RUNTIME), str(asset), str(runtime_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(env),
        )

    def __call__(self, event: Event, timeout: float) -> None:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps({"event": event, "timeout": timeout}) + "\n")
        self._process.stdin.flush()
        if not self._process.stdout.readline():
            raise RuntimeError(f"the Lambda process ended (exit code {self._process.wait()})")

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)


def boto3_runtime(target: Path) -> Path:
    """A folder with boto3 and what it imports (links into this environment's site-packages)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        module = __import__(name)
        source = Path(module.__file__ or "")
        origin = source.parent if source.name == "__init__.py" else source
        link = target / origin.name
        if not link.exists():
            link.symlink_to(origin)
    return target


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
    ) -> None:
        self.invoke = invoke
        self.responses = responses
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
        return self.send(self.event("Update", logical_id, properties, physical_id=physical_id,
                                    old_properties=old_properties))

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
        rolled_back = self.update(logical_id, failed.physical_id, event["OldResourceProperties"],
                                  properties)
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

    # -- EventBridge, for crhelper's poller -------------------------------------------------
    def run_pollers(self) -> list[str]:
        """Fire every scheduled rule once, as EventBridge would: the rule names fired."""
        events = boto3.client("events", region_name=REGION)
        fired = []
        for rule in events.list_rules()["Rules"]:
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                self.invoke(json.loads(target["Input"]), self.timeout)
            fired.append(rule["Name"])
        return fired


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
