"""The ``Custom::OtaUpdate`` custom resource handler: crhelper over :mod:`lifecycle`.

crhelper answers CloudFormation; the lifecycle waits for the service inside the invocation and
hands over to crhelper's poller (a one-minute EventBridge schedule) only when the invocation's time
runs short. What this module changes in crhelper, and why:

* the poller is set up only on a hand-over (crhelper would set it up for every request once poll
  functions exist), so answers come within seconds of the service, not minutes;
* the poller's rule and permission are named ``api.POLLER_RULE_PREFIX`` + the LogicalResourceId
  cut to fit EventBridge's 64 characters (crhelper appends 8 random ones), so that long logical
  ids work and the provider's policy can name the rules by prefix;
* the event handed to the poller keeps only what polling needs (EventBridge inputs are at most
  8 KB, and OTA update properties can be larger);
* the poller's lambda and events clients are built when a hand-over needs them, not at import
  (crhelper builds them, and a logs client it never uses, in ``CfnResource.__init__``);
* Reasons are cut to crhelper's 256 characters here, keeping their beginning (crhelper keeps the
  end); the log level stays INFO (at DEBUG crhelper logs the ResponseURL) and there is no sleep on
  Delete.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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
POLLER_NAME_LENGTH = api.POLLER_RULE_MAX_LENGTH - 8 - len(api.POLLER_RULE_PREFIX)
REASON_LENGTH = 256  # crhelper keeps only the last 240 characters of a longer Reason
POLLED_PROPERTIES = (api.OTA_UPDATE_ID, *api.TEARDOWN_FLAGS)


class OtaUpdateResource(CfnResource):
    """crhelper's CfnResource, polling only after a hand-over, with names fit for EventBridge.

    (The methods overridden here are private to crhelper 2.0.12, absent from its stubs.)
    """

    _event: Event
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

        return boto3.client(service, region_name=self._region, verify=self._ssl_verify)

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
        self._event["LogicalResourceId"] = api.POLLER_RULE_PREFIX + logical_id[:POLLER_NAME_LENGTH]
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
    config = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5,
                    read_timeout=20)
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
                               polling="CrHelperPoll" in event)


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
    log.info("Create %s: otaUpdateId %s", event["LogicalResourceId"], request.ota_id)
    return _answer(event, budget, lifecycle.create(_iot(), request, _owner(event), budget))


@helper.update
@_reasoned
def update(event: Event, context: Context) -> str | None:
    budget = _budget(event, context)
    new = lifecycle.Request.of(event["ResourceProperties"])
    old = lifecycle.Request.of(event["OldResourceProperties"], check=False)
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
    log.info("%s %s: polling otaUpdateId %s", event["RequestType"], event["LogicalResourceId"],
             ota_id)
    return _answer(event, budget, lifecycle.settle_creation(_iot(), ota_id, budget))


def handler(event: Event, context: Context) -> None:
    """The Lambda entry point."""
    helper(event, context)
