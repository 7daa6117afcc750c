"""A rollout's figures, and the conditions that end it: what ``cdk-ota-update status`` shows and
judges. Standard library only (the AWS reads are :mod:`cdk_ota_update.status`'s), so that whatever
else judges a rollout can read the same rules.

The figures of an OTA update's rollout are its job's, as DescribeJob reports them: ``status`` and
the counts of ``jobProcessDetails``. A percentage is of **all the executions the job has**: queued,
in progress and ended ones alike (CANCELED and REMOVED included). While the job is still rolling
out to its targets (``processingTargets``), executions may still be added, so a success condition
is not taken as met before the rollout has reached every target; a failure condition is judged on
what there is.

Conditions (``--until``), comma-separated: ``STATUS OP NUMBER[%]``, ``NUMBER%`` a percentage of the
job's executions, ``NUMBER`` a count; ``>=`` and ``=`` both mean "at least", ``>`` "more than".
``succeeded`` makes a success condition; ``failed``, ``rejected``, ``timed-out``, ``canceled`` and
``removed`` make failure conditions. An OTA update **meets** the conditions when none of its failure
conditions holds and all its success conditions do (no success condition: its job COMPLETED); it
**fails** them as soon as a failure condition holds, when it or its job cannot be found or it was
not created, or when its job ended (COMPLETED, CANCELED, DELETION_IN_PROGRESS) without meeting
them; otherwise it is **pending**.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from .job_metrics import PROCESS_COUNTS

ENDED_JOB_STATUSES = ("COMPLETED", "CANCELED", "DELETION_IN_PROGRESS")
CREATING = ("CREATE_PENDING", "CREATE_IN_PROGRESS")  # otaUpdateStatus before the job exists
SUCCESS = "SUCCEEDED"
FAILURES = ("FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED")
MET, FAILED, PENDING = "met", "failed", "pending"

ACCEPTED_FORMS = (
    "accepted forms: STATUS>=N% or STATUS=N% (at least N percent of the job's executions), "
    "STATUS>N% (more than), or the same with a count instead of a percentage (succeeded>=10); "
    "STATUS is succeeded (a success condition) or failed, rejected, timed-out, canceled, removed "
    "(failure conditions); several are separated by commas (succeeded>=95%,failed>2%)"
)
_CONDITION = re.compile(r"\s*([A-Za-z][A-Za-z_-]*)\s*(>=|=|>)\s*(\d+(?:\.\d+)?)\s*(%?)\s*")


def status_name(status: str) -> str:
    """An execution status as the conditions and the table write it: ``TIMED_OUT`` -> ``timed
    out``."""
    return status.lower().replace("_", " ")


@dataclass(frozen=True)
class Executions:
    """A job's executions counted by status (every status of DescribeJob's jobProcessDetails)."""

    counts: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(PROCESS_COUNTS, 0))

    @classmethod
    def from_process_details(cls, details: Mapping[str, Any]) -> Executions:
        return cls(
            {status: int(details.get(member) or 0) for status, member in PROCESS_COUNTS.items()}
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percent(self, status: str) -> float | None:
        """The share of the job's executions in ``status``, None for a job without any."""
        return 100 * self.counts[status] / self.total if self.total else None

    def figure(self, status: str) -> str:
        """``30 of 1000 executions (3.0%)``."""
        share = self.percent(status)
        shown = "" if share is None else f" ({share:.1f}%)"
        return f"{self.counts[status]} of {self.total} executions{shown}"


class ConditionError(ValueError):
    """An expression that is not a rollout condition; the message names it and the accepted
    forms."""


@dataclass(frozen=True)
class Condition:
    """``succeeded>=95%``: at least (``>=``) or more than (``>``) a count or a percentage of the
    job's executions in a status."""

    status: str
    operator: str  # ">=" or ">"
    value: Decimal
    percent: bool

    def __str__(self) -> str:
        value = f"{self.value.normalize():f}"
        return f"{self.status.lower().replace('_', '-')}{self.operator}{value}{'%' * self.percent}"

    @property
    def is_failure(self) -> bool:
        return self.status != SUCCESS

    def holds(self, executions: Executions) -> bool:
        count = Decimal(executions.counts[self.status])
        if self.percent:
            if not executions.total:
                return False
            count, limit = count * 100, self.value * executions.total
        else:
            limit = self.value
        return count > limit if self.operator == ">" else count >= limit


def parse_conditions(texts: Iterable[str]) -> tuple[Condition, ...]:
    """The conditions of comma-separated expressions (ConditionError naming a bad one)."""
    return tuple(parse_condition(part) for text in texts for part in text.split(","))


def parse_condition(text: str) -> Condition:
    """One condition, ``succeeded>=95%`` (ConditionError naming it and the accepted forms)."""
    match = _CONDITION.fullmatch(text)
    if match is None:
        raise ConditionError(f"{text!r} is not a rollout condition; {ACCEPTED_FORMS}")
    name, operator, number, percent = match.groups()
    status = name.upper().replace("-", "_")
    if status not in (SUCCESS, *FAILURES):
        raise ConditionError(f"{text!r}: no condition on {name!r}; {ACCEPTED_FORMS}")
    value = Decimal(number)
    if percent and value > 100:
        raise ConditionError(f"{text!r}: a percentage is at most 100; {ACCEPTED_FORMS}")
    if not percent and value != value.to_integral_value():
        raise ConditionError(f"{text!r}: a count is a whole number; {ACCEPTED_FORMS}")
    return Condition(status, ">" if operator == ">" else ">=", value, bool(percent))


@dataclass(frozen=True)
class Rollout:
    """What was read of one OTA update and its job."""

    ota_update_id: str
    stack: str | None = None  # where it was found (--stack), with its logical id
    logical_id: str | None = None
    ota_update_status: str | None = None  # None: there is no such OTA update
    job_id: str | None = None
    job_status: str | None = None  # None: no job (yet, or any more)
    executions: Executions = field(default_factory=Executions)
    rolling_out: bool = False  # jobProcessDetails.processingTargets is not empty
    problem: str | None = None  # why there is nothing to follow: not found, not created, ...

    def with_job(self, job: Mapping[str, Any] | None) -> Rollout:
        """This rollout with DescribeJob's ``job`` (None: not found)."""
        if job is None:
            return replace(self, job_status=None, problem=f"its job {self.job_id} does not exist")
        details = job.get("jobProcessDetails") or {}
        return replace(
            self,
            job_status=job["status"],
            executions=Executions.from_process_details(details),
            rolling_out=bool(details.get("processingTargets")),
        )

    @property
    def ended(self) -> bool:
        """Nothing more will change: the job ended, or there is none to wait for."""
        if self.job_status is not None:
            return self.job_status in ENDED_JOB_STATUSES
        return self.problem is not None or self.ota_update_status not in CREATING


@dataclass(frozen=True)
class Verdict:
    """Whether a rollout meets the conditions, and why."""

    outcome: str  # MET, FAILED or PENDING
    reason: str


def judge(rollout: Rollout, conditions: Sequence[Condition]) -> Verdict:
    """Whether ``rollout`` meets ``conditions`` (see the module's description)."""
    if rollout.problem is not None:
        return Verdict(FAILED, rollout.problem)
    executions = rollout.executions
    for condition in conditions:
        if condition.is_failure and condition.holds(executions):
            return Verdict(FAILED, f"{condition} holds: {executions.figure(condition.status)}")
    if rollout.job_status is None:
        creating = rollout.ota_update_status in CREATING
        missing = "no job yet" if creating else "it has no job"
        return Verdict(
            PENDING if creating else FAILED,
            f"the OTA update is {rollout.ota_update_status}: {missing}",
        )
    return _judge_success(rollout, [c for c in conditions if not c.is_failure])


def _judge_success(rollout: Rollout, wanted: Sequence[Condition]) -> Verdict:
    executions = rollout.executions
    unmet = [c for c in wanted if not c.holds(executions)]
    settled = rollout.ended or not rollout.rolling_out
    if wanted and not unmet and settled:
        held = "; ".join(f"{c} holds: {executions.figure(c.status)}" for c in wanted)
        return Verdict(MET, held)
    if not wanted and rollout.job_status == "COMPLETED":
        return Verdict(MET, "the job COMPLETED")
    missing = "; ".join(f"{c} does not hold: {executions.figure(c.status)}" for c in unmet)
    if rollout.ended:
        return Verdict(
            FAILED, f"the job is {rollout.job_status}" + (f": {missing}" if unmet else "")
        )
    if unmet:
        return Verdict(PENDING, f"not yet: {missing}")
    waited = "rolling out to its targets" if rollout.rolling_out else rollout.job_status
    return Verdict(PENDING, f"the job is {waited}")


@dataclass(frozen=True)
class Gate:
    """A deploy's rollout gate (``OtaUpdate(rollout_gate=...)``): its conditions, judged as
    :func:`judge` judges them, and the executions the job must have before it passes. It fails too
    when the job is cancelled (aborted by its abort configuration, or by hand) or being deleted,
    whatever the figures."""

    conditions: tuple[Condition, ...]
    min_executions: int = 0

    @classmethod
    def of(
        cls,
        *,
        min_succeeded_percentage: float | None = None,
        max_failed_percentage: float | None = None,
        min_executions: int | None = None,
    ) -> Gate:
        """``succeeded>=P%`` for ``min_succeeded_percentage``; ``failed>P%``, ``rejected>P%`` and
        ``timed-out>P%`` for ``max_failed_percentage`` (each status on its own)."""
        conditions = []
        if min_succeeded_percentage is not None:
            conditions.append(_percentage(SUCCESS, ">=", min_succeeded_percentage))
        if max_failed_percentage is not None:
            conditions += [
                _percentage(status, ">", max_failed_percentage) for status in GATE_FAILURES
            ]
        return cls(tuple(conditions), min_executions or 0)

    def judge(self, rollout: Rollout) -> Verdict:
        """MET, FAILED or PENDING, and why: the figures first."""
        verdict = judge(rollout, self.conditions)
        if verdict.outcome == FAILED:
            return verdict
        if rollout.job_status in ABORTED_JOB_STATUSES:
            return Verdict(FAILED, f"the job is {rollout.job_status}: {verdict.reason}")
        total = rollout.executions.total
        if verdict.outcome == MET and total < self.min_executions:
            fewer = f"{total} executions, fewer than the gate's {self.min_executions}"
            if rollout.ended:
                return Verdict(FAILED, f"the job is {rollout.job_status} with {fewer}")
            return Verdict(PENDING, f"not yet: {fewer}")
        return verdict


# The job statuses that fail a gate whatever the figures, and the execution statuses a gate's
# maximum failed percentage applies to (each on its own).
ABORTED_JOB_STATUSES = ("CANCELED", "DELETION_IN_PROGRESS")
GATE_FAILURES = ("FAILED", "REJECTED", "TIMED_OUT")


def _percentage(status: str, operator: str, value: float) -> Condition:
    return Condition(status, operator, Decimal(repr(value)), percent=True)


def overall(verdicts: Iterable[Verdict]) -> str:
    """FAILED if any OTA update failed, MET if all met, else PENDING."""
    outcomes = {verdict.outcome for verdict in verdicts}
    if FAILED in outcomes:
        return FAILED
    return PENDING if PENDING in outcomes else MET
