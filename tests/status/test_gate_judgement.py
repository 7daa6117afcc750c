"""``rollout.Gate``: how a deploy's rollout gate judges a rollout, with the conditions and words of
``cdk-ota-update status --until`` (the handler reads DescribeJob, the judgement is this)."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_ota_update.rollout import FAILED, MET, PENDING, Gate, Rollout, Verdict

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

GATE = Gate.of(min_succeeded_percentage=95, max_failed_percentage=2, min_executions=10)


def _rollout(status: str = "IN_PROGRESS", processing: bool = False, **counts: int) -> Rollout:
    details: dict[str, Any] = {f"numberOf{k[0].upper()}{k[1:]}Things": v for k, v in counts.items()}
    if processing:
        details["processingTargets"] = ["arn:aws:iot:us-east-1:123456789012:thinggroup/fleet"]
    job = {"status": status, "jobProcessDetails": details}
    return Rollout("fw-2", ota_update_status="CREATE_COMPLETE", job_id="AFR_OTA-fw-2").with_job(job)


def test_a_gate_is_the_conditions_status_until_writes() -> None:
    assert [str(c) for c in GATE.conditions] == [
        "succeeded>=95%",
        "failed>2%",
        "rejected>2%",
        "timed-out>2%",
    ]
    assert GATE.min_executions == 10
    assert Gate.of(min_executions=3) == Gate((), 3)


@pytest.mark.parametrize(
    ("rollout", "verdict"),
    [
        (
            _rollout(failed=12, succeeded=150, queued=38),
            Verdict(FAILED, "failed>2% holds: 12 of 200 executions (6.0%)"),
        ),
        (
            _rollout(rejected=3, succeeded=97),
            Verdict(FAILED, "rejected>2% holds: 3 of 100 executions (3.0%)"),
        ),
        (
            _rollout(failed=2, succeeded=98),
            Verdict(MET, "succeeded>=95% holds: 98 of 100 executions (98.0%)"),
        ),
        (
            _rollout(processing=True, succeeded=98, queued=2),
            Verdict(PENDING, "the job is rolling out to its targets"),
        ),
        (
            _rollout(succeeded=150, inProgress=50),
            Verdict(
                PENDING, "not yet: succeeded>=95% does not hold: 150 of 200 executions (75.0%)"
            ),
        ),
        (
            _rollout(succeeded=9),
            Verdict(PENDING, "not yet: 9 executions, fewer than the gate's 10"),
        ),
        (
            _rollout("COMPLETED", succeeded=9),
            Verdict(FAILED, "the job is COMPLETED with 9 executions, fewer than the gate's 10"),
        ),
        (
            _rollout("CANCELED", succeeded=96, canceled=4),
            Verdict(
                FAILED, "the job is CANCELED: succeeded>=95% holds: 96 of 100 executions (96.0%)"
            ),
        ),
        (
            _rollout("COMPLETED", succeeded=90, timedOut=1, inProgress=0, canceled=9),
            Verdict(
                FAILED,
                "the job is COMPLETED: succeeded>=95% does not hold: 90 of 100 executions (90.0%)",
            ),
        ),
        (
            Rollout("fw-2", ota_update_status="CREATE_COMPLETE", job_id="AFR_OTA-fw-2").with_job(
                None
            ),
            Verdict(FAILED, "its job AFR_OTA-fw-2 does not exist"),
        ),
    ],
)
def test_the_gate_judges_a_rollout_figures_first(rollout: Rollout, verdict: Verdict) -> None:
    assert GATE.judge(rollout) == verdict


def test_without_a_success_percentage_the_gate_passes_when_the_job_completed() -> None:
    gate = Gate.of(max_failed_percentage=5)

    assert gate.judge(_rollout(succeeded=10)) == Verdict(PENDING, "the job is IN_PROGRESS")
    assert gate.judge(_rollout("COMPLETED", succeeded=10)) == Verdict(MET, "the job COMPLETED")
