"""The ``Custom::OtaUpdate`` custom resource handler: crhelper over :mod:`lifecycle`.

crhelper answers CloudFormation; the lifecycle waits for the service inside the invocation and
hands over to crhelper's poller (a one-minute EventBridge schedule) only when the invocation's time
runs short. What this module changes in crhelper, and why:

* the poller is set up only on a hand-over (crhelper would set it up for every request once poll
  functions exist), so answers come within seconds of the service, not minutes;
* the poller's rule and permission are named with the provider's prefix (unique to the stack,
  ``api.POLLER_RULE_PREFIX_ENV``) + the LogicalResourceId cut to fit EventBridge's 64 characters
  (crhelper appends 8 random ones), so that long logical ids work and the provider's policy can
  name the rules by prefix;
* the event handed to the poller keeps only what polling needs (EventBridge inputs are at most
  8 KB, and OTA update properties can be larger);
* the poller's lambda and events clients are built when a hand-over needs them, not at import
  (crhelper builds them, and a logs client it never uses, in ``CfnResource.__init__``);
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
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.client import HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import lifecycle
from crhelper import CfnResource

from cdk_ota_update import api

log = logging.getLogger(__name__)

Event = dict[str, Any]
Context = Any
Handler = Callable[[Event, Context], "str | None"]

# Event key, set on hand-over: when waiting fails for good (epoch seconds), across poller calls.
GIVE_UP_AT = "OtaUpdateGiveUpAt"
# crhelper names the poller's rule (and permission) LogicalResourceId + 8 random characters.
REASON_LENGTH = 256  # crhelper keeps only the last 240 characters of a longer Reason
POLLED_PROPERTIES = (api.OTA_UPDATE_ID, *api.TEARDOWN_FLAGS)

# crhelper's hand-over calls (PutRule, AddPermission, PutTargets; the same three to remove the
# poller): each at most AUX_ATTEMPTS * (connect + read) seconds plus a backoff under 1 s.
AUX_CONNECT_TIMEOUT = 3.0
AUX_READ_TIMEOUT = 5.0
AUX_ATTEMPTS = 2
HANDOVER_SECONDS = 3 * (AUX_ATTEMPTS * (AUX_CONNECT_TIMEOUT + AUX_READ_TIMEOUT) + 1)
# The answer's PUT: each attempt at most PUT_TIMEOUT s; 5xx and connection errors are retried
# with backoff (PUT_BACKOFF_BASE * 2**retry, at most PUT_BACKOFF_MAX) while the invocation lasts.
PUT_TIMEOUT = 5.0
PUT_BACKOFF_BASE = 0.5
PUT_BACKOFF_MAX = 4.0
ANSWER_SECONDS = 3 * PUT_TIMEOUT
# What an invocation needs after it stops waiting: the IoT call that may have started just before
# (lifecycle.CALL_SECONDS), the hand-over to the poller and the answer (about 91 s of a 300-s
# function; OTA_HANDOVER_MARGIN_SECONDS overrides it).
MARGIN_SECONDS = lifecycle.CALL_SECONDS + HANDOVER_SECONDS + ANSWER_SECONDS


class OtaUpdateResource(CfnResource):
    """crhelper's CfnResource, polling only after a hand-over, with names fit for EventBridge.

    (The methods overridden here are private to crhelper 2.0.12, absent from its stubs.)
    """

    _event: Event
    _context: Context
    _region: str | None
    _ssl_verify: Any
    _sam_local: str | None

    def __init__(self, **options: Any) -> None:
        # crhelper builds lambda, events and logs clients here (about half of the cold start),
        # though only a hand-over to the poller uses them; it skips them for SAM local
        # invocations, so it is told it is one during __init__, and the clients below are built
        # on first use instead.
        sam_local = os.environ.pop("AWS_SAM_LOCAL", None)
        os.environ["AWS_SAM_LOCAL"] = "true"
        try:
            super().__init__(**options)
        finally:
            os.environ.pop("AWS_SAM_LOCAL")
            if sam_local is not None:
                os.environ["AWS_SAM_LOCAL"] = sam_local
        self._sam_local = sam_local

    @functools.cached_property
    def _lambda_client(self) -> Any:
        return self._client("lambda")

    @functools.cached_property
    def _events_client(self) -> Any:
        return self._client("events")

    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": AUX_ATTEMPTS},
                        connect_timeout=AUX_CONNECT_TIMEOUT, read_timeout=AUX_READ_TIMEOUT)
        return boto3.client(service, region_name=self._region, verify=self._ssl_verify,
                            config=config)

    def _send(self, status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        """crhelper's answer, PUT by :func:`put_answer` (timeout, retries) within the invocation."""
        deadline = time.monotonic() + _remaining_seconds(self._context)

        def send(url: str, body: Mapping[str, Any], _ssl_verify: Any) -> None:
            put_answer(url, body, deadline)

        super()._send(status, reason, send_response=send)  # type: ignore[misc]

    def _poll_enabled(self) -> bool:
        return "CrHelperPoll" in self._event or GIVE_UP_AT in self._event

    def _put_rule(self) -> str:
        with self._short_logical_id():
            arn: str = super()._put_rule()  # type: ignore[misc]
        return arn

    def _add_permission(self, rule_arn: str) -> str:
        with self._short_logical_id():
            sid: str = super()._add_permission(rule_arn)  # type: ignore[misc]
        return sid

    @contextmanager
    def _short_logical_id(self) -> Iterator[None]:
        """crhelper names the rule and permission after the event's LogicalResourceId."""
        logical_id = self._event["LogicalResourceId"]
        prefix = os.environ.get(api.POLLER_RULE_PREFIX_ENV, api.POLLER_RULE_PREFIX)
        short = logical_id[: api.POLLER_RULE_MAX_LENGTH - 8 - len(prefix)]
        self._event["LogicalResourceId"] = prefix + short
        try:
            yield
        finally:
            self._event["LogicalResourceId"] = logical_id


helper = OtaUpdateResource(
    json_logging=False, log_level="INFO", boto_level="ERROR", polling_interval=1,
    sleep_on_delete=0,
)


@functools.cache
def _iot() -> Any:
    import boto3
    from botocore.config import Config

    # One attempt per call: the lifecycle retries with its own bounded backoff.
    config = Config(retries={"mode": "standard", "max_attempts": 1},
                    connect_timeout=lifecycle.CONNECT_TIMEOUT, read_timeout=lifecycle.READ_TIMEOUT)
    return boto3.client("iot", region_name=os.environ.get("AWS_REGION"), config=config)


def _reasoned(func: Handler) -> Handler:
    """Failures become a Reason that fits crhelper's 256 characters, beginning first."""

    @functools.wraps(func)
    def run(event: Event, context: Context) -> str | None:
        try:
            return func(event, context)
        except lifecycle.Failure as failure:
            reason = str(failure)
        except Exception as error:  # a Reason rather than crhelper's bare str(error)
            log.exception("%s failed", event["RequestType"])
            reason = f"{type(error).__name__}: {error}"
        if len(reason) > REASON_LENGTH:
            reason = reason[: REASON_LENGTH - 1] + "…"
        raise RuntimeError(reason)

    return run


def _budget(event: Event, context: Context) -> lifecycle.Budget:
    return lifecycle.Budget.of(context.get_remaining_time_in_millis(), event.get(GIVE_UP_AT),
                               polling="CrHelperPoll" in event, margin=MARGIN_SECONDS)


def _names(ota_id: str) -> None:
    """Every answer to this request names ``ota_id`` from now on, FAILED ones and crhelper's
    timeout answer included (crhelper keeps PhysicalResourceId when the function raises), so that
    CloudFormation's rollback Delete removes what the request created (or a lost response hid);
    an OTA update this resource did not create is protected by its ownership tags."""
    helper.PhysicalResourceId = ota_id


def _owner(event: Event) -> lifecycle.Owner:
    return lifecycle.Owner(event["StackId"], event["LogicalResourceId"])


def _answer(event: Event, budget: lifecycle.Budget, outcome: lifecycle.Outcome) -> str | None:
    """The physical id for crhelper; None (keep polling) while the OTA update is changing."""
    helper.Data.update(outcome.data)
    if outcome.settled:
        return outcome.physical_id
    if "CrHelperPoll" not in event:  # hand over: crhelper puts this event into the poller's rule
        event[GIVE_UP_AT] = budget.give_up_at
        properties = event["ResourceProperties"]
        event["ResourceProperties"] = {k: properties[k] for k in POLLED_PROPERTIES
                                       if k in properties}
        event.pop("OldResourceProperties", None)
        return outcome.physical_id  # crhelper keeps it in Data while polling
    return None


@helper.create
@_reasoned
def create(event: Event, context: Context) -> str | None:
    budget = _budget(event, context)
    request = lifecycle.Request.of(event["ResourceProperties"])
    _names(request.ota_id)
    log.info("Create %s: otaUpdateId %s", event["LogicalResourceId"], request.ota_id)
    return _answer(event, budget, lifecycle.create(_iot(), request, _owner(event), budget))


@helper.update
@_reasoned
def update(event: Event, context: Context) -> str | None:
    budget = _budget(event, context)
    new = lifecycle.Request.of(event["ResourceProperties"])
    old = lifecycle.Request.of(event["OldResourceProperties"], check=False)
    _names(new.ota_id)  # a replacement's new id, so that the rollback's cleanup deletes it
    log.info("Update %s: otaUpdateId %s -> %s", event["LogicalResourceId"],
             event["PhysicalResourceId"], new.ota_id)
    outcome = lifecycle.update(_iot(), new, old, event["PhysicalResourceId"], _owner(event),
                               budget)
    return _answer(event, budget, outcome)


@helper.delete
@helper.poll_delete  # deleting again picks up where the deletion is
@_reasoned
def delete(event: Event, context: Context) -> str | None:
    budget = _budget(event, context)
    log.info("Delete %s: otaUpdateId %s", event["LogicalResourceId"], event["PhysicalResourceId"])
    outcome = lifecycle.delete(_iot(), event["PhysicalResourceId"], event["ResourceProperties"],
                               _owner(event), budget)
    return _answer(event, budget, outcome)


@helper.poll_create
@helper.poll_update
@_reasoned
def poll_creation(event: Event, context: Context) -> str | None:
    budget = _budget(event, context)
    ota_id = event["ResourceProperties"][api.OTA_UPDATE_ID]
    _names(ota_id)
    log.info("%s %s: polling otaUpdateId %s", event["RequestType"], event["LogicalResourceId"],
             ota_id)
    return _answer(event, budget, lifecycle.settle_creation(_iot(), ota_id, budget))


# ---------------------------------------------------------------------------------------------
# Events: checked before crhelper sees them
# ---------------------------------------------------------------------------------------------
REQUIRED_TEXT = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")
REQUEST_TYPES = ("Create", "Update", "Delete")


def refusal(event: Mapping[str, Any]) -> str | None:
    """Why the handler must not act on ``event`` (None when it may)."""
    missing = [k for k in REQUIRED_TEXT if not isinstance(event.get(k), str) or not event[k]]
    if not isinstance(event.get("ResourceProperties"), dict):
        missing.append("ResourceProperties")
    if event.get("RequestType") in ("Update", "Delete") and not isinstance(
        event.get("PhysicalResourceId"), str
    ):
        missing.append("PhysicalResourceId")
    if event.get("RequestType") == "Update" and "CrHelperPoll" not in event and not isinstance(
        event.get("OldResourceProperties"), dict
    ):
        missing.append("OldResourceProperties")
    if missing:
        return f"Malformed event: {', '.join(missing)} missing or of the wrong type"
    if event["RequestType"] not in REQUEST_TYPES:
        return (f"Malformed event: RequestType {event['RequestType']!r} is not one of "
                f"{', '.join(REQUEST_TYPES)}")
    if urlsplit(event["ResponseURL"]).scheme != "https":
        return "Malformed event: the ResponseURL is not an https URL"
    own_stack = os.environ.get(api.STACK_ID_ENV)
    if event["StackId"] != own_stack:
        return (f"Refused: StackId {event['StackId']} is not the stack of this provider "
                f"({own_stack or api.STACK_ID_ENV + ' is not set'}); nothing was done")
    return None


def _refuse(event: Mapping[str, Any], reason: str, context: Context) -> None:
    """FAILED on the event's own ResponseURL (if it has one), without crhelper's state."""
    log.error("%s", reason)
    url = event.get("ResponseURL")
    if not isinstance(url, str) or urlsplit(url).scheme != "https":
        return
    text = {k: v if isinstance(v, str) else "" for k, v in (
        (k, event.get(k)) for k in ("StackId", "RequestId", "LogicalResourceId"))}
    physical_id = event.get("PhysicalResourceId")
    body = {
        "Status": "FAILED", "Reason": reason[:REASON_LENGTH], **text, "Data": {},
        "PhysicalResourceId": physical_id if isinstance(physical_id, str) and physical_id
        else f"refused-{text['RequestId'] or 'request'}",
    }
    put_answer(url, body, time.monotonic() + _remaining_seconds(context))


def handler(event: Event, context: Context) -> None:
    """The Lambda entry point."""
    if not isinstance(event, dict):
        log.error("Malformed event: not a JSON object, not answered")
        return
    reason = refusal(event)
    if reason is not None:
        _refuse(event, reason, context)
        return
    helper(event, context)


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------
def _remaining_seconds(context: Context) -> float:
    """The invocation's time left, less a second for the runtime to wrap up."""
    return float(context.get_remaining_time_in_millis()) / 1000 - 1


def put_answer(url: str, body: Mapping[str, Any], deadline: float) -> bool:
    """PUT ``body`` to the ResponseURL ``url``; whether CloudFormation took it.

    Each attempt times out after PUT_TIMEOUT s; a 5xx status or a connection error is retried with
    backoff until ``deadline`` (time.monotonic()). The URL is never logged (it is a credential).
    """
    data = json.dumps(body).encode()
    parts = urlsplit(url)
    path = urlunsplit(("", "", parts.path, parts.query, ""))
    headers = {"content-type": "", "content-length": str(len(data))}
    context = ssl.create_default_context()
    attempt = 0
    while True:
        attempt += 1
        timeout = max(0.1, min(PUT_TIMEOUT, deadline - time.monotonic()))
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
                log.info("%s answered %s (HTTP %d, attempt %d)", body.get("LogicalResourceId"),
                         body.get("Status"), status, attempt)
                return True
            if status < 500:
                log.error("The answer was refused: HTTP %d (attempt %d)", status, attempt)
                return False
            problem = f"HTTP {status}"
        delay = random.uniform(0.5, 1) * min(PUT_BACKOFF_MAX, PUT_BACKOFF_BASE * 2 ** (attempt - 1))
        if time.monotonic() + delay >= deadline:
            log.error("The answer was not delivered after %d attempts, the last: %s", attempt,
                      problem)
            return False
        log.warning("Answering failed (%s), attempt %d; retry in %.1f s", problem, attempt, delay)
        time.sleep(delay)
