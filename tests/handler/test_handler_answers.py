"""The answer's PUT to the ResponseURL, bounded against the invocation: each attempt within
``api.PUT_TIMEOUT`` and the deadline, retried with backoff on 5xx only, refused events answered
with the invocation's time; malformed events of every request type refused; Reasons cut to
crhelper's length keeping their beginning."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme
from emulation_support import World
from handler_support import ID, LOGICAL_ID, properties
from harness import ACCOUNT, REGION, URL_SECRET, CloudFormation

from cdk_ota_update import api
from cdk_ota_update.rehearse.host import QuietHandler, serve_http
from cdk_ota_update.rehearse.lambda_runtime import LambdaContext

# How late past its deadline a give-up may be seen here: one last short attempt, a TLS handshake
# and a busy machine (mutation runs put two test runs on two cores). A fault's lateness is the
# host's delay (5 s and more).
SLACK = 0.6


class ResponseUrl:
    """A ResponseURL host over HTTPS: it answers each PUT after ``delay`` seconds with the next
    of ``statuses`` (200 once they run out), recording when each PUT arrived, its target and
    its body."""

    def __init__(self, ca: trustme.CA) -> None:
        self.statuses: list[int] = []
        self.delay = 0.0
        self.arrivals: list[float] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        url = self

        class Handler(QuietHandler):
            def do_PUT(self) -> None:
                url.arrivals.append(time.monotonic())
                body = self.rfile.read(int(self.headers["content-length"]))
                url.requests.append((self.path, dict(self.headers), body))
                time.sleep(url.delay)
                self.reply(url.statuses.pop(0) if url.statuses else 200, b"")

        self._server, root = serve_http(Handler, ca)
        self.url = f"{root}/answer?{URL_SECRET}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def index(cloudformation: CloudFormation) -> Any:
    """The handler module, in an environment that trusts the test CA."""
    return sys.modules["index"]


@pytest.fixture
def host(trusted_ca: tuple[trustme.CA, Path]) -> Iterator[ResponseUrl]:
    server = ResponseUrl(trusted_ca[0])
    yield server
    server.close()


@pytest.fixture
def timeouts(index: Any, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The timeout of each attempt's connection, as the handler opens it."""
    given: list[float] = []
    real = index.HTTPSConnection

    def connection(host: str, *, timeout: float, context: ssl.SSLContext) -> Any:
        given.append(timeout)
        return real(host, timeout=timeout, context=context)

    monkeypatch.setattr(index, "HTTPSConnection", connection)
    return given


def _put(index: Any, url: str, within: float) -> tuple[bool, float]:
    started = time.monotonic()
    delivered = index.put_answer(url, {"Status": "SUCCESS"}, deadline=started + within)
    return delivered, time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# Malformed events of each request type
# ---------------------------------------------------------------------------------------------
def _event(request_type: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": f"https://127.0.0.1/answer?{URL_SECRET}",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Firmware/1",
        "RequestId": "r-1",
        "LogicalResourceId": LOGICAL_ID,
        "ResourceProperties": {"otaUpdateId": ID},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = ID
    if request_type == "Update":
        event["OldResourceProperties"] = {"otaUpdateId": ID}
    return event


MALFORMED = [
    (kind, member, value)
    for kind in ("Create", "Update", "Delete")
    for member, value in (
        ("RequestType", None),
        ("ResponseURL", None),
        ("StackId", 7),
        ("RequestId", ""),
        ("LogicalResourceId", None),
        ("ResourceProperties", "x"),
        ("PhysicalResourceId", None),
        ("OldResourceProperties", None),
    )
    if (member != "PhysicalResourceId" or kind != "Create")
    and (member != "OldResourceProperties" or kind == "Update")
]


@pytest.mark.parametrize(("kind", "member", "value"), MALFORMED)
def test_a_malformed_event_of_each_request_type_is_refused_naming_the_member(
    index: Any, kind: str, member: str, value: Any
) -> None:
    event = _event(kind)
    if value is None:
        del event[member]
    else:
        event[member] = value
    settings = api.Settings(stack_id=_event(kind)["StackId"])

    assert index.refusal(event, settings) == (
        f"Malformed event: {member} missing or of the wrong type"
    )


def test_an_event_missing_several_members_is_refused_naming_each(index: Any) -> None:
    event = _event("Update")
    del event["RequestId"], event["OldResourceProperties"]
    event["ResourceProperties"] = []

    assert index.refusal(event, api.Settings(stack_id=event["StackId"])) == (
        "Malformed event: RequestId, ResourceProperties, OldResourceProperties missing or of the "
        "wrong type"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"RequestType": "Replace"},
            "RequestType 'Replace' is not one of Create, Update, Delete",
        ),
        ({"ResponseURL": "http://127.0.0.1/answer"}, "the ResponseURL is not an https URL"),
        (
            {"CrHelperData": {}, "CrHelperRule": "x"},
            "CrHelperData, CrHelperRule (crhelper's poller state) is not expected",
        ),
    ],
)
def test_an_event_of_the_right_shape_but_wrong_values_is_refused_saying_why(
    index: Any, change: dict[str, Any], reason: str
) -> None:
    event = {**_event("Delete"), **change}

    assert index.refusal(event, api.Settings(stack_id=event["StackId"])) == (
        f"Malformed event: {reason}"
    )


DIGEST = "0" * 64
HANDOVER_SHAPE = (
    "OtaUpdateHandover is not {'giveUpAt': epoch seconds, 'count': a count, 'digest': a sha256, "
    "'gating': a boolean}"
)


@pytest.mark.parametrize(
    ("state", "refused"),
    [
        ({"giveUpAt": 1.5e9, "count": 1, "digest": DIGEST}, False),
        ({"giveUpAt": 1500000000, "count": 3}, False),  # no digest: still valid
        ({"giveUpAt": 1.5e9, "count": 2, "digest": DIGEST, "gating": True}, False),
        ({"giveUpAt": 1.5e9, "count": 2, "gating": False}, False),
        ({"giveUpAt": 1.5e9, "count": 2, "gating": 1}, True),
        ({"giveUpAt": 1.5e9, "count": 2, "gating": "true"}, True),
        ({"giveUpAt": 1.5e9, "count": 1, "digest": "0" * 63}, True),
        ({"giveUpAt": 1.5e9, "count": 1, "digest": DIGEST.upper().replace("0", "A")}, True),
        ({"giveUpAt": 1.5e9, "count": 1, "digest": 7}, True),
        ({"giveUpAt": 1.5e9, "count": 1, "digest": None}, True),
        ({"giveUpAt": True, "count": 1}, True),
        ({"giveUpAt": "1500000000", "count": 1}, True),
        ({"giveUpAt": 1.5e9, "count": 0}, True),
        ({"giveUpAt": 1.5e9, "count": 1.0}, True),
        ({"count": 1}, True),
        ([], True),
    ],
)
def test_a_hand_over_state_is_refused_unless_it_is_the_handlers_shape(
    index: Any, state: Any, refused: bool
) -> None:
    event = {**_event("Create"), "OtaUpdateHandover": state}

    assert index.refusal(event, api.Settings(stack_id=event["StackId"])) == (
        f"Malformed event: {HANDOVER_SHAPE}" if refused else None
    )


@pytest.mark.parametrize("kind", ["Create", "Update", "Delete"])
def test_a_well_formed_event_of_each_request_type_is_not_refused(index: Any, kind: str) -> None:
    event = _event(kind)
    assert index.refusal(event, api.Settings(stack_id=event["StackId"])) is None


# ---------------------------------------------------------------------------------------------
# Reasons within crhelper's 256 characters, their beginning kept
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [255, 256])
def test_a_reason_that_fits_is_kept_whole(index: Any, length: int) -> None:
    reason = "r" * length
    assert index.fit(reason) == reason


def test_a_longer_reason_keeps_its_beginning_and_says_it_was_cut(index: Any) -> None:
    reason = "begin " + "x" * 300
    assert index.fit(reason) == reason[:255] + "…"
    assert len(index.fit(reason)) == index.REASON_LENGTH == 256


# ---------------------------------------------------------------------------------------------
# Each attempt, and all of them, within the invocation
# ---------------------------------------------------------------------------------------------
def test_an_attempt_never_outlasts_the_deadline(
    index: Any, host: ResponseUrl, timeouts: list[float]
) -> None:
    host.delay = 5.0  # slower than the deadline, which is nearer than api.PUT_TIMEOUT

    delivered, took = _put(index, host.url, within=1.0)

    assert not delivered
    assert timeouts and all(t <= 1.0 for t in timeouts), timeouts
    assert took < 1.0 + SLACK


def test_an_attempt_lasts_up_to_put_timeout_when_the_deadline_is_further(
    index: Any, host: ResponseUrl, timeouts: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "PUT_TIMEOUT", 0.8)
    host.delay = 0.4  # slow, but within one attempt

    delivered, _ = _put(index, host.url, within=30)

    assert delivered
    assert timeouts == [0.8]
    assert len(host.arrivals) == 1


def test_a_host_that_never_answers_is_given_up_on_at_the_deadline(
    index: Any, host: ResponseUrl, timeouts: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "PUT_TIMEOUT", 0.3)
    monkeypatch.setattr(index.random, "uniform", lambda _low, high: high)  # the longest backoff
    host.delay = 30

    delivered, took = _put(index, host.url, within=1.2)

    # Attempt 1 (0.3 s), backoff 0.5 s, attempt 2 (0.3 s): the next backoff (1 s) would end past
    # the deadline, so it gives up at 1.1 s.
    assert not delivered
    assert timeouts == [0.3, 0.3]
    assert 1.05 < took < 1.1 + SLACK


@pytest.mark.parametrize(
    ("statuses", "delivered", "attempts"),
    [
        ([200], True, 1),
        ([204], True, 1),
        ([299], True, 1),
        ([300], False, 1),
        ([302], False, 1),
        ([403], False, 1),
        ([499], False, 1),
        ([500], True, 2),
        ([503, 502], True, 3),
        ([500, 404], False, 2),
    ],
)
def test_only_a_5xx_answer_is_retried(
    index: Any, host: ResponseUrl, statuses: list[int], delivered: bool, attempts: int
) -> None:
    host.statuses = list(statuses)
    assert _put(index, host.url, within=30)[0] is delivered
    assert len(host.arrivals) == attempts


def test_retries_back_off_exponentially_with_jitter(index: Any, host: ResponseUrl) -> None:
    host.statuses = [500, 500, 500, 500]

    assert _put(index, host.url, within=30)[0]

    gaps = [b - a for a, b in zip(host.arrivals, host.arrivals[1:], strict=False)]
    bounds = [
        (0.5 * delay, delay)
        for delay in (
            min(index.PUT_BACKOFF_MAX, index.PUT_BACKOFF_BASE * 2**n) for n in range(len(gaps))
        )
    ]
    assert len(gaps) == 4
    for gap, (low, high) in zip(gaps, bounds, strict=True):
        assert low - 0.05 <= gap <= high + 0.3, (gaps, bounds)


def test_each_backoff_is_drawn_between_half_and_all_of_its_delay(
    index: Any, host: ResponseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full jitter's upper half: 0.5 to 1 times the exponential delay, drawn afresh each time
    (here the shortest: half of 0.5, 1 and 2 s)."""
    drawn: list[tuple[float, float]] = []

    def shortest(low: float, high: float) -> float:
        drawn.append((low, high))
        return low

    monkeypatch.setattr(index.random, "uniform", shortest)
    host.statuses = [500, 500, 500]

    assert _put(index, host.url, within=30)[0]

    gaps = [b - a for a, b in zip(host.arrivals, host.arrivals[1:], strict=False)]
    assert drawn == [(0.5, 1)] * 3
    for gap, shortest_delay in zip(gaps, [0.25, 0.5, 1.0], strict=True):
        assert shortest_delay - 0.05 <= gap <= shortest_delay + 0.3, gaps


# ---------------------------------------------------------------------------------------------
# A refused event is answered with the invocation's time, less a second
# ---------------------------------------------------------------------------------------------
def _malformed_delete(url: str) -> dict[str, Any]:
    return {
        "RequestType": "Delete",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Other/1",
        "RequestId": "r-1",
        "LogicalResourceId": LOGICAL_ID,
        "ResourceProperties": {},
    }  # no PhysicalResourceId


def test_a_refused_events_answer_is_retried_within_the_invocation(
    index: Any, host: ResponseUrl
) -> None:
    host.statuses = [502]

    index.handler(_malformed_delete(host.url), LambdaContext(30))

    assert len(host.arrivals) == 2  # the 502, then the FAILED answer delivered


def test_a_refused_events_answer_stops_a_second_before_the_invocation_ends(
    index: Any, host: ResponseUrl
) -> None:
    host.delay = 30

    started = time.monotonic()
    index.handler(_malformed_delete(host.url), LambdaContext(3.0))
    took = time.monotonic() - started

    assert host.arrivals
    assert 1.8 < took < 2.0 + SLACK


# ---------------------------------------------------------------------------------------------
# The answer's whole body, and what building the crhelper resource leaves behind
# ---------------------------------------------------------------------------------------------
def test_a_successful_create_answers_exactly_what_cloudformation_reads(
    cloudformation: CloudFormation, world: World
) -> None:
    response = cloudformation.create(LOGICAL_ID, properties(world))

    arn = f"arn:aws:iot:{REGION}:{ACCOUNT}"
    assert {k: v for k, v in response.body.items() if k not in ("StackId", "RequestId")} == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": ID,
        "LogicalResourceId": LOGICAL_ID,
        "NoEcho": False,
        "Data": {
            "otaUpdateId": ID,
            "otaUpdateArn": f"{arn}:otaupdate/{ID}",
            "awsIotJobId": f"AFR_OTA-{ID}",
            "awsIotJobArn": f"{arn}:job/AFR_OTA-{ID}",
            "otaUpdateStatus": "CREATE_COMPLETE",
        },
    }


@pytest.mark.parametrize("sam_local", [None, "", "1"])
def test_the_resource_builds_no_client_and_leaves_the_environment_as_it_was(
    index: Any, monkeypatch: pytest.MonkeyPatch, sam_local: str | None
) -> None:
    """crhelper builds its poller's clients (lambda, events, logs) unless AWS_SAM_LOCAL is set:
    the handler sets it while building, then puts back what was there."""
    if sam_local is None:
        monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    else:
        monkeypatch.setenv("AWS_SAM_LOCAL", sam_local)
    clients: list[str] = []
    monkeypatch.setattr(boto3, "client", lambda name, **_: clients.append(name))

    index.OtaUpdateResource()

    assert clients == []
    assert os.environ.get("AWS_SAM_LOCAL") == sam_local


def test_the_handlers_logs_stay_plain_text(
    cloudformation: CloudFormation, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """crhelper's JSON logging would put its formatter on the root logger's handlers (Lambda's)."""
    plain = logging.Formatter("%(levelname)s %(message)s")
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(plain)
    monkeypatch.setattr(logging.root, "handlers", [*logging.root.handlers, handler])

    cloudformation.create(LOGICAL_ID, properties(world))

    assert handler.formatter is plain
    assert f"INFO {LOGICAL_ID} answered SUCCESS (HTTP 200, attempt 1)" in lines.getvalue()


# ---------------------------------------------------------------------------------------------
# The answer to a refused event: FAILED on its own ResponseURL, with what it has of its ids
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def puts(index: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """What the handler PUTs, instead of PUTting it."""
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(index, "put_answer", lambda url, body, _deadline: sent.append((url, body)))
    return sent


WRONG_TYPE = "Malformed event: RequestType 'Replace' is not one of Create, Update, Delete"


@pytest.mark.parametrize(
    ("change", "reason", "ids"),
    [
        ({}, WRONG_TYPE, {"PhysicalResourceId": ID}),
        ({"PhysicalResourceId": ""}, WRONG_TYPE, {"PhysicalResourceId": "refused-r-1"}),
        (
            {"PhysicalResourceId": None, "RequestId": 5, "StackId": ["x"]},
            "Malformed event: StackId, RequestId missing or of the wrong type",
            {"PhysicalResourceId": "refused-request", "RequestId": "", "StackId": ""},
        ),
    ],
)
def test_a_refused_event_is_answered_failed_with_the_ids_it_has(
    index: Any,
    puts: list[tuple[str, dict[str, Any]]],
    change: dict[str, Any],
    reason: str,
    ids: dict[str, str],
) -> None:
    event = {**_event("Delete"), "RequestType": "Replace", **change}

    index.handler(event, LambdaContext(30))

    assert puts == [
        (
            event["ResponseURL"],
            {
                "Status": "FAILED",
                "Reason": reason,
                "StackId": event["StackId"],
                "RequestId": "r-1",
                "LogicalResourceId": LOGICAL_ID,
                "Data": {},
                **ids,
            },
        )
    ]


@pytest.mark.parametrize("url", ["http://127.0.0.1/answer", 7])
def test_a_refused_event_without_an_https_response_url_is_not_answered(
    index: Any, puts: list[tuple[str, dict[str, Any]]], url: Any
) -> None:
    index.handler({**_event("Delete"), "ResponseURL": url}, LambdaContext(30))

    assert puts == []


@pytest.mark.parametrize("event", [[], "Create", None])
def test_an_event_that_is_no_json_object_is_logged_and_not_answered(
    index: Any,
    puts: list[tuple[str, dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
    event: Any,
) -> None:
    index.handler(event, LambdaContext(30))

    assert puts == []
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "Malformed event: not a JSON object, not answered")
    ]


def test_the_answer_is_put_to_the_urls_path_and_query_as_json_with_no_content_type(
    index: Any, host: ResponseUrl
) -> None:
    """The presigned URL's signature covers the path, the query and an empty content type."""
    assert _put(index, host.url, within=30)[0]

    ((target, headers, body),) = host.requests
    assert target == f"/answer?{URL_SECRET}"
    assert headers["content-type"] == ""
    assert headers["content-length"] == str(len(body))
    assert sorted(name.lower() for name in headers) == [
        "accept-encoding",  # http.client's own
        "content-length",
        "content-type",
        "host",
    ]
    assert json.loads(body) == {"Status": "SUCCESS"}


def test_a_refused_events_answer_has_the_invocations_time_less_a_second(
    index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    left: list[float] = []
    monkeypatch.setattr(index, "put_answer", lambda _u, _b, deadline: left.append(deadline))

    started = time.monotonic()
    index.handler(_malformed_delete("https://127.0.0.1/answer"), LambdaContext(600))

    assert 598.8 < left[0] - started <= 599.0


def test_each_failed_attempt_is_logged_with_what_went_wrong(
    index: Any, host: ResponseUrl, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        refusing = f"https://127.0.0.1:{unused.getsockname()[1]}/answer?{URL_SECRET}"
    host.statuses = [503]

    assert _put(index, host.url, within=30)[0]
    assert not _put(index, refusing, within=0.7)[0]

    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert re.fullmatch(r"Answering failed \(HTTP 503\), attempt 1; retry in 0\.\d s", lines[0][1])
    assert [level for level, _ in lines] == [
        "WARNING",
        "INFO",
        *["WARNING"] * (len(lines) - 3),
        "ERROR",
    ]
    assert lines[2][1].startswith("Answering failed (ConnectionRefusedError: ")
    assert re.fullmatch(
        r"The answer was not delivered after \d attempts, the last: ConnectionRefusedError: .+",
        lines[-1][1],
    )


def test_a_refused_answer_is_logged_as_an_error_and_not_retried(
    index: Any, host: ResponseUrl, caplog: pytest.LogCaptureFixture
) -> None:
    host.statuses = [403]

    assert not _put(index, host.url, within=30)[0]

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "The answer was refused: HTTP 403 (attempt 1)")
    ]
