"""The ``Custom::OtaUpdate`` custom resource handler: crhelper over :mod:`lifecycle`.

crhelper answers CloudFormation; the lifecycle waits for the service inside the invocation and,
only when the invocation's time runs short, hands the wait over to the next invocation: this
function invokes itself asynchronously with what the wait needs (the event, its ResponseURL
included, travels only in Lambda's own invocation, never in an EventBridge rule that anyone with
read access to EventBridge could read). crhelper's own poller (an EventBridge schedule) is never
set up. What this module changes in crhelper, and why (:class:`OtaUpdateResource`):

* the hand-over replaces crhelper's poller, so answers come within seconds of the service, not
  minutes, and the provider needs no EventBridge or ``lambda:AddPermission`` rights;
* crhelper's lambda, events and logs clients (for its poller) are never built;
* Reasons are cut to crhelper's 256 characters here, keeping their beginning (crhelper keeps the
  end); the log level stays INFO (at DEBUG crhelper logs the ResponseURL) and there is no sleep on
  Delete;
* once a request names an otaUpdateId, every answer names it, a FAILED one and crhelper's own
  timeout answer included: CloudFormation's rollback then deletes what the request created;
* answers are PUT with a timeout, and 5xx or connection errors retried with backoff while the
  invocation lasts (crhelper counts any status as delivered and has no timeout);
* an event is checked before crhelper keeps anything of it (it keeps the last request in module
  state): a malformed one, or one of another stack than the provider's (``OTA_STACK_ID``), is
  answered FAILED on its own ResponseURL, if any, and touches nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import re
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.client import HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import lifecycle
from botocore.exceptions import BotoCoreError, ClientError
from crhelper import CfnResource

from cdk_ota_update import api

log = logging.getLogger(__name__)

Event = dict[str, Any]
Context = Any
Handler = Callable[[Event, Context], "str | None"]

# The hand-over's state, in the event an invocation hands over to the next one: when waiting
# fails for good (epoch seconds), how many invocations handed over so far, and whether the wait is
# a rollout gate's (its creation complete).
HANDOVER = "OtaUpdateHandover"
GIVE_UP_AT = "giveUpAt"
HANDOVERS = "count"
GATING = "gating"
# crhelper's keys for its own poller's state (crhelper routes an event that has CrHelperPoll to
# its poll functions and takes CrHelperData as the answer's Data): never in CloudFormation's
# events nor in this handler's hand-overs, so an event that has any is refused.
CRHELPER_POLL = "CrHelperPoll"
CRHELPER_EVENT_KEYS = (CRHELPER_POLL, "CrHelperData", "CrHelperRule", "CrHelperPermission")
REASON_LENGTH = 256  # crhelper keeps only the last 240 characters of a longer Reason
# What the next invocation needs of the request's properties (Lambda's asynchronous payloads are
# limited, OTA update properties can be large); the request's digest travels in the hand-over.
HANDED_OVER_PROPERTIES = (api.OTA_UPDATE_ID, api.SERVICE_TIMEOUT, *api.BESIDE_REQUEST)
DIGEST = "digest"
# The answer's PUT: each attempt at most api.PUT_TIMEOUT s; 5xx and connection errors are retried
# with backoff (PUT_BACKOFF_BASE * 2**retry, at most PUT_BACKOFF_MAX) while the invocation lasts.
PUT_BACKOFF_BASE = 0.5
PUT_BACKOFF_MAX = 4.0


class OtaUpdateResource(CfnResource):
    """crhelper's CfnResource, answering or handing the wait over to the next invocation.

    It relies on these private parts of crhelper (absent from its stubs; each pinned by one test
    in ``tests/handler/test_crhelper_pins.py``):

    * ``__init__`` builds no boto3 client when ``AWS_SAM_LOCAL`` is set, and keeps that value in
      ``_sam_local`` (``__call__`` then skips ``_polling_init``);
    * ``__call__``, once the request's function returned, answers unless ``_poll_enabled()``;
      then it calls ``_polling_init(event)`` instead (where crhelper sets up its poller);
    * ``_send(status, reason, send_response)`` passes the answer to
      ``send_response(url, body, ssl_verify)``;
    * the physical id set before a function raises is the one of the FAILED answer and of the
      answer crhelper's timer sends just before the invocation times out.
    """

    _context: Context
    _sam_local: str | None

    def __init__(self, **options: Any) -> None:
        with _sam_local():  # no lambda, events and logs clients: only crhelper's poller uses them
            super().__init__(**options)
        self._sam_local = None  # the hand-over is ours: never skipped
        self.settings = api.Settings()
        self.continuation: Event | None = None
        self.silent = False

    def run(self, event: Event, context: Context, settings: api.Settings) -> None:
        """One invocation: crhelper calls the request's function, then answers or hands over."""
        self.settings, self.continuation, self.silent = settings, None, False
        self(event, context)

    def hand_over(self, continuation: Event) -> None:
        """No answer from this invocation: the next one gets ``continuation``."""
        self.continuation = continuation

    def stay_silent(self) -> None:
        """No answer to this request at all: CloudFormation no longer waits for it."""
        self.silent = True

    def _poll_enabled(self) -> bool:
        """The hand-over decision, which crhelper asks for once the function returned."""
        return self.continuation is not None or self.silent

    def _polling_init(self, event: Event) -> None:
        """Instead of crhelper's poller: invoke the next invocation; FAILED if that fails (unless
        nobody waits for an answer)."""
        if self.continuation is None:
            return
        reason = invoke_next(self._context, self.continuation)
        if reason is not None and not self.silent:
            self._send("FAILED", reason)

    def _send(self, status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        """crhelper's answer, its Reason cut to fit keeping its beginning, PUT by
        :func:`put_answer` (timeout, retries) within the invocation."""
        deadline = time.monotonic() + _remaining_seconds(self._context)

        def send(url: str, body: Mapping[str, Any], _ssl_verify: Any) -> None:
            put_answer(url, body, deadline)

        self.Reason = fit(str(self.Reason))  # a failed request's, which crhelper would cut
        super()._send(status, fit(reason), send_response=send)  # type: ignore[misc]


@contextmanager
def _sam_local() -> Iterator[None]:
    """``AWS_SAM_LOCAL`` set for the duration (crhelper then builds no clients), then restored."""
    saved = os.environ.get("AWS_SAM_LOCAL")
    os.environ["AWS_SAM_LOCAL"] = "true"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("AWS_SAM_LOCAL")
        else:
            os.environ["AWS_SAM_LOCAL"] = saved


helper = OtaUpdateResource(
    json_logging=False,
    log_level="INFO",
    boto_level="ERROR",
    sleep_on_delete=0,
)


@functools.cache
def _client(service: str, connect_timeout: float, read_timeout: float, attempts: int) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.client(service, region_name=os.environ.get("AWS_REGION"), config=config)


def _iot() -> Any:
    # One attempt per call: the lifecycle retries with its own bounded backoff.
    return _client("iot", api.CALL_CONNECT_TIMEOUT, api.CALL_READ_TIMEOUT, 1)


def _cloudformation() -> Any:
    return _client("cloudformation", api.CALL_CONNECT_TIMEOUT, api.CALL_READ_TIMEOUT, 1)


def invoke_next(context: Context, continuation: Event) -> str | None:
    """Invoke this function asynchronously with ``continuation``: None, or why that failed."""
    client = _client(
        "lambda", api.INVOKE_CONNECT_TIMEOUT, api.INVOKE_READ_TIMEOUT, api.INVOKE_ATTEMPTS
    )
    try:
        client.invoke(
            FunctionName=context.function_name,
            InvocationType="Event",
            Payload=json.dumps(continuation).encode(),
        )
    except (ClientError, BotoCoreError) as error:
        log.error("Handing over failed: %s", error)
        return (
            f"Handing the wait over to the next invocation failed: {error} (Invoke of "
            f"function {context.function_name}); retry the deployment"
        )
    log.info("Handed over to invocation %d", continuation[HANDOVER][HANDOVERS] + 1)
    return None


def fit(reason: str) -> str:
    """``reason`` within crhelper's REASON_LENGTH characters, its beginning kept."""
    if len(reason) > REASON_LENGTH:
        return reason[: REASON_LENGTH - 1] + "…"
    return reason


def _reasoned(func: Handler) -> Handler:
    """Failures become a Reason (cut to fit by :meth:`OtaUpdateResource._send`)."""

    @functools.wraps(func)
    def run(event: Event, context: Context) -> str | None:
        try:
            return func(event, context)
        except lifecycle.Failure as failure:
            reason = str(failure)
        except Exception as error:  # a Reason rather than crhelper's bare str(error)
            log.exception("%s failed", event["RequestType"])
            reason = f"{type(error).__name__}: {error}"
        raise RuntimeError(reason)

    return run


def _budget(event: Event, context: Context) -> lifecycle.Budget:
    state = event.get(HANDOVER) or {}
    return lifecycle.Budget.of(
        context.get_remaining_time_in_millis(),
        helper.settings,
        give_up_at=state.get(GIVE_UP_AT),
        sent_at=api.response_url_signed_at(event["ResponseURL"]),
        handovers=state.get(HANDOVERS, 0),
        gating=state.get(GATING, False),
    )


def _sent(event: Event) -> lifecycle.Sent:
    timeout = event["ResourceProperties"].get(api.SERVICE_TIMEOUT)
    try:
        service_timeout = float(timeout) if timeout is not None else api.SERVICE_TIMEOUT_DEFAULT
    except (TypeError, ValueError):
        service_timeout = api.SERVICE_TIMEOUT_DEFAULT
    return lifecycle.Sent(
        event["RequestType"],
        event["StackId"],
        event["LogicalResourceId"],
        api.response_url_signed_at(event["ResponseURL"]),
        min(service_timeout, api.SERVICE_TIMEOUT_MAX),
    )


def _names(ota_id: str) -> None:
    """Every answer to this request names ``ota_id`` from now on, FAILED ones and crhelper's
    timeout answer included (crhelper keeps PhysicalResourceId when the function raises), so that
    CloudFormation's rollback Delete removes what the request created (or a lost response hid);
    an OTA update this resource did not create is protected by its ownership tags."""
    helper.PhysicalResourceId = ota_id


def _owner(event: Event) -> lifecycle.Owner:
    return lifecycle.Owner(event["StackId"], event["LogicalResourceId"])


def _answer(
    event: Event, budget: lifecycle.Budget, outcome: lifecycle.Outcome, digest: str | None
) -> str:
    """The physical id for crhelper; while the OTA update is still changing, the wait is handed
    over (crhelper then does not answer, unless handing over fails)."""
    helper.Data.update(outcome.data)
    if not outcome.settled:
        helper.hand_over(continuation(event, budget, digest))
    return outcome.physical_id


def continuation(event: Event, budget: lifecycle.Budget, digest: str | None) -> Event:
    """The event for the next invocation: the request's id, ServiceTimeout, teardown flags and
    rollout gate, and the state of the hand-over (the bound on waiting, one more hand-over, the
    request's digest, whether the rollout gate waits)."""
    properties = event["ResourceProperties"]
    state: dict[str, Any] = {GIVE_UP_AT: budget.give_up_at, HANDOVERS: budget.handovers + 1}
    if digest is not None:
        state[DIGEST] = digest
    if budget.gating:
        state[GATING] = True
    return {
        **{k: v for k, v in event.items() if k != "OldResourceProperties"},
        "ResourceProperties": {k: properties[k] for k in HANDED_OVER_PROPERTIES if k in properties},
        HANDOVER: state,
    }


def _handed_over_digest(event: Event) -> str | None:
    digest: str | None = (event.get(HANDOVER) or {}).get(DIGEST)
    return digest


def _no_longer_waited_for(event: Event, budget: lifecycle.Budget) -> bool:
    """Whether CloudFormation no longer waits for this request; if so nothing is answered, and
    a handed-over Create or Update deletes what it created (its new OTA update)."""
    why = lifecycle.unwaited(_cloudformation(), _sent(event), budget)
    if why is None:
        return False
    log.warning(
        "%s %s (request %s): CloudFormation no longer waits for it (%s): not answered",
        event["RequestType"],
        event["LogicalResourceId"],
        event["RequestId"],
        why,
    )
    helper.stay_silent()
    digest = _handed_over_digest(event)
    ota_id = event["ResourceProperties"].get(api.OTA_UPDATE_ID)
    if (
        event["RequestType"] != "Delete"
        and digest is not None
        and isinstance(ota_id, str)
        and ota_id != event.get("PhysicalResourceId")
    ):
        outcome = lifecycle.discard(_iot(), ota_id, digest, _owner(event), budget)
        _answer(event, budget, outcome, digest)
    return True


@helper.create
@_reasoned
def create(event: Event, context: Context) -> str | None:
    budget = _budget(event, context)
    if HANDOVER in event:
        return _settle_creation(event, budget)
    request = lifecycle.Request.of(event["ResourceProperties"])
    _names(request.ota_id)
    if _no_longer_waited_for(event, budget):
        return request.ota_id
    log.info("Create %s: otaUpdateId %s", event["LogicalResourceId"], request.ota_id)
    outcome = lifecycle.create(_iot(), request, _owner(event), budget)
    return _gated(event, budget, outcome, request.digest)


@helper.update
@_reasoned
def update(event: Event, context: Context) -> str | None:
    budget = _budget(event, context)
    if HANDOVER in event:
        return _settle_creation(event, budget)
    new = lifecycle.Request.of(event["ResourceProperties"])
    old = lifecycle.Request.of(event["OldResourceProperties"], check=False)
    _names(new.ota_id)  # a replacement's new id, so that the rollback's cleanup deletes it
    if _no_longer_waited_for(event, budget):
        return new.ota_id
    log.info(
        "Update %s: otaUpdateId %s -> %s",
        event["LogicalResourceId"],
        event["PhysicalResourceId"],
        new.ota_id,
    )
    outcome = lifecycle.update(_iot(), new, old, event["PhysicalResourceId"], _owner(event), budget)
    return _gated(event, budget, outcome, new.digest)


@helper.delete
@_reasoned
def delete(event: Event, context: Context) -> str | None:
    """The first invocation and the handed-over ones alike: deleting again picks up where the
    deletion is."""
    budget = _budget(event, context)
    physical_id: str = event["PhysicalResourceId"]
    if _no_longer_waited_for(event, budget):
        return physical_id
    digest = _handed_over_digest(event) or lifecycle.digest_of(event["ResourceProperties"])
    log.info("Delete %s: otaUpdateId %s", event["LogicalResourceId"], physical_id)
    outcome = lifecycle.delete(
        _iot(), physical_id, event["ResourceProperties"], _owner(event), budget, digest=digest
    )
    return _answer(event, budget, outcome, digest)


def _settle_creation(event: Event, budget: lifecycle.Budget) -> str:
    """A handed-over Create or Update: wait for the creation of its OTA update, or for its
    rollout gate."""
    ota_id = event["ResourceProperties"][api.OTA_UPDATE_ID]
    _names(ota_id)
    if _no_longer_waited_for(event, budget):
        return str(ota_id)
    log.info(
        "%s %s: waiting for otaUpdateId %s (hand-over %d)",
        event["RequestType"],
        event["LogicalResourceId"],
        ota_id,
        budget.handovers,
    )
    if budget.gating:
        outcome = lifecycle.Outcome(ota_id, _owner(event).data(ota_id))
    else:
        outcome = lifecycle.settle_creation(_iot(), ota_id, budget)
    return _gated(event, budget, outcome, _handed_over_digest(event))


def _gated(
    event: Event, budget: lifecycle.Budget, outcome: lifecycle.Outcome, digest: str | None
) -> str:
    """:func:`_answer`; but a request that created its OTA update (a new physical id) with a
    rollout gate waits, once the creation is complete, for the gate (its budget starts then)."""
    gate = lifecycle.rollout_gate(event["ResourceProperties"])
    if (
        gate is None
        or not outcome.settled
        or outcome.physical_id == event.get("PhysicalResourceId")
    ):
        return _answer(event, budget, outcome, digest)
    if not budget.gating:
        log.info("%s: waiting for its rollout gate", outcome.physical_id)
        budget = budget.gate(gate.timeout_seconds)
    sent_at = api.response_url_signed_at(event["ResponseURL"])
    outcome = lifecycle.watch_rollout(_iot(), outcome, gate, budget, sent_at)
    return _answer(event, budget, outcome, digest)


# ---------------------------------------------------------------------------------------------
# Events: checked before crhelper sees them
# ---------------------------------------------------------------------------------------------
REQUIRED_TEXT = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")
REQUEST_TYPES = ("Create", "Update", "Delete")


def refusal(event: Mapping[str, Any], settings: api.Settings) -> str | None:
    """Why the handler must not act on ``event`` (None when it may)."""
    reason = _malformed(event)
    if reason is not None:
        return f"Malformed event: {reason}"
    if event["StackId"] != settings.stack_id:
        return (
            f"Refused: StackId {event['StackId']} is not the stack of this provider "
            f"({settings.stack_id or api.STACK_ID_ENV + ' is not set'}); nothing was done"
        )
    return None


def _malformed(event: Mapping[str, Any]) -> str | None:
    missing = [k for k in REQUIRED_TEXT if not isinstance(event.get(k), str) or not event[k]]
    if not isinstance(event.get("ResourceProperties"), dict):
        missing.append("ResourceProperties")
    if event.get("RequestType") in ("Update", "Delete") and not isinstance(
        event.get("PhysicalResourceId"), str
    ):
        missing.append("PhysicalResourceId")
    if (
        event.get("RequestType") == "Update"
        and HANDOVER not in event
        and not isinstance(event.get("OldResourceProperties"), dict)
    ):
        missing.append("OldResourceProperties")
    if missing:
        return f"{', '.join(missing)} missing or of the wrong type"
    if event["RequestType"] not in REQUEST_TYPES:
        return f"RequestType {event['RequestType']!r} is not one of {', '.join(REQUEST_TYPES)}"
    if urlsplit(event["ResponseURL"]).scheme != "https":
        return "the ResponseURL is not an https URL"
    foreign = [k for k in CRHELPER_EVENT_KEYS if k in event]
    if foreign:
        return f"{', '.join(foreign)} (crhelper's poller state) is not expected"
    if HANDOVER in event and not _valid_handover(event[HANDOVER]):
        return (
            f"{HANDOVER} is not {{{GIVE_UP_AT!r}: epoch seconds, {HANDOVERS!r}: a count, "
            f"{DIGEST!r}: a sha256, {GATING!r}: a boolean}}"
        )
    return None


def _valid_handover(state: Any) -> bool:
    return (
        isinstance(state, dict)
        and isinstance(state.get(GIVE_UP_AT), (int, float))
        and not isinstance(state.get(GIVE_UP_AT), bool)
        and type(state.get(HANDOVERS)) is int
        and state[HANDOVERS] >= 1
        and (DIGEST not in state or _is_digest(state[DIGEST]))
        and type(state.get(GATING, False)) is bool
    )


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch("[0-9a-f]{64}", value) is not None


def _refuse(event: Mapping[str, Any], reason: str, context: Context) -> None:
    """FAILED on the event's own ResponseURL (if it has one), without crhelper's state."""
    log.error("%s", reason)
    url = event.get("ResponseURL")
    if not isinstance(url, str) or urlsplit(url).scheme != "https":
        return
    text = {
        k: v if isinstance(v, str) else ""
        for k, v in ((k, event.get(k)) for k in ("StackId", "RequestId", "LogicalResourceId"))
    }
    physical_id = event.get("PhysicalResourceId")
    body = {
        "Status": "FAILED",
        "Reason": fit(reason),
        **text,
        "Data": {},
        "PhysicalResourceId": physical_id
        if isinstance(physical_id, str) and physical_id
        else f"refused-{text['RequestId'] or 'request'}",
    }
    put_answer(url, body, time.monotonic() + _remaining_seconds(context))


def handler(event: Event, context: Context) -> None:
    """The Lambda entry point."""
    if not isinstance(event, dict):
        log.error("Malformed event: not a JSON object, not answered")
        return
    try:
        settings = api.Settings.from_environment(os.environ)
    except api.SettingsError as error:
        _refuse(event, f"Provider misconfigured: {error}; nothing was done", context)
        return
    reason = refusal(event, settings)
    if reason is not None:
        _refuse(event, reason, context)
        return
    helper.run(event, context, settings)


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------
def _remaining_seconds(context: Context) -> float:
    """The invocation's time left, less a second for the runtime to wrap up."""
    return float(context.get_remaining_time_in_millis()) / 1000 - 1


def put_answer(url: str, body: Mapping[str, Any], deadline: float) -> bool:
    """PUT ``body`` to the ResponseURL ``url``; whether CloudFormation took it.

    Each attempt times out after api.PUT_TIMEOUT s; a 5xx status or a connection error is retried
    with backoff until ``deadline`` (time.monotonic()). The URL is never logged (a credential).
    """
    data = json.dumps(body).encode()
    parts = urlsplit(url)
    path = urlunsplit(("", "", parts.path, parts.query, ""))
    headers = {"content-type": "", "content-length": str(len(data))}
    context = ssl.create_default_context()
    attempt = 0
    while True:
        attempt += 1
        timeout = max(0.1, min(api.PUT_TIMEOUT, deadline - time.monotonic()))
        try:
            connection = HTTPSConnection(parts.netloc, timeout=timeout, context=context)
            try:
                connection.request("PUT", path, body=data, headers=headers)
                status = connection.getresponse().status
            finally:
                connection.close()
        except (OSError, HTTPException) as error:
            problem = f"{type(error).__name__}: {error}"
        else:
            if status < 300:
                log.info(
                    "%s answered %s (HTTP %d, attempt %d)",
                    body.get("LogicalResourceId"),
                    body.get("Status"),
                    status,
                    attempt,
                )
                return True
            if status < 500:
                log.error("The answer was refused: HTTP %d (attempt %d)", status, attempt)
                return False
            problem = f"HTTP {status}"
        delay = random.uniform(0.5, 1) * min(PUT_BACKOFF_MAX, PUT_BACKOFF_BASE * 2 ** (attempt - 1))
        if time.monotonic() + delay >= deadline:
            log.error(
                "The answer was not delivered after %d attempts, the last: %s", attempt, problem
            )
            return False
        log.warning("Answering failed (%s), attempt %d; retry in %.1f s", problem, attempt, delay)
        time.sleep(delay)
