"""Hosting a custom resource handler as CloudFormation and Lambda would, on this machine.

:class:`ResponseServer` collects the answers a handler PUTs to its ResponseURLs, over HTTPS on
loopback (with a throwaway certificate authority the handler trusts through ``SSL_CERT_FILE``);
the URLs carry the signing time and lifetime of CloudFormation's pre-signed S3 URLs.
:class:`StackService` answers CloudFormation's ``DescribeStackResource`` over HTTP on loopback
(``AWS_ENDPOINT_URL_CLOUDFORMATION``) from the statuses CloudFormation would show, which
:class:`StatusRecorder` keeps as CloudFormation does while it sends events and reads answers.
:class:`LambdaProcess` runs ``index.handler`` of a Lambda asset folder in a separate Python
process whose path holds only that folder and boto3 (``lambda_runtime.py``), as AWS Lambda's
Python runtime does; :class:`LambdaService` takes the asynchronous invocations a handler makes of
itself (its hand-overs). Used by the rehearsal and by the project's own handler tests.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import string
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

from cdk_ota_update import api

from .lambda_runtime import LOGGED, RETURNED, SLEEP

RUNTIME = Path(__file__).with_name("lambda_runtime.py")
URL_SECRET = "X-Amz-Signature=0123456789abcdef"  # stands for the secret part of a ResponseURL
_SIGNED_AT = re.compile(rf"(?<=[?&]{api.RESPONSE_URL_SIGNED_AT}=)[0-9]{{8}}T[0-9]{{6}}Z")

Event = dict[str, Any]


def stringify(value: Any) -> Any:
    """``value`` as CloudFormation hands properties to a custom resource: every scalar a string."""
    if isinstance(value, Mapping):
        return {k: stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def amz_date(at: float | None = None) -> str:
    """``at`` (epoch seconds; now by default) as a pre-signed URL's ``X-Amz-Date``."""
    return api.response_url_date(time.time() if at is None else at)


def resigned(url: str, signed_at: float) -> str:
    """The pre-signed ``url`` with its ``X-Amz-Date`` (and nothing else) set to ``signed_at``."""
    changed, count = _SIGNED_AT.subn(amz_date(signed_at), url)
    if count != 1:
        raise ValueError("the URL carries no X-Amz-Date")
    return changed


def stack_name_of(stack_id: str) -> str:
    """The stack's name in its StackId (``arn:...:stack/NAME/UUID``); a name stays itself."""
    return stack_id.split(":stack/", 1)[1].split("/", 1)[0] if ":stack/" in stack_id else stack_id


def generated_physical_id(stack_id: str, logical_id: str) -> str:
    """A physical id CloudFormation makes up itself, as in the Delete it sends after a Create of
    a custom resource that was cancelled or timed out without an answer:
    ``STACK-LOGICAL-XXXXXXXXXXXX`` (12 random upper-case letters and digits; reported in
    aws-cloudformation/cloudformation-coverage-roadmap#1814)."""
    alphabet = string.ascii_uppercase + string.digits
    suffix = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"{stack_name_of(stack_id)}-{logical_id}-{suffix}"


class CertificateAuthority:
    """A throwaway CA (trustme): its certificate in ``cert_file``, for ``SSL_CERT_FILE``."""

    def __init__(self, directory: Path) -> None:
        import trustme

        self.ca = trustme.CA()
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_file = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.cert_file))


class ResponseServer:
    """Collects the answers PUT to ResponseURLs, over HTTPS on 127.0.0.1."""

    def __init__(self, ca: Any) -> None:
        """``ca``: a ``trustme.CA`` the handler trusts."""
        self._answers: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self._refusals: dict[str, list[int]] = {}
        self._arrived = threading.Condition()
        answers = self

        class Handler(QuietHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                self.reply(answers._take(urlsplit(self.path).path, json.loads(body)), b"")

        self._server, _ = serve_http(Handler, ca)
        self.port = self._server.server_address[1]

    def url(
        self, stack_id: str, logical_id: str, request_id: str, *, signed_at: float | None = None
    ) -> str:
        """A ResponseURL shaped like CloudFormation's pre-signed S3 URL, signed at ``signed_at``
        (epoch seconds; now by default) for :data:`api.RESPONSE_URL_SECONDS`. The answers are kept
        by the URL's path: the same request signed at another time has the same answers."""
        path = quote(f"{stack_id}|{logical_id}|{request_id}", safe="")
        query = (
            f"X-Amz-Algorithm=AWS4-HMAC-SHA256&{api.RESPONSE_URL_SIGNED_AT}={amz_date(signed_at)}"
            f"&X-Amz-SignedHeaders=host&{api.RESPONSE_URL_LIFETIME}={api.RESPONSE_URL_SECONDS}"
            f"&{URL_SECRET}"
        )
        return f"https://127.0.0.1:{self.port}/{path}?{query}"

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


CFN_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
CFN_VERSION = "2010-05-15"
_ERROR_STATUS = {  # HTTP status of CloudFormation's error codes (400 for the others)
    "AccessDenied": 403,
    "AccessDeniedException": 403,
    "ExpiredToken": 403,
    "InvalidClientTokenId": 403,
    "SignatureDoesNotMatch": 403,
    "UnrecognizedClientException": 403,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
}
_ERROR_MESSAGE = {
    "AccessDenied": "User is not authorized to perform: cloudformation:DescribeStackResource",
    "Throttling": "Rate exceeded",
}


@dataclass(frozen=True)
class _Resource:
    status: str
    physical_id: str | None
    resource_type: str
    at: float  # epoch seconds


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers with :meth:`reply`."""

    def reply(self, status: int, payload: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        pass


def serve_http(
    handler: type[BaseHTTPRequestHandler], ca: Any = None
) -> tuple[ThreadingHTTPServer, str]:
    """``handler`` served on 127.0.0.1 by a daemon thread, over HTTPS with a certificate of the
    ``trustme.CA`` ``ca`` when given (else plain HTTP): the server (to shut down) and its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    scheme = "http"
    if ca is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"


class StackService:
    """CloudFormation's query API over HTTP on 127.0.0.1 (``AWS_ENDPOINT_URL_CLOUDFORMATION``),
    answering ``DescribeStackResource`` from the resource statuses set with :meth:`set_status`
    as botocore's ``cloudformation`` client parses CloudFormation's answers. Thread-safe."""

    def __init__(self) -> None:
        self._stacks: dict[str, dict[str, _Resource]] = {}  # by StackId, then logical id
        self._refusals: list[str] = []  # error codes for the next calls
        self._calls = 0
        self._lock = threading.Lock()
        service = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = self.rfile.read(length).decode("utf-8", "replace")
                query = urlsplit(self.path).query
                params = {
                    k: v[0] for k, v in parse_qs("&".join(filter(None, (query, form)))).items()
                }
                status, body = service._answer(params)
                self.reply(status, body.encode(), {"Content-Type": "text/xml"})

        self._server, self.url = serve_http(Handler)

    # -- what CloudFormation shows ---------------------------------------------------------------
    def set_status(
        self,
        stack_id: str,
        logical_id: str,
        status: str,
        *,
        physical_id: str | None = None,
        resource_type: str = "Custom::OtaUpdate",
        at: float | None = None,
    ) -> None:
        """The resource ``logical_id`` of the stack ``stack_id`` (its ARN) is in ``status`` since
        ``at`` (epoch seconds; now by default), with ``physical_id`` (none shown when None). A
        stack deleted before is a new stack again."""
        resource = _Resource(status, physical_id, resource_type, time.time() if at is None else at)
        with self._lock:
            self._stacks.setdefault(stack_id, {})[logical_id] = resource

    def delete_stack(self, stack_id: str) -> None:
        """The stack ``stack_id`` is gone: DescribeStackResource no longer knows it."""
        with self._lock:
            self._stacks.pop(stack_id, None)

    def refuse(self, *codes: str) -> None:
        """Refuse the next DescribeStackResource calls with these error codes (``AccessDenied``
        with HTTP 403, ``Throttling`` with 400, ``InternalFailure`` 500, ...)."""
        with self._lock:
            self._refusals.extend(codes)

    def calls(self) -> int:
        """How many DescribeStackResource calls came (refused ones too, botocore's retries too)."""
        with self._lock:
            return self._calls

    def reset(self) -> None:
        with self._lock:
            self._stacks, self._refusals, self._calls = {}, [], 0

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the query API ---------------------------------------------------------------------------
    def _answer(self, params: Mapping[str, str]) -> tuple[int, str]:
        request_id = str(uuid.uuid4())
        action = params.get("Action", "")
        try:
            if action != "DescribeStackResource":
                raise _Refused("InvalidAction", f"Could not find operation {action}")
            if params.get("Version") != CFN_VERSION:
                raise _Refused("InvalidParameterValue", "Version must be 2010-05-15")
            result = self._describe(params.get("StackName"), params.get("LogicalResourceId"))
        except _Refused as refused:
            status = _ERROR_STATUS.get(refused.code, 400)
            return status, (
                "<ErrorResponse><Error>"
                f"<Type>{'Receiver' if status >= 500 else 'Sender'}</Type>"
                f"<Code>{escape(refused.code)}</Code><Message>{escape(refused.message)}</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        return 200, (
            f'<DescribeStackResourceResponse xmlns="{CFN_NAMESPACE}">'
            f"<DescribeStackResourceResult>{result}</DescribeStackResourceResult>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            "</DescribeStackResourceResponse>"
        )

    def _describe(self, stack: str | None, logical_id: str | None) -> str:
        for member, value in (("stackName", stack), ("logicalResourceId", logical_id)):
            if not value:
                raise _Refused(
                    "ValidationError",
                    f"1 validation error detected: Value null at '{member}' failed to satisfy "
                    "constraint: Member must not be null",
                )
        assert stack and logical_id
        with self._lock:
            self._calls += 1
            if self._refusals:
                code = self._refusals.pop(0)
                raise _Refused(code, _ERROR_MESSAGE.get(code, f"{code} (refused on purpose)"))
            found = [
                (stack_id, resources)
                for stack_id, resources in self._stacks.items()
                if stack in (stack_id, stack_name_of(stack_id))
            ]
            if not found:
                raise _Refused("ValidationError", f"Stack with id {stack} does not exist")
            [(stack_id, resources)] = found[-1:]  # the newest stack of that name
            resource = resources.get(logical_id)
            if resource is None:
                raise _Refused(
                    "ValidationError", f"Resource {logical_id} does not exist for stack {stack}"
                )
        fields = [
            ("StackName", stack_name_of(stack_id)),
            ("StackId", stack_id),
            ("LogicalResourceId", logical_id),
            ("PhysicalResourceId", resource.physical_id),
            ("ResourceType", resource.resource_type),
            ("LastUpdatedTimestamp", iso_timestamp(resource.at)),
            ("ResourceStatus", resource.status),
        ]
        detail = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields if v is not None)
        drift = (
            "<DriftInformation><StackResourceDriftStatus>NOT_CHECKED</StackResourceDriftStatus>"
            "</DriftInformation>"
        )
        return f"<StackResourceDetail>{detail}{drift}</StackResourceDetail>"


def iso_timestamp(at: float) -> str:
    """Epoch seconds as CloudFormation writes a timestamp: ISO 8601 in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(at, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_RECORDED_KEYS = ("RequestType", "StackId", "LogicalResourceId", "RequestId")


def _well_formed(event: Event) -> bool:
    return all(isinstance(event.get(key), str) and event[key] for key in _RECORDED_KEYS)


class StatusRecorder:
    """CloudFormation's bookkeeping of its custom resources' statuses, kept in a
    :class:`StackService` while events are sent and answers read.

    Before an event is first sent, its resource is ``CREATE_``/``UPDATE_``/``DELETE_IN_PROGRESS``;
    the first answer read makes it ``..._COMPLETE`` or ``..._FAILED``, with the answer's physical
    id; :meth:`abandoned` (a Create cancelled, or without an answer within the ServiceTimeout)
    makes it ``..._FAILED``. The same event sent again (Lambda's at-least-once delivery) and
    answers after the first change nothing. A Delete of another physical id than the resource's
    current one (the last successful answer's), i.e. the cleanup of a replaced resource, changes
    nothing either: the logical resource stays the new resource's ``UPDATE_COMPLETE``. Nothing is
    recorded for a stack after :meth:`delete_stack`, nor for a malformed event (one without a
    RequestType, StackId, LogicalResourceId or RequestId: CloudFormation sends none). Thread-safe.
    """

    def __init__(self, service: StackService) -> None:
        self.service = service
        self._current: dict[tuple[str, str], str] = {}  # the live physical id of each resource
        self._sent: set[str] = set()  # RequestIds
        self._settled: set[str] = set()
        self._deleted: set[str] = set()  # StackIds
        self._lock = threading.Lock()

    def sent(self, event: Event) -> None:
        """``event`` is about to be sent."""
        with self._lock:
            if not _well_formed(event):
                return
            if event["RequestId"] in self._sent or self._ignored(event):
                self._sent.add(event["RequestId"])
                return
            self._sent.add(event["RequestId"])
            physical_id = event.get("PhysicalResourceId")
            # CloudFormation marks the resource in progress just before it signs the ResponseURL.
            self._set(
                event,
                "IN_PROGRESS",
                physical_id if isinstance(physical_id, str) else None,
                at=api.response_url_signed_at(str(event.get("ResponseURL", ""))),
            )

    def answered(self, event: Event, status: str, physical_id: str | None) -> None:
        """The answer to ``event`` was read: its ``status`` (``SUCCESS``, ``FAILED``) and
        ``physical_id``."""
        with self._lock:
            if not self._settle(event):
                return
            self._set(event, "COMPLETE" if status == "SUCCESS" else "FAILED", physical_id)
            key = (event["StackId"], event["LogicalResourceId"])
            if status == "SUCCESS" and event["RequestType"] == "Delete":
                self._current.pop(key, None)
            elif status == "SUCCESS" and physical_id:
                self._current[key] = physical_id

    def abandoned(self, event: Event, physical_id: str | None) -> None:
        """CloudFormation stopped waiting for an answer to ``event`` (cancelled, timed out); the
        resource shows ``physical_id``."""
        with self._lock:
            if self._settle(event):
                self._set(event, "FAILED", physical_id)

    def settled(self, event: Event) -> bool:
        """Whether CloudFormation has stopped waiting for an answer to ``event``."""
        with self._lock:
            return event.get("RequestId") in self._settled

    def delete_stack(self, stack_id: str) -> None:
        """The stack is gone (and nothing more is recorded for it)."""
        with self._lock:
            self._deleted.add(stack_id)
            self.service.delete_stack(stack_id)

    def _settle(self, event: Event) -> bool:
        """Settle ``event``: whether this changes its resource's status."""
        if not _well_formed(event) or event["RequestId"] in self._settled:
            return False
        self._settled.add(event["RequestId"])
        return not self._ignored(event)

    def _ignored(self, event: Event) -> bool:
        if event["StackId"] in self._deleted:
            return True
        current = self._current.get((event["StackId"], event["LogicalResourceId"]))
        return (
            event["RequestType"] == "Delete"
            and current is not None
            and event.get("PhysicalResourceId") != current
        )

    def _set(
        self, event: Event, outcome: str, physical_id: str | None, at: float | None = None
    ) -> None:
        self.service.set_status(
            event["StackId"],
            event["LogicalResourceId"],
            f"{str(event['RequestType']).upper()}_{outcome}",
            physical_id=physical_id,
            resource_type=event.get("ResourceType") or "Custom::OtaUpdate",
            at=at,
        )


class LambdaService:
    """Lambda's Invoke API over HTTP on 127.0.0.1 (``AWS_ENDPOINT_URL_LAMBDA``): asynchronous
    invocations (a handler's hand-overs to itself) are queued for whoever plays Lambda (the
    rehearsal's driver, the tests' ``CloudFormation.run_handovers``), or refused on demand."""

    PATH = "/2015-03-31/functions/"

    def __init__(self) -> None:
        self._queued: list[tuple[str, Event]] = []
        self._refusals: list[str] = []  # error codes for the next invocations
        self._lock = threading.Lock()
        service = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status, code = service._take(self.path, self.headers, body)
                payload = json.dumps({"message": code}).encode() if code else b""
                self.reply(status, payload, {"x-amzn-ErrorType": code} if code else None)

        self._server, self.url = serve_http(Handler)

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

    def take(self, request_id: str | None = None) -> list[tuple[str, Event]]:
        """The queued invocations (function name, event), taken off the queue: all of them, or
        those of the request ``request_id`` (the hand-overs of its wait)."""
        taken: list[tuple[str, Event]] = []
        kept: list[tuple[str, Event]] = []
        with self._lock:
            for queued in self._queued:
                ours = request_id in (None, queued[1].get("RequestId"))
                (taken if ours else kept).append(queued)
            self._queued = kept
        return taken

    def reset(self) -> None:
        with self._lock:
            self._queued, self._refusals = [], []

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class LambdaProcess:
    """Runs ``index.handler`` of a Lambda asset folder in a separate Python process.

    Its ``sys.path`` is the asset folder plus a folder holding boto3 and its dependencies only, as
    in the Lambda runtime: anything the asset lacks fails to import. The process stays up between
    invocations (a warm Lambda); its log goes to ``log`` (this process's stderr by default), and
    :meth:`invoke` also returns the messages an invocation logged. With a ``clock`` (and the
    runtime's ``FLEET_CLOCK_VARIABLE`` in ``env``), the handler's sleeps are answered by
    ``clock(seen, seconds)``: the simulated fleet's clock (``cdk_ota_update.rehearse.fleet``),
    and each invocation starts at its time (``clock(0, 0)``, which moves nothing).
    """

    def __init__(
        self,
        asset: Path,
        runtime_path: Path,
        env: Mapping[str, str],
        log: IO[str] | None = None,
        clock: Callable[[float, float], float] | None = None,
    ) -> None:
        self._clock = clock
        self._process = subprocess.Popen(
            # -B: no __pycache__ written into the asset (cdk deploy would ship it).
            [sys.executable, "-I", "-S", "-B", str(RUNTIME), str(asset), str(runtime_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=dict(env),
        )

    def __call__(self, event: Event, timeout: float) -> None:
        """Invoke the handler with ``event``."""
        self.invoke(event, timeout)

    def invoke(self, event: Event, timeout: float) -> list[str]:
        """Invoke the handler with ``event``; the messages it logged meanwhile."""
        assert self._process.stdin and self._process.stdout
        invocation: dict[str, Any] = {"event": event, "timeout": timeout}
        if self._clock is not None:  # it starts at the clock's time (the clock stays)
            invocation["clock"] = self._clock(0.0, 0.0)
        self._process.stdin.write(json.dumps(invocation) + "\n")
        self._process.stdin.flush()
        logged: list[str] = []
        for line in self._process.stdout:  # what the handler prints itself is skipped
            if line.startswith(LOGGED):
                logged.append(json.loads(line.removeprefix(LOGGED)))
            elif line.startswith(SLEEP) and self._clock is not None:
                seen, seconds = json.loads(line.removeprefix(SLEEP))
                self._process.stdin.write(f"{self._clock(seen, seconds)!r}\n")
                self._process.stdin.flush()
            elif line.rstrip("\n") == RETURNED:
                return logged
        raise RuntimeError(f"the Lambda process ended (exit code {self._process.wait()})")

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)


BOTO3_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def boto3_runtime(target: Path) -> Path:
    """A folder with boto3 and what it imports (links into this environment's site-packages)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in BOTO3_MODULES:
        module = __import__(name)
        source = Path(module.__file__ or "")
        origin = source.parent if source.name == "__init__.py" else source
        link = target / origin.name
        if not link.exists():
            link.symlink_to(origin)
    return target
