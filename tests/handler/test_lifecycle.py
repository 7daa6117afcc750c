"""The lifecycle's own arithmetic, over a fake IoT client and a fake clock: the retries' backoff
and deadline, the polls' pacing, the budget of an invocation, whole Reasons and the log lines.

Nothing here sleeps: ``lifecycle.time`` and ``lifecycle.random`` are replaced by :class:`Clock`,
whose ``sleep`` only records the delay and moves the time on (the handler's tests, through the
CloudFormation harness, check the same paths against the emulated IoT).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import lifecycle  # the Lambda asset's modules by plain name (pytest's pythonpath has their folder)
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from handler_support import ID, LOGICAL_ID

from cdk_ota_update import api, rollout

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/Firmware/1e2d"
OWNER = lifecycle.Owner(STACK_ID, LOGICAL_ID)
ARN = f"arn:aws:iot:us-east-1:123456789012:otaupdate/{ID}"
START = 1_800_000_000.0
GONE = "gone"


def error(
    code: str, message: str = "Rate exceeded", operation: str = "GetOTAUpdate"
) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class Clock:
    """``time`` and ``random`` for the lifecycle: sleeping records the delay and moves the time
    on; ``uniform(a, b)`` records its bounds and answers ``b`` for a backoff (the longest delay),
    ``jitter`` for a poll."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []
        self.bounds: list[tuple[float, float]] = []
        self.jitter = 1.2

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.sleeps.append(seconds)
        self.now += seconds
        if len(self.sleeps) > 5000:
            raise RuntimeError("endless wait")

    def uniform(self, low: float, high: float) -> float:
        self.bounds.append((low, high))
        return high if low == 0 else self.jitter


class FakeIot:
    """The IoT calls of the lifecycle: GetOTAUpdate answers ``statuses`` one by one (the last
    repeats; ``GONE``: ResourceNotFound); ``faults[operation]`` come first (None: answered as
    usual); every call is recorded with the time it was made."""

    def __init__(self, clock: Clock, *statuses: str, tags: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.statuses = list(statuses)
        tags = owned(REQUEST) if tags is None else tags
        self.tags = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.faults: dict[str, list[Exception | None]] = {}
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.changing: dict[str, int] = {}  # ListOTAUpdates: how many of each status
        self.error_info: dict[str, str] = {}
        self.page_size = 50  # ListTagsForResource's
        self.job = True  # whether GetOTAUpdate names the job
        self.absent: set[str] = set()  # ids of no OTA update (ResourceNotFound, no status used)
        self.jobs: list[dict[str, Any]] = []  # DescribeJob's answers, one by one (the last repeats;
        # none: no such job)

    def fail(self, operation: str, *errors: Exception | None) -> None:
        self.faults.setdefault(operation, []).extend(errors)

    def called(self, operation: str) -> list[dict[str, Any]]:
        return [kwargs for op, kwargs, _ in self.calls if op == operation]

    def _call(self, operation: str, **kwargs: Any) -> None:
        self.calls.append((operation, kwargs, self.clock.now))
        if len(self.calls) > 5000:  # a loop that calls without waiting (as Clock.sleep bounds)
            raise RuntimeError("endless calls")
        fault = self.faults[operation].pop(0) if self.faults.get(operation) else None
        if fault:
            raise fault

    def create_ota_update(self, **request: Any) -> dict[str, Any]:
        self._call("CreateOTAUpdate", **request)
        return {"otaUpdateId": request["otaUpdateId"], "otaUpdateStatus": "CREATE_PENDING"}

    def get_ota_update(self, otaUpdateId: str) -> dict[str, Any]:
        self._call("GetOTAUpdate", otaUpdateId=otaUpdateId)
        if otaUpdateId in self.absent:
            raise error("ResourceNotFoundException", f"OTA update {otaUpdateId} does not exist")
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == GONE:
            raise error("ResourceNotFoundException", f"OTA update {otaUpdateId} does not exist")
        info: dict[str, Any] = {"otaUpdateId": otaUpdateId, "otaUpdateArn": ARN}
        if self.job:
            info["awsIotJobId"] = api.job_id(otaUpdateId)
            info["awsIotJobArn"] = f"arn:aws:iot:us-east-1:123456789012:job/{info['awsIotJobId']}"
        info["otaUpdateStatus"] = status
        if status.endswith("FAILED") and self.error_info:
            info["errorInfo"] = self.error_info
        return {"otaUpdateInfo": info}

    def describe_job(self, jobId: str) -> dict[str, Any]:
        self._call("DescribeJob", jobId=jobId)
        if not self.jobs:
            raise error("ResourceNotFoundException", f"Job {jobId} cannot be found.")
        job = self.jobs.pop(0) if len(self.jobs) > 1 else self.jobs[0]
        created = datetime.fromtimestamp(START, tz=timezone.utc)
        return {"job": {"jobId": jobId, "createdAt": created, **job}}

    def cancel_job(self, **kwargs: Any) -> dict[str, Any]:
        self._call("CancelJob", **kwargs)
        return {}

    def list_tags_for_resource(self, resourceArn: str, **token: str) -> dict[str, Any]:
        self._call("ListTagsForResource", resourceArn=resourceArn, **token)
        start = int(token.get("nextToken", "0"))
        end = start + self.page_size
        page: dict[str, Any] = {"tags": self.tags[start:end]}
        if end < len(self.tags):
            page["nextToken"] = str(end)
        return page

    def tag_resource(self, resourceArn: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        self._call("TagResource", resourceArn=resourceArn, tags=tags)
        keys = {t["Key"] for t in tags}
        self.tags = [t for t in self.tags if t["Key"] not in keys] + tags
        return {}

    def untag_resource(self, resourceArn: str, tagKeys: list[str]) -> dict[str, Any]:
        self._call("UntagResource", resourceArn=resourceArn, tagKeys=tagKeys)
        self.tags = [t for t in self.tags if t["Key"] not in tagKeys]
        return {}

    def delete_ota_update(self, **kwargs: Any) -> dict[str, Any]:
        self._call("DeleteOTAUpdate", **kwargs)
        return {}

    def list_ota_updates(self, otaUpdateStatus: str, maxResults: int) -> dict[str, Any]:
        self._call("ListOTAUpdates", otaUpdateStatus=otaUpdateStatus, maxResults=maxResults)
        count = self.changing.get(otaUpdateStatus, 0)
        return {"otaUpdates": [{"otaUpdateId": f"other-{i}"} for i in range(count)]}


def owned(request: lifecycle.Request, **user: str) -> dict[str, str]:
    """The tags of an OTA update this resource made from ``request``, and ``user`` tags."""
    return {**{t["Key"]: t["Value"] for t in OWNER.tags(request.digest)}, **user}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(lifecycle, "time", fake)
    monkeypatch.setattr(lifecycle, "random", fake)
    yield fake


def budget(
    seconds: float = 1000.0, *, give_up: float = 900.0, handovers: int = 0, **settings: Any
) -> lifecycle.Budget:
    """An invocation that may wait ``seconds`` from now, for a request that waits ``give_up``."""
    return lifecycle.Budget(START + seconds, START + give_up, api.Settings(**settings), handovers)


REQUEST = lifecycle.Request({"otaUpdateId": ID, "targets": ["arn:aws:iot:::thing/t"]})


def create(iot: FakeIot, within: lifecycle.Budget | None = None) -> lifecycle.Outcome:
    return lifecycle.create(iot, REQUEST, OWNER, within or budget())


# ---------------------------------------------------------------------------------------------
# Retries: exponential backoff with full jitter, bounded by OTA_RETRY_SECONDS and stop_at
# ---------------------------------------------------------------------------------------------
def test_retries_back_off_exponentially_up_to_their_bound(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("CreateOTAUpdate", *[error("ThrottlingException")] * 7)

    created = create(iot, budget(retry_seconds=100))

    assert created == lifecycle.Outcome(ID, created.data)
    assert clock.bounds[:7] == [(0, 0.5), (0, 1), (0, 2), (0, 4), (0, 8), (0, 8), (0, 8)]
    assert clock.sleeps == [0.5, 1, 2, 4, 8, 8, 8]
    assert len(iot.called("CreateOTAUpdate")) == 8


@pytest.mark.parametrize(
    "fault",
    [
        error("InternalFailureException"),
        error("ServiceUnavailableException"),
        EndpointConnectionError(endpoint_url="https://iot.us-east-1.amazonaws.com"),
    ],
)
def test_every_transient_fault_is_retried(clock: Clock, fault: Exception) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("CreateOTAUpdate", fault)

    assert create(iot).physical_id == ID
    assert clock.sleeps == [0.5]


def test_retries_stop_before_the_next_delay_would_pass_the_retry_bound(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("CreateOTAUpdate", *[error("ThrottlingException")] * 100)

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot, budget(retry_seconds=10))

    # 0.5 + 1 + 2 + 4 = 7.5 s slept; the next 8 s would end past 10 s
    assert clock.sleeps == [0.5, 1, 2, 4]
    assert len(iot.called("CreateOTAUpdate")) == 5
    assert str(failed.value) == (
        "ThrottlingException: Rate exceeded (CreateOTAUpdate of OTA update fw-1 still failing "
        "after 8 s of retries; retry the deployment later)"
    )


def test_a_retry_ending_exactly_at_the_bound_is_made(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("CreateOTAUpdate", *[error("ThrottlingException")] * 2)

    assert create(iot, budget(retry_seconds=1.5)).physical_id == ID
    assert clock.sleeps == [0.5, 1]


def test_retries_stop_at_the_invocations_stop_at(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("CreateOTAUpdate", *[error("ThrottlingException")] * 100)

    with pytest.raises(lifecycle.Failure):
        create(iot, budget(3.5, retry_seconds=100))

    assert clock.sleeps == [0.5, 1, 2]


def test_permanent_errors_are_not_retried(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("CreateOTAUpdate", error("InvalidRequestException", "Bad targets", "CreateOTAUpdate"))

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot)

    assert str(failed.value) == (
        "InvalidRequestException: Bad targets (CreateOTAUpdate of OTA update fw-1)"
    )
    assert (clock.sleeps, len(iot.calls)) == ([], 1)


def test_an_error_without_a_code_is_permanent_and_named_as_it_came(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("CreateOTAUpdate", ClientError({}, "CreateOTAUpdate"))

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot)

    assert str(failed.value) == ":  (CreateOTAUpdate of OTA update fw-1)"


def test_a_retried_call_logs_each_retry(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("CreateOTAUpdate", error("ThrottlingException"), error("ThrottlingException"))

    create(iot)

    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "fw-1: CreateOTAUpdate failed (ThrottlingException: Rate exceeded), retry 1 in 0.5 s",
        "fw-1: CreateOTAUpdate failed (ThrottlingException: Rate exceeded), retry 2 in 1.0 s",
    ]


# ---------------------------------------------------------------------------------------------
# Polling: 1/20 of the time waited, between 0.5 and 2 s, never faster than a fair share
# ---------------------------------------------------------------------------------------------
def test_polls_follow_the_time_waited_between_their_bounds(clock: Clock) -> None:
    iot = FakeIot(clock, *["CREATE_IN_PROGRESS"] * 60, "CREATE_COMPLETE")

    create(iot)

    assert set(clock.bounds) == {(0.8, 1.2)}
    assert clock.sleeps[:3] == pytest.approx([0.6, 0.6, 0.6])  # POLL_MIN 0.5, jitter 1.2
    waited = [t - START for op, _, t in iot.calls if op == "GetOTAUpdate"]
    # once 20 s have passed, the interval is 1/20 of them, until it reaches 2 s
    at_20 = next(i for i, t in enumerate(waited) if t >= 20)
    assert clock.sleeps[at_20] == pytest.approx(0.05 * waited[at_20] * 1.2)
    assert max(clock.sleeps) == pytest.approx(2.4)
    assert clock.sleeps[-1] == pytest.approx(2.4)


def test_polls_take_a_fair_share_of_the_accounts_budget(clock: Clock) -> None:
    iot = FakeIot(clock, *["CREATE_IN_PROGRESS"] * 3, "CREATE_COMPLETE")
    iot.changing = {"CREATE_PENDING": 4, "CREATE_IN_PROGRESS": 6, "DELETE_IN_PROGRESS": 5}

    create(iot)

    assert iot.called("ListOTAUpdates") == [
        {"otaUpdateStatus": status, "maxResults": 250}
        for status in ("CREATE_PENDING", "CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
    ]
    # 15 changing OTA updates share 5 GetOTAUpdate calls a second: one call every 3 s each
    assert clock.sleeps == pytest.approx([3.6] * 3)


@pytest.mark.parametrize(
    ("jitter", "counted"),
    [(1.0, [0, 32, 64]), (1.025, [0, 30.75, 61.5]), (1.2, [0, 31.2, 62.4])],
)
def test_the_count_is_renewed_once_30_seconds_have_passed(
    clock: Clock, jitter: float, counted: list[float]
) -> None:
    clock.jitter = jitter
    iot = FakeIot(clock, *["CREATE_IN_PROGRESS"] * 45, "CREATE_COMPLETE")
    iot.changing = {"CREATE_PENDING": 10}  # 2 s between polls, times the jitter

    create(iot)

    times = [t - START for op, _, t in iot.calls if op == "ListOTAUpdates"]
    assert times[::3][:3] == pytest.approx(counted)  # at 30 s exactly, not yet


def test_a_failed_recount_keeps_the_last_count(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    iot = FakeIot(clock, *["CREATE_IN_PROGRESS"] * 14, "CREATE_COMPLETE")
    iot.changing = {"CREATE_PENDING": 15}

    iot.fail("ListOTAUpdates", None, None, None, error("ThrottlingException"))

    create(iot)

    assert len(iot.called("ListOTAUpdates")) == 4  # counted at 0 s, failed at 36 s
    assert clock.sleeps == pytest.approx([3.6] * 14)  # still a fair share of 15
    assert (
        "ListOTAUpdates failed (ThrottlingException: Rate exceeded): pacing by the last count"
        in [r.getMessage() for r in caplog.records]
    )


def test_no_recount_when_its_calls_would_start_after_stop_at(clock: Clock) -> None:
    # the recount's third call may start 2 x 25 s after the first: it must start before stop_at
    iot = FakeIot(clock, "CREATE_PENDING", "CREATE_COMPLETE")

    create(iot, budget(50))
    fits = FakeIot(clock, "CREATE_PENDING", "CREATE_COMPLETE")
    clock.now = START
    create(fits, budget(50.5))

    assert (len(iot.called("ListOTAUpdates")), len(fits.called("ListOTAUpdates"))) == (0, 3)


def test_throttled_polls_slow_down_up_to_eight_times(clock: Clock) -> None:
    iot = FakeIot(clock, *["CREATE_IN_PROGRESS"] * 6, "CREATE_COMPLETE")
    iot.fail("GetOTAUpdate", *[error("ThrottlingException")] * 5)

    create(iot)

    # 0.5 s doubled at each throttled poll, at most 8 times (1.2 for the jitter)
    assert clock.sleeps[:4] == pytest.approx([1.2, 2.4, 4.8, 4.8])
    # after 13.2 s: 1/20 of them, still 8 times slower once polls are answered again
    assert clock.sleeps[4:6] == pytest.approx([0.05 * 13.2 * 8 * 1.2, 0.05 * 19.536 * 8 * 1.2])


def test_polls_failing_past_the_retry_bound_fail(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_IN_PROGRESS")
    iot.fail("GetOTAUpdate", *[error("ServiceUnavailableException", "Unavailable")] * 100)

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot, budget(retry_seconds=30))

    # polled at 0, 1.2, 3.6, 8.4, 13.2, 19.5, 28.9 s (slowed down 8 times), failing at 42.8 s
    assert len(clock.sleeps) == 7
    assert sum(clock.sleeps) == pytest.approx(42.79, abs=0.01)
    assert str(failed.value) == (
        "ServiceUnavailableException: Unavailable (GetOTAUpdate of OTA update fw-1 still failing "
        "after 43 s of retries; retry the deployment later)"
    )


def test_polls_failing_for_exactly_the_retry_bound_go_on(clock: Clock) -> None:
    clock.jitter = 1.0  # polls at 0, 1, 3, 7 s (0.5 s doubled at each throttled poll)
    iot = FakeIot(clock, "CREATE_IN_PROGRESS")
    iot.fail("GetOTAUpdate", *[error("ThrottlingException")] * 100)

    with pytest.raises(lifecycle.Failure):
        create(iot, budget(retry_seconds=3))

    assert clock.sleeps == [1, 2, 4]  # failing for 3 s at the third poll: not past the bound


def test_a_poll_that_succeeds_resets_the_retry_bound(clock: Clock) -> None:
    statuses = ["CREATE_IN_PROGRESS"] * 3 + ["CREATE_COMPLETE"]
    iot = FakeIot(clock, *statuses)
    throttled = error("ThrottlingException")
    # throttled, answered, throttled...: never failing for more than 3 s in a row
    iot.fail("GetOTAUpdate", throttled, None, throttled, None, throttled)

    assert create(iot, budget(retry_seconds=3)).physical_id == ID


# ---------------------------------------------------------------------------------------------
# The invocation's budget: hand over before stop_at, give up past the bound
# ---------------------------------------------------------------------------------------------
def test_budget_of_an_invocation(clock: Clock) -> None:
    settings = api.Settings(max_wait_seconds=600)

    first = lifecycle.Budget.of(300_000, settings)
    sent = lifecycle.Budget.of(300_000, settings, sent_at=START - 100)
    handed = lifecycle.Budget.of(
        300_000,
        api.Settings(handover_margin_seconds=10),
        give_up_at=START + 5,
        sent_at=START - 100,
        handovers=3,
    )

    assert first == lifecycle.Budget(START + 243, START + 600, settings, 0)
    assert sent.give_up_at == START + 500  # counted from when CloudFormation sent the request
    assert (handed.stop_at, handed.give_up_at, handed.handovers) == (START + 290, START + 5, 3)
    assert not first.last


@pytest.mark.parametrize(("handovers", "last"), [(1, False), (2, True), (3, True)])
def test_the_last_invocation_may_not_hand_over(handovers: int, last: bool) -> None:
    assert budget(handovers=handovers, max_handovers=2).last is last


def test_a_wait_that_outlasts_the_invocation_is_handed_over(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, "CREATE_IN_PROGRESS")

    outcome = create(iot, budget(10))

    # polls every 0.6 s while the next one still ends before stop_at
    assert outcome == lifecycle.Outcome(ID, settled=False)
    assert sum(clock.sleeps) == pytest.approx(9.6)
    assert len(iot.called("GetOTAUpdate")) == 17
    assert caplog.records[-1].getMessage() == (
        "fw-1: still CREATE_IN_PROGRESS after 9.6 s, handing over to the next invocation"
    )


def test_a_poll_ending_exactly_at_stop_at_hands_over(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_IN_PROGRESS")

    create(iot, budget(0.6))

    assert (clock.sleeps, len(iot.called("GetOTAUpdate"))) == ([], 1)


def test_the_last_invocation_gives_up_instead(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_PENDING")

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot, budget(10, handovers=3, max_handovers=3))

    assert str(failed.value) == (
        "OTA update fw-1 is still CREATE_PENDING: gave up waiting after 3 hand-overs "
        "(OTA_MAX_HANDOVERS=3); CloudFormation's rollback deletes it once it settles"
    )
    assert iot.called("DeleteOTAUpdate") == []


def test_waiting_gives_up_at_its_bound(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_PENDING")

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot, budget(give_up=2.9, max_wait_seconds=3))

    assert str(failed.value) == (
        "OTA update fw-1 is still CREATE_PENDING: gave up waiting (OTA_MAX_WAIT_SECONDS=3); "
        "CloudFormation's rollback deletes it once it settles"
    )
    # polled at 0, 0.6, ..., 2.4 s and at the bound, 2.9 s: not past it
    assert clock.sleeps == pytest.approx([0.6] * 4 + [0.5])
    assert iot.called("DeleteOTAUpdate") == []


def test_waiting_gives_up_once_its_bound_is_reached(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_PENDING")

    with pytest.raises(lifecycle.Failure):
        create(iot, budget(give_up=0))

    assert (clock.sleeps, len(iot.called("GetOTAUpdate"))) == ([], 1)


def test_waiting_that_never_got_an_answer_gives_up_on_an_unknown_status(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_PENDING")
    iot.fail("GetOTAUpdate", *[error("ThrottlingException")] * 3)

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot, budget(give_up=1, max_wait_seconds=1))

    assert str(failed.value).startswith("OTA update fw-1 is still unknown: gave up waiting")


def test_delete_while_it_is_being_created_hands_over_without_deleting(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_PENDING")

    outcome = lifecycle.delete(iot, ID, {}, OWNER, budget(5))

    assert outcome == lifecycle.Outcome(ID, settled=False)
    assert iot.called("DeleteOTAUpdate") == []


def test_delete_waits_for_the_creation_then_deletes(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_PENDING", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", GONE)

    outcome = lifecycle.delete(iot, ID, {api.DELETE_STREAM: "true"}, OWNER, budget())

    assert outcome == lifecycle.Outcome(ID)
    assert iot.called("DeleteOTAUpdate") == [{"otaUpdateId": ID, "deleteStream": True}]


def test_a_deletion_that_outlasts_the_invocation_is_handed_over(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE", "DELETE_IN_PROGRESS")

    outcome = lifecycle.delete(iot, ID, {}, OWNER, budget(5))

    assert outcome == lifecycle.Outcome(ID, settled=False)
    assert len(iot.called("DeleteOTAUpdate")) == 1


@pytest.mark.parametrize(
    ("retry_seconds", "handed_over"),
    [(1.2, True), (0.8, False), (1.0, False)],
    ids=["invocation-ends-first", "retries-end-first", "both-end-together"],
)
def test_a_throttled_deletion_hands_over_when_the_invocation_ends_before_its_retries(
    clock: Clock, caplog: pytest.LogCaptureFixture, retry_seconds: float, handed_over: bool
) -> None:
    """Backoff of 0.5 s then 1 s: the second retry would come at 1.5 s, past both bounds; which
    ends first decides (the invocation stops waiting at 1 s). Retries that end with the
    invocation have ended within it: the request fails rather than hand over."""
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("DeleteOTAUpdate", *[error("ThrottlingException", operation="DeleteOTAUpdate")] * 9)
    within = budget(1.0, retry_seconds=retry_seconds)

    if handed_over:
        assert lifecycle.delete(iot, ID, {}, OWNER, within) == lifecycle.Outcome(ID, settled=False)
        assert caplog.records[-1].getMessage() == (
            f"{ID}: DeleteOTAUpdate failed (ThrottlingException: Rate exceeded), handing over "
            "to the next invocation"
        )
    else:
        with pytest.raises(lifecycle.Failure, match=r"^ThrottlingException: .*still failing"):
            lifecycle.delete(iot, ID, {}, OWNER, within)
    assert clock.sleeps == [0.5]


def test_delete_of_one_being_deleted_waits_without_deleting_again(clock: Clock) -> None:
    iot = FakeIot(clock, "DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS", GONE)

    assert lifecycle.delete(iot, ID, {}, OWNER, budget()) == lifecycle.Outcome(ID)
    assert (iot.called("DeleteOTAUpdate"), len(iot.called("GetOTAUpdate"))) == ([], 3)


def test_delete_of_a_creation_that_disappeared_meanwhile_deletes_nothing(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_PENDING", GONE)

    assert lifecycle.delete(iot, ID, {}, OWNER, budget()) == lifecycle.Outcome(ID)
    assert iot.called("DeleteOTAUpdate") == []


MADE_UP = "Firmware-OtaUpdate-1A2B3C4D5E6F"  # an id CloudFormation made up for a cancelled create


def test_a_delete_under_a_made_up_id_whose_request_cannot_be_read_deletes_nothing_else(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A guard for what no JSON event holds (a value json cannot write): the request's digest is
    unknown, so no OTA update is taken for the one it created."""
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.absent.add(MADE_UP)
    unreadable = {**REQUEST.body, "description": object()}

    assert lifecycle.delete(iot, MADE_UP, unreadable, OWNER, budget()) == lifecycle.Outcome(MADE_UP)
    assert [c["otaUpdateId"] for c in iot.called("GetOTAUpdate")] == [MADE_UP]
    assert [r.getMessage() for r in caplog.records] == [
        f"{MADE_UP}: does not exist, nothing to delete",
        "The request cannot be read back (Object of type object is not JSON serializable)",
    ]


def test_a_request_cloudformation_no_longer_waits_for_is_discarded_with_its_stream_and_job(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, "CREATE_COMPLETE", "DELETE_IN_PROGRESS", GONE)

    discarded = lifecycle.discard(iot, ID, REQUEST.digest, OWNER, budget())

    assert discarded == lifecycle.Outcome(ID)
    assert iot.called("DeleteOTAUpdate") == [
        {"otaUpdateId": ID, "deleteStream": True, "forceDeleteAWSJob": True}
    ]
    assert "fw-1: created for a request CloudFormation no longer waits for: deleting it" in [
        r.getMessage() for r in caplog.records
    ]


def test_a_request_cloudformation_no_longer_waits_for_that_created_nothing_is_done(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, GONE)

    assert lifecycle.discard(iot, ID, REQUEST.digest, OWNER, budget()) == lifecycle.Outcome(ID)
    assert iot.called("DeleteOTAUpdate") == []
    assert [r.getMessage() for r in caplog.records] == ["fw-1: does not exist, nothing to delete"]


def test_a_delete_under_a_made_up_id_deletes_what_a_request_of_looser_rules_created(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The properties of a create an older release accepted (a description past today's 2,048
    characters) still tell which OTA update it made."""
    valid = {
        **REQUEST.body,
        "targets": ["arn:aws:iot:us-east-1:123456789012:thinggroup/canary"],
        "files": [
            {"fileName": "fw.bin", "fileLocation": {"stream": {"streamId": "s", "fileId": "0"}}}
        ],
        "roleArn": "arn:aws:iam::123456789012:role/ota",
    }
    lifecycle.Request.of(valid)  # today's rules accept it, but not with this description:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    properties = {**valid, "description": "d" * 2049}
    with pytest.raises(lifecycle.Failure, match=r"^Invalid properties: description = "):
        lifecycle.Request.of(properties)
    iot = FakeIot(clock, "CREATE_COMPLETE", "DELETE_IN_PROGRESS", GONE)
    iot.tags = [
        {"Key": k, "Value": v}
        for k, v in owned(lifecycle.Request.of(properties, check=False)).items()
    ]
    iot.absent.add(MADE_UP)

    deleted = lifecycle.delete(iot, MADE_UP, properties, OWNER, budget())

    assert deleted == lifecycle.Outcome(MADE_UP)
    assert [c["otaUpdateId"] for c in iot.called("DeleteOTAUpdate")] == [ID]
    assert (
        f"{MADE_UP} is not an OTA update of this resource (an id CloudFormation made up for a "
        "creation it cancelled): deleting fw-1, made from this very request"
    ) in [r.getMessage() for r in caplog.records]


def test_a_delete_under_a_made_up_id_leaves_what_another_request_created(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    other = lifecycle.Request({**REQUEST.body, "description": "another release"})
    iot = FakeIot(clock, "CREATE_COMPLETE", tags=owned(other))
    iot.absent.add(MADE_UP)

    assert lifecycle.delete(iot, MADE_UP, REQUEST.body, OWNER, budget()) == lifecycle.Outcome(
        MADE_UP
    )
    assert iot.called("DeleteOTAUpdate") == []
    assert [r.getMessage() for r in caplog.records] == [
        f"{MADE_UP}: does not exist, nothing to delete",
        "fw-1: not created by this resource from this request, left untouched",
    ]


@pytest.mark.parametrize(
    ("late", "why"), [(0, None), (1, "it was sent 3631 s ago, past its ServiceTimeout (3600 s)")]
)
def test_a_request_older_than_its_service_timeout_is_no_longer_waited_for(
    clock: Clock, late: float, why: str | None
) -> None:
    """Past its ServiceTimeout and the clocks' skew (30 s), with no call (a Delete: CloudFormation
    shows the resource it replaced, nothing to ask)."""
    sent = lifecycle.Sent("Delete", STACK_ID, LOGICAL_ID, START - 3630 - late, 3600)

    assert lifecycle.unwaited(None, sent, budget()) == why


def test_a_request_of_unknown_age_is_waited_for() -> None:
    sent = lifecycle.Sent("Delete", STACK_ID, LOGICAL_ID, None, 3600)

    assert lifecycle.unwaited(None, sent, budget()) is None


class FakeCloudFormation:
    """DescribeStackResource of the request's resource: ``answers`` one by one (an exception is
    raised; a detail is ``(status, seconds after START it last changed)``)."""

    def __init__(self, *answers: tuple[str, float] | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, str]] = []

    def describe_stack_resource(self, **kwargs: str) -> dict[str, Any]:
        self.calls.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, changed = answer
        stamp = datetime.fromtimestamp(START + changed, timezone.utc)
        return {"StackResourceDetail": {"ResourceStatus": status, "LastUpdatedTimestamp": stamp}}


def sent_at(request_type: str, at: float | None = 0.0) -> lifecycle.Sent:
    """A request sent ``at`` seconds after START (None: the URL does not say when)."""
    return lifecycle.Sent(
        request_type, STACK_ID, LOGICAL_ID, None if at is None else START + at, 3600
    )


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_a_create_or_update_is_waited_for_while_its_resource_is_in_progress_since_it_was_sent(
    clock: Clock, request_type: str
) -> None:
    """Changed up to the signing time's precision (2 s) after the request: still this request."""
    status = lifecycle.IN_PROGRESS[request_type]
    cloudformation = FakeCloudFormation((status, api.SIGNING_PRECISION_SECONDS))

    assert lifecycle.unwaited(cloudformation, sent_at(request_type), budget()) is None
    assert cloudformation.calls == [{"StackName": STACK_ID, "LogicalResourceId": LOGICAL_ID}]


@pytest.mark.parametrize(
    ("request_type", "answer", "sent", "why"),
    [
        (
            "Create",
            ("CREATE_IN_PROGRESS", 2.5),
            0.0,
            f"{LOGICAL_ID} is CREATE_IN_PROGRESS for a later request",
        ),
        (
            "Update",
            ("UPDATE_IN_PROGRESS", 60),
            0.0,
            f"{LOGICAL_ID} is UPDATE_IN_PROGRESS for a later request",
        ),
        ("Update", ("UPDATE_IN_PROGRESS", 60), None, None),  # of unknown age: this one's
        ("Create", ("CREATE_FAILED", 0), 0.0, f"{LOGICAL_ID} is CREATE_FAILED"),
        ("Update", ("CREATE_IN_PROGRESS", 0), 0.0, f"{LOGICAL_ID} is CREATE_IN_PROGRESS"),
        (
            "Update",
            ("UPDATE_ROLLBACK_IN_PROGRESS", 0),
            None,
            f"{LOGICAL_ID} is UPDATE_ROLLBACK_IN_PROGRESS",
        ),
    ],
)
def test_what_cloudformation_shows_of_the_resource_says_whether_it_still_waits(
    clock: Clock,
    request_type: str,
    answer: tuple[str, float],
    sent: float | None,
    why: str | None,
) -> None:
    cloudformation = FakeCloudFormation(answer)

    assert lifecycle.unwaited(cloudformation, sent_at(request_type, sent), budget()) == why


@pytest.mark.parametrize(
    "message",
    [
        f"Stack with id {STACK_ID} does not exist",
        f"Resource {LOGICAL_ID} does not exist for stack Firmware",
    ],
)
def test_a_stack_or_resource_gone_is_no_longer_waited_for(clock: Clock, message: str) -> None:
    cloudformation = FakeCloudFormation(error("ValidationError", message, "DescribeStackResource"))

    assert lifecycle.unwaited(cloudformation, sent_at("Create"), budget()) == (
        f"the stack or its resource {LOGICAL_ID} no longer exists"
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationError", "1 validation error detected: Value at 'logicalResourceId'"),
        ("AccessDenied", "User is not authorized to perform: cloudformation:DescribeStackResource"),
    ],
)
def test_describe_stack_resource_refused_fails_the_request_saying_why(
    clock: Clock, code: str, message: str
) -> None:
    """Not knowing whether CloudFormation waits is no reason to go on as if it did not."""
    cloudformation = FakeCloudFormation(error(code, message, "DescribeStackResource"))

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.unwaited(cloudformation, sent_at("Update"), budget())

    assert str(failed.value) == (
        f"{code}: {message} (DescribeStackResource of {LOGICAL_ID}: the provider cannot tell "
        "whether CloudFormation still waits for this request)"
    )


def test_describe_stack_resource_throttled_is_retried(clock: Clock) -> None:
    throttled = error("Throttling", "Rate exceeded", "DescribeStackResource")
    cloudformation = FakeCloudFormation(throttled, ("CREATE_IN_PROGRESS", 0))

    assert lifecycle.unwaited(cloudformation, sent_at("Create"), budget()) is None
    assert len(cloudformation.calls) == 2


# ---------------------------------------------------------------------------------------------
# The rollout gate: DescribeJob read at its pace, the job cancelled when the gate fails
# ---------------------------------------------------------------------------------------------
def job(status: str = "IN_PROGRESS", **counts: int) -> dict[str, Any]:
    """DescribeJob's job: ``succeeded=3`` is ``numberOfSucceededThings``, and so on."""
    details = {f"numberOf{k.title().replace('_', '')}Things": n for k, n in counts.items()}
    return {"status": status, "jobProcessDetails": details}


GATE = lifecycle.RolloutGate(rollout.Gate.of(min_succeeded_percentage=90), 600)
CREATED = lifecycle.Outcome(ID, {api.ATTR_OTA_UPDATE_ID: ID})


def test_a_gate_reads_the_job_at_its_pace_until_it_passes(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [job(queued=10), job(succeeded=5, in_progress=5), job("COMPLETED", succeeded=10)]

    caplog.set_level(logging.INFO, logger=lifecycle.__name__)

    passed = lifecycle.watch_rollout(iot, CREATED, GATE, budget().gate(600), START - 1)

    assert passed == CREATED
    assert [r.getMessage() for r in caplog.records] == [
        "fw-1: COMPLETED after 72.0 s",
        "fw-1: rollout gate passed: succeeded>=90% holds: 10 of 10 executions (100.0%)",
    ]
    assert [at - START for op, _, at in iot.calls if op == "DescribeJob"] == [0, 36, 72]
    assert clock.bounds == [(0.8, 1.2), (0.8, 1.2)]  # 30 s, +-20 % (jitter 1.2 here)
    assert iot.called("CancelJob") == []


def test_a_failed_gate_cancels_its_job_naming_why(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [job(succeeded=5, failed=3, queued=2)]
    gate = lifecycle.RolloutGate(rollout.Gate.of(max_failed_percentage=10), 600)

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.watch_rollout(iot, CREATED, gate, budget().gate(600), START - 1)

    assert str(failed.value) == (
        "failed>10% holds: 3 of 10 executions (30.0%) (rollout gate of OTA update fw-1 failed; "
        "its job AFR_OTA-fw-1 cancelled; CloudFormation's rollback deletes it with its job)"
    )
    assert iot.called("CancelJob") == [
        {
            "jobId": "AFR_OTA-fw-1",
            "reasonCode": "ROLLOUT_GATE_FAILED",
            "comment": "The rollout gate of OTA update fw-1 failed",
        }
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO][-2:] == [
        "fw-1: rollout gate failed: failed>10% holds: 3 of 10 executions (30.0%)",
        "fw-1: job AFR_OTA-fw-1 cancelled",
    ]


FAILING = job(succeeded=5, failed=3, queued=2)
STRICT = lifecycle.RolloutGate(rollout.Gate.of(max_failed_percentage=10), 600)


@pytest.mark.parametrize(("sent_at", "judged"), [(START + 1, False), (START, True), (None, True)])
def test_a_job_made_before_the_request_was_sent_is_not_judged_again(
    clock: Clock, caplog: pytest.LogCaptureFixture, sent_at: float | None, judged: bool
) -> None:
    """CloudFormation's rollback to the previous OTA update: its job (made at START) is older
    than the request; one made as the request was sent, or of a request of unknown age, is
    judged."""
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [FAILING]

    if judged:
        with pytest.raises(lifecycle.Failure, match=r"^failed>10% holds"):
            lifecycle.watch_rollout(iot, CREATED, STRICT, budget().gate(600), sent_at)
    else:
        assert lifecycle.watch_rollout(iot, CREATED, STRICT, budget().gate(600), sent_at) == CREATED
        assert "fw-1: its job is older than the request: not judged again" in [
            r.getMessage() for r in caplog.records
        ]
    assert len(iot.called("CancelJob")) == int(judged)


@pytest.mark.parametrize("status", ["CANCELED", "COMPLETED"])
def test_a_job_that_ended_is_not_cancelled_again(clock: Clock, status: str) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [job(status, succeeded=5, canceled=5)]

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.watch_rollout(iot, CREATED, GATE, budget().gate(600), START - 1)

    assert str(failed.value) == (
        f"the job is {status}: succeeded>=90% does not hold: 5 of 10 executions (50.0%) (rollout "
        "gate of OTA update fw-1 failed; CloudFormation's rollback deletes it with its job)"
    )
    assert iot.called("CancelJob") == []


def test_a_throttled_gate_reads_its_job_half_as_often(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [job(queued=10), job("COMPLETED", succeeded=10)]
    iot.fail("DescribeJob", error("ThrottlingException", operation="DescribeJob"))

    lifecycle.watch_rollout(iot, CREATED, GATE, budget().gate(600), START - 1)

    assert [at - START for op, _, at in iot.calls if op == "DescribeJob"] == [0, 72, 144]


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (
            error("AccessDeniedException", "Denied", "CancelJob"),
            "AccessDeniedException: Denied",
        ),
        (
            error("ThrottlingException", operation="CancelJob"),
            "ThrottlingException: Rate exceeded (CancelJob of OTA update fw-1 still failing after "
            "0 s of retries; retry the deployment later)",
        ),
    ],
)
def test_a_failed_gate_whose_job_cannot_be_cancelled_says_so(
    clock: Clock, caplog: pytest.LogCaptureFixture, fault: Exception, problem: str
) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [FAILING]
    iot.fail("CancelJob", *[fault] * 10)

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.watch_rollout(iot, CREATED, STRICT, budget(retry_seconds=1).gate(600), None)

    assert str(failed.value) == (
        "failed>10% holds: 3 of 10 executions (30.0%) (rollout gate of OTA update fw-1 failed; "
        f"CancelJob of its job failed: {problem}; CloudFormation's rollback deletes it with its "
        "job)"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR][-1] == (
        f"fw-1: CancelJob of AFR_OTA-fw-1 failed: {problem}"
    )


def test_a_gate_whose_job_is_gone_fails_saying_so(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, "CREATE_COMPLETE")

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.watch_rollout(iot, CREATED, GATE, budget().gate(600), START - 1)

    assert str(failed.value).startswith("its job AFR_OTA-fw-1 does not exist")
    assert "fw-1: gone after 0.0 s" in [r.getMessage() for r in caplog.records]
    assert iot.called("CancelJob") == []


def test_a_gate_whose_job_cannot_be_read_names_the_call(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [FAILING]
    iot.fail("DescribeJob", error("AccessDeniedException", "Denied", "DescribeJob"))

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.watch_rollout(iot, CREATED, GATE, budget().gate(600), START - 1)

    assert str(failed.value) == "AccessDeniedException: Denied (DescribeJob of job AFR_OTA-fw-1)"


def test_a_gate_whose_job_never_could_be_read_times_out_saying_so(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [FAILING]
    iot.fail("DescribeJob", *[error("ThrottlingException", operation="DescribeJob")] * 100)
    gate = lifecycle.RolloutGate(GATE.judge, 100)

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.watch_rollout(iot, CREATED, gate, budget(retry_seconds=1000).gate(100), None)

    assert str(failed.value) == (
        "job AFR_OTA-fw-1 could not be read (rollout gate of OTA update fw-1 timed out after "
        "100 s; CloudFormation's rollback deletes it with its job)"
    )


def test_the_last_invocation_of_a_gate_gives_up_naming_its_hand_overs(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [job(queued=10)]
    last = lifecycle.Budget(START + 50, START + 600, api.Settings(), 20, gating=True)

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.watch_rollout(iot, CREATED, GATE, last, START - 1)

    assert str(failed.value) == (
        "not yet: succeeded>=90% does not hold: 0 of 10 executions (0.0%) (rollout gate of OTA "
        "update fw-1 gave up after 20 hand-overs (OTA_MAX_HANDOVERS=20); its job AFR_OTA-fw-1 "
        "cancelled; CloudFormation's rollback deletes it with its job)"
    )


def test_a_gate_times_out_its_own_timeout_after_it_started(clock: Clock) -> None:
    """The gate's bound counts from when it starts (the creation's time is not taken from it)."""
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.jobs = [job(queued=10)]
    clock.now += 500  # the creation took 500 s of the request's budget
    gate = lifecycle.RolloutGate(GATE.judge, 100)

    with pytest.raises(lifecycle.Failure, match=r"timed out after 100 s"):
        lifecycle.watch_rollout(iot, CREATED, gate, budget(10_000).gate(100), START - 1)
    reads = [at - START for op, _, at in iot.calls if op == "DescribeJob"]
    assert reads[0] == 500 and 600 - 36 < reads[-1] <= 600


# ---------------------------------------------------------------------------------------------
# Whole Reasons
# ---------------------------------------------------------------------------------------------
def test_failed_creation_is_discarded_with_its_stream_and_job(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_FAILED", "DELETE_IN_PROGRESS", GONE)
    iot.error_info = {"code": "SigningFailed", "message": "Signing failed"}

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot)

    assert str(failed.value) == (
        "Signing failed (OTA update fw-1 is CREATE_FAILED SigningFailed); "
        "OTA update fw-1 was deleted"
    )
    assert iot.called("DeleteOTAUpdate") == [
        {"otaUpdateId": ID, "deleteStream": True, "forceDeleteAWSJob": True}
    ]


def test_failed_creation_without_error_info_says_so(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_FAILED", GONE)

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot)

    assert str(failed.value) == (
        "no error message from the service (OTA update fw-1 is CREATE_FAILED); "
        "OTA update fw-1 was deleted"
    )


def test_discard_that_fails_says_how(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    iot = FakeIot(clock, "CREATE_FAILED", "DELETE_FAILED")
    iot.error_info = {"message": "Stream in use"}

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot)

    left = (
        "Stream in use (OTA update fw-1 is DELETE_FAILED): it is left, with its job AFR_OTA-fw-1; "
        "once the cause is fixed, retry (or run aws iot delete-ota-update --ota-update-id fw-1 "
        "--force-delete-aws-job --delete-stream)"
    )
    assert str(failed.value) == (
        f"Stream in use (OTA update fw-1 is CREATE_FAILED); deleting it failed: {left}"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"fw-1: deleting the failed OTA update failed: {left}"
    ]


def test_creation_that_disappears_fails_saying_so(clock: Clock) -> None:
    iot = FakeIot(clock, GONE)

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot)

    assert str(failed.value) == "OTA update fw-1 disappeared while it was being created"


def test_several_violations_are_joined(clock: Clock) -> None:
    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.teardown_flags({api.DELETE_STREAM: "maybe", api.FORCE_DELETE_AWS_JOB: "no"})

    assert str(failed.value).count("; ") == 1
    assert str(failed.value).startswith("Invalid properties: deleteStream = 'maybe' is invalid")
    assert "; forceDeleteAWSJob = 'no' is invalid" in str(failed.value)


# ---------------------------------------------------------------------------------------------
# Log lines (what an operator reads in the function's log group)
# ---------------------------------------------------------------------------------------------
def test_the_lifecycle_logs_each_step(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, "CREATE_PENDING", "CREATE_COMPLETE", "CREATE_COMPLETE", GONE)

    create(iot)
    lifecycle.delete(iot, ID, {api.FORCE_DELETE_AWS_JOB: "true"}, OWNER, budget())
    lifecycle.delete(FakeIot(clock, GONE), ID, {}, OWNER, budget())
    lifecycle.delete(FakeIot(clock, "CREATE_COMPLETE", tags={}), ID, {}, OWNER, budget())
    lifecycle.delete(FakeIot(clock, GONE), "Firmware_FirmwareOta_SAHVEJSH!", {}, OWNER, budget())

    assert [r.getMessage() for r in caplog.records] == [
        "fw-1: CreateOTAUpdate accepted, CREATE_PENDING",
        "fw-1: CREATE_COMPLETE after 0.6 s",
        "fw-1: DeleteOTAUpdate accepted (forceDeleteAWSJob=True)",
        "fw-1: gone after 0.0 s",
        "fw-1: does not exist, nothing to delete",
        "fw-1: not created by this resource, left untouched",
        "Firmware_FirmwareOta_SAHVEJSH!: not an OTA update id (no OTA update was created), "
        "nothing to delete",
    ]


def test_each_kind_of_request_logs_what_it_did(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    tags = [{"Key": "team", "Value": "fw"}, {"Key": "stage", "Value": "beta"}]
    tagged = lifecycle.Request({**REQUEST.body, "tags": tags})
    iot = FakeIot(clock, "CREATE_COMPLETE", tags=owned(REQUEST, old="x", older="y"))
    iot.fail("CreateOTAUpdate", *[error("ResourceAlreadyExistsException", "Taken")] * 2)

    lifecycle.create(iot, tagged, OWNER, budget())  # a repeated delivery, retagged
    lifecycle.create(iot, tagged, OWNER, budget())  # the same again: tags as wanted
    lifecycle.update(iot, tagged, tagged, ID, OWNER, budget())
    added = lifecycle.Request({**REQUEST.body, "tags": tags[:1]})
    lifecycle.update(FakeIot(clock, "CREATE_COMPLETE"), added, REQUEST, ID, OWNER, budget())
    removing = FakeIot(clock, "CREATE_COMPLETE", tags=owned(REQUEST, old="x"))
    lifecycle.update(removing, REQUEST, added, ID, OWNER, budget())
    lifecycle.update(FakeIot(clock, "CREATE_COMPLETE"), REQUEST, tagged, "fw-0", OWNER, budget())
    gone = FakeIot(clock, "CREATE_COMPLETE")
    gone.fail("ListTagsForResource", error("ResourceNotFoundException", "Gone"))
    lifecycle.delete(gone, ID, {}, OWNER, budget())
    flags = {api.DELETE_STREAM: "false", api.FORCE_DELETE_AWS_JOB: "true"}
    lifecycle.delete(FakeIot(clock, "CREATE_COMPLETE", GONE), ID, flags, OWNER, budget())
    lifecycle.delete(FakeIot(clock, "CREATE_COMPLETE", GONE), ID, {}, OWNER, budget())

    assert [r.getMessage() for r in caplog.records] == [
        "fw-1: already created by this resource (repeated delivery), CREATE_COMPLETE",
        "fw-1: tags changed in place, set: team, stage; removed: old, older",
        "fw-1: CREATE_COMPLETE after 0.0 s",
        "fw-1: already created by this resource (repeated delivery), CREATE_COMPLETE",
        "fw-1: CREATE_COMPLETE after 0.0 s",
        "fw-1: only the teardown flags changed, nothing to call",
        "fw-1: tags changed in place, set: team; removed: none",
        "fw-1: tags changed in place, set: none; removed: old",
        "fw-0: request changed, replacing it with fw-1",
        "fw-1: CreateOTAUpdate accepted, CREATE_PENDING",
        "fw-1: CREATE_COMPLETE after 0.0 s",
        "fw-1: gone meanwhile, nothing to delete",
        "fw-1: DeleteOTAUpdate accepted (deleteStream=False, forceDeleteAWSJob=True)",
        "fw-1: gone after 0.0 s",
        "fw-1: DeleteOTAUpdate accepted (default flags)",
        "fw-1: gone after 0.0 s",
    ]


# ---------------------------------------------------------------------------------------------
# Tags: the request's digest, tags without a value, pages, the service's limit
# ---------------------------------------------------------------------------------------------
def test_the_request_digest_is_the_sha256_of_its_canonical_json_without_tags() -> None:
    """OTA updates made by earlier versions carry it: it must not change."""
    tagged = lifecycle.Request(
        {**REQUEST.body, "tags": [{"Key": "team", "Value": "fw"}], "description": "é"}
    )
    canonical = '{"description":"\\u00e9","otaUpdateId":"fw-1","targets":["arn:aws:iot:::thing/t"]}'

    assert tagged.digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_tag_without_a_value_has_the_empty_value(clock: Clock) -> None:
    tagged = lifecycle.Request({**REQUEST.body, "tags": [{"Key": "team"}]})
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.tags.append({"Key": "team"})

    lifecycle.update(iot, tagged, REQUEST, ID, OWNER, budget())

    assert tagged.user_tags == {"team": ""}
    assert iot.called("TagResource") == iot.called("UntagResource") == []


def test_ownership_is_read_from_every_page_of_tags(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE", GONE, tags={"a": "1", "b": "2", **owned(REQUEST)})
    iot.page_size = 2

    assert lifecycle.delete(iot, ID, {}, OWNER, budget()) == lifecycle.Outcome(ID)
    assert iot.called("ListTagsForResource") == [
        {"resourceArn": ARN},
        {"resourceArn": ARN, "nextToken": "2"},
        {"resourceArn": ARN, "nextToken": "4"},
    ]
    assert len(iot.called("DeleteOTAUpdate")) == 1


@pytest.mark.parametrize(
    ("kept", "order"),
    [(46, ["TagResource", "UntagResource"]), (47, ["UntagResource", "TagResource"])],
)
def test_tags_are_removed_first_only_when_adding_first_would_pass_the_limit(
    clock: Clock, kept: int, order: list[str]
) -> None:
    """With ``kept`` user tags, one replaced by a new key: 3 + ``kept`` + 1 tags if added first."""
    have = {f"k{i}": "v" for i in range(kept)}
    wanted = {**{f"k{i}": "v" for i in range(1, kept)}, "new": "v"}
    old = lifecycle.Request({**REQUEST.body, "tags": [{"Key": k, "Value": "v"} for k in have]})
    new = lifecycle.Request({**REQUEST.body, "tags": [{"Key": k, "Value": "v"} for k in wanted]})
    iot = FakeIot(clock, "CREATE_COMPLETE", tags=owned(new, **have))

    lifecycle.update(iot, new, old, ID, OWNER, budget())

    assert [op for op, _, _ in iot.calls if op in order] == order
    assert iot.called("TagResource") == [
        {"resourceArn": ARN, "tags": [{"Key": "new", "Value": "v"}]}
    ]
    assert iot.called("UntagResource") == [{"resourceArn": ARN, "tagKeys": ["k0"]}]


def test_the_data_of_an_ota_update_without_a_job_names_none(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.job = False

    assert create(iot).data == {
        api.ATTR_OTA_UPDATE_ID: ID,
        api.ATTR_OTA_UPDATE_ARN: ARN,
        api.ATTR_AWS_IOT_JOB_ID: "",
        api.ATTR_AWS_IOT_JOB_ARN: "",
        api.ATTR_OTA_UPDATE_STATUS: "CREATE_COMPLETE",
    }


# ---------------------------------------------------------------------------------------------
# More whole Reasons
# ---------------------------------------------------------------------------------------------
def test_a_taken_id_fails_naming_it(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE", tags={"team": "other"})
    iot.fail("CreateOTAUpdate", error("ResourceAlreadyExistsException", "Taken"))

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot)

    assert str(failed.value) == (
        "ResourceAlreadyExists: otaUpdateId fw-1 is taken by an OTA update that this resource "
        "did not create from this request; it is left untouched: choose another otaUpdateId"
    )
    assert iot.called("TagResource") == iot.called("DeleteOTAUpdate") == []


def test_a_taken_id_that_is_gone_meanwhile_fails_the_same(clock: Clock) -> None:
    iot = FakeIot(clock, GONE)
    iot.fail("CreateOTAUpdate", error("ResourceAlreadyExistsException", "Taken"))

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot)

    assert str(failed.value).startswith("ResourceAlreadyExists: otaUpdateId fw-1 is taken")
    assert iot.called("ListTagsForResource") == []


def test_update_of_an_ota_update_that_is_gone_fails_saying_so(clock: Clock) -> None:
    tagged = lifecycle.Request({**REQUEST.body, "tags": [{"Key": "team", "Value": "fw"}]})

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.update(FakeIot(clock, GONE), tagged, REQUEST, ID, OWNER, budget())

    assert str(failed.value) == (
        "OTA update fw-1 does not exist (deleted outside CloudFormation?): give the OtaUpdate a "
        "new otaUpdateId to have it created again"
    )


def test_update_of_an_ota_update_of_someone_else_fails_saying_so(clock: Clock) -> None:
    tagged = lifecycle.Request({**REQUEST.body, "tags": [{"Key": "team", "Value": "fw"}]})
    iot = FakeIot(clock, "CREATE_COMPLETE", tags={})

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.update(iot, tagged, REQUEST, ID, OWNER, budget())

    assert str(failed.value) == (
        f"OTA update fw-1 was not created by this resource (FirmwareOta of stack {STACK_ID}): "
        "it is left untouched, its tags too"
    )
    assert iot.called("TagResource") == []


@pytest.mark.parametrize("status", ["CREATE_FAILED", "CREATE_COMPLETE"])
def test_a_changed_request_under_the_same_id_fails_asking_for_a_new_id(
    clock: Clock, status: str
) -> None:
    changed = lifecycle.Request(
        {**REQUEST.body, "description": "2.0", "targetSelection": "CONTINUOUS"}
    )
    # made from the changed request, but failed; or complete, made from the old request
    iot = FakeIot(clock, status, tags=owned(changed if status == "CREATE_FAILED" else REQUEST))

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.update(iot, changed, REQUEST, ID, OWNER, budget())

    assert str(failed.value) == (
        "otaUpdateId fw-1 is unchanged but the request changed (description, targetSelection): "
        "OTA updates are immutable, so give the OtaUpdate a new otaUpdateId (or omit it to have "
        "one derived)"
    )


def test_a_role_replaced_under_the_same_id_fails_saying_how_to_replace_it(clock: Clock) -> None:
    """CloudFormation replaces a role whose name or path changes; the derived id, which covers
    the role's logical id, stays: the Reason names roleArn and the way out."""
    replaced = lifecycle.Request(
        {
            **REQUEST.body,
            "roleArn": "arn:aws:iam::123456789012:role/ota-v2",
            "tags": [{"Key": "team", "Value": "firmware"}],  # changes in place: not named
        }
    )
    iot = FakeIot(clock, "CREATE_COMPLETE", tags=owned(REQUEST))

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.update(iot, replaced, REQUEST, ID, OWNER, budget())

    assert str(failed.value) == (
        "otaUpdateId fw-1 is unchanged but the request changed (roleArn): OTA updates are "
        "immutable, so give the OtaUpdate a new otaUpdateId (or omit it to have one derived); a "
        "role that CloudFormation replaced (a new name or path) leaves a derived id "
        "as it was: change the OtaUpdate's description with it"
    )
    assert iot.called("TagResource") == []


def test_a_deletion_refused_for_good_fails_naming_it(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("DeleteOTAUpdate", error("UnauthorizedException", "Denied", "DeleteOTAUpdate"))

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.delete(iot, ID, {}, OWNER, budget())

    assert str(failed.value) == "UnauthorizedException: Denied (DeleteOTAUpdate of OTA update fw-1)"
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "InternalFailureException",
        "ServiceUnavailableException",
        "Throttling",
        "InternalFailure",
        "InternalError",
        "InternalServerException",
        "ServiceUnavailable",
    ],
)
def test_a_deletion_the_service_failed_for_a_transient_cause_is_started_again(
    clock: Clock, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE", "DELETE_FAILED", "DELETE_IN_PROGRESS", GONE)
    iot.error_info = {"code": code, "message": "try again"}

    assert lifecycle.delete(iot, ID, {}, OWNER, budget()) == lifecycle.Outcome(ID)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"fw-1: {code}, deleting it again in 1.0 s"  # the backoff of a first retry, at its longest
    ]
    calls = [(operation, at) for operation, _, at in iot.calls]
    again = [i for i, (operation, _) in enumerate(calls) if operation == "DeleteOTAUpdate"][1]
    assert calls[again - 1][0] == "GetOTAUpdate"  # the poll that saw DELETE_FAILED, then 1 s
    assert calls[again][1] - calls[again - 1][1] == 1.0


@pytest.mark.parametrize("code", ["AccessDeniedException", "InvalidRequestException", None])
def test_a_deletion_the_service_failed_for_another_cause_is_left_naming_it(
    clock: Clock, code: str | None
) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE", "DELETE_FAILED")
    iot.error_info = {"message": "Stream in use"} | ({"code": code} if code else {})

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.delete(iot, ID, {}, OWNER, budget())

    status = "DELETE_FAILED" if code is None else f"DELETE_FAILED {code}"
    assert str(failed.value).startswith(f"Stream in use (OTA update fw-1 is {status}): it is left")
    assert len(iot.called("DeleteOTAUpdate")) == 1


def test_a_deletion_failed_once_the_bound_on_waiting_is_reached_is_left(clock: Clock) -> None:
    """A transient DELETE_FAILED seen at the very moment the request's bound on waiting passes
    (the first poll is at once) is not started again."""
    iot = FakeIot(clock, "CREATE_COMPLETE", "DELETE_FAILED")
    iot.error_info = {"code": "InternalFailure", "message": "try again"}

    with pytest.raises(lifecycle.Failure, match=r"^try again \(OTA update fw-1 is DELETE_FAILED"):
        lifecycle.delete(iot, ID, {}, OWNER, budget(give_up=0.0))
    assert [at - START for op, _, at in iot.calls if op == "GetOTAUpdate"] == [0.0, 0.0]
    assert len(iot.called("DeleteOTAUpdate")) == 1


def test_a_failed_creation_whose_deletion_outlasts_the_invocation_is_handed_over(
    clock: Clock,
) -> None:
    iot = FakeIot(clock, "CREATE_FAILED", "DELETE_IN_PROGRESS")

    assert create(iot, budget(5.0)) == lifecycle.Outcome(ID, settled=False)
    assert len(iot.called("DeleteOTAUpdate")) == 1


def test_retries_past_the_last_invocation_fail_rather_than_hand_over(clock: Clock) -> None:
    """The invocation that may not hand over (20 hand-overs spent) stops at its end with the
    retries' Reason, however long the retries could have gone on."""
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("DeleteOTAUpdate", *[error("ThrottlingException", operation="DeleteOTAUpdate")] * 9)

    with pytest.raises(lifecycle.Failure, match=r"^ThrottlingException: .*still failing"):
        lifecycle.delete(iot, ID, {}, OWNER, budget(1.0, retry_seconds=100, handovers=20))
    assert clock.sleeps == [0.5]


@pytest.mark.parametrize(("handovers", "handed_over"), [(0, True), (20, False)])
def test_a_pause_before_deleting_again_that_does_not_fit_the_invocation_hands_over(
    clock: Clock, handovers: int, handed_over: bool
) -> None:
    """The first retry's backoff (1 s at its longest) from a DELETE_FAILED seen as the invocation
    has exactly 1 s left: the next invocation deletes again; the last one may not, and fails."""
    iot = FakeIot(clock, "CREATE_COMPLETE", "DELETE_FAILED")
    iot.error_info = {"code": "InternalFailure", "message": "try again"}
    within = budget(1.0, handovers=handovers)

    if handed_over:
        assert lifecycle.delete(iot, ID, {}, OWNER, within) == lifecycle.Outcome(ID, settled=False)
    else:
        with pytest.raises(
            lifecycle.Failure, match=r"^try again \(OTA update fw-1 is DELETE_FAILED"
        ):
            lifecycle.delete(iot, ID, {}, OWNER, within)
    assert (len(iot.called("DeleteOTAUpdate")), clock.sleeps) == (1, [])


def test_an_update_in_place_that_cannot_read_the_ota_update_in_its_invocation_fails(
    clock: Clock,
) -> None:
    """An update in place answers in its invocation (no hand-over): throttled past its end, it
    fails naming the call."""
    iot = FakeIot(clock, "CREATE_COMPLETE")
    iot.fail("GetOTAUpdate", *[error("ThrottlingException")] * 9)
    tagged = lifecycle.Request({**REQUEST.body, "tags": [{"Key": "team", "Value": "fw"}]})

    with pytest.raises(lifecycle.Failure) as failed:
        lifecycle.update(iot, tagged, REQUEST, ID, OWNER, budget(1.0, retry_seconds=100))

    assert str(failed.value) == (
        "ThrottlingException: Rate exceeded (GetOTAUpdate of OTA update fw-1 still failing after "
        "0 s of retries; retry the deployment later)"
    )
    assert iot.called("TagResource") == []


def test_a_deletion_refused_as_not_found_is_done(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE", GONE)
    iot.fail("DeleteOTAUpdate", error("ResourceNotFoundException", "Gone"))

    assert lifecycle.delete(iot, ID, {}, OWNER, budget()) == lifecycle.Outcome(ID)
    assert [operation for operation, _, _ in iot.calls] == [
        "GetOTAUpdate",
        "ListTagsForResource",
        "DeleteOTAUpdate",
        "GetOTAUpdate",  # the wait's first poll: gone
    ]


def test_a_deletion_refused_while_another_is_under_way_waits_for_that_one(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=lifecycle.__name__)
    iot = FakeIot(clock, "CREATE_COMPLETE", "DELETE_IN_PROGRESS", GONE)
    iot.fail("DeleteOTAUpdate", error("InvalidRequestException", "Being deleted"))

    assert lifecycle.delete(iot, ID, {}, OWNER, budget()) == lifecycle.Outcome(ID)
    assert len(iot.called("DeleteOTAUpdate")) == 1
    logged = [r.getMessage() for r in caplog.records]
    assert (
        "fw-1: DeleteOTAUpdate refused (InvalidRequestException): already being deleted" in logged
    )
    assert not any("DeleteOTAUpdate accepted" in m for m in logged)


def test_a_deletion_refused_by_an_ota_update_gone_meanwhile_is_done(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE", GONE)
    iot.fail("DeleteOTAUpdate", error("InvalidRequestException", "Being deleted"))

    assert lifecycle.delete(iot, ID, {}, OWNER, budget()) == lifecycle.Outcome(ID)
    assert len(iot.called("DeleteOTAUpdate")) == 1


def test_a_connection_that_keeps_failing_is_named_in_the_reason(clock: Clock) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE")
    url = "https://iot.us-east-1.amazonaws.com/otaUpdates/fw-1"
    iot.fail("CreateOTAUpdate", *[EndpointConnectionError(endpoint_url=url)] * 10)

    with pytest.raises(lifecycle.Failure) as failed:
        create(iot, budget(retry_seconds=4))

    assert str(failed.value) == (
        f'Could not connect to the endpoint URL: "{url}" (CreateOTAUpdate of OTA update fw-1 '
        "still failing after 4 s of retries; retry the deployment later)"
    )


@pytest.mark.parametrize(
    ("operation", "request_type"),
    [
        ("GetOTAUpdate", "Delete"),
        ("ListTagsForResource", "Delete"),
        ("DeleteOTAUpdate", "Delete"),
        ("TagResource", "Update"),
        ("UntagResource", "Update"),
    ],
)
def test_each_retried_call_is_named_when_it_keeps_failing(
    clock: Clock, operation: str, request_type: str
) -> None:
    iot = FakeIot(clock, "CREATE_COMPLETE", tags=owned(REQUEST, old="x"))
    iot.fail(operation, *[error("ThrottlingException")] * 100)
    tagged = lifecycle.Request({**REQUEST.body, "tags": [{"Key": "team", "Value": "fw"}]})

    with pytest.raises(lifecycle.Failure) as failed:
        if request_type == "Delete":
            lifecycle.delete(iot, ID, {}, OWNER, budget(retry_seconds=4))
        else:
            lifecycle.update(iot, tagged, REQUEST, ID, OWNER, budget(retry_seconds=4))

    assert str(failed.value) == (
        f"ThrottlingException: Rate exceeded ({operation} of OTA update fw-1 still failing after "
        "4 s of retries; retry the deployment later)"
    )
