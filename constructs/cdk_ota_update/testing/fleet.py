"""A simulated fleet: devices that work through the executions of IoT jobs, on a simulated clock.

:func:`simulate_fleet` makes the things of a job (or of every job) devices that take their
execution QUEUED -> IN_PROGRESS -> SUCCEEDED / FAILED / REJECTED, or leave it IN_PROGRESS until the
job's timeout makes it TIMED_OUT, each at a pace and with an outcome drawn from a seed or
scripted per thing. Nothing moves until :func:`advance_fleet` moves the simulated clock, so a test
never sleeps and the same seed gives the same history.

The service's side follows the AWS IoT Core Developer Guide, "How job configurations work" (job
rollout, scheduling and abort configurations; job execution timeout and retry configurations),
"Job rollout and abort configuration", and the API reference (JobExecutionsRolloutConfig,
ExponentialRolloutRate, AbortCriteria, TimeoutConfig, JobProcessDetails, CancelJob):

- rollout: at most ``maximumPerMinute`` things (1000 when not given) are notified per minute,
  in minutes counted from when the fleet took the job; with ``exponentialRate`` the rate starts at
  ``baseRatePerMinute`` and is multiplied by ``incrementFactor`` each time another
  ``numberOfNotifiedThings`` things were notified (or ``numberOfSucceededThings`` succeeded),
  up to ``maximumPerMinute``. A device starts its execution once notified.
- abort: after each execution that ends (SUCCEEDED, FAILED, REJECTED, TIMED_OUT: the executed
  things), a criterion is met when at least ``minNumberOfExecutedThings`` things were executed and
  at least ``thresholdPercentage`` % of them ended in its ``failureType`` (ALL: any of the three
  failures). The job is then CANCELED, with an automated ``reasonCode`` (:data:`ABORT_REASON_CODE`)
  and ``comment``; its QUEUED executions are CANCELED, those IN_PROGRESS are not ("only QUEUED job
  executions are canceled"): their devices still finish them.
- timeout: an execution IN_PROGRESS for longer than ``inProgressTimeoutInMinutes`` is TIMED_OUT
  (a device reporting at that very moment is in time).
- a thing that is deleted, or leaves the targeted thing group, while its execution is not done
  makes it REMOVED; a thing joining a targeted group of a CONTINUOUS job gets an execution at once
  (not rate-limited).
- a job whose executions all ended is COMPLETED (a SNAPSHOT job: a CONTINUOUS one stays
  IN_PROGRESS); a CancelJob (moto's) cancels the QUEUED executions, and with ``force`` the
  IN_PROGRESS ones too.

What the read APIs answer follows: DescribeJob's ``status`` and ``jobProcessDetails`` (each
status counted, ``numberOfTimedOutThings`` included; ``processingTargets`` until every target was
notified), ListJobExecutionsForJob (and its ``status`` filter), DescribeJobExecution
(``startedAt`` once started, ``approximateSecondsBeforeTimedOut`` while IN_PROGRESS under a
timeout, ``versionNumber`` counting the updates). The AWS IoT Jobs metrics of each job (namespace
``AWS/IoT``, dimension ``JobId``, :data:`cdk_ota_update.job_metrics.JOB_METRICS`) go into moto's
CloudWatch: at each whole minute of the simulated clock that ends while the job has executions
to run (and the minute its last one ended), one data point per metric, timestamped with the
minute's start: ``<Status>JobExecutionCount`` the executions that changed to the status within
the minute, ``<Status>JobExecutionTotalCount`` the job's executions in it at the minute's end.

Jobs no fleet simulates are moto's, unchanged. The fleet does not apply a job's retry or
scheduling configuration (the OTA update's job has neither).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.utils import utcnow
from moto.iot.exceptions import InvalidRequestException, ResourceNotFoundException
from moto.iot.models import FakeJob, FakeJobExecution, IoTBackend, iot_backends

from cdk_ota_update.job_metrics import JOB_ID_DIMENSION, JOB_METRICS, NAMESPACE

from . import controls
from .backend import (
    expand_executions,
    job_executions,
    job_process_details,
    ota_backend,
    target_things,
)

# What a simulated device does with its execution. TIMED_OUT: it never reports, and the
# execution stays IN_PROGRESS until the job's timeout (if it has one) makes it TIMED_OUT.
OUTCOMES = ("SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT")
# The executions that count as executed things for the abort configuration.
EXECUTED = ("SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT")
TERMINAL = (*EXECUTED, "CANCELED", "REMOVED")
FAILURE_TYPES: Mapping[str, tuple[str, ...]] = {
    "FAILED": ("FAILED",),
    "REJECTED": ("REJECTED",),
    "TIMED_OUT": ("TIMED_OUT",),
    "ALL": ("FAILED", "REJECTED", "TIMED_OUT"),
}
DEFAULT_MAXIMUM_PER_MINUTE = 1000  # JobExecutionsRolloutConfig's documented default
# AWS documents that an abort sets an automated reasonCode and comment, not their words.
ABORT_REASON_CODE = "JOB_ABORT_CRITERIA_MET"
STARTABLE = ("QUEUED", "IN_PROGRESS")  # the job statuses a fleet takes a job in
MINUTE = 60.0


@dataclass(frozen=True)
class Pace:
    """How long a simulated device takes, in simulated seconds.

    :param start_after: from being notified of its execution to IN_PROGRESS.
    :param finish_after: from IN_PROGRESS to reporting its outcome.
    :param jitter: each device's two durations are drawn (from the fleet's seed) between
        ``1 - jitter`` and ``1 + jitter`` times these; 0 (the default) gives every device the same.
    """

    start_after: float = 60.0
    finish_after: float = 240.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        for name in ("start_after", "finish_after"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Pace.{name} must be 0 or more seconds, not {value}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"Pace.jitter must be from 0 to 1, not {self.jitter}")

    def draw(self, seconds: float, rng: random.Random) -> float:
        factor = rng.uniform(1 - self.jitter, 1 + self.jitter)
        return round(seconds * factor, 3) if self.jitter else seconds


@dataclass(frozen=True)
class FakeFleet:
    """What :func:`simulate_fleet` was asked for: the devices' outcomes and pace."""

    outcomes: tuple[tuple[str, float], ...]
    script: Mapping[str, str]
    seed: int | str
    pace: Pace

    def device(self, job_id: str, thing_name: str, thing_arn: str) -> FakeDevice:
        """The device ``thing_name`` as it works on ``job_id``: drawn from the seed, the job and
        the thing alone, so that it does not depend on the other things or on the order."""
        rng = random.Random(f"{self.seed}/{job_id}/{thing_name}")
        names = [name for name, _ in self.outcomes]
        drawn = rng.choices(names, weights=[weight for _, weight in self.outcomes])[0]
        return FakeDevice(
            thing_name,
            thing_arn,
            outcome=self.script.get(thing_name, drawn),
            start_after=self.pace.draw(self.pace.start_after, rng),
            finish_after=self.pace.draw(self.pace.finish_after, rng),
        )


@dataclass
class FakeDevice:
    """A thing of the fleet and its work on one execution (times on the simulated clock)."""

    thing_name: str
    thing_arn: str
    outcome: str
    start_after: float
    finish_after: float
    status: str = "QUEUED"  # the execution's, as the fleet last set or saw it
    notified_at: float | None = None
    started_at: float | None = None
    timeout_at: float | None = None
    existed: bool = True  # the thing existed when the execution was created

    @property
    def report_at(self) -> float | None:
        """When the device reports its outcome (never, for a device that hangs)."""
        if self.started_at is None or self.outcome == "TIMED_OUT":
            return None
        return self.started_at + self.finish_after

    def next_event(self) -> tuple[float, int] | None:
        """(when, 0) of its next report or timeout, (when, 1) of its start, None if neither."""
        if self.status == "QUEUED" and self.notified_at is not None:
            return self.notified_at + self.start_after, 1
        if self.status == "IN_PROGRESS":
            times = [t for t in (self.report_at, self.timeout_at) if t is not None]
            return (min(times), 0) if times else None
        return None


class FakeFleetJob:
    """A fleet working through one job's executions."""

    def __init__(self, iot: IoTBackend, job: FakeJob, fleet: FakeFleet, now: float) -> None:
        self.iot = iot
        self.job = job
        self.fleet = fleet
        self.began = now
        self.minutes = 0  # rollout minutes begun
        self.devices: dict[str, FakeDevice] = {}
        self.changes: Counter[str] = Counter()  # status changes within the current minute
        self.canceled = False
        self.ended = False  # the job is gone: nothing more to do
        expand_executions(iot, job)
        if job.status == "QUEUED":
            job.status = "IN_PROGRESS"  # the service's jobs start IN_PROGRESS
        for name, execution in job_executions(iot, job.job_id).items():
            self._add(name, execution, now)

    @property
    def job_id(self) -> str:
        job_id: str = self.job.job_id
        return job_id

    # -- the state of the job ---------------------------------------------------------------
    def sync(self, now: float) -> None:
        """Take in what happened outside the fleet: the job deleted or canceled, executions
        canceled or deleted, things deleted or moved between thing groups."""
        if self.ended:
            return
        if self.iot.jobs.get(self.job_id) is not self.job or self.job.status not in (
            *STARTABLE,
            "CANCELED",
            "COMPLETED",
        ):
            self.ended = True
            return
        executions = job_executions(self.iot, self.job_id)
        for name in list(self.devices):
            execution = executions.get(name)
            if execution is None:
                del self.devices[name]
            elif execution.status != self.devices[name].status:  # CancelJobExecution
                self.devices[name].status = execution.status
                self.changes[execution.status] += 1
        if self.job.status == "CANCELED" and not self.canceled:
            self._cancel(now, force=bool(self.job.force))
        targeted = target_things(self.iot, self.job.targets)
        for device in self.devices.values():
            if device.status not in TERMINAL and not self._targets(device, targeted):
                self._move(device, "REMOVED", now)
        if self.job.target_selection == "CONTINUOUS" and self.job.status == "IN_PROGRESS":
            for name, arn in targeted.items():
                if name not in self.devices:
                    execution = FakeJobExecution(self.job_id, arn)
                    self.iot.job_executions[(self.job_id, name)] = execution
                    self._add(name, execution, now).notified_at = now

    def _targets(self, device: FakeDevice, targeted: Mapping[str, str]) -> bool:
        """Whether the job still targets the device's thing."""
        deleted = device.existed and device.thing_arn not in self.iot.things
        return device.thing_name in targeted and not deleted

    def _add(self, name: str, execution: FakeJobExecution, now: float) -> FakeDevice:
        device = self.fleet.device(self.job_id, name, execution.thing_arn)
        device.existed = execution.thing_arn in self.iot.things
        device.status = execution.status
        if execution.status == "QUEUED":
            execution.queued_at = execution.last_updated_at = clock_time(now)
            _update(execution, started_at=None, approximate_seconds_before_time_out=None)
            self.changes["QUEUED"] += 1
        elif execution.status == "IN_PROGRESS":
            device.notified_at = device.started_at = now
            device.timeout_at = self._timeout_at(now)
        self.devices[name] = device
        return device

    # -- the clock --------------------------------------------------------------------------
    def next_time(self) -> float | None:
        """When the fleet next does something on this job, if ever."""
        if self.ended:
            return None
        times = [event[0] for d in self.devices.values() if (event := d.next_event())]
        if self._waiting():
            times.append(self.began + self.minutes * MINUTE)
        return min(times, default=None)

    def step(self, now: float) -> None:
        """Everything due by ``now``, in time order: at the same time, the devices' reports and
        timeouts (each followed by the abort check) before their starts, each kind in the
        things' order; then the rollout's next minute; again until nothing is due."""
        if self.ended:
            return
        while True:
            due = sorted(
                (event, index, name)
                for index, (name, device) in enumerate(self.devices.items())
                if (event := device.next_event()) and event[0] <= now
            )
            for event, _, name in due:
                device = self.devices.get(name)
                if device and device.next_event() == event:  # not changed by an earlier one
                    self._fire(device, now)
            rolled = self._waiting() and self.began + self.minutes * MINUTE <= now
            if rolled:
                self._roll_out(now)
            if not due and not rolled:
                break
        self._complete(now)

    def _fire(self, device: FakeDevice, now: float) -> None:
        if device.status == "QUEUED":
            self._move(device, "IN_PROGRESS", now)
            return
        report = device.report_at
        timed_out = device.timeout_at is not None and (report is None or device.timeout_at < report)
        self._move(device, "TIMED_OUT" if timed_out else device.outcome, now)
        criterion = self._abort_criterion() if self.job.status == "IN_PROGRESS" else None
        if criterion:
            self._abort(criterion, now)

    # -- rollout ----------------------------------------------------------------------------
    def _waiting(self) -> list[FakeDevice]:
        """The devices not notified yet, while the job rolls out."""
        if self.job.status != "IN_PROGRESS":
            return []
        return [d for d in self.devices.values() if d.status == "QUEUED" and d.notified_at is None]

    def _roll_out(self, now: float) -> None:
        """The rollout's next minute: notify as many devices as the rate allows."""
        self.minutes += 1
        for device in self._waiting()[: self._rate()]:
            device.notified_at = now

    def _rate(self) -> int:
        """Things notified per minute, from the job's jobExecutionsRolloutConfig."""
        config = self.job.job_executions_rollout_config or {}
        maximum = int(config.get("maximumPerMinute") or DEFAULT_MAXIMUM_PER_MINUTE)
        exponential = config.get("exponentialRate")
        if not exponential:
            return maximum
        criteria = exponential.get("rateIncreaseCriteria") or {}
        reached = {
            "numberOfNotifiedThings": sum(d.notified_at is not None for d in self.devices.values()),
            "numberOfSucceededThings": sum(d.status == "SUCCEEDED" for d in self.devices.values()),
        }
        increases = max(
            (count // int(criteria[name]) for name, count in reached.items() if criteria.get(name)),
            default=0,
        )
        factor = float(exponential.get("incrementFactor") or 1)
        rate = float(exponential["baseRatePerMinute"]) * factor ** min(increases, 64)
        return max(1, min(maximum, int(rate)))

    # -- abort, cancel, completion ----------------------------------------------------------
    def _abort_criterion(self) -> Mapping[str, Any] | None:
        """The first criterion of the job's abortConfig that is met, if any."""
        executed = [d.status for d in self.devices.values() if d.status in EXECUTED]
        for criterion in (self.job.abort_config or {}).get("criteriaList") or []:
            if criterion.get("action", "CANCEL") != "CANCEL":
                continue
            if len(executed) < int(criterion["minNumberOfExecutedThings"]):
                continue
            failures = FAILURE_TYPES.get(criterion["failureType"], ())
            failed = sum(status in failures for status in executed)
            threshold = Decimal(str(criterion["thresholdPercentage"]))
            if failed * 100 >= threshold * len(executed):
                found: Mapping[str, Any] = criterion
                return found
        return None

    def _abort(self, criterion: Mapping[str, Any], now: float) -> None:
        job = self.job
        job.status = "CANCELED"
        job.reason_code = ABORT_REASON_CODE
        job.comment = (
            f"Canceled by the job's abort configuration: at least "
            f"{criterion['thresholdPercentage']}% of the executed things ended "
            f"{criterion['failureType']} after {criterion['minNumberOfExecutedThings']} or more "
            "were executed"
        )
        job.last_updated_at = clock_time(now)
        self._cancel(now, force=False)

    def _cancel(self, now: float, force: bool) -> None:
        """The job was canceled: its QUEUED executions are, and with ``force`` the IN_PROGRESS
        ones too (CancelJob)."""
        self.canceled = True
        canceled = ("QUEUED", "IN_PROGRESS") if force else ("QUEUED",)
        for device in self.devices.values():
            if device.status in canceled:
                self._move(device, "CANCELED", now, force_canceled=force)

    def _complete(self, now: float) -> None:
        job = self.job
        if self.ended or job.status != "IN_PROGRESS" or job.target_selection == "CONTINUOUS":
            return
        if all(d.status in TERMINAL for d in self.devices.values()):
            job.status = "COMPLETED"
            job.last_updated_at = clock_time(now)
            _update(job, completed_at=job.last_updated_at)

    # -- executions -------------------------------------------------------------------------
    def _move(
        self, device: FakeDevice, status: str, now: float, force_canceled: bool = False
    ) -> None:
        execution = self.iot.job_executions.get((self.job_id, device.thing_name))
        if execution is None:  # deleted outside the fleet
            self.devices.pop(device.thing_name, None)
            return
        when = clock_time(now)
        execution.status = device.status = status
        execution.last_updated_at = self.job.last_updated_at = when
        execution.version_number += 1
        execution.force_canceled = force_canceled
        if status == "IN_PROGRESS":
            execution.started_at = when
            device.started_at = now
            device.timeout_at = self._timeout_at(now)
        self.changes[status] += 1

    def _timeout_at(self, started: float) -> float | None:
        minutes = (self.job.timeout_config or {}).get("inProgressTimeoutInMinutes")
        return started + float(minutes) * MINUTE if minutes else None

    def refresh(self, now: float) -> None:
        """What the read APIs show of the job at ``now``."""
        if self.ended:
            return
        for name, device in self.devices.items():
            execution = self.iot.job_executions.get((self.job_id, name))
            if execution is not None:
                timeout_at = device.timeout_at if device.status == "IN_PROGRESS" else None
                left = None if timeout_at is None else max(0, int(timeout_at - now))
                _update(execution, approximate_seconds_before_time_out=left)
        processing = self.job.targets if self._waiting() else None
        self.job.job_process_details = job_process_details(self.iot, self.job, processing)

    # -- metrics ----------------------------------------------------------------------------
    def active(self) -> bool:
        """Whether the minute now running has something to publish."""
        pending = any(d.status not in TERMINAL for d in self.devices.values())
        return not self.ended and (pending or bool(+self.changes))

    def publish(self, minute: datetime) -> None:
        """The job's metrics of the minute starting at ``minute``, into moto's CloudWatch."""
        totals = Counter(d.status for d in self.devices.values())
        dimensions = [{"Name": JOB_ID_DIMENSION, "Value": self.job_id}]
        data = [
            {
                "MetricName": name,
                "Value": float(value),
                "Dimensions": dimensions,
                "Timestamp": minute,
            }
            for status, (changed, total) in JOB_METRICS.items()
            for name, value in ((changed, self.changes[status]), (total, totals[status]))
        ]
        cloudwatch = cloudwatch_backends[self.iot.account_id][self.iot.region_name]
        cloudwatch.put_metric_data(NAMESPACE, data)
        self.changes.clear()


# ---------------------------------------------------------------------------------------------
# The fleet's state: module state of this process, as the other controls (see controls.py).
# ---------------------------------------------------------------------------------------------
class _State:
    ATTRIBUTE = "_cdk_ota_update_fleet"  # where an IoT backend keeps its jobs' fleets

    def __init__(self) -> None:
        self.generation = 0
        self.clear()

    def clear(self) -> None:
        self.default: FakeFleet | None = None
        self.clock = 0.0  # simulated seconds since the anchor
        self.anchor: datetime | None = None  # naive UTC, as moto keeps times
        self.generation += 1  # the fleets kept in IoT backends before this are dropped


_state = _State()
controls.on_reset(_state.clear)


def clock_time(seconds: float) -> datetime:
    """The simulated clock's time ``seconds`` after its start, naive UTC (as moto keeps times).

    The clock starts, at the real time to the second, when first needed after a reset."""
    if _state.anchor is None:
        _state.anchor = utcnow().replace(microsecond=0)
    return _state.anchor + timedelta(seconds=seconds)


def _next_minute(after: float) -> float:
    """The first clock value past ``after`` that is a whole minute of :func:`clock_time`."""
    offset = clock_time(0).second
    return (math.floor((after + offset) / MINUTE) + 1) * MINUTE - offset


def _fleets(iot: IoTBackend) -> dict[str, FakeFleetJob]:
    """The fleets at work on the jobs of a moto IoT backend (dropped by a reset)."""
    kept: tuple[int, dict[str, FakeFleetJob]] | None = vars(iot).get(_State.ATTRIBUTE)
    if kept is None or kept[0] != _state.generation:
        kept = vars(iot)[_State.ATTRIBUTE] = (_state.generation, {})
    return kept[1]


def _backends() -> Iterator[IoTBackend]:
    for account in list(iot_backends.values()):
        yield from list(account.values())


def settle(iot: IoTBackend) -> None:
    """Bring the fleets of a moto IoT backend up to date at the clock's time (each IoT request
    does, after the OTA updates' lifecycle): take the jobs the default fleet simulates, then what
    changed outside the fleet."""
    kept = vars(iot).get(_State.ATTRIBUTE)
    simulating = kept is not None and kept[0] == _state.generation and kept[1]
    if _state.default is None and not simulating:
        return  # no fleet: moto as it is
    fleets = _fleets(iot)
    now = _state.clock
    if _state.default is not None:
        for job_id, job in list(iot.jobs.items()):
            taken = fleets.get(job_id)
            if (taken is None or taken.job is not job) and job.status in STARTABLE:
                fleets[job_id] = FakeFleetJob(iot, job, _state.default, now)
    for job_id, fleet in list(fleets.items()):
        fleet.sync(now)
        if fleet.ended:
            del fleets[job_id]
            continue
        fleet.step(now)
        fleet.refresh(now)


# ---------------------------------------------------------------------------------------------
# The controls.
# ---------------------------------------------------------------------------------------------
def simulate_fleet(
    job_id: str | None = None,
    *,
    outcomes: Mapping[str, float] | None = None,
    script: Mapping[str, str] | None = None,
    seed: int | str = 0,
    pace: Pace | None = None,
) -> None:
    """Make the things of job ``job_id`` (or, when None, of every job: those in progress now and
    those created later) simulated devices that work through their executions.

    Each device is notified as the job's rollout configuration allows, starts its execution
    ``pace.start_after`` seconds later (IN_PROGRESS) and ends it ``pace.finish_after`` seconds
    after that with its outcome, under the job's abort and timeout configurations (see this
    module's docstring). Nothing happens until :func:`advance_fleet` moves the simulated clock.

    :param job_id: an existing job (an OTA update's is ``AFR_OTA-<otaUpdateId>``), in any
        account and Region of moto; ResourceNotFoundException if there is none,
        InvalidRequestException if a fleet already works on it. None: the default fleet, for each
        job that a fleet does not work on yet, from the next IoT request or :func:`advance_fleet`
        on (calling it again replaces the default for the jobs taken afterwards).
    :param outcomes: each outcome (SUCCEEDED, FAILED, REJECTED, or TIMED_OUT for a device that
        never reports) and its weight; each device's is drawn from the seed. Default: all
        SUCCEEDED.
    :param script: thing name -> outcome, overriding the draw for those things.
    :param seed: the same seed gives the same devices (outcomes and durations, drawn per job and
        thing), so the same history.
    :param pace: the devices' durations. Default: ``Pace()`` (start 60 s after being notified,
        report 240 s later, no jitter).
    """
    fleet = FakeFleet(_outcomes(outcomes), _script(script), seed, pace or Pace())
    with controls.LOCK:
        if job_id is None:
            _state.default = fleet
            return
        for iot in _backends():
            ota_backend(iot).settle()  # an OTA update's job appears when it completes
        found = [(iot, iot.jobs[job_id]) for iot in _backends() if job_id in iot.jobs]
        if not found:
            raise ResourceNotFoundException(f"Job {job_id} does not exist")
        for iot, job in found:
            settle(iot)
            taken = _fleets(iot).get(job_id)
            if taken is not None and taken.job is job:
                raise InvalidRequestException(f"A simulated fleet already works on job {job_id}")
            things = set(target_things(iot, job.targets)) | set(job_executions(iot, job_id))
            unknown = sorted(set(fleet.script) - things)
            if unknown and job.target_selection != "CONTINUOUS":
                raise ResourceNotFoundException(
                    f"Job {job_id} has no execution for the thing(s) {', '.join(unknown)}"
                )
        for iot, job in found:
            _fleets(iot)[job_id] = FakeFleetJob(iot, job, fleet, _state.clock)
            settle(iot)


def advance_fleet(seconds: float) -> None:
    """Move the simulated clock ``seconds`` on, and the fleets with it: every notification,
    start, report, timeout, abort and completion due by then happens, in the order of its
    simulated time, and each whole minute passed publishes the jobs' metrics."""
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"the fleet's clock moves 0 or more seconds on, not {seconds}")
    with controls.LOCK:
        backends = list(_backends())
        for iot in backends:
            ota_backend(iot).settle()
            settle(iot)
        end = _state.clock + seconds
        while True:
            fleets = [fleet for iot in backends for fleet in _fleets(iot).values()]
            times = [t for fleet in fleets if (t := fleet.next_time()) is not None]
            minute = _next_minute(_state.clock) if any(f.active() for f in fleets) else None
            if minute is not None:
                times.append(minute)
            if not times or min(times) > end:
                break
            now = _state.clock = max(min(times), _state.clock)
            if now == minute:
                for fleet in fleets:
                    if fleet.active():
                        fleet.publish(clock_time(now - MINUTE))
            for fleet in fleets:
                fleet.step(now)
        _state.clock = end
        for iot in backends:
            settle(iot)  # and what the read APIs show at the end


def fleet_time() -> datetime:
    """The simulated clock's time (UTC): the time the fleet stamps on executions and metrics.

    The clock starts at the real time (to the second) when first needed after a reset, and moves
    only with :func:`advance_fleet`."""
    with controls.LOCK:
        return clock_time(_state.clock).replace(tzinfo=timezone.utc)


def _update(record: FakeJob | FakeJobExecution, **members: Any) -> None:
    """Set members of a moto record whose annotations miss that they may be None (or a time)."""
    vars(record).update(members)


def _outcomes(outcomes: Mapping[str, float] | None) -> tuple[tuple[str, float], ...]:
    given = dict(outcomes if outcomes is not None else {"SUCCEEDED": 1.0})
    unknown = sorted(set(given) - set(OUTCOMES))
    if unknown:
        raise ValueError(f"outcomes must be among {', '.join(OUTCOMES)}, not {', '.join(unknown)}")
    weights = list(given.values())
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not sum(weights) > 0:
        raise ValueError(f"the outcomes' weights must be 0 or more, some above 0, not {given}")
    return tuple(given.items())


def _script(script: Mapping[str, str] | None) -> dict[str, str]:
    given = dict(script or {})
    wrong = {thing: outcome for thing, outcome in given.items() if outcome not in OUTCOMES}
    if wrong:
        raise ValueError(f"a script's outcomes must be among {', '.join(OUTCOMES)}, not {wrong}")
    return given
