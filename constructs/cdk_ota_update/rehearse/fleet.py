"""``rehearse --fleet``: the targets of every OTA update the rehearsal creates are simulated devices
(the emulation's :func:`cdk_ota_update.testing.simulate_fleet`), so that a rollout gate passes or
fails, and an abort configuration cancels a job, as they would on such a fleet.

**The fleet's clock and the handler's.** The fleet moves only when its simulated clock does
(:func:`~cdk_ota_update.testing.advance_fleet`), and a rollout gate waits in the handler, in a
Lambda process of its own, sleeping between its reads of the job. With a fleet, that process runs on
the fleet's clock (``lambda_runtime.py``, when :data:`~.lambda_runtime.FLEET_CLOCK_VARIABLE` is
set): its ``time.sleep(seconds)`` asks the rehearsal to move the fleet's clock on to the moment the
sleeper wakes (:meth:`FleetClock.sleep`) and returns at once, and its ``time.time()`` and
``time.monotonic()`` are the wall clock and the monotonic clock plus the simulated seconds that
passed. So the handler polls exactly as it would in the account (the same intervals, the gate's
timeout measured on the time the fleet lives in), the handler itself unchanged, and a gate that
waits simulated minutes takes the rehearsal moments. The invocation's time runs out in that time
too (its remaining time and the handler's deadlines are read on the monotonic clock): a gate's
wait longer than an invocation is handed over to the next one, which the rehearsal runs (on the
same clock, from its time), at most ``OTA_MAX_HANDOVERS`` times, as in Lambda; the report counts
each step's hand-overs. Several Lambda processes share the one clock: each wakes at the time it
saw plus what it slept, the clock moves on only when a sleeper's wake-up is past it, and each
invocation starts at the clock's time.

Once every OTA update is deployed (before ``--teardown``), the rehearsal lets the fleet finish:
the clock moves on until each job's executions have ended, at most :data:`RUN_OUT_SECONDS`; the
report then shows each job's status and figures (:func:`rollout_of`).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cdk_ota_update import api, rollout

from .assembly import RehearsalError
from .report import CREATED, REPLACED, Outcome

# A device's outcomes, as --fleet writes them: succeeded, failed, rejected, timed-out.
OUTCOMES = (rollout.SUCCESS, *rollout.GATE_FAILURES)
PACE_NAMES = {"start": "start_after", "finish": "finish_after", "jitter": "jitter"}
MIX_FORMS = (
    "accepted form: OUTCOME=N%, comma-separated, the shares adding up to 100% "
    "(succeeded=95%,failed=5%); OUTCOME is succeeded, failed, rejected or timed-out (a device "
    "that never reports)"
)
MIX_HELP = (
    "each ending its execution in one of these outcomes, drawn in these shares: "
    "succeeded=95%%,failed=5%% (outcomes: succeeded, failed, rejected, timed-out: a device that "
    "never reports; the shares add up to 100%%)"
)
PACE_FORMS = (
    "accepted form: start=SECONDS,finish=SECONDS,jitter=FRACTION, any of them (start=30,finish=120)"
)
RUN_OUT_SECONDS = 24 * 3600.0  # how far the fleet's clock moves on, at most, after the deploy
FIRST_STEP_SECONDS = 60.0  # the first move of the run-out; each next one is twice as long
RUNNING = ("QUEUED", "IN_PROGRESS")  # the execution statuses not ended yet


class FleetError(RehearsalError, ValueError):
    """A ``--fleet`` or ``--fleet-pace`` that is not one; the message names it and the forms."""


@dataclass(frozen=True)
class Fleet:
    """What the simulated devices do: each one's outcome, drawn with ``seed`` from the shares of
    ``outcomes`` (percentages by status: ``{"SUCCEEDED": 95, "FAILED": 5}``), at ``pace``
    (:class:`~cdk_ota_update.testing.Pace`'s members; those not given keep its defaults)."""

    outcomes: Mapping[str, float]
    seed: int = 0
    pace: Mapping[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        mix = ",".join(
            f"{rollout.status_name(s).replace(' ', '-')}={v:g}%" for s, v in self.outcomes.items()
        )
        names = {member: name for name, member in PACE_NAMES.items()}
        pace = ",".join(f"{names[m]}={v:g}" for m, v in self.pace.items())
        return f"{mix} (seed {self.seed}{', pace ' + pace if pace else ''})"

    def start(self) -> None:
        """Make the things of every job (those in progress and those created later) these
        simulated devices, in the emulation of this process."""
        from cdk_ota_update import testing

        try:
            pace = testing.Pace(**self.pace)
        except (TypeError, ValueError) as error:
            raise FleetError(f"--fleet-pace: {error}") from None
        try:
            testing.simulate_fleet(outcomes=dict(self.outcomes), seed=self.seed, pace=pace)
        except ValueError as error:
            raise FleetError(f"--fleet: {error}") from None

    def simulate(self) -> FleetClock:
        """Make the devices of every job the rehearsal creates simulated ones: their clock."""
        self.start()
        return FleetClock()


def fleet_of(arguments: argparse.Namespace, *also: str) -> Fleet | None:
    """The simulated fleet ``--fleet``, ``--fleet-seed`` and ``--fleet-pace`` ask for (None
    without --fleet; :class:`FleetError` for one of the others, or of the options ``also``
    names, without it)."""
    if arguments.fleet is None:
        for option in ("fleet_seed", "fleet_pace", *also):
            if getattr(arguments, option) is not None:
                raise FleetError(f"--{option.replace('_', '-')} needs --fleet")
        return None
    return Fleet(arguments.fleet, arguments.fleet_seed or 0, arguments.fleet_pace or {})


def parse_mix(text: str) -> dict[str, float]:
    """``succeeded=95%,failed=5%``: each outcome's share, in percent (:class:`FleetError`)."""
    shares: dict[str, Decimal] = {}
    for part in text.split(","):
        try:
            condition = rollout.parse_condition(part)
        except rollout.ConditionError:
            condition = None
        if (
            condition is None
            or ">" in part
            or not condition.percent
            or condition.status not in OUTCOMES
        ):
            raise FleetError(f"{part.strip()!r} is not an outcome's share; {MIX_FORMS}")
        if condition.status in shares:
            raise FleetError(f"{part.strip()!r}: {condition.status} is given twice; {MIX_FORMS}")
        shares[condition.status] = condition.value
    total = sum(shares.values(), Decimal(0))
    if total != 100:
        raise FleetError(
            f"{text!r}: the shares add up to {total.normalize():f}%, not 100%; {MIX_FORMS}"
        )
    return {status: float(share) for status, share in shares.items()}


def parse_pace(text: str) -> dict[str, float]:
    """``start=30,finish=120,jitter=0.5``: Pace's members (:class:`FleetError`)."""
    pace: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.strip().partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if name not in PACE_NAMES or number is None or PACE_NAMES[name] in pace:
            raise FleetError(f"{part.strip()!r} is not a pace; {PACE_FORMS}")
        pace[PACE_NAMES[name]] = number
    return pace


def option_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type of ``parse``, whose :class:`FleetError` is the option's error."""

    def parsed(text: str) -> Any:
        try:
            return parse(text)
        except FleetError as error:
            raise argparse.ArgumentTypeError(str(error)) from error

    return parsed


def add_fleet_arguments(parser: argparse.ArgumentParser, fleet_help: str) -> None:
    """``--fleet`` (what the devices do, ``fleet_help``), ``--fleet-seed`` and ``--fleet-pace``,
    as ``rehearse`` and the emulation's server take them."""
    parser.add_argument(
        "--fleet", type=option_type(parse_mix), metavar="OUTCOME=N%[,...]", help=fleet_help
    )
    parser.add_argument(
        "--fleet-seed",
        type=int,
        metavar="N",
        help="with --fleet: the same seed draws the same outcomes and durations (default 0)",
    )
    parser.add_argument(
        "--fleet-pace",
        type=option_type(parse_pace),
        metavar="start=S,finish=S,jitter=F",
        help="with --fleet: a device starts its execution `start` simulated seconds after being "
        "notified and reports `finish` seconds later, each duration varied by up to `jitter` "
        "times itself (0 to 1); any of them, the others as cdk_ota_update.testing.Pace has them",
    )


class FleetClock:
    """The fleet's simulated clock, shared by the rehearsal and its Lambda processes (see the
    module's description): ``elapsed`` simulated seconds since the fleet started."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._lock = threading.Lock()

    def sleep(self, seen: float, seconds: float) -> float:
        """A sleeper that last saw the clock at ``seen`` sleeps ``seconds``: the clock moves on
        to its wake-up unless it is past it already; the clock's time, when the sleeper wakes."""
        from cdk_ota_update import testing

        with self._lock:
            wake = seen + max(seconds, 0.0)
            if wake > self.elapsed:
                testing.advance_fleet(wake - self.elapsed)
                self.elapsed = wake
            return self.elapsed

    def run_out(self, jobs: Mapping[str, Any]) -> dict[str, Any]:
        """Move the clock on until each job's executions have ended (or :data:`RUN_OUT_SECONDS`
        passed): ``jobs`` maps a name to the IoT client and job id it reads with; what
        DescribeJob says of each at the end (None for a job that is gone)."""
        step, moved = FIRST_STEP_SECONDS, 0.0
        while True:
            read = {name: _describe(*where) for name, where in jobs.items()}
            if moved >= RUN_OUT_SECONDS or all(_done(job) for job in read.values()):
                return read
            step = min(step, RUN_OUT_SECONDS - moved)
            self.sleep(self.elapsed, step)
            moved, step = moved + step, 2 * step


def _describe(client: Any, job_id: str) -> Any:
    try:
        return client.describe_job(jobId=job_id)["job"]
    except client.exceptions.ResourceNotFoundException:
        return None


def _done(job: Mapping[str, Any] | None) -> bool:
    if job is None or job["status"] in rollout.ENDED_JOB_STATUSES:
        return True
    details = job.get("jobProcessDetails") or {}
    executions = rollout.Executions.from_process_details(details)
    return not any(executions.counts[status] for status in RUNNING)


def rollout_of(job: Mapping[str, Any] | None, gate_passed: bool) -> str:
    """The report's rollout of an OTA update: whether its gate passed, its job's status and its
    executions' figures."""
    gate = "gate passed; " if gate_passed else ""
    if job is None:
        return f"{gate}no job"
    executions = rollout.Executions.from_process_details(job.get("jobProcessDetails") or {})
    figures = ", ".join(
        f"{rollout.status_name(status)} {executions.figure(status)}"
        for status, count in executions.counts.items()
        if count
    )
    why = f" ({job['reasonCode']})" if job.get("reasonCode") else ""
    return f"{gate}job {job['status']}{why}: {figures or 'no executions'}"


def gate_passed(outcome: Outcome, properties: Mapping[str, Any] | None) -> bool:
    """Whether the deployment waited for the rollout gate of an OTA update, which passed: it has
    one, and was created (or replaced) by a request the handler answered SUCCESS to."""
    return api.ROLLOUT_GATE in (properties or {}) and outcome.change in (CREATED, REPLACED)
