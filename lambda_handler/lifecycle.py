"""The OTA update lifecycle behind ``Custom::OtaUpdate``: plain functions over a boto3 IoT client.

Each CloudFormation request becomes an :class:`Outcome` (the physical id, the data, whether the OTA
update has settled) or a :class:`Failure` whose text is the Reason CloudFormation shows. Nothing
here knows crhelper: ``index.py`` adapts these functions to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from cdk_ota_update import api

log = logging.getLogger(__name__)

Client = Any  # boto3's IoT client
Info = dict[str, Any]  # GetOTAUpdate's otaUpdateInfo
T = TypeVar("T")

TRANSIENT_ERRORS = frozenset(
    {"ThrottlingException", "InternalFailureException", "ServiceUnavailableException"}
)
CREATING = frozenset({"CREATE_PENDING", "CREATE_IN_PROGRESS"})
CREATE_COMPLETE = "CREATE_COMPLETE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_FAILED = "DELETE_FAILED"
# A failed creation is deleted with everything the service made for it.
DISCARD_FLAGS = {api.DELETE_STREAM: True, api.FORCE_DELETE_AWS_JOB: True}

# Polling GetOTAUpdate: every 1/20 of the time waited so far, between these bounds (seconds), so
# that the answer follows the service within a few percent of its own duration, and never more
# than about 2 s after it, while a long wait costs fewer calls ...
POLL_FRACTION = 0.05
POLL_MIN = 0.5
POLL_MAX = 2.0
# ... but never faster than a fair share of POLL_BUDGET_TPS among all the OTA updates of the
# account that are changing (each has a handler waiting for it), counted with ListOTAUpdates every
# RECOUNT_SECONDS: GetOTAUpdate's quota is 10 TPS per account (L-74CF42C0), half of it is left to
# everything else. Throttling while waiting doubles the interval (up to SLOWDOWN_MAX times).
POLL_BUDGET_TPS = 5.0
RECOUNT_SECONDS = 30.0
CHANGING = ("CREATE_PENDING", "CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
SLOWDOWN_MAX = 8.0
# Backoff of retried calls: full jitter over BACKOFF_BASE * 2**attempt, at most BACKOFF_MAX.
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0
# One IoT call (one attempt: the lifecycle retries) takes at most CONNECT + READ seconds; no call
# starts once the invocation's ``stop_at`` has passed, so it overruns ``stop_at`` by at most that.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
CALL_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT


class Failure(Exception):
    """The resource fails; the text is the Reason shown in the deployment (essential part first)."""


class GaveUp(Failure):
    """Waiting for a status went past its bound."""


class Gone(Failure):
    """The OTA update disappeared between two calls (a deletion finished meanwhile)."""


class Unsettled(Exception):
    """The OTA update is still changing when this invocation has to stop waiting."""


@dataclass(frozen=True)
class Budget:
    """When this invocation stops waiting (to answer, or to hand the wait over to the next
    invocation; epoch seconds), when waiting for a status fails for good over all invocations of
    the request, how many invocations handed over before this one, and the provider's settings."""

    stop_at: float
    give_up_at: float
    settings: api.Settings
    handovers: int

    @classmethod
    def of(
        cls,
        remaining_ms: int,
        settings: api.Settings,
        *,
        margin: float,
        give_up_at: float | None = None,
        handovers: int = 0,
    ) -> Budget:
        """``margin``: the seconds the invocation needs after ``stop_at`` (the call that may run
        past it, the hand-over, the answer), unless the settings say otherwise; ``give_up_at``
        and ``handovers``: from the invocation that handed over (None, 0 for the first)."""
        now = time.time()
        if settings.handover_margin_seconds is not None:
            margin = settings.handover_margin_seconds
        if give_up_at is None:
            give_up_at = now + settings.max_wait_seconds
        return cls(now + remaining_ms / 1000 - margin, give_up_at, settings, handovers)

    @property
    def last(self) -> bool:
        """Whether this invocation may not hand over: waiting past ``stop_at`` gives up."""
        return self.handovers >= self.settings.max_handovers


@dataclass(frozen=True)
class Outcome:
    """The answer to a request: ``settled`` is False while the OTA update is still changing."""

    physical_id: str
    data: Mapping[str, str] = field(default_factory=dict)
    settled: bool = True


@dataclass(frozen=True)
class Owner:
    """The resource a request is for: ownership of an OTA update is told by its tags."""

    stack_id: str
    logical_id: str

    def tags(self, digest: str) -> list[dict[str, str]]:
        values = {
            api.OWNER_STACK_TAG: self.stack_id,
            api.OWNER_LOGICAL_ID_TAG: self.logical_id,
            api.REQUEST_HASH_TAG: digest,
        }
        return [{api.TAG_KEY: k, api.TAG_VALUE: v} for k, v in values.items()]

    def owns(self, tags: Mapping[str, str], digest: str | None = None) -> bool:
        """Whether ``tags`` name this resource (and, given ``digest``, this very request)."""
        return (
            tags.get(api.OWNER_STACK_TAG) == self.stack_id
            and tags.get(api.OWNER_LOGICAL_ID_TAG) == self.logical_id
            and (digest is None or tags.get(api.REQUEST_HASH_TAG) == digest)
        )

    def data(self, ota_id: str) -> dict[str, str]:
        """The data of a complete OTA update of this stack, computed without a call."""
        _, partition, _, region, account, *_ = self.stack_id.split(":")
        return {
            api.ATTR_OTA_UPDATE_ID: ota_id,
            api.ATTR_OTA_UPDATE_ARN: api.iot_arn(
                partition, region, account, api.ota_update_resource(ota_id)
            ),
            api.ATTR_AWS_IOT_JOB_ID: api.job_id(ota_id),
            api.ATTR_AWS_IOT_JOB_ARN: api.iot_arn(
                partition, region, account, api.job_resource(ota_id)
            ),
            api.ATTR_OTA_UPDATE_STATUS: CREATE_COMPLETE,
        }


@dataclass(frozen=True)
class Request:
    """A CreateOTAUpdate request restored from CloudFormation's properties (API types)."""

    body: dict[str, Any]

    @classmethod
    def of(cls, properties: Mapping[str, Any], *, check: bool = True) -> Request:
        """The request in ``properties``; with ``check``, :class:`Failure` names each bad field."""
        ignored = (api.SERVICE_TOKEN, api.SERVICE_TIMEOUT, *api.TEARDOWN_FLAGS)
        raw = {k: v for k, v in properties.items() if k not in ignored}
        body: dict[str, Any] = api.from_cloudformation(raw, api.create_request_shape())
        if check:
            _raise_violations(api.validate(body, rules=api.RESOURCE_RULES))
            teardown_flags(properties)
        return cls(body)

    @property
    def ota_id(self) -> str:
        ota_id: str = self.body[api.OTA_UPDATE_ID]
        return ota_id

    @property
    def digest(self) -> str:
        """sha256 of the canonical request without its tags: requests that differ only in their
        tags (which change in place) have equal digests."""
        untagged = {k: v for k, v in self.body.items() if k != api.TAGS}
        text = json.dumps(api.to_cloudformation(untagged), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def user_tags(self) -> dict[str, str]:
        """The request's tags as a mapping (the ownership tags are never the user's)."""
        return _user_tags(
            {t[api.TAG_KEY]: t.get(api.TAG_VALUE, "") for t in self.body.get(api.TAGS, [])}
        )


def teardown_flags(properties: Mapping[str, Any]) -> dict[str, bool]:
    """DeleteOTAUpdate's flags given in ``properties``, as booleans (:class:`Failure` if not)."""
    shape = api.operation_input("DeleteOTAUpdate")
    given = {k: properties[k] for k in api.TEARDOWN_FLAGS if k in properties}
    flags: dict[str, bool] = api.from_cloudformation(given, shape)
    _raise_violations([v for v in api.validate(flags, shape=shape) if v.path != api.OTA_UPDATE_ID])
    return flags


def _raise_violations(violations: list[api.Violation]) -> None:
    if violations:
        raise Failure("Invalid properties: " + "; ".join(str(v) for v in violations))


# ---------------------------------------------------------------------------------------------
# The lifecycle
# ---------------------------------------------------------------------------------------------
def create(client: Client, request: Request, owner: Owner, budget: Budget) -> Outcome:
    """Create the OTA update (or find the one a repeated delivery already made) and wait for it."""
    ota_id = request.ota_id
    tags = [*request.body.get(api.TAGS, []), *owner.tags(request.digest)]
    try:
        response = _retrying(
            "CreateOTAUpdate",
            ota_id,
            budget,
            lambda: client.create_ota_update(**{**request.body, api.TAGS: tags}),
        )
        log.info("%s: CreateOTAUpdate accepted, %s", ota_id, response.get("otaUpdateStatus"))
    except ClientError as error:
        if _code(error) != "ResourceAlreadyExistsException":
            raise Failure(_rejected("CreateOTAUpdate", ota_id, error)) from error
        _claim(client, request, owner, budget)
    return settle_creation(client, ota_id, budget)


def update(
    client: Client, new: Request, old: Request, physical_id: str, owner: Owner, budget: Budget
) -> Outcome:
    """A changed request replaces the OTA update; changed tags alone are changed in place (as
    is a rollback to the request the OTA update was made from); teardown flags change nothing."""
    if new.body == old.body:
        log.info("%s: only the teardown flags changed, nothing to call", physical_id)
        return Outcome(physical_id, owner.data(physical_id))
    if new.ota_id != physical_id:
        log.info("%s: request changed, replacing it with %s", physical_id, new.ota_id)
        return create(client, new, owner, budget)
    info, tags = _owned(client, physical_id, owner, budget)
    if info["otaUpdateStatus"] != CREATE_COMPLETE or not owner.owns(tags, new.digest):
        raise Failure(_unchanged_id(physical_id, new, old))
    _retag(client, info, tags, new.user_tags, budget)
    return Outcome(physical_id, _data(info))


def _unchanged_id(physical_id: str, new: Request, old: Request) -> str:
    changed = sorted(
        k
        for k in (new.body.keys() | old.body.keys()) - {api.TAGS}
        if new.body.get(k) != old.body.get(k)
    )
    reason = (
        f"otaUpdateId {physical_id} is unchanged but the request changed ({', '.join(changed)}): "
        "OTA updates are immutable, so give the OtaUpdate a new otaUpdateId (or omit it to have "
        "one derived)"
    )
    if api.ROLE_ARN in changed:
        reason += (
            "; a role that CloudFormation replaced (a new name or path) leaves a derived id as it "
            "was: change the OtaUpdate's description with it"
        )
    return reason


def delete(
    client: Client, physical_id: str, properties: Mapping[str, Any], owner: Owner, budget: Budget
) -> Outcome:
    """Delete the OTA update if this resource made it, and wait until it is gone.

    Safe to call again for the same request (a hand-over does): it picks up where things are.
    """
    if api.validate({api.OTA_UPDATE_ID: physical_id}, shape=api.operation_input("DeleteOTAUpdate")):
        log.info(
            "%s: not an OTA update id (no OTA update was created), nothing to delete", physical_id
        )
        return Outcome(physical_id)
    info = _fetch_retrying(client, physical_id, budget)
    if info is None:
        log.info("%s: does not exist, nothing to delete", physical_id)
        return Outcome(physical_id)
    try:
        tags = _tags(client, info, budget)
    except Gone:
        log.info("%s: gone meanwhile, nothing to delete", physical_id)
        return Outcome(physical_id)
    if not owner.owns(tags):
        log.info("%s: not created by this resource, left untouched", physical_id)
        return Outcome(physical_id)
    if info["otaUpdateStatus"] in CREATING:  # the service deletes only settled OTA updates
        try:
            info = wait(client, physical_id, _created, budget)
        except Unsettled:
            return Outcome(physical_id, settled=False)
    if info and info["otaUpdateStatus"] != DELETE_IN_PROGRESS:
        _start_deletion(client, physical_id, teardown_flags(properties), budget)
    return settle_deletion(client, physical_id, budget)


def settle_creation(client: Client, ota_id: str, budget: Budget) -> Outcome:
    """Wait for the creation to end; a failed one is deleted and fails the resource.

    Past the bound on waiting, the OTA update is still being created, which the service does not
    let anyone delete: the failure names it (the handler answers with its id), and CloudFormation's
    rollback Delete waits until it settles and deletes it.
    """
    try:
        info = wait(client, ota_id, _created, budget)
    except Unsettled:
        return Outcome(ota_id, settled=False)
    except GaveUp as error:
        raise Failure(f"{error}; CloudFormation's rollback deletes it once it settles") from error
    if info is None:
        raise Failure(f"OTA update {ota_id} disappeared while it was being created")
    if info["otaUpdateStatus"] != CREATE_COMPLETE:
        reason = _error_message(info)
        raise Failure(f"{reason}; {_discard(client, ota_id, budget)}")
    return Outcome(ota_id, _data(info))


def settle_deletion(client: Client, ota_id: str, budget: Budget) -> Outcome:
    """Wait until the OTA update is gone; DELETE_FAILED fails the resource."""
    try:
        info = wait(client, ota_id, _deleted, budget)
    except Unsettled:
        return Outcome(ota_id, settled=False)
    if info is not None:
        raise Failure(_error_message(info))
    return Outcome(ota_id)


def _created(info: Info | None) -> bool:
    return info is None or info["otaUpdateStatus"] not in CREATING


def _deleted(info: Info | None) -> bool:
    return info is None or info["otaUpdateStatus"] == DELETE_FAILED


def _claim(client: Client, request: Request, owner: Owner, budget: Budget) -> None:
    """Accept an existing OTA update only if this resource made it from this very request."""
    ota_id = request.ota_id
    info = _fetch_retrying(client, ota_id, budget)
    tags = _tags(client, info, budget) if info else {}
    if not (info and owner.owns(tags, request.digest)):
        raise Failure(
            f"ResourceAlreadyExists: otaUpdateId {ota_id} is taken by an OTA update that this "
            "resource did not create from this request; it is left untouched: choose another "
            "otaUpdateId"
        )
    log.info(
        "%s: already created by this resource (repeated delivery), %s",
        ota_id,
        info["otaUpdateStatus"],
    )
    _retag(client, info, tags, request.user_tags, budget)


def _owned(
    client: Client, ota_id: str, owner: Owner, budget: Budget
) -> tuple[Info, dict[str, str]]:
    """The OTA update this resource made under ``ota_id`` and its tags; :class:`Failure` when it
    is gone or someone else's (which is left untouched)."""
    info = _fetch_retrying(client, ota_id, budget)
    if info is None:
        raise Failure(
            f"OTA update {ota_id} does not exist (deleted outside CloudFormation?): give the "
            "OtaUpdate a new otaUpdateId to have it created again"
        )
    tags = _tags(client, info, budget)
    if not owner.owns(tags):
        raise Failure(
            f"OTA update {ota_id} was not created by this resource ({owner.logical_id} of stack "
            f"{owner.stack_id}): it is left untouched, its tags too"
        )
    return info, tags


def _retag(
    client: Client,
    info: Info,
    tags: Mapping[str, str],
    wanted: Mapping[str, str],
    budget: Budget,
) -> None:
    """Give an OTA update of this resource the user tags ``wanted`` (TagResource for added or
    changed keys, UntagResource for removed ones); its ownership tags stay as they are."""
    ota_id, arn = info["otaUpdateId"], info["otaUpdateArn"]
    have = _user_tags(tags)
    put = [{api.TAG_KEY: k, api.TAG_VALUE: v} for k, v in wanted.items() if have.get(k) != v]
    drop = [k for k in have if k not in wanted]
    calls: list[tuple[str, Callable[[], Any]]] = []
    if put:
        calls.append(("TagResource", partial(client.tag_resource, resourceArn=arn, tags=put)))
    if drop:
        calls.append(
            ("UntagResource", partial(client.untag_resource, resourceArn=arn, tagKeys=drop))
        )
    if not calls:
        return
    # Tagging first leaves the tags as they were when it is refused, unless the removed keys
    # must go first for the tags to stay within the service's limit.
    if len(tags) + len(wanted.keys() - tags.keys()) > api.MAX_TAGS_PER_RESOURCE:
        calls.reverse()
    for operation, call in calls:
        try:
            _retrying(operation, ota_id, budget, call)
        except ClientError as error:
            raise Failure(_rejected(operation, ota_id, error)) from error
    log.info(
        "%s: tags changed in place, set: %s; removed: %s",
        ota_id,
        ", ".join(t[api.TAG_KEY] for t in put) or "none",
        ", ".join(drop) or "none",
    )


def _user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k not in api.OWNER_TAGS}


def _start_deletion(client: Client, ota_id: str, flags: Mapping[str, bool], budget: Budget) -> None:
    try:
        _retrying(
            "DeleteOTAUpdate",
            ota_id,
            budget,
            lambda: client.delete_ota_update(otaUpdateId=ota_id, **flags),
        )
    except ClientError as error:
        if _code(error) != "ResourceNotFoundException":
            raise Failure(_rejected("DeleteOTAUpdate", ota_id, error)) from error
    log.info(
        "%s: DeleteOTAUpdate accepted (%s)",
        ota_id,
        ", ".join(f"{k}={v}" for k, v in flags.items()) or "default flags",
    )


def _discard(client: Client, ota_id: str, budget: Budget) -> str:
    """Delete a failed creation of this resource; says how that went, for the Reason."""
    try:
        _start_deletion(client, ota_id, DISCARD_FLAGS, budget)
        settle_deletion(client, ota_id, budget)
    except Failure as failure:
        log.error("%s: deleting the failed OTA update failed: %s", ota_id, failure)
        return f"deleting it failed: {failure}"
    return f"OTA update {ota_id} was deleted"


# ---------------------------------------------------------------------------------------------
# Waiting and calling
# ---------------------------------------------------------------------------------------------
def wait(
    client: Client, ota_id: str, settled: Callable[[Info | None], bool], budget: Budget
) -> Info | None:
    """Poll GetOTAUpdate until ``settled(info)`` (info is None once the OTA update is gone).

    Raises :class:`Unsettled` when the invocation's budget runs out first, :class:`GaveUp` past
    the bound on waiting, :class:`Failure` when the service keeps failing.
    """
    pace = _Pace(client, budget, time.time())
    failing_since: float | None = None
    status = "unknown"
    while True:
        try:
            info = fetch(client, ota_id)
        except (ClientError, ConnectionError, HTTPClientError) as error:
            if not _transient(error):
                raise Failure(_rejected("GetOTAUpdate", ota_id, error)) from error
            if failing_since is None:
                failing_since = time.time()
            if time.time() - failing_since > budget.settings.retry_seconds:
                raise Failure(
                    _kept_failing("GetOTAUpdate", ota_id, error, failing_since)
                ) from error
            pace.slowdown = min(2 * pace.slowdown, SLOWDOWN_MAX)
        else:
            failing_since = None
            status = info["otaUpdateStatus"] if info else "gone"
            if settled(info):
                log.info("%s: %s after %.1f s", ota_id, status, time.time() - pace.started)
                return info
        now = time.time()
        if now >= budget.give_up_at:
            raise GaveUp(
                f"OTA update {ota_id} is still {status}: gave up waiting "
                f"({api.MAX_WAIT_ENV}={budget.settings.max_wait_seconds:.0f})"
            )
        delay = pace.delay(now)
        if now + delay >= budget.stop_at:
            if budget.last:
                raise GaveUp(
                    f"OTA update {ota_id} is still {status}: gave up waiting after "
                    f"{budget.handovers} hand-overs ({api.MAX_HANDOVERS_ENV}="
                    f"{budget.settings.max_handovers})"
                )
            log.info(
                "%s: still %s after %.1f s, handing over to the next invocation",
                ota_id,
                status,
                now - pace.started,
            )
            raise Unsettled(status)
        time.sleep(delay)


@dataclass
class _Pace:
    """The interval between two polls (see POLL_FRACTION and POLL_BUDGET_TPS)."""

    client: Client
    budget: Budget
    started: float
    slowdown: float = 1.0
    changing: int = 0  # OTA updates of the account being created or deleted, when last counted
    counted_at: float = -math.inf

    def delay(self, now: float) -> float:
        # The recount's calls all start before stop_at (else the last count stays, as it does
        # when the recount fails).
        recount_fits = now + (len(CHANGING) - 1) * CALL_SECONDS < self.budget.stop_at
        if now - self.counted_at > RECOUNT_SECONDS and recount_fits:
            self.changing, self.counted_at = _count_changing(self.client, self.changing), now
        own = max(POLL_MIN, min(POLL_FRACTION * (now - self.started), POLL_MAX))
        fair_share = self.changing / POLL_BUDGET_TPS
        return max(own, fair_share) * self.slowdown * random.uniform(0.8, 1.2)


def _count_changing(client: Client, last: int) -> int:
    """How many OTA updates of the account are being created or deleted (ListOTAUpdates); the
    ``last`` count when ListOTAUpdates fails (it is throttled too when IoT is busy)."""
    try:
        return sum(
            len(client.list_ota_updates(otaUpdateStatus=status, maxResults=250)["otaUpdates"])
            for status in CHANGING
        )
    except (ClientError, ConnectionError, HTTPClientError) as error:
        log.warning("ListOTAUpdates failed (%s): pacing by the last count", _describe(error))
        return last


def fetch(client: Client, ota_id: str) -> Info | None:
    """GetOTAUpdate's otaUpdateInfo, or None when there is no such OTA update (one attempt)."""
    try:
        info: Info = client.get_ota_update(otaUpdateId=ota_id)["otaUpdateInfo"]
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return None
        raise
    return info


def _fetch_retrying(client: Client, ota_id: str, budget: Budget) -> Info | None:
    try:
        return _retrying("GetOTAUpdate", ota_id, budget, lambda: fetch(client, ota_id))
    except ClientError as error:
        raise Failure(_rejected("GetOTAUpdate", ota_id, error)) from error


def _tags(client: Client, info: Info, budget: Budget) -> dict[str, str]:
    """The tags of an OTA update (ListTagsForResource, all pages)."""
    ota_id, arn = info["otaUpdateId"], info["otaUpdateArn"]
    tags: dict[str, str] = {}
    token: dict[str, str] = {}
    while True:
        try:
            page = _retrying(
                "ListTagsForResource",
                ota_id,
                budget,
                partial(client.list_tags_for_resource, resourceArn=arn, **token),
            )
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                raise Gone(_rejected("ListTagsForResource", ota_id, error)) from error
            raise Failure(_rejected("ListTagsForResource", ota_id, error)) from error
        tags.update({t[api.TAG_KEY]: t.get(api.TAG_VALUE, "") for t in page.get("tags", [])})
        if not page.get("nextToken"):
            return tags
        token = {"nextToken": page["nextToken"]}


def _retrying(operation: str, ota_id: str, budget: Budget, call: Callable[[], T]) -> T:
    """``call()``, retrying transient errors with exponential backoff and full jitter."""
    started = time.time()
    give_up_at = min(started + budget.settings.retry_seconds, budget.stop_at)
    attempt = 0
    while True:
        try:
            return call()
        except (ClientError, ConnectionError, HTTPClientError) as error:
            if not _transient(error):
                raise
            delay = random.uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt))
            attempt += 1
            if time.time() + delay > give_up_at:
                raise Failure(_kept_failing(operation, ota_id, error, started)) from error
            log.warning(
                "%s: %s failed (%s), retry %d in %.1f s",
                ota_id,
                operation,
                _describe(error),
                attempt,
                delay,
            )
            time.sleep(delay)


def _transient(error: Exception) -> bool:
    return not isinstance(error, ClientError) or _code(error) in TRANSIENT_ERRORS


def _code(error: ClientError) -> str:
    code: str = error.response.get("Error", {}).get("Code", "")
    return code


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
    return str(error)


def _rejected(operation: str, ota_id: str, error: Exception) -> str:
    return f"{_describe(error)} ({operation} of OTA update {ota_id})"


def _kept_failing(operation: str, ota_id: str, error: Exception, since: float) -> str:
    return (
        f"{_describe(error)} ({operation} of OTA update {ota_id} still failing after "
        f"{time.time() - since:.0f} s of retries; retry the deployment later)"
    )


def _error_message(info: Info) -> str:
    """The service's errorInfo first, then what it is about."""
    error = info.get("errorInfo") or {}
    message = error.get("message") or "no error message from the service"
    code = f" {error['code']}" if error.get("code") else ""
    return f"{message} (OTA update {info['otaUpdateId']} is {info['otaUpdateStatus']}{code})"


def _data(info: Info) -> dict[str, str]:
    return {
        api.ATTR_OTA_UPDATE_ID: info["otaUpdateId"],
        api.ATTR_OTA_UPDATE_ARN: info["otaUpdateArn"],
        api.ATTR_AWS_IOT_JOB_ID: info.get("awsIotJobId", ""),
        api.ATTR_AWS_IOT_JOB_ARN: info.get("awsIotJobArn", ""),
        api.ATTR_OTA_UPDATE_STATUS: info["otaUpdateStatus"],
    }
