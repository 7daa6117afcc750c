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
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from cdk_ota_update import api, rollout

log = logging.getLogger(__name__)

Client = Any  # boto3's IoT client
Info = dict[str, Any]  # GetOTAUpdate's otaUpdateInfo
T = TypeVar("T")

TRANSIENT_ERRORS = frozenset(
    {
        "ThrottlingException",
        "InternalFailureException",
        "ServiceUnavailableException",
        "Throttling",  # CloudFormation's
    }
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
# A rollout gate reads its job (DescribeJob) every GATE_POLL_SECONDS (times the slowdown while
# throttled): 2 calls a minute per gated OTA update, where DescribeJob's quota is 10 a second per
# account (docs/benchmarks.md, "The rollout gate's calls"). A failed gate cancels the job.
GATE_POLL_SECONDS = 30.0
GATE_CANCEL_REASON = "ROLLOUT_GATE_FAILED"
# Backoff of retried calls: full jitter over BACKOFF_BASE * 2**attempt, at most BACKOFF_MAX.
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0
# A deletion the service ended DELETE_FAILED for one of these (errorInfo's code) is started again.
TRANSIENT_DELETE_FAILURES = TRANSIENT_ERRORS | {
    "InternalFailure",
    "InternalError",
    "InternalServerException",
    "ServiceUnavailable",
}


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
    invocation; on the monotonic clock, which no clock step moves), when waiting for a status
    fails for good over all invocations of the request (epoch seconds: the one bound that
    crosses invocations), how many invocations handed over before this one, and the settings."""

    stop_at: float
    give_up_at: float
    settings: api.Settings
    handovers: int
    gating: bool = False  # the wait is a rollout gate's (give_up_at: its timeout)

    @classmethod
    def of(
        cls,
        remaining_ms: int,
        settings: api.Settings,
        *,
        give_up_at: float | None = None,
        sent_at: float | None = None,
        handovers: int = 0,
        gating: bool = False,
    ) -> Budget:
        """``remaining_ms``: the invocation's time left; it stops waiting the hand-over margin
        before its end. ``give_up_at`` and ``handovers``: from the invocation that handed over
        (None, 0 for the first, whose bound counts from ``sent_at``, when CloudFormation sent the
        request, if known and not in the future, else from now)."""
        margin = settings.handover_margin_seconds
        if margin is None:
            margin = api.HANDOVER_MARGIN_SECONDS
        if give_up_at is None:
            now = time.time()
            started = now if sent_at is None else min(sent_at, now)
            give_up_at = started + settings.max_wait_seconds
        stop_at = time.monotonic() + remaining_ms / 1000 - margin
        return cls(stop_at, give_up_at, settings, handovers, gating)

    def gate(self, timeout_seconds: float) -> Budget:
        """This invocation's budget for a rollout gate that starts now: its wait fails for good
        after ``timeout_seconds``, and may hand over as many times as the creation's."""
        return replace(self, give_up_at=time.time() + timeout_seconds, handovers=0, gating=True)

    @property
    def last(self) -> bool:
        """Whether this invocation may not hand over: waiting past ``stop_at`` gives up."""
        return self.handovers >= self.settings.max_handovers

    def left(self) -> float:
        """Seconds until this invocation stops waiting."""
        return self.stop_at - time.monotonic()


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
        ignored = (api.SERVICE_TOKEN, api.SERVICE_TIMEOUT, *api.BESIDE_REQUEST)
        raw = {k: v for k, v in properties.items() if k not in ignored}
        body: dict[str, Any] = api.from_cloudformation(raw, api.create_request_shape())
        if check:
            _raise_violations(api.validate(body, rules=api.RESOURCE_RULES))
            teardown_flags(properties)
            rollout_gate(properties)
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


@dataclass(frozen=True)
class RolloutGate:
    """The rollout gate given in a resource's properties: what it judges, and for how long it
    waits after CREATE_COMPLETE."""

    judge: rollout.Gate
    timeout_seconds: int


def rollout_gate(properties: Mapping[str, Any]) -> RolloutGate | None:
    """The rollout gate in ``properties`` (None without one); :class:`Failure` names each bad
    member."""
    if api.ROLLOUT_GATE not in properties:
        return None
    shape = api.rollout_gate_shape()
    given = api.from_cloudformation({api.ROLLOUT_GATE: properties[api.ROLLOUT_GATE]}, shape)
    _raise_violations(api.validate(given, shape=shape, rules=api.GATE_RULES))
    gate = given[api.ROLLOUT_GATE]
    judge = rollout.Gate.of(
        min_succeeded_percentage=gate.get(api.GATE_MIN_SUCCEEDED_PERCENTAGE),
        max_failed_percentage=gate.get(api.GATE_MAX_FAILED_PERCENTAGE),
        min_executions=gate.get(api.GATE_MIN_EXECUTIONS),
    )
    return RolloutGate(judge, gate[api.GATE_TIMEOUT_SECONDS])


def _raise_violations(violations: list[api.Violation]) -> None:
    if violations:
        raise Failure("Invalid properties: " + "; ".join(str(v) for v in violations))


# ---------------------------------------------------------------------------------------------
# The lifecycle
# ---------------------------------------------------------------------------------------------
def create(client: Client, request: Request, owner: Owner, budget: Budget) -> Outcome:
    """Create the OTA update (or find the one a repeated delivery already made) and wait for it."""
    try:
        _start_creation(client, request, owner, budget)
    except Unsettled as out_of_time:  # only if an invocation starts with less than the retries
        raise Failure(str(out_of_time)) from out_of_time
    return settle_creation(client, request.ota_id, budget)


def _start_creation(client: Client, request: Request, owner: Owner, budget: Budget) -> None:
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
    try:
        info, tags = _owned(client, physical_id, owner, budget)
        if info["otaUpdateStatus"] != CREATE_COMPLETE or not owner.owns(tags, new.digest):
            raise Failure(_unchanged_id(physical_id, new, old))
        _retag(client, info, tags, new.user_tags, budget)
    except Unsettled as out_of_time:  # only if an invocation starts with less than the retries
        raise Failure(str(out_of_time)) from out_of_time
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
    client: Client,
    physical_id: str,
    properties: Mapping[str, Any],
    owner: Owner,
    budget: Budget,
    *,
    digest: str | None = None,
) -> Outcome:
    """Delete the OTA update this resource made for the request, and wait until it is gone.

    That is the OTA update named ``physical_id`` if this resource made it; else the one the
    request in ``properties`` (``digest``: its digest, when ``properties`` hold only its id) would
    have made, if this resource made it from that very request: CloudFormation names an id it
    made up when it deletes a resource whose creation it cancelled or timed out before any answer.
    Safe to call again for the same request (a hand-over does): it picks up where things are.
    """
    target = _deletion_target(client, physical_id, properties, owner, budget, digest)
    if target is None:
        return Outcome(physical_id)
    ota_id, info = target
    settled = _remove(client, ota_id, info, teardown_flags(properties), budget)
    return Outcome(physical_id, settled=settled)


def discard(client: Client, ota_id: str, digest: str, owner: Owner, budget: Budget) -> Outcome:
    """Delete what a request CloudFormation no longer waits for created (the OTA update
    ``ota_id``, if this resource made it from the request of ``digest``), its stream and job with
    it; ``settled`` is False while that deletion is under way."""
    info = _owned_by(client, ota_id, owner, budget, digest)
    if info is None:
        return Outcome(ota_id)
    log.info("%s: created for a request CloudFormation no longer waits for: deleting it", ota_id)
    return Outcome(ota_id, settled=_remove(client, ota_id, info, DISCARD_FLAGS, budget))


def _deletion_target(
    client: Client,
    physical_id: str,
    properties: Mapping[str, Any],
    owner: Owner,
    budget: Budget,
    digest: str | None,
) -> tuple[str, Info] | None:
    """The OTA update a Delete is for (its id and info), or None when there is none of ours."""
    info = _owned_by(client, physical_id, owner, budget)
    if info is not None:
        return physical_id, info
    requested = _requested(properties, digest)
    if requested is None or requested[0] == physical_id:
        return None
    ota_id, request_digest = requested
    info = _owned_by(client, ota_id, owner, budget, request_digest)
    if info is None:
        return None
    log.info(
        "%s is not an OTA update of this resource (an id CloudFormation made up for a creation it "
        "cancelled): deleting %s, made from this very request",
        physical_id,
        ota_id,
    )
    return ota_id, info


def _requested(properties: Mapping[str, Any], digest: str | None) -> tuple[str, str] | None:
    """The otaUpdateId the request in ``properties`` creates and its digest (None if unknown)."""
    ota_id = properties.get(api.OTA_UPDATE_ID)
    if not isinstance(ota_id, str):
        return None
    if digest is None:
        digest = digest_of(properties)
    return None if digest is None else (ota_id, digest)


def digest_of(properties: Mapping[str, Any]) -> str | None:
    """The digest of the request in ``properties`` (None when it cannot be read back)."""
    try:
        return Request.of(properties, check=False).digest
    except (Failure, ValueError, TypeError, KeyError, AttributeError) as error:
        log.info("The request cannot be read back (%s)", error)
        return None


def _owned_by(
    client: Client, ota_id: str, owner: Owner, budget: Budget, digest: str | None = None
) -> Info | None:
    """The OTA update ``ota_id`` to delete if this resource made it (from the request of
    ``digest``); None, saying why, when there is none."""
    if api.validate({api.OTA_UPDATE_ID: ota_id}, shape=api.operation_input("DeleteOTAUpdate")):
        log.info("%s: not an OTA update id (no OTA update was created), nothing to delete", ota_id)
        return None
    info = _fetch_retrying(client, ota_id, budget)
    if info is None:
        log.info("%s: does not exist, nothing to delete", ota_id)
        return None
    try:
        tags = _tags(client, info, budget)
    except Gone:
        log.info("%s: gone meanwhile, nothing to delete", ota_id)
        return None
    if not owner.owns(tags, digest):
        log.info(
            "%s: not created by this resource%s, left untouched",
            ota_id,
            "" if digest is None else " from this request",
        )
        return None
    return info


def _remove(
    client: Client, ota_id: str, info: Info | None, flags: Mapping[str, bool], budget: Budget
) -> bool:
    """Delete an OTA update of this resource and wait until it is gone; False when the
    invocation's time runs out first (the next invocation picks up where the deletion is).

    The service deletes only settled OTA updates: a creation is waited for first. A deletion
    under way (another invocation's, a repeated delivery's) is waited for as this one's. One that
    the service ends DELETE_FAILED for a transient cause is started again, with backoff, until
    the bound on waiting; any other DELETE_FAILED is a :class:`Failure` naming what is left.
    """
    attempts = 0
    try:
        while info is not None:
            status = info["otaUpdateStatus"]
            if status in CREATING:
                info = wait(client, ota_id, _created, budget)
                continue
            if status == DELETE_FAILED and attempts:
                _pause_before_deleting_again(info, attempts, budget)
            if status != DELETE_IN_PROGRESS:
                _start_deletion(client, ota_id, flags, budget)
                attempts += 1
            info = wait(client, ota_id, _deleted, budget)
    except Unsettled:
        return False
    return True


def _pause_before_deleting_again(info: Info, attempts: int, budget: Budget) -> None:
    """Back off before starting a deletion again after DELETE_FAILED; :class:`Failure` when the
    cause is permanent or the bound on waiting has passed, :class:`Unsettled` when the pause does
    not fit in this invocation (the next one starts the deletion again)."""
    code = (info.get("errorInfo") or {}).get("code")
    if code not in TRANSIENT_DELETE_FAILURES or time.time() >= budget.give_up_at:
        raise Failure(_left_behind(info))
    delay = _backoff(attempts)
    if delay >= budget.left():
        if budget.last:
            raise Failure(_left_behind(info))
        raise Unsettled(DELETE_FAILED)
    log.warning("%s: %s, deleting it again in %.1f s", info["otaUpdateId"], code, delay)
    time.sleep(delay)


def _left_behind(info: Info) -> str:
    ota_id = info["otaUpdateId"]
    return (
        f"{_error_message(info)}: it is left, with its job {api.job_id(ota_id)}; once the cause "
        f"is fixed, retry (or run aws iot delete-ota-update --ota-update-id {ota_id} "
        "--force-delete-aws-job --delete-stream)"
    )


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
    if info["otaUpdateStatus"] == CREATE_COMPLETE:
        return Outcome(ota_id, _data(info))
    reason = _error_message(info)  # CREATE_FAILED, or its deletion under way
    try:
        if not _remove(client, ota_id, info, DISCARD_FLAGS, budget):
            return Outcome(ota_id, settled=False)
    except Failure as failure:
        log.error("%s: deleting the failed OTA update failed: %s", ota_id, failure)
        raise Failure(f"{reason}; deleting it failed: {failure}") from failure
    raise Failure(f"{reason}; OTA update {ota_id} was deleted")


def watch_rollout(
    client: Client,
    outcome: Outcome,
    gate: RolloutGate,
    budget: Budget,
    sent_at: float | None,
) -> Outcome:
    """Wait until the rollout of the OTA update just created (``outcome``'s) passes ``gate``:
    then ``outcome``; ``settled`` False when the invocation hands the wait over.

    The gate fails (:class:`Failure`, the figures first) when a failure condition holds, the job
    ends without meeting the gate or is cancelled (its abort configuration) or being deleted, or
    the gate's timeout (``budget.give_up_at``) passes: the job is cancelled then, so that no more
    devices get the firmware while CloudFormation rolls back. A job created before the request
    was sent (``sent_at``: CloudFormation's rollback goes back to the previous OTA update, whose
    rollout was judged when it was created) is not judged again.
    """
    ota_id = outcome.physical_id
    job_id = api.job_id(ota_id)
    base = rollout.Rollout(ota_id, ota_update_status=CREATE_COMPLETE, job_id=job_id)

    def verdict(job: Info | None) -> rollout.Verdict:
        return gate.judge.judge(base.with_job(job))

    def decided(job: Info | None) -> bool:
        return _older(job, sent_at) or verdict(job).outcome != rollout.PENDING

    read = _Read(
        "DescribeJob", ota_id, f"job {job_id}", partial(_describe_job, client, job_id), _job_status
    )
    try:
        job = _poll(read, decided, _GatePace(time.monotonic()), budget)
    except Unsettled:
        return replace(outcome, settled=False)
    except _TimeUp as up:
        figures = verdict(up.last).reason if up.read else f"job {job_id} could not be read"
        bound = (
            f"gave up after {_handovers(budget)}"
            if up.handovers
            else f"timed out after {gate.timeout_seconds} s"
        )
        raise Failure(_gate_failed(client, ota_id, up.last, figures, bound, budget)) from None
    if _older(job, sent_at):
        log.info("%s: its job is older than the request: not judged again", ota_id)
        return outcome
    judged = verdict(job)
    if judged.outcome == rollout.MET:
        log.info("%s: rollout gate passed: %s", ota_id, judged.reason)
        return outcome
    raise Failure(_gate_failed(client, ota_id, job, judged.reason, "failed", budget))


def _describe_job(client: Client, job_id: str) -> Info | None:
    """DescribeJob's job, or None when there is no such job (one attempt)."""
    return _found(lambda: client.describe_job(jobId=job_id)["job"])


def _job_status(job: Info | None) -> str:
    return str(job["status"]) if job else "gone"


def _older(job: Info | None, sent_at: float | None) -> bool:
    """Whether ``job`` was created before the request was sent (at ``sent_at``)."""
    return job is not None and sent_at is not None and job["createdAt"].timestamp() < sent_at


@dataclass
class _GatePace:
    """The interval between two reads of a gated job (see GATE_POLL_SECONDS)."""

    started: float
    slowdown: float = 1.0

    def delay(self, now: float) -> float:
        return GATE_POLL_SECONDS * self.slowdown * random.uniform(0.8, 1.2)


def _gate_failed(
    client: Client, ota_id: str, job: Info | None, figures: str, how: str, budget: Budget
) -> str:
    """The Reason of a failed gate (``figures`` first, ``how`` it failed), once its job, if
    still rolling out, is cancelled."""
    log.error("%s: rollout gate %s: %s", ota_id, how, figures)
    cancelled = _cancel_job(client, ota_id, job, budget)
    return (
        f"{figures} (rollout gate of OTA update {ota_id} {how}{cancelled}; CloudFormation's "
        "rollback deletes it with its job)"
    )


def _cancel_job(client: Client, ota_id: str, job: Info | None, budget: Budget) -> str:
    """CancelJob of a failed gate's job still IN_PROGRESS (its QUEUED executions are cancelled,
    the devices at work finish): what happened, for the Reason."""
    if job is None or job["status"] != "IN_PROGRESS":
        return ""
    job_id = api.job_id(ota_id)
    cancel = partial(
        client.cancel_job,
        jobId=job_id,
        reasonCode=GATE_CANCEL_REASON,
        comment=f"The rollout gate of OTA update {ota_id} failed",
    )
    try:
        _retrying("CancelJob", ota_id, budget, cancel)
    except (ClientError, Failure, Unsettled) as error:
        problem = _describe(error)
        log.error("%s: CancelJob of %s failed: %s", ota_id, job_id, problem)
        return f"; CancelJob of its job failed: {problem}"
    log.info("%s: job %s cancelled", ota_id, job_id)
    return f"; its job {job_id} cancelled"


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
    """DeleteOTAUpdate; refused because the OTA update is gone or already being deleted (by
    another invocation), it is that deletion that is waited for."""
    try:
        _retrying(
            "DeleteOTAUpdate",
            ota_id,
            budget,
            lambda: client.delete_ota_update(otaUpdateId=ota_id, **flags),
        )
    except ClientError as error:
        if _code(error) != "ResourceNotFoundException":
            info = _fetch_retrying(client, ota_id, budget)
            if info is not None and info["otaUpdateStatus"] != DELETE_IN_PROGRESS:
                raise Failure(_rejected("DeleteOTAUpdate", ota_id, error)) from error
        log.info("%s: DeleteOTAUpdate refused (%s): already being deleted", ota_id, _code(error))
        return
    log.info(
        "%s: DeleteOTAUpdate accepted (%s)",
        ota_id,
        ", ".join(f"{k}={v}" for k, v in flags.items()) or "default flags",
    )


# ---------------------------------------------------------------------------------------------
# Whether CloudFormation still waits for a request
# ---------------------------------------------------------------------------------------------
# The status of a custom resource while CloudFormation waits for its Create or Update.
IN_PROGRESS = {"Create": "CREATE_IN_PROGRESS", "Update": "UPDATE_IN_PROGRESS"}


@dataclass(frozen=True)
class Sent:
    """A request as CloudFormation sent it: when (its ResponseURL's signing time, None if the URL
    does not say) and how long it waits for the answer (the resource's ServiceTimeout)."""

    request_type: str
    stack_id: str
    logical_id: str
    sent_at: float | None
    service_timeout: float


def unwaited(cloudformation: Client, sent: Sent, budget: Budget) -> str | None:
    """Why CloudFormation no longer waits for ``sent`` (None while it does).

    Any request older than its ServiceTimeout is past waiting for. A Create or Update is waited
    for only while CloudFormation shows its resource in progress (DescribeStackResource on the
    request's own stack and logical id), since before the request was sent: a stack gone, a
    resource failed, cancelled or rolled back, or a newer request for it, mean nobody waits.
    """
    now = time.time()
    if (
        sent.sent_at is not None
        and now > sent.sent_at + sent.service_timeout + api.CLOCK_SKEW_SECONDS
    ):
        return (
            f"it was sent {now - sent.sent_at:.0f} s ago, past its ServiceTimeout "
            f"({sent.service_timeout:.0f} s)"
        )
    expected = IN_PROGRESS.get(sent.request_type)
    if expected is None:  # a Delete: CloudFormation shows the resource it replaced, not this one
        return None
    detail = _stack_resource(cloudformation, sent, budget)
    if detail is None:
        return f"the stack or its resource {sent.logical_id} no longer exists"
    if detail["ResourceStatus"] != expected:
        return f"{sent.logical_id} is {detail['ResourceStatus']}"
    changed = detail["LastUpdatedTimestamp"].timestamp()
    if sent.sent_at is not None and changed > sent.sent_at + api.SIGNING_PRECISION_SECONDS:
        return f"{sent.logical_id} is {expected} for a later request"
    return None


def _stack_resource(cloudformation: Client, sent: Sent, budget: Budget) -> Info | None:
    """DescribeStackResource's StackResourceDetail; None when the stack or resource is gone."""
    try:
        detail: Info = _retrying(
            "DescribeStackResource",
            sent.logical_id,
            budget,
            lambda: cloudformation.describe_stack_resource(
                StackName=sent.stack_id, LogicalResourceId=sent.logical_id
            )["StackResourceDetail"],
            of=f"resource {sent.logical_id}",
        )
    except ClientError as error:
        if _code(error) == "ValidationError" and "does not exist" in str(error):
            return None
        raise Failure(
            f"{_describe(error)} (DescribeStackResource of {sent.logical_id}: the provider cannot "
            "tell whether CloudFormation still waits for this request)"
        ) from error
    return detail


# ---------------------------------------------------------------------------------------------
# Waiting and calling
# ---------------------------------------------------------------------------------------------
def wait(
    client: Client, ota_id: str, settled: Callable[[Info | None], bool], budget: Budget
) -> Info | None:
    """Poll GetOTAUpdate until ``settled(info)`` (info is None once the OTA update is gone).

    Raises :class:`Unsettled` when the invocation's budget runs out first, :class:`GaveUp` past
    the bound on waiting, :class:`Failure` when the service keeps failing. The invocation's time
    is read on the monotonic clock; only the bound across invocations on the wall clock.
    """
    read = _Read(
        "GetOTAUpdate", ota_id, f"OTA update {ota_id}", partial(fetch, client, ota_id), _status
    )
    try:
        return _poll(read, settled, _Pace(client, budget, time.monotonic()), budget)
    except _TimeUp as up:
        if up.handovers:
            raise GaveUp(
                f"OTA update {ota_id} is still {up.status}: gave up waiting after "
                f"{_handovers(budget)}"
            ) from None
        raise GaveUp(
            f"OTA update {ota_id} is still {up.status}: gave up waiting "
            f"({api.MAX_WAIT_ENV}={budget.settings.max_wait_seconds:.0f})"
        ) from None


def _handovers(budget: Budget) -> str:
    """The hand-overs a wait spent, with their bound: ``20 hand-overs (OTA_MAX_HANDOVERS=20)``."""
    return (
        f"{budget.handovers} hand-overs ({api.MAX_HANDOVERS_ENV}={budget.settings.max_handovers})"
    )


def _status(info: Info | None) -> str:
    return info["otaUpdateStatus"] if info else "gone"


class _Pacing(Protocol):
    """When a poll reads again: ``delay(now)`` seconds after ``now``, times ``slowdown``."""

    started: float
    slowdown: float

    def delay(self, now: float) -> float: ...


@dataclass(frozen=True)
class _Read(Generic[T]):
    """What a poll reads: ``operation`` (one attempt: ``call``) of ``subject``, about the OTA
    update ``ota_id``; ``status`` is what a value read shows, for the logs and Reasons."""

    operation: str
    ota_id: str
    subject: str
    call: Callable[[], T]
    status: Callable[[T], str]


class _TimeUp(Exception):
    """A poll went past its bound: the hand-overs' (``handovers``) or the time's. ``status`` and
    ``last`` are the last value read and what it showed (``read`` is False if none was read)."""

    def __init__(self, status: str, handovers: bool, last: Any, read: bool) -> None:
        super().__init__(status)
        self.status, self.handovers, self.last, self.read = status, handovers, last, read


def _poll(read: _Read[T], done: Callable[[T], bool], pace: _Pacing, budget: Budget) -> T:
    """``read.call()`` again at ``pace`` until ``done`` with its value, which is returned.

    Raises :class:`Unsettled` when the invocation's budget runs out first, :class:`_TimeUp` past
    the bound on waiting, :class:`Failure` when the service refuses the call or keeps failing.
    """
    failing_since: float | None = None
    status, last, got = "unknown", None, False
    while True:
        try:
            value = read.call()
        except (ClientError, ConnectionError, HTTPClientError) as error:
            if not _transient(error):
                raise Failure(f"{_describe(error)} ({read.operation} of {read.subject})") from error
            if failing_since is None:
                failing_since = time.monotonic()
            if time.monotonic() - failing_since > budget.settings.retry_seconds:
                raise Failure(
                    _kept_failing(read.operation, read.subject, error, failing_since)
                ) from error
            pace.slowdown = min(2 * pace.slowdown, SLOWDOWN_MAX)
        else:
            failing_since = None
            status, last, got = read.status(value), value, True
            if done(value):
                log.info(
                    "%s: %s after %.1f s", read.ota_id, status, time.monotonic() - pace.started
                )
                return value
        until_give_up = budget.give_up_at - time.time()
        if until_give_up <= 0:
            raise _TimeUp(status, False, last, got)
        now = time.monotonic()
        delay = min(pace.delay(now), until_give_up)  # the last poll at the bound, not past it
        if now + delay >= budget.stop_at:
            if budget.last:
                raise _TimeUp(status, True, last, got)
            log.info(
                "%s: still %s after %.1f s, handing over to the next invocation",
                read.ota_id,
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
        recount_fits = now + (len(CHANGING) - 1) * api.CALL_SECONDS < self.budget.stop_at
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
    return _found(lambda: client.get_ota_update(otaUpdateId=ota_id)["otaUpdateInfo"])


def _found(read: Callable[[], Info]) -> Info | None:
    """``read()``, or None when what it reads does not exist (ResourceNotFoundException)."""
    try:
        return read()
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return None
        raise


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


def _retrying(
    operation: str,
    ota_id: str,
    budget: Budget,
    call: Callable[[], T],
    *,
    of: str | None = None,
) -> T:
    """``call()``, retrying transient errors with exponential backoff and full jitter: for
    ``retry_seconds`` (then :class:`Failure`), or until the invocation stops waiting (then
    :class:`Unsettled`: the next invocation picks up where things are). ``of``: what the call
    is about, for the Reason (the OTA update ``ota_id`` unless said)."""
    subject = of or f"OTA update {ota_id}"
    started = time.monotonic()
    retry_until = started + budget.settings.retry_seconds
    attempt = 0
    while True:
        try:
            return call()
        except (ClientError, ConnectionError, HTTPClientError) as error:
            if not _transient(error):
                raise
            delay = _backoff(attempt)
            attempt += 1
            retry_at = time.monotonic() + delay
            if retry_at > retry_until and retry_until <= budget.stop_at:  # within the invocation
                raise Failure(_kept_failing(operation, subject, error, started)) from error
            if retry_at > budget.stop_at:
                if budget.last:
                    raise Failure(_kept_failing(operation, subject, error, started)) from error
                log.warning(
                    "%s: %s failed (%s), handing over to the next invocation",
                    ota_id,
                    operation,
                    _describe(error),
                )
                raise Unsettled(_kept_failing(operation, subject, error, started)) from error
            log.warning(
                "%s: %s failed (%s), retry %d in %.1f s",
                ota_id,
                operation,
                _describe(error),
                attempt,
                delay,
            )
            time.sleep(delay)


def _backoff(attempt: int) -> float:
    """The delay before retry ``attempt`` + 1: full jitter over an exponential bound."""
    return random.uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt))


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


def _kept_failing(operation: str, subject: str, error: Exception, since: float) -> str:
    return (
        f"{_describe(error)} ({operation} of {subject} still failing after "
        f"{time.monotonic() - since:.0f} s of retries; retry the deployment later)"
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
